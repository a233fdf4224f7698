//! Timed changes: how long one lasts, and the record of what to put back when it ends. The
//! record lives in a stage tag (API Gateway's own storage), so any replica, a restarted process
//! or a Lambda can finish the restore without a database.

use std::fmt;

use super::change::Action;
use super::limits::{BurstLimit, Configured, RateLimit, ThrottleLimits};
use super::target::{HttpMethod, Level, ResourcePath};
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

/// A timed change in force at one level: what it set, what was there before, until when, and
/// who set it. Stored as one stage tag per level.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    pub level: Level,
    /// What the level held before (nothing set: the override is removed, as `reset` does).
    pub restore: Configured,
    /// What the timed change set: the restore happens only while the level still holds it.
    pub set: Configured,
    /// When it was set and when it ends, in Unix seconds.
    pub since: i64,
    pub until: i64,
    /// Who set it: a chat user id, `schedule`, or `alarm:<name>`.
    pub by: String,
    /// The chat channel it was set in, to tell it there when it ends, and the message about it
    /// to thread under, when known.
    pub channel: Option<String>,
    pub thread: Option<String>,
}

/// What the deadline of a timed change finds at its level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Due {
    /// The level still holds what the timed change set: put this back.
    Restore(Action),
    /// The level already holds what was there before (restored, or undone): only the record
    /// is left to remove.
    AlreadyBack,
    /// Someone changed the level since: nothing is restored; a person must decide.
    Moved { found: Configured },
}

impl Timed {
    /// The record of a new timed change at `level`, which holds `live` now. A timed change on
    /// top of another that is still in force keeps the first one's values to put back.
    pub fn start(
        level: Level,
        live: Configured,
        set: Configured,
        prior: Option<&Timed>,
        (since, hold): (i64, Hold),
        by: String,
        channel: Option<String>,
    ) -> Self {
        let restore = match prior {
            Some(prior) if prior.set == live => prior.restore,
            _ => live,
        };
        Self {
            level,
            restore,
            set,
            since,
            until: since.saturating_add(hold.secs() as i64),
            by,
            channel,
            thread: None,
        }
    }

    pub fn is_due(&self, now: i64) -> bool {
        self.until <= now
    }

    /// What to do at the deadline, given what the level holds now.
    pub fn check(&self, live: Configured) -> Due {
        if live == self.set {
            Due::Restore(self.restore.as_action())
        } else if live == self.restore {
            Due::AlreadyBack
        } else {
            Due::Moved { found: live }
        }
    }

    /// The same change, ending `by` later, as long as that is within `max` from `now`.
    pub fn extended(&self, by: Hold, now: i64, max: Hold) -> Result<Self, HoldError> {
        let until = self.until.max(now).saturating_add(by.secs() as i64);
        let from_now = u64::try_from(until - now).unwrap_or(0);
        Hold::from_secs(from_now)?.at_most(max)?;
        Ok(Self {
            until,
            ..self.clone()
        })
    }

    /// The tag key for a level: `throttle-bot:stage` or `throttle-bot:GET /pets/=7Bid=7D`.
    /// `None` when the level's path is too long for a tag key.
    pub fn tag_key(level: &Level) -> Option<String> {
        let key = match level {
            Level::Stage => format!("{TAG_PREFIX}stage"),
            Level::Method { method, path } => format!(
                "{TAG_PREFIX}{} {}",
                escape(method.as_str()),
                escape(path.as_str())
            ),
        };
        (key.len() <= MAX_KEY_LEN).then_some(key)
    }

    /// The level a record's tag key names.
    fn level_of_key(key: &str) -> Option<Level> {
        let level = match key.strip_prefix(TAG_PREFIX)? {
            "stage" => Level::Stage,
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

    /// The stage tag holding this record; `None` when it does not fit a tag.
    pub fn to_tag(&self) -> Option<(String, String)> {
        let key = Self::tag_key(&self.level)?;
        let mut value = format!(
            "set={} restore={} since={} until={} by={}",
            pair(self.set),
            pair(self.restore),
            self.since,
            self.until,
            escape(&self.by)
        );
        if let Some(channel) = &self.channel {
            value.push_str(&format!(" in={}", escape(channel)));
        }
        if let Some(thread) = &self.thread {
            value.push_str(&format!(" ts={}", escape(thread)));
        }
        (value.len() <= MAX_VALUE_LEN).then_some((key, value))
    }

    /// The record a stage tag holds; `None` for tags that are not ours or do not read back.
    pub fn from_tag(key: &str, value: &str) -> Option<Self> {
        let level = Self::level_of_key(key)?;
        let field = |name: &str| {
            value
                .split(' ')
                .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
        };
        Some(Self {
            level,
            set: unpair(field("set")?)?,
            restore: unpair(field("restore")?)?,
            since: field("since")?.parse().ok()?,
            until: field("until")?.parse().ok()?,
            by: unescape(field("by")?)?,
            channel: match field("in") {
                Some(channel) => Some(unescape(channel)?),
                None => None,
            },
            thread: match field("ts") {
                Some(thread) => Some(unescape(thread)?),
                None => None,
            },
        })
    }
}

/// A process's claim to run a due restore. A process that finds another's fresh claim leaves
/// the restore to it; otherwise it writes its own, waits, and reads back: of two that wrote at
/// once, only the one whose claim stayed (the last written) goes on, and the other then finds
/// a fresh claim. A claim left by a dead process goes stale and is overwritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub level: Level,
    /// The claiming process's token.
    pub by: String,
    /// When it was claimed, in Unix seconds.
    pub at: i64,
}

impl Claim {
    /// `throttle-bot:claim:stage`, `throttle-bot:claim:GET /pets`: never read as a record.
    pub fn tag_key(level: &Level) -> Option<String> {
        let record = Timed::tag_key(level)?;
        let key = format!("{TAG_PREFIX}claim:{}", &record[TAG_PREFIX.len()..]);
        (key.len() <= MAX_KEY_LEN).then_some(key)
    }

    /// How long a claim holds off others: far longer than a restore takes.
    pub const FRESH_SECS: i64 = 60;

    pub fn to_tag(&self) -> Option<(String, String)> {
        let value = format!("by={} at={}", escape(&self.by), self.at);
        Some((Self::tag_key(&self.level)?, value))
    }

    pub fn from_tag(key: &str, value: &str) -> Option<Self> {
        let record_key = format!(
            "{TAG_PREFIX}{}",
            key.strip_prefix(TAG_PREFIX)?.strip_prefix("claim:")?
        );
        let field = |name: &str| {
            value
                .split(' ')
                .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
        };
        Some(Self {
            level: Timed::level_of_key(&record_key)?,
            by: unescape(field("by")?)?,
            at: field("at")?.parse().ok()?,
        })
    }

    /// Whether another process holding it should be left to finish.
    pub fn is_fresh(&self, now: i64) -> bool {
        now - self.at < Self::FRESH_SECS
    }
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
fn escape(raw: &str) -> String {
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

fn unescape(raw: &str) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(raw: &str) -> Result<u64, HoldError> {
        Hold::parse(raw).map(Hold::secs)
    }

    fn values(rate: Option<f64>, burst: Option<i32>) -> Configured {
        Configured { rate, burst }
    }

    fn pets() -> Level {
        Level::method(
            HttpMethod::parse("GET").unwrap(),
            ResourcePath::parse("/pets/{id}").unwrap(),
        )
    }

    fn record(level: Level) -> Timed {
        Timed {
            level,
            restore: values(Some(100.0), Some(200)),
            set: values(Some(0.5), Some(1)),
            since: 1_000,
            until: 2_800,
            by: "alarm:5xx high=\"x\"".to_owned(),
            channel: Some("C1".to_owned()),
            thread: Some("1700000000.000100".to_owned()),
        }
    }

    #[test]
    fn durations_combine_hours_minutes_and_seconds() {
        assert_eq!(secs("90s"), Ok(90));
        assert_eq!(secs("30m"), Ok(1800));
        assert_eq!(secs("2h"), Ok(7200));
        assert_eq!(secs("1h30m"), Ok(5400));
        assert_eq!(secs("1H2M3S"), Ok(3723));
        assert_eq!(secs("1s"), Ok(1));
        assert_eq!(secs(" 10m "), Ok(600));
        assert_eq!(secs("0s"), Err(HoldError::TooShort));
        assert_eq!(secs("0h0m"), Err(HoldError::TooShort));
        for bad in [
            "",
            "10",
            "m",
            "1d",
            "1m1h",
            "1m1m",
            "1.5h",
            "-1m",
            "1 h",
            "1h m",
            "9999999999s",
        ] {
            assert!(
                matches!(Hold::parse(bad), Err(HoldError::NotADuration(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Hold::parse("999999999h"),
            Err(HoldError::TooLong { .. })
        ));
    }

    #[test]
    fn no_duration_is_longer_than_ten_years() {
        // Ten years of seconds keeps every deadline far inside an i64 of Unix seconds.
        assert_eq!(secs("87600h"), Ok(87_600 * 3600));
        let ceiling = 87_600 * 3600;
        assert_eq!(
            Hold::from_secs(ceiling + 1),
            Err(HoldError::TooLong {
                asked: Hold(ceiling + 1),
                max: Hold(ceiling)
            })
        );
        assert_eq!(
            Hold::from_secs(u64::MAX),
            Err(HoldError::TooLong {
                asked: Hold(ceiling + 1),
                max: Hold(ceiling)
            })
        );
    }

    #[test]
    fn durations_print_in_their_shortest_form() {
        for (raw, shown) in [
            ("90s", "1m30s"),
            ("1h30m", "1h30m"),
            ("3600s", "1h"),
            ("1h1s", "1h1s"),
        ] {
            assert_eq!(Hold::parse(raw).unwrap().to_string(), shown);
        }
    }

    #[test]
    fn a_hold_longer_than_the_maximum_is_refused() {
        let max = Hold::DEFAULT_MAX;
        assert_eq!(Hold::parse("24h").unwrap().at_most(max), Ok(max));
        let long = Hold::parse("24h1s").unwrap();
        assert_eq!(
            long.at_most(max),
            Err(HoldError::TooLong { asked: long, max })
        );
        assert_eq!(
            HoldError::TooLong { asked: long, max }.to_string(),
            "a timed change lasts at most 24h; `24h1s` is longer"
        );
    }

    #[test]
    fn records_read_back_from_their_tag() {
        for level in [Level::Stage, pets()] {
            let record = record(level);
            let (key, value) = record.to_tag().unwrap();
            assert!(key.starts_with(TAG_PREFIX));
            let allowed = |c: char| c.is_ascii_alphanumeric() || " _.:/=+-@".contains(c);
            assert!(key.chars().all(allowed), "{key}");
            assert!(value.chars().all(allowed), "{value}");
            assert_eq!(Timed::from_tag(&key, &value), Some(record));
        }
        let (key, _) = record(pets()).to_tag().unwrap();
        assert_eq!(key, "throttle-bot:GET /pets/=7Bid=7D");
        let mut none = record(Level::Stage);
        none.restore = Configured::default();
        none.channel = None;
        none.thread = None;
        let (key, value) = none.to_tag().unwrap();
        assert_eq!(
            value,
            "set=0.5/1 restore=-/- since=1000 until=2800 by=alarm:5xx=20high=3D=22x=22"
        );
        assert_eq!(Timed::from_tag(&key, &value), Some(none));
    }

    #[test]
    fn tags_that_are_not_records_are_ignored() {
        let (key, value) = record(Level::Stage).to_tag().unwrap();
        assert_eq!(Timed::from_tag("team", &value), None);
        assert_eq!(Timed::from_tag("throttle-bot:nope", &value), None);
        assert_eq!(Timed::from_tag(&key, "set=1/2"), None);
        assert_eq!(
            Timed::from_tag(&key, &value.replace("until=2800", "until=x")),
            None
        );
        assert_eq!(Timed::from_tag(&key, &value.replace("0.5/1", "a/1")), None);
        assert_eq!(Timed::from_tag(&key, &value.replace("=20", "=2")), None);
        assert_eq!(
            Timed::from_tag("throttle-bot:GET /pets=7", &value),
            None,
            "a cut-off escape"
        );
    }

    #[test]
    fn a_level_too_long_for_a_tag_key_has_no_record() {
        let long = Level::method(
            HttpMethod::parse("GET").unwrap(),
            ResourcePath::parse(&format!("/{}", "a".repeat(120))).unwrap(),
        );
        assert_eq!(Timed::tag_key(&long), None);
        assert_eq!(record(long).to_tag(), None);
        let mut wordy = record(Level::Stage);
        wordy.by = "x".repeat(300);
        assert_eq!(wordy.to_tag(), None);
    }

    #[test]
    fn claims_read_back_and_are_never_taken_for_records() {
        for level in [Level::Stage, pets()] {
            let claim = Claim {
                level: level.clone(),
                by: "host-1 7f3a".to_owned(),
                at: 1_000,
            };
            let (key, value) = claim.to_tag().unwrap();
            assert!(key.starts_with("throttle-bot:claim:"), "{key}");
            assert_eq!(Claim::from_tag(&key, &value), Some(claim));
            assert_eq!(Timed::from_tag(&key, &value), None);
            let (record_key, record_value) = record(level).to_tag().unwrap();
            assert_eq!(Claim::from_tag(&record_key, &record_value), None);
        }
        assert_eq!(Claim::from_tag("team", "x"), None);
        let claim = Claim {
            level: Level::Stage,
            by: "a".to_owned(),
            at: 1_000,
        };
        assert!(claim.is_fresh(1_059));
        assert!(!claim.is_fresh(1_060));
    }

    #[test]
    fn the_deadline_restores_only_what_it_set() {
        let record = record(Level::Stage);
        assert_eq!(
            record.check(record.set),
            Due::Restore(record.restore.as_action())
        );
        assert!(
            matches!(record.check(record.set), Due::Restore(Action::Set(l)) if l.burst.value() == 200)
        );
        assert_eq!(record.check(record.restore), Due::AlreadyBack);
        let found = values(Some(7.0), Some(1));
        assert_eq!(record.check(found), Due::Moved { found });
        let mut unset = record.clone();
        unset.restore = Configured::default();
        assert_eq!(unset.check(unset.set), Due::Restore(Action::Reset));
        assert!(!record.is_due(2_799));
        assert!(record.is_due(2_800));
    }

    #[test]
    fn a_timed_change_on_top_of_another_keeps_the_first_values_to_put_back() {
        let first = record(Level::Stage);
        let new = values(Some(2.0), Some(4));
        let hold = Hold::parse("10m").unwrap();
        let on_top = Timed::start(
            Level::Stage,
            first.set,
            new,
            Some(&first),
            (5_000, hold),
            "U1".into(),
            None,
        );
        assert_eq!((on_top.restore, on_top.set), (first.restore, new));
        assert_eq!((on_top.since, on_top.until), (5_000, 5_600));
        // Someone changed the level since the first: what is there now is what comes back.
        let moved = values(Some(9.0), Some(9));
        let after_move = Timed::start(
            Level::Stage,
            moved,
            new,
            Some(&first),
            (5_000, hold),
            "U1".into(),
            None,
        );
        assert_eq!(after_move.restore, moved);
        let fresh = Timed::start(Level::Stage, moved, new, None, (0, hold), "U1".into(), None);
        assert_eq!(fresh.restore, moved);
    }

    #[test]
    fn extending_adds_to_the_deadline_within_the_maximum() {
        let record = record(Level::Stage);
        let max = Hold::parse("1h").unwrap();
        let ten = Hold::parse("10m").unwrap();
        assert_eq!(record.extended(ten, 2_000, max).unwrap().until, 3_400);
        // Past its deadline, it ends that long from now.
        assert_eq!(record.extended(ten, 5_000, max).unwrap().until, 5_600);
        assert!(matches!(
            record.extended(Hold::parse("1h").unwrap(), 2_000, max),
            Err(HoldError::TooLong { .. })
        ));
        assert!(
            record
                .extended(Hold::parse("40m").unwrap(), 2_000, max)
                .is_ok()
        );
    }

    #[test]
    fn values_come_back_as_the_action_that_sets_them() {
        assert!(matches!(
            values(Some(1.5), Some(3)).as_action(),
            Action::Set(l) if l.rate.value() == 1.5 && l.burst.value() == 3
        ));
        assert_eq!(values(None, None).as_action(), Action::Reset);
        assert_eq!(values(Some(1.0), None).as_action(), Action::Reset);
        assert_eq!(values(None, Some(1)).as_action(), Action::Reset);
        assert_eq!(values(Some(-1.0), Some(1)).as_action(), Action::Reset);
    }
}
