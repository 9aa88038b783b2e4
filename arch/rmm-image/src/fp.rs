//! Lazy FP/SIMD switching for realms (RMM spec A4.1: the realm's FP state is its own).
//!
//! Realms start each run with FP/SIMD trapped (CPTR_EL2.TFP). On the realm's first FP/SIMD
//! instruction of a run, the RMM saves the Normal world's registers on this CPU (V0..V31, FPSR
//! and FPCR; the whole SVE or streaming SVE state where there is one, `crate::sve`), loads the
//! realm's from the REC's FP auxiliary granule, and resumes the realm with FP/SIMD untrapped
//! (SVE and SME stay trapped: realms have neither). When the run ends, the realm's registers go
//! back to the aux granule and the Normal world's are restored. A run that never touches
//! FP/SIMD costs nothing. The RMM itself never uses these registers (softfloat build); only the
//! routines below and in `crate::sve` touch them, with the traps lifted.

use crate::cpus::Slots;
use crate::sve;

/// CPTR_EL2 (E2H = 0): RES1 bits, and the traps never lifted: trace registers (TTA) and the
/// activity monitors (TAM; A3.1.6: no AMU for realms).
const CPTR_BASE: u64 = 0x22ff | 1 << 20 | 1 << 30;
/// The traps of SVE (TZ), FP/SIMD (TFP) and SME (TSM).
pub const CPTR_TZ: u64 = 1 << 8;
pub const CPTR_TFP: u64 = 1 << 10;
pub const CPTR_TSM: u64 = 1 << 12;
/// CPTR_EL2 with all three trapped: the RMM's, and a realm's until it uses FP/SIMD.
pub const CPTR_TRAP_ALL: u64 = CPTR_BASE | CPTR_TZ | CPTR_TFP | CPTR_TSM;

/// Writes CPTR_EL2.
pub fn set_cptr(value: u64) {
    // SAFETY: CPTR_EL2 only decides which FP/SIMD, SVE and SME uses trap to EL2; the RMM
    // itself uses those registers only here and in `crate::sve`, untrapped.
    unsafe {
        rmm_arch::write_sysreg!("cptr_el2", value);
        core::arch::asm!("isb", options(nostack));
    }
}

/// V0..V31, FPSR, FPCR (layout shared with the assembly).
#[repr(C, align(16))]
pub struct FpState {
    v: [u128; 32],
    fpsr: u64,
    fpcr: u64,
}

/// Bytes of an [`FpState`]: it fits in one aux granule.
pub const FP_STATE_SIZE: usize = core::mem::size_of::<FpState>();
const _: () = assert!(FP_STATE_SIZE <= 4096);

core::arch::global_asm!(
    r#"
    .arch_extension fp
    .arch_extension simd
    .section .text.fp, "ax"
    .global rmm_fp_save
rmm_fp_save:
    stp     q0, q1, [x0, #32 * 0]
    stp     q2, q3, [x0, #32 * 1]
    stp     q4, q5, [x0, #32 * 2]
    stp     q6, q7, [x0, #32 * 3]
    stp     q8, q9, [x0, #32 * 4]
    stp     q10, q11, [x0, #32 * 5]
    stp     q12, q13, [x0, #32 * 6]
    stp     q14, q15, [x0, #32 * 7]
    stp     q16, q17, [x0, #32 * 8]
    stp     q18, q19, [x0, #32 * 9]
    stp     q20, q21, [x0, #32 * 10]
    stp     q22, q23, [x0, #32 * 11]
    stp     q24, q25, [x0, #32 * 12]
    stp     q26, q27, [x0, #32 * 13]
    stp     q28, q29, [x0, #32 * 14]
    stp     q30, q31, [x0, #32 * 15]
    mrs     x1, fpsr
    mrs     x2, fpcr
    add     x0, x0, #512
    stp     x1, x2, [x0]
    ret

    .global rmm_fp_restore
rmm_fp_restore:
    ldp     q0, q1, [x0, #32 * 0]
    ldp     q2, q3, [x0, #32 * 1]
    ldp     q4, q5, [x0, #32 * 2]
    ldp     q6, q7, [x0, #32 * 3]
    ldp     q8, q9, [x0, #32 * 4]
    ldp     q10, q11, [x0, #32 * 5]
    ldp     q12, q13, [x0, #32 * 6]
    ldp     q14, q15, [x0, #32 * 7]
    ldp     q16, q17, [x0, #32 * 8]
    ldp     q18, q19, [x0, #32 * 9]
    ldp     q20, q21, [x0, #32 * 10]
    ldp     q22, q23, [x0, #32 * 11]
    ldp     q24, q25, [x0, #32 * 12]
    ldp     q26, q27, [x0, #32 * 13]
    ldp     q28, q29, [x0, #32 * 14]
    ldp     q30, q31, [x0, #32 * 15]
    add     x0, x0, #512
    ldp     x1, x2, [x0]
    msr     fpsr, x1
    msr     fpcr, x2
    ret
"#
);

unsafe extern "C" {
    fn rmm_fp_save(to: *mut FpState);
    fn rmm_fp_restore(from: *const FpState);
}

/// The Normal world's FP/SIMD registers on each CPU while a realm's are loaded there.
static NS_FP: Slots<FpState> = Slots::new();

/// Heap bytes [`init`] takes per CPU.
pub const BYTES_PER_CPU: usize = Slots::<FpState>::BYTES_PER_CPU;

/// Cold boot, CPU 0: allocates the save slots of `cpus` CPUs; Err if the heap is too small.
pub fn init(cpus: usize) -> Result<(), ()> {
    NS_FP.init(cpus)
}

fn ns_slot(cpu: usize) -> *mut FpState {
    NS_FP.get(cpu)
}

/// Gives the FP/SIMD registers to the realm: saves the Normal world's on CPU `cpu`, loads the
/// realm's from its FP aux granule at `aux`, and leaves only FP/SIMD untrapped.
///
/// # Safety
/// `aux` is the FP aux granule of the REC this CPU has claimed (identity-mapped, Realm PAS).
pub unsafe fn switch_to_realm(cpu: usize, aux: u64) {
    set_cptr(sve::cptr_open());
    // SAFETY: the slot and the SVE area are this CPU's; `aux` is owned through the REC claim
    // (caller); the registers are untrapped.
    unsafe {
        if !sve::save_ns(cpu) {
            rmm_fp_save(ns_slot(cpu));
        }
        rmm_fp_restore(aux as *const FpState);
    }
    set_cptr(CPTR_TRAP_ALL & !CPTR_TFP);
}

/// Gives the FP/SIMD registers back: the realm's to its aux granule at `aux`, the Normal
/// world's from CPU `cpu`'s save, and traps them all again.
///
/// # Safety
/// As [`switch_to_realm`], which ran earlier in this REC run.
pub unsafe fn switch_to_ns(cpu: usize, aux: u64) {
    set_cptr(sve::cptr_open());
    // SAFETY: as in `switch_to_realm`.
    unsafe {
        rmm_fp_save(aux as *mut FpState);
        if !sve::restore_ns(cpu) {
            rmm_fp_restore(ns_slot(cpu));
        }
    }
    set_cptr(CPTR_TRAP_ALL);
}
