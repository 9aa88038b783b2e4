//! Reports to the host through RSI_HOST_CALL (protocol: `rmm_arch::realm_report`). Each REC
//! uses its own RsiHostCall page, indexed by MPIDR_EL1.Aff0; the realm's own pass/fail counts
//! go into the DONE report.

use crate::{entry, psci, rsi};
use core::sync::atomic::{AtomicU64, Ordering};
use rmm_arch::realm_report::{
    Step, FAIL, IMM_DONE, IMM_REQUEST, IMM_STEP, IMM_TOKEN, MAX_RECS, PASS,
};

/// Doublewords in a granule.
pub const PAGE_WORDS: usize = 512;

/// A 4 KiB granule of realm memory the RMM reads or writes by IPA: atomics, so that Rust
/// never assumes its contents unchanged across an SMC.
#[repr(C, align(4096))]
pub struct Page {
    pub words: [AtomicU64; PAGE_WORDS],
}

impl Page {
    /// A zeroed page (in `.bss`).
    pub const fn new() -> Self {
        Self {
            words: [const { AtomicU64::new(0) }; PAGE_WORDS],
        }
    }

    /// Its IPA (the MMU is off: address = IPA).
    pub fn ipa(&self) -> u64 {
        self as *const Self as u64
    }
}

/// RsiHostCall pages, one per REC: `imm` in word 0 (bits 15:0), `gprs[i]` in word 1 + i.
static HOST_CALL_PAGES: [Page; MAX_RECS as usize] = [const { Page::new() }; MAX_RECS as usize];

/// Number of gprs in RsiHostCall.
const HOST_CALL_GPRS: usize = 31;

// The realm's own tallies, over every REC. A secondary REC adds with Release before it calls
// CPU_OFF; REC 0 reads with Acquire after AFFINITY_INFO has reported that REC off.
static PASSED: AtomicU64 = AtomicU64::new(0);
static FAILED: AtomicU64 = AtomicU64::new(0);

fn this_rec() -> usize {
    (rmm_arch::read_sysreg!("mpidr_el1") & 0xff) as usize % MAX_RECS as usize
}

/// RSI_HOST_CALL with `imm` and gprs[0..] = `gprs` (the rest zero); returns the gprs as the
/// host left them, gprs[0..8].
pub fn host_call(imm: u16, gprs: &[u64]) -> [u64; 8] {
    let page = &HOST_CALL_PAGES[this_rec()];
    page.words[0].store(u64::from(imm), Ordering::Relaxed);
    for i in 0..HOST_CALL_GPRS {
        let value = gprs.get(i).copied().unwrap_or(0);
        page.words[1 + i].store(value, Ordering::Relaxed);
    }
    rsi::host_call(page.ipa());
    let mut answer = [0u64; 8];
    for (i, value) in answer.iter_mut().enumerate() {
        *value = page.words[1 + i].load(Ordering::Relaxed);
    }
    answer
}

/// This REC's host-call page, with `imm` written and every gpr zero: for a tight loop of
/// RSI_HOST_CALLs (perf).
pub fn prepared_host_call(imm: u16) -> &'static Page {
    let page = &HOST_CALL_PAGES[this_rec()];
    page.words[0].store(u64::from(imm), Ordering::Relaxed);
    for word in &page.words[1..=HOST_CALL_GPRS] {
        word.store(0, Ordering::Relaxed);
    }
    page
}

/// Reports `step` as passed (`ok`) or failed, with four values that explain it.
pub fn step(step: Step, ok: bool, values: [u64; 4]) {
    let counter = if ok { &PASSED } else { &FAILED };
    counter.fetch_add(1, Ordering::Release);
    let verdict = if ok { PASS } else { FAIL };
    host_call(
        IMM_STEP,
        &[
            step as u64,
            verdict,
            values[0],
            values[1],
            values[2],
            values[3],
        ],
    );
}

/// Reports the end of the sequence with the realm's tallies.
pub fn done() {
    let passed = PASSED.load(Ordering::Acquire);
    let failed = FAILED.load(Ordering::Acquire);
    host_call(IMM_DONE, &[passed, failed]);
}

/// Asks the host for something (`realm_report::REQUEST_*`); returns its answer.
pub fn request(what: u64) -> [u64; 8] {
    host_call(IMM_REQUEST, &[what])
}

/// Tells the host the attestation token (`len` bytes) is at the Unprotected IPA `ipa`.
pub fn token_shared(ipa: u64, len: u64) {
    host_call(IMM_TOKEN, &[ipa, len]);
}

/// Ends the realm: PSCI_SYSTEM_OFF; if that returns, reports it as a failed [`Step::Panic`]
/// (value 0: the line, 1: SYSTEM_OFF's result) and parks.
pub fn end() -> ! {
    let result = psci::system_off();
    step(Step::Panic, false, [0, result as u64, 0, 0]);
    entry::park()
}
