//! GELU (exact, erf form: `x·Φ(x)`) as one op with a handwritten backward,
//! for the CPU: `dx = dy·(Φ(x) + x·φ(x))`.
//!
//! burn Flex runs GELU and its backward as single-threaded scalar loops over
//! libm's `erff`; the block MLP applies it to `tokens × 4C` values (11.8 M
//! per block at `mni4mm` stage 0), where it was the largest elementwise cost
//! of the CPU step. Here both passes are threaded and vectorisable: erf by
//! Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7; Φ within 3e-7 in f32,
//! tested), whose `exp(-x²/2)` is also φ's, by the scan's polynomial
//! [`exp_lanes`]. This op is routed on the host only.
//!
//! On Cube devices GELU is composed from `erf` (fused into one kernel each
//! way by burn's fusion): burn 0.22's `gelu_backward` there is the
//! derivative of the tanh approximation (burn-backend-0.22.1
//! src/backend/ops/activation.rs:98; only Flex overrides it), off the exact
//! gradient PyTorch's `nn.GELU()` trains with by up to ~1e-3, while the
//! autodiff of `x·½(1 + erf(x/√2))` is exact.

#![allow(clippy::type_complexity)]

use super::par_blocks;
use crate::model::scan::host::{LANES, exp_lanes};
use crate::model::scan::kernel::{flex_tensor, host_vecs, is_host};
use burn::backend::autodiff::{
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::{
    Autodiff, AutodiffBackend, Backend, Dispatch, Flex, TensorMetadata, backend_extension,
    ops::ActivationOps, tensor::FloatTensor,
};
use burn::tensor::Tensor;
use burn_cubecl::CubeBackend;

/// The fused GELU as a backend extension; any shape.
#[backend_extension(Cube, Flex, Fusion, Autodiff)]
pub trait GeluOps: Backend {
    /// `x·Φ(x)`, shaped like `x`.
    #[fusion(dtype = x, shape = x)]
    fn fused_gelu(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// `dy·(Φ(x) + x·φ(x))`. Not itself differentiable.
    #[fusion(dtype = x, shape = x)]
    fn fused_gelu_backward(x: FloatTensor<Self>, dy: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// Cube devices are not routed here ([`gelu`] checks); burn's own ops.
impl GeluOps for CubeBackend {
    fn fused_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        <Self as ActivationOps<Self>>::gelu(x)
    }

    fn fused_gelu_backward(x: FloatTensor<Self>, dy: FloatTensor<Self>) -> FloatTensor<Self> {
        <Self as ActivationOps<Self>>::gelu_backward(x, dy)
    }
}

const A1: f32 = 0.254_829_6;
const A2: f32 = -0.284_496_74;
const A3: f32 = 1.421_413_7;
const A4: f32 = -1.453_152;
const A5: f32 = 1.061_405_4;
const P: f32 = 0.327_591_1;
const INV_SQRT_2PI: f32 = 0.398_942_3;

/// `(Φ(x), φ(x))` for every lane.
#[inline(always)]
fn cdf_pdf(x: [f32; LANES]) -> ([f32; LANES], [f32; LANES]) {
    let e = exp_lanes(x.map(|v| -0.5 * v * v)); // exp(-y²), y = x/√2
    let mut cdf = [0f32; LANES];
    let mut pdf = [0f32; LANES];
    for k in 0..LANES {
        let y = x[k].abs() * std::f32::consts::FRAC_1_SQRT_2;
        let t = 1.0 / (1.0 + P * y);
        let poly = t * (A1 + t * (A2 + t * (A3 + t * (A4 + t * A5))));
        let erf_abs = 1.0 - poly * e[k];
        let erf = if x[k] < 0.0 { -erf_abs } else { erf_abs };
        cdf[k] = 0.5 * (1.0 + erf);
        pdf[k] = INV_SQRT_2PI * e[k];
    }
    (cdf, pdf)
}

/// `out[i] = f(x[i], other[i])` over lanes, threaded.
fn host_map(
    x: &[f32],
    other: &[f32],
    f: impl Fn([f32; LANES], [f32; LANES]) -> [f32; LANES] + Sync,
) -> Vec<f32> {
    const BLOCK: usize = 16 * 1024;
    let mut out = vec![0f32; x.len()];
    par_blocks(&mut out, BLOCK, |first, piece| {
        let start = first * BLOCK;
        for (j, chunk) in piece.chunks_mut(LANES).enumerate() {
            let at = start + j * LANES;
            let lane = |v: &[f32]| -> [f32; LANES] {
                std::array::from_fn(|k| v.get(at + k).copied().unwrap_or(0.0))
            };
            let y = f(lane(x), lane(other));
            chunk.copy_from_slice(&y[..chunk.len()]);
        }
    });
    out
}

impl GeluOps for Flex {
    fn fused_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let shape = x.shape().to_vec();
        let [x] = host_vecs([x]);
        let y = host_map(&x, &[], |x, _| {
            let (cdf, _) = cdf_pdf(x);
            std::array::from_fn(|k| x[k] * cdf[k])
        });
        flex_tensor(y, shape)
    }

    fn fused_gelu_backward(x: FloatTensor<Self>, dy: FloatTensor<Self>) -> FloatTensor<Self> {
        let shape = x.shape().to_vec();
        let [x, dy] = host_vecs([x, dy]);
        let dx = host_map(&x, &dy, |x, g| {
            let (cdf, pdf) = cdf_pdf(x);
            std::array::from_fn(|k| g[k] * (cdf[k] + x[k] * pdf[k]))
        });
        flex_tensor(dx, shape)
    }
}

#[derive(Debug)]
struct GeluBackward;

impl<B: Backend + GeluOps> Backward<B, 1> for GeluBackward {
    /// The input x.
    type State = FloatTensor<B>;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [parent] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        if let Some(node) = parent {
            grads.register::<B>(node.id, B::fused_gelu_backward(ops.state, dy));
        }
    }
}

impl<B: Backend + GeluOps, C: CheckpointStrategy> GeluOps for Autodiff<B, C> {
    fn fused_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let guards = [x.node()];
        let x = x.into_primitive();
        match GeluBackward.prepare::<C>(guards).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::fused_gelu(x.clone());
                prep.finish(x, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_gelu(x)),
        }
    }

    fn fused_gelu_backward(x: FloatTensor<Self>, dy: FloatTensor<Self>) -> FloatTensor<Self> {
        let dx = B::fused_gelu_backward(x.into_primitive(), dy.into_primitive());
        <Self as AutodiffBackend>::from_inner(dx)
    }
}

/// GELU (erf form): the fused host op on Flex, `x·½(1 + erf(x/√2))` in
/// tensor ops elsewhere (exact gradient; see the module docs).
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !is_host(&x.device()) {
        let cdf = (x.clone() * std::f32::consts::FRAC_1_SQRT_2)
            .erf()
            .add_scalar(1.0)
            .mul_scalar(0.5);
        return x * cdf;
    }
    Tensor::from_dispatch(<Dispatch as GeluOps>::fused_gelu(x.into_dispatch()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Φ and φ against f64 references: erf by its Taylor series on [-4, 4]
    /// (no cancellation there in f64), and the tails beyond.
    #[test]
    fn cdf_matches_a_double_precision_reference() {
        let erf64 = |y: f64| -> f64 {
            let (mut term, mut sum, mut k) = (y, y, 0.0);
            while term.abs() > 1e-18 {
                k += 1.0;
                term *= -y * y / k;
                sum += term / (2.0 * k + 1.0);
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        };
        let mut worst = 0f64;
        let mut x = -4.0f32;
        while x <= 4.0 {
            let lanes: [f32; LANES] = std::array::from_fn(|k| x + k as f32 * 1e-3);
            let (cdf, pdf) = cdf_pdf(lanes);
            for k in 0..LANES {
                let v = lanes[k] as f64;
                let want = 0.5 * (1.0 + erf64(v / std::f64::consts::SQRT_2));
                worst = worst.max((cdf[k] as f64 - want).abs());
                let want_pdf = (-0.5 * v * v).exp() / (2.0 * std::f64::consts::PI).sqrt();
                assert!((pdf[k] as f64 - want_pdf).abs() < 1e-7, "pdf at {v}");
            }
            x += 0.0371;
        }
        assert!(worst < 3e-7, "worst |Φ error| {worst}");
        // Tails: Φ(±x) within Φ(-5) ≈ 2.9e-7 of 1 / 0, φ(5) ≈ 1.5e-6 → 0.
        let (cdf, pdf) = cdf_pdf([5.0, 6.0, 9.0, 40.0, -5.0, -6.0, -9.0, -40.0]);
        for k in 0..4 {
            assert!((1.0 - cdf[k]).abs() < 1e-6 && cdf[k + 4].abs() < 1e-6);
            assert!(pdf[k] < 2e-6 && pdf[k] == pdf[k + 4]);
        }
    }
}
