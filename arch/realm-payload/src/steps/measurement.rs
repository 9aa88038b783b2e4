//! RSI_MEASUREMENT_READ of the RIM and RSI_MEASUREMENT_EXTEND of REM 1. The host checks the
//! values: the RIM against the one it computed, REM 1 against one extension of zero.

use crate::report::step;
use crate::rsi::{self, SUCCESS};
use rmm_arch::realm_report::{Step, EXTEND_SIZE, EXTEND_VALUE};

/// Index of the RIM.
const RIM: u64 = 0;
/// The REM the realm extends.
const REM: u64 = 1;

fn first_four(value: &[u64; 8]) -> [u64; 4] {
    [value[0], value[1], value[2], value[3]]
}

/// MEASUREMENT_READ(0): SUCCESS and not zero; doublewords 0..3 go to the host.
pub fn rim_read() {
    let (result, rim) = rsi::measurement_read(RIM);
    let ok = result == SUCCESS && rim != [0; 8];
    step(Step::RimRead, ok, first_four(&rim));
}

/// MEASUREMENT_EXTEND(1, EXTEND_VALUE): REM 1 is zero before and changes; its doublewords 0..3
/// go to the host.
pub fn rem_extend() {
    let (read_before, before) = rsi::measurement_read(REM);
    let mut value = [0u64; 8];
    value[..4].copy_from_slice(&EXTEND_VALUE);
    let extended = rsi::measurement_extend(REM, EXTEND_SIZE, value);
    let (read_after, after) = rsi::measurement_read(REM);
    let ok = read_before == SUCCESS
        && before == [0; 8]
        && extended == SUCCESS
        && read_after == SUCCESS
        && after != before;
    step(Step::RemExtend, ok, first_four(&after));
}
