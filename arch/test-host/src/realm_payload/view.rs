//! What a CPU needs to run a REC of the payload's realm: a copy of the parts of [`PayloadRealm`]
//! that REC exits use, which CPU 0 publishes before it hands a REC to another CPU.

use super::setup::PayloadRealm;
use crate::granule::Granule;
use core::sync::atomic::{AtomicU64, Ordering};
use rmm::measurement::Measurement;
use rmm_arch::realm_report::{MAX_RECS, SHARED_PAGES};

const RECS: usize = MAX_RECS as usize;
const SHARED: usize = SHARED_PAGES as usize;
/// Words of a published view: rd, rec_count, recs, runs, shared, the RIM.
const WORDS: usize = 2 + 2 * RECS + SHARED + 8;

/// The view, as words (granules by address, 0 for none). [`publish`] stores them with Relaxed
/// before `smp::start`'s Release; a REC's CPU loads them after its job's Acquire.
static PUBLISHED: [AtomicU64; WORDS] = [const { AtomicU64::new(0) }; WORDS];

/// The realm as REC exits see it: the fields of [`PayloadRealm`] of the same names.
#[derive(Clone, Copy)]
pub struct RealmView {
    pub rd: Granule,
    pub recs: [u64; RECS],
    pub runs: [Option<Granule>; RECS],
    pub rec_count: usize,
    pub shared: [Option<Granule>; SHARED],
    pub rim: Measurement,
}

impl RealmView {
    pub fn of(realm: &PayloadRealm) -> Self {
        Self {
            rd: realm.rd,
            recs: realm.recs,
            runs: realm.runs,
            rec_count: realm.rec_count,
            shared: realm.shared,
            rim: realm.rim,
        }
    }
}

fn pa(granule: Option<Granule>) -> u64 {
    granule.map_or(0, Granule::pa)
}

/// Makes `view` the one [`load`] returns (on this CPU, and on those started after).
pub fn publish(view: &RealmView) {
    let words = [view.rd.pa(), view.rec_count as u64]
        .into_iter()
        .chain(view.recs)
        .chain(view.runs.map(pa))
        .chain(view.shared.map(pa))
        .chain(view.rim.to_words());
    for (slot, word) in PUBLISHED.iter().zip(words) {
        // Relaxed: see PUBLISHED.
        slot.store(word, Ordering::Relaxed);
    }
}

/// The view [`publish`] stored last; None if its RD is not a pool granule (none published).
pub fn load() -> Option<RealmView> {
    // Relaxed: see PUBLISHED.
    let words: [u64; WORDS] = core::array::from_fn(|i| PUBLISHED[i].load(Ordering::Relaxed));
    let (head, rest) = words.split_at(2);
    let (recs, rest) = rest.split_at(RECS);
    let (runs, rest) = rest.split_at(RECS);
    let (shared, rim) = rest.split_at(SHARED);
    Some(RealmView {
        rd: crate::pool::granule(head[0])?,
        recs: core::array::from_fn(|i| recs[i]),
        runs: core::array::from_fn(|i| crate::pool::granule(runs[i])),
        rec_count: (head[1] as usize).min(RECS),
        shared: core::array::from_fn(|i| crate::pool::granule(shared[i])),
        rim: Measurement::from_words(core::array::from_fn(|i| rim[i])),
    })
}
