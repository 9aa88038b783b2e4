//! The structures the host writes into Normal-world granules for the RMM, at the byte offsets of
//! the RMM spec 1.0-REL0 (written out here independently of the RMM's own parser):
//! RmiRealmParams (B4.4.12), RmiRecParams (B4.4.19) and RmiRecRun (B4.4.20: RmiRecEnter at 0,
//! RmiRecExit at 0x800).

use crate::granule::Granule;

/// RmiRealmParams as the scenarios use it.
pub struct RealmParams {
    /// RmiRealmFlags.lpa2 (bit 0): LPA2 stage-2 tables, IPA widths up to 52 bits.
    pub lpa2: bool,
    /// RmiRealmFlags: SVE (bit 1) and PMU (bit 2) as the realm's features say.
    pub features: RealmFeatures,
    /// IPA width.
    pub s2sz: u64,
    /// Number of breakpoints and watchpoints (each field: 0 is reserved).
    pub num_bps: u64,
    pub num_wps: u64,
    /// RMI_HASH_SHA_256 (0) or RMI_HASH_SHA_512 (1).
    pub hash_algo: u64,
    pub vmid: u64,
    /// First starting-level RTT, their level and number.
    pub rtt_base: u64,
    pub rtt_level_start: i64,
    pub rtt_num_start: u64,
}

/// RMI_HASH_SHA_256.
pub const HASH_SHA_256: u64 = 0;

/// The SVE and PMU a realm is created with (RmiRealmParams flags, sve_vl, pmu_num_ctrs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RealmFeatures {
    /// SVE at vector length (sve_vl + 1) * 128 bits.
    pub sve_vl: Option<u8>,
    /// A PMU with this many event counters.
    pub pmu_num_ctrs: Option<u8>,
}

impl RealmFeatures {
    /// RmiRealmFlags (B4.4.11): sve bit 1, pmu bit 2.
    pub fn flags(&self) -> u64 {
        u64::from(self.sve_vl.is_some()) << 1 | u64::from(self.pmu_num_ctrs.is_some()) << 2
    }

    /// What RmiFeatureRegister0 (B4.4.6) offers: SVE at SVE_VL and the PMU with
    /// PMU_NUM_CTRS counters, where supported.
    pub fn offered(feat0: u64) -> Self {
        Self {
            sve_vl: (feat0 >> 9 & 1 != 0).then_some((feat0 >> 10 & 0xf) as u8),
            pmu_num_ctrs: (feat0 >> 26 & 1 != 0).then_some((feat0 >> 27 & 0x1f) as u8),
        }
    }
}

impl RealmParams {
    /// Writes the structure into the zeroed granule `page`.
    pub fn write(&self, page: Granule) {
        let f = self.features;
        page.write_u64(0x000, f.flags() | u64::from(self.lpa2)); // flags
        page.write_u64(0x008, self.s2sz);
        page.write_u64(0x010, f.sve_vl.unwrap_or(0).into()); // sve_vl
        page.write_u64(0x018, self.num_bps);
        page.write_u64(0x020, self.num_wps);
        page.write_u64(0x028, f.pmu_num_ctrs.unwrap_or(0).into()); // pmu_num_ctrs
        page.write_u64(0x030, self.hash_algo);
        // rpv (0x400, 64 bytes): zero.
        page.write_u64(0x800, self.vmid);
        page.write_u64(0x808, self.rtt_base);
        page.write_u64(0x810, self.rtt_level_start as u64);
        page.write_u64(0x818, self.rtt_num_start);
    }
}

/// RmiRecParams.
pub struct RecParams<'a> {
    /// flags.runnable: the REC may be entered before a PSCI CPU_ON starts it.
    pub runnable: bool,
    pub mpidr: u64,
    pub pc: u64,
    /// x0..x7 at the first entry.
    pub gprs: [u64; 8],
    /// The auxiliary granules (RMI_REC_AUX_COUNT of them).
    pub aux: &'a [u64],
}

impl RecParams<'_> {
    /// Writes the structure into the zeroed granule `page`.
    pub fn write(&self, page: Granule) {
        page.write_u64(0x000, u64::from(self.runnable)); // flags
        page.write_u64(0x100, self.mpidr);
        page.write_u64(0x200, self.pc);
        for (i, gpr) in self.gprs.iter().enumerate() {
            page.write_u64(0x300 + 8 * i, *gpr);
        }
        page.write_u64(0x800, self.aux.len() as u64);
        for (i, aux) in self.aux.iter().enumerate() {
            page.write_u64(0x808 + 8 * i, *aux);
        }
    }
}

/// RmiRecEnterFlags.emul_mmio: the host completed the emulatable abort of the last exit.
pub use ns_el2::rec_run::FLAG_EMUL_MMIO as ENTER_EMUL_MMIO;

/// Writes RmiRecEnter into the RmiRecRun granule `run`: `flags`, x0..x6 = `gprs`, the other
/// registers, gicv3_hcr and the list registers zero.
pub fn write_rec_enter(run: Granule, flags: u64, gprs: &[u64]) {
    RecRun(run).enter(flags, gprs, 0, &[0; LRS]);
}

use ns_el2::rec_run::{RecRun, LRS};
pub use ns_el2::rec_run::{
    ENTER_GICV3_HCR, ENTER_GICV3_LRS as ENTER_LRS, EXIT_FIQ, EXIT_GICV3_LRS as EXIT_LRS, EXIT_GPRS,
    EXIT_HOST_CALL, EXIT_IRQ, EXIT_PSCI, EXIT_REASON, EXIT_RIPAS_CHANGE, EXIT_SYNC,
};

/// An ICH_LR<n>_EL2 value for RmiRecEnter.gicv3_lrs: State pending (bits 63:62 = 0b01),
/// Group 1 (bit 60), priority 0xa0 (bits 55:48), vINTID `intid` (bits 31:0).
pub const fn pending_lr(intid: u64) -> u64 {
    1 << 62 | 1 << 60 | 0xa0 << 48 | intid
}

/// The fields of RmiRecExit the scenarios look at.
#[derive(Clone, Copy, Debug)]
pub struct RecExit {
    pub exit_reason: u64,
    pub esr: u64,
    pub far: u64,
    pub hpfar: u64,
    pub gpr0: u64,
    pub gpr1: u64,
}

impl RecExit {
    /// Reads RmiRecExit from the RmiRecRun granule `run`.
    pub fn read(run: Granule) -> Self {
        Self {
            exit_reason: run.read_u64(0x800) & 0xff,
            esr: run.read_u64(0x900),
            far: run.read_u64(0x908),
            hpfar: run.read_u64(0x910),
            gpr0: run.read_u64(0xa00),
            gpr1: run.read_u64(0xa08),
        }
    }

    /// The faulting IPA: HPFAR_EL2.FIPA (bits 43:4 = IPA 51:12) plus the offset in FAR.
    pub fn fault_ipa(&self) -> u64 {
        ((self.hpfar >> 4) & ((1 << 40) - 1)) << 12 | (self.far & 0xfff)
    }
}
