//! The realm attestation identity, fetched from EL3 once at cold boot (RMM-EL3 interface 0.3,
//! RMM_ATTEST_GET_REALM_KEY and RMM_ATTEST_GET_PLAT_TOKEN): the realm attestation key (RAK)
//! and the platform token that vouches for it (its challenge is the hash of the RAK's public
//! key claim, spec A7.2.3).

use alloc::vec::Vec;
use rmm::attestation::{AttestationIdentity, RealmAttestationKey};
use rmm_arch::el3::{RMM_ATTEST_GET_PLAT_TOKEN, RMM_ATTEST_GET_REALM_KEY};
use rmm_arch::smc::smc;

const SHARED_SIZE: usize = 4096;
/// ECC SECP384R1, the curve the RAK is on.
const CURVE_P384: u64 = 0;
/// Bytes of the platform token the RMM accepts from EL3.
const MAX_TOKEN: usize = 8192;

/// Why there is no attestation identity.
#[derive(Debug)]
pub enum Error {
    /// EL3 returned this error for the realm key.
    RealmKey(i64),
    /// EL3 returned this error for the platform token.
    PlatformToken(i64),
    /// The key or token EL3 returned is malformed, or too large.
    Invalid,
}

/// The shared buffer, identity-mapped read-write (`mmu::build`); only CPU 0 uses it, at boot.
fn shared(pa: u64) -> &'static mut [u8; SHARED_SIZE] {
    // SAFETY: cold boot on CPU 0 is the only user of the shared buffer, which is mapped as
    // Realm Normal memory and is not otherwise referenced by Rust code.
    unsafe { &mut *(pa as *mut [u8; SHARED_SIZE]) }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::RealmKey(code) => write!(f, "EL3 refused the realm key: {code}"),
            Error::PlatformToken(code) => write!(f, "EL3 refused the platform token: {code}"),
            Error::Invalid => f.write_str("malformed key or platform token from EL3"),
        }
    }
}

/// Asks EL3 for the RAK and the platform token through the shared buffer at `shared_pa`.
pub fn fetch(shared_pa: u64) -> Result<AttestationIdentity, Error> {
    let buf = shared(shared_pa);
    let r = smc([
        RMM_ATTEST_GET_REALM_KEY,
        shared_pa,
        SHARED_SIZE as u64,
        CURVE_P384,
        0,
        0,
        0,
        0,
    ]);
    if r[0] != 0 {
        return Err(Error::RealmKey(r[0] as i64));
    }
    let len = (r[1] as usize).min(SHARED_SIZE);
    let key = RealmAttestationKey::from_scalar_bytes(&buf[..len]);
    // The private key leaves the shared buffer at once.
    buf.fill(0);
    let key = key.map_err(|_| Error::Invalid)?;

    let challenge = key.platform_challenge();
    buf[..challenge.len()].copy_from_slice(&challenge);
    let mut token = Vec::new();
    let mut challenge_size = challenge.len() as u64;
    loop {
        let r = smc([
            RMM_ATTEST_GET_PLAT_TOKEN,
            shared_pa,
            SHARED_SIZE as u64,
            challenge_size,
            0,
            0,
            0,
            0,
        ]);
        if r[0] != 0 {
            return Err(Error::PlatformToken(r[0] as i64));
        }
        let hunk = r[1] as usize;
        if hunk > SHARED_SIZE || token.len() + hunk > MAX_TOKEN {
            return Err(Error::Invalid);
        }
        token.extend_from_slice(&buf[..hunk]);
        challenge_size = 0;
        if r[2] == 0 {
            break;
        }
    }
    AttestationIdentity::new(key, token).map_err(|_| Error::Invalid)
}
