//! The perf modes (`rmm_arch::realm_report`, "Perf modes"): REC 0 exits for ever, each time
//! by one timed instruction sequence, and tells the host in the next exit how long it spent
//! itself between the previous two.
//!
//! Every round trip is bracketed by two counter reads, `isb; mrs CNTVCT_EL0` just before the
//! exit and just after the return: what lies between those brackets is the RMM's (and EL3's and
//! the host's), what lies outside them is the realm's.

use crate::report;
use crate::rsi::HOST_CALL;
use rmm_arch::realm_report::{IMM_PERF, MMIO_OFFSET, UNPROTECTED_BASE};

/// What each round trip does.
#[derive(Clone, Copy)]
pub enum Exit {
    /// RSI_HOST_CALL.
    HostCall,
    /// A write to d0, which traps to the RMM's lazy FP/SIMD switch on every entry, then
    /// RSI_HOST_CALL.
    FpHostCall,
    /// A write to z0 (SVE, in a realm with SVE), which traps to the RMM's lazy SVE switch on
    /// every entry, then RSI_HOST_CALL.
    SveHostCall,
    /// RSI_HOST_CALL with a breakpoint set and MDSCR_EL1.MDE on (PSTATE.D masked, so it never
    /// fires): the RMM switches the debug registers on every round trip.
    DebugHostCall,
    /// A store to the emulated MMIO register.
    Mmio,
    /// A write to ICC_SGI1R_EL1, forwarded to the host.
    Sgi,
}

/// `timed_host_call`'s `touch`: write d0 (FP/SIMD) or z0 (SVE) first.
const TOUCH_FP: u64 = 1;
const TOUCH_SVE: u64 = 2;

/// Runs the loop.
pub fn run(exit: Exit) -> ! {
    if let Exit::FpHostCall | Exit::SveHostCall = exit {
        enable_fp();
    }
    if let Exit::DebugHostCall = exit {
        arm_breakpoint();
    }
    let page = report::prepared_host_call(IMM_PERF);
    let mut own = 0u64;
    let mut back = counter();
    loop {
        let (before, after) = match exit {
            Exit::HostCall | Exit::FpHostCall | Exit::SveHostCall | Exit::DebugHostCall => {
                page.words[1].store(own, core::sync::atomic::Ordering::Relaxed);
                let touch = match exit {
                    Exit::FpHostCall => TOUCH_FP,
                    Exit::SveHostCall => TOUCH_SVE,
                    _ => 0,
                };
                timed_host_call(page.ipa(), touch)
            }
            Exit::Mmio => timed_mmio_store(UNPROTECTED_BASE + MMIO_OFFSET, own),
            Exit::Sgi => timed_sgi_write(own),
        };
        own = before.wrapping_sub(back);
        back = after;
    }
}

/// Breakpoint 0 on address 0 (the image's first instruction, never run again), enabled, and
/// MDSCR_EL1.MDE and KDE set: the realm's debug registers are live (`rmm::rec::debug`). The
/// realm keeps PSTATE.D masked, so no debug exception is taken.
fn arm_breakpoint() {
    // SAFETY: the realm's own debug registers; PSTATE.D is masked (reset state), so the
    // breakpoint raises no exception.
    unsafe {
        rmm_arch::write_sysreg!("dbgbvr0_el1", 0);
        rmm_arch::write_sysreg!("dbgbcr0_el1", 0xf << 5 | 0b11 << 1 | 1);
        rmm_arch::write_sysreg!("mdscr_el1", 1 << 15 | 1 << 13);
    }
    rmm_arch::isb!();
}

/// CNTVCT_EL0, after an ISB.
fn counter() -> u64 {
    rmm_arch::isb!();
    rmm_arch::read_sysreg!("cntvct_el0")
}

/// Sets CPACR_EL1.FPEN and ZEN: FP/SIMD and SVE do not trap to EL1.
fn enable_fp() {
    // SAFETY: CPACR_EL1 only controls EL1/EL0 FP traps; no memory is touched.
    unsafe {
        core::arch::asm!(
            "mrs {t}, cpacr_el1",
            "orr {t}, {t}, #(3 << 20)",
            "orr {t}, {t}, #(3 << 16)",
            "msr cpacr_el1, {t}",
            "isb",
            t = out(reg) _,
            options(nomem, nostack, preserves_flags),
        );
    }
}

/// RSI_HOST_CALL(`page`), after writing d0 or z0 as `touch` says; returns the counter just before and
/// just after.
fn timed_host_call(page: u64, touch: u64) -> (u64, u64) {
    let (before, after): (u64, u64);
    // SAFETY: `smc #0` traps to the RMM, which exits to the host and returns to the next
    // instruction with at most x0..x17 changed (SMCCC; declared). It writes the host-call page,
    // which holds atomics (the asm is not `nomem`). d0 is written only when FP was enabled by
    // `enable_fp`; the payload is built softfloat, so no Rust value lives in d0, and the register
    // cannot be named as a clobber on this target.
    unsafe {
        core::arch::asm!(
            ".arch_extension fp",
            "isb",
            "mrs {before}, cntvct_el0",
            ".arch_extension sve",
            "cbz {fp}, 1f",
            "tbnz {fp}, #1, 2f",
            "fmov d0, {before}",
            "b 1f",
            "2:",
            "dup z0.d, {before}",
            "1:",
            "smc #0",
            "isb",
            "mrs {after}, cntvct_el0",
            before = out(reg) before,
            after = out(reg) after,
            fp = in(reg) touch,
            inout("x0") HOST_CALL => _,
            inout("x1") page => _,
            out("x2") _, out("x3") _, out("x4") _, out("x5") _, out("x6") _, out("x7") _,
            out("x8") _, out("x9") _, out("x10") _, out("x11") _, out("x12") _, out("x13") _,
            out("x14") _, out("x15") _, out("x16") _, out("x17") _,
            options(nostack),
        );
    }
    (before, after)
}

/// Stores `value` at the Unprotected IPA `ipa` (the REC exits, the host emulates the store);
/// returns the counter just before and just after.
fn timed_mmio_store(ipa: u64, value: u64) -> (u64, u64) {
    let (before, after): (u64, u64);
    // SAFETY: one aligned store to the emulated MMIO register, an Unprotected IPA outside every
    // Rust object (see `mmio::write`); no other memory is touched.
    unsafe {
        core::arch::asm!(
            "isb",
            "mrs {before}, cntvct_el0",
            "str {v}, [{a}]",
            "isb",
            "mrs {after}, cntvct_el0",
            before = out(reg) before,
            after = out(reg) after,
            a = in(reg) ipa,
            v = in(reg) value,
            options(nostack, preserves_flags),
        );
    }
    (before, after)
}

/// Writes `value` to ICC_SGI1R_EL1 (the REC exits, the host takes the SGI; the value carries
/// the realm's own time); returns the counter just before and just after.
fn timed_sgi_write(value: u64) -> (u64, u64) {
    let (before, after): (u64, u64);
    // SAFETY: the write traps to the RMM and is forwarded to the host (no SGI is generated by
    // the realm itself); no memory is touched.
    unsafe {
        core::arch::asm!(
            "isb",
            "mrs {before}, cntvct_el0",
            "msr s3_0_c12_c11_5, {v}",
            "isb",
            "mrs {after}, cntvct_el0",
            before = out(reg) before,
            after = out(reg) after,
            v = in(reg) value,
            options(nomem, nostack, preserves_flags),
        );
    }
    (before, after)
}
