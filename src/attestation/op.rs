//! One REC's attestation token generation, from RSI_ATTESTATION_TOKEN_INIT to the last
//! RSI_ATTESTATION_TOKEN_CONTINUE (spec A7.2.2, B5.3.1, B5.3.2), with its state saved in the
//! REC's attestation scratch granule between calls.

use super::cbor;
use super::key::AttestationIdentity;
use super::signer::{Progress, StateError, TokenSigner, DIGEST_SIZE, SIGNER_STATE_SIZE};
use super::store::{ByteStore, OutOfSpace};
use super::RealmClaims;
use sha2::{Digest, Sha384};

/// Size of a saved [`AttestationOp`] ([`AttestationOp::save`]).
pub const OP_STATE_SIZE: usize = 24 + SIGNER_STATE_SIZE;
/// Marks a saved operation; a scratch granule without it holds none (B5.3.1
/// `rec.attest_state == NO_ATTEST_IN_PROGRESS`).
const MAGIC: u64 = u64::from_le_bytes(*b"RMMATTv1");
/// Chunk through which token bytes go to the Realm: bounds the RMM stack use.
const COPY_CHUNK: usize = 256;

/// Why RSI_ATTESTATION_TOKEN_INIT could not start an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// The token does not fit in the token store.
    TooLarge,
}

impl From<OutOfSpace> for TokenError {
    fn from(_: OutOfSpace) -> Self {
        Self::TooLarge
    }
}

/// A REC's token generation in progress: the token (claims encoded, signature pending) lies
/// in the token store; this holds where, the signer's state and how much the Realm has read.
#[derive(Clone)]
pub struct AttestationOp {
    len: usize,
    signature_at: usize,
    copied: usize,
    signer: TokenSigner,
}

impl AttestationOp {
    /// RSI_ATTESTATION_TOKEN_INIT: encodes the whole token into `token` (the realm claims
    /// from `claims`, the platform token and RAK from `identity`), hashes the COSE
    /// Sig_structure and draws the signing nonce. A few hashes and 15 point additions.
    pub fn init<S: ByteStore + ?Sized>(
        token: &mut S,
        identity: &AttestationIdentity,
        claims: &RealmClaims<'_>,
    ) -> Result<Self, TokenError> {
        let layout = cbor::write_token(
            token,
            identity.platform_token(),
            claims,
            identity.key().public_key_claim(),
        )?;
        let mut head = [0u8; 32];
        let head_len = cbor::sig_structure_head(&mut head, layout.payload_len)?;
        let mut hasher = Sha384::new();
        hasher.update(head.get(..head_len).ok_or(OutOfSpace)?);
        let mut chunk = [0u8; COPY_CHUNK];
        let (mut at, mut left) = (layout.payload, layout.payload_len);
        while left != 0 {
            let (part, _) = chunk.split_at_mut(left.min(COPY_CHUNK));
            token.read_at(at, part)?;
            hasher.update(&*part);
            at = at.checked_add(part.len()).ok_or(OutOfSpace)?;
            left = left.saturating_sub(part.len());
        }
        let digest: [u8; DIGEST_SIZE] = hasher.finalize().into();
        Ok(Self {
            len: layout.len,
            signature_at: layout.signature,
            copied: 0,
            signer: TokenSigner::new(identity.key(), &digest),
        })
    }

    /// The token size: RSI_ATTESTATION_TOKEN_INIT's `size` output (exact, hence an upper
    /// bound).
    pub fn token_len(&self) -> usize {
        self.len
    }

    /// Signs until done or until `interrupted()` says to stop; at least one step each call,
    /// so a Realm that is interrupted every time still makes progress. On completion writes
    /// the signature into `token`. Returns [`Progress::Pending`] when interrupted.
    pub fn sign<S: ByteStore + ?Sized>(
        &mut self,
        token: &mut S,
        identity: &AttestationIdentity,
        mut interrupted: impl FnMut() -> bool,
    ) -> Result<Progress, OutOfSpace> {
        if self.signer.is_done() {
            return Ok(Progress::Done);
        }
        loop {
            if self.signer.step(identity.key()) == Progress::Done {
                if let Some(signature) = self.signer.signature() {
                    token.write_at(self.signature_at, signature)?;
                }
                return Ok(Progress::Done);
            }
            if interrupted() {
                return Ok(Progress::Pending);
            }
        }
    }

    /// Whether the signature is in the token.
    pub fn is_signed(&self) -> bool {
        self.signer.is_done()
    }

    /// The signer (for tests and statistics).
    pub fn signer(&self) -> &TokenSigner {
        &self.signer
    }

    /// Copies the next at most `max` token bytes out through `sink(offset, bytes)`, `offset`
    /// counting from the start of this call's output, in chunks of at most 256 bytes.
    /// Returns the bytes copied; the cursor advances past each chunk `sink` accepted, and a
    /// `sink` error stops the copy and is returned. Nothing is copied before
    /// [`Self::is_signed`].
    pub fn copy_out<S: ByteStore + ?Sized, E>(
        &mut self,
        token: &S,
        max: usize,
        mut sink: impl FnMut(usize, &[u8]) -> Result<(), E>,
    ) -> Result<usize, CopyError<E>> {
        if !self.is_signed() {
            return Ok(0);
        }
        let total = max.min(self.remaining());
        let mut done = 0;
        let mut chunk = [0u8; COPY_CHUNK];
        // Neither addition saturates: `copied + total <= len`.
        while let Some(left) = total.checked_sub(done).filter(|&left| left != 0) {
            let (part, _) = chunk.split_at_mut(left.min(COPY_CHUNK));
            token
                .read_at(self.copied, part)
                .map_err(|_| CopyError::Store)?;
            sink(done, part).map_err(CopyError::Sink)?;
            self.copied = self.copied.saturating_add(part.len());
            done = done.saturating_add(part.len());
        }
        Ok(done)
    }

    /// Token bytes not yet copied out.
    pub fn remaining(&self) -> usize {
        // `copied <= len`: `load` refuses a state where it is not.
        self.len.saturating_sub(self.copied)
    }

    /// Whether the whole token has been copied out: the operation is over (B5.3.1
    /// `complete`).
    pub fn is_complete(&self) -> bool {
        self.is_signed() && self.remaining() == 0
    }

    /// Saves the operation at the start of `scratch` (one field inversion).
    pub fn save<S: ByteStore + ?Sized>(&self, scratch: &mut S) -> Result<(), OutOfSpace> {
        let mut out = [0u8; OP_STATE_SIZE];
        out[0..8].copy_from_slice(&MAGIC.to_le_bytes());
        out[8..12].copy_from_slice(&(self.len as u32).to_le_bytes());
        out[12..16].copy_from_slice(&(self.signature_at as u32).to_le_bytes());
        out[16..20].copy_from_slice(&(self.copied as u32).to_le_bytes());
        let signer: &mut [u8; SIGNER_STATE_SIZE] =
            (&mut out[24..]).try_into().map_err(|_| OutOfSpace)?;
        self.signer.save_to(signer);
        scratch.write_at(0, &out)
    }

    /// The operation saved in `scratch`: `Ok(None)` if there is none (never started,
    /// finished, or cleared), [`StateError`] if the bytes are not a saved operation.
    pub fn load<S: ByteStore + ?Sized>(scratch: &S) -> Result<Option<Self>, StateError> {
        let mut state = [0u8; OP_STATE_SIZE];
        scratch.read_at(0, &mut state).map_err(|_| StateError)?;
        let word = |at: usize| {
            let bytes = state.get(at..).and_then(|b| b.first_chunk::<4>());
            bytes.map_or(0, |b| u32::from_le_bytes(*b) as usize)
        };
        if state[0..8] != MAGIC.to_le_bytes() {
            return Ok(None);
        }
        let (len, signature_at, copied) = (word(8), word(12), word(16));
        let signature_end = signature_at.checked_add(cbor::SIGNATURE_SIZE);
        if copied > len || signature_end.is_none_or(|end| end > len) || len > scratch_limit() {
            return Err(StateError);
        }
        let signer: &[u8; SIGNER_STATE_SIZE] = state[24..].try_into().map_err(|_| StateError)?;
        Ok(Some(Self {
            len,
            signature_at,
            copied,
            signer: TokenSigner::load_from(signer)?,
        }))
    }

    /// Ends any operation saved in `scratch` and wipes its state (the nonce included).
    pub fn clear<S: ByteStore + ?Sized>(scratch: &mut S) -> Result<(), OutOfSpace> {
        scratch.write_at(0, &[0u8; OP_STATE_SIZE])
    }
}

/// The largest token a saved operation may describe.
const fn scratch_limit() -> usize {
    super::TOKEN_BUFFER_SIZE
}

/// Why [`AttestationOp::copy_out`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyError<E> {
    /// The token store is smaller than the token (a store other than the one `init` used).
    Store,
    /// The sink refused a chunk.
    Sink(E),
}
