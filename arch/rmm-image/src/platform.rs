//! [`rmm::Platform`] on aarch64 at R-EL2: EL3 calls through SMC, granules through the Realm
//! identity map of DRAM, host memory through the fault-tolerant Non-secure copy, TLB
//! maintenance by broadcast TLBI, realms through the world switch, the call trace to the
//! console.

use crate::{console, gic, nscopy, world_switch};
use rmm::platform::{
    CpuFeatures, GranuleMemory, GtsiRefused, NsAccessFault, RealmMemory, Stage2Translation,
};
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
    /// ID_AA64MMFR0_EL1.PARange, at most 0b0110 (52 bits).
    parange: u64,
    /// VTCR_EL2 without the realm's fields (T0SZ, SL0, PS, DS, SL2).
    vtcr_common: u64,
}

/// ID_AA64MMFR0_EL1.PARange for 48 bits, the widest a realm without LPA2 can address.
const PARANGE_48: u64 = 0b0101;
/// VTCR_EL2 fields: SL0 at bits 7:6, PS 18:16, DS 32, SL2 33.
const VTCR_SL0_SHIFT: u32 = 6;
const VTCR_PS_SHIFT: u32 = 16;
const VTCR_DS: u64 = 1 << 32;
const VTCR_SL2: u64 = 1 << 33;

impl Aarch64 {
    /// Reads the processor's features (ID registers, ICH_VTR_EL2).
    pub fn probe() -> Self {
        let mmfr0 = read_sysreg!("id_aa64mmfr0_el1");
        let mmfr1 = read_sysreg!("id_aa64mmfr1_el1");
        let dfr0 = read_sysreg!("id_aa64dfr0_el1");
        // PARange, up to 52 bits (0b0111, 56 bits, needs 128-bit descriptors: treated as 52).
        let parange = (mmfr0 & 0xf).min(6);
        let pa_bits = [32, 36, 40, 42, 44, 48, 52][parange as usize];
        // FEAT_LPA2 with 4 KiB granules at stage 1 (TGran4 = 0b0001, so a realm can make
        // 52-bit IPAs) and stage 2 (TGran4_2 = 0b0011, or 0b0000: as TGran4 says).
        let tgran4 = (mmfr0 >> 28) & 0xf;
        let tgran4_2 = (mmfr0 >> 40) & 0xf;
        let lpa2 = tgran4 == 0b0001 && matches!(tgran4_2, 0b0000 | 0b0011);
        let list_registers = gic::list_registers();
        let vmid16 = (mmfr1 >> 4) & 0xf == 2;
        // Walks Inner/Outer Write-Back cacheable (IRGN0, ORGN0), Inner Shareable (SH0: also
        // the shareability of every mapping of an LPA2 realm, A5.5.11), 4 KiB granule, 16-bit
        // VMIDs where supported (VS), RES1 bit 31.
        let vtcr_common = (1 << 8) | (1 << 10) | (3 << 12) | (u64::from(vmid16) << 19) | (1 << 31);
        Self {
            features: CpuFeatures {
                pa_bits,
                lpa2,
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
            parange,
            vtcr_common,
        }
    }

    /// Number of GICv3 list registers.
    pub fn list_registers(&self) -> usize {
        self.list_registers
    }

    /// VTCR_EL2 for a realm's stage 2: its T0SZ and SL0; with LPA2 (A5.5.11) DS, SL2 for a
    /// start at level -1, and the output size of the processor (52 bits on QEMU `max`);
    /// without, an output size of at most 48 bits.
    pub fn vtcr(&self, s2: &Stage2Translation) -> u64 {
        let ps = if s2.ds {
            self.parange
        } else {
            self.parange.min(PARANGE_48)
        };
        let mut vtcr =
            self.vtcr_common | s2.t0sz | (s2.sl0 << VTCR_SL0_SHIFT) | (ps << VTCR_PS_SHIFT);
        if s2.ds {
            vtcr |= VTCR_DS;
        }
        if s2.sl2 {
            vtcr |= VTCR_SL2;
        }
        vtcr
    }

    /// VTTBR_EL2 for a realm's stage 2: the first starting-level RTT and the VMID. With a
    /// 52-bit output size, BADDR bits 51:48 sit in bits 5:2.
    pub fn vttbr(s2: &Stage2Translation) -> u64 {
        let base = s2.rtt_base & ((1 << 48) - 1);
        let high = (s2.rtt_base >> 48) & 0xf;
        base | (high << 2) | (u64::from(s2.vmid) << 48)
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
