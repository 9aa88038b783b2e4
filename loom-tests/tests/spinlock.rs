//! loom model of `rmm::spinlock::SpinLock`.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use rmm::spinlock::SpinLock;

/// Two threads add to a counter under the lock: no update is lost, and each holder sees the
/// other's write (non-atomic read-modify-write inside the critical section).
#[test]
fn holders_exclude_each_other_and_see_previous_writes() {
    loom::model(|| {
        let lock = Arc::new(SpinLock::new(0u64));
        let threads: Vec<_> = [1, 10]
            .into_iter()
            .map(|add| {
                let lock = lock.clone();
                thread::spawn(move || {
                    let mut g = lock.lock();
                    let v = *g;
                    *g = v + add;
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(*lock.lock(), 11);
    });
}
