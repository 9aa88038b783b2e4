//! Checks the attestation token the realm copied into the shared granules (spec A7.2.3): a
//! CBOR tag 399 collection whose realm token (key 44241) is a COSE_Sign1 (tag 18) with the
//! realm's challenge (claim 10) and RIM (claim 44238), signed with ES384 by the RAK in claim
//! 44237. A minimal CBOR reader: definite lengths only, which is all the RMM writes.

use crate::report::{fail, Outcome};
use p384::ecdsa::signature::Verifier;
use p384::ecdsa::{Signature, VerifyingKey};

const TAG_CCA_TOKEN: u64 = 399;
const TAG_COSE_SIGN1: u64 = 18;
const KEY_PLATFORM_TOKEN: i64 = 44234;
const KEY_REALM_TOKEN: i64 = 44241;
const CLAIM_CHALLENGE: i64 = 10;
const CLAIM_PUBLIC_KEY: i64 = 44237;
const CLAIM_RIM: i64 = 44238;
/// COSE_Key labels: x and y coordinates.
const COSE_KEY_X: i64 = -2;
const COSE_KEY_Y: i64 = -3;
/// Most bytes of a Sig_structure the host builds (the realm token's payload is well under).
const MAX_SIG_STRUCTURE: usize = 2048;

/// A CBOR data item's head: (major type, argument), and the offset after it.
fn head(bytes: &[u8], at: usize) -> Option<(u8, u64, usize)> {
    let first = *bytes.get(at)?;
    let (major, info) = (first >> 5, first & 0x1f);
    let (len, arg) = match info {
        0..=23 => (0, u64::from(info)),
        24..=27 => {
            let len = 1usize << (info - 24);
            let field = bytes.get(at + 1..at + 1 + len)?;
            (
                len,
                field.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b)),
            )
        }
        _ => return None, // indefinite lengths and reserved values
    };
    Some((major, arg, at + 1 + len))
}

/// The offset after the data item at `at`.
fn skip(bytes: &[u8], at: usize) -> Option<usize> {
    let (major, arg, mut next) = head(bytes, at)?;
    match major {
        0 | 1 | 7 => Some(next),
        2 | 3 => next.checked_add(usize::try_from(arg).ok()?),
        4 | 5 => {
            let items = if major == 5 { arg.checked_mul(2)? } else { arg };
            for _ in 0..items {
                next = skip(bytes, next)?;
            }
            Some(next)
        }
        _ => skip(bytes, next), // tag: its content
    }
}

/// The byte string at `at`.
fn bstr(bytes: &[u8], at: usize) -> Option<&[u8]> {
    match head(bytes, at)? {
        (2, len, start) => bytes.get(start..start.checked_add(usize::try_from(len).ok()?)?),
        _ => None,
    }
}

/// The content of tag `tag` at `at`.
fn untag(bytes: &[u8], at: usize, tag: u64) -> Option<usize> {
    match head(bytes, at)? {
        (6, t, next) if t == tag => Some(next),
        _ => None,
    }
}

/// The value of integer key `key` in the map at `at`.
fn map_get(bytes: &[u8], at: usize, key: i64) -> Option<usize> {
    let (5, pairs, mut next) = head(bytes, at)? else {
        return None;
    };
    for _ in 0..pairs {
        let found = match head(bytes, next)? {
            (0, n, _) => i64::try_from(n).ok() == Some(key),
            (1, n, _) => i64::try_from(n).ok().map(|n| -1 - n) == Some(key),
            _ => false,
        };
        next = skip(bytes, next)?;
        if found {
            return Some(next);
        }
        next = skip(bytes, next)?;
    }
    None
}

/// The `index`th element of the array at `at` (which must have `len` elements).
fn array_item(bytes: &[u8], at: usize, len: u64, index: u64) -> Option<usize> {
    let (4, n, mut next) = head(bytes, at)? else {
        return None;
    };
    if n != len || index >= n {
        return None;
    }
    for _ in 0..index {
        next = skip(bytes, next)?;
    }
    Some(next)
}

/// The realm token of a CCA token: (protected header, payload, signature).
fn realm_token(token: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let collection = untag(token, 0, TAG_CCA_TOKEN)?;
    bstr(token, map_get(token, collection, KEY_PLATFORM_TOKEN)?)?;
    let realm = bstr(token, map_get(token, collection, KEY_REALM_TOKEN)?)?;
    let sign1 = untag(realm, 0, TAG_COSE_SIGN1)?;
    let protected = bstr(realm, array_item(realm, sign1, 4, 0)?)?;
    let payload = bstr(realm, array_item(realm, sign1, 4, 2)?)?;
    let signature = bstr(realm, array_item(realm, sign1, 4, 3)?)?;
    Some((protected, payload, signature))
}

/// Appends a CBOR head of `major` with `arg` to `out` at `*len`.
fn put_head(out: &mut [u8], len: &mut usize, major: u8, arg: u64) -> Option<()> {
    let mut bytes = [0u8; 9];
    let n = match arg {
        0..=23 => {
            bytes[0] = major << 5 | arg as u8;
            1
        }
        24..=0xff => {
            bytes[..2].copy_from_slice(&[major << 5 | 24, arg as u8]);
            2
        }
        0x100..=0xffff => {
            bytes[0] = major << 5 | 25;
            bytes[1..3].copy_from_slice(&(arg as u16).to_be_bytes());
            3
        }
        _ => return None,
    };
    put(out, len, &bytes[..n])
}

fn put(out: &mut [u8], len: &mut usize, bytes: &[u8]) -> Option<()> {
    out.get_mut(*len..*len + bytes.len())?
        .copy_from_slice(bytes);
    *len += bytes.len();
    Some(())
}

/// The COSE Sig_structure ["Signature1", protected, h'', payload] (RFC 9052 4.4).
fn sig_structure(out: &mut [u8], protected: &[u8], payload: &[u8]) -> Option<usize> {
    let mut len = 0;
    put_head(out, &mut len, 4, 4)?;
    put_head(out, &mut len, 3, 10)?;
    put(out, &mut len, b"Signature1")?;
    put_head(out, &mut len, 2, protected.len() as u64)?;
    put(out, &mut len, protected)?;
    put_head(out, &mut len, 2, 0)?;
    put_head(out, &mut len, 2, payload.len() as u64)?;
    put(out, &mut len, payload)?;
    Some(len)
}

/// The RAK from the COSE_Key of claim 44237.
fn rak(payload: &[u8]) -> Option<VerifyingKey> {
    let key = bstr(payload, map_get(payload, 0, CLAIM_PUBLIC_KEY)?)?;
    let x = bstr(key, map_get(key, 0, COSE_KEY_X)?)?;
    let y = bstr(key, map_get(key, 0, COSE_KEY_Y)?)?;
    let mut sec1 = [0u8; 97];
    if x.len() != 48 || y.len() != 48 {
        return None;
    }
    sec1[0] = 4;
    sec1[1..49].copy_from_slice(x);
    sec1[49..].copy_from_slice(y);
    VerifyingKey::from_sec1_bytes(&sec1).ok()
}

/// Checks `token`: its shape, the challenge, the RIM (the first `rim.len()` bytes) and the
/// realm token's signature.
pub fn check(token: &[u8], challenge: &[u8; 64], rim: &[u8]) -> Outcome {
    let Some((protected, payload, signature)) = realm_token(token) else {
        fail!(
            "not a CCA token (tag 399 with a COSE_Sign1 realm token), {} bytes",
            token.len()
        );
    };
    match map_get(payload, 0, CLAIM_CHALLENGE).and_then(|at| bstr(payload, at)) {
        Some(claim) if claim == challenge => {}
        Some(claim) => fail!(
            "challenge claim {:02x?}.. differs",
            &claim[..claim.len().min(8)]
        ),
        None => fail!("no challenge claim"),
    }
    match map_get(payload, 0, CLAIM_RIM).and_then(|at| bstr(payload, at)) {
        Some(claim) if claim == rim => {}
        Some(claim) => fail!("RIM claim {:02x?}.. differs", &claim[..claim.len().min(8)]),
        None => fail!("no RIM claim"),
    }
    let Some(key) = rak(payload) else {
        fail!("no valid P-384 RAK in claim 44237");
    };
    let Ok(signature) = Signature::from_slice(signature) else {
        fail!("signature of {} bytes, not r || s", signature.len());
    };
    let mut buf = [0u8; MAX_SIG_STRUCTURE];
    let Some(len) = sig_structure(&mut buf, protected, payload) else {
        fail!(
            "realm token payload of {} bytes too long to verify",
            payload.len()
        );
    };
    if key.verify(&buf[..len], &signature).is_err() {
        fail!("realm token signature does not verify with its RAK");
    }
    Ok(())
}
