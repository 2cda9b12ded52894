//! A NeuroSTORM checkpoint opened in the app as the starting point of the
//! next run: imported off the UI thread into a run folder under the runs
//! root (so attribution and `finetune --pretrained` can use it too), with
//! the model it holds, which the next run then trains.

use super::DashboardError;
use crate::interop::{InteropError, LoadReport, import_checkpoint};
use crate::model::{ModelConfig, Preset};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, TryRecvError, channel};

/// A checkpoint imported as a starting point.
#[derive(Debug, Clone)]
pub struct InitSource {
    /// The file the user opened.
    pub file: PathBuf,
    /// The run folder it was imported into.
    pub run_dir: PathBuf,
    /// The model it holds.
    pub model: ModelConfig,
    /// The roimae preset with its data geometry.
    pub preset: Preset,
    /// What was skipped on import.
    pub skipped: Vec<String>,
}

impl InitSource {
    /// One line for the Training tab, e.g. `model.ckpt: mni4mm (width 36,
    /// blocks [2, 2, 6, 2]), 7,699,167 values`.
    pub fn describe(&self, report_values: Option<usize>) -> String {
        let name = self
            .file
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let values = report_values
            .map(|v| format!(", {v} values"))
            .unwrap_or_default();
        format!(
            "{name}: {} (width {}, blocks {:?}, {}³×{} at patch {}){values}",
            self.model.name,
            self.model.embed_dim,
            self.model.depths,
            self.model.input,
            self.model.frames,
            self.model.patch
        )
    }
}

/// An import running on a worker thread.
pub struct PendingImport {
    rx: Receiver<Result<(InitSource, LoadReport), InteropError>>,
}

impl PendingImport {
    /// Starts importing `file` into a new folder under `runs_root`.
    pub fn start(file: PathBuf, runs_root: &Path, wake: impl Fn() + Send + 'static) -> Self {
        let (tx, rx) = channel();
        let stem = file
            .file_stem()
            .map_or_else(|| "checkpoint".into(), |s| s.to_string_lossy().into_owned());
        let stamp = super::run_setup::unix_seconds();
        let run_dir = runs_root.join(format!("imported-{stem}-{stamp}"));
        std::thread::spawn(move || {
            let result = import_checkpoint(&file, &run_dir, None).map(|report| {
                let preset = Preset::of_geometry(&report.config).unwrap_or(Preset::Tiny);
                (
                    InitSource {
                        file,
                        run_dir,
                        model: report.config.clone(),
                        preset,
                        skipped: report.skipped.clone(),
                    },
                    report,
                )
            });
            let _ = tx.send(result);
            wake();
        });
        PendingImport { rx }
    }

    /// The result once the worker is done.
    pub fn poll(&self) -> Option<Result<(InitSource, LoadReport), DashboardError>> {
        match self.rx.try_recv() {
            Ok(r) => Some(r.map_err(DashboardError::from)),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(DashboardError::ImportStopped)),
        }
    }
}
