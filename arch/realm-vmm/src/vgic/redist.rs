//! The redistributors (12.10, 12.11): one RD_base + SGI_base frame pair per vCPU, at
//! `GICR_BASE + i * GICR_STRIDE` for vCPU `i`; frames past the last vCPU are RAZ/WI. No LPIs:
//! GICR_CTLR, GICR_STATUSR, GICR_PROPBASER, GICR_PENDBASER and the LPI registers read as zero;
//! GICR_IGRPMODR0 and GICR_NSACR are RAZ/WI (DS == 1).

use super::dist::{word_or_priority_byte, IIDR_VALUE, PIDR2_VALUE};
use super::irq::{self, SGI_MASK};
use super::Vgic;
use crate::layout::GICR_STRIDE;

/// The SGI_base frame's offset in a redistributor.
const SGI_BASE: u64 = 0x1_0000;

// RD_base registers (12.10).
const IIDR: u64 = 0x0004;
const TYPER: u64 = 0x0008;
const WAKER: u64 = 0x0014;
const PIDR2: u64 = 0xffe8;

// SGI_base registers (12.11), relative to SGI_base.
const IPRIORITYR_END: u64 = irq::IPRIORITYR + 32;
const ICFGR0: u64 = irq::ICFGR;
const ICFGR1: u64 = irq::ICFGR + 4;

/// GICR_WAKER.ProcessorSleep (12.10.30).
const WAKER_SLEEP: u32 = 1 << 1;
/// GICR_WAKER.ChildrenAsleep: follows ProcessorSleep at once.
const WAKER_ASLEEP: u32 = 1 << 2;
/// GICR_TYPER.Last (12.10.29).
const TYPER_LAST: u64 = 1 << 4;

impl Vgic {
    /// GICR_TYPER of vCPU `vcpu`: Affinity_Value (63:32) its MPIDR affinity, Processor_Number
    /// (23:8) its index, Last on the last one; PPInum 0 (16 PPIs), no PLPIS, VLPIS, DirectLPI.
    pub(super) fn gicr_typer(&self, vcpu: usize) -> u64 {
        let m = self.mpidr[vcpu];
        let aff = (m >> 32 & 0xff) << 24 | (m & 0xff_ffff);
        let last = if vcpu + 1 == self.nr_vcpus {
            TYPER_LAST
        } else {
            0
        };
        aff << 32 | (vcpu as u64) << 8 | last
    }

    pub(super) fn redist_read(&self, offset: u64, size: usize) -> u64 {
        let (vcpu, off) = split(offset);
        if vcpu >= self.nr_vcpus {
            return 0;
        }
        if off & !7 == TYPER {
            // 64-bit, or either 32-bit half.
            return match size {
                8 => self.gicr_typer(vcpu),
                4 => self.gicr_typer(vcpu) >> (8 * (off % 8)) & 0xffff_ffff,
                _ => 0,
            };
        }
        if off < SGI_BASE {
            let v = match (off, size) {
                (IIDR, 4) => IIDR_VALUE,
                (WAKER, 4) => self.gicr_waker(vcpu),
                (PIDR2, 4) => PIDR2_VALUE,
                _ => 0,
            };
            return v.into();
        }
        let off = off - SGI_BASE;
        if !word_or_priority_byte(off, size) {
            return 0;
        }
        let bank = &self.cpus[vcpu].private;
        let v = match off {
            irq::IGROUPR
            | irq::ISENABLER
            | irq::ICENABLER
            | irq::ISPENDR
            | irq::ICPENDR
            | irq::ISACTIVER
            | irq::ICACTIVER => bank.read_bits(off),
            irq::IPRIORITYR..IPRIORITYR_END => {
                bank.read_priority((off - irq::IPRIORITYR) as usize, size)
            }
            ICFGR0 => bank.read_icfgr(0),
            ICFGR1 => bank.read_icfgr(1),
            _ => 0,
        };
        v.into()
    }

    /// A redistributor write; returns the vCPUs to kick (the frame's, if one of its SGIs or
    /// PPIs became deliverable).
    pub(super) fn redist_write(&mut self, offset: u64, size: usize, value: u64) -> u64 {
        let (vcpu, off) = split(offset);
        if vcpu >= self.nr_vcpus {
            return 0;
        }
        let value = value as u32;
        if off < SGI_BASE {
            if (off, size) == (WAKER, 4) {
                self.cpus[vcpu].sleep = value & WAKER_SLEEP != 0;
            }
            return 0;
        }
        let off = off - SGI_BASE;
        if !word_or_priority_byte(off, size) {
            return 0;
        }
        let before = self.cpus[vcpu].private.deliverable(self.ctlr);
        let bank = &mut self.cpus[vcpu].private;
        match off {
            irq::IGROUPR
            | irq::ISENABLER
            | irq::ICENABLER
            | irq::ISPENDR
            | irq::ICPENDR
            | irq::ISACTIVER
            | irq::ICACTIVER => bank.write_bits(off, value, u32::MAX),
            irq::IPRIORITYR..IPRIORITYR_END => {
                bank.write_priority((off - irq::IPRIORITYR) as usize, size, value)
            }
            // SGIs are edge-triggered: Int_config RAO/WI for them.
            ICFGR0 => {}
            ICFGR1 => bank.write_icfgr(1, value, !SGI_MASK),
            _ => {}
        }
        self.kick_if_new(vcpu, before)
    }

    /// GICR_WAKER: ProcessorSleep as written, ChildrenAsleep equal to it (the handshake of
    /// 12.10.30 completes at once). It does not gate delivery: a virtual CPU interface has no
    /// power state to manage.
    fn gicr_waker(&self, vcpu: usize) -> u32 {
        if self.cpus[vcpu].sleep {
            WAKER_SLEEP | WAKER_ASLEEP
        } else {
            0
        }
    }
}

/// The redistributor (frame index) and offset in its frame pair of a GICR region offset.
fn split(offset: u64) -> (usize, u64) {
    ((offset / GICR_STRIDE) as usize, offset % GICR_STRIDE)
}
