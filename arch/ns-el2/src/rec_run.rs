//! RmiRecRun (RMM spec B4.4.20): the Normal-world granule RMI_REC_ENTER reads RmiRecEnter from
//! (offset 0, B4.4.14) and writes RmiRecExit into (offset 0x800, B4.4.16). Offsets written out
//! here from the spec, independently of the RMM's own parser.

use crate::granule::Granule;

/// RmiRecEnter fields.
pub const ENTER_FLAGS: usize = 0x000;
pub const ENTER_GPRS: usize = 0x200;
pub const ENTER_GICV3_HCR: usize = 0x300;
pub const ENTER_GICV3_LRS: usize = 0x308;
/// RmiRecExit fields.
pub const EXIT: usize = 0x800;
pub const EXIT_REASON: usize = EXIT;
pub const EXIT_ESR: usize = EXIT + 0x100;
pub const EXIT_FAR: usize = EXIT + 0x108;
pub const EXIT_HPFAR: usize = EXIT + 0x110;
pub const EXIT_GPRS: usize = EXIT + 0x200;
pub const EXIT_GICV3_HCR: usize = EXIT + 0x300;
pub const EXIT_GICV3_LRS: usize = EXIT + 0x308;
pub const EXIT_GICV3_MISR: usize = EXIT + 0x388;
pub const EXIT_GICV3_VMCR: usize = EXIT + 0x390;
pub const EXIT_CNTP_CTL: usize = EXIT + 0x400;
pub const EXIT_CNTP_CVAL: usize = EXIT + 0x408;
pub const EXIT_CNTV_CTL: usize = EXIT + 0x410;
pub const EXIT_CNTV_CVAL: usize = EXIT + 0x418;
pub const EXIT_RIPAS_BASE: usize = EXIT + 0x500;
pub const EXIT_RIPAS_TOP: usize = EXIT + 0x508;
pub const EXIT_RIPAS_VALUE: usize = EXIT + 0x510;
pub const EXIT_IMM: usize = EXIT + 0x600;
pub const EXIT_PMU_OVF_STATUS: usize = EXIT + 0x700;

/// RmiPmuOverflowStatus (B4.4.10): RMI_PMU_OVERFLOW_ACTIVE.
pub const PMU_OVERFLOW_ACTIVE: u64 = 1;

/// RmiRecEnterFlags (B4.4.15): emul_mmio, inject_sea, trap_wfi, trap_wfe, ripas_response.
pub const FLAG_EMUL_MMIO: u64 = 1 << 0;
pub const FLAG_INJECT_SEA: u64 = 1 << 1;
pub const FLAG_TRAP_WFI: u64 = 1 << 2;
pub const FLAG_TRAP_WFE: u64 = 1 << 3;
pub const FLAG_RIPAS_REJECT: u64 = 1 << 4;

/// RmiRecExitReason (B4.4.17).
pub const EXIT_SYNC: u64 = 0;
pub const EXIT_IRQ: u64 = 1;
pub const EXIT_FIQ: u64 = 2;
pub const EXIT_PSCI: u64 = 3;
pub const EXIT_RIPAS_CHANGE: u64 = 4;
pub const EXIT_HOST_CALL: u64 = 5;
pub const EXIT_SERROR: u64 = 6;

/// Number of list registers in RmiRecEnter and RmiRecExit.
pub const LRS: usize = 16;

/// An RmiRecExit, read whole.
#[derive(Clone, Copy, Debug, Default)]
pub struct Exit {
    pub reason: u64,
    pub esr: u64,
    pub far: u64,
    pub hpfar: u64,
    pub gprs: [u64; 8],
    pub gicv3_hcr: u64,
    pub gicv3_lrs: [u64; LRS],
    pub gicv3_misr: u64,
    pub gicv3_vmcr: u64,
    /// CNTV_CTL, CNTV_CVAL, CNTP_CTL, CNTP_CVAL.
    pub timers: [u64; 4],
    /// ripas_base, ripas_top, ripas_value.
    pub ripas: [u64; 3],
    pub imm: u16,
    /// pmu_ovf_status is RMI_PMU_OVERFLOW_ACTIVE: the realm's PMU has an overflow interrupt
    /// pending (A8.1).
    pub pmu_overflow: bool,
}

/// A REC's RmiRecRun granule.
#[derive(Clone, Copy, Debug)]
pub struct RecRun(pub Granule);

impl RecRun {
    /// Writes RmiRecEnter: `flags`, x0..x6 = `gprs` (the rest zero), `hcr`, `lrs`.
    pub fn enter(self, flags: u64, gprs: &[u64], hcr: u64, lrs: &[u64; LRS]) {
        let g = self.0;
        g.write_u64(ENTER_FLAGS, flags);
        for i in 0..31 {
            g.write_u64(ENTER_GPRS + 8 * i, gprs.get(i).copied().unwrap_or(0));
        }
        g.write_u64(ENTER_GICV3_HCR, hcr);
        for (i, &lr) in lrs.iter().enumerate() {
            g.write_u64(ENTER_GICV3_LRS + 8 * i, lr);
        }
    }

    /// Reads RmiRecExit.
    pub fn exit(self) -> Exit {
        let g = self.0;
        Exit {
            reason: g.read_u64(EXIT_REASON) & 0xff,
            esr: g.read_u64(EXIT_ESR),
            far: g.read_u64(EXIT_FAR),
            hpfar: g.read_u64(EXIT_HPFAR),
            gprs: core::array::from_fn(|i| g.read_u64(EXIT_GPRS + 8 * i)),
            gicv3_hcr: g.read_u64(EXIT_GICV3_HCR),
            gicv3_lrs: core::array::from_fn(|i| g.read_u64(EXIT_GICV3_LRS + 8 * i)),
            gicv3_misr: g.read_u64(EXIT_GICV3_MISR),
            gicv3_vmcr: g.read_u64(EXIT_GICV3_VMCR),
            timers: [EXIT_CNTV_CTL, EXIT_CNTV_CVAL, EXIT_CNTP_CTL, EXIT_CNTP_CVAL]
                .map(|at| g.read_u64(at)),
            ripas: [EXIT_RIPAS_BASE, EXIT_RIPAS_TOP, EXIT_RIPAS_VALUE].map(|at| g.read_u64(at)),
            imm: g.read_u64(EXIT_IMM) as u16,
            pmu_overflow: g.read_u64(EXIT_PMU_OVF_STATUS) & 0xff == PMU_OVERFLOW_ACTIVE,
        }
    }
}

/// The RmiRecMpidr (B4.4.18) of the REC with index `index` (A2.3.3: index =
/// Aff3:Aff2:Aff1:Aff0[3:0], so 16 RECs per Aff1 cluster as QEMU numbers its CPUs). Below 2^20
/// RECs (Aff3 = 0) it is also the affinity the realm reads in MPIDR_EL1 and names in PSCI.
pub const fn rec_mpidr(index: usize) -> u64 {
    let i = index as u64;
    (i & 0xf) | (i >> 4 & 0xff) << 8 | (i >> 12 & 0xff) << 16 | (i >> 20 & 0xff) << 24
}
