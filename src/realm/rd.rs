//! The Realm Descriptor: a realm's attributes, kept in its RD granule (spec A2.1.3).
//!
//! The RD is the granule's memory read as 64-bit words at fixed offsets:
//!
//! | words  | field                         | written                                  |
//! |--------|-------------------------------|------------------------------------------|
//! | 0      | state ([`RealmState`])        | under the RD lock; read lock-free        |
//! | 1      | ipa_width                     | once, by REALM_CREATE                    |
//! | 2      | rtt_level_start (i64)         | once                                     |
//! | 3      | rtt_num_start                 | once                                     |
//! | 4      | rtt_base                      | once                                     |
//! | 5      | vmid                          | once                                     |
//! | 6      | hash_algo (RmiHashAlgorithm)  | once                                     |
//! | 7      | rec_index                     | under the RD lock                        |
//! | 8..16  | rpv                           | once                                     |
//! | 16..56 | measurements[5], 64 B each    | under the RD lock                        |
//! | 56     | features: flags (RmiRealmFlags) | once                                   |
//! | 57     | features: sve_vl, num_bps, num_wps, pmu_num_ctrs (a byte each) | once    |
//!
//! "Once" fields are written by REALM_CREATE before the RD granule's transition to RD, whose
//! Release publishes them: a CPU that locked the RD, holds a reference to it, or read its
//! granule state as RD with Acquire, sees them. Nothing else is stored: the number of RECs is
//! the RD granule's REFCOUNT.

use crate::platform::GranuleMemory;
use crate::sync::{MemoryWord, Ordering};

/// A realm's lifecycle state (spec A2.1.5, RmmRealmState C1.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum RealmState {
    /// Under construction; not eligible for execution.
    New = 0,
    /// Eligible for execution.
    Active = 1,
    /// The realm's system has been turned off; not eligible for execution.
    SystemOff = 2,
}

const STATE: usize = 0;
const IPA_WIDTH: usize = 1;
const RTT_LEVEL_START: usize = 2;
const RTT_NUM_START: usize = 3;
const RTT_BASE: usize = 4;
const VMID: usize = 5;
const HASH_ALGO: usize = 6;
const REC_INDEX: usize = 7;
const RPV: usize = 8;
const MEASUREMENTS: usize = 16;
const FEATURE_FLAGS: usize = 56;
const FEATURE_COUNTS: usize = 57;
/// Words per measurement (64 bytes).
const MEASUREMENT_WORDS: usize = 8;
/// Number of measurements: the RIM and four REMs (spec A7.1).
pub const MEASUREMENT_COUNT: usize = 5;

/// A realm's configuration, fixed when the realm is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RealmConfig {
    /// IPA width in bits.
    pub ipa_width: u8,
    /// Level of the starting RTTs.
    pub rtt_level_start: i8,
    /// Number of concatenated starting-level RTTs.
    pub rtt_num_start: u64,
    /// PA of the first starting-level RTT.
    pub rtt_base: u64,
    /// VMID.
    pub vmid: u16,
    /// Measurement hash algorithm (RmiHashAlgorithm encoding).
    pub hash_algo: u8,
    /// The CPU features the host chose for the realm.
    pub features: RealmFeatures,
}

/// The CPU features a realm was created with (RmiRealmParams, B4.4.12; A3.1.2 to A3.1.5):
/// what its ID registers advertise and what it may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RealmFeatures {
    /// LPA2 translation tables (RmiRealmFlags.lpa2).
    pub lpa2: bool,
    /// SVE, and its vector length encoding ((sve_vl + 1) * 128 bits), if enabled.
    pub sve_vl: Option<u8>,
    /// The PMU, and its number of event counters, if enabled.
    pub pmu_num_ctrs: Option<u8>,
    /// Breakpoints, minus one (ID_AA64DFR0_EL1.BRPs encoding).
    pub num_bps: u8,
    /// Watchpoints, minus one (ID_AA64DFR0_EL1.WRPs encoding).
    pub num_wps: u8,
}

impl RealmFeatures {
    /// RmiRealmFlags bits: lpa2, sve, pmu (B4.4.11).
    const LPA2: u64 = 1 << 0;
    const SVE: u64 = 1 << 1;
    const PMU: u64 = 1 << 2;

    /// The RD words that hold them.
    fn encode(&self) -> [u64; 2] {
        let bit = |on: bool, bit: u64| if on { bit } else { 0 };
        let flags = bit(self.lpa2, Self::LPA2)
            | bit(self.sve_vl.is_some(), Self::SVE)
            | bit(self.pmu_num_ctrs.is_some(), Self::PMU);
        let counts = u64::from(self.sve_vl.unwrap_or(0))
            | u64::from(self.num_bps) << 8
            | u64::from(self.num_wps) << 16
            | u64::from(self.pmu_num_ctrs.unwrap_or(0)) << 24;
        [flags, counts]
    }

    /// The inverse of [`Self::encode`].
    fn decode([flags, counts]: [u64; 2]) -> Self {
        let [sve_vl, num_bps, num_wps, pmu_num_ctrs, ..] = counts.to_le_bytes();
        Self {
            lpa2: flags & Self::LPA2 != 0,
            sve_vl: (flags & Self::SVE != 0).then_some(sve_vl),
            pmu_num_ctrs: (flags & Self::PMU != 0).then_some(pmu_num_ctrs),
            num_bps,
            num_wps,
        }
    }
}

/// A view of an RD granule's memory.
#[derive(Clone, Copy)]
pub struct Rd<'a> {
    mem: &'a GranuleMemory,
}

impl<'a> Rd<'a> {
    /// The RD in `mem`, the memory of a granule whose state is RD (or that the caller is
    /// making an RD, holding its lock).
    pub fn new(mem: &'a GranuleMemory) -> Self {
        Self { mem }
    }

    /// Field word `word`: one of the constants above, all in the granule (checked at compile
    /// time), so `get` and `set` always find it.
    fn get(&self, word: usize) -> u64 {
        // Relaxed: every field is published by the RD granule's transition or lock (module doc).
        self.mem.get(word).map_or(0, |w| w.load(Ordering::Relaxed))
    }

    fn set(&self, word: usize, value: u64) {
        // Relaxed, as in `get`.
        if let Some(w) = self.mem.get(word) {
            w.store(value, Ordering::Relaxed)
        }
    }

    /// Writes a new realm's attributes into a zeroed granule: state NEW, `rec_index` 0,
    /// measurements as given (the RIM first, REMs zero). The caller then publishes the
    /// granule by its transition to RD.
    pub fn init(&self, config: &RealmConfig, rpv: &[u8; 64], rim: &[u8; 64]) {
        self.set(STATE, RealmState::New as u64);
        self.set(IPA_WIDTH, config.ipa_width.into());
        self.set(RTT_LEVEL_START, config.rtt_level_start as i64 as u64);
        self.set(RTT_NUM_START, config.rtt_num_start);
        self.set(RTT_BASE, config.rtt_base);
        self.set(VMID, config.vmid.into());
        self.set(HASH_ALGO, config.hash_algo.into());
        let [flags, counts] = config.features.encode();
        self.set(FEATURE_FLAGS, flags);
        self.set(FEATURE_COUNTS, counts);
        self.set(REC_INDEX, 0);
        if let Some(words) = self.words64(RPV) {
            Self::set_bytes(words, rpv);
        }
        self.set_measurement(0, rim);
    }

    /// The realm's configuration.
    pub fn config(&self) -> RealmConfig {
        RealmConfig {
            ipa_width: self.get(IPA_WIDTH) as u8,
            rtt_level_start: self.get(RTT_LEVEL_START) as i64 as i8,
            rtt_num_start: self.get(RTT_NUM_START),
            rtt_base: self.get(RTT_BASE),
            vmid: self.get(VMID) as u16,
            hash_algo: self.get(HASH_ALGO) as u8,
            features: self.features(),
        }
    }

    /// The realm's CPU features.
    pub fn features(&self) -> RealmFeatures {
        RealmFeatures::decode([self.get(FEATURE_FLAGS), self.get(FEATURE_COUNTS)])
    }

    /// The realm's state.
    pub fn state(&self) -> RealmState {
        // Acquire: pairs with the Release in `set_state`, for readers without the RD lock.
        match self.mem[STATE].load(Ordering::Acquire) {
            0 => RealmState::New,
            1 => RealmState::Active,
            _ => RealmState::SystemOff,
        }
    }

    /// Sets the realm's state; the caller holds the RD lock.
    pub fn set_state(&self, state: RealmState) {
        // Release: pairs with the Acquire in `state`.
        self.mem[STATE].store(state as u64, Ordering::Release)
    }

    /// The index the next REC will get; the caller holds the RD lock.
    pub fn rec_index(&self) -> u64 {
        self.get(REC_INDEX)
    }

    /// Sets the next REC index; the caller holds the RD lock.
    pub fn set_rec_index(&self, index: u64) {
        self.set(REC_INDEX, index)
    }

    /// The Realm Personalization Value.
    pub fn rpv(&self) -> [u8; 64] {
        self.words64(RPV).map_or([0; 64], Self::bytes)
    }

    /// Measurement `i` (0: the RIM, 1..=4: the REMs); the caller holds the RD lock and has
    /// checked `i` (zero for another).
    pub fn measurement(&self, i: usize) -> [u8; 64] {
        debug_assert!(i < MEASUREMENT_COUNT);
        self.measurement_words(i).map_or([0; 64], Self::bytes)
    }

    /// Sets measurement `i`; the caller holds the RD lock and has checked `i` (no effect for
    /// another).
    pub fn set_measurement(&self, i: usize, value: &[u8; 64]) {
        debug_assert!(i < MEASUREMENT_COUNT);
        if let Some(words) = self.measurement_words(i) {
            Self::set_bytes(words, value)
        }
    }

    /// The words of measurement `i`; `None` if there is no such measurement.
    fn measurement_words(&self, i: usize) -> Option<&'a [MemoryWord; MEASUREMENT_WORDS]> {
        let (_, measurements) = self.mem.split_at_checked(MEASUREMENTS)?;
        let each = measurements.chunks_exact(MEASUREMENT_WORDS);
        each.take(MEASUREMENT_COUNT).nth(i)?.first_chunk()
    }

    /// The 64-byte field at word `first`: a constant above, in the granule.
    fn words64(&self, first: usize) -> Option<&'a [MemoryWord; 8]> {
        self.mem.split_at_checked(first)?.1.first_chunk()
    }

    fn bytes(words: &[MemoryWord; 8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        for (chunk, word) in out.chunks_exact_mut(8).zip(words) {
            // Relaxed, as in `get`.
            chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
        }
        out
    }

    fn set_bytes(words: &[MemoryWord; 8], value: &[u8; 64]) {
        for (word, chunk) in words.iter().zip(value.chunks_exact(8)) {
            // Relaxed, as in `get`.
            word.store(
                u64::from_le_bytes(chunk.try_into().unwrap_or_default()),
                Ordering::Relaxed,
            );
        }
    }
}

// Every field is in the granule: `get`, `set` and the 64-byte fields always find their words.
const _: () = {
    assert!(RPV + 8 <= MEASUREMENTS);
    assert!(MEASUREMENTS + MEASUREMENT_COUNT * MEASUREMENT_WORDS <= FEATURE_FLAGS);
    assert!(FEATURE_FLAGS < FEATURE_COUNTS);
    assert!(FEATURE_COUNTS < core::mem::size_of::<GranuleMemory>() / 8);
};

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::MemoryWord;

    #[test]
    fn fields_round_trip_at_their_offsets() {
        let mem: GranuleMemory = core::array::from_fn(|_| MemoryWord::new(0));
        let rd = Rd::new(&mem);
        let config = RealmConfig {
            ipa_width: 40,
            rtt_level_start: 1,
            rtt_num_start: 2,
            rtt_base: 0x8800_0000,
            vmid: 0x1234,
            hash_algo: 1,
            features: RealmFeatures {
                lpa2: true,
                sve_vl: Some(15),
                pmu_num_ctrs: Some(6),
                num_bps: 5,
                num_wps: 3,
            },
        };
        let rpv: [u8; 64] = core::array::from_fn(|i| i as u8);
        let rim = [0xabu8; 64];
        rd.init(&config, &rpv, &rim);
        assert_eq!(rd.config(), config);
        assert_eq!(rd.state(), RealmState::New);
        assert_eq!(rd.rpv(), rpv);
        assert_eq!(rd.measurement(0), rim);
        assert_eq!(rd.measurement(4), [0; 64]);
        assert_eq!(mem[RPV].load(Ordering::Relaxed), 0x0706_0504_0302_0100);
        assert_eq!(
            mem[MEASUREMENTS + 8].load(Ordering::Relaxed),
            0,
            "REM 1 starts zero"
        );
        rd.set_state(RealmState::Active);
        assert_eq!(mem[STATE].load(Ordering::Relaxed), 1);
        rd.set_rec_index(3);
        assert_eq!(rd.rec_index(), 3);
        let negative = RealmConfig {
            rtt_level_start: -1,
            ..config
        };
        rd.init(&negative, &rpv, &rim);
        assert_eq!(rd.config().rtt_level_start, -1);
        // The last word used is within the granule.
        assert!(MEASUREMENTS + MEASUREMENT_COUNT * MEASUREMENT_WORDS <= mem.len());
    }
}
