//! Entry points and exception vectors. `_start` (IPA 0) is where REC 0 starts (x0..x3: the
//! entry registers of `realm_report`); `secondary_entry` is the PSCI_CPU_ON entry point of the
//! other RECs (x0 = context id). Both run at EL1 with the MMU off, set up SCTLR_EL1 and
//! VBAR_EL1, and take the stack of their REC: slot MPIDR_EL1.Aff0 of `.stacks`.

use rmm_arch::realm_report::MAX_RECS;

/// Bytes of stack per REC; keep in step with `STACK_SIZE` in link.ld.
pub const STACK_SIZE: u64 = 0x4000;

/// SCTLR_EL1 with only its RES1 bits (as of Armv8.0): MMU, caches and alignment checks off,
/// little-endian.
const SCTLR_EL1_RES1: u64 = 0x30d0_0800;

core::arch::global_asm!(
    r#"
    .section .text.entry, "ax"
    .global _start
_start:
    // x0..x3: mode, IPA width, hash algorithm, REC count. Kept in x19..x22 (callee-saved).
    mov     x19, x0
    mov     x20, x1
    mov     x21, x2
    mov     x22, x3
    bl      setup_el1
    // Only REC 0 starts here; any other REC parks rather than clear .bss under REC 0.
    mrs     x9, mpidr_el1
    tst     x9, #0xff
    b.ne    park
    bl      take_stack
    // Zero .bss (16-byte aligned at both ends by link.ld).
    adrp    x9, __bss_start
    add     x9, x9, :lo12:__bss_start
    adrp    x10, __bss_end
    add     x10, x10, :lo12:__bss_end
1:  cmp     x9, x10
    b.hs    2f
    stp     xzr, xzr, [x9], #16
    b       1b
2:  mov     x0, x19
    mov     x1, x20
    mov     x2, x21
    mov     x3, x22
    bl      primary_main
    b       park

    .global secondary_entry
secondary_entry:
    mov     x19, x0
    bl      setup_el1
    bl      take_stack
    mov     x0, x19
    bl      secondary_main
    .global park
park:
    wfi
    b       park

    // SCTLR_EL1 and VBAR_EL1. Uses x9 only.
setup_el1:
    ldr     x9, ={sctlr}
    msr     sctlr_el1, x9
    adrp    x9, realm_vectors
    add     x9, x9, :lo12:realm_vectors
    msr     vbar_el1, x9
    isb
    ret

    // SP = the top of stack slot MPIDR_EL1.Aff0; parks a REC with Aff0 >= MAX_RECS. Uses x9..x11.
take_stack:
    mrs     x9, mpidr_el1
    and     x9, x9, #0xff
    cmp     x9, #{max_recs}
    b.hs    park
    adrp    x10, __stacks_start
    add     x10, x10, :lo12:__stacks_start
    add     x9, x9, #1
    mov     x11, #{stack_size}
    madd    x10, x9, x11, x10
    mov     sp, x10
    ret
    .ltorg

    // Every exception: x0 = the vector's offset, then Rust (exceptions.rs), which reports it
    // and ends the realm, or, for an exception a step expects, returns: then the registers
    // come back and the realm resumes at ELR_EL1.
    .balign 2048
realm_vectors:
    .irp offset, 0x000, 0x080, 0x100, 0x180, 0x200, 0x280, 0x300, 0x380, 0x400, 0x480, 0x500, 0x580, 0x600, 0x680, 0x700, 0x780
    .balign 0x80
    sub     sp, sp, #256
    stp     x0, x1, [sp]
    mov     x0, #\offset
    b       realm_exception_entry
    .endr

realm_exception_entry:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x30, [sp, #144]
    bl      realm_exception
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x30, [sp, #144]
    ldp     x0, x1, [sp]
    add     sp, sp, #256
    eret
"#,
    sctlr = const SCTLR_EL1_RES1,
    max_recs = const MAX_RECS,
    stack_size = const STACK_SIZE,
);

extern "C" {
    /// The PSCI_CPU_ON entry point of the secondary RECs.
    fn secondary_entry();
    /// Waits for interrupts for ever.
    #[link_name = "park"]
    fn park_asm() -> !;
}

/// The IPA of `secondary_entry` (the image runs at its link address, IPA = VA, MMU off).
pub fn secondary_entry_ipa() -> u64 {
    secondary_entry as *const () as u64
}

/// Stops this REC for good (`wfi` in a loop).
pub fn park() -> ! {
    // SAFETY: `park` only executes `wfi` in a loop: no memory or register effects.
    unsafe { park_asm() }
}
