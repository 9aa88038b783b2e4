//! Helpers shared by the integration tests: a small machine and RMI call wrappers.
#![allow(dead_code)]

use rmm::granule::GranuleState;
use rmm::host::{Config, Machine};

pub const RMI_VERSION: u64 = 0xC400_0150;
pub const RMI_GRANULE_DELEGATE: u64 = 0xC400_0151;
pub const RMI_GRANULE_UNDELEGATE: u64 = 0xC400_0152;
pub const RMI_FEATURES: u64 = 0xC400_0165;

pub const SUCCESS: u64 = 0;
pub const ERROR_INPUT: u64 = 1;
pub const NOT_SUPPORTED: u64 = u64::MAX;

pub const GRANULE: u64 = 4096;
/// Two banks with a hole between them.
pub const BANK0: (u64, u64) = (0x8000_0000, 64 * GRANULE);
pub const BANK1: (u64, u64) = (0xC000_0000, 32 * GRANULE);

pub fn machine() -> Machine {
    Machine::new(Config {
        cpus: 4,
        dram: vec![BANK0, BANK1],
    })
}

/// Calls `fid` on CPU 0 with arguments x1.. and returns x0..x7.
pub fn rmi(m: &Machine, fid: u64, args: &[u64]) -> [u64; 8] {
    let mut regs = [0u64; 8];
    regs[0] = fid;
    regs[1..=args.len()].copy_from_slice(args);
    m.smc(0, regs)
}

pub fn delegate(m: &Machine, pa: u64) -> u64 {
    rmi(m, RMI_GRANULE_DELEGATE, &[pa])[0]
}

pub fn undelegate(m: &Machine, pa: u64) -> u64 {
    rmi(m, RMI_GRANULE_UNDELEGATE, &[pa])[0]
}

/// Puts the DELEGATED granule at `pa` into `state`, as a later command would.
pub fn force_state(m: &Machine, pa: u64, state: GranuleState) {
    let granule = m.rmm().granules().get(pa).unwrap();
    granule
        .lock(GranuleState::Delegated)
        .unwrap()
        .transition(state);
}

/// The realm-owned states a command may find a granule in.
pub const OWNED_STATES: [GranuleState; 5] = [
    GranuleState::Rd,
    GranuleState::Rec,
    GranuleState::RecAux,
    GranuleState::Data,
    GranuleState::Rtt,
];
