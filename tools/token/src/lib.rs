//! Checks the CCA attestation token a Linux realm guest printed on its console: the hex lines
//! between `guest: token begin` and `guest: token end` that `scripts/linux-guest`'s /init
//! writes, verified with the RMM core's own verifier (`rmm::attestation::verify_realm_token`)
//! against the challenge the VMM gave the guest and the RIM the VMM computed.

use rmm::attestation::{verify_realm_token, TokenClaims, CHALLENGE_SIZE};
use rmm::measurement::HashAlgorithm;

/// The guest's marker lines (scripts/lib/guest-init.sh).
pub const TOKEN_BEGIN: &str = "guest: token begin";
/// See [`TOKEN_BEGIN`].
pub const TOKEN_END: &str = "guest: token end";
/// The guest's line before the token: `guest: token: N bytes ...`.
const TOKEN_SIZE_PREFIX: &str = "guest: token: ";
/// The guest's line when it got no token: `guest: attestation failed: <why>`.
const ATTESTATION_FAILED: &str = "guest: attestation failed: ";
/// The VMM's line with the RIM it computed: `realm-vmm: RIM <hex>`.
pub const VMM_RIM_PREFIX: &str = "realm-vmm: RIM ";

/// A token found in a console log.
#[derive(Debug, PartialEq, Eq)]
pub struct LogToken {
    /// The decoded bytes.
    pub bytes: Vec<u8>,
    /// The line of its `guest: token begin` (from 1).
    pub line: usize,
    /// How many tokens the log holds (this is the last).
    pub count: usize,
}

/// The log's lines, without CR and surrounding blanks, numbered from 1.
fn lines(log: &str) -> impl DoubleEndedIterator<Item = (usize, &str)> {
    let lines: Vec<&str> = log.split('\n').map(str::trim).collect();
    lines.into_iter().enumerate().map(|(i, l)| (i + 1, l))
}

/// The last token in `log`. Lines between the markers hold hex digits and blanks only; a
/// preceding `guest: token: N bytes` line, if any, must agree with the decoded size.
pub fn token_from_log(log: &str) -> Result<LogToken, String> {
    let begins: Vec<usize> = lines(log)
        .filter(|(_, l)| *l == TOKEN_BEGIN)
        .map(|(n, _)| n)
        .collect();
    let Some(&begin) = begins.last() else {
        let why = lines(log)
            .rev()
            .find_map(|(_, l)| l.strip_prefix(ATTESTATION_FAILED))
            .map_or(String::new(), |why| {
                format!(": the guest says attestation failed: {why}")
            });
        return Err(format!("no '{TOKEN_BEGIN}' line in the log{why}"));
    };
    let mut digits = String::new();
    let mut ended = false;
    for (n, line) in lines(log).skip(begin) {
        if line == TOKEN_END {
            ended = true;
            break;
        }
        if let Some(c) = line
            .chars()
            .find(|c| !c.is_ascii_hexdigit() && !c.is_whitespace())
        {
            return Err(format!(
                "line {n}, inside the token, is not hex ({c:?}): {}",
                shorten(line)
            ));
        }
        digits.extend(line.chars().filter(|c| !c.is_whitespace()));
    }
    if !ended {
        return Err(format!(
            "the token that begins on line {begin} has no '{TOKEN_END}' line (the guest stopped?)"
        ));
    }
    let bytes = parse_hex(&digits).map_err(|e| format!("the token on line {begin}: {e}"))?;
    let declared = lines(log)
        .take(begin - 1)
        .filter_map(|(_, l)| l.strip_prefix(TOKEN_SIZE_PREFIX))
        .last()
        .and_then(|rest| rest.split(' ').next()?.parse::<usize>().ok());
    if let Some(size) = declared.filter(|size| *size != bytes.len()) {
        return Err(format!(
            "the guest said the token has {size} bytes, the hex on line {begin} has {} (console output lost?)",
            bytes.len()
        ));
    }
    Ok(LogToken {
        bytes,
        line: begin,
        count: begins.len(),
    })
}

/// The RIM on the log's last `realm-vmm: RIM <hex>` line, and that line's number.
pub fn rim_from_log(log: &str) -> Option<Result<(Vec<u8>, usize), String>> {
    let (n, hex) = lines(log)
        .rev()
        .find_map(|(n, l)| Some((n, l.strip_prefix(VMM_RIM_PREFIX)?)))?;
    Some(
        parse_hex(hex.trim())
            .map(|rim| (rim, n))
            .map_err(|e| format!("line {n} ('{VMM_RIM_PREFIX}...'): {e}")),
    )
}

/// Bytes from hex digits (either case, no separators, an even number).
pub fn parse_hex(hex: &str) -> Result<Vec<u8>, String> {
    if !hex.len().is_multiple_of(2) {
        return Err(format!("an odd number of hex digits ({})", hex.len()));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| format!("not hex at digit {}: {}", i + 1, shorten(hex)))
        })
        .collect()
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn shorten(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((at, _)) => format!("{}...", &s[..at]),
        None => s.to_string(),
    }
}

/// The 64-byte challenge from 128 hex digits.
pub fn parse_challenge(hex: &str) -> Result<[u8; CHALLENGE_SIZE], String> {
    let bytes = parse_hex(hex).map_err(|e| format!("--challenge: {e}"))?;
    bytes.as_slice().try_into().map_err(|_| {
        format!(
            "--challenge: {} bytes, not {CHALLENGE_SIZE} (128 hex digits)",
            bytes.len()
        )
    })
}

/// Whether the RIM claim is `expected`: the same bytes, or `expected` is the whole 64-byte
/// measurement (the digest then zeros, as the RMM keeps it) of a shorter claim.
pub fn rim_matches(claim: &[u8], expected: &[u8]) -> bool {
    claim == expected
        || (expected.len() == 64
            && expected.starts_with(claim)
            && expected[claim.len()..].iter().all(|b| *b == 0))
}

/// Verifies `token` for `challenge` and the expected RIM (`rim_source` says where it came
/// from); returns the report lines, or why it fails.
pub fn verify(
    token: &[u8],
    challenge: &[u8; CHALLENGE_SIZE],
    rim: &[u8],
    rim_source: &str,
) -> Result<Vec<String>, String> {
    let claims: TokenClaims<'_> =
        verify_realm_token(token, challenge).map_err(|e| format!("{e} ({} bytes)", token.len()))?;
    let mut report = vec![
        format!(
            "token: {} bytes: realm token {} bytes, platform token {} bytes",
            token.len(),
            claims.realm_token_len,
            claims.platform_token.len()
        ),
        format!(
            "signature: ES384, valid, by the RAK in the token ({}...)",
            &hex(&claims.rak_public[1..])[..16]
        ),
        "challenge: matches".to_string(),
        format!(
            "hash algorithm: {}",
            match claims.hash_algo {
                HashAlgorithm::Sha256 => "sha-256",
                HashAlgorithm::Sha512 => "sha-512",
            }
        ),
    ];
    if !rim_matches(claims.rim, rim) {
        return Err(format!(
            "RIM mismatch: the token has {}, {rim_source} has {}",
            hex(claims.rim),
            hex(rim)
        ));
    }
    report.push(format!("RIM: {} (matches {rim_source})", hex(claims.rim)));
    for (i, rem) in claims.rems.iter().enumerate() {
        report.push(format!("REM{i}: {}", hex(rem)));
    }
    report.push(format!("RPV: {}", hex(claims.personalization)));
    if let Some(profile) = claims.profile {
        report.push(format!("profile: {profile}"));
    }
    if !claims.platform_binds_rak() {
        return Err(format!(
            "the platform token ({} bytes) does not carry {} of the RAK claim: the RAK is not bound to the platform",
            claims.platform_token.len(),
            claims.rak_hash_algo
        ));
    }
    report.push(format!(
        "platform token: binds the RAK (its challenge is {} of the RAK claim); its signature is not checked",
        claims.rak_hash_algo
    ));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmm::attestation::{self, AttestationIdentity, RealmAttestationKey, RealmClaims};
    use rmm::host::attest::test_identity;
    use rmm::measurement::Measurement;

    const CHALLENGE: [u8; 64] = [0xC4; 64];

    fn rim_bytes() -> [u8; 64] {
        core::array::from_fn(|i| if i < 32 { i as u8 + 1 } else { 0 })
    }

    fn token_with(identity: &AttestationIdentity, challenge: &[u8; 64]) -> Vec<u8> {
        let rim = Measurement::from_bytes(rim_bytes());
        let rems = [Measurement::from_bytes([0x5A; 64]); 4];
        let claims = RealmClaims {
            challenge,
            personalization: &[0x77; 64],
            rim: &rim,
            rems: &rems,
            hash_algo: HashAlgorithm::Sha256,
        };
        attestation::token(identity, &claims).unwrap()
    }

    /// A console log as the guest prints it: od's 16 bytes a line, CR LF line ends.
    fn log_of(token: &[u8], rim_line: &str) -> String {
        let mut log = format!(
            "[    0.000000] Booting Linux\r\n{rim_line}\r\nguest: token: {} bytes from arm_cca_guest\r\n{TOKEN_BEGIN}\r\n",
            token.len()
        );
        for chunk in token.chunks(16) {
            log += &hex(chunk);
            log += "\r\n";
        }
        log + TOKEN_END + "\r\nguest: attestation done\r\n"
    }

    #[test]
    fn a_token_in_a_log_verifies() {
        let token = token_with(&test_identity(), &CHALLENGE);
        let rim_line = format!("realm-vmm: RIM {}", hex(&rim_bytes()[..32]));
        let log = log_of(&token, &rim_line);
        let found = token_from_log(&log).unwrap();
        assert_eq!(
            (found.bytes.as_slice(), found.line, found.count),
            (&token[..], 4, 1)
        );
        let (rim, line) = rim_from_log(&log).unwrap().unwrap();
        assert_eq!(line, 2);
        let report = verify(&found.bytes, &CHALLENGE, &rim, "the VMM's line").unwrap();
        assert!(
            report.iter().any(|l| l.starts_with("RIM: 0102")),
            "{report:?}"
        );
        // The whole 64-byte measurement, zeros after the digest, matches too.
        verify(&found.bytes, &CHALLENGE, &rim_bytes(), "--rim").unwrap();
    }

    #[test]
    fn mismatches_are_errors() {
        let token = token_with(&test_identity(), &CHALLENGE);
        let rim = &rim_bytes()[..32];
        let other = [0x11; 64];
        let e = verify(&token, &other, rim, "--rim").unwrap_err();
        assert!(e.contains("challenge"), "{e}");
        let mut wrong_rim = rim.to_vec();
        wrong_rim[31] ^= 1;
        let e = verify(&token, &CHALLENGE, &wrong_rim, "--rim").unwrap_err();
        assert!(e.starts_with("RIM mismatch"), "{e}");
        let mut bad = token.clone();
        *bad.last_mut().unwrap() ^= 1;
        let e = verify(&bad, &CHALLENGE, rim, "--rim").unwrap_err();
        assert!(e.contains("signature"), "{e}");
        // A RAK the platform token does not bind: a valid signature, refused.
        let key = RealmAttestationKey::from_scalar_bytes(&[0x42; 48]).unwrap();
        let rogue =
            AttestationIdentity::new(key, test_identity().platform_token().to_vec()).unwrap();
        let e = verify(&token_with(&rogue, &CHALLENGE), &CHALLENGE, rim, "--rim").unwrap_err();
        assert!(e.contains("not bound"), "{e}");
    }

    #[test]
    fn broken_logs_say_why() {
        let token = token_with(&test_identity(), &CHALLENGE);
        let log = log_of(&token, "");
        let e = token_from_log("guest: attestation failed: no provider\n").unwrap_err();
        assert!(e.ends_with("attestation failed: no provider"), "{e}");
        let cut = &log[..log.find(TOKEN_END).unwrap()];
        assert!(token_from_log(cut)
            .unwrap_err()
            .contains("no 'guest: token end'"));
        let noisy = log.replacen(
            TOKEN_BEGIN,
            &format!("{TOKEN_BEGIN}\n[   12.5] random: crng init done"),
            1,
        );
        assert!(token_from_log(&noisy).unwrap_err().contains("is not hex"));
        let short = log.replacen(&format!("{}\r\n", hex(&token[..16])), "", 1);
        assert!(token_from_log(&short)
            .unwrap_err()
            .contains("console output lost"));
        assert!(rim_from_log(&log).is_none());
        assert!(rim_from_log("realm-vmm: RIM 12x4\n").unwrap().is_err());
        // The last of two tokens is the one checked.
        let twice = format!("{}{}", log_of(&[0xAB], ""), log);
        let found = token_from_log(&twice).unwrap();
        assert_eq!((found.bytes, found.count), (token, 2));
    }

    #[test]
    fn hex_and_challenge_parsing() {
        assert_eq!(parse_hex("00fFa1").unwrap(), [0, 0xff, 0xa1]);
        assert!(parse_hex("abc").is_err());
        assert!(parse_hex("zz").is_err());
        assert!(parse_hex("é1").is_err());
        assert_eq!(parse_challenge(&"ab".repeat(64)).unwrap(), [0xab; 64]);
        assert!(parse_challenge(&"ab".repeat(32))
            .unwrap_err()
            .contains("32 bytes"));
        assert!(rim_matches(&[1, 2], &[1, 2]));
        assert!(!rim_matches(&[1, 2], &[1, 2, 0]));
        assert!(!rim_matches(&[1; 32], &[1; 64]));
    }
}
