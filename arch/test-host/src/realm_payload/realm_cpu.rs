//! The host's checks of the realm's CPU (the payload's `steps/cpu.rs`): SMCCC_VERSION against
//! the processor's SVE and SME (RMM spec B1.1), the SGI writes forwarded as REC exits, every
//! ID register field the realm read against the processor's own (read here at NS-EL2, where
//! nothing traps them) and the realm's parameters, and the GIC state of the exits (A6.1).
//!
//! The field lists below are written from the Arm ARM and the RMM spec independently of the
//! RMM's own tables (`rmm::rec::id_registers`), so that each checks the other.

use super::setup::{NUM_BPS, NUM_WPS};
use crate::granule::Granule;
use crate::params::RecExit;
use crate::report::{check, fail, Outcome, Why};
use rmm_arch::realm_report::{GIC_PMR, ID_REGS_PER_CALL, SGI_WRITES};
use rmm_arch::sysreg::{read_id_space, ID_SPACE_SIZE};

/// ESR_EL2.EC of a trapped MSR, MRS or system instruction.
const EC_SYSREG: u64 = 0x18;
/// RmiRecExit.gicv3_misr and gicv3_vmcr in RmiRecRun.
const EXIT_GICV3_MISR: usize = 0x800 + 0x388;
const EXIT_GICV3_VMCR: usize = 0x800 + 0x390;
/// ICH_HCR_EL2.UIE, and ICH_MISR_EL2.U: underflow (no more than one list register valid).
const GIC_UIE: u64 = 1 << 1;
const MISR_U: u64 = 1 << 1;
/// ICH_VMCR_EL2.VENG1 (bit 1) and VPMR (bits 31:24).
const VMCR_VENG1: u64 = 1 << 1;
const VMCR_VPMR_SHIFT: u32 = 24;

/// The SGI registers in the order the realm writes them: name, (op0, op1, CRn, CRm, op2).
const SGI_REGISTERS: [(&str, [u64; 5]); 3] = [
    ("icc_sgi1r_el1", [3, 0, 12, 11, 5]),
    ("icc_asgi1r_el1", [3, 0, 12, 11, 6]),
    ("icc_sgi0r_el1", [3, 0, 12, 11, 7]),
];

/// Index of `S3_0_C0_C<crm>_<op2>` in the ID space.
const fn id(crm: usize, op2: usize) -> usize {
    (crm - 1) * 8 + op2
}
const PFR0: usize = id(4, 0);
const PFR1: usize = id(4, 1);
const DFR0: usize = id(5, 0);
const ISAR0: usize = id(6, 0);
const ISAR1: usize = id(6, 1);
const ISAR2: usize = id(6, 2);
const MMFR0: usize = id(7, 0);
const MMFR1: usize = id(7, 1);
const MMFR2: usize = id(7, 2);

/// Fields a realm of this scenario must see as absent: (name, register, lsb). It has no SME,
/// and never AMU, SPE or TRBE (A3.1.6 to A3.1.8); nor anything of EL2 and EL3, nor features
/// whose state the RMM does not switch (MTE, RAS, MPAM, GCS, TME). SVE and the PMU are there
/// exactly when the realm was created with them (A3.1.3, A3.1.5: [`sve_pmu_check`]).
const ABSENT: [(&str, usize, u32); 22] = [
    ("PFR0.EL2", PFR0, 8),
    ("PFR0.EL3", PFR0, 12),
    ("PFR0.RAS", PFR0, 28),
    ("PFR0.SEL2", PFR0, 36),
    ("PFR0.MPAM", PFR0, 40),
    ("PFR0.AMU", PFR0, 44),
    ("PFR0.RME", PFR0, 52),
    ("PFR1.MTE", PFR1, 8),
    ("PFR1.SME", PFR1, 24),
    ("PFR1.GCS", PFR1, 44),
    ("DFR0.TraceVer", DFR0, 4),
    ("DFR0.PMSVer", DFR0, 32),
    ("DFR0.TraceBuffer", DFR0, 44),
    ("DFR0.BRBE", DFR0, 52),
    ("ISAR0.TME", ISAR0, 24),
    ("ISAR1.LS64", ISAR1, 60),
    ("MMFR0.TGran4_2", MMFR0, 40),
    ("MMFR0.FGT", MMFR0, 56),
    ("MMFR1.VMIDBits", MMFR1, 4),
    ("MMFR1.VH", MMFR1, 8),
    ("MMFR1.HCX", MMFR1, 40),
    ("MMFR2.NV", MMFR2, 24),
];

/// Fields that must read as the processor's own: what a realm uses as it is.
const AS_HARDWARE: [(&str, usize, u32); 18] = [
    ("PFR0.FP", PFR0, 16),
    ("PFR0.AdvSIMD", PFR0, 20),
    ("PFR0.CSV2", PFR0, 56),
    ("PFR1.BT", PFR1, 0),
    ("PFR1.SSBS", PFR1, 4),
    ("ISAR0.AES", ISAR0, 4),
    ("ISAR0.SHA2", ISAR0, 12),
    ("ISAR0.Atomic", ISAR0, 20),
    ("ISAR0.RNDR", ISAR0, 60),
    ("ISAR1.APA", ISAR1, 4),
    ("ISAR1.LRCPC", ISAR1, 20),
    ("ISAR2.WFxT", ISAR2, 0),
    ("ISAR2.MOPS", ISAR2, 16),
    ("MMFR0.PARange", MMFR0, 0),
    ("MMFR0.TGran4", MMFR0, 28),
    ("MMFR1.PAN", MMFR1, 20),
    ("MMFR2.VARange", MMFR2, 16),
    ("MMFR2.E0PD", MMFR2, 60),
];

fn field(value: u64, lsb: u32) -> u64 {
    (value >> lsb) & 0xf
}

/// What the host collects about the realm's CPU while the payload runs.
pub struct CpuChecks {
    /// The SGI exits seen: ESR, gprs[0].
    sgis: [(u64, u64); 3],
    sgi_count: usize,
    /// The ID registers the realm sent, and which of them arrived.
    ids: [u64; ID_SPACE_SIZE],
    received: u64,
    /// The GIC state of the last exit: gicv3_vmcr, gicv3_misr.
    vmcr: u64,
    misr: u64,
}

impl CpuChecks {
    pub const fn new() -> Self {
        Self {
            sgis: [(0, 0); 3],
            sgi_count: 0,
            ids: [0; ID_SPACE_SIZE],
            received: 0,
            vmcr: 0,
            misr: 0,
        }
    }

    /// After every exit: its GIC state.
    pub fn on_exit(&mut self, run: Granule) {
        self.vmcr = run.read_u64(EXIT_GICV3_VMCR);
        self.misr = run.read_u64(EXIT_GICV3_MISR);
    }

    /// A REC exit due to a trapped MSR: an SGI write. False if the exit is something else.
    pub fn sgi_exit(&mut self, exit: &RecExit) -> bool {
        if exit.esr >> 26 != EC_SYSREG {
            return false;
        }
        if let Some(slot) = self.sgis.get_mut(self.sgi_count) {
            *slot = (exit.esr, exit.gpr0);
        }
        self.sgi_count += 1;
        true
    }

    /// An [`rmm_arch::realm_report::IMM_ID_REGS`] host call.
    pub fn id_registers(&mut self, gprs: &[u64; 8]) -> Outcome {
        let first = gprs[0] as usize;
        if first >= ID_SPACE_SIZE {
            fail!("ID registers from index {}", first);
        }
        for (i, &value) in gprs[1..=ID_REGS_PER_CALL].iter().enumerate() {
            if let Some(slot) = self.ids.get_mut(first + i) {
                *slot = value;
                self.received |= 1 << (first + i);
            }
        }
        Ok(())
    }

    /// SMCCC_VERSION: 1.4 where the processor has SME, 1.3 where it has SVE, else 1.2.
    pub fn smccc_version(&self, version: u64) -> Outcome {
        let hw = read_id_space();
        let expected = if field(hw[PFR1], 24) != 0 {
            0x1_0004
        } else if field(hw[PFR0], 32) != 0 {
            0x1_0003
        } else {
            0x1_0002
        };
        if version != expected {
            fail!("SMCCC_VERSION {:#x}, expected {:#x}", version, expected);
        }
        Ok(())
    }

    /// After [`rmm_arch::realm_report::Step::SgiWrite`]: one exit per write, in order, with
    /// the register's syndrome (a write, Rt zero) and the value.
    pub fn sgi_checks(&self) {
        for (i, (name, [op0, op1, crn, crm, op2])) in SGI_REGISTERS.iter().enumerate() {
            let iss = op0 << 20 | op2 << 17 | op1 << 14 | crn << 10 | crm << 1;
            let expected = (EC_SYSREG << 26 | iss, SGI_WRITES[i]);
            let outcome = match self.sgis.get(i) {
                _ if self.sgi_count != SGI_REGISTERS.len() => Err(Why::new(format_args!(
                    "{} SGI exits, expected {}",
                    self.sgi_count,
                    SGI_REGISTERS.len()
                ))),
                Some(&seen) if seen == expected => Ok(()),
                seen => Err(Why::new(format_args!(
                    "exit (ESR, gprs[0]) {:#x?}, expected {:#x?}",
                    seen, expected
                ))),
            };
            check(format_args!("realm/sgi_exit({})", name), outcome);
        }
    }

    /// After [`rmm_arch::realm_report::Step::IdRegisters`]: every field of every register.
    pub fn id_register_checks(&self) {
        let all = (1u64 << ID_SPACE_SIZE) - 1;
        if self.received != all {
            let why = Why::new(format_args!("received {:#x} of {:#x}", self.received, all));
            check(format_args!("realm/id_regs_received"), Err(why));
            return;
        }
        let hw = read_id_space();
        let ids = &self.ids;
        let absent = ABSENT
            .iter()
            .find(|&&(_, reg, lsb)| field(ids[reg], lsb) != 0)
            .map_or(Ok(()), |&(name, reg, lsb)| {
                Err(Why::new(format_args!(
                    "{} = {}",
                    name,
                    field(ids[reg], lsb)
                )))
            });
        check(format_args!("realm/id_regs_absent_features"), absent);
        let same = AS_HARDWARE
            .iter()
            .find(|&&(_, reg, lsb)| field(ids[reg], lsb) != field(hw[reg], lsb))
            .map_or(Ok(()), |&(name, reg, lsb)| {
                Err(Why::new(format_args!(
                    "{} = {}, the processor has {}",
                    name,
                    field(ids[reg], lsb),
                    field(hw[reg], lsb)
                )))
            });
        check(format_args!("realm/id_regs_as_hardware"), same);
        let (bps, wps, ctx) = (
            field(ids[DFR0], 12),
            field(ids[DFR0], 20),
            field(ids[DFR0], 28),
        );
        let debug = if bps == NUM_BPS && wps == NUM_WPS && ctx <= bps {
            Ok(())
        } else {
            Err(Why::new(format_args!(
                "BRPs {} WRPs {} CTX_CMPs {}, the realm has {} and {}",
                bps, wps, ctx, NUM_BPS, NUM_WPS
            )))
        };
        check(format_args!("realm/id_regs_debug_counts"), debug);
        check(
            format_args!("realm/id_regs_sve_pmu"),
            sve_pmu_check(ids, &hw),
        );
        let aarch32 = match (field(ids[PFR0], 0), field(ids[PFR0], 4)) {
            (1, 1) if ids[..id(4, 0)].iter().all(|&v| v == 0) => Ok(()),
            (el0, el1) => Err(Why::new(format_args!(
                "PFR0.EL0 {} EL1 {}, AArch32 registers {:#x?}",
                el0,
                el1,
                &ids[..3]
            ))),
        };
        check(format_args!("realm/id_regs_aarch64_only"), aarch32);
        let unknown = [
            id(4, 2),
            id(4, 5),
            id(4, 7),
            id(5, 1),
            id(5, 4),
            id(6, 3),
            id(7, 3),
            id(7, 4),
        ];
        let zero = match unknown.iter().find(|&&i| ids[i] != 0) {
            None => Ok(()),
            Some(&i) => Err(Why::new(format_args!("ID index {} = {:#x}", i, ids[i]))),
        };
        check(format_args!("realm/id_regs_unoffered_zero"), zero);
    }

    /// [`rmm_arch::realm_report::Step::GicVmcr`]: the exit's gicv3_vmcr holds the priority
    /// mask and Group 1 enable the realm set. Returns ICH_HCR_EL2 for the next entry (UIE).
    pub fn vmcr_check(&self) -> (Outcome, u64) {
        let vpmr = (self.vmcr >> VMCR_VPMR_SHIFT) & 0xff;
        let outcome = if vpmr == GIC_PMR && self.vmcr & VMCR_VENG1 != 0 {
            Ok(())
        } else {
            Err(Why::new(format_args!(
                "gicv3_vmcr {:#x}: VPMR {:#x} (expected {:#x}), VENG1 expected",
                self.vmcr, vpmr, GIC_PMR
            )))
        };
        (outcome, GIC_UIE)
    }

    /// [`rmm_arch::realm_report::Step::GicMisr`]: entered with UIE and no list register
    /// valid, the exit's gicv3_misr shows the underflow.
    pub fn misr_check(&self) -> Outcome {
        if self.misr & MISR_U == 0 {
            fail!("gicv3_misr {:#x}: U expected", self.misr);
        }
        Ok(())
    }
}

/// A3.1.3, A3.1.5: PFR0.SVE and ZFR0 are the processor's when the realm has SVE and zero
/// otherwise; DFR0.PMUVer the processor's when it has a PMU and zero otherwise.
fn sve_pmu_check(ids: &[u64], hw: &[u64]) -> Outcome {
    let f = super::features::realm();
    let zfr0 = id(4, 4);
    let expected = |on: bool, value: u64| if on { value } else { 0 };
    let sve = (field(ids[PFR0], 32), ids[zfr0]);
    let sve_hw = (
        expected(f.sve_vl.is_some(), field(hw[PFR0], 32)),
        expected(f.sve_vl.is_some(), hw[zfr0]),
    );
    let pmu = field(ids[DFR0], 8);
    let pmu_hw = expected(f.pmu_num_ctrs.is_some(), field(hw[DFR0], 8));
    if sve != sve_hw || pmu != pmu_hw {
        return Err(Why::new(format_args!(
            "PFR0.SVE, ZFR0 {:#x?} (expected {:#x?}), PMUVer {} (expected {})",
            sve, sve_hw, pmu, pmu_hw
        )));
    }
    Ok(())
}
