//! The pipeline with in-memory ports: what it reads, writes and tells, without moto or Slack.

use std::sync::Mutex;

use super::*;
use crate::core::grammar::{Request, parse_text};
use crate::core::outcome::{Label, News};
use crate::core::ports::TellError;
use crate::core::requester::Via;
use crate::core::requester::{ChatId, ChatUser};
use crate::domain::{
    AccountLimits, Action, ApiId, ApiKind, Approval, Claim, Configured, Level, StageView, Timed,
};
use crate::policy::{Denial, PolicySource};

/// The in-memory account `try` runs against, under the name these tests grew up with.
use crate::embedded::Account as FakeGateway;

/// Records what would be told, by outcome label.
#[derive(Default)]
struct Told {
    replies: Mutex<Vec<&'static str>>,
    notices: Mutex<Vec<&'static str>>,
    announced: Mutex<Vec<(String, &'static str)>>,
}

impl Teller for Told {
    async fn reply(&self, _to: &ReplyTo, news: &News<'_>) -> Result<(), TellError> {
        self.replies
            .lock()
            .unwrap()
            .push(news.outcome.label().as_str());
        Ok(())
    }

    async fn audit(&self, news: &News<'_>) -> Result<bool, TellError> {
        self.notices
            .lock()
            .unwrap()
            .push(news.outcome.label().as_str());
        Ok(true)
    }

    async fn announce(
        &self,
        channel: &str,
        thread: Option<&str>,
        news: &News<'_>,
    ) -> Result<bool, TellError> {
        let place = match thread {
            Some(thread) => format!("{channel}/{thread}"),
            None => channel.to_owned(),
        };
        self.announced
            .lock()
            .unwrap()
            .push((place, news.outcome.label().as_str()));
        Ok(true)
    }
}

const POLICY: &str = r#"
[[rule]]
name = "petstore prod"
users = ["U1"]
apis = ["petstore"]
stages = ["prod"]
min_rate = 1
"#;

fn runner(gateway: FakeGateway, policy: Option<&str>) -> Runner<FakeGateway, Told> {
    let policy = PolicyHandle::load(policy.map(|p| PolicySource::Inline(p.to_owned()))).unwrap();
    Runner::new(
        gateway,
        Told::default(),
        Arc::new(policy),
        Arc::new(Metrics::new()),
    )
    .with_seal(Some(seal()))
}

/// The key records are sealed with in these tests.
fn seal() -> crate::domain::RecordSeal {
    crate::domain::RecordSeal::new([3; 32])
}

/// What a change did, when the outcome is one that was made (or found nothing to do).
fn applied(outcome: &Outcome) -> &Applied {
    match outcome {
        Outcome::Change {
            result: Ok(applied),
            ..
        } => applied,
        other => panic!("{other:?}"),
    }
}

fn ask(user: &str, text: &str) -> Ask {
    let work = match parse_text(text) {
        Ok(Request::Change(change)) => Work::Change(change),
        Ok(Request::Show(show)) => Work::Show(show),
        Ok(Request::List(list)) => Work::List(list),
        Ok(Request::Plan(plan)) => Work::Plan(plan),
        Ok(Request::Timed(request)) => Work::Timed(request),
        other => panic!("{text}: {other:?}"),
    };
    Ask {
        id: RequestId::new(),
        origin: Origin {
            requester: Requester::User(ChatUser {
                user: ChatId::parse(user).unwrap(),
                channel: None,
                team: None,
                command: "/throttle".to_owned(),
            }),
            reply_to: Some(ReplyTo::new("https://hooks.slack.com/commands/1")),
            via: Via::Command,
            message_ts: None,
        },
        text: text.to_owned(),
        work,
        gates: Gates::default(),
    }
}

fn petstore() -> FakeGateway {
    FakeGateway::default().with_api("a1b2c3d4e5", "petstore", "prod")
}

/// `gateway`, whose every level served 120 req/s in the last hour's busiest minute.
fn with_busy_minute(gateway: FakeGateway) -> FakeGateway {
    let minute = |at, requests| crate::domain::Minute {
        at,
        requests,
        client_errors: 0.0,
    };
    FakeGateway {
        traffic: Some(crate::domain::Traffic::new(vec![
            minute(60, 7200.0),
            minute(120, 3000.0),
        ])),
        ..gateway
    }
}

#[tokio::test]
async fn an_allowed_change_is_written_once_and_told_once() {
    let runner = runner(petstore(), Some(POLICY));
    runner
        .run(&ask("U1", "petstore prod 5 10"), &ReplyOnce::default())
        .await;
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        Configured {
            rate: Some(5.0),
            burst: Some(10)
        }
    );
    assert_eq!(
        runner.gateway.calls(),
        [
            "list for petstore",
            "read a1b2c3d4e5/prod",
            "write a1b2c3d4e5/prod"
        ]
    );
    assert_eq!(*runner.teller.replies.lock().unwrap(), ["applied"]);
    assert_eq!(*runner.teller.notices.lock().unwrap(), ["applied"]);
}

#[tokio::test]
async fn a_method_the_api_lacks_is_refused_unwritten_and_a_known_level_is_not_asked_about() {
    let mut gateway = petstore();
    gateway.methods = Some(vec![crate::domain::ApiMethod::new("GET", "/pets/{id}")]);
    let runner = runner(gateway, None);
    let refused = runner
        .perform(&ask("U1", "a1b2c3d4e5 prod 5 10 GET /pet/{id}"))
        .await;
    let Outcome::Change {
        result:
            Err(Failure::Gateway(GatewayError::NoSuchMethod {
                api,
                level,
                instead,
            })),
        ..
    } = refused
    else {
        panic!("{refused:?}")
    };
    assert_eq!(
        (api.as_str(), level.as_str(), instead),
        (
            "petstore",
            "GET /pet/{id}",
            vec!["GET /pets/{id}".to_owned()]
        )
    );
    assert!(
        !runner
            .gateway
            .calls()
            .iter()
            .any(|c| c.starts_with("write"))
    );
    // The method it has is written; once the stage has a setting there, and for the stage
    // or a reset, nobody asks again.
    let set = runner
        .perform(&ask("U1", "a1b2c3d4e5 prod 5 10 GET /pets/{id}"))
        .await;
    assert_eq!(set.label(), Label::Applied);
    let asked = |runner: &Runner<FakeGateway, Told>| {
        runner
            .gateway
            .calls()
            .iter()
            .filter(|c| c.starts_with("methods of"))
            .count()
    };
    assert_eq!(asked(&runner), 2);
    for text in [
        "a1b2c3d4e5 prod 6 12 GET /pets/{id}",
        "a1b2c3d4e5 prod 6 12",
        "reset a1b2c3d4e5 prod GET /pets",
    ] {
        runner.perform(&ask("U1", text)).await;
    }
    assert_eq!(asked(&runner), 2, "{:?}", runner.gateway.calls());
}

#[tokio::test]
async fn the_policy_decides_on_the_resolved_api_and_nothing_is_written_when_it_refuses() {
    let gateway = petstore().with_api("zzzzzzzzzz", "orders", "prod");
    let runner = runner(gateway, Some(POLICY));
    // Given by id, judged by the name the rule uses.
    let allowed = runner.perform(&ask("U1", "a1b2c3d4e5 prod 5 10")).await;
    assert_eq!(allowed.label(), Label::Applied);
    let refused = runner.perform(&ask("U1", "orders prod 5 10")).await;
    let Outcome::Refused { denial, .. } = refused else {
        panic!("{refused:?}")
    };
    assert!(matches!(denial, Denial::NoRuleForApi { ref api, .. } if api == "zzzzzzzzzz"));
    assert!(
        !runner
            .gateway
            .calls()
            .iter()
            .any(|c| c == "write zzzzzzzzzz/prod")
    );
}

#[tokio::test]
async fn an_id_shaped_name_resolves_to_the_api_of_that_name_before_the_decision() {
    let gateway = FakeGateway::default().with_api("bbbbbbbbbb", "production", "live");
    let runner = runner(gateway, None);
    let outcome = runner.perform(&ask("U1", "production live 4 8")).await;
    assert_eq!(outcome.label(), Label::Applied);
    assert_eq!(
        runner.gateway.stage_wide("bbbbbbbbbb", "live").rate,
        Some(4.0)
    );
}

#[tokio::test]
async fn without_named_rules_an_id_needs_no_listing() {
    let runner = runner(petstore(), None);
    runner.perform(&ask("U1", "a1b2c3d4e5 prod 5 10")).await;
    assert!(
        !runner.gateway.calls().iter().any(|c| c.starts_with("list")),
        "{:?}",
        runner.gateway.calls()
    );
}

#[tokio::test]
async fn the_same_values_twice_write_once() {
    let runner = runner(petstore(), None);
    let first = runner.perform(&ask("U1", "a1b2c3d4e5 prod 5 10")).await;
    let second = runner.perform(&ask("U1", "a1b2c3d4e5 prod 5 10")).await;
    assert_eq!(
        (first.label(), second.label()),
        (Label::Applied, Label::Unchanged)
    );
    let writes = runner
        .gateway
        .calls()
        .iter()
        .filter(|c| c.starts_with("write"))
        .count();
    assert_eq!(writes, 1);
}

#[tokio::test]
async fn values_above_the_account_quota_are_refused_without_a_write() {
    let gateway = FakeGateway {
        account: Some(AccountLimits {
            rate: 100.0,
            burst: 50,
        }),
        ..petstore()
    };
    let runner = runner(gateway, None);
    let outcome = runner.perform(&ask("U1", "a1b2c3d4e5 prod 101 10")).await;
    assert_eq!(outcome.label(), Label::AboveAccountLimit);
    assert!(
        !runner
            .gateway
            .calls()
            .iter()
            .any(|c| c.starts_with("write"))
    );
}

#[tokio::test]
async fn an_http_stage_reset_writes_the_account_limits_and_says_which_kind_it_is() {
    let gateway = FakeGateway {
        account: Some(AccountLimits {
            rate: 100.0,
            burst: 50,
        }),
        ..FakeGateway::default().with_http_api("h1b2c3d4e5", "orders", "prod")
    };
    let runner = runner(gateway, None);
    runner.perform(&ask("U1", "orders prod 0 0")).await;
    let outcome = runner.perform(&ask("U1", "reset orders prod")).await;
    let applied = applied(&outcome);
    assert_eq!(applied.api.kind, ApiKind::Http);
    assert!(applied.changed);
    let account = Configured {
        rate: Some(100.0),
        burst: Some(50),
    };
    assert_eq!(applied.after, account);
    assert_eq!(runner.gateway.stage_wide("h1b2c3d4e5", "prod"), account);
    // Without the account's limits nothing is written.
    let gateway = FakeGateway::default().with_http_api("h1b2c3d4e5", "orders", "prod");
    let runner = runner_without_account(gateway);
    let outcome = runner.perform(&ask("U1", "reset orders prod")).await;
    assert!(matches!(
        outcome,
        Outcome::Change {
            result: Err(Failure::NoAccountLimits),
            ..
        }
    ));
    assert!(
        !runner
            .gateway
            .calls()
            .iter()
            .any(|c| c.starts_with("write"))
    );
}

fn runner_without_account(gateway: FakeGateway) -> Runner<FakeGateway, Told> {
    runner(gateway, None)
}

#[tokio::test]
async fn a_level_the_kind_of_api_does_not_have_is_refused_before_any_write() {
    let runner = runner(
        petstore().with_http_api("h1b2c3d4e5", "orders", "prod"),
        None,
    );
    // (A partial wildcard such as `* /pets` is refused by the grammar, for every kind.)
    for text in ["petstore prod 5 10 $default"] {
        let outcome = runner.perform(&ask("U1", text)).await;
        assert!(
            matches!(
                &outcome,
                Outcome::Change {
                    result: Err(Failure::Gateway(GatewayError::Level(_))),
                    ..
                }
            ),
            "{text}: {outcome:?}"
        );
    }
    assert!(
        !runner
            .gateway
            .calls()
            .iter()
            .any(|c| c.starts_with("write"))
    );
    let outcome = runner
        .perform(&ask("U1", "orders prod 5 10 $default"))
        .await;
    assert!(applied(&outcome).changed);
}

#[tokio::test]
async fn a_missing_stage_is_not_found_and_told() {
    let runner = runner(petstore(), None);
    runner
        .run(&ask("U1", "a1b2c3d4e5 nope 5 10"), &ReplyOnce::default())
        .await;
    assert_eq!(*runner.teller.replies.lock().unwrap(), ["not_found"]);
    assert_eq!(*runner.teller.notices.lock().unwrap(), ["not_found"]);
}

#[tokio::test]
async fn a_request_already_told_is_not_told_again() {
    let runner = runner(petstore(), None);
    let once = ReplyOnce::default();
    assert!(once.claim());
    runner.run(&ask("U1", "a1b2c3d4e5 prod 5 10"), &once).await;
    assert!(runner.teller.replies.lock().unwrap().is_empty());
}

#[tokio::test]
async fn show_is_replied_to_but_not_audited() {
    let runner = runner(petstore(), None);
    runner
        .run(&ask("U1", "show petstore"), &ReplyOnce::default())
        .await;
    assert_eq!(*runner.teller.replies.lock().unwrap(), ["show"]);
    assert!(runner.teller.notices.lock().unwrap().is_empty());
}

#[test]
fn screening_needs_no_gateway_and_spares_schedules() {
    let runner = runner(petstore(), Some(POLICY));
    let Work::Change(change) = ask("U2", "petstore prod 5 5").work else {
        unreachable!()
    };
    let stranger = ask("U2", "petstore prod 5 5").origin.requester;
    let request = Request::Change(change);
    assert!(runner.screen(&stranger, Some(&request)).is_err());
    assert!(runner.screen(&Requester::Schedule, Some(&request)).is_ok());
    assert!(runner.gateway.calls().is_empty());
}

#[test]
fn only_readers_may_ask_about_a_timed_change() {
    // A step's refusal names the values it judged: someone the readers leave out is refused
    // before anything is read.
    let policy = format!("readers = [\"U1\"]\n{POLICY}");
    let runner = runner(petstore(), Some(&policy));
    for text in [
        "extend petstore prod 30m",
        "restore petstore prod",
        "extend plan gold 30m",
    ] {
        let stranger = ask("U2", text).origin.requester;
        let request = crate::core::grammar::parse_text(text).unwrap();
        assert!(runner.screen(&stranger, Some(&request)).is_err(), "{text}");
        let reader = ask("U1", text).origin.requester;
        assert!(runner.screen(&reader, Some(&request)).is_ok(), "{text}");
    }
    assert!(runner.gateway.calls().is_empty());
}

mod gates;
mod interrupted;
mod plan_timed;
mod plans;
mod reads;
mod stacks;
mod stamps;
mod timed;

#[test]
fn the_sweep_reaches_the_apis_the_policy_names_by_id_or_name() {
    let policy = "[[rule]]\nusers = [\"*\"]\napis = [\"petstore\"]\nstages = [\"*\"]\n";
    let gateway = petstore().with_api("b1b2c3d4e5", "billing", "prod");
    let scoped = runner(gateway, Some(policy));
    assert!(scoped.reaches(&ApiId::parse("a1b2c3d4e5").unwrap()));
    assert!(!scoped.reaches(&ApiId::parse("b1b2c3d4e5").unwrap()));
    let everyone = runner(petstore(), None);
    assert!(everyone.reaches(&ApiId::parse("c1b2c3d4e5").unwrap()));
}
