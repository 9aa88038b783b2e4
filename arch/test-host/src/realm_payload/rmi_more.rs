//! The RMI commands the realm payload scenario needs beyond `crate::rmi` (same conventions:
//! x0 = function ID, x0 = 0 on success).

use crate::rmi::{RmiError, RmiResult};
use rmm_arch::smc::smc;

const DATA_CREATE_UNKNOWN: u64 = 0xC400_0154;
const RTT_MAP_UNPROTECTED: u64 = 0xC400_015F;
const RTT_UNMAP_UNPROTECTED: u64 = 0xC400_0162;
const PSCI_COMPLETE: u64 = 0xC400_0164;
const RTT_SET_RIPAS: u64 = 0xC400_0169;

fn checked(fid: u64, args: [u64; 4]) -> RmiResult<[u64; 8]> {
    let out = smc([fid, args[0], args[1], args[2], args[3], 0, 0, 0]);
    if out[0] == 0 {
        Ok(out)
    } else {
        Err(RmiError(out[0]))
    }
}

/// RMI_DATA_CREATE_UNKNOWN(rd, data, ipa).
pub fn data_create_unknown(rd: u64, data: u64, ipa: u64) -> RmiResult {
    checked(DATA_CREATE_UNKNOWN, [rd, data, ipa, 0]).map(drop)
}

/// RMI_RTT_MAP_UNPROTECTED(rd, ipa, level, desc).
pub fn rtt_map_unprotected(rd: u64, ipa: u64, level: u64, desc: u64) -> RmiResult {
    checked(RTT_MAP_UNPROTECTED, [rd, ipa, level, desc]).map(drop)
}

/// RMI_RTT_UNMAP_UNPROTECTED(rd, ipa, level): top.
pub fn rtt_unmap_unprotected(rd: u64, ipa: u64, level: u64) -> RmiResult<u64> {
    checked(RTT_UNMAP_UNPROTECTED, [rd, ipa, level, 0]).map(|out| out[1])
}

/// RMI_PSCI_COMPLETE(calling_rec, target_rec, status).
pub fn psci_complete(calling: u64, target: u64, status: u64) -> RmiResult {
    checked(PSCI_COMPLETE, [calling, target, status, 0]).map(drop)
}

/// RMI_RTT_SET_RIPAS(rd, rec, base, top): out_top.
pub fn rtt_set_ripas(rd: u64, rec: u64, base: u64, top: u64) -> RmiResult<u64> {
    checked(RTT_SET_RIPAS, [rd, rec, base, top]).map(|out| out[1])
}
