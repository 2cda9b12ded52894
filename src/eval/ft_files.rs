//! The files of a fine-tuning: `finetune.json` (everything the result
//! holds) and the tidy `metrics.csv` (protocol, split, metric, value,
//! ci_low, ci_high; confusion cells as `confusion_T_P`).

use super::EvalError;
use super::finetune::FinetuneResult;
use super::metrics::ClassificationReport;
use crate::fsutil;
use std::path::Path;

/// The header of `metrics.csv`.
pub const METRICS_HEADER: &str = "protocol,split,metric,value,ci_low,ci_high";

/// Writes `finetune.json` and `metrics.csv` into `dir` (created).
pub fn write_outputs(result: &FinetuneResult, dir: &Path) -> Result<(), EvalError> {
    fsutil::create_dir(dir)?;
    fsutil::save_json(&dir.join("finetune.json"), result, "fine-tuning result")?;
    fsutil::write_file(
        &dir.join("metrics.csv"),
        metrics_csv(result).as_bytes(),
        "fine-tuning metrics",
    )?;
    Ok(())
}

/// The text of `metrics.csv`.
pub fn metrics_csv(result: &FinetuneResult) -> String {
    let mut csv = format!("{METRICS_HEADER}\n");
    for p in [&result.honest, &result.reference] {
        report_rows(&mut csv, &p.protocol, &p.evaluated_on, &p.report);
        for (t, row) in p.report.confusion.iter().enumerate() {
            for (q, count) in row.iter().enumerate() {
                csv += &format!(
                    "{},{},confusion_{t}_{q},{count},,\n",
                    p.protocol, p.evaluated_on
                );
            }
        }
    }
    if let Some(l) = &result.leave_site_out {
        for f in &l.folds {
            report_rows(
                &mut csv,
                "leave-site-out",
                &format!("site:{}", f.site),
                &f.report,
            );
        }
        report_rows(&mut csv, "leave-site-out", "pooled", &l.pooled);
    }
    csv
}

/// Appends the subjects / accuracy / balanced accuracy / AUROC (with its
/// interval) rows of one report to `metrics.csv` text.
fn report_rows(csv: &mut String, protocol: &str, split: &str, r: &ClassificationReport) {
    let num = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
    let (lo, hi) = r.auroc_ci95.unzip();
    for (metric, v, lo, hi) in [
        ("subjects", Some(r.subjects as f64), None, None),
        ("accuracy", Some(r.accuracy), None, None),
        ("balanced_accuracy", Some(r.balanced_accuracy), None, None),
        ("auroc", r.auroc, lo, hi),
    ] {
        *csv += &format!(
            "{protocol},{split},{metric},{},{},{}\n",
            num(v),
            num(lo),
            num(hi)
        );
    }
}
