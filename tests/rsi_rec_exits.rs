//! REC exits the core decides for a realm's run (spec A4.3): IRQ, FIQ and SError carry only
//! what the spec lets the host see; realm data aborts at Protected IPAs go by RIPAS (A5.2.3).

mod common;
use common::realm::*;
use common::*;
use rmm::rec::{esr, hpfar, RealmTrap};
use rmm::rmi::params::RecExitReason;

#[test]
fn irq_fiq_serror_exits() {
    let w = RealmWorld::new(&[true]);
    let rec = w.rec(0);
    for (trap, reason) in [
        (RealmTrap::Irq, RecExitReason::Irq),
        (RealmTrap::Fiq, RecExitReason::Fiq),
    ] {
        let exit = w.run(rec, vec![Step::Trap(trap)]);
        assert_eq!(exit.exit_reason, reason);
        assert_eq!(
            (exit.esr, exit.far, exit.hpfar, exit.gprs),
            (0, 0, 0, [0; 31])
        );
    }
    // SError: EC, IDS, AET, EA and DFSC only (A4.3.10); IL and other ISS bits are dropped.
    let syndrome = 0x2f << 26 | 1 << 25 | 1 << 24 | 0x5 << 10 | 1 << 9 | 0x11 | 1 << 13;
    let exit = w.run(rec, vec![Step::Trap(RealmTrap::SError { esr: syndrome })]);
    assert_eq!(exit.exit_reason, RecExitReason::Serror);
    assert_eq!(exit.esr, 0x2f << 26 | 1 << 24 | 0x5 << 10 | 1 << 9 | 0x11);
    assert_eq!((exit.far, exit.hpfar, exit.gprs), (0, 0, [0; 31]));
}

#[test]
fn protected_data_aborts_by_ripas() {
    let w = RealmWorld::new(&[true]);
    let rec = w.rec(0);
    let abort = |ipa: u64| RealmTrap::Sync {
        esr: esr::data_abort(true, true, 3, 4),
        far: ipa,
        hpfar: hpfar(ipa),
    };
    // RIPAS RAM with nothing assigned, and DESTROYED: REC exit due to Data Abort, with EC,
    // FSC and HPFAR but not the instruction syndrome or FAR (A4.3.4.3).
    for ipa in [RAM_HOLE + 0x10, DEAD + 0x20] {
        let exit = w.run(rec, vec![Step::Trap(abort(ipa))]);
        assert_eq!(exit.exit_reason, RecExitReason::Sync);
        let expected = esr::EC_DABT_LOWER << esr::EC_SHIFT | esr::fsc_translation(3);
        assert_eq!((exit.esr, exit.far, exit.hpfar), (expected, 0, hpfar(ipa)));
        assert_eq!(exit.gprs, [0; 31], "no write data for a Protected IPA");
        // Not emulatable: emulated MMIO completion is refused.
        assert_eq!(w.enter_with(0, rec, 1, [0; 31]).0, ERROR_REC);
    }
    // RIPAS EMPTY: an SEA taken to the realm, no exit.
    w.run(rec, vec![Step::Trap(abort(EMPTY_IPA))]);
    let seen = w.last(rec);
    assert_eq!(seen.pc, 0x200, "the realm's VBAR_EL1 (0) + 0x200");
}
