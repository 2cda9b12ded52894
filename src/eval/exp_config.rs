//! The experiment config (`exp.toml`): one pretraining run config shared by
//! every strategy, the seeds, the fine-tuning config, which runs get
//! occlusion attribution, and the masking strategies — a `[grid]`
//! shorthand (random, window, each lobe alone, combinations, partial ROI)
//! plus any explicit `[[strategies]]`.

use super::EvalError;
use super::ft_config::FinetuneConfig;
use super::pretrained::CheckpointChoice;
use crate::atlas::Lobe;
use crate::fsutil::{self, DocKind};
use crate::masking::{MaskLevel, MaskStrategy, MaskTime, RegionSelection};
use crate::train::{DataConfig, OptimConfig, RunConfig, SyntheticData};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One masking strategy of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Strategy {
    /// Its name in the tables and the run folder (letters, digits, `-+_.`).
    pub name: String,
    /// What is masked (the `[mask]` table of a run config, without seed).
    pub mask: MaskStrategy,
    /// Which frames of each masked unit are masked (`time = "all"`,
    /// `{ mode = "random", ratio = 0.5 }` or `{ mode = "block", length = 4,
    /// ratio = 0.5 }`, as `[mask] time`); absent: the pretraining config's
    /// `[mask] time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<MaskTime>,
}

impl Strategy {
    /// A strategy that inherits the pretraining config's temporal mode.
    pub fn new(name: impl Into<String>, mask: MaskStrategy) -> Strategy {
        Strategy {
            name: name.into(),
            mask,
            time: None,
        }
    }
}

/// The name suffix of a strategy masking at `time` in a grid whose
/// pretraining config masks at `base`: none when they are the same (the
/// strategy inherits), else `-tall` (every frame), `-trand<percent>`
/// (random frames) or `-tblock<length>` (blocks at ratio 0.5;
/// `-tblock<length>r<percent>` at another ratio), so one grid can hold
/// `roi-limbic` and `roi-limbic-tblock4`.
pub fn time_suffix(time: MaskTime, base: MaskTime) -> String {
    if time == base {
        return String::new();
    }
    let pct = |r: f64| format!("{}", (r * 100.0).round());
    match time {
        MaskTime::All => "-tall".to_string(),
        MaskTime::Random { ratio } => format!("-trand{}", pct(ratio)),
        MaskTime::Block { length, ratio } if ratio == 0.5 => format!("-tblock{length}"),
        MaskTime::Block { length, ratio } => format!("-tblock{length}r{}", pct(ratio)),
    }
}

/// Shorthand for the paper's grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Grid {
    /// Random-token masking at this ratio (`random`).
    pub random: Option<f64>,
    /// Reference 4⁴ window masking at this ratio (`window`).
    pub window: Option<f64>,
    /// Each lobe alone, ROI masked at token level (`roi-<lobe>`).
    pub lobes: Vec<Lobe>,
    /// Lobe combinations (`roi-<a>+<b>`).
    pub combinations: Vec<Vec<Lobe>>,
    /// Partial ROI: this fraction of each combination's tokens (of each
    /// lobe when there is no combination), `…-p<percent>`.
    pub partial: Option<f64>,
}

/// Whether the encoder may see the fine-tuning test subjects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitProtocol {
    /// The fine-tuning test subjects of each seed are excluded from
    /// pretraining (checked after fine-tuning).
    #[default]
    Inductive,
    /// Pretraining reads every subject, the test subjects too (labelled so
    /// in the results): the encoder has seen them, though without labels.
    Transductive,
}

impl SplitProtocol {
    /// `inductive` or `transductive`.
    pub fn name(self) -> &'static str {
        match self {
            SplitProtocol::Inductive => "inductive",
            SplitProtocol::Transductive => "transductive",
        }
    }
}

/// Which runs get occlusion attribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttributeWhich {
    /// None.
    None,
    /// ROI-masked strategies (every seed).
    #[default]
    Roi,
    /// Every strategy.
    All,
}

/// An attribution method of the experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttrMethod {
    /// Region occlusion of the reconstruction (ΔMSE).
    Occlusion,
    /// Integrated gradients of the frozen-encoder classifier (mean |IG|).
    Ig,
}

impl AttrMethod {
    /// The name used in files and tables.
    pub fn name(self) -> &'static str {
        match self {
            AttrMethod::Occlusion => "occlusion",
            AttrMethod::Ig => "ig",
        }
    }

    /// The rankings it produces, in report order.
    pub fn scores(self) -> &'static [RankScore] {
        match self {
            AttrMethod::Occlusion => &[RankScore::Occlusion, RankScore::RegionMse],
            AttrMethod::Ig => &[RankScore::Ig, RankScore::IgShare],
        }
    }
}

/// What an attribution ranking's score is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RankScore {
    /// Occlusion: how much the region helps, as context, to reconstruct
    /// the rest (ΔMSE outside it when it is masked too).
    Occlusion,
    /// Occlusion: the region's own reconstruction error when masked (the
    /// paper's per-region MSE).
    RegionMse,
    /// Integrated gradients: mean |attribution| per voxel.
    Ig,
    /// Integrated gradients: the region's share of the total |attribution|
    /// (size-aware).
    IgShare,
}

impl RankScore {
    /// The name used in files and tables.
    pub fn name(self) -> &'static str {
        match self {
            RankScore::Occlusion => "occlusion",
            RankScore::RegionMse => "region-mse",
            RankScore::Ig => "ig",
            RankScore::IgShare => "ig-share",
        }
    }

    /// What its score means, for table headers.
    pub fn score_name(self) -> &'static str {
        match self {
            RankScore::Occlusion => "context ΔMSE",
            RankScore::RegionMse => "region MSE when masked",
            RankScore::Ig => "mean |IG| per voxel",
            RankScore::IgShare => "share of total |IG|",
        }
    }
}

/// Integrated-gradients settings of an experiment (`[ig]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IgSettings {
    /// Midpoint steps of the path from the baseline.
    pub steps: usize,
    /// SmoothGrad² noise samples per clip (0 = plain IG).
    pub samples: usize,
    /// Noise SD as a fraction of the clip's value range.
    pub noise: f64,
}

impl Default for IgSettings {
    fn default() -> Self {
        IgSettings {
            steps: 16,
            samples: 8,
            noise: 0.15,
        }
    }
}

/// Everything that defines an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Seeds; each seeds the run (init, split, clip order), its masks and
    /// the fine-tuning split, so strategies are compared on the same splits.
    pub seeds: Vec<u64>,
    /// The pretraining run config; its `[mask]` and `seed` are replaced.
    pub pretrain: RunConfig,
    /// Fine-tuning of each frozen encoder; its `seed` and `checkpoint` are
    /// replaced.
    pub finetune: FinetuneConfig,
    /// The pretraining checkpoint fine-tuned and attributed: `last` (every
    /// strategy compared at the same step) or `best` (each run's lowest
    /// validation masked MSE, possibly at different steps).
    pub checkpoint: CheckpointChoice,
    /// Inductive (test subjects kept out of pretraining) or transductive.
    pub split: SplitProtocol,
    /// Bootstrap resamples of the paired AUROC-difference interval.
    pub bootstrap: usize,
    /// Which runs get attribution.
    pub attribute: AttributeWhich,
    /// The attribution methods run on them.
    pub attribute_methods: Vec<AttrMethod>,
    /// How integrated gradients are computed (SmoothGrad² by default).
    pub ig: IgSettings,
    /// Regions listed per strategy in the attribution ranking.
    pub top: usize,
    /// The grid shorthand.
    pub grid: Grid,
    /// Explicit strategies, after the grid's.
    pub strategies: Vec<Strategy>,
}

impl Default for ExperimentConfig {
    fn default() -> Self {
        ExperimentConfig {
            seeds: vec![0, 1, 2],
            pretrain: RunConfig::demo(),
            finetune: FinetuneConfig::default(),
            checkpoint: CheckpointChoice::Last,
            split: SplitProtocol::Inductive,
            bootstrap: 2000,
            attribute: AttributeWhich::Roi,
            attribute_methods: vec![AttrMethod::Occlusion],
            ig: IgSettings::default(),
            top: 10,
            // The default cohort plants its effect in the limbic lobe;
            // occipital ROI masking is the control.
            grid: Grid {
                random: Some(0.5),
                window: Some(0.5),
                lobes: vec![Lobe::Limbic, Lobe::Occipital],
                ..Grid::default()
            },
            strategies: Vec::new(),
        }
    }
}

fn roi(lobes: &[Lobe], partial: Option<f64>) -> MaskStrategy {
    MaskStrategy::Roi {
        regions: RegionSelection {
            lobes: lobes.to_vec(),
            names: Vec::new(),
        },
        partial,
        level: MaskLevel::Token,
    }
}

fn lobe_names(lobes: &[Lobe]) -> String {
    lobes.iter().map(|l| l.name()).collect::<Vec<_>>().join("+")
}

impl ExperimentConfig {
    /// The small CPU demo: `tiny` on 32 synthetic subjects with an effect
    /// planted in limbic + cerebellum; random / window / limbic ROI /
    /// cerebellum ROI / occipital ROI (the control: no planted effect), one
    /// seed, 100 pretraining steps each, inductive split, last checkpoint,
    /// occlusion and integrated-gradients attribution of every run.
    pub fn demo() -> Self {
        let pretrain = RunConfig {
            data: DataConfig::Synthetic(SyntheticData {
                subjects: 32,
                frames: 24,
                seed: 7,
                effect_lobes: vec![Lobe::Limbic, Lobe::Cerebellum],
                effect_size: 2.0,
                sites: 1,
            }),
            // 5e-3: the encoders must learn in 100 steps (random masking's
            // validation MSE 1.73 at 1e-3, under 0.6 from 3e-3 on).
            optim: OptimConfig {
                lr: 5e-3,
                warmup_steps: 10,
                cosine: true,
                min_lr: 1e-5,
                grad_clip: Some(1.0),
                ..OptimConfig::default()
            },
            batch_size: 4,
            epochs: 100,
            max_steps: Some(100),
            val_every: 50,
            preview_every: 0,
            keep_last: 1,
            ..RunConfig::default()
        };
        ExperimentConfig {
            seeds: vec![0],
            pretrain,
            finetune: FinetuneConfig {
                epochs: 40,
                bootstrap: 200,
                val_fraction: 0.25,
                test_fraction: 0.25,
                ..FinetuneConfig::default()
            },
            checkpoint: CheckpointChoice::Last,
            split: SplitProtocol::Inductive,
            bootstrap: 2000,
            attribute: AttributeWhich::All,
            attribute_methods: vec![AttrMethod::Occlusion, AttrMethod::Ig],
            // SmoothGrad² at a cost the 10-minute demo affords.
            ig: IgSettings {
                steps: 8,
                samples: 4,
                noise: 0.15,
            },
            top: 10,
            grid: Grid {
                random: Some(0.5),
                window: Some(0.5),
                lobes: vec![Lobe::Limbic, Lobe::Cerebellum, Lobe::Occipital],
                ..Grid::default()
            },
            strategies: Vec::new(),
        }
    }

    /// The lobes with a planted effect (synthetic data only).
    pub fn planted_lobes(&self) -> Vec<Lobe> {
        match &self.pretrain.data {
            DataConfig::Synthetic(s) => s.effect_lobes.clone(),
            DataConfig::Cache { .. } => Vec::new(),
        }
    }

    /// The strategies in order: the grid's, then the explicit ones.
    pub fn all_strategies(&self) -> Vec<Strategy> {
        let g = &self.grid;
        let mut out = Vec::new();
        if let Some(ratio) = g.random {
            out.push(Strategy::new("random", MaskStrategy::Random { ratio }));
        }
        if let Some(ratio) = g.window {
            out.push(Strategy::new(
                "window",
                MaskStrategy::Window {
                    ratio,
                    window: [4, 4, 4, 4],
                },
            ));
        }
        for &lobe in &g.lobes {
            out.push(Strategy::new(
                format!("roi-{}", lobe.name()),
                roi(&[lobe], None),
            ));
        }
        for combo in &g.combinations {
            out.push(Strategy::new(
                format!("roi-{}", lobe_names(combo)),
                roi(combo, None),
            ));
        }
        if let Some(p) = g.partial {
            let sets: Vec<Vec<Lobe>> = if g.combinations.is_empty() {
                g.lobes.iter().map(|&l| vec![l]).collect()
            } else {
                g.combinations.clone()
            };
            for set in sets {
                out.push(Strategy::new(
                    format!("roi-{}-p{}", lobe_names(&set), (p * 100.0).round()),
                    roi(&set, Some(p)),
                ));
            }
        }
        out.extend(self.strategies.iter().cloned());
        out
    }

    /// Checks the seeds, the strategies (names unique and usable as folder
    /// names, masks valid) and both configs; the error names the field or
    /// the strategy.
    pub fn validate(&self) -> Result<(), EvalError> {
        self.validate_seeds()?;
        self.validate_attribution()?;
        self.validate_strategies()?;
        self.finetune.validate().map_err(|e| EvalError::Section {
            section: "finetune",
            cause: Box::new(e),
        })
    }

    fn validate_seeds(&self) -> Result<(), EvalError> {
        if self.seeds.is_empty() {
            return Err(EvalError::setting("seeds", "must list at least one seed"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in &self.seeds {
            if !seen.insert(*s) {
                return Err(EvalError::setting(
                    "seeds",
                    format!("lists seed {s} twice; list each seed once"),
                ));
            }
        }
        Ok(())
    }

    fn validate_attribution(&self) -> Result<(), EvalError> {
        if self.attribute != AttributeWhich::None && self.attribute_methods.is_empty() {
            return Err(EvalError::setting(
                "attribute_methods",
                "is empty; list \"occlusion\" and/or \"ig\", or set attribute = \"none\"",
            ));
        }
        if self.ig.steps == 0 {
            return Err(EvalError::setting(
                "[ig] steps",
                "must be at least 1, got 0",
            ));
        }
        if !(self.ig.noise.is_finite() && self.ig.noise >= 0.0) {
            return Err(EvalError::setting(
                "[ig] noise",
                format!("must be a number >= 0, got {}", self.ig.noise),
            ));
        }
        if self.attribute_methods.contains(&AttrMethod::Ig) && self.finetune.full {
            return Err(EvalError::setting(
                "attribute_methods = [\"ig\"]",
                "needs the frozen-encoder head; drop [finetune] full",
            ));
        }
        Ok(())
    }

    fn validate_strategies(&self) -> Result<(), EvalError> {
        let strategies = self.all_strategies();
        if strategies.is_empty() {
            return Err(EvalError::setting(
                "[grid]",
                "gives no strategy: fill [grid] or add [[strategies]]",
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for s in &strategies {
            let ok = !s.name.is_empty()
                && s.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-+_.".contains(c));
            if !ok {
                return Err(EvalError::StrategyName {
                    problem: format!(
                        "name '{}' must be non-empty letters, digits or -+_.",
                        s.name
                    ),
                });
            }
            if !names.insert(s.name.clone()) {
                return Err(EvalError::StrategyName {
                    problem: format!(
                        "'{}' appears twice; give each strategy its own name",
                        s.name
                    ),
                });
            }
            let mut run = self.pretrain.clone();
            run.mask.strategy = s.mask.clone();
            run.mask.time = self.strategy_time(s);
            run.validate().map_err(|e| EvalError::StrategyRun {
                strategy: s.name.clone(),
                cause: Box::new(e),
            })?;
        }
        Ok(())
    }

    /// The temporal mode `strategy` masks at: its own `time`, else the
    /// pretraining config's `[mask] time`.
    pub fn strategy_time(&self, strategy: &Strategy) -> MaskTime {
        strategy.time.unwrap_or(self.pretrain.mask.time)
    }

    /// The run config of `strategy` under `seed` (before the inductive
    /// split adds its `exclude_subjects`): the pretraining config with the
    /// strategy's mask and temporal mode.
    pub fn run_config(&self, strategy: &Strategy, seed: u64) -> RunConfig {
        let mut run = self.pretrain.clone();
        run.mask.strategy = strategy.mask.clone();
        run.mask.time = self.strategy_time(strategy);
        run.mask.seed = seed;
        run.seed = seed;
        run
    }

    /// The fine-tuning config of every run under `seed`.
    pub fn finetune_config(&self, seed: u64) -> FinetuneConfig {
        let mut ft = self.finetune.clone();
        ft.seed = seed;
        ft.checkpoint = self.checkpoint;
        ft
    }

    /// The ROI strategies of whole lobes none of which has a planted
    /// effect: the negative controls (synthetic data only).
    pub fn controls(&self) -> Vec<Strategy> {
        let planted = self.planted_lobes();
        if planted.is_empty() {
            return Vec::new();
        }
        self.all_strategies()
            .into_iter()
            .filter(|s| match &s.mask {
                MaskStrategy::Roi { regions, .. } => {
                    regions.names.is_empty()
                        && !regions.lobes.is_empty()
                        && regions.lobes.iter().all(|l| !planted.contains(l))
                }
                _ => false,
            })
            .collect()
    }

    /// Reads and validates an experiment config.
    pub fn load(path: &Path) -> Result<ExperimentConfig, EvalError> {
        Ok(fsutil::load_toml(path, KIND, ExperimentConfig::validate)?)
    }

    /// Writes the config as TOML (what [`ExperimentConfig::load`] and
    /// `roimae experiment --config` read).
    pub fn save(&self, path: &Path) -> Result<(), EvalError> {
        Ok(fsutil::save_toml(path, self, KIND.what)?)
    }
}

/// How `exp.toml` is named in errors and where its format is documented.
const KIND: DocKind = DocKind {
    what: "experiment config",
    hint: "see `roimae experiment --help`",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_expands_to_named_strategies() {
        let cfg = ExperimentConfig {
            grid: Grid {
                random: Some(0.5),
                window: Some(0.5),
                lobes: vec![Lobe::Limbic, Lobe::Cerebellum],
                combinations: vec![vec![Lobe::Limbic, Lobe::Cerebellum]],
                partial: Some(0.5),
            },
            ..ExperimentConfig::default()
        };
        let names: Vec<String> = cfg.all_strategies().into_iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "random",
                "window",
                "roi-limbic",
                "roi-cerebellum",
                "roi-limbic+cerebellum",
                "roi-limbic+cerebellum-p50"
            ]
        );
        cfg.validate().unwrap();
        assert!(ExperimentConfig::demo().validate().is_ok());
    }

    #[test]
    fn the_recorded_benchmark_config_is_valid_and_has_its_control() {
        let text = include_str!("../../benches/experiment-synthetic.toml");
        let cfg: ExperimentConfig = toml::from_str(text).unwrap();
        cfg.validate().unwrap();
        let names: Vec<String> = cfg.all_strategies().into_iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "random",
                "window",
                "roi-limbic",
                "roi-cerebellum",
                "roi-occipital",
                "roi-limbic+cerebellum"
            ]
        );
        let controls: Vec<String> = cfg.controls().into_iter().map(|s| s.name).collect();
        assert_eq!(controls, ["roi-occipital"]);
        assert_eq!(cfg.seeds.len(), 3);
        assert_eq!(
            (cfg.split, cfg.checkpoint),
            (SplitProtocol::Inductive, CheckpointChoice::Last)
        );
    }

    #[test]
    fn a_toml_config_round_trips_and_bad_ones_name_the_problem() {
        let text = r#"
seeds = [1, 2]
[grid]
random = 0.75
lobes = ["limbic"]
[[strategies]]
name = "hippo"
mask = { kind = "roi", regions = { names = ["Hippocampus_L"] } }
"#;
        let cfg: ExperimentConfig = toml::from_str(text).unwrap();
        cfg.validate().unwrap();
        let names: Vec<String> = cfg.all_strategies().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["random", "roi-limbic", "hippo"]);
        let run = cfg.run_config(&cfg.all_strategies()[0], 2);
        assert_eq!((run.seed, run.mask.seed), (2, 2));
        let dup = ExperimentConfig {
            seeds: vec![1, 1],
            ..cfg.clone()
        };
        assert!(dup.validate().unwrap_err().to_string().contains("twice"));
        assert!(toml::from_str::<ExperimentConfig>("sedes = [1]").is_err());
        // save writes what load reads.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exp.toml");
        cfg.save(&path).unwrap();
        assert_eq!(ExperimentConfig::load(&path).unwrap(), cfg);
    }

    const BLOCK4: MaskTime = MaskTime::Block {
        length: 4,
        ratio: 0.5,
    };

    #[test]
    fn a_strategy_carries_its_own_temporal_mode_through_toml() {
        let text = r#"
seeds = [0, 1]
[grid]
lobes = ["limbic"]
[[strategies]]
name = "roi-limbic-tblock4"
mask = { kind = "roi", regions = { lobes = ["limbic"] } }
time = { mode = "block", length = 4, ratio = 0.5 }
[[strategies]]
name = "tube-trand25"
mask = { kind = "tube", ratio = 0.5 }
time = { mode = "random", ratio = 0.25 }
"#;
        let cfg: ExperimentConfig = toml::from_str(text).unwrap();
        cfg.validate().unwrap();
        let all = cfg.all_strategies();
        let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["roi-limbic", "roi-limbic-tblock4", "tube-trand25"]);
        // The same ROI at every frame (inherited) and in 4-frame blocks.
        assert_eq!(all[0].mask, all[1].mask);
        let times: Vec<MaskTime> = all.iter().map(|s| cfg.run_config(s, 1).mask.time).collect();
        assert_eq!(
            times,
            [MaskTime::All, BLOCK4, MaskTime::Random { ratio: 0.25 }]
        );
        assert_eq!(
            (all[0].time, all[1].time),
            (None, Some(BLOCK4)),
            "the grid's strategy inherits"
        );
        // save writes each strategy's own time and load reads it back.
        let saved = toml::to_string(&cfg).unwrap();
        assert_eq!(saved.matches("mode = \"block\"").count(), 1, "{saved}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exp.toml");
        cfg.save(&path).unwrap();
        assert_eq!(ExperimentConfig::load(&path).unwrap(), cfg);
        // A strategy's time in the `[strategies.time]` table form too.
        let table = text.replace(
            "time = { mode = \"random\", ratio = 0.25 }",
            "[strategies.time]\nmode = \"random\"\nratio = 0.25",
        );
        assert_eq!(toml::from_str::<ExperimentConfig>(&table).unwrap(), cfg);
    }

    #[test]
    fn strategies_without_a_time_inherit_the_pretraining_one() {
        // An experiment config from before temporal modes.
        let text = r#"
seeds = [3]
[[strategies]]
name = "hippo"
mask = { kind = "roi", regions = { names = ["Hippocampus_L"] } }
"#;
        let mut cfg: ExperimentConfig = toml::from_str(text).unwrap();
        cfg.validate().unwrap();
        let hippo = cfg.strategies[0].clone();
        assert_eq!(hippo.time, None);
        assert_eq!(cfg.run_config(&hippo, 3).mask.time, MaskTime::All);
        assert!(!toml::to_string(&cfg).unwrap().contains("[strategies.time]"));
        cfg.pretrain.mask.time = BLOCK4;
        assert_eq!(cfg.run_config(&hippo, 3).mask.time, BLOCK4);
        // An explicit "all" overrides the pretraining config's mode.
        let every = Strategy {
            time: Some(MaskTime::All),
            ..hippo.clone()
        };
        assert_eq!(cfg.run_config(&every, 3).mask.time, MaskTime::All);
        assert_eq!(cfg.run_config(&every, 3).mask.strategy, hippo.mask);
    }

    #[test]
    fn one_grid_compares_a_strategy_in_two_temporal_modes() {
        let mut cfg = ExperimentConfig {
            grid: Grid {
                lobes: vec![Lobe::Limbic],
                ..Grid::default()
            },
            ..ExperimentConfig::demo()
        };
        let base = cfg.pretrain.mask.time;
        let limbic = cfg.all_strategies()[0].clone();
        let blocked = Strategy {
            name: format!("{}{}", limbic.name, time_suffix(BLOCK4, base)),
            time: Some(BLOCK4),
            ..limbic.clone()
        };
        assert_eq!(blocked.name, "roi-limbic-tblock4");
        cfg.strategies.push(blocked.clone());
        cfg.validate().unwrap();
        assert_eq!(cfg.run_config(&limbic, 0).mask.time, MaskTime::All);
        assert_eq!(cfg.run_config(&blocked, 0).mask.time, BLOCK4);
        assert!(
            cfg.run_config(&blocked, 0)
                .mask
                .describe()
                .ends_with("time: 4-frame blocks, ratio 0.5")
        );
        // The same name twice is refused, whatever the times.
        let mut twice = cfg.clone();
        twice.strategies.push(Strategy {
            name: "roi-limbic".into(),
            ..blocked.clone()
        });
        let e = twice.validate().unwrap_err().to_string();
        assert!(e.contains("'roi-limbic' appears twice"), "{e}");
        // A strategy's time is checked against its mask.
        let mut random = cfg.clone();
        random.strategies.push(Strategy {
            name: "random-tblock4".into(),
            mask: MaskStrategy::Random { ratio: 0.5 },
            time: Some(BLOCK4),
        });
        let e = random.validate().unwrap_err().to_string();
        assert!(
            e.contains("random-tblock4") && e.contains("random token masking"),
            "{e}"
        );
    }

    #[test]
    fn time_suffixes_name_the_mode_unless_inherited() {
        let all = MaskTime::All;
        assert_eq!(time_suffix(all, all), "");
        assert_eq!(time_suffix(BLOCK4, BLOCK4), "");
        assert_eq!(time_suffix(BLOCK4, all), "-tblock4");
        let quarter = MaskTime::Block {
            length: 2,
            ratio: 0.25,
        };
        assert_eq!(time_suffix(quarter, all), "-tblock2r25");
        assert_eq!(
            time_suffix(MaskTime::Random { ratio: 0.5 }, all),
            "-trand50"
        );
        assert_eq!(time_suffix(all, BLOCK4), "-tall");
    }
}
