//! `throttle-bot healthcheck`: a probe for container runtimes that have no shell or curl.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Why the probe failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("no answer from {target}: {reason}")]
    NoAnswer { target: SocketAddr, reason: String },
    #[error("{target}/healthz answered {status}")]
    Unhealthy { target: SocketAddr, status: u16 },
}

/// Asks the local service's `/healthz`; `Ok` on HTTP 200.
pub async fn probe(listen_addr: SocketAddr) -> Result<(), ProbeError> {
    let mut target = listen_addr;
    if target.ip().is_unspecified() {
        target.set_ip(match target {
            SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        });
    }
    let no_answer = |e: reqwest::Error| ProbeError::NoAnswer {
        target,
        reason: e.without_url().to_string(),
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .map_err(no_answer)?;
    let response = client
        .get(format!("http://{target}/healthz"))
        .send()
        .await
        .map_err(no_answer)?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(ProbeError::Unhealthy {
            target,
            status: response.status().as_u16(),
        })
    }
}
