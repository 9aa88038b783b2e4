//! A running realm's view of its memory through its RTTs, read without locks (spec A5.2).

use crate::memory::{granule_pieces, read_bytes, write_bytes};
use crate::platform::{GranuleMemory, Platform, RealmMemory, Stage2Fault, Stage2Translation};
use crate::rtt::{read_entry, Level, Ripas, RttEntry, RttEntryState, RttTree};
use crate::{Rmm, GRANULE_SIZE};

/// The realm's stage 2, walked on CPU `cpu` with a walk announcement per access.
pub struct Stage2<'a, P: Platform> {
    rmm: &'a Rmm<P>,
    cpu: usize,
    tree: RttTree,
    rec_count: u64,
    mpidr: u64,
}

impl<'a, P: Platform> Stage2<'a, P> {
    /// The stage 2 of the realm whose tree is `tree` and which has `rec_count` RECs, for the
    /// REC with MPIDR `mpidr` (RmiRecMpidr encoding).
    pub(crate) fn new(
        rmm: &'a Rmm<P>,
        cpu: usize,
        tree: RttTree,
        rec_count: u64,
        mpidr: u64,
    ) -> Self {
        Self {
            rmm,
            cpu,
            tree,
            rec_count,
            mpidr,
        }
    }

    /// The RMM instance.
    pub(crate) fn rmm(&self) -> &'a Rmm<P> {
        self.rmm
    }

    /// The CPU the realm runs on.
    pub(crate) fn cpu(&self) -> usize {
        self.cpu
    }

    /// PA of the realm's RD.
    pub fn rd(&self) -> u64 {
        self.tree.rd
    }

    /// The realm's IPA width in bits.
    pub fn ipa_width(&self) -> u32 {
        self.tree.config.ipa_width()
    }

    /// Whether a realm MPIDR names the running REC itself (B3.23 MpidrEqual).
    pub fn is_own_mpidr(&self, mpidr: u64) -> bool {
        crate::rmi::params::mpidr_equal(mpidr, crate::rmi::params::RecMpidr::from_bits(self.mpidr))
    }

    /// How many RECs the realm has (its next REC index; fixed once the realm is ACTIVE).
    pub fn rec_count(&self) -> u64 {
        self.rec_count
    }

    /// The entry that maps `ipa`: the walk towards level 3, without locks. `None` outside the
    /// IPA space.
    pub fn entry(&self, ipa: u64) -> Option<RttEntry> {
        if !self.tree.config.addr_in_ipa_space(ipa) {
            return None;
        }
        let _announced = self.rmm.cpu(self.cpu).announce_walk(self.tree.rd);
        Some(self.tree.walk(self.rmm.platform(), ipa, Level::PAGE).entry)
    }

    /// Whether `ipa` is a Protected IPA of this realm.
    pub fn is_protected(&self, ipa: u64) -> bool {
        self.tree.config.addr_is_protected(ipa)
    }

    /// Why an access by the RMM on the realm's behalf to the Protected IPA `ipa` found no valid
    /// mapping (an RSI command's memory operand, spec B5.3): its RIPAS, and the level at which
    /// the walk stopped (for the translation fault reported to the host).
    pub fn fault(&self, ipa: u64) -> (Option<Ripas>, Level) {
        if !self.tree.config.addr_in_ipa_space(ipa) {
            return (None, self.tree.config.start_level());
        }
        let _announced = self.rmm.cpu(self.cpu).announce_walk(self.tree.rd);
        let walk = self.tree.walk(self.rmm.platform(), ipa, Level::PAGE);
        (walk.entry.ripas(), walk.level)
    }

    /// The RIPAS at `base` and the end of the run of entries with that RIPAS that starts there,
    /// at most `top` and within the last-level RTT that maps `base` (RSI_IPA_STATE_GET, B5.3.5).
    /// `base < top` and both are Protected IPAs, `base` granule aligned.
    pub fn ripas_run(&self, base: u64, top: u64) -> (Ripas, u64) {
        let _announced = self.rmm.cpu(self.cpu).announce_walk(self.tree.rd);
        let walk = self.tree.walk(self.rmm.platform(), base, Level::PAGE);
        // A Protected IPA's entry is UNASSIGNED or ASSIGNED, so it has a RIPAS; TABLE only
        // at level 3, which cannot be.
        let ripas = walk.entry.ripas().unwrap_or(Ripas::Empty);
        let table = self.rmm.platform().granule(walk.table);
        let format = walk.entry.format();
        let entries = walk.level.table_entries();
        let differs = (walk.index..entries).skip(1).find(|&i| {
            let entry = read_entry(table, i, walk.level, format);
            walk.entry_ipa(base, i) >= top || entry.ripas() != Some(ripas)
        });
        let end = walk.entry_ipa(base, differs.unwrap_or(entries));
        (ripas, end.min(top))
    }

    /// Runs `access` on what `ipa` maps to, if the mapping is valid, with the walk still
    /// announced so a DATA page cannot be reused meanwhile.
    fn access<R>(&self, ipa: u64, access: impl FnOnce(Target) -> R) -> Result<R, Stage2Fault> {
        let fault = Stage2Fault { ipa };
        if !self.tree.config.addr_in_ipa_space(ipa) {
            return Err(fault);
        }
        let _announced = self.rmm.cpu(self.cpu).announce_walk(self.tree.rd);
        let walk = self.tree.walk(self.rmm.platform(), ipa, Level::PAGE);
        let entry = walk.entry;
        let base = entry
            .output_address()
            .filter(|_| entry.is_hw_valid())
            .ok_or(fault)?;
        // A block or page's address is aligned to its size: never past 2^52.
        let pa = base
            .checked_add(ipa & walk.level.offset_mask())
            .ok_or(fault)?;
        let offset = (pa % GRANULE_SIZE) as usize;
        match entry.state() {
            RttEntryState::Assigned => {
                let page = self.rmm.platform().granule(Level::PAGE.align_down(pa));
                Ok(access(Target::Realm(page, offset)))
            }
            RttEntryState::AssignedNs => Ok(access(Target::Ns(pa))),
            _ => Err(fault),
        }
    }
}

impl<P: Platform> Stage2<'_, P> {
    /// Reads `out.len()` doublewords at `ipa`, as [`RealmMemory::read`] would (little-endian),
    /// a word per load when `ipa` is 8-aligned, the range stays in one granule and it is realm
    /// memory, as RSI structures are: RSI_HOST_CALL's gprs go this way on every host call.
    pub fn read_words(&self, ipa: u64, out: &mut [u64]) -> Result<(), Stage2Fault> {
        if self.on_words(ipa, out.len(), |words| {
            for (value, word) in out.iter_mut().zip(words) {
                // Relaxed, as in `memory::read_bytes`: the walk announcement keeps the page.
                *value = word.load(crate::sync::Ordering::Relaxed);
            }
        })? {
            return Ok(());
        }
        for (value, at) in out.iter_mut().zip(doublewords(ipa)) {
            let mut bytes = [0u8; 8];
            self.read(at, &mut bytes)?;
            *value = u64::from_le_bytes(bytes);
        }
        Ok(())
    }

    /// Writes `values` as doublewords at `ipa`, as [`RealmMemory::write`] would, a word per
    /// store under the conditions of [`Self::read_words`].
    pub fn write_words(&self, ipa: u64, values: &[u64]) -> Result<(), Stage2Fault> {
        if self.on_words(ipa, values.len(), |words| {
            for (word, value) in words.iter().zip(values) {
                // Relaxed, as in `memory::write_bytes`.
                word.store(*value, crate::sync::Ordering::Relaxed);
            }
        })? {
            return Ok(());
        }
        for (value, at) in values.iter().zip(doublewords(ipa)) {
            self.write(at, &value.to_le_bytes())?;
        }
        Ok(())
    }

    /// Runs `f` on the `len` words of realm memory at `ipa` and returns true, if `ipa` is
    /// 8-aligned, the words stay in one granule and `ipa` maps realm memory (ASSIGNED); false
    /// if not (the caller takes the byte path); the fault if `ipa` has no valid mapping.
    fn on_words(
        &self,
        ipa: u64,
        len: usize,
        f: impl FnOnce(&[crate::sync::MemoryWord]),
    ) -> Result<bool, Stage2Fault> {
        let end = (len.checked_mul(8)).and_then(|n| n.checked_add((ipa % GRANULE_SIZE) as usize));
        if !ipa.is_multiple_of(8) || end.is_none_or(|end| end > GRANULE_SIZE as usize) {
            return Ok(false);
        }
        self.access(ipa, |target| match target {
            Target::Realm(mem, off) => {
                let words = mem.get(off / 8..).and_then(|from| from.get(..len));
                words.map(f).is_some()
            }
            Target::Ns(_) => false,
        })
    }
}

/// The addresses of consecutive doublewords from `ipa`. They wrap at 2^64 as the realm's own
/// accesses would, and fault past the IPA space well before that.
fn doublewords(ipa: u64) -> impl Iterator<Item = u64> {
    core::iter::successors(Some(ipa), |at| Some(at.wrapping_add(8)))
}

/// What a valid stage-2 mapping leads to.
enum Target<'m> {
    /// A DATA granule's memory, and the byte offset in it.
    Realm(&'m GranuleMemory, usize),
    /// A Non-secure PA.
    Ns(u64),
}

impl<P: Platform> RealmMemory for Stage2<'_, P> {
    fn translation(&self) -> Stage2Translation {
        Stage2Translation {
            rtt_base: self.tree.base,
            vmid: self.tree.vmid,
            t0sz: self.tree.config.vtcr_t0sz(),
            sl0: self.tree.config.vtcr_sl0(),
            sl2: self.tree.config.vtcr_sl2(),
            ds: self.tree.config.vtcr_ds(),
        }
    }

    fn read(&self, ipa: u64, buf: &mut [u8]) -> Result<(), Stage2Fault> {
        let mut rest = buf;
        for (at, _, n) in granule_pieces(ipa, rest.len()) {
            let fault = Stage2Fault { ipa: at };
            // The pieces follow each other through the buffer: `n` is within what is left.
            let (out, after) = core::mem::take(&mut rest)
                .split_at_mut_checked(n)
                .ok_or(fault)?;
            rest = after;
            self.access(at, |target| match target {
                Target::Realm(mem, off) => {
                    read_bytes(mem, off, out);
                    Ok(())
                }
                Target::Ns(pa) => self.rmm.platform().ns_read(pa, out).map_err(|_| fault),
            })??;
        }
        Ok(())
    }

    fn write(&self, ipa: u64, bytes: &[u8]) -> Result<(), Stage2Fault> {
        let mut rest = bytes;
        for (at, _, n) in granule_pieces(ipa, bytes.len()) {
            let fault = Stage2Fault { ipa: at };
            // As in `read`.
            let (data, after) = rest.split_at_checked(n).ok_or(fault)?;
            rest = after;
            self.access(at, |target| match target {
                Target::Realm(mem, off) => {
                    write_bytes(mem, off, data);
                    Ok(())
                }
                Target::Ns(pa) => self.rmm.platform().ns_write(pa, data).map_err(|_| fault),
            })??;
        }
        Ok(())
    }
}

/// What a Protected IPA's entry means for a realm access that faulted (spec A5.2.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtectedAccess {
    /// RIPAS EMPTY: a Synchronous External Abort taken to the realm.
    Sea,
    /// RIPAS RAM with nothing assigned, or DESTROYED: a REC exit to the host.
    Exit,
    /// Mapped and valid: the fault raced a change; the realm retries.
    Retry,
}

/// Classifies a faulting access to a Protected IPA by its entry.
pub fn protected_access(entry: RttEntry) -> ProtectedAccess {
    match (entry.state(), entry.ripas()) {
        (_, Some(Ripas::Empty)) => ProtectedAccess::Sea,
        (_, Some(Ripas::Destroyed)) => ProtectedAccess::Exit,
        (RttEntryState::Assigned, Some(Ripas::Ram)) if entry.is_hw_valid() => {
            ProtectedAccess::Retry
        }
        _ => ProtectedAccess::Exit,
    }
}
