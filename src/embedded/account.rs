//! The account itself: APIs by id with a name and stages, usage plans, and a log of calls. It
//! answers the `Gateway` port as the AWS adapter does, from memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::budget::Budget;
use super::settings::{Entries, entry_key};
use super::traffic::Synthetic;
use super::trail::Recorded;
use crate::core::clock::unix_now;
use crate::core::ports::{Gateway, GatewayError, TrafficError};
use crate::domain::{
    AccountLimits, Action, ApiId, ApiKind, ApiMethod, ApiName, Configured, Level, PlanLevel,
    PlanRef, PlanView, ResolvedApi, StageName, StageView, TargetAlias, Traffic, Trail, TrailCall,
    TrailWhat,
};

/// An API's name and its stages by name.
pub type NamedStages = (String, HashMap<String, StageView>);

/// An API Gateway account in memory. Every field can be set directly by the runner's tests;
/// `try` builds one with [`super::sample`].
#[derive(Default)]
pub struct Account {
    pub(crate) apis: Mutex<HashMap<String, NamedStages>>,
    pub(crate) account: Option<AccountLimits>,
    pub(crate) calls: Mutex<Vec<String>>,
    /// Usage plans, and how long a plan write waits for its turn.
    pub(crate) plans: Mutex<Vec<PlanView>>,
    pub(crate) plan_turn: Duration,
    /// The methods of every API, where the kind lists them (`None`: not checked).
    pub(crate) methods: Option<Vec<ApiMethod>>,
    /// The methods of one API by id, before [`Account::methods`].
    pub(crate) api_methods: HashMap<String, Vec<ApiMethod>>,
    /// What every level served in the last hour (`None`: see `synthetic`).
    pub(crate) traffic: Option<Traffic>,
    /// Traffic made up minute by minute, throttled by the limits in force then.
    pub(crate) synthetic: Option<Synthetic>,
    /// Calls (`write`, `tag`, `untag`) that fail from now on, as AWS refusing them would;
    /// `write-unanswered`: a write that lands but whose answer never comes (a timeout);
    /// `write-lost`: one that times out without landing.
    pub(crate) failing: Mutex<Vec<&'static str>>,
    /// How long each stage write takes before it lands (the process's pace, the SDK's
    /// retries), when set.
    pub(crate) slow_writes: Mutex<Option<Duration>>,
    /// The same for each stage tag write.
    pub(crate) slow_tags: Mutex<Option<Duration>>,
    /// Each stage's method entries' settings other than throttling.
    pub(crate) entries: Entries,
    /// The management calls' shared budget (`None`: unlimited).
    pub(crate) budget: Option<Budget>,
    /// What CloudTrail would have recorded.
    pub(crate) trail: Recorded,
}

impl Account {
    pub fn with_api(self, id: &str, name: &str, stage: &str) -> Self {
        let view = StageView {
            updated: None,
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

    /// Another stage, nothing set, on an API already there.
    pub fn with_stage(self, id: &str, stage: &str) -> Self {
        if let Some((_, stages)) = self.apis.lock().unwrap().get_mut(id) {
            let kind = stages
                .values()
                .next()
                .map_or(ApiKind::Rest, |view| view.kind);
            let view = StageView {
                updated: None,
                stage: stage.to_owned(),
                kind,
                ..StageView::default()
            };
            stages.insert(stage.to_owned(), view);
        }
        self
    }

    /// The same, as an HTTP API's stage.
    pub fn with_http_api(self, id: &str, name: &str, stage: &str) -> Self {
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

    pub(crate) fn kind(&self, id: &str) -> ApiKind {
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

    /// Logs a management call, which spends the account's budget first and is refused (429,
    /// `TooManyRequestsException`) when it is spent.
    fn managed(&self, what: String) -> Result<(), GatewayError> {
        if let Some(budget) = &self.budget
            && !budget.take()
        {
            self.call(format!("{what} (throttled)"));
            return Err(GatewayError::Throttled);
        }
        self.call(what);
        Ok(())
    }

    /// Every call so far, in order, as one line each.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    /// A stage's stage-wide values as stored.
    pub fn stage_wide(&self, id: &str, stage: &str) -> Configured {
        self.apis.lock().unwrap()[id].1[stage].stage_wide
    }

    /// A deploy pipeline sharing the account spends its whole management budget for `secs`
    /// seconds: every call meanwhile is answered 429. `false` where the account has no budget.
    pub fn busy_for(&self, secs: i64) -> bool {
        match &self.budget {
            Some(budget) => {
                budget.spend_until(crate::core::clock::unix_now() + secs);
                true
            }
            None => false,
        }
    }

    /// The stage's throttling entries and their other settings, as `get-stage` would list
    /// them, one line each; `None` for a stage the account does not have.
    /// `api` by id or name.
    pub fn describe(&self, api: &str, stage: &str) -> Option<Vec<String>> {
        let apis = self.apis.lock().unwrap();
        let (id, (_, stages)) = apis
            .get_key_value(api)
            .or_else(|| apis.iter().find(|(_, (name, _))| name == api))?;
        let view = stages.get(stage)?;
        Some(self.entries.describe(&format!("{id}/{stage}"), view))
    }
}

impl Gateway for Account {
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
                suggestions: crate::domain::text::close_names(
                    name,
                    apis.iter()
                        .filter(|(id, _)| ApiId::parse(id).unwrap().target() == wanted.target())
                        .map(|(_, (name, _))| name.as_str()),
                ),
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
        self.managed(format!("read {api}/{stage}"))?;
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
        self.managed(format!("read {api}/*"))?;
        let apis = self.apis.lock().unwrap();
        let Some((_, stages)) = apis.get(api.to_string().as_str()) else {
            return Err(GatewayError::ApiNotFound {
                api: api.to_string(),
            });
        };
        let mut views: Vec<StageView> = stages.values().cloned().collect();
        views.sort_by(|a, b| a.stage.cmp(&b.stage));
        Ok(views)
    }

    async fn write(
        &self,
        api: &ApiId,
        stage: &StageName,
        level: &Level,
        action: &Action,
    ) -> Result<(), GatewayError> {
        self.managed(format!("write {api}/{stage}"))?;
        self.refuses("write")?;
        self.refuses("write-lost")
            .map_err(|_| GatewayError::Timeout { seconds: 6 })?;
        let slow = *self.slow_writes.lock().unwrap();
        if let Some(slow) = slow {
            crate::core::clock::sleep(slow).await;
        }
        let mut apis = self.apis.lock().unwrap();
        let view = stage_mut(&mut apis, api, stage)?;
        let values = match action {
            Action::Set(limits) => (*limits).into(),
            // As the HTTP API adapter does: an HTTP stage has no "not set".
            Action::Reset if view.kind == ApiKind::Http && *level == Level::Stage => {
                return Err(GatewayError::Unexpected("unset HTTP stage".to_owned()));
            }
            Action::Reset => Configured::default(),
        };
        // An entry is one per level: a second setting replaces the first, a reset removes the
        // throttle (the entry's other settings are the `entries`' to keep or drop).
        // A write that changes nothing does not date the stage (the less convenient reading
        // where AWS says nothing); one that does, does.
        if view.at(level) != values {
            view.updated = Some(unix_now());
        }
        match level {
            Level::Stage => view.stage_wide = values,
            level => {
                view.methods.retain(|(held, _)| held != level);
                if values.is_set() {
                    view.methods.push((level.clone(), values));
                }
            }
        }
        let place = format!("{api}/{stage}");
        let call = match (view.kind, level, action) {
            (ApiKind::Http, Level::Method { .. } | Level::DefaultRoute, Action::Reset) => {
                TrailCall::DeleteRouteSettings
            }
            _ => TrailCall::UpdateStage,
        };
        self.trail
            .wrote(&api.to_string(), stage.as_str(), level, action, call);
        let key = entry_key(view.kind, level);
        match action {
            Action::Set(_) => self.entries.set(&place, view.kind, &key),
            Action::Reset => self.entries.reset(&place, view.kind, &key),
        }
        if let Some(synthetic) = &self.synthetic {
            synthetic.changed(&place, level, values);
        }
        // Landed, but nobody heard back.
        self.refuses("write-unanswered")
            .map_err(|_| GatewayError::Timeout { seconds: 6 })
    }

    async fn read_plan(&self, plan: &PlanRef) -> Result<PlanView, GatewayError> {
        self.managed(format!("read plan {plan}"))?;
        let plans = self.plans.lock().unwrap();
        let in_target = |p: &&PlanView| p.target.as_ref() == plan.target();
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
        plan: &PlanView,
        level: &PlanLevel,
        action: &Action,
        expected: Configured,
    ) -> Result<Duration, GatewayError> {
        self.managed(format!("write plan {}", plan.id))?;
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
            PlanLevel::Plan => stored.throttle = values,
            PlanLevel::Method { method, path, .. } => {
                let key = PlanLevel::method_key(path, method);
                let methods = &mut stored.stages[0].methods;
                methods.retain(|(k, _)| *k != key);
                methods.push((key, values));
            }
        }
        Ok(self.plan_turn)
    }

    async fn plans(&self) -> Result<Vec<PlanView>, GatewayError> {
        self.managed("list plans".to_owned())?;
        Ok(self.plans.lock().unwrap().clone())
    }

    async fn tag_plan(&self, plan: &PlanView, key: &str, value: &str) -> Result<(), GatewayError> {
        self.managed(format!("tag plan {} {key}", plan.id))?;
        let mut plans = self.plans.lock().unwrap();
        let stored = plans.iter_mut().find(|p| p.id == plan.id).unwrap();
        stored.tags.retain(|(k, _)| k != key);
        stored.tags.push((key.to_owned(), value.to_owned()));
        Ok(())
    }

    async fn untag_plan(&self, plan: &PlanView, key: &str) -> Result<(), GatewayError> {
        self.managed(format!("untag plan {} {key}", plan.id))?;
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
        api: &ResolvedApi,
        levels: &[(StageName, Level)],
        from: i64,
        to: i64,
    ) -> Result<Vec<Traffic>, TrafficError> {
        // Logged only where there is a source to read, as production reads one.
        if let Some(traffic) = &self.traffic {
            self.call(format!("read traffic {from}..{to}"));
            return Ok(vec![traffic.clone(); levels.len()]);
        }
        let Some(synthetic) = &self.synthetic else {
            return Err(TrafficError("none".to_owned()));
        };
        self.call(format!("read traffic {from}..{to}"));
        let account = self.account.map_or(f64::INFINITY, |limits| limits.rate);
        Ok(levels
            .iter()
            .map(|(stage, level)| {
                let place = format!("{}/{stage}", api.id);
                synthetic.served(&place, level, (from, to), account)
            })
            .collect())
    }

    async fn methods(&self, api: &ApiId) -> Option<Vec<ApiMethod>> {
        self.call(format!("methods of {api}"));
        self.api_methods
            .get(api.to_string().as_str())
            .cloned()
            .or_else(|| self.methods.clone())
    }

    async fn listing(
        &self,
        target: Option<&TargetAlias>,
    ) -> Result<Vec<ResolvedApi>, GatewayError> {
        self.call("list".to_owned());
        let apis = self.apis.lock().unwrap();
        let mut listed: Vec<ResolvedApi> = apis
            .iter()
            .map(|(id, (name, stages))| ResolvedApi {
                id: ApiId::parse(id).unwrap(),
                name: Some(name.clone()),
                kind: stages
                    .values()
                    .next()
                    .map_or(ApiKind::Rest, |view| view.kind),
            })
            .filter(|api| api.id.target() == target)
            .collect();
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(listed)
    }

    async fn apis(&self) -> Result<Vec<ApiId>, GatewayError> {
        self.call("list".to_owned());
        let apis = self.apis.lock().unwrap();
        let mut ids: Vec<ApiId> = apis.keys().map(|id| ApiId::parse(id).unwrap()).collect();
        ids.sort_by_key(ToString::to_string);
        Ok(ids)
    }

    async fn tag(
        &self,
        api: &ApiId,
        stage: &StageName,
        tags: &[(String, String)],
    ) -> Result<(), GatewayError> {
        self.managed(format!("tag {api}/{stage}"))?;
        self.refuses("tag")?;
        let slow = *self.slow_tags.lock().unwrap();
        if let Some(slow) = slow {
            crate::core::clock::sleep(slow).await;
        }
        let mut apis = self.apis.lock().unwrap();
        let view = stage_mut(&mut apis, api, stage)?;
        for (key, value) in tags {
            view.tags.retain(|(k, _)| k != key);
            view.tags.push((key.clone(), value.clone()));
        }
        // As the AWS stand-in: a tag write dates the stage (AWS does not say; the less
        // convenient reading for this service's own records).
        view.updated = Some(unix_now());
        let tagged = TrailWhat::Tagged(tags.to_vec());
        let (api, stage) = (api.to_string(), stage.as_str());
        self.trail
            .record(&api, stage, TrailCall::TagResource, tagged);
        Ok(())
    }

    async fn history(
        &self,
        api: &ApiId,
        stage: Option<&StageName>,
        since: i64,
    ) -> Result<Trail, GatewayError> {
        self.call(format!("history of {api}"));
        let stage = stage.map(StageName::as_str);
        Ok(self.trail.since(&api.to_string(), stage, since))
    }

    async fn untag(&self, api: &ApiId, stage: &StageName, key: &str) -> Result<(), GatewayError> {
        self.managed(format!("untag {api}/{stage}"))?;
        self.refuses("untag")?;
        let mut apis = self.apis.lock().unwrap();
        let view = stage_mut(&mut apis, api, stage)?;
        view.tags.retain(|(k, _)| k != key);
        view.updated = Some(unix_now());
        let untagged = TrailWhat::Untagged(vec![key.to_owned()]);
        self.trail.record(
            &api.to_string(),
            stage.as_str(),
            TrailCall::UntagResource,
            untagged,
        );
        Ok(())
    }
}

/// One stage of the account, as a write or a tag call finds it (AWS's NotFound if it is not
/// there).
fn stage_mut<'a>(
    apis: &'a mut HashMap<String, NamedStages>,
    api: &ApiId,
    stage: &StageName,
) -> Result<&'a mut StageView, GatewayError> {
    apis.get_mut(api.to_string().as_str())
        .and_then(|(_, stages)| stages.get_mut(stage.as_str()))
        .ok_or(GatewayError::NotFound {
            api: api.to_string(),
            stage: stage.to_string(),
        })
}
