//! Per-CPU state: the two world contexts, which world's EL2 registers are live, the pen
//! mailboxes, and the PSCI affinity states.
//!
//! Ownership: each CPU's [`PerCpu`] is touched only by that CPU (after the primary zeroed
//! .bss). Cross-CPU communication goes through the atomics in [`Shared`] only.
//!
//! Pen protocol (mailbox): a sender writes `entry`/`arg` (Relaxed), then `cmd` with Release,
//! then sends the pen SGI (after a `dsb`); the target, woken from WFI, takes `cmd` with an
//! Acquire swap to 0 (pairs with the sender's Release, so `entry`/`arg` are visible) and
//! acts on it. A wake-up with no command (spurious, or an SGI that raced a previous
//! command) just goes back to WFI. Only one command is ever outstanding per CPU: the
//! primary's warm boots are sequential and PSCI CPU_ON claims the target with a CAS on its
//! affinity state first (psci.rs).

use crate::context::{Ctx, El2Regs, Features, World, SCTLR_EL2_RES1};
use crate::MAX_CPUS;
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicI64, AtomicU32, AtomicU64};

/// One CPU's private EL3 state.
pub struct PerCpu {
    /// Linear index ([`crate::topology`]).
    pub index: usize,
    /// The Normal world's context.
    pub ns: Ctx,
    /// The RMM's context.
    pub realm: Ctx,
    /// Whose EL2 registers are in the hardware (`None` before the first entry).
    pub live: Option<World>,
    /// EL2 registers as they were at reset, the base of every fresh context.
    pub reset_el2: El2Regs,
    /// ID register features of this CPU.
    pub features: Features,
    /// The RMM completed its (cold or warm) boot on this CPU.
    pub rmm_ready: bool,
    /// An RMI call from the Normal world is being handled by the RMM.
    pub rmi_pending: bool,
    /// The RMM is booting on this CPU (cold or warm) and owes us RMM_BOOT_COMPLETE.
    pub booting: Option<Boot>,
    /// Instructions per world, for `scripts/perf`.
    pub perf: crate::perf::Counters,
}

/// Which boot the RMM is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boot {
    /// Cold boot on the primary.
    Cold,
    /// Warm boot on a secondary.
    Warm,
}

struct PerCpus(UnsafeCell<[MaybeUninit<PerCpu>; MAX_CPUS]>);

// SAFETY: entry `i` is only ever accessed by CPU `i` (`this()`), so there is no sharing.
unsafe impl Sync for PerCpus {}

/// In .bss (uninitialised): each CPU writes its entry in [`init_this`] before any use.
static CPUS: PerCpus = PerCpus(UnsafeCell::new([const { MaybeUninit::uninit() }; MAX_CPUS]));

/// This CPU's linear index ([`crate::topology`]), which `_start` keeps in TPIDR_EL3.
pub fn index() -> usize {
    rmm_arch::read_sysreg!("tpidr_el3") as usize
}

/// Initialises this CPU's state (index, stacks, worlds, reset EL2 registers) and returns it.
/// Once per CPU, before any exception from a lower EL.
pub fn init_this(features: Features) -> &'static mut PerCpu {
    let index = index();
    let stack = crate::entry::stack_top(index);
    let mut reset_el2 = El2Regs::ZERO;
    reset_el2.save(&features);
    let ctx = |world: World| {
        let mut ctx = Ctx::ZERO;
        ctx.stack = stack;
        ctx.world = world as u64;
        ctx.cpu = index as u64;
        ctx
    };
    // SAFETY: `index < MAX_CPUS` (entry.rs only runs CPUs of the topology); only this CPU
    // touches entry `index`, and nothing references it yet.
    let slot = unsafe { &mut (*CPUS.0.get())[index] };
    slot.write(PerCpu {
        index,
        ns: ctx(World::NonSecure),
        realm: ctx(World::Realm),
        live: None,
        reset_el2,
        features,
        rmm_ready: false,
        rmi_pending: false,
        booting: None,
        perf: crate::perf::Counters::ZERO,
    })
}

/// This CPU's state.
///
/// # Safety
/// [`init_this`] has run on this CPU, and the caller does not hold another reference obtained
/// from `this()` (each exception entry takes one and drops it before the next ERET).
pub unsafe fn this() -> &'static mut PerCpu {
    let i = index();
    // SAFETY: `i < MAX_CPUS`; only CPU `i` accesses entry `i`, which `init_this` initialised,
    // and the caller promises no other live reference on this CPU.
    unsafe { (*CPUS.0.get())[i].assume_init_mut() }
}

/// Command in the mailbox: none.
pub const CMD_NONE: u64 = 0;
/// Command: warm-boot the RMM (x0 = index, x1..x3 = 0).
pub const CMD_WARM_BOOT: u64 = 1;
/// Command: PSCI CPU_ON, enter the Normal world at `entry` with x0 = `arg`.
pub const CMD_CPU_ON: u64 = 2;

/// PSCI affinity state: ON (AFFINITY_INFO value 0).
pub const AFF_ON: u32 = 0;
/// PSCI affinity state: OFF (1).
pub const AFF_OFF: u32 = 1;
/// PSCI affinity state: ON_PENDING (2).
pub const AFF_ON_PENDING: u32 = 2;

/// Boot result not yet reported.
pub const BOOT_PENDING: i64 = i64::MIN;

/// State other CPUs read or write.
pub struct Shared {
    /// Mailbox command (`CMD_*`).
    pub cmd: AtomicU64,
    /// Mailbox: entry point.
    pub entry: AtomicU64,
    /// Mailbox: argument (context ID).
    pub arg: AtomicU64,
    /// PSCI affinity state (`AFF_*`).
    pub aff: AtomicU32,
    /// RMM_BOOT_COMPLETE status of the warm boot, [`BOOT_PENDING`] until reported.
    pub boot_result: AtomicI64,
}

#[allow(clippy::declare_interior_mutable_const)]
const SHARED_INIT: Shared = Shared {
    cmd: AtomicU64::new(CMD_NONE),
    entry: AtomicU64::new(0),
    arg: AtomicU64::new(0),
    aff: AtomicU32::new(AFF_OFF),
    boot_result: AtomicI64::new(BOOT_PENDING),
};

/// Per-CPU shared state, in .bss: secondaries touch it only after the pen opens.
pub static SHARED: [Shared; MAX_CPUS] = [SHARED_INIT; MAX_CPUS];

/// Value of [`PEN_OPEN`] once the primary has initialised everything secondaries use.
pub const PEN_MAGIC: u64 = 0x5045_4e5f_4f50_454e; // "PEN_OPEN"

/// Set to [`PEN_MAGIC`] (Release) by the primary once .bss, the CPU topology, the translation
/// tables and the GPT are ready; secondaries poll it (Acquire, entry.rs) before touching
/// anything else. In .noinit: secondaries read it while the primary is still zeroing .bss.
#[no_mangle]
#[link_section = ".noinit"]
pub static PEN_OPEN: AtomicU64 = AtomicU64::new(0);

impl PerCpu {
    /// The context of `world`.
    pub fn ctx(&mut self, world: World) -> &mut Ctx {
        match world {
            World::NonSecure => &mut self.ns,
            World::Realm => &mut self.realm,
        }
    }

    /// Switches the live EL2 registers to `world` if needed and returns its context, for
    /// `el3_exit`.
    pub fn enter(&mut self, world: World) -> *mut Ctx {
        if self.live != Some(world) {
            let f = self.features;
            if let Some(old) = self.live {
                self.ctx(old).el2.save(&f);
            }
            // SAFETY: we are in EL3 between worlds; the registers take effect at the ERET.
            unsafe { self.ctx(world).el2.restore(&f) };
            self.live = Some(world);
        }
        self.ctx(world) as *mut Ctx
    }

    /// Prepares a first entry of `world` at `entry` with x0..x3 = `args` and fresh EL2
    /// registers (reset values, SCTLR_EL2 RES1; for the Normal world also ICC_SRE_EL2 = 0xF
    /// and CNTHCTL_EL2.EL1PCTEN/EL1PCEN as TF-A sets them), and enters it.
    pub fn enter_fresh(&mut self, world: World, entry: u64, args: [u64; 4], scr: u64) -> *mut Ctx {
        let f = self.features;
        if let Some(old) = self.live {
            if old != world {
                self.ctx(old).el2.save(&f);
            }
        }
        // The hardware no longer holds anything we keep for `world`: force a restore.
        self.live = None;
        let mut el2 = self.reset_el2;
        el2.sctlr_el2 = SCTLR_EL2_RES1;
        if world == World::NonSecure {
            el2.icc_sre_el2 = 0xf;
            el2.cnthctl_el2 |= 0b11;
        }
        let ctx = self.ctx(world);
        ctx.el2 = el2;
        ctx.reset_entry(entry, args, scr);
        self.enter(world)
    }
}
