//! What a REC runs with, and what stops it: the vCPU context the world switch loads and saves,
//! and the exception that returns control to the RMM (spec A4.1).

use super::timer::{TimerOutputs, Timers};

/// The realm's registers that REC entry loads and REC exit saves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VcpuContext {
    /// x0..x30.
    pub gprs: [u64; 31],
    /// Where the realm resumes (ELR_EL2).
    pub pc: u64,
    /// The realm's PSTATE (SPSR_EL2).
    pub pstate: u64,
    /// EL1 exception state the RMM uses to inject exceptions: VBAR_EL1, ELR_EL1, SPSR_EL1,
    /// ESR_EL1, FAR_EL1.
    pub el1: El1Exception,
    /// Whether WFI and WFE trap to the RMM on this entry (RmiRecEnterFlags trap_wfi/trap_wfe).
    pub trap_wfi: bool,
    /// See `trap_wfi`.
    pub trap_wfe: bool,
    /// GICv3 virtual CPU interface: ICH_HCR_EL2 and `ICH_LR<n>_EL2`.
    pub gic_hcr: u64,
    /// See `gic_hcr`.
    pub gic_lrs: [u64; 16],
    /// ICH_VMCR_EL2: the realm's virtual CPU interface controls, loaded on entry and saved at
    /// every trap (and reported on exit, A6.1).
    pub gic_vmcr: u64,
    /// ICH_MISR_EL2 when the realm's run ended, for the exit (A6.1).
    pub gic_misr: u64,
    /// The realm's EL1 timers: loaded on entry, saved at every trap (A6.2).
    pub timers: Timers,
    /// The timers whose hardware signal is masked while the realm runs: those asserted at the
    /// previous REC exit (A6.2).
    pub timer_mask: TimerOutputs,
    /// Whether the realm's PMU had an overflow interrupt asserted when its run ended
    /// (exit.pmu_ovf_status, A8.1): set by the platform for a realm with a PMU.
    pub pmu_overflow: bool,
}

impl VcpuContext {
    /// Moves the PC past the 4-byte instruction it points at (an SMC, a WFx, a system register
    /// access or an emulated load or store the RMM completed for the realm). The PC is a 64-bit
    /// value the realm controls; past an instruction at 2^64 - 4 it wraps to 0, as the
    /// architecture's own PC + 4 does (a fetch from there then faults, if it must, at the
    /// realm's stage 1, not in the RMM).
    pub fn step_over_instruction(&mut self) {
        self.pc = self.pc.wrapping_add(4);
    }

    /// Moves the PC back to the 4-byte instruction before it: the SMC to be executed again, or
    /// the HVC whose preferred return address is past it. Wraps as the architecture does: an
    /// HVC at 2^64 - 4 returns to 0, whose previous instruction is at 2^64 - 4.
    pub fn step_back_to_instruction(&mut self) {
        self.pc = self.pc.wrapping_sub(4);
    }
}

/// The EL1 registers involved in taking an exception to the realm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct El1Exception {
    /// VBAR_EL1.
    pub vbar: u64,
    /// ELR_EL1.
    pub elr: u64,
    /// SPSR_EL1.
    pub spsr: u64,
    /// ESR_EL1.
    pub esr: u64,
    /// FAR_EL1.
    pub far: u64,
}

/// The exception that brought control from the realm back to the RMM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RealmTrap {
    /// A synchronous exception taken to R-EL2, with its syndrome.
    Sync {
        /// ESR_EL2.
        esr: u64,
        /// FAR_EL2.
        far: u64,
        /// HPFAR_EL2.
        hpfar: u64,
    },
    /// A physical IRQ.
    Irq,
    /// A physical FIQ.
    Fiq,
    /// An SError, with ESR_EL2.
    SError {
        /// ESR_EL2.
        esr: u64,
    },
}

/// ESR_EL2 fields and exception classes (Arm ARM D24.2.40).
pub mod esr {
    /// EC: trapped WFI or WFE.
    pub const EC_WFX: u64 = 0x01;
    /// EC: HVC in AArch64 state.
    pub const EC_HVC64: u64 = 0x16;
    /// EC: SMC in AArch64 state.
    pub const EC_SMC64: u64 = 0x17;
    /// EC: trapped MSR, MRS or system instruction.
    pub const EC_SYSREG: u64 = 0x18;
    /// EC: instruction abort from a lower exception level.
    pub const EC_IABT_LOWER: u64 = 0x20;
    /// EC: data abort from a lower exception level.
    pub const EC_DABT_LOWER: u64 = 0x24;
    /// EC: data abort at the current exception level (an SEA the realm takes at EL1).
    pub const EC_DABT_CUR: u64 = 0x25;
    /// EC: unknown reason.
    pub const EC_UNKNOWN: u64 = 0x00;
    /// EC field.
    pub const EC_SHIFT: u32 = 26;
    /// The EC field's bits.
    pub const EC_MASK: u64 = 0x3f << EC_SHIFT;
    /// IL: 32-bit instruction.
    pub const IL: u64 = 1 << 25;
    /// Data abort ISS: ISV, the syndrome below is valid.
    pub const ISV: u64 = 1 << 24;
    /// Data abort ISS: SAS, access size (log2 bytes).
    pub const SAS_SHIFT: u32 = 22;
    /// Data abort ISS: SSE, sign extend.
    pub const SSE: u64 = 1 << 21;
    /// Data abort ISS: SRT, the transfer register.
    pub const SRT_SHIFT: u32 = 16;
    /// Data abort ISS: SF, 64-bit register.
    pub const SF: u64 = 1 << 15;
    /// Data abort ISS: FnV, FAR not valid.
    pub const FNV: u64 = 1 << 10;
    /// Abort ISS: EA, external abort.
    pub const EA: u64 = 1 << 9;
    /// Data abort ISS: WnR, write.
    pub const WNR: u64 = 1 << 6;
    /// Abort ISS: SET, synchronous error type (bits 12:11).
    pub const SET_MASK: u64 = 0x3 << 11;
    /// Abort ISS: the fault status code (DFSC / IFSC).
    pub const FSC_MASK: u64 = 0x3f;
    /// WFx ISS: TI, which instruction (bits 1:0).
    pub const TI_MASK: u64 = 0x3;
    /// FSC: synchronous external abort, not on a translation table walk.
    pub const FSC_SEA: u64 = 0x10;
    /// FSC: translation fault at level `level` (0..=3).
    pub const fn fsc_translation(level: u64) -> u64 {
        0x04 | level
    }
    /// FSC: translation fault at level -1 (FEAT_LPA2).
    pub const FSC_TRANSLATION_LEVEL_MINUS_1: u64 = 0x2b;
    /// FSC: translation fault at RTT level `level` (-1..=3).
    pub const fn fsc_translation_at(level: i8) -> u64 {
        if level < 0 {
            FSC_TRANSLATION_LEVEL_MINUS_1
        } else {
            fsc_translation((level & 3) as u64)
        }
    }

    /// The exception class of `esr`.
    pub const fn ec(esr: u64) -> u64 {
        (esr >> EC_SHIFT) & 0x3f
    }

    /// The syndrome of a stage-2 data abort at level 3 (a translation fault), as the hardware
    /// reports it: with a valid instruction syndrome when `isv` (a single load or store of
    /// `1 << sas` bytes to or from register `srt`).
    pub const fn data_abort(write: bool, isv: bool, sas: u64, srt: u64) -> u64 {
        let mut esr = EC_DABT_LOWER << EC_SHIFT | IL | fsc_translation(3);
        if isv {
            esr |= ISV | (sas & 3) << SAS_SHIFT | (srt & 31) << SRT_SHIFT | SF;
        }
        if write {
            esr |= WNR;
        }
        esr
    }
}

/// HPFAR_EL2 for a fault at `ipa`: FIPA, IPA bits 51:12 in bits 43:4 (47:12 in 39:4 below 2^48).
pub const fn hpfar(ipa: u64) -> u64 {
    (ipa >> 12) << 4
}

/// The IPA HPFAR_EL2 and FAR_EL2 describe.
pub const fn fault_ipa(hpfar: u64, far: u64) -> u64 {
    ((hpfar >> 4) << 12) | (far & 0xfff)
}
