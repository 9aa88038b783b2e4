//! The distributor, GICD (12.9), with GICD_CTLR.DS == 1 and ARE == 1: the SPIs' state and
//! routing. The SGI and PPI parts of its registers (INTIDs 0-31) are RAZ/WI with affinity
//! routing (12.9: they live in the redistributors), and so are `GICD_ITARGETSR<n>`,
//! GICD_SGIR, `GICD_CPENDSGIR<n>` and `GICD_SPENDSGIR<n>`; `GICD_IGRPMODR<n>` and
//! `GICD_NSACR<n>` are RAZ/WI with DS == 1; GICD_STATUSR, GICD_SETSPI_* and GICD_CLRSPI_* (no
//! MBIs) read as zero too.

use super::irq::{self, CTLR_GRP0, CTLR_GRP1};
use super::{Vgic, SPIS, SPI_BANKS};
use crate::layout::{SPI_BASE, SPI_COUNT};

const CTLR: u64 = 0x0000;
const TYPER: u64 = 0x0004;
const IIDR: u64 = 0x0008;
const TYPER2: u64 = 0x000c;
const ICFGR_END: u64 = 0xd00;
const IROUTER: u64 = 0x6000;
const PIDR2: u64 = 0xffe8;

/// GICD_CTLR.ARE (12.9.4, DS == 1): RAO/WI.
const CTLR_ARE: u32 = 1 << 4;
/// GICD_CTLR.DS: RAO/WI, a single Security state.
const CTLR_DS: u32 = 1 << 6;

/// GICD_IIDR / GICR_IIDR (12.9.14): implementer Arm (JEP106 0x43b), product 0, revision 0
/// (matches none of Linux's GICv3 quirks, which key on the IIDR).
pub(super) const IIDR_VALUE: u32 = 0x0000_043b;
/// GICD_PIDR2 / GICR_PIDR2 (12.1.13): ArchRev 3 (GICv3) in bits 7:4, JEP106 bits 0xb.
pub(super) const PIDR2_VALUE: u32 = 0x3b;

/// `GICD_IROUTER<n>`.Interrupt_Routing_Mode (12.9.22): 1 = any participating PE.
pub(super) const IROUTER_IRM: u64 = 1 << 31;
/// `GICD_IROUTER<n>` bits that hold state: Aff3, IRM, Aff2, Aff1, Aff0.
const IROUTER_MASK: u64 = super::AFF_MASK | IROUTER_IRM;

/// GICD_TYPER (12.9.38) fields.
const TYPER_IDBITS: u32 = 9 << 19; // 10 INTID bits
const TYPER_A3V: u32 = 1 << 24; // Aff3 routing
const TYPER_RSS: u32 = 1 << 26; // SGI targets Aff0 0-255 (ICC_SGI1R_EL1.RS)

impl Vgic {
    /// GICD_TYPER: ITLinesNumber, CPUNumber, IDbits, A3V and RSS; no LPIs, MBIs, ESPIs,
    /// SecurityExtn (DS == 1) nor 1-of-N opt-out (No1N == 0: IRM == 1 is supported).
    pub(super) fn gicd_typer(&self) -> u32 {
        let it_lines = (SPI_COUNT + SPI_BASE) / 32 - 1;
        let cpus = self.nr_vcpus.min(8) as u32 - 1;
        TYPER_RSS | TYPER_A3V | TYPER_IDBITS | cpus << 5 | it_lines
    }

    pub(super) fn dist_read(&self, offset: u64, size: usize) -> u64 {
        if let Some(spi) = irouter_spi(offset) {
            // 64-bit, or either 32-bit half.
            return match size {
                8 => self.irouter[spi],
                4 => self.irouter[spi] >> (8 * (offset % 8)) & 0xffff_ffff,
                _ => 0,
            };
        }
        if !word_or_priority_byte(offset, size) {
            return 0;
        }
        let v = match offset {
            CTLR => self.ctlr | CTLR_ARE | CTLR_DS,
            TYPER => self.gicd_typer(),
            IIDR => IIDR_VALUE,
            TYPER2 => 0,
            PIDR2 => PIDR2_VALUE,
            irq::IGROUPR..irq::IPRIORITYR => match bits_reg(offset) {
                Some((reg, k)) => self.spis[k].read_bits(reg),
                None => 0,
            },
            irq::IPRIORITYR..irq::ICFGR => match priority_byte(offset) {
                Some((k, byte)) => self.spis[k].read_priority(byte, size),
                None => 0,
            },
            irq::ICFGR..ICFGR_END => match icfgr_half(offset) {
                Some((k, half)) => self.spis[k].read_icfgr(half),
                None => 0,
            },
            _ => 0,
        };
        v.into()
    }

    /// A distributor write; returns the vCPUs to kick.
    pub(super) fn dist_write(&mut self, offset: u64, size: usize, value: u64) -> u64 {
        if let Some(spi) = irouter_spi(offset) {
            return if size >= 4 {
                self.write_irouter(spi, offset, size, value)
            } else {
                0
            };
        }
        if !word_or_priority_byte(offset, size) {
            return 0;
        }
        let value = value as u32;
        if offset == CTLR {
            return self.write_ctlr(value);
        }
        let before = self.spi_deliverable();
        match offset {
            irq::IGROUPR..irq::IPRIORITYR => {
                if let Some((reg, k)) = bits_reg(offset) {
                    self.spis[k].write_bits(reg, value, u32::MAX);
                }
            }
            irq::IPRIORITYR..irq::ICFGR => {
                if let Some((k, byte)) = priority_byte(offset) {
                    self.spis[k].write_priority(byte, size, value);
                }
            }
            irq::ICFGR..ICFGR_END => {
                if let Some((k, half)) = icfgr_half(offset) {
                    self.spis[k].write_icfgr(half, value, u32::MAX);
                }
            }
            _ => {}
        }
        self.kick_new_spis(&before)
    }

    /// GICD_CTLR: EnableGrp0 and EnableGrp1 hold state; enabling a group may make SPIs and
    /// every vCPU's SGIs and PPIs deliverable.
    fn write_ctlr(&mut self, value: u32) -> u64 {
        let old = self.ctlr;
        self.ctlr = value & (CTLR_GRP0 | CTLR_GRP1);
        if self.ctlr & !old == 0 {
            return 0;
        }
        (0..self.nr_vcpus)
            .filter(|&v| self.best_candidate(v).is_some())
            .fold(0, |k, v| k | 1 << v)
    }

    fn write_irouter(&mut self, spi: usize, offset: u64, size: usize, value: u64) -> u64 {
        let new = match (size, offset % 8) {
            (8, _) => value,
            (_, 0) => self.irouter[spi] & !0xffff_ffff | value,
            _ => self.irouter[spi] & 0xffff_ffff | value << 32,
        };
        self.irouter[spi] = new & IROUTER_MASK;
        let old = self.target[spi];
        self.target[spi] = self.route(self.irouter[spi]);
        let new = self.target[spi];
        let deliverable = self.spis[spi / 32].deliverable(self.ctlr) & 1 << (spi % 32) != 0;
        if new != old && new != super::NO_TARGET && deliverable {
            1 << new
        } else {
            0
        }
    }
}

/// 32-bit accesses to any register, byte accesses to `GICD_IPRIORITYR<n>` (12.1.3).
pub(super) fn word_or_priority_byte(offset: u64, size: usize) -> bool {
    size == 4 || size == 1 && (irq::IPRIORITYR..irq::ICFGR).contains(&offset)
}

/// A one-bit-per-INTID register at `offset`: its base offset and SPI bank (register 0, the
/// SGIs and PPIs, and registers past the SPIs are RAZ/WI: None).
fn bits_reg(offset: u64) -> Option<(u64, usize)> {
    let n = (offset % 0x80 / 4) as usize;
    (1..=SPI_BANKS)
        .contains(&n)
        .then(|| (offset & !0x7f, n - 1))
}

/// The SPI bank and byte in it of GICD_IPRIORITYR byte `offset`.
fn priority_byte(offset: u64) -> Option<(usize, usize)> {
    let intid = (offset - irq::IPRIORITYR) as usize;
    let spi = intid.checked_sub(SPI_BASE as usize).filter(|&s| s < SPIS)?;
    Some((spi / 32, spi % 32))
}

/// The SPI bank and half of `GICD_ICFGR<n>` at `offset` (16 INTIDs per register).
fn icfgr_half(offset: u64) -> Option<(usize, usize)> {
    let intid = ((offset - irq::ICFGR) / 4 * 16) as usize;
    let spi = intid.checked_sub(SPI_BASE as usize).filter(|&s| s < SPIS)?;
    Some((spi / 32, spi % 32 / 16))
}

/// The SPI (0-based) of the `GICD_IROUTER<n>` at `offset` (either half).
fn irouter_spi(offset: u64) -> Option<usize> {
    let intid = (offset.checked_sub(IROUTER)? / 8) as usize;
    intid.checked_sub(SPI_BASE as usize).filter(|&s| s < SPIS)
}
