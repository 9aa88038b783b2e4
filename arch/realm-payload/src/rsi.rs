//! Typed RSI calls (RMM spec 1.0-REL0, B5.3): x0 = function ID, results in x0.. with x0 the
//! RsiCommandReturnCode (B5.4.1).

use crate::smc::call;

const VERSION: u64 = 0xC400_0190;
const FEATURES: u64 = 0xC400_0191;
const MEASUREMENT_READ: u64 = 0xC400_0192;
const MEASUREMENT_EXTEND: u64 = 0xC400_0193;
const ATTESTATION_TOKEN_INIT: u64 = 0xC400_0194;
const ATTESTATION_TOKEN_CONTINUE: u64 = 0xC400_0195;
const REALM_CONFIG: u64 = 0xC400_0196;
const IPA_STATE_SET: u64 = 0xC400_0197;
const IPA_STATE_GET: u64 = 0xC400_0198;
/// RSI_HOST_CALL's function ID (also issued directly by `perf`).
pub const HOST_CALL: u64 = 0xC400_0199;

/// RSI_SUCCESS.
pub const SUCCESS: u64 = 0;
/// RSI_INCOMPLETE.
pub const INCOMPLETE: u64 = 3;

/// Interface revision 1.0 (major in 30:16, minor in 15:0).
pub const REVISION_1_0: u64 = 1 << 16;

/// RsiRipas EMPTY.
pub const RIPAS_EMPTY: u64 = 0;
/// RsiRipas RAM.
pub const RIPAS_RAM: u64 = 1;
/// RsiResponse ACCEPT.
pub const ACCEPT: u64 = 0;

/// RSI_VERSION(req): [result, lower, higher].
pub fn version(requested: u64) -> [u64; 3] {
    let out = call(VERSION, &[requested]);
    [out[0], out[1], out[2]]
}

/// RSI_FEATURES(index): (result, value).
pub fn features(index: u64) -> (u64, u64) {
    let out = call(FEATURES, &[index]);
    (out[0], out[1])
}

/// RSI_REALM_CONFIG(addr): the result; RsiRealmConfig is written to the granule at `addr`.
pub fn realm_config(addr: u64) -> u64 {
    call(REALM_CONFIG, &[addr])[0]
}

/// RSI_MEASUREMENT_READ(index): (result, value doublewords 0..7).
pub fn measurement_read(index: u64) -> (u64, [u64; 8]) {
    let out = call(MEASUREMENT_READ, &[index]);
    let mut value = [0u64; 8];
    value.copy_from_slice(&out[1..9]);
    (out[0], value)
}

/// RSI_MEASUREMENT_EXTEND(index, size, value): the result.
pub fn measurement_extend(index: u64, size: u64, value: [u64; 8]) -> u64 {
    let mut args = [0u64; 10];
    args[0] = index;
    args[1] = size;
    args[2..].copy_from_slice(&value);
    call(MEASUREMENT_EXTEND, &args)[0]
}

/// RSI_IPA_STATE_GET(base, top): (result, out_top, ripas).
pub fn ipa_state_get(base: u64, top: u64) -> (u64, u64, u64) {
    let out = call(IPA_STATE_GET, &[base, top]);
    (out[0], out[1], out[2])
}

/// RSI_IPA_STATE_SET(base, top, ripas, flags): (result, new_base, response).
pub fn ipa_state_set(base: u64, top: u64, ripas: u64, flags: u64) -> (u64, u64, u64) {
    let out = call(IPA_STATE_SET, &[base, top, ripas, flags]);
    (out[0], out[1], out[2])
}

/// RSI_HOST_CALL(addr): the result.
pub fn host_call(addr: u64) -> u64 {
    call(HOST_CALL, &[addr])[0]
}

/// RSI_ATTESTATION_TOKEN_INIT(challenge): (result, upper bound on the token size).
pub fn attestation_token_init(challenge: [u64; 8]) -> (u64, u64) {
    let out = call(ATTESTATION_TOKEN_INIT, &challenge);
    (out[0], out[1])
}

/// RSI_ATTESTATION_TOKEN_CONTINUE(addr, offset, size): (result, bytes written).
pub fn attestation_token_continue(addr: u64, offset: u64, size: u64) -> (u64, u64) {
    let out = call(ATTESTATION_TOKEN_CONTINUE, &[addr, offset, size]);
    (out[0], out[1])
}
