//! The pipeline with in-memory ports: what it reads, writes and tells, without moto or Slack.

use std::collections::HashMap;
use std::sync::Mutex;

use super::*;
use crate::core::grammar::{Request, parse_text};
use crate::core::ports::TellError;
use crate::core::requester::{ChatId, ChatUser};
use crate::domain::{AccountLimits, Action, ApiId, Configured, Level};
use crate::policy::{Denial, PolicySource};

/// An API's name and its stages by name.
type NamedStages = (String, HashMap<String, StageView>);

/// An API Gateway in memory: APIs by id with a name and stages, and a log of calls.
#[derive(Default)]
struct FakeGateway {
    apis: Mutex<HashMap<String, NamedStages>>,
    account: Option<AccountLimits>,
    calls: Mutex<Vec<String>>,
}

impl FakeGateway {
    fn with_api(self, id: &str, name: &str, stage: &str) -> Self {
        let view = StageView {
            stage: stage.to_owned(),
            stage_wide: Configured::default(),
            methods: Vec::new(),
        };
        self.apis.lock().unwrap().insert(
            id.to_owned(),
            (name.to_owned(), HashMap::from([(stage.to_owned(), view)])),
        );
        self
    }

    fn call(&self, what: String) {
        self.calls.lock().unwrap().push(what);
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn stage_wide(&self, id: &str, stage: &str) -> Configured {
        self.apis.lock().unwrap()[id].1[stage].stage_wide
    }
}

impl Gateway for FakeGateway {
    async fn find_by_name(&self, name: &str) -> Result<ResolvedApi, GatewayError> {
        self.call(format!("list for {name}"));
        let apis = self.apis.lock().unwrap();
        let ids: Vec<&String> = apis
            .iter()
            .filter(|(_, (n, _))| n == name)
            .map(|(id, _)| id)
            .collect();
        match ids.as_slice() {
            [id] => Ok(ResolvedApi {
                id: ApiId::parse(id).unwrap(),
                name: Some(name.to_owned()),
            }),
            _ => Err(GatewayError::UnknownApiName {
                name: name.to_owned(),
                suggestions: Vec::new(),
            }),
        }
    }

    async fn name_of(&self, id: &ApiId) -> Result<Option<String>, GatewayError> {
        self.call(format!("list for {id}"));
        Ok(self.known_name(id))
    }

    fn known_name(&self, id: &ApiId) -> Option<String> {
        self.apis
            .lock()
            .unwrap()
            .get(id.as_str())
            .map(|(n, _)| n.clone())
    }

    async fn read_stage(&self, api: &ApiId, stage: &StageName) -> Result<StageView, GatewayError> {
        self.call(format!("read {api}/{stage}"));
        self.apis
            .lock()
            .unwrap()
            .get(api.as_str())
            .and_then(|(_, stages)| stages.get(stage.as_str()).cloned())
            .ok_or(GatewayError::NotFound {
                api: api.to_string(),
                stage: stage.to_string(),
            })
    }

    async fn read_stages(&self, api: &ApiId) -> Result<Vec<StageView>, GatewayError> {
        self.call(format!("read {api}/*"));
        Ok(self.apis.lock().unwrap()[api.as_str()]
            .1
            .values()
            .cloned()
            .collect())
    }

    async fn write(
        &self,
        api: &ApiId,
        stage: &StageName,
        level: &Level,
        action: &Action,
    ) -> Result<(), GatewayError> {
        self.call(format!("write {api}/{stage}"));
        let mut apis = self.apis.lock().unwrap();
        let view = apis
            .get_mut(api.as_str())
            .unwrap()
            .1
            .get_mut(stage.as_str())
            .unwrap();
        let values = match action {
            Action::Set(limits) => (*limits).into(),
            Action::Reset => Configured::default(),
        };
        match level {
            Level::Stage => view.stage_wide = values,
            level => view.methods.push((level.clone(), values)),
        }
        Ok(())
    }

    async fn account_limits(&self) -> Option<AccountLimits> {
        self.account
    }
}

/// Records what would be told, by outcome label.
#[derive(Default)]
struct Told {
    replies: Mutex<Vec<&'static str>>,
    notices: Mutex<Vec<&'static str>>,
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
}

fn ask(user: &str, text: &str) -> Ask {
    let work = match parse_text(text) {
        Ok(Request::Change(change)) => Work::Change(change),
        Ok(Request::Show(show)) => Work::Show(show),
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
        },
        text: text.to_owned(),
        work,
    }
}

fn petstore() -> FakeGateway {
    FakeGateway::default().with_api("a1b2c3d4e5", "petstore", "prod")
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
