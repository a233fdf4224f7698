//! Hand-offs between invocations: a deferred job is sealed by this function's secret, bound
//! to its ARN, in time, and used once.

use serde_json::{Value, json};

use super::*;

fn deferred_job(api: &str, response_url: &str) -> Value {
    json!({
        "text": format!("{api} prod 8 16"),
        "user_id": USER,
        "channel_id": CHANNEL,
        "team_id": TEAM,
        "command": "/throttle",
        "response_url": response_url,
        "request_id": "0123456789abcdef",
        "via": "command",
        "expect": null,
        "confirmed": false,
        "approved_by": null,
        "break_glass": false,
        // The function that sealed it: its unqualified ARN, as the Runtime API stand-in
        // reports the invoked function's.
        "function": "arn:aws:lambda:us-east-1:123456789012:function:throttle-bot",
    })
}

#[tokio::test]
async fn unsigned_forged_or_expired_deferred_jobs_are_refused() {
    use throttle_bot::slack::sealed::SealKey;
    use throttle_bot::slack::signature::SigningSecret;

    let function = lambda(vec![]).await;
    let api = create_api(&unique("forged"), "prod").await;
    let job = deferred_job(&api, &function.slack.url("/reply"));
    let future = now() + 600;
    let ours = |expires_at: i64| {
        let key = SealKey::derive(
            &SigningSecret::new(SIGNING_SECRET).unwrap(),
            "throttle_bot_job",
        );
        serde_json::to_value(key.seal(job.clone(), expires_at)).unwrap()
    };
    let theirs = {
        let key = SealKey::derive(
            &SigningSecret::new("someone-else").unwrap(),
            "throttle_bot_job",
        );
        serde_json::to_value(key.seal(job.clone(), future)).unwrap()
    };
    let mut retargeted = ours(future);
    retargeted["body"]["response_url"] = json!("https://hooks.slack.com/commands/T9/9/9");
    // Sealed with the same secret by another function (a staging deployment of the app).
    let elsewhere = {
        let key = SealKey::derive(
            &SigningSecret::new(SIGNING_SECRET).unwrap(),
            "throttle_bot_job",
        );
        let mut job = job.clone();
        job["function"] =
            json!("arn:aws:lambda:us-east-1:123456789012:function:throttle-bot-staging");
        serde_json::to_value(key.seal(job, future)).unwrap()
    };

    for (case, payload) in [
        ("unsigned", job.clone()),
        (
            "forged",
            json!({"body": job.clone(), "expires_at": future, "mac": "00".repeat(32)}),
        ),
        ("another secret", theirs),
        ("reply elsewhere", retargeted),
        ("expired", ours(now() - 1)),
        ("another function", elsewhere),
    ] {
        let error = function
            .invoke(json!({ "throttle_bot_job": payload }))
            .await
            .expect_err(case);
        assert!(
            error.to_string().contains("deferred job"),
            "{case}: {error}"
        );
    }
    assert_eq!(stage_limits(&api, "prod").await, None, "nothing changed");
    assert!(function.slack.posts_to("/reply").is_empty());

    // A function of the same name in another account (sharing the app's secret) is another.
    let same_name_elsewhere = {
        let key = SealKey::derive(
            &SigningSecret::new(SIGNING_SECRET).unwrap(),
            "throttle_bot_job",
        );
        let mut job = job.clone();
        job["function"] = json!("arn:aws:lambda:us-east-1:210987654321:function:throttle-bot");
        serde_json::to_value(key.seal(job, future)).unwrap()
    };
    let error = function
        .invoke(json!({ "throttle_bot_job": same_name_elsewhere }))
        .await
        .expect_err("bound to the ARN");
    assert!(error.to_string().contains("another function"), "{error}");

    // The same job, sealed by this function's secret and in time, runs.
    let sealed = ours(future);
    function
        .invoke(json!({ "throttle_bot_job": sealed.clone() }))
        .await
        .unwrap();
    assert_eq!(stage_limits(&api, "prod").await, Some((8.0, 16)));

    // Once: delivered again (or played back within its life), it is refused.
    set_stage_limits(&api, "prod", 1.0, 2).await;
    let again = function
        .invoke(json!({ "throttle_bot_job": sealed }))
        .await
        .expect_err("used once");
    assert!(again.to_string().contains("already used"), "{again}");
    assert_eq!(stage_limits(&api, "prod").await, Some((1.0, 2)));
}
