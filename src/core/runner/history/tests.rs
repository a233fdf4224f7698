//! Putting CloudTrail's events together with the bot's sealed records: the chat user behind
//! each of the bot's changes, the timed change in force when someone changed a stage outside
//! the bot, values before each change, and what CloudTrail has not listed yet.

use super::*;
use crate::domain::{
    ApiId, ApiKind, Configured, Hold, LevelChange, PlanStage, PlanView, Principal, TrailCall,
    Written,
};

const T0: i64 = 1_795_700_000;

fn api() -> ResolvedApi {
    ResolvedApi {
        id: ApiId::parse("a1b2c3d4e5").unwrap(),
        name: Some("petstore".into()),
        kind: ApiKind::Rest,
    }
}

fn seal() -> RecordSeal {
    RecordSeal::new([7; 32])
}

fn values(rate: f64, burst: i32) -> Configured {
    Configured {
        rate: Some(rate),
        burst: Some(burst),
    }
}

/// The record the bot writes for `U123ABC`'s 1-hour timed change to 5/10 at `since`.
fn record(since: i64) -> Timed {
    Timed::start(
        Level::Stage,
        values(100.0, 200),
        values(5.0, 10),
        None,
        (since, Hold::from_secs(3600).unwrap()),
        "U123ABC".into(),
        None,
    )
}

fn event(at: i64, by_bot: bool, call: TrailCall, what: TrailWhat) -> TrailEvent {
    TrailEvent {
        id: format!("{at}"),
        call,
        at,
        principal: if by_bot {
            Principal::Role {
                account: "1".into(),
                role: "throttle-bot".into(),
                session: "throttle-bot".into(),
            }
        } else {
            Principal::User {
                account: "1".into(),
                name: "alice".into(),
            }
        },
        by_bot,
        bot_agent: by_bot,
        stage: "prod".into(),
        what,
    }
}

fn set(rate: f64, burst: i32) -> TrailWhat {
    TrailWhat::Levels(vec![LevelChange {
        level: Level::Stage,
        rate: Written::To(rate),
        burst: Written::To(burst),
        before: None,
    }])
}

fn tagged(record: &Timed, seal: &RecordSeal) -> TrailWhat {
    let api = api();
    let stage = StageName::parse("prod").unwrap();
    let place = Place::Stage {
        api: &api.id,
        stage: &stage,
    };
    TrailWhat::Tagged(vec![record.to_tag(seal, place).unwrap()])
}

#[test]
fn the_bots_change_gets_its_chat_user_and_a_change_outside_it_during_the_timed_change_is_marked() {
    let timed = record(T0);
    let trail = Trail {
        // Newest first, as the gateway gives them.
        events: vec![
            event(T0 + 600, false, TrailCall::UpdateStage, set(0.0, 0)),
            event(T0 + 2, true, TrailCall::UpdateStage, set(5.0, 10)),
            event(
                T0 + 1,
                true,
                TrailCall::TagResource,
                tagged(&timed, &seal()),
            ),
            event(T0 - 600, false, TrailCall::UpdateStage, set(100.0, 200)),
        ],
        unread: Vec::new(),
    };
    let history = assemble(&api(), &[], trail, Some(&seal()), (T0 - 3600, T0 + 3600));
    assert_eq!(
        history.entries.len(),
        3,
        "the bot's own record is not a change"
    );
    let [outside, ours, first] = &history.entries[..] else {
        panic!()
    };
    assert_eq!(
        outside.during,
        Some(InForce {
            by: "U123ABC".into(),
            since: T0,
            until: T0 + 3600
        })
    );
    assert_eq!(outside.asked_by, None);
    assert_eq!(
        ours.asked_by,
        Some(Asker {
            by: "U123ABC".into(),
            ended: false
        })
    );
    assert_eq!(first.during, None, "before the timed change");
    let TrailWhat::Levels(levels) = &outside.event.what else {
        panic!()
    };
    assert_eq!(levels[0].before, Some(values(5.0, 10)));
    assert_eq!(levels[0].after(), Some(values(0.0, 0)));
}

#[test]
fn a_record_this_service_did_not_seal_names_nobody() {
    let timed = record(T0);
    let forged = tagged(&timed, &RecordSeal::new([8; 32]));
    let trail = Trail {
        events: vec![
            event(T0 + 2, true, TrailCall::UpdateStage, set(5.0, 10)),
            event(T0 + 1, true, TrailCall::TagResource, forged),
            event(T0 + 900, false, TrailCall::UpdateStage, set(0.0, 0)),
        ],
        unread: Vec::new(),
    };
    let history = assemble(&api(), &[], trail, Some(&seal()), (T0 - 3600, T0 + 3600));
    assert!(history.entries.iter().all(|e| e.asked_by.is_none()));
    assert!(history.entries.iter().all(|e| e.during.is_none()));
}

#[test]
fn the_end_of_a_timed_change_is_the_bots_on_behalf_of_its_author() {
    let timed = record(T0);
    let view = StageView {
        updated: None,
        stage: "prod".into(),
        timed: vec![timed.clone()],
        ..StageView::default()
    };
    let trail = Trail {
        events: vec![event(
            T0 + 3630,
            true,
            TrailCall::UpdateStage,
            set(100.0, 200),
        )],
        unread: Vec::new(),
    };
    let history = assemble(&api(), &[view], trail, Some(&seal()), (T0, T0 + 3700));
    assert_eq!(
        history.entries[0].asked_by,
        Some(Asker {
            by: "U123ABC".into(),
            ended: true
        })
    );
}

#[test]
fn a_timed_change_made_minutes_ago_and_not_listed_yet_is_named() {
    let now = T0 + 120;
    let view = StageView {
        updated: None,
        stage: "prod".into(),
        timed: vec![record(T0)],
        ..StageView::default()
    };
    let history = assemble(
        &api(),
        &[view],
        Trail::default(),
        Some(&seal()),
        (now - 86_400, now),
    );
    assert_eq!(history.not_listed.len(), 1);
    assert_eq!(history.not_listed[0].0, "prod");
    assert_eq!(history.not_listed[0].1.by, "U123ABC");
}

#[test]
fn a_write_is_credited_to_a_record_only_when_it_wrote_that_records_values() {
    // U123ABC makes prod 5/10 for an hour; two minutes later someone else's change for good
    // makes it 0/0 through the bot: that write is not U123ABC's.
    let timed = record(T0);
    let trail = Trail {
        events: vec![
            event(T0 + 120, true, TrailCall::UpdateStage, set(0.0, 0)),
            event(T0 + 2, true, TrailCall::UpdateStage, set(5.0, 10)),
            event(
                T0 + 1,
                true,
                TrailCall::TagResource,
                tagged(&timed, &seal()),
            ),
        ],
        unread: Vec::new(),
    };
    let history = assemble(&api(), &[], trail, Some(&seal()), (T0 - 3600, T0 + 3600));
    let [for_good, timed_change] = &history.entries[..] else {
        panic!("{:?}", history.entries)
    };
    assert_eq!(for_good.asked_by, None, "0/0 is not what the record set");
    assert_eq!(
        timed_change.asked_by,
        Some(Asker {
            by: "U123ABC".into(),
            ended: false
        })
    );
}

#[test]
fn only_a_write_of_the_values_that_come_back_at_the_end_is_the_end_of_a_timed_change() {
    let timed = record(T0);
    let view = StageView {
        updated: None,
        stage: "prod".into(),
        timed: vec![timed],
        ..StageView::default()
    };
    let end = |at: i64, what: TrailWhat| {
        let trail = Trail {
            events: vec![event(at, true, TrailCall::UpdateStage, what)],
            unread: Vec::new(),
        };
        let history = assemble(
            &api(),
            std::slice::from_ref(&view),
            trail,
            Some(&seal()),
            (T0, T0 + 7200),
        );
        history.entries[0].asked_by.clone()
    };
    // 100/200 is what was there before: written at the end, it is the end.
    assert_eq!(
        end(T0 + 3630, set(100.0, 200)),
        Some(Asker {
            by: "U123ABC".into(),
            ended: true
        })
    );
    // Other values at the end, or the values before written long before the end (someone's
    // `restore`), are not.
    assert_eq!(end(T0 + 3630, set(7.0, 7)), None);
    assert_eq!(end(T0 + 600, set(100.0, 200)), None);
}

#[test]
fn the_end_of_a_layer_under_the_newest_is_its_own_authors() {
    // UBOTTOM's 20/20 until T0 + 7200, then U123ABC's 5/10 until T0 + 3600 on top of it.
    let bottom = Timed::start(
        Level::Stage,
        values(100.0, 200),
        values(20.0, 20),
        None,
        (T0 - 60, Hold::from_secs(7260).unwrap()),
        "UBOTTOM".into(),
        None,
    );
    let top = Timed::start(
        Level::Stage,
        values(20.0, 20),
        values(5.0, 10),
        Some(&bottom),
        (T0, Hold::from_secs(3600).unwrap()),
        "U123ABC".into(),
        None,
    );
    assert_eq!(top.below.len(), 1, "{top:?}");
    let view = StageView {
        updated: None,
        stage: "prod".into(),
        timed: vec![top],
        ..StageView::default()
    };
    let trail = Trail {
        events: vec![
            event(T0 + 7210, true, TrailCall::UpdateStage, set(100.0, 200)),
            event(T0 + 3610, true, TrailCall::UpdateStage, set(20.0, 20)),
        ],
        unread: Vec::new(),
    };
    let history = assemble(&api(), &[view], trail, Some(&seal()), (T0, T0 + 7300));
    let ended: Vec<Option<Asker>> = history.entries.iter().map(|e| e.asked_by.clone()).collect();
    assert_eq!(
        ended,
        vec![
            Some(Asker {
                by: "UBOTTOM".into(),
                ended: true
            }),
            Some(Asker {
                by: "U123ABC".into(),
                ended: true
            }),
        ]
    );
}

#[test]
fn a_record_written_with_the_bots_user_agent_from_another_session_is_listed() {
    let timed = record(T0);
    let mut claimed = event(
        T0 + 1,
        false,
        TrailCall::TagResource,
        tagged(&timed, &seal()),
    );
    claimed.bot_agent = true;
    let trail = Trail {
        events: vec![claimed],
        unread: Vec::new(),
    };
    let history = assemble(&api(), &[], trail, Some(&seal()), (T0 - 3600, T0 + 3600));
    assert_eq!(history.entries.len(), 1, "not verifiably the bot's: listed");
    assert!(history.not_listed.is_empty(), "and not taken as its record");
}

#[test]
fn a_sealed_record_put_back_by_someone_is_told_from_one_written_by_hand() {
    let timed = record(T0);
    let trail = Trail {
        events: vec![
            event(
                T0 + 600,
                false,
                TrailCall::TagResource,
                tagged(&timed, &seal()),
            ),
            event(
                T0 + 300,
                false,
                TrailCall::TagResource,
                tagged(&timed, &RecordSeal::new([8; 32])),
            ),
        ],
        unread: Vec::new(),
    };
    let history = assemble(&api(), &[], trail, Some(&seal()), (T0 - 3600, T0 + 3600));
    let [put_back, by_hand] = &history.entries[..] else {
        panic!("{:?}", history.entries)
    };
    assert_eq!(
        put_back.put_back,
        vec![(
            "throttle-bot:stage".to_owned(),
            InForce {
                by: "U123ABC".into(),
                since: T0,
                until: T0 + 3600
            }
        )]
    );
    assert!(by_hand.put_back.is_empty());
}

fn plan_wide(plan: &str) -> TrailEvent {
    let mut event = event(
        T0,
        false,
        TrailCall::UpdateUsagePlan,
        TrailWhat::Plan {
            plan: plan.into(),
            levels: Vec::new(),
            wide: Some(LevelChange {
                level: Level::Stage,
                rate: Written::To(0.0),
                burst: Written::To(0),
                before: None,
            }),
        },
    );
    event.stage = String::new();
    event
}

fn plan(id: &str, stages: &[(&str, &str)]) -> PlanView {
    PlanView {
        id: id.into(),
        target: None,
        name: id.into(),
        throttle: Configured::default(),
        quota: None,
        stages: stages
            .iter()
            .map(|(api, stage)| PlanStage {
                api: (*api).into(),
                stage: (*stage).into(),
                methods: Vec::new(),
            })
            .collect(),
        tags: Vec::new(),
        timed: Vec::new(),
        unsealed: Vec::new(),
    }
}

#[test]
fn a_plan_wide_change_is_on_the_stages_its_plan_holds_and_another_apis_plan_is_left_out() {
    let plans = [
        plan("gold1", &[("a1b2c3d4e5", "prod"), ("zzzzzzzzzz", "beta")]),
        plan("silver2", &[("zzzzzzzzzz", "prod")]),
    ];
    let mut trail = Trail {
        events: vec![plan_wide("gold1"), plan_wide("silver2"), plan_wide("gone3")],
        unread: Vec::new(),
    };
    place_plan_wide(&mut trail, Some(&plans), &api().id, None);
    let stages: Vec<&str> = trail.events.iter().map(|e| e.stage.as_str()).collect();
    assert_eq!(stages, vec!["prod", ""], "gone3 could not be read: kept");
    assert_eq!(trail.unread.len(), 1, "{:?}", trail.unread);
    let beta = StageName::parse("beta").unwrap();
    let mut only_beta = Trail {
        events: vec![plan_wide("gold1")],
        unread: Vec::new(),
    };
    place_plan_wide(&mut only_beta, Some(&plans), &api().id, Some(&beta));
    assert!(
        only_beta.events.is_empty(),
        "gold1 holds this API's prod only"
    );

    let mut unknown = Trail {
        events: vec![plan_wide("gold1")],
        unread: Vec::new(),
    };
    place_plan_wide(&mut unknown, None, &api().id, None);
    assert_eq!(
        unknown.events.len(),
        1,
        "kept when the plans cannot be read"
    );
    assert!(
        unknown.unread[0].contains("usage plan"),
        "{:?}",
        unknown.unread
    );
}

#[test]
fn the_bots_own_record_removed_is_no_change_and_anyone_elses_is() {
    let untagged = || TrailWhat::Untagged(vec!["throttle-bot:stage".into()]);
    let trail = Trail {
        events: vec![
            event(T0 + 2, true, TrailCall::UntagResource, untagged()),
            event(T0 + 1, false, TrailCall::UntagResource, untagged()),
        ],
        unread: Vec::new(),
    };
    let history = assemble(&api(), &[], trail, Some(&seal()), (T0 - 3600, T0 + 3600));
    assert_eq!(history.entries.len(), 1);
    assert!(!history.entries[0].event.by_bot);
}
