//! loom model of the REC ownership handle: REC_ENTER locks a REC, checks it and turns the lock
//! into a claim with one CAS, and releases it with one RMW; REC_DESTROY and PSCI_COMPLETE lock
//! it only when it is not running, and PSCI_COMPLETE pins a running one instead.
//!
//! The racing commands run on spawned threads and the main thread only joins them: loom 0.7
//! misses the race between a load of one thread and a later load-then-CAS of another on the
//! same word (its DPOR keeps only the last access, which the second thread's own load
//! replaces: tokio-rs/loom#392), so a model whose main thread reads first explores a single
//! interleaving.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use rmm::granule::{ClaimError, Granule, GranuleState, Held};

/// A REC granule's word and the REC's contents (its registers, and its owner, which only
/// REC_CREATE and REC_DESTROY write), watched by loom.
struct Rec {
    granule: Granule,
    registers: UnsafeCell<u64>,
    owner: UnsafeCell<u64>,
}
// SAFETY: `registers` is only reached through `with`/`with_mut`, which loom checks for
// unsynchronised access: the model's point is that claim and lock give one user at a time.
unsafe impl Sync for Rec {}

impl Rec {
    fn write(&self, value: u64) {
        // SAFETY: checked by loom (see the `Sync` impl).
        self.registers.with_mut(|r| unsafe { *r = value });
    }
    fn read(&self) -> u64 {
        // SAFETY: checked by loom (see the `Sync` impl).
        self.registers.with(|r| unsafe { *r })
    }
    fn set_owner(&self, value: u64) {
        // SAFETY: checked by loom (see the `Sync` impl).
        self.owner.with_mut(|r| unsafe { *r = value });
    }
    fn owner(&self) -> u64 {
        // SAFETY: checked by loom (see the `Sync` impl).
        self.owner.with(|r| unsafe { *r })
    }
}

/// The RD the model's REC belongs to.
const RD: u64 = 0xd000;

#[derive(Debug, PartialEq)]
enum Outcome {
    Done,
    Running,
    Gone,
}

fn new_rec() -> Arc<Rec> {
    let rec = Arc::new(Rec {
        granule: Granule::with_state(GranuleState::Delegated),
        registers: UnsafeCell::new(0),
        owner: UnsafeCell::new(0),
    });
    let locked = rec.granule.lock(GranuleState::Delegated).unwrap();
    rec.set_owner(RD);
    locked.transition(GranuleState::Rec);
    rec
}

/// REC_ENTER: lock, claim, run (the registers change), release.
fn enter(rec: &Rec) -> Outcome {
    match rec.granule.lock_unclaimed(GranuleState::Rec) {
        Ok(locked) => {
            let _claimed = locked.claim();
            rec.write(rec.read() + 1);
            Outcome::Done
        }
        Err(ClaimError::Claimed) => Outcome::Running,
        Err(ClaimError::State(_)) => Outcome::Gone,
    }
}

/// REC_DESTROY: lock an idle REC, wipe it, DELEGATED; returns what it last saw.
fn destroy(rec: &Rec) -> (Outcome, u64) {
    match rec.granule.lock_unclaimed(GranuleState::Rec) {
        Ok(locked) => {
            locked.wait_unreferenced();
            let last = rec.read();
            rec.write(0);
            rec.set_owner(0);
            locked.transition(GranuleState::Delegated);
            (Outcome::Done, last)
        }
        Err(ClaimError::Claimed) => (Outcome::Running, 0),
        Err(ClaimError::State(_)) => (Outcome::Gone, 0),
    }
}

/// PSCI_COMPLETE on a target REC: lock it while idle and update its registers.
fn psci_complete(rec: &Rec) -> Outcome {
    match rec.granule.lock_unclaimed(GranuleState::Rec) {
        Ok(_locked) => {
            rec.write(rec.read() + 10);
            Outcome::Done
        }
        Err(ClaimError::Claimed) => Outcome::Running,
        Err(ClaimError::State(_)) => Outcome::Gone,
    }
}

/// Whether the REC can be claimed now: neither claimed nor locked.
fn claimable(rec: &Rec) -> bool {
    rec.granule
        .lock_unclaimed(GranuleState::Rec)
        .map(|locked| drop(locked.claim()))
        .is_ok()
}

/// REC_ENTER races REC_DESTROY: the REC has one user at a time (loom checks the
/// registers), a running REC refuses destroy at once and a destroyed one refuses entry, and
/// the word ends unclaimed and unlocked.
#[test]
fn enter_and_destroy_never_share_a_rec() {
    loom::model(|| {
        let rec = new_rec();
        let entering: Vec<_> = (0..1)
            .map(|_| {
                let rec = rec.clone();
                thread::spawn(move || enter(&rec))
            })
            .collect();
        let destroying = {
            let rec = rec.clone();
            thread::spawn(move || destroy(&rec))
        };
        let (destroyed, last) = destroying.join().unwrap();
        let entered: Vec<Outcome> = entering.into_iter().map(|t| t.join().unwrap()).collect();
        let runs = entered.iter().filter(|o| **o == Outcome::Done).count() as u64;
        match destroyed {
            // The destroy saw every run that happened before it.
            Outcome::Done => {
                assert!(last <= runs);
                assert_eq!(rec.granule.state(), GranuleState::Delegated);
            }
            _ => assert!(runs >= 1, "only a running REC refuses destroy"),
        }
        if destroyed != Outcome::Done {
            assert_eq!(rec.read(), runs);
        }
        assert_eq!(
            claimable(&rec),
            destroyed != Outcome::Done,
            "left claimed or locked"
        );
    });
}

/// PSCI_COMPLETE on a target REC that may be running: locked if not (its registers may change),
/// pinned if it is (its owner is read, nothing else). Returns the owner it read.
fn psci_complete_target(rec: &Rec) -> Option<u64> {
    match rec.granule.lock_or_pin(GranuleState::Rec) {
        Ok(Held::Locked(_locked)) => {
            rec.write(rec.read() + 10);
            Some(rec.owner())
        }
        Ok(Held::Pinned(_pinned)) => Some(rec.owner()),
        Err(_) => None,
    }
}

/// PSCI_COMPLETE pins a target that REC_ENTER runs, reads its owner, and lets go; meanwhile the
/// run ends and a REC_DESTROY locks the REC: the destroy waits for the pin, so the owner read is
/// never a wiped (or, on hardware, undelegated) granule's, and loom sees no unordered access.
/// (The REC is claimed before the threads start and its run ends on the main thread, so that
/// at most one thread spins at a time: see `two_enters_never_share_a_rec`.)
#[test]
fn psci_complete_pins_a_running_target_and_destroy_waits() {
    loom::model(|| {
        let rec = new_rec();
        let claimed = rec
            .granule
            .lock_unclaimed(GranuleState::Rec)
            .unwrap()
            .claim();
        let completing = {
            let rec = rec.clone();
            thread::spawn(move || psci_complete_target(&rec))
        };
        let destroying = {
            let rec = rec.clone();
            thread::spawn(move || destroy(&rec))
        };
        drop(claimed); // the run ends
        let owner = completing.join().unwrap();
        let (destroyed, _) = destroying.join().unwrap();
        // Whenever PSCI_COMPLETE found the REC, it read the owner REC_CREATE wrote.
        assert!(owner.is_none() || owner == Some(RD), "read {owner:x?}");
        let state = rec.granule.state();
        match destroyed {
            Outcome::Done => assert_eq!(state, GranuleState::Delegated),
            _ => assert_eq!(state, GranuleState::Rec),
        }
        assert_eq!(rec.granule.refcount(), 0, "no pin left");
        assert_eq!(claimable(&rec), destroyed != Outcome::Done);
    });
}

/// REC_ENTER races a PSCI_COMPLETE that updates the REC: each has it to itself or the
/// PSCI_COMPLETE fails at once while the REC runs; no update is lost.
#[test]
fn enter_and_psci_complete_never_share_a_rec() {
    loom::model(|| {
        let rec = new_rec();
        let entering = {
            let rec = rec.clone();
            thread::spawn(move || enter(&rec))
        };
        let completing = {
            let rec = rec.clone();
            thread::spawn(move || psci_complete(&rec))
        };
        let completed = completing.join().unwrap();
        let entered = entering.join().unwrap();
        assert_eq!(entered, Outcome::Done, "a lock holder is waited for");
        let expected = 1 + if completed == Outcome::Done { 10 } else { 0 };
        assert_eq!(rec.read(), expected);
        assert!(claimable(&rec));
    });
}

/// Two CPUs REC_ENTER one REC: the loser fails at once (ERROR_REC) unless the winner has
/// already released it, and a run is never lost. (Two claimers waiting on a lock holder at
/// once is left out: loom's scheduler cannot finish two spinners under a preemption bound.)
#[test]
fn two_enters_never_share_a_rec() {
    loom::model(|| {
        let rec = new_rec();
        let other = {
            let rec = rec.clone();
            thread::spawn(move || enter(&rec))
        };
        let mine = {
            let rec = rec.clone();
            thread::spawn(move || enter(&rec))
        };
        let mine = mine.join().unwrap();
        let theirs = other.join().unwrap();
        let runs = [mine, theirs]
            .iter()
            .filter(|o| **o == Outcome::Done)
            .count();
        assert!(runs >= 1, "one of them runs");
        assert_eq!(rec.read(), runs as u64);
        assert!(claimable(&rec));
    });
}

/// REC_CREATE publishes a REC only once it is whole (issue 14, item 1): it locks the REC and
/// its aux granule (DELEGATED) in PA order, the REC first, makes the aux REC_AUX and the REC
/// REC last. A REC_DESTROY on another CPU that finds the REC finds its aux REC_AUX, so no aux
/// granule is ever left REC_AUX without its REC.
#[test]
fn rec_create_publishes_the_rec_after_its_aux() {
    loom::model(|| {
        let rec = Arc::new(Granule::with_state(GranuleState::Delegated));
        let aux = Arc::new(Granule::with_state(GranuleState::Delegated));
        let creating = {
            let (rec, aux) = (rec.clone(), aux.clone());
            thread::spawn(move || {
                let rec_locked = rec.lock(GranuleState::Delegated).unwrap();
                let aux_locked = aux.lock(GranuleState::Delegated).unwrap();
                aux_locked.transition(GranuleState::RecAux);
                rec_locked.transition(GranuleState::Rec);
            })
        };
        // REC_DESTROY: the REC, then its aux.
        let destroying = {
            let (rec, aux) = (rec.clone(), aux.clone());
            thread::spawn(move || match rec.lock_unclaimed(GranuleState::Rec) {
                Ok(rec_locked) => {
                    let aux_locked = aux
                        .lock(GranuleState::RecAux)
                        .expect("a published REC's aux granule is REC_AUX");
                    aux_locked.transition(GranuleState::Delegated);
                    rec_locked.transition(GranuleState::Delegated);
                    true
                }
                Err(_) => false,
            })
        };
        creating.join().unwrap();
        let destroyed = destroying.join().unwrap();
        let expected = if destroyed {
            [GranuleState::Delegated; 2]
        } else {
            [GranuleState::Rec, GranuleState::RecAux]
        };
        assert_eq!([rec.state(), aux.state()], expected);
    });
}
