//! Reading checkpoint files into host tensors by name: PyTorch files
//! (`.ckpt`/`.pt`/`.pth`, zip-pickle and legacy, through burn-store's
//! `pytorch-reader`) and `.safetensors` (the `safetensors` crate). Lightning
//! checkpoints keep the weights under `state_dict`, each prefixed `model.`;
//! both are stripped here, as NeuroSTORM's `main.py` does.

use super::error::InteropError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One floating-point tensor on the host, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Extents, outermost first (PyTorch's order).
    pub shape: Vec<usize>,
    /// Values as f32 (f16/bf16/f64 files are converted).
    pub data: Vec<f32>,
}

/// What a checkpoint file held.
#[derive(Debug, Clone, Default)]
pub struct CheckpointFile {
    /// The file.
    pub path: PathBuf,
    /// `PyTorch` or `safetensors`.
    pub format: &'static str,
    /// Model weights by NeuroSTORM key (prefixes stripped).
    pub weights: BTreeMap<String, HostTensor>,
    /// Integer or boolean model tensors (e.g. the `atlas_map` buffer), by
    /// key, with their type: never weights.
    pub non_float: BTreeMap<String, String>,
    /// Tensors outside the state dict (optimiser moments and the like).
    pub outside_state_dict: Vec<String>,
    /// Notes on conversions made (e.g. f16 → f32).
    pub notes: Vec<String>,
}

/// Reads a checkpoint by its extension: `.safetensors`, else PyTorch.
pub fn read_checkpoint(path: &Path) -> Result<CheckpointFile, InteropError> {
    let is_safetensors = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"));
    if !path.is_file() {
        return Err(InteropError::Unreadable {
            path: path.to_path_buf(),
            format: if is_safetensors {
                "safetensors"
            } else {
                "PyTorch"
            },
            reason: "no such file".into(),
        });
    }
    if is_safetensors {
        read_safetensors(path)
    } else {
        read_pytorch(path)
    }
}

/// The model key of a tensor name: `state_dict.` and `model.` stripped;
/// `None` for tensors outside a present `state_dict`.
fn model_key(name: &str, has_state_dict: bool) -> Option<String> {
    let rest = if has_state_dict {
        name.strip_prefix("state_dict.")?
    } else {
        name
    };
    Some(rest.strip_prefix("model.").unwrap_or(rest).to_string())
}

fn read_pytorch(path: &Path) -> Result<CheckpointFile, InteropError> {
    use pytorch_reader::{DType, PytorchReader};
    let reader = PytorchReader::new(path).map_err(|e| InteropError::Unreadable {
        path: path.to_path_buf(),
        format: "PyTorch",
        reason: one_line(&e.to_string()),
    })?;
    let tensors = reader.into_tensors();
    let has_state_dict = tensors.keys().any(|k| k.starts_with("state_dict."));
    let mut out = CheckpointFile {
        path: path.to_path_buf(),
        format: "PyTorch",
        ..Default::default()
    };
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    for name in names {
        let tensor = &tensors[name];
        let Some(key) = model_key(name, has_state_dict) else {
            out.outside_state_dict.push(name.to_string());
            continue;
        };
        let dtype = tensor.dtype();
        let float = matches!(dtype, DType::F32 | DType::F16 | DType::BF16 | DType::F64);
        if !float {
            out.non_float
                .insert(key, format!("{dtype:?}").to_lowercase());
            continue;
        }
        let bytes = tensor.read().map_err(|e| InteropError::TensorUnreadable {
            path: path.to_path_buf(),
            key: key.clone(),
            reason: one_line(&e.to_string()),
        })?;
        let data = match dtype {
            DType::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            DType::F64 => bytes
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                .collect(),
            DType::F16 => bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            _ => bytes
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
        };
        if dtype != DType::F32 {
            out.notes.push(format!("{key}: converted {dtype:?} to f32"));
        }
        out.weights.insert(
            key,
            HostTensor {
                shape: tensor.shape().to_vec(),
                data,
            },
        );
    }
    Ok(out)
}

fn read_safetensors(path: &Path) -> Result<CheckpointFile, InteropError> {
    use safetensors::{Dtype, SafeTensors};
    let unreadable = |reason: String| InteropError::Unreadable {
        path: path.to_path_buf(),
        format: "safetensors",
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
    let file =
        SafeTensors::deserialize(&bytes).map_err(|e| unreadable(one_line(&e.to_string())))?;
    let mut out = CheckpointFile {
        path: path.to_path_buf(),
        format: "safetensors",
        ..Default::default()
    };
    for (name, view) in file.tensors() {
        let key = model_key(&name, false).expect("no state_dict level in safetensors");
        let raw = view.data();
        let data: Vec<f32> = match view.dtype() {
            Dtype::F32 => raw
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => raw
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => raw
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::F64 => raw
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                .collect(),
            other => {
                out.non_float
                    .insert(key, format!("{other:?}").to_lowercase());
                continue;
            }
        };
        if view.dtype() != Dtype::F32 {
            out.notes
                .push(format!("{key}: converted {:?} to f32", view.dtype()));
        }
        out.weights.insert(
            key,
            HostTensor {
                shape: view.shape().to_vec(),
                data,
            },
        );
    }
    Ok(out)
}

/// A reader's multi-line message as one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
