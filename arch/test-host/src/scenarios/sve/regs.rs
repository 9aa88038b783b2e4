//! SVE and SME at NS-EL2, in explicit assembly. The test host is built softfloat: no compiled
//! code touches an FP/SIMD, SVE or SME register, so what [`load`] puts in Z0-Z31, P0-P15 and
//! FFR stays there until [`store`] reads it back, whatever Rust code runs in between.

use rmm_arch::{read_sysreg, write_sysreg};

/// CPTR_EL2 (E2H = 0) with only its RES1 bits: FP/SIMD, SVE and SME untrapped.
const CPTR_EL2_OPEN: u64 = 0x22ff;
/// ZCR_EL2.LEN and SMCR_EL2.LEN asking for the longest vectors (2048 bits, capped by EL3).
const LEN_MAX: u64 = 0xf;
const SMCR_LEN: u64 = 0xf;

/// FEAT_SVE (ID_AA64PFR0_EL1.SVE).
pub fn sve_implemented() -> bool {
    (read_sysreg!("id_aa64pfr0_el1") >> 32) & 0xf != 0
}

/// FEAT_SME (ID_AA64PFR1_EL1.SME).
pub fn sme_implemented() -> bool {
    (read_sysreg!("id_aa64pfr1_el1") >> 24) & 0xf != 0
}

/// CPTR_EL2, ZCR_EL2 and SMCR_EL2 as they were before [`Controls::open`].
pub struct Controls {
    cptr: u64,
    zcr: Option<u64>,
    smcr: Option<u64>,
}

impl Controls {
    /// Untraps FP/SIMD, SVE and SME at NS-EL2 and asks for the longest vectors (of those
    /// implemented: `sve`, `sme`).
    pub fn open(sve: bool, sme: bool) -> Self {
        let cptr = read_sysreg!("cptr_el2");
        // SAFETY: lifting the traps only lets EL2 use the registers; nothing else changes.
        unsafe {
            write_sysreg!("cptr_el2", CPTR_EL2_OPEN);
            core::arch::asm!("isb", options(nostack, preserves_flags));
        }
        let zcr = sve.then(|| read_sysreg!("s3_4_c1_c2_0"));
        let smcr = sme.then(|| read_sysreg!("s3_4_c1_c2_6"));
        // SAFETY: vector lengths at EL2 and below; nothing in the test host holds vector state.
        unsafe {
            if let Some(zcr) = zcr {
                write_sysreg!("s3_4_c1_c2_0", (zcr & !0xf) | LEN_MAX);
            }
            if let Some(smcr) = smcr {
                write_sysreg!("s3_4_c1_c2_6", (smcr & !0xf) | SMCR_LEN);
            }
            core::arch::asm!("isb", options(nostack, preserves_flags));
        }
        Self { cptr, zcr, smcr }
    }

    /// Puts the registers back.
    pub fn restore(self) {
        // SAFETY: the values the test host ran with before `open`.
        unsafe {
            if let Some(zcr) = self.zcr {
                write_sysreg!("s3_4_c1_c2_0", zcr);
            }
            if let Some(smcr) = self.smcr {
                write_sysreg!("s3_4_c1_c2_6", smcr);
            }
            write_sysreg!("cptr_el2", self.cptr);
            core::arch::asm!("isb", options(nostack, preserves_flags));
        }
    }
}

/// The current vector length in bytes (the streaming one in streaming mode). SVE or SME must
/// be untrapped.
pub fn vector_bytes() -> usize {
    let vl: u64;
    // SAFETY: RDVL only reads the vector length.
    unsafe {
        core::arch::asm!(
            ".arch_extension sve",
            "rdvl {vl}, #1",
            vl = out(reg) vl,
            options(nomem, nostack, preserves_flags),
        );
    }
    vl as usize
}

/// Enters (`true`) or leaves streaming SVE mode (PSTATE.SM); SME must be untrapped. Either
/// way the Z, P and FFR registers become zero.
pub fn set_streaming(on: bool) {
    // SAFETY: SMSTART/SMSTOP SM change only PSTATE.SM and the vector registers, which no
    // compiled code uses.
    unsafe {
        if on {
            core::arch::asm!(".arch_extension sme", "smstart sm", options(nomem, nostack));
        } else {
            core::arch::asm!(".arch_extension sme", "smstop sm", options(nomem, nostack));
        }
    }
}

/// PSTATE.SM, from SVCR (FEAT_SME only).
pub fn streaming() -> bool {
    read_sysreg!("s3_3_c4_c2_2") & 1 != 0
}

/// Bytes of Z0-Z31, P0-P15 and FFR at vector length `vl` bytes.
pub const fn state_bytes(vl: usize) -> usize {
    32 * vl + 17 * (vl / 8)
}

unsafe extern "C" {
    fn host_sve_load(from: *const u8, ffr: u64);
    fn host_sve_store(to: *mut u8, ffr: u64);
}

// Layout at x0, in units of the current vector length VL: Z0..Z31 (32 VL), P0..P15 (16 VL/8),
// FFR (VL/8, only when x1 != 0; FFR is written from P0, which is loaded last).
core::arch::global_asm!(
    r#"
    .arch_extension sve
    .section .text.sve, "ax"
    .global host_sve_load
host_sve_load:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    ldr     z\n, [x0, #\n, mul vl]
    .endr
    addvl   x0, x0, #16
    addvl   x0, x0, #16
    cbz     x1, 1f
    ldr     p0, [x0, #16, mul vl]
    wrffr   p0.b
1:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    ldr     p\n, [x0, #\n, mul vl]
    .endr
    ret

    .global host_sve_store
host_sve_store:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    str     z\n, [x0, #\n, mul vl]
    .endr
    addvl   x0, x0, #16
    addvl   x0, x0, #16
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    str     p\n, [x0, #\n, mul vl]
    .endr
    cbz     x1, 1f
    rdffr   p0.b
    str     p0, [x0, #16, mul vl]
    ldr     p0, [x0, #0, mul vl]
1:  ret
"#
);

/// Loads Z0-Z31, P0-P15 and (with `ffr`) FFR from `from`, laid out as above for the current
/// vector length. FFR must hold a monotonic predicate (WRFFR).
///
/// # Safety
/// `from` is readable for [`state_bytes`]`(VL)` bytes; SVE is untrapped.
pub unsafe fn load(from: *const u8, ffr: bool) {
    // SAFETY: the caller's contract; the routine touches only x0, x1 and vector state.
    unsafe { host_sve_load(from, u64::from(ffr)) }
}

/// Stores what [`load`] loads, to `to`.
///
/// # Safety
/// `to` is writable for [`state_bytes`]`(VL)` bytes; SVE is untrapped.
pub unsafe fn store(to: *mut u8, ffr: bool) {
    // SAFETY: as in `load`.
    unsafe { host_sve_store(to, u64::from(ffr)) }
}
