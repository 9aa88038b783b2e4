//! The host's side of the realm's SVE, PMU and self-hosted debug (RMM spec A3.1.3 to A3.1.5,
//! A8.1): the realm is created with what RMI_FEATURES offers (SVE at the longest vector
//! length, the PMU with every counter); the host checks the realm's reports against that,
//! serves the PMU's overflow interrupt, and checks that its own PMU and debug registers are
//! as it left them after the realm ran.
//!
//! The PMU's overflow interrupt: the realm's PMU is the processor's, so its overflow raises
//! the physical PPI, which ends the realm's run (REC exit due to IRQ). The exit shows
//! pmu_ovf_status ACTIVE; the host then masks the physical PPI at its redistributor (or the
//! realm, entered again, would exit again at once) and injects [`PMU_INTID`] in list register
//! [`PMU_LR`]. Once an exit shows NOT_ACTIVE (the realm cleared the overflow), the physical
//! PPI is unmasked again.

use crate::granule::Granule;
use crate::params::{pending_lr, RealmFeatures, ENTER_LRS, EXIT_IRQ, EXIT_LRS};
use crate::report::{Outcome, Why};
use core::sync::atomic::{AtomicU64, Ordering};
use ns_el2::rec_run::{EXIT_PMU_OVF_STATUS, PMU_OVERFLOW_ACTIVE};
use rmm_arch::realm_report::{Step, PMU_INTID};
use rmm_arch::{isb, read_sysreg, write_sysreg};

/// The list register the PMU's interrupt goes in (0 and 1 are the timers').
const PMU_LR: usize = 2;

/// The realm's features, as words (u64::MAX: none), for every CPU that serves its RECs.
static SVE_VL: AtomicU64 = AtomicU64::new(u64::MAX);
static PMU_CTRS: AtomicU64 = AtomicU64::new(u64::MAX);

/// Records the features the realm of this run is created with.
pub fn set_realm(f: RealmFeatures) {
    SVE_VL.store(f.sve_vl.map_or(u64::MAX, u64::from), Ordering::Relaxed);
    PMU_CTRS.store(
        f.pmu_num_ctrs.map_or(u64::MAX, u64::from),
        Ordering::Relaxed,
    );
}

/// The features of the realm of this run.
pub fn realm() -> RealmFeatures {
    let get = |a: &AtomicU64| u8::try_from(a.load(Ordering::Relaxed)).ok();
    RealmFeatures {
        sve_vl: get(&SVE_VL),
        pmu_num_ctrs: get(&PMU_CTRS),
    }
}

/// One REC's PMU interrupt as the host sees it.
#[derive(Clone, Copy, Default)]
pub struct RecPmu {
    /// The list register of the next entry.
    lr: u64,
    /// The physical PPI is masked.
    masked: bool,
    /// REC exits due to IRQ with pmu_ovf_status ACTIVE, and injections.
    irq_exits: u32,
    injected: u32,
}

impl RecPmu {
    /// After every exit.
    pub fn on_exit(&mut self, run: Granule) {
        let active = run.read_u64(EXIT_PMU_OVF_STATUS) & 0xff == PMU_OVERFLOW_ACTIVE;
        let reason = run.read_u64(0x800) & 0xff;
        let lr = run.read_u64(EXIT_LRS + 8 * PMU_LR);
        if active {
            if reason == EXIT_IRQ {
                self.irq_exits += 1;
            }
            if !self.masked {
                self.masked = crate::gic::set_private(&[PMU_INTID as u32], false);
            }
        } else if self.masked {
            self.masked = !crate::gic::set_private(&[PMU_INTID as u32], true);
        }
        self.lr = match (active, lr >> 62) {
            (true, 0) => {
                self.injected += 1;
                pending_lr(PMU_INTID)
            }
            (false, 1) => 0, // pending only: the overflow was cleared before it was taken
            _ => lr,
        };
    }

    /// Before every entry, after the timers' list registers.
    pub fn on_entry(&self, run: Granule) {
        run.write_u64(ENTER_LRS + 8 * PMU_LR, self.lr);
    }

    /// [`Step::PmuOverflow`]: the overflow ended a run with an IRQ exit that showed it, and
    /// the PPI was injected.
    fn check_overflow(&self) -> Outcome {
        if self.irq_exits == 0 || self.injected != 1 || self.masked {
            return Err(Why::new(format_args!(
                "{} IRQ exits with pmu_ovf_status ACTIVE, {} injections, PPI masked: {}",
                self.irq_exits, self.injected, self.masked
            )));
        }
        Ok(())
    }
}

/// The host's check of the realm's SVE, PMU and debug steps.
pub fn check(step: Step, values: &[u64; 4], pmu: &RecPmu) -> Option<Outcome> {
    let f = realm();
    let outcome = match step {
        Step::SveMaxVl => {
            let bits = f.sve_vl.map_or(0, |vl| (u64::from(vl) + 1) * 128);
            match values[0] == bits {
                true => Ok(()),
                false => Err(Why::new(format_args!(
                    "{} bits, the realm was given {}",
                    values[0], bits
                ))),
            }
        }
        Step::PmuCounters => {
            let n = f.pmu_num_ctrs.map_or(0, u64::from);
            match values[0] == n {
                true => Ok(()),
                false => Err(Why::new(format_args!(
                    "PMCR_EL0.N {}, the realm was given {}",
                    values[0], n
                ))),
            }
        }
        Step::PmuOverflow => pmu.check_overflow(),
        _ => return None,
    };
    Some(outcome)
}

/// What the host leaves in its own PMU and debug registers while the realm runs: event
/// counters 0..5, PMEVTYPER0, the cycle counter, PMSELR, and breakpoint and watchpoint values
/// and controls (disabled), all distinct.
const PMU_MARKERS: [u64; 6] = [0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666];

macro_rules! markers {
    ($($read:literal $write:literal $value:expr;)*) => {
        /// Writes the markers (PMU counters stopped: PMCR_EL0.E clear).
        pub fn set_ns_markers(pmu: bool) {
            // SAFETY: the Normal world's PMU and debug registers, unused by the test host:
            // counters stopped and breakpoints and watchpoints disabled, so nothing fires.
            unsafe {
                if pmu {
                    write_sysreg!("pmcr_el0", 0);
                }
                $(if pmu || !$read.starts_with("pm") { write_sysreg!($write, $value); })*
            }
            isb!();
        }

        /// The registers still hold the markers (the first that does not, as an error).
        pub fn check_ns_markers(pmu: bool) -> Outcome {
            $(
                if pmu || !$read.starts_with("pm") {
                    let (now, left): (u64, u64) = (read_sysreg!($read), $value);
                    if now != left {
                        return Err(Why::new(format_args!(
                            "{} = {:#x}, the host left {:#x}", $read, now, left
                        )));
                    }
                }
            )*
            Ok(())
        }
    };
}

markers! {
    "pmevcntr0_el0" "pmevcntr0_el0" PMU_MARKERS[0];
    "pmevcntr1_el0" "pmevcntr1_el0" PMU_MARKERS[1];
    "pmevcntr2_el0" "pmevcntr2_el0" PMU_MARKERS[2];
    "pmevcntr3_el0" "pmevcntr3_el0" PMU_MARKERS[3];
    "pmevcntr4_el0" "pmevcntr4_el0" PMU_MARKERS[4];
    "pmevcntr5_el0" "pmevcntr5_el0" PMU_MARKERS[5];
    "pmevtyper0_el0" "pmevtyper0_el0" 0x11;
    "pmccntr_el0" "pmccntr_el0" 0x7777_0000;
    "pmselr_el0" "pmselr_el0" 3;
    "dbgbvr0_el1" "dbgbvr0_el1" 0x0000_4000_0000_b000;
    "dbgbvr3_el1" "dbgbvr3_el1" 0x0000_4000_0000_b300;
    "dbgbvr5_el1" "dbgbvr5_el1" 0x0000_4000_0000_b500;
    "dbgbcr5_el1" "dbgbcr5_el1" 0x1e6;
    "dbgwvr0_el1" "dbgwvr0_el1" 0x0000_4000_0000_c000;
    "dbgwvr3_el1" "dbgwvr3_el1" 0x0000_4000_0000_c300;
    "dbgwcr3_el1" "dbgwcr3_el1" 0x1ff8;
}
