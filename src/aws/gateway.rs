//! API Gateway through the AWS SDK: the core's gateway port, for both kinds of API. Thin: SDK
//! calls, caches of the API list and the account quota, and errors translated into terms an
//! operator can act on. Each kind's calls and rules are in its own module (`rest`, `http`);
//! this one finds which kind an API is and sends each call to it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_apigateway::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_apigatewayv2::types::ProtocolType;
use tokio::sync::OnceCell;

use super::connection::{Connection, OPERATION_TIMEOUT};
use super::pacer::Pacer;
use super::plan_queue::PlanQueue;
use super::targets::TargetConfig;
use crate::core::ports::{Gateway, GatewayError, TrafficError};
use crate::domain::{
    AccountLimits, Action, ApiId, ApiKind, ApiName, Configured, Level, ManagedBy, PlanLevel,
    PlanRef, PlanView, ResolvedApi, StageName, StageView, TAG_PREFIX, TargetAlias, Traffic,
};

mod http;
mod plans;
mod rest;

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
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            calls_per_second: 5.0,
            calls_burst: 10,
            list_refresh: Duration::from_secs(5),
            targets: Vec::new(),
            plan_spacing: Duration::from_secs(20),
        }
    }
}

/// Writes retry throttling this many times at most, within this long.
const WRITE_ATTEMPTS: u32 = 8;
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(45);

/// One API as the listings name it.
#[derive(Debug, Clone, PartialEq)]
struct Listed {
    id: String,
    name: String,
    kind: Listing,
}

/// What kind of API a listing found: one this service changes, or a WebSocket API (listed by
/// GetApis beside HTTP APIs, and refused by name).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Listing {
    Api(ApiKind),
    WebSocket,
}

type ApiList = Arc<Vec<Listed>>;

/// The SDK clients of the two APIs, on one shared configuration (and one pace).
struct Clients {
    rest: aws_sdk_apigateway::Client,
    http: aws_sdk_apigatewayv2::Client,
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
    /// Stages' traffic, from CloudWatch.
    traffic: super::traffic::CloudWatch,
}

/// How many recent misses are remembered (a flood of distinct typos only refreshes the list at
/// the pace, and forgets nothing it needs).
const MAX_MISSES: usize = 10_000;

impl TargetGateway {
    /// The home target: the service's own credentials and region.
    pub fn home(settings: &GatewaySettings, paces: (Arc<Pacer>, Arc<PlanQueue>)) -> Self {
        Self::reaching(settings, None, paces)
    }

    /// Another target, or home when `reach` is `None`.
    pub fn reaching(
        settings: &GatewaySettings,
        reach: Option<TargetConfig>,
        (pacer, plan_queue): (Arc<Pacer>, Arc<PlanQueue>),
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
            traffic: super::traffic::CloudWatch::default(),
        }
    }

    /// Whether two targets take turns under one pace (and one plan queue).
    #[cfg(test)]
    pub fn shares_paces_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.pacer, &other.pacer) && Arc::ptr_eq(&self.plan_queue, &other.plan_queue)
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
                let clients = Clients {
                    rest: aws_sdk_apigateway::Client::new(&connection.config),
                    http: aws_sdk_apigatewayv2::Client::new(&connection.config),
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

    /// Every API's id, name and kind (REST APIs, then HTTP and WebSocket APIs), all pages; the
    /// cached list while `fresh` says so of the moment it was read.
    async fn api_list(&self, fresh: impl Fn(Instant) -> bool) -> Result<ApiList, GatewayError> {
        let mut cached = self.names.lock().await;
        if let Some((at, list)) = cached.as_ref()
            && fresh(*at)
        {
            return Ok(Arc::clone(list));
        }
        let mut list = self.rest_apis().await?;
        match self.http_apis().await {
            Ok(http) => list.extend(http),
            // A deployment whose role predates HTTP APIs keeps working on REST APIs.
            Err(error @ GatewayError::AccessDenied { .. }) => {
                tracing::warn!(%error, "cannot list HTTP APIs; only REST APIs are reachable");
            }
            Err(error) => return Err(error),
        }
        {
            let mut kinds = self.kinds.lock().expect("api kinds");
            kinds.extend(list.iter().map(|api| (api.id.clone(), api.kind)));
        }
        let list = Arc::new(list);
        *cached = Some((Instant::now(), Arc::clone(&list)));
        Ok(list)
    }

    async fn rest_apis(&self) -> Result<Vec<Listed>, GatewayError> {
        let mut list = Vec::new();
        let mut pages = self
            .clients()
            .await?
            .rest
            .get_rest_apis()
            .limit(500)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| {
                let resource = format!("arn:aws:apigateway:{}::/restapis", self.region());
                self.explain(err, "apigateway:GET", &resource, None)
            });
            let page = match page {
                Ok(page) => page,
                Err(error) => return Err(self.named(error).await),
            };
            list.extend(page.items().iter().filter_map(|api| {
                Some(Listed {
                    id: api.id()?.to_owned(),
                    name: api.name().unwrap_or_default().to_owned(),
                    kind: Listing::Api(ApiKind::Rest),
                })
            }));
        }
        Ok(list)
    }

    /// GetApis, all pages: HTTP APIs and WebSocket APIs.
    async fn http_apis(&self) -> Result<Vec<Listed>, GatewayError> {
        let mut list = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let result = self
                .clients()
                .await?
                .http
                .get_apis()
                .max_results("500")
                .set_next_token(next.take())
                .send()
                .await;
            let page = match result {
                Ok(page) => page,
                Err(err) => {
                    let resource = format!("arn:aws:apigateway:{}::/apis", self.region());
                    let error = self.explain(err, "apigateway:GET", &resource, None);
                    return Err(self.named(error).await);
                }
            };
            list.extend(page.items().iter().filter_map(|api| {
                let kind = match api.protocol_type()? {
                    ProtocolType::Http => Listing::Api(ApiKind::Http),
                    _ => Listing::WebSocket,
                };
                Some(Listed {
                    id: api.api_id()?.to_owned(),
                    name: api.name().unwrap_or_default().to_owned(),
                    kind,
                })
            }));
            match page.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => return Ok(list),
            }
        }
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

    /// The kind of API `id` is, as far as any listing has found; never calls AWS.
    fn listed_kind(&self, id: &ApiId) -> Option<Listing> {
        self.kinds.lock().expect("api kinds").get(id.id()).copied()
    }

    /// The kind of API `id` is: known from a listing, or found by refreshing the list (at
    /// most once a while per id). `None` when no listing has it.
    async fn find_kind(&self, id: &ApiId) -> Result<Option<ApiKind>, GatewayError> {
        let listed = match self.listed_kind(id) {
            Some(listed) => Some(listed),
            None => {
                let (found, _) = self
                    .search(id.id(), |list| {
                        list.iter()
                            .find(|api| api.id == id.id())
                            .map(|api| api.kind)
                    })
                    .await?;
                found
            }
        };
        match listed {
            Some(Listing::Api(kind)) => Ok(Some(kind)),
            Some(Listing::WebSocket) => Err(GatewayError::WebSocketApi {
                api: id.to_string(),
            }),
            None => Ok(None),
        }
    }

    /// The kind to send a call for `id` to: from a listing; a REST API otherwise (the first
    /// read of an unlisted id is REST's, see [`Gateway::read_stage`]).
    fn kind_for_call(&self, id: &ApiId) -> Result<ApiKind, GatewayError> {
        match self.listed_kind(id) {
            Some(Listing::Api(kind)) => Ok(kind),
            Some(Listing::WebSocket) => Err(GatewayError::WebSocketApi {
                api: id.to_string(),
            }),
            None => Ok(ApiKind::Rest),
        }
    }

    /// The cached list; when `found` finds nothing in it, refreshed once, so an API created a
    /// moment ago is found at once. Not again for the same `wanted` name or id missed within
    /// `list_refresh` (a burst of typos cannot spend the account's budget), and concurrent
    /// misses share one refresh: a list read since this search began will do.
    async fn search<T>(
        &self,
        wanted: &str,
        found: impl Fn(&[Listed]) -> Option<T>,
    ) -> Result<(Option<T>, ApiList), GatewayError> {
        let began = Instant::now();
        let list = self.api_list(|at| at.elapsed() < NAMES_TTL).await?;
        if let Some(hit) = found(&list) {
            return Ok((Some(hit), list));
        }
        if self.missed_lately(wanted) {
            return Ok((None, list));
        }
        let list = self.api_list(|at| at >= began).await?;
        let hit = found(&list);
        if hit.is_none() {
            self.note_miss(wanted);
        }
        Ok((hit, list))
    }

    fn missed_lately(&self, wanted: &str) -> bool {
        let missed = self.missed.lock().expect("missed names");
        missed
            .get(wanted)
            .is_some_and(|at| at.elapsed() < self.settings.list_refresh)
    }

    fn note_miss(&self, wanted: &str) {
        let mut missed = self.missed.lock().expect("missed names");
        // Bounded: old misses are forgotten as new ones come.
        let refresh = self.settings.list_refresh;
        missed.retain(|_, at| at.elapsed() < refresh);
        if missed.len() < MAX_MISSES {
            missed.insert(wanted.to_owned(), Instant::now());
        }
    }

    /// A tagging call's failure in operator terms: tags have an IAM resource of their own.
    async fn tagging_error<E, R>(
        &self,
        err: SdkError<E, R>,
        action: &str,
        api: &ApiId,
        stage: &StageName,
    ) -> GatewayError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let not_found = stage_not_found(api, stage);
        let tags = format!("arn:aws:apigateway:{}::/tags/*", self.region());
        let error = self.explain(err, action, &tags, Some(not_found));
        self.named(error).await
    }

    /// A write's failure in operator terms (its timeout is the write's own): `action` on
    /// `resource` is what IAM must allow.
    fn write_error<E, R>(
        &self,
        err: SdkError<E, R>,
        api: &ApiId,
        stage: &StageName,
        (action, resource): (&str, &str),
    ) -> GatewayError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let not_found = stage_not_found(api, stage);
        match self.explain(err, action, resource, Some(not_found)) {
            GatewayError::Timeout { .. } => GatewayError::Timeout {
                seconds: WRITE_TIMEOUT.as_secs(),
            },
            error => error,
        }
    }

    /// A failure before AWS answered may be a setup problem: name it if it is.
    async fn named(&self, error: GatewayError) -> GatewayError {
        if !matches!(error, GatewayError::Unreachable { .. }) {
            return error;
        }
        let (connection, _) = self.connection().await;
        match connection.recheck().await {
            Err(setup) => setup,
            Ok(()) => error,
        }
    }

    fn explain<E, R>(
        &self,
        err: SdkError<E, R>,
        action: &str,
        resource: &str,
        not_found: Option<GatewayError>,
    ) -> GatewayError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let endpoint = || {
            self.connection
                .get()
                .map_or_else(String::new, |(c, _)| c.endpoint.clone())
        };
        match &err {
            SdkError::TimeoutError(_) => {
                return GatewayError::Timeout {
                    seconds: OPERATION_TIMEOUT.as_secs(),
                };
            }
            SdkError::DispatchFailure(failure) => {
                let why = if failure.is_timeout() {
                    "connection timed out"
                } else if failure.is_io() {
                    "network error"
                } else {
                    "could not send the request"
                };
                return GatewayError::Unreachable {
                    endpoint: endpoint(),
                    why: why.to_owned(),
                };
            }
            SdkError::ConstructionFailure(_) => {
                return GatewayError::Unreachable {
                    endpoint: endpoint(),
                    why: "could not build the request".to_owned(),
                };
            }
            _ => {}
        }
        let code = err.code().unwrap_or_default();
        match code {
            "NotFoundException" => not_found.unwrap_or_else(|| {
                GatewayError::Unexpected("NotFoundException on a listing".to_owned())
            }),
            "AccessDeniedException"
            | "UnauthorizedException"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "ExpiredTokenException"
            | "MissingAuthenticationTokenException" => GatewayError::AccessDenied {
                action: action.to_owned(),
                resource: resource.to_owned(),
            },
            "TooManyRequestsException" | "LimitExceededException" | "ThrottlingException" => {
                GatewayError::Throttled
            }
            "ConflictException" => GatewayError::Conflict,
            "BadRequestException" => {
                GatewayError::Rejected(err.message().unwrap_or("bad request").to_owned())
            }
            _ => {
                tracing::warn!(code, error = %aws_sdk_apigateway::error::DisplayErrorContext(&err), "unexpected API Gateway error");
                GatewayError::Unexpected(if code.is_empty() {
                    "no error code".to_owned()
                } else {
                    code.to_owned()
                })
            }
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
    async fn read_stage(&self, api: &ApiId, stage: &StageName) -> Result<StageView, GatewayError> {
        match self.listed_kind(api) {
            Some(_) => match self.kind_for_call(api)? {
                ApiKind::Rest => self.rest_stage(api, stage).await,
                ApiKind::Http => self.http_stage(api, stage).await,
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
        key: &str,
        value: &str,
    ) -> Result<(), GatewayError> {
        match self.kind_for_call(api)? {
            ApiKind::Rest => self.rest_tag(api, stage, key, value).await,
            ApiKind::Http => self.http_tag(api, stage, key, value).await,
        }
    }

    async fn untag(&self, api: &ApiId, stage: &StageName, key: &str) -> Result<(), GatewayError> {
        match self.kind_for_call(api)? {
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
        let (connection, _) = self.connection().await;
        let published = super::traffic::Published {
            kind: api.kind,
            id: api.id.id(),
            name: name.as_deref(),
        };
        self.traffic
            .read(&connection.config, published, levels, from, to)
            .await
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

/// "API or stage not found", for calls on one stage.
fn stage_not_found(api: &ApiId, stage: &StageName) -> GatewayError {
    GatewayError::NotFound {
        api: api.to_string(),
        stage: stage.to_string(),
    }
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

/// Up to three names close to `name`, best first.
fn close_names(name: &str, list: &[Listed]) -> Vec<String> {
    let wanted = name.to_lowercase();
    let mut scored: Vec<(f64, &String)> = list
        .iter()
        .map(|api| {
            let candidate = &api.name;
            let lower = candidate.to_lowercase();
            let mut score = strsim::jaro_winkler(&wanted, &lower);
            if lower.contains(&wanted) || wanted.contains(&lower) {
                score = score.max(0.9);
            }
            (score, candidate)
        })
        .filter(|(score, _)| *score >= 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut names: Vec<String> = scored.into_iter().map(|(_, n)| n.clone()).collect();
    names.dedup();
    names.truncate(3);
    names
}

/// A stage as the core sees it, whichever kind of API it belongs to: levels sorted, and only
/// the tags that say who deploys it or that this service may have written.
fn stage_view(
    kind: ApiKind,
    name: &str,
    stage_wide: Configured,
    mut methods: Vec<(Level, Configured)>,
    tags: Option<&HashMap<String, String>>,
) -> StageView {
    methods.sort_by_key(|(level, _)| level.to_string());
    StageView {
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
