//! API Gateway through the AWS SDK: the core's gateway port. Thin: SDK calls, caches of the API
//! list and the account quota, and errors translated into terms an operator can act on.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_apigateway::Client;
use aws_sdk_apigateway::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_apigateway::operation::get_stage::GetStageOutput;
use aws_sdk_apigateway::types::{MethodSetting, Op, PatchOperation, Stage};
use tokio::sync::OnceCell;

use super::connection::{Connection, OPERATION_TIMEOUT};
use super::pacer::Pacer;
use super::settings::{parse_setting_key, setting_key};
use crate::core::ports::{Gateway, GatewayError};
use crate::domain::{
    AccountLimits, Action, ApiId, Configured, Level, ManagedBy, ResolvedApi, StageName, StageView,
    TAG_PREFIX,
};

/// How long the list of API names and the account quota are reused.
const NAMES_TTL: Duration = Duration::from_secs(60);
const ACCOUNT_TTL: Duration = Duration::from_secs(300);

/// How this process uses the management API.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GatewaySettings {
    /// At most this many management calls per second from this process, on average.
    pub calls_per_second: f64,
    /// At most this many at once after a quiet spell.
    pub calls_burst: u32,
    /// The same name, missing from the cached list of APIs, refreshes it at most this often.
    pub list_refresh: Duration,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            calls_per_second: 5.0,
            calls_burst: 10,
            list_refresh: Duration::from_secs(5),
        }
    }
}

/// Writes retry throttling this many times at most, within this long.
const WRITE_ATTEMPTS: u32 = 8;
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(45);

/// The value API Gateway reads as "not set at this level".
const NOT_SET: &str = "-1";

type ApiList = Arc<Vec<(String, String)>>;

/// Whether the AWS setup is known, for `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Starting,
    Ready,
    NotReady(String),
}

/// API Gateway, reached through one SDK client built on first use (or by [`ApiGateway::warm_up`]).
///
/// Building the client may probe the network (IMDS for the region), so it never runs
/// before the server listens.
pub struct ApiGateway {
    settings: GatewaySettings,
    pacer: Pacer,
    connection: OnceCell<(Connection, Client)>,
    /// Held across a listing, so concurrent lookups share one GetRestApis (single flight).
    names: tokio::sync::Mutex<Option<(Instant, ApiList)>>,
    /// Held across GetAccount, so concurrent commands share one call.
    account: tokio::sync::Mutex<Option<(Instant, AccountLimits)>>,
    /// Names and ids just missed, with when: each refreshes the list at most once a while.
    missed: std::sync::Mutex<HashMap<String, Instant>>,
}

/// How many recent misses are remembered (a flood of distinct typos only refreshes the list at
/// the pace, and forgets nothing it needs).
const MAX_MISSES: usize = 10_000;

impl ApiGateway {
    pub fn new(settings: GatewaySettings) -> Self {
        Self {
            settings,
            pacer: Pacer::new(settings.calls_per_second, settings.calls_burst),
            connection: OnceCell::new(),
            names: tokio::sync::Mutex::new(None),
            account: tokio::sync::Mutex::new(None),
            missed: std::sync::Mutex::new(HashMap::new()),
        }
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

    async fn connection(&self) -> &(Connection, Client) {
        self.connection
            .get_or_init(|| async {
                let connection = Connection::resolve().await;
                let client = Client::new(&connection.config);
                (connection, client)
            })
            .await
    }

    /// The client, once this call's turn under the process's pace has come; or why AWS
    /// cannot be called at all (no region).
    async fn client(&self) -> Result<&Client, GatewayError> {
        let (connection, client) = self.connection().await;
        self.pacer.wait().await;
        match &connection.setup {
            Err(GatewayError::NoRegion) => Err(GatewayError::NoRegion),
            _ => Ok(client),
        }
    }

    fn region(&self) -> String {
        self.connection
            .get()
            .and_then(|(c, _)| c.config.region().map(ToString::to_string))
            .unwrap_or_else(|| "REGION".to_owned())
    }

    /// Every REST API's (id, name), all pages; the cached list while `fresh` says so of the
    /// moment it was read.
    async fn api_list(&self, fresh: impl Fn(Instant) -> bool) -> Result<ApiList, GatewayError> {
        let mut cached = self.names.lock().await;
        if let Some((at, list)) = cached.as_ref()
            && fresh(*at)
        {
            return Ok(Arc::clone(list));
        }
        let mut list = Vec::new();
        let mut pages = self
            .client()
            .await?
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
                Some((
                    api.id()?.to_owned(),
                    api.name().unwrap_or_default().to_owned(),
                ))
            }));
        }
        let list = Arc::new(list);
        *cached = Some((Instant::now(), Arc::clone(&list)));
        Ok(list)
    }

    /// The cached list; when `found` finds nothing in it, refreshed once, so an API created a
    /// moment ago is found at once. Not again for the same `wanted` name or id missed within
    /// `list_refresh` (a burst of typos cannot spend the account's budget), and concurrent
    /// misses share one refresh: a list read since this search began will do.
    async fn search<T>(
        &self,
        wanted: &str,
        found: impl Fn(&[(String, String)]) -> Option<T>,
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

    async fn get_stage(&self, api: &ApiId, stage: &StageName) -> Result<StageView, GatewayError> {
        let result = self
            .client()
            .await?
            .get_stage()
            .rest_api_id(api.as_str())
            .stage_name(stage.as_str())
            .send()
            .await;
        match result {
            Ok(found) => Ok(StageSettings::from(found).view()),
            Err(err) => {
                let not_found = GatewayError::NotFound {
                    api: api.to_string(),
                    stage: stage.to_string(),
                };
                let resource = stage_arn(&self.region(), api, stage);
                let error = self.explain(err, "apigateway:GET", &resource, Some(not_found));
                Err(self.named(error).await)
            }
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
        let not_found = GatewayError::NotFound {
            api: api.to_string(),
            stage: stage.to_string(),
        };
        let tags = format!("arn:aws:apigateway:{}::/tags/*", self.region());
        let error = self.explain(err, action, &tags, Some(not_found));
        self.named(error).await
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

impl Gateway for ApiGateway {
    async fn find_by_name(&self, name: &str) -> Result<ResolvedApi, GatewayError> {
        let (hits, list) = self
            .search(name, |list| {
                let ids: Vec<String> = list
                    .iter()
                    .filter(|(_, n)| n == name)
                    .map(|(id, _)| id.clone())
                    .collect();
                (!ids.is_empty()).then_some(ids)
            })
            .await?;
        match hits.as_deref() {
            Some([id]) => Ok(ResolvedApi {
                id: ApiId::parse(id).map_err(|e| GatewayError::Unexpected(e.to_string()))?,
                name: Some(name.to_owned()),
            }),
            Some(several) => Err(GatewayError::AmbiguousApiName {
                name: name.to_owned(),
                candidates: several.to_vec(),
            }),
            None => Err(GatewayError::UnknownApiName {
                name: name.to_owned(),
                suggestions: close_names(name, &list),
            }),
        }
    }

    async fn name_of(&self, id: &ApiId) -> Result<Option<String>, GatewayError> {
        let (name, _) = self
            .search(id.as_str(), |list| {
                list.iter()
                    .find(|(candidate, _)| candidate == id.as_str())
                    .map(|(_, name)| name.clone())
            })
            .await?;
        Ok(name)
    }

    fn known_name(&self, id: &ApiId) -> Option<String> {
        let cached = self.names.try_lock().ok()?;
        let (_, list) = cached.as_ref()?;
        list.iter()
            .find(|(candidate, _)| candidate == id.as_str())
            .map(|(_, name)| name.clone())
    }

    async fn read_stage(&self, api: &ApiId, stage: &StageName) -> Result<StageView, GatewayError> {
        self.get_stage(api, stage).await
    }

    async fn read_stages(&self, api: &ApiId) -> Result<Vec<StageView>, GatewayError> {
        let result = self
            .client()
            .await?
            .get_stages()
            .rest_api_id(api.as_str())
            .send()
            .await;
        match result {
            Ok(found) => Ok(found
                .item()
                .iter()
                .cloned()
                .map(|stage| StageSettings::from(stage).view())
                .collect()),
            Err(err) => {
                let resource = format!(
                    "arn:aws:apigateway:{}::/restapis/{api}/stages",
                    self.region()
                );
                let not_found = GatewayError::ApiNotFound {
                    api: api.to_string(),
                };
                let error = self.explain(err, "apigateway:GET", &resource, Some(not_found));
                Err(self.named(error).await)
            }
        }
    }

    async fn write(
        &self,
        api: &ApiId,
        stage: &StageName,
        level: &Level,
        action: &Action,
    ) -> Result<(), GatewayError> {
        let (rate, burst) = match action {
            Action::Set(limits) => (limits.rate.to_string(), limits.burst.to_string()),
            Action::Reset => (NOT_SET.to_owned(), NOT_SET.to_owned()),
        };
        let key = setting_key(level);
        let replace = |field: &str, value: String| {
            PatchOperation::builder()
                .op(Op::Replace)
                .path(format!("/{key}/throttling/{field}"))
                .value(value)
                .build()
        };
        let result = self
            .client()
            .await?
            .update_stage()
            .rest_api_id(api.as_str())
            .stage_name(stage.as_str())
            .patch_operations(replace("rateLimit", rate))
            .patch_operations(replace("burstLimit", burst))
            .customize()
            .config_override(write_retries())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => {
                let not_found = GatewayError::NotFound {
                    api: api.to_string(),
                    stage: stage.to_string(),
                };
                let resource = stage_arn(&self.region(), api, stage);
                let error = match self.explain(err, "apigateway:PATCH", &resource, Some(not_found))
                {
                    GatewayError::Timeout { .. } => GatewayError::Timeout {
                        seconds: WRITE_TIMEOUT.as_secs(),
                    },
                    error => error,
                };
                Err(self.named(error).await)
            }
        }
    }

    async fn apis(&self) -> Result<Vec<ApiId>, GatewayError> {
        let refresh = self.settings.list_refresh;
        let list = self.api_list(|at| at.elapsed() < refresh).await?;
        Ok(list
            .iter()
            .filter_map(|(id, _)| ApiId::parse(id).ok())
            .collect())
    }

    async fn tag(
        &self,
        api: &ApiId,
        stage: &StageName,
        key: &str,
        value: &str,
    ) -> Result<(), GatewayError> {
        let resource = stage_arn(&self.region(), api, stage);
        let result = self
            .client()
            .await?
            .tag_resource()
            .resource_arn(&resource)
            .tags(key, value)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => Err(self.tagging_error(err, "apigateway:PUT", api, stage).await),
        }
    }

    async fn untag(&self, api: &ApiId, stage: &StageName, key: &str) -> Result<(), GatewayError> {
        let resource = stage_arn(&self.region(), api, stage);
        let result = self
            .client()
            .await?
            .untag_resource()
            .resource_arn(&resource)
            .tag_keys(key)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => Err(self
                .tagging_error(err, "apigateway:DELETE", api, stage)
                .await),
        }
    }

    /// The account's regional quota (GetAccount), reused for five minutes. `None` when it
    /// cannot be read: the quota check is a safety net, not a reason to refuse every change.
    async fn account_limits(&self) -> Option<AccountLimits> {
        let mut cached = self.account.lock().await;
        if let Some((at, limits)) = *cached
            && at.elapsed() < ACCOUNT_TTL
        {
            return Some(limits);
        }
        let client = self.client().await.ok()?;
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

/// A write someone is waiting for rides out a busy account longer than a read: more attempts,
/// with the SDK's exponential backoff, bounded by [`WRITE_TIMEOUT`]; then the user is told.
fn write_retries() -> aws_sdk_apigateway::config::Builder {
    aws_sdk_apigateway::config::Builder::default()
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(WRITE_ATTEMPTS)
                .with_max_backoff(Duration::from_secs(5)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(WRITE_TIMEOUT)
                .build(),
        )
}

fn stage_arn(region: &str, api: &ApiId, stage: &StageName) -> String {
    format!("arn:aws:apigateway:{region}::/restapis/{api}/stages/{stage}")
}

/// Up to three names close to `name`, best first.
fn close_names(name: &str, list: &[(String, String)]) -> Vec<String> {
    let wanted = name.to_lowercase();
    let mut scored: Vec<(f64, &String)> = list
        .iter()
        .map(|(_, candidate)| {
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

/// A stage's name, method settings and what its tags say about who deploys it, from GetStage
/// or GetStages.
struct StageSettings {
    name: String,
    settings: Vec<(String, MethodSetting)>,
    managed_by: Option<ManagedBy>,
    tags: Vec<(String, String)>,
}

impl From<GetStageOutput> for StageSettings {
    fn from(stage: GetStageOutput) -> Self {
        Self::new(stage.stage_name(), stage.method_settings(), stage.tags())
    }
}

impl From<Stage> for StageSettings {
    fn from(stage: Stage) -> Self {
        Self::new(stage.stage_name(), stage.method_settings(), stage.tags())
    }
}

impl StageSettings {
    fn new(
        name: Option<&str>,
        settings: Option<&HashMap<String, MethodSetting>>,
        tags: Option<&HashMap<String, String>>,
    ) -> Self {
        Self {
            name: name.unwrap_or_default().to_owned(),
            settings: settings
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
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
        }
    }

    /// The SDK reads absent limits as 0, so the presence of a setting's key decides.
    fn view(&self) -> StageView {
        let mut stage_wide = Configured::default();
        let mut methods = Vec::new();
        for (key, setting) in &self.settings {
            let configured = Configured::from_reported(
                Some(setting.throttling_rate_limit()),
                Some(setting.throttling_burst_limit()),
            );
            match parse_setting_key(key) {
                Some(Level::Stage) => stage_wide = configured,
                Some(level) => methods.push((level, configured)),
                None => {}
            }
        }
        methods.sort_by_key(|(level, _)| level.to_string());
        StageView {
            stage: self.name.clone(),
            stage_wide,
            methods,
            managed_by: self.managed_by.clone(),
            tags: self.tags.clone(),
            timed: Vec::new(),
            claims: Vec::new(),
            unsealed: Vec::new(),
        }
    }
}
