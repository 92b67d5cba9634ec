//! Cancellation of a long analysis: a flag the caller sets (the client went away, the
//! request's deadline passed) and the analysis loops read. Plain atomics: no clock, no
//! async, so the analyses stay pure.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A shared flag: once set, analyses that check it stop and return [`Cancelled`].
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

/// The analysis stopped because its [`Cancel`] was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the analysis was cancelled")]
pub struct Cancelled;

impl Cancel {
    /// A flag not set yet.
    pub fn new() -> Self {
        Cancel::default()
    }

    /// Asks every holder of this flag to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// `Err(Cancelled)` once the flag is set: `cancel.check()?` in a loop.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_sees_the_flag() {
        let c = Cancel::new();
        let seen = c.clone();
        assert_eq!(seen.check(), Ok(()));
        c.cancel();
        assert_eq!(seen.check(), Err(Cancelled));
    }
}
