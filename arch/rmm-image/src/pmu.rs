//! The realm's PMU (RMM spec A3.1.5, A8.1), for realms created with one: on REC entry the
//! Normal world's PMU state is saved on this CPU and the REC's restored; on REC exit the REC's
//! is saved (and exit.pmu_ovf_status computed from it) and the Normal world's restored. Realms
//! without a PMU cost nothing here: MDCR_EL2 traps every PMU access of theirs (`crate::el2`).
//!
//! While a realm with `n` counters runs, MDCR_EL2.HPMN = `n`, so that it reads PMCR_EL0.N =
//! `n` and reaches event counters 0..n only, with TPM and TPMCR clear; HPMD and HCCD stop the
//! event and cycle counters at EL2, so the RMM's own instructions are not counted as the
//! realm's. The counters at and above HPMN are EL2's: they stop in the Realm world (HPME = 0)
//! and keep the Normal world's values.
//!
//! Per REC: [`WORDS`] words of the REC granule's platform words (PMCR_EL0, PMSELR_EL0,
//! PMCNTENSET_EL0, PMINTENSET_EL1, PMOVSSET_EL0, PMUSERENR_EL0, PMCCFILTR_EL0, PMCCNTR_EL0,
//! then the realm's `n` PMEVCNTR<i>_EL0, then its `n` PMEVTYPER<i>_EL0). A round trip of a realm with `n` counters moves
//! (8 + 2n) registers four times (save and restore, both worlds).

use crate::cpus::Slots;
use rmm_arch::{read_sysreg, write_sysreg};

/// Words of a REC's PMU state: 8 controls, 31 counters, 31 event types.
pub const WORDS: usize = 8 + 2 * MAX_COUNTERS;
/// Most event counters (PMCR_EL0.N is 5 bits; counter 31 is the cycle counter).
pub const MAX_COUNTERS: usize = 31;
const CNTR: usize = 8;
/// PMCR_EL0.E: counters enabled.
const PMCR_E: u64 = 1;
/// PMCR_EL0.N (15:11).
const PMCR_N_SHIFT: u32 = 11;

/// MDCR_EL2 fields: HPMN (4:0), TPMCR (5), TPM (6), HPME (7), HPMD (17), HCCD (23).
pub const MDCR_HPMN: u64 = 0x1f;
pub const MDCR_TPMCR: u64 = 1 << 5;
pub const MDCR_TPM: u64 = 1 << 6;
const MDCR_HPMD: u64 = 1 << 17;
const MDCR_HCCD: u64 = 1 << 23;

macro_rules! banked {
    ($read:ident, $write:ident, [$($n:literal $name:literal),* $(,)?]) => {
        fn $read(n: usize) -> u64 {
            match n {
                $($n => read_sysreg!($name),)*
                _ => 0,
            }
        }

        fn $write(n: usize, value: u64) {
            // SAFETY: a PMU counter or event type register: it counts events, and raises the
            // PMU's interrupt on overflow, nothing that touches memory or the RMM's state.
            unsafe {
                match n {
                    $($n => write_sysreg!($name, value),)*
                    _ => {}
                }
            }
        }
    };
}

banked!(evcntr, set_evcntr, [
    0 "pmevcntr0_el0", 1 "pmevcntr1_el0", 2 "pmevcntr2_el0", 3 "pmevcntr3_el0",
    4 "pmevcntr4_el0", 5 "pmevcntr5_el0", 6 "pmevcntr6_el0", 7 "pmevcntr7_el0",
    8 "pmevcntr8_el0", 9 "pmevcntr9_el0", 10 "pmevcntr10_el0", 11 "pmevcntr11_el0",
    12 "pmevcntr12_el0", 13 "pmevcntr13_el0", 14 "pmevcntr14_el0", 15 "pmevcntr15_el0",
    16 "pmevcntr16_el0", 17 "pmevcntr17_el0", 18 "pmevcntr18_el0", 19 "pmevcntr19_el0",
    20 "pmevcntr20_el0", 21 "pmevcntr21_el0", 22 "pmevcntr22_el0", 23 "pmevcntr23_el0",
    24 "pmevcntr24_el0", 25 "pmevcntr25_el0", 26 "pmevcntr26_el0", 27 "pmevcntr27_el0",
    28 "pmevcntr28_el0", 29 "pmevcntr29_el0", 30 "pmevcntr30_el0"
]);
banked!(evtyper, set_evtyper, [
    0 "pmevtyper0_el0", 1 "pmevtyper1_el0", 2 "pmevtyper2_el0", 3 "pmevtyper3_el0",
    4 "pmevtyper4_el0", 5 "pmevtyper5_el0", 6 "pmevtyper6_el0", 7 "pmevtyper7_el0",
    8 "pmevtyper8_el0", 9 "pmevtyper9_el0", 10 "pmevtyper10_el0", 11 "pmevtyper11_el0",
    12 "pmevtyper12_el0", 13 "pmevtyper13_el0", 14 "pmevtyper14_el0", 15 "pmevtyper15_el0",
    16 "pmevtyper16_el0", 17 "pmevtyper17_el0", 18 "pmevtyper18_el0", 19 "pmevtyper19_el0",
    20 "pmevtyper20_el0", 21 "pmevtyper21_el0", 22 "pmevtyper22_el0", 23 "pmevtyper23_el0",
    24 "pmevtyper24_el0", 25 "pmevtyper25_el0", 26 "pmevtyper26_el0", 27 "pmevtyper27_el0",
    28 "pmevtyper28_el0", 29 "pmevtyper29_el0", 30 "pmevtyper30_el0"
]);

/// PMUv3 with PMUv3p5 (ID_AA64DFR0_EL1.PMUVer >= 6, not IMPLEMENTATION DEFINED): the event
/// counters the processor has (PMCR_EL0.N), which RMI_FEATURES offers realms; None without.
/// PMUv3p5 is needed for MDCR_EL2.HCCD.
pub fn counters(dfr0: u64) -> Option<u8> {
    let version = (dfr0 >> 8) & 0xf;
    if !(6..0xf).contains(&version) {
        return None;
    }
    let n = (read_sysreg!("pmcr_el0") >> PMCR_N_SHIFT) & 0x1f;
    (n > 0).then_some(n as u8)
}

/// MDCR_EL2 while a realm with `n` event counters runs, from the RMM's own `mdcr`.
pub fn mdcr(mdcr: u64, n: u8) -> u64 {
    (mdcr & !(MDCR_HPMN | MDCR_TPM | MDCR_TPMCR)) | u64::from(n) | MDCR_HPMD | MDCR_HCCD
}

/// Reads the PMU into `put(word, value)`: the controls and the first `n` event counters and
/// their event types (8 + 2n words). Returns whether that state raises the PMU's
/// overflow interrupt: counters enabled, and an enabled counter has overflowed with its
/// interrupt enabled (exit.pmu_ovf_status, A8.1).
pub fn save(n: usize, mut put: impl FnMut(usize, u64)) -> bool {
    let n = n.min(MAX_COUNTERS);
    let controls = [
        read_sysreg!("pmcr_el0"),
        read_sysreg!("pmselr_el0"),
        read_sysreg!("pmcntenset_el0"),
        read_sysreg!("pmintenset_el1"),
        read_sysreg!("pmovsset_el0"),
        read_sysreg!("pmuserenr_el0"),
        read_sysreg!("pmccfiltr_el0"),
        read_sysreg!("pmccntr_el0"),
    ];
    for (i, &value) in controls.iter().enumerate() {
        put(i, value);
    }
    for i in 0..n {
        put(CNTR + i, evcntr(i));
        put(CNTR + n + i, evtyper(i));
    }
    controls[0] & PMCR_E != 0 && controls[2] & controls[3] & controls[4] != 0
}

/// Loads the PMU from `get(word)` (as [`save`] wrote them), counters first, PMCR_EL0 (which
/// starts them) last.
pub fn restore(n: usize, get: impl Fn(usize) -> u64) {
    let n = n.min(MAX_COUNTERS);
    for i in 0..n {
        set_evtyper(i, get(CNTR + n + i));
        set_evcntr(i, get(CNTR + i));
    }
    // SAFETY: PMU registers only count events and raise the PMU's interrupt; the set and
    // clear pairs make the enable and overflow bits exactly the saved ones.
    unsafe {
        write_sysreg!("pmccntr_el0", get(7));
        write_sysreg!("pmccfiltr_el0", get(6));
        write_sysreg!("pmuserenr_el0", get(5));
        write_sysreg!("pmovsclr_el0", !get(4));
        write_sysreg!("pmovsset_el0", get(4));
        write_sysreg!("pmintenclr_el1", !get(3));
        write_sysreg!("pmintenset_el1", get(3));
        write_sysreg!("pmcntenclr_el0", !get(2));
        write_sysreg!("pmcntenset_el0", get(2));
        write_sysreg!("pmselr_el0", get(1));
        write_sysreg!("pmcr_el0", get(0));
        core::arch::asm!("isb", options(nostack));
    }
}

/// The Normal world's PMU state on each CPU while a realm with a PMU runs there.
static NS_PMU: Slots<[u64; WORDS]> = Slots::new();

/// Heap bytes [`init`] takes per CPU.
pub const BYTES_PER_CPU: usize = Slots::<[u64; WORDS]>::BYTES_PER_CPU;

/// Cold boot, CPU 0: allocates the save slots of `cpus` CPUs; Err if the heap is too small.
pub fn init(cpus: usize) -> Result<(), ()> {
    NS_PMU.init(cpus)
}

fn ns_slot(cpu: usize) -> *mut [u64; WORDS] {
    NS_PMU.get(cpu)
}

/// Saves the Normal world's PMU on CPU `cpu` (this CPU), for a realm with `n` counters.
pub fn save_ns(cpu: usize, n: usize) {
    // SAFETY: the slot is this CPU's alone, and not otherwise referenced during the call.
    let slot = unsafe { &mut *ns_slot(cpu) };
    save(n, |i, v| slot[i] = v);
}

/// Restores what [`save_ns`] saved on CPU `cpu`.
pub fn restore_ns(cpu: usize, n: usize) {
    // SAFETY: as in `save_ns`.
    let slot = unsafe { &*ns_slot(cpu) };
    restore(n, |i| slot[i]);
}
