//! RMI_DATA_CREATE (B4.3.1), RMI_DATA_CREATE_UNKNOWN (B4.3.2), RMI_DATA_DESTROY (B4.3.3) and
//! RMI_RTT_INIT_RIPAS (B4.3.18) at register level: every failure condition, the orderings the
//! spec gives, the success conditions, and the RIM recomputed here with `sha2` from the spec's
//! layouts (B4.3.9.4, B4.3.1.4, B4.3.18.4, C1.11, C1.13), independently of src/measurement.

mod common;
use common::*;
use rmm::granule::GranuleState;
use rmm::host::{Config, Machine, Pas};
use rmm::measurement::HashAlgorithm;
use rmm::rmi::params::RealmParams;
use sha2::{Digest, Sha256, Sha512};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;

/// One 64 MiB bank: room for the big tests.
const BANK: (u64, u64) = (0x8000_0000, 64 << 20);
const BANK_END: u64 = BANK.0 + BANK.1;
const G: u64 = GRANULE;
const SZ2: u64 = 2 << 20;
const SZ1: u64 = 1 << 30;
/// IPA covered by the first level-3 RTT of [`Env::with_tables`].
const L3: u64 = 0x4000_0000;
/// First unprotected IPA of the 39-bit realm.
const UNPROT: u64 = 1 << 38;
/// A granule-aligned PA with no memory behind it.
const NO_MEM: u64 = 0x1000;
const SHA256: HashAlgorithm = HashAlgorithm::Sha256;
const SHA512: HashAlgorithm = HashAlgorithm::Sha512;

type Page = [u8; G as usize];
type Rim = [u8; 64];

/// Distinct, non-uniform contents for each seed.
fn pattern(seed: u8) -> Page {
    let mut page = [0u8; G as usize];
    for (i, b) in page.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(7) ^ (i >> 8) as u8 ^ seed.wrapping_mul(31);
    }
    page
}

// ---- The RIM, from the spec's layouts ----

/// The RHA of `bytes`, zero-filled to the 512-bit RmmRealmMeasurement (C1.17).
fn digest(algo: HashAlgorithm, bytes: &[u8]) -> Rim {
    let mut out = [0u8; 64];
    match algo {
        HashAlgorithm::Sha256 => out[..32].copy_from_slice(Sha256::digest(bytes).as_slice()),
        HashAlgorithm::Sha512 => out.copy_from_slice(Sha512::digest(bytes).as_slice()),
    }
    out
}

/// B4.3.9.4: the hash of a zero-filled RmiRealmParams (B4.4.12) with only the measured fields.
fn rim_init(p: &RealmParams) -> Rim {
    let mut image = [0u8; 4096];
    image[0..8].copy_from_slice(&p.flags.bits().to_le_bytes());
    image[0x8] = p.s2sz;
    image[0x10] = p.sve_vl;
    image[0x18] = p.num_bps;
    image[0x20] = p.num_wps;
    image[0x28] = p.pmu_num_ctrs;
    image[0x30] = match p.hash_algo {
        HashAlgorithm::Sha256 => 0,
        HashAlgorithm::Sha512 => 1,
    };
    digest(p.hash_algo, &image)
}

/// A 256-byte descriptor: desc_type @0x0, len @0x8, rim @0x10, two words @0x50 (C1.11, C1.13).
fn descriptor(desc_type: u8, rim: &Rim, w50: u64, w58: u64) -> [u8; 256] {
    let mut d = [0u8; 256];
    d[0] = desc_type;
    d[8..16].copy_from_slice(&256u64.to_le_bytes());
    d[0x10..0x50].copy_from_slice(rim);
    d[0x50..0x58].copy_from_slice(&w50.to_le_bytes());
    d[0x58..0x60].copy_from_slice(&w58.to_le_bytes());
    d
}

/// B4.3.1.4 with C1.11 RmmMeasurementDescriptorData (ipa @0x50, flags @0x58, content @0x60).
fn ext_data(algo: HashAlgorithm, rim: &mut Rim, ipa: u64, flags: u64, content: &Page) {
    let mut d = descriptor(0, rim, ipa, flags);
    if flags & 1 == 1 {
        d[0x60..0xa0].copy_from_slice(&digest(algo, content));
    }
    *rim = digest(algo, &d);
}

/// B4.3.18.4 with C1.13 RmmMeasurementDescriptorRipas (base @0x50, top @0x58): one extension
/// per RTT entry of `size` bytes in [base, top).
fn ext_ripas(algo: HashAlgorithm, rim: &mut Rim, base: u64, top: u64, size: u64) {
    let mut ipa = base;
    while ipa < top {
        *rim = digest(algo, &descriptor(2, rim, ipa, (ipa + size).min(top)));
        ipa += size;
    }
}

// ---- A NEW realm on a big machine, and the RIM this file expects for it ----

fn call(m: &Machine, cpu: usize, fid: u64, args: &[u64]) -> [u64; 8] {
    let mut regs = [0u64; 8];
    regs[0] = fid;
    regs[1..=args.len()].copy_from_slice(args);
    m.smc(cpu, regs)
}

/// What a failed command must leave as it was: granule states and PAS, entries, the RIM.
#[derive(Debug, PartialEq)]
struct Snap(Vec<(Option<GranuleState>, Option<Pas>)>, Vec<[u64; 5]>, Rim);

struct Env {
    m: Machine,
    next: u64,
    rd: u64,
    rtt: u64,
    algo: HashAlgorithm,
    /// The RIM as this file computes it.
    rim: Rim,
    /// Granules that failed commands must leave alone (with the RD and root RTT).
    watch: Vec<u64>,
}

impl Env {
    /// A NEW realm per [`realm_params`] with hash algorithm `algo`; checks its initial RIM.
    fn new(algo: HashAlgorithm) -> Env {
        let m = Machine::new(Config {
            cpus: 8,
            dram: vec![BANK],
        });
        let (rd, rtt, rim, watch) = (0, 0, [0; 64], vec![]);
        let mut e = Env {
            m,
            next: BANK.0,
            rd,
            rtt,
            algo,
            rim,
            watch,
        };
        let params = e.ns();
        e.rd = e.delegated();
        e.rtt = e.delegated();
        let mut p = realm_params(e.rtt);
        p.hash_algo = algo;
        write_realm_params(&e.m, params, &p);
        assert_eq!(e.call(RMI_REALM_CREATE, &[e.rd, params])[0], SUCCESS);
        e.rim = rim_init(&p);
        e.check_rim();
        e
    }

    /// A realm with a level-2 RTT for [1 GiB, 2 GiB) and level-3 RTTs for [L3, L3 + 2 MiB)
    /// and [L3 + 8 MiB, L3 + 10 MiB).
    fn with_tables() -> Env {
        let mut e = Env::new(SHA256);
        e.rtt_at(L3, 2);
        e.rtt_at(L3, 3);
        e.rtt_at(L3 + 4 * SZ2, 3);
        e
    }

    fn ns(&mut self) -> u64 {
        let pa = self.next;
        assert!(pa < BANK_END, "test ran out of granules");
        self.next += G;
        pa
    }

    fn delegated(&mut self) -> u64 {
        let pa = self.ns();
        assert_eq!(delegate(&self.m, pa), SUCCESS);
        pa
    }

    /// A Non-secure granule holding `pattern(seed)`.
    fn src(&mut self, seed: u8) -> (u64, Page) {
        let pa = self.ns();
        let page = pattern(seed);
        self.m.ns_write(pa, &page).unwrap();
        (pa, page)
    }

    fn call(&self, fid: u64, args: &[u64]) -> [u64; 8] {
        rmi(&self.m, fid, args)
    }

    fn rtt_at(&mut self, ipa: u64, level: u64) -> u64 {
        let rtt = self.delegated();
        let out = self.call(RMI_RTT_CREATE, &[self.rd, rtt, ipa, level]);
        assert_eq!(out[0], SUCCESS, "RTT_CREATE {ipa:#x} level {level}");
        rtt
    }

    /// RTT_READ_ENTRY towards level 3 (`entry`) or `level` (`entry_at`).
    fn entry(&self, ipa: u64) -> [u64; 5] {
        read_entry(&self.m, self.rd, ipa, 3)
    }

    fn entry_at(&self, ipa: u64, level: u64) -> [u64; 5] {
        read_entry(&self.m, self.rd, ipa, level)
    }

    fn rd_rim(&self) -> Rim {
        let mut rim = [0u8; 64];
        self.m.debug_read(self.rd + 16 * 8, &mut rim).unwrap();
        rim
    }

    fn check_rim(&self) {
        assert_eq!(self.rd_rim(), self.rim, "RIM differs from the spec's");
    }

    /// DATA_CREATE of `pattern(seed)` at `ipa`: checks success and the RIM extension.
    fn create(&mut self, ipa: u64, seed: u8, flags: u64) -> (u64, Page) {
        let (src, page) = self.src(seed);
        let data = self.delegated();
        let out = self.call(RMI_DATA_CREATE, &[self.rd, data, ipa, src, flags]);
        assert_eq!(out[0], SUCCESS, "DATA_CREATE {ipa:#x}");
        ext_data(self.algo, &mut self.rim, ipa, flags, &page);
        self.check_rim();
        (data, page)
    }

    /// DATA_CREATE_UNKNOWN of a fresh granule at `ipa`; the RIM must not change.
    fn unknown(&mut self, ipa: u64) -> u64 {
        let data = self.delegated();
        self.unknown_with(data, ipa);
        data
    }

    fn unknown_with(&self, data: u64, ipa: u64) {
        let out = self.call(RMI_DATA_CREATE_UNKNOWN, &[self.rd, data, ipa]);
        assert_eq!(out[0], SUCCESS, "DATA_CREATE_UNKNOWN {ipa:#x}");
        self.check_rim();
    }

    /// DATA_DESTROY at `ipa`, expecting the page `data` and output `top`.
    fn destroy(&self, ipa: u64, data: u64, top: u64) {
        let out = self.call(RMI_DATA_DESTROY, &[self.rd, ipa]);
        assert_eq!(out[..3], [SUCCESS, data, top], "DATA_DESTROY {ipa:#x}");
        self.check_rim();
    }

    /// INIT_RIPAS of [base, top), expecting `out_top` and a walk that stopped at `level`.
    fn init_ripas(&mut self, base: u64, top: u64, out_top: u64, level: u64) {
        let out = self.call(RMI_RTT_INIT_RIPAS, &[self.rd, base, top]);
        assert_eq!(out[..2], [SUCCESS, out_top], "INIT_RIPAS {base:#x}");
        let size = 1 << (12 + 9 * (3 - level)); // RttLevelSize
        ext_ripas(self.algo, &mut self.rim, base, out_top, size);
        self.check_rim();
    }

    fn activate(&self) {
        assert_eq!(self.call(RMI_REALM_ACTIVATE, &[self.rd])[0], SUCCESS);
    }

    fn snap(&self) -> Snap {
        let pas = [self.rd, self.rtt]
            .into_iter()
            .chain(self.watch.iter().copied());
        let probes = (0..4)
            .map(|i| L3 + i * G)
            .chain([0, L3 + SZ2, L3 + 4 * SZ2, UNPROT]);
        Snap(
            pas.map(|pa| (self.m.granule_state(pa), self.m.pas(pa)))
                .collect(),
            probes.map(|ipa| self.entry(ipa)).collect(),
            self.rd_rim(),
        )
    }

    /// Calls `fid`, expects x0 == `x0` and that nothing in [`Snap`] changed.
    fn fails(&self, fid: u64, args: &[u64], x0: u64) -> [u64; 8] {
        let before = self.snap();
        let out = self.call(fid, args);
        assert_eq!(out[0], x0, "{fid:#x} {args:#x?}");
        assert_eq!(self.snap(), before, "{fid:#x} {args:#x?} changed state");
        out
    }

    /// DATA_DESTROY fails with `x0` and output `top`.
    fn dd_rd(&self, rd: u64, ipa: u64, x0: u64, top: u64) {
        let out = self.fails(RMI_DATA_DESTROY, &[rd, ipa], x0);
        assert_eq!(out[2], top, "top for {ipa:#x}");
    }

    fn dd(&self, ipa: u64, x0: u64, top: u64) {
        self.dd_rd(self.rd, ipa, x0, top);
    }

    /// INIT_RIPAS fails with `x0`.
    fn ir_rd(&self, rd: u64, base: u64, top: u64, x0: u64) {
        self.fails(RMI_RTT_INIT_RIPAS, &[rd, base, top], x0);
    }

    fn ir(&self, base: u64, top: u64, x0: u64) {
        self.ir_rd(self.rd, base, top, x0);
    }
}

// ---- RMI_DATA_CREATE and RMI_DATA_CREATE_UNKNOWN failure conditions ----

/// Checks failure condition (or ordering) `cond` of `fid` (DATA_CREATE or DATA_CREATE_UNKNOWN)
/// on a realm with tables, a RAM DATA page at L3 and an EMPTY one at L3 + G. Unless a case
/// says otherwise the call targets L3 + 2G (UNASSIGNED) with a fresh DELEGATED granule and a
/// Non-secure source, so only `cond` holds.
fn data_create_fails(fid: u64, cond: &str) {
    let mut e = Env::with_tables();
    let (src, _) = e.src(0x5a);
    let (page, _) = e.create(L3, 1, 1);
    let empty = e.unknown(L3 + G);
    let (rd, data, ipa, rtt) = (e.rd, e.delegated(), L3 + 2 * G, e.rtt);
    e.watch = vec![src, page, empty, data];
    let input = ERROR_INPUT;
    // A case: rd, data, ipa, src, expected x0.
    let case = |rd, data, ipa, x0| [rd, data, ipa, src, x0];
    let srcs = |v: &[u64]| v.iter().map(|&s| [rd, data, ipa, s, input]).collect();
    let datas = |v: &[u64]| v.iter().map(|&d| case(rd, d, ipa, input)).collect();
    let rds = |v: &[u64]| v.iter().map(|&r| case(r, data, ipa, input)).collect();
    let ipas = |v: &[u64]| v.iter().map(|&i| case(rd, data, i, input)).collect();
    let cases: Vec<[u64; 5]> = match cond {
        "src_align" => srcs(&[src + 1, src + 8, src + 0x800]),
        "src_bound" => srcs(&[NO_MEM, BANK.0 - G, BANK_END, 1 << 48, !(G - 1)]),
        "src_pas" => {
            let secure = e.src(3).0;
            e.m.assign_pas(secure, Pas::Secure).unwrap();
            e.watch.push(secure);
            srcs(&[e.delegated(), rd, secure]) // Realm PAS (DELEGATED, RD), Secure PAS
        }
        "data_align" => datas(&[data + 1, data + 8, data + 0x800]),
        "data_bound" => datas(&[NO_MEM, BANK.0 - G, BANK_END]),
        "data_state" => datas(&[e.ns(), page, rd, rtt]), // UNDELEGATED, DATA, RD, RTT
        // The host's PAs are 48 bits wide: these are not delegable either (data_bound).
        "data_bound2" => datas(&[1 << 48, (1 << 48) + BANK.0, !(G - 1)]),
        "rd_align" => rds(&[rd + 1, rd + 8, rd + 0x800]),
        "rd_bound" => rds(&[NO_MEM, BANK_END, 1 << 48]),
        "rd_state" => rds(&[rtt, page, e.delegated(), e.ns()]),
        "ipa_align" => ipas(&[ipa + 1, ipa + 8, ipa + 0x800]),
        "ipa_bound" => ipas(&[UNPROT, UNPROT + L3, (1 << 39) - G, 1 << 39, !(G - 1)]),
        "realm_state" => {
            e.activate();
            vec![case(rd, data, ipa, ERROR_REALM)]
        }
        // No level-3 RTT: the walk stops at level 2, or at level 1 without a level-2 RTT.
        "rtt_walk" => [
            (L3 + SZ2, 2),
            (L3 + 5 * SZ2 + G, 2),
            (0, 1),
            (2 * SZ1 + G, 1),
        ]
        .map(|(ipa, level)| case(rd, data, ipa, error_rtt(level)))
        .into(),
        // ASSIGNED RAM, ASSIGNED EMPTY.
        "rtte_state" => [L3, L3 + G].map(|i| case(rd, data, i, error_rtt(3))).into(),
        // [rd_bound, rd_state] < [realm_state]
        "rd_before_realm_state" => {
            e.activate();
            rds(&[NO_MEM, rtt])
        }
        // [rd_bound, rd_state] < [rtt_walk, rtte_state]
        "rd_before_rtt" => [NO_MEM, rtt]
            .into_iter()
            .flat_map(|r| [case(r, data, L3 + SZ2, input), case(r, data, L3, input)])
            .collect(),
        // [ipa_bound] < [rtt_walk, rtte_state]: no RTT there (the walk stops at level 1), and
        // a level-3 RTT there (the walk reaches an UNASSIGNED_NS entry, not UNASSIGNED).
        "ipa_bound_before_rtt" => {
            e.rtt_at(UNPROT, 2);
            e.rtt_at(UNPROT, 3);
            assert_eq!(e.entry(UNPROT)[..2], [SUCCESS, 3]);
            ipas(&[UNPROT + SZ1, UNPROT])
        }
        _ => unreachable!("{cond}"),
    };
    for [rd, data, ipa, src, x0] in cases {
        match fid {
            RMI_DATA_CREATE => e.fails(fid, &[rd, data, ipa, src, 1], x0),
            _ => e.fails(fid, &[rd, data, ipa], x0),
        };
    }
}

#[test]
fn data_create_src_align() {
    data_create_fails(RMI_DATA_CREATE, "src_align");
}

#[test]
fn data_create_src_bound() {
    data_create_fails(RMI_DATA_CREATE, "src_bound");
}

#[test]
fn data_create_src_pas() {
    data_create_fails(RMI_DATA_CREATE, "src_pas");
}

#[test]
fn data_create_data_align() {
    data_create_fails(RMI_DATA_CREATE, "data_align");
}

#[test]
fn data_create_data_bound() {
    data_create_fails(RMI_DATA_CREATE, "data_bound");
}

#[test]
fn data_create_data_state() {
    data_create_fails(RMI_DATA_CREATE, "data_state");
}

#[test]
fn data_create_data_bound2() {
    data_create_fails(RMI_DATA_CREATE, "data_bound2");
}

#[test]
fn data_create_rd_align() {
    data_create_fails(RMI_DATA_CREATE, "rd_align");
}

#[test]
fn data_create_rd_bound() {
    data_create_fails(RMI_DATA_CREATE, "rd_bound");
}

#[test]
fn data_create_rd_state() {
    data_create_fails(RMI_DATA_CREATE, "rd_state");
}

#[test]
fn data_create_ipa_align() {
    data_create_fails(RMI_DATA_CREATE, "ipa_align");
}

#[test]
fn data_create_ipa_bound() {
    data_create_fails(RMI_DATA_CREATE, "ipa_bound");
}

#[test]
fn data_create_realm_state() {
    data_create_fails(RMI_DATA_CREATE, "realm_state");
}

#[test]
fn data_create_rtt_walk() {
    data_create_fails(RMI_DATA_CREATE, "rtt_walk");
}

#[test]
fn data_create_rtte_state() {
    data_create_fails(RMI_DATA_CREATE, "rtte_state");
}

#[test]
fn data_create_rd_state_before_realm_state() {
    data_create_fails(RMI_DATA_CREATE, "rd_before_realm_state");
}

#[test]
fn data_create_rd_state_before_rtt_walk_and_rtte_state() {
    data_create_fails(RMI_DATA_CREATE, "rd_before_rtt");
}

#[test]
fn data_create_ipa_bound_before_rtt_walk_and_rtte_state() {
    data_create_fails(RMI_DATA_CREATE, "ipa_bound_before_rtt");
}

#[test]
fn data_create_unknown_data_align() {
    data_create_fails(RMI_DATA_CREATE_UNKNOWN, "data_align");
}

#[test]
fn data_create_unknown_data_bound() {
    data_create_fails(RMI_DATA_CREATE_UNKNOWN, "data_bound");
}

#[test]
fn data_create_unknown_data_state() {
    data_create_fails(RMI_DATA_CREATE_UNKNOWN, "data_state");
}

#[test]
fn data_create_unknown_data_bound2() {
    data_create_fails(RMI_DATA_CREATE_UNKNOWN, "data_bound2");
}

#[test]
fn data_create_unknown_rd_align() {
    data_create_fails(RMI_DATA_CREATE_UNKNOWN, "rd_align");
}

#[test]
fn data_create_unknown_rd_bound() {
    data_create_fails(RMI_DATA_CREATE_UNKNOWN, "rd_bound");
}

#[test]
fn data_create_unknown_rd_state() {
    data_create_fails(RMI_DATA_CREATE_UNKNOWN, "rd_state");
}

#[test]
fn data_create_unknown_ipa_align() {
    data_create_fails(RMI_DATA_CREATE_UNKNOWN, "ipa_align");
}

#[test]
fn data_create_unknown_ipa_bound() {
    data_create_fails(RMI_DATA_CREATE_UNKNOWN, "ipa_bound");
}

#[test]
fn data_create_unknown_rtt_walk() {
    data_create_fails(RMI_DATA_CREATE_UNKNOWN, "rtt_walk");
}

#[test]
fn data_create_unknown_rtte_state() {
    data_create_fails(RMI_DATA_CREATE_UNKNOWN, "rtte_state");
}

#[test]
fn data_create_unknown_rd_state_before_rtt_walk_and_rtte_state() {
    data_create_fails(RMI_DATA_CREATE_UNKNOWN, "rd_before_rtt");
}

#[test]
fn data_create_unknown_ipa_bound_before_rtt_walk_and_rtte_state() {
    data_create_fails(RMI_DATA_CREATE_UNKNOWN, "ipa_bound_before_rtt");
}

// ---- RMI_DATA_CREATE and RMI_DATA_CREATE_UNKNOWN success ----

#[test]
fn data_create_success_ram_from_empty_destroyed_and_ram() {
    let mut e = Env::with_tables();
    assert_eq!(e.entry(L3), [SUCCESS, 3, 0, 0, 0]); // EMPTY before
    let (src, page) = e.src(9);
    let data = e.delegated();
    assert_eq!(
        e.call(RMI_DATA_CREATE, &[e.rd, data, L3, src, 1])[0],
        SUCCESS
    );
    ext_data(SHA256, &mut e.rim, L3, 1, &page);
    e.check_rim();
    assert_eq!(e.m.granule_state(data), Some(GranuleState::Data));
    assert_eq!(e.entry(L3), [SUCCESS, 3, 1, data, 1]);
    let mut copy = [0u8; G as usize];
    e.m.debug_read(data, &mut copy).unwrap();
    assert!(copy == page, "contents not copied byte-exact");
    e.m.ns_read(src, &mut copy).unwrap();
    assert!(copy == page, "source changed");
    // DESTROYED before.
    e.destroy(L3, data, L3 + SZ2);
    assert_eq!(e.entry(L3), [SUCCESS, 3, 0, 0, 2]);
    let (again, _) = e.create(L3, 10, 0);
    assert_eq!(e.entry(L3), [SUCCESS, 3, 1, again, 1]);
    // RAM before.
    e.init_ripas(L3 + G, L3 + 2 * G, L3 + 2 * G, 3);
    let (ram, _) = e.create(L3 + G, 11, 1);
    assert_eq!(e.entry(L3 + G), [SUCCESS, 3, 1, ram, 1]);
}

/// Measured and unmeasured DATA, INIT_RIPAS at levels 3, 2 and 1, DATA_CREATE_UNKNOWN (no
/// change), activation (no change): the RIM after each step, computed here.
fn rim_sequence(algo: HashAlgorithm) {
    let mut e = Env::new(algo); // checks the initial RIM
    e.rtt_at(L3, 2);
    e.rtt_at(L3, 3);
    e.init_ripas(L3, L3 + 3 * G, L3 + 3 * G, 3);
    e.create(L3, 1, 1);
    e.create(L3 + G, 2, 0);
    e.create(L3 + 5 * G, 3, 1);
    e.create(L3 + 6 * G, 3, 0);
    e.unknown(L3 + 7 * G);
    e.init_ripas(L3 + SZ2, L3 + 3 * SZ2 + 5 * G, L3 + 3 * SZ2, 2);
    e.init_ripas(0, SZ1, SZ1, 1);
    e.create(L3 + 8 * G, 4, 1);
    e.activate();
    e.unknown(L3 + 9 * G);
}

#[test]
fn data_create_rim_sha256() {
    rim_sequence(SHA256);
}

#[test]
fn data_create_rim_sha512() {
    rim_sequence(SHA512);
}

#[test]
fn data_create_unknown_keeps_ripas_unmeasured_and_active() {
    let mut e = Env::with_tables();
    let empty = e.unknown(L3);
    assert_eq!(e.m.granule_state(empty), Some(GranuleState::Data));
    assert_eq!(e.entry(L3), [SUCCESS, 3, 1, empty, 0]);
    e.init_ripas(L3 + G, L3 + 2 * G, L3 + 2 * G, 3);
    let ram = e.unknown(L3 + G);
    assert_eq!(e.entry(L3 + G), [SUCCESS, 3, 1, ram, 1]);
    // DESTROYED after DATA_DESTROY of a RAM page; the reused granule's contents are gone.
    let (old, mut page) = e.create(L3 + 2 * G, 7, 1);
    e.destroy(L3 + 2 * G, old, L3 + SZ2);
    assert_eq!(e.entry(L3 + 2 * G), [SUCCESS, 3, 0, 0, 2]);
    e.unknown_with(old, L3 + 2 * G);
    assert_eq!(e.entry(L3 + 2 * G), [SUCCESS, 3, 1, old, 2]);
    e.m.debug_read(old, &mut page).unwrap();
    assert!(page.iter().all(|&b| b == 0), "not wiped");
    e.activate();
    let active = e.unknown(L3 + 3 * G);
    assert_eq!(e.entry(L3 + 3 * G), [SUCCESS, 3, 1, active, 0]);
}

// ---- RMI_DATA_DESTROY ----

/// A realm with tables, a RAM page at L3 + G, an EMPTY page at L3 + 3G, UNASSIGNED RAM at
/// L3 + 4G and L3 + 5G. Both pages are watched.
fn dd_env() -> Env {
    let mut e = Env::with_tables();
    e.init_ripas(L3 + 4 * G, L3 + 6 * G, L3 + 6 * G, 3);
    let ram = e.create(L3 + G, 1, 1).0;
    let empty = e.unknown(L3 + 3 * G);
    e.watch = vec![ram, empty];
    e
}

// Scenario "RTT walk was not performed, due to any other command failure": top is 0.

#[test]
fn data_destroy_rd_align() {
    let e = dd_env();
    for rd in [e.rd + 1, e.rd + 8, e.rd + 0x800] {
        e.dd_rd(rd, L3 + G, ERROR_INPUT, 0);
    }
}

#[test]
fn data_destroy_rd_bound() {
    let e = dd_env();
    for rd in [NO_MEM, BANK_END, 1 << 48] {
        e.dd_rd(rd, L3 + G, ERROR_INPUT, 0);
    }
}

#[test]
fn data_destroy_rd_state() {
    let mut e = dd_env();
    for rd in [e.rtt, e.watch[0], e.delegated(), e.ns()] {
        e.dd_rd(rd, L3 + G, ERROR_INPUT, 0);
    }
}

#[test]
fn data_destroy_ipa_align() {
    let e = dd_env();
    for offset in [1, 8, 0x800] {
        e.dd(L3 + G + offset, ERROR_INPUT, 0);
    }
}

#[test]
fn data_destroy_ipa_bound() {
    let e = dd_env();
    for ipa in [UNPROT, UNPROT + L3 + G, 1 << 39, !(G - 1)] {
        e.dd(ipa, ERROR_INPUT, 0);
    }
}

#[test]
fn data_destroy_rtt_walk() {
    let e = dd_env();
    // Level 2: the next live entry is the TABLE for L3 + 8 MiB, else the end of the RTT.
    e.dd(L3 + SZ2, error_rtt(2), L3 + 4 * SZ2);
    e.dd(L3 + 2 * SZ2 + G, error_rtt(2), L3 + 4 * SZ2);
    e.dd(L3 + 5 * SZ2, error_rtt(2), 2 * SZ1);
    // Level 1: the TABLE for 1 GiB, else the end (UNASSIGNED_NS entries are not live).
    e.dd(G, error_rtt(1), SZ1);
    e.dd(2 * SZ1, error_rtt(1), 1 << 39);
}

#[test]
fn data_destroy_rtt_walk_block() {
    // Scenario "ipa is mapped as a block": (RMI_ERROR_RTT, 2), top == ipa.
    let mut e = Env::with_tables();
    e.rtt_at(L3 + SZ2, 3);
    e.next = e.next.next_multiple_of(SZ2);
    let first = e.next;
    for i in 0..512 {
        assert_eq!(e.unknown(L3 + SZ2 + i * G), first + i * G);
    }
    assert_eq!(e.call(RMI_RTT_FOLD, &[e.rd, L3 + SZ2, 3])[0], SUCCESS);
    assert_eq!(e.entry(L3 + SZ2), [SUCCESS, 2, 1, first, 0]);
    e.watch = vec![first];
    e.dd(L3 + SZ2, error_rtt(2), L3 + SZ2);
    // Inside the block: the block's IPA (RttSkipNonLiveEntries aligns down).
    e.dd(L3 + SZ2 + 5 * G, error_rtt(2), L3 + SZ2);
}

#[test]
fn data_destroy_rtte_state() {
    // Scenario "ipa is not mapped": (RMI_ERROR_RTT, 3), top > ipa: the next ASSIGNED entry,
    // skipping UNASSIGNED ones whatever their RIPAS, else the end of the RTT.
    let e = dd_env();
    e.dd(L3, error_rtt(3), L3 + G);
    e.dd(L3 + 2 * G, error_rtt(3), L3 + 3 * G);
    e.dd(L3 + 4 * G, error_rtt(3), L3 + SZ2);
    e.dd(L3 + SZ2 - G, error_rtt(3), L3 + SZ2);
    e.dd(L3 + 4 * SZ2, error_rtt(3), L3 + 5 * SZ2);
}

#[test]
fn data_destroy_rd_state_before_rtt_walk_and_rtte_state() {
    let e = dd_env();
    for rd in [NO_MEM, e.rtt] {
        e.dd_rd(rd, L3 + SZ2, ERROR_INPUT, 0);
        e.dd_rd(rd, L3, ERROR_INPUT, 0);
    }
}

#[test]
fn data_destroy_ipa_bound_before_rtt_walk_and_rtte_state() {
    let mut e = dd_env();
    e.dd(UNPROT + SZ1, ERROR_INPUT, 0);
    e.rtt_at(UNPROT, 2);
    e.rtt_at(UNPROT, 3);
    assert_eq!(e.entry(UNPROT)[..2], [SUCCESS, 3]);
    e.dd(UNPROT, ERROR_INPUT, 0);
}

#[test]
fn data_destroy_success_ram_empty_destroyed() {
    let mut e = dd_env();
    let [ram, empty] = [e.watch[0], e.watch[1]];
    let (later, _) = e.create(L3 + 8 * G, 2, 0);
    let (tlbi, vmid_tlbi) = e.m.tlb_invalidations();
    // RAM becomes DESTROYED, invalidated; `top` is the next live entry.
    e.destroy(L3 + G, ram, L3 + 3 * G);
    assert_eq!(e.entry(L3 + G), [SUCCESS, 3, 0, 0, 2]);
    assert_eq!(e.m.tlb_invalidations().0, tlbi + 1);
    // EMPTY stays EMPTY; an invalid entry needs no invalidation.
    e.destroy(L3 + 3 * G, empty, L3 + 8 * G);
    assert_eq!(e.entry(L3 + 3 * G), [SUCCESS, 3, 0, 0, 0]);
    // DESTROYED stays DESTROYED.
    let destroyed = e.unknown(L3 + G);
    assert_eq!(e.entry(L3 + G), [SUCCESS, 3, 1, destroyed, 2]);
    e.destroy(L3 + G, destroyed, L3 + 8 * G);
    assert_eq!(e.entry(L3 + G), [SUCCESS, 3, 0, 0, 2]);
    assert_eq!(e.m.tlb_invalidations().0, tlbi + 1);
    // RAM from DATA_CREATE_UNKNOWN, destroyed in an ACTIVE realm.
    let unknown_ram = e.unknown(L3 + 4 * G);
    e.activate();
    e.destroy(L3 + 8 * G, later, L3 + SZ2);
    e.destroy(L3 + 4 * G, unknown_ram, L3 + SZ2);
    assert_eq!(e.entry(L3 + 4 * G), [SUCCESS, 3, 0, 0, 2]);
    assert_eq!(e.m.tlb_invalidations(), (tlbi + 3, vmid_tlbi));
    for pa in [ram, empty, destroyed, later, unknown_ram] {
        assert_eq!(e.m.granule_state(pa), Some(GranuleState::Delegated));
        assert_eq!(undelegate(&e.m, pa), SUCCESS);
        let mut page = [0xffu8; G as usize];
        e.m.ns_read(pa, &mut page).unwrap();
        assert!(page.iter().all(|&b| b == 0), "{pa:#x} not wiped");
    }
    // Nothing is left live in the level-3 RTT.
    assert_eq!(e.call(RMI_RTT_DESTROY, &[e.rd, L3, 3])[0], SUCCESS);
}

// ---- RMI_RTT_INIT_RIPAS ----

#[test]
fn rtt_init_ripas_rd_align() {
    let e = Env::with_tables();
    for rd in [e.rd + 1, e.rd + 8, e.rd + 0x800] {
        e.ir_rd(rd, L3, L3 + G, ERROR_INPUT);
    }
}

#[test]
fn rtt_init_ripas_rd_bound() {
    let e = Env::with_tables();
    for rd in [NO_MEM, BANK_END, 1 << 48] {
        e.ir_rd(rd, L3, L3 + G, ERROR_INPUT);
    }
}

#[test]
fn rtt_init_ripas_rd_state() {
    let mut e = Env::with_tables();
    let (page, _) = e.create(L3 + 5 * G, 1, 1);
    for rd in [e.rtt, page, e.delegated(), e.ns()] {
        e.ir_rd(rd, L3, L3 + G, ERROR_INPUT);
    }
}

#[test]
fn rtt_init_ripas_size_valid() {
    let e = Env::with_tables();
    for (base, top) in [(L3 + G, L3 + G), (L3 + G, L3), (L3 + SZ2, 0), (0, 0)] {
        e.ir(base, top, ERROR_INPUT);
    }
}

#[test]
fn rtt_init_ripas_top_bound() {
    let e = Env::with_tables();
    for top in [UNPROT + G, UNPROT + SZ2, 1 << 39, (1 << 39) + G, !(G - 1)] {
        e.ir(L3, top, ERROR_INPUT);
    }
}

#[test]
fn rtt_init_ripas_top_bound_edge_accepted() {
    // top - 4 KiB is the last protected granule. The walk stops at level 1, entry 255.
    let mut e = Env::with_tables();
    e.init_ripas(UNPROT - SZ1, UNPROT, UNPROT, 1);
    assert_eq!(e.entry_at(UNPROT - SZ1, 1), [SUCCESS, 1, 0, 0, 1]);
    assert_eq!(e.entry_at(UNPROT, 1), [SUCCESS, 1, 0, 0, 0]);
}

#[test]
fn rtt_init_ripas_top_gran_align() {
    let e = Env::with_tables();
    for top in [L3 + G + 1, L3 + G + 0x800, L3 + 3 * G - 8] {
        e.ir(L3, top, ERROR_INPUT);
    }
}

#[test]
fn rtt_init_ripas_realm_state() {
    let e = Env::with_tables();
    e.activate();
    e.ir(L3, L3 + G, ERROR_REALM);
}

#[test]
fn rtt_init_ripas_base_align() {
    let e = Env::with_tables();
    // The walk stops at level 2 (no level-3 RTT); base is only 4 KiB or 1 MiB aligned.
    e.ir(L3 + SZ2 + G, L3 + 2 * SZ2, error_rtt(2));
    e.ir(L3 + SZ2 + SZ2 / 2, L3 + 3 * SZ2, error_rtt(2));
    // The walk reaches level 3; base is not granule aligned.
    e.ir(L3 + 0x800, L3 + G, error_rtt(3));
    // The walk stops at level 1; base is only 2 MiB or 4 KiB aligned.
    e.ir(SZ2, SZ1, error_rtt(1));
    e.ir(2 * SZ1 + G, 3 * SZ1, error_rtt(1));
}

#[test]
fn rtt_init_ripas_rtte_state() {
    let mut e = Env::with_tables();
    e.create(L3 + G, 1, 1);
    e.unknown(L3 + 4 * SZ2);
    e.ir(L3 + G, L3 + 2 * G, error_rtt(3));
    e.ir(L3 + 4 * SZ2, L3 + 5 * SZ2, error_rtt(3));
}

#[test]
fn rtt_init_ripas_no_progress() {
    // walk_top is `top` aligned down to the walk's level: no whole entry in [base, top).
    let e = Env::with_tables();
    e.ir(L3 + SZ2, L3 + SZ2 + G, error_rtt(2));
    e.ir(L3 + SZ2, L3 + 2 * SZ2 - G, error_rtt(2));
    e.ir(0, SZ2, error_rtt(1));
    e.ir(2 * SZ1, 3 * SZ1 - G, error_rtt(1));
}

#[test]
fn rtt_init_ripas_rd_state_before_realm_state() {
    let e = Env::with_tables();
    e.activate();
    for rd in [NO_MEM, e.rtt] {
        e.ir_rd(rd, L3, L3 + G, ERROR_INPUT);
    }
}

#[test]
fn rtt_init_ripas_rd_state_before_base_align_and_rtte_state() {
    let mut e = Env::with_tables();
    e.unknown(L3 + G);
    for rd in [NO_MEM, e.rtt] {
        e.ir_rd(rd, L3 + SZ2 + G, L3 + 2 * SZ2, ERROR_INPUT); // base_align
        e.ir_rd(rd, L3 + G, L3 + 2 * G, ERROR_INPUT); // rtte_state
    }
}

#[test]
fn rtt_init_ripas_rd_state_before_no_progress() {
    let e = Env::with_tables();
    for rd in [NO_MEM, e.rtt] {
        e.ir_rd(rd, L3 + SZ2, L3 + SZ2 + G, ERROR_INPUT);
    }
}

#[test]
fn rtt_init_ripas_top_gran_align_before_no_progress() {
    let e = Env::with_tables();
    e.ir(L3 + SZ2, L3 + SZ2 + 0x800, ERROR_INPUT);
    e.ir(0, SZ2 + 8, ERROR_INPUT);
}

#[test]
fn rtt_init_ripas_success_level3() {
    let mut e = Env::with_tables();
    let empty = e.unknown(L3 + 2 * G);
    let (page, _) = e.create(L3 + 3 * G, 1, 1);
    e.destroy(L3 + 3 * G, page, L3 + SZ2);
    // Stops at `top`. Every entry in range becomes RAM: the ASSIGNED one becomes valid.
    e.init_ripas(L3, L3 + 5 * G, L3 + 5 * G, 3);
    for (i, state, desc, ripas) in [(0, 0, 0, 1), (2, 1, empty, 1), (3, 0, 0, 1), (5, 0, 0, 0)] {
        assert_eq!(
            e.entry(L3 + i * G),
            [SUCCESS, 3, state, desc, ripas],
            "entry {i}"
        );
    }
    // Stops at the end of the RTT.
    e.init_ripas(L3 + SZ2 - 2 * G, L3 + 3 * SZ2, L3 + SZ2, 3);
    assert_eq!(e.entry(L3 + SZ2 - G), [SUCCESS, 3, 0, 0, 1]);
    assert_eq!(e.entry(L3 + SZ2), [SUCCESS, 2, 0, 0, 0]);
    // RAM again over RAM.
    e.init_ripas(L3 + G, L3 + 2 * G, L3 + 2 * G, 3);
}

#[test]
fn rtt_init_ripas_success_level2_and_level1() {
    let mut e = Env::with_tables();
    // Whole 2 MiB entries: `top` aligned down.
    e.init_ripas(L3 + SZ2, L3 + 3 * SZ2 + 5 * G, L3 + 3 * SZ2, 2);
    assert_eq!(e.entry(L3 + 2 * SZ2 + G), [SUCCESS, 2, 0, 0, 1]);
    assert_eq!(e.entry(L3 + 3 * SZ2), [SUCCESS, 2, 0, 0, 0]);
    // Stops at the TABLE entry for L3 + 8 MiB, whose entries are untouched.
    e.init_ripas(L3 + 3 * SZ2, L3 + 10 * SZ2, L3 + 4 * SZ2, 2);
    assert_eq!(e.entry(L3 + 3 * SZ2), [SUCCESS, 2, 0, 0, 1]);
    assert_eq!(e.entry(L3 + 4 * SZ2), [SUCCESS, 3, 0, 0, 0]);
    // Stops at the end of the level-2 RTT.
    e.init_ripas(2 * SZ1 - 2 * SZ2, 3 * SZ1, 2 * SZ1, 2);
    assert_eq!(e.entry(2 * SZ1 - SZ2), [SUCCESS, 2, 0, 0, 1]);
    // Level 1: stops at the TABLE entry for 1 GiB; then three whole 1 GiB entries.
    e.init_ripas(0, UNPROT, SZ1, 1);
    e.init_ripas(2 * SZ1, 5 * SZ1 + G, 5 * SZ1, 1);
    for (gib, ripas) in [(0, 1), (2, 1), (3, 1), (4, 1), (5, 0)] {
        assert_eq!(
            e.entry_at(gib * SZ1, 1),
            [SUCCESS, 1, 0, 0, ripas],
            "{gib} GiB"
        );
    }
}

// ---- Concurrency ----

#[test]
fn data_destroy_concurrent_with_create_unknown_and_reader() {
    // 4 CPUs each churn their own level-3 RTT of one NEW realm; a 5th reads entries.
    let mut e = Env::new(SHA256);
    e.rtt_at(L3, 2);
    let pools: Vec<[u64; 2]> = (0..4)
        .map(|t| {
            e.rtt_at(L3 + t * SZ2, 3);
            [e.delegated(), e.delegated()]
        })
        .collect();
    let done = AtomicBool::new(false);
    let (m, rd, pools) = (&e.m, e.rd, &pools);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|t| {
                s.spawn(move || {
                    let [pa, pb] = pools[t];
                    let base = L3 + t as u64 * SZ2;
                    for r in 0..500 {
                        let a = base + (2 * r % 512) * G;
                        for (data, ipa) in [(pa, a), (pb, a + G)] {
                            let out = call(m, t, RMI_DATA_CREATE_UNKNOWN, &[rd, data, ipa]);
                            assert_eq!(out[0], SUCCESS, "CPU {t} round {r}");
                        }
                        let out = call(m, t, RMI_DATA_DESTROY, &[rd, a]);
                        assert_eq!(out[..3], [SUCCESS, pa, a + G], "CPU {t} round {r}");
                        let out = call(m, t, RMI_DATA_DESTROY, &[rd, a + G]);
                        assert_eq!(out[..3], [SUCCESS, pb, base + SZ2], "CPU {t} round {r}");
                    }
                })
            })
            .collect();
        s.spawn(|| {
            for n in 0.. {
                if done.load(Ordering::Relaxed) && n > 0 {
                    break;
                }
                for (t, pool) in pools.iter().enumerate() {
                    let ipa = L3 + t as u64 * SZ2 + (n % 512) * G;
                    let out = call(m, 4, RMI_RTT_READ_ENTRY, &[rd, ipa, 3]);
                    let ok = out[..5] == [SUCCESS, 3, 0, 0, 0]
                        || (out[..3] == [SUCCESS, 3, 1] && pool.contains(&out[3]) && out[4] == 0);
                    assert!(ok, "read {ipa:#x}: {:x?}", &out[..5]);
                }
            }
        });
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
    });
    for t in 0..4 {
        for i in (0..512).step_by(37) {
            assert_eq!(e.entry(L3 + t * SZ2 + i * G), [SUCCESS, 3, 0, 0, 0]);
        }
    }
    for pa in pools.iter().flatten() {
        assert_eq!(e.m.granule_state(*pa), Some(GranuleState::Delegated));
    }
    // EMPTY pages are never valid: nothing to invalidate.
    assert_eq!(e.m.tlb_invalidations(), (0, 0));
    e.check_rim();
}

#[test]
fn data_create_concurrent_rim_is_a_sequential_order() {
    // The 24 orders of 4 DATA_CREATEs.
    let mut orders = Vec::new();
    for a in 0..4 {
        for b in (0..4).filter(|&b| b != a) {
            for c in (0..4).filter(|&c| c != a && c != b) {
                orders.push([a, b, c, 6 - a - b - c]);
            }
        }
    }
    assert_eq!(orders.len(), 24);
    for algo in [SHA256, SHA512, SHA256, SHA512] {
        let mut e = Env::new(algo);
        e.rtt_at(L3, 2);
        e.rtt_at(L3, 3);
        // Per CPU t: data, src, contents, ipa, flags.
        let jobs: Vec<(u64, u64, Page, u64, u64)> = (0..4)
            .map(|t| {
                let (src, page) = e.src(t as u8 + 20);
                (e.delegated(), src, page, L3 + t * G, t % 2)
            })
            .collect();
        let barrier = Barrier::new(4);
        let (m, rd, barrier) = (&e.m, e.rd, &barrier);
        std::thread::scope(|s| {
            for (t, &(data, src, _, ipa, flags)) in jobs.iter().enumerate() {
                s.spawn(move || {
                    barrier.wait();
                    let out = call(m, t, RMI_DATA_CREATE, &[rd, data, ipa, src, flags]);
                    assert_eq!(out[0], SUCCESS, "CPU {t}");
                });
            }
        });
        for (data, _, page, ipa, _) in &jobs {
            assert_eq!(e.entry(*ipa), [SUCCESS, 3, 1, *data, 1]);
            let mut copy = [0u8; G as usize];
            e.m.debug_read(*data, &mut copy).unwrap();
            assert!(copy == *page);
        }
        let rim = e.rd_rim();
        let matches = orders.iter().filter(|order| {
            let mut expected = e.rim;
            for &t in order.iter() {
                let (_, _, page, ipa, flags) = &jobs[t];
                ext_data(algo, &mut expected, *ipa, *flags, page);
            }
            expected == rim
        });
        assert_eq!(matches.count(), 1, "RIM matches no sequential order");
    }
}
