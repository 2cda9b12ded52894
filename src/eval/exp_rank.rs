//! The experiment's attribution rankings: one run's regions and lobes
//! under one score, and the rankings of one strategy averaged over its
//! seeds (what `results.md` lists and the verdicts judge).

use super::attribution::RegionScore;
use super::exp_config::RankScore;
use std::collections::BTreeMap;

/// One attributed run's region ranking under one score.
#[derive(Debug, Clone)]
pub struct RunRanking {
    /// Strategy name.
    pub strategy: String,
    /// Seed.
    pub seed: u64,
    /// What the score is.
    pub method: RankScore,
    /// Regions, highest score first.
    pub regions: Vec<RegionScore>,
    /// Lobes (name = lobe), highest score first.
    pub lobes: Vec<RegionScore>,
}

/// A region (or lobe) averaged over seeds: name, lobe, mean score, seeds.
pub type MeanScore = (String, String, f64, usize);

/// Region scores averaged over the seeds of one strategy, highest first.
pub fn mean_ranking(runs: &[&RunRanking]) -> Vec<MeanScore> {
    mean_scores(runs.iter().map(|r| &r.regions))
}

/// Lobe scores averaged over the seeds of one strategy, highest first.
pub fn mean_lobe_ranking(runs: &[&RunRanking]) -> Vec<MeanScore> {
    mean_scores(runs.iter().map(|r| &r.lobes))
}

fn mean_scores<'a>(lists: impl Iterator<Item = &'a Vec<RegionScore>>) -> Vec<MeanScore> {
    let mut by: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for list in lists {
        for s in list {
            by.entry((s.name.clone(), s.lobe.clone()))
                .or_default()
                .push(s.score);
        }
    }
    let mut out: Vec<MeanScore> = by
        .into_iter()
        .map(|((name, lobe), v)| (name, lobe, v.iter().sum::<f64>() / v.len() as f64, v.len()))
        .collect();
    out.sort_by(|a, b| b.2.total_cmp(&a.2));
    out
}

/// The rankings of one strategy under one score (one per seed).
pub fn runs_of<'a>(
    rankings: &'a [RunRanking],
    strategy: &str,
    method: RankScore,
) -> Vec<&'a RunRanking> {
    rankings
        .iter()
        .filter(|r| r.strategy == strategy && r.method == method)
        .collect()
}

/// The scores present in `rankings` (occlusion's before ig's).
pub fn methods_of(rankings: &[RunRanking]) -> Vec<RankScore> {
    let set: std::collections::BTreeSet<RankScore> = rankings.iter().map(|r| r.method).collect();
    set.into_iter().collect()
}
