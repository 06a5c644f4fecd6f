//! The `casb` command as a user runs it: the real binary, against the Box simulator.

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
