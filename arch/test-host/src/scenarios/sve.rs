//! The Normal world's SVE state survives a REC entry in which the realm uses FP/SIMD (SMCCC
//! 1.3 and 1.4, which RMM spec B1.1 requires on SVE and SME platforms): the host fills Z0-Z31
//! at the longest vector length, P0-P15 and FFR with patterns, enters a realm running the
//! payload's perf mode that writes d0 first (so the RMM switches FP/SIMD to the realm and back),
//! and compares every byte read back. With SME, again in streaming mode (PSTATE.SM = 1; FFR is
//! not accessible there unless EL3 enables FEAT_SME_FA64, which the test firmware does not).

mod regs;

use crate::console::println;
use crate::params::{write_rec_enter, RecExit};
use crate::pool::Pool;
use crate::realm_payload::{setup, PAYLOAD};
use crate::report::{check, fail, rmi, Outcome};
use crate::rmi as call;
use core::cell::UnsafeCell;
use regs::{state_bytes, Controls};
use rmm_arch::realm_report::{IMM_PERF, MODE_PERF_FP};

/// Bytes of the state at the architectural maximum vector length (2048 bits).
const MAX_BYTES: usize = state_bytes(256);
/// REC entries per run: the first takes the realm's FP trap, the others return at once.
const ENTRIES: usize = 2;
/// RmiRecExitReason RMI_EXIT_HOST_CALL, and where RmiRecExit keeps `imm`.
const EXIT_HOST_CALL: u64 = 5;
const EXIT_IMM: usize = 0x800 + 0x600;

/// A register image, by address only (the assembly reads and writes it).
#[repr(C, align(256))]
struct Image(UnsafeCell<[u8; MAX_BYTES]>);
// SAFETY: only CPU 0 runs the scenarios, one at a time.
unsafe impl Sync for Image {}

static WRITTEN: Image = Image(UnsafeCell::new([0; MAX_BYTES]));
static READ: Image = Image(UnsafeCell::new([0; MAX_BYTES]));

/// FEAT_SVE and FEAT_SME.
#[derive(Clone, Copy)]
struct Features {
    sve: bool,
    sme: bool,
}

pub fn run(pool: &mut Pool) {
    let f = Features {
        sve: regs::sve_implemented(),
        sme: regs::sme_implemented(),
    };
    if !f.sve && !f.sme {
        println!("test-host: no SVE or SME: sve scenarios skipped");
    }
    if f.sve {
        check(
            format_args!("sve/ns_state_survives_realm_fp"),
            scenario(pool, f, false),
        );
    }
    if f.sme {
        check(
            format_args!("sve/ns_streaming_state_survives_realm_fp"),
            scenario(pool, f, true),
        );
    }
}

/// Builds a realm, runs it with the patterns in the registers, compares, tears it down.
fn scenario(pool: &mut Pool, f: Features, streaming: bool) -> Outcome {
    let mut realm = setup::empty(pool);
    let built = setup::build(&mut realm, pool, PAYLOAD, 1, MODE_PERF_FP);
    let controls = Controls::open(f.sve, f.sme);
    let outcome = built.and_then(|()| survives(&realm, f, streaming));
    controls.restore();
    let teardown = setup::teardown(&mut realm);
    outcome.and(teardown)
}

/// Loads the patterns, enters REC 0 [`ENTRIES`] times, reads the registers back, compares.
fn survives(realm: &setup::PayloadRealm, f: Features, streaming: bool) -> Outcome {
    let Some(run) = realm.runs[0] else {
        fail!("REC 0 has no RmiRecRun");
    };
    if streaming {
        regs::set_streaming(true);
    }
    let vl = regs::vector_bytes();
    if vl == 0 || state_bytes(vl) > MAX_BYTES {
        if streaming {
            regs::set_streaming(false);
        }
        fail!("vector length {} bytes", vl);
    }
    let ffr = !streaming;
    // SAFETY: CPU 0 alone uses the images (see `Image`); no other reference to them is alive.
    let (pattern, back) = unsafe { (&mut *WRITTEN.0.get(), &mut *READ.0.get()) };
    fill(&mut pattern[..state_bytes(vl)], vl);
    back.fill(0);
    // SAFETY: the image holds state_bytes(vl) bytes; SVE (and SME) are untrapped.
    unsafe { regs::load(pattern.as_ptr(), ffr) };
    let mut entered = Ok(());
    for _ in 0..ENTRIES {
        entered = enter(realm.recs[0], run);
        if entered.is_err() {
            break;
        }
    }
    let still_streaming = f.sme && regs::streaming();
    // SAFETY: as for `load`.
    unsafe { regs::store(back.as_mut_ptr(), ffr) };
    if streaming {
        regs::set_streaming(false);
    }
    entered?;
    println!(
        "test-host: {}SVE vector length {} bits",
        if streaming { "streaming " } else { "" },
        vl * 8
    );
    if still_streaming != streaming {
        fail!("PSTATE.SM {} after REC_ENTER", u8::from(still_streaming));
    }
    compare(&pattern[..], &back[..], vl, ffr)
}

/// One REC_ENTER, which must end in the perf loop's host call.
fn enter(rec: u64, run: crate::granule::Granule) -> Outcome {
    write_rec_enter(run, 0, &[]);
    rmi!("REC_ENTER", call::rec_enter(rec, run.pa()));
    let exit = RecExit::read(run);
    let imm = run.read_u64(EXIT_IMM) & 0xffff;
    if exit.exit_reason != EXIT_HOST_CALL || imm != u64::from(IMM_PERF) {
        fail!(
            "exit reason {} imm {} (ESR {:#x}), expected the perf host call",
            exit.exit_reason,
            imm,
            exit.esr
        );
    }
    Ok(())
}

/// Z and P bytes that differ per register and per byte and are never zero; FFR must be a
/// monotonic predicate (WRFFR), so all its bits are set except the top three.
fn fill(image: &mut [u8], vl: usize) {
    let ffr_at = 32 * vl + 16 * (vl / 8);
    for (i, byte) in image[..ffr_at].iter_mut().enumerate() {
        *byte = ((i as u32).wrapping_mul(0x9e37_79b1) >> 24) as u8 | 1;
    }
    let ffr = &mut image[ffr_at..];
    ffr.fill(0xff);
    if let Some(top) = ffr.last_mut() {
        *top = 0x1f;
    }
}

/// The first difference, named by register and byte, and how many bytes differ.
fn compare(written: &[u8], read: &[u8], vl: usize, ffr: bool) -> Outcome {
    let end = state_bytes(vl) - if ffr { 0 } else { vl / 8 };
    let differ = |i: &usize| written[*i] != read[*i];
    let Some(first) = (0..end).find(differ) else {
        return Ok(());
    };
    let count = (first..end).filter(differ).count();
    let (pl, z_end) = (vl / 8, 32 * vl);
    let (name, n, byte) = match first {
        i if i < z_end => ("Z", i / vl, i % vl),
        i if i < z_end + 16 * pl => ("P", (i - z_end) / pl, (i - z_end) % pl),
        i => ("FFR", 0, i - z_end - 16 * pl),
    };
    fail!(
        "{} bytes differ; first {}{} byte {}: wrote {:#x}, read {:#x}",
        count,
        name,
        n,
        byte,
        written[first],
        read[first]
    );
}
