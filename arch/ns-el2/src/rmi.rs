//! Typed RMI calls (RMM spec 1.0-REL0, B4.3): SMC with x0 = function ID, arguments in x1..x6,
//! results in x0..x4. x0 is the return code: status in bits 7:0, index in bits 15:8 (B4.4.1).

use core::fmt;
use rmm_arch::smc::smc;

const VERSION: u64 = 0xC400_0150;
const GRANULE_DELEGATE: u64 = 0xC400_0151;
const GRANULE_UNDELEGATE: u64 = 0xC400_0152;
const DATA_CREATE: u64 = 0xC400_0153;
const DATA_CREATE_UNKNOWN: u64 = 0xC400_0154;
const DATA_DESTROY: u64 = 0xC400_0155;
const REALM_ACTIVATE: u64 = 0xC400_0157;
const REALM_CREATE: u64 = 0xC400_0158;
const REALM_DESTROY: u64 = 0xC400_0159;
const REC_CREATE: u64 = 0xC400_015A;
const REC_DESTROY: u64 = 0xC400_015B;
const REC_ENTER: u64 = 0xC400_015C;
const RTT_CREATE: u64 = 0xC400_015D;
const RTT_DESTROY: u64 = 0xC400_015E;
const RTT_MAP_UNPROTECTED: u64 = 0xC400_015F;
const RTT_READ_ENTRY: u64 = 0xC400_0161;
const RTT_UNMAP_UNPROTECTED: u64 = 0xC400_0162;
const PSCI_COMPLETE: u64 = 0xC400_0164;
const FEATURES: u64 = 0xC400_0165;
const REC_AUX_COUNT: u64 = 0xC400_0167;
const RTT_INIT_RIPAS: u64 = 0xC400_0168;
const RTT_SET_RIPAS: u64 = 0xC400_0169;

/// RMI_ERROR_INPUT (RmiStatusCode, B4.4.25).
pub const ERROR_INPUT: u8 = 1;

/// DATA_CREATE flags: measure the content (RmiDataFlags, B4.4.3).
pub const MEASURE_CONTENT: u64 = 1;

/// The interface revision this host speaks: 1.0 (major in 30:16, minor in 15:0).
pub const REVISION_1_0: u64 = 1 << 16;

/// A failed command's return code (x0 != 0).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RmiError(pub u64);

impl RmiError {
    /// The status (bits 7:0).
    pub fn status(self) -> u8 {
        self.0 as u8
    }
}

impl fmt::Display for RmiError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let name = match self.0 {
            u64::MAX => return f.write_str("SMCCC_NOT_SUPPORTED"),
            x if x >> 16 != 0 => return write!(f, "x0={x:#x}"),
            _ => match self.status() {
                1 => "RMI_ERROR_INPUT",
                2 => "RMI_ERROR_REALM",
                3 => "RMI_ERROR_REC",
                4 => "RMI_ERROR_RTT",
                _ => "RMI_ERROR_?",
            },
        };
        write!(
            f,
            "{name} (x0={:#x}, index {})",
            self.0,
            (self.0 >> 8) & 0xff
        )
    }
}

impl fmt::Debug for RmiError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The result of a command: x1..x4 on success.
pub type RmiResult<T = ()> = Result<T, RmiError>;

fn call(fid: u64, args: &[u64]) -> [u64; 8] {
    let mut regs = [0u64; 8];
    regs[0] = fid;
    for (reg, arg) in regs[1..].iter_mut().zip(args) {
        *reg = *arg;
    }
    smc(regs)
}

fn checked(fid: u64, args: &[u64]) -> RmiResult<[u64; 8]> {
    let out = call(fid, args);
    if out[0] == 0 {
        Ok(out)
    } else {
        Err(RmiError(out[0]))
    }
}

/// RMI_VERSION(requested): x0 (status), x1 (lower), x2 (higher), unchecked.
pub fn version(requested: u64) -> [u64; 3] {
    let out = call(VERSION, &[requested]);
    [out[0], out[1], out[2]]
}

/// RMI_FEATURES(index): the feature register.
pub fn features(index: u64) -> RmiResult<u64> {
    checked(FEATURES, &[index]).map(|out| out[1])
}

/// RMI_GRANULE_DELEGATE(addr).
pub fn granule_delegate(addr: u64) -> RmiResult {
    checked(GRANULE_DELEGATE, &[addr]).map(drop)
}

/// RMI_GRANULE_UNDELEGATE(addr).
pub fn granule_undelegate(addr: u64) -> RmiResult {
    checked(GRANULE_UNDELEGATE, &[addr]).map(drop)
}

/// RMI_REALM_CREATE(rd, params_ptr).
pub fn realm_create(rd: u64, params: u64) -> RmiResult {
    checked(REALM_CREATE, &[rd, params]).map(drop)
}

/// RMI_REALM_ACTIVATE(rd).
pub fn realm_activate(rd: u64) -> RmiResult {
    checked(REALM_ACTIVATE, &[rd]).map(drop)
}

/// RMI_REALM_DESTROY(rd).
pub fn realm_destroy(rd: u64) -> RmiResult {
    checked(REALM_DESTROY, &[rd]).map(drop)
}

/// RMI_RTT_CREATE(rd, rtt, ipa, level).
pub fn rtt_create(rd: u64, rtt: u64, ipa: u64, level: u64) -> RmiResult {
    checked(RTT_CREATE, &[rd, rtt, ipa, level]).map(drop)
}

/// RMI_RTT_DESTROY(rd, ipa, level): (the RTT's address, top).
pub fn rtt_destroy(rd: u64, ipa: u64, level: u64) -> RmiResult<(u64, u64)> {
    checked(RTT_DESTROY, &[rd, ipa, level]).map(|out| (out[1], out[2]))
}

/// RMI_RTT_INIT_RIPAS(rd, base, top): the top of the range that was set.
pub fn rtt_init_ripas(rd: u64, base: u64, top: u64) -> RmiResult<u64> {
    checked(RTT_INIT_RIPAS, &[rd, base, top]).map(|out| out[1])
}

/// RMI_DATA_CREATE(rd, data, ipa, src, flags).
pub fn data_create(rd: u64, data: u64, ipa: u64, src: u64, flags: u64) -> RmiResult {
    checked(DATA_CREATE, &[rd, data, ipa, src, flags]).map(drop)
}

/// RMI_DATA_DESTROY(rd, ipa): (the data granule's address, top).
pub fn data_destroy(rd: u64, ipa: u64) -> RmiResult<(u64, u64)> {
    checked(DATA_DESTROY, &[rd, ipa]).map(|out| (out[1], out[2]))
}

/// RMI_REC_AUX_COUNT(rd): the number of auxiliary granules a REC needs.
pub fn rec_aux_count(rd: u64) -> RmiResult<u64> {
    checked(REC_AUX_COUNT, &[rd]).map(|out| out[1])
}

/// RMI_REC_CREATE(rd, rec, params_ptr).
pub fn rec_create(rd: u64, rec: u64, params: u64) -> RmiResult {
    checked(REC_CREATE, &[rd, rec, params]).map(drop)
}

/// RMI_REC_DESTROY(rec).
pub fn rec_destroy(rec: u64) -> RmiResult {
    checked(REC_DESTROY, &[rec]).map(drop)
}

/// RMI_REC_ENTER(rec, run_ptr).
pub fn rec_enter(rec: u64, run: u64) -> RmiResult {
    checked(REC_ENTER, &[rec, run]).map(drop)
}

/// RMI_DATA_CREATE_UNKNOWN(rd, data, ipa).
pub fn data_create_unknown(rd: u64, data: u64, ipa: u64) -> RmiResult {
    checked(DATA_CREATE_UNKNOWN, &[rd, data, ipa]).map(drop)
}

/// RMI_RTT_MAP_UNPROTECTED(rd, ipa, level, desc).
pub fn rtt_map_unprotected(rd: u64, ipa: u64, level: u64, desc: u64) -> RmiResult {
    checked(RTT_MAP_UNPROTECTED, &[rd, ipa, level, desc]).map(drop)
}

/// RMI_RTT_UNMAP_UNPROTECTED(rd, ipa, level): top.
pub fn rtt_unmap_unprotected(rd: u64, ipa: u64, level: u64) -> RmiResult<u64> {
    checked(RTT_UNMAP_UNPROTECTED, &[rd, ipa, level]).map(|out| out[1])
}

/// RMI_RTT_READ_ENTRY(rd, ipa, level): walk level, state, descriptor, RIPAS.
pub fn rtt_read_entry(rd: u64, ipa: u64, level: u64) -> RmiResult<[u64; 4]> {
    checked(RTT_READ_ENTRY, &[rd, ipa, level]).map(|out| [out[1], out[2], out[3], out[4]])
}

/// RMI_PSCI_COMPLETE(calling_rec, target_rec, status).
pub fn psci_complete(calling: u64, target: u64, status: u64) -> RmiResult {
    checked(PSCI_COMPLETE, &[calling, target, status]).map(drop)
}

/// RMI_RTT_SET_RIPAS(rd, rec, base, top): out_top.
pub fn rtt_set_ripas(rd: u64, rec: u64, base: u64, top: u64) -> RmiResult<u64> {
    checked(RTT_SET_RIPAS, &[rd, rec, base, top]).map(|out| out[1])
}
