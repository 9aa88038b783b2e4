//! loom model of RTT concurrency through the real RMI commands on the host platform: a writer
//! (RTT_CREATE) that locks one table, a lock-free reader (RTT_READ_ENTRY) and a destroyer
//! (RTT_DESTROY) that unlinks, quiesces and wipes, all on one realm.
//!
//! loom schedules at the protocol's atomics (granule words, walk announcements); the RTTs'
//! memory is hardware-style words it does not see, so these models check the locking, retry
//! and quiescing protocol end to end, and `walk.rs` checks, on an abstract table loom does
//! see, that no walker reads a table while it is wiped. Each model has two threads: loom
//! cannot finish two spinners at once under a preemption bound.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use rmm::granule::GranuleState;
use rmm::host::{Config, Machine};

const GRANULE: u64 = 4096;
const BASE: u64 = 0x8000_0000;
const IPA: u64 = 0x4000_0000;
const RTT_CREATE: u64 = 0xC400_015D;
const RTT_DESTROY: u64 = 0xC400_015E;
const RTT_READ_ENTRY: u64 = 0xC400_0161;
const SUCCESS: u64 = 0;

fn rtt_error(level: u64) -> u64 {
    4 | level << 8
}

/// A machine with a realm (39-bit IPA, level-1 root) that has a level-2 table at IPA.
/// Returns the machine, the RD, the level-2 table and a delegated granule for a level-3 one.
fn realm_with_level2() -> (Machine, u64, u64, u64) {
    let m = Machine::new(Config {
        cpus: 3,
        dram: vec![(BASE, 16 * GRANULE)],
    });
    let call = |regs: [u64; 8]| m.smc(0, regs);
    let [params, rd, root, l2, l3] = [0, 1, 2, 3, 4].map(|i| BASE + i * GRANULE);
    for pa in [rd, root, l2, l3] {
        assert_eq!(call([0xC400_0151, pa, 0, 0, 0, 0, 0, 0])[0], SUCCESS);
    }
    let mut page = [0u8; 4096];
    page[0x8] = 39; // s2sz
    page[0x18] = 1; // num_bps - 1
    page[0x20] = 1; // num_wps - 1
    page[0x808..0x810].copy_from_slice(&root.to_le_bytes());
    page[0x810..0x818].copy_from_slice(&1u64.to_le_bytes()); // rtt_level_start
    page[0x818..0x81c].copy_from_slice(&1u32.to_le_bytes()); // rtt_num_start
    m.ns_write(params, &page).unwrap();
    assert_eq!(call([0xC400_0158, rd, params, 0, 0, 0, 0, 0])[0], SUCCESS);
    assert_eq!(call([RTT_CREATE, rd, l2, IPA, 2, 0, 0, 0])[0], SUCCESS);
    (m, rd, l2, l3)
}

/// RTT_CREATE of a level-3 table races RTT_DESTROY of its parent: exactly one wins (a table
/// with a TABLE entry is live), and the granules end in the states the outcome implies.
#[test]
fn rtt_writer_and_destroyer() {
    loom::model(|| {
        let (m, rd, l2, l3) = realm_with_level2();
        let m = Arc::new(m);
        let writer = {
            let m = m.clone();
            thread::spawn(move || m.smc(1, [RTT_CREATE, rd, l3, IPA, 3, 0, 0, 0])[0])
        };
        let destroyed = m.smc(0, [RTT_DESTROY, rd, IPA, 2, 0, 0, 0, 0]);
        let created = writer.join().unwrap();
        match (destroyed[0], created) {
            (SUCCESS, c) => {
                // Destroyed first: the writer's walk stopped at level 1.
                assert_eq!(c, rtt_error(1));
                assert_eq!(destroyed[1], l2);
                assert_eq!(m.granule_state(l2), Some(GranuleState::Delegated));
                assert_eq!(m.granule_state(l3), Some(GranuleState::Delegated));
            }
            (d, SUCCESS) => {
                // Created first: the level-2 table is live.
                assert_eq!(d, rtt_error(2));
                assert_eq!(m.granule_state(l3), Some(GranuleState::Rtt));
                assert_eq!(m.rmm().granules().get(l2).unwrap().refcount(), 1);
            }
            other => panic!("neither won: {other:?}"),
        }
    });
}

/// RTT_READ_ENTRY walks without locks while RTT_DESTROY unlinks, quiesces and wipes the table
/// it may be walking: the reader sees the tree before or after, never a wiped table's
/// contents, and the destroy completes.
#[test]
fn rtt_reader_and_destroyer() {
    loom::model(|| {
        let (m, rd, l2, _) = realm_with_level2();
        let m = Arc::new(m);
        let reader = {
            let m = m.clone();
            thread::spawn(move || {
                let r = m.smc(1, [RTT_READ_ENTRY, rd, IPA, 3, 0, 0, 0, 0]);
                (r[0], r[1], r[2], r[4])
            })
        };
        let destroyed = m.smc(0, [RTT_DESTROY, rd, IPA, 2, 0, 0, 0, 0]);
        let (read, level, state, ripas) = reader.join().unwrap();
        assert_eq!(destroyed[..2], [SUCCESS, l2]);
        assert_eq!(read, SUCCESS);
        // Before: the level-2 table's UNASSIGNED EMPTY entry. After: the root's UNASSIGNED
        // entry with RIPAS DESTROYED.
        assert!(
            matches!((level, state, ripas), (2, 0, 0) | (1, 0, 2)),
            "{level} {state} {ripas}"
        );
    });
}
