//! RMI throughput on the host platform: RMI_GRANULE_DELEGATE + RMI_GRANULE_UNDELEGATE pairs on
//! 1..N threads (one per CPU), each on its own granules, as a ratio to one thread.
//!
//! `cargo run --release -p rmm-perf -- [--threads N] [--seconds S]`
//!
//! Prints a markdown table. Ratios only mean something up to the number of host cores.

use rmm::host::{Config, Machine};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const DELEGATE: u64 = 0xC400_0151;
const UNDELEGATE: u64 = 0xC400_0152;
const GRANULE: u64 = 4096;
const BASE: u64 = 0x8000_0000;
/// Granules each thread cycles through.
const PER_THREAD: u64 = 256;

fn arg(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} needs a number"))
        })
        .unwrap_or(default)
}

/// Delegate/undelegate pairs per second with `threads` threads for `duration`.
fn pairs_per_second(threads: usize, duration: Duration) -> f64 {
    let m = Machine::new(Config {
        cpus: threads,
        dram: vec![(BASE, threads as u64 * PER_THREAD * GRANULE)],
    });
    let stop = AtomicBool::new(false);
    let pairs: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|cpu| {
                let (m, stop) = (&m, &stop);
                s.spawn(move || {
                    let first = BASE + cpu as u64 * PER_THREAD * GRANULE;
                    let mut pairs = 0u64;
                    // Relaxed: a stop flag; nothing is published through it.
                    while !stop.load(Ordering::Relaxed) {
                        for i in 0..PER_THREAD {
                            let pa = first + i * GRANULE;
                            for fid in [DELEGATE, UNDELEGATE] {
                                let x0 = m.smc(cpu, [fid, pa, 0, 0, 0, 0, 0, 0])[0];
                                assert_eq!(x0, 0, "call {fid:#x} on {pa:#x} failed");
                            }
                        }
                        pairs += PER_THREAD;
                    }
                    pairs
                })
            })
            .collect();
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    pairs as f64 / duration.as_secs_f64()
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let max_threads = arg("--threads", cores as f64) as usize;
    let duration = Duration::from_secs_f64(arg("--seconds", 1.0));
    println!("RMI_GRANULE_DELEGATE + UNDELEGATE pairs, disjoint granules, {cores} host cores\n");
    println!("| threads | pairs/s | ratio to 1 thread | ideal |");
    println!("|--------:|--------:|------------------:|------:|");
    let mut one = 0.0;
    for threads in 1..=max_threads {
        let rate = pairs_per_second(threads, duration);
        if threads == 1 {
            one = rate;
        }
        println!("| {threads} | {rate:.0} | {:.2} | {threads} |", rate / one);
    }
}
