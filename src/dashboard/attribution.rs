//! Region attribution results as the app shows them: scores per AAL3 region
//! read from the CSV `roimae attribute` writes (region, lobe, score, spread;
//! extra columns ignored), ranked for the bar chart, and turned into one
//! colour per label for painting regions on the brain (sequential map for
//! non-negative scores, symmetric diverging map for signed ones, regions
//! under the threshold left unpainted).

use super::DashboardError;
use crate::atlas::RegionTable;
use crate::train::evaluate::RegionLoss;
use crate::viewer::ColorMap;
use std::collections::BTreeMap;
use std::path::Path;

pub use crate::eval::attribution::RegionScore;

/// A set of region scores with where they came from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Attribution {
    /// Method and parameters, shown next to every map.
    pub description: String,
    /// Scores of the regions found in the atlas.
    pub scores: Vec<RegionScore>,
}

impl Attribution {
    /// Reads a CSV with columns `region` (AAL3 name), `score`, and
    /// optionally `lobe` and `spread`. Rows naming no AAL3 region (e.g.
    /// lobe totals) are skipped.
    pub fn read_csv(path: &Path, table: &RegionTable) -> Result<Attribution, DashboardError> {
        let (mut reader, headers) = super::error::open_csv(
            path,
            "scores",
            "is this a region score CSV written by `roimae attribute`?",
        )?;
        let col = |name: &str| headers.iter().position(|h| h.trim() == name);
        let (Some(c_region), Some(c_score)) = (col("region"), col("score")) else {
            return Err(DashboardError::Columns {
                path: path.to_path_buf(),
                needs: "needs 'region' and 'score' columns (as `roimae attribute` writes)".into(),
            });
        };
        let (c_lobe, c_spread, c_method) = (col("lobe"), col("spread"), col("method"));
        let c_tokens = col("tokens");
        let mut scores = Vec::new();
        let mut method = None;
        for (i, row) in reader.records().enumerate() {
            let bad_row = |problem: String| DashboardError::row(path, i, problem);
            let row = row.map_err(|e| bad_row(e.to_string()))?;
            let Some(region) = table.by_name(row[c_region].trim()) else {
                continue;
            };
            let score: f64 = row[c_score]
                .trim()
                .parse()
                .map_err(|_| bad_row(format!("score '{}' is not a number", &row[c_score])))?;
            let spread = c_spread
                .and_then(|c| row.get(c)?.trim().parse().ok())
                .unwrap_or(0.0);
            if method.is_none() {
                method = c_method.and_then(|c| row.get(c)).map(str::to_string);
            }
            scores.push(RegionScore {
                id: region.id,
                name: region.name.clone(),
                lobe: c_lobe
                    .and_then(|c| row.get(c))
                    .map_or(region.group.name().to_string(), str::to_string),
                score,
                spread,
                tokens: c_tokens
                    .and_then(|c| row.get(c)?.trim().parse().ok())
                    .unwrap_or(0),
            });
        }
        // `roimae attribute` keeps the method line in METHOD.json beside
        // METHOD_regions.csv (occlusion.json, ig.json).
        if method.is_none() {
            let stem = path
                .file_stem()
                .map_or(String::new(), |s| s.to_string_lossy().into_owned());
            let json = format!("{}.json", stem.trim_end_matches("_regions"));
            method = path
                .parent()
                .map(|d| d.join(&json))
                .and_then(|j| std::fs::read_to_string(j).ok())
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v.get("method")?.as_str().map(str::to_string));
        }
        if scores.is_empty() {
            return Err(DashboardError::NoRegion {
                path: path.to_path_buf(),
            });
        }
        let file = path
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        let description = match method {
            Some(m) => format!("{m} ({file})"),
            None => file,
        };
        Ok(Attribution {
            description,
            scores,
        })
    }

    /// The masked MSE per region of one validation (`step`), as scores:
    /// regions missing from `table` are left out; `spread` is 0 and
    /// `tokens` holds the masked voxel-frames averaged.
    pub fn from_region_losses(step: usize, losses: &[RegionLoss], table: &RegionTable) -> Self {
        let mut scores: Vec<RegionScore> = losses
            .iter()
            .filter_map(|l| {
                let region = table.get(l.id)?;
                Some(RegionScore {
                    id: l.id,
                    name: region.name.clone(),
                    lobe: region.group.name().to_string(),
                    score: l.mse,
                    spread: 0.0,
                    tokens: l.voxels,
                })
            })
            .collect();
        scores.sort_by(|a, b| b.score.total_cmp(&a.score));
        Attribution {
            description: format!("validation masked MSE per region at step {step}"),
            scores,
        }
    }

    /// The `n` regions with the largest |score|, largest first.
    pub fn top(&self, n: usize) -> Vec<&RegionScore> {
        let mut v: Vec<&RegionScore> = self.scores.iter().collect();
        v.sort_by(|a, b| b.score.abs().total_cmp(&a.score.abs()));
        v.truncate(n);
        v
    }

    /// Whether any score is negative (then the map is diverging).
    pub fn is_signed(&self) -> bool {
        self.scores.iter().any(|s| s.score < 0.0)
    }

    /// The colour range: `(0, max)` for non-negative scores, `(-m, m)`
    /// with `m = max |score|` for signed ones.
    pub fn range(&self) -> (f64, f64) {
        let m = self
            .scores
            .iter()
            .map(|s| s.score.abs())
            .fold(0.0, f64::max)
            .max(1e-12);
        if self.is_signed() { (-m, m) } else { (0.0, m) }
    }

    /// The colour map used for these scores.
    pub fn colour_map(&self) -> ColorMap {
        if self.is_signed() {
            ColorMap::RedBlue
        } else {
            ColorMap::Hot
        }
    }

    /// One RGBA per label id up to `max_id`: the score's colour with alpha
    /// 255 (painted), or transparent under `threshold` (|score|) or unscored.
    pub fn label_colours(&self, max_id: u16, threshold: f64) -> Vec<[u8; 4]> {
        let (lo, hi) = self.range();
        let map = self.colour_map();
        let mut rows = vec![[0u8; 4]; max_id as usize + 1];
        for s in &self.scores {
            if (s.id as usize) < rows.len() && s.score.abs() >= threshold {
                let t = ((s.score - lo) / (hi - lo)) as f32;
                let [r, g, b, _] = map.sample(t);
                rows[s.id as usize] = [r, g, b, 255];
            }
        }
        rows
    }

    /// Score of region `id`, if scored.
    pub fn score_of(&self, id: u16) -> Option<&RegionScore> {
        self.scores.iter().find(|s| s.id == id)
    }

    /// Scores by id.
    pub fn by_id(&self) -> BTreeMap<u16, f64> {
        self.scores.iter().map(|s| (s.id, s.score)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atlas::Atlas;

    fn table() -> RegionTable {
        Atlas::aal3().unwrap().regions
    }

    #[test]
    fn reads_ranks_and_paints_scores() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("occlusion.csv");
        std::fs::write(
            &path,
            "region,lobe,score,spread,method\nHippocampus_L,limbic,0.30,0.05,occlusion\nlimbic,limbic,0.9,0.1,occlusion\nPrecentral_L,frontal,0.10,0.02,occlusion\nAmygdala_R,limbic,0.20,0.01,occlusion\n",
        )
        .unwrap();
        let t = table();
        let a = Attribution::read_csv(&path, &t).unwrap();
        assert_eq!(a.scores.len(), 3, "the lobe row is not a region");
        assert!(a.description.starts_with("occlusion"));
        let top: Vec<&str> = a.top(2).iter().map(|s| s.name.as_str()).collect();
        assert_eq!(top, ["Hippocampus_L", "Amygdala_R"]);
        assert!(!a.is_signed());
        assert_eq!(a.range(), (0.0, 0.30));
        let hippo = t.by_name("Hippocampus_L").unwrap().id;
        let pre = t.by_name("Precentral_L").unwrap().id;
        let rows = a.label_colours(200, 0.15);
        assert_eq!(rows[hippo as usize], ColorMap::Hot.sample(1.0));
        assert_eq!(rows[pre as usize][3], 0, "under the threshold: unpainted");
    }

    #[test]
    fn signed_scores_use_a_symmetric_diverging_map() {
        let a = Attribution {
            description: String::new(),
            scores: vec![
                RegionScore {
                    id: 1,
                    name: "a".into(),
                    lobe: "x".into(),
                    score: -0.5,
                    spread: 0.0,
                    tokens: 1,
                },
                RegionScore {
                    id: 2,
                    name: "b".into(),
                    lobe: "x".into(),
                    score: 0.25,
                    spread: 0.0,
                    tokens: 1,
                },
            ],
        };
        assert!(a.is_signed());
        assert_eq!(a.range(), (-0.5, 0.5));
        let rows = a.label_colours(2, 0.0);
        assert_eq!(rows[1], ColorMap::RedBlue.sample(0.0));
        assert_eq!(rows[2], ColorMap::RedBlue.sample(0.75));
    }

    #[test]
    fn region_losses_become_scores_named_from_the_table() {
        let t = table();
        let hippo = t.by_name("Hippocampus_L").unwrap().id;
        let pre = t.by_name("Precentral_L").unwrap().id;
        let losses = [
            RegionLoss {
                id: pre,
                mse: 0.2,
                voxels: 10,
            },
            RegionLoss {
                id: hippo,
                mse: 0.5,
                voxels: 4,
            },
            RegionLoss {
                id: 60000,
                mse: 9.0,
                voxels: 1,
            },
        ];
        let a = Attribution::from_region_losses(7, &losses, &t);
        let names: Vec<&str> = a.scores.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["Hippocampus_L", "Precentral_L"],
            "unknown ids dropped"
        );
        assert_eq!(a.scores[0].lobe, "limbic");
        assert_eq!(a.scores[0].tokens, 4);
        assert!(a.description.contains("step 7"));
        assert_eq!(a.range(), (0.0, 0.5));
    }

    #[test]
    fn a_file_without_scores_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        std::fs::write(&path, "name,value\nHippocampus_L,1\n").unwrap();
        let e = Attribution::read_csv(&path, &table()).unwrap_err();
        assert!(matches!(e, DashboardError::Columns { .. }), "{e}");
        let e = e.to_string();
        assert!(e.contains("x.csv") && e.contains("'region'"), "{e}");
    }
}
