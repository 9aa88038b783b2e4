//! The host DRAM the VMM gives its realm: granules from the configured pool start to the end of
//! DRAM, taken in address order and never reused, and a record of which of them are delegated,
//! so that the end of the run can check that every one went back to the Normal world.

use ns_el2::exceptions::{probe_read, Probe};
use ns_el2::granule::Granule;
use ns_el2::rmi::{self, RmiError};
use rmm::spinlock::SpinLock;
use rmm_arch::GRANULE_SIZE;

/// Most granules the pool covers (16 GiB); more DRAM is left unused.
const MAX_GRANULES: usize = 4 << 20;

/// Why a granule could not be had.
#[derive(Clone, Copy, Debug)]
pub enum PoolError {
    /// The pool is used up.
    Exhausted,
    /// RMI_GRANULE_DELEGATE or UNDELEGATE failed.
    Rmi(RmiError),
}

struct State {
    base: u64,
    end: u64,
    next: u64,
    /// One bit per granule from `base`: delegated now.
    delegated: [u64; MAX_GRANULES / 64],
    /// Granules delegated so far, and undelegated again.
    counts: (u64, u64),
}

impl core::fmt::Display for PoolError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            PoolError::Exhausted => f.write_str("the pool of host memory is used up"),
            PoolError::Rmi(e) => write!(f, "granule delegation failed: {e}"),
        }
    }
}

static POOL: SpinLock<State> = SpinLock::new(State {
    base: 0,
    end: 0,
    next: 0,
    delegated: [0; MAX_GRANULES / 64],
    counts: (0, 0),
});

/// Takes `[base, end)`: granule aligned, capped at [`MAX_GRANULES`].
pub fn init(base: u64, end: u64) -> (u64, u64) {
    let base = base.next_multiple_of(GRANULE_SIZE);
    let end = end.min(base + MAX_GRANULES as u64 * GRANULE_SIZE) & !(GRANULE_SIZE - 1);
    let mut pool = POOL.lock();
    (pool.base, pool.end, pool.next) = (base, end, base);
    (base, end)
}

/// `count` consecutive granules, the first aligned to `align` granules (not delegated, not
/// zeroed).
pub fn take(count: u64, align: u64) -> Result<Granule, PoolError> {
    let mut pool = POOL.lock();
    let start = pool.next.next_multiple_of(align * GRANULE_SIZE);
    let end = start + count * GRANULE_SIZE;
    if end > pool.end {
        return Err(PoolError::Exhausted);
    }
    pool.next = end;
    Ok(Granule::at(start))
}

/// A zeroed granule for the Normal world's own use (RmiRecRun, parameters, shared pages).
pub fn take_zeroed() -> Result<Granule, PoolError> {
    let g = take(1, 1)?;
    g.fill(0);
    Ok(g)
}

/// Delegates `g`, a granule of the pool.
pub fn delegate(g: Granule) -> Result<u64, PoolError> {
    rmi::granule_delegate(g.pa()).map_err(PoolError::Rmi)?;
    let mut pool = POOL.lock();
    let bit = ((g.pa() - pool.base) / GRANULE_SIZE) as usize;
    pool.delegated[bit / 64] |= 1 << (bit % 64);
    pool.counts.0 += 1;
    Ok(g.pa())
}

/// A new granule of the pool, delegated.
pub fn delegated() -> Result<u64, PoolError> {
    delegate(take(1, 1)?)
}

/// Undelegates the granule at `pa`.
pub fn undelegate(pa: u64) -> Result<(), PoolError> {
    rmi::granule_undelegate(pa).map_err(PoolError::Rmi)?;
    let mut pool = POOL.lock();
    let bit = ((pa - pool.base) / GRANULE_SIZE) as usize;
    pool.delegated[bit / 64] &= !(1 << (bit % 64));
    pool.counts.1 += 1;
    Ok(())
}

/// The end of the run: granules still delegated (by the record), granules delegated over the
/// run, and the first granule the pool handed out that the Normal world cannot read (a Granule
/// Protection Fault: not returned), if any.
pub fn audit() -> (u64, u64, Option<u64>) {
    let (base, next, still, total) = {
        let pool = POOL.lock();
        let still = pool
            .delegated
            .iter()
            .map(|w| u64::from(w.count_ones()))
            .sum();
        (pool.base, pool.next, still, pool.counts.0)
    };
    let unreadable = (base..next)
        .step_by(GRANULE_SIZE as usize)
        .find(|&pa| matches!(probe_read(pa), Probe::Faulted { .. }));
    (still, total, unreadable)
}
