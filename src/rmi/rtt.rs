//! RMI_RTT_CREATE (spec B4.3.15), RMI_RTT_DESTROY (B4.3.16), RMI_RTT_READ_ENTRY (B4.3.20).

use super::{granule_at, realm_tree, Outputs, RmiError};
use crate::granule::GranuleState;
use crate::platform::Platform;
use crate::rtt::{
    addr_is_rtt_level_aligned, lock_table, unfold_entry, write_entry, Level, Ripas, RttEntry,
    RttEntryState, RttTree, RTT_ENTRIES,
};
use crate::Rmm;

/// The level of an RTT that RTT_CREATE or RTT_DESTROY names: `level_bound` (not valid for the
/// realm, or the starting level), `ipa_align` (`ipa` not aligned to the parent's entries) and
/// `ipa_bound` (outside the IPA space), all RMI_ERROR_INPUT.
pub(super) fn child_level(tree: &RttTree, ipa: u64, level: u64) -> Result<Level, RmiError> {
    let level = level as i64;
    let config = tree.config;
    let Some(child) = config
        .level(level)
        .filter(|_| !config.level_is_starting(level))
    else {
        return Err(RmiError::INPUT); // level_bound
    };
    let parent = child.parent().ok_or(RmiError::INPUT)?;
    if !parent.is_aligned(ipa) {
        return Err(RmiError::INPUT); // ipa_align
    }
    if !config.addr_in_ipa_space(ipa) {
        return Err(RmiError::INPUT); // ipa_bound
    }
    Ok(child)
}

/// RMI_RTT_CREATE: `rtt` becomes the level-`level` RTT for `ipa`, unfolding its parent entry.
///
/// Failure conditions: `rd_align`, `rd_bound`, `rd_state`, `level_bound`, `ipa_align`,
/// `ipa_bound`, `rtt_align`, `rtt_bound`, `rtt_state`, `rtt_bound2` (`rtt` at or above 2^48
/// in a realm without LPA2, A3.1.2) (RMI_ERROR_INPUT);
/// `rtt_walk` (the walk stops above level - 1) and `rtte_state` (the parent entry is already
/// TABLE), RMI_ERROR_RTT at the walk's level, after the RD and level checks.
pub(super) fn create<P: Platform>(
    rmm: &Rmm<P>,
    cpu: usize,
    rd: u64,
    rtt: u64,
    ipa: u64,
    level: u64,
) -> Result<(), RmiError> {
    let tree = realm_tree(rmm, cpu, rd)?; // rd_align, rd_bound, rd_state
    let level = child_level(&tree, ipa, level)?; // level_bound, ipa_align, ipa_bound
    let new = granule_at(rmm, rtt)?; // rtt_align, rtt_bound
    let format = tree.config.format();
    if !format.pa_fits(rtt) {
        return Err(RmiError::INPUT); // rtt_bound2
    }
    let parent_level = level.parent().ok_or(RmiError::INPUT)?;
    let parent = lock_table(rmm, cpu, &tree, ipa, parent_level).ok_or(RmiError::INPUT)?;
    let walk = parent.walk;
    if walk.level != parent_level || walk.entry.state() == RttEntryState::Table {
        return Err(RmiError::rtt(walk.level.error_index())); // rtt_walk, rtte_state
    }
    // Lock order: the parent RTT, then the granule that leaves DELEGATED.
    let new = new
        .lock(GranuleState::Delegated)
        .map_err(|_| RmiError::INPUT)?; // rtt_state

    // The new table holds what the parent entry described, at the finer level (A5.5.7).
    let unfold = walk.entry;
    let mem = rmm.platform().granule(rtt);
    let mut live = 0u32;
    for i in 0..RTT_ENTRIES {
        let Some(entry) = unfold_entry(unfold, parent_level, i) else {
            // Never: the parent entry is valid at its level and not TABLE. A DELEGATED granule
            // stays zero.
            rmm.platform().granule_zero(rtt);
            return Err(RmiError::INPUT);
        };
        // At most 512.
        live = live.saturating_add(u32::from(entry.makes_rtt_live()));
        write_entry(mem, i, entry);
    }
    if unfold.is_hw_valid() {
        // Break-before-make: a block becomes a table of pages.
        parent.set(walk.index, unfold.breaking());
        rmm.platform()
            .tlbi_range(tree.vmid, parent_level.align_down(ipa), parent_level.size());
    }
    // The new table's count of live entries is published with its state.
    new.transition_counted(GranuleState::Rtt, live);
    let table = RttEntry::table(rtt, parent_level, format).ok_or(RmiError::INPUT)?;
    parent.set(walk.index, table);
    Ok(())
}

/// RMI_RTT_DESTROY: the non-live level-`level` RTT for `ipa` becomes DELEGATED. Outputs: x1 the
/// RTT's PA, x2 `top` (RttSkipNonLiveEntries from `ipa` in the table the walk reached).
///
/// Failure conditions: `rd_align`, `rd_bound`, `rd_state`, `level_bound`, `ipa_align`,
/// `ipa_bound` (RMI_ERROR_INPUT, `top` 0); `rtt_walk`, `rtte_state` (RMI_ERROR_RTT at the walk's
/// level, `top` = walk_top); `rtt_live` (RMI_ERROR_RTT at `level`, `top` = `ipa`).
pub(super) fn destroy<P: Platform>(
    rmm: &Rmm<P>,
    cpu: usize,
    rd: u64,
    ipa: u64,
    level: u64,
    out: &mut Outputs,
) -> Result<(), RmiError> {
    let tree = realm_tree(rmm, cpu, rd)?; // rd_align, rd_bound, rd_state
    let level = child_level(&tree, ipa, level)?; // level_bound, ipa_align, ipa_bound
    let parent_level = level.parent().ok_or(RmiError::INPUT)?;
    let parent = lock_table(rmm, cpu, &tree, ipa, parent_level).ok_or(RmiError::INPUT)?;
    let walk = parent.walk;
    if walk.level != parent_level || walk.entry.state() != RttEntryState::Table {
        out[1] = walk.skip_non_live(parent.memory(), ipa, tree.config);
        return Err(RmiError::rtt(walk.level.error_index())); // rtt_walk, rtte_state
    }
    let child_pa = walk.entry.output_address().unwrap_or_default();
    let child = rmm
        .granules()
        .get(child_pa)
        .ok_or(RmiError::INPUT)?
        .lock(GranuleState::Rtt)
        .map_err(|_| RmiError::INPUT)?;
    if child.refcount() != 0 {
        out[1] = ipa;
        return Err(RmiError::rtt(level.error_index())); // rtt_live
    }

    // Unlink (A5.5.9: the parent entry becomes UNASSIGNED, RIPAS DESTROYED; an unprotected
    // one UNASSIGNED_NS), flush the walk caches and any ASSIGNED_NS leaves, wait for lock-free
    // walkers that may still be in the table, then wipe it.
    let format = tree.config.format();
    let unlinked = match tree.config.addr_is_protected(ipa) {
        true => RttEntry::unassigned(Ripas::Destroyed, format),
        false => RttEntry::unassigned_ns(format),
    };
    parent.set(walk.index, unlinked);
    rmm.platform()
        .tlbi_range(tree.vmid, ipa, parent_level.size());
    crate::percpu::quiesce(rmm.cpus(), rd);
    rmm.platform().granule_zero(child_pa);
    child.transition(GranuleState::Delegated);
    out[0] = child_pa;
    out[1] = walk.skip_non_live(parent.memory(), ipa, tree.config);
    Ok(())
}

/// RMI_RTT_READ_ENTRY: the entry a walk towards `level` reaches for `ipa`, read without
/// locks. Outputs: x1 walk level (level -1 sign-extended, as the Int64 levels the host
/// passes), x2 state, x3 descriptor (the address in the realm's layout), x4 RIPAS
/// (B4.3.20.3).
///
/// Failure conditions, unordered, all RMI_ERROR_INPUT: `rd_align`, `rd_bound`, `rd_state`,
/// `level_bound`, `ipa_align`, `ipa_bound`.
pub(super) fn read_entry<P: Platform>(
    rmm: &Rmm<P>,
    cpu: usize,
    rd: u64,
    ipa: u64,
    level: u64,
    out: &mut Outputs,
) -> Result<(), RmiError> {
    let tree = realm_tree(rmm, cpu, rd)?; // rd_align, rd_bound, rd_state
    let level = tree.config.level(level as i64).ok_or(RmiError::INPUT)?; // level_bound
    if !addr_is_rtt_level_aligned(ipa, level.get().into()) {
        return Err(RmiError::INPUT); // ipa_align
    }
    if !tree.config.addr_in_ipa_space(ipa) {
        return Err(RmiError::INPUT); // ipa_bound
    }
    let walk = {
        let _announced = rmm.cpu(cpu).announce_walk(rd);
        if !tree.is_current(rmm) {
            return Err(RmiError::INPUT); // rd_state: destroyed since it was checked
        }
        tree.walk(rmm.platform(), ipa, level)
    };
    let entry = walk.entry.read_entry();
    *out = [
        i64::from(walk.level.get()) as u64,
        entry.state as u64,
        entry.desc,
        u64::from(entry.ripas.to_rmi()),
    ];
    Ok(())
}
