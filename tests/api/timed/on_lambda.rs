//! On Lambda: the deadline is a one-time EventBridge Scheduler schedule (moto keeps it but
//! never fires it, so the test invokes the function with the schedule's input itself).

use serde_json::Value;

use super::*;
use crate::lambda::function_url_event;
use crate::runtime_api::LambdaHarness;

const ROLE: &str = "arn:aws:iam::123456789012:role/throttle-bot-scheduler";
/// The function's ARN as the Runtime API stand-in reports it.
const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:throttle-bot";

async fn lambda_with_scheduler(group: &str) -> LambdaHarness {
    lambda_with_scheduler_and(group, "0").await
}

/// With impact reports `impact_after` after a change (`0`: none, so that a test sees only
/// the schedules of timed changes).
async fn lambda_with_scheduler_and(group: &str, impact_after: &str) -> LambdaHarness {
    LambdaHarness::start(
        Options {
            extra_env: vec![
                ("SCHEDULER_ROLE_ARN", ROLE.to_owned()),
                ("SCHEDULER_GROUP", group.to_owned()),
                ("IMPACT_AFTER", impact_after.to_owned()),
            ],
            ..Options::default()
        },
        &[],
    )
    .await
}

/// A fresh claim on the stage-wide restore, sealed as another invocation's would be.
fn another_invocations_claim(api: &str) -> (String, String) {
    use throttle_bot::domain::{ApiId, Claim, Level, Place, StageName};
    use throttle_bot::slack::signature::SigningSecret;
    let seal = throttle_bot::jobs::record_seal(&SigningSecret::new(SIGNING_SECRET).unwrap());
    let claim = Claim::new(&Level::Stage, "another-invocation".to_owned(), now()).unwrap();
    let (api, stage) = (
        ApiId::parse(api).unwrap(),
        StageName::parse("prod").unwrap(),
    );
    claim.to_tag(
        &seal,
        Place::Stage {
            api: &api,
            stage: &stage,
        },
    )
}

/// A schedule group of the test's own (every test shares one moto).
async fn schedule_group() -> (String, aws_sdk_scheduler::Client) {
    let group = unique("throttle-bot");
    let schedules = scheduler().await;
    schedules
        .create_schedule_group()
        .name(&group)
        .send()
        .await
        .expect("create a schedule group");
    (group, schedules)
}

#[tokio::test]
async fn a_timed_change_schedules_its_restore_and_the_schedule_restores_it() {
    let (group, schedules) = schedule_group().await;
    let lambda = lambda_with_scheduler(&group).await;
    let api = create_api(&unique("timed"), "prod").await;
    let reply_to = lambda.slack.url("/reply");
    lambda
        .invoke(function_url_event(&format!("{api} prod 10 20"), &reply_to))
        .await
        .unwrap();
    let asked = now();
    lambda
        .invoke(function_url_event(
            &format!("{api} prod 8 16 for 2s"),
            &reply_to,
        ))
        .await
        .unwrap();
    let answered = now();
    let replies = lambda.slack.wait_for("/reply", 2).await;
    assert!(
        shown(&replies[1]).contains("<!date^"),
        "{}",
        shown(&replies[1])
    );
    let until = record_field(&stage_tags(&api, "prod").await, "until");

    let listed = schedules
        .list_schedules()
        .group_name(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.schedules().len(), 1, "one schedule for one deadline");
    let name = listed.schedules()[0].name().unwrap();
    let schedule = schedules
        .get_schedule()
        .group_name(&group)
        .name(name)
        .send()
        .await
        .unwrap();
    // EventBridge Scheduler fires a one-time schedule within the minute of its time
    // ("Schedule types", EventBridge Scheduler user guide): it is set for a whole minute that
    // ends by the deadline, and the function waits for the deadline itself; never for a minute
    // already begun (a 2 s change: the next minute).
    let expression = |at: i64| {
        let at = aws_sdk_scheduler::primitives::DateTime::from_secs(at)
            .fmt(aws_sdk_scheduler::primitives::DateTimeFormat::DateTime)
            .unwrap();
        format!("at({})", at.trim_end_matches('Z'))
    };
    let next_minute = |t: i64| (t.div_euclid(60) + 1) * 60;
    let expressions = [
        expression(next_minute(asked)),
        expression(next_minute(answered)),
    ];
    assert!(
        expressions
            .iter()
            .any(|e| Some(e.as_str()) == schedule.schedule_expression()),
        "{:?} not in {expressions:?}",
        schedule.schedule_expression()
    );
    assert_eq!(
        schedule.action_after_completion().map(|a| a.as_str()),
        Some("DELETE")
    );
    assert_eq!(
        schedule.flexible_time_window().map(|w| w.mode().as_str()),
        Some("OFF")
    );
    let target = schedule.target().unwrap();
    assert_eq!((target.arn(), target.role_arn()), (FUNCTION, ROLE));
    let input: Value = serde_json::from_str(target.input().unwrap()).unwrap();
    let body = &input["throttle_bot_restore"]["body"];
    assert_eq!(
        (body["api"].as_str(), body["at"].as_i64()),
        (Some(api.as_str()), Some(until))
    );
    assert!(
        input["throttle_bot_restore"]["mac"].is_string(),
        "signed: {input}"
    );
    assert_eq!(body["function"], FUNCTION, "bound to this function");
    let retries = target.retry_policy().expect("a retry policy");
    assert_eq!(retries.maximum_event_age_in_seconds(), Some(86_400));

    // Another invocation holds the claim: an error, so the scheduler retries it later.
    let (claim_key, claim_value) = another_invocations_claim(&api);
    aws()
        .await
        .tag_resource()
        .resource_arn(format!(
            "arn:aws:apigateway:us-east-1::/restapis/{api}/stages/prod"
        ))
        .tags(&claim_key, claim_value)
        .send()
        .await
        .unwrap();
    let held = lambda.invoke(input.clone()).await.unwrap_err();
    assert!(held.to_string().contains("another invocation"), "{held}");
    assert_eq!(stage_limits(&api, "prod").await, Some((8.0, 16)));
    aws()
        .await
        .untag_resource()
        .resource_arn(format!(
            "arn:aws:apigateway:us-east-1::/restapis/{api}/stages/prod"
        ))
        .tag_keys(&claim_key)
        .send()
        .await
        .unwrap();

    // A changed event is refused: only this function could have made it.
    let mut forged = input.clone();
    forged["throttle_bot_restore"]["body"]["stage"] = "other".into();
    let refused = lambda.invoke(forged).await.unwrap_err();
    assert!(refused.to_string().contains("refused"), "{refused}");

    // Fired before the deadline (as the schedule is), the function waits for it and restores.
    let answer = lambda.invoke(input.clone()).await.unwrap();
    assert_eq!(answer["body"], "restored", "{answer}");
    assert!(now() >= until, "not before the deadline");
    assert_eq!(stage_limits(&api, "prod").await, Some((10.0, 20)));
    assert!(ours(&stage_tags(&api, "prod").await).is_empty());
    let notices = lambda.slack.posts_to("/webhook");
    assert!(
        notices.iter().any(|n| shown(n).contains("ended")),
        "{notices:?}"
    );
    // Delivered twice (Scheduler is at-least-once): the second finds nothing to do.
    let again = lambda.invoke(input).await.unwrap();
    assert_eq!(again["body"], "nothing_pending", "{again}");
}

#[tokio::test]
async fn an_alarm_clamps_for_alarm_duration_and_schedules_the_recovery() {
    let (group, schedules) = schedule_group().await;
    let api = create_api(&unique("alarm"), "prod").await;
    let lambda = LambdaHarness::start(
        Options {
            extra_env: vec![
                ("SCHEDULER_ROLE_ARN", ROLE.to_owned()),
                ("SCHEDULER_GROUP", group.clone()),
                ("API_ID", api.clone()),
                ("STAGE_NAME", "prod".to_owned()),
                ("ALARM_RATE_LIMIT", "5".to_owned()),
                ("ALARM_BURST_LIMIT", "10".to_owned()),
                ("ALARM_DURATION", "1h".to_owned()),
            ],
            ..Options::default()
        },
        &[],
    )
    .await;

    let result = lambda
        .invoke(serde_json::json!({
            "source": "aws.cloudwatch",
            "alarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-5xx",
            "alarmData": {"alarmName": "orders-5xx", "state": {"value": "ALARM"}}
        }))
        .await
        .unwrap();

    assert!(
        result["body"]
            .as_str()
            .unwrap()
            .starts_with("Updated throttling: rate=5, burst=10 until "),
        "{result}"
    );
    assert_eq!(stage_limits(&api, "prod").await, Some((5.0, 10)));
    let tags = stage_tags(&api, "prod").await;
    let record = &tags["throttle-bot:stage"];
    assert!(record.contains("by=alarm:orders-5xx"), "{record}");
    assert_eq!(
        record_field(&tags, "until") - record_field(&tags, "since"),
        3600
    );
    let listed = schedules
        .list_schedules()
        .group_name(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.schedules().len(), 1);
}

#[tokio::test]
async fn an_impact_report_rides_a_one_time_schedule_and_follows_in_the_conversation() {
    let (group, schedules) = schedule_group().await;
    let lambda = lambda_with_scheduler_and(&group, "2m").await;
    let name = unique("impact");
    create_api(&name, "prod").await;
    publish_traffic(("ApiName", &name), "prod", &[(30, 600.0, 60.0)]).await;
    let before = now();
    lambda
        .invoke(function_url_event(
            &format!("{name} prod 150 300"),
            &lambda.slack.url("/reply"),
        ))
        .await
        .unwrap();
    lambda.slack.wait_for("/reply", 1).await;

    let listed = schedules
        .list_schedules()
        .group_name(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.schedules().len(), 1, "one report for one change");
    let name_of = listed.schedules()[0].name().unwrap();
    assert!(name_of.starts_with("throttle-bot-impact-"), "{name_of}");
    let schedule = schedules
        .get_schedule()
        .group_name(&group)
        .name(name_of)
        .send()
        .await
        .unwrap();
    let due = schedule
        .schedule_expression()
        .unwrap()
        .trim_start_matches("at(")
        .trim_end_matches(')')
        .to_owned();
    let due = aws_sdk_scheduler::primitives::DateTime::from_str(
        &format!("{due}Z"),
        aws_sdk_scheduler::primitives::DateTimeFormat::DateTime,
    )
    .unwrap()
    .secs();
    assert!(
        (before + 120..=now() + 120).contains(&due),
        "due two minutes after the change"
    );
    let input: Value = serde_json::from_str(schedule.target().unwrap().input().unwrap()).unwrap();

    // Tampered with, it is refused and tells no one; as sealed, it reports.
    let mut forged = input.clone();
    forged["throttle_bot_impact"]["body"]["reply_to"] = "https://example.com/x".into();
    assert!(lambda.invoke(forged).await.is_ok(), "never retried");
    lambda.invoke(input).await.unwrap();
    let replies = lambda.slack.wait_for("/reply", 2).await;
    assert_eq!(replies.len(), 2, "the forged event told no one");
    let report = shown(&replies[1]);
    assert!(
        report.contains("Impact") && report.contains(&name),
        "{report}"
    );
    assert!(report.contains("before, 10 req/s on average"), "{report}");
}

#[tokio::test]
async fn without_a_scheduler_role_a_timed_change_is_refused_and_changes_nothing() {
    let lambda = LambdaHarness::start(Options::default(), &[]).await;
    let api = create_api(&unique("timed"), "prod").await;

    lambda
        .invoke(function_url_event(
            &format!("{api} prod 8 16 for 30m"),
            &lambda.slack.url("/reply"),
        ))
        .await
        .unwrap();

    let reply = shown(&lambda.slack.wait_for("/reply", 1).await[0]);
    assert!(reply.contains("SCHEDULER_ROLE_ARN"), "{reply}");
    assert_eq!(stage_limits(&api, "prod").await, None);
    assert!(ours(&stage_tags(&api, "prod").await).is_empty());
}

#[tokio::test]
async fn a_timed_plan_change_schedules_its_restore_and_the_schedule_restores_it() {
    let (group, schedules) = schedule_group().await;
    let lambda = LambdaHarness::start(
        Options {
            extra_env: vec![
                ("SCHEDULER_ROLE_ARN", ROLE.to_owned()),
                ("SCHEDULER_GROUP", group.clone()),
                ("IMPACT_AFTER", "0".to_owned()),
                ("PLAN_CALLS_INTERVAL_SECS", "1".to_owned()),
            ],
            ..Options::default()
        },
        &[],
    )
    .await;
    let name = unique("lambda-gold");
    let plan = create_usage_plan(&name, &[], Some((100.0, 200))).await;
    let reply_to = lambda.slack.url("/reply");
    lambda
        .invoke(function_url_event(
            &format!("plan {name} 5 10 for 2s"),
            &reply_to,
        ))
        .await
        .unwrap();
    let reply = shown(&lambda.slack.wait_for("/reply", 1).await[0]);
    assert!(reply.contains("<!date^"), "says when it ends: {reply}");
    assert_eq!(plan_throttles(&plan).await.0, Some((5.0, 10)));

    let listed = schedules
        .list_schedules()
        .group_name(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.schedules().len(), 1, "one schedule for one deadline");
    let schedule = schedules
        .get_schedule()
        .group_name(&group)
        .name(listed.schedules()[0].name().unwrap())
        .send()
        .await
        .unwrap();
    let target = schedule.target().unwrap();
    assert_eq!((target.arn(), target.role_arn()), (FUNCTION, ROLE));
    let input: Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(input["throttle_bot_restore"]["body"]["plan"], plan.as_str());

    // An event moved to another plan is refused: only this function could have made it.
    let mut forged = input.clone();
    forged["throttle_bot_restore"]["body"]["plan"] = "zzz999".into();
    let refused = lambda.invoke(forged).await.unwrap_err();
    assert!(refused.to_string().contains("refused"), "{refused}");

    // Fired before the deadline, the function waits for it and restores.
    let answer = lambda.invoke(input.clone()).await.unwrap();
    assert_eq!(answer["body"], "restored", "{answer}");
    assert_eq!(plan_throttles(&plan).await.0, Some((100.0, 200)));
    // Delivered twice (Scheduler is at-least-once): the second finds nothing to do.
    let again = lambda.invoke(input).await.unwrap();
    assert_eq!(again["body"], "nothing_pending", "{again}");
}

#[tokio::test]
async fn a_restore_woken_too_early_to_wait_schedules_itself_again_instead_of_failing() {
    let (group, schedules) = schedule_group().await;
    let lambda = lambda_with_scheduler(&group).await;
    let api = create_api(&unique("timed"), "prod").await;
    let reply_to = lambda.slack.url("/reply");
    lambda
        .invoke(function_url_event(
            &format!("{api} prod 8 16 for 10m"),
            &reply_to,
        ))
        .await
        .unwrap();
    lambda.slack.wait_for("/reply", 1).await;
    let listed = schedules
        .list_schedules()
        .group_name(&group)
        .send()
        .await
        .unwrap();
    let first = listed.schedules()[0].name().unwrap().to_owned();
    let schedule = schedules
        .get_schedule()
        .group_name(&group)
        .name(&first)
        .send()
        .await
        .unwrap();
    let input: Value = serde_json::from_str(schedule.target().unwrap().input().unwrap()).unwrap();

    // Delivered now, ten minutes early (a 60 s invocation cannot wait that long): Lambda's
    // own retries of an asynchronous invocation are few, so the function schedules the restore
    // again rather than fail, and restores nothing early.
    let answer = lambda.invoke(input).await.unwrap();

    assert_eq!(answer["body"], "rescheduled", "{answer}");
    assert_eq!(stage_limits(&api, "prod").await, Some((8.0, 16)));
    let names: Vec<String> = schedules
        .list_schedules()
        .group_name(&group)
        .send()
        .await
        .unwrap()
        .schedules()
        .iter()
        .filter_map(|s| s.name().map(str::to_owned))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names.iter().any(|n| n.starts_with(&format!("{first}-r"))),
        "{names:?}"
    );
}
