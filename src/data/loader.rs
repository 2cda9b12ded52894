//! The clip loader: worker threads decode clips from the memory-mapped cache
//! into batches ahead of the trainer (bounded prefetch), in an order that is
//! shuffled per epoch under a seed and identical whatever the thread timing.

use super::cache::ClipFile;
use super::manifest::Manifest;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

/// A cache folder opened for reading: its manifest and mapped clip files.
#[derive(Debug)]
pub struct ClipCache {
    /// The folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    files: Vec<ClipFile>,
}

/// One clip of the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipRef {
    /// Index of the run in the manifest.
    pub entry: usize,
    /// Clip number within the run.
    pub clip: usize,
}

impl ClipCache {
    /// Opens every clip file of the manifest in `dir`.
    pub fn open(dir: &Path) -> Result<ClipCache, String> {
        let manifest = Manifest::load(dir)?;
        let files = manifest
            .entries
            .iter()
            .map(|e| ClipFile::open(&dir.join(&e.file)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ClipCache {
            dir: dir.to_path_buf(),
            manifest,
            files,
        })
    }

    /// Values per clip (input³ x frames).
    pub fn clip_len(&self) -> usize {
        self.files.first().map_or(0, |f| f.header.clip_len())
    }

    /// Every clip of the given subjects (all subjects when `None`).
    pub fn clips(&self, subjects: Option<&[String]>) -> Vec<ClipRef> {
        self.manifest
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| subjects.is_none_or(|s| s.contains(&e.subject)))
            .flat_map(|(entry, e)| (0..e.n_clips).map(move |clip| ClipRef { entry, clip }))
            .collect()
    }

    /// Decodes one clip into `out`.
    pub fn read(&self, clip: &ClipRef, out: &mut Vec<f32>) {
        self.files[clip.entry].read_clip(clip.clip, out);
    }

    /// Whether every clip file still matches its checksum.
    pub fn verify(&self) -> Vec<String> {
        self.files
            .iter()
            .filter(|f| !f.verify())
            .map(|f| format!("{}: checksum mismatch; run prepare again", f.path.display()))
            .collect()
    }
}

/// A batch of clips, concatenated in the model layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Position of the batch in the epoch.
    pub index: usize,
    /// `clips.len() x clip_len` values.
    pub data: Vec<f32>,
    /// The clips, in order.
    pub clips: Vec<ClipRef>,
    /// Their subjects' labels.
    pub labels: Vec<Option<u32>>,
    /// Their subjects.
    pub subjects: Vec<String>,
}

/// How batches are formed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoaderConfig {
    /// Clips per batch.
    pub batch_size: usize,
    /// Shuffle the clips every epoch.
    pub shuffle: bool,
    /// Seed of the shuffle (epoch `e` uses stream `e`).
    pub seed: u64,
    /// Decoding threads.
    pub workers: usize,
    /// Batches each worker may have ready ahead of the consumer.
    pub prefetch: usize,
    /// Drop a last, incomplete batch.
    pub drop_last: bool,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            batch_size: 4,
            shuffle: true,
            seed: 0,
            workers: 2,
            prefetch: 2,
            drop_last: false,
        }
    }
}

/// The clip order of one epoch.
pub fn epoch_order(clips: &[ClipRef], cfg: &LoaderConfig, epoch: u64) -> Vec<ClipRef> {
    let mut order = clips.to_vec();
    if cfg.shuffle {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        rng.set_stream(epoch);
        order.shuffle(&mut rng);
    }
    order
}

/// Iterates over the batches of one epoch; worker `w` prepares batches
/// `w, w + W, ...` into its own bounded channel and the iterator takes them
/// in turn, so the order is fixed and memory stays bounded.
pub struct ClipLoader {
    receivers: Vec<Receiver<Batch>>,
    workers: Vec<JoinHandle<()>>,
    next: usize,
    n_batches: usize,
}

impl ClipLoader {
    /// Starts the workers for epoch `epoch` over `clips`.
    pub fn new(cache: Arc<ClipCache>, clips: &[ClipRef], cfg: &LoaderConfig, epoch: u64) -> Self {
        let order = epoch_order(clips, cfg, epoch);
        let size = cfg.batch_size.max(1);
        let mut batches: Vec<Vec<ClipRef>> = order.chunks(size).map(<[ClipRef]>::to_vec).collect();
        if cfg.drop_last && batches.last().is_some_and(|b| b.len() < size) {
            batches.pop();
        }
        let n_batches = batches.len();
        let batches = Arc::new(batches);
        let n_workers = cfg.workers.max(1).min(n_batches.max(1));
        let mut receivers = Vec::with_capacity(n_workers);
        let mut workers = Vec::with_capacity(n_workers);
        for w in 0..n_workers {
            let (tx, rx) = sync_channel(cfg.prefetch.max(1));
            let (cache, batches) = (cache.clone(), batches.clone());
            workers.push(std::thread::spawn(move || {
                let mut clip = Vec::new();
                for index in (w..batches.len()).step_by(n_workers) {
                    let refs = &batches[index];
                    let mut data = Vec::with_capacity(refs.len() * cache.clip_len());
                    let mut labels = Vec::with_capacity(refs.len());
                    let mut subjects = Vec::with_capacity(refs.len());
                    for r in refs {
                        cache.read(r, &mut clip);
                        data.extend_from_slice(&clip);
                        let entry = &cache.manifest.entries[r.entry];
                        labels.push(entry.label);
                        subjects.push(entry.subject.clone());
                    }
                    let batch = Batch {
                        index,
                        data,
                        clips: refs.clone(),
                        labels,
                        subjects,
                    };
                    if tx.send(batch).is_err() {
                        return; // the loader was dropped
                    }
                }
            }));
            receivers.push(rx);
        }
        ClipLoader {
            receivers,
            workers,
            next: 0,
            n_batches,
        }
    }

    /// Batches in this epoch.
    pub fn len(&self) -> usize {
        self.n_batches
    }

    /// Whether the epoch has no batch.
    pub fn is_empty(&self) -> bool {
        self.n_batches == 0
    }
}

impl Iterator for ClipLoader {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.next >= self.n_batches {
            return None;
        }
        let batch = self.receivers[self.next % self.receivers.len()]
            .recv()
            .ok()?;
        self.next += 1;
        Some(batch)
    }
}

impl Drop for ClipLoader {
    fn drop(&mut self) {
        self.receivers.clear();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}
