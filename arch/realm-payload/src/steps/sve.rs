//! SVE in a realm created with it (RMM spec A3.1.3): the realm runs SVE code at the longest
//! vector length it was given and at a shorter one it picks with ZCR_EL1, and its Z, P and FFR
//! registers survive REC exits (the RMM switches them lazily, CPTR_EL2.TZ). A REC that never
//! used SVE finds every register zero: nothing of the Normal world's or another realm's.
//!
//! Only this module's assembly touches the SVE registers (the payload is a softfloat build).

use crate::report::{request, step};
use core::sync::atomic::{AtomicU8, Ordering};
use rmm_arch::realm_report::{Step, REQUEST_NOTHING};
use rmm_arch::{isb, read_sysreg, write_sysreg};

/// REC exits the isolation mode checks its registers over.
pub const ISOLATION_ROUNDS: u64 = 4;
/// Bytes of the longest vector (2048 bits).
const MAX_VL: usize = 256;
/// Bytes of a snapshot: Z0-Z31, P0-P15, FFR.
const SNAPSHOT: usize = 32 * MAX_VL + 17 * MAX_VL / 8;

/// A snapshot of the SVE registers (atomics: written by assembly, read by Rust).
#[repr(C, align(16))]
pub struct Snapshot([AtomicU8; SNAPSHOT]);

impl Snapshot {
    const fn new() -> Self {
        Self([const { AtomicU8::new(0) }; SNAPSHOT])
    }

    fn ptr(&self) -> *mut u8 {
        self.0.as_ptr() as *mut u8
    }

    /// The first byte of the first `len` that differs from `other`'s, or None.
    fn differs(&self, other: &Snapshot, len: usize) -> Option<usize> {
        (0..len.min(SNAPSHOT))
            .find(|&i| self.0[i].load(Ordering::Relaxed) != other.0[i].load(Ordering::Relaxed))
    }

    fn is_zero(&self, len: usize) -> bool {
        (0..len.min(SNAPSHOT)).all(|i| self.0[i].load(Ordering::Relaxed) == 0)
    }
}

static BEFORE: Snapshot = Snapshot::new();
static AFTER: Snapshot = Snapshot::new();

/// Whether ID_AA64PFR0_EL1 says the realm has SVE.
pub fn advertised() -> bool {
    (read_sysreg!("id_aa64pfr0_el1") >> 32) & 0xf != 0
}

/// CPACR_EL1.ZEN and FPEN: SVE and FP/SIMD at EL1 and EL0 without traps.
fn enable() {
    let cpacr = read_sysreg!("cpacr_el1") | 3 << 16 | 3 << 20;
    // SAFETY: lets the realm's own EL1 use SVE and FP/SIMD; no memory effect.
    unsafe { write_sysreg!("cpacr_el1", cpacr) };
    isb!();
}

/// Sets ZCR_EL1.LEN and returns the vector length in bytes (RDVL).
fn set_length(len: u64) -> usize {
    // SAFETY: the realm's own vector length (ZCR_EL2 caps it); RDVL only reads.
    unsafe {
        write_sysreg!("s3_0_c1_c2_0", len);
        core::arch::asm!("isb", options(nostack));
    }
    let vl: u64;
    // SAFETY: reads the vector length into a general-purpose register.
    unsafe {
        core::arch::asm!(".arch_extension sve", "rdvl {}, #1", out(reg) vl, options(nomem, nostack))
    };
    vl as usize
}

/// Fills Z0-Z31, P0-P15 and FFR with a pattern of `seed` and each register's number.
fn fill(seed: u64) {
    // SAFETY: writes only SVE registers, which no Rust code of the payload uses.
    unsafe {
        core::arch::asm!(
            ".arch_extension sve",
            ".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
            "add x9, {seed}, #\\n",
            "index z\\n\\().b, w9, #3",
            ".endr",
            ".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
            "add x9, {seed}, #(\\n * 7 + 1)",
            "whilelo p\\n\\().b, xzr, x9",
            ".endr",
            "wrffr p5.b",
            seed = in(reg) seed,
            out("x9") _,
            options(nostack),
        );
    }
}

/// Stores Z0-Z31, P0-P15 and FFR at the current vector length into `to` (P0 is restored
/// after FFR went through it).
fn store(to: &Snapshot) {
    // SAFETY: `to` holds a snapshot at the longest vector length; the registers are read.
    unsafe {
        core::arch::asm!(
            ".arch_extension sve",
            "mov x10, {to}",
            ".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
            "str z\\n, [x10]",
            "addvl x10, x10, #1",
            ".endr",
            ".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
            "str p\\n, [x10, #\\n, mul vl]",
            ".endr",
            "rdffr p0.b",
            "str p0, [x10, #16, mul vl]",
            "ldr p0, [x10]",
            to = in(reg) to.ptr(),
            out("x10") _,
            options(nostack),
        );
    }
}

/// Bytes of a snapshot at `vl`-byte vectors.
const fn snapshot_bytes(vl: usize) -> usize {
    32 * vl + 17 * vl / 8
}

/// Runs SVE code at the longest length the realm has (ZCR_EL1.LEN = 15, capped by the RMM at
/// the realm's sve_vl): fresh registers read zero, and a pattern survives a REC exit.
/// Values: [2] the vector length in bits, [3] 1 if the registers were zero, [4] the first
/// byte that changed (or u64::MAX).
pub fn max_length() {
    if !advertised() {
        return;
    }
    enable();
    let vl = set_length(15);
    store(&BEFORE);
    let fresh = BEFORE.is_zero(snapshot_bytes(vl));
    let changed = survives(vl, 0x40);
    let ok = fresh && changed.is_none() && (16..=MAX_VL).contains(&vl);
    let changed = changed.map_or(u64::MAX, |b| b as u64);
    step(
        Step::SveMaxVl,
        ok,
        [vl as u64 * 8, fresh.into(), changed, 0],
    );
}

/// The same at 256 bits, a length the realm chose below its own. Values: [2] the length in
/// bits, [3] the first byte that changed (or u64::MAX).
pub fn smaller_length() {
    if !advertised() {
        return;
    }
    let vl = set_length(1);
    let changed = survives(vl, 0x17);
    let ok = vl == 32 && changed.is_none();
    let changed = changed.map_or(u64::MAX, |b| b as u64);
    step(Step::SveSmallerVl, ok, [vl as u64 * 8, changed, 0, 0]);
    set_length(15);
}

/// Fills the registers, takes a REC exit, and compares: the first byte that differs.
fn survives(vl: usize, seed: u64) -> Option<usize> {
    fill(seed);
    store(&BEFORE);
    request(REQUEST_NOTHING);
    store(&AFTER);
    AFTER.differs(&BEFORE, snapshot_bytes(vl))
}

/// The SVE isolation mode (`realm_report::MODE_SVE_PEER`): this realm and another with a
/// different vector length run in turn on one CPU. Each fills its registers with its own
/// pattern (its seed is its vector length), exits, and on each later entry checks them at its
/// whole length. Reports [`Step::SveIsolation`]: [2] the length in bits, [3] 1 if the
/// registers were zero at first, [4] the first byte that changed over [`ISOLATION_ROUNDS`]
/// exits (or u64::MAX).
pub fn isolation() {
    enable();
    let vl = set_length(15);
    let seed = vl as u64 / 8;
    store(&BEFORE);
    let fresh = BEFORE.is_zero(snapshot_bytes(vl));
    fill(seed);
    store(&BEFORE);
    let mut changed = None;
    for _ in 0..ISOLATION_ROUNDS {
        request(REQUEST_NOTHING);
        store(&AFTER);
        changed = changed.or(AFTER.differs(&BEFORE, snapshot_bytes(vl)));
    }
    let ok = fresh && changed.is_none();
    let changed = changed.map_or(u64::MAX, |b| b as u64);
    step(
        Step::SveIsolation,
        ok,
        [vl as u64 * 8, fresh.into(), changed, 0],
    );
}
