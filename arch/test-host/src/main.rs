//! The test host: a bare-metal Normal-world payload at NS-EL2 that runs RMI scenarios on QEMU.
#![cfg_attr(target_os = "none", no_std, no_main)]

/// Built for the host, the image is an empty program, so that `cargo test --workspace` and
/// clippy on the host cover the workspace.
#[cfg(not(target_os = "none"))]
fn main() {}
