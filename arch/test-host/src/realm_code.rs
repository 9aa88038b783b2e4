//! The realm's program: position-independent instructions, copied into the realm's first DATA
//! granule (IPA 0), run at EL1 with the MMU off (VA = IPA). Every value it reports it stores
//! to an unmapped Unprotected IPA, which the RMM turns into an emulatable Data Abort exit (SYNC,
//! ESR.ISV and WnR, the value in exit.gprs[0]); the host checks it and resumes the REC after
//! the store (emul_mmio).
//!
//! REC 0 starts at IPA 0 with x0 = a cookie, x1 = that IPA, x2 = the number of RECs. For each
//! other REC i in index order, with `mpidr` its affinity (Aff0 = i % 16, Aff1 = i / 16, ...:
//! RECs across clusters), it calls
//! - PSCI AFFINITY_INFO(mpidr, 0), expecting OFF,
//! - PSCI CPU_ON(mpidr, `worker`, cookie), expecting SUCCESS,
//! - AFFINITY_INFO(mpidr, 0) again, expecting ON,
//!
//! each a PSCI exit the host completes with RMI_PSCI_COMPLETE, and reports each result as
//! [`report`]. Then, like every REC that CPU_ON started at `worker` (x0 = the cookie), it
//! stores [`expected_store`] values for ever: `cookie << 32 | MPIDR_EL1 affinity`, plus 1 << 24
//! per store.

use crate::granule::Granule;

extern "C" {
    static realm_code_start: u8;
    static realm_code_end: u8;
}

/// The Unprotected IPA the program stores to (the top bit of a 40-bit IPA space).
pub const MMIO_IPA: u64 = 1 << 39 | 0x1000;
/// The tag of the values REC 0 reports its PSCI results with (bits 63:48).
pub const REPORT_TAG: u64 = 0x5053;
/// The kinds of report, in the order REC 0 makes them for each REC (bits 39:32).
pub const AFFINITY_BEFORE: u64 = 1;
pub const CPU_ON: u64 = 2;
pub const AFFINITY_AFTER: u64 = 3;

core::arch::global_asm!(
    r#"
    .section .rodata.realm_code, "a"
    .balign 8
    .global realm_code_start
    .global realm_code_worker
    .global realm_code_end
realm_code_start:
    mov     x19, x0                 // cookie
    mov     x20, x1                 // the MMIO IPA
    mov     x21, x2                 // number of RECs
    mov     x22, #1                 // i
1:  cmp     x22, x21
    b.hs    3f
    // x23 = the affinity of REC i: Aff0 = i[3:0], Aff1 = i[11:4], Aff2 = i[19:12].
    and     x23, x22, #0xf
    lsr     x24, x22, #4
    bfi     x23, x24, #8, #16
    movz    x0, #0x0004
    movk    x0, #0xc400, lsl #16    // PSCI_AFFINITY_INFO (SMC64)
    mov     x1, x23
    mov     x2, #0
    smc     #0
    mov     x25, #{before}
    bl      2f
    movz    x0, #0x0003
    movk    x0, #0xc400, lsl #16    // PSCI_CPU_ON (SMC64)
    mov     x1, x23
    adr     x2, realm_code_worker
    mov     x3, x19
    smc     #0
    mov     x25, #{on}
    bl      2f
    movz    x0, #0x0004
    movk    x0, #0xc400, lsl #16
    mov     x1, x23
    mov     x2, #0
    smc     #0
    mov     x25, #{after}
    bl      2f
    add     x22, x22, #1
    b       1b
    // Report x0 (a PSCI result) for kind x25 and affinity x23.
2:  and     x26, x0, #0xff
    orr     x26, x23, x26, lsl #24
    orr     x26, x26, x25, lsl #32
    movz    x27, #{tag}, lsl #48
    orr     x26, x26, x27
    str     x26, [x20]
    ret
realm_code_worker:
    mov     x19, x0
    movz    x20, #{mmio_hi}, lsl #32
    movk    x20, #{mmio_lo}
3:  mrs     x2, mpidr_el1
    and     x2, x2, #0xffffff
    orr     x2, x2, x19, lsl #32
    movz    x3, #0x100, lsl #16     // 1 << 24
4:  str     x2, [x20]
    add     x2, x2, x3
    b       4b
realm_code_end:
"#,
    before = const AFFINITY_BEFORE,
    on = const CPU_ON,
    after = const AFFINITY_AFTER,
    tag = const REPORT_TAG,
    mmio_hi = const MMIO_IPA >> 32,
    mmio_lo = const MMIO_IPA & 0xffff,
);

const _: () = assert!(MMIO_IPA >> 48 == 0 && MMIO_IPA & 0xffff_0000 == 0);

/// The value REC `mpidr`'s `n`th store of its loop (from 0) writes, for `cookie`.
pub const fn expected_store(cookie: u64, mpidr: u64, n: u64) -> u64 {
    (cookie << 32 | mpidr).wrapping_add(n << 24)
}

/// The value REC 0 reports for kind `kind` of PSCI call to the REC `mpidr` that returned
/// `result`.
pub const fn report(kind: u64, mpidr: u64, result: u64) -> u64 {
    REPORT_TAG << 48 | kind << 32 | (result & 0xff) << 24 | mpidr
}

/// Copies the program to the start of the zeroed granule `page`; returns its size in bytes.
pub fn copy_to(page: Granule) -> usize {
    // SAFETY: both labels delimit this program (below), in one section of this image.
    unsafe {
        copy_code(
            core::ptr::addr_of!(realm_code_start),
            core::ptr::addr_of!(realm_code_end),
            page,
        )
    }
}

/// Copies the instructions from `start` to `end` to the start of the granule `page`;
/// returns their size in bytes.
///
/// # Safety
/// `start` and `end` are labels of one section of this image, `end` after `start`, with
/// instructions between them (4-byte words, `start` aligned to 4 bytes), at most 4 KiB.
pub unsafe fn copy_code(start: *const u8, end: *const u8, page: Granule) -> usize {
    let (start, end) = (start as *const u32, end as *const u32);
    // SAFETY: the caller's: both in one section, `end` after `start`, aligned words.
    let words = unsafe { end.offset_from(start) } as usize;
    for i in 0..words {
        // SAFETY: `i < words`: a word of the program, in this image's read-only data.
        let word = unsafe { core::ptr::read_volatile(start.add(i)) };
        page.write_u32(4 * i, word);
    }
    4 * words
}
