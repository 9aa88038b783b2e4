//! Stress of the whole RMI on the host platform (issue 4, point 5).
//!
//! Worker threads, one per CPU, issue random RMI sequences, valid and invalid, against a small
//! shared universe so that they collide all the time:
//!
//! - three realm *slots*, each with a fixed RD granule, fixed starting-level RTT granules and its
//!   own RTT geometry (IPA width 40 from level 0; 39 from level 1; 32 from level 2 with four
//!   concatenated starting-level RTTs). Any worker may create, activate, empty or destroy the
//!   realm of any slot at any time;
//! - a pool of 200 granules (two DRAM banks) that every worker delegates, undelegates and uses
//!   as RTTs, DATA, RECs and REC auxiliary granules;
//! - a 2 MiB-aligned run of 512 granules that the "block fill" sequence maps page by page and
//!   folds into an ASSIGNED block (and the "block drain" sequence unfolds and empties);
//! - IPAs from a few 2 MiB regions per realm (protected and unprotected, at both ends of each
//!   half of the IPA space), so that RTT_CREATE/DESTROY/FOLD, DATA_CREATE(_UNKNOWN)/DESTROY,
//!   INIT_RIPAS, MAP/UNMAP_UNPROTECTED, REC_CREATE/DESTROY, REALM_ACTIVATE and REC_ENTER all hit
//!   shared objects;
//! - a realm model ([`StressRealm`]): entered RECs load and store through their stage 2 while the
//!   host changes it, and make RSI_IPA_STATE_SET, PSCI_CPU_ON and PSCI_AFFINITY_INFO calls that
//!   the host completes with RMI_RTT_SET_RIPAS and RMI_PSCI_COMPLETE.
//!
//! Every call's x0 must be a return code the command can return (SUCCESS or one of its
//! RMI_ERROR_* statuses, with a legal index); the registers a command does not output must be
//! zero (B1.2; `stress/commands.rs`); a few calls whose outcome is fixed whatever the other
//! threads do (invalid addresses, invalid parameters, RMI_VERSION, RMI_FEATURES, unknown function
//! IDs, EL3 moving a private granule to the Secure PAS) must give exactly that outcome. A
//! watchdog aborts the run, printing the seed and the calls in flight, if nothing progresses for
//! two minutes (a deadlock or livelock in the RMM).
//!
//! The run is split into epochs; after each, with every worker parked, a checker walks the
//! granule table and every live realm's RTTs from memory and asserts the global invariants (see
//! [`census`] and [`check_accounts`]). At the end everything is torn down through RMI, and every
//! granule must be back to UNDELEGATED in the Non-secure PAS.
//!
//! The `regression_*` tests reproduce, reduced, bugs this stress test found (all fixed).
//!
//! Replay: every failure message holds the seed: `RMM_STRESS_SEED=<seed> cargo test [--release]
//! --test stress_rmi -- --nocapture` runs the same per-thread random choices again (the
//! interleaving, and so the outcome, may differ). A single-threaded run is exactly reproducible
//! from its seed: `RMM_STRESS_THREADS=1` (which also checks every call's effect on the granule
//! table), as in `single_thread_fixed_seed_replays_exactly`. `RMM_STRESS_CALLS` (default
//! 1,000,000) and `RMM_STRESS_THREADS` (default 4) change the size of the run.

#[path = "stress/commands.rs"]
mod commands;
mod common;
use commands::*;

use common::{ERROR_INPUT, GRANULE, SUCCESS};
use rmm::granule::GranuleState;
use rmm::host::{Config, Machine, Pas, RealmModel};
use rmm::measurement::HashAlgorithm;
use rmm::platform::RealmMemory;
use rmm::rec::{esr, RealmTrap, VcpuContext};
use rmm::rmi::params::{
    RealmFlags, RealmParams, RecCreateFlags, RecExit, RecExitReason, RecMpidr, RecParams,
};
use rmm::rtt::{Level, Ripas, RttConfig, RttEntry, RttEntryState, RttFormat};
use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// The machine and the universe the workers share.
// ---------------------------------------------------------------------------------------------

const G: u64 = GRANULE;
const MIB2: u64 = 2 << 20;
const GIB: u64 = 1 << 30;

/// DRAM: 4 MiB at 2 GiB, and 16 granules at 3 GiB; a hole between them.
const BANK0: (u64, u64) = (0x8000_0000, 4 << 20);
const BANK1: (u64, u64) = (0xC000_0000, 16 * G);
/// Not memory.
const HOLE: u64 = 0xA000_0000;

/// Most worker threads (and CPUs) a run may have.
const MAX_THREADS: usize = 16;
/// Non-secure pages each thread owns: realm params, REC params, DATA source, REC run, and a REC
/// run page whose RmiRecEnter is invalid.
const NS_PAGES: u64 = 5;
const NS_REALM_PARAMS: u64 = 0;
const NS_REC_PARAMS: u64 = 1;
const NS_SRC: u64 = 2;
const NS_RUN: u64 = 3;
const NS_BAD_RUN: u64 = 4;
const NS_BASE: u64 = 0x8001_0000;
/// One granule per thread that only that thread touches: EL3 moves it to the Secure PAS and back.
const SPECIAL_BASE: u64 = NS_BASE + MAX_THREADS as u64 * NS_PAGES * G;
/// The shared pool: 192 granules of bank 0, 8 of bank 1.
const POOL_BASE: u64 = SPECIAL_BASE + MAX_THREADS as u64 * G;
const POOL_BANK0: u64 = 192;
const POOL_BANK1: u64 = 8;
/// 512 granules, 2 MiB aligned, for ASSIGNED blocks.
const BIG_BASE: u64 = 0x8020_0000;
const BIG_LEN: u64 = 512;
/// The granules of the three slots (RDs, two sets of starting-level RTTs each, one spare).
const SLOT_AREA: u64 = 0x8000_0000;
const SLOT_AREA_LEN: u64 = 16;

const _: () = assert!(POOL_BASE + POOL_BANK0 * G <= BIG_BASE);
const _: () = assert!(BIG_BASE + BIG_LEN * G == BANK0.0 + BANK0.1);
const _: () = assert!(NS_BASE >= SLOT_AREA + SLOT_AREA_LEN * G);

/// The protected region the block-fill sequence maps page by page (2 MiB aligned).
const PB_IPA: u64 = 0x40_0000;
/// Page indices used inside a 2 MiB region: both ends, the middle, and a few neighbours.
const PAGE_IDX: [u64; 10] = [0, 1, 2, 3, 7, 8, 255, 256, 510, 511];
/// VMIDs the workers use: collisions between slots are intended.
const VMIDS: [u16; 5] = [1, 2, 3, 4, 0xffff];
/// REC_AUX_COUNT of this RMM.
const AUX_COUNT: usize = rmm::rec::REC_AUX_COUNT;
/// The PA width of the host platform's CPU.
const PA_BITS: u32 = 48;

/// One realm slot: where its RD and starting-level RTTs live, and its geometry. Each realm
/// created in the slot has its starting-level RTTs at one of two places, so that an RD is reused
/// for a realm whose tables are elsewhere.
#[derive(Clone, Copy, Debug)]
struct Slot {
    rd: u64,
    rtt_base: u64,
    alt_rtt_base: u64,
    s2sz: u8,
    start: i64,
    num_start: u32,
    vmid: u16,
}

const SLOTS: [Slot; 3] = [
    Slot {
        rd: 0x8000_0000,
        rtt_base: 0x8000_1000,
        alt_rtt_base: 0x8000_5000,
        s2sz: 40,
        start: 0,
        num_start: 1,
        vmid: 1,
    },
    Slot {
        rd: 0x8000_2000,
        rtt_base: 0x8000_3000,
        alt_rtt_base: 0x8000_6000,
        s2sz: 39,
        start: 1,
        num_start: 1,
        vmid: 2,
    },
    Slot {
        rd: 0x8000_4000,
        rtt_base: 0x8000_8000,
        alt_rtt_base: 0x8000_C000,
        s2sz: 32,
        start: 2,
        num_start: 4,
        vmid: 3,
    },
];

impl Slot {
    fn prot_top(&self) -> u64 {
        1 << (self.s2sz - 1)
    }

    fn ipa_size(&self) -> u64 {
        1 << self.s2sz
    }

    /// The starting-level RTTs of a realm of this slot whose first one is at `base`.
    fn roots_at(&self, base: u64) -> impl Iterator<Item = u64> {
        (0..u64::from(self.num_start)).map(move |i| base + i * G)
    }

    /// Both sets of starting-level RTTs.
    fn all_roots(&self) -> impl Iterator<Item = u64> + '_ {
        self.roots_at(self.rtt_base)
            .chain(self.roots_at(self.alt_rtt_base))
    }

    /// Protected 2 MiB regions: IPA 0, the block-fill region, 1 GiB, and the last one.
    fn prot_regions(&self) -> [u64; 4] {
        [0, PB_IPA, GIB, self.prot_top() - MIB2]
    }

    /// Unprotected 2 MiB regions: the first two and the last one of the IPA space.
    fn unprot_regions(&self) -> [u64; 3] {
        [
            self.prot_top(),
            self.ns_fill_region(),
            self.ipa_size() - MIB2,
        ]
    }

    /// The unprotected region the NS-fill sequence maps page by page.
    fn ns_fill_region(&self) -> u64 {
        self.prot_top() + MIB2
    }

    /// Levels of the RTTs RTT_CREATE can make (below the starting level).
    fn table_levels(&self) -> std::ops::RangeInclusive<i64> {
        self.start + 1..=3
    }
}

/// Size of the IPA range one entry at `level` (0..=3) maps.
fn lsize(level: i64) -> u64 {
    1 << (12 + 9 * (3 - level))
}

fn align_down(addr: u64, size: u64) -> u64 {
    addr & !(size - 1)
}

fn pool() -> Vec<u64> {
    (0..POOL_BANK0)
        .map(|i| POOL_BASE + i * G)
        .chain((0..POOL_BANK1).map(|i| BANK1.0 + i * G))
        .collect()
}

fn ns_page(thread: usize, page: u64) -> u64 {
    NS_BASE + (thread as u64 * NS_PAGES + page) * G
}

fn special(thread: usize) -> u64 {
    SPECIAL_BASE + thread as u64 * G
}

fn new_machine(cpus: usize) -> Machine {
    Machine::new(Config {
        cpus,
        dram: vec![BANK0, BANK1],
    })
}

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pct(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }

    fn range(&mut self, r: std::ops::RangeInclusive<i64>) -> i64 {
        r.start() + self.below((r.end() - r.start() + 1) as u64) as i64
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics, shared run state.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Default, Debug)]
struct Stats {
    /// Calls by command and x0.
    counts: HashMap<(Cmd, u64), u64>,
    /// RTT_FOLDs that made an ASSIGNED block (protected) and an ASSIGNED_NS block.
    assigned_block_folds: u64,
    ns_block_folds: u64,
    /// RTT_CREATEs that unfolded an ASSIGNED block.
    block_unfolds: u64,
    /// REC exits for a RIPAS change and for PSCI, which the host then completes.
    ripas_exits: u64,
    psci_exits: u64,
    /// RTT_SET_RIPAS successes that made no progress (`out_top == base`).
    set_ripas_no_progress: u64,
    /// PSCI exits for a request about the calling REC itself: none since the RMM answers them
    /// (see `regression_psci_request_about_itself_is_answered_by_the_rmm`).
    psci_self: u64,
}

impl Stats {
    fn add(&mut self, other: &Stats) {
        for (k, v) in &other.counts {
            *self.counts.entry(*k).or_default() += v;
        }
        self.assigned_block_folds += other.assigned_block_folds;
        self.ns_block_folds += other.ns_block_folds;
        self.block_unfolds += other.block_unfolds;
        self.ripas_exits += other.ripas_exits;
        self.psci_exits += other.psci_exits;
        self.set_ripas_no_progress += other.set_ripas_no_progress;
        self.psci_self += other.psci_self;
    }

    fn calls(&self) -> u64 {
        self.counts.values().sum()
    }

    fn ok(&self, cmd: Cmd) -> i64 {
        self.counts.get(&(cmd, SUCCESS)).copied().unwrap_or(0) as i64
    }

    fn of(&self, cmd: Cmd) -> u64 {
        self.counts
            .iter()
            .filter(|((c, _), _)| *c == cmd)
            .map(|(_, n)| n)
            .sum()
    }

    fn summary(&self) -> String {
        let mut s = String::new();
        let mut cmds: Vec<Cmd> = Cmd::ALL.to_vec();
        cmds.push(Cmd::Unknown);
        for cmd in cmds {
            let by_code: BTreeMap<u64, u64> = self
                .counts
                .iter()
                .filter(|((c, _), _)| *c == cmd)
                .map(|((_, x0), n)| (*x0, *n))
                .collect();
            let parts: Vec<String> = by_code
                .iter()
                .map(|(x0, n)| format!("{} {n}", describe(*x0)))
                .collect();
            s += &format!(
                "  {:<26} {:>8}: {}\n",
                cmd.name(),
                self.of(cmd),
                parts.join(", ")
            );
        }
        s += &format!(
            "  folds to ASSIGNED blocks {}, to ASSIGNED_NS blocks {}, unfolds of ASSIGNED blocks {}\n",
            self.assigned_block_folds, self.ns_block_folds, self.block_unfolds
        );
        s += &format!(
            "  REC exits: RIPAS change {}, PSCI {} ({} about the caller itself); RTT_SET_RIPAS successes without progress {}\n",
            self.ripas_exits,
            self.psci_exits,
            self.psci_self,
            self.set_ripas_no_progress
        );
        s
    }
}

/// What the threads of one run share.
struct Shared {
    seed: u64,
    /// Set at the first failure: everyone stops calling.
    failed: AtomicBool,
    failure: Mutex<Option<String>>,
    /// Bumped by every call and checker step, for the watchdog.
    progress: AtomicU64,
    /// Each worker's statistics, published at the end of each epoch.
    stats: Vec<Mutex<Stats>>,
    /// Each worker's call in flight or last call: its number, then x0..x7.
    inflight: Vec<[AtomicU64; 9]>,
}

impl Shared {
    fn fail(&self, message: String) {
        let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        if failure.is_none() {
            *failure = Some(message);
        }
        self.failed.store(true, Ordering::SeqCst);
    }

    fn failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    fn inflight_report(&self) -> String {
        let mut s = String::new();
        for (t, slot) in self.inflight.iter().enumerate() {
            let v: Vec<u64> = slot.iter().map(|a| a.load(Ordering::Relaxed)).collect();
            s += &format!("  thread {t}: call {} regs {:#x?}\n", v[0], &v[1..]);
        }
        s
    }
}

fn panic_message(e: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = e.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = e.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "(non-string panic)".into()
    }
}

// ---------------------------------------------------------------------------------------------
// What the realms do when they run.
// ---------------------------------------------------------------------------------------------

const RSI_IPA_STATE_SET: u64 = 0xC400_0197;
const PSCI_CPU_ON: u64 = 0xC400_0003;
const PSCI_AFFINITY_INFO: u64 = 0xC400_0004;
const SMC_TRAP: u64 = esr::EC_SMC64 << esr::EC_SHIFT | esr::IL;

/// What every REC of every realm runs: a few loads and stores to protected pages (through the
/// RMM's lock-free stage-2 walks, racing the host's changes to the RTTs and the DATA granules), a
/// load from a page that is unprotected in some realms, then an IRQ, or an SMC the host must
/// complete: RSI_IPA_STATE_SET (answered with RMI_RTT_SET_RIPAS), PSCI_CPU_ON or
/// PSCI_AFFINITY_INFO (answered with RMI_PSCI_COMPLETE). Invalid SMC arguments are answered by
/// the RMM itself, which then runs the REC again.
struct StressRealm {
    seed: u64,
    runs: AtomicU64,
}

impl RealmModel for StressRealm {
    fn run(
        &self,
        _cpu: usize,
        rec: u64,
        vcpu: &mut VcpuContext,
        mem: &dyn RealmMemory,
    ) -> RealmTrap {
        let n = self.runs.fetch_add(1, Ordering::Relaxed);
        let mut rng = Rng(self.seed ^ rec ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        for _ in 0..rng.below(6) {
            let ipa = rng.pick(&[0, GIB, PB_IPA]) + rng.pick(&PAGE_IDX) * G + rng.below(512) * 8;
            if rng.pct(50) {
                let _ = mem.write(ipa, &(0xa5a5 << 48 | n).to_le_bytes());
            } else {
                let _ = mem.read(ipa, &mut [0u8; 8]);
            }
        }
        let ipa = rng.pick(&[1 << 31, 1 << 38, 1 << 39]) + rng.pick(&PAGE_IDX) * G;
        let _ = mem.read(ipa, &mut [0u8; 8]);
        let smc = match rng.below(100) {
            0..=59 => return RealmTrap::Irq,
            60..=79 => {
                let base = rng.pick(&[0, GIB, PB_IPA]) + rng.pick(&PAGE_IDX) * G;
                let top = base + rng.pick(&[1, 2, 16, 512]) * G;
                [RSI_IPA_STATE_SET, base, top, rng.below(2), rng.below(2)]
            }
            80..=91 => [PSCI_CPU_ON, rng.below(4), 0x1000, n, 0],
            _ => [PSCI_AFFINITY_INFO, rng.below(4), 0, 0, 0],
        };
        vcpu.gprs[..5].copy_from_slice(&smc);
        RealmTrap::Sync {
            esr: SMC_TRAP,
            far: 0,
            hpfar: 0,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The workers.
// ---------------------------------------------------------------------------------------------

/// One random operation: a call (or, for the sequences, many) on a slot's realm.
type Op = fn(&mut Worker, &Slot);

/// The operations and their weights.
const OPS: [(u64, Op); 29] = [
    (850, |w, _| w.op_delegate()),
    (650, |w, _| w.op_undelegate()),
    (250, |w, s| w.op_realm_create(s)),
    (25, |w, s| w.op_realm_activate(s)),
    (120, |w, s| w.op_realm_destroy(s)),
    (400, |w, s| w.op_rec_create(s)),
    (50, |w, _| w.op_rec_destroy()),
    (500, |w, _| w.op_rec_enter()),
    (50, |w, s| w.op_rec_aux_count(s)),
    (50, |w, _| w.op_psci_complete()),
    (100, |w, s| w.op_set_ripas(s)),
    (1200, |w, s| w.op_rtt_create(s)),
    (550, |w, s| w.op_rtt_destroy(s)),
    (300, |w, s| w.op_rtt_fold(s)),
    (900, |w, s| w.op_read_entry(s)),
    (650, |w, s| w.op_data_create(s)),
    (700, |w, s| w.op_data_create_unknown(s)),
    (700, |w, s| w.op_data_destroy(s)),
    (300, |w, s| w.op_init_ripas(s)),
    (750, |w, s| w.op_map(s)),
    (450, |w, s| w.op_unmap(s)),
    (50, |w, _| w.op_version()),
    (50, |w, _| w.op_features()),
    (50, |w, _| w.op_unknown()),
    (50, |w, _| w.op_secure_toggle()),
    (6, |w, s| w.seq_teardown(s)),
    (2, |w, s| w.seq_block_fill(s)),
    (2, |w, s| w.seq_ns_fill(s)),
    (3, |w, s| w.seq_block_drain(s)),
];
const OPS_TOTAL: u64 = {
    let mut total = 0;
    let mut i = 0;
    while i < OPS.len() {
        total += OPS[i].0;
        i += 1;
    }
    total
};

struct Worker<'a> {
    m: &'a Machine,
    sh: &'a Shared,
    /// Thread index, which is also the CPU it calls on.
    t: usize,
    rng: Rng,
    calls: u64,
    stats: Stats,
    /// One thread only: check each call's effect on the granule table exactly.
    single: bool,
    /// Granule-table fingerprint after the last call (single-threaded runs).
    fingerprint: u64,
    /// Hash of every call's outputs, to show that a single-threaded run replays exactly.
    digest: u64,
    pool: Vec<u64>,
    /// What each of this thread's NS pages last received, to skip identical rewrites.
    written: Vec<Vec<u8>>,
    features0: Option<u64>,
    /// Single-threaded runs: where the starting-level RTTs of the realm of each RD are.
    bases: HashMap<u64, u64>,
}

fn fingerprint(m: &Machine) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for (pa, g) in m.rmm().granules().iter() {
        let v = pa ^ (g.state() as u64) << 56 ^ g.refcount() << 40;
        h = (h ^ v).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// One call in this many is checked for side effects on RMM memory in single-threaded runs.
const MEMORY_SAMPLE: u64 = 64;

/// The addresses and contents of every RD, RTT, REC and REC_AUX granule.
fn memory_snapshot(m: &Machine) -> Vec<u8> {
    let mut all = Vec::new();
    let mut page = vec![0u8; G as usize];
    for (pa, g) in m.rmm().granules().iter() {
        use GranuleState::*;
        if matches!(g.state(), Rd | Rtt | Rec | RecAux) {
            m.debug_read(pa, &mut page).unwrap();
            all.extend_from_slice(&pa.to_le_bytes());
            all.extend_from_slice(&page);
        }
    }
    all
}

/// The walk RMI_RTT_READ_ENTRY makes, done by reading the realm's RTTs from memory: the level
/// reached and the entry there. For single-threaded runs, where nothing changes meanwhile.
fn walk_memory(m: &Machine, rd: u64, ipa: u64, level: i64) -> (i64, RttEntry) {
    let w = read_words(m, rd);
    let config = RttConfig::new(w[1], w[2] as i64, w[3], rd_format(&w), PA_BITS).unwrap();
    let mut at = config.start_level();
    let index = ipa >> at.shift();
    let mut table = w[4] + index / 512 * G;
    let mut i = index % 512;
    loop {
        let e = RttEntry::from_raw_at(read_u64(m, table + i * 8), at, config.format()).unwrap();
        if e.state() != RttEntryState::Table || i64::from(at.get()) == level {
            return (at.get().into(), e);
        }
        table = e.output_address().unwrap();
        at = at.child().unwrap();
        i = (ipa >> at.shift()) % 512;
    }
}

fn read_u64(m: &Machine, pa: u64) -> u64 {
    let mut b = [0u8; 8];
    match m.debug_read(pa, &mut b) {
        Ok(()) => u64::from_le_bytes(b),
        Err(_) => 0,
    }
}

/// The descriptor format of a realm whose RD words are `w` (word 56: RmiRealmFlags, lpa2 bit 0).
fn rd_format(w: &[u64]) -> RttFormat {
    RttFormat::from_lpa2(w[56] & 1 != 0)
}

fn read_words(m: &Machine, pa: u64) -> Vec<u64> {
    let mut page = vec![0u8; G as usize];
    m.debug_read(pa, &mut page)
        .unwrap_or_else(|f| panic!("debug read of {pa:#x}: {f:?}"));
    page.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

impl<'a> Worker<'a> {
    fn new(m: &'a Machine, sh: &'a Shared, t: usize, single: bool) -> Self {
        let mut w = Worker {
            m,
            sh,
            t,
            rng: Rng(sh.seed ^ (t as u64).wrapping_mul(0x2545_f491_4f6c_dd1d)),
            calls: 0,
            stats: Stats::default(),
            single,
            fingerprint: fingerprint(m),
            digest: 0,
            pool: pool(),
            written: vec![Vec::new(); NS_PAGES as usize],
            features0: None,
            bases: HashMap::new(),
        };
        // A run page whose RmiRecEnter fails Gicv3ConfigIsValid: ICH_HCR_EL2.En is not the
        // host's to set. REC_ENTER with it can never succeed.
        let mut bad = vec![0u8; G as usize];
        bad[0x300..0x308].copy_from_slice(&1u64.to_le_bytes());
        w.write_page(NS_BAD_RUN, &bad);
        w.write_page(NS_RUN, &vec![0u8; G as usize]);
        let src: Vec<u8> = (0..G).map(|i| (i as u8) ^ (t as u8)).collect();
        w.write_page(NS_SRC, &src);
        w
    }

    fn ctx(&self) -> String {
        format!(
            "RMM_STRESS_SEED={} thread {} call {}",
            self.sh.seed, self.t, self.calls
        )
    }

    fn fail(&self, why: String) -> ! {
        panic!("{}: {why}", self.ctx())
    }

    fn ensure(&self, cond: bool, why: impl FnOnce() -> String) {
        if !cond {
            self.fail(why())
        }
    }

    fn write_page(&mut self, page: u64, bytes: &[u8]) {
        if self.written[page as usize] != bytes {
            let pa = ns_page(self.t, page);
            self.m
                .ns_write(pa, bytes)
                .unwrap_or_else(|f| panic!("host write of {pa:#x}: {f:?}"));
            self.written[page as usize] = bytes.to_vec();
        }
    }

    // --- Calls -------------------------------------------------------------------------------

    /// Calls `cmd` with arguments x1.. = `args`; the other argument registers hold junk.
    fn call(&mut self, cmd: Cmd, args: &[u64], exp: Exp) -> [u64; 8] {
        let mut regs = [0u64; 8];
        regs[0] = cmd.fid();
        match self.rng.below(100) {
            0..=2 => regs[0] |= SVE_HINT,
            3 => regs[0] |= 0x5a5a_0000 << 32, // only W0 selects the function
            _ => {}
        }
        regs[1..=args.len()].copy_from_slice(args);
        for r in regs.iter_mut().skip(args.len() + 1) {
            *r = self.rng.next();
        }
        self.exec(cmd, regs, exp)
    }

    fn exec(&mut self, cmd: Cmd, regs: [u64; 8], exp: Exp) -> [u64; 8] {
        let slot = &self.sh.inflight[self.t];
        slot[0].store(self.calls + 1, Ordering::Relaxed);
        for (a, r) in slot[1..].iter().zip(regs) {
            a.store(r, Ordering::Relaxed);
        }
        // Single-threaded runs also check, for a sample of calls, that a failed call leaves the
        // memory of every RD, RTT, REC and REC_AUX granule as it was.
        let memory_before =
            (self.single && self.rng.below(MEMORY_SAMPLE) == 0).then(|| memory_snapshot(self.m));
        let out = self.m.smc(self.t, regs);
        if let Some(before) = memory_before {
            self.ensure(
                out[0] == SUCCESS || memory_snapshot(self.m) == before,
                || {
                    format!(
                        "{} failed with {} but changed RMM memory; in {regs:#x?}",
                        cmd.name(),
                        describe(out[0])
                    )
                },
            );
        }
        self.calls += 1;
        self.sh.progress.fetch_add(1, Ordering::Relaxed);
        *self.stats.counts.entry((cmd, out[0])).or_default() += 1;
        for v in out {
            self.digest = (self.digest ^ v)
                .wrapping_mul(0x0000_0100_0000_01b3)
                .rotate_left(5);
        }
        if let Err(why) = check_outputs(cmd, &regs, &out, exp) {
            self.fail(format!("{why}\n  in  {regs:#x?}\n  out {out:#x?}"));
        }
        if self.single {
            self.check_effects(cmd, &regs, &out);
        }
        out
    }

    /// Single-threaded runs: a failed call changes no granule; a successful one moves exactly
    /// the granules it names to their new states.
    fn check_effects(&mut self, cmd: Cmd, regs: &[u64; 8], out: &[u64; 8]) {
        let before = self.fingerprint;
        self.fingerprint = fingerprint(self.m);
        if out[0] != SUCCESS {
            self.ensure(before == self.fingerprint, || {
                format!(
                    "{} failed with {} but changed the granule table; in {regs:#x?}",
                    cmd.name(),
                    describe(out[0])
                )
            });
            return;
        }
        let m = self.m;
        let st = |pa: u64| m.granule_state(pa);
        let want = |pa: u64, s: GranuleState, pas: Pas| {
            self.ensure(st(pa) == Some(s) && m.pas(pa) == Some(pas), || {
                format!(
                    "after {} granule {pa:#x} is {:?} {:?}, expected {s:?} {pas:?}; in {regs:#x?} out {out:#x?}",
                    cmd.name(),
                    st(pa),
                    m.pas(pa)
                )
            })
        };
        use GranuleState::*;
        match cmd {
            Cmd::GranuleDelegate => want(regs[1], Delegated, Pas::Realm),
            Cmd::GranuleUndelegate => want(regs[1], Undelegated, Pas::NonSecure),
            Cmd::DataCreate | Cmd::DataCreateUnknown => want(regs[2], Data, Pas::Realm),
            Cmd::DataDestroy | Cmd::RttDestroy | Cmd::RttFold => {
                want(out[1], Delegated, Pas::Realm)
            }
            Cmd::RttCreate => want(regs[2], Rtt, Pas::Realm),
            Cmd::RealmCreate => {
                want(regs[1], Rd, Pas::Realm);
                let slot = SLOTS.iter().find(|s| s.rd == regs[1]).unwrap();
                let mut base = [0u8; 8];
                m.ns_read(regs[2] + 0x808, &mut base).unwrap();
                let base = u64::from_le_bytes(base);
                for root in slot.roots_at(base) {
                    want(root, Rtt, Pas::Realm);
                }
                self.bases.insert(regs[1], base);
            }
            Cmd::RealmDestroy => {
                want(regs[1], Delegated, Pas::Realm);
                let slot = SLOTS.iter().find(|s| s.rd == regs[1]).unwrap();
                for root in slot.roots_at(self.bases[&regs[1]]) {
                    want(root, Delegated, Pas::Realm);
                }
            }
            Cmd::RecCreate => {
                want(regs[2], Rec, Pas::Realm);
                for i in 0..AUX_COUNT as u64 {
                    want(read_u64(m, regs[2] + (49 + i) * 8), RecAux, Pas::Realm);
                }
            }
            Cmd::RecDestroy => want(regs[1], Delegated, Pas::Realm),
            _ => {}
        }
    }

    // --- Argument pickers ----------------------------------------------------------------------

    fn st(&self, pa: u64) -> Option<GranuleState> {
        self.m.granule_state(pa)
    }

    /// An address no command can accept as a granule: unaligned, or not delegable memory.
    fn bad_addr(&mut self) -> u64 {
        let p = self.rng.pick(&self.pool);
        self.rng.pick(&[
            HOLE,
            p + 8,
            p + 0x800,
            BANK0.0 - G,
            BANK1.0 + BANK1.1,
            1 << 48,
            !0xfff,
            0,
        ])
    }

    fn is_bad(&self, pa: u64) -> bool {
        !pa.is_multiple_of(G) || self.st(pa).is_none()
    }

    fn big(&mut self) -> u64 {
        BIG_BASE + self.rng.below(BIG_LEN) * G
    }

    /// Any granule of the universe, or sometimes an invalid address.
    fn any_granule(&mut self) -> u64 {
        match self.rng.below(100) {
            0..=69 => self.rng.pick(&self.pool),
            70..=79 => self.big(),
            80..=91 => SLOT_AREA + self.rng.below(SLOT_AREA_LEN) * G,
            _ => self.bad_addr(),
        }
    }

    /// A pool granule that looked like it was in state `want` (hints only: it may change).
    fn pool_in(&mut self, want: GranuleState) -> u64 {
        for _ in 0..16 {
            let pa = self.rng.pick(&self.pool);
            if self.st(pa) == Some(want) {
                return pa;
            }
        }
        self.rng.pick(&self.pool)
    }

    /// A granule for a command that takes a DELEGATED one (not of the big run, which the block
    /// sequences use).
    fn delegated(&mut self) -> u64 {
        if self.rng.pct(90) {
            self.pool_in(GranuleState::Delegated)
        } else {
            match self.any_granule() {
                pa if (BIG_BASE..BIG_BASE + BIG_LEN * G).contains(&pa) => self.bad_addr(),
                pa => pa,
            }
        }
    }

    /// A granule that looked like a REC (of any realm): RECs are few, so this searches the
    /// whole pool.
    fn rec(&mut self) -> u64 {
        if self.rng.pct(85) {
            let n = self.pool.len();
            let first = self.rng.below(n as u64) as usize;
            for i in 0..n {
                let pa = self.pool[(first + i) % n];
                if self.st(pa) == Some(GranuleState::Rec) {
                    return pa;
                }
            }
        }
        self.any_granule()
    }

    /// The slot's RD, or (rarely) something that can never be an RD: `(rd, never an RD)`.
    fn rd(&mut self, s: &Slot) -> (u64, bool) {
        if self.rng.pct(94) {
            return (s.rd, false);
        }
        let bad = match self.rng.below(5) {
            0 => s.rd + 8,
            1 => HOLE,
            2 => self.rng.pick(&self.pool),
            3 => s.rtt_base,
            _ => self.bad_addr(),
        };
        (bad, true)
    }

    /// A protected page of the regions random calls use. The block-fill region is left to the
    /// block sequences, which need it undisturbed for a while to build a foldable RTT, and to
    /// RTT_READ_ENTRY and the RTT commands (which find, unfold and fold its blocks).
    fn prot_page(&mut self, s: &Slot) -> u64 {
        let [r0, _, r1, r2] = s.prot_regions();
        self.rng.pick(&[r0, r1, r2]) + self.rng.pick(&PAGE_IDX) * G
    }

    /// A page for RTT_READ_ENTRY and the RTT commands: sometimes in the block-fill region.
    fn table_page(&mut self, s: &Slot) -> u64 {
        if self.rng.pct(10) {
            PB_IPA + self.rng.pick(&PAGE_IDX) * G
        } else {
            self.any_page(s)
        }
    }

    fn unprot_page(&mut self, s: &Slot) -> u64 {
        self.rng.pick(&s.unprot_regions()) + self.rng.pick(&PAGE_IDX) * G
    }

    fn any_page(&mut self, s: &Slot) -> u64 {
        if self.rng.pct(65) {
            self.prot_page(s)
        } else {
            self.unprot_page(s)
        }
    }

    /// A level that is not valid for an RTT of the slot's realm below the starting level.
    fn invalid_level(&mut self, s: &Slot) -> u64 {
        match self.rng.below(4) {
            0 => s.start as u64,
            1 => 4,
            2 => u64::MAX, // -1
            _ => 1 << 32,
        }
    }

    fn slot(&mut self) -> Slot {
        SLOTS[self.rng.below(SLOTS.len() as u64) as usize]
    }

    // --- One operation -------------------------------------------------------------------------

    fn step(&mut self) {
        let s = self.slot();
        let mut r = self.rng.below(OPS_TOTAL);
        for (weight, op) in OPS {
            if r < weight {
                return op(self, &s);
            }
            r -= weight;
        }
        unreachable!()
    }

    fn op_delegate(&mut self) {
        let pa = if self.rng.pct(45) {
            self.pool_in(GranuleState::Undelegated)
        } else {
            self.any_granule()
        };
        let exp = if self.is_bad(pa) { INPUT } else { ANY };
        self.call(Cmd::GranuleDelegate, &[pa], exp);
    }

    fn op_undelegate(&mut self) {
        let pa = if self.rng.pct(60) {
            self.pool_in(GranuleState::Delegated)
        } else {
            self.any_granule()
        };
        self.undelegate(pa);
    }

    fn undelegate(&mut self, pa: u64) {
        let exp = if self.is_bad(pa) { INPUT } else { ANY };
        self.call(Cmd::GranuleUndelegate, &[pa], exp);
    }

    /// Sometimes gives a granule a command just freed back to the host.
    fn maybe_undelegate(&mut self, out: &[u64; 8], pa: u64) {
        if out[0] == SUCCESS && self.rng.pct(30) {
            self.undelegate(pa);
        }
    }

    fn op_realm_create(&mut self, s: &Slot) {
        let base = if self.rng.pct(50) {
            s.alt_rtt_base
        } else {
            s.rtt_base
        };
        if self.rng.pct(70) {
            for pa in std::iter::once(s.rd).chain(s.roots_at(base)) {
                if self.st(pa) == Some(GranuleState::Undelegated) {
                    self.call(Cmd::GranuleDelegate, &[pa], ANY);
                }
            }
        }
        let vmid = if self.rng.pct(85) {
            s.vmid
        } else {
            self.rng.pick(&VMIDS)
        };
        let hash = if self.rng.pct(80) {
            HashAlgorithm::Sha256
        } else {
            HashAlgorithm::Sha512
        };
        let params = RealmParams {
            flags: RealmFlags::from_bits(0),
            s2sz: s.s2sz,
            sve_vl: 0,
            num_bps: 1,
            num_wps: 1,
            pmu_num_ctrs: 0,
            hash_algo: hash,
            rpv: [self.t as u8; 64],
            vmid,
            rtt_base: base,
            rtt_level_start: s.start,
            rtt_num_start: s.num_start,
        };
        let mut page = [0u8; G as usize];
        params.write_to(&mut page);
        let mut rd = s.rd;
        let mut ptr = ns_page(self.t, NS_REALM_PARAMS);
        let mut valid = true;
        if self.rng.pct(30) {
            valid = false;
            let put = |page: &mut [u8; G as usize], off: usize, bytes: &[u8]| {
                page[off..off + bytes.len()].copy_from_slice(bytes)
            };
            match self.rng.below(11) {
                // IPA width outside 32..=48 (or beyond RMI_FEATURES' S2SZ).
                0 => put(
                    &mut page,
                    0x8,
                    &[self.rng.pick(&[0u8, 16, 31, 49, 64, 255])],
                ),
                // Starting level inconsistent with the IPA width and RTT count.
                1 => {
                    let level = self.rng.pick(&[s.start - 1, s.start + 1, 3, 4]);
                    put(&mut page, 0x810, &level.to_le_bytes())
                }
                // Wrong number of starting-level RTTs.
                2 => {
                    let n = self.rng.pick(&[0, s.num_start * 2, s.num_start + 1, 17]);
                    put(&mut page, 0x818, &n.to_le_bytes())
                }
                // rtt_base not aligned to the RTTs' total size.
                3 => put(&mut page, 0x808, &(base + 8).to_le_bytes()),
                // Reserved hash algorithm; zero breakpoints or watchpoints; too many.
                4 => put(&mut page, 0x30, &[self.rng.pick(&[2u8, 3, 0x80, 0xff])]),
                5 => put(&mut page, 0x18 + 8 * self.rng.below(2) as usize, &[0]),
                6 => put(&mut page, 0x18, &[63]),
                // LPA2, SVE or PMU, none of which this RMM supports.
                7 => put(&mut page, 0, &[self.rng.pick(&[1u8, 2, 4])]),
                // The RD is one of the starting-level RTTs.
                8 => rd = base + self.rng.below(u64::from(s.num_start)) * G,
                // params not in NS memory or not aligned: a zero pool granule has num_bps 0.
                9 => {
                    ptr = match self.rng.below(4) {
                        0 => ptr + 8,
                        1 => HOLE,
                        2 => self.rng.pick(&self.pool),
                        _ => self.bad_addr(),
                    }
                }
                _ => {
                    rd = self
                        .rng
                        .pick(&[s.rd + 8, HOLE, BANK0.0 - G, s.rd + (1 << 48)])
                }
            }
        }
        self.write_page(NS_REALM_PARAMS, &page);
        self.call(
            Cmd::RealmCreate,
            &[rd, ptr],
            if valid { ANY } else { INPUT },
        );
    }

    fn op_realm_activate(&mut self, s: &Slot) {
        // A host activates a realm once it has RECs (mostly).
        let recs = self
            .m
            .rmm()
            .granules()
            .get(s.rd)
            .map_or(0, |g| g.refcount());
        if recs < 2 && self.rng.pct(85) {
            return self.op_rec_create(s);
        }
        let (rd, bad) = self.rd(s);
        self.call(Cmd::RealmActivate, &[rd], if bad { INPUT } else { ANY });
    }

    fn op_realm_destroy(&mut self, s: &Slot) {
        let (rd, bad) = self.rd(s);
        let out = self.call(Cmd::RealmDestroy, &[rd], if bad { INPUT } else { ANY });
        if out[0] == SUCCESS && self.rng.pct(30) {
            self.undelegate(s.rd);
            for root in s.all_roots() {
                self.undelegate(root);
            }
        }
    }

    fn op_rec_create(&mut self, s: &Slot) {
        let (rd, bad) = self.rd(s);
        // The realm's next REC index, read as a hint from the RD (word 7).
        let index = read_u64(self.m, s.rd + 7 * 8) & 0xff_ffff;
        let rec = self.delegated();
        let mut aux = [0u64; 16];
        for a in aux.iter_mut().take(AUX_COUNT) {
            *a = self.delegated();
        }
        let mut num_aux = AUX_COUNT as u64;
        let mut mpidr = RecMpidr::from_rec_index(index).unwrap().bits();
        match self.rng.below(24) {
            0 => num_aux = self.rng.pick(&[0, 1, 3, 5, 16, 17, u64::MAX]),
            1 => aux[1] = aux[0],
            2 => aux[3] = rec,
            3 => aux[2] |= 0x800,
            4 => aux[0] = self.bad_addr(),
            5 => mpidr = RecMpidr::from_rec_index(index + 1).unwrap().bits(),
            6 => mpidr |= 1 << 40,
            7 => {
                mpidr = RecMpidr::from_rec_index(index.saturating_sub(1))
                    .unwrap()
                    .bits()
            }
            _ => {}
        }
        let mut flags = if self.rng.pct(80) {
            RecCreateFlags::RUNNABLE
        } else {
            0
        };
        if self.rng.pct(5) {
            flags |= 1 << 7; // SBZ: ignored, but measured
        }
        let params = RecParams {
            flags: RecCreateFlags::from_bits(flags),
            mpidr: RecMpidr::from_bits(mpidr),
            pc: 0x1000 + self.rng.below(16) * 4,
            gprs: [self.t as u64; 8],
            num_aux,
            aux,
        };
        let mut page = [0u8; G as usize];
        params.write_to(&mut page);
        self.write_page(NS_REC_PARAMS, &page);
        let mut ptr = ns_page(self.t, NS_REC_PARAMS);
        if self.rng.pct(4) {
            ptr = self.rng.pick(&[ptr + 8, HOLE, BANK1.0 + BANK1.1]);
        }
        self.call(
            Cmd::RecCreate,
            &[rd, rec, ptr],
            if bad { INPUT } else { ANY },
        );
    }

    fn op_rec_destroy(&mut self) {
        let rec = self.rec();
        let exp = if self.is_bad(rec) { INPUT } else { ANY };
        let out = self.call(Cmd::RecDestroy, &[rec], exp);
        self.maybe_undelegate(&out, rec);
    }

    fn op_rec_enter(&mut self) {
        let rec = self.rec();
        let (run, good_run) = match self.rng.below(100) {
            0..=84 => (ns_page(self.t, NS_RUN), true),
            85..=94 => (ns_page(self.t, NS_BAD_RUN), false),
            _ => (self.bad_addr(), false),
        };
        let exp = if self.is_bad(rec) || (!good_run && run != ns_page(self.t, NS_BAD_RUN)) {
            INPUT
        } else if good_run {
            ANY
        } else {
            FAILS
        };
        let out = self.call(Cmd::RecEnter, &[rec, run], exp);
        if out[0] != SUCCESS {
            return;
        }
        let mut page = [0u8; G as usize];
        self.m.ns_read(run, &mut page).unwrap();
        let exit = match RecExit::from_run(&page) {
            Ok(exit) => exit,
            Err(e) => self.fail(format!("REC_ENTER of {rec:#x}: invalid RmiRecExit {e:?}")),
        };
        match exit.exit_reason {
            RecExitReason::Irq => {}
            RecExitReason::RipasChange => {
                self.stats.ripas_exits += 1;
                let (base, top) = (exit.ripas_base, exit.ripas_top);
                self.ensure(base < top && top <= 1 << 47, || {
                    format!("REC {rec:#x} exit: RIPAS change [{base:#x}, {top:#x})")
                });
                if self.rng.pct(85) {
                    self.answer_ripas(rec, base, top);
                }
            }
            RecExitReason::Psci => {
                self.stats.psci_exits += 1;
                let [fid, target] = [exit.gprs[0], exit.gprs[1]];
                self.ensure(fid == PSCI_CPU_ON || fid == PSCI_AFFINITY_INFO, || {
                    format!("REC {rec:#x} exit: PSCI {fid:#x}")
                });
                if self.rng.pct(90) {
                    self.answer_psci(rec, target);
                }
            }
            other => self.fail(format!("REC_ENTER of {rec:#x} exited with {other:?}")),
        }
    }

    /// The host applies a RIPAS change a REC asked for, in up to four steps.
    fn answer_ripas(&mut self, rec: u64, base: u64, top: u64) {
        let rd = read_u64(self.m, rec); // the REC's owner (a hint: it may go away)
        let start = SLOTS.iter().find(|s| s.rd == rd).map_or(0, |s| s.start);
        let mut b = base;
        for _ in 0..4 {
            let (t, exp) = match self.rng.below(10) {
                0 => (
                    top + G,
                    Exp {
                        no_success: true,
                        ..rtt_levels(start, 3)
                    },
                ),
                1 => ((b + G).min(top), rtt_levels(start, 3)),
                _ => (top, rtt_levels(start, 3)),
            };
            let out = self.call(Cmd::RttSetRipas, &[rd, rec, b, t], exp);
            if out[0] != SUCCESS {
                break;
            }
            self.check_set_ripas(b, t, out[1]);
            if out[1] >= top || out[1] <= b {
                break;
            }
            b = out[1];
        }
    }

    /// RMI_RTT_SET_RIPAS succeeded for `[base, top)` with `out_top`.
    fn check_set_ripas(&mut self, base: u64, top: u64, out_top: u64) {
        if out_top == base {
            self.stats.set_ripas_no_progress += 1;
        }
        self.ensure(out_top >= base && out_top <= top, || {
            format!("RTT_SET_RIPAS [{base:#x}, {top:#x}) succeeded with out_top {out_top:#x}")
        });
    }

    /// The host completes a PSCI request of REC `rec` about the REC with MPIDR `target`.
    fn answer_psci(&mut self, rec: u64, target: u64) {
        let rd = read_u64(self.m, rec);
        let found = self.pool.clone().into_iter().find(|&pa| {
            self.st(pa) == Some(GranuleState::Rec)
                && read_u64(self.m, pa) == rd
                && read_u64(self.m, pa + 2 * 8) == target
        });
        let Some(target) = found else {
            return; // gone: the request stays pending until the REC is destroyed
        };
        if target == rec {
            self.stats.psci_self += 1;
        }
        let status = match self.rng.below(10) {
            0 => (-3i64) as u64, // DENIED: permitted only for a CPU_ON of a REC that is off
            1 => self.rng.pick(&[1, (-2i64) as u64, (-9i64) as u64, 1 << 40]),
            _ => 0,
        };
        let exp = if target == rec { INPUT } else { ANY };
        self.call(Cmd::PsciComplete, &[rec, target, status], exp);
    }

    fn op_rec_aux_count(&mut self, s: &Slot) {
        let (rd, bad) = self.rd(s);
        let out = self.call(Cmd::RecAuxCount, &[rd], if bad { INPUT } else { ANY });
        if out[0] == SUCCESS {
            self.ensure(out[1] == AUX_COUNT as u64, || {
                format!("REC_AUX_COUNT gave {}", out[1])
            });
        }
    }

    fn op_psci_complete(&mut self) {
        let calling = self.rec();
        let target = if self.rng.pct(10) {
            calling
        } else {
            self.rec()
        };
        let status = self.rng.pick(&[0, 0, (-3i64) as u64, 1, 7, u64::MAX]);
        let exp = if calling == target || self.is_bad(calling) || self.is_bad(target) {
            INPUT
        } else {
            ANY
        };
        self.call(Cmd::PsciComplete, &[calling, target, status], exp);
    }

    fn op_set_ripas(&mut self, s: &Slot) {
        let (rd, bad) = self.rd(s);
        let rec = self.rec();
        let base = self.prot_page(s);
        let top = base + self.rng.pick(&[0, G, 2 * G, MIB2]);
        let exp = if bad || self.is_bad(rec) {
            INPUT
        } else {
            rtt_levels(s.start, 3)
        };
        let out = self.call(Cmd::RttSetRipas, &[rd, rec, base, top], exp);
        if out[0] == SUCCESS {
            self.check_set_ripas(base, top, out[1]);
        }
    }

    /// A level of a table below the starting level and an IPA aligned to its parent's entries:
    /// `(ipa, level, whether both are valid)`.
    fn table_target(&mut self, s: &Slot) -> (u64, u64, bool) {
        if self.rng.pct(6) {
            let ipa = self.any_page(s);
            return (ipa, self.invalid_level(s), false);
        }
        let level = self.rng.range(s.table_levels());
        let parent = lsize(level - 1);
        let ipa = align_down(self.table_page(s), parent);
        match self.rng.below(30) {
            0 => (ipa + G, level as u64, false), // not aligned to the parent's entries
            1 => (s.ipa_size(), level as u64, false),
            2 => (1 << 48, level as u64, false),
            _ => (ipa, level as u64, true),
        }
    }

    fn op_rtt_create(&mut self, s: &Slot) {
        let (rd, bad) = self.rd(s);
        let (ipa, level, valid) = self.table_target(s);
        let rtt = self.delegated();
        let exp = if bad || !valid {
            INPUT
        } else {
            rtt_levels(s.start, level as i64 - 1)
        };
        self.call(Cmd::RttCreate, &[rd, rtt, ipa, level], exp);
    }

    fn op_rtt_destroy(&mut self, s: &Slot) {
        let (rd, bad) = self.rd(s);
        let (ipa, level, valid) = self.table_target(s);
        let exp = if bad || !valid {
            INPUT
        } else {
            rtt_levels(s.start, level as i64)
        };
        let out = self.call(Cmd::RttDestroy, &[rd, ipa, level], exp);
        if valid && !bad {
            self.check_top(Cmd::RttDestroy, &out, ipa, level as i64 - 1, out[2]);
        }
        self.maybe_undelegate(&out, out[1]);
    }

    fn op_rtt_fold(&mut self, s: &Slot) {
        let (rd, bad) = self.rd(s);
        let (ipa, level, valid) = self.table_target(s);
        let exp = if bad || !valid {
            INPUT
        } else {
            rtt_levels(s.start, level as i64)
        };
        let out = self.call(Cmd::RttFold, &[rd, ipa, level], exp);
        self.maybe_undelegate(&out, out[1]);
    }

    /// For commands that report `top` (RttSkipNonLiveEntries from `ipa` in the table where the
    /// walk stopped): on success, the walk reached `level` and `top` lies after `ipa` within the
    /// table; on RMI_ERROR_RTT(l), `top` lies in the level-l table that holds `ipa`.
    fn check_top(&self, cmd: Cmd, out: &[u64; 8], ipa: u64, level: i64, top: u64) {
        let x0 = out[0];
        let l = match (x0 & 0xff, x0 >> 8) {
            (0, _) => level,
            (4, l) => l as i64,
            _ => return,
        };
        let span = lsize(l) * 512;
        let first = align_down(ipa, lsize(l));
        let end = align_down(ipa, span) + span;
        let ok = if x0 == SUCCESS {
            top > ipa && top <= end
        } else {
            top >= first && top <= end
        };
        self.ensure(ok, || {
            format!(
                "{} for {ipa:#x} at level {level} gave {} with top {top:#x}",
                cmd.name(),
                describe(x0)
            )
        });
    }

    fn op_read_entry(&mut self, s: &Slot) {
        let (rd, bad) = self.rd(s);
        let (ipa, level, valid) = if self.rng.pct(5) {
            let l = self
                .rng
                .pick(&[4, u64::MAX, s.start.wrapping_sub(1) as u64]);
            (self.any_page(s), l, false)
        } else {
            let level = self.rng.range(s.start..=3);
            let ipa = align_down(self.table_page(s), lsize(level));
            match self.rng.below(30) {
                0 if level < 3 => (ipa + G, level as u64, false),
                1 => (s.ipa_size(), level as u64, false),
                _ => (ipa, level as u64, true),
            }
        };
        let out = self.call(
            Cmd::RttReadEntry,
            &[rd, ipa, level],
            if bad || !valid { INPUT } else { ANY },
        );
        if out[0] != SUCCESS {
            return;
        }
        let [_, walk, state, desc, ripas, ..] = out;
        let level = level as i64;
        let ok = (s.start..=level).contains(&(walk as i64))
            && state <= 2
            && ripas <= 2
            && (state != 0 || desc == 0)
            && (state != 2 || (walk as i64 == level && level < 3 && desc % G == 0 && desc != 0))
            && (state != 1 || desc % lsize(walk as i64) == 0 || ipa >= s.prot_top())
            && (ipa < s.prot_top() || ripas == 0);
        self.ensure(ok, || {
            format!("RTT_READ_ENTRY {ipa:#x} level {level} of slot {s:x?} gave {out:#x?}")
        });
        if self.single {
            // Exactly what the tables in memory say.
            let (at, e) = walk_memory(self.m, rd, ipa, level);
            let (state, desc) = match e.state() {
                RttEntryState::Unassigned | RttEntryState::UnassignedNs => (0, 0),
                RttEntryState::Assigned => (1, e.output_address().unwrap()),
                RttEntryState::AssignedNs => (1, e.raw() & 0x0000_ffff_ffff_f0dc),
                RttEntryState::Table => (2, e.output_address().unwrap()),
            };
            let ripas = e.ripas().map_or(0, |r| r as u64);
            self.ensure(out[1..5] == [at as u64, state, desc, ripas], || {
                format!("RTT_READ_ENTRY {ipa:#x} level {level} gave {out:#x?}, memory has {e:?} at level {at}")
            });
        }
    }

    /// A protected page for DATA commands, or an invalid IPA: `(ipa, valid)`.
    fn data_ipa(&mut self, s: &Slot) -> (u64, bool) {
        match self.rng.below(40) {
            0 => (self.unprot_page(s), false),
            1 => (self.prot_page(s) + 8, false),
            2 => (s.ipa_size() + G, false),
            _ => (self.prot_page(s), true),
        }
    }

    fn op_data_create(&mut self, s: &Slot) {
        let (rd, bad) = self.rd(s);
        let data = self.delegated();
        let (ipa, valid) = self.data_ipa(s);
        if self.rng.pct(5) {
            let src: Vec<u8> = (0..G).map(|_| self.rng.next() as u8).collect();
            self.write_page(NS_SRC, &src);
        }
        let mut src = ns_page(self.t, NS_SRC);
        let mut src_ok = true;
        if self.rng.pct(3) {
            src = self.rng.pick(&[src + 8, HOLE, SLOTS[0].rd]);
            src_ok = src == SLOTS[0].rd; // the slot RD may be NS or not
        }
        let flags = self.rng.below(2);
        let exp = if bad || !src_ok || self.is_bad(data) {
            INPUT
        } else if !valid {
            // ipa_bound and ipa_align, or realm_state if that is checked first.
            FAILS
        } else {
            rtt_levels(s.start, 3)
        };
        let _ = self.call(Cmd::DataCreate, &[rd, data, ipa, src, flags], exp);
    }

    fn op_data_create_unknown(&mut self, s: &Slot) {
        let (rd, bad) = self.rd(s);
        let data = self.delegated();
        let (ipa, valid) = self.data_ipa(s);
        let exp = if bad || !valid || self.is_bad(data) {
            INPUT
        } else {
            rtt_levels(s.start, 3)
        };
        self.call(Cmd::DataCreateUnknown, &[rd, data, ipa], exp);
    }

    fn op_data_destroy(&mut self, s: &Slot) {
        let (rd, bad) = self.rd(s);
        let (ipa, valid) = self.data_ipa(s);
        self.data_destroy(s, rd, ipa, bad || !valid);
    }

    fn data_destroy(&mut self, s: &Slot, rd: u64, ipa: u64, invalid: bool) -> [u64; 8] {
        let exp = if invalid {
            INPUT
        } else {
            rtt_levels(s.start, 3)
        };
        let out = self.call(Cmd::DataDestroy, &[rd, ipa], exp);
        if !invalid {
            self.check_top(Cmd::DataDestroy, &out, ipa, 3, out[2]);
        }
        self.maybe_undelegate(&out, out[1]);
        out
    }

    fn op_init_ripas(&mut self, s: &Slot) {
        let (rd, bad) = self.rd(s);
        let level = self.rng.pick(&[3, 3, 2]);
        let base = align_down(self.prot_page(s), lsize(level));
        let (top, valid) = match self.rng.below(20) {
            0 => (base, false),
            1 => (base + 8, false),
            2 => (s.prot_top() + G, false),
            3 => (base.wrapping_sub(G), false),
            _ => {
                let len = self.rng.pick(&[G, 3 * G, 64 * G, MIB2, MIB2 * 2]);
                ((base + len).min(s.prot_top()), true)
            }
        };
        let exp = if bad || !valid {
            INPUT
        } else {
            rtt_levels(s.start, 3)
        };
        let out = self.call(Cmd::RttInitRipas, &[rd, base, top], exp);
        if out[0] == SUCCESS {
            self.ensure(out[1] > base && out[1] <= top, || {
                format!(
                    "INIT_RIPAS [{base:#x}, {top:#x}) gave out_top {:#x}",
                    out[1]
                )
            });
        }
    }

    /// An unprotected mapping target: `(ipa, level, desc, ipa and level valid, desc valid)`.
    fn ns_target(&mut self, s: &Slot) -> (u64, u64, u64, bool, bool) {
        let level = self.rng.pick(&[3i64, 3, 3, 3, 3, 3, 2, 2, 1]);
        let ipa = match level {
            3 => self.unprot_page(s),
            2 => align_down(self.unprot_page(s), MIB2),
            _ => self.rng.pick(&[s.prot_top(), s.ipa_size() - GIB]),
        };
        let addr = match level {
            3 => self.any_granule() & !0xfff,
            2 => self.rng.pick(&[BIG_BASE, 0x9000_0000, BANK0.0]),
            _ => self.rng.pick(&[GIB, 3 * GIB]),
        };
        let attr = self.rng.pick(&[0u64, 1, 2, 3, 5, 6, 7]) << 2 | self.rng.below(4) << 6;
        let mut valid = level >= s.start;
        let mut desc_valid = true;
        let (mut ipa, mut desc) = (ipa, addr | attr);
        match self.rng.below(40) {
            0 => {
                desc = addr | 4 << 2; // reserved MemAttr
                desc_valid = false;
            }
            1 => {
                desc |= self.rng.pick(&[1, 1 << 10, 1 << 55, 1 << 48]);
                desc_valid = false;
            }
            2 if level < 3 => {
                desc += G;
                desc_valid = false;
            }
            3 => {
                ipa = self.prot_page(s);
                valid = false;
            }
            4 if level < 3 => {
                ipa += G;
                valid = false;
            }
            5 => {
                ipa = s.ipa_size();
                valid = false;
            }
            _ => {}
        }
        if self.rng.pct(2) {
            return (
                ipa,
                self.rng.pick(&[0, 4, u64::MAX]),
                desc,
                false,
                desc_valid,
            );
        }
        (ipa, level as u64, desc, valid, desc_valid)
    }

    fn op_map(&mut self, s: &Slot) {
        let (rd, bad) = self.rd(s);
        let (ipa, level, desc, valid, desc_valid) = self.ns_target(s);
        let exp = if bad || !valid || !desc_valid {
            INPUT
        } else {
            rtt_levels(s.start, level as i64)
        };
        self.call(Cmd::RttMapUnprotected, &[rd, ipa, level, desc], exp);
    }

    fn op_unmap(&mut self, s: &Slot) {
        let (rd, bad) = self.rd(s);
        let (ipa, level, _, valid, _) = self.ns_target(s);
        let valid = valid && !bad;
        self.unmap(s, rd, ipa, level, valid);
    }

    fn unmap(&mut self, s: &Slot, rd: u64, ipa: u64, level: u64, valid: bool) -> [u64; 8] {
        let exp = if valid {
            rtt_levels(s.start, level as i64)
        } else {
            INPUT
        };
        let out = self.call(Cmd::RttUnmapUnprotected, &[rd, ipa, level], exp);
        if valid {
            self.check_top(Cmd::RttUnmapUnprotected, &out, ipa, level as i64, out[1]);
        }
        out
    }

    fn op_version(&mut self) {
        let req = self.rng.pick(&[
            0x1_0000,
            0x1_0000,
            0x1_0001,
            0x2_0000,
            0,
            1 << 31 | 0x1_0000,
            1 << 40 | 0x1_0000,
            0x7fff_ffff,
        ]);
        let compatible = req == 0x1_0000;
        let out = self.call(Cmd::Version, &[req], if compatible { ANY } else { INPUT });
        self.ensure(
            out[0] == if compatible { SUCCESS } else { ERROR_INPUT }
                && out[1] == 0x1_0000
                && out[2] == 0x1_0000,
            || format!("RMI_VERSION({req:#x}) gave {out:#x?}"),
        );
    }

    fn op_features(&mut self) {
        let index = self.rng.pick(&[0, 0, 1, 2, u64::MAX]);
        let out = self.call(Cmd::Features, &[index], ANY);
        if index != 0 {
            self.ensure(out[1] == 0, || {
                format!("RMI_FEATURES({index:#x}) gave {:#x}", out[1])
            });
            return;
        }
        let first = *self.features0.get_or_insert(out[1]);
        // S2SZ is the PA width (48); LPA2, SVE and PMU unsupported; SHA-256 supported.
        self.ensure(
            out[1] == first
                && out[1] & 0xff == 48
                && out[1] & (1 << 8 | 1 << 9 | 1 << 26) == 0
                && out[1] & (1 << 32) != 0,
            || format!("RMI_FEATURES(0) gave {:#x}", out[1]),
        );
    }

    fn op_unknown(&mut self) {
        let fid = self.rng.pick(&[
            0xC400_0156,
            0xC400_0160,
            0xC400_0163,
            0xC400_016A,
            0xC400_014F,
            0xC400_01FF,
            0x8400_0000, // PSCI_VERSION: not an RMI call
            0xC500_0150,
            0x8400_0150, // SMC32 encoding of RMI_VERSION
        ]);
        let mut regs = [fid, 0, 0, 0, 0, 0, 0, 0];
        for r in regs.iter_mut().skip(1) {
            *r = self.rng.next();
        }
        self.exec(Cmd::Unknown, regs, ANY);
    }

    /// EL3 moves this thread's own granule to the Secure PAS: it cannot be delegated; back in
    /// the Non-secure PAS it can. Nothing else touches it, so every outcome is fixed.
    fn op_secure_toggle(&mut self) {
        let pa = special(self.t);
        self.ensure(self.m.assign_pas(pa, Pas::Secure).is_ok(), || {
            format!("EL3 could not move {pa:#x} to Secure")
        });
        self.ensure(self.m.ns_read(pa, &mut [0u8; 8]).is_err(), || {
            "the host read a Secure granule".into()
        });
        self.call(Cmd::GranuleDelegate, &[pa], INPUT);
        self.call(Cmd::GranuleUndelegate, &[pa], INPUT);
        self.ensure(
            self.st(pa) == Some(GranuleState::Undelegated) && self.m.pas(pa) == Some(Pas::Secure),
            || format!("refused delegation changed {pa:#x}"),
        );
        self.ensure(self.m.assign_pas(pa, Pas::NonSecure).is_ok(), || {
            format!("EL3 could not move {pa:#x} back to Non-secure")
        });
        if self.rng.pct(50) {
            let out = self.call(Cmd::GranuleDelegate, &[pa], ANY);
            self.ensure(out[0] == SUCCESS, || "private delegate failed".into());
            self.ensure(self.m.assign_pas(pa, Pas::Secure).is_err(), || {
                "EL3 moved a Realm granule".into()
            });
            let out = self.call(Cmd::GranuleUndelegate, &[pa], ANY);
            self.ensure(out[0] == SUCCESS, || "private undelegate failed".into());
        }
    }

    // --- Longer sequences ----------------------------------------------------------------------

    /// Creates the RTTs down to level 3 for `ipa`, where missing.
    fn make_tables(&mut self, s: &Slot, ipa: u64) {
        for level in s.table_levels() {
            let rtt = self.pool_in(GranuleState::Delegated);
            let at = align_down(ipa, lsize(level - 1));
            let exp = rtt_levels(s.start, level - 1);
            self.call(Cmd::RttCreate, &[s.rd, rtt, at, level as u64], exp);
        }
    }

    /// Maps the 512 granules of the big run at the block-fill region, then folds them into an
    /// ASSIGNED block.
    fn seq_block_fill(&mut self, s: &Slot) {
        // A fresh level-3 RTT: all its entries have the same RIPAS.
        self.drain_prot(s, PB_IPA);
        let out = self.call(Cmd::RttDestroy, &[s.rd, PB_IPA, 3], rtt_levels(s.start, 3));
        self.maybe_undelegate(&out, out[1]);
        self.make_tables(s, PB_IPA);
        if self.rng.pct(50) {
            let out = self.call(
                Cmd::RttInitRipas,
                &[s.rd, PB_IPA, PB_IPA + MIB2],
                rtt_levels(s.start, 3),
            );
            if out[0] != SUCCESS {
                self.make_tables(s, PB_IPA);
            }
        }
        for i in 0..BIG_LEN {
            let pa = BIG_BASE + i * G;
            if self.st(pa) == Some(GranuleState::Undelegated) {
                self.call(Cmd::GranuleDelegate, &[pa], ANY);
            }
            let exp = rtt_levels(s.start, 3);
            self.call(Cmd::DataCreateUnknown, &[s.rd, pa, PB_IPA + i * G], exp);
        }
        let out = self.call(Cmd::RttFold, &[s.rd, PB_IPA, 3], rtt_levels(s.start, 3));
        if out[0] == SUCCESS {
            self.stats.assigned_block_folds += 1;
        }
    }

    /// Maps 512 contiguous NS pages at the NS-fill region, then folds them into an ASSIGNED_NS
    /// block.
    fn seq_ns_fill(&mut self, s: &Slot) {
        let base = s.ns_fill_region();
        self.make_tables(s, base);
        let attr = self.rng.pick(&[0u64, 5, 6, 7]) << 2 | self.rng.below(4) << 6;
        for i in 0..512 {
            let desc = (BIG_BASE + i * G) | attr;
            let exp = rtt_levels(s.start, 3);
            self.call(Cmd::RttMapUnprotected, &[s.rd, base + i * G, 3, desc], exp);
        }
        let out = self.call(Cmd::RttFold, &[s.rd, base, 3], rtt_levels(s.start, 3));
        if out[0] == SUCCESS {
            self.stats.ns_block_folds += 1;
        }
    }

    /// Unfolds a block at `ipa` (level `level`) with a fresh level-`level + 1` RTT.
    fn unfold(&mut self, s: &Slot, ipa: u64, level: i64) -> bool {
        let rtt = self.pool_in(GranuleState::Delegated);
        let at = align_down(ipa, lsize(level));
        let out = self.call(
            Cmd::RttCreate,
            &[s.rd, rtt, at, level as u64 + 1],
            rtt_levels(s.start, level),
        );
        if out[0] == SUCCESS {
            self.stats.block_unfolds += 1;
        }
        out[0] == SUCCESS
    }

    /// Destroys the DATA granules of the 2 MiB region at `base`, following `top`, unfolding
    /// blocks on the way; gives up when another thread gets in the way.
    fn drain_prot(&mut self, s: &Slot, base: u64) {
        let end = base + MIB2;
        let mut ipa = base;
        for _ in 0..1100 {
            if ipa >= end {
                break;
            }
            let out = self.data_destroy(s, s.rd, ipa, false);
            let top = out[2];
            match (out[0] & 0xff, out[0] >> 8) {
                (0, _) | (4, 3) => {}
                (4, l) => {
                    let e = self.call(Cmd::RttReadEntry, &[s.rd, ipa, 3], ANY);
                    if e[0] == SUCCESS && e[2] == 1 && e[1] == l && l > 0 {
                        if self.unfold(s, ipa, l as i64) {
                            continue;
                        }
                        break;
                    }
                }
                _ => break,
            }
            if top <= ipa {
                break;
            }
            ipa = top;
        }
    }

    /// Unmaps the unprotected region at `base`, following `top`, unmapping blocks whole.
    fn drain_unprot(&mut self, s: &Slot, base: u64) {
        let end = base + MIB2;
        let mut ipa = base;
        for _ in 0..1100 {
            if ipa >= end {
                break;
            }
            let out = self.unmap(s, s.rd, ipa, 3, true);
            let top = out[1];
            match (out[0] & 0xff, out[0] >> 8) {
                (0, _) | (4, 3) => {}
                (4, l) if l as i64 >= s.start.max(1) => {
                    let at = align_down(ipa, lsize(l as i64));
                    let o = self.unmap(s, s.rd, at, l, true);
                    if o[0] == SUCCESS {
                        continue;
                    }
                }
                (4, _) => {}
                _ => break,
            }
            if top <= ipa {
                break;
            }
            ipa = top;
        }
    }

    /// Unfolds and empties the block-fill and NS-fill regions, and gives the big run back.
    fn seq_block_drain(&mut self, s: &Slot) {
        self.drain_prot(s, PB_IPA);
        self.drain_unprot(s, s.ns_fill_region());
        for i in 0..BIG_LEN {
            let pa = BIG_BASE + i * G;
            if self.st(pa) == Some(GranuleState::Delegated) {
                self.call(Cmd::GranuleUndelegate, &[pa], ANY);
            }
        }
    }

    /// Empties the slot's realm (RECs, DATA, NS mappings, RTTs) and destroys it; other threads
    /// may refill it meanwhile, so this may fail.
    fn seq_teardown(&mut self, s: &Slot) {
        let rd = s.rd;
        if self.st(rd) == Some(GranuleState::Rd) {
            for pa in self.pool.clone() {
                if self.st(pa) == Some(GranuleState::Rec) && read_u64(self.m, pa) == rd {
                    let out = self.call(Cmd::RecDestroy, &[pa], ANY);
                    self.maybe_undelegate(&out, pa);
                }
            }
            for base in s.prot_regions() {
                self.drain_prot(s, base);
            }
            for base in s.unprot_regions() {
                self.drain_unprot(s, base);
            }
            let regions: Vec<u64> = s
                .prot_regions()
                .into_iter()
                .chain(s.unprot_regions())
                .collect();
            for level in s.table_levels().rev() {
                for &base in &regions {
                    let ipa = align_down(base, lsize(level - 1));
                    let out = self.call(
                        Cmd::RttDestroy,
                        &[rd, ipa, level as u64],
                        rtt_levels(s.start, level),
                    );
                    self.maybe_undelegate(&out, out[1]);
                }
            }
        }
        let out = self.call(Cmd::RealmDestroy, &[rd], ANY);
        if out[0] == SUCCESS && self.rng.pct(20) {
            self.undelegate(rd);
            for root in s.all_roots() {
                self.undelegate(root);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The checker.
// ---------------------------------------------------------------------------------------------

/// A live realm as the checker found it.
#[derive(Debug)]
struct RealmView {
    rd: u64,
    vmid: u64,
    config: RttConfig,
    rtt_base: u64,
    recs: u64,
    /// The REC indices (from their MPIDRs) of its RECs.
    rec_indices: Vec<u64>,
}

/// What the checker found: the live realms and RECs, and how many granules are in each state.
#[derive(Debug, Default)]
struct Census {
    realms: Vec<RealmView>,
    recs: Vec<u64>,
    by_state: HashMap<GranuleState, u64>,
    granules: u64,
}

impl Census {
    fn count(&self, s: GranuleState) -> i64 {
        self.by_state.get(&s).copied().unwrap_or(0) as i64
    }
}

struct Checker<'a> {
    m: &'a Machine,
    why: &'a str,
    state: HashMap<u64, (GranuleState, u64)>,
    /// Who reached each RMM-owned granule.
    owner: HashMap<u64, String>,
    progress: Option<&'a AtomicU64>,
}

impl Checker<'_> {
    fn fail(&self, what: String) -> ! {
        panic!("{}: invariant violated: {what}", self.why)
    }

    fn ensure(&self, cond: bool, what: impl FnOnce() -> String) {
        if !cond {
            self.fail(what())
        }
    }

    fn state(&self, pa: u64) -> Option<GranuleState> {
        self.state.get(&pa).map(|s| s.0)
    }

    /// Records that `what` reaches the granule at `pa`, which must be in state `expected` and
    /// reached by nothing else.
    fn claim(&mut self, pa: u64, expected: GranuleState, what: String) {
        let state = self.state(pa);
        self.ensure(state == Some(expected), || {
            format!("{what} is granule {pa:#x} in state {state:?}, not {expected:?}")
        });
        if let Some(previous) = self.owner.insert(pa, what.clone()) {
            self.fail(format!(
                "granule {pa:#x} reached twice: by {previous} and by {what}"
            ));
        }
    }

    fn walk(&mut self, realm: &RealmView, table: u64, level: Level, ipa_base: u64) {
        if let Some(p) = self.progress {
            p.fetch_add(1, Ordering::Relaxed);
        }
        let words = read_words(self.m, table);
        let config = realm.config;
        let rd = realm.rd;
        let mut live = 0;
        for (i, &raw) in words.iter().enumerate() {
            let ipa = ipa_base + ((i as u64) << level.shift());
            let where_ = || {
                format!(
                    "realm {rd:#x} RTT {table:#x} (level {}) entry {i} (IPA {ipa:#x}) {raw:#x}",
                    level.get()
                )
            };
            let e = RttEntry::from_raw_at(raw, level, config.format())
                .unwrap_or_else(|_| self.fail(format!("{}: not a valid entry", where_())));
            let protected = config.addr_is_protected(ipa);
            if !config.addr_in_ipa_space(ipa) {
                self.ensure(e.state() == RttEntryState::UnassignedNs, || {
                    format!("{}: outside the IPA space", where_())
                });
            }
            match e.state() {
                RttEntryState::Unassigned => self
                    .ensure(protected && !e.is_hw_valid() && e.ripas().is_some(), || {
                        format!("{}: bad UNASSIGNED", where_())
                    }),
                RttEntryState::UnassignedNs => self.ensure(!protected && !e.is_hw_valid(), || {
                    format!("{}: bad UNASSIGNED_NS", where_())
                }),
                RttEntryState::AssignedNs => {
                    // A valid descriptor, not left half-broken by break-before-make.
                    self.ensure(!protected && e.is_hw_valid(), || {
                        format!("{}: bad ASSIGNED_NS", where_())
                    })
                }
                RttEntryState::Assigned => {
                    live += 1;
                    let ram = e.ripas() == Some(Ripas::Ram);
                    self.ensure(protected && e.is_hw_valid() == ram, || {
                        format!("{}: bad ASSIGNED (RIPAS {:?})", where_(), e.ripas())
                    });
                    let pa = e.output_address().unwrap();
                    let pages = match level.get() {
                        3 => 1,
                        2 => 512,
                        _ => self.fail(format!("{}: ASSIGNED block above level 2", where_())),
                    };
                    for k in 0..pages {
                        self.claim(
                            pa + k * G,
                            GranuleState::Data,
                            format!("DATA of {}", where_()),
                        );
                    }
                }
                RttEntryState::Table => {
                    live += 1;
                    let child = e.output_address().unwrap();
                    let child_level = level.child().unwrap();
                    self.claim(child, GranuleState::Rtt, format!("RTT of {}", where_()));
                    self.walk(realm, child, child_level, ipa);
                }
            }
        }
        let refcount = self.state[&table].1;
        self.ensure(refcount == live, || {
            format!(
                "realm {rd:#x} RTT {table:#x} (level {}): REFCOUNT {refcount}, but {live} ASSIGNED and TABLE entries",
                level.get()
            )
        });
    }
}

/// Walks the granule table and every live realm's RTTs, from memory, with no call in flight, and
/// asserts the global invariants:
///
/// - no granule is locked or claimed;
/// - GPT: UNDELEGATED granules are Non-secure, all others Realm; DELEGATED granules are zero;
/// - each RD holds a valid RTT geometry, realm state, hash algorithm; VMIDs of live realms are
///   distinct and exactly the VMIDs the RMM holds as used (of those the test uses);
/// - every RTT reached from a realm's starting-level RTTs (TABLE entries) is an RTT granule
///   reached once; every entry is an encoding the RMM writes, valid at its level, protected or
///   unprotected as its IPA is, UNASSIGNED_NS outside the IPA space, a valid descriptor exactly
///   when it should be (ASSIGNED RAM, ASSIGNED_NS, TABLE);
/// - every ASSIGNED page, or each granule of an ASSIGNED 2 MiB block, is a DATA granule reached
///   once across all realms; no ASSIGNED block above level 2;
/// - each RTT's REFCOUNT equals its number of ASSIGNED and TABLE entries;
/// - each REC's owner is a live RD, it has REC_AUX_COUNT auxiliary granules, each a REC_AUX
///   granule reached once; each RD's REFCOUNT equals the number of RECs it owns, and its next
///   REC index is at least that;
/// - every DATA, RTT, REC_AUX granule is reached from some live realm, every RD walked, every REC
///   owned (nothing leaked, nothing shared); DATA, REC, REC_AUX, DELEGATED and UNDELEGATED
///   granules have REFCOUNT 0.
fn census(m: &Machine, why: &str, progress: Option<&AtomicU64>) -> Census {
    let mut c = Checker {
        m,
        why,
        state: HashMap::new(),
        owner: HashMap::new(),
        progress,
    };
    let mut census = Census::default();
    let mut busy = Vec::new();
    for (pa, g) in m.rmm().granules().iter() {
        c.state.insert(pa, (g.state(), g.refcount()));
        *census.by_state.entry(g.state()).or_default() += 1;
        census.granules += 1;
        if g.is_busy() {
            busy.push(pa);
        }
    }
    c.ensure(busy.is_empty(), || {
        format!("granules locked or claimed with no call in flight: {busy:#x?}")
    });

    // Realms and their RTTs.
    let mut rds: Vec<u64> = c
        .state
        .iter()
        .filter(|(_, s)| s.0 == GranuleState::Rd)
        .map(|(pa, _)| *pa)
        .collect();
    rds.sort_unstable();
    for rd in rds {
        let w = read_words(m, rd);
        let config = RttConfig::new(w[1], w[2] as i64, w[3], rd_format(&w), PA_BITS)
            .unwrap_or_else(|e| c.fail(format!("RD {rd:#x} holds an invalid geometry {e:?}")));
        c.ensure(w[0] <= 2 && w[6] <= 1 && w[5] <= 0xffff, || {
            format!(
                "RD {rd:#x}: state {}, hash {}, VMID {:#x}",
                w[0], w[6], w[5]
            )
        });
        c.claim(rd, GranuleState::Rd, format!("RD {rd:#x}"));
        let realm = RealmView {
            rd,
            vmid: w[5],
            config,
            rtt_base: w[4],
            recs: 0,
            rec_indices: Vec::new(),
        };
        let start = config.start_level();
        for t in 0..config.num_start() as u64 {
            let root = realm.rtt_base + t * G;
            c.claim(
                root,
                GranuleState::Rtt,
                format!("starting-level RTT {t} of realm {rd:#x}"),
            );
            c.walk(&realm, root, start, (t * 512) << start.shift());
        }
        census.realms.push(realm);
    }

    // RECs and their auxiliary granules.
    let mut recs: Vec<u64> = c
        .state
        .iter()
        .filter(|(_, s)| s.0 == GranuleState::Rec)
        .map(|(pa, _)| *pa)
        .collect();
    recs.sort_unstable();
    for rec in recs {
        let w = read_words(m, rec);
        let owner = w[0];
        let Some(realm) = census.realms.iter_mut().find(|r| r.rd == owner) else {
            c.fail(format!("REC {rec:#x} owned by {owner:#x}, not a live RD"))
        };
        realm.recs += 1;
        // Words 1 flags, 2 MPIDR, 40 emulatable abort, 41 PSCI pending, 43..46 RIPAS change.
        let mpidr = RecMpidr::from_bits(w[2]);
        realm.rec_indices.push(mpidr.rec_index());
        let ripas_ok = w[44] == 0 || (w[43] <= w[44] && w[45] <= 1);
        c.ensure(
            w[1] <= 1 && mpidr.is_valid() && w[40] <= 1 && w[41] <= 1 && ripas_ok,
            || format!("REC {rec:#x}: flags {:#x}, MPIDR {:#x}, emulatable abort {}, PSCI pending {}, RIPAS change {:#x?}", w[1], w[2], w[40], w[41], &w[43..47]),
        );
        c.claim(
            rec,
            GranuleState::Rec,
            format!("REC {rec:#x} of {owner:#x}"),
        );
        c.ensure(w[48] == AUX_COUNT as u64, || {
            format!("REC {rec:#x} has {} auxiliary granules", w[48])
        });
        for (i, &aux) in w[49..49 + AUX_COUNT].iter().enumerate() {
            c.claim(
                aux,
                GranuleState::RecAux,
                format!("auxiliary granule {i} of REC {rec:#x}"),
            );
        }
        census.recs.push(rec);
    }
    for realm in &census.realms {
        let (rd, recs) = (realm.rd, realm.recs);
        let refcount = c.state[&rd].1;
        let next_index = read_u64(m, rd + 7 * 8);
        c.ensure(refcount == recs && next_index >= recs, || {
            format!("RD {rd:#x}: REFCOUNT {refcount}, {recs} RECs, next REC index {next_index}")
        });
        // REC indices are distinct and below the next one (MPIDRs are never reused).
        let mut indices = realm.rec_indices.clone();
        indices.sort_unstable();
        indices.dedup();
        c.ensure(
            indices.len() as u64 == recs && indices.iter().all(|&i| i < next_index),
            || {
                format!(
                    "RD {rd:#x}: REC indices {:?}, next REC index {next_index}",
                    realm.rec_indices
                )
            },
        );
    }

    // VMIDs: distinct, and held by the RMM exactly while a realm uses them.
    let mut vmids: Vec<u64> = census.realms.iter().map(|r| r.vmid).collect();
    vmids.sort_unstable();
    vmids.dedup();
    c.ensure(vmids.len() == census.realms.len(), || {
        format!("two live realms share a VMID: {:#x?}", census.realms)
    });
    for v in VMIDS.iter().map(|&v| u64::from(v)).chain([0, 5, 6]) {
        let used = vmids.contains(&v);
        let was_free = m.rmm().vmids().claim(v);
        if was_free {
            m.rmm().vmids().release(v);
        }
        c.ensure(used != was_free, || {
            format!("VMID {v:#x}: used by a live realm {used}, free in the RMM {was_free}")
        });
    }

    // Every granule.
    let mut all: Vec<(u64, GranuleState, u64)> =
        c.state.iter().map(|(pa, s)| (*pa, s.0, s.1)).collect();
    all.sort_unstable_by_key(|g| g.0);
    let mut zero = vec![0u8; G as usize];
    for (pa, state, refcount) in all {
        let pas = m.pas(pa);
        let want_pas = match state {
            GranuleState::Undelegated => Pas::NonSecure,
            _ => Pas::Realm,
        };
        c.ensure(pas == Some(want_pas), || {
            format!("granule {pa:#x} is {state:?} but its GPT entry is {pas:?}")
        });
        match state {
            GranuleState::Undelegated | GranuleState::Delegated => {
                c.ensure(refcount == 0 && !c.owner.contains_key(&pa), || {
                    format!(
                        "{state:?} granule {pa:#x}: REFCOUNT {refcount}, reached by {:?}",
                        c.owner.get(&pa)
                    )
                })
            }
            _ => c.ensure(c.owner.contains_key(&pa), || {
                format!("{state:?} granule {pa:#x} is reached from no live realm (leaked)")
            }),
        }
        if matches!(
            state,
            GranuleState::Data | GranuleState::Rec | GranuleState::RecAux
        ) {
            c.ensure(refcount == 0, || {
                format!("{state:?} granule {pa:#x} has REFCOUNT {refcount}")
            });
        }
        if state == GranuleState::Delegated {
            m.debug_read(pa, &mut zero).unwrap();
            c.ensure(zero.iter().all(|&b| b == 0), || {
                format!("DELEGATED granule {pa:#x} is not zero")
            });
        }
    }
    census
}

/// The numbers of granules in each state follow from the successful calls: every granule the
/// RMM holds came from a DELEGATE and goes back with an UNDELEGATE, and so on.
fn check_accounts(c: &Census, s: &Stats, why: &str) {
    use GranuleState::*;
    let roots: i64 = c.realms.iter().map(|r| r.config.num_start() as i64).sum();
    let checks = [
        (
            "delegated granules",
            s.ok(Cmd::GranuleDelegate) - s.ok(Cmd::GranuleUndelegate),
            c.granules as i64 - c.count(Undelegated),
        ),
        (
            "RDs",
            s.ok(Cmd::RealmCreate) - s.ok(Cmd::RealmDestroy),
            c.count(Rd),
        ),
        (
            "RECs",
            s.ok(Cmd::RecCreate) - s.ok(Cmd::RecDestroy),
            c.count(Rec),
        ),
        (
            "REC_AUX granules",
            AUX_COUNT as i64 * c.count(Rec),
            c.count(RecAux),
        ),
        (
            "DATA granules",
            s.ok(Cmd::DataCreate) + s.ok(Cmd::DataCreateUnknown) - s.ok(Cmd::DataDestroy),
            c.count(Data),
        ),
        (
            "RTTs",
            roots + s.ok(Cmd::RttCreate) - s.ok(Cmd::RttDestroy) - s.ok(Cmd::RttFold),
            c.count(Rtt),
        ),
    ];
    for (what, expected, found) in checks {
        assert_eq!(
            expected, found,
            "{why}: invariant violated: {found} {what}, but the successful calls account for {expected}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tearing everything down through RMI.
// ---------------------------------------------------------------------------------------------

struct Teardown<'a> {
    m: &'a Machine,
    cpu: usize,
    why: &'a str,
    stats: Stats,
}

impl Teardown<'_> {
    /// Calls `cmd`; it must succeed.
    fn rmi(&mut self, cmd: Cmd, args: &[u64]) -> [u64; 8] {
        let mut regs = [0u64; 8];
        regs[0] = cmd.fid();
        regs[1..=args.len()].copy_from_slice(args);
        let out = self.m.smc(self.cpu, regs);
        *self.stats.counts.entry((cmd, out[0])).or_default() += 1;
        assert_eq!(
            out[0],
            SUCCESS,
            "{}: teardown: {} {args:#x?} gave {}",
            self.why,
            cmd.name(),
            describe(out[0])
        );
        out
    }

    /// A DELEGATED granule to unfold a block with.
    fn spare(&mut self) -> u64 {
        let granules = self.m.rmm().granules();
        if let Some((pa, _)) = granules
            .iter()
            .find(|(_, g)| g.state() == GranuleState::Delegated)
        {
            return pa;
        }
        let (pa, _) = granules
            .iter()
            .find(|(_, g)| g.state() == GranuleState::Undelegated)
            .expect("a granule to delegate");
        self.rmi(Cmd::GranuleDelegate, &[pa]);
        pa
    }

    /// Empties the RTT at `table` (level `level`, covering IPAs from `ipa_base`), destroying
    /// what it maps and its sub-tables, children first.
    fn empty(&mut self, rd: u64, table: u64, level: Level, ipa_base: u64) {
        let format = rd_format(&read_words(self.m, rd));
        for i in 0..512u64 {
            let ipa = ipa_base + (i << level.shift());
            let raw = read_u64(self.m, table + i * 8);
            let e = RttEntry::from_raw_at(raw, level, format).unwrap();
            let l = level.get() as u64;
            match e.state() {
                RttEntryState::Table => {
                    let child = e.output_address().unwrap();
                    self.empty(rd, child, level.child().unwrap(), ipa);
                    let out = self.rmi(Cmd::RttDestroy, &[rd, ipa, l + 1]);
                    assert_eq!(out[1], child, "{}: RTT_DESTROY output", self.why);
                }
                RttEntryState::Assigned if level.is_page() => {
                    let out = self.rmi(Cmd::DataDestroy, &[rd, ipa]);
                    assert_eq!(
                        out[1],
                        e.output_address().unwrap(),
                        "{}: DATA_DESTROY output",
                        self.why
                    );
                }
                RttEntryState::Assigned => {
                    // DATA_DESTROY takes pages: unfold the block first.
                    let rtt = self.spare();
                    self.rmi(Cmd::RttCreate, &[rd, rtt, ipa, l + 1]);
                    self.stats.block_unfolds += 1;
                    self.empty(rd, rtt, level.child().unwrap(), ipa);
                    self.rmi(Cmd::RttDestroy, &[rd, ipa, l + 1]);
                }
                RttEntryState::AssignedNs => {
                    self.rmi(Cmd::RttUnmapUnprotected, &[rd, ipa, l]);
                }
                _ => {}
            }
        }
    }

    fn all(&mut self, census: &Census) {
        for &rec in &census.recs {
            self.rmi(Cmd::RecDestroy, &[rec]);
        }
        for realm in &census.realms {
            let start = realm.config.start_level();
            for t in 0..realm.config.num_start() as u64 {
                let root = realm.rtt_base + t * G;
                self.empty(realm.rd, root, start, (t * 512) << start.shift());
            }
            self.rmi(Cmd::RealmDestroy, &[realm.rd]);
        }
        let delegated: Vec<u64> = self
            .m
            .rmm()
            .granules()
            .iter()
            .filter(|(_, g)| g.state() == GranuleState::Delegated)
            .map(|(pa, _)| pa)
            .collect();
        for pa in delegated {
            self.rmi(Cmd::GranuleUndelegate, &[pa]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running.
// ---------------------------------------------------------------------------------------------

struct Run {
    seed: u64,
    threads: usize,
    calls: u64,
    epochs: u64,
}

struct Report {
    stats: Stats,
    digest: u64,
    elapsed: Duration,
    checks: u64,
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim().replace('_', "");
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Aborts the process if no call or checker step makes progress for this long: a deadlock in
/// the RMM would otherwise hang the test run.
const WATCHDOG: Duration = Duration::from_secs(120);

fn run(r: &Run) -> Report {
    assert!((1..=MAX_THREADS).contains(&r.threads));
    // One CPU more than the workers: the final teardown runs on it.
    let m = new_machine(r.threads + 1);
    m.set_realm_model(Arc::new(StressRealm {
        seed: r.seed,
        runs: AtomicU64::new(0),
    }));
    let sh = Shared {
        seed: r.seed,
        failed: AtomicBool::new(false),
        failure: Mutex::new(None),
        progress: AtomicU64::new(0),
        stats: (0..r.threads)
            .map(|_| Mutex::new(Stats::default()))
            .collect(),
        inflight: (0..r.threads)
            .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
            .collect(),
    };
    let barrier = Barrier::new(r.threads + 1);
    let done = AtomicBool::new(false);
    let per_epoch = r.calls.div_ceil(r.threads as u64 * r.epochs).max(1);
    let single = r.threads == 1;
    let started = Instant::now();
    let mut checks = 0;
    let mut digest = 0;

    std::thread::scope(|scope| {
        let (m, sh, barrier, done) = (&m, &sh, &barrier, &done);
        let workers: Vec<_> = (0..r.threads)
            .map(|t| {
                scope.spawn(move || {
                    let mut w = Worker::new(m, sh, t, single);
                    for epoch in 1..=r.epochs {
                        if !sh.failed() {
                            let target = per_epoch * epoch;
                            let res = catch_unwind(AssertUnwindSafe(|| {
                                while w.calls < target && !sh.failed() {
                                    w.step();
                                }
                            }));
                            if let Err(e) = res {
                                sh.fail(format!(
                                    "{}\n(RMM_STRESS_SEED={}, thread {t}, call {}; calls in flight:\n{})",
                                    panic_message(&*e),
                                    sh.seed,
                                    w.calls + 1,
                                    sh.inflight_report()
                                ));
                            }
                        }
                        *sh.stats[t].lock().unwrap_or_else(|e| e.into_inner()) = w.stats.clone();
                        barrier.wait(); // epoch done
                        barrier.wait(); // checked
                    }
                    w.digest
                })
            })
            .collect();
        scope.spawn(move || {
            let mut last = (sh.progress.load(Ordering::Relaxed), Instant::now());
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                let now = sh.progress.load(Ordering::Relaxed);
                if now != last.0 {
                    last = (now, Instant::now());
                } else if last.1.elapsed() > WATCHDOG {
                    let _ = writeln!(
                        std::io::stderr(),
                        "stress_rmi: no progress for {WATCHDOG:?}: deadlock? RMM_STRESS_SEED={}; calls in flight:\n{}",
                        sh.seed,
                        sh.inflight_report()
                    );
                    std::process::abort();
                }
            }
        });
        for epoch in 1..=r.epochs {
            barrier.wait();
            if !sh.failed() {
                let why = format!(
                    "RMM_STRESS_SEED={} (after epoch {epoch} of {}, {} threads)",
                    r.seed, r.epochs, r.threads
                );
                let res = catch_unwind(AssertUnwindSafe(|| {
                    let c = census(m, &why, Some(&sh.progress));
                    let mut total = Stats::default();
                    for s in &sh.stats {
                        total.add(&s.lock().unwrap());
                    }
                    check_accounts(&c, &total, &why);
                }));
                checks += 1;
                if let Err(e) = res {
                    sh.fail(panic_message(&*e));
                }
            }
            barrier.wait();
        }
        for w in workers {
            digest ^= w.join().expect("workers catch their panics");
        }
        done.store(true, Ordering::Relaxed);
    });
    if let Some(failure) = sh.failure.lock().unwrap().take() {
        panic!("{failure}");
    }
    let elapsed = started.elapsed();

    // Tear everything down through RMI: afterwards every granule is UNDELEGATED and Non-secure.
    let why = format!("RMM_STRESS_SEED={} (teardown)", r.seed);
    let mut stats = Stats::default();
    for s in &sh.stats {
        stats.add(&s.lock().unwrap());
    }
    let c = census(&m, &why, None);
    let mut t = Teardown {
        m: &m,
        cpu: r.threads,
        why: &why,
        stats: Stats::default(),
    };
    t.all(&c);
    stats.add(&t.stats);
    let c = census(&m, &why, None);
    check_accounts(&c, &stats, &why);
    assert_eq!(
        c.count(GranuleState::Undelegated),
        c.granules as i64,
        "{why}: granules left: {:?}",
        c.by_state
    );
    assert!(c.realms.is_empty() && c.recs.is_empty());
    for (pa, g) in m.rmm().granules().iter() {
        assert!(
            m.pas(pa) == Some(Pas::NonSecure) && g.refcount() == 0 && !g.is_busy(),
            "{why}: granule {pa:#x} not returned"
        );
    }
    Report {
        stats,
        digest,
        elapsed,
        checks: checks + 2,
    }
}

fn print_report(what: &str, r: &Run, rep: &Report) {
    let calls = rep.stats.calls();
    println!(
        "{what}: RMM_STRESS_SEED={} threads {} calls {} ({} by the final teardown) in {:.2?} ({:.0} calls/s), {} checks, digest {:#018x}",
        r.seed,
        r.threads,
        calls,
        calls - r.calls.min(calls),
        rep.elapsed,
        calls as f64 / rep.elapsed.as_secs_f64(),
        rep.checks,
        rep.digest
    );
    print!("{}", rep.stats.summary());
}

/// 1,000,000 calls by default (`RMM_STRESS_CALLS` to change), 4 threads (`RMM_STRESS_THREADS`),
/// seed from the clock unless `RMM_STRESS_SEED` is set.
#[test]
fn concurrent_random_rmi_keeps_the_global_invariants() {
    let seed = env_u64("RMM_STRESS_SEED").unwrap_or_else(clock_seed);
    println!("RMM_STRESS_SEED={seed}");
    let r = Run {
        seed,
        threads: env_u64("RMM_STRESS_THREADS").map_or(4, |t| t as usize),
        calls: env_u64("RMM_STRESS_CALLS").unwrap_or(1_000_000),
        epochs: 4,
    };
    let rep = run(&r);
    print_report("stress", &r, &rep);
    let s = &rep.stats;
    assert!(
        s.calls() >= r.calls,
        "seed {seed}: only {} calls",
        s.calls()
    );
    if r.calls >= 200_000 {
        // The random sequences reach every command's success path that can succeed without a
        // realm running code (PSCI_COMPLETE and RTT_SET_RIPAS need a REC request).
        for cmd in Cmd::ALL {
            if !matches!(cmd, Cmd::PsciComplete | Cmd::RttSetRipas) {
                assert!(s.ok(cmd) > 0, "seed {seed}: {} never succeeded", cmd.name());
            }
        }
    }
}

/// A fixed seed on one thread: exactly replayable. Each call's effect on the granule table is
/// checked (a failed call changes nothing; a successful one moves exactly the granules it names),
/// the checker runs every 10,000 calls, and a second run gives the same outputs, call for call.
#[test]
fn single_thread_fixed_seed_replays_exactly() {
    let r = Run {
        seed: 0x5eed_0001_c0ca_c01a,
        threads: 1,
        calls: 40_000,
        epochs: 4,
    };
    let first = run(&r);
    print_report("single", &r, &first);
    let second = run(&r);
    assert_eq!(
        (first.digest, first.stats.calls()),
        (second.digest, second.stats.calls()),
        "seed {:#x}: a single-threaded run did not replay exactly",
        r.seed
    );
    for cmd in [
        Cmd::GranuleDelegate,
        Cmd::RealmCreate,
        Cmd::RttCreate,
        Cmd::DataCreate,
        Cmd::RecCreate,
        Cmd::RealmDestroy,
    ] {
        assert!(first.stats.ok(cmd) > 0, "{} never succeeded", cmd.name());
    }
}

/// Regression (found by the stress run), reduced: a REC asks for RIPAS EMPTY over
/// `[0x1000, 0x2000)`, where the walk stops at a level-2 entry that is already UNASSIGNED EMPTY.
/// RMI_RTT_SET_RIPAS(base 0x1000, top 0x2000) succeeds with `out_top` 0, below `base`; the REC's
/// `ripas_addr` goes back to 0, so the host may go on from 0 (outside the range the realm asked
/// for), and the realm is told its new base is 0.
#[test]
fn regression_set_ripas_progress_never_goes_below_base() {
    use common::*;
    /// The first entry asks for the RIPAS change; the next ones record what the realm is told.
    struct Asker(Mutex<Vec<[u64; 3]>>);
    impl RealmModel for Asker {
        fn run(&self, _: usize, _: u64, v: &mut VcpuContext, _: &dyn RealmMemory) -> RealmTrap {
            let mut seen = self.0.lock().unwrap();
            seen.push([v.gprs[0], v.gprs[1], v.gprs[2]]);
            if seen.len() > 1 {
                return RealmTrap::Irq;
            }
            v.gprs[..5].copy_from_slice(&[RSI_IPA_STATE_SET, 0x1000, 0x2000, 0, 0]);
            RealmTrap::Sync {
                esr: SMC_TRAP,
                far: 0,
                hpfar: 0,
            }
        }
    }
    let m = machine();
    let realm_code = Arc::new(Asker(Mutex::new(Vec::new())));
    m.set_realm_model(realm_code.clone());
    let mut g = Granules::new();
    let realm = new_realm(&m, &mut g); // IPA width 39, starting level 1
    create_rtt(&m, &mut g, realm.rd, 0, 2);
    let rec = new_rec(&m, &mut g, realm.rd, 0);
    assert_eq!(rmi(&m, RMI_REALM_ACTIVATE, &[realm.rd])[0], SUCCESS);
    let run = g.ns();
    assert_eq!(rmi(&m, RMI_REC_ENTER, &[rec, run])[0], SUCCESS);
    // Walk level 2, UNASSIGNED, RIPAS EMPTY.
    assert_eq!(read_entry(&m, realm.rd, 0x1000, 3), [SUCCESS, 2, 0, 0, 0]);
    let out = rmi(&m, RMI_RTT_SET_RIPAS, &[realm.rd, rec, 0x1000, 0x2000]);
    assert_eq!(rmi(&m, RMI_REC_ENTER, &[rec, run])[0], SUCCESS);
    let told = realm_code.0.lock().unwrap()[1];
    assert!(
        out[0] != SUCCESS || (0x1000..=0x2000).contains(&out[1]),
        "RTT_SET_RIPAS [0x1000, 0x2000) gave {} with out_top {:#x}; the realm was told {told:#x?}",
        describe(out[0]),
        out[1]
    );
}

/// Regression (found by the stress run), reduced: a REC that makes PSCI_CPU_ON or PSCI_AFFINITY_INFO about itself exits to
/// the host with the request pending, but the host cannot complete it (RMI_PSCI_COMPLETE refuses
/// a calling REC that is also the target: `alias`), so every later RMI_REC_ENTER fails with
/// RMI_ERROR_REC (`rec_psci`): the REC can never run again. TF-RMM answers such calls itself
/// (PSCI_ALREADY_ON, AFFINITY_INFO ON) without an exit. The stress test's realms make such calls
/// (`psci_self` in its summary); their RECs stay blocked until destroyed.
#[test]
fn regression_psci_request_about_itself_is_answered_by_the_rmm() {
    use common::*;
    /// The first entry makes the PSCI call `fid` about MPIDR 0, its own; then IRQs.
    struct Caller(AtomicU64, u64);
    impl RealmModel for Caller {
        fn run(&self, _: usize, _: u64, v: &mut VcpuContext, _: &dyn RealmMemory) -> RealmTrap {
            if self.0.fetch_add(1, Ordering::SeqCst) > 0 {
                return RealmTrap::Irq;
            }
            let entry = if self.1 == PSCI_CPU_ON { 0x1000 } else { 0 };
            v.gprs[..4].copy_from_slice(&[self.1, 0, entry, 0]);
            RealmTrap::Sync {
                esr: SMC_TRAP,
                far: 0,
                hpfar: 0,
            }
        }
    }
    for fid in [PSCI_CPU_ON, PSCI_AFFINITY_INFO] {
        let m = machine();
        m.set_realm_model(Arc::new(Caller(AtomicU64::new(0), fid)));
        let mut g = Granules::new();
        let realm = new_realm(&m, &mut g);
        let rec = new_rec(&m, &mut g, realm.rd, 0);
        assert_eq!(rmi(&m, RMI_REALM_ACTIVATE, &[realm.rd])[0], SUCCESS);
        let run = g.ns();
        assert_eq!(rmi(&m, RMI_REC_ENTER, &[rec, run])[0], SUCCESS);
        let mut page = [0u8; 4096];
        m.ns_read(run, &mut page).unwrap();
        let exit = RecExit::from_run(&page).unwrap();
        if exit.exit_reason == RecExitReason::Psci {
            // The only REC the host could name as the target is the caller.
            assert_eq!(rmi(&m, RMI_PSCI_COMPLETE, &[rec, rec, 0])[0], ERROR_INPUT);
        }
        assert_eq!(
            rmi(&m, RMI_REC_ENTER, &[rec, run])[0],
            SUCCESS,
            "{fid:#x} about itself: the REC can no longer run (exit {:?})",
            exit.exit_reason
        );
    }
}

/// Regression (found by the stress run), reduced. CPUs 1 and 2 call
/// RMI_RTT_MAP_UNPROTECTED(R, IPA 2^38, level 1, a 1 GiB NS block) in a loop; CPU 0 creates realm
/// R with its starting-level RTT at A, destroys it, and creates it again with its RTT at B. A call
/// that read R's configuration before the destroy keeps walking from A: it spins (A is DELEGATED)
/// while R lives. CPU 0 then creates realm X with its starting-level RTT at A: the stuck call locks
/// X's RTT as if it were R's and maps the block into X, which never asked for it.
#[test]
fn regression_rd_reuse_never_lets_a_stale_walk_reach_another_realm() {
    use common::*;
    const NS_IPA: u64 = 1 << 38; // the first unprotected IPA of a 39-bit realm
    const BLOCK: u64 = GIB | 0b110 << 2 | 0b11 << 6; // Normal WB, read/write
    let m = machine();
    let g = |i: u64| BANK1.0 + i * GRANULE;
    let (rd, base_a, base_b, params_a, params_b, rd_x, params_x) =
        (g(0), g(1), g(2), g(3), g(4), g(5), g(6));
    for pa in [rd, base_a, base_b, rd_x] {
        assert_eq!(delegate(&m, pa), SUCCESS);
    }
    write_realm_params(&m, params_a, &realm_params(base_a));
    write_realm_params(&m, params_b, &realm_params(base_b));
    let mut px = realm_params(base_a);
    px.vmid = 2;
    write_realm_params(&m, params_x, &px);
    let stop = AtomicBool::new(false);
    let done: [AtomicU64; 3] = Default::default();
    let rmi0 = |args: [u64; 3]| m.smc(0, [args[0], args[1], args[2], 0, 0, 0, 0, 0])[0];
    let outcome = std::thread::scope(|s| {
        for cpu in 1..3 {
            let (m, stop, done) = (&m, &stop, &done);
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    m.smc(
                        cpu,
                        [RMI_RTT_MAP_UNPROTECTED, rd, NS_IPA, 1, BLOCK, 0, 0, 0],
                    );
                    done[cpu].fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        // Whether both CPUs complete two more calls within `timeout`.
        let progress = |timeout: Duration| {
            let before: Vec<u64> = done.iter().map(|d| d.load(Ordering::Relaxed)).collect();
            let t = Instant::now();
            while (1..3).any(|c| done[c].load(Ordering::Relaxed) < before[c] + 2) {
                if t.elapsed() > timeout {
                    return false;
                }
                std::hint::spin_loop();
            }
            true
        };
        let mut outcome = None;
        // Before the fix this went wrong within a few rounds.
        for _ in 0..300 {
            assert_eq!(rmi0([RMI_REALM_CREATE, rd, params_a]), SUCCESS);
            progress(Duration::from_secs(5));
            assert_eq!(rmi0([RMI_REALM_DESTROY, rd, 0]), SUCCESS);
            assert_eq!(rmi0([RMI_REALM_CREATE, rd, params_b]), SUCCESS);
            if !progress(Duration::from_millis(200)) {
                // A call seems stuck: give A to X, and see what X's RTT holds.
                assert_eq!(rmi0([RMI_REALM_CREATE, rd_x, params_x]), SUCCESS);
                std::thread::sleep(Duration::from_millis(300));
                outcome = Some(read_entry(&m, rd_x, NS_IPA, 1));
                break;
            }
            assert_eq!(rmi0([RMI_REALM_DESTROY, rd, 0]), SUCCESS);
        }
        stop.store(true, Ordering::Relaxed);
        outcome
    });
    if let Some(entry) = outcome {
        assert_eq!(
            entry,
            [SUCCESS, 1, 0, 0, 0],
            "realm X's RTT has an entry its host never mapped (mapped through realm R)"
        );
    }
}
