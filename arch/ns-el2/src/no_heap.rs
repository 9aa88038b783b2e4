//! The global allocator the core crate `rmm` requires once it is linked in (it declares
//! `extern crate alloc` for the RMM's boot-time tables). The NS-EL2 programs never allocate,
//! and the parts of `rmm` they use (`measurement`, `attestation` checks, constants) do not
//! either, so every allocation fails: the allocation-error handler then panics, which ends the
//! run with a message.

use core::alloc::{GlobalAlloc, Layout};

struct NoHeap;

#[global_allocator]
static NO_HEAP: NoHeap = NoHeap;

// SAFETY: `alloc` never returns memory (null is the documented failure value), so there is
// nothing `dealloc` could be handed that came from here.
unsafe impl GlobalAlloc for NoHeap {
    unsafe fn alloc(&self, _layout: Layout) -> *mut u8 {
        core::ptr::null_mut()
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}
