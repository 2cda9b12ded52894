//! The time course at the cursor: one voxel's values over the run, shown
//! raw, demeaned or as percent signal change, against seconds (from the TR)
//! or volume index, and exported as a tidy CSV.

use super::ViewerError;
use crate::fsutil::write_file;
use crate::volume::Volume;
use std::path::Path;

/// How a voxel's series is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeriesMode {
    /// The stored (scaled) values.
    #[default]
    Raw,
    /// Values minus their mean.
    Demeaned,
    /// `100 * (x - mean) / mean`.
    PercentSignal,
}

impl SeriesMode {
    /// All modes in menu order.
    pub const ALL: [SeriesMode; 3] = [
        SeriesMode::Raw,
        SeriesMode::Demeaned,
        SeriesMode::PercentSignal,
    ];

    /// The name shown in the GUI.
    pub fn label(self) -> &'static str {
        match self {
            SeriesMode::Raw => "Raw",
            SeriesMode::Demeaned => "Demeaned",
            SeriesMode::PercentSignal => "% signal change",
        }
    }

    /// The word written in CSV files.
    pub fn key(self) -> &'static str {
        match self {
            SeriesMode::Raw => "raw",
            SeriesMode::Demeaned => "demeaned",
            SeriesMode::PercentSignal => "percent_signal",
        }
    }
}

/// The values of voxel `ijk` at every time point (one for a 3D volume);
/// empty when `ijk` is outside the grid.
pub fn voxel_series(volume: &Volume, ijk: [usize; 3]) -> Vec<f32> {
    let [i, j, k] = ijk;
    (0..volume.frames)
        .map_while(|t| volume.value(i, j, k, t))
        .collect()
}

/// `series` in `mode`. The mean is taken over the finite values; non-finite
/// values stay non-finite. Percent signal of a series with mean 0 (or no
/// finite value) is all zeros rather than infinities.
pub fn transform(series: &[f32], mode: SeriesMode) -> Vec<f64> {
    let values = series.iter().map(|&v| v as f64);
    let mean = || {
        let (sum, n) = values
            .clone()
            .filter(|v| v.is_finite())
            .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
        if n == 0 { 0.0 } else { sum / n as f64 }
    };
    match mode {
        SeriesMode::Raw => values.collect(),
        SeriesMode::Demeaned => {
            let mean = mean();
            values.map(|v| v - mean).collect()
        }
        SeriesMode::PercentSignal => {
            let mean = mean();
            if mean == 0.0 {
                vec![0.0; series.len()]
            } else {
                values.map(|v| 100.0 * (v - mean) / mean).collect()
            }
        }
    }
}

/// The x axis of a series of `n` volumes: seconds (`t * TR`) when the TR is
/// known and positive, else the volume index (0-based).
pub fn time_axis(n: usize, tr: Option<f64>) -> Vec<f64> {
    let step = tr.filter(|t| t.is_finite() && *t > 0.0).unwrap_or(1.0);
    (0..n).map(|t| t as f64 * step).collect()
}

/// Where a series comes from, written into every CSV row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeriesHeader {
    /// Voxel indices.
    pub ijk: [usize; 3],
    /// World position of the voxel (mm).
    pub world_mm: [f64; 3],
    /// How the values were transformed.
    pub mode: SeriesMode,
    /// Repetition time in seconds, when known.
    pub tr: Option<f64>,
}

/// Writes one row per volume with the columns
/// `volume,time_s,value,mode,i,j,k,x_mm,y_mm,z_mm` (atomically). `time_s` is
/// `times` when the TR is known and empty otherwise; `volume` is 0-based.
pub fn write_series_csv(
    path: &Path,
    header: &SeriesHeader,
    times: &[f64],
    values: &[f64],
) -> Result<(), ViewerError> {
    if times.len() != values.len() {
        return Err(ViewerError::RaggedSeries {
            path: path.to_path_buf(),
            times: times.len(),
            values: values.len(),
        });
    }
    let known_tr = header.tr.is_some_and(|t| t.is_finite() && t > 0.0);
    let mut writer = csv::Writer::from_writer(Vec::new());
    let columns = [
        "volume", "time_s", "value", "mode", "i", "j", "k", "x_mm", "y_mm", "z_mm",
    ];
    let csv_error = |e: csv::Error| ViewerError::CsvEncode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    writer.write_record(columns).map_err(csv_error)?;
    let [i, j, k] = header.ijk.map(|v| v.to_string());
    let [x, y, z] = header.world_mm.map(|v| format!("{v:.3}"));
    for (volume, (time, value)) in times.iter().zip(values).enumerate() {
        let time = if known_tr {
            time.to_string()
        } else {
            String::new()
        };
        let row = [
            volume.to_string(),
            time,
            value.to_string(),
            header.mode.key().to_string(),
            i.clone(),
            j.clone(),
            k.clone(),
            x.clone(),
            y.clone(),
            z.clone(),
        ];
        writer.write_record(&row).map_err(csv_error)?;
    }
    let bytes = writer.into_inner().map_err(|e| ViewerError::CsvEncode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(write_file(path, &bytes, "time-course CSV")?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::{Affine, Grid, VolumeMeta};

    /// A 2 x 1 x 1 grid with 3 frames: voxel 0 = 10, 20, 30; voxel 1 = -1, 0, 1.
    fn tiny_run() -> Volume {
        let grid = Grid::new([2, 1, 1], Affine::identity());
        Volume::from_data(
            grid,
            3,
            vec![10.0, -1.0, 20.0, 0.0, 30.0, 1.0],
            VolumeMeta::new_f32(&grid, 3, Some(2.0), false),
        )
    }

    #[test]
    fn series_reads_one_voxel_across_frames() {
        let run = tiny_run();
        assert_eq!(voxel_series(&run, [0, 0, 0]), vec![10.0, 20.0, 30.0]);
        assert_eq!(voxel_series(&run, [1, 0, 0]), vec![-1.0, 0.0, 1.0]);
        assert!(voxel_series(&run, [2, 0, 0]).is_empty());
        assert!(voxel_series(&run, [0, 0, 1]).is_empty());
    }

    #[test]
    fn modes_transform_by_hand_computed_values() {
        let s = [10.0, 20.0, 30.0];
        assert_eq!(transform(&s, SeriesMode::Raw), vec![10.0, 20.0, 30.0]);
        assert_eq!(transform(&s, SeriesMode::Demeaned), vec![-10.0, 0.0, 10.0]);
        assert_eq!(
            transform(&s, SeriesMode::PercentSignal),
            vec![-50.0, 0.0, 50.0]
        );
        // Mean 0: percent signal is zeros, not infinities.
        assert_eq!(
            transform(&[-1.0, 0.0, 1.0], SeriesMode::PercentSignal),
            vec![0.0; 3]
        );
        // The mean skips the NaN (mean of 2 and 4 is 3).
        let d = transform(&[2.0, f32::NAN, 4.0], SeriesMode::Demeaned);
        assert_eq!((d[0], d[2]), (-1.0, 1.0));
        assert!(d[1].is_nan());
        assert!(transform(&[], SeriesMode::PercentSignal).is_empty());
    }

    #[test]
    fn time_axis_uses_tr_or_falls_back_to_volume_index() {
        assert_eq!(time_axis(3, Some(2.5)), vec![0.0, 2.5, 5.0]);
        assert_eq!(time_axis(3, None), vec![0.0, 1.0, 2.0]);
        assert_eq!(time_axis(2, Some(0.0)), vec![0.0, 1.0]);
        assert_eq!(time_axis(2, Some(-1.0)), vec![0.0, 1.0]);
        assert!(time_axis(0, Some(2.0)).is_empty());
    }

    #[test]
    fn csv_has_tidy_columns_and_one_row_per_volume() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("series.csv");
        let header = SeriesHeader {
            ijk: [4, 5, 6],
            world_mm: [-2.0, 10.5, 0.25],
            mode: SeriesMode::PercentSignal,
            tr: Some(2.0),
        };
        write_series_csv(&path, &header, &[0.0, 2.0], &[-50.0, 50.0]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "volume,time_s,value,mode,i,j,k,x_mm,y_mm,z_mm\n\
             0,0,-50,percent_signal,4,5,6,-2.000,10.500,0.250\n\
             1,2,50,percent_signal,4,5,6,-2.000,10.500,0.250\n"
        );
        let no_tr = SeriesHeader { tr: None, ..header };
        write_series_csv(&path, &no_tr, &[0.0], &[1.5]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.lines().nth(1),
            Some("0,,1.5,percent_signal,4,5,6,-2.000,10.500,0.250")
        );
    }

    #[test]
    fn csv_refuses_mismatched_lengths_and_bad_folders() {
        let dir = tempfile::tempdir().unwrap();
        let header = SeriesHeader {
            ijk: [0; 3],
            world_mm: [0.0; 3],
            mode: SeriesMode::Raw,
            tr: None,
        };
        let path = dir.path().join("a.csv");
        let err = write_series_csv(&path, &header, &[0.0], &[]).unwrap_err();
        assert!(matches!(err, ViewerError::RaggedSeries { .. }), "{err}");
        let err = err.to_string();
        assert!(
            err.contains("a.csv") && err.contains("1 times but 0 values"),
            "{err}"
        );
        let path = dir.path().join("no-such-dir").join("b.csv");
        let err = write_series_csv(&path, &header, &[0.0], &[1.0]).unwrap_err();
        assert!(matches!(err, ViewerError::File(_)), "{err}");
        assert!(err.to_string().contains("b.csv"), "{err}");
    }

    #[test]
    fn labels_are_distinct() {
        let labels: std::collections::BTreeSet<_> =
            SeriesMode::ALL.iter().map(|m| m.label()).collect();
        assert_eq!(labels.len(), 3);
        assert_eq!(SeriesMode::default(), SeriesMode::Raw);
    }
}
