//! Where the token is built: byte stores over plain slices or over granules, and a CBOR
//! writer into them that fails (never panics, never allocates) when the store is full.

use crate::memory::{granule_pieces, read_bytes, write_bytes};
use crate::platform::GranuleMemory;

/// The store has no room (or no bytes) at the requested offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfSpace;

/// Random access to a fixed-size run of bytes: a slice on the host, or the REC's token
/// granules ([`GranuleBytes`]) in the RMM.
pub trait ByteStore {
    /// Size in bytes.
    fn capacity(&self) -> usize;
    /// Writes `bytes` at `offset`; [`OutOfSpace`], with nothing written, past the end.
    fn write_at(&mut self, offset: usize, bytes: &[u8]) -> Result<(), OutOfSpace>;
    /// Fills `buf` from `offset`; [`OutOfSpace`], with `buf` unchanged, past the end.
    fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<(), OutOfSpace>;
}

fn span(offset: usize, len: usize, capacity: usize) -> Result<core::ops::Range<usize>, OutOfSpace> {
    let end = offset.checked_add(len).ok_or(OutOfSpace)?;
    if end > capacity {
        return Err(OutOfSpace);
    }
    Ok(offset..end)
}

impl ByteStore for [u8] {
    fn capacity(&self) -> usize {
        self.len()
    }

    fn write_at(&mut self, offset: usize, bytes: &[u8]) -> Result<(), OutOfSpace> {
        let range = span(offset, bytes.len(), self.len())?;
        self.get_mut(range).ok_or(OutOfSpace)?.copy_from_slice(bytes);
        Ok(())
    }

    fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<(), OutOfSpace> {
        let range = span(offset, buf.len(), self.len())?;
        buf.copy_from_slice(self.get(range).ok_or(OutOfSpace)?);
        Ok(())
    }
}

/// Granules seen as one run of bytes, granule `i` holding bytes `4096 i ..`; byte `j` of a
/// granule is byte `j % 8` (little-endian) of word `j / 8`.
///
/// For the REC's auxiliary granules: the REC is owned by the CPU running it (the REC's
/// ownership protocol, [`crate::rec`], orders one owner's accesses before the next's), so
/// every access here is Relaxed.
pub struct GranuleBytes<'a> {
    granules: &'a [&'a GranuleMemory],
}

impl<'a> GranuleBytes<'a> {
    /// The bytes of `granules`, in order.
    pub fn new(granules: &'a [&'a GranuleMemory]) -> Self {
        Self { granules }
    }

    /// The pieces of `[offset, offset + len)` within one granule each: `(granule, offset in
    /// it, length)`, once [`span`] has checked the range.
    fn pieces(
        &self,
        offset: usize,
        len: usize,
    ) -> impl Iterator<Item = (&'a GranuleMemory, usize, usize)> + use<'a> {
        let granules = self.granules;
        granule_pieces(offset as u64, len).filter_map(move |(at, _, n)| {
            let granule = granules.get(usize::try_from(at / crate::GRANULE_SIZE).ok()?)?;
            Some((*granule, (at % crate::GRANULE_SIZE) as usize, n))
        })
    }
}

// Relaxed throughout (`memory::read_bytes`, `write_bytes`): the REC owner is the only accessor
// (type doc).
impl ByteStore for GranuleBytes<'_> {
    fn capacity(&self) -> usize {
        // At most 16 aux granules: no saturation.
        self.granules.len().saturating_mul(crate::GRANULE_SIZE as usize)
    }

    fn write_at(&mut self, offset: usize, bytes: &[u8]) -> Result<(), OutOfSpace> {
        span(offset, bytes.len(), self.capacity())?;
        let mut rest = bytes;
        for (granule, at, n) in self.pieces(offset, bytes.len()) {
            let (part, tail) = rest.split_at(n.min(rest.len()));
            write_bytes(granule, at, part);
            rest = tail;
        }
        Ok(())
    }

    fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<(), OutOfSpace> {
        let len = buf.len();
        span(offset, len, self.capacity())?;
        let mut rest = buf;
        for (granule, at, n) in self.pieces(offset, len) {
            let n = n.min(rest.len());
            let (part, tail) = core::mem::take(&mut rest).split_at_mut(n);
            read_bytes(granule, at, part);
            rest = tail;
        }
        Ok(())
    }
}

/// A [`ciborium_io::Write`] that appends to a [`ByteStore`] at `*pos`, advancing it.
///
/// Taken by value by the encoder (`Encoder::from(StoreWriter::new(store, &mut pos))`), so it
/// works whether or not ciborium-io's `std` blanket impls are on; `pos` outlives it.
pub struct StoreWriter<'a, S: ByteStore + ?Sized> {
    store: &'a mut S,
    pos: &'a mut usize,
}

impl<'a, S: ByteStore + ?Sized> StoreWriter<'a, S> {
    /// A writer appending at `*pos`.
    pub fn new(store: &'a mut S, pos: &'a mut usize) -> Self {
        Self { store, pos }
    }
}

impl<S: ByteStore + ?Sized> ciborium_io::Write for StoreWriter<'_, S> {
    type Error = OutOfSpace;

    fn write_all(&mut self, data: &[u8]) -> Result<(), OutOfSpace> {
        let end = self.pos.checked_add(data.len()).ok_or(OutOfSpace)?;
        self.store.write_at(*self.pos, data)?;
        *self.pos = end;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), OutOfSpace> {
        Ok(())
    }
}

/// A [`ciborium_io::Write`] that only counts, into `*len`: the size of an encoding before
/// writing it.
pub struct SizeCounter<'a>(pub &'a mut usize);

impl ciborium_io::Write for SizeCounter<'_> {
    type Error = OutOfSpace;

    fn write_all(&mut self, data: &[u8]) -> Result<(), OutOfSpace> {
        *self.0 = self.0.checked_add(data.len()).ok_or(OutOfSpace)?;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), OutOfSpace> {
        Ok(())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use ciborium_io::Write;
    use ciborium_ll::{Encoder, Header};

    #[test]
    fn writer_fills_exactly_then_refuses() {
        let mut buf = [0u8; 4];
        let mut pos = 1;
        let mut w = StoreWriter::new(&mut buf[..], &mut pos);
        assert_eq!(w.write_all(&[1, 2, 3]), Ok(()));
        assert_eq!(w.write_all(&[4]), Err(OutOfSpace));
        assert_eq!(pos, 4);
        assert_eq!(buf, [0, 1, 2, 3]);
    }

    #[test]
    fn cbor_into_too_small_buffer_is_an_error_not_a_panic() {
        let mut buf = [0u8; 8];
        let mut pos = 0;
        let mut enc = Encoder::from(StoreWriter::new(&mut buf[..], &mut pos));
        assert!(enc.push(Header::Map(Some(1))).is_ok());
        assert_eq!(enc.bytes(&[7u8; 64], None), Err(OutOfSpace));
        let mut pos = usize::MAX;
        let mut enc = Encoder::from(StoreWriter::new(&mut buf[..], &mut pos));
        assert_eq!(enc.push(Header::Tag(399)), Err(OutOfSpace));
        let mut len = usize::MAX;
        assert_eq!(SizeCounter(&mut len).write_all(&[1]), Err(OutOfSpace));
    }

    #[test]
    fn counter_matches_writer() {
        let mut counted = 0;
        let mut enc = Encoder::from(SizeCounter(&mut counted));
        enc.push(Header::Tag(399)).unwrap();
        enc.bytes(&[1u8; 300], None).unwrap();
        let mut buf = [0u8; 512];
        let mut pos = 0;
        let mut enc = Encoder::from(StoreWriter::new(&mut buf[..], &mut pos));
        enc.push(Header::Tag(399)).unwrap();
        enc.bytes(&[1u8; 300], None).unwrap();
        assert_eq!(pos, 3 + 3 + 300);
        assert_eq!(counted, pos);
        assert_eq!(&buf[..6], &[0xD9, 0x01, 0x8F, 0x59, 0x01, 0x2C]);
    }

    #[test]
    fn granule_bytes_round_trip_across_words_and_granules() {
        extern crate std;
        use crate::sync::MemoryWord;
        let a: std::boxed::Box<GranuleMemory> =
            std::boxed::Box::new(core::array::from_fn(|_| MemoryWord::new(0)));
        let b: std::boxed::Box<GranuleMemory> =
            std::boxed::Box::new(core::array::from_fn(|_| MemoryWord::new(0)));
        let granules = [&*a, &*b];
        let mut store = GranuleBytes::new(&granules);
        assert_eq!(store.capacity(), 8192);
        let data: std::vec::Vec<u8> = (0..100u8).collect();
        store.write_at(4090, &data).unwrap();
        let mut back = [0u8; 100];
        store.read_at(4090, &mut back).unwrap();
        assert_eq!(&back[..], &data[..]);
        assert_eq!(store.write_at(8190, &[1, 2, 3]), Err(OutOfSpace));
        assert_eq!(store.read_at(usize::MAX, &mut back), Err(OutOfSpace));
    }
}
