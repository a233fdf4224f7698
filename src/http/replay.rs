//! Refusing a captured signed request played again: each signature (its bytes, which also
//! cover the timestamp) that would change something is accepted once. Per process; see the
//! README for several replicas.

use std::sync::Mutex;

use crate::core::recent::Recent;
use crate::slack::signature::MAX_CLOCK_SKEW_SECS;

/// A signature's HMAC, or a digest naming what a press answers.
pub type Key = [u8; 32];

/// What a replay guard remembers: signatures (or press keys) still inside their window, by
/// their 32 bytes: two spellings of one are one.
pub struct ReplayGuard {
    /// How long after its timestamp a key is remembered.
    window_secs: i64,
    seen: Mutex<Recent<Key, i64>>,
}

impl ReplayGuard {
    /// Remembers up to `capacity` signatures. Past that, the oldest are forgotten early (and
    /// could be replayed once until their window closes): the memory stays bounded under a flood
    /// of validly signed requests, which only Slack's secret can make.
    pub fn new(capacity: usize) -> Self {
        Self::remembering(capacity, MAX_CLOCK_SKEW_SECS)
    }

    /// The same, remembering each key for `window_secs` after its timestamp (for presses on
    /// buttons, as long as a button works).
    pub fn remembering(capacity: usize, window_secs: i64) -> Self {
        Self {
            window_secs,
            seen: Mutex::new(Recent::new(capacity)),
        }
    }

    /// Forgets a key, so that it is new again: a press whose request could not run (busy, or
    /// failed for a reason that may pass) may be pressed again.
    pub fn forget(&self, key: &Key) {
        self.seen.lock().expect("replay guard").forget(key);
    }

    /// True the first time this signed request is seen (as of `now`, Unix seconds).
    pub fn first_use(&self, timestamp: i64, key: &Key, now: i64) -> bool {
        // Up to and including the last second its signature verifies.
        let until = timestamp.saturating_add(self.window_secs).saturating_add(1);
        self.seen
            .lock()
            .expect("replay guard")
            .first(*key, until, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_request_is_accepted_once_within_its_window() {
        let guard = ReplayGuard::new(100);
        assert!(guard.first_use(1000, &[0xaa; 32], 1000));
        assert!(!guard.first_use(1000, &[0xaa; 32], 1001));
        assert!(!guard.first_use(1000, &[0xaa; 32], 1000 + MAX_CLOCK_SKEW_SECS));
        assert!(guard.first_use(1000, &[0xbb; 32], 1001));
    }

    #[test]
    fn signatures_are_forgotten_once_their_window_has_passed() {
        let guard = ReplayGuard::new(100);
        assert!(guard.first_use(1000, &[0xaa; 32], 1000));
        // By then the signature check itself refuses the timestamp as stale.
        assert!(guard.first_use(1000, &[0xaa; 32], 1001 + MAX_CLOCK_SKEW_SECS));
        assert_eq!(guard.seen.lock().unwrap().len(), 1);
    }

    #[test]
    fn memory_stays_bounded() {
        let guard = ReplayGuard::new(3);
        for i in 0..10 {
            assert!(guard.first_use(1000, &[i; 32], 1000));
        }
        assert_eq!(guard.seen.lock().unwrap().len(), 3);
        assert!(!guard.first_use(1000, &[9; 32], 1000), "the newest stay");
    }
}
