//! RMI_REC_AUX_COUNT (B4.3.11), RMI_REC_CREATE (B4.3.12), RMI_REC_DESTROY (B4.3.13) and
//! RMI_REC_ENTER (B4.3.14) at register level, with a scripted realm (`rmm::host::RealmModel`):
//! every failure condition with its exact x0 and nothing changed after it, the orderings the spec
//! gives, the success conditions (the RIM recomputed here with `sha2` from B4.3.9.4, B4.3.12.4
//! and C1.12), the REC exits of A4.3 field by field, and concurrent entries. RmiRecParams,
//! RmiRecEnter and RmiRecExit are encoded here from the spec's offsets, not with src/rmi/params.
//!
//! Not reachable yet, tested as far as they can be: REC_ENTER `system_off` (PSCI_SYSTEM_OFF is
//! not forwarded yet: the test takes that path once it is) and REC_CREATE `num_recs` (2^15 - 1
//! RECs need 640 MiB of granules: the count is raised through the RD granule's reference
//! count, where the RMM keeps it).

mod common;
use common::*;
use rmm::granule::GranuleState as S;
use rmm::host::{Config, Machine, Pas, RealmModel};
use rmm::measurement::HashAlgorithm::{self, Sha256, Sha512};
use rmm::platform::RealmMemory;
use rmm::rec::{esr, hpfar, RealmTrap, VcpuContext};
use rmm::rmi::params::RealmParams;
use sha2::Digest;
use std::collections::HashMap;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Mutex};

const DRAM: (u64, u64) = (0x8000_0000, 64 << 20);
/// Granule-aligned PAs with no memory: below DRAM, and just past it.
const NO_MEM: [u64; 2] = [0x1000, DRAM.0 + DRAM.1];
const VBAR: u64 = 0x8_0000;
/// Protected IPAs set up by [`Env::ipa_states`]: RIPAS DESTROYED, RAM unassigned, EMPTY.
const DESTROYED_IPA: u64 = 0x4000_0000;
const RAM_IPA: u64 = DESTROYED_IPA + 0x1000;
const EMPTY_IPA: u64 = DESTROYED_IPA + 0x2000;
/// An Unprotected IPA (upper half of the 39-bit IPA space), never mapped: UNASSIGNED_NS.
const UNPROT: u64 = 1 << 38;
// RmiRecEnterFlags (B4.4.15), RmiRecExitReason (B4.4.17).
const EMUL_MMIO: u64 = 1 << 0;
const INJECT_SEA: u64 = 1 << 1;
const TRAP_WFI: u64 = 1 << 2;
const TRAP_WFE: u64 = 1 << 3;
const EXIT_SYNC: u8 = 0;
const EXIT_IRQ: u8 = 1;
const EXIT_FIQ: u8 = 2;
const EXIT_PSCI: u8 = 3;
const EXIT_SERROR: u8 = 6;
// ESR_ELx (Arm ARM D24.2.40).
const FSC_L3: u64 = 0x07; // translation fault, level 3
const DABT: u64 = esr::EC_DABT_LOWER << esr::EC_SHIFT;
const IABT: u64 = esr::EC_IABT_LOWER << esr::EC_SHIFT;
const EC_IABT_CUR: u64 = 0x21;
const WFX: u64 = esr::EC_WFX << esr::EC_SHIFT;
const SMC: u64 = esr::EC_SMC64 << esr::EC_SHIFT | esr::IL;
// GICv3: valid ICH_LR<n>_EL2 values (HW 0), ICH_HCR_EL2 fields.
const LR_A: u64 = 1 << 62 | 1 << 60 | 0xa0 << 48 | 27; // pending, group 1, vINTID 27
const LR_B: u64 = 1 << 62 | 0x80 << 48 | 1 << 41 | 35; // pending, group 0, EOI, vINTID 35
const HCR_EN: u64 = 1;
const HCR_UIE: u64 = 1 << 1;

/// ICH_LR<n>_EL2 values: `lrs` as (n, value), the others zero.
fn lrs(lrs: &[(usize, u64)]) -> [u64; 16] {
    let mut all = [0; 16];
    lrs.iter().for_each(|&(n, lr)| all[n] = lr);
    all
}

type Rim = [u8; 64];
/// The granule states and PAS of some granules, and the RIM: what a failed command leaves.
type Snap = (Vec<(Option<S>, Option<Pas>)>, Rim);

/// Stores `values` as little-endian words from byte `at`.
fn put(p: &mut [u8], at: usize, values: &[u64]) {
    for (i, v) in values.iter().enumerate() {
        p[at + 8 * i..at + 8 * i + 8].copy_from_slice(&v.to_le_bytes());
    }
}

fn get(p: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(p[at..at + 8].try_into().unwrap())
}

/// The MPIDR of the REC with index `i` (A2.3.3): Aff3:Aff2:Aff1:Aff0[3:0] hold the index.
fn mpidr(i: u64) -> u64 {
    i & 0xf | (i >> 4 & 0xff) << 8 | (i >> 12 & 0xff) << 16 | (i >> 20 & 0xff) << 24
}

/// The RHA of `bytes`, zero-filled to the 512-bit RmmRealmMeasurement.
fn digest(algo: HashAlgorithm, bytes: &[u8]) -> Rim {
    let mut out = [0u8; 64];
    match algo {
        Sha256 => out[..32].copy_from_slice(&sha2::Sha256::digest(bytes)),
        Sha512 => out.copy_from_slice(&sha2::Sha512::digest(bytes)),
    }
    out
}

/// B4.3.9.4: the hash of a zero-filled RmiRealmParams (B4.4.12) holding the measured fields.
fn rim_init(p: &RealmParams) -> Rim {
    let mut image = [0u8; 4096];
    put(&mut image, 0, &[p.flags.bits()]);
    (image[0x8], image[0x10], image[0x18]) = (p.s2sz, p.sve_vl, p.num_bps);
    (image[0x20], image[0x28]) = (p.num_wps, p.pmu_num_ctrs);
    image[0x30] = (p.hash_algo == Sha512).into(); // RmiHashAlgorithm
    digest(p.hash_algo, &image)
}

/// B4.3.12.4: the hash of a zero-filled RmiRecParams holding flags (0x0), pc (0x200) and gprs
/// (0x300) is the content of an RmmMeasurementDescriptorRec (C1.12: desc_type 1 at 0x0, len
/// 0x100 at 0x8, RIM at 0x10, content at 0x50), whose hash is the new RIM.
fn rim_extend_rec(algo: HashAlgorithm, rim: &Rim, c: &Create) -> Rim {
    let mut params = [0u8; 4096];
    put(&mut params, 0, &[c.flags]);
    put(&mut params, 0x200, &[c.pc]);
    put(&mut params, 0x300, &c.gprs);
    let mut d = [0u8; 256];
    d[0] = 1;
    put(&mut d, 8, &[256]);
    d[0x10..0x50].copy_from_slice(rim);
    d[0x50..0x90].copy_from_slice(&digest(algo, &params));
    digest(algo, &d)
}

// ---- A scripted realm ----

/// What the realm does on its run number `n` of REC `rec`.
trait Realm: Fn(usize, u64, &mut VcpuContext, &dyn RealmMemory) -> RealmTrap + Send + Sync {}
impl<F: Fn(usize, u64, &mut VcpuContext, &dyn RealmMemory) -> RealmTrap + Send + Sync> Realm for F {}

struct Model {
    runs: AtomicUsize,
    step: Box<dyn Realm>,
}

impl RealmModel for Model {
    fn run(&self, _: usize, rec: u64, vcpu: &mut VcpuContext, mem: &dyn RealmMemory) -> RealmTrap {
        (self.step)(self.runs.fetch_add(1, SeqCst), rec, vcpu, mem)
    }
}

fn irq(_: usize, _: u64, _: &mut VcpuContext, _: &dyn RealmMemory) -> RealmTrap {
    RealmTrap::Irq
}

/// A synchronous trap with ESR `esr`, FAR `far`, and HPFAR for `ipa`.
fn sync(esr: u64, far: u64, ipa: u64) -> RealmTrap {
    let hpfar = hpfar(ipa);
    RealmTrap::Sync { esr, far, hpfar }
}

/// A stage-2 data abort at level 3 with a valid syndrome: `1 << sas` bytes, register `srt`.
fn mmio(write: bool, sas: u64, sse: bool, sf: bool, srt: u64) -> u64 {
    let e = DABT | esr::IL | esr::ISV | sas << esr::SAS_SHIFT | srt << esr::SRT_SHIFT | FSC_L3;
    e | [0, esr::SSE][sse as usize] | [0, esr::SF][sf as usize] | [0, esr::WNR][write as usize]
}

/// The realm took an SEA (A5.2.7: ESR_EL1.EA) of class `ec` for the access at `elr`, from EL1.
fn assert_sea(v: &VcpuContext, ec: u64, elr: u64) {
    assert_eq!(v.pc, VBAR + 0x200, "not at the current-EL sync vector");
    assert_eq!((esr::ec(v.el1.esr), v.el1.elr), (ec, elr));
    assert_ne!(v.el1.esr & esr::EA, 0, "ESR_EL1.EA clear");
}

// ---- RmiRecParams, RmiRecEnter, RmiRecExit ----

/// RMI_REC_CREATE's arguments (rd, rec, params_ptr) and the RmiRecParams written at `env.pp`.
#[derive(Clone)]
struct Create {
    rd: u64,
    rec: u64,
    params: u64,
    flags: u64,
    mpidr: u64,
    pc: u64,
    gprs: [u64; 8],
    num_aux: u64,
    aux: [u64; 16],
}

impl Create {
    /// RmiRecParams (B4.4.19): flags 0x0, mpidr 0x100, pc 0x200, gprs 0x300, num_aux 0x800,
    /// aux 0x808.
    fn page(&self) -> [u8; 4096] {
        let mut p = [0u8; 4096];
        put(&mut p, 0, &[self.flags]);
        put(&mut p, 0x100, &[self.mpidr]);
        put(&mut p, 0x200, &[self.pc]);
        put(&mut p, 0x300, &self.gprs);
        put(&mut p, 0x800, &[self.num_aux]);
        put(&mut p, 0x808, &self.aux);
        p
    }

    fn with(&self, change: impl FnOnce(&mut Create)) -> Create {
        let mut c = self.clone();
        change(&mut c);
        c
    }

    fn used_aux(&self) -> Vec<u64> {
        self.aux[..(self.num_aux as usize).min(16)].to_vec()
    }
}

/// RmiRecEnter.
#[derive(Clone)]
struct Enter {
    flags: u64,
    gprs: [u64; 31],
    hcr: u64,
    lrs: [u64; 16],
}

fn flags(flags: u64) -> Enter {
    gic(flags, 0, [0; 16])
}

/// Entry flags `flags`, gicv3_hcr `hcr`, gicv3_lrs `lrs`.
fn gic(flags: u64, hcr: u64, lrs: [u64; 16]) -> Enter {
    let gprs = [0; 31];
    Enter {
        flags,
        gprs,
        hcr,
        lrs,
    }
}

/// Entry flags `f` with enter.gprs[0] = `x0`.
fn flags_x0(f: u64, x0: u64) -> Enter {
    let mut e = flags(f);
    e.gprs[0] = x0;
    e
}

/// RmiRecExit.
#[derive(Debug, PartialEq)]
struct Exit {
    reason: u8,
    esr: u64,
    far: u64,
    hpfar: u64,
    gprs: [u64; 31],
    hcr: u64,
    lrs: [u64; 16],
}

impl Exit {
    /// Decodes RmiRecExit (B4.4.16) and checks that every field byte outside exit_reason, esr,
    /// far, hpfar, gprs and gicv3_* is zero, bar cnt* and pmu_ovf_status (A4.3: "all other exit
    /// fields ... are zero", unused bits MBZ), and that the padding between fields, the host's
    /// memory, still holds the pattern `enter_raw` wrote there.
    fn parse(x: &[u8]) -> Exit {
        let exit = Exit {
            reason: x[0],
            esr: get(x, 0x100),
            far: get(x, 0x108),
            hpfar: get(x, 0x110),
            gprs: std::array::from_fn(|i| get(x, 0x200 + 8 * i)),
            hcr: get(x, 0x300),
            lrs: std::array::from_fn(|i| get(x, 0x308 + 8 * i)),
        };
        // The doublewords holding fields; then the fields this check leaves to the caller.
        let fields = [
            (0, 0x8),
            (0x100, 0x118),
            (0x200, 0x398),
            (0x400, 0x420),
            (0x500, 0x518),
            (0x600, 0x608),
            (0x700, 0x708),
        ];
        let checked = [
            (0, 1),
            (0x100, 0x118),
            (0x200, 0x398),
            (0x400, 0x420),
            (0x700, 0x701),
        ];
        let within =
            |ranges: &[(usize, usize)], i: usize| ranges.iter().any(|&(a, b)| (a..b).contains(&i));
        for (i, &b) in x.iter().enumerate() {
            if !within(&fields, i) {
                assert_eq!(
                    b, 0xa5,
                    "RmiRecExit padding byte {i:#x}: the host's, left alone"
                );
            } else if !within(&checked, i) {
                assert_eq!(b, 0, "RmiRecExit byte {i:#x} set outside its fields");
            }
        }
        exit
    }

    /// (exit_reason, esr, far, hpfar), with gprs checked zero (A4.3.3: not PSCI, not host call).
    fn syn(&self) -> (u8, u64, u64, u64) {
        assert_eq!(self.gprs, [0; 31], "exit.gprs");
        (self.reason, self.esr, self.far, self.hpfar)
    }
}

// ---- A machine with one realm ----

struct TestRec {
    pa: u64,
    aux: Vec<u64>,
}

/// A machine of 8 CPUs and 64 MiB running a [`Model`], with a NEW realm (common::realm_params).
struct Env {
    m: Machine,
    model: Arc<Model>,
    next: AtomicU64,
    rd: u64,
    rtt: u64,
    realm: RealmParams,
    /// The RmiRecParams page of [`Env::create`], the RmiRecRun page of [`Env::enter`].
    pp: u64,
    run: u64,
}

impl Env {
    fn new(step: impl Realm + 'static) -> Env {
        Self::with_algo(Sha256, step)
    }

    fn with_algo(algo: HashAlgorithm, step: impl Realm + 'static) -> Env {
        let m = Machine::new(Config {
            cpus: 8,
            dram: vec![DRAM],
        });
        let model = Arc::new(Model {
            runs: AtomicUsize::new(0),
            step: Box::new(step),
        });
        assert!(m.set_realm_model(model.clone()));
        let (next, realm) = (AtomicU64::new(DRAM.0), realm_params(0));
        let mut env = Env {
            m,
            model,
            next,
            rd: 0,
            rtt: 0,
            realm,
            pp: 0,
            run: 0,
        };
        (env.rd, env.rtt, env.realm) = env.new_realm(algo, 1);
        (env.pp, env.run) = (env.ns(), env.ns());
        env
    }

    /// A NEW realm with `algo` and `vmid`: (rd, rtt, params).
    fn new_realm(&self, algo: HashAlgorithm, vmid: u16) -> (u64, u64, RealmParams) {
        let (page, rd, rtt) = (self.ns(), self.del(), self.del());
        let mut p = realm_params(rtt);
        (p.hash_algo, p.vmid) = (algo, vmid);
        write_realm_params(&self.m, page, &p);
        assert_eq!(self.x0(RMI_REALM_CREATE, &[rd, page]), SUCCESS);
        (rd, rtt, p)
    }

    /// The RD of a realm created and destroyed: DELEGATED again.
    fn destroyed_rd(&self) -> u64 {
        let rd = self.new_realm(Sha256, 2).0;
        assert_eq!(self.x0(RMI_REALM_DESTROY, &[rd]), SUCCESS);
        rd
    }

    /// The next unused granule, UNDELEGATED.
    fn ns(&self) -> u64 {
        let pa = self.next.fetch_add(GRANULE, SeqCst);
        assert!(pa < DRAM.0 + DRAM.1, "test ran out of granules");
        pa
    }

    fn del(&self) -> u64 {
        let pa = self.ns();
        assert_eq!(delegate(&self.m, pa), SUCCESS);
        pa
    }

    fn secure(&self) -> u64 {
        let pa = self.ns();
        self.m.assign_pas(pa, Pas::Secure).unwrap();
        pa
    }

    fn call_on(&self, cpu: usize, fid: u64, args: &[u64]) -> [u64; 8] {
        let mut regs = [0u64; 8];
        regs[0] = fid;
        regs[1..=args.len()].copy_from_slice(args);
        self.m.smc(cpu, regs)
    }

    fn x0(&self, fid: u64, args: &[u64]) -> u64 {
        self.call_on(0, fid, args)[0]
    }

    fn state(&self, pa: u64) -> Option<S> {
        self.m.granule_state(pa & !(GRANULE - 1))
    }

    /// The RIM: RD bytes 128..192 (src/realm/rd.rs, measurements[0]).
    fn rim(&self) -> Rim {
        let mut rim = [0u8; 64];
        self.m.debug_read(self.rd + 128, &mut rim).unwrap();
        rim
    }

    fn runs(&self) -> usize {
        self.model.runs.load(SeqCst)
    }

    fn activate(&self) {
        assert_eq!(self.x0(RMI_REALM_ACTIVATE, &[self.rd]), SUCCESS);
    }

    fn aux_count(&self, rd: u64) -> usize {
        let out = self.call_on(0, RMI_REC_AUX_COUNT, &[rd]);
        assert_eq!(out[0], SUCCESS);
        out[1] as usize
    }

    /// Valid REC_CREATE arguments for a runnable REC with index `index`, from fresh granules.
    fn args(&self, index: u64) -> Create {
        let n = self.aux_count(self.rd);
        let mut aux = [0; 16];
        aux[..n].iter_mut().for_each(|a| *a = self.del());
        Create {
            rd: self.rd,
            rec: self.del(),
            params: self.pp,
            flags: 1,
            mpidr: mpidr(index),
            pc: 0x1000 + index,
            gprs: std::array::from_fn(|i| index << 8 | i as u64),
            num_aux: n as u64,
            aux,
        }
    }

    /// Writes `c`'s RmiRecParams at `pp` and calls REC_CREATE(c.rd, c.rec, c.params).
    fn create(&self, c: &Create) -> u64 {
        self.m.ns_write(self.pp, &c.page()).unwrap();
        self.x0(RMI_REC_CREATE, &[c.rd, c.rec, c.params])
    }

    /// Creates REC `index` with RmiRecCreateFlags `flags`.
    fn rec(&self, index: u64, flags: u64) -> TestRec {
        let c = self.args(index).with(|c| c.flags = flags);
        assert_eq!(self.create(&c), SUCCESS);
        TestRec {
            pa: c.rec,
            aux: c.used_aux(),
        }
    }

    /// What a failed command must leave as it was: the granules' states and PAS, and the RIM.
    fn snap(&self, pas: &[u64]) -> Snap {
        let grans = pas.iter().map(|&pa| pa & !(GRANULE - 1));
        (
            grans.map(|g| (self.state(g), self.m.pas(g))).collect(),
            self.rim(),
        )
    }

    fn create_fails(&self, c: &Create, x0: u64) {
        let mut watch = vec![self.rd, c.rd, c.rec, c.params];
        watch.extend(c.aux);
        let before = self.snap(&watch);
        let args = [c.rd, c.rec, c.params];
        assert_eq!(self.create(c), x0, "REC_CREATE{args:x?}");
        assert_eq!(self.snap(&watch), before, "changed by REC_CREATE{args:x?}");
    }

    /// The realm's rec_index is `index`: `c` with the MPIDR of `index + 1` fails `mpidr_index`,
    /// then with that of `index` succeeds (so the granules were left usable).
    fn next_index_is(&self, index: u64, c: &Create) {
        let c = c.with(|c| c.mpidr = mpidr(index + 1));
        assert_eq!(self.create(&c), ERROR_INPUT);
        let c = c.with(|c| c.mpidr = mpidr(index));
        assert_eq!(self.create(&c), SUCCESS, "REC {index}");
        assert_eq!(self.state(c.rec), Some(S::Rec));
        c.used_aux()
            .iter()
            .for_each(|&a| assert_eq!(self.state(a), Some(S::RecAux)));
    }

    /// Writes RmiRecEnter (B4.4.14: flags 0x0, gprs 0x200, gicv3_hcr 0x300, gicv3_lrs 0x308) and
    /// a non-zero pattern over RmiRecExit in `run`'s granule (if Non-secure); REC_ENTER on `cpu`.
    fn enter_raw(&self, cpu: usize, rec: u64, run: u64, e: &Enter) -> u64 {
        let mut p = [0xa5u8; 4096];
        p[..0x800].fill(0);
        put(&mut p, 0, &[e.flags]);
        put(&mut p, 0x200, &e.gprs);
        put(&mut p, 0x300, &[e.hcr]);
        put(&mut p, 0x308, &e.lrs);
        let _ = self.m.ns_write(run & !(GRANULE - 1), &p);
        self.call_on(cpu, RMI_REC_ENTER, &[rec, run])[0]
    }

    fn enter_on(&self, cpu: usize, rec: u64, run: u64, e: &Enter) -> Exit {
        assert_eq!(self.enter_raw(cpu, rec, run, e), SUCCESS, "REC_ENTER");
        let mut p = [0u8; 4096];
        self.m.ns_read(run, &mut p).unwrap();
        Exit::parse(&p[0x800..])
    }

    fn enter(&self, rec: &TestRec, e: &Enter) -> Exit {
        self.enter_on(0, rec.pa, self.run, e)
    }

    /// REC_ENTER fails with `x0`: the realm did not run, nothing changed, RmiRecExit included.
    fn enter_fails(&self, cpu: usize, rec: u64, run: u64, e: &Enter, x0: u64) {
        let (runs, before) = (self.runs(), self.snap(&[rec, run]));
        let x = self.enter_raw(cpu, rec, run, e);
        assert_eq!(x, x0, "REC_ENTER({rec:#x}, {run:#x})");
        assert_eq!(self.runs(), runs, "the realm ran");
        assert_eq!(self.snap(&[rec, run]), before, "changed by REC_ENTER");
        let mut p = [0u8; 4096];
        if self.m.ns_read(run & !(GRANULE - 1), &mut p).is_ok() {
            assert!(p[0x800..].iter().all(|&b| b == 0xa5), "RmiRecExit written");
        }
    }

    /// Under a level-3 RTT at DESTROYED_IPA (realm NEW): RIPAS DESTROYED at DESTROYED_IPA (DATA
    /// created and destroyed), RAM with nothing assigned at RAM_IPA, EMPTY at EMPTY_IPA.
    fn ipa_states(&self) {
        for level in [2, 3] {
            let rtt = self.del();
            let out = self.x0(RMI_RTT_CREATE, &[self.rd, rtt, DESTROYED_IPA, level]);
            assert_eq!(out, SUCCESS);
        }
        let args = [self.rd, self.del(), DESTROYED_IPA, self.ns(), 0];
        assert_eq!(self.x0(RMI_DATA_CREATE, &args), SUCCESS);
        let x0 = self.x0(RMI_DATA_DESTROY, &[self.rd, DESTROYED_IPA]);
        assert_eq!(x0, SUCCESS);
        let init = [self.rd, RAM_IPA, RAM_IPA + GRANULE];
        assert_eq!(self.x0(RMI_RTT_INIT_RIPAS, &init), SUCCESS);
        for (ipa, ripas) in [(DESTROYED_IPA, 2), (RAM_IPA, 1), (EMPTY_IPA, 0)] {
            assert_eq!(read_entry(&self.m, self.rd, ipa, 3)[4], ripas, "{ipa:#x}");
        }
    }
}

/// A machine running `step` with REC 0 (runnable) and REC 1 (not runnable) of a realm, then
/// ACTIVE.
fn active(step: impl Realm + 'static) -> (Env, TestRec) {
    let env = Env::new(step);
    let rec = env.rec(0, 1);
    env.rec(1, 0);
    env.activate();
    (env, rec)
}

/// Runs `f(env, rec, run)` while REC 0 of an ACTIVE realm is inside the realm on CPU 7, entered
/// with the RmiRecRun page `run` (the model holds its first run until `f` returns; then the run
/// ends with an IRQ). Returns the environment, the REC and that REC_ENTER's x0.
fn while_running(f: impl FnOnce(&Env, &TestRec, u64)) -> (Env, TestRec, u64) {
    let hold = Arc::new((Barrier::new(2), Barrier::new(2)));
    let h = hold.clone();
    let env = Env::new(move |n, _, _, _| {
        if n == 0 {
            h.0.wait();
            h.1.wait();
        }
        RealmTrap::Irq
    });
    let rec = env.rec(0, 1);
    env.activate();
    let run = env.ns();
    let x0 = std::thread::scope(|s| {
        let running = s.spawn(|| env.enter_raw(7, rec.pa, run, &flags(0)));
        hold.0.wait();
        let result = catch_unwind(AssertUnwindSafe(|| f(&env, &rec, run)));
        hold.1.wait();
        let x0 = running.join().unwrap();
        result.unwrap_or_else(|panic| resume_unwind(panic));
        x0
    });
    (env, rec, x0)
}

// ---- RMI_REC_AUX_COUNT ----

/// REC_AUX_COUNT fails with RMI_ERROR_INPUT for each of `rds` (REC 0 exists).
fn aux_count_fails(rds: impl FnOnce(&Env, &TestRec) -> Vec<u64>) {
    let env = Env::new(irq);
    let rec = env.rec(0, 1);
    for rd in rds(&env, &rec) {
        assert_eq!(env.x0(RMI_REC_AUX_COUNT, &[rd]), ERROR_INPUT, "{rd:#x}");
    }
}

#[test]
fn rec_aux_count_rd_align() {
    aux_count_fails(|env, _| vec![env.rd + 8, env.rd + 0x800]);
}

#[test]
fn rec_aux_count_rd_bound() {
    aux_count_fails(|_, _| NO_MEM.to_vec());
}

#[test]
fn rec_aux_count_rd_state() {
    aux_count_fails(|e, r| vec![e.del(), e.ns(), e.rtt, r.pa, r.aux[0], e.destroyed_rd()]);
}

/// aux_count == RecAuxCount(rd): at most 16, the same for every realm and realm state, and the
/// num_aux REC_CREATE takes (rec_create_num_aux: no other).
#[test]
fn rec_aux_count_success() {
    let env = Env::new(irq);
    let n = env.aux_count(env.rd);
    assert!(n <= 16 && n == rmm::rec::REC_AUX_COUNT);
    assert_eq!(env.aux_count(env.new_realm(Sha512, 2).0), n);
    assert_eq!(env.create(&env.args(0)), SUCCESS);
    env.activate();
    assert_eq!(env.aux_count(env.rd), n);
}

// ---- RMI_REC_CREATE failure conditions ----

/// Each case made from valid arguments `c` for REC 1 (REC 0, `other`, exists) fails with
/// RMI_ERROR_INPUT and changes nothing; then `c` (which the closure may adjust) creates REC 1.
fn create_cases(cases: impl FnOnce(&Env, &TestRec, &mut Create) -> Vec<Create>) {
    let env = Env::new(irq);
    let other = env.rec(0, 1);
    let mut c = env.args(1);
    for bad in cases(&env, &other, &mut c) {
        env.create_fails(&bad, ERROR_INPUT);
    }
    env.next_index_is(1, &c);
}

#[test]
fn rec_create_params_align() {
    create_cases(|_, _, c| [8, 0x800].map(|o| c.with(|c| c.params += o)).to_vec());
}

#[test]
fn rec_create_params_bound() {
    create_cases(|_, _, c| NO_MEM.map(|pa| c.with(|c| c.params = pa)).to_vec());
}

#[test]
fn rec_create_params_pas() {
    create_cases(|env, r, c| {
        // Valid parameters in a granule EL3 moved to the Secure PAS.
        let secure = env.ns();
        env.m.ns_write(secure, &c.page()).unwrap();
        env.m.assign_pas(secure, Pas::Secure).unwrap();
        let ptrs = [secure, env.del(), env.rd, c.rec, r.pa];
        ptrs.map(|pa| c.with(|c| c.params = pa)).to_vec()
    });
}

#[test]
fn rec_create_rec_align() {
    create_cases(|_, _, c| [8, 0x800].map(|o| c.with(|c| c.rec += o)).to_vec());
}

#[test]
fn rec_create_rec_bound() {
    create_cases(|_, _, c| NO_MEM.map(|pa| c.with(|c| c.rec = pa)).to_vec());
}

/// UNDELEGATED, already a REC, an aux of another REC, the RD, an RTT.
#[test]
fn rec_create_rec_state() {
    create_cases(|env, r, c| {
        let recs = [env.ns(), r.pa, r.aux[0], r.aux[3], env.rd, env.rtt];
        recs.map(|pa| c.with(|c| c.rec = pa)).to_vec()
    });
}

#[test]
fn rec_create_rd_align() {
    create_cases(|_, _, c| [8, 0x800].map(|o| c.with(|c| c.rd += o)).to_vec());
}

#[test]
fn rec_create_rd_bound() {
    create_cases(|_, _, c| NO_MEM.map(|pa| c.with(|c| c.rd = pa)).to_vec());
}

#[test]
fn rec_create_rd_state() {
    create_cases(|env, r, c| {
        let rds = [
            env.del(),
            env.ns(),
            env.rtt,
            r.pa,
            r.aux[1],
            env.destroyed_rd(),
        ];
        rds.map(|pa| c.with(|c| c.rd = pa)).to_vec()
    });
}

/// [rd_bound, rd_state] < [realm_state, num_recs]: with the realm ACTIVE, what is not an RD
/// still fails with RMI_ERROR_INPUT.
#[test]
fn rec_create_rd_state_before_realm_state() {
    let env = Env::new(irq);
    let rec = env.rec(0, 1);
    env.activate();
    let c = env.args(1);
    for rd in [
        rec.pa,
        rec.aux[0],
        env.rtt,
        env.destroyed_rd(),
        NO_MEM[0],
        NO_MEM[1],
    ] {
        env.create_fails(&c.with(|c| c.rd = rd), ERROR_INPUT);
    }
    env.create_fails(&c, ERROR_REALM);
}

/// (RMI_ERROR_REALM, 0) exactly, with otherwise valid arguments, runnable or not.
#[test]
fn rec_create_realm_state() {
    let env = Env::new(irq);
    env.rec(0, 1);
    env.activate();
    let c = env.args(1);
    env.create_fails(&c, ERROR_REALM);
    env.create_fails(&c.with(|c| c.flags = 0), ERROR_REALM);
}

/// The realm has 2^max_recs_order - 1 RECs (RMI_FEATURES register 0, bits 41:38): all but the
/// last two are references taken on the RD granule, where the RMM counts RECs.
#[test]
fn rec_create_num_recs() {
    let env = Env::new(irq);
    let max = (1u64 << (env.call_on(0, RMI_FEATURES, &[0])[1] >> 38 & 0xf)) - 1;
    {
        let rd = env.m.rmm().granules().get(env.rd).unwrap();
        let locked = rd.lock(S::Rd).unwrap();
        (0..max - 2).for_each(|_| locked.get_ref());
    }
    let first = env.rec(0, 1);
    env.rec(1, 0);
    let c = env.args(2);
    env.create_fails(&c, ERROR_REALM);
    env.create_fails(&c.with(|c| c.flags = 0), ERROR_REALM);
    env.create_fails(&c.with(|c| c.rd = first.pa), ERROR_INPUT); // rd_state first
    assert_eq!(env.x0(RMI_REC_DESTROY, &[first.pa]), SUCCESS);
    env.next_index_is(2, &c);
    env.create_fails(&env.args(3), ERROR_REALM);
}

/// The next index is 1 (REC 0 exists): the same MPIDR again, 2, 16 (aff1), 2^12 (aff2), 2^20
/// (aff3); and index 1 with SBZ bits set: 7:4 (Aff0[7:4], A2.3.3), 32, 63. A destroyed REC's
/// index is not reused.
#[test]
fn rec_create_mpidr_index() {
    create_cases(|_, _, c| {
        let bad = [
            0,
            2,
            0x100,
            0x1_0000,
            0x100_0000,
            0x11,
            0xf1,
            1 | 1 << 32,
            1 | 1 << 63,
        ];
        bad.map(|m| c.with(|c| c.mpidr = m)).to_vec()
    });
    let env = Env::new(irq);
    let rec = env.rec(0, 1);
    assert_eq!(env.x0(RMI_REC_DESTROY, &[rec.pa]), SUCCESS);
    env.create_fails(&env.args(0), ERROR_INPUT);
    env.next_index_is(1, &env.args(1));
}

/// 0, RecAuxCount - 1 and + 1, 16, 17, huge: all 16 entries are distinct DELEGATED granules,
/// so only the count is wrong.
#[test]
fn rec_create_num_aux() {
    create_cases(|env, _, c| {
        let n = c.num_aux;
        c.aux[n as usize..].iter_mut().for_each(|a| *a = env.del());
        let bad = [0, n - 1, n + 1, 16, 17, 1 << 32, u64::MAX];
        bad.map(|num| c.with(|c| c.num_aux = num)).to_vec()
    });
}

/// Past num_aux, entries are not looked at (B3.10 AuxAligned: the first count).
#[test]
fn rec_create_aux_align() {
    create_cases(|_, _, c| {
        let n = c.num_aux as usize;
        let bad = [(0, 8), (1, 0x800), (n - 1, 0xfff)];
        let cases = bad.map(|(i, o)| c.with(|c| c.aux[i] += o)).to_vec();
        c.aux[n] = 0x1234;
        cases
    });
}

/// An aux equal to the REC (first, last), two equal (B3.9 AuxAlias); past num_aux, entries are
/// not looked at.
#[test]
fn rec_create_aux_alias() {
    create_cases(|_, _, c| {
        let n = c.num_aux as usize;
        let (rec, a) = (c.rec, c.aux);
        let bad = [(0, rec), (n - 1, rec), (3, a[0]), (n - 1, a[0]), (1, a[2])];
        let cases = bad.map(|(i, pa)| c.with(|c| c.aux[i] = pa)).to_vec();
        (c.aux[n], c.aux[n + 1]) = (a[0], rec);
        cases
    });
}

/// UNDELEGATED, the RD (locked by the command itself), an RTT, a REC, another REC's aux,
/// outside memory (!PaIsDelegable), Secure.
#[test]
fn rec_create_aux_state() {
    create_cases(|env, r, c| {
        let n = c.num_aux as usize;
        let bad = [
            (0, env.ns()),
            (1, env.rd),
            (n - 1, env.rtt),
            (2, r.pa),
            (0, r.aux[0]),
            (n - 1, r.aux[3]),
            (1, NO_MEM[0]),
            (2, NO_MEM[1]),
            (0, env.secure()),
        ];
        bad.map(|(i, pa)| c.with(|c| c.aux[i] = pa)).to_vec()
    });
}

// ---- RMI_REC_CREATE success ----

/// rec_gran_state, rec_aux_state, rec_index (REC 1 not runnable), num_recs (REALM_DESTROY).
#[test]
fn rec_create_success() {
    let env = Env::new(irq);
    let c = env.args(0);
    assert_eq!(env.create(&c), SUCCESS);
    assert_eq!(env.state(c.rec), Some(S::Rec));
    c.used_aux()
        .iter()
        .for_each(|&a| assert_eq!(env.state(a), Some(S::RecAux)));
    env.create_fails(&env.args(0), ERROR_INPUT);
    env.next_index_is(1, &env.args(1).with(|c| c.flags = 0));
    assert_eq!(env.x0(RMI_REALM_DESTROY, &[env.rd]), ERROR_REALM);
}

/// B4.3.12.4: a runnable REC extends the RIM as computed here; a not-runnable one leaves it.
#[test]
fn rec_create_success_rim() {
    for algo in [Sha256, Sha512] {
        let env = Env::with_algo(algo, irq);
        let mut rim = rim_init(&env.realm);
        assert_eq!(env.rim(), rim, "RIM after REALM_CREATE");
        let c = env
            .args(0)
            .with(|c| (c.pc, c.gprs) = (0x8008_0000, [1, 2, 3, 4, 5, 6, 7, !0]));
        assert_eq!(env.create(&c), SUCCESS);
        rim = rim_extend_rec(algo, &rim, &c);
        assert_eq!(env.rim(), rim, "{algo:?}: RIM after a runnable REC");
        assert_eq!(env.create(&env.args(1).with(|c| c.flags = 0)), SUCCESS);
        assert_eq!(env.rim(), rim, "{algo:?}: not runnable, yet measured");
        let c = env.args(2);
        assert_eq!(env.create(&c), SUCCESS);
        rim = rim_extend_rec(algo, &rim, &c);
        assert_eq!(env.rim(), rim, "{algo:?}: RIM after REC 2");
    }
}

/// rec_pc, rec_gprs: the first entry runs at params.pc with x0..x7 = params.gprs and x8..x30
/// zero, whatever enter.gprs holds (A4.2.2); later entries restore what the realm left.
#[test]
fn rec_create_success_registers() {
    const GPRS: [u64; 8] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
    let env = Env::new(|n, _, v, _| {
        if n == 0 {
            let regs = (v.pc, &v.gprs[..8], &v.gprs[8..]);
            assert_eq!(regs, (0x8000_1000, &GPRS[..], &[0; 23][..]));
            (v.gprs[0], v.gprs[9], v.gprs[30]) = (1, 0x99, 0x3030);
            return RealmTrap::Irq;
        }
        let regs = (v.gprs[0], v.gprs[9], v.gprs[30], &v.gprs[1..8]);
        assert_eq!(regs, (1, 0x99, 0x3030, &GPRS[1..]));
        RealmTrap::Fiq
    });
    let c = env.args(0).with(|c| (c.pc, c.gprs) = (0x8000_1000, GPRS));
    assert_eq!(env.create(&c), SUCCESS);
    env.activate();
    let rec = TestRec {
        pa: c.rec,
        aux: vec![],
    };
    let mut noise = flags(0);
    noise.gprs = [0xbad; 31];
    assert_eq!(env.enter(&rec, &noise).syn(), (EXIT_IRQ, 0, 0, 0));
    assert_eq!(env.enter(&rec, &noise).syn(), (EXIT_FIQ, 0, 0, 0));
}

// ---- RMI_REC_DESTROY ----

/// REC_DESTROY(`pa`) fails with `x0`; `rec` and its aux keep their states.
fn destroy_fails(env: &Env, pa: u64, rec: &TestRec, x0: u64) {
    let watch = [&[pa, rec.pa][..], &rec.aux].concat();
    let before = env.snap(&watch);
    assert_eq!(env.x0(RMI_REC_DESTROY, &[pa]), x0, "REC_DESTROY({pa:#x})");
    assert_eq!(env.snap(&watch), before, "changed by REC_DESTROY({pa:#x})");
}

/// REC_DESTROY of each of `pas` fails with RMI_ERROR_INPUT; then REC 0 is destroyed.
fn destroy_cases(pas: impl FnOnce(&Env, &TestRec) -> Vec<u64>) {
    let env = Env::new(irq);
    let rec = env.rec(0, 1);
    pas(&env, &rec)
        .into_iter()
        .for_each(|pa| destroy_fails(&env, pa, &rec, ERROR_INPUT));
    assert_eq!(env.x0(RMI_REC_DESTROY, &[rec.pa]), SUCCESS);
}

#[test]
fn rec_destroy_rec_align() {
    destroy_cases(|_, r| vec![r.pa + 8, r.pa + 0x800]);
}

#[test]
fn rec_destroy_rec_bound() {
    destroy_cases(|_, _| NO_MEM.to_vec());
}

#[test]
fn rec_destroy_rec_gran_state() {
    destroy_cases(|env, r| vec![env.del(), env.ns(), env.rd, env.rtt, r.aux[0], r.aux[3]]);
}

/// A running REC cannot be destroyed: RMI_ERROR_REC at once, from any CPU; it can once the
/// entry returned. [rec_bound, rec_gran_state] < [rec_state]: meanwhile, what is not a REC
/// still fails with RMI_ERROR_INPUT.
#[test]
fn rec_destroy_rec_state() {
    let (env, rec, x0) = while_running(|env, rec, _| {
        for cpu in [0, 3] {
            assert_eq!(env.call_on(cpu, RMI_REC_DESTROY, &[rec.pa])[0], ERROR_REC);
        }
        destroy_fails(env, rec.pa, rec, ERROR_REC);
        for pa in [rec.aux[0], rec.pa + 8, env.rd, NO_MEM[0]] {
            destroy_fails(env, pa, rec, ERROR_INPUT);
        }
    });
    assert_eq!(x0, SUCCESS);
    assert_eq!(env.x0(RMI_REC_DESTROY, &[rec.pa]), SUCCESS);
}

/// rec_gran_state, rec_aux_state: DELEGATED and wiped; num_recs: the realm can be destroyed
/// once its last REC is (A2.1.4).
#[test]
fn rec_destroy_success() {
    let env = Env::new(|_, _, v, _| {
        v.gprs[20] = 0xffff;
        RealmTrap::Irq
    });
    let (rec, idle) = (env.rec(0, 1), env.rec(1, 0));
    env.activate();
    assert_eq!(env.enter(&rec, &flags(0)).reason, EXIT_IRQ);
    let mut page = [0u8; 4096];
    env.m.debug_read(rec.pa, &mut page).unwrap();
    assert!(
        page.iter().any(|&b| b != 0),
        "the REC granule holds the REC"
    );
    assert_eq!(env.x0(RMI_REC_DESTROY, &[rec.pa]), SUCCESS);
    assert_eq!(env.x0(RMI_REC_DESTROY, &[rec.pa]), ERROR_INPUT);
    env.enter_fails(0, rec.pa, env.run, &flags(0), ERROR_INPUT);
    assert_eq!(env.x0(RMI_REALM_DESTROY, &[env.rd]), ERROR_REALM, "REC 1");
    assert_eq!(env.x0(RMI_REC_DESTROY, &[idle.pa]), SUCCESS);
    assert_eq!(env.x0(RMI_REALM_DESTROY, &[env.rd]), SUCCESS);
    for pa in [&[rec.pa, idle.pa][..], &rec.aux, &idle.aux].concat() {
        assert_eq!(env.state(pa), Some(S::Delegated), "{pa:#x}");
        env.m.debug_read(pa, &mut page).unwrap();
        assert_eq!(page, [0; 4096], "{pa:#x} not wiped");
        assert_eq!(undelegate(&env.m, pa), SUCCESS);
        env.m.ns_read(pa, &mut page).unwrap();
        assert_eq!(page, [0; 4096]);
    }
}

// ---- RMI_REC_ENTER failure conditions ----

/// REC_ENTER with each (rec, run, enter) case fails with `x0` and changes nothing (the realm
/// does not run); REC 0 then enters.
fn enter_cases(x0: u64, cases: impl FnOnce(&Env, &TestRec) -> Vec<(u64, u64, Enter)>) {
    let (env, rec) = active(irq);
    for (r, run, e) in cases(&env, &rec) {
        env.enter_fails(0, r, run, &e, x0);
    }
    assert_eq!(env.enter(&rec, &flags(0)).reason, EXIT_IRQ);
}

#[test]
fn rec_enter_run_align() {
    enter_cases(ERROR_INPUT, |e, r| {
        [8, 0x800].map(|o| (r.pa, e.run + o, flags(0))).to_vec()
    });
}

#[test]
fn rec_enter_run_bound() {
    enter_cases(ERROR_INPUT, |_, r| {
        NO_MEM.map(|run| (r.pa, run, flags(0))).to_vec()
    });
}

/// DELEGATED, Secure, the REC itself, the RD, an aux.
#[test]
fn rec_enter_run_pas() {
    enter_cases(ERROR_INPUT, |e, r| {
        let runs = [e.del(), e.secure(), r.pa, e.rd, r.aux[0]];
        runs.map(|run| (r.pa, run, flags(0))).to_vec()
    });
}

#[test]
fn rec_enter_rec_align() {
    enter_cases(ERROR_INPUT, |e, r| {
        [8, 0x800].map(|o| (r.pa + o, e.run, flags(0))).to_vec()
    });
}

#[test]
fn rec_enter_rec_bound() {
    enter_cases(ERROR_INPUT, |e, _| {
        NO_MEM.map(|pa| (pa, e.run, flags(0))).to_vec()
    });
}

#[test]
fn rec_enter_rec_gran_state() {
    enter_cases(ERROR_INPUT, |e, r| {
        let pas = [e.del(), e.ns(), e.rd, e.rtt, r.aux[0], r.aux[3]];
        pas.map(|pa| (pa, e.run, flags(0))).to_vec()
    });
}

/// (RMI_ERROR_REALM, 0): x0 == 2, on any CPU, with otherwise valid entries (the spec orders
/// nothing between realm_new and rec_runnable or rec_mmio, so those are not mixed in here).
#[test]
fn rec_enter_realm_new() {
    let env = Env::new(irq);
    let rec = env.rec(0, 1);
    for (cpu, f) in [(0, 0), (3, TRAP_WFI | TRAP_WFE)] {
        env.enter_fails(cpu, rec.pa, env.run, &flags(f), ERROR_REALM);
    }
    env.activate();
    assert_eq!(env.enter(&rec, &flags(0)).reason, EXIT_IRQ);
}

/// (RMI_ERROR_REALM, 1). Only PSCI_SYSTEM_OFF makes a realm SYSTEM_OFF and the RMM does not
/// forward PSCI yet (the realm's call is answered in the realm, the next run ends with an IRQ):
/// checked meanwhile that NEW gives index 0 (x0 2, never 0x102) and ACTIVE enters. Once the PSCI
/// exit exists, the test checks the failure itself.
#[test]
fn rec_enter_system_off() {
    let env = Env::new(|n, _, v, _| match n {
        0 => {
            v.gprs[0] = 0x8400_0008; // PSCI_SYSTEM_OFF
            sync(SMC, 0, 0)
        }
        _ => RealmTrap::Irq,
    });
    let rec = env.rec(0, 1);
    env.enter_fails(0, rec.pa, env.run, &flags(0), ERROR_REALM);
    env.activate();
    let exit = env.enter(&rec, &flags(0));
    if exit.reason == EXIT_PSCI {
        assert_eq!(exit.gprs[0], 0x8400_0008);
        env.enter_fails(0, rec.pa, env.run, &flags(0), ERROR_REALM | 1 << 8);
    } else {
        assert_eq!((exit.syn(), env.runs()), ((EXIT_IRQ, 0, 0, 0), 2));
        assert_eq!(env.enter(&rec, &flags(0)).reason, EXIT_IRQ);
    }
}

/// A running REC: another REC_ENTER fails at once with RMI_ERROR_REC on any other CPU, and the
/// realm does not run it twice. [run_*, rec_gran_state] < [rec_state]: bad run pointers and
/// non-REC granules still fail with RMI_ERROR_INPUT.
#[test]
fn rec_enter_rec_state() {
    let (env, rec, x0) = while_running(|env, rec, _| {
        for cpu in [0, 1, 6] {
            env.enter_fails(cpu, rec.pa, env.run, &flags(0), ERROR_REC);
        }
        for run in [env.run + 8, NO_MEM[0], env.del(), env.secure()] {
            env.enter_fails(0, rec.pa, run, &flags(0), ERROR_INPUT);
        }
        env.enter_fails(0, rec.aux[0], env.run, &flags(0), ERROR_INPUT);
        assert_eq!(env.runs(), 1);
    });
    assert_eq!(x0, SUCCESS);
    assert_eq!(env.enter(&rec, &flags(0)).reason, EXIT_IRQ);
    assert_eq!(env.runs(), 2);
}

/// A4.3.3: the RMM cannot write RmiRecExit (EL3 moved the run page to the Secure PAS while the
/// realm ran): REC_ENTER fails with RMI_ERROR_INPUT; the REC can be entered again.
#[test]
fn rec_enter_run_pas_at_exit() {
    let (env, rec, x0) = while_running(|env, _, run| env.m.assign_pas(run, Pas::Secure).unwrap());
    assert_eq!(x0, ERROR_INPUT);
    assert_eq!(env.enter(&rec, &flags(0)).reason, EXIT_IRQ);
}

/// Created not runnable (flags 0, or SBZ bits set with runnable clear).
#[test]
fn rec_enter_rec_runnable() {
    let env = Env::new(irq);
    let rec = env.rec(0, 1);
    let idle = [env.rec(1, 0), env.rec(2, 0xfffe)];
    env.activate();
    for f in [0, TRAP_WFI | TRAP_WFE] {
        idle.iter()
            .for_each(|r| env.enter_fails(0, r.pa, env.run, &flags(f), ERROR_REC));
    }
    assert_eq!(env.enter(&rec, &flags(0)).reason, EXIT_IRQ);
}

/// emul_mmio without an emulatable abort as the last exit: never entered, after an IRQ exit
/// (which clears rec.emulatable_abort), after a non-emulatable abort. With inject_sea as well,
/// emul_mmio is ignored (A4.2.3): no failure, and nothing is completed or injected.
#[test]
fn rec_enter_rec_mmio() {
    let (env, rec) = active(|n, _, v, _| match n {
        0 => {
            assert_eq!((v.pc, v.el1.esr), (0x1000, 0));
            v.pc = 0x2000;
            sync(mmio(false, 2, false, true, 3), UNPROT, UNPROT)
        }
        1 => {
            assert_eq!(v.pc, 0x2000, "not emulated: the load is retried");
            RealmTrap::Irq
        }
        2 => sync(DABT | esr::IL | FSC_L3, UNPROT, UNPROT), // ISV 0
        _ => RealmTrap::Irq,
    });
    env.enter_fails(0, rec.pa, env.run, &flags(EMUL_MMIO), ERROR_REC);
    let both = flags(EMUL_MMIO | INJECT_SEA);
    assert_eq!(env.enter(&rec, &both).reason, EXIT_SYNC);
    assert_eq!(env.enter(&rec, &flags(0)).reason, EXIT_IRQ);
    env.enter_fails(0, rec.pa, env.run, &flags(EMUL_MMIO), ERROR_REC);
    assert_eq!(env.enter(&rec, &flags(0)).reason, EXIT_SYNC);
    env.enter_fails(0, rec.pa, env.run, &flags(EMUL_MMIO), ERROR_REC);
    assert_eq!(env.enter(&rec, &flags(0)).reason, EXIT_IRQ);
    assert_eq!(env.runs(), 4);
}

/// Gicv3ConfigIsValid (A6.1): gicv3_hcr may only set UIE, LRENPIE, NPIE, VGrp0EIE, VGrp0DIE,
/// VGrp1EIE, VGrp1DIE and TDIR: not En, vSGIEOICount, TC, TALL0, TALL1, TSEI, DVIM, EOIcount
/// or RES0 bits. LRs: HW (alone or with a pINTID), RES0 59:56 and 47:45, pINTID[44:42] (RES0
/// with HW 0), in the first, a middle and the last LR.
#[test]
fn rec_enter_rec_gicv3() {
    enter_cases(ERROR_REC, |e, r| {
        let hcr = [0, 8, 9, 10, 11, 12, 13, 15, 16, 26, 27, 31, 32, 63];
        let hcr = hcr.map(|bit| gic(0, HCR_UIE | 1 << bit, [0; 16]));
        let mut bad = [61, 56, 59, 45, 47, 42, 44].map(|bit| 1 << bit).to_vec();
        bad.push(1 << 61 | 5 << 32);
        let at = |i: usize| [0, 15, 7][i % 3]; // first, last, a middle LR
        let bad_lrs = bad.iter().enumerate();
        let bad_lrs = bad_lrs.map(|(i, b)| gic(0, 0, lrs(&[(at(i), LR_A | b)])));
        let all = hcr.into_iter().chain(bad_lrs);
        all.map(|x| (r.pa, e.run, x)).collect()
    });
}

/// With HW == 0, pINTID bits 40:32 are RES0 too (only bit 41, EOI, has a meaning).
#[test]
fn rec_enter_rec_gicv3_lr_pintid_res0() {
    enter_cases(ERROR_REC, |e, r| {
        let bad = [1 << 32, 1 << 40, 0x1ff << 32];
        let bad = bad.map(|bits| gic(0, 0, lrs(&[(3, LR_A | bits)])));
        bad.map(|x| (r.pa, e.run, x)).to_vec()
    });
}

/// A REC with a PSCI request pending (PSCI_CPU_ON for REC 1: a REC exit due to PSCI with the
/// FID and arguments, A4.3.7) cannot be entered (RMI_ERROR_REC, nothing changed) until
/// RMI_PSCI_COMPLETE; then the realm gets the result in x0.
#[test]
fn rec_enter_rec_psci() {
    const CPU_ON: [u64; 4] = [0xC400_0003, 0x1, 0x9000, 0x77]; // mpidr(1), entry, context
    let env = Env::new(|n, _, v, _| match n {
        0 => {
            v.gprs[..4].copy_from_slice(&CPU_ON);
            sync(SMC, 0, 0)
        }
        _ => {
            assert_eq!(v.gprs[0], 0, "PSCI_SUCCESS");
            RealmTrap::Irq
        }
    });
    let (rec, target) = (env.rec(0, 1), env.rec(1, 0));
    env.activate();
    let exit = env.enter(&rec, &flags(0));
    assert_eq!(
        (exit.reason, exit.esr, exit.far, exit.hpfar),
        (EXIT_PSCI, 0, 0, 0)
    );
    assert_eq!(
        (&exit.gprs[..4], &exit.gprs[4..]),
        (&CPU_ON[..], &[0; 27][..])
    );
    for f in [0, EMUL_MMIO | INJECT_SEA, TRAP_WFI] {
        env.enter_fails(0, rec.pa, env.run, &flags(f), ERROR_REC);
    }
    assert_eq!(env.x0(RMI_PSCI_COMPLETE, &[rec.pa, target.pa, 0]), SUCCESS);
    assert_eq!(env.enter(&rec, &flags(0)).syn(), (EXIT_IRQ, 0, 0, 0));
}

/// [rec_*, run_*] < [realm_new, rec_runnable, rec_mmio, rec_gicv3, ...]: every input condition
/// comes first (with the realm NEW; then with a not-runnable REC, emul_mmio with no abort and
/// an invalid GIC state).
#[test]
fn rec_enter_run_pas_before_realm_new() {
    let env = Env::new(irq);
    let (rec, idle) = (env.rec(0, 1), env.rec(1, 0));
    let bad_runs = [env.run + 8, NO_MEM[1], env.del(), env.secure(), env.rd];
    let bad = gic(EMUL_MMIO, HCR_EN, [0; 16]);
    for activate in [false, true] {
        if activate {
            env.activate();
        }
        for run in bad_runs {
            env.enter_fails(0, rec.pa, run, &bad, ERROR_INPUT);
            env.enter_fails(0, idle.pa, run, &flags(0), ERROR_INPUT);
        }
    }
    assert_eq!(env.enter(&rec, &flags(0)).reason, EXIT_IRQ);
}

// ---- RMI_REC_ENTER: REC exits (A4.3) ----

/// A4.3.4.1: WFI or WFE exits only when its trap flag is set, with EC and TI only; either way
/// the realm resumes after the instruction.
#[test]
fn rec_enter_success_wfi_wfe() {
    // Per run: TI of the realm's WFx (9: an IRQ instead), and whether that run exits.
    const SCRIPT: [(u64, bool); 9] = [
        (0, true),  // entry 1, TRAP_WFI: WFI exits
        (1, false), // entry 2, TRAP_WFI: WFE completes, then
        (0, true),  //   WFI exits
        (0, false), // entry 3, TRAP_WFE: WFI completes, then
        (1, true),  //   WFE exits
        (0, false), // entry 4, no traps: WFI and WFE complete, then an IRQ
        (1, false),
        (9, true),
        (1, true), // entry 5, both traps: WFE exits
    ];
    let (env, rec) = active(|n, _, v, _| {
        let done = SCRIPT[..n].iter().filter(|s| s.0 != 9).count() as u64;
        assert_eq!(v.pc, 0x1000 + 4 * done, "run {n}: each WFx completed");
        v.gprs[0] = 0x1234;
        match SCRIPT[n].0 {
            9 => RealmTrap::Irq,
            ti => sync(WFX | esr::IL | ti, 0, 0),
        }
    });
    let exits = SCRIPT.iter().filter(|s| s.1);
    for (f, &(ti, _)) in [TRAP_WFI, TRAP_WFI, TRAP_WFE, 0, TRAP_WFI | TRAP_WFE]
        .iter()
        .zip(exits)
    {
        let want = if ti == 9 {
            (EXIT_IRQ, 0, 0, 0)
        } else {
            (EXIT_SYNC, WFX | ti, 0, 0)
        };
        assert_eq!(env.enter(&rec, &flags(*f)).syn(), want, "flags {f:#x}");
    }
    assert_eq!(env.runs(), SCRIPT.len());
}

/// A4.3.4.1: on an exit due to WFIT or WFET, exit.gprs[0] holds the timeout (the register in
/// the syndrome's RN, bits 9:5, valid with RV, bit 2).
#[test]
fn rec_enter_success_wfit_timeout() {
    let (env, rec) = active(|n, _, v, _| match n {
        0 => {
            v.gprs[3] = 0x1234_5678_9abc;
            sync(WFX | esr::IL | 3 << 5 | 1 << 2 | 2, 0, 0) // WFIT x3
        }
        _ => RealmTrap::Irq,
    });
    let exit = env.enter(&rec, &flags(TRAP_WFI));
    let got = (exit.reason, exit.esr, exit.gprs[0]);
    assert_eq!(got, (EXIT_SYNC, WFX | 2, 0x1234_5678_9abc));
}

/// A4.3.5, A4.3.6, A4.3.10: IRQ and FIQ with esr zero; SError with EC, IDS, AET, EA and DFSC.
#[test]
fn rec_enter_success_irq_fiq_serror() {
    const SERR: u64 = 0x2f << esr::EC_SHIFT | 0b010 << 10 | esr::EA | 0x11;
    let (env, rec) = active(|n, _, v, _| {
        v.gprs = [0x77; 31];
        [
            RealmTrap::Irq,
            RealmTrap::Fiq,
            RealmTrap::SError { esr: SERR },
        ][n]
    });
    for want in [(EXIT_IRQ, 0), (EXIT_FIQ, 0), (EXIT_SERROR, SERR)] {
        assert_eq!(env.enter(&rec, &flags(0)).syn(), (want.0, want.1, 0, 0));
    }
}

/// A4.3.4.3, A4.4: an emulatable MMIO write exits with ISV, SAS, SF, WnR (not IL, SSE, SRT),
/// FAR bits 11:0 and the register's value in gprs[0] (a store of XZR: zero); completed, the
/// realm resumes after it with its registers untouched.
#[test]
fn rec_enter_success_mmio_write() {
    const IPA: u64 = UNPROT + 0x5_0234;
    const VA: u64 = 0xffff_8000_0010_0234;
    const X7: u64 = 0x1122_3344_5566_7788;
    let (env, rec) = active(|n, _, v, _| {
        if n == 0 {
            (v.pc, v.gprs[0], v.gprs[7]) = (0x1000, 0x42, X7);
        }
        let regs = (v.pc, v.gprs[0], v.gprs[7]);
        assert_eq!(regs, (0x1000 + 4 * n as u64, 0x42, X7));
        match n {
            0 => sync(mmio(true, 2, false, false, 7), VA, IPA), // STR w7
            1 => sync(mmio(true, 3, false, true, 31), VA, IPA), // STR xzr
            _ => RealmTrap::Irq,
        }
    });
    let exit = env.enter(&rec, &flags(0));
    let want = DABT | esr::ISV | 2 << esr::SAS_SHIFT | esr::WNR | FSC_L3;
    let got = (exit.reason, exit.esr, exit.far, exit.hpfar);
    assert_eq!(got, (EXIT_SYNC, want, 0x234, hpfar(IPA)));
    assert_eq!((exit.gprs[0], &exit.gprs[1..]), (X7, &[0; 30][..]));
    let done = flags_x0(EMUL_MMIO, 0xdead);
    let want = DABT | esr::ISV | 3 << esr::SAS_SHIFT | esr::SF | esr::WNR | FSC_L3;
    let exit = env.enter(&rec, &done);
    assert_eq!(exit.syn(), (EXIT_SYNC, want, 0x234, hpfar(IPA)));
    assert_eq!(env.enter(&rec, &done).reason, EXIT_IRQ);
}

/// A4.2.3, A4.4: an emulated MMIO read puts enter.gprs[0] in the register ESR.SRT names,
/// sign-extended (SSE) to 64 or 32 bits (SF) as the load asked; SSE and SRT are not shown to
/// the host. Without emul_mmio the load is retried and nothing written.
#[test]
fn rec_enter_success_mmio_read() {
    // (SAS, SSE, SF, SRT, host value, register after).
    const LOADS: [(u64, bool, bool, u64, u64, u64); 5] = [
        (0, true, true, 5, 0x1234_5680, 0xffff_ffff_ffff_ff80), // LDRSB x5
        (1, true, false, 6, 0x8001, 0xffff_8001),               // LDRSH w6
        (2, false, false, 8, 0xffff_ffff_8000_0000, 0x8000_0000), // LDR w8
        (3, false, true, 30, !0x1234, !0x1234),                 // LDR x30
        (2, true, true, 9, 0x7fff_ffff, 0x7fff_ffff),           // LDRSW x9
    ];
    let (env, rec) = active(|n, _, v, _| {
        if let Some(&(.., srt, _, want)) = n.checked_sub(1).and_then(|p| LOADS.get(p)) {
            assert_eq!((v.gprs[srt as usize], v.pc), (want, 0x1000 * n as u64 + 4));
        }
        if n == LOADS.len() + 1 {
            assert_eq!((v.pc, v.gprs[4]), (0x6000, 0x5a5a), "retried, x4 unwritten");
            return RealmTrap::Irq;
        }
        // After the loads, one more (LDR x4) that the host does not emulate.
        let (sas, sse, sf, srt, ..) = *LOADS.get(n).unwrap_or(&(3, false, true, 4, 0, 0));
        (v.pc, v.gprs[srt as usize]) = (0x1000 * (n as u64 + 1), 0x5a5a);
        sync(
            mmio(false, sas, sse, sf, srt),
            UNPROT + 0x10 * n as u64,
            UNPROT,
        )
    });
    let mut enter = flags(0);
    for (i, &(sas, _, sf, _, value, _)) in LOADS.iter().enumerate() {
        let want = DABT | esr::ISV | sas << esr::SAS_SHIFT | [0, esr::SF][sf as usize] | FSC_L3;
        let exit = env.enter(&rec, &enter);
        let far = 0x10 * i as u64;
        assert_eq!(
            exit.syn(),
            (EXIT_SYNC, want, far, hpfar(UNPROT)),
            "load {i}"
        );
        enter = flags_x0(EMUL_MMIO, value);
    }
    assert_eq!(env.enter(&rec, &enter).reason, EXIT_SYNC);
    assert_eq!(env.enter(&rec, &flags_x0(0, 0x66)).reason, EXIT_IRQ);
}

/// A4.3.4.3: a data abort at an Unprotected IPA without a valid syndrome (ISV 0) exits with EC,
/// SET, FnV, EA, DFSC and IL only (not WnR, S1PTW, CM), no FAR.
#[test]
fn rec_enter_success_unprotected_non_emulatable() {
    const SET_FNV: u64 = 0b10 << 11 | esr::FNV;
    let (env, rec) = active(|_, _, _, _| {
        let e = DABT | esr::IL | SET_FNV | 1 << 8 | 1 << 7 | esr::WNR | FSC_L3;
        sync(e, 0xffff_0000_0000_0abc, UNPROT + 0x3000)
    });
    let want = (
        EXIT_SYNC,
        DABT | esr::IL | SET_FNV | FSC_L3,
        0,
        hpfar(UNPROT + 0x3000),
    );
    assert_eq!(env.enter(&rec, &flags(0)).syn(), want);
}

/// A5.2.3, A4.3.4.2, A4.3.4.3: at Protected IPAs, RIPAS RAM with nothing assigned and RIPAS
/// DESTROYED exit (data: EC, SET, FnV, EA, DFSC; instruction: EC, SET, EA, IFSC; HPFAR; even
/// with ISV set, not emulatable); RIPAS EMPTY takes an SEA to the realm, data and instruction,
/// with no exit.
#[test]
fn rec_enter_success_protected_ipa() {
    let env = Env::new(|n, _, v, mem| {
        let mut b = [0u8; 8];
        if n == 0 {
            v.el1.vbar = VBAR;
            assert!(mem.read(RAM_IPA, &mut b).is_err() && mem.read(DESTROYED_IPA, &mut b).is_err());
        }
        match n {
            0 => sync(mmio(false, 3, false, true, 2), RAM_IPA, RAM_IPA),
            1 => sync(IABT | esr::IL | FSC_L3, RAM_IPA + 4, RAM_IPA + 4),
            2 => sync(
                DABT | esr::IL | esr::FNV | esr::WNR | FSC_L3,
                0,
                DESTROYED_IPA + 8,
            ),
            3 => sync(IABT | esr::IL | FSC_L3, DESTROYED_IPA, DESTROYED_IPA),
            4 => {
                assert!(mem.write(EMPTY_IPA + 8, &b).is_err());
                v.pc = 0x4000;
                sync(
                    esr::data_abort(true, true, 3, 1),
                    EMPTY_IPA + 8,
                    EMPTY_IPA + 8,
                )
            }
            5 => {
                assert_sea(v, esr::EC_DABT_CUR, 0x4000);
                assert_eq!(v.el1.far, EMPTY_IPA + 8);
                v.pc = EMPTY_IPA;
                sync(IABT | esr::IL | FSC_L3, EMPTY_IPA, EMPTY_IPA)
            }
            _ => {
                assert_sea(v, EC_IABT_CUR, EMPTY_IPA);
                RealmTrap::Irq
            }
        }
    });
    env.ipa_states();
    let rec = env.rec(0, 1);
    env.activate();
    let wants = [
        (DABT | FSC_L3, RAM_IPA),
        (IABT | FSC_L3, RAM_IPA + 4),
        (DABT | esr::FNV | FSC_L3, DESTROYED_IPA + 8),
        (IABT | FSC_L3, DESTROYED_IPA),
    ];
    for (esr, ipa) in wants {
        let exit = env.enter(&rec, &flags(0));
        assert_eq!(exit.syn(), (EXIT_SYNC, esr, 0, hpfar(ipa)));
        env.enter_fails(0, rec.pa, env.run, &flags(EMUL_MMIO), ERROR_REC);
    }
    assert_eq!(env.enter(&rec, &flags(0)).syn(), (EXIT_IRQ, 0, 0, 0));
    assert_eq!(env.runs(), 7);
}

/// A4.2.3: inject_sea after an emulatable abort at an Unprotected IPA takes an SEA to the realm
/// at the faulting access (emul_mmio ignored: no register written); after an IRQ exit,
/// inject_sea does nothing.
#[test]
fn rec_enter_success_inject_sea() {
    let (env, rec) = active(|n, _, v, _| match n {
        0 => {
            (v.el1.vbar, v.pc, v.gprs[5]) = (VBAR, 0x2000, 0x77);
            sync(mmio(false, 3, false, true, 5), UNPROT + 0x40, UNPROT + 0x40)
        }
        1 => {
            assert_sea(v, esr::EC_DABT_CUR, 0x2000);
            assert_eq!((v.el1.far, v.gprs[5]), (UNPROT + 0x40, 0x77));
            v.pc = 0x3000;
            RealmTrap::Irq
        }
        _ => {
            assert_eq!((v.pc, v.el1.elr), (0x3000, 0x2000), "no second SEA");
            RealmTrap::Irq
        }
    });
    assert_eq!(env.enter(&rec, &flags(0)).reason, EXIT_SYNC);
    let both = flags_x0(INJECT_SEA | EMUL_MMIO, 0x55);
    assert_eq!(env.enter(&rec, &both).reason, EXIT_IRQ);
    assert_eq!(env.enter(&rec, &flags(INJECT_SEA)).reason, EXIT_IRQ);
    assert_eq!(env.runs(), 3);
}

/// A4.2.3: "a REC exit due to Data Abort at an Unprotected IPA" includes the non-emulatable one
/// (ISV 0): inject_sea after it takes an SEA to the realm too.
#[test]
fn rec_enter_success_inject_sea_non_emulatable() {
    let (env, rec) = active(|n, _, v, _| match n {
        0 => {
            (v.el1.vbar, v.pc) = (VBAR, 0x2000);
            sync(DABT | esr::IL | FSC_L3, UNPROT + 0x40, UNPROT + 0x40)
        }
        _ => {
            assert_sea(v, esr::EC_DABT_CUR, 0x2000);
            RealmTrap::Irq
        }
    });
    assert_eq!(env.enter(&rec, &flags(0)).reason, EXIT_SYNC);
    assert_eq!(env.enter(&rec, &flags(INJECT_SEA)).reason, EXIT_IRQ);
}

/// No exit: an instruction fetch from an Unprotected IPA takes an SEA (A5.2.6); HVC an Unknown
/// exception at the HVC (A4.5); an SMC outside PSCI and RSI returns SMCCC_NOT_SUPPORTED and the
/// realm continues after it (A4.3.4).
#[test]
fn rec_enter_success_handled_in_rmm() {
    let (env, rec) = active(|n, _, v, _| match n {
        0 => {
            (v.el1.vbar, v.pc) = (VBAR, UNPROT + 0x1000);
            sync(IABT | esr::IL | FSC_L3, UNPROT + 0x1000, UNPROT + 0x1000)
        }
        1 => {
            assert_sea(v, EC_IABT_CUR, UNPROT + 0x1000);
            v.pc = 0x6004; // ELR_EL2 is past the HVC
            sync(esr::EC_HVC64 << esr::EC_SHIFT | esr::IL, 0, 0)
        }
        2 => {
            assert_eq!(v.pc, VBAR + 0x200);
            assert_eq!((esr::ec(v.el1.esr), v.el1.elr), (esr::EC_UNKNOWN, 0x6000));
            (v.pc, v.gprs[0]) = (0x7000, 0x8200_0000); // a SiP service call
            sync(SMC, 0, 0)
        }
        _ => {
            assert_eq!((v.pc, v.gprs[0]), (0x7004, u64::MAX));
            RealmTrap::Irq
        }
    });
    assert_eq!(env.enter(&rec, &flags(0)).syn(), (EXIT_IRQ, 0, 0, 0));
    assert_eq!(env.runs(), 4);
}

/// A6.1: the LRs reach the realm and come back as it left them; exit.gicv3_hcr holds the
/// host-controlled fields only (not En, TC, TSEI). All host-controlled HCR bits are accepted.
#[test]
fn rec_enter_success_gic() {
    const HCR: u64 = HCR_UIE | 1 << 3 | 1 << 7 | 1 << 14; // UIE, NPIE, VGrp1DIE, TDIR
    let (env, rec) = active(move |n, _, v, _| {
        if n == 0 {
            let gic = (v.gic_lrs, v.gic_hcr & !HCR_EN);
            assert_eq!(gic, (lrs(&[(0, LR_A), (15, LR_B)]), HCR));
            v.gic_lrs = lrs(&[(0, LR_A ^ 3 << 62), (4, LR_B)]); // LR 0 pending -> active
            v.gic_hcr = HCR_EN | HCR_UIE | 1 << 6 | 1 << 10 | 1 << 13; // + VGrp1EIE, TC, TSEI
        } else {
            let gic = (v.gic_lrs, v.gic_hcr & !HCR_EN);
            assert_eq!(gic, (lrs(&[(1, LR_B), (14, LR_A)]), 0x40fe));
        }
        RealmTrap::Irq
    });
    let e = Enter {
        hcr: HCR,
        lrs: lrs(&[(0, LR_A), (15, LR_B)]),
        ..flags(0)
    };
    let exit = env.enter(&rec, &e);
    let want = lrs(&[(0, LR_A ^ 3 << 62), (4, LR_B)]);
    assert_eq!((exit.lrs, exit.hcr), (want, HCR_UIE | 1 << 6));
    let e = gic(0, 0x40fe, lrs(&[(1, LR_B), (14, LR_A)]));
    let exit = env.enter(&rec, &e);
    assert_eq!((exit.lrs, exit.hcr), (e.lrs, 0x40fe));
}

/// A6.1: exit.gicv3_hcr holds EOIcount (bits 31:27) as well.
#[test]
fn rec_enter_success_gic_eoicount() {
    let (env, rec) = active(|_, _, v, _| {
        v.gic_hcr = HCR_EN | 5 << 27 | HCR_UIE;
        RealmTrap::Irq
    });
    let exit = env.enter(&rec, &gic(0, HCR_UIE, [0; 16]));
    assert_eq!(exit.hcr, 5 << 27 | HCR_UIE);
}

// ---- RMI_REC_ENTER: concurrency ----

/// A realm that counts each REC's runs in its x9 and asserts that no REC runs twice at once.
fn counting() -> impl Realm {
    let state: Mutex<HashMap<u64, (bool, u64)>> = Mutex::default();
    move |_, rec, v, _| {
        {
            let mut map = state.lock().unwrap();
            let (running, count) = map.entry(rec).or_default();
            assert!(!*running, "REC {rec:#x} runs twice at once");
            assert_eq!(v.gprs[9], *count, "REC {rec:#x} lost its registers");
            *running = true;
        }
        (0..8).for_each(|_| std::thread::yield_now());
        v.gprs[9] += 1;
        let mut map = state.lock().unwrap();
        let entry = map.get_mut(&rec).unwrap();
        *entry = (false, entry.1 + 1);
        RealmTrap::Irq
    }
}

/// CPUs 0..3 each enter their own REC of one realm 2,000 times, all at once.
#[test]
fn rec_enter_success_concurrent_recs() {
    let env = Env::new(counting());
    let recs: Vec<TestRec> = (0..4).map(|i| env.rec(i, 1)).collect();
    env.activate();
    std::thread::scope(|s| {
        for (cpu, rec) in recs.iter().enumerate() {
            let env = &env;
            s.spawn(move || {
                let run = env.ns();
                for _ in 0..2000 {
                    assert_eq!(env.enter_raw(cpu, rec.pa, run, &flags(0)), SUCCESS);
                    let mut reason = [0u8];
                    env.m.ns_read(run + 0x800, &mut reason).unwrap();
                    assert_eq!(reason[0], EXIT_IRQ);
                }
            });
        }
    });
    assert_eq!(env.runs(), 8000);
}

/// CPUs 4 and 5 race to enter the same REC: each call succeeds or fails with RMI_ERROR_REC, and
/// the realm never runs the REC twice at once.
#[test]
fn rec_enter_rec_state_race() {
    let env = Env::new(counting());
    let rec = env.rec(0, 1);
    env.activate();
    let entered: usize = std::thread::scope(|s| {
        let race = |cpu| {
            let (env, rec) = (&env, &rec);
            s.spawn(move || {
                let run = env.ns();
                let x0s: Vec<u64> = (0..2000)
                    .map(|_| env.enter_raw(cpu, rec.pa, run, &flags(0)))
                    .collect();
                let odd = x0s.iter().find(|&&x0| x0 != SUCCESS && x0 != ERROR_REC);
                assert_eq!(odd, None, "neither RMI_SUCCESS nor RMI_ERROR_REC");
                x0s.iter().filter(|&&x0| x0 == SUCCESS).count()
            })
        };
        [race(4), race(5)].map(|t| t.join().unwrap()).iter().sum()
    });
    assert_eq!(entered, env.runs());
    assert!(entered > 0);
}
