//! The structures the host writes into Normal-world granules for the RMM, at the byte offsets of
//! the RMM spec 1.0-REL0 (written out here independently of the RMM's own parser):
//! RmiRealmParams (B4.4.12), RmiRecParams (B4.4.19) and RmiRecRun (B4.4.20: RmiRecEnter at 0,
//! RmiRecExit at 0x800).

use crate::granule::Granule;

/// RmiRealmParams as the scenarios use it.
pub struct RealmParams {
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

impl RealmParams {
    /// Writes the structure into the zeroed granule `page` (flags 0: no LPA2, SVE or PMU).
    pub fn write(&self, page: Granule) {
        page.write_u64(0x000, 0); // flags
        page.write_u64(0x008, self.s2sz);
        page.write_u64(0x010, 0); // sve_vl
        page.write_u64(0x018, self.num_bps);
        page.write_u64(0x020, self.num_wps);
        page.write_u64(0x028, 0); // pmu_num_ctrs
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
