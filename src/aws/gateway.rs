use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_apigateway::Client;
use aws_sdk_apigateway::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_apigateway::operation::get_stage::GetStageOutput;
use aws_sdk_apigateway::types::{MethodSetting, Op, PatchOperation, Stage};
use tokio::sync::OnceCell;

use super::settings::{parse_setting_key, setting_key};
use crate::domain::{
    AccountLimits, Action, ApiId, ApiRef, ApiView, Applied, ApplyError, Configured, Level,
    ResolvedApi, StageName, StageView, ThrottleChange,
};

const OPERATION_TIMEOUT: Duration = Duration::from_secs(20);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(6);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const MAX_ATTEMPTS: u32 = 4;

/// How long the list of API names and the account quota are reused.
const NAMES_TTL: Duration = Duration::from_secs(60);
const ACCOUNT_TTL: Duration = Duration::from_secs(300);

/// The value API Gateway reads as "not set at this level".
const NOT_SET: &str = "-1";

type ApiList = Vec<(String, String)>;

/// API Gateway, reached through one SDK client built on first use (or by [`ApiGateway::warm_up`]).
///
/// Building the client may probe the network (IMDS for the region), so it never runs
/// before the server listens.
#[derive(Default)]
pub struct ApiGateway {
    client: OnceCell<Client>,
    names: Mutex<Option<(Instant, ApiList)>>,
    account: Mutex<Option<(Instant, AccountLimits)>>,
}

impl ApiGateway {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the client now, so that the first command does not wait for it.
    pub async fn warm_up(&self) {
        self.client().await;
    }

    /// Whether the client has been built.
    pub fn is_ready(&self) -> bool {
        self.client.initialized()
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let config = aws_config::defaults(BehaviorVersion::latest())
                    .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
                    .timeout_config(
                        TimeoutConfig::builder()
                            .operation_timeout(OPERATION_TIMEOUT)
                            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                            .connect_timeout(CONNECT_TIMEOUT)
                            .build(),
                    )
                    .load()
                    .await;
                Client::new(&config)
            })
            .await
    }

    fn region(&self) -> String {
        self.client
            .get()
            .and_then(|c| c.config().region().map(|r| r.to_string()))
            .unwrap_or_else(|| "REGION".to_owned())
    }

    /// Applies a change: reads the level's values (GetStage), checks the account quota, and
    /// calls UpdateStage only when the values differ.
    pub async fn apply(&self, change: &ThrottleChange) -> Result<Applied, ApplyError> {
        if let Action::Set(limits) = &change.action
            && let Some(account) = self.account_limits().await
        {
            account
                .check(limits)
                .map_err(ApplyError::AboveAccountLimit)?;
        }
        let (api, stage) = self.find_stage(&change.api, &change.stage).await?;
        let before = configured_at(&stage, &change.level);
        let after = change.after();
        let inherited = match (&change.action, &change.level) {
            (Action::Set(_), _) => None,
            (Action::Reset, Level::Method { .. }) => Some(configured_at(&stage, &Level::Stage))
                .filter(Configured::is_set)
                .or(self.account_configured().await),
            (Action::Reset, Level::Stage) => self.account_configured().await,
        };
        let mut applied = Applied {
            api,
            before,
            after,
            changed: false,
            inherited,
        };
        if before == after {
            return Ok(applied);
        }
        let (rate, burst) = match &change.action {
            Action::Set(limits) => (limits.rate.to_string(), limits.burst.to_string()),
            Action::Reset => (NOT_SET.to_owned(), NOT_SET.to_owned()),
        };
        let key = setting_key(&change.level);
        let replace = |field: &str, value: String| {
            PatchOperation::builder()
                .op(Op::Replace)
                .path(format!("/{key}/throttling/{field}"))
                .value(value)
                .build()
        };
        self.client()
            .await
            .update_stage()
            .rest_api_id(applied.api.id.as_str())
            .stage_name(change.stage.as_str())
            .patch_operations(replace("rateLimit", rate))
            .patch_operations(replace("burstLimit", burst))
            .send()
            .await
            .map_err(|err| {
                self.explain(
                    err,
                    "apigateway:PATCH",
                    &stage_arn(&self.region(), &applied.api.id, &change.stage),
                    &applied.api.id,
                    &change.stage,
                )
            })?;
        applied.changed = true;
        Ok(applied)
    }

    /// The throttling of one stage, or of every stage, of an API.
    pub async fn view(
        &self,
        api: &ApiRef,
        stage: Option<&StageName>,
    ) -> Result<ApiView, ApplyError> {
        let account = self.account_limits().await;
        let (api, stages) = match stage {
            Some(stage) => {
                let (api, found) = self.find_stage(api, stage).await?;
                (api, vec![found])
            }
            None => {
                let api = self.resolve(api).await?;
                let stages = self
                    .client()
                    .await
                    .get_stages()
                    .rest_api_id(api.id.as_str())
                    .send()
                    .await
                    .map_err(|err| {
                        let resource = format!(
                            "arn:aws:apigateway:{}::/restapis/{}/stages",
                            self.region(),
                            api.id
                        );
                        self.explain(err, "apigateway:GET", &resource, &api.id, &any_stage())
                    })?
                    .item()
                    .to_vec();
                (api, stages.into_iter().map(StageSettings::from).collect())
            }
        };
        let mut stages: Vec<StageView> = stages.iter().map(StageSettings::view).collect();
        stages.sort_by(|a, b| a.stage.cmp(&b.stage));
        Ok(ApiView {
            api,
            account,
            stages,
        })
    }

    /// GetStage for the API as the user named it. An id-shaped reference that is not an id
    /// is tried once more as a name (names like `production` look like ids).
    async fn find_stage(
        &self,
        api: &ApiRef,
        stage: &StageName,
    ) -> Result<(ResolvedApi, StageSettings), ApplyError> {
        let resolved = self.resolve(api).await?;
        match self.get_stage(&resolved.id, stage).await {
            Err(ApplyError::NotFound { .. }) if matches!(api, ApiRef::Id(_)) => {
                let by_name = self.lookup_name(api.as_str()).await;
                match by_name {
                    Ok(named) if named.id != resolved.id => {
                        let found = self.get_stage(&named.id, stage).await?;
                        Ok((named, found))
                    }
                    _ => Err(ApplyError::NotFound {
                        api: api.to_string(),
                        stage: stage.to_string(),
                    }),
                }
            }
            result => result.map(|found| (resolved, found)),
        }
    }

    async fn get_stage(&self, api: &ApiId, stage: &StageName) -> Result<StageSettings, ApplyError> {
        self.client()
            .await
            .get_stage()
            .rest_api_id(api.as_str())
            .stage_name(stage.as_str())
            .send()
            .await
            .map(StageSettings::from)
            .map_err(|err| {
                self.explain(
                    err,
                    "apigateway:GET",
                    &stage_arn(&self.region(), api, stage),
                    api,
                    stage,
                )
            })
    }

    /// An id is used as given (no GetRestApis); a name is looked up.
    async fn resolve(&self, api: &ApiRef) -> Result<ResolvedApi, ApplyError> {
        match api {
            ApiRef::Id(id) => Ok(ResolvedApi {
                id: id.clone(),
                name: self.cached_name_of(id),
            }),
            ApiRef::Name(name) => self.lookup_name(name.as_str()).await,
        }
    }

    /// The API's id and name, for matching a policy: a name is looked up as for a change;
    /// an id's name comes from the (cached) list of APIs.
    pub async fn identify(&self, api: &ApiRef) -> Result<ResolvedApi, ApplyError> {
        match api {
            ApiRef::Id(id) => {
                let list = self.api_names().await?;
                let name = list
                    .iter()
                    .find(|(candidate, _)| candidate == id.as_str())
                    .map(|(_, name)| name.clone());
                Ok(ResolvedApi {
                    id: id.clone(),
                    name,
                })
            }
            ApiRef::Name(name) => self.lookup_name(name.as_str()).await,
        }
    }

    fn cached_name_of(&self, id: &ApiId) -> Option<String> {
        let names = self.names.lock().expect("names cache");
        let (_, list) = names.as_ref()?;
        list.iter()
            .find(|(candidate, _)| candidate == id.as_str())
            .map(|(_, name)| name.clone())
    }

    async fn lookup_name(&self, name: &str) -> Result<ResolvedApi, ApplyError> {
        let list = self.api_names().await?;
        let matches: Vec<&(String, String)> = list.iter().filter(|(_, n)| n == name).collect();
        match matches.as_slice() {
            [(id, found)] => Ok(ResolvedApi {
                id: ApiId::parse(id).map_err(|e| ApplyError::Rejected(e.to_string()))?,
                name: Some(found.clone()),
            }),
            [] => Err(ApplyError::UnknownApiName {
                name: name.to_owned(),
                suggestions: close_names(name, &list),
            }),
            several => Err(ApplyError::AmbiguousApiName {
                name: name.to_owned(),
                candidates: several.iter().map(|(id, _)| id.clone()).collect(),
            }),
        }
    }

    /// Every REST API's (id, name), all pages, reused for a minute.
    async fn api_names(&self) -> Result<ApiList, ApplyError> {
        if let Some((at, list)) = self.names.lock().expect("names cache").as_ref()
            && at.elapsed() < NAMES_TTL
        {
            return Ok(list.clone());
        }
        let mut list = Vec::new();
        let mut pages = self
            .client()
            .await
            .get_rest_apis()
            .limit(500)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| {
                let resource = format!("arn:aws:apigateway:{}::/restapis", self.region());
                self.explain(err, "apigateway:GET", &resource, &any_api(), &any_stage())
            })?;
            list.extend(page.items().iter().filter_map(|api| {
                Some((
                    api.id()?.to_owned(),
                    api.name().unwrap_or_default().to_owned(),
                ))
            }));
        }
        *self.names.lock().expect("names cache") = Some((Instant::now(), list.clone()));
        Ok(list)
    }

    /// The account's regional quota (GetAccount), reused for five minutes. `None` when it
    /// cannot be read: the quota check is a safety net, not a reason to refuse every change.
    pub async fn account_limits(&self) -> Option<AccountLimits> {
        if let Some((at, limits)) = *self.account.lock().expect("account cache")
            && at.elapsed() < ACCOUNT_TTL
        {
            return Some(limits);
        }
        match self.client().await.get_account().send().await {
            Ok(account) => {
                let settings = account.throttle_settings()?;
                let limits = AccountLimits {
                    rate: settings.rate_limit(),
                    burst: settings.burst_limit(),
                };
                *self.account.lock().expect("account cache") = Some((Instant::now(), limits));
                Some(limits)
            }
            Err(err) => {
                tracing::warn!(
                    code = err.code().unwrap_or("no answer"),
                    "could not read the account's throttling quota (GetAccount needs apigateway:GET on /account); not checking against it"
                );
                None
            }
        }
    }

    async fn account_configured(&self) -> Option<Configured> {
        self.account_limits().await.map(|a| Configured {
            rate: Some(a.rate),
            burst: Some(a.burst),
        })
    }

    fn explain<E, R>(
        &self,
        err: SdkError<E, R>,
        action: &str,
        resource: &str,
        api: &ApiId,
        stage: &StageName,
    ) -> ApplyError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match &err {
            SdkError::TimeoutError(_) => {
                return ApplyError::Timeout {
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
                return ApplyError::Unavailable(why.to_owned());
            }
            SdkError::ConstructionFailure(_) => {
                return ApplyError::Unavailable(
                    "no AWS credentials or region configured".to_owned(),
                );
            }
            _ => {}
        }
        let code = err.code().unwrap_or_default();
        match code {
            "NotFoundException" => ApplyError::NotFound {
                api: api.to_string(),
                stage: stage.to_string(),
            },
            "AccessDeniedException"
            | "UnauthorizedException"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "ExpiredTokenException"
            | "MissingAuthenticationTokenException" => ApplyError::AccessDenied {
                action: action.to_owned(),
                resource: resource.to_owned(),
            },
            "TooManyRequestsException" | "LimitExceededException" | "ThrottlingException" => {
                ApplyError::Throttled
            }
            "ConflictException" => ApplyError::Conflict,
            "BadRequestException" => {
                ApplyError::Rejected(err.message().unwrap_or("bad request").to_owned())
            }
            _ => {
                tracing::warn!(code, error = %aws_sdk_apigateway::error::DisplayErrorContext(&err), "unexpected API Gateway error");
                ApplyError::Unavailable(if code.is_empty() {
                    "unexpected response".to_owned()
                } else {
                    code.to_owned()
                })
            }
        }
    }
}

fn stage_arn(region: &str, api: &ApiId, stage: &StageName) -> String {
    format!("arn:aws:apigateway:{region}::/restapis/{api}/stages/{stage}")
}

fn any_api() -> ApiId {
    ApiId::parse("0000000000").expect("a valid placeholder id")
}

fn any_stage() -> StageName {
    StageName::parse("all").expect("a valid placeholder stage")
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

/// A stage's name and method settings, from GetStage or GetStages.
struct StageSettings {
    name: String,
    settings: Vec<(String, MethodSetting)>,
}

impl From<GetStageOutput> for StageSettings {
    fn from(stage: GetStageOutput) -> Self {
        Self::new(stage.stage_name(), stage.method_settings())
    }
}

impl From<Stage> for StageSettings {
    fn from(stage: Stage) -> Self {
        Self::new(stage.stage_name(), stage.method_settings())
    }
}

impl StageSettings {
    fn new(name: Option<&str>, settings: Option<&HashMap<String, MethodSetting>>) -> Self {
        Self {
            name: name.unwrap_or_default().to_owned(),
            settings: settings
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        }
    }

    fn view(&self) -> StageView {
        let mut methods: Vec<(Level, Configured)> = self
            .settings
            .iter()
            .filter_map(|(key, setting)| match parse_setting_key(key)? {
                Level::Stage => None,
                level => Some((level, configured(setting))),
            })
            .collect();
        methods.sort_by_key(|(level, _)| level.to_string());
        StageView {
            stage: self.name.clone(),
            stage_wide: configured_at(self, &Level::Stage),
            methods,
        }
    }
}

/// The values configured at a level. The SDK reads absent limits as 0, so the key decides.
fn configured_at(stage: &StageSettings, level: &Level) -> Configured {
    let key = setting_key(level);
    stage
        .settings
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, setting)| configured(setting))
        .unwrap_or_default()
}

fn configured(setting: &MethodSetting) -> Configured {
    Configured::from_reported(
        Some(setting.throttling_rate_limit()),
        Some(setting.throttling_burst_limit()),
    )
}
