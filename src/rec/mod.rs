//! Realm Execution Contexts: a REC's state, kept in its REC granule (spec A2.3).
//!
//! Who may touch a REC's contents: the CPU that has claimed the REC granule (REC_ENTER, for as
//! long as the realm runs and the exit is processed: [`crate::granule::LockedGranule::claim`]),
//! or the holder of its lock (REC_CREATE before publishing it, REC_DESTROY, REC_ENTER's checks,
//! and commands that complete a request the REC made). Claim and lock exclude each other, so
//! every access below is by one CPU at a time, ordered by the claim's and lock's Acquire and
//! Release.
//!
//! A claimed REC is runnable: REC_ENTER checks the flag under the lock it turns into the
//! claim, only the claimer turns it off and only a lock holder turns it on. Owner, MPIDR and
//! aux never change after REC_CREATE; besides the claimer and the lock holder, a CPU that has
//! pinned the REC while another runs it ([`crate::granule::Granule::lock_or_pin`]) may read
//! them. Nobody reads a REC it does not hold: the host could destroy and undelegate it in
//! between, and the read would be a Granule Protection Fault.
//!
//! The REC granule's memory, as 64-bit words:
//!
//! | words   | field                                                   |
//! |---------|---------------------------------------------------------|
//! | 0       | owner: PA of the realm's RD                             |
//! | 1       | flags: bit 0 runnable                                   |
//! | 2       | mpidr (RmiRecMpidr encoding)                            |
//! | 3       | pc                                                      |
//! | 4       | pstate (SPSR_EL2 the realm is entered with)             |
//! | 8..39   | gprs x0..x30                                            |
//! | 40      | emulatable_abort: the last exit was an emulatable abort |
//! | 41      | psci_pending                                            |
//! | 42      | host_call_pending                                       |
//! | 43..48  | ripas_addr, ripas_top, ripas_value, ripas_destroyed,    |
//! |         | ripas_response                                          |
//! | 48      | num_aux                                                 |
//! | 49..65  | aux\[16\]                                               |
//! | 72..75  | last exit's ESR, FAR, HPFAR (unsanitised)               |
//! | 80..85  | VBAR_EL1, ELR_EL1, SPSR_EL1, ESR_EL1, FAR_EL1           |
//! | 88      | host_call_addr: IPA of the pending RsiHostCall          |
//! | 89      | attest_failed: the token generation begun cannot finish |
//! | 90..93  | CNTV_CTL, CNTV_CVAL, CNTP_CTL, CNTP_CVAL at the last exit |
//! | 94      | ICH_VMCR_EL2 at the last exit (the realm's virtual CPU interface) |
//! | 256..   | the platform's own per-REC state ([`PLATFORM_WORDS`])   |

pub mod debug;
mod exit;
pub mod id_registers;
mod stage2;
pub mod sysreg;
pub mod timer;
mod vcpu;

pub use exit::{
    complete_mmio, handle, host_injected_sea, inject, protected_abort, ExitKind, Handled,
    SMCCC_NOT_SUPPORTED,
};
pub use id_registers::IdRegisters;
pub use stage2::{protected_access, ProtectedAccess, Stage2};
pub use timer::{TimerOutputs, Timers};
pub use vcpu::{esr, fault_ipa, hpfar, El1Exception, RealmTrap, VcpuContext};

use crate::platform::GranuleMemory;
use crate::sync::Ordering;

/// Number of auxiliary granules every REC takes (RMI_REC_AUX_COUNT, B3.36 RecAuxCount): FP/SIMD
/// state, attestation scratch, and the CCA token buffer (two). A REC of a realm with SVE takes
/// [`SVE_AUX_COUNT`] more ([`aux_count`]).
pub const REC_AUX_COUNT: usize = 4;
/// Auxiliary granules a REC of a realm with SVE (A3.1.3) takes beyond [`REC_AUX_COUNT`]: aux\[4\]
/// holds Z0-Z15 and aux\[5\] Z16-Z31 at up to 2048 bits (16 × 256 bytes each); P0-P15, FFR and
/// ZCR_EL1 go in aux\[0\] after the FP/SIMD control registers.
pub const SVE_AUX_COUNT: usize = 2;

/// RecAuxCount (B3.36) for a realm with `features`: the same for every REC of the realm, for
/// the realm's whole life (the features are fixed by REALM_CREATE).
pub const fn aux_count(features: &crate::realm::RealmFeatures) -> usize {
    if features.sve_vl.is_some() {
        REC_AUX_COUNT + SVE_AUX_COUNT
    } else {
        REC_AUX_COUNT
    }
}
const _: () = assert!(REC_AUX_COUNT + SVE_AUX_COUNT <= MAX_AUX);
/// Most auxiliary granules a REC can have (B3.36).
pub const MAX_AUX: usize = 16;
/// Most RECs a realm can have: 2^MAX_RECS_ORDER - 1 (RMI_FEATURES).
pub const MAX_RECS: u64 = (1 << crate::rmi::MAX_RECS_ORDER) - 1;

/// PSTATE a REC starts with: EL1h with D, A, I and F masked (A2.1.2.1: reset state).
pub const RESET_PSTATE: u64 = 0x3c5;

const OWNER: usize = 0;
const FLAGS: usize = 1;
const MPIDR: usize = 2;
const PC: usize = 3;
const PSTATE: usize = 4;
const GPRS: usize = 8;
const EMULATABLE_ABORT: usize = 40;
const PSCI_PENDING: usize = 41;
const HOST_CALL_PENDING: usize = 42;
const RIPAS_ADDR: usize = 43;
const RIPAS_TOP: usize = 44;
const RIPAS_VALUE: usize = 45;
const RIPAS_DESTROYED: usize = 46;
const NUM_AUX: usize = 48;
const AUX: usize = 49;
const LAST_ESR: usize = 72;
const EL1: usize = 80;
const HOST_CALL_ADDR: usize = 88;
const ATTEST_FAILED: usize = 89;
const TIMERS: usize = 90;
const GIC_VMCR: usize = 94;

/// Words of the REC granule the platform keeps its own per-REC state in (on aarch64: the
/// realm's EL1 system registers, timers and GIC state between runs). Zero at REC_CREATE, as
/// every DELEGATED granule is; the core never touches them.
pub const PLATFORM_WORDS: core::ops::Range<usize> = 256..512;

/// Number of general-purpose registers saved: x0..x30.
pub const NUM_GPRS: usize = 31;

const RUNNABLE: u64 = 1;

/// A view of a REC granule's memory; the caller has claimed or locked the REC.
#[derive(Clone, Copy)]
pub struct Rec<'a> {
    mem: &'a GranuleMemory,
}

/// A RIPAS change the realm requested (RmmRec ripas_* attributes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RipasChange {
    /// Next address to be processed.
    pub addr: u64,
    /// Top of the requested region.
    pub top: u64,
    /// Requested RIPAS (RmiRipas encoding).
    pub value: u8,
    /// Whether entries whose RIPAS is DESTROYED may change (RsiRipasChangeFlags).
    pub change_destroyed: bool,
}

/// What REC_CREATE sets up.
pub struct RecInit<'a> {
    /// PA of the owning realm's RD.
    pub owner: u64,
    /// Whether the REC is runnable.
    pub runnable: bool,
    /// MPIDR (RmiRecMpidr encoding).
    pub mpidr: u64,
    /// Initial PC.
    pub pc: u64,
    /// Initial x0..x7; the other registers start at zero.
    pub gprs: &'a [u64; 8],
    /// The auxiliary granules.
    pub aux: &'a [u64],
}

impl<'a> Rec<'a> {
    /// The REC in `mem`.
    pub fn new(mem: &'a GranuleMemory) -> Self {
        Self { mem }
    }

    /// Word `word` (a constant of the layout above, so always in the granule; one past it
    /// would read as zero).
    fn get(&self, word: usize) -> u64 {
        // Relaxed: ordered by the claim or lock the caller holds (module doc).
        self.mem.get(word).map_or(0, |w| w.load(Ordering::Relaxed))
    }

    /// Sets word `word` (as in `get`: one past the granule would be ignored).
    fn set(&self, word: usize, value: u64) {
        if let Some(w) = self.mem.get(word) {
            // Relaxed, as in `get`.
            w.store(value, Ordering::Relaxed)
        }
    }

    /// Word `i` of the array at word `base`.
    fn get_at(&self, base: usize, i: usize) -> u64 {
        base.checked_add(i).map_or(0, |word| self.get(word))
    }

    /// Sets word `i` of the array at word `base`.
    fn set_at(&self, base: usize, i: usize, value: u64) {
        if let Some(word) = base.checked_add(i) {
            self.set(word, value)
        }
    }

    /// Fills a zeroed granule as a new REC (REC_CREATE success conditions, B4.3.12.3).
    pub fn init(&self, init: &RecInit) {
        self.set(OWNER, init.owner);
        self.set(FLAGS, if init.runnable { RUNNABLE } else { 0 });
        self.set(MPIDR, init.mpidr);
        self.set(PC, init.pc);
        self.set(PSTATE, RESET_PSTATE);
        for (i, &value) in init.gprs.iter().enumerate() {
            self.set_at(GPRS, i, value);
        }
        self.set(NUM_AUX, init.aux.len() as u64);
        for (i, &pa) in init.aux.iter().enumerate().take(MAX_AUX) {
            self.set_at(AUX, i, pa);
        }
    }

    /// PA of the owning realm's RD.
    pub fn owner(&self) -> u64 {
        self.get(OWNER)
    }

    /// Whether the REC is runnable (RmmRecFlags).
    pub fn runnable(&self) -> bool {
        self.get(FLAGS) & RUNNABLE != 0
    }

    /// Sets whether the REC is runnable (PSCI CPU_ON, CPU_OFF).
    pub fn set_runnable(&self, runnable: bool) {
        self.set(FLAGS, if runnable { RUNNABLE } else { 0 });
    }

    /// The REC's MPIDR (RmiRecMpidr encoding).
    pub fn mpidr(&self) -> u64 {
        self.get(MPIDR)
    }

    /// The PC the REC resumes at.
    pub fn pc(&self) -> u64 {
        self.get(PC)
    }

    /// Sets the PC.
    pub fn set_pc(&self, pc: u64) {
        self.set(PC, pc)
    }

    /// The PSTATE the REC resumes with.
    pub fn pstate(&self) -> u64 {
        self.get(PSTATE)
    }

    /// Sets the PSTATE.
    pub fn set_pstate(&self, pstate: u64) {
        self.set(PSTATE, pstate)
    }

    /// Register x`n` (0..=30).
    pub fn gpr(&self, n: usize) -> u64 {
        self.get_at(GPRS, n.min(NUM_GPRS - 1))
    }

    /// Sets register x`n` (0..=30).
    pub fn set_gpr(&self, n: usize, value: u64) {
        self.set_at(GPRS, n.min(NUM_GPRS - 1), value)
    }

    /// Whether the last exit was an emulatable data abort (RmmRecEmulatableAbort).
    pub fn emulatable_abort(&self) -> bool {
        self.get(EMULATABLE_ABORT) != 0
    }

    /// Records whether the last exit was an emulatable data abort.
    pub fn set_emulatable_abort(&self, value: bool) {
        self.set(EMULATABLE_ABORT, value.into())
    }

    /// Whether a PSCI request is pending (RmmPsciPending).
    pub fn psci_pending(&self) -> bool {
        self.get(PSCI_PENDING) != 0
    }

    /// Records whether a PSCI request is pending.
    pub fn set_psci_pending(&self, value: bool) {
        self.set(PSCI_PENDING, value.into())
    }

    /// Whether a host call is pending (RmmHostCallPending).
    pub fn host_call_pending(&self) -> bool {
        self.get(HOST_CALL_PENDING) != 0
    }

    /// Records whether a host call is pending.
    pub fn set_host_call_pending(&self, value: bool) {
        self.set(HOST_CALL_PENDING, value.into())
    }

    /// The IPA of the RsiHostCall of the pending host call (A4.2.2).
    pub fn host_call_addr(&self) -> u64 {
        self.get(HOST_CALL_ADDR)
    }

    /// Records a host call pending on the RsiHostCall at `addr` (A4.3.9).
    pub fn set_host_call(&self, addr: u64) {
        self.set(HOST_CALL_ADDR, addr);
        self.set_host_call_pending(true);
    }

    /// Whether the attestation token generation in progress has failed already: begun by
    /// RSI_ATTESTATION_TOKEN_INIT without a token to make (no attestation identity, or a token
    /// too large), it ends with RSI_ERROR_UNKNOWN at the next CONTINUE (B5.3.1 `unknown`). The
    /// operations that can finish are saved in the attestation scratch granule
    /// ([`crate::attestation`]).
    pub fn attest_failed(&self) -> bool {
        self.get(ATTEST_FAILED) != 0
    }

    /// Records whether the token generation in progress has failed.
    pub fn set_attest_failed(&self, value: bool) {
        self.set(ATTEST_FAILED, value.into())
    }

    /// The pending RIPAS change (A4.3.8): next address, top, value, and whether DESTROYED
    /// entries may change. All zero when none is pending.
    pub fn ripas_change(&self) -> RipasChange {
        RipasChange {
            addr: self.get(RIPAS_ADDR),
            top: self.get(RIPAS_TOP),
            value: self.get(RIPAS_VALUE) as u8,
            change_destroyed: self.get(RIPAS_DESTROYED) != 0,
        }
    }

    /// Records the pending RIPAS change.
    pub fn set_ripas_change(&self, change: &RipasChange) {
        self.set(RIPAS_ADDR, change.addr);
        self.set(RIPAS_TOP, change.top);
        self.set(RIPAS_VALUE, change.value.into());
        self.set(RIPAS_DESTROYED, change.change_destroyed.into());
    }

    /// Advances the pending RIPAS change to `addr` (RMI_RTT_SET_RIPAS).
    pub fn set_ripas_addr(&self, addr: u64) {
        self.set(RIPAS_ADDR, addr)
    }

    /// The auxiliary granules' PAs.
    pub fn aux(&self) -> impl Iterator<Item = u64> + '_ {
        let count = (self.get(NUM_AUX) as usize).min(MAX_AUX);
        (0..count).map(move |i| self.get_at(AUX, i))
    }

    /// The registers the realm resumes with (REC entry, A4.2.2).
    pub fn load(&self) -> VcpuContext {
        let mut vcpu = VcpuContext {
            pc: self.pc(),
            pstate: self.pstate(),
            ..Default::default()
        };
        for (n, gpr) in vcpu.gprs.iter_mut().enumerate() {
            *gpr = self.gpr(n);
        }
        let el1 = [EL1, EL1 + 1, EL1 + 2, EL1 + 3, EL1 + 4].map(|w| self.get(w));
        let [vbar, elr, spsr, esr, far] = el1;
        vcpu.el1 = El1Exception {
            vbar,
            elr,
            spsr,
            esr,
            far,
        };
        let [cntv_ctl, cntv_cval, cntp_ctl, cntp_cval] = [0, 1, 2, 3].map(|i| self.get_at(TIMERS, i));
        vcpu.timers = Timers {
            cntv_ctl,
            cntv_cval,
            cntp_ctl,
            cntp_cval,
        };
        vcpu.gic_vmcr = self.get(GIC_VMCR);
        vcpu
    }

    /// Saves the registers the realm left (REC exit, A4.3.3).
    pub fn save(&self, vcpu: &VcpuContext) {
        self.set_pc(vcpu.pc);
        self.set_pstate(vcpu.pstate);
        for (n, &gpr) in vcpu.gprs.iter().enumerate() {
            self.set_gpr(n, gpr);
        }
        let e = vcpu.el1;
        for (i, value) in [e.vbar, e.elr, e.spsr, e.esr, e.far]
            .into_iter()
            .enumerate()
        {
            self.set_at(EL1, i, value);
        }
        let t = vcpu.timers;
        for (i, value) in [t.cntv_ctl, t.cntv_cval, t.cntp_ctl, t.cntp_cval]
            .into_iter()
            .enumerate()
        {
            self.set_at(TIMERS, i, value);
        }
        self.set(GIC_VMCR, vcpu.gic_vmcr);
    }

    /// The last exit's syndrome: ESR_EL2, FAR_EL2, HPFAR_EL2, as taken.
    pub fn last_exit(&self) -> [u64; 3] {
        [
            self.get(LAST_ESR),
            self.get(LAST_ESR + 1),
            self.get(LAST_ESR + 2),
        ]
    }

    /// Records the last exit's syndrome.
    pub fn set_last_exit(&self, syndrome: [u64; 3]) {
        for (i, value) in syndrome.into_iter().enumerate() {
            self.set_at(LAST_ESR, i, value);
        }
    }
}
