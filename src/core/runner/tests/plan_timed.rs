//! A usage plan's timed changes through the pipeline: the sealed record in the plan's tags,
//! the deadline handed on before anything is written, stacking, and the deadline's
//! compare-then-restore at the plan's turn.

use std::pin::Pin;

use super::*;
use crate::core::outcome::{PlanFailure, TimedDone};
use crate::core::ports::{DeadlineError, Deadlines, PlanReminder, Reminder};
use crate::core::runner::plan_deadline_ask;
use crate::domain::{Place, PlanLevel, PlanStage, PlanView};

/// Remembers every plan deadline handed to it; `refuse` stands in for a process that cannot
/// keep them (the port's default, as on Lambda).
#[derive(Default)]
struct Noted {
    plans: Mutex<Vec<PlanReminder>>,
    refuse: bool,
}

impl Deadlines for Noted {
    fn remind<'a>(
        &'a self,
        _: &'a Reminder,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeadlineError>> + Send + 'a>> {
        Box::pin(async { Ok(()) })
    }

    fn remind_plan<'a>(
        &'a self,
        reminder: &'a PlanReminder,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeadlineError>> + Send + 'a>> {
        if self.refuse {
            return Box::pin(async { Err(DeadlineError("not here".to_owned())) });
        }
        self.plans.lock().unwrap().push(reminder.clone());
        Box::pin(async { Ok(()) })
    }
}

fn values(rate: f64, burst: i32) -> Configured {
    Configured {
        rate: Some(rate),
        burst: Some(burst),
    }
}

fn gold() -> PlanView {
    PlanView {
        id: "abc123".to_owned(),
        target: None,
        name: "gold".to_owned(),
        throttle: values(100.0, 200),
        quota: None,
        stages: vec![PlanStage {
            api: "a1b2c3d4e5".to_owned(),
            stage: "prod".to_owned(),
            methods: Vec::new(),
        }],
        tags: Vec::new(),
        timed: Vec::new(),
        unsealed: Vec::new(),
    }
}

const RULES: &str = r#"
[[rule]]
name = "clamp"
users = ["U1", "U2"]
plans = ["gold"]
max_rate = 100
"#;

fn timed_runner(refuse: bool) -> (Runner<FakeGateway, Told>, Arc<Noted>) {
    let noted = Arc::new(Noted {
        refuse,
        ..Noted::default()
    });
    let gateway = FakeGateway {
        plans: Mutex::new(vec![gold()]),
        ..FakeGateway::default()
    };
    let runner = runner(gateway, Some(RULES))
        .with_max_temporary(crate::domain::Hold::parse("3h").unwrap())
        .with_deadlines(noted.clone());
    (runner, noted)
}

fn stored(runner: &Runner<FakeGateway, Told>) -> PlanView {
    let mut view = runner.gateway.plans.lock().unwrap()[0].clone();
    view.open(Some(&seal()));
    view
}

/// Moves every record's deadline into the past, as if its time had come (re-sealed, as the
/// service would have written it).
fn come_due(runner: &Runner<FakeGateway, Told>) {
    let view = stored(runner);
    let mut plans = runner.gateway.plans.lock().unwrap();
    for record in view.timed {
        let shift = record.until - (crate::core::clock::unix_now() - 1);
        let mut due = record.clone();
        due.until -= shift;
        due.since -= shift;
        for layer in &mut due.below {
            layer.until -= shift;
        }
        let (key, value) = due.to_tag(&seal(), Place::Plan("abc123")).unwrap();
        plans[0].tags.retain(|(k, _)| *k != key);
        plans[0].tags.push((key, value));
    }
}

fn deadline() -> Ask {
    plan_deadline_ask(&PlanReminder {
        plan: "abc123".to_owned(),
        level: PlanLevel::Plan,
        at: 0,
    })
    .unwrap()
}

fn plan_writes(runner: &Runner<FakeGateway, Told>) -> usize {
    runner
        .gateway
        .calls()
        .iter()
        .filter(|c| c.starts_with("write plan"))
        .count()
}

#[tokio::test]
async fn a_timed_plan_change_records_itself_hands_its_deadline_on_and_ends_by_itself() {
    let (runner, noted) = timed_runner(false);
    let made = runner.perform(&ask("U1", "plan gold 5 10 for 30m")).await;
    let Outcome::PlanChanged {
        result: Ok(applied),
        ..
    } = &made
    else {
        panic!("{made:?}")
    };
    assert!(applied.changed);
    assert_eq!(applied.steps.first().map(|s| s.1), Some(values(100.0, 200)));
    let view = stored(&runner);
    assert_eq!(view.throttle, values(5.0, 10));
    let record = view.timed_at(&PlanLevel::Plan).expect("a sealed record");
    assert_eq!(
        (record.set, record.restore),
        (values(5.0, 10), values(100.0, 200))
    );
    assert_eq!(noted.plans.lock().unwrap()[0].at, record.until);
    // Its deadline before its time: nothing happens.
    let early = runner.perform(&deadline()).await;
    assert!(matches!(
        early,
        Outcome::PlanTimed {
            result: Ok(TimedDone::NotDue(_)),
            ..
        }
    ));
    come_due(&runner);
    let ended = runner.perform(&deadline()).await;
    assert_eq!(ended.label(), Label::Restored, "{ended:?}");
    let view = stored(&runner);
    assert_eq!(view.throttle, values(100.0, 200));
    assert!(view.timed.is_empty() && view.tags.is_empty(), "{view:?}");
    // A second deadline (another replica, a sweep) finds nothing left to do.
    let again = runner.perform(&deadline()).await;
    assert!(matches!(
        again,
        Outcome::PlanTimed {
            result: Ok(TimedDone::NothingPending),
            ..
        }
    ));
    assert_eq!(plan_writes(&runner), 2);
}

#[tokio::test]
async fn a_short_clamp_on_a_long_one_gives_the_long_one_back_not_the_values_before() {
    let (runner, _) = timed_runner(false);
    let long = runner.perform(&ask("U1", "plan gold 50 100 for 2h")).await;
    assert_eq!(long.label(), Label::Applied, "{long:?}");
    let short = runner.perform(&ask("U2", "plan gold 5 10 for 1m")).await;
    let Outcome::PlanChanged {
        result: Ok(applied),
        ..
    } = &short
    else {
        panic!("{short:?}")
    };
    // Said at once: first the long clamp's values, then those from before it.
    let back: Vec<Configured> = applied.steps.iter().map(|s| s.1).collect();
    assert_eq!(back, vec![values(50.0, 100), values(100.0, 200)]);
    // Only the short one comes due.
    let mut record = stored(&runner).timed[0].clone();
    record.until = crate::core::clock::unix_now() - 1;
    let (key, value) = record.to_tag(&seal(), Place::Plan("abc123")).unwrap();
    runner.gateway.plans.lock().unwrap()[0].tags = vec![(key, value)];
    let ended = runner.perform(&deadline()).await;
    assert_eq!(ended.label(), Label::Restored, "{ended:?}");
    let view = stored(&runner);
    assert_eq!(view.throttle, values(50.0, 100));
    let left = view
        .timed_at(&PlanLevel::Plan)
        .expect("the long clamp's record");
    assert_eq!(
        (left.set, left.restore),
        (values(50.0, 100), values(100.0, 200))
    );
}

#[tokio::test]
async fn a_deadline_puts_nothing_back_over_a_value_someone_chose_since() {
    let (runner, _) = timed_runner(false);
    runner.perform(&ask("U1", "plan gold 5 10 for 30m")).await;
    // Someone sets the plan elsewhere (the console, a pipeline).
    runner.gateway.plans.lock().unwrap()[0].throttle = values(7.0, 14);
    come_due(&runner);
    let ended = runner.perform(&deadline()).await;
    assert!(
        matches!(&ended, Outcome::PlanTimed { result: Ok(TimedDone::Moved { found, .. }), .. } if *found == values(7.0, 14)),
        "{ended:?}"
    );
    let view = stored(&runner);
    assert_eq!(view.throttle, values(7.0, 14));
    assert!(
        view.timed.is_empty(),
        "the record is removed for a person to decide"
    );
    assert_eq!(
        plan_writes(&runner),
        1,
        "only the change itself was written"
    );
}

#[tokio::test]
async fn a_record_the_service_did_not_seal_is_never_acted_on() {
    let (runner, _) = timed_runner(false);
    // Anyone who may tag the plan writes a record that would remove its throttle.
    let forged = Timed {
        level: PlanLevel::Plan,
        restore: Configured::default(),
        set: values(100.0, 200),
        since: 0,
        at: 0,
        until: 1,
        by: "U1".to_owned(),
        channel: None,
        thread: None,
        below: Vec::new(),
    };
    let (key, value) = forged
        .to_tag(&RecordSeal::new([9; 32]), Place::Plan("abc123"))
        .unwrap();
    runner.gateway.plans.lock().unwrap()[0].tags = vec![(key, value)];
    let ended = runner.perform(&deadline()).await;
    assert!(matches!(
        ended,
        Outcome::PlanTimed {
            result: Ok(TimedDone::NothingPending),
            ..
        }
    ));
    let view = stored(&runner);
    assert_eq!(view.throttle, values(100.0, 200));
    assert_eq!(view.unsealed.len(), 1, "listed for a person");
    assert_eq!(plan_writes(&runner), 0);
}

#[tokio::test]
async fn a_change_for_good_ends_the_timed_one_and_restore_and_extend_act_on_it() {
    let (runner, _) = timed_runner(false);
    runner.perform(&ask("U1", "plan gold 5 10 for 30m")).await;
    let until = stored(&runner).timed[0].until;
    let extended = runner.perform(&ask("U1", "extend plan gold 30m")).await;
    assert_eq!(extended.label(), Label::Extended, "{extended:?}");
    assert_eq!(stored(&runner).timed[0].until, until + 1800);
    let restored = runner.perform(&ask("U1", "restore plan gold")).await;
    assert_eq!(restored.label(), Label::Restored, "{restored:?}");
    assert_eq!(stored(&runner).throttle, values(100.0, 200));
    assert!(stored(&runner).timed.is_empty());
    // Timed again, then the same values typed for good: kept, and nothing put back later.
    runner.perform(&ask("U1", "plan gold 5 10 for 30m")).await;
    let kept = runner.perform(&ask("U1", "plan gold 5 10")).await;
    let Outcome::PlanChanged {
        result: Ok(applied),
        ..
    } = &kept
    else {
        panic!("{kept:?}")
    };
    assert!(
        !applied.changed && applied.replaces_timed.is_some(),
        "{applied:?}"
    );
    assert!(stored(&runner).timed.is_empty());
    assert_eq!(stored(&runner).throttle, values(5.0, 10));
}

#[tokio::test]
async fn where_plan_deadlines_cannot_be_kept_a_timed_plan_change_changes_nothing() {
    let (runner, _) = timed_runner(true);
    let refused = runner.perform(&ask("U1", "plan gold 5 10 for 30m")).await;
    assert!(
        matches!(
            &refused,
            Outcome::PlanChanged {
                result: Err(PlanFailure::Timed(Failure::NoDeadlines(_))),
                ..
            }
        ),
        "{refused:?}"
    );
    let view = stored(&runner);
    assert_eq!(view.throttle, values(100.0, 200));
    assert!(view.tags.is_empty());
    assert_eq!(plan_writes(&runner), 0);
    // Longer than the maximum: refused before anything is read or written.
    let long = runner.perform(&ask("U1", "plan gold 5 10 for 4h")).await;
    assert!(matches!(
        long,
        Outcome::PlanChanged {
            result: Err(PlanFailure::Timed(Failure::Hold(_))),
            ..
        }
    ));
}

#[tokio::test]
async fn an_approved_timed_plan_change_is_timed_from_its_approval_and_threads_its_end() {
    let noted = Arc::new(Noted::default());
    let gateway = FakeGateway {
        plans: Mutex::new(vec![gold()]),
        ..FakeGateway::default()
    };
    let rules = r#"
[[rule]]
name = "four eyes"
users = ["U1"]
plans = ["gold"]
approvers = ["U2"]
"#;
    let runner = runner(gateway, Some(rules)).with_deadlines(noted.clone());
    let asked = runner.perform(&ask("U1", "plan gold 5 10 for 30m")).await;
    let Outcome::PlanGated { planned, .. } = &asked else {
        panic!("{asked:?}")
    };
    // The request already says what comes back.
    assert_eq!(planned.steps.first().map(|s| s.1), Some(values(100.0, 200)));
    assert!(
        stored(&runner).tags.is_empty(),
        "nothing recorded before the approval"
    );
    let mut approved = super::gates::with(
        ask("U1", "plan abc123 5 10 for 30m"),
        Gates {
            approved_by: ChatId::parse("U2"),
            expect: Some(values(100.0, 200)),
            ..Gates::default()
        },
    );
    approved.origin.via = Via::Approve;
    approved.origin.message_ts = Some("1700000000.000100".to_owned());
    let made = runner.perform(&approved).await;
    assert_eq!(made.label(), Label::Applied, "{made:?}");
    let record = stored(&runner).timed[0].clone();
    assert_eq!(record.thread.as_deref(), Some("1700000000.000100"));
    assert_eq!(noted.plans.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_level_changed_while_the_restore_waited_its_turn_is_told_as_a_look_then_would() {
    for (meanwhile, back) in [(values(100.0, 200), true), (values(7.0, 14), false)] {
        let (runner, _) = timed_runner(false);
        runner.perform(&ask("U1", "plan gold 5 10 for 30m")).await;
        come_due(&runner);
        let Step::Write(prepared, held) = runner.prepare(&deadline()).await else {
            panic!("the deadline should restore")
        };
        // Another replica restores it (or someone sets it) while this one waits its turn.
        runner.gateway.plans.lock().unwrap()[0].throttle = meanwhile;
        let ended = runner.commit(prepared, held).await;
        let Outcome::PlanTimed {
            result: Ok(done), ..
        } = &ended
        else {
            panic!("{ended:?}")
        };
        match done {
            TimedDone::AlreadyBack(_) => assert!(back, "{ended:?}"),
            TimedDone::Moved { found, .. } => {
                assert!(!back, "{ended:?}");
                assert_eq!(*found, meanwhile);
            }
            other => panic!("{other:?}"),
        }
        // Already back is no news on a deadline (whoever restored it told people).
        assert_eq!(ended.is_audited(), !back);
        let view = stored(&runner);
        assert_eq!(view.throttle, meanwhile, "nothing written over it");
        assert!(view.timed.is_empty(), "its record is removed");
    }
}

#[tokio::test]
async fn extend_plan_acts_only_on_a_timed_change_still_in_force_and_as_approved() {
    let (runner, _) = timed_runner(false);
    runner.perform(&ask("U1", "plan gold 5 10 for 30m")).await;
    // Someone changed the values since: not extended.
    runner.gateway.plans.lock().unwrap()[0].throttle = values(7.0, 14);
    let moved = runner.perform(&ask("U1", "extend plan gold 30m")).await;
    assert!(
        matches!(
            &moved,
            Outcome::PlanTimed {
                result: Err(PlanFailure::Timed(Failure::NoLongerHeld { .. })),
                ..
            }
        ),
        "{moved:?}"
    );
    // Its end has come: not extended either.
    runner.gateway.plans.lock().unwrap()[0].throttle = values(5.0, 10);
    come_due(&runner);
    let due_at = stored(&runner).timed[0].until;
    let ended = runner.perform(&ask("U1", "extend plan gold 30m")).await;
    assert!(
        matches!(
            &ended,
            Outcome::PlanTimed {
                result: Err(PlanFailure::Timed(Failure::Ended)),
                ..
            }
        ),
        "{ended:?}"
    );
    assert_eq!(
        stored(&runner).timed[0].until,
        due_at,
        "the record is as it was"
    );

    // Under a rule with approvers, keeping it longer needs approval like the change did.
    let gateway = FakeGateway {
        plans: Mutex::new(vec![gold()]),
        ..FakeGateway::default()
    };
    let rules = "[[rule]]\nusers = [\"U1\"]\nplans = [\"gold\"]\napprovers = [\"U2\"]\n";
    let gated = runner_with(gateway, rules);
    let record = Timed::start(
        PlanLevel::Plan,
        values(100.0, 200),
        values(5.0, 10),
        None,
        (
            crate::core::clock::unix_now(),
            crate::domain::Hold::parse("30m").unwrap(),
        ),
        "U1".to_owned(),
        None,
    );
    let (key, value) = record.to_tag(&seal(), Place::Plan("abc123")).unwrap();
    {
        let mut plans = gated.gateway.plans.lock().unwrap();
        plans[0].throttle = values(5.0, 10);
        plans[0].tags = vec![(key, value)];
    }
    let asked = gated.perform(&ask("U1", "extend plan gold 30m")).await;
    assert!(
        matches!(
            &asked,
            Outcome::PlanTimed {
                result: Err(PlanFailure::Timed(Failure::NeedsApproval { .. })),
                ..
            }
        ),
        "{asked:?}"
    );
}

fn runner_with(gateway: FakeGateway, rules: &str) -> Runner<FakeGateway, Told> {
    runner(gateway, Some(rules)).with_deadlines(Arc::new(Noted::default()))
}

#[tokio::test]
async fn the_timed_change_that_comes_back_gets_its_own_deadline_handed_on() {
    let (runner, noted) = timed_runner(false);
    runner.perform(&ask("U1", "plan gold 50 100 for 2h")).await;
    runner.perform(&ask("U2", "plan gold 5 10 for 1m")).await;
    let long_until = stored(&runner).timed[0].below[0].until;
    let mut short = stored(&runner).timed[0].clone();
    short.until = crate::core::clock::unix_now() - 1;
    let (key, value) = short.to_tag(&seal(), Place::Plan("abc123")).unwrap();
    runner.gateway.plans.lock().unwrap()[0].tags = vec![(key, value)];
    noted.plans.lock().unwrap().clear();

    runner.perform(&deadline()).await;

    let handed: Vec<i64> = noted.plans.lock().unwrap().iter().map(|r| r.at).collect();
    assert_eq!(handed, [long_until], "the long clamp's end is kept");
    // A sweep that finds a record hands its deadline on too.
    let found = PlanReminder {
        plan: "abc123".to_owned(),
        level: PlanLevel::Plan,
        at: long_until,
    };
    noted.plans.lock().unwrap().clear();
    runner.keep_plan_time(&found).await;
    assert_eq!(*noted.plans.lock().unwrap(), [found]);
}

#[tokio::test]
async fn two_timed_plan_changes_at_once_take_turns_and_both_records_survive() {
    let (runner, _) = timed_runner(false);
    let (long, short) = (
        ask("U1", "plan gold 50 100 for 2h"),
        ask("U2", "plan gold 5 10 for 1h"),
    );
    let (first, second) = tokio::join!(runner.perform(&long), runner.perform(&short));
    for outcome in [&first, &second] {
        assert!(
            matches!(outcome, Outcome::PlanChanged { result: Ok(_), .. }),
            "one writer at a time: neither finds the plan moved under it: {outcome:?}"
        );
    }
    let view = stored(&runner);
    let record = view.timed.first().expect("the level's record is there");
    assert_eq!(
        Some(record.set),
        view.at(&PlanLevel::Plan),
        "the record names what the plan holds, so its deadline puts it back"
    );
    assert_eq!(
        record.below.len(),
        1,
        "the other stacked under it: {record:?}"
    );
}

#[tokio::test]
async fn back_to_a_plans_lower_timed_change_keeps_it_timed_and_other_values_end_every_layer() {
    let (runner, _) = timed_runner(false);
    runner.perform(&ask("U1", "plan gold 50 100 for 2h")).await;
    runner.perform(&ask("U2", "plan gold 40 80 for 1h")).await;
    let stacked = stored(&runner).timed[0].clone();
    let under = stacked.below[0].clone();

    // The lower layer's values again: it stays in force, ending at its own time.
    let back = runner.perform(&ask("U2", "plan gold 50 100")).await;
    let Outcome::PlanChanged {
        result: Ok(applied),
        ..
    } = &back
    else {
        panic!("{back:?}")
    };
    assert_eq!(applied.until, Some(under.until), "{applied:?}");
    let record = stored(&runner).timed[0].clone();
    assert_eq!((record.set, record.until), (under.set, under.until));

    // Stacked again, then other values for good: every layer ends, and each is named.
    runner.perform(&ask("U2", "plan gold 40 80 for 1h")).await;
    let over = runner.perform(&ask("U1", "plan gold 45 90")).await;
    let Outcome::PlanChanged {
        result: Ok(applied),
        ..
    } = &over
    else {
        panic!("{over:?}")
    };
    assert_eq!(applied.replaces_below.len(), 1, "{applied:?}");
    assert_eq!(applied.replaces_below[0].1, "U1");
    assert!(stored(&runner).timed.is_empty());
}

#[tokio::test]
async fn a_plan_record_this_process_finished_and_someone_put_back_is_never_acted_on_again() {
    let (runner, _) = timed_runner(false);
    runner.perform(&ask("U1", "plan gold 5 10 for 30m")).await;
    come_due(&runner);
    let finished = runner.gateway.plans.lock().unwrap()[0].tags.clone();
    assert_eq!(runner.perform(&deadline()).await.label(), Label::Restored);
    // Later, someone sets the same values for good; then someone who may tag the plan puts the
    // finished record back, within its day.
    runner.perform(&ask("U2", "plan gold 5 10")).await;
    assert_eq!(stored(&runner).throttle, values(5.0, 10));
    runner.gateway.plans.lock().unwrap()[0].tags = finished;

    let outcome = runner.perform(&deadline()).await;

    assert_ne!(outcome.label(), Label::Restored, "{outcome:?}");
    assert_eq!(stored(&runner).throttle, values(5.0, 10));
}
