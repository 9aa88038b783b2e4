//! The CBOR / COSE encodings of the CCA attestation token (spec A7.2.3), written with
//! `ciborium-ll`'s encoder into a [`ByteStore`]: no allocation, and a full store is an error.
//!
//! Labels are from A7.2.3.1 (realm claims) and A7.2.3 (the collection); the same values are
//! in draft-ffm-rats-cca-token (IETF) and in veraison's ccatoken / Islet's `sdk/src/config.rs`
//! (`TAG_CCA_TOKEN = 399`, `TOKEN_PLAT = 44234`, `TOKEN_REALM = 44241`).

use super::store::{ByteStore, OutOfSpace, SizeCounter, StoreWriter};
use ciborium_io::Write;
use ciborium_ll::{Decoder, Encoder, Header};

/// CMW collection tag of the CCA token (A7.2.3 `cca-token = #6.399(...)`).
pub const TAG_CCA_TOKEN: u64 = 399;
/// COSE_Sign1_Tagged (RFC 9052 §4.2).
pub const TAG_COSE_SIGN1: u64 = 18;
/// Collection key of the CCA platform token (0xACCA).
pub const KEY_PLATFORM_TOKEN: u64 = 44234;
/// Collection key of the Realm (delegated) token.
pub const KEY_REALM_TOKEN: u64 = 44241;

/// Realm challenge (EAT nonce), A7.2.3.1.1.
pub const CLAIM_CHALLENGE: u64 = 10;
/// Realm profile (EAT profile), A7.2.3.1.2.
pub const CLAIM_PROFILE: u64 = 265;
/// Realm Personalization Value, A7.2.3.1.3.
pub const CLAIM_PERSONALIZATION: u64 = 44235;
/// Realm hash algorithm ID, A7.2.3.1.6.
pub const CLAIM_HASH_ALGO: u64 = 44236;
/// Realm public key (COSE_Key bytes), A7.2.3.1.7.
pub const CLAIM_PUBLIC_KEY: u64 = 44237;
/// Realm Initial Measurement, A7.2.3.1.4.
pub const CLAIM_RIM: u64 = 44238;
/// Realm Extensible Measurements, A7.2.3.1.5.
pub const CLAIM_REMS: u64 = 44239;
/// Realm public key hash algorithm ID, A7.2.3.1.8.
pub const CLAIM_PUBLIC_KEY_HASH_ALGO: u64 = 44240;
/// The Realm profile value (A7.2.3.1.2).
pub const REALM_PROFILE: &str = "tag:arm.com,2023:realm#1.0.0";

/// The realm token's protected header: bstr of `{1 (alg): -35 (ES384)}` (RFC 9053 §2.1).
pub const PROTECTED_HEADER: [u8; 4] = [0xA1, 0x01, 0x38, 0x22];
/// Size of an ES384 signature: r || s, 48 bytes each (RFC 9053 §2.1).
pub const SIGNATURE_SIZE: usize = 96;

/// Writes `COSE_Key {1 (kty): 2 (EC2), -1 (crv): 2 (P-384), -2 (x): x, -3 (y): y}` (RFC 9053
/// §7.1.1) at the start of `out`; returns its length. Keys in deterministic order (RFC 8949
/// §4.2.1).
pub fn cose_key_p384(out: &mut [u8], x: &[u8], y: &[u8]) -> Result<usize, OutOfSpace> {
    let mut pos = 0;
    let mut enc = Encoder::from(StoreWriter::new(out, &mut pos));
    enc.push(Header::Map(Some(4)))?;
    enc.push(Header::Positive(1))?;
    enc.push(Header::Positive(2))?;
    enc.push(Header::Negative(0))?; // -1
    enc.push(Header::Positive(2))?;
    enc.push(Header::Negative(1))?; // -2
    enc.bytes(x, None)?;
    enc.push(Header::Negative(2))?; // -3
    enc.bytes(y, None)?;
    Ok(pos)
}

/// Whether `bytes` begins as a COSE_Sign1_Tagged: `#6.18([4 items])`.
pub fn is_cose_sign1_tagged(bytes: &[u8]) -> bool {
    let mut dec = Decoder::from(bytes);
    matches!(dec.pull(), Ok(Header::Tag(TAG_COSE_SIGN1)))
        && matches!(dec.pull(), Ok(Header::Array(Some(4))))
}

/// Size of the CBOR head (major type and argument) for a length or value `n` (RFC 8949 §3).
pub const fn head_len(n: u64) -> usize {
    match n {
        0..=23 => 1,
        24..=0xFF => 2,
        0x100..=0xFFFF => 3,
        0x1_0000..=0xFFFF_FFFF => 5,
        _ => 9,
    }
}

/// Encodes the realm claim map (A7.2.3.1.9) through `w`.
pub(super) fn realm_claims<W: Write>(
    w: W,
    claims: &super::RealmClaims<'_>,
    public_key_claim: &[u8],
) -> Result<(), W::Error> {
    let mut enc = Encoder::from(w);
    enc.push(Header::Map(Some(8)))?;
    enc.push(Header::Positive(CLAIM_CHALLENGE))?;
    enc.bytes(claims.challenge, None)?;
    enc.push(Header::Positive(CLAIM_PROFILE))?;
    enc.text(REALM_PROFILE, None)?;
    enc.push(Header::Positive(CLAIM_PERSONALIZATION))?;
    enc.bytes(claims.personalization, None)?;
    enc.push(Header::Positive(CLAIM_RIM))?;
    enc.bytes(claims.rim.digest(claims.hash_algo), None)?;
    enc.push(Header::Positive(CLAIM_REMS))?;
    enc.push(Header::Array(Some(claims.rems.len())))?;
    for rem in claims.rems {
        enc.bytes(rem.digest(claims.hash_algo), None)?;
    }
    enc.push(Header::Positive(CLAIM_HASH_ALGO))?;
    enc.text(super::hash_algo_name(claims.hash_algo), None)?;
    enc.push(Header::Positive(CLAIM_PUBLIC_KEY))?;
    enc.bytes(public_key_claim, None)?;
    enc.push(Header::Positive(CLAIM_PUBLIC_KEY_HASH_ALGO))?;
    enc.text(super::RAK_PUB_HASH_ALGO, None)?;
    Ok(())
}

/// Where the parts of an encoded CCA token lie in its store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Layout {
    /// Total token size.
    pub len: usize,
    /// Offset of the realm token's claims (the COSE payload).
    pub payload: usize,
    /// Size of the payload.
    pub payload_len: usize,
    /// Offset of the 96 signature bytes (zero until signing completes).
    pub signature: usize,
}

/// Writes the whole CCA token (A7.2.3) at the start of `store`, with a zero signature:
///
/// ```text
/// #6.399({44234: bstr(platform token),
///         44241: bstr(#6.18([bstr({1: -35}), {}, bstr(claims), bstr(signature)]))})
/// ```
pub(super) fn write_token<S: ByteStore + ?Sized>(
    store: &mut S,
    platform_token: &[u8],
    claims: &super::RealmClaims<'_>,
    public_key_claim: &[u8],
) -> Result<Layout, OutOfSpace> {
    let mut payload_len = 0;
    realm_claims(SizeCounter(&mut payload_len), claims, public_key_claim)?;
    // The COSE_Sign1 around the payload: tag 18, array(4), protected header, unprotected {},
    // then the payload's head, and the signature.
    const SIGN1_FIXED: usize = 1 + 1 + 1 + PROTECTED_HEADER.len() + 1
        + head_len(SIGNATURE_SIZE as u64) + SIGNATURE_SIZE;
    let sign1_len = SIGN1_FIXED
        .checked_add(head_len(payload_len as u64))
        .and_then(|n| n.checked_add(payload_len))
        .ok_or(OutOfSpace)?;

    let mut pos = 0;
    let mut enc = Encoder::from(StoreWriter::new(store, &mut pos));
    enc.push(Header::Tag(TAG_CCA_TOKEN))?;
    enc.push(Header::Map(Some(2)))?;
    enc.push(Header::Positive(KEY_PLATFORM_TOKEN))?;
    enc.bytes(platform_token, None)?;
    enc.push(Header::Positive(KEY_REALM_TOKEN))?;
    enc.push(Header::Bytes(Some(sign1_len)))?;
    enc.push(Header::Tag(TAG_COSE_SIGN1))?;
    enc.push(Header::Array(Some(4)))?;
    enc.bytes(&PROTECTED_HEADER, None)?;
    enc.push(Header::Map(Some(0)))?;
    enc.push(Header::Bytes(Some(payload_len)))?;
    let payload = pos;
    realm_claims(StoreWriter::new(store, &mut pos), claims, public_key_claim)?;
    let mut enc = Encoder::from(StoreWriter::new(store, &mut pos));
    enc.push(Header::Bytes(Some(SIGNATURE_SIZE)))?;
    enc.write_all(&[0u8; SIGNATURE_SIZE])?;
    let signature = pos.checked_sub(SIGNATURE_SIZE).ok_or(OutOfSpace)?;
    Ok(Layout {
        len: pos,
        payload,
        payload_len,
        signature,
    })
}

/// The head of the COSE Sig_structure (RFC 9052 §4.4) up to the payload's bstr head:
/// `["Signature1", bstr({1: -35}), bstr(""), bstr .size payload_len ...`; returns its length.
pub(super) fn sig_structure_head(
    out: &mut [u8; 32],
    payload_len: usize,
) -> Result<usize, OutOfSpace> {
    let mut pos = 0;
    let mut enc = Encoder::from(StoreWriter::new(&mut out[..], &mut pos));
    enc.push(Header::Array(Some(4)))?;
    enc.text("Signature1", None)?;
    enc.bytes(&PROTECTED_HEADER, None)?;
    enc.bytes(&[], None)?;
    enc.push(Header::Bytes(Some(payload_len)))?;
    Ok(pos)
}
