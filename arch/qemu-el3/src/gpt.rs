//! Granule protection tables (two levels, 4 KiB granules, 1 TiB protected space) and the
//! runtime GPI changes behind RMM_GTSI_DELEGATE / UNDELEGATE.
//!
//! Source: Arm ARM, chapter D9 "The Granule Protection Check mechanism" (GPCCR_EL3, GPTBR_EL3,
//! L0 block and table and L1 descriptor formats, GPI encodings), and TF-A `lib/gpt_rme` for
//! the change sequence. Register values and the enable sequence follow the QEMU 10 notes
//! (shared/reference/qemu-rme.md §4).
//!
//! Initial map (GPI): flash and secure RAM Root; every other address below DRAM (devices:
//! GIC, UART, fw_cfg, PCIe) Any, because EL3 reaches the GIC through the Root PAS and the
//! worlds through the NS PAS; the RMM region and the shared buffer Realm; the rest of DRAM
//! Non-secure. The first GiB and each GiB of DRAM (up to [`MAX_DRAM`]) have an L1 table, so
//! their granules can change PAS one by one; every other GiB is one L0 block: Non-secure for
//! DRAM past [`MAX_DRAM`], Any above DRAM (QEMU `virt`'s high GIC redistributors and PCIe
//! windows).
//!
//! Concurrency: an L1 word holds the GPIs of 16 granules, so two CPUs delegating neighbouring
//! granules at once share a word. Each change is a compare-and-swap loop on that word (see
//! [`transition`]); no lock.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};
use rmm_arch::layout::qemu::{FLASH_BASE, FLASH_SIZE, SECURE_RAM_BASE, SECURE_RAM_SIZE};
use rmm_arch::{read_sysreg, write_sysreg, GRANULE_SIZE};

/// GPI: Non-secure PAS only.
pub const GPI_NS: u64 = 0b1001;
/// GPI: Root PAS only.
pub const GPI_ROOT: u64 = 0b1010;
/// GPI: Realm PAS only.
pub const GPI_REALM: u64 = 0b1011;
/// GPI: any PAS.
pub const GPI_ANY: u64 = 0b1111;

/// Protected physical address space: 1 TiB (GPCCR_EL3.PPS = 0b010, 40 bits).
const PPS_BYTES: u64 = 1 << 40;
const GPCCR_PPS: u64 = 0b010;
/// Bytes one L0 entry covers (GPCCR_EL3.L0GPTSZ = 0: 1 GiB; the only size supported here).
const L0_BYTES: u64 = 1 << 30;
const L0_ENTRIES: usize = (PPS_BYTES / L0_BYTES) as usize;
/// L1 entries per table: one 64-bit word per 16 granules of 4 KiB.
const L1_ENTRIES: usize = (L0_BYTES / (16 * GRANULE_SIZE)) as usize;
/// Most DRAM with an L1 table (the rest stays Non-secure and cannot be delegated): 32 GiB,
/// 4 MiB of tables in secure RAM.
pub const MAX_DRAM: u64 = 32 << 30;
/// L1 tables: the first GiB (below DRAM) and [`MAX_DRAM`].
const L1_TABLES: usize = 1 + (MAX_DRAM / L0_BYTES) as usize;
/// L0 block descriptor: the GPI in bits [7:4], type 0b0001.
const L0_BLOCK: u64 = 0b0001;
/// L0 table descriptor: the L1 table's PA, type 0b0011.
const L0_TABLE: u64 = 0b0011;

/// GPCCR_EL3: PPS 1 TiB, IRGN/ORGN WB RA/WA, SH inner shareable, PGS 4 KiB, GPC on.
const GPCCR: u64 = GPCCR_PPS | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 16);
const GPCCR_GPC: u64 = 1 << 16;

/// The L0 table, aligned to its size (8 KiB).
#[repr(C, align(8192))]
struct L0([u64; L0_ENTRIES]);

#[repr(C, align(131072))]
struct L1([u64; L1_ENTRIES]);

struct Tables {
    l0: UnsafeCell<L0>,
    l1: UnsafeCell<[L1; L1_TABLES]>,
}

// SAFETY: the primary CPU fills the tables in `build` before any CPU enables its GPC or
// issues a GTSI call; afterwards L1 words change only through atomic compare-and-swap.
unsafe impl Sync for Tables {}

#[link_section = ".gpt"]
static TABLES: Tables = Tables {
    l0: UnsafeCell::new(L0([0; L0_ENTRIES])),
    l1: UnsafeCell::new([const { L1([0; L1_ENTRIES]) }; L1_TABLES]),
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
    } else if crate::rmm::region().contains(&pa) {
        GPI_REALM
    } else {
        GPI_NS
    }
}

/// Fills the tables for DRAM `[base, base + size)` (`base` is QEMU `virt`'s, 1 GiB); returns the DRAM the GPT covers, which is
/// at most [`MAX_DRAM`] (the rest stays Non-secure). Primary CPU only, before any CPU enables
/// its GPC. Fails with GPCCR_EL3.L0GPTSZ if it is not 1 GiB.
pub fn build(dram_base: u64, dram_size: u64) -> Result<u64, u64> {
    let l0gptsz = (read_sysreg!("s3_6_c2_c1_6") >> 20) & 0xf;
    if l0gptsz != 0 {
        return Err(l0gptsz);
    }
    let size = dram_size.min(MAX_DRAM);
    let dram_end = dram_base + size;
    DRAM_END.store(dram_end, Ordering::Relaxed);
    // SAFETY: see `Tables`: nothing else uses the tables yet.
    let (l0, l1) = unsafe { (&mut *TABLES.l0.get(), &mut *TABLES.l1.get()) };
    let all_dram_end = dram_base.saturating_add(dram_size);
    for (g, entry) in l0.0.iter_mut().enumerate() {
        let base = g as u64 * L0_BYTES;
        *entry = match l1.get_mut(g) {
            Some(table) if base < dram_end => {
                for (i, word) in table.0.iter_mut().enumerate() {
                    let at = base + i as u64 * 16 * GRANULE_SIZE;
                    *word = (0..16).fold(0, |w, n| {
                        w | (initial_gpi(at + n * GRANULE_SIZE, (dram_base, size)) << (4 * n))
                    });
                }
                table.0.as_ptr() as u64 | L0_TABLE
            }
            _ if base < all_dram_end => GPI_NS << 4 | L0_BLOCK,
            _ => GPI_ANY << 4 | L0_BLOCK,
        };
    }
    // SAFETY: a barrier has no memory-safety effect; it orders the table writes before any
    // GPC enable that follows.
    unsafe { core::arch::asm!("dsb sy", options(nostack)) };
    Ok(size)
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

/// The L1 word holding the GPI of `pa` (in the DRAM `build` covered), as an atomic.
fn l1_word(pa: u64) -> &'static AtomicU64 {
    let g = (pa / L0_BYTES) as usize;
    let i = ((pa % L0_BYTES) / (16 * GRANULE_SIZE)) as usize;
    // SAFETY: `g < L1_TABLES` and `i < L1_ENTRIES` because pa is in the DRAM `build` gave L1
    // tables (callers check it against `dram_range`); the word is 8-byte aligned and lives as
    // long as the program; after `build` every access to it is atomic, so viewing it as an
    // AtomicU64 is sound.
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
    if crate::rmm::region().contains(&pa) {
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
