//! The sweep at fleet scale, against moto and the tagging stand-in: records are found by their
//! marker with the tagging API (or, where it is refused, by listing every API), finished
//! whatever the policy reaches, and swept by one replica at a time.
//!
//! Every test here runs in a region of its own: the sweep covers a whole account and region,
//! and the other tests' stages (in us-east-1) carry records sealed with the same secret.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_apigateway::Client;

use crate::helpers::*;

const MARKER: &str = "throttle-bot:records";

/// An API Gateway client in `region` of the tests' account.
pub(crate) async fn rest_in(region: &str) -> Client {
    let config = aws_sdk_apigateway::Config::builder()
        .behavior_version(aws_sdk_apigateway::config::BehaviorVersion::latest())
        .endpoint_url(&moto().endpoint)
        .region(aws_sdk_apigateway::config::Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_apigateway::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .build();
    Client::from_conf(config)
}

/// The service in `region`, sweeping every second as `sweep` says (`all` or `none`).
pub(crate) async fn spawn_in(
    region: &str,
    sweep: &str,
    mut extra: Vec<(&'static str, String)>,
) -> TestApp {
    extra.extend([
        ("AWS_REGION", region.to_owned()),
        ("SWEEP_APIS", sweep.to_owned()),
        ("SWEEP_INTERVAL_SECS", "1".to_owned()),
    ]);
    TestApp::spawn_with(Options {
        extra_env: extra,
        ..Options::default()
    })
    .await
}

pub(crate) async fn reply_to(app: &TestApp, text: &str) -> String {
    let before = app.slack.posts_to("/reply").len();
    app.command(text).await;
    shown(&app.slack.wait_for("/reply", before + 1).await[before])
}

pub(crate) async fn tags_of(aws: &Client, api: &str, stage: &str) -> HashMap<String, String> {
    let found = aws.get_stage().rest_api_id(api).stage_name(stage).send();
    found.await.unwrap().tags().cloned().unwrap_or_default()
}

fn ours(tags: &HashMap<String, String>) -> Vec<&String> {
    tags.keys()
        .filter(|k| k.starts_with("throttle-bot:"))
        .collect()
}

/// A new REST API (named after `name`) with a stage `prod` in `region`, holding a timed change
/// for `hold` made by a process since killed; the region's client and the API's id.
async fn orphaned_in(region: &str, name: &str, hold: &str) -> (Client, String) {
    let aws = rest_in(region).await;
    let api = create_api_on(&aws, &unique(name), &["prod"]).await;
    orphaned_timed_change(region, &api, hold).await;
    (aws, api)
}

/// Makes a timed change on `api`'s stage `prod` from a process that is then killed (its timer
/// dies with it): only a sweep can finish it.
async fn orphaned_timed_change(region: &str, api: &str, hold: &str) {
    let maker = spawn_in(region, "none", Vec::new()).await;
    let set = reply_to(&maker, &format!("{api} prod 10 20")).await;
    assert!(set.contains("changed throttling"), "{set}");
    let timed = reply_to(&maker, &format!("{api} prod 8 16 for {hold}")).await;
    assert!(timed.contains("until"), "{timed}");
}

/// Waits for an audit notice whose text contains `needle`.
pub(crate) async fn notice_with(app: &TestApp, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT * 2;
    loop {
        let posts = app.slack.posts_to("/webhook");
        if let Some(found) = posts.iter().map(shown).find(|text| text.contains(needle)) {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no notice with {needle:?}: {posts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn count(app: &TestApp, needle: &str) -> usize {
    app.logs().iter().filter(|l| l.contains(needle)).count()
}

#[tokio::test]
async fn a_record_on_an_api_outside_the_policy_still_ends() {
    let region = "eu-west-3";
    let (aws, api) = orphaned_in(region, "outside", "2s").await;
    let tags = tags_of(&aws, &api, "prod").await;
    assert!(
        tags.contains_key(MARKER) && tags.contains_key("throttle-bot:stage"),
        "the record carries the sweep's marker: {tags:?}"
    );

    // A policy whose only rule reaches none of this account's APIs.
    let policy = "[[rule]]\nname = \"others\"\nusers = [\"*\"]\napis = [\"someone-else-*\"]\nstages = [\"*\"]\n";
    let sweeper = spawn_in(
        region,
        "all",
        vec![
            ("THROTTLE_POLICY", String::new()),
            ("THROTTLE_POLICY_TOML", policy.to_owned()),
        ],
    )
    .await;

    let ended = notice_with(&sweeper, "ended").await;
    assert!(ended.contains(&api), "{ended}");
    assert_eq!(
        stage_limits_on(&aws, &api, "prod").await,
        Ok(Some((10.0, 20)))
    );
    let tags = tags_of(&aws, &api, "prod").await;
    assert!(
        ours(&tags).is_empty(),
        "the record, its marker and the lease are gone: {tags:?}"
    );
}

#[tokio::test]
async fn the_sweep_finds_records_with_the_tagging_api_and_reads_only_their_stages() {
    let region = "eu-north-1";
    let aws = rest_in(region).await;
    let mut quiet = Vec::new();
    for _ in 0..3 {
        quiet.push(create_api_on(&aws, &unique("quiet"), &["prod"]).await);
    }
    let api = create_api_on(&aws, &unique("timed"), &["prod"]).await;
    orphaned_timed_change(region, &api, "60s").await;

    let sweeper = TestApp::spawn_with(Options {
        record_aws: true,
        extra_env: vec![
            ("AWS_REGION", region.to_owned()),
            ("SWEEP_APIS", "all".to_owned()),
            ("SWEEP_INTERVAL_SECS", "1".to_owned()),
        ],
        ..Options::default()
    })
    .await;
    sweeper
        .wait_for_log(r#""path":"tagging","records":1"#, 3)
        .await;

    let calls = sweeper.aws().calls();
    assert!(
        calls.iter().any(|c| c == "POST /"),
        "GetResources (JSON at /): {calls:?}"
    );
    assert!(
        !calls
            .iter()
            .any(|c| c.ends_with("/restapis") || c.ends_with("/v2/apis")),
        "no API is listed: {calls:?}"
    );
    for other in &quiet {
        assert!(
            !calls.iter().any(|c| c.contains(other.as_str())),
            "an API without records is never read: {calls:?}"
        );
    }
    assert!(
        calls
            .iter()
            .any(|c| c == &format!("GET /restapis/{api}/stages/prod")),
        "the stage holding the record is read: {calls:?}"
    );
}

#[tokio::test]
async fn where_the_tagging_api_is_refused_the_sweep_lists_every_api_and_says_so_once() {
    let region = "ap-southeast-2";
    let (aws, api) = orphaned_in(region, "listed", "2s").await;

    // An identity whose IAM policy lacks tag:GetResources (the stand-in refuses its key).
    let sweeper = spawn_in(
        region,
        "all",
        vec![("AWS_ACCESS_KEY_ID", "no-tagging-tests".to_owned())],
    )
    .await;

    notice_with(&sweeper, "ended").await;
    assert_eq!(
        stage_limits_on(&aws, &api, "prod").await,
        Ok(Some((10.0, 20)))
    );
    sweeper.wait_for_log(r#""path":"listing""#, 3).await;
    assert_eq!(
        count(&sweeper, "the tagging API refused"),
        1,
        "said once, not at every sweep"
    );
}

/// One replica per Slack app (docs/deploy.md): two started together may both sweep once
/// (their claims settle), then one holds the lease and the other, finding it renewed while it
/// waited for it to run out, stops and says why. A lease left by a process that stopped is
/// not renewed: its replacement waits it out, takes it, and finishes the record.
#[tokio::test]
async fn a_second_replica_stops_and_the_lease_passes_on_when_the_holder_stops() {
    let region = "ca-central-1";
    let (aws, api) = orphaned_in(region, "leased", "25s").await;

    let (mut one, mut two) = tokio::join!(
        spawn_in(region, "all", Vec::new()),
        spawn_in(region, "all", Vec::new())
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    let (mut holder, status, stopped) = loop {
        if let Some(status) = one.exited() {
            break (two, status, one);
        }
        if let Some(status) = two.exited() {
            break (one, status, two);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "both replicas kept running"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.success(), "it stops with a failure: {status}");
    let said = stopped.logs().join("\n");
    assert!(
        said.contains("another replica of this service is running")
            && said.contains("one replica per Slack app"),
        "{said}"
    );
    assert!(holder.exited().is_none(), "the lease holder goes on");
    let tags = tags_of(&aws, &api, "prod").await;
    assert!(
        tags.contains_key("throttle-bot:claim:sweep"),
        "the lease is kept on the stage holding the record: {tags:?}"
    );

    // The holder stops without a word (SIGKILL): its replacement waits the lease out (it is
    // not renewed), takes it, and finishes the record, without stopping.
    let holder_sweeps = count(&holder, "swept a target");
    assert!(holder_sweeps > 0, "{:?}", holder.logs());
    drop(holder);
    let mut replacement = spawn_in(region, "all", Vec::new()).await;
    let ended = notice_with(&replacement, "ended").await;
    assert!(ended.contains(&api), "{ended}");
    assert_eq!(
        stage_limits_on(&aws, &api, "prod").await,
        Ok(Some((10.0, 20)))
    );
    assert!(replacement.exited().is_none(), "{:?}", replacement.logs());
}

#[tokio::test]
async fn a_killed_processs_timed_plan_change_is_finished_and_another_deployments_are_left_alone() {
    let region = "us-west-1";
    let aws = rest_in(region).await;
    let throttled = |name: String| {
        let create = aws.create_usage_plan().name(name).throttle(
            aws_sdk_apigateway::types::ThrottleSettings::builder()
                .rate_limit(100.0)
                .burst_limit(200)
                .build(),
        );
        async move { create.send().await.unwrap().id().unwrap().to_owned() }
    };
    let name = unique("swept-gold");
    let plan = throttled(name.clone()).await;
    let theirs = throttled(unique("theirs")).await;
    // Another deployment (another secret, so another mark) has a timed change on this one.
    aws.tag_resource()
        .resource_arn(format!("arn:aws:apigateway:{region}::/usageplans/{theirs}"))
        .tags(
            "throttle-bot:plan",
            "set=5/10 restore=100/200 since=1 until=2 by=U0THEIRS mac=00",
        )
        .tags(MARKER, "0000000000000000")
        .send()
        .await
        .unwrap();
    let plan_calls = ("PLAN_CALLS_INTERVAL_SECS", "1".to_owned());
    let maker = spawn_in(region, "none", vec![plan_calls.clone()]).await;
    let timed = reply_to(&maker, &format!("plan {name} 5 10 for 1s")).await;
    assert!(timed.contains("until"), "{timed}");
    drop(maker);

    let sweeper = spawn_in(region, "all", vec![plan_calls]).await;

    let ended = notice_with(&sweeper, "ended").await;
    assert!(ended.contains(&plan), "{ended}");
    let found = aws.get_usage_plan().usage_plan_id(&plan).send().await;
    let found = found.unwrap();
    let throttle = found.throttle().map(|t| (t.rate_limit(), t.burst_limit()));
    assert_eq!(throttle, Some((100.0, 200)));
    let tags = found.tags().cloned().unwrap_or_default();
    assert!(ours(&tags).is_empty(), "record and marker gone: {tags:?}");
    // The other deployment's plan is not found by this one's sweeps: neither acted on nor
    // reported, however often it has swept since.
    let swept = count(&sweeper, "swept a target");
    sweeper.wait_for_log("swept a target", swept + 2).await;
    let found = aws.get_usage_plan().usage_plan_id(&theirs).send().await;
    let tags = found.unwrap().tags().cloned().unwrap_or_default();
    assert!(tags.contains_key("throttle-bot:plan"), "{tags:?}");
    assert!(
        !sweeper
            .slack
            .posts_to("/webhook")
            .iter()
            .any(|n| shown(n).contains(&theirs)),
        "nothing about the other deployment's plan"
    );
}

#[tokio::test]
async fn a_record_written_before_the_marker_existed_is_found_marked_and_ended() {
    let region = "eu-west-2";
    let (aws, api) = orphaned_in(region, "older", "2s").await;
    // As an earlier release wrote it: the record alone.
    let arn = format!("arn:aws:apigateway:{region}::/restapis/{api}/stages/prod");
    let untag = aws.untag_resource().resource_arn(&arn).tag_keys(MARKER);
    untag.send().await.unwrap();

    let sweeper = spawn_in(region, "all", Vec::new()).await;

    sweeper
        .wait_for_log(
            "marked a resource holding a timed change recorded before",
            1,
        )
        .await;
    let ended = notice_with(&sweeper, "ended").await;
    assert!(ended.contains(&api), "{ended}");
    assert_eq!(
        stage_limits_on(&aws, &api, "prod").await,
        Ok(Some((10.0, 20)))
    );
    let tags = tags_of(&aws, &api, "prod").await;
    assert!(ours(&tags).is_empty(), "{tags:?}");
}

/// A replica stopped the way an orchestrator stops it (SIGTERM) releases its lease on the way
/// out, so its replacement sweeps at once instead of waiting a lease period.
#[tokio::test]
async fn a_replica_that_stops_gracefully_releases_its_lease() {
    let region = "sa-east-1";
    let (aws, api) = orphaned_in(region, "released", "1h").await;

    let sweeper = spawn_in(region, "all", Vec::new()).await;
    sweeper.wait_for_log("swept a target", 1).await;
    let tags = tags_of(&aws, &api, "prod").await;
    assert!(tags.contains_key("throttle-bot:claim:sweep"), "{tags:?}");

    let sweeper = sweeper.stop().await;
    let tags = tags_of(&aws, &api, "prod").await;
    assert!(
        !tags.contains_key("throttle-bot:claim:sweep"),
        "released: {tags:?} {:?}",
        sweeper.logs()
    );
    assert!(
        tags.contains_key("throttle-bot:stage"),
        "the record stays for the replacement: {tags:?}"
    );
}
