//! RSI_MEASUREMENT_READ (spec B5.3.8) and RSI_MEASUREMENT_EXTEND (B5.3.7).

use super::{answer, with_rd, RSI_ERROR_INPUT, RSI_ERROR_UNKNOWN, RSI_SUCCESS};
use crate::measurement::{rem_extend, HashAlgorithm, Measurement, NUM_MEASUREMENTS};
use crate::platform::Platform;
use crate::rec::{Handled, Stage2, VcpuContext};

/// RSI_MEASUREMENT_READ: x1 index (0 the RIM, 1..=4 a REM). Returns the measurement in
/// x1..x8, zero padded past the digest.
///
/// Failure condition: `index_bound` (index > 4: RSI_ERROR_INPUT).
pub fn read<P: Platform>(vcpu: &mut VcpuContext, stage2: &Stage2<'_, P>) -> Handled {
    let index = vcpu.gprs[1];
    if index >= NUM_MEASUREMENTS as u64 {
        return answer(vcpu, &[RSI_ERROR_INPUT]); // index_bound
    }
    let Some(value) = with_rd(stage2, |rd| rd.measurement(index as usize)) else {
        return answer(vcpu, &[RSI_ERROR_UNKNOWN]);
    };
    let words = Measurement::from_bytes(value).to_words();
    let mut outputs = [RSI_SUCCESS; 9];
    outputs[1..].copy_from_slice(&words);
    answer(vcpu, &outputs)
}

/// RSI_MEASUREMENT_EXTEND: x1 index (1..=4), x2 size, x3..x10 value. REM `index` becomes
/// RemExtend(hash_algo, REM, value, size) (B5.3.7.3 `realm_meas`, B3.42).
///
/// Failure conditions, unordered: `index_bound` (index < 1 or > 4), `size_bound` (size > 64),
/// both RSI_ERROR_INPUT.
pub fn extend<P: Platform>(vcpu: &mut VcpuContext, stage2: &Stage2<'_, P>) -> Handled {
    let [index, size] = [vcpu.gprs[1], vcpu.gprs[2]];
    if !(1..NUM_MEASUREMENTS as u64).contains(&index) {
        return answer(vcpu, &[RSI_ERROR_INPUT]); // index_bound
    }
    let mut words = [0u64; 8];
    words.copy_from_slice(&vcpu.gprs[3..11]);
    let value = Measurement::from_words(words);
    let extended = with_rd(stage2, |rd| {
        let algo = HashAlgorithm::from_rmi(rd.config().hash_algo)?;
        let mut rem = Measurement::from_bytes(rd.measurement(index as usize));
        rem_extend(algo, &mut rem, &value, size).ok()?; // size_bound
        rd.set_measurement(index as usize, rem.as_bytes());
        Some(())
    });
    match extended {
        Some(Some(())) => answer(vcpu, &[RSI_SUCCESS]),
        // rem_extend refuses only a size above 64 bytes; the RD's algorithm is valid.
        _ => answer(vcpu, &[RSI_ERROR_INPUT]), // size_bound
    }
}
