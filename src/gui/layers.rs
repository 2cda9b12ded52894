//! The two layers the viewer draws: a scalar image (an fMRI run or the
//! template) with its current volume on the GPU, and the AAL3 label layer
//! with its colour/mask lookup table. Both answer "what is at this world
//! point" for the location bar and picking, through the same inverse
//! affines the shader uses.

use super::slice_render::{Texels, TextureSource};
use crate::atlas::Atlas;
use crate::viewer::{MaskSelection, region_palette};
use crate::volume::{Affine, Volume};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Row-major 4x4 f32 matrix of an affine.
pub fn matrix_f32(a: &Affine) -> [[f32; 4]; 4] {
    a.rows().map(|r| r.map(|v| v as f32))
}

/// The voxel index nearest to `world` on a grid with inverse affine
/// `from_world`, or `None` outside `dims`.
pub fn voxel_at(from_world: &Affine, dims: [usize; 3], world: [f64; 3]) -> Option<[usize; 3]> {
    let p = from_world.apply(world);
    let mut ijk = [0usize; 3];
    for a in 0..3 {
        let r = p[a].round();
        if !(r >= 0.0 && r < dims[a] as f64) {
            return None;
        }
        ijk[a] = r as usize;
    }
    Some(ijk)
}

/// A scalar image: the whole (possibly 4D) volume and the frame on the GPU.
pub struct ScalarLayer {
    /// What the layer shows (file name or a description).
    pub name: String,
    /// The volume (frames loaded so far when still decoding).
    pub volume: Arc<Volume>,
    /// World mm to voxel index.
    pub from_world: Affine,
    /// The frame shown (0-based).
    pub frame: usize,
    /// The texture of the shown frame.
    pub texture: Arc<TextureSource>,
    /// The GPU texture slot (distinct per layer drawn in the same frame).
    pub slot: &'static str,
}

impl ScalarLayer {
    /// A layer showing frame 0 of `volume`; `None` when its affine is singular.
    pub fn new(name: impl Into<String>, volume: Arc<Volume>) -> Option<ScalarLayer> {
        ScalarLayer::with_slot(name, volume, "underlay")
    }

    /// A layer in its own GPU texture slot, for drawing several images at once.
    pub fn with_slot(
        name: impl Into<String>,
        volume: Arc<Volume>,
        slot: &'static str,
    ) -> Option<ScalarLayer> {
        let from_world = volume.grid.affine.inverse()?;
        let texture = frame_texture(&volume, 0, slot);
        Some(ScalarLayer {
            name: name.into(),
            volume,
            from_world,
            frame: 0,
            texture,
            slot,
        })
    }

    /// Shows frame `t` (clamped); uploads only when it changes.
    pub fn set_frame(&mut self, t: usize) {
        let t = t.min(self.volume.frames.saturating_sub(1));
        if t != self.frame {
            self.frame = t;
            self.texture = frame_texture(&self.volume, t, self.slot);
        }
    }

    /// Number of frames.
    pub fn frames(&self) -> usize {
        self.volume.frames
    }

    /// The voxel under `world`, if inside the grid.
    pub fn voxel_at(&self, world: [f64; 3]) -> Option<[usize; 3]> {
        voxel_at(&self.from_world, self.volume.grid.dims, world)
    }

    /// The value of the shown frame at a voxel.
    pub fn value(&self, ijk: [usize; 3]) -> Option<f32> {
        self.volume.value(ijk[0], ijk[1], ijk[2], self.frame)
    }

    /// The smallest voxel edge (mm): one slice step.
    pub fn slice_step_mm(&self) -> f64 {
        self.volume
            .grid
            .voxel_sizes()
            .into_iter()
            .fold(f64::INFINITY, f64::min)
            .max(0.1)
    }
}

fn frame_texture(volume: &Volume, t: usize, slot: &'static str) -> Arc<TextureSource> {
    let frame: Arc<[f32]> = volume.frame(t).into();
    TextureSource::new(slot, volume.grid.dims, Texels::Scalar(frame))
}

/// The atlas as drawn: label texture and the lookup table of colours with
/// the masked flag.
pub struct LabelLayer {
    /// The atlas.
    pub atlas: Arc<Atlas>,
    /// World mm to atlas voxel index.
    pub from_world: Affine,
    /// The label texture (uploaded once).
    pub texture: Arc<TextureSource>,
    /// Colours and masked flags, rebuilt when the selection changes.
    pub lut: Arc<TextureSource>,
    /// The colour of each region.
    pub palette: BTreeMap<u16, [u8; 3]>,
}

impl LabelLayer {
    /// The label layer of `atlas` with nothing masked.
    pub fn new(atlas: Arc<Atlas>) -> LabelLayer {
        let from_world = atlas
            .labels
            .grid
            .affine
            .inverse()
            .expect("the built-in atlas has an invertible affine");
        let texture = TextureSource::new(
            "labels",
            atlas.labels.grid.dims,
            Texels::Labels(atlas.labels.labels.clone().into()),
        );
        let palette = region_palette(&atlas.regions);
        let lut = label_lut(&palette, &MaskSelection::default());
        LabelLayer {
            atlas,
            from_world,
            texture,
            lut,
            palette,
        }
    }

    /// Rebuilds the lookup table after the selection changed.
    pub fn update_selection(&mut self, selection: &MaskSelection) {
        self.lut = label_lut(&self.palette, selection);
    }

    /// The region id at `world` (0 = background or outside).
    pub fn label_at(&self, world: [f64; 3]) -> u16 {
        voxel_at(&self.from_world, self.atlas.labels.grid.dims, world)
            .map_or(0, |[i, j, k]| self.atlas.labels.at(i, j, k))
    }
}

/// One RGBA entry per label id: the region colour, alpha 255 when masked.
fn label_lut(palette: &BTreeMap<u16, [u8; 3]>, selection: &MaskSelection) -> Arc<TextureSource> {
    let max_id = palette.keys().max().copied().unwrap_or(0) as usize;
    let mut rows = vec![[0u8; 4]; max_id + 1];
    for (&id, &[r, g, b]) in palette {
        let flag = if selection.contains(id) { 255 } else { 0 };
        rows[id as usize] = [r, g, b, flag];
    }
    TextureSource::new(
        "label-lut",
        [rows.len(), 1, 1],
        Texels::Colours(rows.into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::Grid;

    #[test]
    fn voxel_lookup_rounds_to_the_nearest_centre_and_rejects_outside() {
        let g = Grid::mni_2mm();
        let inv = g.affine.inverse().unwrap();
        let ijk = [45, 63, 36];
        let w = g.world(ijk);
        assert_eq!(voxel_at(&inv, g.dims, w), Some(ijk));
        assert_eq!(
            voxel_at(&inv, g.dims, [w[0] + 0.9, w[1] - 0.9, w[2]]),
            Some(ijk)
        );
        assert_eq!(voxel_at(&inv, g.dims, [500.0, 0.0, 0.0]), None);
    }

    #[test]
    fn label_lookup_agrees_with_the_atlas_voxels() {
        let atlas = Arc::new(Atlas::aal3().unwrap());
        let layer = LabelLayer::new(atlas.clone());
        let hippo = atlas.regions.by_name("Hippocampus_L").unwrap().id;
        let index = atlas
            .labels
            .labels
            .iter()
            .position(|&l| l == hippo)
            .unwrap();
        let world = atlas.labels.grid.world(atlas.labels.grid.ijk(index));
        assert_eq!(layer.label_at(world), hippo);
        assert!(world[0] < 0.0, "a left region lies at x < 0");
    }
}
