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

/// `[S3_0_C0_C<crm>_<op2>, ...]` for the listed encodings, in order.
macro_rules! read_id_registers {
    ($($crm:literal $op2:literal),* $(,)?) => {
        [$({
            let value: u64;
            // SAFETY: reading an ID register has no effect; the whole space (CRm 1 to 7) is
            // readable at EL1 and above, unallocated encodings reading as zero (at EL1 in a
            // realm the read traps and the RMM answers).
            unsafe {
                core::arch::asm!(
                    concat!("mrs {}, s3_0_c0_c", $crm, "_", $op2),
                    out(reg) value,
                    options(nomem, nostack, preserves_flags)
                )
            };
            value
        }),*]
    };
}

/// Number of encodings in the ID register space [`read_id_space`] reads.
pub const ID_SPACE_SIZE: usize = 56;

/// Reads the ID register space HCR_EL2.TID3 traps: op0 3, op1 0, CRn 0, CRm 1 to 7, op2 0 to
/// 7 (Arm ARM D23.3.1), index `(CRm - 1) * 8 + op2`.
pub fn read_id_space() -> [u64; ID_SPACE_SIZE] {
    read_id_registers![
        1 0, 1 1, 1 2, 1 3, 1 4, 1 5, 1 6, 1 7,
        2 0, 2 1, 2 2, 2 3, 2 4, 2 5, 2 6, 2 7,
        3 0, 3 1, 3 2, 3 3, 3 4, 3 5, 3 6, 3 7,
        4 0, 4 1, 4 2, 4 3, 4 4, 4 5, 4 6, 4 7,
        5 0, 5 1, 5 2, 5 3, 5 4, 5 5, 5 6, 5 7,
        6 0, 6 1, 6 2, 6 3, 6 4, 6 5, 6 6, 6 7,
        7 0, 7 1, 7 2, 7 3, 7 4, 7 5, 7 6, 7 7,
    ]
}
