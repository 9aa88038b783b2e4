//! The RMM side of EL3: cold and warm boot through RMM-EL3 interface 0.3, RMI forwarding,
//! and the calls the RMM makes (GTSI, attestation, boot complete).
//!
//! Source: TF-A `docs/components/rmm-el3-comms-spec.rst` (interface 0.3) and TF-A RMMD
//! (`services/std_svc/rmmd`): cold boot x0 = CPU index, x1 = interface version, x2 = number
//! of CPUs, x3 = shared buffer PA; warm boot x0 = CPU index, x1..x3 = 0; one entry point;
//! an RMM that reports a boot error is never entered again, and RMI calls then return
//! SMC_UNK. RMI forwarding copies NS x0..x7 into the realm context; RMM_RMI_REQ_COMPLETE
//! returns realm x1..x7 as NS x0..x6, and NS x7..x16 zero unless the function is unknown
//! ([`rmm_arch::el3::rmi_return`]: spec B1.2).

use crate::context::World;
use crate::cpu::{Boot, PerCpu, BOOT_PENDING, CMD_WARM_BOOT, SHARED};
use crate::quirks::{self, Quirk};
use crate::{attest, fatal, gpt, println, psci, scr, topology};
use core::ops::Range;
use core::sync::atomic::{AtomicU32, Ordering};
use rmm_arch::el3::{
    RMM_ATTEST_GET_PLAT_TOKEN, RMM_ATTEST_GET_REALM_KEY, RMM_BOOT_COMPLETE, RMM_GTSI_DELEGATE,
    RMM_GTSI_UNDELEGATE, RMM_RMI_REQ_COMPLETE,
};
use rmm_arch::layout::qemu::{RMM_BASE, SHARED_BUF_BASE, TFA_SHARED_BUF_BASE};

/// The RMM-EL3 shared buffer: after the RMM's region, which is this firmware's 64 MiB or, with
/// the `tf-a-layout` quirk, TF-A's 24 MiB. Both pages are mapped Realm at EL3 (mmu.rs).
pub fn shared_buf() -> u64 {
    if quirks::on(Quirk::TfaLayout) {
        TFA_SHARED_BUF_BASE
    } else {
        SHARED_BUF_BASE
    }
}

/// The memory that is Realm from boot and never changes PAS: the RMM's region and the shared
/// buffer.
pub fn region() -> Range<u64> {
    RMM_BASE..shared_buf() + rmm_arch::GRANULE_SIZE
}

/// SMC_UNK / E_RMM_UNK.
pub const SMC_UNK: u64 = rmm_arch::el3::SMC_UNK;
const BAD_ADDR: u64 = -2i64 as u64;
const BAD_PAS: u64 = -3i64 as u64;

/// RMM-EL3 interface version passed at cold boot: 0.3.
pub const IFC_VERSION: u64 = rmm_arch::el3::MIN_IFC_VERSION.encode() as u64;

const STATE_NONE: u32 = 0;
const STATE_OK: u32 = 1;
const STATE_FAILED: u32 = 2;

/// The RMM's global state. Written by the primary (cold boot, warm-boot results) before it
/// enters the Normal world; read by every CPU on RMI calls. Release on write pairs with the
/// Acquire loads in [`ready`].
static STATE: AtomicU32 = AtomicU32::new(STATE_NONE);

fn ready(cpu: &PerCpu) -> bool {
    // Acquire: pairs with the Release stores in `boot_complete_*`.
    STATE.load(Ordering::Acquire) == STATE_OK && cpu.rmm_ready
}

/// True for the FIDs forwarded to the RMM (SMC64, OEN 4): 0xC4000150..=0xC400018F and
/// 0xC40001D0..=0xC40002CF, ignoring the SMCCC 1.3 SVE hint (bit 16).
pub fn is_rmi(fid: u32) -> bool {
    let f = fid & !(1 << 16);
    (0xC400_0150..=0xC400_018F).contains(&f) || (0xC400_01D0..=0xC400_02CF).contains(&f)
}

/// Cold boot on the primary: enters the RMM at R-EL2.
pub fn cold_boot(cpu: &mut PerCpu, num_cpus: u64) -> *mut crate::context::Ctx {
    println!(
        "EL3: RMM cold boot on CPU {}: entry {:#x}, x1 = {:#x} (interface 0.3), x2 = {}, x3 = {:#x}",
        cpu.index,
        RMM_BASE,
        IFC_VERSION,
        num_cpus,
        shared_buf()
    );
    cpu.booting = Some(Boot::Cold);
    let args = [cpu.index as u64, IFC_VERSION, num_cpus, shared_buf()];
    let scr = scr(World::Realm, &cpu.features);
    cpu.enter_fresh(World::Realm, RMM_BASE, args, scr)
}

/// Warm boot on a secondary (pen command).
pub fn warm_boot(cpu: &mut PerCpu) -> *mut crate::context::Ctx {
    cpu.booting = Some(Boot::Warm);
    let args = [cpu.index as u64, 0, 0, 0];
    let scr = scr(World::Realm, &cpu.features);
    cpu.enter_fresh(World::Realm, RMM_BASE, args, scr)
}

/// An SMC from the Normal world in the RMI range.
pub fn forward_rmi(cpu: &mut PerCpu) -> *mut crate::context::Ctx {
    if !ready(cpu) {
        cpu.ns.x[0] = SMC_UNK;
        return cpu.enter(World::NonSecure);
    }
    let (ns, realm) = (&cpu.ns, &mut cpu.realm);
    realm.x[..8].copy_from_slice(&ns.x[..8]);
    cpu.rmi_pending = true;
    cpu.enter(World::Realm)
}

/// An SMC from the RMM.
pub fn realm_smc(cpu: &mut PerCpu) -> *mut crate::context::Ctx {
    let fid = u64::from(cpu.realm.x[0] as u32);
    match fid {
        RMM_BOOT_COMPLETE => boot_complete(cpu),
        RMM_RMI_REQ_COMPLETE if cpu.rmi_pending => {
            cpu.rmi_pending = false;
            let (ns, realm) = (&mut cpu.ns, &cpu.realm);
            let rmm: &[u64; 7] = realm.x[1..8].try_into().expect("seven registers");
            let caller: &[u64; 17] = ns.x[..17].try_into().expect("seventeen registers");
            let out = rmm_arch::el3::rmi_return(rmm, caller);
            ns.x[..17].copy_from_slice(&out);
            cpu.enter(World::NonSecure)
        }
        RMM_GTSI_DELEGATE | RMM_GTSI_UNDELEGATE => {
            let (from, to) = if fid == RMM_GTSI_DELEGATE {
                (gpt::GPI_NS, gpt::GPI_REALM)
            } else {
                (gpt::GPI_REALM, gpt::GPI_NS)
            };
            cpu.realm.x[0] = match gpt::transition(cpu.realm.x[1], from, to) {
                Ok(()) => 0,
                Err(gpt::GptError::BadAddr) => BAD_ADDR,
                Err(gpt::GptError::BadPas) => BAD_PAS,
            };
            cpu.enter(World::Realm)
        }
        RMM_ATTEST_GET_REALM_KEY => {
            attest::get_realm_key(&mut cpu.realm.x);
            cpu.enter(World::Realm)
        }
        RMM_ATTEST_GET_PLAT_TOKEN => {
            attest::get_plat_token(&mut cpu.realm.x);
            cpu.enter(World::Realm)
        }
        _ => {
            cpu.realm.x[0] = SMC_UNK;
            cpu.enter(World::Realm)
        }
    }
}

fn boot_complete(cpu: &mut PerCpu) -> *mut crate::context::Ctx {
    let status = cpu.realm.x[1] as i64;
    match cpu.booting.take() {
        Some(Boot::Cold) => {
            if status == 0 {
                cpu.rmm_ready = true;
                // Release: pairs with the Acquire in `ready` on every CPU.
                STATE.store(STATE_OK, Ordering::Release);
                println!("EL3: RMM cold boot ok on CPU {}", cpu.index);
                boot_secondaries();
            } else {
                // Release: as above.
                STATE.store(STATE_FAILED, Ordering::Release);
                println!(
                    "EL3: RMM cold boot error {status}: the RMM will not be entered again, RMI calls get SMC_UNK"
                );
            }
            crate::enter_ns_primary(cpu)
        }
        Some(Boot::Warm) => {
            if status == 0 {
                cpu.rmm_ready = true;
            }
            // Release: pairs with the primary's Acquire load in `boot_secondaries`.
            SHARED[cpu.index]
                .boot_result
                .store(status, Ordering::Release);
            // SAFETY: `sev` only sets the event register of every PE.
            unsafe { core::arch::asm!("dsb sy", "sev", options(nostack)) };
            psci::park(cpu)
        }
        None => fatal::message(
            &cpu.realm,
            format_args!("RMM_BOOT_COMPLETE({status}) outside of a boot"),
        ),
    }
}

/// CPUs per progress line of [`boot_secondaries`].
const PROGRESS_EVERY: usize = 32;

/// Warm-boots the RMM on every other CPU, one at a time, each parking in the pen (PSCI OFF)
/// after its RMM_BOOT_COMPLETE, with a line every [`PROGRESS_EVERY`] CPUs (each boot takes a
/// few ms of QEMU time; 512 of them add up). Stops at the first error, which marks the RMM
/// failed.
fn boot_secondaries() {
    let n = topology::count();
    let mut first = 1;
    for (i, shared) in SHARED.iter().enumerate().take(n).skip(1) {
        // Relaxed: published by the Release store of `cmd` in `psci::send`.
        shared.boot_result.store(BOOT_PENDING, Ordering::Relaxed);
        psci::send(i, CMD_WARM_BOOT, 0, 0);
        let deadline = crate::time::now_us() + 10_000_000;
        let status = loop {
            // Acquire: pairs with the Release store in `boot_complete` on CPU i.
            let r = shared.boot_result.load(Ordering::Acquire);
            if r != BOOT_PENDING {
                break Some(r);
            }
            if crate::time::now_us() > deadline {
                break None;
            }
            // SAFETY: waits for an event (CPU i's `sev`) or times out; no memory effect.
            unsafe { core::arch::asm!("wfe", options(nostack)) };
        };
        match status {
            Some(0) if i + 1 == n || i % PROGRESS_EVERY == 0 => {
                println!(
                    "EL3: RMM warm boot ok on CPUs {first}..={i} (MPIDR {:#x}), {} ms since reset",
                    topology::mpidr_of(topology::affinity(i)),
                    crate::time::now_us() / 1000
                );
                first = i + 1;
            }
            Some(0) => {}
            Some(e) => {
                println!(
                    "EL3: RMM warm boot error {e} on CPU {i}: the RMM will not be entered again"
                );
                // Release: pairs with the Acquire in `ready`.
                STATE.store(STATE_FAILED, Ordering::Release);
                return;
            }
            None => {
                println!(
                    "EL3: RMM warm boot on CPU {i} timed out: the RMM will not be entered again"
                );
                // Release: pairs with the Acquire in `ready`.
                STATE.store(STATE_FAILED, Ordering::Release);
                return;
            }
        }
    }
}
