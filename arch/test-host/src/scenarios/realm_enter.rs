//! Every CPU enters its own REC of the big realm ([`super::realm`]) at the same moment, again
//! and again: the REC stores to its MMIO IPA, the RMM reports an emulatable Data Abort with
//! the value, the host checks it and enters again with emul_mmio, so the REC resumes after the
//! store and makes the next one. CPU 0 times the whole from the moment it lets every CPU go
//! and reports REC_ENTERs per second across all CPUs.

use super::realm::{COOKIE, REC, RUN};
use crate::console::println;
use crate::cpu::{self, Deadline};
use crate::params::{write_rec_enter, RecExit, ENTER_EMUL_MMIO, EXIT_FIQ, EXIT_IRQ, EXIT_SYNC};
use crate::realm_code::{self, MMIO_IPA};
use crate::report::{check, fail, Outcome, Why};
use crate::rmi as call;
use crate::smp;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use ns_el2::rec_run::rec_mpidr;

/// REC exits each CPU checks (REC_ENTER calls, besides IRQ exits).
pub const ROUNDS: u64 = 64;
/// ESR_EL2.EC of a Data Abort from a lower exception level; ISV and WnR.
const EC_DABT_LOWER: u64 = 0x24;
const ESR_ISV: u64 = 1 << 24;
const ESR_WNR: u64 = 1 << 6;

/// CPUs other than 0 that have reached the barrier (each adds with Release; CPU 0 reads with
/// Acquire).
static ARRIVED: AtomicUsize = AtomicUsize::new(0);
/// Set by CPU 0 (Release) when every CPU is at the barrier: all enter their RECs now. The
/// others read it with Acquire.
static GO: AtomicUsize = AtomicUsize::new(0);
/// CPUs other than 0 done with their REC (Release; CPU 0 reads with Acquire, which also makes
/// their PASS/FAIL counts and CALLS visible).
static DONE: AtomicUsize = AtomicUsize::new(0);
/// REC_ENTER calls made by every CPU, and the CPUs that failed (Relaxed: read by CPU 0 after
/// its Acquire of DONE).
static CALLS: AtomicU64 = AtomicU64::new(0);
static FAILED: AtomicUsize = AtomicUsize::new(0);

/// Brings up the other CPUs, meets them at a barrier, and has every CPU enter its REC at once,
/// [`ROUNDS`] times. False if some CPU may still be using its REC.
pub fn run(cpus: usize) -> bool {
    for counter in [&ARRIVED, &GO, &DONE, &FAILED] {
        // Relaxed: published to the other CPUs by `smp::start`.
        counter.store(0, Ordering::Relaxed);
    }
    // Relaxed: as above.
    CALLS.store(0, Ordering::Relaxed);
    let start = cpu::ticks();
    let mut started = 0;
    for index in 1..cpus {
        match smp::start(index, rec_job) {
            Ok(()) => started += 1,
            Err(status) => {
                check(
                    format_args!("cpu_on_cpu{}", index),
                    Err(Why::new(format_args!("PSCI CPU_ON returned {}", status))),
                );
            }
        }
    }
    // Acquire: pairs with each CPU's Release increment of ARRIVED.
    let all_here = cpu::wait_until(Deadline::after_seconds(120), || {
        ARRIVED.load(Ordering::Acquire) == started
    });
    let arrived = ARRIVED.load(Ordering::Acquire);
    if !all_here {
        check(
            format_args!("cpus_at_barrier"),
            Err(Why::new(format_args!(
                "{} of {} started CPUs arrived within 120 s",
                arrived, started
            ))),
        );
    }
    println!(
        "test-host: {} CPUs at the barrier in {} ms; entering {} RECs at once, {} times each",
        arrived + 1,
        cpu::millis_since(start),
        cpus,
        ROUNDS
    );
    let go = cpu::ticks();
    // Release: pairs with the Acquire spin in `rec_job`.
    GO.store(1, Ordering::Release);
    rec_job_outcome(0, enter_rec(0));

    // Acquire: pairs with each CPU's Release increment of DONE (their REC is no longer in use).
    let arrived = ARRIVED.load(Ordering::Acquire);
    let all_done = cpu::wait_until(Deadline::after_seconds(300), || {
        DONE.load(Ordering::Acquire) == arrived
    });
    let ms = cpu::millis_since(go).max(1);
    if !all_done {
        check(
            format_args!("rec_enter_all_cpus"),
            Err(Why::new(format_args!(
                "{} of {} CPUs finished within 300 s",
                DONE.load(Ordering::Acquire),
                arrived
            ))),
        );
        return false;
    }
    // Relaxed: ordered by the Acquire loads of DONE above (see CALLS).
    let calls = CALLS.load(Ordering::Relaxed);
    let failed = FAILED.load(Ordering::Relaxed);
    check(
        format_args!(
            "rec_enter_all_cpus ({} CPUs, {} REC_ENTERs each)",
            arrived + 1,
            ROUNDS
        ),
        match (failed, arrived + 1 == cpus) {
            (0, true) => Ok(()),
            _ => Err(Why::new(format_args!(
                "{} CPUs failed, {} of {} took part",
                failed,
                arrived + 1,
                cpus
            ))),
        },
    );
    println!(
        "test-host: {} REC_ENTER calls on {} CPUs in {} ms: {} RMI calls/s across all CPUs",
        calls,
        arrived + 1,
        ms,
        calls * 1000 / ms
    );
    check(
        format_args!("cpu_off_all_secondaries"),
        if smp::all_off(cpus, 60) {
            Ok(())
        } else {
            Err(Why::new(format_args!(
                "AFFINITY_INFO did not report every other CPU off within 60 s"
            )))
        },
    );
    all_here || started == 0
}

/// The job of the other CPUs (`smp::start`): meet at the barrier, enter this CPU's REC.
fn rec_job(index: usize) {
    // Release: pairs with CPU 0's Acquire load of ARRIVED.
    ARRIVED.fetch_add(1, Ordering::Release);
    // Acquire: pairs with CPU 0's Release store of GO.
    let go = cpu::wait_until(Deadline::after_seconds(300), || {
        GO.load(Ordering::Acquire) != 0
    });
    let outcome = if go {
        enter_rec(index)
    } else {
        Err(Why::new(format_args!("no GO from CPU 0")))
    };
    rec_job_outcome(index, outcome);
    // Release: pairs with CPU 0's Acquire load of DONE; our REC is free from here on.
    DONE.fetch_add(1, Ordering::Release);
}

/// Counts CPU `index`'s outcome; a failure gets its own line.
fn rec_job_outcome(index: usize, outcome: Outcome) {
    if let Err(why) = outcome {
        // Relaxed: see FAILED.
        FAILED.fetch_add(1, Ordering::Relaxed);
        check(format_args!("rec_enter_cpu{}", index), Err(why));
    }
}

/// Enters this CPU's REC until it has checked [`ROUNDS`] stores. REC 0 is at its first store
/// of the loop (checked by `realm_psci`), which the first entry completes; the others start at
/// the program's worker entry.
fn enter_rec(index: usize) -> Outcome {
    // Relaxed: ordered after the Acquire that took this CPU's job (or written by this CPU).
    let rec = REC[index].load(Ordering::Relaxed);
    let Some(run) = crate::pool::granule(RUN[index].load(Ordering::Relaxed)) else {
        fail!("no RmiRecRun granule for CPU {}", index);
    };
    let mpidr = rec_mpidr(index);
    let (mut flags, mut n) = match index {
        0 => (ENTER_EMUL_MMIO, 1),
        _ => (0, 0),
    };
    let end = n + ROUNDS;
    let mut calls = 0;
    let outcome = loop {
        if n == end {
            break Ok(());
        }
        write_rec_enter(run, flags, &[]);
        calls += 1;
        if let Err(e) = call::rec_enter(rec, run.pa()) {
            break Err(Why::new(format_args!(
                "REC_ENTER #{} of REC {:#x}: {}",
                calls, rec, e
            )));
        }
        let exit = RecExit::read(run);
        if matches!(exit.exit_reason, EXIT_IRQ | EXIT_FIQ) {
            flags = 0;
            continue;
        }
        let expected = realm_code::expected_store(COOKIE, mpidr, n);
        if let Err(why) = check_exit(&exit, expected) {
            break Err(Why::new(format_args!("store #{}: {}", n, why.as_str())));
        }
        flags = ENTER_EMUL_MMIO;
        n += 1;
    };
    // Relaxed: see CALLS.
    CALLS.fetch_add(calls, Ordering::Relaxed);
    outcome
}

fn check_exit(exit: &RecExit, expected: u64) -> Outcome {
    let ec = exit.esr >> 26;
    if exit.exit_reason != EXIT_SYNC
        || ec != EC_DABT_LOWER
        || exit.esr & ESR_ISV == 0
        || exit.esr & ESR_WNR == 0
    {
        fail!(
            "reason {} ESR {:#x} FAR {:#x} HPFAR {:#x}, expected SYNC, EC 0x24 with ISV and WnR",
            exit.exit_reason,
            exit.esr,
            exit.far,
            exit.hpfar
        );
    }
    if exit.fault_ipa() != MMIO_IPA {
        fail!(
            "fault IPA {:#x} (HPFAR {:#x} FAR {:#x}), expected {:#x}",
            exit.fault_ipa(),
            exit.hpfar,
            exit.far,
            MMIO_IPA
        );
    }
    if exit.gpr0 != expected {
        fail!("stored value {:#x}, expected {:#x}", exit.gpr0, expected);
    }
    Ok(())
}
