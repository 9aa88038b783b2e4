//! The guest's GICv3 (Arm IHI 0069H): the distributor (12.9), one redistributor per vCPU
//! (12.10, 12.11) and each vCPU's list registers (`ICH_LR<n>_EL2`, 12.5), as plain logic.
//!
//! What the guest finds: a GICv3 with a single Security state (GICD_CTLR.DS RAO), affinity
//! routing always on (ARE RAO/WI), [`SPI_COUNT`] SPIs, no LPIs, no ITS, no MBIs, 32 priority
//! levels (5 bits, the fewest a virtual CPU interface implements: every priority fits an LR). Its
//! CPU interface (ICC_*) is the hardware's virtual one; the VMM only forwards the ICC_SGI1R_EL1
//! writes that reach it as REC exits ([`Vgic::sgi`]).
//!
//! The VMM keeps the whole `Vgic` behind one lock and, for vCPU `v`:
//! - at each REC exit: [`Vgic::sync`] with `exit.gicv3_lrs`, then [`Vgic::set_ppi_level`] with
//!   the exit's timer states, then handles the exit ([`Vgic::read`] / [`Vgic::write`] for MMIO in
//!   a [`Region`], [`Vgic::sgi`] for ICC_SGI1R_EL1, [`Vgic::pending`] for WFI);
//! - before each REC entry: [`Vgic::fill`] into `enter.gicv3_lrs` and `enter.gicv3_hcr`;
//! - from device models: [`Vgic::set_spi_level`].
//!
//! Every call that can make an interrupt deliverable returns the vCPUs that may now have one
//! (an [`Effect`] or a bitmap): the VMM kicks the physical CPUs running them out of the realm.
//! [`Vgic::fill`] also asks for maintenance interrupts (ICH_HCR_EL2.UIE, [`LR_EOI`]): they
//! become REC exits only if the VMM has the GIC maintenance interrupt (PPI 25) enabled on its
//! physical CPUs.
//!
//! Limits: at most [`MAX_VCPUS`] (64) vCPUs (vCPU sets are `u64` bitmaps), [`MAX_LRS`] (16) list
//! registers, SPI_COUNT a multiple of 32. State: about 200 bytes per vCPU, fixed arrays.

mod dist;
mod irq;
mod lr;
mod redist;
mod sgi;

use crate::layout::{self, GICD_BASE, GICD_SIZE, GICR_BASE, GICR_STRIDE, SPI_BASE, SPI_COUNT};
use irq::Bank;
pub use lr::{
    HCR_HOST_BITS, HCR_NPIE, HCR_UIE, LR_ACTIVE, LR_EOI, LR_GROUP1, LR_PENDING, LR_PRIORITY_SHIFT,
};

/// Most vCPUs the model holds: vCPU sets are `u64` bitmaps (bit `i` is vCPU `i`).
pub const MAX_VCPUS: usize = 64;
/// Most list registers per vCPU (ICH_VTR_EL2.ListRegs is 4 bits: 12.5.26).
pub const MAX_LRS: usize = 16;

const SPIS: usize = SPI_COUNT as usize;
/// Banks of 32 SPIs (one 32-bit register's worth each).
const SPI_BANKS: usize = SPIS / 32;
/// `target` of an SPI routed to no vCPU.
const NO_TARGET: u8 = u8::MAX;
/// The affinity fields of MPIDR_EL1 and `GICD_IROUTER<n>` (same positions): Aff3 39:32, Aff2,
/// Aff1, Aff0 23:0.
const AFF_MASK: u64 = 0xff_00ff_ffff;

const _: () = assert!(SPI_COUNT.is_multiple_of(32) && SPI_COUNT > 0 && SPI_COUNT <= 988);
const _: () = assert!(MAX_VCPUS <= layout::MAX_VCPUS);

/// What the VMM must act on after a call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Effect {
    /// vCPUs that may now have a deliverable interrupt (bit `i`: vCPU `i`): the VMM makes the
    /// ones running exit (and wakes the ones waiting in WFI). May include the caller's vCPU.
    pub kick: u64,
}

/// The two MMIO regions of the GIC in the guest's IPA space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// GICD, offsets from `GICD_BASE`.
    Distributor,
    /// The GICR frames, offsets from `GICR_BASE`: frame `offset / GICR_STRIDE` is vCPU
    /// `offset / GICR_STRIDE`'s redistributor.
    Redistributors,
}

impl Region {
    /// The region and offset an IPA falls in (Protected or Unprotected alias), if any.
    pub fn decode(ipa: u64) -> Option<(Region, u64)> {
        let ipa = ipa & !layout::UNPROTECTED_BIT;
        if (GICD_BASE..GICD_BASE + GICD_SIZE).contains(&ipa) {
            Some((Region::Distributor, ipa - GICD_BASE))
        } else if (GICR_BASE..GICR_BASE + layout::MAX_VCPUS as u64 * GICR_STRIDE).contains(&ipa) {
            Some((Region::Redistributors, ipa - GICR_BASE))
        } else {
            None
        }
    }
}

/// One vCPU's private state: its SGIs and PPIs, its redistributor, its list registers.
#[derive(Clone, Copy)]
struct Cpu {
    /// INTIDs 0-31.
    private: Bank,
    /// GICR_WAKER.ProcessorSleep.
    sleep: bool,
    /// The list registers as of the last sync (or fill): invalid entries are 0.
    lrs: [u64; MAX_LRS],
}

/// The guest's GICv3: distributor, redistributors and list-register scheduling for up to
/// [`MAX_VCPUS`] vCPUs.
pub struct Vgic {
    nr_vcpus: usize,
    /// Each vCPU's MPIDR_EL1 affinity (`AFF_MASK` bits).
    mpidr: [u64; MAX_VCPUS],
    /// vCPUs on (PSCI): candidates for IRM == 1 SPIs.
    online: u64,
    /// GICD_CTLR.EnableGrp0 (bit 0) and EnableGrp1 (bit 1).
    ctlr: u32,
    /// SPIs 32.., 32 per bank.
    spis: [Bank; SPI_BANKS],
    /// `GICD_IROUTER<n>` of each SPI (Aff3-0 and IRM).
    irouter: [u64; SPIS],
    /// The vCPU each SPI goes to, from `irouter` (`NO_TARGET`: no vCPU has that affinity).
    target: [u8; SPIS],
    cpus: [Cpu; MAX_VCPUS],
}

impl Vgic {
    /// A GIC in its reset state for vCPUs with these MPIDR_EL1 values (vCPU `i` has
    /// `mpidrs[i]`; only the affinity fields count). vCPU 0 is online.
    ///
    /// # Panics
    /// If there are no vCPUs, more than [`MAX_VCPUS`], or two with the same affinity.
    pub fn new(mpidrs: &[u64]) -> Self {
        assert!(
            !mpidrs.is_empty() && mpidrs.len() <= MAX_VCPUS,
            "vgic: 1 to 64 vCPUs"
        );
        let mut mpidr = [0; MAX_VCPUS];
        for (i, &m) in mpidrs.iter().enumerate() {
            assert!(
                mpidrs[..i].iter().all(|&o| o & AFF_MASK != m & AFF_MASK),
                "vgic: two vCPUs with one affinity"
            );
            mpidr[i] = m & AFF_MASK;
        }
        let cpu = Cpu {
            private: Bank::new(irq::SGI_MASK),
            sleep: true,
            lrs: [0; MAX_LRS],
        };
        let mut vgic = Vgic {
            nr_vcpus: mpidrs.len(),
            mpidr,
            online: 1,
            ctlr: 0,
            spis: [Bank::new(0); SPI_BANKS],
            irouter: [0; SPIS],
            target: [NO_TARGET; SPIS],
            cpus: [cpu; MAX_VCPUS],
        };
        for spi in 0..SPIS {
            vgic.target[spi] = vgic.route(0);
        }
        vgic
    }

    /// The number of vCPUs.
    pub fn nr_vcpus(&self) -> usize {
        self.nr_vcpus
    }

    /// Marks a vCPU on or off (PSCI CPU_ON / CPU_OFF): SPIs with `GICD_IROUTER<n>`.IRM == 1 go to
    /// the lowest-numbered online vCPU (vCPU 0 if none is).
    pub fn set_online(&mut self, vcpu: usize, on: bool) -> Effect {
        assert!(vcpu < self.nr_vcpus);
        if on {
            self.online |= 1 << vcpu;
        } else {
            self.online &= !(1 << vcpu);
        }
        // An IRM SPI that moved is news to its new vCPU.
        let mut kick = 0;
        for spi in 0..SPIS {
            let old = self.target[spi];
            self.target[spi] = self.route(self.irouter[spi]);
            let bit = 1 << (spi % 32);
            let new = self.target[spi];
            if new != old
                && new != NO_TARGET
                && self.spis[spi / 32].deliverable(self.ctlr) & bit != 0
            {
                kick |= 1 << new;
            }
        }
        Effect { kick }
    }

    /// Drives SPI `intid`'s input line (a device's interrupt output). An edge-triggered SPI
    /// latches pending on a rising edge; a level-sensitive one is pending while the line is high.
    /// Other INTIDs are ignored.
    pub fn set_spi_level(&mut self, intid: u32, level: bool) -> Effect {
        let Some(spi) = intid.checked_sub(SPI_BASE).filter(|&s| s < SPI_COUNT) else {
            return Effect::default();
        };
        let before = self.spi_deliverable();
        let spi = spi as usize;
        self.spis[spi / 32].set_line(1 << (spi % 32), level);
        Effect {
            kick: self.kick_new_spis(&before),
        }
    }

    /// Drives PPI `intid` (16-31) of `vcpu` (the EL1 timers: the VMM gives each REC exit's timer
    /// state). Other INTIDs are ignored.
    pub fn set_ppi_level(&mut self, vcpu: usize, intid: u32, level: bool) -> Effect {
        assert!(vcpu < self.nr_vcpus);
        if !(16..32).contains(&intid) {
            return Effect::default();
        }
        let bank = &mut self.cpus[vcpu].private;
        let before = bank.deliverable(self.ctlr);
        bank.set_line(1 << intid, level);
        Effect {
            kick: self.kick_if_new(vcpu, before),
        }
    }

    /// An emulated MMIO read of `size` bytes (1, 2, 4 or 8) at `offset` in `region`. Registers
    /// read as the architecture defines; unknown offsets and sizes or alignments a register does
    /// not support read as zero.
    pub fn read(&self, region: Region, offset: u64, size: usize) -> u64 {
        if !valid_access(offset, size) {
            return 0;
        }
        match region {
            Region::Distributor => self.dist_read(offset, size),
            Region::Redistributors => self.redist_read(offset, size),
        }
    }

    /// An emulated MMIO write; unknown offsets and unsupported sizes are ignored.
    pub fn write(&mut self, region: Region, offset: u64, size: usize, value: u64) -> Effect {
        if !valid_access(offset, size) {
            return Effect::default();
        }
        let value = if size == 8 {
            value
        } else {
            value & ((1 << (8 * size)) - 1)
        };
        let kick = match region {
            Region::Distributor => self.dist_write(offset, size, value),
            Region::Redistributors => self.redist_write(offset, size, value),
        };
        Effect { kick }
    }

    /// The vCPU whose affinity is `aff` (`AFF_MASK` bits).
    fn vcpu_of(&self, aff: u64) -> Option<usize> {
        self.mpidr[..self.nr_vcpus].iter().position(|&m| m == aff)
    }

    /// Where an SPI with this `GICD_IROUTER<n>` goes (12.9.22).
    fn route(&self, irouter: u64) -> u8 {
        if irouter & dist::IROUTER_IRM != 0 {
            let online = self.online & (u64::MAX >> (64 - self.nr_vcpus));
            return if online == 0 {
                0
            } else {
                online.trailing_zeros() as u8
            };
        }
        self.vcpu_of(irouter & AFF_MASK)
            .map_or(NO_TARGET, |v| v as u8)
    }

    /// Bits of SPI bank `bank` routed to `vcpu`.
    fn routed_to(&self, bank: usize, vcpu: usize) -> u32 {
        (0..32)
            .filter(|i| self.target[bank * 32 + i] as usize == vcpu)
            .fold(0, |m, i| m | 1 << i)
    }

    /// Deliverable SPIs, per bank (routed to some vCPU).
    fn spi_deliverable(&self) -> [u32; SPI_BANKS] {
        let mut masks = [0; SPI_BANKS];
        for (k, mask) in masks.iter_mut().enumerate() {
            *mask = self.spis[k].deliverable(self.ctlr);
            for i in 0..32 {
                if self.target[k * 32 + i] == NO_TARGET {
                    *mask &= !(1 << i);
                }
            }
        }
        masks
    }

    /// The vCPUs of SPIs deliverable now and not in `before`.
    fn kick_new_spis(&self, before: &[u32; SPI_BANKS]) -> u64 {
        let after = self.spi_deliverable();
        let mut kick = 0;
        for (k, (&a, &b)) in after.iter().zip(before).enumerate() {
            let mut new = a & !b;
            while new != 0 {
                let i = new.trailing_zeros() as usize;
                new &= new - 1;
                kick |= 1 << self.target[k * 32 + i];
            }
        }
        kick
    }

    /// `vcpu` if one of its SGIs or PPIs is deliverable now and was not in `before`.
    fn kick_if_new(&self, vcpu: usize, before: u32) -> u64 {
        let after = self.cpus[vcpu].private.deliverable(self.ctlr);
        u64::from(after & !before != 0) << vcpu
    }

    /// The bank holding `intid` for `vcpu`, and its bit there.
    fn bank_mut(&mut self, vcpu: usize, intid: u32) -> (&mut Bank, u32) {
        let bit = 1 << (intid % 32);
        if intid < SPI_BASE {
            (&mut self.cpus[vcpu].private, bit)
        } else {
            (&mut self.spis[(intid - SPI_BASE) as usize / 32], bit)
        }
    }
}

/// Naturally aligned accesses of 1, 2, 4 or 8 bytes; registers narrow this further.
fn valid_access(offset: u64, size: usize) -> bool {
    matches!(size, 1 | 2 | 4 | 8) && offset.is_multiple_of(size as u64)
}
