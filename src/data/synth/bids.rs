//! Writing a synthetic cohort as a BIDS raw dataset: dataset description,
//! participants table (diagnosis, site) with its data dictionary, one
//! `task-rest` BOLD run with its JSON sidecar per subject, and the ground
//! truth (`effect_regions.tsv`, `synth_config.json`, listed in
//! `.bidsignore`). A folder is written only when it is new, empty, or an
//! earlier `roimae synth` output (whose subject files are replaced).

use super::assignment::diagnosis;
use super::config::SynthConfig;
use super::model::CohortModel;
use super::summary::SynthSummary;
use crate::atlas::Atlas;
use crate::data::DataError;
use crate::fsutil::{DocError, FileError, create_dir, remove_file, write_file};
use crate::volume::write_volume;
use serde_json::json;
use std::path::Path;

/// The `GeneratedBy` name that marks a folder as ours.
const GENERATOR_NAME: &str = "roimae synth";
/// Files outside BIDS that the dataset carries.
const NON_BIDS_FILES: [&str; 2] = ["effect_regions.tsv", "synth_config.json"];

/// Writes the cohort of `cfg` under `out`, calling `progress(done, total)`
/// after every subject.
pub fn write_cohort_with_progress(
    cfg: &SynthConfig,
    out: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<SynthSummary, DataError> {
    cfg.validate()
        .map_err(|e| DataError::InvalidCohort(Box::new(e)))?;
    prepare_folder(out)?;
    let atlas = Atlas::aal3()?;
    let model = CohortModel::new(cfg, &atlas);
    let mut files = FileLog::default();

    files.json(
        &out.join("dataset_description.json"),
        &dataset_description(cfg),
    )?;
    files.text(&out.join("README"), &readme(cfg))?;
    files.text(
        &out.join(".bidsignore"),
        &(NON_BIDS_FILES.join("\n") + "\n"),
    )?;
    files.json(&out.join("participants.json"), &participants_dictionary())?;
    let config = serde_json::to_value(cfg).map_err(|e| DocError::Encode {
        path: out.join("synth_config.json"),
        what: "synthetic cohort config",
        reason: e.to_string(),
    })?;
    files.json(&out.join("synth_config.json"), &config)?;
    let mut truth = String::from("index\tname\themisphere\tgroup\teffect_size\n");
    let mut effect_names = Vec::new();
    for &id in &model.effect().regions {
        if let Some(region) = atlas.regions.get(id) {
            truth.push_str(&format!(
                "{id}\t{}\t{:?}\t{}\t{}\n",
                region.name,
                region.hemisphere,
                region.group.name(),
                cfg.effect_size
            ));
            effect_names.push(region.name.clone());
        }
    }
    files.text(&out.join("effect_regions.tsv"), &truth)?;

    let mut participants = String::from("participant_id\tdiagnosis\tsite\n");
    for index in 0..cfg.subjects {
        let subject = model.subject(index);
        let label = format!("sub-{}", subject.id);
        let func = out.join(&label).join("func");
        create_dir(&func)?;
        let stem = func.join(format!("{label}_task-rest_bold"));
        let nifti = stem.with_extension("nii.gz");
        write_volume(&subject.volume, &nifti)?;
        files.existing(&nifti)?;
        let sidecar = json!({ "RepetitionTime": cfg.tr, "TaskName": "rest" });
        files.json(&stem.with_extension("json"), &sidecar)?;
        participants.push_str(&format!(
            "{label}\t{}\t{}\n",
            subject.diagnosis, subject.site
        ));
        progress(index + 1, cfg.subjects);
    }
    files.text(&out.join("participants.tsv"), &participants)?;

    let patients = (0..cfg.subjects)
        .filter(|&i| diagnosis(i, cfg.sites) == 1)
        .count();
    Ok(SynthSummary {
        out: out.to_path_buf(),
        grid: cfg.grid,
        subjects: cfg.subjects,
        controls: cfg.subjects - patients,
        patients,
        sites: cfg.sites,
        frames: cfg.frames,
        tr: cfg.tr,
        effect_size: cfg.effect_size,
        effect_regions: effect_names,
        files_written: files.count,
        bytes_written: files.bytes,
    })
}

/// Counts what was written.
#[derive(Debug, Default)]
struct FileLog {
    count: usize,
    bytes: u64,
}

impl FileLog {
    fn text(&mut self, path: &Path, text: &str) -> Result<(), FileError> {
        write_file(path, text.as_bytes(), "cohort file")?;
        self.count += 1;
        self.bytes += text.len() as u64;
        Ok(())
    }

    fn json(&mut self, path: &Path, value: &serde_json::Value) -> Result<(), FileError> {
        self.text(path, &format!("{value:#}\n"))
    }

    fn existing(&mut self, path: &Path) -> Result<(), FileError> {
        let meta = std::fs::metadata(path).map_err(|source| FileError::Read {
            path: path.to_path_buf(),
            what: "cohort file",
            source,
        })?;
        self.count += 1;
        self.bytes += meta.len();
        Ok(())
    }
}

/// Makes `out` ready: created when missing; an earlier synth output has its
/// subject runs removed; any other non-empty folder is refused.
fn prepare_folder(out: &Path) -> Result<(), DataError> {
    if !out.exists() {
        return Ok(create_dir(out)?);
    }
    if !out.is_dir() {
        return Err(DataError::OutputNotAFolder {
            path: out.to_path_buf(),
        });
    }
    let mut entries = std::fs::read_dir(out)
        .map_err(|source| FileError::Read {
            path: out.to_path_buf(),
            what: "output folder",
            source,
        })?
        .peekable();
    if entries.peek().is_none() {
        return Ok(());
    }
    if !is_synth_output(out) {
        return Err(DataError::NotSynthOutput {
            path: out.to_path_buf(),
        });
    }
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("sub-") && entry.path().is_dir() {
            remove_subject_runs(&entry.path(), &name)?;
        }
    }
    Ok(())
}

/// Whether `dir` holds a dataset description written by `roimae synth`.
fn is_synth_output(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("dataset_description.json")) else {
        return false;
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    value["GeneratedBy"]
        .as_array()
        .is_some_and(|tools| tools.iter().any(|t| t["Name"] == GENERATOR_NAME))
}

/// Removes the files an earlier run wrote for subject folder `dir` (and
/// interrupted partial writes), then the folders if they are left empty.
fn remove_subject_runs(dir: &Path, label: &str) -> Result<(), FileError> {
    let func = dir.join("func");
    if let Ok(entries) = std::fs::read_dir(&func) {
        let ours = [
            format!("{label}_task-rest_bold.nii.gz"),
            format!("{label}_task-rest_bold.json"),
        ];
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if ours.contains(&name) || name.starts_with("roimae-partial-") {
                remove_file(&entry.path())?;
            }
        }
    }
    // Folders still holding someone else's files stay.
    let _ = std::fs::remove_dir(&func);
    let _ = std::fs::remove_dir(dir);
    Ok(())
}

fn dataset_description(cfg: &SynthConfig) -> serde_json::Value {
    json!({
        "Name": "roimae synthetic resting-state cohort",
        "BIDSVersion": "1.9.0",
        "DatasetType": "raw",
        "License": "CC0",
        "GeneratedBy": [{
            "Name": GENERATOR_NAME,
            "Version": env!("CARGO_PKG_VERSION"),
            "Description": format!(
                "synthetic BOLD on the {} grid, seed {}, planted effect size {}",
                cfg.grid.name(), cfg.seed, cfg.effect_size
            ),
        }],
    })
}

fn participants_dictionary() -> serde_json::Value {
    json!({
        "diagnosis": {
            "Description": "synthetic class label",
            "Levels": {
                "0": "control",
                "1": "patient: differs from controls only in the regions of effect_regions.tsv",
            },
        },
        "site": { "Description": "acquisition site (its own signal scale, offset and noise level)" },
    })
}

fn readme(cfg: &SynthConfig) -> String {
    format!(
        "Synthetic resting-state fMRI written by `roimae synth` (seed {seed}).\n\n\
         {subjects} subjects on the MNI152 {grid} grid, {frames} frames at TR {tr} s, {sites} site(s).\n\
         Region time courses follow seven correlated resting-state networks convolved with the\n\
         canonical HRF, over the MNI152 2009a template anatomy, with smoothed thermal noise,\n\
         site scale/offset and head-motion-like drifts. Background voxels are exactly 0.\n\n\
         Patients (diagnosis 1) differ from controls only inside the AAL3 regions listed in\n\
         effect_regions.tsv: higher low-frequency fluctuation amplitude and coupling to a shared\n\
         aberrant rhythm instead of their networks (effect size {size}).\n\
         synth_config.json regenerates this dataset exactly.\n",
        seed = cfg.seed,
        subjects = cfg.subjects,
        grid = cfg.grid.name(),
        frames = cfg.frames,
        tr = cfg.tr,
        sites = cfg.sites,
        size = cfg.effect_size,
    )
}
