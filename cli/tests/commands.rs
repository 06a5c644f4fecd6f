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
    use casb_shared::aws::{provision, TableNames};
    let endpoint = match std::env::var("CASB_TEST_MOTO_ENDPOINT") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CASB_TEST_MOTO_ENDPOINT is not set: run the suite with scripts/test.sh")
        }
        _ => {
            eprintln!("skipping: CASB_TEST_MOTO_ENDPOINT is not set (scripts/test.sh starts moto)");
            return;
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
    // What `sam deploy` creates, made directly in moto, and a stack whose outputs name them.
    let prefix = format!("s{}", &uuid_like());
    let tables = TableNames::with_prefix(&prefix);
    provision::create_tables(&aws_sdk_dynamodb::Client::new(&sdk), &tables)
        .await
        .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
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
        "IncidentsTableName": tables.incidents, "ActivityQueueUrl": queue_urls[0],
        "ActionQueueUrl": queue_urls[1], "PollJobQueueUrl": queue_urls[2],
        "SecretPrefix": format!("casb/{prefix}/"),
    });
    let template = serde_json::json!({
        "Resources": {"AlarmTopic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": outputs.as_object().unwrap().iter()
            .map(|(k, v)| (k.clone(), serde_json::json!({"Value": v})))
            .collect::<serde_json::Map<_, _>>(),
    });
    aws_sdk_cloudformation::Client::new(&sdk)
        .create_stack()
        .stack_name(&prefix)
        .template_body(template.to_string())
        .send()
        .await
        .unwrap();

    let sim = BoxSimulator::start(SimConfig::default()).await.unwrap();
    let aws_env = |c: &mut Command| {
        box_env(c, &sim);
        c.env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1");
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
