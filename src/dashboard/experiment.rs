//! A finished experiment as the app shows it: `results.csv` read back and
//! summarised per strategy for the paper's figure — validation masked MSE
//! (x) against held-out test AUROC (y), mean ± sample sd over seeds — with
//! the verdicts of `results.md`, the rows themselves (the table as
//! `results.md` shows it) and each attributed run's lobe ranking
//! (`exp_lobes.rs`). An experiment still running reads the same way: its
//! `results.csv` grows run by run and `results.md` comes last.

use super::DashboardError;
use super::exp_lobes::{LobeRanking, read_lobe_rankings};
use crate::eval::exp_table::strategies;
use crate::eval::exp_table::{RESULTS_HEADER, ResultRow};
use crate::eval::stats::{finite, mean_sd};
use std::path::Path;

/// A value's mean and sample SD over seeds (`sd` 0 for one seed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanSd {
    /// Mean over the defined values.
    pub mean: f64,
    /// Sample SD (0 with one value).
    pub sd: f64,
}

/// One strategy's point of the figure.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyPoint {
    /// Strategy name.
    pub strategy: String,
    /// Seeds it ran with.
    pub seeds: usize,
    /// Validation masked MSE at the checkpoint used.
    pub mse: Option<MeanSd>,
    /// Held-out test AUROC.
    pub auroc: Option<MeanSd>,
}

/// A finished experiment folder.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExperimentView {
    /// The folder, for the title.
    pub folder: String,
    /// One point per strategy, in the grid's order.
    pub points: Vec<StrategyPoint>,
    /// The verdict lines of `results.md` (without the leading `- `).
    pub verdicts: Vec<String>,
    /// The rows of `results.csv` (one per strategy × seed, test
    /// predictions not included).
    pub rows: Vec<ResultRow>,
    /// Each attributed run's lobes per score, in row order.
    pub lobes: Vec<LobeRanking>,
}

fn parse_opt(cell: &str) -> Result<Option<f64>, ()> {
    if cell.trim().is_empty() {
        Ok(None)
    } else {
        cell.trim().parse().map(Some).map_err(|_| ())
    }
}

/// Reads `results.csv` (as `roimae experiment` writes it).
pub fn read_results_csv(path: &Path) -> Result<Vec<ResultRow>, DashboardError> {
    let text = std::fs::read_to_string(path).map_err(|e| DashboardError::Unreadable {
        path: path.to_path_buf(),
        what: "results table",
        reason: e.to_string(),
        hint: "is this an experiment folder written by `roimae experiment`?",
    })?;
    let mut lines = text.lines();
    if lines.next() != Some(RESULTS_HEADER) {
        return Err(DashboardError::Columns {
            path: path.to_path_buf(),
            needs: format!("not a results table (the first line must be {RESULTS_HEADER})"),
        });
    }
    lines
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let bad = || DashboardError::Row {
                path: path.to_path_buf(),
                row: i + 2,
                problem: format!("not {RESULTS_HEADER}"),
            };
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != 7 {
                return Err(bad());
            }
            let num = |c: &str| c.trim().parse::<f64>().map_err(|_| bad());
            Ok(ResultRow {
                strategy: f[0].to_string(),
                seed: f[1].trim().parse().map_err(|_| bad())?,
                masked_fraction: num(f[2])?,
                val_masked_mse: parse_opt(f[3]).map_err(|_| bad())?,
                test_acc: num(f[4])?,
                test_bal_acc: num(f[5])?,
                test_auroc: parse_opt(f[6]).map_err(|_| bad())?,
                test_predictions: Vec::new(),
            })
        })
        .collect()
}

/// The figure's points of `rows`, one per strategy in first-seen order.
pub fn strategy_points(rows: &[ResultRow]) -> Vec<StrategyPoint> {
    strategies(rows)
        .into_iter()
        .map(|name| {
            let mine: Vec<&ResultRow> = rows.iter().filter(|r| r.strategy == name).collect();
            let stat = |f: &dyn Fn(&ResultRow) -> Option<f64>| {
                let v: Vec<Option<f64>> = mine.iter().map(|r| f(r)).collect();
                mean_sd(&finite(&v)).map(|(mean, sd)| MeanSd {
                    mean,
                    sd: sd.unwrap_or(0.0),
                })
            };
            StrategyPoint {
                strategy: name,
                seeds: mine.len(),
                mse: stat(&|r| r.val_masked_mse),
                auroc: stat(&|r| r.test_auroc),
            }
        })
        .collect()
}

impl ExperimentView {
    /// Reads `results.csv`, the verdicts of `results.md` and the runs'
    /// lobe rankings in `dir`.
    pub fn open(dir: &Path) -> Result<ExperimentView, DashboardError> {
        let rows = read_results_csv(&dir.join("results.csv"))?;
        let verdicts = std::fs::read_to_string(dir.join("results.md"))
            .map(|md| {
                md.split("## Verdicts")
                    .nth(1)
                    .map(|v| {
                        v.lines()
                            .filter_map(|l| l.strip_prefix("- "))
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        Ok(ExperimentView {
            folder: dir.display().to_string(),
            points: strategy_points(&rows),
            verdicts,
            lobes: read_lobe_rankings(dir, &rows)?,
            rows,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_read_back_into_one_point_per_strategy() {
        let dir = tempfile::tempdir().unwrap();
        let csv = format!(
            "{RESULTS_HEADER}\nrandom,0,0.5,0.6,0.75,0.75,0.8\nroi-limbic,0,0.03,0.4,1,1,1\nrandom,1,0.5,0.8,0.5,0.5,\nroi-limbic,1,0.03,0.2,0.75,0.75,0.9\n"
        );
        std::fs::write(dir.path().join("results.csv"), csv).unwrap();
        std::fs::write(
            dir.path().join("results.md"),
            "# x\n\n## Verdicts\n\n- first verdict\n- second\n",
        )
        .unwrap();
        let v = ExperimentView::open(dir.path()).unwrap();
        assert_eq!(v.points.len(), 2);
        let random = &v.points[0];
        assert_eq!((random.strategy.as_str(), random.seeds), ("random", 2));
        // MSE 0.6, 0.8: mean 0.7, sd 0.1414; AUROC: one defined value.
        let mse = random.mse.unwrap();
        assert!((mse.mean - 0.7).abs() < 1e-12 && (mse.sd - 0.02f64.sqrt()).abs() < 1e-12);
        assert_eq!(random.auroc, Some(MeanSd { mean: 0.8, sd: 0.0 }));
        let roi = v.points[1].auroc.unwrap();
        assert!((roi.mean - 0.95).abs() < 1e-12);
        assert_eq!(v.verdicts, ["first verdict", "second"]);
        assert_eq!(v.rows.len(), 4);
        assert!(v.lobes.is_empty(), "no run folder, no lobe ranking");
        // A folder without results says what it expected.
        let empty = tempfile::tempdir().unwrap();
        let e = ExperimentView::open(empty.path()).unwrap_err().to_string();
        assert!(
            e.contains("results.csv") && e.contains("roimae experiment"),
            "{e}"
        );
    }
}
