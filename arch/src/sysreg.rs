//! System register access by name or `s3_<op1>_c<n>_c<m>_<op2>` encoding (for registers LLVM
//! does not know by name without target features, such as GPCCR_EL3 or ICH_HCR_EL2).

/// Reads a system register: `read_sysreg!("mpidr_el1")` or `read_sysreg!("s3_4_c12_c11_0")`.
#[macro_export]
macro_rules! read_sysreg {
    ($name:literal) => {{
        let value: u64;
        // SAFETY: reading a system register has no memory effects; the caller names a register
        // readable at the current exception level.
        unsafe {
            core::arch::asm!(concat!("mrs {}, ", $name), out(reg) value, options(nomem, nostack, preserves_flags));
        }
        value
    }};
}

/// Writes a system register: `write_sysreg!("vbar_el2", addr)`. Not followed by an ISB.
///
/// The register's effect is the caller's concern: the macro is used from `unsafe` contexts
/// whose SAFETY comment says why the new value keeps Rust's guarantees.
#[macro_export]
macro_rules! write_sysreg {
    ($name:literal, $value:expr) => {{
        let value: u64 = $value;
        core::arch::asm!(concat!("msr ", $name, ", {}"), in(reg) value, options(nostack, preserves_flags));
    }};
}

/// `isb`.
#[macro_export]
macro_rules! isb {
    () => {
        // SAFETY: a barrier has no effect on memory safety.
        unsafe { core::arch::asm!("isb", options(nostack, preserves_flags)) }
    };
}
