//! Copies to and from Non-secure memory that survive a granule protection fault.
//!
//! The host names its buffers by PA; the RMM reaches them through its Non-secure alias of DRAM
//! ([`crate::mmu::NS_ALIAS`]). If the host has changed a buffer's PAS (or names memory that
//! is not DRAM), the load or store takes a data abort at R-EL2; the exception handler sees the
//! faulting PC inside [`rmm_ns_copy`] and resumes at its failure exit, so the command fails
//! with RMI_ERROR_INPUT and nothing else happens.

use crate::mmu::{NS_ALIAS, NS_ALIAS_LIMIT};
use rmm::platform::NsAccessFault;

core::arch::global_asm!(
    r#"
    .section .text.ns_copy, "ax"
    .global rmm_ns_copy
    // x0 = destination, x1 = source, x2 = length; returns x0 = 0, or 1 after a fault.
    // Aligned: 16 bytes a step, then the last 8 if any.
rmm_ns_copy:
    orr     x3, x0, x1
    orr     x3, x3, x2
    tst     x3, #7
    b.ne    2f
    subs    x2, x2, #16
    b.lo    5f
1:  ldp     x3, x4, [x1], #16
    stp     x3, x4, [x0], #16
    subs    x2, x2, #16
    b.hs    1b
5:  tbz     x2, #3, 9f
    ldr     x3, [x1]
    str     x3, [x0]
    b       9f
2:  cbz     x2, 9f
3:  ldrb    w3, [x1], #1
    strb    w3, [x0], #1
    subs    x2, x2, #1
    b.ne    3b
9:  mov     x0, #0
    ret
    .global rmm_ns_copy_end
rmm_ns_copy_end:
    .global rmm_ns_copy_fault
rmm_ns_copy_fault:
    mov     x0, #1
    ret
"#
);

unsafe extern "C" {
    fn rmm_ns_copy(dst: *mut u8, src: *const u8, len: usize) -> u64;
    static rmm_ns_copy_end: u8;
    static rmm_ns_copy_fault: u8;
}

/// Where to resume after a data abort at `pc`: the copy's failure exit if `pc` is in the copy.
pub fn fixup(pc: u64) -> Option<u64> {
    let start = rmm_ns_copy as *const () as u64;
    let (end, fault) = (
        &raw const rmm_ns_copy_end as u64,
        &raw const rmm_ns_copy_fault as u64,
    );
    (start..end).contains(&pc).then_some(fault)
}

/// The alias address of Non-secure `[pa, pa + len)`, if the whole range can be in the alias.
fn alias(pa: u64, len: usize) -> Result<u64, NsAccessFault> {
    let end = pa.checked_add(len as u64).ok_or(NsAccessFault { pa })?;
    if end > NS_ALIAS_LIMIT {
        return Err(NsAccessFault { pa });
    }
    Ok(pa + NS_ALIAS)
}

/// Copies Non-secure memory at `pa` into `buf`.
pub fn read(pa: u64, buf: &mut [u8]) -> Result<(), NsAccessFault> {
    let src = alias(pa, buf.len())?;
    // SAFETY: `buf` is valid for writes of its length; the source is in the Non-secure alias
    // (mapped as Normal memory, or unmapped: any abort is caught by `fixup`), which no Rust
    // reference points into.
    match unsafe { rmm_ns_copy(buf.as_mut_ptr(), src as *const u8, buf.len()) } {
        0 => Ok(()),
        _ => Err(NsAccessFault { pa }),
    }
}

/// Copies `buf` to Non-secure memory at `pa`.
pub fn write(pa: u64, buf: &[u8]) -> Result<(), NsAccessFault> {
    let dst = alias(pa, buf.len())?;
    // SAFETY: `buf` is valid for reads of its length; the destination is in the Non-secure
    // alias, which no Rust reference points into; an abort is caught by `fixup`.
    match unsafe { rmm_ns_copy(dst as *mut u8, buf.as_ptr(), buf.len()) } {
        0 => Ok(()),
        _ => Err(NsAccessFault { pa }),
    }
}
