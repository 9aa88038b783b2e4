//! PSCI from realms: function IDs and return codes (spec B6), and what the RMM decides itself
//! ([`handle`], A4.3.7).
//!
//! PSCI_VERSION and PSCI_FEATURES are answered at once. CPU_ON and AFFINITY_INFO name another
//! REC by MPIDR, which the RMM cannot map to a REC: after their checks they exit to the host,
//! which completes them with RMI_PSCI_COMPLETE. CPU_SUSPEND, CPU_OFF, SYSTEM_OFF and
//! SYSTEM_RESET take effect in the RMM and exit to the host to tell it. Every other function in
//! the PSCI range returns PSCI_NOT_SUPPORTED. Both the SMC32 and SMC64 forms of CPU_SUSPEND,
//! CPU_ON and AFFINITY_INFO are taken (PSCI 1.1), the SMC32 ones with 32-bit arguments.

use crate::platform::Platform;
use crate::realm::RealmState;
use crate::rec::{ExitKind, Handled, Stage2, VcpuContext};
use crate::rmi::params::{RecExit, RecExitReason};
use crate::smccc::SMCCC_VERSION;
use crate::trace::Signature;

/// PSCI_VERSION.
pub const PSCI_VERSION: u64 = 0x8400_0000;
/// PSCI_CPU_SUSPEND (SMC32).
pub const PSCI_CPU_SUSPEND_32: u64 = 0x8400_0001;
/// PSCI_CPU_ON (SMC32).
pub const PSCI_CPU_ON_32: u64 = 0x8400_0003;
/// PSCI_AFFINITY_INFO (SMC32).
pub const PSCI_AFFINITY_INFO_32: u64 = 0x8400_0004;
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

/// The PSCI revision implemented (PsciInterfaceVersion, B6.4.1): 1.1 (B6.2: at least 1.1).
pub const PSCI_REVISION: u64 = 1 << 16 | 1;

/// The functions PSCI_FEATURES reports as implemented.
const IMPLEMENTED: [u64; 11] = [
    PSCI_VERSION,
    PSCI_CPU_SUSPEND_32,
    PSCI_CPU_SUSPEND,
    PSCI_CPU_OFF,
    PSCI_CPU_ON_32,
    PSCI_CPU_ON,
    PSCI_AFFINITY_INFO_32,
    PSCI_AFFINITY_INFO,
    PSCI_SYSTEM_OFF,
    PSCI_SYSTEM_RESET,
    PSCI_FEATURES,
];

/// Each function's name, input registers from x1 and output registers from x0 (B6.3), both
/// forms under one name.
pub(crate) const SIGNATURES: [(u64, Signature); 11] = [
    (PSCI_VERSION, Signature::new("PSCI_VERSION", 0, 1)),
    (
        PSCI_CPU_SUSPEND_32,
        Signature::new("PSCI_CPU_SUSPEND", 3, 1),
    ),
    (PSCI_CPU_SUSPEND, Signature::new("PSCI_CPU_SUSPEND", 3, 1)),
    (PSCI_CPU_OFF, Signature::new("PSCI_CPU_OFF", 0, 0)),
    (PSCI_CPU_ON_32, Signature::new("PSCI_CPU_ON", 3, 1)),
    (PSCI_CPU_ON, Signature::new("PSCI_CPU_ON", 3, 1)),
    (
        PSCI_AFFINITY_INFO_32,
        Signature::new("PSCI_AFFINITY_INFO", 2, 1),
    ),
    (
        PSCI_AFFINITY_INFO,
        Signature::new("PSCI_AFFINITY_INFO", 2, 1),
    ),
    (PSCI_SYSTEM_OFF, Signature::new("PSCI_SYSTEM_OFF", 0, 0)),
    (PSCI_SYSTEM_RESET, Signature::new("PSCI_SYSTEM_RESET", 0, 0)),
    (PSCI_FEATURES, Signature::new("PSCI_FEATURES", 1, 1)),
];

/// Whether `fid` is in a PSCI function-ID range (SMCCC: 0x8400_0000..=0x8400_001F for SMC32,
/// 0xC400_0000..=0xC400_001F for SMC64).
fn is_psci(fid: u64) -> bool {
    fid & !(1 << 30) & !0x1f == 0x8400_0000
}

/// AFFINITY_INFO's answer for a REC that is on (runnable).
pub const AFFINITY_ON: u64 = 0;
/// AFFINITY_INFO's answer for a REC that is off.
pub const AFFINITY_OFF: u64 = 1;

/// MpidrIsUsed (B3.24): whether a realm MPIDR names one of the realm's first `rec_count` RECs.
pub fn mpidr_is_used(mpidr: u64, rec_count: u64) -> bool {
    crate::rmi::params::mpidr_is_used(mpidr, rec_count)
}

/// Runs the PSCI function `fid` (B6.3) called by the realm whose registers are `vcpu`; `None`
/// if `fid` is not in the PSCI range. The PC is already past the SMC.
pub fn handle<P: Platform>(
    fid: u64,
    vcpu: &mut VcpuContext,
    stage2: &Stage2<'_, P>,
    out: &mut RecExit,
) -> Option<Handled> {
    if !is_psci(fid) {
        return None;
    }
    // SMC32 functions take 32-bit arguments (W1..W3).
    let width = if fid & 1 << 30 == 0 {
        u32::MAX.into()
    } else {
        u64::MAX
    };
    let [_, x1, x2, x3, ..] = vcpu.gprs;
    let [x1, x2, x3] = [x1, x2, x3].map(|x| x & width);
    let answer = |vcpu: &mut VcpuContext, x0: u64| {
        vcpu.gprs[0] = x0;
        Some(Handled::Resume)
    };
    match fid {
        PSCI_VERSION => answer(vcpu, PSCI_REVISION),
        PSCI_FEATURES => {
            // B6.3.5.3 `func_ok`, `func_not_ok`: psci_func_id is X1[31:0]. SMCCC_VERSION is
            // reported too: SMCCC discovery asks for it here (SMCCC 1.1+, and Linux does).
            let function = x1 & u64::from(u32::MAX);
            let supported = IMPLEMENTED.contains(&function) || function == SMCCC_VERSION;
            let result = match supported {
                true => PsciReturn::Success,
                false => PsciReturn::NotSupported,
            };
            answer(vcpu, result.encode())
        }
        PSCI_CPU_ON | PSCI_CPU_ON_32 => {
            // B6.3.3.2: `entry`, `mpidr`, `runnable` (the failure conditions are unordered).
            // Runnable needs the target REC, which the host names in RMI_PSCI_COMPLETE
            // (ALREADY_ON there); only the caller itself is known here.
            if !stage2.is_protected(x2) {
                return answer(vcpu, PsciReturn::InvalidAddress.encode()); // entry
            }
            if !mpidr_is_used(x1, stage2.rec_count()) {
                return answer(vcpu, PsciReturn::InvalidParameters.encode()); // mpidr
            }
            if stage2.is_own_mpidr(x1) {
                // The caller is running, so runnable.
                return answer(vcpu, PsciReturn::AlreadyOn.encode()); // runnable
            }
            Some(request(vcpu, out, [fid, x1, x2, x3]))
        }
        PSCI_AFFINITY_INFO | PSCI_AFFINITY_INFO_32 => {
            // B6.3.1.2: `target_bound` (lowest_affinity_level, X2[31:0], not 0),
            // `target_match`; unordered.
            if x2 & u64::from(u32::MAX) != 0 || !mpidr_is_used(x1, stage2.rec_count()) {
                return answer(vcpu, PsciReturn::InvalidParameters.encode());
            }
            if stage2.is_own_mpidr(x1) {
                return answer(vcpu, AFFINITY_ON); // B6.3.1.3 `runnable`: the caller runs
            }
            Some(request(vcpu, out, [fid, x1, x2, 0]))
        }
        PSCI_CPU_SUSPEND | PSCI_CPU_SUSPEND_32 => {
            // B6.3.4: every power state is a suspend; the realm resumes after the SMC with
            // PSCI_SUCCESS when the host next enters the REC.
            let kind = returns_success(vcpu);
            Some(exit(out, [fid, x1 & u64::from(u32::MAX), x2, x3], kind))
        }
        PSCI_CPU_OFF => {
            // B6.3.2: the REC stops being runnable when it exits; only CPU_ON starts it again.
            returns_success(vcpu);
            Some(exit(out, [fid, 0, 0, 0], ExitKind::CpuOff))
        }
        PSCI_SYSTEM_OFF | PSCI_SYSTEM_RESET => {
            // B6.3.6.3, B6.3.7.3 `state`: the realm is SYSTEM_OFF; no REC of it runs again
            // (RMI_REC_ENTER `system_off`). A reset is the host's to make, by building the realm
            // anew.
            crate::rsi::with_rd(stage2, |rd| rd.set_state(RealmState::SystemOff));
            let kind = returns_success(vcpu);
            Some(exit(out, [fid, 0, 0, 0], kind))
        }
        _ => answer(vcpu, PsciReturn::NotSupported.encode()),
    }
}

/// A PSCI function the RMM completes itself: the realm finds PSCI_SUCCESS in x0 and zeros in
/// x1..x3 on the next entry (A4.2.2), as after RMI_PSCI_COMPLETE.
fn returns_success(vcpu: &mut VcpuContext) -> ExitKind {
    vcpu.gprs[..4].fill(0);
    ExitKind::Plain
}

/// A REC exit due to PSCI for a request naming another REC, which RMI_PSCI_COMPLETE completes
/// from the sanitised FID and arguments: they are what the REC keeps in x0..x3 until then.
fn request(vcpu: &mut VcpuContext, out: &mut RecExit, gprs: [u64; 4]) -> Handled {
    vcpu.gprs[..4].copy_from_slice(&gprs);
    exit(out, gprs, ExitKind::PsciRequest)
}

/// Whether `fid` is PSCI_CPU_ON, in either form.
pub fn is_cpu_on(fid: u64) -> bool {
    fid == PSCI_CPU_ON || fid == PSCI_CPU_ON_32
}

/// A REC exit due to PSCI (A4.3.7): exit.gprs[0] the FID, gprs[1..3] the arguments (zero
/// where the function has fewer), everything else zero.
fn exit(out: &mut RecExit, gprs: [u64; 4], kind: ExitKind) -> Handled {
    let mut e = RecExit::new(RecExitReason::Psci);
    e.gprs[..4].copy_from_slice(&gprs);
    *out = e;
    Handled::Exit(kind)
}
