//! The guest's devices on the hardware: the models of `realm_vmm` (vGIC, PL011) behind one
//! lock, fed by REC exits, and the physical side of interrupts: the kick SGI, the EL2 physical
//! timer that wakes an idle vCPU's CPU, the console's receive side.

use super::vcpu::{self, KICK_SGI};
use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};
use ns_el2::rec_run::{Exit, LRS};
use ns_el2::{console, gic};
use realm_vmm::layout::{MAX_VCPUS, PL011_INTID, PMU_INTID, PTIMER_INTID, VTIMER_INTID};
use realm_vmm::mmio::{MmioAccess, Region};
use realm_vmm::pl011::Pl011;
use realm_vmm::vgic::{self, Effect, Vgic};
use rmm::spinlock::SpinLock;
use rmm_arch::{read_sysreg, write_sysreg};

/// The emulated devices.
struct Devices {
    vgic: Vgic,
    uart: Pl011,
    /// Received bytes the UART had no room for yet.
    rx_backlog: [u8; 64],
    rx_len: usize,
    vcpus: usize,
    /// When the guest's init first spoke.
    up: Marker,
}

/// Watches the guest's console for its init's first line, `guest: ...`.
struct Marker {
    matched: usize,
    at_line_start: bool,
    seen_at: Option<u64>,
}

impl Marker {
    const TEXT: &'static [u8] = b"guest: ";

    fn see(&mut self, byte: u8) {
        if self.seen_at.is_some() {
            return;
        }
        if self.at_line_start && Self::TEXT.get(self.matched) == Some(&byte) {
            self.matched += 1;
            if self.matched == Self::TEXT.len() {
                self.seen_at = Some(ns_el2::cpu::ticks());
            }
            return;
        }
        self.matched = 0;
        self.at_line_start = byte == b'\n';
    }
}

/// When the guest's init first printed (`guest: `), in counter ticks.
pub fn guest_up_at() -> Option<u64> {
    with(|d| d.up.seen_at)
}

/// The devices, once [`init`] has made them.
static DEVICES: SpinLock<Option<Devices>> = SpinLock::new(None);

/// Runs `f` on the devices (after [`init`]).
fn with<R>(f: impl FnOnce(&mut Devices) -> R) -> R {
    let mut d = DEVICES.lock();
    let d = d.as_mut().expect("devices::init runs before any vCPU");
    f(d)
}

/// Kicks the vCPUs `effect` names (other than those already in the VMM).
fn kick_all(effect: Effect) {
    for target in (0..MAX_VCPUS).filter(|&i| effect.kick & 1 << i != 0) {
        vcpu::kick(target);
    }
}

/// The EL2 physical timer's PPI, which wakes an idle CPU at a guest timer's deadline.
const HYP_TIMER_INTID: u32 = 26;
/// The GIC maintenance interrupt's PPI: the guest's EOI of a level interrupt or the list
/// registers running dry (ICH_HCR_EL2.UIE) ends its run, so the VMM refills them.
const MAINTENANCE_INTID: u32 = 25;

/// Sets the devices up for vCPUs with these MPIDRs. CPU 0, before the guest runs.
pub fn init(mpidrs: &[u64]) {
    *DEVICES.lock() = Some(Devices {
        vgic: Vgic::new(mpidrs),
        uart: Pl011::new(),
        rx_backlog: [0; 64],
        rx_len: 0,
        vcpus: mpidrs.len(),
        up: Marker {
            matched: 0,
            at_line_start: true,
            seen_at: None,
        },
    });
}

/// vCPU `vcpu` was turned on or off (PSCI): SPIs routed to any vCPU follow.
pub fn set_online(vcpu: usize, on: bool) {
    let effect = with(|d| d.vgic.set_online(vcpu, on));
    kick_all(effect);
}

/// This CPU's interrupts: the kick SGI, the guest's timer and PMU PPIs (a timer firing or a
/// counter overflowing while the realm runs ends its run) and the EL2 timer, all Group 1
/// Non-secure, signalled but never taken (PSTATE.I stays masked): they end a realm's run or a
/// WFI.
pub fn init_cpu() {
    gic::enable_private(&[
        KICK_SGI as u32,
        VTIMER_INTID,
        PTIMER_INTID,
        PMU_INTID,
        HYP_TIMER_INTID,
        MAINTENANCE_INTID,
    ]);
    // SAFETY: ICC_PMR_EL1 and ICC_IGRPEN1_EL1 only decide which interrupts are signalled to
    // this CPU; none is taken (DAIF masked at NS-EL2).
    unsafe {
        write_sysreg!("s3_0_c4_c6_0", 0xff); // ICC_PMR_EL1
        write_sysreg!("s3_0_c12_c12_7", 1); // ICC_IGRPEN1_EL1
    }
    rmm_arch::isb!();
}

/// Acknowledges the physical interrupts pending at this CPU (kicks, timers): they have done
/// their job by ending the realm's run or the WFI.
pub fn ack_kicks() {
    loop {
        let intid = read_sysreg!("s3_0_c12_c12_0") & 0xff_ffff; // ICC_IAR1_EL1
        if intid >= 1020 {
            break;
        }
        if intid == u64::from(HYP_TIMER_INTID) {
            // SAFETY: the EL2 physical timer is the VMM's own; disabled until the next wait.
            unsafe { write_sysreg!("cnthp_ctl_el2", 0) };
        }
        // SAFETY: ends the interrupt just acknowledged; no memory effect.
        unsafe { write_sysreg!("s3_0_c12_c12_1", intid) }; // ICC_EOIR1_EL1
    }
    rmm_arch::isb!();
}

/// Waits (WFI) until an interrupt is signalled to this CPU, at the latest at the counter value
/// `deadline` (the EL2 physical timer).
pub fn wait_for_interrupt(deadline: Option<u64>) {
    // SAFETY: the EL2 physical timer is the VMM's own; WFI only waits.
    unsafe {
        match deadline {
            Some(at) => {
                write_sysreg!("cnthp_cval_el2", at);
                write_sysreg!("cnthp_ctl_el2", 1);
            }
            None => write_sysreg!("cnthp_ctl_el2", 0),
        }
        core::arch::asm!("isb", "wfi", options(nostack));
    }
}

/// The list registers and ICH_HCR_EL2 for vCPU `vcpu`'s next entry (`lrs` holds those of its
/// last exit).
pub fn fill_lrs(vcpu: usize, lrs: &mut [u64; LRS]) -> u64 {
    let n = rmm_arch::read_sysreg!("s3_4_c12_c11_1") as usize & 0x1f; // ICH_VTR_EL2.ListRegs
    let mut hcr = 0;
    with(|d| d.vgic.fill(vcpu, &mut lrs[..=n.min(LRS - 1)], &mut hcr));
    hcr
}

/// After every exit of `vcpu`, on its CPU: the list registers back into the vGIC, the levels
/// of the timers' and the PMU's PPIs.
pub fn after_exit(vcpu: usize, exit: &Exit) {
    let asserted = |ctl: u64| ctl & 0b111 == 0b101; // ENABLE, ISTATUS, not IMASK
    with(|d| {
        d.vgic.sync(vcpu, &exit.gicv3_lrs, exit.gicv3_misr);
        d.vgic
            .set_ppi_level(vcpu, VTIMER_INTID, asserted(exit.timers[0]));
        d.vgic
            .set_ppi_level(vcpu, PTIMER_INTID, asserted(exit.timers[2]));
        d.vgic.set_ppi_level(vcpu, PMU_INTID, exit.pmu_overflow);
    });
    mask_pmu_ppi(vcpu, exit.pmu_overflow);
}

/// Whether each vCPU's CPU has the PMU's physical PPI masked.
static PMU_PPI_MASKED: [AtomicBool; MAX_VCPUS] = [const { AtomicBool::new(false) }; MAX_VCPUS];

/// The realm's PMU is the processor's: its overflow raises the physical PPI, which ends the run
/// (an IRQ exit with pmu_ovf_status ACTIVE, A8.1). While the overflow is active the PPI is
/// masked at this CPU's redistributor, or every entry would end at once; the guest gets the
/// virtual PPI instead, and an exit that shows the overflow cleared unmasks it. Relaxed: each
/// flag is only used by its vCPU's CPU.
fn mask_pmu_ppi(vcpu: usize, overflow: bool) {
    let Some(masked) = PMU_PPI_MASKED.get(vcpu) else {
        return;
    };
    if overflow != masked.load(Ordering::Relaxed) {
        gic::set_private(&[PMU_INTID], !overflow);
        masked.store(overflow, Ordering::Relaxed);
    }
}

/// When vCPU `vcpu`'s enabled, unmasked EL1 timers fire, from its last exit.
pub fn timer_deadline(exit: &Exit) -> Option<u64> {
    let armed = |ctl: u64, cval: u64| (ctl & 0b011 == 0b001).then_some(cval);
    match (
        armed(exit.timers[0], exit.timers[1]),
        armed(exit.timers[2], exit.timers[3]),
    ) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Whether `vcpu` has an interrupt to take.
pub fn pending(vcpu: usize) -> bool {
    with(|d| d.vgic.pending(vcpu))
}

/// An ICC_SGI1R_EL1 write of `vcpu`: the vCPUs that got an SGI.
pub fn sgi(vcpu: usize, value: u64) -> impl Iterator<Item = usize> {
    let targets = with(|d| d.vgic.sgi(vcpu, value));
    (0..MAX_VCPUS).filter(move |&i| targets & 1 << i != 0)
}

/// An emulated MMIO access: the value for the vCPU's next entry's x0, or `None` if no device
/// is there.
pub fn mmio(access: &MmioAccess) -> Option<u64> {
    let size = access.size;
    let (value, effect) = with(|d| {
        if let Some((region, offset)) = vgic::Region::decode(access.ipa) {
            return Some(match access.write {
                true => (0, d.vgic.write(region, offset, size, access.value)),
                false => (d.vgic.read(region, offset, size), Effect::default()),
            });
        }
        let Region::Pl011 { offset } = Region::of(access.ipa, d.vcpus) else {
            return None;
        };
        let value = match access.write {
            true => {
                if let Some(byte) = d.uart.write(offset, size, access.value) {
                    console::put_bytes(&[byte]);
                    d.up.see(byte);
                }
                0
            }
            false => d.uart.read(offset, size),
        };
        let level = d.uart.irq_level();
        Some((value, d.vgic.set_spi_level(PL011_INTID, level)))
    })?;
    kick_all(effect);
    Some(access.read_result(value))
}

/// Bytes typed on the console go to the guest's UART (CPU 0, after its exits and wake-ups).
pub fn console_input() {
    let effect = with(|d| {
        while d.rx_len < d.rx_backlog.len() {
            let Some(byte) = console::try_getc() else {
                break;
            };
            d.rx_backlog[d.rx_len] = byte;
            d.rx_len += 1;
        }
        let taken = d.rx_backlog[..d.rx_len]
            .iter()
            .take_while(|&&byte| d.uart.push_rx(byte))
            .count();
        d.rx_backlog.copy_within(taken..d.rx_len, 0);
        d.rx_len -= taken;
        (taken > 0).then(|| {
            let level = d.uart.irq_level();
            d.vgic.set_spi_level(PL011_INTID, level)
        })
    });
    if let Some(effect) = effect {
        kick_all(effect);
    }
}

/// The exit counts over a run of `.0` milliseconds, and per second, for the end-of-run line.
pub struct Stats(pub u64);

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let n = |i: usize| vcpu::EXITS[i].load(Ordering::Relaxed);
        let per_s = |i: usize| n(i) * 1000 / self.0.max(1);
        write!(f, "REC exits in {} ms (per second):", self.0)?;
        for (name, i) in [
            ("RAM first touch", 10),
            ("shared first touch", 11),
            ("MMIO", 7),
            ("SGI", 8),
            ("WFI", 9),
            ("IRQ", 1),
            ("PSCI", 3),
            ("RIPAS", 4),
            ("host call", 5),
        ] {
            write!(f, " {} {} ({}),", name, n(i), per_s(i))?;
        }
        write!(
            f,
            " all {} ({})",
            (0..7).map(n).sum::<u64>(),
            (0..7).map(per_s).sum::<u64>()
        )
    }
}
