//! RSI_ATTESTATION_TOKEN_INIT (spec B5.3.2) and RSI_ATTESTATION_TOKEN_CONTINUE (B5.3.1): the
//! realm obtains a CCA attestation token (A7.2).

use super::{answer, RSI_ERROR_INPUT, RSI_ERROR_STATE, RSI_ERROR_UNKNOWN, RSI_SUCCESS};
use crate::platform::Platform;
use crate::rec::{Handled, Rec, Stage2, VcpuContext};
use crate::rmi::params::RecExit;
use crate::GRANULE_SIZE;

/// RSI_ATTESTATION_TOKEN_INIT: x1..x8 challenge.
pub fn init<P: Platform>(vcpu: &mut VcpuContext, _stage2: &Stage2<'_, P>, rec: Rec<'_>) -> Handled {
    rec.set_attest_in_progress(true);
    answer(vcpu, &[RSI_SUCCESS, 0])
}

/// RSI_ATTESTATION_TOKEN_CONTINUE: x1 addr, x2 offset, x3 size.
pub fn continue_token<P: Platform>(
    vcpu: &mut VcpuContext,
    stage2: &Stage2<'_, P>,
    rec: Rec<'_>,
    _out: &mut RecExit,
) -> Handled {
    let [addr, offset, size] = [vcpu.gprs[1], vcpu.gprs[2], vcpu.gprs[3]];
    if !addr.is_multiple_of(GRANULE_SIZE) || !stage2.is_protected(addr) {
        return answer(vcpu, &[RSI_ERROR_INPUT, 0]); // addr_align, addr_bound
    }
    let Some(end) = offset.checked_add(size) else {
        return answer(vcpu, &[RSI_ERROR_INPUT, 0]); // size_overflow
    };
    if offset >= GRANULE_SIZE || end > GRANULE_SIZE {
        return answer(vcpu, &[RSI_ERROR_INPUT, 0]); // offset_bound, size_bound
    }
    if !rec.attest_in_progress() {
        return answer(vcpu, &[RSI_ERROR_STATE, 0]); // state
    }
    answer(vcpu, &[RSI_ERROR_UNKNOWN, 0])
}
