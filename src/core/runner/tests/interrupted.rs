//! Steps that fail halfway: what a refused or interrupted call leaves, and how the next look
//! finishes it. The gateway refuses the calls a test names, as AWS refusing them would.

use super::timed::{deadline, expire, record, timed_runner, values};
use super::*;

impl FakeGateway {
    /// From now on, every `call` (`write`, `tag`, `untag`) fails.
    pub(super) fn fail(&self, call: &'static str) {
        self.failing.lock().unwrap().push(call);
    }

    pub(super) fn heal(&self) {
        self.failing.lock().unwrap().clear();
    }
}

#[tokio::test]
async fn keeping_a_timed_change_for_good_when_its_record_cannot_be_removed_changes_nothing_and_says_so()
 {
    let (runner, _) = timed_runner(None);
    runner.perform(&ask("U1", "petstore prod 100 200")).await;
    runner
        .perform(&ask("U1", "petstore prod 60 120 for 30m"))
        .await;
    let kept = record(&runner).expect("a record");
    runner.gateway.fail("untag");

    // The same values for good, and other values for good: both must end the record first.
    for text in ["petstore prod 60 120", "petstore prod 70 140"] {
        let outcome = runner.perform(&ask("U1", text)).await;
        let Outcome::Change { result, .. } = &outcome else {
            panic!("{outcome:?}")
        };
        let refused = result.as_ref().expect_err(text).to_string();
        assert!(
            refused.contains("record could not be removed")
                && refused.contains("nothing was changed"),
            "{text}: {refused}"
        );
        assert_eq!(record(&runner), Some(kept.clone()), "{text}");
        assert_eq!(
            runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
            values(60.0, 120),
            "{text}: the level still holds the timed change"
        );
    }

    runner.gateway.heal();
    let outcome = runner.perform(&ask("U1", "petstore prod 70 140")).await;
    assert!(applied(&outcome).changed);
    assert_eq!(record(&runner), None, "ended for good");
}

#[tokio::test]
async fn a_change_for_good_whose_write_fails_puts_the_timed_changes_record_back() {
    let (runner, _) = timed_runner(None);
    runner.perform(&ask("U1", "petstore prod 100 200")).await;
    runner
        .perform(&ask("U1", "petstore prod 60 120 for 30m"))
        .await;
    let kept = record(&runner).expect("a record");
    runner.gateway.fail("write");

    let outcome = runner.perform(&ask("U1", "petstore prod 70 140")).await;

    assert!(
        matches!(&outcome, Outcome::Change { result: Err(_), .. }),
        "{outcome:?}"
    );
    // Written again (a new stamp: the failed attempt dated the stage), the same change.
    let back = record(&runner).map(|back| Timed {
        at: kept.at,
        ..back
    });
    assert_eq!(back, Some(kept), "the timed change still ends by itself");
}

#[tokio::test]
async fn a_restore_interrupted_after_its_write_is_finished_by_the_next_look() {
    let (runner, _) = timed_runner(None);
    runner.perform(&ask("U1", "petstore prod 100 200")).await;
    runner
        .perform(&ask("U1", "petstore prod 60 120 for 30m"))
        .await;
    runner
        .perform(&ask("U2", "petstore prod 30 60 for 10m"))
        .await;
    expire(&runner);
    // The record cannot be rewritten (the process dies there, or TagResource fails).
    runner.gateway.fail("tag");

    let outcome = runner.perform(&deadline()).await;

    assert_eq!(outcome.label(), Label::Restored, "{outcome:?}");
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        values(60.0, 120),
        "the level is written first: the clamp ends on time"
    );
    let stale = record(&runner).expect("the old record is still there");
    assert_eq!(stale.set, values(30.0, 60));

    runner.gateway.heal();
    // Every step reads the level as it stands: the older timed change is on top (for `show`,
    // a new timed change, `extend`), and nothing is reported moved or written again.
    let api = ApiId::parse("a1b2c3d4e5").unwrap();
    let stage = crate::domain::StageName::parse("prod").unwrap();
    let view = runner.read_stage(&api, &stage).await.unwrap();
    let on_top = &view.timed[0];
    assert_eq!((on_top.set, on_top.by.as_str()), (values(60.0, 120), "U1"));
    assert_eq!(runner.perform(&deadline()).await.label(), Label::NotDue);
    // A new timed change over it stacks on the older one, not on the ended one.
    runner
        .perform(&ask("U3", "petstore prod 50 100 for 5m"))
        .await;
    let record = record(&runner).expect("the new record");
    assert_eq!(record.restore, values(100.0, 200), "{record:?}");
    assert_eq!(record.below.len(), 1, "{record:?}");
    assert_eq!(record.below[0].set, values(60.0, 120));
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        values(50.0, 100)
    );
}

#[tokio::test]
async fn a_sealed_record_put_back_long_after_its_end_is_alerted_and_never_acted_on() {
    let (runner, _) = timed_runner(None);
    runner.perform(&ask("U1", "petstore prod 0 0")).await;
    // "Unblock for 30m": its restore is 0/0.
    runner
        .perform(&ask("U1", "petstore prod 100 200 for 30m"))
        .await;
    let old = record(&runner).expect("a record");
    // Long after, someone who may tag the stage puts that validly sealed record back over a
    // stage that holds 100/200 again.
    let mut replayed = old.clone();
    replayed.until -= crate::domain::STALE_AFTER_SECS + 3_600;
    replayed.since -= crate::domain::STALE_AFTER_SECS + 3_600;
    super::timed::put_record(&runner, &replayed);

    let outcome = runner.perform(&deadline()).await;

    assert_ne!(outcome.label(), Label::Restored, "{outcome:?}");
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        values(100.0, 200),
        "nothing written in the record's author's name"
    );
    let alerts = runner.teller.notices.lock().unwrap().clone();
    assert!(
        alerts.contains(&"untrusted_record"),
        "a person is told: {alerts:?}"
    );
}

#[tokio::test]
async fn a_record_this_process_finished_and_someone_put_back_is_never_acted_on_again() {
    let (runner, _) = timed_runner(None);
    runner.perform(&ask("U1", "petstore prod 0 0")).await;
    runner
        .perform(&ask("U1", "petstore prod 100 200 for 30m"))
        .await;
    expire(&runner);
    let finished = record(&runner).expect("a record");
    assert_eq!(runner.perform(&deadline()).await.label(), Label::Restored);
    // Later, someone sets the same values for good; then someone who may tag the stage puts
    // the finished record back, within its day.
    runner.perform(&ask("U2", "petstore prod 100 200")).await;
    super::timed::put_record(&runner, &finished);

    let outcome = runner.perform(&deadline()).await;

    assert_ne!(outcome.label(), Label::Restored, "{outcome:?}");
    assert_eq!(
        runner.gateway.stage_wide("a1b2c3d4e5", "prod"),
        values(100.0, 200)
    );
}
