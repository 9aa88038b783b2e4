//! A REC exit due to an emulatable Data Abort, decoded into the device access the VMM emulates,
//! and the device an IPA belongs to.
//!
//! Sources: RMM spec 1.0-REL0 A4.3.4.3 (what RmiRecExit holds after a Data Abort), A4.2.3 and
//! A4.4 (completing an emulated access on the next REC entry), B4.4.16 (RmiRecExit); Arm ARM
//! (DDI 0487), ESR_EL2 (ISS encoding for an exception from a Data Abort) and HPFAR_EL2.
//!
//! The RMM passes on only part of the syndrome: EC, ISV, SAS, SF, WnR, SET, FnV, EA and DFSC
//! (A4.3.4.3). It keeps SSE, SRT and AR: it writes a read's value into the register itself, sign-
//! or zero-extended as the load asked ("the RMM ... so that the Realm can rely on architecturally
//! correct behavior"), and gives a write's value in `exit.gprs[0]`. So the VMM needs neither the
//! register number nor the sign: it answers a read with the `size` bytes the device returns.

use crate::layout::{
    GICD_BASE, GICD_SIZE, GICR_BASE, GICR_STRIDE, IPA_WIDTH, PL011_BASE, PL011_SIZE,
    UNPROTECTED_BIT,
};

/// ESR_EL2.EC for a Data Abort from a lower Exception level.
pub const EC_DATA_ABORT_LOWER: u64 = 0x24;

/// ESR_EL2 fields of a Data Abort (Arm ARM, ISS encoding for an exception from a Data Abort).
mod esr {
    pub const EC_SHIFT: u32 = 26;
    /// Instruction Syndrome Valid: SAS, SSE, SRT, SF and AR hold a description of the access.
    pub const ISV: u64 = 1 << 24;
    /// Syndrome Access Size: log2 of the access's bytes.
    pub const SAS_SHIFT: u32 = 22;
    /// Sixty-Four: the register is an X register (else W).
    pub const SF: u64 = 1 << 15;
    /// Write not Read.
    pub const WNR: u64 = 1 << 6;
}

/// A guest access to emulate: a load or store of `size` bytes at `ipa`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmioAccess {
    /// The faulting IPA, with the Unprotected bit as the guest used it.
    pub ipa: u64,
    /// 1, 2, 4 or 8 bytes.
    pub size: usize,
    /// A store (else a load).
    pub write: bool,
    /// A store's value, the low `size` bytes of the register (`exit.gprs[0]`); 0 for a load.
    pub value: u64,
    /// The register is 64 bits wide (ESR SF). Informational: the RMM extends a load's value.
    pub sf: bool,
}

/// Why a REC exit is not an access the VMM can emulate: the guest misbehaved (or the VMM
/// asked for an exit it does not handle here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MmioError {
    /// Not a Data Abort from the realm (ESR.EC): the exit is something else.
    NotDataAbort { esr: u64 },
    /// A Data Abort without a valid syndrome (ISV 0: a load/store pair, a write-back
    /// addressing mode, SIMD, an atomic...): it cannot be emulated (A4.3.4.3, Non-emulatable
    /// Data Abort). The VMM reports the IPA and stops the guest or injects an SEA.
    NoSyndrome { ipa: u64 },
}

impl MmioAccess {
    /// Decodes a REC exit due to Data Abort from RmiRecExit's `esr`, `far`, `hpfar` and
    /// `gprs[0]` (A4.3.4.3).
    pub fn decode(esr: u64, far: u64, hpfar: u64, gpr0: u64) -> Result<Self, MmioError> {
        if esr >> esr::EC_SHIFT & 0x3f != EC_DATA_ABORT_LOWER {
            return Err(MmioError::NotDataAbort { esr });
        }
        let ipa = fault_ipa(far, hpfar);
        if esr & esr::ISV == 0 {
            return Err(MmioError::NoSyndrome { ipa });
        }
        let size = 1usize << (esr >> esr::SAS_SHIFT & 3);
        let write = esr & esr::WNR != 0;
        Ok(Self {
            ipa,
            size,
            write,
            value: if write { gpr0 & size_mask(size) } else { 0 },
            sf: esr & esr::SF != 0,
        })
    }

    /// The value to put in `enter.gprs[0]` to complete a load (with `enter.flags.emul_mmio`
    /// set, A4.2.3): the access's `size` bytes of what the device returned. The RMM writes it
    /// to the load's register with the sign or zero extension the instruction asks for.
    pub fn read_result(&self, device_value: u64) -> u64 {
        device_value & size_mask(self.size)
    }
}

/// The faulting IPA of a Data Abort: HPFAR_EL2.FIPA (bits 43:4, IPA bits 51:12) masked to the
/// realm's IPA width, plus the offset in the page from FAR (which the RMM gives masked to the
/// granule, A4.3.4.3).
pub fn fault_ipa(far: u64, hpfar: u64) -> u64 {
    let page = (hpfar >> 4 & ((1 << 40) - 1)) << 12;
    page & ((1 << IPA_WIDTH) - 1) | far & 0xfff
}

/// `ipa` without the Unprotected bit: the device's address as the device tree gives it.
pub const fn strip_unprotected(ipa: u64) -> u64 {
    ipa & !UNPROTECTED_BIT
}

/// The low `size` bytes.
const fn size_mask(size: usize) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1 << (8 * size)) - 1
    }
}

/// Which emulated device an IPA falls in, and the offset in its registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// The GICv3 distributor.
    Gicd { offset: u64 },
    /// The redistributor of vCPU `vcpu`: `offset` in its 128 KiB frame pair (RD_base at 0,
    /// SGI_base at 0x10000).
    Gicr { vcpu: usize, offset: u64 },
    /// The PL011 UART.
    Pl011 { offset: u64 },
    /// No device: the IPA without the Unprotected bit.
    Unknown { ipa: u64 },
}

impl Region {
    /// The device at `ipa` (Unprotected alias or not) for a guest with `vcpus` vCPUs (one
    /// redistributor frame pair each, as the device tree describes).
    pub fn of(ipa: u64, vcpus: usize) -> Self {
        let ipa = strip_unprotected(ipa);
        let within = |base: u64, size: u64| ipa.checked_sub(base).filter(|&o| o < size);
        if let Some(offset) = within(GICD_BASE, GICD_SIZE) {
            Region::Gicd { offset }
        } else if let Some(o) = within(GICR_BASE, vcpus as u64 * GICR_STRIDE) {
            Region::Gicr {
                vcpu: (o / GICR_STRIDE) as usize,
                offset: o % GICR_STRIDE,
            }
        } else if let Some(offset) = within(PL011_BASE, PL011_SIZE) {
            Region::Pl011 { offset }
        } else {
            Region::Unknown { ipa }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the RMM passes on of an ESR (A4.3.4.3): EC, ISV, SAS, SF, WnR, SET, FnV, EA, DFSC.
    fn as_rmm_gives(esr: u64) -> u64 {
        esr & (0x3f << 26 | 1 << 24 | 3 << 22 | 1 << 15 | 3 << 11 | 1 << 10 | 1 << 9 | 1 << 6)
            | esr & 0x3f
    }

    /// HPFAR_EL2 for `ipa`: FIPA = IPA[51:12] in bits 43:4.
    fn hpfar(ipa: u64) -> u64 {
        (ipa >> 12) << 4
    }

    const UART: u64 = UNPROTECTED_BIT | PL011_BASE;

    /// The ESR_EL2 value of an emulatable Data Abort, for tests: EC 0x24 with IL, ISV, SAS = log2
    /// `size`, SRT `reg`, SF when `x`, WnR when `write`, and a level 3 translation fault.
    fn esr_for(size: usize, reg: u64, x: bool, sse: bool, write: bool) -> u64 {
        EC_DATA_ABORT_LOWER << esr::EC_SHIFT
            | 1 << 25
            | esr::ISV
            | u64::from(size.trailing_zeros()) << esr::SAS_SHIFT
            | if sse { 1 << 21 } else { 0 }
            | reg << 16
            | if x { esr::SF } else { 0 }
            | if write { esr::WNR } else { 0 }
            | 0x07
    }

    #[test]
    fn test_esr_values_are_the_architectural_encodings() {
        // str w1, [x0]: EC 0x24, IL, ISV, SAS 2, SRT 1, WnR, DFSC 7.
        assert_eq!(esr_for(4, 1, false, false, true), 0x9381_0047);
        // ldr x3, [x0]: SAS 3, SRT 3, SF.
        assert_eq!(esr_for(8, 3, true, false, false), 0x93c3_8007);
        // ldrb w2, [x0]: SAS 0, SRT 2.
        assert_eq!(esr_for(1, 2, false, false, false), 0x9302_0007);
        // ldrsh x4, [x0]: SAS 1, SSE, SRT 4, SF.
        assert_eq!(esr_for(2, 4, true, true, false), 0x9364_8007);
    }

    #[test]
    fn decodes_a_word_store_with_its_value() {
        // `str w1, [x0]` with x0 = the UART's DR, w1 = 'A': the RMM gives w1 in gprs[0].
        for esr in [0x9381_0047, as_rmm_gives(0x9381_0047)] {
            let a = MmioAccess::decode(esr, UART & 0xfff, hpfar(UART), 0x41).unwrap();
            assert_eq!(
                a,
                MmioAccess {
                    ipa: UART,
                    size: 4,
                    write: true,
                    value: 0x41,
                    sf: false
                }
            );
            assert_eq!(
                Region::of(a.ipa, 1),
                Region::Pl011 { offset: 0 },
                "ESR {esr:#x}"
            );
        }
    }

    #[test]
    fn a_stores_value_is_cut_to_its_size() {
        // strb w1, [x0, #0x18] with stale high bits in gprs[0].
        let esr = as_rmm_gives(esr_for(1, 1, false, false, true));
        let ipa = UART + 0x18;
        let a = MmioAccess::decode(esr, ipa, hpfar(ipa), 0xdead_beef_1234_5678).unwrap();
        assert_eq!((a.size, a.write, a.value), (1, true, 0x78));
        assert_eq!(Region::of(ipa, 1), Region::Pl011 { offset: 0x18 });
    }

    #[test]
    fn decodes_loads_of_every_size() {
        // (ESR as the hardware gives it, size, sf): ldrb w2; ldrh w5; ldr w7; ldr x3; ldrsh x4.
        let cases = [
            (0x9302_0007, 1, false),
            (esr_for(2, 5, false, false, false), 2, false),
            (esr_for(4, 7, false, false, false), 4, false),
            (0x93c3_8007, 8, true),
            (0x9364_8007, 2, true),
        ];
        for (esr, size, sf) in cases {
            let ipa = UNPROTECTED_BIT | GICD_BASE | 0x4;
            let a = MmioAccess::decode(as_rmm_gives(esr), ipa & 0xfff, hpfar(ipa), 0).unwrap();
            assert_eq!(
                (a.ipa, a.size, a.write, a.sf),
                (ipa, size, false, sf),
                "{esr:#x}"
            );
            assert_eq!(a.value, 0);
            // The host answers with the access's bytes only; the RMM sign-extends the ldrsh.
            let expected = [0xff, 0xffff, 0xffff_ffff, u64::MAX][size.trailing_zeros() as usize];
            assert_eq!(a.read_result(u64::MAX), expected);
        }
    }

    #[test]
    fn the_ipa_comes_from_hpfar_and_the_page_offset_from_far() {
        // FAR's upper bits (the realm's VA) are ignored, HPFAR bits above the IPA width too.
        let ipa = UNPROTECTED_BIT | GICR_BASE | 0x1_0100;
        let far = 0xffff_8000_1234_5000 | 0x100;
        let hpfar = hpfar(ipa) | 1 << 43;
        assert_eq!(fault_ipa(far, hpfar), ipa);
        assert_eq!(strip_unprotected(ipa), GICR_BASE + 0x1_0100);
    }

    #[test]
    fn without_isv_the_abort_cannot_be_emulated() {
        // ldp x0, x1, [x2]: ISV 0 (the RMM then reports EC and DFSC only).
        let esr = 0x9200_0007;
        assert_eq!(
            MmioAccess::decode(esr, 0x8, hpfar(UART), 0),
            Err(MmioError::NoSyndrome { ipa: UART | 0x8 })
        );
        // Not a Data Abort at all: an SMC (EC 0x17).
        assert_eq!(
            MmioAccess::decode(0x5e00_0000, 0, 0, 0),
            Err(MmioError::NotDataAbort { esr: 0x5e00_0000 })
        );
    }

    #[test]
    fn regions_follow_the_layout() {
        let gicd = GICD_BASE + 0x100;
        assert_eq!(Region::of(gicd, 2), Region::Gicd { offset: 0x100 });
        assert_eq!(
            Region::of(UNPROTECTED_BIT | gicd, 2),
            Region::Gicd { offset: 0x100 }
        );
        assert_eq!(
            Region::of(GICR_BASE + GICR_STRIDE + 0x1_0080, 2),
            Region::Gicr {
                vcpu: 1,
                offset: 0x1_0080
            }
        );
        // A third vCPU's frames do not exist with two vCPUs.
        let third = GICR_BASE + 2 * GICR_STRIDE;
        assert_eq!(Region::of(third, 2), Region::Unknown { ipa: third });
        assert_eq!(Region::of(third, 3), Region::Gicr { vcpu: 2, offset: 0 });
        assert_eq!(
            Region::of(PL011_BASE + 0xfe0, 1),
            Region::Pl011 { offset: 0xfe0 }
        );
        for ipa in [
            0,
            GICD_BASE + GICD_SIZE,
            PL011_BASE + PL011_SIZE,
            0x4000_0000,
        ] {
            assert_eq!(
                Region::of(ipa | UNPROTECTED_BIT, 1),
                Region::Unknown { ipa }
            );
        }
    }
}
