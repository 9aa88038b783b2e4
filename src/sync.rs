//! The one place atomics come from: loom's under `cfg(loom)`, `core`'s otherwise.
//!
//! Protocol atomics (granule words, per-CPU flags) use the types re-exported here, so the loom
//! models in `loom-tests/` check the very code the RMM runs. Physical memory is not a protocol:
//! it is hardware with single-copy-atomic 64-bit accesses, so it is always `core`'s
//! [`MemoryWord`], which loom does not model.

#[cfg(loom)]
pub use loom::hint::spin_loop;
#[cfg(loom)]
pub use loom::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};

#[cfg(not(loom))]
pub use core::hint::spin_loop;
#[cfg(not(loom))]
pub use core::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};

/// One naturally aligned 64-bit word of physical memory.
pub use core::sync::atomic::AtomicU64 as MemoryWord;
