//! Flattened device trees: the reader the EL3 firmware and the test host use to learn DRAM and
//! the CPUs from the tree QEMU `virt` places at the start of RAM, and a writer for the trees
//! the project's own Normal-world software builds.
//!
//! Source: Devicetree Specification v0.4, chapter 5: a big-endian header (magic 0xd00dfeed,
//! totalsize, off_dt_struct, off_dt_strings, off_mem_rsvmap, version 17, ...), the structure
//! block of tokens BEGIN_NODE 1 (name, NUL, padding), END_NODE 2, PROP 3 (len, nameoff, value,
//! padding), NOP 4, END 9, and the strings block of property names. Every read is bounds
//! checked: a corrupt tree gives `None`, never a read outside the blob.

const MAGIC: u32 = 0xd00d_feed;
const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;
/// Header size (version 17).
const HEADER: usize = 40;
/// A tree larger than this is taken as corrupt.
pub const MAX_SIZE: usize = 1 << 20;

/// A validated device tree blob.
#[derive(Clone, Copy)]
pub struct Fdt<'a> {
    blob: &'a [u8],
    structs: usize,
    strings: usize,
}

/// One step of a walk through the structure block ([`Fdt::tokens`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token<'a> {
    /// BEGIN_NODE: the node's name (with its unit address; `""` for the root).
    Begin(&'a [u8]),
    /// END_NODE.
    End,
    /// PROP: the property's name (from the strings block) and value.
    Prop { name: &'a [u8], value: &'a [u8] },
}

impl<'a> Fdt<'a> {
    /// The tree in `blob`, if its header is valid and its blocks lie inside `blob`.
    pub fn new(blob: &'a [u8]) -> Option<Self> {
        let word = |at: usize| be32(blob, at);
        if word(0)? != MAGIC {
            return None;
        }
        let total = word(4)? as usize;
        let blob = blob.get(..total).filter(|_| total <= MAX_SIZE)?;
        let structs = word(8)? as usize;
        let strings = word(12)? as usize;
        if structs < HEADER || structs >= total || strings > total {
            return None;
        }
        Some(Self {
            blob,
            structs,
            strings,
        })
    }

    /// The tree at physical address `pa`, if there is a valid one there.
    ///
    /// # Safety
    /// `pa` must be 8-byte aligned, and the [`MAX_SIZE`] bytes from it readable memory that
    /// nothing writes while the returned tree is in use (NS DRAM read with the MMU off, or
    /// identity-mapped).
    pub unsafe fn at(pa: u64) -> Option<Fdt<'static>> {
        if pa == 0 || !pa.is_multiple_of(8) {
            return None;
        }
        // SAFETY: the caller's contract covers the header; the size is checked before the
        // whole blob is viewed.
        let header = unsafe { core::slice::from_raw_parts(pa as *const u8, HEADER) };
        if be32(header, 0)? != MAGIC {
            return None;
        }
        let total = (be32(header, 4)? as usize).min(MAX_SIZE);
        // SAFETY: as above, `total` <= MAX_SIZE bytes from `pa`.
        Fdt::new(unsafe { core::slice::from_raw_parts(pa as *const u8, total) })
    }

    /// The blob's size in bytes.
    pub fn size(&self) -> usize {
        self.blob.len()
    }

    /// `(base, size)` of the first `reg` entry of the first `/memory*` node (root
    /// `#address-cells` and `#size-cells` of 2, as QEMU `virt` has).
    pub fn memory(&self) -> Option<(u64, u64)> {
        let mut found = None;
        self.walk(|path, token| {
            if let (
                2,
                Some(b"memory"),
                Token::Prop {
                    name: b"reg",
                    value,
                },
            ) = (path.depth, path.node_prefix(), token)
            {
                found = Some((be64(value, 0)?, be64(value, 8)?));
                return None;
            }
            Some(())
        });
        found
    }

    /// The MPIDRs (`reg` of each `/cpus/cpu@*` node, one or two cells) in tree order: fills
    /// `out` and returns how many CPUs the tree lists (which may exceed `out.len()`), or
    /// `None` if the tree is corrupt.
    pub fn cpus(&self, out: &mut [u64]) -> Option<usize> {
        let mut count = 0;
        let complete = self.walk(|path, token| {
            match (path.depth, token) {
                (3, Token::Begin(name)) if path.in_cpus && name.starts_with(b"cpu@") => {
                    count += 1;
                }
                (
                    3,
                    Token::Prop {
                        name: b"reg",
                        value,
                    },
                ) if path.in_cpu() => {
                    let mpidr = match value.len() {
                        4 => u64::from(be32(value, 0)?),
                        _ => be64(value, 0)?,
                    };
                    if let Some(slot) = out.get_mut(count - 1) {
                        *slot = mpidr;
                    }
                }
                _ => {}
            }
            Some(())
        });
        complete.then_some(count)
    }

    /// Calls `visit` with the depth (1 = the root, its properties and its END_NODE) and every
    /// token in order until it returns `None`; returns whether the structure block was well
    /// formed up to END (or to where `visit` stopped).
    pub fn tokens(&self, mut visit: impl FnMut(u32, Token<'a>) -> Option<()>) -> bool {
        self.walk(|path, token| match token {
            Token::End => visit(path.depth + 1, token),
            _ => visit(path.depth, token),
        })
    }

    /// The value of property `name` of the node at `path` (`"/"`, `"/chosen"`,
    /// `"/cpus/cpu@0"`: full names, unit address included), if the tree has both.
    pub fn property(&self, path: &str, name: &str) -> Option<&'a [u8]> {
        let path = path.as_bytes().strip_prefix(b"/")?;
        // The path's components; the root is depth 1, its children depth 2, ...
        let wanted = path.split(|&c| c == b'/').filter(|c| !c.is_empty());
        let depth = wanted.clone().count() as u32 + 1;
        // How deep the current node's ancestry matches `path`.
        let mut matched = 0u32;
        let mut found = None;
        self.tokens(|d, token| {
            match token {
                Token::Begin(node) => {
                    let matches = d == 1 || wanted.clone().nth(d as usize - 2) == Some(node);
                    if matched == d - 1 && matches && d <= depth {
                        matched = d;
                    }
                }
                Token::End => matched = matched.min(d - 1),
                Token::Prop { name: n, value } => {
                    if d == depth && matched == depth && n == name.as_bytes() {
                        found = Some(value);
                        return None;
                    }
                }
            }
            Some(())
        });
        found
    }

    /// Calls `visit` for every token in order until it returns `None`; returns whether the
    /// whole structure block was well formed up to END (or to where `visit` stopped).
    fn walk(&self, mut visit: impl FnMut(&Path<'a>, Token<'a>) -> Option<()>) -> bool {
        let mut at = self.structs;
        let mut path = Path::default();
        loop {
            let Some(token) = be32(self.blob, at) else {
                return false;
            };
            at += 4;
            let step = match token {
                BEGIN_NODE => {
                    let Some(name) = self.cstr(at) else {
                        return false;
                    };
                    at = (at + name.len() + 1).next_multiple_of(4);
                    path.begin(name);
                    Token::Begin(name)
                }
                END_NODE => {
                    if !path.end() {
                        return false;
                    }
                    Token::End
                }
                PROP => {
                    let (Some(len), Some(nameoff)) = (be32(self.blob, at), be32(self.blob, at + 4))
                    else {
                        return false;
                    };
                    let start = at + 8;
                    let Some(value) = self.blob.get(start..start + len as usize) else {
                        return false;
                    };
                    let Some(name) = self
                        .strings
                        .checked_add(nameoff as usize)
                        .and_then(|o| self.cstr(o))
                    else {
                        return false;
                    };
                    at = (start + len as usize).next_multiple_of(4);
                    Token::Prop { name, value }
                }
                NOP => continue,
                END => return path.depth == 0,
                _ => return false,
            };
            if visit(&path, step).is_none() {
                return true;
            }
        }
    }

    /// The NUL-terminated string at `at`, without its NUL.
    fn cstr(&self, at: usize) -> Option<&'a [u8]> {
        let rest = self.blob.get(at..)?;
        let len = rest.iter().position(|&c| c == 0)?;
        rest.get(..len)
    }
}

/// Where a walk is: the depth (1 = root), whether it is inside `/cpus`, and the current node's
/// name up to its `@`.
#[derive(Default)]
struct Path<'a> {
    depth: u32,
    in_cpus: bool,
    node: &'a [u8],
}

impl<'a> Path<'a> {
    fn begin(&mut self, name: &'a [u8]) {
        self.depth += 1;
        if self.depth == 2 {
            self.in_cpus = name == b"cpus";
        }
        self.node = name;
    }

    /// Leaves a node; false if there was none to leave.
    fn end(&mut self) -> bool {
        let Some(depth) = self.depth.checked_sub(1) else {
            return false;
        };
        self.depth = depth;
        if depth < 2 {
            self.in_cpus = false;
        }
        self.node = &[];
        true
    }

    /// The current node's name before any `@`, if the walk is in a node (not past its children).
    fn node_prefix(&self) -> Option<&'a [u8]> {
        let node = self.node;
        node.split(|&c| c == b'@')
            .next()
            .filter(|_| !node.is_empty())
    }

    /// Whether the walk is in a `/cpus/cpu@*` node, before its children.
    fn in_cpu(&self) -> bool {
        self.in_cpus && self.node.starts_with(b"cpu@")
    }
}

fn be32(blob: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        blob.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn be64(blob: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(
        blob.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// Builds a device tree into a caller's buffer: nodes and properties in order, then
/// [`Writer::finish`]. Property names are kept in a fixed strings table (shared names stored
/// once). Every write is bounds checked; overflowing the buffer or the table makes `finish`
/// fail.
pub struct Writer<'a> {
    out: &'a mut [u8],
    /// End of the structure block written so far.
    at: usize,
    strings: [u8; 512],
    strings_len: usize,
    depth: u32,
    overflow: bool,
}

impl<'a> Writer<'a> {
    /// Starts a tree in `out` (header and an empty memory reservation map).
    pub fn new(out: &'a mut [u8]) -> Self {
        let overflow = out.len() < HEADER + 16;
        Self {
            out,
            at: HEADER + 16,
            strings: [0; 512],
            strings_len: 0,
            depth: 0,
            overflow,
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        match self.out.get_mut(self.at..self.at + bytes.len()) {
            Some(dst) if !self.overflow => dst.copy_from_slice(bytes),
            _ => self.overflow = true,
        }
        self.at += bytes.len();
    }

    fn pad(&mut self) {
        while !self.at.is_multiple_of(4) {
            self.put(&[0]);
        }
    }

    fn word(&mut self, w: u32) {
        self.put(&w.to_be_bytes());
    }

    /// Opens node `name` (the root is `""`).
    pub fn begin_node(&mut self, name: &str) {
        self.word(BEGIN_NODE);
        self.put(name.as_bytes());
        self.put(&[0]);
        self.pad();
        self.depth += 1;
    }

    /// Closes the innermost open node.
    pub fn end_node(&mut self) {
        self.word(END_NODE);
        self.depth = self.depth.saturating_sub(1);
    }

    /// Property `name` with raw `value`.
    pub fn prop(&mut self, name: &str, value: &[u8]) {
        self.prop_header(name, value.len());
        self.put(value);
        self.pad();
    }

    /// Property `name` of big-endian 32-bit cells.
    pub fn prop_u32s(&mut self, name: &str, cells: &[u32]) {
        self.prop_header(name, 4 * cells.len());
        for c in cells {
            self.word(*c);
        }
    }

    /// Property `name` of big-endian 64-bit values (two cells each).
    pub fn prop_u64s(&mut self, name: &str, values: &[u64]) {
        self.prop_header(name, 8 * values.len());
        for v in values {
            self.put(&v.to_be_bytes());
        }
    }

    /// Property `name` holding the string list `values` (each NUL-terminated), as
    /// `compatible` or `clock-names` take.
    pub fn prop_strs(&mut self, name: &str, values: &[&str]) {
        self.prop_header(name, values.iter().map(|v| v.len() + 1).sum());
        for v in values {
            self.put(v.as_bytes());
            self.put(&[0]);
        }
        self.pad();
    }

    /// The PROP token, the value's length and the name's offset: the value follows.
    fn prop_header(&mut self, name: &str, len: usize) {
        let nameoff = self.string(name.as_bytes());
        self.word(PROP);
        self.word(len as u32);
        self.word(nameoff);
    }

    /// Property `name` holding the NUL-terminated string `value`.
    pub fn prop_str(&mut self, name: &str, value: &str) {
        self.prop_strs(name, &[value]);
    }

    /// The offset of `name` in the strings table, adding it if new.
    fn string(&mut self, name: &[u8]) -> u32 {
        let table = &self.strings[..self.strings_len];
        let mut at = 0;
        while at < table.len() {
            let len = table[at..].iter().position(|&c| c == 0).unwrap_or(0);
            if &table[at..at + len] == name {
                return at as u32;
            }
            at += len + 1;
        }
        let start = self.strings_len;
        match self.strings.get_mut(start..start + name.len() + 1) {
            Some(dst) => {
                dst[..name.len()].copy_from_slice(name);
                dst[name.len()] = 0;
                self.strings_len += name.len() + 1;
            }
            None => self.overflow = true,
        }
        start as u32
    }

    /// Ends the tree: END token, strings, header. Returns its size, or `None` if it did not fit
    /// or a node is still open.
    pub fn finish(mut self) -> Option<usize> {
        self.word(END);
        let structs_size = self.at - (HEADER + 16);
        let strings_at = self.at;
        let strings = self.strings;
        self.put(&strings[..self.strings_len]);
        let total = self.at.next_multiple_of(8);
        if self.overflow || self.depth != 0 || total > self.out.len() {
            return None;
        }
        self.out[self.at..total].fill(0);
        let header = [
            MAGIC,
            total as u32,
            (HEADER + 16) as u32, // off_dt_struct
            strings_at as u32,    // off_dt_strings
            HEADER as u32,        // off_mem_rsvmap
            17,                   // version
            16,                   // last_comp_version
            0,                    // boot_cpuid_phys
            self.strings_len as u32,
            structs_size as u32,
        ];
        for (i, w) in header.iter().enumerate() {
            self.out[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
        }
        self.out[HEADER..HEADER + 16].fill(0);
        Some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::{Fdt, Token, Writer};

    /// A tree shaped like QEMU virt's: memory, four CPUs (one with a two-cell reg), a device.
    fn virt_like(buf: &mut [u8]) -> usize {
        let mut w = Writer::new(buf);
        w.begin_node("");
        w.prop_u32s("#address-cells", &[2]);
        w.prop_u32s("#size-cells", &[2]);
        w.begin_node("pl011@9000000");
        w.prop_u64s("reg", &[0x900_0000, 0x1000]);
        w.end_node();
        w.begin_node("memory@40000000");
        w.prop_str("device_type", "memory");
        w.prop_u64s("reg", &[0x4000_0000, 0x8000_0000]);
        w.end_node();
        w.begin_node("cpus");
        w.prop_u32s("#address-cells", &[2]);
        for (i, mpidr) in [0u64, 1, 0x100, 0x1_0000].into_iter().enumerate() {
            let name = ["cpu@0", "cpu@1", "cpu@100", "cpu@10000"][i];
            w.begin_node(name);
            if i == 1 {
                w.prop_u32s("reg", &[mpidr as u32]);
            } else {
                w.prop_u64s("reg", &[mpidr]);
            }
            w.prop_str("enable-method", "psci");
            w.end_node();
        }
        w.begin_node("cpu-map");
        w.end_node();
        w.end_node();
        w.end_node();
        w.finish().unwrap()
    }

    #[test]
    fn reads_memory_and_cpus_of_a_written_tree() {
        let mut buf = [0u8; 2048];
        let size = virt_like(&mut buf);
        let fdt = Fdt::new(&buf[..size]).unwrap();
        assert_eq!(fdt.size(), size);
        assert_eq!(fdt.memory(), Some((0x4000_0000, 0x8000_0000)));
        let mut mpidrs = [0u64; 8];
        assert_eq!(fdt.cpus(&mut mpidrs), Some(4));
        assert_eq!(mpidrs[..4], [0, 1, 0x100, 0x1_0000]);
        let mut two = [0u64; 2];
        assert_eq!(
            fdt.cpus(&mut two),
            Some(4),
            "the count is not limited by the slice"
        );
        assert_eq!(two, [0, 1]);
    }

    #[test]
    fn refuses_bad_magic_short_blobs_and_truncated_structure() {
        let mut buf = [0u8; 2048];
        let size = virt_like(&mut buf);
        assert!(
            Fdt::new(&buf[..size - 1]).is_none(),
            "totalsize past the slice"
        );
        let mut bad = buf;
        bad[0] = 0;
        assert!(Fdt::new(&bad[..size]).is_none());
        // An END_NODE too many, as a corrupt tree might have: cpus() says so.
        let mut w = Writer::new(&mut bad);
        w.begin_node("");
        w.end_node();
        w.end_node();
        let mut bad_depth = w.finish();
        assert!(bad_depth.is_some());
        let fdt = Fdt::new(&bad[..bad_depth.take().unwrap()]).unwrap();
        assert_eq!(fdt.cpus(&mut []), None);
        assert_eq!(fdt.memory(), None);
    }

    #[test]
    fn writer_fails_when_the_buffer_is_too_small_or_a_node_is_open() {
        let mut small = [0u8; 100];
        let mut w = Writer::new(&mut small);
        w.begin_node("");
        w.prop_str(
            "model",
            "a model name long enough to overflow a hundred bytes of buffer",
        );
        w.end_node();
        assert_eq!(w.finish(), None);
        let mut buf = [0u8; 512];
        let mut w = Writer::new(&mut buf);
        w.begin_node("");
        assert_eq!(w.finish(), None);
    }

    #[test]
    fn property_finds_a_nodes_own_properties_by_full_path() {
        let mut buf = [0u8; 2048];
        let size = virt_like(&mut buf);
        let fdt = Fdt::new(&buf[..size]).unwrap();
        assert_eq!(fdt.property("/", "#size-cells"), Some(&[0, 0, 0, 2][..]));
        assert_eq!(fdt.property("/cpus/cpu@1", "reg"), Some(&[0, 0, 0, 1][..]));
        assert_eq!(
            fdt.property("/cpus/cpu@100", "enable-method"),
            Some(&b"psci\0"[..])
        );
        // Not a child's property, not a sibling's, not a prefix of a name.
        assert_eq!(fdt.property("/cpus", "reg"), None);
        assert_eq!(fdt.property("/cpus/cpu@2", "reg"), None);
        assert_eq!(fdt.property("/memory", "reg"), None);
        assert_eq!(fdt.property("/cpus/cpu-map", "reg"), None);
        assert_eq!(fdt.property("memory@40000000", "reg"), None, "not a path");
        assert!(fdt.property("/memory@40000000", "reg").is_some());
    }

    #[test]
    fn tokens_walk_every_node_and_property_with_depths() {
        let mut buf = [0u8; 512];
        let mut w = Writer::new(&mut buf);
        w.begin_node("");
        w.begin_node("a");
        w.prop_strs("compatible", &["x,y", "z"]);
        w.prop_u32s("interrupts", &[7; 24]);
        w.prop("empty", &[]);
        w.end_node();
        w.end_node();
        let size = w.finish().unwrap();
        let fdt = Fdt::new(&buf[..size]).unwrap();
        let mut seen = [(0, Token::End); 8];
        let mut n = 0;
        assert!(fdt.tokens(|depth, token| {
            seen[n] = (depth, token);
            n += 1;
            Some(())
        }));
        let cells: [u8; 96] = core::array::from_fn(|i| if i % 4 == 3 { 7 } else { 0 });
        let expected = [
            (1, Token::Begin(b"")),
            (2, Token::Begin(b"a")),
            (
                2,
                Token::Prop {
                    name: b"compatible",
                    value: b"x,y\0z\0",
                },
            ),
            (
                2,
                Token::Prop {
                    name: b"interrupts",
                    value: &cells,
                },
            ),
            (
                2,
                Token::Prop {
                    name: b"empty",
                    value: b"",
                },
            ),
            (2, Token::End),
            (1, Token::End),
        ];
        assert_eq!(seen[..n], expected, "a cell list longer than 64 bytes too");
        // A visitor that stops early: the walk so far was well formed.
        assert!(fdt.tokens(|_, _| None));
    }

    #[test]
    fn property_names_are_stored_once() {
        let mut buf = [0u8; 2048];
        let size = virt_like(&mut buf);
        let strings = u32::from_be_bytes(buf[32..36].try_into().unwrap()) as usize;
        let names = b"#address-cells\0#size-cells\0reg\0device_type\0enable-method\0";
        assert_eq!(strings, names.len());
        assert!(size > 0);
    }
}
