use std::process::Stdio;

use crate::helpers::*;

#[tokio::test]
async fn the_service_refuses_to_start_without_a_signing_secret() {
    let output = service_command(None, false)
        .env_remove("SLACK_SIGNING_SECRET")
        .arg("serve")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reason: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(reason.len(), 1, "one line: {stderr}");
    assert!(reason[0].contains("SLACK_SIGNING_SECRET"), "{stderr}");
}

#[tokio::test]
async fn a_bad_webhook_url_stops_start_up_without_echoing_it() {
    let output = service_command(None, false)
        .env("SLACK_WEBHOOK_URL", "hooks.example.invalid/secret-part")
        .arg("serve")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SLACK_WEBHOOK_URL"), "{stderr}");
    assert!(!stderr.contains("secret-part"), "{stderr}");
}
