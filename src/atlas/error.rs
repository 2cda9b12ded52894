//! Typed errors of the atlas: a region table (TSV) that cannot be read.
//! Each message is one line that names the line or column at fault and says
//! what is expected.

use super::regions::Lobe;
use thiserror::Error;

/// What can go wrong parsing a region table.
#[derive(Debug, Error, PartialEq, Eq)]
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
}
