//! The fused model ops (handwritten backward) against the same math
//! composed from burn tensor ops and differentiated by burn's autodiff:
//! values and every input gradient, on Flex (host loops) and on wgpu
//! (CubeCL kernels; lavapipe in CI).

mod common;

use burn::nn::{LayerNorm, LayerNormConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::silu;
use roimae::model::fused::conv::causal_conv_silu;
use roimae::model::fused::norm::{fused_layer_norm, fused_layer_norm_into_windows};
use roimae::model::layout::{partition, partition_shifted};

use common::values;

fn max_rel_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = a.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
}

/// `silu(b + Σ_j w_j · x[t-K+1+j])` over the first Di channels, zero-padded
/// in front, from tensor ops.
fn composed_conv(xz: Tensor<3>, weight: Tensor<2>, bias: Tensor<1>) -> Tensor<3> {
    let [w, l, _] = xz.dims();
    let [di, k] = weight.dims();
    let u = xz.narrow(2, 0, di);
    let padded = Tensor::cat(vec![Tensor::zeros([w, k - 1, di], &u.device()), u], 1);
    let mut out = bias.reshape([1, 1, di]);
    for j in 0..k {
        let tap = weight.clone().narrow(1, j, 1).reshape([1, 1, di]);
        out = out + padded.clone().narrow(1, j, l) * tap;
    }
    silu(out)
}

/// Output and the gradients of `Σ out · r` (fixed pseudo-random r).
fn run(
    f: impl Fn(Tensor<3>, Tensor<2>, Tensor<1>) -> Tensor<3>,
    inputs: &(Tensor<3>, Tensor<2>, Tensor<1>),
) -> Vec<Vec<f32>> {
    let (xz, w, b) = inputs.clone();
    let out = f(xz, w, b);
    let n: usize = out.dims().iter().product();
    let r: Vec<f32> = (0..n)
        .map(|i| ((i as f32 * 0.618_034).fract() - 0.5) * 2.0)
        .collect();
    let r = Tensor::<3>::from_data(TensorData::new(r, out.dims()), &out.device());
    let grads = (out.clone() * r).sum().backward();
    vec![
        values(out),
        values(inputs.0.grad(&grads).unwrap()),
        values(inputs.1.grad(&grads).unwrap()),
        values(inputs.2.grad(&grads).unwrap()),
    ]
}

fn assert_conv_matches(device: &Device) {
    // (windows, L, input width C, Di, K): Mamba's shape (C = 2·Di, K = 4),
    // sequences shorter than the kernel, K = 1, and a full-width input.
    for (w, l, c, di, k) in [
        (3, 64, 16, 8, 4),
        (2, 3, 10, 5, 4),
        (1, 9, 6, 6, 1),
        (2, 17, 8, 4, 3),
    ] {
        device.seed(11);
        let inputs = (
            Tensor::<3>::random([w, l, c], Distribution::Normal(0.0, 1.0), device).require_grad(),
            Tensor::<2>::random([di, k], Distribution::Normal(0.0, 0.5), device).require_grad(),
            Tensor::<1>::random([di], Distribution::Normal(0.0, 0.5), device).require_grad(),
        );
        let want = run(composed_conv, &inputs);
        let got = run(causal_conv_silu, &inputs);
        for (name, (a, b)) in ["out", "dxz", "dweight", "dbias"]
            .iter()
            .zip(want.iter().zip(&got))
        {
            let d = max_rel_diff(a, b);
            assert!(d < 1e-5, "{name} differs by {d} at {:?}", (w, l, c, di, k));
        }
        // The gate half of xz gets exactly no gradient from the conv.
        let dxz = &got[1];
        for row in 0..w * l {
            assert!(dxz[row * c + di..(row + 1) * c].iter().all(|&g| g == 0.0));
        }
    }
}

#[test]
fn fused_conv_matches_composed_ops_on_flex() {
    assert_conv_matches(&Device::flex().autodiff());
}

#[test]
fn fused_conv_matches_composed_ops_on_wgpu() {
    assert_conv_matches(&Device::wgpu(DeviceKind::DefaultDevice).autodiff());
}

/// A LayerNorm of width `c` with trained-looking γ ~ N(1, 0.3), β ~ N(0, 0.3).
fn trained_norm(c: usize, device: &Device) -> LayerNorm {
    let mut norm = LayerNormConfig::new(c).with_epsilon(1e-5).init(device);
    norm.gamma = burn::module::Param::from_tensor(
        Tensor::random([c], Distribution::Normal(1.0, 0.3), device).require_grad(),
    );
    norm.beta = Some(burn::module::Param::from_tensor(
        Tensor::random([c], Distribution::Normal(0.0, 0.3), device).require_grad(),
    ));
    norm
}

/// Fixed pseudo-random weights in [-1, 1) for the loss `Σ y · r`.
fn fixed_weights(n: usize, device: &Device) -> Tensor<1> {
    let r: Vec<f32> = (0..n)
        .map(|i| ((i as f32 * 0.618_034).fract() - 0.5) * 2.0)
        .collect();
    Tensor::<1>::from_data(TensorData::new(r, [n]), device)
}

/// `[y, dx, dγ, dβ]` of `Σ y · r`, `y` flattened.
fn norm_outputs<const D: usize>(
    y: Tensor<1>,
    r: &Tensor<1>,
    x: &Tensor<D>,
    norm: &LayerNorm,
) -> Vec<Vec<f32>> {
    let grads = (y.clone() * r.clone()).sum().backward();
    vec![
        values(y),
        values(x.grad(&grads).unwrap()),
        values(norm.gamma.val().grad(&grads).unwrap()),
        values(norm.beta.as_ref().unwrap().val().grad(&grads).unwrap()),
    ]
}

/// `y`, dx, dγ, dβ of the reference and the fused op agree to 2e-5
/// relative.
fn assert_norm_outputs_agree(want: &[Vec<f32>], got: &[Vec<f32>], at: &str) {
    for (name, (a, b)) in ["y", "dx", "dgamma", "dbeta"]
        .iter()
        .zip(want.iter().zip(got))
    {
        let d = max_rel_diff(a, b);
        assert!(d < 2e-5, "{name} differs by {d} at {at}");
    }
}

/// The fused LayerNorm against burn's own `LayerNorm` module (composed ops,
/// autodiff) with trained-looking γ, β: values and dx, dγ, dβ; rows of
/// width 1 (x̂ = 0), a 6-D input like the blocks', and large offsets.
fn assert_norm_matches(device: &Device) {
    for (shape, offset) in [
        (vec![7usize, 36], 0.0f32),
        (vec![2, 2, 2, 2, 3, 12], 0.0),
        (vec![5, 1], 0.0),
        (vec![4, 20], 50.0),
    ] {
        device.seed(5);
        let c = *shape.last().unwrap();
        let norm = trained_norm(c, device);
        let n: usize = shape.iter().product();
        let x = Tensor::<1>::random([n], Distribution::Normal(0.0, 2.0), device).add_scalar(offset);
        let r = fixed_weights(n, device);
        let run = |fused: bool| {
            let x = x.clone().require_grad();
            let y: Tensor<1> = match shape.len() {
                2 => {
                    let x2: Tensor<2> = x.clone().reshape([shape[0], shape[1]]);
                    let y = if fused {
                        fused_layer_norm(
                            x2,
                            norm.gamma.val(),
                            norm.beta.as_ref().unwrap().val(),
                            1e-5,
                        )
                    } else {
                        norm.forward(x2)
                    };
                    y.reshape([n])
                }
                _ => {
                    let dims: [usize; 6] = shape.clone().try_into().unwrap();
                    let x6: Tensor<6> = x.clone().reshape(dims);
                    let y = if fused {
                        fused_layer_norm(
                            x6,
                            norm.gamma.val(),
                            norm.beta.as_ref().unwrap().val(),
                            1e-5,
                        )
                    } else {
                        norm.forward(x6)
                    };
                    y.reshape([n])
                }
            };
            norm_outputs(y, &r, &x, &norm)
        };
        assert_norm_outputs_agree(&run(false), &run(true), &format!("{shape:?} + {offset}"));
    }
}

#[test]
fn fused_layer_norm_matches_burn_layer_norm_on_flex() {
    assert_norm_matches(&Device::flex().autodiff());
}

#[test]
fn fused_layer_norm_matches_burn_layer_norm_on_wgpu() {
    assert_norm_matches(&Device::wgpu(DeviceKind::DefaultDevice).autodiff());
}

/// The LayerNorm writing straight into (shifted) window order against
/// burn's LayerNorm followed by the window partition (a permute) or the
/// shifted partition (a row gather): values in window order and dx (back in
/// grid order), dγ, dβ, with a batch of 2 and shifts on every axis.
fn assert_norm_into_windows_matches(device: &Device) {
    let (dims, c) = ([2usize, 4, 4, 2, 6], 5usize);
    let window = [2, 2, 2, 3];
    for shift in [[0; 4], [1, 1, 1, 1], [0, 1, 0, 2]] {
        device.seed(9);
        let norm = trained_norm(c, device);
        let shape = [dims[0], dims[1], dims[2], dims[3], dims[4], c];
        let x = Tensor::<6>::random(shape, Distribution::Normal(0.5, 2.0), device);
        let n = shape.iter().product::<usize>();
        let r = fixed_weights(n, device);
        let run = |fused: bool| {
            let x = x.clone().require_grad();
            let y: Tensor<3> = if fused {
                fused_layer_norm_into_windows(
                    x.clone(),
                    norm.gamma.val(),
                    norm.beta.as_ref().unwrap().val(),
                    1e-5,
                    window,
                    shift,
                )
            } else if shift == [0; 4] {
                partition(norm.forward(x.clone()), window)
            } else {
                partition_shifted(norm.forward(x.clone()), window, shift)
            };
            assert_eq!(y.dims(), [2 * 2 * 2 * 1 * 2, 24, c]);
            norm_outputs(y.reshape([n]), &r, &x, &norm)
        };
        assert_norm_outputs_agree(&run(false), &run(true), &format!("shift {shift:?}"));
    }
}

#[test]
fn layer_norm_into_windows_matches_norm_then_partition_on_flex() {
    assert_norm_into_windows_matches(&Device::flex().autodiff());
}

#[test]
fn layer_norm_into_windows_matches_norm_then_partition_on_wgpu() {
    assert_norm_into_windows_matches(&Device::wgpu(DeviceKind::DefaultDevice).autodiff());
}

/// The host GELU op (Flex) against burn's GELU under autodiff — both the
/// erf form `x·Φ(x)`: values and the input gradient over a wide range
/// (|x| up to ~12, a length that is not a multiple of the lane width).
#[test]
fn fused_gelu_matches_burn_gelu_on_flex() {
    let device = Device::flex().autodiff();
    device.seed(5);
    let x =
        Tensor::<3>::random([3, 37, 41], Distribution::Normal(0.0, 3.0), &device).require_grad();
    let r = Tensor::<3>::random([3, 37, 41], Distribution::Normal(0.0, 1.0), &device);
    let eval = |f: &dyn Fn(Tensor<3>) -> Tensor<3>| {
        let out = f(x.clone());
        let grads = (out.clone() * r.clone()).sum().backward();
        (values(out), values(x.grad(&grads).unwrap()))
    };
    let (y_ref, g_ref) = eval(&|t| burn::tensor::activation::gelu(t));
    let (y, g) = eval(&|t| roimae::model::fused::gelu::gelu(t));
    let d = max_rel_diff(&y_ref, &y);
    assert!(d < 1e-6, "values differ by {d}");
    let d = max_rel_diff(&g_ref, &g);
    assert!(d < 1e-5, "gradients differ by {d}");
}

/// On wgpu the model's GELU has the exact gradient `Φ(x) + x·φ(x)` that
/// PyTorch's `nn.GELU()` uses (burn's Cube `gelu_backward` is the tanh
/// approximation's derivative, off by up to ~1e-3): checked against an f64
/// reference on a grid over [-6, 6], and the values against `x·Φ(x)`.
#[test]
fn gelu_gradient_is_exact_on_wgpu() {
    let device = Device::wgpu(DeviceKind::DefaultDevice).autodiff();
    let grid: Vec<f32> = (0..1201).map(|i| -6.0 + i as f32 * 0.01).collect();
    let x =
        Tensor::<1>::from_data(TensorData::new(grid.clone(), [grid.len()]), &device).require_grad();
    let y = roimae::model::fused::gelu::gelu(x.clone());
    let grads = y.clone().sum().backward();
    let (y, g) = (values(y), values(x.grad(&grads).unwrap()));
    // erf by its Taylor series (f64, |y| ≤ 4.3 here: no cancellation).
    let erf64 = |v: f64| -> f64 {
        let (mut term, mut sum, mut k) = (v, v, 0.0);
        while term.abs() > 1e-18 {
            k += 1.0;
            term *= -v * v / k;
            sum += term / (2.0 * k + 1.0);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    };
    let (mut worst_y, mut worst_g) = (0f64, 0f64);
    for (i, &xf) in grid.iter().enumerate() {
        let v = xf as f64;
        let cdf = 0.5 * (1.0 + erf64(v / std::f64::consts::SQRT_2));
        let pdf = (-0.5 * v * v).exp() / (2.0 * std::f64::consts::PI).sqrt();
        worst_y = worst_y.max((y[i] as f64 - v * cdf).abs());
        worst_g = worst_g.max((g[i] as f64 - (cdf + v * pdf)).abs());
    }
    assert!(worst_y < 2e-6, "worst GELU value error {worst_y}");
    assert!(worst_g < 2e-5, "worst GELU gradient error {worst_g}");
}
