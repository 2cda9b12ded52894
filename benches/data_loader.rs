//! Training-loader throughput from the on-disk cache (run: `cargo bench
//! --bench data_loader`). Builds a cache of 4 runs x 8 clips of random
//! z-scores at the reference size (96³ x 20) and at mni4mm (48³ x 20), then
//! streams every clip through the prefetcher training uses (`train::prefetch`:
//! one loader thread, queue depth 2, batch 4, window masks drawn, no
//! augmentation) for 3 epochs and prints clips/s and MB/s of decoded
//! float32. The first epoch is included: files were just written, so they
//! are in the page cache.

use roimae::atlas::Atlas;
use roimae::data::GridChoice;
use roimae::data::cache::ClipCache;
use roimae::data::cache::{ClipFileHeader, write_clip_file};
use roimae::data::manifest::{CacheEntry, Manifest};
use roimae::data::preprocess::PreprocessConfig;
use roimae::masking::{MaskSpec, Masker};
use roimae::train::data::{CacheClips, ClipSource};
use roimae::train::prefetch::{BatchPlan, Prefetcher};
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
    let atlas = Atlas::aal3().expect("built-in atlas");
    for grid in [GridChoice::Mni2mm, GridChoice::Mni4mm] {
        let dir = tempfile::tempdir().expect("temp dir");
        build_cache(dir.path(), grid, 4, 8);
        let source = Arc::new(CacheClips::new(
            ClipCache::open(dir.path()).expect("open cache"),
        ));
        let labels = atlas.input_labels(&grid.grid(), grid.geometry());
        let masker =
            Masker::new(&MaskSpec::default(), &labels, &atlas.regions, 20).expect("default mask");
        let batch_size = 4;
        let steps_per_epoch = source.len() / batch_size;
        let plan = BatchPlan {
            source: source.clone(),
            train: (0..source.len()).collect(),
            masker: Arc::new(masker),
            seed: 0,
            batch_size,
            steps_per_epoch,
            augment: None,
        };
        let start = Instant::now();
        let loader = Prefetcher::start(plan, 0, 3 * steps_per_epoch, 2);
        let mut n = 0usize;
        while let Some(batch) = loader.next() {
            n += batch.masks.len();
            std::hint::black_box(&batch.data);
        }
        let s = start.elapsed().as_secs_f64();
        let mb = n as f64 * source.clip_len() as f64 * 4.0 / 1e6;
        println!(
            "loader {:<7} {}³x20: {n} clips in {s:.2} s = {:.1} clips/s, {:.0} MB/s float32",
            grid.name(),
            grid.geometry().input,
            n as f64 / s,
            mb / s
        );
    }
}
