//! LPA2 and 52-bit IPA spaces (spec A3.1.2) on the host platform: RMI_FEATURES, REALM_CREATE's
//! lpa2 flag and RTT geometry, and the failure conditions of DATA_CREATE, DATA_CREATE_UNKNOWN,
//! DATA_DESTROY and RTT_INIT_RIPAS that name LPA2 (`data_bound2`) or the IPA width
//! (`ipa_bound`, `top_bound`), on a machine with FEAT_LPA2 and 52-bit PAs whose DRAM includes
//! PAs only LPA2 can use. The RTT commands: `rmi_lpa2_rtt.rs`; RTT_MAP_UNPROTECTED, RSI and a
//! running 52-bit realm: `realm_lpa2.rs`.

mod common;

use common::lpa2::*;
use common::*;
use rmm::granule::GranuleState;
use rmm::host::{Config, Machine, HOST_CPU, LPA2_CPU};
use rmm::platform::CpuFeatures;

#[test]
fn rmi_features_reports_lpa2_and_s2sz_52() {
    let feat = |cpu| {
        let m = Machine::with_cpu(
            Config {
                cpus: 1,
                dram: vec![LOW],
            },
            cpu,
        );
        rmi(&m, RMI_FEATURES, &[0])[1] & 0x1ff
    };
    // QEMU `-cpu max`: FEAT_LPA2 and 52-bit PAs.
    assert_eq!(feat(LPA2_CPU), 52 | 1 << 8);
    assert_eq!(feat(HOST_CPU), 48);
    // 52-bit PAs without FEAT_LPA2 (64 KiB granules only): 48-bit IPAs.
    assert_eq!(
        feat(CpuFeatures {
            pa_bits: 52,
            lpa2: false,
            ..HOST_CPU
        }),
        48
    );
    // FEAT_LPA2 with 48-bit PAs: LPA2, S2SZ 48; 44-bit PAs: 44.
    assert_eq!(
        feat(CpuFeatures {
            pa_bits: 48,
            lpa2: true,
            ..HOST_CPU
        }),
        48 | 1 << 8
    );
    assert_eq!(
        feat(CpuFeatures {
            pa_bits: 44,
            lpa2: true,
            ..HOST_CPU
        }),
        44 | 1 << 8
    );
}

#[test]
fn realm_create_params_supp_lpa2() {
    // flags.lpa2 where the RMM does not support LPA2.
    let mut w = World::with(HOST_CPU);
    let (x0, rd) = w.try_realm(true, (48, 0, 1));
    assert_eq!(x0, ERROR_INPUT);
    assert_eq!(
        (w.state(rd), w.state(LOW.0)),
        (Some(GranuleState::Delegated), Some(GranuleState::Delegated))
    );
    w.realm(false, (48, 0, 1));
    // s2sz above 48 without flags.lpa2, above S2SZ (52) with it.
    let mut w = World::new();
    for shape in [(49, 0, 2), (52, 0, 16), (52, -1, 1)] {
        assert_eq!(w.try_realm(false, shape).0, ERROR_INPUT, "{shape:?}");
    }
    for shape in [(53, -1, 1), (53, 0, 32), (0xff, -1, 1)] {
        assert_eq!(w.try_realm(true, shape).0, ERROR_INPUT, "{shape:?}");
    }
    w.realm(true, (49, 0, 2));
    // FEAT_LPA2 with 48-bit PAs: S2SZ 48, so 52 bits are refused even with flags.lpa2.
    let mut w = World::with(CpuFeatures {
        pa_bits: 48,
        lpa2: true,
        ..HOST_CPU
    });
    assert_eq!(w.try_realm(true, (52, -1, 1)).0, ERROR_INPUT);
    assert_eq!(w.try_realm(true, (49, -1, 1)).0, ERROR_INPUT);
    w.realm(true, (48, 0, 1));
}

#[test]
fn realm_create_rtt_num_level_lpa2() {
    let mut w = World::new();
    // Level -1 translates 49 to 52 bits with one RTT; level 0 with LPA2 concatenates up to 16.
    let bad = [
        (52, -1, 2),
        (52, -1, 16),
        (52, -1, 0),
        (48, -1, 1),
        (40, -1, 1),
        (52, 0, 1),
        (52, 0, 8),
        (49, 0, 1),
        (51, -2, 1),
        (52, 1, 16),
    ];
    for shape in bad {
        let (x0, rd) = w.try_realm(true, shape);
        assert_eq!(x0, ERROR_INPUT, "{shape:?}");
        assert_eq!(w.state(rd), Some(GranuleState::Delegated));
    }
    // Level -1 without flags.lpa2, even where the IPA width is allowed.
    assert_eq!(w.try_realm(false, (48, -1, 1)).0, ERROR_INPUT);
    for shape in [
        (52, -1, 1),
        (49, -1, 1),
        (52, 0, 16),
        (50, 0, 4),
        (48, 0, 1),
        (40, 1, 2),
    ] {
        let rd = w.realm(true, shape);
        assert_eq!(rmi(&w.m, RMI_REALM_DESTROY, &[rd])[0], SUCCESS, "{shape:?}");
        w.roots -= 16 * GRANULE;
    }
}

#[test]
fn realm_create_lpa2_starting_level_minus_1() {
    let mut w = World::new();
    let rd = w.realm52();
    // One level -1 RTT of 16 used entries: 8 of Protected IPAs, 8 Unprotected.
    for i in 0..16u64 {
        assert_eq!(
            w.read(rd, i << 48, -1),
            [SUCCESS, LEVEL_M1, UNASSIGNED, 0, 0],
            "{i}"
        );
        assert_eq!(w.read(rd, (i << 48) | 0xf_f000, 3)[1], LEVEL_M1);
    }
    let mut root = [0u8; 128];
    w.m.debug_read(w.roots - 16 * GRANULE, &mut root).unwrap();
    for (i, e) in root.chunks_exact(8).enumerate() {
        let e = u64::from_le_bytes(e.try_into().unwrap());
        // UNASSIGNED with RIPAS EMPTY is 0, UNASSIGNED_NS is STATE 2.
        assert_eq!(e, if i < 8 { 0 } else { 2 << 56 }, "entry {i}");
    }
    assert_eq!(w.read(rd, 1 << 52, -1)[0], ERROR_INPUT);
}

/// DATA_CREATE (`unknown` false, measured) or DATA_CREATE_UNKNOWN of `data` at `ipa`: x0.
fn data_create(w: &mut World, unknown: bool, rd: u64, data: u64, ipa: u64) -> u64 {
    if unknown {
        rmi(&w.m, RMI_DATA_CREATE_UNKNOWN, &[rd, data, ipa])[0]
    } else {
        let src = w.ns();
        w.m.ns_write(src, &[0x5a; 4096]).unwrap();
        rmi(&w.m, RMI_DATA_CREATE, &[rd, data, ipa, src, 0])[0]
    }
}

/// `data_bound2`: a DATA granule at or above 2^48 only in a realm with LPA2, whatever its IPA
/// width; the descriptor of one with LPA2 holds bits 51:50 in bits 9:8.
fn data_bound2(unknown: bool) {
    let mut w = World::new();
    let (at_2_48, top) = (w.del_in(Bank::At248), w.del_in(Bank::Top));
    let rd48 = w.realm(false, (48, 0, 1));
    w.rtts(rd48, 0, &[1, 2, 3], Bank::Low);
    for pa in [at_2_48, top] {
        assert_eq!(
            data_create(&mut w, unknown, rd48, pa, 0),
            ERROR_INPUT,
            "{pa:#x}"
        );
        assert_eq!(w.state(pa), Some(GranuleState::Delegated));
    }
    assert_eq!(w.read(rd48, 0, 3), [SUCCESS, 3, UNASSIGNED, 0, 0]);
    let low = w.del();
    assert_eq!(data_create(&mut w, unknown, rd48, low, 0), SUCCESS);
    // With LPA2: a 48-bit and a 52-bit IPA space.
    let ripas = if unknown { 0 } else { RAM };
    for shape in [(48, 0, 1), (52, -1, 1)] {
        let rd = w.realm(true, shape);
        let levels: &[i64] = if shape.1 < 0 {
            &[0, 1, 2, 3]
        } else {
            &[1, 2, 3]
        };
        w.rtts(rd, 0, levels, Bank::Low);
        for (i, pa) in [at_2_48, top].into_iter().enumerate() {
            let ipa = i as u64 * GRANULE;
            assert_eq!(
                data_create(&mut w, unknown, rd, pa, ipa),
                SUCCESS,
                "{pa:#x}"
            );
            assert_eq!(w.state(pa), Some(GranuleState::Data));
            assert_eq!(
                w.read(rd, ipa, 3),
                [SUCCESS, 3, ASSIGNED, lpa2_desc(pa), ripas]
            );
            let out = rmi(&w.m, RMI_DATA_DESTROY, &[rd, ipa]);
            assert_eq!((out[0], out[1]), (SUCCESS, pa));
            assert_eq!(w.state(pa), Some(GranuleState::Delegated));
        }
    }
    assert_eq!(lpa2_desc(top), 0x3_ffff_fff0_0300);
}

#[test]
fn data_create_data_bound2_lpa2() {
    data_bound2(false);
}

#[test]
fn data_create_unknown_data_bound2_lpa2() {
    data_bound2(true);
}

/// `ipa_bound` in a 52-bit IPA space: Protected IPAs are those below 2^51.
fn data_ipa_bound(unknown: bool) {
    let mut w = World::new();
    let rd = w.realm52();
    w.rtts(rd, TOP_PROTECTED, &[0, 1, 2, 3], Bank::Top);
    w.rtts(rd, TOP_IPA, &[0, 1, 2, 3], Bank::Low);
    let data = w.del();
    for ipa in [UNPROTECTED, UNPROTECTED + GRANULE, TOP_IPA, 1 << 52, !0xfff] {
        assert_eq!(
            data_create(&mut w, unknown, rd, data, ipa),
            ERROR_INPUT,
            "{ipa:#x}"
        );
        assert_eq!(w.state(data), Some(GranuleState::Delegated));
    }
    // Protected, above 2^48, with no RTTs below level -1: the walk stops there.
    assert_eq!(
        data_create(&mut w, unknown, rd, data, 1 << 48),
        ERROR_RTT_M1
    );
    assert_eq!(
        data_create(&mut w, unknown, rd, data, TOP_PROTECTED),
        SUCCESS
    );
    assert_eq!(
        w.read(rd, TOP_PROTECTED, 3)[..4],
        [SUCCESS, 3, ASSIGNED, data]
    );
}

#[test]
fn data_create_ipa_bound_52_bit_realm() {
    data_ipa_bound(false);
}

#[test]
fn data_create_unknown_ipa_bound_52_bit_realm() {
    data_ipa_bound(true);
}

#[test]
fn data_destroy_ipa_bound_52_bit_realm() {
    let mut w = World::new();
    let rd = w.realm52();
    w.rtts(rd, TOP_PROTECTED, &[0, 1, 2, 3], Bank::Low);
    let data = w.del_in(Bank::Top);
    assert_eq!(data_create(&mut w, true, rd, data, TOP_PROTECTED), SUCCESS);
    for ipa in [UNPROTECTED, TOP_IPA, 1 << 52] {
        assert_eq!(
            rmi(&w.m, RMI_DATA_DESTROY, &[rd, ipa])[0],
            ERROR_INPUT,
            "{ipa:#x}"
        );
    }
    // A Protected IPA whose walk stops at level -1: x2 is the next live IPA, here past the
    // level -1 RTT's 16 entries (2^52) from the entries of Unprotected IPAs.
    let out = rmi(&w.m, RMI_DATA_DESTROY, &[rd, 3 << 48]);
    assert_eq!((out[0], out[2]), (ERROR_RTT_M1, 7 << 48));
    let out = rmi(&w.m, RMI_DATA_DESTROY, &[rd, TOP_PROTECTED]);
    assert_eq!((out[0], out[1]), (SUCCESS, data));
}

/// SHA-256 of `bytes`, zero-filled to a 64-byte measurement.
fn sha256(bytes: &[u8]) -> [u8; 64] {
    use sha2::Digest;
    let mut m = [0u8; 64];
    m[..32].copy_from_slice(&sha2::Sha256::digest(bytes));
    m
}

#[test]
fn rtt_init_ripas_top_bound_52_bit_realm() {
    let mut w = World::new();
    let rd = w.realm52();
    // Ranges that reach into the Unprotected half or past the IPA space.
    for (base, top) in [
        (3 << 48, UNPROTECTED + GRANULE),
        (3 << 48, 1 << 52),
        (0, 17 << 48),
    ] {
        let x0 = rmi(&w.m, RMI_RTT_INIT_RIPAS, &[rd, base, top])[0];
        assert_eq!(x0, ERROR_INPUT, "{base:#x}..{top:#x}");
    }
    // Up to the last Protected IPA: five level -1 entries become RIPAS RAM at once.
    let out = rmi(&w.m, RMI_RTT_INIT_RIPAS, &[rd, 3 << 48, UNPROTECTED]);
    assert_eq!((out[0], out[1]), (SUCCESS, UNPROTECTED));
    for i in 0..8u64 {
        let ripas = u64::from((3..8).contains(&i));
        assert_eq!(
            w.read(rd, i << 48, -1),
            [SUCCESS, LEVEL_M1, UNASSIGNED, 0, ripas]
        );
    }
    // The RIM, computed here from C1.13 RmmMeasurementDescriptorRipas: the realm parameters
    // (flags.lpa2, s2sz 52, one breakpoint and watchpoint, SHA-256), then one extension per
    // level -1 entry.
    let mut params = [0u8; 4096];
    params[0] = 1;
    params[8] = 52;
    (params[0x18], params[0x20]) = (1, 1);
    let mut rim = sha256(&params);
    for i in 3..8u64 {
        let mut d = [0u8; 256];
        d[0] = 2;
        d[8..16].copy_from_slice(&256u64.to_le_bytes());
        d[0x10..0x50].copy_from_slice(&rim);
        d[0x50..0x58].copy_from_slice(&(i << 48).to_le_bytes());
        d[0x58..0x60].copy_from_slice(&((i + 1) << 48).to_le_bytes());
        rim = sha256(&d);
    }
    let mut rd_page = [0u8; 192];
    w.m.debug_read(rd, &mut rd_page).unwrap();
    assert_eq!(rd_page[128..192], rim);
}
