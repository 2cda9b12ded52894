//! NeuroSTORM interoperability against NeuroSTORM's own numbers: its golden
//! fixtures (real NeuroSTORM code, fp32, mamba-ssm's exact reference scan)
//! load into roimae, and the masked forward pass reproduces the loss, the
//! encoder latent, the reconstruction and every stored intermediate; our
//! exports carry NeuroSTORM's exact keys and shapes and are bit-identical
//! after a round trip; bad checkpoints give one-line errors.

mod common;

use burn::prelude::*;
use ndarray::{ArrayD, IxDyn, OwnedRepr};
use roimae::interop::{self, arrays, load_checkpoint};
use roimae::model::{BatchMask, Mae, MaskToken, ScanImpl};
use std::path::{Path, PathBuf};

/// A copied fixture, or `mni4mm` from ../shared.
fn fixture(name: &str) -> Option<PathBuf> {
    let copied = common::data("neurostorm").join(name);
    if copied.join("model.ckpt").is_file() {
        return Some(copied);
    }
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/neurostorm")
        .join(name);
    if shared.join("model.ckpt").is_file() {
        return Some(shared);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "fixture {name} missing in CI (../shared/fixtures/neurostorm/{name})"
    );
    None
}

fn expected(dir: &Path, name: &str) -> ArrayD<f32> {
    let file = std::fs::File::open(dir.join("expected.npz")).unwrap();
    let mut npz = ndarray_npy::NpzReader::new(file).unwrap();
    npz.by_name::<OwnedRepr<f32>, IxDyn>(name)
        .unwrap_or_else(|e| panic!("{}: {name}: {e}", dir.display()))
}

fn expected_i64(dir: &Path, name: &str) -> Vec<i64> {
    let file = std::fs::File::open(dir.join("expected.npz")).unwrap();
    let mut npz = ndarray_npy::NpzReader::new(file).unwrap();
    npz.by_name::<OwnedRepr<i64>, IxDyn>(name)
        .unwrap()
        .iter()
        .copied()
        .collect()
}

/// ‖a − b‖ / ‖b‖.
fn rel_l2(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths");
    let num: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
    let den: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
    (num / den.max(1e-30)).sqrt()
}

/// `[B, x, y, z, T, C]` → NeuroSTORM's `(B, C, x, y, z, T)`, as a flat vec.
fn channel_first(t: Tensor<6>) -> (Vec<usize>, Vec<f32>) {
    let t = t.permute([0, 5, 1, 2, 3, 4]);
    let shape = t.dims().to_vec();
    (
        shape,
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap(),
    )
}

fn flat(t: Tensor<6>) -> (Vec<usize>, Vec<f32>) {
    let shape = t.dims().to_vec();
    (
        shape,
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap(),
    )
}

/// Compares one array; returns its relative L2 error.
fn check(dir: &Path, name: &str, got: (Vec<usize>, Vec<f32>), tol: f64) -> f64 {
    let want = expected(dir, name);
    assert_eq!(got.0, want.shape(), "{name}: shape");
    let want: Vec<f32> = want.iter().copied().collect();
    let err = rel_l2(&got.1, &want);
    assert!(
        err <= tol,
        "{}: {name} relative L2 error {err:.3e} > {tol:.0e}",
        dir.display()
    );
    err
}

struct Inputs {
    x: Tensor<6>,
    mask: BatchMask,
}

fn inputs(dir: &Path, mae: &Mae, token: MaskToken, device: &Device) -> Inputs {
    let cfg = mae.config();
    let clip = arrays::read_clip(&dir.join("input.npy")).unwrap();
    let mask = arrays::read_token_mask(&dir.join("mask.npy")).unwrap();
    let n = cfg.input;
    let x = Tensor::<6>::from_data(
        TensorData::new(clip.data, [1, 1, n, n, n, cfg.frames]),
        device,
    );
    let m: Vec<f32> = mask.data.iter().map(|&b| f32::from(u8::from(b))).collect();
    let len = m.len();
    Inputs {
        x,
        mask: BatchMask {
            tokens: Tensor::from_data(TensorData::new(m, [1, len]), device),
            voxels: None,
            token,
        },
    }
}

/// The whole forward of a tiny fixture, every stored array compared.
fn tiny_fixture_matches(
    name: &str,
    token: MaskToken,
    device: Device,
    tol: f64,
) -> Vec<(String, f64)> {
    let dir = fixture(name).expect("tiny fixtures are copied into tests/data");
    let (mae, report) = load_checkpoint(&dir.join("model.ckpt"), None, &device).unwrap();
    assert_eq!(
        report.loaded_tensors, 273,
        "{name}: every weight of the MAE"
    );
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    let params = meta["params"]["mae"].as_u64().unwrap() as usize;
    assert_eq!(report.loaded_values, params, "{name}: parameter count");
    let inp = inputs(&dir, &mae, token, &device);
    let (out, trace) = mae.forward_traced(inp.x.clone(), &inp.mask, ScanImpl::Auto);
    let mut errs = Vec::new();
    let loss = out.loss.into_scalar::<f32>() as f64;
    let want = expected(&dir, "loss").iter().copied().next().unwrap() as f64;
    let loss_err = (loss - want).abs() / want.abs();
    assert!(
        loss_err <= tol,
        "{name}: loss {loss} vs NeuroSTORM {want} (rel {loss_err:.2e})"
    );
    errs.push(("loss".to_string(), loss_err));
    let mut push = |n: &str, got| errs.push((n.to_string(), check(&dir, n, got, tol)));
    push("tokens_embedded", channel_first(trace.tokens_embedded));
    push("tokens_masked", channel_first(trace.tokens_masked));
    for (i, s) in trace.stages.into_iter().enumerate() {
        push(&format!("stage{i}_out"), channel_first(s));
    }
    push("dec_expand0_out", flat(trace.dec_expand));
    for (k, s) in trace.dec_stages.into_iter().enumerate() {
        push(&format!("dec_stage{k}_out"), channel_first(s));
    }
    push("pred_patches", flat(trace.pred_patches));
    push("pred", flat(out.reconstruction));
    push("latent", channel_first(out.latent));
    let features = mae.encoder.forward(inp.x, ScanImpl::Auto);
    push("encoder_features", channel_first(features));
    eprintln!("{name} on {device:?}: {errs:?}");
    errs
}

#[test]
fn tiny_window_fixture_matches_neurostorm_on_flex() {
    tiny_fixture_matches("tiny", MaskToken::Window, Device::flex(), 1e-4);
}

#[test]
fn tiny_atlas_fixture_matches_neurostorm_on_flex() {
    tiny_fixture_matches("tiny_atlas", MaskToken::Atlas, Device::flex(), 1e-4);
}

#[test]
fn tiny_random_fixture_matches_neurostorm_on_flex() {
    tiny_fixture_matches("tiny_random", MaskToken::Single, Device::flex(), 1e-4);
}

#[test]
fn tiny_window_fixture_matches_neurostorm_on_wgpu() {
    tiny_fixture_matches(
        "tiny",
        MaskToken::Window,
        Device::wgpu(DeviceKind::DefaultDevice),
        1e-3,
    );
}

#[test]
fn mni4mm_fixture_matches_neurostorm_on_flex() {
    let Some(dir) = fixture("mni4mm") else {
        eprintln!("mni4mm fixture not present; skipped outside CI");
        return;
    };
    let device = Device::flex();
    let (mae, report) = load_checkpoint(&dir.join("model.ckpt"), None, &device).unwrap();
    assert_eq!(
        report.config.name, "mni4mm",
        "the checkpoint is our mni4mm preset"
    );
    assert_eq!(report.loaded_values, 7_699_167);
    let inp = inputs(&dir, &mae, MaskToken::Window, &device);
    let out = mae.forward(inp.x.clone(), &inp.mask, ScanImpl::Auto);
    let tol = 1e-4;
    let loss = out.loss.into_scalar::<f32>() as f64;
    let want_loss = expected(&dir, "loss").iter().copied().next().unwrap() as f64;
    let loss_err = (loss - want_loss).abs() / want_loss;
    assert!(loss_err <= tol, "loss {loss} vs {want_loss}");
    let latent_err = check(&dir, "latent", channel_first(out.latent), tol);
    let features = mae.encoder.forward(inp.x, ScanImpl::Auto);
    let features_err = check(&dir, "encoder_features", channel_first(features), tol);
    let (_, pred) = flat(out.reconstruction);
    let idx = expected_i64(&dir, "pred_sample_index");
    let sampled: Vec<f32> = idx.iter().map(|&i| pred[i as usize]).collect();
    let want: Vec<f32> = expected(&dir, "pred_sample_value")
        .iter()
        .copied()
        .collect();
    let err = rel_l2(&sampled, &want);
    assert!(err <= tol, "pred samples: {err:.3e}");
    // The first frame in full: pred[..., 0].
    let t = 20;
    let first: Vec<f32> = pred.iter().step_by(t).copied().collect();
    let want: Vec<f32> = expected(&dir, "pred_t0").iter().copied().collect();
    let err_t0 = rel_l2(&first, &want);
    assert!(err_t0 <= tol, "pred_t0: {err_t0:.3e}");
    eprintln!(
        "mni4mm on flex: loss {loss_err:.2e}, latent {latent_err:.2e}, encoder_features {features_err:.2e}, pred samples {err:.2e}, pred_t0 {err_t0:.2e}"
    );
}

/// The state dict of a PyTorch file, via burn-store's reader (independent
/// of our writer): key → (shape, f32 bytes).
fn torch_tensors(path: &Path) -> Vec<(String, Vec<usize>, Vec<u8>)> {
    let reader = pytorch_reader::PytorchReader::new(path).unwrap();
    let mut out: Vec<_> = reader
        .tensors()
        .iter()
        .filter(|(_, t)| t.dtype() == pytorch_reader::DType::F32)
        .map(|(k, t)| {
            let key = k.strip_prefix("state_dict.").unwrap_or(k).to_string();
            (key, t.shape().to_vec(), t.read().unwrap())
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn import_export_round_trip_is_bit_identical_with_neurostorm_keys() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["tiny", "tiny_atlas"] {
        let dir = fixture(name).unwrap();
        let run = tmp.path().join(format!("{name}-run"));
        let ckpt = tmp.path().join(format!("{name}-back.ckpt"));
        let out = common::roimae(&[
            "checkpoint",
            "import",
            dir.join("model.ckpt").to_str().unwrap(),
            "--out",
            run.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        if name == "tiny_atlas" {
            assert!(text.contains("skipped: atlas_map"), "{text}");
        }
        let out = common::roimae(&[
            "checkpoint",
            "export",
            run.to_str().unwrap(),
            "--format",
            "neurostorm",
            "--out",
            ckpt.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Keys, order and shapes exactly as meta.json's key table.
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
        let table: Vec<(String, Vec<usize>)> = meta["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["kind"] == "parameter")
            .map(|k| {
                (
                    k["ckpt_key"].as_str().unwrap().to_string(),
                    k["shape"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|d| d.as_u64().unwrap() as usize)
                        .collect(),
                )
            })
            .collect();
        let back = torch_tensors(&ckpt);
        let mut want_keys: Vec<_> = table.clone();
        want_keys.sort();
        let got_keys: Vec<_> = back
            .iter()
            .map(|(k, s, _)| (k.clone(), s.clone()))
            .collect();
        assert_eq!(got_keys, want_keys, "{name}: keys and shapes");
        // Every tensor bit for bit.
        let original = torch_tensors(&dir.join("model.ckpt"));
        assert_eq!(back, original, "{name}: values after import → export");
        // CPython's own unpickler under torch's weights-only allow-list.
        if let Ok(py) = std::process::Command::new("python3")
            .arg(common::data("neurostorm/torch_load_check.py"))
            .arg(&ckpt)
            .arg(dir.join("model.ckpt"))
            .output()
        {
            let msg = String::from_utf8_lossy(&py.stdout).to_string()
                + &String::from_utf8_lossy(&py.stderr);
            if !msg.contains("No module named 'numpy'") {
                assert!(py.status.success(), "{name}: {msg}");
            }
        }
    }
}

#[test]
fn safetensors_export_imports_back_bit_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fixture("tiny_random").unwrap();
    let device = Device::flex();
    let (mae, _) = load_checkpoint(&dir.join("model.ckpt"), None, &device).unwrap();
    let path = tmp.path().join("w.safetensors");
    interop::export(
        &mae,
        &path,
        interop::ExportFormat::Safetensors,
        &Default::default(),
    )
    .unwrap();
    let (back, report) = load_checkpoint(&path, None, &device).unwrap();
    assert_eq!(report.format, "safetensors");
    assert_eq!(report.loaded_tensors, 273);
    let a = interop::export::neurostorm_tensors(&mae);
    let b = interop::export::neurostorm_tensors(&back);
    assert!(a.iter().zip(&b).all(|(x, y)| {
        x.0 == y.0
            && x.1 == y.1
            && x.2
                .iter()
                .zip(&y.2)
                .all(|(p, q)| p.to_bits() == q.to_bits())
    }));
}

#[test]
fn reconstruct_cli_writes_neurostorm_pred_and_latent() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fixture("tiny_atlas").unwrap();
    let out_npz = tmp.path().join("out.npz");
    let out = common::roimae(&[
        "reconstruct",
        "--checkpoint",
        dir.join("model.ckpt").to_str().unwrap(),
        "--input",
        dir.join("input.npy").to_str().unwrap(),
        "--mask",
        dir.join("mask.npy").to_str().unwrap(),
        "--mask-token",
        "atlas",
        "--out",
        out_npz.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    assert_eq!(v["masked_tokens"], meta["mask"]["masked_tokens"]);
    let want = meta["loss"].as_f64().unwrap();
    let loss = v["loss"].as_f64().unwrap();
    assert!((loss - want).abs() / want < 1e-4, "{loss} vs {want}");
    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(&out_npz).unwrap()).unwrap();
    for name in ["pred", "latent"] {
        let got = npz.by_name::<OwnedRepr<f32>, IxDyn>(name).unwrap();
        let want = expected(&dir, name);
        assert_eq!(got.shape(), want.shape(), "{name}");
        let got: Vec<f32> = got.iter().copied().collect();
        let want: Vec<f32> = want.iter().copied().collect();
        assert!(rel_l2(&got, &want) < 1e-4, "{name}");
    }
}

/// Writes the tiny fixture's state dict with `edit` applied, through our
/// own writer (the exporter, on a loaded model, then rewritten).
fn edited_checkpoint(path: &Path, edit: impl Fn(&mut Vec<(String, Vec<usize>, Vec<f32>)>)) {
    use interop::torch_write::{PyValue, TensorBytes, write_torch_file};
    let dir = fixture("tiny").unwrap();
    let (mae, _) = load_checkpoint(&dir.join("model.ckpt"), None, &Device::flex()).unwrap();
    let mut tensors = interop::export::neurostorm_tensors(&mae);
    edit(&mut tensors);
    let bytes: Vec<TensorBytes<'_>> = tensors
        .iter()
        .map(|(_, s, d)| TensorBytes { shape: s, data: d })
        .collect();
    let sd = tensors
        .iter()
        .enumerate()
        .map(|(i, (k, _, _))| (format!("model.{k}"), PyValue::Tensor(i)))
        .collect();
    write_torch_file(
        path,
        &PyValue::Dict(vec![("state_dict".into(), PyValue::OrderedDict(sd))]),
        &bytes,
    )
    .unwrap();
}

fn error_line(args: &[&str]) -> String {
    let out = common::roimae(args);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn bad_checkpoints_give_one_line_errors_naming_the_key_or_file() {
    let tmp = tempfile::tempdir().unwrap();
    let wrong = tmp.path().join("wrong_shape.ckpt");
    edited_checkpoint(&wrong, |t| {
        let e = t
            .iter_mut()
            .find(|(k, _, _)| k == "layers.1.blocks.0.mamba.x_proj.weight")
            .unwrap();
        e.1 = vec![e.1[1], e.1[0]];
    });
    let err = error_line(&["checkpoint", "inspect", wrong.to_str().unwrap()]);
    assert!(
        err.contains("layers.1.blocks.0.mamba.x_proj.weight")
            && err.contains("[48, 34]")
            && err.contains("[34, 48]"),
        "{err}"
    );

    let missing = tmp.path().join("missing.ckpt");
    edited_checkpoint(&missing, |t| {
        t.retain(|(k, _, _)| k != "layers_up.1.blocks.1.mlp.linear2.bias")
    });
    let err = error_line(&["checkpoint", "inspect", missing.to_str().unwrap()]);
    assert!(
        err.contains("missing key 'layers_up.1.blocks.1.mlp.linear2.bias'"),
        "{err}"
    );

    let unknown = tmp.path().join("unknown.ckpt");
    edited_checkpoint(&unknown, |t| {
        t.push((
            "layers.0.blocks.0.attn.qkv.weight".into(),
            vec![2],
            vec![0.0, 1.0],
        ))
    });
    let err = error_line(&["checkpoint", "inspect", unknown.to_str().unwrap()]);
    assert!(
        err.contains("unexpected key 'layers.0.blocks.0.attn.qkv.weight'"),
        "{err}"
    );

    let truncated = tmp.path().join("truncated.ckpt");
    let bytes = std::fs::read(fixture("tiny").unwrap().join("model.ckpt")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = error_line(&["checkpoint", "inspect", truncated.to_str().unwrap()]);
    assert!(err.contains("truncated.ckpt"), "{err}");

    let preset = error_line(&[
        "checkpoint",
        "import",
        fixture("tiny")
            .unwrap()
            .join("model.ckpt")
            .to_str()
            .unwrap(),
        "--preset",
        "tiny",
        "--out",
        tmp.path().join("r").to_str().unwrap(),
    ]);
    assert!(
        preset.contains("patch_embed.fc.weight")
            && preset.contains("[12, 27]")
            && preset.contains("[8, 27]"),
        "{preset}"
    );
}

/// A small CPU run config file (tiny geometry, 4 synthetic subjects).
fn small_run_toml(dir: &Path, steps: usize) -> PathBuf {
    let path = dir.join("run.toml");
    std::fs::write(
        &path,
        format!(
            "preset = \"tiny\"\nbatch_size = 2\nmax_steps = {steps}\nval_every = 2\nval_fraction = 0.25\ndevice = \"cpu\"\npreview_every = 0\n[data]\nkind = \"synthetic\"\nsubjects = 4\nframes = 24\n[optim]\nlr = 0.0001\n"
        ),
    )
    .unwrap();
    path
}

/// The patch-embedding weight of a run's last checkpoint, as PyTorch lays it out.
fn run_patch_embed(run: &Path) -> Vec<f32> {
    let (_, mae, _) = roimae::eval::pretrained::load_mae(
        run,
        roimae::eval::pretrained::CheckpointChoice::Best,
        &Device::flex(),
    )
    .unwrap();
    interop::export::neurostorm_tensors(&mae)
        .into_iter()
        .find(|(k, _, _)| k == "patch_embed.fc.weight")
        .unwrap()
        .2
}

#[test]
fn a_neurostorm_checkpoint_starts_pretraining_and_resumes_as_an_imported_run() {
    let tmp = tempfile::tempdir().unwrap();
    let ckpt = fixture("tiny").unwrap().join("model.ckpt");
    let original = torch_tensors(&ckpt)
        .into_iter()
        .find(|(k, _, _)| k == "model.patch_embed.fc.weight")
        .map(|(_, _, b)| {
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect::<Vec<f32>>()
        })
        .unwrap();
    let config = small_run_toml(tmp.path(), 2);
    // pretrain --init-from adopts the checkpoint's model (width 12, blocks 2,2,2,2).
    let run = tmp.path().join("init-run");
    let out = common::roimae(&[
        "pretrain",
        "--config",
        config.to_str().unwrap(),
        "--init-from",
        ckpt.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("width 12"), "{stdout}");
    let log = std::fs::read_to_string(run.join("log.txt")).unwrap();
    assert!(log.contains("initialised from"), "{log}");
    // Two steps at lr 1e-4 move weights by ~1e-4; a fresh init differs by ~0.1.
    let trained = run_patch_embed(&run);
    let drift = trained
        .iter()
        .zip(&original)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(drift < 2e-3, "weights moved {drift} from the checkpoint");

    // checkpoint import → pretrain --resume continues from the imported weights.
    let imported = tmp.path().join("imported");
    let out = common::roimae(&[
        "checkpoint",
        "import",
        ckpt.to_str().unwrap(),
        "--out",
        imported.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        run_patch_embed(&imported),
        original,
        "imported weights are the file's"
    );
    let mut cfg = roimae::train::RunConfig::load(&imported.join("config.toml")).unwrap();
    cfg.data = roimae::train::RunConfig::load(&config).unwrap().data;
    cfg.max_steps = Some(2);
    cfg.device = roimae::train::DeviceChoice::Cpu;
    cfg.batch_size = 2;
    cfg.val_fraction = 0.25;
    cfg.val_every = 2;
    cfg.preview_every = 0;
    cfg.save(&imported.join("config.toml")).unwrap();
    let out = common::roimae(&["pretrain", "--resume", imported.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(imported.join("log.txt")).unwrap();
    assert!(log.contains("no optimiser state"), "{log}");
    assert!(
        roimae::train::checkpoint::list(&imported)
            .iter()
            .any(|(s, _)| *s == 2)
    );
}

#[test]
fn the_gui_dashboard_imports_a_checkpoint_off_the_ui_thread() {
    let tmp = tempfile::tempdir().unwrap();
    let mut dash = roimae::gui::dashboard::Dashboard {
        runs_root: tmp.path().to_path_buf(),
        ..Default::default()
    };
    dash.config.preset = roimae::model::Preset::Mni4mm;
    dash.open_checkpoint(fixture("tiny_random").unwrap().join("model.ckpt"), None);
    assert!(
        dash.pending_import.is_some(),
        "the import runs on a worker thread"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while dash.init.is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "import did not finish: {:?}",
            dash.message
        );
        dash.poll();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let (init, values) = dash.init.clone().unwrap();
    assert_eq!(
        (init.model.embed_dim, init.model.depths.clone()),
        (12, vec![2, 2, 2, 2])
    );
    assert_eq!(values, 609_783);
    assert_eq!(
        dash.config.preset,
        roimae::model::Preset::Tiny,
        "the inferred preset is selected"
    );
    assert!(
        init.run_dir.join("config.toml").is_file() && init.run_dir.join("import.json").is_file()
    );
}
