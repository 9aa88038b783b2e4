//! [`Platform`] for the simulated machine: EL3's GTSI calls act on the GPT model, memory is the
//! host-backed [`PhysMemory`].

use super::memory::{Pas, PhysMemory};
use crate::platform::{CpuFeatures, GtsiRefused, NsAccessFault, Platform};
use crate::sync::Ordering;

/// The host platform: memory, the GPT model, and the processor's features.
pub struct HostPlatform {
    pub(super) memory: PhysMemory,
    pub(super) features: CpuFeatures,
}

impl HostPlatform {
    fn granule(&self, pa: u64) -> &[crate::sync::MemoryWord] {
        self.memory
            .granule_words(pa)
            .expect("the RMM only owns granules in DRAM")
    }
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

    fn granule_zero(&self, pa: u64) {
        // Relaxed: the caller publishes the granule with a Release transition.
        self.granule(pa)
            .iter()
            .for_each(|w| w.store(0, Ordering::Relaxed));
    }

    fn granule_is_zero(&self, pa: u64) -> bool {
        // Relaxed: the caller holds the granule, acquired when it was locked.
        self.granule(pa)
            .iter()
            .all(|w| w.load(Ordering::Relaxed) == 0)
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

    fn cpu_features(&self) -> CpuFeatures {
        self.features
    }
}
