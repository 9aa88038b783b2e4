//! Realm Extensible Measurements: extension by the Realm (spec A7.1.2).

use super::algorithm::Hasher;
use super::{HashAlgorithm, Measurement, MeasurementError, MEASUREMENT_SIZE};

/// Spec B3.42 RemExtend: extends `rem` with the `size` least significant bytes of `value`
/// (RSI_MEASUREMENT_EXTEND, B5.3.7).
///
/// The hash input is the 1024-bit concatenation of the old REM (all 64 bytes, zero padded past
/// the digest) and `value` with bytes `size..64` cleared: H(old[0..64] || value[0..size] ||
/// zeros[size..64]). Fails with [`MeasurementError::InvalidSize`], leaving `rem` unchanged,
/// if `size` > 64 (B5.3.7.2 `size_bound`).
pub fn rem_extend(
    algo: HashAlgorithm,
    rem: &mut Measurement,
    value: &Measurement,
    size: u64,
) -> Result<(), MeasurementError> {
    let size = usize::try_from(size)
        .ok()
        .filter(|&s| s <= MEASUREMENT_SIZE)
        .ok_or(MeasurementError::InvalidSize)?;
    let mut padded = [0u8; MEASUREMENT_SIZE];
    let value = value.as_bytes().iter().take(size);
    padded.iter_mut().zip(value).for_each(|(p, v)| *p = *v);
    let mut h = Hasher::new(algo);
    h.update(rem.as_bytes());
    h.update(&padded);
    *rem = h.finalize();
    Ok(())
}
