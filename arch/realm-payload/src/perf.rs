//! The perf modes: REC 0 calls RSI_HOST_CALL with `imm` IMM_PERF for ever (the host re-enters
//! at once), optionally after a write to d0 so that the RMM's lazy FP/SIMD path has realm FP
//! state to save.

use crate::report;
use crate::rsi;
use rmm_arch::realm_report::IMM_PERF;

/// Runs the loop; `touch_fp` first enables FP at EL1 and writes d0.
pub fn run(touch_fp: bool) -> ! {
    if touch_fp {
        touch_d0(0x3ff0_0000_0000_0000); // 1.0
    }
    let page = report::prepared_host_call(IMM_PERF);
    loop {
        rsi::host_call(page);
    }
}

/// Sets CPACR_EL1.FPEN (no FP trap to EL1) and writes `bits` to d0: the only FP/SIMD use in
/// the payload.
fn touch_d0(bits: u64) {
    // SAFETY: enabling FP at EL1 and writing d0. The rest of the payload is built softfloat and
    // never reads or writes an FP/SIMD register, so d0 holds nothing Rust relies on; the
    // register cannot be named as an operand on this target, hence no clobber. No memory is
    // touched.
    unsafe {
        core::arch::asm!(
            ".arch_extension fp",
            "mrs {t}, cpacr_el1",
            "orr {t}, {t}, #(3 << 20)",
            "msr cpacr_el1, {t}",
            "isb",
            "fmov d0, {v}",
            t = out(reg) _,
            v = in(reg) bits,
            options(nomem, nostack, preserves_flags),
        );
    }
}
