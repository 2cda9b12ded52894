//! Downstream evaluation of a pretrained encoder: subject-level
//! classification metrics, fine-tuning (frozen encoder + linear head, or
//! full) with honest held-out test subjects, leave-one-site-out, region
//! attribution (occlusion, integrated gradients) and the ROI-vs-random
//! experiment.
//!
//! - configs: `ft_config` (`ft.toml`), `exp_config` (`exp.toml`);
//! - fine-tuning: `finetune` (orchestration, results), `ft_data` (device,
//!   labelled data, split), `features`, `head`, `fit`, `site_out`,
//!   `ft_files` (its files), `pretrained` (a run folder's weights);
//! - scores: `metrics`, `paired`, `stats` (the one mean ± sd);
//! - attribution: `attribution` (occlusion), `attribute_run` (of a run),
//!   `integrated_gradients` (the maths), `ig_regions`, `ig_run`,
//!   `region_files` (every attribution file), `progress` (progress and
//!   cancel of a long attribution);
//! - experiment: `experiment` (orchestration), `exp_rank`, `exp_verdict`,
//!   `exp_table` (CSV), `exp_markdown` (`results.md`), `exp_progress`
//!   (events and stop of a running experiment);
//! - `error`: [`EvalError`].

pub mod attribute_run;
pub mod attribution;
pub mod error;
pub mod exp_config;
pub mod exp_markdown;
pub mod exp_progress;
pub mod exp_rank;
pub mod exp_table;
pub mod exp_verdict;
pub mod experiment;
pub mod features;
pub mod finetune;
pub mod fit;
pub mod ft_config;
pub mod ft_data;
pub mod ft_files;
pub mod head;
pub mod ig_regions;
pub mod ig_run;
pub mod integrated_gradients;
pub mod metrics;
pub mod paired;
pub mod pretrained;
pub mod progress;
pub mod region_files;
pub mod site_out;
pub mod stats;

pub use attribute_run::{AttributeOptions, RunAttribution, attribute_run};
pub use attribution::{Occlusion, RegionScore};
pub use error::EvalError;
pub use exp_config::ExperimentConfig;
pub use experiment::{ExperimentResult, run_experiment, run_experiment_with};
pub use finetune::{FinetuneResult, ProtocolResult, finetune};
pub use ft_config::FinetuneConfig;
pub use metrics::{ClassificationReport, SubjectPrediction};
pub use progress::Progress;
