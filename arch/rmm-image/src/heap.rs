//! The RMM's heap: a bump allocator over the end of its region, for the tables the core builds
//! once at cold boot (granule table, per-CPU state, VMID bitmap). Nothing is freed; no RMI or
//! RSI path allocates.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicU64, Ordering};

unsafe extern "C" {
    static __heap_start: u8;
    static __heap_end: u8;
}

struct Bump {
    /// Bytes handed out so far.
    used: AtomicU64,
}

#[global_allocator]
static HEAP: Bump = Bump {
    used: AtomicU64::new(0),
};

// SAFETY: every allocation is a distinct, suitably aligned range inside the heap region, which
// nothing else uses; `dealloc` never reuses memory.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let (start, end) = (&raw const __heap_start as u64, &raw const __heap_end as u64);
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
    let size = &raw const __heap_end as u64 - &raw const __heap_start as u64;
    (HEAP.used.load(Ordering::Relaxed), size)
}
