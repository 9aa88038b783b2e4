//! The realm VMM: a bare-metal hypervisor at NS-EL2 that runs a Linux kernel as a realm.
//!
//! Booted by the EL3 firmware on CPU 0 at 0x6000_0000 with the MMU off, like the test host. It
//! reads its configuration from fw_cfg (`realm_vmm::config`: vCPUs, guest RAM, where QEMU
//! loaded the kernel Image and the initramfs, the delegable pool), writes the guest's device
//! tree, builds the realm ([`realm`]), runs vCPU i on CPU i ([`vcpu`]) with the devices of
//! `realm_vmm` ([`devices`]), and when the guest powers off destroys the realm and checks that
//! every granule it delegated is back in the Normal world. Its lines start with `realm-vmm: `;
//! the guest's console output is passed through as it is.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod devices;
#[cfg(target_os = "none")]
mod pool;
#[cfg(target_os = "none")]
mod realm;
#[cfg(target_os = "none")]
mod vcpu;

/// `println!` with the VMM's prefix.
#[cfg(target_os = "none")]
macro_rules! say {
    ($($arg:tt)*) => {
        ns_el2::println!("realm-vmm: {}", format_args!($($arg)*))
    };
}
#[cfg(target_os = "none")]
use say;

#[cfg(target_os = "none")]
mod boot {
    use super::{devices, pool, realm, vcpu};
    use ns_el2::{console, cpu, gic};
    use realm_vmm::config::{self, Config};
    use realm_vmm::dtb::{self, GuestConfig};
    use realm_vmm::layout::{MAX_VCPUS, RAM_BASE};
    use rmm_arch::fdt::Fdt;
    use rmm_arch::layout::qemu::DRAM_BASE;
    use rmm_arch::GRANULE_SIZE;

    /// Most bytes of the kernel command line.
    const BOOTARGS: usize = 1024;
    /// Room for the device tree.
    const DTB_MAX: u64 = 64 << 10;

    /// CPU 0, from `_start`.
    #[no_mangle]
    extern "C" fn primary_main(x0: u64) -> ! {
        ns_el2::init("realm-vmm", || exit(false));
        console::init();
        gic::init();
        let mut outcome = run(x0);
        if let Some(cpu) = ns_el2::entry::stack_overflowed() {
            say!("the stack of CPU {} overflowed", cpu);
            outcome = outcome.and(Err("a stack overflowed"));
        }
        if let Err(why) = outcome {
            say!("FAIL: {}", why);
        }
        exit(outcome.is_ok())
    }

    /// The other CPUs, from `secondary_entry`.
    #[no_mangle]
    extern "C" fn secondary_main(index: u64) -> ! {
        ns_el2::smp::secondary(index as usize)
    }

    /// Ends QEMU: semihosting exit 0 (`ok`) or 1, else PSCI SYSTEM_OFF.
    fn exit(ok: bool) -> ! {
        ns_el2::exceptions::set_exiting();
        rmm_arch::semihosting::exit(if ok { 0 } else { 1 });
        ns_el2::psci::system_off();
        loop {
            core::hint::spin_loop();
        }
    }

    /// The VMM's configuration from fw_cfg.
    fn config() -> Result<(Config, [u8; BOOTARGS], usize), &'static str> {
        let mut text = [0u8; 256];
        let n = rmm_arch::fwcfg::read_file(b"opt/rmm/vmm", &mut text)
            .ok_or("no fw_cfg opt/rmm/vmm: start the VMM with scripts/run --linux")?;
        let config = config::parse(&text[..n]).map_err(|e| match e {
            config::ConfigError::Unknown => "opt/rmm/vmm: an unknown word",
            config::ConfigError::Bad(_) => "opt/rmm/vmm: a bad value",
            config::ConfigError::Missing(_) => "opt/rmm/vmm: a missing key",
        })?;
        let mut bootargs = [0u8; BOOTARGS];
        let len = rmm_arch::fwcfg::read_file(b"opt/rmm/vmm-bootargs", &mut bootargs).unwrap_or(0);
        Ok((config, bootargs, len))
    }

    fn run(x0: u64) -> Result<(), &'static str> {
        let vmm_start = cpu::ticks();
        // SAFETY: MMU off, reads of NS DRAM that nothing writes while we read it; `Fdt::at`
        // checks alignment and bounds.
        let host = unsafe { Fdt::at(x0).or_else(|| Fdt::at(DRAM_BASE)) }
            .ok_or("no device tree at x0 nor at the start of DRAM")?;
        let (dram_base, dram_size) = host.memory().ok_or("the device tree has no memory")?;
        let cpus = cpu::init(&host)?.used;
        gic::init_regions(&host);
        let (config, bootargs, bootargs_len) = config()?;
        let bootargs = core::str::from_utf8(&bootargs[..bootargs_len])
            .map_err(|_| "the kernel command line is not UTF-8")?
            .trim_end_matches(['\0', '\n']);
        if config.vcpus > MAX_VCPUS {
            return Err("more vCPUs than the guest's GICv3 redistributor region holds (123)");
        }
        if config.vcpus > cpus {
            return Err("more vCPUs than CPUs: give QEMU -smp at least the vCPU count");
        }
        let (pool_base, pool_end) = pool::init(config.pool, dram_base + dram_size);
        say!(
            "{} vCPUs, {} MiB of guest RAM; pool {:#x}..{:#x} ({} MiB)",
            config.vcpus,
            config.ram >> 20,
            pool_base,
            pool_end,
            (pool_end - pool_base) >> 20
        );
        let guest = layout_guest(&config, bootargs)?;
        let start = cpu::ticks();
        let realm = realm::build(&guest).map_err(|e| {
            say!("building the realm: {}", e);
            "the realm could not be built"
        })?;
        let build_ms = cpu::millis_since(start);
        say!("realm built in {} ms", build_ms);
        // The line the attestation check (`rmm-token verify`) compares the token's RIM with.
        say!("RIM {}", Hex(realm.rim.digest(realm::RHA)));
        let mpidrs: [u64; MAX_VCPUS] = core::array::from_fn(realm::mpidr);
        devices::init(&mpidrs[..config.vcpus]);
        let running = cpu::ticks();
        let ending = vcpu::run(realm).ok_or("the vCPUs did not stop")?;
        let ran_ms = cpu::millis_since(running);
        say!("guest ended: {:?} after {} ms", ending, ran_ms);
        say!("{}", devices::Stats(ran_ms));
        if let Some(up) = devices::guest_up_at() {
            // Milliseconds from `from` to `up`.
            let until_up =
                |from: u64| cpu::millis_since(from).saturating_sub(cpu::millis_since(up));
            say!(
                "time to the guest's init: {} ms from the VMM's start ({} ms building the realm, {} ms of guest boot)",
                until_up(vmm_start),
                build_ms,
                until_up(running)
            );
        }
        let errors = realm::teardown(realm);
        let (still, total, unreadable) = pool::audit();
        say!(
            "realm destroyed: {} granules delegated over the run, {} still delegated, {} teardown errors",
            total,
            still,
            errors
        );
        if let Some(pa) = unreadable {
            say!("granule {:#x} is not readable by the Normal world", pa);
        }
        if still != 0 || errors != 0 || unreadable.is_some() {
            return Err("not every granule went back to the Normal world");
        }
        say!("every granule went back to the Normal world");
        match ending {
            vcpu::Ending::GuestError => Err("the guest misbehaved"),
            _ => Ok(()),
        }
    }

    /// Where the kernel, the initramfs and the device tree go in guest RAM, and the tree
    /// itself (written into a pool granule range).
    fn layout_guest(config: &Config, bootargs: &str) -> Result<realm::Guest, &'static str> {
        let (kernel_pa, kernel_size) = config.kernel;
        // SAFETY: the Image header's first 64 bytes, in NS DRAM where QEMU loaded the kernel.
        let header =
            |offset: u64| unsafe { core::ptr::read_volatile((kernel_pa + offset) as *const u64) };
        // arm64 Image header (Linux Documentation/arch/arm64/booting.rst): magic "ARM\x64" at
        // 0x38, image_size (with BSS) at 0x10.
        if header(0x38) as u32 != 0x644d_5241 {
            return Err("the kernel is not an arm64 Image");
        }
        let image_size = header(0x10).max(kernel_size);
        const MIB2: u64 = 2 << 20;
        let initrd_ipa = RAM_BASE + image_size.next_multiple_of(MIB2) + MIB2;
        let initrd = config.initrd.map(|(pa, size)| realm::Blob {
            host: (pa, size),
            ipa: initrd_ipa,
        });
        let dtb_ipa = RAM_BASE + config.ram - MIB2;
        if initrd.is_some_and(|b| b.ipa + b.host.1 > dtb_ipa) || initrd_ipa > dtb_ipa {
            return Err("the kernel and initramfs do not fit the guest's RAM");
        }
        let mpidrs: [u64; MAX_VCPUS] = core::array::from_fn(realm::mpidr);
        let features = realm::Features::offered().map_err(|_| "RMI_FEATURES failed")?;
        let tree = super::pool::take(DTB_MAX / GRANULE_SIZE, 1).map_err(|_| "no memory")?;
        // SAFETY: DTB_MAX bytes of pool memory just taken, used by nothing else (MMU off).
        let buf =
            unsafe { core::slice::from_raw_parts_mut(tree.pa() as *mut u8, DTB_MAX as usize) };
        let size = dtb::write(
            &GuestConfig {
                vcpus: &mpidrs[..config.vcpus],
                ram_size: config.ram,
                initrd: initrd.map(|b| (b.ipa, b.ipa + b.host.1)),
                bootargs,
                pmu: features.pmu_counters.is_some(),
            },
            buf,
        )
        .map_err(|_| "the device tree does not fit")?;
        say!(
            "kernel {} MiB, initramfs {} KiB, device tree {} bytes; bootargs: {}",
            kernel_size >> 20,
            config.initrd.map_or(0, |i| i.1 >> 10),
            size,
            bootargs
        );
        Ok(realm::Guest {
            features,
            ram: config.ram,
            vcpus: config.vcpus,
            blobs: [
                Some(realm::Blob {
                    host: config.kernel,
                    ipa: RAM_BASE,
                }),
                initrd,
                Some(realm::Blob {
                    host: (tree.pa(), size as u64),
                    ipa: dtb_ipa,
                }),
            ],
        })
    }

    /// Bytes in hex.
    struct Hex<'a>(&'a [u8]);

    impl core::fmt::Display for Hex<'_> {
        fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
            self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
        }
    }
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    ns_el2::println!(
        "realm-vmm: panic on CPU {}: {}",
        ns_el2::cpu::current(),
        info
    );
    ns_el2::fatal()
}

/// Built for the host, the image is an empty program, so that workspace builds, tests and
/// clippy on the host cover it.
#[cfg(not(target_os = "none"))]
fn main() {}
