//! Driving the RMM at register level: RMI calls that must succeed, granule pools, and the
//! realm, RTT and REC set-up the benchmarks need (after tests/common, which perf cannot import).

use rmm::host::{Machine, RealmModel};
use rmm::platform::RealmMemory;
use rmm::rec::{RealmTrap, VcpuContext};
use rmm::rmi::Command;

pub const GRANULE: u64 = 4096;
/// Where the simulated DRAM starts.
pub const DRAM_BASE: u64 = 0x8000_0000;
/// Granules in one pool (1 MiB). Pools are contiguous and aligned, so one thread's granules
/// never share a cache line of the granule table or of the GPT model with another's.
pub const POOL_GRANULES: u64 = 256;

/// The registers of an RMI call: x0 = `command`'s function ID, then `args` from x1.
pub fn regs(command: Command, args: &[u64]) -> [u64; 8] {
    let mut regs = [0u64; 8];
    regs[0] = command.fid().into();
    regs[1..=args.len()].copy_from_slice(args);
    regs
}

/// Panics unless the call `regs` returned RMI_SUCCESS in `out`.
#[inline]
pub fn check(regs: &[u64; 8], out: &[u64; 8]) {
    if out[0] != 0 {
        failed(regs, out[0]);
    }
}

#[cold]
#[inline(never)]
fn failed(regs: &[u64; 8], x0: u64) -> ! {
    let name = Command::from_fid(regs[0] as u32).map_or("unknown FID", Command::name);
    panic!(
        "{name} {:#x?} returned {x0:#x}, not RMI_SUCCESS",
        &regs[1..]
    );
}

/// Calls `command` on CPU `cpu`, which must succeed; returns x0..x7.
pub fn ok(m: &Machine, cpu: usize, command: Command, args: &[u64]) -> [u64; 8] {
    let regs = regs(command, args);
    let out = m.smc(cpu, regs);
    check(&regs, &out);
    out
}

/// Granules handed out in order from one pool.
pub struct Pool {
    next: u64,
    end: u64,
}

impl Pool {
    /// Pool `index`: DRAM granules `index * POOL_GRANULES ..`.
    pub fn new(index: usize) -> Pool {
        let next = DRAM_BASE + index as u64 * POOL_GRANULES * GRANULE;
        Pool {
            next,
            end: next + POOL_GRANULES * GRANULE,
        }
    }

    /// DRAM that holds `pools` pools.
    pub fn dram(pools: usize) -> (u64, u64) {
        (DRAM_BASE, pools as u64 * POOL_GRANULES * GRANULE)
    }

    /// The next granule, left UNDELEGATED (Non-secure).
    pub fn ns(&mut self) -> u64 {
        let pa = self.next;
        assert!(pa < self.end, "pool exhausted: raise POOL_GRANULES");
        self.next += GRANULE;
        pa
    }

    /// The next granule, delegated.
    pub fn delegated(&mut self, m: &Machine) -> u64 {
        let pa = self.ns();
        ok(m, 0, Command::GranuleDelegate, &[pa]);
        pa
    }
}

/// Creates a realm (state NEW) with VMID `vmid`: 39-bit IPA space, one level-1 starting RTT,
/// SHA-256. Its RD and RTT come from `pool`. Returns the RD.
pub fn new_realm(m: &Machine, pool: &mut Pool, vmid: u16) -> u64 {
    use rmm::measurement::HashAlgorithm;
    use rmm::rmi::params::{RealmFlags, RealmParams};
    let params_pa = pool.ns();
    let rd = pool.delegated(m);
    let rtt_base = pool.delegated(m);
    let params = RealmParams {
        flags: RealmFlags::from_bits(0),
        s2sz: 39,
        sve_vl: 0,
        num_bps: 1,
        num_wps: 1,
        pmu_num_ctrs: 0,
        hash_algo: HashAlgorithm::Sha256,
        rpv: [0x11; 64],
        vmid,
        rtt_base,
        rtt_level_start: 1,
        rtt_num_start: 1,
    };
    let mut page = [0u8; GRANULE as usize];
    params.write_to(&mut page);
    m.ns_write(params_pa, &page).unwrap();
    ok(m, 0, Command::RealmCreate, &[rd, params_pa]);
    rd
}

/// RTT_CREATE of a granule from `pool` as the level-`level` RTT for `ipa`; returns the RTT.
pub fn create_rtt(m: &Machine, pool: &mut Pool, rd: u64, ipa: u64, level: u64) -> u64 {
    let rtt = pool.delegated(m);
    ok(m, 0, Command::RttCreate, &[rd, rtt, ipa, level]);
    rtt
}

/// Creates the REC with index `index` of the NEW realm `rd` (runnable, PC 0x1000), its granules
/// and auxiliary granules from `pool`. Returns the REC.
pub fn new_rec(m: &Machine, pool: &mut Pool, rd: u64, index: u64) -> u64 {
    use rmm::rmi::params::{RecCreateFlags, RecMpidr, RecParams};
    let count = ok(m, 0, Command::RecAuxCount, &[rd])[1] as usize;
    let mut aux = [0u64; 16];
    for slot in &mut aux[..count] {
        *slot = pool.delegated(m);
    }
    let rec = pool.delegated(m);
    let params_pa = pool.ns();
    let params = RecParams {
        flags: RecCreateFlags::from_bits(RecCreateFlags::RUNNABLE),
        mpidr: RecMpidr::from_rec_index(index).expect("REC index fits an MPIDR"),
        pc: 0x1000,
        gprs: [0; 8],
        num_aux: count as u64,
        aux,
    };
    let mut page = [0u8; GRANULE as usize];
    params.write_to(&mut page);
    m.ns_write(params_pa, &page).unwrap();
    ok(m, 0, Command::RecCreate, &[rd, rec, params_pa]);
    rec
}

/// A realm that takes an IRQ as soon as it is entered: REC_ENTER becomes a pure round trip
/// through the RMM's entry and exit paths.
pub struct ExitAtOnce;

impl RealmModel for ExitAtOnce {
    fn run(&self, _: usize, _: u64, _: &mut VcpuContext, _: &dyn RealmMemory) -> RealmTrap {
        RealmTrap::Irq
    }
}
