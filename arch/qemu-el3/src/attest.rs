//! RMM_ATTEST_GET_REALM_KEY and RMM_ATTEST_GET_PLAT_TOKEN (RMM-EL3 interface 0.3).
//!
//! Both take the shared buffer's PA in x1 and its usable size in x2. GET_REALM_KEY (x3 =
//! curve, 0 = ECC SECP384R1) writes the realm attestation private key as its 48-byte
//! big-endian scalar and returns x1 = 48. GET_PLAT_TOKEN (x3 = challenge size, 32, 48 or
//! 64 bytes, the challenge at the start of the buffer; 0 on follow-up calls) returns the
//! platform token in hunks: x1 = hunk size, x2 = bytes still to come (0.3).
//!
//! TEST-ONLY: both keys are fixed constants published in this source file.
//!
//! Lock: the token cache (last challenge, its signed token, the hunk cursor) sits behind a
//! [`Lock`]; the RMM serialises its use of the shared buffer itself (one global lock in
//! TF-RMM), so the lock is only contended by misbehaving callers.

use crate::lock::Lock;
use crate::rmm::shared_buf;
use crate::token;
use p384::ecdsa::signature::Signer;
use p384::ecdsa::{Signature, SigningKey};
use rmm_arch::GRANULE_SIZE;

/// E_RMM_OK.
const OK: u64 = 0;
/// E_RMM_NOMEM (-4).
const NOMEM: u64 = -4i64 as u64;
/// E_RMM_INVAL (-5).
const INVAL: u64 = -5i64 as u64;

/// TEST-ONLY realm attestation key (RAK), P-384 private scalar, big-endian.
const REALM_KEY: [u8; 48] = [
    0x3a, 0x9c, 0x1e, 0x52, 0x7b, 0x04, 0xd6, 0x88, 0x21, 0x5f, 0xe3, 0x90, 0x47, 0xab, 0x12, 0xcd,
    0x65, 0x0e, 0xf4, 0x39, 0x8a, 0x7d, 0x2b, 0xc1, 0x5e, 0x93, 0x06, 0x4f, 0xb8, 0xd2, 0x71, 0x1a,
    0xe7, 0x3c, 0x95, 0x60, 0x0b, 0xdf, 0x48, 0x26, 0x84, 0xf1, 0x5a, 0xc3, 0x17, 0x9e, 0x62, 0x2d,
];
/// TEST-ONLY initial attestation key (IAK) that signs the platform token, big-endian.
const PLATFORM_KEY: [u8; 48] = [
    0x5b, 0x21, 0x8e, 0xc4, 0x0f, 0x73, 0xa9, 0x36, 0xd2, 0x4e, 0x91, 0x08, 0x6c, 0xf5, 0x2a, 0xb7,
    0x13, 0xe0, 0x59, 0x8d, 0x44, 0xca, 0x7f, 0x02, 0xbe, 0x65, 0x38, 0xd9, 0x1c, 0xa3, 0x70, 0x4b,
    0xe8, 0x26, 0x95, 0x0d, 0xf3, 0x5c, 0x81, 0x3a, 0xc7, 0x14, 0x6f, 0xd0, 0x29, 0xb6, 0x43, 0x9a,
];

const TOKEN_MAX: usize = 2048;

struct TokenCache {
    challenge: [u8; 64],
    challenge_len: usize,
    token: [u8; TOKEN_MAX],
    len: usize,
    cursor: usize,
}

static CACHE: Lock<TokenCache> = Lock::new(TokenCache {
    challenge: [0; 64],
    challenge_len: 0,
    token: [0; TOKEN_MAX],
    len: 0,
    cursor: 0,
});

/// Checks x1/x2 name (a prefix of) the shared buffer.
fn check_buffer(pa: u64, size: u64) -> bool {
    pa == shared_buf() && size != 0 && size <= GRANULE_SIZE
}

/// Copies `src` to the shared buffer at `offset` through EL3's Realm-PAS mapping and cleans
/// it to the point of coherency, as the RMM reads it with its own mapping.
fn write_shared(offset: usize, src: &[u8]) {
    let dst = shared_buf() as usize + offset;
    debug_assert!(offset + src.len() <= GRANULE_SIZE as usize);
    // SAFETY: the shared buffer page is mapped RW in the Realm PAS by mmu.rs and is Realm in
    // the GPT; callers keep offset + len within its 4 KiB. The RMM does not touch it during
    // the call (it serialises the buffer and waits for our SMC return).
    unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst as *mut u8, src.len()) };
    clean(dst as u64, src.len() as u64);
}

fn read_shared(dst: &mut [u8]) {
    // SAFETY: as in `write_shared`; `dst.len() <= 64`.
    unsafe {
        core::ptr::copy_nonoverlapping(shared_buf() as *const u8, dst.as_mut_ptr(), dst.len())
    };
}

/// DC CVAC over `[va, va + len)` then DSB.
fn clean(va: u64, len: u64) {
    let line = 4u64 << ((rmm_arch::read_sysreg!("ctr_el0") >> 16) & 0xf);
    let mut a = va & !(line - 1);
    while a < va + len {
        // SAFETY: cleaning a mapped line to PoC does not change its contents.
        unsafe { core::arch::asm!("dc cvac, {}", in(reg) a, options(nostack)) };
        a += line;
    }
    // SAFETY: barrier only.
    unsafe { core::arch::asm!("dsb sy", options(nostack)) };
}

/// RMM_ATTEST_GET_REALM_KEY: x1 buffer PA, x2 size, x3 curve -> x0 status, x1 key size.
pub fn get_realm_key(x: &mut [u64; 31]) {
    let (pa, size, curve) = (x[1], x[2], x[3]);
    if !check_buffer(pa, size) || curve != 0 || size < REALM_KEY.len() as u64 {
        x[0] = INVAL;
        return;
    }
    write_shared(0, &REALM_KEY);
    x[0] = OK;
    x[1] = REALM_KEY.len() as u64;
}

/// Builds and signs the token for `challenge` into `cache`.
fn build(cache: &mut TokenCache, challenge: &[u8]) -> bool {
    let mut payload = [0u8; 1024];
    let mut tbs = [0u8; 1200];
    let Some(plen) = token::claims(challenge, &mut payload) else {
        return false;
    };
    let payload = &payload[..plen];
    let Some(tlen) = token::sig_structure(payload, &mut tbs) else {
        return false;
    };
    let Ok(key) = SigningKey::from_slice(&PLATFORM_KEY) else {
        return false;
    };
    let sig: Signature = key.sign(&tbs[..tlen]);
    let sig = sig.to_bytes();
    let Some(len) = token::cose_sign1(payload, &sig, &mut cache.token) else {
        return false;
    };
    cache.challenge[..challenge.len()].copy_from_slice(challenge);
    cache.challenge_len = challenge.len();
    cache.len = len;
    true
}

/// RMM_ATTEST_GET_PLAT_TOKEN: x1 buffer PA, x2 size, x3 challenge size -> x0 status, x1 hunk
/// size, x2 remaining.
pub fn get_plat_token(x: &mut [u64; 31]) {
    let (pa, size, csize) = (x[1], x[2], x[3]);
    if !check_buffer(pa, size) {
        x[0] = INVAL;
        return;
    }
    let mut cache = CACHE.lock();
    if csize != 0 {
        if !matches!(csize, 32 | 48 | 64) {
            x[0] = INVAL;
            return;
        }
        let mut challenge = [0u8; 64];
        let challenge = &mut challenge[..csize as usize];
        read_shared(challenge);
        let cached =
            cache.len != 0 && cache.challenge.get(..cache.challenge_len) == Some(challenge);
        if !cached {
            cache.len = 0;
            if !build(&mut cache, challenge) {
                cache.len = 0;
                x[0] = NOMEM;
                return;
            }
        }
        cache.cursor = 0;
    } else if cache.len == 0 || cache.cursor >= cache.len {
        x[0] = INVAL;
        return;
    }
    let start = cache.cursor;
    let n = (cache.len - start).min(size as usize);
    write_shared(0, &cache.token[start..start + n]);
    cache.cursor += n;
    x[0] = OK;
    x[1] = n as u64;
    x[2] = (cache.len - cache.cursor) as u64;
}
