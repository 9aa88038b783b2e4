//! The CPUs EL3 runs: linear index <-> MPIDR, as the GICv3 redistributors report them.
//!
//! QEMU `virt` numbers its CPUs 0..n-1 and gives CPU i the MPIDR of `arm_build_mp_affinity(i,
//! 16)` (GICv3: clusters of 16, the width of an SGI target list): Aff0 = i % 16, Aff1 = i / 16.
//! Redistributor frame i belongs to CPU i: 123 frames fit the first region (0x080a_0000, up
//! to the UART), the rest sit in a second region high in the PA space (0x40_0000_0000 with
//! `highmem`), each region's last frame with GICR_TYPER.Last. GICR_TYPER[63:32] is the CPU's
//! affinity Aff3.Aff2.Aff1.Aff0 (GICv3 spec 12.11.37), [23:8] its processor number. EL3 walks
//! the regions in order ([`crate::gic::discover`]) and takes frame k as CPU index k, which is
//! QEMU's own numbering (and the device tree's `/cpus` order the Normal world sees).
//!
//! Published by the primary before the pen opens (`PEN_OPEN`, Release), read-only afterwards;
//! secondaries look themselves up here with their MMU off (entry.rs), so the primary cleans
//! the table to the point of coherency ([`publish`]).

use crate::MAX_CPUS;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The affinity (GICR_TYPER[63:32] layout) of each CPU index. Read by `_start` (entry.rs).
#[no_mangle]
pub static EL3_AFFINITY: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];

/// Number of CPUs EL3 runs (at most [`MAX_CPUS`]). Read by `_start` (entry.rs).
#[no_mangle]
pub static EL3_NUM_CPUS: AtomicU64 = AtomicU64::new(0);

/// The affinity fields of `mpidr` (Aff3 [39:32], Aff2..Aff0 [23:0]) packed as GICR_TYPER's
/// Affinity_Value: Aff3.Aff2.Aff1.Aff0.
pub const fn affinity_of(mpidr: u64) -> u32 {
    ((mpidr & 0xff_ffff) | ((mpidr >> 32) & 0xff) << 24) as u32
}

/// The MPIDR affinity fields (Aff3 [39:32], Aff2..Aff0 [23:0]) of a packed affinity.
pub const fn mpidr_of(affinity: u32) -> u64 {
    (affinity as u64 & 0xff_ffff) | ((affinity as u64 >> 24) << 32)
}

/// Number of CPUs EL3 runs.
pub fn count() -> usize {
    // Relaxed: written before the pen opened, which ordered it before every reader.
    EL3_NUM_CPUS.load(Ordering::Relaxed) as usize
}

/// The packed affinity of CPU `index` (< [`count`]).
pub fn affinity(index: usize) -> u32 {
    // Relaxed: as in `count`.
    EL3_AFFINITY[index].load(Ordering::Relaxed)
}

/// The CPU index of `mpidr` (affinity fields only; the others are ignored), if EL3 runs it.
/// A linear search: PSCI CPU_ON and AFFINITY_INFO only.
pub fn index_of(mpidr: u64) -> Option<usize> {
    let wanted = affinity_of(mpidr);
    (0..count()).find(|&i| affinity(i) == wanted)
}

/// Cleans the table and the count to the point of coherency, for the secondaries that read
/// them with their MMU off (Device memory, not coherent with the primary's cached writes).
pub fn publish() {
    crate::clean_to_poc(
        EL3_AFFINITY.as_ptr() as u64,
        core::mem::size_of_val(&EL3_AFFINITY),
    );
    crate::clean_to_poc(core::ptr::addr_of!(EL3_NUM_CPUS) as u64, 8);
}

/// Finds the CPUs (primary only, MMU on, before the pen opens): the redistributor regions of
/// QEMU's device tree, mapped, walked in order; records up to [`MAX_CPUS`] and says what it
/// found. Returns the regions (for the redistributors' set-up) and the CPU count; `None` if
/// the primary (MPIDR affinity 0) is not CPU 0 or a region cannot be mapped.
pub fn discover(tree: Option<&rmm_arch::fdt::Fdt>) -> Option<(crate::gic::Regions, usize)> {
    use crate::println;
    let regions = crate::gic::Regions::from_tree(tree);
    for &(base, size) in regions.as_slice() {
        if base >= 1 << 32 && !crate::mmu::map_device(base, size) {
            println!("EL3: GICv3 redistributor region {base:#x}+{size:#x}: cannot map it");
            return None;
        }
    }
    let (mut found, mut last) = (0usize, 0);
    crate::gic::affinities(&regions, |aff| {
        if let Some(slot) = EL3_AFFINITY.get(found) {
            // Relaxed: published by `publish` (PEN_OPEN's Release, and a clean to PoC).
            slot.store(aff, Ordering::Relaxed);
        }
        found += 1;
        last = aff;
    });
    let n = found.min(MAX_CPUS);
    // Relaxed: as above.
    EL3_NUM_CPUS.store(n as u64, Ordering::Relaxed);
    println!(
        "EL3: {found} CPUs found in {} GICv3 redistributor region(s), running {n}: MPIDR {:#x} (CPU 0) to {:#x} (CPU {})",
        regions.as_slice().len(),
        mpidr_of(affinity(0)),
        mpidr_of(last),
        found.saturating_sub(1)
    );
    if n == 0 || affinity(0) != 0 {
        println!(
            "EL3: the boot CPU (MPIDR affinity 0) is not the first redistributor: unsupported"
        );
        return None;
    }
    Some((regions, n))
}
