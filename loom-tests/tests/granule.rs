//! loom models of the granule-word protocol (`rmm::granule`), built from the core's source with
//! loom's atomics: `RUSTFLAGS="--cfg loom" cargo test -p loom-tests --profile loom`.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicU8, Ordering};
use loom::sync::Arc;
use loom::thread;
use rmm::granule::{Granule, GranuleState};
use rmm::platform::{CpuFeatures, GranuleMemory, GtsiRefused, NsAccessFault, Platform};
use rmm::rec::IdRegisters;
use rmm::Rmm;

const PA: u64 = 0x8000_0000;
const NS: u8 = 0;
const REALM: u8 = 1;
const DELEGATE: u64 = 0xC400_0151;
const UNDELEGATE: u64 = 0xC400_0152;

/// One granule of memory and its GPT entry, with loom watching every access to the contents.
/// `granule_zero` and `granule_is_zero` go to `contents`, which loom watches; `memory` only
/// satisfies the trait (these models use no other access).
struct OneGranule {
    gpt: AtomicU8,
    contents: UnsafeCell<u64>,
    memory: GranuleMemory,
    ids: IdRegisters,
}

// SAFETY: `contents` is only reached through `UnsafeCell::with`/`with_mut`, which loom checks
// for unsynchronised concurrent access in every interleaving: that check is the model's point.
unsafe impl Sync for OneGranule {}

impl Platform for OneGranule {
    fn gtsi_delegate(&self, _: u64) -> Result<(), GtsiRefused> {
        // AcqRel, as EL3's table update is ordered with the caller's accesses.
        self.gpt
            .compare_exchange(NS, REALM, Ordering::AcqRel, Ordering::Acquire)
            .map(drop)
            .map_err(|_| GtsiRefused)
    }
    fn gtsi_undelegate(&self, _: u64) -> Result<(), GtsiRefused> {
        self.gpt
            .compare_exchange(REALM, NS, Ordering::AcqRel, Ordering::Acquire)
            .map(drop)
            .map_err(|_| GtsiRefused)
    }
    fn granule(&self, _: u64) -> &GranuleMemory {
        &self.memory
    }
    fn granule_zero(&self, _: u64) {
        // SAFETY: checked by loom (see the `Sync` impl).
        self.contents.with_mut(|c| unsafe { *c = 0 });
    }
    fn granule_is_zero(&self, _: u64) -> bool {
        // SAFETY: checked by loom (see the `Sync` impl).
        self.contents.with(|c| unsafe { *c == 0 })
    }
    fn ns_read(&self, pa: u64, _: &mut [u8]) -> Result<(), NsAccessFault> {
        Err(NsAccessFault { pa })
    }
    fn ns_write(&self, pa: u64, _: &[u8]) -> Result<(), NsAccessFault> {
        Err(NsAccessFault { pa })
    }
    fn tlbi_range(&self, _: u16, _: u64, _: u64) {}
    fn tlbi_vmid(&self, _: u16) {}
    fn run_realm(
        &self,
        _: usize,
        _: u64,
        _: &mut rmm::rec::VcpuContext,
        _: &dyn rmm::platform::RealmMemory,
    ) -> rmm::rec::RealmTrap {
        rmm::rec::RealmTrap::Irq
    }
    fn cpu_features(&self) -> CpuFeatures {
        CpuFeatures {
            pa_bits: 40,
            lpa2: false,
            breakpoints: 2,
            watchpoints: 2,
            gic_list_registers: 4,
            vmid_bits: 8,
            sve_vl: None,
            pmu_counters: None,
        }
    }
    fn id_registers(&self) -> &IdRegisters {
        &self.ids
    }
}

fn call(rmm: &Rmm<OneGranule>, cpu: usize, fid: u64) -> bool {
    rmm.handle_rmi(cpu, &[fid, PA, 0, 0, 0, 0, 0, 0])[0] == 0
}

/// Two delegates and an undelegate race on one granule that holds host data. Whatever the
/// interleaving: successes balance with the final state, the GPT agrees with it, a delegated
/// granule holds zeros, and no two CPUs touch the contents unsynchronised.
#[test]
fn delegate_undelegate_race_keeps_state_gpt_and_contents_consistent() {
    loom::model(|| {
        let platform = OneGranule {
            gpt: AtomicU8::new(NS),
            contents: UnsafeCell::new(0xff),
            memory: std::array::from_fn(|_| Default::default()),
            ids: IdRegisters([0; IdRegisters::COUNT]),
        };
        let rmm = Arc::new(Rmm::new(platform, &[(PA, 4096)], 3).unwrap());
        let threads: Vec<_> = [(0, DELEGATE), (1, UNDELEGATE), (2, DELEGATE)]
            .into_iter()
            .map(|(cpu, fid)| {
                let rmm = rmm.clone();
                thread::spawn(move || (fid, call(&rmm, cpu, fid)))
            })
            .collect();
        let mut balance = 0i32;
        for t in threads {
            match t.join().unwrap() {
                (DELEGATE, true) => balance += 1,
                (UNDELEGATE, true) => balance -= 1,
                _ => {}
            }
        }
        let state = rmm.granules().get(PA).unwrap().state();
        let gpt = rmm.platform().gpt.load(Ordering::Acquire);
        match balance {
            1 => {
                assert_eq!(state, GranuleState::Delegated);
                assert_eq!(gpt, REALM);
                assert!(
                    rmm.platform().granule_is_zero(PA),
                    "delegated granule not wiped"
                );
            }
            0 => {
                assert_eq!(state, GranuleState::Undelegated);
                assert_eq!(gpt, NS);
            }
            b => panic!("delegates and undelegates do not balance: {b}"),
        }
    });
}

/// A reference dropped without the lock (as REC_DESTROY drops its RD reference) races a lock
/// holder that destroys the granule only when no reference is left (as REALM_DESTROY), and a
/// third CPU that takes a reference under the lock (as REC_CREATE). The destroyer that sees zero
/// also sees what the last reference holder wrote, and no reference survives on a destroyed
/// granule.
#[test]
fn refcount_zero_check_excludes_new_references_and_sees_released_writes() {
    loom::model(|| {
        let rd = Arc::new(Granule::with_state(GranuleState::Delegated));
        rd.lock(GranuleState::Delegated)
            .unwrap()
            .transition(GranuleState::Rd);
        rd.lock(GranuleState::Rd).unwrap().get_ref();
        let written = Arc::new(Written(UnsafeCell::new(0)));

        let holder = {
            let (rd, written) = (rd.clone(), written.clone());
            thread::spawn(move || {
                // SAFETY: checked by loom (see the `Sync` impl of `Written`).
                written.0.with_mut(|w| unsafe { *w = 1 });
                rd.put_ref();
            })
        };
        let creator = {
            let rd = rd.clone();
            thread::spawn(move || match rd.lock(GranuleState::Rd) {
                Ok(locked) => {
                    locked.get_ref();
                    true
                }
                Err(state) => {
                    assert_eq!(state, GranuleState::Delegated);
                    false
                }
            })
        };
        let destroyer = {
            let (rd, written) = (rd.clone(), written.clone());
            thread::spawn(move || {
                let locked = rd.lock(GranuleState::Rd).unwrap();
                if locked.refcount() != 0 {
                    return false;
                }
                // SAFETY: checked by loom (see the `Sync` impl of `Written`).
                assert_eq!(written.0.with(|w| unsafe { *w }), 1);
                locked.transition(GranuleState::Delegated);
                true
            })
        };
        holder.join().unwrap();
        let created = creator.join().unwrap();
        let destroyed = destroyer.join().unwrap();
        assert!(
            !(created && destroyed),
            "a reference was taken on a destroyed granule"
        );
        let final_state = rd.state();
        let refs = rd.lock(final_state).unwrap().refcount();
        match destroyed {
            true => assert_eq!((final_state, refs), (GranuleState::Delegated, 0)),
            false => assert_eq!((final_state, refs), (GranuleState::Rd, u64::from(created))),
        }
    });
}

struct Written(UnsafeCell<u64>);
// SAFETY: the cell is only reached through `with`/`with_mut`, which loom checks.
unsafe impl Sync for Written {}

/// Two lock holders update data the lock protects while a third CPU drops a reference without
/// the lock: the updates are mutually exclusive, and unlocking never loses the concurrent drop.
#[test]
fn lock_is_exclusive_and_unlock_keeps_concurrent_put() {
    loom::model(|| {
        let g = Arc::new(Granule::with_state(GranuleState::Delegated));
        g.lock(GranuleState::Delegated)
            .unwrap()
            .transition(GranuleState::Rd);
        g.lock(GranuleState::Rd).unwrap().get_ref();
        let counter = Arc::new(Written(UnsafeCell::new(0)));
        let lockers: Vec<_> = (0..2)
            .map(|_| {
                let (g, counter) = (g.clone(), counter.clone());
                thread::spawn(move || {
                    let _locked = g.lock(GranuleState::Rd).unwrap();
                    // SAFETY: checked by loom (see the `Sync` impl of `Written`).
                    counter.0.with_mut(|c| unsafe { *c += 1 });
                })
            })
            .collect();
        let putter = {
            let g = g.clone();
            thread::spawn(move || g.put_ref())
        };
        lockers.into_iter().for_each(|t| t.join().unwrap());
        putter.join().unwrap();
        let locked = g.lock(GranuleState::Rd).unwrap();
        assert_eq!(locked.refcount(), 0);
        // SAFETY: all other threads have been joined.
        assert_eq!(counter.0.with(|c| unsafe { *c }), 2);
    });
}
