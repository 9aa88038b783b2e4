//! Granules: the 4 KiB units of delegable memory and their lifecycle states (spec A2.2).
//!
//! # The granule word
//!
//! The RMM tracks each granule of delegable memory with one atomic 32-bit word in the
//! [`GranuleTable`]: 4 bytes per 4 KiB granule, 1 MiB of RMM memory per GiB of DRAM. There is
//! no other granule metadata and no global lock: every state transition is a compare-and-swap
//! on that word.
//!
//! | bits  | field    | meaning                                                            |
//! |-------|----------|--------------------------------------------------------------------|
//! | 3:0   | STATE    | [`GranuleState`] encoding                                          |
//! | 4     | LOCK     | set while one CPU holds the granule ([`Granule::lock`])            |
//! | 5     | RETIRING | set by the holder of an object lock-free readers use (an RD) before |
//! |       |          | tearing it down; cleared by the next transition                    |
//! | 6     | CLAIMED  | set while a CPU has claimed the granule (a running REC,            |
//! |       |          | [`LockedGranule::claim`])                                          |
//! | 7     | reserved | zero                                                               |
//! | 31:8  | REFCOUNT | references held on the granule; its meaning depends on the state   |
//!
//! REFCOUNT holds at most [`MAX_REFS`] (2^24 - 1); what takes references is bounded far below
//! that, and checked at compile time in `word.rs`: an RD's RECs (at most 2^15 - 1, RMI_FEATURES
//! MAX_RECS_ORDER, refused beyond by REC_CREATE's `num_recs`), an RTT's live entries (512), a
//! REC's pins (one per CPU at most). Which CPU runs a claimed REC is not kept: nothing needs it.
//!
//! # Who may change what
//!
//! - **LOCK** is set by [`Granule::lock`], a CAS from an unlocked word whose STATE is the one the
//!   caller expects, and cleared by dropping the [`LockedGranule`] or by
//!   [`LockedGranule::transition`]. Only the holder clears it. A CPU that finds the granule
//!   locked spins: holders never block (no lock is held while a realm runs, or across an RMI
//!   return).
//! - **STATE** changes only while LOCK is held and REFCOUNT is zero, and only along the arcs of
//!   spec A2.2.3.2 ([`GranuleState::may_become`]). The new state is published by the same CAS
//!   that clears LOCK.
//! - **CLAIMED** is set by [`LockedGranule::claim`], which turns the caller's lock into a claim in
//!   one CAS (REC_ENTER checks the REC under its lock, then runs it claimed), and cleared by
//!   dropping the [`Claimed`] guard with one Release RMW. While a granule is claimed no other
//!   CPU locks it ([`Granule::lock`] fails at once instead of waiting, since a realm may run
//!   for long) and only pinners write its word (REFCOUNT). Claim and lock exclude each other,
//!   so the object's contents have one user at a time.
//! - **RETIRING** is set only by the lock holder ([`LockedGranule::retire`]) and cleared by
//!   the transition that ends the lock. Lock-free readers check it with
//!   [`Granule::is_live_as`].
//! - **REFCOUNT** is incremented only under LOCK ([`LockedGranule::get_ref`]) or, as a pin,
//!   on a claimed word ([`Granule::lock_or_pin`]: a reader of a REC another CPU runs). LOCK
//!   and CLAIMED exclude each other, so a holder that reads zero knows no new reference can
//!   appear while it holds the lock. It may be decremented without LOCK by whoever owns a
//!   reference ([`Granule::put_ref`], dropping a [`Pinned`]). Unlock, transition, claim and
//!   its release are RMWs, so a concurrent change is never lost. A holder that changes the
//!   state of a granule that may be pinned waits for the pins to go
//!   ([`LockedGranule::wait_unreferenced`]); pins are held for a few reads and their holders
//!   never wait for that lock.
//! - **Contents** of a granule in an RMM-owned state are protected by LOCK or by a reference,
//!   per state (documented where each state's object is defined). An unlocked DELEGATED granule
//!   is all zero (spec A2.2.4): the RMM wipes it before publishing DELEGATED.
//!
//! # Orderings
//!
//! - The Acquire of a successful [`Granule::lock`] pairs with the Release of the CAS that last
//!   unlocked the granule ([`LockedGranule::transition`] or the guard's drop) or released its
//!   claim: the new holder sees every write the previous holder made to the granule's
//!   contents, wiping included.
//! - The Release of [`Granule::put_ref`] pairs with the Acquire of [`LockedGranule::refcount`]:
//!   a holder that reads zero sees everything the last reference holder did before dropping it.
//! - The Acquire of a pin reads from the chain of RMWs on the word that began with the Release
//!   of the transition that published the object: the pinner sees the object as created.
//! - [`Granule::state`] is an Acquire load for observers outside the lock (tests, inspection);
//!   it pairs with the Release of the unlocking CAS.
//!
//! Adjacent granules share a cache line (sixteen words per 64 bytes): the host chooses which
//! physical addresses a realm uses, so two realms can own neighbouring granules. Padding each
//! word to a line would cost 1.6% of DRAM; we accept the shared line instead.

mod table;
mod word;

pub use table::{BankError, GranuleTable};
pub use word::{ClaimError, Claimed, Granule, Held, LockedGranule, Pinned, TryLockError, MAX_REFS};

/// The lifecycle state of a granule (spec A2.2.3.1, RmmGranuleState).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum GranuleState {
    /// Not delegated for use by the RMM.
    Undelegated = 0,
    /// Delegated for use by the RMM; contents are zero.
    Delegated = 1,
    /// Realm Descriptor.
    Rd = 2,
    /// Realm Execution Context.
    Rec = 3,
    /// REC auxiliary granule.
    RecAux = 4,
    /// Realm code or data.
    Data = 5,
    /// Realm Translation Table.
    Rtt = 6,
}

impl GranuleState {
    #[cfg(test)]
    const ALL: [GranuleState; 7] = [
        Self::Undelegated,
        Self::Delegated,
        Self::Rd,
        Self::Rec,
        Self::RecAux,
        Self::Data,
        Self::Rtt,
    ];

    /// Decodes the STATE field; `None` for an encoding no state uses.
    pub const fn from_bits(bits: u64) -> Option<Self> {
        match bits {
            0 => Some(Self::Undelegated),
            1 => Some(Self::Delegated),
            2 => Some(Self::Rd),
            3 => Some(Self::Rec),
            4 => Some(Self::RecAux),
            5 => Some(Self::Data),
            6 => Some(Self::Rtt),
            _ => None,
        }
    }

    /// Whether spec A2.2.3.2 permits a transition from `self` to `to`: every arc goes through
    /// DELEGATED.
    pub const fn may_become(self, to: GranuleState) -> bool {
        matches!(
            (self, to),
            (Self::Undelegated, Self::Delegated)
                | (
                    Self::Delegated,
                    Self::Undelegated
                        | Self::Rd
                        | Self::Rec
                        | Self::RecAux
                        | Self::Data
                        | Self::Rtt
                )
                | (
                    Self::Rd | Self::Rec | Self::RecAux | Self::Data | Self::Rtt,
                    Self::Delegated
                )
        )
    }
}
