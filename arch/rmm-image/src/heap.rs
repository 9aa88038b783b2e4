//! The RMM's heap: a bump allocator over the end of its region, for the tables the core builds
//! once at cold boot (granule table, per-CPU state, VMID bitmap). Nothing is freed; no RMI or
//! RSI path allocates.
//!
//! The link script gives the image the largest region any of its firmwares provides (64 MiB on
//! QEMU with this project's EL3). A firmware that gives less, as TF-A's qemu port does (24 MiB
//! less 4 KiB, with the shared buffer right after it), is told apart by where it puts the
//! shared buffer: [`end_below`] ends the heap there, so the RMM never touches memory past it.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicU64, Ordering};

unsafe extern "C" {
    static __heap_start: u8;
    static __heap_end: u8;
}

struct Bump {
    /// Bytes handed out so far.
    used: AtomicU64,
    /// Where the heap ends, if before `__heap_end` ([`end_below`]); 0 if not.
    end: AtomicU64,
}

#[global_allocator]
static HEAP: Bump = Bump {
    used: AtomicU64::new(0),
    end: AtomicU64::new(0),
};

/// The heap: `[start, end)`.
fn bounds() -> (u64, u64) {
    let (start, linked_end) = (&raw const __heap_start as u64, &raw const __heap_end as u64);
    // Relaxed: written once by CPU 0 at cold boot before it allocates; later CPUs start after
    // cold boot completes (EL3 orders their start after RMM_BOOT_COMPLETE).
    match HEAP.end.load(Ordering::Relaxed) {
        0 => (start, linked_end),
        end => (start, end),
    }
}

/// Ends the heap at `pa` if `pa` lies inside it: the RMM-EL3 shared buffer a firmware placed
/// at the end of a region smaller than the image was linked for. Cold boot, CPU 0, before the
/// first allocation and before `mmu::build` maps the heap ([`end`]).
pub fn end_below(pa: u64) {
    let (start, end) = bounds();
    if pa > start && pa < end {
        HEAP.end
            .store(pa & !(rmm::GRANULE_SIZE - 1), Ordering::Relaxed);
    }
}

/// Where the heap ends: the end of the RMM's read-write memory.
pub fn end() -> u64 {
    bounds().1
}

// SAFETY: every allocation is a distinct, suitably aligned range inside the heap region, which
// nothing else uses; `dealloc` never reuses memory.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let (start, end) = bounds();
        let align = layout.align() as u64;
        // Relaxed: the counter only partitions the region; the memory handed out is published
        // to other CPUs by whatever publishes the pointer to it.
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let at = (start + used).next_multiple_of(align);
            let Some(new_end) = at.checked_add(layout.size() as u64).filter(|&e| e <= end) else {
                return core::ptr::null_mut();
            };
            match self.used.compare_exchange_weak(
                used,
                new_end - start,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return at as *mut u8,
                Err(now) => used = now,
            }
        }
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

/// Bytes of heap in use and in all.
pub fn usage() -> (u64, u64) {
    let (start, end) = bounds();
    (HEAP.used.load(Ordering::Relaxed), end - start)
}
