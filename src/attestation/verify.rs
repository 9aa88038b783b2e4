//! Verifies a CCA attestation token (spec A7.2.3) as a relying party does, without allocating:
//! the test host (bare metal) and the `rmm-token` tool share it.
//!
//! [`verify_realm_token`] checks the collection's shape, the realm token's ES384 signature over
//! its COSE Sig_structure (RFC 9052 §4.4) with the RAK the token carries (claim 44237), and the
//! challenge (claim 10). The caller compares the rest (the RIM, the REMs) with what it expects
//! in the returned [`TokenClaims`]. The platform token is located and its challenge read, but
//! its signature is not checked (that needs the platform's IAK):
//! [`TokenClaims::platform_binds_rak`] says whether it carries the hash of the RAK claim, as
//! A7.2.3 binds the two.
//!
//! The CBOR reader takes definite lengths only, which is all the RMM (and TF-RMM) write.

use super::cbor::{
    CLAIM_CHALLENGE, CLAIM_HASH_ALGO, CLAIM_PERSONALIZATION, CLAIM_PROFILE, CLAIM_PUBLIC_KEY,
    CLAIM_PUBLIC_KEY_HASH_ALGO, CLAIM_REMS, CLAIM_RIM, KEY_PLATFORM_TOKEN, KEY_REALM_TOKEN,
    TAG_CCA_TOKEN, TAG_COSE_SIGN1,
};
use super::CHALLENGE_SIZE;
use crate::measurement::HashAlgorithm;
use core::fmt;
use p384::ecdsa::signature::MultipartVerifier;
use p384::ecdsa::{Signature, VerifyingKey};
use sha2::{Digest, Sha256, Sha384, Sha512};

/// COSE_Key labels (RFC 9053 §7.1.1): key type, curve, x and y.
const COSE_KEY_KTY: i64 = 1;
const COSE_KEY_CRV: i64 = -1;
const COSE_KEY_X: i64 = -2;
const COSE_KEY_Y: i64 = -3;
/// COSE header label `alg`, and ES384 (RFC 9053 §2.1); kty EC2 and crv P-384 (§7.1).
const COSE_ALG: i64 = 1;
const COSE_ES384: i64 = -35;
const COSE_KTY_EC2: i64 = 2;
const COSE_CRV_P384: i64 = 2;
/// Deepest nesting of CBOR items the reader follows (the token needs 3).
const MAX_DEPTH: u32 = 16;

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// Not CBOR this reader takes, or not the shape of A7.2.3: what was expected.
    Malformed(&'static str),
    /// A realm claim A7.2.3.1 requires is missing or not of its type: which.
    MissingClaim(&'static str),
    /// The realm token's protected header names another algorithm than ES384.
    UnsupportedAlgorithm,
    /// The hash algorithm claim names neither sha-256 nor sha-512.
    UnknownHashAlgorithm,
    /// A measurement claim's size is not the hash algorithm's digest size.
    MeasurementSize,
    /// The RAK claim is not a COSE_Key of a P-384 point.
    InvalidKey,
    /// The signature is not 96 bytes of r || s, or does not verify with the RAK.
    BadSignature,
    /// The challenge claim differs from the expected challenge.
    ChallengeMismatch,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(what) => write!(f, "not a CCA token: {what}"),
            Self::MissingClaim(which) => write!(f, "realm claim missing or mistyped: {which}"),
            Self::UnsupportedAlgorithm => f.write_str("realm token not signed with ES384"),
            Self::UnknownHashAlgorithm => f.write_str("realm hash algorithm not sha-256/sha-512"),
            Self::MeasurementSize => f.write_str("measurement size differs from the hash size"),
            Self::InvalidKey => f.write_str("RAK claim is not a P-384 COSE_Key"),
            Self::BadSignature => f.write_str("realm token signature does not verify with its RAK"),
            Self::ChallengeMismatch => f.write_str("challenge claim differs from the challenge"),
        }
    }
}

/// What a verified token says. Slices point into the token.
#[derive(Clone, Debug)]
pub struct TokenClaims<'a> {
    /// The challenge (claim 10): equal to the one given to [`verify_realm_token`].
    pub challenge: &'a [u8; CHALLENGE_SIZE],
    /// The realm profile (claim 265), if present.
    pub profile: Option<&'a str>,
    /// The Realm Personalization Value (claim 44235).
    pub personalization: &'a [u8],
    /// The RIM (claim 44238): the hash algorithm's digest size.
    pub rim: &'a [u8],
    /// The four REMs (claim 44239).
    pub rems: [&'a [u8]; 4],
    /// The realm hash algorithm (claim 44236).
    pub hash_algo: HashAlgorithm,
    /// The RAK's public key claim (44237): COSE_Key bytes.
    pub rak_claim: &'a [u8],
    /// The RAK's public key, SEC1 uncompressed (0x04 || x || y).
    pub rak_public: [u8; 97],
    /// The name of the hash of the RAK claim in the platform token (claim 44240).
    pub rak_hash_algo: &'a str,
    /// The CCA platform token (COSE_Sign1 bytes).
    pub platform_token: &'a [u8],
    /// The platform token's challenge (its claim 10), if it has one.
    pub platform_challenge: Option<&'a [u8]>,
    /// Size of the realm token (COSE_Sign1 bytes).
    pub realm_token_len: usize,
}

impl TokenClaims<'_> {
    /// Whether the platform token's challenge is the hash ([`Self::rak_hash_algo`]) of the
    /// RAK claim, binding the RAK to the platform (A7.2.3).
    pub fn platform_binds_rak(&self) -> bool {
        let Some(challenge) = self.platform_challenge else {
            return false;
        };
        match self.rak_hash_algo {
            "sha-256" => challenge == Sha256::digest(self.rak_claim).as_slice(),
            "sha-384" => challenge == Sha384::digest(self.rak_claim).as_slice(),
            "sha-512" => challenge == Sha512::digest(self.rak_claim).as_slice(),
            _ => false,
        }
    }
}

/// Verifies the CCA token `token` (all of it, nothing after it) for `challenge`: its shape,
/// the realm token's signature with the RAK it carries, and the challenge claim. Returns the
/// claims for the caller's own comparisons (the RIM above all).
pub fn verify_realm_token<'a>(
    token: &'a [u8],
    challenge: &[u8; CHALLENGE_SIZE],
) -> Result<TokenClaims<'a>, VerifyError> {
    use VerifyError::{Malformed, MissingClaim};
    let t = Cbor(token);
    if t.skip(0, 0) != Some(token.len()) {
        return Err(Malformed("not one whole CBOR item"));
    }
    let collection = t
        .untag(0, TAG_CCA_TOKEN)
        .ok_or(Malformed("no tag 399 (CCA token collection)"))?;
    let platform_token = t
        .map_get(collection, KEY_PLATFORM_TOKEN as i64)
        .and_then(|at| t.bstr(at))
        .ok_or(Malformed("no platform token (44234)"))?;
    let realm = t
        .map_get(collection, KEY_REALM_TOKEN as i64)
        .and_then(|at| t.bstr(at))
        .ok_or(Malformed("no realm token (44241)"))?;

    let (protected, payload, signature) = Cbor(realm)
        .sign1(true)
        .ok_or(Malformed("realm token is not a COSE_Sign1 (tag 18)"))?;
    let header = Cbor(protected);
    match header.map_get(0, COSE_ALG).and_then(|at| header.int(at)) {
        Some(COSE_ES384) => {}
        Some(_) => return Err(VerifyError::UnsupportedAlgorithm),
        None => return Err(Malformed("no alg in the realm token's protected header")),
    }

    let p = Cbor(payload);
    if p.skip(0, 0) != Some(payload.len()) {
        return Err(Malformed("realm claims are not one CBOR item"));
    }
    let bytes_claim = |key: u64, name| {
        p.map_get(0, key as i64)
            .and_then(|at| p.bstr(at))
            .ok_or(MissingClaim(name))
    };
    let text_claim = |key: u64, name| {
        p.map_get(0, key as i64)
            .and_then(|at| p.tstr(at))
            .ok_or(MissingClaim(name))
    };

    let rak_claim = bytes_claim(CLAIM_PUBLIC_KEY, "public key (44237)")?;
    let (key, rak_public) = cose_key_p384(rak_claim).ok_or(VerifyError::InvalidKey)?;
    let signature = Signature::from_slice(signature).map_err(|_| VerifyError::BadSignature)?;
    let mut heads = [0u8; 32];
    let (h0, h1, h2) = sig_structure_heads(&mut heads, protected.len(), payload.len())
        .ok_or(VerifyError::BadSignature)?;
    key.multipart_verify(&[h0, protected, h1, h2, payload], &signature)
        .map_err(|_| VerifyError::BadSignature)?;

    let claimed: &[u8; CHALLENGE_SIZE] = bytes_claim(CLAIM_CHALLENGE, "challenge (10)")?
        .try_into()
        .map_err(|_| MissingClaim("challenge (10) of 64 bytes"))?;
    if claimed != challenge {
        return Err(VerifyError::ChallengeMismatch);
    }

    let hash_algo = match text_claim(CLAIM_HASH_ALGO, "hash algorithm (44236)")? {
        "sha-256" => HashAlgorithm::Sha256,
        "sha-512" => HashAlgorithm::Sha512,
        _ => return Err(VerifyError::UnknownHashAlgorithm),
    };
    let digest_len = hash_algo.digest_len();
    let rim = bytes_claim(CLAIM_RIM, "RIM (44238)")?;
    let rems_at = p
        .map_get(0, CLAIM_REMS as i64)
        .ok_or(MissingClaim("REMs (44239)"))?;
    let mut rems = [&[][..]; 4];
    for (i, rem) in rems.iter_mut().enumerate() {
        *rem = p
            .array_item(rems_at, 4, i as u64)
            .and_then(|at| p.bstr(at))
            .ok_or(MissingClaim("REMs (44239): 4 byte strings"))?;
    }
    if rim.len() != digest_len || rems.iter().any(|rem| rem.len() != digest_len) {
        return Err(VerifyError::MeasurementSize);
    }
    let profile = match p.map_get(0, CLAIM_PROFILE as i64) {
        Some(at) => Some(p.tstr(at).ok_or(MissingClaim("profile (265)"))?),
        None => None,
    };

    Ok(TokenClaims {
        challenge: claimed,
        profile,
        personalization: bytes_claim(CLAIM_PERSONALIZATION, "personalization value (44235)")?,
        rim,
        rems,
        hash_algo,
        rak_claim,
        rak_public,
        rak_hash_algo: text_claim(CLAIM_PUBLIC_KEY_HASH_ALGO, "public key hash (44240)")?,
        platform_token,
        platform_challenge: platform_challenge(platform_token),
        realm_token_len: realm.len(),
    })
}

/// The challenge (claim 10) of a platform token: a COSE_Sign1, tagged or not.
fn platform_challenge(token: &[u8]) -> Option<&[u8]> {
    let (_, payload, _) = Cbor(token).sign1(false)?;
    let p = Cbor(payload);
    p.bstr(p.map_get(0, CLAIM_CHALLENGE as i64)?)
}

/// The verifying key and SEC1 point of a COSE_Key `{1: 2, -1: 2, -2: x, -3: y}`.
fn cose_key_p384(claim: &[u8]) -> Option<(VerifyingKey, [u8; 97])> {
    let k = Cbor(claim);
    if k.map_get(0, COSE_KEY_KTY).and_then(|at| k.int(at)) != Some(COSE_KTY_EC2)
        || k.map_get(0, COSE_KEY_CRV).and_then(|at| k.int(at)) != Some(COSE_CRV_P384)
    {
        return None;
    }
    let x = k.bstr(k.map_get(0, COSE_KEY_X)?)?;
    let y = k.bstr(k.map_get(0, COSE_KEY_Y)?)?;
    if x.len() != 48 || y.len() != 48 {
        return None;
    }
    let mut sec1 = [0u8; 97];
    sec1[0] = 4;
    sec1[1..49].copy_from_slice(x);
    sec1[49..].copy_from_slice(y);
    Some((VerifyingKey::from_sec1_bytes(&sec1).ok()?, sec1))
}

/// The CBOR heads around the protected header and payload of the Sig_structure
/// `["Signature1", bstr protected, bstr "", bstr payload]` (RFC 9052 §4.4), written into
/// `buf` (31 bytes at most): (array, text and protected's head; the empty bstr; payload's
/// head). `None` only if they did not fit, which they always do.
fn sig_structure_heads(
    buf: &mut [u8; 32],
    protected_len: usize,
    payload_len: usize,
) -> Option<(&[u8], &[u8], &[u8])> {
    let len = put_head(buf, 0, 4, 4)?;
    let len = put_head(buf, len, 3, 10)?;
    let end = len.checked_add(10)?;
    buf.get_mut(len..end)?.copy_from_slice(b"Signature1");
    let end0 = put_head(buf, end, 2, protected_len as u64)?;
    let end1 = put_head(buf, end0, 2, 0)?;
    let end2 = put_head(buf, end1, 2, payload_len as u64)?;
    let (h0, rest) = buf.split_at_checked(end0)?;
    let (h1, rest) = rest.split_at_checked(end1.checked_sub(end0)?)?;
    Some((h0, h1, rest.get(..end2.checked_sub(end1)?)?))
}

/// Writes the CBOR head (`major`, `arg`) at `buf[at..]`; returns the offset after it, or
/// `None` if it does not fit.
fn put_head(buf: &mut [u8], at: usize, major: u8, arg: u64) -> Option<usize> {
    let be = arg.to_be_bytes();
    let (info, field) = match arg {
        0..=23 => (arg as u8, &be[8..]),
        24..=0xff => (24, &be[7..]),
        0x100..=0xffff => (25, &be[6..]),
        0x1_0000..=0xffff_ffff => (26, &be[4..]),
        _ => (27, &be[..]),
    };
    let (first, rest) = buf.get_mut(at..)?.split_first_mut()?;
    *first = major << 5 | info;
    rest.get_mut(..field.len())?.copy_from_slice(field);
    at.checked_add(field.len())?.checked_add(1)
}

/// A minimal CBOR reader over a byte slice: offsets in, offsets or values out.
#[derive(Clone, Copy)]
struct Cbor<'a>(&'a [u8]);

impl<'a> Cbor<'a> {
    /// The head at `at`: (major type, argument, offset after the head).
    fn head(self, at: usize) -> Option<(u8, u64, usize)> {
        let (&first, rest) = self.0.get(at..)?.split_first()?;
        let (major, info) = (first >> 5, first & 0x1f);
        let (len, arg) = match info {
            0..=23 => (0, u64::from(info)),
            24..=27 => {
                let field = rest.get(..1usize << (info & 3))?;
                let arg = field.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b));
                (field.len(), arg)
            }
            _ => return None, // indefinite lengths and reserved values
        };
        Some((major, arg, at.checked_add(len)?.checked_add(1)?))
    }

    /// The offset after the item at `at`, `depth` levels down.
    fn skip(self, at: usize, depth: u32) -> Option<usize> {
        if depth > MAX_DEPTH {
            return None;
        }
        let (major, arg, mut next) = self.head(at)?;
        match major {
            0 | 1 | 7 => Some(next),
            2 | 3 => {
                let end = next.checked_add(usize::try_from(arg).ok()?)?;
                (end <= self.0.len()).then_some(end)
            }
            4 | 5 => {
                let items = if major == 5 { arg.checked_mul(2)? } else { arg };
                for _ in 0..items {
                    next = self.skip(next, depth.checked_add(1)?)?;
                }
                Some(next)
            }
            _ => self.skip(next, depth.checked_add(1)?), // a tag: its content
        }
    }

    /// The byte string at `at`.
    fn bstr(self, at: usize) -> Option<&'a [u8]> {
        match self.head(at)? {
            (2, len, start) => self
                .0
                .get(start..start.checked_add(usize::try_from(len).ok()?)?),
            _ => None,
        }
    }

    /// The text string at `at`.
    fn tstr(self, at: usize) -> Option<&'a str> {
        match self.head(at)? {
            (3, len, start) => {
                let end = start.checked_add(usize::try_from(len).ok()?)?;
                core::str::from_utf8(self.0.get(start..end)?).ok()
            }
            _ => None,
        }
    }

    /// The integer at `at`.
    fn int(self, at: usize) -> Option<i64> {
        match self.head(at)? {
            (0, n, _) => i64::try_from(n).ok(),
            (1, n, _) => i64::try_from(n).ok().and_then(|n| (-1i64).checked_sub(n)),
            _ => None,
        }
    }

    /// The content of tag `tag` at `at`.
    fn untag(self, at: usize, tag: u64) -> Option<usize> {
        match self.head(at)? {
            (6, t, next) if t == tag => Some(next),
            _ => None,
        }
    }

    /// The value of integer key `key` in the map at `at` (the first, if repeated).
    fn map_get(self, at: usize, key: i64) -> Option<usize> {
        let (5, pairs, mut next) = self.head(at)? else {
            return None;
        };
        for _ in 0..pairs {
            let found = self.int(next) == Some(key);
            next = self.skip(next, 1)?;
            if found {
                return Some(next);
            }
            next = self.skip(next, 1)?;
        }
        None
    }

    /// The `index`th element of the array at `at`, which must have `len` elements.
    fn array_item(self, at: usize, len: u64, index: u64) -> Option<usize> {
        let (4, n, mut next) = self.head(at)? else {
            return None;
        };
        if n != len || index >= n {
            return None;
        }
        for _ in 0..index {
            next = self.skip(next, 1)?;
        }
        Some(next)
    }

    /// A COSE_Sign1 filling the slice: (protected header, payload, signature); tag 18 required
    /// if `tagged`, else optional.
    fn sign1(self, tagged: bool) -> Option<(&'a [u8], &'a [u8], &'a [u8])> {
        if self.skip(0, 0)? != self.0.len() {
            return None;
        }
        let array = match self.untag(0, TAG_COSE_SIGN1) {
            Some(at) => at,
            None if !tagged => 0,
            None => return None,
        };
        let protected = self.bstr(self.array_item(array, 4, 0)?)?;
        let payload = self.bstr(self.array_item(array, 4, 2)?)?;
        let signature = self.bstr(self.array_item(array, 4, 3)?)?;
        Some((protected, payload, signature))
    }
}
