//! Leave-one-site-out evaluation of the frozen-encoder head: for every
//! acquisition site, the head is trained on the other sites (a stratified
//! share of their subjects kept for validation, which picks the epoch by
//! validation loss) and scored on the left-out site's subjects. Reports
//! each fold and the pooled predictions of all folds — the usual answer to
//! "does the head transfer to a scanner it never saw?" in multi-site
//! cohorts such as ADHD-200. The encoder may have seen that scanner in
//! pretraining (unless the run excluded its subjects): fine-tuning appends
//! how many of the scored subjects pretraining read to the description.
//! Transductive for the encoder, therefore, unless that count is 0.

use super::EvalError;
use super::fit::{Labels, Sets, Task};
use super::ft_config::FinetuneConfig;
use super::head::train_head_on_features;
use super::metrics::{ClassificationReport, SubjectPrediction, report};
use crate::data::split::{Split, SplitConfig, split_subjects};
use burn::prelude::Device;
use serde::Serialize;
use std::collections::BTreeSet;

/// One left-out site.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteFold {
    /// The site scored.
    pub site: String,
    /// Subjects trained on, validated on (other sites) and tested on (this site).
    pub subjects: [usize; 3],
    /// The chosen (1-based) epoch.
    pub epoch: usize,
    /// Subject-level metrics on this site.
    pub report: ClassificationReport,
}

/// All folds and their pooled predictions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteOutResult {
    /// What was done, in one line.
    pub description: String,
    /// One fold per site, sorted by site.
    pub folds: Vec<SiteFold>,
    /// Metrics over every fold's test predictions together.
    pub pooled: ClassificationReport,
    /// Those predictions.
    pub predictions: Vec<SubjectPrediction>,
}

/// Stratified rounding leaves a small fold without validation subjects:
/// move one training subject of the label with most training subjects to
/// validation, when that label keeps at least one.
fn keep_one_validation_subject(split: &mut Split, rest: &[(String, Option<u32>, Option<String>)]) {
    let label_of = |id: &String| rest.iter().find(|r| &r.0 == id).and_then(|r| r.1);
    let mut by_label: std::collections::BTreeMap<Option<u32>, Vec<String>> = Default::default();
    for id in &split.train {
        by_label.entry(label_of(id)).or_default().push(id.clone());
    }
    let Some(ids) = by_label
        .values()
        .filter(|v| v.len() >= 2)
        .max_by_key(|v| v.len())
    else {
        return;
    };
    let moved = ids[0].clone();
    split.train.retain(|id| id != &moved);
    split.val.push(moved);
}

/// The per-clip inputs of leave-one-site-out.
#[derive(Clone, Copy)]
pub struct SiteClips<'a> {
    /// Features per clip (empty for clips not computed).
    pub features: &'a [Vec<f32>],
    /// Subject and label per clip (unlabelled clips are skipped).
    pub clips: Labels<'a>,
    /// Site per clip (labelled clips without one are an error).
    pub sites: &'a [Option<String>],
    /// Number of classes.
    pub classes: usize,
}

impl SiteClips<'_> {
    fn site(&self, i: usize) -> Option<&str> {
        self.sites[i].as_deref()
    }
}

/// Runs leave-one-site-out on the frozen features of `input`. `device`
/// must have autodiff.
pub fn leave_site_out(
    input: &SiteClips,
    cfg: &FinetuneConfig,
    device: &Device,
    log: &mut dyn FnMut(String),
) -> Result<SiteOutResult, EvalError> {
    let labels = input.clips.labels;
    let labelled: Vec<usize> = (0..labels.len()).filter(|&i| labels[i].is_some()).collect();
    let all_sites = sites_of(input, &labelled)?;
    let mut folds = Vec::new();
    let mut pooled = Vec::new();
    for site in all_sites {
        let (fold, preds) = one_fold(input, &labelled, site, cfg, device, log)?;
        folds.push(fold);
        pooled.extend(preds);
    }
    let pooled_report = report(&pooled, input.classes, cfg.bootstrap, cfg.seed);
    Ok(SiteOutResult {
        description: format!(
            "leave-one-site-out over {} sites: head trained on the other sites (epoch by validation loss on a {:.0} % stratified share of them), scored on the left-out site; pooled = all folds' test predictions together",
            folds.len(),
            cfg.val_fraction * 100.0
        ),
        folds,
        pooled: pooled_report,
        predictions: pooled,
    })
}

/// The sites of the labelled clips (at least two; every labelled clip has
/// one).
fn sites_of<'a>(input: &SiteClips<'a>, labelled: &[usize]) -> Result<BTreeSet<&'a str>, EvalError> {
    if let Some(&i) = labelled.iter().find(|&&i| input.sites[i].is_none()) {
        return Err(EvalError::NoSite {
            subject: input.clips.subjects[i].clone(),
        });
    }
    let all_sites: BTreeSet<&'a str> = labelled
        .iter()
        .filter_map(|&i| input.sites[i].as_deref())
        .collect();
    if all_sites.len() < 2 {
        return Err(EvalError::TooFewSites {
            sites: all_sites.len(),
        });
    }
    Ok(all_sites)
}

/// One fold: the head trained on the other sites (a stratified share of
/// their subjects for validation) and scored on `site`'s subjects.
fn one_fold(
    input: &SiteClips,
    labelled: &[usize],
    site: &str,
    cfg: &FinetuneConfig,
    device: &Device,
    log: &mut dyn FnMut(String),
) -> Result<(SiteFold, Vec<SubjectPrediction>), EvalError> {
    let subjects = input.clips.subjects;
    let split = other_sites_split(input, labelled, site, cfg)?;
    let in_split = |list: &Vec<String>, i: usize| list.binary_search(&subjects[i]).is_ok();
    let elsewhere_in = |list: &Vec<String>| -> Vec<usize> {
        labelled
            .iter()
            .copied()
            .filter(|&i| input.site(i) != Some(site) && in_split(list, i))
            .collect()
    };
    let sets = Sets {
        train: elsewhere_in(&split.train),
        val: elsewhere_in(&split.val),
        test: labelled
            .iter()
            .copied()
            .filter(|&i| input.site(i) == Some(site))
            .collect(),
    };
    let test_subjects = sets
        .test
        .iter()
        .map(|&i| &subjects[i])
        .collect::<BTreeSet<_>>()
        .len();
    log(format!(
        "site {site} left out: subjects train/val/test {}/{}/{test_subjects}",
        split.train.len(),
        split.val.len()
    ));
    let task = Task {
        clips: input.clips,
        sets: &sets,
        classes: input.classes,
    };
    let fit = train_head_on_features(input.features, &task, cfg, device, &mut |_| {})?;
    let h = fit.best_by_val_loss();
    let preds = fit.test[h].clone();
    let r = report(&preds, input.classes, cfg.bootstrap, cfg.seed);
    log(format!(
        "  {site}: acc {:.3}  bal.acc {:.3}  AUROC {}",
        r.accuracy,
        r.balanced_accuracy,
        r.auroc.map_or("undefined".into(), |a| format!("{a:.3}"))
    ));
    let fold = SiteFold {
        site: site.to_string(),
        subjects: [split.train.len(), split.val.len(), test_subjects],
        epoch: h + 1,
        report: r,
    };
    Ok((fold, preds))
}

/// The train/validation split of the subjects of every site but `site`.
fn other_sites_split(
    input: &SiteClips,
    labelled: &[usize],
    site: &str,
    cfg: &FinetuneConfig,
) -> Result<Split, EvalError> {
    let rest: Vec<(String, Option<u32>, Option<String>)> = labelled
        .iter()
        .filter(|&&i| input.site(i) != Some(site))
        .map(|&i| (input.clips.subjects[i].clone(), input.clips.labels[i], None))
        .collect();
    let mut split = split_subjects(
        &rest,
        &SplitConfig {
            val: cfg.val_fraction,
            test: 0.0,
            by_site: false,
            seed: cfg.seed,
        },
    );
    if split.val.is_empty() {
        keep_one_validation_subject(&mut split, &rest);
    }
    if split.val.is_empty() || split.train.is_empty() {
        return Err(EvalError::SiteFoldTooSmall {
            site: site.to_string(),
            subjects: rest.iter().map(|r| &r.0).collect::<BTreeSet<_>>().len(),
        });
    }
    Ok(split)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// 3 sites × 12 subjects × 2 clips; feature 2 is shifted by +2.5 for
    /// patients everywhere, and every site adds its own offset of 4 × site
    /// to feature 0 (a scanner effect: sites 0 and 2 are left out beyond the
    /// training range of that feature, site 1 inside it).
    /// Features, subjects, labels and sites per clip.
    type Cohort = (
        Vec<Vec<f32>>,
        Vec<String>,
        Vec<Option<u32>>,
        Vec<Option<String>>,
    );

    fn cohort() -> Cohort {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let (mut f, mut s, mut l, mut site) = (vec![], vec![], vec![], vec![]);
        for k in 0..3 {
            for j in 0..12u32 {
                for _ in 0..2 {
                    s.push(format!("sub-{k}{j:02}"));
                    l.push(Some(j % 2));
                    site.push(Some(format!("site{k}")));
                    f.push(
                        (0..6)
                            .map(|d| {
                                let z: f32 =
                                    (0..12).map(|_| rng.random::<f32>()).sum::<f32>() - 6.0;
                                z + match d {
                                    0 => 4.0 * k as f32,
                                    2 if j % 2 == 1 => 2.5,
                                    _ => 0.0,
                                }
                            })
                            .collect(),
                    );
                }
            }
        }
        (f, s, l, site)
    }

    fn cfg() -> FinetuneConfig {
        FinetuneConfig {
            // 36 clips per fold are 3 steps per epoch.
            epochs: 100,
            bootstrap: 0,
            val_fraction: 0.25,
            ..FinetuneConfig::default()
        }
    }

    fn input<'a>(
        f: &'a [Vec<f32>],
        s: &'a [String],
        l: &'a [Option<u32>],
        site: &'a [Option<String>],
    ) -> SiteClips<'a> {
        SiteClips {
            features: f,
            clips: Labels {
                subjects: s,
                labels: l,
            },
            sites: site,
            classes: 2,
        }
    }

    #[test]
    fn every_site_is_scored_by_a_head_that_never_saw_it() {
        let (f, s, l, site) = cohort();
        let device = Device::flex().autodiff();
        let r = leave_site_out(&input(&f, &s, &l, &site), &cfg(), &device, &mut |_| {}).unwrap();
        assert_eq!(r.folds.len(), 3);
        for (k, fold) in r.folds.iter().enumerate() {
            assert_eq!(fold.site, format!("site{k}"));
            // 24 subjects elsewhere: 25 % per class = 3 + 3 validation.
            assert_eq!(fold.subjects, [18, 6, 12]);
            assert_eq!(fold.report.subjects, 12);
        }
        // The pooled predictions are each subject exactly once, each from
        // the fold that left its site out.
        assert_eq!(r.predictions.len(), 36);
        let ids: BTreeSet<&String> = r.predictions.iter().map(|p| &p.subject).collect();
        assert_eq!(ids.len(), 36);
        assert_eq!(r.pooled.subjects, 36);
        assert_eq!(r.pooled.confusion.iter().flatten().sum::<usize>(), 36);
        // The planted signal transfers across sites (per clip Bayes
        // accuracy ≈ 89 %, per subject of two clips higher).
        assert!(
            r.pooled.accuracy >= 0.8,
            "pooled accuracy {}",
            r.pooled.accuracy
        );
        assert!(r.pooled.auroc.unwrap() >= 0.85, "{:?}", r.pooled.auroc);
    }

    #[test]
    fn one_site_or_missing_sites_are_clear_errors() {
        let (f, s, l, mut site) = cohort();
        let device = Device::flex().autodiff();
        let one: Vec<Option<String>> = site.iter().map(|_| Some("a".to_string())).collect();
        let e = leave_site_out(&input(&f, &s, &l, &one), &cfg(), &device, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least 2 sites; the data have 1"), "{e}");
        site[5] = None;
        let e = leave_site_out(&input(&f, &s, &l, &site), &cfg(), &device, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains("sub-002 has no site"), "{e}");
    }
}
