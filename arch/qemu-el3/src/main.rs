//! The QEMU test firmware at EL3: GPT, GIC, PSCI, RMM-EL3 interface 0.3, RMI forwarding.
#![cfg_attr(target_os = "none", no_std, no_main)]

/// Built for the host, the image is an empty program, so that `cargo test --workspace` and
/// clippy on the host cover the workspace.
#[cfg(not(target_os = "none"))]
fn main() {}
