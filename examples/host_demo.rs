//! The RMM on the simulated host machine: RMI_VERSION, RMI_FEATURES, and delegate/undelegate on
//! every CPU at once, then what the host sees of a delegated granule.
//!
//! `cargo run --example host_demo -- [--cpus N]`

use rmm::granule::GranuleState;
use rmm::host::{Config, Machine, Pas};
use std::time::Instant;

const RMI_VERSION: u64 = 0xC400_0150;
const RMI_GRANULE_DELEGATE: u64 = 0xC400_0151;
const RMI_GRANULE_UNDELEGATE: u64 = 0xC400_0152;
const RMI_FEATURES: u64 = 0xC400_0165;
const DRAM: (u64, u64) = (0x8000_0000, 64 << 20);
const GRANULE: u64 = 4096;
const ROUNDS: usize = 20;

fn cpus_from_args() -> usize {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => 4,
        [flag, n] if flag == "--cpus" => n.parse().ok().filter(|&n| n > 0).unwrap_or_else(|| {
            eprintln!("--cpus needs a positive number");
            std::process::exit(2)
        }),
        _ => {
            eprintln!("usage: host_demo [--cpus N]");
            std::process::exit(2)
        }
    }
}

fn status(x0: u64) -> &'static str {
    match x0 & 0xff {
        _ if x0 == u64::MAX => "SMCCC_NOT_SUPPORTED",
        0 => "RMI_SUCCESS",
        1 => "RMI_ERROR_INPUT",
        2 => "RMI_ERROR_REALM",
        3 => "RMI_ERROR_REC",
        _ => "RMI_ERROR_RTT",
    }
}

fn version(v: u64) -> String {
    format!("{}.{}", v >> 16, v & 0xffff)
}

fn main() {
    let cpus = cpus_from_args();
    let m = Machine::new(Config {
        cpus,
        dram: vec![DRAM],
    });
    let granules = DRAM.1 / GRANULE;
    println!(
        "RMM on the host platform: {cpus} CPUs, DRAM {:#x}+{} MiB ({granules} granules)",
        DRAM.0,
        DRAM.1 >> 20
    );

    let r = m.smc(0, [RMI_VERSION, 0x1_0000, 0, 0, 0, 0, 0, 0]);
    println!(
        "RMI_VERSION(1.0)   -> {} lower {} higher {}",
        status(r[0]),
        version(r[1]),
        version(r[2])
    );
    let r = m.smc(0, [RMI_FEATURES, 0, 0, 0, 0, 0, 0, 0]);
    let f = r[1];
    println!(
        "RMI_FEATURES(0)    -> {} {f:#x}: S2SZ {}, LPA2 {}, SHA-256 {}, SHA-512 {}, breakpoints {}, watchpoints {}, GIC LRs {}, max RECs 2^{}-1",
        status(r[0]),
        f & 0xff,
        (f >> 8) & 1,
        (f >> 32) & 1,
        (f >> 33) & 1,
        ((f >> 14) & 0x3f) + 1,
        ((f >> 20) & 0x3f) + 1,
        ((f >> 34) & 0xf) + 1,
        (f >> 38) & 0xf,
    );

    // Every CPU delegates and undelegates its own slice of DRAM, all at once.
    let per_cpu = granules / cpus as u64;
    let start = Instant::now();
    let failures: u64 = std::thread::scope(|s| {
        let m = &m;
        let threads: Vec<_> = (0..cpus)
            .map(|cpu| {
                s.spawn(move || {
                    let first = DRAM.0 + cpu as u64 * per_cpu * GRANULE;
                    let mut failures = 0;
                    for _ in 0..ROUNDS {
                        for fid in [RMI_GRANULE_DELEGATE, RMI_GRANULE_UNDELEGATE] {
                            for i in 0..per_cpu {
                                let pa = first + i * GRANULE;
                                failures +=
                                    u64::from(m.smc(cpu, [fid, pa, 0, 0, 0, 0, 0, 0])[0] != 0);
                            }
                        }
                    }
                    failures
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).sum()
    });
    let calls = 2 * ROUNDS as u64 * per_cpu * cpus as u64;
    let elapsed = start.elapsed();
    let consistent = (0..granules).all(|i| {
        let pa = DRAM.0 + i * GRANULE;
        m.granule_state(pa) == Some(GranuleState::Undelegated) && m.pas(pa) == Some(Pas::NonSecure)
    });
    println!(
        "DELEGATE/UNDELEGATE on {cpus} CPUs at once: {calls} calls, {failures} failed, {:.0} calls/s; every granule UNDELEGATED and NS again: {}",
        calls as f64 / elapsed.as_secs_f64(),
        if consistent { "yes" } else { "NO" }
    );

    let pa = DRAM.0;
    m.ns_write(pa, b"host secret").unwrap();
    let r = m.smc(0, [RMI_GRANULE_DELEGATE, pa, 0, 0, 0, 0, 0, 0]);
    let mut buf = [0u8; 11];
    let host_view = m.ns_read(pa, &mut buf);
    m.debug_read(pa, &mut buf).unwrap();
    println!(
        "Delegate {pa:#x} holding host data -> {}; host read -> {:?}; contents now {}",
        status(r[0]),
        host_view.map_err(|f| f.kind),
        if buf.iter().all(|&b| b == 0) {
            "zero"
        } else {
            "NOT ZERO"
        }
    );
    let r = m.smc(0, [RMI_GRANULE_UNDELEGATE, pa, 0, 0, 0, 0, 0, 0]);
    let host_view = m.ns_read(pa, &mut buf).map(|()| {
        if buf.iter().all(|&b| b == 0) {
            "zeros"
        } else {
            "HOST DATA"
        }
    });
    println!(
        "Undelegate {pa:#x} -> {}; host read -> {:?}",
        status(r[0]),
        host_view
    );
    if failures != 0 || !consistent {
        std::process::exit(1);
    }
}
