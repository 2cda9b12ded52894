//! Streaming decode: progress arrives chunk by chunk in file order (so a
//! viewer can show the first frame before the rest is decoded), and the
//! result is one exactly-sized f32 buffer.

use roimae::volume::{Grid, Volume, VolumeMeta, read_volume_with_progress, write_volume};

#[test]
fn progress_is_monotonic_and_the_first_frame_is_usable_early() {
    let grid = Grid::mni_2mm();
    let frames = 6;
    let n = grid.n_voxels();
    let data: Vec<f32> = (0..n * frames).map(|i| (i % 1000) as f32 - 500.0).collect();
    let volume = Volume::from_data(
        grid,
        frames,
        data,
        VolumeMeta::new_f32(&grid, frames, Some(2.0), true),
    );
    let dir = tempfile::tempdir().unwrap();
    for name in ["run.nii", "run.nii.gz"] {
        let path = dir.path().join(name);
        write_volume(&volume, &path).unwrap();
        let mut calls = Vec::new();
        let mut first_frame: Option<Vec<f32>> = None;
        let back = read_volume_with_progress(&path, &mut |decoded, total| {
            calls.push((decoded.len(), total));
            if first_frame.is_none() && decoded.len() >= n {
                first_frame = Some(decoded[..n].to_vec());
            }
        })
        .unwrap();
        assert!(
            calls.len() > frames,
            "{name}: only {} progress calls",
            calls.len()
        );
        assert!(
            calls.windows(2).all(|w| w[0].0 < w[1].0),
            "{name}: not monotonic"
        );
        assert_eq!(calls.last().unwrap(), &(n * frames, n * frames));
        let (done_when_first_frame_ready, _) = *calls.iter().find(|(d, _)| *d >= n).unwrap();
        assert!(
            done_when_first_frame_ready < n * frames,
            "{name}: first frame only at the end"
        );
        assert_eq!(first_frame.unwrap(), volume.frame(0));
        assert_eq!(back.data, volume.data);
        assert_eq!(
            back.data.capacity(),
            back.data.len(),
            "{name}: one exact-size buffer"
        );
    }
}
