//! Turning raw label values (a diagnosis column) into class indices, shared
//! by every layout: an explicit `--label-map`, else integer values 0..K used
//! as they are, else the distinct strings numbered in sorted order (and that
//! mapping reported). Missing markers (`n/a`, `pending`, `-999`, empty) give
//! no label.

use crate::data::error::DataError;
use std::collections::{BTreeMap, BTreeSet};

/// Integer values up to this are taken as class indices as they are.
const MAX_CLASS_INDEX: u32 = 31;

/// Values that mean "no value" in the tables we read.
const MISSING_MARKERS: [&str; 8] = ["", "n/a", "na", "nan", "none", "pending", "-999", "null"];

/// The class of one raw value, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum LabelOutcome {
    /// A class index.
    Class(u32),
    /// No label; the reason, in a few words.
    Missing(String),
}

/// How the values of one label column are coded.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum LabelCoding {
    /// A user-given map from value to class.
    Explicit(BTreeMap<String, u32>),
    /// Integer values used as class indices.
    Integers,
    /// Distinct values numbered in sorted order.
    Sorted(BTreeMap<String, u32>),
}

/// Whether `raw` is one of the markers for a missing value.
pub(super) fn is_missing(raw: &str) -> bool {
    let raw = raw.trim().to_ascii_lowercase();
    MISSING_MARKERS.contains(&raw.as_str()) || raw.parse::<f64>() == Ok(-999.0)
}

/// `raw` as a class index when it is a non-negative integer (`1` or `1.0`)
/// no larger than [`MAX_CLASS_INDEX`].
fn as_class_index(raw: &str) -> Option<u32> {
    let v: f64 = raw.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= f64::from(MAX_CLASS_INDEX))
        .then_some(v as u32)
}

impl LabelCoding {
    /// The coding for a column holding `values` (missing markers ignored),
    /// `explicit` winning when given.
    pub fn infer<'a>(
        values: impl IntoIterator<Item = &'a str>,
        explicit: Option<&BTreeMap<String, u32>>,
    ) -> LabelCoding {
        if let Some(map) = explicit {
            return LabelCoding::Explicit(map.clone());
        }
        let distinct: BTreeSet<&str> = values
            .into_iter()
            .map(str::trim)
            .filter(|v| !is_missing(v))
            .collect();
        if distinct.iter().all(|v| as_class_index(v).is_some()) {
            return LabelCoding::Integers;
        }
        let sorted = distinct
            .iter()
            .enumerate()
            .map(|(i, v)| (v.to_string(), i as u32))
            .collect();
        LabelCoding::Sorted(sorted)
    }

    /// The class of one raw value.
    pub fn code(&self, raw: &str) -> LabelOutcome {
        let raw = raw.trim();
        if is_missing(raw) {
            return LabelOutcome::Missing(format!("value '{raw}' means missing"));
        }
        match self {
            LabelCoding::Explicit(map) => lookup(map, raw).map_or_else(
                || {
                    let known: Vec<&str> = map.keys().map(String::as_str).collect();
                    LabelOutcome::Missing(format!(
                        "value '{raw}' is not in the label map ({})",
                        known.join(", ")
                    ))
                },
                LabelOutcome::Class,
            ),
            LabelCoding::Integers => as_class_index(raw).map_or_else(
                || LabelOutcome::Missing(format!("value '{raw}' is not a class index")),
                LabelOutcome::Class,
            ),
            LabelCoding::Sorted(map) => lookup(map, raw).map_or_else(
                || LabelOutcome::Missing(format!("value '{raw}' was not seen in the table")),
                LabelOutcome::Class,
            ),
        }
    }

    /// A one-line report of a mapping the user did not choose, for
    /// string values numbered in sorted order.
    pub fn report(&self, column: &str) -> Option<String> {
        let LabelCoding::Sorted(map) = self else {
            return None;
        };
        let pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Some(format!(
            "label column '{column}' has text values, numbered in sorted order: {} (choose with --label-map)",
            pairs.join(",")
        ))
    }
}

/// `raw` in `map`, exactly or else ignoring case.
fn lookup(map: &BTreeMap<String, u32>, raw: &str) -> Option<u32> {
    map.get(raw).copied().or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(raw))
            .map(|(_, v)| *v)
    })
}

/// Parses a label map such as `ADHD=1,TD=0`.
pub fn parse_label_map(spec: &str) -> Result<BTreeMap<String, u32>, DataError> {
    let mut map = BTreeMap::new();
    for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = |problem: &'static str| DataError::LabelMapEntry {
            entry: pair.to_string(),
            problem,
        };
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| bad("is not VALUE=CLASS"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(bad("has an empty value name"));
        }
        let class: u32 = value
            .trim()
            .parse()
            .map_err(|_| bad("has a class that is not a non-negative integer"))?;
        if map.insert(key.to_string(), class).is_some() {
            return Err(DataError::LabelMapDuplicate {
                value: key.to_string(),
            });
        }
    }
    if map.is_empty() {
        return Err(DataError::LabelMapEmpty {
            spec: spec.to_string(),
        });
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_values_are_class_indices() {
        let c = LabelCoding::infer(["0", "1", "n/a", "2"], None);
        assert_eq!(c, LabelCoding::Integers);
        assert_eq!(c.code("2"), LabelOutcome::Class(2));
        assert!(matches!(c.code("n/a"), LabelOutcome::Missing(_)));
    }

    #[test]
    fn strings_are_numbered_in_sorted_order() {
        let c = LabelCoding::infer(["TD", "ADHD", "TD", ""], None);
        assert_eq!(c.code("ADHD"), LabelOutcome::Class(0));
        assert_eq!(c.code("TD"), LabelOutcome::Class(1));
        assert!(c.report("dx").unwrap().contains("ADHD=0,TD=1"));
    }

    #[test]
    fn explicit_map_wins_and_ignores_case() {
        let map = parse_label_map("ADHD=1, TD=0").unwrap();
        let c = LabelCoding::infer(["0", "1"], Some(&map));
        assert_eq!(c.code("adhd"), LabelOutcome::Class(1));
        assert!(
            matches!(c.code("Other"), LabelOutcome::Missing(m) if m.contains("not in the label map"))
        );
    }

    #[test]
    fn bad_label_maps_are_refused() {
        assert!(parse_label_map("").is_err());
        assert!(parse_label_map("A").is_err());
        assert!(parse_label_map("A=x").is_err());
        assert!(parse_label_map("A=1,A=2").is_err());
        assert!(parse_label_map("=1").is_err());
    }
}
