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
