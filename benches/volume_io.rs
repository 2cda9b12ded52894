//! Throughput of the NIfTI and resampling paths (run: `cargo bench --bench
//! volume_io`). Writes a synthetic 91 x 109 x 91 x 40 float32 run (a typical
//! MNI 2 mm clip budget), reads it back as .nii and .nii.gz, resamples the
//! 1 mm template to 2 mm and the AAL3 atlas to the MNI 2 mm grid, takes the
//! viewer's robust display range of a frame, and prints
//! seconds and voxels per second for each step (best of 3).

use roimae::atlas::{Atlas, AtlasReport, TokenGeometry};
use roimae::volume::{
    Grid, Interpolation, Volume, VolumeMeta, read_volume, resample, write_volume,
};
use std::time::Instant;

fn best_of_3<T>(mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..3 {
        let start = Instant::now();
        let r = f();
        best = best.min(start.elapsed().as_secs_f64());
        out = Some(r);
    }
    (best, out.unwrap())
}

fn report(what: &str, seconds: f64, voxels: usize) {
    println!(
        "{what:<44} {seconds:>8.3} s  {:>8.1} Mvox/s",
        voxels as f64 / seconds / 1e6
    );
}

fn main() {
    let grid = Grid::mni_2mm();
    let frames = 40;
    let n = grid.n_voxels() * frames;
    let data: Vec<f32> = (0..n).map(|i| ((i % 9973) as f32).sqrt()).collect();
    let volume = Volume::from_data(
        grid,
        frames,
        data,
        VolumeMeta::new_f32(&grid, frames, Some(2.0), true),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["bench.nii", "bench.nii.gz"] {
        let path = dir.path().join(name);
        let (t, _) = best_of_3(|| write_volume(&volume, &path).expect("write"));
        report(&format!("write {name} (91x109x91x40 f32)"), t, n);
        let (t, back) = best_of_3(|| read_volume(&path).expect("read"));
        assert_eq!(back.data.len(), n);
        report(&format!("read  {name}"), t, n);
    }
    let template = roimae::assets::mni152_t1().expect("template");
    let (t, _) = best_of_3(|| resample(&template, &grid, Interpolation::Trilinear, 0.0));
    report("trilinear 1 mm template -> MNI 2 mm", t, grid.n_voxels());
    let atlas = Atlas::aal3().expect("atlas");
    let (t, _) = best_of_3(|| atlas.on_grid(&grid));
    report("nearest AAL3 1 mm -> MNI 2 mm", t, grid.n_voxels());
    let (t, _) = best_of_3(|| AtlasReport::build(&atlas, &grid, TokenGeometry::REFERENCE));
    report("atlas report (counts + token map)", t, grid.n_voxels());
    // The viewer's display range of one 91x109x91 frame, and of a 3 M-value
    // array (the size the viewer subsamples).
    let frame = &volume.data[..grid.n_voxels()];
    let (t, _) = best_of_3(|| roimae::viewer::robust_range(frame, 1.0, 99.0, true));
    report(
        "display range (1-99 %) of one MNI 2 mm frame",
        t,
        frame.len(),
    );
    let values: Vec<f32> = (0..3_000_000).map(|i| (i % 1000) as f32).collect();
    let (t, _) = best_of_3(|| roimae::viewer::robust_range(&values, 1.0, 99.0, true));
    report("display range (1-99 %) of 3 M values", t, values.len());
}
