//! Downstream evaluation of a pretrained encoder: subject-level
//! classification metrics, fine-tuning (frozen encoder + linear head, or
//! full) with honest held-out test subjects, and region attribution.

pub mod error;
pub mod attribute_run;
pub mod attribution;
pub mod exp_config;
pub mod exp_table;
pub mod experiment;
pub mod finetune;
pub mod fit;
pub mod ft_config;
pub mod integrated_gradients;
pub mod metrics;
pub mod paired;
pub mod pretrained;
pub mod site_out;

pub use error::EvalError;
pub use attribute_run::{AttributeOptions, RunAttribution, attribute_run};
pub use attribution::{Occlusion, RegionScore};
pub use exp_config::ExperimentConfig;
pub use experiment::{ExperimentResult, run_experiment};
pub use finetune::{FinetuneResult, ProtocolResult, finetune};
pub use ft_config::FinetuneConfig;
pub use metrics::{ClassificationReport, SubjectPrediction};
