//! Timed changes: how long one lasts, and the record of what to put back when it ends. The
//! record lives in a stage tag (API Gateway's own storage), so any replica, a restarted process
//! or a Lambda can finish the restore without a database.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::change::Action;
use super::limits::{BurstLimit, Configured, RateLimit, ThrottleLimits};
use super::target::{ApiId, HttpMethod, Level, ResourcePath, StageName};
use super::text::echo;

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoldError {
    #[error(
        "`{0}` is not a duration: use whole numbers with `h`, `m` or `s`, like `90s`, `30m` or `1h30m`"
    )]
    NotADuration(String),
    #[error("a timed change lasts at least 1s")]
    TooShort,
    #[error("a timed change lasts at most {max}; `{asked}` is longer")]
    TooLong { asked: Hold, max: Hold },
}

/// How long a timed change lasts, in whole seconds (at least one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hold(u64);

impl Hold {
    /// The longest a timed change may last unless `MAX_TEMPORARY` says otherwise.
    pub const DEFAULT_MAX: Hold = Hold(24 * 60 * 60);
    /// Far beyond any sensible maximum; keeps every sum of seconds and Unix times in range.
    const CEILING: u64 = 10 * 365 * 24 * 60 * 60;

    /// Reads `90s`, `30m`, `2h`, `1h30m`: each unit at most once, in the order h, m, s.
    pub fn parse(raw: &str) -> Result<Self, HoldError> {
        let invalid = || HoldError::NotADuration(echo(raw));
        let mut rest = raw.trim();
        if rest.is_empty() {
            return Err(invalid());
        }
        let mut total: u64 = 0;
        let mut units = ['h', 'm', 's'].iter().peekable();
        while !rest.is_empty() {
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits == 0 || digits > 9 {
                return Err(invalid());
            }
            let number: u64 = rest[..digits].parse().map_err(|_| invalid())?;
            let unit = rest[digits..].chars().next().ok_or_else(invalid)?;
            let unit = unit.to_ascii_lowercase();
            // Skip to this unit; a unit already used or out of order is refused.
            loop {
                match units.next() {
                    Some(u) if *u == unit => break,
                    Some(_) => continue,
                    None => return Err(invalid()),
                }
            }
            let seconds = match unit {
                'h' => 3600,
                'm' => 60,
                _ => 1,
            };
            total = total.saturating_add(number.saturating_mul(seconds));
            rest = &rest[digits + 1..];
        }
        Self::from_secs(total)
    }

    pub fn from_secs(secs: u64) -> Result<Self, HoldError> {
        match secs {
            0 => Err(HoldError::TooShort),
            secs if secs > Self::CEILING => Err(HoldError::TooLong {
                asked: Self(secs.min(Self::CEILING + 1)),
                max: Self(Self::CEILING),
            }),
            secs => Ok(Self(secs)),
        }
    }

    pub fn secs(self) -> u64 {
        self.0
    }

    /// This hold, if it is no longer than `max`.
    pub fn at_most(self, max: Hold) -> Result<Self, HoldError> {
        if self <= max {
            Ok(self)
        } else {
            Err(HoldError::TooLong { asked: self, max })
        }
    }
}

impl fmt::Display for Hold {
    /// The shortest form in the grammar's own units: `1h30m`, `90s` → `1m30s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (self.0 / 3600, self.0 % 3600 / 60, self.0 % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

/// Every stage tag we write starts with this. Interface: other tools look for it.
pub const TAG_PREFIX: &str = "throttle-bot:";

/// API Gateway's limits on a tag.
const MAX_KEY_LEN: usize = 128;
const MAX_VALUE_LEN: usize = 256;

/// The key that seals records and claims on stages: derived from the signing secret for this
/// purpose alone, so nobody who may merely tag a stage can write one we would act on.
/// `Debug` never shows the key.
#[derive(Clone)]
pub struct RecordSeal([u8; 32]);

impl fmt::Debug for RecordSeal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecordSeal")
    }
}

/// Where a tag lives: the API and stage (or the usage plan) it is on are part of what is
/// sealed, so a record copied to another stage, API or plan does not verify there.
#[derive(Debug, Clone, Copy)]
pub enum Place<'a> {
    Stage {
        api: &'a ApiId,
        stage: &'a StageName,
    },
    /// A usage plan, by its id as every record names it (`prod:abc123` in another target).
    Plan(&'a str),
}

impl RecordSeal {
    pub fn new(key: [u8; 32]) -> Self {
        Self(key)
    }

    /// 128 bits of HMAC-SHA256 over the place, the tag key and the value before ` mac=`.
    fn mac(&self, place: Place<'_>, key: &str, value: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length");
        // The API as stored (`prod:a1b2c3d4e5` in another target): a record moved between
        // targets does not verify. A plan's place starts with `/`, which no API id has.
        let (first, second) = match place {
            Place::Stage { api, stage } => (api.to_string(), stage.as_str()),
            Place::Plan(plan) => (format!("/usageplans/{plan}"), ""),
        };
        for part in [first.as_str(), second, key, value] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    fn sign(&self, place: Place<'_>, key: String, value: String) -> (String, String) {
        let mac = self.mac(place, &key, &value);
        (key, format!("{value} mac={mac}"))
    }

    /// The value without its MAC, if the MAC is ours for this place and key.
    fn verify<'v>(&self, place: Place<'_>, key: &str, value: &'v str) -> Option<&'v str> {
        let (body, mac) = value.rsplit_once(" mac=")?;
        let expected = self.mac(place, key, body);
        let same = expected.len() == mac.len()
            && expected
                .bytes()
                .zip(mac.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        same.then_some(body)
    }
}

/// A `throttle-bot:` tag that does not verify: hand-written, edited, copied from another stage,
/// or made with another signing secret. Never acted on; shown and reported for a person.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Unsealed {
    pub key: String,
    pub value: String,
    /// Sealed here, but not for the stage as it is now: set aside, never acted on.
    pub aside: Option<Aside>,
}

/// Why a record this service sealed is set aside rather than acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aside {
    /// Its timed change was to end at this time (Unix seconds), long ago (see
    /// [`set_aside_stale`]).
    Ended(i64),
    /// The stage was updated (`updated`) after the record was last written (`written`): a
    /// deployment, another tool's change, or a record put back (see [`Timed::written_for`]).
    Outdated { written: i64, updated: i64 },
    /// This process finished its timed change (due at this time): it came back since.
    Finished(i64),
}

/// How long after its end a record is still acted on: longer than any deadline's retries (a
/// day of EventBridge Scheduler's, a service's sweeps) take to finish a restore.
pub const STALE_AFTER_SECS: i64 = 26 * 60 * 60;

/// How much later than a record was written the stage may say it was last updated, and the
/// record still count as written for it: this service's own write follows the record's within
/// a moment (a slower one writes the records again after it), and the host's clock may run a
/// little behind AWS's.
pub const STAMP_SLACK_SECS: i64 = 5;

/// Sets aside the records (of `timed`, whose tags are `tags`) whose end passed more than
/// [`STALE_AFTER_SECS`] before `now`: a sealed record proves who wrote it, not when it was put
/// there, so one put back from an old change (say an "unblock for 30m" whose restore is 0/0)
/// would otherwise be acted on in its author's name. They join `unsealed`, for a person.
pub fn set_aside_stale<L: RecordLevel>(
    timed: &mut Vec<Timed<L>>,
    tags: &[(String, String)],
    unsealed: &mut Vec<Unsealed>,
    now: i64,
) {
    set_aside(timed, tags, unsealed, |record, _| {
        (record.until.saturating_add(STALE_AFTER_SECS) < now).then_some(Aside::Ended(record.until))
    });
}

/// Sets aside the records of a stage last updated at `updated` (Unix seconds, as API Gateway
/// says; `None` where it says nothing, as for usage plans) that were not written for it: see
/// [`Timed::written_for`].
pub fn set_aside_outdated<L: RecordLevel>(
    timed: &mut Vec<Timed<L>>,
    tags: &[(String, String)],
    unsealed: &mut Vec<Unsealed>,
    updated: Option<i64>,
) {
    set_aside(timed, tags, unsealed, |record, _| match updated {
        Some(updated) if !record.written_for(Some(updated)) => Some(Aside::Outdated {
            written: record.at,
            updated,
        }),
        _ => None,
    });
}

/// Sets aside the records for which `stale(record, its tag's value)` gives a reason (as
/// [`set_aside_stale`] does for age; a process also knows the records it finished itself).
pub fn set_aside<L: RecordLevel>(
    timed: &mut Vec<Timed<L>>,
    tags: &[(String, String)],
    unsealed: &mut Vec<Unsealed>,
    stale: impl Fn(&Timed<L>, &str) -> Option<Aside>,
) {
    let value_of = |record: &Timed<L>| {
        let key = Timed::tag_key(&record.level)?;
        let value = tags.iter().find(|(k, _)| *k == key)?.1.clone();
        Some((key, value))
    };
    let mut kept = Vec::new();
    for record in std::mem::take(timed) {
        let aside = value_of(&record).and_then(|(key, value)| {
            let why = stale(&record, &value)?;
            Some(Unsealed {
                key,
                value,
                aside: Some(why),
            })
        });
        match aside {
            Some(found) => unsealed.push(found),
            None => kept.push(record),
        }
    }
    *timed = kept;
}

/// An older timed change under the newest one at the same level: it comes back when the one
/// above it ends, if it is still in force then.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub set: Configured,
    pub until: i64,
    pub by: String,
}

/// A level that can hold a timed change: a stage's ([`Level`]) or a usage plan's
/// ([`PlanLevel`](super::PlanLevel)). Each names itself in a record's tag key, after
/// [`TAG_PREFIX`].
pub trait RecordLevel: Clone + PartialEq + fmt::Display + Sized {
    /// The key's text after the prefix, escaped for a tag.
    fn key_text(&self) -> String;
    /// The level a key's text (after the prefix) names; `None` for anything else.
    fn from_key_text(text: &str) -> Option<Self>;
}

impl RecordLevel for Level {
    /// `stage`, `GET /pets/=7Bid=7D`, or `=24default` (`$` is not a tag character).
    fn key_text(&self) -> String {
        match self {
            Level::Stage => "stage".to_owned(),
            Level::Method { method, path } => {
                format!("{} {}", escape(method.as_str()), escape(path.as_str()))
            }
            Level::DefaultRoute => escape(Level::DEFAULT_ROUTE),
        }
    }

    fn from_key_text(text: &str) -> Option<Self> {
        let level = match text {
            "stage" => Level::Stage,
            route if unescape(route)? == Level::DEFAULT_ROUTE => Level::DefaultRoute,
            method_path => {
                let (method, path) = method_path.split_once(' ')?;
                Level::method(
                    HttpMethod::parse(&unescape(method)?).ok()?,
                    ResourcePath::parse(&unescape(path)?).ok()?,
                )
            }
        };
        Some(level)
    }
}

/// The timed changes in force at one level: the newest (what the level holds), the older ones
/// under it, and what was there before the first. Stored as one sealed tag per level, on the
/// stage or the usage plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed<L = Level> {
    pub level: L,
    /// What the level held before the first timed change (nothing set: the override is
    /// removed, as `reset` does).
    pub restore: Configured,
    /// What the newest timed change set: every step acts only while the level still holds it.
    pub set: Configured,
    /// When the newest was set and when it ends, in Unix seconds.
    pub since: i64,
    pub until: i64,
    /// When this service last wrote the record (Unix seconds): the stage's state it was
    /// written for. Only a record written since the stage's last update is acted on (see
    /// [`Timed::written_for`]); each write of this service on a stage writes its records
    /// again with a new time, so that its own writes never outdate them.
    pub at: i64,
    /// Who set it: a chat user id, `schedule`, or `alarm:<name>`.
    pub by: String,
    /// The chat channel it was set in, to tell it there when it ends, and the message about it
    /// to thread under, when known.
    pub channel: Option<String>,
    pub thread: Option<String>,
    /// Older timed changes still in force under it, newest first; each ends later than the one
    /// above it (one that ends sooner is over before it could come back).
    pub below: Vec<Layer>,
}

/// What the end of the newest timed change at a level finds there.
#[derive(Debug, Clone, PartialEq)]
pub enum Due<L = Level> {
    /// The level still holds what the timed change set: put this back, and keep `next` (the
    /// timed change under it that comes back) as the level's record, if any.
    Restore {
        action: Action,
        next: Option<Box<Timed<L>>>,
    },
    /// The level already holds what comes back (restored, or undone): only the record is left
    /// to update.
    AlreadyBack { next: Option<Box<Timed<L>>> },
    /// Someone changed the level since: nothing is restored; a person must decide.
    Moved { found: Configured },
}

impl<L: RecordLevel> Timed<L> {
    /// The record of a new timed change at `level`, which holds `live` now. On top of a timed
    /// change still in force there (the level holds what it set), that one goes under the new
    /// one and comes back when it ends, if it is still in force then; the same values again
    /// only move its deadline.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        level: L,
        live: Configured,
        set: Configured,
        prior: Option<&Self>,
        (since, hold): (i64, Hold),
        by: String,
        channel: Option<String>,
    ) -> Self {
        let until = since.saturating_add(hold.secs() as i64);
        let (restore, below) = match prior {
            Some(prior) if prior.set == live && prior.set == set => {
                (prior.restore, prior.below.clone())
            }
            Some(prior) if prior.set == live => {
                let mut below = vec![Layer {
                    set: prior.set,
                    until: prior.until,
                    by: prior.by.clone(),
                }];
                below.extend(prior.below.iter().cloned());
                (prior.restore, below)
            }
            _ => (live, Vec::new()),
        };
        let mut record = Self {
            level,
            restore,
            set,
            since,
            until,
            at: since,
            by,
            channel,
            thread: None,
            below,
        };
        record.prune();
        record
    }

    /// Drops the older timed changes that end before this one: they are over by the time it
    /// ends, so they never come back.
    fn prune(&mut self) {
        let mut until = self.until;
        self.below.retain(|layer| {
            let keep = layer.until > until;
            if keep {
                until = layer.until;
            }
            keep
        });
    }

    /// Whether this record was written for the stage as it is: the stage (whose last update
    /// API Gateway dates `updated`) has not been updated since it was written, give or take
    /// [`STAMP_SLACK_SECS`]. A sealed record proves who wrote it, not when it was put there:
    /// one put back after its change ended (or was kept for good), or one left from before a
    /// deployment or another tool's change, no longer describes the stage and is never acted
    /// on. Without a date (usage plans have none), nothing can be told.
    pub fn written_for(&self, updated: Option<i64>) -> bool {
        updated.is_none_or(|updated| updated <= self.at.saturating_add(STAMP_SLACK_SECS))
    }

    /// The same record, written again at `now`.
    pub fn stamped(&self, now: i64) -> Self {
        Self {
            at: now,
            ..self.clone()
        }
    }

    pub fn is_due(&self, now: i64) -> bool {
        self.until <= now
    }

    /// The record once the newest timed change ends at `now`: the next one under it that is
    /// still in force, or none (the values before the first come back).
    pub fn next(&self, now: i64) -> Option<Self> {
        let at = self.below.iter().position(|layer| layer.until > now)?;
        Some(self.with_layer_on_top(at))
    }

    /// The values that come back when the newest timed change ends at `now`.
    pub fn comes_back(&self, now: i64) -> Configured {
        self.back_with(self.next(now).as_ref())
    }

    /// The values that come back when the newest timed change ends and `next` (the one under
    /// it still in force then, if any) takes its place: what `next` set, or what was there
    /// before the first.
    pub fn back_with(&self, next: Option<&Self>) -> Configured {
        next.map_or(self.restore, |next| next.set)
    }

    /// Every step from now on, if nothing intervenes: (when, the values that come back).
    pub fn steps(&self) -> Vec<(i64, Configured)> {
        let mut steps = Vec::new();
        let mut at = self.until;
        for layer in &self.below {
            steps.push((at, layer.set));
            at = layer.until;
        }
        steps.push((at, self.restore));
        steps
    }

    /// What to do when the newest timed change ends at `now`, given what the level holds.
    ///
    /// A restore writes the level first and updates the record after, so an interrupted one
    /// (a crash, a Lambda cut off) leaves this record over a level that already holds a layer's
    /// values: the check goes on from that layer, as if its record had been written.
    pub fn check(&self, live: Configured, now: i64) -> Due<L> {
        let next = self.next(now).map(Box::new);
        let back = self.back_with(next.as_deref());
        if live == self.set {
            return Due::Restore {
                action: back.as_action(),
                next,
            };
        }
        if live == back {
            return Due::AlreadyBack { next };
        }
        let written = self.below.iter().position(|layer| layer.set == live);
        match written {
            Some(at) => {
                let from = self.with_layer_on_top(at);
                if from.is_due(now) {
                    from.check(live, now)
                } else {
                    Due::AlreadyBack {
                        next: Some(Box::new(from)),
                    }
                }
            }
            None => Due::Moved { found: live },
        }
    }

    /// The record as the level's values say it stands: a restore writes the level first and
    /// the record after, so a level holding a layer's values (and not the newest's) means that
    /// layer is on top, whatever step reads it next (a new timed change, `extend`, `show`).
    pub fn as_held(self, live: Configured) -> Self {
        if live == self.set {
            return self;
        }
        match self.below.iter().position(|layer| layer.set == live) {
            Some(at) => self.with_layer_on_top(at),
            None => self,
        }
    }

    /// The record as it is once the layer at `at` is the newest.
    fn with_layer_on_top(&self, at: usize) -> Self {
        let layer = &self.below[at];
        Self {
            level: self.level.clone(),
            restore: self.restore,
            set: layer.set,
            since: self.since,
            until: layer.until,
            at: self.at,
            by: layer.by.clone(),
            channel: self.channel.clone(),
            thread: self.thread.clone(),
            below: self.below[at + 1..].to_vec(),
        }
    }

    /// The same change, ending `by` later, as long as that is within `max` from `now`.
    pub fn extended(&self, by: Hold, now: i64, max: Hold) -> Result<Self, HoldError> {
        let until = self.until.max(now).saturating_add(by.secs() as i64);
        let from_now = u64::try_from(until - now).unwrap_or(0);
        Hold::from_secs(from_now)?.at_most(max)?;
        let mut extended = Self {
            until,
            ..self.clone()
        };
        extended.prune();
        Ok(extended)
    }

    /// The tag key for a level: `throttle-bot:stage`, `throttle-bot:GET /pets/=7Bid=7D`,
    /// `throttle-bot:plan`. `None` when the level's path is too long for a tag key.
    pub fn tag_key(level: &L) -> Option<String> {
        let key = format!("{TAG_PREFIX}{}", level.key_text());
        (key.len() <= MAX_KEY_LEN).then_some(key)
    }

    /// The level a record's tag key names.
    fn level_of_key(key: &str) -> Option<L> {
        L::from_key_text(key.strip_prefix(TAG_PREFIX)?)
    }

    /// The sealed stage tag holding this record at `place`; `None` when it does not fit a tag.
    pub fn to_tag(&self, seal: &RecordSeal, place: Place<'_>) -> Option<(String, String)> {
        let key = Self::tag_key(&self.level)?;
        let mut value = format!(
            "set={} restore={} since={} until={} at={} by={}",
            pair(self.set),
            pair(self.restore),
            self.since,
            self.until,
            self.at,
            escape(&self.by)
        );
        if let Some(channel) = &self.channel {
            value.push_str(&format!(" in={}", escape(channel)));
        }
        if let Some(thread) = &self.thread {
            value.push_str(&format!(" ts={}", escape(thread)));
        }
        for layer in &self.below {
            value.push_str(&format!(
                " under={}@{}@{}",
                pair(layer.set),
                layer.until,
                escape(&layer.by)
            ));
        }
        let (key, value) = seal.sign(place, key, value);
        (value.len() <= MAX_VALUE_LEN).then_some((key, value))
    }

    /// What a stage tag at `place` holds: `None` for tags that are not records (not ours, or
    /// claims); `Err` for a record key whose value is not one this service sealed there.
    pub fn from_tag(
        key: &str,
        value: &str,
        seal: Option<&RecordSeal>,
        place: Place<'_>,
    ) -> Option<Result<Self, Unsealed>> {
        if !key.starts_with(TAG_PREFIX) || key.starts_with(CLAIM_PREFIX) {
            return None;
        }
        let unsealed = || Unsealed {
            key: key.to_owned(),
            value: value.to_owned(),
            aside: None,
        };
        let opened = seal
            .and_then(|seal| seal.verify(place, key, value))
            .and_then(|body| Self::parse(key, body));
        Some(opened.ok_or_else(unsealed))
    }

    fn parse(key: &str, value: &str) -> Option<Self> {
        let level = Self::level_of_key(key)?;
        let field = |name: &str| {
            value
                .split(' ')
                .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
        };
        let below = value
            .split(' ')
            .filter_map(|part| part.strip_prefix("under="))
            .map(|layer| {
                let mut parts = layer.splitn(3, '@');
                Some(Layer {
                    set: unpair(parts.next()?)?,
                    until: parts.next()?.parse().ok()?,
                    by: checked_by(unescape(parts.next()?)?)?,
                })
            })
            .collect::<Option<Vec<Layer>>>()?;
        let since = field("since")?.parse().ok()?;
        Some(Self {
            level,
            set: unpair(field("set")?)?,
            restore: unpair(field("restore")?)?,
            since,
            until: field("until")?.parse().ok()?,
            // A record from a release before the stamp was written when its change was set.
            at: match field("at") {
                Some(at) => at.parse().ok()?,
                None => since,
            },
            by: checked_by(unescape(field("by")?)?)?,
            channel: match field("in") {
                Some(channel) => Some(unescape(channel).filter(|c| is_chat_id(c))?),
                None => None,
            },
            thread: match field("ts") {
                Some(thread) => Some(unescape(thread).filter(|t| is_message_ts(t))?),
                None => None,
            },
            below,
        })
    }
}

/// A record's tag value without the time it was written nor its MAC: the same for every copy
/// of one record, whenever it was written again (what a process remembers of the records it
/// finished). Only ever applied to values whose seal was checked.
pub fn unstamped(value: &str) -> String {
    let body = value.rsplit_once(" mac=").map_or(value, |(body, _)| body);
    body.split(' ')
        .filter(|field| !field.starts_with("at="))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Chat ids in a record are checked as those in chat payloads are: upper-case letters and
/// digits.
fn is_chat_id(raw: &str) -> bool {
    !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// A message timestamp: `1700000000.000100`. Checked wherever one comes back from storage.
pub fn is_message_ts(raw: &str) -> bool {
    match raw.split_once('.') {
        Some((secs, micros)) => {
            (1..=12).contains(&secs.len())
                && (1..=9).contains(&micros.len())
                && secs
                    .bytes()
                    .chain(micros.bytes())
                    .all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// Who may be named as the author of a timed change: a chat user id, `schedule`, or an alarm.
fn checked_by(by: String) -> Option<String> {
    let valid = is_chat_id(&by)
        || by == "schedule"
        || by
            .strip_prefix("alarm:")
            .is_some_and(|name| !name.is_empty() && name.len() <= 255);
    valid.then_some(by)
}

impl Configured {
    /// The action that puts these values back: set both, or remove the override. A level with
    /// only one of the two (only possible through other tools) is put back by removing it.
    pub fn as_action(self) -> Action {
        match (self.rate, self.burst) {
            (Some(rate), Some(burst)) => {
                match (RateLimit::new(rate), BurstLimit::new(i64::from(burst))) {
                    (Ok(rate), Ok(burst)) => Action::Set(ThrottleLimits { rate, burst }),
                    _ => Action::Reset,
                }
            }
            _ => Action::Reset,
        }
    }
}

/// `rate/burst`, `-` for a value not set.
fn pair(values: Configured) -> String {
    let rate = values.rate.map_or("-".to_owned(), |r| r.to_string());
    let burst = values.burst.map_or("-".to_owned(), |b| b.to_string());
    format!("{rate}/{burst}")
}

fn unpair(raw: &str) -> Option<Configured> {
    let (rate, burst) = raw.split_once('/')?;
    Some(Configured {
        rate: match rate {
            "-" => None,
            rate => Some(RateLimit::parse(rate).ok()?.value()),
        },
        burst: match burst {
            "-" => None,
            burst => Some(BurstLimit::parse(burst).ok()?.value()),
        },
    })
}

/// Tag text: letters, digits and `_ . : / + - @` as they are; any other byte (including `=`,
/// which escapes, and space, which separates fields) as `=XX`.
pub(super) fn escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || b"_.:/+-@".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("={byte:02X}"));
        }
    }
    out
}

pub(super) fn unescape(raw: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut rest = raw.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'=' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

mod claim;
pub use claim::{CLAIM_PREFIX, Claim};

#[cfg(test)]
mod tests;
