//! The `/throttle` grammar: command text to a request. Knows text and domain types only.

use crate::domain::text::{echo, first_forbidden};
use crate::domain::{
    Action, ApiId, ApiRef, BurstLimit, Hold, HoldError, HttpMethod, Level, LimitError, PlanChange,
    PlanLevel, PlanRef, RateLimit, ResourcePath, StageName, TargetAlias, TargetError,
    ThrottleChange, ThrottleLimits,
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

/// `show <api> [<stage>]`: the current throttling of one stage or all.
#[derive(Debug, Clone, PartialEq)]
pub struct ShowRequest {
    pub api: ApiRef,
    pub stage: Option<StageName>,
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
    let (place, method) = match &change.level {
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
    };
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
    let level = match &request.level {
        PlanLevel::Plan => String::new(),
        PlanLevel::Method {
            api,
            stage,
            method,
            path,
        } => format!(
            " {} {stage} {} {}",
            api.id(),
            method.as_str(),
            path.as_str()
        ),
    };
    match request.kind {
        TimedKind::Extend(by) => Some(format!("extend plan {}{level} {by}", request.plan)),
        TimedKind::RestoreNow => Some(format!("restore plan {}{level}", request.plan)),
        TimedKind::Deadline => None,
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
const KEYWORDS: [&str; 6] = ["help", "show", "reset", "extend", "restore", "plan"];

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
        })),
        ("show", [_, api, stage]) => Ok(Request::Show(ShowRequest {
            api: ApiRef::parse(api)?,
            stage: Some(StageName::parse(stage)?),
        })),
        ("show", _) => Err(TextError::ShowUsage),
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

/// `plan <plan> …`, `show plan <plan>` and `reset plan <plan> …`. A plan throttles an API
/// stage per method only, so a stage without a method is refused rather than guessed.
fn plan_request(
    keyword: &str,
    words: &[&str],
    hold: Option<Hold>,
) -> Result<PlanRequest, TextError> {
    let api_id = |raw: &str| ApiId::parse(raw).map_err(|_| TextError::PlanApiById(echo(raw)));
    let level = |api: &str, stage: &str, method: &str, path: &str| {
        Ok::<_, TextError>(PlanLevel::Method {
            api: api_id(api)?,
            stage: StageName::parse(stage)?,
            method: HttpMethod::parse(method)?,
            path: ResourcePath::parse(path)?,
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
        [method, path] => Ok(Level::method(
            HttpMethod::parse(method)?,
            ResourcePath::parse(path)?,
        )),
        [route] if *route == Level::DEFAULT_ROUTE => Ok(Level::DefaultRoute),
        _ => Ok(Level::Stage),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PlanRef;

    fn change(text: &str) -> ThrottleChange {
        match parse_text(text) {
            Ok(Request::Change(change)) => change,
            other => panic!("{text}: expected a change, got {other:?}"),
        }
    }

    #[test]
    fn usage_plans_have_their_own_words() {
        let plan = |text: &str| match parse_text(text) {
            Ok(Request::Plan(request)) => request,
            other => panic!("{text}: {other:?}"),
        };
        let PlanRequest::Change(own) = plan("plan gold 5 10") else {
            panic!()
        };
        assert_eq!((own.plan.bare(), &own.level), ("gold", &PlanLevel::Plan));
        assert!(
            matches!(own.action, Action::Set(l) if l.rate.value() == 5.0 && l.burst.value() == 10)
        );
        let PlanRequest::Change(method) = plan("PLAN prod:gold a1b2c3d4e5 live 1 2 get /pets")
        else {
            panic!()
        };
        assert_eq!(method.plan.to_string(), "prod:gold");
        assert_eq!(method.level.to_string(), "a1b2c3d4e5 live GET /pets");
        let PlanRequest::Change(reset) = plan("reset plan gold a1b2c3d4e5 live GET /pets") else {
            panic!()
        };
        assert_eq!(reset.action, Action::Reset);
        assert!(
            matches!(plan("reset plan gold"), PlanRequest::Change(c) if c.level == PlanLevel::Plan && c.action == Action::Reset)
        );
        assert_eq!(
            plan("show plan prod:gold"),
            PlanRequest::Show(PlanRef::parse("prod:gold").unwrap())
        );
        for (text, expected) in [
            (
                "plan gold a1b2c3d4e5 live 1 2",
                TextError::PlanStageNeedsMethod,
            ),
            (
                "reset plan gold a1b2c3d4e5 live",
                TextError::PlanStageNeedsMethod,
            ),
            ("plan gold 5", TextError::PlanUsage),
            ("plan", TextError::PlanUsage),
            ("show plan", TextError::PlanUsage),
            ("reset plan gold for 30m", TextError::ForUsage),
            (
                "restore plan gold a1b2c3d4e5 live",
                TextError::PlanRestoreUsage,
            ),
            ("extend plan gold", TextError::PlanExtendUsage),
        ] {
            assert_eq!(parse_text(text), Err(expected), "{text}");
        }
        assert!(matches!(
            parse_text("plan gold petstore live 1 2 GET /pets"),
            Err(TextError::PlanApiById(_))
        ));
        for text in [
            "plan prod:gold 5.5 10",
            "plan gold a1b2c3d4e5 live 1 2 GET /pets/{id}",
            "plan gold 1 2 for 1h30m",
            "plan gold a1b2c3d4e5 live 1 2 GET /pets for 10m",
            "reset plan gold",
            "reset plan abc123 a1b2c3d4e5 live POST /",
        ] {
            let PlanRequest::Change(change) = plan(text) else {
                panic!("{text}")
            };
            assert_eq!(plan_text(&change), text);
        }
        let PlanRequest::Change(timed) = plan("plan gold 1 2 for 30m") else {
            panic!()
        };
        assert_eq!(timed.hold, Hold::parse("30m").ok());
        // A plan's timed change is extended or restored early like a stage's.
        for text in [
            "extend plan gold 30m",
            "extend plan prod:gold a1b2c3d4e5 live GET /pets 1h",
            "restore plan gold",
            "restore plan gold a1b2c3d4e5 live GET /pets",
        ] {
            let PlanRequest::Timed(request) = plan(text) else {
                panic!("{text}")
            };
            assert_eq!(plan_timed_text(&request).as_deref(), Some(text));
        }
        let PlanRequest::Timed(restore) = plan("restore plan gold") else {
            panic!()
        };
        assert_eq!(
            (restore.level, restore.kind),
            (PlanLevel::Plan, TimedKind::RestoreNow)
        );
        // An API named `plan` is typed after its target.
        assert!(matches!(
            parse_text("home:plan live 5 10"),
            Ok(Request::Change(_))
        ));
    }

    #[test]
    fn a_target_is_named_before_the_api_and_listed_with_show() {
        let change = change("prod:petstore prod 5 10");
        assert_eq!(change.api.to_string(), "prod:petstore");
        assert_eq!(command_text(&change), "prod:petstore prod 5 10");
        assert_eq!(
            parse_text("show prod:"),
            Ok(Request::List(ListRequest {
                target: TargetAlias::parse("prod").unwrap()
            }))
        );
        assert_eq!(
            parse_text("show home:"),
            Ok(Request::List(ListRequest { target: None }))
        );
        assert!(matches!(
            parse_text("show Prod:"),
            Err(TextError::Target(TargetError::Alias(_)))
        ));
        let Ok(Request::Show(show)) = parse_text("show prod:petstore live") else {
            panic!()
        };
        assert_eq!(show.api.to_string(), "prod:petstore");
    }

    #[test]
    fn four_values_make_a_stage_wide_change() {
        let change = change("  a1b2c3d4e5   prod 0.5  100 ");
        assert_eq!(change.api.to_string(), "a1b2c3d4e5");
        assert!(matches!(change.api, ApiRef::Id(_)));
        assert_eq!(change.stage.as_str(), "prod");
        assert_eq!(change.level, Level::Stage);
        let Action::Set(limits) = change.action else {
            panic!("expected set")
        };
        assert_eq!(limits.rate.value(), 0.5);
        assert_eq!(limits.burst.value(), 100);
    }

    #[test]
    fn a_method_and_path_make_a_per_method_change() {
        let method = change("petstore prod 10 20 get /pets/{id}");
        assert!(matches!(method.api, ApiRef::Name(_)));
        assert_eq!(method.level.to_string(), "GET /pets/{id}");
        assert_eq!(change("petstore prod 10 20 * *").level, Level::Stage);
    }

    #[test]
    fn reset_takes_an_optional_method_and_path() {
        let stage = change("reset petstore prod");
        assert_eq!((stage.action, stage.level), (Action::Reset, Level::Stage));
        let method = change("reset a1b2c3d4e5 prod DELETE /pets");
        assert_eq!(method.level.to_string(), "DELETE /pets");
        assert_eq!(parse_text("reset petstore"), Err(TextError::ResetUsage));
        assert_eq!(
            parse_text("reset petstore prod GET"),
            Err(TextError::ResetUsage)
        );
    }

    #[test]
    fn show_takes_an_api_and_an_optional_stage() {
        let Ok(Request::Show(all)) = parse_text("show petstore") else {
            panic!()
        };
        assert_eq!(
            (all.api.to_string(), all.stage),
            ("petstore".to_owned(), None)
        );
        let Ok(Request::Show(one)) = parse_text("SHOW petstore prod") else {
            panic!()
        };
        assert_eq!(one.stage.unwrap().as_str(), "prod");
        assert_eq!(parse_text("show"), Err(TextError::ShowUsage));
    }

    #[test]
    fn now_asks_to_skip_approval_wherever_it_is_typed() {
        assert!(wants_break_glass("petstore prod 1 2 --now"));
        assert!(wants_break_glass("--now petstore prod 1 2"));
        assert!(!wants_break_glass("petstore prod 1 2"));
        assert_eq!(
            parse_text("petstore prod 1 2 --now"),
            parse_text("petstore prod 1 2")
        );
        let reset = change("reset petstore prod GET /pets");
        assert_eq!(command_text(&reset), "reset petstore prod GET /pets");
    }

    #[test]
    fn for_a_duration_makes_a_change_timed() {
        let timed = change("petstore prod 10 20 GET /pets FOR 1h30m");
        assert_eq!(timed.hold, Some(Hold::parse("90m").unwrap()));
        assert_eq!(timed.level.to_string(), "GET /pets");
        assert_eq!(
            command_text(&timed),
            "petstore prod 10 20 GET /pets for 1h30m"
        );
        assert_eq!(change("petstore prod 10 20").hold, None);
        assert_eq!(
            change("petstore prod 1 2 for 90s --now")
                .hold
                .unwrap()
                .secs(),
            90
        );
        for bad in [
            "petstore prod 10 20 for",
            "petstore prod 10 20 for 1h 2",
            "for 1h",
            "reset petstore prod for 1h",
            "show petstore for 1h",
            "restore petstore prod for 1h",
        ] {
            assert_eq!(parse_text(bad), Err(TextError::ForUsage), "{bad}");
        }
        assert!(matches!(
            parse_text("petstore prod 10 20 for 1d"),
            Err(TextError::Hold(HoldError::NotADuration(_)))
        ));
        assert!(matches!(
            parse_text("petstore prod 10 20 for 0s"),
            Err(TextError::Hold(HoldError::TooShort))
        ));
    }

    #[test]
    fn extend_and_restore_name_a_level_of_a_stage() {
        let Ok(Request::Timed(extend)) = parse_text("extend petstore prod 30m") else {
            panic!()
        };
        assert_eq!(extend.kind, TimedKind::Extend(Hold::parse("30m").unwrap()));
        assert_eq!(
            (extend.stage.as_str(), &extend.level),
            ("prod", &Level::Stage)
        );
        assert_eq!(timed_text(&extend).unwrap(), "extend petstore prod 30m");
        let Ok(Request::Timed(restore)) = parse_text("Restore a1b2c3d4e5 prod get /pets") else {
            panic!()
        };
        assert_eq!(restore.kind, TimedKind::RestoreNow);
        assert_eq!(restore.level.to_string(), "GET /pets");
        assert_eq!(
            timed_text(&restore).unwrap(),
            "restore a1b2c3d4e5 prod GET /pets"
        );
        let deadline = TimedRequest {
            kind: TimedKind::Deadline,
            ..restore
        };
        assert_eq!(timed_text(&deadline), None);
        for (bad, error) in [
            ("extend petstore prod", TextError::ExtendUsage),
            ("extend petstore prod GET 1h", TextError::ExtendUsage),
            ("restore petstore", TextError::RestoreUsage),
            ("restore petstore prod GET", TextError::RestoreUsage),
        ] {
            assert_eq!(parse_text(bad), Err(error), "{bad}");
        }
        assert!(matches!(
            parse_text("extend petstore prod soon"),
            Err(TextError::Hold(_))
        ));
    }

    #[test]
    fn empty_text_and_help_ask_for_usage() {
        for text in ["", "   ", "help", "HELP"] {
            assert_eq!(parse_text(text), Ok(Request::Help), "{text:?}");
        }
    }

    #[test]
    fn help_followed_by_anything_that_is_not_a_change_shows_the_usage() {
        for text in [
            "help foo",
            "help me please",
            "HELP set prod",
            "help me with this",
        ] {
            assert_eq!(parse_text(text), Ok(Request::Help), "{text:?}");
        }
    }

    #[test]
    fn a_command_word_or_for_is_also_a_name_where_a_name_goes() {
        let set = |api: &str, stage: &str| {
            Ok(Request::Change(ThrottleChange {
                api: ApiRef::parse(api).unwrap(),
                stage: StageName::parse(stage).unwrap(),
                level: Level::Stage,
                action: Action::Set(ThrottleLimits {
                    rate: RateLimit::parse("5").unwrap(),
                    burst: BurstLimit::parse("10").unwrap(),
                }),
                hold: None,
            }))
        };
        // `plan` is the one word kept for its command (`plan gold 5 10` is a plan's change):
        // an API named `plan` is typed `home:plan`.
        for keyword in KEYWORDS.iter().filter(|k| **k != "plan") {
            let text = format!("{keyword} prod 5 10");
            assert_eq!(parse_text(&text), set(keyword, "prod"), "{text}");
        }
        assert_eq!(parse_text("home:plan prod 5 10"), set("plan", "prod"));
        assert_eq!(parse_text("for prod 5 10"), set("for", "prod"));
        assert_eq!(parse_text("petstore for 5 10"), set("petstore", "for"));
        assert_eq!(parse_text("petstore show 5 10"), set("petstore", "show"));
        let Ok(Request::Change(timed)) = parse_text("petstore for 5 10 for 30m") else {
            panic!("a timed change on the stage named `for`");
        };
        assert_eq!(
            (timed.stage.as_str(), timed.hold.map(|h| h.secs())),
            ("for", Some(1800))
        );
        // The command's own forms still come first.
        assert!(
            matches!(parse_text("show show"), Ok(Request::Show(s)) if s.api.to_string() == "show")
        );
        assert!(matches!(
            parse_text("extend petstore prod 30m"),
            Ok(Request::Timed(_))
        ));
        assert!(matches!(
            parse_text("reset petstore prod"),
            Ok(Request::Change(c)) if c.action == Action::Reset
        ));
        // And a change written back as text reads as the same change.
        let Ok(Request::Change(named)) = parse_text("show prod 5 10 for 1h") else {
            panic!("a timed change on the API named `show`");
        };
        assert_eq!(
            parse_text(&command_text(&named)),
            Ok(Request::Change(named))
        );
    }

    #[test]
    fn the_wrong_number_of_values_is_named() {
        assert_eq!(
            parse_text("a1b2c3d4e5 prod 50"),
            Err(TextError::WrongCount(3))
        );
        assert_eq!(
            parse_text("a1b2c3d4e5 prod 50 100 GET"),
            Err(TextError::WrongCount(5))
        );
    }

    #[test]
    fn each_bad_value_is_reported_by_what_was_wrong() {
        assert!(matches!(
            parse_text("a1b2c3d4e5 pr/od 50 100"),
            Err(TextError::Target(TargetError::Stage(_)))
        ));
        assert!(matches!(
            parse_text("a1b2c3d4e5 prod lots 100"),
            Err(TextError::Limit(LimitError::RateNotNumber(_)))
        ));
        assert!(matches!(
            parse_text("a1b2c3d4e5 prod 50 1.5"),
            Err(TextError::Limit(LimitError::BurstNotWhole(_)))
        ));
        assert!(matches!(
            parse_text("a1b2c3d4e5 prod 50 1 FETCH /pets"),
            Err(TextError::Target(TargetError::Method(_)))
        ));
        assert!(matches!(
            parse_text("a1b2c3d4e5 prod 50 1 GET pets"),
            Err(TextError::Target(TargetError::Path(_)))
        ));
    }

    #[test]
    fn hidden_characters_and_backticks_are_refused_by_name_not_shown() {
        for (text, named) in [
            ("pet\u{202E}store prod 1 1", "U+202E"),
            ("pet\u{200B}store prod 1 1", "U+200B"),
            ("\u{2800} prod 1 1", "U+2800"),
            ("petstore prod 1 1\u{1b}[2J", "U+001B"),
            ("`*APPROVED*` prod 1 1", "a backtick"),
        ] {
            let error = parse_text(text).unwrap_err();
            let message = error.to_string();
            assert!(message.contains(named), "{text:?}: {message}");
            assert!(
                !message.contains(['\u{202E}', '\u{200B}', '\u{2800}', '\u{1b}']),
                "{message:?}"
            );
        }
    }

    #[test]
    fn a_huge_value_is_echoed_short() {
        let error = parse_text(&format!("petstore prod {} 1", "9".repeat(5000))).unwrap_err();
        assert!(error.to_string().chars().count() < 200, "{error}");
        assert!(error.to_string().contains("too large"), "{error}");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_text_parses_or_is_refused_without_panicking(text in "\\PC{0,200}") {
                let _ = parse_text(&text);
            }

            #[test]
            fn a_change_written_out_reads_back_the_same(
                api in "[a-z0-9]{10}",
                stage in "[A-Za-z0-9_-]{1,20}",
                rate in 0u32..10_000_000,
                hundredths in 0u32..100,
                burst in 0i32..i32::MAX,
                method in prop_oneof![Just("GET"), Just("post"), Just("*"), Just("DELETE")],
                path in "(/[a-z]{1,8}){1,3}",
                per_method in any::<bool>(),
                hold in proptest::option::of(1u64..86_400),
            ) {
                let rate_text = format!("{rate}.{hundredths:02}");
                let level = if per_method { format!(" {method} {path}") } else { String::new() };
                let hold = hold.map_or(String::new(), |s| format!(" for {s}s"));
                let text = format!("{api}  {stage}\t{rate_text} {burst}{level}{hold}");
                let Ok(Request::Change(change)) = parse_text(&text) else {
                    return Err(TestCaseError::fail(format!("{text:?} did not parse")));
                };
                prop_assert_eq!(change.api.to_string(), api.as_str());
                prop_assert_eq!(change.stage.as_str(), stage.as_str());
                let Action::Set(limits) = change.action else {
                    return Err(TestCaseError::fail("not a set"));
                };
                prop_assert_eq!(limits.rate.value(), rate_text.parse::<f64>().unwrap());
                prop_assert_eq!(limits.burst.value(), burst);
                let again = command_text(&change);
                prop_assert_eq!(parse_text(&again), Ok(Request::Change(change)));
            }
        }
    }
}
