//! GICv3 set-up for the Normal world, and the Group 0 SGI that wakes EL3's pen.
//!
//! Source: Arm GICv3/v4 architecture specification (IHI 0069): GICD_CTLR with affinity
//! routing (ARE_S, ARE_NS) written while the groups are disabled (12.9.4); GICR_WAKER
//! ProcessorSleep/ChildrenAsleep handshake (12.11.41); GICR_TYPER.Last marks the last
//! redistributor frame of a region (12.11.37); QEMU `virt` has two regions beyond 123 CPUs. Every SGI, PPI and SPI is Group 1 Non-secure
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

/// Most redistributor regions read from the device tree.
const MAX_REGIONS: usize = 4;
/// QEMU `virt`'s first redistributor region when the device tree says nothing: 123 frames,
/// up to the UART.
const DEFAULT_REGION: (u64, u64) = (GICR_BASE, 0x00f6_0000);

/// The redistributor regions, (base, size) each, in the order the CPUs are numbered.
#[derive(Clone, Copy, Debug)]
pub struct Regions {
    regions: [(u64, u64); MAX_REGIONS],
    count: usize,
}

impl Regions {
    /// From QEMU's device tree: the `reg` of the GIC node (`arm,gic-v3` binding: GICD, then
    /// `#redistributor-regions` GICR regions, then GICC, GICH, GICV), two cells each for
    /// address and size as `virt` writes them. Without a tree, QEMU's first region only.
    pub fn from_tree(tree: Option<&rmm_arch::fdt::Fdt>) -> Self {
        let mut r = Self {
            regions: [(0, 0); MAX_REGIONS],
            count: 0,
        };
        let node = "/intc@8000000";
        let reg = tree.and_then(|t| t.property(node, "reg"));
        let n = tree
            .and_then(|t| t.property(node, "#redistributor-regions"))
            .and_then(|v| Some(u32::from_be_bytes(v.get(..4)?.try_into().ok()?)))
            .unwrap_or(1) as usize;
        let cell = |i: usize| -> Option<u64> {
            Some(u64::from_be_bytes(
                reg?.get(i * 8..i * 8 + 8)?.try_into().ok()?,
            ))
        };
        for k in 0..n.min(MAX_REGIONS) {
            // Entry 0 is the distributor; region k is entry k + 1 (base, size).
            if let (Some(base), Some(size)) = (cell(2 + 2 * k), cell(3 + 2 * k)) {
                r.regions[r.count] = (base, size);
                r.count += 1;
            }
        }
        if r.count == 0 {
            r.regions[0] = DEFAULT_REGION;
            r.count = 1;
        }
        r
    }

    /// The regions, (base, size) each.
    pub fn as_slice(&self) -> &[(u64, u64)] {
        &self.regions[..self.count]
    }

    /// Calls `visit(frame, GICR_TYPER)` for every redistributor frame in CPU order: each
    /// region up to its frame with GICR_TYPER.Last (or its end). The regions must be mapped
    /// ([`crate::mmu::map_device`] for those above 4 GiB).
    pub fn for_each_frame(&self, mut visit: impl FnMut(u64, u64)) {
        for &(base, size) in self.as_slice() {
            let mut frame = base;
            while frame + GICR_STRIDE <= base + size {
                let typer = u64::from(read32(frame + GICR_TYPER))
                    | u64::from(read32(frame + GICR_TYPER + 4)) << 32;
                visit(frame, typer);
                if typer & TYPER_LAST != 0 {
                    break;
                }
                frame += GICR_STRIDE;
            }
        }
    }
}

/// The affinities of the redistributors (GICR_TYPER[63:32]), in CPU order: see
/// [`crate::topology`].
pub fn affinities(regions: &Regions, mut found: impl FnMut(u32)) {
    regions.for_each_frame(|_, typer| found((typer >> 32) as u32));
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

/// Every redistributor: awake, SGIs/PPIs Group 1 NS except [`PEN_SGI`] (Group 0, enabled).
pub fn init_redistributors(regions: &Regions) {
    regions.for_each_frame(|rd, _| init_redistributor(rd));
}

fn init_redistributor(rd: u64) {
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

/// ICC_SGI0R_EL1 (or SGI1R) naming the one CPU with packed affinity `aff` (Aff3.Aff2.Aff1.
/// Aff0, [`crate::topology`]) and `intid`: Aff3 [55:48], RS [47:44] (which 16 Aff0 values the
/// target list covers: Aff0 / 16; needs GICD_TYPER.RSS where Aff0 >= 16), Aff2 [39:32], INTID
/// [27:24], Aff1 [23:16], TargetList [15:0] (bit Aff0 % 16); IRM = 0 (GICv3 spec 12.7.9).
pub const fn sgi_value(intid: u32, aff: u32) -> u64 {
    let [aff0, aff1, aff2, aff3] = aff.to_le_bytes();
    (aff3 as u64) << 48
        | ((aff0 / 16) as u64) << 44
        | (aff2 as u64) << 32
        | ((intid & 0xf) as u64) << 24
        | (aff1 as u64) << 16
        | 1 << (aff0 % 16)
}

/// Sends [`PEN_SGI`] to the CPU with packed affinity `aff`.
pub fn send_pen_sgi(aff: u32) {
    let v = sgi_value(PEN_SGI, aff);
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
