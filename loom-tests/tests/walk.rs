//! loom model of walk announcements (`rmm::percpu`): the reader exclusion that lets RTT walks
//! run without locks while tables are destroyed and their granules reused.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicU64, Ordering};
use loom::sync::Arc;
use loom::thread;
use rmm::percpu::{quiesce, PerCpu};

const RD: u64 = 0x8000_0000;
const OTHER_RD: u64 = 0x9000_0000;
const TABLE: u64 = 0x8000_1000;

/// A parent entry that links a table, and the table's memory.
struct Realm {
    cpus: [PerCpu; 3],
    parent_entry: AtomicU64,
    table: UnsafeCell<u64>,
}
// SAFETY: `table` is only reached through `with`/`with_mut`, which loom checks for
// unsynchronised access: that check is the model's point.
unsafe impl Sync for Realm {}

/// Walks from the parent entry into the table, as an RTT reader does; returns what it read.
/// A walk of another realm cannot reach this table, so it only announces itself.
fn walk(realm: &Realm, cpu: usize, rd: u64) -> Option<u64> {
    let _walk = realm.cpus[cpu].announce_walk(rd);
    if rd != RD {
        return None;
    }
    // Acquire: pairs with the Release that linked the table (its contents are initialised).
    match realm.parent_entry.load(Ordering::Acquire) {
        // SAFETY: checked by loom (see the `Sync` impl).
        TABLE => Some(realm.table.with(|t| unsafe { *t })),
        _ => None,
    }
}

/// Two walkers, one of them on another realm, race a destroyer that unlinks the table, waits
/// for walkers and wipes the granule for reuse: no walk reads the granule while it is wiped, a
/// walk that reached the table read its real contents, and the destroyer finishes.
#[test]
fn destroyer_waits_for_walkers_that_can_still_see_the_table() {
    loom::model(|| {
        let realm = Arc::new(Realm {
            cpus: [PerCpu::new(), PerCpu::new(), PerCpu::new()],
            parent_entry: AtomicU64::new(TABLE),
            table: UnsafeCell::new(42),
        });
        let walkers: Vec<_> = [(0, RD), (1, OTHER_RD)]
            .into_iter()
            .map(|(cpu, rd)| {
                let realm = realm.clone();
                thread::spawn(move || walk(&realm, cpu, rd))
            })
            .collect();
        let destroyer = {
            let realm = realm.clone();
            thread::spawn(move || {
                // In the RMM the parent's lock is held here; the walkers never wait for it.
                realm.parent_entry.store(0, Ordering::Release);
                let cpus: Vec<&PerCpu> = realm.cpus.iter().collect();
                quiesce(&cpus, RD);
                // SAFETY: checked by loom (see the `Sync` impl).
                realm.table.with_mut(|t| unsafe { *t = 0 });
            })
        };
        let ours = walkers.into_iter().next().unwrap();
        assert!(matches!(ours.join().unwrap(), None | Some(42)));
        destroyer.join().unwrap();
    });
}
