//! NeuroSTORM interoperability: its checkpoints load into roimae and ours
//! load back into PyTorch with NeuroSTORM's exact keys and shapes.
//!
//! - [`tensor_file`] reads `.ckpt`/`.pt` (burn-store's `pytorch-reader`) and
//!   `.safetensors`;
//! - [`names`] is the one key ↔ parameter table; [`infer`] reads the model
//!   off the shapes; [`load`] maps a file onto a model, listing every
//!   missing, unexpected or mis-shaped key;
//! - [`export`] and [`torch_write`] write NeuroSTORM's Lightning layout (or
//!   safetensors);
//! - [`reconstruct`] runs the masked forward pass the golden fixtures hold,
//!   with [`arrays`] for its `.npy`/`.npz` files;
//! - [`run_folder`] turns a checkpoint into a roimae run folder and back.

pub mod arrays;
pub mod error;
pub mod export;
pub mod infer;
pub mod load;
pub mod names;
pub mod reconstruct;
pub mod run_folder;
pub mod tensor_file;
pub mod torch_write;

pub use error::InteropError;
pub use export::{ExportFormat, ExportInfo, export};
pub use infer::infer_config;
pub use load::{LoadReport, load_checkpoint};
pub use reconstruct::reconstruct;
pub use run_folder::{import_checkpoint, init_weights, is_run_folder};
