//! One contract suite, two back ends: every port behaves the same on SQLite and on AWS (moto).

use std::time::Duration;

use casb_shared::domain::*;
use casb_shared::ports::{
    ActivityQuery, ExportRecord, OutgoingMessage, SendOnce, StoreError, StoredPolicySet,
};
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};

use crate::support::{integration, public_share, Fixture};

crate::on_both_back_ends!(
    stale_checkpoint_writer_is_rejected,
    checkpoints_carry_stream_health_and_list_by_integration,
    dedup_inserts_only_if_absent_and_honours_expiry,
    webhook_notices_are_queued_once_per_delivery_key,
    leases_are_owned_extended_by_their_owner_and_released_only_by_it,
    delayed_messages_stay_invisible_until_their_delay_ends,
    integrations_list_in_pages_with_a_cursor,
    queue_redelivers_after_the_visibility_timeout,
    queue_dead_letters_after_max_receives,
    integrations_are_scoped_by_tenant,
    activities_are_idempotent_and_queryable,
    incidents_are_created_once_and_updated_optimistically,
    secrets_are_versioned,
    policy_sets_are_versioned_per_tenant_and_never_overwritten,
    classifications_are_kept_per_content_version_until_they_expire,
    export_outbox_gives_each_record_to_one_batch_and_reopens_unfinished_ones,
    export_sink_writes_whole_objects_and_replaces_them,
    behaviour_state_and_anomalies_are_written_optimistically_and_listed_by_activity,
    api_credentials_are_unique_scoped_by_tenant_and_revocable,
    block_lists_hold_each_value_once_per_tenant_and_list,
    incidents_and_activities_page_by_keyset_without_skips_or_repeats_under_writes,
    activities_are_read_in_batches_within_their_tenant,
);

async fn stale_checkpoint_writer_is_rejected(f: Fixture) {
    let store = &f.backend.checkpoints;
    let now = Utc::now();
    assert_eq!(
        store.get_checkpoint("int-1#events").await.unwrap(),
        None,
        "{}",
        f.name
    );

    let first = store
        .put_checkpoint("int-1#events", "100", &StreamHealth::default(), None, now)
        .await
        .unwrap();
    assert_eq!(first.version, 1);
    // A second "first writer" lost the race.
    let err = store
        .put_checkpoint("int-1#events", "999", &StreamHealth::default(), None, now)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "{}: {err}",
        f.name
    );

    // Two pollers read version 1; the first to write wins, the second is stale.
    let second = store
        .put_checkpoint(
            "int-1#events",
            "200",
            &StreamHealth::default(),
            Some(1),
            now,
        )
        .await
        .unwrap();
    assert_eq!(second.version, 2);
    let stale = store
        .put_checkpoint(
            "int-1#events",
            "150",
            &StreamHealth::default(),
            Some(1),
            now,
        )
        .await
        .unwrap_err();
    assert!(stale.is_conflict(), "{}: {stale}", f.name);

    let stored = store.get_checkpoint("int-1#events").await.unwrap().unwrap();
    assert_eq!(
        (stored.cursor.as_str(), stored.version),
        ("200", 2),
        "{}",
        f.name
    );
}

async fn dedup_inserts_only_if_absent_and_honours_expiry(f: Fixture) {
    let dedup = &f.backend.dedup;
    let now = Utc::now();
    let later = now + chrono::Duration::hours(1);
    assert!(
        dedup.insert_if_absent("box#e-1", later, now).await.unwrap(),
        "{}",
        f.name
    );
    assert!(
        !dedup.insert_if_absent("box#e-1", later, now).await.unwrap(),
        "{}: second insert must lose",
        f.name
    );
    assert!(dedup.contains("box#e-1", now).await.unwrap());
    assert!(!dedup.contains("box#e-2", now).await.unwrap());

    // Past its expiry the key counts as absent even if no sweeper has deleted it yet.
    let after_expiry = later + chrono::Duration::seconds(1);
    assert!(
        !dedup.contains("box#e-1", after_expiry).await.unwrap(),
        "{}",
        f.name
    );
    assert!(dedup
        .insert_if_absent(
            "box#e-1",
            after_expiry + chrono::Duration::hours(1),
            after_expiry
        )
        .await
        .unwrap());

    dedup.remove("box#e-1").await.unwrap();
    assert!(
        dedup.insert_if_absent("box#e-1", later, now).await.unwrap(),
        "{}: removed key is absent",
        f.name
    );
    dedup.remove("never-inserted").await.unwrap();
}

async fn webhook_notices_are_queued_once_per_delivery_key(f: Fixture) {
    let notices = &f.backend.webhook_notices;
    let key = "webhook#tenant-a#int-1#d-1";
    let now = Utc::now();
    let later = now + chrono::Duration::hours(1);
    let sent = notices
        .send_once(key, later, now, message("1", "first"))
        .await
        .unwrap();
    assert_eq!(sent, SendOnce::Sent, "{}", f.name);
    let again = notices
        .send_once(key, later, now, message("2", "again"))
        .await
        .unwrap();
    assert_eq!(again, SendOnce::AlreadySent, "{}: a redelivery", f.name);
    assert!(
        f.backend.dedup.contains(key, now).await.unwrap(),
        "{}",
        f.name
    );
    let queued = f
        .backend
        .poll_queue
        .receive(10, Duration::from_secs(30), Duration::from_millis(500))
        .await
        .unwrap();
    let bodies: Vec<_> = queued.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        vec!["first"],
        "{}: onto the poll-jobs queue, once",
        f.name
    );
    // Past the key's expiry the same delivery id is a new delivery.
    let after_expiry = later + chrono::Duration::seconds(1);
    let renewed = notices
        .send_once(
            key,
            after_expiry + chrono::Duration::hours(1),
            after_expiry,
            message("3", "renewed"),
        )
        .await
        .unwrap();
    assert_eq!(renewed, SendOnce::Sent, "{}", f.name);
}

fn message(id: &str, body: &str) -> OutgoingMessage {
    OutgoingMessage::new(id, body)
}

async fn checkpoints_carry_stream_health_and_list_by_integration(f: Fixture) {
    let store = &f.backend.checkpoints;
    let now = Utc::now();
    let health = StreamHealth {
        last_success_at: Some(now),
        last_error: Some("Box answered 503".into()),
        consecutive_failures: 2,
        lag_seconds: Some(42),
        events_queued: 7,
        events_incomplete: 1,
        page_in_flight: true,
        ..StreamHealth::default()
    };
    let a = stream_key("tenant-a", "int-1", "audit.sharepoint");
    let b = stream_key("tenant-a", "int-1", "audit.general");
    let other = stream_key("tenant-a", "int-10", "events");
    let other_tenant = stream_key("tenant-b", "int-1", "events");
    for key in [&a, &b, &other, &other_tenant] {
        store
            .put_checkpoint(key, "c", &health, None, now)
            .await
            .unwrap();
    }
    let stored = store.get_checkpoint(&a).await.unwrap().unwrap();
    assert_eq!(stored.health, health, "{}", f.name);

    let listed: Vec<String> = store
        .list_checkpoints(&integration_stream_prefix("tenant-a", "int-1"))
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.stream)
        .collect();
    // Neither int-10 (a longer id with the same start) nor the other tenant's int-1.
    assert_eq!(listed, vec![b.clone(), a.clone()], "{}", f.name);
}

async fn leases_are_owned_extended_by_their_owner_and_released_only_by_it(f: Fixture) {
    let dedup = &f.backend.dedup;
    let now = Utc::now();
    let soon = now + chrono::Duration::seconds(30);
    assert!(
        dedup
            .acquire_lease("lease-1", "owner-a", soon, now)
            .await
            .unwrap(),
        "{}",
        f.name
    );
    assert!(
        !dedup
            .acquire_lease("lease-1", "owner-b", soon, now)
            .await
            .unwrap(),
        "{}: held by another owner",
        f.name
    );
    // Its owner extends it.
    let later = now + chrono::Duration::seconds(60);
    assert!(dedup
        .acquire_lease("lease-1", "owner-a", later, now)
        .await
        .unwrap());
    // Past the original expiry but inside the extension, B still cannot take it.
    let mid = now + chrono::Duration::seconds(45);
    assert!(
        !dedup
            .acquire_lease(
                "lease-1",
                "owner-b",
                mid + chrono::Duration::seconds(30),
                mid
            )
            .await
            .unwrap(),
        "{}",
        f.name
    );
    // A release by someone who does not hold it changes nothing.
    dedup.release_lease("lease-1", "owner-b").await.unwrap();
    assert!(
        !dedup
            .acquire_lease("lease-1", "owner-b", later, now)
            .await
            .unwrap(),
        "{}",
        f.name
    );
    // Once it expires, B takes it; A's late release must not free B's lease.
    let expired = later + chrono::Duration::seconds(1);
    assert!(dedup
        .acquire_lease(
            "lease-1",
            "owner-b",
            expired + chrono::Duration::seconds(30),
            expired
        )
        .await
        .unwrap());
    dedup.release_lease("lease-1", "owner-a").await.unwrap();
    assert!(
        !dedup
            .acquire_lease(
                "lease-1",
                "owner-c",
                expired + chrono::Duration::seconds(30),
                expired
            )
            .await
            .unwrap(),
        "{}: A released B's lease",
        f.name
    );
    dedup.release_lease("lease-1", "owner-b").await.unwrap();
    assert!(
        dedup
            .acquire_lease("lease-1", "owner-c", later, now)
            .await
            .unwrap(),
        "{}",
        f.name
    );
}

async fn delayed_messages_stay_invisible_until_their_delay_ends(f: Fixture) {
    let queue = &f.backend.poll_queue;
    queue
        .send_batch(vec![
            message("now", "now"),
            message("later", "later").delayed(Duration::from_secs(2)),
        ])
        .await
        .unwrap();
    let first = queue
        .receive(10, Duration::from_secs(30), Duration::from_millis(500))
        .await
        .unwrap();
    let bodies: Vec<_> = first.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        vec!["now"],
        "{}: the delayed message is not yet visible",
        f.name
    );
    let mut later = Vec::new();
    for _ in 0..10 {
        later = queue
            .receive(10, Duration::from_secs(30), Duration::from_secs(1))
            .await
            .unwrap();
        if !later.is_empty() {
            break;
        }
    }
    assert_eq!(
        later.len(),
        1,
        "{}: visible once the delay has passed",
        f.name
    );
    assert_eq!(later[0].body, "later");
}

async fn integrations_list_in_pages_with_a_cursor(f: Fixture) {
    let store = &f.backend.integrations;
    let mut expected = Vec::new();
    for t in 0..3 {
        for i in 0..5 {
            let integration = integration(&format!("tenant-{t}"), &format!("int-{i}"));
            store.put_integration(&integration).await.unwrap();
            expected.push((integration.tenant_id, integration.id));
        }
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store
            .list_integrations_page(after.as_deref(), 4)
            .await
            .unwrap();
        assert!(page.integrations.len() <= 4, "{}", f.name);
        seen.extend(page.integrations.into_iter().map(|i| (i.tenant_id, i.id)));
        pages += 1;
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
        assert!(pages < 20, "{}: paging does not end", f.name);
    }
    seen.sort();
    expected.sort();
    assert_eq!(seen, expected, "{}: every integration exactly once", f.name);
    assert!(pages >= 4, "{}: {pages} pages of at most 4", f.name);
    assert!(store
        .list_integrations_page(Some("not-a-cursor"), 4)
        .await
        .is_err());
}

async fn queue_redelivers_after_the_visibility_timeout(f: Fixture) {
    let queue = &f.backend.activity_queue;
    queue
        .send_batch(vec![message("a", "first"), message("b", "second")])
        .await
        .unwrap();

    let received = queue
        .receive(10, Duration::from_secs(2), Duration::from_secs(1))
        .await
        .unwrap();
    let mut bodies: Vec<_> = received.iter().map(|m| m.body.as_str()).collect();
    bodies.sort();
    assert_eq!(bodies, ["first", "second"], "{}", f.name);
    assert!(received.iter().all(|m| m.receive_count == 1));

    // Delete one; leave the other undeleted, as a crashed consumer would.
    let done = received.iter().find(|m| m.body == "first").unwrap();
    queue.delete(&done.receipt_handle).await.unwrap();
    let crashed = received.iter().find(|m| m.body == "second").unwrap();

    let during = queue
        .receive(10, Duration::from_secs(2), Duration::ZERO)
        .await
        .unwrap();
    assert!(
        during.is_empty(),
        "{}: invisible during the timeout, got {during:?}",
        f.name
    );

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let again = queue
        .receive(10, Duration::from_secs(30), Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "{}", f.name);
    assert_eq!(again[0].body, "second");
    assert_eq!(again[0].message_id, crashed.message_id);
    assert_eq!(again[0].receive_count, 2, "{}", f.name);

    // The first receipt is stale now; deleting with it must not fail the consumer.
    queue.delete(&crashed.receipt_handle).await.unwrap();
    queue.delete(&again[0].receipt_handle).await.unwrap();
    assert_eq!(queue.approximate_depth().await.unwrap(), 0, "{}", f.name);
}

async fn queue_dead_letters_after_max_receives(f: Fixture) {
    let queue = &f.backend.activity_queue;
    queue
        .send_batch(vec![message("p", "poison")])
        .await
        .unwrap();
    let max = casb_shared::backend::MAX_RECEIVES;
    for attempt in 1..=max {
        // A zero visibility timeout makes the message visible again at once, like a consumer
        // that keeps failing it.
        let got = queue
            .receive(1, Duration::ZERO, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(got.len(), 1, "{}: receive {attempt} of {max}", f.name);
        assert_eq!(got[0].receive_count, attempt);
    }
    let after = queue
        .receive(1, Duration::ZERO, Duration::from_secs(1))
        .await
        .unwrap();
    assert!(
        after.is_empty(),
        "{}: past max receives it must not be delivered again",
        f.name
    );

    let dead = f
        .activity_dead_letters
        .receive(10, Duration::from_secs(30), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(
        dead.len(),
        1,
        "{}: the message is in the dead-letter queue",
        f.name
    );
    assert_eq!(dead[0].body, "poison");
}

async fn integrations_are_scoped_by_tenant(f: Fixture) {
    let store = &f.backend.integrations;
    let a1 = integration("tenant-a", "int-1");
    let mut a2 = integration("tenant-a", "int-2");
    a2.mode = IngestMode::Push;
    let b1 = integration("tenant-b", "int-3");
    for i in [&a1, &a2, &b1] {
        store.put_integration(i).await.unwrap();
    }
    let ids: Vec<_> = store
        .list_integrations("tenant-a")
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(ids, ["int-1", "int-2"], "{}", f.name);
    assert_eq!(
        store.get_integration("tenant-b", "int-1").await.unwrap(),
        None,
        "{}: cross-tenant read",
        f.name
    );
    assert_eq!(
        store
            .get_integration("tenant-a", "int-2")
            .await
            .unwrap()
            .unwrap()
            .mode,
        IngestMode::Push
    );

    let mut paused = a1.clone();
    paused.status = IntegrationStatus::Paused;
    store.put_integration(&paused).await.unwrap();
    let all = store
        .list_integrations_page(None, 100)
        .await
        .unwrap()
        .integrations;
    assert_eq!(all.len(), 3, "{}", f.name);
    assert_eq!(
        all.iter().find(|i| i.id == "int-1").unwrap().status,
        IntegrationStatus::Paused
    );
}

async fn activities_are_idempotent_and_queryable(f: Fixture) {
    let store = &f.backend.activities;
    let int1 = integration("tenant-a", "int-1");
    let int2 = integration("tenant-a", "int-2");
    let expires = Utc::now() + chrono::Duration::days(1);
    let mut stored = Vec::new();
    for (n, integration) in [(1, &int1), (2, &int1), (3, &int2)] {
        let mut activity = public_share(integration, &format!("e-{n}"));
        activity.event_timestamp = format!("2026-11-24T10:0{n}:00Z").parse().unwrap();
        if n == 3 {
            activity.actor_email = Some("bob@example.com".into());
        }
        store.put_activity(&activity, expires).await.unwrap();
        stored.push(activity);
    }
    // Redelivery stores the same activity again: still one.
    store.put_activity(&stored[0], expires).await.unwrap();
    let other_tenant = public_share(&integration("tenant-b", "int-9"), "e-1");
    store.put_activity(&other_tenant, expires).await.unwrap();

    let query = |q: ActivityQuery| async move { store.query_activities(&q).await.unwrap() };
    let base = ActivityQuery {
        tenant_id: "tenant-a".into(),
        limit: 100,
        ..Default::default()
    };

    let all: Vec<_> = query(base.clone())
        .await
        .into_iter()
        .map(|a| a.event_id)
        .collect();
    assert_eq!(
        all,
        ["e-3", "e-2", "e-1"],
        "{}: newest first, once each, own tenant only",
        f.name
    );

    let by_integration: Vec<_> = query(ActivityQuery {
        integration_id: Some("int-1".into()),
        ..base.clone()
    })
    .await
    .into_iter()
    .map(|a| a.event_id)
    .collect();
    assert_eq!(by_integration, ["e-2", "e-1"], "{}", f.name);

    let by_actor: Vec<_> = query(ActivityQuery {
        actor_email: Some("bob@example.com".into()),
        ..base.clone()
    })
    .await
    .into_iter()
    .map(|a| a.event_id)
    .collect();
    assert_eq!(by_actor, ["e-3"], "{}", f.name);

    let window: Vec<_> = query(ActivityQuery {
        from: Some("2026-11-24T10:01:30Z".parse().unwrap()),
        to: Some("2026-11-24T10:02:30Z".parse().unwrap()),
        ..base.clone()
    })
    .await
    .into_iter()
    .map(|a| a.event_id)
    .collect();
    assert_eq!(window, ["e-2"], "{}", f.name);

    let limited = query(ActivityQuery {
        limit: 2,
        ..base.clone()
    })
    .await;
    assert_eq!(limited.len(), 2);

    let fetched = store
        .get_activity("tenant-a", &stored[1].id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        fetched, stored[1],
        "{}: every attribute round-trips",
        f.name
    );
    assert_eq!(
        store
            .get_activity("tenant-b", &stored[1].id())
            .await
            .unwrap(),
        None
    );
}

pub(crate) fn incident(tenant: &str, id: &str, created_at: &str) -> Incident {
    let at = created_at.parse().unwrap();
    Incident {
        id: id.into(),
        tenant_id: tenant.into(),
        integration_id: "int-1".into(),
        policy_id: "builtin.public-file-link".into(),
        policy_name: "File shared by public link".into(),
        policy_version: 0,
        monitor_only: false,
        severity: Severity::Medium,
        object: IncidentObject {
            provider: Provider::Box,
            object_id: Some("f-1".into()),
            object_type: Some("file".into()),
            object_name: Some("cards.csv".into()),
            object_path: None,
        },
        activity_id: "a-1".into(),
        activity_ids: vec!["a-1".into()],
        reopened: 0,
        actor_email: Some("ann@example.com".into()),
        owner_email: None,
        matches: vec![MatchSummary {
            rule: "public_link".into(),
            count: 1,
        }],
        status: IncidentStatus::Open,
        actions: vec![],
        history: vec![],
        created_at: at,
        updated_at: at,
        version: 0,
    }
}

async fn incidents_are_created_once_and_updated_optimistically(f: Fixture) {
    let store = &f.backend.incidents;
    let first = incident("tenant-a", "inc-1", "2026-11-24T10:00:00Z");
    assert!(store.create_incident(&first).await.unwrap(), "{}", f.name);
    let mut duplicate = first.clone();
    duplicate.severity = Severity::Critical;
    assert!(
        !store.create_incident(&duplicate).await.unwrap(),
        "{}: created twice",
        f.name
    );
    store
        .create_incident(&incident("tenant-a", "inc-2", "2026-11-24T11:00:00Z"))
        .await
        .unwrap();
    store
        .create_incident(&incident("tenant-b", "inc-3", "2026-11-24T12:00:00Z"))
        .await
        .unwrap();

    let read = store
        .get_incident("tenant-a", "inc-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (read.severity, read.version),
        (Severity::Medium, 1),
        "{}: first write kept",
        f.name
    );

    let mut resolved = read.clone();
    resolved.status = IncidentStatus::Resolved;
    let written = store.update_incident(&resolved).await.unwrap();
    assert_eq!(written.version, 2);
    // A writer still holding version 1 is stale.
    let mut stale = read.clone();
    stale.status = IncidentStatus::FalsePositive;
    assert!(
        store
            .update_incident(&stale)
            .await
            .unwrap_err()
            .is_conflict(),
        "{}",
        f.name
    );

    let listed: Vec<_> = store
        .list_incidents("tenant-a", None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(
        listed,
        ["inc-2", "inc-1"],
        "{}: newest first, own tenant only",
        f.name
    );
    let open: Vec<_> = store
        .list_incidents("tenant-a", Some(IncidentStatus::Open), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(open, ["inc-2"], "{}", f.name);
    assert_eq!(
        store
            .get_incident("tenant-a", "inc-1")
            .await
            .unwrap()
            .unwrap()
            .status,
        IncidentStatus::Resolved
    );
}

async fn secrets_are_versioned(f: Fixture) {
    let secrets = &f.backend.secrets;
    assert!(
        secrets
            .get_secret("integrations/int-1/tokens")
            .await
            .unwrap()
            .is_none(),
        "{}",
        f.name
    );
    let v1 = secrets
        .put_secret("integrations/int-1/tokens", &SecretString::from("one"))
        .await
        .unwrap();
    let v2 = secrets
        .put_secret("integrations/int-1/tokens", &SecretString::from("two"))
        .await
        .unwrap();
    assert_ne!(v1, v2, "{}: each put is a new version", f.name);
    let current = secrets
        .get_secret("integrations/int-1/tokens")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.value.expose_secret(), "two");
    assert_eq!(current.version, v2);
    secrets
        .delete_secret("integrations/int-1/tokens")
        .await
        .unwrap();
    assert!(
        secrets
            .get_secret("integrations/int-1/tokens")
            .await
            .unwrap()
            .is_none(),
        "{}",
        f.name
    );
    secrets
        .delete_secret("integrations/int-1/tokens")
        .await
        .unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn the_embedded_data_directory_and_everything_in_it_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("data");
    let embedded = casb_shared::backend::EmbeddedBackend::open(&data).unwrap();
    let integration = integration("tenant-a", "int-1");
    embedded
        .backend
        .integrations
        .put_integration(&integration)
        .await
        .unwrap();
    embedded
        .backend
        .activities
        .put_activity(
            &public_share(&integration, "e-1"),
            Utc::now() + chrono::Duration::days(1),
        )
        .await
        .unwrap();
    embedded
        .backend
        .secrets
        .put_secret("s", &SecretString::from("v"))
        .await
        .unwrap();
    let mode = |name: &str| {
        std::fs::metadata(data.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(""), 0o700, "the data directory");
    let mut files = 0;
    for entry in std::fs::read_dir(&data).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert_eq!(mode(&name), 0o600, "{name}");
        files += 1;
    }
    assert!(
        files >= 2,
        "casb.db (with its -wal) and secrets.json were checked"
    );
}

async fn policy_sets_are_versioned_per_tenant_and_never_overwritten(f: Fixture) {
    let store = &f.backend.policies;
    let set = |tenant: &str, version: u64, source: &str| StoredPolicySet {
        tenant_id: tenant.into(),
        version,
        source: source.into(),
        file_name: "p.yaml".into(),
        applied_at: "2026-11-24T10:00:00Z".parse().unwrap(),
    };
    assert_eq!(
        store.latest_policy_set("tenant-a").await.unwrap(),
        None,
        "{}",
        f.name
    );
    store
        .put_policy_set(&set("tenant-a", 1, "one"))
        .await
        .unwrap();
    store
        .put_policy_set(&set("tenant-a", 2, "two"))
        .await
        .unwrap();
    // Versions sort as numbers, not as text: 10 is newer than 9.
    for v in 3..=10 {
        store
            .put_policy_set(&set("tenant-a", v, &format!("v{v}")))
            .await
            .unwrap();
    }
    store
        .put_policy_set(&set("tenant-b", 1, "other tenant"))
        .await
        .unwrap();
    let err = store
        .put_policy_set(&set("tenant-a", 2, "a concurrent apply"))
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{}: {err}", f.name);
    let latest = store.latest_policy_set("tenant-a").await.unwrap().unwrap();
    assert_eq!(
        (latest.version, latest.source.as_str()),
        (10, "v10"),
        "{}",
        f.name
    );
    let second = store.get_policy_set("tenant-a", 2).await.unwrap().unwrap();
    assert_eq!(
        second.source, "two",
        "{}: a version is never overwritten",
        f.name
    );
    assert_eq!(
        store
            .latest_policy_set("tenant-b")
            .await
            .unwrap()
            .unwrap()
            .source,
        "other tenant"
    );
    assert_eq!(store.get_policy_set("tenant-b", 2).await.unwrap(), None);
}

async fn classifications_are_kept_per_content_version_until_they_expire(f: Fixture) {
    let store = &f.backend.classifications;
    let now = Utc::now();
    let card = Classification {
        tenant_id: "tenant-a".into(),
        content_key: "sha1:aaa".into(),
        detectors: vec![DetectorCount {
            detector: "credit_card".into(),
            category: casb_shared::dlp::Category::Financial,
            by_confidence: [0, 2, 1],
        }],
        coverage: Coverage::Complete,
        detected_type: Some("text".into()),
        size: Some(42),
        sha256: Some("ab".repeat(32)),
        urls: vec!["https://evil.example/login".into()],
        inspected_at: now,
    };
    store
        .put_classification(&card, now + chrono::Duration::days(1))
        .await
        .unwrap();
    let read = store
        .get_classification("tenant-a", "sha1:aaa")
        .await
        .unwrap();
    assert_eq!(read.as_ref(), Some(&card), "{}", f.name);
    // Another tenant with the same file content has its own record.
    assert_eq!(
        store
            .get_classification("tenant-b", "sha1:aaa")
            .await
            .unwrap(),
        None
    );
    // A later result for the same version replaces the earlier one.
    let mut rescanned = card.clone();
    rescanned.coverage = Coverage::Partial("limit".into());
    store
        .put_classification(&rescanned, now + chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(
        store
            .get_classification("tenant-a", "sha1:aaa")
            .await
            .unwrap()
            .unwrap()
            .coverage,
        Coverage::Partial("limit".into())
    );
    // An expired one is absent, whatever the store's sweeper has done.
    let mut old = card.clone();
    old.content_key = "sha1:old".into();
    store
        .put_classification(&old, now - chrono::Duration::seconds(5))
        .await
        .unwrap();
    assert_eq!(
        store
            .get_classification("tenant-a", "sha1:old")
            .await
            .unwrap(),
        None,
        "{}",
        f.name
    );
}

fn export_record(key: &str, time_ms: i64) -> ExportRecord {
    ExportRecord {
        key: key.into(),
        class_uid: 6006,
        time_ms,
        body: format!("{{\"key\":\"{key}\"}}"),
    }
}

async fn export_outbox_gives_each_record_to_one_batch_and_reopens_unfinished_ones(f: Fixture) {
    let exports = &f.backend.exports;
    let keep = Utc::now() + chrono::Duration::days(1);
    let records: Vec<ExportRecord> = [("e", 5), ("a", 1), ("d", 4), ("b", 2), ("c", 3)]
        .iter()
        .map(|(k, t)| export_record(k, *t))
        .collect();
    exports.add_export_records(&records, keep).await.unwrap();
    // The same key again, even with another body, is the same record.
    let mut changed = export_record("a", 1);
    changed.body = "{\"changed\":true}".into();
    exports.add_export_records(&[changed], keep).await.unwrap();

    let first = exports.claim_export_batch("b1", 3).await.unwrap();
    let keys = |r: &[ExportRecord]| r.iter().map(|r| r.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&first), ["a", "b", "c"], "{}: oldest first", f.name);
    assert_eq!(first[0].body, "{\"key\":\"a\"}", "{}", f.name);
    let second = exports.claim_export_batch("b2", 10).await.unwrap();
    assert_eq!(keys(&second), ["d", "e"], "{}", f.name);
    assert!(exports
        .claim_export_batch("b3", 10)
        .await
        .unwrap()
        .is_empty());

    // Both batches are open until completed: a stopped exporter's batch is found again.
    assert_eq!(
        exports.open_export_batches().await.unwrap(),
        ["b1", "b2"],
        "{}",
        f.name
    );
    assert_eq!(
        keys(&exports.export_batch_records("b1").await.unwrap()),
        ["a", "b", "c"]
    );
    exports.complete_export_batch("b1").await.unwrap();
    assert_eq!(
        exports.open_export_batches().await.unwrap(),
        ["b2"],
        "{}",
        f.name
    );
    assert!(exports.export_batch_records("b1").await.unwrap().is_empty());

    // An exported key added again (a redelivered activity) is not exported again.
    exports
        .add_export_records(&[export_record("a", 1)], keep)
        .await
        .unwrap();
    assert!(
        exports
            .claim_export_batch("b4", 10)
            .await
            .unwrap()
            .is_empty(),
        "{}",
        f.name
    );
    exports.complete_export_batch("b2").await.unwrap();
    assert!(exports.open_export_batches().await.unwrap().is_empty());
    exports
        .add_export_records(&[export_record("f", 6)], keep)
        .await
        .unwrap();
    assert_eq!(
        keys(&exports.claim_export_batch("b5", 10).await.unwrap()),
        ["f"]
    );
}

async fn export_sink_writes_whole_objects_and_replaces_them(f: Fixture) {
    let sink = f
        .backend
        .export_sinks
        .json_lines
        .clone()
        .expect("both test back ends export");
    let key = "ocsf/class_uid=6006/year=2026/month=11/day=29/hour=01/batch-1.jsonl.gz";
    sink.put_object(key, b"first".to_vec(), "application/gzip")
        .await
        .unwrap();
    sink.put_object(key, b"second".to_vec(), "application/gzip")
        .await
        .unwrap();
    assert_eq!(
        f.read_export(key).await.as_deref(),
        Some(&b"second"[..]),
        "{}",
        f.name
    );
    for bad in ["../escape", "a//b", "/absolute"] {
        if f.name == "embedded" {
            assert!(sink.put_object(bad, vec![1], "x").await.is_err(), "{bad}");
        }
    }
}

pub(crate) fn anomaly(tenant: &str, id: &str, last: &str) -> Anomaly {
    let at: chrono::DateTime<Utc> = last.parse().unwrap();
    Anomaly {
        id: id.into(),
        tenant_id: tenant.into(),
        integration_id: "int-1".into(),
        provider: Provider::Box,
        subject: "user:ann@example.com".into(),
        category: AnomalyCategory::DataExfiltration,
        detector: DetectorKind::MassDownload,
        severity: Severity::Medium,
        explanation: "100 downloads within 60 minutes".into(),
        evidence: serde_json::json!({"count": 100}),
        first_activity_at: at,
        last_activity_at: at,
        activity_count: 1,
        recent_activity_ids: vec!["a-1".into()],
        created_at: at,
        updated_at: at,
        version: 0,
    }
}

async fn behaviour_state_and_anomalies_are_written_optimistically_and_listed_by_activity(
    f: Fixture,
) {
    use casb_shared::threat::BehaviourState;
    let store = &f.backend.threats;
    let name = f.name;
    assert!(store
        .get_behaviour("tenant-a", "user:ann")
        .await
        .unwrap()
        .is_none());
    let mut state = BehaviourState::new("tenant-a", "user:ann");
    state.sign_ins = 3;
    let written = store.put_behaviour(&state).await.unwrap();
    assert_eq!(written.version, 1, "{name}");
    // A second creator of the same state loses.
    assert!(
        store.put_behaviour(&state).await.unwrap_err().is_conflict(),
        "{name}"
    );
    let mut next = written.clone();
    next.sign_ins = 4;
    let next = store.put_behaviour(&next).await.unwrap();
    assert_eq!(next.version, 2);
    // A writer still holding version 1 is stale.
    assert!(
        store
            .put_behaviour(&written)
            .await
            .unwrap_err()
            .is_conflict(),
        "{name}"
    );
    let read = store
        .get_behaviour("tenant-a", "user:ann")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((read.sign_ins, read.version), (4, 2), "{name}");
    assert!(
        store
            .get_behaviour("tenant-b", "user:ann")
            .await
            .unwrap()
            .is_none(),
        "{name}"
    );

    let first = anomaly("tenant-a", "an-1", "2026-11-24T10:00:00Z");
    assert!(store.create_anomaly(&first).await.unwrap(), "{name}");
    assert!(
        !store.create_anomaly(&first).await.unwrap(),
        "{name}: created twice"
    );
    store
        .create_anomaly(&anomaly("tenant-a", "an-2", "2026-11-24T11:00:00Z"))
        .await
        .unwrap();
    store
        .create_anomaly(&anomaly("tenant-b", "an-3", "2026-11-24T12:00:00Z"))
        .await
        .unwrap();
    let mut read = store
        .get_anomaly("tenant-a", "an-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.version, 1, "{name}");
    // Extended later than an-2: listed first now.
    read.last_activity_at = "2026-11-24T13:00:00Z".parse().unwrap();
    read.activity_count = 2;
    let updated = store.update_anomaly(&read).await.unwrap();
    assert_eq!(updated.version, 2);
    assert!(
        store.update_anomaly(&read).await.unwrap_err().is_conflict(),
        "{name}"
    );
    let listed: Vec<_> = store
        .list_anomalies("tenant-a", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.id, a.activity_count))
        .collect();
    assert_eq!(
        listed,
        [("an-1".to_string(), 2), ("an-2".to_string(), 1)],
        "{name}: most recently active first, own tenant only"
    );

    let at =
        |m: u32| -> chrono::DateTime<Utc> { format!("2026-11-24T10:{m:02}:00Z").parse().unwrap() };
    let batch: Vec<(String, chrono::DateTime<Utc>)> =
        (0..5).map(|i| (format!("act-{i}"), at(i))).collect();
    store
        .add_anomaly_activities("tenant-a", "an-1", &batch)
        .await
        .unwrap();
    // Again, and overlapping: nothing doubles.
    store
        .add_anomaly_activities("tenant-a", "an-1", &batch[3..])
        .await
        .unwrap();
    store
        .add_anomaly_activities("tenant-a", "an-1", &[("act-9".into(), at(9))])
        .await
        .unwrap();
    let ids = store
        .anomaly_activities("tenant-a", "an-1", 100)
        .await
        .unwrap();
    assert_eq!(
        ids,
        ["act-9", "act-4", "act-3", "act-2", "act-1", "act-0"],
        "{name}: newest first, once each"
    );
    assert_eq!(
        store
            .anomaly_activities("tenant-a", "an-1", 2)
            .await
            .unwrap(),
        ["act-9", "act-4"]
    );
    assert!(
        store
            .anomaly_activities("tenant-a", "an-2", 10)
            .await
            .unwrap()
            .is_empty(),
        "{name}"
    );
}

async fn api_credentials_are_unique_scoped_by_tenant_and_revocable(f: Fixture) {
    use casb_shared::access;
    let store = &f.backend.access;
    let now = Utc::now();
    let key = access::issue_api_key("tenant-a", "siem", now, None);
    assert!(store.create_credential(&key.credential).await.unwrap());
    assert!(
        !store.create_credential(&key.credential).await.unwrap(),
        "{}",
        f.name
    );
    let alice = access::issue_api_user("tenant-a", "alice", now);
    assert!(store.create_credential(&alice.credential).await.unwrap());
    // User names are global: another tenant cannot take "alice".
    let other_alice = access::issue_api_user("tenant-b", "alice", now);
    assert!(
        !store
            .create_credential(&other_alice.credential)
            .await
            .unwrap(),
        "{}",
        f.name
    );
    let stored = store.get_credential("user:alice").await.unwrap().unwrap();
    assert_eq!(stored.tenant_id, "tenant-a");
    assert!(access::password_matches(&stored.secret_hash, &alice.secret));
    assert!(!stored.secret_hash.contains(&alice.secret));
    let b_key = access::issue_api_key("tenant-b", "siem", now, None);
    store.create_credential(&b_key.credential).await.unwrap();

    let listed: Vec<String> = store
        .list_credentials("tenant-a")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    let mut expected = vec![key.credential.id.clone(), "user:alice".to_string()];
    expected.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "{}", f.name);

    // Tenant B cannot revoke tenant A's key; A can, and the first revocation time stays.
    assert!(!store
        .revoke_credential("tenant-b", &key.credential.id, now)
        .await
        .unwrap());
    assert!(store
        .get_credential(&key.credential.id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_none());
    assert!(store
        .revoke_credential("tenant-a", &key.credential.id, now)
        .await
        .unwrap());
    let later = now + chrono::Duration::hours(1);
    assert!(store
        .revoke_credential("tenant-a", &key.credential.id, later)
        .await
        .unwrap());
    let revoked = store
        .get_credential(&key.credential.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        revoked.revoked_at.map(|t| t.timestamp_millis()),
        Some(now.timestamp_millis()),
        "{}",
        f.name
    );
    assert!(revoked.unusable(later).is_some());
    assert!(!store
        .revoke_credential("tenant-a", "k_0000000000000000", now)
        .await
        .unwrap());
}

async fn block_lists_hold_each_value_once_per_tenant_and_list(f: Fixture) {
    let store = &f.backend.access;
    let entry = |tenant: &str, list: BlockList, value: &str| BlockEntry {
        tenant_id: tenant.into(),
        list,
        value: list.normalize(value).unwrap(),
        comment: None,
        added_at: Utc::now(),
        added_by: "k_test".into(),
    };
    let hash = "a".repeat(64);
    assert!(store
        .add_block_entry(&entry("tenant-a", BlockList::Sha256, &hash))
        .await
        .unwrap());
    assert!(
        !store
            .add_block_entry(&entry("tenant-a", BlockList::Sha256, &hash.to_uppercase()))
            .await
            .unwrap(),
        "{}",
        f.name
    );
    assert!(store
        .add_block_entry(&entry("tenant-a", BlockList::Sha256, &"0".repeat(64)))
        .await
        .unwrap());
    assert!(store
        .add_block_entry(&entry("tenant-b", BlockList::Sha256, &hash))
        .await
        .unwrap());
    assert!(store
        .add_block_entry(&entry(
            "tenant-a",
            BlockList::Urls,
            "https://evil.example/x"
        ))
        .await
        .unwrap());
    let values =
        |entries: Vec<BlockEntry>| entries.into_iter().map(|e| e.value).collect::<Vec<_>>();
    assert_eq!(
        values(
            store
                .list_block_entries("tenant-a", BlockList::Sha256)
                .await
                .unwrap()
        ),
        vec!["0".repeat(64), hash.clone()],
        "{}",
        f.name
    );
    assert_eq!(
        values(
            store
                .list_block_entries("tenant-a", BlockList::Urls)
                .await
                .unwrap()
        ),
        vec!["https://evil.example/x".to_string()]
    );
    assert!(store
        .remove_block_entry("tenant-a", BlockList::Sha256, &hash)
        .await
        .unwrap());
    assert!(
        !store
            .remove_block_entry("tenant-a", BlockList::Sha256, &hash)
            .await
            .unwrap(),
        "{}",
        f.name
    );
    assert_eq!(
        values(
            store
                .list_block_entries("tenant-b", BlockList::Sha256)
                .await
                .unwrap()
        ),
        vec![hash],
        "tenant B's list is untouched ({})",
        f.name
    );
}

/// Pages are read while other writers add incidents and activities, old and new: every item
/// that existed before the first page is returned exactly once, in order.
async fn incidents_and_activities_page_by_keyset_without_skips_or_repeats_under_writes(f: Fixture) {
    use casb_shared::ports::IncidentQuery;
    let base: chrono::DateTime<Utc> = "2026-11-20T00:00:00Z".parse().unwrap();
    // Several incidents share a creation time: the id breaks the tie.
    let mut existing = Vec::new();
    for i in 0..60 {
        let mut inc = incident("tenant-a", &format!("inc-{i:03}"), "2026-11-20T00:00:00Z");
        inc.created_at = base + chrono::Duration::seconds(i / 3);
        f.backend.incidents.create_incident(&inc).await.unwrap();
        existing.push(inc.id.clone());
    }
    let other = incident("tenant-b", "inc-b", "2026-11-20T00:00:30Z");
    f.backend.incidents.create_incident(&other).await.unwrap();

    let writer = {
        let store = f.backend.incidents.clone();
        tokio::spawn(async move {
            for i in 0..30 {
                let mut inc = incident("tenant-a", &format!("new-{i:03}"), "2026-11-20T00:00:00Z");
                inc.created_at = base + chrono::Duration::seconds(100 + i);
                store.create_incident(&inc).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = f
            .backend
            .incidents
            .query_incidents(&IncidentQuery {
                tenant_id: "tenant-a".into(),
                before: before.clone(),
                limit: 7,
                ..IncidentQuery::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        for inc in &page {
            assert_eq!(inc.tenant_id, "tenant-a", "{}", f.name);
            seen.push(inc.id.clone());
        }
        let last = page.last().unwrap();
        before = Some((last.created_at, last.id.clone()));
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    let old: Vec<&String> = seen.iter().filter(|id| id.starts_with("inc-")).collect();
    let mut expected: Vec<&String> = existing.iter().collect();
    expected.reverse();
    assert_eq!(
        old, expected,
        "every existing incident once, newest first ({})",
        f.name
    );
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no incident twice ({})", f.name);

    // Activities: the same keyset order, with an activity arriving late (an old event time)
    // between pages.
    let integration = integration("tenant-a", "int-1");
    let mut ids = Vec::new();
    for i in 0..25 {
        let mut a = public_share(&integration, &format!("ev-{i:03}"));
        a.event_timestamp = base + chrono::Duration::seconds(i / 2);
        f.backend
            .activities
            .put_activity(&a, base + chrono::Duration::days(400))
            .await
            .unwrap();
        ids.push(a.id());
    }
    let mut seen = Vec::new();
    let mut before = None;
    let mut late_written = false;
    loop {
        let page = f
            .backend
            .activities
            .query_activities(&ActivityQuery {
                tenant_id: "tenant-a".into(),
                before: before.clone(),
                limit: 4,
                ..ActivityQuery::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        seen.extend(page.iter().map(|a| a.id()));
        let last = page.last().unwrap();
        before = Some((last.event_timestamp, last.id()));
        if !late_written {
            late_written = true;
            let mut late = public_share(&integration, "late");
            late.event_timestamp = base + chrono::Duration::seconds(100);
            f.backend
                .activities
                .put_activity(&late, base + chrono::Duration::days(400))
                .await
                .unwrap();
        }
    }
    let mut by_order: Vec<(chrono::DateTime<Utc>, String)> = Vec::new();
    for id in &ids {
        let a = f
            .backend
            .activities
            .get_activity("tenant-a", id)
            .await
            .unwrap()
            .unwrap();
        by_order.push((a.event_timestamp, id.clone()));
    }
    by_order.sort();
    by_order.reverse();
    let expected: Vec<String> = by_order.into_iter().map(|(_, id)| id).collect();
    assert_eq!(
        seen, expected,
        "every activity once, newest first ({})",
        f.name
    );
}

async fn activities_are_read_in_batches_within_their_tenant(f: Fixture) {
    let store = &f.backend.activities;
    let mine = integration("tenant-a", "int-1");
    let theirs = integration("tenant-b", "int-2");
    let expires = Utc::now() + chrono::Duration::days(1);
    let mut ids = Vec::new();
    // More than one batch on either back end (SQLite: 500 a query; DynamoDB: 100 a request).
    for i in 0..620 {
        let a = public_share(&mine, &format!("batch-{i}"));
        store.put_activity(&a, expires).await.unwrap();
        ids.push(a.id());
    }
    let foreign = public_share(&theirs, "batch-foreign");
    store.put_activity(&foreign, expires).await.unwrap();
    let mut asked = ids.clone();
    asked.push(foreign.id());
    asked.push("never-stored".into());
    let mut found: Vec<String> = store
        .get_activities("tenant-a", &asked)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id())
        .collect();
    found.sort();
    let mut expected = ids;
    expected.sort();
    assert_eq!(
        found, expected,
        "{}: its own, all of them, nothing else",
        f.name
    );
}
