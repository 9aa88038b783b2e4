//! RmiRecParams (spec B4.4.19): the parameters of RMI_REC_CREATE.

use super::{read_u64, read_u64s, write_le, write_u64s, RecMpidr};
use crate::measurement::MeasuredRecParams;
use crate::GRANULE_SIZE;

/// Size of RmiRecParams in bytes (B4.4.19).
pub const REC_PARAMS_SIZE: usize = 0x1000;

/// Number of general-purpose registers in RmiRecParams: x0..x7.
const NUM_GPRS: usize = 8;
/// Number of entries of the aux array; RecAuxCount is never more (B3.36).
const MAX_AUX: usize = 16;

// Byte offsets (B4.4.19; identical in TF-RMM, reference notes 4.2).
const FLAGS: usize = 0x0;
const MPIDR: usize = 0x100;
const PC: usize = 0x200;
const GPRS: usize = 0x300;
const NUM_AUX: usize = 0x800;
const AUX: usize = 0x808;
const _: () = assert!(GPRS + 8 * NUM_GPRS <= NUM_AUX && AUX + 8 * MAX_AUX <= REC_PARAMS_SIZE);

/// Whether a REC is eligible for execution (RmiRecRunnable, B4.4.21; 1 bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runnable {
    /// RMI_NOT_RUNNABLE (0).
    NotRunnable = 0,
    /// RMI_RUNNABLE (1).
    Runnable = 1,
}

/// Flags of RMI_REC_CREATE (RmiRecCreateFlags, B4.4.13): runnable bit 0, the rest SBZ. Holds the
/// raw word: reserved bits are ignored but measured (B4.3.12.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecCreateFlags(u64);

impl RecCreateFlags {
    /// runnable: the REC is eligible for execution.
    pub const RUNNABLE: u64 = 1 << 0;

    /// The flags with raw value `bits`.
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The raw value, reserved bits included.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// The runnable field.
    pub const fn runnable(self) -> Runnable {
        if self.0 & Self::RUNNABLE != 0 {
            Runnable::Runnable
        } else {
            Runnable::NotRunnable
        }
    }

    /// The reserved (SBZ) bits, 63:1.
    pub const fn reserved(self) -> u64 {
        self.0 & !Self::RUNNABLE
    }
}

/// The parameters of a REC, as provided by the host to RMI_REC_CREATE (RmiRecParams, B4.4.19;
/// 4096 bytes).
///
/// | Offset | Field | Spec type |
/// |---|---|---|
/// | 0x000 | flags | RmiRecCreateFlags (64 bits) |
/// | 0x100 | mpidr | RmiRecMpidr (64 bits) |
/// | 0x200 | pc | Bits64 |
/// | 0x300 | gprs\[0..8\] | Bits64 each, to 0x338 |
/// | 0x800 | num_aux | UInt64 |
/// | 0x808 | aux\[0..16\] | Address each, to 0x880 |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecParams {
    /// Flags (RmiRecCreateFlags).
    pub flags: RecCreateFlags,
    /// MPIDR of the REC.
    pub mpidr: RecMpidr,
    /// Initial program counter.
    pub pc: u64,
    /// Initial x0..x7.
    pub gprs: [u64; NUM_GPRS],
    /// Number of auxiliary granules; RMI_REC_CREATE `num_aux` requires RecAuxCount (B3.36).
    pub num_aux: u64,
    /// PAs of the auxiliary granules; the first `num_aux` are used.
    pub aux: [u64; MAX_AUX],
}

impl RecParams {
    /// Decodes RmiRecParams. Every bit pattern is a valid encoding (RMI_REC_CREATE has no
    /// `params_valid` condition), so this cannot fail; SBZ bytes are ignored. The command checks
    /// `mpidr_index` ([`RecMpidr::rec_index`], and [`RecMpidr::is_valid`]), `num_aux`,
    /// `aux_align` ([`aux_aligned`]), `aux_alias` ([`aux_alias`]) and `aux_state` itself.
    pub fn parse(bytes: &[u8; REC_PARAMS_SIZE]) -> Self {
        Self {
            flags: RecCreateFlags(read_u64(bytes, FLAGS)),
            mpidr: RecMpidr::from_bits(read_u64(bytes, MPIDR)),
            pc: read_u64(bytes, PC),
            gprs: read_u64s(bytes, GPRS),
            num_aux: read_u64(bytes, NUM_AUX),
            aux: read_u64s(bytes, AUX),
        }
    }

    /// The used entries of `aux`, the first `num_aux`; `None` if `num_aux` is more than 16
    /// (then it cannot equal RecAuxCount, and RMI_REC_CREATE fails `num_aux`).
    pub fn aux_used(&self) -> Option<&[u64]> {
        let count = usize::try_from(self.num_aux).ok()?;
        self.aux.get(..count)
    }

    /// The measured REC parameters of B4.3.12.4, input of B3.45 RimExtendRec: flags, pc and
    /// gprs. `flags` is copied whole, reserved bits included (as TF-RMM).
    pub fn measured(&self) -> MeasuredRecParams {
        MeasuredRecParams {
            flags: self.flags.bits(),
            pc: self.pc,
            gprs: self.gprs,
        }
    }

    /// Encodes every field as the host would write it, unused bytes zero (for hosts and tests).
    pub fn write_to(&self, out: &mut [u8; REC_PARAMS_SIZE]) {
        out.fill(0);
        write_le(out, FLAGS, &self.flags.bits().to_le_bytes());
        write_le(out, PC, &self.pc.to_le_bytes());
        write_u64s(out, GPRS, &self.gprs);
        write_le(out, MPIDR, &self.mpidr.bits().to_le_bytes());
        write_le(out, NUM_AUX, &self.num_aux.to_le_bytes());
        write_u64s(out, AUX, &self.aux);
    }
}

/// B3.10 AuxAligned: whether every address in `aux` (the used entries, see
/// [`RecParams::aux_used`]) is granule-aligned. False is RMI_REC_CREATE `aux_align`.
pub fn aux_aligned(aux: &[u64]) -> bool {
    aux.iter().all(|addr| addr % GRANULE_SIZE == 0)
}

/// B3.9 AuxAlias: whether two addresses in `aux` (the used entries) are equal, or one equals the
/// REC's address `rec`. True is RMI_REC_CREATE `aux_alias`.
pub fn aux_alias(rec: u64, aux: &[u64]) -> bool {
    let mut rest = aux;
    while let Some((&addr, later)) = rest.split_first() {
        if addr == rec || later.contains(&addr) {
            return true;
        }
        rest = later;
    }
    false
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn put_u64(page: &mut [u8], offset: usize, value: u64) {
        page[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
    }

    /// Every field set at its B4.4.19 offset (literal, not the module's constants).
    fn page() -> [u8; 4096] {
        let mut p = [0u8; 4096];
        put_u64(&mut p, 0x0, 1);
        put_u64(&mut p, 0x100, 0x0302_0105);
        put_u64(&mut p, 0x200, 0x8008_0000);
        for i in 0..8 {
            put_u64(&mut p, 0x300 + 8 * i, 0x1000 + i as u64);
        }
        put_u64(&mut p, 0x800, 16);
        for i in 0..16 {
            put_u64(&mut p, 0x808 + 8 * i, 0x9000_0000 + 0x1000 * i as u64);
        }
        p
    }

    #[test]
    fn parse_reads_every_field_at_its_offset() {
        let p = RecParams::parse(&page());
        assert_eq!(p.flags.bits(), 1);
        assert_eq!(p.flags.runnable(), Runnable::Runnable);
        assert_eq!(p.mpidr.bits(), 0x0302_0105);
        assert_eq!(p.mpidr.rec_index(), 5 + 16 + 2 * 4096 + 3 * 1_048_576);
        assert_eq!(p.pc, 0x8008_0000);
        assert_eq!(p.gprs, core::array::from_fn(|i| 0x1000 + i as u64));
        assert_eq!(p.num_aux, 16);
        assert_eq!(
            p.aux,
            core::array::from_fn(|i| 0x9000_0000 + 0x1000 * i as u64)
        );
    }

    #[test]
    fn sbz_bytes_are_ignored_but_flags_are_kept_raw() {
        let mut dirty = [0xffu8; 4096];
        let clean = page();
        for offset in [0x0, 0x100, 0x200] {
            dirty[offset..offset + 8].copy_from_slice(&clean[offset..offset + 8]);
        }
        dirty[0x300..0x340].copy_from_slice(&clean[0x300..0x340]);
        dirty[0x800..0x888].copy_from_slice(&clean[0x800..0x888]);
        put_u64(&mut dirty, 0x0, 0xffff_fffe);
        let p = RecParams::parse(&dirty);
        assert_eq!(p.flags.runnable(), Runnable::NotRunnable);
        assert_eq!(p.flags.reserved(), 0xffff_fffe);
        assert_eq!(
            p,
            RecParams {
                flags: RecCreateFlags::from_bits(0xffff_fffe),
                ..RecParams::parse(&clean)
            }
        );
    }

    #[test]
    fn zero_page_parses() {
        let p = RecParams::parse(&[0; 4096]);
        assert_eq!(p.flags.runnable(), Runnable::NotRunnable);
        assert_eq!(p.aux_used(), Some(&[][..]));
    }

    #[test]
    fn aux_used_is_the_first_num_aux_entries() {
        let mut p = RecParams::parse(&page());
        assert_eq!(p.aux_used().map(<[u64]>::len), Some(16));
        p.num_aux = 3;
        assert_eq!(p.aux_used(), Some(&p.aux[..3]));
        p.num_aux = 17;
        assert_eq!(p.aux_used(), None);
        p.num_aux = u64::MAX;
        assert_eq!(p.aux_used(), None);
    }

    #[test]
    fn aux_aligned_checks_every_used_entry() {
        assert!(aux_aligned(&[]));
        assert!(aux_aligned(&[0x1000, 0x2000]));
        assert!(!aux_aligned(&[0x1000, 0x2008]));
        assert!(!aux_aligned(&[0x800]));
    }

    #[test]
    fn aux_alias_finds_duplicates_and_the_rec() {
        assert!(!aux_alias(0x5000, &[]));
        assert!(!aux_alias(0x5000, &[0x1000, 0x2000, 0x3000]));
        assert!(aux_alias(0x5000, &[0x1000, 0x5000]));
        assert!(aux_alias(0x5000, &[0x3000, 0x1000, 0x3000]));
        assert!(aux_alias(0x5000, &[0x1000, 0x1000]));
    }

    #[test]
    fn measured_params_are_the_b4_3_12_4_fields() {
        let mut p = RecParams::parse(&page());
        p.flags = RecCreateFlags::from_bits(1 | 1 << 9);
        let m = p.measured();
        assert_eq!(m.flags, 1 | 1 << 9);
        assert!(m.is_runnable());
        assert_eq!(m.pc, 0x8008_0000);
        assert_eq!(m.gprs, core::array::from_fn(|i| 0x1000 + i as u64));
    }

    #[test]
    fn write_to_is_the_inverse_of_parse() {
        let mut out = [0xaau8; 4096];
        RecParams::parse(&page()).write_to(&mut out);
        assert_eq!(out, page());
    }
}
