//! Per-world CPU contexts and the EL2 register swap of the world switch.
//!
//! NS-EL2 and R-EL2 share one set of EL2 system registers, so EL3 saves one world's and loads
//! the other's whenever it enters a different world (TF-A `el2_sysregs_context_save/restore`,
//! the RMM-EL3 interface 0.3 contract). EL3 saves x0..x30, SP_EL0, SP_EL2, the EL2 registers
//! of the features present and the PAuth keys per world; it does not touch FP/SIMD/SVE/SME,
//! EL1/EL0 system registers, ICH_LR*/ICH_AP* or the EL2 timers (CNTHP_*, CNTHV_*): the RMM
//! saves those around realm entry itself, and leaving the EL2 timers live lets the host's
//! timer interrupt a long-running realm (as TF-A does).

use rmm_arch::{read_sysreg, write_sysreg};

/// Which world a context belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum World {
    /// Normal world, NS-EL2 (SCR_EL3 NSE=0, NS=1).
    NonSecure = 0,
    /// Realm world, R-EL2: the RMM (SCR_EL3 NSE=1, NS=1).
    Realm = 1,
}

/// CPU features that decide which registers exist (read once per CPU).
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    /// Always true: ARMv8.0 EL2 registers.
    pub always: bool,
    /// FEAT_VHE (ID_AA64MMFR1_EL1.VH): CONTEXTIDR_EL2, TTBR1_EL2.
    pub vhe: bool,
    /// GICv3 system register interface (ID_AA64PFR0_EL1.GIC): ICC_SRE_EL2, ICH_HCR/VMCR_EL2.
    pub gic: bool,
    /// FEAT_FGT (ID_AA64MMFR0_EL1.FGT): the fine-grained trap registers.
    pub fgt: bool,
    /// FEAT_HCX (ID_AA64MMFR1_EL1.HCX): HCRX_EL2.
    pub hcx: bool,
    /// FEAT_SVE (ID_AA64PFR0_EL1.SVE): ZCR_EL2.
    pub sve: bool,
    /// FEAT_SME (ID_AA64PFR1_EL1.SME): SMCR_EL2.
    pub sme: bool,
    /// FEAT_NV2 (ID_AA64MMFR2_EL1.NV >= 2): VNCR_EL2.
    pub nv2: bool,
    /// FEAT_ECV with CNTPOFF (ID_AA64MMFR0_EL1.ECV >= 2): CNTPOFF_EL2.
    pub ecv: bool,
    /// FEAT_PAuth (ID_AA64ISAR1_EL1.APA/API/GPA/GPI, ISAR2.APA3/GPA3): the key registers.
    pub pauth: bool,
    /// FEAT_CSV2_2 (ID_AA64PFR0_EL1.CSV2 >= 2): SCXTNUM_ELx, SCR_EL3.EnSCXT.
    pub scxt: bool,
}

fn field(reg: u64, shift: u32) -> u64 {
    (reg >> shift) & 0xf
}

impl Features {
    /// Reads the ID registers of this CPU.
    pub fn read() -> Self {
        let pfr0 = read_sysreg!("id_aa64pfr0_el1");
        let pfr1 = read_sysreg!("id_aa64pfr1_el1");
        let mmfr0 = read_sysreg!("id_aa64mmfr0_el1");
        let mmfr1 = read_sysreg!("id_aa64mmfr1_el1");
        let mmfr2 = read_sysreg!("id_aa64mmfr2_el1");
        let isar1 = read_sysreg!("id_aa64isar1_el1");
        let isar2 = read_sysreg!("s3_0_c0_c6_2");
        Self {
            always: true,
            vhe: field(mmfr1, 8) != 0,
            gic: field(pfr0, 24) != 0,
            fgt: field(mmfr0, 56) != 0,
            hcx: field(mmfr1, 40) != 0,
            sve: field(pfr0, 32) != 0,
            sme: field(pfr1, 24) != 0,
            nv2: field(mmfr2, 24) >= 2,
            ecv: field(mmfr0, 60) >= 2,
            pauth: field(isar1, 4) != 0
                || field(isar1, 8) != 0
                || field(isar1, 24) != 0
                || field(isar1, 28) != 0
                || field(isar2, 12) != 0
                || field(isar2, 8) != 0,
            scxt: field(pfr0, 56) >= 2,
        }
    }
}

/// Defines [`El2Regs`] with one field per register and its save/restore code, each register
/// gated on a [`Features`] flag.
macro_rules! el2_regs {
    ($($field:ident: $enc:literal if $gate:ident;)*) => {
        /// The EL2 system registers one world owns (the "mode1" list of the QEMU notes, less
        /// the EL2 timers; plus the PAuth keys, which TF-A also keeps per world).
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default)]
        pub struct El2Regs {
            $(
                #[doc = concat!("`", $enc, "`")]
                pub $field: u64,
            )*
        }

        impl El2Regs {
            /// Reads the live registers into `self`.
            pub fn save(&mut self, f: &Features) {
                $(
                    if f.$gate {
                        self.$field = read_sysreg!($enc);
                    }
                )*
            }

            /// Writes `self` into the live registers.
            ///
            /// # Safety
            /// Only EL3 may call this, and only while no lower EL of either world runs on
            /// this CPU (the values take effect at the next ERET).
            pub unsafe fn restore(&self, f: &Features) {
                $(
                    if f.$gate {
                        // SAFETY: EL2 registers do not affect EL3's own execution; the caller
                        // guarantees we are between worlds.
                        unsafe { write_sysreg!($enc, self.$field) };
                    }
                )*
            }
        }
    };
}

el2_regs! {
    sctlr_el2: "sctlr_el2" if always;
    tcr_el2: "tcr_el2" if always;
    ttbr0_el2: "ttbr0_el2" if always;
    mair_el2: "mair_el2" if always;
    amair_el2: "amair_el2" if always;
    vbar_el2: "vbar_el2" if always;
    actlr_el2: "actlr_el2" if always;
    afsr0_el2: "afsr0_el2" if always;
    afsr1_el2: "afsr1_el2" if always;
    esr_el2: "esr_el2" if always;
    far_el2: "far_el2" if always;
    hpfar_el2: "hpfar_el2" if always;
    elr_el2: "elr_el2" if always;
    spsr_el2: "spsr_el2" if always;
    sp_el2: "sp_el2" if always;
    hcr_el2: "hcr_el2" if always;
    hstr_el2: "hstr_el2" if always;
    hacr_el2: "hacr_el2" if always;
    cptr_el2: "cptr_el2" if always;
    mdcr_el2: "mdcr_el2" if always;
    vtcr_el2: "vtcr_el2" if always;
    vttbr_el2: "vttbr_el2" if always;
    vmpidr_el2: "vmpidr_el2" if always;
    vpidr_el2: "vpidr_el2" if always;
    tpidr_el2: "tpidr_el2" if always;
    cnthctl_el2: "cnthctl_el2" if always;
    cntvoff_el2: "cntvoff_el2" if always;
    contextidr_el2: "s3_4_c13_c0_1" if vhe;
    ttbr1_el2: "s3_4_c2_c0_1" if vhe;
    icc_sre_el2: "s3_4_c12_c9_5" if gic;
    ich_hcr_el2: "s3_4_c12_c11_0" if gic;
    ich_vmcr_el2: "s3_4_c12_c11_7" if gic;
    hfgrtr_el2: "s3_4_c1_c1_4" if fgt;
    hfgwtr_el2: "s3_4_c1_c1_5" if fgt;
    hfgitr_el2: "s3_4_c1_c1_6" if fgt;
    hdfgrtr_el2: "s3_4_c3_c1_4" if fgt;
    hdfgwtr_el2: "s3_4_c3_c1_5" if fgt;
    hcrx_el2: "s3_4_c1_c2_2" if hcx;
    zcr_el2: "s3_4_c1_c2_0" if sve;
    smcr_el2: "s3_4_c1_c2_6" if sme;
    vncr_el2: "s3_4_c2_c2_0" if nv2;
    cntpoff_el2: "s3_4_c14_c0_6" if ecv;
    scxtnum_el2: "s3_4_c13_c0_7" if scxt;
    apiakeylo: "s3_0_c2_c1_0" if pauth;
    apiakeyhi: "s3_0_c2_c1_1" if pauth;
    apibkeylo: "s3_0_c2_c1_2" if pauth;
    apibkeyhi: "s3_0_c2_c1_3" if pauth;
    apdakeylo: "s3_0_c2_c2_0" if pauth;
    apdakeyhi: "s3_0_c2_c2_1" if pauth;
    apdbkeylo: "s3_0_c2_c2_2" if pauth;
    apdbkeyhi: "s3_0_c2_c2_3" if pauth;
    apgakeylo: "s3_0_c2_c3_0" if pauth;
    apgakeyhi: "s3_0_c2_c3_1" if pauth;
}

/// SCTLR_EL2 RES1 bits (E2H = 0): MMU and caches off. TF-A `SCTLR_EL2_RES1`, used for the
/// realm context on first entry (`rmm_el2_context_init`) and for PSCI CPU_ON entries.
pub const SCTLR_EL2_RES1: u64 = 0x30c5_0830;
/// SPSR_EL3 for entry at EL2h with DAIF masked.
pub const SPSR_EL2H_DAIF: u64 = 0x3c9;

/// A world's saved state on one CPU. `entry.rs` reads and writes the fields up to `stack` by
/// offset: keep the layout in step with the `CTX_*` constants.
#[repr(C)]
pub struct Ctx {
    /// x0..x30.
    pub x: [u64; 31],
    /// SP_EL0.
    pub sp_el0: u64,
    /// ELR_EL3: where the world resumes.
    pub elr: u64,
    /// SPSR_EL3: the world's PSTATE.
    pub spsr: u64,
    /// SCR_EL3 while the world runs.
    pub scr: u64,
    /// Top of this CPU's EL3 stack, loaded by the exception entry.
    pub stack: u64,
    /// [`World`] as u64.
    pub world: u64,
    /// Linear CPU index.
    pub cpu: u64,
    /// The world's EL2 registers while the other world owns them.
    pub el2: El2Regs,
}

/// Offsets used by the assembly in `entry.rs`.
pub const CTX_SP_EL0: usize = core::mem::offset_of!(Ctx, sp_el0);
/// Offset of [`Ctx::elr`].
pub const CTX_ELR: usize = core::mem::offset_of!(Ctx, elr);
/// Offset of [`Ctx::spsr`].
pub const CTX_SPSR: usize = core::mem::offset_of!(Ctx, spsr);
/// Offset of [`Ctx::scr`].
pub const CTX_SCR: usize = core::mem::offset_of!(Ctx, scr);
/// Offset of [`Ctx::stack`].
pub const CTX_STACK: usize = core::mem::offset_of!(Ctx, stack);

const _: () = assert!(CTX_SP_EL0 == 248 && CTX_ELR == 256 && CTX_STACK == 280);

impl Ctx {
    /// A context with every register zero.
    pub const ZERO: Ctx = Ctx {
        x: [0; 31],
        sp_el0: 0,
        elr: 0,
        spsr: 0,
        scr: 0,
        stack: 0,
        world: 0,
        cpu: 0,
        el2: El2Regs::ZERO,
    };

    /// The world this context belongs to.
    pub fn world(&self) -> World {
        if self.world == World::Realm as u64 {
            World::Realm
        } else {
            World::NonSecure
        }
    }

    /// Resets the general-purpose state for a first entry at EL2h at `entry` with x0..x3 =
    /// `args` (the EL2 registers are set by the caller).
    pub fn reset_entry(&mut self, entry: u64, args: [u64; 4], scr: u64) {
        self.x = [0; 31];
        self.x[..4].copy_from_slice(&args);
        self.sp_el0 = 0;
        self.elr = entry;
        self.spsr = SPSR_EL2H_DAIF;
        self.scr = scr;
    }
}

impl El2Regs {
    /// All zero.
    pub const ZERO: El2Regs = {
        // SAFETY: El2Regs is a repr(C) struct of u64 fields, for which all-zero is valid.
        unsafe { core::mem::zeroed() }
    };
}
