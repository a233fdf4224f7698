//! The extractor that reads a body once and lets it through only if Slack signed it.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{AppState, MAX_BODY_BYTES};
use crate::core::clock::unix_now;
use crate::metrics::Rejection;
use crate::slack::form::SlashCommandForm;
use crate::slack::signature;

const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
const SIGNATURE_HEADER: &str = "x-slack-signature";

/// The headers a signature check reads; each must appear exactly once.
pub const SIGNING_HEADERS: [&str; 2] = [TIMESTAMP_HEADER, SIGNATURE_HEADER];

/// A request body, as received, that Slack signed (with its stamp, to spot replays); or Slack's
/// unsigned SSL probe.
pub enum SlackBody {
    Signed { body: Bytes, stamp: Stamp },
    SslCheck,
}

/// The verified timestamp and signature of a request: together they identify it.
pub struct Stamp {
    pub timestamp: i64,
    pub signature: String,
}

fn is_ssl_check(body: &[u8]) -> bool {
    SlashCommandForm::from_body(body).is_ok_and(|form| form.is_ssl_check())
}

/// Bodies up to this size are read to their end even when too large, so the `413` reaches an
/// honest client instead of a reset socket; beyond it the connection is simply dropped.
const DRAIN_LIMIT: usize = 1024 * 1024;

/// The body, if it is at most [`MAX_BODY_BYTES`]; `413` otherwise (read on to its end when that
/// is cheap, see [`DRAIN_LIMIT`]), `400` when the client breaks off.
async fn read_limited(body: axum::body::Body) -> Result<Bytes, StatusCode> {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| StatusCode::BAD_REQUEST)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen += data.len();
        if seen > DRAIN_LIMIT {
            return Err(StatusCode::PAYLOAD_TOO_LARGE);
        }
        if seen <= MAX_BODY_BYTES {
            kept.extend_from_slice(&data);
        }
    }
    if seen > MAX_BODY_BYTES {
        return Err(StatusCode::PAYLOAD_TOO_LARGE);
    }
    Ok(Bytes::from(kept))
}

impl FromRequest<AppState> for SlackBody {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let body = match read_limited(body).await {
            Ok(body) => body,
            Err(status) => {
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    state.metrics.rejected(Rejection::TooLarge);
                }
                return Err(status.into_response());
            }
        };
        // Exactly one of each: two signatures or timestamps are refused (as on Lambda, where
        // `multiValueHeaders` may carry several), never resolved by picking one.
        let header = |name| {
            let mut values = parts.headers.get_all(name).iter();
            match (values.next(), values.next()) {
                (first, None) => Ok(first.map(|v| v.as_bytes())),
                _ => Err(signature::SignatureError::Duplicated),
            }
        };
        let verified = header(TIMESTAMP_HEADER).and_then(|timestamp| {
            let signature = header(SIGNATURE_HEADER)?;
            signature::verify(&state.secret, timestamp, signature, &body, unix_now())?;
            Ok(Stamp {
                timestamp: std::str::from_utf8(timestamp.unwrap_or_default())
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or_default(),
                signature: String::from_utf8_lossy(signature.unwrap_or_default()).into_owned(),
            })
        });
        match verified {
            Ok(stamp) => Ok(Self::Signed { body, stamp }),
            // Slack's certificate probe; like Bolt, answer it and read nothing else from it.
            Err(_) if is_ssl_check(&body) => Ok(Self::SslCheck),
            Err(error) => {
                state.metrics.rejected(error.reason());
                // Anyone can send these at will: a flood must not become as many log lines.
                if let Some(suppressed) = state.rejection_log.admit() {
                    tracing::warn!(reason = error.reason().as_str(), %error, suppressed, "rejected a request that Slack did not sign");
                }
                Err(StatusCode::UNAUTHORIZED.into_response())
            }
        }
    }
}
