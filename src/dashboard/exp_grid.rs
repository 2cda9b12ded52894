//! The Experiment tab's grid builder as edits of an [`ExperimentConfig`]
//! (the very type `roimae experiment --config` reads), free of any GUI
//! toolkit: add random / window / tube at a ratio, a lobe or a lobe
//! combination as ROI (whole or partial), the viewer's checked regions,
//! each at a temporal mode (`time`); remove a strategy; seeds, steps, data and the starting checkpoint; and
//! the new, never reused, folder an experiment runs in.

use super::init_source::InitSource;
use crate::atlas::Lobe;
use crate::eval::EvalError;
use crate::eval::exp_config::{ExperimentConfig, Strategy, time_suffix};
use crate::fsutil::FileError;
use crate::masking::{MaskLevel, MaskStrategy, MaskTime, RegionSelection};
use crate::train::{DataConfig, SyntheticData};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a strategy cannot be added.
#[derive(Debug, Error)]
pub enum GridEditError {
    /// A strategy of the same name is in the grid.
    #[error(
        "strategy '{name}' is already in the grid; remove it first or change the ratio or the time"
    )]
    Duplicate {
        /// Its name.
        name: String,
    },
    /// The viewer has no region checked.
    #[error("no region is checked in the viewer: check regions on the Viewer tab first")]
    NoRegions,
    /// A combination of no lobe.
    #[error("tick at least two lobes for a combination (one lobe: use its + button)")]
    NoLobes,
    /// The pretraining config rejects the strategy's mask.
    #[error(transparent)]
    Invalid(#[from] EvalError),
}

/// A strategy masking a ratio of tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatioKind {
    /// Random tokens (`random`).
    Random,
    /// Reference 4⁴ token windows (`window`).
    Window,
    /// Tubes: a spatial token in every frame (`tube`).
    Tube,
}

impl RatioKind {
    /// Every kind, in button order.
    pub const ALL: [RatioKind; 3] = [RatioKind::Random, RatioKind::Window, RatioKind::Tube];

    /// The strategy's name (and button label).
    pub fn name(self) -> &'static str {
        match self {
            RatioKind::Random => "random",
            RatioKind::Window => "window",
            RatioKind::Tube => "tube",
        }
    }

    fn mask(self, ratio: f64) -> MaskStrategy {
        match self {
            RatioKind::Random => MaskStrategy::Random { ratio },
            RatioKind::Window => MaskStrategy::Window {
                ratio,
                window: [4, 4, 4, 4],
            },
            RatioKind::Tube => MaskStrategy::Tube { ratio },
        }
    }
}

/// `50` for 0.5 (names of partial and extra-ratio strategies).
fn percent(f: f64) -> String {
    format!("{}", (f * 100.0).round())
}

fn lobe_names(lobes: &[Lobe]) -> String {
    lobes.iter().map(|l| l.name()).collect::<Vec<_>>().join("+")
}

fn has(cfg: &ExperimentConfig, name: &str) -> bool {
    cfg.all_strategies().iter().any(|s| s.name == name)
}

/// Checks `mask` at `time` (None: the pretraining config's) against the
/// pretraining config (as `validate` does).
fn check_mask(
    cfg: &ExperimentConfig,
    name: &str,
    mask: &MaskStrategy,
    time: Option<MaskTime>,
) -> Result<(), EvalError> {
    let mut run = cfg.pretrain.clone();
    run.mask.strategy = mask.clone();
    run.mask.time = time.unwrap_or(cfg.pretrain.mask.time);
    run.validate().map_err(|e| EvalError::StrategyRun {
        strategy: name.to_string(),
        cause: Box::new(e),
    })
}

/// The strategy's own `time`: None (inherit) when `time` is the
/// pretraining config's.
fn own_time(cfg: &ExperimentConfig, time: MaskTime) -> Option<MaskTime> {
    (time != cfg.pretrain.mask.time).then_some(time)
}

/// Adds an explicit strategy after checking its name and mask.
fn push(
    cfg: &mut ExperimentConfig,
    name: String,
    mask: MaskStrategy,
    time: Option<MaskTime>,
) -> Result<String, GridEditError> {
    if has(cfg, &name) {
        return Err(GridEditError::Duplicate { name });
    }
    check_mask(cfg, &name, &mask, time)?;
    cfg.strategies.push(Strategy {
        name: name.clone(),
        mask,
        time,
    });
    Ok(name)
}

/// Adds `kind` at `ratio`, masking at `time`; the strategy's name. The
/// first random and window go into `[grid]` (`random`, `window`); the
/// first tube is the strategy `tube`; more of a kind at other ratios are
/// strategies `<kind>-r<percent>`. At a `time` other than the pretraining
/// config's the strategy is explicit, with its `time` and the name's
/// [`time_suffix`] (`tube-tblock4`). Under a temporal mode other than
/// `all` a window spans one frame (4x4x4x1 tokens: the temporal mode picks
/// its frames), and random tokens are refused (they draw every frame on
/// their own).
pub fn add_ratio(
    cfg: &mut ExperimentConfig,
    kind: RatioKind,
    ratio: f64,
    time: MaskTime,
) -> Result<String, GridEditError> {
    let bare = kind.name();
    let own = own_time(cfg, time);
    let mut mask = kind.mask(ratio);
    if let MaskStrategy::Window { window, .. } = &mut mask
        && !time.is_all()
    {
        window[3] = 1;
    }
    let tail = time_suffix(time, cfg.pretrain.mask.time);
    let name = format!("{bare}{tail}");
    if has(cfg, &name) {
        let name = format!("{bare}-r{}{tail}", percent(ratio));
        return push(cfg, name, mask, own);
    }
    // `[grid]` holds the reference forms at the inherited time.
    let shorthand = own.is_none() && mask == kind.mask(ratio);
    if !shorthand || kind == RatioKind::Tube {
        return push(cfg, name, mask, own);
    }
    check_mask(cfg, bare, &mask, None)?;
    match kind {
        RatioKind::Random => cfg.grid.random = Some(ratio),
        RatioKind::Window => cfg.grid.window = Some(ratio),
        RatioKind::Tube => unreachable!("tubes are explicit strategies"),
    }
    Ok(bare.to_string())
}

/// Adds ROI masking of `lobes` (token level) at `time`: one lobe goes
/// into `[grid] lobes` (`roi-<lobe>`), several into `[grid] combinations`
/// (`roi-<a>+<b>`); with `partial` (a fraction of their tokens) it is the
/// strategy `roi-<lobes>-p<percent>`. At a `time` other than the
/// pretraining config's it is an explicit strategy with that `time` and
/// the name's [`time_suffix`] (`roi-limbic-tblock4`).
pub fn add_lobes(
    cfg: &mut ExperimentConfig,
    lobes: &[Lobe],
    partial: Option<f64>,
    time: MaskTime,
) -> Result<String, GridEditError> {
    if lobes.is_empty() {
        return Err(GridEditError::NoLobes);
    }
    let mask = MaskStrategy::Roi {
        regions: RegionSelection {
            lobes: lobes.to_vec(),
            names: Vec::new(),
        },
        partial,
        level: MaskLevel::Token,
    };
    let names = lobe_names(lobes);
    let own = own_time(cfg, time);
    let tail = time_suffix(time, cfg.pretrain.mask.time);
    if let Some(p) = partial {
        return push(cfg, format!("roi-{names}-p{}{tail}", percent(p)), mask, own);
    }
    let name = format!("roi-{names}{tail}");
    if own.is_some() {
        return push(cfg, name, mask, own);
    }
    if has(cfg, &name) {
        return Err(GridEditError::Duplicate { name });
    }
    check_mask(cfg, &name, &mask, None)?;
    match lobes {
        [one] => cfg.grid.lobes.push(*one),
        _ => cfg.grid.combinations.push(lobes.to_vec()),
    }
    Ok(name)
}

/// Adds ROI masking of the regions checked in the viewer (`selection`, as
/// the Training tab builds its run) at `level` and `time`: the strategy
/// `roi-selection` (`-2`, `-3`, … for later ones, `-p<percent>` when
/// partial, then the [`time_suffix`] at a `time` other than the
/// pretraining config's).
pub fn add_regions(
    cfg: &mut ExperimentConfig,
    selection: RegionSelection,
    partial: Option<f64>,
    level: MaskLevel,
    time: MaskTime,
) -> Result<String, GridEditError> {
    if selection.lobes.is_empty() && selection.names.is_empty() {
        return Err(GridEditError::NoRegions);
    }
    let tail = partial.map_or(String::new(), |p| format!("-p{}", percent(p)))
        + &time_suffix(time, cfg.pretrain.mask.time);
    let name = (1..)
        .map(|k| match k {
            1 => format!("roi-selection{tail}"),
            k => format!("roi-selection-{k}{tail}"),
        })
        .find(|n| !has(cfg, n))
        .expect("some suffix is free");
    let mask = MaskStrategy::Roi {
        regions: selection,
        partial,
        level,
    };
    let own = own_time(cfg, time);
    push(cfg, name, mask, own)
}

/// Removes the strategy `name`; false when the grid has none of that
/// name. `[grid] partial` is first turned into the explicit strategies it
/// stands for, so removing one entry leaves the others as they were.
pub fn remove(cfg: &mut ExperimentConfig, name: &str) -> bool {
    if cfg.grid.partial.is_some() {
        let all = cfg.all_strategies();
        cfg.grid.partial = None;
        let whole: Vec<String> = cfg.all_strategies().into_iter().map(|s| s.name).collect();
        let partials: Vec<Strategy> = all
            .into_iter()
            .filter(|s| !whole.contains(&s.name) && !cfg.strategies.contains(s))
            .collect();
        for (i, s) in partials.into_iter().enumerate() {
            cfg.strategies.insert(i, s);
        }
    }
    let g = &mut cfg.grid;
    if name == "random" && g.random.is_some() {
        g.random = None;
        return true;
    }
    if name == "window" && g.window.is_some() {
        g.window = None;
        return true;
    }
    if let Some(i) = g
        .lobes
        .iter()
        .position(|l| format!("roi-{}", l.name()) == name)
    {
        g.lobes.remove(i);
        return true;
    }
    if let Some(i) = g
        .combinations
        .iter()
        .position(|c| format!("roi-{}", lobe_names(c)) == name)
    {
        g.combinations.remove(i);
        return true;
    }
    let before = cfg.strategies.len();
    cfg.strategies.retain(|s| s.name != name);
    cfg.strategies.len() != before
}

/// Seeds 0..n (at least one).
pub fn set_seed_count(cfg: &mut ExperimentConfig, n: u64) {
    cfg.seeds = (0..n.max(1)).collect();
}

/// Pretraining steps of every run (validating twice per run).
pub fn set_steps(cfg: &mut ExperimentConfig, steps: usize) {
    let steps = steps.max(1);
    cfg.pretrain.max_steps = Some(steps);
    cfg.pretrain.val_every = (steps / 2).max(1);
}

/// The demo's synthetic cohort (effects planted as in
/// [`ExperimentConfig::demo`]) with `subjects` subjects.
pub fn use_demo_cohort(cfg: &mut ExperimentConfig, subjects: usize) {
    let demo = match ExperimentConfig::demo().pretrain.data {
        DataConfig::Synthetic(s) => s,
        DataConfig::Cache { .. } => SyntheticData::default(),
    };
    cfg.pretrain.data = DataConfig::Synthetic(SyntheticData { subjects, ..demo });
}

/// Clips from the cache folder `path` (written by `roimae prepare`).
pub fn use_cache(cfg: &mut ExperimentConfig, path: PathBuf) {
    cfg.pretrain.data = DataConfig::Cache { path };
}

/// Every run starts from the imported checkpoint `init` (its preset, and
/// its model where that differs from the preset's), or fresh (`None`).
pub fn start_from(cfg: &mut ExperimentConfig, init: Option<&InitSource>) {
    match init {
        Some(init) => {
            cfg.pretrain.init_from = Some(init.run_dir.clone());
            cfg.pretrain.preset = init.preset;
            cfg.pretrain.model = (init.preset.model() != init.model).then(|| init.model.clone());
        }
        None => {
            cfg.pretrain.init_from = None;
            cfg.pretrain.model = None;
        }
    }
}

/// `20231114-221320` for the Unix time 1700000000 (UTC).
pub fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Creates a new experiment folder under `root`, `exp-<UTC stamp>` (with
/// `-2`, `-3`, … when taken): an existing folder is never reused.
pub fn new_experiment_dir(root: &Path) -> Result<PathBuf, FileError> {
    crate::fsutil::create_dir(root)?;
    let stamp = utc_stamp(super::run_setup::unix_seconds());
    for k in 1.. {
        let dir = match k {
            1 => root.join(format!("exp-{stamp}")),
            k => root.join(format!("exp-{stamp}-{k}")),
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(FileError::CreateDir { path: dir, source }),
        }
    }
    unreachable!("1.. never ends")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::exp_config::Grid;

    const ALL: MaskTime = MaskTime::All;

    fn empty() -> ExperimentConfig {
        ExperimentConfig {
            grid: Grid::default(),
            ..ExperimentConfig::demo()
        }
    }

    fn names(cfg: &ExperimentConfig) -> Vec<String> {
        cfg.all_strategies().into_iter().map(|s| s.name).collect()
    }

    #[test]
    fn clicks_build_the_grid_and_removal_undoes_each() {
        let mut cfg = empty();
        assert_eq!(
            add_ratio(&mut cfg, RatioKind::Random, 0.5, ALL).unwrap(),
            "random"
        );
        assert_eq!(cfg.grid.random, Some(0.5));
        assert_eq!(
            add_ratio(&mut cfg, RatioKind::Random, 0.75, ALL).unwrap(),
            "random-r75"
        );
        assert!(matches!(
            add_ratio(&mut cfg, RatioKind::Random, 0.75, ALL),
            Err(GridEditError::Duplicate { .. })
        ));
        add_ratio(&mut cfg, RatioKind::Tube, 0.5, ALL).unwrap();
        add_lobes(&mut cfg, &[Lobe::Limbic], None, ALL).unwrap();
        add_lobes(&mut cfg, &[Lobe::Limbic, Lobe::Cerebellum], None, ALL).unwrap();
        add_lobes(&mut cfg, &[Lobe::Occipital], Some(0.5), ALL).unwrap();
        let sel = RegionSelection {
            lobes: Vec::new(),
            names: vec!["Hippocampus_L".into()],
        };
        add_regions(&mut cfg, sel.clone(), None, MaskLevel::Token, ALL).unwrap();
        assert_eq!(
            add_regions(&mut cfg, sel, None, MaskLevel::Voxel, ALL).unwrap(),
            "roi-selection-2"
        );
        assert!(matches!(
            add_regions(
                &mut cfg,
                RegionSelection::default(),
                None,
                MaskLevel::Token,
                ALL
            ),
            Err(GridEditError::NoRegions)
        ));
        assert_eq!(
            names(&cfg),
            [
                "random",
                "roi-limbic",
                "roi-limbic+cerebellum",
                "random-r75",
                "tube",
                "roi-occipital-p50",
                "roi-selection",
                "roi-selection-2"
            ]
        );
        cfg.validate().unwrap();
        // A bad ratio is refused with the strategy's name.
        let e = add_ratio(&mut cfg, RatioKind::Window, 7.0, ALL)
            .unwrap_err()
            .to_string();
        assert!(e.contains("window"), "{e}");
        assert_eq!(cfg.grid.window, None);
        for n in names(&cfg) {
            assert!(remove(&mut cfg, &n), "{n}");
        }
        assert!(names(&cfg).is_empty() && !remove(&mut cfg, "random"));
    }

    #[test]
    fn a_time_choice_adds_the_same_strategy_in_another_temporal_mode() {
        let block4 = MaskTime::Block {
            length: 4,
            ratio: 0.5,
        };
        let random = MaskTime::Random { ratio: 0.5 };
        let mut cfg = empty();
        let limbic = [Lobe::Limbic];
        assert_eq!(
            add_lobes(&mut cfg, &limbic, None, ALL).unwrap(),
            "roi-limbic"
        );
        assert_eq!(
            add_lobes(&mut cfg, &limbic, None, block4).unwrap(),
            "roi-limbic-tblock4"
        );
        assert!(matches!(
            add_lobes(&mut cfg, &limbic, None, block4),
            Err(GridEditError::Duplicate { .. })
        ));
        assert_eq!(
            add_lobes(&mut cfg, &limbic, Some(0.5), random).unwrap(),
            "roi-limbic-p50-trand50"
        );
        assert_eq!(
            add_ratio(&mut cfg, RatioKind::Tube, 0.5, block4).unwrap(),
            "tube-tblock4"
        );
        assert_eq!(
            add_ratio(&mut cfg, RatioKind::Tube, 0.25, block4).unwrap(),
            "tube-r25-tblock4"
        );
        assert_eq!(
            add_ratio(&mut cfg, RatioKind::Window, 0.5, random).unwrap(),
            "window-trand50"
        );
        let sel = RegionSelection {
            lobes: Vec::new(),
            names: vec!["Hippocampus_L".into()],
        };
        assert_eq!(
            add_regions(&mut cfg, sel, None, MaskLevel::Voxel, block4).unwrap(),
            "roi-selection-tblock4"
        );
        // Random tokens draw their own frames: refused, with the reason.
        let e = add_ratio(&mut cfg, RatioKind::Random, 0.5, block4)
            .unwrap_err()
            .to_string();
        assert!(e.contains("random token masking"), "{e}");
        assert_eq!(cfg.grid.random, None);
        cfg.validate().unwrap();
        let time = |name: &str| {
            let s = cfg.all_strategies().into_iter().find(|s| s.name == name);
            cfg.run_config(&s.unwrap(), 0).mask
        };
        assert_eq!(time("roi-limbic").time, ALL);
        assert_eq!(time("roi-limbic-tblock4").time, block4);
        assert_eq!(
            time("roi-limbic-tblock4").strategy,
            time("roi-limbic").strategy
        );
        assert_eq!(time("roi-limbic-p50-trand50").time, random);
        assert_eq!(
            time("window-trand50").strategy,
            MaskStrategy::Window {
                ratio: 0.5,
                window: [4, 4, 4, 1]
            }
        );
        // The grid shorthand stays at the inherited time.
        assert_eq!(cfg.grid.lobes, [Lobe::Limbic]);
        assert!(cfg.strategies.iter().all(|s| s.time.is_some()));
        assert!(remove(&mut cfg, "roi-limbic-tblock4"));
        assert!(has(&cfg, "roi-limbic") && !has(&cfg, "roi-limbic-tblock4"));

        // Under a pretraining config masking in blocks, blocks inherit and
        // every frame is the explicit choice.
        let mut cfg = empty();
        cfg.pretrain.mask.time = block4;
        assert_eq!(
            add_lobes(&mut cfg, &limbic, None, block4).unwrap(),
            "roi-limbic"
        );
        assert_eq!(cfg.grid.lobes, [Lobe::Limbic]);
        assert_eq!(
            add_lobes(&mut cfg, &limbic, None, ALL).unwrap(),
            "roi-limbic-tall"
        );
        assert_eq!(
            add_ratio(&mut cfg, RatioKind::Window, 0.5, block4).unwrap(),
            "window"
        );
        assert_eq!(time_of(&cfg, "window").time, block4);
        assert_eq!(time_of(&cfg, "roi-limbic-tall").time, ALL);
        cfg.validate().unwrap();
    }

    fn time_of(cfg: &ExperimentConfig, name: &str) -> crate::masking::MaskSpec {
        let s = cfg.all_strategies().into_iter().find(|s| s.name == name);
        cfg.run_config(&s.unwrap(), 0).mask
    }

    #[test]
    fn removing_one_partial_entry_keeps_the_others() {
        let mut cfg = empty();
        cfg.grid.lobes = vec![Lobe::Limbic, Lobe::Cerebellum];
        cfg.grid.partial = Some(0.5);
        let before = cfg.all_strategies();
        assert!(remove(&mut cfg, "roi-limbic-p50"));
        let after = cfg.all_strategies();
        assert_eq!(after.len(), 3);
        assert!(
            before
                .iter()
                .filter(|s| s.name != "roi-limbic-p50")
                .all(|s| after.contains(s))
        );
    }

    #[test]
    fn an_imported_checkpoint_sets_every_runs_start_and_model() {
        use crate::model::Preset;
        let mut cfg = empty();
        let mut model = Preset::Tiny.model();
        let init = InitSource {
            file: "model.ckpt".into(),
            run_dir: "experiments/imported/imported-model-1".into(),
            model: model.clone(),
            preset: Preset::Tiny,
            skipped: Vec::new(),
        };
        start_from(&mut cfg, Some(&init));
        assert_eq!(cfg.pretrain.init_from, Some(init.run_dir.clone()));
        assert_eq!(
            (cfg.pretrain.preset, cfg.pretrain.model.clone()),
            (Preset::Tiny, None)
        );
        // A topology other than the preset's is kept as the runs' model.
        model.depths[0] += 1;
        let wider = InitSource {
            model: model.clone(),
            ..init
        };
        start_from(&mut cfg, Some(&wider));
        assert_eq!(cfg.pretrain.model, Some(model));
        let random = Strategy::new("random", MaskStrategy::Random { ratio: 0.5 });
        // Every run of the grid starts there.
        assert_eq!(cfg.run_config(&random, 0).init_from, cfg.pretrain.init_from);
        start_from(&mut cfg, None);
        assert_eq!(
            (cfg.pretrain.init_from.clone(), cfg.pretrain.model.clone()),
            (None, None)
        );
    }

    #[test]
    fn folders_are_stamped_and_never_reused() {
        assert_eq!(utc_stamp(0), "19700101-000000");
        assert_eq!(utc_stamp(1_700_000_000), "20231114-221320");
        assert_eq!(utc_stamp(951_782_400), "20000229-000000");
        let root = tempfile::tempdir().unwrap();
        let a = new_experiment_dir(root.path()).unwrap();
        let b = new_experiment_dir(root.path()).unwrap();
        assert_ne!(a, b);
        assert!(a.is_dir() && b.is_dir());
        let mut cfg = empty();
        set_seed_count(&mut cfg, 3);
        set_steps(&mut cfg, 6);
        assert_eq!(cfg.seeds, [0, 1, 2]);
        assert_eq!(
            (cfg.pretrain.max_steps, cfg.pretrain.val_every),
            (Some(6), 3)
        );
    }
}
