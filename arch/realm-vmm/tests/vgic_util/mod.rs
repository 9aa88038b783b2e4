//! Helpers for the vGIC tests: register offsets written out from the GICv3 spec (not taken from
//! the crate), MMIO accessors, and Linux's bring-up sequence (drivers/irqchip/irq-gic-v3.c).
#![allow(dead_code)]

use realm_vmm::layout::GICR_STRIDE;
use realm_vmm::vgic::{Region, Vgic};

pub const GICD_CTLR: u64 = 0x0000;
pub const GICD_TYPER: u64 = 0x0004;
pub const GICD_IIDR: u64 = 0x0008;
pub const GICD_TYPER2: u64 = 0x000c;
pub const GICD_IGROUPR: u64 = 0x0080;
pub const GICD_ISENABLER: u64 = 0x0100;
pub const GICD_ICENABLER: u64 = 0x0180;
pub const GICD_ISPENDR: u64 = 0x0200;
pub const GICD_ICPENDR: u64 = 0x0280;
pub const GICD_ISACTIVER: u64 = 0x0300;
pub const GICD_ICACTIVER: u64 = 0x0380;
pub const GICD_IPRIORITYR: u64 = 0x0400;
pub const GICD_ITARGETSR: u64 = 0x0800;
pub const GICD_ICFGR: u64 = 0x0c00;
pub const GICD_IGRPMODR: u64 = 0x0d00;
pub const GICD_SGIR: u64 = 0x0f00;
pub const GICD_IROUTER: u64 = 0x6000;
pub const GICD_PIDR2: u64 = 0xffe8;

pub const GICD_CTLR_ENABLE_G0: u32 = 1 << 0;
pub const GICD_CTLR_ENABLE_G1: u32 = 1 << 1;
pub const GICD_CTLR_ARE: u32 = 1 << 4;
pub const GICD_CTLR_DS: u32 = 1 << 6;
pub const GICD_CTLR_RWP: u32 = 1 << 31;

pub const GICR_CTLR: u64 = 0x0000;
pub const GICR_IIDR: u64 = 0x0004;
pub const GICR_TYPER: u64 = 0x0008;
pub const GICR_WAKER: u64 = 0x0014;
pub const GICR_PIDR2: u64 = 0xffe8;
pub const SGI_BASE: u64 = 0x1_0000;
pub const GICR_IGROUPR0: u64 = SGI_BASE + 0x080;
pub const GICR_ISENABLER0: u64 = SGI_BASE + 0x100;
pub const GICR_ICENABLER0: u64 = SGI_BASE + 0x180;
pub const GICR_ISPENDR0: u64 = SGI_BASE + 0x200;
pub const GICR_ICPENDR0: u64 = SGI_BASE + 0x280;
pub const GICR_ISACTIVER0: u64 = SGI_BASE + 0x300;
pub const GICR_ICACTIVER0: u64 = SGI_BASE + 0x380;
pub const GICR_IPRIORITYR0: u64 = SGI_BASE + 0x400;
pub const GICR_ICFGR0: u64 = SGI_BASE + 0xc00;
pub const GICR_ICFGR1: u64 = SGI_BASE + 0xc04;
pub const GICR_IGRPMODR0: u64 = SGI_BASE + 0xd00;

pub const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
pub const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
pub const TYPER_LAST: u64 = 1 << 4;

/// Linux's default priority (GICD_INT_DEF_PRI).
pub const DEF_PRI: u8 = 0xa0;

pub fn rd(g: &Vgic, off: u64) -> u32 {
    g.read(Region::Distributor, off, 4) as u32
}

pub fn wd(g: &mut Vgic, off: u64, v: u32) -> u64 {
    g.write(Region::Distributor, off, 4, v.into()).kick
}

/// Offset of register `off` in vCPU `cpu`'s redistributor.
pub fn gicr(cpu: usize, off: u64) -> u64 {
    cpu as u64 * GICR_STRIDE + off
}

pub fn rr(g: &Vgic, cpu: usize, off: u64) -> u32 {
    g.read(Region::Redistributors, gicr(cpu, off), 4) as u32
}

pub fn wr(g: &mut Vgic, cpu: usize, off: u64, v: u32) -> u64 {
    g.write(Region::Redistributors, gicr(cpu, off), 4, v.into())
        .kick
}

/// GICR_TYPER affinity (63:32) of an MPIDR, as Linux computes it.
pub fn typer_aff(mpidr: u64) -> u64 {
    (mpidr >> 32 & 0xff) << 24 | (mpidr & 0xff_ffff)
}

/// MPIDR affinity as GICD_IROUTER<n> takes it (gic_mpidr_to_affinity).
pub fn irouter_aff(mpidr: u64) -> u64 {
    mpidr & 0xff_00ff_ffff
}

/// Linux's gic_dist_init for `spis` SPIs, routing them to `boot_mpidr`.
pub fn linux_dist_init(g: &mut Vgic, spis: u32, boot_mpidr: u64) {
    wd(g, GICD_CTLR, 0);
    assert_eq!(rd(g, GICD_CTLR) & GICD_CTLR_RWP, 0);
    let lines = spis + 32;
    for i in (32..lines).step_by(32) {
        wd(g, GICD_IGROUPR + u64::from(i / 8), !0);
    }
    // gic_dist_config
    for i in (32..lines).step_by(16) {
        wd(g, GICD_ICFGR + u64::from(i / 4), 0);
    }
    for i in (32..lines).step_by(4) {
        wd(
            g,
            GICD_IPRIORITYR + u64::from(i),
            u32::from_ne_bytes([DEF_PRI; 4]),
        );
    }
    for i in (32..lines).step_by(32) {
        wd(g, GICD_ICACTIVER + u64::from(i / 8), !0);
        wd(g, GICD_ICENABLER + u64::from(i / 8), !0);
    }
    assert_eq!(rd(g, GICD_CTLR) & GICD_CTLR_RWP, 0);
    wd(
        g,
        GICD_CTLR,
        GICD_CTLR_ARE | GICD_CTLR_ENABLE_G1 | GICD_CTLR_ENABLE_G0,
    );
    for i in 32..lines {
        g.write(
            Region::Distributor,
            GICD_IROUTER + 8 * u64::from(i),
            8,
            irouter_aff(boot_mpidr),
        );
    }
}

/// Linux's redistributor walk (gic_iterate_rdists / __gic_populate_rdist): the frame whose
/// GICR_TYPER affinity is `mpidr`'s, stopping at the frame with Last.
pub fn linux_find_rdist(g: &Vgic, mpidr: u64) -> Option<usize> {
    let mut frame = 0;
    loop {
        if rr(g, frame, GICR_PIDR2) & 0xf0 != 0x30 {
            return None;
        }
        let typer = g.read(Region::Redistributors, gicr(frame, GICR_TYPER), 8);
        if typer >> 32 == typer_aff(mpidr) {
            return Some(frame);
        }
        if typer & TYPER_LAST != 0 {
            return None;
        }
        frame += 1;
    }
}

/// Linux's gic_cpu_init for the CPU with `mpidr`: finds and wakes its redistributor, makes
/// SGIs and PPIs Group 1, disables and deactivates them, default priority. Returns the frame.
pub fn linux_cpu_init(g: &mut Vgic, mpidr: u64) -> usize {
    let cpu = linux_find_rdist(g, mpidr).expect("no redistributor");
    let waker = rr(g, cpu, GICR_WAKER);
    wr(g, cpu, GICR_WAKER, waker & !WAKER_PROCESSOR_SLEEP);
    assert_eq!(rr(g, cpu, GICR_WAKER) & WAKER_CHILDREN_ASLEEP, 0);
    wr(g, cpu, GICR_IGROUPR0, !0);
    // gic_cpu_config
    wr(g, cpu, GICR_ICACTIVER0, !0);
    wr(g, cpu, GICR_ICENABLER0, !0);
    for i in (0..32).step_by(4) {
        wr(
            g,
            cpu,
            GICR_IPRIORITYR0 + i,
            u32::from_ne_bytes([DEF_PRI; 4]),
        );
    }
    assert_eq!(rr(g, cpu, GICR_CTLR) & (1 << 3), 0, "GICR_CTLR.RWP");
    cpu
}

/// A vGIC for `mpidrs` brought up as Linux does: distributor, then every CPU.
pub fn linux_bringup(mpidrs: &[u64]) -> Vgic {
    let mut g = Vgic::new(mpidrs);
    linux_dist_init(&mut g, realm_vmm::layout::SPI_COUNT, mpidrs[0]);
    for (i, &m) in mpidrs.iter().enumerate() {
        assert_eq!(linux_cpu_init(&mut g, m), i);
    }
    g
}

/// fill() with `n` list registers and ICH_HCR_EL2 starting at `hcr`; returns both.
pub fn fill(g: &mut Vgic, vcpu: usize, n: usize, hcr: u64) -> (Vec<u64>, u64) {
    let mut lrs = vec![0xdead; n];
    let mut hcr = hcr;
    g.fill(vcpu, &mut lrs, &mut hcr);
    (lrs, hcr)
}

/// The INTIDs of the valid list registers, in LR order.
pub fn intids(lrs: &[u64]) -> Vec<u32> {
    lrs.iter()
        .filter(|&&lr| lr >> 62 != 0)
        .map(|&lr| lr as u32)
        .collect()
}

/// `lrs` as the guest leaves them: `done` INTIDs completed (invalid), `acked` ones active.
pub fn guest(lrs: &[u64], acked: &[u32], done: &[u32]) -> Vec<u64> {
    lrs.iter()
        .map(|&lr| {
            let intid = lr as u32;
            if lr >> 62 == 0 || done.contains(&intid) {
                lr & !(3 << 62)
            } else if acked.contains(&intid) {
                lr & !(3 << 62) | 2 << 62
            } else {
                lr
            }
        })
        .collect()
}
