//! The Realm Management Interface: the commands the Normal-world host calls (spec B4).
//!
//! `dispatch` decodes the function ID, runs the command and encodes its return code. Each
//! command checks its failure conditions first, in the spec's order, and only then has effects.

mod command;
mod data;
mod features;
mod granule;
pub mod params;
mod psci_complete;
mod realm;
mod rec;
mod rec_enter;
mod ripas;
mod rtt;
mod rtt_fold;
mod rtt_unprotected;
mod version;

pub use command::Command;
pub use features::{feature_register_0, MAX_RECS_ORDER};
pub use version::{negotiate, InterfaceVersion, RMI_REVISIONS};

use crate::granule::Granule;
use crate::platform::Platform;
use crate::rtt::RttTree;
use crate::{trace, Rmm, GRANULE_SIZE};

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

impl From<crate::granule::ClaimError> for RmiError {
    /// A REC that could not be claimed or locked: in another state, `rec_gran_state`
    /// (RMI_ERROR_INPUT); running, `rec_state` (RMI_ERROR_REC).
    fn from(e: crate::granule::ClaimError) -> Self {
        match e {
            crate::granule::ClaimError::State(_) => Self::INPUT,
            crate::granule::ClaimError::Claimed => Self::rec(),
        }
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
/// x0 is the return code, then the command's outputs; every other register is zero (B1.2: "On
/// return from an RMI or RSI command, any of X0 - X16 which are not specified as output values
/// in the command definition MBZ"; x8..x16, which the RMM does not return, EL3 zeroes:
/// `rmm_arch::el3::rmi_return`). A function ID that is no RMI command gets
/// SMCCC_NOT_SUPPORTED, x1..x3 zero and x4..x7 as they were (SMCCC 1.2 has a callee preserve
/// the registers from x4 that carry no result).
pub(crate) fn dispatch<P: Platform>(rmm: &Rmm<P>, cpu: usize, regs: &[u64; 8]) -> [u64; 8] {
    // SMCCC: the function ID is W0; the SVE hint bit does not select a function.
    let fid = (regs[0] as u32) & !SMCCC_SVE_HINT;
    let command = Command::from_fid(fid);
    let out = match command {
        Some(command) => run(rmm, cpu, command, regs),
        None => [
            SMCCC_NOT_SUPPORTED,
            0,
            0,
            0,
            regs[4],
            regs[5],
            regs[6],
            regs[7],
        ],
    };
    if trace::enabled(rmm.platform()) {
        trace::rmi(rmm.platform(), cpu, fid, command, regs, &out);
    }
    out
}

/// Runs `command` with the arguments in `regs` and returns x0..x7 ([`dispatch`]).
fn run<P: Platform>(rmm: &Rmm<P>, cpu: usize, command: Command, regs: &[u64; 8]) -> [u64; 8] {
    let mut out = [0u64; 8];
    let mut outputs = Outputs::default();
    let result = match command {
        Command::Version => version::version(regs[1], &mut outputs),
        Command::Features => features::features(rmm, regs[1], &mut outputs),
        Command::GranuleDelegate => granule::delegate(rmm, regs[1]),
        Command::GranuleUndelegate => granule::undelegate(rmm, regs[1]),
        Command::RealmCreate => realm::create(rmm, regs[1], regs[2]),
        Command::RealmActivate => realm::activate(rmm, regs[1]),
        Command::RealmDestroy => realm::destroy(rmm, regs[1]),
        Command::RttCreate => rtt::create(rmm, cpu, regs[1], regs[2], regs[3], regs[4]),
        Command::RttDestroy => rtt::destroy(rmm, cpu, regs[1], regs[2], regs[3], &mut outputs),
        Command::RttReadEntry => rtt::read_entry(rmm, cpu, regs[1], regs[2], regs[3], &mut outputs),
        Command::RttMapUnprotected => rtt_unprotected::map(rmm, cpu, regs, &mut outputs),
        Command::RttUnmapUnprotected => rtt_unprotected::unmap(rmm, cpu, regs, &mut outputs),
        Command::RttFold => rtt_fold::fold(rmm, cpu, regs, &mut outputs),
        Command::DataCreate => data::create(rmm, cpu, regs),
        Command::DataCreateUnknown => data::create_unknown(rmm, cpu, regs),
        Command::DataDestroy => data::destroy(rmm, cpu, regs, &mut outputs),
        Command::RttInitRipas => ripas::init(rmm, cpu, regs, &mut outputs),
        Command::RecCreate => rec::create(rmm, regs),
        Command::RecDestroy => rec::destroy(rmm, regs[1]),
        Command::RecAuxCount => rec::aux_count(rmm, cpu, regs[1], &mut outputs),
        Command::RecEnter => rec_enter::enter(rmm, cpu, regs),
        Command::PsciComplete => psci_complete::complete(rmm, regs),
        Command::RttSetRipas => ripas::set(rmm, cpu, regs, &mut outputs),
    };
    out[0] = return_code(result);
    let x1_on = out.iter_mut().skip(1).zip(outputs);
    x1_on.take(command.output_count()).for_each(|(x, value)| *x = value);
    out
}

/// The granule at `addr`: the `*_align` and `*_bound` failure conditions, RMI_ERROR_INPUT.
fn granule_at<P: Platform>(rmm: &Rmm<P>, addr: u64) -> Result<&Granule, RmiError> {
    if !addr.is_multiple_of(GRANULE_SIZE) {
        return Err(RmiError::INPUT); // *_align
    }
    rmm.granules().get(addr).ok_or(RmiError::INPUT) // *_bound
}

/// Locks the granules at `pas`, all DELEGATED, in ascending PA order (the lock order for
/// granules leaving DELEGATED), into `locked`; any that is not delegable or not DELEGATED fails
/// with RMI_ERROR_INPUT, releasing the ones already locked. `pas` is sorted in place and holds
/// no duplicates.
fn lock_delegated<'a, P: Platform>(
    rmm: &'a Rmm<P>,
    pas: &mut [u64],
    locked: &mut [Option<crate::granule::LockedGranule<'a>>],
) -> Result<(), RmiError> {
    pas.sort_unstable();
    for (slot, &pa) in locked.iter_mut().zip(pas.iter()) {
        let granule = rmm.granules().get(pa).ok_or(RmiError::INPUT)?;
        *slot = Some(
            granule
                .lock(crate::granule::GranuleState::Delegated)
                .map_err(|_| RmiError::INPUT)?,
        );
    }
    Ok(())
}

/// Copies the host's 4 KiB structure at `addr`: the `*_align`, `*_bound` (the structure is in
/// delegable memory) and `*_pas` (it is Non-secure: a protection fault fails the copy)
/// failure conditions, RMI_ERROR_INPUT.
fn read_host_page<P: Platform>(rmm: &Rmm<P>, addr: u64) -> Result<[u8; 4096], RmiError> {
    granule_at(rmm, addr)?;
    let mut page = [0u8; 4096];
    rmm.platform()
        .ns_read(addr, &mut page)
        .map_err(|_| RmiError::INPUT)?; // *_pas
    Ok(page)
}

/// The RTT tree of the realm whose RD is at `rd`, for CPU `cpu`: the `rd_align`, `rd_bound`
/// and `rd_state` failure conditions, RMI_ERROR_INPUT. Reads the RD without locking it.
fn realm_tree<P: Platform>(rmm: &Rmm<P>, cpu: usize, rd: u64) -> Result<RttTree, RmiError> {
    granule_at(rmm, rd)?;
    // The RD cannot be destroyed and reused while this walk is announced.
    let _announced = rmm.cpu(cpu).announce_walk(rd);
    if !rmm.realm_is_alive(rd) {
        return Err(RmiError::INPUT); // rd_state
    }
    tree_of(rmm, rd)
}

/// The RTT tree of the realm whose RD is at `rd`; the caller holds the RD's lock, or has
/// announced a walk of it and checked it is alive.
fn tree_of<P: Platform>(rmm: &Rmm<P>, rd: u64) -> Result<RttTree, RmiError> {
    // Validated by REALM_CREATE; the platform's PA width cannot have shrunk since.
    RttTree::of(rmm, rd).ok_or(RmiError::INPUT)
}
