//! The selective scan as the plain recurrence, one time step after another.
//! Clear rather than fast: the truth the parallel scan is tested against.

use super::{ScanInput, discretise, read_out};
use burn::prelude::*;

/// `h_t = decay_t ⊙ h_{t-1} + drive_t`, `h_{-1} = 0`, step by step.
pub fn scan(input: ScanInput) -> Tensor<3> {
    let (decay, drive) = discretise(&input);
    let [w, l, di, n] = decay.dims();
    let mut h = Tensor::<3>::zeros([w, di, n], &decay.device());
    let mut states = Vec::with_capacity(l);
    for t in 0..l {
        let a_t = decay.clone().narrow(1, t, 1).reshape([w, di, n]);
        let b_t = drive.clone().narrow(1, t, 1).reshape([w, di, n]);
        h = a_t * h + b_t;
        states.push(h.clone());
    }
    read_out(Tensor::stack(states, 1), &input)
}
