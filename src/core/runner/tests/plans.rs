//! Usage plans through the pipeline: the decision on the plan as read, the values a button
//! showed, nothing written for nothing, the rule's gates, and the turn's wait told.

use std::time::Duration;

use super::*;
use crate::core::outcome::PlanFailure;
use crate::domain::{PlanStage, PlanView, TargetAlias};

fn plan(id: &str, name: &str, target: Option<&str>) -> PlanView {
    let target = target.map(|t| TargetAlias::parse(t).unwrap().unwrap());
    PlanView {
        id: match &target {
            Some(alias) => format!("{alias}:{id}"),
            None => id.to_owned(),
        },
        target,
        name: name.to_owned(),
        throttle: Configured {
            rate: Some(100.0),
            burst: Some(200),
        },
        quota: None,
        stages: vec![PlanStage {
            api: "a1b2c3d4e5".to_owned(),
            stage: "prod".to_owned(),
            methods: Vec::new(),
        }],
        tags: Vec::new(),
        timed: Vec::new(),
        unsealed: Vec::new(),
    }
}

fn gateway(plans: Vec<PlanView>, turn: Duration) -> FakeGateway {
    FakeGateway {
        plans: Mutex::new(plans),
        plan_turn: turn,
        ..FakeGateway::default()
    }
}

const PLANS: &str = r#"
[[rule]]
name = "bronze"
users = ["U1"]
plans = ["bronze"]
max_rate = 50

[[rule]]
name = "gated"
users = ["U1"]
plans = ["gated"]
confirm = true

[[rule]]
name = "four eyes"
users = ["U1"]
targets = ["prod"]
plans = ["gold"]
approvers = ["U2"]
"#;

fn plan_result(outcome: &Outcome) -> &Result<crate::domain::PlanApplied, PlanFailure> {
    match outcome {
        Outcome::PlanChanged { result, .. } => result,
        other => panic!("{other:?}"),
    }
}

fn writes(runner: &Runner<FakeGateway, Told>) -> usize {
    runner
        .gateway
        .calls()
        .iter()
        .filter(|c| c.starts_with("write plan"))
        .count()
}

#[tokio::test]
async fn the_policy_decides_on_the_plan_as_read_by_its_name_or_id() {
    let runner = runner(
        gateway(
            vec![
                plan("abc123", "bronze", None),
                plan("def456", "silver", None),
            ],
            Duration::ZERO,
        ),
        Some(PLANS),
    );
    // Typed by id, judged by the name the rule uses.
    let by_id = runner.perform(&ask("U1", "plan abc123 40 80")).await;
    assert_eq!(by_id.label(), Label::Applied, "{by_id:?}");
    let above = runner.perform(&ask("U1", "plan bronze 60 80")).await;
    assert!(matches!(
        plan_result(&above),
        Err(PlanFailure::Denied(Denial::OutOfBounds(_)))
    ));
    let other = runner.perform(&ask("U1", "plan silver 10 20")).await;
    assert!(matches!(
        plan_result(&other),
        Err(PlanFailure::Denied(Denial::NoRuleForPlan { .. }))
    ));
    let stranger = runner.perform(&ask("U9", "plan bronze 10 20")).await;
    assert!(matches!(
        plan_result(&stranger),
        Err(PlanFailure::Denied(_))
    ));
    assert_eq!(writes(&runner), 1, "only the allowed change is written");
}

#[tokio::test]
async fn a_method_the_api_lacks_is_refused_in_the_plans_target_before_any_write() {
    let mut gateway = gateway(vec![plan("abc123", "gold", Some("prod"))], Duration::ZERO);
    gateway.methods = Some(vec![crate::domain::ApiMethod::new("GET", "/pets")]);
    let runner = runner(gateway, None);
    let typo = runner
        .perform(&ask("U1", "plan prod:gold a1b2c3d4e5 prod 5 10 GET /pet"))
        .await;
    assert!(
        matches!(
            plan_result(&typo),
            Err(PlanFailure::Gateway(GatewayError::NoSuchMethod { instead, .. }))
                if instead == &["GET /pets".to_owned()]
        ),
        "{typo:?}"
    );
    assert_eq!(writes(&runner), 0);
    // Asked of the API in the plan's account, not home's.
    assert!(
        runner
            .gateway
            .calls()
            .contains(&"methods of prod:a1b2c3d4e5".to_owned()),
        "{:?}",
        runner.gateway.calls()
    );
    let set = runner
        .perform(&ask("U1", "plan prod:gold a1b2c3d4e5 prod 5 10 GET /pets"))
        .await;
    assert_eq!(set.label(), Label::Applied, "{set:?}");
    // Once the plan has a throttle there, and for a reset or the plan's own level, no one asks.
    for text in [
        "plan prod:gold a1b2c3d4e5 prod 6 12 GET /pets",
        "reset plan prod:gold a1b2c3d4e5 prod GET /nope",
        "plan prod:gold 50 100",
    ] {
        runner.perform(&ask("U1", text)).await;
    }
    let asked = runner
        .gateway
        .calls()
        .iter()
        .filter(|c| c.starts_with("methods of"))
        .count();
    assert_eq!(asked, 2, "{:?}", runner.gateway.calls());
    assert_eq!(writes(&runner), 3);
}

#[tokio::test]
async fn nothing_is_written_for_nothing_and_a_button_acts_only_on_what_it_showed() {
    let runner = runner(
        gateway(vec![plan("abc123", "bronze", None)], Duration::ZERO),
        None,
    );
    let same = runner.perform(&ask("U1", "plan bronze 100 200")).await;
    let Ok(same) = plan_result(&same) else {
        panic!()
    };
    assert!(!same.changed);
    assert_eq!(writes(&runner), 0);

    let mut undo = ask("U1", "plan abc123 7 14");
    undo.gates.expect = Some(Configured {
        rate: Some(5.0),
        burst: Some(10),
    });
    let moved = runner.perform(&undo).await;
    assert!(
        matches!(plan_result(&moved), Err(PlanFailure::Gateway(GatewayError::PlanMoved { now, .. })) if now == "100 req/s, burst 200"),
        "{moved:?}"
    );
    undo.gates.expect = Some(Configured {
        rate: Some(100.0),
        burst: Some(200),
    });
    assert_eq!(runner.perform(&undo).await.label(), Label::Applied);
    assert_eq!(writes(&runner), 1);
}

#[tokio::test]
async fn a_method_level_needs_its_api_stage_in_the_plan() {
    let runner = runner(
        gateway(vec![plan("abc123", "bronze", None)], Duration::ZERO),
        None,
    );
    let outside = runner
        .perform(&ask("U1", "plan bronze a1b2c3d4e5 test 1 2 GET /pets"))
        .await;
    assert!(
        matches!(plan_result(&outside), Err(PlanFailure::NotInPlan { api, stage }) if api == "a1b2c3d4e5" && stage == "test")
    );
    let inside = runner
        .perform(&ask("U1", "plan bronze a1b2c3d4e5 prod 1 2 GET /pets"))
        .await;
    let Ok(inside) = plan_result(&inside) else {
        panic!("{inside:?}")
    };
    assert_eq!(
        (inside.before, inside.changed),
        (Configured::default(), true)
    );
}

#[tokio::test]
async fn a_rules_gates_hold_a_plan_change_until_its_author_or_an_approver_says_yes() {
    let runner = runner(
        gateway(
            vec![
                plan("abc123", "gated", None),
                plan("g00001", "gold", Some("prod")),
            ],
            Duration::ZERO,
        ),
        Some(PLANS),
    );
    let held = runner.perform(&ask("U1", "plan gated 5 10")).await;
    assert!(
        matches!(&held, Outcome::PlanGated { approvers, .. } if approvers.is_empty()),
        "{held:?}"
    );
    let mut confirmed = ask("U1", "plan abc123 5 10");
    confirmed.gates.confirmed = true;
    assert_eq!(runner.perform(&confirmed).await.label(), Label::Applied);

    let asked = runner.perform(&ask("U1", "plan prod:gold 5 10")).await;
    assert!(
        matches!(&asked, Outcome::PlanGated { approvers, .. } if approvers.len() == 1),
        "{asked:?}"
    );
    let mut by_author = ask("U1", "plan prod:g00001 5 10");
    by_author.gates.approved_by = ChatId::parse("U1");
    assert!(matches!(
        plan_result(&runner.perform(&by_author).await),
        Err(PlanFailure::Denied(Denial::NotAnApprover {
            author: true,
            ..
        }))
    ));
    let mut by_other = ask("U1", "plan prod:g00001 5 10");
    by_other.gates.approved_by = ChatId::parse("U3");
    assert!(matches!(
        plan_result(&runner.perform(&by_other).await),
        Err(PlanFailure::Denied(Denial::NotAnApprover {
            author: false,
            ..
        }))
    ));
    let mut approved = ask("U1", "plan prod:g00001 5 10");
    approved.gates.approved_by = ChatId::parse("U2");
    assert_eq!(runner.perform(&approved).await.label(), Label::Applied);
    assert_eq!(
        writes(&runner),
        2,
        "only the confirmed and the approved changes"
    );
    // The home target has no plan `gold`: targets are kept apart.
    let home = runner.perform(&ask("U1", "plan gold 5 10")).await;
    assert!(matches!(
        plan_result(&home),
        Err(PlanFailure::Gateway(GatewayError::UnknownPlan { .. }))
    ));
}

#[tokio::test]
async fn a_wait_for_the_turn_is_told_when_it_is_worth_saying() {
    for (turn, said) in [
        (Duration::from_millis(999), None),
        (Duration::from_secs(14), Some(14)),
    ] {
        let runner = runner(gateway(vec![plan("abc123", "bronze", None)], turn), None);
        let outcome = runner.perform(&ask("U1", "plan bronze 5 10")).await;
        let Ok(applied) = plan_result(&outcome) else {
            panic!()
        };
        assert_eq!(applied.queued_secs, said, "{turn:?}");
    }
}

#[tokio::test]
async fn preparing_a_plan_change_only_reads_so_a_lambda_may_cut_it_short() {
    let runner = runner(
        gateway(vec![plan("abc123", "bronze", None)], Duration::ZERO),
        None,
    );
    let ask = ask("U1", "plan bronze 5 10");
    let prepared = runner.prepare(&ask).await;
    assert!(matches!(prepared, Step::Write(Prepared::Plan { .. }, _)));
    assert_eq!(writes(&runner), 0, "nothing written while preparing");
    let Step::Write(prepared, held) = prepared else {
        unreachable!()
    };
    assert_eq!(runner.commit(prepared, held).await.label(), Label::Applied);
    assert_eq!(writes(&runner), 1);
}

#[tokio::test]
async fn someone_who_may_not_read_names_is_not_told_other_plans_names() {
    let policy = format!("readers = [\"U2\"]\n{PLANS}");
    let runner = runner(
        gateway(vec![plan("abc123", "bronze", None)], Duration::ZERO),
        Some(&policy),
    );
    for (user, told) in [
        ("U1", Vec::<String>::new()),
        ("U2", vec!["bronze".to_owned()]),
    ] {
        let outcome = runner.perform(&ask(user, "plan bronx 5 10")).await;
        match plan_result(&outcome) {
            Err(PlanFailure::Gateway(GatewayError::UnknownPlan { known, .. })) => {
                assert_eq!(known, &told, "{user}");
            }
            other => panic!("{other:?}"),
        }
    }
}
