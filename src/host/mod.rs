//! The host platform: a simulated machine that runs the RMM on the build host.
//!
//! A [`Machine`] has a configurable number of CPUs and Non-secure DRAM banks backed by host
//! memory, and a model of EL3's granule protection table. Tests, benchmarks and outside
//! harnesses drive the RMM through it at register level, as the Normal-world host would through
//! SMC: one thread per CPU, concurrently.
//!
//! ```
//! use rmm::host::{Config, Machine};
//! let m = Machine::new(Config { cpus: 2, dram: vec![(0x8000_0000, 1 << 20)] });
//! let r = m.smc(0, [0xC400_0150, 0x1_0000, 0, 0, 0, 0, 0, 0]); // RMI_VERSION 1.0
//! assert_eq!(r[..3], [0, 0x1_0000, 0x1_0000]);
//! ```

pub mod attest;
mod memory;
mod platform;

pub use memory::{Fault, FaultKind, Pas};
pub use platform::{GranuleHook, HostPlatform, RealmModel};

use crate::granule::GranuleState;
use crate::platform::CpuFeatures;
use crate::rec::IdRegisters;
use crate::Rmm;
use std::vec::Vec;

/// The shape of a simulated machine.
#[derive(Clone, Debug)]
pub struct Config {
    /// Number of CPUs.
    pub cpus: usize,
    /// Non-secure DRAM banks as `(base, size)`, granule aligned and non-overlapping. All of it
    /// is delegable, as the boot manifest's DRAM banks are.
    pub dram: Vec<(u64, u64)>,
}

impl Default for Config {
    /// Four CPUs and 16 MiB of DRAM at 2 GiB.
    fn default() -> Self {
        Self {
            cpus: 4,
            dram: std::vec![(0x8000_0000, 16 << 20)],
        }
    }
}

/// The features of the simulated processor: 48-bit PAs, no LPA2, no SVE and no PMU for realms
/// ([`Machine::with_cpu`] makes one with them; [`LPA2_CPU`] has LPA2 and 52-bit PAs).
pub const HOST_CPU: CpuFeatures = CpuFeatures {
    pa_bits: 48,
    lpa2: false,
    breakpoints: 6,
    watchpoints: 4,
    gic_list_registers: 16,
    vmid_bits: 16,
    sve_vl: None,
    pmu_counters: None,
};

/// [`HOST_CPU`] with FEAT_LPA2 and 52-bit PAs, as QEMU's `-cpu max`: RMI_FEATURES offers LPA2
/// and S2SZ 52.
pub const LPA2_CPU: CpuFeatures = CpuFeatures {
    pa_bits: 52,
    lpa2: true,
    ..HOST_CPU
};

/// The ID registers of the simulated processor: every field of the AArch64 feature registers
/// (CRm 4 to 7) at 1, so that a field passed to a realm reads 1 and a hidden one 0; the
/// AArch32 registers 1 as well; ID_AA64DFR0_EL1 as [`HOST_CPU`] says: DebugVer 8.0, PMUVer 1,
/// 6 breakpoints (2 context-aware), 4 watchpoints.
pub fn host_id_registers() -> IdRegisters {
    let mut ids = IdRegisters([0x1111_1111_1111_1111; IdRegisters::COUNT]);
    if let Some(dfr0) = IdRegisters::index(5, 0) {
        ids.0[dfr0] = 0x6 | 1 << 8 | 5 << 12 | 3 << 20 | 1 << 28;
    }
    ids
}

/// A simulated machine running the RMM. `Sync`: one thread per CPU may call it at once.
pub struct Machine {
    rmm: Rmm<HostPlatform>,
}

/// Why EL3 would not reassign a granule's PAS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignError {
    /// No memory at that address.
    NoMemory,
    /// The granule is in the Realm PAS, or was asked to enter it: only the RMM's GTSI calls
    /// move granules in and out of the Realm PAS.
    Realm,
}

impl Machine {
    /// A machine of shape `config`, with all DRAM Non-secure and every granule UNDELEGATED.
    ///
    /// # Panics
    /// If `config` has no CPUs or its DRAM banks are empty, unaligned or overlapping.
    pub fn new(config: Config) -> Machine {
        Self::with_cpu(config, HOST_CPU)
    }

    /// As [`Machine::new`], with a processor whose features are `features` (SVE and a PMU for
    /// realms, other breakpoint counts...) instead of [`HOST_CPU`].
    ///
    /// # Panics
    /// As [`Machine::new`].
    pub fn with_cpu(config: Config, features: CpuFeatures) -> Machine {
        assert!(config.cpus > 0, "a machine needs at least one CPU");
        let platform = HostPlatform {
            memory: memory::PhysMemory::new(&config.dram),
            features,
            id_registers: host_id_registers(),
            tlbi: Default::default(),
            realm_model: Default::default(),
            pending_interrupts: Default::default(),
            trace: Default::default(),
            granule_hook: Default::default(),
        };
        let rmm = Rmm::new(platform, &config.dram, config.cpus)
            .unwrap_or_else(|e| panic!("invalid DRAM banks {:x?}: {e:?}", config.dram));
        // A fresh RMM has no identity yet, so this cannot fail.
        let _ = rmm.set_attestation(attest::test_identity());
        Machine { rmm }
    }

    /// An SMC from the Normal world on CPU `cpu`: x0 is the function ID, x1..x7 the arguments.
    /// Returns x0..x7 as the host sees them after the call.
    ///
    /// # Panics
    /// If `cpu` does not exist, or another thread is inside a call on the same CPU.
    pub fn smc(&self, cpu: usize, regs: [u64; 8]) -> [u64; 8] {
        assert!(cpu < self.rmm.cpu_count(), "CPU {cpu} does not exist");
        self.rmm.handle_rmi(cpu, &regs)
    }

    /// The Normal world writes `bytes` at `pa`; a granule that is not Non-secure faults.
    pub fn ns_write(&self, pa: u64, bytes: &[u8]) -> Result<(), Fault> {
        self.platform()
            .memory
            .write(pa, bytes, Some(Pas::NonSecure))
    }

    /// The Normal world reads `buf.len()` bytes at `pa`; a granule that is not Non-secure faults.
    pub fn ns_read(&self, pa: u64, buf: &mut [u8]) -> Result<(), Fault> {
        self.platform().memory.read(pa, buf, Some(Pas::NonSecure))
    }

    /// The number of CPUs.
    pub fn cpus(&self) -> usize {
        self.rmm.cpu_count()
    }

    /// The RMM, for inspection.
    pub fn rmm(&self) -> &Rmm<HostPlatform> {
        &self.rmm
    }

    fn platform(&self) -> &HostPlatform {
        self.rmm.platform()
    }

    /// The RMM's state for the granule at `pa`, or `None` if it is not delegable.
    pub fn granule_state(&self, pa: u64) -> Option<GranuleState> {
        Some(self.rmm.granules().get(pa)?.state())
    }

    /// The GPT entry of the granule at `pa`, or `None` outside memory.
    pub fn pas(&self, pa: u64) -> Option<Pas> {
        self.platform().memory.pas(pa)
    }

    /// EL3 moves a granule between the Non-secure, Secure and Root PAS, as firmware may do with
    /// an UNDELEGATED granule (spec A2.2.3.1). The Realm PAS is the RMM's: refused.
    pub fn assign_pas(&self, pa: u64, to: Pas) -> Result<(), AssignError> {
        let from = self.pas(pa).ok_or(AssignError::NoMemory)?;
        if from == Pas::Realm || to == Pas::Realm {
            return Err(AssignError::Realm);
        }
        match self.platform().memory.change_pas(pa, from, to) {
            true => Ok(()),
            // Another thread changed it meanwhile; only EL3 (this call) or the RMM could.
            false => self.assign_pas(pa, to),
        }
    }

    /// Sets what realms run on this machine (once; later calls are ignored and return false).
    pub fn set_realm_model(&self, model: std::sync::Arc<dyn RealmModel>) -> bool {
        self.platform().realm_model.set(model).is_ok()
    }

    /// Sets what runs before each RMM access to a granule (once; later calls are ignored and
    /// return false): the hook gets the granule's PA on the thread of the RMM call that is about
    /// to reach it, while that call holds whatever it holds. Tests use it to make another CPU
    /// act at that exact point, such as destroying and undelegating the granule.
    pub fn set_granule_hook(&self, hook: GranuleHook) -> bool {
        self.platform().granule_hook.set(hook).is_ok()
    }

    /// Makes the next `checks` calls of [`crate::Platform::interrupt_pending`] (on any CPU) find
    /// a physical interrupt pending, as if the host's timer fired while the RMM worked for a
    /// realm.
    pub fn pend_interrupt(&self, checks: u64) {
        // Relaxed: see `HostPlatform::interrupt_pending`.
        self.platform()
            .pending_interrupts
            .store(checks, std::sync::atomic::Ordering::Relaxed);
    }

    /// Starts (`true`) or stops recording the call trace: a line per RMI call, and per RSI or
    /// PSCI call a realm makes, as the RMM image prints at log level `verbose` (without its
    /// `RMM: ` prefix).
    pub fn trace_calls(&self, on: bool) {
        // Relaxed: see `HostPlatform::tracing`.
        self.platform()
            .trace
            .on
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// The trace lines recorded since the last call, in the order the calls completed.
    pub fn take_trace(&self) -> Vec<std::string::String> {
        std::mem::take(&mut *self.platform().trace.lines.lock().unwrap())
    }

    /// The TLB invalidations the RMM has asked for: `(by IPA range, by VMID)`.
    pub fn tlb_invalidations(&self) -> (u64, u64) {
        let [ranges, vmids] = &self.platform().tlbi;
        // Relaxed: read after the calls that made them returned.
        (
            ranges.load(std::sync::atomic::Ordering::Relaxed),
            vmids.load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Reads memory as a debugger would, whatever the PAS: for tests to check what no world may
    /// read, such as the contents of a delegated granule.
    pub fn debug_read(&self, pa: u64, buf: &mut [u8]) -> Result<(), Fault> {
        self.platform().memory.read(pa, buf, None)
    }
}
