//! Finding the label and site columns of a phenotype table (participants.tsv
//! or a labels CSV) and inferring its label coding, with every problem
//! reported once against the table's file. Shared by the BIDS and
//! folder + CSV layouts.

use super::ScanOptions;
use super::collect::Collector;
use super::labels::LabelCoding;
use super::table::Table;
use std::path::Path;

/// Site column names tried when none is given.
pub const DEFAULT_SITE_COLUMNS: [&str; 3] = ["site", "site_id", "acq_site"];

/// The columns of a table that carry labels and sites.
#[derive(Debug)]
pub struct LabelColumns<'a> {
    /// The label column's name (chosen or default).
    pub name: &'a str,
    /// Its index, when present.
    pub label: Option<usize>,
    /// The site column's index, when present.
    pub site: Option<usize>,
    /// How raw label values become class indices.
    pub coding: LabelCoding,
}

impl<'a> LabelColumns<'a> {
    /// Looks up `opts.label_column` (else `default_label`) and the site
    /// column in `table`, read from `path` and called `what` in messages.
    pub fn find(
        table: &Table,
        opts: &'a ScanOptions,
        default_label: &'a str,
        what: &str,
        path: &Path,
        out: &mut Collector,
    ) -> Self {
        let name = opts.label_column.as_deref().unwrap_or(default_label);
        let label = table.column(name);
        if label.is_none() {
            out.problem(
                None,
                Some(path),
                format!(
                    "{what} has no label column '{name}' (columns: {}); choose one with --label-column",
                    table.column_list()
                ),
            );
        }
        let site = table
            .pick_column(opts.site_column.as_deref(), &DEFAULT_SITE_COLUMNS, "site")
            .unwrap_or_else(|e| {
                out.problem(None, Some(path), e.to_string());
                None
            });
        let coding = LabelCoding::infer(
            label
                .into_iter()
                .flat_map(|c| table.rows.iter().filter_map(move |r| r.get(c)))
                .map(String::as_str),
            opts.label_map.as_ref(),
        );
        if let Some(report) = coding.report(name) {
            out.problem(None, Some(path), report);
        }
        Self {
            name,
            label,
            site,
            coding,
        }
    }
}
