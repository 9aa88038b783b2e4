//! The descriptor format of a realm's RTTs: with or without LPA2 (spec A3.1.2, A5.5.11).
//!
//! Where an output address sits in a stage-2 descriptor with the 4 KiB granule (Arm ARM,
//! VMSAv8-64 descriptor formats):
//!
//! | format | VTCR_EL2.DS | OA bits 47:12 | OA bits 49:48 | OA bits 51:50 | bits 9:8 of a leaf |
//! |---|---|---|---|---|---|
//! | [`RttFormat::Pa48`] | 0 | bits 47:12 | - (RES0) | - | SH |
//! | [`RttFormat::Lpa2`] | 1 | bits 47:12 | bits 49:48 | bits 9:8 | OA 51:50 (SH is VTCR_EL2.SH0) |
//!
//! Table descriptors use the same address field. The RMM writes addresses of invalid
//! descriptors (ASSIGNED with RIPAS EMPTY or DESTROYED) in the same place, so an entry keeps
//! one layout whether the hardware uses it or not.

/// Bits 49:12 of an address, which sit in place in a descriptor.
const OA_LOW: u64 = 0x0003_ffff_ffff_f000;
/// Bits 51:50 of an address, in descriptor bits 9:8 with LPA2.
const OA_HIGH_SHIFT: u32 = 50;
const OA_HIGH_IN_DESC_SHIFT: u32 = 8;
const OA_HIGH_IN_DESC: u64 = 0x3 << OA_HIGH_IN_DESC_SHIFT;
/// The address field without LPA2: bits 47:12.
const OA_48: u64 = 0x0000_ffff_ffff_f000;

/// The stage-2 descriptor format of a realm's RTTs: the realm's `feat_lpa2` (A2.1.3), chosen
/// by RmiRealmFlags.lpa2 at RMI_REALM_CREATE (A3.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RttFormat {
    /// Without LPA2 (VTCR_EL2.DS = 0): output addresses below 2^48; bits 9:8 of a block or
    /// page are its shareability (A5.5.11: set by the RMM from MemAttr).
    Pa48,
    /// FEAT_LPA2 (VTCR_EL2.DS = 1): 52-bit output addresses, bits 51:50 in descriptor bits 9:8;
    /// shareability is VTCR_EL2.SH0 for every mapping (A5.5.11).
    Lpa2,
}

impl RttFormat {
    /// The format of a realm whose `feat_lpa2` is `lpa2`.
    pub const fn from_lpa2(lpa2: bool) -> RttFormat {
        if lpa2 {
            RttFormat::Lpa2
        } else {
            RttFormat::Pa48
        }
    }

    /// Whether this is the LPA2 format (`feat_lpa2`, VTCR_EL2.DS).
    pub const fn is_lpa2(self) -> bool {
        matches!(self, RttFormat::Lpa2)
    }

    /// The first output address the format cannot express: 2^48, or 2^52 with LPA2. A PA at
    /// or above 2^48 in a realm without LPA2 fails A3.1.2's checks (DATA_CREATE and
    /// DATA_CREATE_UNKNOWN `data_bound2`, RTT_CREATE `rtt_bound2`, RTT_MAP_UNPROTECTED
    /// `addr_bound`).
    pub const fn pa_limit(self) -> u64 {
        match self {
            RttFormat::Pa48 => 1 << 48,
            RttFormat::Lpa2 => 1 << 52,
        }
    }

    /// Whether `pa` is below [`RttFormat::pa_limit`].
    pub const fn pa_fits(self, pa: u64) -> bool {
        pa < self.pa_limit()
    }

    /// The descriptor bits that hold an output address.
    pub const fn oa_mask(self) -> u64 {
        match self {
            RttFormat::Pa48 => OA_48,
            RttFormat::Lpa2 => OA_LOW | OA_HIGH_IN_DESC,
        }
    }

    /// The granule address `pa` in descriptor layout; `None` if it is not granule aligned or
    /// not below [`RttFormat::pa_limit`].
    pub const fn encode_oa(self, pa: u64) -> Option<u64> {
        if pa & 0xfff != 0 || !self.pa_fits(pa) {
            return None;
        }
        Some(match self {
            RttFormat::Pa48 => pa,
            RttFormat::Lpa2 => {
                (pa & OA_LOW) | (((pa >> OA_HIGH_SHIFT) << OA_HIGH_IN_DESC_SHIFT) & OA_HIGH_IN_DESC)
            }
        })
    }

    /// The output address field of descriptor `raw`.
    pub const fn decode_oa(self, raw: u64) -> u64 {
        match self {
            RttFormat::Pa48 => raw & OA_48,
            RttFormat::Lpa2 => {
                (raw & OA_LOW)
                    | (((raw & OA_HIGH_IN_DESC) >> OA_HIGH_IN_DESC_SHIFT) << OA_HIGH_SHIFT)
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn pa48_keeps_addresses_in_place_below_2_pow_48() {
        let f = RttFormat::Pa48;
        assert_eq!(f.encode_oa(0x8000_1000), Some(0x8000_1000));
        assert_eq!(f.encode_oa((1 << 48) - 4096), Some((1 << 48) - 4096));
        assert_eq!(f.encode_oa(1 << 48), None);
        assert_eq!(f.encode_oa(0x8000_1800), None);
        assert_eq!(f.decode_oa(0x0300_ffff_ffff_f7db), 0xffff_ffff_f000);
        assert_eq!(f.oa_mask(), 0x0000_ffff_ffff_f000);
        assert!(!f.is_lpa2() && f.pa_fits((1 << 48) - 1) && !f.pa_fits(1 << 48));
    }

    #[test]
    fn lpa2_moves_bits_51_50_to_descriptor_bits_9_8() {
        let f = RttFormat::Lpa2;
        // Bits 49:48 stay in place.
        assert_eq!(
            f.encode_oa(0x0003_0000_0000_1000),
            Some(0x0003_0000_0000_1000)
        );
        // Bit 50 -> bit 8, bit 51 -> bit 9.
        assert_eq!(f.encode_oa(1 << 50), Some(0x100));
        assert_eq!(f.encode_oa(1 << 51), Some(0x200));
        assert_eq!(f.encode_oa((1 << 52) - 4096), Some(0x0003_ffff_ffff_f300));
        assert_eq!(f.encode_oa(1 << 52), None);
        assert_eq!(f.encode_oa((1 << 51) | 0x10), None);
        for pa in [
            0,
            0x8000_0000,
            1 << 48,
            3 << 50,
            (1 << 52) - 4096,
            0x000a_bcde_f012_3000,
        ] {
            let raw = f.encode_oa(pa).unwrap();
            assert_eq!(f.decode_oa(raw), pa, "{pa:#x}");
            // Other descriptor bits do not leak into the address.
            assert_eq!(f.decode_oa(raw | !f.oa_mask()), pa, "{pa:#x}");
        }
        assert_eq!(f.oa_mask(), 0x0003_ffff_ffff_f300);
        assert!(f.is_lpa2() && f.pa_fits((1 << 52) - 1) && !f.pa_fits(1 << 52));
        assert_eq!(RttFormat::from_lpa2(true), f);
        assert_eq!(RttFormat::from_lpa2(false), RttFormat::Pa48);
    }
}
