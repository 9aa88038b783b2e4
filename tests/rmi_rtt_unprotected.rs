//! RMI_RTT_MAP_UNPROTECTED (spec B4.3.19) and RMI_RTT_UNMAP_UNPROTECTED (B4.3.22): every
//! failure condition, their orderings, and the success conditions.
//!
//! The test realm has a 39-bit IPA space starting at level 1 (tests/common): Unprotected IPAs
//! are those at or above 2^38. Entries are read back with RMI_RTT_READ_ENTRY and, for the exact
//! descriptor, from RTT memory (layout in src/rtt/entry.rs).

mod common;
use common::*;
use rmm::granule::GranuleState;
use rmm::host::{Config, Machine};

/// The first Unprotected IPA of the test realm.
const UIPA: u64 = 1 << 38;
const MIB2: u64 = 2 << 20;
const GIB: u64 = 1 << 30;
/// A Non-secure PA to map (need not be memory: the RMM never accesses it).
const NS_PA: u64 = 0x9000_0000;
/// Host attributes: MemAttr[2:0] 0b110 (Normal WB), S2AP 0b11 (read/write).
const WB_RW: u64 = (0b110 << 2) | (0b11 << 6);
/// Raw ASSIGNED_NS page for `NS_PA | WB_RW`: page, SH IS, AF, XN 0b10, NS, STATE 3.
const NS_PAGE_RAW: u64 = 0x03c0_0000_9000_07db;
/// Raw UNASSIGNED_NS.
const UNASSIGNED_NS_RAW: u64 = 0x0200_0000_0000_0000;

const RMI_UNASSIGNED: u64 = 0;
const RMI_ASSIGNED: u64 = 1;
const RMI_TABLE: u64 = 2;

/// A realm with a level-2 and a level-3 RTT at `UIPA`.
struct Setup {
    m: Machine,
    g: Granules,
    rd: u64,
    root: u64,
    l2: u64,
    l3: u64,
}

fn setup() -> Setup {
    let m = machine();
    let mut g = Granules::new();
    let realm = new_realm(&m, &mut g);
    let l2 = create_rtt(&m, &mut g, realm.rd, UIPA, 2);
    let l3 = create_rtt(&m, &mut g, realm.rd, UIPA, 3);
    Setup {
        m,
        g,
        rd: realm.rd,
        root: realm.rtt,
        l2,
        l3,
    }
}

fn map(m: &Machine, rd: u64, ipa: u64, level: u64, desc: u64) -> u64 {
    rmi(m, RMI_RTT_MAP_UNPROTECTED, &[rd, ipa, level, desc])[0]
}

/// RMI_RTT_UNMAP_UNPROTECTED: (x0, top).
fn unmap(m: &Machine, rd: u64, ipa: u64, level: u64) -> (u64, u64) {
    let out = rmi(m, RMI_RTT_UNMAP_UNPROTECTED, &[rd, ipa, level]);
    // x2, x3 are not outputs: zero.
    assert_eq!(out[2..4], [0, 0]);
    (out[0], out[1])
}

/// Entry `index` of the RTT at `table`, raw, as the hardware walker would read it.
fn raw_entry(m: &Machine, table: u64, index: u64) -> u64 {
    let mut b = [0u8; 8];
    m.debug_read(table + index * 8, &mut b).unwrap();
    u64::from_le_bytes(b)
}

/// The REFCOUNT of the RTT granule at `pa`.
fn refcount(m: &Machine, pa: u64) -> u64 {
    let granule = m.rmm().granules().get(pa).unwrap();
    let locked = granule.lock(GranuleState::Rtt).unwrap();
    locked.refcount()
}

/// Everything a failing command must leave alone: contents and states of every granule of
/// BANK0 and BANK1, and the TLB invalidation counts.
#[derive(Debug, PartialEq)]
struct Snapshot {
    memory: Vec<u8>,
    states: Vec<Option<GranuleState>>,
    tlbi: (u64, u64),
}

fn snapshot(m: &Machine) -> Snapshot {
    let mut memory = Vec::new();
    let mut states = Vec::new();
    for (base, size) in [BANK0, BANK1] {
        let mut page = vec![0u8; size as usize];
        m.debug_read(base, &mut page).unwrap();
        memory.extend_from_slice(&page);
        states.extend(
            (base..base + size)
                .step_by(GRANULE as usize)
                .map(|pa| m.granule_state(pa)),
        );
    }
    Snapshot {
        memory,
        states,
        tlbi: m.tlb_invalidations(),
    }
}

/// Asserts that MAP_UNPROTECTED with `args` returns `x0` and changes nothing.
fn map_fails(s: &Setup, args: [u64; 4], x0: u64) {
    let before = snapshot(&s.m);
    let out = rmi(&s.m, RMI_RTT_MAP_UNPROTECTED, &args);
    assert_eq!(out[0], x0, "MAP_UNPROTECTED {args:#x?}");
    assert_eq!(out[1..4], [0, 0, 0], "no outputs");
    assert!(
        snapshot(&s.m) == before,
        "MAP_UNPROTECTED {args:#x?} changed state"
    );
}

/// Asserts that UNMAP_UNPROTECTED with `args` returns `x0` and `top` and changes nothing.
fn unmap_fails(s: &Setup, args: [u64; 3], x0: u64, top: u64) {
    let before = snapshot(&s.m);
    let out = unmap(&s.m, args[0], args[1], args[2]);
    assert_eq!(out, (x0, top), "UNMAP_UNPROTECTED {args:#x?}");
    assert!(
        snapshot(&s.m) == before,
        "UNMAP_UNPROTECTED {args:#x?} changed state"
    );
}

/// A second realm in `s`, with a 32-bit IPA space starting at level 2 (four concatenated
/// starting-level RTTs): level 1 is an RTT level but not one of this realm. Returns its RD.
fn realm_starting_at_level_2(s: &mut Setup) -> u64 {
    // Four contiguous starting RTTs, aligned to their total size.
    while s.g.ns() % (4 * GRANULE) != 4 * GRANULE - GRANULE {}
    let rtt = s.g.delegated(&s.m);
    for _ in 0..3 {
        s.g.delegated(&s.m);
    }
    let params = s.g.ns();
    let rd = s.g.delegated(&s.m);
    let mut p = realm_params(rtt);
    p.s2sz = 32;
    p.rtt_level_start = 2;
    p.rtt_num_start = 4;
    p.vmid = 2;
    write_realm_params(&s.m, params, &p);
    assert_eq!(rmi(&s.m, RMI_REALM_CREATE, &[rd, params])[0], SUCCESS);
    rd
}

/// RDs that fail `rd_bound` (not delegable memory).
fn unbound_rds() -> [u64; 4] {
    [
        0,
        BANK0.0 + BANK0.1,
        BANK1.0 + BANK1.1,
        0xffff_ffff_ffff_f000,
    ]
}

/// Granules of `s` that fail `rd_state`: delegated, undelegated, an RTT, an RD of a destroyed
/// realm.
fn not_rds(s: &mut Setup) -> Vec<u64> {
    let delegated = s.g.delegated(&s.m);
    let undelegated = s.g.ns();
    // A realm of its own VMID, destroyed.
    let params = s.g.ns();
    let dead = s.g.delegated(&s.m);
    let rtt = s.g.delegated(&s.m);
    let mut p = realm_params(rtt);
    p.vmid = 3;
    write_realm_params(&s.m, params, &p);
    assert_eq!(rmi(&s.m, RMI_REALM_CREATE, &[dead, params])[0], SUCCESS);
    assert_eq!(rmi(&s.m, RMI_REALM_DESTROY, &[dead])[0], SUCCESS);
    assert_eq!(s.m.granule_state(dead), Some(GranuleState::Delegated));
    vec![delegated, undelegated, s.l3, s.root, dead]
}

// ---------------------------------------------------------------------------------------------
// RMI_RTT_MAP_UNPROTECTED failure conditions
// ---------------------------------------------------------------------------------------------

#[test]
fn rtt_map_unprotected_attr_valid() {
    let s = setup();
    let good = NS_PA | WB_RW;
    // B3.56: only ADDR[47:12], MemAttr[2:0] (not 0b100) and S2AP may be set.
    let mut bad = vec![(good & !(0b111 << 2)) | (0b100 << 2)];
    for bit in (0..2).chain(5..6).chain(8..12).chain(48..64) {
        bad.push(good | (1 << bit));
    }
    for desc in bad {
        map_fails(&s, [s.rd, UIPA, 3, desc], ERROR_INPUT);
    }
    // The same call with a valid descriptor succeeds.
    assert_eq!(map(&s.m, s.rd, UIPA, 3, good), SUCCESS);
}

#[test]
fn rtt_map_unprotected_rd_align() {
    let s = setup();
    for rd in [s.rd + 8, s.rd + 0x800, s.rd | 1] {
        map_fails(&s, [rd, UIPA, 3, NS_PA | WB_RW], ERROR_INPUT);
    }
}

#[test]
fn rtt_map_unprotected_rd_bound() {
    let s = setup();
    for rd in unbound_rds() {
        map_fails(&s, [rd, UIPA, 3, NS_PA | WB_RW], ERROR_INPUT);
    }
}

#[test]
fn rtt_map_unprotected_rd_state() {
    let mut s = setup();
    for rd in not_rds(&mut s) {
        map_fails(&s, [rd, UIPA, 3, NS_PA | WB_RW], ERROR_INPUT);
    }
}

#[test]
fn rtt_map_unprotected_level_bound() {
    let mut s = setup();
    // Not an RTT level, or level 0 (no blocks with 4 KiB granules; below this realm's start).
    for level in [0, 4, 5, u64::MAX, 1 << 32 | 3] {
        map_fails(&s, [s.rd, UIPA, level, NS_PA | WB_RW], ERROR_INPUT);
    }
    // A block level, but not one of a realm that starts at level 2.
    let rd2 = realm_starting_at_level_2(&mut s);
    map_fails(&s, [rd2, 1 << 31, 1, WB_RW], ERROR_INPUT);
    // Its levels 2 and 3 are fine.
    assert_eq!(map(&s.m, rd2, 1 << 31, 2, WB_RW), SUCCESS);
    assert_eq!(map(&s.m, rd2, (1 << 31) + MIB2, 2, MIB2 | WB_RW), SUCCESS);
}

#[test]
fn rtt_map_unprotected_addr_align() {
    let s = setup();
    // Not aligned to a level-2 block (2 MiB), or a level-1 block (1 GiB).
    map_fails(
        &s,
        [s.rd, UIPA + MIB2, 2, (NS_PA + GRANULE) | WB_RW],
        ERROR_INPUT,
    );
    map_fails(
        &s,
        [s.rd, UIPA + MIB2, 2, (NS_PA + MIB2 / 2) | WB_RW],
        ERROR_INPUT,
    );
    map_fails(
        &s,
        [s.rd, UIPA + GIB, 1, (NS_PA + MIB2) | WB_RW],
        ERROR_INPUT,
    );
    // Aligned: fine (levels 2 and 1).
    assert_eq!(map(&s.m, s.rd, UIPA + MIB2, 2, NS_PA | WB_RW), SUCCESS);
    assert_eq!(map(&s.m, s.rd, UIPA + GIB, 1, GIB | WB_RW), SUCCESS);
}

#[test]
fn rtt_map_unprotected_addr_bound() {
    let s = setup();
    // An output address at or above 2^48 (no LPA2). Such a desc also sets bits outside ADDR[47:12],
    // so it fails attr_valid as well: both are RMI_ERROR_INPUT.
    for addr in [1 << 48, 1 << 50, (1 << 51) | NS_PA, 0xfff0_0000_0000_0000] {
        map_fails(&s, [s.rd, UIPA, 3, addr | WB_RW], ERROR_INPUT);
    }
    // The highest address below 2^48 is fine.
    assert_eq!(map(&s.m, s.rd, UIPA, 3, 0xffff_ffff_f000 | WB_RW), SUCCESS);
    assert_eq!(
        read_entry(&s.m, s.rd, UIPA, 3),
        [SUCCESS, 3, RMI_ASSIGNED, 0xffff_ffff_f000 | WB_RW, 0]
    );
}

#[test]
fn rtt_map_unprotected_ipa_align() {
    let s = setup();
    for (ipa, level) in [
        (UIPA + 0x800, 3),
        (UIPA + 8, 3),
        (UIPA + GRANULE, 2),
        (UIPA + MIB2, 1),
    ] {
        map_fails(&s, [s.rd, ipa, level, WB_RW], ERROR_INPUT);
    }
}

#[test]
fn rtt_map_unprotected_ipa_bound() {
    let mut s = setup();
    // Protected IPAs (below 2^38), including one whose level-3 entry exists, and IPAs outside
    // the 39-bit IPA space.
    create_rtt(&s.m, &mut s.g, s.rd, 0, 2);
    create_rtt(&s.m, &mut s.g, s.rd, 0, 3);
    for (ipa, level) in [
        (0, 3),
        (UIPA - GRANULE, 3),
        (UIPA - MIB2, 2),
        (0, 1),
        (1 << 39, 3),
        (1 << 39, 1),
        (!(GIB - 1), 1),
    ] {
        map_fails(&s, [s.rd, ipa, level, WB_RW], ERROR_INPUT);
    }
}

#[test]
fn rtt_map_unprotected_rtt_walk() {
    let s = setup();
    // No level-3 RTT for UIPA + 2 MiB: the walk stops at level 2.
    map_fails(&s, [s.rd, UIPA + MIB2, 3, WB_RW], error_rtt(2));
    // No level-2 RTT for UIPA + 1 GiB: the walk stops at level 1.
    map_fails(&s, [s.rd, UIPA + GIB, 3, WB_RW], error_rtt(1));
    map_fails(&s, [s.rd, UIPA + GIB, 2, WB_RW], error_rtt(1));
    // A block mapped at level 2: the walk towards level 3 stops at it.
    assert_eq!(map(&s.m, s.rd, UIPA + MIB2, 2, WB_RW), SUCCESS);
    map_fails(&s, [s.rd, UIPA + MIB2 + GRANULE, 3, WB_RW], error_rtt(2));
}

#[test]
fn rtt_map_unprotected_rtte_state() {
    let s = setup();
    // Already ASSIGNED_NS: the second mapping is refused, the first stays.
    assert_eq!(map(&s.m, s.rd, UIPA, 3, NS_PA | WB_RW), SUCCESS);
    map_fails(&s, [s.rd, UIPA, 3, (NS_PA + GRANULE) | WB_RW], error_rtt(3));
    map_fails(&s, [s.rd, UIPA, 3, NS_PA | WB_RW], error_rtt(3));
    assert_eq!(raw_entry(&s.m, s.l3, 0), NS_PAGE_RAW);
    // TABLE entries at levels 2 and 1.
    assert_eq!(
        read_entry(&s.m, s.rd, UIPA, 2),
        [SUCCESS, 2, RMI_TABLE, s.l3, 0]
    );
    map_fails(&s, [s.rd, UIPA, 2, WB_RW], error_rtt(2));
    map_fails(&s, [s.rd, UIPA, 1, WB_RW], error_rtt(1));
    // An ASSIGNED_NS block.
    assert_eq!(map(&s.m, s.rd, UIPA + MIB2, 2, WB_RW), SUCCESS);
    map_fails(&s, [s.rd, UIPA + MIB2, 2, MIB2 | WB_RW], error_rtt(2));
}

#[test]
fn rtt_map_unprotected_rd_state_before_rtt_walk_and_rtte_state() {
    let mut s = setup();
    assert_eq!(map(&s.m, s.rd, UIPA, 3, WB_RW), SUCCESS);
    for rd in not_rds(&mut s) {
        // The walk would stop at level 1, or reach an ASSIGNED_NS entry.
        map_fails(&s, [rd, UIPA + GIB, 3, WB_RW], ERROR_INPUT);
        map_fails(&s, [rd, UIPA, 3, WB_RW], ERROR_INPUT);
    }
}

#[test]
fn rtt_map_unprotected_rd_bound_before_rtt_walk_and_rtte_state() {
    let s = setup();
    assert_eq!(map(&s.m, s.rd, UIPA, 3, WB_RW), SUCCESS);
    for rd in unbound_rds() {
        map_fails(&s, [rd, UIPA + GIB, 3, WB_RW], ERROR_INPUT);
        map_fails(&s, [rd, UIPA, 3, WB_RW], ERROR_INPUT);
    }
}

#[test]
fn rtt_map_unprotected_level_bound_before_rtt_walk_and_rtte_state() {
    let mut s = setup();
    // Level 0 for an IPA whose walk stops at level 1 on a TABLE entry.
    map_fails(&s, [s.rd, UIPA, 0, WB_RW], ERROR_INPUT);
    // Level 1 in a realm starting at level 2: its walk cannot reach level 1.
    let rd2 = realm_starting_at_level_2(&mut s);
    map_fails(&s, [rd2, 1 << 31, 1, WB_RW], ERROR_INPUT);
}

#[test]
fn rtt_map_unprotected_ipa_bound_before_rtt_walk_and_rtte_state() {
    let mut s = setup();
    // Protected: the walk would stop at level 1 ...
    map_fails(&s, [s.rd, 0x4000_0000, 3, WB_RW], ERROR_INPUT);
    // ... or reach an UNASSIGNED (not UNASSIGNED_NS) entry.
    create_rtt(&s.m, &mut s.g, s.rd, 0, 2);
    create_rtt(&s.m, &mut s.g, s.rd, 0, 3);
    map_fails(&s, [s.rd, 0, 3, WB_RW], ERROR_INPUT);
    // Outside the IPA space.
    map_fails(&s, [s.rd, 1 << 39, 3, WB_RW], ERROR_INPUT);
}

// ---------------------------------------------------------------------------------------------
// RMI_RTT_MAP_UNPROTECTED success
// ---------------------------------------------------------------------------------------------

#[test]
fn rtt_map_unprotected_success_page() {
    let s = setup();
    let tlbi = s.m.tlb_invalidations();
    let out = rmi(
        &s.m,
        RMI_RTT_MAP_UNPROTECTED,
        &[s.rd, UIPA + 5 * GRANULE, 3, NS_PA | WB_RW],
    );
    assert_eq!(out[..4], [SUCCESS, 0, 0, 0]);
    // rtte_state: ASSIGNED_NS (reported as ASSIGNED); rtte_contents: ADDR, MemAttr, S2AP.
    assert_eq!(
        read_entry(&s.m, s.rd, UIPA + 5 * GRANULE, 3),
        [SUCCESS, 3, RMI_ASSIGNED, NS_PA | WB_RW, 0]
    );
    assert_eq!(raw_entry(&s.m, s.l3, 5), NS_PAGE_RAW);
    // Nothing else changed.
    for i in (0..512).filter(|&i| i != 5) {
        assert_eq!(raw_entry(&s.m, s.l3, i), UNASSIGNED_NS_RAW, "entry {i}");
    }
    // Invalid to valid: no TLB maintenance. ASSIGNED_NS does not make the RTT live.
    assert_eq!(s.m.tlb_invalidations(), tlbi);
    assert_eq!(refcount(&s.m, s.l3), 0);
    assert_eq!(refcount(&s.m, s.l2), 1);
    // So the RTT can be destroyed, mapping and all (A5.5.8).
    let out = rmi(&s.m, RMI_RTT_DESTROY, &[s.rd, UIPA, 3]);
    assert_eq!(out[..2], [SUCCESS, s.l3]);
    assert_eq!(
        read_entry(&s.m, s.rd, UIPA, 3),
        [SUCCESS, 2, RMI_UNASSIGNED, 0, 0]
    );
    assert_eq!(raw_entry(&s.m, s.l2, 0), UNASSIGNED_NS_RAW);
}

#[test]
fn rtt_map_unprotected_success_every_host_attribute() {
    let s = setup();
    let mut i = 0;
    for mem_attr in [0b000, 0b001, 0b010, 0b011, 0b101, 0b110, 0b111_u64] {
        for s2ap in 0..4_u64 {
            let ipa = UIPA + i * GRANULE;
            let desc = (NS_PA + i * GRANULE) | (mem_attr << 2) | (s2ap << 6);
            assert_eq!(map(&s.m, s.rd, ipa, 3, desc), SUCCESS, "{desc:#x}");
            assert_eq!(
                read_entry(&s.m, s.rd, ipa, 3),
                [SUCCESS, 3, RMI_ASSIGNED, desc, 0]
            );
            // SH: Inner Shareable for the cacheable MemAttr 0b11x, Outer otherwise (A5.5.11).
            let sh = if mem_attr >= 0b110 { 0x300 } else { 0x200 };
            let raw = desc | 0b11 | sh | 0x400 | (0b10 << 53) | (1 << 55) | (3 << 56);
            assert_eq!(raw_entry(&s.m, s.l3, i), raw, "{desc:#x}");
            i += 1;
        }
    }
}

#[test]
fn rtt_map_unprotected_success_blocks() {
    let s = setup();
    // A level-2 block: 2 MiB at UIPA + 2 MiB, Device (MemAttr 0b001), read-only.
    let desc2 = 0x1_0020_0000 | (0b001 << 2) | (0b01 << 6);
    assert_eq!(map(&s.m, s.rd, UIPA + MIB2, 2, desc2), SUCCESS);
    assert_eq!(
        read_entry(&s.m, s.rd, UIPA + MIB2, 2),
        [SUCCESS, 2, RMI_ASSIGNED, desc2, 0]
    );
    // Seen from level 3: the walk stops at the block.
    assert_eq!(
        read_entry(&s.m, s.rd, UIPA + MIB2 + 7 * GRANULE, 3),
        [SUCCESS, 2, RMI_ASSIGNED, desc2, 0]
    );
    assert_eq!(raw_entry(&s.m, s.l2, 1), 0x03c0_0001_0020_0645);
    // A level-1 block in the starting-level RTT: 1 GiB, stage-1 attributes, no access.
    let desc1 = (5 * GIB) | (0b111 << 2);
    assert_eq!(map(&s.m, s.rd, UIPA + 3 * GIB, 1, desc1), SUCCESS);
    assert_eq!(
        read_entry(&s.m, s.rd, UIPA + 3 * GIB, 3),
        [SUCCESS, 1, RMI_ASSIGNED, desc1, 0]
    );
    assert_eq!(raw_entry(&s.m, s.root, 259), 0x03c0_0001_4000_071d);
    // The RTTs' liveness is unchanged: the L2 RTT only counts its TABLE entry, the root only
    // its TABLE entry to the L2 RTT.
    assert_eq!(refcount(&s.m, s.l2), 1);
    assert_eq!(refcount(&s.m, s.root), 1);
}

// ---------------------------------------------------------------------------------------------
// RMI_RTT_UNMAP_UNPROTECTED failure conditions
// ---------------------------------------------------------------------------------------------

#[test]
fn rtt_unmap_unprotected_rd_align() {
    let s = setup();
    assert_eq!(map(&s.m, s.rd, UIPA, 3, WB_RW), SUCCESS);
    for rd in [s.rd + 8, s.rd + 0x800, s.rd | 1] {
        unmap_fails(&s, [rd, UIPA, 3], ERROR_INPUT, 0);
    }
}

#[test]
fn rtt_unmap_unprotected_rd_bound() {
    let s = setup();
    assert_eq!(map(&s.m, s.rd, UIPA, 3, WB_RW), SUCCESS);
    for rd in unbound_rds() {
        unmap_fails(&s, [rd, UIPA, 3], ERROR_INPUT, 0);
    }
}

#[test]
fn rtt_unmap_unprotected_rd_state() {
    let mut s = setup();
    assert_eq!(map(&s.m, s.rd, UIPA, 3, WB_RW), SUCCESS);
    for rd in not_rds(&mut s) {
        unmap_fails(&s, [rd, UIPA, 3], ERROR_INPUT, 0);
    }
}

#[test]
fn rtt_unmap_unprotected_level_bound() {
    let mut s = setup();
    assert_eq!(map(&s.m, s.rd, UIPA, 3, WB_RW), SUCCESS);
    for level in [0, 4, 5, u64::MAX, 1 << 32 | 3] {
        unmap_fails(&s, [s.rd, UIPA, level], ERROR_INPUT, 0);
    }
    let rd2 = realm_starting_at_level_2(&mut s);
    unmap_fails(&s, [rd2, 1 << 31, 1], ERROR_INPUT, 0);
}

#[test]
fn rtt_unmap_unprotected_ipa_align() {
    let s = setup();
    assert_eq!(map(&s.m, s.rd, UIPA + MIB2, 2, WB_RW), SUCCESS);
    for (ipa, level) in [
        (UIPA + 0x800, 3),
        (UIPA + MIB2 + GRANULE, 2),
        (UIPA + MIB2, 1),
    ] {
        unmap_fails(&s, [s.rd, ipa, level], ERROR_INPUT, 0);
    }
}

#[test]
fn rtt_unmap_unprotected_ipa_bound() {
    let mut s = setup();
    create_rtt(&s.m, &mut s.g, s.rd, 0, 2);
    create_rtt(&s.m, &mut s.g, s.rd, 0, 3);
    for (ipa, level) in [
        (0, 3),
        (UIPA - GRANULE, 3),
        (0, 1),
        (1 << 39, 3),
        (!(GIB - 1), 1),
    ] {
        unmap_fails(&s, [s.rd, ipa, level], ERROR_INPUT, 0);
    }
}

#[test]
fn rtt_unmap_unprotected_rtt_walk() {
    let s = setup();
    // Not mapped, no level-3 RTT: the walk stops at an UNASSIGNED_NS level-2 entry; `top` is
    // the next live entry of that RTT ...
    assert_eq!(map(&s.m, s.rd, UIPA + 5 * MIB2, 2, WB_RW), SUCCESS);
    unmap_fails(&s, [s.rd, UIPA + MIB2, 3], error_rtt(2), UIPA + 5 * MIB2);
    unmap_fails(
        &s,
        [s.rd, UIPA + 4 * MIB2 + GRANULE, 3],
        error_rtt(2),
        UIPA + 5 * MIB2,
    );
    // ... or the IPA just past it.
    unmap_fails(&s, [s.rd, UIPA + 6 * MIB2, 3], error_rtt(2), UIPA + GIB);
    // The walk stops at level 1: the next live level-1 entry, or the end of the IPA space.
    unmap_fails(&s, [s.rd, UIPA + GIB, 3], error_rtt(1), 1 << 39);
    unmap_fails(&s, [s.rd, UIPA + GIB, 2], error_rtt(1), 1 << 39);
    // Mapped at a lower level (a block at level 2): `top` is the block's IPA (B3.76 aligns
    // down to the walk's level), which is `ipa` when `ipa` is the block's base.
    unmap_fails(
        &s,
        [s.rd, UIPA + 5 * MIB2, 3],
        error_rtt(2),
        UIPA + 5 * MIB2,
    );
    unmap_fails(
        &s,
        [s.rd, UIPA + 5 * MIB2 + 3 * GRANULE, 3],
        error_rtt(2),
        UIPA + 5 * MIB2,
    );
}

#[test]
fn rtt_unmap_unprotected_rtte_state() {
    let s = setup();
    assert_eq!(map(&s.m, s.rd, UIPA + 7 * GRANULE, 3, WB_RW), SUCCESS);
    // Not mapped (UNASSIGNED_NS): `top` is the next live entry, or the end of the RTT.
    unmap_fails(&s, [s.rd, UIPA, 3], error_rtt(3), UIPA + 7 * GRANULE);
    unmap_fails(
        &s,
        [s.rd, UIPA + 6 * GRANULE, 3],
        error_rtt(3),
        UIPA + 7 * GRANULE,
    );
    unmap_fails(&s, [s.rd, UIPA + 8 * GRANULE, 3], error_rtt(3), UIPA + MIB2);
    // TABLE entries (live): `top` is `ipa`.
    unmap_fails(&s, [s.rd, UIPA, 2], error_rtt(2), UIPA);
    unmap_fails(&s, [s.rd, UIPA, 1], error_rtt(1), UIPA);
    // An UNASSIGNED_NS block-level entry.
    unmap_fails(&s, [s.rd, UIPA + MIB2, 2], error_rtt(2), UIPA + GIB);
}

#[test]
fn rtt_unmap_unprotected_rd_state_before_rtt_walk_and_rtte_state() {
    let mut s = setup();
    for rd in not_rds(&mut s) {
        unmap_fails(&s, [rd, UIPA + GIB, 3], ERROR_INPUT, 0);
        unmap_fails(&s, [rd, UIPA, 3], ERROR_INPUT, 0);
    }
}

#[test]
fn rtt_unmap_unprotected_rd_bound_before_rtt_walk_and_rtte_state() {
    let s = setup();
    for rd in unbound_rds() {
        unmap_fails(&s, [rd, UIPA + GIB, 3], ERROR_INPUT, 0);
        unmap_fails(&s, [rd, UIPA, 3], ERROR_INPUT, 0);
    }
}

#[test]
fn rtt_unmap_unprotected_level_bound_before_rtt_walk_and_rtte_state() {
    let mut s = setup();
    unmap_fails(&s, [s.rd, UIPA, 0], ERROR_INPUT, 0);
    let rd2 = realm_starting_at_level_2(&mut s);
    unmap_fails(&s, [rd2, 1 << 31, 1], ERROR_INPUT, 0);
}

#[test]
fn rtt_unmap_unprotected_ipa_bound_before_rtt_walk_and_rtte_state() {
    let mut s = setup();
    unmap_fails(&s, [s.rd, 0x4000_0000, 3], ERROR_INPUT, 0);
    create_rtt(&s.m, &mut s.g, s.rd, 0, 2);
    create_rtt(&s.m, &mut s.g, s.rd, 0, 3);
    unmap_fails(&s, [s.rd, 0, 3], ERROR_INPUT, 0);
    unmap_fails(&s, [s.rd, 1 << 39, 3], ERROR_INPUT, 0);
}

// ---------------------------------------------------------------------------------------------
// RMI_RTT_UNMAP_UNPROTECTED success
// ---------------------------------------------------------------------------------------------

#[test]
fn rtt_unmap_unprotected_success_page() {
    let s = setup();
    assert_eq!(
        map(&s.m, s.rd, UIPA + 2 * GRANULE, 3, NS_PA | WB_RW),
        SUCCESS
    );
    assert_eq!(
        map(&s.m, s.rd, UIPA + 9 * GRANULE, 3, NS_PA | WB_RW),
        SUCCESS
    );
    let (ranges, vmids) = s.m.tlb_invalidations();
    // rtte_state: UNASSIGNED_NS; top: the next live entry after `ipa`.
    assert_eq!(
        unmap(&s.m, s.rd, UIPA + 2 * GRANULE, 3),
        (SUCCESS, UIPA + 9 * GRANULE)
    );
    assert_eq!(
        read_entry(&s.m, s.rd, UIPA + 2 * GRANULE, 3),
        [SUCCESS, 3, RMI_UNASSIGNED, 0, 0]
    );
    assert_eq!(raw_entry(&s.m, s.l3, 2), UNASSIGNED_NS_RAW);
    assert_eq!(raw_entry(&s.m, s.l3, 9), NS_PAGE_RAW);
    // A valid descriptor was removed: one invalidation of its range.
    assert_eq!(s.m.tlb_invalidations(), (ranges + 1, vmids));
    // The last live entry: `top` is the end of the RTT's range.
    assert_eq!(
        unmap(&s.m, s.rd, UIPA + 9 * GRANULE, 3),
        (SUCCESS, UIPA + MIB2)
    );
    assert_eq!(s.m.tlb_invalidations(), (ranges + 2, vmids));
    assert_eq!(refcount(&s.m, s.l3), 0);
    for i in 0..512 {
        assert_eq!(raw_entry(&s.m, s.l3, i), UNASSIGNED_NS_RAW, "entry {i}");
    }
    // The IPA can be mapped again, elsewhere.
    let desc = (NS_PA + MIB2) | (0b101 << 2) | (0b10 << 6);
    assert_eq!(map(&s.m, s.rd, UIPA + 2 * GRANULE, 3, desc), SUCCESS);
    assert_eq!(
        read_entry(&s.m, s.rd, UIPA + 2 * GRANULE, 3),
        [SUCCESS, 3, RMI_ASSIGNED, desc, 0]
    );
}

#[test]
fn rtt_unmap_unprotected_success_blocks() {
    let s = setup();
    assert_eq!(map(&s.m, s.rd, UIPA + MIB2, 2, MIB2 | WB_RW), SUCCESS);
    assert_eq!(map(&s.m, s.rd, UIPA + 2 * GIB, 1, GIB | WB_RW), SUCCESS);
    assert_eq!(map(&s.m, s.rd, UIPA + 5 * GIB, 1, GIB | WB_RW), SUCCESS);
    let (ranges, vmids) = s.m.tlb_invalidations();
    // Level 2: no live entry after it in the level-2 RTT.
    assert_eq!(unmap(&s.m, s.rd, UIPA + MIB2, 2), (SUCCESS, UIPA + GIB));
    assert_eq!(raw_entry(&s.m, s.l2, 1), UNASSIGNED_NS_RAW);
    assert_eq!(
        read_entry(&s.m, s.rd, UIPA + MIB2, 3),
        [SUCCESS, 2, RMI_UNASSIGNED, 0, 0]
    );
    // Level 1: the next live entry is the other block.
    assert_eq!(
        unmap(&s.m, s.rd, UIPA + 2 * GIB, 1),
        (SUCCESS, UIPA + 5 * GIB)
    );
    assert_eq!(raw_entry(&s.m, s.root, 258), UNASSIGNED_NS_RAW);
    assert_eq!(unmap(&s.m, s.rd, UIPA + 5 * GIB, 1), (SUCCESS, 1 << 39));
    assert_eq!(s.m.tlb_invalidations(), (ranges + 3, vmids));
    assert_eq!(refcount(&s.m, s.l2), 1);
    assert_eq!(refcount(&s.m, s.root), 1);
}

#[test]
fn rtt_map_unprotected_concurrent_disjoint_pages() {
    // Four CPUs map and unmap their own pages of one level-3 RTT at once; the RTT's lock
    // serializes them and no update is lost.
    let m = Machine::new(Config {
        cpus: 4,
        dram: vec![BANK0, BANK1],
    });
    let mut g = Granules::new();
    let realm = new_realm(&m, &mut g);
    create_rtt(&m, &mut g, realm.rd, UIPA, 2);
    let l3 = create_rtt(&m, &mut g, realm.rd, UIPA, 3);
    let rounds = 20;
    let rd = realm.rd;
    let (ranges, _) = m.tlb_invalidations();
    std::thread::scope(|scope| {
        for cpu in 0..4_u64 {
            let m = &m;
            scope.spawn(move || {
                let call = |fid, args: &[u64]| {
                    let mut regs = [0u64; 8];
                    regs[0] = fid;
                    regs[1..=args.len()].copy_from_slice(args);
                    m.smc(cpu as usize, regs)
                };
                for round in 0..rounds {
                    for i in (cpu..512).step_by(4) {
                        let ipa = UIPA + i * GRANULE;
                        let desc = (NS_PA + i * GRANULE) | WB_RW;
                        let out = call(RMI_RTT_MAP_UNPROTECTED, &[rd, ipa, 3, desc]);
                        assert_eq!(out[0], SUCCESS);
                        let out = call(RMI_RTT_READ_ENTRY, &[rd, ipa, 3]);
                        assert_eq!(out[..5], [SUCCESS, 3, RMI_ASSIGNED, desc, 0]);
                        if round + 1 < rounds {
                            let out = call(RMI_RTT_UNMAP_UNPROTECTED, &[rd, ipa, 3]);
                            assert_eq!(out[0], SUCCESS);
                            assert!(out[1] > ipa && out[1] <= UIPA + MIB2);
                        }
                    }
                }
            });
        }
    });
    for i in 0..512 {
        let raw = raw_entry(&m, l3, i);
        assert_eq!(raw, NS_PAGE_RAW + i * GRANULE, "entry {i}");
    }
    assert_eq!(refcount(&m, l3), 0);
    assert_eq!(m.tlb_invalidations().0, ranges + 512 * (rounds - 1));
}
