//! Whole-RTT logic: liveness, homogeneity, folding and unfolding (spec A5.5.6 to A5.5.8).
//!
//! The functions take the entries of one RTT as an iterator, in index order, so that the
//! caller chooses how to read the table. An RTT has [`RTT_ENTRIES`] entries; an iterator that
//! yields another number is never homogeneous or contiguous.

use super::entry::RttEntry;
use super::geometry::{Level, RTT_ENTRIES};
use super::state::{Ripas, RttEntryState};

/// B3.64 RttIsLive: some entry is ASSIGNED or TABLE (A5.5.8).
pub fn rtt_is_live<I: IntoIterator<Item = RttEntry>>(entries: I) -> bool {
    entries.into_iter().any(RttEntry::makes_rtt_live)
}

/// B3.54 RttAllEntriesState: every entry is in state `state`.
pub fn rtt_all_entries_state<I>(entries: I, state: RttEntryState) -> bool
where
    I: IntoIterator<Item = RttEntry>,
{
    entries.into_iter().all(|e| e.state() == state)
}

/// B3.53 RttAllEntriesRipas: every entry has RIPAS `ripas` (so every entry is protected).
pub fn rtt_all_entries_ripas<I: IntoIterator<Item = RttEntry>>(entries: I, ripas: Ripas) -> bool {
    entries.into_iter().all(|e| e.ripas() == Some(ripas))
}

/// B3.52 RttAllEntriesContiguous: the [`RTT_ENTRIES`] entries of an RTT at `level` have
/// output addresses `addr`, `addr + size`, `addr + 2 * size`, ... (size: [`Level::size`]).
pub fn rtt_all_entries_contiguous<I>(entries: I, addr: u64, level: Level) -> bool
where
    I: IntoIterator<Item = RttEntry>,
{
    let mut entries = entries.into_iter();
    let mut expected = Some(addr);
    for _ in 0..RTT_ENTRIES {
        let Some(e) = entries.next() else {
            return false;
        };
        if e.output_address().is_none() || e.output_address() != expected {
            return false;
        }
        expected = expected.and_then(|a| a.checked_add(level.size()));
    }
    entries.next().is_none()
}

/// B3.62 RttFold: for a homogeneous RTT at `level` (B3.63, A5.5.6), the entry that replaces
/// the parent's TABLE entry (at `level - 1`); `None` if the RTT is not homogeneous.
///
/// - all UNASSIGNED with one RIPAS: UNASSIGNED with that RIPAS;
/// - all UNASSIGNED_NS: UNASSIGNED_NS;
/// - at level 2 or 3, all ASSIGNED with one RIPAS, or all ASSIGNED_NS with identical
///   attributes, with contiguous output addresses starting at one aligned to the parent's
///   entry size: a block of that state, RIPAS or attributes at that address.
pub fn rtt_fold<I: IntoIterator<Item = RttEntry>>(entries: I, level: Level) -> Option<RttEntry> {
    let parent = level.parent()?;
    let mut iter = entries.into_iter();
    let first = iter.next()?;
    let folded = match first.state() {
        RttEntryState::Unassigned | RttEntryState::UnassignedNs => first,
        RttEntryState::Table => return None,
        RttEntryState::Assigned | RttEntryState::AssignedNs => {
            let addr = first.output_address()?;
            if level < Level::L2 || !first.is_valid_at(level) || !parent.is_aligned(addr) {
                return None;
            }
            first.with_output_address(addr, parent)?
        }
    };
    // Entries of one kind differ only in their output address, which advances by the level
    // size for ASSIGNED and ASSIGNED_NS (unassigned entries have none, so must be equal). The
    // addresses stay inside the parent entry's aligned range, so adding to the raw descriptor
    // never carries out of the address bits below the level's parent size (with LPA2 too,
    // whose bits 51:50 sit apart in bits 9:8).
    let step = if first.is_live() { level.size() } else { 0 };
    let mut expected = first.raw();
    for _ in 1..RTT_ENTRIES {
        expected = expected.checked_add(step)?;
        if iter.next()?.raw() != expected {
            return None;
        }
    }
    iter.next().is_none().then_some(folded)
}

/// B3.63 RttIsHomogeneous, for an RTT at `level`: whether [`rtt_fold`] succeeds.
pub fn rtt_is_homogeneous<I: IntoIterator<Item = RttEntry>>(entries: I, level: Level) -> bool {
    rtt_fold(entries, level).is_some()
}

/// A5.5.7 RTT unfolding (RMI_RTT_CREATE, B4.3.15): entry `index` of a new RTT that replaces
/// `parent`, an entry in an RTT at `parent_level`. Unassigned states are copied; ASSIGNED and
/// ASSIGNED_NS become contiguous entries starting at the parent's address, with its RIPAS or
/// attributes. `None` for a TABLE parent, an `index` out of range, or a parent that is not
/// valid at `parent_level`.
pub fn unfold_entry(parent: RttEntry, parent_level: Level, index: usize) -> Option<RttEntry> {
    let level = parent_level.child()?;
    if index >= RTT_ENTRIES || !parent.is_valid_at(parent_level) {
        return None;
    }
    match parent.state() {
        RttEntryState::Unassigned | RttEntryState::UnassignedNs => Some(parent),
        RttEntryState::Table => None,
        RttEntryState::Assigned | RttEntryState::AssignedNs => {
            // Inside the parent's range (index < 512): the checks never fail.
            let offset = (index as u64).checked_mul(level.size())?;
            let addr = parent.output_address()?.checked_add(offset)?;
            parent.with_output_address(addr, level)
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::rtt::RttFormat;
    use alloc::vec::Vec;

    const F: RttFormat = RttFormat::Pa48;

    /// The RTT produced by unfolding `parent` at `parent_level`.
    fn unfolded(parent: RttEntry, parent_level: Level) -> Vec<RttEntry> {
        (0..RTT_ENTRIES)
            .map(|i| unfold_entry(parent, parent_level, i).unwrap())
            .collect()
    }

    fn parents() -> Vec<(RttEntry, Level)> {
        let mut v = Vec::new();
        for level in [Level::L1, Level::L2] {
            for r in [Ripas::Empty, Ripas::Ram, Ripas::Destroyed] {
                v.push((RttEntry::unassigned(r, F), level));
                v.push((RttEntry::assigned(3 << 30, r, level, F).unwrap(), level));
            }
            v.push((RttEntry::unassigned_ns(F), level));
            v.push((
                RttEntry::assigned_ns((5 << 30) | 0x54, level, F).unwrap(),
                level,
            ));
            v.push((
                RttEntry::assigned_ns((5 << 30) | 0xd8, level, F).unwrap(),
                level,
            ));
        }
        v.push((RttEntry::unassigned(Ripas::Ram, F), Level::L0));
        v.push((RttEntry::unassigned_ns(F), Level::L0));
        v
    }

    #[test]
    fn unfold_then_fold_restores_the_parent() {
        for (parent, level) in parents() {
            let child = level.child().unwrap();
            let rtt = unfolded(parent, level);
            assert!(rtt.iter().all(|e| e.is_valid_at(child)), "{parent:?}");
            assert_eq!(
                rtt_fold(rtt.iter().copied(), child),
                Some(parent),
                "{parent:?}"
            );
            assert!(rtt_is_homogeneous(rtt.iter().copied(), child));
            if let Some(a) = parent.output_address() {
                assert!(rtt_all_entries_contiguous(rtt.iter().copied(), a, child));
            }
            assert!(rtt_all_entries_state(rtt.iter().copied(), parent.state()));
        }
    }

    #[test]
    fn lpa2_unfold_and_fold_with_high_addresses() {
        let l = RttFormat::Lpa2;
        // Blocks just below 2^52 and at 3 * 2^50 (bits 51:50 in descriptor bits 9:8), and
        // unassigned entries at level -1.
        let parents = [
            (
                RttEntry::assigned((1 << 52) - (1 << 30), Ripas::Ram, Level::L1, l).unwrap(),
                Level::L1,
            ),
            (
                RttEntry::assigned(3 << 50, Ripas::Destroyed, Level::L2, l).unwrap(),
                Level::L2,
            ),
            (
                RttEntry::assigned_ns(0x3_ffff_ffe0_03d8, Level::L2, l).unwrap(),
                Level::L2,
            ),
            (RttEntry::unassigned(Ripas::Ram, l), Level::LM1),
            (RttEntry::unassigned_ns(l), Level::LM1),
        ];
        for (parent, level) in parents {
            let child = level.child().unwrap();
            let rtt = unfolded(parent, level);
            assert!(rtt.iter().all(|e| e.is_valid_at(child) && e.format() == l));
            assert_eq!(
                rtt_fold(rtt.iter().copied(), child),
                Some(parent),
                "{parent:?}"
            );
            if let Some(a) = parent.output_address() {
                assert!(rtt_all_entries_contiguous(rtt.iter().copied(), a, child));
                assert_eq!(rtt[511].output_address(), Some(a + 511 * child.size()));
            }
        }
        // A level-0 table of assigned entries folds into no level -1 block.
        let t = [RttEntry::table(1 << 51, Level::L0, l).unwrap(); RTT_ENTRIES];
        assert_eq!(rtt_fold(t, Level::L0), None);
    }

    #[test]
    fn unfold_of_an_assigned_ram_block_gives_pages() {
        let block = RttEntry::assigned(0x8020_0000, Ripas::Ram, Level::L2, F).unwrap();
        assert_eq!(block.raw(), 0x0100_0000_8020_07d9);
        let rtt = unfolded(block, Level::L2);
        assert_eq!(rtt[0].raw(), 0x0100_0000_8020_07db);
        assert_eq!(rtt[1].raw(), 0x0100_0000_8020_17db);
        assert_eq!(rtt[511].raw(), 0x0100_0000_803f_f7db);
        assert!(rtt_all_entries_ripas(rtt.iter().copied(), Ripas::Ram));
        assert!(rtt_is_live(rtt.iter().copied()));
    }

    #[test]
    fn unfold_rejections() {
        let t = RttEntry::table(0x9000, Level::L1, F).unwrap();
        assert_eq!(unfold_entry(t, Level::L1, 0), None);
        let u = RttEntry::unassigned(Ripas::Empty, F);
        assert_eq!(unfold_entry(u, Level::PAGE, 0), None);
        assert_eq!(unfold_entry(u, Level::L2, RTT_ENTRIES), None);
        let page = RttEntry::assigned(0x1000, Ripas::Ram, Level::PAGE, F).unwrap();
        assert_eq!(unfold_entry(page, Level::L2, 0), None);
    }

    #[test]
    fn fold_refuses_heterogeneous_rtts() {
        let pages = unfolded(
            RttEntry::assigned(1 << 30, Ripas::Ram, Level::L2, F).unwrap(),
            Level::L2,
        );
        let fold = |v: &[RttEntry], level| rtt_fold(v.iter().copied(), level);
        assert!(fold(&pages, Level::PAGE).is_some());
        // Mixed RIPAS.
        let mut v = pages.clone();
        v[7] = v[7].with_ripas(Ripas::Empty, Level::PAGE).unwrap();
        assert_eq!(fold(&v, Level::PAGE), None);
        // Not contiguous.
        let mut v = pages.clone();
        v.swap(3, 4);
        assert_eq!(fold(&v, Level::PAGE), None);
        // First address not aligned to the parent (2 MiB).
        let shifted: Vec<_> = (0..RTT_ENTRIES as u64)
            .map(|i| RttEntry::assigned((1 << 30) + (i + 1) * 4096, Ripas::Ram, Level::PAGE, F))
            .map(Option::unwrap)
            .collect();
        assert_eq!(fold(&shifted, Level::PAGE), None);
        assert!(!rtt_all_entries_contiguous(
            shifted.iter().copied(),
            1 << 30,
            Level::PAGE
        ));
        // Short or long tables.
        assert_eq!(fold(&pages[..511], Level::PAGE), None);
        let mut long = pages.clone();
        long.push(RttEntry::assigned(1 << 31, Ripas::Ram, Level::PAGE, F).unwrap());
        assert_eq!(fold(&long, Level::PAGE), None);
        assert_eq!(fold(&[], Level::PAGE), None);
        // A TABLE entry.
        let mut v = unfolded(RttEntry::unassigned(Ripas::Empty, F), Level::L1);
        assert!(fold(&v, Level::L2).is_some());
        v[511] = RttEntry::table(0x5000, Level::L2, F).unwrap();
        assert_eq!(fold(&v, Level::L2), None);
        assert!(rtt_is_live(v.iter().copied()));
        // NS entries with different attributes.
        let ns = RttEntry::assigned_ns((1 << 30) | 0xd8, Level::L1, F).unwrap();
        let mut v = unfolded(ns, Level::L1);
        v[9] = RttEntry::assigned_ns(((1 << 30) + 9 * (2 << 20)) | 0x58, Level::L2, F).unwrap();
        assert_eq!(fold(&v, Level::L2), None);
    }

    #[test]
    fn assigned_folds_only_into_levels_1_and_2() {
        // Level-1 entries would fold into a level-0 block, which does not exist.
        let gib = |i: u64| RttEntry::assigned(i << 30, Ripas::Empty, Level::L1, F).unwrap();
        let v: Vec<_> = (0..RTT_ENTRIES as u64).map(gib).collect();
        assert!(rtt_all_entries_contiguous(v.iter().copied(), 0, Level::L1));
        assert_eq!(rtt_fold(v.iter().copied(), Level::L1), None);
        // Unassigned entries fold at any level below the root.
        let u = [RttEntry::unassigned(Ripas::Destroyed, F); RTT_ENTRIES];
        assert_eq!(rtt_fold(u, Level::L1), Some(u[0]));
        assert_eq!(rtt_fold(u, Level::L0), Some(u[0]));
        // Level -1 has no parent to fold into.
        assert_eq!(rtt_fold(u, Level::LM1), None);
    }

    #[test]
    fn rtt_liveness_ignores_assigned_ns() {
        let ns = RttEntry::assigned_ns(0x20_0000 | 0xd8, Level::L2, F).unwrap();
        let mut v = [RttEntry::unassigned_ns(F); RTT_ENTRIES];
        assert!(!rtt_is_live(v));
        v[100] = ns;
        assert!(!rtt_is_live(v));
        assert!(v[100].is_live());
        v[200] = RttEntry::assigned(0x40_0000, Ripas::Destroyed, Level::L2, F).unwrap();
        assert!(rtt_is_live(v));
    }

    #[test]
    fn all_entries_predicates() {
        let v = [RttEntry::unassigned(Ripas::Ram, F); RTT_ENTRIES];
        assert!(rtt_all_entries_ripas(v, Ripas::Ram));
        assert!(!rtt_all_entries_ripas(v, Ripas::Empty));
        assert!(rtt_all_entries_state(v, RttEntryState::Unassigned));
        assert!(!rtt_all_entries_contiguous(v, 0, Level::PAGE));
        let ns = [RttEntry::unassigned_ns(F); RTT_ENTRIES];
        assert!(!rtt_all_entries_ripas(ns, Ripas::Empty));
        assert!(rtt_all_entries_state(ns, RttEntryState::UnassignedNs));
        assert!(!rtt_all_entries_state(ns, RttEntryState::Unassigned));
    }
}
