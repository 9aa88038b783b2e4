//! The RMM reads a granule only while it holds it (issue 14, item 2). The host may undelegate
//! any granule the RMM does not hold; on hardware a read of it is then a Granule Protection
//! Fault at R-EL2, and the host platform panics on it (`Platform::granule`). These tests stop
//! an RMI command at its first access to a REC granule (the host platform's granule hook) and,
//! from other CPUs, end the REC's run, destroy it and undelegate it before letting the command
//! go on: the command must already hold the REC by then, so that the destroy waits or fails.

mod common;
use common::realm::*;
use common::*;
use rmm::rmi::params::RecExitReason;
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};
use std::thread::{self, ThreadId};
use std::time::Duration;

const AFFINITY_INFO: u64 = 0xC400_0004;
const PSCI_ON: u64 = 0;

/// How long the stopped command waits for the other CPUs: plenty for a destroy and an
/// undelegate that do not wait for it, and the time a test loses when they do.
const PATIENCE: Duration = Duration::from_millis(300);

type Action = Box<dyn FnOnce() + Send>;

/// What the granule hook runs once: at the first access to `pa` by `thread`.
#[derive(Default)]
struct OneShot(Mutex<Option<(u64, ThreadId, Action)>>);

/// A realm world that lives for the whole test (the hook's actions use it from other threads),
/// with a one-shot granule hook.
fn world(runnable: &[bool]) -> (&'static RealmWorld, Arc<OneShot>) {
    let w: &'static RealmWorld = Box::leak(Box::new(RealmWorld::new(runnable)));
    let shot = Arc::new(OneShot::default());
    let hook = shot.clone();
    assert!(w.m.set_granule_hook(Arc::new(move |pa| {
        let action = {
            let mut armed = hook.0.lock().unwrap();
            match &*armed {
                Some((at, thread, _)) if *at == pa && *thread == thread::current().id() => {
                    armed.take().map(|(_, _, action)| action)
                }
                _ => None,
            }
        };
        if let Some(action) = action {
            action();
        }
    })));
    (w, shot)
}

/// Arms `shot`: at this thread's next access to granule `pa`, `action` runs on another thread,
/// and the access waits until it is done or [`PATIENCE`] has passed. Returns what the action
/// returned, whenever it finishes.
fn at_access<R: Send + 'static>(
    shot: &OneShot,
    pa: u64,
    action: impl FnOnce() -> R + Send + 'static,
) -> mpsc::Receiver<R> {
    let (tx, rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let stop: Action = Box::new(move || {
        thread::spawn(move || {
            let result = action();
            let _ = done_tx.send(());
            tx.send(result).unwrap();
        });
        let _ = done_rx.recv_timeout(PATIENCE);
    });
    *shot.0.lock().unwrap() = Some((pa, thread::current().id(), stop));
    rx
}

/// REC_DESTROY of `rec` on CPU `cpu` until it is not running, then UNDELEGATE if destroyed.
fn destroy_and_undelegate(w: &RealmWorld, cpu: usize, rec: u64) -> (u64, u64) {
    loop {
        let destroyed = w.rmi_on(cpu, RMI_REC_DESTROY, &[rec])[0];
        match destroyed {
            ERROR_REC => thread::yield_now(),
            SUCCESS => return (SUCCESS, w.rmi_on(cpu, RMI_GRANULE_UNDELEGATE, &[rec])[0]),
            x0 => return (x0, 0),
        }
    }
}

/// REC_ENTER reads the REC (its runnable flag) only once it holds it: a REC_DESTROY and
/// UNDELEGATE on another CPU at its first access to the REC wait for it, or fail if the REC
/// is running by then.
#[test]
fn rec_enter_reads_the_rec_only_once_it_holds_it() {
    let (w, shot) = world(&[true]);
    let rec = w.rec(0);
    let other = at_access(&shot, rec, move || {
        let destroyed = w.rmi_on(1, RMI_REC_DESTROY, &[rec])[0];
        let undelegated = match destroyed {
            SUCCESS => w.rmi_on(1, RMI_GRANULE_UNDELEGATE, &[rec])[0],
            _ => 0,
        };
        (destroyed, undelegated)
    });
    let (x0, exit) = w.enter_with(0, rec, 0, [0; 31]);
    assert_eq!(x0, SUCCESS);
    assert_eq!(exit.exit_reason, RecExitReason::Irq);
    match other.recv().unwrap() {
        // The destroy came while the REC ran.
        (ERROR_REC, _) => {}
        // Or after its run: the REC is gone for good.
        (SUCCESS, undelegated) => assert_eq!(undelegated, SUCCESS),
        other => panic!("REC_DESTROY, UNDELEGATE: {other:x?}"),
    }
}

/// PSCI_COMPLETE holds a running target REC while it reads its owner and MPIDR: the target's
/// run can end and a REC_DESTROY begin meanwhile, but the destroy waits for PSCI_COMPLETE.
#[test]
fn psci_complete_holds_a_running_target_while_it_reads_it() {
    let (w, shot) = world(&[true, true]);
    let (caller, target) = (w.rec(0), w.rec(1));
    let exit = w.run(caller, vec![Step::Smc(vec![AFFINITY_INFO, 1, 0])]);
    assert_eq!(exit.exit_reason, RecExitReason::Psci);
    // The target runs on CPU 1 until the hook lets it go.
    let hold = Arc::new(Barrier::new(2));
    let running = {
        let hold = hold.clone();
        thread::spawn(move || w.run_on(1, target, vec![Step::Hold(hold)]))
    };
    hold.wait();
    let other = at_access(&shot, target, move || {
        hold.wait(); // the target's run ends
        destroy_and_undelegate(w, 2, target)
    });
    let x0 = w.rmi(RMI_PSCI_COMPLETE, &[caller, target, 0])[0];
    assert_eq!(x0, SUCCESS);
    assert_eq!(running.join().unwrap().exit_reason, RecExitReason::Irq);
    assert_eq!(other.recv().unwrap(), (SUCCESS, SUCCESS));
    // The target was running when PSCI_COMPLETE found it: AFFINITY_INFO says ON.
    w.run(caller, vec![]);
    assert_eq!(w.last(caller).gprs[..4], [PSCI_ON, 0, 0, 0]);
}
