//! The Realm Management Monitor core (Arm CCA, RMM specification 1.0-REL0).
//!
//! This crate holds everything the RMM decides: the granule table, the RMI commands and their
//! dispatch. It contains no architecture code: whatever touches hardware (EL3 calls, memory
//! mappings, system registers) sits behind the [`Platform`] trait, implemented by `arch/` for
//! aarch64 and by `host` (feature `host`) for a simulated machine on the build host.
//!
//! Every atomic comes from [`sync`], so that the same source builds with loom's atomics under
//! `--cfg loom` for the models in `loom-tests/`.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "host")]
extern crate std;

#[cfg(all(feature = "audit", not(loom)))]
pub mod audit;

pub mod attestation;
pub mod granule;
#[cfg(feature = "host")]
pub mod host;
pub mod measurement;
pub mod memory;
mod monitor;
pub mod percpu;
pub mod platform;
pub mod psci;
pub mod realm;
pub mod rec;
pub mod rmi;
pub mod rsi;
pub mod rtt;
pub mod smccc;
pub mod spinlock;
pub mod sync;
mod trace;

pub use monitor::Rmm;
pub use platform::Platform;

/// Size of a granule: the unit of physical memory the RMM tracks (spec A2.2).
pub const GRANULE_SIZE: u64 = 4096;
/// log2 of [`GRANULE_SIZE`].
pub const GRANULE_SHIFT: u32 = 12;
