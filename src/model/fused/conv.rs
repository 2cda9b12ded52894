//! Mamba's depthwise causal conv1d + bias + SiLU as one op:
//! `out[w,t,c] = silu(b_c + Σ_j w_{c,j} · x[w, t-K+1+j, c])` over the first
//! `Di` channels of `xz [W, L, C ≥ Di]` (the in_proj output, whose other half
//! is the gate z), with zeros before t = 0 (PyTorch's `Conv1d(padding=K-1)`
//! keeping the first L outputs, then SiLU).
//!
//! Composed from tensor ops this is a pad, K narrows, K multiplies and adds
//! and a SiLU; its autodiff backward launches about forty kernels per Mamba
//! layer on wgpu. Here the forward is one kernel (a unit per output value)
//! and the backward one kernel (a unit per (window, channel) walking t
//! backwards with the last K pre-activation gradients in registers, writing
//! the zeros beyond channel Di as well) plus one reduction of the weight and
//! bias partials. `dxz` comes back full-width with zeros beyond channel Di. On Flex the same algorithm runs as host
//! loops.

#![allow(clippy::type_complexity)]

use super::{par_blocks, sum_partial_pairs};
use crate::model::scan::kernel::{flex_tensor, host_vecs};
use burn::backend::autodiff::{
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::{
    Autodiff, AutodiffBackend, Backend, Dispatch, Flex, TensorMetadata, backend_extension,
    ops::FloatTensorOps, tensor::FloatTensor,
};
use burn::tensor::{Shape, Slice, Tensor};
use burn_cubecl::CubeBackend;

/// Largest kernel width the fused op accepts (a compile-time constant of
/// each kernel).
pub const MAX_WIDTH: usize = 16;

/// `[W, L, Di]` from `xz [W, L, C]` and `weight [Di, K]`.
fn out_shape(xz: &Shape, weight: &Shape) -> Shape {
    Shape::new([xz[0], xz[1], weight[0]])
}

/// The fused causal conv + SiLU as a backend extension.
#[backend_extension(Cube, Flex, Fusion, Autodiff)]
pub trait CausalConvOps: Backend {
    /// `silu(conv(xz[..., :Di]) + bias)`: `[W, L, Di]`.
    #[fusion(dtype = xz, shape = out_shape(xz, weight))]
    fn causal_conv_silu(
        xz: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// `(dxz, dweight, dbias)` of `Σ dy ⊙ out`, shaped like the inputs.
    #[fusion(meta = |xz, weight, bias, _dy| (xz.clone(), weight.clone(), bias.clone()))]
    fn causal_conv_silu_backward(
        xz: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// `[W, L, C, Di, K]` of an op's inputs.
fn dims(xz: &Shape, weight: &Shape) -> [usize; 5] {
    [xz[0], xz[1], xz[2], weight[0], weight[1]]
}

// ---------------------------------------------------------------------------
// Cube backend.
// ---------------------------------------------------------------------------

impl CausalConvOps for CubeBackend {
    fn causal_conv_silu(
        xz: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        kernels::forward(xz, weight, bias)
    }

    fn causal_conv_silu_backward(
        xz: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let [w, _, _, di, k] = dims(&xz.shape(), &weight.shape());
        let (dxz, parts) = kernels::backward(xz, weight, bias, dy);
        if w == 0 {
            let (device, dtype) = (dxz.device.clone(), dxz.dtype.into());
            let zeros = |shape| Self::float_zeros(shape, &device, dtype);
            return (dxz, zeros(Shape::new([di, k])), zeros(Shape::new([di])));
        }
        // Partials [W, Di·K + Di] (dw | db) summed over the windows at once.
        let sums = Self::float_sum_dim(parts, 0);
        let piece = |from: usize, len: usize, shape: Shape| {
            let cols = [
                Slice::new(0, Some(1), 1),
                Slice::new(from as isize, Some((from + len) as isize), 1),
            ];
            Self::float_reshape(Self::float_slice(sums.clone(), &cols), shape)
        };
        let dw = piece(0, di * k, Shape::new([di, k]));
        let db = piece(di * k, di, Shape::new([di]));
        (dxz, dw, db)
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

    /// One unit per output value `(w, t, c)`.
    #[cube(launch)]
    fn conv_forward_kernel<F: Float>(
        xz: &Tensor<F>,      // [W, L, C]
        weight: &Tensor<F>,  // [Di, K]
        bias: &Tensor<F>,    // [Di]
        out: &mut Tensor<F>, // [W, L, Di]
        total: u32,
        seq_len: u32,
        width_in: u32,
        channels: u32,
        #[comptime] k: usize,
        #[define(F)] _dtype: ElemType,
    ) {
        let pos = ABSOLUTE_POS;
        if pos >= total as usize {
            terminate!();
        }
        let di = channels as usize;
        let l = seq_len as usize;
        let cw = width_in as usize;
        let ch = pos % di;
        let row = pos / di; // w·L + t
        let t = row % l;
        let mut pre = bias[ch];
        #[unroll]
        for j in 0..k {
            // input step t - (K-1) + j, zero before the sequence starts
            if t + j >= k - 1 {
                pre += weight[ch * k + j] * xz[(row + j + 1 - k) * cw + ch];
            }
        }
        out[pos] = pre / (F::new(1.0_f32) + (-pre).exp());
    }

    /// One unit per (w, c), walking t = L-1 … 0. `ring[m]` holds the
    /// pre-activation gradient of step t+m.
    #[cube(launch)]
    fn conv_backward_kernel<F: Float>(
        xz: &Tensor<F>,        // [W, L, C]
        weight: &Tensor<F>,    // [Di, K]
        bias: &Tensor<F>,      // [Di]
        dy: &Tensor<F>,        // [W, L, Di]
        dxz: &mut Tensor<F>,   // [W, L, C]: dx, zero past Di
        parts: &mut Tensor<F>, // [W, Di·K + Di]: dw partials | db partials
        windows: u32,
        seq_len: u32,
        width_in: u32,
        channels: u32,
        reps: u32, // ⌈C / Di⌉: columns ch + m·Di (m ≥ 1) below C get zero
        #[comptime] k: usize,
        #[define(F)] _dtype: ElemType,
    ) {
        let di = channels as usize;
        let l = seq_len as usize;
        let cw = width_in as usize;
        let pos = ABSOLUTE_POS;
        if pos >= (windows * channels) as usize {
            terminate!();
        }
        let w = pos / di;
        let ch = pos % di;
        let mut wt = Array::<F>::new(k);
        let mut ring = Array::<F>::new(k);
        let mut dw = Array::<F>::new(k);
        #[unroll]
        for j in 0..k {
            wt[j] = weight[ch * k + j];
            ring[j] = F::new(0.0_f32);
            dw[j] = F::new(0.0_f32);
        }
        let b_ch = bias[ch];
        let mut db = F::new(0.0_f32);
        for back in 0..l {
            let t = l - 1 - back;
            let row = w * l + t;
            // Recompute the pre-activation from the K inputs it reads.
            let mut xs = Array::<F>::new(k);
            let mut pre = b_ch;
            #[unroll]
            for j in 0..k {
                xs[j] = F::new(0.0_f32);
                if t + j >= k - 1 {
                    xs[j] = xz[(row + j + 1 - k) * cw + ch];
                }
                pre += wt[j] * xs[j];
            }
            let s = F::new(1.0_f32) / (F::new(1.0_f32) + (-pre).exp());
            let gp = dy[row * di + ch] * s * (F::new(1.0_f32) + pre * (F::new(1.0_f32) - s));
            db += gp;
            #[unroll]
            for j in 0..k {
                dw[j] += gp * xs[j];
            }
            // Shift: ring[m] ← ring[m-1], ring[0] ← gp.
            #[unroll]
            for m in 0..k - 1 {
                let i = k - 1 - m;
                ring[i] = ring[i - 1];
            }
            ring[0] = gp;
            // x_t feeds steps t..t+K-1 through taps K-1..0.
            let mut dx = F::new(0.0_f32);
            #[unroll]
            for m in 0..k {
                dx += wt[k - 1 - m] * ring[m];
            }
            dxz[row * cw + ch] = dx;
            for m in 1..reps as usize {
                let col = ch + m * di;
                if col < cw {
                    dxz[row * cw + col] = F::new(0.0_f32);
                }
            }
        }
        let width = di * k + di;
        #[unroll]
        for j in 0..k {
            parts[w * width + ch * k + j] = dw[j];
        }
        parts[w * width + di * k + ch] = db;
    }

    use crate::model::scan::kernel::empty;

    fn prepare(tensors: Vec<CubeTensor>) -> (Vec<CubeTensor>, [usize; 5]) {
        let tensors: Vec<CubeTensor> = tensors.into_iter().map(into_contiguous).collect();
        let dims = super::dims(&tensors[0].shape(), &tensors[1].shape());
        let [w, l, c, di, k] = dims;
        assert!(
            di <= c,
            "causal conv: {di} channels asked of a {c}-wide input"
        );
        assert!(
            (1..=super::MAX_WIDTH).contains(&k),
            "causal conv: width {k} outside 1..={}",
            super::MAX_WIDTH
        );
        assert!(
            w * l * c <= u32::MAX as usize,
            "causal conv: input too large"
        );
        (tensors, dims)
    }

    /// `[W, L, Di]`.
    pub(super) fn forward(xz: CubeTensor, weight: CubeTensor, bias: CubeTensor) -> CubeTensor {
        let (tensors, [w, l, c, di, k]) = prepare(vec![xz, weight, bias]);
        let out = empty(&tensors[0], Shape::new([w, l, di]));
        let total = w * l * di;
        if total == 0 {
            return out;
        }
        let client = out.client.clone();
        let cube_dim = CubeDim::new(&client, total);
        let cube_count = calculate_cube_count_elemwise(&client, total, cube_dim);
        let mut it = tensors.into_iter();
        let mut next = || it.next().expect("three inputs").into_tensor_arg();
        let (xz, weight, bias) = (next(), next(), next());
        conv_forward_kernel::launch(
            &client,
            cube_count,
            cube_dim,
            xz,
            weight,
            bias,
            out.clone().into_tensor_arg(),
            total as u32,
            l as u32,
            c as u32,
            di as u32,
            k,
            dtype_to_storage_type(out.dtype),
        );
        out
    }

    /// `(dxz [W, L, C], parts [W, Di·K + Di])`: the weight and bias partials
    /// side by side.
    pub(super) fn backward(
        xz: CubeTensor,
        weight: CubeTensor,
        bias: CubeTensor,
        dy: CubeTensor,
    ) -> (CubeTensor, CubeTensor) {
        let (tensors, [w, l, c, di, k]) = prepare(vec![xz, weight, bias, dy]);
        let like = &tensors[0];
        let parts = empty(like, Shape::new([w, di * k + di]));
        let units = w * di;
        if units == 0 {
            let dxz = burn_cubecl::ops::numeric::zeros_client(
                like.client.clone(),
                like.device.clone(),
                Shape::new([w, l, c]),
                like.dtype,
            );
            return (dxz, parts);
        }
        // The kernel writes every element, zeros past channel Di included.
        let dxz = empty(like, Shape::new([w, l, c]));
        let client = like.client.clone();
        let dtype = like.dtype;
        let cube_dim = CubeDim::new(&client, units);
        let cube_count = calculate_cube_count_elemwise(&client, units, cube_dim);
        let mut it = tensors.into_iter();
        let mut next = || it.next().expect("four inputs").into_tensor_arg();
        let (xz, weight, bias, dy) = (next(), next(), next(), next());
        conv_backward_kernel::launch(
            &client,
            cube_count,
            cube_dim,
            xz,
            weight,
            bias,
            dy,
            dxz.clone().into_tensor_arg(),
            parts.clone().into_tensor_arg(),
            w as u32,
            l as u32,
            c as u32,
            di as u32,
            c.div_ceil(di) as u32,
            k,
            dtype_to_storage_type(dtype),
        );
        (dxz, parts)
    }
}

// ---------------------------------------------------------------------------
// Flex (CPU): host loops.
// ---------------------------------------------------------------------------

fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// Pre-activations of windows `first..` into `pre` (whole windows of
/// `L·Di` values), from host copies.
fn host_pre(
    xz: &[f32],
    w: &[f32],
    b: &[f32],
    [_, l, c, di, k]: [usize; 5],
    first: usize,
    pre: &mut [f32],
) {
    for (i, out) in pre.chunks_mut(di).enumerate() {
        let row = first * l + i;
        let t = row % l;
        for (ch, o) in out.iter_mut().enumerate() {
            let mut acc = b[ch];
            for j in 0..k {
                if t + j + 1 >= k {
                    acc += w[ch * k + j] * xz[(row + j + 1 - k) * c + ch];
                }
            }
            *o = acc;
        }
    }
}

impl CausalConvOps for Flex {
    fn causal_conv_silu(
        xz: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let s = dims(&xz.shape(), &weight.shape());
        let [nw, l, _, di, _] = s;
        let [xz, w, b] = host_vecs([xz, weight, bias]);
        let mut out = vec![0f32; nw * l * di];
        par_blocks(&mut out, l * di, |first, piece| {
            host_pre(&xz, &w, &b, s, first, piece);
            piece.iter_mut().for_each(|v| *v = silu(*v));
        });
        flex_tensor(out, vec![nw, l, di])
    }

    fn causal_conv_silu_backward(
        xz: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let s = dims(&xz.shape(), &weight.shape());
        let [nw, l, c, di, k] = s;
        let [xz, w, b, dy] = host_vecs([xz, weight, bias, dy]);
        // Each thread owns whole windows of dxz (a window's inputs feed only
        // its own outputs) and returns its dw, db partials.
        let mut dxz = vec![0f32; nw * l * c];
        let partials = par_blocks(&mut dxz, l * c, |first, piece| {
            let windows = piece.len() / (l * c).max(1);
            let mut pre = vec![0f32; windows * l * di];
            host_pre(&xz, &w, &b, s, first, &mut pre);
            let mut dw = vec![0f32; di * k];
            let mut db = vec![0f32; di];
            for (i, &p) in pre.iter().enumerate() {
                let (local_row, ch) = (i / di, i % di);
                let row = first * l + local_row;
                let sg = 1.0 / (1.0 + (-p).exp());
                let g = dy[row * di + ch] * sg * (1.0 + p * (1.0 - sg));
                db[ch] += g;
                let t = row % l;
                for j in 0..k {
                    if t + j + 1 >= k {
                        let src = (row + j + 1 - k) * c + ch;
                        dw[ch * k + j] += g * xz[src];
                        piece[src - first * l * c] += g * w[ch * k + j];
                    }
                }
            }
            (dw, db)
        });
        let (dw, db) = sum_partial_pairs(partials, (di * k, di));
        (
            flex_tensor(dxz, vec![nw, l, c]),
            flex_tensor(dw, vec![di, k]),
            flex_tensor(db, vec![di]),
        )
    }
}

// ---------------------------------------------------------------------------
// Autodiff.
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct ConvBackward;

impl<B: Backend + CausalConvOps> Backward<B, 3> for ConvBackward {
    /// The inputs (xz, weight, bias).
    type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [p_xz, p_w, p_b] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let (xz, w, b) = ops.state;
        let (dxz, dw, db) = B::causal_conv_silu_backward(xz, w, b, dy);
        for (parent, grad) in [(p_xz, dxz), (p_w, dw), (p_b, db)] {
            if let Some(node) = parent {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

impl<B: Backend + CausalConvOps, C: CheckpointStrategy> CausalConvOps for Autodiff<B, C> {
    fn causal_conv_silu(
        xz: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let guards = [xz.node(), weight.node(), bias.node()];
        let (xz, weight, bias) = (
            xz.into_primitive(),
            weight.into_primitive(),
            bias.into_primitive(),
        );
        match ConvBackward.prepare::<C>(guards).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let out = B::causal_conv_silu(xz.clone(), weight.clone(), bias.clone());
                prep.finish((xz, weight, bias), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::causal_conv_silu(xz, weight, bias)),
        }
    }

    /// Not differentiable itself.
    fn causal_conv_silu_backward(
        xz: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let (dxz, dw, db) = B::causal_conv_silu_backward(
            xz.into_primitive(),
            weight.into_primitive(),
            bias.into_primitive(),
            dy.into_primitive(),
        );
        let lift = <Self as AutodiffBackend>::from_inner;
        (lift(dxz), lift(dw), lift(db))
    }
}

/// `silu(conv(xz[..., :Di]) + bias)` for `xz [W, L, C]`, `weight [Di, K]`,
/// `bias [Di]`: `[W, L, Di]`, differentiable through the handwritten
/// backward. Runs on Flex and on cubecl devices (the same set as the fused
/// scan: see [`crate::model::scan::kernel::supported`]).
pub fn causal_conv_silu(xz: Tensor<3>, weight: Tensor<2>, bias: Tensor<1>) -> Tensor<3> {
    let [_, _, c] = xz.dims();
    let [di, k] = weight.dims();
    assert!(
        di <= c,
        "causal conv: {di} channels asked of a {c}-wide input"
    );
    assert_eq!(bias.dims(), [di], "causal conv: bias must be [Di]");
    assert!(
        (1..=MAX_WIDTH).contains(&k),
        "causal conv: width {k} outside 1..={MAX_WIDTH}"
    );
    Tensor::from_dispatch(<Dispatch as CausalConvOps>::causal_conv_silu(
        xz.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
    ))
}
