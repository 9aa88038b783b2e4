//! RMI_RTT_MAP_UNPROTECTED (spec B4.3.19) and RMI_RTT_UNMAP_UNPROTECTED (B4.3.22).

use super::{realm_tree, Outputs, RmiError};
use crate::platform::Platform;
use crate::rtt::{
    desc_is_valid_for_unprotected, lock_table, unprotected_desc_addr, Level, RttEntry,
    RttEntryState, RttTree,
};
use crate::Rmm;

/// The level of an unprotected mapping: `level_bound` (B3.65 RttLevelIsBlockOrPage: a level
/// of the realm's RTTs that holds blocks or pages), RMI_ERROR_INPUT.
fn block_or_page_level(tree: &RttTree, level: u64) -> Result<Level, RmiError> {
    tree.config
        .level(level as i64)
        .filter(|l| l.can_hold_block_or_page())
        .ok_or(RmiError::INPUT) // level_bound
}

/// `ipa_align` (`ipa` not aligned to `level`) and `ipa_bound` (outside the IPA space, or a
/// Protected IPA), RMI_ERROR_INPUT.
fn check_unprotected_ipa(tree: &RttTree, ipa: u64, level: Level) -> Result<(), RmiError> {
    if !level.is_aligned(ipa) {
        return Err(RmiError::INPUT); // ipa_align
    }
    if !tree.config.addr_in_ipa_space(ipa) || tree.config.addr_is_protected(ipa) {
        return Err(RmiError::INPUT); // ipa_bound
    }
    Ok(())
}

/// RMI_RTT_MAP_UNPROTECTED: x1 rd, x2 ipa, x3 level, x4 desc. The UNASSIGNED_NS level-`level`
/// entry for the Unprotected IPA `ipa` becomes ASSIGNED_NS with the host's ADDR, `MemAttr[2:0]`
/// and S2AP from `desc` (a valid block or page; the RTT's liveness does not change).
///
/// Failure conditions: `attr_valid` (B3.56 RttDescriptorIsValidForUnprotected: ADDR in the
/// LPA2 layout, bits 49:12 and 9:8), `rd_align`, `rd_bound`, `rd_state`, `level_bound` (not a
/// block or page level of the realm), `addr_align` (`desc`'s ADDR not aligned to `level`),
/// `addr_bound` (ADDR at or above 2^48 in a realm without LPA2, A3.1.2), `ipa_align`,
/// `ipa_bound` (outside the IPA space or Protected), all RMI_ERROR_INPUT; `rtt_walk` (the walk
/// stops above `level`) and `rtte_state` (the entry is not UNASSIGNED_NS), RMI_ERROR_RTT at the
/// walk's level, after the RD, level and IPA checks.
pub(super) fn map<P: Platform>(
    rmm: &Rmm<P>,
    cpu: usize,
    regs: &[u64; 8],
    _out: &mut Outputs,
) -> Result<(), RmiError> {
    let [_, rd, ipa, level, desc, ..] = *regs;
    if !desc_is_valid_for_unprotected(desc) {
        return Err(RmiError::INPUT); // attr_valid
    }
    let tree = realm_tree(rmm, cpu, rd)?; // rd_align, rd_bound, rd_state
    let level = block_or_page_level(&tree, level)?; // level_bound
    let addr = unprotected_desc_addr(desc);
    if !level.is_aligned(addr) {
        return Err(RmiError::INPUT); // addr_align
    }
    let format = tree.config.format();
    if !format.pa_fits(addr) {
        return Err(RmiError::INPUT); // addr_bound
    }
    check_unprotected_ipa(&tree, ipa, level)?; // ipa_align, ipa_bound

    // Cannot fail after the checks above (B3.56, level, alignment, width).
    let rtte = RttEntry::assigned_ns(desc, level, format).ok_or(RmiError::INPUT)?;

    // None: the realm was destroyed since its RD was checked (rd_state).
    let table = lock_table(rmm, cpu, &tree, ipa, level).ok_or(RmiError::INPUT)?;
    let walk = table.walk;
    if walk.level < level {
        return Err(RmiError::rtt(walk.level.error_index())); // rtt_walk
    }
    if walk.entry.state() != RttEntryState::UnassignedNs {
        return Err(RmiError::rtt(walk.level.error_index())); // rtte_state
    }
    // An invalid descriptor becomes valid: no TLB maintenance. ASSIGNED_NS does not make the
    // RTT live, so its REFCOUNT is unchanged (`LockedTable::set`).
    table.set(walk.index, rtte);
    Ok(())
}

/// RMI_RTT_UNMAP_UNPROTECTED: x1 rd, x2 ipa, x3 level. The ASSIGNED_NS level-`level` entry for
/// the Unprotected IPA `ipa` becomes UNASSIGNED_NS, and the TLBs forget its range. Output:
/// x1 `top` (B3.76 RttSkipNonLiveEntries from `ipa` in the RTT where the walk stopped, after the
/// command), also on RMI_ERROR_RTT; 0 on other failures.
///
/// Failure conditions: `rd_align`, `rd_bound`, `rd_state`, `level_bound` (not a block or page
/// level of the realm), `ipa_align`, `ipa_bound` (outside the IPA space or Protected), all
/// RMI_ERROR_INPUT; `rtt_walk` (the walk stops above `level`) and `rtte_state` (the entry is not
/// ASSIGNED_NS), RMI_ERROR_RTT at the walk's level with `top` = walk_top, after the others.
pub(super) fn unmap<P: Platform>(
    rmm: &Rmm<P>,
    cpu: usize,
    regs: &[u64; 8],
    out: &mut Outputs,
) -> Result<(), RmiError> {
    let [_, rd, ipa, level, ..] = *regs;
    let tree = realm_tree(rmm, cpu, rd)?; // rd_align, rd_bound, rd_state
    let level = block_or_page_level(&tree, level)?; // level_bound
    check_unprotected_ipa(&tree, ipa, level)?; // ipa_align, ipa_bound

    // None: the realm was destroyed since its RD was checked (rd_state).
    let table = lock_table(rmm, cpu, &tree, ipa, level).ok_or(RmiError::INPUT)?;
    let walk = table.walk;
    if walk.level < level {
        out[0] = walk.skip_non_live(table.memory(), ipa, tree.config);
        return Err(RmiError::rtt(walk.level.error_index())); // rtt_walk
    }
    if walk.entry.state() != RttEntryState::AssignedNs {
        out[0] = walk.skip_non_live(table.memory(), ipa, tree.config);
        return Err(RmiError::rtt(walk.level.error_index())); // rtte_state
    }
    // A valid descriptor becomes invalid: invalidate its range before the host may reuse the
    // Non-secure granule. No table is freed, so lock-free walkers need no quiescing.
    table.set(walk.index, RttEntry::unassigned_ns(tree.config.format()));
    rmm.platform().tlbi_range(tree.vmid, ipa, level.size());
    out[0] = walk.skip_non_live(table.memory(), ipa, tree.config);
    Ok(())
}
