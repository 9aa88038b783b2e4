//! RMI dispatch, RMI_VERSION (B4.3.23) and RMI_FEATURES (B4.3.4) at register level.

mod common;
use common::*;
use rmm::rmi::Command;

#[test]
fn unknown_function_ids_are_not_supported() {
    let m = machine();
    for fid in [
        0xC400_0156,
        0xC400_0160,
        0xC400_0163,
        0xC400_014F,
        0xC400_016A,
        0x8400_0000,
    ] {
        let out = rmi(&m, fid, &[1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(out, [NOT_SUPPORTED, 0, 0, 0, 4, 5, 6, 7], "{fid:#x}");
    }
}

#[test]
fn every_rmi_command_has_its_spec_fid() {
    let fids: Vec<u32> = Command::all().map(Command::fid).collect();
    let mut expected: Vec<u32> = (0xC400_0150..=0xC400_0169).collect();
    expected.retain(|f| ![0xC400_0156, 0xC400_0160, 0xC400_0163].contains(f));
    assert_eq!(fids, expected);
    assert_eq!(
        Command::from_fid(0xC400_0151),
        Some(Command::GranuleDelegate)
    );
    assert_eq!(Command::GranuleDelegate.name(), "RMI_GRANULE_DELEGATE");
}

#[test]
fn fid_is_w0_and_sve_hint_is_ignored() {
    let m = machine();
    for fid in [RMI_VERSION | 1 << 16, RMI_VERSION | 0xffff_ffff << 32] {
        assert_eq!(
            rmi(&m, fid, &[0x1_0000])[..3],
            [SUCCESS, 0x1_0000, 0x1_0000],
            "{fid:#x}"
        );
    }
}

#[test]
fn version_compatible_request() {
    let m = machine();
    let out = rmi(
        &m,
        RMI_VERSION,
        &[0x1_0000, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff],
    );
    // x3..x7 are not outputs of RMI_VERSION: zero (B1.2).
    assert_eq!(out, [SUCCESS, 0x1_0000, 0x1_0000, 0, 0, 0, 0, 0]);
}

#[test]
fn version_incompatible_requests() {
    let m = machine();
    // (b) higher than ours: lower is the highest we support below it, 1.0.
    // (c) lower than anything we support: lower is our highest, 1.0.
    // Reserved bits set: an invalid encoding.
    for req in [
        0x1_0001,
        0x2_0000,
        0x7fff_ffff,
        0x0_0009,
        0,
        0x8001_0000,
        1 << 63 | 0x1_0000,
    ] {
        assert_eq!(
            rmi(&m, RMI_VERSION, &[req])[..3],
            [ERROR_INPUT, 0x1_0000, 0x1_0000],
            "{req:#x}"
        );
    }
}

#[test]
fn features_register_0() {
    let m = machine();
    let out = rmi(&m, RMI_FEATURES, &[0]);
    assert_eq!(out[0], SUCCESS);
    let f0 = out[1];
    let field = |lo: u32, bits: u32| (f0 >> lo) & ((1 << bits) - 1);
    assert_eq!(field(0, 8), 48, "S2SZ");
    assert_eq!(field(8, 1), 0, "LPA2 not supported");
    assert_eq!(field(9, 1), 0, "SVE_EN");
    assert_eq!(field(14, 6), 5, "NUM_BPS: 6 breakpoints");
    assert_eq!(field(20, 6), 3, "NUM_WPS: 4 watchpoints");
    assert_eq!(field(26, 1), 0, "PMU_EN");
    assert_eq!(field(32, 1), 1, "HASH_SHA_256");
    assert_eq!(field(33, 1), 1, "HASH_SHA_512");
    assert_eq!(field(34, 4), 15, "GICV3_NUM_LRS: 16 list registers");
    assert_eq!(field(38, 4), 15, "MAX_RECS_ORDER");
    assert_eq!(f0 >> 42, 0, "reserved bits");
    assert_eq!(out[2..4], [0, 0]);
}

#[test]
fn features_index() {
    let m = machine();
    for index in [1, 2, 0xff, u64::MAX] {
        assert_eq!(
            rmi(&m, RMI_FEATURES, &[index])[..2],
            [SUCCESS, 0],
            "{index:#x}"
        );
    }
}
