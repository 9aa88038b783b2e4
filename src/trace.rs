//! The call trace: one line per RMI call, and per RSI or PSCI call a realm makes, given to
//! [`Platform::trace`] on platforms that ask for it ([`Platform::TRACE_CALLS`]; otherwise the
//! core compiles it out). A line reads `CPU <n>: <NAME> <inputs> -> <outputs>`, registers in
//! hex: the inputs from x1 and the outputs from x0, as many as the spec defines for the
//! command. A realm call that exits to the host ends in `-> exit to host`, its outputs being
//! the host's to complete; a function ID the RMM does not know is shown as `SMC <fid>`.

use crate::platform::Platform;
use crate::rec::Handled;
use crate::rmi::Command;
use core::fmt;

/// A command's name and register counts, as the trace prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Signature {
    /// The spec's name, e.g. `RSI_HOST_CALL`.
    name: &'static str,
    /// Input registers from x1.
    inputs: usize,
    /// Output registers from x0.
    outputs: usize,
}

impl Signature {
    /// The command `name` with `inputs` registers from x1 and `outputs` from x0.
    pub(crate) const fn new(name: &'static str, inputs: usize, outputs: usize) -> Self {
        Self {
            name,
            inputs,
            outputs,
        }
    }
}

/// The signature of `fid` in `table`.
fn find(table: &[(u64, Signature)], fid: u64) -> Option<Signature> {
    table.iter().find(|row| row.0 == fid).map(|row| row.1)
}

/// Registers in hex, each after a space.
struct Regs<'a>(&'a [u64]);

impl fmt::Display for Regs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|r| write!(f, " {r:#x}"))
    }
}

/// `regs[from..from + n]`, or as much of it as there is.
fn part(regs: &[u64], from: usize, n: usize) -> &[u64] {
    let rest = regs.get(from..).unwrap_or_default();
    rest.get(..n).unwrap_or(rest)
}

/// Whether calls are traced now: constant false where the platform never traces.
#[inline(always)]
pub(crate) fn enabled<P: Platform>(platform: &P) -> bool {
    P::TRACE_CALLS && platform.tracing()
}

/// Traces one call: `regs` holds x0.. as the caller set them, `out` x0.. as it gets them back
/// (`None`: the call exited to the host).
fn call<P: Platform>(
    platform: &P,
    cpu: usize,
    fid: u64,
    signature: Option<Signature>,
    regs: &[u64],
    out: Option<&[u64]>,
) {
    let Some(Signature {
        name,
        inputs,
        outputs,
    }) = signature
    else {
        // Not a function the RMM knows: it returned NOT_SUPPORTED in x0.
        let x0 = Regs(out.map_or(&[], |out| part(out, 0, 1)));
        return platform.trace(format_args!("CPU {cpu}: SMC {fid:#x} ->{x0}"));
    };
    let args = Regs(part(regs, 1, inputs));
    match out {
        Some(out) => {
            let results = Regs(part(out, 0, outputs));
            platform.trace(format_args!("CPU {cpu}: {name}{args} ->{results}"))
        }
        None => platform.trace(format_args!("CPU {cpu}: {name}{args} -> exit to host")),
    }
}

/// Traces the RMI call `regs` (x0 the function ID `fid` names `command`) that returned `out`.
pub(crate) fn rmi<P: Platform>(
    platform: &P,
    cpu: usize,
    fid: u32,
    command: Option<Command>,
    regs: &[u64; 8],
    out: &[u64; 8],
) {
    let signature =
        command.map(|c| Signature::new(c.name(), c.input_count(), c.output_count().saturating_add(1)));
    call(platform, cpu, fid.into(), signature, regs, Some(out));
}

/// Traces the realm's SMC `fid` (RSI, PSCI or SMCCC) made with `regs`, which left the realm's
/// registers at `out` and was `handled` so.
pub(crate) fn realm<P: Platform>(
    platform: &P,
    cpu: usize,
    fid: u64,
    regs: &[u64],
    out: &[u64],
    handled: Handled,
) {
    let signature = find(&crate::rsi::SIGNATURES, fid)
        .or_else(|| find(&crate::psci::SIGNATURES, fid))
        .or_else(|| find(&crate::smccc::SIGNATURES, fid));
    let out = match handled {
        Handled::Resume => Some(out),
        Handled::Exit(_) => None,
    };
    call(platform, cpu, fid, signature, regs, out);
}
