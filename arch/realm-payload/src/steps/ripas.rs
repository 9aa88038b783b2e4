//! RSI_IPA_STATE_GET and RSI_IPA_STATE_SET: RAM at IPA 0; the test range to EMPTY and back to
//! RAM (each SET exits to the host, which applies it with RMI_RTT_SET_RIPAS and accepts).

use crate::report::step;
use crate::rsi::{self, ACCEPT, RIPAS_EMPTY, RIPAS_RAM, SUCCESS};
use rmm_arch::realm_report::{Step, RIPAS_TEST_BASE, RIPAS_TEST_TOP};

/// Most IPA_STATE_SET calls for one range (the host may apply it in pieces).
const MAX_SET_CALLS: u64 = 64;

/// IPA_STATE_GET of [base, top): SUCCESS, RIPAS `expected` from `base` on; reported as `what`.
fn check_ripas(what: Step, base: u64, top: u64, expected: u64) {
    let (result, out_top, ripas) = rsi::ipa_state_get(base, top);
    let ok = result == SUCCESS && ripas == expected && out_top > base && out_top <= top;
    step(what, ok, [result, out_top, ripas, expected]);
}

/// IPA_STATE_SET of the test range to `ripas`, again from `new_base` until all of it is done;
/// reported as `what`.
fn set_ripas(what: Step, ripas: u64) {
    let (mut base, mut calls) = (RIPAS_TEST_BASE, 0);
    let (mut result, mut response) = (SUCCESS, ACCEPT);
    while base < RIPAS_TEST_TOP && result == SUCCESS && response == ACCEPT && calls < MAX_SET_CALLS
    {
        let out = rsi::ipa_state_set(base, RIPAS_TEST_TOP, ripas, 0);
        (result, response) = (out.0, out.2);
        if out.1 <= base {
            break; // no progress
        }
        base = out.1;
        calls += 1;
    }
    let ok = result == SUCCESS && response == ACCEPT && base == RIPAS_TEST_TOP;
    step(what, ok, [result, base, response, calls]);
}

/// IPA 0 (the image) is RAM.
pub fn get_ram() {
    check_ripas(Step::IpaStateGetRam, 0, 0x1000, RIPAS_RAM);
}

/// The test range becomes EMPTY.
pub fn set_and_get_empty() {
    set_ripas(Step::IpaStateSetEmpty, RIPAS_EMPTY);
    check_ripas(
        Step::IpaStateGetEmpty,
        RIPAS_TEST_BASE,
        RIPAS_TEST_TOP,
        RIPAS_EMPTY,
    );
}

/// The test range becomes RAM again.
pub fn set_and_get_ram() {
    set_ripas(Step::IpaStateSetRam, RIPAS_RAM);
    check_ripas(
        Step::IpaStateGetRamAgain,
        RIPAS_TEST_BASE,
        RIPAS_TEST_TOP,
        RIPAS_RAM,
    );
}
