//! Usage plans: the throttle a plan puts on every API key in it, and per method of one API stage
//! inside the plan. A plan is found by id or name in a target, like an API.

use std::fmt;

use super::change::Action;
use super::limits::Configured;
use super::sweep::MARKER_KEY;
use super::target::{
    ApiId, HttpMethod, ResourcePath, StageName, TargetAlias, TargetError, Targeted,
};
use super::timed::{
    CLAIM_PREFIX, Hold, Place, RecordLevel, RecordSeal, Timed, Unsealed, escape, unescape,
};

/// How a user names a usage plan: its id or its name, in a target (`prod:gold`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlanRef(Targeted);

impl PlanRef {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, TargetError> {
        Targeted::parse_name(raw, Self::MAX_LEN, TargetError::Plan).map(Self)
    }

    /// A plan's id as records and schedules carry it (`abc123`, `prod:abc123`): an AWS id is
    /// letters and digits, never a name.
    pub fn parse_id(raw: &str) -> Option<Self> {
        let plan = Self::parse(raw).ok()?;
        let bare = plan.bare();
        (bare.len() <= 64 && bare.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(plan)
    }

    /// The id or name as AWS knows it, without the target.
    pub fn bare(&self) -> &str {
        self.0.text()
    }

    pub fn target(&self) -> Option<&TargetAlias> {
        self.0.target()
    }
}

impl fmt::Display for PlanRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where in a plan a throttle applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PlanLevel {
    /// The plan's own throttle: every key in the plan, on every API stage in it.
    Plan,
    /// One method of one API stage in the plan (a REST API's: usage plans throttle REST APIs).
    Method {
        api: ApiId,
        stage: StageName,
        method: HttpMethod,
        path: ResourcePath,
    },
}

impl PlanLevel {
    /// The API stage a method level is in; `None` for the plan's own level.
    pub fn api_stage(&self) -> Option<(&ApiId, &StageName)> {
        match self {
            Self::Plan => None,
            Self::Method { api, stage, .. } => Some((api, stage)),
        }
    }

    /// The key API Gateway gives a method's throttle in a plan's API stage: `/pets/GET`.
    pub fn method_key(path: &ResourcePath, method: &HttpMethod) -> String {
        format!("{}/{}", path.as_str(), method.as_str())
    }
}

impl fmt::Display for PlanLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plan => f.write_str("plan-wide"),
            Self::Method {
                api,
                stage,
                method,
                path,
            } => write!(
                f,
                "{} {stage} {} {}",
                api.id(),
                method.as_str(),
                path.as_str()
            ),
        }
    }
}

// Beside its type, so that timed records need know nothing of plans.
impl RecordLevel for PlanLevel {
    /// `plan`, or `a1b2c3d4e5/live GET /pets` for one method of an API stage in the plan.
    fn key_text(&self) -> String {
        match self {
            PlanLevel::Plan => "plan".to_owned(),
            PlanLevel::Method {
                api,
                stage,
                method,
                path,
            } => format!(
                "{}/{} {} {}",
                escape(api.id()),
                escape(stage.as_str()),
                escape(method.as_str()),
                escape(path.as_str())
            ),
        }
    }

    fn from_key_text(text: &str) -> Option<Self> {
        if text == "plan" {
            return Some(PlanLevel::Plan);
        }
        let mut parts = text.splitn(3, ' ');
        let (api_stage, method, path) = (parts.next()?, parts.next()?, parts.next()?);
        let (api, stage) = api_stage.split_once('/')?;
        let api = unescape(api)?;
        // A bare id: the plan's target is the API's.
        if api.contains(':') {
            return None;
        }
        Some(PlanLevel::Method {
            api: ApiId::parse(&api).ok()?,
            stage: StageName::parse(&unescape(stage)?).ok()?,
            method: HttpMethod::parse(&unescape(method)?).ok()?,
            path: ResourcePath::parse(&unescape(path)?).ok()?,
        })
    }
}

/// What the user asked of a plan: new limits (or none) at one level, for good or for a time.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanChange {
    pub plan: PlanRef,
    pub level: PlanLevel,
    pub action: Action,
    /// `for 30m`: put back what the level holds now when this ends.
    pub hold: Option<Hold>,
}

impl PlanChange {
    /// The values the level should hold after the change: none for a reset.
    pub fn after(&self) -> Configured {
        match self.action {
            Action::Set(limits) => limits.into(),
            Action::Reset => Configured::default(),
        }
    }
}

/// One API stage in a plan, with the methods it throttles.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanStage {
    pub api: String,
    pub stage: String,
    /// `(/pets/GET, values)`, sorted by key.
    pub methods: Vec<(String, Configured)>,
}

/// A usage plan as read now.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanView {
    /// The plan's id, written with its target as every record names it (`prod:abc123`).
    pub id: String,
    pub target: Option<TargetAlias>,
    pub name: String,
    pub throttle: Configured,
    /// The quota in plain words (`10000 requests a MONTH`), when the plan has one.
    pub quota: Option<String>,
    pub stages: Vec<PlanStage>,
    /// The plan's `throttle-bot:` tags as read: untrusted until [`PlanView::open`] checks
    /// their seals.
    pub tags: Vec<(String, String)>,
    /// Timed changes in force, as recorded (and sealed by this service) in the plan's tags.
    pub timed: Vec<Timed<PlanLevel>>,
    /// `throttle-bot:` records this service did not seal: never acted on.
    pub unsealed: Vec<Unsealed>,
}

impl PlanView {
    /// Reads the records among the plan's tags: only those sealed by `seal` for this plan
    /// count; the others are set aside for a person.
    pub fn open(&mut self, seal: Option<&RecordSeal>) {
        let (mut timed, mut unsealed) = (Vec::new(), Vec::new());
        let place = Place::Plan(&self.id);
        for (key, value) in &self.tags {
            // Claims are a stage's (a plan's writes take turns in the process that queues them);
            // the marker only says that the plan holds records.
            if key.starts_with(CLAIM_PREFIX) || key == MARKER_KEY {
                continue;
            }
            match Timed::from_tag(key, value, seal, place) {
                Some(Ok(record)) => timed.push(record),
                Some(Err(found)) => unsealed.push(found),
                None => {}
            }
        }
        timed.sort_by_key(|t: &Timed<PlanLevel>| t.until);
        unsealed.sort_by(|a: &Unsealed, b: &Unsealed| a.key.cmp(&b.key));
        (self.timed, self.unsealed) = (timed, unsealed);
    }

    /// The timed change in force at `level`, if any (levels compared as their records name
    /// them: an API by its bare id, as a plan does).
    pub fn timed_at(&self, level: &PlanLevel) -> Option<&Timed<PlanLevel>> {
        let wanted = level.key_text();
        self.timed.iter().find(|t| t.level.key_text() == wanted)
    }

    /// The id as AWS knows it, without the target.
    pub fn bare_id(&self) -> &str {
        self.id.rsplit(':').next().unwrap_or(&self.id)
    }

    /// What the policy's `plans` patterns match: the plan's id (as AWS knows it) and name.
    pub fn names(&self) -> [&str; 2] {
        [self.bare_id(), self.name.as_str()]
    }

    /// Whether the plan has a throttle of its own at `level` (API Gateway has seen that
    /// method, so there is no need to ask whether the API has it).
    pub fn knows(&self, level: &PlanLevel) -> bool {
        let PlanLevel::Method {
            api,
            stage,
            method,
            path,
        } = level
        else {
            return true;
        };
        let key = PlanLevel::method_key(path, method);
        self.stages
            .iter()
            .filter(|s| s.api == api.id() && s.stage == stage.as_str())
            .any(|s| s.methods.iter().any(|(k, _)| *k == key))
    }

    /// The values at `level` now; `None` when the level's API stage is not in the plan (a
    /// method throttle can only be set on an API stage the plan already covers).
    pub fn at(&self, level: &PlanLevel) -> Option<Configured> {
        match level {
            PlanLevel::Plan => Some(self.throttle),
            PlanLevel::Method {
                api,
                stage,
                method,
                path,
            } => {
                let key = PlanLevel::method_key(path, method);
                self.stages
                    .iter()
                    .find(|s| s.api == api.id() && s.stage == stage.as_str())
                    .map(|s| {
                        s.methods
                            .iter()
                            .find(|(k, _)| *k == key)
                            .map_or_else(Configured::default, |(_, values)| *values)
                    })
            }
        }
    }
}

/// A plan change as made (or found unnecessary): the plan, and its values before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanApplied {
    pub plan: PlanView,
    pub before: Configured,
    pub after: Configured,
    pub changed: bool,
    /// How long the change waited behind other plan changes in its account (AWS allows about
    /// one UpdateUsagePlan every 20 seconds), when it waited at all.
    pub queued_secs: Option<u64>,
    /// For a timed change: when it ends, and every step from then on (when, what comes back).
    pub until: Option<i64>,
    pub steps: Vec<(i64, Configured)>,
    /// For a change for good over a timed one: when that one would have ended.
    pub replaces_timed: Option<i64>,
    /// The older timed changes under that one, which end with it (when, and who set each).
    pub replaces_below: Vec<(i64, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BurstLimit, Level, RateLimit, ThrottleLimits};

    fn view() -> PlanView {
        PlanView {
            id: "prod:abc123".to_owned(),
            target: TargetAlias::parse("prod").unwrap(),
            name: "gold".to_owned(),
            throttle: Configured {
                rate: Some(100.0),
                burst: Some(200),
            },
            quota: None,
            stages: vec![PlanStage {
                api: "a1b2c3d4e5".to_owned(),
                stage: "prod".to_owned(),
                methods: vec![(
                    "/pets/GET".to_owned(),
                    Configured {
                        rate: Some(5.0),
                        burst: Some(10),
                    },
                )],
            }],
            tags: Vec::new(),
            timed: Vec::new(),
            unsealed: Vec::new(),
        }
    }

    fn method(api: &str, stage: &str, method: &str, path: &str) -> PlanLevel {
        PlanLevel::Method {
            api: ApiId::parse(api).unwrap(),
            stage: StageName::parse(stage).unwrap(),
            method: HttpMethod::parse(method).unwrap(),
            path: ResourcePath::parse(path).unwrap(),
        }
    }

    #[test]
    fn a_plan_knows_the_methods_it_has_a_throttle_for_and_its_own_level() {
        let plan = view();
        assert!(plan.knows(&PlanLevel::Plan));
        assert!(plan.knows(&method("a1b2c3d4e5", "prod", "GET", "/pets")));
        for other in [
            method("a1b2c3d4e5", "prod", "POST", "/pets"),
            method("a1b2c3d4e5", "prod", "GET", "/pet"),
            method("a1b2c3d4e5", "test", "GET", "/pets"),
            method("zzzzzzzzzz", "prod", "GET", "/pets"),
        ] {
            assert!(!plan.knows(&other), "{other:?}");
        }
    }

    #[test]
    fn plan_refs_carry_their_target() {
        let plan = PlanRef::parse("prod:gold plan").unwrap();
        assert_eq!(
            (plan.bare(), plan.to_string().as_str()),
            ("gold plan", "prod:gold plan")
        );
        assert_eq!(plan.target().map(TargetAlias::as_str), Some("prod"));
        assert!(PlanRef::parse_id("prod:abc123").is_some());
        for name in ["gold plan", "<!channel>", "prod:", "a-b"] {
            assert!(PlanRef::parse_id(name).is_none(), "{name}");
        }
        let home = PlanRef::parse("home:abc123").unwrap();
        assert_eq!((home.target(), home.to_string().as_str()), (None, "abc123"));
        for bad in ["", "prod:", "Prod:gold", &"p".repeat(129), "go\u{7}ld"] {
            assert!(PlanRef::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_level_reads_the_plan_or_one_method_of_an_api_stage_in_it() {
        let view = view();
        assert_eq!(view.bare_id(), "abc123");
        assert_eq!(view.at(&PlanLevel::Plan), Some(view.throttle));
        assert_eq!(
            view.at(&method("a1b2c3d4e5", "prod", "get", "/pets")),
            Some(Configured {
                rate: Some(5.0),
                burst: Some(10)
            })
        );
        // A method of a stage in the plan without its own throttle: not set.
        assert_eq!(
            view.at(&method("a1b2c3d4e5", "prod", "POST", "/pets")),
            Some(Configured::default())
        );
        // A stage the plan does not cover: nothing to set there.
        assert_eq!(view.at(&method("a1b2c3d4e5", "test", "GET", "/pets")), None);
        assert_eq!(view.at(&method("z1b2c3d4e5", "prod", "GET", "/pets")), None);
    }

    #[test]
    fn a_change_says_what_the_level_holds_after_it() {
        let limits = ThrottleLimits {
            rate: RateLimit::new(5.0).unwrap(),
            burst: BurstLimit::new(10).unwrap(),
        };
        let mut change = PlanChange {
            plan: PlanRef::parse("gold").unwrap(),
            level: PlanLevel::Plan,
            action: Action::Set(limits),
            hold: None,
        };
        assert_eq!(change.after(), limits.into());
        change.action = Action::Reset;
        assert_eq!(change.after(), Configured::default());
        assert_eq!(
            method("a1b2c3d4e5", "prod", "get", "/pets/{id}").to_string(),
            "a1b2c3d4e5 prod GET /pets/{id}"
        );
        assert_eq!(PlanLevel::Plan.to_string(), "plan-wide");
    }

    fn record(level: PlanLevel) -> Timed<PlanLevel> {
        Timed {
            level,
            restore: Configured {
                rate: Some(100.0),
                burst: Some(200),
            },
            set: Configured {
                rate: Some(0.5),
                burst: Some(1),
            },
            since: 1_000,
            at: 1_000,
            until: 2_800,
            by: "U0ALICE".to_owned(),
            channel: Some("C1".to_owned()),
            thread: Some("1700000000.000100".to_owned()),
            below: Vec::new(),
        }
    }

    #[test]
    fn a_usage_plans_records_name_its_levels_and_are_sealed_to_the_plan() {
        let seal = RecordSeal::new([7; 32]);
        let pets = method("a1b2c3d4e5", "prod", "get", "/pets/{id}");
        for level in [PlanLevel::Plan, pets.clone()] {
            let record = record(level);
            let (key, value) = record.to_tag(&seal, Place::Plan("abc123")).unwrap();
            assert_eq!(
                Timed::<PlanLevel>::from_tag(&key, &value, Some(&seal), Place::Plan("abc123")),
                Some(Ok(record.clone())),
                "{key}"
            );
            // Another plan, the same plan in another target, or a stage: not ours there.
            let (api, stage) = (
                ApiId::parse("a1b2c3d4e5").unwrap(),
                StageName::parse("prod").unwrap(),
            );
            for elsewhere in [
                Place::Plan("abc124"),
                Place::Plan("prod:abc123"),
                Place::Stage {
                    api: &api,
                    stage: &stage,
                },
            ] {
                assert!(matches!(
                    Timed::<PlanLevel>::from_tag(&key, &value, Some(&seal), elsewhere),
                    Some(Err(_))
                ));
            }
        }
        assert_eq!(
            Timed::tag_key(&PlanLevel::Plan).as_deref(),
            Some("throttle-bot:plan")
        );
        assert_eq!(
            Timed::tag_key(&pets).as_deref(),
            Some("throttle-bot:a1b2c3d4e5/prod GET /pets/=7Bid=7D")
        );
        // A plan's key is not a stage's, nor the other way round.
        assert_eq!(PlanLevel::from_key_text("stage"), None);
        assert_eq!(Level::from_key_text("plan"), None);
        for bad in [
            "a1b2c3d4e5 GET /pets",
            "prod:a1b2c3d4e5/prod GET /pets",
            "a1b2c3d4e5/prod GET",
            "a1b2c3d4e5/prod FETCH /pets",
            "a1b2c3d4e5/prod GET pets",
        ] {
            assert_eq!(PlanLevel::from_key_text(bad), None, "{bad}");
        }
    }
}
