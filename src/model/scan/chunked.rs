//! The selective scan as a two-level parallel prefix scan in tensor ops.
//!
//! The recurrence `h_t = a_t h_{t-1} + b_t` composes associatively:
//! `(a₂, b₂)∘(a₁, b₁) = (a₂a₁, a₂b₁ + b₂)`. The sequence is cut into chunks of
//! K steps; a Hillis–Steele scan (log₂K doubling steps) runs inside every
//! chunk at once, a second one over the chunk summaries (log₂(L/K) steps on
//! tensors K times smaller) gives the state entering each chunk, and one
//! multiply-add combines them. Only products of decays ≤ 1 are formed, so
//! it is as exact as the sequential loop (no exp(-ΣΔA) rescaling), and
//! autodiff differentiates it on every backend.

use super::{ScanInput, discretise, read_out};
use burn::prelude::*;

/// Steps per chunk (a power of two).
pub const DEFAULT_CHUNK: usize = 16;

/// Runs the scan with chunks of `chunk` steps (rounded to a power of two ≥ 1).
pub fn scan(input: ScanInput, chunk: usize) -> Tensor<3> {
    let (decay, drive) = discretise(&input);
    let [w, l, di, n] = decay.dims();
    let k = chunk.max(1).next_power_of_two().min(l.next_power_of_two());
    let chunks = l.div_ceil(k);
    let padded = chunks * k;
    // Padding steps at the end (decay 1, drive 0) cannot affect earlier states.
    let (decay, drive) = if padded > l {
        let dev = decay.device();
        (
            Tensor::cat(vec![decay, Tensor::ones([w, padded - l, di, n], &dev)], 1),
            Tensor::cat(vec![drive, Tensor::zeros([w, padded - l, di, n], &dev)], 1),
        )
    } else {
        (decay, drive)
    };
    let decay = decay.reshape([w, chunks, k, di * n]);
    let drive = drive.reshape([w, chunks, k, di * n]);
    // Inclusive scan inside every chunk (state 0 entering the chunk).
    let (cum_decay, local) = hillis_steele(decay, drive, 2);
    // Chunk summaries → inclusive scan over chunks → state leaving each chunk.
    let last = |t: Tensor<4>| t.narrow(2, k - 1, 1);
    let (_, leaving) = hillis_steele(last(cum_decay.clone()), last(local.clone()), 1);
    // The state entering chunk j is the one leaving chunk j-1 (zero for j = 0).
    let entering = if chunks > 1 {
        let zeros = Tensor::zeros([w, 1, 1, di * n], &leaving.device());
        Tensor::cat(vec![zeros, leaving.narrow(1, 0, chunks - 1)], 1)
    } else {
        leaving.zeros_like()
    };
    let h = local + cum_decay * entering;
    let h = h.reshape([w, padded, di, n]).narrow(1, 0, l);
    read_out(h, &input)
}

/// Inclusive Hillis–Steele scan of `(a, b)` pairs along `dim`:
/// returns (∏ a up to t, state at t from a zero start).
fn hillis_steele(mut a: Tensor<4>, mut b: Tensor<4>, dim: usize) -> (Tensor<4>, Tensor<4>) {
    let len = a.dims()[dim];
    let mut offset = 1;
    while offset < len {
        let a_prev = shift(a.clone(), dim, offset, 1.0);
        let b_prev = shift(b.clone(), dim, offset, 0.0);
        b = b + a.clone() * b_prev;
        a = a * a_prev;
        offset *= 2;
    }
    (a, b)
}

/// `out[t] = x[t - offset]` along `dim`, `fill` where `t < offset`.
fn shift(x: Tensor<4>, dim: usize, offset: usize, fill: f32) -> Tensor<4> {
    let mut shape = x.dims();
    let len = shape[dim];
    shape[dim] = offset;
    let head = Tensor::full(shape, fill, &x.device());
    Tensor::cat(vec![head, x.narrow(dim, 0, len - offset)], dim)
}
