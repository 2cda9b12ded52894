//! Each attributed run's per-lobe ranking, read back from an experiment
//! folder: `runs/<strategy>-s<seed>/attribution/` holds one lobe table per
//! score (`occlusion_lobes.csv`, `region_mse_lobes.csv`, `ig_lobes.csv`,
//! `ig_lobes_share.csv`, columns `lobe,score,spread,tokens`, as
//! `roimae experiment` writes them). Runs without attribution have none.

use super::DashboardError;
use crate::eval::exp_config::RankScore;
use crate::eval::exp_table::ResultRow;
use crate::eval::region_files::LOBE_COLUMNS;
use std::path::Path;

/// The lobe table of each score in a run's `attribution/` folder.
pub const LOBE_FILES: [(RankScore, &str); 4] = [
    (RankScore::Occlusion, "occlusion_lobes.csv"),
    (RankScore::RegionMse, "region_mse_lobes.csv"),
    (RankScore::Ig, "ig_lobes.csv"),
    (RankScore::IgShare, "ig_lobes_share.csv"),
];

/// One run's lobes under one score, highest score first.
#[derive(Debug, Clone, PartialEq)]
pub struct LobeRanking {
    /// Strategy name.
    pub strategy: String,
    /// Seed.
    pub seed: u64,
    /// What the score is.
    pub score: RankScore,
    /// (lobe, score), highest first.
    pub lobes: Vec<(String, f64)>,
}

/// The folder of run (`strategy`, `seed`) in the experiment `dir`.
pub fn run_dir(dir: &Path, strategy: &str, seed: u64) -> std::path::PathBuf {
    dir.join("runs").join(format!("{strategy}-s{seed}"))
}

/// Reads `lobe,score,spread,tokens` into (lobe, score), highest first.
pub fn read_lobe_csv(path: &Path) -> Result<Vec<(String, f64)>, DashboardError> {
    let text = std::fs::read_to_string(path).map_err(|e| DashboardError::Unreadable {
        path: path.to_path_buf(),
        what: "lobe scores",
        reason: e.to_string(),
        hint: "it is written by `roimae experiment` / `roimae attribute`",
    })?;
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some(LOBE_COLUMNS) {
        return Err(DashboardError::Columns {
            path: path.to_path_buf(),
            needs: format!("not a lobe table (the first line must be {LOBE_COLUMNS})"),
        });
    }
    let mut out = lines
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != 4 {
                return Err(DashboardError::row(path, i, format!("not {LOBE_COLUMNS}")));
            }
            let score = f[1].trim().parse::<f64>().map_err(|_| {
                DashboardError::row(path, i, format!("score '{}' is not a number", f[1]))
            })?;
            Ok((f[0].trim().to_string(), score))
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(out)
}

/// The lobe rankings of every run of `rows` (in their order, by score)
/// found under `dir`; runs and scores without a file are skipped.
pub fn read_lobe_rankings(
    dir: &Path,
    rows: &[ResultRow],
) -> Result<Vec<LobeRanking>, DashboardError> {
    let mut out = Vec::new();
    for r in rows {
        let attribution = run_dir(dir, &r.strategy, r.seed).join("attribution");
        for (score, file) in LOBE_FILES {
            let path = attribution.join(file);
            if path.exists() {
                out.push(LobeRanking {
                    strategy: r.strategy.clone(),
                    seed: r.seed,
                    score,
                    lobes: read_lobe_csv(&path)?,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lobe_tables_read_back_sorted_and_bad_rows_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let att = run_dir(dir.path(), "roi-limbic", 3).join("attribution");
        std::fs::create_dir_all(&att).unwrap();
        std::fs::write(
            att.join("occlusion_lobes.csv"),
            format!("{LOBE_COLUMNS}\nfrontal,0.1,0,5\nlimbic,0.4,0.1,3\n"),
        )
        .unwrap();
        let row = ResultRow {
            strategy: "roi-limbic".into(),
            seed: 3,
            masked_fraction: 0.1,
            val_masked_mse: None,
            test_acc: 1.0,
            test_bal_acc: 1.0,
            test_auroc: None,
            test_predictions: Vec::new(),
        };
        let other = ResultRow {
            strategy: "random".into(),
            ..row.clone()
        };
        let r = read_lobe_rankings(dir.path(), &[other, row]).unwrap();
        assert_eq!(r.len(), 1, "only the attributed run, only its one score");
        assert_eq!((r[0].strategy.as_str(), r[0].seed), ("roi-limbic", 3));
        assert_eq!(r[0].score, RankScore::Occlusion);
        assert_eq!(
            r[0].lobes,
            [("limbic".to_string(), 0.4), ("frontal".to_string(), 0.1)]
        );
        std::fs::write(
            att.join("ig_lobes.csv"),
            format!("{LOBE_COLUMNS}\nlimbic,x,0,3\n"),
        )
        .unwrap();
        let e = read_lobe_csv(&att.join("ig_lobes.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("ig_lobes.csv") && e.contains("row 2"), "{e}");
    }
}
