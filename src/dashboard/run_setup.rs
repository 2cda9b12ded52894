//! The run controller's decisions, free of any GUI toolkit: which mask a
//! new run uses (the viewer's regions or a ratio strategy), which checkpoint
//! it starts from, what its folder is called, and what resuming reads back.
//! The Training tab, the CLI and tests share them.

use super::curves::RunCurves;
use super::init_source::InitSource;
use crate::atlas::RegionTable;
use crate::masking::{MaskError, MaskLevel, MaskSpec, MaskStrategy, MaskTime};
use crate::train::{RunConfig, TrainError};
use crate::viewer::MaskSelection;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// How a run started from the Training tab masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskMode {
    /// The regions checked in the viewer.
    Regions,
    /// Whole 4x4x4x4 token windows (the reference).
    Window,
    /// Random tokens.
    Random,
    /// Tubes (a token masked in every frame).
    Tube,
}

impl MaskMode {
    /// Every mode, in menu order.
    pub const ALL: [MaskMode; 4] = [
        MaskMode::Regions,
        MaskMode::Window,
        MaskMode::Random,
        MaskMode::Tube,
    ];

    /// The menu label.
    pub fn label(self) -> &'static str {
        match self {
            MaskMode::Regions => "regions selected in the viewer",
            MaskMode::Window => "window (4x4x4x4 tokens; 4x4x4x1 with a temporal mode)",
            MaskMode::Random => "random tokens",
            MaskMode::Tube => "tube",
        }
    }

    /// The mode's part of a run folder's name.
    pub fn slug(self) -> &'static str {
        match self {
            MaskMode::Regions => "roi",
            MaskMode::Window => "window",
            MaskMode::Random => "random",
            MaskMode::Tube => "tube",
        }
    }
}

/// The temporal mode picked on a tab (the Training tab's set-up, the
/// Experiment tab's next strategies), in menu order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeKind {
    /// Every frame (`time = "all"`, the default).
    All,
    /// Random frames of each masked unit.
    Random,
    /// Aligned blocks of frames of each masked unit.
    Block,
}

impl TimeKind {
    /// Every kind, in menu order.
    pub const ALL: [TimeKind; 3] = [TimeKind::All, TimeKind::Random, TimeKind::Block];

    /// The menu label.
    pub fn label(self) -> &'static str {
        match self {
            TimeKind::All => "every frame",
            TimeKind::Random => "random frames",
            TimeKind::Block => "blocks of frames",
        }
    }
}

/// A tab's temporal-mode inputs: the kind and the ratio and block length
/// its widgets keep (kept while another kind is picked).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeSetup {
    /// The mode.
    pub kind: TimeKind,
    /// Fraction of the frames (random) or blocks (block) masked.
    pub ratio: f64,
    /// Block length in frames.
    pub length: usize,
}

impl Default for TimeSetup {
    /// Every frame; 0.5 and 4-frame blocks (NeuroSTORM's windows) once
    /// another mode is picked.
    fn default() -> Self {
        TimeSetup {
            kind: TimeKind::All,
            ratio: 0.5,
            length: 4,
        }
    }
}

impl TimeSetup {
    /// The `[mask] time` these inputs stand for.
    pub fn mask_time(&self) -> MaskTime {
        match self.kind {
            TimeKind::All => MaskTime::All,
            TimeKind::Random => MaskTime::Random { ratio: self.ratio },
            TimeKind::Block => MaskTime::Block {
                length: self.length,
                ratio: self.ratio,
            },
        }
    }

    /// The inputs showing `time` (the others at their defaults).
    pub fn from_mask_time(time: MaskTime) -> TimeSetup {
        let d = TimeSetup::default();
        match time {
            MaskTime::All => d,
            MaskTime::Random { ratio } => TimeSetup {
                kind: TimeKind::Random,
                ratio,
                ..d
            },
            MaskTime::Block { length, ratio } => TimeSetup {
                kind: TimeKind::Block,
                ratio,
                length,
            },
        }
    }
}

/// Why a run cannot start as set up.
#[derive(Debug, Error)]
pub enum RunSetupError {
    /// Region masking with nothing selected.
    #[error("no region is masked: click regions in the viewer or pick another masking mode")]
    NoRegions,
    /// The starting checkpoint's preset differs from the run's.
    #[error(
        "the starting checkpoint is a {model} model; set preset to {preset} (or clear the checkpoint)"
    )]
    PresetMismatch {
        /// The checkpoint's model name.
        model: String,
        /// The preset it needs.
        preset: String,
    },
    /// The mask as set up is refused (e.g. a temporal mode with random
    /// token masking).
    #[error(transparent)]
    Mask(#[from] MaskError),
}

/// The mask a new run uses: the selected regions (mode `Regions`) or a
/// ratio strategy, with the config's mask seed and the temporal mode
/// `time`. Under a temporal mode a window is 4x4x4 tokens by one frame
/// (`[mask] time` picks its frames); random token masking takes `time`
/// as given, which [`MaskSpec::validate`] refuses unless it is `all`.
pub fn mask_spec(
    mode: MaskMode,
    ratio: f64,
    selection: &MaskSelection,
    table: &RegionTable,
    level: MaskLevel,
    seed: u64,
    time: MaskTime,
) -> MaskSpec {
    let strategy = match mode {
        MaskMode::Regions => {
            let mut spec = selection.to_mask_spec(table, level, None, seed);
            spec.time = time;
            return spec;
        }
        MaskMode::Window => MaskStrategy::Window {
            ratio,
            window: if time.is_all() {
                [4, 4, 4, 4]
            } else {
                [4, 4, 4, 1]
            },
        },
        MaskMode::Random => MaskStrategy::Random { ratio },
        MaskMode::Tube => MaskStrategy::Tube { ratio },
    };
    MaskSpec {
        strategy,
        seed,
        time,
    }
}

/// What the Training tab's set-up asks for.
pub struct RunRequest<'a> {
    /// The config edited on the tab (data, optimiser, steps, preset, …).
    pub config: &'a RunConfig,
    /// How to mask.
    pub mode: MaskMode,
    /// The ratio of the non-region modes.
    pub ratio: f64,
    /// Which frames of each masked unit are masked (`[mask] time`).
    pub time: MaskTime,
    /// The viewer's selection and the atlas table it refers to.
    pub selection: &'a MaskSelection,
    /// The atlas's region table.
    pub table: &'a RegionTable,
    /// Token or voxel level of region masking.
    pub level: MaskLevel,
    /// The imported checkpoint to start from, if any.
    pub init: Option<&'a InitSource>,
}

/// The config of a new run built from a request: its mask (with its
/// temporal mode, checked: random token masking with a temporal mode other
/// than `all` is [`RunSetupError::Mask`]), and its start from an imported
/// checkpoint (with the model override the checkpoint needs when it
/// differs from the preset's model).
pub fn plan_run(req: &RunRequest) -> Result<RunConfig, RunSetupError> {
    if req.mode == MaskMode::Regions && req.selection.is_empty() {
        return Err(RunSetupError::NoRegions);
    }
    let mut config = req.config.clone();
    config.mask = mask_spec(
        req.mode,
        req.ratio,
        req.selection,
        req.table,
        req.level,
        config.mask.seed,
        req.time,
    );
    config.mask.validate()?;
    if let Some(init) = req.init {
        if config.preset != init.preset {
            return Err(RunSetupError::PresetMismatch {
                model: init.model.name.clone(),
                preset: init.preset.to_string(),
            });
        }
        config.init_from = Some(init.run_dir.clone());
        config.model = (init.preset.model() != init.model).then(|| init.model.clone());
    }
    Ok(config)
}

/// A new run's folder under `runs_root`: `<preset>-<mode>-<unix seconds>`.
pub fn new_run_dir(runs_root: &Path, config: &RunConfig, mode: MaskMode) -> PathBuf {
    let stamp = unix_seconds();
    runs_root.join(format!("{}-{}-{stamp}", config.preset, mode.slug()))
}

/// Seconds since 1970 (0 on a clock before it): the stamp that keeps new
/// run folders apart.
pub fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What resuming `run_dir` needs: the config saved there and the curve so
/// far (absent when `metrics.csv` cannot be read; the run rewrites it).
pub fn resume_state(run_dir: &Path) -> Result<(RunConfig, Option<RunCurves>), TrainError> {
    let config = RunConfig::load(&run_dir.join("config.toml"))?;
    let curves = RunCurves::read_csv(&run_dir.join("metrics.csv")).ok();
    Ok((config, curves))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atlas::Atlas;

    fn request<'a>(
        config: &'a RunConfig,
        mode: MaskMode,
        selection: &'a MaskSelection,
        table: &'a RegionTable,
    ) -> RunRequest<'a> {
        RunRequest {
            config,
            mode,
            ratio: 0.3,
            time: MaskTime::All,
            selection,
            table,
            level: MaskLevel::Token,
            init: None,
        }
    }

    #[test]
    fn region_mode_needs_a_selection_and_ratio_modes_do_not() {
        let atlas = Atlas::aal3().unwrap();
        let config = RunConfig::demo();
        let none = MaskSelection::default();
        let err = plan_run(&request(&config, MaskMode::Regions, &none, &atlas.regions));
        assert!(matches!(err, Err(RunSetupError::NoRegions)));
        let run = plan_run(&request(&config, MaskMode::Tube, &none, &atlas.regions)).unwrap();
        assert_eq!(run.mask.strategy, MaskStrategy::Tube { ratio: 0.3 });
        assert_eq!(run.mask.seed, config.mask.seed);
    }

    #[test]
    fn region_mode_masks_the_selected_regions() {
        let atlas = Atlas::aal3().unwrap();
        let config = RunConfig::demo();
        let sel = MaskSelection::from_names(&["Precentral_L"], &atlas.regions).unwrap();
        let run = plan_run(&request(&config, MaskMode::Regions, &sel, &atlas.regions)).unwrap();
        let MaskStrategy::Roi { regions, .. } = &run.mask.strategy else {
            panic!("expected ROI masking, got {:?}", run.mask.strategy);
        };
        assert_eq!(regions.names, vec!["Precentral_L".to_string()]);
    }

    #[test]
    fn the_temporal_mode_reaches_the_planned_config() {
        let atlas = Atlas::aal3().unwrap();
        let config = RunConfig::demo();
        let sel = MaskSelection::from_names(&["Precentral_L"], &atlas.regions).unwrap();
        let block = TimeSetup {
            kind: TimeKind::Block,
            ratio: 0.25,
            length: 4,
        };
        assert_eq!(
            block.mask_time(),
            MaskTime::Block {
                length: 4,
                ratio: 0.25
            }
        );
        assert_eq!(TimeSetup::from_mask_time(block.mask_time()), block);
        let random = TimeSetup {
            kind: TimeKind::Random,
            ..block
        };
        assert_eq!(random.mask_time(), MaskTime::Random { ratio: 0.25 });
        assert_eq!(TimeSetup::default().mask_time(), MaskTime::All);
        for (mode, sel) in [
            (MaskMode::Regions, &sel),
            (MaskMode::Tube, &sel),
            (MaskMode::Window, &sel),
        ] {
            for time in [block.mask_time(), random.mask_time(), MaskTime::All] {
                let req = RunRequest {
                    time,
                    ..request(&config, mode, sel, &atlas.regions)
                };
                let run = plan_run(&req).unwrap();
                assert_eq!(run.mask.time, time, "{mode:?}");
                assert_eq!(run.mask.seed, config.mask.seed);
                // What config.toml holds reads back with the same mode.
                let back: RunConfig = toml::from_str(&toml::to_string(&run).unwrap()).unwrap();
                assert_eq!(back.mask, run.mask, "{mode:?} {time:?}");
                if mode == MaskMode::Window {
                    let MaskStrategy::Window { window, .. } = run.mask.strategy else {
                        panic!("{:?}", run.mask.strategy);
                    };
                    let t = if time.is_all() { 4 } else { 1 };
                    assert_eq!(window, [4, 4, 4, t]);
                }
            }
        }
    }

    #[test]
    fn random_tokens_with_a_temporal_mode_is_a_typed_error() {
        let atlas = Atlas::aal3().unwrap();
        let config = RunConfig::demo();
        let none = MaskSelection::default();
        for (time, name) in [
            (MaskTime::Random { ratio: 0.5 }, "random"),
            (
                MaskTime::Block {
                    length: 4,
                    ratio: 0.5,
                },
                "block",
            ),
        ] {
            let req = RunRequest {
                time,
                ..request(&config, MaskMode::Random, &none, &atlas.regions)
            };
            let err = plan_run(&req).unwrap_err();
            assert!(
                matches!(err, RunSetupError::Mask(MaskError::TimeOnRandom { mode }) if mode == name),
                "{err:?}"
            );
            assert!(err.to_string().contains("random token masking"), "{err}");
        }
        // A bad ratio is refused the same way.
        let req = RunRequest {
            time: MaskTime::Random { ratio: 0.0 },
            ..request(&config, MaskMode::Tube, &none, &atlas.regions)
        };
        assert!(matches!(
            plan_run(&req),
            Err(RunSetupError::Mask(MaskError::OutOfRange { .. }))
        ));
        let req = request(&config, MaskMode::Random, &none, &atlas.regions);
        assert_eq!(plan_run(&req).unwrap().mask.time, MaskTime::All);
    }

    #[test]
    fn run_folders_are_named_by_preset_and_mode() {
        let config = RunConfig::demo();
        let dir = new_run_dir(Path::new("runs"), &config, MaskMode::Window);
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let prefix = format!("{}-window-", config.preset);
        assert!(name.starts_with(&prefix), "{name}");
        assert!(name[prefix.len()..].parse::<u64>().is_ok(), "{name}");
    }
}
