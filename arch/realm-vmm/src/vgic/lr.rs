//! List registers: the model's interrupts in and out of each vCPU's `ICH_LR<n>_EL2` (12.5.10),
//! through RmiRecEnter.gicv3_lrs / gicv3_hcr and RmiRecExit.gicv3_lrs (RMM spec A6.1).
//!
//! The model keeps each vCPU's list registers as of the last [`Vgic::sync`] or [`Vgic::fill`]:
//! an interrupt in one is in no other and is not offered again until the guest is done with it
//! (the LR reads back invalid: with EOImode 0 its EOI deactivates it). An edge-triggered
//! interrupt's pending latch moves into the LR; a level-sensitive one stays pending in the
//! model while its line is high, so it comes back after its EOI if the line still is.

use super::irq::Bank;
use super::{Vgic, MAX_LRS};
use crate::layout::SPI_BASE;

/// `ICH_LR<n>_EL2`.State (63:62): pending.
pub const LR_PENDING: u64 = 1 << 62;
/// `ICH_LR<n>_EL2`.State: active.
pub const LR_ACTIVE: u64 = 1 << 63;
/// `ICH_LR<n>_EL2`.Group (60): Group 1.
pub const LR_GROUP1: u64 = 1 << 60;
/// `ICH_LR<n>_EL2`.pINTID bit 41 with HW == 0, EOI: a maintenance interrupt when the guest
/// deactivates the interrupt. Set for level-sensitive SPIs, so that a line still high is
/// resampled at once (the timers' PPIs need not: the RMM exits when a timer's output changes).
pub const LR_EOI: u64 = 1 << 41;
/// `ICH_LR<n>_EL2`.Priority (55:48).
pub const LR_PRIORITY_SHIFT: u32 = 48;
const LR_STATE: u64 = LR_PENDING | LR_ACTIVE;

/// ICH_HCR_EL2.UIE (12.5.9): maintenance interrupt when at most one LR is valid.
pub const HCR_UIE: u64 = 1 << 1;
/// ICH_HCR_EL2.NPIE: maintenance interrupt when no LR is pending.
pub const HCR_NPIE: u64 = 1 << 3;
/// The ICH_HCR_EL2 bits RmiRecEnter.gicv3_hcr may set (RMM spec A6.1): UIE, LRENPIE, NPIE,
/// VGrp0EIE, VGrp0DIE, VGrp1EIE, VGrp1DIE (7:1) and TDIR (14).
pub const HCR_HOST_BITS: u64 = 0xfe | 1 << 14;

impl Vgic {
    /// Before entering `vcpu`'s REC with `lrs.len()` list registers (`enter.gicv3_lrs[..n]`,
    /// the same n each time; at most [`MAX_LRS`] are used, the rest written 0): writes every
    /// list register. Keeps the interrupts still pending or active in them since the last exit,
    /// then adds the deliverable interrupts routed to `vcpu`, highest priority first (lowest
    /// INTID on a tie), into free LRs, evicting pending-only ones of lower priority when
    /// none is free. In `hcr` sets UIE if interrupts are left over (the guest exits when the
    /// LRs drain; needs at least 2 LRs), clears it and NPIE otherwise, and clears every bit the
    /// RMM does not let the host set.
    pub fn fill(&mut self, vcpu: usize, lrs: &mut [u64], hcr: &mut u64) {
        assert!(vcpu < self.nr_vcpus);
        let n = lrs.len().min(MAX_LRS);
        for slot in 0..n {
            self.reconcile(vcpu, slot);
        }
        let mut left_over = false;
        while let Some(key) = self.best_candidate(vcpu) {
            let slot = match self.cpus[vcpu].lrs[..n].iter().position(|&lr| lr == 0) {
                Some(slot) => slot,
                None => match self.worst_pending_lr(vcpu, n) {
                    Some((slot, worst)) if worst > key => {
                        self.evict(vcpu, slot);
                        slot
                    }
                    _ => {
                        left_over = true;
                        break;
                    }
                },
            };
            self.place(vcpu, slot, key as u32);
        }
        lrs[..n].copy_from_slice(&self.cpus[vcpu].lrs[..n]);
        lrs[n..].fill(0);
        *hcr &= HCR_HOST_BITS & !(HCR_UIE | HCR_NPIE);
        if left_over {
            *hcr |= HCR_UIE;
        }
    }

    /// After a REC exit of `vcpu`, from `exit.gicv3_lrs`: an LR now invalid was completed by
    /// the guest (EOI, or DIR with EOImode 1): its interrupt leaves the LR and is idle, or
    /// pending again if it is level-sensitive and its line is still high. An LR still valid
    /// stays as it is; its active state shows in GICD/GICR_ISACTIVER. An LR whose pending state
    /// went (acknowledged) consumes a level-sensitive interrupt's ISPENDR latch. `misr`
    /// (`exit.gicv3_misr`) says why a maintenance interrupt fired; the LRs say all the model
    /// needs, so it is not used.
    pub fn sync(&mut self, vcpu: usize, lrs: &[u64], _misr: u64) {
        assert!(vcpu < self.nr_vcpus);
        for (slot, &new) in lrs.iter().take(MAX_LRS).enumerate() {
            let old = self.cpus[vcpu].lrs[slot];
            if old == 0 {
                continue;
            }
            let intid = old as u32;
            let state = if new as u32 == intid {
                new & LR_STATE
            } else {
                0
            };
            let (bank, bit) = self.bank_mut(vcpu, intid);
            if old & LR_PENDING != 0 && state & LR_PENDING == 0 && bank.edge & bit == 0 {
                bank.latch &= !bit;
            }
            track(bank, bit, state);
            self.cpus[vcpu].lrs[slot] = with_state(old, state);
        }
    }

    /// Whether `vcpu` has an interrupt to take: pending in one of its LRs, or deliverable to
    /// it. For WFI: the VMM keeps a vCPU waiting until this holds (or its timer fires). The
    /// guest's priority mask and group enables (ICH_VMCR_EL2) are not considered.
    pub fn pending(&self, vcpu: usize) -> bool {
        self.cpus[vcpu].lrs.iter().any(|lr| lr & LR_PENDING != 0)
            || self.best_candidate(vcpu).is_some()
    }

    /// The best deliverable interrupt for `vcpu` not in an LR, as `priority << 32 | intid`.
    pub(super) fn best_candidate(&self, vcpu: usize) -> Option<u64> {
        let mut best = None;
        best_in(
            &self.cpus[vcpu].private,
            self.cpus[vcpu].private.deliverable(self.ctlr),
            0,
            &mut best,
        );
        for (k, bank) in self.spis.iter().enumerate() {
            let mask = bank.deliverable(self.ctlr) & self.routed_to(k, vcpu);
            best_in(bank, mask, SPI_BASE + 32 * k as u32, &mut best);
        }
        best
    }

    /// The pending-only LR of lowest priority (highest key), and its key.
    fn worst_pending_lr(&self, vcpu: usize, n: usize) -> Option<(usize, u64)> {
        self.cpus[vcpu].lrs[..n]
            .iter()
            .enumerate()
            .filter(|(_, &lr)| lr & LR_STATE == LR_PENDING)
            .map(|(slot, &lr)| {
                (
                    slot,
                    (lr >> LR_PRIORITY_SHIFT & 0xff) << 32 | (lr & 0xffff_ffff),
                )
            })
            .max_by_key(|&(_, key)| key)
    }

    /// Puts deliverable `intid` in free LR `slot`, pending.
    fn place(&mut self, vcpu: usize, slot: usize, intid: u32) {
        let (bank, bit) = self.bank_mut(vcpu, intid);
        let mut lr = u64::from(intid)
            | u64::from(bank.priority[intid as usize % 32]) << LR_PRIORITY_SHIFT
            | LR_PENDING;
        if bank.group & bit != 0 {
            lr |= LR_GROUP1;
        }
        if bank.edge & bit == 0 && intid >= SPI_BASE {
            lr |= LR_EOI;
        }
        if bank.edge & bit != 0 {
            bank.latch &= !bit;
        }
        track(bank, bit, LR_PENDING);
        self.cpus[vcpu].lrs[slot] = lr;
    }

    /// Takes the pending-only interrupt in LR `slot` back into the model.
    fn evict(&mut self, vcpu: usize, slot: usize) {
        let (bank, bit) = self.bank_mut(vcpu, self.cpus[vcpu].lrs[slot] as u32);
        bank.latch |= bit & bank.edge;
        track(bank, bit, 0);
        self.cpus[vcpu].lrs[slot] = 0;
    }

    /// Brings LR `slot` up to date with what happened since the exit: ICPENDR and ICACTIVER
    /// writes; a pending-only interrupt since disabled, its group disabled or (level-sensitive)
    /// its line dropped leaves the LR; a new edge of an interrupt in an LR joins it there
    /// (pending and active).
    fn reconcile(&mut self, vcpu: usize, slot: usize) {
        let lr = self.cpus[vcpu].lrs[slot];
        if lr == 0 {
            return;
        }
        let ctlr = self.ctlr;
        let (bank, bit) = self.bank_mut(vcpu, lr as u32);
        let mut state = lr & LR_STATE;
        if bank.cancel_active & bit != 0 {
            state &= !LR_ACTIVE;
        }
        if bank.cancel_pending & bit != 0 {
            state &= !LR_PENDING;
        }
        bank.cancel_active &= !bit;
        bank.cancel_pending &= !bit;
        let edge = bank.edge & bit != 0;
        let allowed = bank.enabled & bank.group_enabled(ctlr) & bit != 0;
        if state == LR_PENDING && !(allowed && (edge || bank.pending() & bit != 0)) {
            bank.latch |= bit & bank.edge;
            state = 0;
        }
        if edge && allowed && state != 0 && bank.latch & bit != 0 {
            bank.latch &= !bit;
            state |= LR_PENDING;
        }
        track(bank, bit, state);
        self.cpus[vcpu].lrs[slot] = with_state(lr, state);
    }
}

/// Records in the model that `bit`'s LR now has `state` (0: it left the LR, inactive).
fn track(bank: &mut Bank, bit: u32, state: u64) {
    let set = |mask: &mut u32, on: bool| {
        if on {
            *mask |= bit;
        } else {
            *mask &= !bit;
        }
    };
    set(&mut bank.in_lr, state != 0);
    set(&mut bank.lr_pending, state & LR_PENDING != 0);
    set(&mut bank.active, state & LR_ACTIVE != 0);
}

/// `lr` with State `state`; 0 if invalid.
fn with_state(lr: u64, state: u64) -> u64 {
    if state == 0 {
        0
    } else {
        lr & !LR_STATE | state
    }
}

/// Updates `best` with the best of `mask`'s interrupts in `bank` (INTIDs `base + i`).
fn best_in(bank: &Bank, mut mask: u32, base: u32, best: &mut Option<u64>) {
    while mask != 0 {
        let i = mask.trailing_zeros();
        mask &= mask - 1;
        let key = u64::from(bank.priority[i as usize]) << 32 | u64::from(base + i);
        if best.is_none_or(|b| key < b) {
            *best = Some(key);
        }
    }
}
