//! PSCI from realms: function IDs and return codes (spec B6), and what the RMM decides itself.
//!
//! CPU_ON and AFFINITY_INFO name another REC by MPIDR, which the RMM cannot map to a REC: they
//! exit to the host, which completes them with RMI_PSCI_COMPLETE. The other functions come
//! with the realm-execution work (VERSION, FEATURES, CPU_OFF, CPU_SUSPEND, SYSTEM_OFF,
//! SYSTEM_RESET); until then they return NOT_SUPPORTED.

/// PSCI_VERSION.
pub const PSCI_VERSION: u64 = 0x8400_0000;
/// PSCI_CPU_SUSPEND (SMC64).
pub const PSCI_CPU_SUSPEND: u64 = 0xC400_0001;
/// PSCI_CPU_OFF.
pub const PSCI_CPU_OFF: u64 = 0x8400_0002;
/// PSCI_CPU_ON (SMC64).
pub const PSCI_CPU_ON: u64 = 0xC400_0003;
/// PSCI_AFFINITY_INFO (SMC64).
pub const PSCI_AFFINITY_INFO: u64 = 0xC400_0004;
/// PSCI_SYSTEM_OFF.
pub const PSCI_SYSTEM_OFF: u64 = 0x8400_0008;
/// PSCI_SYSTEM_RESET.
pub const PSCI_SYSTEM_RESET: u64 = 0x8400_0009;
/// PSCI_FEATURES.
pub const PSCI_FEATURES: u64 = 0x8400_000A;

/// A PSCI return code (B6.4 PsciReturnCode) as a realm register holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i64)]
pub enum PsciReturn {
    /// PSCI_SUCCESS.
    Success = 0,
    /// PSCI_NOT_SUPPORTED.
    NotSupported = -1,
    /// PSCI_INVALID_PARAMETERS.
    InvalidParameters = -2,
    /// PSCI_DENIED.
    Denied = -3,
    /// PSCI_ALREADY_ON.
    AlreadyOn = -4,
    /// PSCI_INVALID_ADDRESS.
    InvalidAddress = -9,
}

impl PsciReturn {
    /// PsciReturnCodeEncode (B3.26): the 64-bit register value.
    pub const fn encode(self) -> u64 {
        self as i64 as u64
    }

    /// The return code a host passes to RMI_PSCI_COMPLETE, if it is one.
    pub const fn decode(value: u64) -> Option<Self> {
        Some(match value as i64 {
            0 => Self::Success,
            -1 => Self::NotSupported,
            -2 => Self::InvalidParameters,
            -3 => Self::Denied,
            -4 => Self::AlreadyOn,
            -9 => Self::InvalidAddress,
            _ => return None,
        })
    }
}

/// AFFINITY_INFO's answer for a REC that is on (runnable).
pub const AFFINITY_ON: u64 = 0;
/// AFFINITY_INFO's answer for a REC that is off.
pub const AFFINITY_OFF: u64 = 1;

/// MpidrIsUsed (B3.24): whether a realm MPIDR names one of the realm's first `rec_count` RECs.
pub fn mpidr_is_used(mpidr: u64, rec_count: u64) -> bool {
    crate::rmi::params::mpidr_is_used(mpidr, rec_count)
}
