//! Background NIfTI loading for the viewer: the header first (shape and
//! memory estimate), throttled progress, the first volume of a 4D run as
//! soon as it is decoded, then the whole run or a one-line error. The GUI
//! polls events each frame; the worker wakes it after every event.

use super::ViewerError;
use crate::volume::{Grid, Header, Volume, VolumeMeta, read_header, read_volume_with_progress};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, channel};

/// At most about this many progress events are sent per file.
const PROGRESS_STEPS: usize = 50;

/// What the loading worker reports, in order: `Started`, any `Progress`
/// and `FirstFrame`, then exactly one of `Finished` or `Failed` (or only
/// `Failed` when the header cannot be read).
#[derive(Debug)]
pub enum LoadEvent {
    /// The header was read.
    Started {
        /// The file being read.
        path: PathBuf,
        /// (x, y, z, t); t is 1 for a 3D file.
        shape: [usize; 4],
        /// Memory the decoded f32 array will take.
        bytes: u64,
    },
    /// `done` of `total` values decoded.
    Progress {
        /// Values decoded so far.
        done: usize,
        /// Values in the file.
        total: usize,
    },
    /// Volume 0 of a 4D run, as a 3D volume (sent only for runs of more
    /// than one volume, before the rest is decoded).
    FirstFrame(Volume),
    /// The whole file.
    Finished(Volume),
    /// Why the file cannot be shown (one line naming the file).
    Failed(ViewerError),
}

/// A NIfTI file being decoded on a worker thread.
///
/// Dropping the loader detaches the worker: it finishes decoding (the
/// reader cannot be interrupted) and its events are discarded.
pub struct VolumeLoader {
    path: PathBuf,
    events: Receiver<LoadEvent>,
}

impl VolumeLoader {
    /// Starts decoding on a worker thread; `wake` is called after every
    /// event is sent (the GUI passes `ctx.request_repaint`).
    pub fn start(path: PathBuf, wake: impl Fn() + Send + 'static) -> VolumeLoader {
        let (sender, events) = channel();
        let worker_path = path.clone();
        let spawned = std::thread::Builder::new()
            .name("roimae-load".into())
            .spawn(move || {
                let send = |event| {
                    // A closed channel means nobody is waiting any more.
                    if sender.send(event).is_ok() {
                        wake();
                    }
                };
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    load(&worker_path, &send)
                }));
                if outcome.is_err() {
                    send(LoadEvent::Failed(ViewerError::LoaderPanicked {
                        path: worker_path.clone(),
                    }));
                }
            });
        if let Err(e) = spawned {
            let (sender, receiver) = channel();
            let _ = sender.send(LoadEvent::Failed(ViewerError::LoaderThread {
                path: path.clone(),
                reason: e.to_string(),
            }));
            return VolumeLoader {
                path,
                events: receiver,
            };
        }
        VolumeLoader { path, events }
    }

    /// Events received since the last call (non-blocking).
    pub fn poll(&self) -> Vec<LoadEvent> {
        self.events.try_iter().collect()
    }

    /// The file being loaded.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The worker: reads the header, then the data, reporting through `send`.
fn load(path: &Path, send: &dyn Fn(LoadEvent)) {
    let header = match read_header(path) {
        Ok(header) => header,
        Err(e) => return send(LoadEvent::Failed(ViewerError::Unreadable { source: e })),
    };
    let shape = header.shape4();
    send(LoadEvent::Started {
        path: path.to_path_buf(),
        shape,
        bytes: header.n_values() * std::mem::size_of::<f32>() as u64,
    });
    let frame_len = shape[0] * shape[1] * shape[2];
    let mut first_frame_sent = shape[3] <= 1;
    let mut next_report = 0usize;
    let mut on_progress = |decoded: &[f32], total: usize| {
        let done = decoded.len();
        if done >= next_report || done == total {
            send(LoadEvent::Progress { done, total });
            next_report = done + (total / PROGRESS_STEPS).max(1);
        }
        if !first_frame_sent && done >= frame_len {
            first_frame_sent = true;
            send(LoadEvent::FirstFrame(first_frame(
                &header,
                &decoded[..frame_len],
            )));
        }
    };
    match read_volume_with_progress(path, &mut on_progress) {
        Ok(volume) => send(LoadEvent::Finished(volume)),
        Err(e) => send(LoadEvent::Failed(ViewerError::Unreadable { source: e })),
    }
}

/// Volume 0 of a run as a 3D volume (header facts kept, TR included).
fn first_frame(header: &Header, data: &[f32]) -> Volume {
    let [nx, ny, nz, _] = header.shape4();
    let grid = Grid::new([nx, ny, nz], header.affine);
    let mut meta = VolumeMeta::from_header(header);
    meta.ndim = 3;
    meta.zooms.truncate(3);
    Volume::from_data(grid, 1, data.to_vec(), meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::read_volume;
    use std::sync::mpsc::sync_channel;
    use std::time::Duration;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name)
    }

    /// Loads `path` and returns every event, waiting on the wake callback
    /// (at most 60 s in all) until `Finished` or `Failed`.
    fn load_all(path: PathBuf) -> Vec<LoadEvent> {
        let (woken, wakes) = sync_channel::<()>(1024);
        let loader = VolumeLoader::start(path.clone(), move || {
            let _ = woken.try_send(());
        });
        assert_eq!(loader.path(), path);
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut events = Vec::new();
        loop {
            events.extend(loader.poll());
            if matches!(
                events.last(),
                Some(LoadEvent::Finished(_) | LoadEvent::Failed(_))
            ) {
                return events;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(
                wakes.recv_timeout(left).is_ok(),
                "loading {} did not finish in time; got {events:?}",
                path.display()
            );
        }
    }

    #[test]
    fn a_4d_run_reports_started_first_frame_then_finished() {
        let path = fixture("functional.nii");
        let events = load_all(path.clone());
        let Some(LoadEvent::Started {
            path: started,
            shape,
            bytes,
        }) = events.first()
        else {
            panic!("first event should be Started: {events:?}");
        };
        assert_eq!(*started, path);
        assert_eq!(*shape, [17, 21, 3, 20]);
        assert_eq!(*bytes, 17 * 21 * 3 * 20 * 4);
        let kinds: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                LoadEvent::Started { .. } => Some("started"),
                LoadEvent::FirstFrame(_) => Some("first"),
                LoadEvent::Finished(_) => Some("finished"),
                LoadEvent::Failed(_) => Some("failed"),
                LoadEvent::Progress { .. } => None,
            })
            .collect();
        assert_eq!(kinds, ["started", "first", "finished"]);
        let first = events
            .iter()
            .find_map(|e| match e {
                LoadEvent::FirstFrame(v) => Some(v),
                _ => None,
            })
            .unwrap();
        let Some(LoadEvent::Finished(full)) = events.last() else {
            unreachable!()
        };
        let truth = read_volume(&path).unwrap();
        assert_eq!(full, &truth);
        assert_eq!(first.shape(), vec![17, 21, 3]);
        assert_eq!(first.frames, 1);
        assert_eq!(first.data, truth.frame(0));
        assert_eq!(first.grid, truth.grid);
        // Progress never goes backwards, ends complete, and is throttled.
        let progress: Vec<(usize, usize)> = events
            .iter()
            .filter_map(|e| match e {
                LoadEvent::Progress { done, total } => Some((*done, *total)),
                _ => None,
            })
            .collect();
        assert!(!progress.is_empty() && progress.len() <= PROGRESS_STEPS + 1);
        assert!(progress.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(progress.last(), Some(&(21420, 21420)));
    }

    #[test]
    fn a_3d_file_has_no_separate_first_frame() {
        let events = load_all(fixture("anatomical.nii"));
        assert!(matches!(
            events.first(),
            Some(LoadEvent::Started {
                shape: [33, 41, 25, 1],
                ..
            })
        ));
        assert!(!events.iter().any(|e| matches!(e, LoadEvent::FirstFrame(_))));
        let Some(LoadEvent::Finished(v)) = events.last() else {
            panic!("expected Finished: {events:?}");
        };
        assert_eq!(v.shape(), vec![33, 41, 25]);
    }

    #[test]
    fn a_gzip_run_sends_its_first_frame() {
        let events = load_all(fixture("nitime_fmri1.nii.gz"));
        let first = events.iter().find_map(|e| match e {
            LoadEvent::FirstFrame(v) => Some(v.grid.dims),
            _ => None,
        });
        assert_eq!(first, Some([10, 10, 18]));
        assert!(matches!(events.last(), Some(LoadEvent::Finished(v)) if v.frames == 40));
    }

    #[test]
    fn missing_and_truncated_files_fail_with_one_line_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent.nii");
        let events = load_all(missing.clone());
        assert_eq!(events.len(), 1, "{events:?}");
        let Some(LoadEvent::Failed(error)) = events.last() else {
            panic!("expected Failed: {events:?}");
        };
        let message = error.to_string();
        assert!(
            message.contains("absent.nii") && !message.contains('\n'),
            "{message}"
        );

        let bytes = std::fs::read(fixture("functional.nii")).unwrap();
        let truncated = dir.path().join("cut.nii");
        std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
        let events = load_all(truncated);
        let Some(LoadEvent::Failed(error)) = events.last() else {
            panic!("expected Failed: {events:?}");
        };
        let message = error.to_string();
        assert!(message.contains("cut.nii"), "{message}");
        assert!(message.contains("truncated"), "{message}");
        assert!(!events.iter().any(|e| matches!(e, LoadEvent::Finished(_))));
    }
}
