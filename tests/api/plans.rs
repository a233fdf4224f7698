//! Usage plans against moto (GetUsagePlans, GetUsagePlan, UpdateUsagePlan; a method's throttle
//! in a plan's API stage through the stand-in in `tests/support/moto_server.py`).

use serde_json::Value;

use crate::helpers::*;

async fn reply_to(app: &TestApp, text: &str, nth: usize) -> Value {
    app.command(text).await;
    app.slack.wait_for("/reply", nth).await[nth - 1].clone()
}

/// Plan writes take turns (AWS allows about one every 20 s); tests that make several take
/// turns a second apart.
fn with_env(mut extra: Vec<(&'static str, String)>) -> Options {
    if !extra.iter().any(|(k, _)| *k == "PLAN_CALLS_INTERVAL_SECS") {
        extra.push(("PLAN_CALLS_INTERVAL_SECS", "1".to_owned()));
    }
    Options {
        extra_env: extra,
        ..Options::default()
    }
}

async fn spawn() -> TestApp {
    TestApp::spawn_with(with_env(Vec::new())).await
}

#[tokio::test]
async fn a_plans_own_throttle_is_set_by_name_shown_and_reset_by_id() {
    let app = spawn().await;
    let name = unique("gold");
    let plan = create_usage_plan(&name, &[], Some((100.0, 200))).await;

    let changed = reply_to(&app, &format!("plan {name} 5.5 10"), 1).await;

    let text = shown(&changed);
    assert_eq!(changed["response_type"], "in_channel", "{text}");
    assert!(
        text.contains("100 req/s, burst 200 → 5.5 req/s, burst 10"),
        "before → after: {text}"
    );
    assert_eq!(plan_throttles(&plan).await.0, Some((5.5, 10)));
    let notice = shown(&app.slack.wait_for("/webhook", 1).await[0]);
    assert!(notice.contains(&name) && notice.contains(&plan), "{notice}");

    let again = shown(&reply_to(&app, &format!("plan {plan} 5.5 10"), 2).await);
    assert!(again.contains("Nothing to change"), "{again}");

    let view = shown(&reply_to(&app, &format!("show plan {name}"), 3).await);
    assert!(view.contains("Plan-wide: 5.5 req/s, burst 10"), "{view}");

    reply_to(&app, &format!("reset plan {plan}"), 4).await;
    assert_eq!(plan_throttles(&plan).await.0, None);
}

#[tokio::test]
async fn a_method_of_an_api_stage_in_the_plan_is_throttled_and_reset() {
    let app = spawn().await;
    let api = create_api(&unique("planned"), "prod").await;
    let name = unique("silver");
    let plan = create_usage_plan(&name, &[(&api, "prod")], None).await;

    let set = shown(&reply_to(&app, &format!("plan {name} {api} prod 2 4 GET /pets"), 1).await);

    assert!(set.contains("not set → 2 req/s, burst 4"), "{set}");
    let key = format!("{api} prod /pets/GET");
    assert_eq!(plan_throttles(&plan).await.1.get(&key), Some(&(2.0, 4)));
    let view = shown(&reply_to(&app, &format!("show plan {plan}"), 2).await);
    assert!(
        view.contains("/pets/GET") && view.contains("2 req/s, burst 4"),
        "{view}"
    );

    reply_to(&app, &format!("reset plan {name} {api} prod GET /pets"), 3).await;
    assert_eq!(plan_throttles(&plan).await.1.get(&key), None);

    let outside = shown(&reply_to(&app, &format!("plan {name} {api} test 2 4 GET /pets"), 4).await);
    assert!(outside.contains("is not in this usage plan"), "{outside}");
    // A method the API lacks would throttle nothing: refused, its fix offered, nothing written.
    let typo = shown(&reply_to(&app, &format!("plan {name} {api} prod 2 4 GET /pet"), 5).await);
    assert!(
        typo.contains("has no method `GET /pet`") && typo.contains("`GET /pets`"),
        "{typo}"
    );
    assert!(plan_throttles(&plan).await.1.is_empty());
    let stage_only: Value = app
        .command(&format!("plan {name} {api} prod 2 4"))
        .await
        .json()
        .await
        .unwrap();
    let stage_only = shown(&stage_only);
    assert!(stage_only.contains("add `<METHOD> <path>`"), "{stage_only}");
}

#[tokio::test]
async fn the_policy_reaches_plans_only_where_a_rule_lists_them_within_its_bounds() {
    let policy = "[[rule]]\nname = \"stages\"\nusers = [\"*\"]\napis = [\"*\"]\nstages = [\"*\"]\n\n[[rule]]\nname = \"bronze plans\"\nusers = [\"*\"]\nplans = [\"bronze-*\"]\nmax_rate = 50\nmax_burst = 100\n";
    let app = TestApp::spawn_with(with_env(vec![
        ("THROTTLE_POLICY", String::new()),
        ("THROTTLE_POLICY_TOML", policy.to_owned()),
    ]))
    .await;
    let bronze = unique("bronze");
    let bronze_id = create_usage_plan(&bronze, &[], Some((10.0, 20))).await;
    let gold = unique("gold");
    let gold_id = create_usage_plan(&gold, &[], Some((10.0, 20))).await;

    // Values no plan rule allows are refused at once, before the plan is read.
    let above: Value = app
        .command(&format!("plan {bronze} 100 200"))
        .await
        .json()
        .await
        .unwrap();
    let above = shown(&above);
    let elsewhere = shown(&reply_to(&app, &format!("plan {gold} 20 40"), 1).await);
    let within = shown(&reply_to(&app, &format!("plan {bronze_id} 40 80"), 2).await);

    assert!(above.contains("above the maximum"), "{above}");
    assert!(
        elsewhere.contains("no rule lets") && elsewhere.contains("usage plan"),
        "{elsewhere}"
    );
    assert!(within.contains("→ 40 req/s, burst 80"), "{within}");
    assert_eq!(plan_throttles(&gold_id).await.0, Some((10.0, 20)));
    assert_eq!(plan_throttles(&bronze_id).await.0, Some((40.0, 80)));
}

#[tokio::test]
async fn a_change_queued_behind_another_says_so_and_writes_only_what_its_author_saw() {
    let app = TestApp::spawn_with(Options {
        record_aws: true,
        // No sweep: every read of plans is the commands'.
        ..with_env(vec![
            ("PLAN_CALLS_INTERVAL_SECS", "4".to_owned()),
            ("SWEEP_APIS", "none".to_owned()),
        ])
    })
    .await;
    let aws_calls = app.aws.as_ref().unwrap();
    let name = unique("queued");
    let plan = create_usage_plan(&name, &[], Some((10.0, 20))).await;

    reply_to(&app, &format!("plan {name} 11 22"), 1).await;
    // Reads of plans so far (the first change's, and the start-up sweep's of every plan).
    let reads = || {
        aws_calls
            .calls()
            .iter()
            .filter(|c| c.starts_with("GET /usageplans"))
            .count()
    };
    let before = reads();
    let ack: Value = app
        .command(&format!("plan {name} 12 24"))
        .await
        .json()
        .await
        .unwrap();
    let ack = shown(&ack);
    assert!(
        ack.contains("queued behind another usage plan change in this account: about"),
        "{ack}"
    );
    // Once it has read the plan (moto has answered), and while it waits its turn, someone
    // changes the plan in the console.
    aws_calls
        .wait_for_answers_matching("GET /usageplans", before + 1)
        .await;
    set_plan_throttle(&plan, 30.0, 60).await;

    let refused = shown(&app.slack.wait_for("/reply", 2).await[1]);
    assert!(
        refused.contains("changed since it was read for this change"),
        "{refused}"
    );
    assert!(refused.contains("30 req/s, burst 60"), "{refused}");
    assert_eq!(plan_throttles(&plan).await.0, Some((30.0, 60)));

    let third = shown(&reply_to(&app, &format!("plan {name} 13 26"), 3).await);
    assert!(
        third.contains("30 req/s, burst 60 → 13 req/s, burst 26"),
        "{third}"
    );
    assert!(third.contains("It waited"), "{third}");
}

#[tokio::test]
async fn an_unknown_plan_is_named() {
    let app = spawn().await;
    let unknown = shown(&reply_to(&app, "plan no-such-plan-at-all 5 10", 1).await);
    assert!(
        unknown.contains("No usage plan has the id or name `no-such-plan-at-all`"),
        "{unknown}"
    );
}

/// The plan's tags as GetUsagePlan returns them (where a timed change keeps its record).
async fn plan_tags(plan: &str) -> std::collections::HashMap<String, String> {
    aws()
        .await
        .get_usage_plan()
        .usage_plan_id(plan)
        .send()
        .await
        .expect("get usage plan")
        .tags()
        .cloned()
        .unwrap_or_default()
}

/// Waits for the audit notice that contains `needle`.
async fn notice_with(app: &TestApp, needle: &str) -> String {
    let mut seen = 1;
    loop {
        let notices = app.slack.wait_for("/webhook", seen).await;
        if let Some(found) = notices.iter().map(shown).find(|t| t.contains(needle)) {
            return found;
        }
        seen = notices.len() + 1;
    }
}

#[tokio::test]
async fn a_timed_plan_change_records_itself_on_the_plan_and_puts_the_values_back_at_its_end() {
    let app = spawn().await;
    let name = unique("timed-gold");
    let plan = create_usage_plan(&name, &[], Some((100.0, 200))).await;

    let changed = shown(&reply_to(&app, &format!("plan {name} 5 10 for 2s"), 1).await);

    assert!(
        changed.contains("100 req/s, burst 200 → 5 req/s, burst 10")
            && changed.contains("<!date^")
            && changed.contains("then 100 req/s, burst 200"),
        "says when it ends and what comes back: {changed}"
    );
    assert_eq!(plan_throttles(&plan).await.0, Some((5.0, 10)));
    let view = shown(&reply_to(&app, &format!("show plan {plan}"), 2).await);
    assert!(
        view.contains("Plan-wide: timed 5 req/s, burst 10") && view.contains("<@U"),
        "show lists it, with who set it: {view}"
    );
    let record = plan_tags(&plan).await["throttle-bot:plan"].clone();
    assert!(
        record.contains("set=5/10")
            && record.contains("restore=100/200")
            && record.contains(" mac="),
        "a sealed record on the plan: {record}"
    );

    let ended = notice_with(&app, "ended").await;
    assert!(
        ended.contains(&plan) && ended.contains("100 req/s, burst 200"),
        "{ended}"
    );
    assert_eq!(plan_throttles(&plan).await.0, Some((100.0, 200)));
    assert!(
        !plan_tags(&plan)
            .await
            .keys()
            .any(|k| k.starts_with("throttle-bot:")),
        "its record is removed"
    );
}

#[tokio::test]
async fn a_hand_written_plan_record_is_shown_and_never_acted_on() {
    let name = unique("forged-gold");
    let plan = create_usage_plan(&name, &[], Some((100.0, 200))).await;
    // Anyone who may tag the plan could write this: a record whose end removes its throttle.
    aws()
        .await
        .tag_resource()
        .resource_arn(format!("arn:aws:apigateway:us-east-1::/usageplans/{plan}"))
        .tags(
            "throttle-bot:plan",
            "set=100/200 restore=-/- since=1 until=2 by=U0VICTIM",
        )
        .send()
        .await
        .unwrap();
    let app = spawn().await;

    let view = shown(&reply_to(&app, &format!("show plan {plan}"), 1).await);
    assert!(view.contains("not made by throttle-bot"), "{view}");
    let alert = notice_with(&app, "Not made by throttle-bot").await;
    assert!(
        alert.contains(&plan) && alert.contains("restore=-/-"),
        "one alert says what was found where: {alert}"
    );
    let restore = shown(&reply_to(&app, &format!("restore plan {plan}"), 2).await);
    assert!(restore.contains("No timed change is in force"), "{restore}");
    assert_eq!(plan_throttles(&plan).await.0, Some((100.0, 200)));
}

#[tokio::test]
async fn undo_puts_a_plans_values_back_only_while_the_plan_holds_what_its_message_showed() {
    let app = spawn().await;
    let name = unique("undone");
    let plan = create_usage_plan(&name, &[], Some((100.0, 200))).await;
    let changed = reply_to(&app, &format!("plan {name} 5 10"), 1).await;

    app.press(&changed, "Undo", "U0OTHER01").await;
    let undone = shown(&app.slack.wait_for("/actions", 1).await[0]);

    assert!(
        undone.contains("<@U0OTHER01> undid a change to"),
        "{undone}"
    );
    assert!(
        undone.contains("5 req/s, burst 10 → 100 req/s, burst 200"),
        "{undone}"
    );
    assert_eq!(plan_throttles(&plan).await.0, Some((100.0, 200)));

    // The same Undo again: the plan no longer holds what its message showed.
    app.press(&changed, "Undo", USER).await;
    let again = shown(&app.slack.wait_for("/actions", 2).await[1]);
    assert!(again.contains("changed since it was read"), "{again}");
    assert_eq!(plan_throttles(&plan).await.0, Some((100.0, 200)));
}

#[tokio::test]
async fn a_rules_preview_and_approval_apply_to_plans_as_to_stages() {
    let policy = "[[rule]]\nname = \"stages\"\nusers = [\"*\"]\napis = [\"*\"]\nstages = [\"*\"]\n\n[[rule]]\nname = \"careful\"\nusers = [\"*\"]\nplans = [\"careful-*\"]\nconfirm = true\n\n[[rule]]\nname = \"four eyes\"\nusers = [\"*\"]\nplans = [\"eyes-*\"]\napprovers = [\"U0LEAD0001\"]\n";
    let app = TestApp::spawn_with(with_env(vec![
        ("THROTTLE_POLICY", String::new()),
        ("THROTTLE_POLICY_TOML", policy.to_owned()),
    ]))
    .await;
    let careful = unique("careful");
    let careful_id = create_usage_plan(&careful, &[], Some((10.0, 20))).await;
    let eyes = unique("eyes");
    let eyes_id = create_usage_plan(&eyes, &[], Some((10.0, 20))).await;

    let preview = reply_to(&app, &format!("plan {careful} 5 10"), 1).await;
    assert!(shown(&preview).contains("Confirm this change"), "{preview}");
    assert_eq!(
        plan_throttles(&careful_id).await.0,
        Some((10.0, 20)),
        "not yet"
    );
    app.press(&preview, "Apply", USER).await;
    let posts = app.slack.wait_for("/actions", 2).await;
    let applied = shown(&posts[0]);
    assert!(
        applied.contains("10 req/s, burst 20 → 5 req/s, burst 10"),
        "{applied}"
    );
    assert_eq!(
        posts[1]["delete_original"], true,
        "the preview goes once applied"
    );
    assert_eq!(plan_throttles(&careful_id).await.0, Some((5.0, 10)));

    let request = reply_to(&app, &format!("plan {eyes} 5 10"), 2).await;
    assert_eq!(request["response_type"], "in_channel");
    assert!(shown(&request).contains("Approval needed"), "{request}");
    app.press(&request, "Approve", USER).await;
    let refused = app.slack.wait_for("/actions", 3).await[2].clone();
    assert!(shown(&refused).contains("cannot also approve"), "{refused}");
    assert_ne!(
        refused["replace_original"], true,
        "the request stays for the approvers"
    );
    app.press(&request, "Approve", "U0LEAD0001").await;
    let approved = app.slack.wait_for("/actions", 4).await[3].clone();
    assert!(
        shown(&approved).contains("→ 5 req/s, burst 10"),
        "{approved}"
    );
    assert_eq!(
        approved["replace_original"], true,
        "in place of the request"
    );
    assert_eq!(plan_throttles(&eyes_id).await.0, Some((5.0, 10)));
}

#[tokio::test]
async fn a_captured_plan_change_played_again_changes_nothing() {
    let app = spawn().await;
    let name = unique("replayed");
    let plan = create_usage_plan(&name, &[], Some((10.0, 20))).await;
    let body = app.command_form(&format!("plan {name} 5 10")).into_bytes();
    let at = now().to_string();
    let signature = sign(SIGNING_SECRET, &at, &body);
    app.post_with(body.clone(), Some(&at), Some(&signature))
        .await;
    app.slack.wait_for("/reply", 1).await;
    set_plan_throttle(&plan, 30.0, 60).await;

    let replayed = app.post_with(body, Some(&at), Some(&signature)).await;

    let text = shown(&replayed.json().await.unwrap());
    assert!(text.contains("already received"), "{text}");
    assert_eq!(
        plan_throttles(&plan).await.0,
        Some((30.0, 60)),
        "not reverted"
    );
}

#[tokio::test]
async fn a_captured_extend_or_restore_plan_played_again_does_nothing_more() {
    let app = spawn().await;
    let name = unique("replayed-timed");
    let plan = create_usage_plan(&name, &[], Some((100.0, 200))).await;
    reply_to(&app, &format!("plan {name} 5 10 for 10m"), 1).await;
    let until = || async {
        let record = plan_tags(&plan).await["throttle-bot:plan"].clone();
        let until = record.split(' ').find_map(|f| f.strip_prefix("until="));
        until.unwrap().parse::<i64>().unwrap()
    };
    let first_until = until().await;
    let capture = |text: &str| {
        let body = app.command_form(text).into_bytes();
        let at = now().to_string();
        let signature = sign(SIGNING_SECRET, &at, &body);
        (body, at, signature)
    };
    let replayed = |(body, at, signature): (Vec<u8>, String, String)| {
        let app = &app;
        async move {
            let answer = app.post_with(body, Some(&at), Some(&signature)).await;
            shown(&answer.json().await.unwrap())
        }
    };

    let extend = capture(&format!("extend plan {name} 30m"));
    replayed(extend.clone()).await;
    app.slack.wait_for("/reply", 2).await;
    for _ in 0..2 {
        let text = replayed(extend.clone()).await;
        assert!(text.contains("already received"), "{text}");
    }
    assert_eq!(until().await, first_until + 1800, "extended once");

    let restore = capture(&format!("restore plan {name}"));
    replayed(restore.clone()).await;
    app.slack.wait_for("/reply", 3).await;
    assert_eq!(plan_throttles(&plan).await.0, Some((100.0, 200)));
    reply_to(&app, &format!("plan {name} 7 14 for 10m"), 4).await;
    // Played again over the newer timed change, it must not end that one.
    let text = replayed(restore).await;
    assert!(text.contains("already received"), "{text}");

    let app = app.stop().await;
    assert_eq!(plan_throttles(&plan).await.0, Some((7.0, 14)));
    assert_eq!(
        app.slack.posts_to("/reply").len(),
        4,
        "no post for a replay"
    );
}
