//! The files of region attribution, for occlusion and integrated gradients
//! alike: region and lobe score CSVs (and reading the region CSV back for
//! drawing saved results), each method's JSON of parameters and its NIfTI
//! maps.

use super::EvalError;
use super::attribution::{Occlusion, RegionScore};
use super::ig_run::IgResult;
use crate::fsutil;
use crate::volume::{Volume, write_volume};
use std::path::Path;

/// The columns of a region CSV.
pub const REGION_COLUMNS: &str = "region,lobe,score,spread,id,tokens";

/// The columns of a lobe CSV.
pub const LOBE_COLUMNS: &str = "lobe,score,spread,tokens";

/// Writes `occlusion_regions.csv` (region, lobe, score, spread, id,
/// tokens), `occlusion_lobes.csv` (lobe, score, spread, tokens), the same
/// two for the regions' own error (`region_mse_regions.csv`,
/// `region_mse_lobes.csv`), `occlusion.json` and the map
/// `occlusion_regions.nii.gz` into `dir` (created).
pub fn write_occlusion_outputs(occ: &Occlusion, map: &Volume, dir: &Path) -> Result<(), EvalError> {
    fsutil::create_dir(dir)?;
    write_region_csv(&dir.join("occlusion_regions.csv"), &occ.regions)?;
    write_lobe_csv(&dir.join("occlusion_lobes.csv"), &occ.lobes)?;
    write_region_csv(&dir.join("region_mse_regions.csv"), &occ.region_mse)?;
    write_lobe_csv(&dir.join("region_mse_lobes.csv"), &occ.lobe_mse)?;
    fsutil::save_json(&dir.join("occlusion.json"), occ, "occlusion result")?;
    write_volume(map, dir.join("occlusion_regions.nii.gz"))?;
    Ok(())
}

/// Writes `ig_regions.csv`, `ig_lobes.csv` (mean |IG| per voxel; same
/// columns as occlusion's), `ig_regions_share.csv` / `ig_lobes_share.csv`
/// (share of the total |IG|), `ig_regions_signed.csv` /
/// `ig_lobes_signed.csv` (signed mean), `ig.json` (method, steps, samples,
/// noise, completeness error: the parameters of the maps beside it) and
/// the maps `ig_regions.nii.gz` and `ig_voxels.nii.gz` into `dir`
/// (created).
pub fn write_ig_outputs(r: &IgResult, dir: &Path) -> Result<(), EvalError> {
    fsutil::create_dir(dir)?;
    for (suffix, regions, lobes) in [
        ("", &r.regions, &r.lobes),
        ("_share", &r.shares, &r.lobe_shares),
        ("_signed", &r.signed, &r.lobe_signed),
    ] {
        write_region_csv(&dir.join(format!("ig_regions{suffix}.csv")), regions)?;
        write_lobe_csv(&dir.join(format!("ig_lobes{suffix}.csv")), lobes)?;
    }
    let json = serde_json::json!({
        "method": r.method,
        "steps": r.steps,
        "samples": r.samples,
        "noise": r.noise,
        "completeness_error": r.completeness_error,
    });
    fsutil::save_json(
        &dir.join("ig.json"),
        &json,
        "integrated-gradients parameters",
    )?;
    write_volume(&r.region_map, dir.join("ig_regions.nii.gz"))?;
    write_volume(&r.voxel_map, dir.join("ig_voxels.nii.gz"))?;
    Ok(())
}

/// Writes region scores as `region,lobe,score,spread,id,tokens` (what
/// [`read_region_scores`] reads).
pub fn write_region_csv(path: &Path, scores: &[RegionScore]) -> Result<(), EvalError> {
    let mut csv = format!("{REGION_COLUMNS}\n");
    for r in scores {
        csv += &format!(
            "{},{},{},{},{},{}\n",
            r.name, r.lobe, r.score, r.spread, r.id, r.tokens
        );
    }
    Ok(fsutil::write_file(path, csv.as_bytes(), "region scores")?)
}

/// Writes lobe scores as `lobe,score,spread,tokens`.
pub fn write_lobe_csv(path: &Path, scores: &[RegionScore]) -> Result<(), EvalError> {
    let mut csv = format!("{LOBE_COLUMNS}\n");
    for r in scores {
        csv += &format!("{},{},{},{}\n", r.lobe, r.score, r.spread, r.tokens);
    }
    Ok(fsutil::write_file(path, csv.as_bytes(), "lobe scores")?)
}

/// Reads a region CSV (`occlusion_regions.csv`, `ig_regions.csv`, …) back
/// (for drawing saved results).
pub fn read_region_scores(path: &Path) -> Result<Vec<RegionScore>, EvalError> {
    let text = fsutil::read_text(path, "region scores")?;
    text.lines()
        .skip(1)
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&str> = line.split(',').collect();
            let bad = || EvalError::CsvLine {
                path: path.to_path_buf(),
                line: i + 2,
                columns: REGION_COLUMNS,
            };
            if f.len() != 6 {
                return Err(bad());
            }
            Ok(RegionScore {
                name: f[0].into(),
                lobe: f[1].into(),
                score: f[2].parse().map_err(|_| bad())?,
                spread: f[3].parse().map_err(|_| bad())?,
                id: f[4].parse().map_err(|_| bad())?,
                tokens: f[5].parse().map_err(|_| bad())?,
            })
        })
        .collect()
}
