//! Cold and warm boot (RMM-EL3 interface 0.3), then the RMI loop.
//!
//! Cold boot (CPU 0 only, first entry): validate x0..x3 and the boot manifest in the shared
//! buffer, build the translation tables, turn on the MMU, start the console, build the core's
//! tables, print the banner (at log level `info`, [`crate::console`]), report
//! RMM_BOOT_COMPLETE(0). Warm boot (every other CPU, after that): check the CPU index, turn on
//! the MMU, report; silent below level `debug`, since TF-A warm-boots the RMM on every CPU_ON
//! while the host may be printing. Any failure is reported to EL3 with its E_RMM_BOOT code,
//! after which EL3 never enters the RMM again. Then each CPU serves RMI calls forever: EL3
//! returns from the SMC with the next call in x0..x7.

use crate::boot_cell::BootCell;
use crate::console::Level::{Info, Warn};
use crate::exceptions::halt;
use crate::platform::Aarch64;
use crate::{attestation, console, cpus, debug, el2, error, fp, heap, mmu, pmu, sve};
use alloc::vec::Vec;
use rmm::platform::CpuFeatures;
use rmm::rmi::{InterfaceVersion, RMI_REVISIONS};
use rmm::rsi::version::RSI_REVISIONS;
use rmm::{Platform, Rmm};
use rmm_arch::boot::{self, BootArgs, BootError};
use rmm_arch::el3::{self, RMM_RMI_REQ_COMPLETE};
use rmm_arch::manifest::{ConsoleChecksum, Manifest};
use rmm_arch::pl011::Pl011;
use rmm_arch::smc::smc;

/// The RMM, shared by all CPUs.
static RMM: BootCell<Option<Rmm<Aarch64>>> = BootCell::new(None);
/// Number of CPUs EL3 announced at cold boot.
static NUM_CPUS: BootCell<usize> = BootCell::new(0);

const VERSION: &str = env!("CARGO_PKG_VERSION");
const GIT: &str = env!("RMM_GIT_DESCRIBE");
const PLATFORM: &str = if cfg!(feature = "fvp") { "fvp" } else { "qemu" };
/// The latest RMI and RSI revisions implemented.
const RMI_ABI: InterfaceVersion = RMI_REVISIONS[RMI_REVISIONS.len() - 1];
const RSI_ABI: InterfaceVersion = RSI_REVISIONS[RSI_REVISIONS.len() - 1];

/// Entered from `rmm_entry` on this CPU's stack, MMU off.
#[unsafe(no_mangle)]
extern "C" fn rmm_boot(x0: u64, x1: u64, x2: u64, x3: u64, warm: u64) -> ! {
    init_el2();
    if warm == 0 {
        cold_boot([x0, x1, x2, x3])
    } else {
        warm_boot(x0)
    }
}

/// R-EL2's own controls ([`el2`]), from the processor's ID registers.
fn init_el2() {
    el2::init(&rmm::rec::IdRegisters(rmm_arch::sysreg::read_id_space()));
}

fn fail(error: BootError) -> ! {
    error!("boot failed: error {}", error.code());
    el3::boot_complete(error.code());
    halt()
}

fn cold_boot(regs: [u64; 4]) -> ! {
    let shared = regs[3];
    // MMU off: reads are Realm-PAS accesses, allowed in the shared buffer only.
    let read = |pa: u64| {
        (shared != 0 && pa >= shared && pa + 8 <= shared + 4096 && pa.is_multiple_of(8))
            // SAFETY: an aligned word inside the shared buffer, which EL3 made Realm memory.
            .then(|| unsafe { core::ptr::read_volatile(pa as *const u64) })
    };
    let (args, manifest) =
        // Any CPU count passes here: `cpus::check` decides, once the console can say why.
        boot::cold_boot_with_manifest(regs, usize::MAX, read).unwrap_or_else(|e| fail(e));
    heap::end_below(args.shared_buf_pa);
    if mmu::build(&manifest, args.shared_buf_pa).is_err() {
        fail(BootError::Unknown);
    }
    // SAFETY: the tables are complete and identity-map the image, stacks and heap.
    unsafe { mmu::enable() };
    if let Some(c) = manifest.console.filter(|c| c.name() == b"pl011") {
        // SAFETY: the manifest names a PL011 at `c.base`, which `mmu::build` mapped as Device
        // memory; only the console module programs it.
        console::init(
            unsafe { Pl011::new(c.base as usize) },
            c.clk_in_hz,
            c.baud_rate,
        );
    }
    let dram: Vec<(u64, u64)> = manifest
        .dram
        .as_slice()
        .iter()
        .map(|b| (b.base, b.size))
        .collect();
    cpus::check(args.num_cpus, &dram).unwrap_or_else(|e| fail(e));
    let rmm = Rmm::new(Aarch64::probe(), &dram, args.num_cpus).unwrap_or_else(|e| {
        let (used, size) = heap::usage();
        error!(
            "the DRAM banks cannot be used: {e:?} (heap {} KiB used of {} KiB)",
            used / 1024,
            size / 1024
        );
        fail(BootError::Unknown)
    });
    let vector_bits = sve::init(args.num_cpus).unwrap_or_else(|()| fail(BootError::Unknown));
    let cpus = args.num_cpus;
    let slots = [fp::init(cpus), pmu::init(cpus), debug::init(cpus)];
    if slots.iter().any(Result::is_err) || cpus::alloc_stacks(cpus).is_err() {
        fail(BootError::Unknown);
    }
    let token_len = attestation::fetch(args.shared_buf_pa).map(|identity| {
        let len = identity.platform_token().len();
        let _ = rmm.set_attestation(identity);
        len
    });
    let features = rmm.platform().cpu_features();
    // SAFETY: CPU 0 at cold boot is the only CPU in the RMM; nothing has read them yet.
    unsafe {
        *RMM.get_mut() = Some(rmm);
        *NUM_CPUS.get_mut() = args.num_cpus;
        core::arch::asm!("dsb sy", options(nostack));
    }
    banner(&args, &manifest, features, vector_bits, token_len);
    serve(args.cpu_index)
}

/// The cold boot report, printed at once: what EL3 passed and what the RMM found.
fn banner(
    args: &BootArgs,
    manifest: &Manifest,
    f: CpuFeatures,
    (vl, svl): (usize, usize),
    token_len: Result<usize, attestation::Error>,
) {
    let (heap_used, heap_size) = heap::usage();
    console::block(|b| {
        b.print(
            Info,
            format_args!(
                "Realm Management Monitor {VERSION} ({GIT}), platform {PLATFORM}, log level {}",
                console::LEVEL.name()
            ),
        );
        b.print(
            Info,
            format_args!(
                "RMI ABI {}, RSI ABI {}, RMM-EL3 interface {}.{}, boot manifest {}.{}, {} CPUs",
                RMI_ABI,
                RSI_ABI,
                args.ifc_version.major,
                args.ifc_version.minor,
                manifest.version.major,
                manifest.version.minor,
                args.num_cpus
            ),
        );
        if manifest.console_checksum == Some(ConsoleChecksum::Legacy) {
            b.print(
                Warn,
                format_args!(
                    "the boot manifest's console checksum matches only the short form \
                     (base, map_pages, clk_in_hz, baud_rate) that TF-A up to v2.12 computes; \
                     accepted"
                ),
            );
        }
        for bank in manifest.dram.as_slice() {
            let (base, size) = (bank.base, bank.size);
            b.print(
                Info,
                format_args!("DRAM {base:#x}..{:#x} ({})", base + size, Size(size)),
            );
        }
        b.print(
            Info,
            format_args!(
                "heap {} KiB used of {} KiB ({} KiB per CPU)",
                heap_used.div_ceil(1024),
                heap_size / 1024,
                cpus::bytes_per_cpu().unwrap_or(0).div_ceil(1024)
            ),
        );
        b.print(
            Info,
            format_args!(
                "CPU features: PA {} bits, VMID {} bits, {} GIC list registers, {} breakpoints, \
                 {} watchpoints",
                f.pa_bits, f.vmid_bits, f.gic_list_registers, f.breakpoints, f.watchpoints
            ),
        );
        match (vl, svl) {
            (0, 0) => b.print(
                Info,
                format_args!("Normal-world FP/SIMD saved (no SVE or SME)"),
            ),
            (vl, 0) => b.print(Info, format_args!("Normal-world SVE saved at {vl} bits")),
            (0, svl) => b.print(Info, format_args!("Normal-world SME saved at {svl} bits")),
            (vl, svl) => b.print(
                Info,
                format_args!("Normal-world SVE saved at {vl} bits, SME streaming at {svl} bits"),
            ),
        }
        match token_len {
            Ok(len) => b.print(
                Info,
                format_args!("attestation: realm key P-384, platform token {len} bytes"),
            ),
            Err(e) => b.print(
                Warn,
                format_args!("attestation unavailable ({e}): realms cannot get tokens"),
            ),
        }
        b.print(
            Info,
            format_args!("cold boot complete on CPU {}", args.cpu_index),
        );
    });
}

/// A size in MiB, or in KiB if not a whole number of MiB.
struct Size(u64);

impl core::fmt::Display for Size {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 % (1 << 20) {
            0 => write!(f, "{} MiB", self.0 >> 20),
            _ => write!(f, "{} KiB", self.0 >> 10),
        }
    }
}

fn warm_boot(x0: u64) -> ! {
    let num_cpus = *NUM_CPUS.get();
    let cpu = boot::warm_boot(x0, num_cpus).unwrap_or_else(|e| fail(e));
    // SAFETY: cold boot built the tables before this CPU was started.
    unsafe { mmu::enable() };
    if sve::init_cpu().is_err() {
        fail(BootError::Unknown);
    }
    debug!("warm boot complete on CPU {cpu}");
    serve(cpu)
}

/// Reports a successful boot, then answers RMI calls on CPU `cpu` forever.
fn serve(cpu: usize) -> ! {
    let Some(rmm) = RMM.get().as_ref() else {
        fail(BootError::Unknown)
    };
    let mut call = el3::boot_complete(boot::BOOT_SUCCESS);
    loop {
        let r = rmm.handle_rmi(cpu, &call);
        call = smc([
            RMM_RMI_REQ_COMPLETE,
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
        ]);
    }
}
