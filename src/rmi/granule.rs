//! RMI_GRANULE_DELEGATE (spec B4.3.5) and RMI_GRANULE_UNDELEGATE (spec B4.3.6).

use super::{granule_at, RmiError};
use crate::granule::GranuleState;
use crate::platform::Platform;
use crate::Rmm;

/// RMI_GRANULE_DELEGATE: UNDELEGATED to DELEGATED, GPT entry NS to Realm.
///
/// Failure conditions, unordered, all RMI_ERROR_INPUT: `gran_align`, `gran_bound`,
/// `gran_state` (not UNDELEGATED), `gran_gpt` (GPT entry not NS: EL3 refuses).
pub(super) fn delegate<P: Platform>(rmm: &Rmm<P>, addr: u64) -> Result<(), RmiError> {
    let granule = granule_at(rmm, addr)?; // gran_align, gran_bound
    let locked = granule
        .lock(GranuleState::Undelegated)
        .map_err(|_| RmiError::INPUT)?; // gran_state
    rmm.platform()
        .gtsi_delegate(addr)
        .map_err(|_| RmiError::INPUT)?; // gran_gpt; dropping `locked` unlocks unchanged

    // A2.2.4: the host's data is wiped before the granule can be observed as DELEGATED; the
    // transition's Release publishes the zeros to the next holder.
    rmm.platform().granule_zero(addr);
    locked.transition(GranuleState::Delegated);
    Ok(())
}

/// RMI_GRANULE_UNDELEGATE: DELEGATED to UNDELEGATED, GPT entry Realm to NS.
///
/// Failure conditions, unordered, all RMI_ERROR_INPUT: `gran_align`, `gran_bound`,
/// `gran_state` (not DELEGATED). Success condition `gran_content` (wiped) holds because a
/// DELEGATED granule is always zero.
pub(super) fn undelegate<P: Platform>(rmm: &Rmm<P>, addr: u64) -> Result<(), RmiError> {
    let granule = granule_at(rmm, addr)?; // gran_align, gran_bound
    let locked = granule
        .lock(GranuleState::Delegated)
        .map_err(|_| RmiError::INPUT)?; // gran_state
    debug_assert!(
        rmm.platform().granule_is_zero(addr),
        "DELEGATED granule not wiped"
    );
    // EL3 refuses only a granule that is not Realm, which a DELEGATED granule always is; should
    // it refuse, the granule stays DELEGATED and the host learns of it.
    rmm.platform()
        .gtsi_undelegate(addr)
        .map_err(|_| RmiError::INPUT)?;
    locked.transition(GranuleState::Undelegated);
    Ok(())
}
