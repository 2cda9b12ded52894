//! The experiment's Markdown report, `results.md`: the summary table
//! (each column mean ± sample sd over seeds), the attribution rankings
//! (seed means) and the verdicts.

use super::exp_config::{ExperimentConfig, SplitProtocol};
use super::exp_rank::{RunRanking, mean_lobe_ranking, mean_ranking, methods_of, runs_of};
use super::exp_table::{ResultRow, strategies};
use super::pretrained::CheckpointChoice;
use super::stats::{finite, mean_sd};
use std::fmt::Write as _;

/// `mean ± sd` with `digits` decimals over the defined, finite values;
/// `mean ± –` for one value, `–` for none.
pub fn format_mean_sd(values: &[Option<f64>], digits: usize) -> String {
    match mean_sd(&finite(values)) {
        None => "–".into(),
        Some((m, Some(s))) => format!("{m:.digits$} ± {s:.digits$}"),
        Some((m, None)) => format!("{m:.digits$} ± –"),
    }
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

/// The temporal masking (`[mask] time`) of each strategy, one line:
/// `all` (every frame) or the mode with its parameters.
fn temporal_line(cfg: &ExperimentConfig) -> String {
    let seed = cfg.seeds.first().copied().unwrap_or(0);
    let each: Vec<String> = cfg
        .all_strategies()
        .iter()
        .map(|s| {
            let time = cfg.run_config(s, seed).mask.time;
            if time.is_all() {
                format!("{} `all` (every frame)", s.name)
            } else {
                format!("{} `{}` ({})", s.name, time.name(), time.describe())
            }
        })
        .collect();
    format!("Temporal masking: {}.\n\n", each.join("; "))
}

/// `results.md`: the summary table, the attribution ranking and verdicts.
pub fn results_markdown(
    cfg: &ExperimentConfig,
    rows: &[ResultRow],
    rankings: &[RunRanking],
    verdicts: &[String],
    test_subjects: usize,
) -> String {
    let mut md = String::from("# ROI-MAE experiment\n\n");
    let _ = writeln!(
        md,
        "Preset `{}`, {} pretraining steps at most, seeds {:?}; frozen encoder + linear head from each run's **{}** checkpoint{}, honest protocol (epoch chosen on validation loss, scored on {test_subjects} held-out test subjects). Split: **{}**{}. Each cell: mean ± sample sd over seeds (`± –`: one seed). Masked MSE is the validation masked MSE at that checkpoint under the run's own mask, so it is not comparable across strategies. Verdicts: paired bootstrap ({} resamples) of the test-AUROC difference over test subjects and seeds; an interval that spans 0 is no evidence either way.\n",
        cfg.pretrain.preset,
        cfg.pretrain
            .max_steps
            .map_or("(epochs)".into(), |s| s.to_string()),
        cfg.seeds,
        cfg.checkpoint.name(),
        match cfg.checkpoint {
            CheckpointChoice::Last => " (every strategy at the same step)",
            CheckpointChoice::Best =>
                " (lowest validation masked MSE: strategies may be compared at different steps)",
        },
        cfg.split.name(),
        match cfg.split {
            SplitProtocol::Inductive =>
                " (each seed's test subjects were excluded from pretraining; checked in every run's split.json)",
            SplitProtocol::Transductive =>
                " (the encoders were pretrained on the test subjects too, without labels)",
        },
        cfg.bootstrap
    );
    md += &temporal_line(cfg);
    md += &summary_table(rows);
    for method in methods_of(rankings) {
        let _ = writeln!(
            md,
            "\n## Attribution ranking ({} {}, mean over seeds)",
            method.name(),
            method.score_name()
        );
        for name in strategies(rows) {
            let runs = runs_of(rankings, &name, method);
            if runs.is_empty() {
                continue;
            }
            let lobes: Vec<String> = mean_lobe_ranking(&runs)
                .iter()
                .map(|(l, _, v, _)| format!("{l} {v:.4}"))
                .collect();
            let _ = writeln!(
                md,
                "\n### {name} ({})\n\nLobes: {}\n\n| rank | region | lobe | {} |\n|---|---|---|---|",
                method.name(),
                lobes.join(" > "),
                method.score_name()
            );
            for (i, (region, lobe, score, _)) in
                mean_ranking(&runs).iter().take(cfg.top).enumerate()
            {
                let _ = writeln!(md, "| {} | {region} | {lobe} | {score:.4} |", i + 1);
            }
        }
    }
    if !verdicts.is_empty() {
        md += "\n## Verdicts\n\n";
        for v in verdicts {
            let _ = writeln!(md, "- {v}");
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::exp_table::{RESULTS_HEADER, results_csv};

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
        let (m, s) = mean_sd(&finite(&[Some(0.5), Some(0.75), Some(1.0)])).unwrap();
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
