//! Granules the scenarios hand to the RMM: a pool of Normal-world DRAM outside the image, used
//! through physical addresses only (the MMU is off), never through Rust references.

use rmm_arch::GRANULE_SIZE;

/// The pool: 16 MiB at 0x7000_0000, in QEMU virt's NS DRAM (`-m 1G`: 0x4000_0000..0x8000_0000),
/// clear of the DTB (0x4000_0000), the RMM (0x4010_0000..0x4190_0000) and this image
/// (0x6000_0000, under 1 MiB with its stacks).
const POOL_BASE: u64 = 0x7000_0000;
const POOL_SIZE: u64 = 0x0100_0000;

/// A 4 KiB granule of the pool, by physical address. Its memory belongs to no Rust object, so
/// reading or writing it cannot break Rust's aliasing rules; while the granule is delegated an
/// access faults (a Granule Protection Fault, reported by the exception handler).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Granule(u64);

impl Granule {
    /// The pool granule at `pa`; None if `pa` is not a granule of the pool.
    pub fn in_pool(pa: u64) -> Option<Self> {
        let inside = (POOL_BASE..POOL_BASE + POOL_SIZE).contains(&pa);
        (inside && pa.is_multiple_of(GRANULE_SIZE)).then_some(Self(pa))
    }

    /// The granule at `pa` (aligned), outside the pool: Normal-world DRAM that the caller
    /// knows nothing else uses (the last granule of DRAM, past everything loaded).
    pub const fn unused_dram(pa: u64) -> Self {
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
}

/// Hands out pool granules in address order, zeroed. Only CPU 0 allocates.
pub struct Pool {
    next: u64,
}

impl Pool {
    /// The whole pool, unused.
    pub const fn new() -> Self {
        Self { next: POOL_BASE }
    }

    /// `count` consecutive zeroed granules, the first aligned to `count` granules (as the
    /// starting-level RTTs of a realm must be); the first is returned.
    pub fn alloc_aligned(&mut self, count: u64) -> Granule {
        let align = count * GRANULE_SIZE;
        let base = self.next.div_ceil(align) * align;
        let end = base + count * GRANULE_SIZE;
        assert!(end <= POOL_BASE + POOL_SIZE, "granule pool exhausted");
        self.next = end;
        for i in 0..count {
            Granule(base + i * GRANULE_SIZE).fill(0);
        }
        Granule(base)
    }

    /// One zeroed granule.
    pub fn alloc(&mut self) -> Granule {
        self.alloc_aligned(1)
    }
}
