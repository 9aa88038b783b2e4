//! A cell written at most once, then read by every CPU without locks: the RMM's attestation
//! identity, set at boot after EL3 hands over the RAK and platform token.
//!
//! Protocol, on one state word: `EMPTY → WRITING` by the one writer whose CAS wins, the value
//! written, then `WRITING → READY` with Release. A reader that loads `READY` with Acquire
//! sees the whole value. The value never changes afterwards, so `&T` may be handed out.
//! A reader that sees `EMPTY` or `WRITING` gets `None` (no waiting). loom model:
//! `loom-tests/tests/write_once.rs`.

use crate::sync::{AtomicU64, Ordering};
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;

const EMPTY: u64 = 0;
const WRITING: u64 = 1;
const READY: u64 = 2;

/// The cell was already set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlreadySet;

/// A `T` set at most once ([`WriteOnce::set`]), readable from any thread once set.
pub struct WriteOnce<T> {
    /// [`EMPTY`], [`WRITING`] (one writer owns `value`) or [`READY`] (`value` initialised,
    /// immutable).
    state: AtomicU64,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: `value` is written by the one thread whose CAS moved `state` out of EMPTY, before
// its Release store of READY; other threads read it only after an Acquire load of READY and
// only through `&T`. So sharing the cell shares `&T` (needs `T: Sync`) and may move a `T` in
// from the setting thread (needs `T: Send`).
unsafe impl<T: Send + Sync> Sync for WriteOnce<T> {}

impl<T> Default for WriteOnce<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> WriteOnce<T> {
    /// An empty cell.
    pub fn new() -> Self {
        Self {
            state: AtomicU64::new(EMPTY),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Sets the value; `Err(value)` if the cell was already set (or is being set).
    pub fn set(&self, value: T) -> Result<(), T> {
        // Acquire: nothing to see before us (EMPTY is the initial state); Relaxed on failure,
        // where we touch nothing. The CAS makes this thread the only writer of `value`.
        if self
            .state
            .compare_exchange(EMPTY, WRITING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(value);
        }
        // SAFETY: our CAS won, so no other thread writes `value`, and readers wait for READY.
        unsafe { (*self.value.get()).write(value) };
        // Release: pairs with the Acquire load in `get`, publishing the value written above.
        self.state.store(READY, Ordering::Release);
        Ok(())
    }

    /// The value, if set.
    pub fn get(&self) -> Option<&T> {
        // Acquire: pairs with the Release store of READY in `set`.
        if self.state.load(Ordering::Acquire) == READY {
            // SAFETY: READY means `value` was initialised (and published, by the pairing
            // above) and is never written again.
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }
}

impl<T> Drop for WriteOnce<T> {
    fn drop(&mut self) {
        // Relaxed: `&mut self` means no other thread holds the cell.
        if self.state.load(Ordering::Relaxed) == READY {
            // SAFETY: READY means `value` is initialised; we own the cell, and it is dropped
            // once.
            unsafe { self.value.get_mut().assume_init_drop() };
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::WriteOnce;
    extern crate std;
    use std::sync::Arc;

    #[test]
    fn second_set_fails_and_value_is_kept() {
        let cell = WriteOnce::new();
        assert!(cell.get().is_none());
        assert_eq!(cell.set(1u32), Ok(()));
        assert_eq!(cell.set(2), Err(2));
        assert_eq!(cell.get(), Some(&1));
    }

    #[test]
    fn value_is_dropped_with_the_cell() {
        let value = Arc::new(5);
        let cell = WriteOnce::new();
        cell.set(value.clone()).unwrap();
        assert_eq!(Arc::strong_count(&value), 2);
        drop(cell);
        assert_eq!(Arc::strong_count(&value), 1);
    }
}
