//! Exceptions taken at R-EL2 by the RMM itself: the Non-secure copy's fault fix-up, and a
//! readable dump for everything else (then the CPU stops; nothing the host or a realm sends
//! reaches here unless the RMM has a bug).

use crate::{console, nscopy};

/// Registers saved by the vector entry (`entry.rs`): x0..x30, ELR_EL2, SPSR_EL2.
#[repr(C)]
pub struct Frame {
    /// x0..x30.
    pub x: [u64; 31],
    /// ELR_EL2: where the exception was taken; `eret` resumes here.
    pub elr: u64,
    /// SPSR_EL2.
    pub spsr: u64,
}

/// Bytes the vector entry reserves for a [`Frame`] (16-byte aligned).
pub const FRAME_SIZE: usize = (core::mem::size_of::<Frame>() + 15) & !15;

const EC_DABT_CUR: u64 = 0x25;

const KINDS: [&str; 16] = [
    "sync (SP_EL0)",
    "IRQ (SP_EL0)",
    "FIQ (SP_EL0)",
    "SError (SP_EL0)",
    "sync",
    "IRQ",
    "FIQ",
    "SError",
    "sync from realm",
    "IRQ from realm",
    "FIQ from realm",
    "SError from realm",
    "sync from AArch32",
    "IRQ from AArch32",
    "FIQ from AArch32",
    "SError from AArch32",
];

/// A synchronous exception at R-EL2 with SP_EL2. A data abort inside the Non-secure copy
/// resumes at its failure exit; anything else is fatal.
#[unsafe(no_mangle)]
extern "C" fn rmm_sync_exception(frame: &mut Frame) {
    let esr = rmm_arch::read_sysreg!("esr_el2");
    if esr >> 26 == EC_DABT_CUR {
        if let Some(resume) = nscopy::fixup(frame.elr) {
            frame.elr = resume;
            return;
        }
    }
    rmm_fatal_exception(frame, 4);
}

/// Prints the exception and every register, then stops this CPU.
#[unsafe(no_mangle)]
extern "C" fn rmm_fatal_exception(frame: &Frame, kind: u64) -> ! {
    let cpu = rmm_arch::read_sysreg!("tpidr_el2");
    let name = KINDS.get(kind as usize).copied().unwrap_or("?");
    console::fatal(format_args!(
        "RMM: FATAL: unexpected exception on CPU {cpu}: {name}\n\
         ESR_EL2={:#018x} ELR_EL2={:#018x} FAR_EL2={:#018x} SPSR_EL2={:#018x}\n\
         HCR_EL2={:#018x} SCTLR_EL2={:#018x} SP={:#018x}",
        rmm_arch::read_sysreg!("esr_el2"),
        frame.elr,
        rmm_arch::read_sysreg!("far_el2"),
        frame.spsr,
        rmm_arch::read_sysreg!("hcr_el2"),
        rmm_arch::read_sysreg!("sctlr_el2"),
        frame as *const Frame as u64 + FRAME_SIZE as u64,
    ));
    for (row, regs) in frame.x.chunks(4).enumerate() {
        let mut line = console::Line::new();
        for (i, r) in regs.iter().enumerate() {
            let _ = core::fmt::Write::write_fmt(
                &mut line,
                format_args!("x{:<2}={r:#018x} ", row * 4 + i),
            );
        }
        console::fatal(format_args!("{}", line.as_str()));
    }
    halt()
}

/// Stops this CPU for good.
pub fn halt() -> ! {
    loop {
        // SAFETY: waiting for an event has no memory effects.
        unsafe { core::arch::asm!("wfe", options(nomem, nostack)) }
    }
}
