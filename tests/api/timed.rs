//! Timed changes against moto: the record on the stage, the restore at the deadline (by this
//! process's timer, or by another process's sweep), refused after an intervening change,
//! `extend`, `restore`, and the end posted through the Web API stand-in with a bot token.

use std::collections::HashMap;

use serde_json::Value;

use crate::helpers::*;

const BOT_TOKEN: &str = "xoxb-test-token";

/// A service whose Web API is the stand-in, sweeping `sweep` (an API id, or `none`).
async fn spawn(sweep: &str) -> TestApp {
    TestApp::spawn_with(Options {
        extra_env: vec![
            ("SWEEP_APIS", sweep.to_owned()),
            ("SWEEP_INTERVAL_SECS", "1".to_owned()),
            ("SLACK_BOT_TOKEN", BOT_TOKEN.to_owned()),
        ],
        ..Options::default()
    })
    .await
}

async fn reply_to(app: &TestApp, text: &str) -> Value {
    let before = app.slack.posts_to("/reply").len();
    app.command(text).await;
    app.slack.wait_for("/reply", before + 1).await[before].clone()
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
    let app = spawn("none").await;
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
    assert!(shown(&posted[0]).contains("ended"), "{}", posted[0]);
    assert_eq!(
        app.slack.authorizations("/api/chat.postMessage")[0].as_deref(),
        Some(format!("Bearer {BOT_TOKEN}").as_str())
    );
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
    assert!(
        after.is_none() || after.is_some_and(|(rate, burst)| rate < 0.0 && burst < 0),
        "the override is gone: {after:?}"
    );
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
    let until = |tags: &HashMap<String, String>| -> i64 {
        let record = &tags["throttle-bot:stage"];
        record
            .split(' ')
            .find_map(|f| f.strip_prefix("until="))
            .unwrap()
            .parse()
            .unwrap()
    };
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
