//! A realm measurement value: 512 bits, as stored in the RD (spec C1.17).

use super::{HashAlgorithm, MEASUREMENT_SIZE};

/// One realm measurement: the RIM or a REM (spec C1.17 RmmRealmMeasurement, 512 bits).
///
/// A digest shorter than 512 bits (SHA-256) occupies the first bytes; the rest are zero
/// (B4.3.1.4 step 4, B5.3.8). Byte `i` is bits `8i+7:8i` of the 512-bit value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Measurement {
    bytes: [u8; MEASUREMENT_SIZE],
}

impl Measurement {
    /// The all-zero value: the initial value of every REM (A7.1.2).
    pub const ZERO: Self = Self {
        bytes: [0; MEASUREMENT_SIZE],
    };

    /// A measurement from its 64 bytes.
    pub const fn from_bytes(bytes: [u8; MEASUREMENT_SIZE]) -> Self {
        Self { bytes }
    }

    /// The 64 bytes of the value.
    pub const fn as_bytes(&self) -> &[u8; MEASUREMENT_SIZE] {
        &self.bytes
    }

    /// A value from eight doublewords, doubleword 0 holding bits 63:0 (the register order of
    /// RSI_MEASUREMENT_EXTEND's value_0..value_7, B5.3.7).
    pub fn from_words(words: [u64; 8]) -> Self {
        let mut bytes = [0u8; MEASUREMENT_SIZE];
        for (chunk, word) in bytes.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        Self { bytes }
    }

    /// The value as eight doublewords, doubleword 0 holding bits 63:0 (the register order of
    /// RSI_MEASUREMENT_READ's value_0..value_7, B5.3.8).
    pub fn to_words(&self) -> [u64; 8] {
        let mut words = [0u64; 8];
        for (word, chunk) in words.iter_mut().zip(self.bytes.chunks_exact(8)) {
            let mut le = [0u8; 8];
            le.copy_from_slice(chunk);
            *word = u64::from_le_bytes(le);
        }
        words
    }

    /// The digest part for `algo`: the first [`HashAlgorithm::digest_len`] bytes (e.g. for an
    /// attestation claim).
    pub fn digest(&self, algo: HashAlgorithm) -> &[u8] {
        let (digest, _) = self.bytes.split_at(algo.digest_len());
        digest
    }

    /// The value with the bytes past `algo`'s digest cleared, as the RIM is copied into a
    /// measurement descriptor (TF-RMM copies exactly the digest length).
    pub(super) fn truncated(&self, algo: HashAlgorithm) -> Self {
        let mut bytes = [0u8; MEASUREMENT_SIZE];
        bytes.iter_mut().zip(self.digest(algo)).for_each(|(b, d)| *b = *d);
        Self { bytes }
    }
}

impl Default for Measurement {
    fn default() -> Self {
        Self::ZERO
    }
}
