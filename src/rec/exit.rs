//! What the RMM does with the exception that ended a realm's run: handle it and resume the
//! realm, or exit to the host with the syndrome the spec lets it see (spec A4.3).

use super::stage2::{protected_access, ProtectedAccess, Stage2};
use super::vcpu::{esr, fault_ipa, RealmTrap, VcpuContext};
use super::{Rec, RipasChange};
use crate::platform::Platform;
use crate::rmi::params::{RecExit, RecExitReason};
use crate::rsi;
use crate::rtt::Level;
use crate::{psci, smccc, trace};

/// SMCCC NOT_SUPPORTED, for a realm SMC outside PSCI and RSI (A4.3.4).
pub const SMCCC_NOT_SUPPORTED: u64 = -1i64 as u64;
/// SMCCC 1.3 SVE hint in a function ID (bit 16).
const SMCCC_SVE_HINT: u64 = 1 << 16;
/// ESR_EL2 fields of an SError the host sees (A4.3.10): EC, ISS.IDS (24), ISS.AET (12:10),
/// ISS.EA (9), ISS.DFSC (5:0).
const SERROR_EXIT_BITS: u64 = 0x3f << esr::EC_SHIFT | 1 << 24 | 0x7 << 10 | esr::EA | 0x3f;
/// VBAR_EL1 bits 10:0: RES0, not part of the vector table's address.
const VBAR_RES0: u64 = 0x7ff;
/// PSTATE for an exception taken to the realm's EL1: EL1h, D, A, I, F masked.
const EL1H_MASKED: u64 = 0x3c5;

/// The outcome of one realm trap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    /// Resume the realm.
    Resume,
    /// Return to the host with the exit written to `out`.
    Exit(ExitKind),
}

/// What an exit leaves pending in the REC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// Nothing.
    Plain,
    /// An Emulatable Data Abort (rec.emulatable_abort).
    EmulatableAbort,
    /// A PSCI request naming another REC, for RMI_PSCI_COMPLETE (rec.psci_pending).
    PsciRequest,
    /// A RIPAS change request, for RMI_RTT_SET_RIPAS.
    RipasChange(RipasChange),
    /// A host call on the RsiHostCall at this IPA (rec.host_call_pending, A4.3.9).
    HostCall(u64),
    /// PSCI_CPU_OFF: the REC is no longer runnable (B6.3.2).
    CpuOff,
    /// A Data Abort the RMM met at a Protected IPA on the realm's behalf
    /// ([`protected_abort`]): the exit's syndrome stands for the last exit's.
    ProtectedAbort,
}

/// Writes `exit` for the host, with nothing pending.
fn exit(out: &mut RecExit, exit: RecExit) -> Handled {
    *out = exit;
    Handled::Exit(ExitKind::Plain)
}

/// Takes a synchronous exception to the realm's EL1 with syndrome `esr` (and FAR `far`), as
/// the hardware would: ELR_EL1 and SPSR_EL1 hold the interrupted context, PC the vector.
pub fn inject(vcpu: &mut VcpuContext, esr: u64, far: u64) {
    // From EL1 (M[3:2] == 1) the current-EL SPx vector at +0x200; from EL0 the lower-EL
    // AArch64 vector at +0x400.
    let from_el1 = (vcpu.pstate >> 2) & 3 == 1;
    vcpu.el1.elr = vcpu.pc;
    vcpu.el1.spsr = vcpu.pstate;
    vcpu.el1.esr = esr;
    vcpu.el1.far = far;
    let offset = if from_el1 { 0x200 } else { 0x400 };
    // The architecture branches to VBAR_EL1[63:11]:offset[10:0] (AArch64.TakeException): bits
    // 10:0 of VBAR_EL1 are RES0 and may read back as the realm wrote them, and the vector never
    // wraps past 2^64.
    vcpu.pc = (vcpu.el1.vbar & !VBAR_RES0) | offset;
    vcpu.pstate = EL1H_MASKED;
}

/// An SEA for the faulting data or instruction access (A5.2.7: ESR_EL1.EA set).
fn inject_sea(vcpu: &mut VcpuContext, trap_esr: u64, far: u64) {
    let from_el0 = (vcpu.pstate >> 2) & 3 == 0;
    // Taken from EL0 the class is the lower-EL one.
    let ec = match (esr::ec(trap_esr), from_el0) {
        (esr::EC_IABT_LOWER, true) => esr::EC_IABT_LOWER,
        (esr::EC_IABT_LOWER, false) => 0x21, // instruction abort, current EL
        (_, true) => esr::EC_DABT_LOWER,
        (_, false) => esr::EC_DABT_CUR,
    };
    inject(
        vcpu,
        ec << esr::EC_SHIFT | esr::IL | esr::EA | esr::FSC_SEA,
        far,
    );
}

/// Decides what a trap from the realm leads to (A4.3.4 to A4.3.10), updating `vcpu` when the
/// realm resumes.
pub fn handle<P: Platform>(
    trap: RealmTrap,
    vcpu: &mut VcpuContext,
    stage2: &Stage2<'_, P>,
    rec: Rec<'_>,
    out: &mut RecExit,
) -> Handled {
    let (trap_esr, far, hpfar) = match trap {
        RealmTrap::Sync { esr, far, hpfar } => (esr, far, hpfar),
        RealmTrap::Irq => return exit(out, RecExit::new(RecExitReason::Irq)),
        RealmTrap::Fiq => return exit(out, RecExit::new(RecExitReason::Fiq)),
        RealmTrap::SError { esr } => {
            let mut e = RecExit::new(RecExitReason::Serror);
            e.esr = esr & SERROR_EXIT_BITS;
            return exit(out, e);
        }
    };
    let ec = esr::ec(trap_esr);
    let ec_bits = ec << esr::EC_SHIFT;
    match ec {
        esr::EC_WFX => {
            // A4.3.4.1: TI bit 0 is WFE. Untrapped, the instruction completes.
            let wfe = trap_esr & 1 != 0;
            vcpu.step_over_instruction();
            if (wfe && vcpu.trap_wfe) || (!wfe && vcpu.trap_wfi) {
                let mut e = RecExit::new(RecExitReason::Sync);
                e.esr = ec_bits | (trap_esr & esr::TI_MASK);
                // WFIT and WFET (TI bit 1): the timeout, from the register in ISS.RN (9:5).
                if trap_esr & 2 != 0 {
                    let rn = ((trap_esr >> 5) & 31) as usize;
                    e.gprs[0] = vcpu.gprs.get(rn).copied().unwrap_or(0); // 31: XZR
                }
                return exit(out, e);
            }
            Handled::Resume
        }
        esr::EC_HVC64 => {
            // A4.5: an Unknown exception at the HVC (ELR_EL2 is past it).
            vcpu.step_back_to_instruction();
            inject(vcpu, esr::EC_UNKNOWN << esr::EC_SHIFT | esr::IL, 0);
            Handled::Resume
        }
        esr::EC_SMC64 => smc(vcpu, stage2, rec, out),
        esr::EC_SYSREG => super::sysreg::handle(stage2.rmm().platform(), trap_esr, vcpu, rec, out),
        esr::EC_IABT_LOWER | esr::EC_DABT_LOWER => abort(trap_esr, far, hpfar, vcpu, stage2, out),
        _ => {
            inject(vcpu, esr::EC_UNKNOWN << esr::EC_SHIFT | esr::IL, 0);
            Handled::Resume
        }
    }
}

/// An SMC from the realm: PSCI (B6) or RSI (B5); anything else NOT_SUPPORTED (A4.3.4). The
/// PC moves past the SMC first; a handler that wants the call made again moves it back. Traced
/// where the platform asks ([`crate::trace`]).
fn smc<P: Platform>(
    vcpu: &mut VcpuContext,
    stage2: &Stage2<'_, P>,
    rec: Rec<'_>,
    out: &mut RecExit,
) -> Handled {
    // SMCCC: the function ID is W0; bit 16 is the SVE hint (SMCCC 1.3), which changes nothing.
    let fid = vcpu.gprs[0] & u64::from(u32::MAX) & !SMCCC_SVE_HINT;
    vcpu.step_over_instruction();
    let platform = stage2.rmm().platform();
    if !trace::enabled(platform) {
        return realm_call(fid, vcpu, stage2, rec, out);
    }
    let regs = vcpu.gprs;
    let handled = realm_call(fid, vcpu, stage2, rec, out);
    trace::realm(platform, stage2.cpu(), fid, &regs, &vcpu.gprs, handled);
    handled
}

/// Runs the realm's call `fid`: PSCI, RSI, or NOT_SUPPORTED.
fn realm_call<P: Platform>(
    fid: u64,
    vcpu: &mut VcpuContext,
    stage2: &Stage2<'_, P>,
    rec: Rec<'_>,
    out: &mut RecExit,
) -> Handled {
    if let Some(handled) = psci::handle(fid, vcpu, stage2, out) {
        return handled;
    }
    if let Some(handled) = smccc::handle(fid, vcpu, stage2.rmm().platform().id_registers()) {
        return handled;
    }
    if let Some(handled) = rsi::handle(fid, vcpu, stage2, rec, out) {
        return handled;
    }
    vcpu.gprs[0] = SMCCC_NOT_SUPPORTED;
    Handled::Resume
}

/// A REC exit due to Data Abort at the Protected IPA `ipa` that the RMM met on the realm's
/// behalf (an RSI command's memory operand, or the RsiHostCall on entry, A4.2.2): a stage-2
/// translation fault at the level where the walk stopped, as the hardware would report a
/// realm access there (A4.3.4.3: EC, DFSC, HPFAR; FAR zero). The host maps the IPA and enters
/// the REC again.
pub fn protected_abort(out: &mut RecExit, ipa: u64, level: Level) -> Handled {
    let mut e = RecExit::new(RecExitReason::Sync);
    e.esr = esr::EC_DABT_LOWER << esr::EC_SHIFT | esr::fsc_translation_at(level.get());
    e.hpfar = super::vcpu::hpfar(ipa);
    *out = e;
    Handled::Exit(ExitKind::ProtectedAbort)
}

/// A stage-2 abort (A4.3.4.2, A4.3.4.3, A5.2.9).
fn abort<P: Platform>(
    trap_esr: u64,
    far: u64,
    hpfar: u64,
    vcpu: &mut VcpuContext,
    stage2: &Stage2<'_, P>,
    out: &mut RecExit,
) -> Handled {
    let ipa = fault_ipa(hpfar, far);
    let ec = esr::ec(trap_esr);
    let instruction = ec == esr::EC_IABT_LOWER;
    let Some(entry) = stage2.entry(ipa) else {
        // Outside the IPA space: the hardware reports that at stage 1; nothing to exit for.
        inject_sea(vcpu, trap_esr, far);
        return Handled::Resume;
    };
    let common = ec << esr::EC_SHIFT | trap_esr & (esr::SET_MASK | esr::EA | esr::FSC_MASK);
    if stage2.is_protected(ipa) {
        match protected_access(entry) {
            ProtectedAccess::Sea => {
                inject_sea(vcpu, trap_esr, far);
                Handled::Resume
            }
            ProtectedAccess::Retry => Handled::Resume,
            ProtectedAccess::Exit => {
                let mut e = RecExit::new(RecExitReason::Sync);
                e.esr = common | if instruction { 0 } else { trap_esr & esr::FNV };
                e.hpfar = hpfar;
                exit(out, e)
            }
        }
    } else if instruction {
        // A5.2.6: instruction fetch from an Unprotected IPA.
        inject_sea(vcpu, trap_esr, far);
        Handled::Resume
    } else if entry.is_hw_valid()
        && (trap_esr & esr::FSC_MASK < 0x0c
            || trap_esr & esr::FSC_MASK == esr::FSC_TRANSLATION_LEVEL_MINUS_1)
    {
        // A translation fault on a valid mapping raced its creation: retry.
        Handled::Resume
    } else {
        let mut e = RecExit::new(RecExitReason::Sync);
        e.hpfar = hpfar;
        e.esr = common | trap_esr & esr::FNV;
        let emulatable = trap_esr & esr::ISV != 0;
        if emulatable {
            // A4.3.4.3: ISV, SAS, SF, WnR (not SSE); FAR within the granule; a write's data.
            let sas_sf_wnr = 0x3 << esr::SAS_SHIFT | esr::SF | esr::WNR;
            e.esr |= trap_esr & (esr::ISV | sas_sf_wnr);
            e.far = far & 0xfff;
            if trap_esr & esr::WNR != 0 {
                let srt = ((trap_esr >> esr::SRT_SHIFT) & 31) as usize;
                e.gprs[0] = vcpu.gprs.get(srt).copied().unwrap_or(0); // 31: XZR
            }
        } else {
            e.esr |= trap_esr & esr::IL;
        }
        *out = e;
        Handled::Exit(if emulatable {
            ExitKind::EmulatableAbort
        } else {
            ExitKind::Plain
        })
    }
}

/// Completes an emulated MMIO read on REC entry (A4.2.3): the host's value, sign- or
/// zero-extended as the faulting load asked, lands in its register; the realm resumes after it.
pub fn complete_mmio(vcpu: &mut VcpuContext, last_esr: u64, value: u64) {
    if last_esr & esr::WNR == 0 {
        let srt = ((last_esr >> esr::SRT_SHIFT) & 31) as usize;
        // The access size (SAS: 8 to 64 bits) as a mask, and its sign bit (none at 64).
        let (mask, sign) = match (last_esr >> esr::SAS_SHIFT) & 3 {
            0 => (0xff, 1 << 7),
            1 => (0xffff, 1 << 15),
            2 => (0xffff_ffff, 1 << 31),
            _ => (u64::MAX, 0),
        };
        let mut v = value & mask;
        if last_esr & esr::SSE != 0 && v & sign != 0 {
            v |= !mask;
        }
        if last_esr & esr::SF == 0 {
            v &= u64::from(u32::MAX);
        }
        if let Some(gpr) = vcpu.gprs.get_mut(srt) {
            *gpr = v; // 31: XZR
        }
    }
    vcpu.step_over_instruction();
}

/// Injects the SEA the host asked for after a Data Abort at an Unprotected IPA (A4.2.3).
pub fn host_injected_sea(vcpu: &mut VcpuContext, last_esr: u64, last_far: u64) {
    inject_sea(vcpu, last_esr, last_far);
}
