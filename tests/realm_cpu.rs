//! The realm's CPU as an unmodified guest sees it: SMCCC discovery (spec B1.1), SGI writes
//! forwarded to the host, ID registers that match the realm (A3.1.3 to A3.1.8), other trapped
//! system registers UNDEFINED, and the GIC state of every exit (A6.1).

mod common;
use common::realm::*;
use rmm::host::host_id_registers;
use rmm::rec::{esr, id_registers, RealmTrap};
use rmm::rmi::params::RecExitReason;
use rmm::Platform;

const NOT_SUPPORTED: u64 = -1i64 as u64;
const SMCCC_VERSION: u64 = 0x8000_0000;
const SMCCC_ARCH_FEATURES: u64 = 0x8000_0001;
const PSCI_FEATURES: u64 = 0x8400_000A;

/// The syndrome of a trapped access to `S<op0>_<op1>_C<crn>_C<crm>_<op2>` with `rt`.
fn sysreg(name: (u64, u64, u64, u64, u64), rt: u64, read: bool) -> RealmTrap {
    let (op0, op1, crn, crm, op2) = name;
    let iss = op0 << 20 | op2 << 17 | op1 << 14 | crn << 10 | rt << 5 | crm << 1 | u64::from(read);
    RealmTrap::Sync {
        esr: esr::EC_SYSREG << esr::EC_SHIFT | esr::IL | iss,
        far: 0,
        hpfar: 0,
    }
}

#[test]
fn smccc_version_and_arch_features_answer_discovery() {
    let w = RealmWorld::new(&[true]);
    // The host platform's processor has SVE and SME: SMCCC 1.4 (B1.1).
    assert_eq!(w.call(&[SMCCC_VERSION])[0], 0x1_0004);
    assert_eq!(w.call(&[PSCI_FEATURES, SMCCC_VERSION])[0], 0);
    for (fid, answer) in [
        (SMCCC_VERSION, 0),
        (SMCCC_ARCH_FEATURES, 0),
        (0x8000_0002, NOT_SUPPORTED), // SMCCC_ARCH_SOC_ID
        (0x8000_8000, NOT_SUPPORTED), // SMCCC_ARCH_WORKAROUND_1
        (0x8000_7FFF, NOT_SUPPORTED), // SMCCC_ARCH_WORKAROUND_2
        (0x8000_3FFF, NOT_SUPPORTED), // SMCCC_ARCH_WORKAROUND_3
    ] {
        assert_eq!(w.call(&[SMCCC_ARCH_FEATURES, fid])[0], answer, "{fid:#x}");
    }
}

#[test]
fn unknown_smcs_return_not_supported_and_change_nothing_else() {
    let w = RealmWorld::new(&[true]);
    for fid in [
        0x8400_0050,
        0x8600_FF01,
        0xC200_0000,
        0xC300_0000,
        0x8000_0003,
    ] {
        let regs: Vec<u64> = (0..11)
            .map(|i| if i == 0 { fid } else { 0xabc0 + i })
            .collect();
        let out = w.call(&regs);
        assert_eq!(out[0], NOT_SUPPORTED, "{fid:#x}");
        assert_eq!(out[1..], regs[1..], "{fid:#x}: x1..x10 unchanged");
    }
}

#[test]
fn sgi_writes_exit_to_the_host_with_the_value_and_resume_after() {
    let w = RealmWorld::new(&[true]);
    let rec = w.rec(0);
    for (op2, rt) in [(5, 7), (6, 0), (7, 30)] {
        let pc = w.st(rec).pc();
        let value = 0x0100_0500_0000_0002 + op2;
        let mut regs = vec![0u64; 31];
        regs[rt as usize] = value;
        let exit = w.run(
            rec,
            vec![
                Step::Regs(regs),
                Step::Trap(sysreg((3, 0, 12, 11, op2), rt, false)),
            ],
        );
        assert_eq!(exit.exit_reason, RecExitReason::Sync);
        // EC and the register's name and direction; not IL, not Rt (the value is in gprs[0]).
        let name = 3 << 20 | op2 << 17 | 12 << 10 | 11 << 1;
        assert_eq!(exit.esr, esr::EC_SYSREG << esr::EC_SHIFT | name);
        assert_eq!(exit.gprs[0], value);
        assert_eq!(exit.gprs[1..], [0; 30]);
        w.run(rec, vec![]);
        assert_eq!(w.last(rec).pc, pc + 4, "resumed after the MSR");
    }
    // MSR from XZR: the value is zero.
    let exit = w.run(rec, vec![Step::Trap(sysreg((3, 0, 12, 11, 5), 31, false))]);
    assert_eq!((exit.exit_reason, exit.gprs[0]), (RecExitReason::Sync, 0));
}

#[test]
fn id_register_reads_return_the_realms_values() {
    let w = RealmWorld::new(&[true]);
    let rec = w.rec(0);
    let hw = host_id_registers();
    let features = rmm::realm::Rd::new(w.m.rmm().platform().granule(w.rd)).features();
    assert_eq!((features.num_bps, features.num_wps), (1, 1));
    for (crm, op2) in [
        (1, 0),
        (3, 2),
        (4, 0),
        (4, 1),
        (4, 4),
        (5, 0),
        (6, 2),
        (7, 0),
        (7, 4),
    ] {
        let pc = w.st(rec).pc();
        let exit = w.run(rec, vec![Step::Trap(sysreg((3, 0, 0, crm, op2), 9, true))]);
        assert_eq!(
            exit.exit_reason,
            RecExitReason::Irq,
            "answered without an exit"
        );
        w.run(rec, vec![]);
        let seen = w.last(rec);
        let expected = id_registers::realm_value(&hw, &features, crm as u8, op2 as u8);
        assert_eq!(seen.gprs[9], expected, "S3_0_C0_C{crm}_{op2}");
        assert_eq!(seen.pc, pc + 4);
    }
    // What that means, field by field, for this realm on a processor with every feature.
    let read = |crm: u8, op2: u8| id_registers::realm_value(&hw, &features, crm, op2);
    assert_eq!((read(4, 0) >> 32) & 0xf, 0, "no SVE");
    assert_eq!((read(4, 1) >> 24) & 0xf, 0, "no SME");
    assert_eq!((read(4, 1) >> 8) & 0xf, 0, "no MTE");
    assert_eq!((read(5, 0) >> 8) & 0xf, 0, "no PMU");
    assert_eq!((read(5, 0) >> 12) & 0xf, 1, "BRPs: the realm's num_bps");
    assert_eq!((read(5, 0) >> 20) & 0xf, 1, "WRPs: the realm's num_wps");
    assert_eq!(read(1, 0), 0, "no AArch32");
}

#[test]
fn other_trapped_system_registers_are_undefined_and_set_way_is_a_no_op() {
    let w = RealmWorld::new(&[true]);
    let rec = w.rec(0);
    // PMCR_EL0 (no PMU), GCR_EL1 (no MTE), ICC_SGI1R_EL1 read, an ID register write.
    for (name, read) in [
        ((3, 3, 9, 12, 0), true),
        ((3, 0, 1, 0, 6), false),
        ((3, 0, 12, 11, 5), true),
        ((3, 0, 0, 4, 0), false),
    ] {
        let pc = w.st(rec).pc();
        let exit = w.run(rec, vec![Step::Trap(sysreg(name, 3, read))]);
        assert_eq!(exit.exit_reason, RecExitReason::Irq, "{name:?}: no exit");
        let el1 = w.st(rec).load().el1;
        assert_eq!(el1.esr, esr::IL, "{name:?}: Unknown reason (EC 0)");
        assert_eq!(el1.elr, pc, "{name:?}: at the instruction");
        assert_eq!(w.st(rec).pc(), el1.vbar + 0x200, "{name:?}: the EL1 vector");
        // Back to where it was, for the next one.
        w.st(rec).set_pc(pc);
    }
    let pc = w.st(rec).pc();
    let exit = w.run(rec, vec![Step::Trap(sysreg((1, 0, 7, 14, 2), 0, false))]); // DC CISW
    assert_eq!(exit.exit_reason, RecExitReason::Irq);
    assert_eq!(w.st(rec).pc(), pc + 4);
}

#[test]
fn every_exit_reports_the_gic_vmcr_and_misr() {
    let w = RealmWorld::new(&[true]);
    let rec = w.rec(0);
    let (vmcr, misr) = (0xe800_0002, 0x2);
    let gic = || Step::Gic { vmcr, misr };
    let exits = [
        w.run(rec, vec![gic(), Step::Trap(RealmTrap::Irq)]),
        w.run(rec, vec![gic(), Step::Smc(vec![0xC400_0001, 0, 0, 0])]), // PSCI exit
        w.run(
            rec,
            vec![gic(), Step::Trap(sysreg((3, 0, 12, 11, 5), 1, false))],
        ),
    ];
    for exit in exits {
        assert_eq!((exit.gicv3_vmcr, exit.gicv3_misr), (vmcr, misr));
    }
    // The VMCR is the REC's: the next run starts with it.
    w.run(rec, vec![]);
    assert_eq!(w.last(rec).gic_vmcr, vmcr);
}
