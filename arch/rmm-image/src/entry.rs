//! Boot entry and exception vectors (assembly).
//!
//! EL3 enters [`rmm_entry`] for cold and warm boot alike (RMM-EL3 interface 0.3): the entry
//! sets VBAR_EL2 first (an exception before that would vector into Root-only flash and loop).
//! The first entry (cold boot) runs on the static boot stack, which that CPU keeps, clears
//! .bss and calls `rmm_boot(x0, x1, x2, x3, 0)`; cold boot allocates one stack per CPU from
//! the heap for the CPU count in x2 ([`crate::cpus`]). A warm boot takes the stack of its CPU
//! index x0 there and calls `rmm_boot(x0, .., 1)`; an index beyond the count (or a warm boot
//! before cold boot has sized the stacks) is reported to EL3 as
//! E_RMM_BOOT_CPU_ID_OUT_OF_RANGE without touching memory.

use crate::cpus::{STACK_SHIFT, STACK_SIZE};
use crate::exceptions::FRAME_SIZE;

#[repr(C, align(4096))]
struct BootStack([u8; STACK_SIZE]);

/// The cold-boot CPU's stack, in `.noinit`: never read before written.
#[unsafe(link_section = ".noinit.boot_stack")]
#[unsafe(no_mangle)]
static mut RMM_BOOT_STACK: BootStack = BootStack([0; STACK_SIZE]);

/// Whether .bss has been cleared: in .data, so the first entry sees 0.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".data.bss_cleared")]
static mut RMM_BSS_CLEARED: u64 = 0;

core::arch::global_asm!(
    r#"
    .section .text.entry, "ax"
    .global rmm_entry
rmm_entry:
    adrp    x9, rmm_vectors
    add     x9, x9, :lo12:rmm_vectors
    msr     vbar_el2, x9
    isb
    adrp    x9, RMM_BSS_CLEARED
    ldr     x4, [x9, :lo12:RMM_BSS_CLEARED]
    cbnz    x4, 5f
    // Cold boot: the boot stack, then .bss cleared.
    adrp    x10, RMM_BOOT_STACK
    add     x10, x10, :lo12:RMM_BOOT_STACK
    mov     x11, #{stack_size}
    add     sp, x10, x11
    msr     tpidr_el2, x0
    adrp    x10, __bss_start
    add     x10, x10, :lo12:__bss_start
    adrp    x11, __bss_end
    add     x11, x11, :lo12:__bss_end
2:  cmp     x10, x11
    b.hs    4f
    str     xzr, [x10], #8
    b       2b
4:  mov     x10, #1
    str     x10, [x9, :lo12:RMM_BSS_CLEARED]
    b       3f
    // Warm boot: stack x0 of the area cold boot allocated (base, count; 0 before then).
5:  adrp    x10, RMM_STACKS
    add     x10, x10, :lo12:RMM_STACKS
    ldp     x11, x12, [x10]
    cmp     x0, x12
    b.hs    1f
    add     x13, x0, #1
    lsl     x13, x13, #{stack_shift}
    add     sp, x11, x13
    msr     tpidr_el2, x0
3:  bl      rmm_boot
    b       .
    // CPU index out of range: RMM_BOOT_COMPLETE(E_RMM_BOOT_CPU_ID_OUT_OF_RANGE), forever.
1:  movz    x0, #0x01cf
    movk    x0, #0xc400, lsl #16
    mov     x1, #-4
    smc     #0
    b       1b
"#,
    stack_size = const STACK_SIZE,
    stack_shift = const STACK_SHIFT,
);

// The vector table. Exceptions at R-EL2 itself (SP_EL2) save a frame and call Rust; those from
// the realm (lower EL, AArch64) end a realm run (`crate::world_switch`); the rest are fatal.
core::arch::global_asm!(
    r#"
    .macro save_frame
    sub     sp, sp, #{frame}
    stp     x0, x1, [sp, #16 * 0]
    stp     x2, x3, [sp, #16 * 1]
    stp     x4, x5, [sp, #16 * 2]
    stp     x6, x7, [sp, #16 * 3]
    stp     x8, x9, [sp, #16 * 4]
    stp     x10, x11, [sp, #16 * 5]
    stp     x12, x13, [sp, #16 * 6]
    stp     x14, x15, [sp, #16 * 7]
    stp     x16, x17, [sp, #16 * 8]
    stp     x18, x19, [sp, #16 * 9]
    stp     x20, x21, [sp, #16 * 10]
    stp     x22, x23, [sp, #16 * 11]
    stp     x24, x25, [sp, #16 * 12]
    stp     x26, x27, [sp, #16 * 13]
    stp     x28, x29, [sp, #16 * 14]
    mrs     x0, elr_el2
    stp     x30, x0, [sp, #16 * 15]
    mrs     x0, spsr_el2
    str     x0, [sp, #16 * 16]
    .endm

    // `.org` rather than `.balign`: an entry that outgrows its 32-instruction slot is an
    // assembly error instead of silently shifting every later vector.
    .macro fatal kind
    .org    rmm_vectors + \kind * 0x80
    save_frame
    mov     x0, sp
    mov     x1, #\kind
    bl      rmm_fatal_exception
    b       .
    .endm

    .macro realm_exit kind
    .org    rmm_vectors + (8 + \kind) * 0x80
    sub     sp, sp, #16
    stp     x0, x1, [sp]
    mov     x1, #\kind
    b       rmm_realm_exit
    .endm

    .section .text.vectors, "ax"
    .balign 0x800
    .global rmm_vectors
rmm_vectors:
    fatal 0
    fatal 1
    fatal 2
    fatal 3
    // Current EL with SP_EL2.
    .org    rmm_vectors + 4 * 0x80
    save_frame
    b       rmm_el2_sync
    fatal 5
    fatal 6
    fatal 7
    // Lower EL, AArch64: the realm.
    realm_exit 0
    realm_exit 1
    realm_exit 2
    realm_exit 3
    // Lower EL, AArch32: realms are AArch64 only.
    fatal 12
    fatal 13
    fatal 14
    fatal 15
    .org    rmm_vectors + 0x800

    // Each vector slot holds 32 instructions: the synchronous handler continues here.
rmm_el2_sync:
    mov     x0, sp
    bl      rmm_sync_exception
    ldr     x0, [sp, #16 * 16]
    msr     spsr_el2, x0
    ldp     x30, x0, [sp, #16 * 15]
    msr     elr_el2, x0
    ldp     x0, x1, [sp, #16 * 0]
    ldp     x2, x3, [sp, #16 * 1]
    ldp     x4, x5, [sp, #16 * 2]
    ldp     x6, x7, [sp, #16 * 3]
    ldp     x8, x9, [sp, #16 * 4]
    ldp     x10, x11, [sp, #16 * 5]
    ldp     x12, x13, [sp, #16 * 6]
    ldp     x14, x15, [sp, #16 * 7]
    ldp     x16, x17, [sp, #16 * 8]
    ldp     x18, x19, [sp, #16 * 9]
    ldp     x20, x21, [sp, #16 * 10]
    ldp     x22, x23, [sp, #16 * 11]
    ldp     x24, x25, [sp, #16 * 12]
    ldp     x26, x27, [sp, #16 * 13]
    ldp     x28, x29, [sp, #16 * 14]
    add     sp, sp, #{frame}
    eret
"#,
    frame = const FRAME_SIZE,
);
