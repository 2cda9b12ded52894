//! Typed errors of the atlas: a region table (TSV) that cannot be read, and
//! every problem a user-supplied atlas (label volume + table) is refused
//! for. Each message is one line that names the file, line or column at
//! fault and says what to do.

use super::regions::Lobe;
use crate::fsutil::FileError;
use crate::volume::VolumeError;
use std::path::PathBuf;
use thiserror::Error;

/// What can go wrong parsing a region table or loading a user atlas.
#[derive(Debug, Error)]
pub enum AtlasError {
    /// The TSV itself is malformed (the csv reader's words).
    #[error(
        "region table: not a readable TSV ({reason}); it needs tab-separated columns index, name, hemisphere, group"
    )]
    Tsv {
        /// The reader's own words, on one line.
        reason: String,
    },
    /// A required column is missing from the header.
    #[error(
        "region table has no '{column}' column; the header must be: index name hemisphere group"
    )]
    MissingColumn {
        /// The column looked for.
        column: &'static str,
    },
    /// The index is not a label id (0-65535).
    #[error("line {line}: index '{value}' is not a label id; give a whole number 0-65535")]
    BadIndex {
        /// The line (1 = header).
        line: usize,
        /// What was there.
        value: String,
    },
    /// The hemisphere is not L, R or M.
    #[error("line {line}: hemisphere '{value}' is not L, R or M")]
    BadHemisphere {
        /// The line.
        line: usize,
        /// What was there.
        value: String,
    },
    /// The group is not a lobe name.
    #[error("line {line}: unknown group '{value}'; choose one of: {}", Lobe::ALL.map(Lobe::name).join(", "))]
    UnknownGroup {
        /// The line.
        line: usize,
        /// What was there.
        value: String,
    },
    /// Two rows share a label id.
    #[error("line {line}: label id {id} is listed twice; each region needs its own id")]
    DuplicateId {
        /// The line of the second row.
        line: usize,
        /// The id.
        id: u16,
    },
    /// The label volume could not be read.
    #[error(transparent)]
    Volume(#[from] VolumeError),
    /// The label table could not be read.
    #[error(transparent)]
    File(#[from] FileError),
    /// The label table is not readable CSV/TSV.
    #[error(
        "{file}: not a readable label table ({reason}); give a TSV or CSV with a header row and columns index, name (optional: hemisphere, group)"
    )]
    TableUnreadable {
        /// The table.
        file: PathBuf,
        /// The reader's words.
        reason: String,
    },
    /// The label table lacks the index or the name column.
    #[error(
        "{file}: the label table has no '{column}' column (header: {header}); name the columns index and name (case does not matter)"
    )]
    TableColumn {
        /// The table.
        file: PathBuf,
        /// The column looked for.
        column: &'static str,
        /// The header as found.
        header: String,
    },
    /// A row of the label table is malformed.
    #[error("{file}, line {line}: {reason}")]
    TableRow {
        /// The table.
        file: PathBuf,
        /// The line (1 = header).
        line: usize,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// Two rows name the same label value.
    #[error(
        "{file}, line {line}: label value {id} is listed twice; each region needs its own value"
    )]
    TableDuplicate {
        /// The table.
        file: PathBuf,
        /// The line of the second row.
        line: usize,
        /// The value.
        id: i64,
    },
    /// The label volume is 4D (a probabilistic atlas, or a time series).
    #[error(
        "{file}: a label atlas must be one 3D volume of integer labels, this file has {frames} volumes (a probabilistic atlas?); give its max-probability (integer label) version"
    )]
    NotALabelVolume {
        /// The volume.
        file: PathBuf,
        /// Its number of volumes.
        frames: usize,
    },
    /// Voxel values that are not whole numbers.
    #[error(
        "{file}: {count} voxels hold non-integer values (e.g. {example} at voxel {voxel:?}), so they are not region labels; give a label (not a probability or intensity) image, or round it deliberately"
    )]
    NonIntegerLabels {
        /// The volume.
        file: PathBuf,
        /// How many voxels.
        count: usize,
        /// One offending value.
        example: f32,
        /// Where it is (i, j, k).
        voxel: [usize; 3],
    },
    /// Label values outside 0-65535.
    #[error(
        "{file}: {count} voxels hold label values outside 0-65535 (e.g. {example}); labels must be whole numbers 0 (background) to 65535"
    )]
    LabelOutOfRange {
        /// The volume.
        file: PathBuf,
        /// How many voxels.
        count: usize,
        /// One offending value.
        example: f32,
    },
    /// The volume has no labelled voxel.
    #[error("{file}: every voxel is 0 (background); this is not a label atlas")]
    EmptyAtlas {
        /// The volume.
        file: PathBuf,
    },
    /// The atlas is not in MNI space.
    #[error("{file}: not in MNI space: {reason}")]
    NotMni {
        /// The volume.
        file: PathBuf,
        /// Which check failed and what to do.
        reason: String,
    },
    /// Label values present in the volume with no row in the table.
    #[error(
        "{table}: {count} label value(s) of {volume} have no row in the table ({values}); add the missing rows or use the table that belongs to this volume"
    )]
    MissingFromTable {
        /// The table.
        table: PathBuf,
        /// The volume.
        volume: PathBuf,
        /// How many values.
        count: usize,
        /// The first few values.
        values: String,
    },
    /// Table rows whose value does not occur in the volume.
    #[error(
        "{table}: {count} row(s) name label values absent from {volume} ({names}); remove them or use the volume that belongs to this table"
    )]
    MissingFromVolume {
        /// The table.
        table: PathBuf,
        /// The volume.
        volume: PathBuf,
        /// How many rows.
        count: usize,
        /// The first few as `value name`.
        names: String,
    },
    /// The names are shifted by one against the volume's values.
    #[error(
        "{table}: the names are off by one against {volume}: the table has '{background}' at index {background_index} and a row v+1 for every label value v of the volume ({values} values), so taken literally every region would get its neighbour's name; if the table names value v on row v+1 (as NeuroSTORM's tables do), pass --labels-offset 1 (AtlasLoadOptions {{ labels_offset: Some(1) }})"
    )]
    OffByOne {
        /// The table.
        table: PathBuf,
        /// The volume.
        volume: PathBuf,
        /// The background row's name.
        background: String,
        /// Its index.
        background_index: i64,
        /// How many label values the volume has.
        values: usize,
    },
    /// A background row at a non-zero index.
    #[error(
        "{file}, line {line}: the row '{name}' (a background name) has index {index}, but background is label 0; the table is probably shifted (try --labels-offset {index}) or mislabelled"
    )]
    BackgroundRow {
        /// The table.
        file: PathBuf,
        /// Its line.
        line: usize,
        /// The name.
        name: String,
        /// The index it has.
        index: i64,
    },
    /// After the explicit offset a real region lands on background or below.
    #[error(
        "{file}, line {line}: with --labels-offset {offset} the row '{name}' (index {index}) would name label value {value}, which is background or invalid; the offset does not fit this table"
    )]
    OffsetMisfit {
        /// The table.
        file: PathBuf,
        /// Its line.
        line: usize,
        /// The offset given.
        offset: i32,
        /// The row's name.
        name: String,
        /// The row's index.
        index: i64,
        /// The value it would name.
        value: i64,
    },
    /// Left-hemisphere regions do not lie at world x < 0.
    #[error(
        "{file}: left/right check failed: {detail}; the volume's affine or the table's hemispheres are flipped"
    )]
    LeftRight {
        /// The volume.
        file: PathBuf,
        /// The check's finding.
        detail: String,
    },
}
