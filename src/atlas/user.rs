//! User-supplied atlases: a label NIfTI (any integer-valued voxel type,
//! float-stored labels too) plus a label table (TSV or CSV with columns
//! index and name, optional hemisphere and group), validated before use.
//!
//! Validation refuses, each with its own [`AtlasError`]: 4D or
//! non-integer volumes, labels outside 0-65535, atlases not in MNI space
//! (no or Talairach sform/qform codes, labels outside the MNI152 head box),
//! volume values without a table row and rows without voxels, background
//! rows ("Background", "Unknown") at a non-zero index, a table whose names
//! are off by one against the volume (NeuroSTORM's tables name value v on
//! row v+1; fixed only with an explicit `labels_offset`), and left/right
//! flips where hemispheres are known. Groups come from the table's group
//! column, else from a recognised naming scheme (Schaefer
//! `7Networks_LH_Vis_1` → group `LH_Vis`, hemisphere L), else one group.

use super::Atlas;
use super::error::AtlasError;
use super::labels::LabelMap;
use super::regions::{Hemisphere, Lobe, Region, RegionTable};
use crate::volume::{Volume, read_volume, read_volume_from_bytes};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::Path;

/// How a user atlas is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AtlasLoadOptions {
    /// The table row with index `r` names volume value `r - offset`
    /// (`Some(1)` for NeuroSTORM's tables, which start with `1,Background`).
    /// `None` takes the table literally and refuses an off-by-one table.
    pub labels_offset: Option<i32>,
}

/// What loading found and did: shown by `roimae atlas` and kept for the
/// record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AtlasValidation {
    /// The label volume.
    pub volume: String,
    /// The label table.
    pub labels: String,
    /// Voxel type of the volume on disk.
    pub datatype: String,
    /// The offset applied, if any.
    pub labels_offset: Option<i32>,
    /// Where the groups came from: `table`, `schaefer names`, `single group`.
    pub group_source: String,
    /// Where the hemispheres came from: `table`, `names`, `unknown`.
    pub hemisphere_source: String,
    /// What was changed to load the files (offset, dropped background rows).
    pub fixed: Vec<String>,
    /// Checks passed, one line each.
    pub checks: Vec<String>,
    /// `"ok"` or why the left/right check could not run.
    pub lr_check: String,
}

/// The Schaefer 2018 100-parcel 7-network atlas (2 mm) as NeuroSTORM ships
/// it, compiled into the binary (provenance: atlases/schaefer_100_7net/).
pub const SCHAEFER100_NII_GZ: &[u8] =
    include_bytes!("../../atlases/schaefer_100_7net/atlas.nii.gz");
/// Its label table, unmodified (`index,name`, starting with `1,Background`).
pub const SCHAEFER100_LABELS_CSV: &str = include_str!("../../atlases/schaefer_100_7net/labels.csv");

impl Atlas {
    /// Loads and validates a user atlas: `volume` (NIfTI labels) and
    /// `table` (TSV or CSV). See the module docs for what is refused.
    pub fn load(
        volume: impl AsRef<Path>,
        table: impl AsRef<Path>,
        options: &AtlasLoadOptions,
    ) -> Result<Atlas, AtlasError> {
        Atlas::load_validated(volume, table, options).map(|(a, _)| a)
    }

    /// [`Atlas::load`], also returning what validation found and fixed.
    pub fn load_validated(
        volume: impl AsRef<Path>,
        table: impl AsRef<Path>,
        options: &AtlasLoadOptions,
    ) -> Result<(Atlas, AtlasValidation), AtlasError> {
        let (vpath, tpath) = (volume.as_ref(), table.as_ref());
        let vol = read_volume(vpath)?;
        let text = crate::fsutil::read_text(tpath, "label table")?;
        build(&vol, vpath, &text, tpath, options)
    }

    /// The built-in Schaefer 2018 100 parcels × 7 networks (2 mm MNI), its
    /// NeuroSTORM table read with the offset 1 it needs.
    pub fn schaefer100() -> Result<Atlas, AtlasError> {
        Atlas::schaefer100_validated().map(|(a, _)| a)
    }

    /// [`Atlas::schaefer100`] with its validation record.
    pub fn schaefer100_validated() -> Result<(Atlas, AtlasValidation), AtlasError> {
        let vpath = Path::new("<built-in schaefer_100_7net/atlas.nii.gz>");
        let tpath = Path::new("<built-in schaefer_100_7net/labels.csv>");
        let vol = read_volume_from_bytes(&vpath.to_string_lossy(), SCHAEFER100_NII_GZ)?;
        build(
            &vol,
            vpath,
            SCHAEFER100_LABELS_CSV,
            tpath,
            &AtlasLoadOptions {
                labels_offset: Some(1),
            },
        )
    }
}

/// One row of a label table as written.
struct Row {
    line: usize,
    index: i64,
    name: String,
    hemisphere: Option<String>,
    group: Option<String>,
}

/// Names that mean "no region".
fn is_background(name: &str) -> bool {
    matches!(
        name.trim().to_ascii_lowercase().as_str(),
        "background" | "unknown" | "unlabeled" | "unlabelled" | "none" | "???" | "clear label"
    )
}

fn header_pos(headers: &[String], names: &[&str]) -> Option<usize> {
    headers.iter().position(|h| names.contains(&h.as_str()))
}

/// Parses a TSV or CSV label table (tab-separated when its first line has a
/// tab, else comma-separated; header names case-insensitive).
fn parse_table(text: &str, file: &Path) -> Result<Vec<Row>, AtlasError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text.lines().next().unwrap_or("");
    let delimiter = if first.contains('\t') {
        b'\t'
    } else if first.contains(';') && !first.contains(',') {
        b';'
    } else {
        b','
    };
    let unreadable = |e: csv::Error| AtlasError::TableUnreadable {
        file: file.to_path_buf(),
        reason: e.to_string().replace('\n', " "),
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(unreadable)?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let missing = |column: &'static str| AtlasError::TableColumn {
        file: file.to_path_buf(),
        column,
        header: headers.join(", "),
    };
    let ci = header_pos(
        &headers,
        &["index", "id", "value", "label_id", "label_value", "roi_id"],
    )
    .ok_or_else(|| missing("index"))?;
    let cn = header_pos(
        &headers,
        &[
            "name",
            "label_name",
            "region",
            "region_name",
            "roi_name",
            "label",
        ],
    )
    .ok_or_else(|| missing("name"))?;
    let ch = header_pos(&headers, &["hemisphere", "hemi", "hem", "side"]);
    let cg = header_pos(&headers, &["group", "network", "lobe", "system"]);
    let mut rows: Vec<Row> = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(unreadable)?;
        let line = i + 2;
        let at = |c: usize| record.get(c).unwrap_or("").trim().to_string();
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let raw = at(ci);
        let index: i64 = raw
            .parse()
            .ok()
            .or_else(|| {
                raw.parse::<f64>()
                    .ok()
                    .filter(|v| v.fract() == 0.0 && v.abs() < 1e9)
                    .map(|v| v as i64)
            })
            .ok_or_else(|| AtlasError::TableRow {
                file: file.to_path_buf(),
                line,
                reason: format!(
                    "index '{raw}' is not a whole number; give the label value of the region"
                ),
            })?;
        let name = at(cn);
        if name.is_empty() {
            return Err(AtlasError::TableRow {
                file: file.to_path_buf(),
                line,
                reason: format!("label value {index} has an empty name; give every region a name"),
            });
        }
        if !seen.insert(index) {
            return Err(AtlasError::TableDuplicate {
                file: file.to_path_buf(),
                line,
                id: index,
            });
        }
        let opt = |c: Option<usize>| c.map(at).filter(|s| !s.is_empty());
        rows.push(Row {
            line,
            index,
            name,
            hemisphere: opt(ch),
            group: opt(cg),
        });
    }
    Ok(rows)
}

/// Hemisphere from a table cell.
fn hemisphere_cell(value: &str) -> Option<Hemisphere> {
    match value.trim().to_ascii_lowercase().as_str() {
        "l" | "lh" | "left" => Some(Hemisphere::L),
        "r" | "rh" | "right" => Some(Hemisphere::R),
        "m" | "b" | "mid" | "midline" | "both" | "bilateral" | "-" | "n/a" | "na" => {
            Some(Hemisphere::M)
        }
        _ => None,
    }
}

/// Schaefer's `<N>Networks_<LH|RH>_<network>_...`: (hemisphere, network).
fn schaefer_name(name: &str) -> Option<(Hemisphere, String)> {
    let mut parts = name.split('_');
    let head = parts.next()?;
    let n = head.strip_suffix("Networks")?;
    if n.is_empty() || !n.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let hemi = match parts.next()? {
        "LH" => Hemisphere::L,
        "RH" => Hemisphere::R,
        _ => return None,
    };
    let network = parts.next().filter(|s| !s.is_empty())?;
    Some((hemi, network.to_string()))
}

/// A side from a name: AAL's `_L`/`_R` suffix or `Left `/`Right ` prefix.
fn name_hemisphere(name: &str) -> Option<Hemisphere> {
    let lower = name.to_ascii_lowercase();
    if name.ends_with("_L") || lower.starts_with("left ") || lower.starts_with("left-") {
        Some(Hemisphere::L)
    } else if name.ends_with("_R") || lower.starts_with("right ") || lower.starts_with("right-") {
        Some(Hemisphere::R)
    } else {
        None
    }
}

fn short_list(items: &[String]) -> String {
    const SHOWN: usize = 8;
    if items.len() <= SHOWN {
        items.join(", ")
    } else {
        format!(
            "{}, ... and {} more",
            items[..SHOWN].join(", "),
            items.len() - SHOWN
        )
    }
}

/// Validates the volume's values; returns the label map.
fn check_values(vol: &Volume, file: &Path) -> Result<LabelMap, AtlasError> {
    if vol.frames > 1 {
        return Err(AtlasError::NotALabelVolume {
            file: file.to_path_buf(),
            frames: vol.frames,
        });
    }
    let frame = vol.frame(0);
    let mut non_int: Option<(usize, f32, usize)> = None;
    let mut range: Option<(usize, f32)> = None;
    for (idx, &v) in frame.iter().enumerate() {
        if !v.is_finite() || (v - v.round()).abs() > 1e-3 {
            let e = non_int.get_or_insert((0, v, idx));
            e.0 += 1;
        } else if v.round() < 0.0 || v.round() > u16::MAX as f32 {
            let e = range.get_or_insert((0, v));
            e.0 += 1;
        }
    }
    if let Some((count, example, idx)) = non_int {
        return Err(AtlasError::NonIntegerLabels {
            file: file.to_path_buf(),
            count,
            example,
            voxel: vol.grid.ijk(idx),
        });
    }
    if let Some((count, example)) = range {
        return Err(AtlasError::LabelOutOfRange {
            file: file.to_path_buf(),
            count,
            example,
        });
    }
    let labels = LabelMap::from_volume(vol);
    if labels.labels.iter().all(|&l| l == 0) {
        return Err(AtlasError::EmptyAtlas {
            file: file.to_path_buf(),
        });
    }
    Ok(labels)
}

/// The MNI152 head box (mm) labelled voxels must lie in: the 1 mm MNI152
/// template's field of view (x ±90, y -126..90, z -72..108) plus 10 mm.
const MNI_BOX: [[f64; 2]; 3] = [[-100.0, 100.0], [-136.0, 100.0], [-82.0, 118.0]];

/// Checks the sform/qform codes and where the labelled voxels lie.
fn check_space(vol: &Volume, labels: &LabelMap, file: &Path) -> Result<String, AtlasError> {
    let (s, q) = (vol.meta.sform_code, vol.meta.qform_code);
    let not_mni = |reason: String| AtlasError::NotMni {
        file: file.to_path_buf(),
        reason,
    };
    if s <= 0 && q <= 0 {
        return Err(not_mni(
            "sform_code and qform_code are both 0, so the file does not say where its voxels lie; set its sform to the MNI152 affine (sform_code 4) and load it again".into(),
        ));
    }
    let code = if s > 0 { s } else { q };
    if code == 3 {
        return Err(not_mni(format!(
            "its {} code is 3 (Talairach); transform it to MNI152 space (e.g. with FSL flirt/applywarp or ANTs) first",
            if s > 0 { "sform" } else { "qform" }
        )));
    }
    let [nx, ny, nz] = labels.grid.dims;
    let mut lo = [usize::MAX; 3];
    let mut hi = [0usize; 3];
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                if labels.labels[labels.grid.index(i, j, k)] != 0 {
                    for (a, v) in [i, j, k].into_iter().enumerate() {
                        lo[a] = lo[a].min(v);
                        hi[a] = hi[a].max(v);
                    }
                }
            }
        }
    }
    let mut wlo = [f64::INFINITY; 3];
    let mut whi = [f64::NEG_INFINITY; 3];
    for c in 0..8 {
        let ijk = [0, 1, 2].map(|a| if c >> a & 1 == 0 { lo[a] } else { hi[a] });
        let w = labels.grid.world(ijk);
        for a in 0..3 {
            wlo[a] = wlo[a].min(w[a]);
            whi[a] = whi[a].max(w[a]);
        }
    }
    let span = format!(
        "x {:.0}..{:.0}, y {:.0}..{:.0}, z {:.0}..{:.0} mm",
        wlo[0], whi[0], wlo[1], whi[1], wlo[2], whi[2]
    );
    let inside = (0..3).all(|a| wlo[a] >= MNI_BOX[a][0] && whi[a] <= MNI_BOX[a][1]);
    if !inside {
        return Err(not_mni(format!(
            "its labelled voxels span {span}, outside the MNI152 head box (x -100..100, y -136..100, z -82..118 mm), so it is in native or scanner space; register it to MNI152 first"
        )));
    }
    let code_name = match code {
        1 => "1 (scanner)",
        2 => "2 (aligned)",
        4 => "4 (MNI152)",
        5 => "5 (template)",
        _ => "other",
    };
    Ok(format!(
        "MNI space: {} code {code_name}; labelled voxels span {span}, inside the MNI152 head box",
        if s > 0 { "sform" } else { "qform" }
    ))
}

/// Validates and assembles a user atlas from a read volume and table text.
pub(crate) fn build(
    vol: &Volume,
    vpath: &Path,
    text: &str,
    tpath: &Path,
    options: &AtlasLoadOptions,
) -> Result<(Atlas, AtlasValidation), AtlasError> {
    let labels = check_values(vol, vpath)?;
    let space = check_space(vol, &labels, vpath)?;
    let rows = parse_table(text, tpath)?;
    let values: BTreeSet<i64> = labels.voxel_counts().keys().map(|&v| v as i64).collect();
    let mut fixed = Vec::new();
    let mut checks = vec![space];
    checks.push(format!(
        "labels: {} distinct non-zero integer values ({})",
        values.len(),
        vol.meta.datatype.numpy_name(false)
    ));
    // Apply or detect an offset; drop background rows at value 0.
    let offset = options.labels_offset.unwrap_or(0) as i64;
    let mut kept: Vec<(i64, &Row)> = Vec::new();
    let mut dropped = Vec::new();
    for row in &rows {
        let value = row.index - offset;
        if value == 0 && is_background(&row.name) {
            dropped.push(format!("'{}' (index {})", row.name, row.index));
            continue;
        }
        if value <= 0 || value > u16::MAX as i64 {
            if offset != 0 {
                return Err(AtlasError::OffsetMisfit {
                    file: tpath.to_path_buf(),
                    line: row.line,
                    offset: offset as i32,
                    name: row.name.clone(),
                    index: row.index,
                    value,
                });
            }
            return Err(AtlasError::TableRow {
                file: tpath.to_path_buf(),
                line: row.line,
                reason: format!(
                    "index {} of '{}' is not a region label (1-65535); label 0 is background",
                    row.index, row.name
                ),
            });
        }
        if is_background(&row.name) {
            // A background name at a non-zero value: off by one, or wrong.
            let shifted = values.iter().all(|v| rows.iter().any(|r| r.index == v + 1));
            if offset == 0 && row.index == 1 && shifted {
                return Err(AtlasError::OffByOne {
                    table: tpath.to_path_buf(),
                    volume: vpath.to_path_buf(),
                    background: row.name.clone(),
                    background_index: row.index,
                    values: values.len(),
                });
            }
            return Err(AtlasError::BackgroundRow {
                file: tpath.to_path_buf(),
                line: row.line,
                name: row.name.clone(),
                index: row.index,
            });
        }
        kept.push((value, row));
    }
    if offset != 0 {
        fixed.push(format!(
            "labels offset {offset}: table row index r names volume value r - {offset} ({} rows shifted, e.g. index {} '{}' -> value {})",
            kept.len(),
            kept.first().map_or(0, |k| k.1.index),
            kept.first().map_or("", |k| k.1.name.as_str()),
            kept.first().map_or(0, |k| k.0),
        ));
    }
    if !dropped.is_empty() {
        fixed.push(format!(
            "background row(s) at value 0 dropped: {}",
            dropped.join(", ")
        ));
    }
    let table_values: BTreeSet<i64> = kept.iter().map(|k| k.0).collect();
    let no_row: Vec<String> = values
        .difference(&table_values)
        .map(|v| v.to_string())
        .collect();
    if !no_row.is_empty() {
        return Err(AtlasError::MissingFromTable {
            table: tpath.to_path_buf(),
            volume: vpath.to_path_buf(),
            count: no_row.len(),
            values: short_list(&no_row),
        });
    }
    let no_voxel: Vec<String> = kept
        .iter()
        .filter(|k| !values.contains(&k.0))
        .map(|k| format!("{} {}", k.0, k.1.name))
        .collect();
    if !no_voxel.is_empty() {
        return Err(AtlasError::MissingFromVolume {
            table: tpath.to_path_buf(),
            volume: vpath.to_path_buf(),
            count: no_voxel.len(),
            names: short_list(&no_voxel),
        });
    }
    checks.push(format!(
        "table and volume agree: {} regions, every value has a row and every row has voxels",
        kept.len()
    ));
    // Hemispheres and groups.
    let schaefer: Option<Vec<(Hemisphere, String)>> =
        kept.iter().map(|k| schaefer_name(&k.1.name)).collect();
    let has_hemi_col = kept.iter().any(|k| k.1.hemisphere.is_some());
    let has_group_col = kept.iter().any(|k| k.1.group.is_some());
    let mut regions = Vec::with_capacity(kept.len());
    let mut named_side = false;
    for (n, (value, row)) in kept.iter().enumerate() {
        let hemisphere = if has_hemi_col {
            let cell = row.hemisphere.as_deref().unwrap_or("");
            hemisphere_cell(cell).ok_or_else(|| AtlasError::TableRow {
                file: tpath.to_path_buf(),
                line: row.line,
                reason: format!(
                    "hemisphere '{cell}' of '{}' is not one of L, R, M (or left, right, LH, RH, both)",
                    row.name
                ),
            })?
        } else if let Some(s) = &schaefer {
            s[n].0
        } else if let Some(h) = name_hemisphere(&row.name) {
            named_side = true;
            h
        } else {
            Hemisphere::M
        };
        let group_name = if has_group_col {
            row.group.clone().unwrap_or_else(|| "ungrouped".to_string())
        } else if let Some(s) = &schaefer {
            format!(
                "{}_{}",
                if s[n].0 == Hemisphere::L { "LH" } else { "RH" },
                s[n].1
            )
        } else {
            "all".to_string()
        };
        regions.push(Region {
            id: *value as u16,
            name: row.name.clone(),
            hemisphere,
            group: Lobe::Frontal,
            group_name,
        });
    }
    let hemisphere_source = if has_hemi_col {
        "table"
    } else if schaefer.is_some() || named_side {
        "names"
    } else {
        "unknown"
    };
    let group_source = if has_group_col {
        "table"
    } else if schaefer.is_some() {
        "schaefer names"
    } else {
        "single group"
    };
    let table = RegionTable::from_named(regions);
    checks.push(format!(
        "groups ({group_source}): {} — {}",
        table.groups().len(),
        short_list(table.groups())
    ));
    let knows_sides = table.iter().any(|r| r.hemisphere != Hemisphere::M);
    let lr_check = if knows_sides {
        let check = labels.left_right_check(&table);
        if check != "ok" {
            return Err(AtlasError::LeftRight {
                file: vpath.to_path_buf(),
                detail: check,
            });
        }
        checks.push(format!(
            "left/right: every left region's centroid at world x < 0, every right one's at x > 0 (hemispheres from {hemisphere_source})"
        ));
        check
    } else {
        "hemispheres unknown (no hemisphere column, no L/R in the names); not checked".to_string()
    };
    let validation = AtlasValidation {
        volume: vpath.display().to_string(),
        labels: tpath.display().to_string(),
        datatype: vol.meta.datatype.numpy_name(false),
        labels_offset: options.labels_offset,
        group_source: group_source.to_string(),
        hemisphere_source: hemisphere_source.to_string(),
        fixed,
        checks,
        lr_check,
    };
    Ok((
        Atlas {
            regions: table,
            labels,
        },
        validation,
    ))
}
