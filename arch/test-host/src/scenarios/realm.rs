//! A realm with one REC per CPU: created, populated with the program of `realm_code`, activated;
//! every CPU then enters its own REC at the same moment, twice; then everything is destroyed and
//! undelegated.

use crate::console::println;
use crate::cpu::{self, Deadline, MAX_CPUS};
use crate::granule::Granule;
use crate::params::{
    write_rec_enter, RealmParams, RecExit, RecParams, ENTER_EMUL_MMIO, EXIT_SYNC, HASH_SHA_256,
};
use crate::pool::Pool;
use crate::report::{check, fail, rmi, Outcome};
use crate::rmi::{self as call, MEASURE_CONTENT};
use crate::{realm_code, smp};
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The realm's IPA width: two concatenated level-1 RTTs at the start (2^40 / 2^39).
const S2SZ: u64 = 40;
const RTT_LEVEL_START: i64 = 1;
const RTT_NUM_START: u64 = 2;
/// Where the program sits: IPA 0, the first page of Protected IPA space.
const CODE_IPA: u64 = 0;
/// An unmapped Unprotected IPA (top IPA bit set) the program stores to.
const MMIO_IPA: u64 = 1 << (S2SZ - 1) | 0x1000;
/// x0 of every REC: the program stores `COOKIE << 16 | REC index`.
const COOKIE: u64 = 0xcafe;
/// Most granules the scenario delegates: RD, 2 + 2 RTTs, DATA, and per REC the REC and up to
/// 16 auxiliary granules.
const MAX_DELEGATED: usize = 6 + MAX_CPUS * 17;

/// ESR_EL2.EC of a Data Abort from a lower exception level; ISV and WnR.
const EC_DABT_LOWER: u64 = 0x24;
const ESR_ISV: u64 = 1 << 24;
const ESR_WNR: u64 = 1 << 6;

// What each CPU needs to enter its REC: written by CPU 0 before it starts the CPU, which reads
// them after its job is published (`smp::start`'s Release, the job's Acquire).
static REC: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static RUN: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// CPUs other than 0 that have reached the barrier (each adds with Release; CPU 0 reads with
/// Acquire).
static ARRIVED: AtomicUsize = AtomicUsize::new(0);
/// Set by CPU 0 (Release) when every CPU is at the barrier: all enter their RECs now. The
/// others read it with Acquire.
static GO: AtomicUsize = AtomicUsize::new(0);
/// CPUs other than 0 done with their REC (Release; CPU 0 reads with Acquire, which also makes
/// their PASS/FAIL counts visible).
static DONE: AtomicUsize = AtomicUsize::new(0);

/// The objects of the realm, as far as they were created.
struct Realm {
    rd: Granule,
    rtt_root: Granule,
    realm_created: bool,
    rtts: [Option<Granule>; 2],
    data: Option<Granule>,
    recs: [Option<Granule>; MAX_CPUS],
    runs: [Option<Granule>; MAX_CPUS],
    delegated: [u64; MAX_DELEGATED],
    num_delegated: usize,
}

impl Realm {
    /// Takes a granule from the pool and delegates it.
    fn delegate(&mut self, pool: &mut Pool) -> Result<Granule, crate::report::Why> {
        let g = pool.alloc();
        self.delegate_granule(g)?;
        Ok(g)
    }

    fn delegate_granule(&mut self, g: Granule) -> Outcome {
        rmi!(
            format_args!("GRANULE_DELEGATE({:#x})", g.pa()),
            call::granule_delegate(g.pa())
        );
        if self.num_delegated == MAX_DELEGATED {
            fail!("more than {} granules delegated", MAX_DELEGATED);
        }
        self.delegated[self.num_delegated] = g.pa();
        self.num_delegated += 1;
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
        recs: [None; MAX_CPUS],
        runs: [None; MAX_CPUS],
        delegated: [0; MAX_DELEGATED],
        num_delegated: 0,
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
    if !enter_everywhere(&realm, cpus) {
        check(
            format_args!("realm_destroy"),
            Err(crate::report::Why::new(format_args!(
                "skipped: a REC may still be running"
            ))),
        );
        return;
    }
    check(format_args!("realm_destroy"), teardown(&mut realm));
}

/// Creates, populates and activates the realm with one REC per CPU.
fn build(realm: &mut Realm, pool: &mut Pool, cpus: usize) -> Outcome {
    let rd = realm.rd;
    realm.delegate_granule(rd)?;
    for i in 0..RTT_NUM_START {
        let pa = realm.rtt_root.pa() + i * rmm_arch::GRANULE_SIZE;
        let Some(rtt) = crate::pool::granule(pa) else {
            fail!("starting-level RTT {:#x} outside the pool", pa);
        };
        realm.delegate_granule(rtt)?;
    }
    let params = pool.alloc();
    RealmParams {
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
        let rtt = realm.delegate(pool)?;
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
    let data = realm.delegate(pool)?;
    rmi!(
        "DATA_CREATE",
        call::data_create(rd.pa(), data.pa(), CODE_IPA, src.pa(), MEASURE_CONTENT)
    );
    realm.data = Some(data);

    let aux_count = rmi!("REC_AUX_COUNT", call::rec_aux_count(rd.pa()));
    if aux_count > 16 {
        fail!("REC_AUX_COUNT = {}, more than 16", aux_count);
    }
    for index in 0..cpus {
        let mut aux = [0u64; 16];
        for slot in aux.iter_mut().take(aux_count as usize) {
            *slot = realm.delegate(pool)?.pa();
        }
        let rec = realm.delegate(pool)?;
        let params = pool.alloc();
        let mut gprs = [0u64; 8];
        gprs[0] = COOKIE;
        gprs[1] = MMIO_IPA;
        RecParams {
            mpidr: cpu::mpidr_of(index),
            pc: CODE_IPA,
            gprs,
            aux: &aux[..aux_count as usize],
        }
        .write(params);
        rmi!(
            format_args!("REC_CREATE(index {})", index),
            call::rec_create(rd.pa(), rec.pa(), params.pa())
        );
        realm.recs[index] = Some(rec);
        realm.runs[index] = Some(pool.alloc());
    }
    rmi!("REALM_ACTIVATE", call::realm_activate(rd.pa()));
    println!(
        "test-host: realm RD={:#x}: {}-byte program at IPA {:#x}, {} RECs with {} aux granules each, MMIO IPA {:#x}",
        rd.pa(),
        size,
        CODE_IPA,
        cpus,
        aux_count,
        MMIO_IPA
    );
    Ok(())
}

/// Brings up the other CPUs, meets them at a barrier, and has every CPU enter its REC at once.
/// False if some CPU may still be using its REC.
fn enter_everywhere(realm: &Realm, cpus: usize) -> bool {
    for index in 0..cpus {
        let (Some(rec), Some(run)) = (realm.recs[index], realm.runs[index]) else {
            return true;
        };
        // Relaxed: published by `smp::start` below.
        REC[index].store(rec.pa(), Ordering::Relaxed);
        RUN[index].store(run.pa(), Ordering::Relaxed);
    }
    let mut started = 0;
    for index in 1..cpus {
        match smp::start(index, rec_job) {
            Ok(()) => started += 1,
            Err(status) => {
                check(
                    format_args!("cpu_on_cpu{}", index),
                    Err(crate::report::Why::new(format_args!(
                        "PSCI CPU_ON returned {}",
                        status
                    ))),
                );
            }
        }
    }
    // Acquire: pairs with each CPU's Release increment of ARRIVED.
    let all_here = cpu::wait_until(Deadline::after_seconds(60), || {
        ARRIVED.load(Ordering::Acquire) == started
    });
    if !all_here {
        check(
            format_args!("cpus_at_barrier"),
            Err(crate::report::Why::new(format_args!(
                "{} of {} started CPUs arrived within 60 s",
                ARRIVED.load(Ordering::Acquire),
                started
            ))),
        );
    }
    println!(
        "test-host: {} CPUs at the barrier; entering {} RECs at once",
        ARRIVED.load(Ordering::Acquire) + 1,
        cpus
    );
    // Release: pairs with the Acquire spin in `rec_job`.
    GO.store(1, Ordering::Release);
    let outcome = enter_rec(0);
    check(format_args!("rec_enter_cpu0"), outcome);

    // Acquire: pairs with each CPU's Release increment of DONE (their REC is no longer in use).
    let arrived = ARRIVED.load(Ordering::Acquire);
    let all_done = cpu::wait_until(Deadline::after_seconds(120), || {
        DONE.load(Ordering::Acquire) == arrived
    });
    if !all_done {
        check(
            format_args!("rec_enter_all_cpus"),
            Err(crate::report::Why::new(format_args!(
                "{} of {} CPUs finished within 120 s",
                DONE.load(Ordering::Acquire),
                arrived
            ))),
        );
        return false;
    }
    check(
        format_args!("cpu_off_all_secondaries"),
        if smp::all_off(cpus, 30) {
            Ok(())
        } else {
            Err(crate::report::Why::new(format_args!(
                "AFFINITY_INFO did not report every other CPU off within 30 s"
            )))
        },
    );
    all_here || started == 0
}

/// The job of the other CPUs (`smp::start`): meet at the barrier, enter this CPU's REC.
fn rec_job(index: usize) {
    // Release: pairs with CPU 0's Acquire load of ARRIVED.
    ARRIVED.fetch_add(1, Ordering::Release);
    // Acquire: pairs with CPU 0's Release store of GO.
    let go = cpu::wait_until(Deadline::after_seconds(120), || {
        GO.load(Ordering::Acquire) != 0
    });
    let outcome = if go {
        enter_rec(index)
    } else {
        Err(crate::report::Why::new(format_args!("no GO from CPU 0")))
    };
    check(format_args!("rec_enter_cpu{}", index), outcome);
    // Release: pairs with CPU 0's Acquire load of DONE; our REC is free from here on.
    DONE.fetch_add(1, Ordering::Release);
}

/// Enters this CPU's REC twice: each time the realm's store to MMIO_IPA must come back as an
/// emulatable Data Abort with the value it stored; the second entry completes the first store
/// (emul_mmio), so the realm resumes after it and stores the next value.
fn enter_rec(index: usize) -> Outcome {
    // Relaxed: ordered after the Acquire that took this CPU's job (or written by this CPU).
    let rec = REC[index].load(Ordering::Relaxed);
    let Some(run) = crate::pool::granule(RUN[index].load(Ordering::Relaxed)) else {
        fail!("no RmiRecRun granule for CPU {}", index);
    };
    for (n, flags) in [(0, 0), (1, ENTER_EMUL_MMIO)] {
        write_rec_enter(run, flags, &[]);
        rmi!(
            format_args!("REC_ENTER #{} of REC {:#x}", n + 1, rec),
            call::rec_enter(rec, run.pa())
        );
        let exit = RecExit::read(run);
        let expected = realm_code::expected_store(COOKIE, index as u64, n);
        check_exit(&exit, expected).map_err(|why| {
            crate::report::Why::new(format_args!("exit #{}: {}", n + 1, why.as_str()))
        })?;
    }
    Ok(())
}

fn check_exit(exit: &RecExit, expected: u64) -> Outcome {
    let ec = exit.esr >> 26;
    if exit.exit_reason != EXIT_SYNC
        || ec != EC_DABT_LOWER
        || exit.esr & ESR_ISV == 0
        || exit.esr & ESR_WNR == 0
    {
        fail!(
            "reason {} ESR {:#x} FAR {:#x} HPFAR {:#x}, expected SYNC, EC 0x24 with ISV and WnR",
            exit.exit_reason,
            exit.esr,
            exit.far,
            exit.hpfar
        );
    }
    if exit.fault_ipa() != MMIO_IPA {
        fail!(
            "fault IPA {:#x} (HPFAR {:#x} FAR {:#x}), expected {:#x}",
            exit.fault_ipa(),
            exit.hpfar,
            exit.far,
            MMIO_IPA
        );
    }
    if exit.gpr0 != expected {
        fail!("stored value {:#x}, expected {:#x}", exit.gpr0, expected);
    }
    Ok(())
}

/// Destroys whatever `build` created and undelegates every granule it delegated.
fn teardown(realm: &mut Realm) -> Outcome {
    let rd = realm.rd.pa();
    let mut first: Option<crate::report::Why> = None;
    let mut note = |why: crate::report::Why| {
        if first.is_none() {
            first = Some(why);
        }
    };
    let mut recs = 0;
    for rec in realm.recs.iter().flatten() {
        match call::rec_destroy(rec.pa()) {
            Ok(()) => recs += 1,
            Err(e) => note(crate::report::Why::new(format_args!(
                "REC_DESTROY({:#x}): {}",
                rec.pa(),
                e
            ))),
        }
    }
    if let Some(data) = realm.data {
        match call::data_destroy(rd, CODE_IPA) {
            Ok((pa, _top)) if pa == data.pa() => {}
            Ok((pa, _)) => note(crate::report::Why::new(format_args!(
                "DATA_DESTROY returned {:#x}, expected {:#x}",
                pa,
                data.pa()
            ))),
            Err(e) => note(crate::report::Why::new(format_args!("DATA_DESTROY: {}", e))),
        }
    }
    for (slot, level) in [(1, 3), (0, 2)] {
        if let Some(rtt) = realm.rtts[slot] {
            match call::rtt_destroy(rd, CODE_IPA, level) {
                Ok((pa, _top)) if pa == rtt.pa() => {}
                Ok((pa, _)) => note(crate::report::Why::new(format_args!(
                    "RTT_DESTROY(level {}) returned {:#x}, expected {:#x}",
                    level,
                    pa,
                    rtt.pa()
                ))),
                Err(e) => note(crate::report::Why::new(format_args!(
                    "RTT_DESTROY(level {}): {}",
                    level, e
                ))),
            }
        }
    }
    if realm.realm_created {
        if let Err(e) = call::realm_destroy(rd) {
            note(crate::report::Why::new(format_args!(
                "REALM_DESTROY: {}",
                e
            )));
        }
    }
    let mut undelegated = 0;
    for &pa in realm.delegated[..realm.num_delegated].iter().rev() {
        match call::granule_undelegate(pa) {
            Ok(()) => undelegated += 1,
            Err(e) => note(crate::report::Why::new(format_args!(
                "GRANULE_UNDELEGATE({:#x}): {}",
                pa, e
            ))),
        }
    }
    // The realm's program must not survive in the granule the host gets back.
    if let Some(data) = realm.data {
        if undelegated == realm.num_delegated {
            if let Some(offset) = data.find_not(0) {
                note(crate::report::Why::new(format_args!(
                    "DATA granule {:#x} not wiped at +{:#x}",
                    data.pa(),
                    offset
                )));
            }
        }
    }
    println!(
        "test-host: teardown: {} RECs destroyed, {} of {} granules undelegated",
        recs, undelegated, realm.num_delegated
    );
    match first {
        None => Ok(()),
        Some(why) => Err(why),
    }
}
