//! The EL1 and EL0 system registers a realm and the Normal world each own (RMM spec A4.1:
//! REC entry restores the realm's, REC exit saves them and restores the host's; EL3 does not
//! switch EL1 state), pointer authentication keys included. FP/SIMD is switched lazily
//! (`crate::fp`), the EL1 timers by `crate::timer`.

use rmm_arch::{read_sysreg, write_sysreg};

macro_rules! el1_registers {
    ($($name:literal),* $(,)?) => {
        /// Number of registers in [`El1State`].
        pub const COUNT: usize = [$($name),*].len();

        /// One world's EL1/EL0 system registers, in a fixed order.
        #[derive(Clone, Copy)]
        pub struct El1State(pub [u64; COUNT]);

        impl El1State {
            /// Reads the registers of whoever ran at EL1 last.
            pub fn save() -> Self {
                El1State([$(read_sysreg!($name)),*])
            }

            /// Loads the registers for the next EL1 run.
            pub fn restore(&self) {
                let mut values = self.0.iter();
                // SAFETY: EL1 and EL0 registers do not affect R-EL2's own execution (the RMM
                // runs with HCR_EL2.TGE = 0 and E2H = 0), only the lower ELs entered next.
                unsafe {
                    $(write_sysreg!($name, *values.next().unwrap_or(&0));)*
                }
            }
        }
    };
}

el1_registers!(
    "sctlr_el1",
    "ttbr0_el1",
    "ttbr1_el1",
    "tcr_el1",
    "mair_el1",
    "amair_el1",
    "contextidr_el1",
    "cpacr_el1",
    "csselr_el1",
    "tpidr_el0",
    "tpidrro_el0",
    "tpidr_el1",
    "sp_el0",
    "sp_el1",
    "afsr0_el1",
    "afsr1_el1",
    "par_el1",
    "cntkctl_el1",
    "mdscr_el1",
    // Pointer authentication keys (APIA, APIB, APDA, APDB, APGA; Lo then Hi), by encoding.
    "s3_0_c2_c1_0",
    "s3_0_c2_c1_1",
    "s3_0_c2_c1_2",
    "s3_0_c2_c1_3",
    "s3_0_c2_c2_0",
    "s3_0_c2_c2_1",
    "s3_0_c2_c2_2",
    "s3_0_c2_c2_3",
    "s3_0_c2_c3_0",
    "s3_0_c2_c3_1",
    "vbar_el1",
    "elr_el1",
    "spsr_el1",
    "esr_el1",
    "far_el1",
);

/// Position of MDSCR_EL1 in [`El1State`].
pub const MDSCR: usize = 18;

/// Positions in [`El1State`] of the registers the core manages in
/// [`rmm::rec::El1Exception`].
pub const VBAR: usize = COUNT - 5;

/// SCTLR_EL1 of a REC that has not run yet: the architectural reset value's RES1 bits (MMU and
/// caches off).
pub const SCTLR_RESET: u64 = 0x30d0_0800;
