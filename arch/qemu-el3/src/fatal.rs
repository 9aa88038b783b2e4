//! Fatal errors: an unexpected exception at EL3, a non-SMC exception from a lower EL, a
//! protocol violation, or a panic. Prints a register dump and exits QEMU through
//! semihosting with status 125, so that tests never hang.

use crate::console::print_unlocked;
use crate::context::Ctx;
use core::fmt;
use rmm_arch::read_sysreg;

/// QEMU exit status for fatal errors.
pub const EXIT_FATAL: u32 = 125;

macro_rules! out {
    ($($arg:tt)*) => {
        print_unlocked(format_args!($($arg)*))
    };
}

fn el3_regs() {
    out!(
        "EL3:   ESR_EL3={:#018x} ELR_EL3={:#018x} FAR_EL3={:#018x}\nEL3:   SPSR_EL3={:#018x} MFAR_EL3={:#018x} SCR_EL3={:#018x}\n",
        read_sysreg!("esr_el3"),
        read_sysreg!("elr_el3"),
        read_sysreg!("far_el3"),
        read_sysreg!("spsr_el3"),
        read_sysreg!("s3_6_c6_c0_5"),
        read_sysreg!("scr_el3"),
    );
}

fn gprs(x: &[u64]) {
    for (i, pair) in x.chunks(2).enumerate() {
        match pair {
            [a, b] => out!(
                "EL3:   x{:<2}={:#018x} x{:<2}={:#018x}\n",
                2 * i,
                a,
                2 * i + 1,
                b
            ),
            [a] => out!("EL3:   x{:<2}={:#018x}\n", 2 * i, a),
            _ => {}
        }
    }
}

fn die() -> ! {
    crate::exit(EXIT_FATAL)
}

/// An exception taken at EL3 itself (`entry.rs`, current-EL vectors): `frame` holds x0..x30.
#[no_mangle]
extern "C" fn el3_fatal_current(frame: *const [u64; 31], kind: u64) -> ! {
    out!(
        "\nEL3: FATAL: unexpected exception at EL3 (vector {:#x}) on CPU {}\n",
        kind * 0x80,
        crate::cpu::index()
    );
    el3_regs();
    // SAFETY: entry.rs saved x0..x30 at `frame` on this CPU's stack just before the call.
    gprs(unsafe { &*frame });
    die()
}

/// A non-SMC exception from a lower EL (vector `kind`); `ctx` holds the world's registers.
pub fn lower(ctx: &Ctx, kind: u64) -> ! {
    out!(
        "\nEL3: FATAL: unexpected exception from {:?} (vector {:#x}) on CPU {}\n",
        ctx.world(),
        kind * 0x80,
        ctx.cpu
    );
    el3_regs();
    gprs(&ctx.x);
    die()
}

/// A protocol violation by a world whose registers are in `ctx`.
pub fn message(ctx: &Ctx, what: fmt::Arguments) -> ! {
    out!(
        "\nEL3: FATAL: {} ({:?}, CPU {})\n",
        what,
        ctx.world(),
        ctx.cpu
    );
    el3_regs();
    gprs(&ctx.x);
    die()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    out!(
        "\nEL3: FATAL: panic on CPU {}: {}\n",
        crate::cpu::index(),
        info
    );
    die()
}
