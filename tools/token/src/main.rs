//! `rmm-token verify --log FILE --challenge HEX [--rim HEX]`: finds the CCA attestation token a
//! Linux realm guest printed in a console log (between `guest: token begin` and `guest: token
//! end`), verifies its signature and challenge, compares its RIM with `--rim` or else with the
//! log's `realm-vmm: RIM <hex>` line, and prints the claims. Exits 1 on any mismatch, 2 on a
//! usage or input error.

use rmm_token::{parse_challenge, parse_hex, rim_from_log, token_from_log, verify};
use std::process::ExitCode;

const USAGE: &str = "usage: rmm-token verify --log FILE --challenge HEX [--rim HEX]
  --log FILE       a console log with the guest's 'guest: token begin' .. 'guest: token end'
                   hex lines (CR LF or LF; the last token in the log is checked)
  --challenge HEX  the challenge the guest was given (128 hex digits)
  --rim HEX        the expected RIM (the digest, or all 64 bytes of the measurement); default:
                   the log's last 'realm-vmm: RIM <hex>' line";

enum Failure {
    Usage(String),
    Input(String),
    Mismatch(String),
}

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(report) => {
            for line in report {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(why)) => {
            eprintln!("rmm-token: {why}\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Input(why)) => {
            eprintln!("rmm-token: error: {why}");
            ExitCode::from(2)
        }
        Err(Failure::Mismatch(why)) => {
            eprintln!("rmm-token: FAILED: {why}");
            ExitCode::from(1)
        }
    }
}

fn run(args: Vec<String>) -> Result<Vec<String>, Failure> {
    let mut args = args.into_iter();
    match args.next().as_deref() {
        Some("verify") => {}
        Some("-h" | "--help") => return Ok(vec![USAGE.to_string()]),
        Some(other) => return Err(Failure::Usage(format!("unknown command {other:?}"))),
        None => return Err(Failure::Usage("a command is needed".into())),
    }
    let (mut log, mut challenge, mut rim) = (None, None, None);
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "--log" => &mut log,
            "--challenge" => &mut challenge,
            "--rim" => &mut rim,
            "-h" | "--help" => return Ok(vec![USAGE.to_string()]),
            _ => return Err(Failure::Usage(format!("unknown option {arg:?}"))),
        };
        *slot = Some(
            args.next()
                .ok_or_else(|| Failure::Usage(format!("{arg} needs a value")))?,
        );
    }
    let log_path = log.ok_or_else(|| Failure::Usage("--log FILE is needed".into()))?;
    let challenge = challenge.ok_or_else(|| Failure::Usage("--challenge HEX is needed".into()))?;
    let challenge = parse_challenge(&challenge).map_err(Failure::Usage)?;
    let bytes = std::fs::read(&log_path)
        .map_err(|e| Failure::Input(format!("cannot read {log_path}: {e}")))?;
    let log = String::from_utf8_lossy(&bytes);

    let token = token_from_log(&log).map_err(|e| Failure::Input(format!("{log_path}: {e}")))?;
    let (rim, rim_source) = match rim {
        Some(hex) => (
            parse_hex(&hex).map_err(|e| Failure::Usage(format!("--rim: {e}")))?,
            "--rim".to_string(),
        ),
        None => match rim_from_log(&log) {
            Some(Ok((rim, line))) => (rim, format!("the VMM's RIM (line {line})")),
            Some(Err(e)) => return Err(Failure::Input(format!("{log_path}: {e}"))),
            None => {
                return Err(Failure::Input(format!(
                    "no --rim and no 'realm-vmm: RIM <hex>' line in {log_path}: nothing to compare the RIM with"
                )))
            }
        },
    };
    let which = match token.count {
        1 => "the token".to_string(),
        n => format!("the last of {n} tokens"),
    };
    let mut report = vec![format!(
        "log: {log_path}: {which}, from line {}",
        token.line
    )];
    report.extend(verify(&token.bytes, &challenge, &rim, &rim_source).map_err(Failure::Mismatch)?);
    report.push("rmm-token: token verified".to_string());
    Ok(report)
}
