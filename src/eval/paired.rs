//! The paired comparison of two strategies on test AUROC: the difference
//! A − B averaged over seeds, with a paired bootstrap 95 % interval — in
//! every resample the same test subjects (drawn with replacement within
//! each label, per seed) score both strategies, so what the subjects share
//! cancels and only the strategies' difference varies.

use super::EvalError;
use super::metrics::{SubjectPrediction, percentile, subject_auroc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// One seed's test predictions of the two strategies compared.
#[derive(Debug, Clone, Copy)]
pub struct PairedSeed<'a> {
    /// Strategy A's predictions.
    pub a: &'a [SubjectPrediction],
    /// Strategy B's predictions (the same subjects).
    pub b: &'a [SubjectPrediction],
}

/// The AUROC difference A − B over seeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AurocDifference {
    /// Mean over seeds of AUROC(A) − AUROC(B) on the full test sets.
    pub mean: f64,
    /// The 95 % paired bootstrap percentile interval of that mean.
    pub ci95: (f64, f64),
    /// Seeds compared.
    pub seeds: usize,
    /// Test subjects per seed (the smallest).
    pub subjects: usize,
}

impl AurocDifference {
    /// Whether the interval excludes 0 (evidence of a difference).
    pub fn excludes_zero(&self) -> bool {
        self.ci95.0 > 0.0 || self.ci95.1 < 0.0
    }

    /// `+0.050 [95 % CI −0.100, +0.200]`.
    pub fn text(&self) -> String {
        format!(
            "{:+.3} [95 % CI {:+.3}, {:+.3}]",
            self.mean, self.ci95.0, self.ci95.1
        )
    }
}

/// B's predictions reordered to A's subjects; `Err` names a subject of A
/// that B lacks (the strategies were not scored on the same split).
fn align<'a>(
    a: &[SubjectPrediction],
    b: &'a [SubjectPrediction],
) -> Result<Vec<&'a SubjectPrediction>, EvalError> {
    let by: BTreeMap<&str, &SubjectPrediction> =
        b.iter().map(|p| (p.subject.as_str(), p)).collect();
    if a.len() != b.len() {
        return Err(EvalError::NotPaired {
            problem: format!(
                "the strategies were scored on {} and {} test subjects",
                a.len(),
                b.len()
            ),
        });
    }
    a.iter()
        .map(|p| {
            by.get(p.subject.as_str())
                .copied()
                .ok_or_else(|| EvalError::NotPaired {
                    problem: format!(
                        "test subject {} of one strategy is missing from the other",
                        p.subject
                    ),
                })
        })
        .collect()
}

/// The paired AUROC difference of two strategies over `seeds`, with
/// `resamples` bootstrap draws seeded by `seed`. `Ok(None)` when the AUROC
/// is undefined on some seed's full test set or `resamples` is 0.
pub fn auroc_difference(
    seeds: &[PairedSeed],
    classes: usize,
    resamples: usize,
    seed: u64,
) -> Result<Option<AurocDifference>, EvalError> {
    if seeds.is_empty() || resamples == 0 {
        return Ok(None);
    }
    let mut aligned = Vec::with_capacity(seeds.len());
    let mut point = 0.0;
    for s in seeds {
        let b: Vec<SubjectPrediction> = align(s.a, s.b)?.into_iter().cloned().collect();
        let (Some(x), Some(y)) = (subject_auroc(s.a, classes), subject_auroc(&b, classes)) else {
            return Ok(None);
        };
        point += (x - y) / seeds.len() as f64;
        aligned.push((s.a, b));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut means = Vec::with_capacity(resamples);
    let (mut da, mut db) = (Vec::new(), Vec::new());
    for _ in 0..resamples {
        let mut sum = 0.0;
        for (a, b) in &aligned {
            let mut strata: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
            for (i, p) in a.iter().enumerate() {
                strata.entry(p.label).or_default().push(i);
            }
            da.clear();
            db.clear();
            for members in strata.values() {
                for _ in 0..members.len() {
                    let i = members[rng.random_range(0..members.len())];
                    da.push(a[i].clone());
                    db.push(b[i].clone());
                }
            }
            // Every class keeps its size, so the AUROC stays defined.
            let x = subject_auroc(&da, classes).unwrap_or(0.5);
            let y = subject_auroc(&db, classes).unwrap_or(0.5);
            sum += x - y;
        }
        means.push(sum / aligned.len() as f64);
    }
    means.sort_by(f64::total_cmp);
    Ok(Some(AurocDifference {
        mean: point,
        ci95: (percentile(&means, 0.025), percentile(&means, 0.975)),
        seeds: seeds.len(),
        subjects: seeds.iter().map(|s| s.a.len()).min().unwrap_or(0),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::metrics::tests::pred;

    /// Four patients (label 1) and four controls; `order` gives each
    /// subject's logit.
    fn preds(logits: [f64; 8]) -> Vec<SubjectPrediction> {
        (0..8)
            .map(|i| pred(&format!("s{i}"), u32::from(i < 4), logits[i]))
            .collect()
    }

    #[test]
    fn a_perfect_classifier_against_a_reversed_one_differs_by_one_in_every_draw() {
        let perfect = preds([4.0, 3.0, 2.0, 1.0, -1.0, -2.0, -3.0, -4.0]);
        let reversed = preds([-4.0, -3.0, -2.0, -1.0, 1.0, 2.0, 3.0, 4.0]);
        let seeds = [PairedSeed {
            a: &perfect,
            b: &reversed,
        }];
        let d = auroc_difference(&seeds, 2, 500, 3).unwrap().unwrap();
        // AUROC 1 vs 0 on the full set, and in every stratified draw.
        assert_eq!((d.mean, d.ci95), (1.0, (1.0, 1.0)));
        assert!(d.excludes_zero());
        assert_eq!((d.seeds, d.subjects), (1, 8));
    }

    #[test]
    fn identical_strategies_differ_by_zero_and_the_mean_is_over_seeds() {
        let x = preds([1.0, 0.5, -0.2, 0.3, -1.0, 0.1, -0.5, 0.2]);
        let same = [PairedSeed { a: &x, b: &x }];
        let d = auroc_difference(&same, 2, 200, 1).unwrap().unwrap();
        assert_eq!((d.mean, d.ci95), (0.0, (0.0, 0.0)));
        assert!(!d.excludes_zero());
        // Seed 1: A perfect (1.0) vs x. x ranks patients 1.0, 0.5, -0.2,
        // 0.3 against controls -1.0, 0.1, -0.5, 0.2: of the 16 pairs the
        // patient wins 4 + 4 + 2 + 4 = 14 → AUROC 14/16 = 0.875.
        // Seed 2: x vs x → 0. Mean over seeds (0.125 + 0) / 2 = 0.0625.
        let perfect = preds([4.0, 3.0, 2.0, 1.0, -1.0, -2.0, -3.0, -4.0]);
        let two = [
            PairedSeed { a: &perfect, b: &x },
            PairedSeed { a: &x, b: &x },
        ];
        let d = auroc_difference(&two, 2, 200, 1).unwrap().unwrap();
        assert!((d.mean - 0.0625).abs() < 1e-12, "{d:?}");
        assert!(d.ci95.0 >= 0.0 && d.ci95.1 <= 0.5, "{d:?}");
    }

    #[test]
    fn b_is_matched_by_subject_and_a_different_split_is_an_error() {
        let a = preds([4.0, 3.0, 2.0, 1.0, -1.0, -2.0, -3.0, -4.0]);
        let mut b = a.clone();
        b.reverse();
        let d = auroc_difference(&[PairedSeed { a: &a, b: &b }], 2, 100, 0)
            .unwrap()
            .unwrap();
        assert_eq!(d.ci95, (0.0, 0.0), "same predictions in another order");
        let mut other = a.clone();
        other[0].subject = "stranger".into();
        let e = auroc_difference(&[PairedSeed { a: &a, b: &other }], 2, 100, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("s0") && e.contains("same split"), "{e}");
    }
}
