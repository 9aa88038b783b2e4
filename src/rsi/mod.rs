//! The Realm Services Interface: the commands a realm calls by SMC (spec B5).
//!
//! [`handle`] runs one RSI command for the REC that the calling CPU has claimed: the realm's
//! registers are its inputs and outputs, its memory is reached through its stage 2
//! ([`Stage2`]), its REC and RD through the granules. Most commands answer the realm at once;
//! RSI_IPA_STATE_SET and RSI_HOST_CALL exit to the host, which completes them before the next
//! REC entry (A4.3.8, A4.3.9).
//!
//! | command                        | here                                |
//! |--------------------------------|-------------------------------------|
//! | RSI_VERSION, RSI_FEATURES      | [`version`]                         |
//! | RSI_MEASUREMENT_READ / EXTEND  | [`measurement`]                     |
//! | RSI_REALM_CONFIG               | [`realm_config`]                    |
//! | RSI_IPA_STATE_GET / SET        | [`ipa_state`]                       |
//! | RSI_HOST_CALL                  | [`host_call`]                       |
//! | RSI_ATTESTATION_TOKEN_INIT / CONTINUE | [`attestation`]              |
//!
//! An RSI memory operand whose Protected IPA has no valid mapping: RIPAS EMPTY fails the
//! command with RSI_ERROR_INPUT (the realm gave away that memory); otherwise (RIPAS RAM with
//! nothing assigned, or DESTROYED) the REC exits due to Data Abort at that IPA
//! ([`crate::rec::protected_abort`]) with the PC at the SMC, so the command runs again once the
//! host has mapped the page. The spec lists no failure condition for either case.

pub mod attestation;
pub mod host_call;
pub mod ipa_state;
pub mod measurement;
pub mod realm_config;
pub mod version;

use crate::platform::Platform;
use crate::rec::{protected_abort, Handled, Rec, Stage2, VcpuContext};
use crate::rmi::params::RecExit;
use crate::rtt::Ripas;
use crate::trace::Signature;

/// RSI_VERSION.
pub const RSI_VERSION: u64 = 0xC400_0190;
/// RSI_FEATURES.
pub const RSI_FEATURES: u64 = 0xC400_0191;
/// RSI_MEASUREMENT_READ.
pub const RSI_MEASUREMENT_READ: u64 = 0xC400_0192;
/// RSI_MEASUREMENT_EXTEND.
pub const RSI_MEASUREMENT_EXTEND: u64 = 0xC400_0193;
/// RSI_ATTESTATION_TOKEN_INIT.
pub const RSI_ATTESTATION_TOKEN_INIT: u64 = 0xC400_0194;
/// RSI_ATTESTATION_TOKEN_CONTINUE.
pub const RSI_ATTESTATION_TOKEN_CONTINUE: u64 = 0xC400_0195;
/// RSI_REALM_CONFIG.
pub const RSI_REALM_CONFIG: u64 = 0xC400_0196;
/// RSI_IPA_STATE_SET.
pub const RSI_IPA_STATE_SET: u64 = 0xC400_0197;
/// RSI_IPA_STATE_GET.
pub const RSI_IPA_STATE_GET: u64 = 0xC400_0198;
/// RSI_HOST_CALL.
pub const RSI_HOST_CALL: u64 = 0xC400_0199;

/// Each command's name, input registers from x1 and output registers from x0 (B5.3).
pub(crate) const SIGNATURES: [(u64, Signature); 10] = [
    (RSI_VERSION, Signature::new("RSI_VERSION", 1, 3)),
    (RSI_FEATURES, Signature::new("RSI_FEATURES", 1, 2)),
    (
        RSI_MEASUREMENT_READ,
        Signature::new("RSI_MEASUREMENT_READ", 1, 9),
    ),
    (
        RSI_MEASUREMENT_EXTEND,
        Signature::new("RSI_MEASUREMENT_EXTEND", 10, 1),
    ),
    (
        RSI_ATTESTATION_TOKEN_INIT,
        Signature::new("RSI_ATTESTATION_TOKEN_INIT", 8, 2),
    ),
    (
        RSI_ATTESTATION_TOKEN_CONTINUE,
        Signature::new("RSI_ATTESTATION_TOKEN_CONTINUE", 3, 2),
    ),
    (RSI_REALM_CONFIG, Signature::new("RSI_REALM_CONFIG", 1, 1)),
    (RSI_IPA_STATE_SET, Signature::new("RSI_IPA_STATE_SET", 4, 3)),
    (RSI_IPA_STATE_GET, Signature::new("RSI_IPA_STATE_GET", 2, 3)),
    (RSI_HOST_CALL, Signature::new("RSI_HOST_CALL", 1, 1)),
];

/// RsiCommandReturnCode (B5.4.1): RSI_SUCCESS.
pub const RSI_SUCCESS: u64 = 0;
/// RSI_ERROR_INPUT.
pub const RSI_ERROR_INPUT: u64 = 1;
/// RSI_ERROR_STATE.
pub const RSI_ERROR_STATE: u64 = 2;
/// RSI_INCOMPLETE.
pub const RSI_INCOMPLETE: u64 = 3;
/// RSI_ERROR_UNKNOWN.
pub const RSI_ERROR_UNKNOWN: u64 = 4;

/// RsiRipasChangeFlags bit 0: a change may apply to entries whose RIPAS is DESTROYED.
pub const RSI_CHANGE_DESTROYED: u64 = 1;

/// Runs the RSI command `fid` (B5.3) called by the realm whose registers are `vcpu`; `None`
/// if `fid` is not an RSI function. The PC is already past the SMC.
pub fn handle<P: Platform>(
    fid: u64,
    vcpu: &mut VcpuContext,
    stage2: &Stage2<'_, P>,
    rec: Rec<'_>,
    out: &mut RecExit,
) -> Option<Handled> {
    Some(match fid {
        RSI_VERSION => version::version(vcpu),
        RSI_FEATURES => version::features(vcpu),
        RSI_MEASUREMENT_READ => measurement::read(vcpu, stage2),
        RSI_MEASUREMENT_EXTEND => measurement::extend(vcpu, stage2),
        RSI_REALM_CONFIG => realm_config::realm_config(vcpu, stage2, out),
        RSI_IPA_STATE_SET => ipa_state::set(vcpu, stage2, out),
        RSI_IPA_STATE_GET => ipa_state::get(vcpu, stage2),
        RSI_HOST_CALL => host_call::call(vcpu, stage2, out),
        RSI_ATTESTATION_TOKEN_INIT => attestation::init(vcpu, stage2, rec),
        RSI_ATTESTATION_TOKEN_CONTINUE => attestation::continue_token(vcpu, stage2, rec, out),
        _ => return None,
    })
}

/// The registers an RSI command may return values in: X0..X16 (B1.2).
const RESULT_REGISTERS: usize = 17;

/// Sets the realm's registers as an RSI command returns: `x0..` = `outputs` (the return code,
/// then the command's output values), and every other register of X0..X16 zero (B1.2: "On
/// return from an RMI or RSI command, any of X0 - X16 which are not specified as output values
/// in the command definition MBZ"). For commands that complete at the next REC entry too.
pub(crate) fn set_outputs(vcpu: &mut VcpuContext, outputs: &[u64]) {
    let (set, zero) = vcpu.gprs[..RESULT_REGISTERS].split_at_mut(outputs.len());
    set.copy_from_slice(outputs);
    zero.fill(0);
}

/// Returns to the realm with `x0..` = `outputs` and the rest of X0..X16 zero.
fn answer(vcpu: &mut VcpuContext, outputs: &[u64]) -> Handled {
    set_outputs(vcpu, outputs);
    Handled::Resume
}

/// What becomes of an RSI command whose memory operand at the Protected IPA `ipa` had no
/// valid mapping (module doc): RSI_ERROR_INPUT for RIPAS EMPTY, else a REC exit due to Data
/// Abort with the SMC to be executed again.
fn memory_fault<P: Platform>(
    vcpu: &mut VcpuContext,
    stage2: &Stage2<'_, P>,
    out: &mut RecExit,
    ipa: u64,
) -> Handled {
    match stage2.fault(ipa) {
        (Some(Ripas::Empty), _) => answer(vcpu, &[RSI_ERROR_INPUT]),
        (_, level) => {
            vcpu.step_back_to_instruction();
            protected_abort(out, ipa, level)
        }
    }
}

/// Runs `f` on the realm's RD with its lock held (measurements and state change under it,
/// [`crate::realm::Rd`]). The REC holds a reference on the RD, so it is an RD; `None` only if
/// that were broken. The caller must not have announced a walk.
pub(crate) fn with_rd<P: Platform, R>(
    stage2: &Stage2<'_, P>,
    f: impl FnOnce(crate::realm::Rd<'_>) -> R,
) -> Option<R> {
    let rmm = stage2.rmm();
    let _locked = rmm
        .granules()
        .get(stage2.rd())?
        .lock(crate::granule::GranuleState::Rd)
        .ok()?;
    Some(f(crate::realm::Rd::new(
        rmm.platform().granule(stage2.rd()),
    )))
}
