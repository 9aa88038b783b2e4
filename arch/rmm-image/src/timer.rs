//! The EL1 timers around a realm's run (RMM spec A6.2): the realm's CNTV/CNTP registers replace
//! the Normal world's while it runs, the virtual offset is zero, and the hardware signal of a
//! timer the core chose to mask ([`rmm::rec::VcpuContext::timer_mask`]) is masked with
//! CNTHCTL_EL2.CNTVMASK/CNTPMASK (FEAT_RME), so that the realm runs while the host presents that
//! timer as a virtual interrupt. An unmasked timer that fires interrupts the realm (its PPI
//! is a physical IRQ, taken to R-EL2: a REC exit due to IRQ).

use rmm::rec::{TimerOutputs, Timers};
use rmm_arch::{read_sysreg, write_sysreg};

/// CNTHCTL_EL2 (E2H = 0) while a realm runs: EL1 may use the physical counter and timer
/// (EL1PCTEN, EL1PCEN).
const CNTHCTL_REALM: u64 = 0b11;
/// CNTHCTL_EL2.CNTVMASK: the EL1 virtual timer's interrupt signal is masked.
const CNTHCTL_CNTVMASK: u64 = 1 << 18;
/// CNTHCTL_EL2.CNTPMASK: the EL1 physical timer's interrupt signal is masked.
const CNTHCTL_CNTPMASK: u64 = 1 << 19;

/// Reads the EL1 timer registers of whoever ran at EL1 last.
pub fn save() -> Timers {
    Timers {
        cntv_ctl: read_sysreg!("cntv_ctl_el0"),
        cntv_cval: read_sysreg!("cntv_cval_el0"),
        cntp_ctl: read_sysreg!("cntp_ctl_el0"),
        cntp_cval: read_sysreg!("cntp_cval_el0"),
    }
}

/// Loads EL1 timer registers: each compare value before its control, so that no timer fires
/// on the other world's compare value.
pub fn restore(t: &Timers) {
    // SAFETY: the EL1 timers only raise their PPIs, which R-EL2 does not take (PSTATE.I is
    // masked at R-EL2); they do not affect the RMM's execution.
    unsafe {
        write_sysreg!("cntv_cval_el0", t.cntv_cval);
        write_sysreg!("cntv_ctl_el0", t.cntv_ctl);
        write_sysreg!("cntp_cval_el0", t.cntp_cval);
        write_sysreg!("cntp_ctl_el0", t.cntp_ctl);
    }
}

/// Sets the EL2 timer controls for the realm's run: the signals in `mask` masked, the virtual
/// offset zero (A6.2). Before [`restore`] of the realm's timers, so that a masked timer never
/// raises its PPI.
pub fn enter(mask: TimerOutputs) {
    let mut cnthctl = CNTHCTL_REALM;
    if mask.virt {
        cnthctl |= CNTHCTL_CNTVMASK;
    }
    if mask.phys {
        cnthctl |= CNTHCTL_CNTPMASK;
    }
    // SAFETY: CNTHCTL_EL2 and CNTVOFF_EL2 only govern EL1/EL0 access to the counters and timers
    // and the EL1 timers' signals; EL3 switches both per world.
    unsafe {
        write_sysreg!("cnthctl_el2", cnthctl);
        write_sysreg!("cntvoff_el2", 0);
        core::arch::asm!("isb", options(nostack));
    }
}

/// Unmasks both signals after the realm's run, once the Normal world's timers are back (so that
/// the realm's timer never raises its PPI on the way out).
pub fn leave() {
    // SAFETY: as in `enter`.
    unsafe { write_sysreg!("cnthctl_el2", CNTHCTL_REALM) };
}
