//! A small writer of PyTorch's checkpoint format, laid out as
//! `torch.save` writes it (no maintained Rust crate writes it; burn-store
//! reads it only): a stored (uncompressed) zip holding `NAME/data.pkl` — a
//! pickle, protocol 2, of the saved object, in which each tensor is
//! `torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False,
//! OrderedDict())` with its storage a persistent id `('storage',
//! torch.FloatStorage, key, 'cpu', numel)` — and one entry `NAME/data/KEY`
//! per storage (raw little-endian f32, 64-byte aligned), plus `version`,
//! `byteorder`, `.format_version` and `.storage_alignment`.
//!
//! Only the opcodes and globals that `torch.load(weights_only=True)`
//! accepts are used. Tested by reading the file back with burn-store's
//! independent reader and, where Python is present, with CPython's own
//! unpickler under torch's weights-only allow-list.

use super::error::InteropError;
use std::io::Write;
use std::path::Path;

/// A Python value of the saved object.
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An int.
    Int(i64),
    /// A float.
    Float(f64),
    /// A str.
    Str(String),
    /// A list.
    List(Vec<PyValue>),
    /// A dict with str keys, in order.
    Dict(Vec<(String, PyValue)>),
    /// A `collections.OrderedDict` with str keys (a state dict).
    OrderedDict(Vec<(String, PyValue)>),
    /// Tensor number `i` of the tensors passed to [`write_torch_file`].
    Tensor(usize),
}

/// One float32 tensor to store, row-major (contiguous).
#[derive(Debug, Clone, Copy)]
pub struct TensorBytes<'a> {
    /// Extents.
    pub shape: &'a [usize],
    /// Values.
    pub data: &'a [f32],
}

/// Pickle opcodes (protocol 2) used here.
mod op {
    pub const PROTO: u8 = 0x80;
    pub const STOP: u8 = b'.';
    pub const MARK: u8 = b'(';
    pub const EMPTY_DICT: u8 = b'}';
    pub const EMPTY_LIST: u8 = b']';
    pub const EMPTY_TUPLE: u8 = b')';
    pub const SETITEMS: u8 = b'u';
    pub const APPENDS: u8 = b'e';
    pub const TUPLE: u8 = b't';
    pub const BINUNICODE: u8 = b'X';
    pub const BININT: u8 = b'J';
    pub const BININT1: u8 = b'K';
    pub const BININT2: u8 = b'M';
    pub const LONG1: u8 = 0x8a;
    pub const BINFLOAT: u8 = b'G';
    pub const NONE: u8 = b'N';
    pub const NEWTRUE: u8 = 0x88;
    pub const NEWFALSE: u8 = 0x89;
    pub const GLOBAL: u8 = b'c';
    pub const REDUCE: u8 = b'R';
    pub const BINPERSID: u8 = b'Q';
}

struct Pickler<'t> {
    out: Vec<u8>,
    tensors: &'t [TensorBytes<'t>],
}

impl Pickler<'_> {
    fn global(&mut self, module: &str, name: &str) {
        self.out.push(op::GLOBAL);
        self.out
            .extend_from_slice(format!("{module}\n{name}\n").as_bytes());
    }

    fn str(&mut self, s: &str) {
        self.out.push(op::BINUNICODE);
        self.out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.out.extend_from_slice(s.as_bytes());
    }

    fn int(&mut self, v: i64) {
        if (0..256).contains(&v) {
            self.out.extend_from_slice(&[op::BININT1, v as u8]);
        } else if (0..65536).contains(&v) {
            self.out.push(op::BININT2);
            self.out.extend_from_slice(&(v as u16).to_le_bytes());
        } else if i32::try_from(v).is_ok() {
            self.out.push(op::BININT);
            self.out.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            // LONG1: n bytes of two's complement, little-endian.
            self.out.extend_from_slice(&[op::LONG1, 8]);
            self.out.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn int_tuple(&mut self, values: &[usize]) {
        if values.is_empty() {
            self.out.push(op::EMPTY_TUPLE);
            return;
        }
        self.out.push(op::MARK);
        for &v in values {
            self.int(v as i64);
        }
        self.out.push(op::TUPLE);
    }

    fn items(&mut self, items: &[(String, PyValue)]) {
        if items.is_empty() {
            return;
        }
        self.out.push(op::MARK);
        for (k, v) in items {
            self.str(k);
            self.value(v);
        }
        self.out.push(op::SETITEMS);
    }

    fn empty_ordered_dict(&mut self) {
        self.global("collections", "OrderedDict");
        self.out.push(op::EMPTY_TUPLE);
        self.out.push(op::REDUCE);
    }

    fn tensor(&mut self, index: usize) {
        let t = self.tensors[index];
        let numel: usize = t.shape.iter().product();
        // Contiguous strides, in elements.
        let mut stride = vec![1usize; t.shape.len()];
        for d in (0..t.shape.len().saturating_sub(1)).rev() {
            stride[d] = stride[d + 1] * t.shape[d + 1];
        }
        self.global("torch._utils", "_rebuild_tensor_v2");
        self.out.push(op::MARK);
        // The storage, as a persistent id.
        self.out.push(op::MARK);
        self.str("storage");
        self.global("torch", "FloatStorage");
        self.str(&index.to_string());
        self.str("cpu");
        self.int(numel as i64);
        self.out.push(op::TUPLE);
        self.out.push(op::BINPERSID);
        self.int(0); // storage offset
        self.int_tuple(t.shape);
        self.int_tuple(&stride);
        self.out.push(op::NEWFALSE); // requires_grad
        self.empty_ordered_dict(); // backward hooks
        self.out.push(op::TUPLE);
        self.out.push(op::REDUCE);
    }

    fn value(&mut self, v: &PyValue) {
        match v {
            PyValue::None => self.out.push(op::NONE),
            PyValue::Bool(b) => self.out.push(if *b { op::NEWTRUE } else { op::NEWFALSE }),
            PyValue::Int(i) => self.int(*i),
            PyValue::Float(f) => {
                self.out.push(op::BINFLOAT);
                self.out.extend_from_slice(&f.to_be_bytes());
            }
            PyValue::Str(s) => self.str(s),
            PyValue::List(items) => {
                self.out.push(op::EMPTY_LIST);
                if !items.is_empty() {
                    self.out.push(op::MARK);
                    for item in items {
                        self.value(item);
                    }
                    self.out.push(op::APPENDS);
                }
            }
            PyValue::Dict(items) => {
                self.out.push(op::EMPTY_DICT);
                self.items(items);
            }
            PyValue::OrderedDict(items) => {
                self.empty_ordered_dict();
                self.items(items);
            }
            PyValue::Tensor(i) => self.tensor(*i),
        }
    }
}

/// The pickle of `root` (protocol 2), tensors referring to `tensors`.
pub fn pickle(root: &PyValue, tensors: &[TensorBytes<'_>]) -> Vec<u8> {
    let mut p = Pickler {
        out: vec![op::PROTO, 2],
        tensors,
    };
    p.value(root);
    p.out.push(op::STOP);
    p.out
}

/// Writes `root` with its tensors as a PyTorch checkpoint at `path`
/// (through a temporary file renamed into place).
pub fn write_torch_file(
    path: &Path,
    root: &PyValue,
    tensors: &[TensorBytes<'_>],
) -> Result<(), InteropError> {
    use zip::write::SimpleFileOptions;
    let fail = |e: String| InteropError::Write {
        path: path.to_path_buf(),
        reason: e,
    };
    let archive = path
        .file_stem()
        .map(|s| {
            s.to_string_lossy()
                .replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "_")
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "archive".into());
    let tmp = path.with_extension("partial-write");
    let file = std::fs::File::create(&tmp).map_err(|e| fail(e.to_string()))?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let stored = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default());
    let aligned = stored.with_alignment(64).large_file(false);
    let mut entry = |name: &str, bytes: &[u8], align: bool| -> Result<(), InteropError> {
        let opts = if align {
            aligned.clone()
        } else {
            stored.clone()
        };
        zip.start_file(format!("{archive}/{name}"), opts)
            .map_err(|e| fail(e.to_string()))?;
        zip.write_all(bytes).map_err(|e| fail(e.to_string()))
    };
    entry("data.pkl", &pickle(root, tensors), false)?;
    entry(".format_version", b"1", false)?;
    entry(".storage_alignment", b"64", false)?;
    entry("byteorder", b"little", false)?;
    for (i, t) in tensors.iter().enumerate() {
        let mut bytes = Vec::with_capacity(t.data.len() * 4);
        for v in t.data {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        entry(&format!("data/{i}"), &bytes, true)?;
    }
    entry("version", b"3\n", false)?;
    drop(entry);
    let mut inner = zip.finish().map_err(|e| fail(e.to_string()))?;
    inner.flush().map_err(|e| fail(e.to_string()))?;
    drop(inner);
    std::fs::rename(&tmp, path).map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_use_the_shortest_opcode() {
        let bytes = pickle(
            &PyValue::List(vec![
                PyValue::Int(7),
                PyValue::Int(300),
                PyValue::Int(-1),
                PyValue::Int(1 << 40),
            ]),
            &[],
        );
        assert_eq!(
            bytes,
            [
                &[
                    0x80, 2, b']', b'(', b'K', 7, b'M', 44, 1, b'J', 255, 255, 255, 255, 0x8a, 8
                ][..],
                &(1i64 << 40).to_le_bytes(),
                &[b'e', b'.'],
            ]
            .concat()
        );
    }
}
