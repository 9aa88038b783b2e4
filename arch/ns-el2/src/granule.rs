//! Granules of Normal-world DRAM handed to the RMM (or shared with it), used through physical
//! addresses only (the MMU is off), never through Rust references.

use rmm_arch::GRANULE_SIZE;

/// A 4 KiB granule of Normal-world DRAM, by physical address. Its memory belongs to no Rust
/// object (its owner hands out each granule once: a pool, or memory past everything loaded), so
/// reading or writing it cannot break Rust's aliasing rules; while the granule is delegated an
/// access faults (a Granule Protection Fault, reported by the exception handler).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Granule(u64);

impl Granule {
    /// The granule at `pa` (aligned down to a granule). The caller owns its memory: it was
    /// handed out once by a pool, or lies past everything loaded.
    pub const fn at(pa: u64) -> Self {
        Self(pa & !(GRANULE_SIZE - 1))
    }

    /// Its physical address.
    pub const fn pa(self) -> u64 {
        self.0
    }

    fn word(self, offset: usize) -> *mut u64 {
        assert!(offset.is_multiple_of(8) && (offset as u64) < GRANULE_SIZE);
        (self.0 + offset as u64) as *mut u64
    }

    /// Writes the 64-bit word at byte `offset` (8-byte aligned).
    pub fn write_u64(self, offset: usize, value: u64) {
        // SAFETY: an aligned word inside a pool granule (see the type's comment), accessed
        // by physical address with the MMU off.
        unsafe { core::ptr::write_volatile(self.word(offset), value) }
    }

    /// Reads the 64-bit word at byte `offset` (8-byte aligned).
    pub fn read_u64(self, offset: usize) -> u64 {
        // SAFETY: as in `write_u64`.
        unsafe { core::ptr::read_volatile(self.word(offset)) }
    }

    /// Writes the 32-bit word at byte `offset` (4-byte aligned).
    pub fn write_u32(self, offset: usize, value: u32) {
        assert!(offset.is_multiple_of(4) && (offset as u64) < GRANULE_SIZE);
        // SAFETY: an aligned 32-bit word inside a pool granule (see the type's comment).
        unsafe { core::ptr::write_volatile((self.0 + offset as u64) as *mut u32, value) }
    }

    /// Sets every 64-bit word to `value`.
    pub fn fill(self, value: u64) {
        for offset in (0..GRANULE_SIZE as usize).step_by(8) {
            self.write_u64(offset, value);
        }
    }

    /// The first word offset whose value is not `value`, if any.
    pub fn find_not(self, value: u64) -> Option<usize> {
        (0..GRANULE_SIZE as usize)
            .step_by(8)
            .find(|&offset| self.read_u64(offset) != value)
    }

    /// Writes `bytes` from byte `offset` (which `bytes` must not run past the granule from).
    pub fn write_bytes(self, offset: usize, bytes: &[u8]) {
        assert!(offset + bytes.len() <= GRANULE_SIZE as usize);
        for (i, &b) in bytes.iter().enumerate() {
            // SAFETY: a byte inside the granule (see the type's comment).
            unsafe { core::ptr::write_volatile((self.0 + (offset + i) as u64) as *mut u8, b) }
        }
    }

    /// Copies `len` bytes (at most a granule) from the Normal-world memory at `pa`.
    pub fn copy_from(self, pa: u64, len: u64) {
        for i in 0..len.min(GRANULE_SIZE) {
            // SAFETY: a byte inside the granule and one of Normal-world memory the caller names
            // (MMU off: physical addresses; no Rust object covers either).
            unsafe {
                let b = core::ptr::read_volatile((pa + i) as *const u8);
                core::ptr::write_volatile((self.0 + i) as *mut u8, b);
            }
        }
    }

    /// The granule's bytes.
    pub fn bytes(self) -> [u8; GRANULE_SIZE as usize] {
        let mut out = [0u8; GRANULE_SIZE as usize];
        for (i, chunk) in out.chunks_exact_mut(8).enumerate() {
            chunk.copy_from_slice(&self.read_u64(8 * i).to_le_bytes());
        }
        out
    }
}
