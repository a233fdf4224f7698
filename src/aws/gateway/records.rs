//! Where this deployment's timed-change records are: the marker tag written with every record
//! (in the same TagResource) and removed with the last one, the tagging API's `GetResources`
//! that finds every marked stage and usage plan in one paged call, and the count of AWS calls
//! a target makes, by budget, for the sweep's metrics.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_apigateway::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_apigateway::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_resourcegroupstagging::types::TagFilter;

use super::TargetGateway;
use super::listing::Listing;
use crate::aws::partition::apigateway_arn;
use crate::core::ports::GatewayError;
use crate::domain::{
    ApiId, ApiKind, Held, Holder, LEASE_KEY, MARKER_KEY, StageName, is_record_key,
};

/// The AWS calls one target has made, by budget: API Gateway's management calls (about 10 a
/// second per account, shared with every deploy pipeline) and the tagging API's (a quota of
/// its own). Every attempt counts: a retry spends the budget as the first try did.
#[derive(Debug, Default)]
pub struct Calls {
    management: AtomicU64,
    tagging: AtomicU64,
}

impl Calls {
    pub fn management(&self) -> u64 {
        self.management.load(Ordering::Relaxed)
    }

    pub fn tagging(&self) -> u64 {
        self.tagging.load(Ordering::Relaxed)
    }
}

/// Counts each attempt of a client's calls into one of a target's budgets.
#[derive(Debug, Clone)]
pub(super) struct Counting {
    calls: Arc<Calls>,
    tagging: bool,
}

impl Counting {
    pub(super) fn management(calls: &Arc<Calls>) -> Self {
        Self {
            calls: Arc::clone(calls),
            tagging: false,
        }
    }

    pub(super) fn tagging(calls: &Arc<Calls>) -> Self {
        Self {
            calls: Arc::clone(calls),
            tagging: true,
        }
    }
}

impl Intercept for Counting {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    fn read_before_attempt(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let budget = match self.tagging {
            true => &self.calls.tagging,
            false => &self.calls.management,
        };
        budget.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// The records' keys that name no method (stage-wide, an HTTP API's default route, a usage
/// plan's own): what a record written before the marker is found by.
const UNMARKED_KEYS: [&str; 3] = [
    "throttle-bot:stage",
    "throttle-bot:=24default",
    "throttle-bot:plan",
];

/// A resource that holds records, as the tagging calls reach it (ids as AWS knows them).
#[derive(Debug, Clone)]
pub(super) enum Tagged {
    RestStage { api: String, stage: String },
    HttpStage { api: String, stage: String },
    Plan { id: String },
}

impl Tagged {
    pub(super) fn stage(kind: ApiKind, api: &ApiId, stage: &StageName) -> Self {
        let (api, stage) = (api.id().to_owned(), stage.as_str().to_owned());
        match kind {
            ApiKind::Rest => Self::RestStage { api, stage },
            ApiKind::Http => Self::HttpStage { api, stage },
        }
    }

    fn of(holder: &Holder) -> Self {
        match holder {
            Holder::Stage { kind, api, stage } => Self::stage(*kind, api, stage),
            Holder::Plan(id) => Self::plan(id.rsplit(':').next().unwrap_or(id)),
        }
    }

    pub(super) fn plan(bare_id: &str) -> Self {
        Self::Plan {
            id: bare_id.to_owned(),
        }
    }

    fn path(&self) -> String {
        match self {
            Self::RestStage { api, stage } => format!("/restapis/{api}/stages/{stage}"),
            Self::HttpStage { api, stage } => format!("/apis/{api}/stages/{stage}"),
            Self::Plan { id } => format!("/usageplans/{id}"),
        }
    }
}

impl TargetGateway {
    /// The deployment's mark when `key` is a record's, which the marker then goes with;
    /// `None` for other tags (claims, the lease) and where no mark is set.
    pub(super) fn mark_for(&self, key: &str) -> Option<&str> {
        self.settings
            .records_mark
            .as_deref()
            .filter(|_| is_record_key(key))
    }

    /// Writes a record and the marker in one TagResource: a record is never found without it.
    pub(super) async fn tag_marked(
        &self,
        on: &Tagged,
        (key, value): (&str, &str),
        mark: &str,
        not_found: Option<GatewayError>,
    ) -> Result<(), GatewayError> {
        self.set_tags(on, &[(key, value), (MARKER_KEY, mark)], not_found)
            .await
    }

    /// Removes a record with the marker, then reads the resource's tags back: if it still
    /// holds a record (another level's, or one written meanwhile), the marker goes back; if
    /// none, the sweep's lease (kept on a resource holding records) goes too. Interrupted
    /// between the two, a record may be left unmarked until its level is written again: the
    /// process that made it still keeps its time.
    pub(super) async fn untag_marked(
        &self,
        on: &Tagged,
        key: &str,
        mark: &str,
        not_found: Option<GatewayError>,
    ) -> Result<(), GatewayError> {
        self.remove_tags(on, &[key, MARKER_KEY], not_found).await?;
        self.settle_marker(on, mark).await;
        Ok(())
    }

    /// Removes a marker the sweep found over no record (left by an interrupted removal), as
    /// [`TargetGateway::untag_marked`] does: put back if a record came meanwhile.
    pub(crate) async fn unmark(&self, holder: &Holder) -> Result<(), GatewayError> {
        let Some(mark) = self.settings.records_mark.clone() else {
            return Ok(());
        };
        let on = Tagged::of(holder);
        self.remove_tags(&on, &[MARKER_KEY], None).await?;
        self.settle_marker(&on, &mark).await;
        Ok(())
    }

    /// After a marker was removed: back if the resource holds a record, and the lease gone if
    /// it holds none. Failures are logged: the record itself is already right.
    async fn settle_marker(&self, on: &Tagged, mark: &str) {
        let tags = match self.raw_tags(on).await {
            Ok(tags) => tags,
            Err(error) => {
                tracing::warn!(%error, resource = on.path(), "could not read a resource's tags back after removing a timed change's record; if it holds another, that one is found by the sweep again once its level is next written");
                return;
            }
        };
        let holds_records = tags.keys().any(|key| is_record_key(key));
        let fixed = if holds_records && !tags.contains_key(MARKER_KEY) {
            self.set_tags(on, &[(MARKER_KEY, mark)], None).await
        } else if !holds_records && tags.contains_key(LEASE_KEY) {
            self.remove_tags(on, &[LEASE_KEY], None).await
        } else {
            Ok(())
        };
        if let Err(error) = fixed {
            tracing::warn!(%error, resource = on.path(), "could not put the records' marker right after removing a timed change's record");
        }
    }

    pub(super) async fn set_tags(
        &self,
        on: &Tagged,
        tags: &[(&str, &str)],
        not_found: Option<GatewayError>,
    ) -> Result<(), GatewayError> {
        let clients = self.clients().await?;
        let arn = apigateway_arn(&self.region(), &on.path());
        match on {
            Tagged::HttpStage { .. } => {
                let mut call = clients.http.tag_resource().resource_arn(&arn);
                for (key, value) in tags {
                    call = call.tags(*key, *value);
                }
                match call.send().await {
                    Ok(_) => Ok(()),
                    Err(err) => Err(self.tagging_error(err, "apigateway:PUT", not_found).await),
                }
            }
            Tagged::RestStage { .. } | Tagged::Plan { .. } => {
                let mut call = clients.rest.tag_resource().resource_arn(&arn);
                for (key, value) in tags {
                    call = call.tags(*key, *value);
                }
                match call.send().await {
                    Ok(_) => Ok(()),
                    Err(err) => Err(self.tagging_error(err, "apigateway:PUT", not_found).await),
                }
            }
        }
    }

    async fn remove_tags(
        &self,
        on: &Tagged,
        keys: &[&str],
        not_found: Option<GatewayError>,
    ) -> Result<(), GatewayError> {
        let clients = self.clients().await?;
        let arn = apigateway_arn(&self.region(), &on.path());
        let keys: Vec<String> = keys.iter().map(|key| (*key).to_owned()).collect();
        match on {
            Tagged::HttpStage { .. } => {
                let call = clients.http.untag_resource().resource_arn(&arn);
                match call.set_tag_keys(Some(keys)).send().await {
                    Ok(_) => Ok(()),
                    Err(err) => Err(self
                        .tagging_error(err, "apigateway:DELETE", not_found)
                        .await),
                }
            }
            Tagged::RestStage { .. } | Tagged::Plan { .. } => {
                let call = clients.rest.untag_resource().resource_arn(&arn);
                match call.set_tag_keys(Some(keys)).send().await {
                    Ok(_) => Ok(()),
                    Err(err) => Err(self
                        .tagging_error(err, "apigateway:DELETE", not_found)
                        .await),
                }
            }
        }
    }

    /// Every tag of the resource, as its own read returns them (GetStage, GetUsagePlan).
    async fn raw_tags(&self, on: &Tagged) -> Result<HashMap<String, String>, GatewayError> {
        let clients = self.clients().await?;
        let arn = apigateway_arn(&self.region(), &on.path());
        let tags = match on {
            Tagged::RestStage { api, stage } => {
                let call = clients.rest.get_stage().rest_api_id(api).stage_name(stage);
                call.send()
                    .await
                    .map(|found| found.tags().cloned())
                    .map_err(|err| self.explain(err, "apigateway:GET", &arn, None))
            }
            Tagged::HttpStage { api, stage } => {
                let call = clients.http.get_stage().api_id(api).stage_name(stage);
                call.send()
                    .await
                    .map(|found| found.tags().cloned())
                    .map_err(|err| self.explain(err, "apigateway:GET", &arn, None))
            }
            Tagged::Plan { id } => {
                let call = clients.rest.get_usage_plan().usage_plan_id(id);
                call.send()
                    .await
                    .map(|found| found.tags().cloned())
                    .map_err(|err| self.explain(err, "apigateway:GET", &arn, None))
            }
        };
        Ok(tags?.unwrap_or_default())
    }

    /// Every stage and usage plan of this target that carries this deployment's marker, with
    /// its tags, in ARN order: one paged `GetResources` of the Resource Groups Tagging API
    /// (its own quota, not API Gateway's management budget). The kinds the ARNs tell are
    /// remembered, so reading those stages never needs the list of APIs.
    pub(crate) async fn holders(&self) -> Result<Vec<Held>, GatewayError> {
        let Some(mark) = self.settings.records_mark.clone() else {
            return Ok(Vec::new());
        };
        self.tagged(MARKER_KEY, Some(&mark)).await
    }

    /// Stages and usage plans holding a record at a level whose key is fixed (stage-wide, an
    /// HTTP API's default route, a plan's own) but no marker: records written before the
    /// marker existed (three paged GetResources). A method's record has a key of its own and
    /// is not found this way.
    pub(crate) async fn unmarked(&self) -> Result<Vec<Held>, GatewayError> {
        let mut found: Vec<Held> = Vec::new();
        for key in UNMARKED_KEYS {
            for held in self.tagged(key, None).await? {
                let marked = held.tags.iter().any(|(k, _)| k == MARKER_KEY);
                if !marked && !found.iter().any(|f| f.arn == held.arn) {
                    found.push(held);
                }
            }
        }
        found.sort_by(|a, b| a.arn.cmp(&b.arn));
        Ok(found)
    }

    /// Marks a resource found holding records written before the marker, so that every later
    /// sweep finds it.
    pub(crate) async fn mark(&self, holder: &Holder) -> Result<(), GatewayError> {
        let Some(mark) = self.settings.records_mark.clone() else {
            return Ok(());
        };
        self.set_tags(&Tagged::of(holder), &[(MARKER_KEY, &mark)], None)
            .await
    }

    /// Every API Gateway resource of this target tagged `key` (with `value`, when given).
    async fn tagged(&self, key: &str, value: Option<&str>) -> Result<Vec<Held>, GatewayError> {
        let (connection, clients) = self.connection().await;
        if let Err(GatewayError::NoRegion) = &connection.setup {
            return Err(GatewayError::NoRegion);
        }
        let mut held = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = clients
                .tagging
                .get_resources()
                .tag_filters(
                    TagFilter::builder()
                        .key(key)
                        .set_values(value.map(|v| vec![v.to_owned()]))
                        .build(),
                )
                .resource_type_filters("apigateway")
                .resources_per_page(100)
                .set_pagination_token(token.take())
                .send()
                .await;
            let page = match page {
                Ok(page) => page,
                Err(err) => {
                    let error = self.explain(err, "tag:GetResources", "*", None);
                    return Err(self.named(error).await);
                }
            };
            for mapping in page.resource_tag_mapping_list() {
                let Some(arn) = mapping.resource_arn() else {
                    continue;
                };
                let Some(holder) = Holder::from_arn(arn, self.target.as_ref()) else {
                    continue;
                };
                if let Holder::Stage { kind, api, .. } = &holder {
                    let mut kinds = self.kinds.lock().expect("api kinds");
                    kinds
                        .entry(api.id().to_owned())
                        .or_insert(Listing::Api(*kind));
                }
                let tags = mapping.tags().iter();
                held.push(Held {
                    arn: arn.to_owned(),
                    holder,
                    tags: tags
                        .map(|tag| (tag.key().to_owned(), tag.value().to_owned()))
                        .collect(),
                });
            }
            match page.pagination_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        held.sort_by(|a, b| a.arn.cmp(&b.arn));
        Ok(held)
    }

    /// This target's calls so far, by budget.
    pub fn calls(&self) -> &Calls {
        &self.calls
    }
}
