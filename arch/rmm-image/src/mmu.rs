//! The RMM's stage-1 translation at R-EL2 (TCR_EL2 with E2H = 0, 4 KiB granule, 39-bit VA,
//! starting at level 1), built once at cold boot and shared by every CPU.
//!
//! | VA                          | PA            | memory                | PAS   |
//! |-----------------------------|---------------|-----------------------|-------|
//! | image text                  | identity      | Normal, read-only, executable | Realm |
//! | image rodata                | identity      | Normal, read-only     | Realm |
//! | image data, bss, stacks, heap | identity    | Normal, read-write    | Realm |
//! | the EL3 shared buffer       | identity      | Normal, read-write    | Realm |
//! | DRAM banks of the manifest  | identity      | Normal, read-write    | Realm |
//! | console pages               | identity      | Device-nGnRE          | Non-secure |
//! | `NS_ALIAS` + DRAM banks     | DRAM          | Normal, read-write    | Non-secure |
//!
//! The Realm identity map of DRAM is how the RMM reaches the granules it owns
//! ([`rmm::Platform::granule`]): a delegated granule is Realm in the GPT, so the access is
//! allowed; any other granule faults. The Non-secure alias is reached only by
//! [`crate::nscopy`]. Everything but the text is execute-never; SCTLR_EL2.WXN also makes
//! every writable page execute-never.

use crate::boot_cell::BootCell;
use rmm_arch::manifest::Manifest;
use rmm_arch::{read_sysreg, write_sysreg};

/// Offset of the Non-secure alias of DRAM: VA = PA + `NS_ALIAS`.
pub const NS_ALIAS: u64 = 1 << 38;
/// PAs from here up have no alias (the VA space is 39 bits).
pub const NS_ALIAS_LIMIT: u64 = 1 << 38;

const VA_BITS: u64 = 39;
const ENTRIES: usize = 512;
const MAX_TABLES: usize = 64;

const VALID: u64 = 1 << 0;
const TABLE_OR_PAGE: u64 = 1 << 1;
const ATTR_DEVICE: u64 = 0 << 2;
const ATTR_NORMAL: u64 = 1 << 2;
const NS: u64 = 1 << 5;
/// AP[1] is RES1 in the EL2 translation regime.
const AP_RES1: u64 = 1 << 6;
const AP_READ_ONLY: u64 = 1 << 7;
const SH_INNER: u64 = 3 << 8;
const AF: u64 = 1 << 10;
const XN: u64 = 1 << 54;
const OA_MASK: u64 = 0x0000_ffff_ffff_f000;

/// MAIR_EL2: index 0 Device-nGnRE, index 1 Normal Write-Back, read/write-allocate.
const MAIR: u64 = 0x04 | (0xff << 8);

/// What a mapping is for.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    ReadOnly,
    ReadWrite,
    Device,
    NonSecure,
}

impl Kind {
    const fn attrs(self) -> u64 {
        let normal = ATTR_NORMAL | SH_INNER | AF | AP_RES1;
        match self {
            Kind::Text => normal | AP_READ_ONLY,
            Kind::ReadOnly => normal | AP_READ_ONLY | XN,
            Kind::ReadWrite => normal | XN,
            Kind::Device => ATTR_DEVICE | AF | AP_RES1 | XN | NS,
            Kind::NonSecure => normal | XN | NS,
        }
    }
}

#[repr(C, align(4096))]
struct Table([u64; ENTRIES]);

/// The tables: root first. Written by CPU 0 at cold boot before any other CPU is started,
/// read-only afterwards.
#[repr(C)]
struct Tables {
    tables: [Table; MAX_TABLES],
    /// Tables in use after the root (all zero initially, so the tables live in .bss).
    used: usize,
}

static TABLES: BootCell<Tables> = BootCell::new(Tables {
    tables: [const { Table([0; ENTRIES]) }; MAX_TABLES],
    used: 0,
});

unsafe extern "C" {
    static __image_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
}

/// Out of translation tables while building the map (a manifest with too many banks).
#[derive(Debug)]
pub struct OutOfTables;

fn symbol(s: *const u8) -> u64 {
    s as u64
}

impl Tables {
    fn table_pa(&self, index: usize) -> u64 {
        &self.tables[index] as *const Table as u64
    }

    /// Maps `[va, va + size)` to `pa` where nothing is mapped yet (earlier mappings win).
    fn map(&mut self, va: u64, pa: u64, size: u64, kind: Kind) -> Result<(), OutOfTables> {
        self.map_in(0, 1, va, pa, size, kind.attrs())
    }

    fn map_in(
        &mut self,
        table: usize,
        level: u32,
        mut va: u64,
        mut pa: u64,
        mut size: u64,
        attrs: u64,
    ) -> Result<(), OutOfTables> {
        let shift = 12 + 9 * (3 - level);
        let block = 1u64 << shift;
        while size > 0 {
            let index = ((va >> shift) as usize) % ENTRIES;
            let chunk = size.min(block - (va & (block - 1)));
            let entry = self.tables[table].0[index];
            if level == 3 {
                if entry & VALID == 0 {
                    self.tables[table].0[index] = pa | attrs | VALID | TABLE_OR_PAGE;
                }
            } else if entry & VALID == 0 && chunk == block && pa & (block - 1) == 0 {
                self.tables[table].0[index] = pa | attrs | VALID;
            } else if entry & (VALID | TABLE_OR_PAGE) == VALID {
                // Already a block: the earlier mapping wins.
            } else {
                let next = if entry & VALID == 0 {
                    if self.used + 1 == MAX_TABLES {
                        return Err(OutOfTables);
                    }
                    self.used += 1;
                    let next = self.used;
                    self.tables[table].0[index] = self.table_pa(next) | VALID | TABLE_OR_PAGE;
                    next
                } else {
                    self.index_of(entry & OA_MASK)
                };
                self.map_in(next, level + 1, va, pa, chunk, attrs)?;
            }
            va += chunk;
            pa += chunk;
            size -= chunk;
        }
        Ok(())
    }

    fn index_of(&self, pa: u64) -> usize {
        ((pa - self.table_pa(0)) / 4096) as usize
    }
}

/// Builds the map from the manifest and the RMM-EL3 shared buffer. Cold boot, CPU 0, MMU
/// off, before any other CPU runs.
pub fn build(manifest: &Manifest, shared_buf: u64) -> Result<(), OutOfTables> {
    // SAFETY: only CPU 0 runs (cold boot) and nothing else references TABLES.
    let tables = unsafe { TABLES.get_mut() };
    let (image, text_end, rodata_end, end) = (
        symbol(&raw const __image_start),
        symbol(&raw const __text_end),
        symbol(&raw const __rodata_end),
        crate::heap::end(),
    );
    tables.map(image, image, text_end - image, Kind::Text)?;
    tables.map(text_end, text_end, rodata_end - text_end, Kind::ReadOnly)?;
    tables.map(rodata_end, rodata_end, end - rodata_end, Kind::ReadWrite)?;
    tables.map(shared_buf, shared_buf, 4096, Kind::ReadWrite)?;
    if let Some(console) = manifest.console {
        tables.map(
            console.base,
            console.base,
            console.map_pages.max(1) * 4096,
            Kind::Device,
        )?;
    }
    for bank in manifest.dram.as_slice() {
        tables.map(bank.base, bank.base, bank.size, Kind::ReadWrite)?;
        if bank.end() <= NS_ALIAS_LIMIT {
            tables.map(bank.base + NS_ALIAS, bank.base, bank.size, Kind::NonSecure)?;
        }
    }
    Ok(())
}

/// Turns on this CPU's MMU with the tables [`build`] made.
///
/// # Safety
/// [`build`] has completed (on this or, ordered before this CPU started, another CPU), and
/// the code, stack and data in use are identity-mapped by it.
pub unsafe fn enable() {
    // SAFETY: the tables are complete and identity-map everything this CPU is using, so the
    // switch is seamless; the TLB is invalidated before use.
    unsafe {
        let root = TABLES.get() as *const Tables as u64;
        let parange = read_sysreg!("id_aa64mmfr0_el1") & 0xf;
        let tcr = (64 - VA_BITS)
            | (1 << 8)
            | (1 << 10)
            | (3 << 12)
            | (parange.min(5) << 16)
            | (1 << 23)
            | (1 << 31);
        write_sysreg!("mair_el2", MAIR);
        write_sysreg!("tcr_el2", tcr);
        write_sysreg!("ttbr0_el2", root);
        core::arch::asm!("dsb ish", "tlbi alle2", "dsb ish", "isb", options(nostack));
        // M, C, I, WXN on; A (alignment checks) off: `mem.rs` copies with unaligned loads.
        let sctlr =
            (read_sysreg!("sctlr_el2") | (1 << 0) | (1 << 2) | (1 << 12) | (1 << 19)) & !(1 << 1);
        write_sysreg!("sctlr_el2", sctlr);
        core::arch::asm!("isb", options(nostack));
    }
}
