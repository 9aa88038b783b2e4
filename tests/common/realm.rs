//! An ACTIVE realm run by a scripted realm model, for tests of what realms call (RSI, PSCI) and
//! how their RECs exit: each REC runs the steps queued for it, and every (re)start of a REC is
//! recorded with the registers it saw.

use super::*;
use rmm::host::{Config, Machine, RealmModel};
use rmm::platform::{Platform, RealmMemory};
use rmm::rec::{esr, RealmTrap, Rec, TimerOutputs, Timers, VcpuContext};
use rmm::rmi::params::{RecCreateFlags, RecEnter, RecEnterFlags, RecExit};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};

pub const SMC_ESR: u64 = esr::EC_SMC64 << esr::EC_SHIFT | esr::IL;

/// Covered by a level-3 RTT (0x4000_0000..0x4020_0000).
pub const L3: u64 = 0x4000_0000;
/// UNASSIGNED, RIPAS DESTROYED (DATA destroyed after activation).
pub const DEAD: u64 = L3 + 0x8000;
/// ASSIGNED, RIPAS RAM: four DATA pages from here, 4 KiB apart.
pub const DATA: u64 = L3 + 0x9000;
pub const DATA_PAGES: usize = 4;
/// UNASSIGNED, RIPAS RAM (RTT_INIT_RIPAS before activation): two pages.
pub const RAM_HOLE: u64 = L3 + 0x10000;
/// UNASSIGNED, RIPAS EMPTY.
pub const EMPTY_IPA: u64 = L3 + 0x20000;
/// The first Unprotected IPA of the 39-bit IPA space.
pub const UNPROTECTED: u64 = 1 << 38;
/// The first Unprotected IPA of the 52-bit IPA space of [`RealmWorld::new_lpa2`].
pub const UNPROTECTED_52: u64 = 1 << 51;
/// In [`RealmWorld::new_lpa2`]: a level -1 entry (2^48 bytes) with RIPAS RAM and nothing below.
pub const RAM_LM1: u64 = 1 << 48;
pub const PC: u64 = 0x1000;
const DRAM: (u64, u64) = (0x8000_0000, 64 << 20);
/// DRAM at PAs with bits 51:48 set ([`RealmWorld::new_lpa2`]): in an LPA2 descriptor bits
/// 49:48 stay in place and bits 51:50 go to bits 9:8.
pub const HIGH_DRAM: (u64, u64) = (0xf_ffff_ff00_0000, 4 << 20);

/// What a REC does next.
pub enum Step {
    /// Load x0.. and execute SMC.
    Smc(Vec<u64>),
    /// Take this trap.
    Trap(RealmTrap),
    /// Write bytes at an IPA (must succeed) and go on.
    Write(u64, Vec<u8>),
    /// Meet the test at the barrier twice, then exit with an IRQ.
    Hold(Arc<Barrier>),
    /// The EL1 timer registers now read these (the realm programmed them, or time passed).
    Timers(Timers),
    /// Set x0.. and go on (the registers of the next trapped instruction).
    Regs(Vec<u64>),
    /// The virtual CPU interface now reads these ICH_VMCR_EL2, ICH_MISR_EL2.
    Gic { vmcr: u64, misr: u64 },
    /// The realm changes its registers (jumps somewhere, writes VBAR_EL1...) and goes on.
    Set(Box<dyn FnOnce(&mut VcpuContext) + Send>),
    /// The realm uses its memory (reads, writes, what the hardware would translate with) and
    /// goes on.
    Memory(UseMemory),
}

/// What a [`Step::Memory`] does with the realm's memory.
pub type UseMemory = Box<dyn FnOnce(&dyn RealmMemory) + Send>;

/// What a REC saw when it was (re)started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    pub gprs: [u64; 31],
    pub pc: u64,
    pub cpu: usize,
    /// The timer registers loaded, and the timer signals masked.
    pub timers: Timers,
    pub timer_mask: TimerOutputs,
    /// ICH_VMCR_EL2 as loaded.
    pub gic_vmcr: u64,
}

#[derive(Default)]
pub struct Script {
    steps: Mutex<HashMap<u64, VecDeque<Step>>>,
    seen: Mutex<HashMap<u64, Vec<Seen>>>,
}

impl RealmModel for Script {
    fn run(
        &self,
        cpu: usize,
        rec: u64,
        vcpu: &mut VcpuContext,
        mem: &dyn RealmMemory,
    ) -> RealmTrap {
        let seen = Seen {
            gprs: vcpu.gprs,
            pc: vcpu.pc,
            cpu,
            timers: vcpu.timers,
            timer_mask: vcpu.timer_mask,
            gic_vmcr: vcpu.gic_vmcr,
        };
        self.seen.lock().unwrap().entry(rec).or_default().push(seen);
        loop {
            let step = self
                .steps
                .lock()
                .unwrap()
                .get_mut(&rec)
                .and_then(|q| q.pop_front());
            match step {
                None => return RealmTrap::Irq,
                Some(Step::Smc(regs)) => {
                    vcpu.gprs[..regs.len()].copy_from_slice(&regs);
                    return RealmTrap::Sync {
                        esr: SMC_ESR,
                        far: 0,
                        hpfar: 0,
                    };
                }
                Some(Step::Trap(trap)) => return trap,
                Some(Step::Write(ipa, bytes)) => mem.write(ipa, &bytes).unwrap(),
                Some(Step::Hold(barrier)) => {
                    barrier.wait();
                    barrier.wait();
                    return RealmTrap::Irq;
                }
                Some(Step::Timers(timers)) => vcpu.timers = timers,
                Some(Step::Regs(regs)) => vcpu.gprs[..regs.len()].copy_from_slice(&regs),
                Some(Step::Gic { vmcr, misr }) => (vcpu.gic_vmcr, vcpu.gic_misr) = (vmcr, misr),
                Some(Step::Set(set)) => set(vcpu),
                Some(Step::Memory(using)) => using(mem),
            }
        }
    }
}

/// A machine with 8 CPUs and one ACTIVE realm (VMID 1, 39-bit IPA, SHA-256); or, from
/// [`RealmWorld::new_lpa2`], a machine with LPA2 and a realm with a 52-bit IPA space.
pub struct RealmWorld {
    pub m: Machine,
    pub script: Arc<Script>,
    next: AtomicU64,
    /// The next granule of [`HIGH_DRAM`] (LPA2 world only).
    next_high: AtomicU64,
    lpa2: bool,
    runs: Vec<u64>,
    pub rd: u64,
    /// PAs of the DATA granules at DATA, DATA + 4 KiB, ...
    pub data: Vec<u64>,
    pub recs: Vec<u64>,
}

impl RealmWorld {
    /// The realm with one REC per entry of `runnable` (index i, MPIDR i, x0..x7 = i + 1).
    pub fn new(runnable: &[bool]) -> RealmWorld {
        Self::build(runnable, false)
    }

    /// The same realm with LPA2 and a 52-bit IPA space, on a machine with FEAT_LPA2 and 52-bit
    /// PAs ([`rmm::host::LPA2_CPU`]): its walks start at level -1, its RTTs below the root
    /// and its DATA granules are in [`HIGH_DRAM`], and its Unprotected IPAs start at
    /// [`UNPROTECTED_52`].
    pub fn new_lpa2(runnable: &[bool]) -> RealmWorld {
        Self::build(runnable, true)
    }

    fn build(runnable: &[bool], lpa2: bool) -> RealmWorld {
        let (cpu, dram) = match lpa2 {
            true => (rmm::host::LPA2_CPU, vec![DRAM, HIGH_DRAM]),
            false => (rmm::host::HOST_CPU, vec![DRAM]),
        };
        let m = Machine::with_cpu(Config { cpus: 8, dram }, cpu);
        let script = Arc::new(Script::default());
        assert!(m.set_realm_model(script.clone()));
        let mut w = RealmWorld {
            m,
            script,
            next: AtomicU64::new(DRAM.0),
            next_high: AtomicU64::new(HIGH_DRAM.0),
            lpa2,
            runs: vec![],
            rd: 0,
            data: vec![],
            recs: vec![],
        };
        w.runs = (0..8).map(|_| w.ns()).collect();
        let (params, rd, rtt) = (w.ns(), w.del(), w.del());
        let mut p = realm_params(rtt);
        if lpa2 {
            p.flags = rmm::rmi::params::RealmFlags::from_bits(rmm::rmi::params::RealmFlags::LPA2);
            (p.s2sz, p.rtt_level_start) = (52, -1);
        }
        write_realm_params(&w.m, params, &p);
        assert_eq!(w.rmi(RMI_REALM_CREATE, &[rd, params])[0], SUCCESS);
        w.rd = rd;
        let levels: &[u64] = match lpa2 {
            true => &[0, 1, 2, 3],
            false => &[2, 3],
        };
        for &level in levels {
            let t = w.del_data();
            // Aligned to the parent's entries (level - 1).
            let ipa = L3 & !((1 << (12 + 9 * (4 - level))) - 1);
            assert_eq!(w.rmi(RMI_RTT_CREATE, &[rd, t, ipa, level])[0], SUCCESS);
        }
        let src = w.ns();
        let dead = w.del_data();
        assert_eq!(
            w.rmi(RMI_DATA_CREATE, &[rd, dead, DEAD, src, 0])[0],
            SUCCESS
        );
        for i in 0..DATA_PAGES as u64 {
            let d = w.del_data();
            let x0 = w.rmi(RMI_DATA_CREATE, &[rd, d, DATA + i * GRANULE, src, 0])[0];
            assert_eq!(x0, SUCCESS);
            w.data.push(d);
        }
        let hole = [rd, RAM_HOLE, RAM_HOLE + 2 * GRANULE];
        assert_eq!(w.rmi(RMI_RTT_INIT_RIPAS, &hole)[0], SUCCESS);
        if lpa2 {
            let lm1 = [rd, RAM_LM1, 2 * RAM_LM1];
            assert_eq!(w.rmi(RMI_RTT_INIT_RIPAS, &lm1)[..2], [SUCCESS, 2 * RAM_LM1]);
        }
        let count = w.rmi(RMI_REC_AUX_COUNT, &[rd])[1] as usize;
        for (i, &on) in runnable.iter().enumerate() {
            let aux: Vec<u64> = (0..count).map(|_| w.del()).collect();
            let (pa, params) = (w.del(), w.ns());
            let mut p = rec_params(i as u64, PC, [i as u64 + 1; 8], &aux);
            p.flags = RecCreateFlags::from_bits(on.into());
            let mut page = [0u8; 4096];
            p.write_to(&mut page);
            w.m.ns_write(params, &page).unwrap();
            assert_eq!(w.rmi(RMI_REC_CREATE, &[rd, pa, params])[0], SUCCESS);
            w.recs.push(pa);
        }
        assert_eq!(w.rmi(RMI_REALM_ACTIVATE, &[rd])[0], SUCCESS);
        assert_eq!(w.rmi(RMI_DATA_DESTROY, &[rd, DEAD])[0], SUCCESS);
        w
    }

    pub fn ns(&self) -> u64 {
        let pa = self.next.fetch_add(GRANULE, Ordering::Relaxed);
        assert!(pa < DRAM.0 + DRAM.1, "out of granules");
        pa
    }

    pub fn del(&self) -> u64 {
        let pa = self.ns();
        assert_eq!(delegate(&self.m, pa), SUCCESS);
        pa
    }

    /// A delegated granule for the realm's RTTs and DATA: from [`HIGH_DRAM`] in the LPA2
    /// world, else as [`RealmWorld::del`].
    pub fn del_data(&self) -> u64 {
        if !self.lpa2 {
            return self.del();
        }
        let pa = self.ns_high();
        assert_eq!(delegate(&self.m, pa), SUCCESS);
        pa
    }

    /// A Non-secure granule of [`HIGH_DRAM`] (LPA2 world only).
    pub fn ns_high(&self) -> u64 {
        assert!(self.lpa2, "HIGH_DRAM is the LPA2 world's");
        let pa = self.next_high.fetch_add(GRANULE, Ordering::Relaxed);
        assert!(pa < HIGH_DRAM.0 + HIGH_DRAM.1, "out of high granules");
        pa
    }

    pub fn rmi_on(&self, cpu: usize, fid: u64, args: &[u64]) -> [u64; 8] {
        let mut regs = [0u64; 8];
        regs[0] = fid;
        regs[1..=args.len()].copy_from_slice(args);
        self.m.smc(cpu, regs)
    }

    pub fn rmi(&self, fid: u64, args: &[u64]) -> [u64; 8] {
        self.rmi_on(0, fid, args)
    }

    pub fn rec(&self, i: usize) -> u64 {
        self.recs[i]
    }

    /// Inspects a REC that is not running.
    pub fn st(&self, pa: u64) -> Rec<'_> {
        Rec::new(self.m.rmm().platform().granule(pa))
    }

    /// RMI_REC_ENTER on `cpu` with `flags` and enter.gprs = `gprs`: (x0, exit).
    pub fn enter_with(&self, cpu: usize, rec: u64, flags: u64, gprs: [u64; 31]) -> (u64, RecExit) {
        let e = RecEnter {
            flags: RecEnterFlags::from_bits(flags),
            gprs,
            gicv3_hcr: 0,
            gicv3_lrs: [0; 16],
        };
        let mut page = [0u8; 2048];
        e.write(&mut page);
        self.m.ns_write(self.runs[cpu], &page).unwrap();
        let x0 = self.rmi_on(cpu, RMI_REC_ENTER, &[rec, self.runs[cpu]])[0];
        let mut whole = [0u8; 4096];
        self.m.ns_read(self.runs[cpu], &mut whole).unwrap();
        (x0, RecExit::from_run(&whole).unwrap())
    }

    pub fn push(&self, rec: u64, steps: Vec<Step>) {
        let mut queues = self.script.steps.lock().unwrap();
        queues.entry(rec).or_default().extend(steps);
    }

    /// Queues `steps` and enters `rec` on `cpu`; the entry must succeed.
    pub fn run_on(&self, cpu: usize, rec: u64, steps: Vec<Step>) -> RecExit {
        self.push(rec, steps);
        let (x0, exit) = self.enter_with(cpu, rec, 0, [0; 31]);
        assert_eq!(x0, SUCCESS, "REC_ENTER");
        exit
    }

    pub fn run(&self, rec: u64, steps: Vec<Step>) -> RecExit {
        self.run_on(0, rec, steps)
    }

    pub fn seen(&self, rec: u64) -> Vec<Seen> {
        let seen = self.script.seen.lock().unwrap();
        seen.get(&rec).cloned().unwrap_or_default()
    }

    pub fn last(&self, rec: u64) -> Seen {
        *self.seen(rec).last().expect("REC never ran")
    }

    /// REC 0 makes one SMC that the RMM answers; returns x0..x10 as the realm then sees them
    /// (the run must end with the IRQ that follows, and the PC must be past the SMC).
    pub fn call(&self, regs: &[u64]) -> [u64; 11] {
        self.call_on(0, regs)
    }

    /// As [`RealmWorld::call`], by REC `i`.
    pub fn call_on(&self, i: usize, regs: &[u64]) -> [u64; 11] {
        let rec = self.rec(i);
        let pc = self.st(rec).pc();
        let exit = self.run(rec, vec![Step::Smc(regs.to_vec())]);
        assert_eq!(
            exit.exit_reason,
            rmm::rmi::params::RecExitReason::Irq,
            "answered at once"
        );
        let seen = self.last(rec);
        assert_eq!(seen.pc, pc + 4, "the realm resumes after the SMC");
        seen.gprs[..11].try_into().unwrap()
    }

    /// Reads `buf.len()` bytes of realm memory at a DATA page's IPA.
    pub fn read_data(&self, ipa: u64, buf: &mut [u8]) {
        let page = ((ipa - DATA) / GRANULE) as usize;
        self.m
            .debug_read(self.data[page] + ipa % GRANULE, buf)
            .unwrap();
    }

    /// RTT_READ_ENTRY at level 3: (x0, level, state, desc, ripas).
    pub fn entry(&self, ipa: u64) -> [u64; 5] {
        read_entry(&self.m, self.rd, ipa, 3)
    }
}
