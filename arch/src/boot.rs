//! Cold- and warm-boot argument validation (RMM-EL3 interface 0.3, boot interface).
//!
//! EL3 enters the RMM at one entry point for cold and warm boot. Cold boot: x0 = CPU
//! index, x1 = interface version, x2 = number of CPUs, x3 = shared buffer PA (boot manifest
//! at its base). Warm boot: x0 = CPU index, x1..x3 RES0. Any failure is reported with
//! RMM_BOOT_COMPLETE(x1 = [`BootError::code`]); EL3 then never enters the RMM again.

use crate::el3::{Version, MIN_IFC_VERSION};
use crate::manifest::{self, Manifest, ManifestError};
use crate::GRANULE_SIZE;

/// RMM_BOOT_COMPLETE status for a successful boot (E_RMM_BOOT_SUCCESS).
pub const BOOT_SUCCESS: i64 = 0;

/// Validated cold-boot arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootArgs {
    /// Linear index of this CPU (< `num_cpus`).
    pub cpu_index: usize,
    /// RMM-EL3 interface version EL3 speaks (0.x, x >= 3).
    pub ifc_version: Version,
    /// Number of CPUs EL3 will start (<= the RMM's maximum).
    pub num_cpus: usize,
    /// PA of the 4 KiB shared buffer (non-zero, 4 KiB aligned).
    pub shared_buf_pa: u64,
}

/// A boot failure; [`code`](BootError::code) is the RMM_BOOT_COMPLETE status (E_RMM_BOOT_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootError {
    /// -1 E_RMM_BOOT_UNKNOWN: any failure not covered below.
    Unknown,
    /// -2 E_RMM_BOOT_VERSION_NOT_VALID: interface version not 0.x with x >= 3.
    VersionNotValid,
    /// -3 E_RMM_BOOT_CPUS_OUT_OF_RANGE: more CPUs than the RMM supports.
    CpusOutOfRange,
    /// -4 E_RMM_BOOT_CPU_ID_OUT_OF_RANGE: CPU index >= number of CPUs.
    CpuIdOutOfRange,
    /// -5 E_RMM_BOOT_INVALID_SHARED_BUFFER: shared buffer PA 0 or not 4 KiB aligned.
    InvalidSharedBuffer,
    /// -6 (version) or -7 (data): the boot manifest was rejected.
    Manifest(ManifestError),
}

impl BootError {
    /// The negative status to pass in x1 of RMM_BOOT_COMPLETE.
    pub const fn code(self) -> i64 {
        match self {
            BootError::Unknown => -1,
            BootError::VersionNotValid => -2,
            BootError::CpusOutOfRange => -3,
            BootError::CpuIdOutOfRange => -4,
            BootError::InvalidSharedBuffer => -5,
            BootError::Manifest(e) => e.code(),
        }
    }
}

impl From<ManifestError> for BootError {
    fn from(e: ManifestError) -> Self {
        BootError::Manifest(e)
    }
}

/// Validates the cold-boot registers x0..x3 for an RMM supporting `max_cpus` CPUs.
///
/// Checks in TF-RMM's order: version (-2), CPU count (-3), CPU index (-4), shared
/// buffer (-5). A version with bit 31 or any higher bit of x1 set is rejected (-2).
pub fn cold_boot(
    x0: u64,
    x1: u64,
    x2: u64,
    x3: u64,
    max_cpus: usize,
) -> Result<BootArgs, BootError> {
    let ifc_version = Version::decode(x1)
        .filter(|v| v.is_compatible_with(MIN_IFC_VERSION))
        .ok_or(BootError::VersionNotValid)?;
    let num_cpus = usize::try_from(x2)
        .ok()
        .filter(|&n| n <= max_cpus)
        .ok_or(BootError::CpusOutOfRange)?;
    let cpu_index = warm_boot(x0, num_cpus)?;
    if x3 == 0 || !x3.is_multiple_of(GRANULE_SIZE) {
        return Err(BootError::InvalidSharedBuffer);
    }
    Ok(BootArgs {
        cpu_index,
        ifc_version,
        num_cpus,
        shared_buf_pa: x3,
    })
}

/// [`cold_boot`], then [`manifest::parse`] of the shared buffer through `read`.
pub fn cold_boot_with_manifest(
    regs: [u64; 4],
    max_cpus: usize,
    read: impl Fn(u64) -> Option<u64>,
) -> Result<(BootArgs, Manifest), BootError> {
    let [x0, x1, x2, x3] = regs;
    let args = cold_boot(x0, x1, x2, x3, max_cpus)?;
    let manifest = manifest::parse(read, args.shared_buf_pa)?;
    Ok((args, manifest))
}

/// How many CPUs fit `free` bytes beside `fixed` bytes of other needs, at `per_cpu` bytes each.
pub const fn cpus_that_fit(free: u64, fixed: u64, per_cpu: u64) -> u64 {
    match free.checked_sub(fixed) {
        Some(left) if per_cpu != 0 => left / per_cpu,
        Some(_) => u64::MAX,
        None => 0,
    }
}

/// Validates the warm-boot x0 against the `num_cpus` recorded at cold boot and returns the
/// CPU index. x1..x3 are RES0 in interface 0.3 and are not checked (2.0 puts an activation
/// token in x1).
pub fn warm_boot(x0: u64, num_cpus: usize) -> Result<usize, BootError> {
    usize::try_from(x0)
        .ok()
        .filter(|&i| i < num_cpus)
        .ok_or(BootError::CpuIdOutOfRange)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{slice_reader, DramBank};

    const BUF: u64 = 0x418F_F000;
    const V0_3: u64 = 0x3;

    #[test]
    fn valid_cold_boot() {
        let args = cold_boot(3, 0x4, 4, BUF, 8).unwrap();
        assert_eq!(
            args,
            BootArgs {
                cpu_index: 3,
                ifc_version: Version { major: 0, minor: 4 },
                num_cpus: 4,
                shared_buf_pa: BUF,
            }
        );
        assert_eq!(cold_boot(0, V0_3, 1, 0x1000, 1).unwrap().cpu_index, 0);
    }

    #[test]
    fn cpus_fit_what_is_left() {
        assert_eq!(cpus_that_fit(1000, 100, 300), 3);
        assert_eq!(cpus_that_fit(1000, 1000, 300), 0);
        assert_eq!(cpus_that_fit(100, 1000, 300), 0);
        assert_eq!(cpus_that_fit(100, 0, 0), u64::MAX);
    }

    #[test]
    fn version_not_valid() {
        for x1 in [0x2, 0x0, 0x0001_0003, 0x8000_0003, (1 << 32) | 3] {
            let e = cold_boot(0, x1, 1, BUF, 8).unwrap_err();
            assert_eq!(e, BootError::VersionNotValid, "x1 = {x1:#x}");
            assert_eq!(e.code(), -2);
        }
    }

    #[test]
    fn cpus_out_of_range() {
        let e = cold_boot(0, V0_3, 9, BUF, 8).unwrap_err();
        assert_eq!(e, BootError::CpusOutOfRange);
        assert_eq!(e.code(), -3);
        assert_eq!(
            cold_boot(0, V0_3, u64::MAX, BUF, 8),
            Err(BootError::CpusOutOfRange)
        );
        // Exactly max is fine.
        assert_eq!(cold_boot(7, V0_3, 8, BUF, 8).unwrap().num_cpus, 8);
    }

    #[test]
    fn cpu_id_out_of_range() {
        let e = cold_boot(4, V0_3, 4, BUF, 8).unwrap_err();
        assert_eq!(e, BootError::CpuIdOutOfRange);
        assert_eq!(e.code(), -4);
        assert_eq!(
            cold_boot(0, V0_3, 0, BUF, 8),
            Err(BootError::CpuIdOutOfRange)
        );
    }

    #[test]
    fn invalid_shared_buffer() {
        for x3 in [0, BUF + 8, 0x800] {
            let e = cold_boot(0, V0_3, 1, x3, 8).unwrap_err();
            assert_eq!(e, BootError::InvalidSharedBuffer);
            assert_eq!(e.code(), -5);
        }
    }

    #[test]
    fn check_order_follows_tf_rmm() {
        // Everything wrong: the version is reported first, then CPUs, CPU id, buffer.
        assert_eq!(cold_boot(9, 0x2, 9, 1, 8), Err(BootError::VersionNotValid));
        assert_eq!(cold_boot(9, V0_3, 9, 1, 8), Err(BootError::CpusOutOfRange));
        assert_eq!(cold_boot(9, V0_3, 8, 1, 8), Err(BootError::CpuIdOutOfRange));
    }

    #[test]
    fn warm_boot_index() {
        assert_eq!(warm_boot(3, 4), Ok(3));
        assert_eq!(warm_boot(4, 4), Err(BootError::CpuIdOutOfRange));
        assert_eq!(warm_boot(u64::MAX, 4), Err(BootError::CpuIdOutOfRange));
    }

    #[test]
    fn manifest_error_codes() {
        assert_eq!(BootError::from(ManifestError::Version(2)).code(), -6);
        assert_eq!(BootError::from(ManifestError::DramChecksum).code(), -7);
        assert_eq!(BootError::from(ManifestError::ConsoleChecksum).code(), -7);
        assert_eq!(BootError::Unknown.code(), -1);
    }

    /// Lays out a one-bank, no-console manifest with the given version.
    fn shared_buf(version: u64) -> [u8; 64 + 16] {
        let bank_pa = BUF + 64;
        let (base, size) = (0x4000_0000u64, 0xC000_0000u64);
        let words = [
            version,
            0,
            1,
            bank_pa,
            1u64.wrapping_add(bank_pa)
                .wrapping_add(base)
                .wrapping_add(size)
                .wrapping_neg(),
            0,
            0,
            0,
            base,
            size,
        ];
        let mut b = [0u8; 80];
        for (chunk, w) in b.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        b
    }

    #[test]
    fn cold_boot_with_a_manifest() {
        let b = shared_buf(V0_3);
        let (args, m) =
            cold_boot_with_manifest([0, 0x4, 1, BUF], 8, slice_reader(BUF, &b)).unwrap();
        assert_eq!(args.shared_buf_pa, BUF);
        assert_eq!(
            m.dram.as_slice(),
            &[DramBank {
                base: 0x4000_0000,
                size: 0xC000_0000
            }]
        );
        assert_eq!(m.console, None);

        let b = shared_buf(0x2);
        let e = cold_boot_with_manifest([0, 0x4, 1, BUF], 8, slice_reader(BUF, &b)).unwrap_err();
        assert_eq!(e, BootError::Manifest(ManifestError::Version(2)));
        assert_eq!(e.code(), -6);

        let mut b = shared_buf(V0_3);
        b[72] ^= 0x10; // flip a bit of the bank base: checksum no longer 0
        let e = cold_boot_with_manifest([0, 0x4, 1, BUF], 8, slice_reader(BUF, &b)).unwrap_err();
        assert_eq!(e, BootError::Manifest(ManifestError::DramChecksum));
        assert_eq!(e.code(), -7);

        // An unreadable buffer is a data error; argument errors are reported first.
        let e = cold_boot_with_manifest([0, 0x4, 1, BUF], 8, |_| None).unwrap_err();
        assert_eq!(e.code(), -7);
        let e = cold_boot_with_manifest([0, 0x4, 1, 0], 8, |_| None).unwrap_err();
        assert_eq!(e, BootError::InvalidSharedBuffer);
    }
}
