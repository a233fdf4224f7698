//! The floor `benches/run.sh` measures the acknowledgement path against: a bare axum server that
//! does the least any Slack endpoint must — read the body, check Slack's v0 signature with the
//! same crates (hmac, sha2, hex) and the same five-minute window, and answer the same bytes as
//! throttle-bot's reply. No replay cache, policy, metrics, logging or timeouts: what throttle-bot
//! does beyond this is what the ratio prices.
//!
//!   SLACK_SIGNING_SECRET=… LISTEN_ADDR=127.0.0.1:PORT FLOOR_REPLY=reply.json \
//!     target/ack-floor/release/ack-floor      (run.sh builds and starts it)

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn verified(secret: &[u8], headers: &HeaderMap, body: &[u8], now: i64) -> bool {
    let Some(timestamp) = headers.get("x-slack-request-timestamp") else {
        return false;
    };
    let Some(sent_at) = timestamp.to_str().ok().and_then(|t| t.parse::<i64>().ok()) else {
        return false;
    };
    if (now - sent_at).abs() > 300 {
        return false;
    }
    let Some(digest) = headers
        .get("x-slack-signature")
        .and_then(|s| s.as_bytes().strip_prefix(b"v0="))
        .and_then(|hex| hex::decode(hex).ok())
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&digest).is_ok()
}

#[tokio::main]
async fn main() {
    let secret: &'static [u8] = std::env::var("SLACK_SIGNING_SECRET")
        .expect("SLACK_SIGNING_SECRET")
        .leak()
        .as_bytes();
    let reply: &'static [u8] = std::fs::read(std::env::var("FLOOR_REPLY").expect("FLOOR_REPLY"))
        .expect("the reply file")
        .leak();
    let addr = std::env::var("LISTEN_ADDR").expect("LISTEN_ADDR");
    let handler = move |headers: HeaderMap, body: Bytes| async move {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if !verified(secret, &headers, &body, now) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        let response: Response =
            ([(header::CONTENT_TYPE, "application/json")], reply).into_response();
        response
    };
    let app = Router::new().route("/slack/commands", post(handler));
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
