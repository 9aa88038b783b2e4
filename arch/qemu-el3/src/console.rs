//! The EL3 console: the Non-secure PL011 (UART0), shared with the RMM and the host, behind a
//! lock so that lines from different CPUs do not interleave.

use crate::lock::Lock;
use core::fmt::{self, Write};
use rmm_arch::layout::qemu::UART0_BASE;
use rmm_arch::pl011::Pl011;

static CONSOLE: Lock<()> = Lock::new(());

fn uart() -> Pl011 {
    // SAFETY: UART0 is QEMU virt's PL011, mapped as Device memory by mmu.rs (or reached with
    // the MMU off). EL3 only writes DR and reads FR; the other worlds use it the same way.
    unsafe { Pl011::new(UART0_BASE as usize) }
}

/// Enables the UART (QEMU ignores the divisor).
pub fn init() {
    uart().init(0, 0);
}

/// Prints under the console lock (the MMU must be on: the lock uses exclusives).
pub fn print(args: fmt::Arguments) {
    let _guard = CONSOLE.lock();
    let _ = uart().write_fmt(args);
}

/// Prints without the lock: for the fatal-error path, which may have interrupted a holder or
/// run with the MMU off.
pub fn print_unlocked(args: fmt::Arguments) {
    let _ = uart().write_fmt(args);
}

/// `println!` for EL3.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::console::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}
