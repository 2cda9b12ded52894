//! The repetition time from BIDS JSON sidecars: the file with the run's own
//! stem and `.json`, else (BIDS inheritance) a `*_bold.json` higher up whose
//! entities all match the run's, e.g. a root `task-rest_bold.json`.

use super::files::{files_in, has_extension, nifti_stem};
use crate::data::error::DataError;
use crate::fsutil::read_text;
use std::path::Path;

/// `RepetitionTime` in seconds for the run at `bold`, looking in the run's
/// folder and its parents up to `top` (inclusive). `Ok(None)` when no
/// sidecar gives one; `Err` names a sidecar that could not be parsed.
pub(super) fn repetition_time(bold: &Path, top: &Path) -> Result<Option<f64>, DataError> {
    let Some(run_name) = bold.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Ok(None);
    };
    let Some(run_stem) = nifti_stem(&run_name) else {
        return Ok(None);
    };
    let run_entities = entities(run_stem);
    let mut dir = bold.parent();
    while let Some(d) = dir {
        for sidecar in applicable_sidecars(d, run_stem, &run_entities) {
            if let Some(tr) = read_tr(&sidecar)? {
                return Ok(Some(tr));
            }
        }
        if d == top || !d.starts_with(top) {
            break;
        }
        dir = d.parent();
    }
    Ok(None)
}

/// The sidecars in `dir` that apply to a run: its own stem first, then the
/// inherited ones, most specific (most entities) first.
fn applicable_sidecars(
    dir: &Path,
    run_stem: &str,
    run_entities: &[(String, String)],
) -> Vec<std::path::PathBuf> {
    let suffix = run_stem.rsplit('_').next().unwrap_or(run_stem);
    let mut found: Vec<(usize, std::path::PathBuf)> = Vec::new();
    for entry in files_in(dir) {
        if !has_extension(&entry.name, "json") {
            continue;
        }
        let stem = &entry.name[..entry.name.len() - ".json".len()];
        if stem == run_stem {
            found.push((usize::MAX, entry.path));
            continue;
        }
        let own_suffix = stem.rsplit('_').next().unwrap_or(stem);
        let own = entities(stem);
        let matches =
            own_suffix == suffix && own.iter().all(|kv| run_entities.iter().any(|r| r == kv));
        if matches {
            found.push((own.len(), entry.path));
        }
    }
    found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    found.into_iter().map(|(_, p)| p).collect()
}

/// The `key-value` entities of a BIDS file stem (the suffix is not one).
pub(super) fn entities(stem: &str) -> Vec<(String, String)> {
    stem.split('_')
        .filter_map(|part| part.split_once('-'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `RepetitionTime` from one sidecar, when present and positive.
fn read_tr(path: &Path) -> Result<Option<f64>, DataError> {
    let text = read_text(path, "JSON sidecar")?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| DataError::SidecarJson {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    Ok(json
        .get("RepetitionTime")
        .and_then(serde_json::Value::as_f64)
        .filter(|t| t.is_finite() && *t > 0.0))
}
