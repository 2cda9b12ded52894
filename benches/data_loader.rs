//! Clip loader throughput from the on-disk cache (run: `cargo bench --bench
//! data_loader`). Builds a cache of 4 runs x 8 clips of random z-scores at
//! the reference size (96³ x 20) and at mni4mm (48³ x 20), then streams
//! every clip through the loader (2 workers, prefetch 2, batch 4) for 3
//! epochs and prints clips/s and MB/s of decoded float32. The first epoch
//! is included: files were just written, so they are in the page cache.

use roimae::data::GridChoice;
use roimae::data::cache::{ClipFileHeader, write_clip_file};
use roimae::data::loader::{ClipCache, ClipLoader, LoaderConfig};
use roimae::data::manifest::{CacheEntry, Manifest};
use roimae::data::preprocess::PreprocessConfig;
use std::sync::Arc;
use std::time::Instant;

fn build_cache(dir: &std::path::Path, grid: GridChoice, runs: usize, clips: usize) {
    let input = grid.geometry().input;
    let frames = 20;
    let len = input.pow(3) * frames * clips;
    let mut manifest = Manifest::new(PreprocessConfig {
        grid,
        ..PreprocessConfig::default()
    });
    let mut x: u32 = 1;
    for r in 0..runs {
        let data: Vec<f32> = (0..len)
            .map(|_| {
                x = x.wrapping_mul(1664525).wrapping_add(1013904223);
                (x >> 8) as f32 / (1u32 << 24) as f32 * 6.0 - 3.0
            })
            .collect();
        let file = format!("run{r}.rmc");
        let header = ClipFileHeader {
            input,
            frames,
            n_clips: clips,
            dtype: String::new(),
            layout: String::new(),
            fill: -3.0,
            mean: 0.0,
            std: 1.0,
            tr: 2.0,
            crc32: 0,
        };
        let crc32 = write_clip_file(&dir.join(&file), header, &data).expect("write clip file");
        manifest.entries.push(CacheEntry {
            subject: format!("{r:02}"),
            site: None,
            label: Some((r % 2) as u32),
            source: dir.join("none"),
            source_size: 0,
            source_mtime: 0,
            file,
            n_clips: clips,
            crc32,
            foreground_voxels: 0,
            nonfinite_zeroed: 0,
            tr: 2.0,
        });
    }
    manifest.save(dir).expect("manifest");
}

fn main() {
    for grid in [GridChoice::Mni2mm, GridChoice::Mni4mm] {
        let dir = tempfile::tempdir().expect("temp dir");
        build_cache(dir.path(), grid, 4, 8);
        let cache = Arc::new(ClipCache::open(dir.path()).expect("open cache"));
        let clips = cache.clips(None);
        let cfg = LoaderConfig {
            batch_size: 4,
            workers: 2,
            prefetch: 2,
            ..LoaderConfig::default()
        };
        let start = Instant::now();
        let mut n = 0usize;
        for epoch in 0..3 {
            for batch in ClipLoader::new(cache.clone(), &clips, &cfg, epoch) {
                n += batch.clips.len();
                std::hint::black_box(&batch.data);
            }
        }
        let s = start.elapsed().as_secs_f64();
        let mb = n as f64 * cache.clip_len() as f64 * 4.0 / 1e6;
        println!(
            "loader {:<7} {}³x20: {n} clips in {s:.2} s = {:.1} clips/s, {:.0} MB/s float32",
            grid.name(),
            grid.geometry().input,
            n as f64 / s,
            mb / s
        );
    }
}
