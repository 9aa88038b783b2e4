//! The granule table: one [`Granule`] per 4 KiB of delegable memory, found by physical address.

use super::Granule;
use crate::{GRANULE_SHIFT, GRANULE_SIZE};
use alloc::boxed::Box;
use alloc::vec::Vec;

/// Why a list of DRAM banks cannot back a granule table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BankError {
    /// No banks at all.
    NoBanks,
    /// A bank whose base or size is not granule aligned.
    Unaligned {
        /// The bank's base PA.
        base: u64,
    },
    /// A bank of size zero.
    Empty {
        /// The bank's base PA.
        base: u64,
    },
    /// A bank that runs past the end of the address space.
    Overflow {
        /// The bank's base PA.
        base: u64,
    },
    /// Two banks that overlap.
    Overlap {
        /// The base PA of the second of the two, in address order.
        base: u64,
    },
    /// The allocator cannot hold the table.
    OutOfMemory {
        /// Granules in all banks.
        granules: usize,
        /// Bytes the table needs.
        bytes: usize,
    },
}

/// One DRAM bank: granules `[base, end)` are table entries `first..`.
#[derive(Clone, Copy, Debug)]
struct Bank {
    base: u64,
    end: u64,
    first: usize,
}

/// The states of all delegable granules: the NS DRAM banks given at boot (spec A2.2,
/// `PaIsDelegable`, B3.25).
pub struct GranuleTable {
    /// Sorted by address, non-overlapping.
    banks: Vec<Bank>,
    granules: Box<[Granule]>,
}

impl GranuleTable {
    /// A table of UNDELEGATED granules covering `dram`, given as `(base, size)` pairs in any
    /// order.
    pub fn new(dram: &[(u64, u64)]) -> Result<Self, BankError> {
        let mut sorted: Vec<(u64, u64)> = dram.to_vec();
        sorted.sort_unstable();
        let mut banks: Vec<Bank> = Vec::with_capacity(sorted.len());
        let mut count = 0usize;
        for (base, size) in sorted {
            if base % GRANULE_SIZE != 0 || size % GRANULE_SIZE != 0 {
                return Err(BankError::Unaligned { base });
            }
            if size == 0 {
                return Err(BankError::Empty { base });
            }
            let end = base.checked_add(size).ok_or(BankError::Overflow { base })?;
            if banks.last().is_some_and(|prev| prev.end > base) {
                return Err(BankError::Overlap { base });
            }
            let granules =
                usize::try_from(size >> GRANULE_SHIFT).map_err(|_| BankError::Overflow { base })?;
            banks.push(Bank {
                base,
                end,
                first: count,
            });
            count = count
                .checked_add(granules)
                .ok_or(BankError::Overflow { base })?;
        }
        if banks.is_empty() {
            return Err(BankError::NoBanks);
        }
        let mut granules = Vec::new();
        granules
            .try_reserve_exact(count)
            .map_err(|_| BankError::OutOfMemory {
                granules: count,
                bytes: count.saturating_mul(core::mem::size_of::<Granule>()),
            })?;
        granules.extend((0..count).map(|_| Granule::new()));
        Ok(Self {
            banks,
            granules: granules.into_boxed_slice(),
        })
    }

    /// The index of the granule that holds `pa`, or `None` if `pa` is not delegable.
    fn index(&self, pa: u64) -> Option<usize> {
        let bank = self
            .banks
            .get(self.banks.partition_point(|b| b.end <= pa))?;
        // Fits: the bank's granule count fitted in a usize when the table was built.
        let index = (pa.checked_sub(bank.base)? >> GRANULE_SHIFT) as usize;
        bank.first.checked_add(index)
    }

    /// The granule that holds `pa`, or `None` if `pa` is not delegable (`PaIsDelegable`).
    pub fn get(&self, pa: u64) -> Option<&Granule> {
        self.granules.get(self.index(pa)?)
    }

    /// The number of granules in the table.
    pub fn len(&self) -> usize {
        self.granules.len()
    }

    /// Whether the table is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.granules.is_empty()
    }

    /// Every granule with its physical address, in address order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Granule)> + '_ {
        self.banks.iter().flat_map(move |bank| {
            let pas = (bank.base..bank.end).step_by(GRANULE_SIZE as usize);
            pas.zip(self.granules.get(bank.first..).unwrap_or_default())
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::granule::GranuleState;

    const MIB: u64 = 1 << 20;

    #[test]
    fn finds_granules_across_unsorted_banks() {
        let t = GranuleTable::new(&[(0x9000_0000, MIB), (0x4000_0000, 2 * MIB)]).unwrap();
        assert_eq!(t.len(), 768);
        assert_eq!(t.index(0x4000_0000), Some(0));
        assert_eq!(t.index(0x4000_0fff), Some(0));
        assert_eq!(t.index(0x401f_f000), Some(511));
        assert_eq!(t.index(0x4020_0000), None);
        assert_eq!(t.index(0x3fff_f000), None);
        assert_eq!(t.index(0x9000_0000), Some(512));
        assert_eq!(t.index(0x900f_f000), Some(767));
        assert_eq!(t.index(0x9010_0000), None);
        assert_eq!(t.index(u64::MAX), None);
        let pas: Vec<u64> = t.iter().map(|(pa, _)| pa).collect();
        assert_eq!(pas.len(), 768);
        assert_eq!(pas[511], 0x401f_f000);
        assert_eq!(pas[512], 0x9000_0000);
        assert!(t
            .iter()
            .all(|(_, g)| g.state() == GranuleState::Undelegated));
        // Each PA maps to its own word.
        let g = t.get(0x9000_1000).unwrap();
        g.lock(GranuleState::Undelegated)
            .unwrap()
            .transition(GranuleState::Delegated);
        let delegated: Vec<u64> = t
            .iter()
            .filter(|(_, g)| g.state() == GranuleState::Delegated)
            .map(|(pa, _)| pa)
            .collect();
        assert_eq!(delegated, [0x9000_1000]);
    }

    #[test]
    fn rejects_bad_banks() {
        assert_eq!(GranuleTable::new(&[]).err(), Some(BankError::NoBanks));
        assert_eq!(
            GranuleTable::new(&[(0x1800, MIB)]).err(),
            Some(BankError::Unaligned { base: 0x1800 })
        );
        assert_eq!(
            GranuleTable::new(&[(0x1000, 0x800)]).err(),
            Some(BankError::Unaligned { base: 0x1000 })
        );
        assert_eq!(
            GranuleTable::new(&[(0x1000, 0)]).err(),
            Some(BankError::Empty { base: 0x1000 })
        );
        assert_eq!(
            GranuleTable::new(&[(u64::MAX - 0xfff, 0x2000)]).err(),
            Some(BankError::Overflow {
                base: u64::MAX - 0xfff
            })
        );
        assert_eq!(
            GranuleTable::new(&[(0x10_0000, MIB), (0x18_0000, MIB)]).err(),
            Some(BankError::Overlap { base: 0x18_0000 })
        );
    }

    #[test]
    fn a_table_the_allocator_cannot_hold_is_an_error_not_an_abort() {
        // 2^62 bytes of DRAM: a 2^53-byte table, more than a 48-bit address space can map.
        let granules = 1usize << 50;
        assert_eq!(
            GranuleTable::new(&[(1 << 62, 1 << 62)]).err(),
            Some(BankError::OutOfMemory {
                granules,
                bytes: granules * core::mem::size_of::<super::Granule>(),
            })
        );
    }
}
