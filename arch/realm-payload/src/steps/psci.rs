//! PSCI from the realm: VERSION, FEATURES, CPU_ON of the other RECs (each reports itself alive,
//! waits for REC 0 ([`super::running`]) and calls CPU_OFF), AFFINITY_INFO until they are off,
//! CPU_SUSPEND.

use super::{running, Config};
use crate::entry::{park, secondary_entry_ipa};
use crate::psci::{self, AFFINITY_OFF, ALREADY_ON, INVALID_PARAMETERS, NOT_SUPPORTED, SUCCESS};
use crate::report::step;
use rmm_arch::realm_report::Step;

/// The functions PSCI_FEATURES is asked about, and whether each must be implemented.
const FUNCTIONS: [(u64, bool); 13] = [
    (psci::VERSION, true),
    (psci::CPU_SUSPEND_32, true),
    (psci::CPU_SUSPEND, true),
    (psci::CPU_OFF, true),
    (psci::CPU_ON_32, true),
    (psci::CPU_ON, true),
    (psci::AFFINITY_INFO_32, true),
    (psci::AFFINITY_INFO, true),
    (psci::SYSTEM_OFF, true),
    (psci::SYSTEM_RESET, true),
    (psci::FEATURES, true),
    (psci::MIGRATE_32, false),
    (0xC400_001F, false),
];

/// PSCI_VERSION: at least 1.1 (B6.2), major 1.
pub fn version() {
    let v = psci::version();
    step(
        Step::PsciVersion,
        v >> 16 == 1 && v & 0xffff >= 1,
        [v, 0, 0, 0],
    );
}

/// PSCI_FEATURES of each function: implemented (>= 0) or NOT_SUPPORTED as expected.
pub fn features() {
    for (fid, implemented) in FUNCTIONS {
        let result = psci::features(fid);
        let ok = if implemented {
            result >= 0
        } else {
            result == NOT_SUPPORTED
        };
        step(
            Step::PsciFeatures,
            ok,
            [fid, result as u64, implemented as u64, 0],
        );
    }
}

/// CPU_ON of REC 0 itself (ALREADY_ON) and of an MPIDR no REC has (INVALID_PARAMETERS).
pub fn cpu_on_invalid(config: &Config) {
    let entry = secondary_entry_ipa();
    let result = psci::cpu_on(0, entry, 0);
    step(
        Step::CpuOnSelf,
        result == ALREADY_ON,
        [result as u64, 0, 0, 0],
    );
    let result = psci::cpu_on(config.recs, entry, config.recs);
    let ok = result == INVALID_PARAMETERS;
    step(Step::CpuOnBadMpidr, ok, [result as u64, config.recs, 0, 0]);
}

/// CPU_ON of RECs 1..N-1 at `secondary_entry` with context id = the REC index.
pub fn start_secondaries(config: &Config) {
    let entry = secondary_entry_ipa();
    for index in 1..config.recs {
        let result = psci::cpu_on(index, entry, index);
        step(
            Step::CpuOn,
            result == SUCCESS,
            [result as u64, index, entry, 0],
        );
    }
}

/// AFFINITY_INFO of RECs 1..N-1 until each is OFF (each calls CPU_OFF once released).
pub fn wait_secondaries_off(config: &Config) {
    for index in 1..config.recs {
        wait_off(index);
    }
}

/// AFFINITY_INFO of REC `index` until it is OFF.
pub fn wait_off(index: u64) {
    let (mut state, mut polls) = (0, 0);
    let off = running::wait(|| {
        state = psci::affinity_info(index);
        polls += 1;
        state == AFFINITY_OFF
    });
    step(Step::AffinityOff, off, [state as u64, index, polls, 0]);
}

/// CPU_SUSPEND (power state 0): returns SUCCESS when the host enters the REC again.
pub fn cpu_suspend() {
    let result = psci::cpu_suspend(0, 0, 0);
    step(
        Step::CpuSuspend,
        result == SUCCESS,
        [result as u64, 0, 0, 0],
    );
}

/// A secondary REC (from `secondary_main`): reports itself alive with its MPIDR and context
/// id, waits for REC 0, then calls CPU_OFF; if REC 0 never came or CPU_OFF returns, reports the
/// failure (value 3: 2 or 1).
pub fn secondary(context: u64) -> ! {
    let mpidr = rmm_arch::read_sysreg!("mpidr_el1");
    step(Step::Alive, mpidr & 0xff == context, [mpidr, context, 0, 0]);
    if !running::hold(context) {
        step(Step::Alive, false, [mpidr, context, 0, 2]);
    }
    let result = psci::cpu_off();
    step(Step::Alive, false, [mpidr, context, result as u64, 1]);
    park()
}
