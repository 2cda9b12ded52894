//! The experiment's CSV tables: one tidy row per (strategy, seed) in
//! `results.csv` and one per ranked region in `attribution.csv`; the
//! Markdown report is `exp_markdown.rs`.

use super::exp_rank::RunRanking;
use std::fmt::Write as _;

/// The header of `results.csv`.
pub const RESULTS_HEADER: &str =
    "strategy,seed,masked_fraction,val_masked_mse,test_acc,test_bal_acc,test_auroc";

/// One pretrained and fine-tuned run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResultRow {
    /// Strategy name.
    pub strategy: String,
    /// Seed.
    pub seed: u64,
    /// Mean fraction of tokens masked per clip.
    pub masked_fraction: f64,
    /// Validation masked MSE of pretraining at the checkpoint used (under
    /// its own mask).
    pub val_masked_mse: Option<f64>,
    /// Held-out test accuracy (honest protocol).
    pub test_acc: f64,
    /// Held-out test balanced accuracy.
    pub test_bal_acc: f64,
    /// Held-out test AUROC (undefined with one class).
    pub test_auroc: Option<f64>,
    /// The held-out test subjects' predictions (for the paired comparison).
    #[serde(skip)]
    pub test_predictions: Vec<super::metrics::SubjectPrediction>,
}

fn num(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| format!("{v}"))
}

/// `results.csv`: the header and one line per row (empty cell = undefined).
pub fn results_csv(rows: &[ResultRow]) -> String {
    let mut out = format!("{RESULTS_HEADER}\n");
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{}",
            r.strategy,
            r.seed,
            r.masked_fraction,
            num(r.val_masked_mse),
            r.test_acc,
            r.test_bal_acc,
            num(r.test_auroc)
        );
    }
    out
}

/// The header of `attribution.csv`.
pub const ATTRIBUTION_HEADER: &str = "method,strategy,seed,rank,region,lobe,score,spread";

/// `attribution.csv`: one line per region of every ranking, by rank.
pub fn attribution_csv(rankings: &[RunRanking]) -> String {
    let mut out = format!("{ATTRIBUTION_HEADER}\n");
    for r in rankings {
        for (i, s) in r.regions.iter().enumerate() {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{}",
                r.method.name(),
                r.strategy,
                r.seed,
                i + 1,
                s.name,
                s.lobe,
                s.score,
                s.spread
            );
        }
    }
    out
}

/// The strategies of `rows` in first-seen order.
pub fn strategies(rows: &[ResultRow]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in rows {
        if !out.contains(&r.strategy) {
            out.push(r.strategy.clone());
        }
    }
    out
}
