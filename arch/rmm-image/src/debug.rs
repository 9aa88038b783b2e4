//! The realm's breakpoints and watchpoints in the hardware (RMM spec A3.1.4; the emulation
//! of the realm's debug register accesses is `rmm::rec::debug`).
//!
//! A realm's accesses to the debug registers always trap (MDCR_EL2.TDA, TDOSA) and change
//! only the REC's copy ([`rmm::rec::debug::WORDS`] platform words of the REC granule). While
//! the realm's MDSCR_EL1.MDE is set and its OS lock clear, its breakpoints and watchpoints must
//! be able to fire: the Normal world's registers are saved ([`save_ns`]), the realm's
//! loaded as the processor's highest-numbered ones and every other one disabled
//! ([`load_realm`]); at the exit the Normal world's come back. A realm that does not debug
//! costs one test per round trip; one that does, four moves of every implemented register.

use crate::cpus::Slots;
use rmm::rec::debug::{physical_bp, physical_ctrl, BCR, BVR, WCR, WORDS as REALM_WORDS, WVR};
use rmm_arch::{read_sysreg, write_sysreg};

/// Breakpoints and watchpoints the registers can name.
const MAX: usize = 16;

macro_rules! banked {
    ($read:ident, $write:ident, [$($n:literal $name:literal),* $(,)?]) => {
        fn $read(n: usize) -> u64 {
            match n {
                $($n => read_sysreg!($name),)*
                _ => 0,
            }
        }

        fn $write(n: usize, value: u64) {
            // SAFETY: a breakpoint or watchpoint register: it raises debug exceptions at EL1
            // and EL0 (MDCR_EL2.TDE is clear, so never at R-EL2), and touches no memory.
            unsafe {
                match n {
                    $($n => write_sysreg!($name, value),)*
                    _ => {}
                }
            }
        }
    };
}

banked!(bvr, set_bvr, [
    0 "dbgbvr0_el1", 1 "dbgbvr1_el1", 2 "dbgbvr2_el1", 3 "dbgbvr3_el1", 4 "dbgbvr4_el1",
    5 "dbgbvr5_el1", 6 "dbgbvr6_el1", 7 "dbgbvr7_el1", 8 "dbgbvr8_el1", 9 "dbgbvr9_el1",
    10 "dbgbvr10_el1", 11 "dbgbvr11_el1", 12 "dbgbvr12_el1", 13 "dbgbvr13_el1",
    14 "dbgbvr14_el1", 15 "dbgbvr15_el1"
]);
banked!(bcr, set_bcr, [
    0 "dbgbcr0_el1", 1 "dbgbcr1_el1", 2 "dbgbcr2_el1", 3 "dbgbcr3_el1", 4 "dbgbcr4_el1",
    5 "dbgbcr5_el1", 6 "dbgbcr6_el1", 7 "dbgbcr7_el1", 8 "dbgbcr8_el1", 9 "dbgbcr9_el1",
    10 "dbgbcr10_el1", 11 "dbgbcr11_el1", 12 "dbgbcr12_el1", 13 "dbgbcr13_el1",
    14 "dbgbcr14_el1", 15 "dbgbcr15_el1"
]);
banked!(wvr, set_wvr, [
    0 "dbgwvr0_el1", 1 "dbgwvr1_el1", 2 "dbgwvr2_el1", 3 "dbgwvr3_el1", 4 "dbgwvr4_el1",
    5 "dbgwvr5_el1", 6 "dbgwvr6_el1", 7 "dbgwvr7_el1", 8 "dbgwvr8_el1", 9 "dbgwvr9_el1",
    10 "dbgwvr10_el1", 11 "dbgwvr11_el1", 12 "dbgwvr12_el1", 13 "dbgwvr13_el1",
    14 "dbgwvr14_el1", 15 "dbgwvr15_el1"
]);
banked!(wcr, set_wcr, [
    0 "dbgwcr0_el1", 1 "dbgwcr1_el1", 2 "dbgwcr2_el1", 3 "dbgwcr3_el1", 4 "dbgwcr4_el1",
    5 "dbgwcr5_el1", 6 "dbgwcr6_el1", 7 "dbgwcr7_el1", 8 "dbgwcr8_el1", 9 "dbgwcr9_el1",
    10 "dbgwcr10_el1", 11 "dbgwcr11_el1", 12 "dbgwcr12_el1", 13 "dbgwcr13_el1",
    14 "dbgwcr14_el1", 15 "dbgwcr15_el1"
]);

/// The processor's counts.
#[derive(Clone, Copy)]
pub struct Counts {
    /// Breakpoints.
    pub bps: usize,
    /// Watchpoints.
    pub wps: usize,
}

/// The Normal world's breakpoint and watchpoint registers on each CPU while a realm's are
/// loaded there: 16 (value, control) pairs of each.
static NS_DEBUG: Slots<[u64; 4 * MAX]> = Slots::new();

/// Heap bytes [`init`] takes per CPU.
pub const BYTES_PER_CPU: usize = Slots::<[u64; 4 * MAX]>::BYTES_PER_CPU;

/// Cold boot, CPU 0: allocates the save slots of `cpus` CPUs; Err if the heap is too small.
pub fn init(cpus: usize) -> Result<(), ()> {
    NS_DEBUG.init(cpus)
}

fn ns_slot(cpu: usize) -> *mut [u64; 4 * MAX] {
    NS_DEBUG.get(cpu)
}

/// Saves the Normal world's registers on CPU `cpu` (this CPU).
pub fn save_ns(cpu: usize, hw: Counts) {
    // SAFETY: the slot is this CPU's alone, and not otherwise referenced during the call.
    let s = unsafe { &mut *ns_slot(cpu) };
    for n in 0..hw.bps.min(MAX) {
        s[2 * n] = bvr(n);
        s[2 * n + 1] = bcr(n);
    }
    for n in 0..hw.wps.min(MAX) {
        s[2 * MAX + 2 * n] = wvr(n);
        s[2 * MAX + 2 * n + 1] = wcr(n);
    }
}

/// Restores what [`save_ns`] saved on CPU `cpu`.
pub fn restore_ns(cpu: usize, hw: Counts) {
    // SAFETY: as in `save_ns`.
    let s = unsafe { &*ns_slot(cpu) };
    for n in 0..hw.bps.min(MAX) {
        set_bcr(n, 0);
        set_bvr(n, s[2 * n]);
        set_bcr(n, s[2 * n + 1]);
    }
    for n in 0..hw.wps.min(MAX) {
        set_wcr(n, 0);
        set_wvr(n, s[2 * MAX + 2 * n]);
        set_wcr(n, s[2 * MAX + 2 * n + 1]);
    }
}

/// Loads a realm's registers (word `i` of its state is `get(i)`; it has `bps` breakpoints
/// and `wps` watchpoints) into the hardware, disabling every other one.
pub fn load_realm(get: impl Fn(usize) -> u64, bps: usize, wps: usize, hw: Counts) {
    let first = hw.bps.saturating_sub(bps);
    for n in 0..hw.bps.min(MAX) {
        set_bcr(n, 0);
        if n >= first {
            set_bvr(n, get(BVR + n - first));
            set_bcr(n, physical_ctrl(get(BCR + n - first), bps, hw.bps));
        }
    }
    for n in 0..hw.wps.min(MAX) {
        set_wcr(n, 0);
        if n < wps {
            set_wvr(n, get(WVR + n));
            set_wcr(n, physical_ctrl(get(WCR + n), bps, hw.bps));
        }
    }
}

/// Writes one register of the realm's (word `slot` of its state) to the hardware, while the
/// realm's are loaded.
pub fn write_realm(state: &[u64; REALM_WORDS], slot: usize, bps: usize, hw: Counts) {
    let value = state.get(slot).copied().unwrap_or(0);
    match slot {
        s if (BVR..BCR).contains(&s) => set_bvr(physical_bp(s - BVR, bps, hw.bps), value),
        s if (BCR..WVR).contains(&s) => set_bcr(
            physical_bp(s - BCR, bps, hw.bps),
            physical_ctrl(value, bps, hw.bps),
        ),
        s if (WVR..WCR).contains(&s) => set_wvr(s - WVR, value),
        s if (WCR..WCR + MAX).contains(&s) => set_wcr(s - WCR, physical_ctrl(value, bps, hw.bps)),
        _ => {}
    }
}

/// MDSCR_EL1 (the realm's while it runs).
pub fn mdscr() -> u64 {
    read_sysreg!("mdscr_el1")
}

/// Writes MDSCR_EL1 for the realm.
pub fn set_mdscr(value: u64) {
    // SAFETY: the realm's own EL1 debug controls (the Normal world's come back with its EL1
    // registers at the exit); they cannot route debug exceptions to R-EL2 (MDCR_EL2.TDE = 0).
    unsafe { write_sysreg!("mdscr_el1", value) };
}

/// DBGAUTHSTATUS_EL1.
pub fn auth_status() -> u64 {
    read_sysreg!("dbgauthstatus_el1")
}
