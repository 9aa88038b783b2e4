# Shared by scripts/run and scripts/test: logging and toolchain set-up. Source it, don't run it.

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Tools are checked by running them, never by their path: a file can be there and still not
# run (the toolchain ships rust-objcopy, which needs the llvm-tools component's libLLVM).

# Whether the command runs and exits 0 (its output is dropped).
runs() { "$@" >/dev/null 2>&1; }

# Root's apt-get (through sudo when not root), for Debian packages.
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "$* needed, and there is no apt-get here: install it yourself"
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        runs sudo -n true || die "installing $* needs root or sudo"
        sudo=sudo
    fi
    say "Installing Debian packages: $*"
    $sudo apt-get update -q
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

# Base tools the scripts use (coreutils, grep, sed, awk, tail --pid, od): each run once; a
# missing one is installed from its Debian package.
ensure_base_tools() {
    local missing=() tool package
    for tool in timeout:coreutils od:coreutils realpath:coreutils tail:coreutils \
        grep:grep sed:sed tr:coreutils stat:coreutils; do
        package=${tool#*:} tool=${tool%%:*}
        runs "$tool" --version || missing+=("$package")
    done
    runs awk 'BEGIN { exit 0 }' || missing+=(mawk)
    [ ${#missing[@]} -eq 0 ] || apt_install $(printf '%s\n' "${missing[@]}" | sort -u)
}

# The bare-metal images' target (also the RMM core's firmware build).
FIRMWARE_TARGET=aarch64-unknown-none-softfloat

# Whether rustc can build for $1: compiles an empty no_std library for it (the check fails when
# the target's core library is missing, whatever files are in place). Into a scratch folder:
# rustc replaces its output file by renaming, so `-o /dev/null` would replace the device.
target_builds() {
    local dir status=0
    dir=$(mktemp -d)
    printf '#![no_std]\n' | rustc --edition 2021 --target "$1" --crate-type lib --emit metadata \
        --out-dir "$dir" - >/dev/null 2>&1 || status=$?
    rm -rf "$dir"
    return "$status"
}

# The Rust toolchain the project needs, each piece run to check it: cargo and rustc (rustup's),
# the bare-metal target the images are built for (softfloat: the compiler may not touch
# FP/SIMD registers), rustfmt, clippy and llvm-tools (rust-objcopy, llvm-nm, llvm-objdump).
# Missing pieces are installed with rustup.
ensure_rust() {
    if [ -f "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi
    ensure_base_tools
    runs rustup --version || die "rustup does not run: install the Rust toolchain with rustup first (https://rustup.rs)"
    runs cargo --version && runs rustc --version ||
        die "cargo or rustc does not run: $(cargo --version 2>&1 | head -1)"
    if ! target_builds "$FIRMWARE_TARGET"; then
        say "Installing Rust target $FIRMWARE_TARGET"
        rustup target add "$FIRMWARE_TARGET"
        target_builds "$FIRMWARE_TARGET" || die "rustc still cannot build for $FIRMWARE_TARGET"
    fi
    ensure_component rustfmt cargo fmt --version
    ensure_component clippy cargo clippy --version
    ensure_component llvm-tools "$(llvm_tool_path rust-objcopy)" --version
}

# ensure_component NAME CMD...: runs CMD; when it fails, adds the rustup component NAME and
# runs CMD again, which must then succeed.
ensure_component() {
    local component=$1
    shift
    runs "$@" && return 0
    say "Installing Rust component $component ($1 does not run)"
    rustup component add "$component"
    runs "$@" || die "$* still fails after installing $component: $("$@" 2>&1 | head -1)"
}

# The path of the toolchain's LLVM tool $1 (rust-objcopy, llvm-nm, llvm-objdump: component
# llvm-tools, which ensure_rust installs).
llvm_tool_path() {
    local host
    host=$(rustc -vV | sed -n 's/^host: //p')
    printf '%s\n' "$(rustc --print sysroot)/lib/rustlib/$host/bin/$1"
}

# rust-objcopy, checked by running it (ensure_rust installs it); prints its path.
rust_objcopy() {
    local bin
    bin=$(llvm_tool_path rust-objcopy)
    runs "$bin" --version || ensure_component llvm-tools "$bin" --version >&2
    printf '%s\n' "$bin"
}

# Python 3 for the helpers in scripts/lib, installed from Debian when it does not run.
ensure_python() {
    runs python3 --version || apt_install python3
    runs python3 --version || die "python3 still does not run"
}

# Whether qemu-system-aarch64 runs and is at least 8.2 (the first with `-cpu max,x-rme=on`).
qemu_is_recent() {
    local version major minor
    version=$(qemu-system-aarch64 --version 2>/dev/null |
        sed -n '1s/^QEMU emulator version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p') || return 1
    read -r major minor <<<"$version"
    [ -n "${major:-}" ] || return 1
    [ "$major" -gt 8 ] || { [ "$major" -eq 8 ] && [ "$minor" -ge 2 ]; }
}

# QEMU >= 8.2 with FEAT_RME. On Debian bookworm (whose own QEMU is 7.2) it comes from
# bookworm-backports, added as a deb822 source if no apt source names that suite yet; on later
# Debian releases from the release itself.
ensure_qemu() {
    qemu_is_recent && return 0
    local codename=""
    if [ -r /etc/os-release ]; then
        codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
    fi
    if [ "$codename" = bookworm ]; then
        say "QEMU >= 8.2 comes from Debian bookworm-backports (bookworm's own is too old for FEAT_RME)"
        ensure_backports bookworm
        apt_install -t bookworm-backports qemu-system-arm
    else
        apt_install qemu-system-arm
    fi
    qemu_is_recent || die "qemu-system-aarch64 does not run or is older than 8.2: $(qemu-system-aarch64 --version 2>&1 | head -1)"
}

# Adds $1-backports as a deb822 apt source unless an apt source names that suite already.
ensure_backports() {
    local suite=$1-backports sudo=""
    grep -rqs --include='*.list' --include='*.sources' "$suite" \
        /etc/apt/sources.list /etc/apt/sources.list.d/ && return 0
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' "Suites: $suite" \
        'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' |
        $sudo tee "/etc/apt/sources.list.d/$suite.sources" >/dev/null
}

# The realm test payload (R-EL1) as target/realm/realm-payload.bin, which the test host embeds
# (arch/test-host/src/realm_payload.rs): build it before building or linting the test host.
build_realm_payload() {
    say "Building rmm-realm-payload for $FIRMWARE_TARGET (release)"
    CARGO_TARGET_DIR=target/realm cargo build --release --locked --target "$FIRMWARE_TARGET" \
        -p rmm-realm-payload
    "$(rust_objcopy)" -O binary "target/realm/$FIRMWARE_TARGET/release/realm-payload" \
        target/realm/realm-payload.bin
}
