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

#[test]
fn realm_with_data_measured_and_torn_down() {
    let m = machine();
    let mut g = Granules::new();
    let realm = new_realm(&m, &mut g);
    create_rtt(&m, &mut g, realm.rd, 0x4000_0000, 2);
    let l3 = create_rtt(&m, &mut g, realm.rd, 0x4000_0000, 3);
    let out = rmi(
        &m,
        RMI_RTT_INIT_RIPAS,
        &[realm.rd, 0x4000_0000, 0x4000_2000],
    );
    assert_eq!(out[..2], [SUCCESS, 0x4000_2000]);
    assert_eq!(
        read_entry(&m, realm.rd, 0x4000_1000, 3),
        [SUCCESS, 3, 0, 0, 1]
    );
    assert_eq!(
        read_entry(&m, realm.rd, 0x4000_2000, 3),
        [SUCCESS, 3, 0, 0, 0]
    );

    let src = g.ns();
    m.ns_write(src, &[0x5a; GRANULE as usize]).unwrap();
    let data = g.delegated(&m);
    let out = rmi(&m, RMI_DATA_CREATE, &[realm.rd, data, 0x4000_0000, src, 1]);
    assert_eq!(out[0], SUCCESS);
    // ASSIGNED, RIPAS RAM: a valid page descriptor (layout in src/rtt/entry.rs) to `data`.
    assert_eq!(
        read_entry(&m, realm.rd, 0x4000_0000, 3),
        [SUCCESS, 3, 1, data, 1]
    );
    let mut copied = [0u8; GRANULE as usize];
    m.debug_read(data, &mut copied).unwrap();
    assert!(copied.iter().all(|&b| b == 0x5a));
    let unknown = g.delegated(&m);
    let out = rmi(
        &m,
        RMI_DATA_CREATE_UNKNOWN,
        &[realm.rd, unknown, 0x4000_3000],
    );
    assert_eq!(out[0], SUCCESS);
    assert_eq!(
        read_entry(&m, realm.rd, 0x4000_3000, 3),
        [SUCCESS, 3, 1, unknown, 0]
    );
    // Not in a NEW realm any more: DATA_CREATE is refused, DATA_CREATE_UNKNOWN is not.
    assert_eq!(rmi(&m, RMI_REALM_ACTIVATE, &[realm.rd])[0], SUCCESS);
    let late = g.delegated(&m);
    let out = rmi(&m, RMI_DATA_CREATE, &[realm.rd, late, 0x4000_4000, src, 0]);
    assert_eq!(out[0], ERROR_REALM);

    // Tear down: `top` is the next live entry, then past the table.
    let out = rmi(&m, RMI_DATA_DESTROY, &[realm.rd, 0x4000_0000]);
    assert_eq!(out[..3], [SUCCESS, data, 0x4000_3000]);
    assert_eq!(
        read_entry(&m, realm.rd, 0x4000_0000, 3),
        [SUCCESS, 3, 0, 0, 2]
    );
    let out = rmi(&m, RMI_DATA_DESTROY, &[realm.rd, 0x4000_3000]);
    assert_eq!(out[..3], [SUCCESS, unknown, 0x4020_0000]);
    assert_eq!(
        read_entry(&m, realm.rd, 0x4000_3000, 3),
        [SUCCESS, 3, 0, 0, 0]
    );
    assert_eq!(
        m.tlb_invalidations().0,
        1,
        "only the valid page needed invalidation"
    );
    assert_eq!(
        rmi(&m, RMI_RTT_DESTROY, &[realm.rd, 0x4000_0000, 3])[..2],
        [SUCCESS, l3]
    );
    for pa in [data, unknown] {
        assert_eq!(m.granule_state(pa), Some(GranuleState::Delegated));
        assert_eq!(undelegate(&m, pa), SUCCESS);
        let mut page = [0xffu8; GRANULE as usize];
        m.ns_read(pa, &mut page).unwrap();
        assert!(page.iter().all(|&b| b == 0), "{pa:#x} not wiped");
    }
}

#[test]
fn recs_keep_their_realm_alive() {
    let m = machine();
    let mut g = Granules::new();
    let realm = new_realm(&m, &mut g);
    assert_eq!(rmi(&m, RMI_REC_AUX_COUNT, &[realm.rd])[..2], [SUCCESS, 4]);
    let rec0 = new_rec(&m, &mut g, realm.rd, 0);
    let rec1 = new_rec(&m, &mut g, realm.rd, 1);
    assert_eq!(m.granule_state(rec0), Some(GranuleState::Rec));
    assert_eq!(rmi(&m, RMI_REALM_DESTROY, &[realm.rd])[0], ERROR_REALM);
    for rec in [rec1, rec0] {
        assert_eq!(rmi(&m, RMI_REC_DESTROY, &[rec])[0], SUCCESS);
        assert_eq!(m.granule_state(rec), Some(GranuleState::Delegated));
    }
    assert_eq!(rmi(&m, RMI_REALM_DESTROY, &[realm.rd])[0], SUCCESS);
}

/// Issue 3's whole-lifecycle scenario: create, populate, activate, enter, then destroy in
/// reverse until every granule is UNDELEGATED and reads as zero from the host.
#[test]
fn whole_lifecycle_returns_every_granule_zeroed() {
    let m = machine();
    let mut g = Granules::new();
    let realm = new_realm(&m, &mut g);
    let l2 = create_rtt(&m, &mut g, realm.rd, 0x4000_0000, 2);
    let l3 = create_rtt(&m, &mut g, realm.rd, 0x4000_0000, 3);
    assert_eq!(
        rmi(
            &m,
            RMI_RTT_INIT_RIPAS,
            &[realm.rd, 0x4000_0000, 0x4000_3000]
        )[0],
        SUCCESS
    );
    let src = g.ns();
    m.ns_write(src, &[0xc3; GRANULE as usize]).unwrap();
    let data: Vec<u64> = (0..3).map(|_| g.delegated(&m)).collect();
    for (i, &d) in data.iter().enumerate() {
        let ipa = 0x4000_0000 + i as u64 * GRANULE;
        assert_eq!(
            rmi(&m, RMI_DATA_CREATE, &[realm.rd, d, ipa, src, 1])[0],
            SUCCESS
        );
    }
    let aux_start = g.0;
    let rec = new_rec(&m, &mut g, realm.rd, 0);
    assert_eq!(rmi(&m, RMI_REALM_ACTIVATE, &[realm.rd])[0], SUCCESS);
    let run = g.ns();
    m.ns_write(run, &[0u8; 4096]).unwrap();
    for _ in 0..3 {
        // No realm model registered: each entry exits at once with an IRQ.
        assert_eq!(rmi(&m, RMI_REC_ENTER, &[rec, run])[0], SUCCESS);
        let mut reason = [0u8; 1];
        m.ns_read(run + 0x800, &mut reason).unwrap();
        assert_eq!(reason[0], 1, "RMI_EXIT_IRQ");
    }

    assert_eq!(rmi(&m, RMI_REC_DESTROY, &[rec])[0], SUCCESS);
    for i in 0..3 {
        let out = rmi(&m, RMI_DATA_DESTROY, &[realm.rd, 0x4000_0000 + i * GRANULE]);
        assert_eq!(out[..2], [SUCCESS, data[i as usize]]);
    }
    assert_eq!(
        rmi(&m, RMI_RTT_DESTROY, &[realm.rd, 0x4000_0000, 3])[..2],
        [SUCCESS, l3]
    );
    assert_eq!(
        rmi(&m, RMI_RTT_DESTROY, &[realm.rd, 0x4000_0000, 2])[..2],
        [SUCCESS, l2]
    );
    assert_eq!(rmi(&m, RMI_REALM_DESTROY, &[realm.rd])[0], SUCCESS);

    // Every granule the realm used, aux granules included, comes back.
    let aux: Vec<u64> = (aux_start..rec).step_by(GRANULE as usize).collect();
    assert_eq!(aux.len(), 4);
    let used = [realm.rd, realm.rtt, l2, l3, rec]
        .into_iter()
        .chain(data)
        .chain(aux);
    for pa in used {
        assert_eq!(
            m.granule_state(pa),
            Some(GranuleState::Delegated),
            "{pa:#x}"
        );
        assert_eq!(undelegate(&m, pa), SUCCESS);
        let mut page = [0xffu8; GRANULE as usize];
        m.ns_read(pa, &mut page).unwrap();
        assert!(page.iter().all(|&b| b == 0), "{pa:#x} not wiped");
    }
    assert!(m
        .rmm()
        .granules()
        .iter()
        .all(|(_, g)| g.state() == GranuleState::Undelegated));
}
