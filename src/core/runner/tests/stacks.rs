//! Timed changes stacked at one level: what a change for good or an Undo does to each layer.

use super::timed::{record, timed_runner, values};
use super::*;

#[tokio::test]
async fn back_to_the_values_of_the_timed_change_underneath_keeps_that_one_timed() {
    let (runner, _) = timed_runner(None);
    runner.perform(&ask("U1", "petstore prod 100 200")).await;
    runner
        .perform(&ask("U2", "petstore prod 60 120 for 2h"))
        .await;
    runner
        .perform(&ask("U1", "petstore prod 30 60 for 10m"))
        .await;
    let under = record(&runner).unwrap().below[0].clone();

    // Undo of the newest (or its values typed): the one under it stays in force, and still ends.
    let outcome = runner.perform(&ask("U1", "petstore prod 60 120")).await;

    let applied = applied(&outcome);
    assert_eq!(applied.until, Some(under.until), "{applied:?}");
    assert!(applied.replaces_timed.is_none());
    let record = record(&runner).expect("the older timed change keeps its record");
    assert_eq!(
        (record.set, record.until, record.by.as_str(), record.restore),
        (values(60.0, 120), under.until, "U2", values(100.0, 200))
    );
}

#[tokio::test]
async fn a_change_for_good_over_a_stack_names_every_timed_change_it_ends() {
    let (runner, _) = timed_runner(None);
    runner.perform(&ask("U1", "petstore prod 100 200")).await;
    runner
        .perform(&ask("U2", "petstore prod 60 120 for 2h"))
        .await;
    runner
        .perform(&ask("U1", "petstore prod 30 60 for 10m"))
        .await;
    let before = record(&runner).unwrap();

    let outcome = runner.perform(&ask("U1", "petstore prod 70 140")).await;

    let applied = applied(&outcome);
    assert_eq!(applied.replaces_timed, Some(before.until));
    assert_eq!(
        applied.replaces_below,
        vec![(before.below[0].until, "U2".to_owned())]
    );
    assert_eq!(record(&runner), None);
}
