//! Classification metrics at the subject level: clip logits averaged per
//! subject, then accuracy, balanced accuracy, AUROC (Mann–Whitney, ties
//! count ½) with a seeded, stratified bootstrap 95 % interval, and the
//! confusion matrix. Everything is plain host code on `f64`.

use super::EvalError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeMap;

/// One subject's prediction: its true label and its mean clip logits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubjectPrediction {
    /// Subject id.
    pub subject: String,
    /// True class.
    pub label: u32,
    /// Logits averaged over the subject's clips: one value (binary, the
    /// logit of class 1) or one per class.
    pub logits: Vec<f64>,
    /// Clips averaged.
    pub clips: usize,
}

impl SubjectPrediction {
    /// The predicted class: logit ≥ 0 for a binary logit, else the arg max
    /// (the lowest class wins a tie).
    pub fn predicted(&self) -> u32 {
        if self.logits.len() == 1 {
            u32::from(self.logits[0] >= 0.0)
        } else {
            let mut best = 0;
            for (k, &v) in self.logits.iter().enumerate() {
                if v > self.logits[best] {
                    best = k;
                }
            }
            best as u32
        }
    }

    /// The score AUROC ranks for `class`: the binary logit for class 1 (its
    /// negation for class 0), else the softmax probability of `class`.
    pub fn score(&self, class: u32) -> f64 {
        if self.logits.len() == 1 {
            if class == 1 {
                self.logits[0]
            } else {
                -self.logits[0]
            }
        } else {
            softmax(&self.logits)[class as usize]
        }
    }
}

/// Softmax of a logit vector (max-shifted).
pub fn softmax(logits: &[f64]) -> Vec<f64> {
    let m = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = logits.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// Averages clip logits per subject: `(subject, label, logits)` per clip →
/// one prediction per subject, ordered by subject id. Errors when one
/// subject's clips disagree on the label or the logit count.
pub fn aggregate_by_subject(
    clips: &[(String, u32, Vec<f64>)],
) -> Result<Vec<SubjectPrediction>, EvalError> {
    let mut by: BTreeMap<&str, SubjectPrediction> = BTreeMap::new();
    for (subject, label, logits) in clips {
        let entry = by
            .entry(subject.as_str())
            .or_insert_with(|| SubjectPrediction {
                subject: subject.clone(),
                label: *label,
                logits: vec![0.0; logits.len()],
                clips: 0,
            });
        if entry.label != *label || entry.logits.len() != logits.len() {
            return Err(EvalError::SubjectDisagrees {
                subject: subject.clone(),
            });
        }
        for (a, b) in entry.logits.iter_mut().zip(logits) {
            *a += b;
        }
        entry.clips += 1;
    }
    Ok(by
        .into_values()
        .map(|mut p| {
            for v in &mut p.logits {
                *v /= p.clips as f64;
            }
            p
        })
        .collect())
}

/// Share of `predicted` equal to `truth`; NaN for empty input.
pub fn accuracy(predicted: &[u32], truth: &[u32]) -> f64 {
    let hits = predicted.iter().zip(truth).filter(|(p, t)| p == t).count();
    hits as f64 / truth.len() as f64
}

/// `[truth][predicted]` counts for classes `0..classes`.
pub fn confusion_matrix(predicted: &[u32], truth: &[u32], classes: usize) -> Vec<Vec<usize>> {
    let mut m = vec![vec![0; classes]; classes];
    for (&p, &t) in predicted.iter().zip(truth) {
        if (p as usize) < classes && (t as usize) < classes {
            m[t as usize][p as usize] += 1;
        }
    }
    m
}

/// The mean recall over the classes present in `truth` (classes absent
/// from the truth are skipped); NaN for empty input.
pub fn balanced_accuracy(predicted: &[u32], truth: &[u32]) -> f64 {
    let mut per: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
    for (&p, &t) in predicted.iter().zip(truth) {
        let e = per.entry(t).or_default();
        e.0 += usize::from(p == t);
        e.1 += 1;
    }
    if per.is_empty() {
        return f64::NAN;
    }
    per.values()
        .map(|(h, n)| *h as f64 / *n as f64)
        .sum::<f64>()
        / per.len() as f64
}

/// AUROC of `scores` for the positives in `positive`: the probability that
/// a random positive scores above a random negative, ties counting ½
/// (Mann–Whitney U / (n⁺·n⁻)). `None` when either class is absent (the
/// AUROC is undefined there).
pub fn auroc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let pos: Vec<f64> = scores
        .iter()
        .zip(positive)
        .filter(|(_, p)| **p)
        .map(|(s, _)| *s)
        .collect();
    let neg: Vec<f64> = scores
        .iter()
        .zip(positive)
        .filter(|(_, p)| !**p)
        .map(|(s, _)| *s)
        .collect();
    if pos.is_empty() || neg.is_empty() {
        return None;
    }
    // Rank-sum with mid-ranks for ties: O(n log n).
    let mut all: Vec<(f64, bool)> = pos
        .iter()
        .map(|&s| (s, true))
        .chain(neg.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += all[i..=j].iter().filter(|e| e.1).count() as f64 * mid;
        i = j + 1;
    }
    let (np, nn) = (pos.len() as f64, neg.len() as f64);
    Some((rank_sum - np * (np + 1.0) / 2.0) / (np * nn))
}

/// AUROC of subject predictions: binary, or the macro mean of one-vs-rest
/// AUROCs over the classes (`None` when a class present in `classes` has
/// no positive or no negative subject).
pub fn subject_auroc(preds: &[SubjectPrediction], classes: usize) -> Option<f64> {
    let one = |class: u32| {
        let scores: Vec<f64> = preds.iter().map(|p| p.score(class)).collect();
        let positive: Vec<bool> = preds.iter().map(|p| p.label == class).collect();
        auroc(&scores, &positive)
    };
    if classes <= 2 {
        return one(1);
    }
    let per: Option<Vec<f64>> = (0..classes as u32).map(one).collect();
    per.map(|v| v.iter().sum::<f64>() / v.len() as f64)
}

/// The 95 % percentile interval of the AUROC over `resamples` bootstrap
/// draws of subjects, stratified by label (each class resampled with
/// replacement to its own size, so every draw has both classes), seeded.
/// `None` when the AUROC is undefined or `resamples` is 0.
pub fn bootstrap_auroc_ci(
    preds: &[SubjectPrediction],
    classes: usize,
    resamples: usize,
    seed: u64,
) -> Option<(f64, f64)> {
    subject_auroc(preds, classes)?;
    if resamples == 0 {
        return None;
    }
    let mut strata: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, p) in preds.iter().enumerate() {
        strata.entry(p.label).or_default().push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut values = Vec::with_capacity(resamples);
    let mut draw = Vec::with_capacity(preds.len());
    for _ in 0..resamples {
        draw.clear();
        for members in strata.values() {
            for _ in 0..members.len() {
                draw.push(preds[members[rng.random_range(0..members.len())]].clone());
            }
        }
        if let Some(a) = subject_auroc(&draw, classes) {
            values.push(a);
        }
    }
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some((percentile(&values, 0.025), percentile(&values, 0.975)))
}

/// Linear-interpolated percentile of sorted values (`q` in [0, 1]).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Subject-level metrics of one evaluated split.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassificationReport {
    /// Subjects evaluated.
    pub subjects: usize,
    /// Accuracy.
    pub accuracy: f64,
    /// Mean per-class recall.
    pub balanced_accuracy: f64,
    /// AUROC (macro one-vs-rest beyond two classes); `None` when a class
    /// is missing from the split.
    pub auroc: Option<f64>,
    /// Bootstrap 95 % interval of the AUROC.
    pub auroc_ci95: Option<(f64, f64)>,
    /// `[truth][predicted]` subject counts.
    pub confusion: Vec<Vec<usize>>,
}

/// All metrics of `preds` for `classes` classes; the bootstrap draws
/// `resamples` times from `seed`.
pub fn report(
    preds: &[SubjectPrediction],
    classes: usize,
    resamples: usize,
    seed: u64,
) -> ClassificationReport {
    let predicted: Vec<u32> = preds.iter().map(SubjectPrediction::predicted).collect();
    let truth: Vec<u32> = preds.iter().map(|p| p.label).collect();
    ClassificationReport {
        subjects: preds.len(),
        accuracy: accuracy(&predicted, &truth),
        balanced_accuracy: balanced_accuracy(&predicted, &truth),
        auroc: subject_auroc(preds, classes),
        auroc_ci95: bootstrap_auroc_ci(preds, classes, resamples, seed),
        confusion: confusion_matrix(&predicted, &truth, classes.max(2)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    /// A one-clip subject prediction (shared by the paired-bootstrap tests).
    pub(crate) fn pred(subject: &str, label: u32, logit: f64) -> SubjectPrediction {
        SubjectPrediction {
            subject: subject.into(),
            label,
            logits: vec![logit],
            clips: 1,
        }
    }

    #[test]
    fn auroc_counts_ties_as_half() {
        // Positives 0.8, 0.4; negatives 0.4, 0.1. Pairs: (0.8>0.4)=1,
        // (0.8>0.1)=1, (0.4=0.4)=½, (0.4>0.1)=1 → 3.5/4.
        let a = auroc(&[0.8, 0.4, 0.4, 0.1], &[true, true, false, false]).unwrap();
        assert!(close(a, 0.875), "{a}");
        // All equal: every pair a tie → 0.5.
        let a = auroc(&[1.0; 5], &[true, false, true, false, false]).unwrap();
        assert!(close(a, 0.5));
        // Perfect and reversed.
        assert!(close(
            auroc(&[3.0, 2.0, 1.0], &[true, false, false]).unwrap(),
            1.0
        ));
        assert!(close(
            auroc(&[1.0, 2.0, 3.0], &[true, false, false]).unwrap(),
            0.0
        ));
        // 3 pos {0.9,0.5,0.2}, 2 neg {0.5,0.3}: 0.9 beats both (2), 0.5 ties
        // 0.5 (½) beats 0.3 (1), 0.2 beats none → 3.5/6.
        let a = auroc(
            &[0.9, 0.5, 0.2, 0.5, 0.3],
            &[true, true, true, false, false],
        )
        .unwrap();
        assert!(close(a, 3.5 / 6.0), "{a}");
    }

    #[test]
    fn auroc_of_a_single_class_is_undefined() {
        assert_eq!(auroc(&[0.1, 0.2], &[true, true]), None);
        assert_eq!(auroc(&[], &[]), None);
        let preds = [pred("a", 1, 0.3), pred("b", 1, -1.0)];
        let r = report(&preds, 2, 100, 0);
        assert_eq!(r.auroc, None);
        assert_eq!(r.auroc_ci95, None);
        // Balanced accuracy uses only the class present: recall of 1 = ½.
        assert!(close(r.balanced_accuracy, 0.5));
        assert!(close(r.accuracy, 0.5));
    }

    #[test]
    fn accuracy_balanced_accuracy_and_confusion_by_hand() {
        // truth 0,0,0,0,1,1 ; predicted 0,0,0,1,1,0.
        let truth = [0, 0, 0, 0, 1, 1];
        let predicted = [0, 0, 0, 1, 1, 0];
        assert!(close(accuracy(&predicted, &truth), 4.0 / 6.0));
        // Recall 3/4 and 1/2 → 0.625.
        assert!(close(balanced_accuracy(&predicted, &truth), 0.625));
        assert_eq!(
            confusion_matrix(&predicted, &truth, 2),
            vec![vec![3, 1], vec![1, 1]]
        );
        // Three classes: recalls 1, 0, 1/2.
        let truth = [0, 1, 2, 2];
        let predicted = [0, 2, 2, 0];
        assert!(close(balanced_accuracy(&predicted, &truth), 0.5));
        assert_eq!(
            confusion_matrix(&predicted, &truth, 3),
            vec![vec![1, 0, 0], vec![0, 0, 1], vec![1, 0, 1]]
        );
    }

    #[test]
    fn subject_level_averages_clip_logits() {
        let clips = vec![
            ("s2".to_string(), 0, vec![1.0]),
            ("s1".to_string(), 1, vec![-3.0]),
            ("s2".to_string(), 0, vec![-2.0]),
            ("s1".to_string(), 1, vec![4.0]),
            ("s1".to_string(), 1, vec![2.0]),
        ];
        let p = aggregate_by_subject(&clips).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].subject.as_str(), p[0].clips), ("s1", 3));
        assert!(close(p[0].logits[0], 1.0)); // (-3 + 4 + 2) / 3
        assert!(close(p[1].logits[0], -0.5)); // (1 - 2) / 2
        assert_eq!((p[0].predicted(), p[1].predicted()), (1, 0));
        // A clip-level majority would call s1 1 too, but s2's mean decides.
        let bad = vec![
            ("s".to_string(), 0, vec![1.0]),
            ("s".to_string(), 1, vec![1.0]),
        ];
        assert!(
            aggregate_by_subject(&bad)
                .unwrap_err()
                .to_string()
                .contains("subject s")
        );
    }

    #[test]
    fn multiclass_prediction_and_macro_auroc() {
        let mk = |s: &str, label, logits: Vec<f64>| SubjectPrediction {
            subject: s.into(),
            label,
            logits,
            clips: 1,
        };
        // Each subject's largest logit is its own class → every one-vs-rest
        // AUROC is 1.
        let preds = vec![
            mk("a", 0, vec![2.0, 0.0, 0.0]),
            mk("b", 1, vec![0.0, 2.0, 0.0]),
            mk("c", 2, vec![0.0, 0.0, 2.0]),
            mk("d", 2, vec![0.0, 1.0, 3.0]),
        ];
        let r = report(&preds, 3, 50, 1);
        assert!(close(r.accuracy, 1.0));
        assert!(close(r.auroc.unwrap(), 1.0));
        assert_eq!(mk("t", 0, vec![1.0, 1.0]).predicted(), 0);
        let s = softmax(&[0.0, (2.0f64).ln()]);
        assert!(close(s[1], 2.0 / 3.0));
    }

    #[test]
    fn bootstrap_interval_is_seeded_and_brackets_the_estimate() {
        let preds: Vec<SubjectPrediction> = (0..20)
            .map(|i| {
                pred(
                    &format!("s{i:02}"),
                    (i % 2) as u32,
                    i as f64 * 0.1 + (i % 2) as f64 * 0.5,
                )
            })
            .collect();
        let a = subject_auroc(&preds, 2).unwrap();
        let (lo, hi) = bootstrap_auroc_ci(&preds, 2, 500, 7).unwrap();
        assert!(lo <= a && a <= hi && lo < hi, "{lo} {a} {hi}");
        assert!(hi <= 1.0 && lo >= 0.0);
        assert_eq!(bootstrap_auroc_ci(&preds, 2, 500, 7), Some((lo, hi)));
        // A perfect separation stays perfect in every stratified draw.
        let perfect: Vec<SubjectPrediction> = (0..6)
            .map(|i| pred(&format!("p{i}"), u32::from(i >= 3), i as f64))
            .collect();
        assert_eq!(bootstrap_auroc_ci(&perfect, 2, 100, 0), Some((1.0, 1.0)));
        assert!(close(percentile(&[0.0, 1.0, 2.0, 3.0], 0.5), 1.5));
    }
}
