//! Pretraining augmentation, the reference recipe (docs/SPEC-model.md):
//! a random affine (rotation ±10° about each axis, scale ±10 % per axis,
//! trilinear, border padding), Gaussian noise (p 0.3, std 0.1) and light
//! Gaussian smoothing (p 0.1, σ up to 0.5 voxel per axis). One draw per
//! clip, the same for every frame (the noise field too), seeded by the run
//! seed and the clip's mask id, so a resumed run sees the same inputs.
//! Only training batches are augmented; validation reads clips as they are.

use super::error::TrainError;
use crate::data::synth::normal;
use crate::model::Preset;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The `[augment]` table of a run config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// On or off; unset = the preset's default (on for `reference` and
    /// `mni4mm`, off for `tiny`).
    pub enabled: Option<bool>,
    /// Probability of the random affine.
    pub affine_p: f64,
    /// Largest rotation about each axis, in degrees.
    pub rotate_deg: f64,
    /// Largest relative scale change per axis (0.1 = ±10 %).
    pub scale: f64,
    /// Probability of adding Gaussian noise.
    pub noise_p: f64,
    /// Its standard deviation (the data are z-scored).
    pub noise_std: f64,
    /// Probability of Gaussian smoothing.
    pub smooth_p: f64,
    /// Largest smoothing σ per axis, in voxels (drawn uniformly from 0).
    pub smooth_sigma: f64,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig {
            enabled: None,
            affine_p: 1.0,
            rotate_deg: 10.0,
            scale: 0.1,
            noise_p: 0.3,
            noise_std: 0.1,
            smooth_p: 0.1,
            smooth_sigma: 0.5,
        }
    }
}

impl AugmentConfig {
    /// Whether augmentation is on for `preset`.
    pub fn is_on(&self, preset: Preset) -> bool {
        self.enabled.unwrap_or(preset.augments_by_default())
    }

    /// Checks every number; the error is a [`TrainError::Config`] naming
    /// the field (`augment.noise_p`).
    pub fn validate(&self) -> Result<(), TrainError> {
        for (name, p) in [
            ("affine_p", self.affine_p),
            ("noise_p", self.noise_p),
            ("smooth_p", self.smooth_p),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(TrainError::config(
                    format!("augment.{name}"),
                    format!("must be in [0, 1], got {p}"),
                ));
            }
        }
        for (name, v, max) in [
            ("rotate_deg", self.rotate_deg, 180.0),
            ("scale", self.scale, 0.9),
            ("noise_std", self.noise_std, f64::INFINITY),
            ("smooth_sigma", self.smooth_sigma, 4.0),
        ] {
            if !(v.is_finite() && v >= 0.0 && v <= max) {
                return Err(TrainError::config(
                    format!("augment.{name}"),
                    format!("must be a number in [0, {max}], got {v}"),
                ));
            }
        }
        Ok(())
    }

    /// A short description for the log.
    pub fn describe(&self) -> String {
        format!(
            "augmentation: affine p {} (±{}°, ±{} % scale), noise p {} std {}, smoothing p {} σ ≤ {} voxel; one draw per clip",
            self.affine_p,
            self.rotate_deg,
            self.scale * 100.0,
            self.noise_p,
            self.noise_std,
            self.smooth_p,
            self.smooth_sigma
        )
    }
}

/// Applies one config's draws to clips of `input³ × frames` (t fastest).
#[derive(Debug, Clone)]
pub struct Augmenter {
    cfg: AugmentConfig,
    seed: u64,
    input: usize,
    frames: usize,
}

/// One clip's draw.
#[derive(Debug, Clone, PartialEq)]
struct Draw {
    /// Output voxel → input position: `q = a·(p − c) + c`.
    affine: Option<[[f64; 3]; 3]>,
    /// Noise SD when noise is added.
    noise: Option<f64>,
    /// Smoothing σ per axis when smoothing.
    smooth: Option<[f64; 3]>,
}

impl Augmenter {
    /// The augmenter of `cfg` for a run with `seed` on `input³ × frames` clips.
    pub fn new(cfg: &AugmentConfig, seed: u64, input: usize, frames: usize) -> Augmenter {
        Augmenter {
            cfg: cfg.clone(),
            seed,
            input,
            frames,
        }
    }

    fn rng(&self, draw_id: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x6175_676d_656e_7421);
        rng.set_stream(draw_id);
        rng
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> Draw {
        let c = &self.cfg;
        let mut uniform = |r: f64| {
            if r > 0.0 {
                rng.random_range(-r..=r)
            } else {
                0.0
            }
        };
        let angles = [0; 3].map(|_| uniform(c.rotate_deg.to_radians()));
        let scales = [0; 3].map(|_| 1.0 + uniform(c.scale));
        let affine_on = rng.random_bool(c.affine_p);
        let noise_on = rng.random_bool(c.noise_p);
        let smooth_on = rng.random_bool(c.smooth_p);
        let sigmas = [0; 3].map(|_| rng.random_range(0.0..=c.smooth_sigma.max(0.0)));
        Draw {
            affine: affine_on.then(|| rotation_scale(angles, scales)),
            noise: (noise_on && c.noise_std > 0.0).then_some(c.noise_std),
            smooth: (smooth_on && sigmas.iter().any(|&s| s > 1e-3)).then_some(sigmas),
        }
    }

    /// Augments `clip` in place with draw `draw_id` (the clip's mask id).
    pub fn apply(&self, clip: &mut [f32], draw_id: u64) {
        let (n, frames) = (self.input, self.frames);
        debug_assert_eq!(clip.len(), n * n * n * frames);
        let mut rng = self.rng(draw_id);
        let draw = self.draw(&mut rng);
        if let Some(a) = draw.affine {
            let src = clip.to_vec();
            resample_affine(&src, clip, n, frames, &a);
        }
        if let Some(sd) = draw.noise {
            let field: Vec<f32> = (0..n * n * n)
                .map(|_| (sd * normal(&mut rng)) as f32)
                .collect();
            for (v, e) in field.iter().enumerate() {
                for x in &mut clip[v * frames..(v + 1) * frames] {
                    *x += e;
                }
            }
        }
        if let Some(sigmas) = draw.smooth {
            for (axis, &s) in sigmas.iter().enumerate() {
                if s > 1e-3 {
                    smooth_axis(clip, n, frames, axis, s);
                }
            }
        }
    }
}

/// `R_z R_y R_x · diag(scales)`.
fn rotation_scale(angles: [f64; 3], scales: [f64; 3]) -> [[f64; 3]; 3] {
    let [(sx, cx), (sy, cy), (sz, cz)] = angles.map(|a| a.sin_cos());
    let rx = [[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]];
    let ry = [[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]];
    let rz = [[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]];
    let mul = |a: [[f64; 3]; 3], b: [[f64; 3]; 3]| {
        let mut m = [[0.0; 3]; 3];
        for (i, row) in m.iter_mut().enumerate() {
            for (j, cell) in row.iter_mut().enumerate() {
                *cell = (0..3).map(|k| a[i][k] * b[k][j]).sum();
            }
        }
        m
    };
    let mut m = mul(rz, mul(ry, rx));
    for row in &mut m {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell *= scales[j];
        }
    }
    m
}

/// Trilinear resampling of every frame at `q = a·(p − c) + c`, clamping
/// to the border (the background fill continues outward).
fn resample_affine(src: &[f32], out: &mut [f32], n: usize, frames: usize, a: &[[f64; 3]; 3]) {
    let c = (n as f64 - 1.0) / 2.0;
    let max = (n - 1) as f64;
    let at = |u: usize, v: usize, w: usize| ((u * n + v) * n + w) * frames;
    for u in 0..n {
        for v in 0..n {
            for w in 0..n {
                let p = [u as f64 - c, v as f64 - c, w as f64 - c];
                let q: [f64; 3] = [0, 1, 2].map(|i| {
                    (a[i][0] * p[0] + a[i][1] * p[1] + a[i][2] * p[2] + c).clamp(0.0, max)
                });
                let lo = q.map(|x| (x.floor() as usize).min(n - 1));
                let hi = lo.map(|x| (x + 1).min(n - 1));
                let f = [0, 1, 2].map(|i| q[i] - lo[i] as f64);
                let dst = at(u, v, w);
                for t in 0..frames {
                    let mut acc = 0.0f64;
                    for corner in 0..8 {
                        let pick = |i: usize| corner >> i & 1 == 1;
                        let idx = [0, 1, 2].map(|i| if pick(i) { hi[i] } else { lo[i] });
                        let weight: f64 = (0..3)
                            .map(|i| if pick(i) { f[i] } else { 1.0 - f[i] })
                            .product();
                        if weight > 0.0 {
                            acc += weight * src[at(idx[0], idx[1], idx[2]) + t] as f64;
                        }
                    }
                    out[dst + t] = acc as f32;
                }
            }
        }
    }
}

/// Gaussian smoothing with `sigma` (voxels) along `axis` (0 = u), border
/// clamped, the kernel truncated at 3σ and normalised.
fn smooth_axis(clip: &mut [f32], n: usize, frames: usize, axis: usize, sigma: f64) {
    let radius = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f64> = (-radius..=radius)
        .map(|k| (-(k * k) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = kernel.iter().sum();
    let stride = [n * n * frames, n * frames, frames][axis];
    let src = clip.to_vec();
    for base in 0..n * n * n {
        let coords = [base / (n * n), base / n % n, base % n];
        let pos = coords[axis] as isize;
        let origin = base * frames - coords[axis] * stride;
        for t in 0..frames {
            let mut acc = 0.0;
            for (j, k) in (-radius..=radius).enumerate() {
                let q = (pos + k).clamp(0, n as isize - 1) as usize;
                acc += kernel[j] * src[origin + q * stride + t] as f64;
            }
            clip[base * frames + t] = (acc / total) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: usize = 8;
    const T: usize = 3;

    /// A smooth non-symmetric clip whose frames differ (frame t adds t).
    fn clip() -> Vec<f32> {
        let mut c = vec![0.0f32; N * N * N * T];
        for u in 0..N {
            for v in 0..N {
                for w in 0..N {
                    for t in 0..T {
                        c[((u * N + v) * N + w) * T + t] =
                            (u as f32 * 0.7 + v as f32 * 0.2).sin() + w as f32 * 0.1 + t as f32;
                    }
                }
            }
        }
        c
    }

    fn all_on() -> AugmentConfig {
        AugmentConfig {
            enabled: Some(true),
            affine_p: 1.0,
            noise_p: 1.0,
            smooth_p: 1.0,
            ..AugmentConfig::default()
        }
    }

    /// Frame `t` of a clip as a one-frame clip.
    fn frame(c: &[f32], t: usize) -> Vec<f32> {
        c.iter().skip(t).step_by(T).copied().collect()
    }

    #[test]
    fn every_frame_of_a_clip_gets_the_same_draw() {
        let cfg = all_on();
        let clip_aug = {
            let mut c = clip();
            Augmenter::new(&cfg, 5, N, T).apply(&mut c, 42);
            c
        };
        // Each frame on its own (a 1-frame clip, same seed and draw id)
        // comes out as that frame of the augmented clip.
        let single = Augmenter::new(&cfg, 5, N, 1);
        for t in 0..T {
            let mut f = frame(&clip(), t);
            single.apply(&mut f, 42);
            let got = frame(&clip_aug, t);
            for (a, b) in f.iter().zip(&got) {
                assert!((a - b).abs() < 1e-5, "frame {t}: {a} vs {b}");
            }
        }
        // Frames that were equal stay equal (frame 1 − frame 0 stays 1 up
        // to the linear operations: resampling and smoothing keep constants).
        for v in 0..N * N * N {
            let d = clip_aug[v * T + 1] - clip_aug[v * T];
            assert!((d - 1.0).abs() < 1e-4, "voxel {v}: {d}");
        }
        // Another draw id is another draw; the same one repeats exactly.
        let mut again = clip();
        Augmenter::new(&cfg, 5, N, T).apply(&mut again, 42);
        assert_eq!(again, clip_aug);
        let mut other = clip();
        Augmenter::new(&cfg, 5, N, T).apply(&mut other, 43);
        assert_ne!(other, clip_aug);
    }

    #[test]
    fn zero_ranges_are_the_identity_and_noise_has_the_stated_sd() {
        let still = AugmentConfig {
            rotate_deg: 0.0,
            scale: 0.0,
            noise_p: 0.0,
            smooth_p: 0.0,
            ..all_on()
        };
        let mut c = clip();
        Augmenter::new(&still, 1, N, T).apply(&mut c, 7);
        for (a, b) in c.iter().zip(clip()) {
            assert!((a - b).abs() < 1e-6);
        }
        // Noise only: the added field has SD ≈ 0.1 over 512 voxels and is
        // the same in every frame.
        let noisy = AugmentConfig {
            affine_p: 0.0,
            noise_p: 1.0,
            smooth_p: 0.0,
            ..AugmentConfig::default()
        };
        let mut c = clip();
        Augmenter::new(&noisy, 1, N, T).apply(&mut c, 7);
        let base = clip();
        let e: Vec<f64> = (0..N * N * N)
            .map(|v| (c[v * T] - base[v * T]) as f64)
            .collect();
        let sd = (e.iter().map(|x| x * x).sum::<f64>() / e.len() as f64).sqrt();
        assert!((sd - 0.1).abs() < 0.015, "noise sd {sd}");
        for v in 0..N * N * N {
            let e2 = c[v * T + 2] - base[v * T + 2];
            assert!((e2 as f64 - e[v]).abs() < 1e-6);
        }
    }

    #[test]
    fn a_pure_scale_about_the_centre_moves_a_linear_ramp_by_the_scale() {
        // q = s·(p − c) + c on a ramp f(u) = u: the output is s·(u − c) + c
        // (inside the cube; the border clamps).
        let n = 9;
        let c = 4.0;
        let mut ramp = vec![0.0f32; n * n * n];
        for (i, x) in ramp.iter_mut().enumerate() {
            *x = (i / (n * n)) as f32;
        }
        let mut out = vec![0.0f32; ramp.len()];
        let s = 1.1;
        let a = rotation_scale([0.0; 3], [s, 1.0, 1.0]);
        resample_affine(&ramp, &mut out, n, 1, &a);
        for u in 1..n - 1 {
            let want = s * (u as f64 - c) + c;
            let got = out[u * n * n] as f64;
            assert!((got - want).abs() < 1e-5, "u {u}: {got} vs {want}");
        }
        // A 90° rotation about w maps u onto v exactly.
        let a = rotation_scale([0.0, 0.0, std::f64::consts::FRAC_PI_2], [1.0; 3]);
        resample_affine(&ramp, &mut out, n, 1, &a);
        for v in 0..n {
            // q_u = -(v - c) + c: the ramp reads 8 - v.
            let got = out[(2 * n + v) * n + 3];
            assert!((got - (8 - v) as f32).abs() < 1e-4, "v {v}: {got}");
        }
    }

    #[test]
    fn presets_default_and_bad_numbers_are_refused() {
        let cfg = AugmentConfig::default();
        assert!(
            cfg.is_on(Preset::Reference) && cfg.is_on(Preset::Mni4mm) && !cfg.is_on(Preset::Tiny)
        );
        let off = AugmentConfig {
            enabled: Some(false),
            ..cfg.clone()
        };
        assert!(!off.is_on(Preset::Mni4mm));
        cfg.validate().unwrap();
        let bad = AugmentConfig {
            noise_p: 1.5,
            ..cfg
        };
        assert!(bad.validate().unwrap_err().to_string().contains("noise_p"));
    }
}
