//! Boot manifest 0.3 parser (RMM-EL3 interface 0.3, `struct rmm_core_manifest`).
//!
//! EL3 places the manifest at the base of the 4 KiB shared buffer. Layout (little-endian):
//!
//! | Offset | Field |
//! |---|---|
//! | 0  | `version` u32 (bit 31 RES0, `[30:16]` major, `[15:0]` minor), 4 bytes padding |
//! | 8  | `plat_data` PA |
//! | 16 | `plat_dram`: `num_banks`, `banks` PA, `checksum` |
//! | 40 | `plat_console`: `num_consoles`, `consoles` PA, `checksum` |
//! | 64 | later versions only (0.4: device ranges, 0.5: SMMUs, root complexes): ignored |
//!
//! Checksum rule (rmm-el3-comms-spec): the wrapping sum of the count, the array PA, the
//! checksum field and every 64-bit word of the pointed array must be 0.
//!
//! The parser reads memory only through a caller-supplied `read(pa) -> Option<u64>`
//! (8-byte aligned PAs), which is also the policy point: the image can refuse any PA
//! outside the shared buffer, host tests can serve a byte buffer at a fake PA.

use crate::el3::Version;
use crate::GRANULE_SIZE;

/// Oldest boot manifest version accepted (0.3). Any 0.x with x >= 3 is accepted and fields
/// past offset 64 are ignored.
pub const MIN_MANIFEST_VERSION: Version = Version { major: 0, minor: 3 };
/// Most DRAM banks accepted; more is a data error.
pub const MAX_DRAM_BANKS: usize = 16;
/// Most console entries accepted (bounds the reads); more is a data error.
pub const MAX_CONSOLES: usize = 8;

/// Bytes in one DRAM bank entry: `{base, size}`.
const BANK_SIZE: u64 = 16;
/// Bytes in one console entry: `{base, map_pages, name[8], clk_in_hz, baud_rate, flags}`.
const CONSOLE_SIZE: u64 = 48;

/// One DRAM bank: `[base, base + size)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DramBank {
    /// First byte, 4 KiB aligned, non-zero.
    pub base: u64,
    /// Length in bytes, 4 KiB aligned, non-zero.
    pub size: u64,
}

impl DramBank {
    /// One past the last byte. Cannot overflow for a bank returned by [`parse`].
    pub const fn end(&self) -> u64 {
        self.base.wrapping_add(self.size)
    }
}

/// The validated DRAM banks, in ascending, non-overlapping order (as EL3 must supply them;
/// the parser rejects, rather than sorts, anything else).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DramBanks {
    banks: [DramBank; MAX_DRAM_BANKS],
    count: usize,
}

impl DramBanks {
    /// The banks, lowest first.
    pub fn as_slice(&self) -> &[DramBank] {
        self.banks.get(..self.count).unwrap_or(&[])
    }

    /// Number of banks (at least 1 after [`parse`]).
    pub const fn len(&self) -> usize {
        self.count
    }

    /// True if there are no banks (never after a successful [`parse`]).
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Total bytes of DRAM.
    pub fn total_size(&self) -> u64 {
        self.as_slice()
            .iter()
            .fold(0u64, |acc, b| acc.saturating_add(b.size))
    }
}

/// One console entry from the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Console {
    /// PA of the UART registers.
    pub base: u64,
    /// Number of 4 KiB pages to map at `base`.
    pub map_pages: u64,
    /// NUL-padded driver name, e.g. `pl011`.
    pub name: [u8; 8],
    /// UART input clock in Hz.
    pub clk_in_hz: u64,
    /// Baud rate.
    pub baud_rate: u64,
    /// Flags (none defined in 0.3).
    pub flags: u64,
}

impl Console {
    /// The name up to its first NUL.
    pub fn name(&self) -> &[u8] {
        let len = self
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.name.len());
        self.name.get(..len).unwrap_or(&[])
    }
}

/// Which console checksum rule the manifest satisfied (boot manifest 0.3 producers differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleChecksum {
    /// Every word of every entry, name and flags included (TF-RMM v0.6.0+, TF-A v2.13+).
    Full,
    /// Only `base + map_pages + clk_in_hz + baud_rate` of each entry: what rel0 TF-RMM
    /// checks and TF-A up to v2.12 produces (it leaves `flags` 0).
    Legacy,
}

/// A validated boot manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// Manifest version (major 0, minor >= 3).
    pub version: Version,
    /// PA of the platform-specific data (opaque, may be 0).
    pub plat_data: u64,
    /// DRAM banks.
    pub dram: DramBanks,
    /// The first console entry, if EL3 passed any.
    pub console: Option<Console>,
    /// The console checksum rule that matched; `None` when there are no consoles.
    pub console_checksum: Option<ConsoleChecksum>,
}

/// Why a manifest was rejected. [`code`](ManifestError::code) gives the boot error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestError {
    /// Version not 0.x with x >= 3, or RES0 bits set (raw u32 given). Boot error -6.
    Version(u32),
    /// `read` refused this PA. Boot error -7 (as all below).
    Unreadable {
        /// The PA.
        pa: u64,
    },
    /// The manifest base or an array PA is 0, not 8-byte aligned, or the array would wrap.
    BadPointer {
        /// The offending PA.
        pa: u64,
    },
    /// `num_banks` is 0 or above [`MAX_DRAM_BANKS`].
    DramCount(u64),
    /// The DRAM checksum does not sum to 0.
    DramChecksum,
    /// Bank `index` has a zero base or size, is not 4 KiB aligned, or wraps past 2^64.
    DramBank {
        /// Bank index.
        index: usize,
    },
    /// Bank `index` starts below the end of the previous bank (unsorted or overlapping).
    DramOrder {
        /// Bank index.
        index: usize,
    },
    /// `num_consoles` is above [`MAX_CONSOLES`].
    ConsoleCount(u64),
    /// The console checksum matches neither [`ConsoleChecksum`] rule.
    ConsoleChecksum,
}

impl ManifestError {
    /// The RMM_BOOT_COMPLETE code: -6 (MANIFEST_VERSION_NOT_SUPPORTED) for a version
    /// error, -7 (MANIFEST_DATA_ERROR) otherwise.
    pub const fn code(self) -> i64 {
        match self {
            ManifestError::Version(_) => -6,
            _ => -7,
        }
    }
}

/// Reads the word at `base + off`, failing on overflow or a refused read.
fn word(read: &impl Fn(u64) -> Option<u64>, base: u64, off: u64) -> Result<u64, ManifestError> {
    let pa = base
        .checked_add(off)
        .ok_or(ManifestError::BadPointer { pa: base })?;
    read(pa).ok_or(ManifestError::Unreadable { pa })
}

/// Checks an array PA holding `count` entries of `entry` bytes: non-zero, 8-byte aligned,
/// and not wrapping.
fn check_array(pa: u64, count: u64, entry: u64) -> Result<(), ManifestError> {
    let bad = ManifestError::BadPointer { pa };
    if pa == 0 || !pa.is_multiple_of(8) {
        return Err(bad);
    }
    count
        .checked_mul(entry)
        .and_then(|len| pa.checked_add(len))
        .map(|_| ())
        .ok_or(bad)
}

/// Parses and validates the boot manifest at `base_pa` (the shared buffer).
///
/// Checks, in order: version (-6); DRAM count, pointer, checksum, then each bank (4 KiB
/// aligned non-zero base and size, no wrap, ascending and non-overlapping; a zero base is
/// rejected as in TF-RMM); console count, pointer and checksum (either rule). Banks that are
/// not sorted are rejected, not sorted. Only the first console entry is returned.
pub fn parse(read: impl Fn(u64) -> Option<u64>, base_pa: u64) -> Result<Manifest, ManifestError> {
    if base_pa == 0 || !base_pa.is_multiple_of(8) {
        return Err(ManifestError::BadPointer { pa: base_pa });
    }

    // The version is the low half of the first word (little-endian u32 @0, padding @4).
    let raw_version = word(&read, base_pa, 0)? as u32;
    let version = Version::decode(u64::from(raw_version))
        .filter(|v| v.is_compatible_with(MIN_MANIFEST_VERSION))
        .ok_or(ManifestError::Version(raw_version))?;
    let plat_data = word(&read, base_pa, 8)?;

    let dram = parse_dram(&read, base_pa)?;
    let (console, console_checksum) = parse_console(&read, base_pa)?;

    Ok(Manifest {
        version,
        plat_data,
        dram,
        console,
        console_checksum,
    })
}

/// Parses `plat_dram` @16.
fn parse_dram(
    read: &impl Fn(u64) -> Option<u64>,
    base_pa: u64,
) -> Result<DramBanks, ManifestError> {
    let num = word(read, base_pa, 16)?;
    let ptr = word(read, base_pa, 24)?;
    let csum = word(read, base_pa, 32)?;

    let count = match usize::try_from(num) {
        Ok(n) if n != 0 && n <= MAX_DRAM_BANKS => n,
        _ => return Err(ManifestError::DramCount(num)),
    };
    check_array(ptr, num, BANK_SIZE)?;

    let mut out = DramBanks {
        banks: [DramBank::default(); MAX_DRAM_BANKS],
        count,
    };
    let mut sum = num.wrapping_add(ptr).wrapping_add(csum);
    for (i, slot) in out.banks.iter_mut().take(count).enumerate() {
        // `check_array` proved ptr + count * 16 does not wrap, so these offsets fit.
        let off = (i as u64) * BANK_SIZE;
        let base = word(read, ptr, off)?;
        let size = word(read, ptr, off + 8)?;
        sum = sum.wrapping_add(base).wrapping_add(size);
        *slot = DramBank { base, size };
    }
    if sum != 0 {
        return Err(ManifestError::DramChecksum);
    }

    let mut prev_end = 0u64;
    for (index, bank) in out.as_slice().iter().enumerate() {
        let aligned = (bank.base | bank.size) % GRANULE_SIZE == 0;
        let end = bank.base.checked_add(bank.size);
        let end = match end {
            Some(end) if aligned && bank.base != 0 && bank.size != 0 => end,
            _ => return Err(ManifestError::DramBank { index }),
        };
        if bank.base < prev_end {
            return Err(ManifestError::DramOrder { index });
        }
        prev_end = end;
    }
    Ok(out)
}

/// Parses `plat_console` @40: the first entry, and which checksum rule held.
fn parse_console(
    read: &impl Fn(u64) -> Option<u64>,
    base_pa: u64,
) -> Result<(Option<Console>, Option<ConsoleChecksum>), ManifestError> {
    let num = word(read, base_pa, 40)?;
    let ptr = word(read, base_pa, 48)?;
    let csum = word(read, base_pa, 56)?;

    let head = num.wrapping_add(ptr).wrapping_add(csum);
    let count = match usize::try_from(num) {
        Ok(n) if n <= MAX_CONSOLES => n,
        _ => return Err(ManifestError::ConsoleCount(num)),
    };
    if count == 0 {
        // No array to read: the checksum covers only the count, pointer and checksum.
        return if head == 0 {
            Ok((None, None))
        } else {
            Err(ManifestError::ConsoleChecksum)
        };
    }
    check_array(ptr, num, CONSOLE_SIZE)?;

    let mut full = head;
    let mut legacy = head;
    let mut first = None;
    for i in 0..count {
        // `check_array` proved ptr + count * 48 does not wrap, so these offsets fit.
        let off = (i as u64) * CONSOLE_SIZE;
        let mut w = [0u64; 6];
        for (j, slot) in w.iter_mut().enumerate() {
            *slot = word(read, ptr, off + (j as u64) * 8)?;
        }
        let [base, map_pages, name, clk_in_hz, baud_rate, flags] = w;
        full = w.iter().fold(full, |s, &x| s.wrapping_add(x));
        legacy = [base, map_pages, clk_in_hz, baud_rate]
            .iter()
            .fold(legacy, |s, &x| s.wrapping_add(x));
        first.get_or_insert(Console {
            base,
            map_pages,
            name: name.to_le_bytes(),
            clk_in_hz,
            baud_rate,
            flags,
        });
    }
    let rule = if full == 0 {
        ConsoleChecksum::Full
    } else if legacy == 0 {
        ConsoleChecksum::Legacy
    } else {
        return Err(ManifestError::ConsoleChecksum);
    };
    Ok((first, Some(rule)))
}

/// A `read` for [`parse`] serving `bytes` as if they lay at physical address `base_pa`:
/// little-endian words at any PA whose 8 bytes fall inside the slice, `None` elsewhere.
/// Host tests use it with a fake PA; the image can use it over a mapped shared buffer.
pub fn slice_reader(base_pa: u64, bytes: &[u8]) -> impl Fn(u64) -> Option<u64> + '_ {
    move |pa| {
        let off = usize::try_from(pa.checked_sub(base_pa)?).ok()?;
        let chunk = bytes.get(off..off.checked_add(8)?)?;
        Some(u64::from_le_bytes(chunk.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fake PA of the shared buffer in the tests.
    const BUF: u64 = 0x418F_F000;
    const BANKS_OFF: u64 = 0x100;
    const CONS_OFF: u64 = 0x200;

    const PL011: Console = Console {
        base: 0x0900_0000,
        map_pages: 1,
        name: *b"pl011\0\0\0",
        clk_in_hz: 24_000_000,
        baud_rate: 115_200,
        flags: 0,
    };

    /// A manifest description; `bytes()` lays it out and computes the checksums.
    struct Fixture {
        version: u32,
        banks: &'static [(u64, u64)],
        consoles: &'static [Console],
        legacy_console_sum: bool,
        dram_sum_delta: u64,
        console_sum_delta: u64,
        num_banks: Option<u64>,
        banks_ptr: Option<u64>,
        tail: u64,
    }

    impl Fixture {
        fn valid() -> Self {
            Fixture {
                version: 0x3,
                banks: &[(0x4000_0000, 0x4000_0000), (0x8_8000_0000, 0x8000_0000)],
                consoles: &[PL011],
                legacy_console_sum: false,
                dram_sum_delta: 0,
                console_sum_delta: 0,
                num_banks: None,
                banks_ptr: None,
                tail: 0,
            }
        }

        fn bytes(&self) -> [u8; 4096] {
            let mut b = [0u8; 4096];
            let mut put = |off: u64, v: u64| {
                let off = off as usize;
                b[off..off + 8].copy_from_slice(&v.to_le_bytes());
            };
            // version u32 with garbage in the padding, which must be ignored.
            put(0, u64::from(self.version) | 0xDEAD_0000_0000_0000);
            put(8, 0x1234_5000);

            let num = self.num_banks.unwrap_or(self.banks.len() as u64);
            let ptr = self.banks_ptr.unwrap_or(BUF + BANKS_OFF);
            let mut sum = num.wrapping_add(ptr);
            for (i, &(base, size)) in self.banks.iter().enumerate() {
                put(BANKS_OFF + 16 * i as u64, base);
                put(BANKS_OFF + 16 * i as u64 + 8, size);
                sum = sum.wrapping_add(base).wrapping_add(size);
            }
            put(16, num);
            put(24, ptr);
            put(32, sum.wrapping_neg().wrapping_add(self.dram_sum_delta));

            let n = self.consoles.len() as u64;
            let ptr = if n == 0 { 0 } else { BUF + CONS_OFF };
            let mut sum = n.wrapping_add(ptr);
            for (i, c) in self.consoles.iter().enumerate() {
                let name = u64::from_le_bytes(c.name);
                let w = [c.base, c.map_pages, name, c.clk_in_hz, c.baud_rate, c.flags];
                for (j, &x) in w.iter().enumerate() {
                    put(CONS_OFF + 48 * i as u64 + 8 * j as u64, x);
                    if !(self.legacy_console_sum && (j == 2 || j == 5)) {
                        sum = sum.wrapping_add(x);
                    }
                }
            }
            put(40, n);
            put(48, ptr);
            put(56, sum.wrapping_neg().wrapping_add(self.console_sum_delta));
            put(64, self.tail);
            b
        }

        fn parse(&self) -> Result<Manifest, ManifestError> {
            let b = self.bytes();
            parse(slice_reader(BUF, &b), BUF)
        }
    }

    #[test]
    fn valid_manifest() {
        let m = Fixture::valid().parse().unwrap();
        assert_eq!(m.version, Version { major: 0, minor: 3 });
        assert_eq!(m.plat_data, 0x1234_5000);
        assert_eq!(
            m.dram.as_slice(),
            &[
                DramBank {
                    base: 0x4000_0000,
                    size: 0x4000_0000
                },
                DramBank {
                    base: 0x8_8000_0000,
                    size: 0x8000_0000
                },
            ]
        );
        assert_eq!(m.dram.len(), 2);
        assert_eq!(m.dram.total_size(), 0xC000_0000);
        assert_eq!(m.dram.as_slice()[1].end(), 0x9_0000_0000);
        let c = m.console.unwrap();
        assert_eq!(c, PL011);
        assert_eq!(c.name(), b"pl011");
        assert_eq!(m.console_checksum, Some(ConsoleChecksum::Full));
    }

    #[test]
    fn legacy_console_checksum_accepted() {
        let f = Fixture {
            legacy_console_sum: true,
            ..Fixture::valid()
        };
        let m = f.parse().unwrap();
        assert_eq!(m.console, Some(PL011));
        assert_eq!(m.console_checksum, Some(ConsoleChecksum::Legacy));

        // The legacy rule leaves `flags` out too (rel0 sums only the four numeric fields).
        static FLAGGED: [Console; 1] = [Console {
            flags: 0x5,
            ..PL011
        }];
        let f = Fixture {
            legacy_console_sum: true,
            consoles: &FLAGGED,
            ..Fixture::valid()
        };
        assert_eq!(
            f.parse().unwrap().console_checksum,
            Some(ConsoleChecksum::Legacy)
        );
        let f = Fixture {
            consoles: &FLAGGED,
            ..Fixture::valid()
        };
        assert_eq!(
            f.parse().unwrap().console_checksum,
            Some(ConsoleChecksum::Full)
        );
    }

    #[test]
    fn newer_minor_with_tail_accepted() {
        let f = Fixture {
            version: 0x5,
            tail: 0xFFFF_FFFF,
            ..Fixture::valid()
        };
        assert_eq!(f.parse().unwrap().version, Version { major: 0, minor: 5 });
    }

    #[test]
    fn no_console() {
        let f = Fixture {
            consoles: &[],
            ..Fixture::valid()
        };
        let m = f.parse().unwrap();
        assert_eq!(m.console, None);
        assert_eq!(m.console_checksum, None);
    }

    #[test]
    fn bad_versions() {
        for v in [0x2u32, 0x0001_0003, 0x8000_0003, 0] {
            let e = Fixture {
                version: v,
                ..Fixture::valid()
            }
            .parse()
            .unwrap_err();
            assert_eq!(e, ManifestError::Version(v));
            assert_eq!(e.code(), -6);
        }
    }

    #[test]
    fn dram_checksum_error() {
        let e = Fixture {
            dram_sum_delta: 1,
            ..Fixture::valid()
        }
        .parse()
        .unwrap_err();
        assert_eq!(e, ManifestError::DramChecksum);
        assert_eq!(e.code(), -7);
    }

    #[test]
    fn console_checksum_error() {
        for legacy in [false, true] {
            let f = Fixture {
                console_sum_delta: 1,
                legacy_console_sum: legacy,
                ..Fixture::valid()
            };
            assert_eq!(f.parse().unwrap_err(), ManifestError::ConsoleChecksum);
        }
        // Empty console list: the checksum still covers count + pointer + checksum.
        let f = Fixture {
            consoles: &[],
            console_sum_delta: 8,
            ..Fixture::valid()
        };
        assert_eq!(f.parse().unwrap_err(), ManifestError::ConsoleChecksum);
    }

    #[test]
    fn dram_count_errors() {
        let f = Fixture {
            banks: &[],
            ..Fixture::valid()
        };
        assert_eq!(f.parse().unwrap_err(), ManifestError::DramCount(0));
        let f = Fixture {
            num_banks: Some(17),
            ..Fixture::valid()
        };
        assert_eq!(f.parse().unwrap_err(), ManifestError::DramCount(17));
        let f = Fixture {
            num_banks: Some(u64::MAX),
            ..Fixture::valid()
        };
        assert_eq!(f.parse().unwrap_err(), ManifestError::DramCount(u64::MAX));
    }

    #[test]
    fn sixteen_banks_accepted() {
        static BANKS: [(u64, u64); 16] = {
            let mut b = [(0, 0); 16];
            let mut i = 0;
            while i < 16 {
                b[i] = (0x1000_0000 * (i as u64 + 1), 0x1000);
                i += 1;
            }
            b
        };
        let m = Fixture {
            banks: &BANKS,
            ..Fixture::valid()
        }
        .parse()
        .unwrap();
        assert_eq!(m.dram.len(), 16);
        assert_eq!(
            m.dram.as_slice()[15],
            DramBank {
                base: 0x1_0000_0000,
                size: 0x1000
            }
        );
    }

    #[test]
    fn bank_errors() {
        let cases: [(&'static [(u64, u64)], ManifestError); 7] = [
            (
                &[(0x4000_0800, 0x1000)],
                ManifestError::DramBank { index: 0 },
            ),
            (
                &[(0x4000_0000, 0x1000), (0x5000_0000, 0x1800)],
                ManifestError::DramBank { index: 1 },
            ),
            (&[(0x4000_0000, 0)], ManifestError::DramBank { index: 0 }),
            (&[(0, 0x1000)], ManifestError::DramBank { index: 0 }),
            (
                &[(0xFFFF_FFFF_FFFF_F000, 0x1000)],
                ManifestError::DramBank { index: 0 },
            ),
            (
                &[(0x8000_0000, 0x1000), (0x4000_0000, 0x1000)],
                ManifestError::DramOrder { index: 1 },
            ),
            (
                &[(0x4000_0000, 0x2000), (0x4000_1000, 0x1000)],
                ManifestError::DramOrder { index: 1 },
            ),
        ];
        for (banks, want) in cases {
            let got = Fixture {
                banks,
                ..Fixture::valid()
            }
            .parse();
            assert_eq!(got, Err(want), "banks {banks:x?}");
        }
        // Adjacent banks are fine.
        let f = Fixture {
            banks: &[(0x4000_0000, 0x1000), (0x4000_1000, 0x1000)],
            ..Fixture::valid()
        };
        assert_eq!(f.parse().unwrap().dram.len(), 2);
    }

    #[test]
    fn bad_pointers() {
        let f = Fixture {
            banks_ptr: Some(0),
            ..Fixture::valid()
        };
        assert_eq!(f.parse().unwrap_err(), ManifestError::BadPointer { pa: 0 });
        let f = Fixture {
            banks_ptr: Some(BUF + 0x104),
            ..Fixture::valid()
        };
        assert_eq!(
            f.parse().unwrap_err(),
            ManifestError::BadPointer { pa: BUF + 0x104 }
        );
        let f = Fixture {
            banks_ptr: Some(u64::MAX - 15),
            ..Fixture::valid()
        };
        assert_eq!(
            f.parse().unwrap_err(),
            ManifestError::BadPointer { pa: u64::MAX - 15 }
        );
        // Outside the buffer the reader serves.
        let f = Fixture {
            banks_ptr: Some(BUF + 0x2000),
            ..Fixture::valid()
        };
        assert_eq!(
            f.parse().unwrap_err(),
            ManifestError::Unreadable { pa: BUF + 0x2000 }
        );
        let b = Fixture::valid().bytes();
        assert_eq!(
            parse(slice_reader(BUF, &b), BUF + 4),
            Err(ManifestError::BadPointer { pa: BUF + 4 })
        );
        assert_eq!(
            parse(|_| None, BUF),
            Err(ManifestError::Unreadable { pa: BUF })
        );
    }

    #[test]
    fn too_many_consoles() {
        let mut b = Fixture::valid().bytes();
        b[40..48].copy_from_slice(&9u64.to_le_bytes());
        assert_eq!(
            parse(slice_reader(BUF, &b), BUF),
            Err(ManifestError::ConsoleCount(9))
        );
    }

    #[test]
    fn slice_reader_bounds() {
        let bytes = [1u8, 0, 0, 0, 0, 0, 0, 0, 2];
        let r = slice_reader(0x1000, &bytes);
        assert_eq!(r(0x1000), Some(1));
        assert_eq!(r(0x1001), Some(0x0200_0000_0000_0000));
        assert_eq!(r(0x1002), None);
        assert_eq!(r(0xFF8), None);
        assert_eq!(r(u64::MAX), None);
    }
}
