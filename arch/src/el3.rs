//! RMM-EL3 interface: function IDs, EL3 return codes, versions and the GTSI calls.
//!
//! Source: RMM-EL3 interface 0.3 (TF-A `docs/components/rmm-el3-comms-spec.rst`,
//! "RMM-EL3 communication interface"). All calls are SMC64 fast calls from the
//! Realm world, answered by the RMM dispatcher (RMMD) in EL3.

use crate::smc::smc;

/// Return to EL3 the result of an RMI call (x1..x5 = results forwarded to the NS host).
/// On return, x0..x7 hold the next RMI request.
pub const RMM_RMI_REQ_COMPLETE: u64 = 0xC400_018F;
/// SMC_UNK: x0 after a call to a function that is not implemented (SMCCC).
pub const SMC_UNK: u64 = -1i64 as u64;
/// Move a granule from the Non-secure to the Realm PAS (x1 = PA).
pub const RMM_GTSI_DELEGATE: u64 = 0xC400_01B0;
/// Move a granule from the Realm back to the Non-secure PAS (x1 = PA).
pub const RMM_GTSI_UNDELEGATE: u64 = 0xC400_01B1;
/// Get the Realm attestation key (x1 = buffer PA, x2 = size, x3 = curve) -> x1 = key size.
pub const RMM_ATTEST_GET_REALM_KEY: u64 = 0xC400_01B2;
/// Get the platform token (x1 = buffer PA, x2 = size, x3 = challenge size)
/// -> x1 = hunk size, x2 = bytes remaining (0.3).
pub const RMM_ATTEST_GET_PLAT_TOKEN: u64 = 0xC400_01B3;
/// Report the end of cold or warm boot (x1 = 0 or a negative boot error code).
pub const RMM_BOOT_COMPLETE: u64 = 0xC400_01CF;

/// Oldest RMM-EL3 interface version this RMM accepts (0.3, RMM spec 1.0-REL0).
pub const MIN_IFC_VERSION: Version = Version { major: 0, minor: 3 };

/// An RMM-EL3 interface or boot manifest version.
///
/// Encoding (RMM-EL3 interface 0.3): bit 31 RES0, bits `[30:16]` major, bits `[15:0]` minor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// Major version (15 bits).
    pub major: u16,
    /// Minor version.
    pub minor: u16,
}

impl Version {
    /// Decodes a raw version. Returns `None` if bit 31 or any bit above it is set:
    /// we do not guess at an encoding we cannot interpret (TF-RMM masks those bits).
    pub const fn decode(raw: u64) -> Option<Self> {
        if raw >> 31 != 0 {
            return None;
        }
        Some(Self {
            major: ((raw >> 16) & 0x7FFF) as u16,
            minor: (raw & 0xFFFF) as u16,
        })
    }

    /// The raw encoding.
    pub const fn encode(self) -> u32 {
        ((self.major as u32 & 0x7FFF) << 16) | self.minor as u32
    }

    /// True if a peer speaking `self` is compatible with an RMM needing at least `min`:
    /// same major, minor at least `min.minor`.
    pub const fn is_compatible_with(self, min: Version) -> bool {
        self.major == min.major && self.minor >= min.minor
    }
}

/// EL3 runtime error codes returned in x0 (E_RMM_*, RMM-EL3 interface 0.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum El3Error {
    /// E_RMM_UNK (-1): unknown error or unsupported FID (also SMCCC NOT_SUPPORTED).
    Unk,
    /// E_RMM_BAD_ADDR (-2): the address is invalid for the request.
    BadAddr,
    /// E_RMM_BAD_PAS (-3): the granule is in the wrong PAS for the request.
    BadPas,
    /// E_RMM_NOMEM (-4): EL3 is out of memory.
    NoMem,
    /// E_RMM_INVAL (-5): invalid argument.
    Inval,
    /// E_RMM_AGAIN (-6): resource busy, retry.
    Again,
    /// Any other non-zero x0 (later interface versions define -7 and below).
    Other(i64),
}

impl El3Error {
    /// Decodes the raw x0 returned by EL3: 0 is success, anything else an error.
    /// Never panics; unknown values become [`El3Error::Other`].
    pub const fn decode(x0: u64) -> Result<(), El3Error> {
        Err(match x0 as i64 {
            0 => return Ok(()),
            -1 => El3Error::Unk,
            -2 => El3Error::BadAddr,
            -3 => El3Error::BadPas,
            -4 => El3Error::NoMem,
            -5 => El3Error::Inval,
            -6 => El3Error::Again,
            other => El3Error::Other(other),
        })
    }

    /// The signed code as EL3 returns it.
    pub const fn code(self) -> i64 {
        match self {
            El3Error::Unk => -1,
            El3Error::BadAddr => -2,
            El3Error::BadPas => -3,
            El3Error::NoMem => -4,
            El3Error::Inval => -5,
            El3Error::Again => -6,
            El3Error::Other(c) => c,
        }
    }
}

/// Issues a one-argument RMM-EL3 call through `call` and decodes x0.
fn call_pa(call: impl FnOnce([u64; 8]) -> [u64; 8], fid: u64, pa: u64) -> Result<(), El3Error> {
    let out = call([fid, pa, 0, 0, 0, 0, 0, 0]);
    El3Error::decode(out[0])
}

/// RMM_GTSI_DELEGATE: asks EL3 to move the granule at `pa` to the Realm PAS.
/// On the host (no EL3) this returns `Err(El3Error::Unk)`.
pub fn gtsi_delegate(pa: u64) -> Result<(), El3Error> {
    call_pa(smc, RMM_GTSI_DELEGATE, pa)
}

/// RMM_GTSI_UNDELEGATE: asks EL3 to move the granule at `pa` back to the NS PAS.
/// On the host (no EL3) this returns `Err(El3Error::Unk)`.
pub fn gtsi_undelegate(pa: u64) -> Result<(), El3Error> {
    call_pa(smc, RMM_GTSI_UNDELEGATE, pa)
}

/// RMM_BOOT_COMPLETE: reports the boot status (0 or a negative
/// [`BootError::code`](crate::boot::BootError::code)) to EL3.
///
/// After a successful report EL3 resumes the RMM with the first forwarded RMI request in
/// x0..x7, which is returned. After an error EL3 must never enter the RMM again.
pub fn boot_complete(status: i64) -> [u64; 8] {
    smc([RMM_BOOT_COMPLETE, status as u64, 0, 0, 0, 0, 0, 0])
}

/// The Normal world's x0..x16 after an RMI call that EL3 forwarded to the RMM: `rmm` is the
/// RMM's x1..x7 at its RMM_RMI_REQ_COMPLETE (the call's x0..x6), `caller` the Normal world's
/// x0..x16 at the call.
///
/// x0..x6 come from the RMM. x7..x16 are zero: no RMI command has an output there (at most
/// x0..x4), and the RMM spec (B1.2) has every register of X0..X16 that is not an output of the
/// command be zero on return. For a function the RMM does not implement (x0 SMC_UNK) SMCCC 1.2
/// applies instead, and they keep the caller's values, as a callee that returns no result in
/// them must.
pub fn rmi_return(rmm: &[u64; 7], caller: &[u64; 17]) -> [u64; 17] {
    let mut ns = [0; 17];
    ns[..7].copy_from_slice(rmm);
    if rmm[0] == SMC_UNK {
        ns[7..].copy_from_slice(&caller[7..]);
    }
    ns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmi_return_zeroes_x7_to_x16_unless_the_function_is_unknown() {
        let caller: [u64; 17] = core::array::from_fn(|n| 0x100 + n as u64);
        let rmm = [0, 1, 2, 3, 4, 5, 6];
        let mut expected = [0; 17];
        expected[..7].copy_from_slice(&rmm);
        assert_eq!(rmi_return(&rmm, &caller), expected);
        let unknown = [SMC_UNK, 0, 0, 0, 0x104, 0x105, 0x106];
        let out = rmi_return(&unknown, &caller);
        assert_eq!(out[..7], unknown);
        assert_eq!(out[7..], caller[7..]);
    }

    #[test]
    fn fids_match_the_spec() {
        assert_eq!(RMM_RMI_REQ_COMPLETE, 0xC400018F);
        assert_eq!(RMM_GTSI_DELEGATE, 0xC40001B0);
        assert_eq!(RMM_GTSI_UNDELEGATE, 0xC40001B1);
        assert_eq!(RMM_ATTEST_GET_REALM_KEY, 0xC40001B2);
        assert_eq!(RMM_ATTEST_GET_PLAT_TOKEN, 0xC40001B3);
        assert_eq!(RMM_BOOT_COMPLETE, 0xC40001CF);
    }

    #[test]
    fn decode_known_codes() {
        assert_eq!(El3Error::decode(0), Ok(()));
        let cases = [
            (-1, El3Error::Unk),
            (-2, El3Error::BadAddr),
            (-3, El3Error::BadPas),
            (-4, El3Error::NoMem),
            (-5, El3Error::Inval),
            (-6, El3Error::Again),
        ];
        for (raw, err) in cases {
            assert_eq!(El3Error::decode(raw as u64), Err(err));
            assert_eq!(err.code(), raw);
        }
    }

    #[test]
    fn decode_unknown_codes() {
        assert_eq!(El3Error::decode(-7i64 as u64), Err(El3Error::Other(-7)));
        assert_eq!(
            El3Error::decode(i64::MIN as u64),
            Err(El3Error::Other(i64::MIN))
        );
        assert_eq!(El3Error::decode(5), Err(El3Error::Other(5)));
        assert_eq!(El3Error::Other(-11).code(), -11);
    }

    #[test]
    fn version_encoding() {
        assert_eq!(Version::decode(0x3), Some(Version { major: 0, minor: 3 }));
        assert_eq!(
            Version::decode(0x0001_0002),
            Some(Version { major: 1, minor: 2 })
        );
        assert_eq!(
            Version::decode(0x7FFF_FFFF),
            Some(Version {
                major: 0x7FFF,
                minor: 0xFFFF
            })
        );
        assert_eq!(Version::decode(0x8000_0003), None);
        assert_eq!(Version::decode((1 << 32) | 3), None);
        assert_eq!(Version { major: 2, minor: 7 }.encode(), 0x0002_0007);
        assert!(Version { major: 0, minor: 4 }.is_compatible_with(MIN_IFC_VERSION));
        assert!(!Version { major: 0, minor: 2 }.is_compatible_with(MIN_IFC_VERSION));
        assert!(!Version { major: 1, minor: 3 }.is_compatible_with(MIN_IFC_VERSION));
    }

    #[test]
    fn gtsi_calls_pass_fid_and_pa() {
        let mut seen = [0u64; 8];
        let r = call_pa(
            |regs| {
                seen = regs;
                [-3i64 as u64, 0, 0, 0, 0, 0, 0, 0]
            },
            RMM_GTSI_DELEGATE,
            0x8800_0000,
        );
        assert_eq!(r, Err(El3Error::BadPas));
        assert_eq!(seen, [RMM_GTSI_DELEGATE, 0x8800_0000, 0, 0, 0, 0, 0, 0]);
        assert_eq!(call_pa(|_| [0; 8], RMM_GTSI_UNDELEGATE, 0x1000), Ok(()));
    }

    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    #[test]
    fn host_has_no_el3() {
        assert_eq!(gtsi_delegate(0x8800_0000), Err(El3Error::Unk));
        assert_eq!(gtsi_undelegate(0x8800_0000), Err(El3Error::Unk));
        assert_eq!(boot_complete(0)[0], crate::smc::SMCCC_NOT_SUPPORTED);
    }
}
