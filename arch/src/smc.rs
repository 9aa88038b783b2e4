//! The SMC conduit to EL3 (SMCCC, SMC64 calling convention).

/// SMCCC `NOT_SUPPORTED` (-1) as it appears in x0.
pub const SMCCC_NOT_SUPPORTED: u64 = -1i64 as u64;

/// Issues `smc #0` with x0..x7 = `regs` and returns x0..x7 as EL3 left them.
/// Built for bare-metal aarch64 (`target_os = "none"`), where the RMM runs at R-EL2.
///
/// `regs[0]` is the function ID. The RMM-EL3 interface 0.3 passes at most 8 arguments and
/// results in x0..x7; x8..x17 are treated as clobbered, as SMCCC permits.
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub fn smc(regs: [u64; 8]) -> [u64; 8] {
    let mut r = regs;
    // INPUTS:   x0 = function ID, x1..x7 = arguments.
    // OUTPUTS:  x0..x7 = results.
    // CLOBBERS: x8..x17 (SMCCC allows EL3 to corrupt them); memory (EL3 may write buffers
    //           we passed by PA, e.g. the shared buffer, or change a granule's PAS).
    // SAFETY: `smc #0` traps to EL3, which returns to the next instruction with only the
    // registers listed above changed; SP and x18..x30 are preserved by EL3 (RMM-EL3
    // interface 0.3: EL3 saves/restores x0..x30 per world). It does not touch our stack.
    // Whether a particular call is memory-safe for the caller (e.g. undelegating a granule
    // the RMM still uses) is the caller's responsibility; the asm itself cannot break Rust's
    // invariants because memory is not declared untouched (no `nomem`/`readonly`).
    unsafe {
        core::arch::asm!(
            "smc #0",
            inout("x0") r[0],
            inout("x1") r[1],
            inout("x2") r[2],
            inout("x3") r[3],
            inout("x4") r[4],
            inout("x5") r[5],
            inout("x6") r[6],
            inout("x7") r[7],
            out("x8") _, out("x9") _, out("x10") _, out("x11") _,
            out("x12") _, out("x13") _, out("x14") _, out("x15") _,
            out("x16") _, out("x17") _,
            options(nostack),
        );
    }
    r
}

/// Host stand-in for [`smc`]: there is no EL3 on the host, so every call fails with
/// x0 = [`SMCCC_NOT_SUPPORTED`] and x1..x7 = 0. This keeps the crate building and its unit
/// tests running on x86_64. It is also used on aarch64 hosted targets (Linux, macOS), where
/// `smc` from EL0 would be an undefined instruction.
#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
pub fn smc(regs: [u64; 8]) -> [u64; 8] {
    let _ = regs;
    [SMCCC_NOT_SUPPORTED, 0, 0, 0, 0, 0, 0, 0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    #[test]
    fn host_smc_is_not_supported() {
        let out = smc([0xC400_01B0, 0x1000, 2, 3, 4, 5, 6, 7]);
        assert_eq!(out, [u64::MAX, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(SMCCC_NOT_SUPPORTED as i64, -1);
    }
}
