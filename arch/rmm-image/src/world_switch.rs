//! REC entry and exit on the hardware: load the realm's state, enter R-EL1 with its stage 2,
//! take the exception that ends the run, save, and give the Normal world its EL1 state back
//! (RMM spec A4.1; the RMM-EL3 contract leaves EL1 state, list registers and EL1 timers to
//! the RMM).
//!
//! Per-REC state the core does not keep lives in the REC granule's platform words
//! ([`rmm::rec::PLATFORM_WORDS`]): a started flag, the realm's EL1 registers and the
//! active-priority registers (the core keeps the EL1 timers, [`crate::timer`], and
//! ICH_VMCR_EL2). The REC is
//! claimed by this CPU for the whole run, so plain (Relaxed) accesses to them are ordered by
//! the claim.

use crate::el1::{self, El1State};
use crate::platform::Aarch64;
use crate::{fp, gic, timer};
use rmm::platform::{GranuleMemory, RealmMemory};
use rmm::rec::{RealmTrap, Rec, Timers, VcpuContext, PLATFORM_WORDS};
use rmm::sync::Ordering;
use rmm::Platform;
use rmm_arch::{read_sysreg, write_sysreg};

const STARTED: usize = PLATFORM_WORDS.start;
const EL1: usize = STARTED + 1;
const APR: usize = EL1 + el1::COUNT;
const _: () = assert!(APR + 2 <= PLATFORM_WORDS.end);

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
/// ESR_EL2.EC of a trapped FP/SIMD access.
const EC_FP: u64 = 0x07;
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
    let vtcr = platform.vtcr(s2.t0sz, s2.sl0);
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
        write_sysreg!("vttbr_el2", s2.rtt_base | (u64::from(s2.vmid) << 48));
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
    let fp_aux = Rec::new(words).aux().next();
    let mut realm_fp = false;
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
        match (trap, fp_aux) {
            (RealmTrap::Sync { esr, .. }, Some(aux)) if esr >> 26 == EC_FP && !realm_fp => {
                // SAFETY: `aux` is this claimed REC's FP aux granule.
                unsafe { fp::switch_to_realm(cpu, aux) };
                realm_fp = true;
            }
            _ => break trap,
        }
    };
    if let (true, Some(aux)) = (realm_fp, fp_aux) {
        // SAFETY: as above.
        unsafe { fp::switch_to_ns(cpu, aux) };
    }
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
