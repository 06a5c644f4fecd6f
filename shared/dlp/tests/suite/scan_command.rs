//! `casb scan` end to end through `casb_dlp::scan::run_with_stderr`: exit codes, output
//! formats, policy handling, and that one bad file does not stop the run.

use casb_dlp::scan::{run_with_stderr, OutputFormat, ScanOptions};
use std::path::{Path, PathBuf};

const TOKEN: &str = "ghp_Z3xY9wV8uT7sR6qP5oN4mL3kJ2iH1gF0eD9c";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn scan(paths: &[PathBuf], options: &ScanOptions) -> Run {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = run_with_stderr(paths, options, &mut out, &mut err, false);
    Run {
        code,
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    }
}

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("sub/deeper")).unwrap();
    std::fs::write(
        dir.path().join("clean.txt"),
        "nothing sensitive, version 1.2.3.4, order 12345",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sub/deeper/keys.env"),
        format!("GITHUB_TOKEN={TOKEN}\nSSN 536-22-1234\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sub/broken.zip"),
        b"PK\x03\x04 not a zip at all",
    )
    .unwrap();
    std::fs::write(dir.path().join(".hidden"), "SSN 536-22-1234").unwrap();
    dir
}

fn opts(format: OutputFormat) -> ScanOptions {
    ScanOptions {
        format,
        ..Default::default()
    }
}

#[test]
fn exit_codes() {
    let dir = fixture();
    assert_eq!(
        scan(&[dir.path().join("clean.txt")], &opts(OutputFormat::Text)).code,
        0
    );
    assert_eq!(
        scan(&[dir.path().to_path_buf()], &opts(OutputFormat::Text)).code,
        1
    );
    let none = scan(&[], &opts(OutputFormat::Text));
    assert_eq!(none.code, 2);
    assert!(none.stderr.contains("no PATH"));
    let missing = scan(&[dir.path().join("nope")], &opts(OutputFormat::Text));
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("no such file"));
    // Nothing found, but a file could not be inspected: not "clean".
    let damaged = scan(
        &[dir.path().join("sub/broken.zip")],
        &opts(OutputFormat::Text),
    );
    assert_eq!(damaged.code, 3, "{}", damaged.stderr);
    let mixed = scan(
        &[
            dir.path().join("clean.txt"),
            dir.path().join("sub/broken.zip"),
        ],
        &opts(OutputFormat::Text),
    );
    assert_eq!(mixed.code, 3, "{}", mixed.stderr);
}

#[test]
fn a_text_file_with_a_few_nul_bytes_is_still_scanned_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let mut padded = b"employee record\nSSN 536-22-1234\n".repeat(20);
    padded.extend_from_slice(&[0u8; 4]);
    std::fs::write(dir.path().join("padded.txt"), &padded).unwrap();
    let run = scan(&[dir.path().join("padded.txt")], &opts(OutputFormat::Json));
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains("us_ssn"), "{}", run.stdout);
    // A real binary is still skipped.
    let mut binary = vec![0u8; 4096];
    binary[..4].copy_from_slice(b"\x7fELF");
    std::fs::write(dir.path().join("tool"), &binary).unwrap();
    let run = scan(&[dir.path().join("tool")], &opts(OutputFormat::Json));
    assert!(run.stderr.contains("skipped"), "{}", run.stderr);
}

#[test]
fn json_lines_recursive_with_masked_snippets_and_errors_on_stderr() {
    let dir = fixture();
    let run = scan(&[dir.path().to_path_buf()], &opts(OutputFormat::Json));
    assert_eq!(run.code, 1);
    let lines = json_lines(&run.stdout);
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    let mut detectors: Vec<&str> = lines
        .iter()
        .map(|v| v["detector"].as_str().unwrap())
        .collect();
    detectors.sort();
    assert_eq!(detectors, ["github_token", "us_ssn"]);
    for v in &lines {
        for key in [
            "path",
            "detector",
            "category",
            "confidence",
            "start",
            "end",
            "snippet",
        ] {
            assert!(!v[key].is_null(), "{key} missing in {v}");
        }
        assert!(v["path"].as_str().unwrap().ends_with("keys.env"));
    }
    let token = lines
        .iter()
        .find(|v| v["detector"] == "github_token")
        .unwrap();
    assert_eq!(token["category"], "secret");
    let (start, end) = (
        token["start"].as_u64().unwrap() as usize,
        token["end"].as_u64().unwrap() as usize,
    );
    let file = std::fs::read_to_string(dir.path().join("sub/deeper/keys.env")).unwrap();
    assert_eq!(&file[start..end], TOKEN);
    assert!(
        !run.stdout.contains(TOKEN),
        "full secret leaked into the output"
    );
    assert!(!run.stdout.contains("536-22-1234"));
    // The broken zip is an error on stderr, and the run went on (the .env was scanned).
    assert!(run.stderr.contains("broken.zip: error"), "{}", run.stderr);
    // Hidden files are skipped by default.
    assert!(!run.stdout.contains(".hidden"));
}

#[test]
fn sarif_output_is_one_document() {
    let dir = fixture();
    let run = scan(&[dir.path().join("sub")], &opts(OutputFormat::Sarif));
    assert_eq!(run.code, 1);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["version"], "2.1.0");
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(
        |r| r["locations"][0]["physicalLocation"]["region"]["byteLength"]
            .as_u64()
            .unwrap()
            > 0
    ));
    let notes = doc["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert!(notes.iter().any(|n| n["message"]["text"]
        .as_str()
        .unwrap()
        .contains("broken.zip")));
}

#[test]
fn text_format_and_min_confidence() {
    let dir = fixture();
    let run = scan(&[dir.path().join("sub")], &opts(OutputFormat::Text));
    assert!(
        run.stdout
            .lines()
            .any(|l| l.contains("github_token (secret, high)")),
        "{}",
        run.stdout
    );
    let strict = ScanOptions {
        min_confidence: Some(casb_dlp::Confidence::High),
        ..opts(OutputFormat::Text)
    };
    // "SSN" next to the number makes it high; without a keyword it is medium and dropped.
    std::fs::write(dir.path().join("with_keyword.txt"), "SSN 536-22-1234").unwrap();
    std::fs::write(dir.path().join("medium.txt"), "value 536-22-1234").unwrap();
    assert_eq!(
        scan(&[dir.path().join("with_keyword.txt")], &strict).code,
        1
    );
    let medium_only = scan(&[dir.path().join("medium.txt")], &strict);
    assert_eq!(medium_only.code, 0, "{}", medium_only.stdout);
    assert_eq!(
        scan(&[dir.path().join("medium.txt")], &opts(OutputFormat::Text)).code,
        1
    );
}

fn write_policy(dir: &Path, json: &str) -> PathBuf {
    let p = dir.join("policy.json");
    std::fs::write(&p, json).unwrap();
    p
}

#[test]
fn policy_file_rules_and_bad_policy() {
    let dir = fixture();
    std::fs::write(
        dir.path().join("memo.txt"),
        "Project Blue Falcon launches Monday",
    )
    .unwrap();
    let policy = write_policy(
        dir.path(),
        r#"{"only": [], "rules": [{"id": "codename", "type": "keywords", "terms": ["blue falcon"]}]}"#,
    );
    let options = ScanOptions {
        policy: Some(policy),
        ..opts(OutputFormat::Json)
    };
    let run = scan(
        &[dir.path().join("memo.txt"), dir.path().join("sub")],
        &options,
    );
    assert_eq!(run.code, 1);
    let lines = json_lines(&run.stdout);
    assert_eq!(
        lines.len(),
        1,
        "only the custom rule is enabled: {}",
        run.stdout
    );
    assert_eq!(lines[0]["detector"], "codename");
    assert_eq!(lines[0]["category"], "custom");

    let bad = write_policy(
        dir.path(),
        r#"{"rules": [{"id": "x", "type": "regex", "pattern": "(unclosed"}]}"#,
    );
    let run = scan(
        &[dir.path().join("memo.txt")],
        &ScanOptions {
            policy: Some(bad),
            ..opts(OutputFormat::Json)
        },
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("bad pattern"), "{}", run.stderr);
}

#[cfg(unix)]
#[test]
fn a_named_symlink_is_followed_but_links_inside_a_tree_are_not() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "SSN 536-22-1234").unwrap();
    let tree = tempfile::tempdir().unwrap();
    std::fs::write(tree.path().join("clean.txt"), "nothing here").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        tree.path().join("link.txt"),
    )
    .unwrap();

    // Walking the tree does not leave it through the link.
    let walked = scan(&[tree.path().to_path_buf()], &opts(OutputFormat::Json));
    assert_eq!(walked.code, 0, "{}", walked.stdout);
    // Named on the command line, the link is what the user wants scanned.
    let named = scan(&[tree.path().join("link.txt")], &opts(OutputFormat::Json));
    assert_eq!(named.code, 1, "{}", named.stderr);
    assert!(named.stdout.contains("us_ssn"));
}

/// `--format json` output: one finding per line.
fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Lines and columns an editor and GitHub code scanning point at: in text (`path:line:column`),
/// JSON and SARIF (`startLine`, `startColumn`, counted in characters), for a file read whole,
/// for a large file streamed in chunks, and for a member of an archive (named as a part).
#[test]
fn findings_carry_the_line_and_column_they_are_on() {
    let dir = tempfile::tempdir().unwrap();
    // Line 3; the column counts "é" as one character though it is two bytes.
    std::fs::write(
        dir.path().join("notes.txt"),
        "first line\nsecond line\ncafé key GITHUB_TOKEN=".to_string() + TOKEN + "\n",
    )
    .unwrap();
    let run = scan(&[dir.path().join("notes.txt")], &opts(OutputFormat::Text));
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("github_token"))
        .unwrap();
    let expected_column = "café key GITHUB_TOKEN=".chars().count() + 1;
    assert!(
        line.contains(&format!("notes.txt:3:{expected_column}: github_token")),
        "{line}"
    );
    let json = json_lines(&scan(&[dir.path().join("notes.txt")], &opts(OutputFormat::Json)).stdout);
    assert_eq!(json[0]["line"], 3);
    assert_eq!(json[0]["column"], expected_column);
    let sarif: serde_json::Value = serde_json::from_str(
        &scan(&[dir.path().join("notes.txt")], &opts(OutputFormat::Sarif)).stdout,
    )
    .unwrap();
    let region = &sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 3);
    assert_eq!(region["startColumn"], expected_column);
    assert_eq!(sarif["runs"][0]["columnKind"], "unicodeCodePoints");
    let rule = &sarif["runs"][0]["tool"]["driver"]["rules"][0];
    assert_eq!(rule["id"], "github_token");
    assert!(
        rule["shortDescription"]["text"]
            .as_str()
            .unwrap()
            .contains("GitHub"),
        "{rule}"
    );

    // Large enough to be streamed in chunks: the line count carries across them.
    let filler_line = "lorem ipsum dolor sit amet, nothing to see here at all\n";
    let lines_before = 200_000;
    let mut big = filler_line.repeat(lines_before);
    big.push_str("  SSN 536-22-1234\n");
    assert!(big.len() > 8 << 20, "{} bytes", big.len());
    std::fs::write(dir.path().join("big.log"), &big).unwrap();
    let streamed =
        json_lines(&scan(&[dir.path().join("big.log")], &opts(OutputFormat::Json)).stdout);
    let ssn = streamed.iter().find(|v| v["detector"] == "us_ssn").unwrap();
    assert_eq!(ssn["line"], lines_before + 1);
    assert_eq!(ssn["column"], 7);

    // Inside an archive: the member's own lines, and the member named.
    let mut zip = Vec::new();
    {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(&mut zip));
        writer
            .start_file("hr/payroll.csv", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut writer, b"name,ssn\nann,536-22-1234\n").unwrap();
        writer.finish().unwrap();
    }
    std::fs::write(dir.path().join("export.zip"), zip).unwrap();
    let run = scan(&[dir.path().join("export.zip")], &opts(OutputFormat::Text));
    assert!(
        run.stdout.contains("export.zip!hr/payroll.csv:2:5: us_ssn"),
        "{}",
        run.stdout
    );
}
