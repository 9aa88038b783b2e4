//! REC entry and exit on the hardware: load the realm's state, enter R-EL1 with its stage 2,
//! take the exception that ends the run, save, and give the Normal world its EL1 state back
//! (RMM spec A4.1; the RMM-EL3 contract leaves EL1 state, list registers and EL1 timers to
//! the RMM).
//!
//! Per-REC state the core does not keep lives in the REC granule's platform words
//! ([`rmm::rec::PLATFORM_WORDS`]): a started flag, the realm's EL1 registers, the
//! active-priority registers (the core keeps the EL1 timers, [`crate::timer`], and
//! ICH_VMCR_EL2), the PMU registers of a realm with a PMU ([`crate::pmu`]) and the debug
//! registers ([`crate::debug`]). FP/SIMD and SVE state is in the REC's aux granules
//! ([`crate::fp`], [`crate::sve`]). The REC is claimed by this CPU for the whole run, so plain
//! (Relaxed) accesses to them are ordered by the claim.
//!
//! What each feature adds to a round trip (RMM instructions on QEMU, `scripts/perf`): FP/SIMD
//! and SVE are switched on the realm's first use in a run (CPTR_EL2.TFP, TZ), so a run that
//! does not use them pays nothing (FP/SIMD 579, SVE at 2048 bits 785 when it does); the PMU is
//! switched on every round trip of a realm created with one (`pmu_en`: 898 with 6 counters),
//! and costs nothing otherwise; the debug registers are switched only while the realm's
//! MDSCR_EL1.MDE is set (677), and otherwise cost the test of one word.

use crate::debug;
use crate::el1::{self, El1State};
use crate::platform::Aarch64;
use crate::pmu;
use crate::sve::{self, RealmSve};
use crate::{fp, gic, timer};
use rmm::platform::{GranuleMemory, RealmMemory};
use rmm::realm::{Rd, RealmFeatures};
use rmm::rec::debug::{self as rec_debug, Effect};
use rmm::rec::{RealmTrap, Rec, Timers, VcpuContext, PLATFORM_WORDS};
use rmm::sync::Ordering;
use rmm::Platform;
use rmm_arch::{read_sysreg, write_sysreg};

const STARTED: usize = PLATFORM_WORDS.start;
const EL1: usize = STARTED + 1;
const APR: usize = EL1 + el1::COUNT;
const PMU: usize = APR + 2;
const DEBUG: usize = PMU + pmu::WORDS;
const _: () = assert!(DEBUG + rec_debug::WORDS <= PLATFORM_WORDS.end);

/// HCR_EL2 while a realm runs: stage 2 on (VM) with forced write-back (FWB), physical
/// interrupts and SErrors to EL2 (IMO, FMO, AMO), SMC trapped (TSC: it is the realm's RSI
/// and PSCI conduit), implementation-defined and set/way operations trapped (TIDCP, TACR,
/// TSW), data-cache invalidation upgraded (SWIO), protected table walks (PTW), broadcast TLB
/// and barrier maintenance (FB, BSU inner shareable), ID register reads trapped (TID3: the
/// realm sees its own, `rmm::rec::id_registers`), EL1 is AArch64 (RW), PAuth keys not trapped
/// (APK, API).
const HCR_REALM: u64 = (1 << 0)
    | (1 << 1)
    | (1 << 2)
    | (1 << 3)
    | (1 << 4)
    | (1 << 5)
    | (1 << 9)
    | (1 << 10)
    | (1 << 18)
    | (1 << 19)
    | (1 << 20)
    | (1 << 21)
    | (1 << 22)
    | crate::el2::HCR_RW
    | (1 << 40)
    | (1 << 41)
    | (1 << 46);
const HCR_TWI: u64 = 1 << 13;
const HCR_TWE: u64 = 1 << 14;
/// ESR_EL2.EC of a trapped FP/SIMD access, and of a trapped SVE access.
const EC_FP: u64 = 0x07;
const EC_SVE: u64 = 0x19;
/// ICH_HCR_EL2.En: the virtual CPU interface is on while the realm runs.
const ICH_HCR_EN: u64 = 1;

/// The registers the vectors save and `rmm_realm_enter` loads (layout shared with the asm).
#[repr(C)]
struct RealmRegs {
    x: [u64; 31],
    pc: u64,
    pstate: u64,
}

/// The Normal world's state saved on this CPU while a realm runs.
struct NsState {
    el1: El1State,
    timers: Timers,
    ich_hcr: u64,
    vmcr: u64,
    apr: [u64; 2],
    lrs: [u64; 16],
}

unsafe extern "C" {
    /// Enters the realm with `regs` and returns the kind of exception that ended the run
    /// (0 sync, 1 IRQ, 2 FIQ, 3 SError) with `regs` updated.
    fn rmm_realm_enter(regs: *mut RealmRegs) -> u64;
}

core::arch::global_asm!(
    r#"
    .section .text.world_switch, "ax"
    .global rmm_realm_enter
rmm_realm_enter:
    sub     sp, sp, #112
    stp     x18, x19, [sp, #0]
    stp     x20, x21, [sp, #16]
    stp     x22, x23, [sp, #32]
    stp     x24, x25, [sp, #48]
    stp     x26, x27, [sp, #64]
    stp     x28, x29, [sp, #80]
    stp     x30, x0, [sp, #96]
    ldp     x1, x2, [x0, #248]
    msr     elr_el2, x1
    msr     spsr_el2, x2
    ldp     x2, x3, [x0, #16]
    ldp     x4, x5, [x0, #32]
    ldp     x6, x7, [x0, #48]
    ldp     x8, x9, [x0, #64]
    ldp     x10, x11, [x0, #80]
    ldp     x12, x13, [x0, #96]
    ldp     x14, x15, [x0, #112]
    ldp     x16, x17, [x0, #128]
    ldp     x18, x19, [x0, #144]
    ldp     x20, x21, [x0, #160]
    ldp     x22, x23, [x0, #176]
    ldp     x24, x25, [x0, #192]
    ldp     x26, x27, [x0, #208]
    ldp     x28, x29, [x0, #224]
    ldr     x30, [x0, #240]
    ldp     x0, x1, [x0, #0]
    eret

    // From the vectors: realm x0, x1 at [sp], the exception kind in x1.
    .global rmm_realm_exit
rmm_realm_exit:
    ldr     x0, [sp, #16 + 104]
    stp     x2, x3, [x0, #16]
    stp     x4, x5, [x0, #32]
    stp     x6, x7, [x0, #48]
    stp     x8, x9, [x0, #64]
    stp     x10, x11, [x0, #80]
    stp     x12, x13, [x0, #96]
    stp     x14, x15, [x0, #112]
    stp     x16, x17, [x0, #128]
    stp     x18, x19, [x0, #144]
    stp     x20, x21, [x0, #160]
    stp     x22, x23, [x0, #176]
    stp     x24, x25, [x0, #192]
    stp     x26, x27, [x0, #208]
    stp     x28, x29, [x0, #224]
    str     x30, [x0, #240]
    ldp     x2, x3, [sp]
    stp     x2, x3, [x0, #0]
    mrs     x2, elr_el2
    mrs     x3, spsr_el2
    stp     x2, x3, [x0, #248]
    add     sp, sp, #16
    mov     x0, x1
    ldp     x18, x19, [sp, #0]
    ldp     x20, x21, [sp, #16]
    ldp     x22, x23, [sp, #32]
    ldp     x24, x25, [sp, #48]
    ldp     x26, x27, [sp, #64]
    ldp     x28, x29, [sp, #80]
    ldr     x30, [sp, #96]
    add     sp, sp, #112
    ret
"#
);

/// MPIDR_EL1 the realm reads: the REC's affinity fields (RmiRecMpidr, B4.4.18) in MPIDR
/// positions, with the RES1 bit 31.
fn vmpidr(rec_mpidr: u64) -> u64 {
    (rec_mpidr & 0x00ff_ffff) | ((rec_mpidr >> 24 & 0xff) << 32) | (1 << 31)
}

fn load(words: &GranuleMemory, at: usize) -> u64 {
    words[at].load(Ordering::Relaxed)
}

fn store(words: &GranuleMemory, at: usize, value: u64) {
    words[at].store(value, Ordering::Relaxed);
}

/// Runs the REC at `rec` on this CPU (the caller has claimed it) until it traps.
pub fn run(
    platform: &Aarch64,
    cpu: usize,
    rec: u64,
    vcpu: &mut VcpuContext,
    memory: &dyn RealmMemory,
) -> RealmTrap {
    let words = platform.granule(rec);
    let lrs = platform.list_registers();
    let ns = NsState {
        el1: El1State::save(),
        timers: timer::save(),
        ich_hcr: gic::hcr(),
        vmcr: gic::vmcr(),
        apr: gic::active_priorities(),
        lrs: core::array::from_fn(|n| if n < lrs { gic::lr(n) } else { 0 }),
    };

    let mut realm = El1State([0; el1::COUNT]);
    if load(words, STARTED) == 0 {
        realm.0[0] = el1::SCTLR_RESET;
    } else {
        for (n, r) in realm.0.iter_mut().enumerate() {
            *r = load(words, EL1 + n);
        }
    }
    let e = vcpu.el1;
    realm.0[el1::VBAR..].copy_from_slice(&[e.vbar, e.elr, e.spsr, e.esr, e.far]);
    realm.restore();
    // A6.2: the signals to mask first, then the realm's timers.
    timer::enter(vcpu.timer_mask);
    timer::restore(&vcpu.timers);
    gic::set_vmcr(vcpu.gic_vmcr);
    gic::set_active_priorities([load(words, APR), load(words, APR + 1)]);
    for n in 0..lrs {
        gic::set_lr(n, vcpu.gic_lrs[n]);
    }
    gic::set_hcr(vcpu.gic_hcr | ICH_HCR_EN);

    let s2 = memory.translation();
    let vtcr = platform.vtcr(&s2);
    let mut hcr = HCR_REALM;
    if vcpu.trap_wfi {
        hcr |= HCR_TWI;
    }
    if vcpu.trap_wfe {
        hcr |= HCR_TWE;
    }
    let mpidr = Rec::new(words).mpidr();
    // SAFETY: these registers govern only EL1/EL0 (stage 2, traps, identity) and the realm is
    // entered next; the RMM's own EL2 translation and execution are unaffected.
    unsafe {
        write_sysreg!("vttbr_el2", crate::platform::Aarch64::vttbr(&s2));
        write_sysreg!("vtcr_el2", vtcr);
        write_sysreg!("hcr_el2", hcr);
        write_sysreg!("vmpidr_el2", vmpidr(mpidr));
        core::arch::asm!("isb", options(nostack));
    }
    fp::set_cptr(fp::CPTR_TRAP_ALL);

    let mut regs = RealmRegs {
        x: vcpu.gprs,
        pc: vcpu.pc,
        pstate: vcpu.pstate,
    };
    let mut extras = Extras::enter(platform, cpu, words, realm.0[el1::MDSCR]);
    let trap = loop {
        // SAFETY: `regs` is valid for the call; the realm runs at EL1 under the stage 2 set
        // above, which maps only its own granules and the host's shared pages, so it cannot
        // touch the RMM's memory; the exit path restores the callee-saved registers and stack.
        let kind = unsafe { rmm_realm_enter(&mut regs) };
        let trap = match kind {
            0 => RealmTrap::Sync {
                esr: read_sysreg!("esr_el2"),
                far: read_sysreg!("far_el2"),
                hpfar: read_sysreg!("hpfar_el2"),
            },
            1 => RealmTrap::Irq,
            2 => RealmTrap::Fiq,
            _ => RealmTrap::SError {
                esr: read_sysreg!("esr_el2"),
            },
        };
        let RealmTrap::Sync { esr, .. } = trap else {
            break trap;
        };
        if !extras.handled(cpu, words, esr, &mut regs) {
            break trap;
        }
    };
    extras.leave(cpu, words, vcpu);
    vcpu.gprs = regs.x;
    vcpu.pc = regs.pc;
    vcpu.pstate = regs.pstate;

    let realm = El1State::save();
    vcpu.timers = timer::save();
    for (n, &r) in realm.0.iter().enumerate() {
        store(words, EL1 + n, r);
    }
    let [vbar, elr, spsr, esr, far] = [0, 1, 2, 3, 4].map(|i| realm.0[el1::VBAR + i]);
    vcpu.el1 = rmm::rec::El1Exception {
        vbar,
        elr,
        spsr,
        esr,
        far,
    };
    for n in 0..lrs {
        vcpu.gic_lrs[n] = gic::lr(n);
    }
    vcpu.gic_misr = gic::misr();
    vcpu.gic_hcr = gic::hcr() & !ICH_HCR_EN;
    vcpu.gic_vmcr = gic::vmcr();
    let apr = gic::active_priorities();
    store(words, APR, apr[0]);
    store(words, APR + 1, apr[1]);
    store(words, STARTED, 1);

    // SAFETY: stage 2 off and no traps: nothing runs at EL1 until the next entry, and the
    // Normal world's EL1 state is restored below.
    unsafe { write_sysreg!("hcr_el2", crate::el2::HCR_RW) };
    ns.el1.restore();
    timer::restore(&ns.timers);
    timer::leave();
    gic::set_hcr(ns.ich_hcr);
    gic::set_vmcr(ns.vmcr);
    gic::set_active_priorities(ns.apr);
    for (n, &lr) in ns.lrs.iter().enumerate().take(lrs) {
        gic::set_lr(n, lr);
    }
    trap
}

/// What a run adds for the realm's features (A3.1.3 to A3.1.5): the lazy FP/SIMD or SVE
/// switch, the PMU of a realm with one, the debug registers while the realm debugs.
struct Extras {
    features: RealmFeatures,
    /// The realm has the FP/SIMD (and SVE) registers: saved at the end of the run.
    fp: bool,
    /// The RMM's MDCR_EL2, for a realm with a PMU: the Normal world's PMU is saved
    /// (`pmu::save_ns`).
    ns_pmu: Option<u64>,
    /// The Normal world's debug registers, while the realm's are loaded.
    ns_debug: bool,
}

impl Extras {
    /// Loads what the realm must have from the start: its PMU and, if it debugs, its
    /// breakpoints and watchpoints (`mdscr` is its MDSCR_EL1).
    fn enter(platform: &Aarch64, cpu: usize, words: &GranuleMemory, mdscr: u64) -> Self {
        // The REC holds a reference on its RD (REC_CREATE), so the RD is there to read.
        let owner = Rec::new(words).owner();
        let features = Rd::new(rmm::Platform::granule(platform, owner)).features();
        let mut extras = Extras {
            features,
            fp: false,
            ns_pmu: None,
            ns_debug: false,
        };
        if let Some(n) = features.pmu_num_ctrs {
            let rmm_mdcr = rmm_arch::read_sysreg!("mdcr_el2");
            pmu::save_ns(cpu, n.into());
            extras.ns_pmu = Some(rmm_mdcr);
            // SAFETY: MDCR_EL2 decides which PMU and debug accesses of EL1 and EL0 trap and
            // which counters they reach; the RMM's own execution is unaffected.
            unsafe {
                write_sysreg!("mdcr_el2", pmu::mdcr(rmm_mdcr, n));
                core::arch::asm!("isb", options(nostack));
            }
            pmu::restore(n.into(), |i| load(words, PMU + i));
        }
        if mdscr & rec_debug::MDSCR_MDE != 0
            && rec_debug::live_with(mdscr, load(words, DEBUG + rec_debug::OSLK))
        {
            extras.load_debug(cpu, |i| load(words, DEBUG + i));
        }
        extras
    }

    /// The processor's breakpoints and watchpoints (only when the realm debugs).
    fn hw() -> debug::Counts {
        let dfr0 = rmm_arch::read_sysreg!("id_aa64dfr0_el1");
        debug::Counts {
            bps: ((dfr0 >> 12) & 0xf) as usize + 1,
            wps: ((dfr0 >> 20) & 0xf) as usize + 1,
        }
    }

    fn counts(&self) -> (usize, usize) {
        let f = &self.features;
        (usize::from(f.num_bps) + 1, usize::from(f.num_wps) + 1)
    }

    fn load_debug(&mut self, cpu: usize, get: impl Fn(usize) -> u64) {
        let (bps, wps) = self.counts();
        let hw = Self::hw();
        debug::save_ns(cpu, hw);
        debug::load_realm(get, bps, wps, hw);
        self.ns_debug = true;
    }

    /// Handles the synchronous exception `esr` without leaving the run if it is the realm's
    /// first FP/SIMD or SVE use, or a debug register access the RMM emulates.
    fn handled(
        &mut self,
        cpu: usize,
        words: &GranuleMemory,
        esr: u64,
        regs: &mut RealmRegs,
    ) -> bool {
        let ec = esr >> 26;
        if !self.fp && (ec == EC_FP || (ec == EC_SVE && self.features.sve_vl.is_some())) {
            let mut aux = [0u64; rmm::rec::MAX_AUX];
            for (slot, pa) in aux.iter_mut().zip(Rec::new(words).aux()) {
                *slot = pa;
            }
            self.fp = match self.features.sve_vl {
                // SAFETY: aux[0], aux[4] and aux[5] are this claimed REC's: an SVE realm's RECs
                // have `rmm::rec::aux_count` of them (REC_CREATE).
                Some(len) => unsafe { sve::switch_to_realm(cpu, Self::sve(&aux, len)) },
                None => {
                    // SAFETY: aux[0] is this claimed REC's FP aux granule.
                    unsafe { fp::switch_to_realm(cpu, aux[0]) };
                    true
                }
            };
            return self.fp;
        }
        let Some(access) = rec_debug::decode(esr) else {
            return false;
        };
        let mut state = debug_state(words);
        let (bps, wps) = self.counts();
        let value = regs.x.get(access.rt).copied().unwrap_or(0);
        let read = match rec_debug::emulate(&mut state, access, value, bps, wps) {
            Effect::Undefined => return false,
            Effect::Read(v) => Some(v),
            Effect::AuthStatus => Some(debug::auth_status()),
            Effect::Mdscr if access.write => {
                debug::set_mdscr(value);
                None
            }
            Effect::Mdscr => Some(debug::mdscr()),
            Effect::Stored(slot) => {
                if let Some(&v) = state.get(slot) {
                    store(words, DEBUG + slot, v);
                    if self.ns_debug {
                        debug::write_realm(&state, slot, bps, Self::hw());
                    }
                }
                None
            }
        };
        if let (Some(v), Some(rt)) = (read, regs.x.get_mut(access.rt)) {
            *rt = v;
        }
        match (rec_debug::live(debug::mdscr(), &state), self.ns_debug) {
            (true, false) => self.load_debug(cpu, |i| state[i]),
            (false, true) => {
                debug::restore_ns(cpu, Self::hw());
                self.ns_debug = false;
            }
            _ => {}
        }
        regs.pc = regs.pc.wrapping_add(4);
        true
    }

    fn sve(aux: &[u64; rmm::rec::MAX_AUX], len: u8) -> RealmSve {
        let base = rmm::rec::REC_AUX_COUNT;
        RealmSve {
            aux: [aux[0], aux[base], aux[base + 1]],
            len,
        }
    }

    /// Saves the realm's PMU, FP/SIMD or SVE registers and gives the Normal world its own.
    fn leave(self, cpu: usize, words: &GranuleMemory, vcpu: &mut VcpuContext) {
        if let (Some(rmm_mdcr), Some(n)) = (self.ns_pmu, self.features.pmu_num_ctrs) {
            vcpu.pmu_overflow = pmu::save(n.into(), |i, w| store(words, PMU + i, w));
            // SAFETY: as in `enter`.
            unsafe { write_sysreg!("mdcr_el2", rmm_mdcr) };
            pmu::restore_ns(cpu, n.into());
        }
        if self.ns_debug {
            debug::restore_ns(cpu, Self::hw());
        }
        if self.fp {
            let mut aux = [0u64; rmm::rec::MAX_AUX];
            for (slot, pa) in aux.iter_mut().zip(Rec::new(words).aux()) {
                *slot = pa;
            }
            match self.features.sve_vl {
                // SAFETY: as in `handled`, whose switch this undoes.
                Some(len) => unsafe { sve::switch_to_ns(cpu, Self::sve(&aux, len)) },
                // SAFETY: as in `handled`.
                None => unsafe { fp::switch_to_ns(cpu, aux[0]) },
            }
        }
    }
}

/// The REC's copy of its debug registers.
fn debug_state(words: &GranuleMemory) -> [u64; rec_debug::WORDS] {
    core::array::from_fn(|i| load(words, DEBUG + i))
}
