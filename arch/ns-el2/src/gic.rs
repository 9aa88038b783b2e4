//! The test host's own GICv3 configuration. An NS-EL2 hypervisor owns the Normal world's GIC
//! set-up and must enable what it uses: TF-A, for one, leaves Group 1 Non-secure interrupts
//! disabled at the distributor.
//!
//! Source: Arm GICv3/v4 architecture specification (IHI 0069): the Non-secure view of
//! GICD_CTLR with two security states (bit 1 EnableGrp1A, bit 4 ARE_NS, bit 31 RWP; 12.9.4);
//! GICR_TYPER.Affinity and Last, the last frame of a redistributor region (12.11.37);
//! ICC_SGI1R_EL1 (12.2.22). QEMU `virt` has a second redistributor region (at 256 GiB) beyond
//! 123 CPUs: [`init_regions`] reads both from the device tree.

use crate::console::println;
use core::sync::atomic::{AtomicU64, Ordering};
use rmm_arch::fdt::Fdt;
use rmm_arch::layout::qemu::{GICD_BASE, GICR_BASE, GICR_STRIDE};

const GICD_CTLR: u64 = 0x0;
const CTLR_ENABLE_GRP1A: u32 = 1 << 1;
const CTLR_ARE_NS: u32 = 1 << 4;
const CTLR_RWP: u32 = 1 << 31;
const GICR_TYPER: u64 = 0x8;
const TYPER_LAST: u64 = 1 << 4;
/// Most redistributor regions kept.
const MAX_REGIONS: usize = 4;

/// The redistributor regions (base, size), in CPU order: QEMU `virt`'s first region (123
/// frames) until [`init_regions`] reads the tree. Written by the boot CPU before it starts
/// any other (published by `smp::start`'s Release), read-only afterwards.
static REGIONS: [(AtomicU64, AtomicU64); MAX_REGIONS] = [
    (AtomicU64::new(GICR_BASE), AtomicU64::new(0x00f6_0000)),
    (AtomicU64::new(0), AtomicU64::new(0)),
    (AtomicU64::new(0), AtomicU64::new(0)),
    (AtomicU64::new(0), AtomicU64::new(0)),
];

/// Reads the redistributor regions from the GIC node of `tree` (`arm,gic-v3` binding: `reg`
/// is GICD, then `#redistributor-regions` GICR regions, two cells each for address and size
/// as QEMU `virt` writes them). Boot CPU, before starting others; keeps QEMU's first region
/// if the tree says nothing.
pub fn init_regions(tree: &Fdt) {
    let node = "/intc@8000000";
    let Some(reg) = tree.property(node, "reg") else {
        return;
    };
    let n = tree
        .property(node, "#redistributor-regions")
        .and_then(|v| Some(u32::from_be_bytes(v.get(..4)?.try_into().ok()?)))
        .unwrap_or(1) as usize;
    let cell = |i: usize| -> Option<u64> {
        Some(u64::from_be_bytes(
            reg.get(i * 8..i * 8 + 8)?.try_into().ok()?,
        ))
    };
    for (k, (base, size)) in REGIONS.iter().enumerate() {
        // Entry 0 of `reg` is the distributor; region k is entry k + 1.
        let (b, s) = match (k < n, cell(2 + 2 * k), cell(3 + 2 * k)) {
            (true, Some(b), Some(s)) => (b, s),
            _ => (0, 0),
        };
        if k == 0 && s == 0 {
            return;
        }
        // Relaxed: published as REGIONS says.
        base.store(b, Ordering::Relaxed);
        size.store(s, Ordering::Relaxed);
    }
}

fn read32(pa: u64) -> u32 {
    // SAFETY: a GIC register (MMU off: Device memory); reads have no side effect on the
    // registers used here.
    unsafe { core::ptr::read_volatile(pa as *const u32) }
}

fn write32(pa: u64, v: u32) {
    // SAFETY: a GIC register; writes change interrupt routing only, no memory.
    unsafe { core::ptr::write_volatile(pa as *mut u32, v) }
}

fn wait_rwp() {
    while read32(GICD_BASE + GICD_CTLR) & CTLR_RWP != 0 {
        core::hint::spin_loop();
    }
}

/// Turns on affinity routing and Group 1 Non-secure interrupts at the distributor, whatever
/// EL3 left, and says so when it had to.
pub fn init() {
    let ctlr = read32(GICD_BASE + GICD_CTLR);
    let wanted = CTLR_ARE_NS | CTLR_ENABLE_GRP1A;
    if ctlr & wanted == wanted {
        return;
    }
    if ctlr & CTLR_ARE_NS == 0 {
        // ARE_NS may only change while the group is disabled.
        write32(
            GICD_BASE + GICD_CTLR,
            (ctlr & !CTLR_ENABLE_GRP1A) | CTLR_ARE_NS,
        );
        wait_rwp();
    }
    write32(
        GICD_BASE + GICD_CTLR,
        read32(GICD_BASE + GICD_CTLR) | wanted,
    );
    wait_rwp();
    println!(
        "{}: GICv3 distributor: Group 1 Non-secure interrupts{} were off; enabled",
        crate::name(),
        if ctlr & CTLR_ARE_NS == 0 {
            " and affinity routing"
        } else {
            ""
        }
    );
}

/// The redistributor frame of this CPU (GICR_TYPER.Affinity = MPIDR), if found: each
/// region's frames up to the one with GICR_TYPER.Last.
pub fn redistributor() -> Option<u64> {
    let mpidr = rmm_arch::read_sysreg!("mpidr_el1");
    let affinity = (mpidr & 0xff_ffff) | (mpidr >> 32 & 0xff) << 24;
    for (base, size) in &REGIONS {
        // Relaxed: see REGIONS.
        let (base, size) = (base.load(Ordering::Relaxed), size.load(Ordering::Relaxed));
        let mut frame = base;
        while frame + GICR_STRIDE <= base + size {
            // SAFETY: GICR_TYPER of a frame inside a redistributor region the tree names
            // (NS PAS, MMU off); the walk stops at the frame with GICR_TYPER.Last. A read with
            // no side effect.
            let typer = unsafe { core::ptr::read_volatile((frame + GICR_TYPER) as *const u64) };
            if typer >> 32 == affinity {
                return Some(frame);
            }
            if typer & TYPER_LAST != 0 {
                break;
            }
            frame += GICR_STRIDE;
        }
    }
    None
}

/// ICC_SGI1R_EL1 for SGI `intid` to the one CPU with MPIDR `mpidr`: Aff3 [55:48], RS [47:44]
/// (Aff0 / 16: which 16 Aff0 values the target list covers), Aff2 [39:32], INTID [27:24],
/// Aff1 [23:16], TargetList [15:0] (bit Aff0 % 16), IRM 0 (GICv3 spec 12.2.22).
pub const fn sgi1r(intid: u64, mpidr: u64) -> u64 {
    let aff0 = mpidr & 0xff;
    (mpidr >> 32 & 0xff) << 48
        | (aff0 / 16) << 44
        | (mpidr >> 16 & 0xff) << 32
        | (intid & 0xf) << 24
        | (mpidr >> 8 & 0xff) << 16
        | 1 << (aff0 % 16)
}

/// Sends the Group 1 Non-secure SGI `intid` to the CPU with MPIDR `mpidr`.
pub fn send_sgi(intid: u64, mpidr: u64) {
    // SAFETY: ICC_SGI1R_EL1 generates a physical Group 1 SGI; `dsb` first so that what the
    // target reads after waking is visible (GICv3 12.1.9: SGI generation is not ordered with
    // memory accesses without a barrier).
    unsafe {
        core::arch::asm!("dsb sy", options(nostack));
        rmm_arch::write_sysreg!("s3_0_c12_c11_5", sgi1r(intid, mpidr));
    }
    rmm_arch::isb!();
}

/// GICR_ISENABLER0 and GICR_ICENABLER0 in a redistributor's SGI frame.
const GICR_ISENABLER0: u64 = 0x1_0000 + 0x100;
const GICR_ICENABLER0: u64 = 0x1_0000 + 0x180;

/// Enables (`on`) or disables the SGIs and PPIs `intids` (each below 32) at this CPU's
/// redistributor; false if it has none.
pub fn set_private(intids: &[u32], on: bool) -> bool {
    let Some(frame) = redistributor() else {
        return false;
    };
    let bits = intids
        .iter()
        .filter(|&&i| i < 32)
        .fold(0u32, |b, &i| b | 1 << i);
    let register = if on { GICR_ISENABLER0 } else { GICR_ICENABLER0 };
    write32(frame + register, bits);
    true
}

/// Enables the SGIs and PPIs `intids` at this CPU's redistributor.
pub fn enable_private(intids: &[u32]) -> bool {
    set_private(intids, true)
}
