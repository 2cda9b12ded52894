//! A per-op breakdown of one MAE training step (`roimae bench train
//! --profile`): every op of the model — linear layers, the causal conv1d,
//! the selective scan, LayerNorms, elementwise activations and gates,
//! layout copies (window merges, shifted-window gathers, patch gathers) — is
//! replayed alone at the exact shapes it sees in the step, forward and
//! forward + backward, and its time is multiplied by how often the step
//! runs it. Backward time of an op is (forward + backward) − forward.
//!
//! Replaying ops one at a time is an approximation (it loses the cache
//! state between neighbours and the allocator's reuse), so the report
//! also gives the real step's time; the difference is shown as "unattributed".

use super::block::SwmBlock;
use super::config::{ModelConfig, StageGeometry};
use super::encoder::block_params;
use super::error::ModelError;
use super::fused::gelu::gelu;
use super::fused::norm::{layer_norm, layer_norm_into_windows};
use super::init;
use super::layout::{gather_2x2x2, merge, merge_shifted, patchify, scatter_2x2x2};
use super::patch::{PatchEmbed, PatchExpanding, PatchMerging};
use super::scan::{MambaScanInput, ScanImpl, mamba_scan};
use burn::nn::{LayerNormConfig, LinearConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::Serialize;
use std::time::Instant;

/// The op families of the breakdown.
pub const CATEGORIES: [&str; 7] = [
    "scan",
    "linear",
    "conv1d",
    "norm",
    "elementwise",
    "layout",
    "loss",
];

/// One op at one place in the model.
#[derive(Debug, Clone, Serialize)]
pub struct OpTiming {
    /// One of [`CATEGORIES`].
    pub category: &'static str,
    /// What and where, e.g. `enc0 in_proj [20480x36 -> 144]`.
    pub op: String,
    /// How many times one step runs it.
    pub calls: usize,
    /// Forward seconds per step (all calls).
    pub forward_s: f64,
    /// Backward seconds per step (all calls).
    pub backward_s: f64,
}

/// Seconds per category, summed over its ops.
#[derive(Debug, Clone, Serialize)]
pub struct CategoryTotal {
    /// The category.
    pub category: &'static str,
    /// Forward seconds per step.
    pub forward_s: f64,
    /// Backward seconds per step.
    pub backward_s: f64,
}

/// Sums `ops` per category, in [`CATEGORIES`] order.
pub fn totals(ops: &[OpTiming]) -> Vec<CategoryTotal> {
    CATEGORIES
        .iter()
        .map(|&category| {
            let of = ops.iter().filter(|o| o.category == category);
            CategoryTotal {
                category,
                forward_s: of.clone().map(|o| o.forward_s).sum(),
                backward_s: of.map(|o| o.backward_s).sum(),
            }
        })
        .collect()
}

struct Profiler<'a> {
    device: &'a Device,
    batch: usize,
    reps: usize,
    ops: Vec<OpTiming>,
}

fn wait<const D: usize>(t: Tensor<D>) -> Result<(), ModelError> {
    super::device::wait_for(t, "while profiling")
}

impl Profiler<'_> {
    fn random<const D: usize>(&self, shape: [usize; D]) -> Tensor<D> {
        Tensor::random(shape, Distribution::Normal(0.0, 1.0), self.device)
    }

    /// Times `f` on a fresh differentiable copy of `input`, forward alone
    /// and forward + backward (one untimed warm-up of each).
    fn op<const D: usize, const E: usize>(
        &mut self,
        category: &'static str,
        op: String,
        calls: usize,
        input: &Tensor<D>,
        f: impl Fn(Tensor<D>) -> Tensor<E>,
    ) -> Result<(), ModelError> {
        let forward = || -> Result<f64, ModelError> {
            let x = input.clone().detach().require_grad();
            let t0 = Instant::now();
            wait(f(x))?;
            Ok(t0.elapsed().as_secs_f64())
        };
        let both = || -> Result<f64, ModelError> {
            let x = input.clone().detach().require_grad();
            let t0 = Instant::now();
            let grads = f(x.clone()).sum().backward();
            let g = x
                .grad(&grads)
                .ok_or_else(|| ModelError::NoGradient { op: op.clone() })?;
            wait(g)?;
            Ok(t0.elapsed().as_secs_f64())
        };
        forward()?;
        both()?;
        let (mut fwd, mut all) = (0.0, 0.0);
        for _ in 0..self.reps {
            fwd += forward()?;
            all += both()?;
        }
        let per = calls as f64 / self.reps as f64;
        self.ops.push(OpTiming {
            category,
            op,
            calls,
            forward_s: fwd * per,
            backward_s: (all - fwd).max(0.0) * per,
        });
        Ok(())
    }

    /// All ops of the blocks of one stage (`tag` e.g. `enc0`).
    fn stage(&mut self, tag: &str, g: &StageGeometry, cfg: &ModelConfig) -> Result<(), ModelError> {
        let [gx, gy, gz, gt] = g.grid;
        let (c, depth) = (g.dim, g.depth);
        let shifted = depth / 2;
        let mut rng = init::rng(0);
        let block = SwmBlock::new(g, 1, block_params(cfg), &mut rng, self.device);
        let m = &block.mamba;
        let (di, n, dt_rank) = m.dims();
        let (w, l) = (g.n_windows() * self.batch, g.window_len());
        let grid = self.random([self.batch, gx, gy, gz, gt, c]);
        let rows = format!("{}x{c}", w * l);

        let window = g.window;
        let shift = g.shift;
        let dims5 = [self.batch, gx, gy, gz, gt];
        let plain = depth - shifted;
        let eps = cfg.norm_eps;
        self.op("norm", format!("{tag} norm2 [{rows}]"), depth, &grid, |x| {
            layer_norm(&block.norm2, eps, x)
        })?;
        // norm1 writes the windows itself (no partition copy).
        self.op(
            "norm",
            format!("{tag} norm1 into windows [{rows}]"),
            plain,
            &grid,
            |x| layer_norm_into_windows(&block.norm1, eps, x, window, [0; 4]),
        )?;
        let windows = self.random([w, l, c]);
        self.op(
            "layout",
            format!("{tag} window merge"),
            plain,
            &windows,
            |x| merge(x, window, dims5),
        )?;
        if shifted > 0 {
            self.op(
                "norm",
                format!("{tag} norm1 into shifted windows [{rows}]"),
                shifted,
                &grid,
                |x| layer_norm_into_windows(&block.norm1, eps, x, window, shift),
            )?;
            self.op(
                "layout",
                format!("{tag} shifted window merge (gather)"),
                shifted,
                &windows,
                |x| merge_shifted(x, window, shift, dims5),
            )?;
        }
        let seqs = self.random([w, l, c]);
        self.op(
            "linear",
            format!("{tag} in_proj [{rows} -> {}]", 4 * c),
            depth,
            &seqs,
            |x| m.in_proj.forward(x),
        )?;
        let xz = self.random([w, l, 2 * di]);
        self.op(
            "conv1d",
            format!(
                "{tag} causal conv1d k={} + SiLU [{}x{di}]",
                cfg.d_conv,
                w * l
            ),
            depth,
            &xz,
            |x| m.conv_silu(x),
        )?;
        let u = self.random([w, l, di]);
        self.op(
            "linear",
            format!("{tag} x_proj [{} -> {}]", di, dt_rank + 2 * n),
            depth,
            &u,
            |x| m.x_proj.forward(x),
        )?;
        // dt_proj → softplus(Δ) → scan → SiLU(z) gate, as the layer runs it
        // (one op with the fused scan).
        let (x_dbl, xz) = (
            self.random([w, l, dt_rank + 2 * n]),
            self.random([w, l, 2 * di]),
        );
        self.op(
            "scan",
            format!("{tag} dt_proj + selective scan + softplus + gate [{w}x{l}x{di}x{n}]"),
            depth,
            &u,
            |x| {
                mamba_scan(
                    MambaScanInput {
                        u: x,
                        // Fresh graph nodes each call: a backward consumes its tape.
                        x_dbl: x_dbl.clone().require_grad(),
                        dt_weight: m.dt_proj.weight.val(),
                        dt_bias: m.dt_bias(),
                        a_log: m.a_log.val(),
                        d: m.d_skip.val(),
                        xz: xz.clone().require_grad(),
                    },
                    ScanImpl::Auto,
                )
            },
        )?;
        self.op(
            "linear",
            format!("{tag} out_proj [{di} -> {c}]"),
            depth,
            &u,
            |x| m.out_proj.forward(x),
        )?;
        self.op(
            "elementwise",
            format!("{tag} residual adds"),
            2 * depth,
            &grid,
            |x| x.clone() + x,
        )?;
        self.op(
            "linear",
            format!("{tag} mlp fc1+fc2 [{c} -> {} -> {c}]", cfg.mlp_ratio * c),
            depth,
            &grid,
            |x| block.mlp.fc2.forward(block.mlp.fc1.forward(x)),
        )?;
        let hidden = self.random([self.batch, gx, gy, gz, gt, cfg.mlp_ratio * c]);
        self.op(
            "elementwise",
            format!("{tag} GELU [{}]", cfg.mlp_ratio * c),
            depth,
            &hidden,
            gelu,
        )?;
        Ok(())
    }
}

/// Profiles one training step of `cfg` at `batch` on `device` (an autodiff
/// device), replaying each op `reps` times.
pub fn profile_step(
    cfg: &ModelConfig,
    device: &Device,
    batch: usize,
    reps: usize,
) -> Result<Vec<OpTiming>, ModelError> {
    let mut p = Profiler {
        device,
        batch: batch.max(1),
        reps: reps.max(1),
        ops: Vec::new(),
    };
    let b = batch.max(1);
    let (s, t, pch) = (cfg.input, cfg.frames, cfg.patch);
    let g = cfg.tokens_per_axis();
    let c0 = cfg.embed_dim;

    // Stem: patchify + patch embedding.
    let clip = p.random([b, 1, s, s, s, t]);
    p.op("layout", "stem patchify".into(), 1, &clip, |x| {
        patchify(x, pch)
    })?;
    let patches = p.random([b, g, g, g, t, pch * pch * pch]);
    let embed = PatchEmbed::new(pch, c0, device);
    p.op(
        "linear",
        format!("stem patch embed [{} -> {c0}]", pch.pow(3)),
        1,
        &patches,
        |x| embed.proj.forward(x),
    )?;

    let enc = cfg.encoder_stages();
    for (i, st) in enc.iter().enumerate() {
        let [gx, gy, gz, gt] = st.grid;
        let grid = p.random([b, gx, gy, gz, gt, st.dim]);
        p.op(
            "elementwise",
            format!("enc{i} + pos/time embed"),
            2,
            &grid,
            |x| x.clone() + x,
        )?;
        p.stage(&format!("enc{i}"), st, cfg)?;
        if i + 1 < enc.len() {
            let merging = PatchMerging::new(st.dim, cfg.norm_eps, device);
            p.op(
                "layout",
                format!("enc{i} patch-merge gather"),
                1,
                &grid,
                gather_2x2x2,
            )?;
            let gathered = p.random([b, gx / 2, gy / 2, gz / 2, gt, 8 * st.dim]);
            p.op(
                "norm",
                format!("enc{i} patch-merge norm [{}]", 8 * st.dim),
                1,
                &gathered,
                |x| layer_norm(&merging.norm, cfg.norm_eps, x),
            )?;
            p.op(
                "linear",
                format!(
                    "enc{i} patch-merge reduction [{} -> {}]",
                    8 * st.dim,
                    2 * st.dim
                ),
                1,
                &gathered,
                |x| merging.reduction.forward(x),
            )?;
        }
    }

    // Decoder: expand from the bottleneck, then up-stages with expands.
    let dec = cfg.decoder_stages();
    let last = enc.last().expect("at least one stage");
    let mut expand_at = vec![(last.grid, last.dim, "dec expand_in".to_string())];
    for (i, st) in dec.iter().enumerate() {
        if i + 1 < dec.len() {
            expand_at.push((st.grid, st.dim, format!("dec{i} expand")));
        }
    }
    for (grid4, dim, tag) in &expand_at {
        let [gx, gy, gz, gt] = *grid4;
        let expand = PatchExpanding::new(*dim, cfg.norm_eps, device);
        let x = p.random([b, gx, gy, gz, gt, *dim]);
        p.op(
            "linear",
            format!("{tag} linear [{dim} -> {}]", 4 * dim),
            1,
            &x,
            |x| expand.expand.forward(x),
        )?;
        let wide = p.random([b, gx, gy, gz, gt, 4 * dim]);
        p.op("layout", format!("{tag} scatter"), 1, &wide, scatter_2x2x2)?;
        let up = p.random([b, 2 * gx, 2 * gy, 2 * gz, gt, dim / 2]);
        p.op("norm", format!("{tag} norm [{}]", dim / 2), 1, &up, |x| {
            layer_norm(&expand.norm, cfg.norm_eps, x)
        })?;
    }
    for (i, st) in dec.iter().enumerate() {
        p.stage(&format!("dec{i}"), st, cfg)?;
    }

    // Head and loss.
    let tokens = p.random([b, g, g, g, t, c0]);
    let norm = LayerNormConfig::new(c0)
        .with_epsilon(cfg.norm_eps)
        .init(device);
    let pred = LinearConfig::new(c0, pch.pow(3)).init(device);
    p.op("norm", "head norm".into(), 1, &tokens, |x| {
        layer_norm(&norm, cfg.norm_eps, x)
    })?;
    p.op(
        "linear",
        format!("head pred [{c0} -> {}]", pch.pow(3)),
        1,
        &tokens,
        |x| pred.forward(x),
    )?;
    let target = p.random([b, 1, s, s, s, t]);
    let weight = Tensor::<6>::ones([b, 1, s, s, s, t], device);
    p.op(
        "loss",
        "masked MSE (unpatchify + weighted mean)".into(),
        1,
        &patches,
        |x| {
            let recon = super::layout::unpatchify(x, pch);
            let diff = recon - target.clone();
            (diff.clone() * diff * weight.clone()).sum()
        },
    )?;
    Ok(p.ops)
}
