//! Just enough of a flattened device tree reader to count the CPUs: the nodes `/cpus/cpu@N`.

const MAGIC: u32 = 0xd00d_feed;
const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;
/// A DTB larger than this is taken as corrupt.
const MAX_SIZE: u32 = 1 << 20;

/// A device tree blob in Normal-world memory, by physical address.
struct Blob {
    base: u64,
    size: u32,
}

impl Blob {
    /// The big-endian word at `offset` (4-byte aligned), or None past the end.
    fn u32(&self, offset: u32) -> Option<u32> {
        if !offset.is_multiple_of(4) || offset.checked_add(4)? > self.size {
            return None;
        }
        // SAFETY: an aligned word inside the blob, which the boot contract puts in NS DRAM and
        // nobody writes while we read it (MMU off: a physical address).
        Some(u32::from_be(unsafe {
            core::ptr::read_volatile((self.base + u64::from(offset)) as *const u32)
        }))
    }

    /// The byte at `offset`, or None past the end.
    fn byte(&self, offset: u32) -> Option<u8> {
        if offset >= self.size {
            return None;
        }
        // SAFETY: as in `u32`; a byte access needs no alignment.
        Some(unsafe { core::ptr::read_volatile((self.base + u64::from(offset)) as *const u8) })
    }

    /// Whether the NUL-terminated name at `offset` starts with `prefix` (`exact`: is `prefix`);
    /// and the offset after the name, padded to 4 bytes.
    fn name(&self, offset: u32, prefix: &[u8], exact: bool) -> Option<(bool, u32)> {
        let mut len = 0;
        let mut matches = true;
        loop {
            let b = self.byte(offset + len)?;
            if b == 0 {
                break;
            }
            if (len as usize) < prefix.len() {
                matches &= prefix[len as usize] == b;
            } else if exact {
                matches = false;
            }
            len += 1;
        }
        matches &= len as usize >= prefix.len();
        Some((matches, (offset + len + 1).next_multiple_of(4)))
    }
}

/// The number of `/cpus/cpu@*` nodes of the DTB at `dtb`, or None if it is not a valid DTB.
pub fn count_cpus(dtb: u64) -> Option<usize> {
    if dtb == 0 || !dtb.is_multiple_of(8) {
        return None;
    }
    let header = Blob {
        base: dtb,
        size: 40,
    };
    if header.u32(0)? != MAGIC {
        return None;
    }
    let size = header.u32(4)?;
    if size > MAX_SIZE {
        return None;
    }
    let blob = Blob { base: dtb, size };
    let mut offset = blob.u32(8)?; // off_dt_struct
    let mut depth = 0u32;
    let mut in_cpus = false;
    let mut cpus = 0;
    loop {
        let token = blob.u32(offset)?;
        offset += 4;
        match token {
            BEGIN_NODE => {
                depth += 1;
                let (is_cpu, next) = blob.name(offset, b"cpu@", false)?;
                let (is_cpus, _) = blob.name(offset, b"cpus", true)?;
                if depth == 2 {
                    in_cpus = is_cpus;
                } else if depth == 3 && in_cpus && is_cpu {
                    cpus += 1;
                }
                offset = next;
            }
            END_NODE => {
                depth = depth.checked_sub(1)?;
                if depth < 2 {
                    in_cpus = false;
                }
            }
            PROP => {
                let len = blob.u32(offset)?;
                offset = offset.checked_add(8)?.checked_add(len)?.next_multiple_of(4);
            }
            NOP => {}
            END => return Some(cpus),
            _ => return None,
        }
    }
}
