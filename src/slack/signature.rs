//! Slack's v0 request signature: HMAC-SHA256 over `v0:{timestamp}:{raw body}`.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::metrics::Rejection;

/// How far a request's timestamp may be from our clock, either way.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// The app's signing secret. Its `Debug` never shows the value.
#[derive(Clone)]
pub struct SigningSecret {
    len: usize,
    /// HMAC-SHA256 already keyed with the secret: every request starts from a copy of it
    /// rather than hashing the key again.
    keyed: Hmac<Sha256>,
}

impl SigningSecret {
    pub fn new(secret: impl Into<String>) -> Option<Self> {
        let secret = secret.into();
        let trimmed = secret.trim();
        (!trimmed.is_empty()).then(|| Self {
            len: trimmed.len(),
            keyed: Hmac::<Sha256>::new_from_slice(trimmed.as_bytes())
                .expect("HMAC accepts keys of any length"),
        })
    }

    /// A key for one purpose of our own (sealing payloads), never the secret itself.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        mac.update(b"throttle-bot key for ");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn mac(&self, timestamp: &[u8], body: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(b"v0:");
        mac.update(timestamp);
        mac.update(b":");
        mac.update(body);
        mac
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningSecret({} bytes)", self.len)
    }
}

/// Why a request was not accepted as Slack's. The text names the kind of fault only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing timestamp header")]
    MissingTimestamp,
    #[error("malformed timestamp header")]
    MalformedTimestamp,
    #[error("timestamp outside the allowed window")]
    Stale,
    #[error("missing signature header")]
    MissingSignature,
    #[error("malformed signature header")]
    MalformedSignature,
    #[error("signature does not match")]
    Mismatch,
    #[error("a signing header appears more than once")]
    Duplicated,
}

impl SignatureError {
    /// A short label for metrics.
    pub fn reason(self) -> Rejection {
        match self {
            Self::MissingTimestamp | Self::MissingSignature => Rejection::MissingHeader,
            Self::MalformedTimestamp | Self::MalformedSignature | Self::Duplicated => {
                Rejection::MalformedHeader
            }
            Self::Stale => Rejection::StaleTimestamp,
            Self::Mismatch => Rejection::BadSignature,
        }
    }
}

/// A signature's HMAC, as the bytes `v0=` and 64 hex digits spell.
pub type Digest = [u8; 32];

/// Checks a request against the secret as of `now` (Unix seconds). Constant-time comparison.
/// The verified signature's bytes identify the request (to spot it played again).
pub fn verify(
    secret: &SigningSecret,
    timestamp: Option<&[u8]>,
    signature: Option<&[u8]>,
    body: &[u8],
    now: i64,
) -> Result<Digest, SignatureError> {
    let timestamp = timestamp.ok_or(SignatureError::MissingTimestamp)?;
    let sent_at: i64 = std::str::from_utf8(timestamp)
        .ok()
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .ok_or(SignatureError::MalformedTimestamp)?;
    if (now - sent_at).abs() > MAX_CLOCK_SKEW_SECS {
        return Err(SignatureError::Stale);
    }
    let signature = signature.ok_or(SignatureError::MissingSignature)?;
    let digest = decode(signature).ok_or(SignatureError::MalformedSignature)?;
    secret
        .mac(timestamp, body)
        .verify_slice(&digest)
        .map_err(|_| SignatureError::Mismatch)?;
    Ok(digest)
}

/// `v0=` and 64 lower-case hex digits, as Slack spells every signature: one request has one
/// spelling, so a captured one cannot pass as new by its letter case.
fn decode(signature: &[u8]) -> Option<Digest> {
    let hex = signature
        .strip_prefix(b"v0=")
        .filter(|hex| hex.len() == 64)
        .filter(|hex| hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))?;
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hex, &mut digest).ok()?;
    Some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const SLACK_TIMESTAMP: &[u8] = b"1531420618";
    const SLACK_BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SLACK_SIGNATURE: &[u8] =
        b"v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    const SENT_AT: i64 = 1_531_420_618;

    fn secret() -> SigningSecret {
        SigningSecret::new(SLACK_SECRET).unwrap()
    }

    fn check(
        timestamp: Option<&[u8]>,
        signature: Option<&[u8]>,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        verify(&secret(), timestamp, signature, body, now).map(drop)
    }

    #[test]
    fn slacks_documented_example_verifies() {
        assert_eq!(
            check(
                Some(SLACK_TIMESTAMP),
                Some(SLACK_SIGNATURE),
                SLACK_BODY,
                SENT_AT
            ),
            Ok(())
        );
    }

    #[test]
    fn slacks_second_example_verifies() {
        let secret = SigningSecret::new("fa2c05deeef5a4077494e89f54394de0").unwrap();
        let signature = b"v0=baa91ef62d346e56607bbdd278a8acd570b91226854f15a382f43d33be42f666";
        assert_eq!(
            verify(
                &secret,
                Some(SLACK_TIMESTAMP),
                Some(signature),
                b"test-body",
                SENT_AT
            )
            .map(drop),
            Ok(())
        );
    }

    #[test]
    fn timestamps_within_five_minutes_either_way_are_accepted() {
        for now in [SENT_AT - 300, SENT_AT + 300] {
            assert_eq!(
                check(
                    Some(SLACK_TIMESTAMP),
                    Some(SLACK_SIGNATURE),
                    SLACK_BODY,
                    now
                ),
                Ok(())
            );
        }
    }

    #[test]
    fn timestamps_more_than_five_minutes_away_are_stale() {
        for now in [SENT_AT - 301, SENT_AT + 301] {
            assert_eq!(
                check(
                    Some(SLACK_TIMESTAMP),
                    Some(SLACK_SIGNATURE),
                    SLACK_BODY,
                    now
                ),
                Err(SignatureError::Stale)
            );
        }
    }

    #[test]
    fn a_changed_body_does_not_verify() {
        let mut body = SLACK_BODY.to_vec();
        body.extend_from_slice(b"&text=evil");
        assert_eq!(
            check(Some(SLACK_TIMESTAMP), Some(SLACK_SIGNATURE), &body, SENT_AT),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_different_secret_does_not_verify() {
        let other = SigningSecret::new("not-the-secret").unwrap();
        assert_eq!(
            verify(
                &other,
                Some(SLACK_TIMESTAMP),
                Some(SLACK_SIGNATURE),
                SLACK_BODY,
                SENT_AT
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn missing_and_malformed_headers_are_refused() {
        assert_eq!(
            check(None, Some(SLACK_SIGNATURE), SLACK_BODY, SENT_AT),
            Err(SignatureError::MissingTimestamp)
        );
        assert_eq!(
            check(Some(SLACK_TIMESTAMP), None, SLACK_BODY, SENT_AT),
            Err(SignatureError::MissingSignature)
        );
        for ts in [&b""[..], b"-1531420618", b"1531420618.5", b"soon"] {
            assert_eq!(
                check(Some(ts), Some(SLACK_SIGNATURE), SLACK_BODY, SENT_AT),
                Err(SignatureError::MalformedTimestamp)
            );
        }
        for sig in [
            &b"a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"[..],
            b"v1=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
            b"v0=a2114d57",
            b"v0=zz114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        ] {
            assert_eq!(
                check(Some(SLACK_TIMESTAMP), Some(sig), SLACK_BODY, SENT_AT),
                Err(SignatureError::MalformedSignature)
            );
        }
    }

    #[test]
    fn only_slacks_own_spelling_lower_case_v0_and_hex_is_accepted() {
        let hex = &SLACK_SIGNATURE[3..];
        let upper = |range: std::ops::Range<usize>| {
            let mut sig = SLACK_SIGNATURE.to_vec();
            sig[range].make_ascii_uppercase();
            sig
        };
        // One upper-case digit, all of them, and the prefix: each the same bytes as Slack's.
        let first_letter = 3 + hex.iter().position(u8::is_ascii_alphabetic).unwrap();
        for sig in [
            upper(first_letter..first_letter + 1),
            upper(3..SLACK_SIGNATURE.len()),
            upper(0..2),
        ] {
            assert_eq!(
                check(Some(SLACK_TIMESTAMP), Some(&sig), SLACK_BODY, SENT_AT),
                Err(SignatureError::MalformedSignature),
                "{}",
                String::from_utf8_lossy(&sig)
            );
        }
    }

    #[test]
    fn the_secret_is_never_shown_by_debug() {
        let shown = format!("{:?}", secret());
        assert!(!shown.contains(SLACK_SECRET));
        assert!(shown.contains("32 bytes"));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn signed(secret: &SigningSecret, timestamp: &[u8], body: &[u8]) -> Vec<u8> {
            let digest = secret.mac(timestamp, body).finalize().into_bytes();
            format!("v0={}", hex::encode(digest)).into_bytes()
        }

        proptest! {
            #[test]
            fn any_headers_and_body_are_judged_without_panicking(
                timestamp in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..24)),
                signature in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..80)),
                body in proptest::collection::vec(any::<u8>(), 0..256),
                now in any::<i64>(),
            ) {
                let _ = verify(&secret(), timestamp.as_deref(), signature.as_deref(), &body, now);
            }

            #[test]
            fn what_is_signed_verifies_and_any_changed_byte_does_not(
                body in proptest::collection::vec(any::<u8>(), 1..256),
                at in 1_000_000_000i64..4_000_000_000,
                skew in -MAX_CLOCK_SKEW_SECS..=MAX_CLOCK_SKEW_SECS,
                flip in any::<proptest::sample::Index>(),
                bit in 0u8..8,
            ) {
                let timestamp = at.to_string().into_bytes();
                let signature = signed(&secret(), &timestamp, &body);
                // What verifies is the signature's own bytes.
                let digest = verify(&secret(), Some(&timestamp), Some(&signature), &body, at + skew);
                prop_assert_eq!(digest.map(|d| [&b"v0="[..], hex::encode(d).as_bytes()].concat()), Ok(signature.clone()));
                let mut tampered = body.clone();
                let i = flip.index(tampered.len());
                tampered[i] ^= 1 << bit;
                prop_assert_eq!(
                    verify(&secret(), Some(&timestamp), Some(&signature), &tampered, at + skew),
                    Err(SignatureError::Mismatch)
                );
            }
        }
    }
}
