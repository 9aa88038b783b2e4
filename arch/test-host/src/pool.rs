//! The granules the scenarios hand to the RMM: a pool of Normal-world DRAM outside the image.

use ns_el2::granule::Granule;
use rmm_arch::GRANULE_SIZE;

/// The pool: 64 MiB at 0x7000_0000, in QEMU virt's NS DRAM (`-m 1G`: 0x4000_0000..0x8000_0000),
/// clear of the DTB (0x4000_0000), the RMM (0x4010_0000..0x4410_0000), the stacks
/// (0x5e00_0000..) and this image (0x6000_0000, under 1 MiB). The realm with one REC per CPU
/// takes 6 granules per CPU (REC, 4 auxiliary, RmiRecRun): 12 MiB for 512.
const POOL_BASE: u64 = 0x7000_0000;
const POOL_SIZE: u64 = 0x0400_0000;

/// The pool granule at `pa`; None if `pa` is not a granule of the pool.
pub fn granule(pa: u64) -> Option<Granule> {
    let inside = (POOL_BASE..POOL_BASE + POOL_SIZE).contains(&pa);
    (inside && pa.is_multiple_of(GRANULE_SIZE)).then_some(Granule::at(pa))
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
            Granule::at(base + i * GRANULE_SIZE).fill(0);
        }
        Granule::at(base)
    }

    /// `count` consecutive zeroed granules (at least one); the first is returned.
    pub fn alloc_run(&mut self, count: u64) -> Granule {
        let first = self.alloc();
        for _ in 1..count {
            self.alloc();
        }
        first
    }

    /// One zeroed granule.
    pub fn alloc(&mut self) -> Granule {
        self.alloc_aligned(1)
    }
}
