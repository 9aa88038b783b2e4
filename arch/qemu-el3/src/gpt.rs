//! Granule protection tables (two levels, 4 KiB granules, 4 GiB protected space) and the
//! runtime GPI changes behind RMM_GTSI_DELEGATE / UNDELEGATE.
//!
//! Source: Arm ARM, chapter D9 "The Granule Protection Check mechanism" (GPCCR_EL3, GPTBR_EL3,
//! L0/L1 descriptor formats, GPI encodings), and TF-A `lib/gpt_rme` for the change sequence.
//! Register values and the enable sequence follow the QEMU 10 notes
//! (shared/reference/qemu-rme.md §4).
//!
//! Initial map (GPI): flash and secure RAM Root; every other address below DRAM (devices:
//! GIC, UART, fw_cfg, PCIe) Any, because EL3 reaches the GIC through the Root PAS and the
//! worlds through the NS PAS; the RMM region and the shared buffer Realm; the rest of DRAM
//! and everything above it (up to 4 GiB) Non-secure.
//!
//! Concurrency: an L1 word holds the GPIs of 16 granules, so two CPUs delegating neighbouring
//! granules at once share a word. Each change is a compare-and-swap loop on that word (see
//! [`transition`]); no lock.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};
use rmm_arch::layout::qemu::{
    FLASH_BASE, FLASH_SIZE, RMM_BASE, SECURE_RAM_BASE, SECURE_RAM_SIZE, SHARED_BUF_BASE,
};
use rmm_arch::{read_sysreg, write_sysreg, GRANULE_SIZE};

/// GPI: Non-secure PAS only.
pub const GPI_NS: u64 = 0b1001;
/// GPI: Root PAS only.
pub const GPI_ROOT: u64 = 0b1010;
/// GPI: Realm PAS only.
pub const GPI_REALM: u64 = 0b1011;
/// GPI: any PAS.
pub const GPI_ANY: u64 = 0b1111;

/// Protected physical address space: 4 GiB (GPCCR_EL3.PPS = 0).
const PPS_BYTES: u64 = 1 << 32;
/// Bytes one L0 entry covers (GPCCR_EL3.L0GPTSZ = 0: 1 GiB; the only size supported here).
const L0_BYTES: u64 = 1 << 30;
const L0_ENTRIES: usize = (PPS_BYTES / L0_BYTES) as usize;
/// L1 entries per table: one 64-bit word per 16 granules of 4 KiB.
const L1_ENTRIES: usize = (L0_BYTES / (16 * GRANULE_SIZE)) as usize;

/// GPCCR_EL3: PPS 4 GiB, IRGN/ORGN WB RA/WA, SH inner shareable, PGS 4 KiB, GPC on (0x13500).
const GPCCR: u64 = (1 << 8) | (1 << 10) | (3 << 12) | (1 << 16);
const GPCCR_GPC: u64 = 1 << 16;

#[repr(C, align(4096))]
struct L0([u64; 512]);

#[repr(C, align(131072))]
struct L1([u64; L1_ENTRIES]);

struct Tables {
    l0: UnsafeCell<L0>,
    l1: UnsafeCell<[L1; L0_ENTRIES]>,
}

// SAFETY: the primary CPU fills the tables in `build` before any CPU enables its GPC or
// issues a GTSI call; afterwards L1 words change only through atomic compare-and-swap.
unsafe impl Sync for Tables {}

#[link_section = ".gpt"]
static TABLES: Tables = Tables {
    l0: UnsafeCell::new(L0([0; 512])),
    l1: UnsafeCell::new([const { L1([0; L1_ENTRIES]) }; L0_ENTRIES]),
};

/// DRAM covered by the GPT's NS/Realm distinction (set by `build`).
static DRAM_END: AtomicU64 = AtomicU64::new(0);

/// The initial GPI of the granule at `pa`.
fn initial_gpi(pa: u64, dram: (u64, u64)) -> u64 {
    let in_range = |base: u64, size: u64| pa >= base && pa - base < size;
    if in_range(FLASH_BASE, FLASH_SIZE) || in_range(SECURE_RAM_BASE, SECURE_RAM_SIZE) {
        GPI_ROOT
    } else if pa < dram.0 {
        GPI_ANY
    } else if in_range(RMM_BASE, SHARED_BUF_BASE + GRANULE_SIZE - RMM_BASE) {
        GPI_REALM
    } else {
        GPI_NS
    }
}

/// Fills the tables for DRAM `[base, base + size)` (clamped to the 4 GiB PPS). Primary CPU
/// only, before any CPU enables its GPC. Fails if GPCCR_EL3.L0GPTSZ is not 1 GiB.
pub fn build(dram_base: u64, dram_size: u64) -> Result<(), u64> {
    let l0gptsz = (read_sysreg!("s3_6_c2_c1_6") >> 20) & 0xf;
    if l0gptsz != 0 {
        return Err(l0gptsz);
    }
    let size = dram_size.min(PPS_BYTES.saturating_sub(dram_base));
    DRAM_END.store(dram_base + size, Ordering::Relaxed);
    // SAFETY: see `Tables`: nothing else uses the tables yet.
    let (l0, l1) = unsafe { (&mut *TABLES.l0.get(), &mut *TABLES.l1.get()) };
    l0.0.fill(0);
    for (g, table) in l1.iter_mut().enumerate() {
        for (i, word) in table.0.iter_mut().enumerate() {
            let base = g as u64 * L0_BYTES + i as u64 * 16 * GRANULE_SIZE;
            *word = (0..16).fold(0, |w, n| {
                w | (initial_gpi(base + n * GRANULE_SIZE, (dram_base, size)) << (4 * n))
            });
        }
        // L0 table descriptor: L1 PA | 0b11 (L1 tables are 128 KiB aligned).
        l0.0[g] = table.0.as_ptr() as u64 | 0b11;
    }
    // SAFETY: a barrier has no memory-safety effect; it orders the table writes before any
    // GPC enable that follows.
    unsafe { core::arch::asm!("dsb sy", options(nostack)) };
    Ok(())
}

/// DRAM range the GTSI calls accept.
pub fn dram_range() -> (u64, u64) {
    let end = DRAM_END.load(Ordering::Relaxed);
    (rmm_arch::layout::qemu::DRAM_BASE, end)
}

/// Enables the granule protection check on this CPU (GPCCR/GPTBR are per PE), with the
/// sequence of the QEMU notes §4.
pub fn enable() {
    // SAFETY: `build` has run. Enabling the GPC only restricts accesses; EL3's own memory
    // (flash, secure RAM) is Root and its DRAM/device accesses use the PAS the GPT allows.
    unsafe {
        let l0 = (*TABLES.l0.get()).0.as_ptr() as u64;
        write_sysreg!("s3_6_c2_c1_4", l0 >> 12); // GPTBR_EL3
        core::arch::asm!("dsb sy", "isb", options(nostack));
        write_sysreg!("s3_6_c2_c1_6", GPCCR & !GPCCR_GPC);
        core::arch::asm!(
            "isb",
            "sys #6, c8, c7, #4",
            "dsb sy",
            "isb",
            options(nostack)
        ); // TLBI PAALL
        write_sysreg!("s3_6_c2_c1_6", GPCCR);
        core::arch::asm!("isb", options(nostack));
    }
}

/// The GPCCR_EL3 value this CPU reads back.
pub fn gpccr() -> u64 {
    read_sysreg!("s3_6_c2_c1_6")
}

/// The L1 word holding the GPI of `pa` (< 4 GiB), as an atomic.
fn l1_word(pa: u64) -> &'static AtomicU64 {
    let g = (pa / L0_BYTES) as usize;
    let i = ((pa % L0_BYTES) / (16 * GRANULE_SIZE)) as usize;
    // SAFETY: `g < L0_ENTRIES` and `i < L1_ENTRIES` because pa < PPS (callers check it); the
    // word is 8-byte aligned and lives as long as the program; after `build` every access
    // to it is atomic, so viewing it as an AtomicU64 is sound.
    unsafe {
        let table = &*(*TABLES.l1.get()).as_ptr().add(g);
        &*(table.0.as_ptr().add(i) as *const AtomicU64)
    }
}

/// Why a transition was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GptError {
    /// Not granule aligned, or not a DRAM granule the worlds may move (E_RMM_BAD_ADDR).
    BadAddr,
    /// The granule is not in the expected PAS (E_RMM_BAD_PAS).
    BadPas,
}

/// Clean and invalidate the granule at `pa` in the PAS `pas_bits` (bits [63:62] of the DC
/// CIPAPA operand: NS, NSE) to the point of physical aliasing, line by line.
fn clean_granule(pa: u64, pas_bits: u64) {
    let line = 4u64 << ((read_sysreg!("ctr_el0") >> 16) & 0xf);
    let mut a = pa;
    while a < pa + GRANULE_SIZE {
        // SAFETY: DC CIPAPA writes back and invalidates cache lines; it does not change the
        // data any observer sees.
        unsafe {
            core::arch::asm!("sys #6, c7, c14, #1, {}", in(reg) a | pas_bits, options(nostack))
        };
        a += line;
    }
    // SAFETY: barrier only.
    unsafe { core::arch::asm!("dsb sy", options(nostack)) };
}

/// Moves the granule at `pa` from GPI `from` to GPI `to` (NS <-> Realm), as
/// RMM_GTSI_DELEGATE / UNDELEGATE (RMM-EL3 interface 0.3): checks, DC CIPAPA of the old
/// PAS, the GPI write, then TLBI PAALLOS so every CPU drops cached GPC results.
///
/// Atomic protocol: the GPI nibble is changed by a compare-and-swap loop on its 64-bit L1
/// word, so concurrent changes of other granules in the same word are never lost, and of two
/// CPUs moving the same granule exactly one sees the expected GPI and succeeds; the other
/// gets [`GptError::BadPas`]. AcqRel on success: Release publishes the new GPI to the next
/// changer of the word (which Acquires it through its own CAS); the table walker is made to
/// see it by the `dsb sy` + TLBI PAALLOS that follow.
pub fn transition(pa: u64, from: u64, to: u64) -> Result<(), GptError> {
    let (base, end) = dram_range();
    if !pa.is_multiple_of(GRANULE_SIZE) || pa < base || pa >= end {
        return Err(GptError::BadAddr);
    }
    // The RMM's own region and the shared buffer stay Realm: never undelegated to NS.
    if (RMM_BASE..SHARED_BUF_BASE + GRANULE_SIZE).contains(&pa) {
        return Err(GptError::BadAddr);
    }
    let shift = 4 * ((pa / GRANULE_SIZE) % 16);
    let word = l1_word(pa);
    // Relaxed: the CAS below validates this value.
    let mut old = word.load(Ordering::Relaxed);
    if (old >> shift) & 0xf != from {
        return Err(GptError::BadPas);
    }
    clean_granule(pa, pas_bits(from));
    loop {
        if (old >> shift) & 0xf != from {
            return Err(GptError::BadPas);
        }
        let new = (old & !(0xf << shift)) | (to << shift);
        // AcqRel on success (see above); Relaxed on failure: we only retry with the value.
        match word.compare_exchange_weak(old, new, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => break,
            Err(cur) => old = cur,
        }
    }
    // SAFETY: barriers and a TLB invalidation by PAS: no memory-safety effect.
    unsafe {
        core::arch::asm!(
            "dsb sy",
            "sys #6, c8, c1, #4", // TLBI PAALLOS
            "dsb sy",
            "isb",
            options(nostack)
        );
    }
    Ok(())
}

/// Bits [63:62] (NS, NSE) of a PA operand naming the PAS of `gpi`.
fn pas_bits(gpi: u64) -> u64 {
    match gpi {
        GPI_NS => 1 << 63,
        GPI_REALM => 3 << 62,
        GPI_ROOT => 1 << 62,
        _ => 0,
    }
}
