//! The selective scan as one fused CubeCL kernel (forward) and one fused
//! kernel (backward), for burn's Cube backend (wgpu here; any cubecl runtime
//! works), exposed as a burn backend extension so that it also runs under
//! Fusion and Autodiff.
//!
//! - Forward: one thread per (window w, channel c) walks t = 0..L keeping
//!   `h[N]` in registers: `h = exp(Δ·A) ⊙ h + Δ·B·u`, `y = C·h + D·u`.
//! - Backward: the same thread first recomputes the states forward (storing
//!   `h_t` in the `db_part` buffer as scratch and writing `dC` partials), then
//!   walks back accumulating `dh`, overwriting `db_part[t]` with the `dB`
//!   partial once `h_t` is no longer needed. Per-channel partials of dA, dB,
//!   dC, dD are reduced with tensor ops (`sum_dim`) after the kernel.
//!
//! On burn Flex (CPU) the same algorithm runs as host loops ([`super::host`]).
//! Other backends are not covered: check [`supported`] first and fall back
//! to the chunked tensor-op scan.
//!
//! APIs relied on (paths under ~/.cargo/registry/src/index.crates.io-*/):
//! - `#[backend_extension]`, selectors `Cube`/`Fusion`/`Autodiff`, `#[fusion(dtype, shape)]`,
//!   `#[fusion(meta = closure)]` with tuple outputs: burn-backend-extension-0.22.1/src/lib.rs:64-190,
//!   src/fusion.rs:52-54 (generated `impl<B: FusionBackend + Trait> Trait for Fusion<B>`),
//!   src/fusion.rs:257-285 (closure args typed `&TensorSpec`), burn-core-0.22.1/tests/backend_extension_fusion.rs:96-99.
//! - `Cube` = `Fusion<CubeBackend>` with `fusion`: burn-cubecl-0.22.1/src/lib.rs:76-83; routing uses
//!   `burn::backend::{Cube, Autodiff<Cube, Balanced|NoCheckpointing>}`: burn-backend-extension-0.22.1/src/routing.rs:81-90,166-190.
//! - Autodiff impl template: burn-signal-0.22.1/src/backends/autodiff.rs:1-145;
//!   `Backward` (State: Clone+Send+Debug): burn-autodiff-0.22.1/src/ops/backward.rs:17-31;
//!   `Ops { parents, node, state }`: burn-autodiff-0.22.1/src/ops/base.rs:294-301;
//!   `finish`: ops/base.rs:223,254; `Gradients::{consume, register}`: grads.rs:96,131;
//!   `AutodiffTensor::{node, into_primitive}`: tensor.rs:31,49; `AutodiffBackend::from_inner`: backend.rs:156.
//! - `burn::backend::*` facade: burn-core-0.22.1/src/backend.rs:1-20; `burn::backend::autodiff`:
//!   burn-dispatch-0.22.1/src/lib.rs:91-94; `DispatchDevice::Cube(CubeDevice)`: burn-dispatch-0.22.1/src/device.rs:40-47.
//! - `Tensor::{into_dispatch, from_dispatch}`: burn-tensor-0.22.1/src/tensor/api/extension.rs:54,67;
//!   `Device::{without_autodiff, as_dispatch}`: burn-tensor-0.22.1/src/device.rs:175,574.
//! - `CubeTensor { client, device, dtype, .. }`, `into_tensor_arg`: burn-cubecl-0.22.1/src/tensor/base.rs:20-33,250;
//!   `into_contiguous`: burn-cubecl-0.22.1/src/kernel/contiguous.rs:36;
//!   `empty_device_contiguous_dtype`: burn-cubecl-0.22.1/src/ops/numeric.rs:176.
//! - Kernel + launch pattern (`#[define(E)] _dtype: ElemType`, `dtype_to_storage_type`,
//!   `CubeDim::new`, `calculate_cube_count_elemwise`): burn-cubecl-0.22.1/src/kernel/cross.rs:13-117,
//!   burn-cubecl-0.22.1/src/kernel/ctc.rs:142-350 (`#[cube(launch)]`, `terminate!`, `F::new(..f32)`, `.exp()`);
//!   `dtype_to_storage_type`: burn-backend-0.22.1/src/cubecl.rs:119 (re-exported as `burn::backend::cubecl`).
//! - `Array::<T>::new(comptime len)` + `#[unroll]`: cubecl-core-0.11.3/src/runtime_tests/index.rs:10-40,
//!   cubecl-std-0.11.3/src/tensor/contiguous/base.rs:94-116; `ABSOLUTE_POS: usize`:
//!   cubecl-core-0.11.3/src/frontend/topology.rs:270; `#[cube]` emits relative `cubecl::` paths:
//!   cubecl-macros-0.11.3/src/paths.rs:6 (hence `use burn_cubecl::cubecl;` below).
//! - `cubecl::Device::client`, `HardwareProperties::max_bindings`: cubecl-0.11.3/src/device.rs:331,
//!   cubecl-ir-0.11.3/src/properties.rs:41 (wgpu already subtracts one: cubecl-wgpu-0.11.3/src/runtime.rs:668-675).

#![allow(clippy::type_complexity)] // the six-gradient tuples

use super::host;
use super::{MambaScanInput, ScanInput};
use burn::backend::autodiff::{
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::{
    Autodiff, AutodiffBackend, Backend, Dispatch, DispatchDevice, Flex, TensorMetadata,
    backend_extension, ops::FloatTensorOps, tensor::FloatTensor,
};
use burn::tensor::{Device, Shape, Tensor};
use burn::tensor::{Slice, TensorData};
use burn_cubecl::CubeBackend;
use burn_cubecl::tensor::CubeTensor;

/// Largest state size N the kernels accept (N is a compile-time constant of
/// each kernel; every distinct N compiles its own kernel).
pub const MAX_STATE: usize = 64;

/// Storage buffers the largest backward kernel binds (the time-parallel
/// one: 7 inputs + 6 outputs; the sequential one binds 12).
const BACKWARD_BINDINGS: u32 = 13;

/// The fused selective scan as a backend extension.
///
/// Shapes: `u, delta [W, L, Di]`, `a [Di, N]`, `b, c [W, L, N]`, `d [Di]`,
/// `y, dy [W, L, Di]`. All inputs share one float dtype.
#[backend_extension(Cube, Flex, Fusion, Autodiff)]
pub trait SelectiveScanOps: Backend {
    /// `y [W, L, Di]`.
    #[fusion(dtype = u, shape = u)]
    fn selective_scan(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        c: FloatTensor<Self>,
        d: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// Gradients `(du, ddelta, da, db, dc, dd)` of `Σ dy ⊙ y`, each shaped
    /// like its input. Not itself differentiable.
    #[fusion(meta = |u, delta, a, b, c, d, _dy| (
        u.clone(), delta.clone(), a.clone(), b.clone(), c.clone(), d.clone()
    ))]
    fn selective_scan_backward(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        c: FloatTensor<Self>,
        d: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );

    /// The Mamba form (mamba-ssm's `selective_scan_fn` with
    /// `delta_softplus = True` and `z`): `out [W, L, Di] = y · SiLU(z)` with
    /// Δ = softplus(`delta`), B, C read in place from `x_dbl [W, L, R + 2N]`
    /// (columns R.., R+N..) and z from `xz [W, L, 2·Di]` (columns Di..).
    #[fusion(dtype = u, shape = u)]
    fn selective_scan_gated(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        x_dbl: FloatTensor<Self>,
        d: FloatTensor<Self>,
        xz: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// Gradients `(du, ddelta, da, dx_dbl, dd, dxz)` of `Σ dy ⊙ out`, each
    /// shaped like its input; `dx_dbl` and `dxz` are zero outside the B, C
    /// and z columns. Not itself differentiable.
    #[fusion(meta = |u, delta, a, x_dbl, d, xz, _dy| (
        u.clone(), delta.clone(), a.clone(), x_dbl.clone(), d.clone(), xz.clone()
    ))]
    fn selective_scan_gated_backward(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        x_dbl: FloatTensor<Self>,
        d: FloatTensor<Self>,
        xz: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );

    /// [`Self::selective_scan`] by the time-parallel kernels
    /// ([`super::parallel`]); the host loops on Flex.
    #[fusion(dtype = u, shape = u)]
    fn selective_scan_parallel(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        c: FloatTensor<Self>,
        d: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// [`Self::selective_scan_backward`] by the time-parallel kernels.
    #[fusion(meta = |u, delta, a, b, c, d, _dy| (
        u.clone(), delta.clone(), a.clone(), b.clone(), c.clone(), d.clone()
    ))]
    fn selective_scan_parallel_backward(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        c: FloatTensor<Self>,
        d: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );
}

// ---------------------------------------------------------------------------
// Cube backend: the kernels.
// ---------------------------------------------------------------------------

impl SelectiveScanOps for CubeBackend {
    fn selective_scan(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        c: FloatTensor<Self>,
        d: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let bc = Self::float_cat(vec![b, c], 2);
        kernels::forward(u, delta, a, bc, d, None)
    }

    fn selective_scan_backward(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        c: FloatTensor<Self>,
        d: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let n = a.shape()[1];
        let bc = Self::float_cat(vec![b, c], 2);
        let g = kernels::backward(u, delta, a, bc, d, None, dy);
        let [w, l, _] = g.du.shape().dims::<3>();
        let cols = |from: usize| {
            [
                Slice::new(0, Some(w as isize), 1),
                Slice::new(0, Some(l as isize), 1),
                Slice::new(from as isize, Some((from + n) as isize), 1),
            ]
        };
        let db = Self::float_slice(g.dbc.clone(), &cols(0));
        let dc = Self::float_slice(g.dbc, &cols(n));
        (g.du, g.ddelta, g.da, db, dc, g.dd)
    }

    fn selective_scan_gated(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        x_dbl: FloatTensor<Self>,
        d: FloatTensor<Self>,
        xz: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        kernels::forward(u, delta, a, x_dbl, d, Some(xz))
    }

    fn selective_scan_gated_backward(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        x_dbl: FloatTensor<Self>,
        d: FloatTensor<Self>,
        xz: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let g = kernels::backward(u, delta, a, x_dbl, d, Some(xz), dy);
        let dxz = g.dz.expect("gated backward writes dz");
        (g.du, g.ddelta, g.da, g.dbc, g.dd, dxz)
    }

    fn selective_scan_parallel(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        c: FloatTensor<Self>,
        d: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        super::parallel::forward(u, delta, a, b, c, d)
    }

    fn selective_scan_parallel_backward(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        c: FloatTensor<Self>,
        d: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let dims = scan_dims(&u, &a);
        super::parallel::backward(u, delta, a, b, c, d, dy).reduce(dims)
    }
}

/// `[W, L, Di, N]` from `u [W, L, Di]` and `a [Di, N]`.
fn scan_dims(u: &CubeTensor, a: &CubeTensor) -> [usize; 4] {
    let [w, l, di] = u.shape().dims::<3>();
    [w, l, di, a.shape()[1]]
}

// ---------------------------------------------------------------------------
// Flex (CPU): host loops.
// ---------------------------------------------------------------------------

/// Host copies (f32, contiguous) of Flex tensors.
pub(crate) fn host_vecs<const K: usize>(tensors: [FloatTensor<Flex>; K]) -> [Vec<f32>; K] {
    tensors.map(|t| {
        t.into_data()
            .try_into_vec_as::<f32>()
            .expect("fused scan: float inputs")
    })
}

pub(crate) fn flex_tensor(values: Vec<f32>, shape: Vec<usize>) -> FloatTensor<Flex> {
    Flex::float_from_data(TensorData::new(values, shape), &Default::default())
}

fn host_dims(u: &FloatTensor<Flex>, a: &FloatTensor<Flex>) -> host::Dims {
    let [w, l, di] = u.shape().dims::<3>();
    let n = a.shape()[1];
    host::Dims { w, l, di, n }
}

/// `b`, `c [W, L, N]` packed into rows `[B | C]` ([`host::ProjLayout::packed`]).
fn pack_bc(b: &[f32], c: &[f32], n: usize) -> Vec<f32> {
    let mut bc = Vec::with_capacity(b.len() * 2);
    for (rb, rc) in b.chunks(n.max(1)).zip(c.chunks(n.max(1))) {
        bc.extend_from_slice(rb);
        bc.extend_from_slice(rc);
    }
    bc
}

/// The Mamba form's layouts: B, C after dt's R columns of `x_dbl`, z in the
/// second half of `xz`'s rows.
fn gated_layout(x_dbl: &FloatTensor<Flex>, s: host::Dims) -> host::ProjLayout {
    let stride = x_dbl.shape()[2];
    assert!(
        stride >= 2 * s.n,
        "fused scan: x_dbl must be [W, L, R + 2N]"
    );
    let r = stride - 2 * s.n;
    host::ProjLayout {
        stride,
        b_off: r,
        c_off: r + s.n,
    }
}

impl SelectiveScanOps for Flex {
    fn selective_scan(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        c: FloatTensor<Self>,
        d: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let s = host_dims(&u, &a);
        let [u, delta, a, b, c, d] = host_vecs([u, delta, a, b, c, d]);
        let bc = pack_bc(&b, &c, s.n);
        let x = host::Inputs {
            u: &u,
            delta: &delta,
            a: &a,
            bc: &bc,
            proj: host::ProjLayout::packed(s.n),
            d: &d,
            gate: None,
        };
        flex_tensor(host::forward(x, s), vec![s.w, s.l, s.di])
    }

    fn selective_scan_backward(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        c: FloatTensor<Self>,
        d: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let s = host_dims(&u, &a);
        let [u, delta, a, b, c, d, dy] = host_vecs([u, delta, a, b, c, d, dy]);
        let bc = pack_bc(&b, &c, s.n);
        let x = host::Inputs {
            u: &u,
            delta: &delta,
            a: &a,
            bc: &bc,
            proj: host::ProjLayout::packed(s.n),
            d: &d,
            gate: None,
        };
        let g = host::backward(x, &dy, s);
        let (mut db, mut dc) = (Vec::with_capacity(b.len()), Vec::with_capacity(c.len()));
        for row in g.dbc.chunks(2 * s.n.max(1)) {
            db.extend_from_slice(&row[..s.n]);
            dc.extend_from_slice(&row[s.n..]);
        }
        let seq = vec![s.w, s.l, s.di];
        let proj = vec![s.w, s.l, s.n];
        (
            flex_tensor(g.du, seq.clone()),
            flex_tensor(g.ddelta, seq),
            flex_tensor(g.da, vec![s.di, s.n]),
            flex_tensor(db, proj.clone()),
            flex_tensor(dc, proj),
            flex_tensor(g.dd, vec![s.di]),
        )
    }

    fn selective_scan_gated(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        x_dbl: FloatTensor<Self>,
        d: FloatTensor<Self>,
        xz: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let s = host_dims(&u, &a);
        let proj = gated_layout(&x_dbl, s);
        let [u, delta, a, x_dbl, d, xz] = host_vecs([u, delta, a, x_dbl, d, xz]);
        let x = host::Inputs {
            u: &u,
            delta: &delta,
            a: &a,
            bc: &x_dbl,
            proj,
            d: &d,
            gate: Some(host::Gate {
                z: &xz,
                stride: 2 * s.di,
                offset: s.di,
            }),
        };
        flex_tensor(host::forward(x, s), vec![s.w, s.l, s.di])
    }

    fn selective_scan_gated_backward(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        x_dbl: FloatTensor<Self>,
        d: FloatTensor<Self>,
        xz: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let s = host_dims(&u, &a);
        let proj = gated_layout(&x_dbl, s);
        let [u, delta, a, x_dbl, d, xz, dy] = host_vecs([u, delta, a, x_dbl, d, xz, dy]);
        let x = host::Inputs {
            u: &u,
            delta: &delta,
            a: &a,
            bc: &x_dbl,
            proj,
            d: &d,
            gate: Some(host::Gate {
                z: &xz,
                stride: 2 * s.di,
                offset: s.di,
            }),
        };
        let g = host::backward(x, &dy, s);
        let seq = vec![s.w, s.l, s.di];
        (
            flex_tensor(g.du, seq.clone()),
            flex_tensor(g.ddelta, seq),
            flex_tensor(g.da, vec![s.di, s.n]),
            flex_tensor(g.dbc, vec![s.w, s.l, proj.stride]),
            flex_tensor(g.dd, vec![s.di]),
            flex_tensor(g.dz, vec![s.w, s.l, 2 * s.di]),
        )
    }

    /// The host loops are already time-sequential per channel.
    fn selective_scan_parallel(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        c: FloatTensor<Self>,
        d: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::selective_scan(u, delta, a, b, c, d)
    }

    fn selective_scan_parallel_backward(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        c: FloatTensor<Self>,
        d: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        Self::selective_scan_backward(u, delta, a, b, c, d, dy)
    }
}

/// A backward kernel's outputs before the reductions: `du`, `ddelta`
/// final; `da_part [R, Di, N]` and `dd_part [R, Di]` summed over their R
/// rows; `db_part`, `dc_part [W, L, Di, N]` summed over channels.
pub(super) struct BackwardParts {
    pub du: CubeTensor,
    pub ddelta: CubeTensor,
    pub da_part: CubeTensor,
    pub db_part: CubeTensor,
    pub dc_part: CubeTensor,
    pub dd_part: CubeTensor,
}

impl BackwardParts {
    /// The six gradients `(du, ddelta, da, db, dc, dd)`.
    fn reduce(
        self,
        [w, l, di, n]: [usize; 4],
    ) -> (
        CubeTensor,
        CubeTensor,
        CubeTensor,
        CubeTensor,
        CubeTensor,
        CubeTensor,
    ) {
        type B = CubeBackend;
        let da = B::float_reshape(B::float_sum_dim(self.da_part, 0), Shape::new([di, n]));
        let dd = B::float_reshape(B::float_sum_dim(self.dd_part, 0), Shape::new([di]));
        let db = B::float_reshape(B::float_sum_dim(self.db_part, 2), Shape::new([w, l, n]));
        let dc = B::float_reshape(B::float_sum_dim(self.dc_part, 2), Shape::new([w, l, n]));
        (self.du, self.ddelta, da, db, dc, dd)
    }
}

mod kernels {
    //! The `#[cube]` kernels and their launches. Kept in their own module so
    //! that cubecl's prelude (`Tensor`, `Array`, ...) does not clash with burn's.
    #![allow(clippy::too_many_arguments)]

    use burn::backend::TensorMetadata;
    use burn::backend::cubecl::dtype_to_storage_type;
    use burn::tensor::Shape;
    // `#[cube]` expands to relative `cubecl::...` paths; burn-cubecl re-exports the crate.
    // (If `cubecl` is added as a direct dependency instead, delete this line.)
    use burn_cubecl::cubecl;
    use burn_cubecl::kernel::into_contiguous;
    use burn_cubecl::tensor::CubeTensor;
    use cubecl::{calculate_cube_count_elemwise, prelude::*};

    /// `softplus(x) = ln(1 + eˣ)` (x itself above 20), with an accurate
    /// `ln(1 + e)` for small `e` (Goldberg's `log1p`: cubecl's polyfill is
    /// `ln(1 + e)`, which loses Δ's digits at Mamba's typical Δ ≈ 1e-3).
    #[cube]
    fn softplus<F: Float>(x: F) -> F {
        let one = F::new(1.0_f32);
        let e = x.exp();
        let s = one + e;
        let mut out = x;
        if x <= F::new(20.0_f32) {
            out = e;
            if s != one {
                out = s.ln() * e / (s - one);
            }
        }
        out
    }

    #[cube]
    fn sigmoid<F: Float>(x: F) -> F {
        F::new(1.0_f32) / (F::new(1.0_f32) + (-x).exp())
    }

    /// Forward: one thread per (w, ch). B, C are read from the rows of `bc`
    /// (`bc_stride` long, at `b_off`, `c_off`); `gated` (the Mamba form)
    /// applies softplus to Δ and multiplies y by SiLU(z), z at column
    /// `channels + ch` of `z`'s rows of `2·channels`.
    #[cube(launch)]
    fn scan_forward_kernel<F: Float>(
        u: &Tensor<F>,     // [W, L, Di]
        delta: &Tensor<F>, // [W, L, Di]
        a: &Tensor<F>,     // [Di, N]
        bc: &Tensor<F>,    // [W, L, bc_stride]
        d: &Tensor<F>,     // [Di]
        z: &Tensor<F>,     // [W, L, 2·Di] when gated, else unused
        y: &mut Tensor<F>, // [W, L, Di]
        windows: u32,
        seq_len: u32,
        channels: u32,
        bc_stride: u32,
        b_off: u32,
        c_off: u32,
        #[comptime] n_state: usize,
        #[comptime] gated: bool,
        #[define(F)] _dtype: ElemType,
    ) {
        let di = channels as usize;
        let l = seq_len as usize;
        let bcs = bc_stride as usize;
        let total = (windows * channels) as usize;
        let pos = ABSOLUTE_POS;
        if pos >= total {
            terminate!();
        }
        let w = pos / di;
        let ch = pos % di;

        let mut h = Array::<F>::new(n_state);
        let mut a_row = Array::<F>::new(n_state);
        #[unroll]
        for n in 0..n_state {
            h[n] = F::new(0.0_f32);
            a_row[n] = a[ch * n_state + n];
        }
        let d_ch = d[ch];

        for t in 0..l {
            let row = w * l + t;
            let x_idx = row * di + ch;
            let b0 = row * bcs + b_off as usize;
            let c0 = row * bcs + c_off as usize;
            let u_t = u[x_idx];
            let mut dt = delta[x_idx];
            if gated {
                dt = softplus::<F>(dt);
            }
            let dtu = dt * u_t;
            let mut acc = d_ch * u_t;
            #[unroll]
            for n in 0..n_state {
                let h_n = (dt * a_row[n]).exp() * h[n] + dtu * bc[b0 + n];
                h[n] = h_n;
                acc += bc[c0 + n] * h_n;
            }
            if gated {
                let z_t = z[row * 2 * di + di + ch];
                acc = acc * z_t * sigmoid::<F>(z_t);
            }
            y[x_idx] = acc;
        }
    }

    /// Backward: one thread per (w, ch).
    ///
    /// With g_t = dy_t (gated: dy_t·SiLU(z_t)) and dA_t = exp(Δ_t·a):
    ///   dh_t = c_t·g_t + dA_{t+1} ⊙ dh_{t+1}
    ///   du_t = D·g_t + Σ_n dh_t,n·Δ_t·b_t,n
    ///   dΔ_t = Σ_n dh_t,n·(a_n·dA_t,n·h_{t-1},n + b_t,n·u_t)   (gated: ·sigmoid(delta_t))
    ///   da_n += dh_t,n·Δ_t·dA_t,n·h_{t-1},n
    ///   db_t,n(ch) = dh_t,n·Δ_t·u_t,   dc_t,n(ch) = g_t·h_t,n,   dD += g_t·u_t
    ///   gated: dz_t = dy_t·y_t·SiLU'(z_t), y_t = C_t·h_t + D·u_t
    ///
    /// `dbc_part [W, L, Di, 2N]` holds per channel dB (first N) and dC
    /// partials. Pass 1 stores h_t in the dB half (scratch) and writes dC
    /// (and dz); pass 2 (reverse) reads h_{t-1} from row t-1 and then
    /// overwrites row t's dB half, whose h_t was last needed at step t+1.
    /// `dad_part [W, Di·N + Di]`: dA partials, then dD partials.
    #[cube(launch)]
    fn scan_backward_kernel<F: Float>(
        u: &Tensor<F>,            // [W, L, Di]
        delta: &Tensor<F>,        // [W, L, Di]
        a: &Tensor<F>,            // [Di, N]
        bc: &Tensor<F>,           // [W, L, bc_stride]
        d: &Tensor<F>,            // [Di]
        z: &Tensor<F>,            // [W, L, 2·Di] when gated
        dy: &Tensor<F>,           // [W, L, Di]
        du: &mut Tensor<F>,       // [W, L, Di]
        ddelta: &mut Tensor<F>,   // [W, L, Di]
        dad_part: &mut Tensor<F>, // [W, Di·N + Di]
        dbc_part: &mut Tensor<F>, // [W, L, Di, 2N]
        dz: &mut Tensor<F>,       // [W, L, 2·Di] when gated
        windows: u32,
        seq_len: u32,
        channels: u32,
        bc_stride: u32,
        b_off: u32,
        c_off: u32,
        #[comptime] n_state: usize,
        #[comptime] gated: bool,
        #[define(F)] _dtype: ElemType,
    ) {
        let di = channels as usize;
        let l = seq_len as usize;
        let bcs = bc_stride as usize;
        let total = (windows * channels) as usize;
        let pos = ABSOLUTE_POS;
        if pos >= total {
            terminate!();
        }
        let w = pos / di;
        let ch = pos % di;
        let two_n = 2 * n_state;

        let mut h = Array::<F>::new(n_state);
        let mut a_row = Array::<F>::new(n_state);
        let mut carry = Array::<F>::new(n_state); // dA_{t+1} ⊙ dh_{t+1}
        let mut da_acc = Array::<F>::new(n_state);
        #[unroll]
        for n in 0..n_state {
            h[n] = F::new(0.0_f32);
            carry[n] = F::new(0.0_f32);
            da_acc[n] = F::new(0.0_f32);
            a_row[n] = a[ch * n_state + n];
        }
        let d_ch = d[ch];

        // Pass 1: recompute the states; h_t → dB half (scratch), dC partial, dz.
        for t in 0..l {
            let row = w * l + t;
            let x_idx = row * di + ch;
            let b0 = row * bcs + b_off as usize;
            let c0 = row * bcs + c_off as usize;
            let s_idx = x_idx * two_n;
            let u_t = u[x_idx];
            let mut dt = delta[x_idx];
            let mut g = dy[x_idx];
            let mut z_t = F::new(0.0_f32);
            let mut sg = F::new(0.0_f32);
            if gated {
                dt = softplus::<F>(dt);
                z_t = z[row * 2 * di + di + ch];
                sg = sigmoid::<F>(z_t);
                g = g * z_t * sg;
            }
            let dtu = dt * u_t;
            let mut y_t = d_ch * u_t;
            #[unroll]
            for n in 0..n_state {
                let h_n = (dt * a_row[n]).exp() * h[n] + dtu * bc[b0 + n];
                h[n] = h_n;
                y_t += bc[c0 + n] * h_n;
                dbc_part[s_idx + n] = h_n;
                dbc_part[s_idx + n_state + n] = g * h_n;
            }
            if gated {
                let dy_t = dy[x_idx];
                dz[row * 2 * di + ch] = F::new(0.0_f32);
                dz[row * 2 * di + di + ch] =
                    dy_t * y_t * sg * (F::new(1.0_f32) + z_t * (F::new(1.0_f32) - sg));
            }
        }

        // Pass 2: reverse.
        let step = di * two_n; // distance between h_t and h_{t-1} in dbc_part
        let mut dd_acc = F::new(0.0_f32);
        for k in 0..l {
            let t = l - 1 - k;
            let row = w * l + t;
            let x_idx = row * di + ch;
            let b0 = row * bcs + b_off as usize;
            let c0 = row * bcs + c_off as usize;
            let s_idx = x_idx * two_n;
            let u_t = u[x_idx];
            let raw = delta[x_idx];
            let mut dt = raw;
            let mut g = dy[x_idx];
            if gated {
                dt = softplus::<F>(raw);
                let z_t = z[row * 2 * di + di + ch];
                g = g * z_t * sigmoid::<F>(z_t);
            }
            let dtu = dt * u_t;
            let mut du_acc = d_ch * g;
            let mut ddt_acc = F::new(0.0_f32);
            dd_acc += g * u_t;
            #[unroll]
            for n in 0..n_state {
                let mut h_prev = F::new(0.0_f32);
                if t > 0 {
                    h_prev = dbc_part[s_idx - step + n];
                }
                let decay = (dt * a_row[n]).exp();
                let b_n = bc[b0 + n];
                let dh = carry[n] + bc[c0 + n] * g;
                du_acc += dh * dt * b_n;
                ddt_acc += dh * (a_row[n] * decay * h_prev + b_n * u_t);
                da_acc[n] += dh * dt * decay * h_prev;
                dbc_part[s_idx + n] = dh * dtu;
                carry[n] = decay * dh;
            }
            if gated {
                ddt_acc = ddt_acc * sigmoid::<F>(raw);
            }
            du[x_idx] = du_acc;
            ddelta[x_idx] = ddt_acc;
        }

        let width = di * n_state + di;
        #[unroll]
        for n in 0..n_state {
            dad_part[w * width + ch * n_state + n] = da_acc[n];
        }
        dad_part[w * width + di * n_state + ch] = dd_acc;
    }

    /// `out [rows, stride]`: column `b_off + j` = Σ_ch `part[row, ch, j]`,
    /// column `c_off + j` = Σ_ch `part[row, ch, N + j]`, zero elsewhere
    /// (dB, dC in place in `x_dbl`'s layout, zero in dt's columns).
    #[cube(launch)]
    fn channel_sum_kernel<F: Float>(
        part: &Tensor<F>,    // [rows, Di, 2N]
        out: &mut Tensor<F>, // [rows, stride]
        rows: u32,
        channels: u32,
        stride: u32,
        b_off: u32,
        c_off: u32,
        #[comptime] n_state: usize,
        #[define(F)] _dtype: ElemType,
    ) {
        let s = stride as usize;
        let total = rows as usize * s;
        let pos = ABSOLUTE_POS;
        if pos >= total {
            terminate!();
        }
        let row = pos / s;
        let col = pos % s;
        let two_n = 2 * n_state;
        let bo = b_off as usize;
        let co = c_off as usize;
        let di = channels as usize;
        let mut acc = F::new(0.0_f32);
        if col >= bo && col < bo + n_state {
            for ch in 0..di {
                acc += part[(row * di + ch) * two_n + col - bo];
            }
        } else if col >= co && col < co + n_state {
            for ch in 0..di {
                acc += part[(row * di + ch) * two_n + n_state + col - co];
            }
        }
        out[pos] = acc;
    }

    /// Checked, contiguous inputs and the problem size.
    struct Prepared {
        tensors: Vec<CubeTensor>,
        w: usize,
        l: usize,
        di: usize,
        n: usize,
        /// Row length of `bc` and the columns of B and C in it.
        bc_stride: usize,
        b_off: usize,
        c_off: usize,
    }

    /// `tensors` = u, delta, a, bc, d, then z when `gated`, then dy if any.
    /// Plain: bc = `[B | C]` rows; gated: bc = x_dbl `[W, L, R + 2N]`.
    fn prepare(tensors: Vec<CubeTensor>, gated: bool) -> Prepared {
        let tensors: Vec<CubeTensor> = tensors.into_iter().map(into_contiguous).collect();
        let [w, l, di] = tensors[0].shape().dims::<3>();
        let [di_a, n] = tensors[2].shape().dims::<2>();
        assert_eq!(di, di_a, "fused scan: a must be [Di, N]");
        assert!(
            (1..=super::MAX_STATE).contains(&n),
            "fused scan: N = {n} outside 1..={}",
            super::MAX_STATE
        );
        let [wb, lb, bc_stride] = tensors[3].shape().dims::<3>();
        assert!(
            wb == w && lb == l && bc_stride >= 2 * n,
            "fused scan: B, C rows must be [W, L, R + 2N]"
        );
        if gated {
            assert_eq!(
                tensors[5].shape().dims::<3>(),
                [w, l, 2 * di],
                "fused scan: xz must be [W, L, 2·Di]"
            );
        }
        let dtype = tensors[0].dtype;
        assert!(
            tensors.iter().all(|t| t.dtype == dtype),
            "fused scan: all inputs must share one float dtype"
        );
        assert!(
            w * di <= u32::MAX as usize
                && l <= u32::MAX as usize
                && w * l * bc_stride.max(2 * di) <= u32::MAX as usize,
            "fused scan: problem too large"
        );
        let r = bc_stride - 2 * n;
        Prepared {
            tensors,
            w,
            l,
            di,
            n,
            bc_stride,
            b_off: r,
            c_off: r + n,
        }
    }

    use super::empty;

    /// `out [W, L, Di]`: y, or y·SiLU(z) when `z` (xz) is given.
    pub(super) fn forward(
        u: CubeTensor,
        delta: CubeTensor,
        a: CubeTensor,
        bc: CubeTensor,
        d: CubeTensor,
        z: Option<CubeTensor>,
    ) -> CubeTensor {
        let gated = z.is_some();
        let mut inputs = vec![u, delta, a, bc, d];
        inputs.extend(z);
        let p = prepare(inputs, gated);
        let y = empty(&p.tensors[0], Shape::new([p.w, p.l, p.di]));
        let threads = p.w * p.di;
        if threads == 0 || p.l == 0 {
            return y;
        }
        let client = y.client.clone();
        let dtype = y.dtype;
        // Without a gate, z is never read: any buffer other than y will do.
        let z = if gated {
            p.tensors[5].clone()
        } else {
            empty(&y, Shape::new([1]))
        };
        let cube_dim = CubeDim::new(&client, threads);
        let cube_count = calculate_cube_count_elemwise(&client, threads, cube_dim);
        let arg = |i: usize| p.tensors[i].clone().into_tensor_arg();
        scan_forward_kernel::launch(
            &client,
            cube_count,
            cube_dim,
            arg(0),
            arg(1),
            arg(2),
            arg(3),
            arg(4),
            z.into_tensor_arg(),
            y.clone().into_tensor_arg(),
            p.w as u32,
            p.l as u32,
            p.di as u32,
            p.bc_stride as u32,
            p.b_off as u32,
            p.c_off as u32,
            p.n,
            gated,
            dtype_to_storage_type(dtype),
        );
        y
    }

    /// The reduced gradients of one backward launch: `du`, `ddelta`
    /// `[W, L, Di]`, `da [Di, N]`, `dd [Di]`, `dbc` in bc's layout (zero
    /// outside B, C) and, gated, `dz [W, L, 2·Di]` (zero outside z).
    pub(super) struct Grads {
        pub du: CubeTensor,
        pub ddelta: CubeTensor,
        pub da: CubeTensor,
        pub dbc: CubeTensor,
        pub dd: CubeTensor,
        pub dz: Option<CubeTensor>,
    }

    pub(super) fn backward(
        u: CubeTensor,
        delta: CubeTensor,
        a: CubeTensor,
        bc: CubeTensor,
        d: CubeTensor,
        z: Option<CubeTensor>,
        dy: CubeTensor,
    ) -> Grads {
        type B = burn_cubecl::CubeBackend;
        use burn::backend::ops::FloatTensorOps;
        use burn::tensor::Slice;

        let gated = z.is_some();
        let mut inputs = vec![u, delta, a, bc, d];
        inputs.extend(z);
        inputs.push(dy);
        let p = prepare(inputs, gated);
        let (w, l, di, n) = (p.w, p.l, p.di, p.n);
        let like = &p.tensors[0];
        let du = empty(like, Shape::new([w, l, di]));
        let ddelta = empty(like, Shape::new([w, l, di]));
        let width = di * n + di;
        let dad_part = empty(like, Shape::new([w, width]));
        let dbc_part = empty(like, Shape::new([w, l, di, 2 * n]));
        let dz = empty(
            like,
            if gated {
                Shape::new([w, l, 2 * di])
            } else {
                Shape::new([1])
            },
        );
        let dbc = empty(like, Shape::new([w, l, p.bc_stride]));
        let client = like.client.clone();
        let dtype = like.dtype;
        let threads = w * di;
        if threads > 0 {
            // With L = 0 the kernel writes zeros to dad_part and nothing else.
            let cube_dim = CubeDim::new(&client, threads);
            let cube_count = calculate_cube_count_elemwise(&client, threads, cube_dim);
            let arg = |i: usize| p.tensors[i].clone().into_tensor_arg();
            let z_arg = if gated {
                arg(5)
            } else {
                empty(like, Shape::new([1])).into_tensor_arg()
            };
            let dy_arg = arg(p.tensors.len() - 1);
            scan_backward_kernel::launch(
                &client,
                cube_count,
                cube_dim,
                arg(0),
                arg(1),
                arg(2),
                arg(3),
                arg(4),
                z_arg,
                dy_arg,
                du.clone().into_tensor_arg(),
                ddelta.clone().into_tensor_arg(),
                dad_part.clone().into_tensor_arg(),
                dbc_part.clone().into_tensor_arg(),
                dz.clone().into_tensor_arg(),
                w as u32,
                l as u32,
                di as u32,
                p.bc_stride as u32,
                p.b_off as u32,
                p.c_off as u32,
                n,
                gated,
                dtype_to_storage_type(dtype),
            );
        }
        let cells = w * l * p.bc_stride;
        if cells > 0 {
            let cube_dim = CubeDim::new(&client, cells);
            let cube_count = calculate_cube_count_elemwise(&client, cells, cube_dim);
            channel_sum_kernel::launch(
                &client,
                cube_count,
                cube_dim,
                dbc_part.into_tensor_arg(),
                dbc.clone().into_tensor_arg(),
                (w * l) as u32,
                di as u32,
                p.bc_stride as u32,
                p.b_off as u32,
                p.c_off as u32,
                n,
                dtype_to_storage_type(dtype),
            );
        }
        let (da, dd) = if w == 0 {
            (
                B::float_zeros(Shape::new([di, n]), &like.device, dtype.into()),
                B::float_zeros(Shape::new([di]), &like.device, dtype.into()),
            )
        } else {
            let sums = B::float_sum_dim(dad_part, 0); // [1, Di·N + Di]
            let part = |from: usize, len: usize| {
                [
                    Slice::new(0, Some(1), 1),
                    Slice::new(from as isize, Some((from + len) as isize), 1),
                ]
            };
            let da = B::float_slice(sums.clone(), &part(0, di * n));
            let dd = B::float_slice(sums, &part(di * n, di));
            (
                B::float_reshape(da, Shape::new([di, n])),
                B::float_reshape(dd, Shape::new([di])),
            )
        };
        Grads {
            du,
            ddelta,
            da,
            dbc,
            dd,
            dz: gated.then_some(dz),
        }
    }
}

// ---------------------------------------------------------------------------
// Autodiff: the handwritten backward.
// ---------------------------------------------------------------------------

/// Which pair of kernels a tracked scan runs.
#[derive(Debug, Clone, Copy)]
enum Kernels {
    /// One unit per (window, channel) walking all of L.
    Sequential,
    /// The time-parallel kernels.
    Parallel,
    /// The sequential kernels in the Mamba form (inputs u, delta, a,
    /// x_dbl, d, xz).
    Gated,
}

/// The backward step of a tracked scan.
#[derive(Debug)]
struct ScanBackward(Kernels);

impl<B: Backend + SelectiveScanOps> Backward<B, 6> for ScanBackward {
    /// The six forward inputs (u, delta, a, b, c, d).
    type State = (
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
    );

    fn backward(
        self,
        ops: Ops<Self::State, 6>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [p_u, p_delta, p_a, p_b, p_c, p_d] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let (u, delta, a, b, c, d) = ops.state;
        let (du, ddelta, da, db, dc, dd) = match self.0 {
            Kernels::Sequential => B::selective_scan_backward(u, delta, a, b, c, d, dy),
            Kernels::Parallel => B::selective_scan_parallel_backward(u, delta, a, b, c, d, dy),
            Kernels::Gated => B::selective_scan_gated_backward(u, delta, a, b, c, d, dy),
        };
        for (parent, grad) in [
            (p_u, du),
            (p_delta, ddelta),
            (p_a, da),
            (p_b, db),
            (p_c, dc),
            (p_d, dd),
        ] {
            if let Some(node) = parent {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

/// The forward scan on the inner backend, recorded for the handwritten
/// backward of the same kernel family.
fn tracked_scan<B: Backend + SelectiveScanOps, C: CheckpointStrategy>(
    kernels: Kernels,
    u: FloatTensor<Autodiff<B, C>>,
    delta: FloatTensor<Autodiff<B, C>>,
    a: FloatTensor<Autodiff<B, C>>,
    b: FloatTensor<Autodiff<B, C>>,
    c: FloatTensor<Autodiff<B, C>>,
    d: FloatTensor<Autodiff<B, C>>,
) -> FloatTensor<Autodiff<B, C>> {
    let run = |u, delta, a, b, c, d| match kernels {
        Kernels::Sequential => B::selective_scan(u, delta, a, b, c, d),
        Kernels::Parallel => B::selective_scan_parallel(u, delta, a, b, c, d),
        Kernels::Gated => B::selective_scan_gated(u, delta, a, b, c, d),
    };
    let guards = [
        u.node(),
        delta.node(),
        a.node(),
        b.node(),
        c.node(),
        d.node(),
    ];
    let (u, delta, a, b, c, d) = (
        u.into_primitive(),
        delta.into_primitive(),
        a.into_primitive(),
        b.into_primitive(),
        c.into_primitive(),
        d.into_primitive(),
    );
    match ScanBackward(kernels)
        .prepare::<C>(guards)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let y = run(
                u.clone(),
                delta.clone(),
                a.clone(),
                b.clone(),
                c.clone(),
                d.clone(),
            );
            prep.finish((u, delta, a, b, c, d), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(run(u, delta, a, b, c, d)),
    }
}

/// The six gradients lifted out of autodiff (not tracked themselves).
fn untracked<B: Backend, C: CheckpointStrategy>(
    (du, ddelta, da, db, dc, dd): (
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
    ),
) -> (
    FloatTensor<Autodiff<B, C>>,
    FloatTensor<Autodiff<B, C>>,
    FloatTensor<Autodiff<B, C>>,
    FloatTensor<Autodiff<B, C>>,
    FloatTensor<Autodiff<B, C>>,
    FloatTensor<Autodiff<B, C>>,
) {
    let lift = <Autodiff<B, C> as AutodiffBackend>::from_inner;
    (
        lift(du),
        lift(ddelta),
        lift(da),
        lift(db),
        lift(dc),
        lift(dd),
    )
}

impl<B: Backend + SelectiveScanOps, C: CheckpointStrategy> SelectiveScanOps for Autodiff<B, C> {
    fn selective_scan(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        c: FloatTensor<Self>,
        d: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        tracked_scan::<B, C>(Kernels::Sequential, u, delta, a, b, c, d)
    }

    /// Not differentiable (no double backward): runs the inner backward and
    /// returns untracked tensors.
    fn selective_scan_backward(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        c: FloatTensor<Self>,
        d: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        untracked::<B, C>(B::selective_scan_backward(
            u.into_primitive(),
            delta.into_primitive(),
            a.into_primitive(),
            b.into_primitive(),
            c.into_primitive(),
            d.into_primitive(),
            dy.into_primitive(),
        ))
    }

    fn selective_scan_gated(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        x_dbl: FloatTensor<Self>,
        d: FloatTensor<Self>,
        xz: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        tracked_scan::<B, C>(Kernels::Gated, u, delta, a, x_dbl, d, xz)
    }

    fn selective_scan_gated_backward(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        x_dbl: FloatTensor<Self>,
        d: FloatTensor<Self>,
        xz: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        untracked::<B, C>(B::selective_scan_gated_backward(
            u.into_primitive(),
            delta.into_primitive(),
            a.into_primitive(),
            x_dbl.into_primitive(),
            d.into_primitive(),
            xz.into_primitive(),
            dy.into_primitive(),
        ))
    }

    fn selective_scan_parallel(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        c: FloatTensor<Self>,
        d: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        tracked_scan::<B, C>(Kernels::Parallel, u, delta, a, b, c, d)
    }

    fn selective_scan_parallel_backward(
        u: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        c: FloatTensor<Self>,
        d: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        untracked::<B, C>(B::selective_scan_parallel_backward(
            u.into_primitive(),
            delta.into_primitive(),
            a.into_primitive(),
            b.into_primitive(),
            c.into_primitive(),
            d.into_primitive(),
            dy.into_primitive(),
        ))
    }
}

// ---------------------------------------------------------------------------
// Public entry points.
// ---------------------------------------------------------------------------

/// An uninitialised contiguous buffer of `shape` on `like`'s device, in its
/// dtype (for kernel outputs that are written in full).
pub(crate) fn empty(like: &CubeTensor, shape: Shape) -> CubeTensor {
    burn_cubecl::ops::numeric::empty_device_contiguous_dtype(
        like.client.clone(),
        like.device.clone(),
        shape,
        like.dtype,
    )
}

/// Whether [`fused_scan`] can run on `device`: Flex (host loops) or a
/// cubecl (wgpu/cuda/...) device that binds enough storage buffers, with or
/// without autodiff.
pub fn supported(device: &Device) -> bool {
    match device.clone().without_autodiff().as_dispatch() {
        DispatchDevice::Flex(_) => true,
        DispatchDevice::Cube(cube) => {
            cube.client().properties().hardware.max_bindings >= BACKWARD_BINDINGS
        }
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// Whether `device` runs the fused scan as host loops (Flex).
pub fn is_host(device: &Device) -> bool {
    matches!(
        device.clone().without_autodiff().as_dispatch(),
        DispatchDevice::Flex(_)
    )
}

/// The selective scan as one fused kernel: `[W, L, Di]`. Differentiable
/// through the handwritten backward. Panics on a device where
/// [`supported`] is false.
pub fn fused_scan(input: ScanInput) -> Tensor<3> {
    scan_with(input, Kernels::Sequential)
}

/// [`fused_scan`] by the time-parallel CubeCL kernels
/// ([`super::parallel`]); the same host loops on Flex.
pub fn parallel_scan(input: ScanInput) -> Tensor<3> {
    scan_with(input, Kernels::Parallel)
}

/// The Mamba form of the fused scan ([`MambaScanInput`]): `y · SiLU(z)`
/// `[W, L, Di]`, differentiable through the handwritten backward, with B, C
/// and z read in place. Panics on a device where [`supported`] is false.
pub fn gated_scan(input: MambaScanInput) -> Tensor<3> {
    let MambaScanInput {
        u,
        delta,
        a,
        x_dbl,
        d,
        xz,
    } = input;
    let [w, l, di] = u.dims();
    let [di_a, n] = a.dims();
    let [wx, lx, cols] = x_dbl.dims();
    assert_eq!(delta.dims(), [w, l, di], "fused scan: delta must match u");
    assert_eq!(di_a, di, "fused scan: a must be [Di, N]");
    assert!(
        wx == w && lx == l && cols >= 2 * n,
        "fused scan: x_dbl must be [W, L, R + 2N]"
    );
    assert_eq!(
        xz.dims(),
        [w, l, 2 * di],
        "fused scan: xz must be [W, L, 2·Di]"
    );
    assert_eq!(d.dims(), [di], "fused scan: d must be [Di]");
    assert!(
        (1..=MAX_STATE).contains(&n),
        "fused scan: N = {n} outside 1..={MAX_STATE}"
    );
    Tensor::from_dispatch(<Dispatch as SelectiveScanOps>::selective_scan_gated(
        u.into_dispatch(),
        delta.into_dispatch(),
        a.into_dispatch(),
        x_dbl.into_dispatch(),
        d.into_dispatch(),
        xz.into_dispatch(),
    ))
}

fn scan_with(input: ScanInput, kernels: Kernels) -> Tensor<3> {
    let ScanInput {
        u,
        delta,
        a,
        b,
        c,
        d,
    } = input;
    let [w, l, di] = u.dims();
    let [di_a, n] = a.dims();
    assert_eq!(delta.dims(), [w, l, di], "fused scan: delta must match u");
    assert_eq!(di_a, di, "fused scan: a must be [Di, N]");
    assert_eq!(b.dims(), [w, l, n], "fused scan: b must be [W, L, N]");
    assert_eq!(c.dims(), [w, l, n], "fused scan: c must be [W, L, N]");
    assert_eq!(d.dims(), [di], "fused scan: d must be [Di]");
    assert!(
        (1..=MAX_STATE).contains(&n),
        "fused scan: N = {n} outside 1..={MAX_STATE}"
    );
    let (u, delta, a, b, c, d) = (
        u.into_dispatch(),
        delta.into_dispatch(),
        a.into_dispatch(),
        b.into_dispatch(),
        c.into_dispatch(),
        d.into_dispatch(),
    );
    Tensor::from_dispatch(match kernels {
        Kernels::Sequential => <Dispatch as SelectiveScanOps>::selective_scan(u, delta, a, b, c, d),
        Kernels::Parallel => {
            <Dispatch as SelectiveScanOps>::selective_scan_parallel(u, delta, a, b, c, d)
        }
        Kernels::Gated => unreachable!("the gated scan goes through gated_scan"),
    })
}
