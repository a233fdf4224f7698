//! HTTP APIs (API Gateway v2), end to end: the service against moto, with the stand-in for the
//! v2 calls moto lacks (UpdateStage, DeleteRouteSettings, a stage's tags; see
//! `tests/support/moto_server.py`). GetApis, GetStage and GetRoutes are moto's own.

use serde_json::Value;

use crate::helpers::*;

async fn reply_to(app: &TestApp, text: &str, nth: usize) -> Value {
    app.command(text).await;
    app.slack.wait_for("/reply", nth).await[nth - 1].clone()
}

fn contains_all(text: &str, expected: &[&str]) {
    for part in expected {
        assert!(text.contains(part), "{part:?} missing from {text}");
    }
}

#[tokio::test]
async fn an_http_api_by_name_gets_stage_limits_and_keeps_its_other_settings() {
    let app = TestApp::spawn().await;
    let name = unique("orders-http");
    let api = create_http_api(&name, "prod", &["GET /orders/{id}"], None).await;

    let reply = reply_to(&app, &format!("{name} prod 50 100"), 1).await;

    let stage = http_stage(&api, "prod").await;
    let defaults = stage.default_route_settings();
    assert_eq!(throttling(defaults), Some((50.0, 100)));
    // UpdateStage replaces the whole object: detailed metrics must have been sent back.
    assert_eq!(
        defaults.and_then(|d| d.detailed_metrics_enabled()),
        Some(true)
    );
    contains_all(
        &shown(&reply),
        &[
            "HTTP API",
            &name,
            &api,
            "rate not set → 50 req/s",
            "burst not set → 100",
        ],
    );
    let notice = shown(&app.slack.wait_for("/webhook", 1).await[0]);
    contains_all(&notice, &["HTTP API", &api]);
}

#[tokio::test]
async fn a_route_is_named_by_its_route_key_and_reset_removes_its_settings() {
    let app = TestApp::spawn().await;
    let api = create_http_api(
        &unique("routes"),
        "prod",
        &["GET /orders/{id}", "$default"],
        Some((100.0, 200)),
    )
    .await;

    let set = reply_to(&app, &format!("{api} prod 10 20 GET /orders/{{id}}"), 1).await;
    reply_to(&app, &format!("{api} prod 30 60 $default"), 2).await;

    let routes = http_stage(&api, "prod")
        .await
        .route_settings()
        .cloned()
        .unwrap();
    assert_eq!(throttling(routes.get("GET /orders/{id}")), Some((10.0, 20)));
    assert_eq!(throttling(routes.get("$default")), Some((30.0, 60)));
    // The stage-wide values are untouched.
    assert_eq!(
        throttling(http_stage(&api, "prod").await.default_route_settings()),
        Some((100.0, 200))
    );
    contains_all(&shown(&set), &["GET /orders/{id}", "not set → 10 req/s"]);

    // Routes are listed in the message's blocks.
    let shown_view = reply_to(&app, &format!("show {api} prod"), 3)
        .await
        .to_string();
    contains_all(
        &shown_view,
        &[
            "HTTP API",
            "100 req/s",
            "`GET /orders/{id}`: 10 req/s",
            "`$default`: 30 req/s",
        ],
    );

    let reset = reply_to(&app, &format!("reset {api} prod GET /orders/{{id}}"), 4).await;
    let routes = http_stage(&api, "prod")
        .await
        .route_settings()
        .cloned()
        .unwrap();
    assert!(!routes.contains_key("GET /orders/{id}"), "{routes:?}");
    assert!(routes.contains_key("$default"));
    contains_all(&shown(&reset), &["inherits 100 req/s from the stage"]);

    // A route the API does not have is refused from its routes (GetRoutes) before any preview
    // or write, with the close one offered; nothing changes.
    let missing = shown(&reply_to(&app, &format!("{api} prod 1 2 GET /order/{{id}}"), 5).await);
    contains_all(
        &missing,
        &[
            "has no method `GET /order/{id}`",
            "did you mean `GET /orders/{id}`?",
            "Nothing was changed",
        ],
    );
    let routes = http_stage(&api, "prod").await.route_settings().cloned();
    assert!(
        !routes.unwrap_or_default().contains_key("GET /order/{id}"),
        "nothing written"
    );
}

#[tokio::test]
async fn a_stage_left_at_0_0_is_shown_blocking_and_reset_writes_the_account_limits() {
    let app = TestApp::spawn().await;
    // What IaC leaves after "removing" an HTTP API stage's throttling.
    let api = create_http_api(&unique("trapped"), "prod", &[], Some((0.0, 0))).await;

    let view = shown(&reply_to(&app, &format!("show {api}"), 1).await);
    contains_all(
        &view,
        &["HTTP API", "blocks every request", "cannot be unset"],
    );

    let reset = shown(&reply_to(&app, &format!("reset {api} prod"), 2).await);

    let stage = http_stage(&api, "prod").await;
    let account = aws().await.get_account().send().await.unwrap();
    let limits = account.throttle_settings().unwrap();
    assert_eq!(
        throttling(stage.default_route_settings()),
        Some((limits.rate_limit(), limits.burst_limit())),
        "the account's limits, written explicitly"
    );
    assert_eq!(
        stage
            .default_route_settings()
            .and_then(|d| d.detailed_metrics_enabled()),
        Some(true)
    );
    contains_all(
        &reset,
        &[
            "unblocks traffic",
            "cannot be left without limits",
            "set the account's limits explicitly",
        ],
    );
}

#[tokio::test]
async fn a_name_shared_by_a_rest_and_an_http_api_is_refused_with_both_listed() {
    let app = TestApp::spawn().await;
    let name = unique("shared");
    let rest = create_api(&name, "prod").await;
    let http = create_http_api(&name, "prod", &[], None).await;

    let text = shown(&reply_to(&app, &format!("{name} prod 10 20"), 1).await);

    contains_all(
        &text,
        &[
            "2 APIs are named",
            &format!("{rest} (REST API)"),
            &format!("{http} (HTTP API)"),
        ],
    );
    assert_eq!(stage_limits(&rest, "prod").await, None);
    assert_eq!(
        throttling(http_stage(&http, "prod").await.default_route_settings()),
        None
    );
}

#[tokio::test]
async fn a_websocket_api_is_refused_saying_so() {
    let app = TestApp::spawn().await;
    let name = unique("sockets");
    create_websocket_api(&name).await;

    let text = shown(&reply_to(&app, &format!("{name} prod 10 20"), 1).await);

    contains_all(&text, &["is a WebSocket API", "REST and HTTP APIs"]);
}

#[tokio::test]
async fn each_kind_refuses_the_other_kinds_levels_before_any_change() {
    let app = TestApp::spawn().await;
    let rest = create_api(&unique("rest-levels"), "prod").await;
    let http = create_http_api(&unique("http-levels"), "prod", &["GET /pets"], None).await;

    let on_rest = shown(&reply_to(&app, &format!("{rest} prod 10 20 $default"), 1).await);
    // Refused by the grammar, for every kind, in the acknowledgement itself.
    let on_http: serde_json::Value = app
        .command(&format!("{http} prod 10 20 * /pets"))
        .await
        .json()
        .await
        .unwrap();
    let on_http = shown(&on_http);

    contains_all(&on_rest, &["`$default` is an HTTP API's catch-all route"]);
    contains_all(
        &on_http,
        &[
            "`* /pets`",
            "partial wildcard",
            "not documented to throttle",
        ],
    );
    assert_eq!(stage_limits(&rest, "prod").await, None);
    assert!(
        http_stage(&http, "prod")
            .await
            .route_settings()
            .is_none_or(|r| r.is_empty())
    );
}

#[tokio::test]
async fn a_timed_change_on_an_http_api_is_recorded_on_the_stage_and_restored() {
    let app = TestApp::spawn().await;
    let name = unique("timed-http");
    let api = create_http_api(&name, "prod", &[], Some((20.0, 40))).await;

    let timed = shown(&reply_to(&app, &format!("{name} prod 15 30 for 1h"), 1).await);
    contains_all(&timed, &["HTTP API", "20 req/s → 15 req/s"]);
    assert_eq!(
        throttling(http_stage(&api, "prod").await.default_route_settings()),
        Some((15.0, 30))
    );
    let tags = http_stage(&api, "prod")
        .await
        .tags()
        .cloned()
        .unwrap_or_default();
    assert!(
        tags.keys().any(|k| k.starts_with("throttle-bot:")),
        "the record is kept in the stage's tags: {tags:?}"
    );

    reply_to(&app, &format!("restore {name} prod"), 2).await;

    let stage = http_stage(&api, "prod").await;
    assert_eq!(throttling(stage.default_route_settings()), Some((20.0, 40)));
    let tags = stage.tags().cloned().unwrap_or_default();
    assert!(
        !tags.keys().any(|k| k.starts_with("throttle-bot:")),
        "the record is gone: {tags:?}"
    );
}

#[tokio::test]
async fn undo_on_an_http_api_puts_the_route_back_as_it_was() {
    let app = TestApp::spawn().await;
    let api = create_http_api(
        &unique("undo-http"),
        "prod",
        &["$default"],
        Some((50.0, 100)),
    )
    .await;
    let changed = reply_to(&app, &format!("{api} prod 40 80 $default"), 1).await;
    let routes = http_stage(&api, "prod")
        .await
        .route_settings()
        .cloned()
        .unwrap();
    assert_eq!(throttling(routes.get("$default")), Some((40.0, 80)));

    app.press(&changed, "Undo", USER).await;
    app.slack.wait_for("/actions", 1).await;

    let stage = http_stage(&api, "prod").await;
    let routes = stage.route_settings().cloned().unwrap_or_default();
    assert!(
        !routes.contains_key("$default"),
        "its override is gone: {routes:?}"
    );
    assert_eq!(
        throttling(stage.default_route_settings()),
        Some((50.0, 100))
    );
}

/// The stage a quick-created HTTP API has is `$default`: it is named as AWS names it, changed,
/// timed (its record on the stage's tags), and its `$default` route too.
#[tokio::test]
async fn an_http_apis_default_stage_is_named_changed_and_timed() {
    let app = TestApp::spawn().await;
    let name = unique("quick-http");
    let api = create_http_api(&name, "$default", &["$default"], Some((20.0, 40))).await;

    let changed = shown(&reply_to(&app, &format!("{name} $default 15 30"), 1).await);
    contains_all(&changed, &["HTTP API", "$default", "20 req/s → 15 req/s"]);
    assert_eq!(
        throttling(http_stage(&api, "$default").await.default_route_settings()),
        Some((15.0, 30))
    );

    reply_to(&app, &format!("{api} $default 5 10 $default for 1h"), 2).await;
    let stage = http_stage(&api, "$default").await;
    let routes = stage.route_settings().cloned().unwrap_or_default();
    assert_eq!(throttling(routes.get("$default")), Some((5.0, 10)));
    let tags = stage.tags().cloned().unwrap_or_default();
    assert!(
        tags.keys().any(|k| k.starts_with("throttle-bot:")),
        "the record is kept in the stage's tags: {tags:?}"
    );
    let shown_now = shown(&reply_to(&app, &format!("show {name} $default"), 3).await);
    contains_all(&shown_now, &["$default", "until"]);

    reply_to(&app, &format!("restore {name} $default $default"), 4).await;
    let stage = http_stage(&api, "$default").await;
    let routes = stage.route_settings().cloned().unwrap_or_default();
    assert!(
        !routes.contains_key("$default"),
        "the route's override is gone: {routes:?}"
    );
    let tags = stage.tags().cloned().unwrap_or_default();
    assert!(
        !tags.keys().any(|k| k.starts_with("throttle-bot:")),
        "the record is gone: {tags:?}"
    );
    assert_eq!(throttling(stage.default_route_settings()), Some((15.0, 30)));
}

/// `$default` is only an HTTP API's stage: on a REST API it is refused saying so, by id or by
/// name, and nothing is written.
#[tokio::test]
async fn a_rest_api_has_no_default_stage_and_says_so() {
    let app = TestApp::spawn().await;
    let name = unique("rest-no-default");
    let api = create_api(&name, "prod").await;
    for (nth, named) in [(1, &api), (2, &name)] {
        let refused = shown(&reply_to(&app, &format!("{named} $default 10 20"), nth).await);
        contains_all(&refused, &["is a REST API, which has no `$default` stage"]);
    }
    assert_eq!(stage_limits(&api, "prod").await, None);
}
