//! Colour maps for slices and overlays (256-entry lookup tables the slice
//! shader samples) and the stable per-region colours of the atlas overlay.

use crate::atlas::{Hemisphere, Lobe, Region, RegionTable};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A colour map from a normalised value in [0, 1] to RGBA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorMap {
    /// Black to white.
    #[default]
    Gray,
    /// Black, red, yellow, white (matplotlib `hot`).
    Hot,
    /// Perceptually uniform dark blue, green, yellow (matplotlib `viridis`).
    Viridis,
    /// Perceptually uniform black, purple, orange, pale yellow (`inferno`).
    Inferno,
    /// Cyan to magenta (matplotlib `cool`).
    Cool,
    /// Diverging blue, white, red for signed maps (ColorBrewer `RdBu`,
    /// reversed so negative is blue).
    RedBlue,
}

/// Control points of matplotlib's `viridis` (entries 0, 32, ..., 224, 255
/// of its 256-entry table, `matplotlib/_cm_listed.py`, CC0, by Stéfan van
/// der Walt and Nathaniel Smith), interpolated linearly in between.
const VIRIDIS: [[f32; 3]; 9] = [
    [0.267004, 0.004874, 0.329415],
    [0.278826, 0.175490, 0.483397],
    [0.229739, 0.322361, 0.545706],
    [0.172719, 0.448791, 0.557885],
    [0.127568, 0.566949, 0.550556],
    [0.157851, 0.683765, 0.501686],
    [0.369214, 0.788888, 0.382914],
    [0.678489, 0.863742, 0.189503],
    [0.993248, 0.906157, 0.143936],
];

/// Control points of matplotlib's `inferno` (same entries and source).
const INFERNO: [[f32; 3]; 9] = [
    [0.001462, 0.000466, 0.013866],
    [0.129285, 0.047293, 0.290788],
    [0.341500, 0.062325, 0.429425],
    [0.540920, 0.134729, 0.415123],
    [0.735683, 0.215906, 0.330245],
    [0.894305, 0.353399, 0.193584],
    [0.978422, 0.557937, 0.034931],
    [0.974638, 0.797692, 0.206332],
    [0.988362, 0.998364, 0.644924],
];

/// Where the control points sit: table entry / 255.
const LISTED_POSITIONS: [f32; 9] = [
    0.0,
    32.0 / 255.0,
    64.0 / 255.0,
    96.0 / 255.0,
    128.0 / 255.0,
    160.0 / 255.0,
    192.0 / 255.0,
    224.0 / 255.0,
    1.0,
];

/// ColorBrewer RdBu (11 classes, Cynthia Brewer, Apache-2.0), reversed:
/// dark blue at 0, near-white #f7f7f7 at 0.5, dark red at 1; evenly spaced.
const RED_BLUE: [[u8; 3]; 11] = [
    [0x05, 0x30, 0x61],
    [0x21, 0x66, 0xac],
    [0x43, 0x93, 0xc3],
    [0x92, 0xc5, 0xde],
    [0xd1, 0xe5, 0xf0],
    [0xf7, 0xf7, 0xf7],
    [0xfd, 0xdb, 0xc7],
    [0xf4, 0xa5, 0x82],
    [0xd6, 0x60, 0x4d],
    [0xb2, 0x18, 0x2b],
    [0x67, 0x00, 0x1f],
];

impl ColorMap {
    /// All maps in menu order.
    pub const ALL: [ColorMap; 6] = [
        ColorMap::Gray,
        ColorMap::Hot,
        ColorMap::Viridis,
        ColorMap::Inferno,
        ColorMap::Cool,
        ColorMap::RedBlue,
    ];

    /// The name shown in menus.
    pub fn name(self) -> &'static str {
        match self {
            ColorMap::Gray => "gray",
            ColorMap::Hot => "hot",
            ColorMap::Viridis => "viridis",
            ColorMap::Inferno => "inferno",
            ColorMap::Cool => "cool",
            ColorMap::RedBlue => "red-blue",
        }
    }

    /// Whether the map is meant for signed data centred on zero.
    pub fn is_diverging(self) -> bool {
        self == ColorMap::RedBlue
    }

    /// The 256-entry lookup table (entry `i` = `sample(i / 255)`).
    pub fn lut(self) -> Vec<[u8; 4]> {
        (0..256).map(|i| self.sample(i as f32 / 255.0)).collect()
    }

    /// The colour at `t` (clamped to [0, 1]; NaN reads as 0), alpha 255.
    pub fn sample(self, t: f32) -> [u8; 4] {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let [r, g, b] = match self {
            ColorMap::Gray => [t, t, t],
            ColorMap::Hot => [
                (t * 8.0 / 3.0).min(1.0),
                (t * 8.0 / 3.0 - 1.0).clamp(0.0, 1.0),
                (t * 4.0 - 3.0).max(0.0),
            ],
            ColorMap::Viridis => interpolate(&LISTED_POSITIONS, &VIRIDIS, t),
            ColorMap::Inferno => interpolate(&LISTED_POSITIONS, &INFERNO, t),
            ColorMap::Cool => [t, 1.0 - t, 1.0],
            ColorMap::RedBlue => {
                let points = RED_BLUE.map(|c| c.map(|v| v as f32 / 255.0));
                let positions: [f32; 11] = std::array::from_fn(|i| i as f32 / 10.0);
                interpolate(&positions, &points, t)
            }
        };
        [to_byte(r), to_byte(g), to_byte(b), 255]
    }
}

/// Piecewise-linear interpolation of `colours` placed at ascending
/// `positions` (first 0, last 1).
fn interpolate(positions: &[f32], colours: &[[f32; 3]], t: f32) -> [f32; 3] {
    let upper = positions
        .iter()
        .position(|&p| p >= t)
        .unwrap_or(positions.len() - 1)
        .max(1);
    let (p0, p1) = (positions[upper - 1], positions[upper]);
    let w = if p1 > p0 { (t - p0) / (p1 - p0) } else { 0.0 };
    let (c0, c1) = (colours[upper - 1], colours[upper]);
    std::array::from_fn(|i| c0[i] + (c1[i] - c0[i]) * w)
}

/// A [0, 1] channel as a byte, rounded.
fn to_byte(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// Base hue (degrees) of each lobe; neighbours are 51° apart and each lobe
/// varies within ±18° of its base, so lobes never share a hue.
fn lobe_hue(lobe: Lobe) -> f32 {
    let index = Lobe::ALL.iter().position(|&l| l == lobe).unwrap_or(0);
    // Frontal blue, then round the wheel.
    (215.0 + index as f32 * 360.0 / 7.0) % 360.0
}

/// A stable distinct colour per region: hue family by lobe, varied within
/// the lobe; L and R of a pair get the same colour. Unknown ids are gray.
/// (Costs a pass over the table; [`region_palette`] colours all at once.)
pub fn region_colour(table: &RegionTable, id: u16) -> [u8; 3] {
    region_palette(table)
        .get(&id)
        .copied()
        .unwrap_or([128, 128, 128])
}

/// The [`region_colour`] of every region of `table`, keyed by label id.
pub fn region_palette(table: &RegionTable) -> BTreeMap<u16, [u8; 3]> {
    let mut palette = BTreeMap::new();
    for lobe in Lobe::ALL {
        // Pairs (names without _L/_R) in label order; a region's rank is
        // its pair's position.
        let mut stems: Vec<&str> = Vec::new();
        for region in table.in_group(lobe) {
            let stem = pair_stem(region);
            let rank = match stems.iter().position(|s| *s == stem) {
                Some(rank) => rank,
                None => {
                    stems.push(stem);
                    stems.len() - 1
                }
            };
            palette.insert(region.id, pair_colour(lobe, rank));
        }
    }
    palette
}

/// The name shared by both sides of a pair (`Hippocampus` for
/// `Hippocampus_L`); midline regions keep their name.
fn pair_stem(region: &Region) -> &str {
    let suffix = match region.hemisphere {
        Hemisphere::L => "_L",
        Hemisphere::R => "_R",
        Hemisphere::M => return &region.name,
    };
    region.name.strip_suffix(suffix).unwrap_or(&region.name)
}

/// The colour of the `rank`-th pair of `lobe`: golden-ratio steps spread
/// neighbouring pairs across the lobe's hue window, and lightness and
/// saturation cycle so pairs with close hues still differ.
fn pair_colour(lobe: Lobe, rank: usize) -> [u8; 3] {
    let spread = (rank as f32 * 0.618_034).fract();
    let hue = lobe_hue(lobe) + (spread - 0.5) * 36.0;
    let lightness = [0.45, 0.60, 0.72][rank % 3];
    let saturation = [0.80, 0.65][(rank / 3) % 2];
    hsl_to_rgb(hue, saturation, lightness)
}

/// HSL (hue in degrees, saturation and lightness in [0, 1]) to RGB bytes.
fn hsl_to_rgb(hue: f32, s: f32, l: f32) -> [u8; 3] {
    let h = hue.rem_euclid(360.0) / 60.0;
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    [to_byte(r + m), to_byte(g + m), to_byte(b + m)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::test_support::aal3_table;
    use std::collections::BTreeSet;

    /// Rec. 709 relative luminance of a byte colour (no gamma; ordering only).
    fn luminance(c: [u8; 4]) -> f32 {
        0.2126 * c[0] as f32 + 0.7152 * c[1] as f32 + 0.0722 * c[2] as f32
    }

    #[test]
    fn endpoints_match_the_published_maps() {
        assert_eq!(ColorMap::Gray.sample(0.0), [0, 0, 0, 255]);
        assert_eq!(ColorMap::Gray.sample(1.0), [255, 255, 255, 255]);
        assert_eq!(ColorMap::Gray.sample(0.5), [128, 128, 128, 255]);
        assert_eq!(ColorMap::Hot.sample(0.0), [0, 0, 0, 255]);
        assert_eq!(ColorMap::Hot.sample(1.0), [255, 255, 255, 255]);
        // hot at 3/8: red saturated, green just starting.
        assert_eq!(ColorMap::Hot.sample(0.375), [255, 0, 0, 255]);
        // viridis #440154 .. #21918c (middle) .. #fde725.
        assert_eq!(ColorMap::Viridis.sample(0.0), [0x44, 0x01, 0x54, 255]);
        assert_eq!(
            ColorMap::Viridis.sample(128.0 / 255.0),
            [0x21, 0x91, 0x8c, 255]
        );
        assert_eq!(ColorMap::Viridis.sample(1.0), [0xfd, 0xe7, 0x25, 255]);
        // inferno #000004 .. #fcffa4.
        assert_eq!(ColorMap::Inferno.sample(0.0), [0x00, 0x00, 0x04, 255]);
        assert_eq!(ColorMap::Inferno.sample(1.0), [0xfc, 0xff, 0xa4, 255]);
        assert_eq!(ColorMap::Cool.sample(0.0), [0, 255, 255, 255]);
        assert_eq!(ColorMap::Cool.sample(1.0), [255, 0, 255, 255]);
        // Out of range and NaN clamp instead of panicking.
        assert_eq!(ColorMap::Gray.sample(-3.0), [0, 0, 0, 255]);
        assert_eq!(ColorMap::Gray.sample(7.0), [255, 255, 255, 255]);
        assert_eq!(ColorMap::Gray.sample(f32::NAN), [0, 0, 0, 255]);
    }

    #[test]
    fn sequential_maps_get_brighter_along_the_table() {
        for map in [
            ColorMap::Gray,
            ColorMap::Hot,
            ColorMap::Viridis,
            ColorMap::Inferno,
        ] {
            let lut = map.lut();
            assert_eq!(lut.len(), 256);
            assert!(lut.iter().all(|c| c[3] == 255));
            // Rounding channels to bytes can dip luminance by one blue level
            // (0.0722) where blue falls while green rounds down; more would
            // be a real dark step.
            for (i, pair) in lut.windows(2).enumerate() {
                assert!(
                    luminance(pair[1]) >= luminance(pair[0]) - 0.08,
                    "{} darkens at entry {}",
                    map.name(),
                    i + 1
                );
            }
            assert!(
                luminance(lut[255]) > luminance(lut[0]) + 100.0,
                "{}",
                map.name()
            );
        }
    }

    #[test]
    fn diverging_map_is_white_in_the_middle_and_dark_at_the_ends() {
        assert!(ColorMap::RedBlue.is_diverging());
        assert!(!ColorMap::Hot.is_diverging());
        assert_eq!(ColorMap::RedBlue.sample(0.5), [0xf7, 0xf7, 0xf7, 255]);
        let [r, _, b, _] = ColorMap::RedBlue.sample(0.0);
        assert!(b > r, "negative end is blue");
        let [r, _, b, _] = ColorMap::RedBlue.sample(1.0);
        assert!(r > b, "positive end is red");
        let lut = ColorMap::RedBlue.lut();
        let brightest = (0..256).max_by(|&a, &b| luminance(lut[a]).total_cmp(&luminance(lut[b])));
        assert!((126..=129).contains(&brightest.unwrap()));
    }

    #[test]
    fn names_are_unique_and_serialise_lowercase() {
        let names: BTreeSet<_> = ColorMap::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names.len(), ColorMap::ALL.len());
        assert_eq!(
            serde_json::to_string(&ColorMap::Viridis).unwrap(),
            "\"viridis\""
        );
        assert_eq!(
            serde_json::from_str::<ColorMap>("\"redblue\"").unwrap(),
            ColorMap::RedBlue
        );
    }

    #[test]
    fn region_colours_pair_hemispheres_and_separate_lobes() {
        let t = aal3_table();
        assert_eq!(region_colour(&t, 41), region_colour(&t, 42)); // hippocampi
        assert_eq!(region_colour(&t, 1), region_colour(&t, 2)); // precentral
        assert_ne!(region_colour(&t, 1), region_colour(&t, 3));
        let mut by_lobe: Vec<BTreeSet<[u8; 3]>> = Vec::new();
        for lobe in Lobe::ALL {
            let colours: BTreeSet<[u8; 3]> =
                t.in_group(lobe).map(|r| region_colour(&t, r.id)).collect();
            // One colour per pair: every pair of the lobe is distinct.
            let pairs = t
                .in_group(lobe)
                .filter(|r| r.hemisphere != Hemisphere::R)
                .count();
            assert_eq!(colours.len(), pairs, "{lobe:?}");
            by_lobe.push(colours);
        }
        for (a, colours_a) in by_lobe.iter().enumerate() {
            for colours_b in &by_lobe[a + 1..] {
                assert!(colours_a.is_disjoint(colours_b));
            }
        }
        assert_eq!(region_colour(&t, 35), [128, 128, 128]); // unused id
        let palette = region_palette(&t);
        assert_eq!(palette.len(), t.len());
        assert_eq!(palette[&46], region_colour(&t, 46));
    }
}
