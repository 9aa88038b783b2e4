//! Links the RMM image at its platform's load address (the image is not relocatable: TF-A
//! and the QEMU test firmware load it where the platform's memory map says).
use std::{env, fs, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=link.ld.in");
    let describe = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty", "--tags"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=RMM_GIT_DESCRIBE={describe}");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    // Keep in step with rmm_arch::layout.
    let (base, size) = if env::var_os("CARGO_FEATURE_FVP").is_some() {
        (0xfdc0_0000u64, 0x0180_0000u64)
    } else {
        (0x4010_0000u64, 0x017f_f000u64)
    };
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let script = fs::read_to_string(dir.join("link.ld.in"))
        .unwrap()
        .replace("@RMM_BASE@", &format!("{base:#x}"))
        .replace("@RMM_SIZE@", &format!("{size:#x}"));
    fs::write(out.join("link.ld"), script).unwrap();
    println!(
        "cargo:rustc-link-arg-bins=-T{}",
        out.join("link.ld").display()
    );
}
