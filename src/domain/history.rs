//! Who changed a stage's throttling, and when: the management calls CloudTrail recorded, in the
//! domain's terms (read by `history`). No AWS types: the adapter fills these in.

use std::fmt;

use super::limits::Configured;
use super::target::Level;
use super::text::echo;
use super::timed::Hold;

/// How far back `history` looks: 24 hours unless the command says, at most the 90 days of
/// CloudTrail's event history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lookback(u64);

/// Why a lookback was refused. The text is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookbackError {
    #[error(
        "`{0}` is not a duration: use whole numbers with `d`, `h`, `m` or `s`, like `30m`, `24h` or `7d`"
    )]
    NotADuration(String),
    #[error(
        "CloudTrail keeps {max} of event history; `{0}` is longer: ask for `90d` or less",
        max = Lookback::MAX
    )]
    TooLong(Lookback),
}

const DAY: u64 = 24 * 60 * 60;

impl Lookback {
    pub const DEFAULT: Lookback = Lookback(DAY);
    pub const MAX: Lookback = Lookback(90 * DAY);

    /// Reads `7d`, `1d12h`, `24h`, `30m`: days first, then what a timed change's duration takes.
    pub fn parse(raw: &str) -> Result<Self, LookbackError> {
        let invalid = || LookbackError::NotADuration(echo(raw));
        let raw = raw.trim();
        let (days, rest) = match raw.find(['d', 'D']) {
            Some(at) => (
                raw[..at].parse::<u64>().map_err(|_| invalid())?,
                &raw[at + 1..],
            ),
            None => (0, raw),
        };
        if days > Self::MAX.0 / DAY + 1 {
            return Err(LookbackError::TooLong(Self(days.saturating_mul(DAY))));
        }
        let rest = match rest {
            "" => 0,
            rest => Hold::parse(rest).map_err(|_| invalid())?.secs(),
        };
        let secs = (days * DAY).saturating_add(rest);
        match secs {
            0 => Err(invalid()),
            secs if secs > Self::MAX.0 => Err(LookbackError::TooLong(Self(secs))),
            secs => Ok(Self(secs)),
        }
    }

    /// Whether a word is meant as a lookback (starts with a digit and ends with a unit), so a
    /// stage named like one is told apart only by where it stands.
    pub fn looks_like(raw: &str) -> bool {
        raw.starts_with(|c: char| c.is_ascii_digit())
            && raw.ends_with(['d', 'h', 'm', 's', 'D', 'H', 'M', 'S'])
    }

    pub fn secs(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Lookback {
    /// `24h`, `30m`, `7d`, `2d12h`: whole days once there are two or more.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (days, rest) = match self.0 / DAY {
            days if days >= 2 => (days, self.0 % DAY),
            _ => (0, self.0),
        };
        if days > 0 {
            write!(f, "{days}d")?;
        }
        match Hold::from_secs(rest) {
            Ok(rest) => write!(f, "{rest}"),
            Err(_) => Ok(()),
        }
    }
}

/// The calls `history` asks CloudTrail for, one name per lookup (event history filters on one
/// attribute at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrailCall {
    UpdateStage,
    UpdateUsagePlan,
    DeleteRouteSettings,
    CreateDeployment,
    TagResource,
    /// Removing a record is how a timed change is made permanent by hand.
    UntagResource,
}

impl TrailCall {
    pub const ALL: [TrailCall; 6] = [
        Self::UpdateStage,
        Self::UpdateUsagePlan,
        Self::DeleteRouteSettings,
        Self::CreateDeployment,
        Self::TagResource,
        Self::UntagResource,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UpdateStage => "UpdateStage",
            Self::UpdateUsagePlan => "UpdateUsagePlan",
            Self::DeleteRouteSettings => "DeleteRouteSettings",
            Self::CreateDeployment => "CreateDeployment",
            Self::TagResource => "TagResource",
            Self::UntagResource => "UntagResource",
        }
    }
}

impl fmt::Display for TrailCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who made a call, as CloudTrail names them. Equal only to the same session of a role: a
/// service's own calls are told by the session it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An IAM user.
    User { account: String, name: String },
    /// A session of a role (`…:assumed-role/ROLE/SESSION`).
    Role {
        account: String,
        role: String,
        session: String,
    },
    /// Anything else (the root user, an AWS service, a federated user): as recorded.
    Other(String),
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User { name, .. } => write!(f, "IAM user {name}"),
            Self::Role { role, session, .. } => write!(f, "role {role} (session {session})"),
            Self::Other(who) => f.write_str(who),
        }
    }
}

/// One value as a call left it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Written<T> {
    /// The call did not name it: it stayed as it was.
    Untouched,
    /// Removed: the level follows the one above it.
    Unset,
    To(T),
}

impl<T: Copy> Written<T> {
    fn over(self, before: Option<T>) -> Option<T> {
        match self {
            Self::Untouched => before,
            Self::Unset => None,
            Self::To(value) => Some(value),
        }
    }
}

/// What one call wrote at one level of a stage (or of a usage plan's API stage).
#[derive(Debug, Clone, PartialEq)]
pub struct LevelChange {
    pub level: Level,
    pub rate: Written<f64>,
    pub burst: Written<i32>,
    /// What the level held before, when an earlier change in the history says.
    pub before: Option<Configured>,
}

impl LevelChange {
    /// The override removed: the level follows the one above it.
    pub fn removed(level: Level) -> Self {
        Self {
            level,
            rate: Written::Unset,
            burst: Written::Unset,
            before: None,
        }
    }

    /// The level's values after the call, when known: both named, or the rest known before.
    pub fn after(&self) -> Option<Configured> {
        let named = |w: &Written<f64>| !matches!(w, Written::Untouched);
        match (
            &self.before,
            named(&self.rate) && self.burst != Written::Untouched,
        ) {
            (Some(before), _) => Some(self.over(*before)),
            (None, true) => Some(self.over(Configured::default())),
            (None, false) => None,
        }
    }

    /// The values after the call, from the values before it.
    pub fn over(&self, before: Configured) -> Configured {
        Configured {
            rate: self.rate.over(before.rate),
            burst: self.burst.over(before.burst),
        }
    }
}

/// What an event did to the stage.
#[derive(Debug, Clone, PartialEq)]
pub enum TrailWhat {
    /// Throttling written at these levels (UpdateStage, DeleteRouteSettings).
    Levels(Vec<LevelChange>),
    /// An UpdateStage that left throttling alone (a description, logging, variables).
    Other,
    /// A deployment to the stage: its throttling is the stage's, not the deployment's.
    Deployed,
    /// A usage plan's throttle for the stage's methods (UpdateUsagePlan), its own throttle for
    /// every stage it holds (`wide`), or the stage added to or removed from the plan (neither).
    Plan {
        plan: String,
        levels: Vec<LevelChange>,
        /// The plan-wide throttle (`/throttle/…`), as a change at `Level::Stage`.
        wide: Option<LevelChange>,
    },
    /// `throttle-bot:` tags written on the stage (TagResource): timed changes' records.
    Tagged(Vec<(String, String)>),
    /// `throttle-bot:` tags removed from the stage (UntagResource): a record removed leaves its
    /// timed change's values for good.
    Untagged(Vec<String>),
    /// The call failed (its `errorCode`): nothing changed.
    Refused(String),
    /// A call whose parameters could not be read (why, in an operator's terms).
    Unread(String),
}

/// One recorded call that touched the API's stage.
#[derive(Debug, Clone, PartialEq)]
pub struct TrailEvent {
    pub id: String,
    pub call: TrailCall,
    /// Unix seconds.
    pub at: i64,
    pub principal: Principal,
    /// Made by this service: its user agent's suffix, from exactly its own identity (the
    /// session it names where it assumes a role; at home, what `sts:GetCallerIdentity` says).
    pub by_bot: bool,
    /// Its user agent carries this service's suffix. Without `by_bot`, a call that says it is
    /// the bot's and cannot be shown to be (another session of its role, another identity, or
    /// the service's own identity unknown).
    pub bot_agent: bool,
    pub stage: String,
    pub what: TrailWhat,
}

/// What CloudTrail gave for one API: the events, newest first, and what could not be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trail {
    pub events: Vec<TrailEvent>,
    /// One line per lookup that failed or stopped early, in an operator's terms.
    pub unread: Vec<String>,
}

/// Who asked the bot for one of its own changes, from its sealed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asker {
    /// A chat user id, `schedule`, or `alarm:<name>` (as records name them).
    pub by: String,
    /// The change put back the values before a timed change (its end, or `restore`).
    pub ended: bool,
}

/// A timed change in force on a stage, as its record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InForce {
    pub by: String,
    /// Unix seconds.
    pub since: i64,
    pub until: i64,
}

/// One change in `history`, with what the core worked out about it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub event: TrailEvent,
    /// For the bot's own changes: who asked, when its record says.
    pub asked_by: Option<Asker>,
    /// For changes made outside the bot: the timed change in force on that stage then.
    pub during: Option<InForce>,
    /// For records written outside the bot (TagResource): those sealed by this service for
    /// this stage, by tag key, with the timed change each holds. A sealed record put back
    /// (from a backup, an old template) may be acted on in its author's name.
    pub put_back: Vec<(String, InForce)>,
}

/// The answer to `history`: the API, the window, the changes newest first, and what could not
/// be read.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub api: super::change::ResolvedApi,
    pub stage: Option<super::target::StageName>,
    pub lookback: Lookback,
    /// The window, in Unix seconds.
    pub from: i64,
    pub to: i64,
    pub entries: Vec<HistoryEntry>,
    /// Timed changes in force whose start is recent and not listed yet (CloudTrail lags).
    pub not_listed: Vec<(String, InForce)>,
    pub unread: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookback_takes_days_hours_and_minutes_and_defaults_to_a_day() {
        let secs = |raw: &str| Lookback::parse(raw).map(Lookback::secs);
        assert_eq!(secs("24h"), Ok(DAY));
        assert_eq!(secs("7d"), Ok(7 * DAY));
        assert_eq!(secs("1d12h"), Ok(DAY + 12 * 3600));
        assert_eq!(secs("30m"), Ok(1800));
        assert_eq!(secs("90d"), Ok(90 * DAY));
        assert_eq!(Lookback::DEFAULT.to_string(), "24h");
        assert_eq!(Lookback::parse("7d").unwrap().to_string(), "7d");
        assert_eq!(Lookback::parse("2d12h").unwrap().to_string(), "2d12h");
    }

    #[test]
    fn more_than_ninety_days_is_refused_with_cloudtrails_limit() {
        for raw in ["91d", "2200h", "99999999999d"] {
            let error = Lookback::parse(raw).unwrap_err();
            assert!(matches!(error, LookbackError::TooLong(_)), "{raw}");
            assert!(error.to_string().contains("90d"), "{error}");
        }
    }

    #[test]
    fn words_that_are_not_durations_are_refused() {
        for raw in ["", "0d", "d", "prod", "1w", "-1d", "1dd"] {
            assert!(
                matches!(Lookback::parse(raw), Err(LookbackError::NotADuration(_))),
                "{raw}"
            );
        }
        assert!(Lookback::looks_like("7d") && Lookback::looks_like("30m"));
        assert!(!Lookback::looks_like("prod") && !Lookback::looks_like("v2"));
    }

    #[test]
    fn a_change_naming_one_value_is_complete_only_with_what_came_before() {
        let mut change = LevelChange {
            level: Level::Stage,
            rate: Written::To(0.0),
            burst: Written::Untouched,
            before: None,
        };
        assert_eq!(change.after(), None);
        change.before = Some(Configured {
            rate: Some(100.0),
            burst: Some(200),
        });
        assert_eq!(
            change.after(),
            Some(Configured {
                rate: Some(0.0),
                burst: Some(200)
            })
        );
        assert_eq!(
            LevelChange::removed(Level::Stage).after(),
            Some(Configured::default())
        );
    }
}
