//! The console: QEMU's PL011 (UART0), shared with the RMM and the EL3 firmware. Each line is
//! formatted into a buffer first and sent whole under a lock, so lines of different CPUs of the
//! program never mix, and the other worlds' lines can only fall between two of ours if they
//! print while a line is being sent.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};
use rmm_arch::layout::qemu::UART0_BASE;
use rmm_arch::pl011::Pl011;

/// Longest line; longer ones are cut.
const LINE: usize = 256;
/// UARTCR and its UARTEN bit: if the EL3 firmware left the UART off, we turn it on.
const UARTCR: u64 = UART0_BASE + 0x30;
const UARTCR_UARTEN: u32 = 1;

/// Serialises whole lines between the test host's CPUs.
static LOCK: AtomicBool = AtomicBool::new(false);

fn uart() -> Pl011 {
    // SAFETY: UART0_BASE is QEMU virt's PL011, reachable as Device memory (MMU off) from every
    // world (GPI Any). Other worlds program it too, but only by writing whole characters to
    // DR; the lock keeps our CPUs from interleaving, which is all `new` asks of us.
    unsafe { Pl011::new(UART0_BASE as usize) }
}

/// Turns the UART on if nobody has (a payload may boot before anyone printed).
pub fn init() {
    // SAFETY: a 32-bit read of the PL011 control register (see `uart`).
    let cr = unsafe { core::ptr::read_volatile(UARTCR as *const u32) };
    if cr & UARTCR_UARTEN == 0 {
        uart().init(0, 0);
    }
}

/// A line being formatted.
struct Line {
    buf: [u8; LINE],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len < LINE {
                self.buf[self.len] = b;
                self.len += 1;
            }
        }
        Ok(())
    }
}

/// Runs `f` with the UART while holding the lock.
fn locked(f: impl FnOnce(&Pl011)) {
    // Acquire: pairs with the Release below of the previous holder, so lines follow each other.
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    f(&uart());
    // Release: pairs with the next holder's Acquire above.
    LOCK.store(false, Ordering::Release);
}

/// Prints one line (a newline is added).
pub fn print_line(args: fmt::Arguments) {
    let mut line = Line {
        buf: [0; LINE],
        len: 0,
    };
    let _ = line.write_fmt(args);
    locked(|uart| {
        for &b in &line.buf[..line.len] {
            if b == b'\n' {
                uart.putc(b'\r');
            }
            uart.putc(b);
        }
        uart.putc(b'\r');
        uart.putc(b'\n');
    });
}

/// Sends `bytes` as they are (a guest's console output), between whole lines of ours.
pub fn put_bytes(bytes: &[u8]) {
    locked(|uart| bytes.iter().for_each(|&b| uart.putc(b)));
}

/// A byte the console received, if one is waiting.
pub fn try_getc() -> Option<u8> {
    uart().try_getc()
}

/// `println!` at NS-EL2: one whole line on the shared UART.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::console::print_line(format_args!($($arg)*))
    };
}
pub use crate::println;
