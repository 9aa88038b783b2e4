//! RMI_REALM_CREATE (spec B4.3.9), RMI_REALM_ACTIVATE (B4.3.8), RMI_REALM_DESTROY (B4.3.10).

use super::params::RealmParams;
use super::{feature_register_0, granule_at, lock_delegated, read_host_page, RmiError};
use crate::granule::{GranuleState, LockedGranule};
use crate::measurement::rim_init;
use crate::platform::Platform;
use crate::realm::{Rd, RealmConfig, RealmFeatures, RealmState};
use crate::rtt::{write_entry, Ripas, RttConfig, RttEntry, RttFormat, MAX_START_RTTS, RTT_ENTRIES};
use crate::{Rmm, GRANULE_SHIFT};

/// The granules REALM_CREATE takes: the RD and up to 16 starting-level RTTs.
const MAX_CREATE_GRANULES: usize = 1 + MAX_START_RTTS;

/// RMI_REALM_CREATE: makes `rd` the RD of a new realm described by the host's RmiRealmParams
/// at `params_ptr`, with starting-level RTTs at `params.rtt_base`.
///
/// Failure conditions, unordered, all RMI_ERROR_INPUT: `params_align`, `params_bound`,
/// `params_pas`, `params_valid`, `params_supp` (B3.34: among others flags.lpa2 without LPA2
/// support, or `s2sz` above RMI_FEATURES' S2SZ or above 48 without flags.lpa2), `alias`,
/// `rd_align`, `rd_bound`, `rd_state`, `rtt_align`, `rtt_num_level` (B3.55 for the realm's
/// format: level -1 and IPA widths above 48 only with flags.lpa2), `rtt_state`, `vmid_valid`.
///
/// The starting-level RTTs are built in the realm's descriptor format (A3.1.2): every entry
/// of a Protected IPA UNASSIGNED with RIPAS EMPTY, every other UNASSIGNED_NS (with 16 used
/// entries at level -1, the rest beyond the IPA space, which the hardware never reads).
pub(super) fn create<P: Platform>(rmm: &Rmm<P>, rd: u64, params_ptr: u64) -> Result<(), RmiError> {
    let page = read_host_page(rmm, params_ptr)?; // params_align, params_bound, params_pas
    let params = RealmParams::parse(&page)?; // params_valid
    let cpu = rmm.platform().cpu_features();
    if !params.realm_params_supported(feature_register_0(&cpu)) {
        return Err(RmiError::INPUT); // params_supp
    }
    if params.rd_aliases_rtts(rd) {
        return Err(RmiError::INPUT); // alias
    }
    granule_at(rmm, rd)?; // rd_align, rd_bound
    if !params.rtt_base_aligned() {
        return Err(RmiError::INPUT); // rtt_align
    }
    let format = RttFormat::from_lpa2(params.flags.lpa2());
    let rtt = RttConfig::new(
        params.s2sz.into(),
        params.rtt_level_start,
        params.rtt_num_start.into(),
        format,
        cpu.pa_bits.into(),
    )
    .map_err(|_| RmiError::INPUT)?; // rtt_num_level

    // rd_state and rtt_state: every granule DELEGATED, locked in ascending PA order.
    let roots = (0..rtt.num_start()).map(|t| root_pa(params.rtt_base, t));
    let mut pas = [0u64; MAX_CREATE_GRANULES];
    let slots = pas.iter_mut().zip(core::iter::once(rd).chain(roots));
    let count = slots.map(|(slot, pa)| *slot = pa).count();
    let (pas, _) = pas.split_at_mut(count);
    let mut locked: [Option<LockedGranule>; MAX_CREATE_GRANULES] = Default::default();
    lock_delegated(rmm, pas, &mut locked)?; // rd_state, rtt_state
    if !rmm.vmids().claim(params.vmid.into()) {
        return Err(RmiError::INPUT); // vmid_valid
    }

    // All checks passed: build the starting-level RTTs, then the RD.
    let (shift, table_shift) = (rtt.start_level().shift(), rtt.start_level().table_shift());
    for t in 0..rtt.num_start() {
        let mem = rmm.platform().granule(root_pa(params.rtt_base, t));
        for i in 0..RTT_ENTRIES {
            // Below 2^57: at most 16 tables of 512 entries of 2^39 bytes from level 0, or one
            // of 2^48-byte entries from level -1 (whose table_shift, 52, leaves `t` 0). The
            // bits of `t` and `i` do not overlap, except past the 16 entries at level -1.
            let ipa = (t as u64) << table_shift | (i as u64) << shift;
            let entry = match rtt.addr_is_protected(ipa) {
                true => RttEntry::unassigned(Ripas::Empty, format),
                false => RttEntry::unassigned_ns(format),
            };
            write_entry(mem, i, entry);
        }
    }
    let config = RealmConfig {
        ipa_width: params.s2sz,
        rtt_level_start: rtt.start_level().get(),
        rtt_num_start: rtt.num_start() as u64,
        rtt_base: params.rtt_base,
        vmid: params.vmid,
        hash_algo: params.hash_algo.to_rmi(),
        features: RealmFeatures {
            lpa2: params.flags.lpa2(),
            sve_vl: params.flags.sve().then_some(params.sve_vl),
            pmu_num_ctrs: params.flags.pmu().then_some(params.pmu_num_ctrs),
            num_bps: params.num_bps,
            num_wps: params.num_wps,
        },
    };
    let rim = rim_init(&params.measured());
    Rd::new(rmm.platform().granule(rd)).init(&config, &params.rpv, rim.as_bytes());
    // Publish the RTTs before the RD: whoever finds the RD finds its tables built.
    let mut rd_guard = None;
    for (slot, &pa) in locked.iter_mut().zip(pas.iter()) {
        match (slot.take(), pa == rd) {
            (Some(guard), true) => rd_guard = Some(guard),
            (Some(guard), false) => guard.transition(GranuleState::Rtt),
            (None, _) => {}
        }
    }
    if let Some(guard) = rd_guard {
        guard.transition(GranuleState::Rd);
    }
    Ok(())
}

/// RMI_REALM_ACTIVATE: NEW to ACTIVE.
///
/// Failure conditions: `rd_align`, `rd_bound`, `rd_state` (RMI_ERROR_INPUT), then
/// `realm_state` (not NEW: RMI_ERROR_REALM).
pub(super) fn activate<P: Platform>(rmm: &Rmm<P>, rd: u64) -> Result<(), RmiError> {
    let _locked = granule_at(rmm, rd)?
        .lock(GranuleState::Rd)
        .map_err(|_| RmiError::INPUT)?; // rd_state
    let realm = Rd::new(rmm.platform().granule(rd));
    if realm.state() != RealmState::New {
        return Err(RmiError::realm(0)); // realm_state
    }
    realm.set_state(RealmState::Active);
    Ok(())
}

/// RMI_REALM_DESTROY: the RD and the starting-level RTTs become DELEGATED, the VMID free.
///
/// Failure conditions: `rd_align`, `rd_bound`, `rd_state` (RMI_ERROR_INPUT), then
/// `realm_live` (RECs remain, or a starting-level RTT is live: RMI_ERROR_REALM).
pub(super) fn destroy<P: Platform>(rmm: &Rmm<P>, rd: u64) -> Result<(), RmiError> {
    let locked_rd = granule_at(rmm, rd)?
        .lock(GranuleState::Rd)
        .map_err(|_| RmiError::INPUT)?; // rd_state
    if locked_rd.refcount() != 0 {
        return Err(RmiError::realm(0)); // realm_live: RECs
    }
    let realm = Rd::new(rmm.platform().granule(rd)).config();
    // Lock order RD, then RTTs: no command can make a starting-level RTT live meanwhile.
    let mut roots: [Option<(u64, LockedGranule)>; MAX_START_RTTS] = Default::default();
    let count = (realm.rtt_num_start as usize).min(MAX_START_RTTS);
    for (t, slot) in roots.iter_mut().take(count).enumerate() {
        let pa = root_pa(realm.rtt_base, t);
        let granule = rmm.granules().get(pa).ok_or(RmiError::INPUT)?;
        let root = granule
            .lock(GranuleState::Rtt)
            .map_err(|_| RmiError::INPUT)?;
        if root.refcount() != 0 {
            return Err(RmiError::realm(0)); // realm_live: a starting-level RTT is live
        }
        *slot = Some((pa, root));
    }

    // Lock-free walkers of this realm stop, and those already walking finish.
    locked_rd.retire();
    crate::percpu::quiesce(rmm.cpus(), rd);
    // Entries left are non-live; unprotected ones may still be in TLBs (ASSIGNED_NS leaves
    // were removed before, but cached walks of the roots remain).
    rmm.platform().tlbi_vmid(realm.vmid);
    for (pa, root) in roots.into_iter().flatten() {
        rmm.platform().granule_zero(pa);
        root.transition(GranuleState::Delegated);
    }
    rmm.platform().granule_zero(rd);
    locked_rd.transition(GranuleState::Delegated);
    // Last: a realm created with this VMID finds every granule of this one DELEGATED.
    rmm.vmids().release(realm.vmid.into());
    Ok(())
}

/// PA of starting-level RTT `t` (below 16) of a realm whose first is at `rtt_base`. REALM_CREATE
/// checks `rtt_align` (rtt_base aligned to all of them) before it asks, so the sum stays below
/// 2^64; were it not, it would saturate to an address no granule has (`rtt_state`).
fn root_pa(rtt_base: u64, t: usize) -> u64 {
    rtt_base.saturating_add((t as u64) << GRANULE_SHIFT)
}
