//! The built-in demo subject the viewer opens with `--demo-subject` and
//! File → Demo subject: a synthetic 4D run with a planted limbic effect.

use crate::atlas::Atlas;
use crate::volume::Volume;
use std::sync::Arc;

/// A synthetic 4D subject (2 mm MNI grid, planted limbic effect) for demos.
pub fn demo_subject(atlas: &Atlas) -> (String, Arc<Volume>) {
    let cfg = crate::data::synth::SynthConfig {
        frames: 60,
        ..Default::default()
    };
    let subject = crate::data::synth::generate_subject(&cfg, atlas, 1);
    (
        format!(
            "synthetic demo subject sub-{} ({} frames)",
            subject.id, cfg.frames
        ),
        Arc::new(subject.volume),
    )
}
