//! The deployment artefacts: the SAM template keeps the reliability rules, and every sample event
//! in events/ is accepted by the handler it is for.

use std::collections::BTreeSet;

use casb_shared::config::Settings;
use casb_shared::connector::ConnectorRegistry;
use casb_shared::domain::{incident_id, ActionStatus, Activity, Envelope};
use casb_shared::Core;
use serde_yaml::Value;
use tower::ServiceExt;

use crate::support::{embedded, in_ci, repo_file};

fn template() -> Value {
    let text =
        std::fs::read_to_string(repo_file("template.yaml")).expect("template.yaml is readable");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

fn resources(template: &Value, kind: &str) -> Vec<(String, Value)> {
    template["Resources"]
        .as_mapping()
        .expect("Resources is a mapping")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(name, r)| (name.as_str().unwrap().to_string(), r.clone()))
        .collect()
}

/// The logical name inside `!GetAtt Name.Arn` (serde_yaml keeps the tag).
fn get_att_target(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "!GetAtt" => tagged
            .value
            .as_str()
            .and_then(|s| s.split('.').next())
            .map(str::to_string),
        _ => None,
    }
}

#[test]
fn every_function_crate_is_deployed_as_an_arm64_cargo_lambda_function() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(globals["Architectures"][0].as_str(), Some("arm64"));
    assert_eq!(globals["Handler"].as_str(), Some("bootstrap"));

    let deployed: BTreeSet<String> = resources(&template, "AWS::Serverless::Function")
        .into_iter()
        .map(|(name, function)| {
            assert_eq!(
                function["Metadata"]["BuildMethod"].as_str(),
                Some("rust-cargolambda"),
                "{name}"
            );
            function["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .expect("Binary is set")
                .to_string()
        })
        .collect();
    let crates: BTreeSet<String> = std::fs::read_dir(repo_file("functions"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(deployed, crates);
    assert_eq!(crates.len(), 6);
}

#[test]
fn queues_dead_letter_and_consumers_report_partial_failures() {
    let template = template();
    let queues: std::collections::HashMap<String, Value> = resources(&template, "AWS::SQS::Queue")
        .into_iter()
        .collect();
    let default_timeout = template["Globals"]["Function"]["Timeout"].as_i64().unwrap();
    let mut consumers = 0;
    for (name, function) in resources(&template, "AWS::Serverless::Function") {
        let timeout = function["Properties"]["Timeout"]
            .as_i64()
            .unwrap_or(default_timeout);
        for (_, event) in function["Properties"]["Events"].as_mapping().unwrap() {
            if event["Type"].as_str() != Some("SQS") {
                continue;
            }
            consumers += 1;
            let properties = &event["Properties"];
            let failure_types: Vec<_> = properties["FunctionResponseTypes"]
                .as_sequence()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert_eq!(failure_types, ["ReportBatchItemFailures"], "{name}");
            // A number, or a number parameter (the poller's concurrency is one).
            let concurrency = &properties["ScalingConfig"]["MaximumConcurrency"];
            let bounded = concurrency.as_i64().is_some()
                || matches!(concurrency, Value::Tagged(t) if t.tag == "!Ref"
                    && template["Parameters"][t.value.as_str().unwrap_or("")]["Type"].as_str() == Some("Number"));
            assert!(bounded, "{name}: MaximumConcurrency {concurrency:?}");
            let queue_name = get_att_target(&properties["Queue"]).expect("Queue: !GetAtt X.Arn");
            let queue = &queues[&queue_name]["Properties"];
            let visibility = queue["VisibilityTimeout"].as_i64().unwrap();
            assert!(
                visibility >= 6 * timeout,
                "{queue_name}: visibility {visibility}s < 6 x {timeout}s"
            );
            let redrive = &queue["RedrivePolicy"];
            let max_receives = redrive["maxReceiveCount"].as_i64().unwrap();
            assert!((3..=5).contains(&max_receives), "{queue_name}");
            assert_eq!(
                max_receives,
                casb_shared::backend::MAX_RECEIVES as i64,
                "same as the embedded queue"
            );
            let dead_letter = get_att_target(&redrive["deadLetterTargetArn"]).unwrap();
            assert!(
                queues.contains_key(&dead_letter),
                "{queue_name} -> {dead_letter}"
            );
        }
    }
    assert_eq!(consumers, 3, "poller (poll jobs), inspector and remediator");
    // Every dead-letter queue, and the schedule's, has an alarm on it.
    let alarmed: BTreeSet<String> = resources(&template, "AWS::CloudWatch::Alarm")
        .into_iter()
        .filter_map(|(_, alarm)| get_att_target(&alarm["Properties"]["Dimensions"][0]["Value"]))
        .collect();
    for dead_letter in [
        "ActivityDeadLetterQueue",
        "ActionDeadLetterQueue",
        "PollJobDeadLetterQueue",
        "ScheduleDeadLetterQueue",
    ] {
        assert!(
            alarmed.contains(dead_letter),
            "{dead_letter} has no alarm: {alarmed:?}"
        );
    }
    let poller =
        &template["Resources"]["PollerFunction"]["Properties"]["Events"]["Schedule"]["Properties"];
    assert_eq!(
        get_att_target(&poller["DeadLetterConfig"]["Arn"]).as_deref(),
        Some("ScheduleDeadLetterQueue")
    );
    for (name, queue) in &queues {
        assert_eq!(
            queue["Properties"]["SqsManagedSseEnabled"].as_bool(),
            Some(true),
            "{name} encrypted"
        );
    }
}

#[test]
fn tables_are_on_demand_with_point_in_time_recovery() {
    let template = template();
    let tables = resources(&template, "AWS::DynamoDB::Table");
    // Integrations, checkpoints, dedup, activities, incidents, policies, classifications,
    // exports, threats, access.
    assert_eq!(tables.len(), 10);
    for (name, table) in tables {
        let p = &table["Properties"];
        assert_eq!(p["BillingMode"].as_str(), Some("PAY_PER_REQUEST"), "{name}");
        assert_eq!(
            p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
            Some(true),
            "{name}"
        );
        if [
            "DedupTable",
            "ActivitiesTable",
            "ClassificationsTable",
            "ExportsTable",
        ]
        .contains(&name.as_str())
        {
            assert_eq!(
                p["TimeToLiveSpecification"]["AttributeName"].as_str(),
                Some("expires_at"),
                "{name}"
            );
        }
    }
}

#[test]
fn template_passes_cfn_lint() {
    let Some(cfn_lint) = std::env::var_os("CASB_TEST_CFN_LINT") else {
        assert!(
            !in_ci(),
            "CASB_TEST_CFN_LINT is not set: run the suite with scripts/test.sh"
        );
        eprintln!("skipping cfn-lint: CASB_TEST_CFN_LINT is not set (scripts/test.sh sets it)");
        return;
    };
    let output = std::process::Command::new(cfn_lint)
        .arg(repo_file("template.yaml"))
        .output()
        .expect("cfn-lint runs");
    assert!(
        output.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn event(name: &str) -> String {
    std::fs::read_to_string(repo_file(&format!("events/{name}")))
        .unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_sqs_events_are_accepted_by_inspector_and_remediator() {
    let f = embedded();
    let settings = Settings {
        notify_emails: vec!["secops@example.com".into()],
        ..Settings::default()
    };
    let core = Core::new(f.backend.clone(), settings, ConnectorRegistry::new()).unwrap();
    let context = lambda_runtime::Context::default();

    let activities: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_str(&event("inspector-sqs.json")).unwrap();
    let body = activities.records[0].body.clone().unwrap();
    let activity = Envelope::<Activity>::parse(&body).unwrap().payload;
    let response = casb_shared::lambda::inspector_handler(
        &core,
        lambda_runtime::LambdaEvent::new(activities, context.clone()),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let defaults = casb_shared::policy::default_set();
    let policy = defaults
        .policies
        .iter()
        .find(|p| p.id == "builtin.public-file-link")
        .unwrap();
    let expected_incident = incident_id(
        &policy.id,
        &activity.integration_id,
        &policy.subject(&activity, None),
    );

    // The remediator sample names the incident the inspector sample opens.
    let actions: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_str(&event("remediator-sqs.json")).unwrap();
    let response = casb_shared::lambda::remediator_handler(
        &core,
        lambda_runtime::LambdaEvent::new(actions, context),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let incident = core
        .backend
        .incidents
        .get_incident(&activity.tenant_id, &expected_incident)
        .await
        .unwrap()
        .unwrap();
    let notify = incident
        .actions
        .iter()
        .find(|a| a.action_id.ends_with("#notify"))
        .unwrap();
    assert_eq!(notify.status, ActionStatus::Succeeded);
}

#[tokio::test]
async fn sample_schedule_event_runs_the_poller() {
    let f = embedded();
    let core = Core::new(
        f.backend.clone(),
        Settings::default(),
        ConnectorRegistry::new(),
    )
    .unwrap();
    let payload: serde_json::Value = serde_json::from_str(&event("poller-schedule.json")).unwrap();
    let summary = casb_shared::lambda::poller_handler(
        &core,
        lambda_runtime::LambdaEvent::new(payload, Default::default()),
    )
    .await
    .unwrap();
    // The schedule only fans out jobs: none here, as there are no integrations.
    assert_eq!(summary["schedule"]["integrations"], 0, "{summary}");
    assert_eq!(summary["schedule"]["jobs_queued"], 0, "{summary}");
    // The same tick runs the exporter, which found nothing to write.
    assert_eq!(summary["export"]["records"], 0, "{summary}");
    assert_eq!(summary["export"]["batches"], 0, "{summary}");
}

#[tokio::test]
async fn the_poller_works_poll_jobs_from_sqs_and_reports_only_the_failed_ones() {
    let f = embedded();
    let core = Core::new(
        f.backend.clone(),
        Settings::default(),
        ConnectorRegistry::new(),
    )
    .unwrap();
    // The sample: a job for an integration this (empty) store does not have succeeds with
    // nothing to do; a malformed record beside it fails alone.
    let mut payload: serde_json::Value =
        serde_json::from_str(&event("poller-jobs-sqs.json")).unwrap();
    let job = Envelope::<casb_shared::domain::PollJob>::parse(
        payload["Records"][0]["body"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(job.payload.stream(), Some("events"));
    payload["Records"].as_array_mut().unwrap().push(serde_json::json!(
        {"messageId": "bad-1", "receiptHandle": "r2", "body": "{\"version\": 1, \"kind\": \"activity\"}", "eventSource": "aws:sqs"}
    ));
    let response = casb_shared::lambda::poller_handler(
        &core,
        lambda_runtime::LambdaEvent::new(payload, Default::default()),
    )
    .await
    .unwrap();
    assert_eq!(
        response["batchItemFailures"],
        serde_json::json!([{"itemIdentifier": "bad-1"}]),
        "{response}"
    );
}

#[tokio::test]
async fn sample_http_events_reach_each_function_router() {
    let f = embedded();
    let core = Core::new(
        f.backend.clone(),
        Settings::default(),
        ConnectorRegistry::new(),
    )
    .unwrap();
    let cases: [(&str, axum::Router, &str); 3] = [
        (
            "api-healthz.json",
            casb_shared::http::api::router(core.clone()),
            "api",
        ),
        (
            "oauth-callback-healthz.json",
            casb_shared::http::oauth_callback::router(core.clone()),
            "oauth-callback",
        ),
        (
            "webhook-intake-healthz.json",
            casb_shared::http::webhook_intake::router(core.clone()),
            "webhook-intake",
        ),
    ];
    for (file, router, function) in cases {
        let request: lambda_http::request::LambdaRequest =
            serde_json::from_str(&event(file)).unwrap();
        let request: lambda_http::Request = request.into();
        let request = request.map(|body| axum::body::Body::from(body.to_vec()));
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200, "{file}");
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["function"], function, "{file}");
    }
}

/// A request API Gateway's IAM authorizer verified, as the api function receives it: the
/// assumed role's session is mapped to its tenant through the role, and sees only its incidents.
#[tokio::test]
async fn the_iam_sample_event_reads_the_incidents_of_the_tenant_its_role_maps_to() {
    let f = embedded();
    let settings = Settings {
        api: casb_shared::config::ApiSettings {
            iam_tenants: casb_shared::access::IamTenants::parse(
                "arn:aws:iam::123456789012:role/siem-reader=tenant-iam",
            )
            .unwrap(),
            ..Default::default()
        },
        ..Settings::default()
    };
    let core = Core::new(f.backend.clone(), settings, ConnectorRegistry::new()).unwrap();
    for (tenant, id) in [("tenant-iam", "inc-mine"), ("tenant-other", "inc-theirs")] {
        core.backend
            .incidents
            .create_incident(&crate::contract::incident(
                tenant,
                id,
                "2026-11-24T10:00:00Z",
            ))
            .await
            .unwrap();
    }
    let request: lambda_http::request::LambdaRequest =
        serde_json::from_str(&event("api-incidents-iam.json")).unwrap();
    let request: lambda_http::Request = request.into();
    let request = request.map(|body| axum::body::Body::from(body.to_vec()));
    let response = casb_shared::http::api::router(core)
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let ids: Vec<&str> = body["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["inc-mine"]);
}

#[test]
fn alarms_can_reach_their_topic_and_functions_hold_only_what_they_use() {
    let template = template();
    let resources = &template["Resources"];
    // The alarm topic's key lets CloudWatch publish (the AWS-managed SNS key would not).
    let key_ref = &resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"];
    let key_name = match key_ref {
        Value::Tagged(t) if t.tag == "!Ref" => t.value.as_str().unwrap().to_string(),
        other => panic!("AlarmTopic must use the stack's own key, not {other:?}"),
    };
    let statements = resources[key_name.as_str()]["Properties"]["KeyPolicy"]["Statement"]
        .as_sequence()
        .unwrap();
    let cloudwatch = statements
        .iter()
        .find(|s| s["Principal"]["Service"].as_str() == Some("cloudwatch.amazonaws.com"))
        .expect("CloudWatch may use the alarm topic's key");
    let actions: Vec<_> = cloudwatch["Action"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(actions.contains(&"kms:Decrypt") && actions.contains(&"kms:GenerateDataKey*"));

    // The api function writes its credentials and block lists, incidents (status changes) and
    // integrations with their first checkpoints (connect, pause, resume, disconnect); it reads
    // the rest.
    let api_policies = resources["ApiFunction"]["Properties"]["Policies"]
        .as_sequence()
        .unwrap();
    let mut written: Vec<String> = api_policies
        .iter()
        .filter_map(|p| p.get("DynamoDBCrudPolicy"))
        .map(|p| serde_yaml::to_string(&p["TableName"]).unwrap())
        .collect();
    written.sort();
    let written: Vec<&str> = written
        .iter()
        .map(|t| t.trim().trim_start_matches("!Ref "))
        .collect();
    assert_eq!(
        written,
        [
            "AccessTable",
            "CheckpointsTable",
            "IncidentsTable",
            "IntegrationsTable"
        ],
        "{written:?}"
    );

    // The oauth-callback may delete tenants' tokens, never the app credentials or the state key.
    let policies = resources["OAuthCallbackFunction"]["Properties"]["Policies"]
        .as_sequence()
        .unwrap();
    let mut delete_resources = Vec::new();
    for policy in policies {
        for statement in policy["Statement"].as_sequence().into_iter().flatten() {
            let actions = serde_yaml::to_string(&statement["Action"]).unwrap();
            if actions.contains("DeleteSecret") || actions.contains("secretsmanager:*") {
                delete_resources.push(serde_yaml::to_string(&statement["Resource"]).unwrap());
            }
        }
    }
    assert!(!delete_resources.is_empty());
    for resource in delete_resources {
        assert!(
            resource.contains("/tenants/*") && !resource.contains("}/*"),
            "{resource}"
        );
    }
}

/// The logical name inside `!Ref Name`.
fn ref_target(value: &Value) -> Option<&str> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "!Ref" => tagged.value.as_str(),
        _ => None,
    }
}

#[test]
fn the_admin_token_is_a_generated_secret_only_the_http_front_doors_may_read() {
    let template = template();
    let defined = &template["Resources"];
    // No parameter carries it, so no default, parameter file or shell history holds it.
    for (name, parameter) in template["Parameters"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        assert!(
            !name.to_ascii_lowercase().contains("admin"),
            "parameter {name}: the admin token is generated, not passed in"
        );
        assert!(
            parameter["NoEcho"].as_bool() != Some(true) || parameter.get("Default").is_none(),
            "{name}: a secret parameter with a default"
        );
    }
    let secret = &defined["AdminTokenSecret"];
    assert_eq!(secret["Type"].as_str(), Some("AWS::SecretsManager::Secret"));
    let generated = &secret["Properties"]["GenerateSecretString"];
    assert!(
        generated["PasswordLength"].as_i64().unwrap_or(0) >= 32,
        "{generated:?}"
    );
    assert!(
        secret["Properties"].get("SecretString").is_none(),
        "no literal value"
    );
    // Outside casb/<stack>/, which every function may read.
    let name = serde_yaml::to_string(&secret["Properties"]["Name"]).unwrap();
    assert!(!name.contains("casb/${AWS::StackName}/"), "{name}");
    assert!(
        ref_target(&template["Outputs"]["AdminTokenSecretArn"]["Value"])
            == Some("AdminTokenSecret"),
        "`casb admin-token --stack` finds it through this output"
    );
    // The old plain-text variable is set nowhere.
    assert!(
        !serde_yaml::to_string(&template)
            .unwrap()
            .contains("CASB_ADMIN_TOKEN:"),
        "CASB_ADMIN_TOKEN would put the token in the function's configuration"
    );

    // Only the oauth-callback function (connect and disconnect) and the api function (consent
    // links for its callers' own tenants) name the secret: in their environment and in one
    // statement that allows GetSecretValue on that secret alone.
    for (function, properties) in resources(&template, "AWS::Serverless::Function")
        .into_iter()
        .map(|(name, f)| (name, f["Properties"].clone()))
    {
        let variable = &properties["Environment"]["Variables"]["CASB_ADMIN_TOKEN_SECRET"];
        let readers: Vec<&Value> = properties["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
            .flat_map(|p| p["Statement"].as_sequence().into_iter().flatten())
            .filter(|s| ref_target(&s["Resource"]) == Some("AdminTokenSecret"))
            .collect();
        if function != "OAuthCallbackFunction" && function != "ApiFunction" {
            assert!(variable.is_null(), "{function} is given the admin token");
            assert!(readers.is_empty(), "{function} may read the admin token");
            continue;
        }
        assert_eq!(ref_target(variable), Some("AdminTokenSecret"));
        assert_eq!(readers.len(), 1, "{readers:?}");
        assert_eq!(
            readers[0]["Action"].as_str(),
            Some("secretsmanager:GetSecretValue"),
            "read only: rotation is an operator's act"
        );
    }
}

/// What the inspector's runtime needs beside the files it holds: the Lambda runtime, the DLP
/// engine's automata (about 20 MiB) and allocator slack.
const INSPECTOR_HEADROOM_MB: i64 = 256;

#[test]
fn the_inspector_has_memory_for_a_full_batch_of_the_largest_files() {
    let template = template();
    let inspector = &template["Resources"]["InspectorFunction"]["Properties"];
    let memory_mb = inspector["MemorySize"].as_i64().expect("MemorySize is set");
    let batch = inspector["Events"]["Activities"]["Properties"]["BatchSize"]
        .as_i64()
        .expect("BatchSize is set");
    // Set on the function, so the template states the limit its arithmetic is about.
    let download_mb = inspector["Environment"]["Variables"]["CASB_MAX_DOWNLOAD_MB"]
        .as_i64()
        .expect("CASB_MAX_DOWNLOAD_MB is set on the inspector");
    let extraction_mb = (casb_shared::dlp::extract::Limits::default().max_total_bytes >> 20) as i64;
    assert!(download_mb > 0 && extraction_mb > 0);
    // A batch's records are inspected side by side; each may hold its download and its text.
    let needed = batch * (download_mb + extraction_mb) + INSPECTOR_HEADROOM_MB;
    assert!(
        memory_mb >= needed,
        "inspector MemorySize {memory_mb} MB < BatchSize {batch} x ({download_mb} MiB download + \
         {extraction_mb} MiB extracted text) + {INSPECTOR_HEADROOM_MB} MiB = {needed}: raise \
         the memory or lower the batch"
    );
    assert!(memory_mb <= 10_240, "Lambda's maximum");
}

#[test]
fn the_remediator_gets_the_channels_and_reads_notify_secrets_only_for_them() {
    let template = template();
    assert_eq!(
        template["Parameters"]["NotifyChannelsJson"]["Default"].as_str(),
        Some(""),
        "the channels parameter is optional"
    );
    let remediator = &template["Resources"]["RemediatorFunction"]["Properties"];
    assert_eq!(
        ref_target(&remediator["Environment"]["Variables"]["CASB_NOTIFY_CHANNELS_JSON"]),
        Some("NotifyChannelsJson")
    );
    // A statement that grants exactly GetSecretValue on the notify/ prefix.
    let statements: Vec<&Value> = remediator["Policies"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|p| p["Statement"].as_sequence().into_iter().flatten())
        .collect();
    assert!(
        statements.iter().any(|s| {
            s["Action"].as_str() == Some("secretsmanager:GetSecretValue")
                && serde_yaml::to_string(&s["Resource"])
                    .unwrap()
                    .contains("}/notify/*")
        }),
        "{statements:?}"
    );
}

/// Each function that adds records to the export outbox may write its table; only the poller,
/// which writes the files, may put objects, and in the Security Lake bucket only under the
/// stack's custom sources.
#[test]
fn functions_that_record_for_export_may_write_the_outbox_and_only_the_poller_writes_files() {
    let template = template();
    let resources = &template["Resources"];
    let policies = |function: &str| {
        serde_yaml::to_string(&resources[function]["Properties"]["Policies"]).unwrap()
    };
    // inspector: activities and incidents; remediator: action outcomes; oauth-callback:
    // connects and disconnects; poller: claims batches and completes them.
    for function in [
        "InspectorFunction",
        "RemediatorFunction",
        "OAuthCallbackFunction",
        "PollerFunction",
    ] {
        assert!(
            policies(function).contains("ExportsTable"),
            "{function} records for export"
        );
    }
    for function in [
        "InspectorFunction",
        "RemediatorFunction",
        "OAuthCallbackFunction",
        "ApiFunction",
        "WebhookIntakeFunction",
    ] {
        assert!(
            !policies(function).contains("s3:"),
            "{function} writes no files"
        );
    }
    let poller = policies("PollerFunction");
    assert!(poller.contains("s3:PutObject"), "{poller}");
    assert!(
        poller.contains("/ext/${SecurityLakeSourcePrefix}_*"),
        "{poller}"
    );
    assert!(
        !poller.contains("s3:*") && !poller.contains("s3:Delete"),
        "{poller}"
    );
}
