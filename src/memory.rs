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
        let left = len.checked_sub(done).filter(|&left| left != 0)?;
        let at = addr.wrapping_add(done as u64);
        // Neither fails: `at % GRANULE_SIZE` is below GRANULE_SIZE, and `done + n <= len`.
        let to_end = GRANULE_SIZE.checked_sub(at % GRANULE_SIZE)?;
        let n = usize::try_from(to_end).map_or(left, |to_end| to_end.min(left));
        let piece = (at, done, n);
        done = done.checked_add(n)?;
        Some(piece)
    })
}

/// Copies bytes starting at byte `offset` of `words` into `buf`; bytes past the end of `words`
/// (a caller's bug) are left as they are.
pub fn read_bytes(words: &[MemoryWord], offset: usize, buf: &mut [u8]) {
    if let Some(src) = whole_words(words, offset, buf.len()) {
        for (chunk, word) in buf.chunks_exact_mut(8).zip(src) {
            // Relaxed, as below.
            chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
        }
        return;
    }
    let (mut out, mut skip) = (buf, offset % 8);
    for word in words.iter().skip(offset / 8) {
        if out.is_empty() {
            break;
        }
        // Relaxed: ordering comes from whoever owns the memory (a lock, a claim, the GPT).
        let word = word.load(Ordering::Relaxed).to_le_bytes();
        let from = word.get(skip..).unwrap_or_default();
        let n = from.len().min(out.len());
        let (part, rest) = core::mem::take(&mut out).split_at_mut(n);
        if let Some(whole) = part.first_chunk_mut::<8>() {
            // A whole word: a fixed-size copy the compiler makes one store, not a memcpy call.
            *whole = word;
        } else {
            part.iter_mut().zip(from).for_each(|(b, w)| *b = *w);
        }
        (out, skip) = (rest, 0);
    }
}

/// Copies `bytes` into `words` starting at byte `offset`; a partial word keeps its other bytes.
/// Bytes past the end of `words` (a caller's bug) are not written.
pub fn write_bytes(words: &[MemoryWord], offset: usize, bytes: &[u8]) {
    if let Some(dst) = whole_words(words, offset, bytes.len()) {
        for (word, chunk) in dst.iter().zip(bytes.chunks_exact(8)) {
            let value = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            // Relaxed, as in `read_bytes`.
            word.store(value, Ordering::Relaxed);
        }
        return;
    }
    let (mut src, mut skip) = (bytes, offset % 8);
    for word in words.iter().skip(offset / 8) {
        if src.is_empty() {
            break;
        }
        let (part, rest) = src.split_at(8usize.saturating_sub(skip).min(src.len()));
        // Relaxed, as in `read_bytes`.
        if let Some(whole) = part.first_chunk::<8>() {
            word.store(u64::from_le_bytes(*whole), Ordering::Relaxed);
        } else {
            let _ = word.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
                let mut new = w.to_le_bytes();
                let to = new.iter_mut().skip(skip);
                to.zip(part).for_each(|(b, p)| *b = *p);
                Some(u64::from_le_bytes(new))
            });
        }
        (src, skip) = (rest, 0);
    }
}

/// The words `[offset, offset + len)` covers when both are multiples of 8 (the common case:
/// whole registers and structures), for a copy without per-byte work.
fn whole_words(words: &[MemoryWord], offset: usize, len: usize) -> Option<&[MemoryWord]> {
    if !offset.is_multiple_of(8) || !len.is_multiple_of(8) {
        return None;
    }
    words.get(offset / 8..offset.checked_add(len)? / 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every offset and length against a plain byte array, both directions, with bytes past
    /// the end of the words left alone.
    #[test]
    fn copies_match_a_byte_model() {
        let pattern = |i: usize| (i as u8).wrapping_mul(7).wrapping_add(1);
        for offset in 0..40 {
            for len in 0..40 {
                let words: [MemoryWord; 4] = core::array::from_fn(|_| MemoryWord::new(0));
                let mut model = [0u8; 32];
                let data: std::vec::Vec<u8> = (0..len).map(pattern).collect();
                write_bytes(&words, offset, &data);
                for (i, b) in data.iter().enumerate() {
                    if let Some(m) = model.get_mut(offset + i) {
                        *m = *b;
                    }
                }
                let mut all = [0u8; 32];
                read_bytes(&words, 0, &mut all);
                assert_eq!(all, model, "write at {offset}, {len} bytes");
                let mut buf = std::vec![0xAAu8; len];
                read_bytes(&words, offset, &mut buf);
                for (i, b) in buf.iter().enumerate() {
                    assert_eq!(*b, *model.get(offset + i).unwrap_or(&0xAA), "read at {offset}");
                }
            }
        }
    }

    #[test]
    fn pieces_stay_within_granules_and_wrap() {
        let pieces: std::vec::Vec<_> = granule_pieces(0x1ff8, 0x1010).collect();
        assert_eq!(pieces, [(0x1ff8, 0, 8), (0x2000, 8, 0x1000), (0x3000, 0x1008, 8)]);
        let top: std::vec::Vec<_> = granule_pieces(u64::MAX - 3, 8).collect();
        assert_eq!(top, [(u64::MAX - 3, 0, 4), (0, 4, 4)]);
        assert_eq!(granule_pieces(0x1000, 0).count(), 0);
    }
}
