//! `casb scan PATH...`: recursive scan of files and folders.
//!
//! Output on stdout: `text` (one line per finding, `path:line:column: detector (category,
//! confidence) snippet`), `json` (one JSON object per finding per line: path, part, detector,
//! category, confidence, line, column, start, end, snippet) or `sarif` (SARIF 2.1.0, with each
//! result's `startLine` and `startColumn`). Lines and columns (in characters) are those of the
//! extracted text, which for plain text files is the file; `start` and `end` are byte offsets
//! into it. A finding in a document or archive member names the part it came from
//! (`report.zip!q4.csv`). Errors, skipped files and the progress bar go to stderr; one file's error
//! never stops the run.
//!
//! Exit code: 0 no finding, 1 findings, 2 usage error (no path, missing path, bad policy).

use crate::engine::Engine;
use crate::extract::Limits;
use crate::model::{Confidence, Finding, ScanReport};
use crate::policy_file;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
    Sarif,
}

impl OutputFormat {
    pub fn parse(s: &str) -> Option<OutputFormat> {
        match s {
            "text" => Some(OutputFormat::Text),
            "json" => Some(OutputFormat::Json),
            "sarif" => Some(OutputFormat::Sarif),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    pub format: OutputFormat,
    /// Policy file (see [`crate::policy_file`]).
    pub policy: Option<PathBuf>,
    /// Overrides the policy's threshold.
    pub min_confidence: Option<Confidence>,
    /// Also scan hidden entries and `.git` folders (skipped by default).
    pub include_hidden: bool,
}

pub const EXIT_CLEAN: i32 = 0;
pub const EXIT_FINDINGS: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
/// Nothing found, but not everything was inspected: a file could not be read, or extraction
/// stopped at a limit or on damage. "Clean" would be a claim the scan cannot make.
pub const EXIT_INCOMPLETE: i32 = 3;

/// Runs the command; diagnostics go to the process's stderr.
pub fn run(
    paths: &[PathBuf],
    options: &ScanOptions,
    stdout: &mut dyn Write,
    stderr_is_terminal: bool,
) -> i32 {
    let stderr = std::io::stderr();
    let mut stderr = stderr.lock();
    run_with_stderr(paths, options, stdout, &mut stderr, stderr_is_terminal)
}

/// [`run`] with stderr as a parameter (for tests and embedding).
pub fn run_with_stderr(
    paths: &[PathBuf],
    options: &ScanOptions,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    progress: bool,
) -> i32 {
    if paths.is_empty() {
        let _ = writeln!(stderr, "casb scan: no PATH given");
        return EXIT_USAGE;
    }
    let (engine, limits) = match &options.policy {
        Some(p) => match policy_file::load(p) {
            Ok(mut policy) => {
                if options.min_confidence.is_some() {
                    policy.min_confidence = options.min_confidence;
                }
                match policy.build_engine() {
                    Ok(e) => (e, policy.limits),
                    Err(e) => {
                        let _ = writeln!(stderr, "casb scan: policy {}: {e}", p.display());
                        return EXIT_USAGE;
                    }
                }
            }
            Err(e) => {
                let _ = writeln!(stderr, "casb scan: {e}");
                return EXIT_USAGE;
            }
        },
        None => {
            let mut b = Engine::builder();
            if let Some(c) = options.min_confidence {
                b = b.min_confidence(c);
            }
            match b.build() {
                Ok(e) => (e, Limits::default()),
                Err(e) => {
                    let _ = writeln!(stderr, "casb scan: {e}");
                    return EXIT_USAGE;
                }
            }
        }
    };

    let mut files = Vec::new();
    let mut missing = false;
    for p in paths {
        if std::fs::symlink_metadata(p).is_err() {
            let _ = writeln!(
                stderr,
                "casb scan: {}: no such file or directory",
                p.display()
            );
            missing = true;
            continue;
        }
        collect_files(p, true, options.include_hidden, &mut files, stderr);
    }

    let mut total_findings = 0usize;
    let mut total_bytes = 0u64;
    let mut error_count = 0usize;
    let mut sarif_results = Vec::new();
    let mut sarif_notes = Vec::new();
    let mut used_rules = std::collections::BTreeMap::new();
    for (i, path) in files.iter().enumerate() {
        if progress {
            draw_progress(stderr, i, files.len(), path);
        }
        let shown = path.display().to_string();
        // Findings are written as they are found (JSON lines and text never hold a file's
        // findings in memory); SARIF is one document, so its results are kept until the end.
        let mut file_findings = 0usize;
        let mut write_failed = false;
        let mut on_finding = |f: crate::model::Finding| {
            file_findings += 1;
            if write_failed {
                return;
            }
            let written = match options.format {
                OutputFormat::Text => writeln!(stdout, "{}", text_line(&shown, &f)),
                OutputFormat::Json => write_json_line(stdout, &shown, &f),
                OutputFormat::Sarif => {
                    used_rules.insert(f.detector_id.clone(), f.category);
                    sarif_results.push(sarif_result(&shown, &f));
                    Ok(())
                }
            };
            write_failed = written.is_err();
        };
        let report = match engine.scan_file_into(path, &limits, &mut on_finding) {
            Ok(r) => r,
            Err(e) => ScanReport {
                errors: vec![format!("cannot read: {e}")],
                ..Default::default()
            },
        };
        total_findings += file_findings;
        if write_failed {
            // stdout closed (e.g. piped into `head`): nothing more can be reported.
            return if total_findings > 0 {
                EXIT_FINDINGS
            } else {
                EXIT_CLEAN
            };
        }
        if progress && (!report.errors.is_empty() || report.skipped.is_some()) {
            let _ = write!(stderr, "\r\x1b[2K");
        }
        for e in &report.errors {
            error_count += 1;
            let _ = writeln!(stderr, "{shown}: error: {e}");
            sarif_notes
                .push(json!({"level": "warning", "message": {"text": format!("{shown}: {e}")}}));
        }
        if let Some(reason) = &report.skipped {
            let _ = writeln!(stderr, "{shown}: skipped: {reason}");
            sarif_notes.push(json!({"level": "note", "message": {"text": format!("{shown}: skipped: {reason}")}}));
        }
        total_bytes += report.scanned_bytes;
    }
    if progress {
        let _ = write!(stderr, "\r\x1b[2K");
    }
    if options.format == OutputFormat::Sarif {
        let names: std::collections::HashMap<&str, &str> = crate::catalog::builtin()
            .iter()
            .map(|spec| (spec.id, spec.name))
            .collect();
        let rules: Vec<_> = used_rules
            .iter()
            .map(|(id, cat)| {
                // Custom rules and exact-data sets are named by their id in the policy file.
                let name = names.get(id.as_str()).copied().unwrap_or(id.as_str());
                json!({
                    "id": id,
                    "name": name,
                    "shortDescription": {"text": name},
                    "fullDescription": {"text": format!("{name} ({cat} data), found by casb scan's `{id}` detector")},
                    "properties": {"category": cat}
                })
            })
            .collect();
        let sarif = json!({
            "version": "2.1.0",
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "runs": [{
                "tool": {"driver": {"name": "casb-scan", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
                "columnKind": "unicodeCodePoints",
                "results": sarif_results,
                "invocations": [{"executionSuccessful": true, "toolExecutionNotifications": sarif_notes}],
            }]
        });
        let _ = writeln!(stdout, "{sarif}");
    }
    let _ = stdout.flush();
    if options.format == OutputFormat::Text || progress {
        let _ = writeln!(
            stderr,
            "scanned {} files, {} bytes of text: {} findings, {} errors",
            files.len(),
            total_bytes,
            total_findings,
            error_count
        );
    }
    if missing {
        EXIT_USAGE
    } else if total_findings > 0 {
        EXIT_FINDINGS
    } else if error_count > 0 {
        EXIT_INCOMPLETE
    } else {
        EXIT_CLEAN
    }
}

fn display_path(path: &str, f: &Finding) -> String {
    match &f.part {
        Some(part) => format!("{path}!{part}"),
        None => path.to_string(),
    }
}

fn text_line(path: &str, f: &Finding) -> String {
    format!(
        "{}:{}:{}: {} ({}, {}) {}",
        display_path(path, f),
        f.line,
        f.column,
        f.detector_id,
        f.category,
        f.confidence,
        f.snippet
    )
}

/// One line of `--format json`, serialized straight from borrowed fields.
#[derive(serde::Serialize)]
struct JsonLine<'a> {
    path: &'a str,
    part: Option<&'a str>,
    detector: &'a str,
    category: crate::model::Category,
    confidence: Confidence,
    line: usize,
    column: usize,
    start: usize,
    end: usize,
    snippet: &'a str,
}

fn write_json_line(out: &mut dyn Write, path: &str, f: &Finding) -> std::io::Result<()> {
    let line = JsonLine {
        path,
        part: f.part.as_deref(),
        detector: &f.detector_id,
        category: f.category,
        confidence: f.confidence,
        line: f.line,
        column: f.column,
        start: f.start,
        end: f.end,
        snippet: &f.snippet,
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}

fn sarif_result(path: &str, f: &Finding) -> serde_json::Value {
    let level = match f.confidence {
        Confidence::High => "error",
        Confidence::Medium => "warning",
        Confidence::Low => "note",
    };
    let uri = display_path(path, f);
    json!({
        "ruleId": f.detector_id,
        "level": level,
        "message": {"text": format!("{} ({} confidence): {}", f.detector_id, f.confidence, f.snippet)},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": uri},
            "region": {
                "startLine": f.line,
                "startColumn": f.column,
                "byteOffset": f.start,
                "byteLength": f.end - f.start
            }
        }}],
        "properties": {"category": f.category, "confidence": f.confidence},
    })
}

/// Files under `path`, sorted, symlinks not followed (no loops), hidden entries and
/// `.git` skipped unless asked for. Unreadable folders are reported and skipped.
/// Regular files under `path`. A path named on the command line is followed if it is a
/// symlink (the user asked for it); links met while walking are not (no loops, no escaping
/// the tree).
fn collect_files(
    path: &Path,
    named: bool,
    include_hidden: bool,
    out: &mut Vec<PathBuf>,
    stderr: &mut dyn Write,
) {
    let meta = if named {
        std::fs::metadata(path)
    } else {
        std::fs::symlink_metadata(path)
    };
    let meta = match meta {
        Ok(m) => m,
        Err(e) => {
            let _ = writeln!(stderr, "{}: error: {e}", path.display());
            return;
        }
    };
    if meta.is_file() {
        out.push(path.to_path_buf());
        return;
    }
    if !meta.is_dir() {
        if named {
            // A FIFO or a device would block or never end.
            let _ = writeln!(stderr, "{}: skipped: not a regular file", path.display());
        }
        return;
    }
    let entries = match std::fs::read_dir(path) {
        Ok(e) => e,
        Err(e) => {
            let _ = writeln!(stderr, "{}: error: {e}", path.display());
            return;
        }
    };
    let mut children: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    children.sort();
    for child in children {
        let hidden = child
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden && !include_hidden {
            continue;
        }
        collect_files(&child, false, include_hidden, out, stderr);
    }
}

fn draw_progress(stderr: &mut dyn Write, done: usize, total: usize, current: &Path) {
    const WIDTH: usize = 30;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    let name: String = current
        .display()
        .to_string()
        .chars()
        .rev()
        .take(40)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let _ = write!(
        stderr,
        "\r\x1b[2K[{}{}] {}/{} {}",
        "=".repeat(filled),
        " ".repeat(WIDTH - filled),
        done,
        total,
        name
    );
    let _ = stderr.flush();
}
