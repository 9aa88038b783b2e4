//! RSI_REALM_CONFIG (spec B5.3.9): the realm reads its configuration (RsiRealmConfig, B5.4.5).

use super::{answer, memory_fault, with_rd, RSI_ERROR_INPUT, RSI_ERROR_UNKNOWN, RSI_SUCCESS};
use crate::measurement::HashAlgorithm;
use crate::platform::{Platform, RealmMemory};
use crate::rec::{Handled, Stage2, VcpuContext};
use crate::rmi::params::RecExit;
use crate::GRANULE_SIZE;

/// Offset of `ipa_width` (UInt64) in RsiRealmConfig.
const IPA_WIDTH: usize = 0x0;
/// Offset of `hash_algo` (RsiHashAlgorithm, 8 bits).
const HASH_ALGO: usize = 0x8;
/// Offset of `rpv` (Bits512).
const RPV: usize = 0x200;
/// RsiRealmConfig is written in pieces of this many bytes: the first holds `ipa_width` and
/// `hash_algo`, the second `rpv`, the rest are zero (MBZ).
const PIECE: usize = 0x200;

/// RSI_REALM_CONFIG: x1 addr. Writes the realm's RsiRealmConfig to the granule at IPA `addr`:
/// its IPA width, hash algorithm and RPV, every other byte zero (B5.3.9.3 `ipa_width`,
/// `hash_algo`).
///
/// Failure conditions, unordered: `addr_align` (not granule aligned), `addr_bound` (not a
/// Protected IPA), both RSI_ERROR_INPUT. A granule with no valid mapping: module
/// [`super`] doc.
pub fn realm_config<P: Platform>(
    vcpu: &mut VcpuContext,
    stage2: &Stage2<'_, P>,
    out: &mut RecExit,
) -> Handled {
    let addr = vcpu.gprs[1];
    if !addr.is_multiple_of(GRANULE_SIZE) {
        return answer(vcpu, &[RSI_ERROR_INPUT]); // addr_align
    }
    if !stage2.is_protected(addr) {
        return answer(vcpu, &[RSI_ERROR_INPUT]); // addr_bound
    }
    let Some((hash_algo, rpv)) = with_rd(stage2, |rd| (rd.config().hash_algo, rd.rpv())) else {
        return answer(vcpu, &[RSI_ERROR_UNKNOWN]);
    };
    let Some(hash_algo) = HashAlgorithm::from_rmi(hash_algo) else {
        return answer(vcpu, &[RSI_ERROR_UNKNOWN]);
    };
    // A Protected IPA (`addr_bound`) never wraps.
    let Some(end) = addr.checked_add(GRANULE_SIZE) else {
        return answer(vcpu, &[RSI_ERROR_INPUT]); // addr_bound
    };
    let mut piece = [0u8; PIECE];
    for (i, at) in (addr..end).step_by(PIECE).enumerate() {
        piece.fill(0);
        match i {
            0 => {
                let width = u64::from(stage2.ipa_width()).to_le_bytes();
                piece[IPA_WIDTH..IPA_WIDTH + 8].copy_from_slice(&width);
                piece[HASH_ALGO] = hash_algo.to_rsi();
            }
            1 => piece[RPV - PIECE..RPV - PIECE + 64].copy_from_slice(&rpv),
            _ => {}
        }
        if let Err(fault) = stage2.write(at, &piece) {
            return memory_fault(vcpu, stage2, out, fault.ipa);
        }
    }
    answer(vcpu, &[RSI_SUCCESS])
}
