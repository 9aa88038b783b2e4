//! RSI_ATTESTATION_TOKEN_INIT and _CONTINUE (spec B5.3.2, B5.3.1) called by a simulated realm:
//! every CONTINUE failure condition by its ID, the whole token as the realm reads it, and
//! interrupted generation resumed on another CPU (A7.2.2).

mod common;
use common::realm::*;
use common::*;
use rmm::attestation::{token, RealmClaims};
use rmm::measurement::{HashAlgorithm, Measurement};
use rmm::platform::Platform;
use rmm::realm::Rd;
use rmm::rec::esr;
use rmm::rmi::params::RecExitReason;

const INIT: u64 = 0xC400_0194;
const CONTINUE: u64 = 0xC400_0195;
const RSI_SUCCESS: u64 = 0;
const RSI_ERROR_INPUT: u64 = 1;
const RSI_ERROR_STATE: u64 = 2;
const RSI_INCOMPLETE: u64 = 3;
const RSI_ERROR_UNKNOWN: u64 = 4;

const CHALLENGE: [u64; 8] = [0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7];

/// The token REC 0 of `w` must get for CHALLENGE, computed on the side.
fn expected_token(w: &RealmWorld) -> Vec<u8> {
    let rd = Rd::new(w.m.rmm().platform().granule(w.rd));
    let m = |i| Measurement::from_bytes(rd.measurement(i));
    let challenge = rmm::attestation::challenge_from_words(&CHALLENGE);
    let claims = RealmClaims {
        challenge: &challenge,
        personalization: &rd.rpv(),
        rim: &m(0),
        rems: &[m(1), m(2), m(3), m(4)],
        hash_algo: HashAlgorithm::Sha256,
    };
    token(w.m.rmm().attestation().unwrap(), &claims).unwrap()
}

/// REC 0 calls RSI_ATTESTATION_TOKEN_INIT: the size it returns.
fn init(w: &RealmWorld) -> u64 {
    let mut regs = vec![INIT];
    regs.extend_from_slice(&CHALLENGE);
    let out = w.call(&regs);
    assert_eq!(out[0], RSI_SUCCESS);
    out[1]
}

/// REC 0 calls RSI_ATTESTATION_TOKEN_CONTINUE, answered at once: (x0, x1).
fn cont(w: &RealmWorld, addr: u64, offset: u64, size: u64) -> [u64; 2] {
    let out = w.call(&[CONTINUE, addr, offset, size]);
    [out[0], out[1]]
}

/// Reads the token as the spec's example loop does (A7.2.2), one granule of DATA at a time,
/// `chunk` bytes per call.
fn read_token(w: &RealmWorld, chunk: u64) -> Vec<u8> {
    let mut token = vec![];
    let mut granule = DATA;
    loop {
        let mut offset = 0;
        let mut result;
        loop {
            let size = chunk.min(GRANULE - offset);
            let [x0, len] = cont(w, granule, offset, size);
            result = x0;
            assert!(x0 == RSI_SUCCESS || x0 == RSI_INCOMPLETE, "x0 {x0}");
            assert!(len <= size);
            offset += len;
            if result != RSI_INCOMPLETE || offset == GRANULE {
                break;
            }
        }
        let mut bytes = vec![0u8; offset as usize];
        w.read_data(granule, &mut bytes);
        token.extend_from_slice(&bytes);
        if result != RSI_INCOMPLETE {
            return token;
        }
        granule += GRANULE;
    }
}

#[test]
fn rsi_attestation_token_whole_token() {
    let w = RealmWorld::new(&[true]);
    let expected = expected_token(&w);
    assert_eq!(init(&w), expected.len() as u64);
    assert_eq!(read_token(&w, GRANULE), expected);
    // The operation is over.
    assert_eq!(cont(&w, DATA, 0, 8), [RSI_ERROR_STATE, 0]);
    // Again, in small pieces, after a new INIT that ends the first part-way.
    init(&w);
    assert_eq!(cont(&w, DATA, 0, 100)[0], RSI_INCOMPLETE);
    init(&w);
    assert_eq!(read_token(&w, 1000), expected);
}

#[test]
fn rsi_attestation_token_continue_addr_align() {
    let w = RealmWorld::new(&[true]);
    init(&w);
    for addr in [DATA + 8, DATA + 0x800, DATA + 1] {
        assert_eq!(cont(&w, addr, 0, 64), [RSI_ERROR_INPUT, 0]);
    }
    assert_eq!(
        read_token(&w, GRANULE),
        expected_token(&w),
        "the operation goes on"
    );
}

#[test]
fn rsi_attestation_token_continue_addr_bound() {
    let w = RealmWorld::new(&[true]);
    init(&w);
    for addr in [UNPROTECTED, 1 << 39, !0xfff] {
        assert_eq!(cont(&w, addr, 0, 64), [RSI_ERROR_INPUT, 0]);
    }
    assert_eq!(read_token(&w, GRANULE), expected_token(&w));
}

#[test]
fn rsi_attestation_token_continue_offset_bound() {
    let w = RealmWorld::new(&[true]);
    init(&w);
    for offset in [GRANULE, GRANULE + 1, u64::MAX / 2] {
        assert_eq!(cont(&w, DATA, offset, 0), [RSI_ERROR_INPUT, 0]);
    }
    assert_eq!(read_token(&w, GRANULE), expected_token(&w));
}

#[test]
fn rsi_attestation_token_continue_size_overflow() {
    let w = RealmWorld::new(&[true]);
    init(&w);
    for (offset, size) in [(1, u64::MAX), (0xfff, u64::MAX - 0xffe)] {
        assert_eq!(cont(&w, DATA, offset, size), [RSI_ERROR_INPUT, 0]);
    }
    assert_eq!(read_token(&w, GRANULE), expected_token(&w));
}

#[test]
fn rsi_attestation_token_continue_size_bound() {
    let w = RealmWorld::new(&[true]);
    init(&w);
    for (offset, size) in [(0, GRANULE + 1), (0x800, 0x801), (0xfff, 2)] {
        assert_eq!(cont(&w, DATA, offset, size), [RSI_ERROR_INPUT, 0]);
    }
    assert_eq!(read_token(&w, GRANULE), expected_token(&w));
}

#[test]
fn rsi_attestation_token_continue_state() {
    let w = RealmWorld::new(&[true, true]);
    // Never initialised.
    assert_eq!(cont(&w, DATA, 0, 64), [RSI_ERROR_STATE, 0]);
    // An operation is per REC: REC 1 has none while REC 0 has one.
    init(&w);
    let out = w.call_on(1, &[CONTINUE, DATA, 0, 64]);
    assert_eq!(out[..2], [RSI_ERROR_STATE, 0]);
    assert_eq!(read_token(&w, GRANULE), expected_token(&w));
    assert_eq!(cont(&w, DATA, 0, 64), [RSI_ERROR_STATE, 0]);
}

#[test]
fn rsi_attestation_token_continue_unknown() {
    let w = RealmWorld::new(&[true]);
    init(&w);
    // The saved operation is damaged (bytes 8..12: the token length, now past the buffer):
    // the token cannot be made, and the operation ends.
    let scratch = w.st(w.rec(0)).aux().nth(1).unwrap();
    let word = &w.m.rmm().platform().granule(scratch)[1];
    word.store(0xffff_ffff, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(cont(&w, DATA, 0, 64), [RSI_ERROR_UNKNOWN, 0]);
    assert_eq!(cont(&w, DATA, 0, 64), [RSI_ERROR_STATE, 0]);
    // A new INIT starts afresh.
    init(&w);
    assert_eq!(read_token(&w, GRANULE), expected_token(&w));
}

#[test]
fn rsi_attestation_token_interrupted_resumes_on_another_cpu() {
    let w = RealmWorld::new(&[true]);
    init(&w);
    let rec = w.rec(0);
    for (cpu, interrupts) in [(0, 1), (3, 3)] {
        // Each check that finds an interrupt stops one CONTINUE.
        w.m.pend_interrupt(interrupts);
        for _ in 0..interrupts {
            let exit = w.run_on(cpu, rec, vec![Step::Smc(vec![CONTINUE, DATA, 0, GRANULE])]);
            assert_eq!(exit.exit_reason, RecExitReason::Irq);
            assert_eq!((exit.esr, exit.gprs), (0, [0; 31]));
            // On the next entry (here on CPU 5) the realm sees RSI_INCOMPLETE, nothing copied.
            w.run_on(5, rec, vec![]);
            let seen = w.last(rec);
            assert_eq!(
                (seen.cpu, seen.gprs[0], seen.gprs[1]),
                (5, RSI_INCOMPLETE, 0)
            );
        }
    }
    assert_eq!(read_token(&w, GRANULE), expected_token(&w));
}

#[test]
fn rsi_attestation_token_buffer_not_mapped() {
    let w = RealmWorld::new(&[true]);
    init(&w);
    assert_eq!(cont(&w, EMPTY_IPA, 0, 64), [RSI_ERROR_INPUT, 0]);
    let rec = w.rec(0);
    let pc = w.st(rec).pc();
    let exit = w.run(rec, vec![Step::Smc(vec![CONTINUE, RAM_HOLE, 0x100, 64])]);
    assert_eq!(exit.exit_reason, RecExitReason::Sync);
    assert_eq!(esr::ec(exit.esr), esr::EC_DABT_LOWER);
    assert_eq!(exit.hpfar, rmm::rec::hpfar(RAM_HOLE));
    assert_eq!(w.st(rec).pc(), pc, "the SMC is made again");
    // Nothing was lost.
    assert_eq!(read_token(&w, GRANULE), expected_token(&w));
}
