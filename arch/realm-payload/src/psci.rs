//! Typed PSCI calls from the realm (RMM spec B6.3, PSCI 1.1 function IDs). Results are PSCI
//! return codes as signed values.

use crate::smc::call;

/// PSCI_VERSION.
pub const VERSION: u64 = 0x8400_0000;
/// PSCI_CPU_SUSPEND (SMC32).
pub const CPU_SUSPEND_32: u64 = 0x8400_0001;
/// PSCI_CPU_OFF.
pub const CPU_OFF: u64 = 0x8400_0002;
/// PSCI_CPU_ON (SMC32).
pub const CPU_ON_32: u64 = 0x8400_0003;
/// PSCI_AFFINITY_INFO (SMC32).
pub const AFFINITY_INFO_32: u64 = 0x8400_0004;
/// PSCI_MIGRATE (SMC32): not offered to realms.
pub const MIGRATE_32: u64 = 0x8400_0005;
/// PSCI_SYSTEM_OFF.
pub const SYSTEM_OFF: u64 = 0x8400_0008;
/// PSCI_SYSTEM_RESET.
pub const SYSTEM_RESET: u64 = 0x8400_0009;
/// PSCI_FEATURES.
pub const FEATURES: u64 = 0x8400_000A;
/// PSCI_CPU_SUSPEND (SMC64).
pub const CPU_SUSPEND: u64 = 0xC400_0001;
/// PSCI_CPU_ON (SMC64).
pub const CPU_ON: u64 = 0xC400_0003;
/// PSCI_AFFINITY_INFO (SMC64).
pub const AFFINITY_INFO: u64 = 0xC400_0004;

/// PSCI_SUCCESS.
pub const SUCCESS: i64 = 0;
/// PSCI_NOT_SUPPORTED.
pub const NOT_SUPPORTED: i64 = -1;
/// PSCI_INVALID_PARAMETERS.
pub const INVALID_PARAMETERS: i64 = -2;
/// PSCI_ALREADY_ON.
pub const ALREADY_ON: i64 = -4;
/// AFFINITY_INFO: the target is off.
pub const AFFINITY_OFF: i64 = 1;

fn psci(fid: u64, args: &[u64]) -> i64 {
    call(fid, args)[0] as i64
}

/// PSCI_VERSION: major in 31:16, minor in 15:0.
pub fn version() -> u64 {
    call(VERSION, &[])[0]
}

/// PSCI_FEATURES(fid).
pub fn features(fid: u64) -> i64 {
    psci(FEATURES, &[fid])
}

/// PSCI_CPU_ON(target MPIDR, entry IPA, context id).
pub fn cpu_on(mpidr: u64, entry: u64, context: u64) -> i64 {
    psci(CPU_ON, &[mpidr, entry, context])
}

/// PSCI_CPU_OFF: returns only on failure.
pub fn cpu_off() -> i64 {
    psci(CPU_OFF, &[])
}

/// PSCI_AFFINITY_INFO(target MPIDR, level 0): 0 on, 1 off, or an error.
pub fn affinity_info(mpidr: u64) -> i64 {
    psci(AFFINITY_INFO, &[mpidr, 0])
}

/// PSCI_CPU_SUSPEND(power_state, entry, context).
pub fn cpu_suspend(power_state: u64, entry: u64, context: u64) -> i64 {
    psci(CPU_SUSPEND, &[power_state, entry, context])
}

/// PSCI_SYSTEM_OFF: returns only if the RMM did not stop the realm, with the result.
pub fn system_off() -> i64 {
    psci(SYSTEM_OFF, &[])
}
