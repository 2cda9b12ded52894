//! Helpers shared by the integration tests: fixture paths, nibabel's
//! expected values, and running the `roimae` binary.
#![allow(dead_code)]

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

/// `tests/data/<name>`.
pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The `.expected.json` next to a fixture, as written by nibabel.
/// Looks for `NAME.expected.json`, then for the name without `.nii[.gz]`.
pub fn expected(name: &str) -> Value {
    let stem = name.trim_end_matches(".gz").trim_end_matches(".nii");
    let path = [name, stem]
        .iter()
        .map(|n| data(&format!("{n}.expected.json")))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no expected JSON for {name}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A command for the `roimae` binary built with these tests.
pub fn roimae_command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_roimae"))
}

/// Runs the `roimae` binary with `args`.
pub fn roimae(args: &[&str]) -> Output {
    roimae_command()
        .args(args)
        .output()
        .expect("the roimae binary runs")
}

/// The JSON a successful command printed; panics with its stderr when it
/// failed.
pub fn stdout_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// Asserts `a` and `b` agree to `rel` relative (or `abs` absolute) tolerance.
pub fn assert_close(what: &str, a: f64, b: f64, rel: f64, abs: f64) {
    let tol = abs.max(rel * b.abs());
    assert!(
        (a - b).abs() <= tol,
        "{what}: got {a}, nibabel says {b} (tolerance {tol})"
    );
}

/// A JSON array of numbers as f64s.
pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// A tensor's values, read back as f32s.
pub fn values<const D: usize>(t: burn::prelude::Tensor<D>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().unwrap()
}
