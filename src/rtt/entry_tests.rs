//! Tests of RttEntry through its public API: round trips, accessors, READ_ENTRY outputs and
//! decoder robustness on arbitrary and corrupted descriptors.

use super::entry::{RttEntry, UnknownDescriptor};
use super::geometry::Level;
use super::state::{Ripas, RmiRttEntryState, RttEntryState};

const LEVELS: [Level; 4] = [Level::L0, Level::L1, Level::L2, Level::PAGE];
const RIPAS: [Ripas; 3] = [Ripas::Empty, Ripas::Ram, Ripas::Destroyed];
/// Output address bits 47:12.
const OA_MASK: u64 = 0x0000_ffff_ffff_f000;
const STATE_SHIFT: u32 = 56;

/// One entry of every kind the RMM writes, with the levels it is valid at.
fn samples() -> [(RttEntry, [bool; 4]); 13] {
    let any = [true; 4];
    let leaf = [false, true, true, true];
    let page = [false, false, false, true];
    let l2 = [false, false, true, false];
    // A 1 GiB-aligned block is also a valid 2 MiB block.
    let l1 = [false, true, true, false];
    [
        (RttEntry::unassigned(Ripas::Empty), any),
        (RttEntry::unassigned(Ripas::Ram), any),
        (RttEntry::unassigned(Ripas::Destroyed), any),
        (RttEntry::unassigned_ns(), any),
        (
            RttEntry::assigned(1 << 30, Ripas::Empty, Level::L1).unwrap(),
            leaf,
        ),
        (
            RttEntry::assigned(0x20_1000, Ripas::Destroyed, Level::PAGE).unwrap(),
            page,
        ),
        (
            RttEntry::assigned(0x20_1000, Ripas::Ram, Level::PAGE).unwrap(),
            page,
        ),
        (
            RttEntry::assigned(0x40_0000, Ripas::Ram, Level::L2).unwrap(),
            l2,
        ),
        (
            RttEntry::assigned(1 << 30, Ripas::Ram, Level::L1).unwrap(),
            l1,
        ),
        (
            RttEntry::table(0x5000, Level::L0).unwrap(),
            [true, true, true, false],
        ),
        (
            RttEntry::assigned_ns(0x1000_00dc, Level::PAGE).unwrap(),
            page,
        ),
        (RttEntry::assigned_ns(0x1000_0044, Level::L2).unwrap(), l2),
        (RttEntry::assigned_ns(0x4000_0000, Level::L1).unwrap(), l1),
    ]
}

#[test]
fn decode_round_trips_and_level_validity() {
    for (e, valid) in samples() {
        assert_eq!(RttEntry::from_raw(e.raw()), Ok(e));
        assert_eq!(RttEntry::try_from(u64::from(e)), Ok(e));
        for (level, ok) in LEVELS.into_iter().zip(valid) {
            assert_eq!(e.is_valid_at(level), ok, "{e:?} at {level:?}");
            assert_eq!(RttEntry::from_raw_at(e.raw(), level).is_ok(), ok);
        }
    }
    // A level-2 block is misaligned at level 1; a page is no block.
    let block = RttEntry::assigned(0x20_0000, Ripas::Ram, Level::L2).unwrap();
    assert!(!block.is_valid_at(Level::L1) && !block.is_valid_at(Level::PAGE));
}

#[test]
fn accessors_per_state() {
    use RttEntryState::*;
    let s = samples();
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
    for (i, (e, _)) in s.into_iter().enumerate() {
        assert_eq!(e.state(), states[i], "{e:?}");
        assert_eq!(e.ripas(), ripas[i], "{e:?}");
        assert_eq!(e.output_address(), addr[i], "{e:?}");
        assert_eq!(e.hipas(), states[i].hipas());
        assert_eq!(e.is_live(), addr[i].is_some());
        assert_eq!(e.makes_rtt_live(), matches!(states[i], Assigned | Table));
        assert_eq!(e.mem_attr().is_some(), states[i] == AssignedNs);
    }
}

#[test]
fn read_entry_per_b4_3_20() {
    use RmiRttEntryState as S;
    let read = |e: RttEntry| {
        let r = e.read_entry();
        (r.state, r.desc, r.ripas)
    };
    assert_eq!(
        read(RttEntry::unassigned(Ripas::Ram)),
        (S::Unassigned, 0, Ripas::Ram)
    );
    assert_eq!(
        read(RttEntry::unassigned_ns()),
        (S::Unassigned, 0, Ripas::Empty)
    );
    let ram = RttEntry::assigned(0x8000_1000, Ripas::Ram, Level::PAGE).unwrap();
    assert_eq!(read(ram), (S::Assigned, 0x8000_1000, Ripas::Ram));
    let gone = RttEntry::assigned(0x8000_1000, Ripas::Destroyed, Level::PAGE).unwrap();
    assert_eq!(read(gone), (S::Assigned, 0x8000_1000, Ripas::Destroyed));
    let t = RttEntry::table(0x8800_0000, Level::L1).unwrap();
    assert_eq!(read(t), (S::Table, 0x8800_0000, Ripas::Empty));
    // ASSIGNED_NS reports exactly the host's desc back.
    for desc in [0x9000_00d8_u64, 0x4020_00c4, 0x9000_0054] {
        let level = if desc & 0x1f_f000 == 0 {
            Level::L2
        } else {
            Level::PAGE
        };
        let ns = RttEntry::assigned_ns(desc, level).unwrap();
        assert_eq!(read(ns), (S::Assigned, desc, Ripas::Empty));
    }
}

#[test]
fn with_ripas_changes_only_protected_entries() {
    let u = RttEntry::unassigned(Ripas::Empty);
    assert_eq!(
        u.with_ripas(Ripas::Ram, Level::L0),
        Some(RttEntry::unassigned(Ripas::Ram))
    );
    let a = RttEntry::assigned(0x20_0000, Ripas::Empty, Level::L2).unwrap();
    let ram = a.with_ripas(Ripas::Ram, Level::L2).unwrap();
    assert_eq!(ram.raw(), 0x0100_0000_0020_07d9);
    assert_eq!(ram.with_ripas(Ripas::Empty, Level::L2), Some(a));
    assert_eq!(a.with_ripas(Ripas::Ram, Level::L1), None);
    assert_eq!(
        RttEntry::unassigned_ns().with_ripas(Ripas::Ram, Level::PAGE),
        None
    );
    assert_eq!(
        RttEntry::table(0, Level::L1)
            .unwrap()
            .with_ripas(Ripas::Ram, Level::L1),
        None
    );
}

#[test]
fn every_ripas_survives_every_leaf_level() {
    for level in [Level::L1, Level::L2, Level::PAGE] {
        for r in RIPAS {
            let e = RttEntry::assigned(level.size() * 3, r, level).unwrap();
            assert_eq!(RttEntry::from_raw_at(e.raw(), level), Ok(e));
            assert_eq!((e.ripas(), e.state()), (Some(r), RttEntryState::Assigned));
            assert_eq!(e.is_hw_valid(), r == Ripas::Ram);
        }
    }
}

/// For every level an entry is valid at, the constructors rebuild exactly its bits (a breaking
/// leaf: the constructors rebuild its valid form).
fn assert_canonical(e: RttEntry) {
    for level in LEVELS {
        if !e.is_valid_at(level) {
            continue;
        }
        let addr = e.output_address().unwrap_or(0);
        let rebuilt = match e.state() {
            RttEntryState::Unassigned => Some(RttEntry::unassigned(e.ripas().unwrap())),
            RttEntryState::UnassignedNs => Some(RttEntry::unassigned_ns()),
            RttEntryState::Table => RttEntry::table(addr, level),
            RttEntryState::Assigned => RttEntry::assigned(addr, e.ripas().unwrap(), level),
            RttEntryState::AssignedNs => RttEntry::assigned_ns(e.read_entry().desc, level),
        };
        let breaking = e.raw() & 0x401 == 0x400;
        let rebuilt = rebuilt.map(|r| if breaking { r.breaking() } else { r });
        assert_eq!(rebuilt, Some(e), "{:#x} at {level:?}", e.raw());
    }
}

/// Exercises every decoder on `raw`; none may panic.
fn poke(raw: u64) -> bool {
    match RttEntry::from_raw(raw) {
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
    // xorshift64: fixed seed, so a failure reproduces.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut known = 0;
    for _ in 0..200_000 {
        let r = next();
        // Fully random, and random within the fields the RMM uses (so that some decode).
        let structured = (r & (OA_MASK | 0x7ff | (0x7 << 53))) | ((r >> 61) << STATE_SHIFT);
        let sparse = r & next() & next() & (OA_MASK | 0x7ff | (0xff << 53));
        for raw in [r, structured, sparse] {
            known += poke(raw) as u32;
        }
    }
    for raw in [0, u64::MAX, 1, 3, 1 << 63, 0x0700_0000_0000_0000, 0x60] {
        poke(raw);
    }
    assert!(known > 1000, "only {known} random values decoded");
}

#[test]
fn single_bit_flips_of_valid_encodings() {
    for (e, _) in samples() {
        for bit in 0..64 {
            let raw = e.raw() ^ (1 << bit);
            if poke(raw) {
                // Only an address, RIPAS, STATE, type or host attribute bit may flip into
                // another known encoding: RIPAS 0x60, MemAttr[2:0] 0x1c, S2AP 0xc0,
                // SH 0x300, page/table 0x2; and bit 0 of a valid leaf (its breaking form).
                let fields = OA_MASK | 0x60 | 0x1c | 0xc0 | 0x300 | 0x2 | 0x1;
                let allowed = fields | (0x7 << STATE_SHIFT);
                assert_ne!((1 << bit) & allowed, 0, "{e:?} bit {bit}");
            }
        }
    }
}

#[test]
fn breaking_leaves_keep_their_meaning_for_readers() {
    for (e, levels) in samples() {
        let b = e.breaking();
        let leaf = e.is_hw_valid() && e.state() != RttEntryState::Table;
        assert_eq!(b.raw(), if leaf { e.raw() & !1 } else { e.raw() }, "{e:?}");
        assert!(!leaf || !b.is_hw_valid());
        let decoded = RttEntry::from_raw(b.raw()).unwrap();
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
        0x03c0_0000_9000_06db, // NS WB leaf with SH Outer
        0x03c0_0000_9000_07d7, // NS leaf with reserved MemAttr 0b100 (and SH IS)
        0x03c0_0000_9000_0757, // NS NC leaf with SH Inner
        0x0380_0000_9000_07db, // NS leaf without XN
        0x0340_0000_9000_07db, // NS leaf without NS
        0x03c1_0000_9000_07db, // NS leaf with bit 48
        0x0bc0_0000_9000_07db, // NS leaf with bit 59
        0x0400_0000_8800_0803, // TABLE with bit 11
    ];
    for raw in refused {
        assert_eq!(
            RttEntry::from_raw(raw),
            Err(UnknownDescriptor(raw)),
            "{raw:#x}"
        );
    }
}
