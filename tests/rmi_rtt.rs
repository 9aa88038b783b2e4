//! RMI_RTT_CREATE (spec B4.3.15), RMI_RTT_DESTROY (B4.3.16) and RMI_RTT_READ_ENTRY (B4.3.20) at
//! register level: every failure condition with its sub-cases, the failure orderings, the
//! success conditions, and concurrent create/destroy against lock-free reads.
//!
//! Tests named `<command>_<condition>` cover that failure condition (scripts/conformance);
//! success tests are named `<command>_success_*` so they never count for a failure condition.
//!
//! RMI_RTT_MAP_UNPROTECTED is not implemented yet, so ASSIGNED_NS entries (a "block mapping at
//! lower level" in B4.3.16, an ASSIGNED_NS block to unfold in B4.3.15) are written straight
//! into RTT memory by [`inject`]. ASSIGNED_NS does not make an RTT live, so the RMM's count of
//! live entries stays exact.

mod common;
use common::*;
use rmm::granule::GranuleState;
use rmm::host::{Config, Machine};
use rmm::rtt::{Level, RttEntry, RttFormat};
use rmm::Platform;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

const GIB: u64 = 1 << 30;
const MIB2: u64 = 1 << 21;
/// The first IPA outside a `realm_params` realm (39 bits).
const IPA_END: u64 = 1 << 39;
/// Its first Unprotected IPA (level-1 entry 256).
const NS: u64 = 1 << 38;
/// Where `world()` has its protected level-2 and level-3 RTTs.
const L2_IPA: u64 = GIB;
const L3_IPA: u64 = GIB + MIB2;

// RmiRttEntryState (B4.4.24) and RmiRipas (B4.4.23).
const UNASSIGNED: u64 = 0;
const ASSIGNED: u64 = 1;
const TABLE: u64 = 2;
const EMPTY: u64 = 0;
const RAM: u64 = 1;
const DESTROYED: u64 = 2;

/// Levels (Int64 in a register) that are never valid: negative, and above 3 with valid low bits.
const NEG1: u64 = -1i64 as u64;
const NEG2: u64 = -2i64 as u64;
const MIN: u64 = i64::MIN as u64;
const HI2: u64 = 1 << 32 | 2;
const HI3: u64 = 1 << 32 | 3;

/// A realm (39-bit, start level 1) with a level-2 RTT at [`L2_IPA`] holding a level-3 RTT at
/// [`L3_IPA`], and an unprotected level-2 RTT at [`NS`]; plus a spare DELEGATED granule.
struct World {
    m: Machine,
    g: Granules,
    rd: u64,
    root: u64,
    params: u64,
    l2: u64,
    l3: u64,
    l2_ns: u64,
    spare: u64,
}

fn world() -> World {
    let m = machine();
    let mut g = Granules::new();
    let realm = new_realm(&m, &mut g);
    let l2 = create_rtt(&m, &mut g, realm.rd, L2_IPA, 2);
    let l3 = create_rtt(&m, &mut g, realm.rd, L3_IPA, 3);
    let l2_ns = create_rtt(&m, &mut g, realm.rd, NS, 2);
    let spare = g.delegated(&m);
    let (rd, root, params) = (realm.rd, realm.rtt, realm.params);
    World {
        m,
        g,
        rd,
        root,
        params,
        l2,
        l3,
        l2_ns,
        spare,
    }
}

/// IPAs whose entries at levels 1, 2 and 3 a failed command must leave as they were.
const PROBES: [u64; 7] = [0, L2_IPA, L3_IPA, L3_IPA + MIB2, 2 * GIB, NS, NS + MIB2];

/// What a failed command must not change: entries, granule states, TLB invalidations.
#[derive(Debug, PartialEq)]
struct Snapshot {
    entries: Vec<[u64; 5]>,
    granules: Vec<Option<GranuleState>>,
    tlbi: (u64, u64),
}

impl World {
    fn snapshot(&self) -> Snapshot {
        let granule = |i| self.m.granule_state(BANK1.0 + i * GRANULE);
        let levels = PROBES
            .iter()
            .flat_map(|&ipa| [(ipa & !(GIB - 1), 1), (ipa, 2), (ipa, 3)]);
        Snapshot {
            entries: levels
                .map(|(ipa, l)| read_entry(&self.m, self.rd, ipa, l))
                .collect(),
            granules: (0..BANK1.1 / GRANULE).map(granule).collect(),
            tlbi: self.m.tlb_invalidations(),
        }
    }

    fn create(&self, rtt: u64, ipa: u64, level: u64) -> u64 {
        rmi(&self.m, RMI_RTT_CREATE, &[self.rd, rtt, ipa, level])[0]
    }

    /// RMI_RTT_DESTROY: x0, rtt, top.
    fn destroy(&self, ipa: u64, level: u64) -> [u64; 3] {
        destroy_in(&self.m, self.rd, ipa, level)
    }

    /// A successful RMI_RTT_READ_ENTRY: walk_level, state, desc, ripas.
    fn read(&self, ipa: u64, level: u64) -> [u64; 4] {
        read_ok(&self.m, self.rd, ipa, level)
    }

    /// Any RMI call on CPU 0.
    fn rmi(&self, fid: u64, args: &[u64]) -> [u64; 8] {
        rmi(&self.m, fid, args)
    }

    fn fresh(&mut self) -> u64 {
        self.g.delegated(&self.m)
    }
}

fn destroy_in(m: &Machine, rd: u64, ipa: u64, level: u64) -> [u64; 3] {
    let out = rmi(m, RMI_RTT_DESTROY, &[rd, ipa, level]);
    [out[0], out[1], out[2]]
}

fn read_ok(m: &Machine, rd: u64, ipa: u64, level: u64) -> [u64; 4] {
    let [x0, walk, state, desc, ripas] = read_entry(m, rd, ipa, level);
    assert_eq!(x0, SUCCESS, "RTT_READ_ENTRY {ipa:#x} level {level}");
    [walk, state, desc, ripas]
}

#[derive(Clone, Copy, Debug)]
enum Cmd {
    Create,
    Destroy,
    Read,
}

impl Cmd {
    /// The command on `rd` (RTT_CREATE of the spare granule): x0 and, for RTT_DESTROY, `top`.
    fn call(self, w: &World, rd: u64, ipa: u64, level: u64) -> (u64, u64) {
        match self {
            Cmd::Create => (rmi(&w.m, RMI_RTT_CREATE, &[rd, w.spare, ipa, level])[0], 0),
            Cmd::Destroy => {
                let [x0, _, top] = destroy_in(&w.m, rd, ipa, level);
                (x0, top)
            }
            Cmd::Read => (read_entry(&w.m, rd, ipa, level)[0], 0),
        }
    }

    /// IPA and level for which the command succeeds in `world()`.
    fn good(self) -> (u64, u64) {
        match self {
            Cmd::Create => (2 * GIB, 2),
            Cmd::Destroy | Cmd::Read => (L3_IPA, 3),
        }
    }
}

impl World {
    /// Each `(ipa, level, x0, top)` on `rd` gives exactly that x0 (and `top` for RTT_DESTROY;
    /// 0 for the others) and changes nothing.
    fn check(&self, cmd: Cmd, rd: u64, cases: &[(u64, u64, u64, u64)]) {
        let before = self.snapshot();
        for &(ipa, level, x0, top) in cases {
            let what = format!("{cmd:?} rd {rd:#x} ipa {ipa:#x} level {level:#x}");
            assert_eq!(cmd.call(self, rd, ipa, level), (x0, top), "{what}");
        }
        assert_eq!(self.snapshot(), before, "{cmd:?} failed but changed things");
    }

    /// Each `(ipa, level)` on `rd` fails with RMI_ERROR_INPUT (RTT_DESTROY: `top` 0, as no
    /// walk was performed) and changes nothing.
    fn inputs(&self, cmd: Cmd, rd: u64, cases: &[(u64, u64)]) {
        let cases: Vec<_> = cases.iter().map(|&(i, l)| (i, l, ERROR_INPUT, 0)).collect();
        self.check(cmd, rd, &cases);
    }

    /// The command succeeds with its good arguments: what failed was the case, not the world.
    fn control(&self, cmd: Cmd) {
        let (ipa, level) = cmd.good();
        assert_eq!(cmd.call(self, self.rd, ipa, level).0, SUCCESS, "{cmd:?}");
    }
}

/// RDs that fail `rd_align` (0), `rd_bound` (1) or `rd_state` (2).
fn bad_rds(w: &mut World, condition: usize) -> Vec<u64> {
    let (below, hole, past) = (BANK0.0 - GRANULE, BANK0.0 + BANK0.1, BANK1.0 + BANK1.1);
    match condition {
        0 => vec![w.rd + 1, w.rd + 8, w.rd + 0x800, w.rd + 0xfff],
        1 => vec![0, below, hole, past, 1 << 48, !0xfff],
        _ => {
            // UNDELEGATED, DELEGATED, RTT, a destroyed realm's RD; REC, REC_AUX, DATA.
            let dead = dead_rd(&w.m, &mut w.g);
            let mut rds = vec![w.params, w.spare, w.root, w.l2, w.l3, dead];
            rds.extend(forced(w));
            rds
        }
    }
}

/// Fresh granules forced into REC, REC_AUX and DATA.
fn forced(w: &mut World) -> [u64; 3] {
    [GranuleState::Rec, GranuleState::RecAux, GranuleState::Data].map(|state| {
        let pa = w.fresh();
        force_state(&w.m, pa, state);
        pa
    })
}

/// The RD of a realm (VMID 2) that has been destroyed: DELEGATED again.
fn dead_rd(m: &Machine, g: &mut Granules) -> u64 {
    let (params, rd, rtt) = (g.ns(), g.delegated(m), g.delegated(m));
    let mut p = realm_params(rtt);
    p.vmid = 2;
    write_realm_params(m, params, &p);
    assert_eq!(rmi(m, RMI_REALM_CREATE, &[rd, params])[0], SUCCESS);
    assert_eq!(rmi(m, RMI_REALM_DESTROY, &[rd])[0], SUCCESS);
    rd
}

fn rd_test(cmd: Cmd, condition: usize) {
    let mut w = world();
    for rd in bad_rds(&mut w, condition) {
        w.inputs(cmd, rd, &[cmd.good()]);
    }
    w.control(cmd);
}

/// RMI_RTT_CREATE of each `rtt` for level 2 at 2 GiB fails with RMI_ERROR_INPUT and changes
/// nothing; then the spare granule works.
fn check_create_rtt(w: &World, rtts: &[u64]) {
    let before = w.snapshot();
    for &rtt in rtts {
        assert_eq!(w.create(rtt, 2 * GIB, 2), ERROR_INPUT, "rtt {rtt:#x}");
    }
    assert_eq!(w.snapshot(), before);
    assert_eq!(w.create(w.spare, 2 * GIB, 2), SUCCESS);
}

/// The raw descriptor of entry `index` of the RTT at `table`.
fn raw_entry(m: &Machine, table: u64, index: u64) -> u64 {
    let mut word = [0u8; 8];
    m.debug_read(table + index * 8, &mut word).unwrap();
    u64::from_le_bytes(word)
}

/// Whether all 512 raw entries of the RTT at `table` are `f(i)`.
fn all_raw(m: &Machine, table: u64, f: impl Fn(u64) -> u64) -> bool {
    (0..512).all(|i| raw_entry(m, table, i) == f(i))
}

/// Writes `entry` (ASSIGNED_NS: not live) as entry `index` of the RTT at `table`.
fn inject(m: &Machine, table: u64, index: usize, entry: RttEntry) {
    m.rmm().platform().granule(table)[index].store(entry.raw(), Ordering::SeqCst);
}

/// An RMI_RTT_MAP_UNPROTECTED `desc`: ADDR, MemAttr[2:0] 0b101 (Non-cacheable), S2AP 0b01.
const fn ns_desc(addr: u64) -> u64 {
    addr | 0b101 << 2 | 0b01 << 6
}

/// The ASSIGNED_NS descriptor for `ns_desc(addr)` by the layout in src/rtt/entry.rs: block
/// (0b01) or page (0b11), SH Outer (Non-cacheable), AF, XN 0b10, NS, STATE 3.
const fn ns_raw(addr: u64, page: bool) -> u64 {
    let kind = if page { 0b11 } else { 0b01 };
    ns_desc(addr) | kind | 0b10 << 8 | 1 << 10 | 0b10 << 53 | 1 << 55 | 3 << 56
}

fn assigned_ns(addr: u64, level: i64) -> RttEntry {
    let entry =
        RttEntry::assigned_ns(ns_desc(addr), Level::new(level).unwrap(), RttFormat::Pa48).unwrap();
    assert_eq!(entry.raw(), ns_raw(addr, level == 3), "entry.rs layout");
    entry
}

/// A realm with a 48-bit IPA space starting at level 0 (one level-0 RTT).
fn level0_realm(m: &Machine, g: &mut Granules) -> u64 {
    let (params, rd, rtt) = (g.ns(), g.delegated(m), g.delegated(m));
    let mut p = realm_params(rtt);
    p.s2sz = 48;
    p.rtt_level_start = 0;
    write_realm_params(m, params, &p);
    assert_eq!(rmi(m, RMI_REALM_CREATE, &[rd, params])[0], SUCCESS);
    rd
}

// ---------------------------------------------------------------------------------------------
// RMI_RTT_CREATE failure conditions (B4.3.15.2)

#[test]
fn rtt_create_rd_align() {
    rd_test(Cmd::Create, 0);
}

#[test]
fn rtt_create_rd_bound() {
    rd_test(Cmd::Create, 1);
}

#[test]
fn rtt_create_rd_state() {
    rd_test(Cmd::Create, 2);
}

#[test]
fn rtt_create_level_bound() {
    let w = world();
    let cases = [
        (0, 1), // the starting level
        (L2_IPA, 1),
        (0, 0), // below it
        (0, 4), // above 3
        (0, 5),
        (0, NEG1), // negative
        (0, NEG2),
        (0, MIN),
        // Low 32 bits 2 or 3: these would succeed if the level were truncated.
        (2 * GIB, HI2),
        (L2_IPA + 4 * MIB2, HI3),
    ];
    w.inputs(Cmd::Create, w.rd, &cases);
    w.control(Cmd::Create);
}

#[test]
fn rtt_create_ipa_align() {
    let w = world();
    // Each walk would reach an UNASSIGNED parent entry: only ipa_align holds.
    let cases = [
        (2 * GIB + MIB2, 2), // level 2: 1 GiB alignment
        (2 * GIB + 0x1000, 2),
        (2 * GIB + 1, 2),
        (NS + GIB + MIB2, 2),
        (L2_IPA + 4 * MIB2 + 0x1000, 3), // level 3: 2 MiB alignment
        (L2_IPA + 5 * MIB2 - 0x800, 3),
        (NS + 0x8000, 3),
    ];
    w.inputs(Cmd::Create, w.rd, &cases);
    w.control(Cmd::Create);
}

#[test]
fn rtt_create_ipa_bound() {
    let mut w = world();
    let cases = [
        (IPA_END, 2),
        // With bit 39 dropped these two would succeed.
        (IPA_END + 2 * GIB, 2),
        (IPA_END + L2_IPA + 4 * MIB2, 3),
        (1 << 40, 2),
        (1 << 47, 3),
        (!(GIB - 1), 2),
    ];
    w.inputs(Cmd::Create, w.rd, &cases);
    w.control(Cmd::Create);
    let rtt = w.fresh();
    assert_eq!(w.create(rtt, IPA_END - GIB, 2), SUCCESS, "last GiB");
}

#[test]
fn rtt_create_rtt_align() {
    let w = world();
    let s = w.spare;
    check_create_rtt(&w, &[s + 1, s + 8, s + 0x800, s + 0xfff]);
}

#[test]
fn rtt_create_rtt_bound() {
    let w = world();
    let (hole, past) = (BANK0.0 + BANK0.1, BANK1.0 + BANK1.1);
    let below = BANK0.0 - GRANULE;
    check_create_rtt(&w, &[0, below, hole, past, 1 << 47]);
}

#[test]
fn rtt_create_rtt_state() {
    let mut w = world();
    // UNDELEGATED, RTT (the very parent the command locks; others), RD, REC, REC_AUX, DATA.
    let mut rtts = vec![w.params, w.root, w.l3, w.l2_ns, w.rd];
    rtts.extend(forced(&mut w));
    check_create_rtt(&w, &rtts);
    // The parent of a level-3 RTT as the new RTT.
    assert_eq!(w.create(w.l2, L2_IPA + 4 * MIB2, 3), ERROR_INPUT);
    assert_eq!(w.read(L2_IPA + 4 * MIB2, 2), [2, UNASSIGNED, 0, EMPTY]);
}

#[test]
fn rtt_create_rtt_bound2() {
    // A bank at 2^48 makes the granule delegable: only rtt_bound2 holds.
    let high = 1u64 << 48;
    let dram = vec![BANK0, BANK1, (high, 4 * GRANULE)];
    let m = Machine::new(Config { cpus: 1, dram });
    let mut g = Granules::new();
    let rd = new_realm(&m, &mut g).rd;
    for pa in [high, high + GRANULE] {
        assert_eq!(delegate(&m, pa), SUCCESS);
        let x0 = rmi(&m, RMI_RTT_CREATE, &[rd, pa, 0, 2])[0];
        assert_eq!(x0, ERROR_INPUT);
        assert_eq!(m.granule_state(pa), Some(GranuleState::Delegated));
    }
    assert_eq!(read_ok(&m, rd, 0, 1), [1, UNASSIGNED, 0, EMPTY]);
    // Not delegable at all on the usual machine: still RMI_ERROR_INPUT.
    let w = world();
    check_create_rtt(&w, &[high, high + GRANULE, !0xfff]);
}

#[test]
fn rtt_create_rtt_walk() {
    let w = world();
    // A level-3 RTT where no level-2 one exists: the walk stops at level 1.
    let e1 = error_rtt(1);
    let cases = [
        (2 * GIB + MIB2, 3, e1, 0),
        (0, 3, e1, 0),
        (NS + GIB, 3, e1, 0),
        (IPA_END - MIB2, 3, e1, 0),
    ];
    w.check(Cmd::Create, w.rd, &cases);
    w.control(Cmd::Create);
    // Level-0 start: the walk can stop at level 0 or 1.
    let m = machine();
    let mut g = Granules::new();
    let rd = level0_realm(&m, &mut g);
    let rtt = g.delegated(&m);
    let create = |ipa, level| rmi(&m, RMI_RTT_CREATE, &[rd, rtt, ipa, level])[0];
    assert_eq!(create(0, 3), error_rtt(0));
    assert_eq!(create(0, 2), error_rtt(0));
    create_rtt(&m, &mut g, rd, 0, 1);
    assert_eq!(create(0, 3), error_rtt(1));
    assert_eq!(create(IPA_END, 3), error_rtt(0));
    assert_eq!(m.granule_state(rtt), Some(GranuleState::Delegated));
    create_rtt(&m, &mut g, rd, 0, 2);
    assert_eq!(create(0, 3), SUCCESS);
}

#[test]
fn rtt_create_rtte_state() {
    let w = world();
    let (e1, e2) = (error_rtt(1), error_rtt(2));
    // The RTT exists: level 2 (live), level 2 (unprotected), level 3.
    let cases = [(L2_IPA, 2, e1, 0), (NS, 2, e1, 0), (L3_IPA, 3, e2, 0)];
    w.check(Cmd::Create, w.rd, &cases);
    w.control(Cmd::Create);
}

#[test]
fn rtt_create_ordering() {
    // [rd_bound, rd_state] < [rtt_walk, rtte_state]; [level_bound, ipa_bound] < the same.
    let w = world();
    let walk_or_rtte = [(2 * GIB + MIB2, 3), (L2_IPA, 2), (L3_IPA, 3)];
    for rd in [w.root, w.params, w.spare, BANK0.0 + BANK0.1, 0] {
        w.inputs(Cmd::Create, rd, &walk_or_rtte);
    }
    let cases = [
        (2 * GIB + MIB2, 4), // level_bound and rtt_walk
        (2 * GIB + MIB2, NEG1),
        (L2_IPA, HI2), // level_bound and rtte_state
        (L3_IPA, HI3),
        (IPA_END + 2 * GIB + MIB2, 3), // ipa_bound and rtt_walk
        (IPA_END + L2_IPA, 2),         // ipa_bound and rtte_state
        (IPA_END + L3_IPA, 3),
        (1 << 40 | L3_IPA, 3),
    ];
    w.inputs(Cmd::Create, w.rd, &cases);
    w.control(Cmd::Create);
}

// ---------------------------------------------------------------------------------------------
// RMI_RTT_CREATE success conditions (B4.3.15.3)

/// Every entry of the level-`level` RTT for `base` reads `[level, state, desc(i), ripas]`.
fn assert_children(
    w: &World,
    base: u64,
    level: u64,
    state: u64,
    ripas: u64,
    desc: impl Fn(u64) -> u64,
) {
    let size = 1u64 << (12 + 9 * (3 - level));
    for i in 0..512 {
        let ipa = base + i * size;
        let want = [level, state, desc(i), ripas];
        assert_eq!(w.read(ipa, level), want, "entry {i}, {ipa:#x}");
    }
}

#[test]
fn rtt_create_success_links_table() {
    let mut w = world();
    let tlbi = w.m.tlb_invalidations();
    assert_eq!(w.create(w.spare, 2 * GIB, 2), SUCCESS);
    assert_eq!(w.m.granule_state(w.spare), Some(GranuleState::Rtt)); // rtt_state
    assert_eq!(w.read(2 * GIB, 1), [1, TABLE, w.spare, EMPTY]); // rtte_state, rtte_addr
    assert_children(&w, 2 * GIB, 2, UNASSIGNED, EMPTY, |_| 0); // rtte_c_state, rtte_c_ripas
    assert!(all_raw(&w.m, w.spare, |_| 0), "UNASSIGNED, EMPTY is 0");
    // Under it, a level-3 RTT for its last entry.
    let l3 = w.fresh();
    assert_eq!(w.create(l3, 3 * GIB - MIB2, 3), SUCCESS);
    assert_eq!(w.read(3 * GIB - MIB2, 2), [2, TABLE, l3, EMPTY]);
    assert_children(&w, 3 * GIB - MIB2, 3, UNASSIGNED, EMPTY, |_| 0);
    assert_eq!(w.m.tlb_invalidations(), tlbi, "no valid entry was replaced");
}

#[test]
fn rtt_create_success_children_inherit_ripas() {
    let mut w = world();
    // DESTROYED: where a level-3 RTT was destroyed, a new one is all DESTROYED.
    assert_eq!(w.destroy(L3_IPA, 3)[0], SUCCESS);
    assert_eq!(w.read(L3_IPA, 2), [2, UNASSIGNED, 0, DESTROYED]);
    assert_eq!(w.create(w.l3, L3_IPA, 3), SUCCESS);
    assert_children(&w, L3_IPA, 3, UNASSIGNED, DESTROYED, |_| 0);
    assert!(all_raw(&w.m, w.l3, |_| 2 << 5), "RIPAS in bits 6:5");
    // ... and so is a level-2 one, then its level-3 children.
    assert_eq!(w.destroy(L3_IPA, 3)[0], SUCCESS);
    assert_eq!(w.destroy(L2_IPA, 2)[0], SUCCESS);
    assert_eq!(w.create(w.l2, L2_IPA, 2), SUCCESS);
    assert_children(&w, L2_IPA, 2, UNASSIGNED, DESTROYED, |_| 0);
    assert_eq!(w.create(w.l3, L2_IPA + 7 * MIB2, 3), SUCCESS);
    assert_children(&w, L2_IPA + 7 * MIB2, 3, UNASSIGNED, DESTROYED, |_| 0);
    // RAM: RTT_INIT_RIPAS of a whole level-1 entry, then RTTs under it.
    let out = rmi(&w.m, RMI_RTT_INIT_RIPAS, &[w.rd, 3 * GIB, 4 * GIB]);
    assert_eq!(out[..2], [SUCCESS, 4 * GIB]);
    assert_eq!(w.read(3 * GIB, 1), [1, UNASSIGNED, 0, RAM]);
    let l2 = create_rtt(&w.m, &mut w.g, w.rd, 3 * GIB, 2);
    assert_eq!(w.read(3 * GIB, 1), [1, TABLE, l2, EMPTY]);
    assert_children(&w, 3 * GIB, 2, UNASSIGNED, RAM, |_| 0);
    create_rtt(&w.m, &mut w.g, w.rd, 3 * GIB + MIB2, 3);
    assert_children(&w, 3 * GIB + MIB2, 3, UNASSIGNED, RAM, |_| 0);
    // The neighbour stays EMPTY.
    assert_eq!(w.read(4 * GIB, 1), [1, UNASSIGNED, 0, EMPTY]);
}

#[test]
fn rtt_create_success_unprotected_children() {
    let mut w = world();
    // UNASSIGNED_NS children: RMI_UNASSIGNED with RIPAS EMPTY; STATE 2 in the RTT.
    assert_eq!(w.read(NS, 1), [1, TABLE, w.l2_ns, EMPTY]);
    assert_children(&w, NS, 2, UNASSIGNED, EMPTY, |_| 0);
    assert!(all_raw(&w.m, w.l2_ns, |_| 2 << 56));
    for (ipa, level) in [(NS + 9 * MIB2, 3), (IPA_END - GIB, 2), (IPA_END - MIB2, 3)] {
        let rtt = w.fresh();
        assert_eq!(w.create(rtt, ipa, level), SUCCESS, "{ipa:#x}");
        assert_eq!(w.read(ipa, level - 1), [level - 1, TABLE, rtt, EMPTY]);
        assert_children(&w, ipa, level, UNASSIGNED, EMPTY, |_| 0);
        assert!(all_raw(&w.m, rtt, |_| 2 << 56), "{ipa:#x}");
    }
}

#[test]
fn rtt_create_success_unfolds_assigned_ns_block() {
    let mut w = world();
    // rtte_c_addr: a 2 MiB ASSIGNED_NS block becomes 512 contiguous 4 KiB pages.
    let (ipa, addr) = (NS + 5 * MIB2, 0x1_0020_0000);
    inject(&w.m, w.l2_ns, 5, assigned_ns(addr, 2));
    assert_eq!(w.read(ipa, 2), [2, ASSIGNED, ns_desc(addr), EMPTY]);
    let tlbi = w.m.tlb_invalidations();
    assert_eq!(w.create(w.spare, ipa, 3), SUCCESS);
    // Break-before-make of the block.
    assert_eq!(w.m.tlb_invalidations().0, tlbi.0 + 1);
    assert_eq!(w.read(ipa, 2), [2, TABLE, w.spare, EMPTY]);
    assert_children(&w, ipa, 3, ASSIGNED, EMPTY, |i| ns_desc(addr + i * GRANULE));
    assert!(all_raw(&w.m, w.spare, |i| ns_raw(addr + i * GRANULE, true)));
    // A 1 GiB block at level 1 becomes 512 contiguous 2 MiB blocks.
    let (ipa1, addr) = (NS + 44 * GIB, 0x1_4000_0000);
    inject(&w.m, w.root, 256 + 44, assigned_ns(addr, 1));
    let l2 = w.fresh();
    assert_eq!(w.create(l2, ipa1, 2), SUCCESS);
    assert_children(&w, ipa1, 2, ASSIGNED, EMPTY, |i| ns_desc(addr + i * MIB2));
    assert!(all_raw(&w.m, l2, |i| ns_raw(addr + i * MIB2, false)));
    // RTTs of ASSIGNED_NS entries are not live (A5.5.8): they can be destroyed.
    assert_eq!(w.destroy(ipa, 3), [SUCCESS, w.spare, NS + GIB]);
    assert_eq!(w.destroy(ipa1, 2), [SUCCESS, l2, IPA_END]);
}

// ---------------------------------------------------------------------------------------------
// RMI_RTT_DESTROY failure conditions (B4.3.16.2)

#[test]
fn rtt_destroy_rd_align() {
    rd_test(Cmd::Destroy, 0);
}

#[test]
fn rtt_destroy_rd_bound() {
    rd_test(Cmd::Destroy, 1);
}

#[test]
fn rtt_destroy_rd_state() {
    rd_test(Cmd::Destroy, 2);
}

#[test]
fn rtt_destroy_level_bound() {
    let w = world();
    let cases = [
        (0, 1), // the starting level
        (L2_IPA, 1),
        (NS, 1),
        (0, 0),
        (0, 4),
        (0, NEG1),
        (0, NEG2),
        (0, MIN),
        // Low 32 bits 3 or 2: these would destroy non-live RTTs if truncated.
        (L3_IPA, HI3),
        (NS, HI2),
    ];
    w.inputs(Cmd::Destroy, w.rd, &cases);
    w.control(Cmd::Destroy);
}

#[test]
fn rtt_destroy_ipa_align() {
    let w = world();
    // The parent entry is TABLE to a non-live RTT: only ipa_align holds.
    let cases = [
        (L3_IPA + 0x1000, 3),
        (L3_IPA + 0x10_0000, 3),
        (L3_IPA + 1, 3),
        (NS + MIB2, 2),
        (NS + 0x1000, 2),
    ];
    w.inputs(Cmd::Destroy, w.rd, &cases);
    w.control(Cmd::Destroy);
}

#[test]
fn rtt_destroy_ipa_bound() {
    let w = world();
    let cases = [
        // With bit 39 dropped these two would destroy non-live RTTs.
        (IPA_END + L3_IPA, 3),
        (IPA_END + NS, 2),
        (IPA_END, 2),
        (1 << 40, 3),
        (!(MIB2 - 1), 3),
    ];
    w.inputs(Cmd::Destroy, w.rd, &cases);
    w.control(Cmd::Destroy);
}

#[test]
fn rtt_destroy_rtt_walk() {
    let w = world();
    // The walk towards level 2 stops at level 1; `top` scans that level-1 RTT from the entry of
    // ipa: the next live entry (TABLE at L2_IPA, at NS), else the IPA just past the RTT.
    let e1 = error_rtt(1);
    let cases = [
        (5 * MIB2, 3, e1, L2_IPA),
        (2 * GIB + MIB2, 3, e1, NS),
        (NS - MIB2, 3, e1, NS),
        (NS + GIB + MIB2, 3, e1, IPA_END),
        (IPA_END - MIB2, 3, e1, IPA_END),
    ];
    w.check(Cmd::Destroy, w.rd, &cases);
    w.control(Cmd::Destroy);
    // Level-0 start: the walk stops at level 0, or at level 1 (then that RTT is scanned).
    let m = machine();
    let mut g = Granules::new();
    let rd = level0_realm(&m, &mut g);
    let (e0, l1) = (error_rtt(0), 1 << 39);
    let destroy = |ipa, level| destroy_in(&m, rd, ipa, level);
    assert_eq!(destroy(3 * l1, 3), [e0, 0, 1 << 48]);
    create_rtt(&m, &mut g, rd, 0, 1);
    create_rtt(&m, &mut g, rd, 5 * l1, 1);
    create_rtt(&m, &mut g, rd, 0, 2);
    assert_eq!(destroy(3 * l1, 3), [e0, 0, 5 * l1]);
    assert_eq!(destroy(3 * l1, 2), [e0, 0, 5 * l1]);
    assert_eq!(destroy(2 * GIB, 3), [e1, 0, l1]);
    assert_eq!(destroy(5 * l1 + GIB, 3), [e1, 0, 6 * l1]);
}

#[test]
fn rtt_destroy_rtte_state() {
    let w = world();
    let (e1, e2) = (error_rtt(1), error_rtt(2));
    let cases = [
        // The level-1 entry is not TABLE: scan the level-1 RTT from it.
        (2 * GIB, 2, e1, NS),
        (0, 2, e1, L2_IPA),
        (NS + GIB, 2, e1, IPA_END),
        // The level-2 entry is not TABLE: scan the level-2 RTT from it.
        (L2_IPA, 3, e2, L3_IPA),
        (L2_IPA + 4 * MIB2, 3, e2, L2_IPA + GIB),
        (L2_IPA + GIB - MIB2, 3, e2, L2_IPA + GIB),
        (NS + 3 * MIB2, 3, e2, NS + GIB),
    ];
    w.check(Cmd::Destroy, w.rd, &cases);
    w.control(Cmd::Destroy);
}

#[test]
fn rtt_destroy_rtte_state_block_mapping() {
    // "Block mapping at lower level" (B4.3.16.1.3): top == ipa.
    let w = world();
    let (e1, e2) = (error_rtt(1), error_rtt(2));
    let block = NS + 44 * GIB;
    inject(&w.m, w.l2_ns, 5, assigned_ns(0x1_0020_0000, 2));
    inject(&w.m, w.root, 256 + 44, assigned_ns(0x1_4000_0000, 1));
    let cases = [
        (NS + 5 * MIB2, 3, e2, NS + 5 * MIB2),
        (block, 2, e1, block),
        // ASSIGNED_NS entries are live for the scan (A5.5.8).
        (NS + 3 * MIB2, 3, e2, NS + 5 * MIB2),
        (NS + GIB, 2, e1, block),
        // rtt_walk inside a 1 GiB block: B3.76 aligns down to the walk's level.
        (block + MIB2, 3, e1, block),
    ];
    w.check(Cmd::Destroy, w.rd, &cases);
    w.control(Cmd::Destroy);
}

#[test]
fn rtt_destroy_rtt_live() {
    let mut w = world();
    // A level-3 RTT with an ASSIGNED entry, the level-2 one with TABLE entries.
    let (data, ipa) = (w.fresh(), L3_IPA + 0x5000);
    let out = rmi(&w.m, RMI_DATA_CREATE_UNKNOWN, &[w.rd, data, ipa]);
    assert_eq!(out[0], SUCCESS);
    let last = create_rtt(&w.m, &mut w.g, w.rd, L2_IPA + GIB - MIB2, 3);
    let (e2, e3) = (error_rtt(2), error_rtt(3));
    let cases = [(L2_IPA, 2, e2, L2_IPA), (L3_IPA, 3, e3, L3_IPA)];
    w.check(Cmd::Destroy, w.rd, &cases);
    // Without the DATA it goes; with one TABLE left the level-2 RTT is still live.
    let out = rmi(&w.m, RMI_DATA_DESTROY, &[w.rd, ipa]);
    assert_eq!(out[..2], [SUCCESS, data]);
    let top = L2_IPA + GIB - MIB2;
    assert_eq!(w.destroy(L3_IPA, 3), [SUCCESS, w.l3, top]);
    assert_eq!(w.destroy(L2_IPA, 2), [e2, 0, L2_IPA]);
    assert_eq!(w.destroy(top, 3), [SUCCESS, last, L2_IPA + GIB]);
    assert_eq!(w.destroy(L2_IPA, 2), [SUCCESS, w.l2, NS]);
}

#[test]
fn rtt_destroy_ordering() {
    // [rd_bound, rd_state] < [rtt_walk, rtte_state, rtt_live];
    // [level_bound, ipa_bound] < [rtt_walk, rtte_state].
    let w = world();
    let cases = [
        (2 * GIB + MIB2, 3),    // rtt_walk
        (2 * GIB, 2),           // rtte_state at level 1
        (L2_IPA + 4 * MIB2, 3), // rtte_state at level 2
        (L2_IPA, 2),            // rtt_live
    ];
    for rd in [w.root, w.params, w.spare, BANK0.0 + BANK0.1, 0] {
        w.inputs(Cmd::Destroy, rd, &cases);
    }
    let cases = [
        (2 * GIB + MIB2, 4), // level_bound and rtt_walk
        (2 * GIB + MIB2, NEG1),
        (2 * GIB, HI2),                // level_bound and rtte_state
        (IPA_END + 2 * GIB + MIB2, 3), // ipa_bound and rtt_walk
        (IPA_END + 2 * GIB, 2),        // ipa_bound and rtte_state
        (IPA_END + L2_IPA + 4 * MIB2, 3),
        (IPA_END + L2_IPA, 2), // ipa_bound and (unordered) rtt_live
    ];
    w.inputs(Cmd::Destroy, w.rd, &cases);
    w.control(Cmd::Destroy);
}

// ---------------------------------------------------------------------------------------------
// RMI_RTT_DESTROY success conditions (B4.3.16.3)

#[test]
fn rtt_destroy_success_protected() {
    let mut w = world();
    let a = create_rtt(&w.m, &mut w.g, w.rd, L2_IPA, 3);
    let b = create_rtt(&w.m, &mut w.g, w.rd, L2_IPA + 8 * MIB2, 3);
    let tlbi = w.m.tlb_invalidations().0;
    // top: the next live entry of the parent RTT after ipa's, else the IPA past that RTT.
    assert_eq!(w.destroy(L2_IPA, 3), [SUCCESS, a, L3_IPA]);
    assert_eq!(w.destroy(L3_IPA, 3), [SUCCESS, w.l3, L2_IPA + 8 * MIB2]);
    assert_eq!(w.destroy(L2_IPA + 8 * MIB2, 3), [SUCCESS, b, L2_IPA + GIB]);
    assert_eq!(w.destroy(L2_IPA, 2), [SUCCESS, w.l2, NS]);
    assert_eq!(w.m.tlb_invalidations().0, tlbi + 4);
    // rtte_state UNASSIGNED, ripas DESTROYED (STATE 0, RIPAS 2 in the RTT), rtt_state.
    assert_eq!(w.read(L2_IPA, 1), [1, UNASSIGNED, 0, DESTROYED]);
    assert_eq!(w.read(L3_IPA, 3), [1, UNASSIGNED, 0, DESTROYED]);
    assert_eq!(raw_entry(&w.m, w.root, 1), 2 << 5);
    assert_eq!(w.read(0, 1), [1, UNASSIGNED, 0, EMPTY]);
    for pa in [a, b, w.l3, w.l2] {
        assert_eq!(w.m.granule_state(pa), Some(GranuleState::Delegated));
        assert!(all_raw(&w.m, pa, |_| 0), "{pa:#x} not wiped");
    }
    // Gone: destroying it again finds a DESTROYED entry.
    assert_eq!(w.destroy(L2_IPA, 2), [error_rtt(1), 0, NS]);
    assert_eq!(w.destroy(NS, 2), [SUCCESS, w.l2_ns, IPA_END]);
    assert_eq!(rmi(&w.m, RMI_REALM_DESTROY, &[w.rd])[0], SUCCESS);
}

#[test]
fn rtt_destroy_success_unprotected() {
    // A5.5.9 and B4.3.16.3 say UNASSIGNED, RIPAS DESTROYED without exception; for an
    // Unprotected IPA the RMM leaves UNASSIGNED_NS (as TF-RMM does), which reads RIPAS EMPTY.
    let w = world();
    assert_eq!(w.destroy(NS, 2), [SUCCESS, w.l2_ns, IPA_END]);
    assert_eq!(w.read(NS, 1), [1, UNASSIGNED, 0, EMPTY]);
    assert_eq!(raw_entry(&w.m, w.root, 256), 2 << 56);
    assert_eq!(w.create(w.l2_ns, NS, 2), SUCCESS);
    assert!(all_raw(&w.m, w.l2_ns, |_| 2 << 56));
}

// ---------------------------------------------------------------------------------------------
// RMI_RTT_READ_ENTRY failure conditions (B4.3.20.2)

#[test]
fn rtt_read_entry_rd_align() {
    rd_test(Cmd::Read, 0);
}

#[test]
fn rtt_read_entry_rd_bound() {
    rd_test(Cmd::Read, 1);
}

#[test]
fn rtt_read_entry_rd_state() {
    rd_test(Cmd::Read, 2);
}

#[test]
fn rtt_read_entry_level_bound() {
    let w = world();
    let levels = [0, 4, 5, NEG1, NEG2, MIN, 1 << 32 | 1, HI3];
    w.inputs(Cmd::Read, w.rd, &levels.map(|level| (0, level)));
    w.control(Cmd::Read);
    // Level 0 is valid where the realm starts there.
    let m = machine();
    let rd = level0_realm(&m, &mut Granules::new());
    assert_eq!(read_ok(&m, rd, 0, 0), [0, UNASSIGNED, 0, EMPTY]);
    assert_eq!(read_entry(&m, rd, 0, 4)[0], ERROR_INPUT);
}

#[test]
fn rtt_read_entry_ipa_align() {
    let w = world();
    let cases = [
        (MIB2, 1),
        (L2_IPA + MIB2, 1),
        (0x1000, 2),
        (L3_IPA + 0x1000, 2),
        (0x800, 3),
        (L3_IPA + 1, 3),
    ];
    w.inputs(Cmd::Read, w.rd, &cases);
    w.control(Cmd::Read);
}

#[test]
fn rtt_read_entry_ipa_bound() {
    let w = world();
    let cases = [
        (IPA_END, 1),
        (IPA_END + L2_IPA, 1), // TABLE with bit 39 dropped
        (IPA_END + L3_IPA, 3),
        (1 << 40, 2),
        (!0xfff, 3),
    ];
    w.inputs(Cmd::Read, w.rd, &cases);
    w.control(Cmd::Read);
    assert_eq!(w.read(IPA_END - GRANULE, 3), [1, UNASSIGNED, 0, EMPTY]);
}

// ---------------------------------------------------------------------------------------------
// RMI_RTT_READ_ENTRY success conditions (B4.3.20.3)

#[test]
fn rtt_read_entry_success_unassigned() {
    let mut w = world();
    // EMPTY; walk_level is where the walk stopped when there is no RTT further down.
    assert_eq!(w.read(0, 1), [1, UNASSIGNED, 0, EMPTY]);
    assert_eq!(w.read(0x4000, 3), [1, UNASSIGNED, 0, EMPTY]);
    assert_eq!(w.read(L3_IPA + MIB2, 3), [2, UNASSIGNED, 0, EMPTY]);
    assert_eq!(w.read(L3_IPA + 0x1000, 3), [3, UNASSIGNED, 0, EMPTY]);
    // RAM, at level 2 and then at level 3.
    let (base, top) = (L2_IPA + 4 * MIB2, L2_IPA + 6 * MIB2);
    let out = w.rmi(RMI_RTT_INIT_RIPAS, &[w.rd, base, top]);
    assert_eq!(out[..2], [SUCCESS, top]);
    assert_eq!(w.read(base + MIB2, 2), [2, UNASSIGNED, 0, RAM]);
    assert_eq!(w.read(base + MIB2, 3), [2, UNASSIGNED, 0, RAM]);
    assert_eq!(w.read(top, 2), [2, UNASSIGNED, 0, EMPTY]);
    create_rtt(&w.m, &mut w.g, w.rd, base + MIB2, 3);
    assert_eq!(w.read(base + MIB2 + 0x3000, 3), [3, UNASSIGNED, 0, RAM]);
    // DESTROYED.
    assert_eq!(w.destroy(L3_IPA, 3)[0], SUCCESS);
    assert_eq!(w.read(L3_IPA, 2), [2, UNASSIGNED, 0, DESTROYED]);
    assert_eq!(w.read(L3_IPA + 0x7000, 3), [2, UNASSIGNED, 0, DESTROYED]);
}

#[test]
fn rtt_read_entry_success_assigned() {
    let mut w = world();
    let rd = w.rd;
    let (ram, empty, destroyed) = (L3_IPA, L3_IPA + 0x1000, L2_IPA + 9 * MIB2 + 0x2000);
    let out = rmi(&w.m, RMI_RTT_INIT_RIPAS, &[rd, ram, ram + GRANULE]);
    assert_eq!(out[..2], [SUCCESS, ram + GRANULE]);
    let (src, d1, d2) = (w.g.ns(), w.fresh(), w.fresh());
    assert_eq!(w.rmi(RMI_DATA_CREATE, &[rd, d1, ram, src, 0])[0], SUCCESS);
    let out = w.rmi(RMI_DATA_CREATE_UNKNOWN, &[rd, d2, empty]);
    assert_eq!(out[0], SUCCESS);
    // A DESTROYED entry in a level-3 RTT made where one was destroyed.
    let l3 = create_rtt(&w.m, &mut w.g, rd, L2_IPA + 9 * MIB2, 3);
    assert_eq!(w.destroy(L2_IPA + 9 * MIB2, 3)[..2], [SUCCESS, l3]);
    assert_eq!(w.create(l3, L2_IPA + 9 * MIB2, 3), SUCCESS);
    let d3 = w.fresh();
    let out = w.rmi(RMI_DATA_CREATE_UNKNOWN, &[rd, d3, destroyed]);
    assert_eq!(out[0], SUCCESS);
    // state_prot: desc is the DATA granule's address alone.
    assert_eq!(w.read(ram, 3), [3, ASSIGNED, d1, RAM]);
    assert_eq!(w.read(empty, 3), [3, ASSIGNED, d2, EMPTY]);
    assert_eq!(w.read(destroyed, 3), [3, ASSIGNED, d3, DESTROYED]);
}

#[test]
fn rtt_read_entry_success_table_and_unassigned_ns() {
    let w = world();
    // TABLE: desc is exactly the next RTT's PA, protected or not.
    assert_eq!(w.read(L2_IPA, 1), [1, TABLE, w.l2, EMPTY]);
    assert_eq!(w.read(L3_IPA, 2), [2, TABLE, w.l3, EMPTY]);
    assert_eq!(w.read(NS, 1), [1, TABLE, w.l2_ns, EMPTY]);
    // UNASSIGNED_NS: RMI_UNASSIGNED, RIPAS EMPTY, wherever the walk stops.
    assert_eq!(w.read(NS + GIB, 1), [1, UNASSIGNED, 0, EMPTY]);
    assert_eq!(w.read(NS + GIB, 3), [1, UNASSIGNED, 0, EMPTY]);
    assert_eq!(w.read(NS + MIB2, 2), [2, UNASSIGNED, 0, EMPTY]);
    assert_eq!(w.read(NS + MIB2 + 0x1000, 3), [2, UNASSIGNED, 0, EMPTY]);
}

#[test]
fn rtt_read_entry_success_assigned_ns() {
    // state_unprot: ADDR, MemAttr and S2AP of the entry; not its SH, AF, XN, NS or type bits.
    let w = world();
    let (ipa, addr) = (NS + 5 * MIB2, 0x1_0020_0000);
    inject(&w.m, w.l2_ns, 5, assigned_ns(addr, 2));
    assert_eq!(w.read(ipa, 2), [2, ASSIGNED, ns_desc(addr), EMPTY]);
    assert_eq!(w.read(ipa, 3), [2, ASSIGNED, ns_desc(addr), EMPTY]);
    // Cacheable (Inner Shareable), read/write.
    let desc = 0x8800_0000 | 0b111 << 2 | 0b11 << 6;
    let entry = RttEntry::assigned_ns(desc, Level::new(2).unwrap(), RttFormat::Pa48).unwrap();
    let fixed = 1 | 0b11 << 8 | 1 << 10 | 0b10 << 53 | 1 << 55 | 3 << 56;
    assert_eq!(entry.raw(), desc | fixed);
    inject(&w.m, w.l2_ns, 6, entry);
    assert_eq!(w.read(NS + 6 * MIB2, 2), [2, ASSIGNED, desc, EMPTY]);
}

#[test]
fn rtt_concatenated_starting_tables() {
    // 40-bit IPA from level 1: two concatenated level-1 RTTs; the second maps [2^39, 2^40),
    // all Unprotected.
    let m = machine();
    let mut g = Granules::new();
    let (params, rd) = (g.ns(), g.delegated(&m));
    let (root0, root1) = (g.delegated(&m), g.delegated(&m));
    assert_eq!(root0 % (2 * GRANULE), 0);
    let mut p = realm_params(root0);
    p.s2sz = 40;
    p.rtt_num_start = 2;
    write_realm_params(&m, params, &p);
    assert_eq!(rmi(&m, RMI_REALM_CREATE, &[rd, params])[0], SUCCESS);
    let read = |ipa: u64, level: u64| read_ok(&m, rd, ipa, level);
    let hi = IPA_END + 5 * GIB;
    assert_eq!(read(hi, 1), [1, UNASSIGNED, 0, EMPTY]);
    assert_eq!(read(2 * IPA_END - GRANULE, 3), [1, UNASSIGNED, 0, EMPTY]);
    assert_eq!(read_entry(&m, rd, 2 * IPA_END, 1)[0], ERROR_INPUT);
    let l2 = create_rtt(&m, &mut g, rd, hi, 2);
    assert_eq!(read(hi, 1), [1, TABLE, l2, EMPTY]);
    // In the second RTT (TABLE: 0b11, STATE 4).
    let raw = [raw_entry(&m, root0, 5), raw_entry(&m, root1, 5)];
    assert_eq!(raw, [0, l2 | 3 | 4 << 56]);
    let l3 = create_rtt(&m, &mut g, rd, hi + MIB2, 3);
    assert_eq!(read(hi + MIB2, 3), [3, UNASSIGNED, 0, EMPTY]);
    let low = create_rtt(&m, &mut g, rd, 5 * GIB, 2);
    assert_eq!(read(5 * GIB, 1), [1, TABLE, low, EMPTY]);
    let rtt = g.delegated(&m);
    let out = rmi(&m, RMI_RTT_CREATE, &[rd, rtt, 2 * IPA_END, 2]);
    assert_eq!(out[0], ERROR_INPUT);
    // `top` stays within the 512-entry RTT the walk reached (C1.28 RmmRtt).
    let destroy = |ipa, level| destroy_in(&m, rd, ipa, level);
    let e2 = error_rtt(2);
    assert_eq!(destroy(hi, 2), [e2, 0, hi]);
    assert_eq!(destroy(hi + 3 * MIB2, 3), [e2, 0, hi + GIB]);
    assert_eq!(destroy(hi + MIB2, 3), [SUCCESS, l3, hi + GIB]);
    assert_eq!(destroy(5 * GIB, 2), [SUCCESS, low, IPA_END]);
    assert_eq!(destroy(hi, 2), [SUCCESS, l2, 2 * IPA_END]);
    assert_eq!(read(hi, 1), [1, UNASSIGNED, 0, EMPTY]);
    assert_eq!(read(5 * GIB, 1), [1, UNASSIGNED, 0, DESTROYED]);
    assert_eq!(rmi(&m, RMI_REALM_DESTROY, &[rd])[0], SUCCESS);
}

// ---------------------------------------------------------------------------------------------
// Concurrency

/// Whether `[walk, state, desc, ripas]`, read at `level` for an IPA whose level-2 and level-3
/// RTTs `tables` another CPU keeps creating and destroying, is a state that sequence passes
/// through. `destroyed`: the level-3 RTT was destroyed at least once (no EMPTY any more).
fn legal(out: [u64; 4], level: u64, tables: (u64, u64), protected: bool, destroyed: bool) -> bool {
    let [walk, state, desc, ripas] = out;
    let ripas_ok = match (protected, destroyed) {
        (false, _) => ripas == EMPTY,
        (true, true) => ripas == DESTROYED,
        (true, false) => ripas == EMPTY || ripas == DESTROYED,
    };
    let table = [0, tables.0, tables.1, 0][walk.min(3) as usize];
    (1..=level).contains(&walk)
        && match state {
            TABLE => walk == level && desc == table && ripas == EMPTY,
            UNASSIGNED => desc == 0 && ripas_ok,
            _ => false,
        }
}

/// RMI call `fid` with arguments x1.. on CPU `cpu`.
fn on(m: &Machine, cpu: usize, fid: u64, args: &[u64]) -> [u64; 8] {
    let mut regs = [fid, 0, 0, 0, 0, 0, 0, 0];
    regs[1..=args.len()].copy_from_slice(args);
    m.smc(cpu, regs)
}

/// Counts a writer out when dropped, also when it panics (the reader stops then).
struct Running<'a>(&'a AtomicUsize);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

#[test]
fn rtt_concurrent_create_destroy_and_read() {
    const ROUNDS: usize = 2000;
    let m = Machine::new(Config {
        cpus: 5,
        dram: vec![BANK0, (BANK1.0, 256 * GRANULE)],
    });
    let mut g = Granules::new();
    let realm = new_realm(&m, &mut g);
    let rd = realm.rd;
    // One 1 GiB region per writer: three protected, one unprotected.
    let bases = [0, GIB, 2 * GIB, NS];
    let mut pair = || (g.delegated(&m), g.delegated(&m));
    let tables: Vec<(u64, u64)> = bases.iter().map(|_| pair()).collect();
    let destroyed: Vec<AtomicBool> = bases.iter().map(|_| AtomicBool::new(false)).collect();
    let running = AtomicUsize::new(bases.len());
    let (m, tables, destroyed, running) = (&m, &tables, &destroyed, &running);
    std::thread::scope(|s| {
        for (cpu, &base) in bases.iter().enumerate() {
            s.spawn(move || {
                let _running = Running(running);
                let ((l2, l3), leaf) = (tables[cpu], base + 3 * MIB2);
                // Other writers' RTTs after ours may or may not be there.
                let later: Vec<u64> = bases[cpu + 1..].iter().copied().chain([IPA_END]).collect();
                let call = |fid, args: &[u64]| on(m, cpu, fid, args);
                for _ in 0..ROUNDS {
                    assert_eq!(call(RMI_RTT_CREATE, &[rd, l2, base, 2])[0], SUCCESS);
                    assert_eq!(call(RMI_RTT_CREATE, &[rd, l3, leaf, 3])[0], SUCCESS);
                    let out = call(RMI_RTT_DESTROY, &[rd, leaf, 3]);
                    assert_eq!(out[..3], [SUCCESS, l3, base + GIB]);
                    destroyed[cpu].store(true, Ordering::Release);
                    let out = call(RMI_RTT_DESTROY, &[rd, base, 2]);
                    assert_eq!(out[..2], [SUCCESS, l2]);
                    assert!(later.contains(&out[2]), "top {:#x}", out[2]);
                }
            });
        }
        s.spawn(move || {
            while running.load(Ordering::Acquire) > 0 {
                for (k, &base) in bases.iter().enumerate() {
                    let was_destroyed = destroyed[k].load(Ordering::Acquire);
                    let leaf = base + 3 * MIB2;
                    for (ipa, level) in [(base, 1), (leaf, 2), (leaf + 0x5000, 3)] {
                        let out = on(m, 4, RMI_RTT_READ_ENTRY, &[rd, ipa, level]);
                        assert_eq!(out[0], SUCCESS);
                        let out = [out[1], out[2], out[3], out[4]];
                        let ok = legal(out, level, tables[k], base < NS, was_destroyed);
                        assert!(ok, "read {ipa:#x} level {level}: {out:x?}");
                    }
                }
            }
        });
    });
    // Everything is gone: the realm can be destroyed and every granule comes back as zeros.
    for &base in &bases {
        let ripas = if base < NS { DESTROYED } else { EMPTY };
        let want = [1, UNASSIGNED, 0, ripas];
        assert_eq!(read_ok(m, rd, base, 3), want, "{base:#x}");
    }
    assert_eq!(rmi(m, RMI_REALM_DESTROY, &[rd])[0], SUCCESS);
    let granules = tables.iter().flat_map(|&(a, b)| [a, b]);
    for pa in granules.chain([realm.rd, realm.rtt]) {
        assert_eq!(m.granule_state(pa), Some(GranuleState::Delegated));
        assert_eq!(undelegate(m, pa), SUCCESS);
        let mut page = [0xffu8; GRANULE as usize];
        m.ns_read(pa, &mut page).unwrap();
        assert!(page.iter().all(|&b| b == 0), "{pa:#x} not wiped");
    }
}
