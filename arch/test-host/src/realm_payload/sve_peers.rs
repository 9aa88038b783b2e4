//! SVE isolation between realms (RMM spec A3.1.3; `realm_report::MODE_SVE_PEER`): two
//! one-REC realms of the payload, one at the longest vector length RMI_FEATURES offers and one
//! at 512 bits, run in turn on this CPU, one REC exit each at a time. Each finds its registers
//! zero at first, fills them with its own pattern and checks them after every later entry,
//! so neither ever sees the other's state (nor the host's): `realm/sve_isolation(<bits>)`.

use super::setup::{self, PayloadRealm};
use crate::params::{
    write_rec_enter, RealmFeatures, RecExit, EXIT_GPRS, EXIT_HOST_CALL, EXIT_PSCI,
};
use crate::pool::Pool;
use crate::report::{check, fail, Outcome, Why};
use crate::rmi as call;
use rmm::psci as fid;
use rmm_arch::realm_report::{Step, IMM_DONE, IMM_REQUEST, IMM_STEP, MODE_SVE_PEER, PASS};

/// RmiRecExit.imm.
const EXIT_IMM: usize = 0x800 + 0x600;
/// ZCR_EL2.LEN of the shorter realm: 512 bits.
const SHORT_LEN: u8 = 3;
/// Most exits of one realm.
const MAX_EXITS: usize = 1000;

/// Runs the scenario when RMI_FEATURES offers SVE.
pub fn run(pool: &mut Pool) {
    let offered = RealmFeatures::offered(call::features(0).unwrap_or(0));
    let Some(longest) = offered.sve_vl else {
        crate::console::println!("test-host: no SVE for realms: realm/sve_isolation skipped");
        return;
    };
    let mut realms = [setup::empty(pool), setup::empty(pool)];
    for (realm, (len, vmid)) in realms.iter_mut().zip([(longest, 3), (SHORT_LEN, 4)]) {
        realm.features = RealmFeatures {
            sve_vl: Some(len),
            pmu_num_ctrs: None,
        };
        realm.vmid = vmid;
    }
    let built = realms
        .iter_mut()
        .all(|r| check(format_args!("realm/sve_isolation_build"), build(r, pool)));
    if built {
        let outcome = alternate(&realms);
        check(format_args!("realm/sve_isolation_run"), outcome);
    }
    for realm in realms.iter_mut() {
        check(
            format_args!("realm/sve_isolation_teardown"),
            setup::teardown(realm),
        );
    }
}

fn build(realm: &mut PayloadRealm, pool: &mut Pool) -> Outcome {
    setup::build(realm, pool, super::PAYLOAD, 1, MODE_SVE_PEER)
}

/// Where one realm is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Off,
}

/// Enters the two realms in turn, one host call each, until both are SYSTEM_OFF.
fn alternate(realms: &[PayloadRealm; 2]) -> Outcome {
    let mut state = [State::Running; 2];
    let mut gprs = [[0u64; 8]; 2];
    let mut reported = [false; 2];
    for _ in 0..MAX_EXITS {
        if state.iter().all(|&s| s == State::Off) {
            break;
        }
        for (i, realm) in realms.iter().enumerate() {
            if state[i] == State::Off {
                continue;
            }
            let Some(run) = realm.runs[0] else {
                fail!("realm {} has no RmiRecRun", i);
            };
            // Enter until the realm's next host call or PSCI exit (IRQs: at once again).
            loop {
                write_rec_enter(run, 0, &gprs[i]);
                gprs[i] = [0; 8];
                if let Err(e) = call::rec_enter(realm.recs[0], run.pa()) {
                    fail!("REC_ENTER of realm {}: {}", i, e);
                }
                let exit = RecExit::read(run);
                let x: [u64; 8] = core::array::from_fn(|n| run.read_u64(EXIT_GPRS + 8 * n));
                match exit.exit_reason {
                    EXIT_HOST_CALL => {
                        match run.read_u64(EXIT_IMM) as u16 {
                            IMM_STEP if x[0] == Step::SveIsolation as u64 => {
                                reported[i] = true;
                                report(realm, &x)
                            }
                            IMM_STEP => fail!("realm {}: step {} reported", i, x[0]),
                            IMM_REQUEST | IMM_DONE => {}
                            imm => fail!("realm {}: host call {}", i, imm),
                        }
                        break;
                    }
                    EXIT_PSCI if x[0] == fid::PSCI_SYSTEM_OFF => {
                        state[i] = State::Off;
                        break;
                    }
                    EXIT_PSCI => fail!("realm {}: PSCI {:#x}", i, x[0]),
                    _ => {}
                }
            }
        }
    }
    if reported != [true; 2] {
        fail!("reports {:?}", reported);
    }
    Ok(())
}

/// One realm's [`Step::SveIsolation`] report: its length is the one it was given.
fn report(realm: &PayloadRealm, x: &[u64; 8]) {
    let bits = realm
        .features
        .sve_vl
        .map_or(0, |l| (u64::from(l) + 1) * 128);
    let values = [x[2], x[3], x[4], x[5]];
    let outcome = if x[1] == PASS && values[0] == bits {
        Ok(())
    } else {
        Err(Why::new(format_args!(
            "{:#x?} (verdict {}), the realm was given {} bits",
            values, x[1], bits
        )))
    };
    check(format_args!("realm/sve_isolation({} bits)", bits), outcome);
}
