//! Links the RMM image at its platform's load address (the image is not relocatable: TF-A
//! and the QEMU test firmware load it where the platform's memory map says).
use std::{env, fs, path::PathBuf};

/// `git <args>`'s output, if git runs and succeeds.
fn git(args: &[&str]) -> Option<String> {
    std::process::Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-changed=link.ld.in");
    let describe = git(&["describe", "--always", "--dirty", "--tags"]);
    println!(
        "cargo:rustc-env=RMM_GIT_DESCRIBE={}",
        describe.as_deref().unwrap_or("unknown")
    );
    // The banner's commit follows new commits and checkouts (HEAD, the branch it names) and
    // staging (the index); edits that are never staged leave "-dirty" as it was.
    let mut watched = vec!["HEAD".to_string(), "index".to_string()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for path in watched {
        if let Some(file) = git(&["rev-parse", "--git-path", &path]) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    // Keep in step with rmm_arch::layout.
    let (base, size) = if env::var_os("CARGO_FEATURE_FVP").is_some() {
        (0xfdc0_0000u64, 0x0180_0000u64)
    } else {
        (0x4010_0000u64, 0x03ff_f000u64)
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
