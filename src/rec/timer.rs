//! The realm's EL1 timers (spec A6.2): the state REC exit reports, and which hardware timer
//! signals REC entry masks.
//!
//! Every REC exit reports CNTV_CTL/CVAL and CNTP_CTL/CVAL as the realm left them (the CVALs as
//! if the counter offsets were zero: the RMM keeps CNTVOFF_EL2 at zero and applies no
//! CNTPOFF_EL2). On REC entry, a timer that asserts its output in the state reported at the
//! previous exit has its hardware signal masked while the realm runs (the host is expected to
//! present it as a virtual interrupt instead); the RMM exits to the host with an IRQ as soon as
//! it sees a timer output differ from that reported state, which is when the virtual interrupt
//! may need to become pending or idle (D1.6.2).
//!
//! The platform applies the mask (CNTHCTL_EL2.CNTVMASK/CNTPMASK, FEAT_RME) and saves the
//! registers at every trap; the decisions are here.
//!
//! A masked timer that the realm re-arms and that fires again before any REC exit causes no
//! exit by itself (the RMM does not trap timer register accesses). The host learns of it at
//! the next exit; a host that needs it at once asks for an EOI maintenance interrupt in the
//! timer's list register (`ICH_LR<n>_EL2.EOI`), whose physical IRQ ends the run when the realm
//! deactivates the virtual interrupt, as KVM does for level-triggered interrupts.

use crate::rmi::params::RecExit;

/// CNTx_CTL_EL0.ENABLE.
pub const CTL_ENABLE: u64 = 1 << 0;
/// CNTx_CTL_EL0.IMASK.
pub const CTL_IMASK: u64 = 1 << 1;
/// CNTx_CTL_EL0.ISTATUS: the timer condition is met (read-only).
pub const CTL_ISTATUS: u64 = 1 << 2;

/// Whether a timer with control register `ctl` asserts its output: enabled, condition met,
/// not masked by IMASK.
pub const fn asserts(ctl: u64) -> bool {
    ctl & (CTL_ENABLE | CTL_IMASK | CTL_ISTATUS) == CTL_ENABLE | CTL_ISTATUS
}

/// The realm's EL1 timer registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timers {
    /// CNTV_CTL_EL0.
    pub cntv_ctl: u64,
    /// CNTV_CVAL_EL0 (CNTVOFF_EL2 is zero).
    pub cntv_cval: u64,
    /// CNTP_CTL_EL0.
    pub cntp_ctl: u64,
    /// CNTP_CVAL_EL0 (no physical offset).
    pub cntp_cval: u64,
}

/// One flag per EL1 timer: which outputs are asserted, or which hardware signals are masked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimerOutputs {
    /// The EL1 virtual timer.
    pub virt: bool,
    /// The EL1 physical timer.
    pub phys: bool,
}

impl Timers {
    /// Which timers assert their output in this state.
    pub const fn asserted(&self) -> TimerOutputs {
        TimerOutputs {
            virt: asserts(self.cntv_ctl),
            phys: asserts(self.cntp_ctl),
        }
    }

    /// Exposes the state in the REC exit (A6.2, RmiRecExit 0x400..0x418), whatever the exit
    /// reason.
    pub fn report(&self, exit: &mut RecExit) {
        exit.cntv_ctl = self.cntv_ctl;
        exit.cntv_cval = self.cntv_cval;
        exit.cntp_ctl = self.cntp_ctl;
        exit.cntp_cval = self.cntp_cval;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rmi::params::RecExitReason;

    #[test]
    fn asserts_needs_enable_and_istatus_without_imask() {
        for ctl in 0..8u64 {
            assert_eq!(asserts(ctl), ctl == 0b101, "ctl {ctl:#b}");
        }
        // Other bits (RES0 or a future field) do not count.
        assert!(asserts(0b101 | 1 << 8));
    }

    #[test]
    fn report_fills_the_four_fields() {
        let t = Timers {
            cntv_ctl: 5,
            cntv_cval: 0x1111,
            cntp_ctl: 3,
            cntp_cval: 0x2222,
        };
        let mut exit = RecExit::new(RecExitReason::Irq);
        t.report(&mut exit);
        let fields = [exit.cntv_ctl, exit.cntv_cval, exit.cntp_ctl, exit.cntp_cval];
        assert_eq!(fields, [5, 0x1111, 3, 0x2222]);
        assert_eq!(
            t.asserted(),
            TimerOutputs {
                virt: true,
                phys: false
            }
        );
    }
}
