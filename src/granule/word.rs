//! One granule's atomic state word, and the guard that holds its lock.
//!
//! The word layout, the rules for changing each field and the orderings are the module
//! documentation of [`crate::granule`].

use super::GranuleState;
use crate::sync::{spin_loop, AtomicU32, Ordering};

const STATE_MASK: u32 = 0xf;
const LOCK: u32 = 1 << 4;
const RETIRING: u32 = 1 << 5;
const CLAIMED: u32 = 1 << 6;
const REFCOUNT_SHIFT: u32 = 8;
const REFCOUNT_ONE: u32 = 1 << REFCOUNT_SHIFT;
/// The most references a granule can hold (24 bits).
pub const MAX_REFS: u32 = u32::MAX >> REFCOUNT_SHIFT;

// What holds references, and how many at most (module doc of `crate::granule`): an RD's RECs
// (RMI_FEATURES MAX_RECS_ORDER), an RTT's live entries (512), a REC's pins (one per CPU).
const _: () = assert!(crate::rec::MAX_RECS <= MAX_REFS as u64);
const _: () = assert!(crate::rtt::RTT_ENTRIES as u64 <= MAX_REFS as u64);

// Only `LockedGranule::release` writes STATE, always from a `GranuleState`, so the decode
// cannot fail unless the RMM's own table is corrupt: then no state is right, and halting is.
#[allow(clippy::expect_used)]
fn state_of(word: u32) -> GranuleState {
    GranuleState::from_bits(u64::from(word & STATE_MASK)).expect("granule word holds a valid state")
}

/// The atomic state word of one granule (see [`crate::granule`]): 4 bytes.
pub struct Granule {
    word: AtomicU32,
}

// 4 bytes per granule, 1 MiB per GiB of DRAM (module doc); loom's atomics are larger.
#[cfg(not(loom))]
const _: () = assert!(core::mem::size_of::<Granule>() == 4);

impl Default for Granule {
    fn default() -> Self {
        Self::new()
    }
}

impl Granule {
    /// An UNDELEGATED granule with no references.
    pub fn new() -> Self {
        Self::with_state(GranuleState::Undelegated)
    }

    /// A granule in `state` with no references (for models and tests that start mid-lifecycle).
    pub fn with_state(state: GranuleState) -> Self {
        Self {
            word: AtomicU32::new(state as u32),
        }
    }

    /// The current state, as an observer outside the lock sees it.
    pub fn state(&self) -> GranuleState {
        // Acquire: pairs with the Release of the CAS that published this state.
        state_of(self.word.load(Ordering::Acquire))
    }

    /// Whether the granule is in `state` and not being retired: for lock-free readers of the
    /// object it holds (after announcing their walk, [`crate::percpu`]).
    pub fn is_live_as(&self, state: GranuleState) -> bool {
        // Acquire: pairs with the Release of the CAS that published the state.
        let word = self.word.load(Ordering::Acquire);
        state_of(word) == state && word & RETIRING == 0
    }

    /// The number of references held on the granule, as an observer outside the lock sees it
    /// (for inspection: a lock holder uses [`LockedGranule::refcount`]).
    pub fn refcount(&self) -> u64 {
        // Acquire: pairs with the Release of the unlock or `put_ref` that set it.
        u64::from(self.word.load(Ordering::Acquire) >> REFCOUNT_SHIFT)
    }

    /// Whether a CPU holds the granule's lock or has claimed it (for inspection).
    pub fn is_busy(&self) -> bool {
        self.word.load(Ordering::Relaxed) & (LOCK | CLAIMED) != 0
    }

    /// Locks the granule if its state is `expected`; otherwise returns the state it has.
    ///
    /// A wrong state fails at once, locked or not: STATE only changes under the lock, so the
    /// value read is the granule's state at that instant. The right state, locked by another
    /// CPU, is waited for: that holder is mid-command and never blocks.
    pub fn lock(&self, expected: GranuleState) -> Result<LockedGranule<'_>, GranuleState> {
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            let state = state_of(word);
            if state != expected || word & CLAIMED != 0 {
                // A claimed granule (a running REC) is not waited for: a realm may run for long.
                return Err(state);
            }
            if word & LOCK != 0 {
                spin_loop();
                word = self.word.load(Ordering::Relaxed);
                continue;
            }
            // Acquire: pairs with the Release of the CAS that last unlocked the granule, so the
            // previous holder's writes to its contents are visible to us.
            match self.word.compare_exchange_weak(
                word,
                word | LOCK,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Ok(LockedGranule {
                        granule: self,
                        state,
                    })
                }
                Err(current) => word = current,
            }
        }
    }

    /// Locks the granule if its state is `expected` and no other CPU holds it; never waits.
    ///
    /// For callers that must not wait while they hold something a lock holder may wait for,
    /// such as an announced lock-free walk ([`crate::percpu`]).
    pub fn try_lock(&self, expected: GranuleState) -> Result<LockedGranule<'_>, TryLockError> {
        let word = self.word.load(Ordering::Relaxed);
        let state = state_of(word);
        if state != expected {
            return Err(TryLockError::State(state));
        }
        if word & LOCK != 0 {
            return Err(TryLockError::Locked);
        }
        // Acquire: as in `lock`.
        match self
            .word
            .compare_exchange(word, word | LOCK, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => Ok(LockedGranule {
                granule: self,
                state,
            }),
            Err(now) if state_of(now) != expected => Err(TryLockError::State(state_of(now))),
            Err(_) => Err(TryLockError::Locked),
        }
    }

    /// Waits until no CPU holds the granule's lock or its state is no longer `state`: for a
    /// [`Granule::try_lock`] caller that found it locked and has let go of what it held.
    pub fn wait_unlocked(&self, state: GranuleState) {
        loop {
            let word = self.word.load(Ordering::Relaxed);
            if word & LOCK == 0 || state_of(word) != state {
                return;
            }
            spin_loop();
        }
    }

    /// Locks the granule if its state is `expected` and no CPU has claimed it; pins it if a
    /// CPU has ([`Held::Pinned`]); otherwise returns the state it has. Waits only for a lock
    /// holder, which never runs a realm.
    ///
    /// A pin is a reference taken without the lock, on a claimed granule only: it keeps the
    /// granule in its state, so its memory stays the RMM's, after the claim ends, until the pin
    /// is dropped (PSCI_COMPLETE reading a running target REC's owner and MPIDR). Since LOCK and
    /// CLAIMED exclude each other, no pin appears while a CPU holds the lock: a lock holder that
    /// reads REFCOUNT zero still knows it stays zero.
    pub fn lock_or_pin(&self, expected: GranuleState) -> Result<Held<'_>, GranuleState> {
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            let state = state_of(word);
            if state != expected {
                return Err(state);
            }
            if word & LOCK != 0 {
                spin_loop();
                word = self.word.load(Ordering::Relaxed);
                continue;
            }
            let claimed = word & CLAIMED != 0;
            let new = if claimed {
                // At most one pin per CPU: far below MAX_REFS.
                debug_assert!(
                    word >> REFCOUNT_SHIFT < MAX_REFS,
                    "granule refcount overflow"
                );
                // Below MAX_REFS pins (one per CPU at most), checked above: no carry out.
                word.wrapping_add(REFCOUNT_ONE)
            } else {
                word | LOCK
            };
            // Acquire: a lock pairs with the Release of the CAS that last unlocked the granule,
            // as in `lock`; a pin reads from the RMW chain that began with the Release of the
            // transition that published the object, so the pinner sees it as created.
            match self
                .word
                .compare_exchange_weak(word, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) if claimed => return Ok(Held::Pinned(Pinned { granule: self })),
                Ok(_) => {
                    return Ok(Held::Locked(LockedGranule {
                        granule: self,
                        state,
                    }))
                }
                Err(current) => word = current,
            }
        }
    }

    /// Locks the granule if its state is `expected` and it is not claimed; a claimed granule
    /// fails at once with [`ClaimError::Claimed`] (a running REC gives RMI_ERROR_REC).
    pub fn lock_unclaimed(&self, expected: GranuleState) -> Result<LockedGranule<'_>, ClaimError> {
        match self.lock(expected) {
            Ok(locked) => Ok(locked),
            Err(state) if state != expected => Err(ClaimError::State(state)),
            Err(_) => Err(ClaimError::Claimed),
        }
    }

    /// Drops a reference taken with [`LockedGranule::get_ref`]; needs no lock.
    pub fn put_ref(&self) {
        // Release: pairs with the Acquire in `LockedGranule::refcount`, so a holder that reads
        // zero sees everything this reference's owner did before dropping it.
        let old = self.word.fetch_sub(REFCOUNT_ONE, Ordering::Release);
        debug_assert!(old >= REFCOUNT_ONE, "granule refcount underflow");
    }
}

/// Why [`Granule::lock_unclaimed`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimError {
    /// The granule is in another state.
    State(GranuleState),
    /// Another CPU has claimed it.
    Claimed,
}

/// A granule claimed by one CPU (a running REC), from its lock ([`LockedGranule::claim`]).
/// Dropping it releases the claim.
#[must_use = "dropping the claim releases the granule at once"]
pub struct Claimed<'a> {
    granule: &'a Granule,
}

impl Drop for Claimed<'_> {
    fn drop(&mut self) {
        // Release: pairs with the Acquire of the next lock. One RMW, not a store: pinners
        // (`Granule::lock_or_pin`) may have changed REFCOUNT meanwhile; nothing else has.
        let old = self.granule.word.fetch_and(!CLAIMED, Ordering::Release);
        debug_assert!(old & CLAIMED != 0, "releasing a claim not held");
    }
}

/// What [`Granule::lock_or_pin`] holds.
#[must_use = "dropping the guard lets go of the granule at once"]
pub enum Held<'a> {
    /// The granule was not claimed: locked.
    Locked(LockedGranule<'a>),
    /// Another CPU had claimed the granule: pinned.
    Pinned(Pinned<'a>),
}

/// A reference taken on a claimed granule ([`Granule::lock_or_pin`]): the granule stays in its
/// state until it is dropped.
#[must_use = "dropping the pin releases the granule at once"]
pub struct Pinned<'a> {
    granule: &'a Granule,
}

impl Drop for Pinned<'_> {
    fn drop(&mut self) {
        self.granule.put_ref();
    }
}

/// Why [`Granule::try_lock`] did not lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryLockError {
    /// The granule is in another state.
    State(GranuleState),
    /// Another CPU holds the lock.
    Locked,
}

/// A locked granule. Dropping it unlocks the granule with its state unchanged.
#[must_use = "dropping the guard unlocks the granule at once"]
pub struct LockedGranule<'a> {
    granule: &'a Granule,
    state: GranuleState,
}

impl<'a> LockedGranule<'a> {
    /// The state the granule had when it was locked; it cannot change while locked.
    pub fn state(&self) -> GranuleState {
        self.state
    }

    /// The number of references held on the granule.
    pub fn refcount(&self) -> u64 {
        // Acquire: pairs with the Release in `Granule::put_ref`.
        u64::from(self.granule.word.load(Ordering::Acquire) >> REFCOUNT_SHIFT)
    }

    /// Takes a reference. Only the lock holder may, so zero stays zero while the lock is held.
    pub fn get_ref(&self) {
        // Relaxed: the reference is handed on by the holder's own unlock (Release) or by the
        // command's return; nothing else is published through the count when it rises.
        let old = self.granule.word.fetch_add(REFCOUNT_ONE, Ordering::Relaxed);
        // The holders are bounded below MAX_REFS (the const asserts above).
        debug_assert!(
            old >> REFCOUNT_SHIFT < MAX_REFS,
            "granule refcount overflow"
        );
    }

    /// Turns the lock into a claim, in one CAS: the REC_ENTER that checked the REC under its
    /// lock runs it (while claimed, [`Granule::lock`] fails at once).
    pub fn claim(self) -> Claimed<'a> {
        let granule = self.granule;
        core::mem::forget(self);
        let mut word = granule.word.load(Ordering::Relaxed);
        loop {
            debug_assert!(word & LOCK != 0 && word & CLAIMED == 0);
            // Relaxed: the same CPU keeps the granule; whoever comes next is ordered by the
            // claim's release (Release). A loop: `put_ref` may change REFCOUNT meanwhile.
            match granule.word.compare_exchange_weak(
                word,
                (word & !LOCK) | CLAIMED,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Claimed { granule },
                Err(current) => word = current,
            }
        }
    }

    /// Waits until no reference is held on the granule. For a holder about to change the
    /// state of a granule whose references are short-lived pins ([`Granule::lock_or_pin`] on
    /// a REC): their holders never wait for this lock, so this ends.
    pub fn wait_unreferenced(&self) {
        while self.refcount() != 0 {
            spin_loop();
        }
    }

    /// Marks the granule as retiring: lock-free readers ([`Granule::is_live_as`]) stop using
    /// the object until the granule's next transition clears the mark. The caller then
    /// quiesces walkers ([`crate::percpu::quiesce`]), whose SeqCst fence orders this store.
    pub fn retire(&self) {
        // Relaxed: ordered for walkers by the SeqCst fences of announcing and quiescing.
        self.granule.word.fetch_or(RETIRING, Ordering::Relaxed);
    }

    /// Drops a reference while holding the lock (the count cannot reach zero under a CPU that
    /// checks it, since checking needs this lock).
    pub fn put_ref(&self) {
        // Relaxed: the unlock's Release publishes the change with the holder's other writes.
        let old = self.granule.word.fetch_sub(REFCOUNT_ONE, Ordering::Relaxed);
        debug_assert!(old >= REFCOUNT_ONE, "granule refcount underflow");
    }

    /// Moves the granule to state `to` and unlocks it, in one CAS.
    ///
    /// The caller has checked that no references are held and that spec A2.2.3.2 permits the
    /// transition; both are asserted in debug builds.
    pub fn transition(self, to: GranuleState) {
        debug_assert!(self.state.may_become(to), "{:?} -> {:?}", self.state, to);
        debug_assert_eq!(self.refcount(), 0, "state change with references held");
        self.release(to);
        core::mem::forget(self);
    }

    /// Moves the granule to state `to` with REFCOUNT `refs` and unlocks it, in one CAS: for
    /// counts that describe the granule's own contents, which the holder built or discarded
    /// under the lock (a new RTT's live entries; a folded RTT's, gone with it). Counts of
    /// references other objects hold (an RD's RECs) must go through [`LockedGranule::transition`].
    pub fn transition_counted(self, to: GranuleState, refs: u32) {
        debug_assert!(self.state.may_become(to), "{:?} -> {:?}", self.state, to);
        self.release_with(to, Some(refs));
        core::mem::forget(self);
    }

    fn release(&self, to: GranuleState) {
        self.release_with(to, None)
    }

    fn release_with(&self, to: GranuleState, refs: Option<u32>) {
        let mut word = self.granule.word.load(Ordering::Relaxed);
        loop {
            debug_assert!(word & LOCK != 0, "unlocking a granule that is not locked");
            let mut new = (word & !(STATE_MASK | LOCK | RETIRING)) | to as u32;
            if let Some(refs) = refs {
                debug_assert!(refs <= MAX_REFS, "granule refcount overflow");
                new = new & !(MAX_REFS << REFCOUNT_SHIFT) | refs << REFCOUNT_SHIFT;
            }
            // Release: pairs with the Acquire of the next `Granule::lock` and of
            // `Granule::state`. A loop, not a store: `put_ref` may change REFCOUNT meanwhile.
            match self.granule.word.compare_exchange_weak(
                word,
                new,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(current) => word = current,
            }
        }
    }
}

impl Drop for LockedGranule<'_> {
    fn drop(&mut self) {
        self.release(self.state);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn lock_checks_state_and_excludes() {
        let g = Granule::new();
        assert_eq!(
            g.lock(GranuleState::Delegated).err(),
            Some(GranuleState::Undelegated)
        );
        let locked = g.lock(GranuleState::Undelegated).unwrap();
        assert_eq!(g.word.load(Ordering::Relaxed), LOCK);
        locked.transition(GranuleState::Delegated);
        assert_eq!(g.state(), GranuleState::Delegated);
        assert_eq!(
            g.word.load(Ordering::Relaxed),
            GranuleState::Delegated as u32
        );
    }

    #[test]
    fn drop_unlocks_unchanged_and_keeps_concurrent_put() {
        let g = Granule::with_state(GranuleState::Rd);
        let locked = g.lock(GranuleState::Rd).unwrap();
        locked.get_ref();
        locked.get_ref();
        g.put_ref(); // as another CPU would, without the lock
        assert_eq!(locked.refcount(), 1);
        drop(locked);
        assert_eq!(
            g.word.load(Ordering::Relaxed),
            REFCOUNT_ONE | GranuleState::Rd as u32
        );
        g.put_ref();
        let locked = g.lock(GranuleState::Rd).unwrap();
        assert_eq!(locked.refcount(), 0);
        locked.transition(GranuleState::Delegated);
        assert_eq!(g.state(), GranuleState::Delegated);
    }

    #[test]
    fn try_lock_never_waits() {
        let g = Granule::with_state(GranuleState::Rtt);
        assert_eq!(
            g.try_lock(GranuleState::Data).err(),
            Some(TryLockError::State(GranuleState::Rtt))
        );
        let held = g.try_lock(GranuleState::Rtt).unwrap();
        assert_eq!(
            g.try_lock(GranuleState::Rtt).err(),
            Some(TryLockError::Locked)
        );
        assert_eq!(
            g.try_lock(GranuleState::Rd).err(),
            Some(TryLockError::State(GranuleState::Rtt)),
            "a wrong state is reported even while locked"
        );
        g.wait_unlocked(GranuleState::Data); // another state: returns at once
        drop(held);
        g.wait_unlocked(GranuleState::Rtt);
        assert!(g.try_lock(GranuleState::Rtt).is_ok());
    }

    #[test]
    fn claim_from_the_lock_excludes_locks_and_keeps_pins() {
        let g = Granule::with_state(GranuleState::Rec);
        let claimed = g.lock_unclaimed(GranuleState::Rec).unwrap().claim();
        assert_eq!(
            g.word.load(Ordering::Relaxed),
            CLAIMED | GranuleState::Rec as u32
        );
        assert_eq!(
            g.lock_unclaimed(GranuleState::Rec).err(),
            Some(ClaimError::Claimed)
        );
        assert_eq!(g.lock(GranuleState::Rec).err(), Some(GranuleState::Rec));
        assert_eq!(
            g.lock_unclaimed(GranuleState::Rd).err(),
            Some(ClaimError::State(GranuleState::Rec))
        );
        // A claimed granule is pinned, not locked; the pin outlives the claim.
        let Ok(Held::Pinned(pin)) = g.lock_or_pin(GranuleState::Rec) else {
            panic!("a claimed granule is pinned")
        };
        assert_eq!(g.refcount(), 1);
        assert_eq!(
            g.lock_or_pin(GranuleState::Rd).err(),
            Some(GranuleState::Rec)
        );
        drop(claimed);
        assert_eq!(
            g.word.load(Ordering::Relaxed),
            REFCOUNT_ONE | GranuleState::Rec as u32
        );
        // Unclaimed, it is locked; the holder waits for the pin to go before a transition.
        let Ok(Held::Locked(locked)) = g.lock_or_pin(GranuleState::Rec) else {
            panic!("an unclaimed granule is locked")
        };
        assert_eq!(locked.refcount(), 1);
        drop(pin);
        locked.wait_unreferenced();
        locked.transition(GranuleState::Delegated);
        assert_eq!(
            g.word.load(Ordering::Relaxed),
            GranuleState::Delegated as u32
        );
        assert_eq!(
            g.lock_unclaimed(GranuleState::Rec).err(),
            Some(ClaimError::State(GranuleState::Delegated))
        );
    }

    #[test]
    fn state_encodings_round_trip() {
        for state in GranuleState::ALL {
            assert_eq!(GranuleState::from_bits(state as u64), Some(state));
        }
        assert_eq!(GranuleState::from_bits(GranuleState::ALL.len() as u64), None);
    }

    #[test]
    fn spec_transitions_all_pass_through_delegated() {
        use GranuleState::*;
        for from in GranuleState::ALL {
            for to in GranuleState::ALL {
                let expected = match (from, to) {
                    (Undelegated, Delegated) => true,
                    (Delegated, t) => t != Delegated,
                    (f, Delegated) => f != Undelegated,
                    _ => false,
                };
                assert_eq!(from.may_become(to), expected, "{from:?} -> {to:?}");
            }
        }
    }
}
