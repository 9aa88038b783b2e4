//! Entry points: `_start` for CPU 0 (from the EL3 firmware's cold boot, x0 = DTB address) and
//! `secondary_entry` for the CPUs started with PSCI CPU_ON (x0 = context id = CPU index). Both
//! run at NS-EL2 with the MMU off and DAIF masked; each gets its own stack and the exception
//! vectors before any Rust code runs.

use crate::cpu::MAX_CPUS;

/// Bytes of stack per CPU; keep in step with `STACK_SIZE` in link.ld.
pub const STACK_SIZE: u64 = 0x1_0000;
/// The word at the bottom of every CPU's stack, written at entry: a stack that overflowed
/// into the memory below it has overwritten it ([`stack_overflowed`]).
const CANARY: u64 = 0x57ac_c0de_57ac_c0de;

/// SCTLR_EL2 with only its RES1 bits: MMU, caches and alignment checks off, little-endian.
const SCTLR_EL2_RES1: u64 = 0x30c5_0830;

core::arch::global_asm!(
    r#"
    .section .text.entry, "ax"
    .global _start
_start:
    // x0 = DTB address. Keep it in x19 (callee-saved) across the set-up. CPU index 0.
    mov     x19, x0
    msr     tpidr_el2, xzr
    bl      setup_el2
    // CPU 0's stack: the first slot, its canary at the bottom.
    adrp    x1, __stacks_start
    add     x1, x1, :lo12:__stacks_start
    ldr     x2, ={canary}
    str     x2, [x1]
    mov     x2, #{stack_size}
    add     sp, x1, x2
    // Zero .bss (16-byte aligned at both ends by link.ld).
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
1:  cmp     x1, x2
    b.hs    2f
    stp     xzr, xzr, [x1], #16
    b       1b
2:  mov     x0, x19
    bl      primary_main
    b       park

    .global secondary_entry
secondary_entry:
    // x0 = CPU index (PSCI context id), checked against MAX_CPUS by the caller of CPU_ON;
    // clamp anyway so that a stray entry cannot run on another CPU's stack. TPIDR_EL2 keeps
    // it (cpu::current).
    mov     x19, x0
    cmp     x19, #{max_cpus}
    b.hs    park
    msr     tpidr_el2, x19
    bl      setup_el2
    adrp    x1, __stacks_start
    add     x1, x1, :lo12:__stacks_start
    mov     x3, #{stack_size}
    madd    x1, x19, x3, x1
    ldr     x2, ={canary}
    str     x2, [x1]
    add     sp, x1, x3
    mov     x0, x19
    bl      secondary_main
park:
    wfi
    b       park

    // Known EL2 state: SCTLR_EL2 (MMU off, little-endian) and our vectors. Uses x0 only.
setup_el2:
    ldr     x0, ={sctlr}
    msr     sctlr_el2, x0
    adrp    x0, exception_vectors
    add     x0, x0, :lo12:exception_vectors
    msr     vbar_el2, x0
    isb
    ret
    .ltorg
"#,
    stack_size = const STACK_SIZE,
    max_cpus = const MAX_CPUS,
    sctlr = const SCTLR_EL2_RES1,
    canary = const CANARY,
);

unsafe extern "C" {
    static __stacks_start: u8;
}

/// The first CPU whose stack has overflowed (its canary is gone), if any.
pub fn stack_overflowed() -> Option<usize> {
    let start = &raw const __stacks_start as u64;
    (0..MAX_CPUS).find(|&cpu| {
        let bottom = start + cpu as u64 * STACK_SIZE;
        // SAFETY: the bottom word of CPU `cpu`'s stack slot (link.ld), aligned; read only.
        let word = unsafe { core::ptr::read_volatile(bottom as *const u64) };
        // A CPU that never started has a zero word (.stacks is not zeroed, but QEMU's RAM is).
        word != CANARY && word != 0
    })
}
