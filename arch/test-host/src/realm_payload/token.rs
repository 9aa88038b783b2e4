//! Checks the attestation token the realm copied into the shared granules with the core's
//! verifier (`rmm::attestation::verify_realm_token`: shape, challenge, ES384 signature by the
//! RAK it carries), then what only the host knows: the RIM, and that our EL3's platform token
//! binds the RAK.

use crate::report::{fail, Outcome};
use rmm::attestation::verify_realm_token;

/// Checks `token`: the core's verification for `challenge`, the RIM (`rim`, the realm's digest
/// size) and the platform token's binding of the RAK.
pub fn check(token: &[u8], challenge: &[u8; 64], rim: &[u8]) -> Outcome {
    let claims = match verify_realm_token(token, challenge) {
        Ok(claims) => claims,
        Err(e) => fail!("{} ({} bytes)", e, token.len()),
    };
    if claims.rim != rim {
        fail!(
            "RIM claim {:02x?}.. differs",
            &claims.rim[..claims.rim.len().min(8)]
        );
    }
    if !claims.platform_binds_rak() {
        fail!(
            "platform token ({} bytes) does not carry {} of the RAK claim",
            claims.platform_token.len(),
            claims.rak_hash_algo
        );
    }
    Ok(())
}
