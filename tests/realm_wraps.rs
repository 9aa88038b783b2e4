//! Realm-controlled addresses at the top of the address space (issue 14, item 3): the PC
//! stepped past an instruction the RMM handles at 2^64 - 4 wraps to 0, an HVC whose return
//! address wrapped to 0 is found at 2^64 - 4, and an exception vector is VBAR_EL1[63:11] with
//! the vector offset, as the architecture computes them. None of it may panic (overflow checks
//! are on in test builds).

mod common;
use common::realm::*;
use common::*;
use rmm::rec::{esr, hpfar, RealmTrap};
use rmm::rmi::params::{RecEnterFlags, RecExitReason};

/// The last instruction of the 64-bit address space.
const TOP: u64 = 0xffff_ffff_ffff_fffc;
const RSI_VERSION: u64 = 0xC400_0190;
const RSI_REALM_CONFIG: u64 = 0xC400_0196;

fn jump(pc: u64) -> Step {
    Step::Set(Box::new(move |vcpu| vcpu.pc = pc))
}

fn sync(esr: u64) -> Step {
    Step::Trap(RealmTrap::Sync {
        esr,
        far: 0,
        hpfar: 0,
    })
}

/// Runs `steps` on REC 0 from PC `TOP`: the exit, and the PC the realm then resumed at (the
/// model's next run), if it did.
fn from_top(w: &RealmWorld, steps: Vec<Step>) -> RecExitReason {
    let rec = w.rec(0);
    let mut all = vec![jump(TOP)];
    all.extend(steps);
    w.run(rec, all).exit_reason
}

#[test]
fn smc_at_the_top_resumes_at_0() {
    let w = RealmWorld::new(&[true]);
    let rec = w.rec(0);
    // RSI_VERSION, answered at once.
    let smc = Step::Smc(vec![RSI_VERSION, 0x1_0000]);
    assert_eq!(from_top(&w, vec![smc]), RecExitReason::Irq);
    let seen = w.last(rec);
    assert_eq!((seen.pc, seen.gprs[0]), (0, 0));
    // An SMC that is neither RSI nor PSCI.
    let smc = Step::Smc(vec![0xC400_01AF]);
    assert_eq!(from_top(&w, vec![smc]), RecExitReason::Irq);
    let seen = w.last(rec);
    assert_eq!((seen.pc, seen.gprs[0]), (0, u64::MAX));
}

#[test]
fn rsi_memory_fault_at_the_top_leaves_the_pc_at_the_smc() {
    let w = RealmWorld::new(&[true]);
    let rec = w.rec(0);
    // RSI_REALM_CONFIG's buffer is RIPAS RAM with nothing assigned: the REC exits due to Data
    // Abort there, with the SMC to be executed again.
    let smc = Step::Smc(vec![RSI_REALM_CONFIG, RAM_HOLE]);
    assert_eq!(from_top(&w, vec![smc]), RecExitReason::Sync);
    assert_eq!(w.st(rec).pc(), TOP);
}

#[test]
fn wfi_at_the_top_resumes_or_exits_at_0() {
    let w = RealmWorld::new(&[true]);
    let rec = w.rec(0);
    let wfi = esr::EC_WFX << esr::EC_SHIFT | esr::IL;
    // Not trapped: the WFI completes and the realm goes on.
    assert_eq!(from_top(&w, vec![sync(wfi)]), RecExitReason::Irq);
    assert_eq!(w.last(rec).pc, 0);
    // Trapped: the REC exits, to resume after it.
    w.push(rec, vec![jump(TOP), sync(wfi)]);
    let (x0, exit) = w.enter_with(0, rec, RecEnterFlags::TRAP_WFI, [0; 31]);
    assert_eq!((x0, exit.exit_reason), (SUCCESS, RecExitReason::Sync));
    assert_eq!(w.st(rec).pc(), 0);
}

#[test]
fn sysreg_trap_at_the_top_resumes_at_0() {
    let w = RealmWorld::new(&[true]);
    let rec = w.rec(0);
    // MRS x3, ID_AA64PFR0_EL1 (op0 3, CRm 4), emulated: Rt in ISS 9:5, direction (read) bit 0.
    let mrs = esr::EC_SYSREG << esr::EC_SHIFT | esr::IL | 3 << 20 | 4 << 1 | 3 << 5 | 1;
    let steps = vec![Step::Set(Box::new(|vcpu| vcpu.gprs[3] = 7)), sync(mrs)];
    assert_eq!(from_top(&w, steps), RecExitReason::Irq);
    let seen = w.last(rec);
    assert_eq!(seen.pc, 0);
    assert_ne!(seen.gprs[3], 7, "x3 holds the realm's ID_AA64PFR0_EL1");
}

#[test]
fn emulated_mmio_at_the_top_resumes_at_0() {
    let w = RealmWorld::new(&[true]);
    let rec = w.rec(0);
    // LDR x5, [Unprotected IPA]: an emulatable data abort.
    let load = RealmTrap::Sync {
        esr: esr::data_abort(false, true, 3, 5),
        far: UNPROTECTED,
        hpfar: hpfar(UNPROTECTED),
    };
    assert_eq!(from_top(&w, vec![Step::Trap(load)]), RecExitReason::Sync);
    assert_eq!(w.st(rec).pc(), TOP);
    let mut gprs = [0; 31];
    gprs[0] = 0x1234;
    let (x0, exit) = w.enter_with(0, rec, RecEnterFlags::EMUL_MMIO, gprs);
    assert_eq!((x0, exit.exit_reason), (SUCCESS, RecExitReason::Irq));
    let seen = w.last(rec);
    assert_eq!((seen.pc, seen.gprs[5]), (0, 0x1234));
}

#[test]
fn hvc_at_the_top_is_an_undefined_instruction_there() {
    let w = RealmWorld::new(&[true]);
    let rec = w.rec(0);
    // The HVC at 2^64 - 4: the hardware reports the return address past it, wrapped to 0.
    let hvc = esr::EC_HVC64 << esr::EC_SHIFT | esr::IL;
    let steps = vec![jump(0), sync(hvc)];
    assert_eq!(w.run(rec, steps).exit_reason, RecExitReason::Irq);
    // An Unknown exception taken from EL1 at the HVC: VBAR_EL1 (0) + 0x200.
    assert_eq!(w.last(rec).pc, 0x200);
    let el1 = w.st(rec).load().el1;
    assert_eq!((el1.elr, el1.esr >> esr::EC_SHIFT), (TOP, esr::EC_UNKNOWN));
}

#[test]
fn exception_vector_near_the_top_is_vbar_63_11_with_the_offset() {
    let w = RealmWorld::new(&[true]);
    let rec = w.rec(0);
    let undefined = sync(0x3f << esr::EC_SHIFT | esr::IL); // an EC the RMM does not handle
                                                           // VBAR_EL1.VBA is bits 63:11; bits 10:0 are RES0, and may read back as written.
    for (vbar, vector) in [
        (0xffff_ffff_ffff_f800, 0xffff_ffff_ffff_fa00),
        (0xffff_ffff_ffff_fe00, 0xffff_ffff_ffff_fa00),
        (u64::MAX, 0xffff_ffff_ffff_fa00),
    ] {
        let set_vbar = Step::Set(Box::new(move |vcpu| vcpu.el1.vbar = vbar));
        let steps = vec![set_vbar, jump(TOP), undefined_again(&undefined)];
        assert_eq!(w.run(rec, steps).exit_reason, RecExitReason::Irq);
        assert_eq!(w.last(rec).pc, vector, "VBAR_EL1 {vbar:#x}");
        assert_eq!(w.st(rec).load().el1.elr, TOP);
    }
    // From EL0 the vector is at +0x400.
    let to_el0 = Step::Set(Box::new(|vcpu| {
        vcpu.el1.vbar = u64::MAX;
        vcpu.pstate = 0; // EL0t
    }));
    let steps = vec![to_el0, jump(TOP), undefined_again(&undefined)];
    assert_eq!(w.run(rec, steps).exit_reason, RecExitReason::Irq);
    assert_eq!(w.last(rec).pc, 0xffff_ffff_ffff_fc00);
}

/// Another copy of a trap step.
fn undefined_again(step: &Step) -> Step {
    match step {
        Step::Trap(trap) => Step::Trap(*trap),
        _ => unreachable!(),
    }
}
