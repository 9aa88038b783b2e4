//! Realm claims for token tests: a challenge, RPV, RIM and REMs derived from a seed.

use rmm::attestation::RealmClaims;
use rmm::measurement::{HashAlgorithm, Measurement};

/// What a realm token attests.
pub struct Inputs {
    pub challenge: [u8; 64],
    pub rpv: [u8; 64],
    pub rim: Measurement,
    pub rems: [Measurement; 4],
}

impl Inputs {
    /// Values that differ for each `seed`.
    pub fn new(seed: u8) -> Self {
        let fill = |k: u8| core::array::from_fn(|i| (i as u8).wrapping_mul(k).wrapping_add(seed));
        Self {
            challenge: fill(3),
            rpv: fill(5),
            rim: Measurement::from_bytes(fill(7)),
            rems: [fill(11), fill(13), fill(17), fill(19)].map(Measurement::from_bytes),
        }
    }

    /// The claims of a realm with `hash_algo`.
    pub fn claims(&self, hash_algo: HashAlgorithm) -> RealmClaims<'_> {
        RealmClaims {
            challenge: &self.challenge,
            personalization: &self.rpv,
            rim: &self.rim,
            rems: &self.rems,
            hash_algo,
        }
    }
}
