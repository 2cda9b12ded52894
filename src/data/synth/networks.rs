//! The resting-state networks that drive the synthetic signal: seven
//! Yeo-style networks with a fixed correlation structure (the default mode
//! anti-correlated with the dorsal attention network, and so on), the home
//! network of every AAL3 region, and each region's cohort-wide loadings.

use super::random::{Purpose, stream};
use crate::atlas::{Lobe, Region, RegionTable};
use rand::Rng;
use std::collections::BTreeMap;

/// The networks, in the order of [`Network::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    Visual,
    Somatomotor,
    DorsalAttention,
    VentralAttention,
    Limbic,
    Frontoparietal,
    Default,
}

/// Number of networks.
pub const NETWORK_COUNT: usize = 7;

impl Network {
    /// All networks; a network's position here is its index.
    pub const ALL: [Network; NETWORK_COUNT] = [
        Network::Visual,
        Network::Somatomotor,
        Network::DorsalAttention,
        Network::VentralAttention,
        Network::Limbic,
        Network::Frontoparietal,
        Network::Default,
    ];

    /// Position in [`Network::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Correlations between the networks' neural drives (pairs not listed are
/// uncorrelated).
const CORRELATED_PAIRS: [(Network, Network, f64); 7] = [
    (Network::Default, Network::DorsalAttention, -0.35),
    (Network::Default, Network::Frontoparietal, 0.3),
    (Network::Default, Network::Limbic, 0.3),
    (Network::Frontoparietal, Network::DorsalAttention, 0.3),
    (Network::Visual, Network::DorsalAttention, 0.3),
    (Network::Somatomotor, Network::VentralAttention, 0.35),
    (Network::Visual, Network::Somatomotor, 0.2),
];

/// The network correlation matrix.
pub fn correlation_matrix() -> [[f64; NETWORK_COUNT]; NETWORK_COUNT] {
    let mut m = [[0.0; NETWORK_COUNT]; NETWORK_COUNT];
    for (i, row) in m.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for (a, b, r) in CORRELATED_PAIRS {
        m[a.index()][b.index()] = r;
        m[b.index()][a.index()] = r;
    }
    m
}

/// The lower-triangular `L` with `L Lᵀ` = the network correlation matrix:
/// `L` times independent unit draws gives correlated network drives.
pub fn correlation_factor() -> [[f64; NETWORK_COUNT]; NETWORK_COUNT] {
    let m = correlation_matrix();
    let mut l = [[0.0; NETWORK_COUNT]; NETWORK_COUNT];
    for i in 0..NETWORK_COUNT {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                // The matrix is fixed and positive definite (unit-tested).
                l[i][j] = (m[i][i] - dot).max(1e-12).sqrt();
            } else {
                l[i][j] = (m[i][j] - dot) / l[j][j];
            }
        }
    }
    l
}

/// Region-name prefixes and the network such regions belong to; the first
/// match wins, so longer prefixes come before shorter ones.
const HOME_BY_PREFIX: [(&str, Network); 62] = [
    ("Precentral", Network::Somatomotor),
    ("Postcentral", Network::Somatomotor),
    ("Supp_Motor", Network::Somatomotor),
    ("Rolandic", Network::Somatomotor),
    ("Paracentral", Network::Somatomotor),
    ("Heschl", Network::Somatomotor),
    ("Putamen", Network::Somatomotor),
    ("Pallidum", Network::Somatomotor),
    ("Calcarine", Network::Visual),
    ("Cuneus", Network::Visual),
    ("Lingual", Network::Visual),
    ("Occipital", Network::Visual),
    ("Fusiform", Network::Visual),
    ("Thal_LGN", Network::Visual),
    ("Parietal_Sup", Network::DorsalAttention),
    ("Temporal_Inf", Network::DorsalAttention),
    ("Thal_Pu", Network::DorsalAttention),
    ("SupraMarginal", Network::VentralAttention),
    ("Insula", Network::VentralAttention),
    ("Cingulate_Mid", Network::VentralAttention),
    ("ACC_sup", Network::VentralAttention),
    ("Frontal_Inf_Oper", Network::VentralAttention),
    ("Temporal_Pole", Network::Limbic),
    ("Temporal_Sup", Network::VentralAttention),
    ("Thal_MGN", Network::Somatomotor),
    ("OFC", Network::Limbic),
    ("Rectus", Network::Limbic),
    ("Olfactory", Network::Limbic),
    ("Amygdala", Network::Limbic),
    ("ParaHippocampal", Network::Limbic),
    ("ACC_sub", Network::Limbic),
    ("N_Acc", Network::Limbic),
    ("VTA", Network::Limbic),
    ("SN_", Network::Limbic),
    ("Red_N", Network::Limbic),
    ("LC_", Network::Limbic),
    ("Raphe", Network::Limbic),
    ("Thal_AV", Network::Limbic),
    ("Thal_IL", Network::Limbic),
    ("Thal_Re", Network::Limbic),
    ("Frontal_Med_Orb", Network::Default),
    ("Frontal_Sup_Medial", Network::Default),
    ("Frontal_Sup", Network::Default),
    ("Frontal_Mid", Network::Frontoparietal),
    ("Frontal_Inf", Network::Frontoparietal),
    ("Parietal_Inf", Network::Frontoparietal),
    ("Caudate", Network::Frontoparietal),
    ("Thal_MD", Network::Frontoparietal),
    ("Thal_V", Network::Somatomotor),
    ("Cingulate_Post", Network::Default),
    ("Precuneus", Network::Default),
    ("Angular", Network::Default),
    ("Temporal_Mid", Network::Default),
    ("Hippocampus", Network::Default),
    ("ACC_pre", Network::Default),
    ("Cerebellum_Crus1", Network::Frontoparietal),
    ("Cerebellum_Crus2", Network::Default),
    ("Cerebellum_7b", Network::DorsalAttention),
    ("Cerebellum_8", Network::DorsalAttention),
    ("Cerebellum_9", Network::Default),
    ("Cerebellum_10", Network::Default),
    ("Cerebellum", Network::Somatomotor),
];

/// The network a region mostly follows: by its name, else by its lobe.
pub fn home_network(region: &Region) -> Network {
    HOME_BY_PREFIX
        .iter()
        .find(|(prefix, _)| region.name.starts_with(prefix))
        .map(|&(_, network)| network)
        .unwrap_or(match region.group {
            Lobe::Frontal => Network::Frontoparietal,
            Lobe::Parietal => Network::DorsalAttention,
            Lobe::Temporal => Network::VentralAttention,
            Lobe::Occipital => Network::Visual,
            Lobe::Limbic => Network::Limbic,
            Lobe::Subcortical => Network::Limbic,
            Lobe::Cerebellum => Network::Somatomotor,
        })
}

/// How one region's time course is made from the networks (the same for
/// every subject of a cohort).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionLoading {
    /// The region's home network.
    pub home: Network,
    /// Weight of the home network.
    pub home_weight: f64,
    /// A second network it follows more weakly.
    pub second: Network,
    /// Weight of the second network.
    pub second_weight: f64,
    /// Weight of the region's own fluctuation, so the three weights'
    /// squares sum to 1.
    pub own_weight: f64,
    /// Standard deviation of the region's BOLD fluctuation, as a fraction
    /// of the baseline signal (about 1 %).
    pub amplitude: f64,
}

/// The loadings of every region of `table`, drawn from `seed`.
pub fn cohort_loadings(table: &RegionTable, seed: u64) -> BTreeMap<u16, RegionLoading> {
    table
        .iter()
        .map(|region| {
            let mut rng = stream(seed, Purpose::Loadings, &[region.id as u64]);
            let home = home_network(region);
            let mut second = Network::ALL[rng.random_range(0..NETWORK_COUNT - 1)];
            if second == home {
                second = Network::ALL[NETWORK_COUNT - 1];
            }
            let home_weight: f64 = rng.random_range(0.75..0.9);
            let second_weight: f64 = rng.random_range(0.1..0.3);
            let own_weight = (1.0 - home_weight * home_weight - second_weight * second_weight)
                .max(0.05)
                .sqrt();
            let amplitude = rng.random_range(0.007..0.013);
            let loading = RegionLoading {
                home,
                home_weight,
                second,
                second_weight,
                own_weight,
                amplitude,
            };
            (region.id, loading)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::synth::config::aal3_regions;

    #[test]
    fn the_factor_reproduces_a_positive_definite_correlation_matrix() {
        let m = correlation_matrix();
        let l = correlation_factor();
        for i in 0..NETWORK_COUNT {
            assert!(l[i][i] > 0.1, "pivot {i} is {}", l[i][i]);
            for j in 0..NETWORK_COUNT {
                let llt: f64 = (0..NETWORK_COUNT).map(|k| l[i][k] * l[j][k]).sum();
                assert!((llt - m[i][j]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn every_network_has_aal3_regions_and_homologues_share_one() {
        let table = aal3_regions();
        for network in Network::ALL {
            assert!(
                table.iter().any(|r| home_network(r) == network),
                "{network:?}"
            );
        }
        assert_eq!(
            home_network(table.by_name("Precuneus_L").unwrap()),
            Network::Default
        );
        for left in table.iter().filter(|r| r.name.ends_with("_L")) {
            let right_name = format!("{}_R", left.name.trim_end_matches("_L"));
            if let Some(right) = table.by_name(&right_name) {
                assert_eq!(home_network(left), home_network(right), "{}", left.name);
            }
        }
    }

    #[test]
    fn loadings_are_seeded_and_normalised() {
        let table = aal3_regions();
        let a = cohort_loadings(&table, 3);
        assert_eq!(a, cohort_loadings(&table, 3));
        assert_ne!(a, cohort_loadings(&table, 4));
        assert_eq!(a.len(), table.len());
        for l in a.values() {
            assert_ne!(l.home, l.second);
            let total = l.home_weight.powi(2) + l.second_weight.powi(2) + l.own_weight.powi(2);
            assert!((total - 1.0).abs() < 1e-9);
        }
    }
}
