//! RTT entry states, HIPAS and RIPAS, and their RMI encodings (spec A5.2, A5.3, A5.5.4).

/// The state of an RTT entry (A5.5.4, C1.30 RmmRttEntryState).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RttEntryState {
    /// Protected IPA, not associated with any granule.
    Unassigned,
    /// Protected IPA; the output address is a DATA granule.
    Assigned,
    /// The output address is the next-level RTT.
    Table,
    /// Unprotected IPA, not associated with any granule.
    UnassignedNs,
    /// Unprotected IPA; the output address is an NS granule.
    AssignedNs,
}

impl RttEntryState {
    /// The RMI encoding of the state (B3.61 RttEntryState): the NS states report as their
    /// protected counterparts.
    pub const fn to_rmi(self) -> RmiRttEntryState {
        match self {
            Self::Unassigned | Self::UnassignedNs => RmiRttEntryState::Unassigned,
            Self::Assigned | Self::AssignedNs => RmiRttEntryState::Assigned,
            Self::Table => RmiRttEntryState::Table,
        }
    }

    /// The HIPAS this state stands for (A5.3.1); `None` for [`RttEntryState::Table`].
    pub const fn hipas(self) -> Option<Hipas> {
        match self {
            Self::Unassigned => Some(Hipas::Unassigned),
            Self::Assigned => Some(Hipas::Assigned),
            Self::UnassignedNs => Some(Hipas::UnassignedNs),
            Self::AssignedNs => Some(Hipas::AssignedNs),
            Self::Table => None,
        }
    }

    /// RTTE liveness (A5.5.8): a physical address is stored in the entry (ASSIGNED,
    /// ASSIGNED_NS or TABLE).
    pub const fn is_live(self) -> bool {
        matches!(self, Self::Assigned | Self::AssignedNs | Self::Table)
    }

    /// Whether an entry in this state makes its RTT live (A5.5.8, B3.64 RttIsLive): it
    /// references another RMM object (ASSIGNED: a DATA granule; TABLE: an RTT). ASSIGNED_NS
    /// does not.
    pub const fn makes_rtt_live(self) -> bool {
        matches!(self, Self::Assigned | Self::Table)
    }
}

/// RTT entry state as reported by RMI_RTT_READ_ENTRY (B4.4.24 RmiRttEntryState).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RmiRttEntryState {
    /// RMI_UNASSIGNED: not associated with any granule.
    Unassigned = 0,
    /// RMI_ASSIGNED: points to a DATA granule (Protected IPA) or an NS granule (Unprotected).
    Assigned = 1,
    /// RMI_TABLE: points to the next-level RTT.
    Table = 2,
}

/// Realm IPA state (A5.2.2, C1.26 RmmRipas). The discriminants are the RmiRipas encodings
/// (B4.4.23). C1.26 also lists DEV, which no 1.0 command produces and RmiRipas cannot encode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Ripas {
    /// EMPTY: no realm resources are mapped.
    Empty = 0,
    /// RAM: private code or data owned by the realm.
    Ram = 1,
    /// DESTROYED: inaccessible to the realm due to a host action.
    Destroyed = 2,
}

impl Ripas {
    /// B3.49 RipasToRmi: the RmiRipas encoding.
    pub const fn to_rmi(self) -> u8 {
        self as u8
    }

    /// Decodes an RmiRipas value; `None` for reserved encodings.
    pub const fn from_rmi(value: u64) -> Option<Ripas> {
        match value {
            0 => Some(Self::Empty),
            1 => Some(Self::Ram),
            2 => Some(Self::Destroyed),
            _ => None,
        }
    }
}

/// Host IPA state (A5.3.1, C1.9 RmmHipas).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hipas {
    /// HIPAS_UNASSIGNED: Protected IPA not associated with any granule.
    Unassigned,
    /// HIPAS_ASSIGNED: Protected IPA associated with a DATA granule.
    Assigned,
    /// HIPAS_UNASSIGNED_NS: Unprotected IPA not associated with any granule.
    UnassignedNs,
    /// HIPAS_ASSIGNED_NS: Unprotected IPA associated with an NS granule.
    AssignedNs,
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const ALL: [RttEntryState; 5] = [
        RttEntryState::Unassigned,
        RttEntryState::Assigned,
        RttEntryState::Table,
        RttEntryState::UnassignedNs,
        RttEntryState::AssignedNs,
    ];

    #[test]
    fn rmi_state_encoding_matches_b3_61() {
        let codes: [u8; 5] = [0, 1, 2, 0, 1];
        for (s, code) in ALL.into_iter().zip(codes) {
            assert_eq!(s.to_rmi() as u8, code, "{s:?}");
        }
    }

    #[test]
    fn ripas_encoding_matches_b4_4_23() {
        assert_eq!(Ripas::Empty.to_rmi(), 0);
        assert_eq!(Ripas::Ram.to_rmi(), 1);
        assert_eq!(Ripas::Destroyed.to_rmi(), 2);
        for r in [Ripas::Empty, Ripas::Ram, Ripas::Destroyed] {
            assert_eq!(Ripas::from_rmi(r.to_rmi() as u64), Some(r));
        }
        for bad in [3, 4, 0x100, 0x101, u64::MAX] {
            assert_eq!(Ripas::from_rmi(bad), None, "{bad:#x}");
        }
    }

    #[test]
    fn liveness_per_a5_5_8() {
        let live: [bool; 5] = [false, true, true, false, true];
        let rtt_live: [bool; 5] = [false, true, true, false, false];
        for ((s, l), r) in ALL.into_iter().zip(live).zip(rtt_live) {
            assert_eq!(s.is_live(), l, "{s:?}");
            assert_eq!(s.makes_rtt_live(), r, "{s:?}");
        }
    }

    #[test]
    fn hipas_of_each_state() {
        assert_eq!(RttEntryState::Unassigned.hipas(), Some(Hipas::Unassigned));
        assert_eq!(RttEntryState::Assigned.hipas(), Some(Hipas::Assigned));
        assert_eq!(
            RttEntryState::UnassignedNs.hipas(),
            Some(Hipas::UnassignedNs)
        );
        assert_eq!(RttEntryState::AssignedNs.hipas(), Some(Hipas::AssignedNs));
        assert_eq!(RttEntryState::Table.hipas(), None);
    }
}
