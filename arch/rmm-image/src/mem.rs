//! `memcpy` and `memset` for the image, replacing compiler_builtins' portable ones (weak
//! symbols): the RMM copies registers, REC state and host structures by value, and the
//! portable versions move a word per five instructions at best and a byte at a time when the
//! two sides' alignments differ. These move 16 bytes per loop of four instructions.
//!
//! Only naturally aligned accesses, with general-purpose registers: correct with the MMU off
//! (all memory Device), and the compiler never gets FP/SIMD registers from here. Addresses
//! that are not equally aligned modulo 8 are copied a byte at a time.

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
    b.ne    7f
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
