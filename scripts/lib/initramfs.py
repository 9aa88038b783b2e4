#!/usr/bin/env python3
"""The Linux realm guest's kernel check and initramfs, for scripts/linux-guest (stdlib only).

  initramfs.py image FILE
      Whether FILE is an arm64 Image (magic "ARM\\x64" at 0x38); prints version=, summary= and
      realm= (yes: Linux >= 6.13, no, unknown) lines.
  initramfs.py build --out FILE --list FILE --busybox FILE --init FILE [--script FILE]
                     [--modules DIR --version V [--config FILE] [--builtin FILE]]
      Writes the gzip'ed newc cpio: busybox and its applet links, /init, /script, /dev/console
      and /dev/null as char-device entries (no root needed), and the attestation modules
      (configfs, tsm_report or tsm, arm-cca-guest, and what they depend on) decompressed into
      /lib/modules/NAME.ko, their load order in /lib/modules/load. Then reads the file back,
      checks it and writes its listing (cpio -tv style) to --list.
  initramfs.py append-script IN SCRIPT OUT
      OUT = IN, then a gzip'ed cpio holding SCRIPT as /script (the kernel unpacks both).
  initramfs.py check FILE [--script] [--modules N,N..]
      Lists FILE (cpio -tv style, on stdout) and checks what /init needs.
  initramfs.py selftest
      The cpio writer against this reader, and against `cpio -t` if cpio runs.
"""

import argparse
import gzip
import lzma
import os
import re
import stat
import struct
import subprocess
import sys
import zlib

S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG = stat.S_IFCHR, stat.S_IFDIR, stat.S_IFLNK, stat.S_IFREG
EM_AARCH64 = 183
NEWC_MAGIC = b"070701"
TRAILER = "TRAILER!!!"

# The applets /init uses (each gets a /bin link; `busybox --install` adds the rest at boot).
APPLETS = (
    "sh cat cttyhack cut echo grep insmod mkdir mount nproc od poweroff printf rmdir setsid "
    "sleep test tr uname wc"
).split()

# The attestation modules, in load order: (config symbol, module names to look for).
ATTESTATION = (
    ("CONFIG_CONFIGFS_FS", ("configfs",)),
    ("CONFIG_TSM_REPORTS", ("tsm_report", "tsm")),  # tsm.ko before Linux 6.17
    ("CONFIG_ARM_CCA_GUEST", ("arm_cca_guest",)),
)


def fail(message):
    sys.exit(f"initramfs.py: {message}")


def note(message):
    print(f"    {message}", file=sys.stderr)


# --- cpio (newc) ------------------------------------------------------------------------


class Cpio:
    """A newc archive in memory: entries in the order added, then the trailer."""

    def __init__(self, mtime=0):
        self.out = bytearray()
        self.ino = 1
        self.mtime = mtime

    def _entry(self, name, mode, data=b"", nlink=1, rdev=(0, 0)):
        name_bytes = name.encode() + b"\0"
        fields = (self.ino, mode, 0, 0, nlink, self.mtime, len(data), 0, 0, *rdev,
                  len(name_bytes), 0)
        self.ino += 1
        self.out += NEWC_MAGIC + b"".join(b"%08x" % f for f in fields) + name_bytes
        self.out += b"\0" * (-len(self.out) % 4)
        self.out += data
        self.out += b"\0" * (-len(self.out) % 4)

    def dir(self, name, mode=0o755):
        self._entry(name, S_IFDIR | mode, nlink=2)

    def file(self, name, data, mode=0o644):
        self._entry(name, S_IFREG | mode, data)

    def symlink(self, name, target):
        self._entry(name, S_IFLNK | 0o777, target.encode())

    def chardev(self, name, major, minor, mode):
        self._entry(name, S_IFCHR | mode, rdev=(major, minor))

    def finish(self):
        self.ino = 0
        self._entry(TRAILER, 0)
        return bytes(self.out)


def gzip_bytes(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def read_cpio(data):
    """Every entry of a cpio stream, or of several (concatenated, each gzip'ed or not, with
    zero padding between, as the kernel unpacks them): (name, mode, rdev, data)."""
    entries, pos = [], 0
    while pos < len(data):
        if data[pos] == 0:
            pos += 1
        elif data[pos:pos + 2] == b"\x1f\x8b":
            inflater = zlib.decompressobj(wbits=31)
            entries += read_cpio(inflater.decompress(data[pos:]) + inflater.flush())
            if not inflater.eof:
                fail("truncated gzip stream")
            pos = len(data) - len(inflater.unused_data)
        elif data[pos:pos + 6] == NEWC_MAGIC:
            while True:
                header = data[pos:pos + 110]
                if len(header) < 110 or header[:6] != NEWC_MAGIC:
                    fail(f"bad newc header at byte {pos}")
                f = [int(header[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
                mode, size, rdev, namesize = f[1], f[6], (f[9], f[10]), f[11]
                name = data[pos + 110:pos + 110 + namesize - 1].decode()
                pos += 110 + namesize
                pos += -pos % 4
                body = data[pos:pos + size]
                if len(body) < size:
                    fail(f"{name}: {size} bytes announced, {len(body)} there")
                pos += size
                pos += -pos % 4
                if name == TRAILER:
                    break
                entries.append((name, mode, rdev, body))
        else:
            fail(f"neither cpio, gzip nor padding at byte {pos}")
    return entries


def listing(entries):
    """`cpio -tv`-like lines."""
    lines = []
    for name, mode, rdev, body in entries:
        kind = stat.filemode(mode)
        if stat.S_ISCHR(mode):
            size = f"{rdev[0]}, {rdev[1]}"
        else:
            size = str(len(body))
        target = f" -> {body.decode()}" if stat.S_ISLNK(mode) else ""
        lines.append(f"{kind} {size:>9} {name}{target}")
    return lines


# --- ELF, modules, Images ----------------------------------------------------------------


def elf_machine(data):
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    return struct.unpack_from("<H", data, 18)[0]


def elf_sections(data):
    """{name: bytes} of a 64-bit little-endian ELF file."""
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names = headers[shstrndx]
    sections = {}
    for h in headers:
        start = names[4] + h[0]
        name = data[start:data.index(b"\0", start)].decode()
        sections[name] = data[h[4]:h[4] + h[5]] if h[1] != 8 else b""  # SHT_NOBITS: none
    return sections


def elf_is_static(data):
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return all(struct.unpack_from("<I", data, phoff + i * phentsize)[0] != 3  # PT_INTERP
               for i in range(phnum))


def modinfo(data):
    """A module's .modinfo as {key: value}."""
    if elf_machine(data) != EM_AARCH64:
        return None
    info = {}
    for item in elf_sections(data).get(".modinfo", b"").split(b"\0"):
        key, _, value = item.decode(errors="replace").partition("=")
        if key:
            info.setdefault(key, value)
    return info


def module_name(filename):
    base = os.path.basename(filename)
    for ext in (".ko.xz", ".ko.gz", ".ko.zst", ".ko"):
        if base.endswith(ext):
            return base[:-len(ext)].replace("-", "_")
    return None


def read_module(path):
    raw = open(path, "rb").read()
    if path.endswith(".xz"):
        return lzma.decompress(raw)
    if path.endswith(".gz"):
        return gzip.decompress(raw)
    if path.endswith(".zst"):
        fail(f"{path}: zstd-compressed modules cannot be read with Python's standard library")
    return raw


def kernel_config(path):
    config = {}
    for line in open(path, encoding="utf-8", errors="replace"):
        key, eq, value = line.strip().partition("=")
        if eq and key.startswith("CONFIG_"):
            config[key] = value
    return config


def attestation_modules(tree, version, config_path, builtin_file):
    """[(name, bytes)] in load order; notes on what is built in."""
    index, builtin = {}, set()
    for root, _, files in os.walk(tree):
        for f in sorted(files):
            name = module_name(f)
            if name:
                index.setdefault(name, os.path.join(root, f))
    builtin_file = builtin_file or os.path.join(tree, "modules.builtin")
    if os.path.exists(builtin_file):
        builtin = {module_name(line.strip()) for line in open(builtin_file)}
    config = kernel_config(config_path) if config_path else None

    wanted = []
    for symbol, names in ATTESTATION:
        found = next((n for n in names if n in index), None)
        if config is not None:
            value = config.get(symbol)
            if value == "y":
                note(f"{symbol}=y: built in")
                continue
            if value != "m":
                fail(f"{symbol} is not set in {config_path}: this kernel cannot attest as a realm")
            if not found:
                fail(f"{symbol}=m but no {' or '.join(names)} module in {tree}")
        elif not found:
            where = "built in (modules.builtin)" if any(n in builtin for n in names) else \
                "not found: assumed built in"
            note(f"{'/'.join(names)}: {where}")
            continue
        wanted.append(found)

    order, loaded = [], {}

    def load(name, chain):
        if name in loaded:
            return
        if name in chain:
            fail(f"module dependency loop: {' -> '.join(chain + [name])}")
        data = read_module(index[name])
        info = modinfo(data)
        if info is None:
            fail(f"{index[name]}: not an arm64 module")
        magic = info.get("vermagic", "").split(" ")[0]
        if version and magic != version:
            fail(f"{index[name]}: built for {magic or '?'}, not {version}")
        for dep in filter(None, info.get("depends", "").split(",")):
            if dep in index:
                load(dep, chain + [name])
            elif dep not in builtin:
                fail(f"module {name} needs {dep}, which is neither in {tree} nor built in")
        loaded[name] = data
        order.append(name)

    for name in wanted:
        load(name, [])
    return [(name, loaded[name]) for name in order]


def busybox_applets(data):
    """The applet names in busybox's table ("[", "[[", then sorted names), or None."""
    start = data.find(b"[\0[[\0")
    if start < 0:
        return None
    end = data.find(b"\0\0", start)
    return set(data[start:end].decode(errors="replace").split("\0"))


def image_info(path):
    with open(path, "rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[0x38:0x3C] != b"ARM\x64":
            fail(f"{path} is not an arm64 Image (no \"ARM\\x64\" at 0x38): a raw Image is "
                 "needed, not a compressed vmlinuz or an ELF vmlinux")
        text_offset, image_size, flags = struct.unpack_from("<QQQ", head, 8)
        f.seek(0)
        data = f.read()
    found = re.search(rb"Linux version (\S+) \(.*?\) (#\d+ [^\n\0]*)", data) or \
        re.search(rb"Linux version (\S+)()", data)
    version = found.group(1).decode(errors="replace") if found else "unknown"
    pages = {0: "page size unspecified", 1: "4K pages", 2: "16K pages", 3: "64K pages"}
    summary = (f"arm64 Image, {os.path.getsize(path) / 1e6:.1f} MB (text_offset {text_offset:#x}, "
               f"image_size {image_size:#x}, {'big' if flags & 1 else 'little'}-endian, "
               f"{pages[flags >> 1 & 3]}{', EFI stub' if head[:2] == b'MZ' else ''})")
    if found:
        summary += f", Linux {version} {found.group(2).decode(errors='replace')}".rstrip()
    realm = "unknown"
    numbers = re.match(r"(\d+)\.(\d+)", version)
    if numbers:
        realm = "yes" if (int(numbers[1]), int(numbers[2])) >= (6, 13) else "no"
    print(f"version={version}\nsummary={summary}\nrealm={realm}")


# --- the initramfs -----------------------------------------------------------------------


def build(args):
    busybox = open(args.busybox, "rb").read()
    if elf_machine(busybox) != EM_AARCH64 or not elf_is_static(busybox):
        fail(f"{args.busybox} is not a static arm64 ELF executable")
    applets = busybox_applets(busybox)
    if applets is None:
        note("busybox's applet table not found: applets not checked")
    else:
        missing = [a for a in APPLETS if a not in applets]
        if missing:
            fail(f"{args.busybox} lacks the applets {' '.join(missing)}")
    init = open(args.init, "rb").read()
    modules = []
    if args.modules:
        modules = attestation_modules(args.modules, args.version, args.config, args.builtin)

    cpio = Cpio(int(os.environ.get("SOURCE_DATE_EPOCH", "0")))
    for d in ("bin", "dev", "lib", "lib/modules", "proc", "root", "sys", "tmp"):
        cpio.dir(d, 0o1777 if d == "tmp" else 0o755)
    cpio.chardev("dev/console", 5, 1, 0o600)
    cpio.chardev("dev/null", 1, 3, 0o666)
    cpio.file("bin/busybox", busybox, 0o755)
    for applet in APPLETS:
        cpio.symlink(f"bin/{applet}", "busybox")
    cpio.file("init", init, 0o755)
    if args.script:
        cpio.file("script", open(args.script, "rb").read(), 0o755)
    for name, data in modules:
        cpio.file(f"lib/modules/{name}.ko", data)
    if modules:
        cpio.file("lib/modules/load", "".join(f"{n}\n" for n, _ in modules).encode())
    with open(args.out, "wb") as f:
        f.write(gzip_bytes(cpio.finish()))
    for name, data in modules:
        note(f"module {name}: {len(data)} bytes")
    entries = read_cpio(open(args.out, "rb").read())
    check_entries(entries, args.script is not None, [n for n, _ in modules])
    with open(args.list, "w") as f:
        f.write("".join(f"{line}\n" for line in listing(entries)))


def append_script(initrd, script, out):
    data = open(initrd, "rb").read()
    cpio = Cpio(int(os.environ.get("SOURCE_DATE_EPOCH", "0")))
    cpio.file("script", open(script, "rb").read(), 0o755)
    with open(out, "wb") as f:
        f.write(data + gzip_bytes(cpio.finish()))  # the kernel takes a gzip member anywhere


def check_entries(entries, script, modules):
    """Fails unless the archive holds what /init needs."""
    by_name = {}
    for entry in entries:
        by_name[re.sub(r"^\.?/+", "", entry[0])] = entry
    problems = []

    def regular(name, what):
        e = by_name.get(name)
        if not e or not stat.S_ISREG(e[1]) or not e[3]:
            problems.append(f"no {what} /{name} (a non-empty file)")
            return None
        return e

    init = regular("init", "init script")
    if init and (not init[1] & 0o111 or not init[3].startswith(b"#!/bin/sh")):
        problems.append("/init is not an executable #!/bin/sh script")
    busybox = regular("bin/busybox", "busybox")
    if busybox and elf_machine(busybox[3]) != EM_AARCH64:
        problems.append("/bin/busybox is not an arm64 ELF executable")
    for name, (major, minor) in (("dev/console", (5, 1)), ("dev/null", (1, 3))):
        e = by_name.get(name)
        if not e or not stat.S_ISCHR(e[1]) or e[2] != (major, minor):
            problems.append(f"/{name} is not the char device {major}:{minor}")
    for applet in APPLETS:
        e = by_name.get(f"bin/{applet}")
        if not e or not stat.S_ISLNK(e[1]) or e[3] not in (b"busybox", b"/bin/busybox"):
            problems.append(f"/bin/{applet} is not a link to busybox")
    if script:
        regular("script", "script")
    load = by_name.get("lib/modules/load")
    listed = load[3].decode().split() if load else []
    for name in modules:
        if name not in listed:
            problems.append(f"module {name} not in /lib/modules/load")
    for name in listed:
        e = regular(f"lib/modules/{name}.ko", "module")
        if e and modinfo(e[3]) is None:
            problems.append(f"/lib/modules/{name}.ko is not an arm64 module")
    if problems:
        fail("the initramfs is incomplete:\n  " + "\n  ".join(problems))
    note(f"initramfs checked: {len(entries)} entries, /init, busybox, {len(APPLETS)} applet "
         f"links, /dev/console and /dev/null, {len(listed)} modules"
         f"{', /script' if script else ''}")


def check(args):
    entries = read_cpio(open(args.file, "rb").read())
    print("\n".join(listing(entries)))
    check_entries(entries, args.script, [m for m in args.modules.split(",") if m])


def selftest(_args):
    cpio = Cpio(1234)
    cpio.dir("d")
    files = {f"d/f{n}": bytes(range(n)) for n in range(6)}  # every padding case
    for name, data in files.items():
        cpio.file(name, data)
    cpio.symlink("d/link", "f3")
    cpio.chardev("d/null", 1, 3, 0o666)
    raw = cpio.finish()
    assert len(raw) % 4 == 0, "archive not padded to 4 bytes"
    assert raw.endswith(b"\0") and TRAILER.encode() in raw[-128:], "no trailer"
    entries = read_cpio(raw)
    got = {name: body for name, _, _, body in entries}
    assert [e[0] for e in entries] == ["d", *files, "d/link", "d/null"], entries
    assert all(got[name] == data for name, data in files.items())
    assert got["d/link"] == b"f3" and entries[-1][2] == (1, 3)
    assert stat.S_ISDIR(entries[0][1]) and stat.S_ISCHR(entries[-1][1])
    # Concatenated and gzip'ed the way append-script does it.
    extra = Cpio()
    extra.file("script", b"echo hi\n", 0o755)
    both = read_cpio(gzip_bytes(raw) + b"\0\0" + gzip_bytes(extra.finish()))
    assert [e[0] for e in both][-1] == "script"
    print("initramfs.py selftest: cpio writer and reader agree", file=sys.stderr)
    try:
        subprocess.run(["cpio", "--version"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        print("initramfs.py selftest: cpio does not run: its check skipped", file=sys.stderr)
        return
    listed = subprocess.run(["cpio", "-t", "--quiet"], input=raw, check=True,
                            capture_output=True).stdout.decode().split()
    assert listed == [e[0] for e in entries], listed
    print("initramfs.py selftest: cpio -t lists the same entries", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("image")
    p.add_argument("file")
    p = sub.add_parser("build")
    p.add_argument("--out", required=True)
    p.add_argument("--list", required=True)
    p.add_argument("--busybox", required=True)
    p.add_argument("--init", required=True)
    p.add_argument("--script")
    p.add_argument("--modules")
    p.add_argument("--version")
    p.add_argument("--config")
    p.add_argument("--builtin")
    p = sub.add_parser("append-script")
    p.add_argument("initrd")
    p.add_argument("script")
    p.add_argument("out")
    p = sub.add_parser("check")
    p.add_argument("file")
    p.add_argument("--script", action="store_true")
    p.add_argument("--modules", default="")
    sub.add_parser("selftest")
    args = parser.parse_args()
    if args.command == "image":
        image_info(args.file)
    elif args.command == "build":
        build(args)
    elif args.command == "append-script":
        append_script(args.initrd, args.script, args.out)
    elif args.command == "check":
        check(args)
    else:
        selftest(args)


if __name__ == "__main__":
    main()
