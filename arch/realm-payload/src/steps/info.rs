//! RSI_VERSION, RSI_FEATURES and RSI_REALM_CONFIG.

use super::Config;
use crate::report::{step, Page};
use crate::rsi::{self, REVISION_1_0, SUCCESS};
use core::sync::atomic::Ordering;
use rmm_arch::realm_report::Step;

/// The granule RSI_REALM_CONFIG writes RsiRealmConfig into.
static CONFIG_PAGE: Page = Page::new();

/// RSI_VERSION(1.0): SUCCESS, lower = higher = 1.0.
pub fn rsi_version() {
    let [result, lower, higher] = rsi::version(REVISION_1_0);
    let ok = result == SUCCESS && lower == REVISION_1_0 && higher == REVISION_1_0;
    step(Step::RsiVersion, ok, [result, lower, higher, 0]);
}

/// RSI_FEATURES(0): SUCCESS, every feature bit zero in RSI 1.0.
pub fn rsi_features() {
    let (result, value) = rsi::features(0);
    step(
        Step::RsiFeatures,
        result == SUCCESS && value == 0,
        [result, value, 0, 0],
    );
}

/// RSI_REALM_CONFIG: ipa_width (offset 0) and hash_algo (offset 8) are what the host set.
pub fn realm_config(config: &Config) {
    let result = rsi::realm_config(CONFIG_PAGE.ipa());
    let ipa_width = CONFIG_PAGE.words[0].load(Ordering::Relaxed);
    let hash_algo = CONFIG_PAGE.words[1].load(Ordering::Relaxed) & 0xff;
    let ok = result == SUCCESS && ipa_width == config.ipa_width && hash_algo == config.hash_algo;
    step(
        Step::RealmConfig,
        ok,
        [result, ipa_width, hash_algo, config.ipa_width],
    );
}
