//! Temporal masking (`[mask] time`): which frames of a masked unit are
//! masked. A unit is what the spatial strategy picked: a spatial token
//! (tube, atlas, ROI at token level), a patch holding region voxels (ROI at
//! voxel level) or a spatial window (window). `all` (the default, and the
//! only behaviour before temporal modes existed) masks it at every frame;
//! `random` at a random subset of its frames; `block` in aligned blocks of
//! frames. The frames are drawn per unit, after the spatial draw, from the
//! same seeded stream, so the spatial set is the one `all` gives.

use super::error::MaskError;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Which frames of each masked unit are masked.
///
/// TOML: `time = "all"` (or no `time` at all), `time = { mode = "random",
/// ratio = 0.5 }`, `time = { mode = "block", length = 4, ratio = 0.5 }`
/// (equivalently a `[mask.time]` table with `mode`, `ratio`, `length`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum MaskTime {
    /// Every frame: the same spatial units in every frame ("tube").
    #[default]
    All,
    /// Each unit is masked at `clamp(round(ratio·T), 1, T)` of the clip's
    /// T frames, drawn at random per unit (`f64::round`: halves round up).
    Random {
        /// Fraction of the frames masked, in (0, 1].
        ratio: f64,
    },
    /// Frames come in blocks aligned to multiples of `length`:
    /// `[k·length, (k+1)·length)`, the last one shorter when `length` does
    /// not divide T. Of the `B = ceil(T/length)` blocks, each unit is masked
    /// in `clamp(round(ratio·B), 1, B)` drawn at random per unit.
    Block {
        /// Block length in frames (NeuroSTORM's windows: 4), at least 1.
        length: usize,
        /// Fraction of the blocks masked, in (0, 1].
        ratio: f64,
    },
}

impl MaskTime {
    /// Whether every frame is masked (the default).
    pub fn is_all(&self) -> bool {
        matches!(self, MaskTime::All)
    }

    /// The mode's name in the TOML: `all`, `random` or `block`.
    pub fn name(&self) -> &'static str {
        match self {
            MaskTime::All => "all",
            MaskTime::Random { .. } => "random",
            MaskTime::Block { .. } => "block",
        }
    }

    /// A short human description, e.g. `4-frame blocks, ratio 0.5`.
    pub fn describe(&self) -> String {
        match self {
            MaskTime::All => "every frame".to_string(),
            MaskTime::Random { ratio } => format!("random frames, ratio {ratio}"),
            MaskTime::Block { length, ratio } => {
                format!("{length}-frame blocks, ratio {ratio}")
            }
        }
    }

    /// Checks the ratio is in (0, 1] and the block length at least 1.
    pub fn validate(&self) -> Result<(), MaskError> {
        let (ratio, length) = match *self {
            MaskTime::All => return Ok(()),
            MaskTime::Random { ratio } => (ratio, None),
            MaskTime::Block { length, ratio } => (ratio, Some(length)),
        };
        if length == Some(0) {
            return Err(MaskError::BlockLength);
        }
        if ratio > 0.0 && ratio <= 1.0 {
            Ok(())
        } else {
            Err(MaskError::OutOfRange {
                field: "time ratio",
                value: ratio,
            })
        }
    }

    /// The frames (of `frames`) one unit is masked at, drawn from `rng`;
    /// every frame (and no draw) for `all`.
    pub(crate) fn draw(&self, rng: &mut ChaCha8Rng, frames: usize) -> Vec<bool> {
        let count = |ratio: f64, n: usize| ((ratio * n as f64).round() as usize).clamp(1, n);
        let mut out = vec![false; frames];
        match *self {
            MaskTime::All => out.fill(true),
            MaskTime::Random { ratio } => {
                for t in sample(rng, frames, count(ratio, frames)) {
                    out[t] = true;
                }
            }
            MaskTime::Block { length, ratio } => {
                let blocks = frames.div_ceil(length);
                for b in sample(rng, blocks, count(ratio, blocks)) {
                    out[b * length..((b + 1) * length).min(frames)].fill(true);
                }
            }
        }
        out
    }
}

impl Serialize for MaskTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            MaskTime::All => s.serialize_str("all"),
            MaskTime::Random { ratio } => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("mode", "random")?;
                map.serialize_entry("ratio", &ratio)?;
                map.end()
            }
            MaskTime::Block { length, ratio } => {
                let mut map = s.serialize_map(Some(3))?;
                map.serialize_entry("mode", "block")?;
                map.serialize_entry("length", &length)?;
                map.serialize_entry("ratio", &ratio)?;
                map.end()
            }
        }
    }
}

const EXAMPLE: &str = "e.g. time = { mode = \"block\", length = 4, ratio = 0.5 } or time = { mode = \"random\", ratio = 0.5 }";

struct TimeVisitor;

impl<'de> Visitor<'de> for TimeVisitor {
    type Value = MaskTime;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "\"all\" or a table with mode, ratio (and length for blocks)"
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<MaskTime, E> {
        match v {
            "all" => Ok(MaskTime::All),
            "random" | "block" => Err(E::custom(format!(
                "time = \"{v}\" needs its ratio{}: write it as a table, {EXAMPLE}",
                if v == "block" {
                    " and block length"
                } else {
                    ""
                }
            ))),
            other => Err(E::custom(format!(
                "unknown time mode '{other}'; use \"all\", \"random\" or \"block\""
            ))),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaskTime, A::Error> {
        let (mut mode, mut ratio, mut length) = (None::<String>, None::<f64>, None::<usize>);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "mode" => mode = Some(map.next_value()?),
                "ratio" => ratio = Some(map.next_value()?),
                "length" => length = Some(map.next_value()?),
                other => {
                    return Err(de::Error::unknown_field(
                        other,
                        &["mode", "ratio", "length"],
                    ));
                }
            }
        }
        let missing = |what: &str, mode: &str| {
            de::Error::custom(format!("time mode \"{mode}\" needs `{what}`; {EXAMPLE}"))
        };
        let unused = |what: &str, mode: &str| {
            de::Error::custom(format!(
                "time mode \"{mode}\" takes no `{what}`; remove it ({EXAMPLE})"
            ))
        };
        match mode.as_deref() {
            None => Err(de::Error::custom(format!(
                "time needs a `mode` (\"all\", \"random\" or \"block\"); {EXAMPLE}"
            ))),
            Some("all") => match (ratio, length) {
                (Some(_), _) => Err(unused("ratio", "all")),
                (_, Some(_)) => Err(unused("length", "all")),
                _ => Ok(MaskTime::All),
            },
            Some("random") => match (ratio, length) {
                (_, Some(_)) => Err(unused("length", "random")),
                (None, _) => Err(missing("ratio", "random")),
                (Some(ratio), None) => Ok(MaskTime::Random { ratio }),
            },
            Some("block") => match (ratio, length) {
                (None, _) => Err(missing("ratio", "block")),
                (_, None) => Err(missing("length", "block")),
                (Some(ratio), Some(length)) => Ok(MaskTime::Block { length, ratio }),
            },
            Some(other) => Err(de::Error::custom(format!(
                "unknown time mode '{other}'; use \"all\", \"random\" or \"block\""
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for MaskTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<MaskTime, D::Error> {
        d.deserialize_any(TimeVisitor)
    }
}
