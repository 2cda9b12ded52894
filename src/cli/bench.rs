//! `roimae bench scan|mae|viewer`: throughput of the selective scan and of
//! MAE training steps on the CPU (Flex) or the GPU (wgpu), and viewer frame
//! times.

use crate::model::bench::{Measurement, ScanShape, bench_mae, bench_scan};
use crate::model::profile::totals;
use crate::model::{DeviceChoice, Preset, ScanImpl};
use crate::train::bench::{TrainBench, TrainBenchSpec, bench_train};

/// Arguments of `roimae bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// What to measure.
    #[command(subcommand)]
    pub what: BenchWhat,
}

/// The benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchWhat {
    /// Selective scan tokens/s (default shape: reference stage 0, one clip).
    Scan {
        /// cpu (Flex), gpu (wgpu), or auto (a hardware GPU when there is one).
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Implementations to run: sequential, chunked, fused, parallel (comma-separated).
        #[arg(long, default_value = "sequential,chunked,fused,parallel")]
        scan: String,
        /// Sequences (windows × batch).
        #[arg(long, default_value_t = 320)]
        windows: usize,
        /// Sequence length.
        #[arg(long, default_value_t = 256)]
        len: usize,
        /// Channels (d_inner).
        #[arg(long, default_value_t = 72)]
        d_inner: usize,
        /// Timed iterations.
        #[arg(long, default_value_t = 3)]
        iters: usize,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// MAE forward+backward clips/s for a preset.
    Mae {
        /// Model preset (tiny, mni4mm, reference).
        #[arg(long, default_value = "tiny")]
        preset: Preset,
        /// cpu (Flex), gpu (wgpu), or auto (a hardware GPU when there is one).
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Clips per step.
        #[arg(long, default_value_t = 2)]
        batch: usize,
        /// Timed iterations.
        #[arg(long, default_value_t = 3)]
        iters: usize,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// The real training step of `roimae pretrain` (forward, loss, backward,
    /// AdamW): median seconds per step, phase times, peak memory.
    Train {
        /// Model preset (tiny, mni4mm, reference).
        #[arg(long, default_value = "tiny")]
        preset: Preset,
        /// cpu (Flex), wgpu (alias gpu), or auto (a hardware GPU when there is one).
        #[arg(long, default_value = "auto")]
        device: String,
        /// Clips per step.
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Timed steps after one warm-up step.
        #[arg(long, default_value_t = 3)]
        steps: usize,
        /// Also replay every op alone and print a per-op breakdown of one step.
        #[arg(long)]
        profile: bool,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Viewer frame times off screen on the wgpu adapter (template hover,
    /// 96³×200 run hover and volume scrubbing).
    Viewer {
        /// Timed frames per scenario.
        #[arg(long, default_value_t = 100)]
        frames: usize,
        /// Window size in points, `WxH`.
        #[arg(long, default_value = "1500x950")]
        size: String,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `roimae bench`.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    match &args.what {
        BenchWhat::Scan {
            device,
            scan,
            windows,
            len,
            d_inner,
            iters,
            json,
        } => {
            let backend = device.parse::<DeviceChoice>()?;
            let shape = ScanShape {
                windows: *windows,
                len: *len,
                d_inner: *d_inner,
                d_state: 16,
            };
            for name in scan.split(',') {
                let which = ScanImpl::parse(name.trim())?;
                for backward in [false, true] {
                    report(&bench_scan(which, backend, shape, backward, *iters)?, *json)?;
                }
            }
        }
        BenchWhat::Mae {
            preset,
            device,
            batch,
            iters,
            json,
        } => {
            let cfg = preset.model();
            let backend = device.parse::<DeviceChoice>()?;
            report(
                &bench_mae(&cfg, backend, *batch, ScanImpl::default(), *iters)?,
                *json,
            )?;
        }
        BenchWhat::Train {
            preset,
            device,
            batch,
            steps,
            profile,
            json,
        } => {
            let spec = TrainBenchSpec {
                model: preset.model(),
                device: device.parse::<DeviceChoice>()?,
                batch: *batch,
                steps: *steps,
                profile: *profile,
            };
            let result = bench_train(&spec)?;
            if *json {
                println!("{}", serde_json::to_string(&result)?);
            } else {
                print_train(&result);
            }
        }
        BenchWhat::Viewer { frames, size, json } => {
            let size = super::render::parse_size(size)?;
            for t in crate::gui::bench::bench_viewer((*frames).max(1), size)? {
                if *json {
                    println!("{}", serde_json::to_string(&t)?);
                } else {
                    println!(
                        "{:<48} {:>7.2} ms mean {:>7.2} ms p95 {:>7.2} ms max, egui pass {:>6.2} ms ({} frames, {})",
                        t.scenario,
                        t.mean_ms,
                        t.p95_ms,
                        t.max_ms,
                        t.ui_mean_ms,
                        t.frames,
                        t.adapter
                    );
                }
            }
        }
    }
    Ok(())
}

fn report(m: &Measurement, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(m)?);
    } else {
        println!(
            "{:<48} {:<12} {:>10.4} s/iter {:>14.2} {}",
            m.what, m.device, m.seconds_per_iter, m.per_second, m.unit
        );
    }
    Ok(())
}

fn print_train(r: &TrainBench) {
    println!(
        "train step {} on {}, batch {}, scan {}, {} params: {:.3} s median (min {:.3}) over {} steps, {:.3} clips/s",
        r.preset,
        r.device,
        r.batch,
        r.scan,
        r.params,
        r.step_s_median,
        r.step_s_min,
        r.steps,
        r.clips_per_s
    );
    println!(
        "  forward {:.3} s, backward {:.3} s, optimizer {:.3} s; peak RSS {}; loss {:.4}",
        r.forward_s,
        r.backward_s,
        r.optimizer_s,
        r.peak_rss_mb
            .map_or("unknown".into(), |m| format!("{m:.0} MiB")),
        r.last_loss
    );
    match (r.dispatches_per_step, &r.dispatches_note) {
        (Some(n), _) => {
            let split = r.dispatches_by_phase.map_or(String::new(), |p| {
                format!(
                    " (forward {}, backward {}, optimizer {})",
                    p.forward, p.backward, p.optimizer
                )
            });
            println!("  {n} kernel dispatches per step{split}; most launched:");
            for (kernel, count) in &r.top_kernels {
                println!("    {count:>6}  {kernel}");
            }
        }
        (None, Some(note)) => println!("  dispatches: {note}"),
        (None, None) => {}
    }
    let Some(ops) = &r.profile else { return };
    let sum: f64 = ops.iter().map(|o| o.forward_s + o.backward_s).sum();
    println!("\nper-op breakdown (each op replayed alone at its shape, x calls per step):");
    println!(
        "{:<12} {:>10} {:>10} {:>10} {:>7}",
        "category", "forward s", "backward s", "total s", "share"
    );
    for t in totals(ops) {
        let total = t.forward_s + t.backward_s;
        println!(
            "{:<12} {:>10.3} {:>10.3} {:>10.3} {:>6.1}%",
            t.category,
            t.forward_s,
            t.backward_s,
            total,
            100.0 * total / sum.max(1e-12)
        );
    }
    println!(
        "{:<12} {:>10} {:>10} {:>10.3}  (replayed sum; the real step took {:.3} s)",
        "all", "", "", sum, r.step_s_median
    );
    let mut sorted: Vec<_> = ops.iter().collect();
    sorted.sort_by(|a, b| (b.forward_s + b.backward_s).total_cmp(&(a.forward_s + a.backward_s)));
    println!("\nops, slowest first:");
    for o in sorted {
        println!(
            "  {:<12} {:<56} x{:<3} fwd {:>8.4} s  bwd {:>8.4} s",
            o.category, o.op, o.calls, o.forward_s, o.backward_s
        );
    }
}
