//! `roimae atlas [--atlas FILE --labels TABLE [--labels-offset N] |
//! --builtin NAME] [--grid FILE | --mni2mm] [--json]`: the built-in AAL3
//! (default), the built-in Schaefer 100 × 7, or a user atlas loaded and
//! validated, summarised on a grid.

use crate::atlas::{Atlas, AtlasLoadOptions, AtlasReport, AtlasValidation, TokenGeometry};
use crate::volume::{Grid, read_header};
use std::path::PathBuf;

/// Arguments of `roimae atlas`.
#[derive(Debug, clap::Args)]
pub struct AtlasArgs {
    /// A user atlas: its label NIfTI (integer labels, MNI space).
    #[arg(
        long,
        value_name = "FILE",
        requires = "labels",
        conflicts_with = "builtin"
    )]
    pub atlas: Option<PathBuf>,
    /// The user atlas's label table (TSV or CSV: index, name [, hemisphere, group]).
    #[arg(long, value_name = "TABLE", requires = "atlas")]
    pub labels: Option<PathBuf>,
    /// Table row index r names volume value r - N (1 for NeuroSTORM's tables).
    #[arg(
        long,
        value_name = "N",
        requires = "atlas",
        allow_negative_numbers = true
    )]
    pub labels_offset: Option<i32>,
    /// A built-in atlas: aal3 (default) or schaefer100.
    #[arg(long, value_name = "NAME")]
    pub builtin: Option<String>,
    /// Count on the grid of this NIfTI file (its shape and affine).
    #[arg(long, value_name = "FILE", conflicts_with = "mni2mm")]
    pub grid: Option<PathBuf>,
    /// Count on the standard MNI152 2 mm grid (91 x 109 x 91).
    #[arg(long)]
    pub mni2mm: bool,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Runs `roimae atlas`.
pub fn run(args: &AtlasArgs) -> anyhow::Result<()> {
    let (title, atlas, validation): (String, Atlas, Option<AtlasValidation>) =
        match (&args.atlas, &args.labels, args.builtin.as_deref()) {
            (Some(volume), Some(table), _) => {
                let options = AtlasLoadOptions {
                    labels_offset: args.labels_offset,
                };
                let (atlas, v) = Atlas::load_validated(volume, table, &options)?;
                let name = volume.file_name().map_or_else(
                    || volume.display().to_string(),
                    |n| n.to_string_lossy().to_string(),
                );
                (name, atlas, Some(v))
            }
            (_, _, Some("schaefer100")) => {
                let (atlas, v) = Atlas::schaefer100_validated()?;
                (
                    "Schaefer 2018 100 parcels x 7 networks".to_string(),
                    atlas,
                    Some(v),
                )
            }
            (_, _, None | Some("aal3")) => ("AAL3v1".to_string(), Atlas::aal3()?, None),
            (_, _, Some(other)) => anyhow::bail!(
                "--builtin {other}: unknown built-in atlas; choose aal3 or schaefer100"
            ),
        };
    let grid = match (&args.grid, args.mni2mm) {
        (Some(path), _) => {
            let h = read_header(path)?;
            let s = h.shape4();
            Grid::new([s[0], s[1], s[2]], h.affine)
        }
        (None, true) => Grid::mni_2mm(),
        (None, false) => atlas.labels.grid,
    };
    let report = AtlasReport::build(&atlas, &grid, TokenGeometry::REFERENCE);
    let sides_unknown = validation
        .as_ref()
        .is_some_and(|v| v.hemisphere_source == "unknown");
    if report.lr_check != "ok" && !sides_unknown {
        eprintln!("roimae: WARNING: {}", report.lr_check);
    }
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        if let (Some(v), Some(map)) = (&validation, value.as_object_mut()) {
            map.insert("atlas".into(), serde_json::json!(title));
            map.insert(
                "group_names".into(),
                serde_json::json!(atlas.regions.groups()),
            );
            map.insert("validation".into(), serde_json::to_value(v)?);
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print_text(&title, &report);
        if let Some(v) = &validation {
            print_validation(
                v,
                atlas.regions.len(),
                atlas.regions.groups().len(),
                &report,
            );
        }
    }
    Ok(())
}

fn print_validation(v: &AtlasValidation, regions: usize, groups: usize, r: &AtlasReport) {
    println!();
    println!("atlas: {} + {}", v.volume, v.labels);
    println!(
        "{regions} regions in {groups} group(s) (groups: {}; hemispheres: {})",
        v.group_source, v.hemisphere_source
    );
    let brain_tokens: usize = r.regions.iter().map(|x| x.tokens).sum();
    println!(
        "token-map coverage: {} of {regions} regions own tokens, {brain_tokens} brain tokens of 4096",
        r.regions_with_tokens
    );
    println!("validation checks:");
    for c in &v.checks {
        println!("  ok: {c}");
    }
    if v.fixed.is_empty() {
        println!("fixed: nothing");
    } else {
        for f in &v.fixed {
            println!("fixed: {f}");
        }
    }
}

fn print_text(title: &str, r: &AtlasReport) {
    let [x, y, z] = r.grid_shape;
    let [a, b, c] = r.grid_voxel_mm;
    println!(
        "{title} on a {x} x {y} x {z} grid ({a:.2} x {b:.2} x {c:.2} mm); tokens at 96³ / 6³ patches (2 mm)"
    );
    println!();
    println!(
        "{:>4}  {:<24} {:<4} {:<12} {:>8} {:>7}",
        "id", "region", "hemi", "group", "voxels", "tokens"
    );
    for row in &r.regions {
        println!(
            "{:>4}  {:<24} {:<4} {:<12} {:>8} {:>7}",
            row.id,
            row.name,
            format!("{:?}", row.hemisphere),
            row.group_name,
            row.voxels,
            row.tokens
        );
    }
    println!();
    println!(
        "{:<12} {:>8} {:>8} {:>7}",
        "group", "voxels", "percent", "tokens"
    );
    for (group, g) in &r.group_totals.0 {
        println!(
            "{:<12} {:>8} {:>7.2}% {:>7}",
            group, g.voxels, g.percent, g.tokens
        );
    }
    println!("{:<12} {:>8}", "labelled", r.labelled_voxels);
    println!();
    println!(
        "regions with tokens: {} of {}; lost at token level ({}): {}",
        r.regions_with_tokens,
        r.regions.len(),
        r.lost_at_token_level.len(),
        name_list(&r.lost_at_token_level)
    );
    if !r.empty_on_grid.is_empty() {
        println!(
            "no voxels on this grid ({}): {}",
            r.empty_on_grid.len(),
            name_list(&r.empty_on_grid)
        );
    }
    println!("left/right check: {}", r.lr_check);
}

/// Names joined by commas; long lists are cut after 40 names.
fn name_list(names: &[String]) -> String {
    const SHOWN: usize = 40;
    match names.len() {
        0 => "none".to_string(),
        n if n <= SHOWN => names.join(", "),
        n => format!("{}, ... and {} more", names[..SHOWN].join(", "), n - SHOWN),
    }
}
