//! Confirmation, buttons that act only on what they showed, approvals and break-glass.

use super::*;

const GATED: &str = r#"
[[rule]]
name = "prod with approval"
users = ["U1", "U2", "U3"]
apis = ["*"]
stages = ["prod"]
approvers = ["U2"]
break_glass = true

[[rule]]
name = "test with confirmation"
users = ["U1"]
apis = ["*"]
stages = ["test"]
confirm = true
"#;

fn gated() -> Runner<FakeGateway, Told> {
    let gateway = petstore();
    gateway
        .apis
        .lock()
        .unwrap()
        .get_mut("a1b2c3d4e5")
        .unwrap()
        .1
        .insert(
            "test".to_owned(),
            StageView {
                updated: None,
                stage: "test".to_owned(),
                stage_wide: Configured {
                    rate: Some(100.0),
                    burst: Some(100),
                },
                methods: Vec::new(),
                ..StageView::default()
            },
        );
    runner(gateway, Some(GATED))
}

pub(super) fn with(mut ask: Ask, gates: Gates) -> Ask {
    ask.gates = gates;
    ask
}

#[tokio::test]
async fn risky_or_rule_flagged_changes_wait_for_their_author_to_confirm() {
    let runner = runner(petstore(), None);
    for text in ["a1b2c3d4e5 prod 0 10", "a1b2c3d4e5 prod 10 0"] {
        let outcome = runner.perform(&ask("U1", text)).await;
        assert_eq!(outcome.label(), Label::AwaitingConfirmation, "{text}");
    }
    let gated = gated();
    // Not risky (a raise), but the rule asks for confirmation.
    let outcome = gated.perform(&ask("U1", "a1b2c3d4e5 test 200 200")).await;
    assert!(
        matches!(outcome, Outcome::NeedsConfirmation { risk: None, .. }),
        "{outcome:?}"
    );
    // A cut by more than half of the stage's own values.
    let outcome = runner.perform(&ask("U1", "a1b2c3d4e5 prod 5 10")).await;
    assert_eq!(outcome.label(), Label::Applied, "nothing to cut yet");
    let outcome = runner.perform(&ask("U1", "a1b2c3d4e5 prod 2 10")).await;
    assert!(
        matches!(outcome, Outcome::NeedsConfirmation { risk: Some(_), .. }),
        "{outcome:?}"
    );
    assert_eq!(
        runner
            .gateway
            .calls()
            .iter()
            .filter(|c| c.starts_with("write"))
            .count(),
        1
    );

    let confirmed = with(
        ask("U1", "a1b2c3d4e5 prod 2 10"),
        Gates {
            confirmed: true,
            expect: Some(Configured {
                rate: Some(5.0),
                burst: Some(10),
            }),
            ..Gates::default()
        },
    );
    assert_eq!(runner.perform(&confirmed).await.label(), Label::Applied);
    // Schedules are never asked: nobody is there to answer.
    let mut scheduled = ask("U1", "a1b2c3d4e5 prod 0 0");
    scheduled.origin.requester = Requester::Schedule;
    assert_eq!(runner.perform(&scheduled).await.label(), Label::Applied);
}

#[tokio::test]
async fn a_button_acts_only_on_the_values_its_message_showed() {
    let runner = runner(petstore(), None);
    let stale = with(
        ask("U1", "a1b2c3d4e5 prod 1 1"),
        Gates {
            confirmed: true,
            expect: Some(Configured {
                rate: Some(9.0),
                burst: Some(9),
            }),
            ..Gates::default()
        },
    );
    let outcome = runner.perform(&stale).await;
    let Outcome::Moved {
        expected, found, ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!((expected.rate, found.rate), (Some(9.0), None));
    assert!(
        !runner
            .gateway
            .calls()
            .iter()
            .any(|c| c.starts_with("write"))
    );
}

#[tokio::test]
async fn a_press_the_policy_refuses_is_refused_without_reading_out_the_live_values() {
    let live = Configured {
        rate: Some(42.0),
        burst: Some(84),
    };
    let gateway = petstore().with_api("zzzzzzzzzz", "orders", "prod");
    for stages in gateway.apis.lock().unwrap().values_mut() {
        stages.1.get_mut("prod").unwrap().stage_wide = live;
    }
    let stale = Some(Configured {
        rate: Some(9.0),
        burst: Some(9),
    });
    // Passes the screen (the rule reaches some API), refused on the API as resolved.
    let not_reached = runner(gateway, Some(POLICY));
    let apply = with(
        ask("U1", "zzzzzzzzzz prod 5 10"),
        Gates {
            confirmed: true,
            expect: stale,
            ..Gates::default()
        },
    );
    // A listed user, but not an approver, approving.
    let gated = gated();
    let approve = with(
        ask("U1", "a1b2c3d4e5 prod 5 10"),
        Gates {
            approved_by: Some(ChatId::parse("U3").unwrap()),
            expect: stale,
            ..Gates::default()
        },
    );
    for (runner, press) in [(&not_reached, apply), (&gated, approve)] {
        let Work::Change(change) = &press.work else {
            unreachable!()
        };
        let request = Request::Change(change.clone());
        assert_eq!(
            runner.screen(&press.origin.requester, Some(&request)),
            Ok(())
        );
        let outcome = runner.perform(&press).await;
        assert!(matches!(outcome, Outcome::Refused { .. }), "{outcome:?}");
        assert!(!format!("{outcome:?}").contains("42"), "{outcome:?}");
    }
}

#[tokio::test]
async fn approval_comes_from_a_listed_approver_who_is_not_the_author() {
    let runner = gated();
    let asked = runner.perform(&ask("U1", "a1b2c3d4e5 prod 5 10")).await;
    let Outcome::AwaitingApproval { approvers, .. } = &asked else {
        panic!("{asked:?}")
    };
    assert_eq!(approvers[0].as_str(), "U2");

    let approved_by = |who: &str| {
        with(
            ask("U1", "a1b2c3d4e5 prod 5 10"),
            Gates {
                approved_by: ChatId::parse(who),
                expect: Some(Configured::default()),
                ..Gates::default()
            },
        )
    };
    for (approver, denied) in [("U1", true), ("U3", true), ("U9", true)] {
        let outcome = runner.perform(&approved_by(approver)).await;
        assert!(
            matches!(
                outcome,
                Outcome::Refused {
                    denial: Denial::NotAnApprover { .. },
                    ..
                }
            ) == denied,
            "{approver}: {outcome:?}"
        );
    }
    let outcome = runner.perform(&approved_by("U2")).await;
    let applied = applied(&outcome);
    assert_eq!(applied.approval, Approval::By("U2".to_owned()));
    assert!(applied.changed);
}

#[tokio::test]
async fn break_glass_skips_approval_only_where_the_rule_allows_it() {
    let runner = gated();
    let now = with(
        ask("U1", "a1b2c3d4e5 prod 5 10"),
        Gates {
            break_glass: true,
            ..Gates::default()
        },
    );
    let outcome = runner.perform(&now).await;
    let applied = applied(&outcome);
    assert_eq!(
        applied.approval,
        Approval::Skipped {
            rule: "prod with approval".to_owned()
        }
    );
    // The confirmation rule has no approvers and no break glass: --now changes nothing there.
    let test = with(
        ask("U1", "a1b2c3d4e5 test 200 200"),
        Gates {
            break_glass: true,
            ..Gates::default()
        },
    );
    assert_eq!(
        runner.perform(&test).await.label(),
        Label::AwaitingConfirmation
    );
}

#[tokio::test]
async fn two_presses_on_one_level_run_one_after_the_other_each_on_what_the_last_left() {
    let runner = runner(petstore(), None);
    let apply = || {
        with(
            ask("U1", "a1b2c3d4e5 prod 5 10"),
            Gates {
                expect: Some(Configured::default()),
                confirmed: true,
                ..Gates::default()
            },
        )
    };
    let (first, second) = (apply(), apply());
    let (a, b) = tokio::join!(runner.perform(&first), runner.perform(&second));
    let mut labels = [a.label(), b.label()];
    labels.sort_by_key(|l| l.as_str());
    assert_eq!(labels, [Label::Applied, Label::Moved], "{a:?} {b:?}");
}

#[tokio::test]
async fn break_glass_never_skips_confirming_a_change_that_blocks_traffic() {
    let runner = gated();
    let blocking = Gates {
        break_glass: true,
        ..Gates::default()
    };
    let outcome = runner
        .perform(&with(ask("U1", "a1b2c3d4e5 prod 0 0"), blocking.clone()))
        .await;
    assert_eq!(outcome.label(), Label::AwaitingConfirmation, "{outcome:?}");
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        Configured::default()
    );
    // Its preview's Apply keeps the break glass: applied at once, not turned into a request.
    let confirmed = Gates {
        confirmed: true,
        ..blocking
    };
    let outcome = runner
        .perform(&with(ask("U1", "a1b2c3d4e5 prod 0 0"), confirmed))
        .await;
    assert_eq!(outcome.label(), Label::Applied, "{outcome:?}");
}

/// A gateway whose stages served 120 req/s in the last hour's busiest minute.
fn busy() -> FakeGateway {
    super::with_busy_minute(petstore())
}

fn traffic_reads(runner: &Runner<FakeGateway, Told>) -> usize {
    let calls = runner.gateway.calls();
    calls
        .iter()
        .filter(|c| c.starts_with("read traffic"))
        .count()
}

#[tokio::test]
async fn a_rate_below_the_last_hours_peak_is_previewed_once_and_not_read_again_when_confirmed() {
    let runner = runner(busy(), None);
    let typed = runner.perform(&ask("U1", "a1b2c3d4e5 prod 50 100")).await;
    let Outcome::NeedsConfirmation {
        risk:
            Some(Risk::BelowTraffic {
                peak,
                rate,
                rejected,
            }),
        ..
    } = typed
    else {
        panic!("{typed:?}")
    };
    assert_eq!((peak, rate), (120.0, 50.0));
    assert!((rejected - 70.0 / 120.0).abs() < 1e-9, "{rejected}");
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        Configured::default()
    );
    // Its Apply: written, without a second read (the person saw the traffic and said yes).
    let confirmed = Gates {
        confirmed: true,
        ..Gates::default()
    };
    let outcome = runner
        .perform(&with(ask("U1", "a1b2c3d4e5 prod 50 100"), confirmed))
        .await;
    assert_eq!(outcome.label(), Label::Applied, "{outcome:?}");
    assert_eq!(traffic_reads(&runner), 1);
    // At or above the peak: nothing to confirm.
    let above = runner.perform(&ask("U1", "a1b2c3d4e5 prod 120 240")).await;
    assert_eq!(above.label(), Label::Applied, "{above:?}");
}

#[tokio::test]
async fn without_traffic_checks_or_for_a_schedule_the_traffic_is_not_read() {
    let off = runner(busy(), None).with_traffic_checks(false);
    let outcome = off.perform(&ask("U1", "a1b2c3d4e5 prod 50 100")).await;
    assert_eq!(outcome.label(), Label::Applied, "{outcome:?}");
    assert_eq!(traffic_reads(&off), 0);
    // No person to confirm: a scheduled change is applied as asked, with no read.
    let on = runner(busy(), None);
    let mut scheduled = ask("U1", "a1b2c3d4e5 prod 50 100");
    scheduled.origin.requester = Requester::Schedule;
    let outcome = on.perform(&scheduled).await;
    assert_eq!(outcome.label(), Label::Applied, "{outcome:?}");
    assert_eq!(traffic_reads(&on), 0);
}

#[tokio::test]
async fn an_impact_report_reads_the_minutes_each_side_and_counts_the_landing_minute_as_before() {
    let minute = |at| crate::domain::Minute {
        at,
        requests: 60.0,
        client_errors: 0.0,
    };
    // Changed at 1_000_030, in the minute starting 1_000_020; 5 minutes each side.
    let gateway = FakeGateway {
        traffic: Some(crate::domain::Traffic::new(
            [999_700, 999_780, 1_000_020, 1_000_080, 1_000_320, 1_000_340]
                .map(minute)
                .to_vec(),
        )),
        ..petstore()
    };
    let runner = runner(gateway, None);
    let api = ResolvedApi {
        id: ApiId::parse("a1b2c3d4e5").unwrap(),
        name: Some("petstore".to_owned()),
        kind: ApiKind::Rest,
    };
    let stage = StageName::parse("prod").unwrap();
    let (before, after) = runner
        .impact(&api, &stage, &Level::Stage, 1_000_030, 5)
        .await
        .unwrap();
    let starts = |t: &crate::domain::Traffic| t.minutes.iter().map(|m| m.at).collect::<Vec<_>>();
    assert_eq!(starts(&before), [999_780, 1_000_020]);
    assert_eq!(starts(&after), [1_000_080, 1_000_320]);
    assert_eq!(
        runner.gateway.calls(),
        ["read traffic 999730..1000330"],
        "one read, five minutes each side"
    );
    // At least a minute each side, however short the report's window.
    runner
        .impact(&api, &stage, &Level::Stage, 1_000_030, 0)
        .await
        .unwrap();
    assert_eq!(
        runner.gateway.calls().last().map(String::as_str),
        Some("read traffic 999970..1000090")
    );
}

/// Two rules admit prod: one with approvers and break glass, one asking to confirm.
const TWO_RULES: &str = r#"
[[rule]]
name = "prod with approval"
users = ["U1", "U2"]
apis = ["*"]
stages = ["prod"]
approvers = ["U2"]
break_glass = true

[[rule]]
name = "prod confirmed"
users = ["U1"]
apis = ["*"]
stages = ["prod"]
confirm = true
"#;

#[tokio::test]
async fn one_rules_break_glass_or_approval_never_skips_another_rules_confirm() {
    let runner = runner(petstore(), Some(TWO_RULES));
    let gates = |gates: Gates| with(ask("U1", "a1b2c3d4e5 prod 50 100"), gates);

    // --now skips the approval its rule allows to skip, not the other rule's confirmation.
    let now = runner
        .perform(&gates(Gates {
            break_glass: true,
            ..Gates::default()
        }))
        .await;
    assert_eq!(now.label(), Label::AwaitingConfirmation, "{now:?}");
    // The preview keeps the break glass: its Apply (what the button carries) skips approval.
    let Outcome::NeedsConfirmation { planned, .. } = &now else {
        panic!("{now:?}")
    };
    assert!(
        matches!(planned.approval, Approval::Skipped { .. }),
        "{planned:?}"
    );
    let confirmed_now = runner
        .perform(&gates(Gates {
            break_glass: true,
            confirmed: true,
            ..Gates::default()
        }))
        .await;
    assert!(applied(&confirmed_now).changed, "{confirmed_now:?}");

    // Without --now: confirmed by its author first, then approved.
    let runner = runner_with(TWO_RULES);
    let typed = runner.perform(&gates(Gates::default())).await;
    assert_eq!(typed.label(), Label::AwaitingConfirmation, "{typed:?}");
    let confirmed = runner
        .perform(&gates(Gates {
            confirmed: true,
            ..Gates::default()
        }))
        .await;
    assert_eq!(confirmed.label(), Label::AwaitingApproval, "{confirmed:?}");
}

fn runner_with(policy: &str) -> Runner<FakeGateway, Told> {
    runner(petstore(), Some(policy))
}
