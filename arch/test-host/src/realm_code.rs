//! The realm's program: a few position-independent instructions, copied into the realm's first
//! DATA granule (IPA 0, where its RECs start). Each REC, at EL1 with its MMU off:
//! - builds `x2 = x0 << 16 | MPIDR_EL1.Aff0` (x0: the cookie from RmiRecParams.gprs[0]; the
//!   MPIDR is the virtual one the RMM gives the REC, so Aff0 is the REC's index);
//! - stores x2 at x1 (RmiRecParams.gprs[1]: an unmapped Unprotected IPA), which the RMM reports
//!   to the host as an emulatable Data Abort (REC exit SYNC, ESR.ISV and WnR, the value in
//!   exit.gprs[0]);
//! - when resumed after the store, adds 0x100 to x2 and stores again, for ever.

use crate::granule::Granule;

extern "C" {
    static realm_code_start: u8;
    static realm_code_end: u8;
}

core::arch::global_asm!(
    r#"
    .section .rodata.realm_code, "a"
    .balign 8
    .global realm_code_start
    .global realm_code_end
realm_code_start:
    mrs     x2, mpidr_el1
    and     x2, x2, #0xff
    orr     x2, x2, x0, lsl #16
1:  str     x2, [x1]
    add     x2, x2, #0x100
    b       1b
realm_code_end:
"#
);

/// The value the realm's `n`th store (from 0) writes, for REC `index` and `cookie`.
pub const fn expected_store(cookie: u64, index: u64, n: u64) -> u64 {
    (cookie << 16 | index) + n * 0x100
}

/// Copies the program to the start of the zeroed granule `page`; returns its size in bytes.
pub fn copy_to(page: Granule) -> usize {
    let start = core::ptr::addr_of!(realm_code_start) as *const u32;
    let end = core::ptr::addr_of!(realm_code_end) as *const u32;
    // SAFETY: both labels are in the same section of this image, `end` after `start`, and the
    // bytes between them are instructions (4-byte words, aligned by `.balign 8`).
    let words = unsafe { end.offset_from(start) } as usize;
    for i in 0..words {
        // SAFETY: `i < words`: a word of the program, in this image's read-only data.
        let word = unsafe { core::ptr::read_volatile(start.add(i)) };
        page.write_u32(4 * i, word);
    }
    4 * words
}
