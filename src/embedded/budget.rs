//! The management calls' budget every caller in an account shares (about 10 a second, bursts
//! of 40, deploy pipelines included: `../shared/aws-facts.md`): past it, AWS answers 429
//! `TooManyRequestsException`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use crate::core::clock::unix_now;

/// A token bucket refilled on the real clock.
pub struct Budget {
    per_second: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
    /// Until when (Unix seconds) another caller in the account spends it all.
    spent_until: AtomicI64,
}

impl Budget {
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self {
            per_second,
            burst: f64::from(burst),
            state: Mutex::new((f64::from(burst), Instant::now())),
            spent_until: AtomicI64::new(i64::MIN),
        }
    }

    /// API Gateway's: 10 a second, bursts of 40.
    pub fn api_gateway() -> Self {
        Self::new(10.0, 40)
    }

    /// Another caller (a deploy pipeline) spends the whole budget until `until` (Unix seconds).
    pub fn spend_until(&self, until: i64) {
        self.spent_until.fetch_max(until, Ordering::SeqCst);
    }

    /// Spends one call; `false` when none is left.
    pub fn take(&self) -> bool {
        if unix_now() < self.spent_until.load(Ordering::SeqCst) {
            return false;
        }
        let mut state = self.state.lock().unwrap();
        let (tokens, since) = &mut *state;
        *tokens = (*tokens + since.elapsed().as_secs_f64() * self.per_second).min(self.burst);
        *since = Instant::now();
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_past_the_budget_is_refused_until_it_refills() {
        let budget = Budget::new(10.0, 40);
        let refused = (0..45).filter(|_| !budget.take()).count();
        assert!((4..=5).contains(&refused), "{refused}");
        std::thread::sleep(std::time::Duration::from_millis(250));
        assert!(budget.take());
    }
}
