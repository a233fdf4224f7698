//! The cached list of a target's APIs (REST, HTTP and WebSocket, all pages): which kind an id
//! is, and names found by search, refreshed on a miss at most once a while per name.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use aws_sdk_apigatewayv2::types::ProtocolType;

use super::{NAMES_TTL, TargetGateway};
use crate::core::ports::GatewayError;
use crate::domain::{ApiId, ApiKind};

/// One API as the listings name it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Listed {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) kind: Listing,
}

/// What kind of API a listing found: one this service changes, or a WebSocket API (listed by
/// GetApis beside HTTP APIs, and refused by name).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Listing {
    Api(ApiKind),
    WebSocket,
}

pub(super) type ApiList = Arc<Vec<Listed>>;

/// How many recent misses are remembered (a flood of distinct typos only refreshes the list at
/// the pace, and forgets nothing it needs).
const MAX_MISSES: usize = 10_000;

/// The most APIs (of every kind) one target's listing holds in memory: about 2 MB, far above
/// API Gateway's default quotas (600 regional REST APIs and 600 HTTP APIs per account and
/// region). Past it, listing stops and a name it did not reach is refused with a message that
/// says so (an id still works).
pub(super) const MAX_LISTED: usize = 10_000;

/// From how many APIs a listing is long enough (more than one page of each kind) that all
/// name misses share one listing per `list_refresh` (see [`TargetGateway::search`]).
const SHARED_MISSES_FROM: usize = 500;

impl TargetGateway {
    /// Every API's id, name and kind (REST APIs, then HTTP and WebSocket APIs), all pages; the
    /// cached list while `fresh` says so of the moment it was read.
    pub(super) async fn api_list(
        &self,
        fresh: impl Fn(Instant) -> bool,
    ) -> Result<ApiList, GatewayError> {
        let mut cached = self.names.lock().await;
        if let Some((at, list)) = cached.as_ref()
            && fresh(*at)
        {
            return Ok(Arc::clone(list));
        }
        let mut list = self.rest_apis().await?;
        match self.http_apis(MAX_LISTED.saturating_sub(list.len())).await {
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
        let over = list.len() >= MAX_LISTED;
        if over && !self.over_budget.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                listed = list.len(),
                "this account and region has more APIs than a listing holds in memory; names beyond them are not found (ids still work); said once"
            );
        } else if !over {
            self.over_budget.store(false, Ordering::Relaxed);
        }
        let list = Arc::new(list);
        *cached = Some((Instant::now(), Arc::clone(&list)));
        Ok(list)
    }

    pub(super) async fn rest_apis(&self) -> Result<Vec<Listed>, GatewayError> {
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
                let resource = crate::aws::partition::apigateway_arn(&self.region(), "/restapis");
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
            if list.len() >= MAX_LISTED {
                list.truncate(MAX_LISTED);
                break;
            }
        }
        Ok(list)
    }

    /// GetApis, all pages up to `budget` APIs: HTTP APIs and WebSocket APIs.
    pub(super) async fn http_apis(&self, budget: usize) -> Result<Vec<Listed>, GatewayError> {
        if budget == 0 {
            return Ok(Vec::new());
        }
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
                    let resource = crate::aws::partition::apigateway_arn(&self.region(), "/apis");
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
            if list.len() >= budget {
                list.truncate(budget);
                return Ok(list);
            }
            match page.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => return Ok(list),
            }
        }
    }

    /// The kind of API `id` is, as far as any listing has found; never calls AWS.
    pub(super) fn listed_kind(&self, id: &ApiId) -> Option<Listing> {
        self.kinds.lock().expect("api kinds").get(id.id()).copied()
    }

    /// The kind of API `id` is: known from a listing, or found by refreshing the list (at
    /// most once a while per id). `None` when no listing has it.
    pub(super) async fn find_kind(&self, id: &ApiId) -> Result<Option<ApiKind>, GatewayError> {
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
    pub(super) fn kind_for_call(&self, id: &ApiId) -> Result<ApiKind, GatewayError> {
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
    /// `list_refresh`, and concurrent misses share one refresh: a list read since this search
    /// began will do. Where the list is long (more than [`SHARED_MISSES_FROM`] APIs, several
    /// calls a listing), every miss within `list_refresh` of the last listing shares it,
    /// whatever name it missed: a burst of typos or unknown names costs one listing per
    /// `list_refresh`, not one per miss.
    pub(super) async fn search<T>(
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
        let shared = match list.len() > SHARED_MISSES_FROM {
            true => self.settings.list_refresh,
            false => std::time::Duration::ZERO,
        };
        let list = self
            .api_list(|at| at >= began || at.elapsed() < shared)
            .await?;
        let hit = found(&list);
        if hit.is_none() {
            self.note_miss(wanted);
        }
        Ok((hit, list))
    }

    pub(super) fn missed_lately(&self, wanted: &str) -> bool {
        let missed = self.missed.lock().expect("missed names");
        missed
            .get(wanted)
            .is_some_and(|at| at.elapsed() < self.settings.list_refresh)
    }

    pub(super) fn note_miss(&self, wanted: &str) {
        let mut missed = self.missed.lock().expect("missed names");
        // Bounded: old misses are forgotten as new ones come.
        let refresh = self.settings.list_refresh;
        missed.retain(|_, at| at.elapsed() < refresh);
        if missed.len() < MAX_MISSES {
            missed.insert(wanted.to_owned(), Instant::now());
        }
    }
}

/// Up to three listed names close to `name`, best first.
pub(super) fn close_names(name: &str, list: &[Listed]) -> Vec<String> {
    crate::domain::text::close_names(name, list.iter().map(|api| api.name.as_str()))
}
