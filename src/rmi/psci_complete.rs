//! RMI_PSCI_COMPLETE (spec B4.3.7): the host completes a realm's PSCI CPU_ON or AFFINITY_INFO.

use super::params::{mpidr_equal, RecMpidr};
use super::{granule_at, RmiError};
use crate::granule::{ClaimError, Granule, GranuleState, Held, LockedGranule};
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

/// Holds a target REC: locked if it is not running, pinned if it is (its run may then end,
/// but the REC cannot be destroyed, so its granule stays the RMM's while it is read).
fn hold_rec(granule: &Granule) -> Result<Held<'_>, RmiError> {
    granule
        .lock_or_pin(GranuleState::Rec)
        .map_err(|_| RmiError::INPUT)
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
/// Both RECs are held in ascending PA order, and read only while held. The calling REC is
/// locked. The target is locked if it is not running; a running target is runnable (REC_ENTER
/// claims only a runnable REC), and is pinned, not waited for: its owner and MPIDR never
/// change, and the pin keeps it from being destroyed (and its granule undelegated) while they
/// are read, even if its run ends meanwhile.
pub(super) fn complete<P: Platform>(rmm: &Rmm<P>, regs: &[u64; 8]) -> Result<(), RmiError> {
    let [_, calling_pa, target_pa, status, ..] = *regs;
    if calling_pa == target_pa {
        return Err(RmiError::INPUT); // alias
    }
    let calling_granule = granule_at(rmm, calling_pa)?; // calling_align, calling_bound
    let target_granule = granule_at(rmm, target_pa)?; // target_align, target_bound
    let (calling_locked, target_held) = if calling_pa < target_pa {
        let calling = lock_rec(calling_granule)?; // calling_state
        (calling, hold_rec(target_granule)?) // target_state
    } else {
        let target = hold_rec(target_granule)?; // target_state
        (lock_rec(calling_granule)?, target) // calling_state
    };
    // A running calling REC has no PSCI request pending (REC_ENTER refuses one that has).
    if calling_locked.is_none() {
        return Err(RmiError::INPUT); // pending
    }
    let calling = Rec::new(rmm.platform().granule(calling_pa));
    if !calling.psci_pending() {
        return Err(RmiError::INPUT); // pending
    }
    let target = Rec::new(rmm.platform().granule(target_pa));
    if target.owner() != calling.owner() {
        return Err(RmiError::INPUT); // owner
    }
    let [fid, requested, entry, context] = [0, 1, 2, 3].map(|n| calling.gpr(n));
    if !mpidr_equal(requested, RecMpidr::from_bits(target.mpidr())) {
        return Err(RmiError::INPUT); // target
    }
    // The target's lock, if it is not running: only then is its runnable flag read, and it
    // may be started.
    let target_locked = match &target_held {
        Held::Locked(locked) => Some(locked),
        Held::Pinned(_) => None,
    };
    let target_runnable = target_locked.is_none() || target.runnable();
    let status = PsciReturn::decode(status)
        .filter(|&s| status_permitted(fid, target_runnable, s))
        .ok_or(RmiError::INPUT)?; // status

    // The calling REC holds the request's sanitised FID and arguments (crate::psci).
    let x0 = match (status, psci::is_cpu_on(fid), target_locked) {
        (PsciReturn::Success, true, Some(_)) if !target_runnable => {
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
        (PsciReturn::Success, true, _) => PsciReturn::AlreadyOn.encode(), // on_already
        // AFFINITY_INFO: affinity_on, affinity_off.
        (PsciReturn::Success, false, _) if target_runnable => psci::AFFINITY_ON,
        (PsciReturn::Success, false, _) => psci::AFFINITY_OFF,
        (other, _, _) => other.encode(), // status
    };
    // pending, args: the result in x0, x1..x3 zero.
    calling.set_gpr(0, x0);
    for n in 1..=3 {
        calling.set_gpr(n, 0);
    }
    calling.set_psci_pending(false);
    Ok(())
}
