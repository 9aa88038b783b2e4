//! The PMU of a realm created with one (RMM spec A3.1.5, A8.1): it has the number of event
//! counters the host asked for (PMCR_EL0.N), its cycle counter and event counters count its
//! own work and keep their values over REC exits, and a counter overflow with its interrupt
//! enabled ends the realm's run with an IRQ; the host sees exit.pmu_ovf_status ACTIVE and
//! injects the PMU's PPI, which the realm takes from its virtual CPU interface.

use crate::report::{request, step};
use crate::steps::timer::{acknowledge, end_of_interrupt, vgic_enable, SPURIOUS};
use rmm_arch::realm_report::{Step, PMU_INTID, REQUEST_NOTHING};
use rmm_arch::{isb, read_sysreg, write_sysreg};

/// PMCR_EL0: E (enable), P (reset event counters), C (reset the cycle counter), LC (64-bit
/// cycle counter overflow).
const PMCR_E: u64 = 1;
const PMCR_P: u64 = 1 << 1;
const PMCR_C: u64 = 1 << 2;
const PMCR_LC: u64 = 1 << 6;
/// The cycle counter's bit in PMCNTENSET_EL0, PMOVSSET_EL0...
const CYCLES: u64 = 1 << 31;
/// The architectural event CPU_CYCLES (QEMU counts INST_RETIRED only under -icount).
const CPU_CYCLES: u64 = 0x11;

/// Whether ID_AA64DFR0_EL1.PMUVer says the realm has a PMU.
pub fn advertised() -> bool {
    let version = (read_sysreg!("id_aa64dfr0_el1") >> 8) & 0xf;
    version != 0 && version != 0xf
}

/// Runs `n` iterations of an empty loop.
fn work(n: u64) {
    for i in 0..n {
        core::hint::black_box(i);
    }
}

/// The cycle counter and event counter 0 (CPU_CYCLES) count the realm's work, and keep
/// counting from where they were over a REC exit. Values: [2] PMCR_EL0.N, [3] the cycle
/// counter and [4] event counter 0 over the work, [5] 1 if event counter 0 did not go back
/// over the exit.
pub fn counters() {
    if !advertised() {
        return;
    }
    let n = (read_sysreg!("pmcr_el0") >> 11) & 0x1f;
    // SAFETY: the realm's own PMU registers (MDCR_EL2.HPMN gives it counters 0..n).
    unsafe {
        write_sysreg!("pmccfiltr_el0", 0);
        write_sysreg!("pmevtyper0_el0", CPU_CYCLES);
        write_sysreg!("pmcntenset_el0", CYCLES | 1);
        write_sysreg!("pmcr_el0", PMCR_E | PMCR_P | PMCR_C | PMCR_LC);
    }
    isb!();
    work(1000);
    isb!();
    let (cycles, events) = (read_sysreg!("pmccntr_el0"), read_sysreg!("pmevcntr0_el0"));
    request(REQUEST_NOTHING);
    isb!();
    let again = read_sysreg!("pmevcntr0_el0");
    // SAFETY: as above.
    unsafe {
        write_sysreg!("pmcr_el0", 0);
        write_sysreg!("pmcntenclr_el0", CYCLES | 1);
    }
    isb!();
    let kept = again >= events;
    let ok = n >= 1 && cycles > 0 && events > 0 && kept;
    step(Step::PmuCounters, ok, [n, cycles, events, kept.into()]);
}

/// Event counter 0 overflows with its interrupt enabled: the realm's run ends with an IRQ
/// (the PMU's physical PPI), and the host injects [`PMU_INTID`], which the realm acknowledges
/// once it runs again; it then clears the overflow. Values: [2] the INTID acknowledged,
/// [3] PMOVSSET_EL0 then, [4] PMOVSSET_EL0 after clearing.
pub fn overflow_interrupt() {
    if !advertised() {
        return;
    }
    vgic_enable();
    // SAFETY: the realm's own PMU registers; the overflow raises the PMU's interrupt, which
    // ends this run (PSTATE.I masked: the realm takes it by reading ICC_IAR1_EL1).
    unsafe {
        write_sysreg!("pmevtyper0_el0", CPU_CYCLES);
        write_sysreg!("pmevcntr0_el0", 0xffff_ff00);
        write_sysreg!("pmovsclr_el0", !0);
        write_sysreg!("pmintenset_el1", 1);
        write_sysreg!("pmcntenset_el0", 1);
        write_sysreg!("pmcr_el0", PMCR_E);
    }
    isb!();
    let mut intid = SPURIOUS;
    for _ in 0..1_000_000 {
        intid = acknowledge();
        if intid != SPURIOUS {
            break;
        }
    }
    let ovs = read_sysreg!("pmovsset_el0");
    // SAFETY: as above: stops the counter and clears the overflow, so the PMU's interrupt
    // is no longer asserted.
    unsafe {
        write_sysreg!("pmcr_el0", 0);
        write_sysreg!("pmintenclr_el1", !0);
        write_sysreg!("pmcntenclr_el0", !0);
        write_sysreg!("pmovsclr_el0", !0);
    }
    isb!();
    if intid != SPURIOUS {
        end_of_interrupt(intid);
    }
    let cleared = read_sysreg!("pmovsset_el0");
    // One more exit, so that the host sees the overflow gone (pmu_ovf_status NOT_ACTIVE).
    request(REQUEST_NOTHING);
    let ok = intid == PMU_INTID && ovs & 1 != 0 && cleared == 0;
    step(Step::PmuOverflow, ok, [intid, ovs, cleared, 0]);
}
