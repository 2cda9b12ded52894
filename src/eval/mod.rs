//! Downstream evaluation of a pretrained encoder: subject-level
//! classification metrics, fine-tuning (frozen encoder + linear head, or
//! full) with honest held-out test subjects, and region attribution.

pub mod metrics;
