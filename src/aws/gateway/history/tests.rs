//! Reading CloudTrail events: who (IAM user, assumed role, this service), and what each level
//! was set to. The events follow the CloudTrail record contents reference (`userIdentity`,
//! `userAgent`, `requestParameters`); their parameters are API Gateway's request fields.

use serde_json::json;

use super::*;
use crate::domain::{Configured, HttpMethod, ResourcePath};

const API: &str = "a1b2c3d4e5";
const ACCOUNT: &str = "111122223333";

fn bot_role() -> Principal {
    Principal::Role {
        account: ACCOUNT.into(),
        role: "throttle-bot".into(),
        session: "another-task".into(),
    }
}

fn read(event: serde_json::Value, call: TrailCall, stage: Option<&str>) -> Option<TrailEvent> {
    let me = bot_role();
    let own = Own {
        app: "throttle-bot",
        identity: Some(&me),
    };
    let wanted = Wanted { api: API, stage };
    parse_event(
        Some(event.to_string().as_str()),
        1_700_000_000,
        call,
        &wanted,
        &own,
    )
}

fn iam_user(name: &str) -> serde_json::Value {
    json!({
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLE",
        "arn": format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        "accountId": ACCOUNT,
        "accessKeyId": "AKIAEXAMPLE",
        "userName": name
    })
}

fn assumed(role: &str, session: &str) -> serde_json::Value {
    json!({
        "type": "AssumedRole",
        "principalId": format!("AROAEXAMPLE:{session}"),
        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"),
        "accountId": ACCOUNT,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "arn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"),
                "accountId": ACCOUNT,
                "userName": role
            }
        }
    })
}

fn update_stage(who: serde_json::Value, agent: &str, ops: serde_json::Value) -> serde_json::Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": who,
        "eventTime": "2023-11-14T22:13:20Z",
        "eventSource": "apigateway.amazonaws.com",
        "eventName": "UpdateStage",
        "awsRegion": "eu-west-1",
        "userAgent": agent,
        "requestParameters": { "restApiId": API, "stageName": "prod", "patchOperations": ops },
        "eventID": "0f1e2d3c-aaaa-bbbb-cccc-000000000001"
    })
}

fn levels(event: &TrailEvent) -> &[LevelChange] {
    match &event.what {
        TrailWhat::Levels(levels) => levels,
        other => panic!("expected levels, got {other:?}"),
    }
}

#[test]
fn an_iam_users_console_change_to_zero_is_read_as_theirs_and_not_the_bots() {
    let ops = json!([
        { "op": "replace", "path": "/*/*/throttling/rateLimit", "value": "0" },
        { "op": "replace", "path": "/*/*/throttling/burstLimit", "value": "0" }
    ]);
    let event = read(
        update_stage(iam_user("alice"), "AWS Internal", ops),
        TrailCall::UpdateStage,
        Some("prod"),
    )
    .expect("the stage's event");
    assert_eq!(
        event.principal,
        Principal::User {
            account: ACCOUNT.into(),
            name: "alice".into()
        }
    );
    assert!(!event.by_bot);
    assert_eq!(event.stage, "prod");
    assert_eq!(event.at, 1_700_000_000);
    let [change] = levels(&event) else { panic!() };
    assert_eq!(change.level, Level::Stage);
    assert_eq!(
        change.after(),
        Some(Configured {
            rate: Some(0.0),
            burst: Some(0)
        })
    );
}

#[test]
fn an_assumed_roles_change_names_the_role_and_session() {
    let ops = json!([{ "op": "replace", "path": "/~1pets~1{id}/GET/throttling/rateLimit", "value": "25.5" }]);
    let event = read(
        update_stage(
            assumed("deployer", "terraform-run-42"),
            "APN/1.0 HashiCorp/1.0 Terraform/1.9.0",
            ops,
        ),
        TrailCall::UpdateStage,
        None,
    )
    .unwrap();
    assert_eq!(
        event.principal,
        Principal::Role {
            account: ACCOUNT.into(),
            role: "deployer".into(),
            session: "terraform-run-42".into()
        }
    );
    assert!(!event.by_bot);
    let [change] = levels(&event) else { panic!() };
    assert_eq!(
        change.level,
        Level::method(
            HttpMethod::parse("GET").unwrap(),
            ResourcePath::parse("/pets/{id}").unwrap()
        )
    );
    assert_eq!(change.rate, Written::To(25.5));
    assert_eq!(change.burst, Written::Untouched);
    assert_eq!(change.after(), None, "the burst before is not known");
}

#[test]
fn the_bots_own_change_has_its_user_agent_suffix_from_exactly_its_own_session() {
    let agent = "aws-sdk-rust/1.3.9 ua/2.1 api/apigateway/1.100.0 os/linux lang/rust/1.89.0 app/throttle-bot";
    let ops = json!([
        { "op": "replace", "path": "/*/*/throttling/rateLimit", "value": "50" },
        { "op": "replace", "path": "/*/*/throttling/burstLimit", "value": "100" }
    ]);
    let ours = read(
        update_stage(assumed("throttle-bot", "another-task"), agent, ops.clone()),
        TrailCall::UpdateStage,
        Some("prod"),
    )
    .unwrap();
    assert!(ours.by_bot && ours.bot_agent);
    // Another session of the bot's role with its user agent says it is the bot, and cannot be
    // verified as such; nor can the same user agent from someone else.
    let forged = read(
        update_stage(assumed("throttle-bot", "ecs-task-7"), agent, ops.clone()),
        TrailCall::UpdateStage,
        Some("prod"),
    )
    .unwrap();
    assert!(!forged.by_bot && forged.bot_agent);
    let elsewhere = read(
        update_stage(iam_user("mallory"), agent, ops.clone()),
        TrailCall::UpdateStage,
        None,
    )
    .unwrap();
    assert!(!elsewhere.by_bot && elsewhere.bot_agent);
    // The bot's own session without its user agent (its credentials used by hand), or a
    // look-alike suffix, is not the bot's and does not say so.
    let by_hand = read(
        update_stage(
            assumed("throttle-bot", "another-task"),
            "aws-cli/2.15.0",
            ops.clone(),
        ),
        TrailCall::UpdateStage,
        None,
    )
    .unwrap();
    assert!(!by_hand.by_bot && !by_hand.bot_agent);
    let lookalike = read(
        update_stage(
            assumed("throttle-bot", "another-task"),
            "app/throttle-bot-ci",
            ops.clone(),
        ),
        TrailCall::UpdateStage,
        None,
    )
    .unwrap();
    assert!(!lookalike.by_bot && !lookalike.bot_agent);
    // Without its own identity, nothing is verifiably the bot's.
    let unknown = Own {
        app: "throttle-bot",
        identity: None,
    };
    let wanted = Wanted {
        api: API,
        stage: None,
    };
    let raw = update_stage(assumed("throttle-bot", "another-task"), agent, ops).to_string();
    let unverified = parse_event(Some(&raw), 1, TrailCall::UpdateStage, &wanted, &unknown).unwrap();
    assert!(!unverified.by_bot && unverified.bot_agent);
}

#[tokio::test]
async fn an_identity_that_could_not_be_read_is_asked_again_next_time() {
    let cell = tokio::sync::OnceCell::new();
    let asked = std::sync::atomic::AtomicUsize::new(0);
    let ask = |answer: Result<Principal, IdentityError>| {
        asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move { answer }
    };
    assert_eq!(
        remembered(&cell, || ask(Err(IdentityError::Refused(
            "no network".into()
        ))))
        .await,
        None
    );
    assert_eq!(
        remembered(&cell, || ask(Ok(bot_role()))).await,
        Some(bot_role())
    );
    assert_eq!(
        remembered(&cell, || ask(Err(IdentityError::Refused(
            "not asked".into()
        ))))
        .await,
        Some(bot_role())
    );
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[test]
fn patch_operations_become_before_and_after_per_level_with_minus_one_as_not_set() {
    let ops = json!([
        { "op": "replace", "path": "/*/*/throttling/rateLimit", "value": "-1" },
        { "op": "replace", "path": "/*/*/throttling/burstLimit", "value": "-1" },
        { "op": "replace", "path": "/~1pets/POST/metrics/enabled", "value": "true" },
        { "op": "replace", "path": "/~1pets/POST/throttling/burstLimit", "value": "7" },
        { "op": "remove", "path": "/~1orders/GET" },
        { "op": "replace", "path": "/description", "value": "x" }
    ]);
    let event = read(
        update_stage(iam_user("bob"), "aws-cli/2", ops),
        TrailCall::UpdateStage,
        None,
    )
    .unwrap();
    let [stage, post, orders] = levels(&event) else {
        panic!("{event:?}")
    };
    assert_eq!(stage.level, Level::Stage);
    assert_eq!((stage.rate, stage.burst), (Written::Unset, Written::Unset));
    let mut post = post.clone();
    post.before = Some(Configured {
        rate: Some(3.0),
        burst: Some(6),
    });
    assert_eq!(
        post.after(),
        Some(Configured {
            rate: Some(3.0),
            burst: Some(7)
        })
    );
    assert_eq!(orders.after(), Some(Configured::default()), "entry removed");
    let other = read(
        update_stage(
            iam_user("bob"),
            "aws-cli/2",
            json!([{ "op": "replace", "path": "/description", "value": "x" }]),
        ),
        TrailCall::UpdateStage,
        None,
    )
    .unwrap();
    assert_eq!(other.what, TrailWhat::Other);
}

#[test]
fn another_api_or_stage_is_left_out() {
    let ops = json!([{ "op": "replace", "path": "/*/*/throttling/rateLimit", "value": "1" }]);
    let mut event = update_stage(iam_user("bob"), "x", ops);
    assert!(read(event.clone(), TrailCall::UpdateStage, Some("beta")).is_none());
    event["requestParameters"]["restApiId"] = json!("zzzzzzzzzz");
    assert!(read(event, TrailCall::UpdateStage, None).is_none());
    // The same name from another service (TagResource is every service's) is not a stage's.
    let lambda = json!({
        "eventSource": "lambda.amazonaws.com",
        "userIdentity": iam_user("bob"),
        "requestParameters": { "resource": "arn:aws:lambda:eu-west-1:1:function:f", "tags": { "throttle-bot:stage": "x" } }
    });
    assert!(read(lambda, TrailCall::TagResource, None).is_none());
    // A deployment made to no stage changes no stage.
    let undeployed = json!({
        "userIdentity": iam_user("bob"),
        "requestParameters": { "restApiId": API, "createDeploymentInput": { "description": "x" } }
    });
    assert!(read(undeployed, TrailCall::CreateDeployment, None).is_none());
}

fn not_read(event: &TrailEvent) -> &str {
    match &event.what {
        TrailWhat::Unread(why) => why,
        other => panic!("expected a change not read, got {other:?}"),
    }
}

#[test]
fn an_event_missing_its_keys_or_naming_a_route_that_does_not_parse_is_kept_as_not_read() {
    let ops = json!([{ "op": "replace", "path": "/*/*/throttling/rateLimit", "value": "0" }]);
    let mut no_api = update_stage(iam_user("bob"), "x", ops.clone());
    no_api["requestParameters"]
        .as_object_mut()
        .unwrap()
        .remove("restApiId");
    let kept = read(no_api, TrailCall::UpdateStage, Some("prod")).expect("kept");
    assert!(not_read(&kept).contains("API id"), "{kept:?}");
    assert_eq!(
        kept.principal,
        Principal::User {
            account: ACCOUNT.into(),
            name: "bob".into()
        }
    );
    let mut no_stage = update_stage(iam_user("bob"), "x", ops);
    no_stage["requestParameters"]
        .as_object_mut()
        .unwrap()
        .remove("stageName");
    let kept = read(no_stage, TrailCall::UpdateStage, Some("prod")).expect("kept");
    assert!(not_read(&kept).contains("stage"), "{kept:?}");

    let route = json!({
        "userIdentity": iam_user("carol"),
        "requestParameters": { "apiId": API, "stageName": "prod", "routeKey": "NOT A ROUTE" }
    });
    let kept = read(route, TrailCall::DeleteRouteSettings, Some("prod")).expect("kept");
    assert!(not_read(&kept).contains("NOT A ROUTE"), "{kept:?}");
    assert_eq!(kept.stage, "prod");
    let settings = json!({
        "userIdentity": iam_user("carol"),
        "requestParameters": { "apiId": API, "stageName": "prod", "routeSettings": {
            "GET /orders": { "throttlingRateLimit": 1, "throttlingBurstLimit": 1 },
            "BOGUS": { "throttlingRateLimit": 0, "throttlingBurstLimit": 0 }
        } }
    });
    let kept = read(settings, TrailCall::UpdateStage, Some("prod")).expect("kept");
    assert!(not_read(&kept).contains("BOGUS"), "{kept:?}");

    let no_params = json!({ "userIdentity": iam_user("bob"), "requestParameters": null });
    let kept = read(no_params, TrailCall::UpdateStage, None).expect("kept");
    assert!(not_read(&kept).contains("parameters"), "{kept:?}");
    let kept = read(json!("not an event"), TrailCall::UpdateStage, None).expect("kept");
    assert!(!not_read(&kept).is_empty());
}

#[test]
fn a_call_api_gateway_refused_changed_nothing() {
    let ops = json!([{ "op": "replace", "path": "/*/*/throttling/rateLimit", "value": "0" }]);
    let mut refused = update_stage(iam_user("mallory"), "aws-cli/2", ops);
    refused["errorCode"] = json!("AccessDenied");
    let event = read(refused, TrailCall::UpdateStage, Some("prod")).unwrap();
    assert_eq!(event.what, TrailWhat::Refused("AccessDenied".into()));
}

#[test]
fn a_plan_wide_throttle_is_read_for_every_stage_in_the_plan() {
    let wide = json!({
        "userIdentity": iam_user("dave"),
        "requestParameters": { "usagePlanId": "gold1", "patchOperations": [
            { "op": "replace", "path": "/throttle/rateLimit", "value": "0" },
            { "op": "replace", "path": "/throttle/burstLimit", "value": "0" }
        ] }
    });
    let event = read(wide, TrailCall::UpdateUsagePlan, Some("prod")).expect("a plan-wide change");
    assert_eq!(
        event.stage, "",
        "which stages the plan holds is for the core to say"
    );
    let TrailWhat::Plan { plan, levels, wide } = &event.what else {
        panic!("{event:?}")
    };
    assert_eq!(plan, "gold1");
    assert!(levels.is_empty());
    let wide = wide.as_ref().expect("the plan's own throttle");
    assert_eq!(
        wide.after(),
        Some(Configured {
            rate: Some(0.0),
            burst: Some(0)
        })
    );
    let quota_only = json!({
        "userIdentity": iam_user("dave"),
        "requestParameters": { "usagePlanId": "gold1", "patchOperations": [
            { "op": "replace", "path": "/quota/limit", "value": "100" }
        ] }
    });
    assert!(read(quota_only, TrailCall::UpdateUsagePlan, None).is_none());
}

#[test]
fn an_untag_resource_removing_a_record_is_read_and_others_are_left_out() {
    let untag = |keys: serde_json::Value| {
        json!({
            "eventSource": "apigateway.amazonaws.com",
            "userIdentity": iam_user("erin"),
            "requestParameters": {
                "resourceArn": format!("arn:aws:apigateway:eu-west-1::/restapis/{API}/stages/prod"),
                "tagKeys": keys
            }
        })
    };
    let event = read(
        untag(json!(["throttle-bot:stage", "team"])),
        TrailCall::UntagResource,
        Some("prod"),
    )
    .expect("a record removed");
    assert_eq!(
        event.what,
        TrailWhat::Untagged(vec!["throttle-bot:stage".into()])
    );
    assert_eq!(event.stage, "prod");
    let listed = read(
        untag(json!("team,throttle-bot:stage")),
        TrailCall::UntagResource,
        None,
    )
    .unwrap();
    assert_eq!(
        listed.what,
        TrailWhat::Untagged(vec!["throttle-bot:stage".into()])
    );
    assert!(read(untag(json!(["team"])), TrailCall::UntagResource, None).is_none());
    assert!(TrailCall::ALL.contains(&TrailCall::UntagResource));
}

#[test]
fn an_http_apis_settings_are_read_whole_and_a_default_without_throttling_sets_none() {
    let event = json!({
        "userIdentity": iam_user("carol"),
        "userAgent": "console.amazonaws.com",
        "requestParameters": {
            "apiId": API,
            "stageName": "$default",
            "defaultRouteSettings": { "detailedMetricsEnabled": true },
            "routeSettings": { "GET /orders": { "throttlingBurstLimit": 5, "throttlingRateLimit": 2.5 } }
        }
    });
    let event = read(event, TrailCall::UpdateStage, Some("$default")).unwrap();
    let [default, routes] = levels(&event) else {
        panic!("{event:?}")
    };
    assert_eq!(
        (default.rate, default.burst),
        (Written::Unset, Written::Unset),
        "no throttling fields: nothing set, not 0/0"
    );
    assert_eq!(routes.level.to_string(), "GET /orders");
    assert_eq!(
        routes.after(),
        Some(Configured {
            rate: Some(2.5),
            burst: Some(5)
        })
    );
}

#[test]
fn deleted_route_settings_deployments_and_usage_plans_name_the_stage() {
    let deleted = json!({
        "userIdentity": iam_user("carol"),
        "requestParameters": { "apiId": API, "stageName": "prod", "routeKey": "$default" }
    });
    let deleted = read(deleted, TrailCall::DeleteRouteSettings, Some("prod")).unwrap();
    assert_eq!(
        levels(&deleted)[0],
        LevelChange::removed(Level::DefaultRoute)
    );

    let deployed = json!({
        "userIdentity": assumed("pipeline", "deploy-9"),
        "requestParameters": { "restApiId": API, "createDeploymentInput": { "stageName": "prod" } }
    });
    let deployed = read(deployed, TrailCall::CreateDeployment, Some("prod")).unwrap();
    assert_eq!(deployed.what, TrailWhat::Deployed);

    let plan = json!({
        "userIdentity": iam_user("dave"),
        "requestParameters": {
            "usagePlanId": "gold1",
            "patchOperations": [
                { "op": "replace", "path": format!("/apiStages/{API}:prod/throttle/~1pets/GET/rateLimit"), "value": "0" },
                { "op": "replace", "path": "/throttle/rateLimit", "value": "5" }
            ]
        }
    });
    let plan = read(plan, TrailCall::UpdateUsagePlan, Some("prod")).unwrap();
    let TrailWhat::Plan { plan, levels, wide } = &plan.what else {
        panic!("{plan:?}")
    };
    assert_eq!(plan, "gold1");
    assert_eq!(levels.len(), 1, "the plan's own throttle is apart");
    assert_eq!(wide.as_ref().map(|w| w.rate), Some(Written::To(5.0)));
    assert_eq!(levels[0].rate, Written::To(0.0));
    assert_eq!(levels[0].level.to_string(), "GET /pets");

    let other_plan = json!({
        "userIdentity": iam_user("dave"),
        "requestParameters": { "usagePlanId": "gold1", "patchOperations": [
            { "op": "replace", "path": "/apiStages/zzzzzzzzzz:prod/throttle/~1pets/GET/rateLimit", "value": "5" }
        ] }
    });
    assert!(read(other_plan, TrailCall::UpdateUsagePlan, Some("prod")).is_none());
}

#[test]
fn a_tag_resource_on_the_stage_keeps_only_its_records() {
    let tagged = |arn: String| {
        json!({
            "userIdentity": assumed("throttle-bot", "another-task"),
            "userAgent": "aws-sdk-rust/1 app/throttle-bot",
            "requestParameters": {
                "resourceArn": arn,
                "tags": { "throttle-bot:stage": "set=0/0 restore=-/- since=1 until=2 by=U1 mac=00", "team": "x" }
            }
        })
    };
    let event = read(
        tagged(format!(
            "arn:aws:apigateway:eu-west-1::/restapis/{API}/stages/prod"
        )),
        TrailCall::TagResource,
        Some("prod"),
    )
    .unwrap();
    assert!(event.by_bot);
    let TrailWhat::Tagged(tags) = &event.what else {
        panic!()
    };
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0].0, "throttle-bot:stage");
    let http = read(
        tagged(format!(
            "arn:aws:apigateway:eu-west-1::/apis/{API}/stages/prod"
        )),
        TrailCall::TagResource,
        None,
    );
    assert!(http.is_some());
    let plan = read(
        tagged("arn:aws:apigateway:eu-west-1::/usageplans/gold1".to_owned()),
        TrailCall::TagResource,
        None,
    );
    assert!(plan.is_none());
}

#[test]
fn identities_are_read_from_caller_arns_of_users_and_roles() {
    assert_eq!(
        principal_of_arn("arn:aws:iam::123456789012:user/ops/alice"),
        Some(Principal::User {
            account: "123456789012".into(),
            name: "alice".into()
        })
    );
    assert_eq!(
        principal_of_arn("arn:aws:sts::123456789012:assumed-role/throttle-bot/throttle-bot"),
        Some(Principal::Role {
            account: "123456789012".into(),
            role: "throttle-bot".into(),
            session: "throttle-bot".into()
        })
    );
    assert_eq!(principal_of_arn("arn:aws:iam::123456789012:root"), None);
    let root = principal(&json!({ "type": "Root", "arn": "arn:aws:iam::123456789012:root" }));
    assert_eq!(
        root,
        Principal::Other("Root arn:aws:iam::123456789012:root".into())
    );
}
