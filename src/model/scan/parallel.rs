//! The selective scan in time-parallel form, as CubeCL kernels (the design
//! of mamba-ssm's CUDA scan): one cube per (window w, channel c), its
//! `T ≤ 32` units each owning `I` consecutive time steps.
//!
//! The recurrence `h_t = a_t·h_{t-1} + q_t` composes affine maps, so for
//! each state n a unit first runs its chunk from zero (its map is
//! `h ↦ P·h + q` with `P = Π a_t = exp(A_n·ΣΔ_t)`), the cube scans those
//! maps in shared memory (Hillis–Steele, log₂T rounds), and every unit
//! reruns its chunk from the state it receives. Only chunk-end states cross
//! units; nothing `[W, L, Di, N]` is stored in the forward pass.
//!
//! The backward pass recomputes the forward states the same way, then scans
//! the reverse recurrence `carry_{t-1} = a_t·(carry_t + C_t·g_t)` right to
//! left with the same affine composition. Per-chunk partials of dA and dD
//! are shaped `[W·T, ...]` and dB/dC partials `[W, L, Di, N]`, reduced with
//! tensor ops by the caller exactly like the sequential kernel's.
//!
//! The sequential kernel in [`super::kernel`] stays the reference: the scan
//! tests check this one against the step-by-step recurrence on wgpu.

#![allow(clippy::too_many_arguments)]

use super::kernel::BackwardParts;
use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::tensor::Shape;
// `#[cube]` expands to relative `cubecl::...` paths; burn-cubecl re-exports the crate.
use super::kernel::empty;
use burn_cubecl::cubecl;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use cubecl::{calculate_cube_count_elemwise, prelude::*};

/// Most units per sequence (one warp / subgroup on NVIDIA).
pub const MAX_UNITS: usize = 32;

/// `(units T, steps per unit I, log₂T)` for a sequence of length `l`:
/// `I = ⌈l/32⌉`, `T` the power of two covering `⌈l/I⌉`.
pub fn geometry(l: usize) -> (usize, usize, usize) {
    let items = l.div_ceil(MAX_UNITS).max(1);
    let units = l.div_ceil(items).max(1).next_power_of_two();
    (units, items, units.trailing_zeros() as usize)
}

/// Inclusive scan of the units' affine maps `(p, q)` in shared memory.
/// `reverse = false` composes unit j with those before it (a forward
/// recurrence), `true` with those after it. Every unit must call it.
#[cube]
fn cube_scan<F: Float>(
    p_sh: &mut Shared<[F]>,
    q_sh: &mut Shared<[F]>,
    j: usize,
    #[comptime] units: usize,
    #[comptime] log_units: usize,
    #[comptime] reverse: bool,
) {
    let mut off = 1usize;
    for _ in 0..log_units {
        let mut pp = F::new(1.0_f32);
        let mut qq = F::new(0.0_f32);
        if reverse {
            if j + off < units {
                pp = p_sh[j + off];
                qq = q_sh[j + off];
            }
        } else if j >= off {
            pp = p_sh[j - off];
            qq = q_sh[j - off];
        }
        sync_cube();
        let p = p_sh[j];
        p_sh[j] = p * pp;
        q_sh[j] = p * qq + q_sh[j];
        sync_cube();
        off *= 2;
    }
}

/// Forward: `y [W, L, Di]`.
#[cube(launch)]
fn parallel_forward_kernel<F: Float>(
    u: &Tensor<F>,     // [W, L, Di]
    delta: &Tensor<F>, // [W, L, Di]
    a: &Tensor<F>,     // [Di, N]
    b: &Tensor<F>,     // [W, L, N]
    c: &Tensor<F>,     // [W, L, N]
    d: &Tensor<F>,     // [Di]
    y: &mut Tensor<F>, // [W, L, Di]
    windows: u32,
    seq_len: u32,
    channels: u32,
    #[comptime] n_state: usize,
    #[comptime] units: usize,
    #[comptime] items: usize,
    #[comptime] log_units: usize,
    #[define(F)] _dtype: ElemType,
) {
    let di = channels as usize;
    let l = seq_len as usize;
    let seq = CUBE_POS;
    if seq >= (windows * channels) as usize {
        terminate!(); // a whole cube past the end: no unit reaches a barrier
    }
    let w = seq / di;
    let ch = seq % di;
    let j = UNIT_POS_X as usize;
    let t0 = j * items;
    let mut p_sh = Shared::<[F]>::new_slice(units);
    let mut q_sh = Shared::<[F]>::new_slice(units);

    // Per step: Δ, Δ·u and the output accumulator (steps past L: Δ = 0,
    // so the map is the identity and nothing is written).
    let mut dt = Array::<F>::new(items);
    let mut dtu = Array::<F>::new(items);
    let mut acc = Array::<F>::new(items);
    let mut dt_sum = F::new(0.0_f32);
    let d_ch = d[ch];
    #[unroll]
    for i in 0..items {
        dt[i] = F::new(0.0_f32);
        dtu[i] = F::new(0.0_f32);
        acc[i] = F::new(0.0_f32);
        let t = t0 + i;
        if t < l {
            let x = (w * l + t) * di + ch;
            let step = delta[x];
            let u_t = u[x];
            dt[i] = step;
            dtu[i] = step * u_t;
            acc[i] = d_ch * u_t;
            dt_sum += step;
        }
    }

    for n in 0..n_state {
        let a_n = a[ch * n_state + n];
        // This unit's map, from a zero state.
        let mut h = F::new(0.0_f32);
        #[unroll]
        for i in 0..items {
            let t = t0 + i;
            let mut b_t = F::new(0.0_f32);
            if t < l {
                b_t = b[(w * l + t) * n_state + n];
            }
            h = (dt[i] * a_n).exp() * h + dtu[i] * b_t;
        }
        p_sh[j] = (a_n * dt_sum).exp();
        q_sh[j] = h;
        sync_cube();
        cube_scan::<F>(&mut p_sh, &mut q_sh, j, units, log_units, false);
        let mut h = F::new(0.0_f32);
        if j > 0 {
            h = q_sh[j - 1];
        }
        sync_cube(); // everyone has read before the next state overwrites
        #[unroll]
        for i in 0..items {
            let t = t0 + i;
            if t < l {
                let bc = (w * l + t) * n_state + n;
                h = (dt[i] * a_n).exp() * h + dtu[i] * b[bc];
                acc[i] += c[bc] * h;
            }
        }
    }

    #[unroll]
    for i in 0..items {
        let t = t0 + i;
        if t < l {
            y[(w * l + t) * di + ch] = acc[i];
        }
    }
}

/// Backward. With g_t = dy_t and a_t = exp(Δ_t·A_n):
/// `dh_t = C_t·g_t + a_{t+1}·dh_{t+1}`, `du_t = D·g_t + Σ_n dh·Δ·B`,
/// `dΔ_t = Σ_n dh·(A·a_t·h_{t-1} + B·u)`, `dA_n = Σ_t dh·Δ·a_t·h_{t-1}`,
/// `dB_t,n(c) = dh·Δ·u`, `dC_t,n(c) = g·h_t`, `dD = Σ_t g·u`.
#[cube(launch)]
fn parallel_backward_kernel<F: Float>(
    u: &Tensor<F>,           // [W, L, Di]
    delta: &Tensor<F>,       // [W, L, Di]
    a: &Tensor<F>,           // [Di, N]
    b: &Tensor<F>,           // [W, L, N]
    c: &Tensor<F>,           // [W, L, N]
    d: &Tensor<F>,           // [Di]
    dy: &Tensor<F>,          // [W, L, Di]
    du: &mut Tensor<F>,      // [W, L, Di]
    ddelta: &mut Tensor<F>,  // [W, L, Di]
    da_part: &mut Tensor<F>, // [W·T, Di, N]
    db_part: &mut Tensor<F>, // [W, L, Di, N]
    dc_part: &mut Tensor<F>, // [W, L, Di, N]
    dd_part: &mut Tensor<F>, // [W·T, Di]
    windows: u32,
    seq_len: u32,
    channels: u32,
    #[comptime] n_state: usize,
    #[comptime] units: usize,
    #[comptime] items: usize,
    #[comptime] log_units: usize,
    #[define(F)] _dtype: ElemType,
) {
    let di = channels as usize;
    let l = seq_len as usize;
    let seq = CUBE_POS;
    if seq >= (windows * channels) as usize {
        terminate!();
    }
    let w = seq / di;
    let ch = seq % di;
    let j = UNIT_POS_X as usize;
    let t0 = j * items;
    let mut p_sh = Shared::<[F]>::new_slice(units);
    let mut q_sh = Shared::<[F]>::new_slice(units);

    let mut dt = Array::<F>::new(items);
    let mut u_v = Array::<F>::new(items);
    let mut g = Array::<F>::new(items);
    let mut du_acc = Array::<F>::new(items);
    let mut ddt_acc = Array::<F>::new(items);
    let mut h_prev = Array::<F>::new(items); // h_{t-1} for the current state
    let mut dt_sum = F::new(0.0_f32);
    let mut dd_acc = F::new(0.0_f32);
    let d_ch = d[ch];
    #[unroll]
    for i in 0..items {
        dt[i] = F::new(0.0_f32);
        u_v[i] = F::new(0.0_f32);
        g[i] = F::new(0.0_f32);
        ddt_acc[i] = F::new(0.0_f32);
        let t = t0 + i;
        if t < l {
            let x = (w * l + t) * di + ch;
            dt[i] = delta[x];
            u_v[i] = u[x];
            g[i] = dy[x];
            dt_sum += dt[i];
            dd_acc += g[i] * u_v[i];
        }
        du_acc[i] = d_ch * g[i];
    }

    for n in 0..n_state {
        let a_n = a[ch * n_state + n];
        let p_unit = (a_n * dt_sum).exp();

        // Forward states, as in the forward kernel.
        let mut h = F::new(0.0_f32);
        #[unroll]
        for i in 0..items {
            let t = t0 + i;
            let mut b_t = F::new(0.0_f32);
            if t < l {
                b_t = b[(w * l + t) * n_state + n];
            }
            h = (dt[i] * a_n).exp() * h + dt[i] * u_v[i] * b_t;
        }
        p_sh[j] = p_unit;
        q_sh[j] = h;
        sync_cube();
        cube_scan::<F>(&mut p_sh, &mut q_sh, j, units, log_units, false);
        let mut h = F::new(0.0_f32);
        if j > 0 {
            h = q_sh[j - 1];
        }
        sync_cube();
        #[unroll]
        for i in 0..items {
            h_prev[i] = h;
            let t = t0 + i;
            if t < l {
                let bc = (w * l + t) * n_state + n;
                h = (dt[i] * a_n).exp() * h + dt[i] * u_v[i] * b[bc];
                dc_part[((w * l + t) * di + ch) * n_state + n] = g[i] * h;
            }
        }

        // Reverse: this unit's map of the incoming carry, from zero.
        let mut carry = F::new(0.0_f32);
        #[unroll]
        for k in 0..items {
            let i = items - 1 - k;
            let t = t0 + i;
            let mut c_t = F::new(0.0_f32);
            if t < l {
                c_t = c[(w * l + t) * n_state + n];
            }
            carry = (dt[i] * a_n).exp() * (carry + c_t * g[i]);
        }
        p_sh[j] = p_unit;
        q_sh[j] = carry;
        sync_cube();
        cube_scan::<F>(&mut p_sh, &mut q_sh, j, units, log_units, true);
        let mut carry = F::new(0.0_f32);
        if j + 1 < units {
            carry = q_sh[j + 1];
        }
        sync_cube();
        let mut da_acc = F::new(0.0_f32);
        #[unroll]
        for k in 0..items {
            let i = items - 1 - k;
            let t = t0 + i;
            if t < l {
                let bc = (w * l + t) * n_state + n;
                let decay = (dt[i] * a_n).exp();
                let b_t = b[bc];
                let dh = carry + c[bc] * g[i];
                du_acc[i] += dh * dt[i] * b_t;
                ddt_acc[i] += dh * (a_n * decay * h_prev[i] + b_t * u_v[i]);
                da_acc += dh * dt[i] * decay * h_prev[i];
                db_part[((w * l + t) * di + ch) * n_state + n] = dh * dt[i] * u_v[i];
                carry = decay * dh;
            }
        }
        da_part[((w * units + j) * di + ch) * n_state + n] = da_acc;
    }

    #[unroll]
    for i in 0..items {
        let t = t0 + i;
        if t < l {
            let x = (w * l + t) * di + ch;
            du[x] = du_acc[i];
            ddelta[x] = ddt_acc[i];
        }
    }
    dd_part[(w * units + j) * di + ch] = dd_acc;
}

/// Contiguous inputs and `[w, l, di, n]`.
fn prepare(tensors: Vec<CubeTensor>) -> (Vec<CubeTensor>, [usize; 4]) {
    let tensors: Vec<CubeTensor> = tensors.into_iter().map(into_contiguous).collect();
    let [w, l, di] = tensors[0].shape().dims::<3>();
    let n = tensors[2].shape()[1];
    assert!(
        w * di <= u32::MAX as usize && l <= u32::MAX as usize,
        "parallel scan: problem too large"
    );
    (tensors, [w, l, di, n])
}

/// `y [W, L, Di]`.
pub(super) fn forward(
    u: CubeTensor,
    delta: CubeTensor,
    a: CubeTensor,
    b: CubeTensor,
    c: CubeTensor,
    d: CubeTensor,
) -> CubeTensor {
    let (tensors, [w, l, di, n]) = prepare(vec![u, delta, a, b, c, d]);
    let y = empty(&tensors[0], Shape::new([w, l, di]));
    if w * di == 0 || l == 0 {
        return y;
    }
    let (units, items, log_units) = geometry(l);
    let client = y.client.clone();
    let cube_dim = CubeDim::new_1d(units as u32);
    let cube_count = calculate_cube_count_elemwise(&client, w * di * units, cube_dim);
    let mut it = tensors.into_iter();
    let mut next = || it.next().expect("six inputs").into_tensor_arg();
    let (u, delta, a, b, c, d) = (next(), next(), next(), next(), next(), next());
    parallel_forward_kernel::launch(
        &client,
        cube_count,
        cube_dim,
        u,
        delta,
        a,
        b,
        c,
        d,
        y.clone().into_tensor_arg(),
        w as u32,
        l as u32,
        di as u32,
        n,
        units,
        items,
        log_units,
        dtype_to_storage_type(y.dtype),
    );
    y
}

/// The backward kernel's outputs, before the reductions (`da_part` and
/// `dd_part` carry `W·T` rows).
pub(super) fn backward(
    u: CubeTensor,
    delta: CubeTensor,
    a: CubeTensor,
    b: CubeTensor,
    c: CubeTensor,
    d: CubeTensor,
    dy: CubeTensor,
) -> BackwardParts {
    let (tensors, [w, l, di, n]) = prepare(vec![u, delta, a, b, c, d, dy]);
    let (units, items, log_units) = geometry(l);
    let like = &tensors[0];
    let parts = BackwardParts {
        du: empty(like, Shape::new([w, l, di])),
        ddelta: empty(like, Shape::new([w, l, di])),
        da_part: empty(like, Shape::new([w * units, di, n])),
        db_part: empty(like, Shape::new([w, l, di, n])),
        dc_part: empty(like, Shape::new([w, l, di, n])),
        dd_part: empty(like, Shape::new([w * units, di])),
    };
    if w * di == 0 {
        return parts;
    }
    let client = like.client.clone();
    let dtype = like.dtype;
    let cube_dim = CubeDim::new_1d(units as u32);
    let cube_count = calculate_cube_count_elemwise(&client, w * di * units, cube_dim);
    let mut it = tensors.into_iter();
    let mut next = || it.next().expect("seven inputs").into_tensor_arg();
    let (u, delta, a, b, c, d, dy) = (next(), next(), next(), next(), next(), next(), next());
    parallel_backward_kernel::launch(
        &client,
        cube_count,
        cube_dim,
        u,
        delta,
        a,
        b,
        c,
        d,
        dy,
        parts.du.clone().into_tensor_arg(),
        parts.ddelta.clone().into_tensor_arg(),
        parts.da_part.clone().into_tensor_arg(),
        parts.db_part.clone().into_tensor_arg(),
        parts.dc_part.clone().into_tensor_arg(),
        parts.dd_part.clone().into_tensor_arg(),
        w as u32,
        l as u32,
        di as u32,
        n,
        units,
        items,
        log_units,
        dtype_to_storage_type(dtype),
    );
    parts
}

#[cfg(test)]
mod tests {
    use super::geometry;

    #[test]
    fn every_step_has_exactly_one_unit() {
        for l in 1..600 {
            let (units, items, log) = geometry(l);
            assert!(units <= super::MAX_UNITS && units.is_power_of_two());
            assert_eq!(1 << log, units);
            assert!(units * items >= l, "L = {l}: {units}×{items} misses steps");
            assert!((units / 2) * items < l || units == 1, "L = {l}: idle half");
        }
        assert_eq!(geometry(256), (32, 8, 5));
    }
}
