//! RMI_PSCI_COMPLETE (spec B4.3.7) and RMI_RTT_SET_RIPAS (B4.3.21) at register level, with a
//! simulated realm that issues PSCI CPU_ON / AFFINITY_INFO (B6.3.3, B6.3.1) and
//! RSI_IPA_STATE_SET (B5.3.6), and reads back what the RMM returns on the next entry.

mod common;
use common::*;
use rmm::host::{Config, Machine, RealmModel};
use rmm::platform::{Platform, RealmMemory};
use rmm::rec::{esr, RealmTrap, Rec, RipasChange, VcpuContext};
use rmm::rmi::params::{RecCreateFlags, RecEnter, RecEnterFlags, RecExit, RecExitReason, RmiRipas};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

const SMC: u64 = esr::EC_SMC64 << esr::EC_SHIFT | esr::IL;
const SMC_TRAP: RealmTrap = RealmTrap::Sync {
    esr: SMC,
    far: 0,
    hpfar: 0,
};
const CPU_ON: u64 = 0xC400_0003;
const AFFINITY_INFO: u64 = 0xC400_0004;
const IPA_STATE_SET: u64 = 0xC400_0197;

/// PsciReturnCode (B6.4.2), 64 bits.
const PSCI_SUCCESS: u64 = 0;
const PSCI_NOT_SUPPORTED: u64 = -1i64 as u64;
const PSCI_INVALID_PARAMETERS: u64 = -2i64 as u64;
const PSCI_DENIED: u64 = -3i64 as u64;
const PSCI_ALREADY_ON: u64 = -4i64 as u64;
const PSCI_INVALID_ADDRESS: u64 = -9i64 as u64;
const PSCI_ON: u64 = 0;
const PSCI_OFF: u64 = 1;

/// RmiRipas / RsiRipas and RmiRttEntryState encodings.
const EMPTY: u64 = 0;
const RAM: u64 = 1;
const DESTROYED: u64 = 2;
const ASSIGNED: u64 = 1;
/// RmiRecEnterFlags.ripas_response = REJECT.
const REJECT: u64 = 1 << 4;
/// RsiRipasChangeFlags: changing DESTROYED entries is allowed.
const CHANGE_DESTROYED: u64 = 1;

/// Covered by a level-3 RTT (0x4000_0000..0x4020_0000).
const L3: u64 = 0x4000_0000;
/// Level-2 block entries of the level-2 RTT (up to 0x8000_0000).
const BLOCK: u64 = 0x4020_0000;
const MB2: u64 = 0x20_0000;
/// A page whose DATA was destroyed after activation: UNASSIGNED, RIPAS DESTROYED.
const DEAD: u64 = L3 + 0x8000;
/// A page mapped with DATA_CREATE before activation: ASSIGNED, RIPAS RAM.
const DATA: u64 = L3 + 0x9000;
/// The first Unprotected IPA of a 39-bit IPA space.
const UNPROTECTED: u64 = 1 << 38;
const PC: u64 = 0x1000;
const DRAM: (u64, u64) = (0x8000_0000, 64 << 20);
const DRAM_END: u64 = DRAM.0 + DRAM.1;

/// What the simulated realm does next.
enum Step {
    /// Load x0..x4 and execute SMC.
    Smc([u64; 5]),
    /// Read 8 bytes at an IPA, record whether that worked, and go on.
    Probe(u64),
    /// Meet the test at the barrier twice (running, release), then exit with an IRQ.
    Hold(Arc<Barrier>),
}

/// What a REC saw when it was (re)started: its registers and PC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    gprs: [u64; 31],
    pc: u64,
}

/// A REC that starts at `pc` with x0 = `x0` and every other register zero.
fn started(x0: u64, pc: u64) -> Seen {
    let mut gprs = [0; 31];
    gprs[0] = x0;
    Seen { gprs, pc }
}

#[derive(Default)]
struct Model {
    steps: Mutex<HashMap<u64, VecDeque<Step>>>,
    seen: Mutex<HashMap<u64, Vec<Seen>>>,
    probes: Mutex<HashMap<u64, Vec<bool>>>,
}

impl RealmModel for Model {
    fn run(&self, _: usize, rec: u64, vcpu: &mut VcpuContext, mem: &dyn RealmMemory) -> RealmTrap {
        let (gprs, pc) = (vcpu.gprs, vcpu.pc);
        self.seen
            .lock()
            .unwrap()
            .entry(rec)
            .or_default()
            .push(Seen { gprs, pc });
        loop {
            let mut steps = self.steps.lock().unwrap();
            let step = steps.get_mut(&rec).and_then(|q| q.pop_front());
            drop(steps);
            match step {
                None => return RealmTrap::Irq,
                Some(Step::Smc(regs)) => {
                    vcpu.gprs[..5].copy_from_slice(&regs);
                    return SMC_TRAP;
                }
                Some(Step::Probe(ipa)) => {
                    let ok = mem.read(ipa, &mut [0u8; 8]).is_ok();
                    self.probes.lock().unwrap().entry(rec).or_default().push(ok);
                }
                Some(Step::Hold(barrier)) => {
                    barrier.wait();
                    barrier.wait();
                    return RealmTrap::Irq;
                }
            }
        }
    }
}

#[derive(Default)]
struct RealmInfo {
    rd: u64,
    rtt: u64,
    data: u64,
    /// Per REC: its PA and its auxiliary granules.
    recs: Vec<(u64, Vec<u64>)>,
}

/// A machine with 8 CPUs and 64 MiB of DRAM, the realm model, and realm A.
struct World {
    m: Machine,
    model: Arc<Model>,
    next: AtomicU64,
    runs: Vec<u64>,
    a: RealmInfo,
}

impl World {
    /// Realm A (VMID 1), ACTIVE, with one REC per entry of `runnable` (index i, MPIDR i).
    fn new(runnable: &[bool]) -> World {
        let m = Machine::new(Config {
            cpus: 8,
            dram: vec![DRAM],
        });
        let model = Arc::new(Model::default());
        assert!(m.set_realm_model(model.clone()));
        let next = AtomicU64::new(DRAM.0);
        let mut w = World {
            m,
            model,
            next,
            runs: vec![],
            a: RealmInfo::default(),
        };
        w.runs = (0..8).map(|_| w.ns()).collect();
        w.a = w.realm(1, runnable);
        w
    }

    fn ns(&self) -> u64 {
        let pa = self.next.fetch_add(GRANULE, Ordering::Relaxed);
        assert!(pa < DRAM_END, "out of granules");
        pa
    }

    fn del(&self) -> u64 {
        let pa = self.ns();
        assert_eq!(delegate(&self.m, pa), SUCCESS);
        pa
    }

    fn rmi_on(&self, cpu: usize, fid: u64, args: &[u64]) -> [u64; 8] {
        let mut regs = [0u64; 8];
        regs[0] = fid;
        regs[1..=args.len()].copy_from_slice(args);
        self.m.smc(cpu, regs)
    }

    fn rmi(&self, fid: u64, args: &[u64]) -> [u64; 8] {
        self.rmi_on(0, fid, args)
    }

    /// An ACTIVE realm with RTTs at levels 2 and 3 for L3, DATA at DATA, DEAD
    /// destroyed, and RECs as `runnable` says (x0..x7 = 0x1111 * (index + 1)).
    fn realm(&self, vmid: u16, runnable: &[bool]) -> RealmInfo {
        let (params, rd, rtt) = (self.ns(), self.del(), self.del());
        let mut p = realm_params(rtt);
        p.vmid = vmid;
        write_realm_params(&self.m, params, &p);
        assert_eq!(self.rmi(RMI_REALM_CREATE, &[rd, params])[0], SUCCESS);
        self.rtt(rd, L3, 2);
        self.rtt(rd, L3, 3);
        let (src, mut data) = (self.ns(), 0);
        for ipa in [DEAD, DATA] {
            data = self.del();
            let x0 = self.rmi(RMI_DATA_CREATE, &[rd, data, ipa, src, 0])[0];
            assert_eq!(x0, SUCCESS);
        }
        let count = self.rmi(RMI_REC_AUX_COUNT, &[rd])[1] as usize;
        let mut recs = vec![];
        for (i, &on) in runnable.iter().enumerate() {
            let aux: Vec<u64> = (0..count).map(|_| self.del()).collect();
            let (pa, params) = (self.del(), self.ns());
            let mut p = rec_params(i as u64, PC, [0x1111 * (i as u64 + 1); 8], &aux);
            p.flags = RecCreateFlags::from_bits(on.into());
            let mut page = [0u8; 4096];
            p.write_to(&mut page);
            self.m.ns_write(params, &page).unwrap();
            assert_eq!(self.rmi(RMI_REC_CREATE, &[rd, pa, params])[0], SUCCESS);
            recs.push((pa, aux));
        }
        assert_eq!(self.rmi(RMI_REALM_ACTIVATE, &[rd])[0], SUCCESS);
        assert_eq!(self.rmi(RMI_DATA_DESTROY, &[rd, DEAD])[0], SUCCESS);
        RealmInfo {
            rd,
            rtt,
            data,
            recs,
        }
    }

    fn rtt(&self, rd: u64, ipa: u64, level: u64) {
        let rtt = self.del();
        assert_eq!(self.rmi(RMI_RTT_CREATE, &[rd, rtt, ipa, level])[0], SUCCESS);
    }

    fn rec(&self, i: usize) -> u64 {
        self.a.recs[i].0
    }

    /// Inspects a REC that is not running.
    fn st(&self, pa: u64) -> Rec<'_> {
        Rec::new(self.m.rmm().platform().granule(pa))
    }

    fn enter_on(&self, cpu: usize, rec: u64, flags: u64) -> (u64, RecExit) {
        let flags = RecEnterFlags::from_bits(flags);
        let e = RecEnter {
            flags,
            gprs: [0; 31],
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

    fn push(&self, rec: u64, steps: Vec<Step>) {
        let mut queues = self.model.steps.lock().unwrap();
        queues.entry(rec).or_default().extend(steps);
    }

    /// Queues `steps` for `rec` and enters it on `cpu` with `flags`; the entry must succeed.
    fn run_on(&self, cpu: usize, rec: u64, flags: u64, steps: Vec<Step>) -> RecExit {
        self.push(rec, steps);
        let (x0, exit) = self.enter_on(cpu, rec, flags);
        assert_eq!(x0, SUCCESS, "REC_ENTER");
        exit
    }

    /// The realm at `rec` makes one SMC.
    fn smc(&self, rec: u64, regs: [u64; 5]) -> RecExit {
        self.run_on(0, rec, 0, vec![Step::Smc(regs)])
    }

    fn seen(&self, rec: u64) -> Vec<Seen> {
        let seen = self.model.seen.lock().unwrap();
        seen.get(&rec).cloned().unwrap_or_default()
    }

    fn last(&self, rec: u64) -> Seen {
        *self.seen(rec).last().expect("REC never ran")
    }

    /// Enters `rec` and returns the x0..x3 it resumed with.
    fn resume(&self, rec: u64) -> [u64; 4] {
        self.run_on(0, rec, 0, vec![]);
        self.last(rec).gprs[..4].try_into().unwrap()
    }

    /// Runs `f` while `rec` runs on CPU 1, held inside the realm.
    fn held(&self, rec: u64, f: impl FnOnce()) {
        let hold = Arc::new(Barrier::new(2));
        std::thread::scope(|s| {
            let t = s.spawn(|| self.run_on(1, rec, 0, vec![Step::Hold(hold.clone())]));
            hold.wait();
            f();
            hold.wait();
            assert_eq!(t.join().unwrap().exit_reason, RecExitReason::Irq);
        });
    }

    fn psci(&self, calling: u64, target: u64, status: u64) -> u64 {
        self.rmi(RMI_PSCI_COMPLETE, &[calling, target, status])[0]
    }

    /// RMI_RTT_SET_RIPAS for realm A: x0, x1.
    fn set(&self, rec: u64, base: u64, top: u64) -> [u64; 2] {
        let out = self.rmi(RMI_RTT_SET_RIPAS, &[self.a.rd, rec, base, top]);
        [out[0], out[1]]
    }

    /// RMI_RTT_SET_RIPAS with any RD: x0.
    fn set_rd(&self, rd: u64, rec: u64, base: u64, top: u64) -> u64 {
        self.rmi(RMI_RTT_SET_RIPAS, &[rd, rec, base, top])[0]
    }

    fn entry(&self, ipa: u64, level: u64) -> [u64; 5] {
        read_entry(&self.m, self.a.rd, ipa, level)
    }

    /// The realm at `rec` asks for RIPAS `ripas` over [base, top).
    fn request(&self, rec: u64, base: u64, top: u64, ripas: u64, flags: u64) {
        let exit = self.smc(rec, [IPA_STATE_SET, base, top, ripas, flags]);
        assert_eq!(exit.exit_reason, RecExitReason::RipasChange);
        let value = [RmiRipas::Empty, RmiRipas::Ram][ripas as usize];
        let got = (exit.ripas_base, exit.ripas_top, exit.ripas_value);
        assert_eq!(got, (base, top, value));
        assert_eq!(self.st(rec).ripas_change().addr, base);
    }

    /// The REC's pending change is still at `base`, and applying up to `top` now works.
    fn still_at(&self, rec: u64, base: u64, top: u64) {
        assert_eq!(self.st(rec).ripas_change().addr, base, "ripas_addr changed");
        assert_eq!(self.set(rec, base, top), [SUCCESS, top]);
    }

    /// Enters `rec` (with `flags`) and returns the RSI_IPA_STATE_SET outputs x0..x2 it saw.
    fn ripas_result(&self, rec: u64, flags: u64) -> [u64; 3] {
        self.run_on(0, rec, flags, vec![]);
        self.last(rec).gprs[..3].try_into().unwrap()
    }
}

/// A REC's registers and PC as its granule holds them.
fn snapshot(rec: &Rec) -> Seen {
    Seen {
        gprs: std::array::from_fn(|n| rec.gpr(n)),
        pc: rec.pc(),
    }
}

/// RTT_READ_ENTRY of an UNASSIGNED entry at `level` with RIPAS `ripas`.
fn ua(level: u64, ripas: u64) -> [u64; 5] {
    [SUCCESS, level, 0, 0, ripas]
}

// ---------------------------------------------------------------------------------------------
// RMI_PSCI_COMPLETE

/// Realm A with REC 0 on, REC 1 off, REC 2 on, REC 3 off; REC 0 has asked CPU_ON(1, 0x3000,
/// 0x77).
fn cpu_on_pending() -> World {
    let w = World::new(&[true, false, true, false]);
    let exit = w.smc(w.rec(0), [CPU_ON, 1, 0x3000, 0x77, 0]);
    assert_eq!(exit.exit_reason, RecExitReason::Psci);
    assert_eq!(exit.gprs[..4], [CPU_ON, 1, 0x3000, 0x77]);
    w
}

/// After a failed PSCI_COMPLETE: REC 0's request is intact, REC 1 untouched and off.
fn cpu_on_unchanged(w: &World) {
    let (caller, target) = (w.st(w.rec(0)), w.st(w.rec(1)));
    assert!(caller.psci_pending());
    let x = [0, 1, 2, 3].map(|n| caller.gpr(n));
    assert_eq!(x, [CPU_ON, 1, 0x3000, 0x77]);
    assert!(!target.runnable());
    assert_eq!(snapshot(&target).pc, PC);
    assert_eq!(snapshot(&target).gprs[..8], [0x2222; 8]);
}

/// Then completing REC 0's request with valid arguments starts REC 1.
fn cpu_on_completes(w: &World) {
    cpu_on_unchanged(w);
    assert_eq!(w.enter_on(0, w.rec(0), 0).0, ERROR_REC, "request pending");
    assert_eq!(w.enter_on(0, w.rec(1), 0).0, ERROR_REC, "not runnable");
    assert_eq!(w.psci(w.rec(0), w.rec(1), PSCI_SUCCESS), SUCCESS);
    w.resume(w.rec(1));
    assert_eq!(w.last(w.rec(1)), started(0x77, 0x3000));
    assert_eq!(w.resume(w.rec(0)), [PSCI_SUCCESS, 0, 0, 0]);
}

#[test]
fn psci_complete_alias() {
    let w = cpu_on_pending();
    for status in [PSCI_SUCCESS, PSCI_DENIED] {
        assert_eq!(w.psci(w.rec(0), w.rec(0), status), ERROR_INPUT);
        assert_eq!(w.psci(w.rec(1), w.rec(1), status), ERROR_INPUT);
        cpu_on_unchanged(&w);
    }
    cpu_on_completes(&w);
    // A CPU_ON of itself never waits for the host (alias would forbid completing it): the RMM
    // answers ALREADY_ON at once, with nothing pending.
    w.smc(w.rec(2), [CPU_ON, 2, 0x3000, 0, 0]);
    assert!(!w.st(w.rec(2)).psci_pending());
    assert_eq!(w.psci(w.rec(2), w.rec(2), PSCI_SUCCESS), ERROR_INPUT);
}

/// Addresses that fail `*_align`, `*_bound` or `*_state` as a REC argument.
fn bad_recs(w: &World, kind: &str) -> Vec<u64> {
    let (a, rec) = (&w.a, w.rec(0));
    match kind {
        "align" => vec![rec + 8, rec + 0x800, rec | 1],
        "bound" => vec![0, 0x1000, DRAM.0 - GRANULE, DRAM_END, 1 << 48, !0xfff],
        _ => {
            let aux = [a.recs[0].1[0], a.recs[1].1[3]];
            [w.del(), w.ns(), a.rd, a.rtt, a.data]
                .into_iter()
                .chain(aux)
                .collect()
        }
    }
}

/// PSCI_COMPLETE with a bad calling REC (`calling`) or target REC fails and changes nothing.
fn psci_bad_rec(calling: bool, kind: &str) {
    let w = cpu_on_pending();
    for bad in bad_recs(&w, kind) {
        let (c, t) = if calling {
            (bad, w.rec(1))
        } else {
            (w.rec(0), bad)
        };
        for status in [PSCI_SUCCESS, PSCI_DENIED] {
            assert_eq!(w.psci(c, t, status), ERROR_INPUT, "{bad:#x}");
        }
        cpu_on_unchanged(&w);
    }
    cpu_on_completes(&w);
}

#[test]
fn psci_complete_calling_align() {
    psci_bad_rec(true, "align");
}

#[test]
fn psci_complete_calling_bound() {
    psci_bad_rec(true, "bound");
}

#[test]
fn psci_complete_calling_state() {
    psci_bad_rec(true, "state");
}

#[test]
fn psci_complete_target_align() {
    psci_bad_rec(false, "align");
}

#[test]
fn psci_complete_target_bound() {
    psci_bad_rec(false, "bound");
}

#[test]
fn psci_complete_target_state() {
    psci_bad_rec(false, "state");
}

#[test]
fn psci_complete_pending() {
    let w = World::new(&[true, false, true]);
    let (r0, r1) = (w.rec(0), w.rec(1));
    // Never exited; then an IRQ exit; then a RIPAS change exit: nothing to complete.
    assert_eq!(w.psci(r0, r1, PSCI_SUCCESS), ERROR_INPUT);
    w.resume(r0);
    assert_eq!(w.psci(r0, r1, PSCI_SUCCESS), ERROR_INPUT);
    w.request(r0, L3, L3 + 0x1000, RAM, 0);
    assert_eq!(w.psci(r0, r1, PSCI_SUCCESS), ERROR_INPUT);
    assert!(!w.st(r1).runnable());
    // A request completed once (DENIED): a second completion fails either way.
    w.smc(r0, [CPU_ON, 1, 0x3000, 0x77, 0]);
    assert_eq!(w.psci(r0, r1, PSCI_DENIED), SUCCESS);
    assert!(!w.st(r0).psci_pending(), "pending cleared");
    for status in [PSCI_SUCCESS, PSCI_DENIED] {
        assert_eq!(w.psci(r0, r1, status), ERROR_INPUT);
    }
    assert!(!w.st(r1).runnable());
    assert_eq!(w.resume(r0), [PSCI_DENIED, 0, 0, 0]);
    // A calling REC that is running has nothing pending.
    w.held(r0, || assert_eq!(w.psci(r0, r1, PSCI_SUCCESS), ERROR_INPUT));
    assert!(!w.st(r1).runnable());
    assert_eq!(w.enter_on(0, r1, 0).0, ERROR_REC);
}

#[test]
fn psci_complete_owner() {
    let w = cpu_on_pending();
    let b = w.realm(2, &[true, false]);
    let (b0, b1) = (b.recs[0].0, b.recs[1].0);
    // B's REC 1 has the requested MPIDR, but another owner.
    for status in [PSCI_SUCCESS, PSCI_DENIED] {
        assert_eq!(w.psci(w.rec(0), b1, status), ERROR_INPUT);
    }
    assert!(!w.st(b1).runnable());
    // And the other way round.
    w.smc(b0, [CPU_ON, 1, 0x5000, 0, 0]);
    assert_eq!(w.psci(b0, w.rec(1), PSCI_SUCCESS), ERROR_INPUT);
    cpu_on_completes(&w);
    assert!(!w.st(b1).runnable());
    assert_eq!(w.psci(b0, b1, PSCI_SUCCESS), SUCCESS);
    assert!(w.st(b1).runnable());
}

#[test]
fn psci_complete_target() {
    let w = cpu_on_pending();
    // REC 3 (off) and REC 2 (on) are not MPIDR 1.
    for target in [w.rec(3), w.rec(2)] {
        for status in [PSCI_SUCCESS, PSCI_DENIED] {
            assert_eq!(w.psci(w.rec(0), target, status), ERROR_INPUT);
        }
    }
    assert!(!w.st(w.rec(3)).runnable());
    assert_eq!(w.st(w.rec(2)).pc(), PC);
    cpu_on_completes(&w);
    // AFFINITY_INFO(3) completed with REC 1.
    w.smc(w.rec(0), [AFFINITY_INFO, 3, 0, 0, 0]);
    assert_eq!(w.psci(w.rec(0), w.rec(1), PSCI_SUCCESS), ERROR_INPUT);
    assert_eq!(w.psci(w.rec(0), w.rec(3), PSCI_SUCCESS), SUCCESS);
    assert_eq!(w.resume(w.rec(0)), [PSCI_OFF, 0, 0, 0]);
}

#[test]
fn psci_complete_status() {
    let w = cpu_on_pending();
    let (r0, r1, r2, r3) = (w.rec(0), w.rec(1), w.rec(2), w.rec(3));
    // CPU_ON of a REC that is off: SUCCESS and DENIED only (B3.27).
    let codes = [PSCI_NOT_SUPPORTED, PSCI_INVALID_PARAMETERS, PSCI_ALREADY_ON];
    let more = [PSCI_INVALID_ADDRESS, PSCI_OFF, 2, 1 << 32];
    let more = more.into_iter().chain([PSCI_DENIED as u32 as u64]);
    let codes = codes
        .into_iter()
        .chain(more)
        .chain([-5i64, -6, -7, -8, -10].map(|c| c as u64));
    for status in codes {
        assert_eq!(w.psci(r0, r1, status), ERROR_INPUT, "{status:#x}");
        cpu_on_unchanged(&w);
    }
    // DENIED is recorded, and REC 1 stays off.
    assert_eq!(w.psci(r0, r1, PSCI_DENIED), SUCCESS);
    assert_eq!(w.resume(r0), [PSCI_DENIED, 0, 0, 0]);
    assert_eq!(w.last(r0).pc, PC + 4);
    assert!(!w.st(r1).runnable());
    assert_eq!(w.enter_on(0, r1, 0).0, ERROR_REC);
    w.smc(r0, [CPU_ON, 1, 0x3000, 0x77, 0]);
    cpu_on_completes(&w);
    // DENIED for AFFINITY_INFO, of a REC that is on (2) or off (3).
    for (mpidr, target, answer) in [(2, r2, PSCI_ON), (3, r3, PSCI_OFF)] {
        w.smc(r0, [AFFINITY_INFO, mpidr, 0, 0, 0]);
        assert_eq!(w.psci(r0, target, PSCI_DENIED), ERROR_INPUT);
        assert_eq!(w.psci(r0, target, PSCI_ALREADY_ON), ERROR_INPUT);
        assert_eq!(w.psci(r0, target, PSCI_SUCCESS), SUCCESS);
        assert_eq!(w.resume(r0), [answer, 0, 0, 0]);
    }
    // DENIED for a CPU_ON of a REC that is on: stopped (REC 2) or running (REC 1).
    w.smc(r0, [CPU_ON, 2, 0x3000, 0, 0]);
    assert_eq!(w.psci(r0, r2, PSCI_DENIED), ERROR_INPUT);
    assert_eq!(w.psci(r0, r2, PSCI_SUCCESS), SUCCESS);
    assert_eq!(w.resume(r0), [PSCI_ALREADY_ON, 0, 0, 0]);
    w.smc(r0, [CPU_ON, 1, 0x3000, 0, 0]);
    w.held(r1, || {
        assert_eq!(w.psci(r0, r1, PSCI_DENIED), ERROR_INPUT);
        assert_eq!(w.psci(r0, r1, PSCI_SUCCESS), SUCCESS);
    });
    assert_eq!(w.resume(r0), [PSCI_ALREADY_ON, 0, 0, 0]);
}

#[test]
fn psci_complete_on_success() {
    let w = cpu_on_pending();
    let (r0, r1) = (w.rec(0), w.rec(1));
    assert_eq!(w.psci(r0, r1, PSCI_SUCCESS), SUCCESS);
    let t = w.st(r1);
    assert!(t.runnable());
    assert_eq!(snapshot(&t), started(0x77, 0x3000));
    assert_eq!(w.resume(r0), [PSCI_SUCCESS, 0, 0, 0]);
    assert_eq!(w.last(r0).pc, PC + 4);
    w.resume(r1);
    assert_eq!(w.seen(r1), [started(0x77, 0x3000)]);
}

#[test]
fn psci_complete_on_already() {
    let w = World::new(&[true, true, true]);
    let (r0, r1, r2) = (w.rec(0), w.rec(1), w.rec(2));
    w.smc(r0, [CPU_ON, 2, 0x5000, 0x99, 0]);
    assert_eq!(w.psci(r0, r2, PSCI_SUCCESS), SUCCESS);
    assert_eq!(w.resume(r0), [PSCI_ALREADY_ON, 0, 0, 0]);
    // The target is untouched.
    w.resume(r2);
    assert_eq!(w.last(r2).pc, PC);
    assert_eq!(w.last(r2).gprs[..8], [0x3333; 8]);
    // A target that is running is on.
    w.smc(r0, [CPU_ON, 1, 0x5000, 0x99, 0]);
    w.held(r1, || assert_eq!(w.psci(r0, r1, PSCI_SUCCESS), SUCCESS));
    assert_eq!(w.resume(r0), [PSCI_ALREADY_ON, 0, 0, 0]);
    assert_eq!(w.st(r1).pc(), PC);
}

#[test]
fn psci_complete_affinity_on() {
    let w = World::new(&[true, false, true]);
    let (r0, r1, r2) = (w.rec(0), w.rec(1), w.rec(2));
    // REC 2, and REC 0 asked by REC 2; then REC 1 after a CPU_ON.
    for (caller, mpidr, target) in [(r0, 2, r2), (r2, 0, r0)] {
        let exit = w.smc(caller, [AFFINITY_INFO, mpidr, 0, 7, 0]);
        assert_eq!(exit.exit_reason, RecExitReason::Psci);
        assert_eq!(exit.gprs[..3], [AFFINITY_INFO, mpidr, 0]);
        assert_eq!(w.psci(caller, target, PSCI_SUCCESS), SUCCESS);
        assert_eq!(w.resume(caller), [PSCI_ON, 0, 0, 0]);
    }
    w.smc(r0, [CPU_ON, 1, 0x3000, 0, 0]);
    assert_eq!(w.psci(r0, r1, PSCI_SUCCESS), SUCCESS);
    w.run_on(0, r0, 0, vec![Step::Smc([AFFINITY_INFO, 1, 0, 0, 0])]);
    assert_eq!(w.psci(r0, r1, PSCI_SUCCESS), SUCCESS);
    assert_eq!(w.resume(r0), [PSCI_ON, 0, 0, 0]);
}

#[test]
fn psci_complete_affinity_off() {
    let w = World::new(&[true, false]);
    w.smc(w.rec(0), [AFFINITY_INFO, 1, 0, 0, 0]);
    assert_eq!(w.psci(w.rec(0), w.rec(1), PSCI_SUCCESS), SUCCESS);
    assert_eq!(w.resume(w.rec(0)), [PSCI_OFF, 0, 0, 0]);
    assert!(!w.st(w.rec(1)).runnable(), "not started");
}

#[test]
fn psci_complete_args() {
    let w = World::new(&[true, false, true]);
    let (r0, r1, r2) = (w.rec(0), w.rec(1), w.rec(2));
    // x1..x3 are zero after every kind of completion.
    let cases = [
        (AFFINITY_INFO, 1, r1, PSCI_SUCCESS, PSCI_OFF),
        (CPU_ON, 1, r1, PSCI_DENIED, PSCI_DENIED),
        (CPU_ON, 1, r1, PSCI_SUCCESS, PSCI_SUCCESS),
        (CPU_ON, 2, r2, PSCI_SUCCESS, PSCI_ALREADY_ON),
        (AFFINITY_INFO, 2, r2, PSCI_SUCCESS, PSCI_ON),
    ];
    for (fid, mpidr, target, status, answer) in cases {
        let entry = if fid == CPU_ON { 0x3000 } else { 0 };
        w.smc(r0, [fid, mpidr, entry, 0x55, 0]);
        assert_eq!(w.psci(r0, target, status), SUCCESS);
        assert_eq!(w.resume(r0), [answer, 0, 0, 0], "{fid:#x} {mpidr}");
    }
}

/// PSCI calls the RMM answers itself (B6.3.3.2 `mpidr`, `entry`; B6.3.1.2 `target_bound`,
/// `target_match`): the realm resumes after the SMC with the error, nothing is pending.
#[test]
fn psci_checks_in_the_realm() {
    let w = World::new(&[true, false, true]);
    let r0 = w.rec(0);
    let mut cases = vec![];
    for mpidr in [3, 0x100, 0x101, 0x1_0000] {
        cases.push(([CPU_ON, mpidr, 0x3000, 0x77, 0], PSCI_INVALID_PARAMETERS));
    }
    for entry in [UNPROTECTED, UNPROTECTED + 0x1000, 1 << 39, !3] {
        cases.push(([CPU_ON, 1, entry, 0x77, 0], PSCI_INVALID_ADDRESS));
    }
    for (mpidr, level) in [(1, 1), (1, 2), (1, 3), (3, 0), (0x100, 0)] {
        cases.push(([AFFINITY_INFO, mpidr, level, 0, 0], PSCI_INVALID_PARAMETERS));
    }
    for (call, error) in cases {
        let pc = w.st(r0).pc();
        assert_eq!(w.smc(r0, call).exit_reason, RecExitReason::Irq, "{call:x?}");
        let got = (w.last(r0).gprs[0], w.last(r0).pc);
        assert_eq!(got, (error, pc + 4), "{call:x?}");
        assert!(!w.st(r0).psci_pending());
        assert_eq!(w.psci(r0, w.rec(1), PSCI_SUCCESS), ERROR_INPUT);
    }
    assert!(!w.st(w.rec(1)).runnable());
    // The last Protected page is a valid entry point.
    let exit = w.smc(r0, [CPU_ON, 1, UNPROTECTED - 0x1000, 0x77, 0]);
    assert_eq!(exit.exit_reason, RecExitReason::Psci);
}

/// A REC_ENTER that fails because the REC is not runnable must not make PSCI_COMPLETE take the
/// REC for on: while it is off, DENIED is permitted for a CPU_ON of it (B3.27 via `status`),
/// and SUCCESS must start it (`on_success`), whatever other CPUs try meanwhile.
#[test]
fn psci_complete_status_target_off_while_its_entry_fails() {
    let w = World::new(&[true, false]);
    let (r0, r1) = (w.rec(0), w.rec(1));
    let stop = AtomicBool::new(false);
    let refused = std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(w.enter_on(1, r1, 0).0, ERROR_REC);
            }
        });
        let refused = (0..20_000).position(|_| {
            w.smc(r0, [CPU_ON, 1, 0x3000, 0x77, 0]);
            w.psci(r0, r1, PSCI_DENIED) != SUCCESS
        });
        stop.store(true, Ordering::Relaxed);
        refused
    });
    assert_eq!(refused, None, "DENIED refused for a REC that is off");
    assert!(!w.st(r1).runnable());
}

// ---------------------------------------------------------------------------------------------
// RMI_RTT_SET_RIPAS

/// Realm A with two RECs; REC 0 has asked for RAM over [L3, L3 + 16 KiB).
fn ripas_pending() -> World {
    let w = World::new(&[true, true]);
    w.request(w.rec(0), L3, L3 + 0x4000, RAM, 0);
    w
}

/// After a failed SET_RIPAS: nothing applied, the change still at L3; then it can be applied.
fn ripas_unchanged_then_applies(w: &World) {
    for page in 0..4 {
        assert_eq!(w.entry(L3 + page * 0x1000, 3), ua(3, EMPTY));
    }
    w.still_at(w.rec(0), L3, L3 + 0x4000);
    assert_eq!(w.entry(L3 + 0x3000, 3), ua(3, RAM));
    assert_eq!(w.ripas_result(w.rec(0), 0), [0, L3 + 0x4000, 0]);
}

/// SET_RIPAS of the whole pending change with `rd` and `rec` fails with `x0`.
fn set_ripas_fails(w: &World, rd: u64, rec: u64, x0: u64) {
    let got = w.set_rd(rd, rec, L3, L3 + 0x4000);
    assert_eq!(got, x0, "rd {rd:#x} rec {rec:#x}");
}

#[test]
fn rtt_set_ripas_rd_align() {
    let w = ripas_pending();
    for rd in [w.a.rd + 8, w.a.rd + 0x800, w.a.rd | 1] {
        set_ripas_fails(&w, rd, w.rec(0), ERROR_INPUT);
    }
    ripas_unchanged_then_applies(&w);
}

#[test]
fn rtt_set_ripas_rd_bound() {
    let w = ripas_pending();
    for rd in [0, 0x1000, DRAM.0 - GRANULE, DRAM_END, 1 << 48] {
        set_ripas_fails(&w, rd, w.rec(0), ERROR_INPUT);
    }
    ripas_unchanged_then_applies(&w);
}

#[test]
fn rtt_set_ripas_rd_state() {
    let w = ripas_pending();
    let a = &w.a;
    let rds = [w.del(), w.ns(), w.rec(0), w.rec(1), a.rtt, a.data];
    let rds = rds.into_iter().chain([a.recs[0].1[0]]);
    for rd in rds {
        set_ripas_fails(&w, rd, w.rec(0), ERROR_INPUT);
    }
    ripas_unchanged_then_applies(&w);
}

#[test]
fn rtt_set_ripas_rec_align() {
    let w = ripas_pending();
    for rec in [w.rec(0) + 8, w.rec(0) + 0x800, w.rec(0) | 1] {
        set_ripas_fails(&w, w.a.rd, rec, ERROR_INPUT);
    }
    ripas_unchanged_then_applies(&w);
}

#[test]
fn rtt_set_ripas_rec_bound() {
    let w = ripas_pending();
    for rec in [0, 0x1000, DRAM.0 - GRANULE, DRAM_END, 1 << 48] {
        set_ripas_fails(&w, w.a.rd, rec, ERROR_INPUT);
    }
    ripas_unchanged_then_applies(&w);
}

#[test]
fn rtt_set_ripas_rec_gran_state() {
    let w = ripas_pending();
    let a = &w.a;
    for rec in [w.del(), w.ns(), a.rd, a.rtt, a.data, a.recs[0].1[0]] {
        set_ripas_fails(&w, a.rd, rec, ERROR_INPUT);
    }
    ripas_unchanged_then_applies(&w);
}

#[test]
fn rtt_set_ripas_rec_state() {
    let w = ripas_pending();
    let r0 = w.rec(0);
    w.held(r0, || {
        assert_eq!(w.set(r0, L3, L3 + 0x4000)[0], ERROR_REC);
        assert_eq!(w.set(r0, L3, L3 + 0x1000)[0], ERROR_REC);
    });
    // The realm saw that nothing was applied; the exit ended the change.
    assert_eq!(w.last(r0).gprs[..3], [0, L3, 0]);
    assert_eq!(w.entry(L3, 3), ua(3, EMPTY));
    assert_eq!(w.set(r0, L3, L3 + 0x4000)[0], ERROR_INPUT);
    w.request(r0, L3, L3 + 0x4000, RAM, 0);
    ripas_unchanged_then_applies(&w);
}

#[test]
fn rtt_set_ripas_rec_owner() {
    let w = ripas_pending();
    let b = w.realm(2, &[true]);
    let b0 = b.recs[0].0;
    w.request(b0, L3, L3 + 0x4000, RAM, 0);
    // Each realm's RD with the other's REC, both with a change pending at the same base.
    set_ripas_fails(&w, b.rd, w.rec(0), ERROR_REC);
    set_ripas_fails(&w, w.a.rd, b0, ERROR_REC);
    assert_eq!(read_entry(&w.m, b.rd, L3, 3), ua(3, EMPTY));
    assert_eq!(w.st(b0).ripas_change().addr, L3);
    ripas_unchanged_then_applies(&w);
    assert_eq!(w.set_rd(b.rd, b0, L3, L3 + 0x4000), SUCCESS);
}

#[test]
fn rtt_set_ripas_size_valid() {
    let w = ripas_pending();
    for top in [L3, L3 - 0x1000, 0] {
        assert_eq!(w.set(w.rec(0), L3, top)[0], ERROR_INPUT, "{top:#x}");
    }
    ripas_unchanged_then_applies(&w);
}

#[test]
fn rtt_set_ripas_base_bound() {
    let w = ripas_pending();
    let r0 = w.rec(0);
    for base in [L3 + 0x1000, L3 - 0x1000, 0, L3 + 0x4000] {
        assert_eq!(w.set(r0, base, L3 + 0x4000)[0], ERROR_INPUT, "{base:#x}");
    }
    ripas_unchanged_then_applies(&w);
    // After partial progress the old base is out of bounds too.
    w.request(r0, L3, L3 + 0x4000, EMPTY, 0);
    assert_eq!(w.set(r0, L3, L3 + 0x1000), [SUCCESS, L3 + 0x1000]);
    assert_eq!(w.set(r0, L3, L3 + 0x2000)[0], ERROR_INPUT);
    assert_eq!(w.entry(L3 + 0x1000, 3), ua(3, RAM));
    w.still_at(r0, L3 + 0x1000, L3 + 0x2000);
}

#[test]
fn rtt_set_ripas_top_bound() {
    let w = ripas_pending();
    for top in [L3 + 0x5000, L3 + MB2, UNPROTECTED, !0xfff] {
        assert_eq!(w.set(w.rec(0), L3, top)[0], ERROR_INPUT, "{top:#x}");
    }
    ripas_unchanged_then_applies(&w);
}

#[test]
fn rtt_set_ripas_top_gran_align() {
    let w = ripas_pending();
    for top in [L3 + 0x800, L3 + 0x1001, L3 + 0x3fff] {
        assert_eq!(w.set(w.rec(0), L3, top)[0], ERROR_INPUT, "{top:#x}");
    }
    ripas_unchanged_then_applies(&w);
}

#[test]
fn rtt_set_ripas_base_align() {
    let w = World::new(&[true, true]);
    // The walks stop at a level-2 block and at a level-1 block, both EMPTY.
    let cases = [(w.rec(0), BLOCK, 2), (w.rec(1), 0, 1)];
    for (rec, block, level) in cases {
        let (base, top) = (block + 0x1000, block + 0x3000);
        w.request(rec, base, top, RAM, 0);
        assert_eq!(w.set(rec, base, top)[0], error_rtt(level));
        assert_eq!(w.set(rec, base, base + 0x1000)[0], error_rtt(level));
        assert_eq!(w.entry(block, level), ua(level, EMPTY));
        assert_eq!(w.st(rec).ripas_change().addr, base);
    }
    // With level-3 RTTs there, the same calls work.
    w.rtt(w.a.rd, BLOCK, 3);
    w.rtt(w.a.rd, 0, 2);
    w.rtt(w.a.rd, 0, 3);
    for (rec, block, _) in cases {
        w.still_at(rec, block + 0x1000, block + 0x3000);
        assert_eq!(w.entry(block, 3), ua(3, EMPTY));
        assert_eq!(w.entry(block + 0x2000, 3), ua(3, RAM));
    }
}

#[test]
fn rtt_set_ripas_base_align_not_when_ripas_matches() {
    let w = World::new(&[true]);
    let r0 = w.rec(0);
    // BLOCK becomes RAM as a whole, then a change to RAM starts inside it.
    w.request(r0, BLOCK, BLOCK + MB2, RAM, 0);
    assert_eq!(w.set(r0, BLOCK, BLOCK + MB2), [SUCCESS, BLOCK + MB2]);
    w.request(r0, BLOCK + 0x1000, BLOCK + 3 * MB2, RAM, 0);
    let top = BLOCK + 3 * MB2;
    assert_eq!(w.set(r0, BLOCK + 0x1000, top), [SUCCESS, top]);
    for (block, ripas) in [(0, RAM), (1, RAM), (2, RAM), (3, EMPTY)] {
        assert_eq!(w.entry(BLOCK + block * MB2, 2), ua(2, ripas));
    }
    assert_eq!(w.ripas_result(r0, 0), [0, BLOCK + 3 * MB2, 0]);
}

/// Realm A whose REC 0 asked for RAM over [DEAD, +8 KiB) with `flags`.
fn destroyed_pending(flags: u64) -> World {
    let w = World::new(&[true]);
    assert_eq!(w.entry(DEAD, 3), ua(3, DESTROYED));
    w.request(w.rec(0), DEAD, DEAD + 0x2000, RAM, flags);
    w
}

#[test]
fn rtt_set_ripas_no_progress() {
    // A DESTROYED entry at base, which the realm did not allow to change.
    let w = destroyed_pending(0);
    let (rd, r0) = (w.a.rd, w.rec(0));
    for top in [DEAD + 0x1000, DEAD + 0x2000] {
        assert_eq!(w.set(r0, DEAD, top)[0], error_rtt(3));
    }
    assert_eq!(w.entry(DEAD, 3), ua(3, DESTROYED));
    assert_eq!(w.entry(DATA, 3), [SUCCESS, 3, ASSIGNED, w.a.data, RAM]);
    assert_eq!(w.ripas_result(r0, 0), [0, DEAD, 0], "nothing applied");
    // A level-2 and a level-1 block that `top` does not cover: walk_top == base.
    w.request(r0, BLOCK, BLOCK + 0x1000, RAM, 0);
    assert_eq!(w.set(r0, BLOCK, BLOCK + 0x1000)[0], error_rtt(2));
    assert_eq!(w.entry(BLOCK, 2), ua(2, EMPTY));
    w.rtt(rd, BLOCK, 3);
    w.still_at(r0, BLOCK, BLOCK + 0x1000);
    w.request(r0, 0, MB2, RAM, CHANGE_DESTROYED);
    assert_eq!(w.set(r0, 0, MB2)[0], error_rtt(1));
    assert_eq!(w.entry(0, 1), ua(1, EMPTY));
    w.rtt(rd, 0, 2);
    w.still_at(r0, 0, MB2);
    assert_eq!(w.entry(0, 2), ua(2, RAM));
}

#[test]
fn rtt_set_ripas_no_progress_not_when_ripas_matches() {
    let w = World::new(&[true]);
    let r0 = w.rec(0);
    // A level-1 and a level-2 block already EMPTY: success, nothing changes, and the whole
    // request is done (the literal Min(top, walk_top) would report no progress, out_top ==
    // base; see RMI_RTT_SET_RIPAS in src/rmi/ripas.rs).
    for (base, level) in [(0, 1), (BLOCK, 2)] {
        let top = base + 0x1000;
        w.request(r0, base, top, EMPTY, 0);
        assert_eq!(w.set(r0, base, top), [SUCCESS, top]);
        assert_eq!(w.st(r0).ripas_change().addr, top);
        assert_eq!(w.entry(base, level), ua(level, EMPTY));
        assert_eq!(w.ripas_result(r0, 0), [0, top, 0]);
    }
}

#[test]
fn rtt_set_ripas_rd_state_before_base_align_and_no_progress() {
    let w = World::new(&[true]);
    let r0 = w.rec(0);
    let bad_rds = [0x1000, DRAM_END, w.del(), w.a.rtt, r0];
    w.request(r0, BLOCK + 0x1000, BLOCK + MB2, RAM, 0);
    for rd in bad_rds {
        assert_eq!(w.set_rd(rd, r0, BLOCK + 0x1000, BLOCK + MB2), ERROR_INPUT);
    }
    w.request(r0, DEAD, DEAD + 0x1000, RAM, 0);
    for rd in bad_rds {
        assert_eq!(w.set_rd(rd, r0, DEAD, DEAD + 0x1000), ERROR_INPUT);
    }
    assert_eq!(w.set(r0, DEAD, DEAD + 0x1000)[0], error_rtt(3));
}

#[test]
fn rtt_set_ripas_rec_gran_state_before_rec_state_and_owner() {
    let w = ripas_pending();
    let b = w.realm(2, &[true]);
    // Not RECs: another realm's RD and RTT, an aux granule, this RD, outside DRAM.
    for rec in [b.rd, b.rtt, b.recs[0].1[1], w.a.rd, DRAM_END, 0x1000] {
        set_ripas_fails(&w, w.a.rd, rec, ERROR_INPUT);
        set_ripas_fails(&w, b.rd, rec, ERROR_INPUT);
    }
    ripas_unchanged_then_applies(&w);
}

#[test]
fn rtt_set_ripas_base_bound_before_base_align() {
    let w = World::new(&[true]);
    let r0 = w.rec(0);
    w.request(r0, BLOCK + 0x1000, BLOCK + MB2, RAM, 0);
    for base in [BLOCK + 0x2000, BLOCK + 0x3000] {
        assert_eq!(w.set(r0, base, BLOCK + MB2)[0], ERROR_INPUT);
    }
    assert_eq!(w.set(r0, BLOCK + 0x1000, BLOCK + MB2)[0], error_rtt(2));
}

#[test]
fn rtt_set_ripas_top_gran_align_before_no_progress() {
    let w = destroyed_pending(0);
    let r0 = w.rec(0);
    assert_eq!(w.set(r0, DEAD, DEAD + 0x800)[0], ERROR_INPUT);
    assert_eq!(w.set(r0, DEAD, DEAD + 0x1800)[0], ERROR_INPUT);
    w.request(r0, BLOCK, BLOCK + 0x2000, RAM, 0);
    assert_eq!(w.set(r0, BLOCK, BLOCK + 0x800)[0], ERROR_INPUT);
    assert_eq!(w.set(r0, BLOCK, BLOCK + 0x2000)[0], error_rtt(2));
}

#[test]
fn rtt_set_ripas_rtte_ripas_unassigned() {
    let w = World::new(&[true]);
    let r0 = w.rec(0);
    // Level 3, EMPTY -> RAM -> EMPTY; level-2 blocks likewise.
    for ripas in [RAM, EMPTY] {
        w.request(r0, L3 + 0x1000, L3 + 0x3000, ripas, 0);
        assert_eq!(w.set(r0, L3 + 0x1000, L3 + 0x3000), [SUCCESS, L3 + 0x3000]);
        for (page, ripas) in [(0, EMPTY), (1, ripas), (2, ripas), (3, EMPTY)] {
            assert_eq!(w.entry(L3 + page * 0x1000, 3), ua(3, ripas));
        }
        w.request(r0, BLOCK + MB2, BLOCK + 3 * MB2, ripas, 0);
        let top = BLOCK + 3 * MB2;
        assert_eq!(w.set(r0, BLOCK + MB2, top), [SUCCESS, top]);
        for (block, ripas) in [(0, EMPTY), (1, ripas), (2, ripas), (3, EMPTY)] {
            assert_eq!(w.entry(BLOCK + block * MB2, 2), ua(2, ripas));
        }
    }
}

#[test]
fn rtt_set_ripas_rtte_ripas_assigned() {
    let w = World::new(&[true]);
    let r0 = w.rec(0);
    let (ipa, data) = (L3 + 0x10000, w.del());
    let x0 = w.rmi(RMI_DATA_CREATE_UNKNOWN, &[w.a.rd, data, ipa])[0];
    assert_eq!(x0, SUCCESS);
    assert_eq!(w.entry(ipa, 3), [SUCCESS, 3, ASSIGNED, data, EMPTY]);
    // EMPTY -> RAM: the realm can now use the page.
    w.push(r0, vec![Step::Probe(ipa)]);
    w.request(r0, ipa, ipa + 0x1000, RAM, 0);
    assert_eq!(w.set(r0, ipa, ipa + 0x1000), [SUCCESS, ipa + 0x1000]);
    assert_eq!(w.entry(ipa, 3), [SUCCESS, 3, ASSIGNED, data, RAM]);
    w.run_on(0, r0, 0, vec![Step::Probe(ipa)]);
    // RAM -> EMPTY, for this page and the one DATA_CREATE mapped: invalidated, inaccessible.
    for (ipa, data) in [(ipa, data), (DATA, w.a.data)] {
        w.request(r0, ipa, ipa + 0x1000, EMPTY, 0);
        let before = w.m.tlb_invalidations();
        assert_eq!(w.set(r0, ipa, ipa + 0x1000), [SUCCESS, ipa + 0x1000]);
        let after = w.m.tlb_invalidations();
        assert!(after.0 + after.1 > before.0 + before.1, "no TLBI");
        assert_eq!(w.entry(ipa, 3), [SUCCESS, 3, ASSIGNED, data, EMPTY]);
        w.run_on(0, r0, 0, vec![Step::Probe(ipa)]);
    }
    let probes = w.model.probes.lock().unwrap()[&r0].clone();
    assert_eq!(probes, [false, true, false, false]);
}

#[test]
fn rtt_set_ripas_ripas_addr() {
    let w = World::new(&[true]);
    let r0 = w.rec(0);
    let top = L3 + 0x8000;
    w.request(r0, L3, top, RAM, 0);
    for (base, to) in [(0, 1), (1, 4), (4, 5)].map(|(b, t)| (L3 + b * 0x1000, L3 + t * 0x1000)) {
        assert_eq!(w.set(r0, base, to), [SUCCESS, to]);
        let change = RipasChange {
            addr: to,
            top,
            value: 1,
            change_destroyed: false,
        };
        assert_eq!(w.st(r0).ripas_change(), change);
    }
    for page in 0..8 {
        assert_eq!(w.entry(L3 + page * 0x1000, 3), ua(3, (page < 5).into()));
    }
    // The realm learns how far the host got; the change is then over.
    assert_eq!(w.ripas_result(r0, 0), [0, L3 + 0x5000, 0]);
    assert_eq!(w.st(r0).ripas_change(), RipasChange::default());
    assert_eq!(w.set(r0, L3 + 0x5000, top)[0], ERROR_INPUT);
}

#[test]
fn rtt_set_ripas_out_top() {
    let w = World::new(&[true]);
    let (rd, r0) = (w.a.rd, w.rec(0));
    // The walk stops at the end of the level-3 RTT; then at a level-2 block that `top` does
    // not cover, until the host creates a level-3 RTT there.
    let top = BLOCK + 0x4000;
    w.request(r0, BLOCK - 0x2000, top, RAM, 0);
    assert_eq!(w.set(r0, BLOCK - 0x2000, top), [SUCCESS, BLOCK]);
    assert_eq!(w.set(r0, BLOCK, top)[0], error_rtt(2));
    w.rtt(rd, BLOCK, 3);
    assert_eq!(w.set(r0, BLOCK, top), [SUCCESS, top]);
    assert_eq!(w.entry(BLOCK + 0x3000, 3), ua(3, RAM));
    assert_eq!(w.entry(BLOCK + 0x4000, 3), ua(3, EMPTY));
    // At level 2 the walk stops at the next TABLE entry, and at `top`.
    w.rtt(rd, BLOCK + 2 * MB2, 3);
    w.request(r0, BLOCK + MB2, BLOCK + 4 * MB2, RAM, 0);
    for (base, out) in [(1, 2), (2, 3), (3, 4)] {
        let (base, out, top) = (BLOCK + base * MB2, BLOCK + out * MB2, BLOCK + 4 * MB2);
        assert_eq!(w.set(r0, base, top), [SUCCESS, out]);
    }
    for (block, ripas) in [(1, RAM), (3, RAM), (4, EMPTY)] {
        assert_eq!(w.entry(BLOCK + block * MB2, 2), ua(2, ripas));
    }
    // A DESTROYED entry stops it, when the realm did not allow changing it.
    w.request(r0, DEAD - 0x2000, DEAD + 0x2000, RAM, 0);
    let out = w.set(r0, DEAD - 0x2000, DEAD + 0x2000);
    assert_eq!(out, [SUCCESS, DEAD]);
    assert_eq!(w.entry(DEAD - 0x1000, 3), ua(3, RAM));
    assert_eq!(w.entry(DEAD, 3), ua(3, DESTROYED));
    assert_eq!(w.ripas_result(r0, 0), [0, DEAD, 0]);
}

#[test]
fn rtt_set_ripas_change_destroyed() {
    let w = destroyed_pending(CHANGE_DESTROYED);
    let r0 = w.rec(0);
    let top = DEAD + 0x2000;
    assert_eq!(w.set(r0, DEAD, top), [SUCCESS, top]);
    assert_eq!(w.entry(DEAD, 3), ua(3, RAM));
    assert_eq!(w.entry(DATA, 3), [SUCCESS, 3, ASSIGNED, w.a.data, RAM]);
    assert_eq!(w.ripas_result(r0, 0), [0, top, 0]);
    // Also when the DESTROYED entry is not at base.
    assert_eq!(w.rmi(RMI_DATA_DESTROY, &[w.a.rd, DATA])[0], SUCCESS);
    assert_eq!(w.entry(DATA, 3), ua(3, DESTROYED));
    w.request(r0, DEAD, top, EMPTY, CHANGE_DESTROYED);
    assert_eq!(w.set(r0, DEAD, top), [SUCCESS, top]);
    assert_eq!(w.entry(DATA, 3), ua(3, EMPTY));
}

/// What RSI_IPA_STATE_SET returns (B5.3.6): x0 RSI_SUCCESS, x1 new_base, x2 response.
#[test]
fn rtt_set_ripas_ripas_addr_accept_and_reject() {
    let w = World::new(&[true]);
    let r0 = w.rec(0);
    // Accepted after partial progress and with none.
    w.request(r0, L3, L3 + 0x2000, RAM, 0);
    assert_eq!(w.set(r0, L3, L3 + 0x1000), [SUCCESS, L3 + 0x1000]);
    assert_eq!(w.ripas_result(r0, 0), [0, L3 + 0x1000, 0]);
    w.request(r0, L3 + 0x1000, L3 + 0x2000, RAM, 0);
    assert_eq!(w.ripas_result(r0, 0), [0, L3 + 0x1000, 0]);
    // Rejected (RAM, incomplete): partly applied, and not at all.
    w.request(r0, L3 + 0x1000, L3 + 0x3000, RAM, 0);
    assert_eq!(w.set(r0, L3 + 0x1000, L3 + 0x2000), [SUCCESS, L3 + 0x2000]);
    assert_eq!(w.ripas_result(r0, REJECT), [0, L3 + 0x2000, 1]);
    w.request(r0, L3 + 0x2000, L3 + 0x3000, RAM, 0);
    assert_eq!(w.ripas_result(r0, REJECT), [0, L3 + 0x2000, 1]);
    assert_eq!(w.entry(L3 + 0x2000, 3), ua(3, EMPTY));
}

/// RecRipasChangeResponse (B3.40), A5.4: REJECT only for a change to RAM that is incomplete.
#[test]
fn rtt_set_ripas_ripas_addr_reject_ignored_for_empty_or_complete() {
    let w = World::new(&[true]);
    let r0 = w.rec(0);
    w.request(r0, L3, L3 + 0x1000, RAM, 0);
    assert_eq!(w.set(r0, L3, L3 + 0x1000), [SUCCESS, L3 + 0x1000]);
    assert_eq!(w.ripas_result(r0, REJECT), [0, L3 + 0x1000, 0], "complete");
    w.request(r0, L3, L3 + 0x2000, EMPTY, 0);
    assert_eq!(w.ripas_result(r0, REJECT), [0, L3, 0], "EMPTY");
}

// ---------------------------------------------------------------------------------------------
// Concurrency

/// 4 RECs on 4 CPUs: each round, REC t asks CPU_ON and AFFINITY_INFO of other RECs and
/// RSI_IPA_STATE_SET over its own 4 pages, and its host thread completes all of it.
#[test]
fn psci_complete_and_rtt_set_ripas_concurrently() {
    const N: usize = 4;
    const ROUNDS: u64 = 300;
    let w = World::new(&[true, false, false, false]);
    let on: [AtomicBool; N] = Default::default();
    on[0].store(true, Ordering::SeqCst);
    let starts: [AtomicUsize; N] = Default::default();
    let winner: Mutex<[Option<Seen>; N]> = Mutex::new([None; N]);
    let range = |t: usize| L3 + 0x2_0000 + t as u64 * 0x4000;
    std::thread::scope(|s| {
        for t in 0..N {
            let (w, on, starts, winner) = (&w, &on, &starts, &winner);
            s.spawn(move || {
                let me = w.rec(t);
                let rmi = |fid, args: &[u64]| w.rmi_on(t, fid, args);
                let run = |step| w.run_on(t, me, 0, step);
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                while !on[t].load(Ordering::SeqCst) {
                    assert!(std::time::Instant::now() < deadline, "REC {t} off");
                    std::thread::yield_now();
                }
                if t != 0 {
                    run(vec![]);
                    assert_eq!(Some(w.seen(me)[0]), winner.lock().unwrap()[t]);
                }
                for r in 0..ROUNDS {
                    let pick = |k: u64| (t as u64 + 1 + (r + k) % (N as u64 - 1)) % N as u64;
                    let (target, asked) = (pick(0), pick(1));
                    let (entry, ctx) = (0x10_0000 + t as u64 * 0x1000, (t as u64) << 16 | r);
                    // CPU_ON(target), sometimes first answered DENIED.
                    let known_on = on[target as usize].load(Ordering::SeqCst);
                    let exit = run(vec![Step::Smc([CPU_ON, target, entry, ctx, 0])]);
                    assert_eq!(exit.exit_reason, RecExitReason::Psci);
                    assert_eq!(exit.gprs[..4], [CPU_ON, target, entry, ctx]);
                    let tpa = w.rec(target as usize);
                    let complete = |st| rmi(RMI_PSCI_COMPLETE, &[me, tpa, st])[0];
                    let denied = r % 4 == 0 && complete(PSCI_DENIED) == SUCCESS;
                    assert!(!(denied && known_on), "DENIED accepted for a REC known on");
                    if !denied {
                        assert_eq!(complete(PSCI_SUCCESS), SUCCESS);
                    }
                    let exit = run(vec![Step::Smc([AFFINITY_INFO, asked, 0, 0, 0])]);
                    match (denied, w.last(me).gprs[0]) {
                        (true, PSCI_DENIED) | (false, PSCI_ALREADY_ON) => {}
                        (false, PSCI_SUCCESS) => {
                            assert!(!known_on, "CPU_ON succeeded for a REC already on");
                            starts[target as usize].fetch_add(1, Ordering::SeqCst);
                            winner.lock().unwrap()[target as usize] = Some(started(ctx, entry));
                            on[target as usize].store(true, Ordering::SeqCst);
                        }
                        other => panic!("CPU_ON: {other:x?}"),
                    }
                    // AFFINITY_INFO(asked).
                    assert_eq!(exit.exit_reason, RecExitReason::Psci);
                    assert_eq!(exit.gprs[..3], [AFFINITY_INFO, asked, 0]);
                    let known_on = on[asked as usize].load(Ordering::SeqCst);
                    let apa = w.rec(asked as usize);
                    assert_eq!(rmi(RMI_PSCI_COMPLETE, &[me, apa, PSCI_SUCCESS])[0], SUCCESS);
                    // RSI_IPA_STATE_SET over 4 pages, applied in two calls.
                    let (base, top, ripas) = (range(t), range(t) + 0x4000, r % 2);
                    let exit = run(vec![Step::Smc([IPA_STATE_SET, base, top, ripas, 0])]);
                    let x0 = w.last(me).gprs[0];
                    assert!(
                        x0 == PSCI_ON || (x0 == PSCI_OFF && !known_on),
                        "AFFINITY_INFO {x0}"
                    );
                    assert_eq!(exit.exit_reason, RecExitReason::RipasChange);
                    let set = |b, e| rmi(RMI_RTT_SET_RIPAS, &[w.a.rd, me, b, e])[..2].to_vec();
                    assert_eq!(set(base, base + 0x1000), [SUCCESS, base + 0x1000]);
                    assert_eq!(set(base + 0x1000, top), [SUCCESS, top]);
                    run(vec![]);
                    assert_eq!(w.last(me).gprs[..3], [0, top, 0]);
                }
            });
        }
    });
    let starts: Vec<usize> = starts.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    assert_eq!(starts, [0, 1, 1, 1], "each REC started exactly once");
    for t in 0..N {
        assert!(w.st(w.rec(t)).runnable());
        assert!(!w.st(w.rec(t)).psci_pending());
        for page in 0..4 {
            let ipa = range(t) + page * 0x1000;
            assert_eq!(w.entry(ipa, 3), ua(3, (ROUNDS - 1) % 2));
        }
    }
}
