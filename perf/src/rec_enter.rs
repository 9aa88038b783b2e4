//! The REC enter/exit report: reads the `PERF` lines the test host prints in its perf mode
//! (`arch/test-host/src/perf.rs`, run by `scripts/run --perf` under `qemu -icount shift=0`),
//! one log per RMM image, and writes a markdown table and an SVG bar chart of instructions per
//! round trip, split between host, EL3, RMM and realm.
//!
//! `rmm-perf rec-enter --out DIR LABEL=LOG [LABEL=LOG ..]` writes `DIR/rec-enter.md` (also
//! printed) and `DIR/rec-enter.svg`.

use crate::report::escape;
use std::fmt::Write;
use std::path::PathBuf;

/// RMM-side instructions per host-call round trip the project aims for (issue 7).
pub const RMM_GOAL: u64 = 1000;

/// The variants, in the order the test host runs them: id and description.
const VARIANTS: [(&str, &str); 8] = [
    ("host-call", "RSI_HOST_CALL, host re-enters at once"),
    (
        "host-call-fp",
        "the same, realm writes d0 first (lazy FP/SIMD switch)",
    ),
    (
        "host-call-sve",
        "the same, SVE realm (2048 bits) writes z0 first (lazy SVE switch)",
    ),
    (
        "host-call-pmu",
        "the same, realm with a PMU (6 counters switched)",
    ),
    (
        "host-call-debug",
        "the same, realm with a breakpoint set and MDSCR_EL1.MDE (debug registers switched)",
    ),
    ("host-call-lrs", "the same, 4 list registers pending"),
    (
        "mmio",
        "emulated MMIO store (data abort exit, emul_mmio entry)",
    ),
    (
        "sgi",
        "ICC_SGI1R_EL1 write forwarded to the host (trapped MSR exit)",
    ),
];

/// Instructions per round trip of one variant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Split {
    pub total: u64,
    pub host: u64,
    pub el3: u64,
    pub rmm: u64,
    pub realm: u64,
}

/// One log: the RMM image's label and its variants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Run {
    pub label: String,
    pub round_trips: u64,
    /// One EL3 exception entry and return, in instructions.
    pub switch: u64,
    pub variants: Vec<(String, Split)>,
}

/// `key=value` fields of a PERF line.
fn field(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

fn id(line: &str) -> Option<&str> {
    line.split_whitespace().find_map(|f| f.strip_prefix("id="))
}

/// Parses a log. Counter ticks become instructions: under `-icount shift=0` one instruction
/// takes 1 ns, so instructions = ticks * 10^9 / CNTFRQ.
pub fn parse(label: &str, log: &str) -> Result<Run, String> {
    let lines: Vec<&str> = log
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| l.starts_with("PERF "))
        .collect();
    let head = lines
        .iter()
        .find(|l| field(l, "cntfrq").is_some())
        .ok_or_else(|| format!("{label}: no `PERF cntfrq=` line (did the perf mode run?)"))?;
    let freq = field(head, "cntfrq").filter(|&f| f > 0).ok_or("cntfrq=0")?;
    let insns = |ticks: u64| (u128::from(ticks) * 1_000_000_000 / u128::from(freq)) as u64;
    let mut run = Run {
        label: label.to_string(),
        round_trips: field(head, "round-trips").unwrap_or(0),
        ..Run::default()
    };
    for line in &lines {
        match id(line) {
            Some("switch") => run.switch = insns(field(line, "switch").unwrap_or(0)),
            Some(name) => {
                let get = |key| {
                    field(line, key)
                        .map(insns)
                        .ok_or_else(|| format!("{label}: `{key}=` missing in: {line}"))
                };
                let split = Split {
                    total: get("total")?,
                    host: get("host")?,
                    el3: get("el3")?,
                    rmm: get("rmm")?,
                    realm: get("realm")?,
                };
                run.variants.push((name.to_string(), split));
            }
            None => {}
        }
    }
    if run.variants.is_empty() {
        return Err(format!("{label}: no measured variant in the log"));
    }
    Ok(run)
}

fn description(id: &str) -> &str {
    VARIANTS
        .iter()
        .find(|(v, _)| *v == id)
        .map_or(id, |(_, d)| d)
}

/// The markdown table, one row per variant and image, and the goal's verdict.
pub fn markdown(runs: &[Run], command: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## REC enter/exit round trip (QEMU, `-icount shift=0`)\n"
    );
    let _ = writeln!(
        s,
        "Instructions per round trip: one RMI_REC_ENTER from the host to the realm and the REC \
         exit back. `{command}`\n"
    );
    let _ = writeln!(
        s,
        "| variant | RMM image | total | host | EL3 | RMM | realm |\n|---|---|---:|---:|---:|---:|---:|"
    );
    for (variant, _) in VARIANTS {
        for run in runs {
            if let Some((_, v)) = run.variants.iter().find(|(id, _)| id == variant) {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | **{}** | {} |",
                    description(variant),
                    run.label,
                    v.total,
                    v.host,
                    v.el3,
                    v.rmm,
                    v.realm
                );
            }
        }
    }
    let _ = writeln!(s);
    for run in runs {
        let _ = writeln!(
            s,
            "- {}: {} round trips per variant; one EL3 exception entry and return (outside its \
             handler) costs {} instructions.",
            run.label, run.round_trips, run.switch
        );
        if let Some((_, v)) = run.variants.iter().find(|(id, _)| id == "host-call") {
            let verdict = if v.rmm <= RMM_GOAL {
                format!("met ({} ≤ {RMM_GOAL})", v.rmm)
            } else {
                format!(
                    "missed by {} ({} > {RMM_GOAL}, {:.1}×)",
                    v.rmm - RMM_GOAL,
                    v.rmm,
                    v.rmm as f64 / RMM_GOAL as f64
                )
            };
            let _ = writeln!(
                s,
                "- {}: goal of at most {RMM_GOAL} RMM instructions per host-call round trip: {verdict}.",
                run.label
            );
        }
    }
    let _ = writeln!(
        s,
        "\nHow it is split: EL3 (our test firmware) counts the instructions of its own handlers \
         and of each Realm-world window between them; the realm reports its own instructions \
         outside the exit; the cost of one EL3 exception entry and return is measured with a \
         null SiP call. RMM = Realm-world window − realm − one EL3 entry and return; EL3 = its \
         handlers + two entries and returns; host = the rest."
    );
    s
}

const PARTS: [(&str, &str); 4] = [
    ("host", "#9e9e9e"),
    ("EL3", "#ff7f0e"),
    ("RMM", "#1f77b4"),
    ("realm", "#2ca02c"),
];

/// A horizontal stacked bar per variant and image.
pub fn svg(runs: &[Run]) -> String {
    const LEFT: f64 = 230.0;
    const BAR_W: f64 = 560.0;
    const ROW: f64 = 26.0;
    const TOP: f64 = 64.0;
    let rows: Vec<(&str, &Run, Split)> = VARIANTS
        .iter()
        .flat_map(|(variant, _)| {
            runs.iter().filter_map(move |run| {
                let v = run.variants.iter().find(|(id, _)| id == variant)?;
                Some((*variant, run, v.1))
            })
        })
        .collect();
    let max = rows.iter().map(|r| r.2.total).max().unwrap_or(1).max(1) as f64;
    let height = TOP + ROW * rows.len() as f64 + 50.0;
    let width = LEFT + BAR_W + 190.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="16" font-weight="bold">Instructions per REC enter/exit round trip (QEMU -icount shift=0)</text>"#,
        width / 2.0
    );
    for (i, (name, color)) in PARTS.iter().enumerate() {
        let x = LEFT + i as f64 * 90.0;
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="36" width="12" height="12" fill="{color}"/><text x="{}" y="46">{name}</text>"#,
            x + 16.0
        );
    }
    for (k, (variant, run, v)) in rows.iter().enumerate() {
        let y = TOP + k as f64 * ROW;
        let label = if runs.len() > 1 {
            format!("{variant} ({})", run.label)
        } else {
            variant.to_string()
        };
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            LEFT - 8.0,
            y + 15.0,
            escape(&label)
        );
        let mut x = LEFT;
        for (part, (_, color)) in [v.host, v.el3, v.rmm, v.realm].iter().zip(PARTS) {
            let w = *part as f64 / max * BAR_W;
            let _ = writeln!(
                s,
                r#"<rect x="{x:.1}" y="{y}" width="{w:.1}" height="{}" fill="{color}"/>"#,
                ROW - 6.0
            );
            x += w;
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}">{} (RMM {})</text>"#,
            x + 6.0,
            y + 15.0,
            v.total,
            v.rmm
        );
    }
    let goal_x = LEFT + RMM_GOAL as f64 / max * BAR_W;
    let bottom = TOP + ROW * rows.len() as f64;
    let _ = writeln!(
        s,
        r##"<line x1="{goal_x:.1}" y1="{}" x2="{goal_x:.1}" y2="{bottom}" stroke="#d62728" stroke-dasharray="4 3"/><text x="{goal_x:.1}" y="{}" fill="#d62728" text-anchor="middle">RMM goal {RMM_GOAL}</text>"##,
        TOP - 4.0,
        bottom + 16.0
    );
    s.push_str("</svg>\n");
    s
}

/// `rmm-perf rec-enter --out DIR [--command TEXT] LABEL=LOG ..`.
pub fn main(args: &[String]) -> Result<(), String> {
    let mut out = None;
    let mut command = String::from("scripts/perf");
    let mut runs = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--out" => out = Some(PathBuf::from(it.next().ok_or("--out needs a folder")?)),
            "--command" => command = it.next().ok_or("--command needs text")?.clone(),
            spec => {
                let (label, path) = spec
                    .split_once('=')
                    .ok_or_else(|| format!("expected LABEL=LOG, not {spec}"))?;
                let log = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {path}: {e}"))?;
                runs.push(parse(label, &log)?);
            }
        }
    }
    let out = out.ok_or("--out DIR is required")?;
    if runs.is_empty() {
        return Err("no LABEL=LOG given".into());
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let md = markdown(&runs, &command);
    for (name, text) in [("rec-enter.md", &md), ("rec-enter.svg", &svg(&runs))] {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    print!("{md}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "EL3: boot\r\n\
        PERF cntfrq=1000000000 round-trips=2000\n\
        PERF id=switch total=127 handler=44 switch=83\n\
        PERF id=host-call total=4059 host=15 el3=993 rmm=3042 realm=9\n\
        PASS perf/host-call\n\
        PERF id=mmio total=3536 host=15 el3=993 rmm=2523 realm=5\n";

    #[test]
    fn parses_every_variant_line() {
        let run = parse("ours", LOG).unwrap();
        assert_eq!(run.round_trips, 2000);
        assert_eq!(run.switch, 83);
        assert_eq!(run.variants.len(), 2);
        assert_eq!(
            run.variants[0],
            (
                "host-call".to_string(),
                Split {
                    total: 4059,
                    host: 15,
                    el3: 993,
                    rmm: 3042,
                    realm: 9
                }
            )
        );
        assert_eq!(run.variants[1].1.rmm, 2523);
    }

    #[test]
    fn converts_ticks_to_instructions_by_frequency() {
        let log = LOG.replace("cntfrq=1000000000", "cntfrq=62500000");
        let run = parse("slow", &log).unwrap();
        // 62.5 MHz: one tick is 16 ns, 16 instructions.
        assert_eq!(run.variants[0].1.total, 4059 * 16);
    }

    #[test]
    fn refuses_a_log_without_perf_lines() {
        assert!(parse("x", "test-host: 79 passed, 0 failed\n").is_err());
        assert!(parse("x", "PERF cntfrq=1000000000 round-trips=1\n").is_err());
    }

    #[test]
    fn markdown_states_the_goal_verdict() {
        let md = markdown(&[parse("ours", LOG).unwrap()], "scripts/perf");
        assert!(md.contains(
            "| RSI_HOST_CALL, host re-enters at once | ours | 4059 | 15 | 993 | **3042** | 9 |"
        ));
        assert!(md.contains("missed by 2042 (3042 > 1000, 3.0×)"));
        let mut good = parse("ours", LOG).unwrap();
        good.variants[0].1.rmm = 900;
        assert!(markdown(&[good], "x").contains("met (900 ≤ 1000)"));
    }

    #[test]
    fn svg_has_a_bar_per_variant_and_image() {
        let runs = [parse("ours", LOG).unwrap(), parse("other", LOG).unwrap()];
        let svg = svg(&runs);
        assert_eq!(svg.matches("(ours)").count(), 2);
        assert_eq!(svg.matches("(other)").count(), 2);
        assert!(svg.ends_with("</svg>\n"));
    }
}
