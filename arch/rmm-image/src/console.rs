//! The RMM's console: the PL011 the boot manifest names, shared by all CPUs a line at a time,
//! and the log level chosen at build time.
//!
//! `RMM_LOG_LEVEL` when rmm-image is compiled sets [`LEVEL`]: `error`, `warn`, `info` (unset or
//! empty), `debug` or `verbose` (the RMI/RSI call trace, [`rmm::Platform::TRACE_CALLS`]).
//! Another value fails the build. The macros [`error!`], [`warn!`], [`info!`] (or [`log!`])
//! and [`debug!`] print a line at their level and compile to nothing below it; every line
//! starts with `RMM: `.

use core::fmt::{self, Write};
use rmm::spinlock::SpinLock;
use rmm_arch::pl011::Pl011;

static CONSOLE: SpinLock<Option<Pl011>> = SpinLock::new(None);

/// How much the RMM prints, least first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Errors only: boot failures.
    Error,
    /// And warnings.
    Warn,
    /// And the cold boot banner.
    Info,
    /// And each warm boot.
    Debug,
    /// And a line per RMI call and per RSI or PSCI call of a realm.
    Verbose,
}

impl Level {
    /// The level named `name`; an unknown name fails const evaluation (the build).
    const fn parse(name: &str) -> Level {
        match name.as_bytes() {
            b"error" => Level::Error,
            b"warn" => Level::Warn,
            b"info" | b"" => Level::Info,
            b"debug" => Level::Debug,
            b"verbose" => Level::Verbose,
            _ => panic!("RMM_LOG_LEVEL must be one of error, warn, info, debug, verbose"),
        }
    }

    /// The level's name, as `RMM_LOG_LEVEL` gives it.
    pub const fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Verbose => "verbose",
        }
    }

    /// What a line of this level starts with after `RMM: `.
    pub const fn tag(self) -> &'static str {
        match self {
            Level::Error => "error: ",
            Level::Warn => "warning: ",
            _ => "",
        }
    }
}

/// The log level chosen at build time (module doc).
pub const LEVEL: Level = match option_env!("RMM_LOG_LEVEL") {
    Some(name) => Level::parse(name),
    None => Level::Info,
};

/// Whether lines of `level` are printed.
pub const fn enabled(level: Level) -> bool {
    level as u8 <= LEVEL as u8
}

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
        burst(uart, args);
    }
}

/// Writes `args` and a newline in as few bursts as a [`Line`] allows, so that a line is not
/// sent piece by piece while it is formatted: the other worlds share the UART without our lock.
fn burst(uart: &mut Pl011, args: fmt::Arguments) {
    let mut out = Burst {
        uart,
        line: Line::new(),
    };
    let _ = out.write_fmt(format_args!("{args}\n"));
    out.flush();
}

/// A UART writer that gathers what it is given into a [`Line`] before sending it.
struct Burst<'a> {
    uart: &'a mut Pl011,
    line: Line,
}

impl Burst<'_> {
    fn flush(&mut self) {
        let _ = self.uart.write_str(self.line.as_str());
        self.line = Line::new();
    }
}

impl Write for Burst<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.line.len + s.len() > LINE_MAX {
            self.flush();
        }
        match s.len() > LINE_MAX {
            true => self.uart.write_str(s),
            false => self.line.write_str(s),
        }
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

/// Prints `RMM: `, the tag of `level` and `args` as one line, if `level` is enabled.
pub fn print(level: Level, args: fmt::Arguments) {
    if enabled(level) {
        line(format_args!("RMM: {}{args}", level.tag()))
    }
}

/// Prints several lines with the console held, so that no other CPU's line lands among them.
pub fn block(f: impl FnOnce(&mut Block)) {
    let mut console = CONSOLE.lock();
    f(&mut Block {
        uart: console.as_mut(),
    })
}

/// The console held by [`block`].
pub struct Block<'a> {
    uart: Option<&'a mut Pl011>,
}

impl Block<'_> {
    /// As [`print`].
    pub fn print(&mut self, level: Level, args: fmt::Arguments) {
        if let (true, Some(uart)) = (enabled(level), self.uart.as_mut()) {
            burst(uart, format_args!("RMM: {}{args}", level.tag()));
        }
    }
}

/// A line at a given level: compiled out below [`LEVEL`].
#[macro_export]
macro_rules! log_at {
    ($level:ident, $($arg:tt)*) => {
        if const { $crate::console::enabled($crate::console::Level::$level) } {
            $crate::console::print($crate::console::Level::$level, format_args!($($arg)*))
        }
    };
}

/// `RMM: error: ` and a formatted line, at every level.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log_at!(Error, $($arg)*) };
}

/// `RMM: warning: ` and a formatted line, from level `warn`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log_at!(Warn, $($arg)*) };
}

/// `RMM: ` and a formatted line, from level `info`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log_at!(Info, $($arg)*) };
}

/// The same as [`info!`].
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => { $crate::log_at!(Info, $($arg)*) };
}

/// `RMM: ` and a formatted line, from level `debug`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log_at!(Debug, $($arg)*) };
}

/// Bytes a [`Line`] holds.
const LINE_MAX: usize = 256;

/// A fixed-size line buffer for building a line piecewise.
pub struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Line {
    /// An empty line.
    pub const fn new() -> Self {
        Self {
            buf: [0; LINE_MAX],
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
