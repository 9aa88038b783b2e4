//! The Realm hash algorithm (RHA) and a streaming hasher over it.

use super::{Measurement, MEASUREMENT_SIZE};
use sha2::{Digest, Sha256, Sha512};

/// A Realm hash algorithm (spec C1.8 RmmHashAlgorithm, A3.1.1).
///
/// Encoded for the Host as RmiHashAlgorithm (B4.4.7) and for the Realm as RsiHashAlgorithm
/// (B5.4.2); both use the same 8-bit encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// HASH_SHA_256 (RMI_HASH_SHA_256 / RSI_HASH_SHA_256 = 0).
    Sha256,
    /// HASH_SHA_512 (RMI_HASH_SHA_512 / RSI_HASH_SHA_512 = 1).
    Sha512,
}

impl HashAlgorithm {
    /// Decodes an RmiHashAlgorithm value (B4.4.7); `None` for the reserved encodings.
    pub const fn from_rmi(encoding: u8) -> Option<Self> {
        match encoding {
            0 => Some(Self::Sha256),
            1 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The RmiHashAlgorithm encoding (B4.4.7).
    pub const fn to_rmi(self) -> u8 {
        match self {
            Self::Sha256 => 0,
            Self::Sha512 => 1,
        }
    }

    /// The RsiHashAlgorithm encoding, as returned by RSI_REALM_CONFIG (B5.4.2).
    pub const fn to_rsi(self) -> u8 {
        self.to_rmi()
    }

    /// Digest size in bytes: 32 or 64. A [`Measurement`] holds the digest in its first
    /// `digest_len()` bytes and zeros after it.
    pub const fn digest_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

/// Zeros fed to a [`Hasher`] in chunks, so that zero-filled structures need no buffer.
static ZEROS: [u8; ZEROS_LEN] = [0; ZEROS_LEN];
const ZEROS_LEN: usize = 256;

/// An incremental hash with the algorithm chosen at run time.
pub(super) enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    pub(super) fn new(algo: HashAlgorithm) -> Self {
        match algo {
            HashAlgorithm::Sha256 => Self::Sha256(Sha256::new()),
            HashAlgorithm::Sha512 => Self::Sha512(Sha512::new()),
        }
    }

    pub(super) fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }

    /// Feeds `count` zero bytes.
    pub(super) fn update_zeros(&mut self, count: usize) {
        for _ in 0..count / ZEROS_LEN {
            self.update(&ZEROS);
        }
        let (tail, _) = ZEROS.split_at(count % ZEROS_LEN);
        self.update(tail);
    }

    /// The digest as a measurement value, zero filled past the digest (B4.3.1.4 step 4).
    pub(super) fn finalize(self) -> Measurement {
        let mut bytes = [0u8; MEASUREMENT_SIZE];
        match self {
            Self::Sha256(h) => {
                let digest: [u8; 32] = h.finalize().into();
                bytes[..32].copy_from_slice(&digest);
            }
            Self::Sha512(h) => bytes = h.finalize().into(),
        }
        Measurement::from_bytes(bytes)
    }
}

/// Hashes a structure laid out as fields at fixed byte offsets, zeros elsewhere, without
/// building it in memory (used for the 4 KiB RmiRealmParams / RmiRecParams images).
pub(super) struct StructHasher {
    hasher: Hasher,
    offset: usize,
}

impl StructHasher {
    pub(super) fn new(algo: HashAlgorithm) -> Self {
        Self {
            hasher: Hasher::new(algo),
            offset: 0,
        }
    }

    /// Writes `bytes` at `offset`, zero filling from the end of the previous field. Fields
    /// must come in increasing offset order (all callers use constant offsets).
    pub(super) fn field(&mut self, offset: usize, bytes: &[u8]) {
        self.hasher.update_zeros(offset.saturating_sub(self.offset));
        self.hasher.update(bytes);
        // Constant offsets and sizes within a 4 KiB image: no saturation.
        self.offset = offset.max(self.offset).saturating_add(bytes.len());
    }

    /// Zero fills up to `size` bytes in all and returns the digest.
    pub(super) fn finish(mut self, size: usize) -> Measurement {
        self.hasher.update_zeros(size.saturating_sub(self.offset));
        self.hasher.finalize()
    }
}
