//! The stress test's RMI commands, and what each may return (spec B4.3): the return codes,
//! and the output registers (B1.2: every register a command does not output is zero).

use crate::common::{ERROR_INPUT, NOT_SUPPORTED};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Cmd {
    Version,
    GranuleDelegate,
    GranuleUndelegate,
    DataCreate,
    DataCreateUnknown,
    DataDestroy,
    RealmActivate,
    RealmCreate,
    RealmDestroy,
    RecCreate,
    RecDestroy,
    RecEnter,
    RttCreate,
    RttDestroy,
    RttMapUnprotected,
    RttReadEntry,
    RttUnmapUnprotected,
    PsciComplete,
    Features,
    RttFold,
    RecAuxCount,
    RttInitRipas,
    RttSetRipas,
    /// A function ID the RMM does not implement.
    Unknown,
}

/// RMI_ERROR_REALM with index 0 may be returned.
pub(crate) const E_REALM0: u8 = 1;
/// RMI_ERROR_REALM with index 1 may be returned.
pub(crate) const E_REALM1: u8 = 2;
/// RMI_ERROR_REC may be returned.
pub(crate) const E_REC: u8 = 4;
/// RMI_ERROR_RTT may be returned.
pub(crate) const E_RTT: u8 = 8;
/// RMI_ERROR_INPUT may NOT be returned (RMI_FEATURES has no failure conditions).
pub(crate) const NO_INPUT: u8 = 16;

/// SMCCC SVE hint: set in a function ID by a caller with no live SVE state; selects nothing.
pub(crate) const SVE_HINT: u64 = 1 << 16;

impl Cmd {
    pub(crate) const ALL: [Cmd; 23] = [
        Cmd::Version,
        Cmd::GranuleDelegate,
        Cmd::GranuleUndelegate,
        Cmd::DataCreate,
        Cmd::DataCreateUnknown,
        Cmd::DataDestroy,
        Cmd::RealmActivate,
        Cmd::RealmCreate,
        Cmd::RealmDestroy,
        Cmd::RecCreate,
        Cmd::RecDestroy,
        Cmd::RecEnter,
        Cmd::RttCreate,
        Cmd::RttDestroy,
        Cmd::RttMapUnprotected,
        Cmd::RttReadEntry,
        Cmd::RttUnmapUnprotected,
        Cmd::PsciComplete,
        Cmd::Features,
        Cmd::RttFold,
        Cmd::RecAuxCount,
        Cmd::RttInitRipas,
        Cmd::RttSetRipas,
    ];

    /// Function ID, name, number of output registers after x0, and the errors it may return.
    pub(crate) fn info(self) -> (u64, &'static str, usize, u8) {
        match self {
            Cmd::Version => (0xC400_0150, "RMI_VERSION", 2, 0),
            Cmd::GranuleDelegate => (0xC400_0151, "RMI_GRANULE_DELEGATE", 0, 0),
            Cmd::GranuleUndelegate => (0xC400_0152, "RMI_GRANULE_UNDELEGATE", 0, 0),
            Cmd::DataCreate => (0xC400_0153, "RMI_DATA_CREATE", 0, E_REALM0 | E_RTT),
            Cmd::DataCreateUnknown => (0xC400_0154, "RMI_DATA_CREATE_UNKNOWN", 0, E_RTT),
            Cmd::DataDestroy => (0xC400_0155, "RMI_DATA_DESTROY", 2, E_RTT),
            Cmd::RealmActivate => (0xC400_0157, "RMI_REALM_ACTIVATE", 0, E_REALM0),
            Cmd::RealmCreate => (0xC400_0158, "RMI_REALM_CREATE", 0, 0),
            Cmd::RealmDestroy => (0xC400_0159, "RMI_REALM_DESTROY", 0, E_REALM0),
            Cmd::RecCreate => (0xC400_015A, "RMI_REC_CREATE", 0, E_REALM0),
            Cmd::RecDestroy => (0xC400_015B, "RMI_REC_DESTROY", 0, E_REC),
            Cmd::RecEnter => (0xC400_015C, "RMI_REC_ENTER", 0, E_REALM0 | E_REALM1 | E_REC),
            Cmd::RttCreate => (0xC400_015D, "RMI_RTT_CREATE", 0, E_RTT),
            Cmd::RttDestroy => (0xC400_015E, "RMI_RTT_DESTROY", 2, E_RTT),
            Cmd::RttMapUnprotected => (0xC400_015F, "RMI_RTT_MAP_UNPROTECTED", 0, E_RTT),
            Cmd::RttReadEntry => (0xC400_0161, "RMI_RTT_READ_ENTRY", 4, 0),
            Cmd::RttUnmapUnprotected => (0xC400_0162, "RMI_RTT_UNMAP_UNPROTECTED", 1, E_RTT),
            Cmd::PsciComplete => (0xC400_0164, "RMI_PSCI_COMPLETE", 0, 0),
            Cmd::Features => (0xC400_0165, "RMI_FEATURES", 1, NO_INPUT),
            Cmd::RttFold => (0xC400_0166, "RMI_RTT_FOLD", 1, E_RTT),
            Cmd::RecAuxCount => (0xC400_0167, "RMI_REC_AUX_COUNT", 1, 0),
            Cmd::RttInitRipas => (0xC400_0168, "RMI_RTT_INIT_RIPAS", 1, E_REALM0 | E_RTT),
            Cmd::RttSetRipas => (0xC400_0169, "RMI_RTT_SET_RIPAS", 1, E_REC | E_RTT),
            Cmd::Unknown => (0, "(unknown FID)", 0, 0),
        }
    }

    pub(crate) fn fid(self) -> u64 {
        self.info().0
    }

    pub(crate) fn name(self) -> &'static str {
        self.info().1
    }
}

/// What a call may return beyond the command's own list.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Exp {
    /// RMI_ERROR_RTT levels that are possible (`None`: no RTT error is, e.g. the RD or the
    /// level is invalid so the walk is never reached).
    pub(crate) rtt: Option<(i64, i64)>,
    /// The call must fail with RMI_ERROR_INPUT, whatever the other threads do.
    pub(crate) input_only: bool,
    /// The call cannot succeed (but may fail in more than one way).
    pub(crate) no_success: bool,
}

pub(crate) const ANY: Exp = Exp {
    rtt: None,
    input_only: false,
    no_success: false,
};
pub(crate) const INPUT: Exp = Exp {
    rtt: None,
    input_only: true,
    no_success: true,
};
pub(crate) const FAILS: Exp = Exp {
    rtt: None,
    input_only: false,
    no_success: true,
};

pub(crate) fn rtt_levels(lo: i64, hi: i64) -> Exp {
    Exp {
        rtt: Some((lo, hi)),
        ..ANY
    }
}

pub(crate) fn describe(x0: u64) -> String {
    match (x0 & 0xff, x0 >> 8) {
        _ if x0 == NOT_SUPPORTED => "NOT_SUPPORTED".into(),
        (0, 0) => "SUCCESS".into(),
        (1, 0) => "ERROR_INPUT".into(),
        (2, i) => format!("ERROR_REALM({i})"),
        (3, 0) => "ERROR_REC".into(),
        (4, l) => format!("ERROR_RTT({l})"),
        _ => format!("{x0:#x}"),
    }
}

/// Whether x0..x7 are what `cmd` may return for `regs`; `Err` says why not.
pub(crate) fn check_outputs(
    cmd: Cmd,
    regs: &[u64; 8],
    out: &[u64; 8],
    exp: Exp,
) -> Result<(), String> {
    let (_, _, outputs, errors) = cmd.info();
    if cmd == Cmd::Unknown {
        if out[0] != NOT_SUPPORTED {
            return Err(format!("unknown FID gave {}", describe(out[0])));
        }
    } else {
        let x0 = out[0];
        let (status, index) = (x0 & 0xff, x0 >> 8);
        let legal = match status {
            0 => index == 0 && !exp.no_success,
            1 => index == 0 && errors & NO_INPUT == 0,
            2 => (index == 0 && errors & E_REALM0 != 0) || (index == 1 && errors & E_REALM1 != 0),
            3 => index == 0 && errors & E_REC != 0,
            4 => {
                errors & E_RTT != 0
                    && exp
                        .rtt
                        .is_some_and(|(lo, hi)| (lo..=hi).contains(&(index as i64)))
            }
            _ => false,
        };
        if !legal || (exp.input_only && x0 != ERROR_INPUT) {
            return Err(format!(
                "{} returned {} (expected {exp:?})",
                cmd.name(),
                describe(x0)
            ));
        }
    }
    // B1.2: every register a command does not output is zero; a function ID that is no command
    // keeps x4..x7 (SMCCC 1.2).
    for (i, (&o, &r)) in out.iter().zip(regs).enumerate().skip(outputs + 1) {
        let want = if cmd == Cmd::Unknown && i >= 4 { r } else { 0 };
        if o != want {
            return Err(format!(
                "{} changed x{i} to {o:#x} (expected {want:#x})",
                cmd.name()
            ));
        }
    }
    Ok(())
}
