//! Realm EL1 timers (spec A6.2): every REC exit reports CNTV/CNTP CTL and CVAL whatever its
//! reason; REC entry masks the hardware signal of a timer asserted in the state the last exit
//! reported; a timer output that differs from that state while the RMM handles a trap makes
//! the REC exit with an IRQ.

mod common;
use common::realm::*;
use common::*;
use rmm::psci::{PSCI_CPU_SUSPEND, PSCI_REVISION, PSCI_VERSION};
use rmm::rec::{esr, hpfar, RealmTrap, TimerOutputs, Timers};
use rmm::rmi::params::{RecExit, RecExitReason};

const RSI_IPA_STATE_SET: u64 = 0xC400_0197;
const RSI_HOST_CALL: u64 = 0xC400_0199;
/// RmiRecEnterFlags.trap_wfi.
const TRAP_WFI: u64 = 1 << 2;
/// CNTx_CTL values: ENABLE | ISTATUS asserts; IMASK or !ENABLE does not.
const FIRED: u64 = 0b101;
const ARMED: u64 = 0b001;
const FIRED_MASKED: u64 = 0b111;
const FIRED_OFF: u64 = 0b100;

fn timers(cntv_ctl: u64, cntp_ctl: u64, cval: u64) -> Timers {
    Timers {
        cntv_ctl,
        cntv_cval: cval,
        cntp_ctl,
        cntp_cval: cval + 0x55,
    }
}

fn reported(exit: &RecExit) -> Timers {
    Timers {
        cntv_ctl: exit.cntv_ctl,
        cntv_cval: exit.cntv_cval,
        cntp_ctl: exit.cntp_ctl,
        cntp_cval: exit.cntp_cval,
    }
}

fn mask(virt: bool, phys: bool) -> TimerOutputs {
    TimerOutputs { virt, phys }
}

/// A6.2: the timer state is in RmiRecExit on every exit, for every exit reason.
#[test]
fn every_exit_reports_the_timers() {
    let w = RealmWorld::new(&[true]);
    let rec = w.rec(0);
    let host_call_at = DATA + GRANULE;
    let mut host_call = vec![0u8; 256];
    host_call[..2].copy_from_slice(&7u16.to_le_bytes());
    let mmio = UNPROTECTED + 0x100;
    let mmio_write = RealmTrap::Sync {
        esr: esr::data_abort(true, true, 3, 2),
        far: mmio,
        hpfar: hpfar(mmio),
    };
    let wfi = RealmTrap::Sync {
        esr: esr::EC_WFX << esr::EC_SHIFT | esr::IL,
        far: 0,
        hpfar: 0,
    };
    let cases: Vec<(Vec<Step>, u64, RecExitReason)> = vec![
        (vec![Step::Trap(RealmTrap::Irq)], 0, RecExitReason::Irq),
        (vec![Step::Trap(RealmTrap::Fiq)], 0, RecExitReason::Fiq),
        (
            vec![Step::Trap(RealmTrap::SError { esr: 0xbe << 24 })],
            0,
            RecExitReason::Serror,
        ),
        (vec![Step::Trap(wfi)], TRAP_WFI, RecExitReason::Sync),
        (vec![Step::Trap(mmio_write)], 0, RecExitReason::Sync),
        (
            vec![
                Step::Write(host_call_at, host_call),
                Step::Smc(vec![RSI_HOST_CALL, host_call_at]),
            ],
            0,
            RecExitReason::HostCall,
        ),
        (
            vec![Step::Smc(vec![PSCI_CPU_SUSPEND, 0, 0, 0])],
            0,
            RecExitReason::Psci,
        ),
        (
            vec![Step::Smc(vec![
                RSI_IPA_STATE_SET,
                RAM_HOLE,
                RAM_HOLE + GRANULE,
                1,
                0,
            ])],
            0,
            RecExitReason::RipasChange,
        ),
    ];
    let ctls = [FIRED, ARMED, FIRED_MASKED, FIRED_OFF, 0];
    let mut flags = 0;
    for (i, (steps, entry_flags, reason)) in cases.into_iter().enumerate() {
        let t = timers(ctls[i % 5], ctls[(i + 2) % 5], 0x1000 * (i as u64 + 1));
        let mut script = vec![Step::Timers(t)];
        script.extend(steps);
        w.push(rec, script);
        // An emulatable abort is completed by the next entry (emul_mmio), so nothing is left
        // pending across cases.
        let (x0, exit) = w.enter_with(0, rec, entry_flags | flags, [0; 31]);
        assert_eq!((x0, exit.exit_reason), (SUCCESS, reason), "case {i}");
        assert_eq!(reported(&exit), t, "case {i}: {reason:?}");
        flags = u64::from(w.st(rec).emulatable_abort());
    }
}

/// An exit the RMM makes without running the realm (a pending host call whose RsiHostCall
/// the host destroyed, A4.2.2) reports the state the realm left at its last run.
#[test]
fn exit_without_running_reports_the_saved_timers() {
    let w = RealmWorld::new(&[true]);
    let rec = w.rec(0);
    let t = timers(FIRED, ARMED, 0x4242);
    let at = DATA + 3 * GRANULE;
    let mut host_call = vec![0u8; 256];
    host_call[..2].copy_from_slice(&7u16.to_le_bytes());
    let exit = w.run(
        rec,
        vec![
            Step::Timers(t),
            Step::Write(at, host_call),
            Step::Smc(vec![RSI_HOST_CALL, at]),
        ],
    );
    assert_eq!(exit.exit_reason, RecExitReason::HostCall);
    assert_eq!(w.rmi(RMI_DATA_DESTROY, &[w.rd, at])[0], SUCCESS);
    let runs = w.seen(rec).len();
    let (_, again) = w.enter_with(0, rec, 0, [0; 31]);
    assert_eq!(again.exit_reason, RecExitReason::Sync);
    assert_eq!(w.seen(rec).len(), runs, "the realm did not run");
    assert_eq!(reported(&again), t);
}

/// The state persists across REC_ENTERs: the realm finds its timers as it left them.
#[test]
fn entry_loads_the_timers_of_the_last_exit() {
    let w = RealmWorld::new(&[true]);
    let rec = w.rec(0);
    assert_eq!(
        w.run(rec, vec![]).cntv_ctl,
        0,
        "a new REC's timers are zero"
    );
    let t = timers(ARMED, FIRED_MASKED, 0xabc0);
    w.run(rec, vec![Step::Timers(t)]);
    let exit = w.run(rec, vec![]);
    assert_eq!(w.last(rec).timers, t);
    assert_eq!(reported(&exit), t);
}

/// A6.2: on entry, a timer that asserts its output in the state the last exit reported has its
/// hardware signal masked; one that does not (disabled, IMASK, condition not met) is not.
#[test]
fn entry_masks_the_timers_asserted_at_the_last_exit() {
    let w = RealmWorld::new(&[true]);
    let rec = w.rec(0);
    let cases = [
        (FIRED, ARMED, mask(true, false)),
        (ARMED, FIRED, mask(false, true)),
        (FIRED, FIRED, mask(true, true)),
        (FIRED_MASKED, FIRED_OFF, mask(false, false)),
        (0, 0, mask(false, false)),
    ];
    for (v, p, expected) in cases {
        let exit = w.run(rec, vec![Step::Timers(timers(v, p, 0x100))]);
        assert_eq!((exit.cntv_ctl, exit.cntp_ctl), (v, p));
        w.run(rec, vec![]);
        assert_eq!(
            w.last(rec).timer_mask,
            expected,
            "exit showed {v:#b} {p:#b}"
        );
    }
}

/// A6.2, D1.6.2: while the RMM handles a trap (here an RSI call it answers), a timer output
/// that no longer matches the last exit's state makes the REC exit with an IRQ, reporting the
/// new state; the handled call's results are kept.
#[test]
fn timer_output_change_exits_with_irq() {
    let w = RealmWorld::new(&[true]);
    let rec = w.rec(0);
    // (state at the last exit, state when the realm traps)
    let cases = [
        (timers(ARMED, 0, 1), timers(FIRED, 0, 1)), // fired: the vIRQ must become pending
        (timers(FIRED, 0, 1), timers(ARMED, 0, 9)), // re-armed: the vIRQ must become idle
        (timers(0, ARMED, 1), timers(0, FIRED, 1)),
        (timers(0, FIRED, 1), timers(0, FIRED_MASKED, 1)),
    ];
    for (before, after) in cases {
        w.run(rec, vec![Step::Timers(before)]);
        let pc = w.st(rec).pc();
        let exit = w.run(
            rec,
            vec![
                Step::Timers(after),
                Step::Smc(vec![PSCI_VERSION]),
                Step::Trap(RealmTrap::Fiq),
            ],
        );
        assert_eq!(
            exit.exit_reason,
            RecExitReason::Irq,
            "{before:?} -> {after:?}"
        );
        assert_eq!(reported(&exit), after);
        assert_eq!((exit.esr, exit.far, exit.hpfar), (0, 0, 0));
        // The call was answered; the realm resumes after it, with its next step, and with the
        // signals masked as the new state says.
        let resumed = w.run(rec, vec![]);
        assert_eq!(resumed.exit_reason, RecExitReason::Fiq);
        let seen = w.last(rec);
        assert_eq!((seen.pc, seen.gprs[0]), (pc + 4, PSCI_REVISION));
        assert_eq!(seen.timer_mask, after.asserted());
    }
}

/// A timer output that still matches the last exit's state lets the realm resume: a masked,
/// still-asserted timer causes no exit, nor does a change that does not alter the output.
#[test]
fn unchanged_timer_output_resumes_the_realm() {
    let w = RealmWorld::new(&[true]);
    let rec = w.rec(0);
    let cases = [
        (timers(FIRED, 0, 1), timers(FIRED, 0, 1)),
        (timers(0, FIRED, 1), timers(ARMED, FIRED, 7)), // vtimer armed, not fired
        (timers(ARMED, 0, 1), timers(FIRED_MASKED, 0, 2)), // fired under IMASK
    ];
    for (before, after) in cases {
        w.run(rec, vec![Step::Timers(before)]);
        let exit = w.run(
            rec,
            vec![
                Step::Timers(after),
                Step::Smc(vec![PSCI_VERSION]),
                Step::Trap(RealmTrap::Fiq),
            ],
        );
        assert_eq!(
            exit.exit_reason,
            RecExitReason::Fiq,
            "{before:?} -> {after:?}"
        );
        assert_eq!(reported(&exit), after);
    }
}
