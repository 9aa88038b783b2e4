//! The SMC conduit to the RMM (RSI and PSCI from a realm, SMCCC 1.2 SMC64: x0..x17 carry
//! arguments and results).

/// Registers an SMC passes and returns: x0..x17.
pub const NUM_REGS: usize = 18;

/// Issues `smc #0` with x0..x17 = `regs` (x0 the function ID) and returns x0..x17 as the RMM
/// left them.
pub fn smc(regs: [u64; NUM_REGS]) -> [u64; NUM_REGS] {
    let mut r = regs;
    // SAFETY: `smc #0` traps to the RMM at R-EL2, which runs the command and returns to the
    // next instruction with at most x0..x17 changed (SMCCC), all of which are operands here.
    // It does not touch our stack. It may write realm memory we named by IPA (a host-call
    // page, the RsiRealmConfig page, the token buffer): those are atomics or memory no Rust
    // reference covers, and the asm is not `nomem`, so the compiler reloads them after it.
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
            inout("x8") r[8],
            inout("x9") r[9],
            inout("x10") r[10],
            inout("x11") r[11],
            inout("x12") r[12],
            inout("x13") r[13],
            inout("x14") r[14],
            inout("x15") r[15],
            inout("x16") r[16],
            inout("x17") r[17],
            options(nostack),
        );
    }
    r
}

/// Calls `fid` with x1.. = `args` (the rest zero).
pub fn call(fid: u64, args: &[u64]) -> [u64; NUM_REGS] {
    let mut regs = [0u64; NUM_REGS];
    regs[0] = fid;
    for (reg, arg) in regs[1..].iter_mut().zip(args) {
        *reg = *arg;
    }
    smc(regs)
}
