//! Exceptions taken at R-EL1: none is expected. The vector code (entry.rs) calls
//! [`realm_exception`], which reports [`Step::Exception`] as failed with the syndrome and ends
//! the realm with PSCI_SYSTEM_OFF, so that the host sees what happened.

use crate::report;
use rmm_arch::read_sysreg;
use rmm_arch::realm_report::Step;

/// From the vectors, with the vector's offset in VBAR_EL1.
#[no_mangle]
extern "C" fn realm_exception(vector: u64) -> ! {
    let esr = read_sysreg!("esr_el1");
    let elr = read_sysreg!("elr_el1");
    let far = read_sysreg!("far_el1");
    report::step(Step::Exception, false, [esr, elr, far, vector]);
    report::end()
}
