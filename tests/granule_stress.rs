//! Four CPUs delegate and undelegate overlapping granules at random while the host writes to
//! them; afterwards every granule's state agrees with the GPT model, every delegated granule
//! is zero, and successful delegates and undelegates balance.
//!
//! Replay a failure with the seed it prints: `RMM_STRESS_SEED=<seed> cargo test --test
//! granule_stress`.

mod common;
use common::*;
use rmm::granule::GranuleState;
use rmm::host::Pas;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

const THREADS: usize = 4;
const CALLS_PER_THREAD: usize = 30_000;
/// Few granules, so that the threads collide often.
const GRANULES: u64 = 24;

/// SplitMix64: small, seedable, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[derive(Default, Debug)]
struct Counts {
    delegated: u64,
    undelegated: u64,
    failed: u64,
    host_writes: u64,
}

#[test]
fn concurrent_delegate_undelegate_keeps_the_gpt_in_step() {
    let seed = std::env::var("RMM_STRESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("RMM_STRESS_SEED={seed}");
    let m = machine();
    let pa_of = |i: u64| BANK0.0 + i * GRANULE;
    let stop_host = AtomicBool::new(false);

    let counts: Vec<Counts> = thread::scope(|s| {
        // The Normal world scribbling over the granules all along.
        let host = s.spawn(|| {
            let mut rng = Rng(seed ^ 0x5555);
            let mut writes = 0;
            while !stop_host.load(Ordering::Relaxed) {
                let pa = pa_of(rng.next() % GRANULES) + (rng.next() % GRANULE) / 8 * 8;
                if m.ns_write(pa, &rng.next().to_le_bytes()).is_ok() {
                    writes += 1;
                }
            }
            writes
        });
        let cpus: Vec<_> = (0..THREADS)
            .map(|cpu| {
                let m = &m;
                s.spawn(move || {
                    let mut rng = Rng(seed.wrapping_add(cpu as u64));
                    let mut c = Counts::default();
                    for _ in 0..CALLS_PER_THREAD {
                        let pa = pa_of(rng.next() % GRANULES);
                        let delegate = rng.next().is_multiple_of(2);
                        let fid = if delegate {
                            RMI_GRANULE_DELEGATE
                        } else {
                            RMI_GRANULE_UNDELEGATE
                        };
                        let out = m.smc(cpu, [fid, pa, 0, 0, 0, 0, 0, 0]);
                        match (out[0], delegate) {
                            (SUCCESS, true) => c.delegated += 1,
                            (SUCCESS, false) => c.undelegated += 1,
                            (ERROR_INPUT, _) => c.failed += 1,
                            (other, _) => panic!("seed {seed}: unexpected result {other:#x}"),
                        }
                    }
                    c
                })
            })
            .collect();
        let counts: Vec<Counts> = cpus.into_iter().map(|t| t.join().unwrap()).collect();
        stop_host.store(true, Ordering::Relaxed);
        let host_writes = host.join().unwrap();
        let mut counts = counts;
        counts[0].host_writes = host_writes;
        counts
    });

    let delegated: u64 = counts.iter().map(|c| c.delegated).sum();
    let undelegated: u64 = counts.iter().map(|c| c.undelegated).sum();
    let failed: u64 = counts.iter().map(|c| c.failed).sum();
    assert_eq!(
        delegated + undelegated + failed,
        (THREADS * CALLS_PER_THREAD) as u64
    );
    assert!(
        delegated > 1000 && undelegated > 1000 && failed > 1000,
        "seed {seed}: {counts:?}"
    );
    assert!(
        counts[0].host_writes > 0,
        "seed {seed}: the host never wrote"
    );

    let mut now_delegated = 0;
    for i in 0..GRANULES {
        let pa = pa_of(i);
        let state = m.granule_state(pa).unwrap();
        let pas = m.pas(pa).unwrap();
        match state {
            GranuleState::Delegated => {
                assert_eq!(pas, Pas::Realm, "seed {seed}: granule {pa:#x}");
                let mut contents = [0xffu8; GRANULE as usize];
                m.debug_read(pa, &mut contents).unwrap();
                assert!(
                    contents.iter().all(|&b| b == 0),
                    "seed {seed}: {pa:#x} not wiped"
                );
                now_delegated += 1;
            }
            GranuleState::Undelegated => assert_eq!(pas, Pas::NonSecure, "seed {seed}: {pa:#x}"),
            other => panic!("seed {seed}: granule {pa:#x} in state {other:?}"),
        }
    }
    assert_eq!(
        delegated - undelegated,
        now_delegated,
        "seed {seed}: {counts:?}"
    );
    // Granules no thread touched are as they started.
    assert_eq!(
        m.granule_state(pa_of(GRANULES)),
        Some(GranuleState::Undelegated)
    );
    assert_eq!(m.pas(pa_of(GRANULES)), Some(Pas::NonSecure));
}
