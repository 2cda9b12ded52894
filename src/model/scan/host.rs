//! The fused selective scan for the CPU (burn Flex): the same algorithm as
//! the CubeCL kernel — one pass per (window, channel) with the N states kept
//! live, and a handwritten backward that recomputes the states — on host
//! slices, parallel over windows. Memory stays at the size of the inputs,
//! where the tensor-op scans under autodiff keep several `[W, L, Di, N]`
//! tensors per layer (which exhausts RAM at `mni4mm`).
//!
//! Vectorised across channels: [`LANES`] neighbouring channels of one
//! window advance together (their `u`, `Δ`, `y` are contiguous in the
//! `[W, L, Di]` layout, and they share `B_t`, `C_t`), so every arithmetic
//! step is one SIMD operation with no horizontal sums in the forward pass.
//! `exp` is a branch-free polynomial ([`exp_lanes`], ≤ 2 ulp over the range
//! used) that the compiler vectorises; on x86-64 the loops are compiled a
//! second time for AVX2 and picked at run time. A last block narrower than
//! [`LANES`] is padded with zero channels, which stay exactly zero.
//!
//! Two forms share the loops: the plain scan of [`super::ScanInput`], and
//! the Mamba form ([`Gate`]: mamba-ssm's `selective_scan_fn` with
//! `delta_softplus = True` and `z`), where Δ = softplus(delta), the output is
//! `y · SiLU(z)`, and B, C and z are read in place from the rows of
//! `x_proj`'s and `in_proj`'s outputs, so that none of them is copied out.

use crate::model::fused::sum_partial_pairs;

/// Channels advanced together (one AVX2 register of f32).
pub const LANES: usize = 8;

type V = [f32; LANES];

/// Problem size: W sequences of length L, Di channels, N states.
#[derive(Debug, Clone, Copy)]
pub struct Dims {
    /// Sequences.
    pub w: usize,
    /// Length.
    pub l: usize,
    /// Channels.
    pub di: usize,
    /// States.
    pub n: usize,
}

/// Where B and C sit in the rows of their buffer `bc`:
/// `B_t[j] = bc[row·stride + b_off + j]`, `C_t[j] = bc[row·stride + c_off + j]`.
#[derive(Debug, Clone, Copy)]
pub struct ProjLayout {
    /// Row length of `bc`.
    pub stride: usize,
    /// Column of B's first state.
    pub b_off: usize,
    /// Column of C's first state.
    pub c_off: usize,
}

impl ProjLayout {
    /// B then C, nothing else: `[W, L, 2N]`.
    pub fn packed(n: usize) -> Self {
        Self {
            stride: 2 * n,
            b_off: 0,
            c_off: n,
        }
    }
}

/// The Mamba form: Δ = softplus(delta) and the output gated by SiLU(z),
/// `z_t[ch] = z[row·stride + offset + ch]`.
#[derive(Debug, Clone, Copy)]
pub struct Gate<'a> {
    /// The buffer holding z (in_proj's output `[W, L, 2·Di]`).
    pub z: &'a [f32],
    /// Row length of `z`.
    pub stride: usize,
    /// Column of channel 0.
    pub offset: usize,
}

/// Borrowed inputs, row-major: u, delta `[W, L, Di]`, a `[Di, N]`,
/// bc `[W, L, stride]` (see [`ProjLayout`]), d `[Di]`.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// Input.
    pub u: &'a [f32],
    /// Step sizes (before softplus in the Mamba form).
    pub delta: &'a [f32],
    /// State matrix.
    pub a: &'a [f32],
    /// Input and output projections B, C.
    pub bc: &'a [f32],
    /// Where B and C sit in `bc`.
    pub proj: ProjLayout,
    /// Skip weights.
    pub d: &'a [f32],
    /// `Some` for the Mamba form.
    pub gate: Option<Gate<'a>>,
}

/// Gradients, shaped like the inputs.
#[derive(Debug, Clone, Default)]
pub struct Grads {
    /// d u.
    pub du: Vec<f32>,
    /// d delta (before softplus in the Mamba form).
    pub ddelta: Vec<f32>,
    /// d A.
    pub da: Vec<f32>,
    /// d bc: dB and dC in `bc`'s layout, zero in every other column.
    pub dbc: Vec<f32>,
    /// d D.
    pub dd: Vec<f32>,
    /// d z in z's layout, zero in every other column (empty without a gate).
    pub dz: Vec<f32>,
}

/// `softplus(x) = ln(1 + eˣ)`, `x` itself above 20 (burn's and PyTorch's threshold).
#[inline(always)]
fn softplus(x: f32) -> f32 {
    if x > 20.0 { x } else { x.exp().ln_1p() }
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Δ for lanes `ch0..` of a row: softplus(delta) in the Mamba form.
#[inline(always)]
fn step_sizes(x: &Inputs, row: usize, di: usize, ch0: usize) -> V {
    let raw = load(&x.delta[row * di..(row + 1) * di], ch0);
    if x.gate.is_some() {
        raw.map(softplus)
    } else {
        raw
    }
}

/// z for lanes `ch0..` of a row (zero past Di).
#[inline(always)]
fn gate_lanes(g: &Gate, row: usize, di: usize, ch0: usize) -> V {
    let start = row * g.stride + g.offset;
    load(&g.z[start..start + di], ch0)
}

fn threads(w: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(w.max(1))
}

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5 · 2²³: adding and subtracting it rounds an f32 to the nearest integer.
const ROUND: f32 = 12_582_912.0;

/// `exp(x)` for every lane: Cephes' `expf` (range reduction by ln 2, degree-5
/// polynomial), branch-free so that it vectorises. Inputs are clamped to
/// [-87, 88], so results below e⁻⁸⁷ ≈ 1.6e-38 come out as that value.
#[inline(always)]
pub fn exp_lanes(x: V) -> V {
    let mut out = [0f32; LANES];
    for k in 0..LANES {
        let v = x[k].clamp(-87.0, 88.0);
        let r = (v * LOG2E + ROUND) - ROUND; // round(v / ln 2)
        let f = v - r * LN2_HI - r * LN2_LO;
        let mut p = 1.987_569_1e-4_f32;
        p = p * f + 1.398_199_9e-3;
        p = p * f + 8.333_452e-3;
        p = p * f + 4.166_579_6e-2;
        p = p * f + 1.666_666_5e-1;
        p = p * f + 5.000_000_1e-1;
        let e = p * f * f + f + 1.0;
        let scale = f32::from_bits(((r as i32 + 127) as u32) << 23);
        out[k] = e * scale;
    }
    out
}

#[inline(always)]
fn splat(v: f32) -> V {
    [v; LANES]
}

#[inline(always)]
fn add(a: V, b: V) -> V {
    std::array::from_fn(|k| a[k] + b[k])
}

#[inline(always)]
fn mul(a: V, b: V) -> V {
    std::array::from_fn(|k| a[k] * b[k])
}

/// `a · b + c` (two roundings, like the scalar code).
#[inline(always)]
fn mul_add(a: V, b: V, c: V) -> V {
    std::array::from_fn(|k| a[k] * b[k] + c[k])
}

/// Lanes `ch0..ch0+LANES` of a row, zero past the row's end.
#[inline(always)]
fn load(row: &[f32], ch0: usize) -> V {
    std::array::from_fn(|k| row.get(ch0 + k).copied().unwrap_or(0.0))
}

#[inline(always)]
fn store(row: &mut [f32], ch0: usize, v: V) {
    for (k, value) in v.iter().enumerate() {
        if let Some(slot) = row.get_mut(ch0 + k) {
            *slot = *value;
        }
    }
}

/// `A` for channel block `ch0` transposed to `[N][LANES]`.
fn a_block(a: &[f32], s: Dims, ch0: usize, out: &mut [V]) {
    for (j, lane) in out.iter_mut().enumerate().take(s.n) {
        *lane = std::array::from_fn(|k| {
            let ch = ch0 + k;
            if ch < s.di { a[ch * s.n + j] } else { 0.0 }
        });
    }
}

/// Runs `body` compiled for AVX2 when the CPU has it, else as is.
macro_rules! dispatch {
    ($generic:ident, $avx2:ident, ($($arg:expr),*)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                return unsafe { $avx2($($arg),*) };
            }
        }
        $generic($($arg),*)
    }};
}

/// `y [W, L, Di]`.
pub fn forward(x: Inputs, s: Dims) -> Vec<f32> {
    let Dims { w, l, di, .. } = s;
    let mut y = vec![0f32; w * l * di];
    if y.is_empty() {
        return y;
    }
    let per = w.div_ceil(threads(w));
    std::thread::scope(|scope| {
        for (part, y_part) in y.chunks_mut(per * l * di).enumerate() {
            scope.spawn(move || forward_windows(x, s, part * per, y_part));
        }
    });
    y
}

fn forward_windows(x: Inputs, s: Dims, first: usize, y: &mut [f32]) {
    dispatch!(forward_generic, forward_avx2, (x, s, first, y))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn forward_avx2(x: Inputs, s: Dims, first: usize, y: &mut [f32]) {
    forward_generic(x, s, first, y)
}

/// The forward pass over the windows `first..` whose outputs `y` holds.
#[inline(always)]
fn forward_generic(x: Inputs, s: Dims, first: usize, y: &mut [f32]) {
    let Dims { l, di, n, .. } = s;
    let ProjLayout {
        stride,
        b_off,
        c_off,
    } = x.proj;
    let mut a = vec![splat(0.0); n];
    let mut h = vec![splat(0.0); n];
    for (k, y_win) in y.chunks_mut(l * di).enumerate() {
        let win = first + k;
        for ch0 in (0..di).step_by(LANES) {
            a_block(x.a, s, ch0, &mut a);
            let d = load(x.d, ch0);
            h.iter_mut().for_each(|v| *v = splat(0.0));
            for t in 0..l {
                let row = win * l + t;
                let u = load(&x.u[row * di..(row + 1) * di], ch0);
                let dt = step_sizes(&x, row, di, ch0);
                let du = mul(dt, u);
                let b = &x.bc[row * stride + b_off..row * stride + b_off + n];
                let c = &x.bc[row * stride + c_off..row * stride + c_off + n];
                let mut acc = mul(d, u);
                for j in 0..n {
                    let decay = exp_lanes(mul(dt, a[j]));
                    h[j] = mul_add(decay, h[j], mul(du, splat(b[j])));
                    acc = mul_add(h[j], splat(c[j]), acc);
                }
                if let Some(g) = &x.gate {
                    let z = gate_lanes(g, row, di, ch0);
                    acc = std::array::from_fn(|q| acc[q] * z[q] * sigmoid(z[q]));
                }
                store(&mut y_win[t * di..(t + 1) * di], ch0, acc);
            }
        }
    }
}

/// One worker's share of the backward pass.
struct Part<'a> {
    first: usize,
    du: &'a mut [f32],
    ddelta: &'a mut [f32],
    dbc: &'a mut [f32],
    dz: &'a mut [f32],
}

/// The gradients of `Σ dy ⊙ out` (see the CubeCL kernel for the formulas;
/// in the Mamba form `g = dy·SiLU(z)` drives the scan, `dz = dy·y·SiLU'(z)`
/// and `d delta = dΔ·sigmoid(delta)`).
pub fn backward(x: Inputs, dy: &[f32], s: Dims) -> Grads {
    let Dims { w, l, di, n } = s;
    let rows_bc = x.proj.stride;
    let rows_z = x.gate.map_or(0, |g| g.stride);
    let mut g = Grads {
        du: vec![0f32; w * l * di],
        ddelta: vec![0f32; w * l * di],
        da: vec![0f32; di * n],
        dbc: vec![0f32; w * l * rows_bc],
        dd: vec![0f32; di],
        dz: vec![0f32; w * l * rows_z],
    };
    if g.du.is_empty() {
        return g;
    }
    let per = w.div_ceil(threads(w));
    let mut dz_chunks: Vec<&mut [f32]> = if rows_z > 0 {
        g.dz.chunks_mut(per * l * rows_z).collect()
    } else {
        Vec::new()
    };
    dz_chunks.resize_with(w.div_ceil(per), Default::default);
    // Per worker partial sums of dA and dD, reduced after the join.
    let partials: Vec<(Vec<f32>, Vec<f32>)> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            g.du.chunks_mut(per * l * di)
                .zip(g.ddelta.chunks_mut(per * l * di))
                .zip(g.dbc.chunks_mut(per * l * rows_bc).zip(dz_chunks))
                .enumerate()
                .map(|(i, ((du, ddelta), (dbc, dz)))| {
                    let part = Part {
                        first: i * per,
                        du,
                        ddelta,
                        dbc,
                        dz,
                    };
                    scope.spawn(move || backward_windows(x, dy, s, part))
                })
                .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("scan worker"))
            .collect()
    });
    (g.da, g.dd) = sum_partial_pairs(partials, (di * n, di));
    g
}

fn backward_windows(x: Inputs, dy: &[f32], s: Dims, part: Part) -> (Vec<f32>, Vec<f32>) {
    dispatch!(backward_generic, backward_avx2, (x, dy, s, part))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn backward_avx2(x: Inputs, dy: &[f32], s: Dims, part: Part) -> (Vec<f32>, Vec<f32>) {
    backward_generic(x, dy, s, part)
}

/// The backward pass over one worker's windows: per channel block, states
/// and decays forward (kept for all t), then the reverse sweep accumulating
/// `dh`. dB and dC sum over channels: they collect per lane in `db_l`/`dc_l`
/// and are summed across lanes once per window. Returns this worker's dA, dD.
#[inline(always)]
fn backward_generic(x: Inputs, dy: &[f32], s: Dims, part: Part) -> (Vec<f32>, Vec<f32>) {
    let Dims { l, di, n, .. } = s;
    let ProjLayout {
        stride,
        b_off,
        c_off,
    } = x.proj;
    let blocks = di.div_ceil(LANES);
    let mut da_l = vec![splat(0.0); blocks * n]; // [block][j] lanes = channels
    let mut dd_l = vec![splat(0.0); blocks];
    let mut a = vec![splat(0.0); n];
    let mut hs = vec![splat(0.0); l * n];
    let mut decays = vec![splat(0.0); l * n];
    let mut ys = vec![splat(0.0); if x.gate.is_some() { l } else { 0 }];
    let mut carry = vec![splat(0.0); n];
    let mut db_l = vec![splat(0.0); l * n];
    let mut dc_l = vec![splat(0.0); l * n];
    let windows = part.du.len() / (l * di);
    for k in 0..windows {
        let win = part.first + k;
        db_l.iter_mut().for_each(|v| *v = splat(0.0));
        dc_l.iter_mut().for_each(|v| *v = splat(0.0));
        for (blk, ch0) in (0..di).step_by(LANES).enumerate() {
            a_block(x.a, s, ch0, &mut a);
            let d = load(x.d, ch0);
            // Pass 1: the states h_t and decays for all t (and y_t when gated).
            for t in 0..l {
                let row = win * l + t;
                let u = load(&x.u[row * di..(row + 1) * di], ch0);
                let dt = step_sizes(&x, row, di, ch0);
                let du = mul(dt, u);
                let b = &x.bc[row * stride + b_off..row * stride + b_off + n];
                for j in 0..n {
                    let prev = if t > 0 {
                        hs[(t - 1) * n + j]
                    } else {
                        splat(0.0)
                    };
                    let decay = exp_lanes(mul(dt, a[j]));
                    decays[t * n + j] = decay;
                    hs[t * n + j] = mul_add(decay, prev, mul(du, splat(b[j])));
                }
                if x.gate.is_some() {
                    let c = &x.bc[row * stride + c_off..row * stride + c_off + n];
                    let mut acc = mul(d, u);
                    for j in 0..n {
                        acc = mul_add(hs[t * n + j], splat(c[j]), acc);
                    }
                    ys[t] = acc;
                }
            }
            // Pass 2: reverse, accumulating dh.
            carry.iter_mut().for_each(|v| *v = splat(0.0));
            for t in (0..l).rev() {
                let row = win * l + t;
                let local = k * l + t;
                let u = load(&x.u[row * di..(row + 1) * di], ch0);
                let dt = step_sizes(&x, row, di, ch0);
                let dy_t = load(&dy[row * di..(row + 1) * di], ch0);
                let g = match &x.gate {
                    Some(gate) => {
                        let z = gate_lanes(gate, row, di, ch0);
                        let (g, dz) = gated(dy_t, z, ys[t]);
                        let start = local * gate.stride + gate.offset;
                        store(&mut part.dz[start..start + di], ch0, dz);
                        g
                    }
                    None => dy_t,
                };
                let b = &x.bc[row * stride + b_off..row * stride + b_off + n];
                let c = &x.bc[row * stride + c_off..row * stride + c_off + n];
                let dtu = mul(dt, u);
                let mut du_acc = mul(d, g);
                let mut ddt_acc = splat(0.0);
                dd_l[blk] = mul_add(g, u, dd_l[blk]);
                for j in 0..n {
                    let h_prev = if t > 0 {
                        hs[(t - 1) * n + j]
                    } else {
                        splat(0.0)
                    };
                    let decay = decays[t * n + j];
                    let dh = mul_add(splat(c[j]), g, carry[j]);
                    let bj = splat(b[j]);
                    du_acc = mul_add(mul(dh, dt), bj, du_acc);
                    let dh_decay_hprev = mul(mul(dh, decay), h_prev);
                    ddt_acc = add(ddt_acc, add(mul(a[j], dh_decay_hprev), mul(dh, mul(bj, u))));
                    da_l[blk * n + j] = mul_add(dh_decay_hprev, dt, da_l[blk * n + j]);
                    db_l[t * n + j] = mul_add(dh, dtu, db_l[t * n + j]);
                    dc_l[t * n + j] = mul_add(g, hs[t * n + j], dc_l[t * n + j]);
                    carry[j] = mul(decay, dh);
                }
                if x.gate.is_some() {
                    // dΔ/d delta = sigmoid(delta).
                    let raw = load(&x.delta[row * di..(row + 1) * di], ch0);
                    ddt_acc = std::array::from_fn(|q| ddt_acc[q] * sigmoid(raw[q]));
                }
                store(&mut part.du[local * di..(local + 1) * di], ch0, du_acc);
                store(&mut part.ddelta[local * di..(local + 1) * di], ch0, ddt_acc);
            }
        }
        for t in 0..l {
            let local = k * l + t;
            for j in 0..n {
                part.dbc[local * stride + b_off + j] = db_l[t * n + j].iter().sum();
                part.dbc[local * stride + c_off + j] = dc_l[t * n + j].iter().sum();
            }
        }
    }
    let mut da = vec![0f32; di * n];
    let mut dd = vec![0f32; di];
    for (blk, ch0) in (0..di).step_by(LANES).enumerate() {
        for k in 0..LANES.min(di - ch0) {
            dd[ch0 + k] = dd_l[blk][k];
            for j in 0..n {
                da[(ch0 + k) * n + j] = da_l[blk * n + j][k];
            }
        }
    }
    (da, dd)
}

/// The gate's backward for `out = y·SiLU(z)`: `(dy·SiLU(z), dy·y·SiLU'(z))`
/// with `SiLU'(z) = σ(z)·(1 + z·(1 − σ(z)))`.
#[inline(always)]
fn gated(dout: V, z: V, y: V) -> (V, V) {
    let mut g = [0f32; LANES];
    let mut dz = [0f32; LANES];
    for q in 0..LANES {
        let sg = sigmoid(z[q]);
        g[q] = dout[q] * z[q] * sg;
        dz[q] = dout[q] * y[q] * sg * (1.0 + z[q] * (1.0 - sg));
    }
    (g, dz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_lanes_matches_std_within_two_ulp_over_the_scan_range() {
        let mut worst = 0f32;
        let mut x = -87.0f32;
        while x < 87.9 {
            let lanes: V = std::array::from_fn(|k| x + k as f32 * 1e-3);
            let got = exp_lanes(lanes);
            for k in 0..LANES {
                let want = lanes[k].exp();
                worst = worst.max(((got[k] - want) / want).abs());
            }
            x += 0.0137;
        }
        assert!(worst < 2.5e-7, "worst relative error {worst}");
        assert_eq!(exp_lanes(splat(0.0)), splat(1.0));
    }

    /// The plain and the Mamba form, in f64, written plainly: `(out, Σ dy·out)`.
    /// `bufs` = u, delta, a, b `[W, L, N]`, c, d, z `[W, L, Di]`.
    fn scalar(bufs: &[Vec<f32>; 7], dy: &[f32], s: Dims, gated: bool) -> (Vec<f64>, f64) {
        let [u, delta, a, b, c, d, z] = bufs;
        let mut y = vec![0f64; s.w * s.l * s.di];
        for w in 0..s.w {
            for ch in 0..s.di {
                let mut h = vec![0f64; s.n];
                for t in 0..s.l {
                    let row = w * s.l + t;
                    let i = row * s.di + ch;
                    let uu = u[i] as f64;
                    let mut dt = delta[i] as f64;
                    if gated {
                        dt = dt.exp().ln_1p();
                    }
                    let mut acc = d[ch] as f64 * uu;
                    for j in 0..s.n {
                        h[j] = (dt * a[ch * s.n + j] as f64).exp() * h[j]
                            + dt * uu * b[row * s.n + j] as f64;
                        acc += c[row * s.n + j] as f64 * h[j];
                    }
                    if gated {
                        let zz = z[i] as f64;
                        acc *= zz / (1.0 + (-zz).exp());
                    }
                    y[i] = acc;
                }
            }
        }
        let obj = y.iter().zip(dy).map(|(a, b)| a * *b as f64).sum();
        (y, obj)
    }

    /// B and C packed into rows of `lead + 2N + 1` columns at `lead` (as
    /// x_proj's output holds them after dt's `lead` columns, plus one spare
    /// column), and z at column Di of rows of 2·Di (as in_proj's output).
    fn packed(bufs: &[Vec<f32>; 7], s: Dims, lead: usize) -> (Vec<f32>, ProjLayout, Vec<f32>) {
        let stride = lead + 2 * s.n + 1;
        let proj = ProjLayout {
            stride,
            b_off: lead,
            c_off: lead + s.n,
        };
        let rows = s.w * s.l;
        let mut bc = vec![7.0f32; rows * stride]; // junk outside B, C
        let mut xz = vec![-3.0f32; rows * 2 * s.di]; // junk outside z
        for r in 0..rows {
            for j in 0..s.n {
                bc[r * stride + proj.b_off + j] = bufs[3][r * s.n + j];
                bc[r * stride + proj.c_off + j] = bufs[4][r * s.n + j];
            }
            for ch in 0..s.di {
                xz[r * 2 * s.di + s.di + ch] = bufs[6][r * s.di + ch];
            }
        }
        (bc, proj, xz)
    }

    /// The scalar recurrence, written plainly, against the lane kernel on
    /// a shape with a partial last channel block: plain and Mamba form,
    /// values and every gradient (central differences).
    #[test]
    fn lane_forward_and_backward_match_the_scalar_recurrence() {
        let s = Dims {
            w: 3,
            l: 7,
            di: 11,
            n: 5,
        };
        let mut seed = 1u32;
        let mut rnd = |lo: f32, hi: f32| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            lo + (hi - lo) * (seed >> 8) as f32 / (1u32 << 24) as f32
        };
        let seq = s.w * s.l * s.di;
        let proj = s.w * s.l * s.n;
        let bufs: [Vec<f32>; 7] = [
            (0..seq).map(|_| rnd(-1.0, 1.0)).collect(),
            (0..seq).map(|_| rnd(0.01, 0.5)).collect(),
            (0..s.di * s.n).map(|_| rnd(-4.0, -0.5)).collect(),
            (0..proj).map(|_| rnd(-1.0, 1.0)).collect(),
            (0..proj).map(|_| rnd(-1.0, 1.0)).collect(),
            (0..s.di).map(|_| rnd(0.5, 1.5)).collect(),
            (0..seq).map(|_| rnd(-2.0, 2.0)).collect(),
        ];
        let dy: Vec<f32> = (0..seq).map(|_| rnd(-1.0, 1.0)).collect();
        for gated in [false, true] {
            let lead = if gated { 2 } else { 0 };
            let (bc, layout, xz) = packed(&bufs, s, lead);
            let x = Inputs {
                u: &bufs[0],
                delta: &bufs[1],
                a: &bufs[2],
                bc: &bc,
                proj: layout,
                d: &bufs[5],
                gate: gated.then_some(Gate {
                    z: &xz,
                    stride: 2 * s.di,
                    offset: s.di,
                }),
            };
            let (want, _) = scalar(&bufs, &dy, s, gated);
            let got = forward(x, s);
            for (g, w) in got.iter().zip(&want) {
                assert!((*g as f64 - w).abs() < 1e-5, "gated {gated}: {g} vs {w}");
            }
            let grads = backward(x, &dy, s);
            // Back to the unpacked layouts; everything outside B, C, z is zero.
            let rows = s.w * s.l;
            let (mut db, mut dc, mut dz) = (vec![0f32; proj], vec![0f32; proj], vec![0f32; seq]);
            for r in 0..rows {
                for col in 0..layout.stride {
                    let v = grads.dbc[r * layout.stride + col];
                    if col >= layout.b_off && col < layout.b_off + s.n {
                        db[r * s.n + col - layout.b_off] = v;
                    } else if col >= layout.c_off && col < layout.c_off + s.n {
                        dc[r * s.n + col - layout.c_off] = v;
                    } else {
                        assert_eq!(v, 0.0, "dbc outside B, C");
                    }
                }
                if gated {
                    for col in 0..2 * s.di {
                        let v = grads.dz[r * 2 * s.di + col];
                        if col >= s.di {
                            dz[r * s.di + col - s.di] = v;
                        } else {
                            assert_eq!(v, 0.0, "dz outside z");
                        }
                    }
                } else {
                    assert!(grads.dz.is_empty());
                }
            }
            let h = 1e-3f32;
            let fd = |which: usize, i: usize| -> f64 {
                let mut b = bufs.clone();
                b[which][i] += h;
                let plus = scalar(&b, &dy, s, gated).1;
                b[which][i] -= 2.0 * h;
                let minus = scalar(&b, &dy, s, gated).1;
                (plus - minus) / (2.0 * h as f64)
            };
            let mut analytic = vec![
                (0, &grads.du),
                (1, &grads.ddelta),
                (2, &grads.da),
                (3, &db),
                (4, &dc),
                (5, &grads.dd),
            ];
            if gated {
                analytic.push((6, &dz));
            }
            for (which, g) in analytic {
                for i in [0, g.len() / 2, g.len() - 1] {
                    let num = fd(which, i);
                    assert!(
                        (g[i] as f64 - num).abs() < 2e-3 * (1.0 + num.abs()),
                        "gated {gated} input {which} index {i}: analytic {} vs numeric {num}",
                        g[i]
                    );
                }
            }
        }
    }
}
