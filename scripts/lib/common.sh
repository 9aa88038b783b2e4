# Shared by scripts/run and scripts/test: logging and toolchain set-up. Source it, don't run it.

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# The Rust toolchain the project needs: cargo via rustup, the bare-metal target the RMM image is
# built for (softfloat: the compiler may not touch FP/SIMD registers), rustfmt and clippy.
ensure_rust() {
    if [ -f "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi
    command -v rustup >/dev/null 2>&1 || die "rustup not found: install the Rust toolchain with rustup first"
    local target=aarch64-unknown-none-softfloat
    if ! rustup target list --installed | grep -qx "$target"; then
        say "Installing Rust target $target"
        rustup target add "$target"
    fi
    local component
    for component in rustfmt clippy; do
        if ! rustup component list --installed | grep -q "^$component"; then
            say "Installing Rust component $component"
            rustup component add "$component"
        fi
    done
}

# The bare-metal images' target (also the RMM core's firmware build).
FIRMWARE_TARGET=aarch64-unknown-none-softfloat

# rust-objcopy from the toolchain's llvm-tools (installed if missing); prints its path.
rust_objcopy() {
    local host bin
    host=$(rustc -vV | sed -n 's/^host: //p')
    bin="$(rustc --print sysroot)/lib/rustlib/$host/bin/rust-objcopy"
    if [ ! -x "$bin" ]; then
        say "Installing Rust component llvm-tools (rust-objcopy)" >&2
        rustup component add llvm-tools >&2
    fi
    [ -x "$bin" ] || die "rust-objcopy not found at $bin"
    printf '%s\n' "$bin"
}

# Whether qemu-system-aarch64 is installed and at least 8.2 (the first with `-cpu max,x-rme=on`).
qemu_is_recent() {
    command -v qemu-system-aarch64 >/dev/null 2>&1 || return 1
    local version major minor
    version=$(qemu-system-aarch64 --version | sed -n '1s/^QEMU emulator version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
    read -r major minor <<<"$version"
    [ -n "${major:-}" ] || return 1
    [ "$major" -gt 8 ] || { [ "$major" -eq 8 ] && [ "$minor" -ge 2 ]; }
}

# QEMU >= 8.2 with FEAT_RME. On Debian bookworm (whose own QEMU is 7.2) it comes from
# bookworm-backports, added as a deb822 source if no apt source names that suite yet; on later
# Debian releases from the release itself.
ensure_qemu() {
    qemu_is_recent && return 0
    command -v apt-get >/dev/null 2>&1 || die "qemu-system-aarch64 >= 8.2 is needed; install it (no apt-get here)"
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "installing QEMU needs root or sudo"
        sudo=sudo
    fi
    local codename=""
    if [ -r /etc/os-release ]; then
        codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
    fi
    local release=()
    if [ "$codename" = bookworm ]; then
        say "Installing QEMU from Debian bookworm-backports (bookworm's own is too old for FEAT_RME)"
        if ! grep -rqs --include='*.list' --include='*.sources' bookworm-backports \
            /etc/apt/sources.list /etc/apt/sources.list.d/; then
            printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm-backports' \
                'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' |
                $sudo tee /etc/apt/sources.list.d/backports.sources >/dev/null
        fi
        release=(-t bookworm-backports)
    else
        say "Installing QEMU (qemu-system-arm)"
    fi
    $sudo apt-get update -q
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${release[@]}" qemu-system-arm
    qemu_is_recent || die "qemu-system-aarch64 is still missing or older than 8.2: $(qemu-system-aarch64 --version 2>&1 | head -1)"
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
