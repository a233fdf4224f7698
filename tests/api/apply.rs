use std::process::{Output, Stdio};
use tokio::io::AsyncWriteExt;

use crate::helpers::*;

pub async fn apply(
    slack: &SlackStandIn,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> Output {
    let mut command = service_command(Some(slack), true);
    command.arg("apply").args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = tokio::process::Command::from(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).await.unwrap();
    }
    drop(input);
    child.wait_with_output().await.unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn stderr_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|l| l.starts_with("throttle-bot:"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn apply_with_flags_sets_the_stage_and_prints_the_original_result() {
    let slack = SlackStandIn::start().await;
    let api = create_api(&unique("apply"), "test").await;

    let output = apply(
        &slack,
        &[
            "--api-id", &api, "--stage", "test", "--rate", "50", "--burst", "100",
        ],
        &[],
        None,
    )
    .await;

    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "Updated throttling: rate=50, burst=100");
    assert_eq!(stage_limits(&api, "test").await, Some((50.0, 100)));
    let notice = text_of(&slack.wait_for("/webhook", 1).await[0]);
    assert!(notice.contains(&api), "{notice}");
}

#[tokio::test]
async fn flags_beat_the_event_which_beats_the_environment() {
    let slack = SlackStandIn::start().await;
    let api = create_api(&unique("precedence"), "night").await;
    let event = format!(r#"{{"API_ID": "{api}", "STAGE_NAME": "day", "RATE_LIMIT": "40"}}"#);

    let output = apply(
        &slack,
        &["--stage", "night", "--event", &event],
        &[
            ("STAGE_NAME", "ignored"),
            ("RATE_LIMIT", "1"),
            ("BURST_LIMIT", "80"),
        ],
        None,
    )
    .await;

    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "Updated throttling: rate=40, burst=80");
    assert_eq!(stage_limits(&api, "night").await, Some((40.0, 80)));
}

#[tokio::test]
async fn the_event_can_come_from_a_file_or_standard_input() {
    let slack = SlackStandIn::start().await;
    let api = create_api(&unique("eventfile"), "test").await;
    let path = std::env::temp_dir().join(format!("{}.json", unique("event")));
    std::fs::write(
        &path,
        format!(
            r#"{{"API_ID": "{api}", "STAGE_NAME": "test", "RATE_LIMIT": 7, "BURST_LIMIT": 14}}"#
        ),
    )
    .unwrap();

    let from_file = apply(
        &slack,
        &["--event", &format!("@{}", path.display())],
        &[],
        None,
    )
    .await;
    assert_eq!(stdout(&from_file), "Updated throttling: rate=7, burst=14");

    let stdin = format!(
        r#"{{"API_ID": "{api}", "STAGE_NAME": "test", "RATE_LIMIT": 9, "BURST_LIMIT": 18}}"#
    );
    let from_stdin = apply(&slack, &["--event", "-"], &[], Some(&stdin)).await;
    assert_eq!(stdout(&from_stdin), "Updated throttling: rate=9, burst=18");
    assert_eq!(stage_limits(&api, "test").await, Some((9.0, 18)));
}

#[tokio::test]
async fn a_missing_api_id_fails_with_one_line_and_a_notice() {
    let slack = SlackStandIn::start().await;

    let output = apply(&slack, &["--stage", "test"], &[], None).await;

    assert!(!output.status.success());
    assert_eq!(
        stderr_lines(&output),
        ["throttle-bot: Missing required parameters: API_ID or STAGE_NAME"]
    );
    let notice = text_of(&slack.wait_for("/webhook", 1).await[0]);
    assert!(notice.contains("Missing required parameters"), "{notice}");
}

#[tokio::test]
async fn a_malformed_event_is_named_and_notified() {
    let slack = SlackStandIn::start().await;

    let output = apply(&slack, &["--event", r#"{"API_ID": "#], &[], None).await;

    assert!(!output.status.success());
    let lines = stderr_lines(&output);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("malformed event: not valid JSON"),
        "{lines:?}"
    );
    let notice = text_of(&slack.wait_for("/webhook", 1).await[0]);
    assert!(notice.contains("malformed event"), "{notice}");
}

#[tokio::test]
async fn invalid_values_change_nothing() {
    let slack = SlackStandIn::start().await;
    let api = create_api(&unique("applybad"), "test").await;

    let output = apply(
        &slack,
        &["--api-id", &api, "--stage", "test", "--burst", "1.5"],
        &[],
        None,
    )
    .await;

    assert!(!output.status.success());
    assert!(
        stderr_lines(&output)[0].contains("invalid BURST_LIMIT"),
        "{output:?}"
    );
    assert_eq!(stage_limits(&api, "test").await, None);
}

#[tokio::test]
async fn an_unknown_api_fails_and_is_notified() {
    let slack = SlackStandIn::start().await;

    let output = apply(
        &slack,
        &["--api-id", "zzzzzzzzzz", "--stage", "test"],
        &[],
        None,
    )
    .await;

    assert!(!output.status.success());
    assert!(stderr_lines(&output)[0].contains("not found"), "{output:?}");
    let notice = text_of(&slack.wait_for("/webhook", 1).await[0]);
    assert!(notice.contains("Failed"), "{notice}");
}
