//! Links the image with its linker script when built for bare metal.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    // The NS-EL2 programs' shared link script (arch/ns-el2).
    println!("cargo:rerun-if-changed=../ns-el2/link.ld");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg-bins=-T{dir}/../ns-el2/link.ld");
    }
}
