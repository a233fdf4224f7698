//! Payloads we hand to ourselves through someone else (an asynchronous Lambda invocation, later
//! a button's value): sealed with a MAC keyed from the signing secret and given an expiry, so
//! nobody who may merely invoke the function can forge or replay one.

use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::signature::SigningSecret;

/// A key for one purpose, derived from the signing secret: a MAC for deferred jobs is useless
/// as a MAC for anything else. `Debug` shows only the purpose.
#[derive(Clone)]
pub struct SealKey {
    purpose: &'static str,
    key: [u8; 32],
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealKey({})", self.purpose)
    }
}

/// A value with its expiry (Unix seconds) and MAC, as it travels.
#[derive(Debug, Serialize, Deserialize)]
pub struct Sealed<T> {
    pub body: T,
    pub expires_at: i64,
    pub mac: String,
}

/// Why a sealed value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("it is not sealed by this service (its MAC does not match)")]
    Forged,
    #[error("it expired")]
    Expired,
}

impl SealKey {
    pub fn derive(secret: &SigningSecret, purpose: &'static str) -> Self {
        Self {
            purpose,
            key: secret.derive(purpose),
        }
    }

    fn mac(&self, body: &[u8], expires_at: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(&expires_at.to_be_bytes());
        mac.update(body);
        mac
    }

    pub fn seal<T: Serialize>(&self, body: T, expires_at: i64) -> Sealed<T> {
        let bytes = canonical(&body).expect("a sealed body serialises");
        let mac = hex::encode(self.mac(&bytes, expires_at).finalize().into_bytes());
        Sealed {
            body,
            expires_at,
            mac,
        }
    }

    /// The body, if this key sealed it and it has not expired by `now` (Unix seconds). The MAC
    /// is checked over the body's canonical encoding, so field order cannot matter.
    pub fn open<T: Serialize + DeserializeOwned>(
        &self,
        sealed: Sealed<T>,
        now: i64,
    ) -> Result<T, SealError> {
        let bytes = canonical(&sealed.body).map_err(|_| SealError::Forged)?;
        // Lower-case hex, as sealed: one value has one spelling.
        if sealed.mac.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(SealError::Forged);
        }
        let tag = hex::decode(&sealed.mac).map_err(|_| SealError::Forged)?;
        self.mac(&bytes, sealed.expires_at)
            .verify_slice(&tag)
            .map_err(|_| SealError::Forged)?;
        if now > sealed.expires_at {
            return Err(SealError::Expired);
        }
        Ok(sealed.body)
    }
}

/// JSON with object keys sorted (serde_json's map is ordered by key), whatever the type.
fn canonical<T: Serialize>(body: &T) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(&serde_json::to_value(body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(purpose: &'static str) -> SealKey {
        SealKey::derive(&SigningSecret::new("s3cret").unwrap(), purpose)
    }

    #[test]
    fn a_sealed_value_opens_until_it_expires() {
        let sealed = key("job").seal("hello".to_owned(), 100);
        let again = key("job").seal("hello".to_owned(), 100);
        assert_eq!(key("job").open(sealed, 100), Ok("hello".to_owned()));
        assert_eq!(key("job").open(again, 101), Err(SealError::Expired));
    }

    #[test]
    fn changed_values_expiries_other_purposes_and_other_secrets_are_refused() {
        let mut changed = key("job").seal("hello".to_owned(), 100);
        changed.body = "hellO".to_owned();
        assert_eq!(key("job").open(changed, 0), Err(SealError::Forged));
        let mut later = key("job").seal("hello".to_owned(), 100);
        later.expires_at = 10_000;
        assert_eq!(key("job").open(later, 0), Err(SealError::Forged));
        let elsewhere = key("button").seal("hello".to_owned(), 100);
        assert_eq!(key("job").open(elsewhere, 0), Err(SealError::Forged));
        let other = SealKey::derive(&SigningSecret::new("other").unwrap(), "job")
            .seal("hello".to_owned(), 100);
        assert_eq!(key("job").open(other, 0), Err(SealError::Forged));
        let mut garbage = key("job").seal("hello".to_owned(), 100);
        garbage.mac = "zz".to_owned();
        assert_eq!(key("job").open(garbage, 0), Err(SealError::Forged));
    }

    #[test]
    fn a_mac_is_read_only_as_it_was_written_in_lower_case() {
        let mut upper = key("job").seal("hello".to_owned(), 100);
        upper.mac = upper.mac.to_ascii_uppercase();
        assert_eq!(key("job").open(upper, 0), Err(SealError::Forged));
    }

    #[test]
    fn the_key_never_prints() {
        assert_eq!(format!("{:?}", key("job")), "SealKey(job)");
    }
}
