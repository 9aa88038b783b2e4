//! Microseconds from the generic timer (CNTPCT_EL0 / CNTFRQ_EL0), for boot time-outs.

use rmm_arch::read_sysreg;

/// Microseconds since the counter started.
pub fn now_us() -> u64 {
    let cnt = read_sysreg!("cntpct_el0");
    let freq = read_sysreg!("cntfrq_el0").max(1);
    ((u128::from(cnt) * 1_000_000) / u128::from(freq)) as u64
}
