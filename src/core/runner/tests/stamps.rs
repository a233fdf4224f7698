//! A record is acted on only while it describes the stage: written since the stage's last
//! update (issue 32, item 2). The embedded account dates a stage as the AWS stand-in does: at
//! every tag write and at every write that changes a level.

use super::timed::{deadline, expire, put_record, record, timed_runner, values};
use super::*;
use crate::core::outcome::TimedDone;
use crate::core::recent::Recent;

/// Moves the stage's date and its records' stamps `secs` into the past, as if the last step
/// on it had been taken that long ago (the records sealed again, as the service would).
fn aged(runner: &Runner<FakeGateway, Told>, secs: i64) {
    let records: Vec<Timed> = {
        let mut apis = runner.gateway.apis.lock().unwrap();
        let view = apis
            .get_mut("a1b2c3d4e5")
            .unwrap()
            .1
            .get_mut("prod")
            .unwrap();
        view.updated = view.updated.map(|at| at - secs);
        let mut opened = view.clone();
        opened.open(Some(&seal()), &ApiId::parse("a1b2c3d4e5").unwrap());
        opened.timed
    };
    for mut old in records {
        old.at -= secs;
        old.since -= secs;
        put_record(runner, &old);
    }
}

/// The pet store's stage at 100/200, then 90/180 for 30 minutes.
async fn clamped() -> Runner<FakeGateway, Told> {
    timed(&["petstore prod 100 200"]).await
}

/// A runner that made these changes, then 90/180 for 30 minutes on the pet store's stage.
async fn timed(first: &[&str]) -> Runner<FakeGateway, Told> {
    let (runner, _) = timed_runner(None);
    for text in first {
        runner.perform(&ask("U1", text)).await;
    }
    runner
        .perform(&ask("U1", "petstore prod 90 180 for 30m"))
        .await;
    runner
}

/// A deployment, or another tool's write that leaves the throttling as it was: the stage is
/// dated now.
fn deployed(runner: &Runner<FakeGateway, Told>) {
    let mut apis = runner.gateway.apis.lock().unwrap();
    let view = apis
        .get_mut("a1b2c3d4e5")
        .unwrap()
        .1
        .get_mut("prod")
        .unwrap();
    view.updated = Some(crate::core::clock::unix_now());
}

/// What a restarted process knows: nothing it finished or reported.
fn restarted(runner: &Runner<FakeGateway, Told>) {
    *runner.finished.lock().unwrap() = Recent::new(16);
    *runner.reported.lock().unwrap() = Default::default();
}

/// After a restart, someone who may only tag puts `old` back with its end past, and its
/// deadline comes: what it does.
async fn put_back_after_restart(runner: &Runner<FakeGateway, Told>, mut old: Timed) -> Outcome {
    restarted(runner);
    old.until = crate::core::clock::unix_now() - 1;
    put_record(runner, &old);
    runner.perform(&deadline()).await
}

fn outdated(outcome: &Outcome) -> Option<(Timed, i64)> {
    match outcome {
        Outcome::Timed {
            result: Ok(TimedDone::Outdated { record, updated }),
            ..
        } => Some(((**record).clone(), *updated)),
        _ => None,
    }
}

#[tokio::test]
async fn a_timed_change_kept_for_good_then_its_record_put_back_is_never_acted_on() {
    let (runner, _) = timed_runner(None);
    runner.perform(&ask("U1", "petstore prod 100 200")).await;
    runner
        .perform(&ask("U1", "petstore prod 500 1000 for 30m"))
        .await;
    aged(&runner, 60);
    let old = record(&runner).expect("a record");
    // Kept for good with the same values: the level holds exactly what the record set.
    let kept = runner.perform(&ask("U1", "petstore prod 500 1000")).await;
    assert!(
        matches!(kept, Outcome::Change { result: Ok(_), .. }),
        "{kept:?}"
    );
    assert_eq!(record(&runner), None);
    // After a restart, someone who may only tag puts the old record back, its end past.
    let outcome = put_back_after_restart(&runner, old.clone()).await;

    let (told, updated) = outdated(&outcome).expect("told, not acted on");
    assert_eq!(told.restore, values(100.0, 200));
    assert!(
        updated > old.at,
        "the decision dated the stage after the record"
    );
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        values(500.0, 1000),
        "the decision stands"
    );
    assert_eq!(record(&runner), None, "the record put back is removed");
    let notices = runner.teller.notices.lock().unwrap().clone();
    assert!(notices.contains(&"untrusted_record"), "{notices:?}");
}

#[tokio::test]
async fn a_record_put_back_after_its_level_was_set_to_its_values_again_is_never_acted_on() {
    let (runner, _) = timed_runner(None);
    runner.perform(&ask("U1", "petstore prod 100 200")).await;
    runner
        .perform(&ask("U1", "petstore prod 500 1000 for 30m"))
        .await;
    aged(&runner, 120);
    let old = record(&runner).expect("a record");
    expire(&runner);
    runner.perform(&deadline()).await;
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        values(100.0, 200)
    );
    aged(&runner, 60);
    // Later the same values again, for good; then the old record comes back after a restart.
    runner.perform(&ask("U2", "petstore prod 500 1000")).await;
    let outcome = put_back_after_restart(&runner, old).await;

    assert!(outdated(&outcome).is_some(), "{outcome:?}");
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        values(500.0, 1000)
    );
}

#[tokio::test]
async fn a_deployment_during_a_timed_change_turns_its_end_into_a_notice_for_a_person() {
    let runner = clamped().await;
    aged(&runner, 60);
    deployed(&runner);
    expire(&runner);

    let outcome = runner.run(&deadline(), &ReplyOnce::default()).await;

    let (told, _) = outdated(&outcome).expect("told");
    assert_eq!(told.set, values(90.0, 180));
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        values(90.0, 180),
        "nothing put back"
    );
    assert_eq!(record(&runner), None);
    assert!(
        runner.teller.notices.lock().unwrap().contains(&"moved"),
        "its end is told"
    );
    // `show` says why, for a record put back again after a restart (this process remembers
    // it finished it: that is said instead).
    put_record(&runner, &told);
    let Outcome::Show {
        result: Ok(view), ..
    } = runner.perform(&ask("U1", "show petstore prod")).await
    else {
        panic!()
    };
    assert!(matches!(
        view.stages[0].unsealed[0].aside,
        Some(crate::domain::Aside::Finished(_))
    ));
    restarted(&runner);
    let Outcome::Show {
        result: Ok(view), ..
    } = runner.perform(&ask("U1", "show petstore prod")).await
    else {
        panic!()
    };
    assert!(view.stages[0].timed.is_empty());
    assert!(matches!(
        view.stages[0].unsealed[0].aside,
        Some(crate::domain::Aside::Outdated { .. })
    ));
}

#[tokio::test]
async fn a_write_at_one_level_keeps_the_records_at_the_others_acting() {
    let runner = clamped().await;
    aged(&runner, 60);
    // A change for good at a method, then a timed one at another: each dates the stage.
    runner
        .perform(&ask("U1", "petstore prod 7 14 GET /pets"))
        .await;
    aged(&runner, 60);
    runner
        .perform(&ask("U1", "petstore prod 3 6 POST /pets for 2h"))
        .await;
    aged(&runner, 60);
    expire(&runner);

    let outcome = runner.perform(&deadline()).await;

    assert_eq!(outcome.label(), Label::Restored, "{outcome:?}");
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        values(100.0, 200)
    );
}

#[tokio::test]
async fn a_restores_claim_does_not_outdate_the_records_it_finds() {
    let (runner, _) = timed_runner(None);
    runner
        .perform(&ask("U1", "petstore prod 5 10 for 30m"))
        .await;
    runner
        .perform(&ask("U1", "petstore prod 3 6 GET /pets for 2h"))
        .await;
    aged(&runner, 60);
    expire(&runner);
    let reminder = crate::core::ports::Reminder {
        api: ApiId::parse("a1b2c3d4e5").unwrap(),
        stage: crate::domain::StageName::parse("prod").unwrap(),
        level: Level::Stage,
        at: 0,
    };
    let settle = std::time::Duration::from_millis(1);
    assert_eq!(runner.claim(&reminder, "me", settle).await.ok(), Some(true));
    assert_eq!(runner.perform(&deadline()).await.label(), Label::Restored);
    aged(&runner, 60);
    runner.release(&reminder).await;

    // The record at the other level, written again with the claim and the release, still
    // counts.
    let Outcome::Show {
        result: Ok(view), ..
    } = runner.perform(&ask("U1", "show petstore prod")).await
    else {
        panic!()
    };
    assert_eq!(
        view.stages[0].timed.len(),
        1,
        "{:?}",
        view.stages[0].unsealed
    );
    assert!(view.stages[0].unsealed.is_empty());
}

#[tokio::test]
async fn a_restore_interrupted_after_its_write_is_still_finished_by_the_next_look() {
    let runner = clamped().await;
    aged(&runner, 60);
    expire(&runner);
    // The level is written back, then the record cannot be removed.
    runner.gateway.fail("untag");
    runner.perform(&deadline()).await;
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        values(100.0, 200)
    );
    assert!(record(&runner).is_some(), "the record stays");
    runner.gateway.heal();

    // Written again just before the restore's write, it still describes the stage.
    let outcome = runner.perform(&deadline()).await;

    assert_eq!(outcome.label(), Label::Unchanged, "{outcome:?}");
    assert_eq!(record(&runner), None);
}

#[tokio::test]
async fn a_change_for_good_removes_an_outdated_record_at_its_level() {
    let runner = clamped().await;
    aged(&runner, 60);
    deployed(&runner);
    let outcome = runner.perform(&ask("U1", "petstore prod 95 190")).await;
    let Outcome::Change {
        result: Ok(applied),
        ..
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(applied.replaces_timed, None, "nothing in force was ended");
    assert_eq!(record(&runner), None, "its end would tell of nothing");
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        values(95.0, 190)
    );
}

/// The calls made since `from`, by their first word (`tag`, `write`, `read`, `untag`).
fn calls_since(runner: &Runner<FakeGateway, Told>, from: usize) -> Vec<String> {
    let calls = runner.gateway.calls();
    let words = calls[from..]
        .iter()
        .map(|c| c.split(' ').next().unwrap_or_default());
    words.map(str::to_owned).collect()
}

#[tokio::test]
async fn keeping_for_good_at_once_waits_until_the_decision_can_be_told_from_the_record() {
    let runner = clamped().await;
    let old = record(&runner).expect("a record");
    // Kept for good the moment after: the stage's date must still come out later than the
    // record's, slack and all (this waits a few real seconds).
    runner.perform(&ask("U1", "petstore prod 90 180")).await;
    let outcome = put_back_after_restart(&runner, old).await;

    assert!(outdated(&outcome).is_some(), "{outcome:?}");
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        values(90.0, 180)
    );
}

#[tokio::test]
async fn the_same_values_for_a_while_again_re_time_without_writing_the_level() {
    let runner = timed(&[]).await;
    let from = runner.gateway.calls().len();
    runner
        .perform(&ask("U1", "petstore prod 90 180 for 1h"))
        .await;
    let calls = calls_since(&runner, from);
    assert!(calls.contains(&"tag".to_owned()), "{calls:?}");
    assert!(!calls.contains(&"write".to_owned()), "{calls:?}");
}

#[tokio::test]
async fn a_timed_change_writes_the_other_levels_records_with_its_own_once_before_its_write() {
    let runner = timed(&[]).await;
    let from = runner.gateway.calls().len();
    runner
        .perform(&ask("U1", "petstore prod 3 6 GET /pets for 10m"))
        .await;
    let calls = calls_since(&runner, from);
    assert_eq!(&calls[calls.len() - 2..], ["tag", "write"], "{calls:?}");
    assert_eq!(calls.iter().filter(|c| *c == "tag").count(), 1, "{calls:?}");
}

#[tokio::test]
async fn only_a_timed_change_kept_with_its_own_values_reads_the_stage_back() {
    for (text, reads_back) in [
        ("petstore prod 90 180", true),
        ("petstore prod 95 190", false),
    ] {
        let runner = clamped().await;
        aged(&runner, 60);
        let from = runner.gateway.calls().len();
        runner.perform(&ask("U1", text)).await;
        let calls = calls_since(&runner, from);
        let after_write = calls.iter().skip_while(|c| *c != "write").skip(1);
        assert_eq!(
            after_write.clone().any(|c| c == "read"),
            reads_back,
            "{text}: {calls:?}"
        );
    }
}

#[tokio::test]
async fn after_a_slow_write_the_records_are_written_again() {
    let runner = timed(&[]).await;
    *runner.gateway.slow_writes.lock().unwrap() = Some(std::time::Duration::from_secs(3));
    let started = crate::core::clock::unix_now();
    let from = runner.gateway.calls().len();
    runner
        .perform(&ask("U1", "petstore prod 3 6 GET /pets for 10m"))
        .await;
    let calls = calls_since(&runner, from);
    assert_eq!(
        &calls[calls.len() - 3..],
        ["tag", "write", "tag"],
        "{calls:?}"
    );
    // Both records, the new one too, carry a time after the write.
    let mut view = runner.gateway.apis.lock().unwrap()["a1b2c3d4e5"].1["prod"].clone();
    view.open(Some(&seal()), &ApiId::parse("a1b2c3d4e5").unwrap());
    assert_eq!(view.timed.len(), 2);
    for record in &view.timed {
        assert!(record.at >= started + 3, "{record:?}");
    }
}

#[tokio::test]
async fn a_write_that_landed_without_an_answer_counts_as_written() {
    let (runner, _) = timed_runner(None);
    runner.perform(&ask("U1", "petstore prod 100 200")).await;
    runner.gateway.fail("write-unanswered");
    let outcome = runner
        .perform(&ask("U1", "petstore prod 90 180 for 30m"))
        .await;
    assert!(
        matches!(outcome, Outcome::Change { result: Ok(_), .. }),
        "{outcome:?}"
    );
    assert!(
        record(&runner).is_some(),
        "the timed change still ends by itself"
    );
    // One that did not land is a failure, and its record goes.
    runner.gateway.heal();
    runner.gateway.fail("write-lost");
    let outcome = runner
        .perform(&ask("U1", "petstore prod 80 160 GET /pets for 30m"))
        .await;
    assert!(
        matches!(outcome, Outcome::Change { result: Err(_), .. }),
        "{outcome:?}"
    );
    let mut view = runner.gateway.apis.lock().unwrap()["a1b2c3d4e5"].1["prod"].clone();
    view.open(Some(&seal()), &ApiId::parse("a1b2c3d4e5").unwrap());
    assert_eq!(view.timed.len(), 1, "only the stage's: {:?}", view.timed);
}

#[tokio::test]
async fn an_outdated_record_is_never_written_again_even_when_the_change_fails() {
    let runner = clamped().await;
    aged(&runner, 60);
    deployed(&runner);
    runner.gateway.fail("write");
    let outcome = runner.perform(&ask("U1", "petstore prod 95 190")).await;
    assert!(
        matches!(outcome, Outcome::Change { result: Err(_), .. }),
        "{outcome:?}"
    );
    runner.gateway.heal();
    // Whatever is left at the level never counts as a timed change in force.
    let Outcome::Show {
        result: Ok(view), ..
    } = runner.perform(&ask("U1", "show petstore prod")).await
    else {
        panic!()
    };
    assert!(
        view.stages[0].timed.is_empty(),
        "{:?}",
        view.stages[0].timed
    );
}

#[tokio::test]
async fn a_record_write_that_keeps_landing_late_is_made_again_three_times_at_most() {
    let (runner, _) = timed_runner(None);
    *runner.gateway.slow_tags.lock().unwrap() = Some(std::time::Duration::from_secs(3));
    let from = runner.gateway.calls().len();
    let outcome = runner
        .perform(&ask("U1", "petstore prod 90 180 for 30m"))
        .await;
    assert!(
        matches!(outcome, Outcome::Change { result: Ok(_), .. }),
        "{outcome:?}"
    );
    // Each landed seconds after its time: written again, then given up on (and said); once
    // with the record before the write, once more after it (the write too came late).
    let calls = calls_since(&runner, from);
    let tail = &calls[calls.len() - 7..];
    assert_eq!(
        tail,
        ["tag", "tag", "tag", "write", "tag", "tag", "tag"],
        "{calls:?}"
    );
}
