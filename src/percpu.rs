//! State that belongs to one physical CPU, each in its own cache line.

use crate::sync::{AtomicBool, Ordering};

/// One CPU's private state.
///
/// Only the CPU itself touches it; `in_rmm` catches a harness that runs two calls on one CPU at
/// once, which hardware cannot do.
#[derive(Default)]
pub(crate) struct PerCpu {
    in_rmm: AtomicBool,
}

/// Marks a CPU as inside the RMM until dropped.
pub(crate) struct CpuGuard<'a>(&'a PerCpu);

impl PerCpu {
    /// Enters the RMM on this CPU.
    ///
    /// # Panics
    /// If the CPU is already inside the RMM: the caller broke the one-thread-per-CPU contract.
    pub(crate) fn enter(&self) -> CpuGuard<'_> {
        // Relaxed: the flag only detects misuse; the CPU's own thread is its only user.
        let was = self.in_rmm.swap(true, Ordering::Relaxed);
        assert!(!was, "two calls on one CPU at once");
        CpuGuard(self)
    }
}

impl Drop for CpuGuard<'_> {
    fn drop(&mut self) {
        self.0.in_rmm.store(false, Ordering::Relaxed);
    }
}
