//! Scenario results: `PASS <name>` / `FAIL <name>: <why>` lines, the totals, and the exit.

use crate::console::println;
use crate::psci;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicUsize, Ordering};
use ns_el2::exceptions;

// Totals over every CPU. Relaxed increments; CPU 0 reads them after it has seen each other CPU
// finish through an Acquire load that pairs with that CPU's Release (scenarios::realm,
// realm_payload::recs).
static PASSED: AtomicUsize = AtomicUsize::new(0);
static FAILED: AtomicUsize = AtomicUsize::new(0);

/// Why a scenario failed: a short message, cut at 200 bytes.
pub struct Why {
    buf: [u8; 200],
    len: usize,
}

impl Why {
    /// Formats a message.
    pub fn new(args: fmt::Arguments) -> Self {
        let mut why = Self {
            buf: [0; 200],
            len: 0,
        };
        let _ = why.write_fmt(args);
        why
    }

    /// The message.
    pub fn as_str(&self) -> &str {
        match core::str::from_utf8(&self.buf[..self.len]) {
            Ok(s) => s,
            // Cut inside a character: keep the valid prefix.
            Err(e) => core::str::from_utf8(&self.buf[..e.valid_up_to()]).unwrap_or(""),
        }
    }
}

impl Write for Why {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len < self.buf.len() {
                self.buf[self.len] = b;
                self.len += 1;
            }
        }
        Ok(())
    }
}

/// A scenario's outcome.
pub type Outcome = Result<(), Why>;

/// `return Err(Why)` with a formatted message.
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::report::Why::new(format_args!($($arg)*)))
    };
}
pub(crate) use fail;

/// Fails with `what` when an RMI call failed: `rmi!(what, call)` is the call's value.
macro_rules! rmi {
    ($what:expr, $call:expr) => {
        match $call {
            Ok(value) => value,
            Err(e) => $crate::report::fail!("{} failed: {}", $what, e),
        }
    };
}
pub(crate) use rmi;

/// Prints and counts the outcome of scenario `name`; true if it passed.
pub fn check(name: fmt::Arguments, outcome: Outcome) -> bool {
    match outcome {
        Ok(()) => {
            PASSED.fetch_add(1, Ordering::Relaxed);
            println!("PASS {}", name);
            true
        }
        Err(why) => {
            FAILED.fetch_add(1, Ordering::Relaxed);
            println!("FAIL {}: {}", name, why.as_str());
            false
        }
    }
}

/// Prints the totals and ends the run: status 0 if everything passed.
pub fn finish() -> ! {
    if let Some(cpu) = ns_el2::entry::stack_overflowed() {
        let why = Why::new(format_args!("the stack of CPU {} overflowed", cpu));
        check(format_args!("test-host/stacks"), Err(why));
    }
    let passed = PASSED.load(Ordering::Relaxed);
    let failed = FAILED.load(Ordering::Relaxed);
    println!("test-host: {} passed, {} failed", passed, failed);
    exit_now(failed == 0 && passed > 0)
}

/// Ends the run at once: semihosting exit with status 0 (`ok`) or 1, else PSCI SYSTEM_OFF
/// (QEMU then exits with 0; the FAIL lines in the log tell the story), else parks.
pub fn exit_now(ok: bool) -> ! {
    exceptions::set_exiting();
    rmm_arch::semihosting::exit(if ok { 0 } else { 1 });
    println!("test-host: semihosting exit returned; PSCI SYSTEM_OFF");
    psci::system_off();
    println!("test-host: SYSTEM_OFF returned; parking");
    loop {
        // SAFETY: waiting for an interrupt has no memory effects.
        unsafe { core::arch::asm!("wfi", options(nomem, nostack)) };
    }
}
