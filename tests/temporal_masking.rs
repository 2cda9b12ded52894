//! Temporal masking (`[mask] time`): for every spatial mode it applies to
//! (tube, ROI at token and voxel level, partial ROI, window) × `random` /
//! `block`: exact counts, the same spatial set as `time = "all"`, the frame
//! structure, determinism, no background; the TOML form, old configs, bad
//! values; the voxel-level batch tensor and loss; a short pretraining run.
//!
//! Counts (the rule the masker documents): over T frames, `random` masks
//! each unit at `max(1, round(ratio·T))` frames; `block` cuts the frames
//! into `B = ceil(T/length)` aligned blocks and masks `max(1,
//! round(ratio·B))` of them (`f64::round`, halves away from zero). Region
//! numbers (196 cerebellum tokens, 24,414 cerebellum voxels in 241 patches,
//! 135 limbic tokens) are numpy's, as in tests/masking.rs.

use burn::prelude::*;
use roimae::atlas::{Atlas, InputLabels, Lobe, TokenGeometry, TokenMap};
use roimae::masking::{
    ClipMask, MaskError, MaskLevel, MaskSpec, MaskStrategy, MaskTime, Masker, RegionSelection,
    TokenGrid,
};
use roimae::model::{BatchMask, MaskToken, masked_mse};
use roimae::train::{DataConfig, DeviceChoice, RunConfig, SyntheticData, TrainEvent, TrainHandle};
use roimae::volume::Grid;
use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const FRAMES: usize = 20;
const RANDOM: MaskTime = MaskTime::Random { ratio: 0.5 };
const BLOCK: MaskTime = MaskTime::Block {
    length: 4,
    ratio: 0.5,
};

fn atlas() -> &'static (Atlas, InputLabels) {
    static CELL: OnceLock<(Atlas, InputLabels)> = OnceLock::new();
    CELL.get_or_init(|| {
        let atlas = Atlas::aal3().unwrap();
        let input = atlas.input_labels(&Grid::mni_2mm(), TokenGeometry::REFERENCE);
        (atlas, input)
    })
}

fn spec(strategy: MaskStrategy, time: MaskTime, seed: u64) -> MaskSpec {
    MaskSpec {
        strategy,
        seed,
        time,
    }
}

fn masker_t(strategy: MaskStrategy, time: MaskTime, seed: u64, frames: usize) -> Masker {
    let (atlas, input) = atlas();
    Masker::new(&spec(strategy, time, seed), input, &atlas.regions, frames).unwrap()
}

fn masker(strategy: MaskStrategy, time: MaskTime, seed: u64) -> Masker {
    masker_t(strategy, time, seed, FRAMES)
}

fn roi(lobe: Lobe, partial: Option<f64>, level: MaskLevel) -> MaskStrategy {
    MaskStrategy::Roi {
        regions: RegionSelection {
            lobes: vec![lobe],
            names: vec![],
        },
        partial,
        level,
    }
}

fn lobe_ids(lobe: Lobe) -> Vec<u16> {
    atlas().0.regions.in_group(lobe).map(|r| r.id).collect()
}

/// Per spatial token, its frames (as a bool row) when masked in any frame.
fn token_rows(m: &ClipMask) -> Vec<(usize, Vec<bool>)> {
    let f = m.grid.frames;
    (0..m.grid.n_spatial())
        .map(|s| (s, m.tokens[s * f..(s + 1) * f].to_vec()))
        .filter(|(_, row)| row.iter().any(|&b| b))
        .collect()
}

fn spatial_set(m: &ClipMask) -> BTreeSet<usize> {
    token_rows(m).into_iter().map(|(s, _)| s).collect()
}

/// The frames of `row` form whole blocks `[k·len, (k+1)·len)` (the last
/// one cut at the clip's end); returns how many.
fn aligned_blocks(row: &[bool], len: usize) -> usize {
    let mut blocks = 0;
    for chunk in row.chunks(len) {
        assert!(
            chunk.iter().all(|&b| b == chunk[0]),
            "frames {row:?} are not whole aligned {len}-frame blocks"
        );
        blocks += usize::from(chunk[0]);
    }
    blocks
}

/// Checks the frame rows of the masked units: `random` masks exactly `k`
/// frames each and the rows differ between units; `block` masks exactly
/// `kb` whole aligned blocks each. Returns the masked frames summed.
fn check_rows(rows: &[Vec<bool>], time: MaskTime) -> usize {
    assert!(rows.len() > 1);
    let t = rows[0].len();
    match time {
        MaskTime::Random { ratio } => {
            let k = ((ratio * t as f64).round() as usize).max(1);
            for row in rows {
                assert_eq!(row.iter().filter(|&&b| b).count(), k, "{row:?}");
            }
            let distinct: BTreeSet<&Vec<bool>> = rows.iter().collect();
            assert!(distinct.len() > 1, "random frames must differ across units");
        }
        MaskTime::Block { length, ratio } => {
            let b = t.div_ceil(length);
            let kb = ((ratio * b as f64).round() as usize).max(1);
            for row in rows {
                assert_eq!(aligned_blocks(row, length), kb, "{row:?}");
            }
            let distinct: BTreeSet<&Vec<bool>> = rows.iter().collect();
            assert!(distinct.len() > 1, "blocks are drawn per unit");
        }
        MaskTime::All => panic!("not a temporal mode"),
    }
    rows.iter().flatten().filter(|&&b| b).count()
}

/// Token-level checks shared by tube / ROI / partial ROI: same spatial set
/// as `all`, exact counts, frame rows, determinism and seed dependence.
fn check_token_level(strategy: MaskStrategy, time: MaskTime, spatial: usize, per_token: usize) {
    let all = masker(strategy.clone(), MaskTime::All, 9).mask(4);
    let m = masker(strategy.clone(), time, 9);
    let a = m.mask(4);
    assert_eq!(
        spatial_set(&a),
        spatial_set(&all),
        "same spatial set as all"
    );
    let c = a.counts();
    assert_eq!(c.spatial_tokens, spatial);
    assert_eq!(c.spatial_tokens, all.counts().spatial_tokens);
    assert_eq!(c.tokens, spatial * per_token);
    assert_eq!(c.voxels, spatial * per_token * 216);
    let rows: Vec<Vec<bool>> = token_rows(&a).into_iter().map(|(_, r)| r).collect();
    assert_eq!(check_rows(&rows, time), c.tokens);
    assert!(!a.is_tube());
    assert_eq!(m.mask(4), a, "same seed and clip, same mask");
    assert_ne!(m.mask(5).tokens, a.tokens, "another clip");
    assert_ne!(
        masker(strategy, time, 10).mask(4).tokens,
        a.tokens,
        "another seed"
    );
    // Token level: voxels follow the tokens, frame by frame.
    let last = FRAMES - 1;
    let (x, y, z) = (0..16)
        .flat_map(|x| (0..16).flat_map(move |y| (0..16).map(move |z| (x, y, z))))
        .find(|&(x, y, z)| a.token_masked(x, y, z, 0) != a.token_masked(x, y, z, last))
        .expect("some token masked in one of the first and last frames only");
    for t in [0, last] {
        assert_eq!(
            a.voxel_masked(x * 6 + 1, y * 6 + 2, z * 6 + 3, t),
            a.token_masked(x, y, z, t)
        );
    }
}

/// No masked token is background (majority label 0) or outside `ids`.
fn only_labels(m: &ClipMask, ids: &[u16]) {
    let tokens = TokenMap::from_input(&atlas().1);
    for s in spatial_set(m) {
        assert!(
            ids.contains(&tokens.labels[s]),
            "token {s} has label {}",
            tokens.labels[s]
        );
    }
}

#[test]
fn tube_random_masks_round_ratio_t_frames_of_each_tube_token() {
    // 0.25 of 16³ spatial tokens = 1024; 0.5 of 20 frames = 10.
    check_token_level(MaskStrategy::Tube { ratio: 0.25 }, RANDOM, 1024, 10);
    // Rounding: round(0.33·20) = 7; 0.01·20 rounds to 0, at least 1; 0.5·5
    // = 2.5 rounds up to 3.
    for (ratio, frames, k) in [(0.33, 20, 7), (0.01, 20, 1), (0.5, 5, 3), (1.0, 20, 20)] {
        let time = MaskTime::Random { ratio };
        let m = masker_t(MaskStrategy::Tube { ratio: 0.25 }, time, 1, frames).mask(0);
        assert_eq!(
            m.counts().tokens,
            1024 * k,
            "ratio {ratio} of {frames} frames"
        );
        for (_, row) in token_rows(&m) {
            assert_eq!(row.iter().filter(|&&b| b).count(), k);
        }
    }
}

#[test]
fn tube_block_masks_whole_aligned_blocks() {
    // 20 frames = 5 blocks of 4; round(2.5) = 3 blocks = 12 frames.
    check_token_level(MaskStrategy::Tube { ratio: 0.25 }, BLOCK, 1024, 12);
    // 22 frames: 6 blocks, the last of 2 frames; 3 of them per token, so a
    // token has 12 frames, or 10 when the short block is one of its three.
    let m = masker_t(MaskStrategy::Tube { ratio: 0.25 }, BLOCK, 2, 22).mask(0);
    let rows: Vec<Vec<bool>> = token_rows(&m).into_iter().map(|(_, r)| r).collect();
    assert_eq!(rows.len(), 1024);
    let total = check_rows(&rows, BLOCK);
    let short = rows.iter().filter(|r| r[20]).count();
    assert!(
        short > 0 && short < 1024,
        "{short} tokens hold the last block"
    );
    assert_eq!(total, 1024 * 12 - 2 * short);
    assert_eq!(m.counts().tokens, total);
    // A block as long as the clip is the whole clip: every frame.
    let whole = MaskTime::Block {
        length: 20,
        ratio: 0.5,
    };
    let m = masker(MaskStrategy::Tube { ratio: 0.25 }, whole, 2).mask(0);
    assert!(m.is_tube());
    assert_eq!(m.counts().tokens, 1024 * 20);
}

#[test]
fn roi_token_level_keeps_its_regions_and_masks_their_frames() {
    let cerebellum = lobe_ids(Lobe::Cerebellum);
    check_token_level(
        roi(Lobe::Cerebellum, None, MaskLevel::Token),
        RANDOM,
        196,
        10,
    );
    check_token_level(
        roi(Lobe::Cerebellum, None, MaskLevel::Token),
        BLOCK,
        196,
        12,
    );
    for time in [RANDOM, BLOCK] {
        let m = masker(roi(Lobe::Cerebellum, None, MaskLevel::Token), time, 0).mask(0);
        only_labels(&m, &cerebellum);
        assert_eq!(m.token, MaskToken::Atlas);
    }
}

#[test]
fn partial_roi_draws_the_same_tokens_as_all_then_their_frames() {
    // round(0.5·135) = 68 limbic tokens, drawn per clip as with `all`.
    let limbic = lobe_ids(Lobe::Limbic);
    for (time, k) in [(RANDOM, 10), (BLOCK, 12)] {
        check_token_level(roi(Lobe::Limbic, Some(0.5), MaskLevel::Token), time, 68, k);
        let m = masker(roi(Lobe::Limbic, Some(0.5), MaskLevel::Token), time, 11).mask(0);
        only_labels(&m, &limbic);
    }
}

/// Voxel level: only region voxels, each masked at the frames drawn for
/// its patch; exact counts; the patches are the ones `all` masks.
fn check_voxel_level(lobe: Lobe, partial: Option<f64>, time: MaskTime, region_voxels: usize) {
    let ids = lobe_ids(lobe);
    let input = &atlas().1;
    let all = masker(roi(lobe, partial, MaskLevel::Voxel), MaskTime::All, 11).mask(0);
    let m = masker(roi(lobe, partial, MaskLevel::Voxel), time, 11);
    let a = m.mask(0);
    assert!(a.voxels_vary_in_time() && !all.voxels_vary_in_time());
    assert!(!a.is_tube());
    let c = a.counts();
    assert_eq!(
        (c.tokens, c.spatial_tokens),
        (0, 0),
        "voxel level uses no mask token"
    );
    // Per patch: its frame row (the same for all its masked voxels).
    let mut patch_rows: std::collections::BTreeMap<(usize, usize, usize), Vec<bool>> =
        Default::default();
    let (mut masked, mut in_all) = (0usize, 0usize);
    for (i, &l) in input.labels.iter().enumerate() {
        let (u, v, w) = (i / (96 * 96), i / 96 % 96, i % 96);
        let row: Vec<bool> = (0..FRAMES).map(|t| a.voxel_masked(u, v, w, t)).collect();
        let any = row.iter().any(|&b| b);
        assert_eq!(
            any,
            all.voxel_masked(u, v, w, 0),
            "voxel {u},{v},{w}: same voxels as all"
        );
        if !any {
            continue;
        }
        assert!(
            ids.contains(&l),
            "voxel {u},{v},{w} (label {l}) is not in the region"
        );
        in_all += 1;
        masked += row.iter().filter(|&&b| b).count();
        let key = (u / 6, v / 6, w / 6);
        match patch_rows.get(&key) {
            Some(r) => assert_eq!(r, &row, "voxels of patch {key:?} share their frames"),
            None => {
                patch_rows.insert(key, row);
            }
        }
    }
    if partial.is_none() {
        assert_eq!(in_all, region_voxels, "every region voxel, as without time");
    }
    let rows: Vec<Vec<bool>> = patch_rows.into_values().collect();
    check_rows(&rows, time);
    let k = match time {
        MaskTime::Random { .. } => 10,
        _ => 12,
    };
    assert_eq!(masked, in_all * k);
    assert_eq!(c.voxels, masked, "counts() is exact");
    assert_eq!(m.mask(0), a, "deterministic");
    assert_ne!(m.mask(1), a, "drawn per clip");
}

#[test]
fn roi_voxel_level_masks_each_patch_at_its_own_frames() {
    for time in [RANDOM, BLOCK] {
        check_voxel_level(Lobe::Cerebellum, None, time, 24_414);
    }
}

#[test]
fn partial_roi_at_voxel_level_keeps_its_patches() {
    // round(0.5·260) = 130 of the patches holding limbic voxels, as `all`.
    check_voxel_level(Lobe::Limbic, Some(0.5), BLOCK, 0);
    let a = masker(roi(Lobe::Limbic, Some(0.5), MaskLevel::Voxel), RANDOM, 11).mask(0);
    let mut patches = BTreeSet::new();
    for i in 0..96 * 96 * 96 {
        let (u, v, w) = (i / (96 * 96), i / 96 % 96, i % 96);
        if (0..FRAMES).any(|t| a.voxel_masked(u, v, w, t)) {
            patches.insert((u / 6, v / 6, w / 6));
        }
    }
    assert_eq!(patches.len(), 130);
}

#[test]
fn window_masking_draws_spatial_windows_then_their_frames() {
    // 16³ tokens = 4³ = 64 spatial windows of 4³ tokens; half = 32, each
    // whole in space, its 64 tokens sharing the window's frames.
    for (window, time, k) in [
        ([4, 4, 4, 1], RANDOM, 10),
        ([4, 4, 4, 4], BLOCK, 12),
        ([4, 4, 4, 1], BLOCK, 12),
    ] {
        let strategy = MaskStrategy::Window { ratio: 0.5, window };
        let m = masker(strategy.clone(), time, 5);
        let a = m.mask(3);
        let c = a.counts();
        assert_eq!(c.spatial_tokens, 32 * 64);
        assert_eq!(c.tokens, 32 * 64 * k);
        assert_eq!(a.token, MaskToken::Window);
        // The spatial set is that of windows spanning the clip under `all`.
        let tubes = MaskStrategy::Window {
            ratio: 0.5,
            window: [4, 4, 4, FRAMES],
        };
        assert_eq!(
            spatial_set(&a),
            spatial_set(&masker(tubes, MaskTime::All, 5).mask(3))
        );
        let mut rows = Vec::new();
        for (wx, wy, wz) in
            (0..4).flat_map(|x| (0..4).flat_map(move |y| (0..4).map(move |z| (x, y, z))))
        {
            let row: Vec<bool> = (0..FRAMES)
                .map(|t| a.token_masked(wx * 4, wy * 4, wz * 4, t))
                .collect();
            for d in 0..64 {
                let (x, y, z) = (wx * 4 + d / 16, wy * 4 + d / 4 % 4, wz * 4 + d % 4);
                for t in 0..FRAMES {
                    assert_eq!(
                        a.token_masked(x, y, z, t),
                        row[t],
                        "window {wx},{wy},{wz} is whole"
                    );
                }
            }
            if row.iter().any(|&b| b) {
                rows.push(row);
            }
        }
        assert_eq!(rows.len(), 32);
        assert_eq!(check_rows(&rows, time) * 64, c.tokens);
        assert_eq!(m.mask(3), a);
    }
}

#[test]
fn atlas_masking_takes_a_temporal_mode_too() {
    let all = masker(MaskStrategy::Atlas { ratio: 0.5 }, MaskTime::All, 2).mask(1);
    let a = masker(MaskStrategy::Atlas { ratio: 0.5 }, BLOCK, 2).mask(1);
    assert_eq!(spatial_set(&a), spatial_set(&all));
    let n = all.counts().spatial_tokens;
    assert_eq!(a.counts().tokens, n * 12);
    let tokens = TokenMap::from_input(&atlas().1);
    assert!(
        spatial_set(&a).iter().all(|&s| tokens.labels[s] > 0),
        "background never masked"
    );
}

#[test]
fn all_is_the_default_and_changes_nothing() {
    assert_eq!(MaskSpec::default().time, MaskTime::All);
    assert_eq!(MaskTime::default(), MaskTime::All);
    // Old TOML without `time` reads as `all`, and `all` is not written.
    let old: MaskSpec = toml::from_str("kind = \"tube\"\nratio = 0.25\nseed = 3\n").unwrap();
    assert_eq!(old.time, MaskTime::All);
    assert!(!toml::to_string(&old).unwrap().contains("time"));
    let explicit: MaskSpec =
        toml::from_str("kind = \"tube\"\nratio = 0.25\nseed = 3\ntime = \"all\"\n").unwrap();
    assert_eq!(explicit, old);
    let table: MaskSpec =
        toml::from_str("kind = \"tube\"\nratio = 0.25\nseed = 3\ntime = { mode = \"all\" }\n")
            .unwrap();
    assert_eq!(table, old);
    assert_eq!(
        toml::from_str::<MaskSpec>("kind = \"window\"\nratio = 0.5\n").unwrap(),
        MaskSpec::default()
    );
    // `all` draws the masks it always drew: tubes.
    let m = masker(MaskStrategy::Tube { ratio: 0.25 }, MaskTime::All, 3).mask(5);
    assert!(m.is_tube());
    assert_eq!(m.counts().tokens, 1024 * FRAMES);
    assert!(
        !spec(MaskStrategy::Tube { ratio: 0.25 }, MaskTime::All, 0)
            .describe()
            .contains("time")
    );
}

#[test]
fn temporal_modes_round_trip_through_toml_and_describe_themselves() {
    let block: MaskSpec = toml::from_str(
        r#"
kind = "roi"
level = "voxel"
seed = 4
[regions]
lobes = ["limbic"]
[time]
mode = "block"
length = 4
ratio = 0.5
"#,
    )
    .unwrap();
    assert_eq!(block.time, BLOCK);
    let inline: MaskSpec = toml::from_str(
        "kind = \"tube\"\nratio = 0.5\ntime = { mode = \"random\", ratio = 0.25 }\n",
    )
    .unwrap();
    assert_eq!(inline.time, MaskTime::Random { ratio: 0.25 });
    assert_eq!(inline.strategy, MaskStrategy::Tube { ratio: 0.5 });
    for s in [&block, &inline] {
        let text = toml::to_string(s).unwrap();
        assert_eq!(&toml::from_str::<MaskSpec>(&text).unwrap(), s, "{text}");
    }
    assert!(block.describe().contains("voxel level"));
    assert!(
        block.describe().contains("time: 4-frame blocks, ratio 0.5"),
        "{}",
        block.describe()
    );
    assert!(
        inline
            .describe()
            .contains("time: random frames, ratio 0.25"),
        "{}",
        inline.describe()
    );
    // In a run config: `[mask.time]` under `[mask]`, saved and loaded.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.toml");
    std::fs::write(
        &path,
        "[mask]\nkind = \"tube\"\nratio = 0.5\n[mask.time]\nmode = \"block\"\nlength = 4\nratio = 0.5\n",
    )
    .unwrap();
    let cfg = RunConfig::load(&path).unwrap();
    assert_eq!(cfg.mask.time, BLOCK);
    cfg.save(&path).unwrap();
    assert_eq!(RunConfig::load(&path).unwrap(), cfg);
}

#[test]
fn bad_temporal_settings_are_refused_with_one_line_naming_the_field() {
    let tube = MaskStrategy::Tube { ratio: 0.5 };
    let window = |t| MaskStrategy::Window {
        ratio: 0.5,
        window: [4, 4, 4, t],
    };
    for (strategy, time, needles) in [
        (
            tube.clone(),
            MaskTime::Random { ratio: 0.0 },
            &["time ratio", "(0, 1]"][..],
        ),
        (
            tube.clone(),
            MaskTime::Random { ratio: 1.5 },
            &["time ratio", "1.5"],
        ),
        (
            tube.clone(),
            MaskTime::Block {
                length: 4,
                ratio: 0.0,
            },
            &["time ratio"],
        ),
        (
            tube.clone(),
            MaskTime::Block {
                length: 0,
                ratio: 0.5,
            },
            &["length", "at least 1"],
        ),
        (
            MaskStrategy::Random { ratio: 0.5 },
            BLOCK,
            &["random token masking", "time = \"all\""],
        ),
        (
            window(4),
            RANDOM,
            &["window t size 4", "set the window's t to 1"],
        ),
        (
            window(2),
            BLOCK,
            &["window t size 2", "1 or the block length 4"],
        ),
    ] {
        let s = spec(strategy, time, 0);
        let err = s.validate().unwrap_err();
        let text = err.to_string();
        for n in needles {
            assert!(text.contains(n), "{time:?}: {text}");
        }
        assert!(!text.contains('\n'), "{text}");
        let (atlas, input) = atlas();
        assert_eq!(
            Masker::new(&s, input, &atlas.regions, FRAMES).unwrap_err(),
            err
        );
    }
    assert!(matches!(
        spec(
            tube.clone(),
            MaskTime::Block {
                length: 0,
                ratio: 0.5
            },
            0
        )
        .validate(),
        Err(MaskError::BlockLength)
    ));
    // In a run config the error names `[mask]`, the file and the field.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.toml");
    for (time, needle) in [
        (
            "[mask.time]\nmode = \"block\"\nlength = 0\nratio = 0.5",
            "length",
        ),
        ("[mask.time]\nmode = \"random\"\nratio = 2.0", "time ratio"),
        ("[mask.time]\nmode = \"block\"\nratio = 0.5", "length"),
        ("[mask.time]\nmode = \"sometimes\"", "sometimes"),
    ] {
        std::fs::write(
            &path,
            format!("[mask]\nkind = \"tube\"\nratio = 0.5\n{time}\n"),
        )
        .unwrap();
        let err = RunConfig::load(&path).unwrap_err().to_string();
        assert!(
            err.contains(needle) && err.contains("run.toml"),
            "{time}: {err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }
    for text in [
        "time = \"block\"",
        "time = { mode = \"random\", ratio = 0.5, length = 4 }",
    ] {
        let err = toml::from_str::<MaskSpec>(&format!("kind = \"tube\"\nratio = 0.5\n{text}\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("length"), "{text}: {err}");
    }
}

#[test]
fn per_frame_voxel_masks_reach_the_batch_tensor_and_the_loss() {
    // A 6³ input, 2³ tokens of 3³ voxels, 2 frames. Clip 0: voxel (0,0,0)
    // masked at frame 1 only; clip 1 (shared over frames): voxel 100.
    let device = Device::flex();
    let grid = TokenGrid {
        spatial: [2, 2, 2],
        frames: 2,
    };
    let mut per_frame = vec![false; 216 * 2];
    per_frame[1] = true;
    let mut shared = vec![false; 216];
    shared[100] = true;
    let clip = |voxels| ClipMask {
        grid,
        patch: 3,
        tokens: vec![false; 16],
        voxels: Some(voxels),
        token: MaskToken::Atlas,
    };
    let masks = [clip(per_frame), clip(shared)];
    assert_eq!(masks[0].counts().voxels, 1);
    assert_eq!(masks[1].counts().voxels, 2);
    assert!(masks[0].voxel_masked(0, 0, 0, 1) && !masks[0].voxel_masked(0, 0, 0, 0));
    let batch = BatchMask::from_clip_masks(&masks, &device);
    let v = batch.voxels.clone().unwrap();
    assert_eq!(v.dims(), [2, 6, 6, 6, 2]);
    let values: Vec<f32> = v.into_data().try_to_vec::<f32>().unwrap();
    let on: Vec<usize> = (0..values.len()).filter(|&i| values[i] == 1.0).collect();
    // Clip 0: (voxel 0, t 1); clip 1: voxel 100 at t 0 and 1.
    assert_eq!(on, vec![1, 432 + 200, 432 + 201]);
    // Prediction error 1 everywhere but 3 at clip 0 voxel 0 frame 1: the
    // loss is the mean squared error over the three masked voxel-frames.
    let target = Tensor::<6>::zeros([2, 1, 6, 6, 6, 2], &device);
    let pred = Tensor::<6>::ones([2, 1, 6, 6, 6, 2], &device)
        .slice_fill(s![0, 0, 0..1, 0..1, 0..1, 1], 3.0);
    let loss = masked_mse(pred.clone(), target.clone(), &batch, 3).into_scalar::<f32>();
    assert!((loss - (9.0 + 1.0 + 1.0) / 3.0).abs() < 1e-6, "{loss}");
    // Shared masks alone keep the broadcast `[B, X, Y, Z, 1]` tensor.
    let shared_only = BatchMask::from_clip_masks(&masks[1..], &device);
    assert_eq!(shared_only.voxels.unwrap().dims(), [1, 6, 6, 6, 1]);
}

#[test]
fn pretraining_with_block_temporal_voxel_roi_masks_runs_with_finite_loss() {
    let mut cfg = RunConfig {
        data: DataConfig::Synthetic(SyntheticData {
            subjects: 4,
            frames: 24,
            ..SyntheticData::default()
        }),
        batch_size: 2,
        max_steps: Some(2),
        val_every: 2,
        val_fraction: 0.25,
        device: DeviceChoice::Cpu,
        preview_every: 0,
        ..RunConfig::default()
    };
    cfg.mask = spec(roi(Lobe::Limbic, None, MaskLevel::Voxel), BLOCK, 1);
    let dir = tempfile::tempdir().unwrap();
    let handle = TrainHandle::start(cfg, dir.path().join("run"), false, || {}).expect("start");
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(240);
    while handle.is_running() {
        assert!(Instant::now() < deadline, "run took too long");
        events.extend(handle.poll());
        std::thread::sleep(Duration::from_millis(5));
    }
    events.extend(handle.wait());
    if let Some(TrainEvent::Failed(e)) = events.last() {
        panic!("run failed: {e}");
    }
    let losses: Vec<f64> = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Step { loss, .. } => Some(*loss),
            _ => None,
        })
        .collect();
    assert_eq!(losses.len(), 2);
    assert!(
        losses.iter().all(|l| l.is_finite() && *l > 0.0),
        "{losses:?}"
    );
}

#[test]
fn results_md_names_the_temporal_mode_of_each_strategy() {
    use roimae::eval::ExperimentConfig;
    use roimae::eval::exp_markdown::results_markdown;
    let mut cfg = ExperimentConfig::demo();
    let names: Vec<String> = cfg.all_strategies().into_iter().map(|s| s.name).collect();
    assert!(names.len() > 1);
    let md = results_markdown(&cfg, &[], &[], &[], 10);
    for n in &names {
        assert!(md.contains(&format!("{n} `all` (every frame)")), "{md}");
    }
    cfg.pretrain.mask.time = BLOCK;
    let md = results_markdown(&cfg, &[], &[], &[], 10);
    let line = md
        .lines()
        .find(|l| l.starts_with("Temporal masking: "))
        .expect("a temporal masking line");
    for n in &names {
        assert!(
            line.contains(&format!("{n} `block` (4-frame blocks, ratio 0.5)")),
            "{line}"
        );
    }
}

#[test]
fn results_md_names_each_strategys_own_temporal_mode() {
    use roimae::eval::ExperimentConfig;
    use roimae::eval::exp_config::{Grid, Strategy, time_suffix};
    use roimae::eval::exp_markdown::results_markdown;
    let mut cfg = ExperimentConfig {
        grid: Grid {
            lobes: vec![Lobe::Limbic],
            ..Grid::default()
        },
        ..ExperimentConfig::demo()
    };
    let limbic = cfg.all_strategies()[0].clone();
    cfg.strategies.push(Strategy {
        name: format!("roi-limbic{}", time_suffix(BLOCK, MaskTime::All)),
        time: Some(BLOCK),
        ..limbic
    });
    cfg.strategies.push(Strategy {
        name: "tube-trand50".into(),
        mask: MaskStrategy::Tube { ratio: 0.5 },
        time: Some(RANDOM),
    });
    cfg.validate().unwrap();
    let md = results_markdown(&cfg, &[], &[], &[], 10);
    let line = md
        .lines()
        .find(|l| l.starts_with("Temporal masking: "))
        .expect("a temporal masking line");
    assert_eq!(
        line,
        "Temporal masking: roi-limbic `all` (every frame); roi-limbic-tblock4 `block` \
         (4-frame blocks, ratio 0.5); tube-trand50 `random` (random frames, ratio 0.5)."
    );
}

#[test]
fn the_training_tab_carries_its_temporal_mode_or_says_why_not() {
    use roimae::dashboard::run_setup::{MaskMode, TimeKind, TimeSetup};
    use roimae::gui::{Startup, ViewerApp};
    let mut app = ViewerApp::new(&Startup::default(), None, None).unwrap();
    let d = &mut app.dashboard;
    d.mask_mode = MaskMode::Random;
    d.time = TimeSetup {
        kind: TimeKind::Block,
        ..TimeSetup::default()
    };
    let runs = tempfile::tempdir().unwrap();
    d.runs_root = runs.path().to_path_buf();
    d.start(&app.state, MaskLevel::Token, None);
    let d = &app.dashboard;
    assert!(d.handle.is_none(), "no run starts");
    let msg = d.message.as_ref().expect("a notice");
    assert!(msg.is_error(), "{msg}");
    assert!(msg.to_string().contains("random token masking"), "{msg}");
    assert_eq!(std::fs::read_dir(runs.path()).unwrap().count(), 0);
}
