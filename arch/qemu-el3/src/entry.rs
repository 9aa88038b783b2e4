//! Reset entry, EL3 exception vectors and the ERET path (`global_asm!`).
//!
//! Every CPU starts at PA 0 at EL3 at the same time (QEMU virt with `secure=on` and `-bios`
//! disables QEMU's own PSCI: "start them all running and let the boot ROM sort them out").
//! The entry sets VBAR_EL3; CPU 0 (MPIDR affinity 0) takes the first stack, copies .data and
//! zeroes .bss, then calls `primary_main`. The others wait in WFI, touching no memory but
//! `PEN_OPEN`, until the primary has numbered the CPUs ([`crate::topology`]) and opened the
//! pen; each then finds its index there, takes that stack, keeps the index in TPIDR_EL3 and
//! calls `secondary_main`.
//!
//! While a lower EL runs, SP_EL3 points at that world's [`Ctx`](crate::context::Ctx): the
//! lower-EL vectors spill x0..x30, SP_EL0, ELR_EL3 and SPSR_EL3 straight into it, switch to
//! the CPU's EL3 stack (`Ctx::stack`) and call `el3_lower_entry(ctx, kind)`, which returns
//! the context to resume; `el3_exit` loads it and ERETs (ERET synchronises the SCR_EL3
//! write).

use crate::context::{CTX_ELR, CTX_SCR, CTX_SPSR, CTX_SP_EL0, CTX_STACK};
use crate::STACK_SIZE;

/// Exception kinds passed to the Rust handlers (vector offset / 0x80).
pub mod kind {
    /// Synchronous exception from a lower EL in AArch64 (vector 0x400).
    pub const LOWER_SYNC: u64 = 8;
}

core::arch::global_asm!(
    r#"
    .section .text.entry, "ax"
    .global _start
_start:
    // x20 = this CPU's packed affinity Aff3.Aff2.Aff1.Aff0 (topology::affinity_of).
    mrs     x19, mpidr_el1
    and     x20, x19, #0xffffff
    ubfx    x21, x19, #32, #8
    orr     x20, x20, x21, lsl #24

    adr     x0, el3_vectors
    msr     vbar_el3, x0
    isb
    cbnz    x20, 5f

    // Primary (affinity 0, CPU index 0): the first stack.
    ldr     x0, =__stacks_start
    mov     x1, #{stack_size}
    add     sp, x0, x1
    msr     tpidr_el3, xzr
    // Copy .data from flash, zero .bss (8-byte aligned by the linker script: the MMU is
    // off, so every access is Device memory and must be aligned).
    ldr     x0, =__data_start
    ldr     x1, =__data_end
    ldr     x2, =__data_lma
1:  cmp     x0, x1
    b.hs    2f
    ldr     x3, [x2], #8
    str     x3, [x0], #8
    b       1b
2:  ldr     x0, =__bss_start
    ldr     x1, =__bss_end
3:  cmp     x0, x1
    b.hs    4f
    str     xzr, [x0], #8
    b       3b
4:  mov     x0, #0
    bl      primary_main
    b       9f

    // Secondaries: no stack until the primary has numbered the CPUs. GIC CPU interface first
    // (ICC_SRE_EL3 = 0xF, ICC_PMR_EL1 = 0xFF, ICC_IGRPEN0_EL1 = 1), so that the pen SGI ends
    // the WFI; then wait, with loads only (MMU off: no exclusives), for PEN_OPEN (Acquire:
    // pairs with the primary's Release store in `primary_main`).
5:  mov     x0, #0xf
    msr     s3_6_c12_c12_5, x0
    isb
    mov     x0, #0xff
    msr     s3_0_c4_c6_0, x0
    mov     x0, #1
    msr     s3_0_c12_c12_6, x0
    isb
    ldr     x1, ={pen_open}
    ldr     x2, ={pen_magic}
6:  ldar    x0, [x1]
    cmp     x0, x2
    b.eq    7f
    wfi
    mrs     x0, s3_0_c12_c8_0       // ICC_IAR0_EL1
    cmp     x0, #1020
    b.hs    6b
    msr     s3_0_c12_c8_1, x0       // ICC_EOIR0_EL1
    b       6b
    // Our index: the position of our affinity in EL3_AFFINITY[..EL3_NUM_CPUS]. A CPU not
    // there (beyond MAX_CPUS) is not run.
7:  ldr     x1, ={affinity}
    ldr     x2, ={num_cpus}
    ldr     x2, [x2]
    mov     x3, #0
8:  cmp     x3, x2
    b.hs    9f
    ldr     w4, [x1, x3, lsl #2]
    cmp     w4, w20
    b.eq    10f
    add     x3, x3, #1
    b       8b
    // sp = __stacks_start + (index + 1) * STACK_SIZE
10: ldr     x0, =__stacks_start
    add     x1, x3, #1
    mov     x2, #{stack_size}
    madd    x0, x1, x2, x0
    mov     sp, x0
    msr     tpidr_el3, x3
    mov     x0, x3
    bl      secondary_main

    // CPUs we do not run stay here.
9:  wfi
    b       9b
    .ltorg

    // ---------------------------------------------------------------------------------
    .section .text.vectors, "ax"
    .balign 2048
    .global el3_vectors
el3_vectors:
    .irp    k, 0, 1, 2, 3, 4, 5, 6, 7
    .balign 128
    // Current EL: always fatal. Save x0..x30 on the current stack.
    sub     sp, sp, #256
    stp     x0, x1, [sp, #0]
    mov     x1, #\k
    b       el3_current_fatal
    .endr
    .irp    k, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 128
    // Lower EL: SP_EL3 is the world's context.
    stp     x0, x1, [sp, #0]
    mov     x1, #\k
    b       el3_lower_common
    .endr

el3_current_fatal:
    // x0 was saved, x1 holds the kind (the original x1 is lost: report x1 as the kind).
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    str     x30, [sp, #240]
    mov     x0, sp
    bl      el3_fatal_current
1:  wfi
    b       1b

el3_lower_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    str     x30, [sp, #240]
    // x1 holds the kind; the world's x1 is at [sp, #8], saved by the vector.
    mrs     x2, sp_el0
    str     x2, [sp, #{sp_el0}]
    mrs     x2, elr_el3
    str     x2, [sp, #{elr}]
    mrs     x2, spsr_el3
    str     x2, [sp, #{spsr}]
    mov     x0, sp
    ldr     x2, [x0, #{stack}]
    mov     sp, x2
    bl      el3_lower_entry
    b       el3_exit

    // el3_exit(ctx): resume the world whose context is `ctx` (never returns).
    .global el3_exit
el3_exit:
    mov     sp, x0
    ldr     x1, [x0, #{elr}]
    msr     elr_el3, x1
    ldr     x1, [x0, #{spsr}]
    msr     spsr_el3, x1
    ldr     x1, [x0, #{scr}]
    msr     scr_el3, x1
    ldr     x1, [x0, #{sp_el0}]
    msr     sp_el0, x1
    ldp     x2, x3, [x0, #16]
    ldp     x4, x5, [x0, #32]
    ldp     x6, x7, [x0, #48]
    ldp     x8, x9, [x0, #64]
    ldp     x10, x11, [x0, #80]
    ldp     x12, x13, [x0, #96]
    ldp     x14, x15, [x0, #112]
    ldp     x16, x17, [x0, #128]
    ldp     x18, x19, [x0, #144]
    ldp     x20, x21, [x0, #160]
    ldp     x22, x23, [x0, #176]
    ldp     x24, x25, [x0, #192]
    ldp     x26, x27, [x0, #208]
    ldp     x28, x29, [x0, #224]
    ldr     x30, [x0, #240]
    ldp     x0, x1, [x0, #0]
    eret
    "#,
    stack_size = const STACK_SIZE,
    pen_open = sym crate::cpu::PEN_OPEN,
    pen_magic = const crate::cpu::PEN_MAGIC,
    affinity = sym crate::topology::EL3_AFFINITY,
    num_cpus = sym crate::topology::EL3_NUM_CPUS,
    sp_el0 = const CTX_SP_EL0,
    elr = const CTX_ELR,
    spsr = const CTX_SPSR,
    scr = const CTX_SCR,
    stack = const CTX_STACK,
);

extern "C" {
    /// Loads `ctx` and ERETs into its world; SP_EL3 keeps pointing at `ctx`.
    pub fn el3_exit(ctx: *mut crate::context::Ctx) -> !;
    /// Start of the per-CPU stacks (linker script).
    static __stacks_start: u8;
}

/// Top of the EL3 stack of CPU `cpu`.
pub fn stack_top(cpu: usize) -> u64 {
    // Only the address of the linker symbol is taken, never its contents.
    let base = core::ptr::addr_of!(__stacks_start) as u64;
    base + (cpu as u64 + 1) * STACK_SIZE as u64
}
