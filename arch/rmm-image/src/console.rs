//! The RMM's console: the PL011 the boot manifest names, shared by all CPUs a line at a time.

use core::fmt::{self, Write};
use rmm::spinlock::SpinLock;
use rmm_arch::pl011::Pl011;

static CONSOLE: SpinLock<Option<Pl011>> = SpinLock::new(None);

/// Starts logging to `uart` (mapped by the caller).
pub fn init(uart: Pl011, clock_hz: u64, baud: u64) {
    // A reference clock below 16 x baud is a placeholder (QEMU's "1"): keep the divisor.
    let (clock_hz, baud) = if clock_hz >= 16 * baud {
        (clock_hz, baud)
    } else {
        (0, 0)
    };
    uart.init(clock_hz, baud);
    *CONSOLE.lock() = Some(uart);
}

/// Prints one line (`args` and a newline) if the console is up.
pub fn line(args: fmt::Arguments) {
    let mut console = CONSOLE.lock();
    if let Some(uart) = console.as_mut() {
        let _ = uart.write_fmt(args);
        let _ = uart.write_str("\n");
    }
}

/// Prints one line without taking the lock: for fatal errors, where this CPU may hold it.
pub fn fatal(args: fmt::Arguments) {
    // SAFETY: reading the Option without the lock may race with `init` only during cold
    // boot on CPU 0, before any other CPU runs; a racing line at worst interleaves output.
    let uart = unsafe { *CONSOLE.data_ptr() };
    if let Some(mut uart) = uart {
        let _ = uart.write_fmt(args);
        let _ = uart.write_str("\n");
    }
}

/// `RMM: ` and a formatted line.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::console::line(format_args!("RMM: {}", format_args!($($arg)*)))
    };
}

/// A fixed-size line buffer for building a line piecewise.
pub struct Line {
    buf: [u8; 160],
    len: usize,
}

impl Line {
    /// An empty line.
    pub const fn new() -> Self {
        Self {
            buf: [0; 160],
            len: 0,
        }
    }

    /// The text so far.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("?")
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}
