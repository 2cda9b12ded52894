//! Writing a roimae [`Mae`] in NeuroSTORM's checkpoint layout: a Lightning
//! style `{'state_dict': OrderedDict('model.<key>' → tensor), 'epoch',
//! 'hparams_name', 'hyper_parameters', 'optimizer_states', 'lr_schedulers'}`
//! (as NeuroSTORM saves, what its `main.py` loads), or a `.safetensors` file
//! with the bare NeuroSTORM keys.

use super::error::InteropError;
use super::names::visit_params;
use super::torch_write::{PyValue, TensorBytes, write_torch_file};
use crate::model::{Mae, ModelConfig};
use std::path::Path;

/// The output format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// NeuroSTORM's Lightning `.ckpt` (PyTorch zip-pickle).
    Neurostorm,
    /// `.safetensors`.
    Safetensors,
}

/// Extra facts recorded in the file.
#[derive(Debug, Clone, Default)]
pub struct ExportInfo {
    /// NeuroSTORM's masking arguments of the run: `(mask_ratio,
    /// spatial_mask, time_mask)`.
    pub masking: Option<(f64, String, String)>,
    /// Epoch of the checkpoint.
    pub epoch: usize,
    /// Where the weights came from (a run folder and step).
    pub source: String,
}

/// All parameters as `(NeuroSTORM key, PyTorch shape, values)`, in order.
pub fn neurostorm_tensors(mae: &Mae) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut model = mae.clone();
    let mut out = Vec::new();
    visit_params(&mut model, &mut |key, layout, p| {
        let ours = p.dims();
        let values = layout.to_torch(&p.values(), &ours);
        out.push((key.to_string(), layout.torch_shape(&ours), values));
    });
    out
}

/// NeuroSTORM's `hyper_parameters` for `cfg` (the model arguments its
/// `NeuroSTORMMAE` is built from).
fn hyper_parameters(cfg: &ModelConfig, info: &ExportInfo) -> PyValue {
    let ints = |v: &[usize]| PyValue::List(v.iter().map(|&x| PyValue::Int(x as i64)).collect());
    let (ratio, spatial, time) =
        info.masking
            .clone()
            .unwrap_or((0.5, "window".into(), "random".into()));
    PyValue::Dict(vec![
        (
            "img_size".into(),
            ints(&[cfg.input, cfg.input, cfg.input, cfg.frames]),
        ),
        ("in_chans".into(), PyValue::Int(1)),
        ("embed_dim".into(), PyValue::Int(cfg.embed_dim as i64)),
        ("window_size".into(), ints(&cfg.window)),
        ("first_window_size".into(), ints(&cfg.window)),
        (
            "patch_size".into(),
            ints(&[cfg.patch, cfg.patch, cfg.patch, 1]),
        ),
        ("depths".into(), ints(&cfg.depths)),
        ("num_heads".into(), ints(&[3, 6, 12, 24])),
        ("c_multiplier".into(), PyValue::Int(2)),
        ("last_layer_full_MSA".into(), PyValue::Bool(true)),
        ("attn_drop_rate".into(), PyValue::Float(0.0)),
        ("mask_ratio".into(), PyValue::Float(ratio)),
        ("spatial_mask".into(), PyValue::Str(spatial)),
        ("time_mask".into(), PyValue::Str(time)),
        ("model".into(), PyValue::Str("neurostorm".into())),
        ("pretraining".into(), PyValue::Bool(true)),
        ("use_mae".into(), PyValue::Bool(true)),
    ])
}

/// Writes `mae` to `path` in `format`.
pub fn export(
    mae: &Mae,
    path: &Path,
    format: ExportFormat,
    info: &ExportInfo,
) -> Result<usize, InteropError> {
    let tensors = neurostorm_tensors(mae);
    match format {
        ExportFormat::Neurostorm => {
            let bytes: Vec<TensorBytes<'_>> = tensors
                .iter()
                .map(|(_, shape, data)| TensorBytes { shape, data })
                .collect();
            let state_dict = tensors
                .iter()
                .enumerate()
                .map(|(i, (key, _, _))| (format!("model.{key}"), PyValue::Tensor(i)))
                .collect();
            let root = PyValue::Dict(vec![
                ("epoch".into(), PyValue::Int(info.epoch as i64)),
                ("state_dict".into(), PyValue::OrderedDict(state_dict)),
                ("hparams_name".into(), PyValue::Str("kwargs".into())),
                (
                    "hyper_parameters".into(),
                    hyper_parameters(mae.config(), info),
                ),
                ("optimizer_states".into(), PyValue::List(vec![])),
                ("lr_schedulers".into(), PyValue::List(vec![])),
                (
                    "roimae".into(),
                    PyValue::Dict(vec![
                        (
                            "version".into(),
                            PyValue::Str(env!("CARGO_PKG_VERSION").into()),
                        ),
                        ("source".into(), PyValue::Str(info.source.clone())),
                    ]),
                ),
            ]);
            write_torch_file(path, &root, &bytes)?;
        }
        ExportFormat::Safetensors => {
            use safetensors::tensor::TensorView;
            let fail = |e: String| InteropError::Write {
                path: path.to_path_buf(),
                reason: e,
            };
            let raw: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
                .iter()
                .map(|(k, s, d)| {
                    (
                        k.clone(),
                        s.clone(),
                        d.iter().flat_map(|v| v.to_le_bytes()).collect(),
                    )
                })
                .collect();
            let views: Vec<(String, TensorView<'_>)> = raw
                .iter()
                .map(|(k, s, b)| {
                    TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                        .map(|v| (k.clone(), v))
                        .map_err(|e| fail(e.to_string()))
                })
                .collect::<Result<_, _>>()?;
            let mut meta = std::collections::HashMap::new();
            meta.insert("format".to_string(), "neurostorm-mae".to_string());
            meta.insert("source".to_string(), info.source.clone());
            let bytes = safetensors::tensor::serialize(views, Some(meta))
                .map_err(|e| fail(e.to_string()))?;
            crate::fsutil::write_atomically(path, &[bytes.as_slice()])
                .map_err(|e| fail(e.to_string()))?;
        }
    }
    Ok(tensors.len())
}
