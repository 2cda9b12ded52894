//! The fused selective scan for the CPU (burn Flex): the same algorithm as
//! the CubeCL kernel — one pass per (window, channel) with the N states in
//! registers, and a handwritten backward that recomputes the states — on
//! host slices, parallel over windows. Memory stays at the size of the
//! inputs, where the tensor-op scans under autodiff keep several
//! `[W, L, Di, N]` tensors per layer (which exhausts RAM at `mni4mm`).

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

/// Borrowed inputs, row-major: u, delta `[W, L, Di]`, a `[Di, N]`,
/// b, c `[W, L, N]`, d `[Di]`.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// Input.
    pub u: &'a [f32],
    /// Step sizes.
    pub delta: &'a [f32],
    /// State matrix.
    pub a: &'a [f32],
    /// Input projections.
    pub b: &'a [f32],
    /// Output projections.
    pub c: &'a [f32],
    /// Skip weights.
    pub d: &'a [f32],
}

/// Gradients, shaped like the inputs.
#[derive(Debug, Clone, Default)]
pub struct Grads {
    /// d u.
    pub du: Vec<f32>,
    /// d delta.
    pub ddelta: Vec<f32>,
    /// d A.
    pub da: Vec<f32>,
    /// d B.
    pub db: Vec<f32>,
    /// d C.
    pub dc: Vec<f32>,
    /// d D.
    pub dd: Vec<f32>,
}

fn threads(w: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(w.max(1))
}

/// `y [W, L, Di]`.
pub fn forward(x: Inputs, s: Dims) -> Vec<f32> {
    let Dims { w, l, di, n } = s;
    let mut y = vec![0f32; w * l * di];
    if y.is_empty() {
        return y;
    }
    let per = w.div_ceil(threads(w));
    std::thread::scope(|scope| {
        for (part, y_part) in y.chunks_mut(per * l * di).enumerate() {
            scope.spawn(move || {
                let mut h = vec![0f32; n];
                for (k, y_win) in y_part.chunks_mut(l * di).enumerate() {
                    let win = part * per + k;
                    for ch in 0..di {
                        h.iter_mut().for_each(|v| *v = 0.0);
                        let a = &x.a[ch * n..(ch + 1) * n];
                        for t in 0..l {
                            let row = win * l + t;
                            let (u, dt) = (x.u[row * di + ch], x.delta[row * di + ch]);
                            let (b, c) =
                                (&x.b[row * n..(row + 1) * n], &x.c[row * n..(row + 1) * n]);
                            let mut acc = x.d[ch] * u;
                            for j in 0..n {
                                h[j] = (dt * a[j]).exp() * h[j] + dt * u * b[j];
                                acc += c[j] * h[j];
                            }
                            y_win[t * di + ch] = acc;
                        }
                    }
                }
            });
        }
    });
    y
}

/// The gradients of `Σ dy ⊙ y` (see the CubeCL kernel for the formulas).
pub fn backward(x: Inputs, dy: &[f32], s: Dims) -> Grads {
    let Dims { w, l, di, n } = s;
    let mut du = vec![0f32; w * l * di];
    let mut ddelta = vec![0f32; w * l * di];
    let mut db = vec![0f32; w * l * n];
    let mut dc = vec![0f32; w * l * n];
    if du.is_empty() {
        return Grads {
            du,
            ddelta,
            da: vec![0.0; di * n],
            db,
            dc,
            dd: vec![0.0; di],
        };
    }
    let workers = threads(w);
    let per = w.div_ceil(workers);
    // Per worker partial sums of dA and dD, reduced after the join.
    let mut partials: Vec<(Vec<f32>, Vec<f32>)> = Vec::new();
    std::thread::scope(|scope| {
        let handles: Vec<_> = du
            .chunks_mut(per * l * di)
            .zip(ddelta.chunks_mut(per * l * di))
            .zip(db.chunks_mut(per * l * n).zip(dc.chunks_mut(per * l * n)))
            .enumerate()
            .map(|(part, ((du_p, ddt_p), (db_p, dc_p)))| {
                scope.spawn(move || {
                    let mut da = vec![0f32; di * n];
                    let mut dd = vec![0f32; di];
                    let mut hs = vec![0f32; l * n]; // states of one channel over time
                    let mut carry = vec![0f32; n];
                    let windows = du_p.len() / (l * di);
                    for k in 0..windows {
                        let win = part * per + k;
                        for ch in 0..di {
                            let a = &x.a[ch * n..(ch + 1) * n];
                            // Pass 1: states h_t for all t.
                            for t in 0..l {
                                let row = win * l + t;
                                let (u, dt) = (x.u[row * di + ch], x.delta[row * di + ch]);
                                let b = &x.b[row * n..(row + 1) * n];
                                for j in 0..n {
                                    let prev = if t > 0 { hs[(t - 1) * n + j] } else { 0.0 };
                                    hs[t * n + j] = (dt * a[j]).exp() * prev + dt * u * b[j];
                                }
                            }
                            // Pass 2: reverse, accumulating dh.
                            carry.iter_mut().for_each(|v| *v = 0.0);
                            for t in (0..l).rev() {
                                let row = win * l + t;
                                let local = k * l + t;
                                let (u, dt, g) = (
                                    x.u[row * di + ch],
                                    x.delta[row * di + ch],
                                    dy[row * di + ch],
                                );
                                let (b, c) =
                                    (&x.b[row * n..(row + 1) * n], &x.c[row * n..(row + 1) * n]);
                                let mut du_acc = x.d[ch] * g;
                                let mut ddt_acc = 0f32;
                                dd[ch] += g * u;
                                for j in 0..n {
                                    let h_prev = if t > 0 { hs[(t - 1) * n + j] } else { 0.0 };
                                    let decay = (dt * a[j]).exp();
                                    let dh = carry[j] + c[j] * g;
                                    du_acc += dh * dt * b[j];
                                    ddt_acc += dh * (a[j] * decay * h_prev + b[j] * u);
                                    da[ch * n + j] += dh * dt * decay * h_prev;
                                    db_p[local * n + j] += dh * dt * u;
                                    dc_p[local * n + j] += g * hs[t * n + j];
                                    carry[j] = decay * dh;
                                }
                                du_p[local * di + ch] = du_acc;
                                ddt_p[local * di + ch] = ddt_acc;
                            }
                        }
                    }
                    (da, dd)
                })
            })
            .collect();
        partials = handles
            .into_iter()
            .map(|h| h.join().expect("scan worker"))
            .collect();
    });
    let mut da = vec![0f32; di * n];
    let mut dd = vec![0f32; di];
    for (pa, pd) in partials {
        da.iter_mut().zip(pa).for_each(|(s, v)| *s += v);
        dd.iter_mut().zip(pd).for_each(|(s, v)| *s += v);
    }
    Grads {
        du,
        ddelta,
        da,
        db,
        dc,
        dd,
    }
}
