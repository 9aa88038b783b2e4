//! loom model of `rmm::attestation::WriteOnce`, the boot-time cell of the attestation identity.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use rmm::attestation::WriteOnce;

/// What a setter prepared before publishing its value (the identity's key and token, in the
/// real RMM): a reader that gets the value must see it.
struct Prepared([UnsafeCell<u64>; 2]);
// SAFETY: the cells are only reached through `with`/`with_mut`, which loom checks.
unsafe impl Sync for Prepared {}

/// Two CPUs race to set the cell while a third reads it: exactly one set succeeds, a reader
/// gets either nothing or the winner's value, and with it everything the winner wrote before
/// `set` (the Release store of READY pairs with the Acquire load in `get`).
#[test]
fn one_setter_wins_and_a_reader_sees_its_whole_value() {
    loom::model(|| {
        let cell = Arc::new(WriteOnce::<usize>::new());
        let prepared = Arc::new(Prepared([UnsafeCell::new(0), UnsafeCell::new(0)]));
        let setters: Vec<_> = (0..2)
            .map(|i| {
                let (cell, prepared) = (cell.clone(), prepared.clone());
                thread::spawn(move || {
                    // SAFETY: checked by loom (see `Prepared`); setter `i` alone writes cell `i`.
                    prepared.0[i].with_mut(|p| unsafe { *p = 100 + i as u64 });
                    cell.set(i).is_ok()
                })
            })
            .collect();
        let reader = {
            let (cell, prepared) = (cell.clone(), prepared.clone());
            thread::spawn(move || {
                let &i = cell.get()?;
                // SAFETY: checked by loom (see `Prepared`).
                let seen = prepared.0[i].with(|p| unsafe { *p });
                assert_eq!(
                    seen,
                    100 + i as u64,
                    "the value came without its preparation"
                );
                Some(i)
            })
        };
        let won: Vec<bool> = setters.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(
            won.iter().filter(|&&w| w).count(),
            1,
            "exactly one set succeeds"
        );
        let winner = won.iter().position(|&w| w).unwrap();
        if let Some(read) = reader.join().unwrap() {
            assert_eq!(read, winner);
        }
        assert_eq!(cell.get(), Some(&winner));
    });
}
