//! The one place atomics come from: loom's under `cfg(loom)`, `core`'s otherwise.
//!
//! Protocol atomics (granule words, per-CPU flags) use the types re-exported here, so the loom
//! models in `loom-tests/` check the very code the RMM runs. Physical memory is not a protocol:
//! it is hardware with single-copy-atomic 64-bit accesses, so it is always `core`'s
//! [`MemoryWord`], which loom does not model.

#[cfg(loom)]
pub use loom::hint::spin_loop;
#[cfg(loom)]
pub use loom::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, Ordering};

#[cfg(not(loom))]
pub use core::hint::spin_loop;
#[cfg(not(loom))]
pub use core::sync::atomic::{fence, Ordering};
#[cfg(all(not(loom), not(feature = "audit")))]
pub use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};

// The shared-write audit's recording atomics (host, `audit` feature; `crate::audit`).
#[cfg(all(not(loom), feature = "audit"))]
pub use crate::audit::{AtomicBool, AtomicU32, AtomicU64};

/// One naturally aligned 64-bit word of physical memory (recording its writes).
#[cfg(feature = "audit")]
pub use crate::audit::AtomicU64 as MemoryWord;
/// One naturally aligned 64-bit word of physical memory.
#[cfg(not(feature = "audit"))]
pub use core::sync::atomic::AtomicU64 as MemoryWord;
