//! The sweep at fleet scale. Each target (account and region) on its own, so one that cannot
//! be reached fails alone: one paged `GetResources` of the tagging API finds the stages and
//! usage plans carrying this deployment's records' marker, and only those are read. One
//! replica sweeps a target at a time: the one holding its lease, a sealed claim kept on the
//! first resource holding records (see [`lease`]). Where the tagging API is refused (IAM), the
//! target's APIs and usage plans are listed and read as before, said once.
//!
//! A record is finished wherever it is, whatever the policy reaches now: `apply --for`,
//! schedules and alarms make timed changes outside any rule, and a reload may drop the rule
//! a change was made under. Deployments sharing an account are kept apart by the marker's
//! value (each one's mark), not by the policy.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{AnotherReplica, CLAIM_SETTLE, Keeper, SWEEP_GRACE, restore, restore_plan};
use crate::aws::CallCount;
use crate::core::clock::unix_now;
use crate::core::ports::{Gateway, GatewayError, PlanReminder, Reminder};
use crate::domain::{
    Held, Holder, LEASE_KEY, Lease, LeaseStep, MARKER_KEY, PlanRef, StageName, TargetAlias,
    is_record_key, lease_step, renewed_elsewhere,
};
use crate::jobs::AppRunner;
use crate::metrics::Swept;

/// How long a lease holds other replicas off: the sweep period and a margin for a sweep that
/// runs late (a tenth of the period, 2 to 30 s). A replica that stops is replaced when its
/// lease runs out, so the sweep it would have made comes at most that margin late.
pub(super) fn lease_ttl(every: Duration) -> i64 {
    let every = i64::try_from(every.as_secs()).unwrap_or(i64::MAX / 2);
    every + (every / 10).clamp(2, 30)
}

/// A due restore found by a sweep, run once the target's records are all read.
enum Due {
    Stage(Reminder),
    Plan(PlanReminder),
}

/// What this process remembers of one target's sweeps.
#[derive(Debug, Default)]
struct Remembered {
    /// The tagging API refused last time (said once, and again when it answers).
    refused: bool,
    /// Records written before the marker have been looked for (once per process).
    unmarked_found: bool,
    /// The lease another replica held when this one last looked, if any.
    seen_elsewhere: Option<Lease>,
    /// Where this replica last kept its lease on this target (released when it stops).
    leased_on: Option<Holder>,
}

/// Sweeps every target, each at its own time: every `every`, or when the lease another
/// replica holds on it runs out, until `stop` turns true (then the leases it holds are
/// released, so its replacement need not wait them out). Returns `Some` when another replica
/// renewed a lease while this one waited for it to run out: a second replica is running.
pub(super) async fn run(
    runner: Arc<AppRunner>,
    keeper: Arc<Keeper>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) -> Option<AnotherReplica> {
    let targets = runner.gateway().targets();
    let mut next = vec![tokio::time::Instant::now(); targets.len()];
    let mut remembered: Vec<Remembered> = targets.iter().map(|_| Remembered::default()).collect();
    let started = unix_now();
    loop {
        for (i, target) in targets.iter().enumerate() {
            if next[i] > tokio::time::Instant::now() || *stop.borrow() {
                continue;
            }
            let began = tokio::time::Instant::now();
            let state = &mut remembered[i];
            let swept = sweep_target(&runner, &keeper, target.as_ref(), every, started, state);
            let wait = match swept.await {
                Ok(wait) => wait,
                Err(another) => return Some(another),
            };
            next[i] = began + wait;
        }
        let soonest = next.iter().min().copied();
        let soonest = soonest.unwrap_or_else(|| tokio::time::Instant::now() + every);
        tokio::select! {
            () = tokio::time::sleep_until(soonest) => {}
            () = stopping(&mut stop) => break,
        }
    }
    for (target, state) in targets.iter().zip(&remembered) {
        if let Some(holder) = &state.leased_on {
            release_lease(&runner, &keeper, target.as_ref(), holder).await;
        }
    }
    None
}

/// Waits until `stop` turns true; forever when nobody can turn it (its sender is gone).
async fn stopping(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Removes this replica's lease from `holder`, if it is still this replica's.
async fn release_lease(
    runner: &Arc<AppRunner>,
    keeper: &Keeper,
    target: Option<&TargetAlias>,
    holder: &Holder,
) {
    if read_lease(runner, holder)
        .await
        .is_none_or(|lease| lease.by != keeper.token)
    {
        return;
    }
    let released = untag_lease(runner, target, holder).await;
    match released {
        Ok(()) => tracing::info!("released the sweep's lease: a replacement sweeps at once"),
        Err(error) => {
            tracing::warn!(%error, "could not release the sweep's lease; a replacement waits for it to run out")
        }
    }
}

/// Where a target's records were looked for.
enum Found {
    Tagged(Vec<Held>),
    Listing,
}

/// One target's sweep; returns how long until the next, or that another replica runs.
async fn sweep_target(
    runner: &Arc<AppRunner>,
    keeper: &Keeper,
    target: Option<&TargetAlias>,
    every: Duration,
    started: i64,
    state: &mut Remembered,
) -> Result<Duration, AnotherReplica> {
    let refused = &mut state.refused;
    let name = target.map_or(TargetAlias::HOME, TargetAlias::as_str);
    let gateway = runner.gateway();
    let began = Instant::now();
    let before = gateway.calls(target);
    let found = match gateway.holders(target).await {
        Ok(held) => {
            if std::mem::take(refused) {
                tracing::info!(
                    target_alias = name,
                    "the tagging API answers again: this target's sweep reads only the resources holding records"
                );
            }
            Found::Tagged(held)
        }
        Err(error @ GatewayError::AccessDenied { .. }) => {
            if !std::mem::replace(refused, true) {
                tracing::warn!(%error, target_alias = name, "the tagging API refused to find this target's timed changes (IAM: tag:GetResources); sweeping it by listing every API and usage plan instead, which costs a call per API (said once until it works again)");
            }
            Found::Listing
        }
        Err(error) => {
            tracing::warn!(%error, target_alias = name, "could not look for this target's timed changes; the next sweep tries again");
            runner.metrics().sweep_went(name, "failed");
            return Ok(every);
        }
    };
    let overdue_before = unix_now() - SWEEP_GRACE.as_secs() as i64;
    let mut due = Vec::new();
    let (path, records) = match found {
        Found::Tagged(mut held) => {
            if !state.unmarked_found {
                state.unmarked_found = mark_unmarked(runner, target, &mut held).await;
            }
            if let Some(lease) = leased_elsewhere(runner, keeper, target, &held, every).await {
                if renewed_elsewhere(
                    state.seen_elsewhere.as_ref(),
                    &lease,
                    &keeper.token,
                    started,
                ) {
                    runner.metrics().sweep_went(name, "another_replica");
                    return Err(AnotherReplica {
                        target: name.to_owned(),
                    });
                }
                let until = lease.at + lease_ttl(every);
                state.seen_elsewhere = Some(lease);
                runner.metrics().sweep_went(name, "leased");
                tracing::debug!(
                    target_alias = name,
                    until,
                    "another replica sweeps this target"
                );
                let wait = (until - unix_now()).clamp(0, lease_ttl(every)) + 1;
                return Ok(Duration::from_secs(wait as u64));
            }
            state.seen_elsewhere = None;
            state.leased_on = held.first().map(|first| first.holder.clone());
            let mut records = 0;
            for held in &held {
                records += read_holder(runner, target, held, overdue_before, &mut due).await;
            }
            ("tagging", records)
        }
        Found::Listing => {
            let records = list_target(runner, keeper, target, overdue_before, &mut due).await;
            ("listing", records)
        }
    };
    let after = gateway.calls(target);
    let swept = swept(path, began, before, after, records);
    runner.metrics().swept(name, swept);
    tracing::info!(
        target_alias = name,
        path,
        records,
        due = due.len(),
        management_calls = swept.management_calls,
        tagging_calls = swept.tagging_calls,
        seconds = swept.seconds,
        "swept a target for ended timed changes"
    );
    for found in due {
        match found {
            Due::Stage(reminder) => restore(runner, &reminder, keeper).await,
            Due::Plan(reminder) => restore_plan(runner, &reminder, keeper).await,
        };
    }
    Ok(every)
}

fn swept(
    path: &'static str,
    began: Instant,
    before: CallCount,
    after: CallCount,
    records: usize,
) -> Swept {
    Swept {
        path,
        seconds: began.elapsed().as_secs_f64(),
        management_calls: after.management.saturating_sub(before.management),
        tagging_calls: after.tagging.saturating_sub(before.tagging),
        records: records as u64,
    }
}

/// Once per process and target: records written before the marker existed (by an earlier
/// release) are looked for at the keys that name no method, and the resources holding ones
/// this service sealed are marked, so that this sweep and every later one find them (three
/// tagging calls, and a read of each resource found). Returns whether it could look.
async fn mark_unmarked(
    runner: &Arc<AppRunner>,
    target: Option<&TargetAlias>,
    held: &mut Vec<Held>,
) -> bool {
    let gateway = runner.gateway();
    let found = match gateway.unmarked(target).await {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(%error, "could not look for timed changes recorded before the sweep's marker; trying again next sweep");
            return false;
        }
    };
    for mut unmarked in found {
        let records = match &unmarked.holder.clone() {
            Holder::Stage { api, stage, .. } => match gateway.read_stage(api, stage).await {
                Ok(view) => runner.sealed_records(api, view),
                Err(_) => 0,
            },
            Holder::Plan(id) => match plan_ref(id, target) {
                Ok(plan) => match gateway.read_plan(&plan).await {
                    Ok(view) => runner.sealed_plan_records(view),
                    Err(_) => 0,
                },
                Err(_) => 0,
            },
        };
        if records == 0 {
            continue;
        }
        // The marker's write may date the stage: its records, as read before it, are written
        // again right after it.
        let marked = match &unmarked.holder {
            Holder::Stage { api, stage, .. } => {
                runner
                    .around(api, stage, gateway.mark(target, &unmarked.holder))
                    .await
            }
            Holder::Plan(_) => gateway.mark(target, &unmarked.holder).await,
        };
        match marked {
            Ok(()) => {
                tracing::info!(
                    resource = unmarked.arn,
                    "marked a resource holding a timed change recorded before the sweep's marker"
                );
                unmarked.tags.push((MARKER_KEY.to_owned(), String::new()));
            }
            Err(error) => {
                tracing::warn!(%error, resource = unmarked.arn, "could not mark a resource holding a timed change recorded before the sweep's marker; this sweep reads it, and the next tries again");
            }
        }
        held.push(unmarked);
    }
    held.sort_by(|a, b| a.arn.cmp(&b.arn));
    true
}

/// `Some(lease)` when another replica's fresh lease is on the first resource holding records
/// (it runs out a TTL after its `at`); `None` when this replica sweeps: it renewed its own
/// lease, or took a missing or stale one and its claim stayed after the claims settled (as a
/// restore's claim does).
///
/// The lease is kept on the first resource (by ARN) that holds records: every replica reads
/// its tags in the same GetResources that finds the records, so a replica that does not sweep
/// spends no management call at all, and with no records there is nothing to sweep and no
/// lease to keep. When that resource's last record ends, its lease goes with its marker and
/// the next one in ARN order takes its place.
async fn leased_elsewhere(
    runner: &Arc<AppRunner>,
    keeper: &Keeper,
    target: Option<&TargetAlias>,
    held: &[Held],
    every: Duration,
) -> Option<Lease> {
    let first = held.first()?;
    let ttl = lease_ttl(every);
    let tags = first.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let found = runner.lease_on(tags, first.holder.place());
    let now = unix_now();
    let step = lease_step(found.as_ref(), &keeper.token, now, ttl);
    if let LeaseStep::Leave { .. } = step {
        return found;
    }
    let mine = Lease {
        by: keeper.token.clone(),
        at: now,
    };
    if let Err(error) = write_lease(runner, target, &first.holder, &mine).await {
        tracing::warn!(%error, "could not write the sweep's lease; sweeping this time anyway");
        return None;
    }
    if step == LeaseStep::Renew {
        return None;
    }
    tokio::time::sleep(CLAIM_SETTLE).await;
    match read_lease(runner, &first.holder).await {
        Some(lease) if lease.by != keeper.token => Some(lease),
        _ => None,
    }
}

async fn write_lease(
    runner: &Arc<AppRunner>,
    target: Option<&TargetAlias>,
    holder: &Holder,
    lease: &Lease,
) -> Result<(), GatewayError> {
    let Some((key, value)) = runner.lease_tag(lease, holder.place()) else {
        return Ok(());
    };
    let gateway = runner.gateway();
    match holder {
        // With the stage's records written again: the lease's write may date the stage.
        Holder::Stage { api, stage, .. } => runner.tag_stage(api, stage, vec![(key, value)]).await,
        Holder::Plan(id) => {
            let plan = plan_ref(id, target)?;
            let view = gateway.read_plan(&plan).await?;
            gateway.tag_plan(&view, &key, &value).await
        }
    }
}

async fn untag_lease(
    runner: &Arc<AppRunner>,
    target: Option<&TargetAlias>,
    holder: &Holder,
) -> Result<(), GatewayError> {
    let gateway = runner.gateway();
    match holder {
        Holder::Stage { api, stage, .. } => runner.untag_stage(api, stage, LEASE_KEY).await,
        Holder::Plan(id) => {
            let plan = plan_ref(id, target)?;
            let view = gateway.read_plan(&plan).await?;
            gateway.untag_plan(&view, LEASE_KEY).await
        }
    }
}

async fn read_lease(runner: &Arc<AppRunner>, holder: &Holder) -> Option<Lease> {
    let tags = match holder {
        Holder::Stage { api, stage, .. } => {
            runner.gateway().read_stage(api, stage).await.ok()?.tags
        }
        Holder::Plan(id) => {
            let plan = PlanRef::parse_id(id)?;
            runner.gateway().read_plan(&plan).await.ok()?.tags
        }
    };
    let tags = tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    runner.lease_on(tags, holder.place())
}

fn plan_ref(id: &str, target: Option<&TargetAlias>) -> Result<PlanRef, GatewayError> {
    PlanRef::parse_id(id).ok_or_else(|| {
        let target = target.map_or(TargetAlias::HOME, TargetAlias::as_str);
        GatewayError::Unexpected(format!("`{id}` in {target} is not a usage plan's id"))
    })
}

/// Reads one resource the tagging API found: each record is due (restored after the target's
/// reads) or kept in time by this process. A marker over no record (left by an interrupted
/// removal) is removed. Returns how many records it holds.
async fn read_holder(
    runner: &Arc<AppRunner>,
    target: Option<&TargetAlias>,
    held: &Held,
    overdue_before: i64,
    due: &mut Vec<Due>,
) -> usize {
    let (records, tags) = match &held.holder {
        Holder::Stage { api, stage, .. } => match runner.read_stage(api, stage).await {
            Ok(view) => {
                let timed = runner.ending(api, &view);
                stage_records(runner, api, stage, &timed, overdue_before, due).await;
                (timed.len(), view.tags)
            }
            Err(error) => {
                unread(&error, &held.arn);
                return 0;
            }
        },
        Holder::Plan(id) => {
            let read = match plan_ref(id, target) {
                Ok(plan) => runner.read_plan(&plan).await,
                Err(error) => Err(error),
            };
            match read {
                Ok(view) => {
                    plan_records(runner, &view, overdue_before, due).await;
                    (view.timed.len(), view.tags)
                }
                Err(error) => {
                    unread(&error, &held.arn);
                    return 0;
                }
            }
        }
    };
    let marked = tags.iter().any(|(key, _)| key == MARKER_KEY);
    let holds_records = tags.iter().any(|(key, _)| is_record_key(key));
    if marked && !holds_records {
        tracing::info!(
            resource = held.arn,
            "removing a records' marker left over no record"
        );
        if let Err(error) = runner.gateway().unmark(target, &held.holder).await {
            tracing::warn!(%error, resource = held.arn, "could not remove a leftover records' marker; the next sweep tries again");
        }
    }
    records
}

/// A resource found by its marker that could not be read: gone (its tags went with it), or
/// not readable this time.
fn unread(error: &GatewayError, arn: &str) {
    if error.is_not_found() || matches!(error, GatewayError::UnknownPlan { .. }) {
        tracing::info!(
            resource = arn,
            "a resource that held timed-change records is gone"
        );
    } else {
        tracing::warn!(%error, resource = arn, "could not read a resource holding timed-change records; the next sweep tries again");
    }
}

async fn stage_records(
    runner: &Arc<AppRunner>,
    api: &crate::domain::ApiId,
    stage: &StageName,
    timed: &[crate::domain::Timed],
    overdue_before: i64,
    due: &mut Vec<Due>,
) {
    for record in timed {
        let reminder = Reminder {
            api: api.clone(),
            stage: stage.clone(),
            level: record.level.clone(),
            at: record.until,
        };
        if record.until <= overdue_before {
            due.push(Due::Stage(reminder));
        } else {
            // Made by a process that has since stopped, or by another replica: this one keeps
            // the time too, so a restart delays no restore by more than a claim's settling.
            runner.keep_time(&reminder).await;
        }
    }
}

async fn plan_records(
    runner: &Arc<AppRunner>,
    view: &crate::domain::PlanView,
    overdue_before: i64,
    due: &mut Vec<Due>,
) {
    for record in &view.timed {
        let reminder = PlanReminder {
            plan: view.id.clone(),
            level: record.level.clone(),
            at: record.until,
        };
        if record.until <= overdue_before {
            due.push(Due::Plan(reminder));
        } else {
            runner.keep_plan_time(&reminder).await;
        }
    }
}

/// The fallback where the tagging API is refused: every API's stages and every usage plan of
/// the target, read as the sweep read them before the marker (one call per API).
async fn list_target(
    runner: &Arc<AppRunner>,
    keeper: &Keeper,
    target: Option<&TargetAlias>,
    overdue_before: i64,
    due: &mut Vec<Due>,
) -> usize {
    let gateway = runner.gateway();
    let mut records = 0;
    match gateway.target_apis(target).await {
        Ok(apis) => {
            for api in &apis {
                let stages = match runner.read_stages(api).await {
                    Ok(stages) => stages,
                    Err(error) => {
                        tracing::warn!(%error, api = %api, "could not read stages to sweep");
                        continue;
                    }
                };
                for view in stages {
                    let Ok(stage) = StageName::parse(&view.stage) else {
                        continue;
                    };
                    records += view.timed.len();
                    let timed = runner.ending(api, &view);
                    stage_records(runner, api, &stage, &timed, overdue_before, due).await;
                }
            }
        }
        Err(error) => {
            tracing::warn!(%error, "could not list APIs to sweep for ended timed changes");
        }
    }
    let plans = match gateway.target_plans(target).await {
        Ok(plans) => {
            keeper.plans_unlisted.store(false, Ordering::Relaxed);
            plans
        }
        Err(error) => {
            if !keeper.plans_unlisted.swap(true, Ordering::Relaxed) {
                tracing::warn!(%error, "could not list usage plans to sweep for ended timed changes (said once until it works again)");
            }
            return records;
        }
    };
    for plan in plans {
        if !plan.tags.iter().any(|(key, _)| is_record_key(key)) {
            continue;
        }
        let Ok(plan) = plan_ref(&plan.id, target) else {
            continue;
        };
        match runner.read_plan(&plan).await {
            Ok(view) => {
                records += view.timed.len();
                plan_records(runner, &view, overdue_before, due).await;
            }
            Err(error) => {
                tracing::warn!(%error, plan = %plan, "could not read a usage plan to sweep")
            }
        }
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_outlasts_its_sweep_period_by_a_tenth_between_2_and_30_seconds() {
        assert_eq!(lease_ttl(Duration::from_secs(1)), 3);
        assert_eq!(lease_ttl(Duration::from_secs(60)), 66);
        assert_eq!(lease_ttl(Duration::from_secs(300)), 330);
        assert_eq!(lease_ttl(Duration::from_secs(3600)), 3630);
    }
}
