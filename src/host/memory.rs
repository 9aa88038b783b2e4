//! The simulated machine's physical memory and EL3's granule protection table (GPT).
//!
//! Memory is an array of [`MemoryWord`]s: every access is a 64-bit single-copy-atomic load or
//! store (or a CAS for a partial word), as on hardware, so a host thread and an RMM thread that
//! race on the same memory never make a data race.
//!
//! Each granule's GPT entry is an atomic word holding its PAS and the number of checked
//! accesses in flight. A checked access pins the entry (CAS: count + 1, only if the PAS is the
//! one the access needs), copies, and unpins; a PAS change is a CAS that requires no access in
//! flight, and waits for them to drain. So a check and its access happen together with respect
//! to PAS changes, as a granule protection check does on hardware: no write that passed the
//! check can land after EL3 has moved the granule to the Realm PAS. These atomics model
//! hardware, not an RMM protocol, so they are `core`'s.

use crate::memory::{granule_pieces, read_bytes, write_bytes};
use crate::platform::GranuleMemory;
use crate::sync::MemoryWord;
use crate::{GRANULE_SHIFT, GRANULE_SIZE};
use std::boxed::Box;
use std::sync::atomic::{AtomicU32, Ordering};
use std::vec::Vec;

/// A physical address space (the GPT entry of a granule).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Pas {
    /// Non-secure: the Normal world's.
    NonSecure = 0,
    /// Realm: the RMM's and the realms'.
    Realm = 1,
    /// Secure.
    Secure = 2,
    /// Root: EL3's.
    Root = 3,
}

impl Pas {
    fn from_entry(entry: u32) -> Pas {
        [Pas::NonSecure, Pas::Realm, Pas::Secure, Pas::Root][(entry & PAS_MASK) as usize]
    }
}

/// Why a memory access failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The granule belongs to another PAS: a granule protection fault.
    GranuleProtection(Pas),
    /// No memory at that address.
    NoMemory,
}

/// A failed memory access: the first address that could not be accessed, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The faulting physical address.
    pub pa: u64,
    /// What was there instead.
    pub kind: FaultKind,
}

const PAS_MASK: u32 = 0xff;
const IN_FLIGHT_ONE: u32 = 1 << 8;
const WORDS_PER_GRANULE: usize = (GRANULE_SIZE / 8) as usize;

struct Bank {
    base: u64,
    words: Box<[MemoryWord]>,
    gpt: Box<[AtomicU32]>,
}

/// A pinned GPT entry: its granule's PAS cannot change until this is dropped.
struct Pin<'a>(&'a AtomicU32);

impl Drop for Pin<'_> {
    fn drop(&mut self) {
        // Release: pairs with the Acquire of the PAS change that waits for this access.
        self.0.fetch_sub(IN_FLIGHT_ONE, Ordering::Release);
    }
}

/// Memory backed by the host, in banks, with a GPT entry per granule (all Non-secure at first).
pub(crate) struct PhysMemory {
    banks: Vec<Bank>,
}

/// Zero-filled words, lazily committed by the host OS.
fn zeroed<T>(len: usize) -> Box<[T]> {
    if len == 0 {
        return Box::new([]);
    }
    let layout = std::alloc::Layout::array::<T>(len).expect("bank size fits the host");
    // SAFETY: `layout` has a non-zero size.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<T>();
    if ptr.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // SAFETY: `ptr` is a fresh allocation of `len` elements with `T`'s layout, owned by the box
    // from here on; `zeroed` is only called with atomic integers (or the audit's transparent
    // wrappers of them), for which all-zero bytes are a valid value.
    unsafe { Box::from_raw(core::ptr::slice_from_raw_parts_mut(ptr, len)) }
}

impl PhysMemory {
    /// Memory for `dram`, which must be valid banks (as `GranuleTable::new` checks).
    pub(crate) fn new(dram: &[(u64, u64)]) -> Self {
        let mut banks: Vec<Bank> = dram
            .iter()
            .map(|&(base, size)| Bank {
                base,
                words: zeroed((size / 8) as usize),
                gpt: zeroed((size >> GRANULE_SHIFT) as usize),
            })
            .collect();
        banks.sort_unstable_by_key(|b| b.base);
        Self { banks }
    }

    /// The bank holding `pa` and the index of `pa`'s granule in it.
    fn locate(&self, pa: u64) -> Option<(&Bank, usize)> {
        let bank = self
            .banks
            .iter()
            .find(|b| pa >= b.base && pa - b.base < (b.gpt.len() as u64) << GRANULE_SHIFT)?;
        Some((bank, ((pa - bank.base) >> GRANULE_SHIFT) as usize))
    }

    fn gpt_entry(&self, pa: u64) -> Result<&AtomicU32, Fault> {
        let (bank, granule) = self.locate(pa).ok_or(Fault {
            pa,
            kind: FaultKind::NoMemory,
        })?;
        Ok(&bank.gpt[granule])
    }

    /// The words of the granule holding `pa`.
    pub(crate) fn granule_words(&self, pa: u64) -> Option<&GranuleMemory> {
        let (bank, granule) = self.locate(pa)?;
        let first = granule * WORDS_PER_GRANULE;
        bank.words[first..first + WORDS_PER_GRANULE].try_into().ok()
    }

    /// The PAS of the granule holding `pa`, or `None` outside memory.
    pub(crate) fn pas(&self, pa: u64) -> Option<Pas> {
        let entry = self.gpt_entry(pa).ok()?;
        Some(Pas::from_entry(entry.load(Ordering::Acquire)))
    }

    /// Pins `pa`'s GPT entry if its PAS is `needed`.
    fn pin(&self, pa: u64, needed: Pas) -> Result<Pin<'_>, Fault> {
        let entry = self.gpt_entry(pa)?;
        let mut current = entry.load(Ordering::Relaxed);
        loop {
            let pas = Pas::from_entry(current);
            if pas != needed {
                return Err(Fault {
                    pa,
                    kind: FaultKind::GranuleProtection(pas),
                });
            }
            // Acquire: pairs with the Release of the PAS change, so this access sees memory
            // as EL3 and the RMM left it when the granule came back to this PAS.
            match entry.compare_exchange_weak(
                current,
                current + IN_FLIGHT_ONE,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(Pin(entry)),
                Err(now) => current = now,
            }
        }
    }

    /// Moves `pa`'s granule from PAS `from` to `to`, once no checked access is in flight.
    /// Returns `false`, changing nothing, if its PAS is not `from`.
    pub(crate) fn change_pas(&self, pa: u64, from: Pas, to: Pas) -> bool {
        let Ok(entry) = self.gpt_entry(pa) else {
            return false;
        };
        loop {
            // AcqRel: Acquire pairs with the Release of each access's unpin, so the last
            // accesses are complete; Release pairs with the Acquire of the next pin.
            match entry.compare_exchange_weak(
                from as u32,
                to as u32,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) if Pas::from_entry(now) == from => std::hint::spin_loop(),
                Err(_) => return false,
            }
        }
    }

    /// [`granule_pieces`] of `[pa, pa + len)`, or a fault if the range wraps.
    fn pieces(pa: u64, len: usize) -> Result<impl Iterator<Item = (u64, usize, usize)>, Fault> {
        pa.checked_add(len as u64).ok_or(Fault {
            pa,
            kind: FaultKind::NoMemory,
        })?;
        Ok(granule_pieces(pa, len))
    }

    /// Reads `buf.len()` bytes at `pa`. With `needed`, each granule must be in that PAS.
    pub(crate) fn read(&self, pa: u64, buf: &mut [u8], needed: Option<Pas>) -> Result<(), Fault> {
        for (at, offset, len) in Self::pieces(pa, buf.len())? {
            let _pin = needed.map(|pas| self.pin(at, pas)).transpose()?;
            let words = self.granule_words(at).ok_or(Fault {
                pa: at,
                kind: FaultKind::NoMemory,
            })?;
            read_bytes(
                words,
                (at % GRANULE_SIZE) as usize,
                &mut buf[offset..offset + len],
            );
        }
        Ok(())
    }

    /// Writes `bytes` at `pa`. With `needed`, each granule must be in that PAS; granules
    /// before a faulting one have been written.
    pub(crate) fn write(&self, pa: u64, bytes: &[u8], needed: Option<Pas>) -> Result<(), Fault> {
        for (at, offset, len) in Self::pieces(pa, bytes.len())? {
            let _pin = needed.map(|pas| self.pin(at, pas)).transpose()?;
            let words = self.granule_words(at).ok_or(Fault {
                pa: at,
                kind: FaultKind::NoMemory,
            })?;
            write_bytes(
                words,
                (at % GRANULE_SIZE) as usize,
                &bytes[offset..offset + len],
            );
        }
        Ok(())
    }
}
