//! RSI_ATTESTATION_TOKEN_INIT and _CONTINUE with the host's challenge, then the token handed
//! to the host through the shared (Unprotected) granules.

use super::Config;
use crate::report::{request, step, token_shared, Page, PAGE_WORDS};
use crate::rsi::{self, INCOMPLETE, SUCCESS};
use core::sync::atomic::Ordering;
use rmm_arch::realm_report::{Step, REQUEST_CHALLENGE, SHARED_OFFSET, SHARED_PAGES};
use rmm_arch::GRANULE_SIZE;

/// Granules of the token buffer.
const TOKEN_PAGES: usize = 2;
/// Most TOKEN_CONTINUE calls (signing is interruptible: each call may do only a part).
const MAX_CONTINUE_CALLS: u64 = 1_000_000;

/// The token buffer, granule by granule.
static TOKEN: [Page; TOKEN_PAGES] = [const { Page::new() }; TOKEN_PAGES];

/// The whole sequence: INIT, CONTINUE until SUCCESS, copy and hand over.
pub fn token(config: &Config) {
    let challenge = request(REQUEST_CHALLENGE);
    let (result, upper_bound) = rsi::attestation_token_init(challenge);
    step(
        Step::TokenInit,
        result == SUCCESS,
        [result, upper_bound, challenge[0], 0],
    );
    let Some(len) = fetch_token(upper_bound) else {
        return;
    };
    share(config, len);
}

/// TOKEN_CONTINUE into the buffer until SUCCESS; the token length if it completed.
fn fetch_token(upper_bound: u64) -> Option<u64> {
    let capacity = TOKEN_PAGES as u64 * GRANULE_SIZE;
    let (mut len, mut calls, mut result) = (0u64, 0u64, INCOMPLETE);
    while result == INCOMPLETE && len < capacity && calls < MAX_CONTINUE_CALLS {
        let page = &TOKEN[(len / GRANULE_SIZE) as usize];
        let offset = len % GRANULE_SIZE;
        let (r, written) =
            rsi::attestation_token_continue(page.ipa(), offset, GRANULE_SIZE - offset);
        result = r;
        len += written.min(GRANULE_SIZE - offset);
        calls += 1;
    }
    let ok = result == SUCCESS && len > 0;
    step(Step::TokenContinue, ok, [result, len, calls, upper_bound]);
    ok.then_some(len)
}

/// Copies the token into the shared granules and tells the host where it is.
fn share(config: &Config, len: u64) {
    let shared = config.unprotected_base() + SHARED_OFFSET;
    if len > SHARED_PAGES * GRANULE_SIZE {
        step(
            Step::TokenShare,
            false,
            [shared, len, SHARED_PAGES * GRANULE_SIZE, 0],
        );
        return;
    }
    for i in 0..len.div_ceil(8) as usize {
        let word = TOKEN[i / PAGE_WORDS].words[i % PAGE_WORDS].load(Ordering::Relaxed);
        crate::mmio::write(shared + 8 * i as u64, word);
    }
    token_shared(shared, len);
    step(Step::TokenShare, true, [shared, len, 0, 0]);
}
