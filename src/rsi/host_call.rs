//! RSI_HOST_CALL (spec B5.3.4): a call from the realm to the host (A4.5), through an
//! RsiHostCall structure in realm memory (B5.4.3).

use super::{answer, memory_fault, RSI_ERROR_INPUT, RSI_SUCCESS};
use crate::platform::{Platform, Stage2Fault};
use crate::rec::{ExitKind, Handled, Rec, Stage2, VcpuContext, NUM_GPRS};
use crate::rmi::params::{RecExit, RecExitReason};

/// Size and alignment of RsiHostCall.
pub const HOST_CALL_SIZE: u64 = 0x100;
/// Offset of `gprs[0]` in RsiHostCall; `imm` (UInt16) is at offset 0.
const GPRS: u64 = 0x8;

/// RSI_HOST_CALL: x1 addr. Reads the RsiHostCall at IPA `addr` and exits to the host due to
/// Host call (A4.3.9) with its `imm` and `gprs[0..30]`; the host's answer is written back on
/// the next REC entry ([`complete`]), and x0 is then RSI_SUCCESS.
///
/// Failure conditions, unordered: `addr_align` (not 256-byte aligned), `addr_bound` (not a
/// Protected IPA), both RSI_ERROR_INPUT. A structure with no valid mapping: module [`super`]
/// doc.
pub fn call<P: Platform>(
    vcpu: &mut VcpuContext,
    stage2: &Stage2<'_, P>,
    out: &mut RecExit,
) -> Handled {
    let addr = vcpu.gprs[1];
    if !addr.is_multiple_of(HOST_CALL_SIZE) {
        return answer(vcpu, &[RSI_ERROR_INPUT]); // addr_align
    }
    if !stage2.is_protected(addr) {
        return answer(vcpu, &[RSI_ERROR_INPUT]); // addr_bound
    }
    // imm (and padding) in the first doubleword, then gprs[0..31]: the rest is padding.
    let mut words = [0u64; 1 + NUM_GPRS];
    if let Err(fault) = stage2.read_words(addr, &mut words) {
        return memory_fault(vcpu, stage2, out, fault.ipa);
    }
    *out = RecExit::new(RecExitReason::HostCall);
    out.imm = words[0] as u16;
    out.gprs.copy_from_slice(&words[1..]);
    Handled::Exit(ExitKind::HostCall(addr))
}

/// Completes the REC's pending host call on REC entry (A4.2.2): the host's `gprs` (enter.gprs)
/// go to the RsiHostCall's `gprs[0..30]`, x0 becomes RSI_SUCCESS (x1..x16 zero) and the call is no longer
/// pending. If the structure has no valid mapping, nothing changes and the fault is returned,
/// for a REC exit due to Data Abort.
pub fn complete<P: Platform>(
    vcpu: &mut VcpuContext,
    stage2: &Stage2<'_, P>,
    rec: Rec<'_>,
    gprs: &[u64; NUM_GPRS],
) -> Result<(), Stage2Fault> {
    // A Protected IPA (`addr_bound`), so it never wraps; if it did, it would fault.
    let addr = rec.host_call_addr();
    let gprs_at = addr.checked_add(GPRS).ok_or(Stage2Fault { ipa: addr })?;
    stage2.write_words(gprs_at, gprs)?;
    rec.set_host_call_pending(false);
    super::set_outputs(vcpu, &[RSI_SUCCESS]);
    Ok(())
}
