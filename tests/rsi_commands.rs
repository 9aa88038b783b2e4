//! RSI commands (spec B5.3) called by a simulated realm: every failure condition by its ID, and
//! what each command returns and writes on success.

mod common;
use common::realm::*;
use common::*;
use rmm::measurement::{rem_extend, HashAlgorithm, Measurement};
use rmm::platform::Platform;
use rmm::realm::Rd;
use rmm::rec::esr;
use rmm::rmi::params::{RecExitReason, RmiRipas};

const RSI_VERSION: u64 = 0xC400_0190;
const RSI_FEATURES: u64 = 0xC400_0191;
const RSI_MEASUREMENT_READ: u64 = 0xC400_0192;
const RSI_MEASUREMENT_EXTEND: u64 = 0xC400_0193;
const RSI_REALM_CONFIG: u64 = 0xC400_0196;
const RSI_IPA_STATE_SET: u64 = 0xC400_0197;
const RSI_IPA_STATE_GET: u64 = 0xC400_0198;
const RSI_HOST_CALL: u64 = 0xC400_0199;

const RSI_SUCCESS: u64 = 0;
const RSI_ERROR_INPUT: u64 = 1;
const RSI_EMPTY: u64 = 0;
const RSI_RAM: u64 = 1;
const RSI_DESTROYED: u64 = 2;

fn world() -> RealmWorld {
    RealmWorld::new(&[true, true])
}

/// The realm's measurement `i` as its RD holds it.
fn measurement(w: &RealmWorld, i: usize) -> [u8; 64] {
    Rd::new(w.m.rmm().platform().granule(w.rd)).measurement(i)
}

// ---------------------------------------------------------------------------------------------
// RSI_VERSION, RSI_FEATURES

#[test]
fn rsi_version_negotiates_1_0() {
    let w = world();
    assert_eq!(
        w.call(&[RSI_VERSION, 0x1_0000])[..3],
        [RSI_SUCCESS, 0x1_0000, 0x1_0000]
    );
    // A later minor or major revision: not compatible; the lower is the highest below it.
    assert_eq!(
        w.call(&[RSI_VERSION, 0x1_0001])[..3],
        [RSI_ERROR_INPUT, 0x1_0000, 0x1_0000]
    );
    assert_eq!(
        w.call(&[RSI_VERSION, 0x2_0000])[..3],
        [RSI_ERROR_INPUT, 0x1_0000, 0x1_0000]
    );
    // An earlier one: the lower is the higher.
    assert_eq!(
        w.call(&[RSI_VERSION, 0x0_0005])[..3],
        [RSI_ERROR_INPUT, 0x1_0000, 0x1_0000]
    );
    // The SVE hint bit in the FID changes nothing (SMCCC 1.3).
    let hinted = RSI_VERSION | 1 << 16;
    assert_eq!(
        w.call(&[hinted, 0x1_0000])[..3],
        [RSI_SUCCESS, 0x1_0000, 0x1_0000]
    );
}

#[test]
fn rsi_features_reads_zero() {
    let w = world();
    for index in [0, 1, u64::MAX] {
        assert_eq!(w.call(&[RSI_FEATURES, index, 0xff])[..2], [RSI_SUCCESS, 0]);
    }
}

#[test]
fn unknown_smc_is_not_supported() {
    let w = world();
    for fid in [0xC400_019A, 0xC400_01AF, 0x8200_0000, 0xC500_0190] {
        assert_eq!(w.call(&[fid, 1, 2])[0], u64::MAX, "{fid:#x}");
    }
}

// ---------------------------------------------------------------------------------------------
// RSI_MEASUREMENT_READ, RSI_MEASUREMENT_EXTEND

#[test]
fn rsi_measurement_read_index_bound() {
    let w = world();
    for index in [5, 6, u64::MAX] {
        let out = w.call(&[RSI_MEASUREMENT_READ, index, 7, 7, 7, 7, 7, 7, 7, 7]);
        assert_eq!(out[0], RSI_ERROR_INPUT);
    }
    // Index 0 is the RIM, 4 the last REM (zero until extended).
    let rim = Measurement::from_bytes(measurement(&w, 0)).to_words();
    assert_ne!(rim, [0; 8]);
    let out = w.call(&[RSI_MEASUREMENT_READ, 0]);
    assert_eq!((out[0], &out[1..9]), (RSI_SUCCESS, &rim[..]));
    let out = w.call(&[RSI_MEASUREMENT_READ, 4, 9, 9, 9, 9, 9, 9, 9, 9]);
    assert_eq!(out[..9], [RSI_SUCCESS, 0, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn rsi_measurement_extend_index_bound() {
    let w = world();
    let before: Vec<_> = (0..5).map(|i| measurement(&w, i)).collect();
    for index in [0, 5, u64::MAX] {
        let out = w.call(&[RSI_MEASUREMENT_EXTEND, index, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(out[0], RSI_ERROR_INPUT, "index {index}");
    }
    let after: Vec<_> = (0..5).map(|i| measurement(&w, i)).collect();
    assert_eq!(before, after, "no measurement changed");
}

#[test]
fn rsi_measurement_extend_size_bound() {
    let w = world();
    for size in [65, 4096, u64::MAX] {
        let out = w.call(&[RSI_MEASUREMENT_EXTEND, 1, size, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(out[0], RSI_ERROR_INPUT, "size {size}");
    }
    assert_eq!(measurement(&w, 1), [0; 64]);
}

#[test]
fn rsi_measurement_extend_then_read() {
    let w = world();
    let value = [0x0102_0304_0506_0708, 2, 3, 4, 5, 6, 7, 8];
    let mut expected = Measurement::ZERO;
    for size in [64, 3, 0] {
        let mut regs = vec![RSI_MEASUREMENT_EXTEND, 2, size];
        regs.extend_from_slice(&value);
        assert_eq!(w.call(&regs)[0], RSI_SUCCESS);
        let v = Measurement::from_words(value);
        rem_extend(HashAlgorithm::Sha256, &mut expected, &v, size).unwrap();
    }
    assert_eq!(measurement(&w, 2), *expected.as_bytes());
    let out = w.call(&[RSI_MEASUREMENT_READ, 2]);
    assert_eq!(out[1..9], expected.to_words());
    // Past the SHA-256 digest the value is zero padded.
    assert_eq!(out[5..9], [0; 4]);
    // The other REMs are untouched, and another REC of the realm sees the same value.
    assert_eq!(measurement(&w, 1), [0; 64]);
    assert_eq!(
        w.call_on(1, &[RSI_MEASUREMENT_READ, 2])[1..9],
        expected.to_words()
    );
}

// ---------------------------------------------------------------------------------------------
// RSI_REALM_CONFIG

/// Fills the DATA page at `ipa` with 0xee, to see what the RMM writes over it.
fn scribble(w: &RealmWorld, rec: u64, ipa: u64) {
    w.run(rec, vec![Step::Write(ipa, vec![0xee; 4096])]);
}

#[test]
fn rsi_realm_config_addr_align() {
    let w = world();
    scribble(&w, w.rec(0), DATA);
    for addr in [DATA + 8, DATA + 0x800, DATA + 1] {
        assert_eq!(w.call(&[RSI_REALM_CONFIG, addr])[0], RSI_ERROR_INPUT);
    }
    let mut page = [0u8; 4096];
    w.read_data(DATA, &mut page);
    assert!(page.iter().all(|&b| b == 0xee), "nothing written");
}

#[test]
fn rsi_realm_config_addr_bound() {
    let w = world();
    for addr in [UNPROTECTED, UNPROTECTED + 0x1000, 1 << 39, !0xfff] {
        assert_eq!(
            w.call(&[RSI_REALM_CONFIG, addr])[0],
            RSI_ERROR_INPUT,
            "{addr:#x}"
        );
    }
}

#[test]
fn rsi_realm_config_writes_the_configuration() {
    let w = world();
    scribble(&w, w.rec(0), DATA + GRANULE);
    assert_eq!(w.call(&[RSI_REALM_CONFIG, DATA + GRANULE])[0], RSI_SUCCESS);
    let mut page = [0u8; 4096];
    w.read_data(DATA + GRANULE, &mut page);
    assert_eq!(
        u64::from_le_bytes(page[..8].try_into().unwrap()),
        39,
        "ipa_width"
    );
    assert_eq!(page[8], 0, "hash_algo: RSI_HASH_SHA_256");
    assert_eq!(page[0x200..0x240], [0x11; 64], "rpv");
    let unused = page[9..0x200].iter().chain(&page[0x240..]);
    assert!(unused.into_iter().all(|&b| b == 0), "MBZ");
}

#[test]
fn rsi_realm_config_memory_not_mapped() {
    let w = world();
    // RIPAS EMPTY: the realm gave the memory away.
    assert_eq!(w.call(&[RSI_REALM_CONFIG, EMPTY_IPA])[0], RSI_ERROR_INPUT);
    // RIPAS RAM with nothing assigned, and DESTROYED: a REC exit due to Data Abort at the IPA,
    // with the SMC to be made again.
    for ipa in [RAM_HOLE, DEAD] {
        let rec = w.rec(0);
        let pc = w.st(rec).pc();
        let exit = w.run(rec, vec![Step::Smc(vec![RSI_REALM_CONFIG, ipa])]);
        assert_eq!(exit.exit_reason, RecExitReason::Sync);
        assert_eq!(esr::ec(exit.esr), esr::EC_DABT_LOWER);
        assert_eq!(exit.esr & esr::FSC_MASK, esr::fsc_translation(3));
        assert_eq!((exit.hpfar, exit.far), (rmm::rec::hpfar(ipa), 0));
        assert_eq!(exit.gprs, [0; 31]);
        assert_eq!(w.st(rec).pc(), pc, "PC at the SMC");
        assert_eq!(w.st(rec).gpr(0), RSI_REALM_CONFIG);
        // Emulated MMIO is refused: the abort was not emulatable.
        assert_eq!(w.enter_with(0, rec, 1, [0; 31]).0, ERROR_REC);
    }
}

// ---------------------------------------------------------------------------------------------
// RSI_IPA_STATE_GET

/// [base, top) for the RSI_IPA_STATE_GET / _SET range conditions, with the offending field.
fn bad_ranges(align: bool) -> Vec<(u64, u64)> {
    let g = GRANULE;
    match align {
        true => vec![(DATA + 1, DATA + g), (DATA + 0x800, DATA + 2 * g)],
        false => vec![(DATA, DATA + g + 8), (DATA, DATA + 0x1800)],
    }
}

#[test]
fn rsi_ipa_state_get_base_align() {
    let w = world();
    for (base, top) in bad_ranges(true) {
        assert_eq!(w.call(&[RSI_IPA_STATE_GET, base, top])[0], RSI_ERROR_INPUT);
    }
}

#[test]
fn rsi_ipa_state_get_end_align() {
    let w = world();
    for (base, top) in bad_ranges(false) {
        assert_eq!(w.call(&[RSI_IPA_STATE_GET, base, top])[0], RSI_ERROR_INPUT);
    }
}

#[test]
fn rsi_ipa_state_get_size_valid() {
    let w = world();
    for (base, top) in [(DATA, DATA), (DATA + GRANULE, DATA)] {
        assert_eq!(w.call(&[RSI_IPA_STATE_GET, base, top])[0], RSI_ERROR_INPUT);
    }
}

#[test]
fn rsi_ipa_state_get_rgn_bound() {
    let w = world();
    let g = GRANULE;
    for (base, top) in [
        (UNPROTECTED - g, UNPROTECTED + g),
        (UNPROTECTED, UNPROTECTED + g),
        (0, 1 << 39),
    ] {
        assert_eq!(w.call(&[RSI_IPA_STATE_GET, base, top])[0], RSI_ERROR_INPUT);
    }
}

#[test]
fn rsi_ipa_state_get_reports_runs() {
    let w = world();
    let g = GRANULE;
    let get = |base: u64, top: u64| {
        let out = w.call(&[RSI_IPA_STATE_GET, base, top, 0xff]);
        assert_eq!(out[0], RSI_SUCCESS);
        [out[1], out[2]]
    };
    // The four DATA pages are RAM; the run stops where EMPTY begins, or at top.
    assert_eq!(get(DATA, L3 + 0x10_0000), [DATA + 4 * g, RSI_RAM]);
    assert_eq!(get(DATA + g, DATA + 2 * g), [DATA + 2 * g, RSI_RAM]);
    assert_eq!(get(DEAD, DATA + 2 * g), [DATA, RSI_DESTROYED]);
    assert_eq!(get(RAM_HOLE, RAM_HOLE + 8 * g), [RAM_HOLE + 2 * g, RSI_RAM]);
    assert_eq!(
        get(EMPTY_IPA, EMPTY_IPA + 4 * g),
        [EMPTY_IPA + 4 * g, RSI_EMPTY]
    );
    // A level-1 entry of a 39-bit space with no tables below: EMPTY up to top.
    assert_eq!(get(0x8000_0000, 0xC000_0000), [0xC000_0000, RSI_EMPTY]);
    // At most the last-level table: EMPTY from L3 + 0x20000 to the end of its RTT.
    assert_eq!(get(EMPTY_IPA, 1 << 37), [L3 + 0x20_0000, RSI_EMPTY]);
}

// ---------------------------------------------------------------------------------------------
// RSI_IPA_STATE_SET

/// RSI_IPA_STATE_SET is answered at once with RSI_ERROR_INPUT, and nothing is pending.
fn set_refused(w: &RealmWorld, regs: [u64; 4]) {
    let mut call = vec![RSI_IPA_STATE_SET];
    call.extend_from_slice(&regs);
    assert_eq!(w.call(&call)[0], RSI_ERROR_INPUT, "{regs:x?}");
    assert_eq!(w.st(w.rec(0)).ripas_change().top, 0);
}

#[test]
fn rsi_ipa_state_set_base_align() {
    let w = world();
    for (base, top) in bad_ranges(true) {
        set_refused(&w, [base, top, RSI_RAM, 0]);
    }
}

#[test]
fn rsi_ipa_state_set_top_align() {
    let w = world();
    for (base, top) in bad_ranges(false) {
        set_refused(&w, [base, top, RSI_RAM, 0]);
    }
}

#[test]
fn rsi_ipa_state_set_size_valid() {
    let w = world();
    set_refused(&w, [DATA, DATA, RSI_EMPTY, 0]);
    set_refused(&w, [DATA + GRANULE, DATA, RSI_EMPTY, 0]);
}

#[test]
fn rsi_ipa_state_set_rgn_bound() {
    let w = world();
    set_refused(
        &w,
        [UNPROTECTED - GRANULE, UNPROTECTED + GRANULE, RSI_RAM, 0],
    );
    set_refused(&w, [UNPROTECTED, UNPROTECTED + GRANULE, RSI_EMPTY, 0]);
}

#[test]
fn rsi_ipa_state_set_ripas_valid() {
    let w = world();
    for ripas in [RSI_DESTROYED, 3, 0xff] {
        set_refused(&w, [DATA, DATA + GRANULE, ripas, 0]);
    }
    // Bits 63:8 of X3 are SBZ; the RIPAS is bits 7:0.
    let exit = w.run(
        w.rec(0),
        vec![Step::Smc(vec![
            RSI_IPA_STATE_SET,
            RAM_HOLE,
            RAM_HOLE + GRANULE,
            1 << 8,
            0,
        ])],
    );
    assert_eq!(exit.exit_reason, RecExitReason::RipasChange);
    assert_eq!(exit.ripas_value, RmiRipas::Empty);
}

// ---------------------------------------------------------------------------------------------
// RSI_HOST_CALL

#[test]
fn rsi_host_call_addr_align() {
    let w = world();
    for addr in [DATA + 8, DATA + 0x80, DATA + 0x101] {
        assert_eq!(w.call(&[RSI_HOST_CALL, addr])[0], RSI_ERROR_INPUT);
        assert!(!w.st(w.rec(0)).host_call_pending());
    }
}

#[test]
fn rsi_host_call_addr_bound() {
    let w = world();
    for addr in [UNPROTECTED, UNPROTECTED + 0x100, 1 << 40] {
        assert_eq!(w.call(&[RSI_HOST_CALL, addr])[0], RSI_ERROR_INPUT);
        assert!(!w.st(w.rec(0)).host_call_pending());
    }
}

/// An RsiHostCall with immediate `imm` and gprs[i] = base + i.
fn host_call_struct(imm: u16, base: u64) -> Vec<u8> {
    let mut s = vec![0u8; 256];
    s[..2].copy_from_slice(&imm.to_le_bytes());
    for i in 0..31 {
        let v = base + i as u64;
        s[8 + 8 * i..16 + 8 * i].copy_from_slice(&v.to_le_bytes());
    }
    s
}

#[test]
fn rsi_host_call_round_trip() {
    let w = world();
    let rec = w.rec(0);
    let at = DATA + 2 * GRANULE + 0x300;
    let exit = w.run(
        rec,
        vec![
            Step::Write(at, host_call_struct(0xbeef, 0x100)),
            Step::Smc(vec![RSI_HOST_CALL, at]),
        ],
    );
    assert_eq!(exit.exit_reason, RecExitReason::HostCall);
    assert_eq!(exit.imm, 0xbeef);
    assert_eq!(exit.gprs, std::array::from_fn(|i| 0x100 + i as u64));
    assert_eq!((exit.esr, exit.far, exit.hpfar), (0, 0, 0));
    assert!(w.st(rec).host_call_pending());
    // The host answers in enter.gprs; the realm finds them in its RsiHostCall and x0 SUCCESS.
    let answer: [u64; 31] = std::array::from_fn(|i| 0xa000 + i as u64);
    let (x0, exit) = w.enter_with(0, rec, 0, answer);
    assert_eq!((x0, exit.exit_reason), (SUCCESS, RecExitReason::Irq));
    assert!(!w.st(rec).host_call_pending());
    let seen = w.last(rec);
    // x0 is RSI_HOST_CALL's only output: x1..x16 are zero (B1.2).
    assert_eq!(
        (seen.gprs[0], seen.gprs[1], seen.pc),
        (RSI_SUCCESS, 0, PC + 4)
    );
    let mut back = [0u8; 256];
    w.read_data(at, &mut back);
    assert_eq!(back[..2], 0xbeef_u16.to_le_bytes(), "imm untouched");
    let gprs: Vec<u64> = back[8..]
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(gprs, answer.to_vec());
    // Written once: a later entry leaves the structure alone.
    w.run(rec, vec![Step::Write(at + 8, vec![0x55; 8])]);
    w.enter_with(0, rec, 0, [0x77; 31]);
    w.read_data(at + 8, &mut back[..8]);
    assert_eq!(back[..8], [0x55; 8]);
}

#[test]
fn rsi_host_call_memory_not_mapped() {
    let w = world();
    assert_eq!(
        w.call(&[RSI_HOST_CALL, EMPTY_IPA + 0x100])[0],
        RSI_ERROR_INPUT
    );
    let rec = w.rec(0);
    let pc = w.st(rec).pc();
    let exit = w.run(rec, vec![Step::Smc(vec![RSI_HOST_CALL, DEAD + 0x200])]);
    assert_eq!(exit.exit_reason, RecExitReason::Sync);
    assert_eq!(esr::ec(exit.esr), esr::EC_DABT_LOWER);
    assert_eq!(exit.hpfar, rmm::rec::hpfar(DEAD));
    assert!(!w.st(rec).host_call_pending());
    assert_eq!(w.st(rec).pc(), pc, "the SMC is made again");
}

#[test]
fn rsi_host_call_answer_to_unmapped_structure() {
    let w = world();
    let rec = w.rec(0);
    let at = DATA + 3 * GRANULE;
    let exit = w.run(
        rec,
        vec![
            Step::Write(at, host_call_struct(7, 0)),
            Step::Smc(vec![RSI_HOST_CALL, at]),
        ],
    );
    assert_eq!(exit.exit_reason, RecExitReason::HostCall);
    // The host destroys the page before answering: REC exit due to Data Abort there, the
    // realm does not run, and the call stays pending.
    assert_eq!(w.rmi(RMI_DATA_DESTROY, &[w.rd, at])[0], SUCCESS);
    let runs = w.seen(rec).len();
    let (x0, exit) = w.enter_with(0, rec, 0, [9; 31]);
    assert_eq!((x0, exit.exit_reason), (SUCCESS, RecExitReason::Sync));
    assert_eq!(esr::ec(exit.esr), esr::EC_DABT_LOWER);
    assert_eq!(exit.hpfar, rmm::rec::hpfar(at));
    assert_eq!(w.seen(rec).len(), runs, "the realm did not run");
    assert!(w.st(rec).host_call_pending());
    assert_eq!(w.entry(at)[4], RSI_DESTROYED);
}
