//! Operator-grade commands: API names, per-method limits, show, reset, before → after.

use serde_json::Value;

use crate::helpers::*;

async fn reply_to(app: &TestApp, text: &str, nth: usize) -> Value {
    app.command(text).await;
    app.slack.wait_for("/reply", nth).await[nth - 1].clone()
}

fn recording() -> Options {
    Options {
        record_aws: true,
        ..Options::default()
    }
}

#[tokio::test]
async fn an_api_can_be_named_instead_of_its_id() {
    let app = TestApp::spawn().await;
    let name = unique("orders");
    let api = create_api(&name, "prod").await;

    let reply = reply_to(&app, &format!("{name} prod 10 20"), 1).await;

    assert_eq!(stage_limits(&api, "prod").await, Some((10.0, 20)));
    let text = shown(&reply);
    assert!(
        text.contains(&name) && text.contains(&api),
        "names both: {text}"
    );
}

#[tokio::test]
async fn a_name_shared_by_several_apis_is_refused_with_their_ids() {
    let app = TestApp::spawn().await;
    let name = unique("twin");
    let first = create_api(&name, "prod").await;
    let second = create_api(&name, "prod").await;

    let reply = reply_to(&app, &format!("{name} prod 10 20"), 1).await;

    let text = shown(&reply);
    assert_eq!(reply["response_type"], "ephemeral");
    assert!(text.contains("2 APIs are named"), "{text}");
    assert!(text.contains(&first) && text.contains(&second), "{text}");
    assert_eq!(stage_limits(&first, "prod").await, None);
    assert_eq!(stage_limits(&second, "prod").await, None);
}

#[tokio::test]
async fn an_unknown_name_is_refused_with_close_names_suggested() {
    let app = TestApp::spawn().await;
    let name = unique("inventory");
    create_api(&name, "prod").await;
    let typo = name.replacen("inventory", "inventroy", 1);

    let text = shown(&reply_to(&app, &format!("{typo} prod 10 20"), 1).await);

    assert!(
        text.contains(&format!("REST or HTTP API is named `{typo}`")),
        "{text}"
    );
    assert!(text.contains(&format!("did you mean `{name}`")), "{text}");
}

#[tokio::test]
async fn an_id_is_used_without_listing_apis() {
    let app = TestApp::spawn_with(recording()).await;
    let api = create_api(&unique("direct"), "prod").await;

    reply_to(&app, &format!("{api} prod 10 20"), 1).await;

    let calls = app.aws.as_ref().unwrap().calls();
    assert!(!calls.iter().any(|c| c == "GET /restapis"), "{calls:?}");
    assert!(
        calls.iter().any(|c| c.starts_with("PATCH /restapis/")),
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_name_that_looks_like_an_id_still_resolves() {
    let app = TestApp::spawn().await;
    let name = format!("prod{:06}", std::process::id() % 1_000_000);
    let api = create_api(&name, "live").await;

    reply_to(&app, &format!("{name} live 4 8"), 1).await;

    assert_eq!(stage_limits(&api, "live").await, Some((4.0, 8)));
}

#[tokio::test]
async fn one_method_can_be_throttled_and_reset_to_follow_the_stage() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("methods"), "prod").await;
    let key = "~1pets~1{id}/GET";

    let set = reply_to(&app, &format!("{api} prod 10 20 GET /pets/{{id}}"), 1).await;
    assert_eq!(setting_limits(&api, "prod", key).await, Some((10.0, 20)));
    assert_eq!(
        stage_limits(&api, "prod").await,
        None,
        "the stage is untouched"
    );
    let text = shown(&set);
    assert!(text.contains("method `GET /pets/{id}`"), "{text}");
    assert!(text.contains("rate not set → 10 req/s"), "{text}");

    let reset = reply_to(&app, &format!("reset {api} prod GET /pets/{{id}}"), 2).await;
    assert_eq!(
        setting_limits(&api, "prod", key).await,
        None,
        "the entry the change made held nothing else: it is removed, and the method follows \
         the stage (its caching and logging too)"
    );
    let text = shown(&reset);
    assert!(text.contains("reset throttling"), "{text}");
    assert!(text.contains("10 req/s → not set (inherits"), "{text}");
}

#[tokio::test]
async fn a_method_the_api_does_not_have_is_refused_with_its_fix_and_nothing_is_written() {
    let app = TestApp::spawn_with(recording()).await;
    let api = create_api(&unique("methods"), "prod").await;

    // `/pet/{id}` for `/pets/{id}`: API Gateway would store the setting and throttle nothing.
    let reply = reply_to(&app, &format!("{api} prod 10 20 GET /pet/{{id}}"), 1).await;

    let text = shown(&reply);
    assert_eq!(reply["response_type"], "ephemeral", "{reply}");
    assert!(
        text.contains("has no method `GET /pet/{id}`") && text.contains("Nothing was changed"),
        "{text}"
    );
    assert!(text.contains("did you mean `GET /pets/{id}`"), "{text}");
    assert_eq!(patches(&app), 0, "no UpdateStage call");
    assert_eq!(setting_limits(&api, "prod", "~1pet~1{id}/GET").await, None);

    // A method the resource does not have is refused the same way; the one it has is set.
    let reply = reply_to(&app, &format!("{api} prod 10 20 DELETE /pets"), 2).await;
    assert!(
        shown(&reply).contains("has no method `DELETE /pets`"),
        "{reply}"
    );
    reply_to(&app, &format!("{api} prod 10 20 POST /pets"), 3).await;
    assert_eq!(
        setting_limits(&api, "prod", "~1pets/POST").await,
        Some((10.0, 20))
    );
    assert_eq!(patches(&app), 1);
}

#[tokio::test]
async fn a_stage_reset_falls_back_to_the_account_limits_and_says_so() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("stagereset"), "prod").await;
    reply_to(&app, &format!("{api} prod 50 100"), 1).await;

    let reset = reply_to(&app, &format!("reset {api} prod"), 2).await;

    // The stage had no stage-wide entry before the change: the one it made goes again.
    assert_eq!(stage_limits(&api, "prod").await, None);
    let text = shown(&reset);
    assert!(
        text.contains("rate 50 req/s → not set (inherits 10000 req/s from the account)"),
        "{text}"
    );
    assert!(
        text.contains("burst 100 → not set (inherits 5000 from the account)"),
        "{text}"
    );
}

#[tokio::test]
async fn every_change_shows_before_and_after_in_the_reply_and_the_notice() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("beforeafter"), "prod").await;
    reply_to(&app, &format!("{api} prod 50 100"), 1).await;

    let reply = reply_to(&app, &format!("{api} prod 30.5 60"), 2).await;

    let text = shown(&reply);
    assert!(text.contains("rate 50 req/s → 30.5 req/s"), "{text}");
    assert!(text.contains("burst 100 → 60"), "{text}");
    let notice = shown(&app.slack.wait_for("/webhook", 2).await[1]);
    assert!(notice.contains("rate 50 req/s → 30.5 req/s"), "{notice}");
    assert!(
        notice.contains("<@U2CERLKJA>") && notice.contains("<#C0123ABC>"),
        "{notice}"
    );
}

#[tokio::test]
async fn a_change_to_the_values_already_set_makes_no_update_call() {
    let app = TestApp::spawn_with(recording()).await;
    let api = create_api(&unique("noop"), "prod").await;
    reply_to(&app, &format!("{api} prod 30 60"), 1).await;
    let patches_before = patches(&app);

    let reply = reply_to(&app, &format!("{api} prod 30 60"), 2).await;

    assert_eq!(patches(&app), patches_before, "no UpdateStage call");
    assert_eq!(reply["response_type"], "ephemeral");
    assert!(shown(&reply).contains("Nothing to change"), "{reply}");
    let notice = shown(&app.slack.wait_for("/webhook", 2).await[1]);
    assert!(notice.contains("No change needed"), "{notice}");
}

fn patches(app: &TestApp) -> usize {
    let calls = app.aws.as_ref().unwrap().calls();
    calls.iter().filter(|c| c.starts_with("PATCH ")).count()
}

#[tokio::test]
async fn values_above_the_account_limits_are_refused() {
    let app = TestApp::spawn_with(recording()).await;
    let api = create_api(&unique("toohigh"), "prod").await;

    let rate = shown(&reply_to(&app, &format!("{api} prod 20000 100"), 1).await);
    let burst = shown(&reply_to(&app, &format!("{api} prod 100 6000"), 2).await);

    assert!(
        rate.contains("rate 20000 req/s is above the account's regional limit of 10000 req/s"),
        "{rate}"
    );
    assert!(
        burst.contains("burst 6000 is above the account's regional limit of 5000"),
        "{burst}"
    );
    assert_eq!(patches(&app), 0);
    assert_eq!(stage_limits(&api, "prod").await, None);
}

#[tokio::test]
async fn show_lists_one_stage_with_its_method_overrides_and_the_account_limits() {
    let app = TestApp::spawn().await;
    let name = unique("showone");
    let api = create_api_with_stages(&name, &["prod", "test"]).await;
    reply_to(&app, &format!("{api} prod 50 100"), 1).await;
    reply_to(&app, &format!("{api} prod 5 10 POST /pets"), 2).await;

    let view = reply_to(&app, &format!("show {name} prod"), 3).await;

    assert_eq!(view["response_type"], "ephemeral");
    let blocks = view["blocks"]
        .to_string()
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    assert!(
        blocks.contains("Stage-wide: 50 req/s, burst 100"),
        "{blocks}"
    );
    assert!(
        blocks.contains("`POST /pets`: 5 req/s, burst 10"),
        "{blocks}"
    );
    assert!(blocks.contains("10000 req/s, burst 5000"), "{blocks}");
    assert!(
        !blocks.contains("Stage `test`"),
        "only the stage asked for: {blocks}"
    );
    assert_eq!(stage_limits(&api, "test").await, None);
}

#[tokio::test]
async fn show_without_a_stage_lists_every_stage() {
    let app = TestApp::spawn().await;
    let api = create_api_with_stages(&unique("showall"), &["prod", "test"]).await;
    reply_to(&app, &format!("{api} test 7 14"), 1).await;

    let view = reply_to(&app, &format!("show {api}"), 2).await;

    let blocks = view["blocks"].to_string();
    assert!(
        blocks.contains("Stage `prod`*\\n• Stage-wide: not set (account limit applies)"),
        "{blocks}"
    );
    assert!(
        blocks.contains("Stage `test`*\\n• Stage-wide: 7 req/s, burst 14"),
        "{blocks}"
    );
}

#[tokio::test]
async fn show_of_an_unknown_api_says_so() {
    let app = TestApp::spawn().await;
    let text = shown(&reply_to(&app, "show zzzzzzzzzz", 1).await);
    assert!(text.contains("Could not read the throttling"), "{text}");
}

#[tokio::test]
async fn an_api_created_after_the_list_was_cached_is_found_at_once() {
    // The default refresh pace: a list read a moment ago does not hide a new name.
    let app = TestApp::spawn_with(recording()).await;
    let early = unique("early");
    create_api(&early, "prod").await;
    reply_to(&app, &format!("{early} prod 1 2"), 1).await;

    let late = unique("late");
    let api = create_api(&late, "prod").await;
    let reply = shown(&reply_to(&app, &format!("{late} prod 3 4"), 2).await);

    assert!(!reply.contains("No REST or HTTP API is named"), "{reply}");
    assert_eq!(stage_limits(&api, "prod").await, Some((3.0, 4)));
    let listings = app
        .aws()
        .calls()
        .iter()
        .filter(|c| *c == "GET /restapis")
        .count();
    assert_eq!(listings, 2, "one listing, and one refresh for the new name");
}

#[tokio::test]
async fn a_burst_of_the_same_typo_refreshes_the_list_once() {
    let app = TestApp::spawn_with(recording()).await;
    // The list is read once and cached (as the start-up sweep would).
    let known = unique("known");
    create_api(&known, "prod").await;
    app.command(&format!("show {known} prod")).await;
    app.slack.wait_for("/reply", 1).await;
    let typo = unique("no-such-api");
    for nth in 2..=5 {
        let reply = shown(&reply_to(&app, &format!("{typo} prod 3 4"), nth).await);
        assert!(reply.contains("No REST or HTTP API is named"), "{reply}");
    }
    let listings = app
        .aws()
        .calls()
        .iter()
        .filter(|c| *c == "GET /restapis")
        .count();
    assert_eq!(
        listings, 2,
        "the cached list, one refresh for the first miss, then none for the same typo"
    );
}

#[tokio::test]
async fn concurrent_lookups_of_names_share_one_listing() {
    let app = TestApp::spawn_with(recording()).await;
    let names: Vec<String> = (0..4).map(|_| unique("shared")).collect();
    for name in &names {
        create_api(name, "prod").await;
    }
    app.aws().hold();
    for name in &names {
        app.command(&format!("show {name} prod")).await;
    }
    app.aws().wait_for_calls(1).await;
    app.aws().release();
    app.slack.wait_for("/reply", names.len()).await;

    let calls = app.aws().calls();
    let listings = calls.iter().filter(|c| *c == "GET /restapis").count();
    assert_eq!(listings, 1, "{calls:?}");
}

#[tokio::test]
async fn forty_changes_at_once_stay_within_the_accounts_budget_and_all_succeed() {
    let app = TestApp::spawn_with(recording()).await;
    let stages: Vec<String> = (0..40).map(|i| format!("s{i}")).collect();
    let stage_names: Vec<&str> = stages.iter().map(String::as_str).collect();
    let api = create_api_with_stages(&unique("budget"), &stage_names).await;
    // API Gateway's documented management budget: about 10 calls/s, bursts of 40.
    app.aws().limit_to(10.0, 40.0);

    for stage in &stages {
        app.command(&format!("{api} {stage} 7 14")).await;
    }
    let replies = app.slack.wait_for("/reply", stages.len()).await;

    for reply in &replies {
        let text = shown(reply);
        assert!(text.contains("changed throttling"), "{text}");
    }
    for stage in &stages {
        assert_eq!(stage_limits(&api, stage).await, Some((7.0, 14)), "{stage}");
    }
    assert_eq!(app.aws().refused(), 0, "AWS never had to refuse a call");
    let calls = app.aws().calls();
    let accounts = calls.iter().filter(|c| *c == "GET /account").count();
    assert_eq!(accounts, 1, "one GetAccount shared by all: {calls:?}");
}

#[tokio::test]
async fn a_change_to_a_stage_deployed_by_cloudformation_warns_that_the_stack_may_overwrite_it() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("iac"), "prod").await;
    aws()
        .await
        .tag_resource()
        .resource_arn(format!(
            "arn:aws:apigateway:us-east-1::/restapis/{api}/stages/prod"
        ))
        .tags("aws:cloudformation:stack-name", "orders-prod")
        .send()
        .await
        .unwrap();

    let reply = shown(&reply_to(&app, &format!("{api} prod 10 20"), 1).await);

    assert!(
        reply.contains("CloudFormation stack `orders-prod`"),
        "{reply}"
    );
    assert!(
        reply.contains("the next deployment may overwrite this change"),
        "{reply}"
    );

    let plain = create_api(&unique("noiac"), "prod").await;
    let reply = shown(&reply_to(&app, &format!("{plain} prod 10 20"), 2).await);
    assert!(!reply.contains("deployment may overwrite"), "{reply}");
}

#[tokio::test]
async fn writes_throttled_by_a_busy_account_are_retried_until_they_succeed() {
    // Other pipelines have used the account's budget: AWS refuses most calls for a while.
    let app = TestApp::spawn_with(Options {
        record_aws: true,
        extra_env: vec![("AWS_CALLS_PER_SECOND", "100".to_owned())],
        ..Options::default()
    })
    .await;
    let stages: Vec<String> = (0..4).map(|i| format!("b{i}")).collect();
    let names: Vec<&str> = stages.iter().map(String::as_str).collect();
    let api = create_api_with_stages(&unique("busyaccount"), &names).await;
    app.aws().limit_to(4.0, 2.0);

    for stage in &stages {
        app.command(&format!("{api} {stage} 9 18")).await;
    }
    let replies = app.slack.wait_for("/reply", stages.len()).await;

    assert!(app.aws().refused() > 0, "the account was busy");
    for reply in &replies {
        assert!(
            shown(reply).contains("changed throttling"),
            "{}",
            shown(reply)
        );
    }
    for stage in &stages {
        assert_eq!(stage_limits(&api, stage).await, Some((9.0, 18)), "{stage}");
    }
}
