//! `history`: who changed an API's stages, and when. CloudTrail's events (through the gateway
//! port) are put together with the bot's sealed records (on the stages now, and in the
//! TagResource events that wrote them): the chat user behind each of the bot's own changes, and
//! the timed change in force when someone changed a stage outside the bot.

use std::collections::HashMap;

use super::Runner;
use crate::core::clock::unix_now;
use crate::core::grammar::ShowRequest;
use crate::core::ports::{Gateway, GatewayError, Teller};
use crate::domain::{
    ApiId, Asker, Configured, History, HistoryEntry, InForce, Level, LevelChange, Lookback, Place,
    PlanView, RecordSeal, ResolvedApi, STALE_AFTER_SECS, StageName, StageView, Timed, Trail,
    TrailEvent, TrailWhat,
};

/// A record's start and the bot's write it made are this close at most (the record is written
/// first, then the stage, each under the management pace).
const RECORD_TO_WRITE_SECS: i64 = 300;
/// How far CloudTrail's clock and this service's may disagree about one moment.
const CLOCK_SKEW_SECS: i64 = 60;
/// CloudTrail lists an event within 15 minutes at worst (CloudTrail user guide).
const TRAIL_LAG_SECS: i64 = 15 * 60;

impl<G: Gateway, T: Teller> Runner<G, T> {
    pub(super) async fn history(
        &self,
        request: &ShowRequest,
        lookback: Lookback,
    ) -> Result<History, GatewayError> {
        let (api, stages) = self.api_and_stages(request).await?;
        let to = unix_now();
        let from = to - lookback.secs() as i64;
        let mut trail = self
            .gateway
            .history(&api.id, request.stage.as_ref(), from)
            .await?;
        let plan_wide =
            |e: &TrailEvent| matches!(e.what, TrailWhat::Plan { .. }) && e.stage.is_empty();
        if trail.events.iter().any(plan_wide) {
            let plans = self.gateway.plans().await;
            if let Err(error) = &plans {
                tracing::warn!(%error, "could not read the usage plans for `history`");
            }
            let plans = plans.as_deref().ok();
            place_plan_wide(&mut trail, plans, &api.id, request.stage.as_ref());
        }
        let mut history = assemble(&api, &stages, trail, self.seal.as_ref(), (from, to));
        history.stage = request.stage.clone();
        history.lookback = lookback;
        Ok(history)
    }
}

/// Gives each change to a usage plan's own throttle the stages of `api` its plan holds (only
/// `stage`, when given): a plan holding none is another API's. One whose plan cannot be read
/// (`plans` unknown, or not among them) is kept with its stages unknown, and said so.
pub fn place_plan_wide(
    trail: &mut Trail,
    plans: Option<&[PlanView]>,
    api: &ApiId,
    stage: Option<&StageName>,
) {
    let mut unknown = Vec::new();
    trail.events.retain_mut(|event| {
        let TrailWhat::Plan { plan: id, .. } = &event.what else {
            return true;
        };
        if !event.stage.is_empty() {
            return true;
        }
        let found = plans.and_then(|plans| {
            plans
                .iter()
                .find(|p| p.target.as_ref() == api.target() && bare_id(p) == id)
        });
        let Some(plan) = found else {
            if !unknown.contains(id) {
                unknown.push(id.clone());
            }
            return true;
        };
        let stages: Vec<&str> = plan
            .stages
            .iter()
            .filter(|s| s.api == api.id() && stage.is_none_or(|wanted| wanted.as_str() == s.stage))
            .map(|s| s.stage.as_str())
            .collect();
        event.stage = stages.join(", ");
        !stages.is_empty()
    });
    for plan in unknown {
        trail.unread.push(format!(
            "which stages usage plan `{plan}` holds (its own throttle is listed for stages unknown): the usage plans could not be read"
        ));
    }
}

/// A plan's id without its target (`abc123` for `prod:abc123`), as CloudTrail names it.
fn bare_id(plan: &PlanView) -> &str {
    plan.id
        .rsplit_once(':')
        .map_or(plan.id.as_str(), |(_, id)| id)
}

/// One timed change's record: where, and who set it when until when.
#[derive(Debug, Clone)]
struct Known {
    stage: String,
    level: Level,
    record: Timed,
}

/// The history from the trail, the stages as read now, and the seal that tells the bot's
/// records from anyone's: the bot's changes get their chat user, others their timed window.
pub fn assemble(
    api: &ResolvedApi,
    stages: &[StageView],
    trail: Trail,
    seal: Option<&RecordSeal>,
    (from, to): (i64, i64),
) -> History {
    let mut known: Vec<Known> = stages
        .iter()
        .flat_map(|view| {
            view.timed.iter().map(|record| Known {
                stage: view.stage.clone(),
                level: record.level.clone(),
                record: record.clone(),
            })
        })
        .collect();
    for event in trail.events.iter().filter(|e| e.by_bot) {
        let (TrailWhat::Tagged(tags), Ok(stage)) = (&event.what, StageName::parse(&event.stage))
        else {
            continue;
        };
        let place = Place::Stage {
            api: &api.id,
            stage: &stage,
        };
        for (key, value) in tags {
            if let Some(Ok(record)) = Timed::<Level>::from_tag(key, value, seal, place)
                && !known
                    .iter()
                    .any(|k| k.stage == event.stage && k.record == record)
            {
                known.push(Known {
                    stage: event.stage.clone(),
                    level: record.level.clone(),
                    record,
                });
            }
        }
    }
    let mut entries: Vec<HistoryEntry> = trail
        .events
        .into_iter()
        // The bot's own records are how its changes are told, and its refused calls changed
        // nothing (it reports its own failures); another's are listed.
        .filter(|e| {
            !(e.by_bot
                && matches!(
                    e.what,
                    TrailWhat::Tagged(_) | TrailWhat::Untagged(_) | TrailWhat::Refused(_)
                ))
        })
        .map(|event| {
            let during = (!event.by_bot).then(|| in_force(&event, &known)).flatten();
            HistoryEntry {
                event,
                asked_by: None,
                during,
                put_back: Vec::new(),
            }
        })
        .collect();
    befores(&mut entries);
    let askers: Vec<Option<Asker>> = entries
        .iter()
        .map(|entry| {
            let event = &entry.event;
            event
                .by_bot
                .then(|| asker(event, &entries, &known))
                .flatten()
        })
        .collect();
    for (entry, asked_by) in entries.iter_mut().zip(askers) {
        entry.asked_by = asked_by;
        if !entry.event.by_bot {
            entry.put_back = put_back(api, &entry.event, seal);
        }
    }
    let listed_since: Vec<(String, i64)> = entries
        .iter()
        .filter(|e| e.event.by_bot)
        .map(|e| (e.event.stage.clone(), e.event.at))
        .collect();
    let not_listed = known
        .iter()
        .filter(|k| k.record.since > to - TRAIL_LAG_SECS && k.record.since <= to)
        .filter(|k| {
            !listed_since
                .iter()
                .any(|(stage, at)| *stage == k.stage && *at >= k.record.since)
        })
        .map(|k| (k.stage.clone(), window(&k.record)))
        .collect();
    History {
        api: api.clone(),
        stage: None,
        lookback: Lookback::DEFAULT,
        from,
        to,
        entries,
        not_listed,
        unread: trail.unread,
    }
}

/// Who asked for one of the bot's changes: a record whose values it wrote at every level it
/// wrote, as the first write there since the record's start (its `set`, by its author) or since
/// one of its ends (what comes back then, by the author of the timed change that ended).
/// Anything else (a change for good, a `restore`, another's write soon after) names nobody.
fn asker(event: &TrailEvent, entries: &[HistoryEntry], known: &[Known]) -> Option<Asker> {
    let TrailWhat::Levels(levels) = &event.what else {
        return None;
    };
    let mut found: Option<Asker> = None;
    for change in levels {
        let written = change.after()?;
        let first_since = |at: i64| !written_between(entries, event, &change.level, at);
        let step = known
            .iter()
            .filter(|k| k.stage == event.stage && k.level == change.level)
            .flat_map(|k| steps(&k.record))
            .filter(|step| step.values == written)
            .filter(|step| {
                let late = if step.asker.ended {
                    STALE_AFTER_SECS
                } else {
                    RECORD_TO_WRITE_SECS
                };
                step.at - CLOCK_SKEW_SECS <= event.at && event.at <= step.at + late
            })
            .filter(|step| first_since(step.at))
            .max_by_key(|step| step.at)?;
        match &found {
            Some(asker) if *asker != step.asker => return None,
            _ => found = Some(step.asker),
        }
    }
    found
}

/// One moment a record's level is written: its start, and each end.
struct Step {
    at: i64,
    values: Configured,
    asker: Asker,
}

fn steps(record: &Timed) -> Vec<Step> {
    let start = Step {
        at: record.since,
        values: record.set,
        asker: Asker {
            by: record.by.clone(),
            ended: false,
        },
    };
    // Each end puts back what is under it (`steps`), and is the end of the one it ends.
    let enders = std::iter::once(&record.by).chain(record.below.iter().map(|layer| &layer.by));
    let ends = record
        .steps()
        .into_iter()
        .zip(enders)
        .map(|((at, values), by)| Step {
            at,
            values,
            asker: Asker {
                by: by.clone(),
                ended: true,
            },
        });
    std::iter::once(start).chain(ends).collect()
}

/// Whether another event wrote `level` on the event's stage from `since` until just before it.
fn written_between(
    entries: &[HistoryEntry],
    event: &TrailEvent,
    level: &Level,
    since: i64,
) -> bool {
    entries.iter().any(|other| {
        let at_level = match &other.event.what {
            TrailWhat::Levels(levels) => levels.iter().any(|l| l.level == *level),
            _ => false,
        };
        !std::ptr::eq(&other.event, event)
            && other.event.stage == event.stage
            && at_level
            && since <= other.event.at
            && other.event.at < event.at
    })
}

/// The records among a TagResource's tags that this service sealed for that stage (checked as
/// reading a stage checks them), by key.
fn put_back(
    api: &ResolvedApi,
    event: &TrailEvent,
    seal: Option<&RecordSeal>,
) -> Vec<(String, InForce)> {
    let (TrailWhat::Tagged(tags), Ok(stage)) = (&event.what, StageName::parse(&event.stage)) else {
        return Vec::new();
    };
    let place = Place::Stage {
        api: &api.id,
        stage: &stage,
    };
    tags.iter()
        .filter_map(
            |(key, value)| match Timed::<Level>::from_tag(key, value, seal, place) {
                Some(Ok(record)) => Some((key.clone(), window(&record))),
                _ => None,
            },
        )
        .collect()
}

/// The timed change in force on the event's stage when it was made, if any.
fn in_force(event: &TrailEvent, known: &[Known]) -> Option<InForce> {
    known
        .iter()
        .filter(|k| k.stage == event.stage)
        .find(|k| k.record.since <= event.at && event.at < k.record.until)
        .map(|k| window(&k.record))
}

fn window(record: &Timed) -> InForce {
    InForce {
        by: record.by.clone(),
        since: record.since,
        until: record.until,
    }
}

/// Each change's values before, from the change before it at the same level (oldest first).
fn befores(entries: &mut [HistoryEntry]) {
    // By stage, usage plan (none: the stage's own levels) and level (none: the plan's own).
    let mut last: HashMap<(String, String, Option<Level>), Configured> = HashMap::new();
    for entry in entries.iter_mut().rev() {
        let stage = entry.event.stage.clone();
        let changes: Vec<(String, &mut LevelChange, bool)> = match &mut entry.event.what {
            TrailWhat::Levels(levels) => levels
                .iter_mut()
                .map(|l| (String::new(), l, false))
                .collect(),
            TrailWhat::Plan { levels, plan, wide } => {
                let plan = plan.clone();
                levels
                    .iter_mut()
                    .map(|l| (plan.clone(), l, false))
                    .chain(wide.iter_mut().map(|w| (plan.clone(), w, true)))
                    .collect()
            }
            _ => continue,
        };
        for (plan, change, wide) in changes {
            let level = (!wide).then(|| change.level.clone());
            let key = (stage.clone(), plan, level);
            change.before = last.get(&key).copied();
            match change.after() {
                Some(after) => {
                    last.insert(key, after);
                }
                None => {
                    last.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
