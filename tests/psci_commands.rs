//! PSCI from realms (spec B6.3): every failure condition by its ID, what the RMM answers
//! itself, and the REC exits due to PSCI (A4.3.7) with what they leave in the REC and realm.

mod common;
use common::realm::*;
use common::*;
use rmm::platform::Platform;
use rmm::realm::{Rd, RealmState};
use rmm::rmi::params::RecExitReason;

const PSCI_VERSION: u64 = 0x8400_0000;
const CPU_SUSPEND_32: u64 = 0x8400_0001;
const CPU_SUSPEND: u64 = 0xC400_0001;
const CPU_OFF: u64 = 0x8400_0002;
const CPU_ON_32: u64 = 0x8400_0003;
const CPU_ON: u64 = 0xC400_0003;
const AFFINITY_INFO_32: u64 = 0x8400_0004;
const AFFINITY_INFO: u64 = 0xC400_0004;
const SYSTEM_OFF: u64 = 0x8400_0008;
const SYSTEM_RESET: u64 = 0x8400_0009;
const PSCI_FEATURES: u64 = 0x8400_000A;

const SUCCESS_P: u64 = 0;
const NOT_SUPPORTED: u64 = -1i64 as u64;
const INVALID_PARAMETERS: u64 = -2i64 as u64;
const ALREADY_ON: u64 = -4i64 as u64;
const INVALID_ADDRESS: u64 = -9i64 as u64;
const PSCI_OFF: u64 = 1;

/// REC 0 and 2 on, REC 1 and 3 off.
fn world() -> RealmWorld {
    RealmWorld::new(&[true, false, true, false])
}

/// REC 0 makes a PSCI call that exits to the host: the exit.
fn psci_exit(w: &RealmWorld, regs: &[u64]) -> rmm::rmi::params::RecExit {
    let exit = w.run(w.rec(0), vec![Step::Smc(regs.to_vec())]);
    assert_eq!(exit.exit_reason, RecExitReason::Psci);
    assert_eq!((exit.esr, exit.far, exit.hpfar), (0, 0, 0));
    assert_eq!(exit.gprs[4..], [0; 27]);
    exit
}

/// Nothing pending, REC 1 still off with its creation registers.
fn untouched(w: &RealmWorld) {
    assert!(!w.st(w.rec(0)).psci_pending());
    let target = w.st(w.rec(1));
    assert!(!target.runnable());
    assert_eq!((target.pc(), target.gpr(0)), (PC, 2));
}

// ---------------------------------------------------------------------------------------------
// PSCI_CPU_ON

#[test]
fn psci_cpu_on_entry() {
    let w = world();
    for entry in [UNPROTECTED, UNPROTECTED + 0x1000, 1 << 39, u64::MAX] {
        assert_eq!(w.call(&[CPU_ON, 1, entry, 0x77])[0], INVALID_ADDRESS);
        untouched(&w);
    }
}

#[test]
fn psci_cpu_on_mpidr() {
    let w = world();
    // REC indices 4 and above do not exist; Aff1 = 1 is index 16; bits outside the affinity
    // fields do not name a REC.
    for mpidr in [4, 0xf, 1 << 8, 1 << 32 | 1, 1 << 40] {
        assert_eq!(
            w.call(&[CPU_ON, mpidr, 0x3000, 0x77])[0],
            INVALID_PARAMETERS
        );
        untouched(&w);
    }
}

#[test]
fn psci_cpu_on_runnable() {
    let w = world();
    // The caller itself is running: ALREADY_ON without an exit.
    assert_eq!(w.call(&[CPU_ON, 0, 0x3000, 0x77])[0], ALREADY_ON);
    untouched(&w);
    // Another runnable REC is found by the host: ALREADY_ON through RMI_PSCI_COMPLETE.
    let exit = psci_exit(&w, &[CPU_ON, 2, 0x3000, 0x77]);
    assert_eq!(exit.gprs[..4], [CPU_ON, 2, 0x3000, 0x77]);
    assert_eq!(
        w.rmi(RMI_PSCI_COMPLETE, &[w.rec(0), w.rec(2), 0])[0],
        SUCCESS
    );
    w.run(w.rec(0), vec![]);
    assert_eq!(w.last(w.rec(0)).gprs[..4], [ALREADY_ON, 0, 0, 0]);
}

#[test]
fn psci_cpu_on_starts_a_rec() {
    let w = world();
    for (fid, entry) in [(CPU_ON, 0x3000), (CPU_ON_32, 0x5000)] {
        let target = if fid == CPU_ON { 1 } else { 3 };
        let high = if fid == CPU_ON {
            0
        } else {
            0xffff_ffff_0000_0000
        };
        let exit = psci_exit(&w, &[fid, target | high, entry | high, 0x77 | high]);
        // SMC32: the arguments are 32 bits.
        assert_eq!(exit.gprs[..4], [fid, target, entry, 0x77]);
        assert!(w.st(w.rec(0)).psci_pending());
        let t = w.rec(target as usize);
        assert_eq!(w.rmi(RMI_PSCI_COMPLETE, &[w.rec(0), t, 0])[0], SUCCESS);
        w.run(w.rec(0), vec![]);
        assert_eq!(w.last(w.rec(0)).gprs[..4], [SUCCESS_P, 0, 0, 0]);
        w.run(t, vec![]);
        let seen = w.last(t);
        assert_eq!((seen.pc, seen.gprs[0], seen.gprs[1]), (entry, 0x77, 0));
    }
}

// ---------------------------------------------------------------------------------------------
// PSCI_AFFINITY_INFO

#[test]
fn psci_affinity_info_target_bound() {
    let w = world();
    for level in [1, 2, 3, 0xffff_ffff] {
        assert_eq!(w.call(&[AFFINITY_INFO, 1, level])[0], INVALID_PARAMETERS);
        untouched(&w);
    }
    // X2[63:32] is SBZ: the level is bits 31:0.
    let exit = psci_exit(&w, &[AFFINITY_INFO, 1, 1 << 32]);
    assert_eq!(exit.gprs[..4], [AFFINITY_INFO, 1, 1 << 32, 0]);
}

#[test]
fn psci_affinity_info_target_match() {
    let w = world();
    for mpidr in [4, 0x10, 1 << 8, 1 << 33] {
        assert_eq!(w.call(&[AFFINITY_INFO, mpidr, 0])[0], INVALID_PARAMETERS);
        untouched(&w);
    }
}

#[test]
fn psci_affinity_info_answers() {
    let w = world();
    // About itself: ON (PSCI_SUCCESS) at once.
    assert_eq!(w.call(&[AFFINITY_INFO, 0, 0])[0], SUCCESS_P);
    for (target, expected) in [(1, PSCI_OFF), (2, SUCCESS_P)] {
        for fid in [AFFINITY_INFO, AFFINITY_INFO_32] {
            let exit = psci_exit(&w, &[fid, target, 0]);
            assert_eq!(exit.gprs[..4], [fid, target, 0, 0]);
            let t = w.rec(target as usize);
            assert_eq!(w.rmi(RMI_PSCI_COMPLETE, &[w.rec(0), t, 0])[0], SUCCESS);
            w.run(w.rec(0), vec![]);
            assert_eq!(w.last(w.rec(0)).gprs[..4], [expected, 0, 0, 0]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PSCI_VERSION, PSCI_FEATURES

#[test]
fn psci_version_is_1_1() {
    let w = world();
    assert_eq!(w.call(&[PSCI_VERSION])[0], 0x1_0001);
}

#[test]
fn psci_features_lists_the_functions() {
    let w = world();
    let implemented = [
        PSCI_VERSION,
        CPU_SUSPEND_32,
        CPU_SUSPEND,
        CPU_OFF,
        CPU_ON_32,
        CPU_ON,
        AFFINITY_INFO_32,
        AFFINITY_INFO,
        SYSTEM_OFF,
        SYSTEM_RESET,
        PSCI_FEATURES,
    ];
    for fid in implemented {
        assert_eq!(w.call(&[PSCI_FEATURES, fid])[0], SUCCESS_P, "{fid:#x}");
    }
    // SMCCC discovery: PSCI_FEATURES reports SMCCC_VERSION (and only it of SMCCC's functions).
    assert_eq!(w.call(&[PSCI_FEATURES, 0x8000_0000])[0], SUCCESS_P);
    for fid in [
        0x8400_0005,
        0xC400_0005,
        0x8400_000E,
        0x8000_0001,
        0xC400_0190,
        0,
    ] {
        assert_eq!(w.call(&[PSCI_FEATURES, fid])[0], NOT_SUPPORTED, "{fid:#x}");
    }
    // Other functions of the PSCI range are not supported.
    for fid in [0x8400_0005, 0xC400_0012, 0x8400_001F] {
        assert_eq!(w.call(&[fid, 0, 0, 0])[0], NOT_SUPPORTED, "{fid:#x}");
    }
}

// ---------------------------------------------------------------------------------------------
// PSCI_CPU_SUSPEND, PSCI_CPU_OFF, PSCI_SYSTEM_OFF, PSCI_SYSTEM_RESET

#[test]
fn psci_cpu_suspend_exits_and_returns_success() {
    let w = world();
    for fid in [CPU_SUSPEND, CPU_SUSPEND_32] {
        let exit = psci_exit(&w, &[fid, 0xdead_0000_0001, 0x4000, 0x99]);
        assert_eq!(exit.gprs[..4], [fid, 1, 0x4000, 0x99]);
        let rec = w.st(w.rec(0));
        assert!(!rec.psci_pending() && rec.runnable());
        w.run(w.rec(0), vec![]);
        let seen = w.last(w.rec(0));
        assert_eq!(seen.gprs[..4], [SUCCESS_P, 0, 0, 0]);
    }
}

#[test]
fn psci_cpu_off_stops_the_rec_until_cpu_on() {
    let w = world();
    let rec = w.rec(2);
    let exit = w.run(rec, vec![Step::Smc(vec![CPU_OFF, 5, 6, 7])]);
    assert_eq!(exit.exit_reason, RecExitReason::Psci);
    assert_eq!(exit.gprs[..4], [CPU_OFF, 0, 0, 0]);
    assert!(!w.st(rec).runnable() && !w.st(rec).psci_pending());
    assert_eq!(
        w.enter_with(0, rec, 0, [0; 31]).0,
        ERROR_REC,
        "rec_runnable"
    );
    // Another REC sees it off, and can turn it on again.
    psci_exit(&w, &[AFFINITY_INFO, 2, 0]);
    assert_eq!(w.rmi(RMI_PSCI_COMPLETE, &[w.rec(0), rec, 0])[0], SUCCESS);
    w.run(w.rec(0), vec![]);
    assert_eq!(w.last(w.rec(0)).gprs[0], PSCI_OFF);
    psci_exit(&w, &[CPU_ON, 2, 0x6000, 0x42]);
    assert_eq!(w.rmi(RMI_PSCI_COMPLETE, &[w.rec(0), rec, 0])[0], SUCCESS);
    w.run(rec, vec![]);
    assert_eq!((w.last(rec).pc, w.last(rec).gprs[0]), (0x6000, 0x42));
}

fn realm_state(w: &RealmWorld) -> RealmState {
    Rd::new(w.m.rmm().platform().granule(w.rd)).state()
}

#[test]
fn psci_system_off_and_reset_turn_the_realm_off() {
    for fid in [SYSTEM_OFF, SYSTEM_RESET] {
        let w = world();
        let exit = psci_exit(&w, &[fid, 1, 2, 3]);
        assert_eq!(exit.gprs[..4], [fid, 0, 0, 0]);
        assert_eq!(realm_state(&w), RealmState::SystemOff);
        for rec in [w.rec(0), w.rec(2)] {
            assert_eq!(w.enter_with(0, rec, 0, [0; 31]).0, ERROR_REALM | 1 << 8);
        }
    }
}
