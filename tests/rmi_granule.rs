//! RMI_GRANULE_DELEGATE (B4.3.5) and RMI_GRANULE_UNDELEGATE (B4.3.6): one test per failure
//! condition and per success condition, named after the spec's condition IDs.

mod common;
use common::*;
use rmm::granule::GranuleState;
use rmm::host::{FaultKind, Pas};

const PA: u64 = BANK0.0 + 5 * GRANULE;

/// A failed call changed neither the granule's state nor its GPT entry.
fn assert_unchanged(m: &rmm::host::Machine, pa: u64, state: GranuleState, pas: Pas) {
    assert_eq!(m.granule_state(pa), Some(state));
    assert_eq!(m.pas(pa), Some(pas));
}

#[test]
fn granule_delegate_gran_align() {
    let m = machine();
    for addr in [PA + 1, PA + 8, PA + 0x800, PA + 0xfff] {
        assert_eq!(delegate(&m, addr), ERROR_INPUT, "{addr:#x}");
    }
    assert_unchanged(&m, PA, GranuleState::Undelegated, Pas::NonSecure);
}

#[test]
fn granule_delegate_gran_bound() {
    let m = machine();
    let outside = [
        0,
        BANK0.0 - GRANULE,
        BANK0.0 + BANK0.1, // the hole between the banks
        BANK1.0 - GRANULE,
        BANK1.0 + BANK1.1,
        !(GRANULE - 1), // the last granule of the address space
    ];
    for addr in outside {
        assert_eq!(delegate(&m, addr), ERROR_INPUT, "{addr:#x}");
    }
    // The edges of each bank are delegable.
    for addr in [
        BANK0.0,
        BANK0.0 + BANK0.1 - GRANULE,
        BANK1.0,
        BANK1.0 + BANK1.1 - GRANULE,
    ] {
        assert_eq!(delegate(&m, addr), SUCCESS, "{addr:#x}");
    }
}

#[test]
fn granule_delegate_gran_state() {
    let m = machine();
    assert_eq!(delegate(&m, PA), SUCCESS);
    assert_eq!(delegate(&m, PA), ERROR_INPUT);
    assert_unchanged(&m, PA, GranuleState::Delegated, Pas::Realm);
    for (i, state) in OWNED_STATES.into_iter().enumerate() {
        let pa = BANK1.0 + i as u64 * GRANULE;
        assert_eq!(delegate(&m, pa), SUCCESS);
        force_state(&m, pa, state);
        assert_eq!(delegate(&m, pa), ERROR_INPUT, "{state:?}");
        assert_unchanged(&m, pa, state, Pas::Realm);
    }
}

#[test]
fn granule_delegate_gran_gpt() {
    let m = machine();
    for (pa, pas) in [(PA, Pas::Secure), (PA + GRANULE, Pas::Root)] {
        m.assign_pas(pa, pas).unwrap();
        assert_eq!(delegate(&m, pa), ERROR_INPUT, "{pas:?}");
        assert_unchanged(&m, pa, GranuleState::Undelegated, pas);
        // Once EL3 gives it back to the Normal world, it can be delegated.
        m.assign_pas(pa, Pas::NonSecure).unwrap();
        assert_eq!(delegate(&m, pa), SUCCESS);
    }
}

#[test]
fn granule_delegate_success_gran_state_and_gran_gpt() {
    let m = machine();
    assert_eq!(
        rmi(&m, RMI_GRANULE_DELEGATE, &[PA]),
        [SUCCESS, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(m.granule_state(PA), Some(GranuleState::Delegated));
    assert_eq!(m.pas(PA), Some(Pas::Realm));
    // Neighbours are untouched.
    assert_unchanged(&m, PA - GRANULE, GranuleState::Undelegated, Pas::NonSecure);
    assert_unchanged(&m, PA + GRANULE, GranuleState::Undelegated, Pas::NonSecure);
}

#[test]
fn granule_delegate_wipes_before_anything_observes_it() {
    let m = machine();
    m.ns_write(PA, &[0xa5; GRANULE as usize]).unwrap();
    assert_eq!(delegate(&m, PA), SUCCESS);
    let mut seen = [0xffu8; GRANULE as usize];
    m.debug_read(PA, &mut seen).unwrap();
    assert!(
        seen.iter().all(|&b| b == 0),
        "DELEGATED granule holds host data"
    );
    let mut host = [0u8; 8];
    assert_eq!(
        m.ns_read(PA, &mut host).unwrap_err().kind,
        FaultKind::GranuleProtection(Pas::Realm)
    );
}

#[test]
fn granule_undelegate_gran_align() {
    let m = machine();
    assert_eq!(delegate(&m, PA), SUCCESS);
    for addr in [PA + 1, PA + 0x800, PA + 0xfff] {
        assert_eq!(undelegate(&m, addr), ERROR_INPUT, "{addr:#x}");
    }
    assert_unchanged(&m, PA, GranuleState::Delegated, Pas::Realm);
}

#[test]
fn granule_undelegate_gran_bound() {
    let m = machine();
    for addr in [
        0,
        BANK0.0 - GRANULE,
        BANK0.0 + BANK0.1,
        BANK1.0 + BANK1.1,
        !0xfff,
    ] {
        assert_eq!(undelegate(&m, addr), ERROR_INPUT, "{addr:#x}");
    }
}

#[test]
fn granule_undelegate_gran_state() {
    let m = machine();
    assert_eq!(undelegate(&m, PA), ERROR_INPUT);
    assert_unchanged(&m, PA, GranuleState::Undelegated, Pas::NonSecure);
    for (i, state) in OWNED_STATES.into_iter().enumerate() {
        let pa = BANK1.0 + i as u64 * GRANULE;
        assert_eq!(delegate(&m, pa), SUCCESS);
        force_state(&m, pa, state);
        assert_eq!(undelegate(&m, pa), ERROR_INPUT, "{state:?}");
        assert_unchanged(&m, pa, state, Pas::Realm);
    }
}

#[test]
fn granule_undelegate_success_gran_gpt_and_gran_state() {
    let m = machine();
    assert_eq!(delegate(&m, PA), SUCCESS);
    assert_eq!(
        rmi(&m, RMI_GRANULE_UNDELEGATE, &[PA]),
        [SUCCESS, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(m.granule_state(PA), Some(GranuleState::Undelegated));
    assert_eq!(m.pas(PA), Some(Pas::NonSecure));
    // And round again.
    assert_eq!(delegate(&m, PA), SUCCESS);
    assert_eq!(undelegate(&m, PA), SUCCESS);
}

#[test]
fn granule_undelegate_success_gran_content() {
    let m = machine();
    m.ns_write(PA, &[0x5a; GRANULE as usize]).unwrap();
    assert_eq!(delegate(&m, PA), SUCCESS);
    assert_eq!(undelegate(&m, PA), SUCCESS);
    let mut back = [0xffu8; GRANULE as usize];
    m.ns_read(PA, &mut back).unwrap();
    assert!(
        back.iter().all(|&b| b == 0),
        "host data survived delegation"
    );
}
