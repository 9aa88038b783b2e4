//! The `rmm-token` command: exit status and messages on a log with a token the RMM core made.

use rmm::attestation::{self, RealmClaims};
use rmm::host::attest::test_identity;
use rmm::measurement::{HashAlgorithm, Measurement};
use rmm_token::{hex, TOKEN_BEGIN, TOKEN_END};
use std::path::PathBuf;
use std::process::Command;

const CHALLENGE: [u8; 64] = [0x3C; 64];
const RIM: [u8; 64] = [0xA5; 64];

/// A console log with the token for [`CHALLENGE`] and [`RIM`] (SHA-512) in `name`.
fn log_file(name: &str, rim_line: bool) -> PathBuf {
    let rim = Measurement::from_bytes(RIM);
    let rems = [Measurement::from_bytes([0; 64]); 4];
    let claims = RealmClaims {
        challenge: &CHALLENGE,
        personalization: &[0; 64],
        rim: &rim,
        rems: &rems,
        hash_algo: HashAlgorithm::Sha512,
    };
    let token = attestation::token(&test_identity(), &claims).unwrap();
    let mut log = String::new();
    if rim_line {
        log += &format!("realm-vmm: RIM {}\r\n", hex(&RIM));
    }
    log += &format!("{TOKEN_BEGIN}\r\n");
    for chunk in token.chunks(16) {
        log += &format!("{}\r\n", hex(chunk));
    }
    log += &format!("{TOKEN_END}\r\n");
    let path = std::env::temp_dir().join(format!("rmm-token-{}-{name}.log", std::process::id()));
    std::fs::write(&path, log).unwrap();
    path
}

fn rmm_token(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rmm-token"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn verify_exit_status_and_messages() {
    let with_rim = log_file("rim", true);
    let without = log_file("norim", false);
    let (log, bare) = (with_rim.to_str().unwrap(), without.to_str().unwrap());
    let challenge = hex(&CHALLENGE);

    let (code, out, _) = rmm_token(&["verify", "--log", log, "--challenge", &challenge]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("hash algorithm: sha-512"), "{out}");
    assert!(out.contains("matches the VMM's RIM (line 1)"), "{out}");
    assert!(out.ends_with("rmm-token: token verified\n"), "{out}");

    let rim = hex(&RIM);
    let (code, out, _) = rmm_token(&[
        "verify",
        "--log",
        bare,
        "--challenge",
        &challenge,
        "--rim",
        &rim,
    ]);
    assert_eq!(code, 0, "{out}");

    let (code, _, err) = rmm_token(&["verify", "--log", bare, "--challenge", &challenge]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no --rim and no 'realm-vmm: RIM <hex>' line"),
        "{err}"
    );

    let other_rim = hex(&[0xA5; 63]) + "00";
    let (code, _, err) = rmm_token(&[
        "verify",
        "--log",
        log,
        "--challenge",
        &challenge,
        "--rim",
        &other_rim,
    ]);
    assert_eq!(code, 1);
    assert!(err.starts_with("rmm-token: FAILED: RIM mismatch"), "{err}");

    let (code, _, err) = rmm_token(&["verify", "--log", log, "--challenge", &hex(&[0; 64])]);
    assert_eq!(code, 1);
    assert!(err.contains("challenge claim differs"), "{err}");

    let (code, _, err) = rmm_token(&["verify", "--log", log]);
    assert_eq!(code, 2);
    assert!(err.contains("--challenge HEX is needed"), "{err}");

    std::fs::remove_file(with_rim).unwrap();
    std::fs::remove_file(without).unwrap();
}
