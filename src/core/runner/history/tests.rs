//! Putting CloudTrail's events together with the bot's sealed records: the chat user behind
//! each of the bot's changes, the timed change in force when someone changed a stage outside
//! the bot, values before each change, and what CloudTrail has not listed yet.

use super::*;
use crate::domain::{ApiId, ApiKind, Configured, Hold, LevelChange, Principal, TrailCall, Written};

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
