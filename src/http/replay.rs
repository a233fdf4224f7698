//! Refusing a captured signed request played again: each signature (its bytes, which also
//! cover the timestamp) that would change something is accepted once. Per process; see the
//! README for several replicas.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use crate::slack::signature::MAX_CLOCK_SKEW_SECS;

/// A signature's HMAC, or a digest naming what a press answers.
pub type Key = [u8; 32];

/// What a replay guard remembers: signatures (or press keys) still inside their window, by
/// their 32 bytes: two spellings of one are one.
pub struct ReplayGuard {
    capacity: usize,
    /// How long after its timestamp a key is remembered.
    window_secs: i64,
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    signatures: HashSet<Key>,
    /// (timestamp, signature), oldest first, to forget them once their window has passed.
    order: VecDeque<(i64, Key)>,
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
            capacity: capacity.max(1),
            window_secs,
            seen: Mutex::default(),
        }
    }

    /// True the first time this signed request is seen (as of `now`, Unix seconds).
    pub fn first_use(&self, timestamp: i64, key: &Key, now: i64) -> bool {
        let mut seen = self.seen.lock().expect("replay guard");
        while let Some((at, _)) = seen.order.front() {
            if at + self.window_secs >= now {
                break;
            }
            if let Some((_, old)) = seen.order.pop_front() {
                seen.signatures.remove(&old);
            }
        }
        if seen.signatures.contains(key) {
            return false;
        }
        if seen.order.len() >= self.capacity
            && let Some((_, old)) = seen.order.pop_front()
        {
            seen.signatures.remove(&old);
        }
        seen.signatures.insert(*key);
        seen.order.push_back((timestamp, *key));
        true
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
        assert_eq!(guard.seen.lock().unwrap().order.len(), 1);
    }

    #[test]
    fn memory_stays_bounded() {
        let guard = ReplayGuard::new(3);
        for i in 0..10 {
            assert!(guard.first_use(1000, &[i; 32], 1000));
        }
        let seen = guard.seen.lock().unwrap();
        assert_eq!((seen.order.len(), seen.signatures.len()), (3, 3));
        assert!(seen.signatures.contains(&[9; 32]));
    }
}
