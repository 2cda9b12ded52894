//! A loader thread that assembles training batches (clip data, augmented
//! when the run asks, and masks) ahead of the trainer in a bounded queue,
//! starting at any step, and
//! measures how much of its time it sits idle (queue full).

use super::augment::Augmenter;
use super::data::{ClipSource, epoch_order};
use crate::masking::{ClipMask, Masker};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;
use std::time::Instant;

/// One training batch ready for the device.
pub struct ReadyBatch {
    /// The 0-based step it is for.
    pub step: usize,
    /// `batch × clip_len` values.
    pub data: Vec<f32>,
    /// The clips' masks.
    pub masks: Vec<ClipMask>,
}

/// Where batches come from and in what order.
pub struct BatchPlan {
    /// The clips.
    pub source: Arc<dyn ClipSource>,
    /// Training clip indices.
    pub train: Vec<usize>,
    /// The masker.
    pub masker: Arc<Masker>,
    /// Seed of the clip order.
    pub seed: u64,
    /// Clips per batch.
    pub batch_size: usize,
    /// Steps per epoch (the last incomplete batch is dropped).
    pub steps_per_epoch: usize,
    /// Augments each clip with the draw of its mask id, when on.
    pub augment: Option<Augmenter>,
}

impl BatchPlan {
    /// The mask id of clip `clip` in epoch `epoch`: every epoch draws new
    /// masks, the same ones on every run with the same mask seed.
    pub fn mask_id(&self, epoch: usize, clip: usize) -> u64 {
        (epoch * self.source.len() + clip) as u64
    }
}

/// The loader thread and its queue.
pub struct Prefetcher {
    rx: Option<Receiver<ReadyBatch>>,
    idle_ns: Arc<AtomicU64>,
    busy_ns: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Prefetcher {
    /// Starts producing the batches of steps `start..end`.
    pub fn start(plan: BatchPlan, start: usize, end: usize, depth: usize) -> Prefetcher {
        let (tx, rx) = sync_channel(depth.max(1));
        let idle_ns = Arc::new(AtomicU64::new(0));
        let busy_ns = Arc::new(AtomicU64::new(0));
        let (idle, busy) = (idle_ns.clone(), busy_ns.clone());
        let thread = std::thread::spawn(move || {
            let mut order_epoch = usize::MAX;
            let mut order = Vec::new();
            let mut clip = Vec::new();
            for step in start..end {
                let t0 = Instant::now();
                let epoch = step / plan.steps_per_epoch;
                if epoch != order_epoch {
                    order = epoch_order(&plan.train, plan.seed, epoch);
                    order_epoch = epoch;
                }
                let at = (step % plan.steps_per_epoch) * plan.batch_size;
                let clips = &order[at..at + plan.batch_size];
                let mut data = Vec::with_capacity(clips.len() * plan.source.clip_len());
                let mut masks = Vec::with_capacity(clips.len());
                for &c in clips {
                    let id = plan.mask_id(epoch, c);
                    plan.source.read(c, &mut clip);
                    if let Some(a) = &plan.augment {
                        a.apply(&mut clip, id);
                    }
                    data.extend_from_slice(&clip);
                    masks.push(plan.masker.mask(id));
                }
                let t1 = Instant::now();
                busy.fetch_add((t1 - t0).as_nanos() as u64, Ordering::Relaxed);
                if tx.send(ReadyBatch { step, data, masks }).is_err() {
                    return;
                }
                idle.fetch_add(t1.elapsed().as_nanos() as u64, Ordering::Relaxed);
            }
        });
        Prefetcher {
            rx: Some(rx),
            idle_ns,
            busy_ns,
            thread: Some(thread),
        }
    }

    /// The next batch (waits for it); `None` after the last.
    pub fn next(&self) -> Option<ReadyBatch> {
        self.rx.as_ref()?.recv().ok()
    }

    /// Share of the loader's time spent waiting for room in the queue.
    pub fn idle_fraction(&self) -> f64 {
        let idle = self.idle_ns.load(Ordering::Relaxed) as f64;
        let busy = self.busy_ns.load(Ordering::Relaxed) as f64;
        if idle + busy > 0.0 {
            idle / (idle + busy)
        } else {
            1.0
        }
    }
}

impl Drop for Prefetcher {
    fn drop(&mut self) {
        self.rx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
