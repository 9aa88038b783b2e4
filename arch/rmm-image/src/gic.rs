//! The GICv3 virtual CPU interface registers a REC entry loads and its exit saves (ICH_*_EL2,
//! GICv3 architecture specification 12.4). LLVM knows them only by encoding.

use rmm_arch::{read_sysreg, write_sysreg};

/// Number of list registers (ICH_VTR_EL2.ListRegs + 1).
pub fn list_registers() -> usize {
    (read_sysreg!("s3_4_c12_c11_1") & 0x1f) as usize + 1
}

/// ICH_HCR_EL2.
pub fn hcr() -> u64 {
    read_sysreg!("s3_4_c12_c11_0")
}

/// Sets ICH_HCR_EL2.
pub fn set_hcr(value: u64) {
    // SAFETY: the virtual interface's control affects only virtual interrupts of EL1.
    unsafe { write_sysreg!("s3_4_c12_c11_0", value) }
}

/// ICH_MISR_EL2: the maintenance interrupts the virtual interface asserts.
pub fn misr() -> u64 {
    read_sysreg!("s3_4_c12_c11_2")
}

/// ICH_VMCR_EL2.
pub fn vmcr() -> u64 {
    read_sysreg!("s3_4_c12_c11_7")
}

/// Sets ICH_VMCR_EL2.
pub fn set_vmcr(value: u64) {
    // SAFETY: as `set_hcr`.
    unsafe { write_sysreg!("s3_4_c12_c11_7", value) }
}

/// ICH_AP0R0_EL2 and ICH_AP1R0_EL2 (5 priority bits: one register each).
pub fn active_priorities() -> [u64; 2] {
    [read_sysreg!("s3_4_c12_c8_0"), read_sysreg!("s3_4_c12_c9_0")]
}

/// Sets ICH_AP0R0_EL2 and ICH_AP1R0_EL2.
pub fn set_active_priorities(value: [u64; 2]) {
    // SAFETY: as `set_hcr`.
    unsafe {
        write_sysreg!("s3_4_c12_c8_0", value[0]);
        write_sysreg!("s3_4_c12_c9_0", value[1]);
    }
}

macro_rules! list_register_access {
    ($($n:literal => $enc:literal),* $(,)?) => {
        /// ICH_LR<n>_EL2.
        pub fn lr(n: usize) -> u64 {
            match n {
                $($n => read_sysreg!($enc),)*
                _ => 0,
            }
        }

        /// Sets ICH_LR<n>_EL2 (ignored beyond 15).
        pub fn set_lr(n: usize, value: u64) {
            // SAFETY: as `set_hcr`.
            unsafe {
                match n {
                    $($n => write_sysreg!($enc, value),)*
                    _ => {}
                }
            }
        }
    };
}

list_register_access! {
    0 => "s3_4_c12_c12_0", 1 => "s3_4_c12_c12_1", 2 => "s3_4_c12_c12_2", 3 => "s3_4_c12_c12_3",
    4 => "s3_4_c12_c12_4", 5 => "s3_4_c12_c12_5", 6 => "s3_4_c12_c12_6", 7 => "s3_4_c12_c12_7",
    8 => "s3_4_c12_c13_0", 9 => "s3_4_c12_c13_1", 10 => "s3_4_c12_c13_2", 11 => "s3_4_c12_c13_3",
    12 => "s3_4_c12_c13_4", 13 => "s3_4_c12_c13_5", 14 => "s3_4_c12_c13_6", 15 => "s3_4_c12_c13_7",
}
