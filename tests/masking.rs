//! Masking strategies: exact counts (region numbers from numpy, see
//! tests/data/atlas_truth.py), ratios, no background masked, tubes are the
//! same every frame, determinism under a seed, and the TOML form.

use roimae::atlas::{Atlas, InputLabels, Lobe, TokenGeometry, TokenMap};
use roimae::masking::{ClipMask, MaskLevel, MaskSpec, MaskStrategy, Masker, RegionSelection};
use roimae::volume::Grid;
use std::sync::OnceLock;

const FRAMES: usize = 20;

fn atlas() -> &'static (Atlas, InputLabels) {
    static CELL: OnceLock<(Atlas, InputLabels)> = OnceLock::new();
    CELL.get_or_init(|| {
        let atlas = Atlas::aal3().unwrap();
        let input = atlas.input_labels(&Grid::mni_2mm(), TokenGeometry::REFERENCE);
        (atlas, input)
    })
}

fn masker(strategy: MaskStrategy, seed: u64) -> Masker {
    let (atlas, input) = atlas();
    let spec = MaskSpec {
        strategy,
        seed,
        time: Default::default(),
    };
    Masker::new(&spec, input, &atlas.regions, FRAMES).unwrap()
}

fn roi(lobes: &[Lobe], names: &[&str], partial: Option<f64>, level: MaskLevel) -> MaskStrategy {
    MaskStrategy::Roi {
        regions: RegionSelection {
            lobes: lobes.to_vec(),
            names: names.iter().map(|s| s.to_string()).collect(),
        },
        partial,
        level,
    }
}

/// Every masked token's majority label is one of `ids`.
fn only_labels(mask: &ClipMask, ids: &[u16]) {
    let tokens = TokenMap::from_input(&atlas().1);
    for s in 0..mask.grid.n_spatial() {
        if mask.tokens[s * FRAMES] {
            assert!(
                ids.contains(&tokens.labels[s]),
                "token {s} has label {}",
                tokens.labels[s]
            );
        }
    }
}

fn lobe_ids(lobe: Lobe) -> Vec<u16> {
    atlas().0.regions.in_group(lobe).map(|r| r.id).collect()
}

#[test]
fn reference_window_masking_hides_half_of_the_4d_windows_whole() {
    let m = masker(MaskSpec::default().strategy, 1).mask(0);
    let c = m.counts();
    // 16x16x16x20 tokens = 4x4x4x5 = 320 windows of 256; half of them.
    assert_eq!(c.tokens, 160 * 256);
    assert_eq!(c.voxels, 160 * 256 * 216);
    for wx in 0..4 {
        for wy in 0..4 {
            for wz in 0..4 {
                for wt in 0..5 {
                    let first = m.token_masked(wx * 4, wy * 4, wz * 4, wt * 4);
                    for d in 0..256 {
                        let (x, y, z, t) = (d / 64, d / 16 % 4, d / 4 % 4, d % 4);
                        assert_eq!(
                            m.token_masked(wx * 4 + x, wy * 4 + y, wz * 4 + z, wt * 4 + t),
                            first
                        );
                    }
                }
            }
        }
    }
    assert!(!m.is_tube());
}

#[test]
fn random_masking_has_the_exact_ratio_and_is_deterministic() {
    let a = masker(MaskStrategy::Random { ratio: 0.3 }, 7);
    let m0 = a.mask(0);
    assert_eq!(
        m0.counts().tokens,
        (0.3f64 * 16.0 * 16.0 * 16.0 * 20.0).round() as usize
    );
    assert_eq!(a.mask(0), m0, "same seed and clip, same mask");
    assert_ne!(a.mask(1), m0, "another clip, another mask");
    assert_ne!(
        masker(MaskStrategy::Random { ratio: 0.3 }, 8).mask(0),
        m0,
        "another seed"
    );
}

#[test]
fn tube_masking_is_the_same_in_every_frame() {
    let m = masker(MaskStrategy::Tube { ratio: 0.25 }, 3).mask(5);
    assert!(m.is_tube());
    let c = m.counts();
    assert_eq!(c.spatial_tokens, 1024);
    assert_eq!(c.tokens, 1024 * FRAMES);
}

#[test]
fn cerebellum_roi_at_token_level() {
    let m = masker(roi(&[Lobe::Cerebellum], &[], None, MaskLevel::Token), 0).mask(0);
    let c = m.counts();
    assert_eq!(c.spatial_tokens, 196);
    assert_eq!(c.tokens, 196 * FRAMES);
    assert_eq!(c.voxels, 196 * 216 * FRAMES);
    assert!(m.is_tube());
    only_labels(&m, &lobe_ids(Lobe::Cerebellum));
}

#[test]
fn cerebellum_roi_at_voxel_level_masks_exactly_its_voxels() {
    let m = masker(roi(&[Lobe::Cerebellum], &[], None, MaskLevel::Voxel), 0).mask(0);
    let c = m.counts();
    assert_eq!(c.tokens, 0, "voxel level uses no mask token");
    assert_eq!(c.voxels, 24_414 * FRAMES);
    let input = &atlas().1;
    let cerebellum = lobe_ids(Lobe::Cerebellum);
    for (i, &l) in input.labels.iter().enumerate() {
        let (u, v, w) = (i / (96 * 96), i / 96 % 96, i % 96);
        assert_eq!(
            m.voxel_masked(u, v, w, 7),
            cerebellum.contains(&l),
            "voxel {u},{v},{w}"
        );
    }
}

#[test]
fn lobes_combine_and_named_regions_resolve() {
    let both = masker(
        roi(
            &[Lobe::Limbic, Lobe::Cerebellum],
            &[],
            None,
            MaskLevel::Token,
        ),
        0,
    );
    assert_eq!(both.roi_token_count(), Some(135 + 196));
    let one = masker(roi(&[], &["Precentral_L"], None, MaskLevel::Token), 0);
    assert_eq!(one.roi_token_count(), Some(30));
    let (atlas, input) = atlas();
    let bad = MaskSpec {
        strategy: roi(&[], &["Hippocampus"], None, MaskLevel::Token),
        seed: 0,
        time: Default::default(),
    };
    let err = Masker::new(&bad, input, &atlas.regions, FRAMES)
        .unwrap_err()
        .to_string();
    assert!(err.contains("Hippocampus_L"), "{err}");
}

#[test]
fn partial_roi_masks_half_of_the_region_drawn_per_clip() {
    let m = masker(roi(&[Lobe::Limbic], &[], Some(0.5), MaskLevel::Token), 11);
    let a = m.mask(0);
    assert_eq!(a.counts().spatial_tokens, 68); // round(0.5 * 135)
    only_labels(&a, &lobe_ids(Lobe::Limbic));
    assert!(a.is_tube());
    assert_ne!(m.mask(1), a);
    let v = masker(roi(&[Lobe::Limbic], &[], Some(0.5), MaskLevel::Voxel), 11).mask(0);
    let voxels = v.counts().voxels / FRAMES;
    assert!(
        voxels > 0 && voxels < 15_739,
        "partial voxel mask has {voxels} voxels"
    );
}

#[test]
fn voxel_level_partial_draws_from_every_patch_the_region_touches() {
    // 241 of the 6³ patches hold a cerebellum voxel and 260 a limbic one
    // (numpy, tests/data/atlas_truth.py). `partial = 1.0` takes them all,
    // so it masks every region voxel, exactly as no partial does.
    let full = masker(
        roi(&[Lobe::Cerebellum], &[], Some(1.0), MaskLevel::Voxel),
        4,
    )
    .mask(0);
    assert_eq!(full.counts().voxels, 24_414 * FRAMES);
    let none = masker(roi(&[Lobe::Cerebellum], &[], None, MaskLevel::Voxel), 4).mask(0);
    assert_eq!(full, none);
    // Half: the masked voxels are limbic and lie in round(0.5 * 260) patches.
    let half = masker(roi(&[Lobe::Limbic], &[], Some(0.5), MaskLevel::Voxel), 11).mask(0);
    let limbic = lobe_ids(Lobe::Limbic);
    let mut patches = std::collections::BTreeSet::new();
    for (i, &l) in atlas().1.labels.iter().enumerate() {
        let (u, v, w) = (i / (96 * 96), i / 96 % 96, i % 96);
        if half.voxel_masked(u, v, w, 3) {
            assert!(limbic.contains(&l), "voxel {u},{v},{w} is not limbic");
            patches.insert((u / 6, v / 6, w / 6));
        }
    }
    assert_eq!(patches.len(), 130);
}

#[test]
fn spec_reads_from_toml_and_refuses_bad_ratios() {
    let spec: MaskSpec = toml::from_str(
        r#"
kind = "roi"
seed = 42
partial = 0.5
level = "voxel"
[regions]
lobes = ["limbic"]
names = ["Precentral_L"]
"#,
    )
    .unwrap();
    assert_eq!(spec.seed, 42);
    assert!(spec.describe().contains("voxel level"));
    let back: MaskSpec = toml::from_str(&toml::to_string(&spec).unwrap()).unwrap();
    assert_eq!(back, spec);
    let window: MaskSpec = toml::from_str("kind = \"window\"\nratio = 0.5\n").unwrap();
    assert_eq!(window, MaskSpec::default());
    let bad = MaskSpec {
        strategy: MaskStrategy::Random { ratio: 1.5 },
        seed: 0,
        time: Default::default(),
    };
    assert!(bad.validate().unwrap_err().to_string().contains("(0, 1]"));
}
