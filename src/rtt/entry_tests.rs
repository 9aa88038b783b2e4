//! Tests of RttEntry in both descriptor formats: round trips, accessors, READ_ENTRY outputs and
//! decoder robustness on arbitrary and corrupted descriptors. Bit patterns:
//! `entry_layout_tests.rs`.

use super::entry::{RttEntry, UnknownDescriptor};
use super::format::RttFormat;
use super::geometry::Level;
use super::state::{Ripas, RmiRttEntryState, RttEntryState};

pub(super) const PA48: RttFormat = RttFormat::Pa48;
pub(super) const LPA2: RttFormat = RttFormat::Lpa2;
pub(super) const FORMATS: [RttFormat; 2] = [PA48, LPA2];
const LEVELS: [Level; 5] = [Level::LM1, Level::L0, Level::L1, Level::L2, Level::PAGE];
const RIPAS: [Ripas; 3] = [Ripas::Empty, Ripas::Ram, Ripas::Destroyed];
const STATE_SHIFT: u32 = 56;

/// A PA that uses every address bit `format` has above 2^48 (none without LPA2), plus `low`.
fn high(format: RttFormat, low: u64) -> u64 {
    match format {
        RttFormat::Pa48 => low,
        RttFormat::Lpa2 => (0xb << 48) | low,
    }
}

/// `pa` as a host descriptor's address field (the LPA2 layout, B3.56).
fn desc_addr(pa: u64) -> u64 {
    LPA2.encode_oa(pa).unwrap()
}

/// One entry of every kind the RMM writes in `format`, with the levels (-1 to 3) it is valid
/// at.
fn samples(f: RttFormat) -> [(RttEntry, [bool; 5]); 13] {
    let any = [true; 5];
    let leaf = [false, false, true, true, true];
    let page = [false, false, false, false, true];
    let l2 = [false, false, false, true, false];
    // A 1 GiB-aligned block is also a valid 2 MiB block.
    let l1 = [false, false, true, true, false];
    let table = [true, true, true, true, false];
    [
        (RttEntry::unassigned(Ripas::Empty, f), any),
        (RttEntry::unassigned(Ripas::Ram, f), any),
        (RttEntry::unassigned(Ripas::Destroyed, f), any),
        (RttEntry::unassigned_ns(f), any),
        (
            RttEntry::assigned(high(f, 1 << 30), Ripas::Empty, Level::L1, f).unwrap(),
            leaf,
        ),
        (
            RttEntry::assigned(high(f, 0x20_1000), Ripas::Destroyed, Level::PAGE, f).unwrap(),
            page,
        ),
        (
            RttEntry::assigned(high(f, 0x20_1000), Ripas::Ram, Level::PAGE, f).unwrap(),
            page,
        ),
        (
            RttEntry::assigned(high(f, 0x40_0000), Ripas::Ram, Level::L2, f).unwrap(),
            l2,
        ),
        (
            RttEntry::assigned(high(f, 1 << 30), Ripas::Ram, Level::L1, f).unwrap(),
            l1,
        ),
        (
            RttEntry::table(high(f, 0x5000), Level::L0, f).unwrap(),
            table,
        ),
        (
            RttEntry::assigned_ns(desc_addr(high(f, 0x1000_0000)) | 0xdc, Level::PAGE, f).unwrap(),
            page,
        ),
        (
            RttEntry::assigned_ns(desc_addr(high(f, 0x1000_0000)) | 0x44, Level::L2, f).unwrap(),
            l2,
        ),
        (
            RttEntry::assigned_ns(desc_addr(high(f, 0x4000_0000)), Level::L1, f).unwrap(),
            l1,
        ),
    ]
}

#[test]
fn decode_round_trips_and_level_validity() {
    for f in FORMATS {
        for (e, valid) in samples(f) {
            assert_eq!(RttEntry::from_raw(e.raw(), f), Ok(e));
            assert_eq!(u64::from(e), e.raw());
            assert_eq!(e.format(), f);
            for (level, ok) in LEVELS.into_iter().zip(valid) {
                assert_eq!(e.is_valid_at(level), ok, "{e:?} at {level:?}");
                assert_eq!(RttEntry::from_raw_at(e.raw(), level, f).is_ok(), ok);
            }
        }
        // A level-2 block is misaligned at level 1; a page is no block.
        let block = RttEntry::assigned(0x20_0000, Ripas::Ram, Level::L2, f).unwrap();
        assert!(!block.is_valid_at(Level::L1) && !block.is_valid_at(Level::PAGE));
    }
}

#[test]
fn valid_leaves_of_one_format_are_not_the_other_s() {
    // A valid leaf or an LPA2 address means different things in the two formats: each
    // decoder refuses the other's leaves (SH present or not), and Pa48 refuses bits 9:8 and
    // 49:48 of an address.
    for (e, _) in samples(LPA2) {
        let other = RttEntry::from_raw(e.raw(), PA48);
        if e.is_hw_valid() && e.state() != RttEntryState::Table {
            assert!(other.is_err(), "{e:?}");
        }
        if e.output_address().is_some_and(|a| a >= 1 << 48) {
            assert!(other.is_err(), "{e:?}");
        }
    }
    for (e, _) in samples(PA48) {
        if e.is_hw_valid() && e.state() == RttEntryState::Assigned {
            // SH 0b11 reads as address bits 51:50 with LPA2: another address.
            let other = RttEntry::from_raw(e.raw(), LPA2).unwrap();
            assert_eq!(
                other.output_address(),
                e.output_address().map(|a| a | 3 << 50)
            );
        }
    }
}

#[test]
fn accessors_per_state() {
    use RttEntryState::*;
    let states = [
        Unassigned,
        Unassigned,
        Unassigned,
        UnassignedNs,
        Assigned,
        Assigned,
        Assigned,
        Assigned,
        Assigned,
        Table,
        AssignedNs,
        AssignedNs,
        AssignedNs,
    ];
    let ripas = [
        Some(Ripas::Empty),
        Some(Ripas::Ram),
        Some(Ripas::Destroyed),
        None,
        Some(Ripas::Empty),
        Some(Ripas::Destroyed),
        Some(Ripas::Ram),
        Some(Ripas::Ram),
        Some(Ripas::Ram),
        None,
        None,
        None,
        None,
    ];
    let addr = [
        None,
        None,
        None,
        None,
        Some(1 << 30),
        Some(0x20_1000),
        Some(0x20_1000),
        Some(0x40_0000),
        Some(1 << 30),
        Some(0x5000),
        Some(0x1000_0000),
        Some(0x1000_0000),
        Some(0x4000_0000),
    ];
    for f in FORMATS {
        for (i, (e, _)) in samples(f).into_iter().enumerate() {
            assert_eq!(e.state(), states[i], "{e:?}");
            assert_eq!(e.ripas(), ripas[i], "{e:?}");
            assert_eq!(e.output_address(), addr[i].map(|a| high(f, a)), "{e:?}");
            assert_eq!(e.hipas(), states[i].hipas());
            assert_eq!(e.is_live(), addr[i].is_some());
            assert_eq!(e.makes_rtt_live(), matches!(states[i], Assigned | Table));
            assert_eq!(e.mem_attr().is_some(), states[i] == AssignedNs);
        }
    }
}

#[test]
fn read_entry_per_b4_3_20() {
    use RmiRttEntryState as S;
    let read = |e: RttEntry| {
        let r = e.read_entry();
        (r.state, r.desc, r.ripas)
    };
    for f in FORMATS {
        assert_eq!(
            read(RttEntry::unassigned(Ripas::Ram, f)),
            (S::Unassigned, 0, Ripas::Ram)
        );
        assert_eq!(
            read(RttEntry::unassigned_ns(f)),
            (S::Unassigned, 0, Ripas::Empty)
        );
        let pa = high(f, 0x8000_1000);
        let ram = RttEntry::assigned(pa, Ripas::Ram, Level::PAGE, f).unwrap();
        assert_eq!(
            read(ram),
            (S::Assigned, f.encode_oa(pa).unwrap(), Ripas::Ram)
        );
        let gone = RttEntry::assigned(pa, Ripas::Destroyed, Level::PAGE, f).unwrap();
        assert_eq!(
            read(gone),
            (S::Assigned, f.encode_oa(pa).unwrap(), Ripas::Destroyed)
        );
        let t = RttEntry::table(0x8800_0000, Level::L1, f).unwrap();
        assert_eq!(read(t), (S::Table, 0x8800_0000, Ripas::Empty));
        // ASSIGNED_NS reports exactly the host's desc back.
        for desc in [0x9000_00d8_u64, 0x4020_00c4, 0x9000_0054] {
            let level = if desc & 0x1f_f000 == 0 {
                Level::L2
            } else {
                Level::PAGE
            };
            let ns = RttEntry::assigned_ns(desc, level, f).unwrap();
            assert_eq!(read(ns), (S::Assigned, desc, Ripas::Empty));
        }
    }
    // With LPA2 also a desc whose address uses bits 51:48.
    let desc = 0x2_0000_9000_02d8;
    let ns = RttEntry::assigned_ns(desc, Level::PAGE, LPA2).unwrap();
    assert_eq!(read(ns), (S::Assigned, desc, Ripas::Empty));
}

#[test]
fn with_ripas_changes_only_protected_entries() {
    for f in FORMATS {
        let u = RttEntry::unassigned(Ripas::Empty, f);
        assert_eq!(
            u.with_ripas(Ripas::Ram, Level::L0),
            Some(RttEntry::unassigned(Ripas::Ram, f))
        );
        let pa = high(f, 0x20_0000);
        let a = RttEntry::assigned(pa, Ripas::Empty, Level::L2, f).unwrap();
        let ram = a.with_ripas(Ripas::Ram, Level::L2).unwrap();
        assert_eq!(
            ram,
            RttEntry::assigned(pa, Ripas::Ram, Level::L2, f).unwrap()
        );
        assert_eq!(ram.with_ripas(Ripas::Empty, Level::L2), Some(a));
        assert_eq!(a.with_ripas(Ripas::Ram, Level::L1), None);
        assert_eq!(
            RttEntry::unassigned_ns(f).with_ripas(Ripas::Ram, Level::PAGE),
            None
        );
        let t = RttEntry::table(0, Level::L1, f).unwrap();
        assert_eq!(t.with_ripas(Ripas::Ram, Level::L1), None);
    }
    let a = RttEntry::assigned(0x20_0000, Ripas::Empty, Level::L2, PA48).unwrap();
    let ram = a.with_ripas(Ripas::Ram, Level::L2).unwrap();
    assert_eq!(ram.raw(), 0x0100_0000_0020_07d9);
}

#[test]
fn every_ripas_survives_every_leaf_level() {
    for f in FORMATS {
        for level in [Level::L1, Level::L2, Level::PAGE] {
            for r in RIPAS {
                let e = RttEntry::assigned(high(f, level.size() * 3), r, level, f).unwrap();
                assert_eq!(RttEntry::from_raw_at(e.raw(), level, f), Ok(e));
                assert_eq!((e.ripas(), e.state()), (Some(r), RttEntryState::Assigned));
                assert_eq!(e.is_hw_valid(), r == Ripas::Ram);
            }
        }
    }
}

/// For every level an entry is valid at, the constructors rebuild exactly its bits (a breaking
/// leaf: the constructors rebuild its valid form).
fn assert_canonical(e: RttEntry) {
    let f = e.format();
    for level in LEVELS {
        if !e.is_valid_at(level) {
            continue;
        }
        let addr = e.output_address().unwrap_or(0);
        let rebuilt = match e.state() {
            RttEntryState::Unassigned => Some(RttEntry::unassigned(e.ripas().unwrap(), f)),
            RttEntryState::UnassignedNs => Some(RttEntry::unassigned_ns(f)),
            RttEntryState::Table => RttEntry::table(addr, level, f),
            RttEntryState::Assigned => RttEntry::assigned(addr, e.ripas().unwrap(), level, f),
            RttEntryState::AssignedNs => RttEntry::assigned_ns(e.read_entry().desc, level, f),
        };
        let breaking = e.raw() & 0x401 == 0x400;
        let rebuilt = rebuilt.map(|r| if breaking { r.breaking() } else { r });
        assert_eq!(rebuilt, Some(e), "{:#x} at {level:?}", e.raw());
    }
}

/// Exercises every decoder on `raw` in `format`; none may panic.
fn poke(raw: u64, format: RttFormat) -> bool {
    match RttEntry::from_raw(raw, format) {
        Ok(e) => {
            assert_eq!(e.raw(), raw);
            let _ = (e.state(), e.ripas(), e.output_address(), e.read_entry());
            let _ = (e.mem_attr(), e.s2ap(), e.is_live(), e.hipas());
            for level in LEVELS {
                let _ = (e.with_ripas(Ripas::Ram, level), e.is_valid_at(level));
            }
            assert_canonical(e);
            true
        }
        Err(err) => {
            assert_eq!(err, UnknownDescriptor(raw));
            false
        }
    }
}

#[test]
fn decoders_survive_arbitrary_values() {
    for f in FORMATS {
        // xorshift64: fixed seed, so a failure reproduces.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let oa = f.oa_mask();
        let mut known = 0;
        for _ in 0..200_000 {
            let r = next();
            // Fully random, and random within the fields the RMM uses (so that some decode).
            let structured = (r & (oa | 0x7ff | (0x7 << 53))) | ((r >> 61) << STATE_SHIFT);
            let sparse = r & next() & next() & (oa | 0x7ff | (0xff << 53));
            for raw in [r, structured, sparse] {
                known += poke(raw, f) as u32;
            }
        }
        for raw in [0, u64::MAX, 1, 3, 1 << 63, 0x0700_0000_0000_0000, 0x60] {
            poke(raw, f);
        }
        assert!(known > 1000, "only {known} random values decoded ({f:?})");
    }
}

#[test]
fn single_bit_flips_of_valid_encodings() {
    for f in FORMATS {
        for (e, _) in samples(f) {
            for bit in 0..64 {
                let raw = e.raw() ^ (1 << bit);
                if poke(raw, f) {
                    // Only an address, RIPAS, STATE, type or host attribute bit may flip into
                    // another known encoding: RIPAS 0x60, MemAttr[2:0] 0x1c, S2AP 0xc0,
                    // SH 0x300, page/table 0x2; and bit 0 of a valid leaf (its breaking form).
                    let fields = f.oa_mask() | 0x60 | 0x1c | 0xc0 | 0x300 | 0x2 | 0x1;
                    let allowed = fields | (0x7 << STATE_SHIFT);
                    assert_ne!((1 << bit) & allowed, 0, "{e:?} bit {bit}");
                }
            }
        }
    }
}

#[test]
fn breaking_leaves_keep_their_meaning_for_readers() {
    for f in FORMATS {
        for (e, levels) in samples(f) {
            let b = e.breaking();
            let leaf = e.is_hw_valid() && e.state() != RttEntryState::Table;
            assert_eq!(b.raw(), if leaf { e.raw() & !1 } else { e.raw() }, "{e:?}");
            assert!(!leaf || !b.is_hw_valid());
            let decoded = RttEntry::from_raw(b.raw(), f).unwrap();
            assert_eq!(
                (decoded.state(), decoded.ripas(), decoded.output_address()),
                (e.state(), e.ripas(), e.output_address())
            );
            assert_eq!(
                (decoded.mem_attr(), decoded.s2ap()),
                (e.mem_attr(), e.s2ap())
            );
            assert_eq!(decoded.read_entry(), e.read_entry(), "{e:?}");
            for (level, ok) in LEVELS.into_iter().zip(levels) {
                assert_eq!(decoded.is_valid_at(level), ok, "{e:?} at {level:?}");
            }
        }
    }
}

#[test]
fn reserved_encodings_are_refused() {
    let refused = [
        0x60,                  // UNASSIGNED, RIPAS 3
        0x0100_0000_8000_0020, // ASSIGNED, RIPAS RAM, invalid descriptor
        0x0200_0000_0000_0020, // UNASSIGNED_NS with a RIPAS
        0x0200_0000_8000_0000, // UNASSIGNED_NS with an address
        0x0000_0000_8000_0000, // UNASSIGNED with an address
        0x0300_0000_0000_0000, // ASSIGNED_NS, invalid descriptor
        0x0400_0000_0000_0000, // TABLE, invalid descriptor
        0x0500_0000_0000_0000, // STATE 5
        0x0000_0000_8000_0003, // valid, STATE 0
        0x0200_0000_8000_0003, // valid, STATE 2
        0x0400_0000_8000_0001, // TABLE tag on a block
        0x0100_0000_8000_17df, // RAM leaf with MemAttr[3]
        0x0140_0000_8000_17db, // RAM leaf with XN
        0x0180_0000_8000_17db, // RAM leaf with NS
        0x0100_0000_8000_13db, // RAM leaf without AF
        0x03c0_0000_9000_07d3, // NS leaf with reserved MemAttr 0b100
        0x0380_0000_9000_07db, // NS leaf without XN
        0x0340_0000_9000_07db, // NS leaf without NS
        0x0bc0_0000_9000_07db, // NS leaf with bit 59
        0x03c4_0000_9000_07db, // NS leaf with bit 50
        0x0400_0000_8800_0803, // TABLE with bit 11
        0x0404_0000_8800_0003, // TABLE with bit 50
    ];
    for f in FORMATS {
        for raw in refused {
            assert_eq!(
                RttEntry::from_raw(raw, f),
                Err(UnknownDescriptor(raw)),
                "{raw:#x} {f:?}"
            );
        }
    }
    // Without LPA2 bits 49:48 are no address bits, and SH must follow MemAttr.
    let refused_pa48 = [
        0x03c0_0000_9000_06db, // NS WB leaf with SH Outer
        0x03c0_0000_9000_0757, // NS NC leaf with SH Inner
        0x03c0_0000_9000_07d7, // NS NC leaf with SH Inner, read-write
        0x03c1_0000_9000_07db, // NS leaf with bit 48
        0x0401_0000_8800_0003, // TABLE with bit 48
        0x0100_0000_8000_0100, // ASSIGNED EMPTY with bit 8
        0x0100_0000_8000_14db, // RAM leaf without SH
    ];
    for raw in refused_pa48 {
        assert_eq!(RttEntry::from_raw(raw, PA48), Err(UnknownDescriptor(raw)));
    }
    // The same bits are address bits with LPA2.
    for (raw, addr) in [
        (0x03c1_0000_9000_04db, 0x1_0000_9000_0000),
        (0x0401_0000_8800_0003, 0x1_0000_8800_0000),
        (0x0100_0000_8000_0100, (1 << 50) | 0x8000_0000),
    ] {
        let e = RttEntry::from_raw(raw, LPA2).unwrap();
        assert_eq!(e.output_address(), Some(addr), "{raw:#x}");
    }
}
