//! One training step of `roimae pretrain` — masked forward, loss read back,
//! backward, AdamW update — shared by the trainer and `roimae bench train`
//! so that the benchmark times exactly what a run does.
//!
//! The step is two calls because the trainer checks the loss between them
//! (a non-finite loss stops the run before the weights are touched).
//! [`Sync::Phases`] additionally waits for the device after backward and
//! after the update (one scalar read back each), so that the three phases
//! can be timed apart on asynchronous devices; training uses
//! [`Sync::None`]. A step fails only on the device ([`DeviceFailure`]); the
//! caller says which step it was.

use super::error::DeviceFailure;
use crate::model::{BatchMask, Mae, ScanImpl};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use std::time::Instant;

/// The phases of a step, as reported to a [`Sync::Phases`] observer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Masked forward and loss read back.
    Forward,
    /// `loss.backward()`.
    Backward,
    /// Gradient collection and the optimiser step.
    Optimizer,
}

/// Whether the update waits for the device between its phases.
pub enum Sync<'a> {
    /// No extra waits (training).
    None,
    /// Read one scalar back after backward and after the optimiser step,
    /// then call the observer (outside the timed span) with the phase
    /// that just ended — e.g. to count kernel launches per phase.
    Phases(&'a mut dyn FnMut(Phase)),
}

/// Wall-clock seconds of the phases of one step.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PhaseTimes {
    /// Masked forward pass and loss, until the loss is on the host.
    pub forward_s: f64,
    /// `loss.backward()` (waited for under [`Sync::Phases`]).
    pub backward_s: f64,
    /// Gradient collection and the AdamW update (waited for likewise).
    pub optimizer_s: f64,
}

impl PhaseTimes {
    /// The whole step.
    pub fn total(&self) -> f64 {
        self.forward_s + self.backward_s + self.optimizer_s
    }
}

/// The forward half: the loss tensor (for backward) and its value on the
/// host, which waits for the device (where e.g. running out of memory shows).
pub fn forward_loss(
    model: &Mae,
    x: Tensor<6>,
    mask: &BatchMask,
) -> Result<(Tensor<1>, f64), DeviceFailure> {
    let out = model.forward(x, mask, ScanImpl::Auto);
    let value = out
        .loss
        .clone()
        .try_into_scalar::<f32>()
        .map_err(|e| DeviceFailure::from_text(&format!("{e:?}")))?;
    Ok((out.loss, f64::from(value)))
}

/// The update half: backward through `loss`, then one optimiser step at
/// `lr`. Returns the new model and the seconds spent in backward and in the
/// update.
pub fn update(
    model: Mae,
    optim: &mut ModuleOptimizer,
    loss: Tensor<1>,
    lr: f64,
    mut sync: Sync,
) -> Result<(Mae, f64, f64), DeviceFailure> {
    let t0 = Instant::now();
    let grads = loss.backward();
    if let Sync::Phases(_) = sync {
        let g = model
            .decoder
            .pred
            .bias
            .as_ref()
            .map(|b| b.val())
            .and_then(|b| b.grad(&grads))
            .ok_or(DeviceFailure::NoGradient("the decoder's output bias"))?;
        wait(g.sum())?;
    }
    let backward_s = t0.elapsed().as_secs_f64();
    if let Sync::Phases(observe) = &mut sync {
        observe(Phase::Backward);
    }
    let t1 = Instant::now();
    let grads = GradientsParams::from_grads(grads, &model);
    let model = optim.step(lr, model, grads);
    let mut optimizer_s = t1.elapsed().as_secs_f64();
    if let Sync::Phases(observe) = &mut sync {
        let first = model.decoder.pred.weight.val().narrow(0, 0, 1).sum();
        wait(first)?;
        optimizer_s = t1.elapsed().as_secs_f64();
        observe(Phase::Optimizer);
    }
    Ok((model, backward_s, optimizer_s))
}

/// Forward, loss read back, backward and update, each phase timed;
/// `observe` is called after each phase, outside its timed span.
pub fn timed_step(
    model: Mae,
    optim: &mut ModuleOptimizer,
    x: Tensor<6>,
    mask: &BatchMask,
    lr: f64,
    observe: &mut dyn FnMut(Phase),
) -> Result<(Mae, f64, PhaseTimes), DeviceFailure> {
    let t0 = Instant::now();
    let (loss_t, loss) = forward_loss(&model, x, mask)?;
    let forward_s = t0.elapsed().as_secs_f64();
    observe(Phase::Forward);
    let (model, backward_s, optimizer_s) = update(model, optim, loss_t, lr, Sync::Phases(observe))?;
    Ok((
        model,
        loss,
        PhaseTimes {
            forward_s,
            backward_s,
            optimizer_s,
        },
    ))
}

fn wait<const D: usize>(t: Tensor<D>) -> Result<(), DeviceFailure> {
    crate::model::device::wait_for(t, "during training").map_err(DeviceFailure::from_model)
}
