//! Timed changes through the pipeline: the record kept on the stage, the deadline's
//! compare-then-restore, `extend` and `restore`.

use std::pin::Pin;

use super::gates::with;
use super::*;
use crate::core::outcome::TimedDone;
use crate::core::ports::{DeadlineError, Deadlines, Reminder};
use crate::domain::StageName;

/// Remembers every deadline handed to it.
#[derive(Default)]
pub(super) struct Noted(Mutex<Vec<Reminder>>);

impl Deadlines for Noted {
    fn remind<'a>(
        &'a self,
        reminder: &'a Reminder,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeadlineError>> + Send + 'a>> {
        self.0.lock().unwrap().push(reminder.clone());
        Box::pin(async { Ok(()) })
    }
}

pub(super) fn values(rate: f64, burst: i32) -> Configured {
    Configured {
        rate: Some(rate),
        burst: Some(burst),
    }
}

pub(super) fn timed_runner(policy: Option<&str>) -> (Runner<FakeGateway, Told>, Arc<Noted>) {
    let noted = Arc::new(Noted::default());
    let runner = runner(petstore(), policy)
        .with_max_temporary(crate::domain::Hold::parse("2h").unwrap())
        .with_deadlines(noted.clone());
    (runner, noted)
}

pub(super) fn record(runner: &Runner<FakeGateway, Told>) -> Option<Timed> {
    let mut view = runner.gateway.apis.lock().unwrap()["a1b2c3d4e5"].1["prod"].clone();
    view.open(Some(&seal()), &ApiId::parse("a1b2c3d4e5").unwrap());
    view.timed.first().cloned()
}

/// Writes a record on the stage as the service would (sealed), or replaces it.
pub(super) fn put_record(runner: &Runner<FakeGateway, Told>, record: &Timed) {
    let (api, stage) = (
        ApiId::parse("a1b2c3d4e5").unwrap(),
        StageName::parse("prod").unwrap(),
    );
    let (key, value) = record
        .to_tag(
            &seal(),
            crate::domain::Place::Stage {
                api: &api,
                stage: &stage,
            },
        )
        .unwrap();
    let mut apis = runner.gateway.apis.lock().unwrap();
    let view = apis
        .get_mut("a1b2c3d4e5")
        .unwrap()
        .1
        .get_mut("prod")
        .unwrap();
    view.tags.retain(|(k, _)| *k != key);
    view.tags.push((key, value));
}

pub(super) fn deadline() -> Ask {
    deadline_ask(&Reminder {
        api: ApiId::parse("a1b2c3d4e5").unwrap(),
        stage: StageName::parse("prod").unwrap(),
        level: Level::Stage,
        at: 0,
    })
}

/// Someone else (the console, a pipeline) sets the stage-wide values, not through the bot.
async fn elsewhere(runner: &Runner<FakeGateway, Told>, action: Action) {
    runner
        .gateway
        .write(
            &ApiId::parse("a1b2c3d4e5").unwrap(),
            &StageName::parse("prod").unwrap(),
            &Level::Stage,
            &action,
        )
        .await
        .unwrap();
}

pub(super) fn set(rate: f64, burst: i64) -> Action {
    values(rate, burst as i32).as_action()
}

/// Makes the record's deadline already past, as if its time had come.
pub(super) fn expire(runner: &Runner<FakeGateway, Told>) {
    let mut record = record(runner).expect("a record");
    record.until = crate::core::clock::unix_now() - 1;
    put_record(runner, &record);
}

#[tokio::test]
async fn a_timed_change_records_what_to_put_back_before_it_writes_and_hands_on_its_deadline() {
    let (runner, noted) = timed_runner(None);
    runner.perform(&ask("U1", "petstore prod 100 200")).await;
    let outcome = runner
        .perform(&ask("U1", "petstore prod 90 180 for 30m"))
        .await;
    let applied = applied(&outcome);
    let record = record(&runner).expect("a record on the stage");
    assert_eq!(
        (record.restore, record.set),
        (values(100.0, 200), values(90.0, 180))
    );
    assert_eq!(record.until - record.since, 1800);
    assert_eq!(applied.until, Some(record.until));
    assert_eq!(record.by, "U1");
    let calls = runner.gateway.calls();
    assert_eq!(
        calls[calls.len() - 2..],
        ["tag a1b2c3d4e5/prod", "write a1b2c3d4e5/prod"]
    );
    assert_eq!(noted.0.lock().unwrap()[0].at, record.until);
    assert_eq!(
        noted.0.lock().unwrap()[0].api.to_string().as_str(),
        "a1b2c3d4e5"
    );
}

#[tokio::test]
async fn a_hold_above_the_maximum_is_refused_before_any_call() {
    let (runner, noted) = timed_runner(None);
    let outcome = runner
        .perform(&ask("U1", "petstore prod 5 10 for 2h1s"))
        .await;
    assert_eq!(outcome.label(), Label::TooLong);
    assert!(runner.gateway.calls().is_empty());
    assert!(noted.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_deadline_puts_the_values_before_back_and_removes_the_record() {
    let (runner, _) = timed_runner(None);
    runner
        .perform(&ask("U1", "petstore prod 5 10 for 30m"))
        .await;
    // Not due yet: nothing happens.
    assert_eq!(runner.perform(&deadline()).await.label(), Label::NotDue);
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        values(5.0, 10)
    );
    expire(&runner);
    runner.run(&deadline(), &ReplyOnce::default()).await;
    // There was no stage-wide override before: it is removed again, as `reset` does.
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        Configured::default()
    );
    assert_eq!(record(&runner), None);
    assert_eq!(*runner.teller.notices.lock().unwrap(), ["restored"]);
    assert!(runner.teller.replies.lock().unwrap().is_empty());
    // A second deadline (another replica, a sweep) finds nothing to do and tells nobody.
    let again = runner.perform(&deadline()).await;
    assert_eq!(again.label(), Label::NothingPending);
    assert!(!again.is_audited());
}

#[tokio::test]
async fn the_deadline_restores_nothing_when_someone_changed_the_level_since() {
    let (runner, _) = timed_runner(None);
    runner
        .perform(&ask("U1", "petstore prod 5 10 for 30m"))
        .await;
    elsewhere(&runner, set(7.0, 7)).await;
    expire(&runner);
    let writes = |r: &Runner<FakeGateway, Told>| {
        r.gateway
            .calls()
            .iter()
            .filter(|c| c.starts_with("write"))
            .count()
    };
    let before = writes(&runner);
    let outcome = runner.perform(&deadline()).await;
    let Outcome::Timed {
        result: Ok(TimedDone::Moved {
            found,
            record: told,
        }),
        ..
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!((*found, told.set), (values(7.0, 7), values(5.0, 10)));
    assert_eq!(writes(&runner), before);
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        values(7.0, 7)
    );
    assert_eq!(record(&runner), None);
    assert!(outcome.is_audited());
}

#[tokio::test]
async fn a_level_already_back_only_loses_its_record() {
    let (runner, _) = timed_runner(None);
    runner.perform(&ask("U1", "petstore prod 100 200")).await;
    runner
        .perform(&ask("U1", "petstore prod 90 180 for 30m"))
        .await;
    // Undone by hand to the values before.
    elsewhere(&runner, set(100.0, 200)).await;
    expire(&runner);
    let outcome = runner.perform(&deadline()).await;
    assert!(matches!(
        outcome,
        Outcome::Timed {
            result: Ok(TimedDone::AlreadyBack(_)),
            ..
        }
    ));
    assert_eq!(record(&runner), None);
}

#[tokio::test]
async fn extend_moves_the_deadline_within_the_maximum() {
    let (runner, noted) = timed_runner(None);
    runner
        .perform(&ask("U1", "petstore prod 5 10 for 30m"))
        .await;
    let first = record(&runner).unwrap();
    let outcome = runner.perform(&ask("U1", "extend petstore prod 1h")).await;
    assert_eq!(outcome.label(), Label::Extended);
    let extended = record(&runner).unwrap();
    assert_eq!(extended.until, first.until + 3600);
    assert_eq!((extended.set, extended.restore), (first.set, first.restore));
    assert_eq!(noted.0.lock().unwrap().last().unwrap().at, extended.until);
    let too_long = runner.perform(&ask("U1", "extend petstore prod 1h")).await;
    assert_eq!(too_long.label(), Label::TooLong);
    assert_eq!(record(&runner).unwrap().until, extended.until);
    let nothing = runner
        .perform(&ask("U1", "extend petstore prod GET /pets 1h"))
        .await;
    assert_eq!(nothing.label(), Label::NothingPending);
}

#[tokio::test]
async fn restore_now_puts_the_values_back_before_the_deadline_under_the_policy() {
    let (runner, _) = timed_runner(Some(POLICY));
    runner.perform(&ask("U1", "petstore prod 100 200")).await;
    runner
        .perform(&ask("U1", "petstore prod 90 180 for 30m"))
        .await;
    let refused = runner.perform(&ask("U2", "restore petstore prod")).await;
    assert_eq!(refused.label(), Label::Denied);
    assert!(record(&runner).is_some());
    let outcome = runner.perform(&ask("U1", "restore petstore prod")).await;
    assert_eq!(outcome.label(), Label::Restored);
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        values(100.0, 200)
    );
    assert_eq!(record(&runner), None);
}

#[tokio::test]
async fn a_timed_change_on_top_of_another_keeps_the_first_values_to_put_back() {
    let (runner, _) = timed_runner(None);
    runner.perform(&ask("U1", "petstore prod 100 200")).await;
    runner
        .perform(&ask("U1", "petstore prod 90 180 for 30m"))
        .await;
    runner
        .perform(&ask("U1", "petstore prod 80 160 for 10m"))
        .await;
    let record = record(&runner).unwrap();
    assert_eq!(
        (record.restore, record.set),
        (values(100.0, 200), values(80.0, 160))
    );
}

#[tokio::test]
async fn the_end_of_a_timed_change_on_top_brings_back_the_one_under_it() {
    let (runner, noted) = timed_runner(None);
    runner.perform(&ask("U1", "petstore prod 100 200")).await;
    runner
        .perform(&ask("U1", "petstore prod 50 100 for 2h"))
        .await;
    let first_until = record(&runner).unwrap().until;
    runner
        .perform(&ask("U2", "petstore prod 30 60 for 1m"))
        .await;
    let on_top = record(&runner).unwrap();
    assert_eq!(
        on_top.steps(),
        vec![
            (on_top.until, values(50.0, 100)),
            (first_until, values(100.0, 200))
        ]
    );
    expire(&runner);
    let outcome = runner.perform(&deadline()).await;
    assert_eq!(outcome.label(), Label::Restored, "{outcome:?}");
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        values(50.0, 100),
        "the two-hour clamp comes back, not the values from before it"
    );
    // What is told says until when it holds, and what comes back after it.
    let Outcome::Timed {
        result: Ok(TimedDone::Restored { applied, .. }),
        ..
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(applied.until, Some(first_until));
    assert_eq!(applied.steps, vec![(first_until, values(100.0, 200))]);
    let back = record(&runner).expect("the two-hour clamp is still in force");
    assert_eq!(
        (back.set, back.until, back.restore, back.by.as_str()),
        (values(50.0, 100), first_until, values(100.0, 200), "U1")
    );
    assert_eq!(noted.0.lock().unwrap().last().unwrap().at, first_until);
}

#[tokio::test]
async fn restoring_early_a_timed_change_on_top_needs_a_rule_for_what_comes_back() {
    let (runner, _) = timed_runner(Some(POLICY));
    runner.perform(&ask("U1", "petstore prod 100 200")).await;
    runner
        .perform(&ask("U1", "petstore prod 50 100 for 2h"))
        .await;
    runner
        .perform(&ask("U1", "petstore prod 30 60 for 1h"))
        .await;
    let outcome = runner.perform(&ask("U1", "restore petstore prod")).await;
    assert_eq!(outcome.label(), Label::Restored);
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        values(50.0, 100)
    );
    assert_eq!(record(&runner).unwrap().set, values(50.0, 100));
}

#[tokio::test]
async fn extend_refuses_a_timed_change_whose_values_were_changed_since() {
    let (runner, _) = timed_runner(None);
    runner
        .perform(&ask("U1", "petstore prod 5 10 for 10m"))
        .await;
    let until = record(&runner).unwrap().until;
    elsewhere(&runner, set(7.0, 7)).await;
    let outcome = runner.perform(&ask("U1", "extend petstore prod 30m")).await;
    assert_eq!(outcome.label(), Label::Moved, "{outcome:?}");
    assert!(format!("{outcome:?}").contains("NoLongerHeld"));
    assert_eq!(record(&runner).unwrap().until, until, "not extended");
}

#[tokio::test]
async fn extend_at_the_deadline_is_told_the_change_has_ended() {
    let (runner, _) = timed_runner(None);
    runner
        .perform(&ask("U1", "petstore prod 5 10 for 10m"))
        .await;
    expire(&runner);
    let due_at = record(&runner).unwrap().until;
    let outcome = runner.perform(&ask("U1", "extend petstore prod 30m")).await;
    assert!(
        matches!(
            &outcome,
            Outcome::Timed {
                result: Err(Failure::Ended),
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(record(&runner).unwrap().until, due_at, "not extended");
}

#[tokio::test]
async fn a_hand_written_record_is_never_acted_on_and_is_reported_once() {
    let (runner, _) = timed_runner(None);
    runner.perform(&ask("U1", "petstore prod 100 200")).await;
    {
        let mut apis = runner.gateway.apis.lock().unwrap();
        let view = apis
            .get_mut("a1b2c3d4e5")
            .unwrap()
            .1
            .get_mut("prod")
            .unwrap();
        view.tags.push((
            "throttle-bot:stage".to_owned(),
            "set=100/200 restore=0/0 since=0 until=0 by=UEVE in=CEVE".to_owned(),
        ));
    }
    runner.run(&deadline(), &ReplyOnce::default()).await;
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        values(100.0, 200),
        "nothing blocked"
    );
    runner.perform(&ask("U1", "show petstore prod")).await;
    let untrusted = runner
        .teller
        .notices
        .lock()
        .unwrap()
        .iter()
        .filter(|label| **label == "untrusted_record")
        .count();
    assert_eq!(untrusted, 1, "one audit alert, however often it is read");
    assert!(runner.teller.announced.lock().unwrap().is_empty());
    let Outcome::Show {
        result: Ok(view), ..
    } = runner.perform(&ask("U1", "show petstore prod")).await
    else {
        panic!()
    };
    assert_eq!(view.stages[0].unsealed.len(), 1);
    assert!(view.stages[0].timed.is_empty());
}

fn stage_reminder() -> Reminder {
    Reminder {
        api: ApiId::parse("a1b2c3d4e5").unwrap(),
        stage: StageName::parse("prod").unwrap(),
        level: Level::Stage,
        at: 0,
    }
}

/// Writes a claim as another process would.
async fn claimed_by(runner: &Runner<FakeGateway, Told>, by: &str, at: i64) {
    let claim = Claim::new(&Level::Stage, by.to_owned(), at).unwrap();
    let (api, stage) = (
        ApiId::parse("a1b2c3d4e5").unwrap(),
        StageName::parse("prod").unwrap(),
    );
    let (key, value) = claim.to_tag(
        &seal(),
        crate::domain::Place::Stage {
            api: &api,
            stage: &stage,
        },
    );
    runner
        .gateway
        .tag(&api, &stage, &[(key, value)])
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_fresh_claim_leaves_the_restore_to_its_holder() {
    let (runner, _) = timed_runner(None);
    let reminder = stage_reminder();
    let settle = std::time::Duration::from_secs(2);
    let (first, second) = tokio::join!(runner.claim(&reminder, "one", settle), async {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        runner.claim(&reminder, "two", settle).await
    });
    assert_eq!((first, second), (Ok(true), Ok(false)));
    runner.release(&reminder).await;
    assert!(
        runner.gateway.apis.lock().unwrap()["a1b2c3d4e5"].1["prod"]
            .claims
            .is_empty()
    );
    // Alone, a claim stays and goes on.
    assert_eq!(runner.claim(&reminder, "three", settle).await, Ok(true));
}

#[tokio::test(start_paused = true)]
async fn of_two_claims_written_at_once_only_the_last_written_goes_on() {
    let (runner, _) = timed_runner(None);
    let reminder = stage_reminder();
    let settle = std::time::Duration::from_secs(2);
    let (first, ()) = tokio::join!(runner.claim(&reminder, "one", settle), async {
        // Another process that read before "one" wrote, writing during its wait.
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        claimed_by(&runner, "two", crate::core::clock::unix_now()).await;
    });
    assert_eq!(first, Ok(false));
}

#[tokio::test(start_paused = true)]
async fn a_stale_claim_of_a_dead_process_is_taken_over() {
    let (runner, _) = timed_runner(None);
    let stale = crate::core::clock::unix_now() - Claim::FRESH_SECS;
    claimed_by(&runner, "dead", stale).await;
    let settle = std::time::Duration::from_secs(2);
    assert_eq!(
        runner.claim(&stage_reminder(), "alive", settle).await,
        Ok(true)
    );
}

#[tokio::test]
async fn a_deadline_that_finds_the_values_back_tells_nobody() {
    let (runner, _) = timed_runner(None);
    runner
        .perform(&ask("U1", "petstore prod 90 180 for 30m"))
        .await;
    elsewhere(&runner, Action::Reset).await;
    expire(&runner);
    let outcome = runner.perform(&deadline()).await;
    assert!(matches!(
        outcome,
        Outcome::Timed {
            result: Ok(TimedDone::AlreadyBack(_)),
            ..
        }
    ));
    assert!(!outcome.is_audited());
    assert_eq!(record(&runner), None);
}

#[tokio::test]
async fn the_end_of_a_timed_change_is_announced_in_its_channel() {
    let (runner, _) = timed_runner(None);
    let mut timed = ask("U1", "petstore prod 90 180 for 30m");
    if let Requester::User(who) = &mut timed.origin.requester {
        who.channel = ChatId::parse("C42");
    }
    runner.perform(&timed).await;
    assert_eq!(record(&runner).unwrap().channel.as_deref(), Some("C42"));
    expire(&runner);
    runner.run(&deadline(), &ReplyOnce::default()).await;
    assert_eq!(
        *runner.teller.announced.lock().unwrap(),
        [("C42".to_owned(), "restored")]
    );
    // A person's own `restore` is answered on their reply address instead.
    runner.perform(&timed).await;
    runner
        .run(&ask("U1", "restore petstore prod"), &ReplyOnce::default())
        .await;
    assert_eq!(runner.teller.announced.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_change_for_good_through_the_bot_replaces_a_timed_one() {
    let (runner, _) = timed_runner(None);
    runner.perform(&ask("U1", "petstore prod 100 200")).await;
    runner
        .perform(&ask("U1", "petstore prod 90 180 for 30m"))
        .await;
    let until = record(&runner).unwrap().until;
    let outcome = runner.perform(&ask("U1", "petstore prod 95 190")).await;
    let applied = applied(&outcome);
    assert_eq!((applied.replaces_timed, applied.until), (Some(until), None));
    assert_eq!(record(&runner), None, "its deadline will put nothing back");
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        values(95.0, 190)
    );
}

#[tokio::test]
async fn the_same_values_for_good_end_a_timed_change_with_a_write_that_dates_the_stage() {
    let (runner, _) = timed_runner(None);
    runner.perform(&ask("U1", "petstore prod 100 200")).await;
    runner
        .perform(&ask("U1", "petstore prod 60 120 for 30m"))
        .await;
    let until = record(&runner).unwrap().until;
    let writes = |runner: &Runner<FakeGateway, Told>| {
        runner
            .gateway
            .calls()
            .iter()
            .filter(|c| c.starts_with("write"))
            .count()
    };
    let before = writes(&runner);
    let outcome = runner.perform(&ask("U1", "petstore prod 60 120")).await;
    let applied = applied(&outcome);
    assert_eq!(
        (applied.changed, applied.replaces_timed),
        (false, Some(until))
    );
    assert_eq!(record(&runner), None, "the clamp stays for good");
    // The same values written once more: where AWS does not date the stage for the record's
    // removal, the write does, so that the record put back is never acted on.
    assert_eq!(
        writes(&runner),
        before + 1,
        "one UpdateStage of the same values"
    );
    // With nothing timed there, the same values are nothing to do.
    let again = runner.perform(&ask("U1", "petstore prod 60 120")).await;
    assert_eq!(again.label(), Label::Unchanged);
    assert!(!runner.gateway.calls().last().unwrap().starts_with("untag"));
}

#[tokio::test]
async fn the_same_values_for_a_while_re_time_a_timed_change() {
    let (runner, noted) = timed_runner(None);
    runner.perform(&ask("U1", "petstore prod 100 200")).await;
    runner
        .perform(&ask("U1", "petstore prod 60 120 for 10m"))
        .await;
    let first = record(&runner).unwrap();
    runner
        .perform(&ask("U2", "petstore prod 60 120 for 2h"))
        .await;
    let again = record(&runner).unwrap();
    // Two hours from the second change (a clock second may tick between the two).
    assert_eq!(again.until - again.since, 7200);
    assert!(again.until > first.until && again.since >= first.since);
    assert_eq!(
        (again.restore, again.below.len(), again.by.as_str()),
        (values(100.0, 200), 0, "U2")
    );
    assert_eq!(noted.0.lock().unwrap().last().unwrap().at, again.until);
}

#[tokio::test]
async fn keeping_an_approved_timed_change_longer_needs_approval_too() {
    let policy = "[[rule]]\nname = \"prod needs approval\"\nusers = [\"U1\", \"U2\"]\napis = [\"*\"]\nstages = [\"prod\"]\napprovers = [\"U2\"]\n";
    let (runner, _) = timed_runner(Some(policy));
    let approved = with(
        ask("U1", "petstore prod 60 120 for 10m"),
        Gates {
            approved_by: Some(ChatId::parse("U2").unwrap()),
            ..Gates::default()
        },
    );
    assert_eq!(runner.perform(&approved).await.label(), Label::Applied);
    let until = record(&runner).unwrap().until;

    let extend = runner.perform(&ask("U1", "extend petstore prod 30m")).await;

    assert!(
        matches!(
            &extend,
            Outcome::Timed {
                result: Err(Failure::NeedsApproval { .. }),
                ..
            }
        ),
        "{extend:?}"
    );
    assert_eq!(record(&runner).unwrap().until, until, "not extended");
    // Typing it again for longer asks an approver, as the change did.
    let again = runner
        .perform(&ask("U1", "petstore prod 60 120 for 40m"))
        .await;
    assert_eq!(again.label(), Label::AwaitingApproval);
    // Ending it early needs no approval: it only ends a change that had it.
    let restored = runner.perform(&ask("U1", "restore petstore prod")).await;
    assert_eq!(restored.label(), Label::Restored, "{restored:?}");
}

#[tokio::test]
async fn under_a_rule_without_approvers_extend_needs_none() {
    let (runner, _) = timed_runner(Some(POLICY));
    runner.perform(&ask("U1", "petstore prod 100 200")).await;
    runner
        .perform(&ask("U1", "petstore prod 90 180 for 30m"))
        .await;
    let until = record(&runner).unwrap().until;
    let extended = runner.perform(&ask("U1", "extend petstore prod 30m")).await;
    assert_eq!(extended.label(), Label::Extended, "{extended:?}");
    assert_eq!(record(&runner).unwrap().until, until + 1800);
}

/// Refuses every deadline, as a scheduler that AWS will not let us use would.
struct Unschedulable;

impl Deadlines for Unschedulable {
    fn remind<'a>(
        &'a self,
        _reminder: &'a Reminder,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeadlineError>> + Send + 'a>> {
        Box::pin(async {
            Err(DeadlineError(
                "scheduler:CreateSchedule failed: AccessDenied".into(),
            ))
        })
    }
}

#[tokio::test]
async fn a_timed_change_whose_end_cannot_be_scheduled_is_refused_before_any_write() {
    let runner = runner(petstore(), None).with_deadlines(Arc::new(Unschedulable));
    let outcome = runner
        .perform(&ask("U1", "petstore prod 60 120 for 10m"))
        .await;
    assert!(
        matches!(&outcome, Outcome::Change { result: Err(Failure::NoDeadlines(why)), .. } if why.contains("AccessDenied")),
        "{outcome:?}"
    );
    let calls = runner.gateway.calls();
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("tag") || c.starts_with("write")),
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_stack_too_deep_for_a_stage_tag_is_refused_before_any_write() {
    let (runner, _) = timed_runner(None);
    runner.perform(&ask("U1", "petstore prod 100 200")).await;
    // Each newer change is shorter, so every older one stays under it.
    let mut refused = None;
    for (i, minutes) in (1..=10).rev().enumerate() {
        let rate = 99 - i as i32;
        let outcome = runner
            .perform(&ask(
                "U1",
                &format!("petstore prod {rate} {} for {minutes}m", 2 * rate),
            ))
            .await;
        if let Outcome::Change {
            result: Err(Failure::NoRoomForRecord),
            ..
        } = outcome
        {
            refused = Some(rate);
            break;
        }
        assert_eq!(outcome.label(), Label::Applied, "{outcome:?}");
    }
    let rate = refused.expect("a tag holds only so many layers");
    let held = runner.gateway.stage_wide("a1b2c3d4e5", "prod");
    assert_eq!(
        held.rate,
        Some(f64::from(rate + 1)),
        "the refused one changed nothing"
    );
    assert!(
        record(&runner).unwrap().below.len() >= 2,
        "a few layers fit"
    );
}

#[tokio::test]
async fn a_record_found_by_a_sweep_gets_its_deadline_kept_here() {
    let (runner, noted) = timed_runner(None);
    let reminder = Reminder {
        at: 1_795_700_000,
        ..stage_reminder()
    };
    runner.keep_time(&reminder).await;
    assert_eq!(*noted.0.lock().unwrap(), [reminder]);
}
