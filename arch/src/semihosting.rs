//! Arm semihosting calls the QEMU images use (`-semihosting`): exit with a status.

/// SYS_EXIT_EXTENDED: exit the simulator with a status (semihosting 2.0).
const SYS_EXIT_EXTENDED: u64 = 0x20;
/// ADP_Stopped_ApplicationExit.
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x20026;

/// Ends the simulation with exit status `code` (QEMU's own exit status). Returns only if
/// semihosting is off, so callers follow it with their own halt.
pub fn exit(code: u32) {
    let block = [ADP_STOPPED_APPLICATION_EXIT, u64::from(code)];
    call(SYS_EXIT_EXTENDED, block.as_ptr() as u64);
}

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
fn call(op: u64, arg: u64) -> u64 {
    let mut x0 = op;
    // SAFETY: `hlt #0xf000` is the AArch64 semihosting trap; the debugger or simulator reads
    // the parameter block at `arg` (which lives for the duration of the call) and returns a
    // result in x0. Without semihosting it is an undefined instruction at EL1 and above only
    // when halting debug is off; QEMU treats it as a semihosting call when enabled.
    unsafe {
        core::arch::asm!("hlt #0xf000", inout("x0") x0, in("x1") arg, options(nostack));
    }
    x0
}

#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
fn call(_op: u64, _arg: u64) -> u64 {
    u64::MAX
}
