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
//! - [`manifest_writer`]: the boot manifest 0.3 EL3 writes (one bank, one console).
//! - [`layout`]: the QEMU `virt` and FVP memory maps the images are built for.
//! - [`fwcfg`]: QEMU's fw_cfg files, for the test firmware and the test host.
//! - [`fdt`]: the device tree reader (DRAM, CPUs) and writer the Normal-world images share.
//! - [`perf`]: the test firmware's SiP calls that count instructions per world (QEMU perf).
//! - [`realm_report`]: the protocol between the realm test payload and the test host.
//! - [`pl011`], [`semihosting`], [`sysreg`]: console, simulator exit, system registers, for
//!   the RMM image, the QEMU test firmware and the test host alike.
//!
//! Source for all layouts and codes: TF-A `rmm-el3-comms-spec` (RMM-EL3 interface 0.3,
//! boot manifest 0.3), as used with RMM spec 1.0-REL0.
#![no_std]

pub mod boot;
pub mod el3;
pub mod fdt;
pub mod fwcfg;
pub mod layout;
pub mod manifest;
pub mod manifest_writer;
pub mod perf;
pub mod pl011;
pub mod realm_report;
pub mod semihosting;
pub mod smc;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod sysreg;

/// Granule (and shared buffer) size: 4 KiB.
pub const GRANULE_SIZE: u64 = 4096;
