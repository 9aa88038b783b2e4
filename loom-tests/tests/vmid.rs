//! loom model of the VMID bitmap (`rmm::realm::VmidSet`).
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use rmm::realm::VmidSet;

/// What the realm holding a VMID did with it (its TLB entries, in the real RMM).
struct Tagged(UnsafeCell<u64>);
// SAFETY: the cell is only reached through `with`/`with_mut`, which loom checks.
unsafe impl Sync for Tagged {}

/// Two CPUs create realms with the same VMID while a third destroys the realm that holds it:
/// at most one realm holds the VMID at any time, and a new holder sees everything the old one
/// did before releasing it.
#[test]
fn a_vmid_has_one_holder_and_release_hands_over_its_state() {
    loom::model(|| {
        let set = Arc::new(VmidSet::new(8));
        let state = Arc::new(Tagged(UnsafeCell::new(0)));
        assert!(set.claim(7));
        let creators: Vec<_> = (1..=2)
            .map(|id| {
                let (set, state) = (set.clone(), state.clone());
                thread::spawn(move || {
                    if !set.claim(7) {
                        return false;
                    }
                    // SAFETY: checked by loom (see `Tagged`).
                    state.0.with_mut(|s| unsafe { *s = id });
                    true
                })
            })
            .collect();
        let destroyer = {
            let (set, state) = (set.clone(), state.clone());
            thread::spawn(move || {
                // SAFETY: checked by loom (see `Tagged`).
                state.0.with_mut(|s| unsafe { *s = 99 });
                set.release(7);
            })
        };
        destroyer.join().unwrap();
        let created: usize = creators
            .into_iter()
            .map(|t| t.join().unwrap() as usize)
            .sum();
        match created {
            // Both tried before the release: the VMID is free now.
            0 => assert!(set.claim(7)),
            1 => assert!(!set.claim(7), "the VMID is held again"),
            n => panic!("{n} realms hold one VMID"),
        }
    });
}
