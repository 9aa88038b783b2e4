//! A running realm with LPA2 and a 52-bit IPA space on the host platform (spec A3.1.2), built by
//! `RealmWorld::new_lpa2`: its RTTs below the root and its DATA granules at PAs with bits 51:48
//! set. What it reaches through both halves of its IPA space and the stage-2 registers it runs
//! with; the RTT_MAP_UNPROTECTED and RTT_UNMAP_UNPROTECTED conditions that name LPA2 or the IPA
//! width; the RSI commands' IPA bounds; an RSI access stopped at level -1.

mod common;

use common::realm::*;
use common::*;
use rmm::rec::{esr, hpfar, RealmTrap};
use rmm::rmi::params::RecExitReason;
use std::sync::{Arc, Mutex};

const TOP_PROTECTED: u64 = UNPROTECTED_52 - GRANULE;
const TOP_IPA: u64 = (1 << 52) - GRANULE;
const ERROR_RTT_M1: u64 = error_rtt(0xff);
/// RMI_RTT_MAP_UNPROTECTED attributes: MemAttr[2:0] 0b110 (Normal WB), S2AP read-write.
const WB_RW: u64 = 0b110 << 2 | 0b11 << 6;
const ASSIGNED: u64 = 1;
const UNASSIGNED: u64 = 0;

const RSI_REALM_CONFIG: u64 = 0xC400_0196;
const RSI_IPA_STATE_SET: u64 = 0xC400_0197;
const RSI_IPA_STATE_GET: u64 = 0xC400_0198;
const RSI_HOST_CALL: u64 = 0xC400_0199;
const RSI_SUCCESS: u64 = 0;
const RSI_ERROR_INPUT: u64 = 1;
const RSI_EMPTY: u64 = 0;
const RSI_RAM: u64 = 1;

fn world() -> RealmWorld {
    RealmWorld::new_lpa2(&[true])
}

/// `pa` as an LPA2 descriptor's address field: bits 49:12 in place, 51:50 in bits 9:8.
fn lpa2_desc(pa: u64) -> u64 {
    (pa & 0x0003_ffff_ffff_f000) | ((pa >> 50) & 3) << 8
}

/// RTTs at `levels` for `ipa`, each aligned to its parent's entries, from [`HIGH_DRAM`].
fn rtts(w: &RealmWorld, ipa: u64, levels: &[u64]) {
    for &level in levels {
        let rtt = w.del_data();
        let ipa = ipa & !((1u64 << (12 + 9 * (4 - level))) - 1);
        let x0 = w.rmi(RMI_RTT_CREATE, &[w.rd, rtt, ipa, level])[0];
        assert_eq!(x0, SUCCESS, "RTT_CREATE {ipa:#x} level {level}");
    }
}

fn map(w: &RealmWorld, ipa: u64, level: i64, desc: u64) -> u64 {
    w.rmi(RMI_RTT_MAP_UNPROTECTED, &[w.rd, ipa, level as u64, desc])[0]
}

fn unmap(w: &RealmWorld, ipa: u64, level: i64) -> [u64; 2] {
    let out = w.rmi(RMI_RTT_UNMAP_UNPROTECTED, &[w.rd, ipa, level as u64]);
    [out[0], out[1]]
}

#[test]
fn rtt_map_unprotected_addr_bound_lpa2() {
    // Without LPA2 an output address at or above 2^48 is refused: bits 49:48, or bits 51:50
    // in descriptor bits 9:8.
    let w = RealmWorld::new(&[true]);
    for addr in [1 << 48, 1 << 50, HIGH_DRAM.0] {
        let x0 = w.rmi(
            RMI_RTT_MAP_UNPROTECTED,
            &[w.rd, UNPROTECTED, 3, lpa2_desc(addr) | WB_RW],
        );
        assert_eq!(x0[0], ERROR_INPUT, "{addr:#x}");
    }
    // With LPA2 the same addresses map, and RTT_READ_ENTRY gives the descriptor back.
    let w = world();
    rtts(&w, TOP_IPA, &[0, 1, 2, 3]);
    let ns = w.ns_high();
    let desc = lpa2_desc(ns) | WB_RW;
    assert_eq!(desc & 0x300, 0x300, "PA bits 51:50 in bits 9:8");
    assert_eq!(map(&w, TOP_IPA, 3, desc), SUCCESS);
    assert_eq!(
        read_entry(&w.m, w.rd, TOP_IPA, 3),
        [SUCCESS, 3, ASSIGNED, desc, 0]
    );
    assert_eq!(unmap(&w, TOP_IPA, 3), [SUCCESS, 1 << 52]);
    assert_eq!(
        read_entry(&w.m, w.rd, TOP_IPA, 3)[..4],
        [SUCCESS, 3, UNASSIGNED, 0]
    );
    // A 1 GiB block at PA 3 * 2^50.
    let block = lpa2_desc(3 << 50) | WB_RW;
    assert_eq!(map(&w, UNPROTECTED_52, 1, block), ERROR_RTT_M1);
    rtts(&w, UNPROTECTED_52, &[0, 1]);
    assert_eq!(map(&w, UNPROTECTED_52, 1, block), SUCCESS);
    assert_eq!(
        read_entry(&w.m, w.rd, UNPROTECTED_52 + 0x1000, 3),
        [SUCCESS, 1, ASSIGNED, block, 0]
    );
}

#[test]
fn rtt_map_unprotected_level_bound_52_bit_realm() {
    let w = world();
    rtts(&w, TOP_IPA, &[0, 1]);
    for level in [-1, 0, -2, 4] {
        assert_eq!(
            map(&w, TOP_IPA & !((1 << 48) - 1), level, WB_RW),
            ERROR_INPUT
        );
    }
    assert_eq!(map(&w, TOP_IPA & !((1 << 39) - 1), 1, WB_RW), SUCCESS);
}

#[test]
fn rtt_map_unprotected_ipa_bound_52_bit_realm() {
    let w = world();
    rtts(&w, TOP_PROTECTED, &[0, 1, 2, 3]);
    rtts(&w, TOP_IPA, &[0, 1, 2, 3]);
    for ipa in [TOP_PROTECTED, DATA, 1 << 52, (1 << 52) + TOP_IPA] {
        assert_eq!(map(&w, ipa, 3, WB_RW), ERROR_INPUT, "{ipa:#x}");
    }
    assert_eq!(map(&w, TOP_IPA, 3, WB_RW), SUCCESS);
}

#[test]
fn rtt_unmap_unprotected_level_bound_52_bit_realm() {
    let w = world();
    rtts(&w, TOP_IPA, &[0, 1]);
    assert_eq!(map(&w, TOP_IPA & !((1 << 39) - 1), 1, WB_RW), SUCCESS);
    for level in [-1, 0, 4] {
        assert_eq!(unmap(&w, TOP_IPA & !((1 << 48) - 1), level)[0], ERROR_INPUT);
    }
    assert_eq!(unmap(&w, TOP_IPA & !((1 << 39) - 1), 1)[0], SUCCESS);
}

#[test]
fn rtt_unmap_unprotected_ipa_bound_52_bit_realm() {
    let w = world();
    for ipa in [TOP_PROTECTED, 0, 1 << 52] {
        assert_eq!(unmap(&w, ipa, 3)[0], ERROR_INPUT, "{ipa:#x}");
    }
    // Unprotected, in bound: the walk stops at the level -1 entry; x1 is the IPA past the
    // level -1 RTT, whose 16 entries hold nothing live from there.
    assert_eq!(unmap(&w, TOP_IPA, 3), [ERROR_RTT_M1, 1 << 52]);
}

#[test]
fn realm_52_bit_uses_protected_and_unprotected_halves() {
    let w = world();
    // A Non-secure page at a PA with bits 51:48 set, mapped at the last page of the IPA space.
    rtts(&w, TOP_IPA, &[0, 1, 2, 3]);
    let ns = w.ns_high();
    let pattern: Vec<u8> = (0..64).map(|i| 0xa0 ^ i).collect();
    w.m.ns_write(ns, &pattern).unwrap();
    assert_eq!(map(&w, TOP_IPA, 3, lpa2_desc(ns) | WB_RW), SUCCESS);
    let seen = Arc::new(Mutex::new(None));
    let translation = seen.clone();
    // The realm copies the host's bytes into its DATA page (in HIGH_DRAM), answers in the
    // Non-secure page, then stores to an Unprotected IPA whose level -1 entry is
    // UNASSIGNED_NS: a translation fault at level -1 (FSC 0x2b), emulatable.
    let mmio = UNPROTECTED_52 + GRANULE;
    let esr =
        esr::data_abort(true, true, 3, 5) & !esr::FSC_MASK | esr::FSC_TRANSLATION_LEVEL_MINUS_1;
    let exit = w.run(
        w.rec(0),
        vec![
            Step::Memory(Box::new(move |mem| {
                let mut buf = [0u8; 64];
                mem.read(TOP_IPA, &mut buf).unwrap();
                mem.write(DATA, &buf).unwrap();
                mem.write(TOP_IPA + 0x100, b"from the realm").unwrap();
                *translation.lock().unwrap() = Some(mem.translation());
            })),
            Step::Regs(vec![0, 0, 0, 0, 0, 0x5252]),
            Step::Trap(RealmTrap::Sync {
                esr,
                far: mmio,
                hpfar: hpfar(mmio),
            }),
        ],
    );
    let mut copied = [0u8; 64];
    w.read_data(DATA, &mut copied);
    assert_eq!(copied[..], pattern[..]);
    let mut answer = [0u8; 14];
    w.m.ns_read(ns + 0x100, &mut answer).unwrap();
    assert_eq!(&answer, b"from the realm");
    // The exit: the 52-bit IPA in HPFAR (bits 43:4), FSC, ISV and the stored value.
    assert_eq!(exit.exit_reason, RecExitReason::Sync);
    assert_eq!((exit.hpfar, exit.far), (hpfar(mmio), 0));
    assert_eq!(rmm::rec::fault_ipa(exit.hpfar, exit.far), mmio);
    assert_eq!(exit.esr & esr::FSC_MASK, esr::FSC_TRANSLATION_LEVEL_MINUS_1);
    assert_ne!(exit.esr & esr::ISV, 0);
    assert_eq!(exit.gprs[0], 0x5252);
    // What the hardware translates with: T0SZ 12, a level -1 start (SL0 0, SL2) with DS.
    let t = seen.lock().unwrap().expect("the realm ran");
    let root = rmm::realm::Rd::new(rmm::platform::Platform::granule(w.m.rmm().platform(), w.rd))
        .config()
        .rtt_base;
    assert_eq!((t.rtt_base, t.vmid, t.t0sz, t.sl0), (root, 1, 12, 0));
    assert!(t.sl2 && t.ds);
}

#[test]
fn rsi_realm_config_ipa_width_52() {
    let w = world();
    assert_eq!(w.call(&[RSI_REALM_CONFIG, DATA])[0], RSI_SUCCESS);
    let mut page = [0u8; 16];
    w.read_data(DATA, &mut page);
    assert_eq!(u64::from_le_bytes(page[..8].try_into().unwrap()), 52);
}

#[test]
fn rsi_realm_config_addr_bound_52_bit_realm() {
    let w = world();
    for addr in [UNPROTECTED_52, TOP_IPA, 1 << 52] {
        assert_eq!(
            w.call(&[RSI_REALM_CONFIG, addr])[0],
            RSI_ERROR_INPUT,
            "{addr:#x}"
        );
    }
    // Protected above 2^48, RIPAS EMPTY: refused too, as memory the realm gave away.
    assert_eq!(w.call(&[RSI_REALM_CONFIG, 2 * RAM_LM1])[0], RSI_ERROR_INPUT);
}

#[test]
fn rsi_realm_config_memory_not_mapped_level_minus_1() {
    // RIPAS RAM, nothing assigned, no RTT below level -1: a REC exit due to a Data Abort
    // reported as a translation fault at level -1.
    let w = world();
    let exit = w.run(w.rec(0), vec![Step::Smc(vec![RSI_REALM_CONFIG, RAM_LM1])]);
    assert_eq!(exit.exit_reason, RecExitReason::Sync);
    assert_eq!(esr::ec(exit.esr), esr::EC_DABT_LOWER);
    assert_eq!(exit.esr & esr::FSC_MASK, esr::FSC_TRANSLATION_LEVEL_MINUS_1);
    assert_eq!((exit.hpfar, exit.far), (hpfar(RAM_LM1), 0));
}

#[test]
fn rsi_ipa_state_get_rgn_bound_52_bit_realm() {
    let w = world();
    let g = GRANULE;
    for (base, top) in [
        (UNPROTECTED_52 - g, UNPROTECTED_52 + g),
        (UNPROTECTED_52, UNPROTECTED_52 + g),
        (0, 1 << 52),
    ] {
        let out = w.call(&[RSI_IPA_STATE_GET, base, top]);
        assert_eq!(out[0], RSI_ERROR_INPUT, "{base:#x}..{top:#x}");
    }
    // Runs of level -1 entries: RAM over one, EMPTY up to the Unprotected half.
    let get = |base: u64, top: u64| {
        let out = w.call(&[RSI_IPA_STATE_GET, base, top]);
        assert_eq!(out[0], RSI_SUCCESS);
        [out[1], out[2]]
    };
    assert_eq!(get(RAM_LM1, UNPROTECTED_52), [2 * RAM_LM1, RSI_RAM]);
    assert_eq!(
        get(2 * RAM_LM1, UNPROTECTED_52),
        [UNPROTECTED_52, RSI_EMPTY]
    );
    assert_eq!(
        get(TOP_PROTECTED, UNPROTECTED_52),
        [UNPROTECTED_52, RSI_EMPTY]
    );
}

#[test]
fn rsi_ipa_state_set_rgn_bound_52_bit_realm() {
    let w = world();
    let g = GRANULE;
    for (base, top) in [(UNPROTECTED_52 - g, UNPROTECTED_52 + g), (TOP_IPA, 1 << 52)] {
        let out = w.call(&[RSI_IPA_STATE_SET, base, top, RSI_RAM, 0]);
        assert_eq!(out[0], RSI_ERROR_INPUT, "{base:#x}..{top:#x}");
        assert_eq!(w.st(w.rec(0)).ripas_change().top, 0);
    }
}

#[test]
fn rsi_host_call_addr_bound_52_bit_realm() {
    let w = world();
    for addr in [UNPROTECTED_52, TOP_IPA + 0x100, 1 << 52] {
        assert_eq!(
            w.call(&[RSI_HOST_CALL, addr])[0],
            RSI_ERROR_INPUT,
            "{addr:#x}"
        );
        assert!(!w.st(w.rec(0)).host_call_pending());
    }
}

#[test]
fn rsi_attestation_token_continue_addr_bound_52_bit_realm() {
    const INIT: u64 = 0xC400_0194;
    const CONTINUE: u64 = 0xC400_0195;
    let w = world();
    assert_eq!(w.call(&[INIT, 1, 2, 3, 4, 5, 6, 7, 8])[0], RSI_SUCCESS);
    for addr in [UNPROTECTED_52, TOP_IPA, 1 << 52] {
        let out = w.call(&[CONTINUE, addr, 0, 64]);
        assert_eq!(out[..2], [RSI_ERROR_INPUT, 0], "{addr:#x}");
    }
    // The DATA page, at a PA with bits 51:48 set: the token goes on (or is complete).
    let out = w.call(&[CONTINUE, DATA, 0, 64]);
    assert!(matches!(out[0], 0 | 3), "x0 {}", out[0]);
}
