//! Parameter counts against SPEC-model, to the unit: whole models at
//! `reference` and `mni4mm`, and every Mamba layer and SWM block width.

mod common;

use burn::module::Module;
use burn::prelude::*;
use roimae::model::block::{BlockParams, SwmBlock};
use roimae::model::init;
use roimae::model::mamba::Mamba;
use roimae::model::{ModelConfig, ParamCounts, StageGeometry};

#[test]
fn reference_counts_match_the_spec() {
    let c = ParamCounts::of(&ModelConfig::reference()).unwrap();
    assert_eq!(c.encoder_params, 5_173_020);
    // NeuroSTORM's own count (reference_keys.json): the window table plus
    // the single and atlas tokens; SPEC-model's count leaves the two out.
    assert_eq!(c.mae_params, 7_712_964);
    assert_eq!(c.spec_mae_params, 7_712_892);
    assert_eq!(c.extra_token_params, 2 * 36);
    assert_eq!(c.decoder_params, 2_530_656);
    assert_eq!(c.mask_token_params, 256 * 36);
    assert_eq!(c.head_params, 289);
}

#[test]
fn mni4mm_counts_match_the_spec() {
    let c = ParamCounts::of(&ModelConfig::mni4mm()).unwrap();
    assert_eq!(c.encoder_params, 5_166_216);
    // meta.json of the mni4mm NeuroSTORM fixture: 7,699,167.
    assert_eq!(c.mae_params, 7_699_167);
    assert_eq!(c.spec_mae_params, 7_699_095);
}

#[test]
fn mamba_and_block_counts_per_width() {
    let device = Device::flex();
    let mut rng = init::rng(1);
    let expected = [
        (36, 12_168, 22_860),
        (72, 40_464, 82_584),
        (144, 145_440, 312_624),
        (288, 550_080, 1_216_224),
    ];
    let p = BlockParams {
        d_state: 16,
        d_conv: 4,
        mlp_ratio: 4,
        eps: 1e-5,
    };
    for (d, mamba, block) in expected {
        assert_eq!(
            Mamba::new(d, 16, 4, &mut rng, &device).num_params(),
            mamba,
            "Mamba at D={d}"
        );
        let g = StageGeometry {
            dim: d,
            grid: [4, 4, 4, 4],
            window: [4, 4, 4, 4],
            shift: [0; 4],
            depth: 1,
        };
        assert_eq!(
            SwmBlock::new(&g, 0, p, &mut rng, &device).num_params(),
            block,
            "block at D={d}"
        );
    }
}

#[test]
fn model_command_prints_the_counts_as_json() {
    let out = common::roimae_command()
        .args(["model", "--preset", "mni4mm", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["encoder_params"], 5_166_216);
    assert_eq!(v["mae_params"], 7_699_167);
    assert_eq!(v["spec_mae_params"], 7_699_095);
    assert_eq!(v["head_params"], 289);
    let bad = common::roimae_command()
        .args(["model", "--preset", "huge"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown model preset 'huge'"));
}
