//! What the Normal-world programs at NS-EL2 share: the test host (`arch/test-host`) and the
//! realm VMM (`arch/realm-vmm`), each a flat binary the EL3 firmware enters at NS-EL2 with the
//! MMU off.
//!
//! - [`entry`]: `_start` and `secondary_entry` (stacks, `.bss`, vectors), calling the program's
//!   `primary_main(x0)` and `secondary_main(index)`; its link script places `.text.entry` first
//!   and provides `__bss_start`, `__bss_end` and `__stacks_start` ([`cpu::MAX_CPUS`] stacks of
//!   [`entry::STACK_SIZE`] bytes, below the image).
//! - [`exceptions`]: the vectors, a probed load that survives a Granule Protection Fault, and a
//!   register dump for anything unexpected.
//! - [`console`]: whole lines on the shared PL011 (`println!`).
//! - [`cpu`]: the CPUs (index <-> MPIDR from the device tree), this CPU's index, the counter,
//!   deadlines.
//! - [`psci`], [`smp`]: PSCI calls to EL3, and a job mailbox that runs a function on another CPU.
//! - [`rmi`]: typed RMI calls; [`rec_run`]: RmiRecRun, what REC_ENTER reads and writes.
//! - [`gic`]: the program's own GICv3 set-up.
//! - [`granule`]: Normal-world granules by physical address.
//!
//! It also provides the global allocator that linking the core crate `rmm` (measurements,
//! token checks) requires: one that never allocates.
#![no_std]

#[cfg(target_os = "none")]
pub mod console;
#[cfg(target_os = "none")]
pub mod cpu;
#[cfg(target_os = "none")]
pub mod entry;
#[cfg(target_os = "none")]
pub mod exceptions;
#[cfg(target_os = "none")]
pub mod gic;
#[cfg(target_os = "none")]
pub mod granule;
#[cfg(target_os = "none")]
mod no_heap;
#[cfg(target_os = "none")]
pub mod psci;
#[cfg(target_os = "none")]
pub mod rec_run;
#[cfg(target_os = "none")]
pub mod rmi;
#[cfg(target_os = "none")]
pub mod smp;

use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// The program's name, as its console lines begin (`init`).
static NAME: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());
static NAME_LEN: AtomicUsize = AtomicUsize::new(0);
/// The program's fatal handler (`init`), as a function address; 0: none yet.
static FATAL: AtomicUsize = AtomicUsize::new(0);

/// Names the program (`test-host`, `realm-vmm`: the prefix of the library's console lines) and
/// gives what ends the run after an unexpected exception. CPU 0, before starting other CPUs
/// (whose start publishes these: the mailbox's Release).
pub fn init(name: &'static str, fatal: fn() -> !) {
    NAME_LEN.store(name.len(), Ordering::Relaxed);
    NAME.store(name.as_ptr().cast_mut(), Ordering::Relaxed);
    FATAL.store(fatal as usize, Ordering::Relaxed);
}

/// The program's name.
pub fn name() -> &'static str {
    // Relaxed: written once by `init` before any other CPU runs (see there).
    let (ptr, len) = (
        NAME.load(Ordering::Relaxed),
        NAME_LEN.load(Ordering::Relaxed),
    );
    if ptr.is_null() {
        return "ns-el2";
    }
    // SAFETY: `init` stored the pointer and length of a `&'static str`.
    unsafe { core::str::from_utf8_unchecked(core::slice::from_raw_parts(ptr, len)) }
}

/// Ends the run through the program's fatal handler; parks the CPU without one.
pub fn fatal() -> ! {
    // Relaxed: as in `name`.
    match FATAL.load(Ordering::Relaxed) {
        0 => loop {
            core::hint::spin_loop();
        },
        // SAFETY: `init` is the only writer of non-zero values, each a `fn() -> !`'s address;
        // a function pointer survives the round trip through `usize` unchanged.
        f => unsafe { core::mem::transmute::<usize, fn() -> !>(f)() },
    }
}
