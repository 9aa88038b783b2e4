//! The other CPUs: one mailbox slot each. [`start`] posts a job to a CPU that is off and powers
//! it on with PSCI CPU_ON (at `secondary_entry`, context id = its index); the CPU runs the job
//! ([`secondary`]) and powers itself off again, back to the EL3 firmware's pen, where it waits
//! for the next CPU_ON without using the host's time.

use crate::console::println;
use crate::cpu::{self, Deadline, MAX_CPUS};
use crate::psci;
use core::sync::atomic::{AtomicUsize, Ordering};

/// A job: runs on the CPU whose index it is given.
pub type Job = fn(usize);

/// Each CPU's next job, as the function's address (0: none). [`start`] stores it with Release
/// before CPU_ON; the CPU takes it with an Acquire swap, so it sees what the starter wrote
/// before.
static JOBS: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];

/// How long [`start`] waits for a CPU to be off (the end of its last job).
const OFF_TIMEOUT_S: u64 = 30;

extern "C" {
    /// The entry point of CPUs started with CPU_ON (entry.rs).
    fn secondary_entry();
}

/// Runs `job` on CPU `index` (not 0): waits until the CPU is off, then powers it on. The PSCI
/// status on failure (INVALID_PARAMETERS for CPU 0 or one out of range, ALREADY_ON if it stays
/// on).
pub fn start(index: usize, job: Job) -> Result<(), i64> {
    let Some(slot) = JOBS
        .get(index)
        .filter(|_| index != 0 && index < cpu::count())
    else {
        return Err(psci::INVALID_PARAMETERS);
    };
    let mpidr = cpu::mpidr_of(index);
    let off = cpu::wait_until(Deadline::after_seconds(OFF_TIMEOUT_S), || {
        psci::affinity_info(mpidr) == psci::AFFINITY_OFF
    });
    if !off {
        return Err(psci::ALREADY_ON);
    }
    // Release: pairs with the Acquire swap in `secondary`.
    slot.store(job as usize, Ordering::Release);
    match psci::cpu_on(mpidr, secondary_entry as *const () as u64, index as u64) {
        0 => Ok(()),
        status => {
            // Relaxed: the CPU did not start, so nobody takes the slot.
            slot.store(0, Ordering::Relaxed);
            Err(status)
        }
    }
}

/// CPU `index`, from `main::secondary_main`: runs its job, then powers itself off.
pub fn secondary(index: usize) -> ! {
    // Acquire: pairs with the Release store in `start`.
    let job = JOBS
        .get(index)
        .map_or(0, |slot| slot.swap(0, Ordering::Acquire));
    if job == 0 {
        println!("{}: CPU {} started with no job", crate::name(), index);
    } else {
        // SAFETY: `start` is the only writer of non-zero values, each the address of a `Job`,
        // and a function pointer survives the round trip through `usize` unchanged.
        let job = unsafe { core::mem::transmute::<usize, Job>(job) };
        job(index);
    }
    let status = psci::cpu_off();
    println!(
        "{}: CPU {}: PSCI CPU_OFF returned {}",
        crate::name(),
        index,
        status
    );
    loop {
        // SAFETY: waiting for an interrupt has no memory effects.
        unsafe { core::arch::asm!("wfi", options(nomem, nostack)) };
    }
}

/// Whether CPUs 1..`cpus` are all off (AFFINITY_INFO) within `seconds`.
pub fn all_off(cpus: usize, seconds: u64) -> bool {
    cpu::wait_until(Deadline::after_seconds(seconds), || {
        (1..cpus).all(|index| psci::affinity_info(cpu::mpidr_of(index)) == psci::AFFINITY_OFF)
    })
}
