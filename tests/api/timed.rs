//! Timed changes against moto: the record on the stage, the restore at the deadline (by this
//! process's timer, or by another process's sweep), refused after an intervening change,
//! `extend`, `restore`, and the end posted through the Web API stand-in with a bot token.

use std::collections::HashMap;

use serde_json::Value;

use crate::helpers::*;

/// The bot token the service is given: made up per run, so nothing token-shaped is committed.
fn bot_token() -> String {
    unique("test-bot-token")
}
/// The approver in the approval test.
const OTHER: &str = "U0APPROVER";

/// A service whose Web API is the stand-in, sweeping `sweep` (an API id, or `none`).
async fn spawn(sweep: &str) -> TestApp {
    spawn_with_token(sweep, &bot_token()).await
}

async fn spawn_with_token(sweep: &str, token: &str) -> TestApp {
    TestApp::spawn_with(Options {
        extra_env: vec![
            ("SWEEP_APIS", sweep.to_owned()),
            ("SWEEP_INTERVAL_SECS", "1".to_owned()),
            ("SLACK_BOT_TOKEN", token.to_owned()),
        ],
        ..Options::default()
    })
    .await
}

/// A field of the stage-wide record (`until`, `since`) as a number.
fn record_field(tags: &HashMap<String, String>, field: &str) -> i64 {
    tags["throttle-bot:stage"]
        .split(' ')
        .find_map(|f| f.strip_prefix(field)?.strip_prefix('='))
        .unwrap()
        .parse()
        .unwrap()
}

async fn reply_to(app: &TestApp, text: &str) -> Value {
    let before = app.slack.posts_to("/reply").len();
    app.command(text).await;
    app.slack.wait_for("/reply", before + 1).await[before].clone()
}

/// No override: absent, or -1 as `reset` leaves it.
fn is_unset(limits: Option<(f64, i32)>) -> bool {
    limits.is_none_or(|(rate, burst)| rate < 0.0 && burst < 0)
}

fn ours(tags: &HashMap<String, String>) -> Vec<&String> {
    tags.keys()
        .filter(|k| k.starts_with("throttle-bot:"))
        .collect()
}

/// Waits for an audit notice whose text contains `needle`.
async fn notice_with(app: &TestApp, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT * 2;
    loop {
        if let Some(found) = app
            .slack
            .posts_to("/webhook")
            .iter()
            .map(shown)
            .find(|text| text.contains(needle))
        {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no notice with {needle:?}: {:?}",
            app.slack.posts_to("/webhook")
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_timed_change_says_when_it_ends_and_is_restored_at_its_deadline() {
    let token = bot_token();
    let app = spawn_with_token("none", &token).await;
    let api = create_api(&unique("timed"), "prod").await;
    reply_to(&app, &format!("{api} prod 10 20")).await;

    let reply = reply_to(&app, &format!("{api} prod 8 16 for 3s")).await;

    let text = shown(&reply);
    assert!(
        text.contains("<!date^"),
        "says when, in each reader's zone: {text}"
    );
    assert_eq!(stage_limits(&api, "prod").await, Some((8.0, 16)));
    let tags = stage_tags(&api, "prod").await;
    let record = &tags["throttle-bot:stage"];
    assert!(
        record.contains("set=8/16") && record.contains("restore=10/20"),
        "{record}"
    );
    assert!(record.contains(&format!("by={USER}")), "{record}");

    let ended = notice_with(&app, "ended").await;
    assert!(ended.contains("10 req/s"), "{ended}");
    assert_eq!(stage_limits(&api, "prod").await, Some((10.0, 20)));
    assert!(ours(&stage_tags(&api, "prod").await).is_empty());
    // With a bot token, the channel hears of it too (its response_url may have expired).
    let posted = app.slack.wait_for("/api/chat.postMessage", 1).await;
    assert_eq!(posted[0]["channel"], CHANNEL);
    assert!(
        posted[0].get("thread_ts").is_none(),
        "no message to thread under: {}",
        posted[0]
    );
    assert!(shown(&posted[0]).contains("ended"), "{}", posted[0]);
    assert_eq!(
        app.slack.authorizations("/api/chat.postMessage")[0].as_deref(),
        Some(format!("Bearer {token}").as_str())
    );
}

#[tokio::test]
async fn the_same_values_again_re_time_a_timed_change_or_keep_it_for_good_and_the_channel_hears() {
    let app = spawn("none").await;
    let api = create_api(&unique("timed"), "prod").await;
    reply_to(&app, &format!("{api} prod 10 20")).await;
    reply_to(&app, &format!("{api} prod 8 16 for 30m")).await;
    let first_until = record_field(&stage_tags(&api, "prod").await, "until");

    // The same values for 2h: the clamp now ends later, and the channel that saw "until …"
    // is told the new time; the values before the clamp still come back then.
    let retimed = reply_to(&app, &format!("{api} prod 8 16 for 2h")).await;
    assert_eq!(retimed["response_type"], "in_channel", "{retimed}");
    let text = shown(&retimed);
    assert!(
        text.contains("now until") && text.contains("then 10 req/s, burst 20"),
        "{text}"
    );
    let until = record_field(&stage_tags(&api, "prod").await, "until");
    assert!(until >= first_until + 89 * 60, "{first_until} → {until}");
    assert!(
        notice_with(&app, "now until")
            .await
            .contains("then 10 req/s")
    );

    // The same values for good: the record goes, so nothing is put back at the deadline.
    let kept = reply_to(&app, &format!("{api} prod 8 16")).await;
    assert_eq!(kept["response_type"], "in_channel", "{kept}");
    let text = shown(&kept);
    assert!(
        text.contains("for good") && text.contains("nothing will be put back then"),
        "{text}"
    );
    assert!(ours(&stage_tags(&api, "prod").await).is_empty());
    assert_eq!(stage_limits(&api, "prod").await, Some((8.0, 16)));
    let notice = notice_with(&app, "for good").await;
    assert!(notice.contains(&format!("<@{USER}>")), "{notice}");
}

#[tokio::test]
async fn a_level_that_had_no_override_gets_it_removed_again() {
    let app = spawn("none").await;
    let api = create_api(&unique("timed"), "prod").await;

    reply_to(&app, &format!("{api} prod 8 16 GET / for 2s")).await;
    assert_eq!(
        setting_limits(&api, "prod", "~1/GET").await,
        Some((8.0, 16))
    );

    notice_with(&app, "ended").await;
    let after = setting_limits(&api, "prod", "~1/GET").await;
    assert!(is_unset(after), "the override is gone: {after:?}");
    assert!(ours(&stage_tags(&api, "prod").await).is_empty());
}

#[tokio::test]
async fn nothing_is_restored_when_someone_changed_the_stage_since() {
    let app = spawn("none").await;
    let api = create_api(&unique("timed"), "prod").await;
    reply_to(&app, &format!("{api} prod 10 20")).await;
    reply_to(&app, &format!("{api} prod 8 16 for 3s")).await;

    set_stage_limits(&api, "prod", 3.0, 6).await;

    let warning = notice_with(&app, "Not restored").await;
    assert!(warning.contains("8 req/s"), "what it expected: {warning}");
    assert!(warning.contains("3 req/s"), "what it found: {warning}");
    assert!(warning.contains("A person must decide"), "{warning}");
    assert_eq!(stage_limits(&api, "prod").await, Some((3.0, 6)));
    assert!(ours(&stage_tags(&api, "prod").await).is_empty());
    let posted = app.slack.wait_for("/api/chat.postMessage", 1).await;
    assert!(shown(&posted[0]).contains("Not restored"), "{}", posted[0]);
}

#[tokio::test]
async fn a_fresh_process_finishes_the_restore_of_one_that_was_killed() {
    let api = create_api(&unique("timed"), "prod").await;
    let first = spawn("none").await;
    reply_to(&first, &format!("{api} prod 10 20")).await;
    reply_to(&first, &format!("{api} prod 8 16 for 2s")).await;
    // Killed (SIGKILL): its timer dies with it; the record stays on the stage.
    drop(first);
    assert!(!ours(&stage_tags(&api, "prod").await).is_empty());

    let second = spawn(&api).await;

    let ended = notice_with(&second, "ended").await;
    assert!(
        ended.contains(&format!("<@{USER}>")),
        "says who set it: {ended}"
    );
    assert_eq!(stage_limits(&api, "prod").await, Some((10.0, 20)));
    assert!(ours(&stage_tags(&api, "prod").await).is_empty());
}

#[tokio::test]
async fn two_processes_finishing_one_restore_restore_it_once() {
    let api = create_api(&unique("timed"), "prod").await;
    let first = spawn("none").await;
    reply_to(&first, &format!("{api} prod 10 20")).await;
    reply_to(&first, &format!("{api} prod 8 16 for 1s")).await;
    drop(first);
    // Two replicas sweep the same stage every second.
    let (one, two) = tokio::join!(spawn(&api), spawn(&api));

    // Whichever finishes it first, the values come back and the record goes.
    let deadline = tokio::time::Instant::now() + WAIT * 2;
    while !ours(&stage_tags(&api, "prod").await).is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never restored");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(stage_limits(&api, "prod").await, Some((10.0, 20)));
    // Both have swept the stage again since: neither found anything more to do.
    let swept = |app: &TestApp| {
        app.logs()
            .iter()
            .filter(|l| l.contains("swept stages for ended timed changes"))
            .count()
    };
    let (a, b) = (swept(&one), swept(&two));
    one.wait_for_log("swept stages for ended timed changes", a + 2)
        .await;
    two.wait_for_log("swept stages for ended timed changes", b + 2)
        .await;
    let restored = |app: &TestApp| {
        app.slack
            .posts_to("/webhook")
            .iter()
            .filter(|p| shown(p).contains("ended"))
            .count()
    };
    assert_eq!(restored(&one) + restored(&two), 1, "one restore, told once");
    for app in [&one, &two] {
        assert!(
            !app.slack
                .posts_to("/webhook")
                .iter()
                .any(|p| shown(p).contains("Not restored")),
            "the other replica found nothing wrong"
        );
    }
}

#[tokio::test]
async fn extend_moves_the_deadline_and_restore_ends_it_now() {
    let app = spawn("none").await;
    let api = create_api(&unique("timed"), "prod").await;
    reply_to(&app, &format!("{api} prod 10 20")).await;
    reply_to(&app, &format!("{api} prod 8 16 for 1h")).await;
    let until = |tags: &HashMap<String, String>| record_field(tags, "until");
    let first = until(&stage_tags(&api, "prod").await);

    let extended = reply_to(&app, &format!("extend {api} prod 30m")).await;

    assert!(
        shown(&extended).contains("extended"),
        "{}",
        shown(&extended)
    );
    assert_eq!(extended["response_type"], "in_channel");
    assert_eq!(until(&stage_tags(&api, "prod").await), first + 1800);
    let listed = shown(&reply_to(&app, &format!("show {api} prod")).await);
    assert!(listed.contains("timed"), "show lists it: {listed}");
    assert!(
        listed.contains(&format!("<!date^{}", first + 1800)),
        "{listed}"
    );

    let restored = reply_to(&app, &format!("restore {api} prod")).await;

    assert!(
        shown(&restored).contains("restored"),
        "{}",
        shown(&restored)
    );
    assert_eq!(stage_limits(&api, "prod").await, Some((10.0, 20)));
    assert!(ours(&stage_tags(&api, "prod").await).is_empty());
    let nothing = reply_to(&app, &format!("restore {api} prod")).await;
    assert!(
        shown(&nothing).contains("No timed change"),
        "{}",
        shown(&nothing)
    );
}

#[tokio::test]
async fn a_duration_beyond_the_maximum_is_refused_and_changes_nothing() {
    let app = TestApp::spawn_with(Options {
        extra_env: vec![("MAX_TEMPORARY", "1h".to_owned())],
        ..Options::default()
    })
    .await;
    let api = create_api(&unique("timed"), "prod").await;

    let reply = reply_to(&app, &format!("{api} prod 8 16 for 2h")).await;

    let text = shown(&reply);
    assert!(text.contains("at most 1h"), "{text}");
    assert_eq!(stage_limits(&api, "prod").await, None);
    assert!(ours(&stage_tags(&api, "prod").await).is_empty());
}

#[tokio::test]
async fn a_risky_timed_change_is_previewed_and_applied_for_its_duration() {
    let app = spawn("none").await;
    let api = create_api(&unique("timed"), "prod").await;
    reply_to(&app, &format!("{api} prod 100 200")).await;

    let preview = reply_to(&app, &format!("{api} prod 0 0 for 1h")).await;

    let text = shown(&preview);
    assert!(
        text.contains("Confirm this change") && text.contains("for 1h"),
        "{text}"
    );
    assert!(
        ours(&stage_tags(&api, "prod").await).is_empty(),
        "nothing yet"
    );
    app.press(&preview, "Apply", USER).await;
    let applied = app.slack.wait_for("/actions", 1).await[0].clone();
    assert!(shown(&applied).contains("<!date^"), "{}", shown(&applied));
    assert_eq!(stage_limits(&api, "prod").await, Some((0.0, 0)));
    let tags = stage_tags(&api, "prod").await;
    assert!(
        tags["throttle-bot:stage"].contains("set=0/0 restore=100/200"),
        "{tags:?}"
    );
}

#[tokio::test]
async fn the_end_of_an_approved_timed_change_is_threaded_under_its_message() {
    let policy = format!(
        "[[rule]]\nname = \"prod needs approval\"\nusers = [\"{USER}\", \"{OTHER}\"]\napis = [\"*\"]\nstages = [\"prod\"]\napprovers = [\"{OTHER}\"]\n"
    );
    let path = std::env::temp_dir().join(format!("{}.toml", unique("policy")));
    std::fs::write(&path, policy).unwrap();
    let app = TestApp::spawn_with(Options {
        extra_env: vec![
            ("THROTTLE_POLICY", path.display().to_string()),
            ("SWEEP_APIS", "none".to_owned()),
            ("SLACK_BOT_TOKEN", bot_token()),
        ],
        ..Options::default()
    })
    .await;
    let api = create_api(&unique("timed"), "prod").await;
    let request = reply_to(&app, &format!("{api} prod 8 16 for 2s")).await;
    assert_eq!(request["response_type"], "in_channel", "{request}");

    app.press(&request, "Approve", OTHER).await;
    app.slack.wait_for("/actions", 1).await;
    assert_eq!(stage_limits(&api, "prod").await, Some((8.0, 16)));

    notice_with(&app, "ended").await;
    let posted = app.slack.wait_for("/api/chat.postMessage", 1).await;
    // The approval request's message became the change's message: its end is a reply to it.
    assert_eq!(posted[0]["thread_ts"], "1700000000.000100", "{}", posted[0]);
    assert_eq!(posted[0]["channel"], CHANNEL);
}

#[tokio::test]
async fn a_restore_that_fails_is_reported_and_retried_until_it_succeeds() {
    let app = TestApp::spawn_with(Options {
        record_aws: true,
        extra_env: vec![("SWEEP_APIS", "none".to_owned())],
        ..Options::default()
    })
    .await;
    let api = create_api(&unique("timed"), "prod").await;
    reply_to(&app, &format!("{api} prod 10 20")).await;
    reply_to(&app, &format!("{api} prod 8 16 for 2s")).await;

    // AWS refuses every call (the account's management budget is spent) when the end comes.
    app.aws().limit_to(0.0, 0.0);

    let failed = notice_with(&app, "Could not restore").await;
    assert!(failed.contains("throttling"), "says why: {failed}");
    assert!(
        failed.contains("tried again"),
        "says it is not dropped: {failed}"
    );
    assert_eq!(stage_limits(&api, "prod").await, Some((8.0, 16)));
    app.aws().limit_to(1000.0, 1000.0);

    notice_with(&app, "ended").await;
    assert_eq!(stage_limits(&api, "prod").await, Some((10.0, 20)));
    assert!(ours(&stage_tags(&api, "prod").await).is_empty());
    let failures = app
        .slack
        .posts_to("/webhook")
        .iter()
        .filter(|p| shown(p).contains("Could not restore"))
        .count();
    assert_eq!(failures, 1, "the first failure is told, not every retry");
}

mod on_lambda;

#[tokio::test]
async fn apply_for_a_duration_records_its_restore_on_the_stage_for_a_sweep() {
    let slack = SlackStandIn::start().await;
    let api = create_api(&unique("apply"), "test").await;

    let output = crate::apply::apply(
        &slack,
        &[
            "--api-id", &api, "--stage", "test", "--rate", "50", "--burst", "100", "--for", "2s",
        ],
        &[],
        None,
    )
    .await;

    assert!(output.status.success(), "{output:?}");
    let printed = crate::apply::stdout(&output);
    assert!(
        printed.starts_with("Updated throttling: rate=50, burst=100 until "),
        "{printed}"
    );
    assert!(printed.contains("sweep"), "says who restores it: {printed}");
    let tags = stage_tags(&api, "test").await;
    assert!(
        tags["throttle-bot:stage"].contains("by=schedule"),
        "{tags:?}"
    );

    // A running service's sweep finishes it.
    let service = spawn(&api).await;
    notice_with(&service, "ended").await;
    assert!(is_unset(stage_limits(&api, "test").await));
    assert!(ours(&stage_tags(&api, "test").await).is_empty());
}

#[tokio::test]
async fn a_hand_written_record_is_never_acted_on_and_is_reported_once() {
    // Anyone who may tag a stage could write this: a record whose `set` is what the stage
    // holds and whose `restore` blocks every request, credited to someone else.
    let api = create_api(&unique("forged"), "prod").await;
    set_stage_limits(&api, "prod", 100.0, 200).await;
    aws()
        .await
        .tag_resource()
        .resource_arn(format!(
            "arn:aws:apigateway:us-east-1::/restapis/{api}/stages/prod"
        ))
        .tags(
            "throttle-bot:stage",
            format!("set=100/200 restore=0/0 since=1 until=2 by=U0VICTIM in={CHANNEL}"),
        )
        .send()
        .await
        .unwrap();
    let app = spawn(&api).await;

    let alert = notice_with(&app, "Not made by throttle-bot").await;
    assert!(
        alert.contains(&api) && alert.contains("restore=0/0"),
        "{alert}"
    );
    let shown_view = shown(&reply_to(&app, &format!("show {api} prod")).await);
    assert!(
        shown_view.contains("not made by throttle-bot"),
        "{shown_view}"
    );

    let app = app.stop().await;
    assert_eq!(stage_limits(&api, "prod").await, Some((100.0, 200)));
    assert!(
        stage_tags(&api, "prod")
            .await
            .contains_key("throttle-bot:stage"),
        "left for a person to decide"
    );
    let alerts = app
        .slack
        .posts_to("/webhook")
        .iter()
        .filter(|post| shown(post).contains("Not made by throttle-bot"))
        .count();
    assert_eq!(alerts, 1, "one alert, however many sweeps read it");
    assert!(
        app.slack.posts_to("/api/chat.postMessage").is_empty(),
        "nothing posted to the channel the record names"
    );
}

#[tokio::test]
async fn a_captured_extend_played_again_extends_once() {
    let app = spawn("none").await;
    let api = create_api(&unique("timed"), "prod").await;
    reply_to(&app, &format!("{api} prod 10 20")).await;
    reply_to(&app, &format!("{api} prod 8 16 for 10m")).await;
    let until = record_field(&stage_tags(&api, "prod").await, "until");

    let body = app
        .command_form(&format!("extend {api} prod 30m"))
        .into_bytes();
    let timestamp = now().to_string();
    let signature = sign(SIGNING_SECRET, &timestamp, &body);
    let before = app.slack.posts_to("/reply").len();
    app.post_with(body.clone(), Some(&timestamp), Some(&signature))
        .await;
    app.slack.wait_for("/reply", before + 1).await;
    for _ in 0..3 {
        let replayed = app
            .post_with(body.clone(), Some(&timestamp), Some(&signature))
            .await;
        let text = shown(&replayed.json().await.unwrap());
        assert!(text.contains("already received"), "{text}");
    }

    let app = app.stop().await;
    assert_eq!(
        record_field(&stage_tags(&api, "prod").await, "until"),
        until + 1800
    );
    assert_eq!(app.slack.posts_to("/reply").len(), before + 1);
}

#[tokio::test]
async fn a_restart_before_the_deadline_still_restores_on_time_not_at_the_next_sweep() {
    let api = create_api(&unique("timed"), "prod").await;
    let first = spawn("none").await;
    reply_to(&first, &format!("{api} prod 10 20")).await;
    reply_to(&first, &format!("{api} prod 8 16 for 3s")).await;
    // Killed before its deadline: its timer dies with it.
    drop(first);
    // The next process sweeps at start-up and then only every 5 minutes.
    let second = TestApp::spawn_with(Options {
        extra_env: vec![
            ("SWEEP_APIS", api.clone()),
            ("SWEEP_INTERVAL_SECS", "300".to_owned()),
        ],
        ..Options::default()
    })
    .await;

    notice_with(&second, "ended").await;
    assert_eq!(stage_limits(&api, "prod").await, Some((10.0, 20)));
    assert!(ours(&stage_tags(&api, "prod").await).is_empty());
}
