//! The extractor that reads a body once and lets it through only if Slack signed it.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{MAX_BODY_BYTES, Shared};
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
    /// The signature's bytes (Slack spells them one way only, see [`signature::verify`]).
    pub signature: signature::Digest,
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
    // A body usually arrives in one frame: kept as it came, without a copy.
    let mut first: Option<Bytes> = None;
    let mut joined = Vec::new();
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
            match first.take() {
                None if joined.is_empty() => first = Some(data),
                Some(earlier) => {
                    joined.extend_from_slice(&earlier);
                    joined.extend_from_slice(&data);
                }
                None => joined.extend_from_slice(&data),
            }
        }
    }
    if seen > MAX_BODY_BYTES {
        return Err(StatusCode::PAYLOAD_TOO_LARGE);
    }
    Ok(first.unwrap_or_else(|| Bytes::from(joined)))
}

impl FromRequest<Shared> for SlackBody {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Shared) -> Result<Self, Self::Rejection> {
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
                (first, None) => Ok(first),
                _ => Err(signature::SignatureError::Duplicated),
            }
        };
        let verified = header(TIMESTAMP_HEADER).and_then(|timestamp| {
            let signature = header(SIGNATURE_HEADER)?;
            let signature = signature::verify(
                &state.secret,
                timestamp.map(HeaderValue::as_bytes),
                signature.map(HeaderValue::as_bytes),
                &body,
                unix_now(),
            )?;
            // Present once verified.
            Ok(Stamp {
                timestamp: timestamp
                    .and_then(|t| t.to_str().ok())
                    .and_then(|t| t.parse().ok())
                    .unwrap_or_default(),
                signature,
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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use hyper::body::Frame;

    use super::*;

    /// A body that arrives in the given pieces, as from a client that sends it in several writes.
    struct Pieces(VecDeque<Bytes>);

    impl hyper::body::Body for Pieces {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(self.0.pop_front().map(|piece| Ok(Frame::data(piece))))
        }
    }

    async fn read(pieces: &[&[u8]]) -> Result<Bytes, StatusCode> {
        let pieces = pieces.iter().map(|p| Bytes::copy_from_slice(p)).collect();
        read_limited(axum::body::Body::new(Pieces(pieces))).await
    }

    #[tokio::test]
    async fn a_body_is_read_whole_however_it_arrives() {
        assert_eq!(read(&[b"text=help"]).await.unwrap(), "text=help");
        assert_eq!(read(&[b"text", b"=he", b"lp"]).await.unwrap(), "text=help");
        assert_eq!(read(&[b"", b"text=help"]).await.unwrap(), "text=help");
        assert_eq!(read(&[]).await.unwrap(), "");
    }

    #[tokio::test]
    async fn a_body_in_one_piece_is_kept_as_it_came() {
        let piece = Bytes::from_static(b"text=help");
        let read = read_limited(axum::body::Body::new(Pieces([piece.clone()].into())))
            .await
            .unwrap();
        assert_eq!(read.as_ptr(), piece.as_ptr(), "no copy of a one-frame body");
    }

    /// A body that never ends, in pieces of `size` bytes.
    struct Endless(usize);

    impl hyper::body::Body for Endless {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'a'; self.0])))))
        }
    }

    #[tokio::test]
    async fn a_body_that_never_ends_is_given_up_on_past_the_drain_limit() {
        // Pieces that never add up to the limit exactly: reading stops once past it.
        let status = read_limited(axum::body::Body::new(Endless(1000)))
            .await
            .unwrap_err();
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_in_one_piece_or_several() {
        let half = vec![b'a'; MAX_BODY_BYTES / 2 + 1];
        let status = read(&[&half, &half]).await.unwrap_err();
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let whole = vec![b'a'; MAX_BODY_BYTES + 1];
        let status = read(&[&whole]).await.unwrap_err();
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let exactly = vec![b'a'; MAX_BODY_BYTES];
        assert_eq!(
            read(&[&exactly[..10], &exactly[10..]]).await.unwrap().len(),
            MAX_BODY_BYTES
        );
    }
}
