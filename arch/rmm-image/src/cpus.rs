//! Per-CPU memory, sized at cold boot from the CPU count EL3 passes in x2: no compile-time cap.
//!
//! What a CPU costs the RMM, all from the heap (`crate::heap`):
//! - its stack, [`STACK_SIZE`] (64 KiB; measured with painted stacks on QEMU: 33 KiB on a
//!   CPU that signs a realm token with P-384, 13 KiB for the other RMI and RSI paths);
//! - the Normal world's SVE save area (`crate::sve`: 8.6 KiB with 2048-bit vectors, none
//!   without SVE or SME), FP/SIMD slot (`crate::fp`, 528 bytes), PMU slot (`crate::pmu`) and
//!   debug slot (`crate::debug`, 512 bytes) ([`Slots`]);
//! - the core's per-CPU state (`rmm::percpu::PerCpu`, one 128-byte cache line).
//!
//! About 75 KiB on QEMU `-cpu max`; 512 CPUs take 37 MiB, which TF-A's 24 MiB region for the
//! RMM cannot hold (294 CPUs with 2 GiB of DRAM). [`check`] refuses a count whose
//! memory the heap cannot hold beside the granule table, with a clear line and
//! E_RMM_BOOT_CPUS_OUT_OF_RANGE, before anything is allocated. The cold-boot CPU keeps the
//! static boot stack (entry.rs); its slot in the heap's stacks stays unused.

use crate::boot_cell::BootCell;
use crate::{debug, error, fp, heap, pmu, sve};
use alloc::alloc::{alloc, alloc_zeroed, Layout};
use core::marker::PhantomData;
use rmm_arch::boot::{self, BootError};

/// log2 of [`STACK_SIZE`].
pub const STACK_SHIFT: u32 = 16;
/// Bytes of stack per CPU.
pub const STACK_SIZE: usize = 1 << STACK_SHIFT;
/// Heap kept for what cold boot allocates besides the granule table and per-CPU state (the
/// VMID bitmap, alignment).
const SLACK: u64 = 64 << 10;

/// The warm boots' stacks: CPU i's is `[base + i * STACK_SIZE, base + (i + 1) * STACK_SIZE)`.
/// Read by `rmm_entry` with the MMU off (count 0 until cold boot has set it).
#[repr(C, align(16))]
pub struct Stacks {
    base: u64,
    count: u64,
}

/// Written once by CPU 0 at cold boot ([`alloc_stacks`]) before any warm boot.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".data.rmm_stacks")]
static mut RMM_STACKS: Stacks = Stacks { base: 0, count: 0 };

/// Heap bytes one CPU takes: stack, SVE area, FP slot, core state. Err if the vector
/// lengths are ones the RMM does not handle.
pub fn bytes_per_cpu() -> Result<u64, ()> {
    let sve = sve::bytes_per_cpu()?;
    // The core keeps each CPU's state in its own 128-byte `CachePadded` line on aarch64.
    let core = core::mem::size_of::<rmm::percpu::PerCpu>().next_multiple_of(128);
    let saved = fp::BYTES_PER_CPU + pmu::BYTES_PER_CPU + debug::BYTES_PER_CPU;
    Ok((STACK_SIZE + sve + saved + core) as u64)
}

/// Checks that `cpus` CPUs fit the heap beside the granule table of `dram` (banks, base and
/// size), before cold boot allocates anything for them. Says why not otherwise.
pub fn check(cpus: usize, dram: &[(u64, u64)]) -> Result<(), BootError> {
    let Ok(per_cpu) = bytes_per_cpu() else {
        error!("vector lengths beyond 2048 bits: no SVE save area");
        return Err(BootError::Unknown);
    };
    let granules: u64 = dram.iter().map(|&(_, size)| size / rmm::GRANULE_SIZE).sum();
    let table = granules * core::mem::size_of::<rmm::granule::Granule>() as u64;
    let (used, size) = heap::usage();
    let free = size - used;
    let fit = boot::cpus_that_fit(free, table + SLACK, per_cpu);
    if cpus as u64 <= fit {
        return Ok(());
    }
    error!(
        "{cpus} CPUs, at most {fit}: each takes {} KiB, the granule table of {} MiB of DRAM {} KiB, of {} KiB of heap free",
        per_cpu.div_ceil(1024),
        granules >> 8,
        table >> 10,
        free >> 10
    );
    Err(BootError::CpusOutOfRange)
}

/// Allocates the stacks of `cpus` CPUs for their warm boots (after [`check`]).
pub fn alloc_stacks(cpus: usize) -> Result<(), ()> {
    let layout = STACK_SIZE
        .checked_mul(cpus.max(1))
        .and_then(|size| Layout::from_size_align(size, 4096).ok())
        .ok_or(())?;
    // SAFETY: the layout has a non-zero size. The stacks are written before they are read.
    let base = unsafe { alloc(layout) };
    if base.is_null() {
        return Err(());
    }
    let stacks = &raw mut RMM_STACKS;
    // SAFETY: CPU 0 at cold boot, before any warm boot reads it (EL3 starts no other CPU
    // before RMM_BOOT_COMPLETE).
    unsafe {
        (*stacks).base = base as u64;
        (*stacks).count = cpus as u64;
    }
    // Warm boots read it with their MMU off: clean it to the point of coherency.
    // SAFETY: cleaning a mapped line does not change its contents; barrier after.
    unsafe {
        core::arch::asm!("dc cvac, {}", "dsb sy", in(reg) stacks as u64, options(nostack));
    }
    Ok(())
}

/// One `T` per CPU in the heap, zeroed, allocated at cold boot ([`Slots::init`]): the Normal
/// world's registers a realm run displaces (FP/SIMD, PMU, debug). CPU n uses only slot n.
pub struct Slots<T> {
    /// Base address and count, set once by [`Slots::init`].
    at: BootCell<(u64, usize)>,
    _slot: PhantomData<T>,
}

// SAFETY: the slots are reached only through `get`, whose callers use their own CPU's slot;
// the base and count are a BootCell's.
unsafe impl<T> Sync for Slots<T> {}

impl<T> Slots<T> {
    /// No slots yet.
    pub const fn new() -> Self {
        Self {
            at: BootCell::new((0, 0)),
            _slot: PhantomData,
        }
    }

    /// Heap bytes [`Slots::init`] takes per CPU.
    pub const BYTES_PER_CPU: usize = core::mem::size_of::<T>();

    /// Cold boot, CPU 0: allocates `cpus` zeroed slots; Err if the heap cannot hold them.
    pub fn init(&self, cpus: usize) -> Result<(), ()> {
        let layout = Layout::array::<T>(cpus.max(1)).map_err(|_| ())?;
        // SAFETY: the layout has a non-zero size (T is not zero-sized: every user's is an
        // array of registers).
        let slots = unsafe { alloc_zeroed(layout) };
        if slots.is_null() {
            return Err(());
        }
        // SAFETY: CPU 0 at cold boot, before any reader (BootCell's contract).
        unsafe { *self.at.get_mut() = (slots as u64, cpus) };
        Ok(())
    }

    /// CPU `cpu`'s slot. Only CPU `cpu` may use it, and never through two live references.
    pub fn get(&self, cpu: usize) -> *mut T {
        let (base, count) = *self.at.get();
        assert!(cpu < count, "no per-CPU slot for CPU {cpu}");
        (base as usize + cpu * Self::BYTES_PER_CPU) as *mut T
    }
}
