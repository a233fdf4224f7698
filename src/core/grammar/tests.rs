//! The grammar: every command's words, and the messages for words that are not one.

use super::*;
use crate::domain::PlanRef;

fn change(text: &str) -> ThrottleChange {
    match parse_text(text) {
        Ok(Request::Change(change)) => change,
        other => panic!("{text}: expected a change, got {other:?}"),
    }
}

#[test]
fn a_partial_wildcard_is_refused_and_both_wildcards_are_the_stage() {
    for text in [
        "petstore prod 10 20 * /pets",
        "petstore prod 10 20 GET *",
        "reset petstore prod * /pets",
        "plan gold a1b2c3d4e5 prod 5 10 GET *",
        "plan gold a1b2c3d4e5 prod 5 10 * *",
    ] {
        let refused = parse_text(text).expect_err(text).to_string();
        assert!(refused.contains("partial wildcard"), "{text}: {refused}");
    }
    assert_eq!(change("petstore prod 10 20 * *").level, Level::Stage);
}

#[test]
fn usage_plans_have_their_own_words() {
    let plan = |text: &str| match parse_text(text) {
        Ok(Request::Plan(request)) => request,
        other => panic!("{text}: {other:?}"),
    };
    let PlanRequest::Change(own) = plan("plan gold 5 10") else {
        panic!()
    };
    assert_eq!((own.plan.bare(), &own.level), ("gold", &PlanLevel::Plan));
    assert!(matches!(own.action, Action::Set(l) if l.rate.value() == 5.0 && l.burst.value() == 10));
    let PlanRequest::Change(method) = plan("PLAN prod:gold a1b2c3d4e5 live 1 2 get /pets") else {
        panic!()
    };
    assert_eq!(method.plan.to_string(), "prod:gold");
    assert_eq!(method.level.to_string(), "a1b2c3d4e5 live GET /pets");
    let PlanRequest::Change(reset) = plan("reset plan gold a1b2c3d4e5 live GET /pets") else {
        panic!()
    };
    assert_eq!(reset.action, Action::Reset);
    assert!(
        matches!(plan("reset plan gold"), PlanRequest::Change(c) if c.level == PlanLevel::Plan && c.action == Action::Reset)
    );
    assert_eq!(
        plan("show plan prod:gold"),
        PlanRequest::Show(PlanRef::parse("prod:gold").unwrap())
    );
    for (text, expected) in [
        (
            "plan gold a1b2c3d4e5 live 1 2",
            TextError::PlanStageNeedsMethod,
        ),
        (
            "reset plan gold a1b2c3d4e5 live",
            TextError::PlanStageNeedsMethod,
        ),
        ("plan gold 5", TextError::PlanUsage),
        ("plan", TextError::PlanUsage),
        ("show plan", TextError::PlanShowUsage),
        ("show plan gold extra", TextError::PlanShowUsage),
        ("reset plan", TextError::PlanResetUsage),
        ("reset plan gold a1b2c3d4e5", TextError::PlanResetUsage),
        ("reset plan gold for 30m", TextError::ForUsage),
        (
            "restore plan gold a1b2c3d4e5 live",
            TextError::PlanRestoreUsage,
        ),
        ("extend plan gold", TextError::PlanExtendUsage),
    ] {
        assert_eq!(parse_text(text), Err(expected), "{text}");
    }
    assert!(matches!(
        parse_text("plan gold petstore live 1 2 GET /pets"),
        Err(TextError::PlanApiById(_))
    ));
    for text in [
        "plan prod:gold 5.5 10",
        "plan gold a1b2c3d4e5 live 1 2 GET /pets/{id}",
        "plan gold 1 2 for 1h30m",
        "plan gold a1b2c3d4e5 live 1 2 GET /pets for 10m",
        "reset plan gold",
        "reset plan abc123 a1b2c3d4e5 live POST /",
    ] {
        let PlanRequest::Change(change) = plan(text) else {
            panic!("{text}")
        };
        assert_eq!(plan_text(&change), text);
    }
    let PlanRequest::Change(timed) = plan("plan gold 1 2 for 30m") else {
        panic!()
    };
    assert_eq!(timed.hold, Hold::parse("30m").ok());
    // A plan's timed change is extended or restored early like a stage's.
    for text in [
        "extend plan gold 30m",
        "extend plan prod:gold a1b2c3d4e5 live GET /pets 1h",
        "restore plan gold",
        "restore plan gold a1b2c3d4e5 live GET /pets",
    ] {
        let PlanRequest::Timed(request) = plan(text) else {
            panic!("{text}")
        };
        assert_eq!(plan_timed_text(&request).as_deref(), Some(text));
    }
    let PlanRequest::Timed(restore) = plan("restore plan gold") else {
        panic!()
    };
    assert_eq!(
        (restore.level, restore.kind),
        (PlanLevel::Plan, TimedKind::RestoreNow)
    );
    // An API named `plan` is typed after its target.
    assert!(matches!(
        parse_text("home:plan live 5 10"),
        Ok(Request::Change(_))
    ));
}

#[test]
fn a_target_is_named_before_the_api_and_listed_with_show() {
    let change = change("prod:petstore prod 5 10");
    assert_eq!(change.api.to_string(), "prod:petstore");
    assert_eq!(command_text(&change), "prod:petstore prod 5 10");
    assert_eq!(
        parse_text("show prod:"),
        Ok(Request::List(ListRequest {
            target: TargetAlias::parse("prod").unwrap()
        }))
    );
    assert_eq!(
        parse_text("show home:"),
        Ok(Request::List(ListRequest { target: None }))
    );
    assert!(matches!(
        parse_text("show Prod:"),
        Err(TextError::Target(TargetError::Alias(_)))
    ));
    let Ok(Request::Show(show)) = parse_text("show prod:petstore live") else {
        panic!()
    };
    assert_eq!(show.api.to_string(), "prod:petstore");
}

#[test]
fn four_values_make_a_stage_wide_change() {
    let change = change("  a1b2c3d4e5   prod 0.5  100 ");
    assert_eq!(change.api.to_string(), "a1b2c3d4e5");
    assert!(matches!(change.api, ApiRef::Id(_)));
    assert_eq!(change.stage.as_str(), "prod");
    assert_eq!(change.level, Level::Stage);
    let Action::Set(limits) = change.action else {
        panic!("expected set")
    };
    assert_eq!(limits.rate.value(), 0.5);
    assert_eq!(limits.burst.value(), 100);
}

#[test]
fn a_method_and_path_make_a_per_method_change() {
    let method = change("petstore prod 10 20 get /pets/{id}");
    assert!(matches!(method.api, ApiRef::Name(_)));
    assert_eq!(method.level.to_string(), "GET /pets/{id}");
    assert_eq!(change("petstore prod 10 20 * *").level, Level::Stage);
}

#[test]
fn reset_takes_an_optional_method_and_path() {
    let stage = change("reset petstore prod");
    assert_eq!((stage.action, stage.level), (Action::Reset, Level::Stage));
    let method = change("reset a1b2c3d4e5 prod DELETE /pets");
    assert_eq!(method.level.to_string(), "DELETE /pets");
    assert_eq!(parse_text("reset petstore"), Err(TextError::ResetUsage));
    assert_eq!(
        parse_text("reset petstore prod GET"),
        Err(TextError::ResetUsage)
    );
}

#[test]
fn show_takes_an_api_and_an_optional_stage() {
    let Ok(Request::Show(all)) = parse_text("show petstore") else {
        panic!()
    };
    assert_eq!(
        (all.api.to_string(), all.stage),
        ("petstore".to_owned(), None)
    );
    let Ok(Request::Show(one)) = parse_text("SHOW petstore prod") else {
        panic!()
    };
    assert_eq!(one.stage.unwrap().as_str(), "prod");
    assert_eq!(parse_text("show"), Err(TextError::ShowUsage));
}

#[test]
fn now_asks_to_skip_approval_wherever_it_is_typed() {
    assert!(wants_break_glass("petstore prod 1 2 --now"));
    assert!(wants_break_glass("--now petstore prod 1 2"));
    assert!(!wants_break_glass("petstore prod 1 2"));
    assert_eq!(
        parse_text("petstore prod 1 2 --now"),
        parse_text("petstore prod 1 2")
    );
    let reset = change("reset petstore prod GET /pets");
    assert_eq!(command_text(&reset), "reset petstore prod GET /pets");
}

#[test]
fn for_a_duration_makes_a_change_timed() {
    let timed = change("petstore prod 10 20 GET /pets FOR 1h30m");
    assert_eq!(timed.hold, Some(Hold::parse("90m").unwrap()));
    assert_eq!(timed.level.to_string(), "GET /pets");
    assert_eq!(
        command_text(&timed),
        "petstore prod 10 20 GET /pets for 1h30m"
    );
    assert_eq!(change("petstore prod 10 20").hold, None);
    assert_eq!(
        change("petstore prod 1 2 for 90s --now")
            .hold
            .unwrap()
            .secs(),
        90
    );
    for bad in [
        "petstore prod 10 20 for",
        "petstore prod 10 20 for 1h 2",
        "for 1h",
        "reset petstore prod for 1h",
        "show petstore for 1h",
        "restore petstore prod for 1h",
    ] {
        assert_eq!(parse_text(bad), Err(TextError::ForUsage), "{bad}");
    }
    assert!(matches!(
        parse_text("petstore prod 10 20 for 1d"),
        Err(TextError::Hold(HoldError::NotADuration(_)))
    ));
    assert!(matches!(
        parse_text("petstore prod 10 20 for 0s"),
        Err(TextError::Hold(HoldError::TooShort))
    ));
}

#[test]
fn extend_and_restore_name_a_level_of_a_stage() {
    let Ok(Request::Timed(extend)) = parse_text("extend petstore prod 30m") else {
        panic!()
    };
    assert_eq!(extend.kind, TimedKind::Extend(Hold::parse("30m").unwrap()));
    assert_eq!(
        (extend.stage.as_str(), &extend.level),
        ("prod", &Level::Stage)
    );
    assert_eq!(timed_text(&extend).unwrap(), "extend petstore prod 30m");
    let Ok(Request::Timed(restore)) = parse_text("Restore a1b2c3d4e5 prod get /pets") else {
        panic!()
    };
    assert_eq!(restore.kind, TimedKind::RestoreNow);
    assert_eq!(restore.level.to_string(), "GET /pets");
    assert_eq!(
        timed_text(&restore).unwrap(),
        "restore a1b2c3d4e5 prod GET /pets"
    );
    let deadline = TimedRequest {
        kind: TimedKind::Deadline,
        ..restore
    };
    assert_eq!(timed_text(&deadline), None);
    for (bad, error) in [
        ("extend petstore prod", TextError::ExtendUsage),
        ("extend petstore prod GET 1h", TextError::ExtendUsage),
        ("restore petstore", TextError::RestoreUsage),
        ("restore petstore prod GET", TextError::RestoreUsage),
    ] {
        assert_eq!(parse_text(bad), Err(error), "{bad}");
    }
    assert!(matches!(
        parse_text("extend petstore prod soon"),
        Err(TextError::Hold(_))
    ));
}

#[test]
fn empty_text_and_help_ask_for_usage() {
    for text in ["", "   ", "help", "HELP"] {
        assert_eq!(parse_text(text), Ok(Request::Help), "{text:?}");
    }
}

#[test]
fn help_followed_by_anything_that_is_not_a_change_shows_the_usage() {
    for text in [
        "help foo",
        "help me please",
        "HELP set prod",
        "help me with this",
    ] {
        assert_eq!(parse_text(text), Ok(Request::Help), "{text:?}");
    }
}

#[test]
fn a_command_word_or_for_is_also_a_name_where_a_name_goes() {
    let set = |api: &str, stage: &str| {
        Ok(Request::Change(ThrottleChange {
            api: ApiRef::parse(api).unwrap(),
            stage: StageName::parse(stage).unwrap(),
            level: Level::Stage,
            action: Action::Set(ThrottleLimits {
                rate: RateLimit::parse("5").unwrap(),
                burst: BurstLimit::parse("10").unwrap(),
            }),
            hold: None,
        }))
    };
    // `plan` is the one word kept for its command (`plan gold 5 10` is a plan's change):
    // an API named `plan` is typed `home:plan`.
    for keyword in KEYWORDS.iter().filter(|k| **k != "plan") {
        let text = format!("{keyword} prod 5 10");
        assert_eq!(parse_text(&text), set(keyword, "prod"), "{text}");
    }
    assert_eq!(parse_text("home:plan prod 5 10"), set("plan", "prod"));
    assert_eq!(parse_text("for prod 5 10"), set("for", "prod"));
    assert_eq!(parse_text("petstore for 5 10"), set("petstore", "for"));
    assert_eq!(parse_text("petstore show 5 10"), set("petstore", "show"));
    let Ok(Request::Change(timed)) = parse_text("petstore for 5 10 for 30m") else {
        panic!("a timed change on the stage named `for`");
    };
    assert_eq!(
        (timed.stage.as_str(), timed.hold.map(|h| h.secs())),
        ("for", Some(1800))
    );
    // The command's own forms still come first.
    assert!(matches!(parse_text("show show"), Ok(Request::Show(s)) if s.api.to_string() == "show"));
    assert!(matches!(
        parse_text("extend petstore prod 30m"),
        Ok(Request::Timed(_))
    ));
    assert!(matches!(
        parse_text("reset petstore prod"),
        Ok(Request::Change(c)) if c.action == Action::Reset
    ));
    // And a change written back as text reads as the same change.
    let Ok(Request::Change(named)) = parse_text("show prod 5 10 for 1h") else {
        panic!("a timed change on the API named `show`");
    };
    assert_eq!(
        parse_text(&command_text(&named)),
        Ok(Request::Change(named))
    );
}

#[test]
fn the_wrong_number_of_values_is_named() {
    assert_eq!(
        parse_text("a1b2c3d4e5 prod 50"),
        Err(TextError::WrongCount(3))
    );
    assert_eq!(
        parse_text("a1b2c3d4e5 prod 50 100 GET"),
        Err(TextError::WrongCount(5))
    );
}

#[test]
fn each_bad_value_is_reported_by_what_was_wrong() {
    assert!(matches!(
        parse_text("a1b2c3d4e5 pr/od 50 100"),
        Err(TextError::Target(TargetError::Stage(_)))
    ));
    assert!(matches!(
        parse_text("a1b2c3d4e5 prod lots 100"),
        Err(TextError::Limit(LimitError::RateNotNumber(_)))
    ));
    assert!(matches!(
        parse_text("a1b2c3d4e5 prod 50 1.5"),
        Err(TextError::Limit(LimitError::BurstNotWhole(_)))
    ));
    assert!(matches!(
        parse_text("a1b2c3d4e5 prod 50 1 FETCH /pets"),
        Err(TextError::Target(TargetError::Method(_)))
    ));
    assert!(matches!(
        parse_text("a1b2c3d4e5 prod 50 1 GET pets"),
        Err(TextError::Target(TargetError::Path(_)))
    ));
}

#[test]
fn hidden_characters_and_backticks_are_refused_by_name_not_shown() {
    for (text, named) in [
        ("pet\u{202E}store prod 1 1", "U+202E"),
        ("pet\u{200B}store prod 1 1", "U+200B"),
        ("\u{2800} prod 1 1", "U+2800"),
        ("petstore prod 1 1\u{1b}[2J", "U+001B"),
        ("`*APPROVED*` prod 1 1", "a backtick"),
    ] {
        let error = parse_text(text).unwrap_err();
        let message = error.to_string();
        assert!(message.contains(named), "{text:?}: {message}");
        assert!(
            !message.contains(['\u{202E}', '\u{200B}', '\u{2800}', '\u{1b}']),
            "{message:?}"
        );
    }
}

#[test]
fn a_huge_value_is_echoed_short() {
    let error = parse_text(&format!("petstore prod {} 1", "9".repeat(5000))).unwrap_err();
    assert!(error.to_string().chars().count() < 200, "{error}");
    assert!(error.to_string().contains("too large"), "{error}");
}

#[test]
fn history_takes_an_api_an_optional_stage_and_an_optional_duration() {
    let history = |text: &str| match parse_text(text) {
        Ok(Request::Show(ShowRequest {
            api,
            stage,
            history: Some(lookback),
        })) => (
            api.to_string(),
            stage.map(|s| s.as_str().to_owned()),
            lookback.to_string(),
        ),
        other => panic!("{text}: expected a history, got {other:?}"),
    };
    let day = "24h".to_owned();
    assert_eq!(
        history("history petstore"),
        ("petstore".into(), None, day.clone())
    );
    assert_eq!(
        history("HISTORY prod:petstore prod"),
        ("prod:petstore".into(), Some("prod".into()), day)
    );
    assert_eq!(
        history("history petstore 7d"),
        ("petstore".into(), None, "7d".into())
    );
    assert_eq!(
        history("history petstore prod 90m"),
        ("petstore".into(), Some("prod".into()), "1h30m".into())
    );
    // A stage named like a duration is typed with a duration after it.
    assert_eq!(
        history("history petstore 30m 24h"),
        ("petstore".into(), Some("30m".into()), "24h".into())
    );
    let Ok(Request::Show(show)) = parse_text("show petstore prod") else {
        panic!()
    };
    assert_eq!(show.history, None, "`show` is the values now");
}

#[test]
fn history_refuses_more_than_ninety_days_and_other_shapes_by_name() {
    assert!(matches!(
        parse_text("history petstore prod 91d"),
        Err(TextError::Lookback(LookbackError::TooLong(_)))
    ));
    let error = parse_text("history petstore 120d").unwrap_err();
    assert!(
        error.to_string().contains("90 days") || error.to_string().contains("90d"),
        "{error}"
    );
    assert!(matches!(
        parse_text("history petstore prod soon"),
        Err(TextError::Lookback(LookbackError::NotADuration(_)))
    ));
    for text in ["history", "history petstore prod 7d extra"] {
        assert_eq!(parse_text(text), Err(TextError::HistoryUsage), "{text}");
    }
    // `history` is also a name where a name goes: a change to the API named `history`.
    assert!(matches!(
        parse_text("history prod 5 10"),
        Ok(Request::Change(change)) if change.api.to_string() == "history"
    ));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(text in "\\PC{0,200}") {
            let _ = parse_text(&text);
        }

        #[test]
        fn a_change_written_out_reads_back_the_same(
            api in "[a-z0-9]{10}",
            stage in "[A-Za-z0-9_-]{1,20}",
            rate in 0u32..10_000_000,
            hundredths in 0u32..100,
            burst in 0i32..i32::MAX,
            method in prop_oneof![Just("GET"), Just("post"), Just("DELETE")],
            path in "(/[a-z]{1,8}){1,3}",
            per_method in any::<bool>(),
            hold in proptest::option::of(1u64..86_400),
        ) {
            let rate_text = format!("{rate}.{hundredths:02}");
            let level = if per_method { format!(" {method} {path}") } else { String::new() };
            let hold = hold.map_or(String::new(), |s| format!(" for {s}s"));
            let text = format!("{api}  {stage}\t{rate_text} {burst}{level}{hold}");
            let Ok(Request::Change(change)) = parse_text(&text) else {
                return Err(TestCaseError::fail(format!("{text:?} did not parse")));
            };
            prop_assert_eq!(change.api.to_string(), api.as_str());
            prop_assert_eq!(change.stage.as_str(), stage.as_str());
            let Action::Set(limits) = change.action else {
                return Err(TestCaseError::fail("not a set"));
            };
            prop_assert_eq!(limits.rate.value(), rate_text.parse::<f64>().unwrap());
            prop_assert_eq!(limits.burst.value(), burst);
            let again = command_text(&change);
            prop_assert_eq!(parse_text(&again), Ok(Request::Change(change)));
        }
    }
}
