//! A test-and-test-and-set spin lock for state that is rarely contended and never on an RMI
//! or RSI fast path (the console, one-time boot data). The concurrency core uses the granule
//! word instead ([`crate::granule`]).

use crate::sync::{spin_loop, AtomicBool, Ordering};
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};

/// Mutual exclusion over a `T` by spinning.
pub struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&mut T` to one holder at a time (Acquire on lock pairs with
// Release on unlock), so sharing the lock across threads only moves `T` between them.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// An unlocked lock around `value`.
    #[cfg(not(loom))]
    pub const fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// An unlocked lock around `value` (loom's atomics have no `const` constructor).
    #[cfg(loom)]
    pub fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// A raw pointer to the protected value, for code that must reach it without the lock
    /// (a fatal-error path on a CPU that may hold it). Dereferencing is the caller's risk.
    pub fn data_ptr(&self) -> *mut T {
        self.value.get()
    }

    /// Spins until the lock is free, then takes it.
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        loop {
            // Acquire: pairs with the Release in `SpinLockGuard::drop`, so the previous
            // holder's writes to `value` are visible to us.
            if self
                .locked
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                break;
            }
            // Relaxed: waiting reads only, so waiters do not write the lock's cache line;
            // the CAS above does the synchronisation.
            while self.locked.load(Ordering::Relaxed) {
                spin_loop();
            }
        }
        SpinLockGuard { lock: self }
    }
}

/// The holder of a [`SpinLock`]; unlocks on drop.
pub struct SpinLockGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while this thread holds the lock, and `&mut self`
        // makes this the only reference through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        // Release: pairs with the Acquire swap in `SpinLock::lock` of the next holder.
        self.lock.locked.store(false, Ordering::Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    extern crate std;
    use std::sync::Arc;
    use std::thread;

    #[test]
    fn increments_from_many_threads_are_not_lost() {
        let lock = Arc::new(SpinLock::new(0u64));
        let threads: std::vec::Vec<_> = (0..4)
            .map(|_| {
                let lock = lock.clone();
                thread::spawn(move || (0..10_000).for_each(|_| *lock.lock() += 1))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(*lock.lock(), 40_000);
    }
}
