//! [`rmm::Platform`] on aarch64 at R-EL2: EL3 calls through SMC, granules through the Realm
//! identity map of DRAM, host memory through the fault-tolerant Non-secure copy, TLB
//! maintenance by broadcast TLBI, realms through the world switch, the call trace to the
//! console.

use crate::{console, gic, nscopy, world_switch};
use rmm::platform::{CpuFeatures, GranuleMemory, GtsiRefused, NsAccessFault, RealmMemory};
use rmm::rec::{IdRegisters, RealmTrap, VcpuContext};
use rmm::{Platform, GRANULE_SIZE};
use rmm_arch::{el3, read_sysreg, write_sysreg};

/// Above this many pages, a range invalidation becomes a whole-VMID one.
const TLBI_RANGE_MAX_PAGES: u64 = 64;

/// The processor the RMM runs on.
pub struct Aarch64 {
    features: CpuFeatures,
    id_registers: IdRegisters,
    list_registers: usize,
    /// VTCR_EL2 without T0SZ and SL0, which are the realm's.
    vtcr_common: u64,
}

impl Aarch64 {
    /// Reads the processor's features (ID registers, ICH_VTR_EL2).
    pub fn probe() -> Self {
        let mmfr0 = read_sysreg!("id_aa64mmfr0_el1");
        let mmfr1 = read_sysreg!("id_aa64mmfr1_el1");
        let dfr0 = read_sysreg!("id_aa64dfr0_el1");
        // PARange, capped at 48 bits: the RTTs use the 48-bit descriptor format (no LPA2).
        let parange = (mmfr0 & 0xf).min(5);
        let pa_bits = [32, 36, 40, 42, 44, 48][parange as usize];
        let list_registers = gic::list_registers();
        let vmid16 = (mmfr1 >> 4) & 0xf == 2;
        // Walks Inner/Outer Write-Back cacheable (IRGN0, ORGN0), Inner Shareable (SH0), 4 KiB
        // granule, output size PS, 16-bit VMIDs where supported (VS), RES1 bit 31.
        let vtcr_common = (1 << 8)
            | (1 << 10)
            | (3 << 12)
            | (parange << 16)
            | (u64::from(vmid16) << 19)
            | (1 << 31);
        Self {
            features: CpuFeatures {
                pa_bits,
                breakpoints: ((dfr0 >> 12) & 0xf) as u8 + 1,
                watchpoints: ((dfr0 >> 20) & 0xf) as u8 + 1,
                gic_list_registers: list_registers as u8,
                vmid_bits: if vmid16 { 16 } else { 8 },
                // Known after `crate::sve::init`: see `cpu_features`.
                sve_vl: None,
                pmu_counters: crate::pmu::counters(dfr0),
            },
            id_registers: IdRegisters(rmm_arch::sysreg::read_id_space()),
            list_registers,
            vtcr_common,
        }
    }

    /// Number of GICv3 list registers.
    pub fn list_registers(&self) -> usize {
        self.list_registers
    }

    /// VTCR_EL2 for a realm whose IPA width gives `t0sz` and whose starting level gives `sl0`.
    pub fn vtcr(&self, t0sz: u64, sl0: u64) -> u64 {
        self.vtcr_common | t0sz | (sl0 << 6)
    }
}

/// Runs `f` with VTTBR_EL2.VMID = `vmid`, so that TLBIs by IPA or VMID name that realm.
fn with_vmid(vmid: u16, f: impl FnOnce()) {
    let saved = read_sysreg!("vttbr_el2");
    // SAFETY: VTTBR_EL2 affects only EL1&0 translation, and nothing runs at EL1 while the RMM
    // handles a command; the old value is restored.
    unsafe {
        write_sysreg!("vttbr_el2", u64::from(vmid) << 48);
        core::arch::asm!("isb", options(nostack));
    }
    f();
    // SAFETY: as above.
    unsafe {
        write_sysreg!("vttbr_el2", saved);
        core::arch::asm!("isb", options(nostack));
    }
}

impl Platform for Aarch64 {
    fn gtsi_delegate(&self, pa: u64) -> Result<(), GtsiRefused> {
        el3::gtsi_delegate(pa).map_err(|_| GtsiRefused)
    }

    fn gtsi_undelegate(&self, pa: u64) -> Result<(), GtsiRefused> {
        el3::gtsi_undelegate(pa).map_err(|_| GtsiRefused)
    }

    fn granule(&self, pa: u64) -> &GranuleMemory {
        // SAFETY: the core asks only for granules of the manifest's DRAM banks, which the
        // Realm identity map covers (`mmu::build`); the memory is 4 KiB aligned and is
        // accessed only through atomics, so concurrent holders cannot cause UB.
        unsafe { &*(pa as *const GranuleMemory) }
    }

    fn ns_read(&self, pa: u64, buf: &mut [u8]) -> Result<(), NsAccessFault> {
        nscopy::read(pa, buf)
    }

    fn ns_write(&self, pa: u64, buf: &[u8]) -> Result<(), NsAccessFault> {
        nscopy::write(pa, buf)
    }

    fn tlbi_range(&self, vmid: u16, ipa: u64, size: u64) {
        let pages = size.div_ceil(GRANULE_SIZE);
        if pages > TLBI_RANGE_MAX_PAGES {
            return self.tlbi_vmid(vmid);
        }
        with_vmid(vmid, || {
            // SAFETY: a barrier: the RTT write before this call completes before the TLBIs.
            unsafe { core::arch::asm!("dsb ishst", options(nostack)) };
            for page in 0..pages {
                let arg = (ipa >> 12) + page;
                // SAFETY: TLB maintenance has no effect on memory safety.
                unsafe { core::arch::asm!("tlbi ipas2e1is, {}", in(reg) arg, options(nostack)) };
            }
            // SAFETY: barriers and TLB maintenance have no effect on memory safety.
            unsafe {
                core::arch::asm!(
                    "dsb ish",
                    "tlbi vmalle1is",
                    "dsb ish",
                    "isb",
                    options(nostack)
                )
            };
        });
    }

    fn tlbi_vmid(&self, vmid: u16) {
        with_vmid(vmid, || {
            // SAFETY: barriers and TLB maintenance have no effect on memory safety.
            unsafe {
                core::arch::asm!(
                    "dsb ishst",
                    "tlbi vmalls12e1is",
                    "dsb ish",
                    "isb",
                    options(nostack)
                )
            };
        });
    }

    fn run_realm(
        &self,
        cpu: usize,
        rec: u64,
        vcpu: &mut VcpuContext,
        memory: &dyn RealmMemory,
    ) -> RealmTrap {
        world_switch::run(self, cpu, rec, vcpu, memory)
    }

    fn cpu_features(&self) -> CpuFeatures {
        CpuFeatures {
            sve_vl: crate::sve::realm_max_len(),
            ..self.features
        }
    }

    fn id_registers(&self) -> &IdRegisters {
        &self.id_registers
    }

    /// At log level `verbose` only: below it the core has no trace code.
    const TRACE_CALLS: bool = console::enabled(console::Level::Verbose);

    fn trace(&self, line: core::fmt::Arguments<'_>) {
        console::line(format_args!("RMM: {line}"));
    }

    fn interrupt_pending(&self, _cpu: usize) -> bool {
        // ISR_EL1.I: a physical IRQ is pending at R-EL2 (masked here; taken as a REC exit once
        // the realm runs again with HCR_EL2.IMO set).
        read_sysreg!("isr_el1") & (1 << 7) != 0
    }
}
