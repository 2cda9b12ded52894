//! Where each orthogonal view looks: the world (RAS+ mm) directions of its
//! screen axes, the letters at its edges, and the mapping between a screen
//! point and a world point. The slice shader and mouse picking both use
//! [`ViewCamera`], so what is drawn under the cursor is what is picked.

use serde::{Deserialize, Serialize};

/// One of the three orthogonal views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ViewAxis {
    /// Looking down the z axis (slices of constant z).
    Axial,
    /// Looking along the y axis (constant y).
    Coronal,
    /// Looking along the x axis (constant x).
    Sagittal,
}

impl ViewAxis {
    /// All views in display order.
    pub const ALL: [ViewAxis; 3] = [ViewAxis::Axial, ViewAxis::Coronal, ViewAxis::Sagittal];

    /// The world axis (0 = x, 1 = y, 2 = z) that is constant on the slice.
    pub fn normal(self) -> usize {
        match self {
            ViewAxis::Axial => 2,
            ViewAxis::Coronal => 1,
            ViewAxis::Sagittal => 0,
        }
    }

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            ViewAxis::Axial => "axial",
            ViewAxis::Coronal => "coronal",
            ViewAxis::Sagittal => "sagittal",
        }
    }

    /// World unit vectors along screen-right and screen-down. Neurological
    /// convention puts the subject's right (+x) on the screen's right;
    /// radiological flips x. Superior and anterior point up; sagittal views
    /// show anterior on the left (as FSLeyes does).
    pub fn screen_axes(self, radiological: bool) -> ([f64; 3], [f64; 3]) {
        let x = if radiological { -1.0 } else { 1.0 };
        match self {
            ViewAxis::Axial => ([x, 0.0, 0.0], [0.0, -1.0, 0.0]),
            ViewAxis::Coronal => ([x, 0.0, 0.0], [0.0, 0.0, -1.0]),
            ViewAxis::Sagittal => ([0.0, -1.0, 0.0], [0.0, 0.0, -1.0]),
        }
    }

    /// Anatomical letters at the left, right, top and bottom edges.
    pub fn edge_letters(self, radiological: bool) -> [&'static str; 4] {
        let (right, down) = self.screen_axes(radiological);
        let letter = |v: [f64; 3]| -> &'static str {
            match v {
                [x, _, _] if x > 0.5 => "R",
                [x, _, _] if x < -0.5 => "L",
                [_, y, _] if y > 0.5 => "A",
                [_, y, _] if y < -0.5 => "P",
                [_, _, z] if z > 0.5 => "S",
                _ => "I",
            }
        };
        let neg = |v: [f64; 3]| [-v[0], -v[1], -v[2]];
        [
            letter(neg(right)),
            letter(right),
            letter(neg(down)),
            letter(down),
        ]
    }
}

/// An axis-aligned world box (mm).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorldBox {
    /// Smallest corner.
    pub min: [f64; 3],
    /// Largest corner.
    pub max: [f64; 3],
}

impl WorldBox {
    /// The box covered by a voxel grid (voxel edges, not centres).
    pub fn of_grid(grid: &crate::volume::Grid) -> WorldBox {
        let mut min = [f64::INFINITY; 3];
        let mut max = [f64::NEG_INFINITY; 3];
        for corner in 0..8 {
            let ijk = [0, 1, 2].map(|a| {
                if corner >> a & 1 == 0 {
                    -0.5
                } else {
                    grid.dims[a] as f64 - 0.5
                }
            });
            let w = grid.affine.apply(ijk);
            for a in 0..3 {
                min[a] = min[a].min(w[a]);
                max[a] = max[a].max(w[a]);
            }
        }
        WorldBox { min, max }
    }

    /// The centre point.
    pub fn centre(&self) -> [f64; 3] {
        [0, 1, 2].map(|a| 0.5 * (self.min[a] + self.max[a]))
    }

    /// Edge lengths.
    pub fn size(&self) -> [f64; 3] {
        [0, 1, 2].map(|a| self.max[a] - self.min[a])
    }
}

/// How one view maps its screen rectangle to world space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewCamera {
    /// World point shown at the centre of the rectangle; its normal
    /// component is the slice position.
    pub centre: [f64; 3],
    /// World direction of screen-right (unit).
    pub right: [f64; 3],
    /// World direction of screen-down (unit).
    pub down: [f64; 3],
    /// Millimetres per screen point.
    pub mm_per_point: f64,
}

impl ViewCamera {
    /// The world point under a screen point, both relative to the view
    /// rectangle's centre (points).
    pub fn world_at(&self, offset: [f64; 2]) -> [f64; 3] {
        [0, 1, 2].map(|a| {
            self.centre[a]
                + self.mm_per_point * (offset[0] * self.right[a] + offset[1] * self.down[a])
        })
    }

    /// The screen offset (points, from the rectangle centre) of a world
    /// point projected onto the slice plane.
    pub fn offset_of(&self, world: [f64; 3]) -> [f64; 2] {
        let d = [0, 1, 2].map(|a| world[a] - self.centre[a]);
        let dot = |v: [f64; 3]| d[0] * v[0] + d[1] * v[1] + d[2] * v[2];
        [
            dot(self.right) / self.mm_per_point,
            dot(self.down) / self.mm_per_point,
        ]
    }
}

/// Shared view state: the crosshair, zoom, per-view pan and orientation.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    /// The world box the views fit to (the underlay's extent).
    pub bounds: WorldBox,
    /// The crosshair (world mm); each view shows the slice through it.
    pub crosshair: [f64; 3],
    /// Zoom factor (1 = the box fits the view).
    pub zoom: f64,
    /// Pan of each view in mm along its screen right/down axes.
    pub pan: [[f64; 2]; 3],
    /// Radiological (subject's left on the screen's right) display.
    pub radiological: bool,
}

impl Scene {
    /// A scene fitted to `bounds` with the crosshair at its centre.
    pub fn new(bounds: WorldBox) -> Scene {
        Scene {
            bounds,
            crosshair: bounds.centre(),
            zoom: 1.0,
            pan: [[0.0; 2]; 3],
            radiological: false,
        }
    }

    /// Resets zoom, pan and crosshair (the `r` key); keeps the orientation.
    pub fn reset(&mut self) {
        *self = Scene {
            radiological: self.radiological,
            ..Scene::new(self.bounds)
        };
    }

    /// The camera of `axis` for a view rectangle of `size` points.
    pub fn camera(&self, axis: ViewAxis, size: [f64; 2]) -> ViewCamera {
        let (right, down) = axis.screen_axes(self.radiological);
        let extent = self.bounds.size();
        let span = |v: [f64; 3]| (0..3).map(|a| v[a].abs() * extent[a]).sum::<f64>();
        let fit = (span(right) / size[0].max(1.0)).max(span(down) / size[1].max(1.0));
        let mm_per_point = 1.04 * fit / self.zoom;
        let box_centre = self.bounds.centre();
        let pan = self.pan[axis as usize];
        let n = axis.normal();
        let centre = [0, 1, 2].map(|a| {
            if a == n {
                self.crosshair[a]
            } else {
                box_centre[a] - pan[0] * right[a] - pan[1] * down[a]
            }
        });
        ViewCamera {
            centre,
            right,
            down,
            mm_per_point,
        }
    }

    /// Moves the crosshair by `steps` slices of `step_mm` along the normal
    /// of `axis`, staying inside the bounds.
    pub fn step_slice(&mut self, axis: ViewAxis, steps: f64, step_mm: f64) {
        let n = axis.normal();
        // Screen-up is +normal for axial/coronal (S, A) and +x for sagittal.
        let v = self.crosshair[n] + steps * step_mm;
        self.crosshair[n] = v.clamp(self.bounds.min[n], self.bounds.max[n]);
    }

    /// Moves the crosshair within the plane of `axis` by screen steps
    /// (right, down) of `step_mm` each.
    pub fn nudge(&mut self, axis: ViewAxis, right_steps: f64, down_steps: f64, step_mm: f64) {
        let (right, down) = axis.screen_axes(self.radiological);
        for a in 0..3 {
            let v = self.crosshair[a] + step_mm * (right_steps * right[a] + down_steps * down[a]);
            self.crosshair[a] = v.clamp(self.bounds.min[a], self.bounds.max[a]);
        }
    }

    /// Moves the crosshair to `world` (clamped to the bounds).
    pub fn set_crosshair(&mut self, world: [f64; 3]) {
        self.crosshair = [0, 1, 2].map(|a| world[a].clamp(self.bounds.min[a], self.bounds.max[a]));
    }

    /// Zooms by `factor` (clamped to 0.5..=400) about each view's centre.
    pub fn zoom_by(&mut self, factor: f64) {
        self.zoom = (self.zoom * factor).clamp(0.5, 400.0);
    }

    /// Zooms by `factor` keeping the world point under `offset` (points
    /// from the centre of a `size` view of `axis`) where it is on screen.
    pub fn zoom_at(&mut self, axis: ViewAxis, size: [f64; 2], offset: [f64; 2], factor: f64) {
        let anchor = self.camera(axis, size).world_at(offset);
        self.zoom_by(factor);
        let after = self.camera(axis, size).world_at(offset);
        let (right, down) = axis.screen_axes(self.radiological);
        let d = [0, 1, 2].map(|a| after[a] - anchor[a]);
        let pan = &mut self.pan[axis as usize];
        pan[0] += (0..3).map(|a| d[a] * right[a]).sum::<f64>();
        pan[1] += (0..3).map(|a| d[a] * down[a]).sum::<f64>();
    }

    /// Pans every view so that `world` is at its centre.
    pub fn centre_views_on(&mut self, world: [f64; 3]) {
        let c = self.bounds.centre();
        let d = [0, 1, 2].map(|a| c[a] - world[a]);
        for axis in ViewAxis::ALL {
            let (right, down) = axis.screen_axes(self.radiological);
            self.pan[axis as usize] = [
                (0..3).map(|a| d[a] * right[a]).sum(),
                (0..3).map(|a| d[a] * down[a]).sum(),
            ];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::{Affine, Grid};

    fn scene() -> Scene {
        // MNI 2 mm grid: x from -90 to 90 (edges -91..91).
        Scene::new(WorldBox::of_grid(&Grid::mni_2mm()))
    }

    #[test]
    fn grid_box_covers_voxel_edges() {
        let g = Grid::new(
            [10, 20, 30],
            Affine::from_rows([
                [-2.0, 0.0, 0.0, 10.0],
                [0.0, 1.0, 0.0, 0.0],
                [0.0, 0.0, 3.0, -5.0],
            ]),
        );
        let b = WorldBox::of_grid(&g);
        assert_eq!(b.min, [10.0 - 2.0 * 9.5, -0.5, -6.5]);
        assert_eq!(b.max, [11.0, 19.5, -5.0 + 3.0 * 29.5]);
    }

    #[test]
    fn screen_and_world_round_trip_in_every_view() {
        let mut s = scene();
        s.zoom = 1.7;
        s.pan[1] = [12.0, -4.0];
        s.crosshair = [10.0, -20.0, 30.0];
        for axis in ViewAxis::ALL {
            for radiological in [false, true] {
                s.radiological = radiological;
                let cam = s.camera(axis, [300.0, 200.0]);
                let w = cam.world_at([37.0, -81.0]);
                // The slice passes through the crosshair.
                assert!((w[axis.normal()] - s.crosshair[axis.normal()]).abs() < 1e-9);
                let back = cam.offset_of(w);
                assert!((back[0] - 37.0).abs() < 1e-9 && (back[1] + 81.0).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn neurological_puts_right_on_the_right_and_radiological_flips_it() {
        let mut s = scene();
        let cam = s.camera(ViewAxis::Axial, [200.0, 200.0]);
        assert!(cam.world_at([50.0, 0.0])[0] > cam.world_at([-50.0, 0.0])[0]);
        assert!(cam.world_at([0.0, -50.0])[1] > cam.world_at([0.0, 50.0])[1]);
        assert_eq!(ViewAxis::Axial.edge_letters(false), ["L", "R", "A", "P"]);
        s.radiological = true;
        let cam = s.camera(ViewAxis::Axial, [200.0, 200.0]);
        assert!(cam.world_at([50.0, 0.0])[0] < cam.world_at([-50.0, 0.0])[0]);
        assert_eq!(ViewAxis::Axial.edge_letters(true), ["R", "L", "A", "P"]);
        assert_eq!(ViewAxis::Coronal.edge_letters(false), ["L", "R", "S", "I"]);
        assert_eq!(ViewAxis::Sagittal.edge_letters(false), ["A", "P", "S", "I"]);
    }

    #[test]
    fn fit_shows_the_whole_box_and_zoom_scales() {
        let s = scene();
        let cam = s.camera(ViewAxis::Axial, [400.0, 400.0]);
        // y spans 218 mm, the longest in-plane side: it fits 400 points with a margin.
        let top = cam.world_at([0.0, -200.0])[1];
        assert!(top >= s.bounds.max[1], "{top}");
        assert!(top < s.bounds.max[1] + 10.0, "{top}");
        let mut z = s.clone();
        z.zoom_by(2.0);
        let cam2 = z.camera(ViewAxis::Axial, [400.0, 400.0]);
        assert!((cam.mm_per_point / cam2.mm_per_point - 2.0).abs() < 1e-12);
    }

    #[test]
    fn zooming_at_a_point_keeps_it_under_the_mouse() {
        let mut s = scene();
        let size = [300.0, 240.0];
        let offset = [70.0, -40.0];
        for axis in ViewAxis::ALL {
            let before = s.camera(axis, size).world_at(offset);
            s.zoom_at(axis, size, offset, 3.0);
            let after = s.camera(axis, size).world_at(offset);
            for a in 0..3 {
                assert!((before[a] - after[a]).abs() < 1e-9, "{axis:?}");
            }
        }
        s.centre_views_on([10.0, -30.0, 25.0]);
        for axis in ViewAxis::ALL {
            let c = s.camera(axis, size).world_at([0.0, 0.0]);
            for a in 0..3 {
                if a != axis.normal() {
                    assert!((c[a] - [10.0, -30.0, 25.0][a]).abs() < 1e-9);
                }
            }
        }
    }

    #[test]
    fn stepping_and_nudging_stay_inside_the_box() {
        let mut s = scene();
        s.step_slice(ViewAxis::Axial, 1000.0, 2.0);
        assert_eq!(s.crosshair[2], s.bounds.max[2]);
        let before = s.crosshair;
        s.nudge(ViewAxis::Coronal, 1.0, 0.0, 2.0);
        assert_eq!(s.crosshair[0], before[0] + 2.0);
        s.reset();
        assert_eq!(s.crosshair, s.bounds.centre());
    }
}
