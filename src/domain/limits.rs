use std::fmt;

use super::text::echo;

/// Why a rate or burst value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("rate `{0}` is not a number of requests per second (for example `50` or `0.5`)")]
    RateNotNumber(String),
    #[error("rate `{0}` must be zero or more")]
    RateNegative(String),
    #[error("rate `{0}` is too large (at most {max} requests per second)", max = RateLimit::MAX)]
    RateTooLarge(String),
    #[error("burst `{0}` is not a whole number of requests (for example `100`)")]
    BurstNotWhole(String),
    #[error("burst `{0}` must be zero or more")]
    BurstNegative(String),
    #[error("burst `{0}` is too large (at most {max})", max = BurstLimit::MAX)]
    BurstTooLarge(String),
}

/// Steady-state requests per second: finite, zero or more.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct RateLimit(f64);

impl RateLimit {
    /// Far above any account quota, and small enough to print without an exponent.
    pub const MAX: f64 = 1_000_000_000.0;

    pub fn parse(raw: &str) -> Result<Self, LimitError> {
        let trimmed = raw.trim();
        let looks_decimal = !trimmed.is_empty()
            && trimmed
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+'));
        let value: f64 = match trimmed.parse() {
            Ok(v) if looks_decimal => v,
            _ => return Err(LimitError::RateNotNumber(echo(raw))),
        };
        // `value` is finite here, so `new` can only find it negative or too large.
        Self::new(value).map_err(|e| match e {
            LimitError::RateNegative(_) => LimitError::RateNegative(echo(raw)),
            _ => LimitError::RateTooLarge(echo(raw)),
        })
    }

    pub fn new(value: f64) -> Result<Self, LimitError> {
        if !value.is_finite() {
            return Err(LimitError::RateNotNumber(echo(&value.to_string())));
        }
        if value < 0.0 {
            return Err(LimitError::RateNegative(echo(&value.to_string())));
        }
        if value > Self::MAX {
            return Err(LimitError::RateTooLarge(echo(&value.to_string())));
        }
        // Normalise -0.0 so it prints as `0`.
        Ok(Self(value + 0.0))
    }

    pub fn value(self) -> f64 {
        self.0
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // f64's Display prints the shortest exact form: 50 → "50", 0.5 → "0.5".
        write!(f, "{}", self.0)
    }
}

/// Bucket size in requests: a whole number that fits API Gateway's 32-bit integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BurstLimit(i32);

impl BurstLimit {
    pub const MAX: i32 = i32::MAX;

    pub fn parse(raw: &str) -> Result<Self, LimitError> {
        let trimmed = raw.trim();
        let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
        if let Some(rest) = digits.strip_prefix('-') {
            return if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()) {
                if rest.chars().all(|c| c == '0') {
                    Ok(Self(0))
                } else {
                    Err(LimitError::BurstNegative(echo(raw)))
                }
            } else {
                Err(LimitError::BurstNotWhole(echo(raw)))
            };
        }
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(LimitError::BurstNotWhole(echo(raw)));
        }
        digits
            .parse::<i32>()
            .map(Self)
            .map_err(|_| LimitError::BurstTooLarge(echo(raw)))
    }

    pub fn new(value: i64) -> Result<Self, LimitError> {
        if value < 0 {
            return Err(LimitError::BurstNegative(echo(&value.to_string())));
        }
        i32::try_from(value)
            .map(Self)
            .map_err(|_| LimitError::BurstTooLarge(echo(&value.to_string())))
    }

    pub fn value(self) -> i32 {
        self.0
    }
}

impl fmt::Display for BurstLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A rate and a burst, applied together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleLimits {
    pub rate: RateLimit,
    pub burst: BurstLimit,
}

/// Limits as configured at one level; `None` when not set there (inherited).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Configured {
    pub rate: Option<f64>,
    pub burst: Option<i32>,
}

impl Configured {
    /// API Gateway reports -1 for "not set at this level"; treat it as absent.
    pub fn from_reported(rate: Option<f64>, burst: Option<i32>) -> Self {
        Self {
            rate: rate.filter(|r| *r >= 0.0),
            burst: burst.filter(|b| *b >= 0),
        }
    }

    pub fn is_set(&self) -> bool {
        self.rate.is_some() || self.burst.is_some()
    }

    /// A rate or burst of 0 rejects every request with `429` (the trap HTTP API stages fall
    /// into when tools clear their throttling).
    pub fn blocks(&self) -> bool {
        self.rate == Some(0.0) || self.burst == Some(0)
    }
}

/// `5 req/s, burst 10`, or `not set` (plain words for errors and logs; chat messages have
/// their own rendering).
impl fmt::Display for Configured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = self
            .rate
            .map_or("not set".to_owned(), |r| format!("{r} req/s"));
        let burst = self.burst.map_or("not set".to_owned(), |b| b.to_string());
        if self.is_set() {
            write!(f, "{rate}, burst {burst}")
        } else {
            f.write_str("not set")
        }
    }
}

impl From<ThrottleLimits> for Configured {
    fn from(limits: ThrottleLimits) -> Self {
        Self {
            rate: Some(limits.rate.value()),
            burst: Some(limits.burst.value()),
        }
    }
}

/// The account's regional throttling quota; stage and method limits above it are capped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccountLimits {
    pub rate: f64,
    pub burst: i32,
}

/// A value the account's regional quota cannot honour.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum QuotaExceeded {
    #[error("rate {asked} req/s is above the account's regional limit of {limit} req/s")]
    Rate { asked: RateLimit, limit: f64 },
    #[error("burst {asked} is above the account's regional limit of {limit}")]
    Burst { asked: BurstLimit, limit: i32 },
}

impl AccountLimits {
    /// Why `limits` cannot be honoured under this quota, if they cannot. At the quota is fine.
    pub fn check(&self, limits: &ThrottleLimits) -> Result<(), QuotaExceeded> {
        if limits.rate.value() > self.rate {
            return Err(QuotaExceeded::Rate {
                asked: limits.rate,
                limit: self.rate,
            });
        }
        if limits.burst.value() > self.burst {
            return Err(QuotaExceeded::Burst {
                asked: limits.burst,
                limit: self.burst,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_accept_whole_and_fractional_requests_per_second() {
        assert_eq!(RateLimit::parse("50").unwrap().value(), 50.0);
        assert_eq!(RateLimit::parse("0.5").unwrap().value(), 0.5);
        assert_eq!(RateLimit::parse("0").unwrap().to_string(), "0");
        assert_eq!(RateLimit::parse("-0").unwrap().to_string(), "0");
        assert_eq!(RateLimit::parse("12.25").unwrap().to_string(), "12.25");
    }

    #[test]
    fn rates_refuse_words_infinities_and_negatives() {
        for bad in ["", "fast", "NaN", "inf", "infinity", "1e3", "0x10", "1,5"] {
            assert!(
                matches!(RateLimit::parse(bad), Err(LimitError::RateNotNumber(_))),
                "{bad} should be refused as not a number"
            );
        }
        assert!(matches!(
            RateLimit::parse("-1"),
            Err(LimitError::RateNegative(_))
        ));
        assert!(matches!(
            RateLimit::parse("99999999999"),
            Err(LimitError::RateTooLarge(_))
        ));
    }

    #[test]
    fn bursts_accept_whole_numbers_within_a_32_bit_integer() {
        assert_eq!(BurstLimit::parse("100").unwrap().value(), 100);
        assert_eq!(BurstLimit::parse("0").unwrap().value(), 0);
        assert_eq!(BurstLimit::parse("2147483647").unwrap().value(), i32::MAX);
    }

    #[test]
    fn bursts_refuse_fractions_negatives_and_overflow() {
        assert!(matches!(
            BurstLimit::parse("1.5"),
            Err(LimitError::BurstNotWhole(_))
        ));
        assert!(matches!(
            BurstLimit::parse("many"),
            Err(LimitError::BurstNotWhole(_))
        ));
        assert!(matches!(
            BurstLimit::parse("-5"),
            Err(LimitError::BurstNegative(_))
        ));
        assert!(matches!(
            BurstLimit::parse("2147483648"),
            Err(LimitError::BurstTooLarge(_))
        ));
        assert!(matches!(
            BurstLimit::new(-1),
            Err(LimitError::BurstNegative(_))
        ));
        for sign_only in ["-", "+", "+-", ""] {
            assert!(
                matches!(
                    BurstLimit::parse(sign_only),
                    Err(LimitError::BurstNotWhole(_))
                ),
                "{sign_only:?}"
            );
        }
        assert_eq!(BurstLimit::parse("-0").unwrap().value(), 0);
        assert_eq!(BurstLimit::parse("+7").unwrap().value(), 7);
    }

    #[test]
    fn reported_minus_one_means_not_set_and_zero_is_a_value() {
        // (rate reported, burst reported, rate kept, burst kept)
        for (rate, burst, kept_rate, kept_burst) in [
            (Some(-1.0), Some(-1), None, None),
            (Some(0.0), Some(0), Some(0.0), Some(0)),
            (Some(5.5), Some(10), Some(5.5), Some(10)),
            (None, Some(3), None, Some(3)),
            (Some(2.0), None, Some(2.0), None),
        ] {
            let configured = Configured::from_reported(rate, burst);
            assert_eq!(
                (configured.rate, configured.burst),
                (kept_rate, kept_burst),
                "{rate:?} {burst:?}"
            );
        }
    }

    #[test]
    fn a_level_is_set_when_either_value_is() {
        let only_rate = Configured {
            rate: Some(1.0),
            burst: None,
        };
        let only_burst = Configured {
            rate: None,
            burst: Some(1),
        };
        assert!(only_rate.is_set() && only_burst.is_set());
        assert!(!Configured::default().is_set());
    }

    #[test]
    fn a_zero_rate_or_burst_blocks_every_request_and_not_set_does_not() {
        let pair = |rate, burst| Configured { rate, burst };
        assert!(pair(Some(0.0), Some(0)).blocks());
        assert!(pair(Some(0.0), Some(10)).blocks());
        assert!(pair(Some(5.0), Some(0)).blocks());
        assert!(!pair(Some(0.5), Some(1)).blocks());
        assert!(!pair(None, None).blocks());
        assert!(!pair(None, Some(1)).blocks());
    }

    #[test]
    fn the_account_quota_allows_values_up_to_it() {
        let quota = AccountLimits {
            rate: 100.0,
            burst: 50,
        };
        let limits = |rate: f64, burst: i64| ThrottleLimits {
            rate: RateLimit::new(rate).unwrap(),
            burst: BurstLimit::new(burst).unwrap(),
        };
        assert_eq!(quota.check(&limits(100.0, 50)), Ok(()));
        assert!(matches!(
            quota.check(&limits(100.5, 50)),
            Err(QuotaExceeded::Rate { limit, .. }) if limit == 100.0
        ));
        assert!(matches!(
            quota.check(&limits(1.0, 51)),
            Err(QuotaExceeded::Burst { limit: 50, .. })
        ));
    }
}
