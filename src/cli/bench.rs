//! `roimae bench scan|mae|viewer`: throughput of the selective scan and of
//! MAE training steps on the CPU (Flex) or the GPU (wgpu), and viewer frame
//! times.

use crate::model::bench::{Measurement, ScanShape, bench_mae, bench_scan};
use crate::model::{Backend, ModelConfig, ScanImpl};

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
        /// cpu (Flex) or gpu (wgpu).
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Implementations to run: sequential, chunked, fused (comma-separated).
        #[arg(long, default_value = "sequential,chunked,fused")]
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
        preset: String,
        /// cpu (Flex) or gpu (wgpu).
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
            let backend = Backend::parse(device).map_err(anyhow::Error::msg)?;
            let shape = ScanShape {
                windows: *windows,
                len: *len,
                d_inner: *d_inner,
                d_state: 16,
            };
            for name in scan.split(',') {
                let which = ScanImpl::parse(name.trim()).map_err(anyhow::Error::msg)?;
                for backward in [false, true] {
                    report(
                        &bench_scan(which, backend, shape, backward, *iters)
                            .map_err(anyhow::Error::msg)?,
                        *json,
                    )?;
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
            let cfg = ModelConfig::preset(preset).map_err(anyhow::Error::msg)?;
            let backend = Backend::parse(device).map_err(anyhow::Error::msg)?;
            report(
                &bench_mae(&cfg, backend, *batch, ScanImpl::default(), *iters)
                    .map_err(anyhow::Error::msg)?,
                *json,
            )?;
        }
        BenchWhat::Viewer { frames, size, json } => {
            let size = super::render::parse_size(size).map_err(anyhow::Error::msg)?;
            for t in crate::gui::bench::bench_viewer((*frames).max(1), size)
                .map_err(anyhow::Error::msg)?
            {
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
