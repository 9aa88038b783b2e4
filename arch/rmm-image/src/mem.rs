//! `memcpy` and `memset` for the image, replacing compiler_builtins' portable ones (weak
//! symbols): the RMM copies registers, REC state and host structures by value, and the
//! portable versions move a word per five instructions at best and a byte at a time when the
//! two sides' alignments differ. These move 16 bytes per loop of four instructions.
//!
//! General-purpose registers only: the compiler never gets FP/SIMD registers from here. With
//! the MMU off all memory is Device and every access must be naturally aligned, so addresses
//! that are not equally aligned modulo 8 are copied a byte at a time; with the MMU on (SCTLR_EL2.M,
//! and .A clear: `mmu.rs`) the RMM's memory is Normal, where an unaligned load is allowed, and
//! such a copy moves a doubleword per loop from any source alignment to an aligned destination
//! (the compiler makes them: structures moved through stack slots at odd offsets).

core::arch::global_asm!(
    r#"
    .section .text.memcpy, "ax"
    .global memcpy
    .type memcpy, %function
    // x0 = destination, x1 = source, x2 = length; returns x0.
memcpy:
    mov     x3, x0
    eor     x4, x0, x1
    tst     x4, #7
    b.ne    10f
1:  tst     x3, #7
    b.eq    2f
    cbz     x2, 9f
    ldrb    w4, [x1], #1
    strb    w4, [x3], #1
    sub     x2, x2, #1
    b       1b
2:  subs    x2, x2, #16
    b.lo    4f
3:  ldp     x4, x5, [x1], #16
    stp     x4, x5, [x3], #16
    subs    x2, x2, #16
    b.hs    3b
    // x2 is now (bytes left) - 16: its low four bits are the bytes left.
4:  tbz     x2, #3, 5f
    ldr     x4, [x1], #8
    str     x4, [x3], #8
5:  and     x2, x2, #7
7:  cbz     x2, 9f
8:  ldrb    w4, [x1], #1
    strb    w4, [x3], #1
    subs    x2, x2, #1
    b.ne    8b
9:  ret
    // Not equally aligned: bytes with the MMU off (SCTLR_EL2.M clear), else bytes up to an
    // aligned destination, then doublewords loaded unaligned.
10: mrs     x4, sctlr_el2
    tbz     x4, #0, 7b
11: tst     x3, #7
    b.eq    12f
    cbz     x2, 9b
    ldrb    w4, [x1], #1
    strb    w4, [x3], #1
    sub     x2, x2, #1
    b       11b
12: subs    x2, x2, #8
    b.lo    13f
    ldr     x4, [x1], #8
    str     x4, [x3], #8
    b       12b
13: and     x2, x2, #7
    b       7b
    .size memcpy, . - memcpy

    .section .text.memset, "ax"
    .global memset
    .type memset, %function
    // x0 = destination, w1 = byte, x2 = length; returns x0.
memset:
    mov     x3, x0
    and     x1, x1, #0xff
    orr     x1, x1, x1, lsl #8
    orr     x1, x1, x1, lsl #16
    orr     x1, x1, x1, lsl #32
1:  tst     x3, #7
    b.eq    2f
    cbz     x2, 9f
    strb    w1, [x3], #1
    sub     x2, x2, #1
    b       1b
2:  subs    x2, x2, #16
    b.lo    4f
3:  stp     x1, x1, [x3], #16
    subs    x2, x2, #16
    b.hs    3b
4:  tbz     x2, #3, 5f
    str     x1, [x3], #8
5:  ands    x2, x2, #7
    b.eq    9f
8:  strb    w1, [x3], #1
    subs    x2, x2, #1
    b.ne    8b
9:  ret
    .size memset, . - memset
"#
);
