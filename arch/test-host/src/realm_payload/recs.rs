//! Each REC on its own physical CPU: CPU 0 runs REC 0, and a REC that a CPU_ON starts goes to
//! the CPU of its index ([`hand_over`]), which enters it until it is off ([`drive`]) while the
//! others run. Every REC exit is recorded with the CPU that handled it, for [`finish`].
//!
//! The host cannot see when a REC is runnable: from the RMI_PSCI_COMPLETE of a CPU_ON that
//! started it (the caller learns SUCCESS or ALREADY_ON, the host does not) to its CPU_OFF. So
//! each REC has one atomic runner state: IDLE (no CPU enters it), ACTIVE (one does), KICKED
//! (one does, and a CPU_ON of it was completed since). After completing a CPU_ON, the host
//! starts a runner if the target is IDLE, else kicks it. A runner whose REC is off (a CPU_OFF
//! exit, or REC_ENTER refused with RMI_ERROR_REC: not runnable) goes IDLE only if not kicked;
//! kicked, it enters again. So a REC made runnable is always entered, never by two CPUs at once
//! (which RMI_ERROR_REC would refuse), and RMI_PSCI_COMPLETE of a running target is the RMM's
//! business (it leaves the REC alone: ALREADY_ON, or ON for AFFINITY_INFO).

use super::view::{self, RealmView};
use super::{Flow, Session, ERROR_REALM, ERROR_REC};
use crate::cpu::{self, Deadline};
use crate::report::{check, fail, Outcome, Why};
use crate::smp;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use rmm_arch::realm_report::MAX_RECS;

const RECS: usize = MAX_RECS as usize;
/// Runner states.
const IDLE: u8 = 0;
const ACTIVE: u8 = 1;
const KICKED: u8 = 2;
/// How long CPU 0 waits for the runners after REC 0's run.
const FINISH_TIMEOUT_S: u64 = 60;

/// Each REC's runner state. Every change is an RMW with AcqRel (or a store by the runner that
/// holds it ACTIVE), so completers and runners are ordered by the state's modification order:
/// a kick's Release pairs with the runner's Acquire of KICKED, after which it enters again.
static STATE: [AtomicU8; RECS] = [const { AtomicU8::new(IDLE) }; RECS];
// The record, read by CPU 0 in `finish` after its Acquire of RUNNERS (or written by CPU 0):
// Relaxed everywhere else.
/// Per REC: bit c set when CPU c handled one of its exits.
static RAN_ON: [AtomicU32; RECS] = [const { AtomicU32::new(0) }; RECS];
/// Per REC: exits handled.
static EXITS: [AtomicU64; RECS] = [const { AtomicU64::new(0) }; RECS];
/// REC 0's exits while another REC had a runner.
static OVERLAPS: AtomicU64 = AtomicU64::new(0);
/// CPU_ONs completed for RECs that had a runner (kicks).
static KICKS: AtomicU64 = AtomicU64::new(0);
/// Step reports seen by the runners on other CPUs: passed, failed.
static PASSED: AtomicU64 = AtomicU64::new(0);
static FAILED: AtomicU64 = AtomicU64::new(0);
/// Runners started on other CPUs and not finished. Each runner ends with a Release decrement,
/// which pairs with the Acquire in `finish`.
static RUNNERS: AtomicUsize = AtomicUsize::new(0);

/// How a REC's run ended.
pub enum Ending {
    Off,
    SystemOff,
}

/// Before REC 0's first entry (no runner is left from an earlier realm): publishes `view` for
/// the runners, clears the record, and marks REC 0 ACTIVE (this CPU runs it).
pub fn begin(view: &RealmView) {
    view::publish(view);
    for (index, state) in STATE.iter().enumerate() {
        // Relaxed: published to the runners by `smp::start`.
        state.store(if index == 0 { ACTIVE } else { IDLE }, Ordering::Relaxed);
        RAN_ON[index].store(0, Ordering::Relaxed);
        EXITS[index].store(0, Ordering::Relaxed);
    }
    for counter in [&OVERLAPS, &KICKS, &PASSED, &FAILED] {
        counter.store(0, Ordering::Relaxed);
    }
}

/// Records an exit of REC `index` handled by this CPU.
pub fn record_exit(index: usize) {
    let Some(ran_on) = RAN_ON.get(index) else {
        return;
    };
    ran_on.fetch_or(
        1u32.checked_shl(cpu::current() as u32).unwrap_or(0),
        Ordering::Relaxed,
    );
    EXITS[index].fetch_add(1, Ordering::Relaxed);
    // Relaxed: a statistic; the states it reads may be a little old.
    if index == 0 && STATE[1..].iter().any(|s| s.load(Ordering::Relaxed) != IDLE) {
        OVERLAPS.fetch_add(1, Ordering::Relaxed);
    }
}

/// After the RMI_PSCI_COMPLETE of a CPU_ON of REC `target`, which may have made it runnable:
/// makes sure a CPU enters it (CPU `target`).
pub fn hand_over(target: usize) -> Outcome {
    let Some(state) = STATE.get(target) else {
        fail!("CPU_ON of REC {}: no such REC", target);
    };
    // AcqRel: see STATE.
    let previous = state.fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
        Some(if s == IDLE { ACTIVE } else { KICKED })
    });
    if previous != Ok(IDLE) {
        // Its runner enters it again before it stops. Relaxed: see RAN_ON.
        KICKS.fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    // Relaxed: the runner's decrement comes after this in the counter's modification order
    // (it starts after `smp::start`'s Release).
    RUNNERS.fetch_add(1, Ordering::Relaxed);
    if let Err(status) = smp::start(target, runner) {
        // Relaxed: no runner started, nothing to publish.
        RUNNERS.fetch_sub(1, Ordering::Relaxed);
        // Release: see STATE (the REC has no runner after all).
        state.store(IDLE, Ordering::Release);
        fail!("REC {}: PSCI CPU_ON of CPU {}: {}", target, target, status);
    }
    Ok(())
}

/// Enters the session's REC until it is off and not kicked, or the realm is SYSTEM_OFF; its
/// runner state is IDLE after.
pub fn drive(session: &mut Session) -> Result<Ending, Why> {
    let index = session.current;
    let Some(state) = STATE.get(index) else {
        fail!("REC {}: no such REC", index);
    };
    let ending = loop {
        match session.run() {
            Ok(Flow::Off) => {}
            Ok(Flow::Refused(e)) if e.status() == ERROR_REC => {}
            Ok(Flow::Refused(e)) if e.status() == ERROR_REALM => break Ok(Ending::SystemOff),
            Ok(Flow::SystemOff) => break Ok(Ending::SystemOff),
            Ok(Flow::Refused(e)) => break Err(Why::new(format_args!("REC_ENTER: {}", e))),
            Ok(Flow::Continue) => break Err(Why::new(format_args!("run ended on Continue"))),
            Err(why) => break Err(why),
        }
        // Off. AcqRel: see STATE.
        match state.compare_exchange(ACTIVE, IDLE, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Ok(Ending::Off),
            // Kicked: the REC may be runnable again. Relaxed: only this runner moves the
            // state away from KICKED.
            Err(_) => state.store(ACTIVE, Ordering::Relaxed),
        }
    };
    // Release: see STATE.
    state.store(IDLE, Ordering::Release);
    ending
}

/// The job of CPU `index` (`smp::start`): runs REC `index` until it is off.
fn runner(index: usize) {
    let outcome = match (view::load(), STATE.get(index), EXITS.get(index)) {
        (Some(realm), Some(_), Some(exits)) => {
            let before = exits.load(Ordering::Relaxed);
            let mut session = Session::new(realm, index);
            let ending = drive(&mut session);
            // Relaxed: see RUNNERS.
            PASSED.fetch_add(session.reports.0, Ordering::Relaxed);
            FAILED.fetch_add(session.reports.1, Ordering::Relaxed);
            match ending {
                Ok(_) if exits.load(Ordering::Relaxed) > before => Ok(()),
                Ok(_) => Err(Why::new(format_args!("REC {} was not runnable", index))),
                Err(why) => Err(why),
            }
        }
        (_, state, _) => {
            if let Some(state) = state {
                // Release: see STATE.
                state.store(IDLE, Ordering::Release);
            }
            Err(Why::new(format_args!(
                "no realm published, or no REC {}",
                index
            )))
        }
    };
    check(
        format_args!("realm/rec_runner(rec {}, cpu {})", index, cpu::current()),
        outcome,
    );
    // Release: pairs with the Acquire in `finish`.
    RUNNERS.fetch_sub(1, Ordering::Release);
}

/// The runners' step reports, passed and failed (after [`finish`]).
pub fn reports() -> (u64, u64) {
    // Relaxed: ordered by `finish`'s Acquire.
    (
        PASSED.load(Ordering::Relaxed),
        FAILED.load(Ordering::Relaxed),
    )
}

/// After REC 0's run: waits for the runners, then checks that each of the `rec_count` RECs ran,
/// on its own CPU only, and that REC 0 ran alongside others. False if a runner may still be
/// entering its REC.
pub fn finish(rec_count: usize) -> bool {
    // Acquire: pairs with each runner's Release decrement.
    let finished = cpu::wait_until(Deadline::after_seconds(FINISH_TIMEOUT_S), || {
        RUNNERS.load(Ordering::Acquire) == 0
    });
    let outcome = match finished {
        true => Ok(()),
        false => Err(Why::new(format_args!(
            "{} runners still busy after {} s",
            RUNNERS.load(Ordering::Acquire),
            FINISH_TIMEOUT_S
        ))),
    };
    check(format_args!("realm/rec_runners_finished"), outcome);
    for index in 0..rec_count.min(RECS) {
        // Relaxed: see RAN_ON.
        let ran_on = RAN_ON[index].load(Ordering::Relaxed);
        let exits = EXITS[index].load(Ordering::Relaxed);
        let outcome = match ran_on == 1 << index && exits > 0 {
            true => Ok(()),
            false => Err(Why::new(format_args!(
                "{} exits, on CPUs {:#b}; expected CPU {} only",
                exits, ran_on, index
            ))),
        };
        check(format_args!("realm/rec_on_own_cpu(rec {})", index), outcome);
    }
    if rec_count > 1 {
        let overlaps = OVERLAPS.load(Ordering::Relaxed);
        let outcome = match overlaps {
            0 => Err(Why::new(format_args!(
                "no exit of REC 0 while another REC ran"
            ))),
            _ => Ok(()),
        };
        check(format_args!("realm/recs_run_concurrently"), outcome);
        crate::console::println!(
            "test-host: {} exits of REC 0 while another REC had its own CPU; {} CPU_ONs of a REC with a runner",
            overlaps,
            KICKS.load(Ordering::Relaxed)
        );
    }
    finished
}
