//! A record is acted on only while it describes the stage (issue 32, item 2): against moto's
//! API Gateway with the stand-in's `lastUpdatedDate` (see `tests/support/moto_server.py`: tag
//! writes and changing writes date a stage, and a caller may tag without dating it, as AWS
//! would if tags were not part of the stage: the reference does not say).
//!
//! Each test runs in a region of its own, as the sweep's do.

use aws_sdk_apigateway::Client;

use crate::helpers::*;
use crate::sweep::{notice_with, reply_to, rest_in, spawn_in, tags_of};

/// An API Gateway client of someone who may only tag, whose tags do not date the stage.
async fn tagger_in(region: &str) -> Client {
    let config = aws_sdk_apigateway::Config::builder()
        .behavior_version(aws_sdk_apigateway::config::BehaviorVersion::latest())
        .endpoint_url(&moto().endpoint)
        .region(aws_sdk_apigateway::config::Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_apigateway::config::Credentials::new(
            "undated-tagger",
            "testing",
            None,
            None,
            "tests",
        ))
        .build();
    Client::from_conf(config)
}

fn stage_arn(region: &str, api: &str) -> String {
    format!("arn:aws:apigateway:{region}::/restapis/{api}/stages/prod")
}

#[tokio::test]
async fn a_timed_change_kept_for_good_is_not_undone_by_its_record_put_back() {
    let region = "ap-south-2";
    let aws = rest_in(region).await;
    let api = create_api_on(&aws, &unique("kept"), &["prod"]).await;
    // "Unblock for a while" from a clamp, then kept for good.
    let maker = spawn_in(region, "none", Vec::new()).await;
    reply_to(&maker, &format!("{api} prod 10 20")).await;
    let timed = reply_to(&maker, &format!("{api} prod 12 24 for 15s")).await;
    assert!(timed.contains("until"), "{timed}");
    let old: Vec<(String, String)> = tags_of(&aws, &api, "prod")
        .await
        .into_iter()
        .filter(|(k, _)| k.starts_with("throttle-bot:"))
        .collect();
    assert!(
        old.iter().any(|(k, _)| k == "throttle-bot:stage"),
        "{old:?}"
    );
    let kept = reply_to(&maker, &format!("{api} prod 12 24")).await;
    assert!(kept.contains("for good"), "{kept}");
    drop(maker);

    // Someone who may only tag puts the old record (and its marker) back; a new process
    // finds it when its end has come.
    let tagger = tagger_in(region).await;
    let mut put_back = tagger.tag_resource().resource_arn(stage_arn(region, &api));
    for (key, value) in &old {
        put_back = put_back.tags(key, value);
    }
    put_back.send().await.expect("tag");
    let sweeper = spawn_in(region, "all", Vec::new()).await;

    let told = notice_with(&sweeper, "Not restored").await;
    assert!(told.contains("was updated"), "{told}");
    assert!(told.contains(&api), "{told}");
    assert_eq!(
        stage_limits_on(&aws, &api, "prod").await,
        Ok(Some((12.0, 24))),
        "the decision stands"
    );
    let left = tags_of(&aws, &api, "prod").await;
    assert!(
        !left.contains_key("throttle-bot:stage"),
        "the record put back is removed: {left:?}"
    );
}

#[tokio::test]
async fn a_deployment_during_a_timed_change_turns_its_end_into_a_notice() {
    let region = "ap-southeast-4";
    let aws = rest_in(region).await;
    let api = create_api_on(&aws, &unique("deployed"), &["prod"]).await;
    let app = spawn_in(region, "none", Vec::new()).await;
    reply_to(&app, &format!("{api} prod 10 20")).await;
    let timed = reply_to(&app, &format!("{api} prod 8 16 for 15s")).await;
    assert!(timed.contains("until"), "{timed}");
    // The rule is about time: a write within a few seconds of the record's own is taken for
    // the service's own (its clock may run a little behind AWS's). The deployment comes later.
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    let dated = |stage: &aws_sdk_apigateway::operation::get_stage::GetStageOutput| {
        stage.last_updated_date().map(|at| at.secs())
    };
    let before = aws.get_stage().rest_api_id(&api).stage_name("prod").send();
    let before = dated(&before.await.unwrap());
    aws.create_deployment()
        .rest_api_id(&api)
        .stage_name("prod")
        .send()
        .await
        .expect("deploy");
    let after = aws.get_stage().rest_api_id(&api).stage_name("prod").send();
    let after = after.await.unwrap();
    assert!(dated(&after) >= before, "a deployment dates the stage");
    assert_eq!(
        stage_limits_on(&aws, &api, "prod").await,
        Ok(Some((8.0, 16))),
        "a deployment keeps the stage's settings"
    );

    let told = notice_with(&app, "Not restored").await;

    assert!(told.contains("was updated"), "{told}");
    assert!(
        told.contains("burst 20"),
        "what would have come back: {told}"
    );
    assert_eq!(
        stage_limits_on(&aws, &api, "prod").await,
        Ok(Some((8.0, 16))),
        "nothing put back by itself"
    );
}
