//! PSCI calls to the EL3 firmware (SMC conduit, SMCCC SMC64 where the function takes addresses).

use rmm_arch::smc::smc;

const CPU_OFF: u64 = 0x8400_0002;
const CPU_ON: u64 = 0xC400_0003;
const AFFINITY_INFO: u64 = 0xC400_0004;
const SYSTEM_OFF: u64 = 0x8400_0008;

/// AFFINITY_INFO: the CPU is off.
pub const AFFINITY_OFF: i64 = 1;
/// PSCI_INVALID_PARAMETERS.
pub const INVALID_PARAMETERS: i64 = -2;
/// PSCI_ALREADY_ON.
pub const ALREADY_ON: i64 = -4;

/// CPU_ON: starts the CPU with affinity `mpidr` at `entry` (NS-EL2, MMU off) with x0 =
/// `context`. Returns the PSCI status (0 on success).
pub fn cpu_on(mpidr: u64, entry: u64, context: u64) -> i64 {
    smc([CPU_ON, mpidr, entry, context, 0, 0, 0, 0])[0] as i64
}

/// CPU_OFF: powers this CPU down. Returns only on failure, with the PSCI status.
pub fn cpu_off() -> i64 {
    smc([CPU_OFF, 0, 0, 0, 0, 0, 0, 0])[0] as i64
}

/// AFFINITY_INFO at level 0: 0 on, 1 off, 2 on pending, or a negative error.
pub fn affinity_info(mpidr: u64) -> i64 {
    smc([AFFINITY_INFO, mpidr, 0, 0, 0, 0, 0, 0])[0] as i64
}

/// SYSTEM_OFF: the EL3 firmware ends QEMU with status 0. Returns only if it did not.
pub fn system_off() {
    smc([SYSTEM_OFF, 0, 0, 0, 0, 0, 0, 0]);
}
