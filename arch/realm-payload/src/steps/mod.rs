//! The test sequence REC 0 runs, one function per step, in files by theme. Each step makes its
//! call, checks the result, and reports it ([`crate::report::step`]).

pub mod attestation;
pub mod cpu;
pub mod debug;
pub mod info;
pub mod measurement;
pub mod mmio;
pub mod pmu;
pub mod psci;
pub mod ripas;
pub mod running;
pub mod sve;
pub mod timer;

/// What the host passed at REC 0's entry.
pub struct Config {
    /// The IPA width (x1).
    pub ipa_width: u64,
    /// The RsiHashAlgorithm (x2).
    pub hash_algo: u64,
    /// The number of RECs (x3), 1..=MAX_RECS.
    pub recs: u64,
}

impl Config {
    /// The first Unprotected IPA: the top bit of the IPA space (the width clamped to 2..=52).
    pub fn unprotected_base(&self) -> u64 {
        1 << (self.ipa_width.clamp(2, 52) - 1)
    }
}

/// Runs every step, in order.
pub fn run_all(config: &Config) {
    cpu::smccc_version();
    cpu::smccc_arch_features();
    cpu::smccc_unknown();
    info::rsi_version();
    info::rsi_features();
    info::realm_config(config);
    measurement::rim_read();
    measurement::rem_extend();
    ripas::get_ram();
    ripas::set_and_get_empty();
    ripas::set_and_get_ram();
    mmio::write_and_read(config);
    timer::virtual_timer();
    timer::physical_timer();
    cpu::sgi_writes();
    cpu::id_registers();
    cpu::mops();
    cpu::gic_exit_state();
    sve::max_length();
    sve::smaller_length();
    pmu::counters();
    pmu::overflow_interrupt();
    debug::counts_and_values();
    debug::breakpoint();
    debug::watchpoint();
    attestation::token(config);
    psci::version();
    psci::features();
    psci::cpu_on_invalid(config);
    psci::start_secondaries(config);
    running::while_secondaries_run(config);
    psci::wait_secondaries_off(config);
    running::restart(config);
    psci::cpu_suspend();
}
