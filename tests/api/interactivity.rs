//! Confirm before a risky change, Undo in one click, and approval by someone else: the bot's
//! own buttons, pressed the way Slack sends a press, with the stage read back from moto.

use serde_json::Value;
use throttle_bot::slack::buttons::{ButtonValue, Buttons, Press};
use throttle_bot::slack::signature::SigningSecret;

use crate::helpers::*;

const OTHER: &str = "U0OTHER";
const APPROVER: &str = "U0APPROVER";

/// `/throttle <text>` as USER; its final reply.
async fn reply_to(app: &TestApp, text: &str, nth: usize) -> Value {
    app.command(text).await;
    app.slack.wait_for("/reply", nth).await[nth - 1].clone()
}

/// The service with this access policy.
async fn app_with_policy(policy: &str) -> TestApp {
    let path = std::env::temp_dir().join(format!("{}.toml", unique("policy")));
    std::fs::write(&path, policy).unwrap();
    TestApp::spawn_with(Options {
        extra_env: vec![("THROTTLE_POLICY", path.display().to_string())],
        ..Options::default()
    })
    .await
}

/// A message holding one button this service could have made (same secret), for `text` by
/// USER, sealed until `expires_at`.
fn message_with(press: Press, text: &str, approvers: &[&str], expires_at: i64) -> Value {
    let buttons = Buttons::new(&SigningSecret::new(SIGNING_SECRET).unwrap());
    let button = buttons.button(
        ButtonValue {
            press,
            text: text.to_owned(),
            author: USER.to_owned(),
            channel: Some(CHANNEL.to_owned()),
            team: Some(TEAM.to_owned()),
            expect: Some((None, None)),
            approvers: approvers.iter().map(|a| (*a).to_owned()).collect(),
            break_glass: false,
        },
        expires_at,
    );
    serde_json::json!({ "blocks": [{ "type": "actions", "elements": [button] }] })
}

#[tokio::test]
async fn each_kind_of_risky_change_is_previewed_privately_and_not_applied() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("preview"), "prod").await;
    reply_to(&app, &format!("{api} prod 100 200"), 1).await;

    for (n, (text, why)) in [
        (format!("{api} prod 0 200"), "it blocks traffic"),
        (format!("{api} prod 100 0"), "it blocks traffic"),
        (
            format!("{api} prod 49 200"),
            "it cuts the rate from 100 to 49",
        ),
        (
            format!("{api} prod 100 99"),
            "it cuts the burst from 200 to 99",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let preview = reply_to(&app, &text, n + 2).await;
        let shown = shown(&preview);
        assert_eq!(preview["response_type"], "ephemeral", "{text}");
        assert!(
            shown.contains("Confirm this change") && shown.contains(why),
            "{text}: {shown}"
        );
        assert!(shown.contains("429 Too Many Requests"), "{shown}");
        assert!(button(&preview, "Apply").is_some() && button(&preview, "Cancel").is_some());
    }
    assert_eq!(
        stage_limits(&api, "prod").await,
        Some((100.0, 200)),
        "nothing applied"
    );
    let plain = shown(&app.slack.posts_to("/reply")[1]);
    assert!(
        plain.contains("every request will get 429 Too Many Requests"),
        "{plain}"
    );
    let cut = shown(&app.slack.posts_to("/reply")[3]);
    assert!(cut.contains("requests above 49 per second"), "{cut}");
}

#[tokio::test]
async fn a_rule_can_ask_to_confirm_every_change() {
    let api = create_api(&unique("confirmrule"), "prod").await;
    let policy = format!(
        "[[rule]]\nusers = [\"{USER}\"]\napis = [\"*\"]\nstages = [\"prod\"]\nconfirm = true\n"
    );
    let app = app_with_policy(&policy).await;

    let preview = reply_to(&app, &format!("{api} prod 500 1000"), 1).await;
    assert!(
        shown(&preview).contains("the access policy asks to confirm"),
        "{preview}"
    );
    app.press(&preview, "Apply", USER).await;
    let applied = app.slack.wait_for("/actions", 1).await[0].clone();
    assert_eq!(applied["response_type"], "in_channel");
    assert_eq!(stage_limits(&api, "prod").await, Some((500.0, 1000)));
}

#[tokio::test]
async fn apply_by_the_author_applies_and_tells_the_channel_and_the_preview_goes() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("apply"), "prod").await;
    let preview = reply_to(&app, &format!("{api} prod 0 0"), 1).await;

    let ack = app.press(&preview, "Apply", USER).await;
    assert_eq!(ack.status(), 200);
    assert!(
        ack.text().await.unwrap().is_empty(),
        "Slack wants an empty 200"
    );

    let posts = app.slack.wait_for("/actions", 2).await;
    assert_eq!(posts[0]["response_type"], "in_channel");
    assert!(
        shown(&posts[0]).contains("changed throttling"),
        "{}",
        posts[0]
    );
    assert!(button(&posts[0], "Undo").is_some());
    assert_eq!(posts[1]["delete_original"], true);
    assert_eq!(stage_limits(&api, "prod").await, Some((0.0, 0)));
    let notice = shown(&app.slack.wait_for("/webhook", 1).await[0]);
    assert!(notice.contains("Updated throttling"), "{notice}");
}

#[tokio::test]
async fn only_the_author_can_apply_or_cancel() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("notyours"), "prod").await;
    let preview = reply_to(&app, &format!("{api} prod 0 5"), 1).await;

    app.press(&preview, "Apply", OTHER).await;
    let told = app.slack.wait_for("/actions", 1).await[0].clone();
    assert_eq!(told["response_type"], "ephemeral");
    assert!(
        shown(&told).contains(&format!("Only <@{USER}> can apply")),
        "{told}"
    );
    app.press(&preview, "Cancel", OTHER).await;
    app.slack.wait_for("/actions", 2).await;

    app.press(&preview, "Cancel", USER).await;
    let cancelled = app.slack.wait_for("/actions", 3).await[2].clone();
    assert_eq!(cancelled["replace_original"], true);
    assert!(shown(&cancelled).contains("Cancelled"), "{cancelled}");
    let app = app.stop().await;
    assert_eq!(stage_limits(&api, "prod").await, None, "nothing applied");
    assert!(app.slack.posts_to("/webhook").is_empty());
}

#[tokio::test]
async fn expired_and_tampered_buttons_are_refused_privately_and_logged() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("tamper"), "prod").await;
    let preview = reply_to(&app, &format!("{api} prod 0 5"), 1).await;

    let mut tampered = preview.clone();
    let value = button(&preview, "Apply").unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let forged = value.replace("prod 0 5", "prod 0 6");
    for block in tampered["blocks"].as_array_mut().unwrap() {
        for element in block["elements"].as_array_mut().into_iter().flatten() {
            element["value"] = Value::from(forged.clone());
        }
    }
    app.press(&tampered, "Apply", USER).await;
    let told = shown(&app.slack.wait_for("/actions", 1).await[0]);
    assert!(told.contains("not one of throttle-bot's"), "{told}");

    // A preview's button, sealed by this service's secret five minutes and more ago.
    let expired = message_with(Press::Apply, &format!("{api} prod 0 5"), &[], now() - 1);
    app.press(&expired, "Apply", USER).await;
    let told = shown(&app.slack.wait_for("/actions", 2).await[1]);
    assert!(told.contains("expired"), "{told}");

    app.wait_for_log("refused a button press", 2).await;
    assert_eq!(stage_limits(&api, "prod").await, None);
}

#[tokio::test]
async fn a_stage_changed_between_preview_and_apply_is_left_alone() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("moved"), "prod").await;
    let preview = reply_to(&app, &format!("{api} prod 0 5"), 1).await;
    set_stage_limits(&api, "prod", 300.0, 600).await;

    app.press(&preview, "Apply", USER).await;

    let told = app.slack.wait_for("/actions", 1).await[0].clone();
    let text = shown(&told);
    assert!(text.contains("Nothing was applied"), "{text}");
    assert!(text.contains("now has 300 req/s, burst 600"), "{text}");
    assert_eq!(stage_limits(&api, "prod").await, Some((300.0, 600)));
}

#[tokio::test]
async fn undo_restores_the_values_before_once_and_says_who_and_when() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("undo"), "prod").await;
    reply_to(&app, &format!("{api} prod 100 200"), 1).await;
    let changed = reply_to(&app, &format!("{api} prod 150 300"), 2).await;
    assert_eq!(stage_limits(&api, "prod").await, Some((150.0, 300)));

    app.press(&changed, "Undo", OTHER).await;
    let undone = app.slack.wait_for("/actions", 1).await[0].clone();
    assert_eq!(undone["replace_original"], true);
    let text = shown(&undone);
    assert!(
        text.contains(&format!("<@{OTHER}> undid a change")),
        "{text}"
    );
    assert!(
        undone.to_string().contains("<!date^"),
        "when, in each reader's time zone"
    );
    assert!(button(&undone, "Undo").is_none(), "Undo works once");
    assert_eq!(stage_limits(&api, "prod").await, Some((100.0, 200)));
    let notices: Vec<String> = app
        .slack
        .wait_for("/webhook", 3)
        .await
        .iter()
        .map(shown)
        .collect();
    assert!(
        notices.iter().any(|n| n.contains(&format!("<@{OTHER}>"))),
        "audited: {notices:?}"
    );

    // The same button again: the live values are no longer the ones that message set.
    app.press(&changed, "Undo", OTHER).await;
    let again = shown(&app.slack.wait_for("/actions", 2).await[1]);
    assert!(again.contains("Nothing was undone"), "{again}");
    assert_eq!(stage_limits(&api, "prod").await, Some((100.0, 200)));
}

#[tokio::test]
async fn undo_of_a_first_override_removes_it_as_reset_does() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("undofirst"), "prod").await;
    let changed = reply_to(&app, &format!("{api} prod 150 300"), 1).await;

    app.press(&changed, "Undo", USER).await;
    app.slack.wait_for("/actions", 1).await;

    // The stage-wide entry the change made held nothing else: it is removed (AWS's `*/*`
    // entry with its defaults and a throttle is all the change had put there).
    assert_eq!(
        stage_limits(&api, "prod").await,
        None,
        "no override of its own again"
    );
}

#[tokio::test]
async fn undo_after_someone_else_changed_the_stage_changes_nothing() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("undomoved"), "prod").await;
    let changed = reply_to(&app, &format!("{api} prod 150 300"), 1).await;
    set_stage_limits(&api, "prod", 700.0, 800).await;

    app.press(&changed, "Undo", USER).await;

    let told = app.slack.wait_for("/actions", 1).await[0].clone();
    assert_ne!(told["replace_original"], true, "the channel message stays");
    let text = shown(&told);
    assert!(
        text.contains("Nothing was undone") && text.contains("now has 700 req/s, burst 800"),
        "{text}"
    );
    assert!(text.contains("changed it since"), "{text}");
    assert_eq!(stage_limits(&api, "prod").await, Some((700.0, 800)));
}

/// A policy where USER's prod changes need APPROVER, with break glass.
async fn app_with_approvals() -> TestApp {
    let policy = format!(
        "[[rule]]\nname = \"prod needs approval\"\nusers = [\"{USER}\", \"{OTHER}\", \"{APPROVER}\"]\napis = [\"*\"]\nstages = [\"prod\"]\napprovers = [\"{APPROVER}\"]\nbreak_glass = true\n"
    );
    app_with_policy(&policy).await
}

#[tokio::test]
async fn a_change_needing_approval_is_applied_when_an_approver_approves() {
    let app = app_with_approvals().await;
    let api = create_api(&unique("approve"), "prod").await;
    let request = reply_to(&app, &format!("{api} prod 40 80"), 1).await;
    let text = shown(&request);
    assert_eq!(request["response_type"], "in_channel");
    assert!(
        text.contains("Approval needed") && text.contains(&format!("<@{APPROVER}>")),
        "{text}"
    );
    assert!(text.contains("rate not set → 40 req/s"), "{text}");
    assert_eq!(stage_limits(&api, "prod").await, None, "not applied yet");

    // The author, and someone not listed, may not approve: told privately, nothing changes.
    for who in [USER, OTHER] {
        app.press(&request, "Approve", who).await;
    }
    let told = app.slack.wait_for("/actions", 2).await;
    for post in &told {
        assert_ne!(post["replace_original"], true);
        assert_eq!(post["response_type"], "ephemeral");
    }
    assert!(
        shown(&told[0]).contains("cannot also approve it"),
        "{}",
        told[0]
    );
    assert!(shown(&told[1]).contains("not an approver"), "{}", told[1]);
    assert_eq!(stage_limits(&api, "prod").await, None);

    app.press(&request, "Approve", APPROVER).await;
    let approved = app.slack.wait_for("/actions", 3).await[2].clone();
    assert_eq!(approved["replace_original"], true);
    assert!(
        shown(&approved).contains(&format!("approved by <@{APPROVER}>")),
        "{approved}"
    );
    assert_eq!(stage_limits(&api, "prod").await, Some((40.0, 80)));
    // Notices arrive in any order; the one for the applied change names both people.
    let notices = app.slack.wait_for("/webhook", 4).await;
    let applied = notices
        .iter()
        .map(shown)
        .find(|n| n.contains("Updated throttling"))
        .expect("a notice of the change");
    assert!(
        applied.contains(&format!("approved by <@{APPROVER}>"))
            && applied.contains(&format!("<@{USER}>")),
        "{applied}"
    );
}

#[tokio::test]
async fn a_rejected_or_late_approval_changes_nothing() {
    let app = app_with_approvals().await;
    let api = create_api(&unique("reject"), "prod").await;
    let request = reply_to(&app, &format!("{api} prod 40 80"), 1).await;

    app.press(&request, "Reject", OTHER).await;
    assert!(shown(&app.slack.wait_for("/actions", 1).await[0]).contains("not an approver"));
    app.press(&request, "Reject", APPROVER).await;
    let rejected = app.slack.wait_for("/actions", 2).await[1].clone();
    assert_eq!(rejected["replace_original"], true);
    assert!(
        shown(&rejected).contains(&format!("Rejected by <@{APPROVER}>")),
        "{rejected}"
    );

    let expired = message_with(
        Press::Approve,
        &format!("{api} prod 40 80"),
        &[APPROVER],
        now() - 60,
    );
    app.press(&expired, "Approve", APPROVER).await;
    assert!(shown(&app.slack.wait_for("/actions", 3).await[2]).contains("expired"));
    assert_eq!(stage_limits(&api, "prod").await, None);
}

#[tokio::test]
async fn approval_is_closed_if_the_stage_changed_meanwhile() {
    let app = app_with_approvals().await;
    let api = create_api(&unique("approvemoved"), "prod").await;
    let request = reply_to(&app, &format!("{api} prod 40 80"), 1).await;
    set_stage_limits(&api, "prod", 10.0, 20).await;

    app.press(&request, "Approve", APPROVER).await;

    let closed = app.slack.wait_for("/actions", 1).await[0].clone();
    assert_eq!(closed["replace_original"], true);
    assert!(
        shown(&closed).contains("This request is closed and nothing was applied"),
        "{closed}"
    );
    assert_eq!(stage_limits(&api, "prod").await, Some((10.0, 20)));
}

#[tokio::test]
async fn break_glass_applies_at_once_and_the_audit_says_so_loudly() {
    let app = app_with_approvals().await;
    let api = create_api(&unique("glass"), "prod").await;

    let reply = reply_to(&app, &format!("{api} prod 5 10 --now"), 1).await;

    assert_eq!(reply["response_type"], "in_channel");
    assert!(shown(&reply).contains("without approval"), "{reply}");
    assert_eq!(stage_limits(&api, "prod").await, Some((5.0, 10)));
    let notice = shown(&app.slack.wait_for("/webhook", 1).await[0]);
    assert!(
        notice.contains("APPROVAL SKIPPED (break glass)"),
        "{notice}"
    );
    assert!(
        notice.contains(&format!("<@{USER}>")) && notice.contains("prod needs approval"),
        "{notice}"
    );
}

#[tokio::test]
async fn undo_is_a_change_like_any_other_and_the_presser_needs_the_policy_to_allow_it() {
    let policy = format!("[[rule]]\nusers = [\"{USER}\"]\napis = [\"*\"]\nstages = [\"prod\"]\n");
    let app = app_with_policy(&policy).await;
    let api = create_api(&unique("undopolicy"), "prod").await;
    let changed = reply_to(&app, &format!("{api} prod 150 300"), 1).await;

    app.press(&changed, "Undo", OTHER).await;
    let refused = app.slack.wait_for("/actions", 1).await[0].clone();
    assert_ne!(
        refused["replace_original"], true,
        "the change message stays"
    );
    assert!(shown(&refused).contains("Not allowed"), "{refused}");
    assert_eq!(stage_limits(&api, "prod").await, Some((150.0, 300)));

    app.press(&changed, "Undo", USER).await;
    app.slack.wait_for("/actions", 2).await;
    assert_eq!(
        stage_limits(&api, "prod").await,
        None,
        "no override of its own again"
    );
}

#[tokio::test]
async fn a_press_the_policy_refuses_is_told_so_without_the_stages_live_values() {
    // OTHER has a rule (so the press passes the screen), for another API only.
    let policy = format!(
        "[[rule]]\nusers = [\"{USER}\"]\napis = [\"*\"]\nstages = [\"prod\"]\n\n[[rule]]\nusers = [\"{OTHER}\"]\napis = [\"{}\"]\nstages = [\"prod\"]\n",
        unique("elsewhere")
    );
    let app = app_with_policy(&policy).await;
    let api = create_api(&unique("undohidden"), "prod").await;
    let changed = reply_to(&app, &format!("{api} prod 150 300"), 1).await;
    set_stage_limits(&api, "prod", 777.0, 888).await;

    app.press(&changed, "Undo", OTHER).await;

    let refused = shown(&app.slack.wait_for("/actions", 1).await[0]);
    // Refused by the decision on the API as read, not by the screen before it.
    assert!(
        refused.contains("Not allowed") && refused.contains("change API"),
        "{refused}"
    );
    assert!(
        !refused.contains("777") && !refused.contains("888"),
        "{refused}"
    );
    assert_eq!(stage_limits(&api, "prod").await, Some((777.0, 888)));
}

#[tokio::test]
async fn apply_double_clicked_applies_once_and_the_second_click_is_told_so() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("twice"), "prod").await;
    let preview = reply_to(&app, &format!("{api} prod 0 0"), 1).await;

    let (first, second) = tokio::join!(
        app.press(&preview, "Apply", USER),
        app.press(&preview, "Apply", USER)
    );
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );

    app.slack.wait_for("/actions", 3).await;
    let app = app.stop().await;
    let posts: Vec<String> = app.slack.posts_to("/actions").iter().map(shown).collect();
    assert_eq!(posts.len(), 3, "{posts:?}");
    let changed = posts
        .iter()
        .filter(|p| p.contains("changed throttling"))
        .count();
    assert_eq!(changed, 1, "one change message: {posts:?}");
    assert!(
        posts.iter().any(|p| p.contains("already answered")),
        "{posts:?}"
    );
    let notices = app.slack.posts_to("/webhook");
    assert_eq!(notices.len(), 1, "one audit notice: {notices:?}");
}

#[tokio::test]
async fn approve_and_reject_pressed_together_have_one_true_outcome() {
    let app = app_with_approvals().await;
    let api = create_api(&unique("race"), "prod").await;
    let request = reply_to(&app, &format!("{api} prod 40 80"), 1).await;

    tokio::join!(
        app.press(&request, "Approve", APPROVER),
        app.press(&request, "Reject", APPROVER)
    );

    app.slack.wait_for("/actions", 2).await;
    let app = app.stop().await;
    let posts: Vec<String> = app.slack.posts_to("/actions").iter().map(shown).collect();
    assert_eq!(posts.len(), 2, "{posts:?}");
    let approved = posts.iter().any(|p| p.contains("approved by"));
    let rejected = posts.iter().any(|p| p.contains("Rejected by"));
    assert!(approved != rejected, "exactly one outcome: {posts:?}");
    assert!(
        posts.iter().any(|p| p.contains("already answered")),
        "{posts:?}"
    );
    let applied = stage_limits(&api, "prod").await == Some((40.0, 80));
    assert_eq!(applied, approved, "what it says is true: {posts:?}");
}

#[tokio::test]
async fn a_press_from_another_workspace_in_a_shared_channel_is_refused() {
    // Slack Connect: the channel is hosted by our workspace, the presser belongs to another.
    let policy = format!(
        "team_id = \"{TEAM}\"\n\n[[rule]]\nname = \"all\"\nusers = [\"*\"]\napis = [\"*\"]\nstages = [\"*\"]\n"
    );
    let app = app_with_policy(&policy).await;
    let api = create_api(&unique("connect"), "prod").await;
    let change = reply_to(&app, &format!("{api} prod 40 80"), 1).await;
    let body = press_form(&change, "Undo", OTHER, &app.slack.url("/actions")).replace(
        &format!("%22team_id%22%3A%22{TEAM}%22"),
        "%22team_id%22%3A%22T0ELSEWHERE%22",
    );
    assert!(
        body.contains("T0ELSEWHERE"),
        "the presser's own team is set"
    );

    app.press_with(body).await;

    let told = shown(&app.slack.wait_for("/actions", 1).await[0]);
    assert!(
        told.contains("T0ELSEWHERE") || told.contains("workspace"),
        "{told}"
    );
    assert_eq!(
        stage_limits(&api, "prod").await,
        Some((40.0, 80)),
        "not undone"
    );
}

#[tokio::test]
async fn undo_of_a_timed_change_ends_it_for_good() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("undotimed"), "prod").await;
    reply_to(&app, &format!("{api} prod 100 200"), 1).await;
    let timed = reply_to(&app, &format!("{api} prod 80 160 for 30m"), 2).await;
    assert!(
        stage_tags(&api, "prod")
            .await
            .contains_key("throttle-bot:stage")
    );

    app.press(&timed, "Undo", USER).await;

    let undone = shown(&app.slack.wait_for("/actions", 1).await[0]);
    assert!(undone.contains("undid a change"), "{undone}");
    assert_eq!(stage_limits(&api, "prod").await, Some((100.0, 200)));
    let ours: Vec<String> = stage_tags(&api, "prod")
        .await
        .into_keys()
        .filter(|k| k.starts_with("throttle-bot:"))
        .collect();
    assert!(
        ours.is_empty(),
        "no new timed change, and the old one ended: {ours:?}"
    );
}

#[tokio::test]
async fn undo_of_a_recovery_from_a_block_is_previewed_before_it_blocks_again() {
    let app = TestApp::spawn().await;
    let api = create_api(&unique("undoblock"), "prod").await;
    set_stage_limits(&api, "prod", 0.0, 0).await;
    let recovered = reply_to(&app, &format!("{api} prod 100 200"), 1).await;
    assert_eq!(stage_limits(&api, "prod").await, Some((100.0, 200)));

    app.press(&recovered, "Undo", USER).await;

    let preview = app.slack.wait_for("/actions", 1).await[0].clone();
    let text = shown(&preview);
    assert!(
        text.contains("Confirm this change") && text.contains("blocks traffic"),
        "{text}"
    );
    assert_eq!(
        stage_limits(&api, "prod").await,
        Some((100.0, 200)),
        "not yet"
    );
    app.press(&preview, "Apply", USER).await;
    app.slack.wait_for("/actions", 2).await;
    assert_eq!(stage_limits(&api, "prod").await, Some((0.0, 0)));
}

#[tokio::test]
async fn an_apply_that_failed_for_a_reason_that_passes_can_be_pressed_again() {
    let app = TestApp::spawn_with(Options {
        record_aws: true,
        ..Options::default()
    })
    .await;
    let api = create_api(&unique("pressagain"), "prod").await;
    let preview = reply_to(&app, &format!("{api} prod 0 0"), 1).await;

    // The account's management budget is spent: AWS refuses every call (429).
    app.aws().limit_to(0.0, 0.0);
    app.press(&preview, "Apply", USER).await;
    let failed = shown(&app.slack.wait_for("/actions", 1).await[0]);
    assert_eq!(stage_limits(&api, "prod").await, None, "{failed}");

    // Once AWS answers again, the same button works: the failed press was no answer.
    app.aws().limit_to(1000.0, 1000.0);
    app.press(&preview, "Apply", USER).await;
    let posts = app.slack.wait_for("/actions", 2).await;
    assert!(
        !shown(&posts[1]).contains("already answered"),
        "{}",
        shown(&posts[1])
    );
    assert_eq!(stage_limits(&api, "prod").await, Some((0.0, 0)));
}
