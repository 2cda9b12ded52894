//! Fused model ops with handwritten backward passes, as burn backend
//! extensions: one CubeCL kernel (plus the reductions of parameter
//! gradients) where autodiff over the composed ops would launch dozens of
//! small kernels, and host loops on Flex.
//!
//! - [`conv`]: Mamba's depthwise causal conv1d + bias + SiLU on the first
//!   `Di` channels of the in_proj output;
//! - [`norm`]: LayerNorm over the last dim, also writing its rows straight
//!   into the (shifted) window order of the window Mamba;
//! - [`gelu`]: the MLP's GELU (host loops on Flex; on Cube composed from
//!   erf for an exact gradient).

pub mod conv;
pub mod gelu;
pub mod norm;

/// Runs `f(first_block, piece)` on pieces of `out` made of whole blocks of
/// `block` values, one piece per available core, and returns each piece's
/// result in order (the host loops' threading).
pub(crate) fn par_blocks<R: Send>(
    out: &mut [f32],
    block: usize,
    f: impl Fn(usize, &mut [f32]) -> R + Sync,
) -> Vec<R> {
    let block = block.max(1);
    let blocks = out.len().div_ceil(block);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, blocks.max(1));
    let per = blocks.div_ceil(threads).max(1);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = out
            .chunks_mut(per * block)
            .enumerate()
            .map(|(i, piece)| scope.spawn(move || f(i * per, piece)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("host loop thread panicked"))
            .collect()
    })
}

/// Sums the per-piece pairs of partial vectors that [`par_blocks`] workers
/// return (parameter gradients accumulated per thread) into one pair of
/// lengths `lens`.
pub(crate) fn sum_partial_pairs<T: Copy + Default + std::ops::AddAssign>(
    partials: Vec<(Vec<T>, Vec<T>)>,
    lens: (usize, usize),
) -> (Vec<T>, Vec<T>) {
    let mut a = vec![T::default(); lens.0];
    let mut b = vec![T::default(); lens.1];
    for (pa, pb) in partials {
        a.iter_mut().zip(pa).for_each(|(acc, v)| *acc += v);
        b.iter_mut().zip(pb).for_each(|(acc, v)| *acc += v);
    }
    (a, b)
}
