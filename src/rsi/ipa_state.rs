//! RSI_IPA_STATE_SET (spec B5.3.6) and RSI_IPA_STATE_GET (B5.3.5): the realm's view of the
//! RIPAS of its Protected IPA space (A5.2, A5.4).

use super::{answer, RSI_CHANGE_DESTROYED, RSI_ERROR_INPUT, RSI_SUCCESS};
use crate::platform::Platform;
use crate::rec::{ExitKind, Handled, RipasChange, Stage2, VcpuContext};
use crate::rmi::params::{RecExit, RecExitReason, RmiRipas};
use crate::rtt::Ripas;
use crate::GRANULE_SIZE;

/// The failure conditions RSI_IPA_STATE_GET and _SET share: `base_align`, `top_align` (GET:
/// `end_align`), `size_valid`, `rgn_bound`. Since `base < top`, the whole range is Protected
/// when its last byte is (AddrRangeIsProtected, B3).
fn range_is_valid<P: Platform>(stage2: &Stage2<'_, P>, base: u64, top: u64) -> bool {
    base.is_multiple_of(GRANULE_SIZE)
        && top.is_multiple_of(GRANULE_SIZE)
        && base < top
        && stage2.is_protected(base)
        && top.checked_sub(1).is_some_and(|last| stage2.is_protected(last))
}

/// RSI_IPA_STATE_SET: x1 base, x2 top, x3 ripas (bits 7:0), x4 flags. Exits to the host due
/// to RIPAS change pending (A4.3.8); the outputs x0 result, x1 new_base, x2 response reach the
/// realm on the next REC entry ([`crate::rmi`]'s REC_ENTER, B5.3.6.3).
///
/// Failure conditions, unordered, all RSI_ERROR_INPUT: `base_align`, `top_align`,
/// `size_valid`, `rgn_bound`, `ripas_valid` (neither EMPTY nor RAM).
pub fn set<P: Platform>(
    vcpu: &mut VcpuContext,
    stage2: &Stage2<'_, P>,
    out: &mut RecExit,
) -> Handled {
    let [_, base, top, ripas, flags, ..] = vcpu.gprs;
    let ripas = ripas & 0xff; // X3[63:8] SBZ
    let value = match ripas {
        0 => RmiRipas::Empty,
        1 => RmiRipas::Ram,
        _ => return answer(vcpu, &[RSI_ERROR_INPUT]), // ripas_valid
    };
    if !range_is_valid(stage2, base, top) {
        return answer(vcpu, &[RSI_ERROR_INPUT]); // base_align, top_align, size_valid, rgn_bound
    }
    let change = RipasChange {
        addr: base,
        top,
        value: ripas as u8,
        change_destroyed: flags & RSI_CHANGE_DESTROYED != 0,
    };
    let mut e = RecExit::new(RecExitReason::RipasChange);
    e.ripas_base = base;
    e.ripas_top = top;
    e.ripas_value = value;
    *out = e;
    Handled::Exit(ExitKind::RipasChange(change))
}

/// RSI_IPA_STATE_GET: x1 base, x2 top. Returns x1 out_top and x2 ripas: every address in
/// `[base, out_top)` has RIPAS `ripas`, `base < out_top <= top` (B5.3.5.1.3). The answer covers
/// at most the last-level RTT that maps `base`; the realm asks again from `out_top`.
///
/// Failure conditions, unordered, all RSI_ERROR_INPUT: `base_align`, `end_align`,
/// `size_valid`, `rgn_bound`.
pub fn get<P: Platform>(vcpu: &mut VcpuContext, stage2: &Stage2<'_, P>) -> Handled {
    let [base, top] = [vcpu.gprs[1], vcpu.gprs[2]];
    if !range_is_valid(stage2, base, top) {
        return answer(vcpu, &[RSI_ERROR_INPUT]); // base_align, end_align, size_valid, rgn_bound
    }
    let (ripas, out_top) = stage2.ripas_run(base, top);
    // RsiRipas (B5.4.7) encodes EMPTY, RAM and DESTROYED as RmiRipas does.
    let ripas: u64 = match ripas {
        Ripas::Empty => 0,
        Ripas::Ram => 1,
        Ripas::Destroyed => 2,
    };
    answer(vcpu, &[RSI_SUCCESS, out_top, ripas])
}
