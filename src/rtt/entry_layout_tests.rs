//! Bit patterns of RttEntry in both descriptor formats (spec A5.5.4, A5.5.11), and B3.56 for a
//! host's descriptor.

use super::entry::{desc_is_valid_for_unprotected, unprotected_desc_addr, RttEntry};
use super::entry_tests::{FORMATS, LPA2, PA48};
use super::geometry::Level;
use super::state::Ripas;

#[test]
fn unassigned_bit_patterns() {
    for f in FORMATS {
        assert_eq!(RttEntry::unassigned(Ripas::Empty, f).raw(), 0);
        assert_eq!(RttEntry::unassigned(Ripas::Ram, f).raw(), 0x20);
        assert_eq!(RttEntry::unassigned(Ripas::Destroyed, f).raw(), 0x40);
        assert_eq!(RttEntry::unassigned_ns(f).raw(), 0x0200_0000_0000_0000);
    }
}

#[test]
fn assigned_ram_is_a_valid_normal_wb_rw_is_af_executable_leaf() {
    // Page: [1:0]=0b11, MemAttr[5:2]=0b0110 (0x18), S2AP=0b11 (0xc0), SH=0b11 (0x300),
    // AF (0x400) = 0x7db; XN 0, NS 0; STATE 1 at bit 56.
    let page = RttEntry::assigned(0x8000_1000, Ripas::Ram, Level::PAGE, PA48).unwrap();
    assert_eq!(page.raw(), 0x0100_0000_8000_17db);
    // Blocks: [1:0]=0b01.
    let l2 = RttEntry::assigned(0x4020_0000, Ripas::Ram, Level::L2, PA48).unwrap();
    assert_eq!(l2.raw(), 0x0100_0000_4020_07d9);
    let l1 = RttEntry::assigned(0xc0_4000_0000, Ripas::Ram, Level::L1, PA48).unwrap();
    assert_eq!(l1.raw(), 0x0100_00c0_4000_07d9);
    assert!(page.is_hw_valid() && l2.is_hw_valid() && l1.is_hw_valid());
}

#[test]
fn lpa2_leaves_carry_address_bits_51_48_and_no_sh() {
    // The same page with LPA2: SH gone (0x4db), and at PA 0xb_0000_8000_1000 bits 49:48
    // (0b11) stay in place while bits 51:50 (0b10) go to bits 9:8.
    let low = RttEntry::assigned(0x8000_1000, Ripas::Ram, Level::PAGE, LPA2).unwrap();
    assert_eq!(low.raw(), 0x0100_0000_8000_14db);
    let page = RttEntry::assigned(0xb_0000_8000_1000, Ripas::Ram, Level::PAGE, LPA2).unwrap();
    assert_eq!(page.raw(), 0x0103_0000_8000_16db);
    assert_eq!(page.output_address(), Some(0xb_0000_8000_1000));
    // An invalid ASSIGNED entry keeps the address in the same layout.
    let empty = page.with_ripas(Ripas::Empty, Level::PAGE).unwrap();
    assert_eq!(empty.raw(), 0x0103_0000_8000_1200);
    assert_eq!(empty.output_address(), Some(0xb_0000_8000_1000));
    // Tables too.
    let t = RttEntry::table(0xf_ffff_ffff_f000, Level::LM1, LPA2).unwrap();
    assert_eq!(t.raw(), 0x0403_ffff_ffff_f303);
    assert_eq!(t.output_address(), Some(0xf_ffff_ffff_f000));
    // An NS block with Device MemAttr has no SH either (VTCR_EL2.SH0 holds it).
    let dev = RttEntry::assigned_ns(0x4020_00c4 | 0x100, Level::L2, LPA2).unwrap();
    assert_eq!(dev.raw(), 0x03c0_0000_4020_05c5);
    assert_eq!(dev.output_address(), Some((1 << 50) | 0x4020_0000));
}

#[test]
fn assigned_empty_and_destroyed_are_invalid_and_keep_the_pa() {
    let e = RttEntry::assigned(0x8000_0000, Ripas::Empty, Level::PAGE, PA48).unwrap();
    assert_eq!(e.raw(), 0x0100_0000_8000_0000);
    let d = RttEntry::assigned(0x8000_0000, Ripas::Destroyed, Level::PAGE, PA48).unwrap();
    assert_eq!(d.raw(), 0x0100_0000_8000_0040);
    // Invalid descriptors do not depend on the level.
    let d2 = RttEntry::assigned(0x8000_0000, Ripas::Destroyed, Level::L2, PA48).unwrap();
    assert_eq!(d2, d);
    assert!(!e.is_hw_valid() && !d.is_hw_valid());
    assert_eq!(d.output_address(), Some(0x8000_0000));
}

#[test]
fn assigned_rejects_bad_level_alignment_or_width() {
    for f in FORMATS {
        for level in [Level::LM1, Level::L0] {
            assert_eq!(RttEntry::assigned(0, Ripas::Ram, level, f), None);
            assert_eq!(RttEntry::assigned(0, Ripas::Empty, level, f), None);
        }
        let assigned = |pa, level| RttEntry::assigned(pa, Ripas::Ram, level, f);
        assert_eq!(assigned(0x8000_0800, Level::PAGE), None);
        assert_eq!(assigned(0x4010_0000, Level::L2), None);
        assert_eq!(
            RttEntry::assigned(0x4020_0000, Ripas::Empty, Level::L1, f),
            None
        );
        assert_eq!(assigned(!0xfff, Level::PAGE), None);
        assert!(assigned((1 << 48) - 4096, Level::PAGE).is_some());
        assert!(assigned(f.pa_limit() - 4096, Level::PAGE).is_some());
        assert_eq!(assigned(f.pa_limit(), Level::PAGE), None);
        // Only LPA2 expresses 2^48 and above.
        assert_eq!(assigned(1 << 48, Level::PAGE).is_some(), f == LPA2);
    }
}

#[test]
fn table_bit_pattern() {
    for level in [Level::LM1, Level::L0, Level::L1, Level::L2] {
        for f in FORMATS {
            let t = RttEntry::table(0x8800_0000, level, f).unwrap();
            assert_eq!(t.raw(), 0x0400_0000_8800_0003);
        }
    }
    for f in FORMATS {
        assert_eq!(RttEntry::table(0x8800_0000, Level::PAGE, f), None);
        assert_eq!(RttEntry::table(0x8800_0800, Level::L2, f), None);
        assert_eq!(RttEntry::table(1 << 52, Level::L2, f), None);
    }
    assert_eq!(RttEntry::table(1 << 48, Level::L2, PA48), None);
    let t = RttEntry::table(1 << 48, Level::L2, LPA2).unwrap();
    assert_eq!(t.raw(), 0x0401_0000_0000_0003);
}

#[test]
fn assigned_ns_bit_patterns() {
    // Normal WB (0b110 -> 0x18), RW (0xc0), page: + 0b11, SH IS 0x300, AF 0x400,
    // XN 0b10 (bit 54), NS (bit 55), STATE 3 (bits 57:56).
    let wb = RttEntry::assigned_ns(0x9000_00d8, Level::PAGE, PA48).unwrap();
    assert_eq!(wb.raw(), 0x03c0_0000_9000_07db);
    // Device-nGnRE (0b001 -> 0x4), RW, level-2 block: SH OS 0x200.
    let dev = RttEntry::assigned_ns(0x4020_00c4, Level::L2, PA48).unwrap();
    assert_eq!(dev.raw(), 0x03c0_0000_4020_06c5);
    // Normal NC (0b101 -> 0x14), read-only (0b01 -> 0x40): SH OS.
    let nc = RttEntry::assigned_ns(0x9000_0054, Level::PAGE, PA48).unwrap();
    assert_eq!(nc.raw(), 0x03c0_0000_9000_0657);
    // Stage-1 attributes (0b111 -> 0x1c), no access, level-1 block: SH IS.
    let s1 = RttEntry::assigned_ns(0x80_0000_001c, Level::L1, PA48).unwrap();
    assert_eq!(s1.raw(), 0x03c0_0080_0000_071d);
    assert_eq!((wb.mem_attr(), wb.s2ap()), (Some(0b110), Some(0b11)));
    assert_eq!((nc.mem_attr(), nc.s2ap()), (Some(0b101), Some(0b01)));
    assert_eq!(nc.output_address(), Some(0x9000_0000));
    // With LPA2 the same descriptors leave bits 9:8 to the address.
    let wb = RttEntry::assigned_ns(0x9000_00d8, Level::PAGE, LPA2).unwrap();
    assert_eq!(wb.raw(), 0x03c0_0000_9000_04db);
    // The host's PA 2^52 - 4 KiB: bits 49:12 in place, 51:50 in 9:8.
    let top = RttEntry::assigned_ns(0x3_ffff_ffff_f3d8, Level::PAGE, LPA2).unwrap();
    assert_eq!(top.output_address(), Some((1 << 52) - 4096));
    assert_eq!(top.read_entry().desc, 0x3_ffff_ffff_f3d8);
    // Without LPA2 such an address is refused.
    assert_eq!(
        RttEntry::assigned_ns(0x3_ffff_ffff_f3d8, Level::PAGE, PA48),
        None
    );
}

#[test]
fn unprotected_desc_validity_per_b3_56() {
    assert!(desc_is_valid_for_unprotected(0));
    assert!(desc_is_valid_for_unprotected(0x0000_ffff_ffff_f0dc));
    // ADDR is the widest field there is, LPA2's: bits 49:12 and 9:8.
    assert!(desc_is_valid_for_unprotected(0x0003_ffff_ffff_f3dc));
    for mem in 0..8_u64 {
        let ok = mem != 0b100;
        assert_eq!(
            desc_is_valid_for_unprotected(mem << 2),
            ok,
            "MemAttr {mem:#b}"
        );
    }
    // Any bit outside ADDR, MemAttr[2:0], S2AP is refused.
    for bit in (0..2).chain(5..6).chain(10..12).chain(50..64) {
        assert!(
            !desc_is_valid_for_unprotected(0x9000_00d8 | (1 << bit)),
            "bit {bit}"
        );
    }
    // Alignment is not part of B3.56 but of assigned_ns.
    assert!(desc_is_valid_for_unprotected(0x9000_10d8));
    for f in FORMATS {
        assert_eq!(RttEntry::assigned_ns(0x9000_10d8, Level::L2, f), None);
        assert_eq!(RttEntry::assigned_ns(0x9000_00d8, Level::L0, f), None);
        assert_eq!(RttEntry::assigned_ns(0x9000_00d0, Level::PAGE, f), None);
    }
    assert_eq!(unprotected_desc_addr(0x9000_10d8), 0x9000_1000);
    assert_eq!(
        unprotected_desc_addr(0x3_0000_9000_11d8),
        0x7_0000_9000_1000
    );
    assert_eq!(unprotected_desc_addr(0x9000_13d8), (3 << 50) | 0x9000_1000);
}
