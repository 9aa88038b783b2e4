//! Data written by CPU 0 during cold boot and only read afterwards.

use core::cell::UnsafeCell;

/// A value CPU 0 writes during cold boot, before RMM_BOOT_COMPLETE, and every CPU reads
/// afterwards. EL3 enters no other CPU until cold boot has completed (RMM-EL3 interface 0.3),
/// and the RMM issues `dsb sy` before that SMC, so the writes are visible to every reader.
pub struct BootCell<T>(UnsafeCell<T>);

// SAFETY: the cold-boot/warm-boot sequence above serialises the writer before all readers.
unsafe impl<T: Sync> Sync for BootCell<T> {}

impl<T> BootCell<T> {
    /// A cell holding `value`.
    pub const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    /// The value, for writing.
    ///
    /// # Safety
    /// Only during cold boot on CPU 0, with no reference from [`BootCell::get`] alive.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn get_mut(&self) -> &mut T {
        // SAFETY: the caller is the only CPU running and holds no other reference.
        unsafe { &mut *self.0.get() }
    }

    /// The value, after cold boot.
    pub fn get(&self) -> &T {
        // SAFETY: after cold boot the value is never written again (see the type's doc).
        unsafe { &*self.0.get() }
    }
}
