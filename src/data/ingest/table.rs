//! Reading the label tables (participants.tsv, ADHD-200 phenotypic files,
//! label CSVs) into rows of trimmed strings with case-insensitive column
//! look-up. Comma or tab separation is chosen from the extension or the
//! first line. A table that cannot be read is a [`DataError`] naming it.

use crate::data::error::DataError;
use crate::fsutil::FileError;
use std::path::{Path, PathBuf};

/// A delimited text table: a header row and data rows.
#[derive(Debug, Clone)]
pub(super) struct Table {
    /// The file it was read from.
    pub path: PathBuf,
    /// Column names, trimmed.
    pub headers: Vec<String>,
    /// Data rows, cells trimmed; rows may be shorter than the header.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Reads `path`; the first non-empty row is the header.
    pub fn read(path: &Path) -> Result<Table, DataError> {
        let bytes = std::fs::read(path).map_err(|source| FileError::Read {
            path: path.to_path_buf(),
            what: "label table",
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim_start_matches('\u{feff}');
        let delimiter = if is_tab_separated(path, text) {
            b'\t'
        } else {
            b','
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| DataError::TableParse {
                path: path.to_path_buf(),
                reason: e.to_string().replace('\n', " "),
            })?;
            let row: Vec<String> = record.iter().map(|c| c.trim().to_string()).collect();
            if row.iter().any(|c| !c.is_empty()) {
                rows.push(row);
            }
        }
        if rows.is_empty() {
            return Err(DataError::EmptyTable {
                path: path.to_path_buf(),
            });
        }
        let headers = rows.remove(0);
        Ok(Table {
            path: path.to_path_buf(),
            headers,
            rows,
        })
    }

    /// The index of the column named `name`, ignoring case.
    pub fn column(&self, name: &str) -> Option<usize> {
        let name = name.trim();
        self.headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
    }

    /// The index of the first of `names` that is a column.
    pub fn first_column(&self, names: &[&str]) -> Option<usize> {
        names.iter().find_map(|n| self.column(n))
    }

    /// The column the user chose (an error naming the columns when it is
    /// absent), else the first of `defaults` present, else none.
    pub fn pick_column(
        &self,
        chosen: Option<&str>,
        defaults: &[&str],
        what: &'static str,
    ) -> Result<Option<usize>, DataError> {
        match chosen {
            Some(name) => self
                .column(name)
                .map(Some)
                .ok_or_else(|| DataError::NoSuchColumn {
                    path: self.path.clone(),
                    what,
                    column: name.to_string(),
                    columns: self.column_list(),
                }),
            None => Ok(self.first_column(defaults)),
        }
    }

    /// The column names joined for messages.
    pub fn column_list(&self) -> String {
        self.headers.join(", ")
    }

    /// The non-empty cell of `row` in column `col`.
    pub fn cell(row: &[String], col: usize) -> Option<&str> {
        row.get(col).map(String::as_str).filter(|c| !c.is_empty())
    }
}

/// Tab-separated when the extension says `.tsv`, or when the first line has
/// tabs and no commas.
fn is_tab_separated(path: &Path, text: &str) -> bool {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("tsv") => true,
        Some("csv") => false,
        _ => {
            let first = text.lines().next().unwrap_or("");
            first.contains('\t') && !first.contains(',')
        }
    }
}
