//! The viewer's logic, free of any GUI toolkit: the region masking
//! selection and its file, the live mask summary, time courses at the
//! cursor, colour maps, robust display ranges and background NIfTI loading.
//! The egui layer (`gui`) draws and forwards input; everything it decides is
//! decided here, where it is unit-tested.

pub mod colormap;
pub mod demo;
pub mod display_range;
pub mod error;
pub mod loader;
pub mod selection;
pub mod selection_file;
pub mod space;
pub mod summary;
pub mod timecourse;

#[cfg(test)]
pub(crate) mod test_support;

pub use colormap::{ColorMap, region_colour, region_palette};
pub use demo::demo_subject;
pub use display_range::robust_range;
pub use error::ViewerError;
pub use loader::{LoadEvent, VolumeLoader};
pub use selection::{MaskSelection, contralateral, matches_filter};
pub use selection_file::{SelectionFile, load_selection, save_selection};
pub use space::space_warning;
pub use summary::{MaskSummary, RegionCounts};
pub use timecourse::{
    SeriesHeader, SeriesMode, time_axis, transform, voxel_series, write_series_csv,
};
