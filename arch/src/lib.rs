//! aarch64 architecture code for the RMM: the RMM-EL3 interface and boot.
//!
//! A `#![no_std]` library that builds for the host (unit tests) and for
//! `aarch64-unknown-none-softfloat` (the future R-EL2 image). Contents:
//!
//! - [`smc`]: the SMC conduit to EL3 (a stub returning NOT_SUPPORTED off-target).
//! - [`el3`]: RMM-EL3 interface 0.3 function IDs, return codes, versions, GTSI calls.
//! - [`boot`]: cold/warm boot argument validation and the RMM_BOOT_COMPLETE error codes.
//! - [`manifest`]: the boot manifest 0.3 parser (DRAM banks, console), memory access
//!   through a caller-supplied reader.
//!
//! Source for all layouts and codes: TF-A `rmm-el3-comms-spec` (RMM-EL3 interface 0.3,
//! boot manifest 0.3), as used with RMM spec 1.0-REL0.
#![no_std]

pub mod boot;
pub mod el3;
pub mod manifest;
pub mod smc;

/// Granule (and shared buffer) size: 4 KiB.
pub const GRANULE_SIZE: u64 = 4096;
