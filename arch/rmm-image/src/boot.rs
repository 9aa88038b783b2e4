//! Cold and warm boot (RMM-EL3 interface 0.3), then the RMI loop.
//!
//! Cold boot (CPU 0 only, first entry): validate x0..x3 and the boot manifest in the shared
//! buffer, build the translation tables, turn on the MMU, start the console, build the core's
//! tables, report RMM_BOOT_COMPLETE(0). Warm boot (every other CPU, after that): check the CPU
//! index, turn on the MMU, report. Any failure is reported to EL3 with its E_RMM_BOOT code,
//! after which EL3 never enters the RMM again. Then each CPU serves RMI calls forever: EL3
//! returns from the SMC with the next call in x0..x7.

use crate::boot_cell::BootCell;
use crate::entry::MAX_CPUS;
use crate::exceptions::halt;
use crate::platform::Aarch64;
use crate::{attestation, console, el2, heap, log, mmu, sve};
use alloc::vec::Vec;
use rmm::{Platform, Rmm};
use rmm_arch::boot::{self, BootError};
use rmm_arch::el3::{self, RMM_RMI_REQ_COMPLETE};
use rmm_arch::pl011::Pl011;
use rmm_arch::smc::smc;

/// The RMM, shared by all CPUs.
static RMM: BootCell<Option<Rmm<Aarch64>>> = BootCell::new(None);
/// Number of CPUs EL3 announced at cold boot.
static NUM_CPUS: BootCell<usize> = BootCell::new(0);

const VERSION: &str = env!("CARGO_PKG_VERSION");
const GIT: &str = env!("RMM_GIT_DESCRIBE");
const PLATFORM: &str = if cfg!(feature = "fvp") { "fvp" } else { "qemu" };

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
    log!("boot failed: error {}", error.code());
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
        boot::cold_boot_with_manifest(regs, MAX_CPUS, read).unwrap_or_else(|e| fail(e));
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
    log!("Realm Management Monitor {VERSION} ({GIT}), platform {PLATFORM}");
    log!(
        "RMI ABI 1.0, RSI ABI 1.0, RMM-EL3 interface {}.{}, boot manifest {}.{}, {} CPUs",
        args.ifc_version.major,
        args.ifc_version.minor,
        manifest.version.major,
        manifest.version.minor,
        args.num_cpus
    );
    let dram: Vec<(u64, u64)> = manifest
        .dram
        .as_slice()
        .iter()
        .map(|b| (b.base, b.size))
        .collect();
    for (base, size) in &dram {
        log!("DRAM {base:#x}..{:#x}", base + size);
    }
    let rmm = Rmm::new(Aarch64::probe(), &dram, args.num_cpus)
        .unwrap_or_else(|_| fail(BootError::Unknown));
    match sve::init(args.num_cpus) {
        Ok((0, 0)) => {}
        Ok((vl, svl)) => log!("Normal-world SVE state saved at {vl} bits, streaming {svl} bits"),
        Err(()) => fail(BootError::Unknown),
    }
    let f = rmm.platform().cpu_features();
    let (used, size) = heap::usage();
    log!(
        "PA {} bits, VMID {} bits, {} list registers; heap {} KiB of {} KiB",
        f.pa_bits,
        f.vmid_bits,
        f.gic_list_registers,
        used / 1024,
        size / 1024
    );
    match attestation::fetch(args.shared_buf_pa) {
        Ok(identity) => {
            log!(
                "attestation: realm key P-384, platform token {} bytes",
                identity.platform_token().len()
            );
            let _ = rmm.set_attestation(identity);
        }
        Err(e) => log!("attestation unavailable ({e}): realms cannot get tokens"),
    }
    // SAFETY: CPU 0 at cold boot is the only CPU in the RMM; nothing has read them yet.
    unsafe {
        *RMM.get_mut() = Some(rmm);
        *NUM_CPUS.get_mut() = args.num_cpus;
        core::arch::asm!("dsb sy", options(nostack));
    }
    log!("cold boot complete on CPU {}", args.cpu_index);
    serve(args.cpu_index)
}

fn warm_boot(x0: u64) -> ! {
    let num_cpus = *NUM_CPUS.get();
    let cpu = boot::warm_boot(x0, num_cpus).unwrap_or_else(|e| fail(e));
    // SAFETY: cold boot built the tables before this CPU was started.
    unsafe { mmu::enable() };
    if sve::init_cpu().is_err() {
        fail(BootError::Unknown);
    }
    log!("warm boot complete on CPU {cpu}");
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
