//! A realm's stage-2 shape: IPA width, starting level, concatenated starting-level RTTs and
//! descriptor format (spec A2.1.3, A3.1.2, A5.5.2, A5.5.3; B3.55 RttConfigIsValid).

use super::format::RttFormat;
use super::geometry::{Level, RTT_ENTRIES};

/// Smallest realm IPA width the RMM accepts (as TF-RMM: S2TT_MIN_IPA_BITS).
pub const MIN_IPA_WIDTH: u32 = 32;
/// Largest realm IPA width without LPA2 (A3.1.2).
pub const MAX_IPA_WIDTH: u32 = 48;
/// Largest realm IPA width with LPA2 (A3.1.2: LPA2 allows a larger IPA width).
pub const MAX_IPA_WIDTH_LPA2: u32 = 52;
/// Most starting-level RTTs the architecture concatenates.
pub const MAX_START_RTTS: usize = 16;
/// Smallest platform PA width that permits a level-0 stage-2 start with 4 KiB granules
/// (Arm ARM pseudocode `AArch64.S2InvalidSL`, VTCR_EL2.SL0 = 0b10).
pub const MIN_PA_WIDTH_FOR_LEVEL0_START: u32 = 44;
/// IPA bits that concatenating up to [`MAX_START_RTTS`] starting-level RTTs adds.
const CONCATENATION_BITS: u32 = 4;

/// Why an RTT configuration was rejected by [`RttConfig::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RttConfigError {
    /// The IPA width is outside [`MIN_IPA_WIDTH`]..=[`MAX_IPA_WIDTH`] (or
    /// [`MAX_IPA_WIDTH_LPA2`] with LPA2).
    IpaWidth,
    /// The starting level is outside 0..=3 (-1..=3 with LPA2), or is 0 on a platform with a
    /// PA width below [`MIN_PA_WIDTH_FOR_LEVEL0_START`].
    StartLevel,
    /// The IPA width cannot be translated from the starting level with at most
    /// [`MAX_START_RTTS`] concatenated tables (Arm ARM `AArch64.S2InconsistentSL`).
    Inconsistent,
    /// `rtt_num_start` is not the architecturally required number of starting-level RTTs.
    NumStart,
}

/// A realm's validated stage-2 shape: IPA width, starting level, number of starting-level RTTs
/// and descriptor format (A2.1.3 ipa_width, rtt_level_start, rtt_num_start, feat_lpa2; A5.5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttConfig {
    ipa_width: u8,
    start_level: Level,
    num_start: u8,
    format: RttFormat,
}

impl RttConfig {
    /// Number of starting-level RTTs required for `ipa_width` and `rtt_level_start` in
    /// `format` on a platform whose PA width is `pa_width`, or why the pair is invalid.
    ///
    /// Mirrors the Arm ARM's `AArch64.S2InvalidSL` and `AArch64.S2InconsistentSL` for 4 KiB
    /// granules: a start at level `sl` needs IPA width `w` with `shift(sl) + 1 <= w <=
    /// shift(sl) + 9`, plus 4 with concatenation when `sl > 0`, or `sl == 0` with LPA2; level
    /// -1 (LPA2 only) resolves 4 bits and is never concatenated. One table covers the upper
    /// bound without concatenation, and each extra bit doubles the number of tables.
    pub const fn required_num_start(
        ipa_width: u64,
        rtt_level_start: i64,
        format: RttFormat,
        pa_width: u32,
    ) -> Result<usize, RttConfigError> {
        let lpa2 = format.is_lpa2();
        let max = if lpa2 {
            MAX_IPA_WIDTH_LPA2
        } else {
            MAX_IPA_WIDTH
        };
        if ipa_width < MIN_IPA_WIDTH as u64 || ipa_width > max as u64 {
            return Err(RttConfigError::IpaWidth);
        }
        let w = ipa_width as u32;
        let Some(sl) = Level::new(rtt_level_start) else {
            return Err(RttConfigError::StartLevel);
        };
        let level = sl.get();
        if (level < 0 && !lpa2) || (level == 0 && pa_width < MIN_PA_WIDTH_FOR_LEVEL0_START) {
            return Err(RttConfigError::StartLevel);
        }
        // Bits covered by one starting-level table.
        let one_table = sl.table_shift();
        let concat_bits = if level > 0 || (level == 0 && lpa2) {
            CONCATENATION_BITS
        } else {
            0
        };
        // IPA bits past what one table covers: each doubles the tables (0 for one table).
        let extra = w.saturating_sub(one_table);
        if w <= sl.shift() || extra > concat_bits {
            return Err(RttConfigError::Inconsistent);
        }
        Ok(1 << extra)
    }

    /// Validates the host's `s2sz`, `rtt_level_start` and `rtt_num_start` (RmiRealmParams)
    /// against each other, the realm's descriptor `format` (flags.lpa2) and the platform PA
    /// width `pa_width` (B3.55 RttConfigIsValid).
    ///
    /// Whether `ipa_width` exceeds the RMM's maximum (RMI_FEATURES S2SZ) and whether LPA2 is
    /// supported are a separate check (B3.34 RealmParamsSupported).
    pub const fn new(
        ipa_width: u64,
        rtt_level_start: i64,
        rtt_num_start: u64,
        format: RttFormat,
        pa_width: u32,
    ) -> Result<RttConfig, RttConfigError> {
        let num = match Self::required_num_start(ipa_width, rtt_level_start, format, pa_width) {
            Ok(n) => n,
            Err(e) => return Err(e),
        };
        if rtt_num_start != num as u64 {
            return Err(RttConfigError::NumStart);
        }
        let Some(start_level) = Level::new(rtt_level_start) else {
            return Err(RttConfigError::StartLevel);
        };
        Ok(RttConfig {
            ipa_width: ipa_width as u8,
            start_level,
            num_start: num as u8,
            format,
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

    /// The descriptor format of the realm's RTTs (feat_lpa2).
    pub const fn format(self) -> RttFormat {
        self.format
    }

    /// The entries of an RTT at `level` (a valid level for this realm) that translate IPAs of
    /// its IPA space: all [`Level::table_entries`], but for a single starting-level RTT that
    /// spans more than the IPA space (2^(ipa_width - shift) of them, as the architecture
    /// indexes it). Concatenated starting-level RTTs and deeper ones are whole.
    pub const fn entries_in_ipa_space(self, level: Level) -> usize {
        let in_space = self.ipa_size() >> level.shift();
        let entries = level.table_entries();
        if in_space < entries as u64 {
            in_space as usize
        } else {
            entries
        }
    }

    /// Whether `addr` lies in the realm's IPA space: `addr < 2^ipa_width`.
    pub const fn addr_in_ipa_space(self, addr: u64) -> bool {
        addr < self.ipa_size()
    }

    /// Whether `addr` is a Protected IPA: `addr < 2^(ipa_width - 1)` (B3.4 AddrIsProtected).
    pub const fn addr_is_protected(self, addr: u64) -> bool {
        addr < self.ipa_size() >> 1
    }

    /// The host-supplied `level` if it is valid for this realm: start level..=3
    /// (B3.67 RttLevelIsValid).
    pub const fn level(self, level: i64) -> Option<Level> {
        match Level::new(level) {
            Some(l) if l.get() >= self.start_level.get() => Some(l),
            _ => None,
        }
    }

    /// B3.67 RttLevelIsValid.
    pub const fn level_is_valid(self, level: i64) -> bool {
        self.level(level).is_some()
    }

    /// B3.66 RttLevelIsStarting.
    pub const fn level_is_starting(self, level: i64) -> bool {
        level == self.start_level.get() as i64
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
        // The IPA width is at most 52 (`RttConfig::new`).
        64u64.saturating_sub(self.ipa_width as u64)
    }

    /// VTCR_EL2.SL0 for this realm with 4 KiB granules: level 2 is 0b00, level 1 is 0b01,
    /// level 0 is 0b10, level -1 is 0b00 with [`RttConfig::vtcr_sl2`] (level 3, 0b11, is
    /// never valid for an IPA width of 32 or more).
    pub const fn vtcr_sl0(self) -> u64 {
        match self.start_level.get() {
            0 => 0b10,
            1 => 0b01,
            -1 | 2 => 0b00,
            _ => 0b11,
        }
    }

    /// VTCR_EL2.SL2: set for a start at level -1 (with VTCR_EL2.DS set).
    pub const fn vtcr_sl2(self) -> bool {
        self.start_level.get() < 0
    }

    /// VTCR_EL2.DS: set for a realm with LPA2 (A5.5.11: "the RMM is expected to set
    /// VTCR_EL2.DS == '1'").
    pub const fn vtcr_ds(self) -> bool {
        self.format.is_lpa2()
    }
}

/// B3.55 RttConfigIsValid, with the realm's descriptor format and the platform PA width that
/// decides whether level 0 is usable.
pub const fn rtt_config_is_valid(
    ipa_width: u64,
    rtt_level_start: i64,
    rtt_num_start: u64,
    format: RttFormat,
    pa_width: u32,
) -> bool {
    RttConfig::new(ipa_width, rtt_level_start, rtt_num_start, format, pa_width).is_ok()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const PA48: RttFormat = RttFormat::Pa48;
    const LPA2: RttFormat = RttFormat::Lpa2;

    fn config(w: u64, sl: i64, n: u64) -> RttConfig {
        RttConfig::new(w, sl, n, PA48, 48).unwrap()
    }

    /// Expected rtt_num_start for (ipa_width, start level) with a 48-bit PA and no LPA2,
    /// written out by hand from the Arm ARM table of valid VTCR_EL2.{T0SZ, SL0} pairs for 4 KiB
    /// granules.
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

    /// The same with LPA2 on a 52-bit PA platform (VTCR_EL2.DS = 1): level -1 for 49 to 52
    /// bits, and level 0 concatenates up to 16 tables.
    fn expected_num_start_lpa2(w: u64, sl: i64) -> Option<u64> {
        match (sl, w) {
            (-1, 49..=52) => Some(1),
            (0, 49) => Some(2),
            (0, 50) => Some(4),
            (0, 51) => Some(8),
            (0, 52) => Some(16),
            _ => expected_num_start(w, sl),
        }
    }

    /// Every (width, level, number) with `format`: the valid ones are exactly `expected`'s.
    fn check_truth_table(
        format: RttFormat,
        pa: u32,
        expected: fn(u64, i64) -> Option<u64>,
    ) -> usize {
        let mut valid = 0;
        for w in 30..=54_u64 {
            for sl in -2..=4_i64 {
                let want = expected(w, sl);
                let required = RttConfig::required_num_start(w, sl, format, pa)
                    .ok()
                    .map(|n| n as u64);
                assert_eq!(required, want, "w={w} sl={sl} {format:?}");
                for num in 0..=33_u64 {
                    let ok = want == Some(num);
                    let valid_here = rtt_config_is_valid(w, sl, num, format, pa);
                    assert_eq!(valid_here, ok, "w={w} sl={sl} n={num} {format:?}");
                    if ok {
                        valid += 1;
                        let c = RttConfig::new(w, sl, num, format, pa).unwrap();
                        assert_eq!(c.ipa_width() as u64, w);
                        assert_eq!(c.start_level().get() as i64, sl);
                        assert_eq!(c.num_start() as u64, num);
                        assert_eq!(c.format(), format);
                    }
                }
            }
        }
        valid
    }

    #[test]
    fn rtt_config_is_valid_truth_table() {
        // 9 widths from level 0, 12 from level 1, 3 from level 2.
        assert_eq!(check_truth_table(PA48, 48, expected_num_start), 24);
        // A 52-bit PA changes nothing without LPA2.
        assert_eq!(check_truth_table(PA48, 52, expected_num_start), 24);
    }

    #[test]
    fn rtt_config_is_valid_truth_table_lpa2() {
        // Besides the 24: 4 widths from level -1, 4 more from level 0.
        assert_eq!(check_truth_table(LPA2, 52, expected_num_start_lpa2), 32);
    }

    #[test]
    fn rtt_config_rejections() {
        use RttConfigError::*;
        assert_eq!(RttConfig::new(31, 1, 1, PA48, 48), Err(IpaWidth));
        assert_eq!(RttConfig::new(49, 0, 1, PA48, 48), Err(IpaWidth));
        assert_eq!(RttConfig::new(52, 0, 16, PA48, 52), Err(IpaWidth));
        assert_eq!(RttConfig::new(52, -1, 1, PA48, 52), Err(IpaWidth));
        assert_eq!(RttConfig::new(53, -1, 1, LPA2, 52), Err(IpaWidth));
        assert_eq!(RttConfig::new(31, 1, 1, LPA2, 52), Err(IpaWidth));
        assert_eq!(RttConfig::new(u64::MAX, 0, 1, PA48, 48), Err(IpaWidth));
        assert_eq!(RttConfig::new(256 + 40, 0, 1, LPA2, 52), Err(IpaWidth));
        assert_eq!(RttConfig::new(40, -1, 1, PA48, 52), Err(StartLevel));
        assert_eq!(RttConfig::new(48, -1, 1, PA48, 52), Err(StartLevel));
        assert_eq!(RttConfig::new(40, -2, 1, LPA2, 52), Err(StartLevel));
        assert_eq!(RttConfig::new(40, 4, 1, PA48, 48), Err(StartLevel));
        assert_eq!(RttConfig::new(40, i64::MIN, 1, PA48, 48), Err(StartLevel));
        assert_eq!(RttConfig::new(40, 256, 1, PA48, 48), Err(StartLevel));
        assert_eq!(RttConfig::new(40, 255, 1, LPA2, 52), Err(StartLevel));
        assert_eq!(RttConfig::new(48, 0, 1, PA48, 43), Err(StartLevel));
        assert!(RttConfig::new(48, 0, 1, PA48, 44).is_ok());
        assert_eq!(RttConfig::new(39, 0, 1, PA48, 48), Err(Inconsistent));
        assert_eq!(RttConfig::new(44, 1, 32, PA48, 48), Err(Inconsistent));
        assert_eq!(RttConfig::new(35, 2, 32, PA48, 48), Err(Inconsistent));
        assert_eq!(RttConfig::new(32, 3, 1, PA48, 48), Err(Inconsistent));
        // Level -1 translates 49 to 52 bits only, level 0 with LPA2 40 to 52.
        assert_eq!(RttConfig::new(48, -1, 1, LPA2, 52), Err(Inconsistent));
        assert_eq!(RttConfig::new(40, -1, 1, LPA2, 52), Err(Inconsistent));
        assert_eq!(RttConfig::new(39, 0, 1, LPA2, 52), Err(Inconsistent));
        assert_eq!(RttConfig::new(49, 0, 1, PA48, 52), Err(IpaWidth));
        assert_eq!(RttConfig::new(42, 1, 4, PA48, 48), Err(NumStart));
        assert_eq!(
            RttConfig::new(42, 1, 8 + (1 << 32), PA48, 48),
            Err(NumStart)
        );
        // Level -1 is never concatenated; level 0 with LPA2 is.
        assert_eq!(RttConfig::new(52, -1, 2, LPA2, 52), Err(NumStart));
        assert_eq!(RttConfig::new(52, -1, 16, LPA2, 52), Err(NumStart));
        assert_eq!(RttConfig::new(52, 0, 1, LPA2, 52), Err(NumStart));
        assert!(RttConfig::new(52, 0, 16, LPA2, 52).is_ok());
    }

    #[test]
    fn protected_and_ipa_space_boundaries() {
        let c = config(40, 1, 2);
        assert_eq!(c.ipa_size(), 1 << 40);
        assert!(c.addr_is_protected(0));
        assert!(c.addr_is_protected((1 << 39) - 1));
        assert!(!c.addr_is_protected(1 << 39));
        assert!(!c.addr_is_protected(u64::MAX));
        assert!(c.addr_in_ipa_space((1 << 40) - 1));
        assert!(!c.addr_in_ipa_space(1 << 40));
        let c48 = config(48, 0, 1);
        assert!(c48.addr_is_protected((1 << 47) - 1) && !c48.addr_is_protected(1 << 47));
        let c52 = RttConfig::new(52, -1, 1, LPA2, 52).unwrap();
        assert_eq!(c52.ipa_size(), 1 << 52);
        assert!(c52.addr_is_protected((1 << 51) - 1) && !c52.addr_is_protected(1 << 51));
        assert!(c52.addr_in_ipa_space((1 << 52) - 1) && !c52.addr_in_ipa_space(1 << 52));
    }

    #[test]
    fn realm_level_predicates() {
        let c = config(33, 2, 8);
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
        let c0 = config(48, 0, 1);
        assert!(c0.level_is_valid(0) && c0.level_is_starting(0));
        assert!(!c0.level_is_valid(-1));
        assert!(!c0.level_is_block_or_page(0) && c0.level_is_block_or_page(1));
        assert_eq!(c0.level(3), Some(Level::PAGE));
        // A 52-bit realm starting at level -1: every level valid, blocks from level 1.
        let c52 = RttConfig::new(52, -1, 1, LPA2, 52).unwrap();
        for (l, valid, starting, leaf) in [
            (-2, false, false, false),
            (-1, true, true, false),
            (0, true, false, false),
            (1, true, false, true),
            (3, true, false, true),
            (4, false, false, false),
        ] {
            assert_eq!(c52.level_is_valid(l), valid, "level {l}");
            assert_eq!(c52.level_is_starting(l), starting, "level {l}");
            assert_eq!(c52.level_is_block_or_page(l), leaf, "level {l}");
        }
    }

    #[test]
    fn start_entry_with_concatenated_roots() {
        // 34-bit IPA from level 2: 16 tables of 512 x 2 MiB.
        let c = config(34, 2, 16);
        // 0x2_4020_0000 >> 21 = 0x1201 = 9 * 512 + 1.
        assert_eq!(c.start_entry(0x2_4020_0000), Some((9, 1)));
        assert_eq!(c.start_entry(0x2_4020_0fff), Some((9, 1)));
        assert_eq!(c.start_entry((1 << 34) - 1), Some((15, 511)));
        assert_eq!(c.start_entry(1 << 34), None);
        assert_eq!(c.start_entry(0), Some((0, 0)));
        // 43-bit IPA from level 1: 16 tables of 512 x 1 GiB.
        let c = config(43, 1, 16);
        assert_eq!(c.start_entry(((7 * 512 + 4) << 30) + 0x1234), Some((7, 4)));
        assert_eq!(c.start_entry((1 << 43) - 1), Some((15, 511)));
        // Single root: the table index is always 0.
        let c = config(39, 1, 1);
        assert_eq!(c.start_entry((1 << 39) - 1), Some((0, 511)));
        // 52 bits from level -1: one table, 16 entries used.
        let c = RttConfig::new(52, -1, 1, LPA2, 52).unwrap();
        assert_eq!(c.start_entry((1 << 52) - 1), Some((0, 15)));
        assert_eq!(c.start_entry(1 << 51), Some((0, 8)));
        assert_eq!(c.start_entry(1 << 52), None);
        // 52 bits from level 0: 16 tables of 512 x 512 GiB.
        let c = RttConfig::new(52, 0, 16, LPA2, 52).unwrap();
        assert_eq!(c.start_entry((1 << 52) - 1), Some((15, 511)));
        assert_eq!(c.start_entry((1 << 51) | (3 << 39)), Some((8, 3)));
    }

    #[test]
    fn entries_in_ipa_space_of_each_rtt() {
        // (ipa_width, start, num_start) and the entries of a starting-level RTT in the space.
        let lpa2 = |w, sl| RttConfig::new(w, sl, 1, LPA2, 52).unwrap();
        for (c, entries) in [
            (config(36, 1, 1), 64),
            (config(39, 1, 1), 512),
            (config(40, 1, 2), 512),
            (config(33, 2, 8), 512),
            (config(38, 1, 1), 256),
            (config(44, 0, 1), 32),
            (lpa2(49, -1), 2),
            (lpa2(52, -1), 16),
        ] {
            let start = c.start_level();
            assert_eq!(c.entries_in_ipa_space(start), entries, "{c:?}");
            // Deeper RTTs are whole.
            let child = start.child().unwrap();
            assert_eq!(c.entries_in_ipa_space(child), 512, "{c:?}");
            assert_eq!(c.entries_in_ipa_space(Level::PAGE), 512, "{c:?}");
        }
    }

    #[test]
    fn vtcr_fields() {
        let fields = |c: RttConfig| (c.vtcr_t0sz(), c.vtcr_sl0(), c.vtcr_sl2(), c.vtcr_ds());
        assert_eq!(fields(config(40, 1, 2)), (24, 0b01, false, false));
        assert_eq!(fields(config(48, 0, 1)), (16, 0b10, false, false));
        assert_eq!(fields(config(32, 2, 4)), (32, 0b00, false, false));
        let lpa2 = |w, sl, n| RttConfig::new(w, sl, n, LPA2, 52).unwrap();
        assert_eq!(fields(lpa2(52, -1, 1)), (12, 0b00, true, true));
        assert_eq!(fields(lpa2(49, -1, 1)), (15, 0b00, true, true));
        assert_eq!(fields(lpa2(52, 0, 16)), (12, 0b10, false, true));
        assert_eq!(fields(lpa2(40, 1, 2)), (24, 0b01, false, true));
    }
}
