//! Timing: a mix run by 1..N threads, one per CPU, for a fixed time, sampled in slices; the
//! latency of single calls; and what the host's scheduler says about other load. Every call
//! must return RMI_SUCCESS: a broken run panics rather than report numbers.

use crate::rmi::check;
use crate::workload::{setup, Design, Mix, Placement, Setup};
use rmm::host::Machine;
use rmm::rmi::Command;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Most calls the latency pass times for one mix.
const MAX_TIMED_CALLS: usize = 1 << 20;

/// One command's latency at one thread, timer overhead included.
#[derive(Clone, Debug)]
pub struct Latency {
    pub command: &'static str,
    pub calls: usize,
    pub mean_ns: f64,
    pub median_ns: f64,
    pub p99_ns: f64,
}

/// The smallest gap between two clock reads, in nanoseconds: what timing a call adds to it.
pub fn timer_overhead_ns() -> f64 {
    (0..10_000)
        .map(|_| {
            let t = Instant::now();
            t.elapsed().as_nanos()
        })
        .min()
        .unwrap_or(0) as f64
}

/// The latency of each command of `mix` on one thread (fine-grained, one realm), each call
/// timed on its own, for `duration` or [`MAX_TIMED_CALLS`] calls.
pub fn latency(mix: Mix, duration: Duration) -> Vec<Latency> {
    let Setup { machine, cycles } = setup(mix, Placement::Disjoint, 1);
    let cycle = &cycles[0];
    let mut samples: Vec<(u64, Vec<u64>)> = Vec::new();
    for call in cycle {
        if !samples.iter().any(|(fid, _)| *fid == call[0]) {
            samples.push((call[0], Vec::new()));
        }
    }
    let slot: Vec<usize> = cycle
        .iter()
        .map(|call| {
            samples
                .iter()
                .position(|(fid, _)| *fid == call[0])
                .unwrap_or(0)
        })
        .collect();
    let deadline = Instant::now() + duration;
    let mut timed = 0;
    while Instant::now() < deadline && timed < MAX_TIMED_CALLS {
        for (call, &slot) in cycle.iter().zip(&slot) {
            let t = Instant::now();
            let out = machine.smc(0, *call);
            let ns = t.elapsed().as_nanos() as u64;
            check(call, &out);
            samples[slot].1.push(ns);
        }
        timed += cycle.len();
    }
    samples
        .into_iter()
        .map(|(fid, mut ns)| {
            ns.sort_unstable();
            let at = |q: f64| ns[((ns.len() - 1) as f64 * q).round() as usize] as f64;
            Latency {
                command: Command::from_fid(fid as u32).map_or("?", Command::name),
                calls: ns.len(),
                mean_ns: ns.iter().sum::<u64>() as f64 / ns.len() as f64,
                median_ns: at(0.5),
                p99_ns: at(0.99),
            }
        })
        .collect()
}

/// The measuring time of a point is cut into slices of about this length; a point's rates
/// are the median over its slices, so that a burst of other load on the host moves them less.
const SLICE: Duration = Duration::from_millis(100);

/// One measured point.
#[derive(Clone, Copy, Debug)]
pub struct Point {
    /// Ops per second of wall-clock time, all threads together (median over slices).
    pub rate: f64,
    /// The sum over threads of each thread's ops per second of the time it was not waiting
    /// for a CPU (median over slices): a hint at what the threads would have done with a core
    /// each. Equal to `rate` on an idle host; on a busy one it errs high where threads contend
    /// (time-sliced threads overlap less) and low where a preempted lock holder stalls others.
    pub corrected: f64,
    /// The share of the threads' time they spent runnable but waiting for a CPU.
    pub cpu_wait: f64,
    /// (slowest slice, fastest slice) as ratios to `rate`: how noisy the point was.
    pub spread: (f64, f64),
}

/// The host's idle and total CPU time so far, in clock ticks (Linux /proc/stat).
fn host_cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map_while(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let idle = fields.get(3)? + fields.get(4).unwrap_or(&0);
    Some((idle, fields.iter().take(8).sum()))
}

/// Waits until the host has been at least 90% idle over a quarter of a second, or `deadline`
/// passes. Returns whether it was idle; true at once where the kernel does not say.
pub fn wait_for_idle_host(deadline: Instant) -> bool {
    loop {
        let Some((idle0, total0)) = host_cpu_ticks() else {
            return true;
        };
        std::thread::sleep(Duration::from_millis(250));
        let Some((idle1, total1)) = host_cpu_ticks() else {
            return true;
        };
        let (idle, total) = (idle1 - idle0, total1 - total0);
        if total > 0 && idle * 10 >= total * 9 {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
    }
}

/// One point from several rounds of it: among the rounds whose CPU wait is within 2 points
/// of the least, the fastest. Other load on the host only ever slows a round down, and so
/// does interference that CPU wait does not show (caches, memory, the hypervisor).
pub fn best_round(rounds: &[Point]) -> Point {
    let least = rounds.iter().map(|p| p.cpu_wait).fold(f64::MAX, f64::min);
    rounds
        .iter()
        .copied()
        .filter(|p| p.cpu_wait <= least + 0.02)
        .max_by(|a, b| a.rate.total_cmp(&b.rate))
        .expect("a point has at least one round")
}

/// A thread's op count, in a cache line of its own.
#[repr(align(128))]
#[derive(Default)]
struct Counter(AtomicU64);

/// Where the kernel reports the calling thread's scheduling statistics (Linux).
fn schedstat_path() -> Option<PathBuf> {
    // "/proc/thread-self" links to "<pid>/task/<tid>".
    let task = std::fs::read_link("/proc/thread-self").ok()?;
    Some(Path::new("/proc").join(task).join("schedstat"))
}

/// A thread's time spent runnable, waiting for a CPU, in nanoseconds: the second field of
/// schedstat (on-CPU time, run-queue wait, timeslices). Zero where the kernel does not say.
fn runqueue_wait(schedstat: Option<&PathBuf>) -> u64 {
    schedstat
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|s| s.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// Every thread's ops and run-queue wait at one instant.
struct Snapshot {
    at: Instant,
    ops: Vec<u64>,
    waited: Vec<u64>,
}

fn snapshot(counters: &[Counter], schedstats: &[OnceLock<Option<PathBuf>>]) -> Snapshot {
    Snapshot {
        at: Instant::now(),
        // Relaxed: a statistic; a count a little stale only moves ops between slices.
        ops: counters
            .iter()
            .map(|c| c.0.load(Ordering::Relaxed))
            .collect(),
        waited: schedstats
            .iter()
            .map(|p| runqueue_wait(p.get().and_then(Option::as_ref)))
            .collect(),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    match values.len() % 2 {
        1 => values[mid],
        _ => (values[mid - 1] + values[mid]) / 2.0,
    }
}

/// `mix` run by `threads` threads for `duration`.
pub fn measure(
    mix: Mix,
    placement: Placement,
    design: Design,
    threads: usize,
    duration: Duration,
) -> Point {
    let Setup { machine, cycles } = setup(mix, placement, threads);
    let locks: Vec<Mutex<()>> = match placement {
        Placement::Shared => vec![Mutex::new(())],
        Placement::Disjoint => (0..threads).map(|_| Mutex::new(())).collect(),
    };
    let counters: Vec<Counter> = (0..threads).map(|_| Counter::default()).collect();
    let schedstats: Vec<OnceLock<Option<PathBuf>>> =
        (0..threads).map(|_| OnceLock::new()).collect();
    let start = Barrier::new(threads + 1);
    let stop = AtomicBool::new(false);
    let per_op = mix.calls_per_op();
    let slices = (duration.as_secs_f64() / SLICE.as_secs_f64())
        .round()
        .max(1.0) as u32;
    let snapshots = std::thread::scope(|s| {
        let workers: Vec<_> = cycles
            .iter()
            .enumerate()
            .map(|(cpu, cycle)| {
                let lock = match design {
                    Design::Fine => None,
                    Design::Coarse => Some(&locks[cpu % locks.len()]),
                };
                let (m, start, stop) = (&machine, &start, &stop);
                let (counter, schedstat) = (&counters[cpu], &schedstats[cpu]);
                s.spawn(move || {
                    let _ = schedstat.set(schedstat_path());
                    start.wait();
                    run(m, cpu, cycle, per_op, lock, counter, stop);
                })
            })
            .collect();
        start.wait();
        let mut snapshots = vec![snapshot(&counters, &schedstats)];
        for _ in 0..slices {
            std::thread::sleep(duration / slices);
            snapshots.push(snapshot(&counters, &schedstats));
        }
        // Relaxed: a stop flag; the threads' effects are joined below.
        stop.store(true, Ordering::Relaxed);
        for worker in workers {
            worker
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
        }
        snapshots
    });

    let (mut rates, mut corrected) = (Vec::new(), Vec::new());
    for pair in snapshots.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let secs = (b.at - a.at).as_secs_f64();
        let ops = |i: usize| (b.ops[i] - a.ops[i]) as f64;
        let waited = |i: usize| b.waited[i].saturating_sub(a.waited[i]) as f64 * 1e-9;
        rates.push((0..threads).map(ops).sum::<f64>() / secs);
        corrected.push(
            (0..threads)
                .map(|i| ops(i) / (secs - waited(i)).max(secs * 0.01))
                .sum::<f64>(),
        );
    }
    let (first, last) = (&snapshots[0], &snapshots[snapshots.len() - 1]);
    let wall = (last.at - first.at).as_secs_f64() * threads as f64;
    let waited: u64 = (0..threads)
        .map(|i| last.waited[i].saturating_sub(first.waited[i]))
        .sum();
    let rate = median(rates.clone());
    let (slowest, fastest) = rates
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    Point {
        rate,
        corrected: median(corrected),
        cpu_wait: (waited as f64 * 1e-9 / wall).min(1.0),
        spread: (slowest / rate, fastest / rate),
    }
}

/// The timed loop of one thread: whole ops from `cycle`, over and over, until `stop`,
/// publishing its count of ops in `counter` after each.
fn run(
    m: &Machine,
    cpu: usize,
    cycle: &[[u64; 8]],
    per_op: usize,
    lock: Option<&Mutex<()>>,
    counter: &Counter,
    stop: &AtomicBool,
) {
    let mut ops = 0;
    loop {
        for op in cycle.chunks_exact(per_op) {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            for call in op {
                let out = match lock {
                    None => m.smc(cpu, *call),
                    Some(lock) => {
                        let _realm = lock.lock().expect("another thread failed");
                        m.smc(cpu, *call)
                    }
                };
                check(call, &out);
            }
            ops += 1;
            // Relaxed: a statistic, sampled by the measuring thread.
            counter.0.store(ops, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(rate: f64, cpu_wait: f64) -> Point {
        Point {
            rate,
            corrected: rate,
            cpu_wait,
            spread: (1.0, 1.0),
        }
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn best_round_is_the_fastest_quiet_one() {
        let rounds = [
            point(10.0, 0.0),
            point(50.0, 0.5),
            point(30.0, 0.01),
            point(20.0, 0.0),
        ];
        assert_eq!(best_round(&rounds).rate, 30.0);
        assert_eq!(best_round(&rounds[1..2]).rate, 50.0);
    }

    #[test]
    fn a_one_thread_mix_runs_and_counts() {
        let p = measure(
            Mix::Delegate,
            Placement::Shared,
            Design::Coarse,
            1,
            Duration::from_millis(50),
        );
        assert!(p.rate > 0.0 && p.corrected > 0.0);
        assert!((0.0..=1.0).contains(&p.cpu_wait));
    }
}
