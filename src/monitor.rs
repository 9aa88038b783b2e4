//! The RMM instance: the granule table, the platform, and per-CPU state.

use crate::attestation::{AlreadySet, AttestationIdentity, WriteOnce};
use crate::granule::{BankError, GranuleState, GranuleTable};
use crate::percpu::PerCpu;
use crate::platform::Platform;
use crate::realm::VmidSet;
use crate::rmi;
use alloc::boxed::Box;
use crossbeam_utils::CachePadded;

/// One Realm Management Monitor, shared by all CPUs.
///
/// Every CPU enters through [`Rmm::handle_rmi`] with its own index; nothing here takes a global
/// lock.
pub struct Rmm<P: Platform> {
    platform: P,
    granules: GranuleTable,
    vmids: VmidSet,
    cpus: Box<[CachePadded<PerCpu>]>,
    /// The RAK and platform token, set once at boot ([`Rmm::set_attestation`]).
    attestation: WriteOnce<AttestationIdentity>,
}

impl<P: Platform> Rmm<P> {
    /// An RMM for `cpus` CPUs whose delegable memory is `dram`, as `(base, size)` banks.
    pub fn new(platform: P, dram: &[(u64, u64)], cpus: usize) -> Result<Self, BankError> {
        Ok(Self {
            vmids: VmidSet::new(platform.cpu_features().vmid_bits),
            platform,
            granules: GranuleTable::new(dram)?,
            cpus: (0..cpus)
                .map(|_| CachePadded::new(PerCpu::default()))
                .collect(),
            attestation: WriteOnce::new(),
        })
    }

    /// Handles one RMI call from the Normal world on CPU `cpu`: `regs` are x0..x7 as the host
    /// set them, the result is x0..x7 as the host sees them afterwards.
    ///
    /// # Panics
    /// If `cpu` is not below the CPU count, or the CPU is already inside the RMM.
    // `cpu` is the platform's own index of the calling CPU, never host input: a wrong one is a
    // platform bug, for which halting is right.
    #[allow(clippy::indexing_slicing)]
    pub fn handle_rmi(&self, cpu: usize, regs: &[u64; 8]) -> [u64; 8] {
        let _inside = self.cpus[cpu].enter();
        rmi::dispatch(self, cpu, regs)
    }

    /// The platform the RMM runs on.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// The granule table.
    pub fn granules(&self) -> &GranuleTable {
        &self.granules
    }

    /// CPU `cpu`'s private state.
    // In range: every `cpu` in the core comes from `handle_rmi`, which indexed the same table.
    #[allow(clippy::indexing_slicing)]
    pub(crate) fn cpu(&self, cpu: usize) -> &PerCpu {
        &self.cpus[cpu]
    }

    /// Every CPU's private state.
    pub(crate) fn cpus(&self) -> &[CachePadded<PerCpu>] {
        &self.cpus
    }

    /// Whether the granule at `rd` is the RD of a realm that is not being destroyed. For
    /// lock-free walkers, after announcing a walk of `rd` ([`crate::percpu`]).
    pub(crate) fn realm_is_alive(&self, rd: u64) -> bool {
        self.granules
            .get(rd)
            .is_some_and(|g| g.is_live_as(GranuleState::Rd))
    }

    /// The VMIDs live realms use.
    pub fn vmids(&self) -> &VmidSet {
        &self.vmids
    }

    /// Installs the attestation identity EL3 provided (spec A7.2.3: the RAK and the CCA
    /// platform token); once, at boot. [`AlreadySet`] if one is already installed.
    pub fn set_attestation(&self, identity: AttestationIdentity) -> Result<(), AlreadySet> {
        self.attestation.set(identity).map_err(|_| AlreadySet)
    }

    /// The attestation identity, once [`Rmm::set_attestation`] has installed it.
    pub fn attestation(&self) -> Option<&AttestationIdentity> {
        self.attestation.get()
    }

    /// The number of CPUs.
    pub fn cpu_count(&self) -> usize {
        self.cpus.len()
    }
}
