//! PSCI towards RECs that are running: each secondary REC, once alive, says so and waits for
//! REC 0 before it calls CPU_OFF ([`hold`]); meanwhile REC 0 checks that AFFINITY_INFO finds
//! it ON and that CPU_ON of it is ALREADY_ON ([`while_secondaries_run`]), which the host can
//! only complete while the target REC runs on another CPU. Once they are off, REC 1 is started
//! again ([`restart`]). Every wait is bounded in time.

use super::Config;
use crate::entry::secondary_entry_ipa;
use crate::psci::{self, ALREADY_ON, SUCCESS};
use crate::report::step;
use core::sync::atomic::{AtomicBool, Ordering};
use rmm_arch::realm_report::{Step, MAX_RECS};

/// Seconds each wait lasts at most.
pub const WAIT_S: u64 = 10;
/// AFFINITY_INFO: the target is on.
const AFFINITY_ON: i64 = 0;

/// Per REC: it is alive and waits for [`RELEASED`]. Set with Release by the REC, which pairs
/// with REC 0's Acquire load.
static HERE: [AtomicBool; MAX_RECS as usize] =
    [const { AtomicBool::new(false) }; MAX_RECS as usize];
/// REC 0 is done with the running RECs: they may call CPU_OFF. Release by REC 0, Acquire by
/// the others.
static RELEASED: AtomicBool = AtomicBool::new(false);

/// The virtual counter.
fn counter() -> u64 {
    rmm_arch::isb!();
    rmm_arch::read_sysreg!("cntvct_el0")
}

/// Calls `done` until it returns true (then true) or [`WAIT_S`] have passed (then false).
pub fn wait(mut done: impl FnMut() -> bool) -> bool {
    let ticks = WAIT_S.saturating_mul(rmm_arch::read_sysreg!("cntfrq_el0"));
    let deadline = counter().saturating_add(ticks);
    loop {
        if done() {
            return true;
        }
        if counter() >= deadline {
            return false;
        }
        core::hint::spin_loop();
    }
}

/// REC 0, after CPU_ON of RECs 1..N-1: once each is alive, AFFINITY_INFO of it is ON and
/// CPU_ON of it ALREADY_ON; then lets them all go.
pub fn while_secondaries_run(config: &Config) {
    for index in 1..config.recs {
        // Acquire: see HERE.
        let here = wait(|| {
            HERE.get(index as usize)
                .is_some_and(|here| here.load(Ordering::Acquire))
        });
        let state = psci::affinity_info(index);
        let ok = here && state == AFFINITY_ON;
        step(Step::AffinityOn, ok, [state as u64, index, here as u64, 0]);
        let result = psci::cpu_on(index, secondary_entry_ipa(), index);
        let ok = here && result == ALREADY_ON;
        step(
            Step::CpuOnRunning,
            ok,
            [result as u64, index, here as u64, 0],
        );
    }
    // Release: see RELEASED.
    RELEASED.store(true, Ordering::Release);
}

/// REC 0, once the others are off: CPU_ON of REC 1 again (SUCCESS: it starts afresh, is alive,
/// is not held, and calls CPU_OFF), then AFFINITY_INFO until it is off again.
pub fn restart(config: &Config) {
    if config.recs < 2 {
        return;
    }
    let result = psci::cpu_on(1, secondary_entry_ipa(), 1);
    step(
        Step::CpuOnAgain,
        result == SUCCESS,
        [result as u64, 1, 0, 0],
    );
    super::psci::wait_off(1);
}

/// A secondary REC with index `context`, alive: waits until REC 0 releases it. False if it
/// waited in vain.
pub fn hold(context: u64) -> bool {
    if let Some(here) = HERE.get(context as usize) {
        // Release: see HERE.
        here.store(true, Ordering::Release);
    }
    // Acquire: see RELEASED.
    wait(|| RELEASED.load(Ordering::Acquire))
}
