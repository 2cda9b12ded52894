//! Token layouts against their definitions in SPEC-model, checked on index
//! tensors: window partition order, patch order, the 2×2×2 merge gather and
//! its inverse (PatchExpanding's channel order), and the mask-token index.

mod common;

use burn::prelude::*;
use roimae::model::layout::{
    gather_2x2x2, merge, merge_shifted, partition, partition_shifted, patchify, scatter_2x2x2,
    unpatchify,
};
use roimae::model::mae::window_position_index;

fn iota6(shape: [usize; 6], device: &Device) -> Tensor<6> {
    let n: usize = shape.iter().product();
    Tensor::<1, Int>::arange(0..n as i64, device)
        .float()
        .reshape(shape)
}

use common::values;

/// Row-major index of `i` in `shape`.
fn flat(i: &[usize], shape: &[usize]) -> usize {
    i.iter().zip(shape).fold(0, |acc, (&v, &s)| acc * s + v)
}

#[test]
fn partition_orders_windows_and_tokens_x_y_z_t_with_t_fastest() {
    let dev = Device::flex();
    let shape = [2, 4, 6, 2, 8, 3];
    let w = [2, 3, 1, 4];
    let out = values(partition(iota6(shape, &dev), w));
    let n = [2, 2, 2, 2]; // windows per axis
    let wl = 2 * 3 * 4;
    for b in 0..2 {
        for (gx, gy, gz, gt) in itertools(shape) {
            for c in 0..3 {
                let block = flat(
                    &[b, gx / w[0], gy / w[1], gz / w[2], gt / w[3]],
                    &[2, n[0], n[1], n[2], n[3]],
                );
                let pos = flat(&[gx % w[0], gy % w[1], gz % w[2], gt % w[3]], &w);
                let got = out[(block * wl + pos) * 3 + c];
                assert_eq!(got as usize, flat(&[b, gx, gy, gz, gt, c], &shape));
            }
        }
    }
    let back = merge(partition(iota6(shape, &dev), w), w, [2, 4, 6, 2, 8]);
    assert_eq!(values(back), values(iota6(shape, &dev)));
}

fn itertools(shape: [usize; 6]) -> Vec<(usize, usize, usize, usize)> {
    let mut v = Vec::new();
    for x in 0..shape[1] {
        for y in 0..shape[2] {
            for z in 0..shape[3] {
                for t in 0..shape[4] {
                    v.push((x, y, z, t));
                }
            }
        }
    }
    v
}

#[test]
fn patches_hold_x_y_z_offsets_with_z_fastest() {
    let dev = Device::flex();
    let (p, s, t) = (2, 4, 3);
    let input = iota6([1, 1, s, s, s, t], &dev);
    let patches = values(patchify(input.clone(), p));
    // Patch (1, 0, 1) at frame 2, offset (1, 1, 0): voxel (3, 1, 2).
    let token = flat(&[1, 0, 1, 2], &[2, 2, 2, t]);
    let offset = flat(&[1, 1, 0], &[p, p, p]);
    assert_eq!(
        patches[token * 8 + offset] as usize,
        flat(&[3, 1, 2, 2], &[s, s, s, t])
    );
    assert_eq!(
        values(unpatchify(patchify(input.clone(), p), p)),
        values(input)
    );
}

#[test]
fn merge_gather_concatenates_the_eight_subgrids_k_fastest() {
    let dev = Device::flex();
    let shape = [1, 4, 4, 4, 2, 3];
    let out = values(gather_2x2x2(iota6(shape, &dev)));
    for (x, y, z, t) in [(0, 0, 0, 0), (1, 0, 1, 1), (1, 1, 1, 0), (0, 1, 0, 1)] {
        for (i, j, k) in [(0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 0, 0), (1, 1, 1)] {
            for c in 0..3 {
                let ch = (4 * i + 2 * j + k) * 3 + c;
                let got = out[flat(&[0, x, y, z, t, ch], &[1, 2, 2, 2, 2, 24])];
                let want = flat(&[0, 2 * x + i, 2 * y + j, 2 * z + k, t, c], &shape);
                assert_eq!(got as usize, want, "x{x} y{y} z{z} t{t} ijk {i}{j}{k} c{c}");
            }
        }
    }
    let grid = iota6(shape, &dev);
    assert_eq!(
        values(scatter_2x2x2(gather_2x2x2(grid.clone()))),
        values(grid)
    );
}

#[test]
fn mask_token_index_is_the_position_inside_the_window() {
    let idx = window_position_index([8, 4, 4, 8], [4, 4, 4, 4]);
    assert_eq!(idx.len(), 8 * 4 * 4 * 8);
    // token (5, 2, 3, 6): ((1·4 + 2)·4 + 3)·4 + 2 = 110
    assert_eq!(idx[flat(&[5, 2, 3, 6], &[8, 4, 4, 8])], 110);
    assert_eq!(*idx.iter().max().unwrap(), 255);
}

/// The shifted-window gather equals the roll it replaces (NeuroSTORM's
/// `torch.roll(x, -shift)` before partitioning and `+shift` after merging),
/// forward and in its gradient.
#[test]
fn shifted_partition_and_merge_equal_roll_then_partition() {
    let dev = Device::flex();
    let shape = [2, 4, 6, 2, 8, 3];
    let grid = [2, 4, 6, 2, 8];
    let w = [2, 3, 1, 4];
    let shift = [1, 2, 0, 3];
    let back: Vec<i64> = shift.iter().map(|&s| s as i64).collect();
    let fwd: Vec<i64> = back.iter().map(|s| -s).collect();
    let x = iota6(shape, &dev);
    let want = values(partition(x.clone().roll(&fwd, &[1, 2, 3, 4]), w));
    let got = values(partition_shifted(x.clone(), w, shift));
    assert_eq!(got, want);
    let seqs = partition_shifted(x.clone(), w, shift);
    let want = values(merge(seqs.clone(), w, grid).roll(&back, &[1, 2, 3, 4]));
    assert_eq!(values(merge_shifted(seqs, w, shift, grid)), want);
    assert_eq!(
        values(merge_shifted(
            partition_shifted(x.clone(), w, shift),
            w,
            shift,
            grid
        )),
        values(x)
    );

    // Gradients: a weighted sum through the gather equals the same weights
    // gathered back.
    let ad = Device::flex().autodiff();
    let x = iota6(shape, &ad).require_grad();
    let weights = iota6(shape, &ad).cos();
    let weights_seq = partition(weights.clone().roll(&fwd, &[1, 2, 3, 4]), w);
    let grads = (partition_shifted(x.clone(), w, shift) * weights_seq)
        .sum()
        .backward();
    let g = x.grad(&grads).expect("gradient");
    assert_eq!(values(g), values(weights));
}
