//! The test host's own GICv3 configuration. An NS-EL2 hypervisor owns the Normal world's GIC
//! set-up and must enable what it uses: TF-A, for one, leaves Group 1 Non-secure interrupts
//! disabled at the distributor.
//!
//! Source: Arm GICv3/v4 architecture specification (IHI 0069): the Non-secure view of
//! GICD_CTLR with two security states (bit 1 EnableGrp1A, bit 4 ARE_NS, bit 31 RWP; 12.9.4);
//! GICR_TYPER.Affinity and Last (12.11.37).

use crate::console::println;
use rmm_arch::layout::qemu::{GICD_BASE, GICR_BASE, GICR_STRIDE};

const GICD_CTLR: u64 = 0x0;
const CTLR_ENABLE_GRP1A: u32 = 1 << 1;
const CTLR_ARE_NS: u32 = 1 << 4;
const CTLR_RWP: u32 = 1 << 31;
const GICR_TYPER: u64 = 0x8;
const TYPER_LAST: u64 = 1 << 4;
/// Most redistributor frames walked.
const MAX_FRAMES: u64 = 512;

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

/// The redistributor frame of this CPU (GICR_TYPER.Affinity = MPIDR), if found.
pub fn redistributor() -> Option<u64> {
    let mpidr = rmm_arch::read_sysreg!("mpidr_el1");
    let affinity = (mpidr & 0xff_ffff) | (mpidr >> 32 & 0xff) << 24;
    for i in 0..MAX_FRAMES {
        let frame = GICR_BASE + i * GICR_STRIDE;
        // SAFETY: GICR_TYPER of a frame in the redistributor region: the walk stops at the
        // frame with GICR_TYPER.Last. A read with no side effect.
        let typer = unsafe { core::ptr::read_volatile((frame + GICR_TYPER) as *const u64) };
        if typer >> 32 == affinity {
            return Some(frame);
        }
        if typer & TYPER_LAST != 0 {
            break;
        }
    }
    None
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
