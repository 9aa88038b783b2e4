//! The test host: a bare-metal Normal-world payload at NS-EL2 that runs RMI scenarios on QEMU
//! (or, with fw_cfg `opt/rmm/test-host` = `perf`, the REC enter/exit measurements of [`perf`]).
//!
//! Booted by the EL3 firmware on CPU 0 at 0x6000_0000 with x0 = DTB address (or anything: the
//! tree QEMU placed at the start of DRAM is used then), MMU off. It runs
//! the scenarios of `scenarios/` in order, each printing `PASS <name>` or `FAIL <name>: <why>`,
//! then `test-host: N passed, M failed`, and exits QEMU through semihosting with status 0 if
//! everything passed (1 otherwise), or PSCI SYSTEM_OFF without semihosting.
#![cfg_attr(target_os = "none", no_std, no_main)]
// A failed scenario carries its message in a fixed 200-byte buffer (`report::Why`: there is no
// allocator); failures are the cold path and the copies are cheap next to an SMC.
#![allow(clippy::result_large_err)]

#[cfg(target_os = "none")]
use ns_el2::{console, cpu, gic, granule, psci, rmi, smp};
#[cfg(target_os = "none")]
mod params;
#[cfg(target_os = "none")]
mod perf;
#[cfg(target_os = "none")]
mod pool;
#[cfg(target_os = "none")]
mod realm_code;
#[cfg(target_os = "none")]
mod realm_payload;
#[cfg(target_os = "none")]
mod report;
#[cfg(target_os = "none")]
mod scenarios;

/// CPU 0, from `_start`: run every scenario, report, exit.
#[cfg(target_os = "none")]
#[no_mangle]
extern "C" fn primary_main(dtb: u64) -> ! {
    use console::println;
    ns_el2::init("test-host", || report::exit_now(false));
    console::init();
    println!(
        "test-host: NS-EL2 test host on CPU {} (MPIDR {:#x}), DTB at {:#x}",
        cpu::current(),
        rmm_arch::read_sysreg!("mpidr_el1"),
        dtb
    );
    let tree = device_tree(dtb);
    let Some((dram_base, dram_size)) = tree.memory() else {
        println!("FAIL test-host/device_tree: it has no memory node");
        report::exit_now(false)
    };
    println!(
        "test-host: DRAM {:#x}..{:#x} ({} MiB)",
        dram_base,
        dram_base + dram_size,
        dram_size >> 20
    );
    let cpus = match cpu::init(&tree) {
        Ok(cpu::Cpus { listed, used }) => {
            if used < listed {
                println!(
                    "test-host: the device tree lists {} CPUs; using {}",
                    listed, used
                );
            }
            used
        }
        Err(why) => {
            println!("FAIL test-host/device_tree: {}", why);
            report::exit_now(false)
        }
    };
    println!("test-host: {} CPUs", cpus);
    gic::init();
    gic::init_regions(&tree);
    let mut pool = pool::Pool::new();
    if perf_mode() {
        perf::run(&mut pool);
    }
    scenarios::version::run();
    scenarios::delegate::run(&mut pool, dram_base + dram_size);
    scenarios::realm::run(&mut pool, cpus);
    realm_payload::run(&mut pool, cpus);
    realm_payload::sve_peers::run(&mut pool);
    scenarios::sve::run(&mut pool);
    scenarios::lpa2::run(&mut pool);
    report::finish()
}

/// The device tree: the one x0 points to, else the one QEMU `virt` places at the start of DRAM
/// (said on the console). Without one the run fails: the CPUs cannot be known.
#[cfg(target_os = "none")]
fn device_tree(x0: u64) -> rmm_arch::fdt::Fdt<'static> {
    use console::println;
    use rmm_arch::fdt::Fdt;
    use rmm_arch::layout::qemu::DRAM_BASE;
    // SAFETY: with the MMU off, reads of NS DRAM, which nothing writes while the test host
    // runs; `Fdt::at` checks the alignment and reads no further than the header allows.
    if let Some(tree) = unsafe { Fdt::at(x0) } {
        return tree;
    }
    // SAFETY: as above; QEMU `virt` puts its tree at the start of DRAM.
    if let Some(tree) = unsafe { Fdt::at(DRAM_BASE) } {
        println!(
            "test-host: x0 = {:#x} is not a device tree; using the one QEMU virt placed at {:#x}",
            x0, DRAM_BASE
        );
        return tree;
    }
    println!(
        "FAIL test-host/device_tree: none at x0 = {:#x} nor at {:#x} (QEMU virt's place): the CPUs are unknown",
        x0, DRAM_BASE
    );
    report::exit_now(false)
}

/// Whether `scripts/perf` asked for the perf mode (fw_cfg `opt/rmm/test-host` = `perf`).
#[cfg(target_os = "none")]
fn perf_mode() -> bool {
    use rmm_arch::perf::{TEST_HOST_MODE_FILE, TEST_HOST_MODE_PERF};
    let mut buf = [0u8; 16];
    let n = rmm_arch::fwcfg::read_file(TEST_HOST_MODE_FILE, &mut buf).unwrap_or(0);
    buf.get(..n).map(<[u8]>::trim_ascii) == Some(TEST_HOST_MODE_PERF)
}

/// The other CPUs, from `secondary_entry` (PSCI CPU_ON with context id = CPU index).
#[cfg(target_os = "none")]
#[no_mangle]
extern "C" fn secondary_main(index: u64) -> ! {
    smp::secondary(index as usize)
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    console::println!("test-host: panic on CPU {}: {}", cpu::current(), info);
    report::exit_now(false)
}

/// Built for the host, the image is an empty program, so that `cargo test --workspace` and
/// clippy on the host cover the workspace.
#[cfg(not(target_os = "none"))]
fn main() {}
