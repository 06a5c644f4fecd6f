//! `casb scan PATH...`, `casb detectors` and `casb hash-values`: argument parsing only; the
//! commands live in `casb_shared::dlp`.
//! (Once the DLP crate is re-exported as `casb_shared::dlp`, replace `casb_shared::dlp::` with
//! `casb_shared::dlp::`.)
//!
//! Wire it in the CLI's subcommand enum:
//!     Scan(scan::ScanArgs),
//! and dispatch:
//!     Command::Scan(args) => std::process::exit(scan::run(args)),

use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MinConfidence {
    Low,
    Medium,
    High,
}

/// Scan files and folders (recursively) for sensitive data: PII, financial, health
/// data and secrets. Exit code 0 when clean, 1 when something was found, 2 on usage errors,
/// 3 when nothing was found but some file could not be (wholly) inspected.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Files or folders to scan.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format: text (one line per finding), json (one JSON object per line), sarif.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Policy file (JSON) with custom rules, disabled detectors, threshold and limits.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Report only findings at or above this confidence (overrides the policy; default
    /// medium). `low` adds valid values with nothing around them saying what they are.
    #[arg(long, value_enum)]
    pub min_confidence: Option<MinConfidence>,
    /// Also scan hidden files and folders (such as .git).
    #[arg(long)]
    pub include_hidden: bool,
}

/// Runs `casb scan`; returns the process exit code.
pub fn run(args: ScanArgs) -> i32 {
    let options = casb_shared::dlp::scan::ScanOptions {
        format: match args.format {
            Format::Text => casb_shared::dlp::scan::OutputFormat::Text,
            Format::Json => casb_shared::dlp::scan::OutputFormat::Json,
            Format::Sarif => casb_shared::dlp::scan::OutputFormat::Sarif,
        },
        policy: args.policy,
        min_confidence: args.min_confidence.map(|c| match c {
            MinConfidence::Low => casb_shared::dlp::Confidence::Low,
            MinConfidence::Medium => casb_shared::dlp::Confidence::Medium,
            MinConfidence::High => casb_shared::dlp::Confidence::High,
        }),
        include_hidden: args.include_hidden,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let code = casb_shared::dlp::scan::run(
        &args.paths,
        &options,
        &mut out,
        std::io::stderr().is_terminal(),
    );
    use std::io::Write;
    let _ = out.flush();
    code
}

/// `casb detectors`: the built-in catalog, one row per detector.
pub fn print_detectors() {
    print!("{}", casb_shared::dlp::catalog::markdown_table());
}

/// `casb hash-values`: the exact-data digest of each line of standard input, for a policy's
/// `hashes_file`, so the clear values never need to be stored next to the policy.
pub fn hash_values(salt: &str, case_sensitive: bool) -> std::io::Result<()> {
    use std::io::{BufRead, Write};
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let value = line.trim();
        if !value.is_empty() {
            let digest = casb_shared::dlp::policy_file::hash_value(salt, value, case_sensitive);
            writeln!(out, "{digest}")?;
        }
    }
    out.flush()
}
