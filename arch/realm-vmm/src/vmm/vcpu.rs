//! The vCPUs: vCPU i runs on physical CPU i, entering its REC with RMI_REC_ENTER and serving
//! each exit (RMM spec A4.3): emulated MMIO, memory on first touch, SGIs, WFI, PSCI, RIPAS
//! changes. A vCPU that sends an interrupt to another one running elsewhere kicks that CPU
//! with a physical SGI, so that its REC exits and takes the new interrupt.

use super::devices;
use super::realm::Realm;
use super::say;
use core::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, AtomicU8, Ordering};
use ns_el2::rec_run::{self, Exit, RecRun, LRS};
use ns_el2::{cpu, rmi, smp};
use realm_vmm::layout::{MAX_VCPUS, UNPROTECTED_BIT};
use realm_vmm::mmio::{MmioAccess, Region};
use rmm_arch::{read_sysreg, GRANULE_SIZE};

/// ESR_EL2.EC values of the exits served here.
const EC_WFX: u64 = 0x01;
const EC_SYSREG: u64 = 0x18;
const EC_DABT_LOWER: u64 = 0x24;
/// PSCI function IDs (B6) the exits carry.
const PSCI_CPU_SUSPEND: u64 = 0xC400_0001;
const PSCI_CPU_SUSPEND_32: u64 = 0x8400_0001;
const PSCI_CPU_OFF: u64 = 0x8400_0002;
const PSCI_CPU_ON: u64 = 0xC400_0003;
const PSCI_CPU_ON_32: u64 = 0x8400_0003;
const PSCI_AFFINITY_INFO: u64 = 0xC400_0004;
const PSCI_AFFINITY_INFO_32: u64 = 0x8400_0004;
const PSCI_SYSTEM_OFF: u64 = 0x8400_0008;
const PSCI_SYSTEM_RESET: u64 = 0x8400_0009;
/// The physical SGI that kicks a CPU out of its realm or its WFI.
pub const KICK_SGI: u64 = 14;
/// Most consecutive exits for the same Protected IPA before the guest is declared broken.
const MAX_SAME_FAULT: u32 = 16;

/// Where each vCPU is.
const OFF: u8 = 0;
const IN_VMM: u8 = 1;
const IN_REALM: u8 = 2;
const IDLE: u8 = 3;

/// Per vCPU: where it is. No interrupt is lost between a vCPU about to run or wait and a vCPU
/// that gives it one: the first stores IN_REALM or IDLE and then (SeqCst fence) looks at the
/// vGIC; the second changes the vGIC and then (SeqCst fence) reads the state to decide whether
/// to kick ([`kick`]). One of them sees the other (the store-fence, fence-load pattern).
static STATE: [AtomicU8; MAX_VCPUS] = [const { AtomicU8::new(OFF) }; MAX_VCPUS];

/// Sets vCPU `i`'s state before it looks at its interrupts (see [`STATE`]).
fn announce(i: usize, state: u8) {
    STATE[i].store(state, Ordering::SeqCst);
    fence(Ordering::SeqCst);
}
/// The realm, set by CPU 0 before the first runner starts (Release), read by the runners
/// (Acquire).
static REALM: AtomicPtr<Realm> = AtomicPtr::new(core::ptr::null_mut());
/// The guest asked for SYSTEM_OFF or RESET, or broke: every runner stops.
static SHUTDOWN: AtomicBool = AtomicBool::new(false);
/// Why the run ended: 0 SYSTEM_OFF, 1 SYSTEM_RESET, 2 guest error.
static ENDING: AtomicU8 = AtomicU8::new(0);
/// Exits by reason (RmiRecExitReason, 0..=6) and of which MMIO (index 7), SGI (8), WFI (9),
/// a RAM page's first touch (10), an Unprotected page's first touch (11).
pub static EXITS: [AtomicU64; 12] = [const { AtomicU64::new(0) }; 12];

/// How the guest's run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    SystemOff,
    SystemReset,
    GuestError,
}

fn realm() -> &'static Realm {
    // Acquire: pairs with the Release in `run`.
    // SAFETY: `run` publishes the realm before any runner starts and takes it back only after
    // every runner has stopped, so the pointer is valid whenever a runner calls this; the
    // runners only read it (its memory changes go through `realm::MEMORY`).
    unsafe { &*REALM.load(Ordering::Acquire) }
}

/// Ends the guest's run with `why`.
fn shut_down(why: Ending) {
    ENDING.store(why as u8, Ordering::Relaxed);
    SHUTDOWN.store(true, Ordering::Release);
    for target in 0..MAX_VCPUS {
        kick(target);
    }
}

/// Runs the guest: vCPU 0 on this CPU (0), the others on theirs as the guest starts them.
/// Returns how the guest ended once every runner has stopped, or `None` if some did not (the
/// realm must then be left alone: a runner may still use it).
pub fn run(realm: &Realm) -> Option<Ending> {
    let vcpus = realm.vcpus;
    REALM.store((realm as *const Realm).cast_mut(), Ordering::Release);
    devices::init_cpu();
    STATE[0].store(IN_VMM, Ordering::Relaxed);
    runner(0);
    // The others stop at the next exit or wake-up after SHUTDOWN.
    let stopped = cpu::wait_until(cpu::Deadline::after_seconds(30), || {
        (1..vcpus).all(|i| STATE[i].load(Ordering::Acquire) == OFF)
    });
    if !stopped {
        say!("some vCPUs did not stop within 30 s");
        return None;
    }
    REALM.store(core::ptr::null_mut(), Ordering::Relaxed);
    Some(match ENDING.load(Ordering::Relaxed) {
        0 => Ending::SystemOff,
        1 => Ending::SystemReset,
        _ => Ending::GuestError,
    })
}

/// A secondary vCPU's job (the SMP mailbox runs it on CPU `index`).
fn secondary(index: usize) {
    devices::init_cpu();
    runner(index);
}

/// What the next REC_ENTER gives the REC.
#[derive(Default)]
struct Next {
    flags: u64,
    gprs: [u64; 1],
}

/// Enters vCPU `i`'s REC until it is off or the guest ends.
fn runner(i: usize) {
    let realm = realm();
    let run = RecRun(realm.runs[i]);
    let mut next = Next::default();
    let mut same_fault = (0u64, 0u32);
    let mut lrs = [0u64; LRS];
    while !SHUTDOWN.load(Ordering::Acquire) {
        announce(i, IN_REALM);
        let hcr = devices::fill_lrs(i, &mut lrs);
        run.enter(next.flags | rec_run::FLAG_TRAP_WFI, &next.gprs, hcr, &lrs);
        next = Next::default();
        let entered = rmi::rec_enter(realm.recs[i], run.0.pa());
        STATE[i].store(IN_VMM, Ordering::Release);
        devices::ack_kicks();
        match entered {
            Ok(()) => {}
            // RMI_ERROR_REALM index 1: another vCPU turned the system off since our last exit.
            Err(e) if e.0 == 0x102 => break,
            Err(e) => {
                say!("vCPU {}: REC_ENTER failed: {}", i, e);
                shut_down(Ending::GuestError);
                break;
            }
        }
        let exit = run.exit();
        lrs = exit.gicv3_lrs;
        devices::after_exit(i, &exit);
        if i == 0 {
            devices::console_input();
        }
        count(exit.reason as usize);
        let flow = match exit.reason {
            rec_run::EXIT_SYNC => sync(i, realm, &exit, &mut next, &mut same_fault),
            rec_run::EXIT_PSCI => psci(i, realm, &exit),
            rec_run::EXIT_RIPAS_CHANGE => ripas_change(i, realm, &exit, &mut next),
            rec_run::EXIT_SERROR => {
                say!("vCPU {}: SError exit, ESR {:#x}", i, exit.esr);
                Err(Ending::GuestError)
            }
            _ => Ok(true),
        };
        match flow {
            Ok(true) => {}
            Ok(false) => break,
            Err(ending) => {
                shut_down(ending);
                break;
            }
        }
    }
    STATE[i].store(OFF, Ordering::Release);
}

fn count(index: usize) {
    if let Some(c) = EXITS.get(index) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// A synchronous exit. `Ok(true)`: go on.
fn sync(
    i: usize,
    realm: &Realm,
    exit: &Exit,
    next: &mut Next,
    same_fault: &mut (u64, u32),
) -> Result<bool, Ending> {
    match exit.esr >> 26 {
        EC_DABT_LOWER => data_abort(i, realm, exit, next, same_fault),
        EC_SYSREG => {
            count(8);
            for target in devices::sgi(i, exit.gprs[0]) {
                kick(target);
            }
            Ok(true)
        }
        EC_WFX => {
            count(9);
            idle(i, exit);
            Ok(true)
        }
        ec => {
            say!(
                "vCPU {}: SYNC exit with EC {:#x} (ESR {:#x})",
                i,
                ec,
                exit.esr
            );
            Err(Ending::GuestError)
        }
    }
}

/// A Data Abort: an emulated device, an Unprotected page touched first, or Protected memory
/// without a DATA granule.
fn data_abort(
    i: usize,
    realm: &Realm,
    exit: &Exit,
    next: &mut Next,
    same_fault: &mut (u64, u32),
) -> Result<bool, Ending> {
    match MmioAccess::decode(exit.esr, exit.far, exit.hpfar, exit.gprs[0]) {
        Ok(access) => {
            count(7);
            if let Some(value) = devices::mmio(&access) {
                next.gprs[0] = value;
                next.flags |= rec_run::FLAG_EMUL_MMIO;
                return Ok(true);
            }
            if access.ipa & UNPROTECTED_BIT != 0 {
                // Shared memory (swiotlb): a Normal-world page on first touch.
                count(11);
                realm.map_unprotected(access.ipa).map_err(|e| {
                    say!("vCPU {}: mapping {:#x}: {}", i, access.ipa, e);
                    Ending::GuestError
                })?;
                return Ok(true);
            }
            say!(
                "vCPU {}: access to {:#x}, no device there: SEA",
                i,
                access.ipa
            );
            next.flags |= rec_run::FLAG_INJECT_SEA;
            Ok(true)
        }
        Err(_) => {
            let ipa = realm_vmm::mmio::fault_ipa(exit.far, exit.hpfar) & !(GRANULE_SIZE - 1);
            *same_fault = match *same_fault {
                (at, n) if at == ipa => (at, n + 1),
                _ => (ipa, 1),
            };
            if same_fault.1 > MAX_SAME_FAULT {
                say!(
                    "vCPU {}: faults at {:#x} again and again (ESR {:#x})",
                    i,
                    ipa,
                    exit.esr
                );
                return Err(Ending::GuestError);
            }
            if ipa & UNPROTECTED_BIT == 0 {
                count(10);
                return protected_fault(i, realm, ipa);
            }
            // An Unprotected IPA without a syndrome (a load or store pair, say): shared memory
            // gets its page; a device cannot be emulated without knowing the access.
            if Region::of(ipa, realm.vcpus) != (Region::Unknown { ipa }) {
                say!(
                    "vCPU {}: an access to the device at {:#x} without a syndrome (ESR {:#x}): it cannot be emulated",
                    i,
                    ipa,
                    exit.esr
                );
                return Err(Ending::GuestError);
            }
            count(11);
            realm.map_unprotected(ipa).map(|()| true).map_err(|e| {
                say!("vCPU {}: mapping {:#x}: {}", i, ipa, e);
                Ending::GuestError
            })
        }
    }
}

/// A Protected IPA with RIPAS RAM and no DATA granule: one, created now.
fn protected_fault(i: usize, realm: &Realm, ipa: u64) -> Result<bool, Ending> {
    realm.populate(ipa).map(|()| true).map_err(|e| {
        say!("vCPU {}: a DATA granule for {:#x}: {}", i, ipa, e);
        Ending::GuestError
    })
}

/// WFI: waits until the vCPU has an interrupt to take, its timer fires, or the guest ends.
fn idle(i: usize, exit: &Exit) {
    announce(i, IDLE);
    let deadline = devices::timer_deadline(exit);
    loop {
        if SHUTDOWN.load(Ordering::Acquire) || devices::pending(i) {
            break;
        }
        if deadline.is_some_and(|at| counter() >= at) {
            break;
        }
        devices::wait_for_interrupt(deadline);
        devices::ack_kicks();
        if i == 0 {
            devices::console_input();
        }
    }
    STATE[i].store(IN_VMM, Ordering::Release);
}

/// The physical counter (the realm's virtual counter has no offset).
pub fn counter() -> u64 {
    rmm_arch::isb!();
    read_sysreg!("cntpct_el0")
}

/// Kicks vCPU `target`'s CPU if it is in its realm or waiting.
pub fn kick(target: usize) {
    // SeqCst: the caller's change of the vGIC comes before this read (see `STATE`).
    fence(Ordering::SeqCst);
    if target < MAX_VCPUS && matches!(STATE[target].load(Ordering::SeqCst), IN_REALM | IDLE) {
        // vCPU i runs on CPU i.
        ns_el2::gic::send_sgi(KICK_SGI, cpu::mpidr_of(target));
    }
}

/// A PSCI exit (A4.3.7): CPU_ON and AFFINITY_INFO completed with RMI_PSCI_COMPLETE.
fn psci(i: usize, realm: &Realm, exit: &Exit) -> Result<bool, Ending> {
    let fid = exit.gprs[0];
    match fid {
        PSCI_CPU_ON | PSCI_CPU_ON_32 | PSCI_AFFINITY_INFO | PSCI_AFFINITY_INFO_32 => {
            let Some(target) = realm.vcpu_of(exit.gprs[1]) else {
                say!(
                    "vCPU {}: PSCI {:#x} for MPIDR {:#x}: no such vCPU",
                    i,
                    fid,
                    exit.gprs[1]
                );
                return Err(Ending::GuestError);
            };
            let status = rmi::psci_complete(realm.recs[i], realm.recs[target], 0);
            if let Err(e) = status {
                say!("vCPU {}: PSCI_COMPLETE({}): {}", i, target, e);
                return Err(Ending::GuestError);
            }
            let is_on = matches!(fid, PSCI_CPU_ON | PSCI_CPU_ON_32);
            // Acquire: pairs with the Release of the runner's last store of OFF.
            if is_on && STATE[target].load(Ordering::Acquire) == OFF {
                STATE[target].store(IN_VMM, Ordering::Relaxed);
                devices::set_online(target, true);
                if let Err(e) = smp::start(target, secondary) {
                    say!(
                        "vCPU {}: no CPU {} for vCPU {}: PSCI {}",
                        i,
                        target,
                        target,
                        e
                    );
                    STATE[target].store(OFF, Ordering::Relaxed);
                }
            }
            Ok(true)
        }
        PSCI_CPU_OFF => {
            devices::set_online(i, false);
            Ok(false)
        }
        PSCI_CPU_SUSPEND | PSCI_CPU_SUSPEND_32 => Ok(true),
        PSCI_SYSTEM_OFF => Err(Ending::SystemOff),
        PSCI_SYSTEM_RESET => Err(Ending::SystemReset),
        _ => Ok(true),
    }
}

/// RSI_IPA_STATE_SET (A4.3.8): applied with RMI_RTT_SET_RIPAS and accepted; refused (the
/// realm sees REJECT) when the range cannot be changed, outside guest RAM for one.
fn ripas_change(i: usize, realm: &Realm, exit: &Exit, next: &mut Next) -> Result<bool, Ending> {
    let [base, top, _value] = exit.ripas;
    if let Err(e) = realm.set_ripas(i, base, top) {
        say!(
            "vCPU {}: RIPAS change of {:#x}..{:#x} refused: {}",
            i,
            base,
            top,
            e
        );
        next.flags |= rec_run::FLAG_RIPAS_REJECT;
    }
    Ok(true)
}
