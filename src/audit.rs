//! Shared-write audit (host, `audit` feature): atomics that record every cache line they write.
//!
//! With the feature on, [`crate::sync`]'s atomics and memory words are these wrappers. Every
//! store and read-modify-write (a failed compare-and-swap too: it takes the line exclusive all
//! the same) notes its cache line in the calling thread's log while [`record`] runs, so a test
//! can show which lines two CPUs' commands both write.

use core::sync::atomic::Ordering;
use std::cell::RefCell;
use std::collections::BTreeSet;

/// Bytes per cache line on the machines the RMM targets.
pub const CACHE_LINE: usize = 64;

std::thread_local! {
    static LOG: RefCell<Option<BTreeSet<usize>>> = const { RefCell::new(None) };
}

fn note<T>(at: &T) {
    let line = at as *const T as usize / CACHE_LINE;
    LOG.with(|log| {
        if let Some(lines) = log.borrow_mut().as_mut() {
            lines.insert(line);
        }
    });
}

/// Runs `f` and returns, with its result, the cache lines (address / 64) it wrote on this
/// thread through the RMM's atomics.
pub fn record<R>(f: impl FnOnce() -> R) -> (R, BTreeSet<usize>) {
    LOG.with(|log| *log.borrow_mut() = Some(BTreeSet::new()));
    let result = f();
    let lines = LOG.with(|log| log.borrow_mut().take()).unwrap_or_default();
    (result, lines)
}

macro_rules! audited {
    ($name:ident, $inner:ty, $int:ty) => {
        /// An atomic that notes the cache line of every write (module doc).
        #[derive(Debug, Default)]
        #[repr(transparent)]
        pub struct $name($inner);

        impl $name {
            /// A new atomic holding `v`.
            pub const fn new(v: $int) -> Self {
                Self(<$inner>::new(v))
            }
            /// Loads the value.
            pub fn load(&self, order: Ordering) -> $int {
                self.0.load(order)
            }
            /// Stores `v`.
            pub fn store(&self, v: $int, order: Ordering) {
                note(self);
                self.0.store(v, order)
            }
            /// Swaps in `v`.
            pub fn swap(&self, v: $int, order: Ordering) -> $int {
                note(self);
                self.0.swap(v, order)
            }
            /// Compare-and-swap.
            pub fn compare_exchange(
                &self,
                current: $int,
                new: $int,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$int, $int> {
                note(self);
                self.0.compare_exchange(current, new, success, failure)
            }
            /// Weak compare-and-swap.
            pub fn compare_exchange_weak(
                &self,
                current: $int,
                new: $int,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$int, $int> {
                note(self);
                self.0.compare_exchange_weak(current, new, success, failure)
            }
            /// Read-modify-write with `f`.
            pub fn fetch_update(
                &self,
                set: Ordering,
                fetch: Ordering,
                f: impl FnMut($int) -> Option<$int>,
            ) -> Result<$int, $int> {
                note(self);
                self.0.fetch_update(set, fetch, f)
            }
        }
    };
}

audited!(AtomicBool, core::sync::atomic::AtomicBool, bool);
audited!(AtomicU32, core::sync::atomic::AtomicU32, u32);
audited!(AtomicU64, core::sync::atomic::AtomicU64, u64);

/// The arithmetic and bitwise read-modify-writes of an audited integer atomic.
macro_rules! audited_rmw {
    ($name:ident, $int:ty) => {
        impl $name {
            /// Adds `v`.
            pub fn fetch_add(&self, v: $int, order: Ordering) -> $int {
                note(self);
                self.0.fetch_add(v, order)
            }
            /// Subtracts `v`.
            pub fn fetch_sub(&self, v: $int, order: Ordering) -> $int {
                note(self);
                self.0.fetch_sub(v, order)
            }
            /// ORs in `v`.
            pub fn fetch_or(&self, v: $int, order: Ordering) -> $int {
                note(self);
                self.0.fetch_or(v, order)
            }
            /// ANDs in `v`.
            pub fn fetch_and(&self, v: $int, order: Ordering) -> $int {
                note(self);
                self.0.fetch_and(v, order)
            }
        }
    };
}

audited_rmw!(AtomicU32, u32);
audited_rmw!(AtomicU64, u64);
