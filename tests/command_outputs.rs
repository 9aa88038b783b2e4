//! Spec B1.2: "On return from an RMI or RSI command, any of X0 - X16 which are not specified as
//! output values in the command definition MBZ" (issue 14, item 5). Every command is called with
//! a marker in every register it does not read; what comes back must be its outputs and zeros.
//! RMI calls are seen as the Normal world sees them: the RMM's result through our EL3's
//! forwarding ([`rmm_arch::el3::rmi_return`]), x0..x16.

mod common;
use common::realm::*;
use common::*;
use rmm::rmi::params::RecExitReason;
use rmm::rmi::Command;

/// The marker for register `n`.
const fn marker(n: usize) -> u64 {
    0x5a5a_0000_0000_0000 | n as u64
}

/// `args` in x1.., markers in the other registers up to x16.
fn with_markers(fid: u64, args: &[u64]) -> [u64; 17] {
    let mut x = std::array::from_fn(marker);
    x[0] = fid;
    x[1..=args.len()].copy_from_slice(args);
    x
}

/// An RMI call on CPU 0 as the Normal world makes it and sees its return: the RMM gets x0..x7,
/// and its result reaches the caller through the RMM image (x0..x6 as the RMM's x1..x7 at
/// RMM_RMI_REQ_COMPLETE) and EL3.
fn ns_call(m: &rmm::host::Machine, x: [u64; 17]) -> [u64; 17] {
    let r = m.smc(0, x[..8].try_into().unwrap());
    rmm_arch::el3::rmi_return(&r[..7].try_into().unwrap(), &x)
}

/// x0..x16 after `x`: registers past the command's `outputs` (x1..) must be zero.
#[track_caller]
fn assert_outputs_only(what: &str, out: &[u64; 17], outputs: usize) {
    for (n, &value) in out.iter().enumerate().skip(1 + outputs) {
        assert_eq!(value, 0, "{what}: x{n} is not an output ({out:#x?})");
    }
}

#[test]
fn every_rmi_command_returns_zero_in_what_it_does_not_output() {
    let m = machine();
    let mut g = Granules::new();
    let realm = new_realm(&m, &mut g);
    // Successful calls, markers in the registers they do not read.
    let data = g.ns();
    let ok: [(u64, Vec<u64>, usize); 6] = [
        (RMI_VERSION, vec![0x1_0000], 2),
        (RMI_FEATURES, vec![0], 1),
        (RMI_GRANULE_DELEGATE, vec![data], 0),
        (RMI_GRANULE_UNDELEGATE, vec![data], 0),
        (RMI_REC_AUX_COUNT, vec![realm.rd], 1),
        (RMI_RTT_READ_ENTRY, vec![realm.rd, 0, 1], 4),
    ];
    for (fid, args, outputs) in ok {
        let out = ns_call(&m, with_markers(fid, &args));
        assert_eq!(out[0], SUCCESS, "{fid:#x}");
        assert_outputs_only(&format!("{fid:#x}"), &out, outputs);
    }
    // An RTT walk that fails reports its level and top; nothing else.
    let out = ns_call(
        &m,
        with_markers(RMI_RTT_DESTROY, &[realm.rd, 0x4000_0000, 3]),
    );
    assert_eq!(out[0], error_rtt(1));
    assert_outputs_only("RMI_RTT_DESTROY", &out, 2);
    for command in Command::all() {
        // Markers everywhere: every command fails its first check, or ignores what it does not
        // read.
        let fid = u64::from(command.fid());
        let out = ns_call(&m, with_markers(fid, &[]));
        assert_outputs_only(command.name(), &out, command.output_count());
        // The RD where a command takes one first (REALM_DESTROY destroys it on the way).
        let out = ns_call(&m, with_markers(fid, &[realm.rd]));
        assert_outputs_only(command.name(), &out, command.output_count());
    }
}

/// A function ID in the RMI range that is no command: SMCCC_NOT_SUPPORTED, and the registers
/// SMCCC 1.2 has a callee preserve (x4..x17) keep the caller's values: B1.2 is about commands.
#[test]
fn unknown_rmi_function_keeps_what_smccc_preserves() {
    let m = machine();
    let x = with_markers(0xC400_0156, &[]);
    let out = ns_call(&m, x);
    assert_eq!(out[0], NOT_SUPPORTED);
    assert_eq!(out[1..4], [0; 3]);
    assert_eq!(out[4..], x[4..]);
}

// ---------------------------------------------------------------------------------------------
// RSI

const RSI_VERSION: u64 = 0xC400_0190;
const RSI_FEATURES: u64 = 0xC400_0191;
const RSI_MEASUREMENT_READ: u64 = 0xC400_0192;
const RSI_MEASUREMENT_EXTEND: u64 = 0xC400_0193;
const RSI_ATTESTATION_TOKEN_INIT: u64 = 0xC400_0194;
const RSI_ATTESTATION_TOKEN_CONTINUE: u64 = 0xC400_0195;
const RSI_REALM_CONFIG: u64 = 0xC400_0196;
const RSI_IPA_STATE_SET: u64 = 0xC400_0197;
const RSI_IPA_STATE_GET: u64 = 0xC400_0198;
const RSI_HOST_CALL: u64 = 0xC400_0199;

/// The realm's x0..x16 when it next runs.
fn realm_x(w: &RealmWorld, rec: u64) -> [u64; 17] {
    w.last(rec).gprs[..17].try_into().unwrap()
}

/// REC 0 calls `fid` with `args` and markers up to x16; the command answers at once. Returns
/// the realm's x0..x16 after it.
fn rsi(w: &RealmWorld, fid: u64, args: &[u64]) -> [u64; 17] {
    let rec = w.rec(0);
    let exit = w.run(rec, vec![Step::Smc(with_markers(fid, args).to_vec())]);
    assert_eq!(
        exit.exit_reason,
        RecExitReason::Irq,
        "{fid:#x} answered at once"
    );
    realm_x(w, rec)
}

#[test]
fn every_rsi_command_returns_zero_in_what_it_does_not_output() {
    let w = RealmWorld::new(&[true]);
    let value = [1, 2, 3, 4, 5, 6, 7, 8];
    let mut extend = vec![1, 64];
    extend.extend(value);
    let cases: Vec<(&str, u64, Vec<u64>, usize)> = vec![
        ("RSI_VERSION", RSI_VERSION, vec![0x1_0000], 2),
        ("RSI_VERSION (2.0)", RSI_VERSION, vec![0x2_0000], 2),
        ("RSI_FEATURES", RSI_FEATURES, vec![0], 1),
        ("RSI_MEASUREMENT_READ", RSI_MEASUREMENT_READ, vec![0], 8),
        (
            "RSI_MEASUREMENT_READ (bad)",
            RSI_MEASUREMENT_READ,
            vec![9],
            8,
        ),
        ("RSI_MEASUREMENT_EXTEND", RSI_MEASUREMENT_EXTEND, extend, 0),
        ("RSI_REALM_CONFIG", RSI_REALM_CONFIG, vec![DATA], 0),
        (
            "RSI_REALM_CONFIG (bad)",
            RSI_REALM_CONFIG,
            vec![DATA + 8],
            0,
        ),
        (
            "RSI_IPA_STATE_GET",
            RSI_IPA_STATE_GET,
            vec![DATA, DATA + GRANULE],
            2,
        ),
        (
            "RSI_IPA_STATE_SET (bad)",
            RSI_IPA_STATE_SET,
            vec![1, 0, 7, 0],
            2,
        ),
        ("RSI_HOST_CALL (bad)", RSI_HOST_CALL, vec![DATA + 8], 0),
        (
            "RSI_ATTESTATION_TOKEN_INIT",
            RSI_ATTESTATION_TOKEN_INIT,
            value.to_vec(),
            1,
        ),
        (
            "RSI_ATTESTATION_TOKEN_CONTINUE",
            RSI_ATTESTATION_TOKEN_CONTINUE,
            vec![DATA, 0, 64],
            1,
        ),
        (
            "RSI_ATTESTATION_TOKEN_CONTINUE (bad)",
            RSI_ATTESTATION_TOKEN_CONTINUE,
            vec![DATA + 8, 0, 64],
            1,
        ),
    ];
    for (what, fid, args, outputs) in cases {
        let out = rsi(&w, fid, &args);
        assert_outputs_only(what, &out, outputs);
    }
}

/// RSI_IPA_STATE_SET and RSI_HOST_CALL exit to the host and complete at the next REC entry:
/// the realm then finds their outputs and zeros.
#[test]
fn rsi_commands_completed_on_entry_return_zero_in_what_they_do_not_output() {
    let w = RealmWorld::new(&[true]);
    let rec = w.rec(0);
    let set = with_markers(RSI_IPA_STATE_SET, &[RAM_HOLE, RAM_HOLE + GRANULE, 0, 0]);
    let exit = w.run(rec, vec![Step::Smc(set.to_vec())]);
    assert_eq!(exit.exit_reason, RecExitReason::RipasChange);
    w.run(rec, vec![]);
    let out = realm_x(&w, rec);
    assert_eq!(out[..3], [0, RAM_HOLE, 0], "RSI_SUCCESS, new_base, ACCEPT");
    assert_outputs_only("RSI_IPA_STATE_SET", &out, 2);

    let call = with_markers(RSI_HOST_CALL, &[DATA]);
    let exit = w.run(rec, vec![Step::Smc(call.to_vec())]);
    assert_eq!(exit.exit_reason, RecExitReason::HostCall);
    w.run(rec, vec![]);
    let out = realm_x(&w, rec);
    assert_eq!(out[0], 0, "RSI_SUCCESS");
    assert_outputs_only("RSI_HOST_CALL", &out, 0);
}
