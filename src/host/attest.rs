//! A test attestation identity for the host platform: a fixed Realm Attestation Key and a
//! CCA platform token (spec A7.2.3.2) for it, signed by a fixed test Initial Attestation Key
//! (IAK), as EL3 would provide them. Every [`super::Machine`] installs it.
//!
//! Test keys only: both private keys are in this file.

use crate::attestation::{
    AttestationIdentity, RealmAttestationKey, StoreWriter, PROTECTED_HEADER, TAG_COSE_SIGN1,
};
use ciborium_ll::{Encoder, Header};
use p384::ecdsa::signature::Signer;
use p384::ecdsa::{Signature, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use std::vec::Vec;

/// The test RAK's private scalar (big endian), as RMM_ATTEST_GET_REALM_KEY would return it.
pub const TEST_RAK: [u8; 48] = *b"host test realm attestation key, not a secret!!!";
/// The test IAK's private scalar (big endian): signs the test platform token.
pub const TEST_IAK: [u8; 48] = *b"host test initial attestation key, not secret!!!";

/// The CCA platform profile (A7.2.3.2.1).
pub const PLATFORM_PROFILE: &str = "tag:arm.com,2023:cca_platform#1.0.0";
/// The test platform's implementation ID (A7.2.3.2.3).
pub const IMPLEMENTATION_ID: [u8; 32] = [0x1D; 32];
/// The test platform's config (A7.2.3.2.5).
pub const PLATFORM_CONFIG: [u8; 4] = [0xCF; 4];
/// The test platform's lifecycle: secured (A7.2.3.2.6).
pub const LIFECYCLE: u64 = 0x3000;
/// The verification service hint (A7.2.3.2.8).
pub const VERIFICATION_SERVICE: &str = "https://veraison.example/.well-known/veraison/verification";

/// Labels of the CCA platform claims (A7.2.3.2.10).
pub mod label {
    /// EAT profile.
    pub const PROFILE: u64 = 265;
    /// Challenge: H(RAK_pub).
    pub const CHALLENGE: u64 = 10;
    /// Implementation ID.
    pub const IMPLEMENTATION_ID: u64 = 2396;
    /// Instance ID (EAT UEID).
    pub const INSTANCE_ID: u64 = 256;
    /// Platform config.
    pub const CONFIG: u64 = 2401;
    /// Lifecycle.
    pub const LIFECYCLE: u64 = 2395;
    /// Software components.
    pub const SW_COMPONENTS: u64 = 2399;
    /// Verification service.
    pub const VERIFICATION_SERVICE: u64 = 2400;
    /// Hash algorithm ID.
    pub const HASH_ALGO: u64 = 2402;
}

/// The test IAK's public key: verifies the test platform token.
pub fn platform_verifying_key() -> VerifyingKey {
    *iak().verifying_key()
}

/// The instance ID: 0x01 (UEID type RAND) then SHA-256 of the IAK's public key (A7.2.3.2.4).
pub fn instance_id() -> [u8; 33] {
    let public = iak().verifying_key().to_sec1_point(false);
    let mut id = [0u8; 33];
    id[0] = 0x01;
    id[1..].copy_from_slice(&Sha256::digest(public.as_bytes()));
    id
}

/// The test identity (built once per process: it takes two P-384 operations).
pub fn test_identity() -> AttestationIdentity {
    static IDENTITY: OnceLock<AttestationIdentity> = OnceLock::new();
    IDENTITY
        .get_or_init(|| {
            let key = RealmAttestationKey::from_scalar_bytes(&TEST_RAK)
                .unwrap_or_else(|e| panic!("test RAK: {e:?}"));
            let token = platform_token(&key.platform_challenge());
            AttestationIdentity::new(key, token)
                .unwrap_or_else(|e| panic!("test platform token: {e:?}"))
        })
        .clone()
}

fn iak() -> SigningKey {
    SigningKey::from_slice(&TEST_IAK).unwrap_or_else(|e| panic!("test IAK: {e:?}"))
}

/// A CCA platform token for `challenge`: COSE_Sign1_Tagged, ES384, signed by the test IAK.
pub fn platform_token(challenge: &[u8]) -> Vec<u8> {
    let claims = encode(|enc| platform_claims(enc, challenge));
    let mut to_sign = encode(|enc| {
        enc.push(Header::Array(Some(4)))?;
        enc.text("Signature1", None)?;
        enc.bytes(&PROTECTED_HEADER, None)?;
        enc.bytes(&[], None)?;
        enc.bytes(&claims, None)
    });
    let signature: Signature = iak().sign(&to_sign);
    to_sign.clear();
    encode(|enc| {
        enc.push(Header::Tag(TAG_COSE_SIGN1))?;
        enc.push(Header::Array(Some(4)))?;
        enc.bytes(&PROTECTED_HEADER, None)?;
        enc.push(Header::Map(Some(0)))?;
        enc.bytes(&claims, None)?;
        enc.bytes(&signature.to_bytes(), None)
    })
}

type Enc<'a> = Encoder<StoreWriter<'a, [u8]>>;
type EncResult = Result<(), crate::attestation::OutOfSpace>;

fn encode(f: impl FnOnce(&mut Enc<'_>) -> EncResult) -> Vec<u8> {
    let mut buf = std::vec![0u8; 4096];
    let mut len = 0;
    let mut enc = Encoder::from(StoreWriter::new(&mut buf[..], &mut len));
    f(&mut enc).unwrap_or_else(|_| panic!("test platform token over {} bytes", 4096));
    buf.truncate(len);
    buf
}

fn platform_claims(enc: &mut Enc<'_>, challenge: &[u8]) -> EncResult {
    enc.push(Header::Map(Some(9)))?;
    enc.push(Header::Positive(label::PROFILE))?;
    enc.text(PLATFORM_PROFILE, None)?;
    enc.push(Header::Positive(label::CHALLENGE))?;
    enc.bytes(challenge, None)?;
    enc.push(Header::Positive(label::IMPLEMENTATION_ID))?;
    enc.bytes(&IMPLEMENTATION_ID, None)?;
    enc.push(Header::Positive(label::INSTANCE_ID))?;
    enc.bytes(&instance_id(), None)?;
    enc.push(Header::Positive(label::CONFIG))?;
    enc.bytes(&PLATFORM_CONFIG, None)?;
    enc.push(Header::Positive(label::LIFECYCLE))?;
    enc.push(Header::Positive(LIFECYCLE))?;
    enc.push(Header::Positive(label::SW_COMPONENTS))?;
    let components: [(&str, u8); 3] = [("BL2", 0xB2), ("BL31", 0x31), ("RMM", 0xAA)];
    enc.push(Header::Array(Some(components.len())))?;
    for (name, fill) in components {
        // A7.2.3.2.7: component type, measurement value, version, signer ID, hash algorithm.
        enc.push(Header::Map(Some(5)))?;
        enc.push(Header::Positive(1))?;
        enc.text(name, None)?;
        enc.push(Header::Positive(2))?;
        enc.bytes(&[fill; 32], None)?;
        enc.push(Header::Positive(4))?;
        enc.text("1.0.0", None)?;
        enc.push(Header::Positive(5))?;
        enc.bytes(&[0x5E; 32], None)?;
        enc.push(Header::Positive(6))?;
        enc.text("sha-256", None)?;
    }
    enc.push(Header::Positive(label::VERIFICATION_SERVICE))?;
    enc.text(VERIFICATION_SERVICE, None)?;
    enc.push(Header::Positive(label::HASH_ALGO))?;
    enc.text("sha-256", None)
}
