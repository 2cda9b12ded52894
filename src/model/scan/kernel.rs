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

use super::ScanInput;
use super::host;
use burn::backend::autodiff::{
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::{
    Autodiff, AutodiffBackend, Backend, Dispatch, DispatchDevice, Flex, TensorMetadata,
    backend_extension, ops::FloatTensorOps, tensor::FloatTensor,
};
use burn::tensor::TensorData;
use burn::tensor::{Device, Shape, Tensor};
use burn_cubecl::CubeBackend;
use burn_cubecl::tensor::CubeTensor;

/// Largest state size N the kernels accept (N is a compile-time constant of
/// each kernel; every distinct N compiles its own kernel).
pub const MAX_STATE: usize = 64;

/// Storage buffers the backward kernel binds (7 inputs + 6 outputs).
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
        kernels::forward(u, delta, a, b, c, d)
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
        let dims = scan_dims(&u, &a);
        kernels::backward(u, delta, a, b, c, d, dy).reduce(dims)
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
        let x = host::Inputs {
            u: &u,
            delta: &delta,
            a: &a,
            b: &b,
            c: &c,
            d: &d,
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
        let x = host::Inputs {
            u: &u,
            delta: &delta,
            a: &a,
            b: &b,
            c: &c,
            d: &d,
        };
        let g = host::backward(x, &dy, s);
        let seq = vec![s.w, s.l, s.di];
        let proj = vec![s.w, s.l, s.n];
        (
            flex_tensor(g.du, seq.clone()),
            flex_tensor(g.ddelta, seq),
            flex_tensor(g.da, vec![s.di, s.n]),
            flex_tensor(g.db, proj.clone()),
            flex_tensor(g.dc, proj),
            flex_tensor(g.dd, vec![s.di]),
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
    use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
    use burn_cubecl::tensor::CubeTensor;
    use cubecl::{calculate_cube_count_elemwise, prelude::*};

    /// Forward: one thread per (w, ch). Inputs contiguous row-major.
    #[cube(launch)]
    fn scan_forward_kernel<F: Float>(
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
        #[define(F)] _dtype: ElemType,
    ) {
        let di = channels as usize;
        let l = seq_len as usize;
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
            let bc = row * n_state;
            let u_t = u[x_idx];
            let dt = delta[x_idx];
            let dtu = dt * u_t;
            let mut acc = d_ch * u_t;
            #[unroll]
            for n in 0..n_state {
                let h_n = (dt * a_row[n]).exp() * h[n] + dtu * b[bc + n];
                h[n] = h_n;
                acc += c[bc + n] * h_n;
            }
            y[x_idx] = acc;
        }
    }

    /// Backward: one thread per (w, ch).
    ///
    /// With g_t = dy_t and dA_t = exp(Δ_t·a):
    ///   dh_t = c_t·g_t + dA_{t+1} ⊙ dh_{t+1}
    ///   du_t = D·g_t + Σ_n dh_t,n·Δ_t·b_t,n
    ///   dΔ_t = Σ_n dh_t,n·(a_n·dA_t,n·h_{t-1},n + b_t,n·u_t)
    ///   da_n += dh_t,n·Δ_t·dA_t,n·h_{t-1},n
    ///   db_t,n(ch) = dh_t,n·Δ_t·u_t,   dc_t,n(ch) = g_t·h_t,n,   dD += g_t·u_t
    ///
    /// Pass 1 stores h_t in `db_part` (scratch); pass 2 (reverse) reads
    /// h_{t-1} from `db_part[t-1]` and then overwrites `db_part[t]`, whose h_t
    /// was last needed at step t+1 (already done).
    #[cube(launch)]
    fn scan_backward_kernel<F: Float>(
        u: &Tensor<F>,           // [W, L, Di]
        delta: &Tensor<F>,       // [W, L, Di]
        a: &Tensor<F>,           // [Di, N]
        b: &Tensor<F>,           // [W, L, N]
        c: &Tensor<F>,           // [W, L, N]
        d: &Tensor<F>,           // [Di]
        dy: &Tensor<F>,          // [W, L, Di]
        du: &mut Tensor<F>,      // [W, L, Di]
        ddelta: &mut Tensor<F>,  // [W, L, Di]
        da_part: &mut Tensor<F>, // [W, Di, N]
        db_part: &mut Tensor<F>, // [W, L, Di, N]
        dc_part: &mut Tensor<F>, // [W, L, Di, N]
        dd_part: &mut Tensor<F>, // [W, Di]
        windows: u32,
        seq_len: u32,
        channels: u32,
        #[comptime] n_state: usize,
        #[define(F)] _dtype: ElemType,
    ) {
        let di = channels as usize;
        let l = seq_len as usize;
        let total = (windows * channels) as usize;
        let pos = ABSOLUTE_POS;
        if pos >= total {
            terminate!();
        }
        let w = pos / di;
        let ch = pos % di;

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

        // Pass 1: recompute the states; h_t → db_part (scratch), dc partial.
        for t in 0..l {
            let row = w * l + t;
            let x_idx = row * di + ch;
            let bc = row * n_state;
            let s_idx = x_idx * n_state;
            let u_t = u[x_idx];
            let dt = delta[x_idx];
            let g = dy[x_idx];
            let dtu = dt * u_t;
            #[unroll]
            for n in 0..n_state {
                let h_n = (dt * a_row[n]).exp() * h[n] + dtu * b[bc + n];
                h[n] = h_n;
                db_part[s_idx + n] = h_n;
                dc_part[s_idx + n] = g * h_n;
            }
        }

        // Pass 2: reverse.
        let step = di * n_state; // distance between h_t and h_{t-1} in db_part
        let mut dd_acc = F::new(0.0_f32);
        for k in 0..l {
            let t = l - 1 - k;
            let row = w * l + t;
            let x_idx = row * di + ch;
            let bc = row * n_state;
            let s_idx = x_idx * n_state;
            let u_t = u[x_idx];
            let dt = delta[x_idx];
            let g = dy[x_idx];
            let dtu = dt * u_t;
            let mut du_acc = d_ch * g;
            let mut ddt_acc = F::new(0.0_f32);
            dd_acc += g * u_t;
            #[unroll]
            for n in 0..n_state {
                let mut h_prev = F::new(0.0_f32);
                if t > 0 {
                    h_prev = db_part[s_idx - step + n];
                }
                let decay = (dt * a_row[n]).exp();
                let b_n = b[bc + n];
                let dh = carry[n] + c[bc + n] * g;
                du_acc += dh * dt * b_n;
                ddt_acc += dh * (a_row[n] * decay * h_prev + b_n * u_t);
                da_acc[n] += dh * dt * decay * h_prev;
                db_part[s_idx + n] = dh * dtu;
                carry[n] = decay * dh;
            }
            du[x_idx] = du_acc;
            ddelta[x_idx] = ddt_acc;
        }

        let wc = w * di + ch;
        #[unroll]
        for n in 0..n_state {
            da_part[wc * n_state + n] = da_acc[n];
        }
        dd_part[wc] = dd_acc;
    }

    /// Checked, contiguous inputs and the problem size.
    struct Prepared {
        tensors: Vec<CubeTensor>,
        w: usize,
        l: usize,
        di: usize,
        n: usize,
    }

    fn prepare(tensors: Vec<CubeTensor>) -> Prepared {
        let tensors: Vec<CubeTensor> = tensors.into_iter().map(into_contiguous).collect();
        let [w, l, di] = tensors[0].shape().dims::<3>();
        let [di_a, n] = tensors[2].shape().dims::<2>();
        assert_eq!(di, di_a, "fused scan: a must be [Di, N]");
        assert!(
            (1..=super::MAX_STATE).contains(&n),
            "fused scan: N = {n} outside 1..={}",
            super::MAX_STATE
        );
        let dtype = tensors[0].dtype;
        assert!(
            tensors.iter().all(|t| t.dtype == dtype),
            "fused scan: all inputs must share one float dtype"
        );
        assert!(
            w * di <= u32::MAX as usize && l <= u32::MAX as usize,
            "fused scan: problem too large"
        );
        Prepared {
            tensors,
            w,
            l,
            di,
            n,
        }
    }

    fn empty(like: &CubeTensor, shape: Shape) -> CubeTensor {
        empty_device_contiguous_dtype(like.client.clone(), like.device.clone(), shape, like.dtype)
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
        let Prepared {
            tensors,
            w,
            l,
            di,
            n,
        } = prepare(vec![u, delta, a, b, c, d]);
        let y = empty(&tensors[0], Shape::new([w, l, di]));
        let threads = w * di;
        if threads == 0 || l == 0 {
            return y;
        }
        let client = y.client.clone();
        let dtype = y.dtype;
        let cube_dim = CubeDim::new(&client, threads);
        let cube_count = calculate_cube_count_elemwise(&client, threads, cube_dim);
        let mut it = tensors.into_iter();
        let mut next = || it.next().expect("six inputs").into_tensor_arg();
        let (u, delta, a, b, c, d) = (next(), next(), next(), next(), next(), next());
        scan_forward_kernel::launch(
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
            dtype_to_storage_type(dtype),
        );
        y
    }

    use super::BackwardParts;

    pub(super) fn backward(
        u: CubeTensor,
        delta: CubeTensor,
        a: CubeTensor,
        b: CubeTensor,
        c: CubeTensor,
        d: CubeTensor,
        dy: CubeTensor,
    ) -> BackwardParts {
        let Prepared {
            tensors,
            w,
            l,
            di,
            n,
        } = prepare(vec![u, delta, a, b, c, d, dy]);
        let like = &tensors[0];
        let parts = BackwardParts {
            du: empty(like, Shape::new([w, l, di])),
            ddelta: empty(like, Shape::new([w, l, di])),
            da_part: empty(like, Shape::new([w, di, n])),
            db_part: empty(like, Shape::new([w, l, di, n])),
            dc_part: empty(like, Shape::new([w, l, di, n])),
            dd_part: empty(like, Shape::new([w, di])),
        };
        let threads = w * di;
        if threads == 0 {
            return parts;
        }
        // With L = 0 the kernel writes zeros to da_part / dd_part and nothing else.
        let client = like.client.clone();
        let dtype = like.dtype;
        let cube_dim = CubeDim::new(&client, threads);
        let cube_count = calculate_cube_count_elemwise(&client, threads, cube_dim);
        let mut it = tensors.into_iter();
        let mut next = || it.next().expect("seven inputs").into_tensor_arg();
        let (u, delta, a, b, c, d, dy) = (next(), next(), next(), next(), next(), next(), next());
        scan_backward_kernel::launch(
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
            dtype_to_storage_type(dtype),
        );
        parts
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
    })
}
