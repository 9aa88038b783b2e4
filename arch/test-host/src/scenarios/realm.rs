//! A realm with one REC per CPU, on as many CPUs as QEMU gives (up to 512: REC MPIDRs across
//! Aff1 clusters of 16): created, populated with the program of `realm_code` and activated
//! with only REC 0 runnable. REC 0 starts every other REC with PSCI CPU_ON and checks
//! AFFINITY_INFO before and after for each ([`super::realm_psci`]); then every CPU enters its
//! own REC at the same moment, many times, and the rate of those RMI calls is reported
//! ([`super::realm_enter`]); then everything is destroyed and undelegated.

use super::{realm_enter, realm_psci};
use crate::console::println;
use crate::cpu::{self, MAX_CPUS};
use crate::granule::Granule;
use crate::params::{RealmParams, RecParams, HASH_SHA_256};
use crate::pool::Pool;
use crate::realm_code::{self, MMIO_IPA};
use crate::report::{check, fail, rmi, Outcome, Why};
use crate::rmi::{self as call, MEASURE_CONTENT};
use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use ns_el2::rec_run::rec_mpidr;

/// The realm's IPA width: two concatenated level-1 RTTs at the start (2^40 / 2^39).
const S2SZ: u64 = 40;
const RTT_LEVEL_START: i64 = 1;
const RTT_NUM_START: u64 = 2;
/// Where the program sits: IPA 0, the first page of Protected IPA space.
const CODE_IPA: u64 = 0;
/// REC 0's x0 and the context id of every CPU_ON: the program's stores carry it.
pub const COOKIE: u64 = 0xcafe;
/// Granules delegated besides the RECs': RD, 2 starting-level RTTs, 2 RTTs, DATA.
const MAX_FIXED: usize = 6;

const _: () = assert!(MMIO_IPA >> (S2SZ - 1) == 1, "MMIO_IPA must be Unprotected");

// Per REC, written by CPU 0 (build) before it starts the other CPUs, which read their REC's
// after their job is published (`smp::start`'s Release, the job's Acquire): Relaxed.
/// The REC granule.
pub static REC: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// The RmiRecRun granule.
pub static RUN: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// The first auxiliary granule (they are consecutive), and how far the REC got: the number
/// of its auxiliary granules delegated, plus one once the REC granule is, plus one once the
/// REC is created. CPU 0 only.
static AUX: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static STAGE: [AtomicU8; MAX_CPUS] = [const { AtomicU8::new(0) }; MAX_CPUS];

/// The objects of the realm, as far as they were created.
struct Realm {
    rd: Granule,
    rtt_root: Granule,
    realm_created: bool,
    rtts: [Option<Granule>; 2],
    data: Option<Granule>,
    /// RECs with state in REC, RUN, AUX and STAGE, and their auxiliary granule count.
    recs: usize,
    aux_count: usize,
    fixed: [u64; MAX_FIXED],
    num_fixed: usize,
}

impl Realm {
    /// Delegates `g`, one of the realm's own granules (not a REC's).
    fn delegate_fixed(&mut self, g: Granule) -> Outcome {
        if self.num_fixed == MAX_FIXED {
            fail!("more than {} granules delegated", MAX_FIXED);
        }
        rmi!(
            format_args!("GRANULE_DELEGATE({:#x})", g.pa()),
            call::granule_delegate(g.pa())
        );
        self.fixed[self.num_fixed] = g.pa();
        self.num_fixed += 1;
        Ok(())
    }
}

/// Runs the scenario on `cpus` CPUs (this one, CPU 0, included).
pub fn run(pool: &mut Pool, cpus: usize) {
    let rtt_root = pool.alloc_aligned(RTT_NUM_START);
    let mut realm = Realm {
        rd: pool.alloc(),
        rtt_root,
        realm_created: false,
        rtts: [None; 2],
        data: None,
        recs: 0,
        aux_count: 0,
        fixed: [0; MAX_FIXED],
        num_fixed: 0,
    };
    let start = cpu::ticks();
    let ready = check(
        format_args!("realm_create_populate_activate ({} RECs)", cpus),
        build(&mut realm, pool, cpus),
    );
    println!("test-host: realm set up in {} ms", cpu::millis_since(start));
    if !ready {
        // Clean up what was built; a failure here is worth its own line.
        if let Err(why) = teardown(&mut realm) {
            check(format_args!("realm_cleanup_after_failure"), Err(why));
        }
        return;
    }
    if realm_psci::start_recs(cpus) && !realm_enter::run(cpus) {
        check(
            format_args!("realm_destroy"),
            Err(Why::new(format_args!(
                "skipped: a REC may still be running"
            ))),
        );
        return;
    }
    check(format_args!("realm_destroy"), teardown(&mut realm));
}

/// Creates, populates and activates the realm with one REC per CPU: REC 0 runnable at the
/// program's start (x0 = [`COOKIE`], x1 = [`MMIO_IPA`], x2 = the REC count), the others not.
fn build(realm: &mut Realm, pool: &mut Pool, cpus: usize) -> Outcome {
    let rd = realm.rd;
    realm.delegate_fixed(rd)?;
    for i in 0..RTT_NUM_START {
        let pa = realm.rtt_root.pa() + i * rmm_arch::GRANULE_SIZE;
        let Some(rtt) = crate::pool::granule(pa) else {
            fail!("starting-level RTT {:#x} outside the pool", pa);
        };
        realm.delegate_fixed(rtt)?;
    }
    let params = pool.alloc();
    RealmParams {
        lpa2: false,
        features: Default::default(),
        s2sz: S2SZ,
        num_bps: 1,
        num_wps: 1,
        hash_algo: HASH_SHA_256,
        vmid: 1,
        rtt_base: realm.rtt_root.pa(),
        rtt_level_start: RTT_LEVEL_START,
        rtt_num_start: RTT_NUM_START,
    }
    .write(params);
    rmi!("REALM_CREATE", call::realm_create(rd.pa(), params.pa()));
    realm.realm_created = true;

    for (slot, level) in [(0, 2), (1, 3)] {
        let rtt = pool.alloc();
        realm.delegate_fixed(rtt)?;
        rmi!(
            format_args!("RTT_CREATE(level {})", level),
            call::rtt_create(rd.pa(), rtt.pa(), CODE_IPA, level)
        );
        realm.rtts[slot] = Some(rtt);
    }
    let top = rmi!(
        "RTT_INIT_RIPAS",
        call::rtt_init_ripas(rd.pa(), CODE_IPA, CODE_IPA + rmm_arch::GRANULE_SIZE)
    );
    if top != CODE_IPA + rmm_arch::GRANULE_SIZE {
        fail!(
            "RTT_INIT_RIPAS reached {:#x}, expected {:#x}",
            top,
            CODE_IPA + 0x1000
        );
    }

    let src = pool.alloc();
    let size = realm_code::copy_to(src);
    let data = pool.alloc();
    realm.delegate_fixed(data)?;
    rmi!(
        "DATA_CREATE",
        call::data_create(rd.pa(), data.pa(), CODE_IPA, src.pa(), MEASURE_CONTENT)
    );
    realm.data = Some(data);

    let aux_count = rmi!("REC_AUX_COUNT", call::rec_aux_count(rd.pa())) as usize;
    if aux_count > 16 {
        fail!("REC_AUX_COUNT = {}, more than 16", aux_count);
    }
    realm.aux_count = aux_count;
    let params = pool.alloc();
    for index in 0..cpus {
        create_rec(realm, pool, params, index, cpus)?;
    }
    rmi!("REALM_ACTIVATE", call::realm_activate(rd.pa()));
    println!(
        "test-host: realm RD={:#x}: {}-byte program at IPA {:#x}, {} RECs (MPIDR {:#x} to {:#x}) with {} aux granules each, MMIO IPA {:#x}",
        rd.pa(),
        size,
        CODE_IPA,
        cpus,
        rec_mpidr(0),
        rec_mpidr(cpus - 1),
        aux_count,
        MMIO_IPA
    );
    Ok(())
}

/// Delegates REC `index`'s granules and creates it (its RmiRecParams written into `params`).
fn create_rec(
    realm: &mut Realm,
    pool: &mut Pool,
    params: Granule,
    index: usize,
    cpus: usize,
) -> Outcome {
    let aux_base = pool.alloc_run(realm.aux_count as u64);
    // Relaxed: CPU 0's own bookkeeping (see STAGE).
    AUX[index].store(aux_base.pa(), Ordering::Relaxed);
    STAGE[index].store(0, Ordering::Relaxed);
    realm.recs = index + 1;
    let mut aux = [0u64; 16];
    for (n, slot) in aux.iter_mut().take(realm.aux_count).enumerate() {
        *slot = aux_base.pa() + n as u64 * rmm_arch::GRANULE_SIZE;
        rmi!(
            format_args!("GRANULE_DELEGATE(aux {:#x})", *slot),
            call::granule_delegate(*slot)
        );
        // Relaxed: CPU 0's own bookkeeping (see STAGE).
        STAGE[index].fetch_add(1, Ordering::Relaxed);
    }
    let rec = pool.alloc();
    // Relaxed: see REC.
    REC[index].store(rec.pa(), Ordering::Relaxed);
    rmi!(
        format_args!("GRANULE_DELEGATE(REC {:#x})", rec.pa()),
        call::granule_delegate(rec.pa())
    );
    // Relaxed: see STAGE.
    STAGE[index].fetch_add(1, Ordering::Relaxed);
    params.fill(0);
    RecParams {
        runnable: index == 0,
        mpidr: rec_mpidr(index),
        pc: CODE_IPA,
        gprs: [COOKIE, MMIO_IPA, cpus as u64, 0, 0, 0, 0, 0],
        aux: &aux[..realm.aux_count],
    }
    .write(params);
    rmi!(
        format_args!("REC_CREATE(index {})", index),
        call::rec_create(realm.rd.pa(), rec.pa(), params.pa())
    );
    // Relaxed: see STAGE and REC.
    STAGE[index].fetch_add(1, Ordering::Relaxed);
    RUN[index].store(pool.alloc().pa(), Ordering::Relaxed);
    Ok(())
}

/// Destroys whatever `build` created and undelegates every granule it delegated.
fn teardown(realm: &mut Realm) -> Outcome {
    let rd = realm.rd.pa();
    let mut first: Option<Why> = None;
    let mut note = |why: Why| {
        if first.is_none() {
            first = Some(why);
        }
    };
    let (mut recs, mut undelegated, mut delegated) = (0, 0, realm.num_fixed);
    for index in 0..realm.recs {
        // Relaxed: CPU 0's own writes (the other CPUs only read them).
        let (rec, aux) = (
            REC[index].load(Ordering::Relaxed),
            AUX[index].load(Ordering::Relaxed),
        );
        let stage = usize::from(STAGE[index].load(Ordering::Relaxed));
        if stage == realm.aux_count + 2 {
            match call::rec_destroy(rec) {
                Ok(()) => recs += 1,
                Err(e) => note(Why::new(format_args!("REC_DESTROY({:#x}): {}", rec, e))),
            }
        }
        delegated += stage.min(realm.aux_count + 1);
        let granules = (0..stage.min(realm.aux_count))
            .map(|n| aux + n as u64 * rmm_arch::GRANULE_SIZE)
            .chain((stage > realm.aux_count).then_some(rec));
        for pa in granules {
            match call::granule_undelegate(pa) {
                Ok(()) => undelegated += 1,
                Err(e) => note(Why::new(format_args!(
                    "GRANULE_UNDELEGATE({:#x}): {}",
                    pa, e
                ))),
            }
        }
    }
    if let Some(data) = realm.data {
        match call::data_destroy(rd, CODE_IPA) {
            Ok((pa, _top)) if pa == data.pa() => {}
            Ok((pa, _)) => note(Why::new(format_args!(
                "DATA_DESTROY returned {:#x}, expected {:#x}",
                pa,
                data.pa()
            ))),
            Err(e) => note(Why::new(format_args!("DATA_DESTROY: {}", e))),
        }
    }
    for (slot, level) in [(1, 3), (0, 2)] {
        if let Some(rtt) = realm.rtts[slot] {
            match call::rtt_destroy(rd, CODE_IPA, level) {
                Ok((pa, _top)) if pa == rtt.pa() => {}
                Ok((pa, _)) => note(Why::new(format_args!(
                    "RTT_DESTROY(level {}) returned {:#x}, expected {:#x}",
                    level,
                    pa,
                    rtt.pa()
                ))),
                Err(e) => note(Why::new(format_args!(
                    "RTT_DESTROY(level {}): {}",
                    level, e
                ))),
            }
        }
    }
    if realm.realm_created {
        if let Err(e) = call::realm_destroy(rd) {
            note(Why::new(format_args!("REALM_DESTROY: {}", e)));
        }
    }
    let mut fixed_back = 0;
    for &pa in realm.fixed[..realm.num_fixed].iter().rev() {
        match call::granule_undelegate(pa) {
            Ok(()) => fixed_back += 1,
            Err(e) => note(Why::new(format_args!(
                "GRANULE_UNDELEGATE({:#x}): {}",
                pa, e
            ))),
        }
    }
    undelegated += fixed_back;
    // The realm's program must not survive in the granule the host gets back.
    if let Some(data) = realm.data {
        if fixed_back == realm.num_fixed {
            if let Some(offset) = data.find_not(0) {
                note(Why::new(format_args!(
                    "DATA granule {:#x} not wiped at +{:#x}",
                    data.pa(),
                    offset
                )));
            }
        }
    }
    println!(
        "test-host: teardown: {} RECs destroyed, {} of {} granules undelegated",
        recs, undelegated, delegated
    );
    match first {
        None => Ok(()),
        Some(why) => Err(why),
    }
}
