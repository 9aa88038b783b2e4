//! Exception vectors at NS-EL2. The only exception expected is the Granule Protection Fault of
//! a deliberate probe (a load from a delegated granule): [`probe_read`] arms the handler, which
//! records ESR and FAR and skips the load. Anything else is reported with a register dump, and
//! the program's fatal handler ([`crate::init`]) ends the run.

use crate::console::println;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};

/// ESR_ELx.EC of a Data Abort taken without a change in exception level.
const EC_DABT_CUR: u64 = 0x25;
/// ESR_ELx.EC of an unknown reason (e.g. `hlt` with semihosting off).
const EC_UNKNOWN: u64 = 0x00;

/// Value a probed register keeps when the load faulted (and was skipped).
const PROBE_UNTOUCHED: u64 = 0x5a5a_5a5a_a5a5_a5a5;

/// [`PROBE`] states.
const IDLE: u8 = 0;
const ARMED: u8 = 1;
const FIRED: u8 = 2;

// The probe in progress. Only CPU 0 probes, and the handler that fires it runs on the same CPU
// synchronously with the probing load, so program order alone orders these accesses: every
// ordering on them is Relaxed, pairing with nothing. (Atomics only because they are statics.)
static PROBE: AtomicU8 = AtomicU8::new(IDLE);
static PROBE_ESR: AtomicU64 = AtomicU64::new(0);
static PROBE_FAR: AtomicU64 = AtomicU64::new(0);
/// Set once the run is ending: an Unknown exception (the semihosting `hlt` with semihosting
/// off) is then skipped. Relaxed: read by the handler on the CPU that set it.
static EXITING: AtomicBool = AtomicBool::new(false);

/// What a probed load did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The load completed with this value.
    Read(u64),
    /// The load took a synchronous exception at NS-EL2: ESR_EL2 and FAR_EL2.
    Faulted { esr: u64, far: u64 },
}

/// Loads the 64-bit word at physical address `pa`, catching a Data Abort.
///
/// `pa` must be 8-byte aligned; the word is only read (device-like access, MMU off).
pub fn probe_read(pa: u64) -> Probe {
    PROBE.store(ARMED, Ordering::Relaxed);
    let mut value = PROBE_UNTOUCHED;
    // SAFETY: a single `ldr` from `pa`, which the caller names as an aligned physical address
    // in Normal-world DRAM (MMU off: the access cannot alias any Rust object in a way that
    // matters, as it only reads). If it faults, the vector below sees PROBE armed, records the
    // syndrome in PROBE_* and resumes at the next instruction with `value` unchanged. The asm
    // is not `readonly`, so the compiler reloads PROBE after it.
    unsafe {
        core::arch::asm!(
            "ldr {value}, [{pa}]",
            pa = in(reg) pa,
            value = inout(reg) value,
            options(nostack, preserves_flags),
        );
    }
    if PROBE.swap(IDLE, Ordering::Relaxed) == FIRED {
        Probe::Faulted {
            esr: PROBE_ESR.load(Ordering::Relaxed),
            far: PROBE_FAR.load(Ordering::Relaxed),
        }
    } else {
        Probe::Read(value)
    }
}

/// Marks the run as ending: from now on an Unknown exception (the semihosting `hlt` trapping
/// because semihosting is off) is skipped instead of reported.
pub fn set_exiting() {
    EXITING.store(true, Ordering::Relaxed);
}

/// Saved registers, as the vector stores them: x0..x30 (x30 at index 30).
#[repr(C)]
pub struct Frame {
    x: [u64; 31],
}

/// Called by the vector code with the vector's `kind` (offset / 0x80 in the table) and the
/// saved registers. Returns 1 to resume after the faulting instruction, 0 to resume at it.
#[no_mangle]
extern "C" fn handle_exception(kind: u64, frame: &Frame) -> u64 {
    let esr = rmm_arch::read_sysreg!("esr_el2");
    let far = rmm_arch::read_sysreg!("far_el2");
    let ec = esr >> 26;
    // kind 4: synchronous, current EL with SP_EL2.
    if kind == 4 && ec == EC_DABT_CUR && PROBE.load(Ordering::Relaxed) == ARMED {
        PROBE_ESR.store(esr, Ordering::Relaxed);
        PROBE_FAR.store(far, Ordering::Relaxed);
        PROBE.store(FIRED, Ordering::Relaxed);
        return 1;
    }
    if kind == 4 && ec == EC_UNKNOWN && EXITING.load(Ordering::Relaxed) {
        return 1;
    }
    dump(kind, esr, far, frame);
    crate::fatal()
}

fn dump(kind: u64, esr: u64, far: u64, frame: &Frame) {
    const KINDS: [&str; 4] = ["sync", "irq", "fiq", "serror"];
    let source = ["EL2t", "EL2h", "lower AArch64", "lower AArch32"][(kind as usize / 4) & 3];
    println!(
        "{}: unexpected {} exception from {} on CPU {}: ESR_EL2={:#x} FAR_EL2={:#x} ELR_EL2={:#x} SPSR_EL2={:#x}",
        crate::name(),
        KINDS[kind as usize & 3],
        source,
        crate::cpu::current(),
        esr,
        far,
        rmm_arch::read_sysreg!("elr_el2"),
        rmm_arch::read_sysreg!("spsr_el2"),
    );
    for (i, pair) in frame.x.chunks(4).enumerate() {
        let base = i * 4;
        match pair {
            [a, b, c, d] => println!(
                "{}:   x{:<2}={:#018x} x{:<2}={:#018x} x{:<2}={:#018x} x{:<2}={:#018x}",
                crate::name(),
                base,
                a,
                base + 1,
                b,
                base + 2,
                c,
                base + 3,
                d
            ),
            [a, b, c] => println!(
                "{}:   x{:<2}={:#018x} x{:<2}={:#018x} x{:<2}={:#018x}",
                crate::name(),
                base,
                a,
                base + 1,
                b,
                base + 2,
                c
            ),
            _ => {}
        }
    }
}

// The vector table: 16 entries of 0x80 bytes, 2 KiB aligned. Each entry saves x0/x1, puts its
// index in x0 and joins `exception_common`, which saves x2..x30, calls `handle_exception`, and
// skips the faulting instruction when that returns non-zero.
core::arch::global_asm!(
    r#"
    .section .text.vectors, "ax"
    .balign 2048
    .global exception_vectors
exception_vectors:
    .irp kind, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 128
    sub     sp, sp, #256
    stp     x0, x1, [sp, #0]
    mov     x0, #\kind
    b       exception_common
    .endr

exception_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    str     x30, [sp, #240]
    mov     x1, sp
    bl      handle_exception
    cbz     x0, 1f
    mrs     x1, elr_el2
    add     x1, x1, #4
    msr     elr_el2, x1
1:  ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    ldr     x30, [sp, #240]
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #256
    eret
"#
);
