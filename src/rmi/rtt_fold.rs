//! RMI_RTT_FOLD (spec B4.3.17).

use super::rtt::child_level;
use super::{realm_tree, Outputs, RmiError};
use crate::granule::GranuleState;
use crate::platform::Platform;
use crate::rtt::{lock_table, read_entry, rtt_fold, RttEntryState, RTT_ENTRIES};
use crate::Rmm;

/// REFCOUNT of an RTT whose entries are all ASSIGNED.
const ALL_LIVE: u64 = RTT_ENTRIES as u64;

/// RMI_RTT_FOLD: x1 rd, x2 ipa, x3 level. The homogeneous level-`level` RTT for `ipa` is
/// destroyed (DELEGATED, wiped) and its parent entry becomes the folded entry (B3.62 RttFold,
/// A5.5.6): UNASSIGNED with the RTT's RIPAS, UNASSIGNED_NS, or an ASSIGNED or ASSIGNED_NS
/// block at the first entry's address. Output: x1 `rtt`, the RTT's PA (0 on failure).
///
/// Failure conditions: `rd_align`, `rd_bound`, `rd_state`, `level_bound` (not valid for the
/// realm, or the starting level), `ipa_align` (not aligned to level - 1), `ipa_bound` (outside
/// the IPA space), all RMI_ERROR_INPUT; `rtt_walk` (the walk stops above level - 1) and
/// `rtte_state` (the parent entry is not TABLE), RMI_ERROR_RTT at the walk's level, after the
/// RD and level checks; `rtt_homo` (B3.63 RttIsHomogeneous fails), RMI_ERROR_RTT at `level`,
/// after the RD checks.
pub(super) fn fold<P: Platform>(
    rmm: &Rmm<P>,
    cpu: usize,
    regs: &[u64; 8],
    out: &mut Outputs,
) -> Result<(), RmiError> {
    let [_, rd, ipa, level, ..] = *regs;
    let tree = realm_tree(rmm, cpu, rd)?; // rd_align, rd_bound, rd_state
    let level = child_level(&tree, ipa, level)?; // level_bound, ipa_align, ipa_bound
    let parent_level = level.parent().ok_or(RmiError::INPUT)?;

    // None: the realm was destroyed since its RD was checked (rd_state).
    let parent = lock_table(rmm, cpu, &tree, ipa, parent_level).ok_or(RmiError::INPUT)?;
    let walk = parent.walk;
    if walk.level < parent_level {
        return Err(RmiError::rtt(walk.level.error_index())); // rtt_walk
    }
    if walk.entry.state() != RttEntryState::Table {
        return Err(RmiError::rtt(walk.level.error_index())); // rtte_state
    }
    // Lock order: the parent RTT, then the child. The parent's TABLE entry keeps the child in
    // state RTT while the parent is locked.
    let rtt = walk.entry.output_address().unwrap_or_default();
    let child = rmm
        .granules()
        .get(rtt)
        .ok_or(RmiError::INPUT)?
        .lock(GranuleState::Rtt)
        .map_err(|_| RmiError::INPUT)?;
    // REFCOUNT counts the child's ASSIGNED and TABLE entries: a homogeneous RTT has all or
    // none of its entries ASSIGNED (and none TABLE), so any other count fails without a scan.
    let live = child.refcount();
    let mem = rmm.platform().granule(rtt);
    let folded = match live {
        0 | ALL_LIVE => {
            let format = tree.config.format();
            rtt_fold(
                (0..RTT_ENTRIES).map(|i| read_entry(mem, i, level, format)),
                level,
            )
        }
        _ => None,
    };
    let Some(folded) = folded else {
        return Err(RmiError::rtt(level.error_index())); // rtt_homo
    };

    // Unlink the child. A valid block replaces the TABLE entry by break-before-make: invalid
    // first (the same state, RIPAS and address for lock-free readers), TLBs and walk caches
    // invalidated over the parent entry's range, then valid. An invalid fold needs the same
    // invalidation for the TABLE descriptor it removes. LockedTable::set keeps the parent's
    // REFCOUNT: TABLE to ASSIGNED stays live, to any other state drops.
    parent.set(walk.index, folded.breaking());
    rmm.platform()
        .tlbi_range(tree.vmid, ipa, parent_level.size());
    if folded.is_hw_valid() {
        parent.set(walk.index, folded);
    }
    // Wait for lock-free walkers that may still be in the child, then wipe it. Its entries
    // are gone, and with them the count of its live ones.
    crate::percpu::quiesce(rmm.cpus(), rd);
    rmm.platform().granule_zero(rtt);
    child.transition_counted(GranuleState::Delegated, 0);
    out[0] = rtt;
    Ok(())
}
