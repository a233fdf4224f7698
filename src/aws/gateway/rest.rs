//! REST APIs (`/restapis`): a stage's method settings, patched two paths at a time. "Not set" is
//! `-1`; a level's override is removed by writing it.

use std::collections::HashMap;

use aws_sdk_apigateway::error::ProvideErrorMetadata;
use aws_sdk_apigateway::operation::get_stage::GetStageOutput;
use aws_sdk_apigateway::primitives::DateTime;
use aws_sdk_apigateway::types::{
    MethodSetting, Op, PatchOperation, Stage, UnauthorizedCacheControlHeaderStrategy,
};

use super::super::settings::{parse_setting_key, setting_key};
use super::{TargetGateway, methods_unread, retries, stage_not_found, stage_view};
use crate::aws::partition::apigateway_arn;
use crate::core::ports::GatewayError;
use crate::domain::ThrottleLimits;
use crate::domain::{
    Action, ApiId, ApiKind, ApiMethod, Configured, Level, StageName, StageView, TargetError,
};

/// The value API Gateway reads as "not set at this level".
const NOT_SET: &str = "-1";

/// The stage-wide entry's key.
const STAGE_KEY: &str = "*/*";

impl TargetGateway {
    pub(super) async fn rest_stage(
        &self,
        api: &ApiId,
        stage: &StageName,
    ) -> Result<StageView, GatewayError> {
        self.rest_settings(api, stage)
            .await
            .map(|settings| settings.view())
    }

    pub(super) async fn rest_stages(&self, api: &ApiId) -> Result<Vec<StageView>, GatewayError> {
        let result = self
            .clients()
            .await?
            .rest
            .get_stages()
            .rest_api_id(api.id())
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
                let resource =
                    apigateway_arn(&self.region(), &format!("/restapis/{}/stages", api.id()));
                let not_found = GatewayError::ApiNotFound {
                    api: api.to_string(),
                };
                let error = self.explain(err, "apigateway:GET", &resource, Some(not_found));
                Err(self.named(error).await)
            }
        }
    }

    /// The API's methods (GetResources, all pages). `None` when they cannot be read (logged
    /// with the AWS error code): the check helps a user, it is never in the way of a change.
    pub(super) async fn rest_methods(&self, api: &ApiId) -> Option<Vec<ApiMethod>> {
        let mut methods = Vec::new();
        let mut position: Option<String> = None;
        loop {
            let result = self
                .clients()
                .await
                .ok()?
                .rest
                .get_resources()
                .rest_api_id(api.id())
                .limit(500)
                .embed("methods")
                .set_position(position.take())
                .send()
                .await;
            let page = match result {
                Ok(page) => page,
                Err(err) => {
                    methods_unread(err.code(), api, "GetResources", "/restapis/*/resources");
                    return None;
                }
            };
            for resource in page.items() {
                let path = resource.path().unwrap_or_default();
                let listed = resource
                    .resource_methods()
                    .into_iter()
                    .flat_map(HashMap::keys);
                methods.extend(listed.map(|method| ApiMethod::new(method, path)));
            }
            match page.position() {
                Some(next) if !next.is_empty() => position = Some(next.to_owned()),
                _ => return Some(methods),
            }
        }
    }

    /// One UpdateStage for the level. The stage-wide level's two throttling paths are replaced
    /// (a reset writes "not set"). A method's entry is a whole object on AWS, so a method level
    /// reads the stage first (see [`method_patch`]): its first throttle copies the stage-wide
    /// caching, logging and metrics into the new entry, and a reset removes an entry that held
    /// nothing else.
    pub(super) async fn rest_write(
        &self,
        api: &ApiId,
        stage: &StageName,
        level: &Level,
        action: &Action,
    ) -> Result<(), GatewayError> {
        let Some(key) = setting_key(level) else {
            return Err(GatewayError::Level(TargetError::DefaultRouteOnRest));
        };
        let patch = match (level, action) {
            (Level::Stage, Action::Set(_)) => stage_patch(action),
            // The stage-wide entry is a whole entry too: one the bot's own change made (AWS's
            // defaults and throttling) goes, as a method's does.
            (Level::Stage, Action::Reset) => {
                let current = self.rest_settings(api, stage).await?;
                method_patch(&key, current.entry(&key), None, action)
            }
            _ => {
                let current = self.rest_settings(api, stage).await?;
                method_patch(&key, current.entry(&key), current.entry(STAGE_KEY), action)
            }
        };
        let removing = patch.iter().any(|p| p.op == Op::Remove);
        if patch.is_empty() {
            return Ok(());
        }
        let (attempts, timeouts) = retries();
        let result = self
            .clients()
            .await?
            .rest
            .update_stage()
            .rest_api_id(api.id())
            .stage_name(stage.as_str())
            .set_patch_operations(Some(patch.into_iter().map(Patch::build).collect()))
            .customize()
            .config_override(
                aws_sdk_apigateway::config::Builder::default()
                    .retry_config(attempts)
                    .timeout_config(timeouts),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Removed by someone else since the read: the method inherits, as asked.
            Err(err) if removing && is_already_absent(err.message()) => Ok(()),
            Err(err) => {
                let resource = rest_stage_arn(&self.region(), api, stage);
                let error = self.write_error(err, api, stage, ("apigateway:PATCH", &resource));
                Err(self.named(error).await)
            }
        }
    }

    /// GetStage, as the method entries a method-level write must know.
    async fn rest_settings(
        &self,
        api: &ApiId,
        stage: &StageName,
    ) -> Result<StageSettings, GatewayError> {
        let result = self
            .clients()
            .await?
            .rest
            .get_stage()
            .rest_api_id(api.id())
            .stage_name(stage.as_str())
            .send()
            .await;
        match result {
            Ok(found) => Ok(StageSettings::from(found)),
            Err(err) => {
                let resource = rest_stage_arn(&self.region(), api, stage);
                let not_found = stage_not_found(api, stage);
                let error = self.explain(err, "apigateway:GET", &resource, Some(not_found));
                Err(self.named(error).await)
            }
        }
    }

    pub(super) async fn rest_untag(
        &self,
        api: &ApiId,
        stage: &StageName,
        key: &str,
    ) -> Result<(), GatewayError> {
        let resource = rest_stage_arn(&self.region(), api, stage);
        let not_found = stage_not_found(api, stage);
        self.tag_rest_resource(&resource, (key, None), Some(not_found))
            .await
    }

    /// Sets (`Some` value) or removes (`None`) one tag on a REST API resource: a stage or a
    /// usage plan. `not_found` is what the resource's absence means to a person.
    pub(super) async fn tag_rest_resource(
        &self,
        resource: &str,
        (key, value): (&str, Option<&str>),
        not_found: Option<GatewayError>,
    ) -> Result<(), GatewayError> {
        let clients = self.clients().await?;
        let error = match value {
            Some(value) => {
                let call = clients.rest.tag_resource().resource_arn(resource);
                match call.tags(key, value).send().await {
                    Ok(_) => return Ok(()),
                    Err(err) => self.tagging_error(err, "apigateway:PUT", not_found).await,
                }
            }
            None => {
                let call = clients.rest.untag_resource().resource_arn(resource);
                match call.tag_keys(key).send().await {
                    Ok(_) => return Ok(()),
                    Err(err) => {
                        self.tagging_error(err, "apigateway:DELETE", not_found)
                            .await
                    }
                }
            }
        };
        Err(error)
    }
}

fn rest_stage_arn(region: &str, api: &ApiId, stage: &StageName) -> String {
    apigateway_arn(region, &format!("/restapis/{}/stages/{stage}", api.id()))
}

/// A stage's name, method settings and tags, from GetStage or GetStages.
struct StageSettings {
    name: String,
    settings: Vec<(String, MethodSetting)>,
    tags: HashMap<String, String>,
    updated: Option<DateTime>,
}

impl From<GetStageOutput> for StageSettings {
    fn from(stage: GetStageOutput) -> Self {
        let mut settings = Self::new(stage.stage_name(), stage.method_settings(), stage.tags());
        settings.updated = stage.last_updated_date().copied();
        settings
    }
}

impl From<Stage> for StageSettings {
    fn from(stage: Stage) -> Self {
        let mut settings = Self::new(stage.stage_name(), stage.method_settings(), stage.tags());
        settings.updated = stage.last_updated_date().copied();
        settings
    }
}

impl StageSettings {
    fn entry(&self, key: &str) -> Option<&MethodSetting> {
        self.settings.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

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
            tags: tags.cloned().unwrap_or_default(),
            updated: None,
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
                // An entry whose throttling is "not set" inherits the stage's: whatever else
                // it holds (caching, logging), it is no throttle of its own.
                Some(level) if configured.is_set() => methods.push((level, configured)),
                Some(_) => {}
                None => {}
            }
        }
        stage_view(
            ApiKind::Rest,
            &self.name,
            stage_wide,
            methods,
            Some(&self.tags),
            self.updated.as_ref(),
        )
    }
}

/// One patch operation, kept plain so the rules below are tested without the SDK.
#[derive(Debug, Clone, PartialEq)]
struct Patch {
    op: Op,
    path: String,
    value: Option<String>,
}

impl Patch {
    fn replace(path: String, value: String) -> Self {
        Self {
            op: Op::Replace,
            path,
            value: Some(value),
        }
    }

    fn build(self) -> PatchOperation {
        PatchOperation::builder()
            .op(self.op)
            .path(self.path)
            .set_value(self.value)
            .build()
    }
}

fn throttling(key: &str, rate: String, burst: String) -> [Patch; 2] {
    [
        Patch::replace(format!("/{key}/throttling/rateLimit"), rate),
        Patch::replace(format!("/{key}/throttling/burstLimit"), burst),
    ]
}

fn values(limits: &ThrottleLimits) -> (String, String) {
    (limits.rate.to_string(), limits.burst.to_string())
}

/// The stage-wide level's throttle: its two throttling paths (the `*/*` entry also holds the
/// stage's caching, logging and metrics, which stay). Its reset is [`method_patch`]'s, with no
/// entry above it.
fn stage_patch(action: &Action) -> Vec<Patch> {
    let (rate, burst) = match action {
        Action::Set(limits) => values(limits),
        Action::Reset => (NOT_SET.to_owned(), NOT_SET.to_owned()),
    };
    throttling(STAGE_KEY, rate, burst).into()
}

/// What a method gets from the stage-wide entry (or, without one, from AWS's defaults), as
/// [`others`] says it. Stage-wide caching caches GET methods only: "only GET methods have
/// caching enabled by default" (API Gateway developer guide, "Enable API caching"), so any
/// other method inherits caching off.
fn inherited(key: &str, stage_wide: Option<&MethodSetting>) -> Vec<(&'static str, String)> {
    let fresh = fresh_entry();
    let mut fields = others(stage_wide.unwrap_or(&fresh));
    if !key.ends_with("/GET") {
        for (field, value) in &mut fields {
            if *field == "caching/enabled" {
                *value = "false".to_owned();
            }
        }
    }
    fields
}

/// A method level, given its entry and the stage-wide one as they are now.
///
/// AWS stores a method's settings as one whole entry: the first patch to a method with no
/// entry creates it with AWS's defaults (caching, metrics and execution logs off), not a copy of
/// `*/*` (AWS CLI `apigateway update-stage` examples; terraform-provider-aws issue 9738). So:
/// - a throttle on a method with no entry also writes the stage-wide entry's other settings,
///   in the same call, and the method keeps behaving as the stage does;
/// - a reset removes an entry that holds nothing but throttling the stage does not already
///   give it (`remove /{key}`, as Terraform's `aws_api_gateway_method_settings` deletes one),
///   and writes "not set" into an entry someone gave settings of its own;
/// - a reset of a method with no entry writes nothing: it already inherits.
///
/// Left as it is: an entry someone made with `-1` throttling and the stage's settings (as
/// Terraform's `aws_api_gateway_method_settings` can) is removed by a reset, which throttles and
/// caches exactly as before; and an entry the bot made keeps its copy when the stage-wide
/// settings change while it stands (its reset then writes `-1`, keeping the entry).
fn method_patch(
    key: &str,
    entry: Option<&MethodSetting>,
    stage_wide: Option<&MethodSetting>,
    action: &Action,
) -> Vec<Patch> {
    match (action, entry) {
        (Action::Set(limits), Some(_)) => {
            let (rate, burst) = values(limits);
            throttling(key, rate, burst).into()
        }
        (Action::Set(limits), None) => {
            let (rate, burst) = values(limits);
            // Without a stage-wide entry, AWS's defaults are what the stage gives: no copy.
            let copied = stage_wide.map(|_| inherited(key, stage_wide));
            let mut patch: Vec<Patch> = copied
                .unwrap_or_default()
                .into_iter()
                .map(|(field, value)| Patch::replace(format!("/{key}/{field}"), value))
                .collect();
            patch.extend(throttling(key, rate, burst));
            patch
        }
        (Action::Reset, None) => Vec::new(),
        (Action::Reset, Some(entry)) => {
            if others(entry) == inherited(key, stage_wide) {
                vec![Patch {
                    op: Op::Remove,
                    path: format!("/{key}"),
                    value: None,
                }]
            } else {
                throttling(key, NOT_SET.to_owned(), NOT_SET.to_owned()).into()
            }
        }
    }
}

/// An entry's settings other than throttling, as patch paths and values.
fn others(entry: &MethodSetting) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("metrics/enabled", entry.metrics_enabled().to_string()),
        ("logging/dataTrace", entry.data_trace_enabled().to_string()),
        ("caching/enabled", entry.caching_enabled().to_string()),
        (
            "caching/ttlInSeconds",
            entry.cache_ttl_in_seconds().to_string(),
        ),
        (
            "caching/dataEncrypted",
            entry.cache_data_encrypted().to_string(),
        ),
        (
            "caching/requireAuthorizationForCacheControl",
            entry.require_authorization_for_cache_control().to_string(),
        ),
    ];
    // Absent reads as AWS's default, so an entry AWS made and one it reports sparsely compare
    // equal.
    fields.push((
        "logging/loglevel",
        entry.logging_level().unwrap_or("OFF").to_owned(),
    ));
    fields.push((
        "caching/unauthorizedCacheControlHeaderStrategy",
        entry
            .unauthorized_cache_control_header_strategy()
            .map_or("SUCCEED_WITH_RESPONSE_HEADER", |s| s.as_str())
            .to_owned(),
    ));
    fields
}

/// A new entry as AWS makes it (API Gateway API reference, MethodSetting; the AWS CLI's
/// `get-stage` output for an entry created by a throttling patch).
fn fresh_entry() -> MethodSetting {
    MethodSetting::builder()
        .metrics_enabled(false)
        .logging_level("OFF")
        .data_trace_enabled(false)
        .caching_enabled(false)
        .cache_ttl_in_seconds(300)
        .cache_data_encrypted(false)
        .require_authorization_for_cache_control(true)
        .unauthorized_cache_control_header_strategy(
            UnauthorizedCacheControlHeaderStrategy::SucceedWithResponseHeader,
        )
        .build()
}

/// AWS's answer to removing an entry that is not there ("Cannot remove method setting … because
/// there is no method setting for this method").
fn is_already_absent(message: Option<&str>) -> bool {
    message.is_some_and(|m| m.contains("no method setting"))
}

#[cfg(test)]
mod tests;
