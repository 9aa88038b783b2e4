//! The QEMU test firmware at EL3: GPT, GIC, PSCI, RMM-EL3 interface 0.3, RMI forwarding.
//!
//! Boot (CPU 0, the primary): EL3 MMU on, console, DRAM size from the DTB, GICv3 for the
//! Normal world, GPT built and the GPC on, boot manifest 0.3 written to the shared buffer,
//! the pen opened, then the RMM's cold boot at R-EL2. On RMM_BOOT_COMPLETE it warm-boots the
//! RMM on every other CPU in turn (each parks in the pen as PSCI OFF afterwards), then enters
//! the Normal-world payload at NS-EL2 (entry from fw_cfg `opt/rmm/ns-entry`, else
//! 0x60000000) with x0 = the DTB (unless a quirk says otherwise: quirks.rs).
//!
//! QEMU command line:
//! ```text
//! qemu-system-aarch64 -M virt,secure=on,virtualization=on,gic-version=3 \
//!   -cpu max,x-rme=on -smp 8 -m 1G -nographic -semihosting -bios el3.bin \
//!   -device loader,file=rmm.bin,addr=0x40100000,force-raw=on \
//!   -device loader,file=host.bin,addr=0x60000000,force-raw=on \
//!   [-fw_cfg name=opt/rmm/ns-entry,string=0x60000000]
//! ```
#![cfg_attr(target_os = "none", no_std, no_main)]

/// Built for the host, the image is an empty program, so that `cargo test --workspace` and
/// clippy on the host cover the workspace.
#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod attest;
#[cfg(target_os = "none")]
mod console;
#[cfg(target_os = "none")]
mod context;
#[cfg(target_os = "none")]
mod cpu;
#[cfg(target_os = "none")]
mod entry;
#[cfg(target_os = "none")]
mod fatal;
#[cfg(target_os = "none")]
mod gic;
#[cfg(target_os = "none")]
mod gpt;
#[cfg(target_os = "none")]
mod lock;
#[cfg(target_os = "none")]
mod mmu;
#[cfg(target_os = "none")]
mod perf;
#[cfg(target_os = "none")]
mod psci;
#[cfg(target_os = "none")]
mod quirks;
#[cfg(target_os = "none")]
mod rmm;
#[cfg(target_os = "none")]
mod time;
#[cfg(target_os = "none")]
mod token;
#[cfg(target_os = "none")]
mod topology;

/// Most CPUs EL3 runs: QEMU `virt`'s limit with GICv3. Must match link.ld.
///
/// What a CPU costs in EL3, all in the 16 MiB of secure RAM: its stack ([`STACK_SIZE`]), its
/// `cpu::PerCpu` (two world contexts with their EL2 registers, about 2 KiB, .bss), its
/// mailbox `cpu::Shared` (40 bytes, .data) and its affinity (4 bytes): about 22 KiB, 11 MiB
/// for 512 CPUs, beside the 4.3 MiB of granule protection tables (link.ld checks the fit).
pub const MAX_CPUS: usize = 512;
/// EL3 stack per CPU. Measured (stacks painted, QEMU `-smp 8`): 11.7 KiB on the CPU that
/// signs the platform token with P-384 (`attest.rs`, any CPU the RMM calls from), under 1 KiB
/// on the others (world switches, PSCI); 20 KiB leaves 8 KiB spare. Must match link.ld.
pub const STACK_SIZE: usize = 0x5000;

#[cfg(target_os = "none")]
pub use firmware::*;

#[cfg(target_os = "none")]
mod firmware {
    use crate::context::{Ctx, Features, World};
    use crate::cpu::{self, PerCpu, AFF_ON, PEN_MAGIC, PEN_OPEN, SHARED};
    use crate::quirks::{self, Quirk};
    use crate::{console, entry, fatal, gic, gpt, mmu, perf, println, psci, rmm, topology};
    use core::sync::atomic::Ordering;
    use rmm_arch::layout::qemu::{DRAM_BASE, DRAM_SIZE, NS_PAYLOAD_BASE, UART0_BASE};
    use rmm_arch::manifest::{Console, ConsoleChecksum, DramBank};
    use rmm_arch::{manifest_writer, read_sysreg, write_sysreg};

    /// SCR_EL3 bits (Arm ARM D23.2 SCR_EL3).
    mod scr_bits {
        pub const NS: u64 = 1 << 0;
        pub const RES1: u64 = (1 << 4) | (1 << 5);
        pub const HCE: u64 = 1 << 8;
        pub const RW: u64 = 1 << 10;
        pub const APK: u64 = 1 << 16;
        pub const API: u64 = 1 << 17;
        pub const ENSCXT: u64 = 1 << 25;
        pub const FGTEN: u64 = 1 << 27;
        pub const ECVEN: u64 = 1 << 28;
        pub const HXEN: u64 = 1 << 38;
        pub const ENTP2: u64 = 1 << 41;
        pub const NSE: u64 = 1 << 62;
    }

    /// SCR_EL3 for `world`: AArch64 EL2 with HVC, SMC enabled, IRQ/FIQ/EA not routed to EL3,
    /// no GPF routing, PAuth keys and instructions untrapped, and the enables of the features
    /// present (FGT, ECV, HCX, SME TPIDR2, SCXTNUM). Realm adds NSE (QEMU notes §4).
    pub fn scr(world: World, f: &Features) -> u64 {
        use scr_bits::*;
        let mut v = NS | RES1 | HCE | RW;
        if f.pauth {
            v |= APK | API;
        }
        if f.fgt {
            v |= FGTEN;
        }
        if f.ecv {
            v |= ECVEN;
        }
        if f.hcx {
            v |= HXEN;
        }
        if f.sme {
            v |= ENTP2;
        }
        if f.scxt {
            v |= ENSCXT;
        }
        if world == World::Realm {
            v |= NSE;
        }
        v
    }

    /// Exits QEMU through semihosting with `code`.
    pub fn exit(code: u32) -> ! {
        rmm_arch::semihosting::exit(code);
        loop {
            // SAFETY: halts this CPU; semihosting is off if we get here.
            unsafe { core::arch::asm!("wfi", options(nostack)) };
        }
    }

    /// EL3 control registers every CPU sets: no SVE/SME traps (CPTR_EL3.EZ, ESM) and the
    /// largest vector lengths (ZCR_EL3, SMCR_EL3 = 0xF), GIC system registers at every EL.
    fn el3_regs(f: &Features) {
        let mut cptr = 0;
        if f.sve {
            cptr |= 1 << 8;
        }
        if f.sme {
            cptr |= 1 << 12;
        }
        // SAFETY: these registers only lift traps of lower ELs and size their vectors; EL3
        // itself is built soft-float and never uses FP/SVE/SME.
        unsafe {
            write_sysreg!("cptr_el3", cptr);
            core::arch::asm!("isb", options(nostack));
            if f.sve {
                write_sysreg!("s3_6_c1_c2_0", 0xf); // ZCR_EL3
            }
            if f.sme {
                write_sysreg!("s3_6_c1_c2_6", 0xf); // SMCR_EL3
            }
            core::arch::asm!("isb", options(nostack));
        }
        gic::init_cpu_interface();
    }

    /// Per-CPU set-up once the primary's tables exist: EL3 registers, MMU, GPC, reset EL2
    /// snapshot.
    fn cpu_init() -> &'static mut PerCpu {
        let f = Features::read();
        el3_regs(&f);
        mmu::enable();
        gpt::enable();
        cpu::init_this(f)
    }

    /// Cleans `[addr, addr + len)` to the point of coherency, for readers with their MMU off.
    pub fn clean_to_poc(addr: u64, len: usize) {
        let line = 4u64 << ((read_sysreg!("ctr_el0") >> 16) & 0xf);
        let mut a = addr & !(line - 1);
        while a < addr + len as u64 {
            // SAFETY: cleaning a mapped line to PoC does not change its contents.
            unsafe { core::arch::asm!("dc cvac, {}", in(reg) a, options(nostack)) };
            a += line;
        }
        // SAFETY: barrier only.
        unsafe { core::arch::asm!("dsb sy", options(nostack)) };
    }

    #[no_mangle]
    extern "C" fn primary_main(index: usize) -> ! {
        // SAFETY: nothing else reads PEN_OPEN as open until we store the magic.
        PEN_OPEN.store(0, Ordering::Relaxed);
        mmu::build();
        mmu::enable();
        console::init();
        println!("\nEL3: rmm-qemu-el3 test firmware (EL3, Root), CPU {index}");
        quirks::init();

        // SAFETY: QEMU places the device tree at the start of DRAM for -bios boots; EL3 maps
        // DRAM below 4 GiB (mmu.rs) and nothing writes the tree while EL3 reads it.
        let tree = unsafe { rmm_arch::fdt::Fdt::at(DRAM_BASE) };
        let (dram_base, dram_size) = match tree.and_then(|t| t.memory()) {
            Some((b, s)) if b == DRAM_BASE && s != 0 => (b, s),
            _ => {
                println!("EL3: no memory node in the DTB, assuming {DRAM_SIZE:#x} bytes");
                (DRAM_BASE, DRAM_SIZE)
            }
        };
        println!(
            "EL3: DRAM {:#x}..{:#x} ({} MiB)",
            dram_base,
            dram_base + dram_size,
            dram_size >> 20
        );

        let Some((regions, n)) = topology::discover(tree.as_ref()) else {
            exit(fatal::EXIT_FATAL)
        };
        let grp1ns = !quirks::on(Quirk::GicGrp1NsOff);
        gic::init_distributor(grp1ns);
        gic::init_redistributors(&regions);
        println!(
            "EL3: GICv3: affinity routing on, all interrupts Group 1 NS except SGI {} (EL3 pen); Group 1 NS {}",
            gic::PEN_SGI,
            if grp1ns { "enabled" } else { "left disabled" }
        );

        let dram_size = match gpt::build(dram_base, dram_size) {
            Ok(covered) => {
                if covered < dram_size {
                    println!(
                        "EL3: only the first {} GiB of DRAM can be delegated (gpt::MAX_DRAM); the rest stays Non-secure",
                        covered >> 30
                    );
                }
                covered
            }
            Err(l0gptsz) => {
                println!("EL3: GPCCR_EL3.L0GPTSZ = {l0gptsz}: only 1 GiB L0 entries are supported");
                exit(fatal::EXIT_FATAL);
            }
        };
        let cpu = cpu_init();
        // The primary never waits in the pen before its first CPU_OFF (see `psci::park`).
        gic::pen_sgi_enable(false);
        println!(
            "EL3: GPT on (GPCCR_EL3 = {:#x}): flash, secure RAM Root; devices Any; RMM {:#x}..{:#x} and shared buffer Realm; other DRAM NS",
            gpt::gpccr(),
            rmm::region().start,
            rmm::region().end
        );

        write_manifest(dram_base, dram_size);
        println!(
            "EL3: boot manifest 0.3 at {:#x}: DRAM {dram_base:#x}+{dram_size:#x}, console pl011 at {UART0_BASE:#x}",
            rmm::shared_buf()
        );

        // Release: pairs with the Acquire in `cpu_on`/`affinity_info` (CPU 0 is ON).
        SHARED[0].aff.store(AFF_ON, Ordering::Release);
        // Release: pairs with the secondaries' Acquire loads in `_start` (entry.rs): .bss, the
        // topology and the tables are ready. They read with their MMU off: clean first.
        topology::publish();
        PEN_OPEN.store(PEN_MAGIC, Ordering::Release);
        clean_to_poc(core::ptr::addr_of!(PEN_OPEN) as u64, 8);
        let ctx = rmm::cold_boot(cpu, n as u64);
        // SAFETY: `ctx` is this CPU's realm context, prepared by `cold_boot`.
        unsafe { entry::el3_exit(ctx) }
    }

    /// Writes the boot manifest into the shared buffer (Realm PAS) and cleans it to PoC.
    fn write_manifest(dram_base: u64, dram_size: u64) {
        let console = Console {
            base: UART0_BASE,
            map_pages: 1,
            name: *b"pl011\0\0\0",
            clk_in_hz: 1,
            baud_rate: 115_200,
            flags: 0,
        };
        let bank = DramBank {
            base: dram_base,
            size: dram_size,
        };
        let rule = if quirks::on(Quirk::LegacyConsoleChecksum) {
            ConsoleChecksum::Legacy
        } else {
            ConsoleChecksum::Full
        };
        let shared = rmm::shared_buf();
        let words = manifest_writer::build_v03(shared, bank, &console, rule);
        let buf = shared as *mut u64;
        for i in 0..(rmm_arch::GRANULE_SIZE as usize / 8) {
            let w = words.get(i).copied().unwrap_or(0);
            // SAFETY: the shared buffer page is mapped RW in the Realm PAS (mmu.rs) and is
            // Realm in the GPT; nothing else runs in the Realm world yet.
            unsafe { core::ptr::write_volatile(buf.add(i), w) };
        }
        let line = 4u64 << ((read_sysreg!("ctr_el0") >> 16) & 0xf);
        let mut a = shared;
        while a < shared + rmm_arch::GRANULE_SIZE {
            // SAFETY: cleaning a mapped line to PoC does not change its contents.
            unsafe { core::arch::asm!("dc civac, {}", in(reg) a, options(nostack)) };
            a += line;
        }
        // SAFETY: barrier only.
        unsafe { core::arch::asm!("dsb sy", options(nostack)) };
    }

    /// After the RMM's cold boot (successful or not): enter the Normal-world payload on the
    /// primary at NS-EL2 with x0 = the DTB.
    pub fn enter_ns_primary(cpu: &mut PerCpu) -> *mut Ctx {
        let entry = match rmm_arch::fwcfg::read_hex(b"opt/rmm/ns-entry") {
            Some(e) => {
                println!("EL3: NS entry {e:#x} (fw_cfg opt/rmm/ns-entry)");
                e
            }
            None => NS_PAYLOAD_BASE,
        };
        let dtb = if quirks::on(Quirk::NoDtb) {
            quirks::erase_device_tree(DRAM_BASE);
            println!("EL3: device tree at {DRAM_BASE:#x} erased (quirk no-dtb)");
            0
        } else if quirks::on(Quirk::DtbNotInX0) {
            0
        } else {
            DRAM_BASE
        };
        println!(
            "EL3: entering the Normal world at {entry:#x} (NS-EL2) on CPU {}, x0 = {dtb:#x}, {} ms since reset",
            cpu.index,
            crate::time::now_us() / 1000
        );
        let scr = scr(World::NonSecure, &cpu.features);
        cpu.enter_fresh(World::NonSecure, entry, [dtb, 0, 0, 0], scr)
    }

    /// Every other CPU, from `_start` once the pen is open, on its own stack.
    #[no_mangle]
    extern "C" fn secondary_main(_index: usize) -> ! {
        let cpu = cpu_init();
        let ctx = psci::park(cpu);
        // SAFETY: `ctx` is one of this CPU's contexts, prepared by the pen command.
        unsafe { entry::el3_exit(ctx) }
    }

    /// Exception from a lower EL (entry.rs): SMCs are dispatched by world, anything else is
    /// fatal. Returns the context to resume.
    #[no_mangle]
    extern "C" fn el3_lower_entry(ctx: *mut Ctx, kind: u64) -> *mut Ctx {
        // First thing: the instruction accounting of `perf` starts here.
        let t_in = perf::now();
        // SAFETY: `ctx` is the context entry.rs just saved into, one of this CPU's; we read
        // its world and otherwise use it only through `cpu::this()`.
        let world = unsafe { (*ctx).world() };
        // SAFETY: the only reference to this CPU's state during this exception.
        let cpu = unsafe { cpu::this() };
        let esr = read_sysreg!("esr_el3");
        if kind != entry::kind::LOWER_SYNC || esr >> 26 != 0x17 {
            fatal::lower(cpu.ctx(world), kind);
        }
        if world == World::NonSecure && perf::is_perf(cpu.ns.x[0]) && !quirks::on(Quirk::NoPerfSip)
        {
            return perf::handle(cpu, t_in);
        }
        cpu.perf.entered(world, t_in);
        let next = match world {
            World::Realm => rmm::realm_smc(cpu),
            World::NonSecure => {
                let fid = cpu.ns.x[0] as u32;
                if rmm::is_rmi(fid) {
                    rmm::forward_rmi(cpu)
                } else if psci::is_psci(fid) {
                    psci::handle(cpu)
                } else {
                    cpu.ns.x[0] = rmm::SMC_UNK;
                    cpu.enter(World::NonSecure)
                }
            }
        };
        let live = cpu.live;
        cpu.perf.leaving(live, t_in);
        next
    }
}
