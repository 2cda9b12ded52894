//! What to mask, as stored in a run's config (TOML): the strategy, its
//! ratio or regions, the level (token or voxel), the temporal mode and the
//! seed; its validation and region lookup fail with a [`MaskError`].

use super::error::MaskError;
use super::time::MaskTime;
use crate::atlas::{Lobe, RegionTable};
use crate::model::MaskToken;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// How a clip's tokens are chosen for masking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum MaskStrategy {
    /// Individual tokens anywhere in space and time.
    Random {
        /// Fraction of all tokens masked.
        ratio: f64,
    },
    /// Whole windows of tokens (the reference: 4⁴ windows at ratio 0.5).
    Window {
        /// Fraction of windows masked.
        ratio: f64,
        /// Window size in tokens (x, y, z, t); clamped to the token grid.
        #[serde(default = "default_window")]
        window: [usize; 4],
    },
    /// A token masked across every frame ("tube").
    Tube {
        /// Fraction of spatial token positions masked.
        ratio: f64,
    },
    /// NeuroSTORM's atlas masking: of the R atlas regions present on the
    /// token grid, `max(1, floor(R·ratio))` drawn per clip are masked at
    /// every frame (a ratio of regions, not of tokens).
    Atlas {
        /// Fraction of the regions present that is masked.
        ratio: f64,
    },
    /// AAL3 regions masked at every frame (region "tube" masking).
    Roi {
        /// Which regions.
        regions: RegionSelection,
        /// Mask only this fraction of the selected tokens, drawn per clip.
        #[serde(default)]
        partial: Option<f64>,
        /// Token level (majority-label map) or voxel level.
        #[serde(default)]
        level: MaskLevel,
    },
}

fn default_window() -> [usize; 4] {
    [4, 4, 4, 4]
}

/// Where a region mask is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaskLevel {
    /// Tokens whose majority label is a selected region get the mask token.
    #[default]
    Token,
    /// Exactly the selected regions' voxels are replaced by the fill value
    /// in the input, and only they count in the loss.
    Voxel,
}

/// A set of regions by lobe and/or by name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RegionSelection {
    /// Whole lobe groups.
    #[serde(default)]
    pub lobes: Vec<Lobe>,
    /// Individual AAL3 region names (e.g. `Hippocampus_L`).
    #[serde(default)]
    pub names: Vec<String>,
}

impl RegionSelection {
    /// Parses names typed by a user (CLI flags, `--regions`): lobe names
    /// (any case) become lobes, anything else a region name, checked later
    /// by [`RegionSelection::resolve`]; blanks and repeated lobes are skipped.
    pub fn from_names<S: AsRef<str>>(items: &[S]) -> RegionSelection {
        let mut selection = RegionSelection::default();
        for item in items
            .iter()
            .map(|s| s.as_ref().trim())
            .filter(|s| !s.is_empty())
        {
            match Lobe::from_name(item) {
                Some(lobe) if !selection.lobes.contains(&lobe) => selection.lobes.push(lobe),
                Some(_) => {}
                None => selection.names.push(item.to_string()),
            }
        }
        selection
    }

    /// The label ids selected, or an error naming an unknown region.
    pub fn resolve(&self, table: &RegionTable) -> Result<BTreeSet<u16>, MaskError> {
        let mut ids: BTreeSet<u16> = self
            .lobes
            .iter()
            .flat_map(|&lobe| table.in_group(lobe).map(|r| r.id))
            .collect();
        for name in &self.names {
            let region = table
                .by_name(name)
                .ok_or_else(|| MaskError::UnknownRegion {
                    name: name.clone(),
                    close: table
                        .iter()
                        .filter(|r| r.name.to_lowercase().contains(&name.to_lowercase()))
                        .map(|r| r.name.clone())
                        .take(5)
                        .collect(),
                })?;
            ids.insert(region.id);
        }
        if ids.is_empty() {
            return Err(MaskError::NoRegion);
        }
        Ok(ids)
    }
}

/// A masking strategy with its temporal mode and seed: everything needed
/// to reproduce masks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaskSpec {
    /// The strategy.
    #[serde(flatten)]
    pub strategy: MaskStrategy,
    /// Seed of the mask draws; clip `n` of a run always gets the same mask.
    #[serde(default)]
    pub seed: u64,
    /// Which frames of each masked unit are masked (`time`, default
    /// `"all"`, then not written). It applies to tube, atlas, roi (token
    /// or voxel level, partial or not) and window masking; random token
    /// masking already draws per frame and refuses it. See [`MaskTime`].
    #[serde(default, skip_serializing_if = "MaskTime::is_all")]
    pub time: MaskTime,
}

impl Default for MaskSpec {
    /// The reference: window masking at ratio 0.5.
    fn default() -> Self {
        MaskSpec {
            strategy: MaskStrategy::Window {
                ratio: 0.5,
                window: default_window(),
            },
            seed: 0,
            time: MaskTime::All,
        }
    }
}

impl MaskStrategy {
    /// The learned token that replaces masked tokens under this strategy,
    /// as in NeuroSTORM: the window table for window masking, the single
    /// token for random and tube masking, the atlas token for regions.
    pub fn mask_token(&self) -> MaskToken {
        match self {
            MaskStrategy::Window { .. } => MaskToken::Window,
            MaskStrategy::Random { .. } | MaskStrategy::Tube { .. } => MaskToken::Single,
            MaskStrategy::Atlas { .. } | MaskStrategy::Roi { .. } => MaskToken::Atlas,
        }
    }
}

impl MaskSpec {
    /// Checks ratios are in (0, 1], windows are non-empty and the temporal
    /// mode is valid and fits the strategy (not random token masking; a
    /// window's t size 1, or the block length under `block`).
    pub fn validate(&self) -> Result<(), MaskError> {
        self.time.validate()?;
        match (&self.strategy, self.time) {
            (_, MaskTime::All) => {}
            (MaskStrategy::Random { .. }, time) => {
                return Err(MaskError::TimeOnRandom { mode: time.name() });
            }
            (MaskStrategy::Window { window, .. }, time) => {
                let length = match time {
                    MaskTime::Block { length, .. } => Some(length),
                    _ => None,
                };
                if window[3] != 1 && Some(window[3]) != length {
                    return Err(MaskError::WindowTime {
                        t: window[3],
                        mode: time.name(),
                        allowed: match length {
                            Some(l) => format!("1 or the block length {l}"),
                            None => "1".to_string(),
                        },
                    });
                }
            }
            _ => {}
        }
        let check = |field: &'static str, value: f64| {
            if value > 0.0 && value <= 1.0 {
                Ok(())
            } else {
                Err(MaskError::OutOfRange { field, value })
            }
        };
        match &self.strategy {
            MaskStrategy::Random { ratio }
            | MaskStrategy::Tube { ratio }
            | MaskStrategy::Atlas { ratio } => check("mask ratio", *ratio),
            MaskStrategy::Window { ratio, window } => {
                if window.contains(&0) {
                    return Err(MaskError::EmptyWindow { window: *window });
                }
                check("mask ratio", *ratio)
            }
            MaskStrategy::Roi { partial, .. } => {
                partial.map_or(Ok(()), |p| check("partial fraction", p))
            }
        }
    }

    /// A short human description, e.g. `roi (token level): limbic`, with
    /// the temporal mode appended when it is not `all` (e.g. `tube, ratio
    /// 0.5; time: 4-frame blocks, ratio 0.5`).
    pub fn describe(&self) -> String {
        let spatial = self.describe_spatial();
        if self.time.is_all() {
            spatial
        } else {
            format!("{spatial}; time: {}", self.time.describe())
        }
    }

    /// The strategy's description alone.
    fn describe_spatial(&self) -> String {
        match &self.strategy {
            MaskStrategy::Random { ratio } => format!("random tokens, ratio {ratio}"),
            MaskStrategy::Window { ratio, window } => format!("window {window:?}, ratio {ratio}"),
            MaskStrategy::Tube { ratio } => format!("tube, ratio {ratio}"),
            MaskStrategy::Atlas { ratio } => {
                format!("atlas regions (NeuroSTORM), ratio {ratio} of the regions")
            }
            MaskStrategy::Roi {
                regions,
                partial,
                level,
            } => {
                let mut what: Vec<String> =
                    regions.lobes.iter().map(|l| l.name().to_string()).collect();
                what.extend(regions.names.iter().cloned());
                let level = match level {
                    MaskLevel::Token => "token level",
                    MaskLevel::Voxel => "voxel level",
                };
                let partial = partial
                    .map(|p| format!(", partial {p}"))
                    .unwrap_or_default();
                format!("roi ({level}{partial}): {}", what.join(", "))
            }
        }
    }
}
