//! Timed changes' records: durations, sealing, stacking, claims.

use super::*;

fn secs(raw: &str) -> Result<u64, HoldError> {
    Hold::parse(raw).map(Hold::secs)
}

fn values(rate: Option<f64>, burst: Option<i32>) -> Configured {
    Configured { rate, burst }
}

fn pets() -> Level {
    Level::method(
        HttpMethod::parse("GET").unwrap(),
        ResourcePath::parse("/pets/{id}").unwrap(),
    )
}

fn record(level: Level) -> Timed {
    Timed {
        level,
        restore: values(Some(100.0), Some(200)),
        set: values(Some(0.5), Some(1)),
        since: 1_000,
        until: 2_800,
        at: 1_000,
        by: "U0ALICE".to_owned(),
        channel: Some("C1".to_owned()),
        thread: Some("1700000000.000100".to_owned()),
        below: Vec::new(),
    }
}

#[test]
fn durations_combine_hours_minutes_and_seconds() {
    assert_eq!(secs("90s"), Ok(90));
    assert_eq!(secs("30m"), Ok(1800));
    assert_eq!(secs("2h"), Ok(7200));
    assert_eq!(secs("1h30m"), Ok(5400));
    assert_eq!(secs("1H2M3S"), Ok(3723));
    assert_eq!(secs("1s"), Ok(1));
    assert_eq!(secs(" 10m "), Ok(600));
    assert_eq!(secs("0s"), Err(HoldError::TooShort));
    assert_eq!(secs("0h0m"), Err(HoldError::TooShort));
    for bad in [
        "",
        "10",
        "m",
        "1d",
        "1m1h",
        "1m1m",
        "1.5h",
        "-1m",
        "1 h",
        "1h m",
        "9999999999s",
    ] {
        assert!(
            matches!(Hold::parse(bad), Err(HoldError::NotADuration(_))),
            "{bad}"
        );
    }
    assert!(matches!(
        Hold::parse("999999999h"),
        Err(HoldError::TooLong { .. })
    ));
}

#[test]
fn no_duration_is_longer_than_ten_years() {
    // Ten years of seconds keeps every deadline far inside an i64 of Unix seconds.
    assert_eq!(secs("87600h"), Ok(87_600 * 3600));
    let ceiling = 87_600 * 3600;
    assert_eq!(
        Hold::from_secs(ceiling + 1),
        Err(HoldError::TooLong {
            asked: Hold(ceiling + 1),
            max: Hold(ceiling)
        })
    );
    assert_eq!(
        Hold::from_secs(u64::MAX),
        Err(HoldError::TooLong {
            asked: Hold(ceiling + 1),
            max: Hold(ceiling)
        })
    );
}

#[test]
fn durations_print_in_their_shortest_form() {
    for (raw, shown) in [
        ("90s", "1m30s"),
        ("1h30m", "1h30m"),
        ("3600s", "1h"),
        ("1h1s", "1h1s"),
    ] {
        assert_eq!(Hold::parse(raw).unwrap().to_string(), shown);
    }
}

#[test]
fn a_hold_longer_than_the_maximum_is_refused() {
    let max = Hold::DEFAULT_MAX;
    assert_eq!(Hold::parse("24h").unwrap().at_most(max), Ok(max));
    let long = Hold::parse("24h1s").unwrap();
    assert_eq!(
        long.at_most(max),
        Err(HoldError::TooLong { asked: long, max })
    );
    assert_eq!(
        HoldError::TooLong { asked: long, max }.to_string(),
        "a timed change lasts at most 24h; `24h1s` is longer"
    );
}

fn seal() -> RecordSeal {
    RecordSeal::new([7; 32])
}

fn api() -> ApiId {
    ApiId::parse("a1b2c3d4e5").unwrap()
}

fn prod() -> StageName {
    StageName::parse("prod").unwrap()
}

fn here<'a>(api: &'a ApiId, stage: &'a StageName) -> Place<'a> {
    Place::Stage { api, stage }
}

fn open(key: &str, value: &str) -> Option<Result<Timed, Unsealed>> {
    Timed::<Level>::from_tag(key, value, Some(&seal()), here(&api(), &prod()))
}

fn sealed(record: &Timed) -> (String, String) {
    record.to_tag(&seal(), here(&api(), &prod())).unwrap()
}

#[test]
fn records_read_back_from_their_sealed_tag() {
    assert_eq!(
        Timed::tag_key(&Level::DefaultRoute).as_deref(),
        Some("throttle-bot:=24default")
    );
    for level in [Level::Stage, pets(), Level::DefaultRoute] {
        let mut record = record(level);
        record.by = "alarm:5xx high=\"x\"".to_owned();
        record.below = vec![Layer {
            set: values(Some(5.0), Some(10)),
            until: 9_000,
            by: "U1".to_owned(),
        }];
        let (key, value) = sealed(&record);
        assert!(key.starts_with(TAG_PREFIX));
        let allowed = |c: char| c.is_ascii_alphanumeric() || " _.:/=+-@".contains(c);
        assert!(key.chars().all(allowed), "{key}");
        assert!(value.chars().all(allowed), "{value}");
        assert_eq!(open(&key, &value), Some(Ok(record)));
    }
    let (key, _) = sealed(&record(pets()));
    assert_eq!(key, "throttle-bot:GET /pets/=7Bid=7D");
    let mut none = record(Level::Stage);
    none.restore = Configured::default();
    none.channel = None;
    none.thread = None;
    let (key, value) = sealed(&none);
    assert!(
        value.starts_with("set=0.5/1 restore=-/- since=1000 until=2800 at=1000 by=U0ALICE mac="),
        "{value}"
    );
    assert_eq!(open(&key, &value), Some(Ok(none)));
}

#[test]
fn a_record_not_sealed_here_is_never_opened() {
    let record = record(Level::Stage);
    let (key, value) = sealed(&record);
    let unsealed = |value: &str| {
        Some(Err(Unsealed {
            aside: None,
            key: key.clone(),
            value: value.to_owned(),
        }))
    };
    // Hand-written: the same fields without a MAC, or with one made up.
    let body = value.rsplit_once(" mac=").unwrap().0.to_owned();
    assert_eq!(open(&key, &body), unsealed(&body));
    let made_up = format!("{body} mac={}", "0".repeat(32));
    assert_eq!(open(&key, &made_up), unsealed(&made_up));
    // Edited: what comes back, or when.
    for (from, to) in [
        ("restore=100/200", "restore=0/0"),
        ("until=2800", "until=9"),
    ] {
        let edited = value.replace(from, to);
        assert_eq!(open(&key, &edited), unsealed(&edited));
    }
    // Copied to another level, stage or API, or sealed with another key.
    let (other_key, _) = sealed(&self::record(pets()));
    assert!(matches!(open(&other_key, &value), Some(Err(_))));
    let other_stage = StageName::parse("test").unwrap();
    assert!(matches!(
        Timed::<Level>::from_tag(&key, &value, Some(&seal()), here(&api(), &other_stage)),
        Some(Err(_))
    ));
    let other_api = ApiId::parse("z9z9z9z9z9").unwrap();
    assert!(matches!(
        Timed::<Level>::from_tag(&key, &value, Some(&seal()), here(&other_api, &prod())),
        Some(Err(_))
    ));
    assert!(matches!(
        Timed::<Level>::from_tag(
            &key,
            &value,
            Some(&RecordSeal::new([8; 32])),
            here(&api(), &prod())
        ),
        Some(Err(_))
    ));
    // Without a key nothing can be verified.
    assert!(matches!(
        Timed::<Level>::from_tag(&key, &value, None, here(&api(), &prod())),
        Some(Err(_))
    ));
    assert_eq!(format!("{:?}", seal()), "RecordSeal");
}

#[test]
fn sealed_records_still_name_only_chat_ids_and_timestamps() {
    for (field, bad) in [
        ("channel", "<!channel>"),
        ("channel", "c1"),
        ("thread", "12ab"),
        ("thread", "1."),
        ("by", "<@U1>"),
        ("by", "alarm:"),
    ] {
        let mut record = record(Level::Stage);
        match field {
            "channel" => record.channel = Some(bad.to_owned()),
            "thread" => record.thread = Some(bad.to_owned()),
            _ => record.by = bad.to_owned(),
        }
        let (key, value) = sealed(&record);
        assert!(matches!(open(&key, &value), Some(Err(_))), "{field}={bad}");
    }
    for by in ["U0ALICE", "schedule", "alarm:orders 5xx"] {
        let mut record = record(Level::Stage);
        record.by = by.to_owned();
        let (key, value) = sealed(&record);
        assert!(matches!(open(&key, &value), Some(Ok(_))), "{by}");
    }
}

#[test]
fn tags_that_are_not_records_are_ignored() {
    let (_, value) = sealed(&record(Level::Stage));
    assert_eq!(open("team", &value), None);
    let claim = Claim::new(&Level::Stage, "p".into(), 1).unwrap();
    let (key, value) = claim.to_tag(&seal(), here(&api(), &prod()));
    assert_eq!(open(&key, &value), None);
    assert!(matches!(open("throttle-bot:nope", &value), Some(Err(_))));
}

#[test]
fn a_level_too_long_for_a_tag_key_has_no_record() {
    let long = Level::method(
        HttpMethod::parse("GET").unwrap(),
        ResourcePath::parse(&format!("/{}", "a".repeat(120))).unwrap(),
    );
    assert_eq!(Timed::tag_key(&long), None);
    assert_eq!(record(long).to_tag(&seal(), here(&api(), &prod())), None);
    let mut wordy = record(Level::Stage);
    wordy.by = "x".repeat(300);
    assert_eq!(wordy.to_tag(&seal(), here(&api(), &prod())), None);
}

#[test]
fn claims_are_sealed_fit_every_record_and_are_never_taken_for_records() {
    let longest = Level::method(
        HttpMethod::parse("OPTIONS").unwrap(),
        ResourcePath::parse(&format!("/{}", "a".repeat(100))).unwrap(),
    );
    assert!(Timed::tag_key(&longest).is_some());
    for level in [Level::Stage, pets(), longest.clone()] {
        let claim = Claim::new(&level, "host-1 7f3a".to_owned(), 1_000).unwrap();
        let (key, value) = claim.to_tag(&seal(), here(&api(), &prod()));
        assert!(key.starts_with("throttle-bot:claim:"), "{key}");
        assert!(key.len() <= 128, "{key}");
        let read = Claim::from_tag(&key, &value, Some(&seal()), here(&api(), &prod()));
        assert_eq!(read, Some(claim));
        assert_eq!(open(&key, &value), None);
        let forged = value.replace("at=1000", "at=99999999999");
        assert_eq!(
            Claim::from_tag(&key, &forged, Some(&seal()), here(&api(), &prod())),
            None
        );
        // One spelling: the MAC as written, not the same bytes in upper case.
        let (body, mac) = value.rsplit_once(" mac=").unwrap();
        let respelled = format!("{body} mac={}", mac.to_ascii_uppercase());
        assert_eq!(
            Claim::from_tag(&key, &respelled, Some(&seal()), here(&api(), &prod())),
            None
        );
        let (record_key, record_value) = sealed(&record(Level::Stage));
        assert_eq!(
            Claim::from_tag(
                &record_key,
                &record_value,
                Some(&seal()),
                here(&api(), &prod())
            ),
            None
        );
    }
    assert_ne!(
        Claim::tag_key(&longest),
        Claim::tag_key(&Level::method(
            HttpMethod::parse("OPTIONS").unwrap(),
            ResourcePath::parse(&format!("/{}b", "a".repeat(99))).unwrap(),
        ))
    );
    // A claim's key names its level as the record's does while it fits a tag (128), and only
    // then a digest: people reading the stage's tags see which level is being restored.
    assert_eq!(
        Claim::tag_key(&Level::Stage).as_deref(),
        Some("throttle-bot:claim:stage")
    );
    assert_eq!(
        Claim::tag_key(&longest).map(|k| k.len()),
        Some(128),
        "the longest key that still fits is kept whole"
    );
    let past_fitting = Level::method(
        HttpMethod::parse("OPTIONS").unwrap(),
        ResourcePath::parse(&format!("/{}", "a".repeat(105))).unwrap(),
    );
    assert!(Timed::tag_key(&past_fitting).is_some());
    let digested = Claim::tag_key(&past_fitting).unwrap();
    assert!(
        digested.starts_with("throttle-bot:claim:sha256:") && digested.len() <= 128,
        "{digested}"
    );
    let claim = Claim::new(&Level::Stage, "a".to_owned(), 1_000).unwrap();
    assert!(claim.is_fresh(1_059));
    assert!(!claim.is_fresh(1_060));
}

#[test]
fn the_deadline_restores_only_what_it_set() {
    let record = record(Level::Stage);
    assert_eq!(
        record.check(record.set, 2_800),
        Due::Restore {
            action: record.restore.as_action(),
            next: None
        }
    );
    assert!(
        matches!(record.check(record.set, 2_800), Due::Restore { action: Action::Set(l), .. } if l.burst.value() == 200)
    );
    assert_eq!(
        record.check(record.restore, 2_800),
        Due::AlreadyBack { next: None }
    );
    let found = values(Some(7.0), Some(1));
    assert_eq!(record.check(found, 2_800), Due::Moved { found });
    let mut unset = record.clone();
    unset.restore = Configured::default();
    assert_eq!(
        unset.check(unset.set, 2_800),
        Due::Restore {
            action: Action::Reset,
            next: None
        }
    );
    assert!(!record.is_due(2_799));
    assert!(record.is_due(2_800));
}

fn two_hour_clamp() -> Timed {
    Timed::start(
        Level::Stage,
        values(Some(500.0), Some(1000)),
        values(Some(50.0), Some(100)),
        None,
        (0, Hold::parse("2h").unwrap()),
        "UFIRST".into(),
        Some("C1".into()),
    )
}

#[test]
fn a_timed_change_on_top_of_another_brings_that_one_back_when_it_ends() {
    let first = two_hour_clamp();
    let tighter = values(Some(5.0), Some(10));
    let on_top = Timed::start(
        Level::Stage,
        first.set,
        tighter,
        Some(&first),
        (600, Hold::parse("1m").unwrap()),
        "USECOND".into(),
        None,
    );
    assert_eq!((on_top.set, on_top.until), (tighter, 660));
    assert_eq!(on_top.restore, first.restore);
    assert_eq!(
        on_top.steps(),
        vec![(660, first.set), (7_200, first.restore)]
    );
    // A minute later the two-hour clamp comes back, not the values from before it.
    assert_eq!(
        on_top.check(tighter, 660),
        Due::Restore {
            action: first.set.as_action(),
            next: Some(Box::new(Timed {
                since: on_top.since,
                at: on_top.at,
                by: "UFIRST".into(),
                channel: None,
                thread: None,
                ..first.clone()
            }))
        }
    );
    assert_eq!(on_top.comes_back(660), first.set);
    // Had the first one ended by then, the values from before the first come back.
    assert_eq!(on_top.comes_back(7_200), first.restore);
    assert_eq!(
        on_top.check(tighter, 7_200),
        Due::Restore {
            action: first.restore.as_action(),
            next: None
        }
    );
    // Already back to the first one's values: only the record changes.
    assert!(matches!(
        on_top.check(first.set, 660),
        Due::AlreadyBack { next: Some(_) }
    ));
}

#[test]
fn an_older_timed_change_that_ends_first_never_comes_back() {
    let first = two_hour_clamp();
    let longer = Timed::start(
        Level::Stage,
        first.set,
        values(Some(1.0), Some(1)),
        Some(&first),
        (600, Hold::parse("3h").unwrap()),
        "USECOND".into(),
        None,
    );
    assert!(longer.below.is_empty());
    assert_eq!(longer.restore, first.restore);
    // One that ends the same second as the new one is over by then too.
    let as_long = Timed::start(
        Level::Stage,
        first.set,
        values(Some(1.0), Some(1)),
        Some(&first),
        (600, Hold::from_secs(7_200 - 600).unwrap()),
        "USECOND".into(),
        None,
    );
    assert!(as_long.below.is_empty(), "{as_long:?}");
    // Someone changed the level since the first: what is there now is what comes back.
    let moved = values(Some(9.0), Some(9));
    let after_move = Timed::start(
        Level::Stage,
        moved,
        values(Some(1.0), Some(1)),
        Some(&first),
        (600, Hold::parse("1m").unwrap()),
        "U1".into(),
        None,
    );
    assert_eq!((after_move.restore, after_move.below.len()), (moved, 0));
}

#[test]
fn the_same_values_again_for_a_while_only_move_the_deadline() {
    let first = two_hour_clamp();
    let again = Timed::start(
        Level::Stage,
        first.set,
        first.set,
        Some(&first),
        (600, Hold::parse("30m").unwrap()),
        "USECOND".into(),
        None,
    );
    assert_eq!(again.until, 2_400);
    assert_eq!((again.restore, again.below.len()), (first.restore, 0));
}

#[test]
fn extending_adds_to_the_deadline_within_the_maximum() {
    let record = record(Level::Stage);
    let max = Hold::parse("1h").unwrap();
    let ten = Hold::parse("10m").unwrap();
    assert_eq!(record.extended(ten, 2_000, max).unwrap().until, 3_400);
    // Past its deadline, it ends that long from now.
    assert_eq!(record.extended(ten, 5_000, max).unwrap().until, 5_600);
    assert!(matches!(
        record.extended(Hold::parse("1h").unwrap(), 2_000, max),
        Err(HoldError::TooLong { .. })
    ));
    assert!(
        record
            .extended(Hold::parse("40m").unwrap(), 2_000, max)
            .is_ok()
    );
}

#[test]
fn values_come_back_as_the_action_that_sets_them() {
    assert!(matches!(
        values(Some(1.5), Some(3)).as_action(),
        Action::Set(l) if l.rate.value() == 1.5 && l.burst.value() == 3
    ));
    assert_eq!(values(None, None).as_action(), Action::Reset);
    assert_eq!(values(Some(1.0), None).as_action(), Action::Reset);
    assert_eq!(values(None, Some(1)).as_action(), Action::Reset);
    assert_eq!(values(Some(-1.0), Some(1)).as_action(), Action::Reset);
}

/// A clamp (0.5/1, ends 2,800) over an older timed change (50/100, ends 4,000) over 100/200.
fn stacked() -> Timed {
    let mut top = record(Level::Stage);
    top.below = vec![Layer {
        set: values(Some(50.0), Some(100)),
        until: 4_000,
        by: "U0BOB".to_owned(),
    }];
    top
}

#[test]
fn an_interrupted_restore_that_wrote_a_layers_values_is_finished_from_that_layer() {
    let top = stacked();
    let layer = values(Some(50.0), Some(100));
    // The restore wrote the layer's values, then stopped before the record changed.
    match top.check(layer, 3_000) {
        Due::AlreadyBack { next: Some(next) } => {
            assert_eq!(
                (next.set, next.until, next.by.as_str()),
                (layer, 4_000, "U0BOB")
            );
            assert!(next.below.is_empty());
        }
        other => panic!("{other:?}"),
    }
    // Found only after the layer's own end: it ends too, and what was before comes back.
    assert_eq!(
        top.check(layer, 5_000),
        Due::Restore {
            action: values(Some(100.0), Some(200)).as_action(),
            next: None
        }
    );
    // Anything else is still someone else's change.
    let other = values(Some(7.0), Some(7));
    assert_eq!(top.check(other, 5_000), Due::Moved { found: other });
}

#[test]
fn a_record_is_acted_on_for_a_day_after_its_end_and_set_aside_after_26_hours() {
    let (api, stage) = (api(), prod());
    let at = |until: i64| {
        let mut record = record(Level::Stage);
        record.until = until;
        record
    };
    let now = 1_800_000_000;
    for (until, stale) in [
        (now - 25 * 3600, false),
        (now - 26 * 3600, false),
        (now - 26 * 3600 - 1, true),
        (now + 60, false),
    ] {
        let record = at(until);
        let tags = vec![record.to_tag(&seal(), here(&api, &stage)).unwrap()];
        let (mut timed, mut unsealed) = (vec![record], Vec::new());
        set_aside_stale(&mut timed, &tags, &mut unsealed, now);
        assert_eq!(timed.is_empty(), stale, "{until}");
        assert_eq!(
            unsealed.first().and_then(|u| u.aside),
            stale.then_some(Aside::Ended(until)),
            "{until}"
        );
    }
}

#[test]
fn a_record_counts_only_for_the_stage_it_was_written_for() {
    let mut record = record(Level::Stage);
    record.at = 5_000;
    // Nothing dated (a usage plan): nothing can be told.
    assert!(record.written_for(None));
    // The stage's own write just after the record's, within the slack.
    assert!(record.written_for(Some(4_000)));
    assert!(record.written_for(Some(5_000 + STAMP_SLACK_SECS)));
    // Anything later: a deployment, another tool's change, the record put back after its end.
    assert!(!record.written_for(Some(5_000 + STAMP_SLACK_SECS + 1)));
    // Written again after that update, it counts again.
    assert!(record.stamped(6_000).written_for(Some(5_011)));
    assert_eq!(record.stamped(6_000).at, 6_000);
    assert_eq!(record.stamped(6_000).until, record.until);
}

#[test]
fn the_stamp_is_sealed_and_a_record_without_one_was_written_when_set() {
    let mut record = record(Level::Stage);
    record.at = 1_234;
    let (key, value) = sealed(&record);
    assert!(value.contains(" at=1234 "), "{value}");
    assert_eq!(open(&key, &value), Some(Ok(record.clone())));
    // Moving the stamp forward breaks the seal: a put-back record cannot be made fresh.
    let forged = value.replace(" at=1234 ", " at=9999 ");
    assert!(matches!(open(&key, &forged), Some(Err(_))));
    // A record from an earlier release (no stamp) counts from when its change was set.
    let body = value
        .rsplit_once(" mac=")
        .unwrap()
        .0
        .replace(" at=1234", "");
    let legacy = Timed::<Level>::parse(&key, &body).unwrap();
    assert_eq!(legacy.at, record.since);
}

#[test]
fn records_written_before_the_stages_last_update_are_set_aside_with_both_times() {
    let (api, stage) = (
        ApiId::parse("a1b2c3d4e5").unwrap(),
        StageName::parse("prod").unwrap(),
    );
    let mut fresh = record(Level::Stage);
    fresh.at = 2_000;
    let mut old = record(pets());
    old.at = 1_000;
    let tags = vec![
        fresh.to_tag(&seal(), here(&api, &stage)).unwrap(),
        old.to_tag(&seal(), here(&api, &stage)).unwrap(),
    ];
    let (mut timed, mut unsealed) = (vec![fresh.clone(), old.clone()], Vec::new());
    set_aside_outdated(&mut timed, &tags, &mut unsealed, Some(2_005));
    assert_eq!(timed, vec![fresh.clone()]);
    assert_eq!(unsealed.len(), 1);
    assert_eq!(unsealed[0].key, tags[1].0);
    assert_eq!(
        unsealed[0].aside,
        Some(Aside::Outdated {
            written: 1_000,
            updated: 2_005
        })
    );
    // Undated (a usage plan), nothing is set aside.
    let (mut timed, mut unsealed) = (vec![fresh, old], Vec::new());
    set_aside_outdated(&mut timed, &tags, &mut unsealed, None);
    assert_eq!((timed.len(), unsealed.len()), (2, 0));
}

#[test]
fn every_copy_of_a_record_is_the_same_without_its_time() {
    let mut record = record(Level::Stage);
    record.at = 1_000;
    let (_, first) = sealed(&record);
    let (_, again) = sealed(&record.stamped(2_000));
    assert_ne!(first, again);
    assert_eq!(unstamped(&first), unstamped(&again));
    assert!(!unstamped(&first).contains("mac="), "{first}");
    assert!(unstamped(&first).contains("until=2800"), "{first}");
    // Another deadline is another record.
    let mut later = record.clone();
    later.until += 60;
    assert_ne!(unstamped(&sealed(&later).1), unstamped(&first));
}
