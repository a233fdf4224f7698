//! REST APIs (`/restapis`): a stage's method settings, patched two paths at a time. "Not set" is
//! `-1`; a level's override is removed by writing it.

use std::collections::HashMap;

use aws_sdk_apigateway::error::ProvideErrorMetadata;
use aws_sdk_apigateway::operation::get_stage::GetStageOutput;
use aws_sdk_apigateway::types::{MethodSetting, Op, PatchOperation, Stage};

use super::super::settings::{parse_setting_key, setting_key};
use super::{TargetGateway, methods_unread, retries, stage_not_found, stage_view};
use crate::core::ports::GatewayError;
use crate::domain::{
    Action, ApiId, ApiKind, ApiMethod, Configured, Level, StageName, StageView, TargetError,
};

/// The value API Gateway reads as "not set at this level".
const NOT_SET: &str = "-1";

impl TargetGateway {
    pub(super) async fn rest_stage(
        &self,
        api: &ApiId,
        stage: &StageName,
    ) -> Result<StageView, GatewayError> {
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
            Ok(found) => Ok(StageSettings::from(found).view()),
            Err(err) => {
                let resource = rest_stage_arn(&self.region(), api, stage);
                let not_found = stage_not_found(api, stage);
                let error = self.explain(err, "apigateway:GET", &resource, Some(not_found));
                Err(self.named(error).await)
            }
        }
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
                let resource = format!(
                    "arn:aws:apigateway:{}::/restapis/{}/stages",
                    self.region(),
                    api.id()
                );
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

    /// One UpdateStage with both paths of the level: a reset writes "not set".
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
        let (rate, burst) = match action {
            Action::Set(limits) => (limits.rate.to_string(), limits.burst.to_string()),
            Action::Reset => (NOT_SET.to_owned(), NOT_SET.to_owned()),
        };
        let replace = |field: &str, value: String| {
            PatchOperation::builder()
                .op(Op::Replace)
                .path(format!("/{key}/throttling/{field}"))
                .value(value)
                .build()
        };
        let (attempts, timeouts) = retries();
        let result = self
            .clients()
            .await?
            .rest
            .update_stage()
            .rest_api_id(api.id())
            .stage_name(stage.as_str())
            .patch_operations(replace("rateLimit", rate))
            .patch_operations(replace("burstLimit", burst))
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
            Err(err) => {
                let resource = rest_stage_arn(&self.region(), api, stage);
                let error = self.write_error(err, api, stage, ("apigateway:PATCH", &resource));
                Err(self.named(error).await)
            }
        }
    }

    pub(super) async fn rest_tag(
        &self,
        api: &ApiId,
        stage: &StageName,
        key: &str,
        value: &str,
    ) -> Result<(), GatewayError> {
        let resource = rest_stage_arn(&self.region(), api, stage);
        let not_found = stage_not_found(api, stage);
        self.tag_rest_resource(&resource, (key, Some(value)), Some(not_found))
            .await
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
    format!(
        "arn:aws:apigateway:{region}::/restapis/{}/stages/{stage}",
        api.id()
    )
}

/// A stage's name, method settings and tags, from GetStage or GetStages.
struct StageSettings {
    name: String,
    settings: Vec<(String, MethodSetting)>,
    tags: HashMap<String, String>,
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
            tags: tags.cloned().unwrap_or_default(),
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
        stage_view(
            ApiKind::Rest,
            &self.name,
            stage_wide,
            methods,
            Some(&self.tags),
        )
    }
}
