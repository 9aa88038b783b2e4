//! RTT entries: Armv8-A stage-2 descriptors that also record HIPAS and RIPAS (spec A5.5.4).
//!
//! An [`RttEntry`] is a raw 64-bit stage-2 descriptor (4 KiB granule, HCR_EL2.FWB = 1) that
//! the RMM writes, in its realm's [`RttFormat`]: without LPA2, or with it (A3.1.2; the output
//! address layout is in [`super::format`]). Only ASSIGNED with RIPAS RAM, ASSIGNED_NS and TABLE
//! are valid descriptors (A5.3.1); every other state is an invalid descriptor whose ignored
//! bits hold the state, the RIPAS and, for ASSIGNED, the output address.
//!
//! # Layout
//!
//! Valid descriptors (bit 0 set), as the hardware walker sees them (OA: the output address in
//! the format's layout, bits 47:12, or 49:12 and 9:8 with LPA2):
//!
//! | bits  | ASSIGNED, RIPAS RAM        | ASSIGNED_NS                              | TABLE    |
//! |-------|----------------------------|------------------------------------------|----------|
//! | 1:0   | 0b01 block (L1, L2), 0b11 page (L3) | the same                        | 0b11     |
//! | 5:2   | MemAttr 0b0110 (Normal WB) | MemAttr: 0, then host's `MemAttr[2:0]`   | 0        |
//! | 7:6   | S2AP 0b11 (read/write)     | host's S2AP                              | 0        |
//! | 9:8   | SH 0b11 (Inner Shareable); OA with LPA2 | SH 0b11 if `MemAttr[2:0]` is 0b11x, else 0b10; OA with LPA2 | 0; OA with LPA2 |
//! | 10    | AF 1                       | AF 1                                     | 0        |
//! | 11    | 0                          | 0                                        | 0        |
//! | 49:12 | DATA granule PA (47:12 without LPA2, 49:48 then 0) | host's PA        | next RTT |
//! | 52:50 | 0                          | 0                                        | 0        |
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
//! | 7     | 0                | 0                                  | 0             |
//! | 9:8   | 0                | 0; OA with LPA2                    | 0             |
//! | 11:10 | 0                | 0                                  | 0             |
//! | 49:12 | 0                | DATA granule PA (OA)               | 0             |
//! | 55:50 | 0                | 0                                  | 0             |
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
//! stage 1 says (A5.5.11). Without LPA2, ASSIGNED_NS shareability follows A5.5.11: Inner
//! Shareable for the cacheable MemAttr values (0b110 forced Write-Back, 0b111 stage-1
//! attributes), Outer Shareable for Device (0b0xx) and Non-cacheable (0b101). With LPA2 the
//! shareability of every mapping is VTCR_EL2.SH0, Inner Shareable (A5.5.11: "the RMM is
//! expected to set VTCR_EL2.DS").

use core::fmt;

use super::format::RttFormat;
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
/// The widest output address field, the LPA2 one: what B3.56 admits as ADDR in a host's
/// descriptor before the realm is known ([`desc_is_valid_for_unprotected`]).
const HOST_ADDR_MASK: u64 = RttFormat::Lpa2.oa_mask();
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
    /// X3: output address in the realm's descriptor layout, plus `MemAttr[2:0]` and S2AP for
    /// ASSIGNED_NS; zero when unassigned.
    pub desc: u64,
    /// X4: RipasToRmi(ripas) for protected states (B3.49); EMPTY otherwise.
    pub ripas: Ripas,
}

/// B3.56 RttDescriptorIsValidForUnprotected: the host's `desc` for RMI_RTT_MAP_UNPROTECTED
/// sets only ADDR, `MemAttr[2:0]` (bits 4:2, not the reserved 0b100) and S2AP (bits 7:6).
///
/// The function has no realm (the spec checks it before the RD), so ADDR is the widest
/// descriptor address field, the LPA2 one (bits 49:12 and 9:8): an address a realm without
/// LPA2 cannot map is that command's `addr_bound` ([`unprotected_desc_addr`] at or above
/// 2^48), not `attr_valid`. Alignment to the level is `addr_align`.
pub const fn desc_is_valid_for_unprotected(desc: u64) -> bool {
    desc & !(HOST_ADDR_MASK | MEMATTR_HOST_MASK | S2AP_MASK) == 0
        && (desc & MEMATTR_HOST_MASK) >> MEMATTR_SHIFT != MEMATTR_FWB_RESERVED
}

/// RttEntryFromDescriptor(desc).addr (B3.59): the output address of a host `desc` that
/// passes [`desc_is_valid_for_unprotected`], read with the LPA2 layout.
pub const fn unprotected_desc_addr(desc: u64) -> u64 {
    RttFormat::Lpa2.decode_oa(desc)
}

/// SH for an ASSIGNED_NS leaf with `MemAttr[2:0]` `mem_attr` (A5.5.11) in `format`: none with
/// LPA2, whose bits 9:8 are address bits.
const fn ns_shareability(mem_attr: u64, format: RttFormat) -> u64 {
    match (format, mem_attr) {
        (RttFormat::Lpa2, _) => 0,
        (RttFormat::Pa48, 0b110 | 0b111) => SH_INNER,
        (RttFormat::Pa48, _) => SH_OUTER,
    }
}

/// Fixed attributes of every ASSIGNED (RIPAS RAM) leaf: Normal WB, RW, AF, executable, and
/// Inner Shareable without LPA2 (VTCR_EL2.SH0 with it).
const fn ram_attrs(format: RttFormat) -> u64 {
    let common = MEMATTR_FWB_NORMAL_WB | S2AP_RW | AF;
    match format {
        RttFormat::Pa48 => common | SH_INNER,
        RttFormat::Lpa2 => common,
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

/// Whether `raw` is one of the encodings in the module's layout table (level aside), in
/// `format`.
const fn is_known(raw: u64, format: RttFormat) -> bool {
    let code = (raw & STATE_MASK) >> STATE_SHIFT;
    let oa = format.oa_mask();
    if raw & (VALID | AF) == AF {
        // A breaking leaf: a valid ASSIGNED or ASSIGNED_NS leaf with bit 0 cleared.
        return matches!(code, CODE_ASSIGNED | CODE_ASSIGNED_NS) && is_known(raw | VALID, format);
    }
    let ripas = (raw & RIPAS_MASK) >> RIPAS_SHIFT;
    if raw & VALID == 0 {
        match code {
            CODE_UNASSIGNED => raw & !(STATE_MASK | RIPAS_MASK) == 0 && ripas <= 2,
            CODE_ASSIGNED => {
                raw & !(STATE_MASK | RIPAS_MASK | oa) == 0
                    && (ripas == Ripas::Empty as u64 || ripas == Ripas::Destroyed as u64)
            }
            CODE_UNASSIGNED_NS => raw == CODE_UNASSIGNED_NS << STATE_SHIFT,
            _ => false,
        }
    } else {
        let rest = raw & !(oa | TABLE_OR_PAGE);
        match code {
            CODE_ASSIGNED => rest == VALID | ram_attrs(format) | (CODE_ASSIGNED << STATE_SHIFT),
            CODE_ASSIGNED_NS => {
                let mem_attr = (raw & MEMATTR_HOST_MASK) >> MEMATTR_SHIFT;
                let sh = ns_shareability(mem_attr, format);
                mem_attr != MEMATTR_FWB_RESERVED
                    && rest & !(MEMATTR_HOST_MASK | S2AP_MASK | sh) == NS_FIXED
                    && (format.is_lpa2() || raw & SH_MASK == sh)
            }
            CODE_TABLE => raw & !oa == VALID | TABLE_OR_PAGE | (CODE_TABLE << STATE_SHIFT),
            _ => false,
        }
    }
}

/// One RTT entry: a stage-2 descriptor in one of the encodings of the module's layout table,
/// and the format of the realm whose RTT holds it.
///
/// Every value was built by a constructor or checked by [`RttEntry::from_raw`], so the
/// accessors are total. Whether it suits a given level is [`RttEntry::is_valid_at`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RttEntry {
    raw: u64,
    format: RttFormat,
}

impl fmt::Debug for RttEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RttEntry({:#018x}, {:?}, {:?})",
            self.raw,
            self.state(),
            self.format
        )
    }
}

impl RttEntry {
    /// UNASSIGNED with RIPAS `ripas` (an invalid descriptor).
    pub const fn unassigned(ripas: Ripas, format: RttFormat) -> RttEntry {
        RttEntry {
            raw: (CODE_UNASSIGNED << STATE_SHIFT) | ((ripas as u64) << RIPAS_SHIFT),
            format,
        }
    }

    /// UNASSIGNED_NS (an invalid descriptor).
    pub const fn unassigned_ns(format: RttFormat) -> RttEntry {
        RttEntry {
            raw: CODE_UNASSIGNED_NS << STATE_SHIFT,
            format,
        }
    }

    /// ASSIGNED to the DATA granule(s) at `pa`, in an RTT at `level`. With RIPAS RAM this is a
    /// valid Normal WB, RW, executable block (levels 1-2) or page (level 3); otherwise an
    /// invalid descriptor recording `pa`. `None` if `level` holds no blocks or pages, or `pa`
    /// is not aligned to it or beyond what `format` expresses (2^48, 2^52 with LPA2).
    pub const fn assigned(
        pa: u64,
        ripas: Ripas,
        level: Level,
        format: RttFormat,
    ) -> Option<RttEntry> {
        if !level.can_hold_block_or_page() || !level.is_aligned(pa) {
            return None;
        }
        let Some(oa) = format.encode_oa(pa) else {
            return None;
        };
        let state = CODE_ASSIGNED << STATE_SHIFT;
        let raw = match ripas {
            Ripas::Ram => leaf_type(level) | ram_attrs(format) | oa | state,
            Ripas::Empty | Ripas::Destroyed => ((ripas as u64) << RIPAS_SHIFT) | oa | state,
        };
        Some(RttEntry { raw, format })
    }

    /// TABLE pointing to the RTT at `rtt`, for an entry in an RTT at `level`. `None` if
    /// `level` is the page level or `rtt` is not a granule address `format` expresses.
    pub const fn table(rtt: u64, level: Level, format: RttFormat) -> Option<RttEntry> {
        if !level.can_hold_table() {
            return None;
        }
        let Some(oa) = format.encode_oa(rtt) else {
            return None;
        };
        Some(RttEntry {
            raw: oa | VALID | TABLE_OR_PAGE | (CODE_TABLE << STATE_SHIFT),
            format,
        })
    }

    /// ASSIGNED_NS from the host's RMI_RTT_MAP_UNPROTECTED `desc` (B4.3.19), in an RTT at
    /// `level`: the host's ADDR, `MemAttr[2:0]` and S2AP, plus valid, AF, SH per MemAttr
    /// (without LPA2), XN (never executable) and NS set by the RMM. `None` if `desc` fails
    /// [`desc_is_valid_for_unprotected`], `level` holds no blocks or pages, or ADDR is not
    /// aligned to `level` or beyond what `format` expresses.
    pub const fn assigned_ns(desc: u64, level: Level, format: RttFormat) -> Option<RttEntry> {
        let addr = unprotected_desc_addr(desc);
        if !desc_is_valid_for_unprotected(desc)
            || !level.can_hold_block_or_page()
            || !level.is_aligned(addr)
        {
            return None;
        }
        let Some(oa) = format.encode_oa(addr) else {
            return None;
        };
        let host = desc & (MEMATTR_HOST_MASK | S2AP_MASK);
        let sh = ns_shareability((host >> MEMATTR_SHIFT) & 0x7, format);
        Some(RttEntry {
            raw: oa | host | leaf_type(level) | sh | NS_FIXED,
            format,
        })
    }

    /// Checks that `raw` is an encoding the RMM writes in `format`; never panics.
    pub const fn from_raw(raw: u64, format: RttFormat) -> Result<RttEntry, UnknownDescriptor> {
        if is_known(raw, format) {
            Ok(RttEntry { raw, format })
        } else {
            Err(UnknownDescriptor(raw))
        }
    }

    /// [`RttEntry::from_raw`], also requiring [`RttEntry::is_valid_at`] `level`: the check for
    /// an entry read from an RTT at `level`.
    pub const fn from_raw_at(
        raw: u64,
        level: Level,
        format: RttFormat,
    ) -> Result<RttEntry, UnknownDescriptor> {
        match Self::from_raw(raw, format) {
            Ok(e) if e.is_valid_at(level) => Ok(e),
            _ => Err(UnknownDescriptor(raw)),
        }
    }

    /// The raw descriptor, as stored in the RTT.
    pub const fn raw(self) -> u64 {
        self.raw
    }

    /// The descriptor format of the realm the entry belongs to.
    pub const fn format(self) -> RttFormat {
        self.format
    }

    /// The entry's state.
    pub const fn state(self) -> RttEntryState {
        match (self.raw & STATE_MASK) >> STATE_SHIFT {
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
                if self.raw & (VALID | AF) != 0 {
                    return Some(Ripas::Ram);
                }
                Some(match (self.raw & RIPAS_MASK) >> RIPAS_SHIFT {
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
            Some(self.format.decode_oa(self.raw))
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
            RttEntry {
                raw: self.raw & !VALID,
                format: self.format,
            }
        } else {
            self
        }
    }

    /// Whether the hardware walker uses this descriptor (bit 0): changing or removing it
    /// needs break-before-make and TLB maintenance.
    pub const fn is_hw_valid(self) -> bool {
        self.raw & VALID != 0
    }

    /// `MemAttr[2:0]` of an ASSIGNED_NS entry (C1.29); `None` for other states.
    pub const fn mem_attr(self) -> Option<u8> {
        match self.state() {
            RttEntryState::AssignedNs => {
                Some(((self.raw & MEMATTR_HOST_MASK) >> MEMATTR_SHIFT) as u8)
            }
            _ => None,
        }
    }

    /// S2AP of an ASSIGNED_NS entry (C1.29); `None` for other states.
    pub const fn s2ap(self) -> Option<u8> {
        match self.state() {
            RttEntryState::AssignedNs => Some(((self.raw & S2AP_MASK) >> S2AP_SHIFT) as u8),
            _ => None,
        }
    }

    /// Whether the entry may sit in an RTT at `level` (A5.5.4): TABLE at levels -1 to 2;
    /// ASSIGNED and ASSIGNED_NS at levels 1-3 with the output address aligned to the level, as
    /// blocks at levels 1-2 and pages at level 3; UNASSIGNED and UNASSIGNED_NS anywhere.
    pub const fn is_valid_at(self, level: Level) -> bool {
        match self.state() {
            RttEntryState::Unassigned | RttEntryState::UnassignedNs => true,
            RttEntryState::Table => level.can_hold_table(),
            RttEntryState::Assigned | RttEntryState::AssignedNs => {
                let leaf = self.raw & (VALID | AF) != 0;
                let type_ok = !leaf || (self.raw & TABLE_OR_PAGE != 0) == level.is_page();
                level.can_hold_block_or_page()
                    && level.is_aligned(self.format.decode_oa(self.raw))
                    && type_ok
            }
        }
    }

    /// The RMI_RTT_READ_ENTRY outputs for this entry (B4.3.20.3). The descriptor's address is
    /// in the realm's layout (with LPA2, bits 51:50 in bits 9:8), as RTT_MAP_UNPROTECTED takes
    /// it. A TABLE entry reports RIPAS EMPTY (the spec sets no value).
    pub const fn read_entry(self) -> ReadEntry {
        let state = self.state();
        let oa = self.format.oa_mask();
        let desc = match state {
            RttEntryState::Unassigned | RttEntryState::UnassignedNs => 0,
            RttEntryState::Assigned | RttEntryState::Table => self.raw & oa,
            RttEntryState::AssignedNs => self.raw & (oa | MEMATTR_HOST_MASK | S2AP_MASK),
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
            RttEntryState::Unassigned => Some(Self::unassigned(ripas, self.format)),
            RttEntryState::Assigned => {
                Self::assigned(self.format.decode_oa(self.raw), ripas, level, self.format)
            }
            _ => None,
        }
    }

    /// The same ASSIGNED or ASSIGNED_NS entry (same RIPAS or host attributes) with output
    /// address `addr`, in an RTT at `level`: used to fold and unfold (A5.5.6, A5.5.7).
    pub(super) const fn with_output_address(self, addr: u64, level: Level) -> Option<RttEntry> {
        match self.state() {
            RttEntryState::Assigned => match self.ripas() {
                Some(r) => Self::assigned(addr, r, level, self.format),
                None => None,
            },
            RttEntryState::AssignedNs => {
                let Some(oa) = RttFormat::Lpa2.encode_oa(addr) else {
                    return None;
                };
                let host = self.raw & (MEMATTR_HOST_MASK | S2AP_MASK);
                Self::assigned_ns(oa | host, level, self.format)
            }
            _ => None,
        }
    }
}

impl From<RttEntry> for u64 {
    fn from(entry: RttEntry) -> u64 {
        entry.raw()
    }
}
