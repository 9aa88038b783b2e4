//! RMI_VERSION and RMI_FEATURES.

use crate::console::println;
use crate::report::{check, fail, rmi, Outcome};
use crate::rmi::{self as call, REVISION_1_0};

/// Smallest IPA width the realm scenario needs.
pub const MIN_S2SZ: u64 = 40;

pub fn run() {
    check(format_args!("rmi_version"), version());
    check(format_args!("rmi_features"), features());
}

fn revision(v: u64) -> (u64, u64) {
    ((v >> 16) & 0x7fff, v & 0xffff)
}

/// RMI_VERSION(1.0): SUCCESS, lower = 1.0, higher = 1.0 or a later 1.x.
fn version() -> Outcome {
    let [x0, lower, higher] = call::version(REVISION_1_0);
    let (lo, hi) = (revision(lower), revision(higher));
    println!(
        "test-host: RMI_VERSION(1.0) -> x0={:#x} lower={}.{} higher={}.{}",
        x0, lo.0, lo.1, hi.0, hi.1
    );
    if x0 != 0 {
        fail!("x0={:#x}, expected RMI_SUCCESS", x0);
    }
    if lower != REVISION_1_0 || hi.0 != 1 {
        fail!(
            "lower {}.{} higher {}.{}, expected 1.0 and 1.x",
            lo.0,
            lo.1,
            hi.0,
            hi.1
        );
    }
    Ok(())
}

/// RMI_FEATURES(0): S2SZ at least 40 and at most 52, SHA-256; any other index reads 0.
fn features() -> Outcome {
    let reg0 = rmi!("RMI_FEATURES(0)", call::features(0));
    let field = |lsb: u32, width: u32| (reg0 >> lsb) & ((1 << width) - 1);
    let s2sz = field(0, 8);
    println!(
        "test-host: RMI_FEATURES(0) = {:#x}: S2SZ={} LPA2={} SVE={} NUM_BPS={} NUM_WPS={} PMU={} SHA-256={} SHA-512={}",
        reg0,
        s2sz,
        field(8, 1),
        field(9, 1),
        field(14, 6) + 1,
        field(20, 6) + 1,
        field(26, 1),
        field(32, 1),
        field(33, 1),
    );
    if !(MIN_S2SZ..=52).contains(&s2sz) {
        fail!("S2SZ {} outside {}..=52", s2sz, MIN_S2SZ);
    }
    if field(32, 1) == 0 {
        fail!("SHA-256 not supported (register 0 = {:#x})", reg0);
    }
    let reg1 = rmi!("RMI_FEATURES(1)", call::features(1));
    if reg1 != 0 {
        fail!("RMI_FEATURES(1) = {:#x}, expected 0", reg1);
    }
    Ok(())
}
