//! RMI_RTT_FOLD (spec B4.3.17): every failure condition, their orderings, the success
//! conditions for each kind of homogeneous RTT (A5.5.6), unfolding again with RMI_RTT_CREATE,
//! and folding concurrently with mapping.
//!
//! The test realm has a 39-bit IPA space starting at level 1 (tests/common): Protected IPAs
//! lie below 2^38, Unprotected ones at or above.

mod common;
use common::*;
use rmm::granule::GranuleState;
use rmm::host::{Config, Machine};

/// A Protected IPA with a level-2 and a level-3 RTT in [`setup`].
const PIPA: u64 = 0x4000_0000;
/// The first Unprotected IPA, with a level-2 and a level-3 RTT in [`setup`].
const UIPA: u64 = 1 << 38;
const MIB2: u64 = 2 << 20;
const GIB: u64 = 1 << 30;
/// 2 MiB of DRAM, 2 MiB aligned, for 512 contiguous DATA granules.
const DATA_BANK: (u64, u64) = (0x1_0000_0000, 2 << 20);
/// Non-secure PAs to map (the RMM never accesses them), 2 MiB aligned.
const NS_PA: u64 = 0x9000_0000;
const NS_PA2: u64 = 0xa000_0000;
/// Host attributes: MemAttr[2:0] 0b110 (Normal WB), S2AP 0b11 (read/write).
const WB_RW: u64 = (0b110 << 2) | (0b11 << 6);
/// Host attributes: MemAttr[2:0] 0b101 (Normal NC), S2AP 0b01 (read-only).
const NC_RO: u64 = (0b101 << 2) | (0b01 << 6);

const RMI_UNASSIGNED: u64 = 0;
const RMI_ASSIGNED: u64 = 1;
const RMI_TABLE: u64 = 2;
const RIPAS_EMPTY: u64 = 0;
const RIPAS_RAM: u64 = 1;
const RIPAS_DESTROYED: u64 = 2;

/// Raw UNASSIGNED_NS.
const UNASSIGNED_NS_RAW: u64 = 0x0200_0000_0000_0000;

/// A NEW realm with level-2 and level-3 RTTs at `PIPA` and at `UIPA`.
struct Setup {
    m: Machine,
    g: Granules,
    banks: Vec<(u64, u64)>,
    rd: u64,
    root: u64,
    pl2: u64,
    pl3: u64,
    ul2: u64,
    ul3: u64,
}

fn setup_on(m: Machine, banks: Vec<(u64, u64)>) -> Setup {
    let mut g = Granules::new();
    let realm = new_realm(&m, &mut g);
    let pl2 = create_rtt(&m, &mut g, realm.rd, PIPA, 2);
    let pl3 = create_rtt(&m, &mut g, realm.rd, PIPA, 3);
    let ul2 = create_rtt(&m, &mut g, realm.rd, UIPA, 2);
    let ul3 = create_rtt(&m, &mut g, realm.rd, UIPA, 3);
    Setup {
        m,
        g,
        banks,
        rd: realm.rd,
        root: realm.rtt,
        pl2,
        pl3,
        ul2,
        ul3,
    }
}

fn setup() -> Setup {
    setup_on(machine(), vec![BANK0, BANK1])
}

/// [`setup`] on a machine that also has [`DATA_BANK`], all of it delegated.
fn setup_with_data() -> Setup {
    let banks = vec![BANK0, BANK1, DATA_BANK];
    let m = Machine::new(Config {
        cpus: 4,
        dram: banks.clone(),
    });
    for i in 0..512 {
        assert_eq!(delegate(&m, DATA_BANK.0 + i * GRANULE), SUCCESS);
    }
    setup_on(m, banks)
}

/// RMI_RTT_FOLD: (x0, rtt).
fn fold(m: &Machine, rd: u64, ipa: u64, level: u64) -> (u64, u64) {
    let out = rmi(m, RMI_RTT_FOLD, &[rd, ipa, level]);
    assert_eq!(out[2..4], [0, 0], "x2, x3 are not outputs");
    (out[0], out[1])
}

fn map(m: &Machine, rd: u64, ipa: u64, level: u64, desc: u64) -> u64 {
    rmi(m, RMI_RTT_MAP_UNPROTECTED, &[rd, ipa, level, desc])[0]
}

/// Maps the 512 entries of the level-`level` RTT for `ipa` to `desc`, `desc` + size, ...
fn map_all(m: &Machine, rd: u64, ipa: u64, level: u64, desc: u64) {
    let size = 1 << (12 + 9 * (3 - level));
    for i in 0..512 {
        assert_eq!(map(m, rd, ipa + i * size, level, desc + i * size), SUCCESS);
    }
}

/// Entry `index` of the RTT at `table`, raw, as the hardware walker would read it.
fn raw_entry(m: &Machine, table: u64, index: u64) -> u64 {
    let mut b = [0u8; 8];
    m.debug_read(table + index * 8, &mut b).unwrap();
    u64::from_le_bytes(b)
}

fn raw_table(m: &Machine, table: u64) -> Vec<u64> {
    (0..512).map(|i| raw_entry(m, table, i)).collect()
}

/// The REFCOUNT of the RTT granule at `pa`.
fn refcount(m: &Machine, pa: u64) -> u64 {
    let granule = m.rmm().granules().get(pa).unwrap();
    let locked = granule.lock(GranuleState::Rtt).unwrap();
    locked.refcount()
}

/// Asserts the granule at `pa` is DELEGATED and zero, and can be undelegated.
fn assert_wiped_and_delegated(m: &Machine, pa: u64) {
    assert_eq!(m.granule_state(pa), Some(GranuleState::Delegated));
    let mut page = [0xffu8; GRANULE as usize];
    m.debug_read(pa, &mut page).unwrap();
    assert!(page.iter().all(|&b| b == 0), "{pa:#x} not wiped");
    assert_eq!(undelegate(m, pa), SUCCESS);
}

/// Everything a failing command must leave alone: contents and states of every granule, and
/// the TLB invalidation counts.
#[derive(Debug, PartialEq)]
struct Snapshot {
    memory: Vec<u8>,
    states: Vec<Option<GranuleState>>,
    tlbi: (u64, u64),
}

fn snapshot(s: &Setup) -> Snapshot {
    let mut memory = Vec::new();
    let mut states = Vec::new();
    for &(base, size) in &s.banks {
        let mut page = vec![0u8; size as usize];
        s.m.debug_read(base, &mut page).unwrap();
        memory.extend_from_slice(&page);
        let pas = (base..base + size).step_by(GRANULE as usize);
        states.extend(pas.map(|pa| s.m.granule_state(pa)));
    }
    Snapshot {
        memory,
        states,
        tlbi: s.m.tlb_invalidations(),
    }
}

/// Asserts that RTT_FOLD with `args` returns `x0`, outputs nothing and changes nothing.
fn fold_fails(s: &Setup, args: [u64; 3], x0: u64) {
    let before = snapshot(s);
    let out = fold(&s.m, args[0], args[1], args[2]);
    assert_eq!(out, (x0, 0), "RTT_FOLD {args:#x?}");
    assert!(snapshot(s) == before, "RTT_FOLD {args:#x?} changed state");
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

/// Granules of `s` that fail `rd_state`: delegated, undelegated, RTTs, an RD of a destroyed
/// realm.
fn not_rds(s: &mut Setup) -> Vec<u64> {
    let delegated = s.g.delegated(&s.m);
    let undelegated = s.g.ns();
    let params = s.g.ns();
    let dead = s.g.delegated(&s.m);
    let rtt = s.g.delegated(&s.m);
    let mut p = realm_params(rtt);
    p.vmid = 3;
    write_realm_params(&s.m, params, &p);
    assert_eq!(rmi(&s.m, RMI_REALM_CREATE, &[dead, params])[0], SUCCESS);
    assert_eq!(rmi(&s.m, RMI_REALM_DESTROY, &[dead])[0], SUCCESS);
    vec![delegated, undelegated, s.pl3, s.root, dead]
}

/// A second realm in `s`, with a 32-bit IPA space starting at level 2 (four concatenated
/// starting-level RTTs). Returns its RD.
fn realm_starting_at_level_2(s: &mut Setup) -> u64 {
    while s.g.ns() % (4 * GRANULE) != 3 * GRANULE {}
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

// ---------------------------------------------------------------------------------------------
// Failure conditions
// ---------------------------------------------------------------------------------------------

#[test]
fn rtt_fold_rd_align() {
    let s = setup();
    for rd in [s.rd + 8, s.rd + 0x800, s.rd | 1] {
        fold_fails(&s, [rd, PIPA, 3], ERROR_INPUT);
    }
    assert_eq!(fold(&s.m, s.rd, PIPA, 3), (SUCCESS, s.pl3));
}

#[test]
fn rtt_fold_rd_bound() {
    let s = setup();
    for rd in unbound_rds() {
        fold_fails(&s, [rd, PIPA, 3], ERROR_INPUT);
    }
}

#[test]
fn rtt_fold_rd_state() {
    let mut s = setup();
    for rd in not_rds(&mut s) {
        fold_fails(&s, [rd, PIPA, 3], ERROR_INPUT);
    }
}

#[test]
fn rtt_fold_level_bound() {
    let mut s = setup();
    // Level 1 is this realm's starting level; 0 is below it; 4 and up are no RTT levels.
    for level in [1, 0, 4, u64::MAX, 1 << 32 | 3] {
        fold_fails(&s, [s.rd, 0, level], ERROR_INPUT);
        fold_fails(&s, [s.rd, UIPA, level], ERROR_INPUT);
    }
    // A realm starting at level 2: level 2 is its starting level, level 1 below it.
    let rd2 = realm_starting_at_level_2(&mut s);
    fold_fails(&s, [rd2, 0, 2], ERROR_INPUT);
    fold_fails(&s, [rd2, 0, 1], ERROR_INPUT);
}

#[test]
fn rtt_fold_ipa_align() {
    let s = setup();
    // Not aligned to the parent's entries: 2 MiB for a level-3 RTT, 1 GiB for a level-2 RTT.
    for (ipa, level) in [
        (PIPA + GRANULE, 3),
        (PIPA + 0x800, 3),
        (PIPA + MIB2, 2),
        (UIPA + 8 * GRANULE, 3),
        (UIPA + MIB2, 2),
    ] {
        fold_fails(&s, [s.rd, ipa, level], ERROR_INPUT);
    }
}

#[test]
fn rtt_fold_ipa_bound() {
    let s = setup();
    for (ipa, level) in [
        (1 << 39, 3),
        (1 << 39, 2),
        ((1 << 39) + PIPA, 3),
        (!(GIB - 1), 2),
    ] {
        fold_fails(&s, [s.rd, ipa, level], ERROR_INPUT);
    }
}

#[test]
fn rtt_fold_rtt_walk() {
    let s = setup();
    // No level-2 RTT: the walk towards level 2 stops at level 1.
    fold_fails(&s, [s.rd, 2 * GIB, 3], error_rtt(1));
    fold_fails(&s, [s.rd, UIPA + GIB, 3], error_rtt(1));
}

#[test]
fn rtt_fold_rtte_state() {
    let s = setup();
    // The parent entry is UNASSIGNED (level 2 or 1) or UNASSIGNED_NS, not TABLE.
    fold_fails(&s, [s.rd, PIPA + MIB2, 3], error_rtt(2));
    fold_fails(&s, [s.rd, 2 * GIB, 2], error_rtt(1));
    fold_fails(&s, [s.rd, UIPA + MIB2, 3], error_rtt(2));
    fold_fails(&s, [s.rd, UIPA + GIB, 2], error_rtt(1));
    // ASSIGNED_NS blocks at levels 2 and 1.
    assert_eq!(map(&s.m, s.rd, UIPA + MIB2, 2, NS_PA | WB_RW), SUCCESS);
    fold_fails(&s, [s.rd, UIPA + MIB2, 3], error_rtt(2));
    assert_eq!(map(&s.m, s.rd, UIPA + GIB, 1, GIB | WB_RW), SUCCESS);
    fold_fails(&s, [s.rd, UIPA + GIB, 2], error_rtt(1));
}

#[test]
fn rtt_fold_rtt_homo() {
    let s = setup();
    // Mixed RIPAS: RAM in the first entry, EMPTY in the others.
    let out = rmi(&s.m, RMI_RTT_INIT_RIPAS, &[s.rd, PIPA, PIPA + GRANULE]);
    assert_eq!(out[..2], [SUCCESS, PIPA + GRANULE]);
    fold_fails(&s, [s.rd, PIPA, 3], error_rtt(3));
    // Mixed RIPAS in the last entry only: RAM everywhere but there.
    let out = rmi(
        &s.m,
        RMI_RTT_INIT_RIPAS,
        &[s.rd, PIPA, PIPA + MIB2 - GRANULE],
    );
    assert_eq!(out[..2], [SUCCESS, PIPA + MIB2 - GRANULE]);
    fold_fails(&s, [s.rd, PIPA, 3], error_rtt(3));
    // Once uniform, it folds.
    let out = rmi(&s.m, RMI_RTT_INIT_RIPAS, &[s.rd, PIPA, PIPA + MIB2]);
    assert_eq!(out[..2], [SUCCESS, PIPA + MIB2]);
    assert_eq!(fold(&s.m, s.rd, PIPA, 3), (SUCCESS, s.pl3));
}

#[test]
fn rtt_fold_rtt_homo_with_a_table_entry() {
    let s = setup();
    // The level-2 RTT holds a TABLE entry (REFCOUNT 1: refused without a scan).
    assert_eq!(refcount(&s.m, s.pl2), 1);
    fold_fails(&s, [s.rd, PIPA, 2], error_rtt(2));
    fold_fails(&s, [s.rd, UIPA, 2], error_rtt(2));
}

#[test]
fn rtt_fold_rtt_homo_mixed_destroyed_ripas() {
    let mut s = setup();
    // RTT_DESTROY leaves its parent entry UNASSIGNED, RIPAS DESTROYED, among EMPTY ones.
    let l2 = create_rtt(&s.m, &mut s.g, s.rd, 2 * GIB, 2);
    let l3 = create_rtt(&s.m, &mut s.g, s.rd, 2 * GIB + MIB2, 3);
    let out = rmi(&s.m, RMI_RTT_DESTROY, &[s.rd, 2 * GIB + MIB2, 3]);
    assert_eq!(out[..2], [SUCCESS, l3]);
    assert_eq!(refcount(&s.m, l2), 0);
    fold_fails(&s, [s.rd, 2 * GIB, 2], error_rtt(2));
}

#[test]
fn rtt_fold_rtt_homo_mixed_ns_states() {
    let s = setup();
    // One ASSIGNED_NS page among UNASSIGNED_NS ones: REFCOUNT 0, found by the scan.
    assert_eq!(
        map(&s.m, s.rd, UIPA + 100 * GRANULE, 3, NS_PA | WB_RW),
        SUCCESS
    );
    assert_eq!(refcount(&s.m, s.ul3), 0);
    fold_fails(&s, [s.rd, UIPA, 3], error_rtt(3));
    // All ASSIGNED_NS but the last.
    for i in (0..511).filter(|&i| i != 100) {
        let desc = (NS_PA + i * GRANULE) | WB_RW;
        assert_eq!(map(&s.m, s.rd, UIPA + i * GRANULE, 3, desc), SUCCESS);
    }
    fold_fails(&s, [s.rd, UIPA, 3], error_rtt(3));
}

#[test]
fn rtt_fold_rtt_homo_assigned_ns_not_foldable() {
    let mut s = setup();
    let page = |i: u64| UIPA + i * GRANULE;
    let unmap = |i: u64| {
        let out = rmi(&s.m, RMI_RTT_UNMAP_UNPROTECTED, &[s.rd, page(i), 3]);
        assert_eq!(out[0], SUCCESS);
    };
    map_all(&s.m, s.rd, UIPA, 3, NS_PA | WB_RW);
    // Not contiguous: entry 77 maps another page.
    unmap(77);
    assert_eq!(map(&s.m, s.rd, page(77), 3, NS_PA2 | WB_RW), SUCCESS);
    fold_fails(&s, [s.rd, UIPA, 3], error_rtt(3));
    // Contiguous, but entry 77 has other attributes.
    unmap(77);
    let desc = (NS_PA + 77 * GRANULE) | NC_RO;
    assert_eq!(map(&s.m, s.rd, page(77), 3, desc), SUCCESS);
    fold_fails(&s, [s.rd, UIPA, 3], error_rtt(3));
    // Only S2AP differs.
    unmap(77);
    let desc = (NS_PA + 77 * GRANULE) | (0b110 << 2) | (0b01 << 6);
    assert_eq!(map(&s.m, s.rd, page(77), 3, desc), SUCCESS);
    fold_fails(&s, [s.rd, UIPA, 3], error_rtt(3));
    // Contiguous with identical attributes, but starting at an address that is not 2 MiB
    // aligned: no block can map it.
    for i in 0..512 {
        unmap(i);
    }
    map_all(&s.m, s.rd, UIPA, 3, (NS_PA + GRANULE) | WB_RW);
    fold_fails(&s, [s.rd, UIPA, 3], error_rtt(3));
    // Level-2 blocks that start at a 2 MiB but not 1 GiB aligned address.
    create_rtt(&s.m, &mut s.g, s.rd, UIPA + GIB, 2);
    map_all(&s.m, s.rd, UIPA + GIB, 2, (GIB + MIB2) | WB_RW);
    fold_fails(&s, [s.rd, UIPA + GIB, 2], error_rtt(2));
}

#[test]
fn rtt_fold_rtt_homo_assigned() {
    let s = setup_with_data();
    let data = |i: u64| DATA_BANK.0 + i * GRANULE;
    // One ASSIGNED entry among UNASSIGNED ones: REFCOUNT 1, refused without a scan.
    let out = rmi(&s.m, RMI_DATA_CREATE_UNKNOWN, &[s.rd, data(0), PIPA]);
    assert_eq!(out[0], SUCCESS);
    assert_eq!(refcount(&s.m, s.pl3), 1);
    fold_fails(&s, [s.rd, PIPA, 3], error_rtt(3));
    // All ASSIGNED (REFCOUNT 512) and contiguous, but RIPAS EMPTY in entry 0 and RAM in the
    // others.
    let out = rmi(
        &s.m,
        RMI_RTT_INIT_RIPAS,
        &[s.rd, PIPA + GRANULE, PIPA + MIB2],
    );
    assert_eq!(out[..2], [SUCCESS, PIPA + MIB2]);
    for i in 1..512 {
        let out = rmi(
            &s.m,
            RMI_DATA_CREATE_UNKNOWN,
            &[s.rd, data(i), PIPA + i * GRANULE],
        );
        assert_eq!(out[0], SUCCESS);
    }
    assert_eq!(refcount(&s.m, s.pl3), 512);
    fold_fails(&s, [s.rd, PIPA, 3], error_rtt(3));
    // All RIPAS EMPTY, but not contiguous: entries 0 and 1 swapped.
    let destroy = |ipa: u64| {
        let out = rmi(&s.m, RMI_DATA_DESTROY, &[s.rd, ipa]);
        assert_eq!(out[0], SUCCESS);
    };
    for i in 0..512 {
        destroy(PIPA + i * GRANULE);
    }
    // DATA_DESTROY left RIPAS DESTROYED behind RAM, EMPTY behind EMPTY. Recreate the RTT to
    // make every entry DESTROYED.
    let out = rmi(&s.m, RMI_RTT_DESTROY, &[s.rd, PIPA, 3]);
    assert_eq!(out[..2], [SUCCESS, s.pl3]);
    let out = rmi(&s.m, RMI_RTT_CREATE, &[s.rd, s.pl3, PIPA, 3]);
    assert_eq!(out[0], SUCCESS);
    // All entries are now UNASSIGNED, RIPAS DESTROYED (unfolded from the parent entry).
    for i in 0..512 {
        let d = if i < 2 { data(1 - i) } else { data(i) };
        let out = rmi(
            &s.m,
            RMI_DATA_CREATE_UNKNOWN,
            &[s.rd, d, PIPA + i * GRANULE],
        );
        assert_eq!(out[0], SUCCESS);
    }
    assert_eq!(
        read_entry(&s.m, s.rd, PIPA, 3),
        [SUCCESS, 3, RMI_ASSIGNED, data(1), RIPAS_DESTROYED]
    );
    assert_eq!(refcount(&s.m, s.pl3), 512);
    fold_fails(&s, [s.rd, PIPA, 3], error_rtt(3));
}

#[test]
fn rtt_fold_rd_state_before_rtt_walk_rtte_state_and_rtt_homo() {
    let mut s = setup();
    let out = rmi(&s.m, RMI_RTT_INIT_RIPAS, &[s.rd, PIPA, PIPA + GRANULE]);
    assert_eq!(out[0], SUCCESS);
    for rd in not_rds(&mut s) {
        fold_fails(&s, [rd, 2 * GIB, 3], ERROR_INPUT); // rtt_walk
        fold_fails(&s, [rd, PIPA + MIB2, 3], ERROR_INPUT); // rtte_state
        fold_fails(&s, [rd, PIPA, 3], ERROR_INPUT); // rtt_homo
    }
}

#[test]
fn rtt_fold_rd_bound_before_rtt_walk_rtte_state_and_rtt_homo() {
    let s = setup();
    let out = rmi(&s.m, RMI_RTT_INIT_RIPAS, &[s.rd, PIPA, PIPA + GRANULE]);
    assert_eq!(out[0], SUCCESS);
    for rd in unbound_rds() {
        fold_fails(&s, [rd, 2 * GIB, 3], ERROR_INPUT);
        fold_fails(&s, [rd, PIPA + MIB2, 3], ERROR_INPUT);
        fold_fails(&s, [rd, PIPA, 3], ERROR_INPUT);
    }
}

#[test]
fn rtt_fold_level_bound_before_rtt_walk_and_rtte_state() {
    let s = setup();
    // Level 1 (starting): its parent level 0 does not exist, so no walk could reach it.
    fold_fails(&s, [s.rd, 0, 1], ERROR_INPUT);
    fold_fails(&s, [s.rd, 2 * GIB, 1], ERROR_INPUT);
    // Level 4: the walk to level 3 would stop at level 1 or at a non-TABLE level-3 entry.
    fold_fails(&s, [s.rd, 2 * GIB, 4], ERROR_INPUT);
    fold_fails(&s, [s.rd, PIPA, 4], ERROR_INPUT);
}

#[test]
fn rtt_fold_ipa_bound_before_rtt_walk_and_rtte_state() {
    let s = setup();
    // Outside the IPA space: the walk would stop at level 1 (whose entries do not cover it).
    fold_fails(&s, [s.rd, 1 << 39, 3], ERROR_INPUT);
    fold_fails(&s, [s.rd, (1 << 39) + PIPA, 3], ERROR_INPUT);
    fold_fails(&s, [s.rd, 1 << 40, 2], ERROR_INPUT);
}

// ---------------------------------------------------------------------------------------------
// Success
// ---------------------------------------------------------------------------------------------

#[test]
fn rtt_fold_success_unassigned_empty() {
    let s = setup();
    let (ranges, vmids) = s.m.tlb_invalidations();
    assert_eq!(refcount(&s.m, s.pl2), 1);
    assert_eq!(
        read_entry(&s.m, s.rd, PIPA, 2),
        [SUCCESS, 2, RMI_TABLE, s.pl3, RIPAS_EMPTY]
    );
    let out = rmi(&s.m, RMI_RTT_FOLD, &[s.rd, PIPA, 3]);
    // rtt: the destroyed RTT; x2 and x3 are not outputs.
    assert_eq!(out[..4], [SUCCESS, s.pl3, 0, 0]);
    // rtte_state, rtte_ripas: UNASSIGNED, RIPAS EMPTY at level 2.
    assert_eq!(
        read_entry(&s.m, s.rd, PIPA, 3),
        [SUCCESS, 2, RMI_UNASSIGNED, 0, RIPAS_EMPTY]
    );
    assert_eq!(raw_entry(&s.m, s.pl2, 0), 0);
    // rtt_state: DELEGATED and wiped.
    assert_wiped_and_delegated(&s.m, s.pl3);
    // The TABLE descriptor was removed; the level-2 RTT is no longer live.
    assert_eq!(s.m.tlb_invalidations(), (ranges + 1, vmids));
    assert_eq!(refcount(&s.m, s.pl2), 0);
    // Now the level-2 RTT is all UNASSIGNED EMPTY too: fold it into the starting level.
    assert_eq!(fold(&s.m, s.rd, PIPA, 2), (SUCCESS, s.pl2));
    assert_eq!(
        read_entry(&s.m, s.rd, PIPA, 3),
        [SUCCESS, 1, RMI_UNASSIGNED, 0, RIPAS_EMPTY]
    );
    assert_eq!(raw_entry(&s.m, s.root, 1), 0);
    assert_wiped_and_delegated(&s.m, s.pl2);
    assert_eq!(
        refcount(&s.m, s.root),
        1,
        "the TABLE entry to the unprotected RTT"
    );
}

#[test]
fn rtt_fold_success_unassigned_ram_and_unfold() {
    let mut s = setup();
    let out = rmi(&s.m, RMI_RTT_INIT_RIPAS, &[s.rd, PIPA, PIPA + MIB2]);
    assert_eq!(out[..2], [SUCCESS, PIPA + MIB2]);
    assert_eq!(fold(&s.m, s.rd, PIPA, 3), (SUCCESS, s.pl3));
    assert_eq!(
        read_entry(&s.m, s.rd, PIPA, 2),
        [SUCCESS, 2, RMI_UNASSIGNED, 0, RIPAS_RAM]
    );
    assert_eq!(raw_entry(&s.m, s.pl2, 0), 1 << 5);
    assert_wiped_and_delegated(&s.m, s.pl3);
    // RTT_CREATE unfolds it: 512 UNASSIGNED RAM entries.
    let l3 = create_rtt(&s.m, &mut s.g, s.rd, PIPA, 3);
    assert!(raw_table(&s.m, l3).iter().all(|&e| e == 1 << 5));
    assert_eq!(
        read_entry(&s.m, s.rd, PIPA + MIB2 - GRANULE, 3),
        [SUCCESS, 3, RMI_UNASSIGNED, 0, RIPAS_RAM]
    );
}

#[test]
fn rtt_fold_success_unassigned_destroyed() {
    let mut s = setup();
    // RTT_DESTROY leaves RIPAS DESTROYED; RTT_CREATE unfolds it into 512 DESTROYED entries.
    let out = rmi(&s.m, RMI_RTT_DESTROY, &[s.rd, PIPA, 3]);
    assert_eq!(out[..2], [SUCCESS, s.pl3]);
    let l3 = create_rtt(&s.m, &mut s.g, s.rd, PIPA, 3);
    assert!(raw_table(&s.m, l3).iter().all(|&e| e == 2 << 5));
    assert_eq!(fold(&s.m, s.rd, PIPA, 3), (SUCCESS, l3));
    assert_eq!(
        read_entry(&s.m, s.rd, PIPA, 3),
        [SUCCESS, 2, RMI_UNASSIGNED, 0, RIPAS_DESTROYED]
    );
    assert_eq!(raw_entry(&s.m, s.pl2, 0), 2 << 5);
    assert_wiped_and_delegated(&s.m, l3);
}

#[test]
fn rtt_fold_success_unassigned_ns() {
    let s = setup();
    let (ranges, vmids) = s.m.tlb_invalidations();
    assert_eq!(fold(&s.m, s.rd, UIPA, 3), (SUCCESS, s.ul3));
    // rtte_state: UNASSIGNED_NS (reported as UNASSIGNED; no RIPAS, reported as EMPTY).
    assert_eq!(
        read_entry(&s.m, s.rd, UIPA, 3),
        [SUCCESS, 2, RMI_UNASSIGNED, 0, RIPAS_EMPTY]
    );
    assert_eq!(raw_entry(&s.m, s.ul2, 0), UNASSIGNED_NS_RAW);
    assert_wiped_and_delegated(&s.m, s.ul3);
    assert_eq!(refcount(&s.m, s.ul2), 0);
    assert_eq!(fold(&s.m, s.rd, UIPA, 2), (SUCCESS, s.ul2));
    assert_eq!(raw_entry(&s.m, s.root, 256), UNASSIGNED_NS_RAW);
    assert_wiped_and_delegated(&s.m, s.ul2);
    assert_eq!(s.m.tlb_invalidations(), (ranges + 2, vmids));
}

#[test]
fn rtt_fold_success_assigned_ns_pages_and_unfold() {
    let mut s = setup();
    map_all(&s.m, s.rd, UIPA, 3, NS_PA | NC_RO);
    let pages = raw_table(&s.m, s.ul3);
    assert_eq!(pages[1], 0x03c0_0000_9000_1657);
    assert_eq!(refcount(&s.m, s.ul2), 1);
    let (ranges, vmids) = s.m.tlb_invalidations();
    assert_eq!(fold(&s.m, s.rd, UIPA, 3), (SUCCESS, s.ul3));
    // rtte_state, rtte_addr, rtte_attr: an ASSIGNED_NS block at NS_PA with the same MemAttr
    // and S2AP.
    assert_eq!(
        read_entry(&s.m, s.rd, UIPA, 2),
        [SUCCESS, 2, RMI_ASSIGNED, NS_PA | NC_RO, RIPAS_EMPTY]
    );
    assert_eq!(
        read_entry(&s.m, s.rd, UIPA + 9 * GRANULE, 3),
        [SUCCESS, 2, RMI_ASSIGNED, NS_PA | NC_RO, RIPAS_EMPTY]
    );
    assert_eq!(raw_entry(&s.m, s.ul2, 0), 0x03c0_0000_9000_0655);
    assert_wiped_and_delegated(&s.m, s.ul3);
    // A TABLE descriptor replaced by a valid block: break-before-make, one invalidation.
    assert_eq!(s.m.tlb_invalidations(), (ranges + 1, vmids));
    // ASSIGNED_NS does not make the level-2 RTT live.
    assert_eq!(refcount(&s.m, s.ul2), 0);
    // The block can be unmapped as one.
    let out = rmi(&s.m, RMI_RTT_UNMAP_UNPROTECTED, &[s.rd, UIPA, 3]);
    assert_eq!(out[..2], [error_rtt(2), UIPA]);
    assert_eq!(map(&s.m, s.rd, UIPA, 3, NS_PA | NC_RO), error_rtt(2));

    // RTT_CREATE unfolds it into the same pages.
    let l3 = create_rtt(&s.m, &mut s.g, s.rd, UIPA, 3);
    assert_eq!(raw_table(&s.m, l3), pages);
    assert_eq!(s.m.tlb_invalidations(), (ranges + 2, vmids));
    assert_eq!(
        read_entry(&s.m, s.rd, UIPA + 9 * GRANULE, 3),
        [
            SUCCESS,
            3,
            RMI_ASSIGNED,
            (NS_PA + 9 * GRANULE) | NC_RO,
            RIPAS_EMPTY
        ]
    );
    let out = rmi(
        &s.m,
        RMI_RTT_UNMAP_UNPROTECTED,
        &[s.rd, UIPA + 9 * GRANULE, 3],
    );
    assert_eq!(out[..2], [SUCCESS, UIPA + 10 * GRANULE]);
}

#[test]
fn rtt_fold_success_assigned_ns_blocks_and_unfold() {
    let mut s = setup();
    // A level-2 RTT of 512 blocks, 1 GiB aligned: folds into a level-1 block.
    let l2 = create_rtt(&s.m, &mut s.g, s.rd, UIPA + GIB, 2);
    let base = 3 * GIB;
    map_all(&s.m, s.rd, UIPA + GIB, 2, base | WB_RW);
    let blocks = raw_table(&s.m, l2);
    assert_eq!(blocks[1], 0x03c0_0000_c020_07d9);
    let (ranges, vmids) = s.m.tlb_invalidations();
    assert_eq!(fold(&s.m, s.rd, UIPA + GIB, 2), (SUCCESS, l2));
    assert_eq!(
        read_entry(&s.m, s.rd, UIPA + GIB + 5 * MIB2, 3),
        [SUCCESS, 1, RMI_ASSIGNED, base | WB_RW, RIPAS_EMPTY]
    );
    assert_eq!(raw_entry(&s.m, s.root, 257), 0x03c0_0000_c000_07d9);
    assert_wiped_and_delegated(&s.m, l2);
    assert_eq!(s.m.tlb_invalidations(), (ranges + 1, vmids));
    // The root counts its two TABLE entries (protected and unprotected level-2 RTTs) only.
    assert_eq!(refcount(&s.m, s.root), 2);
    // Unfold again.
    let l2 = create_rtt(&s.m, &mut s.g, s.rd, UIPA + GIB, 2);
    assert_eq!(raw_table(&s.m, l2), blocks);
    assert_eq!(s.m.tlb_invalidations(), (ranges + 2, vmids));
}

/// Folds a level-3 RTT of 512 contiguous ASSIGNED RAM pages (valid descriptors) into a
/// level-2 block and checks the success conditions. Returns the pages' raw entries.
fn fold_assigned_ram(s: &Setup) -> Vec<u64> {
    let data = |i: u64| DATA_BANK.0 + i * GRANULE;
    let out = rmi(&s.m, RMI_RTT_INIT_RIPAS, &[s.rd, PIPA, PIPA + MIB2]);
    assert_eq!(out[..2], [SUCCESS, PIPA + MIB2]);
    for i in 0..512 {
        let out = rmi(
            &s.m,
            RMI_DATA_CREATE_UNKNOWN,
            &[s.rd, data(i), PIPA + i * GRANULE],
        );
        assert_eq!(out[0], SUCCESS);
    }
    let pages = raw_table(&s.m, s.pl3);
    assert_eq!(pages[1], 0x0100_0001_0000_17db);
    assert_eq!(refcount(&s.m, s.pl3), 512);
    let (ranges, vmids) = s.m.tlb_invalidations();
    assert_eq!(fold(&s.m, s.rd, PIPA, 3), (SUCCESS, s.pl3));
    // rtte_state, rtte_addr, rtte_ripas: an ASSIGNED RAM block (valid) at the first page.
    assert_eq!(
        read_entry(&s.m, s.rd, PIPA + 3 * GRANULE, 3),
        [SUCCESS, 2, RMI_ASSIGNED, data(0), RIPAS_RAM]
    );
    assert_eq!(raw_entry(&s.m, s.pl2, 0), 0x0100_0001_0000_07d9);
    assert_wiped_and_delegated(&s.m, s.pl3);
    assert_eq!(s.m.tlb_invalidations(), (ranges + 1, vmids));
    // TABLE to ASSIGNED: the level-2 RTT stays live; the DATA granules are untouched.
    assert_eq!(refcount(&s.m, s.pl2), 1);
    let out = rmi(&s.m, RMI_RTT_DESTROY, &[s.rd, PIPA, 2]);
    assert_eq!(out[..3], [error_rtt(2), 0, PIPA]);
    assert_eq!(s.m.granule_state(data(7)), Some(GranuleState::Data));
    pages
}

#[test]
fn rtt_fold_success_assigned_ram() {
    let s = setup_with_data();
    fold_assigned_ram(&s);
}

#[test]
fn rtt_fold_success_assigned_ram_then_rtt_create_unfolds() {
    let mut s = setup_with_data();
    let data = |i: u64| DATA_BANK.0 + i * GRANULE;
    let pages = fold_assigned_ram(&s);
    // RTT_CREATE unfolds it into the same pages; DATA_DESTROY works on them again.
    let l3 = create_rtt(&s.m, &mut s.g, s.rd, PIPA, 3);
    assert_eq!(raw_table(&s.m, l3), pages);
    assert_eq!(refcount(&s.m, l3), 512);
    let out = rmi(&s.m, RMI_DATA_DESTROY, &[s.rd, PIPA + 7 * GRANULE]);
    assert_eq!(out[..3], [SUCCESS, data(7), PIPA + 8 * GRANULE]);
}

#[test]
fn rtt_fold_success_assigned_empty() {
    let s = setup_with_data();
    let data = |i: u64| DATA_BANK.0 + i * GRANULE;
    for i in 0..512 {
        let out = rmi(
            &s.m,
            RMI_DATA_CREATE_UNKNOWN,
            &[s.rd, data(i), PIPA + i * GRANULE],
        );
        assert_eq!(out[0], SUCCESS);
    }
    let (ranges, vmids) = s.m.tlb_invalidations();
    assert_eq!(fold(&s.m, s.rd, PIPA, 3), (SUCCESS, s.pl3));
    // An ASSIGNED block with RIPAS EMPTY: an invalid descriptor recording the address.
    assert_eq!(
        read_entry(&s.m, s.rd, PIPA, 2),
        [SUCCESS, 2, RMI_ASSIGNED, data(0), RIPAS_EMPTY]
    );
    assert_eq!(raw_entry(&s.m, s.pl2, 0), 0x0100_0001_0000_0000);
    assert_wiped_and_delegated(&s.m, s.pl3);
    assert_eq!(s.m.tlb_invalidations(), (ranges + 1, vmids));
    assert_eq!(refcount(&s.m, s.pl2), 1);
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

/// Calls `fid` on CPU `cpu` with arguments x1.. and returns x0..x7.
fn call(m: &Machine, cpu: usize, fid: u64, args: &[u64]) -> [u64; 8] {
    let mut regs = [0u64; 8];
    regs[0] = fid;
    regs[1..=args.len()].copy_from_slice(args);
    m.smc(cpu, regs)
}

#[test]
fn rtt_fold_concurrent_with_map_and_unmap() {
    // CPUs 0-3 map and unmap their own pages of the level-3 RTT at UIPA (and read entries of
    // the folded region); CPU 4 unfolds and folds the level-3 RTT at UIPA + 2 MiB under the
    // same level-2 RTT, both as UNASSIGNED_NS and as an ASSIGNED_NS block.
    let m = Machine::new(Config {
        cpus: 5,
        dram: vec![BANK0, BANK1],
    });
    let mut g = Granules::new();
    let realm = new_realm(&m, &mut g);
    let rd = realm.rd;
    let l2 = create_rtt(&m, &mut g, rd, UIPA, 2);
    let l3 = create_rtt(&m, &mut g, rd, UIPA, 3);
    let folded = g.delegated(&m);
    let region = UIPA + MIB2;
    let (ranges, _) = m.tlb_invalidations();
    let rounds = 8;
    let fold_rounds = 16;
    std::thread::scope(|scope| {
        for cpu in 0..4_usize {
            let m = &m;
            scope.spawn(move || {
                for round in 0..rounds {
                    for i in (cpu as u64..512).step_by(4) {
                        let ipa = UIPA + i * GRANULE;
                        let desc = (NS_PA + i * GRANULE) | WB_RW;
                        let out = call(m, cpu, RMI_RTT_MAP_UNPROTECTED, &[rd, ipa, 3, desc]);
                        assert_eq!(out[0], SUCCESS);
                        let out = call(m, cpu, RMI_RTT_READ_ENTRY, &[rd, ipa, 3]);
                        assert_eq!(out[..5], [SUCCESS, 3, RMI_ASSIGNED, desc, 0]);
                        // The folded region is in one of its states, whole.
                        let other = region + i * GRANULE;
                        let out = call(m, cpu, RMI_RTT_READ_ENTRY, &[rd, other, 3]);
                        let block = NS_PA2 | WB_RW;
                        let page = (NS_PA2 + i * GRANULE) | WB_RW;
                        assert!(
                            matches!(
                                out[..5],
                                [SUCCESS, 2, RMI_UNASSIGNED, 0, 0]
                                    | [SUCCESS, 3, RMI_UNASSIGNED, 0, 0]
                            ) || out[..5] == [SUCCESS, 2, RMI_ASSIGNED, block, 0]
                                || out[..5] == [SUCCESS, 3, RMI_ASSIGNED, page, 0],
                            "{out:#x?}"
                        );
                        if round + 1 < rounds {
                            let out = call(m, cpu, RMI_RTT_UNMAP_UNPROTECTED, &[rd, ipa, 3]);
                            assert_eq!(out[0], SUCCESS);
                            assert!(out[1] > ipa && out[1] <= UIPA + MIB2);
                        }
                    }
                }
            });
        }
        let m = &m;
        scope.spawn(move || {
            let cpu = 4;
            for round in 0..fold_rounds {
                let out = call(m, cpu, RMI_RTT_CREATE, &[rd, folded, region, 3]);
                assert_eq!(out[0], SUCCESS);
                if round % 2 == 1 {
                    for i in 0..512 {
                        let desc = (NS_PA2 + i * GRANULE) | WB_RW;
                        let args = [rd, region + i * GRANULE, 3, desc];
                        assert_eq!(call(m, cpu, RMI_RTT_MAP_UNPROTECTED, &args)[0], SUCCESS);
                    }
                    let out = call(m, cpu, RMI_RTT_FOLD, &[rd, region, 3]);
                    assert_eq!(out[..2], [SUCCESS, folded]);
                    let out = call(m, cpu, RMI_RTT_READ_ENTRY, &[rd, region, 2]);
                    assert_eq!(out[..5], [SUCCESS, 2, RMI_ASSIGNED, NS_PA2 | WB_RW, 0]);
                    // Unfold the block, unmap every page.
                    let out = call(m, cpu, RMI_RTT_CREATE, &[rd, folded, region, 3]);
                    assert_eq!(out[0], SUCCESS);
                    for i in 0..512 {
                        let args = [rd, region + i * GRANULE, 3];
                        assert_eq!(call(m, cpu, RMI_RTT_UNMAP_UNPROTECTED, &args)[0], SUCCESS);
                    }
                }
                let out = call(m, cpu, RMI_RTT_FOLD, &[rd, region, 3]);
                assert_eq!(out[..2], [SUCCESS, folded]);
                let out = call(m, cpu, RMI_RTT_READ_ENTRY, &[rd, region, 2]);
                assert_eq!(out[..5], [SUCCESS, 2, RMI_UNASSIGNED, 0, 0]);
            }
        });
    });
    // Every page of the mappers' RTT ends mapped, contiguous, with one set of attributes.
    for i in 0..512 {
        let expected = 0x03c0_0000_9000_07db + i * GRANULE;
        assert_eq!(raw_entry(&m, l3, i), expected, "entry {i}");
    }
    assert_eq!(raw_entry(&m, l2, 1), UNASSIGNED_NS_RAW);
    assert_eq!(m.granule_state(folded), Some(GranuleState::Delegated));
    assert_eq!(refcount(&m, l3), 0);
    assert_eq!(refcount(&m, l2), 1);
    // Invalidations: each unmap, each fold, each unfold of a valid block.
    let mapper_unmaps = 512 * (rounds - 1);
    let folder = fold_rounds + (fold_rounds / 2) * (1 + 1 + 512);
    assert_eq!(m.tlb_invalidations().0, ranges + mapper_unmaps + folder);
    // So the mappers' RTT folds into one block.
    let out = rmi(&m, RMI_RTT_FOLD, &[rd, UIPA, 3]);
    assert_eq!(out[..2], [SUCCESS, l3]);
    assert_eq!(
        read_entry(&m, rd, UIPA, 2),
        [SUCCESS, 2, RMI_ASSIGNED, NS_PA | WB_RW, 0]
    );
}
