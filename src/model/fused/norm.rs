//! LayerNorm over the last dim as one op with a handwritten backward:
//! `y = (x - μ) / √(σ² + ε) · γ + β` per row (σ² biased, as burn's and
//! PyTorch's LayerNorm).
//!
//! burn's `LayerNorm` is composed of mean, subtract, square, mean, add,
//! sqrt, divide, scale and shift, and autodiff backpropagates each with its
//! broadcast reductions: about twenty kernel launches per norm and step on
//! wgpu. Here the forward is one kernel (a unit per row) and the backward
//! one kernel plus one column sum of the γ and β partials, side by side:
//! `dx = r·(ĝ - mean(ĝ) - x̂·mean(ĝ·x̂))` with `ĝ = dy·γ`, `r = 1/√(σ²+ε)`,
//! `dγ = Σ_rows dy·x̂`, `dβ = Σ_rows dy`. Host loops on Flex.
//!
//! The op reads its rows in a [`WindowOrder`]: the pre-norm of a window
//! Mamba writes its output straight in (shifted) window order, so the
//! windows cost no copy or gather of their own, forward or backward (the
//! backward writes `dx` back to the source rows).

#![allow(clippy::type_complexity)]

use super::{par_blocks, sum_partial_pairs};
use crate::model::layout::{WindowOrder, partition, partition_shifted};
use crate::model::scan::kernel::{flex_tensor, host_vecs, supported};
use burn::backend::autodiff::{
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::{
    Autodiff, AutodiffBackend, Backend, Dispatch, Flex, TensorMetadata, backend_extension,
    ops::FloatTensorOps, tensor::FloatTensor,
};
use burn::nn::LayerNorm;
use burn::tensor::{Shape, Slice, Tensor};
use burn_cubecl::CubeBackend;

/// The fused LayerNorm as a backend extension; `x [R, C]`, `gamma, beta [C]`;
/// output row `r` is the norm of input row `order.source(r)`.
#[backend_extension(Cube, Flex, Fusion, Autodiff)]
pub trait LayerNormOps: Backend {
    /// `[R, C]`.
    #[fusion(dtype = x, shape = x)]
    fn fused_layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        order: WindowOrder,
    ) -> FloatTensor<Self>;

    /// `(dx, dgamma, dbeta)` of `Σ dy ⊙ y` (`dx` in the input's row order).
    #[fusion(meta = |x, gamma, beta, _dy, _epsilon, _order| (x.clone(), gamma.clone(), beta.clone()))]
    fn fused_layer_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        epsilon: f64,
        order: WindowOrder,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

fn rows_cols(x: &Shape) -> [usize; 2] {
    [x[0], x[1]]
}

// ---------------------------------------------------------------------------
// Cube backend.
// ---------------------------------------------------------------------------

impl LayerNormOps for CubeBackend {
    fn fused_layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        order: WindowOrder,
    ) -> FloatTensor<Self> {
        kernels::forward(x, gamma, beta, epsilon, order)
    }

    fn fused_layer_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        _beta: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        epsilon: f64,
        order: WindowOrder,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let [rows, c] = rows_cols(&x.shape());
        let (dx, parts) = kernels::backward(x, gamma, dy, epsilon, order);
        if rows == 0 {
            let (device, dtype) = (dx.device.clone(), dx.dtype.into());
            let zeros = || Self::float_zeros(Shape::new([c]), &device, dtype);
            return (dx, zeros(), zeros());
        }
        // One column sum for both: [1, 2C] = Σ dy·x̂ | Σ dy.
        let sums = Self::float_sum_dim(parts, 0);
        let half = |from: usize| {
            let cols = [
                Slice::new(0, Some(1), 1),
                Slice::new(from as isize, Some((from + c) as isize), 1),
            ];
            Self::float_reshape(Self::float_slice(sums.clone(), &cols), Shape::new([c]))
        };
        (dx, half(0), half(c))
    }
}

mod kernels {
    //! The `#[cube]` kernels and their launches.
    #![allow(clippy::too_many_arguments)]

    use super::WindowOrder;
    use burn::backend::TensorMetadata;
    use burn::backend::cubecl::dtype_to_storage_type;
    use burn::tensor::Shape;
    use burn_cubecl::cubecl;
    use burn_cubecl::kernel::into_contiguous;
    use burn_cubecl::tensor::CubeTensor;
    use cubecl::{calculate_cube_count_elemwise, prelude::*};

    /// `(mean, 1/√(var+ε))` of row `r`.
    #[cube]
    fn row_stats<F: Float>(x: &Tensor<F>, base: usize, c: usize, eps: F) -> (F, F) {
        let mut sum = F::new(0.0_f32);
        for i in 0..c {
            sum += x[base + i];
        }
        let mean = sum / F::cast_from(c as u32);
        let mut sq = F::new(0.0_f32);
        for i in 0..c {
            let d = x[base + i] - mean;
            sq += d * d;
        }
        let var = sq / F::cast_from(c as u32);
        (mean, F::new(1.0_f32) / (var + eps).sqrt())
    }

    /// [`WindowOrder::source`] in cube code: grid `g*`, window `w*`, shift
    /// `s*`.
    #[cube]
    fn source_row(
        r: usize,
        gx: u32,
        gy: u32,
        gz: u32,
        gt: u32,
        wx: u32,
        wy: u32,
        wz: u32,
        wt: u32,
        sx: u32,
        sy: u32,
        sz: u32,
        st: u32,
    ) -> usize {
        let gx = gx as usize;
        let gy = gy as usize;
        let gz = gz as usize;
        let gt = gt as usize;
        let wx = wx as usize;
        let wy = wy as usize;
        let wz = wz as usize;
        let wt = wt as usize;
        let inner = r % (wx * wy * wz * wt);
        let block = r / (wx * wy * wz * wt);
        let nx = gx / wx;
        let ny = gy / wy;
        let nz = gz / wz;
        let nt = gt / wt;
        let rest = block / (nt * nz * ny);
        let ax = ((rest % nx) * wx + inner / (wt * wz * wy) + sx as usize) % gx;
        let ay = ((block / (nt * nz) % ny) * wy + inner / (wt * wz) % wy + sy as usize) % gy;
        let az = ((block / nt % nz) * wz + inner / wt % wz + sz as usize) % gz;
        let at = ((block % nt) * wt + inner % wt + st as usize) % gt;
        (((rest / nx * gx + ax) * gy + ay) * gz + az) * gt + at
    }

    /// One unit per output row (row `order.source(r)` of `x`).
    #[cube(launch)]
    fn norm_forward_kernel<F: Float>(
        x: &Tensor<F>,     // [R, C]
        gamma: &Tensor<F>, // [C]
        beta: &Tensor<F>,  // [C]
        y: &mut Tensor<F>, // [R, C], window order
        rows: u32,
        cols: u32,
        eps: f32,
        gx: u32,
        gy: u32,
        gz: u32,
        gt: u32,
        wx: u32,
        wy: u32,
        wz: u32,
        wt: u32,
        sx: u32,
        sy: u32,
        sz: u32,
        st: u32,
        #[define(F)] _dtype: ElemType,
    ) {
        let r = ABSOLUTE_POS;
        if r >= rows as usize {
            terminate!();
        }
        let c = cols as usize;
        let src = source_row(r, gx, gy, gz, gt, wx, wy, wz, wt, sx, sy, sz, st) * c;
        let base = r * c;
        let (mean, rstd) = row_stats::<F>(x, src, c, F::cast_from(eps));
        for i in 0..c {
            y[base + i] = (x[src + i] - mean) * rstd * gamma[i] + beta[i];
        }
    }

    /// One unit per output row: `dx` of its source row and the row's
    /// `dy·x̂` and `dy` (the dγ and dβ partials, side by side so that one
    /// column sum reduces both).
    #[cube(launch)]
    fn norm_backward_kernel<F: Float>(
        x: &Tensor<F>,           // [R, C]
        gamma: &Tensor<F>,       // [C]
        dy: &Tensor<F>,          // [R, C], window order
        dx: &mut Tensor<F>,      // [R, C]
        dg_part: &mut Tensor<F>, // [R, 2C]: dy·x̂ | dy
        rows: u32,
        cols: u32,
        eps: f32,
        gx: u32,
        gy: u32,
        gz: u32,
        gt: u32,
        wx: u32,
        wy: u32,
        wz: u32,
        wt: u32,
        sx: u32,
        sy: u32,
        sz: u32,
        st: u32,
        #[define(F)] _dtype: ElemType,
    ) {
        let r = ABSOLUTE_POS;
        if r >= rows as usize {
            terminate!();
        }
        let c = cols as usize;
        let src = source_row(r, gx, gy, gz, gt, wx, wy, wz, wt, sx, sy, sz, st) * c;
        let base = r * c;
        let (mean, rstd) = row_stats::<F>(x, src, c, F::cast_from(eps));
        let mut sum_g = F::new(0.0_f32);
        let mut sum_gx = F::new(0.0_f32);
        for i in 0..c {
            let xh = (x[src + i] - mean) * rstd;
            let g = dy[base + i] * gamma[i];
            sum_g += g;
            sum_gx += g * xh;
        }
        let inv_c = F::new(1.0_f32) / F::cast_from(c as u32);
        let mean_g = sum_g * inv_c;
        let mean_gx = sum_gx * inv_c;
        for i in 0..c {
            let xh = (x[src + i] - mean) * rstd;
            let d = dy[base + i];
            dx[src + i] = rstd * (d * gamma[i] - mean_g - xh * mean_gx);
            dg_part[2 * base + i] = d * xh;
            dg_part[2 * base + c + i] = d;
        }
    }

    use crate::model::scan::kernel::empty;

    /// The order as the kernels' twelve scalars: grid, window, shift.
    fn order_args(order: WindowOrder) -> [u32; 12] {
        let mut out = [0u32; 12];
        for (o, v) in out
            .iter_mut()
            .zip(order.grid.iter().chain(&order.window).chain(&order.shift))
        {
            *o = *v as u32;
        }
        out
    }

    fn launch_dims(like: &CubeTensor, rows: usize) -> (CubeCount, CubeDim) {
        let cube_dim = CubeDim::new(&like.client, rows);
        (
            calculate_cube_count_elemwise(&like.client, rows, cube_dim),
            cube_dim,
        )
    }

    /// `y [R, C]`.
    pub(super) fn forward(
        x: CubeTensor,
        gamma: CubeTensor,
        beta: CubeTensor,
        eps: f64,
        order: WindowOrder,
    ) -> CubeTensor {
        let [x, gamma, beta] = [x, gamma, beta].map(into_contiguous);
        let [rows, cols] = super::rows_cols(&x.shape());
        let y = empty(&x, Shape::new([rows, cols]));
        if rows * cols == 0 {
            return y;
        }
        let (count, dim) = launch_dims(&x, rows);
        let o = order_args(order);
        let dtype = dtype_to_storage_type(x.dtype);
        let client = x.client.clone();
        norm_forward_kernel::launch(
            &client,
            count,
            dim,
            x.into_tensor_arg(),
            gamma.into_tensor_arg(),
            beta.into_tensor_arg(),
            y.clone().into_tensor_arg(),
            rows as u32,
            cols as u32,
            eps as f32,
            o[0],
            o[1],
            o[2],
            o[3],
            o[4],
            o[5],
            o[6],
            o[7],
            o[8],
            o[9],
            o[10],
            o[11],
            dtype,
        );
        y
    }

    /// `(dx [R, C], dγ | dβ partials [R, 2C])`.
    pub(super) fn backward(
        x: CubeTensor,
        gamma: CubeTensor,
        dy: CubeTensor,
        eps: f64,
        order: WindowOrder,
    ) -> (CubeTensor, CubeTensor) {
        let [x, gamma, dy] = [x, gamma, dy].map(into_contiguous);
        let [rows, cols] = super::rows_cols(&x.shape());
        let dx = empty(&x, Shape::new([rows, cols]));
        let dg_part = empty(&x, Shape::new([rows, 2 * cols]));
        if rows * cols == 0 {
            return (dx, dg_part);
        }
        let (count, dim) = launch_dims(&x, rows);
        let o = order_args(order);
        let dtype = dtype_to_storage_type(x.dtype);
        let client = x.client.clone();
        norm_backward_kernel::launch(
            &client,
            count,
            dim,
            x.into_tensor_arg(),
            gamma.into_tensor_arg(),
            dy.into_tensor_arg(),
            dx.clone().into_tensor_arg(),
            dg_part.clone().into_tensor_arg(),
            rows as u32,
            cols as u32,
            eps as f32,
            o[0],
            o[1],
            o[2],
            o[3],
            o[4],
            o[5],
            o[6],
            o[7],
            o[8],
            o[9],
            o[10],
            o[11],
            dtype,
        );
        (dx, dg_part)
    }
}

// ---------------------------------------------------------------------------
// Flex (CPU): host loops.
// ---------------------------------------------------------------------------

/// `(mean, 1/√(var+ε))` of one row, in f64.
fn host_stats(row: &[f32], eps: f64) -> (f64, f64) {
    let c = row.len() as f64;
    let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / c;
    let var = row
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / c;
    (mean, 1.0 / (var + eps).sqrt())
}

impl LayerNormOps for Flex {
    fn fused_layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        order: WindowOrder,
    ) -> FloatTensor<Self> {
        let [rows, c] = rows_cols(&x.shape());
        let [x, g, b] = host_vecs([x, gamma, beta]);
        let mut y = vec![0f32; rows * c];
        let step = c.max(1);
        par_blocks(&mut y, step, |first, piece| {
            for (k, yr) in piece.chunks_mut(step).enumerate() {
                let src = order.source(first + k) * c;
                let xr = &x[src..src + c];
                let (mean, rstd) = host_stats(xr, epsilon);
                for i in 0..c {
                    yr[i] = ((f64::from(xr[i]) - mean) * rstd) as f32 * g[i] + b[i];
                }
            }
        });
        flex_tensor(y, vec![rows, c])
    }

    fn fused_layer_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        _beta: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        epsilon: f64,
        order: WindowOrder,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let [rows, c] = rows_cols(&x.shape());
        let [x, g, dy] = host_vecs([x, gamma, dy]);
        // dx row q (input order) takes dy's row that read it.
        let mut dy_row = vec![0usize; if order.is_identity() { 0 } else { rows }];
        for r in 0..dy_row.len() {
            dy_row[order.source(r)] = r;
        }
        let mut dx = vec![0f32; rows * c];
        let step = c.max(1);
        let partials = par_blocks(&mut dx, step, |first, piece| {
            let mut dg = vec![0f64; c];
            let mut db = vec![0f64; c];
            let mut xh = vec![0f64; c];
            let mut gh = vec![0f64; c];
            for (k, dxr) in piece.chunks_mut(step).enumerate() {
                let q = first + k;
                let r = if dy_row.is_empty() { q } else { dy_row[q] };
                let xr = &x[q * c..q * c + c];
                let dyr = &dy[r * c..r * c + c];
                let (mean, rstd) = host_stats(xr, epsilon);
                for i in 0..c {
                    xh[i] = (f64::from(xr[i]) - mean) * rstd;
                    gh[i] = f64::from(dyr[i]) * f64::from(g[i]);
                }
                let mean_g = gh.iter().sum::<f64>() / c as f64;
                let mean_gx = gh.iter().zip(&xh).map(|(a, b)| a * b).sum::<f64>() / c as f64;
                for i in 0..c {
                    dxr[i] = (rstd * (gh[i] - mean_g - xh[i] * mean_gx)) as f32;
                    dg[i] += f64::from(dyr[i]) * xh[i];
                    db[i] += f64::from(dyr[i]);
                }
            }
            (dg, db)
        });
        let (dg, db) = sum_partial_pairs(partials, (c, c));
        let narrow = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect();
        (
            flex_tensor(dx, vec![rows, c]),
            flex_tensor(narrow(dg), vec![c]),
            flex_tensor(narrow(db), vec![c]),
        )
    }
}

// ---------------------------------------------------------------------------
// Autodiff.
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct NormBackward(f64, WindowOrder);

impl<B: Backend + LayerNormOps> Backward<B, 3> for NormBackward {
    /// The inputs (x, gamma, beta).
    type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [p_x, p_g, p_b] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let (x, g, b) = ops.state;
        let (dx, dg, db) = B::fused_layer_norm_backward(x, g, b, dy, self.0, self.1);
        for (parent, grad) in [(p_x, dx), (p_g, dg), (p_b, db)] {
            if let Some(node) = parent {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

impl<B: Backend + LayerNormOps, C: CheckpointStrategy> LayerNormOps for Autodiff<B, C> {
    fn fused_layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        order: WindowOrder,
    ) -> FloatTensor<Self> {
        let guards = [x.node(), gamma.node(), beta.node()];
        let (x, gamma, beta) = (
            x.into_primitive(),
            gamma.into_primitive(),
            beta.into_primitive(),
        );
        match NormBackward(epsilon, order)
            .prepare::<C>(guards)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = B::fused_layer_norm(x.clone(), gamma.clone(), beta.clone(), epsilon, order);
                prep.finish((x, gamma, beta), y)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::fused_layer_norm(x, gamma, beta, epsilon, order))
            }
        }
    }

    /// Not differentiable itself.
    fn fused_layer_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        epsilon: f64,
        order: WindowOrder,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let (dx, dg, db) = B::fused_layer_norm_backward(
            x.into_primitive(),
            gamma.into_primitive(),
            beta.into_primitive(),
            dy.into_primitive(),
            epsilon,
            order,
        );
        let lift = <Self as AutodiffBackend>::from_inner;
        (lift(dx), lift(dg), lift(db))
    }
}

/// LayerNorm over the last dim of `x` with `gamma`, `beta [C]`: the fused
/// op; differentiable through the handwritten backward.
pub fn fused_layer_norm<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
) -> Tensor<D> {
    let dims = x.dims();
    let c = dims[D - 1];
    let rows = dims[..D - 1].iter().product::<usize>();
    norm_rows(
        x.reshape([rows, c]),
        gamma,
        beta,
        epsilon,
        WindowOrder::identity(rows),
    )
    .reshape(dims)
}

/// `[N, C]` rows normed in `order` (the op itself).
fn norm_rows(
    x: Tensor<2>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
    order: WindowOrder,
) -> Tensor<2> {
    let c = x.dims()[1];
    assert_eq!(gamma.dims(), [c], "layer norm: gamma must be [C]");
    assert_eq!(beta.dims(), [c], "layer norm: beta must be [C]");
    Tensor::<2>::from_dispatch(<Dispatch as LayerNormOps>::fused_layer_norm(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
        order,
    ))
}

/// `partition_shifted(LayerNorm(x), window, shift)` as the fused op
/// writing straight into window order: `x [B, X, Y, Z, T, C]` →
/// `[B·nW, wx·wy·wz·wt, C]`.
pub fn fused_layer_norm_into_windows(
    x: Tensor<6>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
    window: [usize; 4],
    shift: [usize; 4],
) -> Tensor<3> {
    let [b, gx, gy, gz, gt, c] = x.dims();
    let order = WindowOrder::windows([gx, gy, gz, gt], window, shift);
    let rows = b * gx * gy * gz * gt;
    let len = window.iter().product::<usize>();
    norm_rows(x.reshape([rows, c]), gamma, beta, epsilon, order).reshape([rows / len, len, c])
}

/// `norm`'s γ and β (β zeros when the module has none).
fn affine(norm: &LayerNorm) -> (Tensor<1>, Tensor<1>) {
    let gamma = norm.gamma.val();
    let beta = norm
        .beta
        .as_ref()
        .map(|b| b.val())
        .unwrap_or_else(|| gamma.zeros_like());
    (gamma, beta)
}

/// `norm(x)` (burn's module, whose ε is private, so it is passed here):
/// the fused op where the device runs it, else burn's composed LayerNorm.
pub fn layer_norm<const D: usize>(norm: &LayerNorm, epsilon: f64, x: Tensor<D>) -> Tensor<D> {
    if !supported(&x.device()) {
        return norm.forward(x);
    }
    let (gamma, beta) = affine(norm);
    fused_layer_norm(x, gamma, beta, epsilon)
}

/// The windows of `norm(x)` after a cyclic `shift` (`[B·nW, L, C]`, the
/// order of [`partition_shifted`]): the fused op writing in window order
/// where the device runs it, else burn's LayerNorm and the partition.
pub fn layer_norm_into_windows(
    norm: &LayerNorm,
    epsilon: f64,
    x: Tensor<6>,
    window: [usize; 4],
    shift: [usize; 4],
) -> Tensor<3> {
    if supported(&x.device()) {
        let (gamma, beta) = affine(norm);
        return fused_layer_norm_into_windows(x, gamma, beta, epsilon, window, shift);
    }
    let y = norm.forward(x);
    if shift == [0; 4] {
        partition(y, window)
    } else {
        partition_shifted(y, window, shift)
    }
}
