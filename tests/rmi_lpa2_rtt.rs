//! LPA2 and 52-bit IPA spaces (spec A3.1.2) on the host platform: the failure conditions of
//! RTT_CREATE, RTT_DESTROY, RTT_FOLD and RTT_READ_ENTRY that name LPA2 (`rtt_bound2`) or the
//! IPA width (`ipa_bound`, `level_bound` with level -1), walks that stop at level -1, and trees
//! through RTTs at PAs only LPA2 can use.

mod common;

use common::lpa2::*;
use common::*;
use rmm::granule::GranuleState;

/// DATA_CREATE of `data` at `ipa` from a fresh source page: x0.
fn data_create(w: &mut World, rd: u64, data: u64, ipa: u64) -> u64 {
    let src = w.ns();
    rmi(&w.m, RMI_DATA_CREATE, &[rd, data, ipa, src, 0])[0]
}

#[test]
fn rtt_create_rtt_bound2_lpa2() {
    let mut w = World::new();
    let (at_2_48, top) = (w.del_in(Bank::At248), w.del_in(Bank::Top));
    let rd48 = w.realm(false, (48, 0, 1));
    for pa in [at_2_48, top] {
        assert_eq!(rmi(&w.m, RMI_RTT_CREATE, &[rd48, pa, 0, 1])[0], ERROR_INPUT);
        assert_eq!(w.state(pa), Some(GranuleState::Delegated));
    }
    assert_eq!(w.read(rd48, 0, 1), [SUCCESS, 0, UNASSIGNED, 0, 0]);
    // With LPA2, a tree through RTTs at high PAs: the parents' TABLE entries hold them in the
    // LPA2 layout, and walks follow them down to a DATA page.
    let rd = w.realm52();
    let ipa = 5 << 48;
    assert_eq!(rmi(&w.m, RMI_RTT_CREATE, &[rd, top, ipa, 0])[0], SUCCESS);
    assert_eq!(
        w.read(rd, ipa, -1),
        [SUCCESS, LEVEL_M1, TABLE, lpa2_desc(top), 0]
    );
    assert_eq!(
        rmi(&w.m, RMI_RTT_CREATE, &[rd, at_2_48, ipa, 1])[0],
        SUCCESS
    );
    assert_eq!(w.read(rd, ipa, 0), [SUCCESS, 0, TABLE, at_2_48, 0]);
    let rtts = w.rtts(rd, ipa, &[2, 3], Bank::Top);
    let data = w.del_in(Bank::Top);
    assert_eq!(data_create(&mut w, rd, data, ipa), SUCCESS);
    assert_eq!(
        w.read(rd, ipa, 3),
        [SUCCESS, 3, ASSIGNED, lpa2_desc(data), RAM]
    );
    assert_eq!(rmi(&w.m, RMI_DATA_DESTROY, &[rd, ipa])[0], SUCCESS);
    for (level, rtt) in [(3, rtts[1]), (2, rtts[0]), (1, at_2_48), (0, top)] {
        let out = rmi(&w.m, RMI_RTT_DESTROY, &[rd, ipa, level]);
        assert_eq!((out[0], out[1]), (SUCCESS, rtt), "level {level}");
    }
}

#[test]
fn rtt_create_level_bound_52_bit_realm() {
    let mut w = World::new();
    let rd = w.realm52();
    let rtt = w.del();
    // Level -1 is the starting level; -2 and 4 are no levels.
    for level in [-1i64, -2, 4, i64::MIN] {
        let x0 = rmi(&w.m, RMI_RTT_CREATE, &[rd, rtt, 0, level as u64])[0];
        assert_eq!(x0, ERROR_INPUT, "level {level}");
    }
    assert_eq!(rmi(&w.m, RMI_RTT_CREATE, &[rd, rtt, 0, 0])[0], SUCCESS);
    // Without LPA2, starting at level 0: level -1 is not valid, level 0 is the starting one.
    let rd48 = w.realm(false, (48, 0, 1));
    let rtt = w.del();
    for level in [-1i64, 0] {
        let x0 = rmi(&w.m, RMI_RTT_CREATE, &[rd48, rtt, 0, level as u64])[0];
        assert_eq!(x0, ERROR_INPUT, "level {level}");
    }
}

#[test]
fn rtt_create_ipa_bound_52_bit_realm() {
    let mut w = World::new();
    let rd = w.realm52();
    let rtt = w.del();
    for ipa in [1 << 52, 16 << 48, 1 << 63] {
        assert_eq!(
            rmi(&w.m, RMI_RTT_CREATE, &[rd, rtt, ipa, 0])[0],
            ERROR_INPUT
        );
    }
    // The last level -1 entry, of Unprotected IPAs.
    assert_eq!(
        rmi(&w.m, RMI_RTT_CREATE, &[rd, rtt, 15 << 48, 0])[0],
        SUCCESS
    );
    assert_eq!(w.read(rd, 15 << 48, -1)[2], TABLE);
}

#[test]
fn rtt_create_ipa_align_level_minus_1() {
    let mut w = World::new();
    let rd = w.realm52();
    let rtt = w.del();
    // A level-0 RTT replaces a level -1 entry: its IPA is aligned to 2^48.
    for ipa in [1 << 39, (1 << 48) + GRANULE, UNPROTECTED + (1 << 47)] {
        assert_eq!(
            rmi(&w.m, RMI_RTT_CREATE, &[rd, rtt, ipa, 0])[0],
            ERROR_INPUT
        );
    }
    assert_eq!(
        rmi(&w.m, RMI_RTT_CREATE, &[rd, rtt, 1 << 48, 0])[0],
        SUCCESS
    );
}

#[test]
fn rtt_create_rtt_walk_level_minus_1() {
    let mut w = World::new();
    let rd = w.realm52();
    let rtt = w.del();
    // No level-0 RTT: the walk stops at level -1, reported as index 0xff.
    for (ipa, level) in [(UNPROTECTED, 1), (TOP_PROTECTED & !0x1f_ffff, 3), (0, 2)] {
        let x0 = rmi(
            &w.m,
            RMI_RTT_CREATE,
            &[
                rd,
                rtt,
                ipa & !((1 << (12 + 9 * (4 - level))) - 1),
                level as u64,
            ],
        )[0];
        assert_eq!(x0, ERROR_RTT_M1, "{ipa:#x} level {level}");
    }
    assert_eq!(w.state(rtt), Some(GranuleState::Delegated));
}

#[test]
fn rtt_create_rtte_state_level_minus_1() {
    let mut w = World::new();
    let rd = w.realm52();
    w.rtts(rd, UNPROTECTED, &[0], Bank::Low);
    let rtt = w.del();
    // The level -1 entry is already TABLE.
    assert_eq!(
        rmi(&w.m, RMI_RTT_CREATE, &[rd, rtt, UNPROTECTED, 0])[0],
        ERROR_RTT_M1
    );
}

#[test]
fn rtt_destroy_level_bound_52_bit_realm() {
    let mut w = World::new();
    let rd = w.realm52();
    let rtts = w.rtts(rd, 0, &[0], Bank::Low);
    for level in [-1i64, -2, 4] {
        assert_eq!(
            rmi(&w.m, RMI_RTT_DESTROY, &[rd, 0, level as u64])[0],
            ERROR_INPUT
        );
    }
    let out = rmi(&w.m, RMI_RTT_DESTROY, &[rd, 0, 0]);
    assert_eq!((out[0], out[1], out[2]), (SUCCESS, rtts[0], 1 << 52));
    // The level -1 entry of a Protected IPA is UNASSIGNED with RIPAS DESTROYED now.
    assert_eq!(w.read(rd, 0, -1), [SUCCESS, LEVEL_M1, UNASSIGNED, 0, 2]);
}

#[test]
fn rtt_destroy_ipa_bound_52_bit_realm() {
    let mut w = World::new();
    let rd = w.realm52();
    let rtts = w.rtts(rd, TOP_IPA, &[0], Bank::Top);
    for ipa in [1 << 52, 16 << 48] {
        assert_eq!(rmi(&w.m, RMI_RTT_DESTROY, &[rd, ipa, 0])[0], ERROR_INPUT);
    }
    let out = rmi(&w.m, RMI_RTT_DESTROY, &[rd, 15 << 48, 0]);
    assert_eq!((out[0], out[1]), (SUCCESS, rtts[0]));
    assert_eq!(
        w.read(rd, 15 << 48, -1)[..3],
        [SUCCESS, LEVEL_M1, UNASSIGNED]
    );
}

#[test]
fn rtt_destroy_rtt_walk_level_minus_1() {
    let mut w = World::new();
    let rd = w.realm52();
    w.rtts(rd, 13 << 48, &[0], Bank::Low);
    // No level-0 RTT under 2^51: the walk stops at level -1; x2 is the next live entry's IPA.
    let out = rmi(&w.m, RMI_RTT_DESTROY, &[rd, UNPROTECTED, 1]);
    assert_eq!((out[0], out[2]), (ERROR_RTT_M1, 13 << 48));
    let out = rmi(&w.m, RMI_RTT_DESTROY, &[rd, 14 << 48, 1]);
    assert_eq!((out[0], out[2]), (ERROR_RTT_M1, 1 << 52));
}

#[test]
fn rtt_fold_level_bound_52_bit_realm() {
    let mut w = World::new();
    let rd = w.realm52();
    let rtts = w.rtts(rd, 2 << 48, &[0], Bank::Top);
    for level in [-1i64, -2] {
        assert_eq!(
            rmi(&w.m, RMI_RTT_FOLD, &[rd, 2 << 48, level as u64])[0],
            ERROR_INPUT
        );
    }
    // A level-0 RTT of UNASSIGNED entries folds into its level -1 entry.
    let out = rmi(&w.m, RMI_RTT_FOLD, &[rd, 2 << 48, 0]);
    assert_eq!((out[0], out[1]), (SUCCESS, rtts[0]));
    assert_eq!(
        w.read(rd, 2 << 48, 0),
        [SUCCESS, LEVEL_M1, UNASSIGNED, 0, 0]
    );
    assert_eq!(w.state(rtts[0]), Some(GranuleState::Delegated));
}

#[test]
fn rtt_fold_ipa_bound_52_bit_realm() {
    let mut w = World::new();
    let rd = w.realm52();
    let rtts = w.rtts(rd, TOP_IPA, &[0, 1], Bank::Low);
    for ipa in [1 << 52, (1 << 52) | (511 << 39)] {
        assert_eq!(rmi(&w.m, RMI_RTT_FOLD, &[rd, ipa, 1])[0], ERROR_INPUT);
    }
    let out = rmi(&w.m, RMI_RTT_FOLD, &[rd, TOP_IPA & !((1 << 39) - 1), 1]);
    assert_eq!((out[0], out[1]), (SUCCESS, rtts[1]));
    assert_eq!(w.read(rd, TOP_IPA, 3)[..3], [SUCCESS, 0, UNASSIGNED]);
}

#[test]
fn rtt_read_entry_level_bound_52_bit_realm() {
    let mut w = World::new();
    let rd = w.realm52();
    assert_eq!(w.read(rd, 0, -1), [SUCCESS, LEVEL_M1, UNASSIGNED, 0, 0]);
    for level in [-2i64, 4, i64::MIN] {
        assert_eq!(w.read(rd, 0, level)[0], ERROR_INPUT, "level {level}");
    }
    // A realm with LPA2 starting at level 0 has no level -1.
    let rd48 = w.realm(true, (48, 0, 1));
    assert_eq!(w.read(rd48, 0, -1)[0], ERROR_INPUT);
    assert_eq!(w.read(rd48, 0, 0), [SUCCESS, 0, UNASSIGNED, 0, 0]);
}

#[test]
fn rtt_read_entry_ipa_bound_52_bit_realm() {
    let mut w = World::new();
    let rd = w.realm52();
    for (ipa, level) in [(1 << 52, -1), (1 << 52, 3), (!0xfff, 3)] {
        assert_eq!(w.read(rd, ipa, level)[0], ERROR_INPUT, "{ipa:#x}");
    }
    assert_eq!(
        w.read(rd, TOP_IPA, 3),
        [SUCCESS, LEVEL_M1, UNASSIGNED, 0, 0]
    );
    // An address above 2^48 that is not aligned to a level -1 entry.
    assert_eq!(w.read(rd, UNPROTECTED | (1 << 47), -1)[0], ERROR_INPUT);
}
