//! ECDSA P-384 / SHA-384 signing in bounded steps whose state survives in caller memory, so
//! that RSI_ATTESTATION_TOKEN_CONTINUE can stop for an interrupt and resume later, on any CPU
//! (spec A7.2.2, D1.7.2).
//!
//! The signature is the one `p384::ecdsa::SigningKey` gives for the same key and digest:
//! the nonce `k` is RFC 6979's (HMAC-DRBG over SHA-384, as `ecdsa::hazmat::
//! sign_prehashed_rfc6979` draws it), `R = k·G` is computed with a fixed 4-bit window, most
//! significant window first (`acc = 16·acc + w·G`, with `w·G` picked from a 16-entry table in
//! constant time), and then `r = x(R) mod n`, `s = k⁻¹ (z + r d)`, as in
//! `ecdsa::hazmat::sign_prehashed` (no low-S normalisation for P-384). Should `r` or `s` be
//! zero, the next RFC 6979 candidate is used, as there.

use super::key::RealmAttestationKey;
use p384::ecdsa::Signature;
use p384::elliptic_curve::group::Group;
use p384::elliptic_curve::ops::Reduce;
use p384::elliptic_curve::point::AffineCoordinates;
use p384::elliptic_curve::sec1::{FromSec1Point, Sec1Point, ToSec1Point};
use p384::elliptic_curve::subtle::{ConditionallySelectable, ConstantTimeEq};
use p384::elliptic_curve::{Curve, PrimeField};
use p384::{AffinePoint, FieldBytes, NistP384, ProjectivePoint, Scalar, U384};
use sha2::Sha384;

/// Bits of `k` consumed per window.
pub const WINDOW_BITS: usize = 4;
/// Windows in a 384-bit `k`.
pub const WINDOWS: usize = 384 / WINDOW_BITS;
/// Windows one [`TokenSigner::step`] processes.
pub const WINDOWS_PER_STEP: usize = 4;
/// Most point operations (doublings and additions) in one [`TokenSigner::step`].
pub const MAX_POINT_OPS_PER_STEP: usize = WINDOWS_PER_STEP * (WINDOW_BITS + 1);
/// Steps from [`TokenSigner::new`] to a signature (unless `r` or `s` is zero, probability
/// about 2⁻³⁸³, which restarts the multiplication).
pub const SIGN_STEPS: usize = WINDOWS.div_ceil(WINDOWS_PER_STEP) + 1;
/// Size of a SHA-384 digest: the message representative `z`.
pub const DIGEST_SIZE: usize = 48;
/// Size of a saved [`TokenSigner`] ([`TokenSigner::save_to`]).
pub const SIGNER_STATE_SIZE: usize = 8 + 48 + 48 + 104 + 96;

const AFFINE_SIZE: usize = 97;
const OFF_DIGEST: usize = 8;
const OFF_K: usize = OFF_DIGEST + 48;
const OFF_ACC: usize = OFF_K + 48;
const OFF_SIGNATURE: usize = OFF_ACC + 104;

/// How far a step got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// More steps are needed.
    Pending,
    /// The signature is ready.
    Done,
}

/// A saved signer that cannot be loaded: not written by [`TokenSigner::save_to`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateError;

/// An ECDSA signature in progress. Holds the nonce `k`: keep it (and its saved form) in
/// Realm-PAS memory only, as the REC's auxiliary granules are.
#[derive(Clone)]
pub struct TokenSigner {
    digest: [u8; DIGEST_SIZE],
    k: [u8; 48],
    attempt: u16,
    /// Next window of `k` to process; [`WINDOWS`] when `acc = k·G`.
    window: usize,
    acc: ProjectivePoint,
    table: [ProjectivePoint; 16],
    signature: Option<[u8; 96]>,
    last_step_ops: usize,
}

impl TokenSigner {
    /// Starts signing the SHA-384 digest `digest` with `key`. Draws `k` (a few HMACs) and
    /// builds the window table (15 point additions).
    pub fn new(key: &RealmAttestationKey, digest: &[u8; DIGEST_SIZE]) -> Self {
        Self {
            digest: *digest,
            k: rfc6979_k(key, digest, 0),
            attempt: 0,
            window: 0,
            acc: ProjectivePoint::IDENTITY,
            table: table(),
            signature: None,
            last_step_ops: 0,
        }
    }

    /// Does a bounded amount of work: [`WINDOWS_PER_STEP`] windows of `k·G`
    /// ([`MAX_POINT_OPS_PER_STEP`] point operations), or the final `r`, `s` (one field and one
    /// scalar inversion). `key` must be the one given to [`Self::new`].
    pub fn step(&mut self, key: &RealmAttestationKey) -> Progress {
        self.last_step_ops = 0;
        if self.signature.is_some() {
            return Progress::Done;
        }
        if self.window < WINDOWS {
            let end = self.window.saturating_add(WINDOWS_PER_STEP).min(WINDOWS);
            for window in self.window..end {
                for _ in 0..WINDOW_BITS {
                    self.acc = self.acc.double();
                }
                let w = nibble(&self.k, window);
                let mut t = ProjectivePoint::IDENTITY;
                for (j, entry) in self.table.iter().enumerate().skip(1) {
                    t.conditional_assign(entry, w.ct_eq(&(j as u8)));
                }
                self.acc += t;
                self.last_step_ops = self.last_step_ops.saturating_add(WINDOW_BITS + 1);
            }
            self.window = end;
            return Progress::Pending;
        }
        match self.finish(key) {
            Some(signature) => {
                self.signature = Some(signature);
                self.k = [0; 48];
                self.acc = ProjectivePoint::IDENTITY;
                Progress::Done
            }
            None => {
                // r or s is zero: the next RFC 6979 candidate, as ecdsa's signing loop does.
                self.attempt = self.attempt.wrapping_add(1);
                self.k = rfc6979_k(key, &self.digest, self.attempt);
                self.window = 0;
                self.acc = ProjectivePoint::IDENTITY;
                Progress::Pending
            }
        }
    }

    /// `r`, `s` from `R = acc`; `None` if either is zero.
    fn finish(&self, key: &RealmAttestationKey) -> Option<[u8; 96]> {
        let big_r = self.acc.to_affine();
        let r = <Scalar as Reduce<FieldBytes>>::reduce(&big_r.x());
        let z = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(self.digest));
        let k = Option::<Scalar>::from(Scalar::from_repr(FieldBytes::from(self.k)))?;
        let k_inv = Option::<Scalar>::from(k.invert())?;
        let s = k_inv * (z + r * key.secret().as_ref());
        let signature = Signature::from_scalars(r, s).ok()?;
        Some(signature.to_bytes().into())
    }

    /// Whether the signature is ready.
    pub fn is_done(&self) -> bool {
        self.signature.is_some()
    }

    /// The signature, r || s big endian, once [`Self::step`] said [`Progress::Done`].
    pub fn signature(&self) -> Option<&[u8; 96]> {
        self.signature.as_ref()
    }

    /// Point operations the last [`Self::step`] did (at most [`MAX_POINT_OPS_PER_STEP`]).
    pub fn last_step_ops(&self) -> usize {
        self.last_step_ops
    }

    /// Writes the state to `out` (one field inversion, to store `acc` in affine form).
    pub fn save_to(&self, out: &mut [u8; SIGNER_STATE_SIZE]) {
        out.fill(0);
        out[0..4].copy_from_slice(&(self.window as u32).to_le_bytes());
        out[4..6].copy_from_slice(&self.attempt.to_le_bytes());
        out[6] = u8::from(self.signature.is_some());
        out[OFF_DIGEST..OFF_K].copy_from_slice(&self.digest);
        out[OFF_K..OFF_ACC].copy_from_slice(&self.k);
        let acc = self.acc.to_affine().to_sec1_point(false);
        let acc = acc.as_bytes();
        // The identity encodes as the single byte 0 (SEC 1 §2.3.3), already there.
        if acc.len() == AFFINE_SIZE {
            out[OFF_ACC..OFF_ACC + AFFINE_SIZE].copy_from_slice(acc);
        }
        if let Some(signature) = &self.signature {
            out[OFF_SIGNATURE..].copy_from_slice(signature);
        }
    }

    /// A signer from what [`Self::save_to`] wrote; [`StateError`] for anything else (a window
    /// out of range, a point not on the curve). Rebuilds the window table (15 additions).
    pub fn load_from(state: &[u8; SIGNER_STATE_SIZE]) -> Result<Self, StateError> {
        let window = u32::from_le_bytes([state[0], state[1], state[2], state[3]]) as usize;
        let attempt = u16::from_le_bytes([state[4], state[5]]);
        let done = match state[6] {
            0 => false,
            1 => true,
            _ => return Err(StateError),
        };
        if window > WINDOWS || state[7] != 0 {
            return Err(StateError);
        }
        let mut digest = [0u8; DIGEST_SIZE];
        digest.copy_from_slice(&state[OFF_DIGEST..OFF_K]);
        let mut k = [0u8; 48];
        k.copy_from_slice(&state[OFF_K..OFF_ACC]);
        let acc_bytes = &state[OFF_ACC..OFF_ACC + AFFINE_SIZE];
        let acc = if acc_bytes.first() == Some(&0) {
            if acc_bytes.iter().any(|&b| b != 0) {
                return Err(StateError);
            }
            ProjectivePoint::IDENTITY
        } else {
            let point = Sec1Point::<NistP384>::from_bytes(acc_bytes).map_err(|_| StateError)?;
            let affine = Option::<AffinePoint>::from(AffinePoint::from_sec1_point(&point))
                .ok_or(StateError)?;
            ProjectivePoint::from(affine)
        };
        let signature = if done {
            let mut signature = [0u8; 96];
            signature.copy_from_slice(&state[OFF_SIGNATURE..]);
            Some(signature)
        } else {
            None
        };
        Ok(Self {
            digest,
            k,
            attempt,
            window,
            acc,
            table: table(),
            signature,
            last_step_ops: 0,
        })
    }
}

/// `[0·G, 1·G, ..., 15·G]`.
fn table() -> [ProjectivePoint; 16] {
    let mut table = [ProjectivePoint::IDENTITY; 16];
    let mut point = ProjectivePoint::IDENTITY;
    for entry in table.iter_mut().skip(1) {
        point += ProjectivePoint::GENERATOR;
        *entry = point;
    }
    table
}

/// Window `i` (below [`WINDOWS`]) of big-endian `k`, window 0 the most significant.
fn nibble(k: &[u8; 48], i: usize) -> u8 {
    let byte = k.get(i / 2).copied().unwrap_or(0);
    if i.is_multiple_of(2) {
        byte >> 4
    } else {
        byte & 0xF
    }
}

/// RFC 6979 §3.2 candidate number `attempt` (from 0) for `key` and `digest`, drawn as
/// `ecdsa::hazmat::sign_prehashed_rfc6979::<NistP384, Sha384>` draws it (no extra data).
fn rfc6979_k(key: &RealmAttestationKey, digest: &[u8; DIGEST_SIZE], attempt: u16) -> [u8; 48] {
    let order: U384 = *NistP384::ORDER.as_ref();
    let secret = key.secret().to_repr();
    let mut kgen = rfc6979::KGenerator::<Sha384, U384>::new(&secret, digest, &[], &order);
    let mut k = [0u8; 48];
    for _ in 0..=attempt {
        kgen.fill_next_k(&mut k);
    }
    k
}
