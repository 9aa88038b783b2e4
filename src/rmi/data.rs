//! RMI_DATA_CREATE (spec B4.3.1), RMI_DATA_CREATE_UNKNOWN (B4.3.2), RMI_DATA_DESTROY (B4.3.3).

use super::{granule_at, read_host_page, realm_tree, tree_of, Outputs, RmiError};
use crate::granule::GranuleState;
use crate::measurement::{rim_extend_data, HashAlgorithm, Measurement};
use crate::platform::Platform;
use crate::realm::{Rd, RealmState};
use crate::rtt::{lock_table, Level, LockedTable, Ripas, RttEntry, RttEntryState, RttTree};
use crate::sync::Ordering;
use crate::Rmm;

/// `data_bound2`: a DATA granule at or above 2^48 in a realm without LPA2 (A3.1.2),
/// RMI_ERROR_INPUT. It needs the realm, so it follows the RD checks (the spec orders neither).
fn check_data_bound2(tree: &RttTree, data: u64) -> Result<(), RmiError> {
    if !tree.config.format().pa_fits(data) {
        return Err(RmiError::INPUT); // data_bound2
    }
    Ok(())
}

/// `ipa_align` and `ipa_bound` (a Protected IPA), RMI_ERROR_INPUT.
fn check_ipa(tree: &RttTree, ipa: u64) -> Result<(), RmiError> {
    if !Level::PAGE.is_aligned(ipa) {
        return Err(RmiError::INPUT); // ipa_align
    }
    if !tree.config.addr_is_protected(ipa) {
        return Err(RmiError::INPUT); // ipa_bound
    }
    Ok(())
}

/// Locks the RTT where the walk for `ipa` towards level 3 stops.
fn lock_page_table<'a, P: Platform>(
    rmm: &'a Rmm<P>,
    cpu: usize,
    tree: &RttTree,
    ipa: u64,
) -> Result<LockedTable<'a>, RmiError> {
    // None: the realm was destroyed since its RD was checked (rd_state).
    lock_table(rmm, cpu, tree, ipa, Level::PAGE).ok_or(RmiError::INPUT)
}

/// `rtt_walk` (the walk stopped above level 3) and `rtte_state` (the entry is not
/// `expected`), RMI_ERROR_RTT at the walk's level.
fn check_page_entry(table: &LockedTable, expected: RttEntryState) -> Result<(), RmiError> {
    let walk = table.walk;
    if walk.level != Level::PAGE || walk.entry.state() != expected {
        return Err(RmiError::rtt(walk.level.error_index()));
    }
    Ok(())
}

/// Fills the locked DELEGATED granule at `data` with `content` (the caller then publishes it
/// with the granule's transition).
fn fill<P: Platform>(rmm: &Rmm<P>, data: u64, content: &[u8; 4096]) {
    let mem = rmm.platform().granule(data);
    for (word, bytes) in mem.iter().zip(content.chunks_exact(8)) {
        let value = u64::from_le_bytes(bytes.try_into().unwrap_or_default());
        // Relaxed: published by the DATA transition's Release.
        word.store(value, Ordering::Relaxed);
    }
}

/// RMI_DATA_CREATE: x1 rd, x2 data, x3 ipa, x4 src, x5 flags. Copies the host's granule at
/// `src` into `data`, maps it at `ipa` with RIPAS RAM and extends the RIM (B4.3.1.4).
///
/// Failure conditions: `src_align`, `src_bound`, `src_pas`, `data_align`, `data_bound`,
/// `data_state`, `data_bound2` (`data` at or above 2^48 without LPA2), `rd_align`, `rd_bound`,
/// `rd_state`, `ipa_align`, `ipa_bound` (RMI_ERROR_INPUT); `realm_state` (not NEW:
/// RMI_ERROR_REALM) after the RD checks; `rtt_walk`, `rtte_state` (not UNASSIGNED) as
/// RMI_ERROR_RTT after the RD and IPA checks.
pub(super) fn create<P: Platform>(
    rmm: &Rmm<P>,
    cpu: usize,
    regs: &[u64; 8],
) -> Result<(), RmiError> {
    let [_, rd, data, ipa, src, flags, ..] = *regs;
    let content = read_host_page(rmm, src)?; // src_align, src_bound, src_pas
    let data_granule = granule_at(rmm, data)?; // data_align, data_bound

    // The RD lock orders RIM extensions (spec A7.1.1: the RIM depends on their order).
    let _rd = granule_at(rmm, rd)?
        .lock(GranuleState::Rd)
        .map_err(|_| RmiError::INPUT)?; // rd_align, rd_bound, rd_state
    let realm = Rd::new(rmm.platform().granule(rd));
    let tree = tree_of(rmm, rd)?;
    check_data_bound2(&tree, data)?; // data_bound2
    check_ipa(&tree, ipa)?; // ipa_align, ipa_bound
    if realm.state() != RealmState::New {
        return Err(RmiError::realm(0)); // realm_state
    }
    let table = lock_page_table(rmm, cpu, &tree, ipa)?;
    check_page_entry(&table, RttEntryState::Unassigned)?; // rtt_walk, rtte_state
    let data_locked = data_granule
        .lock(GranuleState::Delegated)
        .map_err(|_| RmiError::INPUT)?; // data_state

    let algo = HashAlgorithm::from_rmi(realm.config().hash_algo).ok_or(RmiError::INPUT)?;
    let mut rim = Measurement::from_bytes(realm.measurement(0));
    rim_extend_data(algo, &mut rim, ipa, flags, &content);
    realm.set_measurement(0, rim.as_bytes());
    fill(rmm, data, &content);
    data_locked.transition(GranuleState::Data);
    let format = tree.config.format();
    let entry = RttEntry::assigned(data, Ripas::Ram, Level::PAGE, format).ok_or(RmiError::INPUT)?;
    table.set(table.walk.index, entry);
    Ok(())
}

/// RMI_DATA_CREATE_UNKNOWN: x1 rd, x2 data, x3 ipa. Maps `data` at `ipa`, its contents
/// unknown to the realm (zero here), keeping the entry's RIPAS. Not measured.
///
/// Failure conditions: `data_align`, `data_bound`, `data_state`, `data_bound2` (`data` at or
/// above 2^48 without LPA2), `rd_align`, `rd_bound`, `rd_state`, `ipa_align`, `ipa_bound`
/// (RMI_ERROR_INPUT); `rtt_walk`, `rtte_state` (not UNASSIGNED) as RMI_ERROR_RTT after the RD
/// and IPA checks.
pub(super) fn create_unknown<P: Platform>(
    rmm: &Rmm<P>,
    cpu: usize,
    regs: &[u64; 8],
) -> Result<(), RmiError> {
    let [_, rd, data, ipa, ..] = *regs;
    let data_granule = granule_at(rmm, data)?; // data_align, data_bound
    let tree = realm_tree(rmm, cpu, rd)?; // rd_align, rd_bound, rd_state
    check_data_bound2(&tree, data)?; // data_bound2
    check_ipa(&tree, ipa)?; // ipa_align, ipa_bound
    let table = lock_page_table(rmm, cpu, &tree, ipa)?;
    check_page_entry(&table, RttEntryState::Unassigned)?; // rtt_walk, rtte_state
    let data_locked = data_granule
        .lock(GranuleState::Delegated)
        .map_err(|_| RmiError::INPUT)?; // data_state

    // A DELEGATED granule is zero: nothing to wipe. The realm sees it only if RIPAS is RAM.
    data_locked.transition(GranuleState::Data);
    let ripas = table.walk.entry.ripas().unwrap_or(Ripas::Empty);
    let format = tree.config.format();
    let entry = RttEntry::assigned(data, ripas, Level::PAGE, format).ok_or(RmiError::INPUT)?;
    table.set(table.walk.index, entry);
    Ok(())
}

/// RMI_DATA_DESTROY: x1 rd, x2 ipa. Unmaps the DATA granule at `ipa`, which becomes DELEGATED
/// (wiped); RIPAS RAM becomes DESTROYED. Outputs: x1 the granule's PA, x2 `top`
/// (RttSkipNonLiveEntries from `ipa`), also on RMI_ERROR_RTT.
///
/// Failure conditions: `rd_align`, `rd_bound`, `rd_state`, `ipa_align`, `ipa_bound`
/// (RMI_ERROR_INPUT); `rtt_walk`, `rtte_state` (not ASSIGNED) as RMI_ERROR_RTT after those.
pub(super) fn destroy<P: Platform>(
    rmm: &Rmm<P>,
    cpu: usize,
    regs: &[u64; 8],
    out: &mut Outputs,
) -> Result<(), RmiError> {
    let [_, rd, ipa, ..] = *regs;
    let tree = realm_tree(rmm, cpu, rd)?; // rd_align, rd_bound, rd_state
    check_ipa(&tree, ipa)?; // ipa_align, ipa_bound
    let table = lock_page_table(rmm, cpu, &tree, ipa)?;
    if let Err(e) = check_page_entry(&table, RttEntryState::Assigned) {
        out[1] = table.walk.skip_non_live(table.memory(), ipa, tree.config);
        return Err(e); // rtt_walk, rtte_state
    }
    let walk = table.walk;
    let data = walk.entry.output_address().unwrap_or_default();
    let ripas = match walk.entry.ripas() {
        Some(Ripas::Ram) | None => Ripas::Destroyed,
        Some(other) => other,
    };
    table.set(
        walk.index,
        RttEntry::unassigned(ripas, tree.config.format()),
    );
    if walk.entry.is_hw_valid() {
        rmm.platform()
            .tlbi_range(tree.vmid, ipa, Level::PAGE.size());
    }
    // RMM paths that read realm memory do so under a walk announcement: let them finish.
    crate::percpu::quiesce(rmm.cpus(), rd);
    let data_locked = rmm
        .granules()
        .get(data)
        .ok_or(RmiError::INPUT)?
        .lock(GranuleState::Data)
        .map_err(|_| RmiError::INPUT)?;
    rmm.platform().granule_zero(data);
    data_locked.transition(GranuleState::Delegated);
    out[0] = data;
    out[1] = walk.skip_non_live(table.memory(), ipa, tree.config);
    Ok(())
}
