//! The one table between NeuroSTORM's state-dict keys and roimae's
//! parameters: every parameter of [`Mae`] is visited once, in NeuroSTORM's
//! own key order, with its key and how its layout differs. Import, export,
//! the expected-shape table and the config checks are all built on it, so
//! there is no name matching anywhere else.

use crate::model::Mae;
use crate::model::block::SwmBlock;
use crate::model::patch::{PatchExpanding, PatchMerging};
use burn::module::Param;
use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;

/// How a NeuroSTORM tensor's layout relates to the roimae parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Same shape and order.
    Same,
    /// `nn.Linear.weight` `[out, in]` ↔ burn `Linear.weight` `[in, out]`.
    Transposed,
    /// PyTorch has a leading extent 1 (`pos_embed (1, C, X, Y, Z, 1)`).
    LeadingOne,
}

impl Layout {
    /// The PyTorch shape of a roimae parameter of shape `ours`.
    pub fn torch_shape(self, ours: &[usize]) -> Vec<usize> {
        match self {
            Layout::Same => ours.to_vec(),
            Layout::Transposed => ours.iter().rev().copied().collect(),
            Layout::LeadingOne => std::iter::once(1).chain(ours.iter().copied()).collect(),
        }
    }

    /// Row-major values in PyTorch's layout → roimae's (`ours` = our shape).
    pub fn to_ours(self, torch: &[f32], ours: &[usize]) -> Vec<f32> {
        match self {
            Layout::Transposed => transpose(torch, ours[1], ours[0]),
            _ => torch.to_vec(),
        }
    }

    /// Row-major values in roimae's layout → PyTorch's.
    pub fn to_torch(self, values: &[f32], ours: &[usize]) -> Vec<f32> {
        match self {
            Layout::Transposed => transpose(values, ours[0], ours[1]),
            _ => values.to_vec(),
        }
    }
}

/// `[rows, cols]` row-major → `[cols, rows]` row-major.
fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; v.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = v[r * cols + c];
        }
    }
    out
}

/// A mutable roimae parameter of any rank the model uses.
pub enum ParamMut<'a> {
    /// Vectors (biases, norms, D, single mask tokens).
    R1(&'a mut Param<Tensor<1>>),
    /// Matrices (linear weights, A_log, the window mask table).
    R2(&'a mut Param<Tensor<2>>),
    /// The depthwise conv weight `[2D, 1, k]`.
    R3(&'a mut Param<Tensor<3>>),
    /// Positional and temporal embeddings `[C, X, Y, Z, T]`.
    R5(&'a mut Param<Tensor<5>>),
}

impl ParamMut<'_> {
    /// The parameter's shape in roimae.
    pub fn dims(&self) -> Vec<usize> {
        match self {
            ParamMut::R1(p) => p.val().dims().to_vec(),
            ParamMut::R2(p) => p.val().dims().to_vec(),
            ParamMut::R3(p) => p.val().dims().to_vec(),
            ParamMut::R5(p) => p.val().dims().to_vec(),
        }
    }

    /// Its values, row-major, as f32.
    pub fn values(&self) -> Vec<f32> {
        fn get<const D: usize>(p: &Param<Tensor<D>>) -> Vec<f32> {
            p.val()
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .expect("f32 after convert")
        }
        match self {
            ParamMut::R1(p) => get(p),
            ParamMut::R2(p) => get(p),
            ParamMut::R3(p) => get(p),
            ParamMut::R5(p) => get(p),
        }
    }

    /// Replaces the values (row-major, roimae's shape), keeping the
    /// parameter's id, device and trainability.
    pub fn set(&mut self, values: Vec<f32>) {
        fn put<const D: usize>(p: &mut Param<Tensor<D>>, values: Vec<f32>) {
            let old = p.clone();
            *p = old.map(|t| {
                let dims = t.dims();
                let data = TensorData::new(values, dims).convert_dtype(t.dtype());
                // A fresh tensor is untracked: keep the parameter trainable
                // on autodiff devices.
                let grad = t.is_require_grad() || t.device().is_autodiff();
                Tensor::from_data(data, &t.device()).set_require_grad(grad)
            });
        }
        match self {
            ParamMut::R1(p) => put(p, values),
            ParamMut::R2(p) => put(p, values),
            ParamMut::R3(p) => put(p, values),
            ParamMut::R5(p) => put(p, values),
        }
    }
}

/// The callback of [`visit_params`]: NeuroSTORM key, layout, parameter.
pub type Visit<'v> = dyn FnMut(&str, Layout, ParamMut<'_>) + 'v;

/// Visits every parameter of `mae` in NeuroSTORM's state-dict order.
pub fn visit_params(mae: &mut Mae, f: &mut Visit<'_>) {
    f(
        "mask_token",
        Layout::Same,
        ParamMut::R1(&mut mae.single_mask_token),
    );
    f(
        "window_mask_token",
        Layout::Same,
        ParamMut::R2(&mut mae.mask_token),
    );
    f(
        "atlas_mask_token",
        Layout::Same,
        ParamMut::R1(&mut mae.atlas_mask_token),
    );
    let enc = &mut mae.encoder;
    linear(f, "patch_embed.fc", &mut enc.patch_embed.proj);
    for (i, (pos, time)) in enc
        .pos_embeds
        .iter_mut()
        .zip(enc.time_embeds.iter_mut())
        .enumerate()
    {
        f(
            &format!("pos_embeds.{i}.pos_embed"),
            Layout::LeadingOne,
            ParamMut::R5(pos),
        );
        f(
            &format!("pos_embeds.{i}.time_embed"),
            Layout::LeadingOne,
            ParamMut::R5(time),
        );
    }
    for (i, stage) in enc.stages.iter_mut().enumerate() {
        for (j, block) in stage.blocks.iter_mut().enumerate() {
            swm_block(f, &format!("layers.{i}.blocks.{j}"), block);
        }
        if let Some(merge) = enc.merges.get_mut(i) {
            merging(f, &format!("layers.{i}.downsample"), merge);
        }
    }
    let dec = &mut mae.decoder;
    expanding(f, "first_patch_expanding", &mut dec.expand_in);
    for (k, stage) in dec.stages.iter_mut().enumerate() {
        for (j, block) in stage.blocks.iter_mut().enumerate() {
            swm_block(f, &format!("layers_up.{k}.blocks.{j}"), block);
        }
        if let Some(expand) = dec.expands.get_mut(k) {
            expanding(f, &format!("layers_up.{k}.upsample"), expand);
        }
    }
    layer_norm(f, "norm_up", &mut dec.norm);
    linear(f, "decoder_pred", &mut dec.pred);
}

fn linear(f: &mut Visit<'_>, key: &str, l: &mut Linear) {
    f(
        &format!("{key}.weight"),
        Layout::Transposed,
        ParamMut::R2(&mut l.weight),
    );
    if let Some(b) = l.bias.as_mut() {
        f(&format!("{key}.bias"), Layout::Same, ParamMut::R1(b));
    }
}

fn layer_norm(f: &mut Visit<'_>, key: &str, n: &mut LayerNorm) {
    f(
        &format!("{key}.weight"),
        Layout::Same,
        ParamMut::R1(&mut n.gamma),
    );
    if let Some(b) = n.beta.as_mut() {
        f(&format!("{key}.bias"), Layout::Same, ParamMut::R1(b));
    }
}

fn merging(f: &mut Visit<'_>, key: &str, m: &mut PatchMerging) {
    linear(f, &format!("{key}.reduction"), &mut m.reduction);
    layer_norm(f, &format!("{key}.norm"), &mut m.norm);
}

fn expanding(f: &mut Visit<'_>, key: &str, e: &mut PatchExpanding) {
    linear(f, &format!("{key}.expand"), &mut e.expand);
    layer_norm(f, &format!("{key}.norm"), &mut e.norm);
}

fn swm_block(f: &mut Visit<'_>, key: &str, b: &mut SwmBlock) {
    layer_norm(f, &format!("{key}.norm1"), &mut b.norm1);
    let m = &mut b.mamba;
    f(
        &format!("{key}.mamba.A_log"),
        Layout::Same,
        ParamMut::R2(&mut m.a_log),
    );
    f(
        &format!("{key}.mamba.D"),
        Layout::Same,
        ParamMut::R1(&mut m.d_skip),
    );
    linear(f, &format!("{key}.mamba.in_proj"), &mut m.in_proj);
    f(
        &format!("{key}.mamba.conv1d.weight"),
        Layout::Same,
        ParamMut::R3(&mut m.conv1d.weight),
    );
    if let Some(bias) = m.conv1d.bias.as_mut() {
        f(
            &format!("{key}.mamba.conv1d.bias"),
            Layout::Same,
            ParamMut::R1(bias),
        );
    }
    linear(f, &format!("{key}.mamba.x_proj"), &mut m.x_proj);
    linear(f, &format!("{key}.mamba.dt_proj"), &mut m.dt_proj);
    linear(f, &format!("{key}.mamba.out_proj"), &mut m.out_proj);
    layer_norm(f, &format!("{key}.norm2"), &mut b.norm2);
    linear(f, &format!("{key}.mlp.linear1"), &mut b.mlp.fc1);
    linear(f, &format!("{key}.mlp.linear2"), &mut b.mlp.fc2);
}

/// Whether a NeuroSTORM key belongs to the encoder (what the fine-tuning
/// class `NeuroSTORM` loads).
pub fn is_encoder_key(key: &str) -> bool {
    key.starts_with("patch_embed.") || key.starts_with("pos_embeds.") || key.starts_with("layers.")
}

/// `(key, PyTorch shape)` of every parameter of `mae`, in NeuroSTORM's order.
pub fn expected_shapes(mae: &Mae) -> Vec<(String, Vec<usize>)> {
    let mut model = mae.clone();
    let mut out = Vec::new();
    visit_params(&mut model, &mut |key, layout, p| {
        out.push((key.to_string(), layout.torch_shape(&p.dims())));
    });
    out
}
