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
fn the_microsoft_365_demo_consents_ingests_both_ways_and_remediates_at_microsoft() {
    let output = casb()
        .args(["demo", "--provider", "m365"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("through Microsoft's admin consent"),
        "{stdout}"
    );
    let count = |label: &str| -> usize {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no '{label}' row in:\n{stdout}"));
        line.split_whitespace().last().unwrap().parse().unwrap()
    };
    // Every audit record came by webhook and by poll, and is stored once; Graph's change
    // observations come by poll only.
    let pushed = count("push (webhooks)");
    assert!(pushed > 100, "{stdout}");
    assert_eq!(count("both, stored once"), pushed, "{stdout}");
    assert!(count("total") > pushed, "{stdout}");
    let row = |file: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(file))
            .unwrap_or_else(|| panic!("no row for {file} in:\n{stdout}"))
            .to_string()
    };
    // The sensitive files are quarantined with their links and guests gone; the harmless
    // public file lost its anyone link; the harmless internal link stays.
    for sensitive in ["q4-card-payments.csv", "deploy.env", "customers.csv"] {
        let line = row(sensitive);
        assert!(line.contains("CASB Quarantine"), "{line}");
        assert!(!line.contains("anonymous") && !line.contains('@'), "{line}");
    }
    assert!(
        !row("README.md").contains("anonymous"),
        "{}",
        row("README.md")
    );
    assert!(
        row("budget-notes.txt").contains("organization"),
        "{}",
        row("budget-notes.txt")
    );
    for detector in ["brute_force", "mass_download"] {
        assert!(stdout.contains(detector), "no {detector} in:\n{stdout}");
    }
    // Every response action succeeded.
    let actions: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Response actions"))
        .skip(3)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    assert!(actions.len() >= 4, "{stdout}");
    assert!(
        actions.iter().all(|l| l.contains("Succeeded")),
        "{actions:#?}"
    );
}

#[test]
fn demo_runs_the_scenario_and_prints_the_summary() {
    // MaxMind's test database (scripts/test.sh fetches it) places the demo's addresses.
    let geoip = std::env::var("CASB_TEST_GEOIP_DB").ok();
    assert!(
        geoip.is_some() || std::env::var("CI").as_deref() != Ok("true"),
        "CASB_TEST_GEOIP_DB is needed under CI: scripts/test.sh fetches MaxMind's test database"
    );
    let mut demo = casb();
    demo.arg("demo");
    if let Some(db) = &geoip {
        demo.env("CASB_GEOIP_DB", db);
    }
    let output = demo.output().unwrap();
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
        "Anomalies",
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
    // The demo read its incidents and an anomaly's activities through the REST API with a key
    // it created, and printed the curl commands that do the same.
    let through_api = |prefix: &str| -> usize {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap_or_else(|| panic!("no '{prefix}' line in:\n{stdout}"));
        line.split("-> ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().find_map(|w| w.parse().ok()))
            .unwrap_or_else(|| panic!("{line}"))
    };
    assert!(through_api("GET  /api/v1/incidents") >= 5, "{stdout}");
    assert!(
        through_api("POST /shnapi/rest/external/api/v1/queryActivities") > 0,
        "{stdout}"
    );
    assert!(stdout.contains("KEY=casb_k_"), "{stdout}");
    assert!(stdout.contains(
        "curl -s -H \"Authorization: Bearer $KEY\" http://127.0.0.1:8080/api/v1/incidents"
    ));
    assert!(stdout.contains("queryActivities") && stdout.contains("incident_id"));
    // The scripted threats: Carol's brute force and the success that followed, Bob's mass
    // download, and with MaxMind's test database Alice's impossible travel.
    let anomaly = |detector: &str, subject: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(detector) && l.contains(subject))
            .unwrap_or_else(|| panic!("no {detector} anomaly for {subject} in:\n{stdout}"))
            .to_string()
    };
    assert!(anomaly("brute_force", "user:carol@").contains("High"));
    assert!(anomaly("brute_force", "ip:175.16.199.5").contains("High"));
    assert!(stdout.contains("followed 20 failed sign-ins"), "{stdout}");
    let mass = anomaly("mass_download", "user:bob@");
    // The 110 archive downloads and Bob's earlier one of the budget.
    assert!(mass.split_whitespace().any(|w| w == "111"), "{mass}");
    if geoip.is_some() {
        assert!(anomaly("impossible_travel", "user:alice@").contains("High"));
        // The two sign-ins share a second: either may be the one "after".
        let travel = stdout
            .lines()
            .find(|l| l.contains("Impossible travel (Compromised Account)"))
            .unwrap_or_else(|| panic!("{stdout}"));
        assert!(
            travel.contains("Changchun, CN (175.16.199.7)")
                && travel.contains("London, GB (81.2.69.142)")
                && travel.contains("8182 km apart"),
            "{travel}"
        );
    }
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
    assert!(catalog.len() >= 400, "{} detectors", catalog.len());
    assert_eq!(
        ids, catalog,
        "every detector is listed, once, in catalog order"
    );
    assert!(table.starts_with("| id | category | name | low | medium | high |"));
    // Each row says what a match needs for each tier ("-": never reported at that tier).
    let tiers = |id: &str| -> Vec<String> {
        let row = table
            .lines()
            .find(|r| r.starts_with(&format!("| `{id}` |")))
            .unwrap_or_else(|| panic!("no row for {id}"));
        let cells: Vec<String> = row
            .trim_start_matches("| ")
            .trim_end_matches(" |")
            .split(" | ")
            .map(str::to_string)
            .collect();
        assert_eq!(cells.len(), 6, "{row}");
        cells[3..].to_vec()
    };
    for row in table.lines().skip(2) {
        let cells: Vec<&str> = row
            .trim_start_matches("| ")
            .trim_end_matches(" |")
            .split(" | ")
            .collect();
        assert_eq!(cells.len(), 6, "{row}");
        assert!(cells[3..].iter().any(|c| *c != "-"), "{row}");
    }
    // A bare SSN is low; with its keyword, high.
    let ssn = tiers("us_ssn");
    assert_ne!(ssn[0], "-", "{ssn:?}");
    assert!(ssn[2].contains("keyword"), "{ssn:?}");
    // A private key block cannot occur by chance: high on its own.
    let key = tiers("private_key");
    assert!(key[2].contains("pattern"), "{key:?}");
}

/// `--format json` output: one finding per line.
fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn box_env(command: &mut Command, sim: &BoxSimulator) {
    command
        .env("CASB_BOX_API_ORIGIN", sim.origin())
        .env("CASB_BOX_ACCOUNT_ORIGIN", sim.origin())
        .env("CASB_BOX_DOWNLOAD_HOSTS", sim.download_base());
}

/// Runs `casb` with `stdin` as standard input; (success, stdout, stderr).
async fn run_casb(
    args: Vec<String>,
    stdin: &str,
    configure: impl FnOnce(&mut Command),
) -> (bool, String, String) {
    let mut command = casb();
    command
        .args(&args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    configure(&mut command);
    let stdin = stdin.to_string();
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).to_string(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrations_are_added_without_a_browser_listed_paused_resumed_and_removed() {
    let key = box_simulator::jwt::test_key_pair();
    let sim = BoxSimulator::start(key.configure(SimConfig::default()))
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap().to_string();
    let enterprise = sim.enterprise_id();
    let ccg = serde_json::json!({"client_id": sim.config().client_id, "client_secret": sim.config().client_secret}).to_string();
    let add = |tenant: &str, credential: &str, secret: String| {
        let args = args(&[
            "integration",
            "add",
            "--data-dir",
            &dir,
            "--provider",
            "box",
            "--tenant",
            tenant,
            "--credential",
            credential,
            "--setting",
            &format!("enterprise_id={enterprise}"),
            "--setting",
            "internal_domains=example.com",
            "--secret-file",
            "-",
        ]);
        let sim = &sim;
        async move { run_casb(args, &secret, |c| box_env(c, sim)).await }
    };

    // Wrong client secret: refused by Box, and nothing is kept.
    let wrong = serde_json::json!({"client_id": sim.config().client_id, "client_secret": "wrong"})
        .to_string();
    let (ok, _, stderr) = add("tenant-a", "client_credentials", wrong).await;
    assert!(!ok);
    assert!(stderr.contains("refused the credentials"), "{stderr}");
    let list = |tenant: &str| {
        let args = args(&[
            "integration",
            "list",
            "--data-dir",
            &dir,
            "--tenant",
            tenant,
            "--json",
        ]);
        let sim = &sim;
        async move {
            let (ok, stdout, stderr) = run_casb(args, "", |c| box_env(c, sim)).await;
            assert!(ok, "{stderr}");
            stdout
                .lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert!(
        list("tenant-a").await.is_empty(),
        "refused credentials left an integration"
    );
    let secrets = std::fs::read_to_string(data.path().join("secrets.json")).unwrap_or_default();
    assert!(
        !secrets.contains("wrong"),
        "refused credentials left a secret"
    );

    // Box Client Credentials Grant.
    let (ok, stdout, stderr) = add("tenant-a", "client_credentials", ccg.clone()).await;
    assert!(ok, "{stderr}");
    let added: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(added["external_tenant_id"], enterprise.as_str(), "{added}");
    assert_eq!(added["credential"], "client_credentials");
    let id = added["integration_id"].as_str().unwrap().to_string();
    assert!(sim.oauth_stats().client_credentials_grants >= 1);
    // The secret never reached the command line or the output.
    assert!(
        !stdout.contains(&sim.config().client_secret)
            && !stderr.contains(&sim.config().client_secret)
    );

    let listed = list("tenant-a").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["integration"]["status"], "connected");
    let streams = listed[0]["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1, "the events stream was seeded: {listed:?}");
    assert!(streams[0]["stream"]
        .as_str()
        .unwrap()
        .starts_with("tenant-a#"));
    assert!(
        list("tenant-b").await.is_empty(),
        "another tenant sees nothing"
    );

    // Adding the same Box enterprise again for the tenant is the same integration.
    let (ok, stdout, stderr) = add("tenant-a", "client_credentials", ccg).await;
    assert!(ok, "{stderr}");
    let again: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(again["integration_id"], id.as_str());

    for (verb, status) in [("pause", "paused"), ("resume", "connected")] {
        let (ok, stdout, stderr) = run_casb(
            args(&[
                "integration",
                verb,
                "--data-dir",
                &dir,
                "--tenant",
                "tenant-a",
                &id,
            ]),
            "",
            |c| box_env(c, &sim),
        )
        .await;
        assert!(ok, "{stderr}");
        assert!(stdout.contains(status), "{stdout}");
        assert_eq!(list("tenant-a").await[0]["integration"]["status"], status);
    }
    let (ok, _, stderr) = run_casb(
        args(&[
            "integration",
            "pause",
            "--data-dir",
            &dir,
            "--tenant",
            "tenant-b",
            &id,
        ]),
        "",
        |c| box_env(c, &sim),
    )
    .await;
    assert!(
        !ok && stderr.contains("no integration"),
        "another tenant cannot pause it: {stderr}"
    );

    // A Box JWT app (service account), for another tenant of this deployment.
    let jwt = serde_json::json!({
        "client_id": sim.config().client_id, "client_secret": sim.config().client_secret,
        "private_key": key.private_key_pem, "public_key_id": key.key_id,
    })
    .to_string();
    let (ok, stdout, stderr) = add("tenant-b", "jwt_assertion", jwt).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("jwt_assertion"), "{stdout}");
    assert!(sim.oauth_stats().jwt_grants >= 1);

    let (ok, stdout, stderr) = run_casb(
        args(&[
            "integration",
            "remove",
            "--data-dir",
            &dir,
            "--tenant",
            "tenant-a",
            &id,
        ]),
        "",
        |c| box_env(c, &sim),
    )
    .await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("disconnected"), "{stdout}");
    assert_eq!(
        list("tenant-a").await[0]["integration"]["status"],
        "disconnected"
    );
    let secrets = std::fs::read_to_string(data.path().join("secrets.json")).unwrap();
    assert!(
        !secrets.contains(&format!("tenants/tenant-a/integrations/{id}")),
        "credentials forgotten"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integration_commands_work_against_a_deployed_stack() {
    let Some((endpoint, sdk)) = moto().await else {
        return;
    };
    // What `sam deploy` creates, made directly in moto, and a stack whose outputs name them.
    let prefix = format!("s{}", &uuid_like());
    deploy_in_moto(&sdk, &prefix).await;

    let sim = BoxSimulator::start(SimConfig::default()).await.unwrap();
    let aws_env = |c: &mut Command| {
        box_env(c, &sim);
        aws_env(c, &endpoint);
    };
    let (ok, _, stderr) = run_casb(
        args(&["secret-put", "--stack", &prefix, "providers/box/app"]),
        &serde_json::json!({"client_id": sim.config().client_id, "client_secret": sim.config().client_secret}).to_string(),
        aws_env,
    )
    .await;
    assert!(ok, "{stderr}");
    let ccg = serde_json::json!({"client_id": sim.config().client_id, "client_secret": sim.config().client_secret}).to_string();
    let (ok, stdout, stderr) = run_casb(
        args(&[
            "integration",
            "add",
            "--stack",
            &prefix,
            "--provider",
            "box",
            "--tenant",
            "tenant-a",
            "--credential",
            "client_credentials",
            "--setting",
            &format!("enterprise_id={}", sim.enterprise_id()),
            "--secret-file",
            "-",
        ]),
        &ccg,
        aws_env,
    )
    .await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("\"connected\""), "{stdout}");
    let (ok, stdout, stderr) = run_casb(
        args(&[
            "integration",
            "list",
            "--stack",
            &prefix,
            "--tenant",
            "tenant-a",
            "--json",
        ]),
        "",
        aws_env,
    )
    .await;
    assert!(ok, "{stderr}");
    let listed: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(
        listed["integration"]["external_tenant_id"],
        sim.enterprise_id().as_str()
    );
    assert_eq!(listed["streams"].as_array().unwrap().len(), 1, "{listed}");
    // Policies are applied to the stack's table and read back from it.
    let policy_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        policy_file.path(),
        "policies:\n  - id: links\n    name: Links\n    severity: low\n    when: { link: [public] }\n",
    )
    .unwrap();
    let policy_path = policy_file.path().to_str().unwrap();
    let (ok, stdout, stderr) = run_casb(
        args(&[
            "policy",
            "apply",
            "--stack",
            &prefix,
            "--tenant",
            "tenant-a",
            policy_path,
        ]),
        "",
        aws_env,
    )
    .await;
    assert!(ok && stdout.contains("version 1"), "{stdout}{stderr}");
    let (ok, stdout, stderr) = run_casb(
        args(&["policy", "show", "--stack", &prefix, "--tenant", "tenant-a"]),
        "",
        aws_env,
    )
    .await;
    assert!(
        ok && stdout.contains("id: links") && stdout.contains("version 1"),
        "{stdout}{stderr}"
    );
    // A stack that does not exist is a clear error.
    let (ok, _, stderr) = run_casb(
        args(&[
            "integration",
            "list",
            "--stack",
            "no-such-stack",
            "--tenant",
            "tenant-a",
        ]),
        "",
        aws_env,
    )
    .await;
    assert!(!ok && stderr.contains("no-such-stack"), "{stderr}");
}

/// moto's endpoint and an SDK configuration for it; `None` (skip) outside CI when the tests
/// were not started by scripts/test.sh.
async fn moto() -> Option<(String, aws_config::SdkConfig)> {
    let endpoint = match std::env::var("CASB_TEST_MOTO_ENDPOINT") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CASB_TEST_MOTO_ENDPOINT is not set: run the suite with scripts/test.sh")
        }
        _ => {
            eprintln!("skipping: CASB_TEST_MOTO_ENDPOINT is not set (scripts/test.sh starts moto)");
            return None;
        }
    };
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudformation::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await;
    Some((endpoint, sdk))
}

/// What `sam deploy` creates (tables, queues), made directly in moto, and a stack named
/// `prefix` whose outputs name them, as `--stack` reads them.
async fn deploy_in_moto(sdk: &aws_config::SdkConfig, prefix: &str) -> casb_shared::aws::TableNames {
    use casb_shared::aws::{provision, TableNames};
    let tables = TableNames::with_prefix(prefix);
    provision::create_tables(&aws_sdk_dynamodb::Client::new(sdk), &tables)
        .await
        .unwrap();
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut queue_urls = Vec::new();
    for name in ["activities", "actions", "poll-jobs"] {
        queue_urls.push(
            provision::create_queue_pair(&sqs, &format!("{prefix}-{name}"), 5, 30)
                .await
                .unwrap()
                .url,
        );
    }
    let outputs = serde_json::json!({
        "IntegrationsTableName": tables.integrations, "CheckpointsTableName": tables.checkpoints,
        "DedupTableName": tables.dedup, "ActivitiesTableName": tables.activities,
        "IncidentsTableName": tables.incidents, "PoliciesTableName": tables.policies,
        "ClassificationsTableName": tables.classifications, "ExportsTableName": tables.exports,
        "ThreatsTableName": tables.threats, "AccessTableName": tables.access,
        "ActivityQueueUrl": queue_urls[0], "ActionQueueUrl": queue_urls[1],
        "PollJobQueueUrl": queue_urls[2], "SecretPrefix": format!("casb/{prefix}/"),
    });
    create_stack(sdk, prefix, outputs).await;
    tables
}

/// A stack in moto whose outputs are `outputs` (name to value), standing in for what
/// `sam deploy` makes.
async fn create_stack(sdk: &aws_config::SdkConfig, name: &str, outputs: serde_json::Value) {
    let template = serde_json::json!({
        "Resources": {"AlarmTopic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": outputs.as_object().unwrap().iter()
            .map(|(k, v)| (k.clone(), serde_json::json!({"Value": v})))
            .collect::<serde_json::Map<_, _>>(),
    });
    aws_sdk_cloudformation::Client::new(sdk)
        .create_stack()
        .stack_name(name)
        .template_body(template.to_string())
        .send()
        .await
        .unwrap();
}

fn aws_env(command: &mut Command, endpoint: &str) {
    command
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1");
}

/// The query of a link as (name, value) pairs.
fn link_query(link: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(link)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_token_and_connect_link_work_on_the_data_directory() {
    use casb_shared::admin_credential::{ConnectLinkError, ConnectLinkSigner};
    use secrecy::SecretString;
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("casb").to_str().unwrap().to_string();
    let local = |c: &mut Command| {
        c.env_remove("CASB_ADMIN_TOKEN")
            .env_remove("CASB_PUBLIC_URL");
    };
    let (ok, first, stderr) = run_casb(args(&["admin-token", "--data-dir", &dir]), "", local).await;
    assert!(ok, "{stderr}");
    let token = first.trim().to_string();
    assert!(token.len() >= 40, "{token}");
    let (ok, again, _) = run_casb(args(&["admin-token", "--data-dir", &dir]), "", local).await;
    assert!(ok);
    assert_eq!(again.trim(), token, "the token is kept, not made anew");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data.path().join("casb/admin-token")), 0o600);
        assert_eq!(mode(&data.path().join("casb")), 0o700);
    }

    let link_args = |extra: &[&str]| {
        let mut list = args(&[
            "connect-link",
            "--data-dir",
            &dir,
            "--provider",
            "box",
            "--tenant",
            "acme",
            "--base-url",
            "https://casb.example.com",
        ]);
        list.extend(args(extra));
        list
    };
    let (ok, link, stderr) =
        run_casb(link_args(&["--setting", "watch_folders=1,2"]), "", local).await;
    assert!(ok, "{stderr}");
    let link = link.trim().to_string();
    assert!(
        link.starts_with("https://casb.example.com/oauth/box/connect?"),
        "{link}"
    );
    assert!(
        !link.contains(&token) && !stderr.contains(&token),
        "no token in the link or logs"
    );
    let signer = ConnectLinkSigner::new(&SecretString::from(token.clone()));
    let params = signer
        .verify("box", &link_query(&link), chrono::Utc::now())
        .expect("the link verifies with the data directory's token");
    assert_eq!(
        params,
        vec![
            ("tenant_id".to_string(), "acme".to_string()),
            ("watch_folders".to_string(), "1,2".to_string())
        ]
    );
    // A setting the connector does not declare: no link.
    let (ok, out, stderr) = run_casb(link_args(&["--setting", "watch_foldrs=1"]), "", local).await;
    assert!(!ok && out.is_empty(), "{out}");
    assert!(stderr.contains("watch_foldrs"), "{stderr}");

    // Rotation: a new token, and the old link no longer verifies.
    let (ok, rotated, stderr) = run_casb(
        args(&["admin-token", "--data-dir", &dir, "--rotate"]),
        "",
        local,
    )
    .await;
    assert!(ok, "{stderr}");
    let rotated = rotated.trim().to_string();
    assert_ne!(rotated, token);
    let signer = ConnectLinkSigner::new(&SecretString::from(rotated));
    assert_eq!(
        signer.verify("box", &link_query(&link), chrono::Utc::now()),
        Err(ConnectLinkError::BadSignature)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_token_and_connect_link_work_against_a_deployed_stack() {
    use casb_shared::admin_credential::{AdminCredential, ConnectLinkSigner};
    let Some((endpoint, sdk)) = moto().await else {
        return;
    };
    // The stack's admin secret and its oauth-callback function (the router, with the core a
    // Lambda builds: the admin token read from that secret).
    let prefix = format!("a{}", uuid_like());
    let secret = aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(format!("{prefix}-AdminTokenSecret"))
        .secret_string("generated-by-cloudformation-0123456789")
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let embedded = casb_shared::backend::EmbeddedBackend::open(data.path()).unwrap();
    let core = casb_shared::Core::new(
        embedded.backend.clone(),
        casb_shared::config::Settings::default(),
        casb_connectors::from_env(&embedded.backend),
    )
    .unwrap()
    .with_admin(AdminCredential::secrets_manager(&sdk, &secret));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, casb_shared::http::oauth_callback::router(core))
            .await
            .unwrap()
    });
    create_stack(
        &sdk,
        &prefix,
        serde_json::json!({"AdminTokenSecretArn": secret, "ApiUrl": api_url}),
    )
    .await;
    let env = |c: &mut Command| {
        aws_env(c, &endpoint);
        c.env_remove("CASB_ADMIN_TOKEN");
    };

    let (ok, token, stderr) = run_casb(args(&["admin-token", "--stack", &prefix]), "", env).await;
    assert!(ok, "{stderr}");
    assert_eq!(token.trim(), "generated-by-cloudformation-0123456789");
    let connect_link = || {
        run_casb(
            args(&[
                "connect-link",
                "--stack",
                &prefix,
                "--provider",
                "box",
                "--tenant",
                "acme",
                "--setting",
                "watch_folders=7",
            ]),
            "",
            env,
        )
    };
    let (ok, link, stderr) = connect_link().await;
    assert!(ok, "{stderr}");
    let link = link.trim().to_string();
    assert!(
        link.starts_with(&format!("{api_url}oauth/box/connect?")),
        "{link}"
    );
    let signer = ConnectLinkSigner::new(&secrecy::SecretString::from(token.trim().to_string()));
    let params = signer
        .verify("box", &link_query(&link), chrono::Utc::now())
        .expect("the stack's function signed it with the stack's token");
    assert!(params.contains(&("watch_folders".to_string(), "7".to_string())));

    // --rotate writes a new value to the secret, which the function reads on its next request.
    let (ok, rotated, stderr) = run_casb(
        args(&["admin-token", "--stack", &prefix, "--rotate"]),
        "",
        env,
    )
    .await;
    assert!(ok, "{stderr}");
    assert_ne!(rotated.trim(), token.trim());
    let (_, current, _) = run_casb(args(&["admin-token", "--stack", &prefix]), "", env).await;
    assert_eq!(current.trim(), rotated.trim());
    let (ok, _, stderr) = connect_link().await;
    assert!(ok, "the function uses the rotated token at once: {stderr}");
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
    .chars()
    .rev()
    .take(10)
    .collect()
}

/// Runs `casb` with `args` and returns (success, stdout, stderr).
fn run_plain(args: &[&str]) -> (bool, String, String) {
    let output = casb().args(args).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_are_validated_applied_versioned_and_dry_run_over_stored_history() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_dir = data.to_str().unwrap();
    // History to try policies on: the demo's activities, incidents and classifications.
    let (ok, stdout, stderr) = tokio::task::spawn_blocking({
        let data_dir = data_dir.to_string();
        move || run_plain(&["demo", "--data-dir", &data_dir])
    })
    .await
    .unwrap();
    assert!(ok, "{stdout}\n{stderr}");
    // The demo's anomalies, from the command line: listed, and one shown with its activities.
    let (ok, list, stderr) = run_plain(&[
        "anomalies",
        "list",
        "--data-dir",
        data_dir,
        "--tenant",
        "demo-tenant",
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let anomalies: Vec<serde_json::Value> = list
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mass = anomalies
        .iter()
        .find(|a| a["detector"] == "mass_download")
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(mass["category"], "data_exfiltration");
    let id = mass["id"].as_str().unwrap();
    // `casb anomalies show` on the demo's data, with more arguments.
    let show = |more: &[&str]| {
        let mut args = vec![
            "anomalies",
            "show",
            "--data-dir",
            data_dir,
            "--tenant",
            "demo-tenant",
        ];
        args.extend_from_slice(more);
        run_plain(&args)
    };
    let (ok, shown, stderr) = show(&["--activities", "5", id]);
    assert!(ok, "{stderr}");
    assert!(
        shown.contains("Mass download") && shown.contains("111 behind it"),
        "{shown}"
    );
    assert_eq!(
        shown.lines().filter(|l| l.contains("DOWNLOAD")).count(),
        5,
        "{shown}"
    );
    // The same activities as the Anomalous Activity API's CSV: its 56 columns, one row each.
    let (ok, csv, stderr) = show(&["--csv", id]);
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(
        lines[0].starts_with("timeStamp,accountId,actionName,"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[0].split(',').count(), 56);
    assert_eq!(lines.len(), 1 + 111, "{csv}");
    assert!(lines[1..]
        .iter()
        .all(|l| l.contains(",DOWNLOAD,") && l.contains("Data Exfiltration")));
    let (ok, _, stderr) = show(&["an-unknown"]);
    assert!(
        !ok && stderr.contains("casb anomalies list --tenant demo-tenant"),
        "{stderr}"
    );
    // Without a geolocation database, the doctor says the geographic detectors are off.
    let output = casb()
        .args(["doctor", "--data-dir", data_dir])
        .env_remove("CASB_GEOIP_DB")
        .output()
        .unwrap();
    let doctor = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{doctor}");
    assert!(
        doctor
            .contains("[off] impossible travel, new country: off for addresses: set CASB_GEOIP_DB"),
        "{doctor}"
    );
    assert!(doctor.contains("[on ] brute force"), "{doctor}");
    let incidents_before = {
        let backend = casb_shared::backend::EmbeddedBackend::open(&data)
            .unwrap()
            .backend;
        backend
            .incidents
            .list_incidents("demo-tenant", None, 1000)
            .await
            .unwrap()
            .len()
    };

    // A broken file is refused with the line and the field.
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "policies:\n  - id: x\n    name: X\n    severity: low\n    when:\n      content: { any_of: [{ detectors: [credit_crad] }] }\n",
    )
    .unwrap();
    let (ok, _, stderr) = run_plain(&["policy", "validate", broken.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("broken.yaml:2:") && stderr.contains("no detector 'credit_crad'"),
        "{stderr}"
    );

    // A tenant's own set: secrets in monitor mode, and the default's card policy.
    let mine = dir.path().join("mine.yaml");
    std::fs::write(
        &mine,
        r#"policies:
  - id: secrets-anywhere
    name: Secrets in any file
    severity: critical
    mode: monitor
    when:
      object: { type: file }
      content: { any_of: [{ categories: [secret] }] }
    actions: [quarantine]
  - id: cards-shared
    name: Card numbers shared
    severity: high
    when:
      exposure: { any_of: [public_link, external_collaborators] }
      content: { any_of: [{ detectors: [credit_card] }] }
    actions: [remove_shared_link, { notify: security-team }]
"#,
    )
    .unwrap();
    let mine_path = mine.to_str().unwrap();
    let (ok, stdout, stderr) = run_plain(&["policy", "validate", mine_path]);
    assert!(
        ok && stdout.contains("valid: 2 policies"),
        "{stdout}{stderr}"
    );

    let (ok, stdout, stderr) = run_plain(&[
        "policy",
        "test",
        "--data-dir",
        data_dir,
        "--tenant",
        "demo-tenant",
        "--since",
        "1d",
        "--json",
        mine_path,
    ]);
    assert!(ok, "{stderr}");
    let fired = json_lines(&stdout);
    let objects = |policy: &str| -> Vec<String> {
        let mut names: Vec<String> = fired
            .iter()
            .filter(|f| f["policy_id"] == policy)
            .map(|f| {
                f["object"]
                    .as_str()
                    .unwrap_or("")
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        names.sort();
        names.dedup();
        names
    };
    // The demo's deploy.env holds an AWS key; its card payments file holds card numbers and
    // was shared. Harmless files fire nothing.
    assert_eq!(objects("secrets-anywhere"), ["deploy.env"], "{stdout}");
    assert!(
        objects("cards-shared").contains(&"q4-card-payments.csv".to_string()),
        "{stdout}"
    );
    for hit in &fired {
        let name = hit["object"].as_str().unwrap_or("");
        assert!(
            !name.contains("budget-notes") && !name.contains("pitch"),
            "{hit}"
        );
        if hit["policy_id"] == "secrets-anywhere" {
            assert_eq!(hit["monitor_only"], true);
        }
    }
    assert!(stderr.contains("would fire"), "{stderr}");

    // Dry-running wrote nothing.
    let backend = casb_shared::backend::EmbeddedBackend::open(&data)
        .unwrap()
        .backend;
    assert_eq!(
        backend
            .incidents
            .list_incidents("demo-tenant", None, 1000)
            .await
            .unwrap()
            .len(),
        incidents_before
    );
    assert_eq!(
        backend
            .policies
            .latest_policy_set("demo-tenant")
            .await
            .unwrap(),
        None
    );
    drop(backend);

    // Applying stores version 1; the same file again changes nothing; an edit is version 2.
    let apply = |path: &str| {
        run_plain(&[
            "policy",
            "apply",
            "--data-dir",
            data_dir,
            "--tenant",
            "demo-tenant",
            path,
        ])
    };
    let (ok, stdout, stderr) = apply(mine_path);
    assert!(ok && stdout.contains("version 1"), "{stdout}{stderr}");
    let (_, stdout, _) = apply(mine_path);
    assert!(stdout.contains("version 1"), "{stdout}");
    std::fs::write(
        &mine,
        std::fs::read_to_string(&mine)
            .unwrap()
            .replace("critical", "high"),
    )
    .unwrap();
    let (_, stdout, _) = apply(mine_path);
    assert!(stdout.contains("version 2"), "{stdout}");
    let (ok, stdout, _) = run_plain(&[
        "policy",
        "show",
        "--data-dir",
        data_dir,
        "--tenant",
        "demo-tenant",
        "--version",
        "1",
    ]);
    assert!(ok && stdout.contains("severity: critical"), "{stdout}");
    let (_, stdout, _) = run_plain(&[
        "policy",
        "show",
        "--data-dir",
        data_dir,
        "--tenant",
        "other-tenant",
    ]);
    assert!(
        stdout.contains("default policy set (version 0)"),
        "{stdout}"
    );
    // The default set prints in the format validate accepts.
    let (_, default, _) = run_plain(&["policy", "default"]);
    let default_path = dir.path().join("default.yaml");
    std::fs::write(&default_path, default).unwrap();
    let (ok, stdout, stderr) = run_plain(&["policy", "validate", default_path.to_str().unwrap()]);
    assert!(ok, "{stdout}{stderr}");
}

#[test]
fn normalize_prints_ocsf_records_and_passes_unmapped_events_through_raw() {
    let dir = tempfile::tempdir().unwrap();
    // A page as Box's enterprise events API answers it, with one event Box sends but nobody
    // maps (no source, unknown type).
    let page = serde_json::json!({
        "chunk_size": 3,
        "next_stream_position": "1152923",
        "entries": [
            {"type": "event", "event_id": "f82c3ba03e41", "event_type": "UPLOAD",
             "created_at": "2026-11-24T10:00:00-08:00", "ip_address": "198.51.100.7",
             "created_by": {"type": "user", "id": "11446498", "name": "Aaron Levie", "login": "ceo@example.com"},
             "source": {"type": "file", "id": "12345", "name": "q3.xlsx", "parent": {"type": "folder", "id": "0"}}},
            {"type": "event", "event_id": "a1b2", "event_type": "FAILED_LOGIN",
             "created_at": "2026-11-24T10:01:00-08:00", "ip_address": "203.0.113.9",
             "created_by": {"type": "user", "id": "11446498", "name": "Aaron Levie", "login": "ceo@example.com"},
             "source": {"type": "user", "id": "11446498", "name": "Aaron Levie", "login": "ceo@example.com"}},
            {"type": "event", "event_id": "zz", "weird": true}
        ]
    });
    let path = dir.path().join("page.json");
    std::fs::write(&path, page.to_string()).unwrap();
    let output = casb()
        .args([
            "normalize",
            "--provider",
            "box",
            "--internal-domain",
            "example.com",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let records = json_lines(&String::from_utf8(output.stdout).unwrap());
    assert_eq!(records.len(), 3);
    assert_eq!(
        (
            records[0]["class_uid"].as_u64(),
            records[0]["activity_id"].as_u64()
        ),
        (Some(6006), Some(1)),
        "{}",
        records[0]
    );
    assert_eq!(records[0]["file"]["name"], "q3.xlsx");
    assert_eq!(records[0]["actor"]["user"]["email_addr"], "ceo@example.com");
    // 2026-11-24T10:00:00-08:00 in epoch milliseconds (Python: datetime.fromisoformat(...).timestamp()).
    assert_eq!(records[0]["time"], 1795543200000i64);
    assert_eq!(
        (
            records[1]["class_uid"].as_u64(),
            records[1]["status_id"].as_u64()
        ),
        (Some(3002), Some(2))
    );
    assert_eq!(records[2]["casb_unmapped"], true);
    assert_eq!(records[2]["raw"]["event_id"], "zz");
    assert!(
        stderr.contains("2 events mapped") && stderr.contains("1 passed through raw"),
        "{stderr}"
    );
}

#[test]
fn normalize_maps_netskope_and_trend_micro_events_and_forwards_the_rest_raw() {
    let dir = tempfile::tempdir().unwrap();
    // A Netskope iterator page: an audit sign-in, a DLP alert whose incident id is above 2^53,
    // and a page event (no OCSF class in the vendor's mapping).
    let page = r#"{"ok":1,"wait_time":0,"result":[
        {"_id":"8f1b2c3d4e5f60718293a4b5","timestamp":1795543200,"record_type":"audit","audit_log_event":"SSO Login Failed","user":"admin@example.com","srcip":"198.51.100.7"},
        {"_id":"8f1b2c3d4e5f60718293a4b6","timestamp":1795543260,"record_type":"alert","alert":"yes","alert_type":"DLP","alert_name":"PCI","dlp_incident_id":3188340271830183961,"user":"ann@example.com","file_name":"cards.csv"},
        {"_id":"8f1b2c3d4e5f60718293a4b7","timestamp":1795543320,"record_type":"page","url":"https://example.com"}]}"#;
    let path = dir.path().join("netskope.json");
    std::fs::write(&path, page).unwrap();
    let output = casb()
        .args(["normalize", "--provider", "netskope"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let records = json_lines(&String::from_utf8(output.stdout).unwrap());
    assert_eq!(records[0]["class_uid"], 3002);
    assert_eq!(records[0]["status_id"], 2, "a failed sign-in");
    assert_eq!(records[0]["time"], 1795543200000i64);
    assert_eq!(records[1]["class_uid"], 2006);
    // Digit for digit: the id is above 2^53, where doubles lose it.
    assert_eq!(records[1]["finding_info"]["uid"], "3188340271830183961");
    assert_eq!(records[2]["casb_unmapped"], true);
    assert_eq!(records[2]["raw"]["url"], "https://example.com");
    assert!(
        stderr.contains("2 events mapped") && stderr.contains("1 passed through raw"),
        "{stderr}"
    );

    let page = r#"{"security_events":[{"log_item_id":"b13d0f52","service":"onedrive","event":"virtualanalyzer",
        "message":{"detection_time":"2026-11-24T18:00:00.000Z","affected_user":"bob@example.com","file_name":"setup.exe","risk_level":"High risk"}}],
        "next_link":""}"#;
    std::fs::write(&path, page).unwrap();
    let output = casb()
        .args(["normalize", "--provider", "trend_micro"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(output.status.success());
    let records = json_lines(&String::from_utf8(output.stdout).unwrap());
    assert_eq!(records[0]["class_uid"], 2004);
    assert_eq!(records[0]["severity_id"], 4);
    assert_eq!(records[0]["evidences"][0]["file"]["name"], "setup.exe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_netskope_tenant_is_added_with_its_api_token_and_a_refused_token_keeps_nothing() {
    use netskope_simulator::{NetskopeSimulator, SimConfig as NetskopeConfig};
    let sim = NetskopeSimulator::start(NetskopeConfig::default())
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap().to_string();
    let base = sim.base_url();
    let add = |token: &'static str| {
        let args = args(&[
            "integration",
            "add",
            "--data-dir",
            &dir,
            "--provider",
            "netskope",
            "--tenant",
            "acme",
            "--mode",
            "pull",
            "--setting",
            &format!("tenant={base}"),
            "--setting",
            "event_types=audit,application",
            "--setting",
            "alert_types=dlp",
            "--secret-file",
            "-",
        ]);
        let base = base.clone();
        async move {
            run_casb(args, token, |c| {
                c.env("CASB_NETSKOPE_EXTRA_HOSTS", &base);
            })
            .await
        }
    };
    let (ok, _, stderr) = add("not-the-token").await;
    assert!(!ok, "a refused token is refused");
    assert!(stderr.contains("refused"), "{stderr}");
    let (ok, stdout, stderr) = add("netskope-sim-token").await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("netskope"), "{stdout}");
    let (ok, stdout, stderr) = run_casb(
        args(&[
            "integration",
            "list",
            "--data-dir",
            &dir,
            "--tenant",
            "acme",
            "--json",
        ]),
        "",
        |_| {},
    )
    .await;
    assert!(ok, "{stderr}");
    let listed: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        listed.len(),
        1,
        "only the accepted token made an integration: {stdout}"
    );
    let streams: Vec<String> = listed[0]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stream"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(streams.len(), 3, "{stdout}");
    for stream in ["events/audit", "events/application", "alerts/dlp"] {
        assert!(
            streams.iter().any(|s| s.ends_with(stream)),
            "{stream} in {streams:?}"
        );
    }
}

#[test]
fn export_writes_the_demos_records_as_ocsf_json_lines_once() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("demo");
    // `casb <args> --data-dir <demo dir> [extra]`, which must succeed; its standard output.
    let run = |args: &[&str], extra: Option<&std::path::Path>| -> Vec<u8> {
        let mut command = casb();
        command.args(args).arg("--data-dir").arg(&dir);
        if let Some(extra) = extra {
            command.arg(extra);
        }
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    };
    run(&["demo"], None);
    let export = || serde_json::from_slice::<serde_json::Value>(&run(&["export"], None)).unwrap();
    // The demo's own schedule ticks (every second) exported its activities, incidents and
    // quarantines; a policy set applied afterwards waits for the next tick, or `casb export`.
    let policy = data.path().join("policies.yaml");
    let default = casb().args(["policy", "default"]).output().unwrap();
    std::fs::write(&policy, &default.stdout).unwrap();
    run(&["policy", "apply", "--tenant", "demo"], Some(&policy));
    let summary = export();
    assert_eq!(summary["records"], 1, "the policy set's record: {summary}");
    assert!(
        summary["files"][0]
            .as_str()
            .unwrap()
            .contains("ocsf/class_uid=3004/"),
        "{summary}"
    );
    let mut classes = std::collections::BTreeMap::<u64, u64>::new();
    let mut found = 0;
    for entry in walk(&dir.join("export")) {
        let gunzip = std::process::Command::new("gzip")
            .arg("-dc")
            .arg(&entry)
            .output()
            .unwrap();
        assert!(gunzip.status.success(), "{}", entry.display());
        for line in String::from_utf8(gunzip.stdout).unwrap().lines() {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            found += 1;
            if record["casb_unmapped"] == true {
                continue;
            }
            assert_eq!(record["metadata"]["version"], "1.5.0");
            let class = record["class_uid"].as_u64().unwrap();
            let partition = format!("class_uid={class}");
            assert!(
                entry.to_string_lossy().contains(&partition),
                "{} holds class {class}",
                entry.display()
            );
            *classes.entry(class).or_default() += 1;
        }
    }
    assert!(found > 0);
    // 2004: the demo's anomalies (Detection Finding).
    for class in [6006, 2006, 7002, 3004, 2004] {
        assert!(
            classes.get(&class).is_some_and(|n| *n > 0),
            "class {class} in {classes:?}"
        );
    }
    assert_eq!(export()["records"], 0, "nothing is exported twice");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// `casb api-key` on a data directory and on a deployed stack's table: a key is printed once
/// and stored only as a hash, an API user's password likewise, listing shows their state, and
/// revoking is scoped to the tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_created_listed_and_revoked_on_the_data_directory_and_a_stack() {
    use casb_shared::access;
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap().to_string();
    let run = run_plain;
    let (ok, key, stderr) = run(&[
        "api-key",
        "create",
        "--data-dir",
        &dir,
        "--tenant",
        "acme",
        "--name",
        "siem",
        "--quiet",
    ]);
    assert!(ok, "{stderr}");
    let key = key.trim().to_string();
    let id = access::token_credential_id(&key)
        .expect("a casb_ token")
        .to_string();
    let (ok, user_out, stderr) = run(&[
        "api-key",
        "create",
        "--data-dir",
        &dir,
        "--tenant",
        "acme",
        "--user",
        "bot",
    ]);
    assert!(ok, "{stderr}");
    let password = user_out
        .lines()
        .find_map(|l| l.strip_prefix("password (shown once): "))
        .expect(&user_out)
        .to_string();
    let (ok, _, stderr) = run(&[
        "api-key",
        "create",
        "--data-dir",
        &dir,
        "--tenant",
        "globex",
        "--user",
        "bot",
    ]);
    assert!(!ok && stderr.contains("already exists"), "{stderr}");
    let (ok, _, stderr) = run(&[
        "api-key",
        "create",
        "--data-dir",
        &dir,
        "--tenant",
        "bad tenant",
    ]);
    assert!(!ok && stderr.contains("tenant id"), "{stderr}");
    {
        let embedded = casb_shared::backend::EmbeddedBackend::open(data.path()).unwrap();
        let stored = embedded
            .backend
            .access
            .get_credential(&id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.tenant_id, "acme");
        assert!(access::token_matches(&stored.secret_hash, &key));
        let raw = std::fs::read(data.path().join("casb.db")).unwrap();
        let needle = &key.as_bytes()[12..];
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle),
            "the token is not stored"
        );
        let user = embedded
            .backend
            .access
            .get_credential("user:bot")
            .await
            .unwrap()
            .unwrap();
        assert!(access::password_matches(&user.secret_hash, &password));
    }
    let (ok, listed, _) = run(&["api-key", "list", "--data-dir", &dir, "--tenant", "acme"]);
    assert!(ok);
    let line = listed.lines().find(|l| l.starts_with(&id)).expect(&listed);
    assert!(
        line.contains("api_key") && line.ends_with("active"),
        "{line}"
    );
    assert!(listed
        .lines()
        .any(|l| l.starts_with("user:bot") && l.contains("basic_user")));
    assert!(!listed.contains(&key[12..]), "list never shows a secret");
    let (ok, _, stderr) = run(&[
        "api-key",
        "revoke",
        "--data-dir",
        &dir,
        "--tenant",
        "globex",
        &id,
    ]);
    assert!(!ok && stderr.contains("has no credential"), "{stderr}");
    let (ok, _, stderr) = run(&[
        "api-key",
        "revoke",
        "--data-dir",
        &dir,
        "--tenant",
        "acme",
        &id,
    ]);
    assert!(ok, "{stderr}");
    let (_, listed, _) = run(&["api-key", "list", "--data-dir", &dir, "--tenant", "acme"]);
    assert!(listed
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap()
        .ends_with("revoked"));

    // A deployed stack: the same command writes the stack's access table.
    let Some((endpoint, sdk)) = moto().await else {
        return;
    };
    let prefix = format!("k{}", &uuid_like());
    let tables = deploy_in_moto(&sdk, &prefix).await;
    let mut command = casb();
    aws_env(&mut command, &endpoint);
    let output = command
        .args([
            "api-key",
            "create",
            "--stack",
            &prefix,
            "--tenant",
            "acme",
            "--expires-in-days",
            "30",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let key = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let stores = casb_shared::aws::DynamoStores::new(aws_sdk_dynamodb::Client::new(&sdk), tables);
    use casb_shared::ports::AccessStore;
    let stored = stores
        .get_credential(access::token_credential_id(&key).unwrap())
        .await
        .unwrap()
        .expect("written to the stack's access table");
    assert!(access::token_matches(&stored.secret_hash, &key));
    let days = (stored.expires_at.unwrap() - stored.created_at).num_days();
    assert_eq!(days, 30);
}
