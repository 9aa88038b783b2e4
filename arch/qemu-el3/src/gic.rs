//! GICv3 set-up for the Normal world, and the Group 0 SGI that wakes EL3's pen.
//!
//! Source: Arm GICv3/v4 architecture specification (IHI 0069): GICD_CTLR with affinity
//! routing (ARE_S, ARE_NS) written while the groups are disabled (12.9.4); GICR_WAKER
//! ProcessorSleep/ChildrenAsleep handshake (12.11.41); GICR_TYPER.Last marks the last
//! redistributor frame (12.11.37). Every SGI, PPI and SPI is Group 1 Non-secure
//! (IGROUPR = 1, IGRPMODR = 0), except [`PEN_SGI`], Group 0, which EL3 sends with
//! ICC_SGI0R_EL1 and takes (as a wake-up only, PSTATE.F masked) in its WFI pen.

use rmm_arch::layout::qemu::{GICD_BASE, GICR_BASE, GICR_STRIDE};
use rmm_arch::{read_sysreg, write_sysreg};

/// The Group 0 SGI that wakes a CPU parked in EL3's pen.
pub const PEN_SGI: u32 = 8;

const GICD_CTLR: u64 = 0x0;
const GICD_TYPER: u64 = 0x4;
const GICD_IGROUPR: u64 = 0x80;
const GICD_IGRPMODR: u64 = 0xd00;
const CTLR_RWP: u32 = 1 << 31;
const CTLR_ENABLE_GRP0: u32 = 1 << 0;
const CTLR_ENABLE_GRP1NS: u32 = 1 << 1;
const CTLR_ENABLE_GRP1S: u32 = 1 << 2;
const CTLR_ARE_S: u32 = 1 << 4;
const CTLR_ARE_NS: u32 = 1 << 5;

const GICR_TYPER: u64 = 0x8;
const GICR_WAKER: u64 = 0x14;
const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
const GICR_SGI: u64 = 0x1_0000;
const GICR_IGROUPR0: u64 = GICR_SGI + 0x80;
const GICR_ISENABLER0: u64 = GICR_SGI + 0x100;
const GICR_IGRPMODR0: u64 = GICR_SGI + 0xd00;
const TYPER_LAST: u64 = 1 << 4;

fn read32(pa: u64) -> u32 {
    // SAFETY: `pa` is a GIC register (callers add offsets to GICD_BASE or a GICR frame),
    // mapped as Device memory in the Root PAS (mmu.rs) or reached with the MMU off.
    unsafe { core::ptr::read_volatile(pa as *const u32) }
}

fn write32(pa: u64, v: u32) {
    // SAFETY: as in `read32`; GIC register writes have no effect on Rust-visible memory.
    unsafe { core::ptr::write_volatile(pa as *mut u32, v) }
}

/// The redistributors found by walking the GICR frames.
#[derive(Clone, Copy, Debug)]
pub struct Cpus {
    /// Number of frames (CPUs).
    pub count: usize,
    /// Affinity (MPIDR Aff3.Aff2.Aff1.Aff0, as in GICR_TYPER[63:32]) of each frame.
    pub affinity: [u32; 64],
}

/// Walks the GICR frames until GICR_TYPER.Last.
pub fn discover() -> Cpus {
    let mut cpus = Cpus {
        count: 0,
        affinity: [0; 64],
    };
    for (i, slot) in cpus.affinity.iter_mut().enumerate() {
        let frame = GICR_BASE + i as u64 * GICR_STRIDE;
        let lo = read32(frame + GICR_TYPER);
        let hi = read32(frame + GICR_TYPER + 4);
        *slot = hi;
        cpus.count = i + 1;
        if u64::from(lo) & TYPER_LAST != 0 {
            break;
        }
    }
    cpus
}

fn wait_rwp() {
    while read32(GICD_BASE + GICD_CTLR) & CTLR_RWP != 0 {
        core::hint::spin_loop();
    }
}

/// Distributor: affinity routing on, every SPI Group 1 Non-secure, Group 0 and Group 1 Secure
/// enabled, and Group 1 Non-secure too if `grp1ns` (else the Normal world must enable it).
pub fn init_distributor(grp1ns: bool) {
    write32(GICD_BASE + GICD_CTLR, 0);
    wait_rwp();
    write32(GICD_BASE + GICD_CTLR, CTLR_ARE_S | CTLR_ARE_NS);
    wait_rwp();
    let lines = ((read32(GICD_BASE + GICD_TYPER) & 0x1f) + 1) * 32;
    // IGROUPR0/IGRPMODR0 (SGIs, PPIs) are per redistributor with ARE set.
    for n in 1..(lines / 32) {
        write32(GICD_BASE + GICD_IGROUPR + u64::from(n) * 4, !0);
        write32(GICD_BASE + GICD_IGRPMODR + u64::from(n) * 4, 0);
    }
    let grp1ns = if grp1ns { CTLR_ENABLE_GRP1NS } else { 0 };
    write32(
        GICD_BASE + GICD_CTLR,
        CTLR_ARE_S | CTLR_ARE_NS | CTLR_ENABLE_GRP0 | grp1ns | CTLR_ENABLE_GRP1S,
    );
    wait_rwp();
}

/// Redistributor `frame`: awake, SGIs/PPIs Group 1 NS except [`PEN_SGI`] (Group 0, enabled).
pub fn init_redistributor(frame: usize) {
    let rd = GICR_BASE + frame as u64 * GICR_STRIDE;
    let waker = read32(rd + GICR_WAKER);
    write32(rd + GICR_WAKER, waker & !WAKER_PROCESSOR_SLEEP);
    while read32(rd + GICR_WAKER) & WAKER_CHILDREN_ASLEEP != 0 {
        core::hint::spin_loop();
    }
    write32(rd + GICR_IGROUPR0, !(1 << PEN_SGI));
    write32(rd + GICR_IGRPMODR0, 0);
    write32(rd + GICR_ISENABLER0, 1 << PEN_SGI);
}

/// This CPU's interface: system register access at every EL (ICC_SRE_EL3 = 0xF: SRE, DFB,
/// DIB, Enable, needed before EL2 may touch ICC_SRE_EL2 or ICH_*), all priorities unmasked,
/// Group 0 enabled for the pen's wake-up SGI.
pub fn init_cpu_interface() {
    // SAFETY: GIC CPU interface registers; none of them changes memory or EL3's control flow
    // (PSTATE.I/F stay masked at EL3, so a Group 0 interrupt only ends a WFI).
    unsafe {
        write_sysreg!("s3_6_c12_c12_5", 0xf); // ICC_SRE_EL3
        core::arch::asm!("isb", options(nostack));
        write_sysreg!("s3_0_c4_c6_0", 0xff); // ICC_PMR_EL1
        write_sysreg!("s3_0_c12_c12_6", 1); // ICC_IGRPEN0_EL1
        core::arch::asm!("isb", options(nostack));
    }
}

/// Enables (in the pen) or disables (before entering a world) Group 0 interrupts at this CPU
/// interface. While a world runs, a pen SGI that arrived after the CPU had already taken its
/// command (the mailbox is read before the WFI) stays pending in the redistributor instead of
/// being signalled to the world as an FIQ (Group 0 is FIQ outside EL3, and SCR_EL3.FIQ = 0).
pub fn pen_sgi_enable(on: bool) {
    // SAFETY: ICC_IGRPEN0_EL1 only gates Group 0 signalling to this PE.
    unsafe {
        write_sysreg!("s3_0_c12_c12_6", u64::from(on)); // ICC_IGRPEN0_EL1
        core::arch::asm!("isb", options(nostack));
    }
}

/// Sends [`PEN_SGI`] to the CPU with affinity `aff` (Aff1..3 must be 0, Aff0 < 16).
pub fn send_pen_sgi(aff0: u32) {
    let v = (u64::from(PEN_SGI) << 24) | (1u64 << aff0);
    // SAFETY: ICC_SGI0R_EL1 only generates an interrupt; `dsb` first so the mailbox writes
    // the target reads are visible before it wakes (GICv3 spec 12.1.9: SGI generation is
    // not ordered with memory accesses without a barrier).
    unsafe {
        core::arch::asm!("dsb sy", options(nostack));
        write_sysreg!("s3_0_c12_c11_7", v); // ICC_SGI0R_EL1
        core::arch::asm!("isb", options(nostack));
    }
}

/// Acknowledges any pending Group 0 interrupt (the pen's SGI) after a WFI.
pub fn ack_pen_sgi() {
    let intid = read_sysreg!("s3_0_c12_c8_0"); // ICC_IAR0_EL1
    if intid < 1020 {
        // SAFETY: ending the interrupt we just acknowledged has no memory effect.
        unsafe { write_sysreg!("s3_0_c12_c8_1", intid) }; // ICC_EOIR0_EL1
    }
}
