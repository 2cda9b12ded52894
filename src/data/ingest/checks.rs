//! Per-run header checks, reading the header only (never the voxels): the
//! file must be a readable 4D NIfTI, should be in MNI152 space, and its
//! header TR is kept for runs without a sidecar.
//!
//! MNI space is trusted when sform_code or qform_code is 4 (MNI152). With
//! codes 2 (aligned) or 5 (template) the world bounding box must lie mostly
//! inside the MNI brain box; with codes 0, 1 or 3 a box that does is kept
//! with a warning, one that does not is refused as non-MNI.

use crate::volume::{Header, read_header};
use std::path::Path;

/// The MNI152 brain box in world mm: (min, max) for x, y, z.
const MNI_BRAIN_BOX: [(f64, f64); 3] = [(-90.0, 90.0), (-126.0, 90.0), (-72.0, 108.0)];
/// Share of the image's box that must lie inside the MNI brain box for the
/// extent to "look like MNI".
const MNI_OVERLAP_NEEDED: f64 = 0.5;
/// NIfTI xform code for MNI152 space.
const CODE_MNI152: i16 = 4;
/// NIfTI xform codes for "aligned to another image" and "template" space.
const CODES_ALIGNED: [i16; 2] = [2, 5];

/// What the header says about one run.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RunCheck {
    /// Whether the run can be used (readable, 4D, not clearly non-MNI).
    pub usable: bool,
    /// pixdim\[4\] in seconds, when positive.
    pub header_tr: Option<f64>,
    /// Problems and warnings, one line each.
    pub notes: Vec<String>,
}

/// Reads the header of `path` and checks it.
pub(super) fn check_run(path: &Path) -> RunCheck {
    match read_header(path) {
        Ok(header) => check_header(&header),
        Err(e) => RunCheck {
            usable: false,
            header_tr: None,
            notes: vec![format!("unreadable NIfTI: {}", e.kind)],
        },
    }
}

/// Checks a parsed header: 4D with at least two time points, MNI space.
pub(super) fn check_header(h: &Header) -> RunCheck {
    let mut notes = Vec::new();
    let mut usable = true;
    if h.ndim != 4 {
        usable = false;
        notes.push(format!(
            "not a 4D run: {}D volume of shape {:?}; expected a BOLD time series",
            h.ndim, h.shape
        ));
    } else if h.shape4()[3] < 2 {
        usable = false;
        notes.push(format!(
            "not a usable run: 4D but only {} time point(s), shape {:?}",
            h.shape4()[3],
            h.shape
        ));
    }
    match space_verdict(h) {
        SpaceVerdict::Mni => {}
        SpaceVerdict::AssumedMni(note) => notes.push(note),
        SpaceVerdict::NotMni(note) => {
            usable = false;
            notes.push(note);
        }
    }
    RunCheck {
        usable,
        header_tr: h.tr.filter(|t| t.is_finite() && *t > 0.0),
        notes,
    }
}

/// Whether a run is in MNI space, by codes and extent.
#[derive(Debug, Clone, PartialEq)]
enum SpaceVerdict {
    /// Codes (and, for aligned codes, extent) say MNI.
    Mni,
    /// Codes do not say MNI but the extent looks like it: kept, warned.
    AssumedMni(String),
    /// Not MNI: refused.
    NotMni(String),
}

fn space_verdict(h: &Header) -> SpaceVerdict {
    let (s, q) = (h.sform_code, h.qform_code);
    if s == CODE_MNI152 || q == CODE_MNI152 {
        return SpaceVerdict::Mni;
    }
    let bbox = world_box(h);
    let looks_mni = share_inside_mni(&bbox) >= MNI_OVERLAP_NEEDED;
    let codes = format!("sform_code {s}, qform_code {q}");
    let extent = describe_box(&bbox);
    let aligned = CODES_ALIGNED.contains(&s) || CODES_ALIGNED.contains(&q);
    match (aligned, looks_mni) {
        (true, true) => SpaceVerdict::Mni,
        (true, false) => SpaceVerdict::NotMni(format!(
            "not in MNI space: {codes} (aligned/template) but the world box {extent} lies outside the MNI brain box; resample to MNI152 first"
        )),
        (false, true) => SpaceVerdict::AssumedMni(format!(
            "header codes do not say MNI ({codes}) but the world box {extent} matches the MNI brain box; assumed MNI, check it was normalised"
        )),
        (false, false) => SpaceVerdict::NotMni(format!(
            "not in MNI space: {codes} (scanner/unknown) and the world box {extent} lies outside the MNI brain box; normalise to MNI152 first (e.g. fMRIPrep)"
        )),
    }
}

/// The world (min, max) along x, y, z of the voxel-centre corners.
fn world_box(h: &Header) -> [(f64, f64); 3] {
    let shape = h.shape4();
    let mut bbox = [(f64::INFINITY, f64::NEG_INFINITY); 3];
    for corner in 0..8 {
        let ijk: [f64; 3] = std::array::from_fn(|axis| {
            if corner & (1 << axis) != 0 {
                shape[axis].saturating_sub(1) as f64
            } else {
                0.0
            }
        });
        let xyz = h.affine.apply(ijk);
        for (range, v) in bbox.iter_mut().zip(xyz) {
            range.0 = range.0.min(v);
            range.1 = range.1.max(v);
        }
    }
    bbox
}

/// The share (0..1) of the box that lies inside the MNI brain box; a flat
/// axis counts fully when its coordinate is inside, else not at all.
fn share_inside_mni(bbox: &[(f64, f64); 3]) -> f64 {
    bbox.iter()
        .zip(MNI_BRAIN_BOX)
        .map(|(&(lo, hi), (mlo, mhi))| {
            if !(lo.is_finite() && hi.is_finite()) {
                return 0.0;
            }
            let width = hi - lo;
            if width < 1e-6 {
                return f64::from(u8::from(lo >= mlo && lo <= mhi));
            }
            ((hi.min(mhi) - lo.max(mlo)).max(0.0)) / width
        })
        .product()
}

fn describe_box(bbox: &[(f64, f64); 3]) -> String {
    let axes: Vec<String> = ["x", "y", "z"]
        .iter()
        .zip(bbox)
        .map(|(name, (lo, hi))| format!("{name} {lo:.0}..{hi:.0}"))
        .collect();
    format!("({})", axes.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_inside_mni_counts_fully_and_a_far_one_not_at_all() {
        assert_eq!(
            share_inside_mni(&[(-10.0, 10.0), (-10.0, 10.0), (0.0, 20.0)]),
            1.0
        );
        assert_eq!(
            share_inside_mni(&[(500.0, 600.0), (-10.0, 10.0), (0.0, 20.0)]),
            0.0
        );
        let half = share_inside_mni(&[(80.0, 100.0), (-10.0, 10.0), (0.0, 20.0)]);
        assert!((half - 0.5).abs() < 1e-9);
    }
}
