//! A spatial sampling grid: voxel counts along i, j, k plus the voxel-to-world
//! affine. Resampling, the atlas and the token map all work between grids.

use super::affine::Affine;

/// Where the voxels of a 3D volume sit in world (RAS mm) space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    /// Voxel counts along i, j, k.
    pub dims: [usize; 3],
    /// Voxel (i, j, k) to world (x, y, z) mm.
    pub affine: Affine,
}

impl Grid {
    /// A grid of `dims` voxels placed by `affine`.
    pub fn new(dims: [usize; 3], affine: Affine) -> Self {
        Grid { dims, affine }
    }

    /// The standard FSL/SPM MNI152 2 mm grid: 91 x 109 x 91, LAS, with world
    /// (0, 0, 0) at voxel (45, 63, 36). Preprocessed fMRI usually lives here.
    pub fn mni_2mm() -> Self {
        Grid::new(
            [91, 109, 91],
            Affine::from_rows([
                [-2.0, 0.0, 0.0, 90.0],
                [0.0, 2.0, 0.0, -126.0],
                [0.0, 0.0, 2.0, -72.0],
            ]),
        )
    }

    /// Number of voxels in one 3D frame.
    pub fn n_voxels(&self) -> usize {
        self.dims.iter().product()
    }

    /// Linear index of voxel (i, j, k) in NIfTI (Fortran) order: i fastest.
    #[inline]
    pub fn index(&self, i: usize, j: usize, k: usize) -> usize {
        i + self.dims[0] * (j + self.dims[1] * k)
    }

    /// The voxel (i, j, k) of a linear index; inverse of [`Grid::index`].
    #[inline]
    pub fn ijk(&self, index: usize) -> [usize; 3] {
        let i = index % self.dims[0];
        let rest = index / self.dims[0];
        [i, rest % self.dims[1], rest / self.dims[1]]
    }

    /// World position of voxel (i, j, k) in mm.
    pub fn world(&self, ijk: [usize; 3]) -> [f64; 3] {
        self.affine
            .apply([ijk[0] as f64, ijk[1] as f64, ijk[2] as f64])
    }

    /// Voxel sizes in mm.
    pub fn voxel_sizes(&self) -> [f64; 3] {
        self.affine.voxel_sizes()
    }

    /// The grid with isotropic `mm` voxels covering the same field of view:
    /// same axis directions and the same world position of voxel (0, 0, 0),
    /// enough voxels to reach the old last voxel. A grid that already has
    /// `mm` voxels is returned unchanged.
    pub fn with_voxel_size(&self, mm: f64) -> Grid {
        let sizes = self.voxel_sizes();
        if sizes.iter().all(|s| (s - mm).abs() < 1e-4) {
            return *self;
        }
        let mut affine = self.affine;
        let mut dims = [0usize; 3];
        for axis in 0..3 {
            let scale = mm / sizes[axis];
            for r in 0..3 {
                affine.0[(r, axis)] *= scale;
            }
            let extent = (self.dims[axis] as f64 - 1.0) * sizes[axis];
            dims[axis] = (extent / mm + 1e-6).floor() as usize + 1;
        }
        Grid::new(dims, affine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_ijk_are_inverse() {
        let g = Grid::new([3, 4, 5], Affine::identity());
        for idx in 0..g.n_voxels() {
            let [i, j, k] = g.ijk(idx);
            assert_eq!(g.index(i, j, k), idx);
        }
        assert_eq!(g.index(1, 0, 0), 1);
        assert_eq!(g.index(0, 1, 0), 3);
        assert_eq!(g.index(0, 0, 1), 12);
    }

    #[test]
    fn mni_origin_is_at_the_documented_voxel() {
        let w = Grid::mni_2mm().world([45, 63, 36]);
        assert_eq!(w, [0.0, 0.0, 0.0]);
    }

    #[test]
    fn one_mm_mni_regridded_to_two_mm_keeps_its_corner_and_extent() {
        let one = Grid::new(
            [181, 217, 181],
            Affine::from_rows([
                [1.0, 0.0, 0.0, -90.0],
                [0.0, 1.0, 0.0, -126.0],
                [0.0, 0.0, 1.0, -72.0],
            ]),
        );
        let two = one.with_voxel_size(2.0);
        assert_eq!(two.dims, [91, 109, 91]);
        assert_eq!(two.world([0, 0, 0]), [-90.0, -126.0, -72.0]);
        assert_eq!(two.world([90, 108, 90]), [90.0, 90.0, 108.0]);
        assert_eq!(Grid::mni_2mm().with_voxel_size(2.0), Grid::mni_2mm());
    }
}
