//! What is measured: the command mixes, where the threads work (disjoint realms or one shared
//! realm), how calls are serialised (fine-grained or coarse), and the set-up of a machine with
//! each thread's cycle of calls.
//!
//! Each thread repeats a cycle of calls built before the clock starts, on state of its own
//! (granules, tables, pages, a REC), in ops that return the state to where it started.

use crate::rmi::{self, check, create_rtt, new_realm, new_rec, ok, regs, ExitAtOnce, Pool};
use rmm::host::{Config, Machine};
use rmm::rmi::Command;
use std::sync::Arc;

/// Granules each thread delegates and undelegates in turn.
const DELEGATE_GRANULES: u64 = 64;
/// Level-3 RTTs each thread creates and destroys in turn, one per 2 MiB of its region.
const RTTS: u64 = 16;
/// DATA pages each thread creates and destroys in turn.
const PAGES: u64 = 16;
/// RMI_MEASURE_CONTENT: DATA_CREATE hashes the page into the RIM, as when loading an image.
const MEASURE_CONTENT: u64 = 1;
/// The IPA space a level-2 RTT maps (level-1 entry), and a level-3 RTT (level-2 entry).
const L1_BLOCK: u64 = 1 << 30;
const L2_BLOCK: u64 = 1 << 21;
/// Threads beyond this would run out of Protected IPA regions (39-bit IPA, 1 GiB each).
pub const MAX_THREADS: usize = 255;

/// A command mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mix {
    Delegate,
    Rtt,
    Data,
    DataUnknown,
    RecEnter,
}

impl Mix {
    pub const ALL: [Mix; 5] = [
        Mix::Delegate,
        Mix::Rtt,
        Mix::Data,
        Mix::DataUnknown,
        Mix::RecEnter,
    ];

    /// The name `--mix` knows it by.
    pub fn key(self) -> &'static str {
        match self {
            Mix::Delegate => "delegate",
            Mix::Rtt => "rtt",
            Mix::Data => "data",
            Mix::DataUnknown => "data-unknown",
            Mix::RecEnter => "rec-enter",
        }
    }

    /// What one op is.
    pub fn name(self) -> &'static str {
        match self {
            Mix::Delegate => "GRANULE_DELEGATE + GRANULE_UNDELEGATE",
            Mix::Rtt => "RTT_CREATE + RTT_DESTROY (level 3)",
            Mix::Data => "DATA_CREATE + DATA_DESTROY",
            Mix::DataUnknown => "DATA_CREATE_UNKNOWN + DATA_DESTROY",
            Mix::RecEnter => "REC_ENTER (realm exits at once)",
        }
    }

    /// How the mix is run, and what to expect of it.
    pub fn note(self) -> &'static str {
        match self {
            Mix::Delegate => {
                "Each thread cycles through 64 granules of its own. The calls name no realm: \
                 \"shared\" differs from \"disjoint\" only in the coarse baseline, where all \
                 threads take one lock (a coarse design's lock on the granule pool)."
            }
            Mix::Rtt => {
                "Each thread creates and destroys level-3 RTTs in 16 2 MiB blocks of its own \
                 1 GiB IPA region, under its own level-2 RTT. RTT_DESTROY also waits for \
                 lock-free walkers of the realm (quiesce) and asks for a TLB invalidation."
            }
            Mix::Data => {
                "Realm NEW; each thread maps 16 pages of its own level-3 RTT in turn, content \
                 measured (flags = RMI_MEASURE_CONTENT). DATA_CREATE holds the realm's RD lock \
                 while it extends the RIM, whose value depends on the order of extensions: \
                 on one shared realm that part serialises, by design."
            }
            Mix::DataUnknown => {
                "As DATA_CREATE, but DATA_CREATE_UNKNOWN: not measured, no RD lock. This is \
                 the mix that shows how populating one shared realm scales."
            }
            Mix::RecEnter => {
                "Realm ACTIVE; each thread enters a REC of its own; the realm model takes an \
                 IRQ at once, so an op is one entry and exit through the RMM."
            }
        }
    }

    /// RMI calls in one op.
    pub fn calls_per_op(self) -> usize {
        match self {
            Mix::RecEnter => 1,
            _ => 2,
        }
    }
}

/// Where the threads work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Placement {
    /// One realm per thread.
    Disjoint,
    /// One realm; thread i works in IPA region i, with its own level-2 and level-3 RTTs.
    Shared,
}

impl Placement {
    pub const ALL: [Placement; 2] = [Placement::Disjoint, Placement::Shared];

    pub fn name(self) -> &'static str {
        match self {
            Placement::Disjoint => "disjoint realms",
            Placement::Shared => "one shared realm",
        }
    }
}

/// How the calls are serialised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Design {
    /// The RMM's own locking only.
    Fine,
    /// Each call made holding a `std::sync::Mutex` of its realm, as a coarse design would.
    Coarse,
}

impl Design {
    pub const ALL: [Design; 2] = [Design::Fine, Design::Coarse];

    pub fn name(self) -> &'static str {
        match self {
            Design::Fine => "fine-grained",
            Design::Coarse => "coarse (lock per realm)",
        }
    }
}

/// A machine with `threads` CPUs, set up for `mix`, and each thread's cycle of calls.
pub struct Setup {
    pub machine: Machine,
    /// Thread i's calls, run on CPU i.
    pub cycles: Vec<Vec<[u64; 8]>>,
}

/// Builds the machine and the cycles, and runs each cycle once (untimed) to check it works
/// and leaves the state as it found it.
pub fn setup(mix: Mix, placement: Placement, threads: usize) -> Setup {
    // Pool 0: the shared realm's RD and starting RTT; pool i + 1: thread i's granules.
    let m = Machine::new(Config {
        cpus: threads,
        dram: vec![Pool::dram(threads + 1)],
    });
    if mix == Mix::RecEnter {
        assert!(m.set_realm_model(Arc::new(ExitAtOnce)));
    }
    let mut pools: Vec<Pool> = (0..=threads).map(Pool::new).collect();
    let (shared_pool, pools) = pools.split_first_mut().expect("pool 0 exists");
    let rds: Vec<u64> = match (mix, placement) {
        (Mix::Delegate, _) => vec![0; threads],
        (_, Placement::Shared) => vec![new_realm(&m, shared_pool, 1); threads],
        (_, Placement::Disjoint) => (0..threads)
            .map(|i| new_realm(&m, &mut pools[i], i as u16 + 1))
            .collect(),
    };

    let mut cycles = Vec::with_capacity(threads);
    for (i, pool) in pools.iter_mut().enumerate() {
        let (rd, region) = (rds[i], i as u64 * L1_BLOCK);
        let cycle: Vec<[u64; 8]> = match mix {
            Mix::Delegate => (0..DELEGATE_GRANULES)
                .flat_map(|_| {
                    let pa = pool.ns();
                    [
                        regs(Command::GranuleDelegate, &[pa]),
                        regs(Command::GranuleUndelegate, &[pa]),
                    ]
                })
                .collect(),
            Mix::Rtt => {
                create_rtt(&m, pool, rd, region, 2);
                (0..RTTS)
                    .flat_map(|k| {
                        let (rtt, ipa) = (pool.delegated(&m), region + k * L2_BLOCK);
                        [
                            regs(Command::RttCreate, &[rd, rtt, ipa, 3]),
                            regs(Command::RttDestroy, &[rd, ipa, 3]),
                        ]
                    })
                    .collect()
            }
            Mix::Data | Mix::DataUnknown => {
                create_rtt(&m, pool, rd, region, 2);
                create_rtt(&m, pool, rd, region, 3);
                let src = pool.ns();
                m.ns_write(src, &[0x5a; rmi::GRANULE as usize]).unwrap();
                (0..PAGES)
                    .flat_map(|j| {
                        let (data, ipa) = (pool.delegated(&m), region + j * rmi::GRANULE);
                        let create = match mix {
                            Mix::Data => {
                                regs(Command::DataCreate, &[rd, data, ipa, src, MEASURE_CONTENT])
                            }
                            _ => regs(Command::DataCreateUnknown, &[rd, data, ipa]),
                        };
                        [create, regs(Command::DataDestroy, &[rd, ipa])]
                    })
                    .collect()
            }
            Mix::RecEnter => {
                // REC indices are handed out in creation order: thread i's REC is REC i of
                // the shared realm, REC 0 of its own.
                let index = match placement {
                    Placement::Shared => i as u64,
                    Placement::Disjoint => 0,
                };
                let rec = new_rec(&m, pool, rd, index);
                let run = pool.ns();
                vec![regs(Command::RecEnter, &[rec, run])]
            }
        };
        cycles.push(cycle);
    }
    if mix == Mix::RecEnter {
        let mut realms = rds;
        realms.dedup();
        for rd in realms {
            ok(&m, 0, Command::RealmActivate, &[rd]);
        }
    }
    for (cpu, cycle) in cycles.iter().enumerate() {
        for call in cycle {
            check(call, &m.smc(cpu, *call));
        }
    }
    Setup { machine: m, cycles }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every mix sets up and runs a whole cycle on every thread, in both placements (`setup`
    /// checks every call returns RMI_SUCCESS).
    #[test]
    fn every_mix_cycles_cleanly_in_both_placements() {
        for mix in Mix::ALL {
            for placement in Placement::ALL {
                let Setup { machine, cycles } = setup(mix, placement, 3);
                assert_eq!(cycles.len(), 3);
                // The cycle leaves the state as it found it: it runs again.
                for (cpu, cycle) in cycles.iter().enumerate() {
                    for call in cycle {
                        check(call, &machine.smc(cpu, *call));
                    }
                }
            }
        }
    }
}
