//! State that belongs to one physical CPU, each in its own cache line.
//!
//! # Walk announcements: reader exclusion for lock-free RTT walks
//!
//! A CPU that reads a realm's tables without locks (an RTT walk) first *announces* the walk in
//! its own slot: the RD it walks and an odd sequence number, then a SeqCst fence. When it is
//! done it stores the next (even) number with Release. An announced CPU never waits for a lock,
//! so announcements always end quickly.
//!
//! A CPU that makes a table (or an RD) unreachable and wants to reuse its granule unlinks it
//! first, then calls [`quiesce`]: a SeqCst fence, then, for every other CPU that has announced a
//! walk of the same realm, a wait until that walk has ended. The two fences order the pair as
//! Dekker's protocol does: either the walker's reads come after the unlink (it cannot reach the
//! table) or the destroyer sees the announcement (and waits for it). A walk announced after the
//! destroyer's scan starts after the unlink, so each CPU is waited for at most once.
//!
//! The walker's Release store at the end pairs with the destroyer's Acquire load of the
//! sequence: every read the walker made of the table happens before the destroyer wipes it.

use crate::sync::{fence, spin_loop, AtomicBool, AtomicU64, Ordering};

/// One CPU's private state.
pub struct PerCpu {
    /// Catches a harness that runs two calls on one CPU at once, which hardware cannot do.
    in_rmm: AtomicBool,
    /// Odd while a walk is announced; the walk's number otherwise.
    walk_seq: AtomicU64,
    /// The RD of the realm being walked; meaningful while `walk_seq` is odd.
    walk_rd: AtomicU64,
}

/// Marks a CPU as inside the RMM until dropped.
pub struct CpuGuard<'a>(&'a PerCpu);

/// An announced walk; dropping it ends the announcement.
pub struct Walk<'a> {
    cpu: &'a PerCpu,
    seq: u64,
}

impl Default for PerCpu {
    fn default() -> Self {
        Self::new()
    }
}

impl PerCpu {
    /// A CPU outside the RMM that has never walked.
    pub fn new() -> Self {
        Self {
            in_rmm: AtomicBool::new(false),
            walk_seq: AtomicU64::new(0),
            walk_rd: AtomicU64::new(0),
        }
    }

    /// Enters the RMM on this CPU.
    ///
    /// # Panics
    /// If the CPU is already inside the RMM: the caller broke the one-thread-per-CPU contract.
    pub fn enter(&self) -> CpuGuard<'_> {
        // Relaxed: the flag only detects misuse; the CPU's own thread is its only user.
        let was = self.in_rmm.swap(true, Ordering::Relaxed);
        assert!(!was, "two calls on one CPU at once");
        CpuGuard(self)
    }

    /// Announces a lock-free walk of the realm whose RD is at `rd`. The caller must not wait
    /// for any lock until the returned guard is dropped.
    pub fn announce_walk(&self, rd: u64) -> Walk<'_> {
        // Relaxed loads and stores of our own slot: only this CPU writes it. A sequence number
        // wraps: 2^64 is even, so parity survives, and `quiesce` compares only for equality.
        let seq = self.walk_seq.load(Ordering::Relaxed).wrapping_add(1);
        debug_assert!(seq % 2 == 1, "walks do not nest");
        self.walk_rd.store(rd, Ordering::Relaxed);
        self.walk_seq.store(seq, Ordering::Relaxed);
        // SeqCst: pairs with the fence in `quiesce` (module doc): the announcement is visible
        // to a destroyer before this CPU reads any table.
        fence(Ordering::SeqCst);
        Walk { cpu: self, seq }
    }
}

impl Drop for Walk<'_> {
    fn drop(&mut self) {
        // Release: pairs with the Acquire in `quiesce`; all our reads of the realm's tables
        // happen before a destroyer that waited for us reuses them.
        self.cpu.walk_seq.store(self.seq.wrapping_add(1), Ordering::Release);
    }
}

/// Waits until no CPU in `cpus` is still in a walk of realm `rd` that began before the caller
/// made something of that realm unreachable. The caller may hold locks: walkers never wait.
pub fn quiesce(cpus: &[impl core::ops::Deref<Target = PerCpu>], rd: u64) {
    // SeqCst: pairs with the fence in `announce_walk` (module doc).
    fence(Ordering::SeqCst);
    for cpu in cpus {
        // Acquire: pairs with the Release that ends a walk.
        let seq = cpu.walk_seq.load(Ordering::Acquire);
        if seq % 2 == 0 || cpu.walk_rd.load(Ordering::Relaxed) != rd {
            continue;
        }
        while cpu.walk_seq.load(Ordering::Acquire) == seq {
            spin_loop();
        }
    }
}

impl Drop for CpuGuard<'_> {
    fn drop(&mut self) {
        self.0.in_rmm.store(false, Ordering::Relaxed);
    }
}
