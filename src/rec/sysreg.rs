//! Trapped MSR, MRS and system instructions from a realm (spec A4.3.4: "emulated by RMM,
//! followed by return to Realm").
//!
//! - Reads of the ID registers (HCR_EL2.TID3) return the realm's values ([`super::id_registers`]).
//! - Writes of ICC_SGI0R_EL1, ICC_SGI1R_EL1 and ICC_ASGI1R_EL1, which always trap while the
//!   realm runs (HCR_EL2.IMO, FMO): the host owns the virtual GIC and must generate the SGI, so
//!   the REC exits with RMI_EXIT_SYNC, the trap's syndrome in exit.esr and the written value in
//!   `exit.gprs[0]`, and resumes past the instruction on the next entry. The spec is silent on
//!   SGIs; this is what TF-RMM does and what the Linux KVM CCA host series expects. The
//!   syndrome keeps EC, Op0, Op1, Op2, CRn, CRm and Direction; Rt is zero, since the value is
//!   in `exit.gprs[0]` (TF-RMM's mask).
//! - Data cache maintenance by set/way (HCR_EL2.TSW) completes as a no-op: with FWB the realm's
//!   memory is always coherent, and a realm has no business flushing caches by set/way.
//! - Everything else, among it every register of a feature the realm is not given (MTE, PMU,
//!   AMU, RAS, SPE, TRBE), takes an Undefined Instruction exception to the realm, as the
//!   instruction does on a processor without the feature.

use super::exit::{inject, ExitKind, Handled};
use super::id_registers::realm_value;
use super::vcpu::{esr, VcpuContext};
use super::Rec;
use crate::platform::Platform;
use crate::realm::Rd;
use crate::rmi::params::{RecExit, RecExitReason};

/// The ISS of a trapped MSR, MRS or system instruction (Arm ARM D24.2.40, "ISS encoding for
/// an exception from MSR, MRS, or System instruction execution in AArch64 state").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SysregAccess {
    /// Op0, bits 21:20.
    pub op0: u8,
    /// Op2, bits 19:17.
    pub op2: u8,
    /// Op1, bits 16:14.
    pub op1: u8,
    /// CRn, bits 13:10.
    pub crn: u8,
    /// Rt, bits 9:5.
    pub rt: u8,
    /// CRm, bits 4:1.
    pub crm: u8,
    /// Direction, bit 0: a read (MRS).
    pub read: bool,
}

/// The ISS bits an SGI exit shows the host: Op0, Op2, Op1, CRn, CRm, Direction (not Rt).
const SGI_EXIT_ISS: u64 = 0x3 << 20 | 0x7 << 17 | 0x7 << 14 | 0xf << 10 | 0xf << 1 | 1;

impl SysregAccess {
    /// Decodes `esr`'s ISS.
    pub const fn decode(esr: u64) -> Self {
        Self {
            op0: ((esr >> 20) & 0x3) as u8,
            op2: ((esr >> 17) & 0x7) as u8,
            op1: ((esr >> 14) & 0x7) as u8,
            crn: ((esr >> 10) & 0xf) as u8,
            rt: ((esr >> 5) & 0x1f) as u8,
            crm: ((esr >> 1) & 0xf) as u8,
            read: esr & 1 != 0,
        }
    }

    /// `(op0, op1, crn, crm, op2)`, the register's name in the `S<op0>_<op1>_C<n>_C<m>_<op2>`
    /// form.
    const fn name(&self) -> (u8, u8, u8, u8, u8) {
        (self.op0, self.op1, self.crn, self.crm, self.op2)
    }
}

/// ICC_SGI1R_EL1, ICC_ASGI1R_EL1 and ICC_SGI0R_EL1 (GICv3 12.2): op0 3, op1 0, CRn 12,
/// CRm 11, op2 5, 6 and 7.
const SGI_REGISTERS: [(u8, u8, u8, u8, u8); 3] =
    [(3, 0, 12, 11, 5), (3, 0, 12, 11, 6), (3, 0, 12, 11, 7)];

/// What the RMM does with a trapped system register access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysregAction {
    /// Read ID register `S3_0_C0_C<crm>_<op2>`.
    IdRead {
        /// CRm.
        crm: u8,
        /// Op2.
        op2: u8,
    },
    /// Forward an SGI register write to the host.
    Sgi,
    /// Complete as a no-op (DC ISW, CSW, CISW).
    Ignore,
    /// Undefined Instruction.
    Undefined,
}

/// Classifies a trapped access.
pub const fn classify(access: &SysregAccess) -> SysregAction {
    match access.name() {
        (3, 0, 0, crm @ 1..=7, op2) if access.read => SysregAction::IdRead { crm, op2 },
        name if !access.read
            && (is(name, SGI_REGISTERS[0])
                || is(name, SGI_REGISTERS[1])
                || is(name, SGI_REGISTERS[2])) =>
        {
            SysregAction::Sgi
        }
        // DC ISW (CRm 6), DC CSW (CRm 10), DC CISW (CRm 14): op0 1, op1 0, CRn 7, op2 2.
        (1, 0, 7, 6 | 10 | 14, 2) => SysregAction::Ignore,
        _ => SysregAction::Undefined,
    }
}

const fn is(a: (u8, u8, u8, u8, u8), b: (u8, u8, u8, u8, u8)) -> bool {
    a.0 == b.0 && a.1 == b.1 && a.2 == b.2 && a.3 == b.3 && a.4 == b.4
}

/// Handles the trapped access with syndrome `trap_esr` of the REC `rec`, whose registers are
/// `vcpu` (PC at the instruction).
pub fn handle<P: Platform>(
    platform: &P,
    trap_esr: u64,
    vcpu: &mut VcpuContext,
    rec: Rec<'_>,
    out: &mut RecExit,
) -> Handled {
    let access = SysregAccess::decode(trap_esr);
    let rt = usize::from(access.rt);
    match classify(&access) {
        SysregAction::IdRead { crm, op2 } => {
            // The REC holds a reference on its RD, which therefore stays an RD.
            let features = Rd::new(platform.granule(rec.owner())).features();
            if let Some(gpr) = vcpu.gprs.get_mut(rt) {
                *gpr = realm_value(platform.id_registers(), &features, crm, op2); // 31: XZR
            }
            vcpu.step_over_instruction();
            Handled::Resume
        }
        SysregAction::Sgi => {
            let mut e = RecExit::new(RecExitReason::Sync);
            e.esr = trap_esr & (esr::EC_MASK | SGI_EXIT_ISS);
            e.gprs[0] = vcpu.gprs.get(rt).copied().unwrap_or(0); // 31: XZR
            *out = e;
            vcpu.step_over_instruction();
            Handled::Exit(ExitKind::Plain)
        }
        SysregAction::Ignore => {
            vcpu.step_over_instruction();
            Handled::Resume
        }
        SysregAction::Undefined => {
            inject(vcpu, esr::EC_UNKNOWN << esr::EC_SHIFT | esr::IL, 0);
            Handled::Resume
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The ISS of an access to `S<op0>_<op1>_C<crn>_C<crm>_<op2>` with `rt`.
    fn iss(name: (u8, u8, u8, u8, u8), rt: u8, read: bool) -> u64 {
        let (op0, op1, crn, crm, op2) = name;
        u64::from(op0) << 20
            | u64::from(op2) << 17
            | u64::from(op1) << 14
            | u64::from(crn) << 10
            | u64::from(rt) << 5
            | u64::from(crm) << 1
            | u64::from(read)
    }

    #[test]
    fn decodes_every_field() {
        let a = SysregAccess::decode(iss((3, 2, 12, 11, 7), 17, false));
        assert_eq!(
            a,
            SysregAccess {
                op0: 3,
                op2: 7,
                op1: 2,
                crn: 12,
                rt: 17,
                crm: 11,
                read: false
            }
        );
    }

    #[test]
    fn classifies_id_reads_sgi_writes_set_way_and_the_rest() {
        let class = |name, read| classify(&SysregAccess::decode(iss(name, 0, read)));
        assert_eq!(
            class((3, 0, 0, 4, 0), true),
            SysregAction::IdRead { crm: 4, op2: 0 }
        );
        assert_eq!(class((3, 0, 0, 4, 0), false), SysregAction::Undefined);
        for sgi in SGI_REGISTERS {
            assert_eq!(class(sgi, false), SysregAction::Sgi);
            assert_eq!(class(sgi, true), SysregAction::Undefined);
        }
        assert_eq!(class((1, 0, 7, 14, 2), false), SysregAction::Ignore);
        // GCR_EL1 (MTE), PMCR_EL0 (PMU), ACTLR_EL1 (TACR), MIDR-space CRm 0 and 8.
        for name in [
            (3, 0, 1, 0, 6),
            (3, 3, 9, 12, 0),
            (3, 0, 1, 0, 1),
            (3, 0, 0, 0, 0),
            (3, 0, 0, 8, 0),
        ] {
            assert_eq!(class(name, true), SysregAction::Undefined, "{name:?}");
        }
    }

    #[test]
    fn the_sgi_exit_syndrome_drops_rt_only() {
        let esr = esr::EC_SYSREG << esr::EC_SHIFT | esr::IL | iss((3, 0, 12, 11, 5), 9, false);
        let masked = esr & (esr::EC_MASK | SGI_EXIT_ISS);
        assert_eq!(
            masked,
            esr::EC_SYSREG << esr::EC_SHIFT | iss((3, 0, 12, 11, 5), 0, false)
        );
    }
}
