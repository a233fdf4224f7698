//! API Gateway through the AWS SDK: the core's gateway port, for both kinds of API. Thin: SDK
//! calls, caches of the API list and the account quota, and errors translated into terms an
//! operator can act on. Each kind's calls and rules are in its own module (`rest`, `http`);
//! this one finds which kind an API is and sends each call to it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_apigateway::error::ProvideErrorMetadata;
use tokio::sync::OnceCell;

use super::connection::Connection;
use super::pacer::Pacer;
use super::plan_queue::PlanQueue;
use super::targets::TargetConfig;
use crate::core::ports::{Gateway, GatewayError, TrafficError};
use crate::domain::{
    AccountLimits, Action, ApiId, ApiKind, ApiMethod, ApiName, Configured, Level, ManagedBy,
    PlanLevel, PlanRef, PlanView, Principal, ResolvedApi, StageName, StageView, TAG_PREFIX,
    TargetAlias, Traffic, Trail,
};

mod errors;
mod history;
mod http;
mod listing;
mod plans;
mod records;
mod rest;

pub use records::Calls;

use errors::stage_not_found;
use listing::{ApiList, Listed, Listing, close_names};

/// How long the list of API names and the account quota are reused.
const NAMES_TTL: Duration = Duration::from_secs(60);
const ACCOUNT_TTL: Duration = Duration::from_secs(300);

/// How this process uses the management API.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewaySettings {
    /// At most this many management calls per second from this process, on average.
    pub calls_per_second: f64,
    /// At most this many at once after a quiet spell.
    pub calls_burst: u32,
    /// The same name, missing from the cached list of APIs, refreshes it at most this often.
    pub list_refresh: Duration,
    /// Other accounts and regions (the targets file); empty: the home target only.
    pub targets: Vec<TargetConfig>,
    /// UpdateUsagePlan calls in one account go at most this often (AWS: about one per 20 s).
    pub plan_spacing: Duration,
    /// The value of the marker written with every timed-change record (the deployment's mark,
    /// from its signing secret); `None` without a secret, when no record can be sealed.
    pub records_mark: Option<String>,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            calls_per_second: 5.0,
            calls_burst: 10,
            list_refresh: Duration::from_secs(5),
            targets: Vec::new(),
            plan_spacing: Duration::from_secs(20),
            records_mark: None,
        }
    }
}

/// Writes retry throttling this many times at most, within this long.
const WRITE_ATTEMPTS: u32 = 8;
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(45);

/// The SDK clients of the two APIs, on one shared configuration (and one pace).
struct Clients {
    rest: aws_sdk_apigateway::Client,
    http: aws_sdk_apigatewayv2::Client,
    /// The Resource Groups Tagging API: where the sweep finds the records (its own quota).
    tagging: aws_sdk_resourcegroupstagging::Client,
}

/// Whether the AWS setup is known, for `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Starting,
    Ready,
    NotReady(String),
}

/// API Gateway in one target (an account and region), reached through one SDK client built on
/// first use (or by [`TargetGateway::warm_up`]).
///
/// Building the client may probe the network (IMDS for the region, STS for a role), so it
/// never runs before the server listens.
pub struct TargetGateway {
    settings: GatewaySettings,
    /// The target's alias (stamped on every id its listings find); `None` for home.
    target: Option<TargetAlias>,
    /// How the target is reached; `None` for home (the standard chain as it is).
    reach: Option<TargetConfig>,
    /// Shared by every target in the same account and region: their budget is one.
    pacer: Arc<Pacer>,
    /// Turns for UpdateUsagePlan, shared the same way.
    plan_queue: Arc<PlanQueue>,
    connection: OnceCell<(Connection, Clients)>,
    /// Held across a listing, so concurrent lookups share one listing (single flight).
    names: tokio::sync::Mutex<Option<(Instant, ApiList)>>,
    /// Held across GetAccount, so concurrent commands share one call.
    account: tokio::sync::Mutex<Option<(Instant, AccountLimits)>>,
    /// Names and ids just missed, with when: each refreshes the list at most once a while.
    missed: std::sync::Mutex<HashMap<String, Instant>>,
    /// Every API id any listing has found, with its kind (an id's kind never changes).
    kinds: std::sync::Mutex<HashMap<String, Listing>>,
    /// Whether the last listing stopped at the memory budget (`listing::MAX_LISTED`).
    over_budget: std::sync::atomic::AtomicBool,
    /// Stages' traffic, from CloudWatch.
    traffic: super::traffic::CloudWatch,
    /// CloudTrail's event history (`history`), read at its own pace: two lookups a second per
    /// account and region, shared like the management pace.
    trail: OnceCell<aws_sdk_cloudtrail::Client>,
    trail_pacer: Arc<Pacer>,
    /// This service's own AWS identity, asked once (to tell its own events in CloudTrail).
    identity: OnceCell<Option<Principal>>,
    /// The calls made in this target, by budget (the sweep's cost, on `/metrics`).
    calls: Arc<Calls>,
}

/// The paces one account and region shares: management calls, usage plan turns, CloudTrail
/// lookups.
pub type Paces = (Arc<Pacer>, Arc<PlanQueue>, Arc<Pacer>);

impl TargetGateway {
    /// The home target: the service's own credentials and region.
    pub fn home(settings: &GatewaySettings, paces: Paces) -> Self {
        Self::reaching(settings, None, paces)
    }

    /// Another target, or home when `reach` is `None`.
    pub fn reaching(
        settings: &GatewaySettings,
        reach: Option<TargetConfig>,
        (pacer, plan_queue, trail_pacer): Paces,
    ) -> Self {
        Self {
            settings: settings.clone(),
            target: reach.as_ref().map(|t| t.alias.clone()),
            reach,
            pacer,
            plan_queue,
            connection: OnceCell::new(),
            names: tokio::sync::Mutex::new(None),
            account: tokio::sync::Mutex::new(None),
            missed: std::sync::Mutex::new(HashMap::new()),
            kinds: std::sync::Mutex::new(HashMap::new()),
            over_budget: std::sync::atomic::AtomicBool::new(false),
            traffic: super::traffic::CloudWatch::default(),
            trail: OnceCell::new(),
            trail_pacer,
            identity: OnceCell::new(),
            calls: Arc::default(),
        }
    }

    /// Whether two targets take turns under one pace (and one plan queue).
    #[cfg(test)]
    pub fn shares_paces_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.pacer, &other.pacer)
            && Arc::ptr_eq(&self.plan_queue, &other.plan_queue)
            && Arc::ptr_eq(&self.trail_pacer, &other.trail_pacer)
    }

    /// Resolves the AWS setup now, so that the first command does not wait for it.
    pub async fn warm_up(&self) {
        self.connection().await;
    }

    pub fn readiness(&self) -> Readiness {
        match self.connection.get() {
            None => Readiness::Starting,
            Some((connection, _)) => match &connection.setup {
                Ok(()) => Readiness::Ready,
                Err(error) => Readiness::NotReady(error.to_string()),
            },
        }
    }

    async fn connection(&self) -> &(Connection, Clients) {
        self.connection
            .get_or_init(|| async {
                let connection = Connection::resolve(self.reach.as_ref()).await;
                let config = &connection.config;
                let counted = records::Counting::management(&self.calls);
                let clients = Clients {
                    rest: aws_sdk_apigateway::Client::from_conf(
                        aws_sdk_apigateway::config::Builder::from(config)
                            .interceptor(counted.clone())
                            .build(),
                    ),
                    http: aws_sdk_apigatewayv2::Client::from_conf(
                        aws_sdk_apigatewayv2::config::Builder::from(config)
                            .interceptor(counted)
                            .build(),
                    ),
                    tagging: aws_sdk_resourcegroupstagging::Client::from_conf(
                        aws_sdk_resourcegroupstagging::config::Builder::from(config)
                            .interceptor(records::Counting::tagging(&self.calls))
                            .build(),
                    ),
                };
                (connection, clients)
            })
            .await
    }

    /// The clients, once this call's turn under the process's pace has come (both kinds share
    /// the account's budget); or why AWS cannot be called at all (no region).
    async fn clients(&self) -> Result<&Clients, GatewayError> {
        let (connection, clients) = self.connection().await;
        self.pacer.wait().await;
        match &connection.setup {
            Err(GatewayError::NoRegion) => Err(GatewayError::NoRegion),
            _ => Ok(clients),
        }
    }

    fn region(&self) -> String {
        self.connection
            .get()
            .and_then(|(c, _)| c.config.region().map(ToString::to_string))
            .unwrap_or_else(|| "REGION".to_owned())
    }

    /// An id a listing of this target found, as the core knows it (with the target's alias).
    fn stamped(&self, raw: &str) -> Result<ApiId, GatewayError> {
        ApiId::parse(raw)
            .map(|id| id.in_target(self.target.clone()))
            .map_err(|e| GatewayError::Unexpected(e.to_string()))
    }

    /// An id or name of this target as a user types it (`prod:…` outside home).
    fn qualified(&self, bare: &str) -> String {
        match &self.target {
            Some(alias) => format!("{alias}:{bare}"),
            None => bare.to_owned(),
        }
    }
}

impl Gateway for TargetGateway {
    /// Among APIs of both kinds: a name several APIs share is refused with each one's id and
    /// kind; a WebSocket API's is refused as such.
    async fn find_by_name(&self, wanted: &ApiName) -> Result<ResolvedApi, GatewayError> {
        let name = wanted.name();
        let (hits, list) = self
            .search(name, |list| {
                let hits: Vec<Listed> = list
                    .iter()
                    .filter(|api| api.name == name)
                    .cloned()
                    .collect();
                (!hits.is_empty()).then_some(hits)
            })
            .await?;
        match hits.as_deref() {
            Some([only]) => match only.kind {
                Listing::Api(kind) => Ok(ResolvedApi {
                    id: self.stamped(&only.id)?,
                    name: Some(name.to_owned()),
                    kind,
                }),
                Listing::WebSocket => Err(GatewayError::WebSocketApi {
                    api: wanted.to_string(),
                }),
            },
            Some(several) => Err(GatewayError::AmbiguousApiName {
                name: wanted.to_string(),
                candidates: several
                    .iter()
                    .map(|api| {
                        let id = self.qualified(&api.id);
                        match api.kind {
                            Listing::Api(kind) => format!("{id} ({kind})"),
                            Listing::WebSocket => format!("{id} (WebSocket API)"),
                        }
                    })
                    .collect(),
            }),
            None if self.over_budget.load(std::sync::atomic::Ordering::Relaxed) => {
                Err(GatewayError::TooManyApis {
                    name: wanted.to_string(),
                    listed: list.len(),
                })
            }
            None => Err(GatewayError::UnknownApiName {
                name: wanted.to_string(),
                suggestions: close_names(name, &list)
                    .into_iter()
                    .map(|name| self.qualified(&name))
                    .collect(),
            }),
        }
    }

    async fn name_of(&self, id: &ApiId) -> Result<Option<String>, GatewayError> {
        let (name, _) = self
            .search(id.id(), |list| {
                list.iter()
                    .find(|api| api.id == id.id())
                    .map(|api| api.name.clone())
            })
            .await?;
        Ok(name)
    }

    fn known_name(&self, id: &ApiId) -> Option<String> {
        let cached = self.names.try_lock().ok()?;
        let (_, list) = cached.as_ref()?;
        list.iter()
            .find(|api| api.id == id.id())
            .map(|api| api.name.clone())
    }

    fn known_kind(&self, id: &ApiId) -> Option<ApiKind> {
        match self.listed_kind(id)? {
            Listing::Api(kind) => Some(kind),
            Listing::WebSocket => None,
        }
    }

    /// An id no listing has yet is read as a REST API's first (one call, as before HTTP APIs);
    /// when that finds nothing, the list is refreshed to see whether it is an HTTP API's.
    /// `$default` is only ever an HTTP API's stage: a REST API is not asked for it.
    async fn read_stage(&self, api: &ApiId, stage: &StageName) -> Result<StageView, GatewayError> {
        let no_default = || GatewayError::NoDefaultStage {
            api: api.to_string(),
        };
        let default = stage.as_str() == StageName::DEFAULT;
        match self.listed_kind(api) {
            Some(_) => match self.kind_for_call(api)? {
                ApiKind::Rest if default => Err(no_default()),
                ApiKind::Rest => self.rest_stage(api, stage).await,
                ApiKind::Http => self.http_stage(api, stage).await,
            },
            None if default => match self.find_kind(api).await? {
                Some(ApiKind::Http) => self.http_stage(api, stage).await,
                Some(ApiKind::Rest) => Err(no_default()),
                None => Err(GatewayError::ApiNotFound {
                    api: api.to_string(),
                }),
            },
            None => match self.rest_stage(api, stage).await {
                Err(error) if error.is_not_found() => match self.find_kind(api).await? {
                    Some(ApiKind::Http) => self.http_stage(api, stage).await,
                    _ => Err(error),
                },
                read => read,
            },
        }
    }

    async fn read_stages(&self, api: &ApiId) -> Result<Vec<StageView>, GatewayError> {
        match self.find_kind(api).await? {
            Some(ApiKind::Http) => self.http_stages(api).await,
            _ => self.rest_stages(api).await,
        }
    }

    async fn write(
        &self,
        api: &ApiId,
        stage: &StageName,
        level: &Level,
        action: &Action,
    ) -> Result<(), GatewayError> {
        match self.kind_for_call(api)? {
            ApiKind::Rest => self.rest_write(api, stage, level, action).await,
            ApiKind::Http => self.http_write(api, stage, level, action).await,
        }
    }

    async fn read_plan(&self, plan: &PlanRef) -> Result<PlanView, GatewayError> {
        self.find_plan(plan).await
    }

    fn plan_wait(&self, _: Option<&TargetAlias>) -> Duration {
        self.plan_queue.wait()
    }

    async fn plans(&self) -> Result<Vec<PlanView>, GatewayError> {
        self.list_plans().await
    }

    async fn tag_plan(&self, plan: &PlanView, key: &str, value: &str) -> Result<(), GatewayError> {
        if let Some(mark) = self.mark_for(key) {
            let on = records::Tagged::plan(plan.bare_id());
            return self.tag_marked(&on, (key, value), mark, None).await;
        }
        TargetGateway::tag_plan(self, plan, key, value).await
    }

    async fn untag_plan(&self, plan: &PlanView, key: &str) -> Result<(), GatewayError> {
        if let Some(mark) = self.mark_for(key) {
            let on = records::Tagged::plan(plan.bare_id());
            return self.untag_marked(&on, key, mark, None).await;
        }
        TargetGateway::untag_plan(self, plan, key).await
    }

    async fn write_plan(
        &self,
        plan: &PlanView,
        level: &PlanLevel,
        action: &Action,
        expected: Configured,
    ) -> Result<Duration, GatewayError> {
        self.update_plan(plan, level, action, expected).await
    }

    /// This target's REST and HTTP APIs, from the (cached) list of APIs.
    async fn listing(&self, _: Option<&TargetAlias>) -> Result<Vec<ResolvedApi>, GatewayError> {
        let refresh = self.settings.list_refresh;
        let list = self.api_list(|at| at.elapsed() < refresh).await?;
        Ok(list
            .iter()
            .filter_map(|api| match api.kind {
                Listing::Api(kind) => Some(ResolvedApi {
                    id: self.stamped(&api.id).ok()?,
                    name: Some(api.name.clone()),
                    kind,
                }),
                Listing::WebSocket => None,
            })
            .collect())
    }

    /// Every REST and HTTP API's id, from the (cached) list of APIs.
    async fn apis(&self) -> Result<Vec<ApiId>, GatewayError> {
        let refresh = self.settings.list_refresh;
        let list = self.api_list(|at| at.elapsed() < refresh).await?;
        Ok(list
            .iter()
            .filter(|api| matches!(api.kind, Listing::Api(_)))
            .filter_map(|api| self.stamped(&api.id).ok())
            .collect())
    }

    async fn tag(
        &self,
        api: &ApiId,
        stage: &StageName,
        tags: &[(String, String)],
    ) -> Result<(), GatewayError> {
        let kind = self.kind_for_call(api)?;
        let on = records::Tagged::stage(kind, api, stage);
        let not_found = Some(errors::stage_not_found(api, stage));
        let mut pairs: Vec<(&str, &str)> =
            tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        // A record carries the marker the sweep finds it by, written in the same call.
        if let Some(mark) = tags.iter().find_map(|(key, _)| self.mark_for(key)) {
            pairs.push((crate::domain::MARKER_KEY, mark));
        }
        self.set_tags(&on, &pairs, not_found).await
    }

    async fn untag(&self, api: &ApiId, stage: &StageName, key: &str) -> Result<(), GatewayError> {
        let kind = self.kind_for_call(api)?;
        if let Some(mark) = self.mark_for(key) {
            let on = records::Tagged::stage(kind, api, stage);
            let not_found = Some(errors::stage_not_found(api, stage));
            return self.untag_marked(&on, key, mark, not_found).await;
        }
        match kind {
            ApiKind::Rest => self.rest_untag(api, stage, key).await,
            ApiKind::Http => self.http_untag(api, stage, key).await,
        }
    }

    /// From CloudWatch: a REST API's metrics are keyed by its name, taken from the cached list
    /// when the caller did not have it (never listed for this: that would spend the management
    /// budget on a read that may be skipped).
    async fn traffic(
        &self,
        api: &ResolvedApi,
        levels: &[(StageName, Level)],
        from: i64,
        to: i64,
    ) -> Result<Vec<Traffic>, TrafficError> {
        let name = match (api.kind, &api.name) {
            (ApiKind::Rest, None) => self.known_name(&api.id),
            (_, name) => name.clone(),
        };
        // From the cached list too: a REST API that shares its published name shares metrics.
        let shares_name = match (api.kind, &name, self.names.try_lock()) {
            (ApiKind::Rest, Some(name), Ok(cached)) => cached.as_ref().is_some_and(|(_, list)| {
                let rest = list
                    .iter()
                    .filter(|a| a.kind == Listing::Api(ApiKind::Rest))
                    .map(|a| (a.id.as_str(), a.name.as_str()));
                super::traffic::shares_name(api.id.id(), name, rest)
            }),
            _ => false,
        };
        let (connection, _) = self.connection().await;
        let published = super::traffic::Published {
            kind: api.kind,
            id: api.id.id(),
            name: name.as_deref(),
            shares_name,
        };
        self.traffic
            .read(&connection.config, published, levels, from, to)
            .await
    }

    async fn history(
        &self,
        api: &ApiId,
        stage: Option<&StageName>,
        since: i64,
    ) -> Result<Trail, GatewayError> {
        TargetGateway::history(self, api, stage, since).await
    }

    /// Drawn by CloudWatch from the metrics `traffic` reads, under the same names.
    async fn traffic_picture(
        &self,
        api: &ResolvedApi,
        stage: &StageName,
        level: &Level,
        limits: &[(String, f64)],
        window: (i64, i64),
    ) -> Result<Vec<u8>, TrafficError> {
        let name = match (api.kind, &api.name) {
            (ApiKind::Rest, None) => self.known_name(&api.id),
            (_, name) => name.clone(),
        };
        let (connection, _) = self.connection().await;
        let published = super::traffic::Published {
            kind: api.kind,
            id: api.id.id(),
            name: name.as_deref(),
            shares_name: false,
        };
        self.traffic
            .picture(
                &connection.config,
                published,
                (stage, level),
                limits,
                window,
            )
            .await
    }

    /// A REST API's resources and methods; an HTTP API's routes (so a typo is told before a
    /// preview asks to confirm it, not by UpdateStage after).
    async fn methods(&self, api: &ApiId) -> Option<Vec<ApiMethod>> {
        match self.kind_for_call(api).ok()? {
            ApiKind::Rest => self.rest_methods(api).await,
            ApiKind::Http => self.http_methods(api).await,
        }
    }

    /// The account's regional quota (GetAccount), reused for five minutes. `None` when it
    /// cannot be read: the quota check is a safety net, not a reason to refuse every change.
    async fn account_limits(&self, _: &ApiId) -> Option<AccountLimits> {
        let mut cached = self.account.lock().await;
        if let Some((at, limits)) = *cached
            && at.elapsed() < ACCOUNT_TTL
        {
            return Some(limits);
        }
        let client = &self.clients().await.ok()?.rest;
        match client.get_account().send().await {
            Ok(account) => {
                let settings = account.throttle_settings()?;
                let limits = AccountLimits {
                    rate: settings.rate_limit(),
                    burst: settings.burst_limit(),
                };
                *cached = Some((Instant::now(), limits));
                Some(limits)
            }
            Err(err) if err.code().is_some() => {
                tracing::warn!(
                    code = err.code().unwrap_or_default(),
                    "could not read the account's throttling quota (GetAccount needs apigateway:GET on /account); not checking against it"
                );
                None
            }
            Err(_) => {
                // No answer at all: the call that follows names the cause (region, credentials,
                // network); GetAccount permissions are not to blame.
                None
            }
        }
    }
}

/// A list the method check could not read: logged with the AWS error code and the permission
/// it needs, and the check skipped (it helps a user, it never blocks a change).
fn methods_unread(code: Option<&str>, api: &ApiId, call: &str, needs: &str) {
    tracing::warn!(
        code = code.unwrap_or("none"),
        api = api.id(),
        "could not list the API's methods ({call} needs apigateway:GET on {needs}); not checking the method exists"
    );
}

/// A write someone is waiting for rides out a busy account longer than a read: more attempts,
/// with the SDK's exponential backoff, bounded by [`WRITE_TIMEOUT`]; then the user is told.
fn retries() -> (RetryConfig, TimeoutConfig) {
    (
        RetryConfig::standard()
            .with_max_attempts(WRITE_ATTEMPTS)
            .with_max_backoff(Duration::from_secs(5)),
        TimeoutConfig::builder()
            .operation_timeout(WRITE_TIMEOUT)
            .build(),
    )
}

/// A stage as the core sees it, whichever kind of API it belongs to: levels sorted, and only
/// the tags that say who deploys it or that this service may have written.
fn stage_view(
    kind: ApiKind,
    name: &str,
    stage_wide: Configured,
    mut methods: Vec<(Level, Configured)>,
    tags: Option<&HashMap<String, String>>,
    updated: Option<&aws_sdk_apigateway::primitives::DateTime>,
) -> StageView {
    methods.sort_by_key(|(level, _)| level.to_string());
    StageView {
        updated: updated.map(|at| at.secs()),
        stage: name.to_owned(),
        kind,
        stage_wide,
        methods,
        managed_by: tags.and_then(|tags| {
            ManagedBy::from_tags(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        }),
        tags: tags
            .map(|tags| {
                tags.iter()
                    .filter(|(key, _)| key.starts_with(TAG_PREFIX))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        timed: Vec::new(),
        claims: Vec::new(),
        unsealed: Vec::new(),
        traffic: Vec::new(),
    }
}
