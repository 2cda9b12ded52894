//! Everything the viewer shows, independent of how it is drawn: the layers,
//! the scene (crosshair, zoom, pan, orientation), the masking selection and
//! the display settings, plus the operations the panels and keys perform.
//! The egui code reads and changes this; tests drive it directly too.

use super::error::GuiError;
use super::layers::{LabelLayer, ScalarLayer};
use super::slice_geometry::{Scene, ViewAxis, WorldBox};
use crate::atlas::{Atlas, Lobe};
use crate::data::GridChoice;
use crate::viewer::{ColorMap, MaskSelection, MaskSummary, RegionCounts, SeriesMode};
use crate::volume::Volume;
use std::sync::Arc;

/// How the layers are drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct DisplaySettings {
    /// Colour map of the underlay.
    pub colour_map: ColorMap,
    /// Display range (low, high) of the underlay.
    pub range: (f32, f32),
    /// Label overlay opacity 0..1.
    pub label_opacity: f32,
    /// Fill unmasked regions faintly too (otherwise outlines only).
    pub fill_unmasked: bool,
    /// Trilinear underlay sampling (nearest otherwise).
    pub trilinear: bool,
    /// Draw the atlas.
    pub labels_shown: bool,
    /// Draw the crosshair.
    pub crosshair_shown: bool,
}

impl Default for DisplaySettings {
    fn default() -> Self {
        DisplaySettings {
            colour_map: ColorMap::Gray,
            range: (0.0, 1.0),
            label_opacity: 0.55,
            fill_unmasked: false,
            trilinear: true,
            labels_shown: true,
            crosshair_shown: true,
        }
    }
}

/// What is at one world point, for the location bar.
#[derive(Debug, Clone, PartialEq)]
pub struct PointInfo {
    /// World position (mm).
    pub world: [f64; 3],
    /// Underlay voxel, when inside its grid.
    pub voxel: Option<[usize; 3]>,
    /// Underlay value of the shown volume.
    pub value: Option<f32>,
    /// AAL3 region id (0 = none).
    pub region: u16,
}

/// The viewer's state.
pub struct ViewerState {
    /// The image under the atlas.
    pub underlay: ScalarLayer,
    /// The atlas layer.
    pub labels: LabelLayer,
    /// Crosshair, zoom, pan, orientation.
    pub scene: Scene,
    /// Regions masked.
    pub selection: MaskSelection,
    /// Select left and right together.
    pub both_hemispheres: bool,
    /// Region list filter.
    pub filter: String,
    /// Display settings.
    pub display: DisplaySettings,
    /// World point under the mouse, if any, and the view it is in.
    pub hover: Option<(ViewAxis, [f64; 3])>,
    /// The view the keys act on (last hovered).
    pub active_view: ViewAxis,
    /// Time-course mode.
    pub series_mode: SeriesMode,
    /// Model grid the token counts are computed for.
    pub token_grid: GridChoice,
    /// Per-region voxel/token counts at `token_grid`.
    pub counts: Arc<RegionCounts>,
    /// Mask summary of the current selection.
    pub summary: MaskSummary,
}

/// The error of a volume that cannot be placed in world space.
fn singular(name: &str) -> GuiError {
    GuiError::SingularAffine {
        name: name.to_string(),
    }
}

impl ViewerState {
    /// A viewer of `volume` (called `name`) with the atlas on top.
    pub fn new(
        name: &str,
        volume: Arc<Volume>,
        atlas: Arc<Atlas>,
        counts: Arc<RegionCounts>,
    ) -> Result<ViewerState, GuiError> {
        let underlay = ScalarLayer::new(name, volume).ok_or_else(|| singular(name))?;
        let scene = Scene::new(WorldBox::of_grid(&underlay.volume.grid));
        let summary = counts.summarise(&MaskSelection::default(), &atlas.regions);
        let mut state = ViewerState {
            underlay,
            labels: LabelLayer::new(atlas),
            scene,
            selection: MaskSelection::default(),
            both_hemispheres: false,
            filter: String::new(),
            display: DisplaySettings::default(),
            hover: None,
            active_view: ViewAxis::Axial,
            series_mode: SeriesMode::Raw,
            token_grid: GridChoice::Mni2mm,
            counts,
            summary,
        };
        state.auto_range();
        Ok(state)
    }

    /// Replaces the underlay, keeping atlas, selection and orientation (and
    /// the crosshair, zoom and pan when the new image covers the same box).
    pub fn set_underlay(&mut self, name: &str, volume: Arc<Volume>) -> Result<(), GuiError> {
        let layer = ScalarLayer::new(name, volume).ok_or_else(|| singular(name))?;
        let bounds = WorldBox::of_grid(&layer.volume.grid);
        if bounds != self.scene.bounds {
            let radiological = self.scene.radiological;
            self.scene = Scene::new(bounds);
            self.scene.radiological = radiological;
        }
        self.underlay = layer;
        self.auto_range();
        Ok(())
    }

    /// Sets the display range from robust percentiles (2-98 %, zeros skipped).
    pub fn auto_range(&mut self) {
        let frame = self.underlay.volume.frame(self.underlay.frame);
        if let Some(range) = crate::viewer::robust_range(frame, 2.0, 98.0, true) {
            self.display.range = range;
        }
    }

    /// What is at `world`.
    pub fn point_info(&self, world: [f64; 3]) -> PointInfo {
        let voxel = self.underlay.voxel_at(world);
        PointInfo {
            world,
            voxel,
            value: voxel.and_then(|v| self.underlay.value(v)),
            region: self.labels.label_at(world),
        }
    }

    /// The point the location bar describes: the mouse, else the crosshair.
    pub fn focus_point(&self) -> PointInfo {
        self.point_info(self.hover.map_or(self.scene.crosshair, |(_, w)| w))
    }

    /// The hovered region id (0 = none).
    pub fn hovered_region(&self) -> u16 {
        self.hover.map_or(0, |(_, w)| self.labels.label_at(w))
    }

    /// Toggles the region at `world`; returns its id (0 = nothing there).
    pub fn toggle_region_at(&mut self, world: [f64; 3]) -> u16 {
        let id = self.labels.label_at(world);
        if id != 0 {
            self.toggle_region(id);
        }
        id
    }

    /// Toggles one region (and its partner when `both_hemispheres`).
    pub fn toggle_region(&mut self, id: u16) {
        let table = &self.labels.atlas.regions;
        self.selection.toggle(table, id, self.both_hemispheres);
        self.selection_changed();
    }

    /// Sets one region's state (and its partner when `both_hemispheres`).
    pub fn set_region(&mut self, id: u16, masked: bool) {
        let table = &self.labels.atlas.regions;
        self.selection.set(table, id, masked, self.both_hemispheres);
        self.selection_changed();
    }

    /// Ids of regions in `lobe` (all lobes when `None`) that pass the filter.
    pub fn visible_regions(&self, lobe: Option<Lobe>) -> Vec<u16> {
        self.labels
            .atlas
            .regions
            .iter()
            .filter(|r| lobe.is_none_or(|l| r.group == l))
            .filter(|r| crate::viewer::matches_filter(r, &self.filter))
            .map(|r| r.id)
            .collect()
    }

    /// Masks (or unmasks) all of `ids`.
    pub fn set_regions(&mut self, ids: Vec<u16>, masked: bool) {
        self.selection.set_all(ids, masked);
        self.selection_changed();
    }

    /// Inverts the state of `ids`.
    pub fn invert_regions(&mut self, ids: Vec<u16>) {
        self.selection.invert(ids);
        self.selection_changed();
    }

    /// Replaces the selection (loaded from a file).
    pub fn set_selection(&mut self, selection: MaskSelection) {
        self.selection = selection;
        self.selection_changed();
    }

    /// Recomputes the lookup table and the summary.
    pub fn selection_changed(&mut self) {
        self.labels.update_selection(&self.selection);
        self.summary = self
            .counts
            .summarise(&self.selection, &self.labels.atlas.regions);
    }

    /// Counts tokens at another model grid.
    pub fn set_token_grid(&mut self, choice: GridChoice) {
        self.token_grid = choice;
        if self.counts.choice() != choice {
            self.counts = Arc::new(RegionCounts::compute(&self.labels.atlas, choice));
        }
        self.selection_changed();
    }

    /// Moves the crosshair to a region's centroid (world mm).
    pub fn centre_on_region(&mut self, id: u16) {
        if let Some(c) = self.labels.atlas.labels.centroids().get(&id) {
            self.scene.set_crosshair(*c);
        }
    }

    /// Shows volume `t` (clamped to the frames loaded).
    pub fn set_frame(&mut self, t: usize) {
        self.underlay.set_frame(t);
    }

    /// Steps the shown volume by `delta`, wrapping around.
    pub fn step_frame(&mut self, delta: i64) {
        let n = self.underlay.frames() as i64;
        if n > 1 {
            let t = (self.underlay.frame as i64 + delta).rem_euclid(n);
            self.set_frame(t as usize);
        }
    }

    /// One slice step (mm) along any axis: the underlay's finest voxel edge.
    pub fn slice_step(&self) -> f64 {
        self.underlay.slice_step_mm()
    }
}
