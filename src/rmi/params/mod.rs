//! Typed, validated views of the structures the host passes to RMI commands in memory (spec B4.4).
//!
//! Each structure is one 4 KiB page of Non-secure memory. The command copies it into a
//! `[u8; 4096]` buffer (a fault there is RMI_ERROR_INPUT, raised by the caller) and decodes the
//! buffer here: all values are little-endian at the byte offsets of the spec's tables, read with
//! bounds-checked helpers, so no host input can panic.
//!
//! What the parser checks and what the command checks:
//! - `parse` rejects only invalid *encodings*: a reserved value of an enumeration or field. For
//!   RMI_REALM_CREATE this is the `params_valid` failure condition (B3.50 RmiRealmParamsIsValid).
//!   RMI_REC_CREATE and RMI_REC_ENTER have no such condition and every bit pattern of their
//!   structures is a valid encoding, so [`RecParams::parse`] and [`RecEnter::parse`] cannot fail.
//! - Conditions the spec lists separately (`params_supp`, `alias`, `rtt_align`, `mpidr_index`,
//!   `aux_align`, `aux_alias`, ...) are predicate methods named after the spec function they
//!   implement, which the command calls in its own order.
//! - Unused bits are SBZ (should be zero) in input structures and are ignored, as by TF-RMM;
//!   `flags` words keep their raw value because the RIM measures them as given (B4.3.9.4,
//!   B4.3.12.4). Unused bits of [`RecExit`] are MBZ and [`RecExit::write`] writes them as zero.
#![forbid(unsafe_code)]

mod mpidr;
mod realm;
mod rec;
mod rec_run;

pub use mpidr::{mpidr_equal, mpidr_is_used, RecMpidr};
pub use realm::{RealmFlags, RealmParams, REALM_PARAMS_SIZE};
pub use rec::{aux_alias, aux_aligned, RecCreateFlags, RecParams, Runnable, REC_PARAMS_SIZE};
pub use rec_run::{
    EmulatedMmio, InjectSea, PmuOverflowStatus, RecEnter, RecEnterFlags, RecExit, RecExitReason,
    RmiResponse, RmiRipas, Trap, REC_ENTER_SIZE, REC_EXIT_OFFSET, REC_EXIT_SIZE, REC_RUN_SIZE,
};

use super::RmiError;

/// An invalid encoding in a host-provided structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamsError {
    /// RmiRealmParams.hash_algo is a reserved RmiHashAlgorithm encoding (B4.4.7).
    HashAlgorithm(u8),
    /// RmiRealmParams.num_bps is 0, a reserved value (B4.4.12).
    NumBps,
    /// RmiRealmParams.num_wps is 0, a reserved value (B4.4.12).
    NumWps,
    /// RmiRecExit.exit_reason is a reserved RmiRecExitReason encoding (B4.4.17).
    ExitReason(u8),
    /// RmiRecExit.ripas_value is a reserved RmiRipas encoding (B4.4.23).
    Ripas(u8),
    /// RmiRecExit.pmu_ovf_status is a reserved RmiPmuOverflowStatus encoding (B4.4.10).
    PmuOverflowStatus(u8),
}

impl From<ParamsError> for RmiError {
    /// Every invalid encoding of a command's input structure is RMI_ERROR_INPUT (e.g. B4.3.9
    /// `params_valid`).
    fn from(_: ParamsError) -> Self {
        RmiError::INPUT
    }
}

/// The little-endian value of `N` bytes at `offset`; bytes past the end of `bytes` read as zero.
fn read_le<const N: usize>(bytes: &[u8], offset: usize) -> [u8; N] {
    let mut out = [0; N];
    if let Some(src) = offset.checked_add(N).and_then(|end| bytes.get(offset..end)) {
        out.copy_from_slice(src);
    }
    out
}

/// The byte at `offset`.
fn read_u8(bytes: &[u8], offset: usize) -> u8 {
    read_le::<1>(bytes, offset)[0]
}

/// The little-endian `u16` at `offset`.
fn read_u16(bytes: &[u8], offset: usize) -> u16 {
    u16::from_le_bytes(read_le(bytes, offset))
}

/// The little-endian `u32` at `offset`.
fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(read_le(bytes, offset))
}

/// The little-endian `u64` at `offset`.
fn read_u64(bytes: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(read_le(bytes, offset))
}

/// `N` consecutive little-endian `u64`s from `offset`; those past the end of `bytes` read as
/// zero.
fn read_u64s<const N: usize>(bytes: &[u8], offset: usize) -> [u64; N] {
    let mut out = [0; N];
    let src = bytes.get(offset..).unwrap_or_default().chunks_exact(8);
    for (value, chunk) in out.iter_mut().zip(src) {
        *value = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
    }
    out
}

/// Writes `value` at `offset`. Offsets are constants checked against the structure size at
/// compile time, so an out-of-range write is a bug of ours, never host input.
fn write_le(bytes: &mut [u8], offset: usize, value: &[u8]) {
    let dst = offset
        .checked_add(value.len())
        .and_then(|end| bytes.get_mut(offset..end));
    debug_assert!(dst.is_some(), "write past the end of a structure");
    if let Some(dst) = dst {
        dst.copy_from_slice(value);
    }
}

/// Writes `values` as consecutive little-endian `u64`s from `offset`.
fn write_u64s(bytes: &mut [u8], offset: usize, values: &[u64]) {
    let dst = (values.len().checked_mul(8))
        .and_then(|len| offset.checked_add(len))
        .and_then(|end| bytes.get_mut(offset..end));
    debug_assert!(dst.is_some(), "write past the end of a structure");
    for (chunk, value) in dst.unwrap_or_default().chunks_exact_mut(8).zip(values) {
        if let Ok(word) = <&mut [u8; 8]>::try_from(chunk) {
            *word = value.to_le_bytes();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn reads_are_little_endian_and_bounds_safe() {
        let bytes = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(read_u8(&bytes, 8), 9);
        assert_eq!(read_u16(&bytes, 0), 0x0201);
        assert_eq!(read_u32(&bytes, 1), 0x0504_0302);
        assert_eq!(read_u64(&bytes, 0), 0x0807_0605_0403_0201);
        // Past the end (or overflowing the offset): zero, no panic.
        assert_eq!(read_u64(&bytes, 2), 0);
        assert_eq!(read_u8(&bytes, 9), 0);
        assert_eq!(read_u64(&bytes, usize::MAX), 0);
        assert_eq!(read_u64s::<2>(&bytes, 0), [0x0807_0605_0403_0201, 0]);
    }

    #[test]
    fn writes_are_little_endian() {
        let mut bytes = [0u8; 20];
        write_u64s(&mut bytes, 2, &[0x1122_3344_5566_7788, 0x99]);
        assert_eq!(
            bytes[..10],
            [0, 0, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]
        );
        assert_eq!(bytes[10], 0x99);
        assert!(bytes[11..].iter().all(|&b| b == 0));
    }

    #[test]
    fn params_error_is_error_input() {
        assert_eq!(RmiError::from(ParamsError::NumBps), RmiError::INPUT);
        assert_eq!(
            RmiError::from(ParamsError::HashAlgorithm(2)),
            RmiError::INPUT
        );
    }
}
