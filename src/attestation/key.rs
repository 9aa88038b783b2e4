//! The attestation identity the RMM gets from EL3 at boot: the Realm Attestation Key (RAK)
//! and the CCA platform token that binds it (spec A7.2.3).

use super::cbor;
use alloc::vec::Vec;
use p384::elliptic_curve::sec1::ToSec1Point;
use p384::{NonZeroScalar, PublicKey};
use sha2::{Digest, Sha256};

/// Size of the RAK public key claim: a COSE_Key (RFC 9052 §7, RFC 9053 §7.1.1) of an EC2
/// P-384 key, `{1: 2, -1: 2, -2: x, -3: y}` (the layout TF-RMM's t_cose produces).
pub const RAK_PUB_CLAIM_SIZE: usize = 107;
/// The IANA hash name of the algorithm that turns [`RealmAttestationKey::public_key_claim`]
/// into the CCA platform token's challenge (A7.2.3.1.8, claim 44240).
pub const RAK_PUB_HASH_ALGO: &str = "sha-256";
/// Size of the CCA platform challenge: a SHA-256 digest (A7.2.3.2.2 allows 32, 48 or 64).
pub const PLATFORM_CHALLENGE_SIZE: usize = 32;
/// Largest platform token the RMM accepts: it must leave room for the realm token in the
/// REC's two token granules ([`super::TOKEN_BUFFER_SIZE`]).
pub const MAX_PLATFORM_TOKEN_SIZE: usize = super::TOKEN_BUFFER_SIZE - 1024;

/// Why EL3's key or platform token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityError {
    /// Not a 48-byte big-endian scalar in 1..n-1.
    InvalidKey,
    /// Not a tagged COSE_Sign1 (`#6.18([4 items])`), or larger than
    /// [`MAX_PLATFORM_TOKEN_SIZE`].
    InvalidPlatformToken,
}

/// The Realm Attestation Key: an ECC P-384 private key (RMM_ATTEST_GET_REALM_KEY gives its
/// 48-byte big-endian scalar), with its public key claim precomputed.
#[derive(Clone)]
pub struct RealmAttestationKey {
    secret: NonZeroScalar,
    public_claim: [u8; RAK_PUB_CLAIM_SIZE],
}

impl RealmAttestationKey {
    /// The key whose private scalar is `scalar` (big endian, 48 bytes). Does one scalar
    /// multiplication: boot time only.
    pub fn from_scalar_bytes(scalar: &[u8]) -> Result<Self, IdentityError> {
        let bytes: [u8; 48] = scalar.try_into().map_err(|_| IdentityError::InvalidKey)?;
        let secret = Option::<NonZeroScalar>::from(NonZeroScalar::from_repr(bytes.into()))
            .ok_or(IdentityError::InvalidKey)?;
        let point = PublicKey::from_secret_scalar(&secret).to_sec1_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err(IdentityError::InvalidKey);
        };
        let mut public_claim = [0u8; RAK_PUB_CLAIM_SIZE];
        let len = cbor::cose_key_p384(&mut public_claim, x.as_ref(), y.as_ref())
            .map_err(|_| IdentityError::InvalidKey)?;
        debug_assert_eq!(len, RAK_PUB_CLAIM_SIZE);
        Ok(Self {
            secret,
            public_claim,
        })
    }

    /// The value of the Realm public key claim (A7.2.3.1.7, 44237): the COSE_Key bytes.
    pub fn public_key_claim(&self) -> &[u8; RAK_PUB_CLAIM_SIZE] {
        &self.public_claim
    }

    /// H(RAK_pub): the challenge to pass to RMM_ATTEST_GET_PLAT_TOKEN, SHA-256
    /// ([`RAK_PUB_HASH_ALGO`]) of [`Self::public_key_claim`] (A7.2.3: "The CCA platform token
    /// contains a hash of RAK_pub"; the verifier hashes the claim bytes as carried).
    pub fn platform_challenge(&self) -> [u8; PLATFORM_CHALLENGE_SIZE] {
        Sha256::digest(self.public_claim).into()
    }

    pub(super) fn secret(&self) -> &NonZeroScalar {
        &self.secret
    }
}

/// Everything the RMM needs to attest realms, fixed at boot: the RAK and the CCA platform
/// token EL3 produced for [`RealmAttestationKey::platform_challenge`].
#[derive(Clone)]
pub struct AttestationIdentity {
    key: RealmAttestationKey,
    platform_token: Vec<u8>,
}

impl AttestationIdentity {
    /// The identity of `key` with EL3's platform token (a tagged COSE_Sign1, checked only
    /// for its outer shape: it is EL3's, signed by the IAK).
    pub fn new(key: RealmAttestationKey, platform_token: Vec<u8>) -> Result<Self, IdentityError> {
        if platform_token.len() > MAX_PLATFORM_TOKEN_SIZE
            || !cbor::is_cose_sign1_tagged(&platform_token)
        {
            return Err(IdentityError::InvalidPlatformToken);
        }
        Ok(Self {
            key,
            platform_token,
        })
    }

    /// From the bytes EL3 returns: RMM_ATTEST_GET_REALM_KEY's scalar and
    /// RMM_ATTEST_GET_PLAT_TOKEN's token.
    pub fn from_el3(rak_scalar: &[u8], platform_token: Vec<u8>) -> Result<Self, IdentityError> {
        Self::new(
            RealmAttestationKey::from_scalar_bytes(rak_scalar)?,
            platform_token,
        )
    }

    /// The RAK.
    pub fn key(&self) -> &RealmAttestationKey {
        &self.key
    }

    /// The CCA platform token (COSE_Sign1_Tagged bytes).
    pub fn platform_token(&self) -> &[u8] {
        &self.platform_token
    }
}
