//! Interrupt delivery through the list registers: SPIs, PPIs and SGIs from their source to an
//! LR, the guest's acknowledge and EOI (as the exit's LRs show them), and back.

mod vgic_util;

use realm_vmm::layout::{PL011_INTID, VTIMER_INTID};
use realm_vmm::vgic::{
    Region, Vgic, HCR_HOST_BITS, HCR_NPIE, HCR_UIE, LR_ACTIVE, LR_EOI, LR_GROUP1, LR_PENDING,
};
use vgic_util::*;

const MPIDRS: [u64; 4] = [0x0, 0x1, 0x2, 0x3];
const LRS: usize = 4;
/// ICH_HCR_EL2.TDIR, a bit the host may set.
const HCR_TDIR: u64 = 1 << 14;

/// The LR the model must build for a pending Group 1 interrupt.
fn lr(intid: u32, prio: u8) -> u64 {
    u64::from(intid) | u64::from(prio) << 48 | LR_GROUP1 | LR_PENDING
}

/// Routes SPI `intid` to MPIDR `mpidr` and enables it.
fn route_enable(g: &mut Vgic, intid: u32, mpidr: u64) -> u64 {
    g.write(
        Region::Distributor,
        GICD_IROUTER + 8 * u64::from(intid),
        8,
        irouter_aff(mpidr),
    );
    wd(
        g,
        GICD_ISENABLER + u64::from(intid / 32 * 4),
        1 << (intid % 32),
    )
}

fn set_edge(g: &mut Vgic, intid: u32) {
    let off = GICD_ICFGR + u64::from(intid / 16 * 4);
    let v = rd(g, off) | 2 << (2 * (intid % 16));
    wd(g, off, v);
}

fn set_priority(g: &mut Vgic, intid: u32, prio: u8) {
    g.write(
        Region::Distributor,
        GICD_IPRIORITYR + u64::from(intid),
        1,
        prio.into(),
    );
}

#[test]
fn level_spi_through_lrs() {
    let mut g = linux_bringup(&MPIDRS);
    assert_eq!(route_enable(&mut g, PL011_INTID, MPIDRS[1]), 0);
    // The line rises: vCPU 1 is kicked and has it; the others do not.
    assert_eq!(g.set_spi_level(PL011_INTID, true).kick, 1 << 1);
    assert!(g.pending(1));
    assert!(!g.pending(0) && !g.pending(2));
    assert_eq!(fill(&mut g, 0, LRS, 0), (vec![0; LRS], 0));
    let want = lr(PL011_INTID, DEF_PRI) | LR_EOI;
    let (lrs, hcr) = fill(&mut g, 1, LRS, 0);
    assert_eq!(lrs, [want, 0, 0, 0]);
    assert_eq!(hcr, 0);
    // Still high, but in an LR: not put in twice, nor kicked again.
    assert_eq!(g.set_spi_level(PL011_INTID, true).kick, 0);
    let (lrs, _) = fill(&mut g, 1, LRS, 0);
    assert_eq!(lrs, [want, 0, 0, 0]);
    assert_eq!(rd(&g, GICD_ISPENDR + 4), 1 << 1);
    // The guest acknowledges: active in the LR, and in ISACTIVER.
    g.sync(1, &guest(&lrs, &[PL011_INTID], &[]), 0);
    assert_eq!(rd(&g, GICD_ISACTIVER + 4), 1 << 1);
    assert!(!g.pending(1));
    let (lrs, _) = fill(&mut g, 1, LRS, 0);
    assert_eq!(lrs, [want & !LR_PENDING | LR_ACTIVE, 0, 0, 0]);
    // EOI with the line still high: pending again, in an LR again.
    g.sync(1, &guest(&lrs, &[], &[PL011_INTID]), 1);
    assert_eq!(rd(&g, GICD_ISACTIVER + 4), 0);
    assert!(g.pending(1));
    let (lrs, _) = fill(&mut g, 1, LRS, 0);
    assert_eq!(lrs, [want, 0, 0, 0]);
    // EOI after the line dropped: done.
    g.set_spi_level(PL011_INTID, false);
    g.sync(1, &guest(&lrs, &[], &[PL011_INTID]), 1);
    assert!(!g.pending(1));
    assert_eq!(fill(&mut g, 1, LRS, 0).0, [0; LRS]);
    assert_eq!(rd(&g, GICD_ISPENDR + 4), 0);
}

#[test]
fn level_spi_dropped_before_ack_leaves_the_lr() {
    let mut g = linux_bringup(&MPIDRS);
    route_enable(&mut g, 40, MPIDRS[0]);
    g.set_spi_level(40, true);
    let (lrs, _) = fill(&mut g, 0, LRS, 0);
    assert_eq!(intids(&lrs), [40]);
    g.sync(0, &lrs, 0);
    g.set_spi_level(40, false);
    assert!(g.pending(0), "still pending in its LR until the next fill");
    assert_eq!(fill(&mut g, 0, LRS, 0).0, [0; LRS]);
    assert!(!g.pending(0));
}

#[test]
fn edge_spi_is_delivered_once_per_edge() {
    let mut g = linux_bringup(&MPIDRS);
    set_edge(&mut g, 34);
    route_enable(&mut g, 34, MPIDRS[2]);
    assert_eq!(g.set_spi_level(34, true).kick, 1 << 2);
    let (lrs, _) = fill(&mut g, 2, LRS, 0);
    assert_eq!(
        lrs,
        [lr(34, DEF_PRI), 0, 0, 0],
        "no EOI maintenance for edge"
    );
    // The latch moved into the LR.
    assert!(g.pending(2));
    g.sync(2, &guest(&lrs, &[34], &[]), 0);
    assert!(!g.pending(2));
    // EOI with the line still high: no new edge, nothing more.
    g.sync(2, &guest(&lrs, &[], &[34]), 0);
    assert!(!g.pending(2));
    assert_eq!(fill(&mut g, 2, LRS, 0).0, [0; LRS]);
    assert_eq!(g.set_spi_level(34, true).kick, 0, "no edge");
    // A new edge while the first is active: pending and active in the same LR.
    g.set_spi_level(34, false);
    assert_eq!(g.set_spi_level(34, true).kick, 1 << 2);
    let (lrs, _) = fill(&mut g, 2, LRS, 0);
    g.sync(2, &guest(&lrs, &[34], &[]), 0);
    g.set_spi_level(34, false);
    assert_eq!(g.set_spi_level(34, true).kick, 0, "in an LR");
    let (lrs, _) = fill(&mut g, 2, LRS, 0);
    assert_eq!(lrs, [lr(34, DEF_PRI) | LR_ACTIVE, 0, 0, 0]);
    g.sync(2, &guest(&lrs, &[], &[34]), 0);
    assert_eq!(fill(&mut g, 2, LRS, 0).0, [0; LRS]);
}

#[test]
fn highest_priority_first_and_underflow() {
    let mut g = linux_bringup(&MPIDRS);
    let prios = [
        (40, 0x80),
        (41, 0x10),
        (42, 0x60),
        (43, 0x30),
        (44, 0x50),
        (45, 0x20),
    ];
    for (intid, prio) in prios {
        route_enable(&mut g, intid, MPIDRS[3]);
        set_priority(&mut g, intid, prio);
        set_edge(&mut g, intid);
        g.set_spi_level(intid, true);
    }
    // The host's bits survive, UIE is set, NPIE and the bits the RMM forbids are cleared.
    let (lrs, hcr) = fill(&mut g, 3, LRS, HCR_TDIR | HCR_NPIE | 1 | 1 << 31);
    assert_eq!(
        lrs,
        [lr(41, 0x10), lr(45, 0x20), lr(43, 0x30), lr(44, 0x50)]
    );
    assert_eq!(hcr, HCR_TDIR | HCR_UIE);
    assert_eq!(hcr & !HCR_HOST_BITS, 0);
    // The guest takes two, then EOIs all four (underflow exit): the rest come in.
    g.sync(3, &guest(&lrs, &[41, 45], &[]), 0b10);
    let (lrs, hcr) = fill(&mut g, 3, LRS, hcr);
    assert_eq!(intids(&lrs), [41, 45, 43, 44]);
    assert_eq!(hcr, HCR_TDIR | HCR_UIE);
    g.sync(3, &guest(&lrs, &[], &[41, 45, 43, 44]), 0b10);
    let (lrs, hcr) = fill(&mut g, 3, LRS, hcr);
    assert_eq!(lrs, [lr(42, 0x60), lr(40, 0x80), 0, 0]);
    assert_eq!(hcr, HCR_TDIR);
    // Same priority: lowest INTID first.
    let mut g = linux_bringup(&MPIDRS);
    for intid in [50, 35, 47] {
        route_enable(&mut g, intid, MPIDRS[0]);
        g.set_spi_level(intid, true);
    }
    let (lrs, _) = fill(&mut g, 0, 2, 0);
    assert_eq!(intids(&lrs), [35, 47]);
}

#[test]
fn higher_priority_evicts_pending_not_active() {
    let mut g = linux_bringup(&MPIDRS);
    for intid in 40..44 {
        route_enable(&mut g, intid, MPIDRS[0]);
        set_priority(&mut g, intid, 0x80 + (intid as u8 - 40) * 8);
        set_edge(&mut g, intid);
        g.set_spi_level(intid, true);
    }
    let (lrs, hcr) = fill(&mut g, 0, LRS, 0);
    assert_eq!(intids(&lrs), [40, 41, 42, 43]);
    assert_eq!(hcr, 0);
    g.sync(0, &guest(&lrs, &[40], &[]), 0);
    // A higher-priority one arrives: it replaces the lowest pending one (43, 0x98); 43 waits.
    route_enable(&mut g, 50, MPIDRS[0]);
    set_priority(&mut g, 50, 0x40);
    assert_eq!(g.set_spi_level(50, true).kick, 1);
    let (lrs, hcr) = fill(&mut g, 0, LRS, 0);
    assert_eq!(intids(&lrs), [40, 41, 42, 50]);
    assert_eq!(lrs[0] & LR_ACTIVE, LR_ACTIVE);
    assert_eq!(hcr, HCR_UIE);
    // The evicted edge interrupt is still pending; it comes back when an LR frees.
    assert_eq!(rd(&g, GICD_ISPENDR + 4) & 1 << (43 - 32), 1 << 11);
    g.sync(0, &guest(&lrs, &[], &[40]), 0);
    let (lrs, hcr) = fill(&mut g, 0, LRS, 0);
    assert_eq!(intids(&lrs), [43, 41, 42, 50]);
    assert_eq!(hcr, 0);
    // All active: nothing is evicted for a higher priority one.
    g.sync(0, &guest(&lrs, &[43, 41, 42, 50], &[]), 0);
    route_enable(&mut g, 51, MPIDRS[0]);
    set_priority(&mut g, 51, 0);
    g.set_spi_level(51, true);
    let (lrs, hcr) = fill(&mut g, 0, LRS, 0);
    assert_eq!(intids(&lrs), [43, 41, 42, 50]);
    assert_eq!(hcr, HCR_UIE);
}

#[test]
fn disabled_or_group_disabled_not_delivered() {
    let mut g = linux_bringup(&MPIDRS);
    g.write(Region::Distributor, GICD_IROUTER + 8 * 36, 8, 0);
    // Pending but disabled: no kick, nothing to take.
    assert_eq!(g.set_spi_level(36, true).kick, 0);
    assert!(!g.pending(0));
    assert_eq!(fill(&mut g, 0, LRS, 0).0, [0; LRS]);
    // Enabling it kicks its vCPU.
    assert_eq!(wd(&mut g, GICD_ISENABLER + 4, 1 << 4), 1);
    // Group 1 disabled at the distributor: withheld, and taken out of a pending-only LR.
    let (lrs, _) = fill(&mut g, 0, LRS, 0);
    assert_eq!(intids(&lrs), [36]);
    g.sync(0, &lrs, 0);
    wd(&mut g, GICD_CTLR, GICD_CTLR_ARE | GICD_CTLR_ENABLE_G0);
    assert_eq!(fill(&mut g, 0, LRS, 0).0, [0; LRS]);
    assert!(!g.pending(0));
    // Enabling Group 1 again kicks every vCPU with something deliverable.
    assert_eq!(
        wd(&mut g, GICD_CTLR, GICD_CTLR_ARE | GICD_CTLR_ENABLE_G1),
        1
    );
    // Made Group 0, with only Group 1 enabled: withheld; Group 0 enabled: an LR without Group.
    wd(&mut g, GICD_IGROUPR + 4, !(1 << 4));
    assert!(!g.pending(0));
    assert_eq!(
        wd(&mut g, GICD_CTLR, GICD_CTLR_ENABLE_G0 | GICD_CTLR_ENABLE_G1),
        1
    );
    let (lrs, _) = fill(&mut g, 0, LRS, 0);
    assert_eq!(
        lrs,
        [36 | u64::from(DEF_PRI) << 48 | LR_PENDING | LR_EOI, 0, 0, 0]
    );
    // Disabled while pending in an LR: out at the next fill; enabled again: back.
    g.sync(0, &lrs, 0);
    assert_eq!(wd(&mut g, GICD_ICENABLER + 4, 1 << 4), 0);
    assert_eq!(fill(&mut g, 0, LRS, 0).0, [0; LRS]);
    assert_eq!(wd(&mut g, GICD_ISENABLER + 4, 1 << 4), 1);
    assert_eq!(intids(&fill(&mut g, 0, LRS, 0).0), [36]);
    // Active (ISACTIVER) and not in an LR: not delivered until deactivated.
    let mut g = linux_bringup(&MPIDRS);
    route_enable(&mut g, 37, MPIDRS[0]);
    wd(&mut g, GICD_ISACTIVER + 4, 1 << 5);
    g.set_spi_level(37, true);
    assert!(!g.pending(0));
    assert_eq!(wd(&mut g, GICD_ICACTIVER + 4, 1 << 5), 1);
    assert_eq!(intids(&fill(&mut g, 0, LRS, 0).0), [37]);
}

#[test]
fn edge_interrupt_disabled_in_an_lr_stays_pending() {
    let mut g = linux_bringup(&MPIDRS);
    set_edge(&mut g, 46);
    route_enable(&mut g, 46, MPIDRS[3]);
    g.set_spi_level(46, true);
    let (lrs, _) = fill(&mut g, 3, LRS, 0);
    assert_eq!(intids(&lrs), [46]);
    g.sync(3, &lrs, 0);
    // Disabled before the guest took it: out of the LR, its latch back in the model.
    wd(&mut g, GICD_ICENABLER + 4, 1 << 14);
    assert_eq!(fill(&mut g, 3, LRS, 0).0, [0; LRS]);
    assert_eq!(rd(&g, GICD_ISPENDR + 4), 1 << 14);
    assert!(!g.pending(3));
    // Enabled again: delivered, without a new edge.
    assert_eq!(wd(&mut g, GICD_ISENABLER + 4, 1 << 14), 1 << 3);
    assert_eq!(fill(&mut g, 3, LRS, 0).0, [lr(46, DEF_PRI), 0, 0, 0]);
}

#[test]
fn clear_pending_and_active_of_an_interrupt_in_an_lr() {
    let mut g = linux_bringup(&MPIDRS);
    set_edge(&mut g, 38);
    route_enable(&mut g, 38, MPIDRS[1]);
    g.set_spi_level(38, true);
    let (lrs, _) = fill(&mut g, 1, LRS, 0);
    g.sync(1, &lrs, 0);
    assert_eq!(rd(&g, GICD_ISPENDR + 4), 1 << 6);
    // ICPENDR (from another vCPU): it leaves the LR at vCPU 1's next entry.
    wd(&mut g, GICD_ICPENDR + 4, 1 << 6);
    assert_eq!(rd(&g, GICD_ISPENDR + 4), 0);
    assert_eq!(fill(&mut g, 1, LRS, 0).0, [0; LRS]);
    // ICACTIVER of an active one: deactivated at the next entry.
    g.set_spi_level(38, false);
    g.set_spi_level(38, true);
    let (lrs, _) = fill(&mut g, 1, LRS, 0);
    g.sync(1, &guest(&lrs, &[38], &[]), 0);
    assert_eq!(rd(&g, GICD_ISACTIVER + 4), 1 << 6);
    wd(&mut g, GICD_ICACTIVER + 4, 1 << 6);
    assert_eq!(rd(&g, GICD_ISACTIVER + 4), 0);
    assert_eq!(fill(&mut g, 1, LRS, 0).0, [0; LRS]);
}

#[test]
fn spi_routing() {
    let mut g = linux_bringup(&MPIDRS);
    // To an affinity no vCPU has: pending, but nowhere to go.
    route_enable(&mut g, 39, 0x7);
    assert_eq!(g.set_spi_level(39, true).kick, 0);
    assert!((0..4).all(|v| !g.pending(v)));
    // Routed to vCPU 2: kicked.
    let off = GICD_IROUTER + 8 * 39;
    assert_eq!(g.write(Region::Distributor, off, 8, 0x2).kick, 1 << 2);
    assert!(g.pending(2));
    // IRM == 1: vCPU 0, or the lowest-numbered online one.
    assert_eq!(g.write(Region::Distributor, off, 8, 1 << 31).kick, 1);
    assert!(g.pending(0) && !g.pending(2));
    assert_eq!(g.set_online(2, true).kick, 0);
    assert_eq!(g.set_online(0, false).kick, 1 << 2);
    assert!(g.pending(2) && !g.pending(0));
    assert_eq!(intids(&fill(&mut g, 2, LRS, 0).0), [39]);
    // Once in an LR it stays there until done, wherever it is routed next.
    assert_eq!(g.write(Region::Distributor, off, 8, 0x1).kick, 0);
    assert!(!g.pending(1));
}

#[test]
fn timer_ppis_are_per_vcpu() {
    let mut g = linux_bringup(&MPIDRS);
    // Disabled: no kick.
    assert_eq!(g.set_ppi_level(1, VTIMER_INTID, true).kick, 0);
    assert!(!g.pending(1));
    assert_eq!(rr(&g, 1, GICR_ISPENDR0), 1 << VTIMER_INTID);
    assert_eq!(rr(&g, 0, GICR_ISPENDR0), 0);
    // vCPU 1 enables it (through its own frame): kicked.
    assert_eq!(wr(&mut g, 1, GICR_ISENABLER0, 1 << VTIMER_INTID), 1 << 1);
    wr(&mut g, 0, GICR_ISENABLER0, 1 << VTIMER_INTID);
    assert!(g.pending(1) && !g.pending(0));
    assert_eq!(fill(&mut g, 0, LRS, 0).0, [0; LRS]);
    let (lrs, _) = fill(&mut g, 1, LRS, 0);
    assert_eq!(
        lrs,
        [lr(VTIMER_INTID, DEF_PRI), 0, 0, 0],
        "no EOI maintenance for PPIs"
    );
    // The guest acks; the next exit shows the timer deasserted (reprogrammed); EOI.
    g.sync(1, &guest(&lrs, &[VTIMER_INTID], &[]), 0);
    g.set_ppi_level(1, VTIMER_INTID, false);
    let (lrs, _) = fill(&mut g, 1, LRS, 0);
    g.sync(1, &guest(&lrs, &[], &[VTIMER_INTID]), 0);
    assert!(!g.pending(1));
    // Fires again on vCPU 0 only.
    assert_eq!(g.set_ppi_level(0, VTIMER_INTID, true).kick, 1);
    assert_eq!(intids(&fill(&mut g, 0, LRS, 0).0), [VTIMER_INTID]);
    assert_eq!(fill(&mut g, 1, LRS, 0).0, [0; LRS]);
    // Not PPIs: ignored.
    assert_eq!(g.set_ppi_level(2, 40, true).kick, 0);
    assert_eq!(g.set_ppi_level(2, 3, true).kick, 0);
    assert_eq!(rr(&g, 2, GICR_ISPENDR0), 0);
    assert_eq!(rd(&g, GICD_ISPENDR + 4), 0);
}

#[test]
fn sgi_decode() {
    // Cluster 0: Aff0 0-2 and 32 (RS 2); cluster 1; Aff2 and Aff3 clusters.
    let mpidrs = [0x0, 0x1, 0x2, 0x100, 0x101, 0x1_0000_0000, 0x20, 0x10_0000];
    let mut g = linux_bringup(&mpidrs);
    let sgi = |intid: u64, aff3: u64, aff2: u64, aff1: u64, rs: u64, list: u64| {
        aff3 << 48 | rs << 44 | aff2 << 32 | intid << 24 | aff1 << 16 | list
    };
    // Target list in cluster 0.
    assert_eq!(g.sgi(0, sgi(1, 0, 0, 0, 0, 0b110)), 0b110);
    // Aff1 = 1.
    assert_eq!(g.sgi(0, sgi(2, 0, 0, 1, 0, 0b11)), 0b11 << 3);
    // Aff3 = 1, Aff2 = 0x10.
    assert_eq!(g.sgi(0, sgi(3, 1, 0, 0, 0, 1)), 1 << 5);
    assert_eq!(g.sgi(0, sgi(3, 0, 0x10, 0, 0, 1)), 1 << 7);
    // RS = 2: Aff0 32 + n.
    assert_eq!(g.sgi(0, sgi(4, 0, 0, 0, 2, 1)), 1 << 6);
    assert_eq!(g.sgi(0, sgi(4, 0, 0, 0, 1, 1)), 0, "Aff0 16: nobody");
    // Targets that do not exist, and oneself.
    assert_eq!(g.sgi(0, sgi(5, 0, 0, 2, 0, 0xffff)), 0);
    assert_eq!(g.sgi(0, sgi(5, 0, 0, 0, 0, 0b1)), 0b1);
    // IRM == 1: all but the sender; the other fields are ignored.
    assert_eq!(g.sgi(2, 1 << 40 | sgi(6, 1, 0, 1, 0, 1)), 0xff & !(1 << 2));
    // What each vCPU has pending.
    let pend: Vec<u32> = (0..mpidrs.len())
        .map(|v| rr(&g, v, GICR_ISPENDR0))
        .collect();
    assert_eq!(
        pend,
        [
            1 << 5 | 1 << 6,
            1 << 1 | 1 << 6,
            1 << 1,
            1 << 2 | 1 << 6,
            1 << 2 | 1 << 6,
            1 << 3 | 1 << 6,
            1 << 4 | 1 << 6,
            1 << 3 | 1 << 6
        ]
    );
}

#[test]
fn sgi_delivery() {
    let mut g = linux_bringup(&MPIDRS);
    // Linux enables its IPIs (SGIs 0-7) on each CPU.
    for v in 0..4 {
        wr(&mut g, v, GICR_ISENABLER0, 0xff);
    }
    assert_eq!(g.sgi(0, 3 << 24 | 0b1100), 0b1100);
    assert!(g.pending(2) && g.pending(3) && !g.pending(1));
    let (lrs, _) = fill(&mut g, 2, LRS, 0);
    assert_eq!(lrs, [lr(3, DEF_PRI), 0, 0, 0]);
    g.sync(2, &guest(&lrs, &[3], &[]), 0);
    // Sent again while active: pending and active in the LR.
    assert_eq!(g.sgi(1, 3 << 24 | 0b100), 0b100);
    assert_eq!(
        fill(&mut g, 2, LRS, 0).0,
        [lr(3, DEF_PRI) | LR_ACTIVE, 0, 0, 0]
    );
    // A disabled SGI is pended but not delivered.
    assert_eq!(g.sgi(0, 9 << 24 | 0b10), 0b10);
    assert!(!g.pending(1));
    assert_eq!(wr(&mut g, 1, GICR_ISENABLER0, 1 << 9), 1 << 1);
    assert_eq!(intids(&fill(&mut g, 1, LRS, 0).0), [9]);
}

#[test]
fn more_lrs_than_used_are_zeroed() {
    let mut g = linux_bringup(&MPIDRS);
    route_enable(&mut g, 33, MPIDRS[0]);
    g.set_spi_level(33, true);
    let (lrs, _) = fill(&mut g, 0, 20, 0);
    assert_eq!(intids(&lrs), [33]);
    assert!(lrs[1..].iter().all(|&lr| lr == 0));
    // No list registers at all: it waits, UIE asks for an exit.
    let mut g = linux_bringup(&MPIDRS);
    route_enable(&mut g, 33, MPIDRS[0]);
    g.set_spi_level(33, true);
    assert_eq!(fill(&mut g, 0, 0, 0), (vec![], HCR_UIE));
}
