//! RMI_RTT_INIT_RIPAS (spec B4.3.18) and RMI_RTT_SET_RIPAS (B4.3.21).

use super::{granule_at, realm_tree, tree_of, Outputs, RmiError};
use crate::granule::GranuleState;
use crate::measurement::{rim_extend_ripas, HashAlgorithm, Measurement};
use crate::platform::Platform;
use crate::realm::{Rd, RealmState};
use crate::rec::Rec;
use crate::rtt::{lock_table, Level, Ripas, RttEntryState};
use crate::{Rmm, GRANULE_SIZE};

/// RMI_RTT_INIT_RIPAS: x1 rd, x2 base, x3 top. Sets RIPAS RAM from `base` up to `walk_top`
/// (RttSkipEntriesWithRipas: the first TABLE entry, the end of the RTT the walk reached, or
/// `top`) for a NEW realm, and extends the RIM once per entry (B4.3.18.4). Output: x1 out_top.
///
/// Failure conditions: `rd_align`, `rd_bound`, `rd_state`, `size_valid`, `top_bound`,
/// `top_gran_align` (RMI_ERROR_INPUT); `realm_state` (RMI_ERROR_REALM) after the RD checks;
/// `base_align` (`base` not aligned to the walk's level), `rtte_state` (the entry at `base`
/// is not UNASSIGNED), `no_progress` (`walk_top` == `base`): RMI_ERROR_RTT at the walk's level,
/// after the RD checks, `no_progress` also after `top_gran_align`.
pub(super) fn init<P: Platform>(
    rmm: &Rmm<P>,
    cpu: usize,
    regs: &[u64; 8],
    out: &mut Outputs,
) -> Result<(), RmiError> {
    let [_, rd, base, top, ..] = *regs;
    // The RD lock orders RIM extensions.
    let _rd = granule_at(rmm, rd)?
        .lock(GranuleState::Rd)
        .map_err(|_| RmiError::INPUT)?; // rd_align, rd_bound, rd_state
    let realm = Rd::new(rmm.platform().granule(rd));
    let tree = tree_of(rmm, rd)?;
    if top <= base {
        return Err(RmiError::INPUT); // size_valid
    }
    if !tree
        .config
        .addr_is_protected(top.wrapping_sub(GRANULE_SIZE))
    {
        return Err(RmiError::INPUT); // top_bound
    }
    if !top.is_multiple_of(GRANULE_SIZE) {
        return Err(RmiError::INPUT); // top_gran_align
    }
    if realm.state() != RealmState::New {
        return Err(RmiError::realm(0)); // realm_state
    }
    // `base` < `top` - 4 KiB + 1 is protected, so in the IPA space.
    let table = lock_table(rmm, cpu, &tree, base, Level::PAGE).ok_or(RmiError::INPUT)?;
    let walk = table.walk;
    let walk_error = RmiError::rtt(walk.level.get() as u8);
    if !walk.level.is_aligned(base) {
        return Err(walk_error); // base_align
    }
    if walk.entry.state() != RttEntryState::Unassigned {
        return Err(walk_error); // rtte_state
    }
    let walk_top = walk.skip_entries_with_ripas(table.memory(), base, top);
    if walk_top == base {
        return Err(walk_error); // no_progress
    }

    let algo = HashAlgorithm::from_rmi(realm.config().hash_algo).ok_or(RmiError::INPUT)?;
    let mut rim = Measurement::from_bytes(realm.measurement(0));
    rim_extend_ripas(algo, &mut rim, base, walk_top, walk.level.get().into())
        .map_err(|_| RmiError::INPUT)?;
    for ipa in entries(base, walk_top, walk.level.size()) {
        let index = walk.level.entry_index(ipa);
        // Not TABLE (walk_top stops before one), so it has a RIPAS. Invalid to valid (an
        // ASSIGNED entry becoming RAM) needs no TLB maintenance.
        if let Some(entry) = table.entry(index).with_ripas(Ripas::Ram, walk.level) {
            table.set(index, entry);
        }
    }
    realm.set_measurement(0, rim.as_bytes());
    out[0] = walk_top;
    Ok(())
}

/// RMI_RTT_SET_RIPAS: x1 rd, x2 rec, x3 base, x4 top. Applies the RIPAS change the REC
/// requested (RSI_IPA_STATE_SET) from `base` up to `walk_top` (RttSkipEntriesWithRipas, also
/// stopping at DESTROYED entries unless the realm allowed changing them), and records the
/// progress in the REC. Output: x1 out_top.
///
/// Failure conditions: `rd_align`, `rd_bound`, `rd_state`, `rec_align`, `rec_bound`,
/// `rec_gran_state`, `size_valid`, `base_bound` (`base` is not where the change stands),
/// `top_bound` (beyond the request), `top_gran_align` (RMI_ERROR_INPUT); `rec_state` (running)
/// and `rec_owner` (another realm's REC), RMI_ERROR_REC after the REC checks; `base_align` and
/// `no_progress` (both only when the entry at `base` does not already have the requested
/// RIPAS), RMI_ERROR_RTT at the walk's level, after the RD checks.
pub(super) fn set<P: Platform>(
    rmm: &Rmm<P>,
    cpu: usize,
    regs: &[u64; 8],
    out: &mut Outputs,
) -> Result<(), RmiError> {
    let [_, rd, rec_pa, base, top, ..] = *regs;
    let tree = realm_tree(rmm, cpu, rd)?; // rd_align, rd_bound, rd_state

    // Lock order: a REC before RTTs (no command takes a REC lock while holding an RTT).
    // rec_gran_state, rec_state:
    let _rec_locked = granule_at(rmm, rec_pa)?.lock_unclaimed(GranuleState::Rec)?;
    let rec = Rec::new(rmm.platform().granule(rec_pa));
    if rec.owner() != rd {
        return Err(RmiError::rec()); // rec_owner
    }
    let change = rec.ripas_change();
    if top <= base {
        return Err(RmiError::INPUT); // size_valid
    }
    if base != change.addr {
        return Err(RmiError::INPUT); // base_bound
    }
    if top > change.top {
        return Err(RmiError::INPUT); // top_bound
    }
    if !top.is_multiple_of(GRANULE_SIZE) {
        return Err(RmiError::INPUT); // top_gran_align
    }
    let value = Ripas::from_rmi(change.value.into()).ok_or(RmiError::INPUT)?;
    let table = lock_table(rmm, cpu, &tree, base, Level::PAGE).ok_or(RmiError::INPUT)?;
    let walk = table.walk;
    let walk_error = RmiError::rtt(walk.level.get() as u8);
    let already = walk.entry.ripas() == Some(value);
    if !walk.level.is_aligned(base) && !already {
        return Err(walk_error); // base_align
    }
    let stop_at_destroyed = !change.change_destroyed;
    let walk_top =
        walk.skip_entries_with_ripas_stopping(table.memory(), base, top, stop_at_destroyed);
    if walk_top == base && !already {
        return Err(walk_error); // no_progress
    }

    let mut invalidate = false;
    for ipa in entries(base, walk_top, walk.level.size()) {
        let index = walk.level.entry_index(ipa);
        let old = table.entry(index);
        if let Some(entry) = old.with_ripas(value, walk.level) {
            invalidate |= old.is_hw_valid() && !entry.is_hw_valid();
            table.set(index, entry);
        }
    }
    if invalidate {
        // RAM to EMPTY on a mapped page removes a valid descriptor; `walk_top` is above `base`,
        // as an entry changed.
        rmm.platform().tlbi_range(tree.vmid, base, walk_top.saturating_sub(base));
    }
    // B4.3.21.3: out_top = Min(top, walk_top). When the entry at `base` already has the
    // requested RIPAS (so base_align and no_progress do not apply), walk_top aligned down can
    // fall at or below `base`; that entry's whole range is already done, so progress reaches
    // at least its end (clamped to `top`) instead of going backwards or standing still.
    let mut out_top = top.min(walk_top);
    if already {
        let entry_end = walk
            .level
            .align_down(base)
            .saturating_add(walk.level.size());
        out_top = out_top.max(top.min(entry_end));
    }
    rec.set_ripas_addr(out_top);
    out[0] = out_top;
    Ok(())
}

/// The IPAs of the entries of `size` bytes from `base` up to `top`.
fn entries(base: u64, top: u64, size: u64) -> impl Iterator<Item = u64> {
    let ipas = core::iter::successors(Some(base), move |ipa| ipa.checked_add(size));
    ipas.take_while(move |&ipa| ipa < top)
}
