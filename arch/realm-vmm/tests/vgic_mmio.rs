//! The vGIC's registers as Linux's GICv3 driver reads and writes them: distributor and
//! redistributor bring-up, access sizes, RAZ/WI.

mod vgic_util;

use realm_vmm::layout::{
    GICD_BASE, GICR_BASE, GICR_STRIDE, PL011_BASE, SPI_COUNT, UNPROTECTED_BIT,
};
use realm_vmm::vgic::{Region, Vgic};
use vgic_util::*;

/// Two clusters of two, and one CPU at Aff3 = 1.
const MPIDRS: [u64; 5] = [0x0, 0x1, 0x100, 0x101, 0x1_0000_0000];

#[test]
fn distributor_identification() {
    let g = Vgic::new(&MPIDRS);
    assert_eq!(rd(&g, GICD_PIDR2), 0x3b);
    assert_eq!(rd(&g, GICD_PIDR2) & 0xf0, 0x30, "ArchRev: GICv3");
    // RSS (26), A3V (24), IDbits 9 (23:19), no LPIS (17) / MBIS (16) / ESPI (8) /
    // SecurityExtn (10), CPUNumber 4 (7:5), ITLinesNumber 2 (4:0: 96 INTIDs).
    assert_eq!(SPI_COUNT, 64);
    assert_eq!(rd(&g, GICD_TYPER), 1 << 26 | 1 << 24 | 9 << 19 | 4 << 5 | 2);
    assert_eq!(rd(&g, GICD_IIDR), 0x43b);
    assert_eq!(rd(&g, GICD_TYPER2), 0);
    // Reset: groups disabled, ARE and DS read as one.
    assert_eq!(rd(&g, GICD_CTLR), GICD_CTLR_ARE | GICD_CTLR_DS);
    // CPUNumber saturates at 8 PEs.
    let many: Vec<u64> = (0..12).collect();
    assert_eq!(rd(&Vgic::new(&many), GICD_TYPER) >> 5 & 7, 7);
}

#[test]
fn linux_distributor_init_reads_back() {
    let mut g = Vgic::new(&MPIDRS);
    linux_dist_init(&mut g, SPI_COUNT, MPIDRS[0]);
    // ARE and DS stay one whatever is written; RWP is never set.
    assert_eq!(
        rd(&g, GICD_CTLR),
        GICD_CTLR_DS | GICD_CTLR_ARE | GICD_CTLR_ENABLE_G1 | GICD_CTLR_ENABLE_G0
    );
    wd(&mut g, GICD_CTLR, GICD_CTLR_ENABLE_G1);
    assert_eq!(
        rd(&g, GICD_CTLR),
        GICD_CTLR_DS | GICD_CTLR_ARE | GICD_CTLR_ENABLE_G1
    );
    for reg in [1, 2] {
        assert_eq!(rd(&g, GICD_IGROUPR + 4 * reg), !0, "IGROUPR{reg}");
        assert_eq!(rd(&g, GICD_ISENABLER + 4 * reg), 0);
        assert_eq!(rd(&g, GICD_ISACTIVER + 4 * reg), 0);
        assert_eq!(rd(&g, GICD_ISPENDR + 4 * reg), 0);
    }
    for reg in 2..6 {
        assert_eq!(rd(&g, GICD_ICFGR + 4 * reg), 0, "ICFGR{reg}: level");
    }
    for i in (32..96).step_by(4) {
        assert_eq!(rd(&g, GICD_IPRIORITYR + i), 0xa0a0_a0a0);
    }
    for intid in 32..96 {
        let off = GICD_IROUTER + 8 * intid;
        assert_eq!(g.read(Region::Distributor, off, 8), 0);
    }
    // Route SPI 40 to 0x1_0000_0000 (Aff3) and SPI 41 to 0x101, read back in 64 and 32 bits.
    let off40 = GICD_IROUTER + 8 * 40;
    g.write(Region::Distributor, off40, 8, 0x1_0000_0000);
    assert_eq!(g.read(Region::Distributor, off40, 8), 0x1_0000_0000);
    assert_eq!(g.read(Region::Distributor, off40, 4), 0);
    assert_eq!(g.read(Region::Distributor, off40 + 4, 4), 1);
    let off41 = GICD_IROUTER + 8 * 41;
    g.write(Region::Distributor, off41, 4, 0x101);
    g.write(Region::Distributor, off41 + 4, 4, 0);
    assert_eq!(g.read(Region::Distributor, off41, 8), 0x101);
    // IRM (31) holds; RES0 bits 30:24 and 63:40 do not.
    g.write(
        Region::Distributor,
        off41,
        8,
        0xffff_ffff_7f00_0000 | 1 << 31,
    );
    assert_eq!(g.read(Region::Distributor, off41, 8), 0xff_8000_0000);
}

#[test]
fn enable_pending_active_bits() {
    let mut g = linux_bringup(&MPIDRS);
    wd(&mut g, GICD_ISENABLER + 4, 1 << 1 | 1 << 31);
    wd(&mut g, GICD_ISENABLER + 8, 1);
    assert_eq!(rd(&g, GICD_ISENABLER + 4), 1 << 1 | 1 << 31);
    assert_eq!(rd(&g, GICD_ICENABLER + 4), 1 << 1 | 1 << 31);
    wd(&mut g, GICD_ICENABLER + 4, 1 << 31);
    assert_eq!(rd(&g, GICD_ISENABLER + 4), 1 << 1);
    assert_eq!(rd(&g, GICD_ISENABLER + 8), 1);
    // Software pending and active.
    wd(&mut g, GICD_ISPENDR + 8, 1 << 5);
    assert_eq!(rd(&g, GICD_ICPENDR + 8), 1 << 5);
    wd(&mut g, GICD_ICPENDR + 8, 1 << 5);
    assert_eq!(rd(&g, GICD_ISPENDR + 8), 0);
    wd(&mut g, GICD_ISACTIVER + 4, 1 << 7);
    assert_eq!(rd(&g, GICD_ICACTIVER + 4), 1 << 7);
    wd(&mut g, GICD_ICACTIVER + 4, !0);
    assert_eq!(rd(&g, GICD_ISACTIVER + 4), 0);
    // A level-sensitive SPI's line shows in ISPENDR, and ICPENDR does not clear it.
    g.set_spi_level(33, true);
    assert_eq!(rd(&g, GICD_ISPENDR + 4), 1 << 1);
    wd(&mut g, GICD_ICPENDR + 4, 1 << 1);
    assert_eq!(rd(&g, GICD_ISPENDR + 4), 1 << 1);
    g.set_spi_level(33, false);
    assert_eq!(rd(&g, GICD_ISPENDR + 4), 0);
    // ICFGR: Int_config[1] per SPI; Int_config[0] is RES0.
    wd(&mut g, GICD_ICFGR + 8, 0xffff_ffff);
    assert_eq!(rd(&g, GICD_ICFGR + 8), 0xaaaa_aaaa);
    wd(&mut g, GICD_ICFGR + 8, 0x8);
    assert_eq!(rd(&g, GICD_ICFGR + 8), 0x8);
}

#[test]
fn redistributor_walk_finds_every_vcpu() {
    let g = Vgic::new(&MPIDRS);
    for (i, &m) in MPIDRS.iter().enumerate() {
        assert_eq!(linux_find_rdist(&g, m), Some(i), "MPIDR {m:#x}");
        let typer = g.read(Region::Redistributors, gicr(i, GICR_TYPER), 8);
        let last = if i == MPIDRS.len() - 1 { TYPER_LAST } else { 0 };
        // Affinity, Processor_Number, Last; PLPIS, VLPIS, DirectLPI, PPInum all 0.
        assert_eq!(typer, typer_aff(m) << 32 | (i as u64) << 8 | last);
        assert_eq!(rr(&g, i, GICR_TYPER), typer as u32);
        assert_eq!(rr(&g, i, GICR_TYPER + 4), (typer >> 32) as u32);
        assert_eq!(rr(&g, i, GICR_PIDR2), 0x3b);
        assert_eq!(rr(&g, i, GICR_IIDR), 0x43b);
        assert_eq!(rr(&g, i, GICR_CTLR), 0);
    }
    assert_eq!(typer_aff(MPIDRS[4]), 0x0100_0000);
    assert_eq!(typer_aff(MPIDRS[3]), 0x101);
    // Not there: the walk stops at Last.
    assert_eq!(linux_find_rdist(&g, 0x2), None);
    // Frames past the last vCPU read as zero (no PIDR2).
    assert_eq!(rr(&g, MPIDRS.len(), GICR_PIDR2), 0);
    assert_eq!(rr(&g, MPIDRS.len(), GICR_TYPER), 0);
}

#[test]
fn waker_handshake() {
    let mut g = Vgic::new(&MPIDRS);
    // Reset: asleep.
    assert_eq!(
        rr(&g, 2, GICR_WAKER),
        WAKER_PROCESSOR_SLEEP | WAKER_CHILDREN_ASLEEP
    );
    wr(&mut g, 2, GICR_WAKER, 0);
    assert_eq!(rr(&g, 2, GICR_WAKER), 0);
    // Other redistributors are untouched.
    assert_eq!(
        rr(&g, 1, GICR_WAKER),
        WAKER_PROCESSOR_SLEEP | WAKER_CHILDREN_ASLEEP
    );
    // Going to sleep (CPU_PM_ENTER): ChildrenAsleep follows at once; it is read-only.
    wr(&mut g, 2, GICR_WAKER, WAKER_PROCESSOR_SLEEP);
    assert_eq!(
        rr(&g, 2, GICR_WAKER),
        WAKER_PROCESSOR_SLEEP | WAKER_CHILDREN_ASLEEP
    );
    wr(&mut g, 2, GICR_WAKER, WAKER_CHILDREN_ASLEEP);
    assert_eq!(rr(&g, 2, GICR_WAKER), 0);
}

#[test]
fn linux_cpu_init_reads_back() {
    let mut g = linux_bringup(&MPIDRS);
    for cpu in 0..MPIDRS.len() {
        assert_eq!(rr(&g, cpu, GICR_WAKER), 0);
        assert_eq!(rr(&g, cpu, GICR_IGROUPR0), !0);
        assert_eq!(rr(&g, cpu, GICR_ISENABLER0), 0);
        assert_eq!(rr(&g, cpu, GICR_ISACTIVER0), 0);
        for i in (0..32).step_by(4) {
            assert_eq!(rr(&g, cpu, GICR_IPRIORITYR0 + i), 0xa0a0_a0a0);
        }
        // SGIs: edge, fixed; PPIs: level at reset.
        assert_eq!(rr(&g, cpu, GICR_ICFGR0), 0xaaaa_aaaa);
        assert_eq!(rr(&g, cpu, GICR_ICFGR1), 0);
    }
    wr(&mut g, 1, GICR_ICFGR0, 0);
    assert_eq!(rr(&g, 1, GICR_ICFGR0), 0xaaaa_aaaa, "SGI config is RAO/WI");
    // PPI 27 edge on vCPU 1 only.
    wr(&mut g, 1, GICR_ICFGR1, 2 << (2 * (27 - 16)));
    assert_eq!(rr(&g, 1, GICR_ICFGR1), 2 << 22);
    assert_eq!(rr(&g, 0, GICR_ICFGR1), 0);
    // Enables are per redistributor.
    wr(&mut g, 3, GICR_ISENABLER0, 1 << 27 | 1 << 1);
    assert_eq!(rr(&g, 3, GICR_ISENABLER0), 1 << 27 | 1 << 1);
    assert_eq!(rr(&g, 3, GICR_ICENABLER0), 1 << 27 | 1 << 1);
    assert_eq!(rr(&g, 2, GICR_ISENABLER0), 0);
    wr(&mut g, 3, GICR_ICENABLER0, 1 << 1);
    assert_eq!(rr(&g, 3, GICR_ISENABLER0), 1 << 27);
    // SGI pending through the redistributor.
    wr(&mut g, 3, GICR_ISPENDR0, 1 << 4);
    assert_eq!(rr(&g, 3, GICR_ISPENDR0), 1 << 4);
    wr(&mut g, 3, GICR_ICPENDR0, 1 << 4);
    assert_eq!(rr(&g, 3, GICR_ISPENDR0), 0);
    // IGRPMODR0 is RAZ/WI with DS == 1.
    wr(&mut g, 3, GICR_IGRPMODR0, !0);
    assert_eq!(rr(&g, 3, GICR_IGRPMODR0), 0);
}

#[test]
fn byte_access_priorities() {
    let mut g = linux_bringup(&MPIDRS);
    // Byte writes to SPI 33 and 34; the low 3 bits are RAZ/WI (5 priority bits).
    g.write(Region::Distributor, GICD_IPRIORITYR + 33, 1, 0xff);
    g.write(Region::Distributor, GICD_IPRIORITYR + 34, 1, 0x47);
    assert_eq!(g.read(Region::Distributor, GICD_IPRIORITYR + 33, 1), 0xf8);
    assert_eq!(g.read(Region::Distributor, GICD_IPRIORITYR + 34, 1), 0x40);
    assert_eq!(rd(&g, GICD_IPRIORITYR + 32), 0xa0_40_f8_a0);
    // A word write sets four.
    wd(&mut g, GICD_IPRIORITYR + 92, 0x1020_3040);
    for (i, p) in [0x40, 0x30, 0x20, 0x10].into_iter().enumerate() {
        assert_eq!(
            g.read(Region::Distributor, GICD_IPRIORITYR + 92 + i as u64, 1),
            p
        );
    }
    // Halfword and doubleword accesses are RAZ/WI.
    g.write(Region::Distributor, GICD_IPRIORITYR + 32, 2, 0);
    assert_eq!(g.read(Region::Distributor, GICD_IPRIORITYR + 32, 2), 0);
    assert_eq!(g.read(Region::Distributor, GICD_IPRIORITYR + 32, 8), 0);
    assert_eq!(rd(&g, GICD_IPRIORITYR + 32), 0xa0_40_f8_a0);
    // SGI/PPI priorities at the distributor are RAZ/WI (affinity routing).
    g.write(Region::Distributor, GICD_IPRIORITYR + 27, 1, 0x10);
    assert_eq!(g.read(Region::Distributor, GICD_IPRIORITYR + 27, 1), 0);
    assert_eq!(rd(&g, GICD_IPRIORITYR), 0);
    // Redistributor: byte access to one vCPU's PPI 27.
    let off = gicr(2, GICR_IPRIORITYR0 + 27);
    g.write(Region::Redistributors, off, 1, 0x20);
    assert_eq!(g.read(Region::Redistributors, off, 1), 0x20);
    assert_eq!(rr(&g, 2, GICR_IPRIORITYR0 + 24), 0x20a0_a0a0);
    assert_eq!(rr(&g, 1, GICR_IPRIORITYR0 + 24), 0xa0a0_a0a0);
}

#[test]
fn unknown_and_unsupported_accesses_are_raz_wi() {
    let mut g = linux_bringup(&MPIDRS);
    let before: Vec<u32> = (0..0x1_0000).step_by(4).map(|o| rd(&g, o)).collect();
    // Unknown offsets, RAZ/WI registers (ITARGETSR, IGRPMODR, SGIR with ARE/DS), the SGI/PPI
    // parts of the distributor's registers, registers past the SPIs, IROUTER of a PPI.
    for off in [
        0x0010,
        0x0040,
        0x5000,
        GICD_ITARGETSR + 32,
        GICD_IGRPMODR + 4,
        GICD_SGIR,
        GICD_IGROUPR,
        GICD_ISENABLER,
        GICD_ISPENDR,
        GICD_ICFGR + 4,
        GICD_IGROUPR + 12,
        GICD_ISENABLER + 12,
        GICD_IPRIORITYR + 96,
        GICD_IROUTER + 8 * 31,
        GICD_IROUTER + 8 * 96,
        0xfff0,
    ] {
        assert_eq!(wd(&mut g, off, !0), 0, "{off:#x}");
        assert_eq!(g.write(Region::Distributor, off, 8, !0).kick, 0);
        assert_eq!(rd(&g, off), 0, "{off:#x}");
    }
    // Nothing changed anywhere (IROUTER<31> and <96> are outside the SPIs).
    let after: Vec<u32> = (0..0x1_0000).step_by(4).map(|o| rd(&g, o)).collect();
    assert_eq!(before, after);
    for cpu in 0..MPIDRS.len() {
        assert_eq!(
            rr(&g, cpu, GICR_ISENABLER0),
            0,
            "GICD_ISENABLER0 reached GICR"
        );
        assert_eq!(rr(&g, cpu, GICR_ISPENDR0), 0);
    }
    // Wrong sizes and misaligned accesses.
    assert_eq!(g.read(Region::Distributor, GICD_TYPER, 2), 0);
    assert_eq!(g.read(Region::Distributor, GICD_TYPER, 1), 0);
    assert_eq!(g.read(Region::Distributor, GICD_CTLR, 8), 0);
    assert_eq!(g.read(Region::Distributor, GICD_TYPER + 1, 4), 0);
    assert_eq!(g.read(Region::Distributor, GICD_TYPER, 3), 0);
    assert_eq!(g.read(Region::Distributor, GICD_IROUTER + 8 * 40, 2), 0);
    g.write(Region::Distributor, GICD_ISENABLER + 5, 1, 0xff);
    g.write(Region::Distributor, GICD_ISENABLER + 6, 4, 0xff);
    assert_eq!(rd(&g, GICD_ISENABLER + 4), 0);
    assert_eq!(g.read(Region::Redistributors, gicr(0, GICR_TYPER), 2), 0);
    assert_eq!(g.read(Region::Redistributors, gicr(0, GICR_WAKER), 8), 0);
    // Redistributor: unknown offsets in either frame, frames past the last vCPU.
    for off in [
        0x0010,
        0x0070,
        0x0078,
        0x1000,
        SGI_BASE + 0x084,
        SGI_BASE + 0x420,
        SGI_BASE + 0xe00,
    ] {
        wr(&mut g, 1, off, !0);
        assert_eq!(rr(&g, 1, off), 0, "{off:#x}");
    }
    assert_eq!(wr(&mut g, MPIDRS.len(), GICR_ISENABLER0, !0), 0);
    assert_eq!(rr(&g, MPIDRS.len(), GICR_ISENABLER0), 0);
    // GICR_TYPER is read-only.
    let typer = g.read(Region::Redistributors, gicr(1, GICR_TYPER), 8);
    g.write(Region::Redistributors, gicr(1, GICR_TYPER), 8, 0);
    assert_eq!(
        g.read(Region::Redistributors, gicr(1, GICR_TYPER), 8),
        typer
    );
}

#[test]
fn region_decode() {
    assert_eq!(
        Region::decode(GICD_BASE + 0x104),
        Some((Region::Distributor, 0x104))
    );
    assert_eq!(
        Region::decode(UNPROTECTED_BIT | (GICD_BASE + 0xffe8)),
        Some((Region::Distributor, 0xffe8))
    );
    assert_eq!(
        Region::decode(GICR_BASE + 3 * GICR_STRIDE + 0x10100),
        Some((Region::Redistributors, 3 * GICR_STRIDE + 0x10100))
    );
    assert_eq!(Region::decode(GICD_BASE + 0x1_0000), None);
    assert_eq!(Region::decode(PL011_BASE), None);
    assert_eq!(
        Region::decode(PL011_BASE - 4),
        Some((Region::Redistributors, PL011_BASE - 4 - GICR_BASE))
    );
}
