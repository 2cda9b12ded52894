//! Training curves as the dashboard shows them: series of (step, epoch,
//! wall time, value) per metric, de-biased exponential smoothing (as
//! TensorBoard does), the x axis choice, and CSV export in the same tidy
//! columns as a run's `metrics.csv`.

use super::DashboardError;
use std::collections::BTreeMap;
use std::path::Path;

/// One logged value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Optimiser step.
    pub step: usize,
    /// Epoch (0-based).
    pub epoch: usize,
    /// Seconds since the run started.
    pub wall_s: f64,
    /// The value.
    pub value: f64,
}

/// What the x axis shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XAxis {
    /// Optimiser steps.
    #[default]
    Step,
    /// Fractional epochs (step / steps per epoch).
    Epoch,
    /// Wall-clock seconds.
    Time,
}

impl XAxis {
    /// All choices.
    pub const ALL: [XAxis; 3] = [XAxis::Step, XAxis::Epoch, XAxis::Time];

    /// Axis label.
    pub fn label(self) -> &'static str {
        match self {
            XAxis::Step => "step",
            XAxis::Epoch => "epoch",
            XAxis::Time => "time (s)",
        }
    }

    /// The x value of a point; `steps_per_epoch` converts steps to epochs.
    pub fn x(self, p: &Point, steps_per_epoch: usize) -> f64 {
        match self {
            XAxis::Step => p.step as f64,
            XAxis::Epoch => p.step as f64 / steps_per_epoch.max(1) as f64,
            XAxis::Time => p.wall_s,
        }
    }
}

/// De-biased exponential moving average: `s_t = w s_{t-1} + (1-w) x_t`
/// from `s_0 = 0`, divided by `1 - w^t`, so early values are not pulled
/// towards zero. `w = 0` returns the series; non-finite values are skipped
/// (they keep the previous smoothed value).
pub fn smooth(values: &[f64], weight: f64) -> Vec<f64> {
    let w = weight.clamp(0.0, 0.999);
    let mut s = 0.0;
    let mut n = 0i32;
    let mut last = f64::NAN;
    values
        .iter()
        .map(|&x| {
            if x.is_finite() {
                s = w * s + (1.0 - w) * x;
                n += 1;
                last = s / (1.0 - w.powi(n));
            }
            last
        })
        .collect()
}

/// All series of one run, keyed by (split, metric).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunCurves {
    /// Run name (folder name).
    pub name: String,
    /// Steps per epoch (for the epoch axis).
    pub steps_per_epoch: usize,
    /// The series.
    pub series: BTreeMap<(String, String), Vec<Point>>,
}

impl RunCurves {
    /// An empty set for run `name`.
    pub fn new(name: &str) -> RunCurves {
        RunCurves {
            name: name.to_string(),
            ..Default::default()
        }
    }

    /// Appends a value.
    pub fn push(&mut self, split: &str, metric: &str, point: Point) {
        self.series
            .entry((split.to_string(), metric.to_string()))
            .or_default()
            .push(point);
    }

    /// One series (empty when absent).
    pub fn get(&self, split: &str, metric: &str) -> &[Point] {
        self.series
            .get(&(split.to_string(), metric.to_string()))
            .map_or(&[], |v| v.as_slice())
    }

    /// Reads a run's `metrics.csv` (columns run,split,metric,step,epoch,value,wall_s
    /// in any order).
    pub fn read_csv(path: &Path) -> Result<RunCurves, DashboardError> {
        let (mut reader, headers) =
            super::error::open_csv(path, "metrics", "is this a roimae metrics.csv?")?;
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| DashboardError::Columns {
                    path: path.to_path_buf(),
                    needs: format!("no '{name}' column; is this a roimae metrics.csv?"),
                })
        };
        let (c_split, c_metric, c_step, c_value) =
            (col("split")?, col("metric")?, col("step")?, col("value")?);
        let c_epoch = col("epoch").ok();
        let c_wall = col("wall_s").ok();
        let name = path
            .parent()
            .and_then(|p| p.file_name())
            .map_or("run".to_string(), |n| n.to_string_lossy().into_owned());
        let mut curves = RunCurves::new(&name);
        for (i, row) in reader.records().enumerate() {
            let bad_row = |problem: String| DashboardError::row(path, i, problem);
            let row = row.map_err(|e| bad_row(e.to_string()))?;
            let num = |c: usize| row.get(c).unwrap_or("").trim().parse::<f64>();
            let (Ok(step), Ok(value)) = (num(c_step), num(c_value)) else {
                return Err(bad_row("step and value must be numbers".into()));
            };
            let point = Point {
                step: step as usize,
                epoch: c_epoch.and_then(|c| num(c).ok()).unwrap_or(0.0) as usize,
                wall_s: c_wall.and_then(|c| num(c).ok()).unwrap_or(0.0),
                value,
            };
            curves.push(&row[c_split], &row[c_metric], point);
        }
        curves.steps_per_epoch = curves.infer_steps_per_epoch();
        Ok(curves)
    }

    /// Steps per epoch from the logged (step, epoch) pairs: the first step
    /// of epoch 1, or 0 when there is no second epoch.
    fn infer_steps_per_epoch(&self) -> usize {
        self.series
            .values()
            .flatten()
            .filter(|p| p.epoch >= 1)
            .map(|p| p.step / p.epoch)
            .min()
            .unwrap_or(0)
    }

    /// Writes every series as tidy CSV (run,split,metric,step,epoch,value,wall_s).
    pub fn write_csv(&self, path: &Path) -> Result<(), DashboardError> {
        let io = |e: &dyn std::fmt::Display| DashboardError::Write {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let mut w = csv::Writer::from_path(path).map_err(|e| io(&e))?;
        w.write_record(["run", "split", "metric", "step", "epoch", "value", "wall_s"])
            .map_err(|e| io(&e))?;
        for ((split, metric), points) in &self.series {
            for p in points {
                w.write_record([
                    self.name.as_str(),
                    split,
                    metric,
                    &p.step.to_string(),
                    &p.epoch.to_string(),
                    &p.value.to_string(),
                    &format!("{:.3}", p.wall_s),
                ])
                .map_err(|e| io(&e))?;
            }
        }
        w.flush().map_err(|e| io(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_is_debiased_and_matches_the_recurrence() {
        // A constant series stays constant (no pull towards zero).
        assert!(
            smooth(&[2.0; 5], 0.6)
                .iter()
                .all(|&v| (v - 2.0).abs() < 1e-12)
        );
        // By hand, w = 0.5: s1 = 0.5*1 -> /0.5 = 1; s2 = 0.25+0.5*3 = 1.75 -> /0.75.
        let s = smooth(&[1.0, 3.0], 0.5);
        assert!((s[0] - 1.0).abs() < 1e-12);
        assert!((s[1] - 1.75 / 0.75).abs() < 1e-12);
        // w = 0 is the identity; NaN keeps the previous value.
        assert_eq!(smooth(&[1.0, 5.0], 0.0), vec![1.0, 5.0]);
        let s = smooth(&[1.0, f64::NAN, 1.0], 0.3);
        assert!(s.iter().all(|v| (v - 1.0).abs() < 1e-12), "{s:?}");
    }

    #[test]
    fn csv_round_trips_and_infers_epochs() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run-a");
        std::fs::create_dir(&run).unwrap();
        let mut c = RunCurves::new("run-a");
        for step in 0..10 {
            let p = Point {
                step,
                epoch: step / 4,
                wall_s: step as f64 * 0.5,
                value: 1.0 / (step + 1) as f64,
            };
            c.push("train", "loss", p);
        }
        c.push(
            "val",
            "loss",
            Point {
                step: 8,
                epoch: 2,
                wall_s: 4.0,
                value: 0.2,
            },
        );
        let path = run.join("metrics.csv");
        c.write_csv(&path).unwrap();
        let back = RunCurves::read_csv(&path).unwrap();
        assert_eq!(back.name, "run-a");
        assert_eq!(back.get("train", "loss").len(), 10);
        assert_eq!(back.get("val", "loss")[0].value, 0.2);
        assert_eq!(back.steps_per_epoch, 4);
        assert_eq!(XAxis::Epoch.x(&back.get("train", "loss")[6], 4), 1.5);
    }

    #[test]
    fn a_csv_without_the_columns_is_refused_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        std::fs::write(&path, "a,b\n1,2\n").unwrap();
        let e = RunCurves::read_csv(&path).unwrap_err();
        assert!(matches!(e, DashboardError::Columns { .. }), "{e}");
        let e = e.to_string();
        assert!(e.contains("metrics.csv") && e.contains("'split'"), "{e}");
    }
}
