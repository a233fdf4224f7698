//! `/throttle history` end to end, against a CloudTrail stand-in: moto has no LookupEvents, so
//! tests/support/moto_server.py records the API Gateway calls moto serves (for APIs named
//! `trailed-…`) as CloudTrail events and answers LookupEvents as the CloudTrail API reference
//! describes it (JSON 1.1, one lookup attribute, 50 events a page with NextToken, newest first,
//! ThrottlingException over two calls a second per account and region:
//! https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html).
//! Each test works in a region of its own, so that its CloudTrail budget is its own.

use std::path::PathBuf;

use aws_config::sts::AssumeRoleProvider;
use aws_sdk_apigateway::config::{Credentials, Region, SharedCredentialsProvider};
use aws_sdk_apigateway::types::{Op, PatchOperation};
use serde_json::Value;

use crate::helpers::*;

fn client(config: &aws_config::SdkConfig) -> aws_sdk_apigateway::Client {
    aws_sdk_apigateway::Client::new(config)
}

/// The tests' own credentials in `region`, talking to moto.
async fn base(region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&moto().endpoint)
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await
}

/// A deploy pipeline's session in the same account: role `deployer`, session `terraform`.
async fn deployer(region: &str) -> aws_sdk_apigateway::Client {
    let base = base(region).await;
    let role = AssumeRoleProvider::builder(role_arn("123456789012", "deployer"))
        .session_name("terraform")
        .configure(&base)
        .build()
        .await;
    client(
        &base
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(role))
            .build(),
    )
}

async fn set_limits(aws: &aws_sdk_apigateway::Client, api: &str, rate: f64, burst: i32) {
    let replace = |path: &str, value: String| {
        PatchOperation::builder()
            .op(Op::Replace)
            .path(path)
            .value(value)
            .build()
    };
    aws.update_stage()
        .rest_api_id(api)
        .stage_name("prod")
        .patch_operations(replace("/*/*/throttling/rateLimit", rate.to_string()))
        .patch_operations(replace("/*/*/throttling/burstLimit", burst.to_string()))
        .send()
        .await
        .expect("update stage outside the bot");
}

async fn app_in(region: &str, extra: Vec<(&'static str, String)>) -> TestApp {
    let mut extra_env = vec![("AWS_REGION", region.to_owned())];
    extra_env.extend(extra);
    TestApp::spawn_with(Options {
        extra_env,
        ..Options::default()
    })
    .await
}

/// The LookupEvents calls the stand-in answered in `region`.
async fn lookup_calls(region: &str) -> Vec<Value> {
    let calls: Vec<Value> = reqwest::get(format!("{}/_stand_in/cloudtrail_calls", moto().endpoint))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    calls
        .into_iter()
        .filter(|c| c["region"] == region)
        .collect()
}

/// The LookupEvents calls the stand-in answered in `region`: (all, throttled).
async fn lookups(region: &str) -> (usize, usize) {
    let here = lookup_calls(region).await;
    let throttled = here.iter().filter(|c| c["throttled"] == true).count();
    (here.len(), throttled)
}

#[tokio::test]
async fn who_set_prod_to_zero_is_answered_in_one_command_past_the_first_page() {
    let region = "us-west-2";
    let name = unique("trailed-history");
    let api = create_api_on(&client(&base(region).await), &name, &["prod"]).await;
    let pipeline = deployer(region).await;
    // More than one page of UpdateStage events (50 a page), all outside the bot.
    for rate in 1..=55 {
        set_limits(&pipeline, &api, f64::from(rate), rate * 2).await;
    }
    // Two minutes ago, as far as CloudTrail is concerned: before the timed change below.
    reqwest::Client::new()
        .post(format!("{}/_stand_in/cloudtrail_age", moto().endpoint))
        .json(&serde_json::json!({ "region": region, "seconds": 120 }))
        .send()
        .await
        .unwrap();
    let app = app_in(region, Vec::new()).await;
    app.command(&format!("{api} prod 40 80 for 1h")).await;
    let made = shown(&app.slack.wait_for("/reply", 1).await[0]);
    assert!(made.contains("until"), "the timed change was made: {made}");
    // Then someone removes its record, which makes it permanent, and sets prod to 0 outside
    // the bot while the timed change was in force.
    pipeline
        .untag_resource()
        .resource_arn(format!(
            "arn:aws:apigateway:{region}::/restapis/{api}/stages/prod"
        ))
        .tag_keys("throttle-bot:stage")
        .send()
        .await
        .expect("remove the record by hand");
    set_limits(&pipeline, &api, 0.0, 0).await;

    app.command(&format!("history {api} prod")).await;
    let reply = app.slack.wait_for("/reply", 2).await[1].clone();
    assert_eq!(reply["response_type"], "ephemeral");
    let text = shown(&reply);
    let lines: Vec<&str> = text.lines().collect();
    let newest = lines
        .iter()
        .find(|l| l.starts_with("• "))
        .expect("a change is listed");
    assert!(newest.contains("<!date^"), "{newest}");
    assert!(
        newest.contains("40 req/s, burst 80 → 0 req/s, burst 0"),
        "{newest}"
    );
    assert!(newest.contains("blocks every request"), "{newest}");
    assert!(
        newest.contains("role `deployer` (session `terraform`), *outside throttle-bot*"),
        "{newest}"
    );
    assert!(
        newest.contains(&format!("while <@{USER}>'s timed change was in force")),
        "{newest}"
    );
    let ours = lines
        .iter()
        .find(|l| l.contains("via throttle-bot"))
        .expect("the bot's change is listed");
    assert!(ours.contains(&format!("asked by <@{USER}>")), "{ours}");
    assert!(
        ours.contains("55 req/s, burst 110 → 40 req/s, burst 80"),
        "{ours}"
    );
    let removed = lines
        .iter()
        .find(|l| l.ends_with("(UntagResource)"))
        .unwrap_or_else(|| panic!("the record removed by hand is listed: {text}"));
    assert!(
        removed.contains("record `throttle-bot:stage` removed from stage `prod`")
            && removed.contains("*outside throttle-bot*"),
        "{removed}"
    );
    // Every page was read: 55 + 1 outside the bot, 1 through it.
    let updates = lines
        .iter()
        .filter(|l| l.ends_with("(UpdateStage)"))
        .count();
    assert_eq!(updates, 57, "{text}");
    assert!(
        text.contains("sometimes 15"),
        "says CloudTrail may lag: {text}"
    );
    let (calls, throttled) = lookups(region).await;
    assert!(calls >= 7, "six names, UpdateStage over two pages: {calls}");
    assert_eq!(throttled, 0, "paced at a lookup a second");
}

#[tokio::test]
async fn a_person_the_policy_does_not_let_read_is_refused_and_cloudtrail_is_not_asked() {
    let region = "eu-north-1";
    let name = unique("trailed-refused");
    let api = create_api_on(&client(&base(region).await), &name, &["prod"]).await;
    let policy: PathBuf = std::env::temp_dir().join(format!("{}.toml", unique("policy")));
    std::fs::write(
        &policy,
        format!(
            "readers = [\"{USER}\"]\n\n[[rule]]\nname = \"ops\"\nusers = [\"{USER}\"]\napis = [\"*\"]\nstages = [\"*\"]\n"
        ),
    )
    .unwrap();
    let app = app_in(
        region,
        vec![("THROTTLE_POLICY", policy.display().to_string())],
    )
    .await;
    let stranger = Sender {
        user: "U0STRANGER",
        channel: "C0ELSEWHERE",
        ..ME
    };
    let answer: Value = app
        .command_from(stranger, &format!("history {api} prod"))
        .await
        .json()
        .await
        .unwrap();
    let refused = shown(&answer);
    assert!(refused.contains("may not read"), "{refused}");
    assert_eq!(lookups(region).await.0, 0, "refused before any lookup");

    app.command(&format!("history {api} prod 7d")).await;
    let text = shown(&app.slack.wait_for("/reply", 1).await[0]);
    assert!(text.contains("in the last 7d"), "{text}");
    assert!(text.contains("deployment to stage `prod`"), "{text}");
}

#[tokio::test]
async fn more_than_ninety_days_is_refused_with_cloudtrails_limit() {
    let app = TestApp::spawn().await;
    let answer: Value = app
        .command("history petstore prod 120d")
        .await
        .json()
        .await
        .unwrap();
    let text = shown(&answer);
    assert!(
        text.contains("CloudTrail keeps 90d of event history"),
        "{text}"
    );
    assert!(text.contains("`120d` is longer"), "{text}");
}

#[tokio::test]
async fn history_reads_the_target_the_api_lives_in_through_its_role() {
    const OTHER: &str = "222233334444";
    let region = "ap-southeast-2";
    let base = base(region).await;
    let role = AssumeRoleProvider::builder(role_arn(OTHER, "throttle-bot"))
        .session_name("tests")
        .configure(&base)
        .build()
        .await;
    let other = client(
        &base
            .clone()
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(role))
            .build(),
    );
    let name = unique("trailed-target");
    let api = create_api_on(&other, &name, &["live"]).await;
    let targets = format!(
        "[[target]]\nalias = \"prod\"\nregion = \"{region}\"\nrole_arn = \"{}\"\n",
        role_arn(OTHER, "throttle-bot")
    );
    let app = app_in("us-east-1", vec![("THROTTLE_TARGETS_TOML", targets)]).await;
    app.command(&format!("prod:{name} live 7 14 for 1h")).await;
    let made = shown(&app.slack.wait_for("/reply", 1).await[0]);
    assert!(made.contains("until"), "{made}");

    // The bot's role in another session, with the bot's user agent: it says it is the bot.
    let forger = AssumeRoleProvider::builder(role_arn(OTHER, "throttle-bot"))
        .session_name("by-hand")
        .configure(&base)
        .build()
        .await;
    let forged = client(
        &base
            .into_builder()
            .app_name(aws_config::AppName::new("throttle-bot").unwrap())
            .credentials_provider(SharedCredentialsProvider::new(forger))
            .build(),
    );
    forged
        .update_stage()
        .rest_api_id(&api)
        .stage_name("live")
        .patch_operations(
            PatchOperation::builder()
                .op(Op::Replace)
                .path("/*/*/throttling/rateLimit")
                .value("3")
                .build(),
        )
        .send()
        .await
        .expect("update stage as the bot's role by hand");

    app.command(&format!("history prod:{name} live")).await;
    let text = shown(&app.slack.wait_for("/reply", 2).await[1]);
    let forged = text
        .lines()
        .find(|l| l.contains("rate → 3 req/s") || l.contains("→ 3 req/s"))
        .unwrap_or_else(|| panic!("the forged change is listed: {text}"));
    assert!(!forged.contains("via throttle-bot"), "{forged}");
    assert!(
        forged.contains(
            "(session `by-hand`) with throttle-bot's user agent, *not verifiably throttle-bot*"
        ),
        "{forged}"
    );
    let ours = text
        .lines()
        .find(|l| l.contains("(UpdateStage)") && l.contains("→ 7 req/s, burst 14"))
        .unwrap_or_else(|| panic!("the change is listed: {text}"));
    assert!(
        ours.contains(&format!("via throttle-bot, asked by <@{USER}>")),
        "{ours}"
    );
    assert!(ours.contains("→ 7 req/s, burst 14"), "{ours}");
    assert!(lookups(region).await.0 >= 5, "read in the target's region");
}

#[tokio::test]
async fn a_change_for_good_after_someone_elses_timed_change_is_not_credited_to_them() {
    let region = "eu-west-3";
    let name = unique("trailed-credit");
    let api = create_api_on(&client(&base(region).await), &name, &["prod"]).await;
    let app = app_in(region, Vec::new()).await;
    app.command(&format!("{api} prod 40 80 for 1h")).await;
    let made = shown(&app.slack.wait_for("/reply", 1).await[0]);
    assert!(made.contains("until"), "{made}");
    let other = Sender {
        user: "U0SECOND",
        ..ME
    };
    app.command_from(other, &format!("{api} prod 30 60")).await;
    let kept = shown(&app.slack.wait_for("/reply", 2).await[1]);
    assert!(kept.contains("nothing will be put back then"), "{kept}");

    app.command(&format!("history {api} prod")).await;
    let text = shown(&app.slack.wait_for("/reply", 3).await[2]);
    let for_good = text
        .lines()
        .find(|l| l.contains("→ 30 req/s, burst 60"))
        .unwrap_or_else(|| panic!("the change for good is listed: {text}"));
    assert!(!for_good.contains("asked by"), "{for_good}");
    assert!(
        for_good.contains("through throttle-bot")
            && for_good.contains("who asked is in the audit channel"),
        "{for_good}"
    );
    let timed = text
        .lines()
        .find(|l| l.contains("→ 40 req/s, burst 80"))
        .unwrap_or_else(|| panic!("the timed change is listed: {text}"));
    assert!(timed.contains(&format!("asked by <@{USER}>")), "{timed}");
}

#[tokio::test]
async fn two_history_reads_at_once_take_turns_at_a_lookup_a_second() {
    // CloudTrail's two lookups a second per account and region are shared with whoever reads
    // the event history in the console: the bot takes half, one read at a time.
    let region = "ca-central-1";
    let name = unique("trailed-turns");
    let api = create_api_on(&client(&base(region).await), &name, &["prod"]).await;
    let app = app_in(region, Vec::new()).await;
    let other = Sender {
        user: "U0SECOND",
        ..ME
    };
    let (one_stage, every_stage) = (format!("history {api} prod"), format!("history {api}"));
    let (first, second) = tokio::join!(
        app.command(&one_stage),
        app.command_from(other, &every_stage),
    );
    assert!(first.status().is_success() && second.status().is_success());
    for reply in app.slack.wait_for("/reply", 2).await {
        let text = shown(&reply);
        assert!(text.contains("Throttling history"), "{text}");
    }
    let mut times: Vec<f64> = lookup_calls(region)
        .await
        .iter()
        .map(|c| c["at"].as_f64().unwrap())
        .collect();
    times.sort_by(f64::total_cmp);
    assert_eq!(times.len(), 12, "six names for each read: {times:?}");
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|gap| *gap >= 0.8), "{gaps:?}");
}
