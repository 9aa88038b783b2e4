//! The DRAM size from the device tree QEMU places at the start of RAM for `-bios` boots.
//!
//! Source: Devicetree Specification v0.4, chapter 5 (flattened format: BE header with magic
//! 0xd00dfeed, structure block tokens BEGIN_NODE 1, END_NODE 2, PROP 3, NOP 4, END 9).
//! QEMU virt's root node has #address-cells = #size-cells = 2, and one `memory@...` node.

const MAGIC: u32 = 0xd00d_feed;
const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;

fn be32(at: u64) -> u32 {
    // SAFETY: callers stay within the blob whose header they validated; the DTB is NS DRAM,
    // mapped Normal in the NS PAS by mmu.rs and NS in the GPT.
    u32::from_be(unsafe { core::ptr::read_volatile(at as *const u32) })
}

fn byte(at: u64) -> u8 {
    // SAFETY: as in `be32`.
    unsafe { core::ptr::read_volatile(at as *const u8) }
}

fn align4(x: u64) -> u64 {
    (x + 3) & !3
}

/// `(base, size)` of the first `memory` node's first `reg` entry, if the blob at `dtb` is a
/// valid device tree that has one.
pub fn dram(dtb: u64) -> Option<(u64, u64)> {
    if be32(dtb) != MAGIC {
        return None;
    }
    let total = u64::from(be32(dtb + 4));
    let structs = dtb + u64::from(be32(dtb + 8));
    let strings = dtb + u64::from(be32(dtb + 12));
    let end = dtb + total;
    let mut p = structs;
    let mut depth = 0u32;
    let mut in_memory = false;
    while p + 4 <= end {
        let token = be32(p);
        p += 4;
        match token {
            BEGIN_NODE => {
                let start = p;
                while p < end && byte(p) != 0 {
                    p += 1;
                }
                depth += 1;
                let name_is = |s: &[u8]| {
                    s.iter()
                        .enumerate()
                        .all(|(i, &c)| start + (i as u64) < p && byte(start + i as u64) == c)
                };
                in_memory = depth == 2 && name_is(b"memory");
                p = align4(p + 1);
            }
            END_NODE => {
                depth = depth.checked_sub(1)?;
                in_memory = false;
            }
            PROP => {
                let len = u64::from(be32(p));
                let nameoff = u64::from(be32(p + 4));
                let data = p + 8;
                p = align4(data + len);
                let name = strings + nameoff;
                let is_reg = byte(name) == b'r'
                    && byte(name + 1) == b'e'
                    && byte(name + 2) == b'g'
                    && byte(name + 3) == 0;
                if in_memory && is_reg && len >= 16 {
                    let base = (u64::from(be32(data)) << 32) | u64::from(be32(data + 4));
                    let size = (u64::from(be32(data + 8)) << 32) | u64::from(be32(data + 12));
                    return Some((base, size));
                }
            }
            NOP => {}
            _ => return None,
        }
    }
    None
}
