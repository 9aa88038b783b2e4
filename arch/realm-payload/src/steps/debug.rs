//! Self-hosted debug in a realm (RMM spec A3.1.4): the realm has the breakpoints and
//! watchpoints its ID_AA64DFR0_EL1 reports (the host's num_bps and num_wps), a register past
//! them is UNDEFINED, what it writes survives REC exits, and its breakpoints and watchpoints
//! fire inside it as debug exceptions at its own EL1.

use crate::exceptions::{expect, seen, EC_BREAKPOINT, EC_UNKNOWN, EC_WATCHPOINT};
use crate::report::{request, step};
use core::sync::atomic::{AtomicU64, Ordering};
use rmm_arch::realm_report::{Step, REQUEST_NOTHING};
use rmm_arch::{isb, read_sysreg, write_sysreg};

/// MDSCR_EL1: MDE (breakpoint and watchpoint exceptions), KDE (also at EL1).
const MDSCR_MDE: u64 = 1 << 15;
const MDSCR_KDE: u64 = 1 << 13;
/// DBGBCR: enabled, at EL1 and EL0 (PMC 0b11), the whole A64 instruction (BAS 0b1111).
const BCR_EL1_EXEC: u64 = 0xf << 5 | 0b11 << 1 | 1;
/// DBGWCR: enabled, at EL1 and EL0 (PAC 0b11), loads and stores (LSC 0b11), 8 bytes.
const WCR_EL1_RW: u64 = 0xff << 5 | 0b11 << 3 | 0b11 << 1 | 1;
/// What the realm writes to DBGBVR1_EL1 and reads back after a REC exit.
const MARKER: u64 = 0x0000_5eed_dbbd_0000;

/// The word the watchpoint watches.
static WATCHED: AtomicU64 = AtomicU64::new(0);

/// The realm's counts from ID_AA64DFR0_EL1: breakpoints, watchpoints (not minus one).
fn counts() -> (u64, u64) {
    let dfr0 = read_sysreg!("id_aa64dfr0_el1");
    (((dfr0 >> 12) & 0xf) + 1, ((dfr0 >> 20) & 0xf) + 1)
}

/// Turns debug exceptions at EL1 on (MDSCR_EL1.MDE and KDE, PSTATE.D clear) or off.
fn debug_exceptions(on: bool) {
    let mdscr = read_sysreg!("mdscr_el1");
    let mdscr = if on {
        mdscr | MDSCR_MDE | MDSCR_KDE
    } else {
        mdscr & !(MDSCR_MDE | MDSCR_KDE)
    };
    // SAFETY: the realm's own debug controls; the exceptions they enable are handled by the
    // payload's vectors (`crate::exceptions`).
    unsafe {
        write_sysreg!("mdscr_el1", mdscr);
        core::arch::asm!("isb", options(nostack));
        if on {
            core::arch::asm!("msr daifclr, #8", "isb", options(nostack));
        } else {
            core::arch::asm!("msr daifset, #8", "isb", options(nostack));
        }
    }
}

/// What the breakpoint is set on.
#[inline(never)]
extern "C" fn breakpoint_target(x: u64) -> u64 {
    core::hint::black_box(x + 1)
}

/// A register past the realm's counts is UNDEFINED, and one within them keeps its value over
/// a REC exit. Values: [2] breakpoints, [3] watchpoints, [4] ESR_EL1 of the access to
/// DBGBCR4_EL1 (the realm has 4 breakpoints), [5] DBGBVR1_EL1 after the exit.
pub fn counts_and_values() {
    let (bps, wps) = counts();
    // SAFETY: the realm's own breakpoint value register (breakpoint 1 stays disabled).
    unsafe { write_sysreg!("dbgbvr1_el1", MARKER) };
    request(REQUEST_NOTHING);
    let kept = read_sysreg!("dbgbvr1_el1");
    expect(EC_UNKNOWN);
    let beyond = read_sysreg!("dbgbcr4_el1");
    let [esr, ..] = seen();
    let ok = bps == 4 && wps == 3 && esr >> 26 == EC_UNKNOWN && esr != 0 && kept == MARKER;
    core::hint::black_box(beyond);
    step(Step::DebugCounts, ok, [bps, wps, esr, kept]);
}

/// A breakpoint on a function fires at EL1 when the realm calls it. Values: [2] ESR_EL1,
/// [3] ELR_EL1, [4] the function's address.
pub fn breakpoint() {
    let target = breakpoint_target as *const () as u64;
    // SAFETY: the realm's own breakpoint 0, on its own code; its exception is expected.
    unsafe {
        write_sysreg!("dbgbvr0_el1", target);
        write_sysreg!("dbgbcr0_el1", BCR_EL1_EXEC);
    }
    isb!();
    expect(EC_BREAKPOINT);
    debug_exceptions(true);
    let value = breakpoint_target(41);
    debug_exceptions(false);
    let [esr, elr, _] = seen();
    // SAFETY: as above: disables it.
    unsafe { write_sysreg!("dbgbcr0_el1", 0) };
    let ok = esr >> 26 == EC_BREAKPOINT && elr == target && value == 42;
    step(Step::DebugBreakpoint, ok, [esr, elr, target, 0]);
}

/// A watchpoint on a word fires at EL1 when the realm stores to it. Values: [2] ESR_EL1,
/// [3] FAR_EL1, [4] the word's address.
pub fn watchpoint() {
    let address = WATCHED.as_ptr() as u64;
    // SAFETY: the realm's own watchpoint 0, on its own data; its exception is expected.
    unsafe {
        write_sysreg!("dbgwvr0_el1", address);
        write_sysreg!("dbgwcr0_el1", WCR_EL1_RW);
    }
    isb!();
    expect(EC_WATCHPOINT);
    debug_exceptions(true);
    WATCHED.store(7, Ordering::Relaxed);
    debug_exceptions(false);
    let [esr, _, far] = seen();
    // SAFETY: as above: disables it.
    unsafe { write_sysreg!("dbgwcr0_el1", 0) };
    let ok =
        esr >> 26 == EC_WATCHPOINT && far & !7 == address && WATCHED.load(Ordering::Relaxed) == 7;
    step(Step::DebugWatchpoint, ok, [esr, far, address, 0]);
}
