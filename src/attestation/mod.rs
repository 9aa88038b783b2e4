//! Realm attestation: the CCA attestation token (spec A7.2) and its interruptible signing.
//!
//! # The token (A7.2.3)
//!
//! ```text
//! #6.399({                                   ; CMW collection
//!   44234: bstr(platform token),             ; COSE_Sign1_Tagged from EL3, signed by the IAK
//!   44241: bstr(#6.18([                      ; the realm token, signed by the RAK
//!     bstr({1: -35}), {},                    ; ES384
//!     bstr({10: challenge, 265: "tag:arm.com,2023:realm#1.0.0", 44235: RPV,
//!           44238: RIM, 44239: [REM0..REM3], 44236: "sha-256"/"sha-512",
//!           44237: bstr(COSE_Key of RAK_pub), 44240: "sha-256"}),
//!     bstr(r || s)]))})                      ; ECDSA P-384 over SHA-384, 96 bytes
//! ```
//!
//! Keys and labels: A7.2.3 and A7.2.3.1 of the spec; the same in the IETF draft
//! draft-ffm-rats-cca-token and as decoded by veraison's ccatoken. The platform token's
//! challenge is SHA-256 of the 44237 claim bytes ([`RealmAttestationKey::platform_challenge`]).
//! Measurements are truncated to the realm's hash size (A7.2.3.1.4).
//!
//! # Identity, at boot
//!
//! ```ignore
//! let key = RealmAttestationKey::from_scalar_bytes(&rak_from_el3)?;   // RMM_ATTEST_GET_REALM_KEY
//! let token = el3_get_platform_token(&key.platform_challenge());      // RMM_ATTEST_GET_PLAT_TOKEN
//! rmm.set_attestation(AttestationIdentity::new(key, token)?);          // once
//! ```
//! (The host platform installs a test identity: `rmm::host::attest`.)
//!
//! # Where the state lives
//!
//! Nothing on the RSI path allocates, and nothing survives on a CPU's stack between calls.
//! Each REC has at least [`crate::rec::REC_AUX_COUNT`] = 4 auxiliary granules: aux\[0\] FP/SIMD state,
//! aux\[1\] the *attestation scratch* (a saved [`AttestationOp`], [`OP_STATE_SIZE`] bytes,
//! word 0 a magic that says an operation is in progress), aux\[2..4\] the *token buffer*
//! ([`TOKEN_BUFFER_SIZE`] bytes, the whole token). View them with [`GranuleBytes`]:
//! `GranuleBytes::new(&[p.granule(aux[1])])`, `GranuleBytes::new(&[p.granule(aux[2]),
//! p.granule(aux[3])])`. The REC is owned by the CPU running it, so plain Relaxed accesses
//! suffice; a REC resumed on another CPU reloads everything from the granules.
//!
//! # RSI_ATTESTATION_TOKEN_INIT (B5.3.2)
//!
//! ```ignore
//! let claims = RealmClaims { challenge: &x1_to_x8_as_le_bytes, personalization: &rd.rpv,
//!     rim: &rd.rim, rems: &rd.rems, hash_algo: rd.hash_algo };
//! let identity = rmm.attestation().ok_or(RSI_ERROR_UNKNOWN)?;
//! match AttestationOp::init(&mut token_buf, identity, &claims) {       // terminates any old op
//!     Ok(op) => { op.save(&mut scratch)?; x0 = RSI_SUCCESS; x1 = op.token_len() }
//!     Err(_) => { AttestationOp::clear(&mut scratch); x0 = RSI_ERROR_UNKNOWN }
//! }
//! ```
//!
//! # RSI_ATTESTATION_TOKEN_CONTINUE (B5.3.1)
//!
//! After the input checks (`addr` granule aligned and protected, `offset < 4096`,
//! `offset + size` neither overflowing nor past 4096):
//!
//! ```ignore
//! let Ok(Some(mut op)) = AttestationOp::load(&scratch) else { return RSI_ERROR_STATE };
//! if op.sign(&mut token_buf, identity, || platform.irq_pending())? == Progress::Pending {
//!     op.save(&mut scratch)?;           // stop for the IRQ: REC exit due to IRQ; on the next
//!     return (RSI_INCOMPLETE, len 0);   // REC entry the Realm sees X0 = RSI_INCOMPLETE
//! }
//! let len = op.copy_out(&token_buf, size, |off, bytes| realm_write(addr + offset + off, bytes))?;
//! if op.is_complete() { AttestationOp::clear(&mut scratch); (RSI_SUCCESS, len) }
//! else { op.save(&mut scratch)?; (RSI_INCOMPLETE, len) }
//! ```
//!
//! [`AttestationOp::sign`] steps [`TokenSigner::step`] (at most [`MAX_POINT_OPS_PER_STEP`]
//! point operations each, [`SIGN_STEPS`] in all) and checks the interrupt after each step.
//! A failing realm write (e.g. an unmapped IPA) stops the copy with the cursor after the last
//! chunk written; save the op before reporting it.
//!
//! # Verifying a token
//!
//! [`verify_realm_token`] is the relying party's side (no allocation: the test host and the
//! `rmm-token` tool use it): shape, ES384 signature with the RAK it carries, challenge; the
//! caller compares the RIM and REMs in the [`TokenClaims`] it returns.

mod cbor;
mod key;
mod once;
mod op;
mod signer;
mod store;
mod verify;

pub use cbor::{
    head_len, CLAIM_CHALLENGE, CLAIM_HASH_ALGO, CLAIM_PERSONALIZATION, CLAIM_PROFILE,
    CLAIM_PUBLIC_KEY, CLAIM_PUBLIC_KEY_HASH_ALGO, CLAIM_REMS, CLAIM_RIM, KEY_PLATFORM_TOKEN,
    KEY_REALM_TOKEN, PROTECTED_HEADER, REALM_PROFILE, SIGNATURE_SIZE, TAG_CCA_TOKEN,
    TAG_COSE_SIGN1,
};
pub use key::{
    AttestationIdentity, IdentityError, RealmAttestationKey, MAX_PLATFORM_TOKEN_SIZE,
    PLATFORM_CHALLENGE_SIZE, RAK_PUB_CLAIM_SIZE, RAK_PUB_HASH_ALGO,
};
pub use once::{AlreadySet, WriteOnce};
pub use op::{AttestationOp, CopyError, TokenError, OP_STATE_SIZE};
pub use signer::{
    Progress, StateError, TokenSigner, DIGEST_SIZE, MAX_POINT_OPS_PER_STEP, SIGNER_STATE_SIZE,
    SIGN_STEPS, WINDOWS_PER_STEP,
};
pub use store::{ByteStore, GranuleBytes, OutOfSpace, SizeCounter, StoreWriter};
pub use verify::{verify_realm_token, TokenClaims, VerifyError};

use crate::measurement::{HashAlgorithm, Measurement};

/// Size of the token buffer: the REC's two token granules.
pub const TOKEN_BUFFER_SIZE: usize = 2 * crate::GRANULE_SIZE as usize;
/// Size of the challenge (A7.2.3.1.1) and of the Realm Personalization Value (A7.2.3.1.3).
pub const CHALLENGE_SIZE: usize = 64;

/// The realm's side of a token: what A7.2.3.1 puts in the realm claims besides the RAK.
#[derive(Clone, Copy, Debug)]
pub struct RealmClaims<'a> {
    /// RSI_ATTESTATION_TOKEN_INIT's challenge, X1..X8 as little-endian bytes (B5.3.2).
    pub challenge: &'a [u8; CHALLENGE_SIZE],
    /// The RPV given at RMI_REALM_CREATE (A2.1.3).
    pub personalization: &'a [u8; CHALLENGE_SIZE],
    /// The RIM (A7.1.1).
    pub rim: &'a Measurement,
    /// The four REMs (A7.1.2).
    pub rems: &'a [Measurement; 4],
    /// The realm's hash algorithm: the size of the measurements, and claim 44236.
    pub hash_algo: HashAlgorithm,
}

/// The IANA Named Information hash name of `algo` (A7.2.3.1.6 recommends these).
pub const fn hash_algo_name(algo: HashAlgorithm) -> &'static str {
    match algo {
        HashAlgorithm::Sha256 => "sha-256",
        HashAlgorithm::Sha512 => "sha-512",
    }
}

/// The challenge as bytes from RSI_ATTESTATION_TOKEN_INIT's X1..X8 (doubleword 0 first,
/// each little endian, as [`Measurement::from_words`] orders values).
pub fn challenge_from_words(words: &[u64; 8]) -> [u8; CHALLENGE_SIZE] {
    let mut bytes = [0u8; CHALLENGE_SIZE];
    for (chunk, word) in bytes.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    bytes
}

/// The whole token at once, in a `Vec` (host only: tests and tools).
#[cfg(feature = "host")]
pub fn token(
    identity: &AttestationIdentity,
    claims: &RealmClaims<'_>,
) -> Result<alloc::vec::Vec<u8>, TokenError> {
    let mut buf = alloc::vec![0u8; TOKEN_BUFFER_SIZE];
    let mut op = AttestationOp::init(&mut buf[..], identity, claims)?;
    op.sign(&mut buf[..], identity, || false)?;
    buf.truncate(op.token_len());
    Ok(buf)
}
