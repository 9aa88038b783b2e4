//! Boot manifest 0.3 writer: the words EL3 (the QEMU test firmware) puts at the base of the
//! shared buffer, one DRAM bank and one console, laid out as [`crate::manifest`] parses them.
//!
//! Layout: the 64-byte `rmm_core_manifest` at the buffer's base, the bank array at +64, the
//! console array at +80. Checksums: the wrapping sum of the count, the array PA, the checksum
//! field and every 64-bit word of the array is 0; the console sum covers every word of the
//! entry, name and flags included ([`ConsoleChecksum::Full`], as TF-A v2.13+ computes it), or
//! only base, map_pages, clk_in_hz and baud_rate ([`ConsoleChecksum::Legacy`], as TF-A up to
//! v2.12 does). Source: TF-A `rmm-el3-comms-spec` (boot manifest 0.3).

use crate::manifest::{Console, ConsoleChecksum, DramBank};

/// Number of 64-bit words [`build_v03`] produces (128 bytes).
pub const WORDS: usize = 16;
/// Offset of the DRAM bank array in the buffer.
pub const BANKS_OFFSET: u64 = 64;
/// Offset of the console array in the buffer.
pub const CONSOLES_OFFSET: u64 = 80;
/// The manifest version written: 0.3.
pub const VERSION_0_3: u64 = 0x3;

/// The manifest for a shared buffer at `buf_pa` describing `bank` and `console`, with the
/// console checksum computed by `rule`, as little-endian words to store from `buf_pa` on.
pub fn build_v03(
    buf_pa: u64,
    bank: DramBank,
    console: &Console,
    rule: ConsoleChecksum,
) -> [u64; WORDS] {
    let banks = buf_pa.wrapping_add(BANKS_OFFSET);
    let consoles = buf_pa.wrapping_add(CONSOLES_OFFSET);
    let console_words = [
        console.base,
        console.map_pages,
        u64::from_le_bytes(console.name),
        console.clk_in_hz,
        console.baud_rate,
        console.flags,
    ];
    let dram_sum = 1u64
        .wrapping_add(banks)
        .wrapping_add(bank.base)
        .wrapping_add(bank.size);
    let summed = match rule {
        ConsoleChecksum::Full => console_words,
        ConsoleChecksum::Legacy => {
            let [base, pages, _, clk, baud, _] = console_words;
            [base, pages, 0, clk, baud, 0]
        }
    };
    let console_sum = summed
        .iter()
        .fold(1u64.wrapping_add(consoles), |s, &w| s.wrapping_add(w));
    let [c0, c1, c2, c3, c4, c5] = console_words;
    [
        VERSION_0_3,
        0, // plat_data
        1,
        banks,
        dram_sum.wrapping_neg(),
        1,
        consoles,
        console_sum.wrapping_neg(),
        bank.base,
        bank.size,
        c0,
        c1,
        c2,
        c3,
        c4,
        c5,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::el3::Version;
    use crate::manifest::{parse, slice_reader};

    #[test]
    fn round_trips_through_the_parser() {
        let buf = 0x418F_F000;
        let bank = DramBank {
            base: 0x4000_0000,
            size: 0x4000_0000,
        };
        let console = Console {
            base: 0x0900_0000,
            map_pages: 1,
            name: *b"pl011\0\0\0",
            clk_in_hz: 1,
            baud_rate: 115_200,
            flags: 0,
        };
        for rule in [ConsoleChecksum::Full, ConsoleChecksum::Legacy] {
            let words = build_v03(buf, bank, &console, rule);
            let mut bytes = [0u8; WORDS * 8];
            for (chunk, w) in bytes.chunks_exact_mut(8).zip(words) {
                chunk.copy_from_slice(&w.to_le_bytes());
            }
            let m = parse(slice_reader(buf, &bytes), buf).unwrap();
            assert_eq!(m.version, Version { major: 0, minor: 3 });
            assert_eq!(m.dram.as_slice(), &[bank]);
            assert_eq!(m.console, Some(console));
            assert_eq!(m.console_checksum, Some(rule));
        }
    }
}
