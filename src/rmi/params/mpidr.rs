//! RmiRecMpidr (spec B4.4.18), the REC index (A2.3.3, B3.38) and MPIDR matching (B3.23, B3.24).

/// The MPIDR of a REC, as the host gives it to RMI_REC_CREATE (RmiRecMpidr, B4.4.18).
///
/// | Bits | Field |
/// |---|---|
/// | 3:0 | aff0 |
/// | 7:4 | SBZ (Aff0\[7:4\] is RES0 for GICv3 compatibility, A2.3.3) |
/// | 15:8 | aff1 |
/// | 23:16 | aff2 |
/// | 31:24 | aff3 |
/// | 63:32 | SBZ |
///
/// Holds the raw value; [`Self::is_valid`] says whether the SBZ bits are clear.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecMpidr(u64);

impl RecMpidr {
    /// The bits that carry an affinity field.
    pub const AFFINITY_MASK: u64 = 0xffff_ff0f;

    /// The MPIDR with raw value `bits`.
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The raw value.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Affinity level 0 (4 bits).
    pub const fn aff0(self) -> u8 {
        (self.0 & 0xf) as u8
    }

    /// Affinity level 1.
    pub const fn aff1(self) -> u8 {
        (self.0 >> 8) as u8
    }

    /// Affinity level 2.
    pub const fn aff2(self) -> u8 {
        (self.0 >> 16) as u8
    }

    /// Affinity level 3.
    pub const fn aff3(self) -> u8 {
        (self.0 >> 24) as u8
    }

    /// Whether the SBZ bits (7:4 and 63:32) are clear.
    ///
    /// The spec's `mpidr_index` condition of RMI_REC_CREATE only compares [`Self::rec_index`],
    /// which ignores these bits. TF-RMM rejects an MPIDR with them set as part of that check
    /// (RMI_ERROR_INPUT); doing the same keeps every REC's MPIDR canonical, so the raw 64-bit
    /// comparison of RMI_PSCI_COMPLETE's `target` condition (B4.3.7) behaves like MpidrEqual.
    pub const fn is_valid(self) -> bool {
        self.0 & !Self::AFFINITY_MASK == 0
    }

    /// B3.38 RecIndex: `aff0 + 16 * aff1 + 16 * 256 * aff2 + 16 * 256 * 256 * aff3`, i.e. the
    /// concatenation Aff3:Aff2:Aff1:Aff0\[3:0\] (A2.3.3). Ignores the SBZ bits; below 2^28.
    pub const fn rec_index(self) -> u64 {
        self.aff0() as u64
            | (self.aff1() as u64) << 4
            | (self.aff2() as u64) << 12
            | (self.aff3() as u64) << 20
    }

    /// The canonical MPIDR of the REC with index `index` (A2.3.3: the host must create the nth
    /// REC with it); `None` if `index` does not fit in the 28 bits of the affinity fields.
    pub const fn from_rec_index(index: u64) -> Option<Self> {
        if index >> 28 != 0 {
            return None;
        }
        Some(Self(
            (index & 0xf) | (index >> 4 & 0xff) << 8 | (index >> 12) << 16,
        ))
    }
}

/// B3.23 MpidrEqual: whether the MPIDR value `rmm_mpidr` (a REC's `mpidr` attribute, or an MPIDR
/// given by a realm) and `rmi_mpidr` have equal affinity fields: bits 3:0, 15:8, 23:16 and
/// 31:24. The other bits of both are ignored.
pub const fn mpidr_equal(rmm_mpidr: u64, rmi_mpidr: RecMpidr) -> bool {
    (rmm_mpidr ^ rmi_mpidr.bits()) & RecMpidr::AFFINITY_MASK == 0
}

/// B3.24 MpidrIsUsed, for a realm whose RECs have indices `0..rec_index` (`rec_index` is the
/// realm's attribute: RMI_REC_CREATE `mpidr_index` makes the host create RECs with consecutive
/// indices from 0). `mpidr` is the MPIDR value a realm passes to PSCI (e.g. PSCI_CPU_ON
/// `target_cpu`).
///
/// A value with bits set outside the affinity fields identifies no REC: RMI_PSCI_COMPLETE
/// compares it with the REC's MPIDR as a whole (B4.3.7 `target`), so the request could never be
/// completed; the PSCI call fails with PSCI_INVALID_PARAMETERS instead.
pub const fn mpidr_is_used(mpidr: u64, rec_index: u64) -> bool {
    let mpidr = RecMpidr::from_bits(mpidr);
    mpidr.is_valid() && mpidr.rec_index() < rec_index
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn mpidr(aff3: u64, aff2: u64, aff1: u64, aff0: u64) -> RecMpidr {
        RecMpidr::from_bits(aff3 << 24 | aff2 << 16 | aff1 << 8 | aff0)
    }

    #[test]
    fn fields_at_b4_4_18_bits() {
        let m = RecMpidr::from_bits(0x0000_0000_4433_2201);
        assert_eq!(
            (m.aff3(), m.aff2(), m.aff1(), m.aff0()),
            (0x44, 0x33, 0x22, 0x1)
        );
        // Aff0 is bits 3:0 only.
        assert_eq!(RecMpidr::from_bits(0xf5).aff0(), 5);
    }

    /// The examples of the table in A2.3.3.
    #[test]
    fn rec_index_examples_from_a2_3_3() {
        assert_eq!(mpidr(0, 0, 0, 0).rec_index(), 0);
        assert_eq!(mpidr(0, 0, 0, 1).rec_index(), 1);
        assert_eq!(mpidr(0, 0, 1, 0).rec_index(), 16);
        assert_eq!(mpidr(0, 1, 0, 0).rec_index(), 4096);
        assert_eq!(mpidr(1, 0, 0, 0).rec_index(), 1_048_576);
    }

    /// B3.38 as written: aff0 + 16 * aff1 + 16 * 256 * aff2 + 16 * 256 * 256 * aff3.
    #[test]
    fn rec_index_is_the_b3_38_formula() {
        for (aff3, aff2, aff1, aff0) in [
            (0, 0, 0, 15),
            (0, 0, 255, 15),
            (3, 7, 200, 9),
            (255, 255, 255, 15),
        ] {
            let expected = aff0 + 16 * aff1 + 16 * 256 * aff2 + 16 * 256 * 256 * aff3;
            assert_eq!(mpidr(aff3, aff2, aff1, aff0).rec_index(), expected);
        }
        assert_eq!(mpidr(255, 255, 255, 15).rec_index(), (1 << 28) - 1);
    }

    #[test]
    fn rec_index_ignores_sbz_bits() {
        let m = RecMpidr::from_bits(0xffff_ffff_0000_01f2);
        assert_eq!(m.rec_index(), 16 + 2);
        assert!(!m.is_valid());
    }

    #[test]
    fn sbz_bits_are_7_4_and_63_32() {
        assert!(RecMpidr::from_bits(0xffff_ff0f).is_valid());
        for bit in (4..8).chain(32..64) {
            assert!(!RecMpidr::from_bits(1 << bit).is_valid(), "bit {bit}");
        }
        for bit in (0..4).chain(8..32) {
            assert!(RecMpidr::from_bits(1 << bit).is_valid(), "bit {bit}");
        }
    }

    #[test]
    fn from_rec_index_inverts_rec_index() {
        for index in [0, 1, 15, 16, 4095, 4096, 32766, 1_048_576, (1 << 28) - 1] {
            let m = RecMpidr::from_rec_index(index).unwrap();
            assert!(m.is_valid());
            assert_eq!(m.rec_index(), index);
        }
        assert_eq!(RecMpidr::from_rec_index(16), Some(mpidr(0, 0, 1, 0)));
        assert_eq!(RecMpidr::from_rec_index(1 << 28), None);
    }

    #[test]
    fn mpidr_equal_compares_affinity_fields_only() {
        let rmi = mpidr(1, 2, 3, 4);
        assert!(mpidr_equal(0x0102_0304, rmi));
        assert!(mpidr_equal(0x0102_0304 | 0xf0 | 1 << 40, rmi));
        assert!(mpidr_equal(
            0x0102_0304,
            RecMpidr::from_bits(rmi.bits() | 1 << 63)
        ));
        for bit in (0..4).chain(8..32) {
            assert!(!mpidr_equal(0x0102_0304 ^ 1 << bit, rmi), "bit {bit}");
        }
    }

    #[test]
    fn mpidr_is_used_below_rec_index_and_canonical() {
        assert!(!mpidr_is_used(0, 0));
        assert!(mpidr_is_used(0, 1));
        assert!(mpidr_is_used(0x0100, 17)); // index 16
        assert!(!mpidr_is_used(0x0100, 16));
        assert!(!mpidr_is_used(0x10, 17)); // Aff0[7:4] set
        assert!(!mpidr_is_used(1 << 32, 17)); // arch Aff3 (39:32)
    }
}
