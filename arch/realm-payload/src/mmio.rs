//! Accesses to the emulated MMIO register and the shared granules: Unprotected IPAs, outside
//! every Rust object, reached by address (MMU off).

/// Stores `value` at the Unprotected IPA `ipa` with one `str` (no writeback: the abort then
/// has a valid syndrome, ESR.ISV, so the host can emulate it).
pub fn write(ipa: u64, value: u64) {
    // SAFETY: one aligned store to an Unprotected IPA that belongs to no Rust object: either
    // the emulated register (the REC exits and the host emulates the store) or a shared
    // granule the host mapped. Nothing in this program's memory changes.
    unsafe {
        core::arch::asm!("str {v}, [{a}]", a = in(reg) ipa, v = in(reg) value, options(nostack, preserves_flags));
    }
}

/// Loads a doubleword from the Unprotected IPA `ipa` with one `ldr` (no writeback).
pub fn read(ipa: u64) -> u64 {
    let value: u64;
    // SAFETY: one aligned load from an Unprotected IPA that belongs to no Rust object (as in
    // `write`); the host supplies the value of an emulated read.
    unsafe {
        core::arch::asm!("ldr {v}, [{a}]", a = in(reg) ipa, v = out(reg) value, options(nostack, preserves_flags));
    }
    value
}
