//! This CPU: its index, the generic timer for timeouts, and waiting without burning the host.

/// Most CPUs the test host drives (stacks in link.ld; MPIDR Aff0 on QEMU virt).
pub const MAX_CPUS: usize = 16;

/// The index of this CPU: MPIDR_EL1 Aff0 (QEMU virt numbers CPUs 0..15 in Aff0).
pub fn current() -> usize {
    (rmm_arch::read_sysreg!("mpidr_el1") & 0xff) as usize
}

/// The MPIDR affinity value PSCI CPU_ON takes for CPU `index`.
pub const fn mpidr_of(index: usize) -> u64 {
    index as u64
}

/// Physical counter ticks per second.
fn frequency() -> u64 {
    rmm_arch::read_sysreg!("cntfrq_el0").max(1)
}

/// The physical counter.
fn now() -> u64 {
    rmm_arch::isb!();
    rmm_arch::read_sysreg!("cntpct_el0")
}

/// A deadline some seconds from now.
#[derive(Clone, Copy)]
pub struct Deadline(u64);

impl Deadline {
    /// `seconds` from now.
    pub fn after_seconds(seconds: u64) -> Self {
        Self(now().saturating_add(seconds.saturating_mul(frequency())))
    }

    /// Whether it has passed.
    pub fn passed(self) -> bool {
        now() >= self.0
    }
}

/// Spins until `done` returns true or `deadline` passes; true if `done` did.
pub fn wait_until(deadline: Deadline, mut done: impl FnMut() -> bool) -> bool {
    loop {
        if done() {
            return true;
        }
        if deadline.passed() {
            return false;
        }
        core::hint::spin_loop();
    }
}

/// Milliseconds since `start` (a counter value from [`ticks`]).
pub fn millis_since(start: u64) -> u64 {
    now().saturating_sub(start).saturating_mul(1000) / frequency()
}

/// The counter, for [`millis_since`].
pub fn ticks() -> u64 {
    now()
}
