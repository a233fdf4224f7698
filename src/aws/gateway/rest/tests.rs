use super::*;
use crate::domain::{BurstLimit, RateLimit};

fn set(rate: f64, burst: i64) -> Action {
    Action::Set(ThrottleLimits {
        rate: RateLimit::new(rate).unwrap(),
        burst: BurstLimit::new(burst).unwrap(),
    })
}

fn paths(patch: &[Patch]) -> Vec<(String, String, Option<String>)> {
    patch
        .iter()
        .map(|p| (p.op.as_str().to_owned(), p.path.clone(), p.value.clone()))
        .collect()
}

/// A stage-wide entry with caching, detailed metrics and INFO execution logs on.
fn busy_stage() -> MethodSetting {
    MethodSetting::builder()
        .metrics_enabled(true)
        .logging_level("INFO")
        .data_trace_enabled(true)
        .caching_enabled(true)
        .cache_ttl_in_seconds(60)
        .cache_data_encrypted(true)
        .require_authorization_for_cache_control(true)
        .unauthorized_cache_control_header_strategy(
            UnauthorizedCacheControlHeaderStrategy::FailWith403,
        )
        .throttling_rate_limit(100.0)
        .throttling_burst_limit(200)
        .build()
}

/// `stage`'s settings as a new entry copied from it would hold them, throttled.
fn copied(stage: &MethodSetting, rate: f64, burst: i32) -> MethodSetting {
    let mut entry = stage.clone();
    entry.throttling_rate_limit = rate;
    entry.throttling_burst_limit = burst;
    entry
}

#[test]
fn a_methods_first_throttle_copies_the_stages_caching_logging_and_metrics_in_the_same_call() {
    let stage = busy_stage();
    let patch = method_patch("~1pets/GET", None, Some(&stage), &set(5.0, 10));
    let written = paths(&patch);
    for (field, value) in [
        ("metrics/enabled", "true"),
        ("logging/loglevel", "INFO"),
        ("logging/dataTrace", "true"),
        ("caching/enabled", "true"),
        ("caching/ttlInSeconds", "60"),
        ("caching/dataEncrypted", "true"),
        ("caching/requireAuthorizationForCacheControl", "true"),
        (
            "caching/unauthorizedCacheControlHeaderStrategy",
            "FAIL_WITH_403",
        ),
        ("throttling/rateLimit", "5"),
        ("throttling/burstLimit", "10"),
    ] {
        let wanted = (
            "replace".to_owned(),
            format!("/~1pets/GET/{field}"),
            Some(value.to_owned()),
        );
        assert!(written.contains(&wanted), "{wanted:?} in {written:?}");
    }
    assert_eq!(written.len(), 10, "nothing else is written: {written:?}");
    let throttle_last = &written[8..];
    assert!(throttle_last[0].1.ends_with("throttling/rateLimit"));
}

#[test]
fn a_method_with_an_entry_or_a_stage_without_one_gets_only_its_throttling() {
    let stage = busy_stage();
    let entry = copied(&stage, 5.0, 10);
    let expected = vec![
        (
            "replace".to_owned(),
            "/~1pets/GET/throttling/rateLimit".to_owned(),
            Some("2.5".to_owned()),
        ),
        (
            "replace".to_owned(),
            "/~1pets/GET/throttling/burstLimit".to_owned(),
            Some("3".to_owned()),
        ),
    ];
    let patch = method_patch("~1pets/GET", Some(&entry), Some(&stage), &set(2.5, 3));
    assert_eq!(paths(&patch), expected);
    // No stage-wide entry: AWS's defaults are what the stage has, nothing to copy.
    let patch = method_patch("~1pets/GET", None, None, &set(2.5, 3));
    assert_eq!(paths(&patch), expected);
}

#[test]
fn a_reset_removes_an_entry_that_holds_only_what_the_stage_gives_it() {
    let stage = busy_stage();
    let ours = copied(&stage, 5.0, 10);
    let patch = method_patch("~1pets/GET", Some(&ours), Some(&stage), &Action::Reset);
    assert_eq!(
        paths(&patch),
        vec![("remove".to_owned(), "/~1pets/GET".to_owned(), None)]
    );
    // Without a stage-wide entry, an entry AWS made with its defaults is removed too.
    let fresh = copied(&fresh_entry(), 5.0, 10);
    let patch = method_patch("~1pets/GET", Some(&fresh), None, &Action::Reset);
    assert_eq!(
        paths(&patch),
        vec![("remove".to_owned(), "/~1pets/GET".to_owned(), None)]
    );
    // A sparse answer (no log level, no strategy) is AWS's defaults.
    let sparse = MethodSetting::builder()
        .cache_ttl_in_seconds(300)
        .require_authorization_for_cache_control(true)
        .throttling_rate_limit(5.0)
        .throttling_burst_limit(10)
        .build();
    let patch = method_patch("~1pets/GET", Some(&sparse), None, &Action::Reset);
    assert_eq!(paths(&patch)[0].0, "remove");
}

#[test]
fn a_reset_keeps_an_entry_someone_gave_settings_of_its_own_and_unsets_its_throttling() {
    let stage = busy_stage();
    let mut own = copied(&stage, 5.0, 10);
    own.caching_enabled = false;
    let patch = method_patch("~1pets/GET", Some(&own), Some(&stage), &Action::Reset);
    assert_eq!(
        paths(&patch),
        vec![
            (
                "replace".to_owned(),
                "/~1pets/GET/throttling/rateLimit".to_owned(),
                Some("-1".to_owned())
            ),
            (
                "replace".to_owned(),
                "/~1pets/GET/throttling/burstLimit".to_owned(),
                Some("-1".to_owned())
            ),
        ]
    );
}

#[test]
fn a_reset_of_a_method_without_an_entry_writes_nothing() {
    assert!(method_patch("~1pets/GET", None, Some(&busy_stage()), &Action::Reset).is_empty());
}

#[test]
fn the_stage_wide_level_replaces_its_two_throttling_paths_only() {
    assert_eq!(
        paths(&stage_patch(&Action::Reset)),
        vec![
            (
                "replace".to_owned(),
                "/*/*/throttling/rateLimit".to_owned(),
                Some("-1".to_owned())
            ),
            (
                "replace".to_owned(),
                "/*/*/throttling/burstLimit".to_owned(),
                Some("-1".to_owned())
            ),
        ]
    );
    assert_eq!(stage_patch(&set(1.0, 2)).len(), 2);
}

#[test]
fn an_entry_whose_throttling_is_unset_is_not_shown_as_a_throttle() {
    let leftover = MethodSetting::builder()
        .caching_enabled(true)
        .throttling_rate_limit(-1.0)
        .throttling_burst_limit(-1)
        .build();
    let kept = copied(&busy_stage(), 5.0, 10);
    let settings = StageSettings {
        name: "prod".to_owned(),
        settings: vec![
            ("~1pets/GET".to_owned(), leftover),
            ("~1pets/POST".to_owned(), kept),
        ],
        tags: HashMap::new(),
        updated: None,
    };
    let view = settings.view();
    assert_eq!(view.methods.len(), 1, "{:?}", view.methods);
    assert_eq!(view.methods[0].0.to_string(), "POST /pets");
}

#[test]
fn removing_an_entry_that_is_gone_is_told_apart_from_other_refusals() {
    assert!(is_already_absent(Some(
        "Cannot remove method setting ~1pets/GET because there is no method setting for this method"
    )));
    assert!(!is_already_absent(Some(
        "Invalid stage identifier specified"
    )));
    assert!(!is_already_absent(None));
}

#[test]
fn stage_wide_caching_is_copied_to_a_get_only_and_compared_as_such() {
    // AWS caches only GET methods when caching is on stage-wide: a POST's first throttle must
    // not start serving its responses from the cache.
    let stage = busy_stage();
    let patch = paths(&method_patch(
        "~1orders/POST",
        None,
        Some(&stage),
        &set(5.0, 10),
    ));
    assert!(
        patch.contains(&(
            "replace".to_owned(),
            "/~1orders/POST/caching/enabled".to_owned(),
            Some("false".to_owned())
        )),
        "{patch:?}"
    );
    assert!(
        patch
            .iter()
            .any(|p| p.1 == "/~1orders/POST/logging/loglevel")
    );
    let mut ours = copied(&stage, 5.0, 10);
    ours.caching_enabled = false;
    let reset = paths(&method_patch(
        "~1orders/POST",
        Some(&ours),
        Some(&stage),
        &Action::Reset,
    ));
    assert_eq!(
        reset,
        vec![("remove".to_owned(), "/~1orders/POST".to_owned(), None)]
    );
}

#[test]
fn a_stage_wide_reset_removes_an_entry_the_stage_had_only_for_its_throttle() {
    let ours = copied(&fresh_entry(), 5.0, 10);
    assert_eq!(
        paths(&method_patch(STAGE_KEY, Some(&ours), None, &Action::Reset)),
        vec![("remove".to_owned(), "/*/*".to_owned(), None)]
    );
    // The stage's own caching and logging live in that entry: kept, throttling unset.
    let busy = busy_stage();
    let reset = paths(&method_patch(STAGE_KEY, Some(&busy), None, &Action::Reset));
    assert_eq!(reset.len(), 2);
    assert!(
        reset.iter().all(|p| p.2.as_deref() == Some("-1")),
        "{reset:?}"
    );
    assert!(method_patch(STAGE_KEY, None, None, &Action::Reset).is_empty());
}
