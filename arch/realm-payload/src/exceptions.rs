//! Exceptions taken at R-EL1. Only those a step announces with [`expect`] are expected (a
//! breakpoint, a watchpoint, an UNDEFINED access): [`realm_exception`] records them and
//! returns to the realm. Any other one is reported as [`Step::Exception`], failed, with the
//! syndrome, and the realm ends with PSCI_SYSTEM_OFF, so that the host sees what happened.

use crate::report;
use core::sync::atomic::{AtomicU64, Ordering};
use rmm_arch::read_sysreg;
use rmm_arch::realm_report::Step;

/// ESR_EL1.EC values a step can expect.
pub const EC_UNKNOWN: u64 = 0x00;
pub const EC_BREAKPOINT: u64 = 0x31;
pub const EC_WATCHPOINT: u64 = 0x35;
/// The vector of a synchronous exception from the current EL with SP_EL1.
const SYNC_CURRENT_SPX: u64 = 0x200;

/// The EC expected next, plus one (0: none).
static EXPECTED: AtomicU64 = AtomicU64::new(0);
/// ESR_EL1, ELR_EL1 and FAR_EL1 of the last expected exception.
static SEEN: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];

/// The next synchronous exception may have class `ec`: it is recorded, and the realm goes on
/// (past the instruction for [`EC_UNKNOWN`]; again at it for a breakpoint or watchpoint, whose
/// debug exceptions are turned off, MDSCR_EL1.MDE).
pub fn expect(ec: u64) {
    SEEN.iter().for_each(|s| s.store(0, Ordering::Relaxed));
    EXPECTED.store(ec + 1, Ordering::Relaxed);
}

/// ESR_EL1, ELR_EL1 and FAR_EL1 of the expected exception, or zeros if none came (and it is
/// no longer expected).
pub fn seen() -> [u64; 3] {
    EXPECTED.store(0, Ordering::Relaxed);
    SEEN.each_ref().map(|s| s.load(Ordering::Relaxed))
}

/// From the vectors, with the vector's offset in VBAR_EL1.
#[no_mangle]
extern "C" fn realm_exception(vector: u64) {
    let esr = read_sysreg!("esr_el1");
    let elr = read_sysreg!("elr_el1");
    let far = read_sysreg!("far_el1");
    let ec = esr >> 26;
    if vector == SYNC_CURRENT_SPX && EXPECTED.load(Ordering::Relaxed) == ec + 1 {
        EXPECTED.store(0, Ordering::Relaxed);
        for (s, v) in SEEN.iter().zip([esr, elr, far]) {
            s.store(v, Ordering::Relaxed);
        }
        // SAFETY: the realm's own EL1 registers: resume past an UNDEFINED instruction, or
        // turn debug exceptions off so that the instruction that hit one runs again.
        unsafe {
            if ec == EC_UNKNOWN {
                rmm_arch::write_sysreg!("elr_el1", elr + 4);
            } else {
                let mdscr = read_sysreg!("mdscr_el1") & !(1 << 15);
                rmm_arch::write_sysreg!("mdscr_el1", mdscr);
            }
        }
        return;
    }
    report::step(Step::Exception, false, [esr, elr, far, vector]);
    report::end()
}
