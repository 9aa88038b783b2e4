//! The `top` output of RMI_RTT_DESTROY (B4.3.16), RMI_DATA_DESTROY (B4.3.3) and
//! RMI_RTT_UNMAP_UNPROTECTED (B4.3.22) when the walk stops in a starting-level RTT whose granule
//! spans more than the realm's IPA space: B3.76 RttSkipNonLiveEntries returns "the next IPA
//! after the last entry in rtt", and an RTT is the architecture's stage 2 table (A5.5.1) for
//! inputs below 2^ipa_width (A5.5.10), so with nothing live left `top` is 2^ipa_width, not the
//! end of the granule's 512 (or 16 at level -1) entries.

mod common;
use common::lpa2::{World, ERROR_RTT_M1};
use common::*;
use rmm::host::Machine;

const GIB: u64 = 1 << 30;
const MIB2: u64 = 2 << 20;
/// Host attributes of an unprotected mapping: MemAttr[2:0] 0b110 (Normal WB), S2AP 0b11.
const WB_RW: u64 = (0b110 << 2) | (0b11 << 6);
/// A Non-secure PA to map as a 1 GiB block (the RMM never accesses it).
const NS_BLOCK: u64 = 0x1_4000_0000;

/// A realm of `s2sz` bits from `level` with one starting-level RTT, on `m`: its RD.
fn realm(m: &Machine, g: &mut Granules, s2sz: u8, level: i64) -> u64 {
    let (params, rd, rtt) = (g.ns(), g.delegated(m), g.delegated(m));
    let mut p = realm_params(rtt);
    (p.s2sz, p.rtt_level_start) = (s2sz, level);
    write_realm_params(m, params, &p);
    assert_eq!(rmi(m, RMI_REALM_CREATE, &[rd, params])[0], SUCCESS);
    rd
}

/// RMI_RTT_DESTROY: (x0, top).
fn rtt_destroy(m: &Machine, rd: u64, ipa: u64, level: i64) -> (u64, u64) {
    let out = rmi(m, RMI_RTT_DESTROY, &[rd, ipa, level as u64]);
    (out[0], out[2])
}

/// RMI_DATA_DESTROY: (x0, top).
fn data_destroy(m: &Machine, rd: u64, ipa: u64) -> (u64, u64) {
    let out = rmi(m, RMI_DATA_DESTROY, &[rd, ipa]);
    (out[0], out[2])
}

/// RMI_RTT_UNMAP_UNPROTECTED: (x0, top).
fn unmap(m: &Machine, rd: u64, ipa: u64, level: i64) -> (u64, u64) {
    let out = rmi(m, RMI_RTT_UNMAP_UNPROTECTED, &[rd, ipa, level as u64]);
    (out[0], out[1])
}

#[test]
fn rtt_destroy_top_stops_at_ipa_width_when_the_starting_rtt_spans_more() {
    // 36 bits from level 1: the level-1 granule spans 2^39, the IPA space its first 64 entries.
    let (m, mut g) = (machine(), Granules::new());
    let rd = realm(&m, &mut g, 36, 1);
    let end = 1 << 36;
    let last = end - GIB;
    let e1 = error_rtt(1);
    // rtt_walk: the walk stops at level 1, nothing live from there.
    assert_eq!(rtt_destroy(&m, rd, last + MIB2, 3), (e1, end));
    assert_eq!(rtt_destroy(&m, rd, GIB, 3), (e1, end));
    // rtte_state: the level-1 entry is not TABLE.
    assert_eq!(rtt_destroy(&m, rd, last, 2), (e1, end));
    // A live entry is found first when there is one; once it is gone, the end is 2^36.
    let l2 = create_rtt(&m, &mut g, rd, last, 2);
    assert_eq!(rtt_destroy(&m, rd, GIB, 3), (e1, last));
    let out = rmi(&m, RMI_RTT_DESTROY, &[rd, last, 2]);
    assert_eq!(out[..3], [SUCCESS, l2, end]);
    let l2 = create_rtt(&m, &mut g, rd, 0, 2);
    let out = rmi(&m, RMI_RTT_DESTROY, &[rd, 0, 2]);
    assert_eq!(out[..3], [SUCCESS, l2, end]);
    assert_eq!(rmi(&m, RMI_REALM_DESTROY, &[rd])[0], SUCCESS);

    // 44 bits from level 0: 32 of the level-0 granule's 512 entries.
    let rd = realm(&m, &mut g, 44, 0);
    let l1 = create_rtt(&m, &mut g, rd, 31 << 39, 1);
    let out = rmi(&m, RMI_RTT_DESTROY, &[rd, 31 << 39, 1]);
    assert_eq!(out[..3], [SUCCESS, l1, 1 << 44]);
    assert_eq!(rtt_destroy(&m, rd, 3 << 39, 2), (error_rtt(0), 1 << 44));
}

#[test]
fn rtt_destroy_top_is_the_rtt_end_when_the_starting_rtt_fits() {
    // 39 bits from level 1 fill the level-1 RTT (concatenated RTTs: `rmi_rtt.rs`).
    let (m, mut g) = (machine(), Granules::new());
    let rd = realm(&m, &mut g, 39, 1);
    assert_eq!(rtt_destroy(&m, rd, GIB, 3), (error_rtt(1), 1 << 39));
    assert_eq!(data_destroy(&m, rd, GIB), (error_rtt(1), 1 << 39));
    assert_eq!(unmap(&m, rd, 1 << 38, 2), (error_rtt(1), 1 << 39));
}

#[test]
fn data_destroy_top_stops_at_ipa_width_when_the_starting_rtt_spans_more() {
    let (m, mut g) = (machine(), Granules::new());
    let rd = realm(&m, &mut g, 36, 1);
    let (end, e1) = (1 << 36, error_rtt(1));
    // rtt_walk at level 1, from a Protected IPA: the scan goes on into the Unprotected half.
    assert_eq!(data_destroy(&m, rd, 5 * GIB), (e1, end));
    let ns_last = end - GIB;
    let desc = NS_BLOCK | WB_RW;
    assert_eq!(
        rmi(&m, RMI_RTT_MAP_UNPROTECTED, &[rd, ns_last, 1, desc])[0],
        SUCCESS
    );
    assert_eq!(data_destroy(&m, rd, 5 * GIB), (e1, ns_last));
    assert_eq!(unmap(&m, rd, ns_last, 1), (SUCCESS, end));
    assert_eq!(data_destroy(&m, rd, 5 * GIB), (e1, end));
}

#[test]
fn rtt_unmap_unprotected_top_stops_at_ipa_width_when_the_starting_rtt_spans_more() {
    let (m, mut g) = (machine(), Granules::new());
    let rd = realm(&m, &mut g, 36, 1);
    let (end, e1) = (1 << 36, error_rtt(1));
    let first_ns = 1 << 35;
    // rtt_walk: no level-2 RTT, the walk stops at level 1.
    assert_eq!(unmap(&m, rd, first_ns, 2), (e1, end));
    // rtte_state at level 1, then success: nothing live after the block.
    assert_eq!(unmap(&m, rd, first_ns, 1), (e1, end));
    let desc = NS_BLOCK | WB_RW;
    assert_eq!(
        rmi(&m, RMI_RTT_MAP_UNPROTECTED, &[rd, first_ns, 1, desc])[0],
        SUCCESS
    );
    assert_eq!(unmap(&m, rd, first_ns, 1), (SUCCESS, end));
}

#[test]
fn top_stops_at_ipa_width_in_a_49_bit_realm_from_level_minus_1() {
    // Level -1 with 49 bits: 2 of the 16 entries a level -1 RTT can have.
    let mut w = World::new();
    let rd = w.realm(true, (49, -1, 1));
    let (end, ns) = (1 << 49, 1 << 48);
    assert_eq!(data_destroy(&w.m, rd, 5 * GIB), (ERROR_RTT_M1, end));
    assert_eq!(unmap(&w.m, rd, ns, 1), (ERROR_RTT_M1, end));
    assert_eq!(rtt_destroy(&w.m, rd, ns, 1), (ERROR_RTT_M1, end));
    let l0 = w.rtts(rd, ns, &[0], common::lpa2::Bank::Low)[0];
    assert_eq!(data_destroy(&w.m, rd, 5 * GIB), (ERROR_RTT_M1, ns));
    let out = rmi(&w.m, RMI_RTT_DESTROY, &[rd, ns, 0]);
    assert_eq!(out[..3], [SUCCESS, l0, end]);
}
