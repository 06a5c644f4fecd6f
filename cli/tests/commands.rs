//! The `casb` command as a user runs it: the real binary, against the Box simulator and on files.

use std::process::Command;

use box_simulator::{BoxSimulator, SimConfig};

fn casb() -> Command {
    Command::new(env!("CARGO_BIN_EXE_casb"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_prints_normalized_activities_and_act_changes_the_file() {
    let sim = BoxSimulator::start(SimConfig {
        record_api_downloads: false,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let admin = sim.admin_user_id();
    let token = sim.issue_tokens(&admin).unwrap().access_token;
    let folder = sim.create_folder(&admin, "0", "Reports").unwrap();
    let file = sim
        .upload_file(&admin, &folder, "q1.csv", "4111111111111111\n")
        .unwrap();
    sim.share_file(None, &file, "open").unwrap();
    let api_base = sim.api_base();

    let output = tokio::task::spawn_blocking({
        let (api_base, token) = (api_base.clone(), token.clone());
        move || {
            casb()
                .args([
                    "poll",
                    "--provider",
                    "box",
                    "--api-base",
                    &api_base,
                    "--access-token",
                    &token,
                    "--once",
                ])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let activities: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON activity"))
        .collect();
    let share = activities
        .iter()
        .find(|a| a["event_name"] == "SHARE")
        .expect("the SHARE event is printed");
    assert_eq!(share["object_id"], file.as_str());
    assert_eq!(share["object_path"], "/Reports/q1.csv");
    assert_eq!(share["link_visibility"], "public");
    assert_eq!(share["provider"], "box");
    assert!(activities
        .iter()
        .any(|a| a["event_name"] == "UPLOAD" && a["event_type"] == "data_creation"));

    let act = |action: &str| {
        let (api_base, token, file) = (api_base.clone(), token.clone(), file.clone());
        let action = action.to_string();
        tokio::task::spawn_blocking(move || {
            casb()
                .args([
                    "act",
                    "--provider",
                    "box",
                    "--api-base",
                    &api_base,
                    "--access-token",
                    &token,
                    &action,
                    &file,
                ])
                .output()
                .unwrap()
        })
    };
    let removed = act("remove-link").await.unwrap();
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    assert!(sim.file(&file).unwrap().shared_link.is_none());
    let quarantined = act("quarantine").await.unwrap();
    assert!(quarantined.status.success());
    let outcome: serde_json::Value = serde_json::from_slice(&quarantined.stdout).unwrap();
    assert_eq!(outcome["status"], "succeeded");
    assert!(outcome["detail"]
        .as_str()
        .unwrap()
        .contains(&format!("original_parent={folder}")));
    assert_eq!(
        sim.file(&file).unwrap().parent_id,
        sim.find_folder("0", "CASB Quarantine").unwrap()
    );

    let unknown = act("shred").await.unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown action 'shred'"));
}

#[test]
fn demo_runs_the_scenario_and_prints_the_summary() {
    let output = casb().arg("demo").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for heading in [
        "Activities ingested",
        "Incidents by policy and severity",
        "Response actions",
        "Box after remediation",
    ] {
        assert!(
            stdout.contains(heading),
            "missing '{heading}' in:\n{stdout}"
        );
    }
    // Both ingest paths brought activities in.
    let count = |label: &str| -> usize {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no '{label}' row"));
        line.split_whitespace().last().unwrap().parse().unwrap()
    };
    assert!(count("push (webhooks)") > 0, "{stdout}");
    assert!(count("pull (event stream)") > 0, "{stdout}");
    // The three sensitive files ended in quarantine; the harmless ones did not.
    let row = |file: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(file))
            .unwrap_or_else(|| panic!("no row for {file}"))
            .to_string()
    };
    for sensitive in ["q4-card-payments.csv", "deploy.env", "customers.csv"] {
        assert!(
            row(sensitive).contains("CASB Quarantine"),
            "{}",
            row(sensitive)
        );
    }
    for harmless in ["budget-notes.txt", "pitch.txt"] {
        assert!(
            !row(harmless).contains("CASB Quarantine"),
            "{}",
            row(harmless)
        );
    }
    assert!(
        !stdout.contains("Failed") && !stdout.contains("Pending"),
        "{stdout}"
    );
}

#[test]
fn scan_reports_findings_as_json_lines_and_answers_with_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("clean.txt"),
        "minutes of the meeting, v2.4.1",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("hr")).unwrap();
    std::fs::write(
        dir.path().join("hr/payroll.csv"),
        "name,ssn\nann,536-22-1234\n",
    )
    .unwrap();

    let clean = casb()
        .arg("scan")
        .arg(dir.path().join("clean.txt"))
        .output()
        .unwrap();
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    assert!(clean.stdout.is_empty());

    let found = casb()
        .args(["scan", "--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(found.status.code(), Some(1));
    let stdout = String::from_utf8(found.stdout).unwrap();
    let lines = json_lines(&stdout);
    assert_eq!(lines.len(), 1, "{stdout}");
    assert_eq!(lines[0]["detector"], "us_ssn");
    assert!(lines[0]["path"].as_str().unwrap().ends_with("payroll.csv"));
    assert!(
        !stdout.contains("536-22-1234"),
        "the value itself is never printed"
    );

    // Usage errors: no path, an unknown format.
    assert_eq!(casb().arg("scan").output().unwrap().status.code(), Some(2));
    let bad_format = casb()
        .args(["scan", "--format", "xml"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(bad_format.status.code(), Some(2));
}

#[test]
fn exact_data_rules_match_values_hashed_by_hash_values_without_storing_them() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut hasher = casb()
        .args(["hash-values", "--salt", "tenant-7"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    hasher
        .stdin
        .take()
        .unwrap()
        .write_all(b"E104233\ne998877\n")
        .unwrap();
    let hashed = hasher.wait_with_output().unwrap();
    assert!(hashed.status.success());
    let hashes = String::from_utf8(hashed.stdout).unwrap();
    assert_eq!(hashes.lines().count(), 2);
    assert!(!hashes.contains("104233"), "only digests are written");
    std::fs::write(dir.path().join("employees.sha256"), &hashes).unwrap();
    std::fs::write(
        dir.path().join("policy.json"),
        r#"{"only": [], "rules": [{"id": "employee_id", "type": "exact_data",
            "pattern": "\\bE\\d{6}\\b", "salt": "tenant-7", "hashes_file": "employees.sha256"}]}"#,
    )
    .unwrap();
    // A listed id (in another case: values are compared lower-cased) and one that is not listed.
    std::fs::write(dir.path().join("roster.txt"), "ann E998877, bob E123456").unwrap();

    let scan = casb()
        .args(["scan", "--format", "json", "--policy"])
        .arg(dir.path().join("policy.json"))
        .arg(dir.path().join("roster.txt"))
        .output()
        .unwrap();
    assert_eq!(
        scan.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&scan.stderr)
    );
    let stdout = String::from_utf8(scan.stdout).unwrap();
    let findings = json_lines(&stdout);
    assert_eq!(findings.len(), 1, "{stdout}");
    assert_eq!(findings[0]["detector"], "employee_id");
    assert_eq!(findings[0]["start"], 4);
}

#[test]
fn detectors_lists_the_whole_catalog() {
    let out = casb().arg("detectors").output().unwrap();
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    let ids: Vec<&str> = table
        .lines()
        .skip(2)
        .filter_map(|row| row.split('`').nth(1))
        .collect();
    let catalog: Vec<&str> = casb_shared::dlp::catalog::builtin()
        .iter()
        .map(|d| d.id)
        .collect();
    assert!(catalog.len() >= 100, "{} detectors", catalog.len());
    assert_eq!(
        ids, catalog,
        "every detector is listed, once, in catalog order"
    );
}

/// `--format json` output: one finding per line.
fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
