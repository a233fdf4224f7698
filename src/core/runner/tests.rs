//! The pipeline with in-memory ports: what it reads, writes and tells, without moto or Slack.

use std::collections::HashMap;
use std::sync::Mutex;

use super::*;
use crate::core::grammar::{Request, parse_text};
use crate::core::outcome::{Label, News};
use crate::core::ports::TellError;
use crate::core::requester::Via;
use crate::core::requester::{ChatId, ChatUser};
use crate::domain::{
    AccountLimits, Action, ApiId, ApiKind, ApiName, Approval, Claim, Configured, Level, StageView,
    TargetAlias, Timed,
};
use crate::policy::{Denial, PolicySource};

/// An API's name and its stages by name.
type NamedStages = (String, HashMap<String, StageView>);

/// An API Gateway in memory: APIs by id with a name and stages, and a log of calls.
#[derive(Default)]
struct FakeGateway {
    apis: Mutex<HashMap<String, NamedStages>>,
    account: Option<AccountLimits>,
    calls: Mutex<Vec<String>>,
    /// Usage plans, and how long a plan write waits for its turn.
    plans: Mutex<Vec<crate::domain::PlanView>>,
    plan_turn: std::time::Duration,
    /// The methods of every API, where the kind lists them (`None`: not checked).
    methods: Option<Vec<crate::domain::ApiMethod>>,
    /// What every level served in the last hour (`None`: no source of metrics).
    traffic: Option<crate::domain::Traffic>,
    /// Calls (`write`, `tag`, `untag`) that fail from now on, as AWS refusing them would.
    failing: Mutex<Vec<&'static str>>,
}

impl FakeGateway {
    fn with_api(self, id: &str, name: &str, stage: &str) -> Self {
        let view = StageView {
            stage: stage.to_owned(),
            stage_wide: Configured::default(),
            methods: Vec::new(),
            ..StageView::default()
        };
        self.apis.lock().unwrap().insert(
            id.to_owned(),
            (name.to_owned(), HashMap::from([(stage.to_owned(), view)])),
        );
        self
    }

    /// The same, as an HTTP API's stage.
    fn with_http_api(self, id: &str, name: &str, stage: &str) -> Self {
        let this = self.with_api(id, name, stage);
        for view in this
            .apis
            .lock()
            .unwrap()
            .get_mut(id)
            .unwrap()
            .1
            .values_mut()
        {
            view.kind = ApiKind::Http;
        }
        this
    }

    fn kind(&self, id: &str) -> ApiKind {
        self.apis.lock().unwrap()[id]
            .1
            .values()
            .next()
            .map_or(ApiKind::Rest, |view| view.kind)
    }

    fn refuses(&self, call: &str) -> Result<(), GatewayError> {
        if self.failing.lock().unwrap().contains(&call) {
            return Err(GatewayError::Unexpected(format!("{call} refused")));
        }
        Ok(())
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
    async fn find_by_name(&self, wanted: &ApiName) -> Result<ResolvedApi, GatewayError> {
        self.call(format!("list for {wanted}"));
        let name = wanted.name();
        let apis = self.apis.lock().unwrap();
        let ids: Vec<&String> = apis
            .iter()
            .filter(|(id, (n, _))| {
                n == name && ApiId::parse(id).unwrap().target() == wanted.target()
            })
            .map(|(id, _)| id)
            .collect();
        match ids.as_slice() {
            [id] => Ok(ResolvedApi {
                id: ApiId::parse(id).unwrap(),
                name: Some(name.to_owned()),
                kind: apis[id.to_string().as_str()]
                    .1
                    .values()
                    .next()
                    .map_or(ApiKind::Rest, |view| view.kind),
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
            .get(id.to_string().as_str())
            .map(|(n, _)| n.clone())
    }

    fn known_kind(&self, id: &ApiId) -> Option<ApiKind> {
        let known = self
            .apis
            .lock()
            .unwrap()
            .contains_key(id.to_string().as_str());
        known.then(|| self.kind(id.to_string().as_str()))
    }

    async fn read_stage(&self, api: &ApiId, stage: &StageName) -> Result<StageView, GatewayError> {
        self.call(format!("read {api}/{stage}"));
        let read = self
            .apis
            .lock()
            .unwrap()
            .get(api.to_string().as_str())
            .and_then(|(_, stages)| stages.get(stage.as_str()).cloned())
            .ok_or(GatewayError::NotFound {
                api: api.to_string(),
                stage: stage.to_string(),
            });
        // The answer travels back while other requests run.
        tokio::task::yield_now().await;
        read
    }

    async fn read_stages(&self, api: &ApiId) -> Result<Vec<StageView>, GatewayError> {
        self.call(format!("read {api}/*"));
        Ok(self.apis.lock().unwrap()[api.to_string().as_str()]
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
        self.refuses("write")?;
        let mut apis = self.apis.lock().unwrap();
        let view = apis
            .get_mut(api.to_string().as_str())
            .unwrap()
            .1
            .get_mut(stage.as_str())
            .unwrap();
        let values = match action {
            Action::Set(limits) => (*limits).into(),
            // As the HTTP API adapter does: an HTTP stage has no "not set".
            Action::Reset if view.kind == ApiKind::Http && *level == Level::Stage => {
                return Err(GatewayError::Unexpected("unset HTTP stage".to_owned()));
            }
            Action::Reset => Configured::default(),
        };
        match level {
            Level::Stage => view.stage_wide = values,
            level => view.methods.push((level.clone(), values)),
        }
        Ok(())
    }

    async fn read_plan(
        &self,
        plan: &crate::domain::PlanRef,
    ) -> Result<crate::domain::PlanView, GatewayError> {
        self.call(format!("read plan {plan}"));
        let plans = self.plans.lock().unwrap();
        let in_target = |p: &&crate::domain::PlanView| p.target.as_ref() == plan.target();
        plans
            .iter()
            .filter(in_target)
            .find(|p| p.bare_id() == plan.bare())
            .or_else(|| {
                plans
                    .iter()
                    .filter(in_target)
                    .find(|p| p.name == plan.bare())
            })
            .cloned()
            .ok_or_else(|| GatewayError::UnknownPlan {
                plan: plan.to_string(),
                known: plans.iter().map(|p| p.name.clone()).collect(),
            })
    }

    async fn write_plan(
        &self,
        plan: &crate::domain::PlanView,
        level: &crate::domain::PlanLevel,
        action: &Action,
        expected: Configured,
    ) -> Result<std::time::Duration, GatewayError> {
        self.call(format!("write plan {}", plan.id));
        // A real write waits for its turn: other requests run meanwhile.
        tokio::task::yield_now().await;
        let mut plans = self.plans.lock().unwrap();
        let stored = plans.iter_mut().find(|p| p.id == plan.id).unwrap();
        let now = stored.at(level).unwrap_or_default();
        if now != expected {
            return Err(GatewayError::PlanMoved {
                plan: plan.id.clone(),
                now: now.to_string(),
            });
        }
        let values = match action {
            Action::Set(limits) => (*limits).into(),
            Action::Reset => Configured::default(),
        };
        match level {
            crate::domain::PlanLevel::Plan => stored.throttle = values,
            crate::domain::PlanLevel::Method { method, path, .. } => {
                let key = crate::domain::PlanLevel::method_key(path, method);
                let methods = &mut stored.stages[0].methods;
                methods.retain(|(k, _)| *k != key);
                methods.push((key, values));
            }
        }
        Ok(self.plan_turn)
    }

    async fn plans(&self) -> Result<Vec<crate::domain::PlanView>, GatewayError> {
        self.call("list plans".to_owned());
        Ok(self.plans.lock().unwrap().clone())
    }

    async fn tag_plan(
        &self,
        plan: &crate::domain::PlanView,
        key: &str,
        value: &str,
    ) -> Result<(), GatewayError> {
        self.call(format!("tag plan {} {key}", plan.id));
        let mut plans = self.plans.lock().unwrap();
        let stored = plans.iter_mut().find(|p| p.id == plan.id).unwrap();
        stored.tags.retain(|(k, _)| k != key);
        stored.tags.push((key.to_owned(), value.to_owned()));
        Ok(())
    }

    async fn untag_plan(
        &self,
        plan: &crate::domain::PlanView,
        key: &str,
    ) -> Result<(), GatewayError> {
        self.call(format!("untag plan {} {key}", plan.id));
        let mut plans = self.plans.lock().unwrap();
        let stored = plans.iter_mut().find(|p| p.id == plan.id).unwrap();
        stored.tags.retain(|(k, _)| k != key);
        Ok(())
    }

    async fn account_limits(&self, _: &ApiId) -> Option<AccountLimits> {
        self.account
    }

    async fn traffic(
        &self,
        _: &ResolvedApi,
        levels: &[(StageName, Level)],
        from: i64,
        to: i64,
    ) -> Result<Vec<crate::domain::Traffic>, crate::core::ports::TrafficError> {
        // Logged only where there is a source to read, as production reads one.
        match &self.traffic {
            Some(traffic) => {
                self.call(format!("read traffic {from}..{to}"));
                Ok(vec![traffic.clone(); levels.len()])
            }
            None => Err(crate::core::ports::TrafficError("none".to_owned())),
        }
    }

    async fn methods(&self, api: &ApiId) -> Option<Vec<crate::domain::ApiMethod>> {
        self.call(format!("methods of {api}"));
        self.methods.clone()
    }

    async fn listing(
        &self,
        target: Option<&TargetAlias>,
    ) -> Result<Vec<ResolvedApi>, GatewayError> {
        self.call("list".to_owned());
        let apis = self.apis.lock().unwrap();
        Ok(apis
            .iter()
            .map(|(id, (name, _))| ResolvedApi {
                id: ApiId::parse(id).unwrap(),
                name: Some(name.clone()),
                kind: ApiKind::Rest,
            })
            .filter(|api| api.id.target() == target)
            .collect())
    }

    async fn apis(&self) -> Result<Vec<ApiId>, GatewayError> {
        self.call("list".to_owned());
        let apis = self.apis.lock().unwrap();
        Ok(apis.keys().map(|id| ApiId::parse(id).unwrap()).collect())
    }

    async fn tag(
        &self,
        api: &ApiId,
        stage: &StageName,
        key: &str,
        value: &str,
    ) -> Result<(), GatewayError> {
        self.call(format!("tag {api}/{stage}"));
        self.refuses("tag")?;
        let mut apis = self.apis.lock().unwrap();
        let view = apis
            .get_mut(api.to_string().as_str())
            .unwrap()
            .1
            .get_mut(stage.as_str())
            .unwrap();
        view.tags.retain(|(k, _)| k != key);
        view.tags.push((key.to_owned(), value.to_owned()));
        Ok(())
    }

    async fn untag(&self, api: &ApiId, stage: &StageName, key: &str) -> Result<(), GatewayError> {
        self.call(format!("untag {api}/{stage}"));
        self.refuses("untag")?;
        let mut apis = self.apis.lock().unwrap();
        let view = apis
            .get_mut(api.to_string().as_str())
            .unwrap()
            .1
            .get_mut(stage.as_str())
            .unwrap();
        view.tags.retain(|(k, _)| k != key);
        Ok(())
    }
}

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

mod gates;
mod interrupted;
mod plan_timed;
mod plans;
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
