//! A realm's CPU_ON completed by the host with RMI_PSCI_COMPLETE, and its RIPAS change applied
//! with RMI_RTT_SET_RIPAS.

mod common;
use common::*;
use rmm::host::RealmModel;
use rmm::platform::RealmMemory;
use rmm::rec::{esr, RealmTrap, VcpuContext};
use rmm::rmi::params::{RecEnter, RecEnterFlags, RecExit, RecExitReason, RmiRipas};
use std::sync::Mutex;

const SMC: u64 = esr::EC_SMC64 << esr::EC_SHIFT | esr::IL;
const CPU_ON: u64 = 0xC400_0003;
const IPA_STATE_SET: u64 = 0xC400_0197;

/// Per REC: what it saw on entry, then the SMC it makes next.
struct Calls {
    seen: Mutex<Vec<(u64, [u64; 3], u64)>>,
    next: Mutex<Vec<[u64; 5]>>,
}

impl RealmModel for Calls {
    fn run(
        &self,
        _cpu: usize,
        rec: u64,
        vcpu: &mut VcpuContext,
        _m: &dyn RealmMemory,
    ) -> RealmTrap {
        self.seen
            .lock()
            .unwrap()
            .push((rec, [vcpu.gprs[0], vcpu.gprs[1], vcpu.gprs[2]], vcpu.pc));
        match self.next.lock().unwrap().pop() {
            Some(call) => {
                vcpu.gprs[..5].copy_from_slice(&call);
                RealmTrap::Sync {
                    esr: SMC,
                    far: 0,
                    hpfar: 0,
                }
            }
            None => RealmTrap::Irq,
        }
    }
}

fn enter(m: &rmm::host::Machine, rec: u64, run: u64, flags: u64) -> (u64, RecExit) {
    let e = RecEnter {
        flags: RecEnterFlags::from_bits(flags),
        gprs: [0; 31],
        gicv3_hcr: 0,
        gicv3_lrs: [0; 16],
    };
    let mut page = [0u8; 2048];
    e.write(&mut page);
    m.ns_write(run, &page).unwrap();
    let x0 = rmi(m, RMI_REC_ENTER, &[rec, run])[0];
    let mut whole = [0u8; 4096];
    m.ns_read(run, &mut whole).unwrap();
    (x0, RecExit::from_run(&whole).unwrap())
}

#[test]
fn cpu_on_and_ripas_change_round_trip_through_the_host() {
    let m = machine();
    let calls = std::sync::Arc::new(Calls {
        seen: Mutex::new(vec![]),
        next: Mutex::new(vec![]),
    });
    m.set_realm_model(calls.clone());
    let mut g = Granules::new();
    let realm = new_realm(&m, &mut g);
    create_rtt(&m, &mut g, realm.rd, 0x4000_0000, 2);
    create_rtt(&m, &mut g, realm.rd, 0x4000_0000, 3);
    let rec0 = new_rec(&m, &mut g, realm.rd, 0);
    // REC 1 starts off (not runnable).
    let rec1 = {
        let count = rmi(&m, RMI_REC_AUX_COUNT, &[realm.rd])[1] as usize;
        let aux: Vec<u64> = (0..count).map(|_| g.delegated(&m)).collect();
        let rec = g.delegated(&m);
        let params = g.ns();
        let mut p = rec_params(1, 0x1000, [0; 8], &aux);
        p.flags = rmm::rmi::params::RecCreateFlags::from_bits(0);
        let mut page = [0u8; 4096];
        p.write_to(&mut page);
        m.ns_write(params, &page).unwrap();
        assert_eq!(
            rmi(&m, RMI_REC_CREATE, &[realm.rd, rec, params])[0],
            SUCCESS
        );
        rec
    };
    assert_eq!(rmi(&m, RMI_REALM_ACTIVATE, &[realm.rd])[0], SUCCESS);
    let run = g.ns();
    assert_eq!(enter(&m, rec1, run, 0).0, ERROR_REC, "not runnable");

    // REC 0: CPU_ON(REC 1, entry 0x3000, context 0x77).
    calls
        .next
        .lock()
        .unwrap()
        .push([CPU_ON, 1, 0x3000, 0x77, 0]);
    let (x0, exit) = enter(&m, rec0, run, 0);
    assert_eq!((x0, exit.exit_reason), (SUCCESS, RecExitReason::Psci));
    assert_eq!(exit.gprs[..4], [CPU_ON, 1, 0x3000, 0x77]);
    assert_eq!(enter(&m, rec0, run, 0).0, ERROR_REC, "PSCI request pending");
    // DENIED is permitted for a CPU_ON of a REC that is off; something else is not.
    assert_eq!(
        rmi(&m, RMI_PSCI_COMPLETE, &[rec0, rec1, (-9i64) as u64])[0],
        ERROR_INPUT
    );
    assert_eq!(rmi(&m, RMI_PSCI_COMPLETE, &[rec0, rec1, 0])[0], SUCCESS);
    assert_eq!(
        rmi(&m, RMI_PSCI_COMPLETE, &[rec0, rec1, 0])[0],
        ERROR_INPUT,
        "nothing pending"
    );
    assert_eq!(enter(&m, rec1, run, 0).0, SUCCESS);
    assert_eq!(enter(&m, rec0, run, 0).0, SUCCESS);
    let seen = calls.seen.lock().unwrap().clone();
    assert_eq!(
        seen[1],
        (rec1, [0x77, 0, 0], 0x3000),
        "REC 1 starts at the entry point"
    );
    assert_eq!(
        seen[2],
        (rec0, [0, 0, 0], 0x1004),
        "CPU_ON returned SUCCESS after the SMC"
    );

    // REC 0 asks for RIPAS RAM over 8 KiB; the host applies 4 KiB of it, then the rest.
    let (base, top) = (0x4000_0000, 0x4000_2000);
    calls
        .next
        .lock()
        .unwrap()
        .push([IPA_STATE_SET, base, top, 1, 0]);
    let (_, exit) = enter(&m, rec0, run, 0);
    assert_eq!(exit.exit_reason, RecExitReason::RipasChange);
    assert_eq!(
        (exit.ripas_base, exit.ripas_top, exit.ripas_value),
        (base, top, RmiRipas::Ram)
    );
    assert_eq!(
        rmi(&m, RMI_RTT_SET_RIPAS, &[realm.rd, rec0, base + 0x1000, top])[0],
        ERROR_INPUT
    );
    assert_eq!(
        rmi(
            &m,
            RMI_RTT_SET_RIPAS,
            &[realm.rd, rec0, base, base + 0x1000]
        )[..2],
        [SUCCESS, base + 0x1000]
    );
    assert_eq!(read_entry(&m, realm.rd, base, 3), [SUCCESS, 3, 0, 0, 1]);
    assert_eq!(
        read_entry(&m, realm.rd, base + 0x1000, 3),
        [SUCCESS, 3, 0, 0, 0]
    );
    assert_eq!(
        rmi(&m, RMI_RTT_SET_RIPAS, &[realm.rd, rec0, base + 0x1000, top])[..2],
        [SUCCESS, top]
    );
    assert_eq!(
        read_entry(&m, realm.rd, base + 0x1000, 3),
        [SUCCESS, 3, 0, 0, 1]
    );
    assert_eq!(enter(&m, rec0, run, 0).0, SUCCESS);
    let seen = calls.seen.lock().unwrap().clone();
    assert_eq!(
        seen.last().unwrap().1,
        [0, top, 0],
        "RSI_SUCCESS, new base, accepted"
    );
    assert_eq!(
        rmi(&m, RMI_RTT_SET_RIPAS, &[realm.rd, rec0, top, top + 0x1000])[0],
        ERROR_INPUT,
        "no change pending"
    );
}
