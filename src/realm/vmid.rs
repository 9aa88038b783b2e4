//! VMIDs: unique among live realms, claimed in an atomic bitmap (spec A2.1.3, I_QRVTT).
//!
//! One bit per VMID; a set bit is a VMID some live realm uses. Claiming is one `fetch_or`,
//! releasing one `fetch_and`: no lock, and two realms that claim different VMIDs write different
//! words unless their VMIDs are within 64 of each other.

use crate::sync::{AtomicU64, Ordering};
use alloc::boxed::Box;

/// The set of VMIDs in use.
pub struct VmidSet {
    words: Box<[AtomicU64]>,
    count: u64,
}

impl VmidSet {
    /// A set for a processor with `vmid_bits`-bit VMIDs (8, or 16 with FEAT_VMID16), all free.
    pub fn new(vmid_bits: u8) -> Self {
        let count = 1u64 << vmid_bits.min(16);
        Self {
            words: (0..count.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
            count,
        }
    }

    /// Whether the hardware supports `vmid` (`VmidIsValid`).
    pub fn is_valid(&self, vmid: u64) -> bool {
        vmid < self.count
    }

    /// The word and bit of `vmid`; `None` past the set (never for a valid VMID).
    fn word_and_bit(&self, vmid: u64) -> Option<(&AtomicU64, u64)> {
        let word = self.words.get(usize::try_from(vmid / 64).ok()?)?;
        Some((word, 1 << (vmid % 64)))
    }

    /// Claims `vmid` for a new realm. False, claiming nothing, if it is not valid or not free
    /// (`VmidIsValid && VmidIsFree`).
    pub fn claim(&self, vmid: u64) -> bool {
        if !self.is_valid(vmid) {
            return false;
        }
        let Some((word, bit)) = self.word_and_bit(vmid) else {
            return false;
        };
        // Acquire: pairs with the Release in `release`, so everything the realm that last used
        // this VMID did (its teardown, the TLB invalidation by VMID) happens before the new
        // realm uses it.
        word.fetch_or(bit, Ordering::Acquire) & bit == 0
    }

    /// Frees `vmid`, which the caller's realm has claimed and no longer uses.
    pub fn release(&self, vmid: u64) {
        let found = self.word_and_bit(vmid);
        debug_assert!(found.is_some(), "VMID {vmid} released but not valid");
        let Some((word, bit)) = found else {
            return;
        };
        // Release: pairs with the Acquire in `claim`.
        let old = word.fetch_and(!bit, Ordering::Release);
        debug_assert!(old & bit != 0, "VMID {vmid} released but not claimed");
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn claims_are_unique_until_released() {
        let set = VmidSet::new(16);
        assert!(set.claim(0));
        assert!(set.claim(65535));
        assert!(set.claim(64));
        assert!(!set.claim(0));
        assert!(!set.claim(65535));
        assert!(set.claim(1), "a neighbour in the same word is independent");
        set.release(0);
        assert!(set.claim(0));
        assert!(!set.claim(65536), "beyond 16 bits");
    }

    #[test]
    fn eight_bit_vmids() {
        let set = VmidSet::new(8);
        assert!(set.is_valid(255));
        assert!(!set.is_valid(256));
        assert!(!set.claim(256));
        assert!(!set.claim(u64::MAX));
        assert!(set.claim(255));
        assert!(!set.claim(255));
    }
}
