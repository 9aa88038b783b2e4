//! The realm test payload: bare-metal code at R-EL1 that calls every RSI command and PSCI
//! function and reports each step to the Normal-world test host through RSI_HOST_CALL.
//!
//! The host loads the flat binary at IPA 0 and enters REC 0 there (`_start`, [`entry`]) with
//! x0 = mode, x1 = IPA width, x2 = hash algorithm, x3 = number of RECs. In the test mode REC 0
//! runs [`steps::run_all`], which starts the other RECs with PSCI_CPU_ON at
//! `secondary_entry`; the perf modes ([`perf`]) loop on empty host calls. The protocol, the
//! memory layout and the constants both sides use are in `rmm_arch::realm_report`.
//!
//! The MMU stays off (the RMM's stage 2 with FWB makes realm memory Normal Write-Back), and no
//! FP/SIMD register is used except by the explicit writes of d0 in [`perf`].
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod entry;
#[cfg(target_os = "none")]
mod exceptions;
#[cfg(target_os = "none")]
mod mmio;
#[cfg(target_os = "none")]
mod perf;
#[cfg(target_os = "none")]
mod psci;
#[cfg(target_os = "none")]
mod report;
#[cfg(target_os = "none")]
mod rsi;
#[cfg(target_os = "none")]
mod smc;
#[cfg(target_os = "none")]
mod steps;

/// REC 0, from `_start`: the entry registers x0..x3 as the host set them.
#[cfg(target_os = "none")]
#[no_mangle]
extern "C" fn primary_main(mode: u64, ipa_width: u64, hash_algo: u64, recs: u64) -> ! {
    use rmm_arch::realm_report::{
        MAX_RECS, MODE_PERF, MODE_PERF_DEBUG, MODE_PERF_FP, MODE_PERF_MMIO, MODE_PERF_SGI,
        MODE_PERF_SVE, MODE_SVE_PEER,
    };
    match mode {
        MODE_PERF => perf::run(perf::Exit::HostCall),
        MODE_PERF_FP => perf::run(perf::Exit::FpHostCall),
        MODE_PERF_SVE => perf::run(perf::Exit::SveHostCall),
        MODE_PERF_DEBUG => perf::run(perf::Exit::DebugHostCall),
        MODE_SVE_PEER => {
            steps::sve::isolation();
            report::done();
            report::end()
        }
        MODE_PERF_MMIO => perf::run(perf::Exit::Mmio),
        MODE_PERF_SGI => perf::run(perf::Exit::Sgi),
        _ => {
            let config = steps::Config {
                ipa_width,
                hash_algo,
                recs: recs.clamp(1, MAX_RECS),
            };
            steps::run_all(&config);
            report::done();
            report::end()
        }
    }
}

/// RECs 1..N-1, from `secondary_entry` (PSCI_CPU_ON with context id = the REC index).
#[cfg(target_os = "none")]
#[no_mangle]
extern "C" fn secondary_main(context: u64) -> ! {
    steps::psci::secondary(context)
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let line = info.location().map_or(0, |l| u64::from(l.line()));
    report::step(rmm_arch::realm_report::Step::Panic, false, [line, 0, 0, 0]);
    report::end()
}

/// Built for the host, the payload is an empty program, so that workspace builds, tests and
/// clippy on the host cover it.
#[cfg(not(target_os = "none"))]
fn main() {}
