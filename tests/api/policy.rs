//! The access policy: who may change which stage, and by how much.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::Value;

use crate::helpers::*;
use crate::runtime_api::LambdaHarness;

const STRANGER: Sender<'static> = Sender {
    user: "U0STRANGER",
    channel: "C0ELSEWHERE",
    team: TEAM,
};

fn policy_file(text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("{}.toml", unique("policy")));
    std::fs::write(&path, text).unwrap();
    path
}

/// The policy of the issue, with `prod_api` standing for "petstore" (named or by id).
fn sample_policy(prod_api: &str) -> String {
    format!(
        r#"
team_id = "{TEAM}"

[[rule]]
name = "anyone in ops may tune test stages"
users = ["*"]
channels = ["{CHANNEL}"]
apis = ["*"]
stages = ["test", "dev-*"]
max_rate = 1000
max_burst = 2000
min_rate = 0
min_burst = 0

[[rule]]
name = "SRE may change prod, never to zero"
users = ["{USER}", "U0SRE0002"]
apis = ["{prod_api}"]
stages = ["prod"]
min_rate = 1
max_rate = 5000
max_burst = 5000
"#
    )
}

async fn app_with_policy(text: &str) -> TestApp {
    let path = policy_file(text);
    TestApp::spawn_with(Options {
        record_aws: true,
        extra_env: vec![("THROTTLE_POLICY", path.display().to_string())],
        ..Options::default()
    })
    .await
}

async fn answer(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

fn patches(app: &TestApp) -> usize {
    let calls = app.aws.as_ref().unwrap().calls();
    calls.iter().filter(|c| c.starts_with("PATCH ")).count()
}

#[tokio::test]
async fn a_channel_rule_allows_anyone_there_and_no_one_elsewhere() {
    let name = unique("policyapi");
    let api = create_api_with_stages(&name, &["dev-1", "prod"]).await;
    let app = app_with_policy(&sample_policy(&name)).await;
    let in_ops = Sender {
        user: "U0ANYONE",
        ..ME
    };

    app.command_from(in_ops, &format!("{api} dev-1 100 200"))
        .await;
    app.slack.wait_for("/reply", 1).await;
    assert_eq!(stage_limits(&api, "dev-1").await, Some((100.0, 200)));

    let denied = answer(
        app.command_from(STRANGER, &format!("{api} dev-1 5 5"))
            .await,
    )
    .await;
    assert_eq!(denied["response_type"], "ephemeral");
    let text = shown(&denied);
    assert!(text.contains("Not allowed"), "{text}");
    assert!(
        text.contains("No rule lets user U0STRANGER in channel C0ELSEWHERE"),
        "{text}"
    );
    assert_eq!(
        stage_limits(&api, "dev-1").await,
        Some((100.0, 200)),
        "unchanged"
    );

    let notices = app.slack.wait_for("/webhook", 2).await;
    let denial = shown(&notices[1]);
    assert!(denial.contains("Denied"), "{denial}");
    assert!(
        denial.contains("<@U0STRANGER>") && denial.contains("<#C0ELSEWHERE>"),
        "{denial}"
    );
    assert!(
        denial.contains(&api) && denial.contains("dev-1"),
        "{denial}"
    );
}

#[tokio::test]
async fn a_user_rule_allows_its_users_on_the_named_api_and_stage_only() {
    let name = unique("policyprod");
    let api = create_api(&name, "prod").await;
    let app = app_with_policy(&sample_policy(&name)).await;

    app.command(&format!("{name} prod 50 100")).await;
    app.slack.wait_for("/reply", 1).await;
    assert_eq!(stage_limits(&api, "prod").await, Some((50.0, 100)));

    let other_user = Sender {
        user: "U0NOTSRE",
        ..ME
    };
    let denied = shown(
        &answer(
            app.command_from(other_user, &format!("{name} prod 60 100"))
                .await,
        )
        .await,
    );
    assert!(denied.contains("No rule lets user U0NOTSRE"), "{denied}");

    let other_api = create_api(&unique("notpetstore"), "prod").await;
    app.command(&format!("{other_api} prod 60 100")).await;
    let reply = shown(&app.slack.wait_for("/reply", 2).await[1]);
    assert!(reply.contains("Not allowed"), "{reply}");
    assert!(
        reply.contains(&format!("change API `{other_api}` stage `prod`")),
        "{reply}"
    );
    assert_eq!(stage_limits(&other_api, "prod").await, None);
    assert_eq!(stage_limits(&api, "prod").await, Some((50.0, 100)));
}

#[tokio::test]
async fn a_rule_naming_the_api_by_name_allows_it_by_id_and_the_reverse() {
    let name = unique("byname");
    let api = create_api(&name, "prod").await;
    let by_name = app_with_policy(&sample_policy(&name)).await;
    by_name.command(&format!("{api} prod 11 22")).await;
    by_name.slack.wait_for("/reply", 1).await;
    assert_eq!(stage_limits(&api, "prod").await, Some((11.0, 22)));

    let by_id = app_with_policy(&sample_policy(&api)).await;
    by_id.command(&format!("{name} prod 33 44")).await;
    by_id.slack.wait_for("/reply", 1).await;
    assert_eq!(stage_limits(&api, "prod").await, Some((33.0, 44)));
}

#[tokio::test]
async fn stage_globs_match_by_prefix_only() {
    let api = create_api_with_stages(&unique("globs"), &["dev-eu", "development"]).await;
    let app = app_with_policy(&sample_policy("petstore")).await;

    app.command(&format!("{api} dev-eu 10 10")).await;
    app.slack.wait_for("/reply", 1).await;
    assert_eq!(stage_limits(&api, "dev-eu").await, Some((10.0, 10)));

    let denied = shown(&answer(app.command(&format!("{api} development 10 10")).await).await);
    assert!(denied.contains("change stage `development`"), "{denied}");
    assert_eq!(stage_limits(&api, "development").await, None);
}

#[tokio::test]
async fn each_bound_is_enforced_inclusively_and_explained() {
    let name = unique("bounds");
    let api = create_api_with_stages(&name, &["prod", "test"]).await;
    let app = app_with_policy(&sample_policy(&name)).await;

    for (text, reason) in [
        (
            format!("{name} prod 0 10"),
            "rate 0 is below the minimum (allowed 1–5000 req/s)",
        ),
        (
            format!("{name} prod 5001 10"),
            "rate 5001 is above the maximum (allowed 1–5000 req/s)",
        ),
        (
            format!("{name} prod 10 5001"),
            "burst 5001 is above the maximum (allowed 0–5000)",
        ),
        (
            format!("{api} test 1001 10"),
            "rate 1001 is above the maximum (allowed 0–1000 req/s)",
        ),
        (
            format!("{api} test 10 2001"),
            "burst 2001 is above the maximum (allowed 0–2000)",
        ),
        (
            format!("reset {name} prod"),
            "reset lifts this level's limit",
        ),
    ] {
        let denied = shown(&answer(app.command(&text).await).await).to_lowercase();
        assert!(denied.contains(&reason.to_lowercase()), "{text}: {denied}");
    }
    assert_eq!(patches(&app), 0, "no change reached AWS");

    app.command(&format!("{name} prod 5000 5000")).await;
    app.command(&format!("{api} test 1000 2000")).await;
    app.slack.wait_for("/reply", 2).await;
    assert_eq!(stage_limits(&api, "prod").await, Some((5000.0, 5000)));
    assert_eq!(stage_limits(&api, "test").await, Some((1000.0, 2000)));
}

#[tokio::test]
async fn a_denial_makes_no_aws_call_at_all() {
    let api = create_api(&unique("nocall"), "prod").await;
    let app = app_with_policy(&sample_policy("petstore")).await;

    app.command_from(STRANGER, &format!("{api} test 5 5")).await;
    app.slack.wait_for("/webhook", 1).await;

    assert!(
        app.aws.as_ref().unwrap().calls().is_empty(),
        "{:?}",
        app.aws.as_ref().unwrap().calls()
    );
}

#[tokio::test]
async fn another_workspace_is_refused_even_for_show() {
    let api = create_api(&unique("foreign"), "test").await;
    let app = app_with_policy(&sample_policy("petstore")).await;
    let foreign = Sender {
        team: "T0OTHERTEAM",
        ..ME
    };

    for text in [format!("{api} test 5 5"), format!("show {api}")] {
        let refused = shown(&answer(app.command_from(foreign, &text).await).await);
        assert!(
            refused.contains(&format!("only accepts commands from workspace {TEAM}")),
            "{refused}"
        );
    }
    assert_eq!(stage_limits(&api, "test").await, None);
    let notice = shown(&app.slack.wait_for("/webhook", 1).await[0]);
    assert!(notice.contains("T0OTHERTEAM"), "{notice}");
}

#[tokio::test]
async fn show_and_help_are_open_to_everyone_in_the_workspace() {
    let api = create_api(&unique("openshow"), "prod").await;
    let app = app_with_policy(&sample_policy("petstore")).await;

    let help = shown(&answer(app.command_from(STRANGER, "help").await).await);
    assert!(help.contains("Usage"), "{help}");
    app.command_from(STRANGER, &format!("show {api}")).await;
    let view = app.slack.wait_for("/reply", 1).await[0].to_string();
    assert!(view.contains("Stage `prod`"), "{view}");
}

#[tokio::test]
async fn with_readers_only_they_see_throttling_and_api_names() {
    let name = unique("readers");
    let api = create_api(&name, "prod").await;
    let policy = format!("readers = [\"{USER}\"]\n{}", sample_policy(&name));
    let app = app_with_policy(&policy).await;

    let refused = shown(&answer(app.command_from(STRANGER, &format!("show {api}")).await).await);
    assert!(refused.contains("may not read"), "{refused}");
    assert!(!refused.contains("Stage"), "{refused}");

    // A typo near a real name: a reader is offered the name, anyone else is not.
    let typo = format!("{name}x");
    app.command(&format!("{typo} prod 10 20")).await;
    let for_reader = shown(&app.slack.wait_for("/reply", 1).await[0]);
    assert!(
        for_reader.contains(&format!("did you mean `{name}`")),
        "{for_reader}"
    );
    let in_ops = Sender {
        user: "U0NOTREADER",
        ..ME
    };
    app.command_from(in_ops, &format!("{typo} test 10 20"))
        .await;
    let for_other = shown(&app.slack.wait_for("/reply", 2).await[1]);
    assert!(
        for_other.contains("No REST or HTTP API is named"),
        "{for_other}"
    );
    assert!(!for_other.contains("did you mean"), "{for_other}");

    app.command(&format!("show {api}")).await;
    let view = app.slack.wait_for("/reply", 3).await[2].to_string();
    assert!(view.contains("Stage `prod`"), "{view}");
}

#[tokio::test]
async fn without_a_policy_the_service_refuses_to_start_and_says_how_to_open_it() {
    let output = service_command(None, false)
        .env_remove("THROTTLE_POLICY")
        .arg("serve")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no access policy"), "{stderr}");
    assert!(stderr.contains("THROTTLE_POLICY=allow-all"), "{stderr}");
}

#[tokio::test]
async fn a_misspelt_policy_variable_does_not_open_every_stage() {
    let output = service_command(None, false)
        .env_remove("THROTTLE_POLICY")
        .env("THROTTLE_POLICIES", "/etc/throttle-bot/policy.toml")
        .arg("serve")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success(), "refused to start");
}

#[tokio::test]
async fn allow_all_is_said_aloud_at_start_up() {
    let app = TestApp::spawn().await;
    app.wait_for_log("THROTTLE_POLICY=allow-all", 1).await;
}

#[tokio::test]
async fn a_lambda_for_slack_needs_a_policy_but_one_for_schedules_does_not() {
    let api = create_api(&unique("nopolicyjob"), "prod").await;
    let schedules_only = LambdaHarness::start(
        Options {
            removed_env: vec!["THROTTLE_POLICY", "SLACK_SIGNING_SECRET"],
            ..Options::default()
        },
        &[],
    )
    .await;
    let result = schedules_only
        .invoke(serde_json::json!({"API_ID": api, "STAGE_NAME": "prod", "RATE_LIMIT": 7, "BURST_LIMIT": 9}))
        .await
        .unwrap();
    assert_eq!(result["body"], "Updated throttling: rate=7, burst=9");

    let for_slack = service_command(None, false)
        .env_remove("THROTTLE_POLICY")
        .arg("lambda")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!for_slack.status.success());
    let stderr = String::from_utf8_lossy(&for_slack.stderr);
    assert!(stderr.contains("no access policy"), "{stderr}");
}

fn start_with_policy(text: &str) -> (std::process::Output, PathBuf) {
    let path = policy_file(text);
    let output = service_command(None, false)
        .env("THROTTLE_POLICY", &path)
        .arg("serve")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (output, path)
}

#[tokio::test]
async fn a_bad_policy_file_stops_start_up_with_file_line_and_reason() {
    let rule = "[[rule]]\nusers = [\"*\"]\napis = [\"*\"]\nstages = [\"*\"]\n";
    for (text, line, reason) in [
        (
            "team_id = \"T1\"\n[[rule]\n".to_owned(),
            2,
            "unclosed array table",
        ),
        (format!("{rule}max_rps = 5\n"), 5, "unknown field `max_rps`"),
        ("team_id = \"T1\"\n\n[[rule]]\n".to_owned(), 3, "empty rule"),
        (
            format!("{rule}min_rate = 10\nmax_rate = 5\n"),
            1,
            "min_rate 10 is greater than max_rate 5",
        ),
        (
            format!("{rule}min_burst = 3\nmax_burst = 2\n"),
            1,
            "min_burst 3 is greater than max_burst 2",
        ),
    ] {
        let (output, path) = start_with_policy(&text);
        assert!(!output.status.success(), "{text}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "one line: {stderr}");
        let expected = format!("{}: line {line}: ", path.display());
        assert!(lines[0].contains(&expected), "{expected:?} in {stderr}");
        assert!(lines[0].contains(reason), "{reason:?} in {stderr}");
    }
}

#[tokio::test]
async fn sighup_reloads_a_good_policy_and_keeps_the_old_one_when_the_new_is_bad() {
    let api = create_api(&unique("reload"), "prod").await;
    let path = policy_file(&sample_policy("petstore"));
    let app = TestApp::spawn_with(Options {
        extra_env: vec![("THROTTLE_POLICY", path.display().to_string())],
        ..Options::default()
    })
    .await;

    // The rule names "petstore": whether this id is petstore is looked up, then refused.
    app.command(&format!("{api} prod 9 9")).await;
    let before = shown(&app.slack.wait_for("/reply", 1).await[0]);
    assert!(before.contains("Not allowed"), "{before}");
    assert_eq!(stage_limits(&api, "prod").await, None);

    std::fs::write(&path, sample_policy(&api)).unwrap();
    app.hangup();
    app.wait_for_log("access policy reloaded", 1).await;
    app.command(&format!("{api} prod 9 9")).await;
    app.slack.wait_for("/reply", 2).await;
    assert_eq!(stage_limits(&api, "prod").await, Some((9.0, 9)));

    std::fs::write(&path, "[[rule]]\nnot toml at all").unwrap();
    app.hangup();
    app.wait_for_log("policy reload rejected", 1).await;
    app.command(&format!("{api} prod 8 8")).await;
    app.slack.wait_for("/reply", 3).await;
    assert_eq!(
        stage_limits(&api, "prod").await,
        Some((8.0, 8)),
        "the old policy still allows it"
    );
}

fn policy_cli(args: &[&str]) -> std::process::Output {
    service_command(None, false)
        .arg("policy")
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn policy_check_prints_the_rules_in_plain_words() {
    let path = policy_file(&sample_policy("petstore"));
    let output = policy_cli(&["check", &path.display().to_string()]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("valid, 2 rules"), "{text}");
    assert!(
        text.contains(&format!(
            "Only commands from workspace {TEAM} are accepted."
        )),
        "{text}"
    );
    assert!(
        text.contains("Rule 2 \"SRE may change prod, never to zero\": U2CERLKJA or U0SRE0002 in any channel may change petstore, prod; rate 1–5000, burst at most 5000"),
        "{text}"
    );

    let bad = policy_file("[[rule]]\n");
    let output = policy_cli(&["check", &bad.display().to_string()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("empty rule"));
}

#[tokio::test]
async fn policy_explain_says_whether_and_by_which_rule() {
    let path = policy_file(&sample_policy("petstore"));
    let file = path.display().to_string();

    let allowed = policy_cli(&[
        "explain",
        "--file",
        &file,
        "--user",
        USER,
        "--channel",
        "C9",
        "--team",
        TEAM,
        "petstore",
        "prod",
        "50",
        "100",
    ]);
    assert!(allowed.status.success());
    assert_eq!(
        String::from_utf8_lossy(&allowed.stdout).trim(),
        "ALLOWED by rule \"SRE may change prod, never to zero\"."
    );

    let denied = policy_cli(&[
        "explain",
        "--file",
        &file,
        "--user",
        USER,
        "--channel",
        "C9",
        "--team",
        TEAM,
        "petstore",
        "prod",
        "0",
        "100",
    ]);
    assert_eq!(denied.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&denied.stdout).contains("DENIED: rate 0 is below the minimum")
    );
}

#[tokio::test]
async fn a_flood_of_refused_commands_cannot_flood_the_audit_channel() {
    let api = create_api(&unique("denyflood"), "prod").await;
    let app = app_with_policy(&sample_policy("petstore")).await;

    for _ in 0..12 {
        let denied =
            shown(&answer(app.command_from(STRANGER, &format!("{api} test 5 5")).await).await);
        assert!(
            denied.contains("Not allowed"),
            "every refusal is still answered: {denied}"
        );
    }
    app.wait_for_log(
        "audit notices of this user's refused commands are paused",
        1,
    )
    .await;
    let app = app.stop().await;
    assert_eq!(app.slack.posts_to("/webhook").len(), 5);
}

#[tokio::test]
async fn policy_explain_says_when_a_change_needs_confirmation_or_approval() {
    let path = policy_file(&format!(
        "[[rule]]\nname = \"prod\"\nusers = [\"{USER}\"]\napis = [\"*\"]\nstages = [\"prod\"]\napprovers = [\"U0APPROVER\"]\nbreak_glass = true\n\n[[rule]]\nname = \"test\"\nusers = [\"{USER}\"]\napis = [\"*\"]\nstages = [\"test\"]\n\n[[rule]]\nname = \"stg\"\nusers = [\"{USER}\"]\napis = [\"*\"]\nstages = [\"stg\"]\nconfirm = true\n"
    ));
    let file = path.display().to_string();
    let explain = |words: &[&str]| {
        let mut args = vec!["explain", "--file", &file, "--user", USER];
        args.extend_from_slice(words);
        let output = policy_cli(&args);
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        )
    };
    let (code, text) = explain(&["petstore", "prod", "5", "10"]);
    assert_eq!(code, Some(0));
    assert!(
        text.starts_with("NEEDS APPROVAL by one of U0APPROVER (rule \"prod\")"),
        "{text}"
    );
    assert!(text.contains("--now"), "{text}");
    let (_, text) = explain(&["petstore", "stg", "5", "10"]);
    assert!(
        text.starts_with("NEEDS CONFIRMATION: rule \"stg\""),
        "{text}"
    );
    let (_, text) = explain(&["petstore", "test", "0", "10"]);
    assert!(
        text.starts_with("NEEDS CONFIRMATION: a rate or burst of 0 blocks traffic"),
        "{text}"
    );
    let (code, text) = explain(&["petstore", "test", "5", "10"]);
    assert_eq!(
        (code, text.as_str()),
        (Some(0), "ALLOWED by rule \"test\".")
    );
    let (code, text) = explain(&["petstore", "live", "5", "10"]);
    assert_eq!(code, Some(1));
    assert!(text.starts_with("DENIED"), "{text}");

    let check = policy_cli(&["check", &file]);
    let listed = String::from_utf8_lossy(&check.stdout);
    assert!(listed.contains("approved by one of U0APPROVER"), "{listed}");
    assert!(
        listed.contains("each change is confirmed first"),
        "{listed}"
    );
}

#[tokio::test]
async fn the_example_policy_the_quick_start_names_is_valid_and_does_what_it_says() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/policy.example.toml");
    let check = policy_cli(&["check", example]);
    assert!(check.status.success(), "{check:?}");
    let explain = |text: &[&str]| {
        let mut args = vec!["explain", "--file", example, "--user", USER];
        args.extend_from_slice(text);
        policy_cli(&args)
    };
    let test_stage = explain(&["petstore", "test", "50", "100"]);
    assert!(test_stage.status.success(), "{test_stage:?}");
    let to_zero = explain(&["petstore", "prod", "0", "0"]);
    assert!(
        !to_zero.status.success(),
        "prod never goes to zero: {to_zero:?}"
    );
    let prod = explain(&["petstore", "prod", "50", "100"]);
    let text = String::from_utf8_lossy(&prod.stdout);
    assert!(text.contains("NEEDS CONFIRMATION"), "{text}");
}
