//! Shared-write audit: two CPUs running commands on two different realms write no common
//! cache line. Run with `cargo test -p rmm --features audit --test shared_writes`.
#![cfg(feature = "audit")]

mod common;
use common::*;
use rmm::audit::record;
use rmm::host::{Config, Machine, RealmModel};
use rmm::platform::RealmMemory;
use rmm::rec::{RealmTrap, VcpuContext};
use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

const MIB: u64 = 1 << 20;
/// Each realm's granules come from its own 64-granule region: granule words are 8 bytes, so
/// two regions never share a granule-table cache line.
const REGION: u64 = 64 * GRANULE;
const BASE: u64 = 0x8000_0000;

/// A realm that exits at once.
struct Idle;
impl RealmModel for Idle {
    fn run(&self, _: usize, _: u64, _: &mut VcpuContext, _: &dyn RealmMemory) -> RealmTrap {
        RealmTrap::Irq
    }
}

/// Granules of one region, handed out in order.
struct Region(u64);
impl Region {
    fn next(&mut self) -> u64 {
        self.0 += GRANULE;
        self.0 - GRANULE
    }
}

fn call(m: &Machine, cpu: usize, fid: u64, args: &[u64]) -> u64 {
    let mut regs = [0u64; 8];
    regs[0] = fid;
    regs[1..=args.len()].copy_from_slice(args);
    m.smc(cpu, regs)[0]
}

/// A realm's whole life on CPU `cpu` with granules from `region` and VMID `vmid`: delegate,
/// create, tables, data, RECs, run, and tear down. Every call must succeed.
fn realm_life(m: &Machine, cpu: usize, region: u64, vmid: u16) {
    let mut g = Region(region);
    let ok = |fid, args: &[u64]| assert_eq!(call(m, cpu, fid, args), SUCCESS, "{fid:#x} {args:x?}");
    let delegated = |g: &mut Region| {
        let pa = g.next();
        ok(RMI_GRANULE_DELEGATE, &[pa]);
        pa
    };
    let (params, run, src) = (g.next(), g.next(), g.next());
    let (rd, root) = (delegated(&mut g), delegated(&mut g));
    let mut p = realm_params(root);
    p.vmid = vmid;
    write_realm_params(m, params, &p);
    ok(RMI_REALM_CREATE, &[rd, params]);
    let (l2, l3) = (delegated(&mut g), delegated(&mut g));
    ok(RMI_RTT_CREATE, &[rd, l2, 0x4000_0000, 2]);
    ok(RMI_RTT_CREATE, &[rd, l3, 0x4000_0000, 3]);
    ok(RMI_RTT_INIT_RIPAS, &[rd, 0x4000_0000, 0x4000_4000]);
    let data: Vec<u64> = (0..4).map(|_| delegated(&mut g)).collect();
    for (i, &d) in data.iter().enumerate() {
        ok(
            RMI_DATA_CREATE,
            &[rd, d, 0x4000_0000 + i as u64 * GRANULE, src, 1],
        );
    }
    let aux: Vec<u64> = (0..4).map(|_| delegated(&mut g)).collect();
    let rec = delegated(&mut g);
    let mut page = [0u8; 4096];
    rec_params(0, 0x1000, [0; 8], &aux).write_to(&mut page);
    m.ns_write(params, &page).unwrap();
    ok(RMI_REC_CREATE, &[rd, rec, params]);
    ok(RMI_REALM_ACTIVATE, &[rd]);
    m.ns_write(run, &[0u8; 4096]).unwrap();
    for _ in 0..10 {
        ok(RMI_REC_ENTER, &[rec, run]);
        ok(RMI_RTT_READ_ENTRY, &[rd, 0x4000_0000, 3]);
    }
    ok(RMI_REC_DESTROY, &[rec]);
    for (i, _) in data.iter().enumerate() {
        ok(RMI_DATA_DESTROY, &[rd, 0x4000_0000 + i as u64 * GRANULE]);
    }
    ok(RMI_RTT_DESTROY, &[rd, 0x4000_0000, 3]);
    ok(RMI_RTT_DESTROY, &[rd, 0x4000_0000, 2]);
    ok(RMI_REALM_DESTROY, &[rd]);
    for pa in [rd, root, l2, l3, rec].into_iter().chain(data).chain(aux) {
        ok(RMI_GRANULE_UNDELEGATE, &[pa]);
    }
}

#[test]
fn two_realms_on_two_cpus_share_no_written_cache_line() {
    let m = Machine::new(Config {
        cpus: 2,
        dram: vec![(BASE, 4 * MIB)],
    });
    m.set_realm_model(Arc::new(Idle));
    let start = Barrier::new(2);
    // VMIDs in different 512-VMID blocks: the VMID bitmap's 64-byte lines hold 512 VMIDs.
    let runs: Vec<(u16, u64)> = vec![(1, BASE), (1 + 512, BASE + REGION)];
    let lines: Vec<BTreeSet<usize>> = std::thread::scope(|s| {
        let threads: Vec<_> = runs
            .iter()
            .enumerate()
            .map(|(cpu, &(vmid, region))| {
                let (m, start) = (&m, &start);
                s.spawn(move || {
                    start.wait();
                    record(|| realm_life(m, cpu, region, vmid)).1
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert!(
        lines[0].len() > 50 && lines[1].len() > 50,
        "the audit recorded writes"
    );
    let common: Vec<usize> = lines[0].intersection(&lines[1]).copied().collect();
    // No exceptions: per-CPU state is cache-padded, each realm's objects live in its own
    // granules, granule words of the two regions are on different lines, and the VMIDs are in
    // different lines of the VMID bitmap. (Realms whose VMIDs are within 512 of each other
    // share one bitmap line, written once at REALM_CREATE and once at REALM_DESTROY.)
    assert!(
        common.is_empty(),
        "cache lines written by both CPUs: {:x?}",
        common.iter().map(|l| l * 64).collect::<Vec<_>>()
    );
}

#[test]
fn the_audit_sees_a_shared_line_when_there_is_one() {
    // Adjacent VMIDs share a bitmap line: the audit must report exactly that.
    let m = Machine::new(Config {
        cpus: 2,
        dram: vec![(BASE, 4 * MIB)],
    });
    m.set_realm_model(Arc::new(Idle));
    let a = record(|| realm_life(&m, 0, BASE, 1)).1;
    let b = record(|| realm_life(&m, 1, BASE + REGION, 2)).1;
    assert_eq!(
        a.intersection(&b).count(),
        1,
        "exactly the VMID bitmap line"
    );
}
