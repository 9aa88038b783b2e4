//! Walking a realm's RTTs (spec A5.5.10): without locks for readers, one locked table for
//! writers.
//!
//! # Design
//!
//! **Entries.** An RTT is a granule of 512 descriptors, each one 64-bit word read and written
//! with single-copy-atomic loads and stores, as the hardware walker also reads them. A reader
//! therefore always sees a whole descriptor, old or new, never a mix. Entry stores are Release
//! and entry loads Acquire: a TABLE entry is stored only after its child table is filled, so a
//! reader that follows it sees the child's entries.
//!
//! **Writers lock one table.** A command that changes entries walks to the table that holds
//! them without locks, then `try_lock`s that table's granule and walks again to check the
//! table is still the one reached for that IPA and level (it may have been destroyed and its
//! granule reused meanwhile). Only the entries of a locked table change. A table's place in the
//! tree cannot change while it is locked: unlinking it (RTT_DESTROY, RTT_FOLD) needs its own
//! lock too, and its ancestors cannot be unlinked while they hold a TABLE entry (they are
//! live). So a writer never locks the root on every walk, and writers on different tables of
//! one realm run in parallel.
//!
//! **Readers lock nothing.** A reader (RTT_READ_ENTRY; later the realm fault path and
//! RSI_IPA_STATE_GET) announces its walk on its CPU ([`crate::percpu`]), checks the realm is
//! still alive, walks, and reads one entry: a consistent value by single-copy atomicity.
//!
//! **No table is reused under a reader.** A table can only be unlinked when it is not live
//! (no ASSIGNED or TABLE entry: its granule REFCOUNT, kept equal to that count, is zero) and
//! while its parent and itself are locked. After storing the parent's new entry, the destroyer
//! calls [`crate::percpu::quiesce`], which waits for every walk of the realm announced before
//! the unlink; only then is the granule wiped and made DELEGATED. Realm destruction does the
//! same for the starting-level tables and the RD after marking the RD as dying. An announced
//! CPU never waits for a lock (it uses `try_lock`, and on contention ends its announcement
//! before waiting), so a destroyer that holds locks while it quiesces cannot deadlock.
//!
//! **Lock order.** RD, then RTTs from the root towards the leaves (a parent before its child),
//! then the granule a command moves to or from DELEGATED (new RTT, DATA, REC, REC_AUX), several
//! of those in ascending PA order. [`crate::granule::Granule::lock`] fails at once on a wrong
//! state, and announced walkers only `try_lock`, so waiting happens only along this order.
//!
//! **Counts.** Each RTT granule's REFCOUNT is the number of its entries that make it live
//! (ASSIGNED or TABLE). [`LockedTable::set`] keeps it exact, so RTT_DESTROY decides liveness in
//! O(1), and RTT_FOLD rejects a table that is neither all-live nor all-non-live in O(1).

use super::{Level, RttConfig, RttEntry, RttEntryState, RttFormat};
use crate::granule::{GranuleState, LockedGranule, TryLockError};
use crate::platform::{GranuleMemory, Platform};
use crate::sync::{MemoryWord, Ordering};
use crate::{Rmm, GRANULE_SHIFT};

/// A realm's RTT tree: where its starting-level tables are, and its shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttTree {
    /// PA of the realm's RD.
    pub rd: u64,
    /// PA of the first starting-level RTT.
    pub base: u64,
    /// The realm's VMID, for TLB maintenance.
    pub vmid: u16,
    /// IPA width, starting level, number of starting-level RTTs.
    pub config: RttConfig,
}

/// Where a walk stopped (RmmRttWalkResult, A5.5.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalkResult {
    /// The level of the entry the walk reached.
    pub level: Level,
    /// PA of the RTT that holds the entry.
    pub table: u64,
    /// Index of the entry in that RTT.
    pub index: usize,
    /// The entry.
    pub entry: RttEntry,
}

impl WalkResult {
    /// The IPA of entry `index` of the table this walk reached, for an `ipa` it covers.
    pub fn entry_ipa(&self, ipa: u64, index: usize) -> u64 {
        let table_span_shift = self.level.table_shift();
        let table_base = ipa >> table_span_shift << table_span_shift;
        // IPAs are below 2^52 and `index` at most 512 (the IPA just past the table): the sum
        // is at most 2^53.
        table_base.saturating_add((index as u64) << self.level.shift())
    }

    /// RttSkipNonLiveEntries (B3.76) on the table this walk reached in the realm whose shape is
    /// `config`, from `ipa`: the IPA of the first live entry (ASSIGNED, ASSIGNED_NS or TABLE)
    /// at or after `ipa`'s, or the IPA just past the table's last entry.
    ///
    /// An RTT is a stage 2 translation table of the architecture (A5.5.1), and the input to a
    /// walk is below 2^ipa_width (A5.5.10): a single starting-level RTT whose granule spans
    /// more than the IPA space (a 36-bit realm from level 1, a 49-bit one from level -1) has
    /// only the entries of the IPA space, so its last entry ends at 2^ipa_width, and `top`
    /// never exceeds it (the granule's other words are never read by the hardware, and never
    /// live here).
    pub fn skip_non_live(&self, mem: &GranuleMemory, ipa: u64, config: RttConfig) -> u64 {
        let first = self.level.entry_index(ipa);
        let format = self.entry.format();
        let entries = config.entries_in_ipa_space(self.level);
        let live = (first..entries).find(|&i| read_entry(mem, i, self.level, format).is_live());
        self.entry_ipa(ipa, live.unwrap_or(entries))
    }
}

impl WalkResult {
    /// RttSkipEntriesWithRipas (B3.75) with `stop_at_destroyed` false, on the table this walk
    /// reached: from `base`, the IPA of the first TABLE entry, or the IPA just past the table,
    /// or `top` if smaller; aligned down to the walk's level.
    pub fn skip_entries_with_ripas(&self, mem: &GranuleMemory, base: u64, top: u64) -> u64 {
        self.skip_entries_with_ripas_stopping(mem, base, top, false)
    }

    /// RttSkipEntriesWithRipas (B3.75): as [`WalkResult::skip_entries_with_ripas`], also
    /// stopping at an entry whose RIPAS is DESTROYED when `stop_at_destroyed`.
    pub fn skip_entries_with_ripas_stopping(
        &self,
        mem: &GranuleMemory,
        base: u64,
        top: u64,
        stop_at_destroyed: bool,
    ) -> u64 {
        let first = self.level.entry_index(base);
        let format = self.entry.format();
        let entries = self.level.table_entries();
        let table = (first..entries).find(|&i| {
            let entry = read_entry(mem, i, self.level, format);
            entry.state() == RttEntryState::Table
                || (stop_at_destroyed && entry.ripas() == Some(super::Ripas::Destroyed))
        });
        let end = self.entry_ipa(base, table.unwrap_or(entries));
        self.level.align_down(end.min(top))
    }
}

/// The word of entry `index` in an RTT.
// In range: every index is an RttEntryIndex (9 bits, `Level::entry_index`), below
// `Level::table_entries` (at most 512) or one of the 512 of a loop over a whole RTT, and a
// granule has 512 words. Another index is an RMM bug, for which halting is right.
#[allow(clippy::indexing_slicing)]
fn entry_word(mem: &GranuleMemory, index: usize) -> &MemoryWord {
    &mem[index]
}

/// Reads entry `index` of an RTT at `level` of a realm whose descriptors are in `format`.
// RTTs are Realm PAS memory that only the RMM writes, always from an `RttEntry` valid at the
// table's level: an unknown descriptor means the RMM's own tables are corrupt, and then no
// answer is right and halting is (as for a granule word, `granule::word`).
#[allow(clippy::expect_used)]
pub fn read_entry(mem: &GranuleMemory, index: usize, level: Level, format: RttFormat) -> RttEntry {
    // Acquire: pairs with the Release in `write_entry`; a TABLE entry's child is filled.
    let raw = entry_word(mem, index).load(Ordering::Acquire);
    RttEntry::from_raw_at(raw, level, format).expect("RTT entries are written only by the RMM")
}

/// Writes entry `index` of an RTT; the caller holds the table (its lock, or it is not linked).
pub fn write_entry(mem: &GranuleMemory, index: usize, entry: RttEntry) {
    // Release: pairs with the Acquire in `read_entry`.
    entry_word(mem, index).store(entry.raw(), Ordering::Release)
}

impl RttTree {
    /// The tree the RD at `rd` describes now; `None` if its configuration is not a valid one
    /// (never, for a live RD). The caller holds the RD's lock, or has announced a walk of it.
    pub fn of<P: Platform>(rmm: &Rmm<P>, rd: u64) -> Option<RttTree> {
        let realm = crate::realm::Rd::new(rmm.platform().granule(rd)).config();
        let config = RttConfig::new(
            realm.ipa_width.into(),
            realm.rtt_level_start.into(),
            realm.rtt_num_start,
            RttFormat::from_lpa2(realm.features.lpa2),
            rmm.platform().cpu_features().pa_bits.into(),
        )
        .ok()?;
        Some(RttTree {
            rd,
            base: realm.rtt_base,
            vmid: realm.vmid,
            config,
        })
    }

    /// Whether the realm this tree was read from is alive and still describes this tree. The
    /// caller has announced a walk of `self.rd`. An RD destroyed and created again since the
    /// tree was read may be another realm: with a different tree it is refused; with the same
    /// one, acting on it is acting on the realm as it is now, which is what the host named.
    pub fn is_current<P: Platform>(&self, rmm: &Rmm<P>) -> bool {
        rmm.realm_is_alive(self.rd) && RttTree::of(rmm, self.rd).as_ref() == Some(self)
    }

    /// The starting-level RTT and entry index for `ipa`, which is in the realm's IPA space.
    fn start(&self, ipa: u64) -> (u64, usize) {
        let (table, index) = self.config.start_entry(ipa).unwrap_or_default();
        // `table` is below 16, and REALM_CREATE's `rtt_align` put all the starting-level RTTs
        // below 2^64 from `base`.
        (self.base.saturating_add((table as u64) << GRANULE_SHIFT), index)
    }

    /// Walks towards `level` for `ipa` without locks (RttWalk, B3.78): stops at `level` or at
    /// the first entry that is not TABLE.
    ///
    /// The caller has announced a walk of this realm and checked it is alive (or holds a lock
    /// that keeps the tables on the path in place), and `ipa` is in the realm's IPA space.
    pub fn walk<P: Platform>(&self, platform: &P, ipa: u64, level: Level) -> WalkResult {
        let (mut table, mut index) = self.start(ipa);
        let mut at = self.config.start_level();
        let format = self.config.format();
        loop {
            let entry = read_entry(platform.granule(table), index, at, format);
            let next = match (entry.state(), at.child()) {
                (RttEntryState::Table, Some(child)) if at != level => child,
                _ => {
                    return WalkResult {
                        level: at,
                        table,
                        index,
                        entry,
                    }
                }
            };
            table = entry.output_address().unwrap_or_default();
            at = next;
            index = at.entry_index(ipa);
        }
    }
}

/// An RTT whose lock is held, reached by a walk.
pub struct LockedTable<'a> {
    /// The walk that reached it.
    pub walk: WalkResult,
    granule: LockedGranule<'a>,
    mem: &'a GranuleMemory,
}

impl<'a> LockedTable<'a> {
    /// The table's memory.
    pub fn memory(&self) -> &'a GranuleMemory {
        self.mem
    }

    /// Entry `index`.
    pub fn entry(&self, index: usize) -> RttEntry {
        read_entry(self.mem, index, self.walk.level, self.walk.entry.format())
    }

    /// Sets entry `index`, keeping the table's count of live entries exact.
    pub fn set(&self, index: usize, entry: RttEntry) {
        let old = self.entry(index);
        match (old.state().makes_rtt_live(), entry.state().makes_rtt_live()) {
            (false, true) => self.granule.get_ref(),
            // The table's own lock is held: the count cannot reach zero under another CPU.
            (true, false) => self.granule.put_ref(),
            _ => {}
        }
        write_entry(self.mem, index, entry);
    }

    /// The number of entries that make the table live (ASSIGNED or TABLE).
    pub fn live_entries(&self) -> u64 {
        self.granule.refcount()
    }

    /// Unlocks the table and moves its granule to `state` (RTT_DESTROY, RTT_FOLD, realm
    /// destruction). The caller has unlinked it, quiesced walkers and wiped it: its entries
    /// are gone, and so is their count.
    pub fn transition(self, state: GranuleState) {
        self.granule.transition_counted(state, 0)
    }
}

/// Locks the RTT where a walk for `ipa` towards `level` stops, on behalf of CPU `cpu`: the
/// table holding the level-`level` entry, or a shallower one whose entry is not TABLE.
///
/// Returns `None` if the realm at `tree.rd` is no longer alive or no longer has this tree
/// ([`RttTree::is_current`]). `ipa` is in the realm's IPA space and `level` is valid for it.
pub fn lock_table<'a, P: Platform>(
    rmm: &'a Rmm<P>,
    cpu: usize,
    tree: &RttTree,
    ipa: u64,
    level: Level,
) -> Option<LockedTable<'a>> {
    loop {
        let announced = rmm.cpu(cpu).announce_walk(tree.rd);
        if !tree.is_current(rmm) {
            return None;
        }
        let walk = tree.walk(rmm.platform(), ipa, level);
        let granule = rmm.granules().get(walk.table)?;
        match granule.try_lock(GranuleState::Rtt) {
            Ok(locked) => {
                // Still the table a walk reaches? It may have been unlinked and reused between
                // the walk and the lock; once locked it cannot be unlinked.
                let again = tree.walk(rmm.platform(), ipa, level);
                drop(announced);
                if again.table == walk.table && again.level == walk.level {
                    return Some(LockedTable {
                        walk: again,
                        granule: locked,
                        mem: rmm.platform().granule(walk.table),
                    });
                }
            }
            Err(TryLockError::Locked) => {
                // Never wait while announced: a destroyer holding this lock may be waiting
                // for our announcement to end.
                drop(announced);
                granule.wait_unlocked(GranuleState::Rtt);
            }
            Err(TryLockError::State(_)) => {}
        }
    }
}
