//! Helpers shared by the integration tests: a small machine and RMI call wrappers.
#![allow(dead_code)]

pub mod claims;
pub mod lpa2;

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

pub const RMI_DATA_CREATE: u64 = 0xC400_0153;
pub const RMI_DATA_CREATE_UNKNOWN: u64 = 0xC400_0154;
pub const RMI_DATA_DESTROY: u64 = 0xC400_0155;
pub const RMI_REALM_ACTIVATE: u64 = 0xC400_0157;
pub const RMI_REALM_CREATE: u64 = 0xC400_0158;
pub const RMI_REALM_DESTROY: u64 = 0xC400_0159;
pub const RMI_RTT_CREATE: u64 = 0xC400_015D;
pub const RMI_RTT_DESTROY: u64 = 0xC400_015E;
pub const RMI_RTT_MAP_UNPROTECTED: u64 = 0xC400_015F;
pub const RMI_RTT_READ_ENTRY: u64 = 0xC400_0161;
pub const RMI_RTT_UNMAP_UNPROTECTED: u64 = 0xC400_0162;
pub const RMI_RTT_FOLD: u64 = 0xC400_0166;
pub const RMI_RTT_INIT_RIPAS: u64 = 0xC400_0168;

pub const ERROR_REALM: u64 = 2;
pub const ERROR_REC: u64 = 3;

/// RMI_ERROR_RTT at `level`, as x0 encodes it.
pub const fn error_rtt(level: u64) -> u64 {
    4 | level << 8
}

/// Realm parameters for a 39-bit IPA space starting at level 1 with one starting-level RTT
/// (level 1 covers 512 GiB per table: 2^39), VMID 1, SHA-256.
pub fn realm_params(rtt_base: u64) -> rmm::rmi::params::RealmParams {
    use rmm::measurement::HashAlgorithm;
    use rmm::rmi::params::{RealmFlags, RealmParams};
    RealmParams {
        flags: RealmFlags::from_bits(0),
        s2sz: 39,
        sve_vl: 0,
        num_bps: 1,
        num_wps: 1,
        pmu_num_ctrs: 0,
        hash_algo: HashAlgorithm::Sha256,
        rpv: [0x11; 64],
        vmid: 1,
        rtt_base,
        rtt_level_start: 1,
        rtt_num_start: 1,
    }
}

/// Writes `params` as an RmiRealmParams page at `pa` (Non-secure).
pub fn write_realm_params(m: &Machine, pa: u64, params: &rmm::rmi::params::RealmParams) {
    let mut page = [0u8; 4096];
    params.write_to(&mut page);
    m.ns_write(pa, &page).unwrap();
}

/// Granules of BANK1 handed out in order, for tests that build realms.
pub struct Granules(pub u64);

impl Granules {
    pub fn new() -> Self {
        Granules(BANK1.0)
    }

    /// The next unused granule, left UNDELEGATED.
    pub fn ns(&mut self) -> u64 {
        let pa = self.0;
        assert!(pa < BANK1.0 + BANK1.1, "test ran out of granules");
        self.0 += GRANULE;
        pa
    }

    /// The next unused granule, delegated.
    pub fn delegated(&mut self, m: &Machine) -> u64 {
        let pa = self.ns();
        assert_eq!(delegate(m, pa), SUCCESS);
        pa
    }
}

impl Default for Granules {
    fn default() -> Self {
        Self::new()
    }
}

/// A realm built by [`new_realm`]: its RD, starting-level RTT and parameters page.
pub struct TestRealm {
    pub rd: u64,
    pub rtt: u64,
    pub params: u64,
}

/// Creates a realm with [`realm_params`] from fresh granules (state NEW).
pub fn new_realm(m: &Machine, g: &mut Granules) -> TestRealm {
    let params = g.ns();
    let rd = g.delegated(m);
    let rtt = g.delegated(m);
    write_realm_params(m, params, &realm_params(rtt));
    assert_eq!(rmi(m, RMI_REALM_CREATE, &[rd, params])[0], SUCCESS);
    TestRealm { rd, rtt, params }
}

/// RMI_RTT_CREATE of a fresh delegated granule as the level-`level` RTT for `ipa`.
pub fn create_rtt(m: &Machine, g: &mut Granules, rd: u64, ipa: u64, level: u64) -> u64 {
    let rtt = g.delegated(m);
    let out = rmi(m, RMI_RTT_CREATE, &[rd, rtt, ipa, level]);
    assert_eq!(out[0], SUCCESS, "RTT_CREATE {ipa:#x} level {level}");
    rtt
}

/// RMI_RTT_READ_ENTRY: (x0, walk level, state, desc, ripas).
pub fn read_entry(m: &Machine, rd: u64, ipa: u64, level: u64) -> [u64; 5] {
    let out = rmi(m, RMI_RTT_READ_ENTRY, &[rd, ipa, level]);
    [out[0], out[1], out[2], out[3], out[4]]
}

pub const RMI_REC_CREATE: u64 = 0xC400_015A;
pub const RMI_REC_DESTROY: u64 = 0xC400_015B;
pub const RMI_REC_ENTER: u64 = 0xC400_015C;
pub const RMI_PSCI_COMPLETE: u64 = 0xC400_0164;
pub const RMI_REC_AUX_COUNT: u64 = 0xC400_0167;
pub const RMI_RTT_SET_RIPAS: u64 = 0xC400_0169;

/// RmiRecParams for the REC with index `index`, runnable, PC `pc`, x0..x7 = `gprs`, and the
/// auxiliary granules `aux`.
pub fn rec_params(index: u64, pc: u64, gprs: [u64; 8], aux: &[u64]) -> rmm::rmi::params::RecParams {
    use rmm::rmi::params::{RecCreateFlags, RecMpidr, RecParams};
    let mut all = [0u64; 16];
    all[..aux.len()].copy_from_slice(aux);
    RecParams {
        flags: RecCreateFlags::from_bits(RecCreateFlags::RUNNABLE),
        mpidr: RecMpidr::from_rec_index(index).unwrap(),
        pc,
        gprs,
        num_aux: aux.len() as u64,
        aux: all,
    }
}

/// Creates the next REC of `rd` (index `index`) from fresh granules; returns its PA.
pub fn new_rec(m: &Machine, g: &mut Granules, rd: u64, index: u64) -> u64 {
    let count = rmi(m, RMI_REC_AUX_COUNT, &[rd])[1] as usize;
    let aux: Vec<u64> = (0..count).map(|_| g.delegated(m)).collect();
    let rec = g.delegated(m);
    let params = g.ns();
    let mut page = [0u8; 4096];
    rec_params(index, 0x1000, [index; 8], &aux).write_to(&mut page);
    m.ns_write(params, &page).unwrap();
    assert_eq!(rmi(m, RMI_REC_CREATE, &[rd, rec, params])[0], SUCCESS);
    rec
}

/// An ACTIVE realm run by a scripted realm model (RSI and PSCI tests).
pub mod realm;
