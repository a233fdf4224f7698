//! Other accounts and regions (`THROTTLE_TARGETS_TOML`), against moto: its STS hands out
//! credentials for the role's account and keeps each account's APIs apart, so a change that
//! lands in the other account (and not in the home one) proves the role was assumed.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

const OTHER: &str = "111111111111";

fn targets(role: &str) -> String {
    format!(
        "[[target]]\nalias = \"prod\"\nregion = \"us-east-1\"\nrole_arn = \"{}\"\nexternal_id = \"throttle-bot-test\"\n",
        role_arn(OTHER, role)
    )
}

/// `rule` lines for a policy that lets the test's user change every stage in `targets`.
fn policy(targets: Option<&str>) -> String {
    let targets = targets.map_or(String::new(), |t| format!("targets = {t}\n"));
    format!(
        "[[rule]]\nname = \"sre\"\nusers = [\"*\"]\n{targets}apis = [\"*\"]\nstages = [\"*\"]\n"
    )
}

async fn spawn(role: &str, targets_rule: Option<&str>) -> TestApp {
    TestApp::spawn_with(Options {
        extra_env: vec![
            ("THROTTLE_TARGETS_TOML", targets(role)),
            ("THROTTLE_POLICY", String::new()),
            ("THROTTLE_POLICY_TOML", policy(targets_rule)),
        ],
        ..Options::default()
    })
    .await
}

async fn reply_to(app: &TestApp, text: &str, nth: usize) -> Value {
    app.command(text).await;
    app.slack.wait_for("/reply", nth).await[nth - 1].clone()
}

#[tokio::test]
async fn a_change_to_alias_api_lands_in_the_other_account_through_its_role() {
    let app = spawn("throttle-bot", Some("[\"prod\"]")).await;
    let other = aws_in(OTHER).await;
    let name = unique("orders");
    let api = create_api_on(&other, &name, &["live"]).await;

    let reply = reply_to(&app, &format!("prod:{name} live 7 14"), 1).await;

    let text = shown(&reply);
    assert!(
        text.contains(&format!("prod:{api}")),
        "the reply names the target: {text}"
    );
    assert_eq!(
        stage_limits_on(&other, &api, "live").await,
        Ok(Some((7.0, 14))),
        "{text}"
    );
    assert!(
        stage_limits_on(&aws().await, &api, "live").await.is_err(),
        "the home account has no such API"
    );
    let notice = app.slack.wait_for("/webhook", 1).await[0].clone();
    assert!(shown(&notice).contains(&format!("prod:{api}")), "{notice}");
}

#[tokio::test]
async fn a_rule_without_targets_covers_home_only() {
    let app = spawn("throttle-bot", None).await;
    let other = aws_in(OTHER).await;
    let name = unique("orders");
    let api = create_api_on(&other, &name, &["live"]).await;

    let reply = reply_to(&app, &format!("prod:{name} live 7 14"), 1).await;

    assert!(shown(&reply).contains("No rule"), "{}", shown(&reply));
    assert_eq!(stage_limits_on(&other, &api, "live").await, Ok(None));
}

#[tokio::test]
async fn show_alias_lists_the_targets_apis_and_stages_and_an_unknown_alias_is_named() {
    let app = spawn("throttle-bot", Some("[\"*\"]")).await;
    let other = aws_in(OTHER).await;
    let name = unique("listed");
    let api = create_api_on(&other, &name, &["blue", "green"]).await;
    let home_only = unique("home-only");
    create_api(&home_only, "prod").await;

    let listed = shown(&reply_to(&app, "show prod:", 1).await);

    assert!(
        listed.contains(&name) && listed.contains(&format!("prod:{api}")),
        "{listed}"
    );
    assert!(
        listed.contains("blue") && listed.contains("green"),
        "{listed}"
    );
    assert!(
        !listed.contains(&home_only),
        "only the target's APIs: {listed}"
    );

    let unknown = shown(&reply_to(&app, &format!("nope:{name} live 7 14"), 2).await);
    assert!(
        unknown.contains("No target is called `nope`") && unknown.contains("home, prod"),
        "{unknown}"
    );
}

#[tokio::test]
async fn a_timed_change_in_another_account_keeps_its_record_there_and_restores_there() {
    let app = spawn("throttle-bot", Some("[\"prod\"]")).await;
    let other = aws_in(OTHER).await;
    let name = unique("timed");
    let api = create_api_on(&other, &name, &["live"]).await;

    reply_to(&app, &format!("prod:{name} live 5 10 for 30m"), 1).await;
    assert_eq!(
        stage_limits_on(&other, &api, "live").await,
        Ok(Some((5.0, 10)))
    );
    let tags = other
        .get_stage()
        .rest_api_id(&api)
        .stage_name("live")
        .send()
        .await
        .unwrap()
        .tags()
        .cloned()
        .unwrap_or_default();
    assert!(
        tags.get("throttle-bot:stage")
            .is_some_and(|r| r.contains("set=5/10")),
        "the record is on the other account's stage: {tags:?}"
    );

    let restored = shown(&reply_to(&app, &format!("restore prod:{api} live"), 2).await);

    assert!(restored.contains(&format!("prod:{api}")), "{restored}");
    assert_eq!(
        stage_limits_on(&other, &api, "live").await,
        Ok(None),
        "no override of its own again (the entry the change made is removed): {restored}"
    );
}

#[tokio::test]
async fn a_role_that_cannot_be_assumed_is_named_and_blocks_no_other_target() {
    let app = spawn("untrusted-throttle-bot", Some("[\"prod\", \"home\"]")).await;
    let role = role_arn(OTHER, "untrusted-throttle-bot");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let detail = loop {
        let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
        let status = ready.status();
        let body = ready.text().await.unwrap();
        if body.contains("target prod") {
            assert_eq!(status, StatusCode::OK, "home still works: {body}");
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never named the target: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        detail.contains(&format!("could not assume {role} : AccessDenied")),
        "{detail}"
    );

    let refused = shown(&reply_to(&app, "prod:orders live 7 14", 1).await);
    assert!(
        refused.contains(&format!("Could not assume {role} : AccessDenied")),
        "{refused}"
    );
    let home = create_api(&unique("home"), "prod").await;
    reply_to(&app, &format!("{home} prod 3 6"), 2).await;
    assert_eq!(stage_limits(&home, "prod").await, Some((3.0, 6)));
}

#[tokio::test]
async fn a_targets_file_with_a_mistake_stops_start_up_with_its_line() {
    let output = service_command(None, false)
        .arg("serve")
        .env(
            "THROTTLE_TARGETS_TOML",
            "[[target]]\nalias = \"prod\"\nregion = \"eu-west-1\"\nrole_arn = \"arn:aws:iam::1:role/x\"\n",
        )
        .output()
        .expect("run throttle-bot");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("THROTTLE_TARGETS_TOML: line 1: target \"prod\": role_arn"),
        "{stderr}"
    );
}
