//! `roimae atlas [--grid FILE | --mni2mm] [--json]`.

use crate::atlas::{Atlas, AtlasReport, TokenGeometry};
use crate::volume::{Grid, read_header};
use std::path::PathBuf;

/// Arguments of `roimae atlas`.
#[derive(Debug, clap::Args)]
pub struct AtlasArgs {
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
    let atlas = Atlas::aal3()?;
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
    if report.lr_check != "ok" {
        eprintln!("roimae: WARNING: {}", report.lr_check);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    Ok(())
}

fn print_text(r: &AtlasReport) {
    let [x, y, z] = r.grid_shape;
    let [a, b, c] = r.grid_voxel_mm;
    println!(
        "AAL3v1 on a {x} x {y} x {z} grid ({a:.2} x {b:.2} x {c:.2} mm); tokens at 96³ / 6³ patches (2 mm)"
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
            row.group.name(),
            row.voxels,
            row.tokens
        );
    }
    println!();
    println!(
        "{:<12} {:>8} {:>8} {:>7}",
        "group", "voxels", "percent", "tokens"
    );
    for (lobe, g) in &r.groups.0 {
        println!(
            "{:<12} {:>8} {:>7.2}% {:>7}",
            lobe.name(),
            g.voxels,
            g.percent,
            g.tokens
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
