//! The protocol between the realm test payload (`arch/realm-payload`) and the test host that
//! runs it (`arch/test-host`, `realm_payload.rs`). Both sides use these constants.
//!
//! # Realm layout (Protected IPA space, IPA width [`IPA_WIDTH`])
//!
//! | IPA range                                   | what                                       |
//! |---------------------------------------------|--------------------------------------------|
//! | `0 .. image size`                           | the flat binary: RMI_DATA_CREATE, measured |
//! | `image size .. RAM_TOP`                     | `.bss`, stacks, buffers: DATA_CREATE_UNKNOWN |
//! | `RIPAS_TEST_BASE .. RIPAS_TEST_TOP`         | RIPAS RAM, no DATA: flipped by the realm   |
//!
//! The host sets RIPAS RAM over `0 .. RIPAS_TEST_TOP` with RMI_RTT_INIT_RIPAS before it creates
//! any DATA granule, and backs every granule below [`RAM_TOP`] (the payload's link script
//! refuses an image that does not fit). RECs start at IPA 0 (`PC = 0`).
//!
//! Unprotected IPA space (`UNPROTECTED_BASE = 1 << (IPA_WIDTH - 1)`):
//!
//! | IPA                                 | what                                               |
//! |-------------------------------------|----------------------------------------------------|
//! | `UNPROTECTED_BASE + MMIO_OFFSET`    | emulated MMIO: left UNASSIGNED_NS, every access exits |
//! | `UNPROTECTED_BASE + SHARED_OFFSET`  | [`SHARED_PAGES`] NS granules mapped with RMI_RTT_MAP_UNPROTECTED |
//!
//! # Entry registers
//!
//! REC 0 (MPIDR Aff0 0, runnable, PC 0): x0 = mode ([`MODE_TEST`], [`MODE_PERF`],
//! [`MODE_PERF_FP`]), x1 = the IPA width the host gave the realm, x2 = the RsiHashAlgorithm the
//! host chose (0 SHA-256, 1 SHA-512), x3 = the number of RECs N (1..=[`MAX_RECS`]). RECs
//! 1..N-1 are created not runnable with MPIDR Aff0 = their index; REC 0 starts them with
//! PSCI_CPU_ON (entry = the payload's secondary entry, context id = the REC index).
//!
//! # Reports: RSI_HOST_CALL
//!
//! Each REC has its own 4 KiB RsiHostCall page (`imm` u16 at offset 0, `gprs[0..31]` u64 at
//! offset 8). The host sees `imm` and the gprs in RmiRecExit (`imm` at +0x600 of RmiRecExit,
//! `gprs` at +0x200) and answers through RmiRecEnter.gprs, which the RMM copies back into the
//! structure's gprs before the realm resumes.
//!
//! | imm               | meaning           | gprs                                                   |
//! |-------------------|-------------------|--------------------------------------------------------|
//! | [`IMM_PERF`] 0    | perf              | [0] the realm's own ticks (see Perf modes); the host re-enters at once |
//! | [`IMM_STEP`] 1    | a step's result   | [0] step id ([`Step`]), [1] [`PASS`]/[`FAIL`], [2..6] values |
//! | [`IMM_DONE`] 2    | all steps run     | [0] steps passed, [1] steps failed (realm's own count) |
//! | [`IMM_REQUEST`] 3 | ask the host      | [0] request ([`REQUEST_MMIO_VALUE`], [`REQUEST_CHALLENGE`]); the host answers in gprs |
//! | [`IMM_TOKEN`] 4   | token in shared   | [0] Unprotected IPA of the copy (`UNPROTECTED_BASE + SHARED_OFFSET`), [1] length in bytes |
//! | [`IMM_ID_REGS`] 5 | ID registers      | [0] index of the first (`(CRm - 1) * 8 + op2`), [1..=7] [`ID_REGS_PER_CALL`] values as the realm read them |
//!
//! Requests:
//! - [`REQUEST_MMIO_VALUE`]: the host answers gprs[0] = the value it will return for the
//!   realm's next MMIO read; the realm checks that the read returns exactly it.
//! - [`REQUEST_CHALLENGE`]: the host answers gprs[0..8] = the 64-byte attestation challenge
//!   (doubleword 0 first, little-endian); the realm passes it to RSI_ATTESTATION_TOKEN_INIT
//!   and the host checks claim 10 of the realm token against it.
//!
//! Token hand-over: realm memory is protected, so the host cannot read the token buffer. The
//! realm copies the token (8-byte words, zero padded) into the shared Unprotected granules, which
//! the host mapped with RMI_RTT_MAP_UNPROTECTED onto Normal-world granules it reads directly,
//! then makes an [`IMM_TOKEN`] host call. A token longer than `SHARED_PAGES * 4096` bytes is not
//! copied: the realm reports [`Step::TokenShare`] as failed instead.
//!
//! # Step values (gprs[2..6])
//!
//! Unless a step says otherwise: [2] the RSI/PSCI result (x0), [3..6] its other outputs or the
//! expected value. Notably:
//! - [`Step::RimRead`]: [2..6] = RIM doublewords 0..3 (the whole SHA-256 RIM); the host
//!   compares them with the RIM it computed.
//! - [`Step::RemExtend`]: [2..6] = REM 1 doublewords 0..3 after one extension with
//!   [`EXTEND_VALUE`] (size [`EXTEND_SIZE`]) from zero; the host recomputes it.
//! - [`Step::Alive`]: sent by each secondary REC: [2] MPIDR_EL1, [3] context id.
//! - [`Step::AffinityOn`], [`Step::CpuOnRunning`]: REC 0's AFFINITY_INFO (ON) and CPU_ON
//!   (ALREADY_ON) of each secondary REC while it is alive and waits for REC 0: [2] result,
//!   [3] REC index, [4] 1 if the REC said it was alive.
//! - [`Step::CpuOnAgain`]: CPU_ON of REC 1 once it is off: [2] result, [3] 1. REC 1 then
//!   reports [`Step::Alive`] again, and REC 0 [`Step::AffinityOff`] for it again.
//! - [`Step::PsciFeatures`]: one per function: [2] the function ID, [3] the result.
//! - [`Step::CpuOn`], [`Step::AffinityOff`]: one per secondary REC: [2] result, [3] REC index.
//! - [`Step::Exception`] (always FAIL): [2] ESR_EL1, [3] ELR_EL1, [4] FAR_EL1, [5] vector offset.
//! - [`Step::VirtualTimer`], [`Step::PhysicalTimer`]: the realm arms the EL1 timer 1 ms ahead
//!   and polls ICC_IAR1_EL1; the timer's IRQ ends the realm's run, the host sees it asserted in
//!   RmiRecExit (RMM spec A6.2) and injects its PPI ([`VTIMER_INTID`], [`PTIMER_INTID`]) in a
//!   list register: [2] the INTID acknowledged, [3] CNTx_CTL_EL0 then (ENABLE | ISTATUS),
//!   [4] CNTx_CVAL_EL0, which the host compares with the exit's.
//!
//! - [`Step::SmcccVersion`]: [2] SMCCC_VERSION, [3] PSCI_FEATURES(SMCCC_VERSION); the host
//!   checks the version against the processor's SVE and SME (RMM spec B1.1).
//! - [`Step::SmcccArchFeatures`]: SMCCC_ARCH_FEATURES of [2] SMCCC_VERSION (0), [3]
//!   SMCCC_ARCH_WORKAROUND_1 and [4] SMCCC_ARCH_SOC_ID (both NOT_SUPPORTED).
//! - [`Step::SmcccUnknown`]: SMCs of no interface the RMM implements return NOT_SUPPORTED and
//!   leave x1..x17 as they were: [2] functions tried, [3] the first that misbehaved (or 0),
//!   [4] its x0.
//! - [`Step::SgiWrite`]: the realm writes [2] to ICC_SGI1R_EL1, [3] to ICC_ASGI1R_EL1, [4] to
//!   ICC_SGI0R_EL1; each is a REC exit due to a trapped MSR (RMI_EXIT_SYNC, EC 0x18) with the
//!   value in gprs[0], which the host checks, and the realm resumes after the instruction.
//! - [`Step::IdRegisters`]: after sending the whole ID register space in [`IMM_ID_REGS`] host
//!   calls: [2] the number sent; the host checks every field.
//! - [`Step::Mops`]: [2] ID_AA64ISAR2_EL1.MOPS; where it is advertised the realm copies and
//!   sets memory with the FEAT_MOPS instructions (UNDEFINED unless HCRX_EL2.MSCEn): [3] 1 if
//!   the bytes are right.
//! - [`Step::GicVmcr`]: the realm wrote [2] to ICC_PMR_EL1 with Group 1 enabled; the host finds
//!   them in the exit's gicv3_vmcr (VPMR, VENG1) and enters the REC next with
//!   ICH_HCR_EL2.UIE set. [`Step::GicMisr`]: the host finds ICH_MISR_EL2.U in that exit's
//!   gicv3_misr.
//!
//! - [`Step::SveMaxVl`] (a realm with SVE): the realm sets ZCR_EL1.LEN = 15: [2] the vector
//!   length it gets in bits (the host checks it is the realm's sve_vl), [3] 1 if every Z, P
//!   and FFR register read zero before the realm first wrote them, [4] the first byte of its
//!   registers that changed over a REC exit ([`REQUEST_NOTHING`]), or u64::MAX.
//!   [`Step::SveSmallerVl`]: the same at ZCR_EL1.LEN = 1 (256 bits): [2] the length, [3] as [4]
//!   above. [`Step::SveIsolation`] ([`MODE_SVE_PEER`]): two one-REC realms with different
//!   lengths run in turn on one CPU, each filling its registers with its own pattern and
//!   checking them after each of 4 exits: [2] the length, [3] zero at first, [4] as above.
//! - [`Step::PmuCounters`] (a realm with a PMU): [2] PMCR_EL0.N (the host checks its
//!   pmu_num_ctrs), [3] the cycle counter and [4] event counter 0 (CPU_CYCLES) over 1000
//!   loop iterations, [5] 1 if event
//!   counter 0 did not go back over a REC exit. [`Step::PmuOverflow`]: event counter 0
//!   overflows with its interrupt enabled; the REC exits due to IRQ with pmu_ovf_status
//!   ACTIVE, the host masks the PMU's physical PPI and injects [`PMU_INTID`]: [2] the INTID the
//!   realm acknowledged, [3] PMOVSSET_EL0 then, [4] PMOVSSET_EL0 after the realm cleared it.
//! - [`Step::DebugCounts`]: [2] breakpoints and [3] watchpoints the realm's ID register
//!   reports, [4] ESR_EL1 of its read of DBGBCR4_EL1 (UNDEFINED: it has four), [5]
//!   DBGBVR1_EL1 after a REC exit (the realm wrote a marker). [`Step::DebugBreakpoint`]:
//!   [2] ESR_EL1 (EC 0x31), [3] ELR_EL1, [4] the function the breakpoint was on.
//!   [`Step::DebugWatchpoint`]: [2] ESR_EL1 (EC 0x35), [3] FAR_EL1, [4] the watched word.
//!
//! After [`IMM_DONE`] the realm calls PSCI_SYSTEM_OFF (REC exit due to PSCI with that FID);
//! after an unexpected exception or a panic it reports the failure and does the same.
//!
//! # Perf modes
//!
//! REC 0 loops for ever on one exit: [`MODE_PERF`] RSI_HOST_CALL with `imm` [`IMM_PERF`];
//! [`MODE_PERF_FP`] the same after writing d0 (so the RMM's lazy FP/SIMD path switches FP state
//! on every round trip); [`MODE_PERF_SVE`] the same with z0 (the lazy SVE path, in a realm
//! with SVE); [`MODE_PERF_DEBUG`] empty host calls with a breakpoint set and MDSCR_EL1.MDE on
//! (the debug registers switched on every round trip); [`MODE_PERF_MMIO`] a store to the emulated MMIO register (the host
//! re-enters with RmiRecEnterFlags.emul_mmio); [`MODE_PERF_SGI`] a write to ICC_SGI1R_EL1,
//! forwarded to the host. Each exit carries in gprs[0] (the host call's,
//! or the stored value) how many counter ticks (CNTVCT_EL0) the realm itself spent between its
//! previous two exits, outside the timed `smc` or `str` and what it traps to (the FP trap).

/// IPA width the host gives the realm.
pub const IPA_WIDTH: u64 = 40;
/// First Unprotected IPA: the top bit of the IPA space.
pub const UNPROTECTED_BASE: u64 = 1 << (IPA_WIDTH - 1);
/// Offset of the emulated MMIO register from [`UNPROTECTED_BASE`].
pub const MMIO_OFFSET: u64 = 0x1000;
/// Offset of the shared granules from [`UNPROTECTED_BASE`].
pub const SHARED_OFFSET: u64 = 0x1_0000;
/// Number of shared granules.
pub const SHARED_PAGES: u64 = 2;

/// Top of the IPA range the host backs with DATA granules, from 0.
pub const RAM_TOP: u64 = 0x8_0000;
/// The range the realm sets to RIPAS EMPTY and back to RAM: RIPAS RAM at creation, no DATA.
pub const RIPAS_TEST_BASE: u64 = RAM_TOP;
/// End of [`RIPAS_TEST_BASE`]'s range.
pub const RIPAS_TEST_TOP: u64 = RAM_TOP + 0x2000;

/// Most RECs the payload has stacks and host-call pages for.
pub const MAX_RECS: u64 = 8;

/// x0 at REC 0's entry: run the test sequence.
pub const MODE_TEST: u64 = 0;
/// x0 at REC 0's entry: loop on empty host calls.
pub const MODE_PERF: u64 = 0x9E4F;
/// x0 at REC 0's entry: loop on a write to d0 and an empty host call.
pub const MODE_PERF_FP: u64 = 0x9E50;
/// x0 at REC 0's entry: loop on MMIO stores.
pub const MODE_PERF_MMIO: u64 = 0x9E51;
/// x0 at REC 0's entry: loop on ICC_SGI1R_EL1 writes.
pub const MODE_PERF_SGI: u64 = 0x9E52;
/// x0 at REC 0's entry: loop on a write to z0 (SVE) and an empty host call.
pub const MODE_PERF_SVE: u64 = 0x9E53;
/// x0 at REC 0's entry: loop on empty host calls with a breakpoint and MDSCR_EL1.MDE set.
pub const MODE_PERF_DEBUG: u64 = 0x9E54;
/// x0 at REC 0's entry: the SVE isolation mode (see [`Step::SveIsolation`]).
pub const MODE_SVE_PEER: u64 = 0x5E7E;

/// The EL1 virtual timer's PPI.
pub const VTIMER_INTID: u64 = 27;
/// The EL1 physical timer's PPI.
pub const PTIMER_INTID: u64 = 30;
/// The PMU's PPI (QEMU `virt`, Linux's device tree binding): the host injects it when a REC
/// exit shows pmu_ovf_status ACTIVE.
pub const PMU_INTID: u64 = 23;

/// Host call `imm`: perf loop, nothing to do.
pub const IMM_PERF: u16 = 0;
/// Host call `imm`: a step result.
pub const IMM_STEP: u16 = 1;
/// Host call `imm`: the sequence is over.
pub const IMM_DONE: u16 = 2;
/// Host call `imm`: a request the host answers in gprs.
pub const IMM_REQUEST: u16 = 3;
/// Host call `imm`: the attestation token is in the shared granules.
pub const IMM_TOKEN: u16 = 4;
/// Host call `imm`: [`ID_REGS_PER_CALL`] ID registers.
pub const IMM_ID_REGS: u16 = 5;
/// ID registers an [`IMM_ID_REGS`] host call carries (the host reads gprs 0..8 of an exit).
pub const ID_REGS_PER_CALL: usize = 7;

/// What the realm writes to ICC_SGI1R_EL1, ICC_ASGI1R_EL1 and ICC_SGI0R_EL1: SGI 5 to the
/// REC with Aff0 1, SGI 6 to Aff0 2, SGI 7 to all but self (IRM).
pub const SGI_WRITES: [u64; 3] = [5 << 24 | 1 << 1, 6 << 24 | 1 << 2, 7 << 24 | 1 << 40];
/// What the realm writes to ICC_PMR_EL1 before [`Step::GicVmcr`].
pub const GIC_PMR: u64 = 0xe8;

/// gprs[1] of a step: passed.
pub const PASS: u64 = 0;
/// gprs[1] of a step: failed.
pub const FAIL: u64 = 1;

/// Request: the value the host returns for the next MMIO read.
pub const REQUEST_MMIO_VALUE: u64 = 1;
/// Request: the attestation challenge, 8 doublewords.
pub const REQUEST_CHALLENGE: u64 = 2;
/// Request: nothing; the realm only wants a REC exit (its state must survive it).
pub const REQUEST_NOTHING: u64 = 3;

/// What the realm writes to the MMIO register.
pub const MMIO_WRITE_VALUE: u64 = 0x5ea1_3a10_c0de_0001;
/// The 32 bytes the realm extends REM 1 with (doublewords, little-endian), then zero padded.
pub const EXTEND_VALUE: [u64; 4] = [
    0x0706_0504_0302_0100,
    0x0f0e_0d0c_0b0a_0908,
    0x1716_1514_1312_1110,
    0x1f1e_1d1c_1b1a_1918,
];
/// Size in bytes of the REM extension.
pub const EXTEND_SIZE: u64 = 32;

/// A step of the sequence (gprs[0] of an [`IMM_STEP`] report).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Step {
    RsiVersion = 1,
    RsiFeatures = 2,
    RealmConfig = 3,
    RimRead = 4,
    RemExtend = 5,
    IpaStateGetRam = 6,
    IpaStateSetEmpty = 7,
    IpaStateGetEmpty = 8,
    IpaStateSetRam = 9,
    IpaStateGetRamAgain = 10,
    MmioWrite = 11,
    MmioRead = 12,
    TokenInit = 13,
    TokenContinue = 14,
    TokenShare = 15,
    PsciVersion = 16,
    PsciFeatures = 17,
    CpuOnSelf = 18,
    CpuOnBadMpidr = 19,
    CpuOn = 20,
    Alive = 21,
    AffinityOff = 22,
    CpuSuspend = 23,
    Exception = 24,
    Panic = 25,
    VirtualTimer = 26,
    PhysicalTimer = 27,
    AffinityOn = 28,
    CpuOnRunning = 29,
    CpuOnAgain = 30,
    SmcccVersion = 31,
    SmcccArchFeatures = 32,
    SmcccUnknown = 33,
    SgiWrite = 34,
    IdRegisters = 35,
    Mops = 36,
    GicVmcr = 37,
    GicMisr = 38,
    SveMaxVl = 39,
    SveSmallerVl = 40,
    SveIsolation = 41,
    PmuCounters = 42,
    PmuOverflow = 43,
    DebugCounts = 44,
    DebugBreakpoint = 45,
    DebugWatchpoint = 46,
}

impl Step {
    /// Every step, in id order.
    pub const ALL: [Step; 46] = [
        Step::RsiVersion,
        Step::RsiFeatures,
        Step::RealmConfig,
        Step::RimRead,
        Step::RemExtend,
        Step::IpaStateGetRam,
        Step::IpaStateSetEmpty,
        Step::IpaStateGetEmpty,
        Step::IpaStateSetRam,
        Step::IpaStateGetRamAgain,
        Step::MmioWrite,
        Step::MmioRead,
        Step::TokenInit,
        Step::TokenContinue,
        Step::TokenShare,
        Step::PsciVersion,
        Step::PsciFeatures,
        Step::CpuOnSelf,
        Step::CpuOnBadMpidr,
        Step::CpuOn,
        Step::Alive,
        Step::AffinityOff,
        Step::CpuSuspend,
        Step::Exception,
        Step::Panic,
        Step::VirtualTimer,
        Step::PhysicalTimer,
        Step::AffinityOn,
        Step::CpuOnRunning,
        Step::CpuOnAgain,
        Step::SmcccVersion,
        Step::SmcccArchFeatures,
        Step::SmcccUnknown,
        Step::SgiWrite,
        Step::IdRegisters,
        Step::Mops,
        Step::GicVmcr,
        Step::GicMisr,
        Step::SveMaxVl,
        Step::SveSmallerVl,
        Step::SveIsolation,
        Step::PmuCounters,
        Step::PmuOverflow,
        Step::DebugCounts,
        Step::DebugBreakpoint,
        Step::DebugWatchpoint,
    ];

    /// The step with id `id`.
    pub fn from_id(id: u64) -> Option<Step> {
        Self::ALL.iter().copied().find(|s| *s as u64 == id)
    }

    /// The name the host prints: `PASS realm/<name>`.
    pub const fn name(self) -> &'static str {
        match self {
            Step::RsiVersion => "rsi_version",
            Step::RsiFeatures => "rsi_features",
            Step::RealmConfig => "rsi_realm_config",
            Step::RimRead => "rsi_measurement_read_rim",
            Step::RemExtend => "rsi_measurement_extend",
            Step::IpaStateGetRam => "rsi_ipa_state_get_ram",
            Step::IpaStateSetEmpty => "rsi_ipa_state_set_empty",
            Step::IpaStateGetEmpty => "rsi_ipa_state_get_empty",
            Step::IpaStateSetRam => "rsi_ipa_state_set_ram",
            Step::IpaStateGetRamAgain => "rsi_ipa_state_get_ram_again",
            Step::MmioWrite => "mmio_write",
            Step::MmioRead => "mmio_read",
            Step::TokenInit => "rsi_attestation_token_init",
            Step::TokenContinue => "rsi_attestation_token_continue",
            Step::TokenShare => "attestation_token_share",
            Step::PsciVersion => "psci_version",
            Step::PsciFeatures => "psci_features",
            Step::CpuOnSelf => "psci_cpu_on_self",
            Step::CpuOnBadMpidr => "psci_cpu_on_bad_mpidr",
            Step::CpuOn => "psci_cpu_on",
            Step::Alive => "secondary_alive",
            Step::AffinityOff => "psci_affinity_info_off",
            Step::CpuSuspend => "psci_cpu_suspend",
            Step::Exception => "exception",
            Step::Panic => "panic",
            Step::VirtualTimer => "el1_virtual_timer",
            Step::PhysicalTimer => "el1_physical_timer",
            Step::AffinityOn => "psci_affinity_info_on",
            Step::CpuOnRunning => "psci_cpu_on_running",
            Step::CpuOnAgain => "psci_cpu_on_again",
            Step::SmcccVersion => "smccc_version",
            Step::SmcccArchFeatures => "smccc_arch_features",
            Step::SmcccUnknown => "smccc_unknown_function",
            Step::SgiWrite => "sgi_write_resumes",
            Step::IdRegisters => "id_regs_read",
            Step::Mops => "id_regs_mops_works",
            Step::GicVmcr => "gic_exit_vmcr",
            Step::GicMisr => "gic_exit_misr",
            Step::SveMaxVl => "sve_max_vl",
            Step::SveSmallerVl => "sve_smaller_vl",
            Step::SveIsolation => "sve_isolation",
            Step::PmuCounters => "pmu_counters",
            Step::PmuOverflow => "pmu_overflow_irq",
            Step::DebugCounts => "debug_counts_and_values",
            Step::DebugBreakpoint => "debug_breakpoint",
            Step::DebugWatchpoint => "debug_watchpoint",
        }
    }
}

// The layout fits: the RIPAS test range stays within the first MiB, and the MMIO page is
// below the shared pages.
const _: () = assert!(RIPAS_TEST_TOP <= 0x10_0000);
const _: () = assert!(MMIO_OFFSET + 0x1000 <= SHARED_OFFSET);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_ids_round_trip() {
        for (i, step) in Step::ALL.iter().enumerate() {
            assert_eq!(*step as u64, i as u64 + 1);
            assert_eq!(Step::from_id(*step as u64), Some(*step));
        }
        assert_eq!(Step::from_id(0), None);
    }
}
