//! RMI_PSCI_COMPLETE (spec B4.3.7): the host completes a realm's PSCI CPU_ON or AFFINITY_INFO.

use super::params::{mpidr_equal, RecMpidr};
use super::{granule_at, RmiError};
use crate::granule::{ClaimError, Granule, GranuleState, LockedGranule};
use crate::platform::Platform;
use crate::psci::{self, PsciReturn};
use crate::rec::{Rec, RESET_PSTATE};
use crate::Rmm;

/// Locks a REC that is not running; `None` if it is running (it is then left alone).
fn lock_rec(granule: &Granule) -> Result<Option<LockedGranule<'_>>, RmiError> {
    match granule.lock_unclaimed(GranuleState::Rec) {
        Ok(locked) => Ok(Some(locked)),
        Err(ClaimError::Claimed) => Ok(None),
        Err(ClaimError::State(_)) => Err(RmiError::INPUT),
    }
}

/// PsciReturnCodePermitted (B3.27): SUCCESS always; DENIED for a CPU_ON of a REC that is off.
fn status_permitted(fid: u64, target_runnable: bool, status: PsciReturn) -> bool {
    status == PsciReturn::Success
        || (psci::is_cpu_on(fid) && !target_runnable && status == PsciReturn::Denied)
}

/// RMI_PSCI_COMPLETE: x1 calling_rec, x2 target_rec, x3 status. Records the PSCI result in the
/// calling REC and, for a successful CPU_ON, starts the target REC at the requested entry
/// point (B4.3.7.3).
///
/// Failure conditions, unordered, all RMI_ERROR_INPUT: `alias`, `calling_align`,
/// `calling_bound`, `calling_state`, `target_align`, `target_bound`, `target_state`, `pending`
/// (no PSCI request pending: also a calling REC that is running), `owner`, `target` (the
/// target's MPIDR is not the one requested), `status` (not permitted for the request).
///
/// Both RECs are locked in ascending PA order. A target that is running is runnable, and its
/// owner and MPIDR never change: it is not waited for.
pub(super) fn complete<P: Platform>(rmm: &Rmm<P>, regs: &[u64; 8]) -> Result<(), RmiError> {
    let [_, calling_pa, target_pa, status, ..] = *regs;
    if calling_pa == target_pa {
        return Err(RmiError::INPUT); // alias
    }
    let calling_granule = granule_at(rmm, calling_pa)?; // calling_align, calling_bound
    let target_granule = granule_at(rmm, target_pa)?; // target_align, target_bound
    let (calling_locked, target_locked) = if calling_pa < target_pa {
        let calling = lock_rec(calling_granule)?; // calling_state
        (calling, lock_rec(target_granule)?) // target_state
    } else {
        let target = lock_rec(target_granule)?; // target_state
        (lock_rec(calling_granule)?, target) // calling_state
    };
    let calling = Rec::new(rmm.platform().granule(calling_pa));
    let target = Rec::new(rmm.platform().granule(target_pa));
    // A running calling REC has no PSCI request pending (REC_ENTER refuses one that has).
    if calling_locked.is_none() || !calling.psci_pending() {
        return Err(RmiError::INPUT); // pending
    }
    if target.owner() != calling.owner() {
        return Err(RmiError::INPUT); // owner
    }
    let [fid, requested, entry, context] = [0, 1, 2, 3].map(|n| calling.gpr(n));
    if !mpidr_equal(requested, RecMpidr::from_bits(target.mpidr())) {
        return Err(RmiError::INPUT); // target
    }
    let target_runnable = target_locked.is_none() || target.runnable();
    let status = PsciReturn::decode(status)
        .filter(|&s| status_permitted(fid, target_runnable, s))
        .ok_or(RmiError::INPUT)?; // status

    // The calling REC holds the request's sanitised FID and arguments (crate::psci).
    let x0 = match (status, psci::is_cpu_on(fid)) {
        (PsciReturn::Success, true) if target_runnable => {
            PsciReturn::AlreadyOn.encode() // on_already
        }
        (PsciReturn::Success, true) => {
            // on_success: the target starts at `entry` with x0 = context and all else zero.
            for n in 0..crate::rec::NUM_GPRS {
                target.set_gpr(n, 0);
            }
            target.set_gpr(0, context);
            target.set_pc(entry);
            target.set_pstate(RESET_PSTATE);
            target.set_runnable(true);
            PsciReturn::Success.encode()
        }
        // AFFINITY_INFO: affinity_on, affinity_off.
        (PsciReturn::Success, _) if target_runnable => psci::AFFINITY_ON,
        (PsciReturn::Success, _) => psci::AFFINITY_OFF,
        (other, _) => other.encode(), // status
    };
    // pending, args: the result in x0, x1..x3 zero.
    calling.set_gpr(0, x0);
    for n in 1..=3 {
        calling.set_gpr(n, 0);
    }
    calling.set_psci_pending(false);
    Ok(())
}
