//! What the runner reads before it decides (`reads.rs`): where an API is looked for, who sees
//! other APIs' names, how much of a listing is read, and the traffic window and where its
//! numbers go.

use super::*;
use crate::core::clock::unix_now;
use crate::core::outcome::Failure;
use crate::core::ports::GatewayError;
use crate::domain::ApiView;
use crate::embedded::Budget;

/// The `(from, to)` of every traffic read, from the account's call log.
fn traffic_windows(runner: &Runner<FakeGateway, Told>) -> Vec<(i64, i64)> {
    runner
        .gateway
        .calls()
        .iter()
        .filter_map(|c| c.strip_prefix("read traffic "))
        .map(|window| {
            let (from, to) = window.split_once("..").unwrap();
            (from.parse().unwrap(), to.parse().unwrap())
        })
        .collect()
}

fn shown(outcome: Outcome) -> ApiView {
    match outcome {
        Outcome::Show {
            result: Ok(view), ..
        } => view,
        other => panic!("{other:?}"),
    }
}

/// The traffic a change is checked against, and the traffic `show` prints, are the last hour
/// up to now.
#[tokio::test]
async fn traffic_is_read_for_the_last_hour_up_to_now() {
    let runner = runner(with_busy_minute(petstore()), None);
    let before = unix_now();
    runner.perform(&ask("U1", "a1b2c3d4e5 prod 50 100")).await;
    runner.perform(&ask("U1", "show petstore prod")).await;
    let after = unix_now();
    let windows = traffic_windows(&runner);
    assert_eq!(windows.len(), 2, "{windows:?}");
    for (from, to) in windows {
        assert!((before..=after).contains(&to), "{from}..{to}");
        assert_eq!(to - from, TRAFFIC_WINDOW_SECS, "{from}..{to}");
    }
}

/// `show` puts each level's traffic under its own stage: a stage with a method override gets
/// the method's too, the other stage only its own.
#[tokio::test]
async fn show_puts_each_levels_traffic_under_its_own_stage() {
    let gateway = with_busy_minute(petstore()).with_stage("a1b2c3d4e5", "dev");
    let runner = runner(gateway, None);
    let set = runner
        .perform(&ask("U1", "a1b2c3d4e5 prod 150 300 GET /pets"))
        .await;
    assert_eq!(set.label(), Label::Applied, "{set:?}");

    let view = shown(runner.perform(&ask("U1", "show petstore")).await);

    let levels = |stage: &str| -> Vec<Level> {
        let found = view.stages.iter().find(|s| s.stage == stage).unwrap();
        found
            .traffic
            .iter()
            .map(|(level, _)| level.clone())
            .collect()
    };
    let pets = Level::method(
        crate::domain::HttpMethod::parse("GET").unwrap(),
        crate::domain::ResourcePath::parse("/pets").unwrap(),
    );
    assert_eq!(levels("prod"), [Level::Stage, pets]);
    assert_eq!(levels("dev"), [Level::Stage]);
    assert_eq!(view.traffic_unread, None);
}

/// `show <api>` reads every stage of it, as the account holds them.
#[tokio::test]
async fn show_of_an_api_reads_all_its_stages_with_their_values() {
    let runner = runner(petstore().with_stage("a1b2c3d4e5", "dev"), None);
    runner.perform(&ask("U1", "a1b2c3d4e5 prod 7 14")).await;
    let view = shown(runner.perform(&ask("U1", "show a1b2c3d4e5")).await);
    let stages: Vec<(&str, Configured)> = view
        .stages
        .iter()
        .map(|s| (s.stage.as_str(), s.stage_wide))
        .collect();
    let seven = Configured {
        rate: Some(7.0),
        burst: Some(14),
    };
    assert_eq!(stages, [("dev", Configured::default()), ("prod", seven)]);
}

/// An HTTP API shown by its id is said to be one (its kind is known once its stages are read).
#[tokio::test]
async fn an_http_api_shown_by_id_is_said_to_be_one() {
    let gateway = FakeGateway::default().with_http_api("h1b2c3d4e5", "orders", "prod");
    let runner = runner(gateway, None);
    let view = shown(runner.perform(&ask("U1", "show h1b2c3d4e5")).await);
    assert_eq!(view.api.kind, ApiKind::Http);
}

/// A target's listing reads the stages of its first 20 APIs (by name) and only lists the rest.
#[tokio::test]
async fn a_listing_reads_the_stages_of_its_first_twenty_apis_only() {
    // Ids in the opposite order to names: the one listed but not read is the last by name.
    let mut gateway = FakeGateway::default();
    for n in 0..=LISTED_WITH_STAGES {
        let id = format!("a{:09}", LISTED_WITH_STAGES - n);
        gateway = gateway.with_api(&id, &format!("api-{n:02}"), "prod");
    }
    let runner = runner(gateway, None);
    let listed = runner.perform(&ask("U1", "show home:")).await;
    let Outcome::Listed {
        result: Ok(listed), ..
    } = listed
    else {
        panic!("{listed:?}")
    };
    let with_stages: Vec<bool> = listed.apis.iter().map(|(_, s)| s.is_some()).collect();
    assert_eq!(with_stages.len(), LISTED_WITH_STAGES + 1);
    assert!(with_stages[..LISTED_WITH_STAGES].iter().all(|read| *read));
    assert!(
        !with_stages[LISTED_WITH_STAGES],
        "the 21st is listed, not read"
    );
    let (last, _) = &listed.apis[LISTED_WITH_STAGES];
    assert_eq!(
        (last.name.as_deref(), last.id.id()),
        (Some("api-20"), "a000000000")
    );
}

const READERS: &str = r#"
readers = ["U0READER"]

[[rule]]
name = "petstore prod"
users = ["U1", "U0READER"]
apis = ["petstore"]
stages = ["prod"]
"#;

/// A name that matches no API says which ones come close, to someone who may read API names;
/// to anyone else it says only that there is none.
#[tokio::test]
async fn only_readers_hear_which_api_names_come_close() {
    let runner = runner(petstore(), Some(READERS));
    let error = |outcome: Outcome| match outcome {
        Outcome::Change {
            result: Err(error), ..
        } => error,
        other => panic!("{other:?}"),
    };
    let reader = error(runner.perform(&ask("U0READER", "petstor prod 5 10")).await);
    assert_eq!(
        reader,
        Failure::Gateway(GatewayError::UnknownApiName {
            name: "petstor".to_owned(),
            suggestions: vec!["petstore".to_owned()],
        })
    );
    let other = error(runner.perform(&ask("U1", "petstor prod 5 10")).await);
    assert_eq!(
        other,
        Failure::Gateway(GatewayError::UnknownApiName {
            name: "petstor".to_owned(),
            suggestions: Vec::new(),
        })
    );
}

/// An id whose stage cannot be read for any reason but "not found" (here AWS throttling) is
/// not tried again as a name: the error is the read's, and nothing is listed.
#[tokio::test]
async fn only_a_stage_not_found_sends_an_id_to_be_tried_as_a_name() {
    let gateway = FakeGateway {
        budget: Some(Budget::api_gateway()),
        ..petstore()
    };
    assert!(gateway.busy_for(60));
    let runner = runner(gateway, None);
    let outcome = runner.perform(&ask("U1", "a1b2c3d4e5 prod 5 10")).await;
    let Outcome::Change {
        result: Err(error), ..
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(*error, Failure::Gateway(GatewayError::Throttled));
    let calls = runner.gateway.calls();
    assert!(!calls.iter().any(|c| c.starts_with("list")), "{calls:?}");
}

/// An API named like its own id, whose stage is missing: the stage is not found, read once
/// (the name leads back to the same API, so it is not read again).
#[tokio::test]
async fn a_name_that_leads_back_to_the_same_id_is_not_read_again() {
    let runner = runner(
        FakeGateway::default().with_api("a1b2c3d4e5", "a1b2c3d4e5", "prod"),
        None,
    );
    let outcome = runner.perform(&ask("U1", "a1b2c3d4e5 nope 5 10")).await;
    assert_eq!(outcome.label(), Label::NotFound, "{outcome:?}");
    let reads = runner
        .gateway
        .calls()
        .iter()
        .filter(|c| *c == "read a1b2c3d4e5/nope")
        .count();
    assert_eq!(reads, 1);
}
