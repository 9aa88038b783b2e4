//! GRANULE_DELEGATE and GRANULE_UNDELEGATE: the Normal world loses access to a delegated
//! granule (a Granule Protection Fault, caught here) and gets it back wiped.

use crate::console::println;
use crate::granule::Granule;
use crate::pool::Pool;
use crate::report::{check, fail, rmi, Outcome};
use crate::rmi::{self as call, ERROR_INPUT};
use ns_el2::exceptions::{probe_read, Probe};

/// How many granules the scenario delegates.
const COUNT: usize = 3;
/// The content the host leaves in them before delegating.
const PATTERN: u64 = 0xa5a5_0000_0000_0000;
/// ESR_EL2 of a data read taking a GPF at NS-EL2: EC 0x25, IL, DFSC 0x28 (GPF, not on walk).
const ESR_GPF_READ: u64 = 0x9600_0028;

/// The scenarios; `dram_end` is the end of DRAM the device tree gives.
pub fn run(pool: &mut Pool, dram_end: u64) {
    check(
        format_args!("granule_delegate_last_of_dram"),
        last_of_dram(dram_end),
    );
    let granules: [Granule; COUNT] = core::array::from_fn(|_| pool.alloc());
    for (i, g) in granules.iter().enumerate() {
        g.fill(PATTERN | i as u64);
    }
    let delegated = check(format_args!("granule_delegate"), delegate(&granules));
    if !delegated {
        // Best effort, so that nothing is left in the Realm PAS.
        for g in &granules {
            let _ = call::granule_undelegate(g.pa());
        }
        return;
    }
    check(
        format_args!("granule_delegate_twice_fails"),
        delegate_twice(granules[0]),
    );
    check(
        format_args!("host_read_of_delegated_granule_faults"),
        read_faults(granules[1]),
    );
    check(
        format_args!("rmm_read_of_delegated_params_fails_with_error_input"),
        params_in_realm_pas(granules[1], granules[2]),
    );
    if check(format_args!("granule_undelegate"), undelegate(&granules)) {
        check(
            format_args!("undelegated_granule_zero_and_writable"),
            zero_and_writable(&granules),
        );
    }
}

fn delegate(granules: &[Granule]) -> Outcome {
    for g in granules {
        rmi!(
            format_args!("GRANULE_DELEGATE({:#x})", g.pa()),
            call::granule_delegate(g.pa())
        );
    }
    Ok(())
}

fn delegate_twice(g: Granule) -> Outcome {
    match call::granule_delegate(g.pa()) {
        Ok(()) => fail!("second GRANULE_DELEGATE({:#x}) succeeded", g.pa()),
        Err(e) if e.status() == ERROR_INPUT => Ok(()),
        Err(e) => fail!("second GRANULE_DELEGATE: {}, expected RMI_ERROR_INPUT", e),
    }
}

fn read_faults(g: Granule) -> Outcome {
    match probe_read(g.pa()) {
        Probe::Faulted { esr, far } => {
            println!(
                "test-host: host read of delegated granule faulted: ESR={:#x} FAR={:#x}",
                esr, far
            );
            if esr != ESR_GPF_READ {
                fail!("ESR {:#x}, expected {:#x} (GPF)", esr, ESR_GPF_READ);
            }
            if far != g.pa() {
                fail!("FAR {:#x}, expected {:#x}", far, g.pa());
            }
            Ok(())
        }
        Probe::Read(value) => fail!(
            "host read of delegated granule {:#x} did not fault (read {:#x})",
            g.pa(),
            value
        ),
    }
}

/// REALM_CREATE whose parameters lie in a delegated granule: the RMM's copy from host memory
/// takes a granule protection fault, survives it, and the command fails with
/// RMI_ERROR_INPUT (spec B4.3.9: params_pas) while the RD stays DELEGATED.
fn params_in_realm_pas(params: Granule, rd: Granule) -> Outcome {
    match call::realm_create(rd.pa(), params.pa()) {
        Ok(()) => fail!("REALM_CREATE with params in the Realm PAS succeeded"),
        Err(e) if e.status() == ERROR_INPUT => {}
        Err(e) => fail!(
            "REALM_CREATE with params in the Realm PAS: {}, expected RMI_ERROR_INPUT",
            e
        ),
    }
    // The RD is still DELEGATED: delegating it again is refused for that reason.
    match call::granule_delegate(rd.pa()) {
        Err(e) if e.status() == ERROR_INPUT => Ok(()),
        other => fail!(
            "RD after the failed REALM_CREATE: {:?}",
            other.map_err(|e| e.status())
        ),
    }
}

fn undelegate(granules: &[Granule]) -> Outcome {
    for g in granules {
        rmi!(
            format_args!("GRANULE_UNDELEGATE({:#x})", g.pa()),
            call::granule_undelegate(g.pa())
        );
    }
    match call::granule_undelegate(granules[0].pa()) {
        Ok(()) => fail!("second GRANULE_UNDELEGATE succeeded"),
        Err(e) if e.status() == ERROR_INPUT => Ok(()),
        Err(e) => fail!("second GRANULE_UNDELEGATE: {}, expected RMI_ERROR_INPUT", e),
    }
}

fn zero_and_writable(granules: &[Granule]) -> Outcome {
    for g in granules {
        if let Some(offset) = g.find_not(0) {
            fail!(
                "granule {:#x} not wiped: word at +{:#x} = {:#x}",
                g.pa(),
                offset,
                g.read_u64(offset)
            );
        }
        let value = PATTERN | 0x77;
        g.fill(value);
        if let Some(offset) = g.find_not(value) {
            fail!("granule {:#x} not writable at +{:#x}", g.pa(), offset);
        }
    }
    Ok(())
}

/// The last granule of DRAM is delegable and comes back wiped (the GPT and the RMM's granule
/// table cover all of DRAM, whatever `-m` says); the granule just past DRAM is refused
/// (B4.3.5 gran_bound: RMI_ERROR_INPUT).
fn last_of_dram(dram_end: u64) -> Outcome {
    let last = Granule::at(dram_end - rmm_arch::GRANULE_SIZE);
    last.fill(PATTERN);
    rmi!(
        format_args!("GRANULE_DELEGATE({:#x})", last.pa()),
        call::granule_delegate(last.pa())
    );
    let faulted = matches!(probe_read(last.pa()), Probe::Faulted { .. });
    rmi!(
        format_args!("GRANULE_UNDELEGATE({:#x})", last.pa()),
        call::granule_undelegate(last.pa())
    );
    if !faulted {
        fail!("the host read the delegated granule {:#x}", last.pa());
    }
    if let Some(offset) = last.find_not(0) {
        fail!("granule {:#x} not wiped at +{:#x}", last.pa(), offset);
    }
    match call::granule_delegate(dram_end) {
        Ok(()) => fail!("GRANULE_DELEGATE({:#x}) past DRAM succeeded", dram_end),
        Err(e) if e.status() == ERROR_INPUT => Ok(()),
        Err(e) => fail!(
            "GRANULE_DELEGATE past DRAM: {}, expected RMI_ERROR_INPUT",
            e
        ),
    }
}
