//! The selective scan implementations against each other (values and
//! gradients of every input, long sequences of 256, odd lengths, several
//! chunk sizes) and against a closed-form case.

mod common;

use burn::prelude::*;
use burn::tensor::Distribution;
use roimae::model::scan::{
    MambaScanInput, ScanImpl, ScanInput, chunked, kernel, mamba_scan, mamba_scan_within,
    selective_scan, sequential,
};

use common::values;

fn max_rel_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = a.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
}

/// Random inputs with Mamba-like ranges: Δ in (0.001, 0.5], A in [-16, -1].
fn random_input(w: usize, l: usize, di: usize, n: usize, device: &Device) -> ScanInput {
    device.seed(7);
    ScanInput {
        u: Tensor::random([w, l, di], Distribution::Normal(0.0, 1.0), device).require_grad(),
        delta: Tensor::random([w, l, di], Distribution::Uniform(0.001, 0.5), device).require_grad(),
        a: Tensor::random([di, n], Distribution::Uniform(-16.0, -1.0), device).require_grad(),
        b: Tensor::random([w, l, n], Distribution::Normal(0.0, 1.0), device).require_grad(),
        c: Tensor::random([w, l, n], Distribution::Normal(0.0, 1.0), device).require_grad(),
        d: Tensor::random([di], Distribution::Normal(0.0, 1.0), device).require_grad(),
    }
}

/// A fixed pseudo-random weighting r of `y`'s shape, identical for every
/// implementation: the tests compare gradients of (y · r).
fn weighting(y: &Tensor<3>) -> Tensor<3> {
    let n: usize = y.dims().iter().product();
    let r: Vec<f32> = (0..n)
        .map(|i| ((i as f32 * 0.618_034).fract() - 0.5) * 2.0)
        .collect();
    Tensor::<3>::from_data(TensorData::new(r, y.dims()), &y.device())
}

/// Output and the gradients of (y · r) for a fixed random r, for all six inputs.
fn run(input: &ScanInput, f: impl Fn(ScanInput) -> Tensor<3>) -> (Vec<f32>, Vec<Vec<f32>>) {
    let y = f(input.clone());
    let grads = (y.clone() * weighting(&y)).sum().backward();
    let g = vec![
        values(input.u.grad(&grads).unwrap()),
        values(input.delta.grad(&grads).unwrap()),
        values(input.a.grad(&grads).unwrap()),
        values(input.b.grad(&grads).unwrap()),
        values(input.c.grad(&grads).unwrap()),
        values(input.d.grad(&grads).unwrap()),
    ];
    (values(y), g)
}

#[test]
fn chunked_matches_sequential_in_values_and_gradients() {
    let device = Device::flex().autodiff();
    for (l, chunk) in [(256, 16), (256, 1), (37, 8), (32, 64)] {
        assert_matches_sequential(&device, &[(3, l)], |i| chunked::scan(i, chunk));
    }
}

#[test]
fn dispatcher_runs_each_implementation() {
    let device = Device::flex();
    let input = random_input(2, 20, 4, 16, &device.clone().autodiff());
    let plain = ScanInput {
        u: input.u.inner(),
        delta: input.delta.inner(),
        a: input.a.inner(),
        b: input.b.inner(),
        c: input.c.inner(),
        d: input.d.inner(),
    };
    let a = values(selective_scan(plain.clone(), ScanImpl::Sequential));
    let b = values(selective_scan(plain, ScanImpl::Chunked));
    assert!(max_rel_diff(&a, &b) < 1e-5);
}

#[test]
fn closed_form_geometric_accumulation() {
    // N = 1, A = -1, Δ = ln 2 (decay ½), B = C = u = 1, D = 0.5:
    // h_t = ½ h_{t-1} + ln 2 → h_t = 2 ln 2 (1 - 2^-(t+1)); y_t = h_t + 0.5.
    let device = Device::flex();
    let l = 40;
    let ln2 = std::f32::consts::LN_2;
    let input = ScanInput {
        u: Tensor::ones([1, l, 1], &device),
        delta: Tensor::full([1, l, 1], ln2, &device),
        a: Tensor::full([1, 1], -1.0, &device),
        b: Tensor::ones([1, l, 1], &device),
        c: Tensor::ones([1, l, 1], &device),
        d: Tensor::full([1], 0.5, &device),
    };
    for which in [ScanImpl::Sequential, ScanImpl::Chunked] {
        let y = values(selective_scan(input.clone(), which));
        for (t, v) in y.iter().enumerate() {
            let want = 2.0 * ln2 * (1.0 - 0.5f32.powi(t as i32 + 1)) + 0.5;
            assert!((v - want).abs() < 1e-5, "{which:?} t={t}: {v} vs {want}");
        }
    }
}

/// `scan` against the sequential reference on `device` for each (W, L):
/// values to 1e-5 and all six gradients to 1e-4 of their scale.
fn assert_matches_sequential(
    device: &Device,
    cases: &[(usize, usize)],
    scan: impl Fn(ScanInput) -> Tensor<3>,
) {
    for &(w, l) in cases {
        let input = random_input(w, l, 8, 16, device);
        let (y_ref, g_ref) = run(&input, sequential::scan);
        let (y, g) = run(&input, &scan);
        let d = max_rel_diff(&y_ref, &y);
        assert!(d < 1e-5, "values differ by {d} (L={l})");
        for (name, (a, b)) in ["u", "delta", "A", "B", "C", "D"]
            .iter()
            .zip(g_ref.iter().zip(&g))
        {
            let d = max_rel_diff(a, b);
            assert!(d < 1e-4, "d{name} differs by {d} (L={l})");
        }
    }
}

/// The fused CubeCL kernel on wgpu (lavapipe in CI), L = 256 and an odd length.
#[test]
fn fused_kernel_matches_sequential_on_wgpu() {
    let device = Device::wgpu(DeviceKind::DefaultDevice).autodiff();
    assert!(kernel::supported(&device), "wgpu must run the fused scan");
    assert_eq!(ScanImpl::Auto.resolve(&device), ScanImpl::Fused);
    assert_matches_sequential(&device, &[(3, 256), (2, 37)], kernel::fused_scan);
}

/// The time-parallel CubeCL kernels on wgpu: a full cube of 32 units × 8
/// steps (L = 256), a ragged last unit (37, 600) and fewer units than 32 (5).
#[test]
fn parallel_kernel_matches_sequential_on_wgpu() {
    let device = Device::wgpu(DeviceKind::DefaultDevice).autodiff();
    assert_eq!(ScanImpl::Parallel.resolve(&device), ScanImpl::Parallel);
    assert_matches_sequential(
        &device,
        &[(3, 256), (2, 37), (2, 5), (1, 600)],
        kernel::parallel_scan,
    );
    // Through the dispatcher as well (the path the model takes).
    assert_matches_sequential(&device, &[(2, 64)], |i| {
        selective_scan(i, ScanImpl::Parallel)
    });
}

/// The fused scan's CPU form (host loops on Flex, handwritten backward).
#[test]
fn fused_host_scan_matches_sequential_on_flex() {
    let device = Device::flex().autodiff();
    assert!(kernel::supported(&device));
    assert_eq!(ScanImpl::Auto.resolve(&device), ScanImpl::Fused);
    assert_matches_sequential(&device, &[(3, 256), (5, 37)], kernel::fused_scan);
}

/// Random Mamba-form inputs: x_dbl with R = 3 dt columns before B and C,
/// dt_proj's weight and a bias around softplus⁻¹(0.05) (Δ ≈ 0.01–0.3, as
/// Mamba initialises it), A_log for A in [-16, -1], xz with x before z.
fn random_mamba_input(w: usize, l: usize, di: usize, n: usize, device: &Device) -> MambaScanInput {
    device.seed(11);
    let normal = Distribution::Normal(0.0, 1.0);
    MambaScanInput {
        u: Tensor::random([w, l, di], normal, device).require_grad(),
        x_dbl: Tensor::random([w, l, 3 + 2 * n], normal, device).require_grad(),
        dt_weight: Tensor::random([3, di], Distribution::Normal(0.0, 0.4), device).require_grad(),
        dt_bias: Tensor::random([di], Distribution::Normal(-3.0, 0.5), device).require_grad(),
        a_log: Tensor::random([di, n], Distribution::Uniform(0.0, 2.77), device).require_grad(),
        d: Tensor::random([di], normal, device).require_grad(),
        xz: Tensor::random([w, l, 2 * di], normal, device).require_grad(),
    }
}

const MAMBA_INPUTS: [&str; 7] = ["u", "x_dbl", "dt_weight", "dt_bias", "A_log", "D", "xz"];

/// Output and the gradients of (out · r) for all seven Mamba-form inputs.
fn run_mamba(
    input: &MambaScanInput,
    which: ScanImpl,
    max_bytes: Option<usize>,
) -> (Vec<f32>, Vec<Vec<f32>>) {
    let y = match max_bytes {
        Some(bytes) => mamba_scan_within(input.clone(), which, bytes),
        None => mamba_scan(input.clone(), which),
    };
    let grads = (y.clone() * weighting(&y)).sum().backward();
    let g = vec![
        values(input.u.grad(&grads).unwrap()),
        values(input.x_dbl.grad(&grads).unwrap()),
        values(input.dt_weight.grad(&grads).unwrap()),
        values(input.dt_bias.grad(&grads).unwrap()),
        values(input.a_log.grad(&grads).unwrap()),
        values(input.d.grad(&grads).unwrap()),
        values(input.xz.grad(&grads).unwrap()),
    ];
    (values(y), g)
}

/// The Mamba form in one fused op (dt_proj, softplus, A = -exp(A_log),
/// B/C/z read in place, gate) against the composed ops around the
/// sequential reference: values to 1e-5, all seven gradients to 1e-4 (zero
/// in xz's x half, as the composed ops give). `max_bytes` caps the
/// backward partials of one launch (None: the device's budget).
fn assert_mamba_form_matches(device: &Device, cases: &[(usize, usize)], max_bytes: Option<usize>) {
    for &(w, l) in cases {
        let input = random_mamba_input(w, l, 10, 16, device);
        let (y_ref, g_ref) = run_mamba(&input, ScanImpl::Sequential, None);
        let (y, g) = run_mamba(&input, ScanImpl::Fused, max_bytes);
        let d = max_rel_diff(&y_ref, &y);
        assert!(d < 1e-5, "values differ by {d} (W={w}, L={l})");
        for (name, (a, b)) in MAMBA_INPUTS.iter().zip(g_ref.iter().zip(&g)) {
            let d = max_rel_diff(a, b);
            assert!(d < 1e-4, "d{name} differs by {d} (W={w}, L={l})");
        }
        // dt's columns of x_dbl get a gradient through dt_proj.
        assert!(
            g[1].chunks(3 + 32)
                .any(|row| row[..3].iter().any(|v| *v != 0.0))
        );
        // x's half of xz gets nothing from the scan.
        assert!(
            g[6].chunks(20)
                .all(|row| row[..10].iter().all(|v| *v == 0.0))
        );
    }
}

#[test]
fn mamba_form_fused_matches_composed_ops_on_flex() {
    let device = Device::flex().autodiff();
    assert_mamba_form_matches(&device, &[(3, 256), (5, 37), (1, 1)], None);
}

#[test]
fn mamba_form_fused_matches_composed_ops_on_wgpu() {
    let device = Device::wgpu(DeviceKind::DefaultDevice).autodiff();
    assert_mamba_form_matches(&device, &[(3, 256), (2, 37)], None);
}

/// The CubeCL backward walks W in groups when its partials (`[w, L, Di,
/// 2N + R]` f32) exceed the budget: 7 windows at a budget of 3 give backward
/// launches over 3, 3 and 1 windows inside the one op, writing du, dx_dbl
/// and dxz in place, and the same values and gradients. The device budget
/// itself is the adapter's binding limit (WebGPU guarantees at least
/// 128 MiB), capped at 1 GiB.
#[test]
fn mamba_form_split_along_windows_matches_on_wgpu() {
    let device = Device::wgpu(DeviceKind::DefaultDevice).autodiff();
    let budget = kernel::partial_budget(&device);
    assert!(
        (128 << 20..=kernel::MAX_PARTIAL_BYTES).contains(&budget),
        "budget {budget}"
    );
    let per_window = 64 * 10 * (2 * 16 + 3) * 4;
    assert_mamba_form_matches(&device, &[(7, 64)], Some(3 * per_window));
}

#[test]
fn scan_names_parse_and_round_trip() {
    for which in [
        ScanImpl::Sequential,
        ScanImpl::Chunked,
        ScanImpl::Fused,
        ScanImpl::Parallel,
        ScanImpl::Auto,
    ] {
        assert_eq!(ScanImpl::parse(which.name()), Ok(which));
    }
    assert!(
        ScanImpl::parse("magic")
            .unwrap_err()
            .to_string()
            .contains("choose auto, fused, parallel, chunked or sequential")
    );
}
