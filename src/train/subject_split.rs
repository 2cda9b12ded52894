//! `split.json` of a run folder: which subjects pretraining trained on,
//! validated on and left out (`exclude_subjects`), so fine-tuning can tell
//! an inductive evaluation (no test subject seen in pretraining) from a
//! transductive one and say which it was.

use super::data::TrainData;
use super::error::TrainError;
use crate::fsutil::{self, DocKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::Path;

/// The subjects of a pretraining run, each list sorted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PretrainingSplit {
    /// Subjects whose clips were trained on.
    pub train: Vec<String>,
    /// Subjects whose clips were validated on.
    pub val: Vec<String>,
    /// Subjects of the data that pretraining never read.
    pub excluded: Vec<String>,
}

impl PretrainingSplit {
    /// The file name inside a run folder.
    pub const FILE: &'static str = "split.json";

    /// `split.json` in errors.
    const DOC: DocKind = DocKind {
        what: "subject split",
        hint: "delete it and rerun pretraining, or restore it",
    };

    /// The split `data` was cut into.
    pub fn of(data: &TrainData) -> PretrainingSplit {
        let subjects = |clips: &[usize]| -> BTreeSet<String> {
            clips
                .iter()
                .map(|&i| data.source.info(i).subject.clone())
                .collect()
        };
        let train = subjects(&data.train);
        let val = subjects(&data.val);
        let all: BTreeSet<String> = (0..data.source.len())
            .map(|i| data.source.info(i).subject.clone())
            .collect();
        let excluded = all
            .into_iter()
            .filter(|s| !train.contains(s) && !val.contains(s))
            .collect();
        PretrainingSplit {
            train: train.into_iter().collect(),
            val: val.into_iter().collect(),
            excluded,
        }
    }

    /// Every subject pretraining read (train and validation).
    pub fn seen(&self) -> BTreeSet<&str> {
        self.train
            .iter()
            .chain(&self.val)
            .map(|s| s.as_str())
            .collect()
    }

    /// How many of `subjects` pretraining read.
    pub fn seen_of<'a>(&self, subjects: impl IntoIterator<Item = &'a String>) -> usize {
        let seen = self.seen();
        subjects
            .into_iter()
            .filter(|s| seen.contains(s.as_str()))
            .count()
    }

    /// Writes `split.json` into `run_dir`.
    pub fn save(&self, run_dir: &Path) -> Result<(), TrainError> {
        Ok(fsutil::save_json(
            &run_dir.join(Self::FILE),
            self,
            Self::DOC.what,
        )?)
    }

    /// Reads `split.json` of `run_dir`; `None` for runs written before it
    /// existed (or imported checkpoints).
    pub fn load(run_dir: &Path) -> Result<Option<PretrainingSplit>, TrainError> {
        let path = run_dir.join(Self::FILE);
        if !path.is_file() {
            return Ok(None);
        }
        Ok(Some(fsutil::load_json(&path, Self::DOC)?))
    }
}
