//! The host's side of the realm's EL1 timers (RMM spec A6.2, D1.6.2): after every REC exit,
//! whatever its reason, the host reads the timer state in RmiRecExit and keeps each timer's
//! PPI in a list register as a level: pending while the timer asserts its output, retired when
//! it stops before the realm took it. The timers' physical PPIs are enabled on this CPU, so a
//! realm timer that fires interrupts the realm (a REC exit due to IRQ).
//!
//! Also checks that the Normal world's own EL1 timers survive the realm's runs.

use crate::granule::Granule;
use crate::params::{pending_lr, ENTER_LRS, EXIT_IRQ, EXIT_LRS};
use crate::report::{Outcome, Why};
use rmm_arch::realm_report::{Step, PMU_INTID, PTIMER_INTID, VTIMER_INTID};
use rmm_arch::{isb, read_sysreg, write_sysreg};

/// RmiRecRun offsets (B4.4.16): exit.cntp_ctl/cval, exit.cntv_ctl/cval.
const EXIT_CNTP_CTL: usize = 0x800 + 0x400;
const EXIT_CNTP_CVAL: usize = 0x800 + 0x408;
const EXIT_CNTV_CTL: usize = 0x800 + 0x410;
const EXIT_CNTV_CVAL: usize = 0x800 + 0x418;

/// Whether a timer with control value `ctl` asserts its output: ENABLE, ISTATUS, not IMASK.
fn asserts(ctl: u64) -> bool {
    ctl & 0b111 == 0b101
}

/// One REC's timers as the host sees them. Index 0: the virtual timer (list register 0),
/// 1: the physical timer (list register 1).
#[derive(Clone, Copy, Default)]
pub struct RecTimers {
    /// The list registers of the next entry.
    lrs: [u64; 2],
    /// REC exits due to IRQ that showed the timer asserted, and the last one's CTL and CVAL.
    fired: [u32; 2],
    last_fired: [(u64, u64); 2],
    /// Injections of the timer's PPI.
    injected: [u32; 2],
}

impl RecTimers {
    /// After every exit: the timer state, and what the list registers hold now.
    pub fn on_exit(&mut self, run: Granule) {
        let reason = run.read_u64(0x800) & 0xff;
        let state = [
            (run.read_u64(EXIT_CNTV_CTL), run.read_u64(EXIT_CNTV_CVAL)),
            (run.read_u64(EXIT_CNTP_CTL), run.read_u64(EXIT_CNTP_CVAL)),
        ];
        for (i, (ctl, cval)) in state.into_iter().enumerate() {
            let lr = run.read_u64(EXIT_LRS + 8 * i);
            let lr_state = lr >> 62;
            self.lrs[i] = if asserts(ctl) {
                if reason == EXIT_IRQ {
                    self.fired[i] += 1;
                    self.last_fired[i] = (ctl, cval);
                }
                if lr_state == 0 {
                    self.injected[i] += 1;
                    pending_lr([VTIMER_INTID, PTIMER_INTID][i])
                } else {
                    lr
                }
            } else if lr_state == 1 {
                0 // pending only: the level dropped before the realm took it
            } else {
                lr
            };
        }
    }

    /// Before every entry: the list registers (after `write_rec_enter`, which zeroes them).
    pub fn on_entry(&self, run: Granule) {
        for (i, &lr) in self.lrs.iter().enumerate() {
            run.write_u64(ENTER_LRS + 8 * i, lr);
        }
    }

    /// The host's check of a timer step ([2] INTID, [3] CTL, [4] CVAL as the realm saw them):
    /// exactly one REC exit due to IRQ showed the timer asserted, with the realm's CVAL (the
    /// signal was masked on the next entry, or the realm would have exited again), and the PPI
    /// was injected once.
    pub fn check(&self, step: Step, values: &[u64; 4]) -> Outcome {
        let i = usize::from(step == Step::PhysicalTimer);
        let (ctl, cval) = self.last_fired[i];
        if self.fired[i] != 1 || self.injected[i] != 1 || !asserts(ctl) || cval != values[2] {
            return Err(Why::new(format_args!(
                "{} IRQ exits with the timer asserted (last CTL {:#x} CVAL {:#x}, realm's {:#x}), {} injections",
                self.fired[i], ctl, cval, values[2], self.injected[i]
            )));
        }
        Ok(())
    }
}

/// Enables (or disables) the EL1 timers' PPIs and the PMU's (`super::features`) at this CPU's redistributor and Group 1
/// interrupts at its CPU interface (PSTATE.I stays masked at NS-EL2: a pending PPI only ends
/// a realm's run).
pub fn enable_ppis(on: bool) -> Outcome {
    let ppis = [VTIMER_INTID, PTIMER_INTID, PMU_INTID].map(|i| i as u32);
    if !crate::gic::set_private(&ppis, on) {
        return Err(Why::new(format_args!("no redistributor for this CPU")));
    }
    // SAFETY: ICC_IGRPEN1_EL1 gates Group 1 signalling at this CPU interface; IRQs stay
    // masked at NS-EL2.
    unsafe { write_sysreg!("s3_0_c12_c12_7", u64::from(on)) };
    isb!();
    Ok(())
}

/// The Normal world's EL1 timers: CNTV_CTL, CNTV_CVAL, CNTP_CTL, CNTP_CVAL (ISTATUS left out).
fn ns_timers() -> [u64; 4] {
    [
        read_sysreg!("cntv_ctl_el0") & 0b11,
        read_sysreg!("cntv_cval_el0"),
        read_sysreg!("cntp_ctl_el0") & 0b11,
        read_sysreg!("cntp_cval_el0"),
    ]
}

/// Values the host gives its own EL1 timers before the realm runs: enabled with IMASK set,
/// compare values far ahead (no interrupt).
const NS_MARKERS: [u64; 4] = [0b11, 0x7fff_0000_0000_1111, 0b11, 0x7fff_0000_0000_2222];

/// Programs the Normal world's EL1 timers with [`NS_MARKERS`].
pub fn set_ns_markers() {
    let [vctl, vcval, pctl, pcval] = NS_MARKERS;
    // SAFETY: the EL1 timers, not used by the test host; IMASK set, so no interrupt.
    unsafe {
        write_sysreg!("cntv_cval_el0", vcval);
        write_sysreg!("cntv_ctl_el0", vctl);
        write_sysreg!("cntp_cval_el0", pcval);
        write_sysreg!("cntp_ctl_el0", pctl);
    }
    isb!();
}

/// The Normal world's EL1 timers still hold [`NS_MARKERS`] (the RMM restores them at every
/// REC exit); then disables them.
pub fn check_ns_markers() -> Outcome {
    let now = ns_timers();
    // SAFETY: as in `set_ns_markers`; disabled.
    unsafe {
        write_sysreg!("cntv_ctl_el0", 0);
        write_sysreg!("cntp_ctl_el0", 0);
    }
    if now != NS_MARKERS {
        return Err(Why::new(format_args!(
            "NS EL1 timers {:#x?}, expected {:#x?}",
            now, NS_MARKERS
        )));
    }
    Ok(())
}
