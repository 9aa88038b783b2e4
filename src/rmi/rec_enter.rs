//! RMI_REC_ENTER (spec B4.3.14): run a REC until it exits to the host (spec A4).

use super::params::{
    EmulatedMmio, InjectSea, PmuOverflowStatus, RecEnter, RecExit, RecExitReason, RmiResponse,
    Trap, REC_EXIT_OFFSET,
};
use super::{granule_at, tree_of, RmiError};
use crate::granule::GranuleState;
use crate::platform::{NsAccessFault, Platform};
use crate::realm::{Rd, RealmState};
use crate::rec::{
    complete_mmio, esr, fault_ipa, handle, host_injected_sea, protected_abort, ExitKind, Handled,
    RealmTrap, Rec, RipasChange, Stage2,
};
use crate::rsi;
use crate::rtt::Ripas;
use crate::Rmm;

/// ICH_HCR_EL2 fields the host controls (A6.1): UIE, LRENPIE, NPIE, VGrp0EIE, VGrp0DIE,
/// VGrp1EIE, VGrp1DIE (bits 7:1) and TDIR (bit 14). Any other bit set fails the entry.
const GICV3_HCR_HOST_BITS: u64 = 0xfe | 1 << 14;
/// ICH_HCR_EL2 fields reported on exit (A6.1): the host-controlled ones and EOIcount (31:27).
const GICV3_HCR_EXIT_BITS: u64 = GICV3_HCR_HOST_BITS | 0x1f << 27;
/// ICH_LR<n>_EL2 bits that must be zero: HW (bit 61, A6.1), RES0 bits 59:56 and 47:45, and
/// with HW == 0 pINTID bits 44:42 and 40:32 (only bit 41, EOI, has a meaning).
const GICV3_LR_ZERO_BITS: u64 = 1 << 61 | 0xf << 56 | 0x7 << 45 | 0x7 << 42 | 0x1ff << 32;

/// Gicv3ConfigIsValid (B3.18) for a PE with `lrs` list registers.
fn gicv3_config_is_valid(enter: &RecEnter, lrs: usize) -> bool {
    enter.gicv3_hcr & !GICV3_HCR_HOST_BITS == 0
        && (enter.gicv3_lrs.iter().take(lrs)).all(|lr| lr & GICV3_LR_ZERO_BITS == 0)
}

/// RMI_REC_ENTER: x1 rec, x2 run_ptr. Runs the REC on this CPU until an exit the host must
/// see, which it then finds in RmiRecRun.exit.
///
/// Failure conditions: `run_align`, `run_bound`, `run_pas`, `rec_align`, `rec_bound`,
/// `rec_gran_state` (RMI_ERROR_INPUT), then `realm_new` (RMI_ERROR_REALM, 0), `system_off`
/// (RMI_ERROR_REALM, 1), `rec_state` (running), `rec_runnable`, `rec_mmio` (emulated MMIO
/// completion without an emulatable abort), `rec_gicv3`, `rec_psci` (RMI_ERROR_REC). After
/// the realm has run, an exit that cannot be written to RmiRecRun fails the command with
/// RMI_ERROR_INPUT (A4.3.3), and the REC is left as [`unreported`] says.
///
/// The REC is locked for the checks, claimed (from the lock, one CAS) for the whole run and
/// released with one RMW: no lock is held while the realm runs, and a second REC_ENTER or a
/// REC_DESTROY naming it fails at once (PSCI_COMPLETE pins it instead:
/// [`crate::granule::Granule::lock_or_pin`]).
pub(super) fn enter<P: Platform>(
    rmm: &Rmm<P>,
    cpu: usize,
    regs: &[u64; 8],
) -> Result<(), RmiError> {
    let [_, rec_pa, run_ptr, ..] = *regs;
    granule_at(rmm, run_ptr)?; // run_align, run_bound
    let platform = rmm.platform();
    // Byte `offset` of RmiRecRun: in the granule at run_ptr, so it never wraps (it would fault).
    let run_at = move |offset: usize| {
        let pa = run_ptr.checked_add(offset as u64);
        pa.ok_or(NsAccessFault { pa: run_ptr })
    };
    let entry = RecEnter::read_with(|offset, buf| platform.ns_read(run_at(offset)?, buf))
        .map_err(|_| RmiError::INPUT)?; // run_pas

    // rec_gran_state, rec_state: the REC is locked before the RMM reads it (another CPU could
    // otherwise destroy and undelegate it between a check of its state and the read). The
    // failure conditions are checked under the lock, and the lock becomes the claim only for a
    // REC that will run: a claimed REC is always runnable, which PSCI_COMPLETE relies on to
    // leave a running target alone.
    let locked = granule_at(rmm, rec_pa)?.lock_unclaimed(GranuleState::Rec)?;
    let rec = Rec::new(rmm.platform().granule(rec_pa));
    if !rec.runnable() {
        return Err(RmiError::rec()); // rec_runnable
    }
    // The REC holds a reference on its RD: the realm cannot be destroyed under us.
    let rd = rec.owner();
    match Rd::new(rmm.platform().granule(rd)).state() {
        RealmState::New => return Err(RmiError::realm(0)), // realm_new
        RealmState::SystemOff => return Err(RmiError::realm(1)), // system_off
        RealmState::Active => {}
    }
    let inject_sea = entry.flags.inject_sea() == InjectSea::Inject;
    let emulated = entry.flags.emul_mmio() == EmulatedMmio::Emulated && !inject_sea;
    if emulated && !rec.emulatable_abort() {
        return Err(RmiError::rec()); // rec_mmio
    }
    let lrs = rmm.platform().cpu_features().gic_list_registers.into();
    if !gicv3_config_is_valid(&entry, lrs) {
        return Err(RmiError::rec()); // rec_gicv3
    }
    if rec.psci_pending() {
        return Err(RmiError::rec()); // rec_psci
    }
    let _claimed = locked.claim();

    // Entry (A4.2): the REC's registers, then what the host completed since the last exit.
    let mut vcpu = rec.load();
    let tree = tree_of(rmm, rd)?;
    let [last_esr, last_far, last_hpfar] = rec.last_exit();
    // A4.2.3: after a REC exit due to Data Abort at an Unprotected IPA (emulatable or not),
    // the host may have the RMM take an SEA to the realm.
    let unprotected_abort = esr::ec(last_esr) == esr::EC_DABT_LOWER
        && !tree
            .config
            .addr_is_protected(fault_ipa(last_hpfar, last_far));
    if inject_sea && unprotected_abort {
        host_injected_sea(&mut vcpu, last_esr, last_far);
    } else if emulated {
        complete_mmio(&mut vcpu, last_esr, entry.gprs[0]);
    }
    vcpu.trap_wfi = entry.flags.trap_wfi() == Trap::Trap;
    vcpu.trap_wfe = entry.flags.trap_wfe() == Trap::Trap;
    vcpu.gic_hcr = entry.gicv3_hcr;
    vcpu.gic_lrs = entry.gicv3_lrs;
    // A6.2: a timer asserted in the state the last exit reported is masked while the realm
    // runs (`vcpu.timers` is that state, saved by the last exit).
    vcpu.timer_mask = vcpu.timers.asserted();

    // A RIPAS change the realm requested is answered now (B5.3.6): how far the host got with
    // RMI_RTT_SET_RIPAS, and whether it accepted.
    let change = rec.ripas_change();
    if change.top != 0 {
        // B3.40 RecRipasChangeResponse: the host may refuse only a change to RAM it has not
        // completed.
        let reject = entry.flags.ripas_response() == RmiResponse::Reject
            && change.value == Ripas::Ram.to_rmi()
            && change.addr != change.top;
        // RSI_IPA_STATE_SET's outputs: x0 result, x1 new_base, x2 response.
        rsi::set_outputs(&mut vcpu, &[rsi::RSI_SUCCESS, change.addr, reject.into()]);
    }

    let rec_count = Rd::new(rmm.platform().granule(rd)).rec_index();
    let stage2 = Stage2::new(rmm, cpu, tree, rec_count, rec.mpidr());
    let mut exit = RecExit::new(RecExitReason::Sync);
    // A4.2.2: a pending host call gets the host's answer before the realm runs; if its
    // RsiHostCall is not mapped, the REC exits due to Data Abort there instead.
    let unanswered = rec.host_call_pending()
        && rsi::host_call::complete(&mut vcpu, &stage2, rec, &entry.gprs).is_err();
    let (kind, syndrome) = if unanswered {
        let ipa = rec.host_call_addr();
        protected_abort(&mut exit, ipa, stage2.fault(ipa).1);
        (ExitKind::ProtectedAbort, [0; 3])
    } else {
        run_until_exit(rmm, cpu, rec_pa, &mut vcpu, &stage2, rec, &mut exit)
    };
    // A Data Abort the RMM met for the realm stands for the last exit's syndrome (A4.2.3).
    let syndrome = match kind {
        ExitKind::ProtectedAbort => [exit.esr, exit.far, exit.hpfar],
        _ => syndrome,
    };

    // Exit (A4.3): tell the host, then save the REC as the exit left it, or, if the host could
    // not be told, as if the exit had not been taken (`unreported`).
    exit.gicv3_hcr = vcpu.gic_hcr & GICV3_HCR_EXIT_BITS;
    exit.gicv3_lrs = vcpu.gic_lrs;
    exit.gicv3_misr = vcpu.gic_misr;
    exit.gicv3_vmcr = vcpu.gic_vmcr;
    vcpu.timers.report(&mut exit); // A6.2: on every exit
                                   // A8.1: the realm's PMU overflow status at the time of the exit.
    exit.pmu_ovf_status = if vcpu.pmu_overflow {
        PmuOverflowStatus::Active
    } else {
        PmuOverflowStatus::NotActive
    };
    let reported = exit
        .write_with(|offset, bytes| {
            let pa = run_at(REC_EXIT_OFFSET.saturating_add(offset))?;
            platform.ns_write(pa, bytes)
        })
        .is_ok();
    let (kind, syndrome) = match reported {
        true => (kind, syndrome),
        false => (unreported(kind, &mut vcpu), [0; 3]),
    };
    rec.save(&vcpu);
    rec.set_emulatable_abort(kind == ExitKind::EmulatableAbort);
    rec.set_psci_pending(kind == ExitKind::PsciRequest);
    match kind {
        ExitKind::HostCall(addr) => rec.set_host_call(addr),
        ExitKind::CpuOff => rec.set_runnable(false),
        _ => {}
    }
    // A4.3.8: a RIPAS change is pending only after an exit that requests one.
    rec.set_ripas_change(&match kind {
        ExitKind::RipasChange(change) => change,
        _ => RipasChange::default(),
    });
    rec.set_last_exit(syndrome);
    match reported {
        true => Ok(()),
        false => Err(RmiError::INPUT), // A4.3.3: the exit could not be written
    }
}

/// What an exit the host was not told of leaves in the REC.
///
/// A4.3.3: "On REC exit, if RMM access to exit causes a GPF then the RMI_REC_ENTER command
/// fails with RMI_ERROR_INPUT". The granule of RmiRecRun was Non-secure when the entry read
/// it (B4.3.14 `run_pas`: enter and exit share the granule), so this happens only when the
/// host, or EL3, moves it to another PAS while the realm runs. A failed command has no effect
/// beyond its return code (B1.6, B1.9), but the realm has run by then, and its progress cannot
/// be undone without running its instructions twice. So the decision here:
///
/// - The realm's progress up to the instruction that caused the exit stands, as do the
///   effects of this entry (an emulated MMIO completion, a host call's answer, a RIPAS change
///   or PSCI result delivered): the realm has seen them.
/// - The exit itself is not taken: nothing is left pending that only the lost exit would have
///   told the host about, so the REC's state agrees with a command that reported nothing. An
///   SMC that asked the host for something (a PSCI request naming another REC, a host call, a
///   RIPAS change) is executed again at the next entry (the PC goes back to it; its registers
///   are as the realm made the call, a PSCI request's sanitised), and an access that took an
///   emulatable data abort is too (its PC is still at it). That entry takes the same exit and
///   reports it. The REC is as if the realm had been interrupted just before that instruction.
/// - No last exit is recorded for the host to complete: an emulated MMIO completion or an SEA
///   injection at the next entry has no exit to refer to (RMI_ERROR_REC for the first, the
///   second does nothing).
/// - What the realm did by itself stands: PSCI_CPU_OFF leaves the REC not runnable, and
///   SYSTEM_OFF the realm off, as the exit would have said.
fn unreported(kind: ExitKind, vcpu: &mut crate::rec::VcpuContext) -> ExitKind {
    match kind {
        ExitKind::PsciRequest | ExitKind::HostCall(_) | ExitKind::RipasChange(_) => {
            vcpu.step_back_to_instruction();
            ExitKind::Plain
        }
        // The PC is at the access, or (RSI memory operand, host call on entry) at the SMC or
        // before the realm ran at all.
        ExitKind::EmulatableAbort | ExitKind::ProtectedAbort => ExitKind::Plain,
        ExitKind::Plain | ExitKind::CpuOff => kind,
    }
}

/// Runs the realm until a trap that exits to the host: returns what the exit leaves pending
/// and the syndrome of the trap, as taken.
///
/// A trap the RMM handles resumes the realm unless an EL1 timer's output now differs from the
/// state the last exit reported: the host must then update the virtual interrupt, so the REC
/// exits with an IRQ (A6.2; the realm's registers already reflect the handled trap).
fn run_until_exit<P: Platform>(
    rmm: &Rmm<P>,
    cpu: usize,
    rec_pa: u64,
    vcpu: &mut crate::rec::VcpuContext,
    stage2: &Stage2<'_, P>,
    rec: Rec<'_>,
    exit: &mut RecExit,
) -> (ExitKind, [u64; 3]) {
    loop {
        let trap = rmm.platform().run_realm(cpu, rec_pa, vcpu, stage2);
        let syndrome = match trap {
            RealmTrap::Sync { esr, far, hpfar } => [esr, far, hpfar],
            _ => [0; 3],
        };
        match handle(trap, vcpu, stage2, rec, exit) {
            Handled::Resume if vcpu.timers.asserted() != vcpu.timer_mask => {
                *exit = RecExit::new(RecExitReason::Irq);
                return (ExitKind::Plain, [0; 3]);
            }
            Handled::Resume => continue,
            Handled::Exit(kind) => return (kind, syndrome),
        }
    }
}
