//! The CPUs: index <-> MPIDR from the device tree, this CPU's index, the generic timer for
//! timeouts, and waiting without burning the host.
//!
//! CPU index i is the i-th `/cpus/cpu@*` node of the tree the EL3 firmware passes, its MPIDR
//! the node's `reg` ([`init`]): on QEMU `virt` that is QEMU's own CPU numbering, with Aff0 =
//! i % 16 and Aff1 = i / 16 (GICv3: clusters of 16), the order our EL3 numbers them in too.
//! PSCI CPU_ON and AFFINITY_INFO take the MPIDR ([`mpidr_of`]); each CPU keeps its index in
//! TPIDR_EL2 ([`current`]: set by `entry.rs` from the CPU_ON context id, by [`init`] on the
//! boot CPU; EL3 keeps it per world).

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use rmm_arch::fdt::Fdt;

/// Most CPUs the programs drive: QEMU `virt`'s limit with GICv3.
///
/// What a CPU costs here: its 64 KiB stack below the image (link.ld; measured with painted
/// stacks: the test host 32 KiB on CPU 0 and 15 KiB on the others, the realm VMM 47 KiB on
/// CPU 0 and under 2 KiB on the others), its MPIDR and job slot (16 bytes), and in the test
/// host its REC's state (25 bytes): 32 MiB of NS DRAM for 512 CPUs, none of it in the image.
pub const MAX_CPUS: usize = 512;

/// MPIDR (affinity fields) of each CPU index, and how many there are: written by the boot CPU
/// in [`init`] before it starts any other (whose start publishes them: `smp::start`'s
/// Release), read-only afterwards.
static MPIDRS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static COUNT: AtomicUsize = AtomicUsize::new(1);

/// The affinity fields of an MPIDR: Aff3 [39:32], Aff2..Aff0 [23:0].
pub const AFFINITY_MASK: u64 = 0xff_00ff_ffff;

/// What [`init`] found: the CPUs the tree lists, and how many of them the program drives.
#[derive(Clone, Copy, Debug)]
pub struct Cpus {
    pub listed: usize,
    pub used: usize,
}

/// Reads the CPUs from `tree` (boot CPU, before starting any other): records up to
/// [`MAX_CPUS`] MPIDRs and this CPU's index. Err if `/cpus` is corrupt or empty, or this CPU
/// is not its first node (CPU 0 runs the program; the others are started by index).
pub fn init(tree: &Fdt) -> Result<Cpus, &'static str> {
    let mut mpidrs = [0u64; MAX_CPUS];
    let listed = tree
        .cpus(&mut mpidrs)
        .ok_or("the device tree's /cpus node is corrupt")?;
    let used = listed.min(MAX_CPUS);
    if used == 0 {
        return Err("the device tree lists no CPU");
    }
    for (slot, &mpidr) in MPIDRS.iter().zip(&mpidrs[..used]) {
        // Relaxed: published by `smp::start` (see MPIDRS).
        slot.store(mpidr & AFFINITY_MASK, Ordering::Relaxed);
    }
    // Relaxed: as above.
    COUNT.store(used, Ordering::Relaxed);
    if index_of(rmm_arch::read_sysreg!("mpidr_el1")) != Some(0) {
        return Err("the boot CPU is not the first CPU of the device tree");
    }
    // SAFETY: TPIDR_EL2 is ours (EL3 switches it with the world); it holds the CPU index.
    unsafe { rmm_arch::write_sysreg!("tpidr_el2", 0) };
    Ok(Cpus { listed, used })
}

/// How many CPUs [`init`] recorded.
pub fn count() -> usize {
    // Relaxed: see MPIDRS.
    COUNT.load(Ordering::Relaxed)
}

/// The index of this CPU (TPIDR_EL2).
pub fn current() -> usize {
    rmm_arch::read_sysreg!("tpidr_el2") as usize
}

/// The MPIDR affinity of CPU `index`, as PSCI CPU_ON takes it (0 beyond [`count`]).
pub fn mpidr_of(index: usize) -> u64 {
    // Relaxed: see MPIDRS.
    MPIDRS.get(index).map_or(0, |m| m.load(Ordering::Relaxed))
}

/// The index of the CPU with affinity `mpidr` (other bits ignored), if it is one of ours.
pub fn index_of(mpidr: u64) -> Option<usize> {
    (0..count()).find(|&i| mpidr_of(i) == mpidr & AFFINITY_MASK)
}

/// Physical counter ticks per second.
fn frequency() -> u64 {
    rmm_arch::read_sysreg!("cntfrq_el0").max(1)
}

/// The physical counter.
fn now() -> u64 {
    rmm_arch::isb!();
    rmm_arch::read_sysreg!("cntpct_el0")
}

/// A deadline some seconds from now.
#[derive(Clone, Copy)]
pub struct Deadline(u64);

impl Deadline {
    /// `seconds` from now.
    pub fn after_seconds(seconds: u64) -> Self {
        Self(now().saturating_add(seconds.saturating_mul(frequency())))
    }

    /// Whether it has passed.
    pub fn passed(self) -> bool {
        now() >= self.0
    }
}

/// Spins until `done` returns true or `deadline` passes; true if `done` did.
pub fn wait_until(deadline: Deadline, mut done: impl FnMut() -> bool) -> bool {
    loop {
        if done() {
            return true;
        }
        if deadline.passed() {
            return false;
        }
        core::hint::spin_loop();
    }
}

/// Milliseconds since `start` (a counter value from [`ticks`]).
pub fn millis_since(start: u64) -> u64 {
    now().saturating_sub(start).saturating_mul(1000) / frequency()
}

/// The counter, for [`millis_since`].
pub fn ticks() -> u64 {
    now()
}
