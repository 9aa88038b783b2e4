//! The RMI commands and their function IDs (spec B4.3).

/// One RMI command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// RMI_VERSION (B4.3.23).
    Version,
    /// RMI_GRANULE_DELEGATE (B4.3.5).
    GranuleDelegate,
    /// RMI_GRANULE_UNDELEGATE (B4.3.6).
    GranuleUndelegate,
    /// RMI_DATA_CREATE (B4.3.1).
    DataCreate,
    /// RMI_DATA_CREATE_UNKNOWN (B4.3.2).
    DataCreateUnknown,
    /// RMI_DATA_DESTROY (B4.3.3).
    DataDestroy,
    /// RMI_REALM_ACTIVATE (B4.3.8).
    RealmActivate,
    /// RMI_REALM_CREATE (B4.3.9).
    RealmCreate,
    /// RMI_REALM_DESTROY (B4.3.10).
    RealmDestroy,
    /// RMI_REC_CREATE (B4.3.12).
    RecCreate,
    /// RMI_REC_DESTROY (B4.3.13).
    RecDestroy,
    /// RMI_REC_ENTER (B4.3.14).
    RecEnter,
    /// RMI_RTT_CREATE (B4.3.15).
    RttCreate,
    /// RMI_RTT_DESTROY (B4.3.16).
    RttDestroy,
    /// RMI_RTT_MAP_UNPROTECTED (B4.3.19).
    RttMapUnprotected,
    /// RMI_RTT_READ_ENTRY (B4.3.20).
    RttReadEntry,
    /// RMI_RTT_UNMAP_UNPROTECTED (B4.3.22).
    RttUnmapUnprotected,
    /// RMI_PSCI_COMPLETE (B4.3.7).
    PsciComplete,
    /// RMI_FEATURES (B4.3.4).
    Features,
    /// RMI_RTT_FOLD (B4.3.17).
    RttFold,
    /// RMI_REC_AUX_COUNT (B4.3.11).
    RecAuxCount,
    /// RMI_RTT_INIT_RIPAS (B4.3.18).
    RttInitRipas,
    /// RMI_RTT_SET_RIPAS (B4.3.21).
    RttSetRipas,
}

/// A row of [`TABLE`].
type Row = (Command, u32, &'static str, usize, usize);

/// Each command with its function ID, name, and number of input registers after x0 and output
/// registers after x0 (spec B4.3, each command's input and output values).
const TABLE: [Row; 23] = [
    (Command::Version, 0xC400_0150, "RMI_VERSION", 1, 2),
    (
        Command::GranuleDelegate,
        0xC400_0151,
        "RMI_GRANULE_DELEGATE",
        1,
        0,
    ),
    (
        Command::GranuleUndelegate,
        0xC400_0152,
        "RMI_GRANULE_UNDELEGATE",
        1,
        0,
    ),
    (Command::DataCreate, 0xC400_0153, "RMI_DATA_CREATE", 5, 0),
    (
        Command::DataCreateUnknown,
        0xC400_0154,
        "RMI_DATA_CREATE_UNKNOWN",
        3,
        0,
    ),
    (Command::DataDestroy, 0xC400_0155, "RMI_DATA_DESTROY", 2, 2),
    (
        Command::RealmActivate,
        0xC400_0157,
        "RMI_REALM_ACTIVATE",
        1,
        0,
    ),
    (Command::RealmCreate, 0xC400_0158, "RMI_REALM_CREATE", 2, 0),
    (
        Command::RealmDestroy,
        0xC400_0159,
        "RMI_REALM_DESTROY",
        1,
        0,
    ),
    (Command::RecCreate, 0xC400_015A, "RMI_REC_CREATE", 3, 0),
    (Command::RecDestroy, 0xC400_015B, "RMI_REC_DESTROY", 1, 0),
    (Command::RecEnter, 0xC400_015C, "RMI_REC_ENTER", 2, 0),
    (Command::RttCreate, 0xC400_015D, "RMI_RTT_CREATE", 4, 0),
    (Command::RttDestroy, 0xC400_015E, "RMI_RTT_DESTROY", 3, 2),
    (
        Command::RttMapUnprotected,
        0xC400_015F,
        "RMI_RTT_MAP_UNPROTECTED",
        4,
        0,
    ),
    (
        Command::RttReadEntry,
        0xC400_0161,
        "RMI_RTT_READ_ENTRY",
        3,
        4,
    ),
    (
        Command::RttUnmapUnprotected,
        0xC400_0162,
        "RMI_RTT_UNMAP_UNPROTECTED",
        3,
        1,
    ),
    (
        Command::PsciComplete,
        0xC400_0164,
        "RMI_PSCI_COMPLETE",
        3,
        0,
    ),
    (Command::Features, 0xC400_0165, "RMI_FEATURES", 1, 1),
    (Command::RttFold, 0xC400_0166, "RMI_RTT_FOLD", 3, 1),
    (Command::RecAuxCount, 0xC400_0167, "RMI_REC_AUX_COUNT", 1, 1),
    (
        Command::RttInitRipas,
        0xC400_0168,
        "RMI_RTT_INIT_RIPAS",
        3,
        1,
    ),
    (Command::RttSetRipas, 0xC400_0169, "RMI_RTT_SET_RIPAS", 4, 1),
];

/// The first RMI function ID.
pub const FID_FIRST: u32 = 0xC400_0150;
/// The last RMI function ID.
pub const FID_LAST: u32 = 0xC400_0169;

/// Index of each command's row in [`TABLE`]; every row must name its own command.
const fn row(command: Command) -> usize {
    command as usize
}

const _: () = {
    let (mut rows, mut i, mut previous): (&[Row], _, _) = (&TABLE, 0, 0);
    while let [(command, fid, _, inputs, outputs), rest @ ..] = rows {
        assert!(
            row(*command) == i,
            "TABLE rows follow the Command declaration order"
        );
        assert!(*fid >= FID_FIRST && *fid <= FID_LAST);
        assert!(*inputs <= 7, "RMI inputs are x1..x7");
        assert!(*outputs <= 4, "RMI outputs are x1..x4");
        assert!(*fid > previous, "function IDs ascend");
        (rows, i, previous) = (rest, i + 1, *fid);
    }
};

impl Command {
    /// Every command, in function ID order.
    pub fn all() -> impl Iterator<Item = Command> {
        TABLE.iter().map(|row| row.0)
    }

    /// The command with function ID `fid`, if any.
    pub fn from_fid(fid: u32) -> Option<Command> {
        if !(FID_FIRST..=FID_LAST).contains(&fid) {
            return None;
        }
        TABLE.iter().find(|row| row.1 == fid).map(|row| row.0)
    }

    /// The command's row of [`TABLE`].
    // In range: TABLE has a row for each command, in declaration order (checked above at
    // compile time), so `row(self)` is below its length.
    #[allow(clippy::indexing_slicing)]
    const fn row(self) -> &'static Row {
        &TABLE[row(self)]
    }

    /// The function ID.
    pub const fn fid(self) -> u32 {
        self.row().1
    }

    /// The spec's name, e.g. `RMI_GRANULE_DELEGATE`.
    pub const fn name(self) -> &'static str {
        self.row().2
    }

    /// How many input registers after x0 the command defines.
    pub const fn input_count(self) -> usize {
        self.row().3
    }

    /// How many output registers after x0 the command defines.
    pub const fn output_count(self) -> usize {
        self.row().4
    }
}
