//! The RMM image: R-EL2 firmware for aarch64-unknown-none-softfloat, booted by EL3 through the
//! RMM-EL3 interface 0.3 (TF-A, or the project's QEMU test firmware). Platforms: `qemu`
//! (QEMU `virt`, default) and `fvp` (FVP Base RevC); they differ only in the load address.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod attestation;
#[cfg(target_os = "none")]
mod boot;
#[cfg(target_os = "none")]
mod boot_cell;
#[cfg(target_os = "none")]
mod console;
#[cfg(target_os = "none")]
mod cpus;
#[cfg(target_os = "none")]
mod debug;
#[cfg(target_os = "none")]
mod el1;
#[cfg(target_os = "none")]
mod el2;
#[cfg(target_os = "none")]
mod entry;
#[cfg(target_os = "none")]
mod exceptions;
#[cfg(target_os = "none")]
mod fp;
#[cfg(target_os = "none")]
mod gic;
#[cfg(target_os = "none")]
mod heap;
#[cfg(target_os = "none")]
mod mem;
#[cfg(target_os = "none")]
mod mmu;
#[cfg(target_os = "none")]
mod nscopy;
#[cfg(target_os = "none")]
mod platform;
#[cfg(target_os = "none")]
mod pmu;
#[cfg(target_os = "none")]
mod sve;
#[cfg(target_os = "none")]
mod timer;
#[cfg(target_os = "none")]
mod world_switch;

#[cfg(all(feature = "qemu", feature = "fvp"))]
compile_error!("choose one platform: --no-default-features --features fvp for FVP");

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let cpu = rmm_arch::read_sysreg!("tpidr_el2");
    console::fatal(format_args!("RMM: PANIC on CPU {cpu}: {info}"));
    exceptions::halt()
}

/// Built for the host, the image is an empty program, so that `cargo test --workspace` and
/// clippy on the host cover the workspace.
#[cfg(not(target_os = "none"))]
fn main() {}
