//! [`Platform`] for the simulated machine: EL3's GTSI calls act on the GPT model, memory is the
//! host-backed [`PhysMemory`].

use super::memory::{Pas, PhysMemory};
use crate::platform::{CpuFeatures, GranuleMemory, GtsiRefused, NsAccessFault, Platform};
use std::sync::atomic::{AtomicU64, Ordering};

/// The host platform: memory, the GPT model, and the processor's features.
pub struct HostPlatform {
    pub(super) memory: PhysMemory,
    pub(super) features: CpuFeatures,
    /// TLB invalidations so far: by IPA range, by VMID. There is no TLB on the host; tests
    /// check that the RMM asks for invalidation where the architecture needs it.
    pub(super) tlbi: [AtomicU64; 2],
}

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

    fn granule(&self, pa: u64) -> &GranuleMemory {
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

    fn cpu_features(&self) -> CpuFeatures {
        self.features
    }
}
