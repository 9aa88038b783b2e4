//! RTT levels and per-level address arithmetic (spec A5.5).
//!
//! The RMM supports the 4 KiB translation granule only (A5.5.1), so one RTT level resolves 9
//! IPA bits. Levels run from -1 (a starting level only with LPA2, A3.1.2: its RTT resolves IPA
//! bits 51:48) to 3, the page level. Whether a level is valid for a realm is the realm's
//! business ([`super::RttConfig::level`]); [`Level`] only knows the architecture's range.

use crate::GRANULE_SHIFT;

/// Entries in one RTT: a 4 KiB granule of 8-byte descriptors (C1.28 RmmRtt). A level -1 RTT
/// uses its first 16 at most (IPA bits 51:48); the hardware never reads the others.
pub const RTT_ENTRIES: usize = 512;
/// IPA bits resolved by one RTT level: log2 of [`RTT_ENTRIES`].
pub const RTT_STRIDE: u32 = 9;
/// IPA bits a level -1 RTT resolves (51:48): 16 entries, never concatenated (Arm ARM
/// `AArch64.S2InconsistentSL` with FEAT_LPA2).
pub const LEVEL_MINUS_1_STRIDE: u32 = 4;

/// An RTT level, known to be in [`Level::MIN`]..=[`Level::PAGE`] (C1.31: levels are Int8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Level(i8);

impl Level {
    /// The smallest level: -1, which only a realm with LPA2 starts at.
    pub const MIN: Level = Level(-1);
    /// Level -1 (LPA2): entries of 256 TiB, IPA bits 51:48.
    pub const LM1: Level = Level(-1);
    /// Level 0.
    pub const L0: Level = Level(0);
    /// Level 1: 1 GiB blocks.
    pub const L1: Level = Level(1);
    /// Level 2: 2 MiB blocks.
    pub const L2: Level = Level(2);
    /// Level 3, the page level (RMM_RTT_PAGE_LEVEL): 4 KiB pages.
    pub const PAGE: Level = Level(3);

    /// The level `level` (a host-supplied Int64), or `None` outside -1..=3.
    pub const fn new(level: i64) -> Option<Level> {
        if level >= Self::MIN.0 as i64 && level <= Self::PAGE.0 as i64 {
            Some(Level(level as i8))
        } else {
            None
        }
    }

    /// The level as a number.
    pub const fn get(self) -> i8 {
        self.0
    }

    /// The level as the 8-bit index of an RMI_ERROR_RTT return code (B4.4.1): its two's
    /// complement, so level -1 is 0xff (as TF-RMM packs it).
    pub const fn error_index(self) -> u8 {
        self.0 as u8
    }

    /// log2 of the IPA range one entry at this level describes: 12 + 9 * (3 - level).
    pub const fn shift(self) -> u32 {
        // A level is -1..=3 (`Level::new`): 3 - level is at most 4, the result at most 48.
        let above_page = Self::PAGE.0.abs_diff(self.0) as u32;
        GRANULE_SHIFT.saturating_add(RTT_STRIDE.saturating_mul(above_page))
    }

    /// Size of the IPA range one entry at this level describes (B3.68 RttLevelSize).
    pub const fn size(self) -> u64 {
        1 << self.shift()
    }

    /// Entries of an RTT at this level that the architecture indexes: 512, or 16 at level -1
    /// (IPA bits 51:48; the rest of that granule is never read by the hardware).
    pub const fn table_entries(self) -> usize {
        if self.0 < 0 {
            1 << LEVEL_MINUS_1_STRIDE
        } else {
            RTT_ENTRIES
        }
    }

    /// log2 of the IPA range an RTT at this level describes: [`Level::shift`] plus 9, or 4 at
    /// level -1 (52 bits).
    pub const fn table_shift(self) -> u32 {
        // At most 48 + 4 at level -1, 39 + 9 below it.
        if self.0 < 0 {
            self.shift().saturating_add(LEVEL_MINUS_1_STRIDE)
        } else {
            self.shift().saturating_add(RTT_STRIDE)
        }
    }

    /// Index of the entry for `addr` in an RTT at this level (B3.60 RttEntryIndex).
    pub const fn entry_index(self, addr: u64) -> usize {
        ((addr >> self.shift()) as usize) & (RTT_ENTRIES - 1)
    }

    /// The bits of an address below [`Level::size`]: its offset in an entry's range.
    pub const fn offset_mask(self) -> u64 {
        !(u64::MAX << self.shift())
    }

    /// Whether `addr` is aligned to [`Level::size`] (B3.5 AddrIsRttLevelAligned).
    pub const fn is_aligned(self, addr: u64) -> bool {
        addr & self.offset_mask() == 0
    }

    /// `addr` rounded down to [`Level::size`] (B3.7 AlignDownToRttLevel).
    pub const fn align_down(self, addr: u64) -> u64 {
        addr & !self.offset_mask()
    }

    /// `addr` rounded up to [`Level::size`] (B3.8 AlignUpToRttLevel); `None` on overflow.
    pub const fn align_up(self, addr: u64) -> Option<u64> {
        match addr.checked_add(self.offset_mask()) {
            Some(a) => Some(self.align_down(a)),
            None => None,
        }
    }

    /// The level of the RTTs that entries at this level point to.
    pub const fn child(self) -> Option<Level> {
        // An i8 widened to i64: no overflow.
        Self::new((self.0 as i64).saturating_add(1))
    }

    /// The level of the RTT whose entries point to RTTs at this level.
    pub const fn parent(self) -> Option<Level> {
        Self::new((self.0 as i64).saturating_sub(1))
    }

    /// Whether entries at this level may be table descriptors (levels -1..=2).
    pub const fn can_hold_table(self) -> bool {
        self.0 < Self::PAGE.0
    }

    /// Whether entries at this level may map memory: blocks at levels 1 and 2, pages at 3
    /// (A5.5.4: an RTTE at any other level is UNASSIGNED, UNASSIGNED_NS or TABLE, so the
    /// level-0 blocks LPA2 would allow are not used).
    pub const fn can_hold_block_or_page(self) -> bool {
        self.0 >= Self::L1.0
    }

    /// Whether this is the page level.
    pub const fn is_page(self) -> bool {
        self.0 == Self::PAGE.0
    }
}

/// B3.5 AddrIsRttLevelAligned for a host-supplied level: FALSE if `level` is invalid.
pub const fn addr_is_rtt_level_aligned(addr: u64, level: i64) -> bool {
    match Level::new(level) {
        Some(l) => l.is_aligned(addr),
        None => false,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn level_new_accepts_only_minus_1_to_3() {
        for l in [i64::MIN, -3, -2, 4, 5, 127, 128, 255, i64::MAX] {
            assert_eq!(Level::new(l), None, "level {l}");
        }
        for l in -1..=3 {
            assert_eq!(Level::new(l).map(Level::get), Some(l as i8));
        }
        assert_eq!(Level::MIN, Level::LM1);
    }

    #[test]
    fn level_shift_and_size() {
        let expect = [
            (-1, 48, 1 << 48),
            (0, 39, 512 * GIB),
            (1, 30, GIB),
            (2, 21, 2 << 20),
            (3, 12, 4096),
        ];
        for (l, shift, size) in expect {
            let level = Level::new(l).unwrap();
            assert_eq!(level.shift(), shift, "level {l}");
            assert_eq!(level.size(), size, "level {l}");
        }
    }

    #[test]
    fn table_entries_and_span() {
        assert_eq!(
            (Level::LM1.table_entries(), Level::LM1.table_shift()),
            (16, 52)
        );
        assert_eq!(
            (Level::L0.table_entries(), Level::L0.table_shift()),
            (512, 48)
        );
        assert_eq!(
            (Level::PAGE.table_entries(), Level::PAGE.table_shift()),
            (512, 21)
        );
    }

    #[test]
    fn error_index_is_twos_complement() {
        assert_eq!(Level::LM1.error_index(), 0xff);
        assert_eq!(Level::L0.error_index(), 0);
        assert_eq!(Level::PAGE.error_index(), 3);
    }

    #[test]
    fn entry_index_at_each_level() {
        // IPA with distinct indices at every level: L-1 idx 0xb, L0 0x1a5, L1 0x0c3, L2 0x111,
        // L3 0x0ff.
        let ipa =
            (0xb << 48) | (0x1a5 << 39) | (0x0c3 << 30) | (0x111 << 21) | (0x0ff << 12) | 0xabc;
        assert_eq!(Level::LM1.entry_index(ipa), 0xb);
        assert_eq!(Level::L0.entry_index(ipa), 0x1a5);
        assert_eq!(Level::L1.entry_index(ipa), 0x0c3);
        assert_eq!(Level::L2.entry_index(ipa), 0x111);
        assert_eq!(Level::PAGE.entry_index(ipa), 0x0ff);
        assert_eq!(Level::L0.entry_index(u64::MAX), 511);
        // The last entry a 52-bit IPA space uses at level -1.
        assert_eq!(Level::LM1.entry_index((1 << 52) - 1), 15);
    }

    #[test]
    fn alignment_helpers_at_each_level() {
        let addr = 0x000a_1234_5678_9abc_u64;
        let down = [
            0x000a_0000_0000_0000,
            0x000a_1200_0000_0000,
            0x000a_1234_4000_0000,
            0x000a_1234_5660_0000,
            0x000a_1234_5678_9000,
        ];
        let up = [
            0x000b_0000_0000_0000,
            0x000a_1280_0000_0000,
            0x000a_1234_8000_0000,
            0x000a_1234_5680_0000,
            0x000a_1234_5678_a000,
        ];
        for i in 0..5 {
            let l = i as i64 - 1;
            let level = Level::new(l).unwrap();
            assert_eq!(level.align_down(addr), down[i], "down, level {l}");
            assert_eq!(level.align_up(addr), Some(up[i]), "up, level {l}");
            assert_eq!(level.offset_mask(), level.size() - 1);
            assert!(level.is_aligned(down[i]) && level.is_aligned(up[i]));
            assert!(!level.is_aligned(addr));
            assert_eq!(level.is_aligned(down[i] + 4096), l == 3);
            assert_eq!(level.align_up(down[i]), Some(down[i]));
            assert_eq!(level.align_up(u64::MAX), None);
            assert_eq!(level.align_down(u64::MAX), u64::MAX - (level.size() - 1));
            assert!(addr_is_rtt_level_aligned(down[i], l));
            assert!(!addr_is_rtt_level_aligned(addr, l));
        }
        // A level-2 aligned address is not level-1 aligned.
        assert!(Level::L2.is_aligned(0x20_0000) && !Level::L1.is_aligned(0x20_0000));
        // A level-0 aligned address is not level -1 aligned.
        assert!(Level::L0.is_aligned(1 << 39) && !Level::LM1.is_aligned(1 << 39));
        for bad in [-2, 4, i64::MIN, i64::MAX] {
            assert!(!addr_is_rtt_level_aligned(0, bad), "level {bad}");
        }
    }

    #[test]
    fn level_relations() {
        assert_eq!(Level::LM1.parent(), None);
        assert_eq!(Level::LM1.child(), Some(Level::L0));
        assert_eq!(Level::L0.parent(), Some(Level::LM1));
        assert_eq!(Level::L0.child(), Some(Level::L1));
        assert_eq!(Level::PAGE.child(), None);
        assert_eq!(Level::PAGE.parent(), Some(Level::L2));
        let table: [bool; 5] = [true, true, true, true, false];
        let leaf: [bool; 5] = [false, false, true, true, true];
        for i in 0..5 {
            let l = i as i64 - 1;
            let level = Level::new(l).unwrap();
            assert_eq!(level.can_hold_table(), table[i], "level {l}");
            assert_eq!(level.can_hold_block_or_page(), leaf[i], "level {l}");
            assert_eq!(level.is_page(), l == 3);
        }
    }
}
