//! The `/throttle` grammar: command text to a request. Knows text and domain types only.

use crate::domain::text::{echo, first_forbidden};
use crate::domain::{
    Action, ApiId, ApiRef, BurstLimit, Hold, HoldError, HttpMethod, Level, LimitError, Lookback,
    LookbackError, PlanChange, PlanLevel, PlanRef, RateLimit, ResourcePath, StageName, TargetAlias,
    TargetError, ThrottleChange, ThrottleLimits,
};

/// What the user asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Help,
    Change(ThrottleChange),
    Show(ShowRequest),
    /// `show <alias>:`: a target's APIs and their stages.
    List(ListRequest),
    /// `extend …` or `restore …`: about a timed change in force.
    Timed(TimedRequest),
    /// `plan …`, `show plan …`, `reset plan …`: a usage plan's throttle.
    Plan(PlanRequest),
}

/// What the user asked of a usage plan.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanRequest {
    Change(PlanChange),
    Show(PlanRef),
    /// `extend plan …`, `restore plan …`, or a deadline: about a plan's timed change.
    Timed(PlanTimedRequest),
}

/// What to do with the timed change in force at one level of a usage plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanTimedRequest {
    pub plan: PlanRef,
    pub level: PlanLevel,
    pub kind: TimedKind,
}

/// What to do with the timed change in force at one level.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedRequest {
    pub api: ApiRef,
    pub stage: StageName,
    pub level: Level,
    pub kind: TimedKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimedKind {
    /// `extend`: end it this much later.
    Extend(Hold),
    /// `restore`: put the values before back now.
    RestoreNow,
    /// Its deadline came (a timer, a sweep, a schedule): restore it if it is due. Never typed.
    Deadline,
}

/// `show <api> [<stage>]`: the current throttling of one stage or all; `history <api> [<stage>]
/// [<duration>]`: who changed it, and when, over that long up to now. Both are reads for the
/// same readers, so `history` travels as a `show` through every entry point.
#[derive(Debug, Clone, PartialEq)]
pub struct ShowRequest {
    pub api: ApiRef,
    pub stage: Option<StageName>,
    /// `history`: the changes over this long up to now, instead of the values now.
    pub history: Option<Lookback>,
}

/// `show prod:` (or `show home:`): every API of one target, with its stages.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRequest {
    /// `None`: the home target.
    pub target: Option<TargetAlias>,
}

/// Why the command text could not be read. The text is shown to the user.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TextError {
    #[error(
        "expected `<api> <stage> <rate> <burst> [<METHOD> <path> | $default]` but got {0} values"
    )]
    WrongCount(usize),
    #[error("`show` takes `<api> [<stage>]`, or `<target>:` for a target's APIs")]
    ShowUsage,
    #[error(
        "`history` takes `<api> [<stage>] [<duration>]`, like `history petstore prod 7d` (24h unless you say)"
    )]
    HistoryUsage,
    #[error(transparent)]
    Lookback(#[from] LookbackError),
    #[error("`reset` takes `<api> <stage> [<METHOD> <path>]`")]
    ResetUsage,
    #[error(
        "`extend` takes `<api> <stage> [<METHOD> <path>] <duration>`, like `extend petstore prod 30m`"
    )]
    ExtendUsage,
    #[error("`restore` takes `<api> <stage> [<METHOD> <path>]`")]
    RestoreUsage,
    #[error("`for` ends a change with how long it lasts, like `petstore prod 10 20 for 30m`")]
    ForUsage,
    #[error(
        "`plan` takes `<plan> <rate> <burst>`, or `<plan> <api id> <stage> <rate> <burst> <METHOD> <path>` for one method of an API stage in the plan"
    )]
    PlanUsage,
    #[error(
        "a usage plan throttles an API stage per method: add `<METHOD> <path>`, or set the plan's own limits with `plan <plan> <rate> <burst>`"
    )]
    PlanStageNeedsMethod,
    #[error("in a usage plan, name the API by its id (like `a1b2c3d4e5`), not `{0}`")]
    PlanApiById(String),
    #[error(
        "`extend plan` takes `<plan> [<api id> <stage> <METHOD> <path>] <duration>`, like `extend plan gold 30m`"
    )]
    PlanExtendUsage,
    #[error("`restore plan` takes `<plan> [<api id> <stage> <METHOD> <path>]`")]
    PlanRestoreUsage,
    #[error("`show plan` takes `<plan>`, like `show plan gold`")]
    PlanShowUsage,
    #[error("`reset plan` takes `<plan> [<api id> <stage> <METHOD> <path>]`")]
    PlanResetUsage,
    #[error(transparent)]
    Hold(#[from] HoldError),
    #[error(
        "the command contains {}; type it again without it",
        describe_forbidden(*.0)
    )]
    Forbidden(char),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Limit(#[from] LimitError),
}

/// The flag that asks to skip approval in an emergency (only a rule with `break_glass` allows it).
pub const BREAK_GLASS_FLAG: &str = "--now";

/// Whether the text asks to skip approval.
pub fn wants_break_glass(text: &str) -> bool {
    text.split_whitespace().any(|w| w == BREAK_GLASS_FLAG)
}

/// Whether the text asks for the form instead of being a command: nothing at all, or `new`
/// (which no command is: an API named `new` is changed with four words or more).
pub fn asks_for_form(text: &str) -> bool {
    let text = text.trim();
    text.is_empty() || text.eq_ignore_ascii_case("new")
}

/// A change written as the command that makes it (the inverse of [`parse_text`]).
pub fn command_text(change: &ThrottleChange) -> String {
    let level = level_words(&change.level);
    let hold = change
        .hold
        .map_or(String::new(), |hold| format!(" for {hold}"));
    match change.action {
        Action::Set(limits) => format!(
            "{} {} {} {}{level}{hold}",
            change.api, change.stage, limits.rate, limits.burst
        ),
        Action::Reset => format!("reset {} {}{level}", change.api, change.stage),
    }
}

/// A usage plan change written as the command that makes it (the inverse of [`parse_text`]).
pub fn plan_text(change: &PlanChange) -> String {
    let plan = &change.plan;
    let (place, method) = plan_level_words(&change.level);
    let hold = change
        .hold
        .map(|hold| format!(" for {hold}"))
        .unwrap_or_default();
    match change.action {
        Action::Set(limits) => {
            format!(
                "plan {plan}{place} {} {}{method}{hold}",
                limits.rate, limits.burst
            )
        }
        Action::Reset => format!("reset plan {plan}{place}{method}"),
    }
}

/// A plan's timed request written as the command that makes it; `None` for a deadline.
pub fn plan_timed_text(request: &PlanTimedRequest) -> Option<String> {
    let (place, method) = plan_level_words(&request.level);
    let (plan, level) = (&request.plan, format!("{place}{method}"));
    match request.kind {
        TimedKind::Extend(by) => Some(format!("extend plan {plan}{level} {by}")),
        TimedKind::RestoreNow => Some(format!("restore plan {plan}{level}")),
        TimedKind::Deadline => None,
    }
}

/// A plan level's words as typed: none for the plan's own throttle; ` <api id> <stage>` and
/// ` <METHOD> <path>` for a method (the values go between them in a change).
fn plan_level_words(level: &PlanLevel) -> (String, String) {
    match level {
        PlanLevel::Plan => (String::new(), String::new()),
        PlanLevel::Method {
            api,
            stage,
            method,
            path,
        } => (
            format!(" {} {stage}", api.id()),
            format!(" {} {}", method.as_str(), path.as_str()),
        ),
    }
}

/// A timed request written as the command that makes it; `None` for a deadline (never typed).
pub fn timed_text(request: &TimedRequest) -> Option<String> {
    let level = level_words(&request.level);
    let (api, stage) = (&request.api, &request.stage);
    match request.kind {
        TimedKind::Extend(hold) => Some(format!("extend {api} {stage}{level} {hold}")),
        TimedKind::RestoreNow => Some(format!("restore {api} {stage}{level}")),
        TimedKind::Deadline => None,
    }
}

/// A level as typed after the values: nothing for the stage, else ` GET /pets` or ` $default`.
fn level_words(level: &Level) -> String {
    match level {
        Level::Stage => String::new(),
        level => format!(" {level}"),
    }
}

/// Reads the command text. The words `help`, `show` and `reset` come first when used.
pub fn parse_text(text: &str) -> Result<Request, TextError> {
    if let Some(c) = first_forbidden(text) {
        return Err(TextError::Forbidden(c));
    }
    let words: Vec<&str> = text
        .split_whitespace()
        .filter(|w| *w != BREAK_GLASS_FLAG)
        .collect();
    let is_for = |w: &&str| w.eq_ignore_ascii_case("for");
    // `… for <duration>` makes a change timed; it always ends the command. A `for` anywhere
    // else is a name (a stage or API called `for`).
    let (words, hold) = match words.iter().rposition(is_for) {
        Some(at) if at + 2 == words.len() && at > 0 => {
            (&words[..at], Some(Hold::parse(words[at + 1])?))
        }
        _ => (&words[..], None),
    };
    let keyword = words.first().map(|w| w.to_ascii_lowercase());
    let Some(keyword) = keyword.filter(|k| KEYWORDS.contains(&k.as_str())) else {
        return change(words, hold).map_err(|error| match error {
            // A `for` that ends nothing: say how `for` is used rather than count the words.
            TextError::WrongCount(_) if hold.is_none() && words.iter().any(is_for) => {
                TextError::ForUsage
            }
            error => error,
        });
    };
    // A keyword is also a name: text that is not that command but is a change (four or six
    // words, a rate and a burst) changes the API of that name, e.g. `show prod 5 10`.
    if keyword == "help" {
        // `help` followed by anything but a change (to an API named `help`) shows the usage.
        return Ok(change(words, hold).unwrap_or(Request::Help));
    }
    // `plan …`, `show plan …` and `reset plan …` are usage plans'; an API named `plan` is
    // typed as `home:plan`.
    let is_plan = |w: &&str| w.eq_ignore_ascii_case("plan");
    let about_plan = matches!(keyword.as_str(), "show" | "reset" | "extend" | "restore");
    if keyword == "plan" || (about_plan && words.get(1).is_some_and(is_plan)) {
        return match hold {
            Some(_) if keyword != "plan" => Err(TextError::ForUsage),
            hold => plan_request(&keyword, words, hold).map(Request::Plan),
        };
    }
    keyword_request(&keyword, words, hold).or_else(|error| change(words, hold).or(Err(error)))
}

/// The words that start a command other than a change.
const KEYWORDS: [&str; 7] = [
    "help", "show", "reset", "extend", "restore", "plan", "history",
];

fn keyword_request(
    keyword: &str,
    words: &[&str],
    hold: Option<Hold>,
) -> Result<Request, TextError> {
    if hold.is_some() {
        return Err(TextError::ForUsage);
    }
    match (keyword, words) {
        ("show", [_, target]) if target.ends_with(':') => Ok(Request::List(ListRequest {
            target: TargetAlias::parse(&target[..target.len() - 1])?,
        })),
        ("show", [_, api]) => Ok(Request::Show(ShowRequest {
            api: ApiRef::parse(api)?,
            stage: None,
            history: None,
        })),
        ("show", [_, api, stage]) => Ok(Request::Show(ShowRequest {
            api: ApiRef::parse(api)?,
            stage: Some(StageName::parse(stage)?),
            history: None,
        })),
        ("show", _) => Err(TextError::ShowUsage),
        ("history", [_, rest @ ..]) => history(rest).map(Request::Show),
        ("extend", [_, api, stage, level @ .., hold]) if is_level(level) => {
            Ok(Request::Timed(TimedRequest {
                api: ApiRef::parse(api)?,
                stage: StageName::parse(stage)?,
                level: parse_level(level)?,
                kind: TimedKind::Extend(Hold::parse(hold)?),
            }))
        }
        ("extend", _) => Err(TextError::ExtendUsage),
        ("restore", [_, api, stage, level @ ..]) if is_level(level) => {
            Ok(Request::Timed(TimedRequest {
                api: ApiRef::parse(api)?,
                stage: StageName::parse(stage)?,
                level: parse_level(level)?,
                kind: TimedKind::RestoreNow,
            }))
        }
        ("restore", _) => Err(TextError::RestoreUsage),
        ("reset", [_, api, stage, level @ ..]) if is_level(level) => {
            Ok(Request::Change(ThrottleChange {
                api: ApiRef::parse(api)?,
                stage: StageName::parse(stage)?,
                level: parse_level(level)?,
                action: Action::Reset,
                hold: None,
            }))
        }
        // `reset` in any other form (`help` never comes here).
        _ => Err(TextError::ResetUsage),
    }
}

/// `history <api> [<stage>] [<duration>]`: a last word shaped like a duration (`7d`, `30m`) is
/// one; a stage named like that is typed with a duration after it.
fn history(words: &[&str]) -> Result<ShowRequest, TextError> {
    let (api, stage, lookback) = match words {
        [api] => (api, None, None),
        [api, last] if Lookback::looks_like(last) => (api, None, Some(last)),
        [api, stage] => (api, Some(stage), None),
        [api, stage, lookback] => (api, Some(stage), Some(lookback)),
        _ => return Err(TextError::HistoryUsage),
    };
    Ok(ShowRequest {
        api: ApiRef::parse(api)?,
        stage: stage.map(|s| StageName::parse(s)).transpose()?,
        history: Some(lookback.map_or(Ok(Lookback::DEFAULT), |l| Lookback::parse(l))?),
    })
}

/// `plan <plan> …`, `show plan <plan>` and `reset plan <plan> …`. A plan throttles an API
/// stage per method only, so a stage without a method is refused rather than guessed.
fn plan_request(
    keyword: &str,
    words: &[&str],
    hold: Option<Hold>,
) -> Result<PlanRequest, TextError> {
    let api_id = |raw: &str| ApiId::parse(raw).map_err(|_| TextError::PlanApiById(echo(raw)));
    let level = |api: &str, stage: &str, method: &str, path: &str| {
        let (method, path) = (HttpMethod::parse(method)?, ResourcePath::parse(path)?);
        // A plan's method throttle is keyed by one path and one method (`/pets/GET`); AWS
        // documents no wildcard there at all.
        if method.as_str() == "*" || path.as_str() == "*" {
            let typed = format!("{} {}", method.as_str(), path.as_str());
            return Err(TargetError::PartialWildcard(typed).into());
        }
        Ok::<_, TextError>(PlanLevel::Method {
            api: api_id(api)?,
            stage: StageName::parse(stage)?,
            method,
            path,
        })
    };
    let set = |rate: &str, burst: &str| -> Result<Action, TextError> {
        Ok(Action::Set(ThrottleLimits {
            rate: RateLimit::parse(rate)?,
            burst: BurstLimit::parse(burst)?,
        }))
    };
    let change = |plan: &str, level, action| -> Result<PlanRequest, TextError> {
        Ok(PlanRequest::Change(PlanChange {
            plan: PlanRef::parse(plan)?,
            level,
            action,
            hold,
        }))
    };
    let timed = |plan: &str, level, kind| -> Result<PlanRequest, TextError> {
        Ok(PlanRequest::Timed(PlanTimedRequest {
            plan: PlanRef::parse(plan)?,
            level,
            kind,
        }))
    };
    match (keyword, words) {
        ("show", [_, _, plan]) => Ok(PlanRequest::Show(PlanRef::parse(plan)?)),
        ("show", _) => Err(TextError::PlanShowUsage),
        ("restore", [_, _, plan]) => timed(plan, PlanLevel::Plan, TimedKind::RestoreNow),
        ("restore", [_, _, plan, api, stage, method, path]) => timed(
            plan,
            level(api, stage, method, path)?,
            TimedKind::RestoreNow,
        ),
        ("restore", _) => Err(TextError::PlanRestoreUsage),
        ("extend", [_, _, plan, by]) => {
            timed(plan, PlanLevel::Plan, TimedKind::Extend(Hold::parse(by)?))
        }
        ("extend", [_, _, plan, api, stage, method, path, by]) => timed(
            plan,
            level(api, stage, method, path)?,
            TimedKind::Extend(Hold::parse(by)?),
        ),
        ("extend", _) => Err(TextError::PlanExtendUsage),
        // A reset is for good: `for` is about setting values for a time.
        ("reset", _) if hold.is_some() => Err(TextError::ForUsage),
        ("reset", [_, _, plan]) => change(plan, PlanLevel::Plan, Action::Reset),
        ("reset", [_, _, plan, api, stage, method, path]) => {
            change(plan, level(api, stage, method, path)?, Action::Reset)
        }
        ("reset", [_, _, _, _, _]) => Err(TextError::PlanStageNeedsMethod),
        ("reset", _) => Err(TextError::PlanResetUsage),
        ("plan", [_, plan, rate, burst]) => change(plan, PlanLevel::Plan, set(rate, burst)?),
        ("plan", [_, plan, api, stage, rate, burst, method, path]) => {
            let action = set(rate, burst)?;
            change(plan, level(api, stage, method, path)?, action)
        }
        ("plan", [_, _, _, _, _, _]) => Err(TextError::PlanStageNeedsMethod),
        _ => Err(TextError::PlanUsage),
    }
}

/// `<api> <stage> <rate> <burst> [<METHOD> <path>]`.
fn change(words: &[&str], hold: Option<Hold>) -> Result<Request, TextError> {
    match words {
        [] => Ok(Request::Help),
        [api, stage, rate, burst, level @ ..] if is_level(level) => {
            Ok(Request::Change(ThrottleChange {
                api: ApiRef::parse(api)?,
                stage: StageName::parse(stage)?,
                level: parse_level(level)?,
                action: Action::Set(ThrottleLimits {
                    rate: RateLimit::parse(rate)?,
                    burst: BurstLimit::parse(burst)?,
                }),
                hold,
            }))
        }
        other => Err(TextError::WrongCount(other.len())),
    }
}

/// Names a forbidden character without showing it.
fn describe_forbidden(c: char) -> String {
    match c {
        '`' => "a backtick (`)".to_owned(),
        c => format!("an invisible or control character (U+{:04X})", c as u32),
    }
}

/// Whether the words after the values can name a level: none (the stage), `<METHOD> <path>`,
/// or an HTTP API's `$default`.
fn is_level(words: &[&str]) -> bool {
    match words {
        [] | [_, _] => true,
        [route] => *route == Level::DEFAULT_ROUTE,
        _ => false,
    }
}

fn parse_level(words: &[&str]) -> Result<Level, TargetError> {
    match words {
        [method, path] => Level::enforced(HttpMethod::parse(method)?, ResourcePath::parse(path)?),
        [route] if *route == Level::DEFAULT_ROUTE => Ok(Level::DefaultRoute),
        _ => Ok(Level::Stage),
    }
}

#[cfg(test)]
mod tests;
