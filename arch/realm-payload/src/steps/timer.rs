//! The EL1 timers (RMM spec A6.2, the timer interrupt delivery flow of D1.6.2): the realm arms
//! a timer 1 ms ahead and polls its virtual CPU interface. The timer fires as a physical IRQ,
//! which ends the realm's run; the host finds the timer asserted in RmiRecExit and injects its
//! PPI through a list register; the RMM enters the realm again with the timer's signal masked,
//! so the realm runs, acknowledges the virtual interrupt, disables the timer and ends it.
//! PSTATE.I stays masked: the interrupt is taken by reading ICC_IAR1_EL1, not by a vector.

use crate::report::step;
use rmm_arch::realm_report::{Step, PTIMER_INTID, VTIMER_INTID};
use rmm_arch::{isb, read_sysreg, write_sysreg};

/// CNTx_CTL_EL0.ENABLE.
const CTL_ENABLE: u64 = 1;
/// CNTx_CTL_EL0 of a timer that asserts its output: ENABLE and ISTATUS, IMASK clear.
const CTL_FIRED: u64 = 0b101;
/// ICC_IAR1_EL1 when no interrupt is pending.
pub const SPURIOUS: u64 = 1023;

/// The EL1 virtual timer fires once and is seen as a virtual interrupt.
pub fn virtual_timer() {
    fire(Timer::Virtual);
}

/// The EL1 physical timer fires once and is seen as a virtual interrupt.
pub fn physical_timer() {
    fire(Timer::Physical);
}

#[derive(Clone, Copy)]
enum Timer {
    Virtual,
    Physical,
}

impl Timer {
    fn counter(self) -> u64 {
        isb!();
        match self {
            Timer::Virtual => read_sysreg!("cntvct_el0"),
            Timer::Physical => read_sysreg!("cntpct_el0"),
        }
    }

    fn ctl(self) -> u64 {
        match self {
            Timer::Virtual => read_sysreg!("cntv_ctl_el0"),
            Timer::Physical => read_sysreg!("cntp_ctl_el0"),
        }
    }

    /// Programs the timer: compare value `cval`, control `ctl`.
    fn set(self, cval: u64, ctl: u64) {
        // SAFETY: the realm's own EL1 timer registers: they only raise the timer's interrupt,
        // which this code never takes (PSTATE.I is masked), and touch no memory.
        unsafe {
            match self {
                Timer::Virtual => {
                    write_sysreg!("cntv_cval_el0", cval);
                    write_sysreg!("cntv_ctl_el0", ctl);
                }
                Timer::Physical => {
                    write_sysreg!("cntp_cval_el0", cval);
                    write_sysreg!("cntp_ctl_el0", ctl);
                }
            }
        }
        isb!();
    }
}

/// The virtual CPU interface: every priority unmasked, Group 1 enabled.
pub fn vgic_enable() {
    // SAFETY: ICC_PMR_EL1 and ICC_IGRPEN1_EL1 (the virtual interface's, HCR_EL2.IMO is set)
    // only decide which virtual interrupts are signalled; PSTATE.I stays masked.
    unsafe {
        write_sysreg!("s3_0_c4_c6_0", 0xff); // ICC_PMR_EL1
        write_sysreg!("s3_0_c12_c12_7", 1); // ICC_IGRPEN1_EL1
    }
    isb!();
}

/// ICC_IAR1_EL1: acknowledges the highest-priority pending Group 1 interrupt, or SPURIOUS.
pub fn acknowledge() -> u64 {
    read_sysreg!("s3_0_c12_c12_0") & 0xff_ffff
}

/// ICC_EOIR1_EL1: drops priority and deactivates `intid` (EOImode 0).
pub fn end_of_interrupt(intid: u64) {
    // SAFETY: ends the interrupt this code acknowledged; no memory effect.
    unsafe { write_sysreg!("s3_0_c12_c12_1", intid) };
    isb!();
}

fn fire(timer: Timer) {
    let (step_id, expected) = match timer {
        Timer::Virtual => (Step::VirtualTimer, VTIMER_INTID),
        Timer::Physical => (Step::PhysicalTimer, PTIMER_INTID),
    };
    vgic_enable();
    let frequency = read_sysreg!("cntfrq_el0").max(1000);
    let cval = timer.counter() + frequency / 1000;
    timer.set(cval, CTL_ENABLE);
    // Wait up to a second past the deadline for the host's virtual interrupt.
    let give_up = cval + frequency;
    let mut intid = acknowledge();
    while intid == SPURIOUS && timer.counter() < give_up {
        core::hint::spin_loop();
        intid = acknowledge();
    }
    let ctl = timer.ctl();
    timer.set(0, 0);
    if intid != SPURIOUS {
        end_of_interrupt(intid);
    }
    let ok = intid == expected && ctl & 0b111 == CTL_FIRED;
    step(step_id, ok, [intid, ctl, cval, 0]);
}
