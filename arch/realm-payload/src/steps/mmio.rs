//! Emulated MMIO at an Unprotected IPA: a write the host checks, a read the host answers.

use super::Config;
use crate::report::{request, step};
use rmm_arch::realm_report::{Step, MMIO_OFFSET, MMIO_WRITE_VALUE, REQUEST_MMIO_VALUE};

/// Writes MMIO_WRITE_VALUE (the host checks it), then reads the value the host said it would
/// return.
pub fn write_and_read(config: &Config) {
    let ipa = config.unprotected_base() + MMIO_OFFSET;
    let expected = request(REQUEST_MMIO_VALUE)[0];
    crate::mmio::write(ipa, MMIO_WRITE_VALUE);
    step(Step::MmioWrite, true, [MMIO_WRITE_VALUE, ipa, 0, 0]);
    let value = crate::mmio::read(ipa);
    step(Step::MmioRead, value == expected, [value, expected, ipa, 0]);
}
