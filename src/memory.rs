//! Byte copies to and from memory held as 64-bit words (little-endian), one single-copy-atomic
//! access per word.

use crate::sync::{MemoryWord, Ordering};
use crate::GRANULE_SIZE;

/// Splits `[addr, addr + len)` into pieces that each stay within one granule:
/// `(address, offset into the buffer, length)`. Addresses wrap at the top of the address space;
/// callers that care check for it first.
pub fn granule_pieces(addr: u64, len: usize) -> impl Iterator<Item = (u64, usize, usize)> {
    let mut done = 0usize;
    core::iter::from_fn(move || {
        if done == len {
            return None;
        }
        let at = addr.wrapping_add(done as u64);
        let n = ((GRANULE_SIZE - at % GRANULE_SIZE) as usize).min(len - done);
        let piece = (at, done, n);
        done += n;
        Some(piece)
    })
}

/// Copies bytes starting at byte `offset` of `words` into `buf`.
pub fn read_bytes(words: &[MemoryWord], offset: usize, buf: &mut [u8]) {
    if let Some(src) = whole_words(words, offset, buf.len()) {
        for (chunk, word) in buf.chunks_exact_mut(8).zip(src) {
            // Relaxed, as below.
            chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
        }
        return;
    }
    let mut i = 0;
    while i < buf.len() {
        let at = offset + i;
        let first = at % 8;
        let n = (8 - first).min(buf.len() - i);
        // Relaxed: ordering comes from whoever owns the memory (a lock, a claim, the GPT).
        let word = words[at / 8].load(Ordering::Relaxed).to_le_bytes();
        if n == 8 {
            // A whole word: a fixed-size copy the compiler makes one store, not a memcpy call.
            buf[i..i + 8].copy_from_slice(&word);
        } else {
            buf[i..i + n].copy_from_slice(&word[first..first + n]);
        }
        i += n;
    }
}

/// Copies `bytes` into `words` starting at byte `offset`; a partial word keeps its other bytes.
pub fn write_bytes(words: &[MemoryWord], offset: usize, bytes: &[u8]) {
    if let Some(dst) = whole_words(words, offset, bytes.len()) {
        for (word, chunk) in dst.iter().zip(bytes.chunks_exact(8)) {
            let value = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            // Relaxed, as in `read_bytes`.
            word.store(value, Ordering::Relaxed);
        }
        return;
    }
    let mut i = 0;
    while i < bytes.len() {
        let at = offset + i;
        let (word, first) = (&words[at / 8], at % 8);
        let n = (8 - first).min(bytes.len() - i);
        // Relaxed, as in `read_bytes`.
        if n == 8 {
            let value = u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap_or_default());
            word.store(value, Ordering::Relaxed);
        } else {
            let mut new = [0u8; 8];
            new[first..first + n].copy_from_slice(&bytes[i..i + n]);
            let value = u64::from_le_bytes(new);
            let mask = ((1u64 << (8 * n)) - 1) << (8 * first);
            let _ = word.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
                Some(w & !mask | value)
            });
        }
        i += n;
    }
}

/// The words `[offset, offset + len)` covers when both are multiples of 8 (the common case:
/// whole registers and structures), for a copy without per-byte work.
fn whole_words(words: &[MemoryWord], offset: usize, len: usize) -> Option<&[MemoryWord]> {
    if !offset.is_multiple_of(8) || !len.is_multiple_of(8) {
        return None;
    }
    words.get(offset / 8..(offset + len) / 8)
}
