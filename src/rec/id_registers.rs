//! What a realm's ID registers say (spec A3.1.3 to A3.1.8): the processor's own values, less
//! every feature the realm is not given, with the realm's breakpoint, watchpoint, SVE and PMU
//! configuration. Reads of the ID register space trap to the RMM (HCR_EL2.TID3) and are
//! answered from [`realm_value`].
//!
//! The rule is "hidden unless allowed": every 4-bit field is zero (not implemented) unless the
//! tables below pass it through, cap it or set it. A field the tables do not know, such as one
//! a newer processor defines, stays hidden, so a realm never sees a feature the RMM has not
//! been taught to give it. A feature passes through only if it works for a realm as it runs:
//! it needs no EL2 or EL3 enable the RMM does not set, and no state the RMM does not switch.
//! The realm's HCRX_EL2 enables what needs it (FEAT_MOPS: HCRX_EL2.MSCEn, set by the platform
//! where the processor has FEAT_MOPS and FEAT_HCX).
//!
//! AArch32 is not offered (ID_AA64PFR0_EL1.EL0 and EL1 say AArch64 only), so the AArch32 ID
//! registers (CRm 1 to 3) read as zero.

use crate::realm::RealmFeatures;

/// The ID register space trapped by HCR_EL2.TID3: op0 3, op1 0, CRn 0, CRm 1 to 7, op2 0 to 7
/// (Arm ARM D23.3.1). Index [`IdRegisters::index`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdRegisters(pub [u64; Self::COUNT]);

impl IdRegisters {
    /// Encodings in the space.
    pub const COUNT: usize = 56;

    /// The index of the register `S3_0_C0_C<crm>_<op2>`, if it is in the space.
    pub const fn index(crm: u8, op2: u8) -> Option<usize> {
        if crm >= 1 && crm <= 7 && op2 <= 7 {
            // (crm - 1) * 8 + op2
            ((crm as usize) << 3 | op2 as usize).checked_sub(8)
        } else {
            None
        }
    }

    /// The value of `S3_0_C0_C<crm>_<op2>` (zero outside the space).
    pub fn get(&self, crm: u8, op2: u8) -> u64 {
        let value = Self::index(crm, op2).and_then(|i| self.0.get(i));
        value.copied().unwrap_or(0)
    }

    /// Whether the processor has FEAT_SVE (ID_AA64PFR0_EL1.SVE).
    pub fn has_sve(&self) -> bool {
        field(self.get(PFR0.0, PFR0.1), 32) != 0
    }

    /// Whether the processor has FEAT_SME (ID_AA64PFR1_EL1.SME).
    pub fn has_sme(&self) -> bool {
        field(self.get(PFR1.0, PFR1.1), 24) != 0
    }
}

/// How the realm sees one 4-bit field.
#[derive(Clone, Copy)]
enum Rule {
    /// The processor's value.
    Pass(u32),
    /// The processor's value, at most `.1` (an unsigned field).
    Max(u32, u64),
    /// Always `.1`.
    Set(u32, u64),
}

/// Registers by (CRm, op2).
pub const PFR0: (u8, u8) = (4, 0);
/// ID_AA64PFR1_EL1.
pub const PFR1: (u8, u8) = (4, 1);
/// ID_AA64ZFR0_EL1.
pub const ZFR0: (u8, u8) = (4, 4);
/// ID_AA64DFR0_EL1.
pub const DFR0: (u8, u8) = (5, 0);
/// ID_AA64ISAR0_EL1.
pub const ISAR0: (u8, u8) = (6, 0);
/// ID_AA64ISAR1_EL1.
pub const ISAR1: (u8, u8) = (6, 1);
/// ID_AA64ISAR2_EL1.
pub const ISAR2: (u8, u8) = (6, 2);
/// ID_AA64MMFR0_EL1.
pub const MMFR0: (u8, u8) = (7, 0);
/// ID_AA64MMFR1_EL1.
pub const MMFR1: (u8, u8) = (7, 1);
/// ID_AA64MMFR2_EL1.
pub const MMFR2: (u8, u8) = (7, 2);

use Rule::{Max, Pass, Set};

/// ID_AA64PFR0_EL1: EL0 and EL1 AArch64 only; FP, AdvSIMD, GIC (system registers, GICv3),
/// DIT, CSV2, CSV3. Hidden: EL2, EL3, RAS, SEL2, MPAM, AMU (A3.1.6), RME; SVE is the realm's.
const PFR0_RULES: &[Rule] = &[
    Set(0, 1),
    Set(4, 1),
    Pass(16),
    Pass(20),
    Max(24, 1),
    Pass(48),
    Pass(56),
    Pass(60),
];
/// ID_AA64PFR1_EL1: BT, SSBS, CSV2_frac. Hidden: MTE (and its fractions), SME, RAS_frac,
/// MPAM_frac, RNDR_trap, NMI, GCS, THE, DF2, PFAR.
const PFR1_RULES: &[Rule] = &[Pass(0), Pass(4), Pass(32)];
/// ID_AA64DFR0_EL1: DebugVer and DoubleLock; BRPs, WRPs, CTX_CMPs and PMUVer are the realm's.
/// Hidden: trace (A3.1.8 TRBE, TraceVer, TraceFilt, ExtTrcBuff), SPE (A3.1.7 PMSVer, PMSS),
/// BRBE, MTPMU, SEBEP, HPMN0.
const DFR0_RULES: &[Rule] = &[Pass(0), Pass(36)];
/// ID_AA64ISAR0_EL1: every instruction set field but TME (transactional memory).
const ISAR0_RULES: &[Rule] = &[
    Pass(4),
    Pass(8),
    Pass(12),
    Pass(16),
    Pass(20),
    Pass(28),
    Pass(32),
    Pass(36),
    Pass(40),
    Pass(44),
    Pass(48),
    Pass(52),
    Pass(56),
    Pass(60),
];
/// ID_AA64ISAR1_EL1: every field but LS64 (needs HCRX_EL2 enables).
const ISAR1_RULES: &[Rule] = &[
    Pass(0),
    Pass(4),
    Pass(8),
    Pass(12),
    Pass(16),
    Pass(20),
    Pass(24),
    Pass(28),
    Pass(32),
    Pass(36),
    Pass(40),
    Pass(44),
    Pass(48),
    Pass(52),
    Pass(56),
];
/// ID_AA64ISAR2_EL1: WFxT, RPRES, GPA3, APA3, MOPS (HCRX_EL2.MSCEn), BC, PAC_frac, CLRBHB,
/// PRFMSLC, RPRFM, CSSC, LUT. Hidden: SYSREG_128, SYSINSTR_128 (need HCRX_EL2.D128En), ATS1A.
const ISAR2_RULES: &[Rule] = &[
    Pass(0),
    Pass(4),
    Pass(8),
    Pass(12),
    Pass(16),
    Pass(20),
    Pass(24),
    Pass(28),
    Pass(40),
    Pass(48),
    Pass(52),
    Pass(56),
];
/// ID_AA64MMFR0_EL1: the stage-1 facts (PARange, ASIDBits, endianness, SNSMem, granules, ExS);
/// ECV at most 1 (its level 2 is EL2 state). Hidden: the stage-2 granule fields and FGT.
const MMFR0_RULES: &[Rule] = &[
    Pass(0),
    Pass(4),
    Pass(8),
    Pass(12),
    Pass(16),
    Pass(20),
    Pass(24),
    Pass(28),
    Pass(44),
    Max(60, 1),
];
/// ID_AA64MMFR1_EL1: HAFDBS (at most 2: FEAT_HAFT needs TCR2_EL1), HPDS, LO, PAN, SpecSEI, XNX,
/// ETS, AFP, nTLBPA, ECBHB. Hidden: VMIDBits, VH, TWED, HCX, TIDCP1, CMOW.
const MMFR1_RULES: &[Rule] = &[
    Max(0, 2),
    Pass(12),
    Pass(16),
    Pass(20),
    Pass(24),
    Pass(28),
    Pass(36),
    Pass(44),
    Pass(48),
    Pass(60),
];
/// ID_AA64MMFR2_EL1: CnP, UAO, LSM, IESB, VARange, CCIDX, ST, AT, TTL, BBM, E0PD. Hidden: NV,
/// IDS, FWB, EVT (EL2 features).
const MMFR2_RULES: &[Rule] = &[
    Pass(0),
    Pass(4),
    Pass(8),
    Pass(12),
    Pass(16),
    Pass(20),
    Pass(28),
    Pass(32),
    Pass(48),
    Pass(52),
    Pass(60),
];

/// The 4-bit field at `lsb` of `value`.
const fn field(value: u64, lsb: u32) -> u64 {
    (value >> lsb) & 0xf
}

/// `hw` with only the fields `rules` allow.
fn apply(hw: u64, rules: &[Rule]) -> u64 {
    rules.iter().fold(0, |out, &rule| {
        let (lsb, v) = match rule {
            Pass(lsb) => (lsb, field(hw, lsb)),
            Max(lsb, max) => (lsb, field(hw, lsb).min(max)),
            Set(lsb, v) => (lsb, v),
        };
        out | v << lsb
    })
}

/// The value a realm with `realm`'s features reads from ID register `S3_0_C0_C<crm>_<op2>`,
/// on a processor whose ID registers are `hw`.
pub fn realm_value(hw: &IdRegisters, realm: &RealmFeatures, crm: u8, op2: u8) -> u64 {
    let value = hw.get(crm, op2);
    match (crm, op2) {
        PFR0 => {
            let sve = if realm.sve_vl.is_some() {
                field(value, 32)
            } else {
                0
            };
            apply(value, PFR0_RULES) | sve << 32
        }
        PFR1 => apply(value, PFR1_RULES),
        ZFR0 if realm.sve_vl.is_some() => value,
        DFR0 => {
            let pmu = if realm.pmu_num_ctrs.is_some() {
                field(value, 8)
            } else {
                0
            };
            // A3.1.4: the realm's counts. Context-aware breakpoints are the highest-numbered
            // ones, so there are no more of them than breakpoints.
            let bps = u64::from(realm.num_bps);
            let ctx_cmps = field(value, 28).min(bps);
            apply(value, DFR0_RULES)
                | pmu << 8
                | bps << 12
                | u64::from(realm.num_wps) << 20
                | ctx_cmps << 28
        }
        ISAR0 => apply(value, ISAR0_RULES),
        ISAR1 => apply(value, ISAR1_RULES),
        ISAR2 => apply(value, ISAR2_RULES),
        MMFR0 => apply(value, MMFR0_RULES),
        MMFR1 => apply(value, MMFR1_RULES),
        MMFR2 => apply(value, MMFR2_RULES),
        // AArch32 registers, PFR2, SMFR0 (no SME), FPFR0, DFR1, DFR2, AFR0, AFR1, ISAR3,
        // MMFR3, MMFR4, ZFR0 without SVE, and the unallocated encodings.
        _ => 0,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// A processor with every field of every ID register at 1 (so a passed field reads 1),
    /// except the counts at 15.
    fn ones() -> IdRegisters {
        let mut hw = IdRegisters([0x1111_1111_1111_1111; IdRegisters::COUNT]);
        hw.0[IdRegisters::index(DFR0.0, DFR0.1).unwrap()] = 0xffff_ffff_ffff_ffff;
        hw
    }

    fn realm() -> RealmFeatures {
        RealmFeatures {
            lpa2: false,
            sve_vl: None,
            pmu_num_ctrs: None,
            num_bps: 3,
            num_wps: 1,
        }
    }

    fn read(hw: &IdRegisters, realm: &RealmFeatures, reg: (u8, u8), lsb: u32) -> u64 {
        field(realm_value(hw, realm, reg.0, reg.1), lsb)
    }

    #[test]
    fn features_a_realm_is_not_given_read_as_absent() {
        let (hw, r) = (ones(), realm());
        let hidden = [
            ("EL2", PFR0, 8),
            ("EL3", PFR0, 12),
            ("RAS", PFR0, 28),
            ("SVE", PFR0, 32),
            ("SEL2", PFR0, 36),
            ("MPAM", PFR0, 40),
            ("AMU", PFR0, 44),
            ("RME", PFR0, 52),
            ("MTE", PFR1, 8),
            ("SME", PFR1, 24),
            ("NMI", PFR1, 36),
            ("GCS", PFR1, 44),
            ("PMUVer", DFR0, 8),
            ("TraceVer", DFR0, 4),
            ("PMSVer (SPE)", DFR0, 32),
            ("TraceBuffer (TRBE)", DFR0, 44),
            ("BRBE", DFR0, 52),
            ("TME", ISAR0, 24),
            ("LS64", ISAR1, 60),
            ("SYSREG_128", ISAR2, 32),
            ("FGT", MMFR0, 56),
            ("VH", MMFR1, 8),
            ("HCX", MMFR1, 40),
            ("NV", MMFR2, 24),
        ];
        for (name, reg, lsb) in hidden {
            assert_eq!(read(&hw, &r, reg, lsb), 0, "{name} is hidden");
        }
        for (crm, op2) in [
            (4, 2),
            (4, 5),
            (4, 7),
            (5, 1),
            (5, 4),
            (6, 3),
            (7, 3),
            (7, 4),
        ] {
            assert_eq!(
                realm_value(&hw, &r, crm, op2),
                0,
                "S3_0_C0_C{crm}_{op2} is zero"
            );
        }
        assert_eq!(realm_value(&hw, &r, ZFR0.0, ZFR0.1), 0, "no SVE: ZFR0 zero");
    }

    #[test]
    fn aarch32_is_not_offered() {
        let (hw, r) = (ones(), realm());
        assert_eq!(read(&hw, &r, PFR0, 0), 1, "EL0 AArch64 only");
        assert_eq!(read(&hw, &r, PFR0, 4), 1, "EL1 AArch64 only");
        for crm in 1..=3 {
            for op2 in 0..=7 {
                assert_eq!(realm_value(&hw, &r, crm, op2), 0);
            }
        }
    }

    #[test]
    fn usable_features_pass_through() {
        let (hw, r) = (ones(), realm());
        let passed = [
            ("FP", PFR0, 16),
            ("AdvSIMD", PFR0, 20),
            ("GIC", PFR0, 24),
            ("BT", PFR1, 0),
            ("AES", ISAR0, 4),
            ("Atomic", ISAR0, 20),
            ("APA (PAuth)", ISAR1, 4),
            ("MOPS", ISAR2, 16),
            ("WFxT", ISAR2, 0),
            ("PARange", MMFR0, 0),
            ("TGran4", MMFR0, 28),
            ("PAN", MMFR1, 20),
            ("E0PD", MMFR2, 60),
        ];
        for (name, reg, lsb) in passed {
            assert_eq!(read(&hw, &r, reg, lsb), 1, "{name} passes");
        }
        let mut hw = hw;
        hw.0[IdRegisters::index(MMFR0.0, MMFR0.1).unwrap()] |= 0x2 << 60;
        assert_eq!(read(&hw, &r, MMFR0, 60), 1, "ECV at most 1");
    }

    #[test]
    fn debug_counts_sve_and_pmu_are_the_realms() {
        let hw = ones();
        let r = realm();
        assert_eq!(read(&hw, &r, DFR0, 12), 3, "BRPs = num_bps");
        assert_eq!(read(&hw, &r, DFR0, 20), 1, "WRPs = num_wps");
        assert_eq!(read(&hw, &r, DFR0, 28), 3, "CTX_CMPs <= BRPs");
        assert_eq!(read(&hw, &r, DFR0, 0), 0xf, "DebugVer passes");
        let given = RealmFeatures {
            sve_vl: Some(3),
            pmu_num_ctrs: Some(4),
            ..r
        };
        assert_eq!(read(&hw, &given, PFR0, 32), 1, "SVE given");
        assert_eq!(
            realm_value(&hw, &given, ZFR0.0, ZFR0.1),
            0x1111_1111_1111_1111
        );
        assert_eq!(read(&hw, &given, DFR0, 8), 0xf, "PMUVer given");
    }

    #[test]
    fn platform_sve_and_sme_are_read_from_pfr0_and_pfr1() {
        let hw = ones();
        assert!(hw.has_sve() && hw.has_sme());
        let none = IdRegisters([0; IdRegisters::COUNT]);
        assert!(!none.has_sve() && !none.has_sme());
    }
}
