//! The perf mode (fw_cfg `opt/rmm/test-host` = `perf`, from `scripts/perf`): the cost of a
//! REC enter/exit round trip, in instructions under `qemu -icount shift=0`, split between the
//! host, EL3, the RMM and the realm.
//!
//! For each variant the host builds a one-REC realm of the realm payload in a perf mode
//! (`rmm_arch::realm_report`, "Perf modes"), enters it [`WARM_UP`] times, then [`ROUND_TRIPS`]
//! (or fw_cfg `opt/rmm/perf-round-trips`, hexadecimal, for `scripts/profile-rec-enter`)
//! times between two counter reads, with EL3's counters (`rmm_arch::perf`) reset before and
//! read after. Per round trip:
//!
//! - `total`: the host's counter delta;
//! - `realm`: what the realm reports of its own time;
//! - `switch`: one EL3 exception entry and return, outside EL3's handler: a PERF_NULL round
//!   trip less its handler, measured the same way;
//! - `el3`: EL3's handlers plus two `switch`es (one from the Normal world and back, one to the
//!   Realm world and back);
//! - `rmm`: EL3's Realm-world window less `realm` less one `switch`;
//! - `host`: the rest (the host's loop and its SMC).
//!
//! Each is printed on one `PERF` line, read by `scripts/perf`.

use crate::console::println;
use crate::granule::Granule;
use crate::params::{
    pending_lr, write_rec_enter, RealmFeatures, ENTER_EMUL_MMIO, ENTER_LRS, EXIT_GPRS,
    EXIT_HOST_CALL, EXIT_REASON, EXIT_SYNC,
};
use crate::pool::Pool;
use crate::realm_payload::{setup, PAYLOAD};
use crate::report::{check, fail, rmi, Outcome};
use crate::{cpu, rmi as call};
use rmm_arch::perf::{PERF_NULL, PERF_READ, PERF_RESET};
use rmm_arch::realm_report::{
    MODE_PERF, MODE_PERF_DEBUG, MODE_PERF_FP, MODE_PERF_MMIO, MODE_PERF_SGI, MODE_PERF_SVE,
};
use rmm_arch::smc::smc;

/// Round trips before measuring: caches, TLBs and the lazy paths settle.
const WARM_UP: u64 = 64;
/// Round trips measured, unless fw_cfg says otherwise.
const ROUND_TRIPS: u64 = 2000;

/// RmiRecEnter.flags.
const ENTER_FLAGS: usize = 0x000;

/// One measured variant.
struct Variant {
    /// Its name on the PERF line.
    id: &'static str,
    /// The realm payload's mode.
    mode: u64,
    /// List registers the host fills with pending interrupts.
    lrs: usize,
    /// The realm has SVE at the longest vector length, the PMU with every counter (as
    /// RMI_FEATURES offers them; the variant fails where it does not).
    sve: bool,
    pmu: bool,
}

const VARIANTS: [Variant; 8] = [
    Variant {
        id: "host-call",
        mode: MODE_PERF,
        lrs: 0,
        sve: false,
        pmu: false,
    },
    Variant {
        id: "host-call-fp",
        mode: MODE_PERF_FP,
        lrs: 0,
        sve: false,
        pmu: false,
    },
    Variant {
        id: "host-call-sve",
        mode: MODE_PERF_SVE,
        lrs: 0,
        sve: true,
        pmu: false,
    },
    Variant {
        id: "host-call-pmu",
        mode: MODE_PERF,
        lrs: 0,
        sve: false,
        pmu: true,
    },
    Variant {
        id: "host-call-debug",
        mode: MODE_PERF_DEBUG,
        lrs: 0,
        sve: false,
        pmu: false,
    },
    Variant {
        id: "host-call-lrs",
        mode: MODE_PERF,
        lrs: 4,
        sve: false,
        pmu: false,
    },
    Variant {
        id: "mmio",
        mode: MODE_PERF_MMIO,
        lrs: 0,
        sve: false,
        pmu: false,
    },
    Variant {
        id: "sgi",
        mode: MODE_PERF_SGI,
        lrs: 0,
        sve: false,
        pmu: false,
    },
];

/// Counter ticks in a measurement of `n` round trips.
struct Ticks {
    n: u64,
    total: u64,
    realm: u64,
    el3: u64,
    realm_window: u64,
}

/// Runs every variant, prints the PERF lines and ends the run.
pub fn run(pool: &mut Pool) -> ! {
    let freq = rmm_arch::read_sysreg!("cntfrq_el0");
    let n = rmm_arch::fwcfg::read_hex(b"opt/rmm/perf-round-trips")
        .filter(|&n| n > 0)
        .unwrap_or(ROUND_TRIPS);
    println!("PERF cntfrq={} round-trips={}", freq, n);
    let [reset, ..] = sip(PERF_RESET);
    if reset != 0 {
        println!(
            "FAIL perf/el3_counters: EL3 answered PERF_RESET with {:#x}: it does not implement the perf SiP calls (rmm_arch::perf), which only the project's EL3 firmware (arch/qemu-el3) has",
            reset
        );
        crate::report::exit_now(false)
    }
    let switch = null_switch(n);
    let mut ok = true;
    for variant in &VARIANTS {
        let outcome = measure(pool, variant, switch, n);
        ok &= check(format_args!("perf/{}", variant.id), outcome);
    }
    println!("test-host: perf done");
    crate::report::exit_now(ok)
}

/// EL3's exception entry and return outside its handler, in ticks: a PERF_NULL round trip
/// less the handler EL3 counted.
fn null_switch(n: u64) -> u64 {
    sip(PERF_RESET);
    let start = cpu::ticks();
    for _ in 0..n {
        sip(PERF_NULL);
    }
    let total = cpu::ticks() - start;
    let [_, _, _, null, calls] = sip(PERF_READ);
    let switch = total.saturating_sub(null) / calls.max(1);
    println!(
        "PERF id=switch total={} handler={} switch={}",
        total / n,
        null / calls.max(1),
        switch
    );
    switch
}

/// Builds the variant's realm, measures it, prints its PERF line, tears it down.
fn measure(pool: &mut Pool, variant: &Variant, switch: u64, n: u64) -> Outcome {
    let mut realm = setup::empty(pool);
    let offered = RealmFeatures::offered(call::features(0).unwrap_or(0));
    realm.features = RealmFeatures {
        sve_vl: offered.sve_vl.filter(|_| variant.sve),
        pmu_num_ctrs: offered.pmu_num_ctrs.filter(|_| variant.pmu),
    };
    if (variant.sve && realm.features.sve_vl.is_none())
        || (variant.pmu && realm.features.pmu_num_ctrs.is_none())
    {
        fail!(
            "RMI_FEATURES offers no {}",
            if variant.sve { "SVE" } else { "PMU" }
        );
    }
    let result = setup::build(&mut realm, pool, PAYLOAD, 1, variant.mode).and_then(|()| {
        let Some(run) = realm.runs[0] else {
            fail!("the realm has no REC 0");
        };
        let ticks = round_trips(realm.recs[0], run, variant, n)?;
        print_line(variant.id, &ticks, switch);
        Ok(())
    });
    let torn_down = setup::teardown(&mut realm);
    result.and(torn_down)
}

/// Enters the REC [`WARM_UP`] + `n` times and counts the last `n`.
fn round_trips(
    rec: u64,
    run: Granule,
    variant: &Variant,
    n: u64,
) -> Result<Ticks, crate::report::Why> {
    write_rec_enter(run, 0, &[]);
    if variant.lrs > 0 {
        for i in 0..variant.lrs {
            run.write_u64(ENTER_LRS + 8 * i, pending_lr(32 + i as u64));
        }
    }
    let expected = match variant.mode {
        MODE_PERF_MMIO | MODE_PERF_SGI => EXIT_SYNC,
        _ => EXIT_HOST_CALL,
    };
    let enter = |n: u64| -> Result<u64, crate::report::Why> {
        let mut realm = 0u64;
        for _ in 0..n {
            rmi!("REC_ENTER", call::rec_enter(rec, run.pa()));
            let reason = run.read_u64(EXIT_REASON) & 0xff;
            if reason != expected {
                fail!("exit reason {} instead of {}", reason, expected);
            }
            realm = realm.wrapping_add(run.read_u64(EXIT_GPRS));
        }
        Ok(realm)
    };
    enter(1)?;
    if variant.mode == MODE_PERF_MMIO {
        // Every later entry completes the store the last exit reported.
        run.write_u64(ENTER_FLAGS, ENTER_EMUL_MMIO);
    }
    enter(WARM_UP)?;
    sip(PERF_RESET);
    let start = cpu::ticks();
    let realm = enter(n)?;
    let total = cpu::ticks() - start;
    let [_, el3, realm_window, _, _] = sip(PERF_READ);
    Ok(Ticks {
        n,
        total,
        realm,
        el3,
        realm_window,
    })
}

/// Prints the variant's PERF line: ticks per round trip.
fn print_line(id: &str, t: &Ticks, switch: u64) {
    let per = |x: u64| x / t.n;
    let (total, realm) = (per(t.total), per(t.realm));
    let el3 = per(t.el3) + 2 * switch;
    let rmm = per(t.realm_window).saturating_sub(realm + switch);
    let host = total.saturating_sub(el3 + rmm + realm);
    println!(
        "PERF id={} total={} host={} el3={} rmm={} realm={}",
        id, total, host, el3, rmm, realm
    );
}

/// A perf SiP call to EL3; x0..x4 as it returns them.
fn sip(fid: u64) -> [u64; 5] {
    let r = smc([fid, 0, 0, 0, 0, 0, 0, 0]);
    [r[0], r[1], r[2], r[3], r[4]]
}
