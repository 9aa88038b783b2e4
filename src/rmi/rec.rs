//! RMI_REC_CREATE (spec B4.3.12), RMI_REC_DESTROY (B4.3.13), RMI_REC_AUX_COUNT (B4.3.11).

use super::params::{aux_alias, aux_aligned, RecParams, Runnable};
use super::{granule_at, lock_delegated, read_host_page, Outputs, RmiError};
use crate::granule::{GranuleState, LockedGranule};
use crate::measurement::{rim_extend_rec, HashAlgorithm, Measurement};
use crate::platform::Platform;
use crate::realm::{Rd, RealmState};
use crate::rec::{aux_count as rec_aux_count, Rec, RecInit, MAX_AUX, MAX_RECS};
use crate::Rmm;

/// RMI_REC_CREATE: x1 rd, x2 rec, x3 params_ptr. `rec` becomes a REC of the realm with the
/// host's RmiRecParams, its RecAuxCount (B3.36) auxiliary granules REC_AUX; a runnable REC extends
/// the RIM (B4.3.12.4).
///
/// Failure conditions: `params_align`, `params_bound`, `params_pas`, `rec_align`, `rec_bound`,
/// `rec_state`, `rd_align`, `rd_bound`, `rd_state`, `mpidr_index`, `num_aux`, `aux_align`,
/// `aux_alias`, `aux_state` (RMI_ERROR_INPUT); `realm_state` (not NEW) and `num_recs` (the
/// realm has 2^MAX_RECS_ORDER - 1 RECs), RMI_ERROR_REALM, after the RD checks.
pub(super) fn create<P: Platform>(rmm: &Rmm<P>, regs: &[u64; 8]) -> Result<(), RmiError> {
    let [_, rd, rec, params_ptr, ..] = *regs;
    let page = read_host_page(rmm, params_ptr)?; // params_align, params_bound, params_pas
    let params = RecParams::parse(&page);
    granule_at(rmm, rec)?; // rec_align, rec_bound
    let rd_locked = granule_at(rmm, rd)?
        .lock(GranuleState::Rd)
        .map_err(|_| RmiError::INPUT)?; // rd_align, rd_bound, rd_state
    let realm = Rd::new(rmm.platform().granule(rd));
    if realm.state() != RealmState::New {
        return Err(RmiError::realm(0)); // realm_state
    }
    if rd_locked.refcount() >= MAX_RECS {
        return Err(RmiError::realm(0)); // num_recs
    }
    if !params.mpidr.is_valid() || params.mpidr.rec_index() != realm.rec_index() {
        return Err(RmiError::INPUT); // mpidr_index
    }
    let aux = match params.aux_used() {
        Some(aux) if aux.len() == rec_aux_count(&realm.features()) => aux,
        _ => return Err(RmiError::INPUT), // num_aux
    };
    if !aux_aligned(aux) {
        return Err(RmiError::INPUT); // aux_align
    }
    if aux_alias(rec, aux) {
        return Err(RmiError::INPUT); // aux_alias
    }

    // rec_state and aux_state: the REC and its aux granules DELEGATED, locked in ascending PA
    // order after the RD (no duplicates: aux_alias).
    let mut pas = [0u64; 1 + MAX_AUX];
    let slots = pas.iter_mut().zip(core::iter::once(&rec).chain(aux));
    let count = slots.map(|(slot, &pa)| *slot = pa).count();
    let (pas, _) = pas.split_at_mut(count);
    let mut locked: [Option<LockedGranule>; 1 + MAX_AUX] = Default::default();
    lock_delegated(rmm, pas, &mut locked)?; // rec_state, aux_state

    let runnable = params.flags.runnable() == Runnable::Runnable;
    if runnable {
        let algo = HashAlgorithm::from_rmi(realm.config().hash_algo).ok_or(RmiError::INPUT)?;
        let mut rim = Measurement::from_bytes(realm.measurement(0));
        rim_extend_rec(algo, &mut rim, &params.measured());
        realm.set_measurement(0, rim.as_bytes());
    }
    Rec::new(rmm.platform().granule(rec)).init(&RecInit {
        owner: rd,
        runnable,
        mpidr: params.mpidr.bits(),
        pc: params.pc,
        gprs: &params.gprs,
        aux,
    });
    // An MPIDR's index (`mpidr_index`): far below u64::MAX.
    realm.set_rec_index(realm.rec_index().saturating_add(1));
    // The REC's reference on its RD: dropped by REC_DESTROY; REALM_DESTROY needs none left.
    rd_locked.get_ref();
    // The REC is published last, once whole: every aux granule is REC_AUX before the REC
    // granule's Release transition, which pairs with the Acquire of REC_DESTROY's lock of the
    // REC, so a REC_DESTROY that finds the REC finds all of its aux granules REC_AUX.
    // Publishing the REC at its place in PA order would let a REC_DESTROY on another CPU
    // destroy it while aux granules above it were still DELEGATED and locked here: they would
    // then become REC_AUX with no REC, never to be undelegated.
    let mut rec_guard = None;
    for (slot, &pa) in locked.iter_mut().zip(pas.iter()) {
        let Some(guard) = slot.take() else { continue };
        if pa == rec {
            rec_guard = Some(guard);
        } else {
            guard.transition(GranuleState::RecAux);
        }
    }
    publish(rec_guard);
    Ok(())
}

/// Makes the locked REC granule a REC ([`create`]).
// `lock_delegated` locked the REC granule with its aux granules or failed, so the guard is
// there; without it the REC would stay locked and half made, and halting is right.
#[allow(clippy::expect_used)]
fn publish(rec: Option<LockedGranule<'_>>) {
    rec.expect("the REC granule was locked with its aux granules")
        .transition(GranuleState::Rec);
}

/// RMI_REC_DESTROY: x1 rec. The REC and its auxiliary granules become DELEGATED (wiped), and
/// the realm has one REC fewer.
///
/// Failure conditions: `rec_align`, `rec_bound`, `rec_gran_state` (RMI_ERROR_INPUT), then
/// `rec_state` (running: RMI_ERROR_REC, at once).
pub(super) fn destroy<P: Platform>(rmm: &Rmm<P>, rec_pa: u64) -> Result<(), RmiError> {
    // rec_gran_state, rec_state:
    let locked = granule_at(rmm, rec_pa)?.lock_unclaimed(GranuleState::Rec)?;
    // A PSCI_COMPLETE that found the REC running may still hold a pin on it (reading its owner
    // and MPIDR): the REC is not wiped under it.
    locked.wait_unreferenced();
    let rec = Rec::new(rmm.platform().granule(rec_pa));
    let owner = rec.owner();
    // Lock order: the REC, then its aux granules in ascending PA order.
    let mut aux = [0u64; MAX_AUX];
    let count = aux.iter_mut().zip(rec.aux()).map(|(slot, pa)| *slot = pa).count();
    let (aux, _) = aux.split_at_mut(count);
    aux.sort_unstable();
    for &pa in aux.iter() {
        let Some(granule) = rmm.granules().get(pa) else {
            continue;
        };
        // REC_CREATE made every aux granule REC_AUX before it published the REC (whose lock
        // we hold, acquired from that publication): this cannot fail.
        let Ok(aux_locked) = granule.lock(GranuleState::RecAux) else {
            debug_assert!(
                false,
                "aux granule {pa:#x} of REC {rec_pa:#x} is not REC_AUX"
            );
            continue;
        };
        rmm.platform().granule_zero(pa);
        aux_locked.transition(GranuleState::Delegated);
    }
    rmm.platform().granule_zero(rec_pa);
    locked.transition(GranuleState::Delegated);
    // The REC's reference on its RD, taken by REC_CREATE (lock-free: Release).
    if let Some(rd) = rmm.granules().get(owner) {
        rd.put_ref();
    }
    Ok(())
}

/// RMI_REC_AUX_COUNT: x1 rd. Output: x1 the number of auxiliary granules a REC of this realm
/// needs.
///
/// Failure conditions, all RMI_ERROR_INPUT: `rd_align`, `rd_bound`, `rd_state`.
pub(super) fn aux_count<P: Platform>(
    rmm: &Rmm<P>,
    cpu: usize,
    rd: u64,
    out: &mut Outputs,
) -> Result<(), RmiError> {
    granule_at(rmm, rd)?; // rd_align, rd_bound
                          // The RD cannot be destroyed and reused while this walk is announced: its features, fixed
                          // by REALM_CREATE, are read under the announcement.
    let _announced = rmm.cpu(cpu).announce_walk(rd);
    if !rmm.realm_is_alive(rd) {
        return Err(RmiError::INPUT); // rd_state
    }
    out[0] = rec_aux_count(&Rd::new(rmm.platform().granule(rd)).features()) as u64;
    Ok(())
}
