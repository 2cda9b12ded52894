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

#![allow(clippy::type_complexity)]

use super::par_blocks;
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

/// The fused LayerNorm as a backend extension; `x [R, C]`, `gamma, beta [C]`.
#[backend_extension(Cube, Flex, Fusion, Autodiff)]
pub trait LayerNormOps: Backend {
    /// `[R, C]`.
    #[fusion(dtype = x, shape = x)]
    fn fused_layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self>;

    /// `(dx, dgamma, dbeta)` of `Σ dy ⊙ y`.
    #[fusion(meta = |x, gamma, beta, _dy, _epsilon| (x.clone(), gamma.clone(), beta.clone()))]
    fn fused_layer_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        epsilon: f64,
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
    ) -> FloatTensor<Self> {
        kernels::forward(x, gamma, beta, epsilon)
    }

    fn fused_layer_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        _beta: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let [rows, c] = rows_cols(&x.shape());
        let (dx, parts) = kernels::backward(x, gamma, dy, epsilon);
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

    /// One unit per row.
    #[cube(launch)]
    fn norm_forward_kernel<F: Float>(
        x: &Tensor<F>,     // [R, C]
        gamma: &Tensor<F>, // [C]
        beta: &Tensor<F>,  // [C]
        y: &mut Tensor<F>, // [R, C]
        rows: u32,
        cols: u32,
        eps: f32,
        #[define(F)] _dtype: ElemType,
    ) {
        let r = ABSOLUTE_POS;
        if r >= rows as usize {
            terminate!();
        }
        let c = cols as usize;
        let base = r * c;
        let (mean, rstd) = row_stats::<F>(x, base, c, F::cast_from(eps));
        for i in 0..c {
            y[base + i] = (x[base + i] - mean) * rstd * gamma[i] + beta[i];
        }
    }

    /// One unit per row: `dx` and the row's `dy·x̂` and `dy` (the dγ and dβ
    /// partials, side by side so that one column sum reduces both).
    #[cube(launch)]
    fn norm_backward_kernel<F: Float>(
        x: &Tensor<F>,           // [R, C]
        gamma: &Tensor<F>,       // [C]
        dy: &Tensor<F>,          // [R, C]
        dx: &mut Tensor<F>,      // [R, C]
        dg_part: &mut Tensor<F>, // [R, 2C]: dy·x̂ | dy
        rows: u32,
        cols: u32,
        eps: f32,
        #[define(F)] _dtype: ElemType,
    ) {
        let r = ABSOLUTE_POS;
        if r >= rows as usize {
            terminate!();
        }
        let c = cols as usize;
        let base = r * c;
        let (mean, rstd) = row_stats::<F>(x, base, c, F::cast_from(eps));
        let mut sum_g = F::new(0.0_f32);
        let mut sum_gx = F::new(0.0_f32);
        for i in 0..c {
            let xh = (x[base + i] - mean) * rstd;
            let g = dy[base + i] * gamma[i];
            sum_g += g;
            sum_gx += g * xh;
        }
        let inv_c = F::new(1.0_f32) / F::cast_from(c as u32);
        let mean_g = sum_g * inv_c;
        let mean_gx = sum_gx * inv_c;
        for i in 0..c {
            let xh = (x[base + i] - mean) * rstd;
            let d = dy[base + i];
            dx[base + i] = rstd * (d * gamma[i] - mean_g - xh * mean_gx);
            dg_part[2 * base + i] = d * xh;
            dg_part[2 * base + c + i] = d;
        }
    }

    use crate::model::scan::kernel::empty;

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
    ) -> CubeTensor {
        let [x, gamma, beta] = [x, gamma, beta].map(into_contiguous);
        let [rows, cols] = super::rows_cols(&x.shape());
        let y = empty(&x, Shape::new([rows, cols]));
        if rows * cols == 0 {
            return y;
        }
        let (count, dim) = launch_dims(&x, rows);
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
    ) -> (CubeTensor, CubeTensor) {
        let [x, gamma, dy] = [x, gamma, dy].map(into_contiguous);
        let [rows, cols] = super::rows_cols(&x.shape());
        let dx = empty(&x, Shape::new([rows, cols]));
        let dg_part = empty(&x, Shape::new([rows, 2 * cols]));
        if rows * cols == 0 {
            return (dx, dg_part);
        }
        let (count, dim) = launch_dims(&x, rows);
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
    ) -> FloatTensor<Self> {
        let [rows, c] = rows_cols(&x.shape());
        let [x, g, b] = host_vecs([x, gamma, beta]);
        let mut y = vec![0f32; rows * c];
        let step = c.max(1);
        par_blocks(&mut y, step, |first, piece| {
            let xs = &x[first * step..first * step + piece.len()];
            for (xr, yr) in xs.chunks(step).zip(piece.chunks_mut(step)) {
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
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let [rows, c] = rows_cols(&x.shape());
        let [x, g, dy] = host_vecs([x, gamma, dy]);
        let mut dx = vec![0f32; rows * c];
        let step = c.max(1);
        let partials = par_blocks(&mut dx, step, |first, piece| {
            let span = first * step..first * step + piece.len();
            let (xs, dys) = (&x[span.clone()], &dy[span]);
            let mut dg = vec![0f64; c];
            let mut db = vec![0f64; c];
            let mut xh = vec![0f64; c];
            let mut gh = vec![0f64; c];
            for ((xr, dyr), dxr) in xs
                .chunks(step)
                .zip(dys.chunks(step))
                .zip(piece.chunks_mut(step))
            {
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
        let mut dg = vec![0f64; c];
        let mut db = vec![0f64; c];
        for (pg, pb) in partials {
            dg.iter_mut().zip(pg).for_each(|(a, v)| *a += v);
            db.iter_mut().zip(pb).for_each(|(a, v)| *a += v);
        }
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
struct NormBackward(f64);

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
        let (dx, dg, db) = B::fused_layer_norm_backward(x, g, b, dy, self.0);
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
    ) -> FloatTensor<Self> {
        let guards = [x.node(), gamma.node(), beta.node()];
        let (x, gamma, beta) = (
            x.into_primitive(),
            gamma.into_primitive(),
            beta.into_primitive(),
        );
        match NormBackward(epsilon)
            .prepare::<C>(guards)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = B::fused_layer_norm(x.clone(), gamma.clone(), beta.clone(), epsilon);
                prep.finish((x, gamma, beta), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_layer_norm(x, gamma, beta, epsilon)),
        }
    }

    /// Not differentiable itself.
    fn fused_layer_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let (dx, dg, db) = B::fused_layer_norm_backward(
            x.into_primitive(),
            gamma.into_primitive(),
            beta.into_primitive(),
            dy.into_primitive(),
            epsilon,
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
    assert_eq!(gamma.dims(), [c], "layer norm: gamma must be [C]");
    assert_eq!(beta.dims(), [c], "layer norm: beta must be [C]");
    let rows = dims[..D - 1].iter().product::<usize>();
    let x2: Tensor<2> = x.reshape([rows, c]);
    let y = Tensor::<2>::from_dispatch(<Dispatch as LayerNormOps>::fused_layer_norm(
        x2.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
    ));
    y.reshape(dims)
}

/// `norm(x)` (burn's module, whose ε is private, so it is passed here):
/// the fused op where the device runs it, else burn's composed LayerNorm.
pub fn layer_norm<const D: usize>(norm: &LayerNorm, epsilon: f64, x: Tensor<D>) -> Tensor<D> {
    if !supported(&x.device()) {
        return norm.forward(x);
    }
    let gamma = norm.gamma.val();
    let beta = norm
        .beta
        .as_ref()
        .map(|b| b.val())
        .unwrap_or_else(|| gamma.zeros_like());
    fused_layer_norm(x, gamma, beta, epsilon)
}
