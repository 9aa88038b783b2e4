//! A REC exit that cannot be written (issue 14, item 4; spec A4.3.3, B4.3.14): the host's
//! RmiRecRun granule stops being Non-secure while the REC runs, so RMI_REC_ENTER fails with
//! RMI_ERROR_INPUT after the realm has run. The host never learns of that exit, so the REC
//! must not be left waiting for the host to act on it: the instruction that caused the exit
//! runs again at the next entry, which then reports the exit.

mod common;
use common::realm::*;
use common::*;
use rmm::rec::{esr, hpfar, RealmTrap};
use rmm::rmi::params::{RecEnter, RecEnterFlags, RecExit, RecExitReason, RmiRipas};
use std::sync::{Arc, Barrier};
use std::thread;

const AFFINITY_INFO: u64 = 0xC400_0004;
const RSI_IPA_STATE_SET: u64 = 0xC400_0197;
const RSI_HOST_CALL: u64 = 0xC400_0199;

/// REC_ENTER of `rec` on CPU 1 with a run granule the host delegates while the realm runs
/// `steps`: returns x0.
fn enter_losing_the_run_page(w: &'static RealmWorld, rec: u64, steps: Vec<Step>) -> u64 {
    let run = w.ns();
    let mut page = [0u8; 2048];
    RecEnter {
        flags: RecEnterFlags::from_bits(0),
        gprs: [0; 31],
        gicv3_hcr: 0,
        gicv3_lrs: [0; 16],
    }
    .write(&mut page);
    w.m.ns_write(run, &page).unwrap();
    // The realm first waits for the host to delegate the run granule, then runs `steps`.
    let hold = Arc::new(Barrier::new(2));
    let waits = hold.clone();
    let mut all = vec![Step::Set(Box::new(move |_| {
        waits.wait();
        waits.wait();
    }))];
    all.extend(steps);
    w.push(rec, all);
    let entering = thread::spawn(move || w.rmi_on(1, RMI_REC_ENTER, &[rec, run])[0]);
    hold.wait();
    assert_eq!(delegate(&w.m, run), SUCCESS);
    hold.wait();
    let x0 = entering.join().unwrap();
    assert_eq!(undelegate(&w.m, run), SUCCESS);
    x0
}

/// A realm call that exits to the host: what, the SMC it makes (or the trap it takes), the exit
/// reason, and a check of the exit.
type Case = (
    &'static str,
    Vec<u64>,
    Option<RealmTrap>,
    RecExitReason,
    fn(&RecExit),
);

fn world() -> &'static RealmWorld {
    Box::leak(Box::new(RealmWorld::new(&[true, true])))
}

/// For each exit that leaves a request for the host: the entry whose exit is lost fails with
/// RMI_ERROR_INPUT and leaves nothing pending, with the REC where it was before the
/// instruction; the next entry runs it again and reports the exit.
#[test]
fn rec_enter_whose_exit_is_lost_leaves_no_request_pending() {
    let abort = RealmTrap::Sync {
        esr: esr::data_abort(true, true, 3, 2),
        far: UNPROTECTED,
        hpfar: hpfar(UNPROTECTED),
    };
    let cases: [Case; 4] = [
        (
            "PSCI request",
            vec![AFFINITY_INFO, 1, 0],
            None,
            RecExitReason::Psci,
            |e| assert_eq!(e.gprs[..3], [AFFINITY_INFO, 1, 0]),
        ),
        (
            "host call",
            vec![RSI_HOST_CALL, DATA],
            None,
            RecExitReason::HostCall,
            |_| {},
        ),
        (
            "RIPAS change",
            vec![RSI_IPA_STATE_SET, RAM_HOLE, RAM_HOLE + GRANULE, 0, 0],
            None,
            RecExitReason::RipasChange,
            |e| assert_eq!(e.ripas_value, RmiRipas::Empty),
        ),
        (
            "emulatable data abort",
            vec![],
            Some(abort),
            RecExitReason::Sync,
            |e| assert_ne!(e.esr & esr::ISV, 0),
        ),
    ];
    for (what, smc, trap, reason, check) in cases {
        let w = world();
        let rec = w.rec(0);
        let pc = w.st(rec).pc();
        let step = || match trap {
            Some(trap) => Step::Trap(trap),
            None => Step::Smc(smc.clone()),
        };
        let x0 = enter_losing_the_run_page(w, rec, vec![step()]);
        assert_eq!(x0, ERROR_INPUT, "{what}: the exit cannot be written");
        let st = w.st(rec);
        assert!(!st.psci_pending(), "{what}: no PSCI request pending");
        assert!(!st.host_call_pending(), "{what}: no host call pending");
        assert_eq!(st.ripas_change().top, 0, "{what}: no RIPAS change pending");
        assert!(!st.emulatable_abort(), "{what}: no emulatable abort");
        assert_eq!(st.last_exit(), [0; 3], "{what}: no exit syndrome to act on");
        assert_eq!(st.pc(), pc, "{what}: the instruction runs again");
        // Emulated MMIO completion of the lost exit is refused: the host never saw it.
        assert_eq!(
            w.enter_with(0, rec, RecEnterFlags::EMUL_MMIO, [0; 31]).0,
            ERROR_REC
        );
        // The next entry reports the exit.
        w.push(rec, vec![step()]);
        let (x0, exit) = w.enter_with(0, rec, 0, [0; 31]);
        assert_eq!((x0, exit.exit_reason), (SUCCESS, reason), "{what}");
        check(&exit);
    }
}

/// An exit that leaves nothing pending (here an IRQ): the entry fails with RMI_ERROR_INPUT,
/// and the realm's progress stands.
#[test]
fn rec_enter_whose_irq_exit_is_lost_keeps_the_realm_running() {
    let w = world();
    let rec = w.rec(0);
    let x0 = enter_losing_the_run_page(w, rec, vec![Step::Set(Box::new(|v| v.pc = 0x5000))]);
    assert_eq!(x0, ERROR_INPUT);
    assert_eq!(w.st(rec).pc(), 0x5000);
    let exit = w.run(rec, vec![]);
    assert_eq!(exit.exit_reason, RecExitReason::Irq);
    assert_eq!(w.last(rec).pc, 0x5000);
}
