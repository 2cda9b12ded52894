//! The outline of the masked tokens on a slice: the voxel faces between a
//! masked and an unmasked voxel (or the grid's edge) in the slice through
//! the crosshair, as world-space segments, and their drawing over a view.
//! Works for any affine whose voxel axes are (up to sign) the world axes,
//! which is how preview volumes are placed.

use super::slice_geometry::{ViewAxis, ViewCamera};
use crate::volume::Volume;
use egui::{Color32, Pos2, Rect, Stroke};

/// One straight piece of outline, two world points (RAS mm).
pub type Segment = [[f64; 3]; 2];

/// The voxel axis that runs along world axis `world_axis` (the affine's
/// column with the largest component there).
fn voxel_axis_along(volume: &Volume, world_axis: usize) -> usize {
    let m = volume.grid.affine.rows();
    (0..3)
        .max_by(|&a, &b| m[world_axis][a].abs().total_cmp(&m[world_axis][b].abs()))
        .unwrap_or(world_axis)
}

/// The outline of the voxels of `mask` (> 0.5 at frame `frame`) on the
/// slice of `axis` through `crosshair`; empty when the slice misses the
/// grid.
pub fn mask_edges(
    mask: &Volume,
    frame: usize,
    axis: ViewAxis,
    crosshair: [f64; 3],
) -> Vec<Segment> {
    let Some(inverse) = mask.grid.affine.inverse() else {
        return Vec::new();
    };
    let dims = mask.grid.dims;
    let d = voxel_axis_along(mask, axis.normal());
    let s = inverse.apply(crosshair)[d].round();
    if s < 0.0 || s >= dims[d] as f64 {
        return Vec::new();
    }
    let s = s as usize;
    let (p, q) = match d {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    };
    let frame = frame.min(mask.frames.saturating_sub(1));
    let at = |ip: isize, iq: isize| -> bool {
        if ip < 0 || iq < 0 || ip >= dims[p] as isize || iq >= dims[q] as isize {
            return false;
        }
        let mut ijk = [0usize; 3];
        ijk[d] = s;
        ijk[p] = ip as usize;
        ijk[q] = iq as usize;
        mask.value(ijk[0], ijk[1], ijk[2], frame)
            .is_some_and(|v| v > 0.5)
    };
    let world = |fp: f64, fq: f64| {
        let mut ijk = [0.0f64; 3];
        ijk[d] = s as f64;
        ijk[p] = fp;
        ijk[q] = fq;
        mask.grid.affine.apply(ijk)
    };
    let mut out = Vec::new();
    for ip in -1..dims[p] as isize {
        for iq in -1..dims[q] as isize {
            let here = at(ip, iq);
            // The face towards +p and the face towards +q.
            if here != at(ip + 1, iq) && iq >= 0 {
                let fp = ip as f64 + 0.5;
                out.push([world(fp, iq as f64 - 0.5), world(fp, iq as f64 + 0.5)]);
            }
            if here != at(ip, iq + 1) && ip >= 0 {
                let fq = iq as f64 + 0.5;
                out.push([world(ip as f64 - 0.5, fq), world(ip as f64 + 0.5, fq)]);
            }
        }
    }
    out
}

/// Draws `segments` over the view `rect` seen through `camera`.
pub fn paint_edges(painter: &egui::Painter, camera: &ViewCamera, rect: Rect, segments: &[Segment]) {
    let c = rect.center();
    let screen = |w: [f64; 3]| {
        let o = camera.offset_of(w);
        Pos2::new(c.x + o[0] as f32, c.y + o[1] as f32)
    };
    let painter = painter.with_clip_rect(rect);
    let stroke = Stroke::new(1.2, Color32::from_rgb(80, 220, 255));
    for [a, b] in segments {
        painter.line_segment([screen(*a), screen(*b)], stroke);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::{Affine, Grid, VolumeMeta};

    fn mask_of(dims: [usize; 3], affine: Affine, on: &[[usize; 3]]) -> Volume {
        let grid = Grid::new(dims, affine);
        let mut data = vec![0.0f32; grid.n_voxels()];
        for &[i, j, k] in on {
            data[grid.index(i, j, k)] = 1.0;
        }
        Volume::from_data(grid, 1, data, VolumeMeta::new_f32(&grid, 1, None, true))
    }

    #[test]
    fn one_masked_voxel_has_a_square_outline_of_four_unit_faces() {
        let v = mask_of([4, 4, 4], Affine::identity(), &[[1, 2, 3]]);
        let edges = mask_edges(&v, 0, ViewAxis::Axial, [1.0, 2.0, 3.0]);
        assert_eq!(edges.len(), 4);
        for [a, b] in &edges {
            assert_eq!(a[2], 3.0);
            let len: f64 = (0..3).map(|i| (a[i] - b[i]).powi(2)).sum::<f64>().sqrt();
            assert!((len - 1.0).abs() < 1e-12);
            for p in [a, b] {
                assert!((p[0] - 1.0).abs() == 0.5 || (p[1] - 2.0).abs() == 0.5);
            }
        }
        // Another slice misses it; outside the grid gives nothing.
        assert!(mask_edges(&v, 0, ViewAxis::Axial, [1.0, 2.0, 2.0]).is_empty());
        assert!(mask_edges(&v, 0, ViewAxis::Axial, [1.0, 2.0, 9.0]).is_empty());
    }

    #[test]
    fn a_block_touching_the_edge_is_closed_by_the_grid_border_in_mm() {
        // A 2 × 3 block in the corner of a 2 mm LAS grid: perimeter 2·(2+3)
        // voxel faces, drawn 2 mm long, on the coronal slice.
        let affine = Affine::from_rows([
            [-2.0, 0.0, 0.0, 10.0],
            [0.0, 2.0, 0.0, 0.0],
            [0.0, 0.0, 2.0, 0.0],
        ]);
        let on = [
            [0, 1, 0],
            [1, 1, 0],
            [0, 1, 1],
            [1, 1, 1],
            [0, 1, 2],
            [1, 1, 2],
        ];
        let v = mask_of([5, 3, 5], affine, &on);
        let edges = mask_edges(&v, 0, ViewAxis::Coronal, [8.0, 2.0, 0.0]);
        assert_eq!(edges.len(), 10);
        for [a, b] in &edges {
            let len: f64 = (0..3).map(|i| (a[i] - b[i]).powi(2)).sum::<f64>().sqrt();
            assert!((len - 2.0).abs() < 1e-12);
            assert_eq!((a[1], b[1]), (2.0, 2.0));
        }
    }
}
