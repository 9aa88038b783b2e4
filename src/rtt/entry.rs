//! RTT entries: Armv8-A stage-2 descriptors that also record HIPAS and RIPAS (spec A5.5.4).
//!
//! An [`RttEntry`] is a raw 64-bit stage-2 descriptor (4 KiB granule, no LPA2, HCR_EL2.FWB = 1)
//! that the RMM writes. Only ASSIGNED with RIPAS RAM, ASSIGNED_NS and TABLE are valid
//! descriptors (A5.3.1); every other state is an invalid descriptor whose ignored bits hold the
//! state, the RIPAS and, for ASSIGNED, the output address.
//!
//! # Layout
//!
//! Valid descriptors (bit 0 set), as the hardware walker sees them:
//!
//! | bits  | ASSIGNED, RIPAS RAM        | ASSIGNED_NS                              | TABLE    |
//! |-------|----------------------------|------------------------------------------|----------|
//! | 1:0   | 0b01 block (L1, L2), 0b11 page (L3) | the same                        | 0b11     |
//! | 5:2   | MemAttr 0b0110 (Normal WB) | MemAttr: 0, then host's `MemAttr[2:0]`   | 0        |
//! | 7:6   | S2AP 0b11 (read/write)     | host's S2AP                              | 0        |
//! | 9:8   | SH 0b11 (Inner Shareable)  | SH 0b11 if `MemAttr[2:0]` is 0b11x, else 0b10 | 0   |
//! | 10    | AF 1                       | AF 1                                     | 0        |
//! | 11    | 0                          | 0                                        | 0        |
//! | 47:12 | DATA granule PA            | host's PA                                | next RTT |
//! | 52:48 | 0                          | 0                                        | 0        |
//! | 54:53 | XN 0b00 (executable)       | XN 0b10 (never executable)               | 0        |
//! | 55    | NS 0 (Realm PAS)           | NS 1 (Non-secure PAS)                    | 0        |
//! | 58:56 | STATE 1                    | STATE 3                                  | STATE 4  |
//! | 63:59 | 0                          | 0                                        | 0        |
//!
//! Invalid descriptors (bit 0 clear), ignored by the hardware walker:
//!
//! | bits  | UNASSIGNED       | ASSIGNED, RIPAS EMPTY or DESTROYED | UNASSIGNED_NS |
//! |-------|------------------|------------------------------------|---------------|
//! | 4:0   | 0                | 0                                  | 0             |
//! | 6:5   | RIPAS (0, 1, 2)  | RIPAS (0 or 2)                     | 0             |
//! | 11:7  | 0                | 0                                  | 0             |
//! | 47:12 | 0                | DATA granule PA                    | 0             |
//! | 55:48 | 0                | 0                                  | 0             |
//! | 58:56 | STATE 0          | STATE 1                            | STATE 2       |
//! | 63:59 | 0                | 0                                  | 0             |
//!
//! A valid leaf (ASSIGNED with RIPAS RAM, ASSIGNED_NS) with bit 0 cleared is the same entry
//! *breaking*: the hardware ignores it, lock-free readers see the same state, RIPAS and address
//! ([`RttEntry::breaking`], for break-before-make). AF (bit 10) tells it from the other invalid
//! encodings, which all have AF clear.
//!
//! RIPAS uses the RmiRipas encoding: 0 EMPTY, 1 RAM, 2 DESTROYED. A zeroed RTT is 512
//! UNASSIGNED entries with RIPAS EMPTY. Any other value is refused by [`RttEntry::from_raw`].
//!
//! Bit 55 is the NS bit of Realm-state stage-2 block and page descriptors (FEAT_RME), so only
//! bits 58:56 are left for software; the STATE tag tells a table from a page without knowing
//! the level. With HCR_EL2.FWB = 1, MemAttr 0b0110 makes the mapping Normal Write-Back whatever
//! stage 1 says (A5.5.11). ASSIGNED_NS shareability follows A5.5.11: Inner Shareable for the
//! cacheable MemAttr values (0b110 forced Write-Back, 0b111 stage-1 attributes), Outer
//! Shareable for Device (0b0xx) and Non-cacheable (0b101).

use core::fmt;

use super::geometry::Level;
use super::state::{Hipas, Ripas, RmiRttEntryState, RttEntryState};

const VALID: u64 = 1 << 0;
const TABLE_OR_PAGE: u64 = 1 << 1;
const MEMATTR_SHIFT: u32 = 2;
/// `MemAttr[2:0]`: the Host-controlled part (`MemAttr[3]` is RES0 under FWB, A5.5.11).
const MEMATTR_HOST_MASK: u64 = 0x7 << MEMATTR_SHIFT;
const MEMATTR_FWB_NORMAL_WB: u64 = 0b0110 << MEMATTR_SHIFT;
const MEMATTR_FWB_RESERVED: u64 = 0b100;
const S2AP_SHIFT: u32 = 6;
const S2AP_MASK: u64 = 0x3 << S2AP_SHIFT;
const S2AP_RW: u64 = 0x3 << S2AP_SHIFT;
const SH_MASK: u64 = 0x3 << 8;
const SH_OUTER: u64 = 0x2 << 8;
const SH_INNER: u64 = 0x3 << 8;
const AF: u64 = 1 << 10;
/// Output address bits 47:12.
const OA_MASK: u64 = 0x0000_ffff_ffff_f000;
/// `XN[1]` set, `XN[0]` clear: not executable at EL1 or EL0.
const XN_NEVER: u64 = 0x2 << 53;
const NS: u64 = 1 << 55;
const STATE_SHIFT: u32 = 56;
const STATE_MASK: u64 = 0x7 << STATE_SHIFT;
const RIPAS_SHIFT: u32 = 5;
const RIPAS_MASK: u64 = 0x3 << RIPAS_SHIFT;

const CODE_UNASSIGNED: u64 = 0;
const CODE_ASSIGNED: u64 = 1;
const CODE_UNASSIGNED_NS: u64 = 2;
const CODE_ASSIGNED_NS: u64 = 3;
const CODE_TABLE: u64 = 4;

/// Fixed attributes of every ASSIGNED (RIPAS RAM) leaf: Normal WB, RW, IS, AF, executable.
const RAM_ATTRS: u64 = MEMATTR_FWB_NORMAL_WB | S2AP_RW | SH_INNER | AF;
/// Fixed bits of every ASSIGNED_NS leaf besides OA, type, MemAttr, S2AP and SH.
const NS_FIXED: u64 = VALID | AF | XN_NEVER | NS | (CODE_ASSIGNED_NS << STATE_SHIFT);

/// A descriptor the RMM never writes: [`RttEntry::from_raw`] refuses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownDescriptor(pub u64);

/// What RMI_RTT_READ_ENTRY reports for an entry (B4.3.20.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadEntry {
    /// X2: RttEntryState(walk.rtte.state) (B3.61).
    pub state: RmiRttEntryState,
    /// X3: output address, plus `MemAttr[2:0]` and S2AP for ASSIGNED_NS; zero when unassigned.
    pub desc: u64,
    /// X4: RipasToRmi(ripas) for protected states (B3.49); EMPTY otherwise.
    pub ripas: Ripas,
}

/// B3.56 RttDescriptorIsValidForUnprotected: the host's `desc` for RMI_RTT_MAP_UNPROTECTED
/// sets only ADDR (bits 47:12), `MemAttr[2:0]` (bits 4:2, not the reserved 0b100) and S2AP
/// (bits 7:6). Alignment to the level is checked separately (B4.3.19 addr_align).
pub const fn desc_is_valid_for_unprotected(desc: u64) -> bool {
    desc & !(OA_MASK | MEMATTR_HOST_MASK | S2AP_MASK) == 0
        && (desc & MEMATTR_HOST_MASK) >> MEMATTR_SHIFT != MEMATTR_FWB_RESERVED
}

/// RttEntryFromDescriptor(desc).addr (B3.59): the output address field of a host `desc`.
pub const fn unprotected_desc_addr(desc: u64) -> u64 {
    desc & OA_MASK
}

/// SH for an ASSIGNED_NS leaf with `MemAttr[2:0]` `mem_attr` (A5.5.11).
const fn ns_shareability(mem_attr: u64) -> u64 {
    match mem_attr {
        0b110 | 0b111 => SH_INNER,
        _ => SH_OUTER,
    }
}

/// Bits 1:0 of a valid leaf at `level` (which can hold blocks or pages).
const fn leaf_type(level: Level) -> u64 {
    if level.is_page() {
        VALID | TABLE_OR_PAGE
    } else {
        VALID
    }
}

/// Whether `raw` is one of the encodings in the module's layout table (level aside).
const fn is_known(raw: u64) -> bool {
    let code = (raw & STATE_MASK) >> STATE_SHIFT;
    if raw & (VALID | AF) == AF {
        // A breaking leaf: a valid ASSIGNED or ASSIGNED_NS leaf with bit 0 cleared.
        return matches!(code, CODE_ASSIGNED | CODE_ASSIGNED_NS) && is_known(raw | VALID);
    }
    let ripas = (raw & RIPAS_MASK) >> RIPAS_SHIFT;
    if raw & VALID == 0 {
        match code {
            CODE_UNASSIGNED => raw & !(STATE_MASK | RIPAS_MASK) == 0 && ripas <= 2,
            CODE_ASSIGNED => {
                raw & !(STATE_MASK | RIPAS_MASK | OA_MASK) == 0
                    && (ripas == Ripas::Empty as u64 || ripas == Ripas::Destroyed as u64)
            }
            CODE_UNASSIGNED_NS => raw == CODE_UNASSIGNED_NS << STATE_SHIFT,
            _ => false,
        }
    } else {
        let rest = raw & !(OA_MASK | TABLE_OR_PAGE);
        match code {
            CODE_ASSIGNED => rest == VALID | RAM_ATTRS | (CODE_ASSIGNED << STATE_SHIFT),
            CODE_ASSIGNED_NS => {
                let mem_attr = (raw & MEMATTR_HOST_MASK) >> MEMATTR_SHIFT;
                mem_attr != MEMATTR_FWB_RESERVED
                    && raw & SH_MASK == ns_shareability(mem_attr)
                    && rest & !(MEMATTR_HOST_MASK | S2AP_MASK | SH_MASK) == NS_FIXED
            }
            CODE_TABLE => raw & !OA_MASK == VALID | TABLE_OR_PAGE | (CODE_TABLE << STATE_SHIFT),
            _ => false,
        }
    }
}

/// One RTT entry: a stage-2 descriptor in one of the encodings of the module's layout table.
///
/// Every value was built by a constructor or checked by [`RttEntry::from_raw`], so the
/// accessors are total. Whether it suits a given level is [`RttEntry::is_valid_at`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct RttEntry(u64);

impl fmt::Debug for RttEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RttEntry({:#018x}, {:?})", self.0, self.state())
    }
}

impl RttEntry {
    /// UNASSIGNED with RIPAS `ripas` (an invalid descriptor).
    pub const fn unassigned(ripas: Ripas) -> RttEntry {
        RttEntry((CODE_UNASSIGNED << STATE_SHIFT) | ((ripas as u64) << RIPAS_SHIFT))
    }

    /// UNASSIGNED_NS (an invalid descriptor).
    pub const fn unassigned_ns() -> RttEntry {
        RttEntry(CODE_UNASSIGNED_NS << STATE_SHIFT)
    }

    /// ASSIGNED to the DATA granule(s) at `pa`, in an RTT at `level`. With RIPAS RAM this is a
    /// valid Normal WB, RW, executable block (levels 1-2) or page (level 3); otherwise an
    /// invalid descriptor recording `pa`. `None` if `level` holds no blocks or pages, or `pa`
    /// is not aligned to it or not below 2^48.
    pub const fn assigned(pa: u64, ripas: Ripas, level: Level) -> Option<RttEntry> {
        if !level.can_hold_block_or_page() || pa & !OA_MASK != 0 || !level.is_aligned(pa) {
            return None;
        }
        let state = CODE_ASSIGNED << STATE_SHIFT;
        Some(match ripas {
            Ripas::Ram => RttEntry(leaf_type(level) | RAM_ATTRS | pa | state),
            Ripas::Empty | Ripas::Destroyed => {
                RttEntry(((ripas as u64) << RIPAS_SHIFT) | pa | state)
            }
        })
    }

    /// TABLE pointing to the RTT at `rtt`, for an entry in an RTT at `level`. `None` if
    /// `level` is the page level or `rtt` is not a granule address below 2^48.
    pub const fn table(rtt: u64, level: Level) -> Option<RttEntry> {
        if !level.can_hold_table() || rtt & !OA_MASK != 0 {
            return None;
        }
        Some(RttEntry(
            rtt | VALID | TABLE_OR_PAGE | (CODE_TABLE << STATE_SHIFT),
        ))
    }

    /// ASSIGNED_NS from the host's RMI_RTT_MAP_UNPROTECTED `desc` (B4.3.19), in an RTT at
    /// `level`: the host's ADDR, `MemAttr[2:0]` and S2AP, plus valid, AF, SH per MemAttr, XN
    /// (never executable) and NS set by the RMM. `None` if `desc` fails
    /// [`desc_is_valid_for_unprotected`], `level` holds no blocks or pages, or ADDR is not
    /// aligned to `level`.
    pub const fn assigned_ns(desc: u64, level: Level) -> Option<RttEntry> {
        if !desc_is_valid_for_unprotected(desc)
            || !level.can_hold_block_or_page()
            || !level.is_aligned(desc & OA_MASK)
        {
            return None;
        }
        let sh = ns_shareability((desc & MEMATTR_HOST_MASK) >> MEMATTR_SHIFT);
        Some(RttEntry(desc | leaf_type(level) | sh | NS_FIXED))
    }

    /// Checks that `raw` is an encoding the RMM writes; never panics.
    pub const fn from_raw(raw: u64) -> Result<RttEntry, UnknownDescriptor> {
        if is_known(raw) {
            Ok(RttEntry(raw))
        } else {
            Err(UnknownDescriptor(raw))
        }
    }

    /// [`RttEntry::from_raw`], also requiring [`RttEntry::is_valid_at`] `level`: the check for
    /// an entry read from an RTT at `level`.
    pub const fn from_raw_at(raw: u64, level: Level) -> Result<RttEntry, UnknownDescriptor> {
        match Self::from_raw(raw) {
            Ok(e) if e.is_valid_at(level) => Ok(e),
            _ => Err(UnknownDescriptor(raw)),
        }
    }

    /// The raw descriptor, as stored in the RTT.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// The entry's state.
    pub const fn state(self) -> RttEntryState {
        match (self.0 & STATE_MASK) >> STATE_SHIFT {
            CODE_UNASSIGNED => RttEntryState::Unassigned,
            CODE_ASSIGNED => RttEntryState::Assigned,
            CODE_UNASSIGNED_NS => RttEntryState::UnassignedNs,
            CODE_ASSIGNED_NS => RttEntryState::AssignedNs,
            // Only CODE_TABLE reaches here: from_raw admits no other code.
            _ => RttEntryState::Table,
        }
    }

    /// The HIPAS (A5.3.1); `None` for TABLE.
    pub const fn hipas(self) -> Option<Hipas> {
        self.state().hipas()
    }

    /// The RIPAS of a protected entry (UNASSIGNED or ASSIGNED); `None` for other states.
    pub const fn ripas(self) -> Option<Ripas> {
        match self.state() {
            RttEntryState::Unassigned | RttEntryState::Assigned => {
                if self.0 & (VALID | AF) != 0 {
                    return Some(Ripas::Ram);
                }
                Some(match (self.0 & RIPAS_MASK) >> RIPAS_SHIFT {
                    0 => Ripas::Empty,
                    1 => Ripas::Ram,
                    _ => Ripas::Destroyed,
                })
            }
            _ => None,
        }
    }

    /// The output address of a live entry (ASSIGNED, ASSIGNED_NS, TABLE); `None` otherwise.
    pub const fn output_address(self) -> Option<u64> {
        if self.state().is_live() {
            Some(self.0 & OA_MASK)
        } else {
            None
        }
    }

    /// RTTE liveness (A5.5.8): ASSIGNED, ASSIGNED_NS or TABLE.
    pub const fn is_live(self) -> bool {
        self.state().is_live()
    }

    /// Whether this entry makes its RTT live (B3.64): ASSIGNED or TABLE.
    pub const fn makes_rtt_live(self) -> bool {
        self.state().makes_rtt_live()
    }

    /// This valid leaf with bit 0 cleared, for break-before-make: the hardware stops using it
    /// while lock-free readers still see the same entry. Other entries are returned unchanged.
    pub const fn breaking(self) -> RttEntry {
        if self.is_hw_valid() && !matches!(self.state(), RttEntryState::Table) {
            RttEntry(self.0 & !VALID)
        } else {
            self
        }
    }

    /// Whether the hardware walker uses this descriptor (bit 0): changing or removing it
    /// needs break-before-make and TLB maintenance.
    pub const fn is_hw_valid(self) -> bool {
        self.0 & VALID != 0
    }

    /// `MemAttr[2:0]` of an ASSIGNED_NS entry (C1.29); `None` for other states.
    pub const fn mem_attr(self) -> Option<u8> {
        match self.state() {
            RttEntryState::AssignedNs => {
                Some(((self.0 & MEMATTR_HOST_MASK) >> MEMATTR_SHIFT) as u8)
            }
            _ => None,
        }
    }

    /// S2AP of an ASSIGNED_NS entry (C1.29); `None` for other states.
    pub const fn s2ap(self) -> Option<u8> {
        match self.state() {
            RttEntryState::AssignedNs => Some(((self.0 & S2AP_MASK) >> S2AP_SHIFT) as u8),
            _ => None,
        }
    }

    /// Whether the entry may sit in an RTT at `level` (A5.5.4): TABLE at levels 0-2;
    /// ASSIGNED and ASSIGNED_NS at levels 1-3 with the output address aligned to the level, as
    /// blocks at levels 1-2 and pages at level 3; UNASSIGNED and UNASSIGNED_NS anywhere.
    pub const fn is_valid_at(self, level: Level) -> bool {
        match self.state() {
            RttEntryState::Unassigned | RttEntryState::UnassignedNs => true,
            RttEntryState::Table => level.can_hold_table(),
            RttEntryState::Assigned | RttEntryState::AssignedNs => {
                let leaf = self.0 & (VALID | AF) != 0;
                let type_ok = !leaf || (self.0 & TABLE_OR_PAGE != 0) == level.is_page();
                level.can_hold_block_or_page() && level.is_aligned(self.0 & OA_MASK) && type_ok
            }
        }
    }

    /// The RMI_RTT_READ_ENTRY outputs for this entry (B4.3.20.3). A TABLE entry reports RIPAS
    /// EMPTY (the spec sets no value).
    pub const fn read_entry(self) -> ReadEntry {
        let state = self.state();
        let desc = match state {
            RttEntryState::Unassigned | RttEntryState::UnassignedNs => 0,
            RttEntryState::Assigned | RttEntryState::Table => self.0 & OA_MASK,
            RttEntryState::AssignedNs => self.0 & (OA_MASK | MEMATTR_HOST_MASK | S2AP_MASK),
        };
        let ripas = match self.ripas() {
            Some(r) => r,
            None => Ripas::Empty,
        };
        ReadEntry {
            state: state.to_rmi(),
            desc,
            ripas,
        }
    }

    /// The same protected entry with RIPAS `ripas`, in an RTT at `level` (RIPAS changes,
    /// A5.2): UNASSIGNED stays UNASSIGNED, ASSIGNED keeps its address (and becomes a valid
    /// mapping exactly when `ripas` is RAM). `None` for other states or if the address does
    /// not suit `level`.
    pub const fn with_ripas(self, ripas: Ripas, level: Level) -> Option<RttEntry> {
        match self.state() {
            RttEntryState::Unassigned => Some(Self::unassigned(ripas)),
            RttEntryState::Assigned => Self::assigned(self.0 & OA_MASK, ripas, level),
            _ => None,
        }
    }

    /// The same ASSIGNED or ASSIGNED_NS entry (same RIPAS or host attributes) with output
    /// address `addr`, in an RTT at `level`: used to fold and unfold (A5.5.6, A5.5.7).
    pub(super) const fn with_output_address(self, addr: u64, level: Level) -> Option<RttEntry> {
        match self.state() {
            RttEntryState::Assigned => match self.ripas() {
                Some(r) => Self::assigned(addr, r, level),
                None => None,
            },
            RttEntryState::AssignedNs => {
                if addr & !OA_MASK != 0 {
                    return None;
                }
                let host = self.0 & (MEMATTR_HOST_MASK | S2AP_MASK);
                Self::assigned_ns(addr | host, level)
            }
            _ => None,
        }
    }
}

impl TryFrom<u64> for RttEntry {
    type Error = UnknownDescriptor;

    fn try_from(raw: u64) -> Result<Self, Self::Error> {
        Self::from_raw(raw)
    }
}

impl From<RttEntry> for u64 {
    fn from(entry: RttEntry) -> u64 {
        entry.raw()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn unassigned_bit_patterns() {
        assert_eq!(RttEntry::unassigned(Ripas::Empty).raw(), 0);
        assert_eq!(RttEntry::unassigned(Ripas::Ram).raw(), 0x20);
        assert_eq!(RttEntry::unassigned(Ripas::Destroyed).raw(), 0x40);
        assert_eq!(RttEntry::unassigned_ns().raw(), 0x0200_0000_0000_0000);
    }

    #[test]
    fn assigned_ram_is_a_valid_normal_wb_rw_is_af_executable_leaf() {
        // Page: [1:0]=0b11, MemAttr[5:2]=0b0110 (0x18), S2AP=0b11 (0xc0), SH=0b11 (0x300),
        // AF (0x400) = 0x7db; XN 0, NS 0; STATE 1 at bit 56.
        let page = RttEntry::assigned(0x8000_1000, Ripas::Ram, Level::PAGE).unwrap();
        assert_eq!(page.raw(), 0x0100_0000_8000_17db);
        // Blocks: [1:0]=0b01.
        let l2 = RttEntry::assigned(0x4020_0000, Ripas::Ram, Level::L2).unwrap();
        assert_eq!(l2.raw(), 0x0100_0000_4020_07d9);
        let l1 = RttEntry::assigned(0xc0_4000_0000, Ripas::Ram, Level::L1).unwrap();
        assert_eq!(l1.raw(), 0x0100_00c0_4000_07d9);
        assert!(page.is_hw_valid() && l2.is_hw_valid() && l1.is_hw_valid());
    }

    #[test]
    fn assigned_empty_and_destroyed_are_invalid_and_keep_the_pa() {
        let e = RttEntry::assigned(0x8000_0000, Ripas::Empty, Level::PAGE).unwrap();
        assert_eq!(e.raw(), 0x0100_0000_8000_0000);
        let d = RttEntry::assigned(0x8000_0000, Ripas::Destroyed, Level::PAGE).unwrap();
        assert_eq!(d.raw(), 0x0100_0000_8000_0040);
        // Invalid descriptors do not depend on the level.
        let d2 = RttEntry::assigned(0x8000_0000, Ripas::Destroyed, Level::L2).unwrap();
        assert_eq!(d2, d);
        assert!(!e.is_hw_valid() && !d.is_hw_valid());
        assert_eq!(d.output_address(), Some(0x8000_0000));
    }

    #[test]
    fn assigned_rejects_bad_level_alignment_or_width() {
        assert_eq!(RttEntry::assigned(0, Ripas::Ram, Level::L0), None);
        assert_eq!(RttEntry::assigned(0, Ripas::Empty, Level::L0), None);
        assert_eq!(
            RttEntry::assigned(0x8000_0800, Ripas::Ram, Level::PAGE),
            None
        );
        assert_eq!(RttEntry::assigned(0x4010_0000, Ripas::Ram, Level::L2), None);
        assert_eq!(
            RttEntry::assigned(0x4020_0000, Ripas::Empty, Level::L1),
            None
        );
        assert_eq!(RttEntry::assigned(1 << 48, Ripas::Ram, Level::PAGE), None);
        assert_eq!(RttEntry::assigned(!0xfff, Ripas::Ram, Level::PAGE), None);
        assert!(RttEntry::assigned((1 << 48) - 4096, Ripas::Ram, Level::PAGE).is_some());
    }

    #[test]
    fn table_bit_pattern() {
        for level in [Level::L0, Level::L1, Level::L2] {
            let t = RttEntry::table(0x8800_0000, level).unwrap();
            assert_eq!(t.raw(), 0x0400_0000_8800_0003);
        }
        assert_eq!(RttEntry::table(0x8800_0000, Level::PAGE), None);
        assert_eq!(RttEntry::table(0x8800_0800, Level::L2), None);
        assert_eq!(RttEntry::table(1 << 48, Level::L2), None);
    }

    #[test]
    fn assigned_ns_bit_patterns() {
        // Normal WB (0b110 -> 0x18), RW (0xc0), page: + 0b11, SH IS 0x300, AF 0x400,
        // XN 0b10 (bit 54), NS (bit 55), STATE 3 (bits 57:56).
        let wb = RttEntry::assigned_ns(0x9000_00d8, Level::PAGE).unwrap();
        assert_eq!(wb.raw(), 0x03c0_0000_9000_07db);
        // Device-nGnRE (0b001 -> 0x4), RW, level-2 block: SH OS 0x200.
        let dev = RttEntry::assigned_ns(0x4020_00c4, Level::L2).unwrap();
        assert_eq!(dev.raw(), 0x03c0_0000_4020_06c5);
        // Normal NC (0b101 -> 0x14), read-only (0b01 -> 0x40): SH OS.
        let nc = RttEntry::assigned_ns(0x9000_0054, Level::PAGE).unwrap();
        assert_eq!(nc.raw(), 0x03c0_0000_9000_0657);
        // Stage-1 attributes (0b111 -> 0x1c), no access, level-1 block: SH IS.
        let s1 = RttEntry::assigned_ns(0x80_0000_001c, Level::L1).unwrap();
        assert_eq!(s1.raw(), 0x03c0_0080_0000_071d);
        assert_eq!((wb.mem_attr(), wb.s2ap()), (Some(0b110), Some(0b11)));
        assert_eq!((nc.mem_attr(), nc.s2ap()), (Some(0b101), Some(0b01)));
        assert_eq!(nc.output_address(), Some(0x9000_0000));
    }

    #[test]
    fn unprotected_desc_validity_per_b3_56() {
        assert!(desc_is_valid_for_unprotected(0));
        assert!(desc_is_valid_for_unprotected(0x0000_ffff_ffff_f0dc));
        for mem in 0..8_u64 {
            let ok = mem != 0b100;
            assert_eq!(
                desc_is_valid_for_unprotected(mem << 2),
                ok,
                "MemAttr {mem:#b}"
            );
        }
        // Any bit outside ADDR[47:12], MemAttr[2:0], S2AP is refused.
        for bit in (0..2).chain(5..6).chain(8..12).chain(48..64) {
            assert!(
                !desc_is_valid_for_unprotected(0x9000_00d8 | (1 << bit)),
                "bit {bit}"
            );
        }
        // Alignment is not part of B3.56 but of assigned_ns.
        assert!(desc_is_valid_for_unprotected(0x9000_10d8));
        assert_eq!(RttEntry::assigned_ns(0x9000_10d8, Level::L2), None);
        assert_eq!(RttEntry::assigned_ns(0x9000_00d8, Level::L0), None);
        assert_eq!(RttEntry::assigned_ns(0x9000_00d0, Level::PAGE), None);
        assert_eq!(unprotected_desc_addr(0x9000_10d8), 0x9000_1000);
    }
}
