//! RTT geometry: levels, per-level address arithmetic and a realm's stage-2 shape (spec A5.5).
//!
//! The RMM supports the 4 KiB translation granule only (A5.5.1) and not LPA2, so RTT levels are
//! 0..=3 and IPAs are at most 48 bits wide. [`Level`] keeps the level signed so that level -1
//! (LPA2) could be added by lowering [`Level::MIN`].

use crate::GRANULE_SHIFT;

/// Entries in one RTT: a 4 KiB granule of 8-byte descriptors (C1.28 RmmRtt).
pub const RTT_ENTRIES: usize = 512;
/// IPA bits resolved by one RTT level: log2 of [`RTT_ENTRIES`].
pub const RTT_STRIDE: u32 = 9;
/// Smallest realm IPA width the RMM accepts (as TF-RMM: S2TT_MIN_IPA_BITS).
pub const MIN_IPA_WIDTH: u32 = 32;
/// Largest realm IPA width without LPA2 (A3.1.2).
pub const MAX_IPA_WIDTH: u32 = 48;
/// Most starting-level RTTs the architecture concatenates.
pub const MAX_START_RTTS: usize = 16;
/// Smallest platform PA width that permits a level-0 stage-2 start with 4 KiB granules
/// (Arm ARM pseudocode `AArch64.S2InvalidSL`, VTCR_EL2.SL0 = 0b10).
pub const MIN_PA_WIDTH_FOR_LEVEL0_START: u32 = 44;

/// An RTT level, known to be in [`Level::MIN`]..=[`Level::PAGE`] (C1.31: levels are Int8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Level(i8);

impl Level {
    /// The smallest level without LPA2.
    pub const MIN: Level = Level(0);
    /// Level 0.
    pub const L0: Level = Level(0);
    /// Level 1: 1 GiB blocks.
    pub const L1: Level = Level(1);
    /// Level 2: 2 MiB blocks.
    pub const L2: Level = Level(2);
    /// Level 3, the page level (RMM_RTT_PAGE_LEVEL): 4 KiB pages.
    pub const PAGE: Level = Level(3);

    /// The level `level` (a host-supplied Int64), or `None` outside 0..=3.
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

    /// log2 of the IPA range one entry at this level describes: 12 + 9 * (3 - level).
    pub const fn shift(self) -> u32 {
        GRANULE_SHIFT + RTT_STRIDE * (Self::PAGE.0 - self.0) as u32
    }

    /// Size of the IPA range one entry at this level describes (B3.68 RttLevelSize).
    pub const fn size(self) -> u64 {
        1 << self.shift()
    }

    /// Index of the entry for `addr` in an RTT at this level (B3.60 RttEntryIndex).
    pub const fn entry_index(self, addr: u64) -> usize {
        ((addr >> self.shift()) as usize) & (RTT_ENTRIES - 1)
    }

    /// Whether `addr` is aligned to [`Level::size`] (B3.5 AddrIsRttLevelAligned).
    pub const fn is_aligned(self, addr: u64) -> bool {
        addr & (self.size() - 1) == 0
    }

    /// `addr` rounded down to [`Level::size`] (B3.7 AlignDownToRttLevel).
    pub const fn align_down(self, addr: u64) -> u64 {
        addr & !(self.size() - 1)
    }

    /// `addr` rounded up to [`Level::size`] (B3.8 AlignUpToRttLevel); `None` on overflow.
    pub const fn align_up(self, addr: u64) -> Option<u64> {
        match addr.checked_add(self.size() - 1) {
            Some(a) => Some(self.align_down(a)),
            None => None,
        }
    }

    /// The level of the RTTs that entries at this level point to.
    pub const fn child(self) -> Option<Level> {
        Self::new(self.0 as i64 + 1)
    }

    /// The level of the RTT whose entries point to RTTs at this level.
    pub const fn parent(self) -> Option<Level> {
        Self::new(self.0 as i64 - 1)
    }

    /// Whether entries at this level may be table descriptors (levels 0..=2).
    pub const fn can_hold_table(self) -> bool {
        self.0 < Self::PAGE.0
    }

    /// Whether entries at this level may map memory: blocks at levels 1 and 2, pages at 3
    /// (4 KiB granule without LPA2 has no level-0 blocks).
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

/// Why an RTT configuration was rejected by [`RttConfig::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RttConfigError {
    /// The IPA width is outside [`MIN_IPA_WIDTH`]..=[`MAX_IPA_WIDTH`].
    IpaWidth,
    /// The starting level is outside 0..=3, or is 0 on a platform with a PA width below
    /// [`MIN_PA_WIDTH_FOR_LEVEL0_START`].
    StartLevel,
    /// The IPA width cannot be translated from the starting level with at most
    /// [`MAX_START_RTTS`] concatenated tables (Arm ARM `AArch64.S2InconsistentSL`).
    Inconsistent,
    /// `rtt_num_start` is not the architecturally required number of starting-level RTTs.
    NumStart,
}

/// A realm's validated stage-2 shape: IPA width, starting level and number of starting-level
/// RTTs (A2.1.3 ipa_width, rtt_level_start, rtt_num_start; A5.5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttConfig {
    ipa_width: u8,
    start_level: Level,
    num_start: u8,
}

impl RttConfig {
    /// Number of starting-level RTTs required for `ipa_width` and `rtt_level_start` on a
    /// platform whose PA width is `pa_width`, or why the pair is invalid.
    ///
    /// Mirrors the Arm ARM's `AArch64.S2InvalidSL` and `AArch64.S2InconsistentSL` for 4 KiB
    /// granules without LPA2: a start at level `sl` needs IPA width `w` with
    /// `shift(sl) + 1 <= w <= shift(sl) + 9 (+ 4 with concatenation when sl > 0)`; one table
    /// covers `shift(sl) + 9` bits and each extra bit doubles the number of tables.
    pub const fn required_num_start(
        ipa_width: u64,
        rtt_level_start: i64,
        pa_width: u32,
    ) -> Result<usize, RttConfigError> {
        if ipa_width < MIN_IPA_WIDTH as u64 || ipa_width > MAX_IPA_WIDTH as u64 {
            return Err(RttConfigError::IpaWidth);
        }
        let w = ipa_width as u32;
        let Some(sl) = Level::new(rtt_level_start) else {
            return Err(RttConfigError::StartLevel);
        };
        if sl.0 == 0 && pa_width < MIN_PA_WIDTH_FOR_LEVEL0_START {
            return Err(RttConfigError::StartLevel);
        }
        // Bits covered by one starting-level table.
        let one_table = sl.shift() + RTT_STRIDE;
        let concat_bits = if sl.0 > 0 { 4 } else { 0 };
        if w < sl.shift() + 1 || w > one_table + concat_bits {
            return Err(RttConfigError::Inconsistent);
        }
        if w <= one_table {
            Ok(1)
        } else {
            Ok(1 << (w - one_table))
        }
    }

    /// Validates the host's `s2sz`, `rtt_level_start` and `rtt_num_start` (RmiRealmParams)
    /// against each other and the platform PA width `pa_width` (B3.55 RttConfigIsValid).
    ///
    /// Whether `ipa_width` exceeds the RMM's maximum (RMI_FEATURES S2SZ) is a separate check
    /// (B3.34 RealmParamsSupported).
    pub const fn new(
        ipa_width: u64,
        rtt_level_start: i64,
        rtt_num_start: u64,
        pa_width: u32,
    ) -> Result<RttConfig, RttConfigError> {
        let num = match Self::required_num_start(ipa_width, rtt_level_start, pa_width) {
            Ok(n) => n,
            Err(e) => return Err(e),
        };
        if rtt_num_start != num as u64 {
            return Err(RttConfigError::NumStart);
        }
        Ok(RttConfig {
            ipa_width: ipa_width as u8,
            start_level: Level(rtt_level_start as i8),
            num_start: num as u8,
        })
    }

    /// IPA width in bits.
    pub const fn ipa_width(self) -> u32 {
        self.ipa_width as u32
    }

    /// Size of the IPA space: 2^ipa_width.
    pub const fn ipa_size(self) -> u64 {
        1 << self.ipa_width
    }

    /// RTT starting level (rtt_level_start).
    pub const fn start_level(self) -> Level {
        self.start_level
    }

    /// Number of concatenated starting-level RTTs (rtt_num_start), 1..=16.
    pub const fn num_start(self) -> usize {
        self.num_start as usize
    }

    /// Whether `addr` lies in the realm's IPA space: `addr < 2^ipa_width`.
    pub const fn addr_in_ipa_space(self, addr: u64) -> bool {
        addr < self.ipa_size()
    }

    /// Whether `addr` is a Protected IPA: `addr < 2^(ipa_width - 1)` (B3.4 AddrIsProtected).
    pub const fn addr_is_protected(self, addr: u64) -> bool {
        addr < (1 << (self.ipa_width - 1))
    }

    /// The host-supplied `level` if it is valid for this realm: start level..=3
    /// (B3.67 RttLevelIsValid).
    pub const fn level(self, level: i64) -> Option<Level> {
        match Level::new(level) {
            Some(l) if l.0 >= self.start_level.0 => Some(l),
            _ => None,
        }
    }

    /// B3.67 RttLevelIsValid.
    pub const fn level_is_valid(self, level: i64) -> bool {
        self.level(level).is_some()
    }

    /// B3.66 RttLevelIsStarting.
    pub const fn level_is_starting(self, level: i64) -> bool {
        level == self.start_level.0 as i64
    }

    /// B3.65 RttLevelIsBlockOrPage: a valid level for this realm that holds blocks or pages.
    pub const fn level_is_block_or_page(self, level: i64) -> bool {
        match self.level(level) {
            Some(l) => l.can_hold_block_or_page(),
            None => false,
        }
    }

    /// For an IPA in the realm's IPA space, the index of the starting-level RTT (among the
    /// [`RttConfig::num_start`] concatenated ones) and of the entry in it; `None` otherwise.
    pub const fn start_entry(self, ipa: u64) -> Option<(usize, usize)> {
        if !self.addr_in_ipa_space(ipa) {
            return None;
        }
        // Concatenated tables act as one table of num_start * 512 entries.
        let index = (ipa >> self.start_level.shift()) as usize;
        Some((index / RTT_ENTRIES, index % RTT_ENTRIES))
    }

    /// VTCR_EL2.T0SZ for this realm: 64 - ipa_width.
    pub const fn vtcr_t0sz(self) -> u64 {
        64 - self.ipa_width as u64
    }

    /// VTCR_EL2.SL0 for this realm with 4 KiB granules: level 2 is 0b00, level 1 is 0b01,
    /// level 0 is 0b10 (level 3, 0b11, is never valid for an IPA width of 32 or more).
    pub const fn vtcr_sl0(self) -> u64 {
        match self.start_level.0 {
            0 => 0b10,
            1 => 0b01,
            2 => 0b00,
            _ => 0b11,
        }
    }
}

/// B3.55 RttConfigIsValid, with the platform PA width that decides whether level 0 is usable.
pub const fn rtt_config_is_valid(
    ipa_width: u64,
    rtt_level_start: i64,
    rtt_num_start: u64,
    pa_width: u32,
) -> bool {
    RttConfig::new(ipa_width, rtt_level_start, rtt_num_start, pa_width).is_ok()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn level_new_accepts_only_0_to_3() {
        for l in [i64::MIN, -2, -1, 4, 5, 127, 128, 255, i64::MAX] {
            assert_eq!(Level::new(l), None, "level {l}");
        }
        for l in 0..=3 {
            assert_eq!(Level::new(l).map(Level::get), Some(l as i8));
        }
    }

    #[test]
    fn level_shift_and_size() {
        let expect = [
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
    fn entry_index_at_each_level() {
        // IPA with distinct indices at every level: L0 idx 0x1a5, L1 0x0c3, L2 0x111, L3 0x0ff.
        let ipa = (0x1a5 << 39) | (0x0c3 << 30) | (0x111 << 21) | (0x0ff << 12) | 0xabc;
        assert_eq!(Level::L0.entry_index(ipa), 0x1a5);
        assert_eq!(Level::L1.entry_index(ipa), 0x0c3);
        assert_eq!(Level::L2.entry_index(ipa), 0x111);
        assert_eq!(Level::PAGE.entry_index(ipa), 0x0ff);
        assert_eq!(Level::L0.entry_index(u64::MAX), 511);
    }

    #[test]
    fn alignment_helpers_at_each_level() {
        let addr = 0x0000_1234_5678_9abc_u64;
        let down = [
            0x0000_1200_0000_0000,
            0x0000_1234_4000_0000,
            0x0000_1234_5660_0000,
            0x0000_1234_5678_9000,
        ];
        let up = [
            0x0000_1280_0000_0000,
            0x0000_1234_8000_0000,
            0x0000_1234_5680_0000,
            0x0000_1234_5678_a000,
        ];
        for l in 0..4 {
            let level = Level::new(l as i64).unwrap();
            assert_eq!(level.align_down(addr), down[l], "down, level {l}");
            assert_eq!(level.align_up(addr), Some(up[l]), "up, level {l}");
            assert!(level.is_aligned(down[l]) && level.is_aligned(up[l]));
            assert!(!level.is_aligned(addr));
            assert_eq!(level.is_aligned(down[l] + 4096), l == 3);
            assert_eq!(level.align_up(down[l]), Some(down[l]));
            assert_eq!(level.align_up(u64::MAX), None);
            assert_eq!(level.align_down(u64::MAX), u64::MAX - (level.size() - 1));
            assert!(addr_is_rtt_level_aligned(down[l], l as i64));
            assert!(!addr_is_rtt_level_aligned(addr, l as i64));
        }
        // A level-2 aligned address is not level-1 aligned.
        assert!(Level::L2.is_aligned(0x20_0000) && !Level::L1.is_aligned(0x20_0000));
        for bad in [-1, 4, i64::MIN, i64::MAX] {
            assert!(!addr_is_rtt_level_aligned(0, bad), "level {bad}");
        }
    }

    #[test]
    fn level_relations() {
        assert_eq!(Level::L0.parent(), None);
        assert_eq!(Level::L0.child(), Some(Level::L1));
        assert_eq!(Level::PAGE.child(), None);
        assert_eq!(Level::PAGE.parent(), Some(Level::L2));
        let table: [bool; 4] = [true, true, true, false];
        let leaf: [bool; 4] = [false, true, true, true];
        for l in 0..4 {
            let level = Level::new(l as i64).unwrap();
            assert_eq!(level.can_hold_table(), table[l], "level {l}");
            assert_eq!(level.can_hold_block_or_page(), leaf[l], "level {l}");
            assert_eq!(level.is_page(), l == 3);
        }
    }

    /// Expected rtt_num_start for (ipa_width, start level) with a 48-bit PA, written out by hand
    /// from the Arm ARM table of valid VTCR_EL2.{T0SZ, SL0} pairs for 4 KiB granules.
    fn expected_num_start(w: u64, sl: i64) -> Option<u64> {
        match (sl, w) {
            (0, 40..=48) => Some(1),
            (1, 32..=39) => Some(1),
            (1, 40) => Some(2),
            (1, 41) => Some(4),
            (1, 42) => Some(8),
            (1, 43) => Some(16),
            (2, 32) => Some(4),
            (2, 33) => Some(8),
            (2, 34) => Some(16),
            _ => None,
        }
    }

    #[test]
    fn rtt_config_is_valid_truth_table() {
        let mut valid = 0;
        for w in 32..=48_u64 {
            for sl in 0..=3_i64 {
                let expected = expected_num_start(w, sl);
                let required = RttConfig::required_num_start(w, sl, 48)
                    .ok()
                    .map(|n| n as u64);
                assert_eq!(required, expected, "w={w} sl={sl}");
                for num in 0..=33_u64 {
                    let ok = expected == Some(num);
                    assert_eq!(
                        rtt_config_is_valid(w, sl, num, 48),
                        ok,
                        "w={w} sl={sl} n={num}"
                    );
                    if ok {
                        valid += 1;
                        let c = RttConfig::new(w, sl, num, 48).unwrap();
                        assert_eq!(c.ipa_width() as u64, w);
                        assert_eq!(c.start_level().get() as i64, sl);
                        assert_eq!(c.num_start() as u64, num);
                    }
                }
            }
        }
        // 9 widths from level 0, 12 from level 1, 3 from level 2.
        assert_eq!(valid, 24);
    }

    #[test]
    fn rtt_config_rejections() {
        use RttConfigError::*;
        assert_eq!(RttConfig::new(31, 1, 1, 48), Err(IpaWidth));
        assert_eq!(RttConfig::new(49, 0, 1, 48), Err(IpaWidth));
        assert_eq!(RttConfig::new(52, 0, 16, 52), Err(IpaWidth));
        assert_eq!(RttConfig::new(u64::MAX, 0, 1, 48), Err(IpaWidth));
        assert_eq!(RttConfig::new(256 + 40, 0, 1, 48), Err(IpaWidth));
        assert_eq!(RttConfig::new(40, -1, 1, 52), Err(StartLevel));
        assert_eq!(RttConfig::new(40, 4, 1, 48), Err(StartLevel));
        assert_eq!(RttConfig::new(40, i64::MIN, 1, 48), Err(StartLevel));
        assert_eq!(RttConfig::new(40, 256, 1, 48), Err(StartLevel));
        assert_eq!(RttConfig::new(48, 0, 1, 43), Err(StartLevel));
        assert!(RttConfig::new(48, 0, 1, 44).is_ok());
        assert_eq!(RttConfig::new(39, 0, 1, 48), Err(Inconsistent));
        assert_eq!(RttConfig::new(44, 1, 32, 48), Err(Inconsistent));
        assert_eq!(RttConfig::new(35, 2, 32, 48), Err(Inconsistent));
        assert_eq!(RttConfig::new(32, 3, 1, 48), Err(Inconsistent));
        assert_eq!(RttConfig::new(42, 1, 4, 48), Err(NumStart));
        assert_eq!(RttConfig::new(42, 1, 8 + (1 << 32), 48), Err(NumStart));
    }

    #[test]
    fn protected_and_ipa_space_boundaries() {
        let c = RttConfig::new(40, 1, 2, 48).unwrap();
        assert_eq!(c.ipa_size(), 1 << 40);
        assert!(c.addr_is_protected(0));
        assert!(c.addr_is_protected((1 << 39) - 1));
        assert!(!c.addr_is_protected(1 << 39));
        assert!(!c.addr_is_protected(u64::MAX));
        assert!(c.addr_in_ipa_space((1 << 40) - 1));
        assert!(!c.addr_in_ipa_space(1 << 40));
        let c48 = RttConfig::new(48, 0, 1, 48).unwrap();
        assert!(c48.addr_is_protected((1 << 47) - 1) && !c48.addr_is_protected(1 << 47));
    }

    #[test]
    fn realm_level_predicates() {
        let c = RttConfig::new(33, 2, 8, 48).unwrap();
        for (l, valid, starting, leaf) in [
            (-1, false, false, false),
            (0, false, false, false),
            (1, false, false, false),
            (2, true, true, true),
            (3, true, false, true),
            (4, false, false, false),
        ] {
            assert_eq!(c.level_is_valid(l), valid, "level {l}");
            assert_eq!(c.level_is_starting(l), starting, "level {l}");
            assert_eq!(c.level_is_block_or_page(l), leaf, "level {l}");
        }
        let c0 = RttConfig::new(48, 0, 1, 48).unwrap();
        assert!(c0.level_is_valid(0) && c0.level_is_starting(0));
        assert!(!c0.level_is_block_or_page(0) && c0.level_is_block_or_page(1));
        assert_eq!(c0.level(3), Some(Level::PAGE));
    }

    #[test]
    fn start_entry_with_concatenated_roots() {
        // 34-bit IPA from level 2: 16 tables of 512 x 2 MiB.
        let c = RttConfig::new(34, 2, 16, 48).unwrap();
        // 0x2_4020_0000 >> 21 = 0x1201 = 9 * 512 + 1.
        assert_eq!(c.start_entry(0x2_4020_0000), Some((9, 1)));
        assert_eq!(c.start_entry(0x2_4020_0fff), Some((9, 1)));
        assert_eq!(c.start_entry((1 << 34) - 1), Some((15, 511)));
        assert_eq!(c.start_entry(1 << 34), None);
        assert_eq!(c.start_entry(0), Some((0, 0)));
        // 43-bit IPA from level 1: 16 tables of 512 x 1 GiB.
        let c = RttConfig::new(43, 1, 16, 48).unwrap();
        assert_eq!(c.start_entry(((7 * 512 + 4) << 30) + 0x1234), Some((7, 4)));
        assert_eq!(c.start_entry((1 << 43) - 1), Some((15, 511)));
        // Single root: the table index is always 0.
        let c = RttConfig::new(39, 1, 1, 48).unwrap();
        assert_eq!(c.start_entry((1 << 39) - 1), Some((0, 511)));
    }

    #[test]
    fn vtcr_fields() {
        let c = RttConfig::new(40, 1, 2, 48).unwrap();
        assert_eq!((c.vtcr_t0sz(), c.vtcr_sl0()), (24, 0b01));
        let c = RttConfig::new(48, 0, 1, 48).unwrap();
        assert_eq!((c.vtcr_t0sz(), c.vtcr_sl0()), (16, 0b10));
        let c = RttConfig::new(32, 2, 4, 48).unwrap();
        assert_eq!((c.vtcr_t0sz(), c.vtcr_sl0()), (32, 0b00));
    }
}
