//! QEMU fw_cfg (MMIO interface at 0x09020000): the `opt/rmm/...` files `scripts/run` passes
//! to the EL3 firmware (`opt/rmm/ns-entry`, the Normal-world entry point) and to the test host
//! (`opt/rmm/test-host`, its mode). The caller maps the device (Device memory, or MMU off).
//!
//! Source: QEMU `docs/specs/fw_cfg.rst`: selector register at +8 (16-bit, big-endian), data
//! register at +0 (byte reads advance through the selected item), signature "QEMU" at key
//! 0x0000, file directory at key 0x0019 (BE u32 count, then 64-byte entries: BE u32 size,
//! BE u16 select, u16 reserved, 56-byte NUL-terminated name).

use crate::layout::qemu::FW_CFG_BASE;

const DATA: u64 = FW_CFG_BASE;
const SELECTOR: u64 = FW_CFG_BASE + 8;
const KEY_SIGNATURE: u16 = 0x0000;
const KEY_FILE_DIR: u16 = 0x0019;

fn select(key: u16) {
    // SAFETY: the fw_cfg selector register, mapped as Device memory (mmu.rs).
    unsafe { core::ptr::write_volatile(SELECTOR as *mut u16, key.to_be()) }
}

fn byte() -> u8 {
    // SAFETY: the fw_cfg data register, mapped as Device memory (mmu.rs).
    unsafe { core::ptr::read_volatile(DATA as *const u8) }
}

fn read<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    b.iter_mut().for_each(|x| *x = byte());
    b
}

/// Reads file `name` into `buf`; returns its length (truncated to `buf`), or `None` if there
/// is no fw_cfg device or no such file.
pub fn read_file(name: &[u8], buf: &mut [u8]) -> Option<usize> {
    select(KEY_SIGNATURE);
    if read::<4>() != *b"QEMU" {
        return None;
    }
    select(KEY_FILE_DIR);
    let count = u32::from_be_bytes(read::<4>());
    for _ in 0..count {
        let size = u32::from_be_bytes(read::<4>()) as usize;
        let key = u16::from_be_bytes(read::<2>());
        let _reserved = read::<2>();
        let fname = read::<56>();
        let len = fname.iter().position(|&c| c == 0).unwrap_or(56);
        if fname.get(..len) == Some(name) {
            select(key);
            let n = size.min(buf.len());
            buf.iter_mut().take(n).for_each(|x| *x = byte());
            return Some(n);
        }
    }
    None
}

/// Parses a hexadecimal number with an optional `0x`, ignoring surrounding whitespace and
/// NULs.
pub fn parse_hex(s: &[u8]) -> Option<u64> {
    let s = s.trim_ascii();
    let s = s.strip_suffix(b"\0").unwrap_or(s).trim_ascii();
    let digits = s
        .strip_prefix(b"0x")
        .or_else(|| s.strip_prefix(b"0X"))
        .unwrap_or(s);
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &c| {
        let d = (c as char).to_digit(16)?;
        Some((acc << 4) | u64::from(d))
    })
}

/// The words of a comma- or space-separated list (`a,b c`), ignoring empty ones and NULs.
pub fn words(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|&c| c == b',' || c.is_ascii_whitespace() || c == 0)
        .filter(|w| !w.is_empty())
}

/// The hexadecimal number in file `name`, if present and valid.
pub fn read_hex(name: &[u8]) -> Option<u64> {
    let mut buf = [0u8; 32];
    let n = read_file(name, &mut buf)?;
    parse_hex(buf.get(..n)?)
}

#[cfg(test)]
mod tests {
    use super::{parse_hex, words};

    #[test]
    fn parses_hex_with_or_without_prefix() {
        assert_eq!(parse_hex(b"0x60000000"), Some(0x6000_0000));
        assert_eq!(parse_hex(b" 6000abcd\0"), Some(0x6000_abcd));
        assert_eq!(parse_hex(b"0X1f\n"), Some(0x1f));
    }

    #[test]
    fn refuses_empty_overlong_and_non_hex() {
        assert_eq!(parse_hex(b""), None);
        assert_eq!(parse_hex(b"0x"), None);
        assert_eq!(parse_hex(b"0x10000000000000000"), None);
        assert_eq!(parse_hex(b"perf"), None);
    }

    #[test]
    fn splits_lists_on_commas_and_blanks() {
        assert!(words(b"a,bc  d,,\n\0").eq([&b"a"[..], b"bc", b"d"]));
        assert_eq!(words(b"").count(), 0);
    }
}
