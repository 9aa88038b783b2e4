//! RMI latency and scaling on the host platform.
//!
//! Throughput of command mixes (DATA_CREATE or DATA_CREATE_UNKNOWN with DATA_DESTROY,
//! RTT_CREATE with RTT_DESTROY, REC_ENTER of a realm that exits at once, GRANULE_DELEGATE with
//! GRANULE_UNDELEGATE) on 1..N threads, one per CPU, on disjoint realms (one per thread) and on
//! one shared realm (disjoint IPA ranges), as ratios to one thread; beside each, a coarse
//! baseline that makes the same calls holding one lock per realm.
//!
//! `cargo run --release -p rmm-perf -- --out DIR [--seconds S] [--threads N] ...` (`--help`;
//! `scripts/perf` runs it).
//!
//! Writes `DIR/scaling.md` (also printed) and `DIR/scaling.svg`. Ratios only mean something up
//! to the number of host cores, and on a host with no other load.
//!
//! `rmm-perf rec-enter --out DIR LABEL=LOG ..` instead turns the QEMU REC enter/exit logs of
//! `scripts/run --perf` into `DIR/rec-enter.md` and `DIR/rec-enter.svg` ([`rec_enter`]).

mod measure;
mod rec_enter;
mod report;
mod rmi;
mod workload;

use measure::{Latency, Point};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::exit;
use std::time::{Duration, Instant};
use workload::{Design, Mix, Placement};

const USAGE: &str = "usage: rmm-perf --out DIR [--seconds S] [--threads N] [--rounds R] \
                     [--patience S] [--mix M[,M..]]

  --out DIR      folder for scaling.md and scaling.svg (created if missing)
  --seconds S    measuring time per point, in seconds (default 1)
  --threads N    measure 1..=N threads (default: the host's available parallelism)
  --rounds R     measure every point R times, keep the fastest quiet one (default 1)
  --patience S   on a busy host, wait up to S seconds per point for it to go idle, and
                 measure again while the threads waited for a CPU (default 0: don't)
  --mix M[,M..]  only these mixes (default all): delegate, rtt, data, data-unknown, rec-enter";

/// The most time the latency pass spends on one mix.
const LATENCY_TIME: Duration = Duration::from_millis(500);

struct Args {
    out: PathBuf,
    seconds: f64,
    threads: usize,
    mixes: Vec<Mix>,
    rounds: usize,
    patience: Duration,
}

fn usage_error(message: &str) -> ! {
    eprintln!("rmm-perf: {message}\n\n{USAGE}");
    exit(2);
}

fn parse_args(cores: usize) -> Args {
    let mut out = None;
    let mut seconds = 1.0;
    let mut threads = cores;
    let mut mixes = Mix::ALL.to_vec();
    let mut rounds = 1;
    let mut patience = Duration::ZERO;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            println!("{USAGE}");
            exit(0);
        }
        let Some(value) = args.next() else {
            usage_error(&format!("{arg} needs a value"));
        };
        match arg.as_str() {
            "--out" => out = Some(PathBuf::from(value)),
            "--seconds" => match value.parse::<f64>() {
                Ok(s) if s.is_finite() && s > 0.0 => seconds = s,
                _ => usage_error("--seconds needs a positive number"),
            },
            "--threads" => match value.parse::<usize>() {
                Ok(n) if (1..=workload::MAX_THREADS).contains(&n) => threads = n,
                _ => usage_error(&format!(
                    "--threads needs a whole number from 1 to {}",
                    workload::MAX_THREADS
                )),
            },
            "--rounds" => match value.parse::<usize>() {
                Ok(r) if r >= 1 => rounds = r,
                _ => usage_error("--rounds needs a whole number from 1"),
            },
            "--patience" => match value.parse::<f64>() {
                Ok(s) if s.is_finite() && s >= 0.0 => patience = Duration::from_secs_f64(s),
                _ => usage_error("--patience needs a number of seconds"),
            },
            "--mix" => {
                mixes = value
                    .split(',')
                    .map(|key| {
                        Mix::ALL
                            .into_iter()
                            .find(|m| m.key() == key)
                            .unwrap_or_else(|| usage_error(&format!("unknown mix {key}")))
                    })
                    .collect()
            }
            _ => usage_error(&format!("unknown argument {arg}")),
        }
    }
    let Some(out) = out else {
        usage_error("--out DIR is required");
    };
    Args {
        out,
        seconds,
        threads,
        mixes,
        rounds,
        patience,
    }
}

/// CPU wait below which a point is taken as measured on a quiet host.
const QUIET: f64 = 0.03;

/// Measures a point; with `patience`, waits for the host to be idle first and measures again
/// while the threads had to wait for a CPU, for up to `patience` in all, keeping the
/// measurement with the least CPU wait.
fn measure_patiently(
    mix: Mix,
    placement: Placement,
    design: Design,
    threads: usize,
    duration: Duration,
    patience: Duration,
) -> Point {
    let deadline = Instant::now() + patience;
    let mut best: Option<Point> = None;
    loop {
        if !patience.is_zero() {
            measure::wait_for_idle_host(deadline);
        }
        let point = measure::measure(mix, placement, design, threads, duration);
        if best.is_none_or(|b| point.cpu_wait < b.cpu_wait) {
            best = Some(point);
        }
        if point.cpu_wait <= QUIET || Instant::now() >= deadline {
            return best.unwrap_or(point);
        }
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("rec-enter") {
        if let Err(e) = rec_enter::main(&argv[1..]) {
            eprintln!("rmm-perf rec-enter: {e}");
            exit(2);
        }
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let args = parse_args(cores);
    let duration = Duration::from_secs_f64(args.seconds);
    // Fail now rather than after the measurements.
    std::fs::create_dir_all(&args.out)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", args.out.display()));
    let per_round = args.mixes.len() * 4 * args.threads;
    eprintln!(
        "rmm-perf: {} round(s) of {per_round} points of {} s on {cores} host cores (about {:.0} s)",
        args.rounds,
        args.seconds,
        (args.rounds * per_round) as f64 * args.seconds
    );

    // Every round measures every point; rounds run one after another, so that a spell of
    // other load on the host lands in one round's measurement of a point, not all of them.
    type Key = (Mix, Placement, Design);
    let mut rounds: HashMap<Key, Vec<Vec<Point>>> = HashMap::new();
    for round in 1..=args.rounds {
        for &mix in &args.mixes {
            for threads in 1..=args.threads {
                // Designs and placements alternate at each thread count, so that drift in
                // the host's load spreads over all four curves alike.
                for placement in Placement::ALL {
                    for design in Design::ALL {
                        let point = measure_patiently(
                            mix,
                            placement,
                            design,
                            threads,
                            duration,
                            args.patience,
                        );
                        eprintln!(
                            "  {round}: {:<38} {:<16} {:<23} {threads:>3} threads: {:>10.0} \
                             ops/s, slices {:.2}..{:.2}, CPU wait {:>3.0}%, corrected {:>10.0}",
                            mix.name(),
                            placement.name(),
                            design.name(),
                            point.rate,
                            point.spread.0,
                            point.spread.1,
                            point.cpu_wait * 100.0,
                            point.corrected
                        );
                        let curve = rounds.entry((mix, placement, design)).or_default();
                        if curve.len() < threads {
                            curve.resize_with(threads, Vec::new);
                        }
                        curve[threads - 1].push(point);
                    }
                }
            }
        }
    }
    let points: HashMap<Key, Vec<Point>> = rounds
        .into_iter()
        .map(|(key, curve)| (key, curve.iter().map(|r| measure::best_round(r)).collect()))
        .collect();

    let latency: Vec<(Mix, Vec<Latency>)> = args
        .mixes
        .iter()
        .map(|&mix| (mix, measure::latency(mix, duration.min(LATENCY_TIME))))
        .collect();
    let results = report::Results {
        mixes: args.mixes.clone(),
        cores,
        threads: args.threads,
        seconds: args.seconds,
        rounds: args.rounds,
        patience: args.patience.as_secs_f64(),
        points,
        latency,
        timer_overhead_ns: measure::timer_overhead_ns(),
    };
    let markdown = report::markdown(&results);
    let svg = report::svg(&results);
    let write = |name: &str, text: &str| {
        let path = args.out.join(name);
        std::fs::write(&path, text)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    };
    let md_path = write("scaling.md", &markdown);
    let svg_path = write("scaling.svg", &svg);
    print!("{markdown}");
    eprintln!(
        "rmm-perf: wrote {} and {}",
        md_path.display(),
        svg_path.display()
    );
}
