//! The SMC Calling Convention's own functions, for realms (SMCCC, Arm DEN0028): software finds
//! RSI by asking SMCCC_VERSION first (spec B1.1; Linux also requires PSCI_FEATURES to report
//! SMCCC_VERSION, [`crate::psci`]).
//!
//! SMCCC_VERSION answers the version this RMM implements for realms: 1.2, which B1.1 requires
//! (17 arguments and results for SMC64), 1.3 where the processor has FEAT_SVE and 1.4 where it
//! has FEAT_SME, as B1.1 also requires. SMCCC_ARCH_FEATURES reports these two functions and
//! nothing else: no firmware workaround (SMCCC_ARCH_WORKAROUND_1..3) or SoC ID is offered to
//! realms. Both follow TF-A's answers for the same functions.

use crate::rec::{Handled, IdRegisters, VcpuContext, SMCCC_NOT_SUPPORTED};
use crate::trace::Signature;

/// SMCCC_VERSION (SMC32).
pub const SMCCC_VERSION: u64 = 0x8000_0000;
/// SMCCC_ARCH_FEATURES (SMC32).
pub const SMCCC_ARCH_FEATURES: u64 = 0x8000_0001;

/// The functions' names and registers, for the call trace.
pub(crate) const SIGNATURES: [(u64, Signature); 2] = [
    (SMCCC_VERSION, Signature::new("SMCCC_VERSION", 0, 1)),
    (
        SMCCC_ARCH_FEATURES,
        Signature::new("SMCCC_ARCH_FEATURES", 1, 1),
    ),
];

/// SMCCC_ARCH_FEATURES's answer for a function that is implemented.
const FEATURE_IMPLEMENTED: u64 = 0;

/// The SMCCC version answered on a processor with ID registers `ids`: major in bits 30:16,
/// minor in 15:0.
pub fn version(ids: &IdRegisters) -> u64 {
    let minor = if ids.has_sme() {
        4
    } else if ids.has_sve() {
        3
    } else {
        2
    };
    1 << 16 | minor
}

/// Runs SMCCC function `fid` for the realm whose registers are `vcpu`; `None` if `fid` is
/// not one of them. Only x0 changes.
pub fn handle(fid: u64, vcpu: &mut VcpuContext, ids: &IdRegisters) -> Option<Handled> {
    vcpu.gprs[0] = match fid {
        SMCCC_VERSION => version(ids),
        SMCCC_ARCH_FEATURES => match vcpu.gprs[1] & u64::from(u32::MAX) {
            SMCCC_VERSION | SMCCC_ARCH_FEATURES => FEATURE_IMPLEMENTED,
            _ => SMCCC_NOT_SUPPORTED,
        },
        _ => return None,
    };
    Some(Handled::Resume)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn version_follows_sve_and_sme() {
        let mut ids = IdRegisters([0; IdRegisters::COUNT]);
        assert_eq!(version(&ids), 0x1_0002);
        ids.0[IdRegisters::index(4, 0).unwrap()] = 1 << 32; // ID_AA64PFR0_EL1.SVE
        assert_eq!(version(&ids), 0x1_0003);
        ids.0[IdRegisters::index(4, 1).unwrap()] = 1 << 24; // ID_AA64PFR1_EL1.SME
        assert_eq!(version(&ids), 0x1_0004);
    }
}
