//! The RMM image: R-EL2 firmware for aarch64-unknown-none-softfloat (platforms qemu, fvp).
#![cfg_attr(target_os = "none", no_std, no_main)]

/// Built for the host, the image is an empty program, so that `cargo test --workspace` and
/// clippy on the host cover the workspace.
#[cfg(not(target_os = "none"))]
fn main() {}
