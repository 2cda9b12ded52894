//! Progress and cancellation of a long evaluation (region attribution):
//! a [`Progress`] hook carried in the options says how far the work is
//! (`done` of `total` units, e.g. forward batches) and holds a cancel flag
//! that the work checks between units, stopping with
//! [`EvalError::Cancelled`]. The command line passes [`Progress::none`]
//! (the options' default); the app passes a flag and a callback.

use super::EvalError;
use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The callback told `(done, total)`.
pub type ReportFn = dyn Fn(usize, usize) + Send + Sync;

/// Reports progress and carries a cancel flag; the default does neither.
#[derive(Clone, Default)]
pub struct Progress {
    cancel: Option<Arc<AtomicBool>>,
    report: Option<Arc<ReportFn>>,
}

impl Progress {
    /// No reporting, never cancelled (the command line's hook).
    pub fn none() -> Progress {
        Progress::default()
    }

    /// Reports through `report(done, total)`; the work stops once `cancel`
    /// is set.
    pub fn new(
        cancel: Arc<AtomicBool>,
        report: impl Fn(usize, usize) + Send + Sync + 'static,
    ) -> Progress {
        Progress {
            cancel: Some(cancel),
            report: Some(Arc::new(report)),
        }
    }

    /// Whether cancellation was asked.
    pub fn is_cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// `Err(Cancelled)` once cancellation was asked.
    pub fn check(&self) -> Result<(), EvalError> {
        if self.is_cancelled() {
            Err(EvalError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Tells the callback `done` of `total`.
    pub fn report(&self, done: usize, total: usize) {
        if let Some(r) = &self.report {
            r(done, total);
        }
    }

    /// A counter of `total` units reported through this hook (0 of
    /// `total` is reported now).
    pub fn counter(&self, total: usize) -> Counter<'_> {
        self.report(0, total);
        Counter {
            progress: self,
            done: Cell::new(0),
            total,
        }
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Progress")
            .field("cancellable", &self.cancel.is_some())
            .field("reports", &self.report.is_some())
            .finish()
    }
}

impl PartialEq for Progress {
    /// The same hook: the same flag and the same callback (or neither).
    fn eq(&self, other: &Progress) -> bool {
        let same_flag = match (&self.cancel, &other.cancel) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (a, b) => a.is_none() && b.is_none(),
        };
        let same_report = match (&self.report, &other.report) {
            (Some(a), Some(b)) => std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b)),
            (a, b) => a.is_none() && b.is_none(),
        };
        same_flag && same_report
    }
}

/// Units of one piece of work counted against a known total.
pub struct Counter<'a> {
    progress: &'a Progress,
    done: Cell<usize>,
    total: usize,
}

impl Counter<'_> {
    /// `Err(Cancelled)` once cancellation was asked (call before a unit).
    pub fn check(&self) -> Result<(), EvalError> {
        self.progress.check()
    }

    /// One more unit done, reported.
    pub fn tick(&self) {
        let done = (self.done.get() + 1).min(self.total.max(1));
        self.done.set(done);
        self.progress.report(done, self.total);
    }

    /// Units done so far.
    pub fn done(&self) -> usize {
        self.done.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn counts_units_and_stops_once_cancelled() {
        let flag = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let p = Progress::new(flag.clone(), move |d, t| log.lock().unwrap().push((d, t)));
        let c = p.counter(3);
        assert!(c.check().is_ok());
        c.tick();
        c.tick();
        flag.store(true, Ordering::Relaxed);
        assert!(matches!(c.check(), Err(EvalError::Cancelled)));
        assert_eq!(*seen.lock().unwrap(), [(0, 3), (1, 3), (2, 3)]);
        assert_eq!(c.done(), 2);
        // The command line's hook never cancels and reports nothing.
        let none = Progress::none();
        assert!(none.counter(5).check().is_ok());
        assert_eq!(none, Progress::default());
        assert_ne!(none, p);
        assert_eq!(p.clone(), p);
    }
}
