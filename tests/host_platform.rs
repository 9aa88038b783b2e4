//! The host platform: the Normal world's view of memory, the GPT model, and RMM reads of host
//! memory that hit a granule protection fault.

mod common;
use common::*;
use rmm::host::{AssignError, Fault, FaultKind, Pas};
use rmm::platform::{NsAccessFault, Platform};

#[test]
fn ns_memory_round_trips_across_granules_and_banks() {
    let m = machine();
    let data: Vec<u8> = (0..3 * GRANULE as usize)
        .map(|i| (i * 7 + 3) as u8)
        .collect();
    let pa = BANK0.0 + GRANULE - 5; // unaligned, spanning four granules
    m.ns_write(pa, &data).unwrap();
    let mut back = vec![0u8; data.len()];
    m.ns_read(pa, &mut back).unwrap();
    assert_eq!(back, data);
    // Neighbouring bytes are untouched.
    let mut edge = [0xffu8; 2];
    m.ns_read(pa - 2, &mut edge).unwrap();
    assert_eq!(edge, [0, 0]);
    m.ns_write(BANK1.0 + 1, &[1, 2, 3]).unwrap();
    let mut three = [0u8; 4];
    m.ns_read(BANK1.0, &mut three).unwrap();
    assert_eq!(three, [0, 1, 2, 3]);
}

#[test]
fn ns_access_outside_memory_faults() {
    let m = machine();
    let end = BANK0.0 + BANK0.1;
    let mut buf = [0u8; 16];
    assert_eq!(
        m.ns_read(end - 8, &mut buf),
        Err(Fault {
            pa: end,
            kind: FaultKind::NoMemory
        })
    );
    assert_eq!(
        m.ns_write(0x1000, &buf),
        Err(Fault {
            pa: 0x1000,
            kind: FaultKind::NoMemory
        })
    );
    assert_eq!(
        m.ns_read(u64::MAX - 3, &mut buf).unwrap_err().kind,
        FaultKind::NoMemory
    );
}

#[test]
fn host_cannot_touch_a_delegated_granule() {
    let m = machine();
    let pa = BANK0.0 + 3 * GRANULE;
    assert_eq!(delegate(&m, pa), SUCCESS);
    let mut buf = vec![0u8; 3 * GRANULE as usize];
    // A read that starts in the previous granule faults at the delegated one.
    assert_eq!(
        m.ns_read(pa - GRANULE, &mut buf),
        Err(Fault {
            pa,
            kind: FaultKind::GranuleProtection(Pas::Realm)
        })
    );
    assert_eq!(
        m.ns_write(pa + 100, &[1]),
        Err(Fault {
            pa: pa + 100,
            kind: FaultKind::GranuleProtection(Pas::Realm)
        })
    );
    let mut inside = [0xffu8; GRANULE as usize];
    m.debug_read(pa, &mut inside).unwrap();
    assert!(
        inside.iter().all(|&b| b == 0),
        "a faulting write changed realm memory"
    );
    assert_eq!(undelegate(&m, pa), SUCCESS);
    m.ns_read(pa - GRANULE, &mut buf).unwrap();
}

#[test]
fn rmm_read_of_non_ns_memory_fails_like_a_protection_fault() {
    let m = machine();
    let platform = m.rmm().platform();
    let pa = BANK1.0 + 2 * GRANULE;
    m.ns_write(pa, b"host data").unwrap();
    let mut buf = [0u8; 9];
    platform.ns_read(pa, &mut buf).unwrap();
    assert_eq!(&buf, b"host data");

    m.assign_pas(pa, Pas::Secure).unwrap();
    let mut buf = [0xeeu8; 9];
    assert_eq!(platform.ns_read(pa, &mut buf), Err(NsAccessFault { pa }));
    assert_eq!(buf, [0xee; 9], "a faulting read filled the buffer");
    assert_eq!(platform.ns_write(pa, b"rmm"), Err(NsAccessFault { pa }));

    m.assign_pas(pa, Pas::NonSecure).unwrap();
    assert_eq!(delegate(&m, pa), SUCCESS);
    assert_eq!(platform.ns_read(pa, &mut buf), Err(NsAccessFault { pa }));
}

#[test]
fn el3_never_moves_granules_in_or_out_of_the_realm_pas_for_the_host() {
    let m = machine();
    let pa = BANK0.0;
    assert_eq!(m.assign_pas(pa, Pas::Realm), Err(AssignError::Realm));
    assert_eq!(delegate(&m, pa), SUCCESS);
    assert_eq!(m.assign_pas(pa, Pas::NonSecure), Err(AssignError::Realm));
    assert_eq!(
        m.assign_pas(0x1000, Pas::Secure),
        Err(AssignError::NoMemory)
    );
    assert_eq!(m.pas(pa), Some(Pas::Realm));
}

#[test]
fn gtsi_refuses_what_el3_refuses() {
    let m = machine();
    let platform = m.rmm().platform();
    let pa = BANK0.0 + GRANULE;
    assert!(
        platform.gtsi_undelegate(pa).is_err(),
        "undelegate of an NS granule"
    );
    m.assign_pas(pa, Pas::Root).unwrap();
    assert!(
        platform.gtsi_delegate(pa).is_err(),
        "delegate of a Root granule"
    );
    assert_eq!(m.pas(pa), Some(Pas::Root));
}
