//! The realm payload scenario: a realm running `arch/realm-payload`, which calls every RSI
//! command and PSCI function and reports each step by RSI_HOST_CALL (protocol and layout:
//! `rmm_arch::realm_report`). The host builds the realm ([`setup`]), enters REC 0 and serves
//! its exits on this CPU while each REC that a CPU_ON starts runs on its own CPU ([`recs`]),
//! prints `PASS realm/<step>` or `FAIL realm/<step>: <values>` for every report, and checks
//! what only it can: the RIM and REM values, the MMIO write, and the attestation token
//! ([`token`]).
//!
//! The payload is built first, as a flat binary at [`PAYLOAD_BIN`] (from the repository root):
//!
//! ```text
//! CARGO_TARGET_DIR=target/realm cargo build -p rmm-realm-payload --release \
//!     --target aarch64-unknown-none-softfloat
//! $(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-objcopy -O binary \
//!     target/realm/aarch64-unknown-none-softfloat/release/realm-payload target/realm/realm-payload.bin
//! ```

mod features;
mod realm_cpu;
mod recs;
pub mod setup;
pub mod sve_peers;
mod timer;
mod token;
mod view;

use crate::console::println;
use crate::cpu;
use crate::granule::Granule;
use crate::params::{
    write_rec_enter, RecExit, ENTER_EMUL_MMIO, ENTER_GICV3_HCR, EXIT_FIQ, EXIT_GPRS,
    EXIT_HOST_CALL, EXIT_IRQ, EXIT_PSCI, EXIT_RIPAS_CHANGE, EXIT_SYNC,
};
use crate::pool::Pool;
use crate::report::{check, fail, rmi, Outcome, Why};
use crate::rmi::{self as call, RmiError};
use ns_el2::rec_run::rec_mpidr;
use recs::Ending;
use rmm::measurement::{rem_extend, Measurement};
use rmm::psci as fid;
use rmm_arch::realm_report::{
    Step, EXTEND_SIZE, EXTEND_VALUE, IMM_DONE, IMM_ID_REGS, IMM_PERF, IMM_REQUEST, IMM_STEP,
    IMM_TOKEN, MAX_RECS, MMIO_OFFSET, MMIO_WRITE_VALUE, MODE_TEST, PASS, REQUEST_CHALLENGE,
    REQUEST_MMIO_VALUE, REQUEST_NOTHING, RIPAS_TEST_BASE, RIPAS_TEST_TOP, SHARED_OFFSET,
    SHARED_PAGES, UNPROTECTED_BASE,
};
use rmm_arch::GRANULE_SIZE;
use setup::RHA;
use view::RealmView;

/// The payload's flat binary, relative to the repository root (built before the test host).
pub const PAYLOAD_BIN: &str = "target/realm/realm-payload.bin";
pub static PAYLOAD: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../target/realm/realm-payload.bin"
));

/// What the host returns for the realm's MMIO read.
const MMIO_READ_VALUE: u64 = 0x0123_4567_89ab_cdef;
/// The attestation challenge the host gives the realm.
const CHALLENGE: [u64; 8] = [
    0x6368_616c_6c65_6e67,
    0x0101_0101_0101_0101,
    0x0202_0202_0202_0202,
    0x0303_0303_0303_0303,
    0x0404_0404_0404_0404,
    0x0505_0505_0505_0505,
    0x0606_0606_0606_0606,
    0x0707_0707_0707_0707,
];
/// Most REC exits served before giving up.
const MAX_EXITS: u32 = 100_000;
/// Seconds one REC's run may take.
const TIMEOUT_S: u64 = 300;

// The RmiRecExit fields the scenario reads, from RmiRecRun (B4.4.16).
const EXIT_RIPAS_BASE: usize = 0x800 + 0x500;
const EXIT_RIPAS_TOP: usize = 0x800 + 0x508;
const EXIT_RIPAS_VALUE: usize = 0x800 + 0x510;
const EXIT_IMM: usize = 0x800 + 0x600;
/// ESR_EL2: EC of a Data Abort from a lower EL, ISV, WnR.
const EC_DABT_LOWER: u64 = 0x24;
const ESR_ISV: u64 = 1 << 24;
const ESR_WNR: u64 = 1 << 6;
/// RmiStatusCode: RMI_ERROR_REALM (REC_ENTER of a SYSTEM_OFF realm), RMI_ERROR_REC.
const ERROR_REALM: u8 = 2;
const ERROR_REC: u8 = 3;

/// Runs the payload's test sequence in a realm with `recs` RECs (clamped to 1..=MAX_RECS).
pub fn run(pool: &mut Pool, recs: usize) {
    let recs = recs.clamp(1, MAX_RECS as usize);
    println!(
        "test-host: realm payload: {} ({} bytes), {} RECs",
        PAYLOAD_BIN,
        PAYLOAD.len(),
        recs
    );
    let mut realm = setup::empty(pool);
    // A3.1.3, A3.1.5: SVE at the longest vector length and the PMU with every counter, as
    // RMI_FEATURES offers them.
    let offered = call::features(0).map_or(0, |f| f);
    realm.features = crate::params::RealmFeatures::offered(offered);
    features::set_realm(realm.features);
    let pmu = realm.features.pmu_num_ctrs.is_some();
    let built = check(
        format_args!("realm/payload_realm_build ({} RECs)", recs),
        setup::build(&mut realm, pool, PAYLOAD, recs, MODE_TEST),
    );
    if built {
        check(
            format_args!("realm/timer_ppis_enabled"),
            timer::enable_ppis(true),
        );
        timer::set_ns_markers();
        features::set_ns_markers(pmu);
        let view = RealmView::of(&realm);
        recs::begin(&view);
        let mut session = Session::new(view, 0);
        let start = cpu::ticks();
        check(format_args!("realm/run_to_system_off"), session.run_rec0());
        println!(
            "test-host: realm payload ran in {} ms",
            cpu::millis_since(start)
        );
        let finished = recs::finish(realm.rec_count);
        session.final_checks();
        check(
            format_args!("realm/ns_el1_timers_kept"),
            timer::check_ns_markers(),
        );
        check(
            format_args!("realm/pmu_and_debug_ns_state_kept"),
            features::check_ns_markers(pmu),
        );
        let _ = timer::enable_ppis(false);
        if !finished {
            let why = Why::new(format_args!("skipped: a REC may still be running"));
            check(format_args!("realm/payload_realm_teardown"), Err(why));
            return;
        }
    }
    check(
        format_args!("realm/payload_realm_teardown"),
        setup::teardown(&mut realm),
    );
}

/// What REC_ENTER gives a REC next: RmiRecEnter.flags, gprs and gicv3_hcr.
#[derive(Clone, Copy, Default)]
struct NextEntry {
    flags: u64,
    gprs: [u64; 8],
    gic_hcr: u64,
}

/// Whether to go on entering the REC.
enum Flow {
    Continue,
    /// It called CPU_OFF.
    Off,
    SystemOff,
    /// REC_ENTER failed.
    Refused(RmiError),
}

/// A run of one REC on this CPU: what it gets on entry, what was seen.
struct Session {
    realm: RealmView,
    current: usize,
    next: [NextEntry; MAX_RECS as usize],
    /// Step reports seen: passed, failed (the realm's DONE must agree).
    reports: (u64, u64),
    done: Option<(u64, u64)>,
    token_seen: bool,
    timers: [timer::RecTimers; MAX_RECS as usize],
    pmu: [features::RecPmu; MAX_RECS as usize],
    cpu: realm_cpu::CpuChecks,
}

impl Session {
    fn new(realm: RealmView, current: usize) -> Self {
        Self {
            realm,
            current,
            next: [NextEntry::default(); MAX_RECS as usize],
            reports: (0, 0),
            done: None,
            token_seen: false,
            timers: Default::default(),
            pmu: Default::default(),
            cpu: realm_cpu::CpuChecks::new(),
        }
    }

    fn run_granule(&self, index: usize) -> Result<Granule, Why> {
        match self.realm.runs[index] {
            Some(run) => Ok(run),
            None => Err(Why::new(format_args!("REC {} has no RmiRecRun", index))),
        }
    }

    /// Runs REC 0 until the realm is SYSTEM_OFF, then checks that it cannot be entered.
    fn run_rec0(&mut self) -> Outcome {
        match recs::drive(self)? {
            Ending::SystemOff => self.enter_after_system_off(),
            Ending::Off => fail!("REC 0 is off before SYSTEM_OFF"),
        }
    }

    /// Enters the REC until it is off, the realm is SYSTEM_OFF or REC_ENTER fails.
    fn run(&mut self) -> Result<Flow, Why> {
        let deadline = cpu::Deadline::after_seconds(TIMEOUT_S);
        for _ in 0..MAX_EXITS {
            if deadline.passed() {
                fail!("REC {} still on after {} s", self.current, TIMEOUT_S);
            }
            let index = self.current;
            let run = self.run_granule(index)?;
            let next = core::mem::take(&mut self.next[index]);
            write_rec_enter(run, next.flags, &next.gprs);
            run.write_u64(ENTER_GICV3_HCR, next.gic_hcr);
            self.timers[index].on_entry(run);
            self.pmu[index].on_entry(run);
            if let Err(e) = call::rec_enter(self.realm.recs[index], run.pa()) {
                return Ok(Flow::Refused(e));
            }
            recs::record_exit(index);
            match self.handle_exit(run)? {
                Flow::Continue => {}
                end => return Ok(end),
            }
        }
        fail!("REC {} still on after {} exits", self.current, MAX_EXITS)
    }

    fn handle_exit(&mut self, run: Granule) -> Result<Flow, Why> {
        let exit = RecExit::read(run);
        self.timers[self.current].on_exit(run); // A6.2: after every exit
        self.pmu[self.current].on_exit(run); // A8.1
        self.cpu.on_exit(run); // A6.1
        let gprs: [u64; 8] = core::array::from_fn(|i| run.read_u64(EXIT_GPRS + 8 * i));
        match exit.exit_reason {
            EXIT_HOST_CALL => self.host_call(run.read_u64(EXIT_IMM) as u16, &gprs),
            EXIT_PSCI => self.psci(&gprs),
            EXIT_RIPAS_CHANGE => self.ripas_change(run),
            EXIT_SYNC if self.cpu.sgi_exit(&exit) => Ok(Flow::Continue),
            EXIT_SYNC => self.data_abort(&exit),
            EXIT_IRQ | EXIT_FIQ => Ok(Flow::Continue),
            reason => fail!(
                "REC {}: exit reason {} (ESR {:#x} FAR {:#x})",
                self.current,
                reason,
                exit.esr,
                exit.far
            ),
        }
    }

    /// RSI_HOST_CALL: a report, a request, or the token.
    fn host_call(&mut self, imm: u16, gprs: &[u64; 8]) -> Result<Flow, Why> {
        match imm {
            IMM_STEP => self.step_report(gprs),
            IMM_DONE => self.done = Some((gprs[0], gprs[1])),
            IMM_REQUEST => self.next[self.current].gprs = answer(gprs[0])?,
            IMM_TOKEN => {
                self.token_seen = true;
                check(
                    format_args!("realm/token_check"),
                    self.token(gprs[0], gprs[1]),
                );
            }
            IMM_ID_REGS => self.cpu.id_registers(gprs)?,
            IMM_PERF => {}
            other => fail!("REC {}: host call with imm {}", self.current, other),
        }
        Ok(Flow::Continue)
    }

    /// Prints a step report, with the host's own check of the values where it has one.
    fn step_report(&mut self, gprs: &[u64; 8]) {
        let values = [gprs[2], gprs[3], gprs[4], gprs[5]];
        let Some(step) = Step::from_id(gprs[0]) else {
            self.reports.1 += 1;
            let why = Why::new(format_args!(
                "unknown step id {:#x}, values {:#x?}",
                gprs[0], values
            ));
            check(format_args!("realm/unknown_step"), Err(why));
            return;
        };
        let outcome = if gprs[1] == PASS {
            match step {
                Step::VirtualTimer | Step::PhysicalTimer => {
                    self.timers[self.current].check(step, &values)
                }
                Step::SmcccVersion => self.cpu.smccc_version(values[0]),
                Step::SgiWrite => {
                    self.cpu.sgi_checks();
                    Ok(())
                }
                Step::IdRegisters => {
                    self.cpu.id_register_checks();
                    Ok(())
                }
                Step::GicVmcr => {
                    let (outcome, hcr) = self.cpu.vmcr_check();
                    self.next[self.current].gic_hcr = hcr;
                    outcome
                }
                Step::GicMisr => self.cpu.misr_check(),
                _ => features::check(step, &values, &self.pmu[self.current])
                    .unwrap_or_else(|| host_check(step, &self.realm, &values)),
            }
        } else {
            Err(Why::new(format_args!(
                "{:#x} {:#x} {:#x} {:#x}",
                values[0], values[1], values[2], values[3]
            )))
        };
        // The realm counts its own verdict; the host's extra check only adds FAIL lines.
        match gprs[1] == PASS {
            true => self.reports.0 += 1,
            false => self.reports.1 += 1,
        }
        let name = step.name();
        match step {
            Step::PsciFeatures => check(format_args!("realm/{}({:#x})", name, values[0]), outcome),
            Step::CpuOn
            | Step::Alive
            | Step::AffinityOff
            | Step::AffinityOn
            | Step::CpuOnRunning
            | Step::CpuOnAgain => check(format_args!("realm/{}(rec {})", name, values[1]), outcome),
            _ => check(format_args!("realm/{}", name), outcome),
        };
    }

    /// The token the realm copied to the shared granules.
    fn token(&self, ipa: u64, len: u64) -> Outcome {
        let shared_ipa = UNPROTECTED_BASE + SHARED_OFFSET;
        let capacity = SHARED_PAGES * GRANULE_SIZE;
        if ipa != shared_ipa || len == 0 || len > capacity {
            fail!(
                "token at {:#x}, {} bytes: expected {:#x}, 1..={}",
                ipa,
                len,
                shared_ipa,
                capacity
            );
        }
        let mut bytes = [0u8; (SHARED_PAGES * GRANULE_SIZE) as usize];
        for (i, word) in bytes.chunks_exact_mut(8).enumerate() {
            let page = i / (GRANULE_SIZE as usize / 8);
            let Some(granule) = self.realm.shared[page] else {
                fail!("shared granule {} not mapped", page);
            };
            let offset = 8 * i % GRANULE_SIZE as usize;
            word.copy_from_slice(&granule.read_u64(offset).to_le_bytes());
        }
        let mut challenge = [0u8; 64];
        for (bytes, word) in challenge.chunks_exact_mut(8).zip(CHALLENGE) {
            bytes.copy_from_slice(&word.to_le_bytes());
        }
        token::check(
            &bytes[..len as usize],
            &challenge,
            self.realm.rim.digest(RHA),
        )
    }

    /// A PSCI exit: CPU_ON and AFFINITY_INFO are completed with RMI_PSCI_COMPLETE, and the
    /// target of a CPU_ON goes to its own CPU ([`recs::hand_over`]); CPU_OFF ends this REC's
    /// run, SYSTEM_OFF the realm's.
    fn psci(&mut self, gprs: &[u64; 8]) -> Result<Flow, Why> {
        let caller = self.current;
        match gprs[0] {
            fid::PSCI_CPU_ON | fid::PSCI_CPU_ON_32 => {
                let target = self.complete(gprs)?;
                recs::hand_over(target)?;
            }
            fid::PSCI_AFFINITY_INFO | fid::PSCI_AFFINITY_INFO_32 => {
                self.complete(gprs)?;
            }
            fid::PSCI_CPU_OFF => return Ok(Flow::Off),
            fid::PSCI_CPU_SUSPEND | fid::PSCI_CPU_SUSPEND_32 => {}
            fid::PSCI_SYSTEM_OFF => return Ok(Flow::SystemOff),
            other => fail!("REC {}: PSCI exit for function {:#x}", caller, other),
        }
        Ok(Flow::Continue)
    }

    /// RMI_PSCI_COMPLETE(current REC, the REC with MPIDR gprs[1], SUCCESS): the target's index.
    fn complete(&self, gprs: &[u64; 8]) -> Result<usize, Why> {
        let rec_count = self.realm.rec_count;
        let Some(target) = (0..rec_count).find(|&i| rec_mpidr(i) == gprs[1]) else {
            fail!("PSCI {:#x} names MPIDR {:#x}, not a REC", gprs[0], gprs[1]);
        };
        rmi!(
            format_args!("PSCI_COMPLETE(REC {} -> REC {})", self.current, target),
            call::psci_complete(
                self.realm.recs[self.current],
                self.realm.recs[target],
                fid::PsciReturn::Success.encode()
            )
        );
        Ok(target)
    }

    /// RSI_IPA_STATE_SET: applies the change with RMI_RTT_SET_RIPAS and accepts.
    fn ripas_change(&mut self, run: Granule) -> Result<Flow, Why> {
        let [mut base, top, value] =
            [EXIT_RIPAS_BASE, EXIT_RIPAS_TOP, EXIT_RIPAS_VALUE].map(|at| run.read_u64(at));
        if base != RIPAS_TEST_BASE || top != RIPAS_TEST_TOP || value & 0xff > 1 {
            fail!(
                "RIPAS change [{:#x}, {:#x}) to {}: not the test range",
                base,
                top,
                value
            );
        }
        let rec = self.realm.recs[self.current];
        while base < top {
            let out_top = rmi!(
                format_args!("RTT_SET_RIPAS({:#x}, {:#x})", base, top),
                call::rtt_set_ripas(self.realm.rd.pa(), rec, base, top)
            );
            if out_top <= base {
                fail!("RTT_SET_RIPAS from {:#x} made no progress", base);
            }
            base = out_top;
        }
        Ok(Flow::Continue) // next entry: flags 0 (ripas_response ACCEPT)
    }

    /// An emulatable Data Abort at the MMIO IPA: a write is checked, a read answered.
    fn data_abort(&mut self, exit: &RecExit) -> Result<Flow, Why> {
        let mmio = UNPROTECTED_BASE + MMIO_OFFSET;
        let isv = exit.esr & ESR_ISV != 0;
        if exit.esr >> 26 != EC_DABT_LOWER || !isv || exit.fault_ipa() != mmio {
            fail!(
                "REC {}: SYNC exit ESR {:#x} FAR {:#x} HPFAR {:#x}, not an MMIO access at {:#x}",
                self.current,
                exit.esr,
                exit.far,
                exit.hpfar,
                mmio
            );
        }
        let next = &mut self.next[self.current];
        next.flags = ENTER_EMUL_MMIO;
        if exit.esr & ESR_WNR != 0 {
            let outcome = match exit.gpr0 {
                MMIO_WRITE_VALUE => Ok(()),
                value => Err(Why::new(format_args!(
                    "wrote {:#x}, expected {:#x}",
                    value, MMIO_WRITE_VALUE
                ))),
            };
            check(format_args!("realm/host_mmio_write_value"), outcome);
        } else {
            next.gprs[0] = MMIO_READ_VALUE;
        }
        Ok(Flow::Continue)
    }

    /// After SYSTEM_OFF, REC_ENTER must fail with RMI_ERROR_REALM.
    fn enter_after_system_off(&self) -> Outcome {
        let run = self.run_granule(0)?;
        write_rec_enter(run, 0, &[]);
        let outcome = match call::rec_enter(self.realm.recs[0], run.pa()) {
            Err(e) if e.status() == ERROR_REALM => Ok(()),
            Err(e) => Err(Why::new(format_args!("REC_ENTER: {}", e))),
            Ok(()) => Err(Why::new(format_args!("REC_ENTER succeeded"))),
        };
        check(format_args!("realm/rec_enter_after_system_off"), outcome);
        Ok(())
    }

    /// DONE was reported and agrees with the reports seen on every CPU; the token was handed
    /// over.
    fn final_checks(&self) {
        let (passed, failed) = recs::reports();
        let seen = (self.reports.0 + passed, self.reports.1 + failed);
        let outcome = match self.done {
            None => Err(Why::new(format_args!("no DONE report"))),
            Some(done) if done == seen => Ok(()),
            Some((passed, failed)) => Err(Why::new(format_args!(
                "realm counted {} passed {} failed, the host saw {} and {}",
                passed, failed, seen.0, seen.1
            ))),
        };
        check(format_args!("realm/done"), outcome);
        if !self.token_seen {
            check(
                format_args!("realm/token_check"),
                Err(Why::new(format_args!(
                    "the realm never handed over a token"
                ))),
            );
        }
    }
}

/// The host's answer to a REQUEST host call: the gprs of the next entry.
fn answer(request: u64) -> Result<[u64; 8], Why> {
    match request {
        REQUEST_MMIO_VALUE => Ok([MMIO_READ_VALUE, 0, 0, 0, 0, 0, 0, 0]),
        REQUEST_CHALLENGE => Ok(CHALLENGE),
        REQUEST_NOTHING => Ok([0; 8]),
        other => fail!("unknown request {:#x}", other),
    }
}

/// The host's own check of a passed step's values: the RIM it computed, the REM after one
/// extension of zero.
fn host_check(step: Step, realm: &RealmView, values: &[u64; 4]) -> Outcome {
    let expected = match step {
        Step::RimRead => realm.rim,
        Step::RemExtend => {
            let mut words = [0u64; 8];
            words[..4].copy_from_slice(&EXTEND_VALUE);
            let mut rem = Measurement::ZERO;
            if rem_extend(RHA, &mut rem, &Measurement::from_words(words), EXTEND_SIZE).is_err() {
                fail!("rem_extend refused size {}", EXTEND_SIZE);
            }
            rem
        }
        _ => return Ok(()),
    };
    let words = expected.to_words();
    if words[..4] != values[..] {
        fail!(
            "realm has {:#x?}, host computed {:#x?}",
            values,
            &words[..4]
        );
    }
    Ok(())
}
