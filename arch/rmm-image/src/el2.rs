//! R-EL2's own controls, set once on every CPU at boot (cold and warm): what EL1 may use and
//! what traps to the RMM while a realm runs, beyond HCR_EL2 (set per run by the world switch).
//!
//! - HCR_EL2: EL1 is AArch64, nothing else until a realm runs.
//! - CPTR_EL2: FP/SIMD, SVE, SME, trace and AMU trapped ([`crate::fp`]).
//! - ICC_SRE_EL2: the GIC system-register interface for EL2 and EL1.
//! - MDCR_EL2: the PMU (TPM, TPMCR), SPE (TPMS, E2PB = 0), trace filtering (TTRF) and the
//!   trace buffer (E2TB = 0) trapped: a realm has none of them (A3.1.7, A3.1.8; its ID
//!   registers say so), nor a PMU unless created with one (A3.1.5: the world switch then
//!   lifts TPM and TPMCR and sets HPMN for the run, `crate::pmu`). HPMN keeps its reset value.
//!   The debug registers (TDA, TDOSA, TDRA) trapped: the RMM emulates the realm's accesses
//!   against its REC (A3.1.4, `rmm::rec::debug`), so that the Normal world's breakpoints and
//!   watchpoints are neither read nor changed by a realm.
//! - HCRX_EL2, where FEAT_HCX exists: MSCEn where FEAT_MOPS exists, so that the memory copy
//!   and set instructions the realm's ID_AA64ISAR2_EL1 advertises work at EL1 and EL0.

use crate::fp;
use rmm::rec::IdRegisters;
use rmm_arch::{read_sysreg, write_sysreg};

/// HCR_EL2.RW: EL1 is AArch64.
pub const HCR_RW: u64 = 1 << 31;
/// MDCR_EL2: TPMCR (5), TPM (6), TDA (9), TDOSA (10), TDRA (11), TPMS (14), TTRF (19).
const MDCR_TRAPS: u64 = 1 << 5 | 1 << 6 | 1 << 9 | 1 << 10 | 1 << 11 | 1 << 14 | 1 << 19;
/// MDCR_EL2.HPMN (4:0).
const MDCR_HPMN: u64 = 0x1f;
/// HCRX_EL2.MSCEn.
const HCRX_MSCEN: u64 = 1 << 11;

/// Sets the controls on this CPU; `ids` are the processor's ID registers.
pub fn init(ids: &IdRegisters) {
    let mdcr = (read_sysreg!("mdcr_el2") & MDCR_HPMN) | MDCR_TRAPS;
    let hcx = (ids.get(7, 1) >> 40) & 0xf != 0; // ID_AA64MMFR1_EL1.HCX
    let mops = (ids.get(6, 2) >> 16) & 0xf != 0; // ID_AA64ISAR2_EL1.MOPS
                                                 // SAFETY: these registers shape EL1/EL0 and trap what the RMM never uses (FP/SIMD, SVE,
                                                 // SME: softfloat build); ICC_SRE_EL2 enables the system-register GIC interface; HCRX_EL2
                                                 // is written only where FEAT_HCX says it exists.
    unsafe {
        write_sysreg!("hcr_el2", HCR_RW);
        write_sysreg!("cptr_el2", fp::CPTR_TRAP_ALL);
        write_sysreg!("s3_4_c12_c9_5", 0xf); // ICC_SRE_EL2
        write_sysreg!("mdcr_el2", mdcr);
        if hcx {
            write_sysreg!("s3_4_c1_c2_2", if mops { HCRX_MSCEN } else { 0 }); // HCRX_EL2
        }
        core::arch::asm!("isb", options(nostack));
    }
}
