//! One client-side pace for all of this process's API Gateway management calls. The account's
//! budget (~10 calls/s with bursts of 40, shared with every deploy pipeline) is AWS's token
//! bucket; ours is a smaller bucket of the same kind, so a quiet service's change goes at once
//! and a busy one never hammers.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// A token bucket: `burst` calls at once, refilled at `rate` per second (governor's GCRA).
pub struct Pacer {
    limiter: DefaultDirectRateLimiter,
}

impl Pacer {
    /// A rate that is not a positive number counts as 1 per second; a burst of 0 as 1.
    pub fn new(rate: f64, burst: u32) -> Self {
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            1.0
        };
        let period = Duration::from_secs_f64(1.0 / rate).max(Duration::from_nanos(1));
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(period)
            .expect("a period of at least 1 ns")
            .allow_burst(burst);
        Self {
            limiter: RateLimiter::direct(quota),
        }
    }

    /// Waits for this call's token.
    pub async fn wait(&self) {
        self.limiter.until_ready().await;
    }

    /// Takes a token if one is there now.
    #[cfg(test)]
    fn try_now(&self) -> bool {
        self.limiter.check().is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_lets_a_burst_through_at_once_and_no_more() {
        let pacer = Pacer::new(0.001, 5);
        for call in 0..5 {
            assert!(pacer.try_now(), "call {call} of the burst");
        }
        assert!(!pacer.try_now(), "the sixth waits for a refill");
    }

    #[test]
    fn nonsense_settings_still_pace() {
        for (rate, burst) in [(0.0, 0), (-1.0, 0), (f64::NAN, 0), (f64::INFINITY, 0)] {
            let pacer = Pacer::new(rate, burst);
            assert!(pacer.try_now(), "{rate}/{burst}: the first call goes");
            assert!(!pacer.try_now(), "{rate}/{burst}: a burst of one");
        }
    }

    #[tokio::test]
    async fn a_call_waits_for_its_token_rather_than_failing() {
        let pacer = Pacer::new(1_000.0, 1);
        pacer.wait().await;
        // Empty now; the next token comes 1 ms later and the call then goes.
        pacer.wait().await;
    }
}
