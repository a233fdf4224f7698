//! `throttle-bot healthcheck`: a probe for container runtimes that have no shell or curl.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Asks the local service's `/healthz`; true on HTTP 200.
pub async fn probe(listen_addr: SocketAddr) -> Result<(), String> {
    let mut target = listen_addr;
    if target.ip().is_unspecified() {
        target.set_ip(match target {
            SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        });
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .get(format!("http://{target}/healthz"))
        .send()
        .await
        .map_err(|e| format!("no answer from {target}: {}", e.without_url()))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("{target}/healthz answered {}", response.status()))
    }
}
