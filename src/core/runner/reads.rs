//! What the runner reads before it decides: the API and stage a request names, a target's
//! listing, `show`, and the traffic CloudWatch holds for them.

use std::time::Duration;

use super::{LISTED_WITH_STAGES, LevelGuard, Runner, TRAFFIC_WINDOW_SECS};
use crate::core::clock::unix_now;
use crate::core::grammar::{ListRequest, ShowRequest};
use crate::core::outcome::{News, Outcome};
use crate::core::plan::Risk;
use crate::core::ports::{Gateway, GatewayError, Teller, TrafficError};
use crate::core::requester::{Requester, Via};
use crate::domain::{
    Action, ApiId, ApiName, ApiRef, ApiView, Level, ResolvedApi, StageName, StageView, TargetApis,
    ThrottleChange, Traffic, Unsealed, shortfall,
};

impl<G: Gateway, T: Teller> Runner<G, T> {
    /// The traffic at `level` before and after `at` (Unix seconds): `minutes` each side.
    pub async fn impact(
        &self,
        api: &ResolvedApi,
        stage: &StageName,
        level: &Level,
        at: i64,
        minutes: i64,
    ) -> Result<(Traffic, Traffic), TrafficError> {
        let window = minutes.max(1) * 60;
        let levels = [(stage.clone(), level.clone())];
        let mut read = self
            .gateway
            .traffic(api, &levels, at - window, at + window)
            .await?;
        let traffic = read.pop().unwrap_or_default();
        // The minute the change landed in counts as before: most of it ran on the old values.
        let landed = at - at.rem_euclid(60);
        Ok((
            traffic.between(at - window, landed + 60),
            traffic.between(landed + 60, at + window),
        ))
    }

    /// When a rate would reject part of the last hour's busiest minute at the change's level.
    pub(super) async fn below_traffic(
        &self,
        api: &ResolvedApi,
        change: &ThrottleChange,
    ) -> Option<Risk> {
        let Action::Set(limits) = change.action else {
            return None;
        };
        let now = unix_now();
        let levels = [(change.stage.clone(), change.level.clone())];
        let read = self
            .gateway
            .traffic(api, &levels, now - TRAFFIC_WINDOW_SECS, now)
            .await
            .ok()?;
        let short = shortfall(read.first()?, limits.rate.value())?;
        Some(Risk::BelowTraffic {
            peak: short.peak,
            rate: limits.rate.value(),
            rejected: short.rejected,
        })
    }

    /// One stage as it is now, with only the records and claims this service sealed trusted.
    pub async fn read_stage(
        &self,
        api: &ApiId,
        stage: &StageName,
    ) -> Result<StageView, GatewayError> {
        let mut view = self.gateway.read_stage(api, stage).await?;
        self.open(api, &mut view).await;
        Ok(view)
    }

    /// Every stage of an API, as [`Runner::read_stage`] reads one.
    pub async fn read_stages(&self, api: &ApiId) -> Result<Vec<StageView>, GatewayError> {
        let mut views = self.gateway.read_stages(api).await?;
        for view in &mut views {
            self.open(api, view).await;
        }
        Ok(views)
    }

    /// Sets aside the records whose end passed long ago, and those this process finished
    /// (in any of their copies) that came back: a stage's or a plan's alike.
    pub(super) fn set_aside_old<L: crate::domain::RecordLevel>(
        &self,
        timed: &mut Vec<crate::domain::Timed<L>>,
        tags: &[(String, String)],
        unsealed: &mut Vec<Unsealed>,
        now: i64,
    ) {
        crate::domain::set_aside_stale(timed, tags, unsealed, now);
        let finished = self.finished.lock().expect("finished records");
        crate::domain::set_aside(timed, tags, unsealed, |record, v| {
            finished
                .knows(&crate::domain::unstamped(v), now)
                .then_some(crate::domain::Aside::Finished(record.until))
        });
    }

    /// Checks a stage's records' seals; what does not verify is told to the audit channel
    /// once per process, and is otherwise left alone for a person.
    pub(super) async fn open(&self, api: &ApiId, view: &mut StageView) {
        view.open(self.seal.as_ref(), api);
        let now = super::super::clock::unix_now();
        self.set_aside_old(&mut view.timed, &view.tags, &mut view.unsealed, now);
        // A record written before the stage's last update does not describe it (see
        // `Timed::written_for`); this service writes its records again after its own writes.
        let updated = view.updated;
        crate::domain::set_aside_outdated(&mut view.timed, &view.tags, &mut view.unsealed, updated);
        let held: Vec<crate::domain::Timed> = std::mem::take(&mut view.timed)
            .into_iter()
            .map(|record| {
                let live = view.at(&record.level);
                record.as_held(live)
            })
            .collect();
        view.timed = held;
        let fresh: Vec<Unsealed> = {
            let mut reported = self.reported.lock().expect("reported set");
            view.unsealed
                .iter()
                .filter(|found| {
                    reported.insert((api.clone(), view.stage.clone(), (*found).clone()))
                })
                .cloned()
                .collect()
        };
        if fresh.is_empty() {
            return;
        }
        self.alert(Outcome::Untrusted {
            api: api.clone(),
            stage: view.stage.clone(),
            found: fresh,
        })
        .await;
    }

    /// Tells the audit channel of what no person asked for (a record found that this service
    /// did not seal), and counts it as any outcome.
    pub(super) async fn alert(&self, outcome: Outcome) {
        self.record(&Requester::Deadline, &outcome, Duration::ZERO);
        self.audit(&News {
            requester: &Requester::Deadline,
            via: Via::Command,
            outcome: &outcome,
        })
        .await;
    }

    /// [`Runner::locate`] for this requester: names APIs for the policy when it needs them,
    /// and keeps other APIs' names and ids (in a "did you mean") for readers only.
    pub(super) async fn locate_for(
        &self,
        requester: &Requester,
        api: &ApiRef,
        stage: &StageName,
        level: &Level,
    ) -> Result<(ResolvedApi, StageView, LevelGuard), GatewayError> {
        let policy = requester.user().and(self.policy.current());
        let names_needed = policy.as_ref().is_some_and(|p| p.names_apis());
        self.locate(api, stage, names_needed, Some(level))
            .await
            .map_err(|error| match (&policy, requester.user()) {
                (Some(policy), Some(who)) if policy.may_read(who).is_err() => {
                    error.without_other_apis()
                }
                _ => error,
            })
    }

    /// Resolves the API as the user named it and reads the stage, holding `level` (when
    /// given) from before the read. An id-shaped reference that is not an id is tried once as
    /// a name (names like `production` look like ids). Done before the policy decides, so the
    /// decision is on the API that will be written.
    pub(super) async fn locate(
        &self,
        api: &ApiRef,
        stage: &StageName,
        names_needed: bool,
        level: Option<&Level>,
    ) -> Result<(ResolvedApi, StageView, LevelGuard), GatewayError> {
        let hold = |id: &ApiId| {
            let id = id.clone();
            async move {
                match level {
                    Some(level) => self.hold(&id, stage, level).await,
                    None => LevelGuard::default(),
                }
            }
        };
        let id = match api {
            ApiRef::Name(name) => {
                let found = self.gateway.find_by_name(name).await?;
                let held = hold(&found.id).await;
                let read = self.read_stage(&found.id, stage).await?;
                return Ok((found, read, held));
            }
            ApiRef::Id(id) => id,
        };
        let held = hold(id).await;
        match self.read_stage(id, stage).await {
            Ok(read) => {
                let name = if names_needed {
                    self.gateway.name_of(id).await?
                } else {
                    self.gateway.known_name(id)
                };
                let api = ResolvedApi {
                    id: id.clone(),
                    name,
                    kind: read.kind,
                };
                Ok((api, read, held))
            }
            Err(error) if error.is_not_found() => {
                drop(held);
                let as_name = ApiName::parse(&id.to_string()).expect("an id is a name");
                match self.gateway.find_by_name(&as_name).await {
                    Ok(named) if named.id != *id => {
                        let held = hold(&named.id).await;
                        let read = self.read_stage(&named.id, stage).await?;
                        Ok((named, read, held))
                    }
                    _ => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// A target's APIs, and the stages of the first [`LISTED_WITH_STAGES`] of them (one read
    /// each, under the pace; the rest are listed by name, to be shown one by one).
    pub(super) async fn list(&self, request: &ListRequest) -> Result<TargetApis, GatewayError> {
        let mut listed = self.gateway.listing(request.target.as_ref()).await?;
        listed.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.id().cmp(b.id.id())));
        let mut apis = Vec::with_capacity(listed.len());
        for (index, api) in listed.into_iter().enumerate() {
            let stages = if index < LISTED_WITH_STAGES {
                match self.gateway.read_stages(&api.id).await {
                    Ok(stages) => Some(stages.into_iter().map(|s| s.stage).collect()),
                    Err(error) => {
                        tracing::warn!(api = %api.id, %error, "could not read the stages of a listed API");
                        None
                    }
                }
            } else {
                None
            };
            apis.push((api, stages));
        }
        Ok(TargetApis { apis })
    }

    /// The API a read asks about, with the stage it names, or every stage of it.
    pub(super) async fn api_and_stages(
        &self,
        request: &ShowRequest,
    ) -> Result<(ResolvedApi, Vec<StageView>), GatewayError> {
        match &request.stage {
            Some(stage) => {
                let (api, read, _) = self.locate(&request.api, stage, false, None).await?;
                Ok((api, vec![read]))
            }
            None => {
                let api = match &request.api {
                    ApiRef::Id(id) => ResolvedApi {
                        id: id.clone(),
                        name: self.gateway.known_name(id),
                        kind: Default::default(),
                    },
                    ApiRef::Name(name) => self.gateway.find_by_name(name).await?,
                };
                let stages = self.read_stages(&api.id).await?;
                // Known once the stages are read (by the listing that found the API's kind).
                let kind = self.gateway.known_kind(&api.id).unwrap_or(api.kind);
                Ok((ResolvedApi { kind, ..api }, stages))
            }
        }
    }

    pub(super) async fn show(&self, request: &ShowRequest) -> Result<ApiView, GatewayError> {
        let (api, mut stages) = self.api_and_stages(request).await?;
        stages.sort_by(|a, b| a.stage.cmp(&b.stage));
        let account = self.gateway.account_limits(&api.id).await;
        let traffic_unread = self
            .traffic_of(&api, &mut stages)
            .await
            .err()
            .map(|error| error.to_string());
        Ok(ApiView {
            api,
            account,
            stages,
            traffic_unread,
        })
    }

    /// Puts the last hour's traffic of every stage and of every level shown under it into the
    /// views, in one read; `Err` says why it could not be read.
    pub(super) async fn traffic_of(
        &self,
        api: &ResolvedApi,
        stages: &mut [StageView],
    ) -> Result<(), TrafficError> {
        let mut levels = Vec::new();
        for view in stages.iter() {
            let Ok(stage) = StageName::parse(&view.stage) else {
                continue;
            };
            levels.push((stage.clone(), Level::Stage));
            for (level, _) in &view.methods {
                levels.push((stage.clone(), level.clone()));
            }
        }
        if levels.is_empty() {
            return Ok(());
        }
        let now = unix_now();
        let read = self
            .gateway
            .traffic(api, &levels, now - TRAFFIC_WINDOW_SECS, now)
            .await?;
        for ((stage, level), traffic) in levels.into_iter().zip(read) {
            if let Some(view) = stages.iter_mut().find(|v| v.stage == stage.as_str()) {
                view.traffic.push((level, traffic));
            }
        }
        Ok(())
    }
}
