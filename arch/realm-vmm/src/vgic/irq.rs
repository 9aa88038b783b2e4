//! The state of 32 interrupts (one register's worth), and the register views the distributor
//! (SPIs) and the redistributors' SGI frames (SGIs, PPIs) share: `GICD_IGROUPR<n>`,
//! `GICD_I[SC]ENABLER<n>`, `GICD_I[SC]PENDR<n>`, `GICD_I[SC]ACTIVER<n>` (12.9.15-12.9.21),
//! `GICD_IPRIORITYR<n>` (12.9.18), `GICD_ICFGR<n>` (12.9.9) and their GICR_*0 forms (12.11).

/// GICD_CTLR.EnableGrp0 (12.9.4, DS == 1).
pub(super) const CTLR_GRP0: u32 = 1 << 0;
/// GICD_CTLR.EnableGrp1.
pub(super) const CTLR_GRP1: u32 = 1 << 1;
/// INTIDs 0-15 of a private bank: SGIs, always edge-triggered.
pub(super) const SGI_MASK: u32 = 0xffff;
/// Priority bits implemented: 5 (32 levels), the low 3 RAZ/WI (12.9.18), so that every priority
/// is valid in an LR for a virtual CPU interface with ICH_VTR_EL2.PRIbits == 4 (5 bits).
pub(super) const PRIORITY_MASK: u8 = 0xf8;

/// Offsets of the one-bit-per-INTID registers (same in GICD and in GICR's SGI frame).
pub(super) const IGROUPR: u64 = 0x080;
pub(super) const ISENABLER: u64 = 0x100;
pub(super) const ICENABLER: u64 = 0x180;
pub(super) const ISPENDR: u64 = 0x200;
pub(super) const ICPENDR: u64 = 0x280;
pub(super) const ISACTIVER: u64 = 0x300;
pub(super) const ICACTIVER: u64 = 0x380;
/// End of those registers, start of IPRIORITYR.
pub(super) const IPRIORITYR: u64 = 0x400;
pub(super) const ICFGR: u64 = 0xc00;

/// 32 interrupts: one bit each in every mask, bit `i` for INTID `base + i`.
#[derive(Clone, Copy)]
pub(super) struct Bank {
    /// IGROUPR: 1 = Group 1.
    pub(super) group: u32,
    pub(super) enabled: u32,
    /// Pending latch: an edge seen, or ISPENDR.
    pub(super) latch: u32,
    /// Input line level.
    pub(super) line: u32,
    /// Active: mirrors the list register for an interrupt in one (as of the last sync),
    /// otherwise ISACTIVER/ICACTIVER.
    pub(super) active: u32,
    /// ICFGR: 1 = edge-triggered.
    pub(super) edge: u32,
    /// In a list register of the vCPU it was given to.
    pub(super) in_lr: u32,
    /// In a list register that holds it pending (as of the last sync or fill).
    pub(super) lr_pending: u32,
    /// ICPENDR / ICACTIVER written while in a list register: applied at the next fill.
    pub(super) cancel_pending: u32,
    pub(super) cancel_active: u32,
    pub(super) priority: [u8; 32],
}

impl Bank {
    /// Reset state: Group 0, disabled, idle, priority 0; `edge` are the edge-triggered ones.
    pub(super) const fn new(edge: u32) -> Self {
        Bank {
            group: 0,
            enabled: 0,
            latch: 0,
            line: 0,
            active: 0,
            edge,
            in_lr: 0,
            lr_pending: 0,
            cancel_pending: 0,
            cancel_active: 0,
            priority: [0; 32],
        }
    }

    /// Pending in the model (4.1.2): latched, or level-sensitive with the line high.
    pub(super) fn pending(&self) -> u32 {
        self.latch | (self.line & !self.edge)
    }

    /// The interrupts whose group GICD_CTLR `ctlr` enables.
    pub(super) fn group_enabled(&self, ctlr: u32) -> u32 {
        let g1 = if ctlr & CTLR_GRP1 != 0 { self.group } else { 0 };
        let g0 = if ctlr & CTLR_GRP0 != 0 {
            !self.group
        } else {
            0
        };
        g1 | g0
    }

    /// Interrupts to put in a list register: pending, enabled, group enabled, neither active
    /// nor in a list register already.
    pub(super) fn deliverable(&self, ctlr: u32) -> u32 {
        self.pending() & self.enabled & self.group_enabled(ctlr) & !self.active & !self.in_lr
    }

    /// Sets the input line of the interrupts in `bits`: a rising edge latches an edge-triggered
    /// one.
    pub(super) fn set_line(&mut self, bits: u32, level: bool) {
        if level {
            self.latch |= bits & self.edge & !self.line;
            self.line |= bits;
        } else {
            self.line &= !bits;
        }
    }

    /// Reads one of the one-bit-per-INTID registers (`reg` its base offset).
    pub(super) fn read_bits(&self, reg: u64) -> u32 {
        match reg {
            IGROUPR => self.group,
            ISENABLER | ICENABLER => self.enabled,
            ISPENDR | ICPENDR => self.pending() | self.lr_pending,
            ISACTIVER | ICACTIVER => self.active,
            _ => 0,
        }
    }

    /// Writes one of them; only the `writable` bits are affected.
    pub(super) fn write_bits(&mut self, reg: u64, value: u32, writable: u32) {
        let v = value & writable;
        match reg {
            IGROUPR => self.group = (self.group & !writable) | v,
            ISENABLER => self.enabled |= v,
            ICENABLER => self.enabled &= !v,
            ISPENDR => self.latch |= v,
            ICPENDR => {
                // A level-sensitive interrupt stays pending while its line is high.
                self.latch &= !v;
                self.cancel_pending |= v & self.lr_pending;
                self.lr_pending &= !v;
            }
            // Setting an interrupt active that a list register holds is not supported: ignored.
            ISACTIVER => self.active |= v & !self.in_lr,
            ICACTIVER => {
                self.cancel_active |= v & self.in_lr & self.active;
                self.active &= !v;
            }
            _ => {}
        }
    }

    /// Reads `size` (1 or 4) priority bytes from byte `byte` of the bank.
    pub(super) fn read_priority(&self, byte: usize, size: usize) -> u32 {
        (0..size).fold(0, |v, i| v | u32::from(self.priority[byte + i]) << (8 * i))
    }

    pub(super) fn write_priority(&mut self, byte: usize, size: usize, value: u32) {
        for i in 0..size {
            self.priority[byte + i] = (value >> (8 * i)) as u8 & PRIORITY_MASK;
        }
    }

    /// Reads ICFGR half `half` (INTIDs 16 * half + 0..16 of the bank): `Int_config[1]` (bit
    /// 2k + 1) is 1 for edge-triggered, `Int_config[0]` is RES0.
    pub(super) fn read_icfgr(&self, half: usize) -> u32 {
        let edge = self.edge >> (16 * half);
        (0..16)
            .filter(|k| edge & 1 << k != 0)
            .fold(0, |v, k| v | 2 << (2 * k))
    }

    /// Writes ICFGR half `half`; only the `writable` bits of the bank change.
    pub(super) fn write_icfgr(&mut self, half: usize, value: u32, writable: u32) {
        let edge = (0..16)
            .filter(|k| value & 2 << (2 * k) != 0)
            .fold(0u32, |e, k| e | 1 << (16 * half + k));
        let mask = writable & (0xffff << (16 * half));
        self.edge = (self.edge & !mask) | (edge & mask);
    }
}
