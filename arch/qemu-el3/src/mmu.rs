//! EL3 stage-1 translation tables (identity map, 4 KiB granule, 39-bit VA, starting at
//! level 1) and the MMU switch-on.
//!
//! With FEAT_RME, EL3 stage-1 block and page descriptors select the PAS with bit 5 (NS) and
//! bit 11 (NSE): {NSE,NS} = 00 Secure, 01 Non-secure, 10 Root, 11 Realm (Arm ARM D8.3,
//! "Translation table descriptor formats", FEAT_RME). Map:
//!
//! | VA = PA | Memory | PAS |
//! |---|---|---|
//! | 0x0000_0000..0x0400_0000 | secure flash: Normal WB, read-only, executable | Root |
//! | 0x0800_0000..0x0900_0000 | GICv3: Device-nGnRE | Root (the GIC's Secure view) |
//! | rest of 0x0400_0000..0x4000_0000 | devices: Device-nGnRE, XN | Non-secure |
//! | 0x0e00_0000..0x0f00_0000 | secure RAM: Normal WB, RW, XN | Root |
//! | DRAM 0x4000_0000..0x1_0000_0000 | Normal WB, RW, XN | Non-secure |
//! | the shared buffer page, at either place it can be ([`SHARED_BUFS`]) | Normal WB, RW, XN | Realm |
//! | high GICv3 redistributors (QEMU `virt` > 123 CPUs: 0x40_0000_0000), [`map_device`] | Device-nGnRE, XN | Root |
//!
//! EL3 writes the boot manifest and attestation results into the shared buffer after the GPC
//! is on, so it needs the Realm-PAS mapping: with the MMU off every EL3 access is Root PAS,
//! which the GPC refuses for a Realm granule.

use core::cell::UnsafeCell;
use rmm_arch::layout::qemu::{
    FLASH_BASE, FLASH_SIZE, GICD_BASE, SECURE_RAM_BASE, SECURE_RAM_SIZE, SHARED_BUF_BASE,
    TFA_SHARED_BUF_BASE,
};
use rmm_arch::write_sysreg;

const BLOCK_2M: u64 = 1 << 21;
const PAGE: u64 = 1 << 12;

const VALID: u64 = 1 << 0;
const TABLE: u64 = 1 << 1; // table (L1/L2) or page (L3)
const ATTR_NORMAL: u64 = 0 << 2; // MAIR index 0
const ATTR_DEVICE: u64 = 1 << 2; // MAIR index 1
const NS: u64 = 1 << 5;
const AP_RO: u64 = 1 << 7;
const SH_INNER: u64 = 3 << 8;
const AF: u64 = 1 << 10;
const NSE: u64 = 1 << 11;
const XN: u64 = 1 << 54;

const PAS_ROOT: u64 = NSE;
const PAS_NS: u64 = NS;
const PAS_REALM: u64 = NSE | NS;

const FLASH: u64 = ATTR_NORMAL | SH_INNER | AF | AP_RO | PAS_ROOT;
const SRAM: u64 = ATTR_NORMAL | SH_INNER | AF | XN | PAS_ROOT;
const DEVICE_NS: u64 = ATTR_DEVICE | AF | XN | PAS_NS;
const DEVICE_ROOT: u64 = ATTR_DEVICE | AF | XN | PAS_ROOT;
const DRAM_NS: u64 = ATTR_NORMAL | SH_INNER | AF | XN | PAS_NS;
const DRAM_REALM: u64 = ATTR_NORMAL | SH_INNER | AF | XN | PAS_REALM;

/// MAIR_EL3: index 0 Normal WB RA/WA inner and outer, index 1 Device-nGnRE.
const MAIR: u64 = 0x04ff;
/// TCR_EL3: T0SZ = 25 (512 GiB, walks start at level 1), IRGN0/ORGN0 WB RA/WA, SH0 inner,
/// TG0 4 KiB, PS 40 bits, RES1 bits 23 and 31.
const TCR: u64 = 25 | (1 << 8) | (1 << 10) | (3 << 12) | (2 << 16) | (1 << 23) | (1 << 31);
/// SCTLR_EL3: reset value RES1 bits and SA, plus M, C and I.
const SCTLR: u64 = 0x00c5_0838 | 1 | (1 << 2) | (1 << 12);

#[repr(C, align(4096))]
struct Table([u64; 512]);

/// Where the shared buffer can be (`rmm::shared_buf`): this firmware's layout and TF-A's. The
/// tables are built before the quirks are read, so both are mapped; only one is Realm in the
/// GPT and used.
const SHARED_BUFS: [u64; 2] = [SHARED_BUF_BASE, TFA_SHARED_BUF_BASE];

/// The five tables: L1, L2 for the first GiB, L2 for the second, and an L3 for the 2 MiB
/// around each of the [`SHARED_BUFS`] (in different 2 MiB blocks of the second GiB).
struct Tables(UnsafeCell<[Table; 5]>);

// SAFETY: the primary CPU writes the tables once, before any other CPU enables its MMU (the
// pen is opened with a Release store after `build`); afterwards they are only read.
unsafe impl Sync for Tables {}

static TABLES: Tables = Tables(UnsafeCell::new([const { Table([0; 512]) }; 5]));

/// The attributes of the 2 MiB block at `pa` in the first GiB.
fn low_block(pa: u64) -> u64 {
    if (FLASH_BASE..FLASH_BASE + FLASH_SIZE).contains(&pa) {
        FLASH
    } else if (SECURE_RAM_BASE..SECURE_RAM_BASE + SECURE_RAM_SIZE).contains(&pa) {
        SRAM
    } else if (GICD_BASE..GICD_BASE + 0x0100_0000).contains(&pa) {
        DEVICE_ROOT
    } else {
        DEVICE_NS
    }
}

/// Fills the tables. Primary CPU only, MMU off, before any secondary leaves the pen.
pub fn build() {
    // SAFETY: see `Tables`: nobody else reads or writes the tables yet.
    let t = unsafe { &mut *TABLES.0.get() };
    let [l1, l2_low, l2_dram, l3_shared @ ..] = t;
    let addr = |t: &Table| t as *const Table as u64;
    let block_of = |pa: u64| pa & !(BLOCK_2M - 1);

    for (i, e) in l2_low.0.iter_mut().enumerate() {
        let pa = i as u64 * BLOCK_2M;
        *e = pa | low_block(pa) | VALID;
    }
    for (l3, shared) in l3_shared.iter_mut().zip(SHARED_BUFS) {
        for (i, e) in l3.0.iter_mut().enumerate() {
            let pa = block_of(shared) + i as u64 * PAGE;
            let attrs = if pa == shared { DRAM_REALM } else { DRAM_NS };
            *e = pa | attrs | TABLE | VALID;
        }
    }
    for (i, e) in l2_dram.0.iter_mut().enumerate() {
        let pa = (1 << 30) + i as u64 * BLOCK_2M;
        *e = match SHARED_BUFS.iter().position(|&s| block_of(s) == pa) {
            Some(n) => addr(&l3_shared[n]) | TABLE | VALID,
            None => pa | DRAM_NS | VALID,
        };
    }
    l1.0[0] = addr(l2_low) | TABLE | VALID;
    l1.0[1] = addr(l2_dram) | TABLE | VALID;
    l1.0[2] = (2 << 30) | DRAM_NS | VALID;
    l1.0[3] = (3 << 30) | DRAM_NS | VALID;
}

/// Maps the device region `[base, base + size)` above 4 GiB (QEMU `virt`'s second GICv3
/// redistributor region) as Device-nGnRE in the Root PAS, with 1 GiB blocks; false if it is
/// outside the 39-bit VA space or below 4 GiB. Primary CPU only, before the pen opens: the
/// entries it writes were invalid, so no TLB holds them.
pub fn map_device(base: u64, size: u64) -> bool {
    const GIB: u64 = 1 << 30;
    if base < 4 * GIB || size == 0 || base.saturating_add(size) > 512 * GIB {
        return false;
    }
    // SAFETY: see `Tables`: the pen is closed, no other CPU reads the tables; this CPU's
    // walks of other entries are not affected by writing an invalid one.
    let l1 = unsafe { &mut (*TABLES.0.get())[0] };
    for g in base / GIB..(base + size).div_ceil(GIB) {
        l1.0[g as usize] = (g * GIB) | DEVICE_ROOT | VALID;
    }
    // SAFETY: barriers only: the new entries are visible to this CPU's table walks.
    unsafe { core::arch::asm!("dsb ish", "isb", options(nostack)) };
    true
}

/// Turns this CPU's EL3 MMU on with the tables from [`build`].
pub fn enable() {
    // SAFETY: `build` has run (the primary calls it first; secondaries only after the pen
    // opens). The identity map keeps the code, the stack and all data EL3 uses at the same
    // addresses, so turning translation on does not move anything under us.
    unsafe {
        let ttbr = (*TABLES.0.get())[0].0.as_ptr() as u64;
        write_sysreg!("mair_el3", MAIR);
        write_sysreg!("tcr_el3", TCR);
        write_sysreg!("ttbr0_el3", ttbr);
        core::arch::asm!("dsb sy", "tlbi alle3", "dsb sy", "isb", options(nostack));
        write_sysreg!("sctlr_el3", SCTLR);
        core::arch::asm!("isb", options(nostack));
    }
}
