//! REC 0 of the big realm ([`super::realm`]) starts every other REC with PSCI CPU_ON, across
//! Aff1 clusters, and checks PSCI AFFINITY_INFO before (OFF) and after (ON) each, all on this
//! CPU: the host completes each PSCI exit with RMI_PSCI_COMPLETE naming the REC of the MPIDR,
//! and checks each result the realm stores back (`realm_code`). The RMM answers
//! AFFINITY_INFO from the target REC's runnable flag (B6.3.1) and makes a CPU_ON target
//! runnable at the entry point with x0 = the context id (B4.3.7), so every check is the
//! RMM's, for every REC.

use super::realm::{COOKIE, REC, RUN};
use crate::console::println;
use crate::params::{write_rec_enter, RecExit, ENTER_EMUL_MMIO, EXIT_FIQ, EXIT_IRQ, EXIT_PSCI};
use crate::realm_code::{self, AFFINITY_AFTER, AFFINITY_BEFORE, CPU_ON, MMIO_IPA};
use crate::report::{check, fail, rmi, Outcome};
use crate::rmi as call;
use core::sync::atomic::Ordering;
use ns_el2::rec_run::rec_mpidr;
use rmm::psci as fid;

/// ESR_EL2.EC of a Data Abort from a lower exception level; ISV and WnR.
const EC_DABT_LOWER: u64 = 0x24;
const ESR_ISV: u64 = 1 << 24;
const ESR_WNR: u64 = 1 << 6;
/// PSCI return values the realm reports (as their low byte).
const PSCI_SUCCESS: u64 = 0;
const PSCI_OFF: u64 = 1;
/// Most REC 0 exits before giving up: 6 per other REC, and a few IRQs.
const EXITS_PER_REC: usize = 6;

/// Runs REC 0 on this CPU until it has started and checked every other REC of `rd`'s `cpus`
/// and made its first store of the program's loop. True if it did (REC 0 then waits for
/// the emulation of that store).
pub fn start_recs(cpus: usize) -> bool {
    let start = crate::cpu::ticks();
    let outcome = run_rec0(cpus);
    let ms = crate::cpu::millis_since(start);
    let clusters = cpus.div_ceil(16);
    let ok = check(
        format_args!(
            "realm_psci_cpu_on_across_clusters ({} RECs in {} clusters: AFFINITY_INFO OFF, CPU_ON SUCCESS, AFFINITY_INFO ON, each)",
            cpus - 1,
            clusters
        ),
        outcome,
    );
    if ok {
        println!(
            "test-host: REC 0 started {} RECs with PSCI CPU_ON in {} ms",
            cpus - 1,
            ms
        );
    }
    ok
}

/// Where REC 0 is in its sequence.
struct Sequence {
    /// The REC it works on (1..), and the next report kind it owes for it.
    target: usize,
    kind: u64,
}

fn run_rec0(cpus: usize) -> Outcome {
    // Relaxed: CPU 0 wrote them (realm::build).
    let rec0 = REC[0].load(Ordering::Relaxed);
    let Some(run) = crate::pool::granule(RUN[0].load(Ordering::Relaxed)) else {
        fail!("no RmiRecRun granule for REC 0");
    };
    let mut seq = Sequence {
        target: 1,
        kind: AFFINITY_BEFORE,
    };
    let mut flags = 0;
    for _ in 0..EXITS_PER_REC * cpus + 64 {
        write_rec_enter(run, flags, &[]);
        rmi!("REC_ENTER of REC 0", call::rec_enter(rec0, run.pa()));
        let exit = RecExit::read(run);
        flags = 0;
        match exit.exit_reason {
            EXIT_PSCI => psci_exit(&exit, &seq, rec0)?,
            EXIT_IRQ | EXIT_FIQ => {}
            _ => {
                let value = store(&exit)?;
                if seq.target >= cpus {
                    let expected = realm_code::expected_store(COOKIE, rec_mpidr(0), 0);
                    if value != expected {
                        fail!("REC 0's first store {:#x}, expected {:#x}", value, expected);
                    }
                    return Ok(());
                }
                check_report(value, &mut seq)?;
                flags = ENTER_EMUL_MMIO;
            }
        }
    }
    fail!(
        "REC 0 did not get through its sequence: at REC {} of {}",
        seq.target,
        cpus
    );
}

/// A PSCI exit: the call REC 0 owes for the current target, completed naming that REC.
fn psci_exit(exit: &RecExit, seq: &Sequence, rec0: u64) -> Outcome {
    let expected = match seq.kind {
        CPU_ON => fid::PSCI_CPU_ON,
        _ => fid::PSCI_AFFINITY_INFO,
    };
    let mpidr = rec_mpidr(seq.target);
    if exit.gpr0 != expected || exit.gpr1 != mpidr {
        fail!(
            "PSCI exit for {:#x}({:#x}), expected {:#x}({:#x}) for REC {}",
            exit.gpr0,
            exit.gpr1,
            expected,
            mpidr,
            seq.target
        );
    }
    // Relaxed: as in `run_rec0`.
    let target = REC[seq.target].load(Ordering::Relaxed);
    rmi!(
        format_args!("PSCI_COMPLETE(REC 0 -> REC {})", seq.target),
        call::psci_complete(rec0, target, fid::PsciReturn::Success.encode())
    );
    Ok(())
}

/// The value of an emulatable store to the MMIO IPA.
fn store(exit: &RecExit) -> Result<u64, crate::report::Why> {
    let ec = exit.esr >> 26;
    if ec != EC_DABT_LOWER || exit.esr & ESR_ISV == 0 || exit.esr & ESR_WNR == 0 {
        fail!(
            "REC 0: reason {} ESR {:#x} FAR {:#x}, expected PSCI or an emulatable store",
            exit.exit_reason,
            exit.esr,
            exit.far
        );
    }
    if exit.fault_ipa() != MMIO_IPA {
        fail!(
            "REC 0 stored to IPA {:#x}, expected {:#x}",
            exit.fault_ipa(),
            MMIO_IPA
        );
    }
    Ok(exit.gpr0)
}

/// A report of REC 0: the one it owes next, with the result the spec requires.
fn check_report(value: u64, seq: &mut Sequence) -> Outcome {
    let result = match seq.kind {
        AFFINITY_BEFORE => PSCI_OFF,
        _ => PSCI_SUCCESS,
    };
    let mpidr = rec_mpidr(seq.target);
    let expected = realm_code::report(seq.kind, mpidr, result);
    if value != expected {
        fail!(
            "REC {} (MPIDR {:#x}): REC 0 reported {:#x}, expected {:#x} ({})",
            seq.target,
            mpidr,
            value,
            expected,
            match seq.kind {
                AFFINITY_BEFORE => "AFFINITY_INFO OFF before CPU_ON",
                CPU_ON => "CPU_ON SUCCESS",
                _ => "AFFINITY_INFO ON after CPU_ON",
            }
        );
    }
    (seq.target, seq.kind) = match seq.kind {
        AFFINITY_AFTER => (seq.target + 1, AFFINITY_BEFORE),
        kind => (seq.target, kind + 1),
    };
    Ok(())
}
