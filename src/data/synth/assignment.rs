//! Who each subject is: its BIDS id, its diagnosis, its site, and the
//! scanner properties of that site. Diagnoses alternate within every site,
//! so classes stay balanced overall and per site and are never confounded
//! with site.

use super::random::{Purpose, stream};
use rand::Rng;

/// The subject id without the `sub-` prefix: 1-based, zero-padded to at
/// least two digits and to the width of the largest id.
pub fn subject_id(index: usize, subjects: usize) -> String {
    let width = subjects.max(index + 1).to_string().len().max(2);
    format!("{:0width$}", index + 1)
}

/// 0-based site of subject `index`: round-robin over `sites`.
pub fn site_index(index: usize, sites: usize) -> usize {
    index % sites.max(1)
}

/// The site's name, e.g. `site1` for site index 0.
pub fn site_name(site: usize) -> String {
    format!("site{}", site + 1)
}

/// 0 (control) or 1 (patient): alternating within each site, starting with
/// a control at even sites and with a patient at odd ones.
pub fn diagnosis(index: usize, sites: usize) -> u32 {
    let sites = sites.max(1);
    let rank_in_site = index / sites;
    ((rank_in_site + site_index(index, sites)) % 2) as u32
}

/// How a site's scanner shapes the signal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scanner {
    /// Multiplies every brain voxel.
    pub scale: f32,
    /// Added to every brain voxel after scaling.
    pub offset: f32,
    /// Thermal noise standard deviation, as a fraction of the baseline.
    pub noise: f32,
}

impl Scanner {
    /// The scanner of `site` in the cohort seeded by `seed`.
    pub fn of_site(seed: u64, site: usize) -> Scanner {
        let mut rng = stream(seed, Purpose::Site, &[site as u64]);
        Scanner {
            scale: rng.random_range(0.8..1.25),
            offset: rng.random_range(-80.0..80.0),
            noise: rng.random_range(0.006..0.01),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_padded_to_the_cohort_size() {
        assert_eq!(subject_id(0, 8), "01");
        assert_eq!(subject_id(9, 10), "10");
        assert_eq!(subject_id(4, 120), "005");
    }

    #[test]
    fn classes_are_balanced_within_and_across_sites() {
        for sites in 1..=5 {
            let subjects = 4 * sites;
            let mut counts = vec![[0usize; 2]; sites];
            for index in 0..subjects {
                counts[site_index(index, sites)][diagnosis(index, sites) as usize] += 1;
            }
            for per_site in counts {
                assert_eq!(per_site, [2, 2], "{sites} sites");
            }
        }
        // Odd sizes: never more than one subject of imbalance per site.
        let patients: u32 = (0..7).map(|i| diagnosis(i, 3)).sum();
        assert!((3..=4).contains(&patients));
    }

    #[test]
    fn sites_differ_and_stay_in_their_ranges() {
        let scanners: Vec<Scanner> = (0..6).map(|site| Scanner::of_site(0, site)).collect();
        for (i, a) in scanners.iter().enumerate() {
            assert!((0.8..1.25).contains(&a.scale), "{a:?}");
            assert!((-80.0..80.0).contains(&a.offset), "{a:?}");
            assert!((0.006..0.01).contains(&a.noise), "{a:?}");
            for b in &scanners[i + 1..] {
                assert_ne!(a, b, "two sites share a scanner");
            }
        }
        // Another cohort seed gives another scanner at the same site.
        assert_ne!(Scanner::of_site(0, 1), Scanner::of_site(1, 1));
        assert_eq!(site_name(0), "site1");
        assert_eq!(site_name(11), "site12");
    }
}
