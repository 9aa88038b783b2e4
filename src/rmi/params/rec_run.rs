//! RmiRecRun (spec B4.4.20): RmiRecEnter (B4.4.14) in, RmiRecExit (B4.4.16) out of RMI_REC_ENTER.

use core::convert::Infallible;

use super::{read_u16, read_u64, read_u64s, read_u8, write_le, write_u64s, ParamsError};

/// Size of RmiRecRun in bytes (B4.4.20).
pub const REC_RUN_SIZE: usize = 0x1000;
/// Size of RmiRecEnter in bytes, at offset 0 of RmiRecRun (B4.4.14).
pub const REC_ENTER_SIZE: usize = 0x800;
/// Offset of RmiRecExit in RmiRecRun (B4.4.20).
pub const REC_EXIT_OFFSET: usize = 0x800;
/// Size of RmiRecExit in bytes (B4.4.16).
pub const REC_EXIT_SIZE: usize = 0x800;
const _: () =
    assert!(REC_ENTER_SIZE <= REC_EXIT_OFFSET && REC_EXIT_OFFSET + REC_EXIT_SIZE == REC_RUN_SIZE);

/// Number of general-purpose registers in RmiRecEnter and RmiRecExit: x0..x30.
const NUM_GPRS: usize = 31;
/// Number of GICv3 list registers in RmiRecEnter and RmiRecExit.
const NUM_LRS: usize = 16;

// RmiRecEnter byte offsets (B4.4.14; identical in TF-RMM, reference notes 4.3).
const ENTER_FLAGS: usize = 0x0;
const ENTER_GPRS: usize = 0x200;
const ENTER_GICV3_HCR: usize = 0x300;
const ENTER_GICV3_LRS: usize = 0x308;
const _: () = assert!(
    ENTER_GPRS + 8 * NUM_GPRS <= ENTER_GICV3_HCR && ENTER_GICV3_LRS + 8 * NUM_LRS <= REC_ENTER_SIZE
);

// RmiRecExit byte offsets, from the start of RmiRecExit (B4.4.16; identical in TF-RMM,
// reference notes 4.3).
const EXIT_REASON: usize = 0x0;
const EXIT_ESR: usize = 0x100;
const EXIT_FAR: usize = 0x108;
const EXIT_HPFAR: usize = 0x110;
const EXIT_GPRS: usize = 0x200;
const EXIT_GICV3_HCR: usize = 0x300;
const EXIT_GICV3_LRS: usize = 0x308;
const EXIT_GICV3_MISR: usize = 0x388;
const EXIT_GICV3_VMCR: usize = 0x390;
const EXIT_CNTP_CTL: usize = 0x400;
const EXIT_CNTP_CVAL: usize = 0x408;
const EXIT_CNTV_CTL: usize = 0x410;
const EXIT_CNTV_CVAL: usize = 0x418;
const EXIT_RIPAS_BASE: usize = 0x500;
const EXIT_RIPAS_TOP: usize = 0x508;
const EXIT_RIPAS_VALUE: usize = 0x510;
const EXIT_IMM: usize = 0x600;
const EXIT_PMU_OVF_STATUS: usize = 0x700;
const _: () = assert!(
    EXIT_GPRS + 8 * NUM_GPRS <= EXIT_GICV3_HCR
        && EXIT_GICV3_LRS + 8 * NUM_LRS <= EXIT_GICV3_MISR
        && EXIT_GICV3_HCR + 8 == EXIT_GICV3_LRS
        && EXIT_GICV3_MISR + 8 == EXIT_GICV3_VMCR
        && EXIT_CNTP_CVAL == EXIT_CNTP_CTL + 8
        && EXIT_CNTV_CTL == EXIT_CNTP_CTL + 16
        && EXIT_CNTV_CVAL == EXIT_CNTP_CTL + 24
        && EXIT_RIPAS_TOP == EXIT_RIPAS_BASE + 8
        && EXIT_RIPAS_VALUE == EXIT_RIPAS_BASE + 16
        && EXIT_PMU_OVF_STATUS + 8 <= REC_EXIT_SIZE
);
/// The bytes of RmiRecExit from `gprs` to the end of `gicv3_vmcr`, written in one piece.
const EXIT_REGS_LEN: usize = EXIT_GICV3_VMCR + 8 - EXIT_GPRS;

/// Defines a 1-bit RMI enumeration: `0 => $zero`, `1 => $one`.
macro_rules! one_bit_enum {
    ($(#[$doc:meta])* $name:ident { $(#[$zdoc:meta])* $zero:ident, $(#[$odoc:meta])* $one:ident }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $(#[$zdoc])*
            $zero = 0,
            $(#[$odoc])*
            $one = 1,
        }

        impl $name {
            /// The value encoded by `bit`.
            pub const fn from_bit(bit: bool) -> Self {
                if bit {
                    Self::$one
                } else {
                    Self::$zero
                }
            }

            /// The encoding as a bit.
            pub const fn bit(self) -> bool {
                matches!(self, Self::$one)
            }
        }
    };
}

one_bit_enum!(
    /// Whether the host has completed emulation of an Emulatable Abort (RmiEmulatedMmio, B4.4.4).
    EmulatedMmio {
        /// RMI_NOT_EMULATED_MMIO (0).
        NotEmulated,
        /// RMI_EMULATED_MMIO (1).
        Emulated
    }
);

one_bit_enum!(
    /// Whether to inject a Synchronous External Abort into the realm (RmiInjectSea, B4.4.8).
    InjectSea {
        /// RMI_NO_INJECT_SEA (0).
        NoInject,
        /// RMI_INJECT_SEA (1).
        Inject
    }
);

one_bit_enum!(
    /// Whether a trap is enabled (RmiTrap, B4.4.26).
    Trap {
        /// RMI_NO_TRAP (0).
        NoTrap,
        /// RMI_TRAP (1).
        Trap
    }
);

one_bit_enum!(
    /// The host's answer to a realm request (RmiResponse, B4.4.22).
    RmiResponse {
        /// RMI_ACCEPT (0).
        Accept,
        /// RMI_REJECT (1).
        Reject
    }
);

/// Defines an 8-bit RMI enumeration with `from_encoding` and `encoding`.
macro_rules! byte_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $value:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub enum $name {
            $($(#[$vdoc])* $variant = $value,)+
        }

        impl $name {
            /// Decodes an encoding; `None` for the reserved ones.
            pub const fn from_encoding(value: u8) -> Option<Self> {
                match value {
                    $($value => Some(Self::$variant),)+
                    _ => None,
                }
            }

            /// The spec encoding.
            pub const fn encoding(self) -> u8 {
                self as u8
            }
        }
    };
}

byte_enum!(
    /// The reason for a REC exit (RmiRecExitReason, B4.4.17).
    RecExitReason {
        /// RMI_EXIT_SYNC: synchronous exception.
        Sync = 0,
        /// RMI_EXIT_IRQ.
        Irq = 1,
        /// RMI_EXIT_FIQ.
        Fiq = 2,
        /// RMI_EXIT_PSCI: PSCI call by the realm.
        Psci = 3,
        /// RMI_EXIT_RIPAS_CHANGE: RIPAS change pending.
        RipasChange = 4,
        /// RMI_EXIT_HOST_CALL: host call by the realm.
        HostCall = 5,
        /// RMI_EXIT_SERROR.
        Serror = 6,
    }
);

byte_enum!(
    /// A realm IPA state as RMI encodes it (RmiRipas, B4.4.23).
    RmiRipas {
        /// RMI_EMPTY.
        Empty = 0,
        /// RMI_RAM.
        Ram = 1,
        /// RMI_DESTROYED.
        Destroyed = 2,
    }
);

byte_enum!(
    /// PMU overflow status (RmiPmuOverflowStatus, B4.4.10).
    PmuOverflowStatus {
        /// RMI_PMU_OVERFLOW_NOT_ACTIVE.
        NotActive = 0,
        /// RMI_PMU_OVERFLOW_ACTIVE.
        Active = 1,
    }
);

/// Flags of RMI_REC_ENTER (RmiRecEnterFlags, B4.4.15): emul_mmio bit 0, inject_sea bit 1,
/// trap_wfi bit 2, trap_wfe bit 3, ripas_response bit 4, the rest SBZ (ignored).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecEnterFlags(u64);

impl RecEnterFlags {
    /// emul_mmio: the host has completed emulation of an Emulatable Data Abort.
    pub const EMUL_MMIO: u64 = 1 << 0;
    /// inject_sea: inject a Synchronous External Abort into the realm.
    pub const INJECT_SEA: u64 = 1 << 1;
    /// trap_wfi: trap WFI executed by the realm.
    pub const TRAP_WFI: u64 = 1 << 2;
    /// trap_wfe: trap WFE executed by the realm.
    pub const TRAP_WFE: u64 = 1 << 3;
    /// ripas_response: the host rejects the realm's RIPAS change request.
    pub const RIPAS_RESPONSE: u64 = 1 << 4;
    const DEFINED: u64 = 0x1f;

    /// The flags with raw value `bits`.
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The raw value, reserved bits included.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// The emul_mmio field.
    pub const fn emul_mmio(self) -> EmulatedMmio {
        EmulatedMmio::from_bit(self.0 & Self::EMUL_MMIO != 0)
    }

    /// The inject_sea field.
    pub const fn inject_sea(self) -> InjectSea {
        InjectSea::from_bit(self.0 & Self::INJECT_SEA != 0)
    }

    /// The trap_wfi field.
    pub const fn trap_wfi(self) -> Trap {
        Trap::from_bit(self.0 & Self::TRAP_WFI != 0)
    }

    /// The trap_wfe field.
    pub const fn trap_wfe(self) -> Trap {
        Trap::from_bit(self.0 & Self::TRAP_WFE != 0)
    }

    /// The ripas_response field.
    pub const fn ripas_response(self) -> RmiResponse {
        RmiResponse::from_bit(self.0 & Self::RIPAS_RESPONSE != 0)
    }

    /// The reserved (SBZ) bits, 63:5.
    pub const fn reserved(self) -> u64 {
        self.0 & !Self::DEFINED
    }
}

/// What the host passes to RMI_REC_ENTER (RmiRecEnter, B4.4.14; 2048 bytes at offset 0 of
/// RmiRecRun).
///
/// | Offset | Field | Spec type |
/// |---|---|---|
/// | 0x000 | flags | RmiRecEnterFlags (64 bits) |
/// | 0x200 | gprs\[0..31\] | Bits64 each, to 0x2f0 |
/// | 0x300 | gicv3_hcr | Bits64 |
/// | 0x308 | gicv3_lrs\[0..16\] | Bits64 each, to 0x380 |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecEnter {
    /// Flags (RmiRecEnterFlags).
    pub flags: RecEnterFlags,
    /// x0..x30, used where the exit being completed asks for host values (e.g. a host call).
    pub gprs: [u64; NUM_GPRS],
    /// GICv3 Hypervisor Control Register value.
    pub gicv3_hcr: u64,
    /// GICv3 List Register values.
    pub gicv3_lrs: [u64; NUM_LRS],
}

/// The bytes of RmiRecEnter from `gprs` to the end of `gicv3_lrs`: with `flags`, all the
/// RMM reads of it.
const ENTER_REGS_LEN: usize = ENTER_GICV3_LRS + 8 * NUM_LRS - ENTER_GPRS;

impl RecEnter {
    /// Decodes RmiRecEnter. Every bit pattern is a valid encoding (RMI_REC_ENTER has no
    /// `params_valid` condition), so this cannot fail; SBZ bytes are ignored. The GIC values are
    /// checked by the command (`rec_gicv3`, B3.18 Gicv3ConfigIsValid, RMI_ERROR_REC).
    pub fn parse(enter: &[u8; REC_ENTER_SIZE]) -> Self {
        // Constant offsets within the structure; past it would read as zero, as `read_le`.
        let read = |offset: usize, buf: &mut [u8]| {
            let end = offset.checked_add(buf.len());
            if let Some(src) = end.and_then(|end| enter.get(offset..end)) {
                buf.copy_from_slice(src);
            }
            Ok::<(), Infallible>(())
        };
        match Self::read_with(read) {
            Ok(entry) => entry,
            Err(never) => match never {},
        }
    }

    /// Reads and decodes RmiRecEnter with `read(offset, buf)`, which fills `buf` from `offset`
    /// in the structure (for RMI_REC_ENTER: from host memory). Only the fields are read, about
    /// 400 of the 2048 bytes, in two pieces; the first error of `read` is returned.
    pub fn read_with<E>(
        mut read: impl FnMut(usize, &mut [u8]) -> Result<(), E>,
    ) -> Result<Self, E> {
        let mut flags = [0u8; 8];
        read(ENTER_FLAGS, &mut flags)?;
        let mut regs = [0u8; ENTER_REGS_LEN];
        read(ENTER_GPRS, &mut regs)?;
        Ok(Self {
            flags: RecEnterFlags(u64::from_le_bytes(flags)),
            gprs: read_u64s(&regs, 0),
            gicv3_hcr: read_u64(&regs, ENTER_GICV3_HCR - ENTER_GPRS),
            gicv3_lrs: read_u64s(&regs, ENTER_GICV3_LRS - ENTER_GPRS),
        })
    }

    /// Encodes every field as the host would write it, unused bytes zero (for hosts and tests).
    pub fn write(&self, out: &mut [u8; REC_ENTER_SIZE]) {
        out.fill(0);
        write_le(out, ENTER_FLAGS, &self.flags.bits().to_le_bytes());
        write_u64s(out, ENTER_GPRS, &self.gprs);
        write_le(out, ENTER_GICV3_HCR, &self.gicv3_hcr.to_le_bytes());
        write_u64s(out, ENTER_GICV3_LRS, &self.gicv3_lrs);
    }
}

/// What RMI_REC_ENTER returns to the host (RmiRecExit, B4.4.16; 2048 bytes at offset 0x800 of
/// RmiRecRun). Unused bits are MBZ.
///
/// | Offset (in RmiRecExit) | Field | Spec type |
/// |---|---|---|
/// | 0x000 | exit_reason | RmiRecExitReason (8 bits) |
/// | 0x100 | esr | Bits64 |
/// | 0x108 | far | Bits64 |
/// | 0x110 | hpfar | Bits64 |
/// | 0x200 | gprs\[0..31\] | Bits64 each, to 0x2f0 |
/// | 0x300 | gicv3_hcr | Bits64 |
/// | 0x308 | gicv3_lrs\[0..16\] | Bits64 each, to 0x380 |
/// | 0x388 | gicv3_misr | Bits64 |
/// | 0x390 | gicv3_vmcr | Bits64 |
/// | 0x400 | cntp_ctl | Bits64 |
/// | 0x408 | cntp_cval | Bits64 |
/// | 0x410 | cntv_ctl | Bits64 |
/// | 0x418 | cntv_cval | Bits64 |
/// | 0x500 | ripas_base | Bits64 |
/// | 0x508 | ripas_top | Bits64 |
/// | 0x510 | ripas_value | RmiRipas (8 bits) |
/// | 0x600 | imm | Bits16 |
/// | 0x700 | pmu_ovf_status | RmiPmuOverflowStatus (8 bits) |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecExit {
    /// Exit reason.
    pub exit_reason: RecExitReason,
    /// Exception Syndrome Register.
    pub esr: u64,
    /// Fault Address Register.
    pub far: u64,
    /// Hypervisor IPA Fault Address Register.
    pub hpfar: u64,
    /// x0..x30 values the host may see (e.g. PSCI or host call arguments).
    pub gprs: [u64; NUM_GPRS],
    /// GICv3 Hypervisor Control Register value.
    pub gicv3_hcr: u64,
    /// GICv3 List Register values.
    pub gicv3_lrs: [u64; NUM_LRS],
    /// GICv3 Maintenance Interrupt State Register value.
    pub gicv3_misr: u64,
    /// GICv3 Virtual Machine Control Register value.
    pub gicv3_vmcr: u64,
    /// Counter-timer Physical Timer Control Register value.
    pub cntp_ctl: u64,
    /// Counter-timer Physical Timer CompareValue Register value.
    pub cntp_cval: u64,
    /// Counter-timer Virtual Timer Control Register value.
    pub cntv_ctl: u64,
    /// Counter-timer Virtual Timer CompareValue Register value.
    pub cntv_cval: u64,
    /// Base address of the target region of a pending RIPAS change.
    pub ripas_base: u64,
    /// Top address of the target region of a pending RIPAS change.
    pub ripas_top: u64,
    /// RIPAS value of a pending RIPAS change.
    pub ripas_value: RmiRipas,
    /// Host call immediate value.
    pub imm: u16,
    /// PMU overflow status.
    pub pmu_ovf_status: PmuOverflowStatus,
}

impl RecExit {
    /// An exit for `exit_reason` with every other field zero (its zero encoding).
    pub const fn new(exit_reason: RecExitReason) -> Self {
        Self {
            exit_reason,
            esr: 0,
            far: 0,
            hpfar: 0,
            gprs: [0; NUM_GPRS],
            gicv3_hcr: 0,
            gicv3_lrs: [0; NUM_LRS],
            gicv3_misr: 0,
            gicv3_vmcr: 0,
            cntp_ctl: 0,
            cntp_cval: 0,
            cntv_ctl: 0,
            cntv_cval: 0,
            ripas_base: 0,
            ripas_top: 0,
            ripas_value: RmiRipas::Empty,
            imm: 0,
            pmu_ovf_status: PmuOverflowStatus::NotActive,
        }
    }

    /// Serialises RmiRecExit into `out`, every unused byte zero (MBZ).
    pub fn write(&self, out: &mut [u8; REC_EXIT_SIZE]) {
        out.fill(0);
        let write = |offset: usize, bytes: &[u8]| {
            write_le(out, offset, bytes);
            Ok::<(), Infallible>(())
        };
        match self.write_with(write) {
            Ok(()) => {}
            Err(never) => match never {},
        }
    }

    /// Encodes RmiRecExit and hands it to `write(offset, bytes)`, which stores `bytes` at
    /// `offset` in the structure (for RMI_REC_ENTER: in host memory), in seven pieces that cover
    /// every field and none of the padding between them (about 560 of the 2048 bytes: the
    /// padding is the host's memory, and no field of it changes). Stops at the first error.
    pub fn write_with<E>(
        &self,
        mut write: impl FnMut(usize, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut reason = [0u8; 8];
        reason[0] = self.exit_reason.encoding();
        write(EXIT_REASON, &reason)?;
        let mut syndrome = [0u8; 24];
        write_u64s(&mut syndrome, 0, &[self.esr, self.far, self.hpfar]);
        write(EXIT_ESR, &syndrome)?;
        let mut regs = [0u8; EXIT_REGS_LEN];
        write_u64s(&mut regs, 0, &self.gprs);
        let gic = EXIT_GICV3_HCR - EXIT_GPRS;
        write_u64s(&mut regs, gic, &[self.gicv3_hcr]);
        write_u64s(&mut regs, gic + 8, &self.gicv3_lrs);
        write_u64s(
            &mut regs,
            EXIT_GICV3_MISR - EXIT_GPRS,
            &[self.gicv3_misr, self.gicv3_vmcr],
        );
        write(EXIT_GPRS, &regs)?;
        let mut timers = [0u8; 32];
        write_u64s(
            &mut timers,
            0,
            &[self.cntp_ctl, self.cntp_cval, self.cntv_ctl, self.cntv_cval],
        );
        write(EXIT_CNTP_CTL, &timers)?;
        let mut ripas = [0u8; 24];
        write_u64s(&mut ripas, 0, &[self.ripas_base, self.ripas_top]);
        ripas[16] = self.ripas_value.encoding();
        write(EXIT_RIPAS_BASE, &ripas)?;
        let mut imm = [0u8; 8];
        imm[..2].copy_from_slice(&self.imm.to_le_bytes());
        write(EXIT_IMM, &imm)?;
        let mut pmu = [0u8; 8];
        pmu[0] = self.pmu_ovf_status.encoding();
        write(EXIT_PMU_OVF_STATUS, &pmu)
    }

    /// Decodes RmiRecExit, as the host reads it (for hosts and tests). Fails on a reserved
    /// encoding of exit_reason, ripas_value or pmu_ovf_status; MBZ bytes are not checked.
    pub fn parse(exit: &[u8; REC_EXIT_SIZE]) -> Result<Self, ParamsError> {
        Self::decode(exit)
    }

    /// Decodes the RmiRecExit part of a whole RmiRecRun page.
    pub fn from_run(run: &[u8; REC_RUN_SIZE]) -> Result<Self, ParamsError> {
        Self::decode(run.get(REC_EXIT_OFFSET..).unwrap_or_default())
    }

    fn decode(bytes: &[u8]) -> Result<Self, ParamsError> {
        let reason = read_u8(bytes, EXIT_REASON);
        let ripas = read_u8(bytes, EXIT_RIPAS_VALUE);
        let pmu = read_u8(bytes, EXIT_PMU_OVF_STATUS);
        Ok(Self {
            exit_reason: RecExitReason::from_encoding(reason)
                .ok_or(ParamsError::ExitReason(reason))?,
            esr: read_u64(bytes, EXIT_ESR),
            far: read_u64(bytes, EXIT_FAR),
            hpfar: read_u64(bytes, EXIT_HPFAR),
            gprs: read_u64s(bytes, EXIT_GPRS),
            gicv3_hcr: read_u64(bytes, EXIT_GICV3_HCR),
            gicv3_lrs: read_u64s(bytes, EXIT_GICV3_LRS),
            gicv3_misr: read_u64(bytes, EXIT_GICV3_MISR),
            gicv3_vmcr: read_u64(bytes, EXIT_GICV3_VMCR),
            cntp_ctl: read_u64(bytes, EXIT_CNTP_CTL),
            cntp_cval: read_u64(bytes, EXIT_CNTP_CVAL),
            cntv_ctl: read_u64(bytes, EXIT_CNTV_CTL),
            cntv_cval: read_u64(bytes, EXIT_CNTV_CVAL),
            ripas_base: read_u64(bytes, EXIT_RIPAS_BASE),
            ripas_top: read_u64(bytes, EXIT_RIPAS_TOP),
            ripas_value: RmiRipas::from_encoding(ripas).ok_or(ParamsError::Ripas(ripas))?,
            imm: read_u16(bytes, EXIT_IMM),
            pmu_ovf_status: PmuOverflowStatus::from_encoding(pmu)
                .ok_or(ParamsError::PmuOverflowStatus(pmu))?,
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn put_u64(page: &mut [u8], offset: usize, value: u64) {
        page[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
    }

    /// A RmiRecEnter with every field set at its B4.4.14 offset (literal offsets).
    fn enter_bytes() -> [u8; 2048] {
        let mut e = [0u8; 2048];
        put_u64(&mut e, 0x0, 0b1_0101);
        for i in 0..31 {
            put_u64(&mut e, 0x200 + 8 * i, 0xa000 + i as u64);
        }
        put_u64(&mut e, 0x300, 0x4001);
        for i in 0..16 {
            put_u64(&mut e, 0x308 + 8 * i, 0x5000_0000_0000_0000 | i as u64);
        }
        e
    }

    fn check_enter(e: &RecEnter) {
        assert_eq!(e.flags.bits(), 0b1_0101);
        assert_eq!(e.flags.emul_mmio(), EmulatedMmio::Emulated);
        assert_eq!(e.flags.inject_sea(), InjectSea::NoInject);
        assert_eq!(e.flags.trap_wfi(), Trap::Trap);
        assert_eq!(e.flags.trap_wfe(), Trap::NoTrap);
        assert_eq!(e.flags.ripas_response(), RmiResponse::Reject);
        assert_eq!(e.gprs, core::array::from_fn(|i| 0xa000 + i as u64));
        assert_eq!(e.gicv3_hcr, 0x4001);
        assert_eq!(
            e.gicv3_lrs,
            core::array::from_fn(|i| 0x5000_0000_0000_0000 | i as u64)
        );
    }

    #[test]
    fn enter_parse_reads_every_field_at_its_offset() {
        check_enter(&RecEnter::parse(&enter_bytes()));
    }

    #[test]
    fn enter_read_with_reads_the_fields_only() {
        let page = enter_bytes();
        let mut pieces = Vec::new();
        let e = RecEnter::read_with(|offset, buf: &mut [u8]| {
            pieces.push((offset, buf.len()));
            buf.copy_from_slice(&page[offset..offset + buf.len()]);
            Ok::<(), ()>(())
        });
        assert_eq!(e, Ok(RecEnter::parse(&page)));
        // flags; then gprs[0] at 0x200 to the end of gicv3_lrs[15] at 0x388.
        assert_eq!(pieces, [(0x000, 8), (0x200, 0x188)]);
    }

    #[test]
    fn enter_read_with_stops_at_the_first_error() {
        let mut calls = 0;
        let e = RecEnter::read_with(|_, _: &mut [u8]| {
            calls += 1;
            Err::<(), _>("fault")
        });
        assert_eq!((e, calls), (Err("fault"), 1));
    }

    #[test]
    fn enter_flags_each_bit() {
        let f = RecEnterFlags::from_bits;
        assert_eq!(f(1 << 0).emul_mmio(), EmulatedMmio::Emulated);
        assert_eq!(f(1 << 1).inject_sea(), InjectSea::Inject);
        assert_eq!(f(1 << 2).trap_wfi(), Trap::Trap);
        assert_eq!(f(1 << 3).trap_wfe(), Trap::Trap);
        assert_eq!(f(1 << 4).ripas_response(), RmiResponse::Reject);
        let none = f(!0x1f);
        assert_eq!(none.emul_mmio(), EmulatedMmio::NotEmulated);
        assert_eq!(none.inject_sea(), InjectSea::NoInject);
        assert_eq!(none.trap_wfi(), Trap::NoTrap);
        assert_eq!(none.trap_wfe(), Trap::NoTrap);
        assert_eq!(none.ripas_response(), RmiResponse::Accept);
        assert_eq!(none.reserved(), !0x1f);
        assert_eq!(f(0x1f).reserved(), 0);
    }

    #[test]
    fn enter_sbz_bytes_are_ignored() {
        let clean = enter_bytes();
        let mut dirty = [0xffu8; 2048];
        dirty[..8].copy_from_slice(&clean[..8]);
        dirty[0x200..0x2f8].copy_from_slice(&clean[0x200..0x2f8]);
        dirty[0x300..0x388].copy_from_slice(&clean[0x300..0x388]);
        assert_eq!(RecEnter::parse(&dirty), RecEnter::parse(&clean));
    }

    #[test]
    fn enter_write_is_the_inverse_of_parse() {
        let mut out = [0xaau8; 2048];
        RecEnter::parse(&enter_bytes()).write(&mut out);
        assert_eq!(out, enter_bytes());
    }

    fn exit() -> RecExit {
        RecExit {
            exit_reason: RecExitReason::HostCall,
            esr: 0x9200_0046,
            far: 0x123,
            hpfar: 0x8_8000,
            gprs: core::array::from_fn(|i| 0xb000 + i as u64),
            gicv3_hcr: 0x0800_0001,
            gicv3_lrs: core::array::from_fn(|i| 0x6000_0000_0000_0000 | i as u64),
            gicv3_misr: 0x22,
            gicv3_vmcr: 0x33,
            cntp_ctl: 0x5,
            cntp_cval: 0xc0ffee,
            cntv_ctl: 0x3,
            cntv_cval: 0xdecaf,
            ripas_base: 0x4000_0000,
            ripas_top: 0x4020_0000,
            ripas_value: RmiRipas::Ram,
            imm: 0xabcd,
            pmu_ovf_status: PmuOverflowStatus::Active,
        }
    }

    /// [`exit`] in a RmiRecRun page, laid out by hand at absolute offsets (0x800 + B4.4.16).
    fn exit_run_bytes(enter_fill: u8) -> [u8; 4096] {
        let mut p = [0u8; 4096];
        p[..0x800].fill(enter_fill);
        p[0x800] = 5;
        put_u64(&mut p, 0x900, 0x9200_0046);
        put_u64(&mut p, 0x908, 0x123);
        put_u64(&mut p, 0x910, 0x8_8000);
        for i in 0..31 {
            put_u64(&mut p, 0xa00 + 8 * i, 0xb000 + i as u64);
        }
        put_u64(&mut p, 0xb00, 0x0800_0001);
        for i in 0..16 {
            put_u64(&mut p, 0xb08 + 8 * i, 0x6000_0000_0000_0000 | i as u64);
        }
        put_u64(&mut p, 0xb88, 0x22);
        put_u64(&mut p, 0xb90, 0x33);
        put_u64(&mut p, 0xc00, 0x5);
        put_u64(&mut p, 0xc08, 0xc0ffee);
        put_u64(&mut p, 0xc10, 0x3);
        put_u64(&mut p, 0xc18, 0xdecaf);
        put_u64(&mut p, 0xd00, 0x4000_0000);
        put_u64(&mut p, 0xd08, 0x4020_0000);
        p[0xd10] = 1;
        p[0xe00] = 0xcd;
        p[0xe01] = 0xab;
        p[0xf00] = 1;
        p
    }

    #[test]
    fn exit_write_with_writes_every_field_and_no_padding() {
        // Host memory pre-filled with garbage: the fields come out exact (MBZ bits zero), and
        // the padding between them is left alone.
        let mut run = [0x77u8; 4096];
        let mut pieces = Vec::new();
        let result = exit().write_with(|offset, bytes: &[u8]| {
            pieces.push((offset, bytes.len()));
            run[0x800 + offset..0x800 + offset + bytes.len()].copy_from_slice(bytes);
            Ok::<(), ()>(())
        });
        assert_eq!(result, Ok(()));
        let fields = [
            (0x000, 8),
            (0x100, 24),
            (0x200, 0x198),
            (0x400, 32),
            (0x500, 24),
            (0x600, 8),
            (0x700, 8),
        ];
        assert_eq!(pieces, fields);
        let expected = exit_run_bytes(0);
        for offset in 0..2048 {
            let written = fields
                .iter()
                .any(|&(at, len)| (at..at + len).contains(&offset));
            let want = if written {
                expected[0x800 + offset]
            } else {
                0x77
            };
            assert_eq!(run[0x800 + offset], want, "byte {offset:#x} of RmiRecExit");
        }
        assert!(
            run[..0x800].iter().all(|&b| b == 0x77),
            "RmiRecEnter untouched"
        );
    }

    #[test]
    fn exit_write_is_the_exit_half() {
        let mut out = [0x77u8; 2048];
        exit().write(&mut out);
        assert_eq!(out[..], exit_run_bytes(0)[0x800..]);
    }

    #[test]
    fn exit_new_is_all_zero_but_the_reason() {
        let mut out = [0x77u8; 2048];
        RecExit::new(RecExitReason::Serror).write(&mut out);
        assert_eq!(out[0], 6);
        assert!(out[1..].iter().all(|&b| b == 0));
    }

    #[test]
    fn exit_parse_is_the_inverse_of_write() {
        let run = exit_run_bytes(0);
        assert_eq!(RecExit::from_run(&run), Ok(exit()));
        let mut half = [0u8; 2048];
        half.copy_from_slice(&run[0x800..]);
        assert_eq!(RecExit::parse(&half), Ok(exit()));
    }

    #[test]
    fn exit_parse_rejects_reserved_encodings() {
        let mut run = exit_run_bytes(0);
        run[0x800] = 7;
        assert_eq!(RecExit::from_run(&run), Err(ParamsError::ExitReason(7)));
        let mut run = exit_run_bytes(0);
        run[0xd10] = 3;
        assert_eq!(RecExit::from_run(&run), Err(ParamsError::Ripas(3)));
        let mut run = exit_run_bytes(0);
        run[0xf00] = 2;
        assert_eq!(
            RecExit::from_run(&run),
            Err(ParamsError::PmuOverflowStatus(2))
        );
    }

    #[test]
    fn exit_reason_encodings_b4_4_17() {
        use RecExitReason::*;
        let all = [Sync, Irq, Fiq, Psci, RipasChange, HostCall, Serror];
        for (value, reason) in all.into_iter().enumerate() {
            assert_eq!(reason.encoding(), value as u8);
            assert_eq!(RecExitReason::from_encoding(value as u8), Some(reason));
        }
        for value in 7..=255 {
            assert_eq!(RecExitReason::from_encoding(value), None);
        }
    }

    #[test]
    fn ripas_and_pmu_encodings() {
        assert_eq!(RmiRipas::from_encoding(0), Some(RmiRipas::Empty));
        assert_eq!(RmiRipas::from_encoding(1), Some(RmiRipas::Ram));
        assert_eq!(RmiRipas::from_encoding(2), Some(RmiRipas::Destroyed));
        assert_eq!(RmiRipas::from_encoding(3), None);
        assert_eq!(
            PmuOverflowStatus::from_encoding(0),
            Some(PmuOverflowStatus::NotActive)
        );
        assert_eq!(
            PmuOverflowStatus::from_encoding(1),
            Some(PmuOverflowStatus::Active)
        );
        assert_eq!(PmuOverflowStatus::from_encoding(2), None);
    }

    #[test]
    fn one_bit_encodings() {
        assert!(!EmulatedMmio::NotEmulated.bit() && EmulatedMmio::Emulated.bit());
        assert!(!InjectSea::NoInject.bit() && InjectSea::Inject.bit());
        assert!(!Trap::NoTrap.bit() && Trap::Trap.bit());
        assert!(!RmiResponse::Accept.bit() && RmiResponse::Reject.bit());
        assert_eq!(Trap::from_bit(true), Trap::Trap);
    }
}
