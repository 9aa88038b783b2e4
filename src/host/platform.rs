//! [`Platform`] for the simulated machine: EL3's GTSI calls act on the GPT model, memory is the
//! host-backed [`PhysMemory`].

use super::memory::{Pas, PhysMemory};
use crate::platform::{
    CpuFeatures, GranuleMemory, GtsiRefused, NsAccessFault, Platform, RealmMemory,
};
use crate::rec::{IdRegisters, RealmTrap, VcpuContext};
use std::string::String;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::vec::Vec;

/// A simulated realm: runs a REC until it traps, as the hardware would (a test's model of what
/// the realm's code does).
///
/// `vcpu` holds the REC's registers; on a synchronous trap its `pc` is ELR_EL2 as the hardware
/// reports it: the trapping instruction for SMC, WFI/WFE and aborts, the next one for HVC.
/// `memory` is the realm's memory through the RMM's stage 2; a [`crate::platform::Stage2Fault`]
/// is the model's cue to return the data abort the hardware would take
/// ([`crate::rec::esr::data_abort`], [`crate::rec::hpfar`]).
pub trait RealmModel: Send + Sync {
    /// Runs REC `rec` (its granule's PA) on CPU `cpu` until it traps.
    fn run(
        &self,
        cpu: usize,
        rec: u64,
        vcpu: &mut VcpuContext,
        memory: &dyn RealmMemory,
    ) -> RealmTrap;
}

/// The host platform: memory, the GPT model, and the processor's features.
pub struct HostPlatform {
    pub(super) memory: PhysMemory,
    pub(super) features: CpuFeatures,
    pub(super) id_registers: IdRegisters,
    /// TLB invalidations so far: by IPA range, by VMID. There is no TLB on the host; tests
    /// check that the RMM asks for invalidation where the architecture needs it.
    pub(super) tlbi: [AtomicU64; 2],
    /// What realms run; without one, every REC entry ends at once with an IRQ.
    pub(super) realm_model: OnceLock<Arc<dyn RealmModel>>,
    /// How many more [`Platform::interrupt_pending`] checks find an interrupt pending, on any
    /// CPU ([`super::Machine::pend_interrupt`]).
    pub(super) pending_interrupts: AtomicU64,
    /// Called with the PA before each RMM access to a granule ([`super::Machine::set_granule_hook`]).
    pub(super) granule_hook: OnceLock<GranuleHook>,
    /// The call trace ([`super::Machine::trace_calls`]).
    pub(super) trace: CallTrace,
}

/// The call trace of the host platform: off until a test turns it on, then kept in memory.
#[derive(Default)]
pub(super) struct CallTrace {
    pub(super) on: AtomicBool,
    pub(super) lines: Mutex<Vec<String>>,
}

/// What [`super::Machine::set_granule_hook`] installs: called with the granule's PA on the
/// thread of the RMM call that is about to reach it.
pub type GranuleHook = Arc<dyn Fn(u64) + Send + Sync>;

impl Platform for HostPlatform {
    fn gtsi_delegate(&self, pa: u64) -> Result<(), GtsiRefused> {
        match self.memory.change_pas(pa, Pas::NonSecure, Pas::Realm) {
            true => Ok(()),
            false => Err(GtsiRefused),
        }
    }

    fn gtsi_undelegate(&self, pa: u64) -> Result<(), GtsiRefused> {
        match self.memory.change_pas(pa, Pas::Realm, Pas::NonSecure) {
            true => Ok(()),
            false => Err(GtsiRefused),
        }
    }

    /// The granule's memory, as the RMM's permanent Realm-PAS mapping reaches it on hardware:
    /// an access to a granule whose GPT entry is not Realm is a Granule Protection Fault at
    /// R-EL2, which halts the CPU. Here it panics, so a test that makes the RMM touch a granule
    /// it does not hold (one the host could have undelegated meanwhile) fails loudly.
    ///
    /// The check is made when the RMM asks for the granule; the RMM's views of a granule
    /// ([`crate::rec::Rec`], [`crate::realm::Rd`]) are built from it just before use.
    fn granule(&self, pa: u64) -> &GranuleMemory {
        if let Some(hook) = self.granule_hook.get() {
            hook(pa);
        }
        match self.memory.pas(pa) {
            Some(Pas::Realm) => {}
            Some(pas) => panic!(
                "RMM accessed granule {pa:#x} whose GPT entry is {pas:?}: a Granule Protection \
                 Fault on hardware"
            ),
            None => panic!("RMM accessed {pa:#x}, outside DRAM"),
        }
        self.memory
            .granule_words(pa)
            .expect("the RMM only owns granules in DRAM")
    }

    fn ns_read(&self, pa: u64, buf: &mut [u8]) -> Result<(), NsAccessFault> {
        self.memory
            .read(pa, buf, Some(Pas::NonSecure))
            .map_err(|f| NsAccessFault { pa: f.pa })
    }

    fn ns_write(&self, pa: u64, buf: &[u8]) -> Result<(), NsAccessFault> {
        self.memory
            .write(pa, buf, Some(Pas::NonSecure))
            .map_err(|f| NsAccessFault { pa: f.pa })
    }

    fn tlbi_range(&self, _vmid: u16, _ipa: u64, _size: u64) {
        // Relaxed: a statistic, read after the calls complete.
        self.tlbi[0].fetch_add(1, Ordering::Relaxed);
    }

    fn tlbi_vmid(&self, _vmid: u16) {
        self.tlbi[1].fetch_add(1, Ordering::Relaxed);
    }

    fn run_realm(
        &self,
        cpu: usize,
        rec: u64,
        vcpu: &mut VcpuContext,
        memory: &dyn RealmMemory,
    ) -> RealmTrap {
        match self.realm_model.get() {
            Some(model) => model.run(cpu, rec, vcpu, memory),
            None => RealmTrap::Irq,
        }
    }

    fn cpu_features(&self) -> CpuFeatures {
        self.features
    }

    fn id_registers(&self) -> &IdRegisters {
        &self.id_registers
    }

    /// Traced at run time, when a test asks for it.
    const TRACE_CALLS: bool = true;

    fn tracing(&self) -> bool {
        // Relaxed: a test's switch; the lines themselves are ordered by their lock.
        self.trace.on.load(Ordering::Relaxed)
    }

    fn trace(&self, line: core::fmt::Arguments<'_>) {
        let line = std::format!("{line}");
        self.trace.lines.lock().unwrap().push(line);
    }

    fn interrupt_pending(&self, _cpu: usize) -> bool {
        // Relaxed: a test's knob, consumed one check at a time; nothing else is ordered by it.
        self.pending_interrupts
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }
}
