//! HTTP APIs (API Gateway v2, `/apis`): stage-wide limits in the stage's
//! `DefaultRouteSettings`, a route's in `RouteSettings` under its route key.
//!
//! `UpdateStage` replaces each settings object it is given, and an object without throttling
//! fields is read back as 0/0 (every request refused): so a write reads the stage first, changes
//! only the two throttling fields and sends the rest as it was. A stage has no "not set" (the
//! core writes the account's limits for a stage-wide reset); a route's override is removed with
//! `DeleteRouteSettings`.

use std::collections::HashMap;

use aws_sdk_apigatewayv2::error::ProvideErrorMetadata;
use aws_sdk_apigatewayv2::types::RouteSettings;

use super::{TargetGateway, methods_unread, retries, stage_not_found, stage_view};
use crate::aws::partition::apigateway_arn;
use crate::core::ports::GatewayError;
use crate::domain::{
    Action, ApiId, ApiKind, ApiMethod, Configured, HttpMethod, Level, ResourcePath, StageName,
    StageView, ThrottleLimits,
};

impl TargetGateway {
    pub(super) async fn http_stage(
        &self,
        api: &ApiId,
        stage: &StageName,
    ) -> Result<StageView, GatewayError> {
        self.http_settings(api, stage)
            .await
            .map(|settings| settings.view())
    }

    /// GetStage, as the settings objects a write must send back whole.
    async fn http_settings(
        &self,
        api: &ApiId,
        stage: &StageName,
    ) -> Result<Settings, GatewayError> {
        let result = self
            .clients()
            .await?
            .http
            .get_stage()
            .api_id(api.id())
            .stage_name(stage.as_str())
            .send()
            .await;
        match result {
            Ok(found) => Ok(Settings {
                name: found.stage_name().unwrap_or_default().to_owned(),
                default: found.default_route_settings().cloned(),
                routes: found.route_settings().cloned().unwrap_or_default(),
                tags: found.tags().cloned().unwrap_or_default(),
                updated: found.last_updated_date().copied(),
            }),
            Err(err) => {
                let resource = http_stage_arn(&self.region(), api, stage);
                let not_found = stage_not_found(api, stage);
                let error = self.explain(err, "apigateway:GET", &resource, Some(not_found));
                Err(self.named(error).await)
            }
        }
    }

    /// Every stage, all pages.
    pub(super) async fn http_stages(&self, api: &ApiId) -> Result<Vec<StageView>, GatewayError> {
        let mut views = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let result = self
                .clients()
                .await?
                .http
                .get_stages()
                .api_id(api.id())
                .max_results("500")
                .set_next_token(next.take())
                .send()
                .await;
            let page = match result {
                Ok(page) => page,
                Err(err) => {
                    let resource =
                        apigateway_arn(&self.region(), &format!("/apis/{}/stages", api.id()));
                    let not_found = GatewayError::ApiNotFound {
                        api: api.to_string(),
                    };
                    let error = self.explain(err, "apigateway:GET", &resource, Some(not_found));
                    return Err(self.named(error).await);
                }
            };
            views.extend(page.items().iter().map(|stage| {
                Settings {
                    name: stage.stage_name().unwrap_or_default().to_owned(),
                    default: stage.default_route_settings().cloned(),
                    routes: stage.route_settings().cloned().unwrap_or_default(),
                    tags: stage.tags().cloned().unwrap_or_default(),
                    updated: stage.last_updated_date().copied(),
                }
                .view()
            }));
            match page.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => return Ok(views),
            }
        }
    }

    /// The API's routes as methods (GetRoutes, all pages); `$default` names no method. `None`
    /// when they cannot be read (logged with the AWS error code): the check helps a user, it is
    /// never in the way of a change (UpdateStage itself refuses a route key the API lacks).
    pub(super) async fn http_methods(&self, api: &ApiId) -> Option<Vec<ApiMethod>> {
        let mut methods = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let result = self
                .clients()
                .await
                .ok()?
                .http
                .get_routes()
                .api_id(api.id())
                .max_results("500")
                .set_next_token(next.take())
                .send()
                .await;
            let page = match result {
                Ok(page) => page,
                Err(err) => {
                    methods_unread(err.code(), api, "GetRoutes", "/apis/*/routes");
                    return None;
                }
            };
            let keys = page.items().iter().filter_map(|route| route.route_key());
            methods.extend(
                keys.filter_map(|key| key.split_once(' '))
                    .map(|(method, path)| ApiMethod::new(method, path)),
            );
            match page.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => return Some(methods),
            }
        }
    }

    /// Sets a level's two throttling fields, keeping every other setting of its object; or
    /// removes a route's settings.
    pub(super) async fn http_write(
        &self,
        api: &ApiId,
        stage: &StageName,
        level: &Level,
        action: &Action,
    ) -> Result<(), GatewayError> {
        let resource = http_stage_arn(&self.region(), api, stage);
        let (attempts, timeouts) = retries();
        let retried = || {
            aws_sdk_apigatewayv2::config::Builder::default()
                .retry_config(attempts.clone())
                .timeout_config(timeouts.clone())
        };
        let result = match (route_key(level), action) {
            (None, Action::Reset) => {
                // The core writes the account's limits instead; unset would read back as 0/0.
                return Err(GatewayError::Unexpected(
                    "an HTTP API stage cannot be left without limits".to_owned(),
                ));
            }
            (Some(key), Action::Reset) => {
                // DeleteRouteSettings removes the route's whole object (detailed metrics,
                // logging too): only when throttling is all it holds; else the rest is written
                // back without throttling. No object: the route already inherits.
                let current = self.http_settings(api, stage).await?;
                let Some(object) = current.routes.get(&key) else {
                    return Ok(());
                };
                let kept = if holds_more_than_throttling(object) {
                    self.clients()
                        .await?
                        .http
                        .update_stage()
                        .api_id(api.id())
                        .stage_name(stage.as_str())
                        .route_settings(&key, without_limits(object))
                        .customize()
                        .config_override(retried())
                        .send()
                        .await
                        .map_err(|err| {
                            self.write_error(err, api, stage, ("apigateway:PATCH", &resource))
                        })?;
                    // How AWS reads an object sent without throttling is not documented: if the
                    // route still throttles (kept, or read as 0/0), its settings are deleted
                    // after all, detailed metrics with them, rather than leave a throttle.
                    let now = self.http_settings(api, stage).await?;
                    let still = now.routes.get(&key).map(throttling).unwrap_or_default();
                    if still.is_set() {
                        tracing::warn!(api = %api, stage = stage.as_str(), route = key.as_str(), "a route's settings written back without throttling still throttle; deleting them (its detailed metrics too)");
                    }
                    !still.is_set()
                } else {
                    false
                };
                if kept {
                    Ok(())
                } else {
                    let settings = format!("{resource}/routesettings/{key}");
                    let deleted = self
                        .clients()
                        .await?
                        .http
                        .delete_route_settings()
                        .api_id(api.id())
                        .stage_name(stage.as_str())
                        .route_key(&key)
                        .customize()
                        .config_override(retried())
                        .send()
                        .await;
                    match deleted {
                        Ok(_) => Ok(()),
                        // Gone since the read: the route inherits, as asked. (The stage's
                        // absence was ruled out by the read just before.)
                        Err(err) if err.code() == Some("NotFoundException") => Ok(()),
                        Err(err) => {
                            Err(self.write_error(err, api, stage, ("apigateway:DELETE", &settings)))
                        }
                    }
                }
            }
            (key, Action::Set(limits)) => {
                let current = self.http_settings(api, stage).await?;
                let update = self
                    .clients()
                    .await?
                    .http
                    .update_stage()
                    .api_id(api.id())
                    .stage_name(stage.as_str());
                let update = match &key {
                    None => {
                        update.default_route_settings(with_limits(current.default.as_ref(), limits))
                    }
                    Some(key) => {
                        update.route_settings(key, with_limits(current.routes.get(key), limits))
                    }
                };
                update
                    .customize()
                    .config_override(retried())
                    .send()
                    .await
                    .map(drop)
                    .map_err(|err| {
                        self.write_error(err, api, stage, ("apigateway:PATCH", &resource))
                    })
            }
        };
        match result {
            Ok(()) => Ok(()),
            Err(error) => Err(self.named(error).await),
        }
    }

    pub(super) async fn http_untag(
        &self,
        api: &ApiId,
        stage: &StageName,
        key: &str,
    ) -> Result<(), GatewayError> {
        let resource = http_stage_arn(&self.region(), api, stage);
        let result = self
            .clients()
            .await?
            .http
            .untag_resource()
            .resource_arn(&resource)
            .tag_keys(key)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => {
                let not_found = Some(stage_not_found(api, stage));
                Err(self
                    .tagging_error(err, "apigateway:DELETE", not_found)
                    .await)
            }
        }
    }
}

fn http_stage_arn(region: &str, api: &ApiId, stage: &StageName) -> String {
    apigateway_arn(region, &format!("/apis/{}/stages/{stage}", api.id()))
}

/// A level's route key; `None` for the stage (its `DefaultRouteSettings`).
fn route_key(level: &Level) -> Option<String> {
    match level {
        Level::Stage => None,
        route => Some(route.to_string()),
    }
}

/// The level a route key names; `None` for a key no command can name.
pub(super) fn level_of(route_key: &str) -> Option<Level> {
    if route_key == Level::DEFAULT_ROUTE {
        return Some(Level::DefaultRoute);
    }
    let (method, path) = route_key.split_once(' ')?;
    let level = Level::method(
        HttpMethod::parse(method).ok()?,
        ResourcePath::parse(path).ok()?,
    );
    (level != Level::Stage).then_some(level)
}

/// `settings` with the throttling fields set to `limits` and detailed metrics as they were.
///
/// Execution-log fields (`DataTraceEnabled`, `LoggingLevel`) are never sent back: UpdateStage
/// refuses them on an HTTP API ("Execution logs are not supported on protocolType HTTP";
/// terraform-provider-aws issues 13801, 14010), even when GetStage reported them.
fn with_limits(settings: Option<&RouteSettings>, limits: &ThrottleLimits) -> RouteSettings {
    RouteSettings::builder()
        .set_detailed_metrics_enabled(settings.and_then(RouteSettings::detailed_metrics_enabled))
        .throttling_rate_limit(limits.rate.value())
        .throttling_burst_limit(limits.burst.value())
        .build()
}

/// A route's object without its throttling: what it holds besides.
fn without_limits(settings: &RouteSettings) -> RouteSettings {
    RouteSettings::builder()
        .set_detailed_metrics_enabled(settings.detailed_metrics_enabled())
        .build()
}

/// Whether a route's object holds a setting of its own besides throttling (one that
/// DeleteRouteSettings would take away with it).
fn holds_more_than_throttling(settings: &RouteSettings) -> bool {
    settings.detailed_metrics_enabled() == Some(true)
}

/// An object's throttling: absent fields are "not set" (account limits apply).
fn throttling(settings: &RouteSettings) -> Configured {
    Configured::from_reported(
        settings.throttling_rate_limit(),
        settings.throttling_burst_limit(),
    )
}

/// A stage's settings objects as GetStage or GetStages returns them.
struct Settings {
    name: String,
    default: Option<RouteSettings>,
    routes: HashMap<String, RouteSettings>,
    tags: HashMap<String, String>,
    /// When the stage was last updated, as API Gateway says.
    updated: Option<aws_sdk_apigatewayv2::primitives::DateTime>,
}

impl Settings {
    /// Routes whose settings hold no throttling (only metrics or logging) inherit the stage's.
    fn view(&self) -> StageView {
        let stage_wide = self.default.as_ref().map(throttling).unwrap_or_default();
        let routes = self
            .routes
            .iter()
            .filter_map(|(key, settings)| Some((level_of(key)?, throttling(settings))))
            .filter(|(_, configured)| configured.is_set())
            .collect();
        stage_view(
            ApiKind::Http,
            &self.name,
            stage_wide,
            routes,
            Some(&self.tags),
            self.updated.as_ref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BurstLimit, RateLimit};

    #[test]
    fn route_keys_name_levels_and_back() {
        for key in ["GET /orders/{id}", "ANY /{proxy+}", "$default", "POST /"] {
            let level = level_of(key).expect(key);
            assert_eq!(route_key(&level).as_deref(), Some(key));
        }
        assert_eq!(route_key(&Level::Stage), None);
        for unnamed in ["$connect", "GET", "GET orders", "* *"] {
            assert_eq!(level_of(unnamed), None, "{unnamed}");
        }
    }

    #[test]
    fn a_write_keeps_every_other_setting_of_the_object() {
        let limits = ThrottleLimits {
            rate: RateLimit::new(12.5).unwrap(),
            burst: BurstLimit::new(30).unwrap(),
        };
        let current = RouteSettings::builder()
            .detailed_metrics_enabled(true)
            .data_trace_enabled(true)
            .logging_level(aws_sdk_apigatewayv2::types::LoggingLevel::Info)
            .throttling_rate_limit(0.0)
            .throttling_burst_limit(0)
            .build();
        let written = with_limits(Some(&current), &limits);
        assert_eq!(written.detailed_metrics_enabled(), Some(true));
        // Execution logs are refused on HTTP APIs: never echoed back.
        assert_eq!(written.data_trace_enabled(), None);
        assert_eq!(written.logging_level(), None);
        assert_eq!(written.throttling_rate_limit(), Some(12.5));
        assert_eq!(written.throttling_burst_limit(), Some(30));
        let fresh = with_limits(None, &limits);
        assert_eq!(fresh.detailed_metrics_enabled(), None);
        assert_eq!(fresh.throttling_burst_limit(), Some(30));
    }

    #[test]
    fn a_route_object_is_deleted_only_when_throttling_is_all_it_holds() {
        let throttled = RouteSettings::builder()
            .throttling_rate_limit(5.0)
            .throttling_burst_limit(10)
            .data_trace_enabled(false)
            .logging_level(aws_sdk_apigatewayv2::types::LoggingLevel::Off)
            .build();
        assert!(!holds_more_than_throttling(&throttled));
        let with_metrics = RouteSettings::builder()
            .detailed_metrics_enabled(true)
            .throttling_rate_limit(5.0)
            .throttling_burst_limit(10)
            .build();
        assert!(holds_more_than_throttling(&with_metrics));
        let kept = without_limits(&with_metrics);
        assert_eq!(kept.detailed_metrics_enabled(), Some(true));
        assert_eq!(kept.throttling_rate_limit(), None);
        assert_eq!(kept.throttling_burst_limit(), None);
    }

    #[test]
    fn routes_without_throttling_inherit_and_a_stage_without_it_is_not_set() {
        let metrics_only = RouteSettings::builder()
            .detailed_metrics_enabled(true)
            .build();
        let throttled = RouteSettings::builder()
            .throttling_rate_limit(0.0)
            .throttling_burst_limit(0)
            .build();
        let settings = Settings {
            name: "prod".to_owned(),
            default: Some(metrics_only.clone()),
            routes: HashMap::from([
                ("GET /a".to_owned(), metrics_only),
                ("$default".to_owned(), throttled),
            ]),
            tags: HashMap::new(),
            updated: None,
        };
        let view = settings.view();
        assert_eq!(view.kind, ApiKind::Http);
        assert!(!view.stage_wide.is_set());
        assert_eq!(view.methods.len(), 1);
        assert_eq!(view.methods[0].0, Level::DefaultRoute);
        assert!(view.methods[0].1.blocks());
    }
}
