//! Voxel-to-world affines: NIfTI sform/qform decoding, inversion, voxel sizes
//! and the orientation code (e.g. `LAS`) of a grid, computed like nibabel.
//!
//! World space is RAS+ millimetres (x to the subject's Right, y Anterior,
//! z Superior), as NIfTI defines it.

use nalgebra::{Matrix3, Matrix4, Vector4};

/// A 4x4 homogeneous voxel (i, j, k) to world (x, y, z) mm transform.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine(pub Matrix4<f64>);

impl Affine {
    /// The identity: voxel (i, j, k) sits at (i, j, k) mm.
    pub fn identity() -> Self {
        Affine(Matrix4::identity())
    }

    /// Builds an affine from its first three rows (the fourth is 0 0 0 1).
    pub fn from_rows(rows: [[f64; 4]; 3]) -> Self {
        let mut m = Matrix4::identity();
        for (r, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                m[(r, c)] = *v;
            }
        }
        Affine(m)
    }

    /// The four rows, row-major, as nibabel prints `img.affine`.
    pub fn rows(&self) -> [[f64; 4]; 4] {
        let mut out = [[0.0; 4]; 4];
        for (r, row) in out.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = self.0[(r, c)];
            }
        }
        out
    }

    /// World position (mm) of a (possibly fractional) voxel index.
    pub fn apply(&self, ijk: [f64; 3]) -> [f64; 3] {
        let v = self.0 * Vector4::new(ijk[0], ijk[1], ijk[2], 1.0);
        [v[0], v[1], v[2]]
    }

    /// The inverse transform (world to voxel), if the affine is invertible.
    pub fn inverse(&self) -> Option<Affine> {
        let lin: Matrix3<f64> = self.0.fixed_view::<3, 3>(0, 0).into();
        if !lin.iter().all(|v| v.is_finite()) || lin.determinant().abs() < 1e-12 {
            return None;
        }
        self.0.try_inverse().map(Affine)
    }

    /// `self * other`: apply `other` first, then `self`.
    pub fn then_after(&self, other: &Affine) -> Affine {
        Affine(self.0 * other.0)
    }

    /// Voxel sizes in mm: the lengths of the first three columns.
    pub fn voxel_sizes(&self) -> [f64; 3] {
        let mut z = [0.0; 3];
        for (c, zc) in z.iter_mut().enumerate() {
            *zc = (0..3).map(|r| self.0[(r, c)].powi(2)).sum::<f64>().sqrt();
        }
        z
    }

    /// Whether every entry is finite and the 3x3 part is invertible.
    pub fn is_valid(&self) -> bool {
        self.0.iter().all(|v| v.is_finite()) && self.inverse().is_some()
    }

    /// Largest absolute difference between two affines' entries.
    pub fn max_abs_diff(&self, other: &Affine) -> f64 {
        (self.0 - other.0).abs().max()
    }

    /// The axis codes (e.g. `"LAS"`): for each voxel axis, the world direction
    /// it points to. Same algorithm as nibabel's `aff2axcodes`: the closest
    /// orthogonal matrix (SVD), then a greedy pick per voxel axis.
    pub fn orientation(&self) -> String {
        let mut rzs: Matrix3<f64> = self.0.fixed_view::<3, 3>(0, 0).into();
        for c in 0..3 {
            let norm = rzs.column(c).norm();
            let norm = if norm == 0.0 { 1.0 } else { norm };
            for r in 0..3 {
                rzs[(r, c)] /= norm;
            }
        }
        if !rzs.iter().all(|v| v.is_finite()) {
            return "???".to_string();
        }
        let svd = rzs.svd(true, true);
        let (Some(u), Some(v_t)) = (svd.u, svd.v_t) else {
            return "???".to_string();
        };
        let tol = svd.singular_values.max() * 3.0 * f64::EPSILON;
        let mut r = Matrix3::zeros();
        for s in 0..3 {
            if svd.singular_values[s] > tol {
                r += u.column(s) * v_t.row(s);
            }
        }
        let letters = [['L', 'R'], ['P', 'A'], ['I', 'S']];
        let mut code = String::with_capacity(3);
        for in_ax in 0..3 {
            let col = r.column(in_ax).into_owned();
            if col.iter().all(|v| v.abs() < 1e-8) {
                code.push('?');
                continue;
            }
            let out_ax = col.iamax();
            let positive = col[out_ax] > 0.0;
            code.push(letters[out_ax][positive as usize]);
            for c in 0..3 {
                r[(out_ax, c)] = 0.0;
            }
        }
        code
    }

    /// The qform transform of a NIfTI-1 header, as nibabel's `get_qform`:
    /// rotation from the quaternion (b, c, d; a is implied), voxel sizes from
    /// pixdim\[1..4\] with qfac = pixdim\[0\] flipping the third axis, and the
    /// quatern_x/y/z offsets. Negative voxel sizes (invalid in NIfTI) are
    /// taken by absolute value instead of panicking.
    pub fn from_qform(quatern: [f64; 3], offset: [f64; 3], qfac: f64, pixdim: [f64; 3]) -> Affine {
        let [b, c, d] = quatern;
        let w2 = 1.0 - (b * b + c * c + d * d);
        // nibabel's fillpositive: tiny negative a^2 from float32 rounding is 0.
        let a = if w2 < 0.0 { 0.0 } else { w2.sqrt() };
        let rot = Matrix3::new(
            a * a + b * b - c * c - d * d,
            2.0 * (b * c - a * d),
            2.0 * (b * d + a * c),
            2.0 * (b * c + a * d),
            a * a + c * c - b * b - d * d,
            2.0 * (c * d - a * b),
            2.0 * (b * d - a * c),
            2.0 * (c * d + a * b),
            a * a + d * d - c * c - b * b,
        );
        let qfac = if qfac < 0.0 { -1.0 } else { 1.0 };
        let zooms = [pixdim[0].abs(), pixdim[1].abs(), pixdim[2].abs() * qfac];
        let mut m = Matrix4::identity();
        for r in 0..3 {
            for col in 0..3 {
                m[(r, col)] = rot[(r, col)] * zooms[col];
            }
            m[(r, 3)] = offset[r];
        }
        Affine(m)
    }

    /// The fallback "base" affine nibabel uses when neither sform nor qform
    /// is set: voxel sizes on the diagonal, x flipped (radiological), and the
    /// grid centre at world 0.
    pub fn from_pixdim(shape: [usize; 3], pixdim: [f64; 3]) -> Affine {
        let zooms = [-pixdim[0].abs(), pixdim[1].abs(), pixdim[2].abs()];
        let mut m = Matrix4::identity();
        for a in 0..3 {
            let zoom = if zooms[a] == 0.0 { 1.0 } else { zooms[a] };
            let origin = (shape[a] as f64 - 1.0) / 2.0;
            m[(a, a)] = zoom;
            m[(a, 3)] = -origin * zoom;
        }
        Affine(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orientation_of_standard_grids() {
        assert_eq!(Affine::identity().orientation(), "RAS");
        let las = Affine::from_rows([
            [-2.0, 0.0, 0.0, 90.0],
            [0.0, 2.0, 0.0, -126.0],
            [0.0, 0.0, 2.0, -72.0],
        ]);
        assert_eq!(las.orientation(), "LAS");
        // nitime's oblique sform (nibabel says LSP).
        let oblique = Affine::from_rows([
            [-2.08333, -0.00436, -0.00192, 96.99551],
            [0.00081, 0.42469, -2.2517, -30.81071],
            [-0.00463, 2.03958, 0.46885, -71.39715],
        ]);
        assert_eq!(oblique.orientation(), "LSP");
    }

    #[test]
    fn qform_identity_quaternion_with_qfac() {
        let q = Affine::from_qform([0.0; 3], [1.0, 2.0, 3.0], -1.0, [2.0, 3.0, 4.0]);
        let expected = Affine::from_rows([
            [2.0, 0.0, 0.0, 1.0],
            [0.0, 3.0, 0.0, 2.0],
            [0.0, 0.0, -4.0, 3.0],
        ]);
        assert!(q.max_abs_diff(&expected) < 1e-12);
    }

    #[test]
    fn qform_180_degrees_about_z_flips_x_and_y() {
        // Quaternion (a=0, b=0, c=0, d=1) is a 180 degree turn about z.
        let q = Affine::from_qform([0.0, 0.0, 1.0], [0.0; 3], 1.0, [1.0, 1.0, 1.0]);
        assert_eq!(q.orientation(), "LPS");
    }

    #[test]
    fn inverse_round_trips_and_singular_is_refused() {
        let a = Affine::from_rows([
            [-2.0, 0.1, 0.0, 90.0],
            [0.0, 2.0, 0.3, -126.0],
            [0.2, 0.0, 2.0, -72.0],
        ]);
        let inv = a.inverse().unwrap();
        let p = a.apply([3.0, 4.0, 5.0]);
        let back = inv.apply(p);
        for (b, e) in back.iter().zip([3.0, 4.0, 5.0]) {
            assert!((b - e).abs() < 1e-9);
        }
        let singular = Affine::from_rows([[0.0; 4], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]);
        assert!(singular.inverse().is_none());
    }

    #[test]
    fn base_affine_centres_the_grid() {
        let b = Affine::from_pixdim([91, 109, 91], [2.0, 2.0, 2.0]);
        let c = b.apply([45.0, 54.0, 45.0]);
        assert!(c.iter().all(|v| v.abs() < 1e-12));
        assert_eq!(b.orientation(), "LAS");
    }
}
