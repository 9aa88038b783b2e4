//! A realm's life in brief: create, tables down to level 3, read back, tear down to nothing.

mod common;
use common::*;
use rmm::granule::GranuleState;
use rmm::host::Pas;

#[test]
fn realm_lifecycle_with_tables_leaves_nothing_behind() {
    let m = machine();
    let mut g = Granules::new();
    let realm = new_realm(&m, &mut g);
    assert_eq!(m.granule_state(realm.rd), Some(GranuleState::Rd));
    assert_eq!(m.granule_state(realm.rtt), Some(GranuleState::Rtt));
    // A protected IPA starts UNASSIGNED, RIPAS EMPTY; an unprotected one UNASSIGNED_NS.
    assert_eq!(read_entry(&m, realm.rd, 0, 1), [SUCCESS, 1, 0, 0, 0]);
    assert_eq!(read_entry(&m, realm.rd, 1 << 38, 1), [SUCCESS, 1, 0, 0, 0]);

    let l2 = create_rtt(&m, &mut g, realm.rd, 0x4000_0000, 2);
    let l3 = create_rtt(&m, &mut g, realm.rd, 0x4020_0000, 3);
    assert_eq!(
        read_entry(&m, realm.rd, 0x4020_0000, 3),
        [SUCCESS, 3, 0, 0, 0]
    );
    assert_eq!(
        read_entry(&m, realm.rd, 0x4000_0000, 1)[..4],
        [SUCCESS, 1, 2, l2]
    );
    assert_eq!(rmi(&m, RMI_REALM_ACTIVATE, &[realm.rd])[0], SUCCESS);

    // The realm is live while it has tables.
    assert_eq!(rmi(&m, RMI_REALM_DESTROY, &[realm.rd])[0], ERROR_REALM);
    // `top`: no live entry is left in the table walked, so the IPA just past it.
    let out = rmi(&m, RMI_RTT_DESTROY, &[realm.rd, 0x4020_0000, 3]);
    assert_eq!(out[..3], [SUCCESS, l3, 0x8000_0000]);
    let out = rmi(&m, RMI_RTT_DESTROY, &[realm.rd, 0x4000_0000, 2]);
    assert_eq!(out[..3], [SUCCESS, l2, 1 << 39]);
    // RIPAS DESTROYED where the table was.
    assert_eq!(
        read_entry(&m, realm.rd, 0x4000_0000, 2),
        [SUCCESS, 1, 0, 0, 2]
    );
    assert_eq!(rmi(&m, RMI_REALM_DESTROY, &[realm.rd])[0], SUCCESS);
    assert_eq!(m.tlb_invalidations().1, 1, "one VMID-wide invalidation");

    for pa in [realm.rd, realm.rtt, l2, l3] {
        assert_eq!(m.granule_state(pa), Some(GranuleState::Delegated));
        assert_eq!(undelegate(&m, pa), SUCCESS);
        let mut page = [0xffu8; GRANULE as usize];
        m.ns_read(pa, &mut page).unwrap();
        assert!(page.iter().all(|&b| b == 0), "{pa:#x} not wiped");
        assert_eq!(m.pas(pa), Some(Pas::NonSecure));
    }
    // The VMID is free again.
    let again = new_realm(&m, &mut g);
    assert_eq!(m.granule_state(again.rd), Some(GranuleState::Rd));
}
