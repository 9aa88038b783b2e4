//! The realm features of A3.1.3 to A3.1.5 (SVE, self-hosted debug, PMU) through RMI: what
//! RMI_FEATURES reports (B4.4.6), every RMI_REALM_CREATE failure for them (B4.3.9 `params_valid`
//! and `params_supp`, one test per field), the RIM covering them (B4.3.9.4), and the auxiliary
//! granules an SVE realm's RECs take (RMI_REC_AUX_COUNT, B3.36).

mod common;
use common::*;
use rmm::host::{Config, Machine, HOST_CPU};
use rmm::platform::{CpuFeatures, Platform};
use rmm::rec::{REC_AUX_COUNT, SVE_AUX_COUNT};
use rmm::rmi::params::{RealmFlags, RealmParams};

/// QEMU's `max` CPU: 2048-bit vectors (LEN 15), 6 PMU counters, 6 breakpoints, 4 watchpoints.
const QEMU_MAX: CpuFeatures = CpuFeatures {
    sve_vl: Some(15),
    pmu_counters: Some(6),
    ..HOST_CPU
};

/// A processor with 512-bit vectors (LEN 3) and 2 PMU counters.
const SMALL: CpuFeatures = CpuFeatures {
    sve_vl: Some(3),
    pmu_counters: Some(2),
    ..HOST_CPU
};

fn machine_with(cpu: CpuFeatures) -> Machine {
    Machine::with_cpu(
        Config {
            cpus: 2,
            dram: vec![BANK0, BANK1],
        },
        cpu,
    )
}

fn features(m: &Machine) -> u64 {
    rmi(m, RMI_FEATURES, &[0])[1]
}

/// REALM_CREATE of `p` on fresh granules: x0, and the RD (destroyed again on success).
fn create(m: &Machine, g: &mut Granules, mut p: RealmParams) -> u64 {
    let (params, rd, rtt) = (g.ns(), g.delegated(m), g.delegated(m));
    p.rtt_base = rtt;
    write_realm_params(m, params, &p);
    let x0 = rmi(m, RMI_REALM_CREATE, &[rd, params])[0];
    if x0 == SUCCESS {
        assert_eq!(rmi(m, RMI_REALM_DESTROY, &[rd])[0], SUCCESS);
    } else {
        assert_eq!(
            m.granule_state(rd),
            Some(rmm::granule::GranuleState::Delegated)
        );
    }
    x0
}

fn params(flags: u64) -> RealmParams {
    RealmParams {
        flags: RealmFlags::from_bits(flags),
        ..realm_params(0)
    }
}

#[test]
fn features_report_sve_and_pmu() {
    let f = features(&machine_with(QEMU_MAX));
    assert_eq!((f >> 9) & 1, 1, "SVE_EN");
    assert_eq!((f >> 10) & 0xf, 15, "SVE_VL");
    assert_eq!((f >> 26) & 1, 1, "PMU_EN");
    assert_eq!((f >> 27) & 0x1f, 6, "PMU_NUM_CTRS");
    assert_eq!(
        ((f >> 14) & 0x3f, (f >> 20) & 0x3f),
        (5, 3),
        "NUM_BPS, NUM_WPS"
    );
    let f = features(&machine_with(SMALL));
    assert_eq!(((f >> 10) & 0xf, (f >> 27) & 0x1f), (3, 2));
    let f = features(&machine_with(HOST_CPU));
    assert_eq!(
        f & (1 << 9 | 0xf << 10 | 1 << 26 | 0x1f << 27),
        0,
        "neither"
    );
}

#[test]
fn realm_create_params_supp_sve_vl() {
    let m = machine_with(SMALL);
    let mut g = Granules::new();
    // A3.1.3: a vector longer than SVE_VL fails, where the architecture would truncate.
    for vl in [4, 15, 0xff] {
        let p = RealmParams {
            sve_vl: vl,
            ..params(RealmFlags::SVE)
        };
        assert_eq!(create(&m, &mut g, p), ERROR_INPUT, "sve_vl {vl}");
    }
    for vl in [0, 1, 3] {
        let p = RealmParams {
            sve_vl: vl,
            ..params(RealmFlags::SVE)
        };
        assert_eq!(create(&m, &mut g, p), SUCCESS, "sve_vl {vl}");
    }
    // Without the sve flag the length is not looked at.
    let p = RealmParams {
        sve_vl: 0xff,
        ..params(0)
    };
    assert_eq!(create(&m, &mut g, p), SUCCESS);
}

#[test]
fn realm_create_params_supp_sve_unsupported() {
    let m = machine_with(HOST_CPU);
    let mut g = Granules::new();
    assert_eq!(create(&m, &mut g, params(RealmFlags::SVE)), ERROR_INPUT);
    assert_eq!(create(&m, &mut g, params(0)), SUCCESS);
}

#[test]
fn realm_create_params_supp_pmu_num_ctrs() {
    let m = machine_with(SMALL);
    let mut g = Granules::new();
    for n in [3, 31, 0xff, 0] {
        let p = RealmParams {
            pmu_num_ctrs: n,
            ..params(RealmFlags::PMU)
        };
        assert_eq!(create(&m, &mut g, p), ERROR_INPUT, "pmu_num_ctrs {n}");
    }
    for n in [1, 2] {
        let p = RealmParams {
            pmu_num_ctrs: n,
            ..params(RealmFlags::PMU)
        };
        assert_eq!(create(&m, &mut g, p), SUCCESS, "pmu_num_ctrs {n}");
    }
    let p = RealmParams {
        pmu_num_ctrs: 0xff,
        ..params(0)
    };
    assert_eq!(
        create(&m, &mut g, p),
        SUCCESS,
        "not looked at without the pmu flag"
    );
}

#[test]
fn realm_create_params_supp_pmu_unsupported() {
    let m = machine_with(HOST_CPU);
    let mut g = Granules::new();
    let p = RealmParams {
        pmu_num_ctrs: 1,
        ..params(RealmFlags::PMU)
    };
    assert_eq!(create(&m, &mut g, p), ERROR_INPUT);
}

#[test]
fn realm_create_params_supp_num_bps() {
    let m = machine_with(QEMU_MAX);
    let mut g = Granules::new();
    // NUM_BPS = 5: six breakpoints, num_bps (count minus one) up to 5.
    for bps in [6, 0x3f, 0xff] {
        let p = RealmParams {
            num_bps: bps,
            ..params(0)
        };
        assert_eq!(create(&m, &mut g, p), ERROR_INPUT, "num_bps {bps}");
    }
    let p = RealmParams {
        num_bps: 5,
        ..params(0)
    };
    assert_eq!(create(&m, &mut g, p), SUCCESS);
}

#[test]
fn realm_create_params_supp_num_wps() {
    let m = machine_with(QEMU_MAX);
    let mut g = Granules::new();
    for wps in [4, 0x3f, 0xff] {
        let p = RealmParams {
            num_wps: wps,
            ..params(0)
        };
        assert_eq!(create(&m, &mut g, p), ERROR_INPUT, "num_wps {wps}");
    }
    let p = RealmParams {
        num_wps: 3,
        ..params(0)
    };
    assert_eq!(create(&m, &mut g, p), SUCCESS);
}

/// B4.4.12: num_bps and num_wps 0 are reserved encodings (`params_valid`), whatever the
/// processor has.
#[test]
fn realm_create_params_valid_num_bps_num_wps_zero() {
    let m = machine_with(QEMU_MAX);
    let mut g = Granules::new();
    for offset in [0x18, 0x20] {
        let (ptr, rd, rtt) = (g.ns(), g.delegated(&m), g.delegated(&m));
        let mut page = [0u8; 4096];
        realm_params(rtt).write_to(&mut page);
        page[offset] = 0;
        m.ns_write(ptr, &page).unwrap();
        assert_eq!(rmi(&m, RMI_REALM_CREATE, &[rd, ptr])[0], ERROR_INPUT);
    }
}

/// B4.3.9.4: the RIM covers flags, sve_vl, num_bps, num_wps and pmu_num_ctrs.
#[test]
fn realm_create_rim_covers_sve_pmu_and_debug() {
    let m = machine_with(QEMU_MAX);
    let mut g = Granules::new();
    let rim = |p: RealmParams, g: &mut Granules| {
        let (ptr, rd, rtt) = (g.ns(), g.delegated(&m), g.delegated(&m));
        let p = RealmParams { rtt_base: rtt, ..p };
        write_realm_params(&m, ptr, &p);
        assert_eq!(rmi(&m, RMI_REALM_CREATE, &[rd, ptr])[0], SUCCESS);
        let rd_mem = m.rmm().platform().granule(rd);
        let rim = rmm::realm::Rd::new(rd_mem).measurement(0);
        assert_eq!(rmi(&m, RMI_REALM_DESTROY, &[rd])[0], SUCCESS);
        rim
    };
    let sve = |vl| RealmParams {
        sve_vl: vl,
        ..params(RealmFlags::SVE)
    };
    let pmu = |n| RealmParams {
        pmu_num_ctrs: n,
        ..params(RealmFlags::PMU)
    };
    let rims = [
        rim(params(0), &mut g),
        rim(sve(15), &mut g),
        rim(sve(1), &mut g),
        rim(pmu(6), &mut g),
        rim(pmu(1), &mut g),
        rim(
            RealmParams {
                num_bps: 5,
                ..params(0)
            },
            &mut g,
        ),
        rim(
            RealmParams {
                num_wps: 3,
                ..params(0)
            },
            &mut g,
        ),
    ];
    for (i, a) in rims.iter().enumerate() {
        for b in &rims[i + 1..] {
            assert_ne!(a, b, "realm {i}'s RIM repeats");
        }
    }
}

/// B3.36: a REC of an SVE realm takes SVE_AUX_COUNT more granules (its Z registers), the same
/// for every REC of the realm; REC_CREATE wants exactly that many (`num_aux`).
#[test]
fn rec_aux_count_grows_with_sve() {
    let m = machine_with(QEMU_MAX);
    let mut g = Granules::new();
    for (flags, expected) in [
        (0, REC_AUX_COUNT),
        (RealmFlags::PMU, REC_AUX_COUNT),
        (RealmFlags::SVE, REC_AUX_COUNT + SVE_AUX_COUNT),
    ] {
        let (ptr, rd, rtt) = (g.ns(), g.delegated(&m), g.delegated(&m));
        let p = RealmParams {
            rtt_base: rtt,
            sve_vl: 15,
            pmu_num_ctrs: 6,
            ..params(flags)
        };
        write_realm_params(&m, ptr, &p);
        assert_eq!(rmi(&m, RMI_REALM_CREATE, &[rd, ptr])[0], SUCCESS);
        assert_eq!(
            rmi(&m, RMI_REC_AUX_COUNT, &[rd])[..2],
            [SUCCESS, expected as u64]
        );
        if flags == RealmFlags::SVE {
            // Four aux granules, enough for a realm without SVE, are refused.
            let aux: Vec<u64> = (0..REC_AUX_COUNT).map(|_| g.delegated(&m)).collect();
            let (rec, page) = (g.delegated(&m), g.ns());
            let mut bytes = [0u8; 4096];
            rec_params(0, 0, [0; 8], &aux).write_to(&mut bytes);
            m.ns_write(page, &bytes).unwrap();
            assert_eq!(rmi(&m, RMI_REC_CREATE, &[rd, rec, page])[0], ERROR_INPUT);
            let rec = new_rec(&m, &mut g, rd, 0);
            assert_eq!(rmi(&m, RMI_REC_DESTROY, &[rec])[0], SUCCESS);
        }
        assert_eq!(rmi(&m, RMI_REALM_DESTROY, &[rd])[0], SUCCESS);
    }
}
