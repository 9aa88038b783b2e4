//! PSCI 1.1 for the Normal world (Arm DEN0022 "Arm Power State Coordination Interface"),
//! and the EL3 pen where OFF CPUs wait.
//!
//! Functions: PSCI_VERSION (1.1), PSCI_FEATURES, CPU_ON, CPU_OFF, AFFINITY_INFO,
//! MIGRATE_INFO_TYPE (2: no Trusted OS), SYSTEM_OFF, SYSTEM_RESET; SMC32 and SMC64 IDs.
//! Also SMCCC_VERSION (1.1) and SMCCC_ARCH_FEATURES (nothing: NOT_SUPPORTED).
//! Return codes (DEN0022 5.2.2): SUCCESS 0, NOT_SUPPORTED -1, INVALID_PARAMETERS -2,
//! DENIED -3, ALREADY_ON -4, ON_PENDING -5.
//!
//! CPU_ON claims the target with a compare-and-swap OFF -> ON_PENDING on its affinity state
//! (so two concurrent CPU_ONs for one target give one SUCCESS and one ON_PENDING/ALREADY_ON),
//! then posts the mailbox (cpu.rs) and sends the pen SGI. The target sets ON when it leaves
//! the pen. CPU_OFF sets OFF and parks; the RMM's realm context on that CPU is kept, so the
//! next CPU_ON goes straight to the Normal world.
//!
//! SYSTEM_RESET is implemented as an exit of QEMU with status 0, like SYSTEM_OFF (a test
//! firmware has nothing to reset into).

use crate::context::{Ctx, World};
use crate::cpu::{
    self, PerCpu, AFF_OFF, AFF_ON, AFF_ON_PENDING, CMD_CPU_ON, CMD_WARM_BOOT, SHARED,
};
use crate::{gic, println, rmm, scr, topology};
use core::sync::atomic::Ordering;

const SUCCESS: u64 = 0;
const NOT_SUPPORTED: u64 = -1i64 as u64;
const INVALID_PARAMETERS: u64 = -2i64 as u64;
const ALREADY_ON: u64 = -4i64 as u64;
const ON_PENDING: u64 = -5i64 as u64;

const PSCI_VERSION: u32 = 0x8400_0000;
const CPU_OFF: u32 = 0x8400_0002;
const CPU_ON_32: u32 = 0x8400_0003;
const CPU_ON_64: u32 = 0xC400_0003;
const AFFINITY_INFO_32: u32 = 0x8400_0004;
const AFFINITY_INFO_64: u32 = 0xC400_0004;
const MIGRATE_INFO_TYPE: u32 = 0x8400_0006;
const SYSTEM_OFF: u32 = 0x8400_0008;
const SYSTEM_RESET: u32 = 0x8400_0009;
const PSCI_FEATURES: u32 = 0x8400_000A;
const SMCCC_VERSION: u32 = 0x8000_0000;
const SMCCC_ARCH_FEATURES: u32 = 0x8000_0001;

/// PSCI 1.1.
const VERSION_1_1: u64 = 0x1_0001;
/// SMCCC 1.1.
const SMCCC_1_1: u64 = 0x1_0001;
/// MIGRATE_INFO_TYPE: Trusted OS not present or does not require migration.
const NO_TRUSTED_OS: u64 = 2;

/// True for the FIDs handled here.
pub fn is_psci(fid: u32) -> bool {
    (0x8400_0000..=0x8400_001F).contains(&fid)
        || (0xC400_0000..=0xC400_001F).contains(&fid)
        || fid == SMCCC_VERSION
        || fid == SMCCC_ARCH_FEATURES
}

fn supported(fid: u32) -> bool {
    matches!(
        fid,
        PSCI_VERSION
            | CPU_OFF
            | CPU_ON_32
            | CPU_ON_64
            | AFFINITY_INFO_32
            | AFFINITY_INFO_64
            | MIGRATE_INFO_TYPE
            | SYSTEM_OFF
            | SYSTEM_RESET
            | PSCI_FEATURES
            | SMCCC_VERSION
    )
}

/// The CPU index of `mpidr` if it names a CPU EL3 runs (only its affinity fields count:
/// Aff3 [39:32], Aff2..Aff0 [23:0]).
fn target(mpidr: u64) -> Option<usize> {
    topology::index_of(mpidr)
}

/// Handles a PSCI/SMCCC call from the Normal world on `cpu`.
pub fn handle(cpu: &mut PerCpu) -> *mut Ctx {
    let fid = cpu.ns.x[0] as u32;
    let smc32 = fid & 0x4000_0000 == 0;
    let arg = |i: usize, x: &[u64; 31]| if smc32 { x[i] & 0xffff_ffff } else { x[i] };
    let x = cpu.ns.x;
    let ret = match fid {
        PSCI_VERSION => VERSION_1_1,
        SMCCC_VERSION => SMCCC_1_1,
        PSCI_FEATURES => {
            if supported(arg(1, &x) as u32) {
                SUCCESS
            } else {
                NOT_SUPPORTED
            }
        }
        MIGRATE_INFO_TYPE => NO_TRUSTED_OS,
        CPU_ON_32 | CPU_ON_64 => cpu_on(arg(1, &x), arg(2, &x), arg(3, &x)),
        AFFINITY_INFO_32 | AFFINITY_INFO_64 => affinity_info(arg(1, &x), arg(2, &x)),
        // Quietly: a line here would cut the lines other CPUs of the Normal world print
        // meanwhile (the worlds share the UART, not a lock).
        CPU_OFF => return park(cpu),
        SYSTEM_OFF => {
            println!("EL3: SYSTEM_OFF");
            crate::exit(0)
        }
        SYSTEM_RESET => {
            println!("EL3: SYSTEM_RESET (exiting QEMU with status 0)");
            crate::exit(0)
        }
        _ => NOT_SUPPORTED,
    };
    cpu.ns.x[0] = ret;
    cpu.enter(World::NonSecure)
}

fn cpu_on(mpidr: u64, entry: u64, context_id: u64) -> u64 {
    let Some(t) = target(mpidr) else {
        return INVALID_PARAMETERS;
    };
    // AcqRel on success: Acquire pairs with the target's Release store of OFF in `park`
    // (its previous run is over), Release orders nothing yet (the mailbox follows).
    match SHARED[t].aff.compare_exchange(
        AFF_OFF,
        AFF_ON_PENDING,
        Ordering::AcqRel,
        Ordering::Relaxed,
    ) {
        Ok(_) => {
            send(t, CMD_CPU_ON, entry, context_id);
            SUCCESS
        }
        Err(AFF_ON_PENDING) => ON_PENDING,
        Err(_) => ALREADY_ON,
    }
}

fn affinity_info(mpidr: u64, level: u64) -> u64 {
    if level != 0 {
        return INVALID_PARAMETERS;
    }
    match target(mpidr) {
        // Acquire: pairs with the Release stores of the state by the target.
        Some(t) => u64::from(SHARED[t].aff.load(Ordering::Acquire)),
        None => INVALID_PARAMETERS,
    }
}

/// Posts a pen command to CPU `t` and wakes it (see the protocol in cpu.rs).
pub fn send(t: usize, cmd: u64, entry: u64, arg: u64) {
    let s = &SHARED[t];
    // Relaxed: published by the Release store of `cmd` below.
    s.entry.store(entry, Ordering::Relaxed);
    s.arg.store(arg, Ordering::Relaxed);
    // Release: pairs with the Acquire swap in `park` on CPU t.
    s.cmd.store(cmd, Ordering::Release);
    gic::send_pen_sgi(topology::affinity(t));
}

/// Parks this CPU in the pen (PSCI OFF) until a command arrives; returns the context to
/// enter.
pub fn park(cpu: &mut PerCpu) -> *mut Ctx {
    let s = &SHARED[cpu.index];
    gic::pen_sgi_enable(true);
    // Release: pairs with the AcqRel CAS in `cpu_on` and the Acquire in `affinity_info`.
    s.aff.store(AFF_OFF, Ordering::Release);
    let ctx = loop {
        // Acquire: pairs with the Release store in `send`.
        match s.cmd.swap(cpu::CMD_NONE, Ordering::Acquire) {
            CMD_WARM_BOOT => break rmm::warm_boot(cpu),
            CMD_CPU_ON => {
                // Relaxed: ordered by the Acquire swap above.
                let entry = s.entry.load(Ordering::Relaxed);
                let arg = s.arg.load(Ordering::Relaxed);
                // Release: pairs with the Acquire in `affinity_info`.
                s.aff.store(AFF_ON, Ordering::Release);
                let scr = scr(World::NonSecure, &cpu.features);
                break cpu.enter_fresh(World::NonSecure, entry, [arg, 0, 0, 0], scr);
            }
            _ => {}
        }
        // SAFETY: waits for an interrupt (the pen SGI); PSTATE.F is masked, so it is not
        // taken, only ends the WFI.
        unsafe { core::arch::asm!("wfi", options(nostack)) };
        gic::ack_pen_sgi();
    };
    gic::pen_sgi_enable(false);
    ctx
}
