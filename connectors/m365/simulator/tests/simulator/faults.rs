//! Injected faults on each listener, in each service's error shape.

use m365_simulator::{HttpFault, Listener, Resource};
use reqwest::Method;

use crate::common::Harness;

#[tokio::test]
async fn a_429_on_the_feed_carries_retry_after_and_af429_then_clears() {
    let h = Harness::start().await;
    let token = h.token(Resource::Manage).await;
    h.start_subscription(&token, "Audit.SharePoint").await;
    h.sim.inject_fault(HttpFault {
        listener: Listener::Manage,
        path_contains: "/subscriptions/content".to_string(),
        status: 429,
        retry_after: Some(7),
        times: 1,
    });
    // A different path is not affected.
    let list = h
        .feed(&token, Method::GET, "subscriptions/list", None)
        .await;
    assert_eq!(list.status, 200);
    let path = "subscriptions/content?contentType=Audit.SharePoint";
    let throttled = h.feed(&token, Method::GET, path, None).await;
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.header("retry-after").as_deref(), Some("7"));
    assert_eq!(throttled.json["error"]["code"], "AF429");
    let retried = h.feed(&token, Method::GET, path, None).await;
    assert_eq!(retried.status, 200, "{}", retried.text);
    assert_eq!(h.sim.faulted_requests(), 1);
    // The throttled call counts as a call (start, list, throttled, retried).
    assert_eq!(h.sim.management_calls(), 4);
    assert_eq!(h.sim.management_calls_without_publisher(), 0);
}

#[tokio::test]
async fn server_errors_use_each_services_shape_for_the_given_number_of_requests() {
    let h = Harness::start().await;
    h.sim.inject_fault(HttpFault {
        listener: Listener::Login,
        path_contains: "/token".to_string(),
        status: 503,
        retry_after: None,
        times: 2,
    });
    for _ in 0..2 {
        let reply = h.request_token(Resource::Graph.default_scope()).await;
        assert_eq!(reply.status, 503);
        assert!(reply.json["error"].is_string());
        assert!(reply.json["error_codes"].is_array());
    }
    let graph = h.token(Resource::Graph).await;

    h.sim.inject_fault(HttpFault {
        listener: Listener::Graph,
        path_contains: String::new(),
        status: 500,
        retry_after: None,
        times: 1,
    });
    let url = format!("{}/users", h.sim.graph_base());
    let failed = h.call(&graph, Method::GET, &url, None).await;
    assert_eq!(failed.status, 500);
    assert!(failed.json["error"]["code"].is_string());
    assert!(failed.json["error"]["innerError"]["request-id"].is_string());
    assert_eq!(h.call(&graph, Method::GET, &url, None).await.status, 200);

    let manage = h.token(Resource::Manage).await;
    h.sim.inject_fault(HttpFault {
        listener: Listener::Manage,
        path_contains: String::new(),
        status: 500,
        retry_after: None,
        times: 1,
    });
    let failed = h
        .feed(&manage, Method::GET, "subscriptions/list", None)
        .await;
    assert_eq!(failed.status, 500);
    assert_eq!(failed.json["error"]["code"], "AF50000");
    assert_eq!(h.sim.faulted_requests(), 4);
}
