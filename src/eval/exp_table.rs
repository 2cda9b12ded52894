//! The experiment's tables: one tidy row per (strategy, seed) in
//! `results.csv`, and the Markdown summary (each column mean ± sample sd
//! over seeds) in `results.md`.

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

/// Mean and sample standard deviation (`None` for fewer than 2 values) of
/// the defined, finite values; `None` when there is none.
pub fn mean_sd(values: &[Option<f64>]) -> Option<(f64, Option<f64>)> {
    let v: Vec<f64> = values
        .iter()
        .flatten()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    if v.is_empty() {
        return None;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = (v.len() > 1)
        .then(|| (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    Some((mean, sd))
}

/// `mean ± sd` with `digits` decimals; `mean ± –` for one value, `–` for none.
pub fn format_mean_sd(values: &[Option<f64>], digits: usize) -> String {
    match mean_sd(values) {
        None => "–".into(),
        Some((m, Some(s))) => format!("{m:.digits$} ± {s:.digits$}"),
        Some((m, None)) => format!("{m:.digits$} ± –"),
    }
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

/// The Markdown summary table: one line per strategy, each metric mean ± sd
/// over its seeds.
pub fn summary_table(rows: &[ResultRow]) -> String {
    let mut out = String::from(
        "| strategy | seeds | masked fraction | masked MSE (val) | ACC | balanced ACC | AUROC |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for name in strategies(rows) {
        let mine: Vec<&ResultRow> = rows.iter().filter(|r| r.strategy == name).collect();
        let col = |f: &dyn Fn(&ResultRow) -> Option<f64>, d| {
            format_mean_sd(&mine.iter().map(|r| f(r)).collect::<Vec<_>>(), d)
        };
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} | {} |",
            mine.len(),
            col(&|r| Some(r.masked_fraction), 3),
            col(&|r| r.val_masked_mse, 4),
            col(&|r| Some(r.test_acc), 3),
            col(&|r| Some(r.test_bal_acc), 3),
            col(&|r| r.test_auroc, 3),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(strategy: &str, seed: u64, acc: f64, auroc: Option<f64>) -> ResultRow {
        ResultRow {
            strategy: strategy.into(),
            seed,
            masked_fraction: 0.5,
            val_masked_mse: Some(0.25),
            test_acc: acc,
            test_bal_acc: acc,
            test_auroc: auroc,
            test_predictions: Vec::new(),
        }
    }

    #[test]
    fn mean_and_sample_sd_by_hand() {
        // 0.5, 0.75, 1.0: mean 0.75; deviations ±0.25, 0 → var 0.125/2.
        let (m, s) = mean_sd(&[Some(0.5), Some(0.75), Some(1.0)]).unwrap();
        assert!((m - 0.75).abs() < 1e-12);
        assert!((s.unwrap() - 0.25).abs() < 1e-12);
        assert_eq!(
            format_mean_sd(&[Some(0.5), Some(0.75), Some(1.0)], 3),
            "0.750 ± 0.250"
        );
        // Undefined values are left out; one value has no sd.
        assert_eq!(format_mean_sd(&[Some(0.6), None], 2), "0.60 ± –");
        assert_eq!(format_mean_sd(&[None, Some(f64::NAN)], 2), "–");
        // 1 and 2: mean 1.5, sd sqrt(0.5) = 0.7071.
        assert_eq!(
            format_mean_sd(&[Some(1.0), Some(2.0)], 4),
            "1.5000 ± 0.7071"
        );
    }

    #[test]
    fn the_summary_has_one_line_per_strategy_in_order() {
        let rows = [
            row("random", 0, 0.5, Some(0.5)),
            row("roi-limbic", 0, 1.0, Some(1.0)),
            row("random", 1, 0.75, None),
            row("roi-limbic", 1, 0.5, Some(0.0)),
        ];
        let t = summary_table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[2],
            "| random | 2 | 0.500 ± 0.000 | 0.2500 ± 0.0000 | 0.625 ± 0.177 | 0.625 ± 0.177 | 0.500 ± – |"
        );
        assert_eq!(
            lines[3],
            "| roi-limbic | 2 | 0.500 ± 0.000 | 0.2500 ± 0.0000 | 0.750 ± 0.354 | 0.750 ± 0.354 | 0.500 ± 0.707 |"
        );
        let csv = results_csv(&rows);
        assert!(csv.starts_with(RESULTS_HEADER));
        assert!(csv.contains("\nrandom,1,0.5,0.25,0.75,0.75,\n"));
    }
}
