//! RMI_REALM_CREATE (spec B4.3.9), RMI_REALM_ACTIVATE (B4.3.8) and RMI_REALM_DESTROY (B4.3.10)
//! at register level: one test per failure condition (each sub-case with only that condition
//! true, and nothing changed after), the specified orderings, the success conditions (the RIM
//! computed here, independently, per B4.3.9.4) and concurrent use from several CPUs.

mod common;
use common::*;
use rmm::granule::GranuleState::{self, *};
use rmm::host::{Machine, Pas};
use rmm::measurement::HashAlgorithm::{self, Sha256, Sha512};
use rmm::rmi::params::{RealmFlags, RealmParams};
use rmm::rtt::{Ripas, RttConfig, RttEntry, RttEntryState, RttFormat};
use sha2::Digest;
use std::sync::Barrier;

/// The VMID of the realms the failure tests try to create.
const VMID: u16 = 7;
const BANK0_END: u64 = BANK0.0 + BANK0.1;
/// Granule-aligned addresses that are not delegable: below DRAM, the hole between the banks,
/// just past the last bank, the top of the address space.
const NOT_DELEGABLE: [u64; 4] = [0, BANK0_END, BANK1.0 + BANK1.1, !(GRANULE - 1)];
const ACTIVATE: u64 = RMI_REALM_ACTIVATE;
const DESTROY: u64 = RMI_REALM_DESTROY;
/// Unaligned offsets into a granule.
const UNALIGNED: [u64; 3] = [8, 0x800, GRANULE - 1];

/// An RTT geometry: (s2sz, rtt_level_start, rtt_num_start).
type Shape = (u8, i64, u32);

/// Granules of BANK0 handed out in order, in blocks aligned to their size.
struct Pool {
    next: u64,
    probe: Option<(u64, u64, u64)>,
}

impl Pool {
    /// `n` (a power of two) consecutive UNDELEGATED granules, aligned to `n` granules.
    fn block(&mut self, n: u64) -> u64 {
        let pa = self.next.next_multiple_of(n * GRANULE);
        self.next = pa + n * GRANULE;
        assert!(self.next <= BANK0_END, "test ran out of granules");
        pa
    }

    fn ns(&mut self) -> u64 {
        self.block(1)
    }

    /// [`Pool::block`], delegated.
    fn delegated(&mut self, m: &Machine, n: u64) -> u64 {
        let pa = self.block(n);
        for i in 0..n {
            assert_eq!(delegate(m, pa + i * GRANULE), SUCCESS);
        }
        pa
    }

    /// A delegated granule forced into `state`, as a later command would leave it.
    fn in_state(&mut self, m: &Machine, state: GranuleState) -> u64 {
        let pa = self.delegated(m, 1);
        if state != Delegated {
            force_state(m, pa, state);
        }
        pa
    }

    /// RD, RTT and params granules kept for probing whether a VMID is free.
    fn probe(&mut self, m: &Machine) -> (u64, u64, u64) {
        if self.probe.is_none() {
            self.probe = Some((self.delegated(m, 1), self.delegated(m, 1), self.ns()));
        }
        self.probe.unwrap()
    }
}

fn setup() -> (Machine, Pool) {
    let pool = Pool {
        next: BANK0.0,
        probe: None,
    };
    (machine(), pool)
}

fn state(m: &Machine, pa: u64) -> Option<GranuleState> {
    m.granule_state(pa)
}

/// Calls `fid` with `args` on CPU 0; checks x0 and that x1..x3 (no outputs) are zero.
#[track_caller]
fn call(m: &Machine, fid: u64, args: &[u64], x0: u64) {
    assert_eq!(rmi(m, fid, args)[..4], [x0, 0, 0, 0], "{fid:#x} {args:x?}");
}

#[track_caller]
fn activate(m: &Machine, rd: u64, x0: u64) {
    call(m, ACTIVATE, &[rd], x0);
}

#[track_caller]
fn destroy(m: &Machine, rd: u64, x0: u64) {
    call(m, DESTROY, &[rd], x0);
}

/// REALM_CREATE of a realm with `vmid` on the probe granules: x0.
fn probe_vmid(m: &Machine, pool: &mut Pool, vmid: u16) -> u64 {
    let (rd, rtt, ptr) = pool.probe(m);
    let mut p = realm_params(rtt);
    p.vmid = vmid;
    write_realm_params(m, ptr, &p);
    rmi(m, RMI_REALM_CREATE, &[rd, ptr])[0]
}

/// Creating a realm with `vmid` succeeds (then destroys it): the VMID is free.
#[track_caller]
fn assert_vmid_free(m: &Machine, pool: &mut Pool, vmid: u16) {
    assert_eq!(probe_vmid(m, pool, vmid), SUCCESS, "VMID {vmid} in use");
    destroy(m, pool.probe(m).0, SUCCESS);
}

/// Creating a realm with `vmid` fails and changes nothing: the VMID is in use.
#[track_caller]
fn assert_vmid_used(m: &Machine, pool: &mut Pool, vmid: u16) {
    assert_eq!(probe_vmid(m, pool, vmid), ERROR_INPUT, "VMID {vmid} free");
    let (rd, rtt, _) = pool.probe(m);
    assert_eq!([rd, rtt].map(|pa| state(m, pa)), [Some(Delegated); 2]);
}

/// The granule's contents, whatever its PAS.
fn contents(m: &Machine, pa: u64) -> Vec<u8> {
    let mut page = vec![0u8; GRANULE as usize];
    m.debug_read(pa, &mut page).unwrap();
    page
}

fn zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

type Snapshot = Vec<(u64, Option<GranuleState>, Option<Pas>)>;

fn snapshot(m: &Machine, pas: &[u64]) -> Snapshot {
    pas.iter()
        .map(|&pa| (pa, state(m, pa), m.pas(pa)))
        .collect()
}

/// `fid(rd)` returns `x0` for every `rd` in `rds`, changing no granule state or PAS.
#[track_caller]
fn rejects(m: &Machine, fid: u64, rds: impl IntoIterator<Item = u64>, x0: u64) {
    for rd in rds {
        let before = snapshot(m, &[rd & !(GRANULE - 1)]);
        call(m, fid, &[rd], x0);
        assert_eq!(snapshot(m, &[rd & !(GRANULE - 1)]), before);
    }
}

type Set<T> = fn(&mut Case, T);

/// Arguments of one RMI_REALM_CREATE, and the granules it must leave alone if it fails.
#[derive(Clone)]
struct Case {
    rd: u64,
    ptr: u64,
    p: RealmParams,
    /// Write `p` at the (granule-aligned) `ptr` before the call, if it is Non-secure.
    write: bool,
    watch: Vec<u64>,
}

impl Case {
    /// Valid arguments: delegated starting RTTs for `shape`, a delegated RD, a params page.
    fn new(m: &Machine, pool: &mut Pool, shape: Shape) -> Case {
        let p = realm_params(pool.delegated(m, shape.2.into()));
        let (rd, ptr) = (pool.delegated(m, 1), pool.ns());
        let watch = vec![rd, ptr];
        let mut c = Case {
            rd,
            ptr,
            p,
            write: true,
            watch,
        };
        c.p.vmid = VMID;
        c.shape(shape);
        c.watch.extend(c.realm_granules().into_iter().skip(1));
        c
    }

    /// [`Case::new`] with `num` level-1 starting RTTs (IPA width 39 + log2 `num`).
    fn level1(m: &Machine, pool: &mut Pool, num: u32) -> Case {
        Case::new(m, pool, (39 + num.trailing_zeros() as u8, 1, num))
    }

    fn shape(&mut self, (s2sz, level, num): Shape) {
        (self.p.s2sz, self.p.rtt_level_start, self.p.rtt_num_start) = (s2sz, level, num);
    }

    /// The RD and the starting-level RTTs.
    fn realm_granules(&self) -> Vec<u64> {
        let rtts = (0..u64::from(self.p.rtt_num_start)).map(|i| self.p.rtt_base + i * GRANULE);
        std::iter::once(self.rd).chain(rtts).collect()
    }

    fn create(&self, m: &Machine) -> u64 {
        let page = self.ptr & !(GRANULE - 1);
        if self.write && m.pas(page) == Some(Pas::NonSecure) {
            write_realm_params(m, page, &self.p);
        }
        rmi(m, RMI_REALM_CREATE, &[self.rd, self.ptr])[0]
    }

    /// REALM_CREATE fails with RMI_ERROR_INPUT and changes no watched granule: state, PAS,
    /// contents of the DELEGATED ones (zero).
    #[track_caller]
    fn fails(&self, m: &Machine) {
        let before = snapshot(m, &self.watch);
        let what = format!("rd {:#x} params {:#x} {:?}", self.rd, self.ptr, self.p);
        assert_eq!(self.create(m), ERROR_INPUT, "{what}");
        assert_eq!(snapshot(m, &self.watch), before, "{what}");
        for &pa in &self.watch {
            if state(m, pa) == Some(Delegated) {
                assert!(zero(&contents(m, pa)), "{pa:#x} written");
            }
        }
    }

    /// [`Case::fails`] after `set(self, v)`, for each `v` in `values`.
    #[track_caller]
    fn fails_each<T>(&mut self, m: &Machine, values: impl IntoIterator<Item = T>, set: Set<T>) {
        for v in values {
            set(self, v);
            self.fails(m);
        }
    }
}

/// A realm created from a fresh [`Case::level1`] with `num` starting RTTs and VMID `vmid`.
fn live_realm(m: &Machine, pool: &mut Pool, num: u32, vmid: u16) -> Case {
    let mut c = Case::level1(m, pool, num);
    c.p.vmid = vmid;
    assert_eq!(c.create(m), SUCCESS);
    c
}

/// RMI_RTT_CREATE of a fresh delegated granule as the level-`level` RTT for `ipa`.
fn create_rtt_at(m: &Machine, pool: &mut Pool, rd: u64, ipa: u64, level: u64) -> u64 {
    let rtt = pool.delegated(m, 1);
    call(m, RMI_RTT_CREATE, &[rd, rtt, ipa, level], SUCCESS);
    rtt
}

fn rtt_destroy(m: &Machine, rd: u64, ipa: u64, level: u64) {
    assert_eq!(rmi(m, RMI_RTT_DESTROY, &[rd, ipa, level])[0], SUCCESS);
}

/// B4.3.9.4, computed here: a zero-filled RmiRealmParams holding flags, s2sz, sve_vl, num_bps,
/// num_wps, pmu_num_ctrs and hash_algo at their B4.4.12 offsets, hashed with the realm's
/// algorithm and zero-padded to 64 bytes.
fn expected_rim(p: &RealmParams) -> [u8; 64] {
    let mut page = [0u8; 4096];
    page[..8].copy_from_slice(&p.flags.bits().to_le_bytes());
    page[0x8] = p.s2sz;
    page[0x10] = p.sve_vl;
    page[0x18] = p.num_bps;
    page[0x20] = p.num_wps;
    page[0x28] = p.pmu_num_ctrs;
    let mut rim = [0u8; 64];
    match p.hash_algo {
        Sha256 => rim[..32].copy_from_slice(&sha2::Sha256::digest(page)),
        Sha512 => {
            page[0x30] = 1;
            rim.copy_from_slice(&sha2::Sha512::digest(page));
        }
    }
    rim
}

/// Checks the RD and starting-level RTTs of the realm just created at `rd` from `p`.
fn check_new_realm(m: &Machine, rd: u64, p: &RealmParams) {
    assert_eq!(state(m, rd), Some(Rd));
    let level = p.rtt_level_start as u64;
    let shift = 12 + 9 * (3 - level as u32);
    let (top, protected) = (1u64 << p.s2sz, 1u64 << (p.s2sz - 1));
    // UNASSIGNED and UNASSIGNED_NS both read as RMI_UNASSIGNED, RIPAS RMI_EMPTY.
    let unassigned = [SUCCESS, level, 0, 0, 0];
    for t in 0..u64::from(p.rtt_num_start) {
        let rtt = p.rtt_base + t * GRANULE;
        assert_eq!(state(m, rtt), Some(Rtt), "rtt_state");
        let table = contents(m, rtt);
        // The entries inside the IPA space (a level-1 table covers more than 32 bits).
        for i in (0..512u64).take_while(|i| (t * 512 + i) << shift < top) {
            let ipa = (t * 512 + i) << shift;
            let word = u64::from_le_bytes(table[i as usize * 8..][..8].try_into().unwrap());
            let entry = RttEntry::from_raw(word, RttFormat::from_lpa2(p.flags.lpa2())).unwrap();
            if ipa < protected {
                assert_eq!(entry.state(), RttEntryState::Unassigned, "{ipa:#x}");
                assert_eq!(entry.ripas(), Some(Ripas::Empty), "{ipa:#x}");
            } else {
                assert_eq!(entry.state(), RttEntryState::UnassignedNs, "{ipa:#x}");
            }
            if i % 128 == 0 || i == 511 || i == 255 || ipa + (1 << shift) == top {
                assert_eq!(read_entry(m, rd, ipa, level), unassigned, "{ipa:#x}");
                assert_eq!(read_entry(m, rd, ipa, 3), unassigned, "{ipa:#x}");
            }
        }
    }
    // ipa_width and rtt_level_start.
    assert_eq!(read_entry(m, rd, top - GRANULE, 3), unassigned);
    assert_eq!(read_entry(m, rd, top, level)[0], ERROR_INPUT, "ipa_width");
    if level > 0 {
        assert_eq!(read_entry(m, rd, 0, level - 1)[0], ERROR_INPUT, "rtt_level");
    }
    // rpv, rim, rem: RD words 8..16, then measurements of 64 bytes, the RIM first.
    let rd_page = contents(m, rd);
    assert_eq!(rd_page[64..128], p.rpv, "rpv");
    assert_eq!(rd_page[128..192], expected_rim(p), "rim");
    assert!(zero(&rd_page[192..448]), "rem");
}

#[test]
fn realm_create_params_align() {
    let (m, mut pool) = setup();
    let mut c = Case::level1(&m, &mut pool, 1);
    let page = c.ptr;
    c.fails_each(&m, UNALIGNED.map(|o| page + o), |c, ptr| c.ptr = ptr);
    c.ptr = page;
    assert_eq!(c.create(&m), SUCCESS, "the same page, aligned");
}

#[test]
fn realm_create_params_bound() {
    let (m, mut pool) = setup();
    let mut c = Case::level1(&m, &mut pool, 1);
    c.fails_each(&m, NOT_DELEGABLE, |c, ptr| c.ptr = ptr);
    assert_vmid_free(&m, &mut pool, VMID);
}

#[test]
fn realm_create_params_pas() {
    let (m, mut pool) = setup();
    let mut c = Case::level1(&m, &mut pool, 1);
    // Valid parameters in a granule then delegated (Realm PAS), and a live RD.
    let delegated = pool.ns();
    write_realm_params(&m, delegated, &c.p);
    assert_eq!(delegate(&m, delegated), SUCCESS);
    let other = live_realm(&m, &mut pool, 1, 9);
    c.watch.extend([delegated, other.rd]);
    c.fails_each(&m, [delegated, other.rd], |c, ptr| c.ptr = ptr);
    // Valid parameters in a granule EL3 then moved to the Secure or Root PAS.
    for pas in [Pas::Secure, Pas::Root] {
        c.ptr = pool.ns();
        write_realm_params(&m, c.ptr, &c.p);
        m.assign_pas(c.ptr, pas).unwrap();
        c.watch.push(c.ptr);
        c.fails(&m);
        assert_eq!(m.pas(c.ptr), Some(pas));
        m.assign_pas(c.ptr, Pas::NonSecure).unwrap();
        assert_eq!(c.create(&m), SUCCESS, "the same page, Non-secure again");
        destroy(&m, c.rd, SUCCESS);
    }
}

#[test]
fn realm_create_params_valid() {
    let (m, mut pool) = setup();
    let mut c = Case::level1(&m, &mut pool, 1);
    c.write = false;
    let mut good = [0u8; 4096];
    c.p.write_to(&mut good);
    // num_bps 0 and num_wps 0 are reserved; hash_algo has encodings 0 and 1 only (B4.4.7).
    for (offset, value) in [(0x18, 0), (0x20, 0), (0x30, 2), (0x30, 0x80), (0x30, 0xff)] {
        let mut page = good;
        page[offset] = value;
        m.ns_write(c.ptr, &page).unwrap();
        c.fails(&m);
    }
    m.ns_write(c.ptr, &[0u8; 4096]).unwrap();
    c.fails(&m);
    m.ns_write(c.ptr, &good).unwrap();
    assert_eq!(c.create(&m), SUCCESS);
}

#[test]
fn realm_create_params_supp() {
    let (m, mut pool) = setup();
    // The host platform: 48-bit S2SZ, 6 breakpoints, 4 watchpoints, no LPA2, SVE or PMU.
    let feat = rmi(&m, RMI_FEATURES, &[0])[1];
    assert_eq!(feat & 0xff, 48);
    let (bps, wps) = (((feat >> 14) & 0x3f) as u8, ((feat >> 20) & 0x3f) as u8);
    assert_eq!((bps, wps), (5, 3));
    assert_eq!(feat & ((1 << 8) | (1 << 9) | (1 << 26)), 0);
    let mut c = Case::level1(&m, &mut pool, 1);
    let (lpa2, sve, pmu) = (RealmFlags::LPA2, RealmFlags::SVE, RealmFlags::PMU);
    // (flags, num_bps, num_wps, s2sz, rtt_level_start): one unsupported value each. Beyond
    // S2SZ, RttConfigIsValid fails as well: no starting level translates a wider space.
    let unsupported = [
        (0, bps + 1, 1, 39, 1),
        (0, 0xff, 1, 39, 1),
        (0, 1, wps + 1, 39, 1),
        (0, 1, 0xff, 39, 1),
        (lpa2, 1, 1, 39, 1),
        (sve, 1, 1, 39, 1),
        (pmu, 1, 1, 39, 1),
        (0, 1, 1, 49, 0),
        (lpa2, 1, 1, 52, 0),
        (0, 1, 1, 0xff, 0),
    ];
    c.fails_each(&m, unsupported, |c, (flags, bps, wps, s2sz, level)| {
        (c.p.flags, c.p.num_bps, c.p.num_wps) = (RealmFlags::from_bits(flags), bps, wps);
        c.shape((s2sz, level, 1));
    });
    (c.p.flags, c.p.num_bps, c.p.num_wps) = (RealmFlags::from_bits(0), bps, wps);
    c.shape((39, 1, 1));
    assert_eq!(c.create(&m), SUCCESS, "at the limits");
}

#[test]
fn realm_create_alias() {
    let (m, mut pool) = setup();
    let mut one = Case::level1(&m, &mut pool, 1);
    one.rd = one.p.rtt_base;
    one.fails(&m);
    // Two starting RTTs in a block of four delegated granules.
    let mut two = Case::level1(&m, &mut pool, 2);
    let base = pool.delegated(&m, 4);
    two.p.rtt_base = base;
    two.watch.extend((0..4).map(|i| base + i * GRANULE));
    two.fails_each(&m, [base, base + GRANULE], |c, rd| c.rd = rd);
    assert_vmid_free(&m, &mut pool, VMID);
    two.rd = base + 2 * GRANULE;
    assert_eq!(two.create(&m), SUCCESS, "an RD just past the range");
    check_new_realm(&m, two.rd, &two.p);
}

#[test]
fn realm_create_rd_align() {
    let (m, mut pool) = setup();
    let mut c = Case::level1(&m, &mut pool, 1);
    let rd = c.rd;
    c.fails_each(&m, UNALIGNED.map(|o| rd + o), |c, rd| c.rd = rd);
    c.rd = rd;
    assert_eq!(c.create(&m), SUCCESS);
}

#[test]
fn realm_create_rd_bound() {
    let (m, mut pool) = setup();
    let mut c = Case::level1(&m, &mut pool, 1);
    c.fails_each(&m, NOT_DELEGABLE, |c, rd| c.rd = rd);
    assert_vmid_free(&m, &mut pool, VMID);
}

#[test]
fn realm_create_rd_state() {
    let (m, mut pool) = setup();
    let mut c = Case::level1(&m, &mut pool, 1);
    let other = live_realm(&m, &mut pool, 1, 9);
    let mut rds = vec![pool.ns(), c.ptr, other.rd, other.p.rtt_base];
    rds.extend(OWNED_STATES.map(|s| pool.in_state(&m, s)));
    c.watch.extend(&rds);
    c.fails_each(&m, rds, |c, rd| c.rd = rd);
    assert_vmid_free(&m, &mut pool, VMID);
}

#[test]
fn realm_create_rtt_align() {
    let (m, mut pool) = setup();
    let mut c = Case::level1(&m, &mut pool, 1);
    let rtt = c.p.rtt_base;
    c.fails_each(&m, UNALIGNED.map(|o| rtt + o), |c, base| {
        c.p.rtt_base = base
    });
    // Two starting RTTs at delegated granules aligned to one granule but not two.
    let block = pool.block(4);
    for pa in [block + GRANULE, block + 2 * GRANULE] {
        assert_eq!(delegate(&m, pa), SUCCESS);
        c.watch.push(pa);
    }
    c.shape((40, 1, 2));
    c.p.rtt_base = block + GRANULE;
    c.fails(&m);
    assert_vmid_free(&m, &mut pool, VMID);
}

#[test]
fn realm_create_rtt_num_level() {
    let (m, mut pool) = setup();
    // For 1, 2 and 16 aligned delegated RTTs: wrong or inconsistent (s2sz, level), a valid one.
    let one: &[(u8, i64)] = &[(39, 0), (39, 2), (39, 3), (48, 1), (0, 1), (0, 3), (32, 4)];
    let two: &[(u8, i64)] = &[(39, 1), (41, 1), (40, 0), (40, 2), (40, -1), (40, i64::MIN)];
    let many: &[(u8, i64)] = &[(42, 1), (44, 1), (48, 1), (43, 0), (43, 2), (33, 2)];
    for (num, bad, (s2sz, level)) in [(1, one, (32, 1)), (2, two, (40, 1)), (16, many, (43, 1))] {
        let mut c = Case::level1(&m, &mut pool, num);
        c.fails_each(&m, bad.iter().map(|&(w, l)| (w, l, num)), Case::shape);
        assert_vmid_free(&m, &mut pool, VMID);
        c.shape((s2sz, level, num));
        assert_eq!(c.create(&m), SUCCESS, "{:?}", c.p);
        check_new_realm(&m, c.rd, &c.p);
        destroy(&m, c.rd, SUCCESS);
    }
}

#[test]
fn realm_create_rtt_state() {
    let (m, mut pool) = setup();
    assert_eq!(
        RttConfig::required_num_start(40, 1, RttFormat::Pa48, 48),
        Ok(2)
    );
    let mut c = Case::level1(&m, &mut pool, 2);
    // The states of the two starting RTTs: one of them (or both) not DELEGATED.
    let mut starts = vec![
        (Undelegated, Delegated),
        (Delegated, Undelegated),
        (Rtt, Delegated),
    ];
    starts.extend([(Undelegated, Undelegated), (Rd, Delegated)]);
    starts.extend(OWNED_STATES.map(|s| (Delegated, s)));
    for (first, second) in starts {
        let base = pool.block(2);
        for (pa, s) in [(base, first), (base + GRANULE, second)] {
            if s != Undelegated {
                assert_eq!(delegate(&m, pa), SUCCESS);
            }
            if s != Undelegated && s != Delegated {
                force_state(&m, pa, s);
            }
            c.watch.push(pa);
        }
        c.p.rtt_base = base;
        c.fails(&m);
    }
    // The starting RTTs of a live realm.
    let other = live_realm(&m, &mut pool, 2, 9);
    c.p.rtt_base = other.p.rtt_base;
    c.fails(&m);
    // One starting RTT outside delegable memory.
    c.shape((39, 1, 1));
    c.fails_each(&m, NOT_DELEGABLE, |c, base| c.p.rtt_base = base);
    assert_vmid_free(&m, &mut pool, VMID);
}

#[test]
fn realm_create_vmid_valid() {
    let (m, mut pool) = setup();
    let new = live_realm(&m, &mut pool, 1, VMID);
    let active = live_realm(&m, &mut pool, 1, 0xffff);
    activate(&m, active.rd, SUCCESS);
    let mut c = Case::level1(&m, &mut pool, 1);
    c.fails_each(&m, [VMID, 0xffff], |c, vmid| c.p.vmid = vmid);
    // The host platform has 16-bit VMIDs: every Bits16 value is valid, 0 included.
    c.p.vmid = 0;
    assert_eq!(c.create(&m), SUCCESS);
    assert_vmid_used(&m, &mut pool, 0);
    // Freed by REALM_DESTROY.
    destroy(&m, new.rd, SUCCESS);
    destroy(&m, active.rd, SUCCESS);
    assert_vmid_free(&m, &mut pool, VMID);
    assert_vmid_free(&m, &mut pool, 0xffff);
}

#[test]
fn realm_create_succeeds_with_each_rtt_geometry_and_hash() {
    let shapes: [(Shape, HashAlgorithm); 7] = [
        ((39, 1, 1), Sha256),
        ((40, 1, 2), Sha512),
        ((43, 1, 16), Sha256),
        ((32, 2, 4), Sha512),
        ((34, 2, 16), Sha256),
        ((48, 0, 1), Sha512),
        ((40, 0, 1), Sha256),
    ];
    for (i, (shape, hash_algo)) in shapes.into_iter().enumerate() {
        let (m, mut pool) = setup();
        let mut c = Case::new(&m, &mut pool, shape);
        (c.p.hash_algo, c.p.num_bps, c.p.num_wps) = (hash_algo, 1 + i as u8 % 5, 1 + i as u8 % 3);
        c.p.rpv = core::array::from_fn(|j| (j as u8).wrapping_mul(37) ^ shape.0);
        assert_eq!(c.create(&m), SUCCESS, "{:?}", c.p);
        // The RIM against one computed here (B4.3.9.4), the tables, rpv, ipa_width.
        check_new_realm(&m, c.rd, &c.p);
        let ns = (Some(Undelegated), Some(Pas::NonSecure));
        assert_eq!((state(&m, c.ptr), m.pas(c.ptr)), ns, "params untouched");
        // vmid: now in use; realm_state NEW: activates once.
        assert_vmid_used(&m, &mut pool, VMID);
        activate(&m, c.rd, SUCCESS);
        activate(&m, c.rd, ERROR_REALM);
    }
}

#[test]
fn realm_activate_rd_align() {
    let (m, mut pool) = setup();
    let realm = live_realm(&m, &mut pool, 1, VMID);
    rejects(&m, ACTIVATE, UNALIGNED.map(|o| realm.rd + o), ERROR_INPUT);
    activate(&m, realm.rd, SUCCESS);
}

#[test]
fn realm_activate_rd_bound() {
    let (m, mut pool) = setup();
    let realm = live_realm(&m, &mut pool, 1, VMID);
    rejects(&m, ACTIVATE, NOT_DELEGABLE, ERROR_INPUT);
    activate(&m, realm.rd, SUCCESS);
}

/// Granules in every state but RD, among them the realm's own RTT and parameters page.
fn not_rds(m: &Machine, pool: &mut Pool, realm: &Case) -> Vec<u64> {
    let mut pas = vec![realm.ptr, realm.p.rtt_base, pool.delegated(m, 1)];
    let owned = OWNED_STATES.into_iter().filter(|&s| s != Rd);
    pas.extend(owned.map(|s| pool.in_state(m, s)));
    pas
}

#[test]
fn realm_activate_rd_state() {
    let (m, mut pool) = setup();
    let realm = live_realm(&m, &mut pool, 1, VMID);
    rejects(&m, ACTIVATE, not_rds(&m, &mut pool, &realm), ERROR_INPUT);
    activate(&m, realm.rd, SUCCESS);
}

#[test]
fn realm_activate_realm_state() {
    let (m, mut pool) = setup();
    let realm = live_realm(&m, &mut pool, 1, VMID);
    let rd_before = contents(&m, realm.rd);
    activate(&m, realm.rd, SUCCESS);
    // ACTIVE: RMI_ERROR_REALM, index 0; the RPV and measurements are untouched.
    rejects(&m, ACTIVATE, [realm.rd], ERROR_REALM);
    assert_eq!(contents(&m, realm.rd)[64..], rd_before[64..]);
    destroy(&m, realm.rd, SUCCESS);
}

#[test]
fn realm_activate_rd_state_before_realm_state() {
    let (m, mut pool) = setup();
    let realm = live_realm(&m, &mut pool, 1, VMID);
    activate(&m, realm.rd, SUCCESS);
    // The starting RTT's first word is now a table descriptor: not REALM_NEW if read as an RD.
    let l2 = create_rtt_at(&m, &mut pool, realm.rd, 0, 2);
    assert!(!zero(&contents(&m, realm.p.rtt_base)[..8]));
    rejects(&m, ACTIVATE, [realm.p.rtt_base, l2, realm.ptr], ERROR_INPUT);
    // The RD of a destroyed ACTIVE realm is DELEGATED.
    rtt_destroy(&m, realm.rd, 0, 2);
    destroy(&m, realm.rd, SUCCESS);
    rejects(&m, ACTIVATE, [realm.rd], ERROR_INPUT);
}

#[test]
fn realm_destroy_rd_align() {
    let (m, mut pool) = setup();
    let realm = live_realm(&m, &mut pool, 1, VMID);
    rejects(&m, DESTROY, UNALIGNED.map(|o| realm.rd + o), ERROR_INPUT);
    assert_vmid_used(&m, &mut pool, VMID);
    assert_eq!(m.tlb_invalidations(), (0, 0));
    destroy(&m, realm.rd, SUCCESS);
}

#[test]
fn realm_destroy_rd_bound() {
    let (m, mut pool) = setup();
    let realm = live_realm(&m, &mut pool, 1, VMID);
    rejects(&m, DESTROY, NOT_DELEGABLE, ERROR_INPUT);
    assert_eq!(m.tlb_invalidations(), (0, 0));
    destroy(&m, realm.rd, SUCCESS);
}

#[test]
fn realm_destroy_rd_state() {
    let (m, mut pool) = setup();
    let realm = live_realm(&m, &mut pool, 1, VMID);
    rejects(&m, DESTROY, not_rds(&m, &mut pool, &realm), ERROR_INPUT);
    assert_eq!(m.tlb_invalidations(), (0, 0));
    destroy(&m, realm.rd, SUCCESS);
    rejects(&m, DESTROY, [realm.rd], ERROR_INPUT);
}

/// Destroying the live realm `realm` fails with RMI_ERROR_REALM and leaves it whole.
#[track_caller]
fn destroy_fails_live(m: &Machine, pool: &mut Pool, realm: &Case) {
    let (before, tlbi) = (snapshot(m, &realm.watch), m.tlb_invalidations());
    rejects(m, DESTROY, [realm.rd], ERROR_REALM);
    assert_eq!(snapshot(m, &realm.watch), before);
    assert_eq!(m.tlb_invalidations(), tlbi);
    assert_eq!(read_entry(m, realm.rd, 0, 1)[0], SUCCESS, "usable");
    assert_vmid_used(m, pool, realm.p.vmid);
}

#[test]
fn realm_destroy_realm_live() {
    let (m, mut pool) = setup();
    // A child RTT under the only starting RTT.
    let one = live_realm(&m, &mut pool, 1, VMID);
    create_rtt_at(&m, &mut pool, one.rd, 0x4000_0000, 2);
    destroy_fails_live(&m, &mut pool, &one);
    rtt_destroy(&m, one.rd, 0x4000_0000, 2);
    destroy(&m, one.rd, SUCCESS);
    // A child RTT under the second of two starting RTTs only (an unprotected IPA).
    let two = live_realm(&m, &mut pool, 2, VMID);
    activate(&m, two.rd, SUCCESS);
    let ipa = (1 << 39) + (5 << 30);
    create_rtt_at(&m, &mut pool, two.rd, ipa, 2);
    destroy_fails_live(&m, &mut pool, &two);
    rtt_destroy(&m, two.rd, ipa, 2);
    // A REC: its reference on the RD, taken under the RD's lock as RMI_REC_CREATE would.
    let rd = m.rmm().granules().get(two.rd).unwrap();
    rd.lock(Rd).unwrap().get_ref();
    destroy_fails_live(&m, &mut pool, &two);
    rd.put_ref();
    destroy(&m, two.rd, SUCCESS);
    assert_vmid_free(&m, &mut pool, VMID);
}

#[test]
fn realm_destroy_rd_state_before_realm_live() {
    let (m, mut pool) = setup();
    let realm = live_realm(&m, &mut pool, 1, VMID);
    let l2 = create_rtt_at(&m, &mut pool, realm.rd, 0, 2);
    create_rtt_at(&m, &mut pool, realm.rd, 0, 3);
    // Live RTTs (non-zero reference counts) that are not RDs: RMI_ERROR_INPUT.
    rejects(&m, DESTROY, [realm.p.rtt_base, l2], ERROR_INPUT);
    rejects(&m, DESTROY, [realm.rd], ERROR_REALM);
}

#[test]
fn realm_destroy_succeeds_and_frees_everything() {
    for num in [1, 2, 16] {
        let (m, mut pool) = setup();
        let realm = live_realm(&m, &mut pool, num, VMID);
        if num == 2 {
            activate(&m, realm.rd, SUCCESS);
        }
        assert_eq!(m.tlb_invalidations(), (0, 0));
        destroy(&m, realm.rd, SUCCESS);
        assert_eq!(m.tlb_invalidations(), (0, 1), "one invalidation by VMID");
        for pa in realm.realm_granules() {
            assert_eq!(state(&m, pa), Some(Delegated));
        }
        assert_eq!(read_entry(&m, realm.rd, 0, 1)[0], ERROR_INPUT);
        // The VMID is free, and the same granules make a new realm.
        let mut again = realm.clone();
        again.p.rpv = [0x5a; 64];
        assert_eq!(again.create(&m), SUCCESS);
        check_new_realm(&m, realm.rd, &again.p);
        destroy(&m, realm.rd, SUCCESS);
        assert_eq!(m.tlb_invalidations(), (0, 2));
        // Wiped: the Normal world reads zeros once they are undelegated.
        for pa in realm.realm_granules() {
            assert_eq!(undelegate(&m, pa), SUCCESS);
            let mut page = [0xffu8; GRANULE as usize];
            m.ns_read(pa, &mut page).unwrap();
            assert!(zero(&page), "{pa:#x} not wiped");
        }
        assert_vmid_free(&m, &mut pool, VMID);
    }
}

/// An SMC on `cpu`: x0..x7.
fn smc(m: &Machine, cpu: usize, fid: u64, args: &[u64]) -> [u64; 8] {
    let mut regs = [fid, 0, 0, 0, 0, 0, 0, 0];
    regs[1..=args.len()].copy_from_slice(args);
    m.smc(cpu, regs)
}

/// Each of four CPUs builds, activates and destroys its own realm again and again, and reads
/// its neighbour's realm, which may be anywhere in its life.
#[test]
fn realm_create_activate_destroy_concurrently() {
    const ROUNDS: usize = 200;
    let (m, mut pool) = setup();
    let realms: Vec<Case> = (0..4u16)
        .map(|cpu| {
            let mut c = Case::level1(&m, &mut pool, 1 + u32::from(cpu % 2));
            c.p.vmid = 100 + cpu;
            write_realm_params(&m, c.ptr, &c.p);
            c
        })
        .collect();
    std::thread::scope(|s| {
        for cpu in 0..4 {
            let (m, me, next) = (&m, &realms[cpu], &realms[(cpu + 1) % 4]);
            s.spawn(move || {
                let unassigned = [SUCCESS, 1, 0, 0, 0];
                for round in 0..ROUNDS {
                    let x0 = smc(m, cpu, RMI_REALM_CREATE, &[me.rd, me.ptr])[0];
                    assert_eq!(x0, SUCCESS, "CPU {cpu} round {round}");
                    let mine = smc(m, cpu, RMI_RTT_READ_ENTRY, &[me.rd, 0, 1]);
                    assert_eq!(mine[..5], unassigned);
                    let theirs = smc(m, cpu, RMI_RTT_READ_ENTRY, &[next.rd, 0, 1]);
                    assert!(theirs[..5] == unassigned || theirs[0] == ERROR_INPUT);
                    assert_eq!(smc(m, cpu, ACTIVATE, &[me.rd])[0], SUCCESS);
                    assert_eq!(smc(m, cpu, ACTIVATE, &[me.rd])[0], ERROR_REALM);
                    assert_eq!(smc(m, cpu, RMI_REALM_DESTROY, &[me.rd])[0], SUCCESS);
                }
            });
        }
    });
    assert_eq!(m.tlb_invalidations(), (0, 4 * ROUNDS as u64));
    for c in &realms {
        for &pa in &c.watch {
            let expect = if pa == c.ptr { Undelegated } else { Delegated };
            assert_eq!(state(&m, pa), Some(expect));
        }
        assert_vmid_free(&m, &mut pool, c.p.vmid);
    }
}

/// CPUs 0 and 1 race to create the realms of `cases` in every round: exactly one succeeds,
/// the other fails with RMI_ERROR_INPUT; the winner destroys its realm before the next round.
fn race(m: &Machine, pool: &mut Pool, cases: [Case; 2]) {
    const ROUNDS: usize = 300;
    for c in &cases {
        write_realm_params(m, c.ptr, &c.p);
    }
    let barrier = Barrier::new(2);
    let results: [Vec<u64>; 2] = std::thread::scope(|s| {
        let threads = [0, 1].map(|cpu| {
            let (c, barrier) = (&cases[cpu], &barrier);
            s.spawn(move || {
                let mut out = Vec::new();
                for _ in 0..ROUNDS {
                    barrier.wait();
                    out.push(smc(m, cpu, RMI_REALM_CREATE, &[c.rd, c.ptr])[0]);
                    barrier.wait();
                    if out.last() == Some(&SUCCESS) {
                        assert_eq!(smc(m, cpu, RMI_REALM_DESTROY, &[c.rd])[0], SUCCESS);
                    }
                }
                out
            })
        });
        threads.map(|t| t.join().unwrap())
    });
    for (round, r) in results[0].iter().zip(&results[1]).enumerate() {
        let r = [*r.0, *r.1];
        let one_wins = r == [SUCCESS, ERROR_INPUT] || r == [ERROR_INPUT, SUCCESS];
        assert!(one_wins, "{round}: {r:?}");
    }
    for c in &cases {
        for pa in c.realm_granules() {
            assert_eq!(state(m, pa), Some(Delegated));
        }
        // The loser of each round claimed no VMID.
        assert_vmid_free(m, pool, c.p.vmid);
    }
}

#[test]
fn realm_create_vmid_valid_race_same_vmid() {
    let (m, mut pool) = setup();
    let cases = [1, 2].map(|num| Case::level1(&m, &mut pool, num));
    race(&m, &mut pool, cases);
}

#[test]
fn realm_create_rd_state_race_same_rd() {
    let (m, mut pool) = setup();
    let mut cases = [1, 1].map(|num| Case::level1(&m, &mut pool, num));
    cases[1].rd = cases[0].rd;
    cases[1].p.vmid = VMID + 1;
    race(&m, &mut pool, cases);
}
