//! Subject-level train / validation / test splits, stratified by label
//! (and optionally by site), deterministic under a seed. Clips of one
//! subject never straddle two splits.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Fractions of subjects per split (the rest goes to training).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitConfig {
    /// Fraction of subjects for validation.
    pub val: f64,
    /// Fraction of subjects held out for the final test.
    pub test: f64,
    /// Stratify by site as well as by label.
    pub by_site: bool,
    /// Seed of the shuffle.
    pub seed: u64,
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig {
            val: 0.1,
            test: 0.1,
            by_site: false,
            seed: 0,
        }
    }
}

/// Subject ids per split.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// Training subjects.
    pub train: Vec<String>,
    /// Validation subjects.
    pub val: Vec<String>,
    /// Test subjects.
    pub test: Vec<String>,
}

/// Splits `(subject, label, site)` triples. Within each stratum (label,
/// and site when asked) subjects are shuffled and cut by the fractions,
/// rounding to the nearest subject; each id appears once.
pub fn split_subjects(
    subjects: &[(String, Option<u32>, Option<String>)],
    cfg: &SplitConfig,
) -> Split {
    let mut strata: BTreeMap<(Option<u32>, Option<String>), Vec<String>> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for (id, label, site) in subjects {
        if seen.insert(id.clone()) {
            let site = if cfg.by_site { site.clone() } else { None };
            strata.entry((*label, site)).or_default().push(id.clone());
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut split = Split::default();
    for (_, mut ids) in strata {
        ids.sort();
        ids.shuffle(&mut rng);
        let n = ids.len() as f64;
        let n_test = (cfg.test * n).round() as usize;
        let n_val = ((cfg.val * n).round() as usize).min(ids.len() - n_test.min(ids.len()));
        let n_test = n_test.min(ids.len());
        split.test.extend(ids.drain(..n_test));
        split.val.extend(ids.drain(..n_val));
        split.train.extend(ids);
    }
    for list in [&mut split.train, &mut split.val, &mut split.test] {
        list.sort();
    }
    split
}
