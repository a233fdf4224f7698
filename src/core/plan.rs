//! Planning a change: given what was asked, the stage as it is and the account's quota, what
//! the level holds before and after, what a reset inherits, and whether anything changes at all.
//! Pure: no I/O, so every rule here is unit-tested with tables.

use crate::domain::{
    AccountLimits, Action, Applied, Approval, Configured, Level, QuotaExceeded, ResolvedApi,
    StageView, ThrottleChange,
};

/// What a change will do at its level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    pub before: Configured,
    pub after: Configured,
    /// For a reset: what the level inherits once its override is gone (the stage's values for a
    /// method, the account's for the stage), when known.
    pub inherited: Option<Configured>,
}

/// Why a change cannot be planned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
    /// An HTTP API stage's reset writes the account's limits, and they are not known.
    #[error("no account limits to reset to")]
    NoAccountLimits,
}

impl Plan {
    /// What the change will have done once written, on `api` whose stage is `stage`: not yet
    /// applied, with no approval and no timed change.
    pub fn applied(&self, api: ResolvedApi, stage: &StageView) -> Applied {
        Applied {
            api,
            before: self.before,
            after: self.after,
            changed: false,
            inherited: self.inherited,
            approval: Approval::NotNeeded,
            managed_by: stage.managed_by.clone(),
            until: None,
            steps: Vec::new(),
            replaces_timed: None,
            replaces_below: Vec::new(),
        }
    }

    /// False when the level already holds the values asked for: no UpdateStage call is needed.
    pub fn changes_anything(&self) -> bool {
        self.before != self.after
    }
}

/// Why a change deserves a second look from its author before it is applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Risk {
    /// A rate or burst of 0: every request gets `429 Too Many Requests`.
    BlocksTraffic,
    /// A value set at this level is cut by more than the configured fraction.
    Cuts {
        what: &'static str,
        from: f64,
        to: f64,
    },
    /// The rate is below the last hour's busiest minute (its average in requests per second):
    /// about `rejected` (0–1) of that minute's requests would have been refused.
    BelowTraffic { peak: f64, rate: f64, rejected: f64 },
}

/// The share of a level's own rate or burst a change may cut without confirmation.
pub const DEFAULT_CUT_FRACTION: f64 = 0.5;

/// Whether a planned change is risky. A level with no override of its own is never "cut", and
/// a reset (which lifts the override) never blocks traffic by itself.
pub fn risk(change: &ThrottleChange, plan: &Plan, cut_fraction: f64) -> Option<Risk> {
    let Action::Set(limits) = &change.action else {
        return None;
    };
    if limits.rate.value() == 0.0 || limits.burst.value() == 0 {
        return Some(Risk::BlocksTraffic);
    }
    let keep = 1.0 - cut_fraction;
    let cut = |what, from: Option<f64>, to: f64| {
        from.filter(|from| to < from * keep)
            .map(|from| Risk::Cuts { what, from, to })
    };
    cut("rate", plan.before.rate, limits.rate.value()).or_else(|| {
        cut(
            "burst",
            plan.before.burst.map(f64::from),
            f64::from(limits.burst.value()),
        )
    })
}

/// Plans `change` against `stage` as read now. Values above the account's quota are refused,
/// because API Gateway would silently cap them; without a known quota nothing is refused.
///
/// A reset removes the level's override, except stage-wide on a kind of API whose stage cannot
/// be "not set" (HTTP APIs): there it writes the account's limits, never 0/0.
pub fn plan(
    change: &ThrottleChange,
    stage: &StageView,
    account: Option<AccountLimits>,
) -> Result<Plan, PlanError> {
    let account_values = account.map(|a| Configured {
        rate: Some(a.rate),
        burst: Some(a.burst),
    });
    let (after, inherited) = match (&change.action, &change.level) {
        (Action::Set(limits), _) => {
            if let Some(account) = account {
                account.check(limits)?;
            }
            (change.after(), None)
        }
        (Action::Reset, Level::Stage) if !stage.kind.stage_can_be_unset() => {
            (account_values.ok_or(PlanError::NoAccountLimits)?, None)
        }
        (Action::Reset, Level::Stage) => (change.after(), account_values),
        (Action::Reset, Level::Method { .. } | Level::DefaultRoute) => (
            change.after(),
            Some(stage.stage_wide)
                .filter(Configured::is_set)
                .or(account_values),
        ),
    };
    Ok(Plan {
        before: stage.at(&change.level),
        after,
        inherited,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::grammar::{Request, parse_text};

    fn change(text: &str) -> ThrottleChange {
        match parse_text(text) {
            Ok(Request::Change(change)) => change,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn set(rate: f64, burst: i32) -> Configured {
        Configured {
            rate: Some(rate),
            burst: Some(burst),
        }
    }

    const UNSET: Configured = Configured {
        rate: None,
        burst: None,
    };

    fn stage(stage_wide: Configured, pets_get: Option<Configured>) -> StageView {
        let change = change("a1b2c3d4e5 prod 1 1 GET /pets");
        StageView {
            updated: None,
            stage: "prod".to_owned(),
            stage_wide,
            methods: pets_get.map(|c| (change.level, c)).into_iter().collect(),
            ..StageView::default()
        }
    }

    const ACCOUNT: AccountLimits = AccountLimits {
        rate: 10_000.0,
        burst: 5_000,
    };

    #[test]
    fn before_after_and_inheritance_follow_the_level() {
        // (command, stage-wide now, GET /pets now, account, before, after, inherited, changes)
        type Case = (
            &'static str,
            Configured,
            Option<Configured>,
            Option<AccountLimits>,
            Configured,
            Configured,
            Option<Configured>,
            bool,
        );
        let cases: Vec<Case> = vec![
            (
                "api0000000 prod 50 100",
                UNSET,
                None,
                Some(ACCOUNT),
                UNSET,
                set(50.0, 100),
                None,
                true,
            ),
            (
                "api0000000 prod 50 100",
                set(50.0, 100),
                None,
                Some(ACCOUNT),
                set(50.0, 100),
                set(50.0, 100),
                None,
                false,
            ),
            (
                "api0000000 prod 50 101",
                set(50.0, 100),
                None,
                Some(ACCOUNT),
                set(50.0, 100),
                set(50.0, 101),
                None,
                true,
            ),
            (
                "api0000000 prod 51 100",
                set(50.0, 100),
                None,
                Some(ACCOUNT),
                set(50.0, 100),
                set(51.0, 100),
                None,
                true,
            ),
            (
                "api0000000 prod 5 10 GET /pets",
                set(50.0, 100),
                None,
                Some(ACCOUNT),
                UNSET,
                set(5.0, 10),
                None,
                true,
            ),
            (
                "api0000000 prod 5 10 GET /pets",
                UNSET,
                Some(set(5.0, 10)),
                None,
                set(5.0, 10),
                set(5.0, 10),
                None,
                false,
            ),
            // A method reset inherits the stage's override when there is one…
            (
                "reset api0000000 prod GET /pets",
                set(50.0, 100),
                Some(set(5.0, 10)),
                Some(ACCOUNT),
                set(5.0, 10),
                UNSET,
                Some(set(50.0, 100)),
                true,
            ),
            // …and the account's quota when the stage has none.
            (
                "reset api0000000 prod GET /pets",
                UNSET,
                Some(set(5.0, 10)),
                Some(ACCOUNT),
                set(5.0, 10),
                UNSET,
                Some(set(10_000.0, 5_000)),
                true,
            ),
            (
                "reset api0000000 prod GET /pets",
                UNSET,
                Some(set(5.0, 10)),
                None,
                set(5.0, 10),
                UNSET,
                None,
                true,
            ),
            // A stage reset inherits the account's quota.
            (
                "reset api0000000 prod",
                set(50.0, 100),
                Some(set(5.0, 10)),
                Some(ACCOUNT),
                set(50.0, 100),
                UNSET,
                Some(set(10_000.0, 5_000)),
                true,
            ),
            (
                "reset api0000000 prod",
                set(50.0, 100),
                None,
                None,
                set(50.0, 100),
                UNSET,
                None,
                true,
            ),
            // Resetting what is not set changes nothing.
            (
                "reset api0000000 prod",
                UNSET,
                None,
                Some(ACCOUNT),
                UNSET,
                UNSET,
                Some(set(10_000.0, 5_000)),
                false,
            ),
            (
                "reset api0000000 prod GET /pets",
                set(50.0, 100),
                None,
                None,
                UNSET,
                UNSET,
                Some(set(50.0, 100)),
                false,
            ),
        ];
        for (text, stage_wide, pets, account, before, after, inherited, changes) in cases {
            let plan = plan(&change(text), &stage(stage_wide, pets), account).unwrap();
            assert_eq!(plan.before, before, "{text}: before");
            assert_eq!(plan.after, after, "{text}: after");
            assert_eq!(plan.inherited, inherited, "{text}: inherited");
            assert_eq!(plan.changes_anything(), changes, "{text}: changes");
        }
    }

    fn http(stage_wide: Configured, route: Option<(&str, Configured)>) -> StageView {
        let level = route.map(|(text, c)| (change(text).level, c));
        StageView {
            updated: None,
            kind: crate::domain::ApiKind::Http,
            methods: level.into_iter().collect(),
            ..stage(stage_wide, None)
        }
    }

    #[test]
    fn an_http_stage_reset_writes_the_account_limits_and_never_leaves_0_0() {
        let reset = change("reset api0000000 prod");
        let blocked = http(set(0.0, 0), None);
        let planned = plan(&reset, &blocked, Some(ACCOUNT)).unwrap();
        assert_eq!(
            (planned.before, planned.after, planned.inherited),
            (set(0.0, 0), set(10_000.0, 5_000), None)
        );
        assert!(planned.changes_anything());
        // Already at the account's limits: nothing to write.
        let at_account = http(set(10_000.0, 5_000), None);
        assert!(
            !plan(&reset, &at_account, Some(ACCOUNT))
                .unwrap()
                .changes_anything()
        );
        // Without the account's limits there is nothing safe to write.
        assert_eq!(
            plan(&reset, &blocked, None).unwrap_err(),
            PlanError::NoAccountLimits
        );
        // A REST stage is simply unset, with or without them.
        let rest = stage(set(0.0, 0), None);
        assert_eq!(plan(&reset, &rest, None).unwrap().after, UNSET);
    }

    #[test]
    fn an_http_route_reset_removes_its_settings_and_inherits_the_stage() {
        for text in [
            "reset api0000000 prod GET /pets",
            "reset api0000000 prod $default",
        ] {
            let level_text = text.replace("reset ", "").replace("prod", "prod 1 1");
            let view = http(set(20.0, 40), Some((level_text.as_str(), set(5.0, 10))));
            let plan = plan(&change(text), &view, Some(ACCOUNT)).unwrap();
            assert_eq!(
                (plan.before, plan.after, plan.inherited),
                (set(5.0, 10), UNSET, Some(set(20.0, 40))),
                "{text}"
            );
        }
    }

    #[test]
    fn values_above_the_account_quota_are_refused_and_at_it_allowed() {
        let quota = Some(AccountLimits {
            rate: 100.0,
            burst: 50,
        });
        for (text, refused) in [
            ("api0000000 prod 100 50", None),
            (
                "api0000000 prod 100.5 50",
                Some("rate 100.5 req/s is above the account's regional limit of 100 req/s"),
            ),
            (
                "api0000000 prod 100 51",
                Some("burst 51 is above the account's regional limit of 50"),
            ),
            (
                "api0000000 prod 1000 5000 GET /pets",
                Some("rate 1000 req/s is above the account's regional limit of 100 req/s"),
            ),
            ("reset api0000000 prod", None),
        ] {
            let result = plan(&change(text), &stage(UNSET, None), quota);
            assert_eq!(
                result.as_ref().err().map(ToString::to_string).as_deref(),
                refused,
                "{text}"
            );
        }
        assert!(
            plan(
                &change("api0000000 prod 1000000 9999999"),
                &stage(UNSET, None),
                None
            )
            .is_ok()
        );
    }

    #[test]
    fn risky_changes_block_traffic_or_cut_an_own_value_by_more_than_the_fraction() {
        // (command, stage-wide now, GET /pets now, risk)
        let cases: Vec<(&str, Configured, Option<Configured>, Option<Risk>)> = vec![
            (
                "api0000000 prod 0 10",
                UNSET,
                None,
                Some(Risk::BlocksTraffic),
            ),
            (
                "api0000000 prod 10 0",
                UNSET,
                None,
                Some(Risk::BlocksTraffic),
            ),
            (
                "api0000000 prod 0 0 GET /pets",
                UNSET,
                None,
                Some(Risk::BlocksTraffic),
            ),
            (
                "api0000000 prod 49 100",
                set(100.0, 100),
                None,
                Some(Risk::Cuts {
                    what: "rate",
                    from: 100.0,
                    to: 49.0,
                }),
            ),
            ("api0000000 prod 50 100", set(100.0, 100), None, None),
            (
                "api0000000 prod 100 49",
                set(100.0, 100),
                None,
                Some(Risk::Cuts {
                    what: "burst",
                    from: 100.0,
                    to: 49.0,
                }),
            ),
            ("api0000000 prod 1000 1000", set(100.0, 100), None, None),
            // A level without an override of its own is not cut, even far below the stage's.
            ("api0000000 prod 1 1 GET /pets", set(100.0, 100), None, None),
            (
                "api0000000 prod 1 10 GET /pets",
                set(100.0, 100),
                Some(set(10.0, 10)),
                Some(Risk::Cuts {
                    what: "rate",
                    from: 10.0,
                    to: 1.0,
                }),
            ),
            ("api0000000 prod 1 1", UNSET, None, None),
            ("reset api0000000 prod", set(100.0, 100), None, None),
        ];
        for (text, stage_wide, pets, expected) in cases {
            let change = change(text);
            let plan = plan(&change, &stage(stage_wide, pets), None).unwrap();
            assert_eq!(
                risk(&change, &plan, DEFAULT_CUT_FRACTION),
                expected,
                "{text}"
            );
        }
        let change = change("api0000000 prod 80 100");
        let plan = plan(&change, &stage(set(100.0, 100), None), None).unwrap();
        assert_eq!(risk(&change, &plan, 0.5), None);
        assert!(risk(&change, &plan, 0.1).is_some(), "a stricter fraction");
    }
}
