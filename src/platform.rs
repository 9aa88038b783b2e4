//! The narrow interface between the RMM core and the machine it runs on.
//!
//! `arch/` implements [`Platform`] for aarch64 at R-EL2 (EL3 calls through SMC, memory through
//! the RMM's own mappings); `crate::host` (feature `host`) implements it for a simulated machine. The core
//! calls nothing else that touches hardware.
//!
//! The RMM reaches the Realm granules it owns through [`Platform::granule`]: on aarch64 a
//! permanent mapping of delegable DRAM in the Realm PAS, so no command pays for mapping and
//! unmapping (and the TLB maintenance that goes with it) on every call. Non-secure memory is
//! reached only through the fault-tolerant copies [`Platform::ns_read`] and
//! [`Platform::ns_write`].

use crate::rec::{IdRegisters, RealmTrap, VcpuContext};
use crate::sync::{MemoryWord, Ordering};

/// The memory of one granule, as 64-bit words.
pub type GranuleMemory = [MemoryWord; 512];

/// EL3 refused a granule protection change (RMM-EL3 interface, GTSI calls).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GtsiRefused;

/// An RMM access to Non-secure memory hit a granule protection fault, or no memory at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NsAccessFault {
    /// The physical address that faulted.
    pub pa: u64,
}

/// Facts about the processor that RMI_FEATURES reports (spec B4.4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuFeatures {
    /// Physical address width in bits (ID_AA64MMFR0_EL1.PARange): up to 52.
    pub pa_bits: u8,
    /// FEAT_LPA2 with the 4 KiB granule at stages 1 and 2 (ID_AA64MMFR0_EL1.TGran4 and
    /// TGran4_2): realms may use 52-bit IPAs and output addresses (RmiFeatureRegister0.LPA2,
    /// A3.1.2).
    pub lpa2: bool,
    /// Number of breakpoints (at least 2).
    pub breakpoints: u8,
    /// Number of watchpoints (at least 2).
    pub watchpoints: u8,
    /// Number of GICv3 list registers (1..=16).
    pub gic_list_registers: u8,
    /// VMID width in bits: 8, or 16 with FEAT_VMID16.
    pub vmid_bits: u8,
    /// FEAT_SVE, and the longest vector length the RMM can give a realm, in ZCR_EL2.LEN's
    /// encoding ((LEN + 1) * 128 bits; RmiFeatureRegister0.SVE_VL, A3.1.3).
    pub sve_vl: Option<u8>,
    /// FEAT_PMU (PMUv3), and its number of event counters (PMCR_EL0.N; RmiFeatureRegister0
    /// PMU_NUM_CTRS, A3.1.5).
    pub pmu_counters: Option<u8>,
}

/// A stage-2 fault: the IPA has no valid mapping for the access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage2Fault {
    /// The IPA that faulted.
    pub ipa: u64,
}

/// What the hardware needs to translate a realm's IPAs: its RTTs are stage-2 tables in the
/// architecture's format ([`crate::rtt`]), so these are VTTBR_EL2 and VTCR_EL2's realm fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage2Translation {
    /// PA of the first starting-level RTT (VTTBR_EL2.BADDR).
    pub rtt_base: u64,
    /// The realm's VMID (VTTBR_EL2.VMID).
    pub vmid: u16,
    /// VTCR_EL2.T0SZ: 64 minus the IPA width.
    pub t0sz: u64,
    /// VTCR_EL2.SL0 for a 4 KiB granule.
    pub sl0: u64,
    /// VTCR_EL2.SL2: the walk starts at level -1 (with `ds`).
    pub sl2: bool,
    /// VTCR_EL2.DS: the realm's RTTs are in the LPA2 format (52-bit addresses; shareability
    /// from VTCR_EL2.SH0), and VTTBR_EL2.BADDR holds bits 51:48 of `rtt_base` in bits 5:2.
    pub ds: bool,
}

/// A realm's memory as it reaches it through its stage 2: valid mappings only (ASSIGNED with
/// RIPAS RAM, ASSIGNED_NS). Simulated realms read and write through it; hardware translates
/// by itself from [`RealmMemory::translation`].
pub trait RealmMemory {
    /// The realm's stage-2 translation registers.
    fn translation(&self) -> Stage2Translation;
    /// Reads `buf.len()` bytes at `ipa`.
    fn read(&self, ipa: u64, buf: &mut [u8]) -> Result<(), Stage2Fault>;
    /// Writes `bytes` at `ipa`; pages before a faulting one have been written.
    fn write(&self, ipa: u64, bytes: &[u8]) -> Result<(), Stage2Fault>;
}

/// What the RMM core needs from the machine.
pub trait Platform: Sync {
    /// Asks EL3 to move the granule at `pa` from the Non-secure to the Realm PAS
    /// (RMM_GTSI_DELEGATE). EL3 refuses a granule that is not Non-secure.
    fn gtsi_delegate(&self, pa: u64) -> Result<(), GtsiRefused>;

    /// Asks EL3 to move the granule at `pa` from the Realm back to the Non-secure PAS
    /// (RMM_GTSI_UNDELEGATE). EL3 refuses a granule that is not Realm.
    fn gtsi_undelegate(&self, pa: u64) -> Result<(), GtsiRefused>;

    /// The memory of the delegable granule at `pa`, which the caller owns (it holds the
    /// granule's lock or a reference that protects the contents it touches).
    fn granule(&self, pa: u64) -> &GranuleMemory;

    /// Fills the granule at `pa` with zeros. The caller owns the granule.
    fn granule_zero(&self, pa: u64) {
        // Relaxed: the caller publishes the granule with a Release transition.
        self.granule(pa)
            .iter()
            .for_each(|w| w.store(0, Ordering::Relaxed));
    }

    /// Whether the granule at `pa` is all zero. The caller owns the granule.
    fn granule_is_zero(&self, pa: u64) -> bool {
        // Relaxed: the caller holds the granule, acquired when it was locked.
        self.granule(pa)
            .iter()
            .all(|w| w.load(Ordering::Relaxed) == 0)
    }

    /// Copies Non-secure memory at `pa` into `buf`. A granule protection fault fails the copy
    /// and has no other effect.
    fn ns_read(&self, pa: u64, buf: &mut [u8]) -> Result<(), NsAccessFault>;

    /// Copies `buf` to Non-secure memory at `pa`. A granule protection fault fails the copy;
    /// bytes before the faulting granule may have been written, as on hardware.
    fn ns_write(&self, pa: u64, buf: &[u8]) -> Result<(), NsAccessFault>;

    /// Invalidates, on every CPU, stage-2 TLB entries and cached walks of the realm with VMID
    /// `vmid` for IPAs in `[ipa, ipa + size)`, and waits for completion (TLBI IPAS2E1IS, DSB).
    fn tlbi_range(&self, vmid: u16, ipa: u64, size: u64);

    /// Invalidates, on every CPU, all TLB entries of the realm with VMID `vmid` (TLBI
    /// VMALLS12E1IS, DSB).
    fn tlbi_vmid(&self, vmid: u16);

    /// Runs the REC at `rec` on CPU `cpu` from `vcpu` (the world switch: load, enter the realm,
    /// take the exception that ends its run, save) and returns that exception. `memory` is the
    /// realm's stage 2, for platforms that simulate the realm.
    fn run_realm(
        &self,
        cpu: usize,
        rec: u64,
        vcpu: &mut VcpuContext,
        memory: &dyn RealmMemory,
    ) -> RealmTrap;

    /// The processor's features.
    fn cpu_features(&self) -> CpuFeatures;

    /// The processor's ID registers (the space HCR_EL2.TID3 traps), from which a realm's are
    /// made ([`crate::rec::id_registers`]).
    fn id_registers(&self) -> &IdRegisters;

    /// Whether a physical interrupt is pending on CPU `cpu` (ISR_EL1 on aarch64), for
    /// long-running RSI commands to stop and let the host take it (RSI_ATTESTATION_TOKEN_CONTINUE,
    /// spec A7.2.2).
    fn interrupt_pending(&self, _cpu: usize) -> bool {
        false
    }

    /// Whether this platform may trace calls: every RMI call, and the RSI and PSCI calls
    /// realms make. When false (the default) the core compiles the trace out.
    const TRACE_CALLS: bool = false;

    /// Whether to trace calls now; asked only when [`Platform::TRACE_CALLS`] holds.
    fn tracing(&self) -> bool {
        true
    }

    /// One line of the call trace, `CPU <n>: <NAME> <inputs> -> <outputs>` (crate::trace).
    fn trace(&self, _line: core::fmt::Arguments<'_>) {}
}
