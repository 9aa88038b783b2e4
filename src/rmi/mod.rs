//! The Realm Management Interface: the commands the Normal-world host calls (spec B4).
//!
//! [`dispatch`] decodes the function ID, runs the command and encodes its return code. Each
//! command checks its failure conditions first, in the spec's order, and only then has effects.

mod command;
mod features;
mod granule;
pub mod params;
mod version;

pub use command::Command;
pub use features::{feature_register_0, MAX_RECS_ORDER};
pub use version::{negotiate, InterfaceVersion, RMI_REVISIONS};

use crate::platform::Platform;
use crate::Rmm;

/// SMCCC NOT_SUPPORTED: x0 after a call to a function ID the RMM does not implement.
pub const SMCCC_NOT_SUPPORTED: u64 = -1i64 as u64;

/// SMCCC 1.3 SVE hint: set in a function ID by a caller with no live SVE state (bit 16).
const SMCCC_SVE_HINT: u32 = 1 << 16;

/// The status of an RMI command (spec B4.4.25, RmiStatusCode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RmiStatus {
    /// Command completed successfully.
    Success = 0,
    /// The value of a command input value caused the command to fail.
    ErrorInput = 1,
    /// An attribute of a Realm does not match the expected value.
    ErrorRealm = 2,
    /// An attribute of a REC does not match the expected value.
    ErrorRec = 3,
    /// An RTT walk terminated before reaching the target level, or reached an unexpected RTTE.
    ErrorRtt = 4,
}

/// A failed command's return code: status and index (spec B4.2, RmiCommandReturnCode B4.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RmiError {
    status: RmiStatus,
    index: u8,
}

impl RmiError {
    /// RMI_ERROR_INPUT; its index is always zero.
    pub const INPUT: Self = Self::new(RmiStatus::ErrorInput, 0);

    const fn new(status: RmiStatus, index: u8) -> Self {
        Self { status, index }
    }

    /// RMI_ERROR_REALM with a command-specific index.
    pub const fn realm(index: u8) -> Self {
        Self::new(RmiStatus::ErrorRealm, index)
    }

    /// RMI_ERROR_REC; its index is always zero.
    pub const fn rec() -> Self {
        Self::new(RmiStatus::ErrorRec, 0)
    }

    /// RMI_ERROR_RTT at the level where the walk stopped.
    pub const fn rtt(level: u8) -> Self {
        Self::new(RmiStatus::ErrorRtt, level)
    }

    /// The status field.
    pub const fn status(self) -> RmiStatus {
        self.status
    }

    /// The index field.
    pub const fn index(self) -> u8 {
        self.index
    }
}

/// Encodes a command's result as x0 (RmiCommandReturnCode: status in 7:0, index in 15:8).
pub const fn return_code(result: Result<(), RmiError>) -> u64 {
    match result {
        Ok(()) => RmiStatus::Success as u64,
        Err(e) => e.status as u64 | (e.index as u64) << 8,
    }
}

/// A command's output values, x1..x4.
pub type Outputs = [u64; 4];

/// Runs the RMI call in `regs` (x0 = function ID, x1..x7 = arguments) and returns x0..x7.
///
/// x0 is the return code, then the command's outputs; unused output registers up to x3 are
/// zero and x4..x7 keep their values unless they carry outputs (SMCCC 1.2).
pub(crate) fn dispatch<P: Platform>(rmm: &Rmm<P>, regs: &[u64; 8]) -> [u64; 8] {
    let mut out = [0, 0, 0, 0, regs[4], regs[5], regs[6], regs[7]];
    // SMCCC: the function ID is W0; the SVE hint bit does not select a function.
    let fid = (regs[0] as u32) & !SMCCC_SVE_HINT;
    let Some(command) = Command::from_fid(fid) else {
        out[0] = SMCCC_NOT_SUPPORTED;
        return out;
    };
    let mut outputs = Outputs::default();
    let result = match command {
        Command::Version => version::version(regs[1], &mut outputs),
        Command::Features => features::features(rmm, regs[1], &mut outputs),
        Command::GranuleDelegate => granule::delegate(rmm, regs[1]),
        Command::GranuleUndelegate => granule::undelegate(rmm, regs[1]),
        _ => {
            out[0] = SMCCC_NOT_SUPPORTED;
            return out;
        }
    };
    out[0] = return_code(result);
    let n = command.output_count();
    out[1..=n].copy_from_slice(&outputs[..n]);
    out
}
