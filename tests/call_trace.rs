//! The call trace (`Machine::trace_calls`): one line per RMI call, and per RSI or PSCI call a
//! realm makes, with the spec's name, the input registers and the output registers.

mod common;
use common::realm::*;
use common::*;
use rmm::rmi::params::RecExitReason;

const RSI_VERSION: u64 = 0xC400_0190;
const RSI_HOST_CALL: u64 = 0xC400_0199;
const PSCI_VERSION: u64 = 0x8400_0000;
const PSCI_CPU_ON: u64 = 0xC400_0003;
const PSCI_FEATURES: u64 = 0x8400_000A;

#[test]
fn rmi_calls_are_traced_with_their_inputs_and_outputs() {
    let m = machine();
    assert_eq!(delegate(&m, BANK0.0 + GRANULE), SUCCESS);
    assert!(m.take_trace().is_empty(), "off by default");
    m.trace_calls(true);
    rmi(&m, RMI_VERSION, &[0x1_0000, 0xaa]);
    assert_eq!(delegate(&m, BANK0.0), SUCCESS);
    assert_eq!(delegate(&m, BANK0.0), ERROR_INPUT);
    let out = m.smc(3, [RMI_GRANULE_UNDELEGATE, BANK0.0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(out[0], SUCCESS);
    let features = rmi(&m, RMI_FEATURES, &[0])[1];
    rmi(&m, RMI_RTT_READ_ENTRY, &[BANK0.0 + GRANULE, 0, 3]);
    rmi(&m, 0xC400_0156, &[1, 2]);
    m.trace_calls(false);
    rmi(&m, RMI_VERSION, &[0x1_0000]);
    assert_eq!(
        m.take_trace(),
        [
            "CPU 0: RMI_VERSION 0x10000 -> 0x0 0x10000 0x10000".to_string(),
            "CPU 0: RMI_GRANULE_DELEGATE 0x80000000 -> 0x0".into(),
            "CPU 0: RMI_GRANULE_DELEGATE 0x80000000 -> 0x1".into(),
            "CPU 3: RMI_GRANULE_UNDELEGATE 0x80000000 -> 0x0".into(),
            format!("CPU 0: RMI_FEATURES 0x0 -> 0x0 {features:#x}"),
            "CPU 0: RMI_RTT_READ_ENTRY 0x80001000 0x0 0x3 -> 0x1 0x0 0x0 0x0 0x0".into(),
            "CPU 0: SMC 0xc4000156 -> 0xffffffffffffffff".into(),
        ]
    );
}

#[test]
fn realm_calls_are_traced_and_exits_to_the_host_say_so() {
    let w = RealmWorld::new(&[true, true]);
    let rec = w.rec(1);
    w.m.trace_calls(true);
    w.call(&[RSI_VERSION, 0x1_0000]);
    w.call(&[PSCI_VERSION, 7]);
    w.call(&[PSCI_FEATURES, PSCI_VERSION]);
    w.call(&[0xC400_01FF, 1]);
    let exit = w.run_on(5, rec, vec![Step::Smc(vec![RSI_HOST_CALL, DATA])]);
    assert_eq!(exit.exit_reason, RecExitReason::HostCall);
    let exit = w.run(w.rec(0), vec![Step::Smc(vec![PSCI_CPU_ON, 1, PC, 9])]);
    assert_eq!(exit.exit_reason, RecExitReason::Psci);
    let trace = w.m.take_trace();
    let enter = |cpu, rec: u64| format!("CPU {cpu}: RMI_REC_ENTER {rec:#x} ");
    let (enters, calls): (Vec<_>, Vec<_>) = trace.iter().partition(|l| l.contains("REC_ENTER"));
    let cpus_recs = [0, 0, 0, 0, 5, 0].map(|cpu| (cpu, if cpu == 5 { rec } else { w.rec(0) }));
    assert_eq!(enters.len(), cpus_recs.len());
    for (line, (cpu, rec)) in enters.iter().zip(cpus_recs) {
        assert!(
            line.starts_with(&enter(cpu, rec)) && line.ends_with(" -> 0x0"),
            "{line}"
        );
    }
    assert_eq!(
        calls,
        [
            "CPU 0: RSI_VERSION 0x10000 -> 0x0 0x10000 0x10000",
            "CPU 0: PSCI_VERSION -> 0x10001",
            "CPU 0: PSCI_FEATURES 0x84000000 -> 0x0",
            "CPU 0: SMC 0xc40001ff -> 0xffffffffffffffff",
            "CPU 5: RSI_HOST_CALL 0x40009000 -> exit to host",
            "CPU 0: PSCI_CPU_ON 0x1 0x1000 0x9 -> exit to host",
        ]
    );
    // Each realm call comes before the REC_ENTER it happened in, which completes after it.
    assert!(trace[0].starts_with("CPU 0: RSI_VERSION") && trace[1].contains("REC_ENTER"));
}
