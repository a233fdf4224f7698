use super::*;
use crate::core::grammar::{Request, parse_text};
use crate::domain::{ApiId, ApiRef, ResolvedApi, TargetAlias};

const POLICY: &str = r#"
team_id = "T1DC2JH3J"

[[rule]]
name = "ops tune test"
users = ["*"]
channels = ["C0123ABC"]
apis = ["*"]
stages = ["test", "dev-*"]
max_rate = 1000
max_burst = 2000

[[rule]]
name = "SRE prod"
users = ["U2CERLKJA"]
apis = ["petstore", "a1b2c3d4e5"]
stages = ["prod"]
min_rate = 1
max_rate = 5000
max_burst = 5000
"#;

fn policy() -> Policy {
    parse("test", POLICY).unwrap()
}

fn change(text: &str) -> ThrottleChange {
    let Ok(Request::Change(change)) = parse_text(text) else {
        panic!("{text}")
    };
    change
}

fn user(user: &str, channel: Option<&str>, team: &str) -> ChatUser {
    ChatUser {
        user: ChatId::parse(user).unwrap(),
        channel: channel.map(|c| ChatId::parse(c).unwrap()),
        team: ChatId::parse(team),
        command: "/throttle".to_owned(),
    }
}

fn resolved(id: &str, name: Option<&str>) -> ResolvedApi {
    ResolvedApi {
        kind: Default::default(),
        id: ApiId::parse(id).unwrap(),
        name: name.map(str::to_owned),
    }
}

/// The decision as the service makes it: on the resolved API.
fn decide(who: &str, channel: &str, api: &ResolvedApi, text: &str) -> Result<String, String> {
    policy()
        .decide(
            &user(who, Some(channel), "T1DC2JH3J"),
            ApiIdentity::Resolved(api),
            &change(text),
        )
        .map(|allowed| allowed.rule)
        .map_err(|denial| denial.to_string())
}

#[test]
fn decisions_on_a_resolved_api() {
    let petstore = resolved("a1b2c3d4e5", Some("petstore"));
    let orders = resolved("zzzzzzzzzz", Some("orders"));
    let unnamed = resolved("zzzzzzzzzz", None);
    let petstore_elsewhere = resolved("bbbbbbbbbb", Some("petstore"));
    let petstore_unnamed = resolved("a1b2c3d4e5", None);
    // (user, channel, api, command, rule that allows it, or a piece of the reason)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a ResolvedApi,
        &'a str,
        Result<&'a str, &'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "U999",
            "C0123ABC",
            &orders,
            "x prod0 0 0",
            Err("no rule lets user U999 in channel C0123ABC change stage prod0"),
        ),
        (
            "U999",
            "C0123ABC",
            &orders,
            "x dev-2 500 1000",
            Ok("ops tune test"),
        ),
        (
            "U999",
            "C0123ABC",
            &orders,
            "x dev- 1000 2000",
            Ok("ops tune test"),
        ),
        (
            "U999",
            "C0123ABC",
            &orders,
            "x development 1 1",
            Err("change stage development"),
        ),
        (
            "U999",
            "C9",
            &orders,
            "x test 5 5",
            Err("no rule lets user U999 in channel C9 change stage test"),
        ),
        (
            "U999",
            "C0123ABC",
            &petstore,
            "x prod 5 5",
            Err("change stage prod"),
        ),
        ("U2CERLKJA", "C9", &petstore, "x prod 1 10", Ok("SRE prod")),
        (
            "U2CERLKJA",
            "C9",
            &petstore,
            "x prod 5000 5000",
            Ok("SRE prod"),
        ),
        // Matched by name when the rule names it, by id when the rule gives the id.
        (
            "U2CERLKJA",
            "C9",
            &petstore_elsewhere,
            "x prod 5 5",
            Ok("SRE prod"),
        ),
        (
            "U2CERLKJA",
            "C9",
            &petstore_unnamed,
            "x prod 5 5",
            Ok("SRE prod"),
        ),
        (
            "U2CERLKJA",
            "C9",
            &orders,
            "x prod 5 5",
            Err("no rule lets user U2CERLKJA in channel C9 change API zzzzzzzzzz stage prod"),
        ),
        (
            "U2CERLKJA",
            "C9",
            &unnamed,
            "x prod 5 5",
            Err("change API zzzzzzzzzz stage prod"),
        ),
        (
            "U2CERLKJA",
            "C9",
            &petstore,
            "x prod 0 10",
            Err("rate 0 is below the minimum (allowed 1–5000 req/s) (rule \"SRE prod\")"),
        ),
        (
            "U2CERLKJA",
            "C9",
            &petstore,
            "x prod 5000.5 10",
            Err("rate 5000.5 is above the maximum (allowed 1–5000 req/s)"),
        ),
        (
            "U2CERLKJA",
            "C9",
            &petstore,
            "x prod 10 5001",
            Err("burst 5001 is above the maximum (allowed 0–5000)"),
        ),
        (
            "U999",
            "C0123ABC",
            &orders,
            "x test 1000.1 1",
            Err("rate 1000.1 is above the maximum (allowed 0–1000 req/s)"),
        ),
        (
            "U999",
            "C0123ABC",
            &orders,
            "x test 1 2001",
            Err("burst 2001 is above the maximum (allowed 0–2000)"),
        ),
        (
            "U2CERLKJA",
            "C9",
            &petstore,
            "reset x prod",
            Err(
                "reset lifts this level's limit, but the rule caps it (rate 1–5000, burst at most 5000)",
            ),
        ),
        (
            "U2CERLKJA",
            "C9",
            &petstore,
            "x prod 10 10 GET /pets",
            Ok("SRE prod"),
        ),
    ];
    for (who, channel, api, text, expected) in cases {
        let got = decide(who, channel, api, text);
        match (expected, &got) {
            (Ok(rule), Ok(allowed)) => assert_eq!(allowed, rule, "{who} {text}"),
            (Err(piece), Err(reason)) => assert!(reason.contains(piece), "{who} {text}: {reason}"),
            _ => panic!("{who} {channel} {text}: expected {expected:?}, got {got:?}"),
        }
    }
}

#[test]
fn every_rule_that_refuses_the_values_is_named() {
    let policy = parse(
        "t",
        r#"
[[rule]]
name = "low"
users = ["*"]
apis = ["*"]
stages = ["prod"]
max_rate = 10
[[rule]]
name = "high"
users = ["*"]
apis = ["*"]
stages = ["prod"]
min_rate = 100
"#,
    )
    .unwrap();
    let who = user("U1", None, "T1");
    let Err(Denial::OutOfBounds(breaches)) = policy.decide(
        &who,
        ApiIdentity::Resolved(&resolved("a1b2c3d4e5", None)),
        &change("x prod 50 1"),
    ) else {
        panic!("expected a bounds refusal")
    };
    let rules: Vec<&str> = breaches.iter().map(|b| b.rule.as_str()).collect();
    assert_eq!(rules, ["low", "high"]);
    assert!(matches!(breaches[0].bound, Bound::RateAbove { .. }));
    assert!(matches!(breaches[1].bound, Bound::RateBelow { .. }));
}

#[test]
fn screening_refuses_only_what_no_api_could_allow() {
    // (user, channel, command, refused at once?)
    for (who, channel, text, refused) in [
        ("U999", "C9", "x test 5 5", true),
        ("U999", "C0123ABC", "x test 5 5", false),
        ("U999", "C0123ABC", "x test 1001 5", true),
        ("U2CERLKJA", "C9", "orders prod 5 5", false),
        ("U2CERLKJA", "C9", "petstore prod 0 5", true),
        ("U2CERLKJA", "C9", "reset petstore prod", true),
    ] {
        let result = policy().screen(&user(who, Some(channel), "T1DC2JH3J"), &change(text));
        assert_eq!(
            result.is_err(),
            refused,
            "{who} {channel} {text}: {result:?}"
        );
    }
}

#[test]
fn another_workspace_or_none_is_refused_when_a_team_is_set() {
    let policy = policy();
    for team in ["TOTHER", ""] {
        let who = user("U2CERLKJA", Some("C0123ABC"), team);
        let denial = policy
            .screen(&who, &change("petstore test 5 5"))
            .unwrap_err();
        assert_eq!(
            denial,
            Denial::ForeignWorkspace {
                allowed: ChatId::parse("T1DC2JH3J").unwrap()
            }
        );
        assert!(denial.to_string().contains("workspace T1DC2JH3J"));
    }
    let open = parse(
        "t",
        "[[rule]]\nusers=[\"*\"]\napis=[\"*\"]\nstages=[\"*\"]\n",
    )
    .unwrap();
    assert!(open.admits_team(None).is_ok());
}

#[test]
fn a_rule_without_channels_admits_direct_messages_and_one_with_channels_does_not() {
    let who = user("U999", None, "T1DC2JH3J");
    assert!(policy().screen(&who, &change("x test 1 1")).is_err());
    let open = parse(
        "t",
        "[[rule]]\nusers=[\"U999\"]\napis=[\"*\"]\nstages=[\"*\"]\n",
    )
    .unwrap();
    assert!(open.screen(&who, &change("x test 1 1")).is_ok());
    let any = parse(
        "t",
        "[[rule]]\nusers=[\"U999\"]\nchannels=[\"*\"]\napis=[\"*\"]\nstages=[\"*\"]\n",
    )
    .unwrap();
    assert!(any.screen(&who, &change("x test 1 1")).is_ok());
}

#[test]
fn names_are_needed_only_when_a_rule_names_apis() {
    assert!(policy().names_apis());
    let any = parse(
        "t",
        "[[rule]]\nusers=[\"*\"]\napis=[\"*\"]\nstages=[\"*\"]\n",
    )
    .unwrap();
    assert!(!any.names_apis());
}

#[test]
fn as_typed_the_api_is_judged_by_its_text_only() {
    let who = user("U2CERLKJA", Some("C9"), "T1DC2JH3J");
    let typed = ApiRef::parse("petstore").unwrap();
    assert_eq!(
        policy()
            .decide(
                &who,
                ApiIdentity::AsTyped(&typed),
                &change("petstore prod 5 5")
            )
            .map(|allowed| allowed.rule),
        Ok("SRE prod".to_owned())
    );
    let other = ApiRef::parse("orders").unwrap();
    assert!(
        policy()
            .decide(
                &who,
                ApiIdentity::AsTyped(&other),
                &change("orders prod 5 5")
            )
            .is_err()
    );
}

#[test]
fn the_policy_reads_as_plain_words() {
    let lines = policy().describe();
    assert_eq!(
        lines[0],
        "Only commands from workspace T1DC2JH3J are accepted."
    );
    assert_eq!(
        lines[1],
        "`show` and API names are open to everyone in the workspace (no `readers`)."
    );
    assert_eq!(
        lines[2],
        "Rule 1 \"ops tune test\": anyone in C0123ABC may change any API, test or dev-*; rate at most 1000, burst at most 2000"
    );
    assert_eq!(
        lines[3],
        "Rule 2 \"SRE prod\": U2CERLKJA in any channel may change petstore or a1b2c3d4e5, prod; rate 1–5000, burst at most 5000"
    );
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("Any other change is denied")
    );
}

#[test]
fn bounds_for_each_value_and_resets() {
    let policy = parse(
        "t",
        r#"
[[rule]]
name = "floors"
users = ["*"]
apis = ["*"]
stages = ["floors"]
min_rate = 2
min_burst = 3
[[rule]]
name = "burst cap"
users = ["*"]
apis = ["*"]
stages = ["capped"]
max_burst = 10
[[rule]]
name = "open"
users = ["*"]
apis = ["*"]
stages = ["open"]
[[rule]]
name = "rate floor only"
users = ["*"]
apis = ["*"]
stages = ["rate-floor"]
min_rate = 1
[[rule]]
name = "zero floor"
users = ["*"]
apis = ["*"]
stages = ["zero-floor"]
min_rate = 0
"#,
    )
    .unwrap();
    let who = user("U1", None, "T1");
    let api = resolved("a1b2c3d4e5", None);
    let decide = |text: &str| {
        policy
            .decide(&who, ApiIdentity::Resolved(&api), &change(text))
            .map(|allowed| allowed.rule)
            .map_err(|d| d.to_string())
    };
    // (command, allowed, or a piece of the reason)
    for (text, expected) in [
        ("x floors 2 3", Ok("floors")),
        (
            "x floors 1.9 3",
            Err("rate 1.9 is below the minimum (allowed 2–any req/s)"),
        ),
        (
            "x floors 2 2",
            Err("burst 2 is below the minimum (allowed 3–any)"),
        ),
        ("x floors 100 100", Ok("floors")),
        ("x capped 5 0", Ok("burst cap")),
        ("reset x floors", Ok("floors")),
        ("x capped 1000 10", Ok("burst cap")),
        (
            "x capped 1 11",
            Err("burst 11 is above the maximum (allowed 0–10)"),
        ),
        (
            "reset x capped",
            Err(
                "reset lifts this level's limit, but the rule caps it (any rate, burst at most 10)",
            ),
        ),
        ("reset x open", Ok("open")),
        ("reset x open GET /pets", Ok("open")),
        // A floor on the rate alone still forbids the burst 0 that blocks everything.
        ("x rate-floor 5 1", Ok("rate floor only")),
        (
            "x rate-floor 5 0",
            Err("burst 0 lets no request through, and the rule's minimum rate (1 req/s)"),
        ),
        // A floor of 0 allows blocking.
        ("x zero-floor 0 0", Ok("zero floor")),
        ("x zero-floor 5 0", Ok("zero floor")),
    ] {
        match (expected, decide(text)) {
            (Ok(rule), Ok(got)) => assert_eq!(got, rule, "{text}"),
            (Err(piece), Err(reason)) => assert!(reason.contains(piece), "{text}: {reason}"),
            (expected, got) => panic!("{text}: expected {expected:?}, got {got:?}"),
        }
    }
}

#[test]
fn the_policy_comes_from_a_file_or_inline_text_but_not_both() {
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(PolicySource::from_settings(None, None).unwrap(), None);
    assert_eq!(
        PolicySource::from_settings(some(" "), some("")).unwrap(),
        None
    );
    assert_eq!(
        PolicySource::from_settings(some("p.toml"), None).unwrap(),
        Some(PolicySource::File("p.toml".into()))
    );
    assert_eq!(
        PolicySource::from_settings(None, some("[[rule]]")).unwrap(),
        Some(PolicySource::Inline("[[rule]]".to_owned()))
    );
    assert_eq!(
        PolicySource::from_settings(some("allow-all"), None).unwrap(),
        Some(PolicySource::AllowAll)
    );
    let both = PolicySource::from_settings(some("p.toml"), some("[[rule]]")).unwrap_err();
    assert!(both.to_string().contains("not both"), "{both}");
}

#[test]
fn a_reload_swaps_in_a_good_file_and_keeps_the_old_policy_for_a_bad_one() {
    let path = std::env::temp_dir().join(format!("policy-reload-{}.toml", std::process::id()));
    let rule = "[[rule]]\nusers=[\"*\"]\napis=[\"*\"]\nstages=[\"*\"]\n";
    std::fs::write(&path, rule).unwrap();
    let handle = PolicyHandle::load(Some(PolicySource::File(path.clone()))).unwrap();
    assert_eq!(handle.current().unwrap().rules.len(), 1);

    std::fs::write(&path, format!("{rule}{rule}")).unwrap();
    assert_eq!(handle.reload().unwrap(), 2);
    assert_eq!(handle.current().unwrap().rules.len(), 2);

    std::fs::write(&path, "[[rule]]\n").unwrap();
    assert!(matches!(handle.reload(), Err(ReloadError::Invalid(_))));
    assert_eq!(
        handle.current().unwrap().rules.len(),
        2,
        "the old policy stays"
    );
    std::fs::remove_file(&path).unwrap();

    let inline = PolicyHandle::load(Some(PolicySource::Inline(rule.to_owned()))).unwrap();
    assert!(matches!(inline.reload(), Err(ReloadError::Inline)));
    assert!(matches!(
        PolicyHandle::none().reload(),
        Err(ReloadError::NoFile)
    ));
    let open = PolicyHandle::load(Some(PolicySource::AllowAll)).unwrap();
    assert!(open.current().is_none() && open.is_configured());
    // Nothing given is not a policy: `serve` refuses to start without one.
    assert!(!PolicyHandle::none().is_configured());
    assert!(!PolicyHandle::load(None).unwrap().is_configured());
    assert!(matches!(open.reload(), Err(ReloadError::AllowAll)));
}

#[test]
fn readers_are_users_or_channels_and_everyone_without_the_key() {
    let policy = parse(
        "t",
        "readers = [\"U0READER\", \"C0OPS\"]\n[[rule]]\nusers=[\"*\"]\napis=[\"*\"]\nstages=[\"*\"]\n",
    )
    .unwrap();
    // (user, channel, may read)
    for (who, channel, allowed) in [
        ("U0READER", Some("C9"), true),
        ("U0READER", None, true),
        ("U0OTHER", Some("C0OPS"), true),
        ("U0OTHER", Some("C9"), false),
        ("U0OTHER", None, false),
    ] {
        let result = policy.may_read(&user(who, channel, "T1"));
        assert_eq!(result.is_ok(), allowed, "{who} {channel:?}");
    }
    let denial = policy
        .may_read(&user("U0OTHER", Some("C9"), "T1"))
        .unwrap_err();
    assert!(
        denial.to_string().contains("not in the policy's readers"),
        "{denial}"
    );
    assert!(
        self::policy()
            .may_read(&user("U0ANY", None, "T1DC2JH3J"))
            .is_ok()
    );
    let bad = parse("t", "readers = [\"alice\"]\n").unwrap_err();
    assert!(
        bad.reason.contains("not a Slack user or channel id"),
        "{bad}"
    );
    assert_eq!(bad.line, 1);
}

#[test]
fn rules_may_ask_for_confirmation_approval_and_break_glass() {
    let policy = parse(
        "t",
        r#"
[[rule]]
name = "prod needs a second pair of eyes"
users = ["U1"]
apis = ["*"]
stages = ["prod"]
confirm = true
approvers = ["U2", "U3"]
break_glass = true
"#,
    )
    .unwrap();
    let allowed = policy
        .decide(
            &user("U1", None, "T1"),
            ApiIdentity::Resolved(&resolved("a1b2c3d4e5", None)),
            &change("x prod 5 5"),
        )
        .unwrap();
    assert!(allowed.confirm && allowed.break_glass);
    let approvers: Vec<&str> = allowed.approvers.iter().map(ChatId::as_str).collect();
    assert_eq!(approvers, ["U2", "U3"]);
    assert!(
        policy.describe()[2].contains("approved by one of U2, U3 (or applied at once with --now")
    );

    for (text, reason) in [
        ("approvers = [\"C0OPS\"]", "not a Slack user id"),
        ("approvers = [\"*\"]", "not a Slack user id"),
        ("approvers = []", "`approvers` is empty"),
        ("break_glass = true", "needs `approvers`"),
        ("confirm = \"yes\"", "invalid type"),
    ] {
        let rule = format!("[[rule]]\nusers=[\"*\"]\napis=[\"*\"]\nstages=[\"*\"]\n{text}\n");
        let error = parse("t", &rule).unwrap_err();
        assert!(error.reason.contains(reason), "{text}: {error}");
    }
}

#[test]
fn every_rule_that_admits_a_change_applies_its_conditions() {
    let policy = parse(
        "t",
        r#"
[[rule]]
name = "on-call anywhere"
users = ["U1"]
apis = ["*"]
stages = ["*"]

[[rule]]
name = "prod needs approval"
users = ["*"]
apis = ["*"]
stages = ["prod"]
confirm = true
approvers = ["U2", "U3"]

[[rule]]
name = "payments prod"
users = ["*"]
apis = ["payments"]
stages = ["prod"]
approvers = ["U3", "U4"]
break_glass = true
"#,
    )
    .unwrap();
    let decide = |api: &str, text: &str| {
        policy.decide(
            &user("U1", None, "T1"),
            ApiIdentity::Resolved(&resolved("a1b2c3d4e5", Some(api))),
            &change(text),
        )
    };
    // The first rule in the file no longer waives the second's approvers or confirmation.
    let orders = decide("orders", "x prod 5 5").unwrap();
    let approvers: Vec<&str> = orders.approvers.iter().map(ChatId::as_str).collect();
    assert_eq!(approvers, ["U2", "U3"]);
    assert!(orders.confirm && !orders.break_glass);
    assert_eq!(orders.rule, "on-call anywhere + prod needs approval");
    // Approval by someone every gated rule names; break glass only if each of them grants it.
    let payments = decide("payments", "x prod 5 5").unwrap();
    let approvers: Vec<&str> = payments.approvers.iter().map(ChatId::as_str).collect();
    assert_eq!(approvers, ["U3"]);
    assert!(
        !payments.break_glass,
        "only one of the two gated rules grants it"
    );
    // Where no rule asks for anything, nothing is asked.
    let test = decide("orders", "x test 5 5").unwrap();
    assert!(test.approvers.is_empty() && !test.confirm);

    let disjoint = parse(
        "t",
        "[[rule]]\nname = \"a\"\nusers = [\"*\"]\napis = [\"*\"]\nstages = [\"*\"]\napprovers = [\"U2\"]\n\n[[rule]]\nname = \"b\"\nusers = [\"*\"]\napis = [\"*\"]\nstages = [\"*\"]\napprovers = [\"U3\"]\n",
    )
    .unwrap();
    let refused = disjoint
        .decide(
            &user("U1", None, "T1"),
            ApiIdentity::Resolved(&resolved("a1b2c3d4e5", None)),
            &change("x prod 5 5"),
        )
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("no one is an approver under all of them"),
        "{refused}"
    );
}

#[test]
fn a_sweep_reaches_only_the_apis_some_rule_names() {
    let named = parse(
        "t",
        "[[rule]]\nusers = [\"*\"]\napis = [\"orders-*\", \"a1b2c3d4e5\"]\nstages = [\"*\"]\n",
    )
    .unwrap();
    assert!(named.reaches(None, &["z9z9z9z9z9", "orders-eu"]));
    assert!(named.reaches(None, &["a1b2c3d4e5"]));
    assert!(!named.reaches(None, &["z9z9z9z9z9", "payments"]));
    assert!(!named.reaches(None, &["z9z9z9z9z9"]));
    let any = parse(
        "t",
        "[[rule]]\nusers = [\"U1\"]\napis = [\"*\"]\nstages = [\"prod\"]\n",
    )
    .unwrap();
    assert!(any.reaches(None, &["z9z9z9z9z9"]));
    // No rule lists plans: the sweep reads none.
    assert!(!any.reaches_plan(None, &["abc123", "gold"]));
}

#[test]
fn a_sweep_reaches_only_the_plans_some_rule_lists_in_its_targets() {
    let plans = parse(
        "t",
        "[[rule]]\nusers = [\"*\"]\nplans = [\"gold\"]\n\n[[rule]]\nusers = [\"*\"]\ntargets = [\"prod\"]\nplans = [\"*\"]\n",
    )
    .unwrap();
    // By name or id, in the rule's targets only.
    assert!(plans.reaches_plan(None, &["abc123", "gold"]));
    assert!(!plans.reaches_plan(None, &["abc123", "silver"]));
    let prod = crate::domain::TargetAlias::parse("prod").unwrap();
    assert!(plans.reaches_plan(prod.as_ref(), &["def456", "silver"]));
    let staging = crate::domain::TargetAlias::parse("staging").unwrap();
    assert!(!plans.reaches_plan(staging.as_ref(), &["abc123", "gold"]));
}

mod targets;
