//! REC_ENTER with a simulated realm: what the RMM handles itself, what reaches the host, and
//! the REC handle while the realm runs.

mod common;
use common::*;
use rmm::host::RealmModel;
use rmm::platform::RealmMemory;
use rmm::rec::{esr, hpfar, RealmTrap, VcpuContext};
use rmm::rmi::params::{RecEnter, RecEnterFlags, RecExit, RecExitReason};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

const VBAR: u64 = 0x8_0000;
const DATA_IPA: u64 = 0x4000_0000;
const EMPTY_IPA: u64 = 0x4000_2000;
const MMIO_IPA: u64 = (1 << 38) + 0x10;

/// A realm that walks through one scenario, a step per trap.
struct Script {
    step: AtomicUsize,
    /// Met inside step 5 by the realm and by the test, to hold the realm while it runs.
    running: Barrier,
    release: Barrier,
}

impl RealmModel for Script {
    fn run(
        &self,
        _cpu: usize,
        _rec: u64,
        vcpu: &mut VcpuContext,
        mem: &dyn RealmMemory,
    ) -> RealmTrap {
        let step = self.step.fetch_add(1, Ordering::SeqCst);
        let sync = |esr, ipa: u64| RealmTrap::Sync {
            esr,
            far: ipa,
            hpfar: hpfar(ipa),
        };
        match step {
            0 => {
                // Protected RAM works; then an emulatable MMIO load of x5 from the host.
                assert_eq!(vcpu.pc, 0x1000);
                assert_eq!(vcpu.gprs[..8], [0; 8]);
                mem.write(DATA_IPA + 8, &0xdead_beef_u64.to_le_bytes())
                    .unwrap();
                let mut back = [0u8; 8];
                mem.read(DATA_IPA + 8, &mut back).unwrap();
                assert_eq!(u64::from_le_bytes(back), 0xdead_beef);
                vcpu.el1.vbar = VBAR;
                assert!(mem.read(MMIO_IPA, &mut back).is_err());
                sync(esr::data_abort(false, true, 3, 5), MMIO_IPA)
            }
            1 => {
                // The host's value arrived in x5 and the load completed: a WFI.
                assert_eq!((vcpu.gprs[5], vcpu.pc), (0x1234, 0x1004));
                sync(esr::EC_WFX << esr::EC_SHIFT | esr::IL, 0)
            }
            2 => {
                // After the WFI: an HVC (ELR_EL2 past it).
                assert_eq!(vcpu.pc, 0x1008);
                vcpu.pc += 4;
                sync(esr::EC_HVC64 << esr::EC_SHIFT | esr::IL, 0)
            }
            3 => {
                // The HVC became an Unknown exception at it, taken at EL1.
                assert_eq!(vcpu.pc, VBAR + 0x200);
                assert_eq!(
                    (vcpu.el1.elr, esr::ec(vcpu.el1.esr)),
                    (0x1008, esr::EC_UNKNOWN)
                );
                // A load from a Protected IPA with RIPAS EMPTY.
                let mut b = [0u8; 4];
                assert!(mem.read(EMPTY_IPA, &mut b).is_err());
                vcpu.pc = 0x2000;
                sync(esr::data_abort(false, true, 2, 1), EMPTY_IPA)
            }
            4 => {
                // That was an SEA, taken to the realm, with no exit to the host.
                assert_eq!(vcpu.pc, VBAR + 0x200);
                assert_eq!(esr::ec(vcpu.el1.esr), esr::EC_DABT_CUR);
                assert_ne!(vcpu.el1.esr & esr::EA, 0);
                assert_eq!((vcpu.el1.elr, vcpu.el1.far), (0x2000, EMPTY_IPA));
                RealmTrap::Irq
            }
            5 => {
                self.running.wait();
                self.release.wait();
                RealmTrap::Fiq
            }
            _ => RealmTrap::Irq,
        }
    }
}

fn enter(
    m: &rmm::host::Machine,
    cpu: usize,
    rec: u64,
    run: u64,
    flags: u64,
    x0: u64,
) -> (u64, RecExit) {
    let mut gprs = [0u64; 31];
    gprs[0] = x0;
    let e = RecEnter {
        flags: RecEnterFlags::from_bits(flags),
        gprs,
        gicv3_hcr: 0,
        gicv3_lrs: [0; 16],
    };
    let mut page = [0u8; 2048];
    e.write(&mut page);
    m.ns_write(run, &page).unwrap();
    let x0 = m.smc(cpu, [RMI_REC_ENTER, rec, run, 0, 0, 0, 0, 0])[0];
    let mut whole = [0u8; 4096];
    m.ns_read(run, &mut whole).unwrap();
    (x0, RecExit::from_run(&whole).unwrap())
}

#[test]
fn rec_runs_and_exits_per_spec() {
    let m = machine();
    let script = Arc::new(Script {
        step: AtomicUsize::new(0),
        running: Barrier::new(2),
        release: Barrier::new(2),
    });
    assert!(m.set_realm_model(script.clone()));
    let mut g = Granules::new();
    let realm = new_realm(&m, &mut g);
    create_rtt(&m, &mut g, realm.rd, DATA_IPA, 2);
    create_rtt(&m, &mut g, realm.rd, DATA_IPA, 3);
    let src = g.ns();
    let data = g.delegated(&m);
    assert_eq!(
        rmi(&m, RMI_DATA_CREATE, &[realm.rd, data, DATA_IPA, src, 0])[0],
        SUCCESS
    );
    let rec = {
        let count = rmi(&m, RMI_REC_AUX_COUNT, &[realm.rd])[1] as usize;
        let aux: Vec<u64> = (0..count).map(|_| g.delegated(&m)).collect();
        let rec = g.delegated(&m);
        let params = g.ns();
        let mut page = [0u8; 4096];
        rec_params(0, 0x1000, [0; 8], &aux).write_to(&mut page);
        m.ns_write(params, &page).unwrap();
        assert_eq!(
            rmi(&m, RMI_REC_CREATE, &[realm.rd, rec, params])[0],
            SUCCESS
        );
        rec
    };
    let run = g.ns();
    // Not before the realm is active.
    assert_eq!(enter(&m, 0, rec, run, 0, 0).0, ERROR_REALM);
    assert_eq!(rmi(&m, RMI_REALM_ACTIVATE, &[realm.rd])[0], SUCCESS);
    // No MMIO to complete yet.
    assert_eq!(enter(&m, 0, rec, run, 1, 0).0, ERROR_REC);

    let (x0, exit) = enter(&m, 0, rec, run, 0, 0);
    assert_eq!(x0, SUCCESS);
    assert_eq!(exit.exit_reason, RecExitReason::Sync);
    let expected =
        esr::EC_DABT_LOWER << esr::EC_SHIFT | esr::ISV | 3 << esr::SAS_SHIFT | esr::SF | 7;
    assert_eq!(
        (exit.esr, exit.far, exit.hpfar),
        (expected, 0x10, hpfar(MMIO_IPA))
    );
    assert_eq!(exit.gprs, [0; 31], "a load exposes no register");

    // Complete the load with 0x1234; trap WFI (flag bit 2).
    let (x0, exit) = enter(&m, 1, rec, run, 1 | 1 << 2, 0x1234);
    assert_eq!(x0, SUCCESS);
    assert_eq!(
        (exit.exit_reason, exit.esr),
        (RecExitReason::Sync, esr::EC_WFX << esr::EC_SHIFT)
    );
    // HVC and the SEA are handled inside; the IRQ reaches the host.
    let (x0, exit) = enter(&m, 2, rec, run, 0, 0);
    assert_eq!(
        (x0, exit.exit_reason, exit.esr),
        (SUCCESS, RecExitReason::Irq, 0)
    );
    // Emulated MMIO after a non-MMIO exit is refused.
    assert_eq!(enter(&m, 0, rec, run, 1, 0).0, ERROR_REC);

    // While the REC runs, another entry and its destruction fail at once.
    std::thread::scope(|s| {
        let running = s.spawn(|| enter(&m, 0, rec, run, 0, 0));
        script.running.wait();
        let other_run = BANK1.0 + BANK1.1 - GRANULE;
        assert_eq!(
            m.smc(1, [RMI_REC_ENTER, rec, other_run, 0, 0, 0, 0, 0])[0],
            ERROR_REC
        );
        assert_eq!(rmi_on(&m, 2, RMI_REC_DESTROY, &[rec])[0], ERROR_REC);
        script.release.wait();
        let (x0, exit) = running.join().unwrap();
        assert_eq!((x0, exit.exit_reason), (SUCCESS, RecExitReason::Fiq));
    });
    assert_eq!(rmi(&m, RMI_REC_DESTROY, &[rec])[0], SUCCESS);
}

fn rmi_on(m: &rmm::host::Machine, cpu: usize, fid: u64, args: &[u64]) -> [u64; 8] {
    let mut regs = [0u64; 8];
    regs[0] = fid;
    regs[1..=args.len()].copy_from_slice(args);
    m.smc(cpu, regs)
}
