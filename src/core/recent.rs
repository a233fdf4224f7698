//! A bounded memory of what was seen lately: each key until a time of its own, the oldest
//! forgotten first when the memory is full. What must be acted on or told once (signed
//! requests, presses, Socket Mode envelopes, records not sealed here) is remembered this way:
//! never more than `capacity` keys, and a flood makes it forget early, never stop remembering.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

#[derive(Debug)]
pub struct Recent<K, T> {
    capacity: usize,
    until: HashMap<K, T>,
    /// Keys as they came, oldest first, with the time each was remembered until then.
    order: VecDeque<(K, T)>,
}

impl<K: Hash + Eq + Clone, T: Ord + Copy> Recent<K, T> {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            until: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// True unless `key` is remembered at `now`; it is then remembered until just before
    /// `until`.
    pub fn first(&mut self, key: K, until: T, now: T) -> bool {
        while self.order.front().is_some_and(|(_, at)| *at <= now) {
            self.forget_oldest();
        }
        if self.until.get(&key).is_some_and(|at| now < *at) {
            return false;
        }
        while self.order.len() >= self.capacity {
            self.forget_oldest();
        }
        self.until.insert(key.clone(), until);
        self.order.push_back((key, until));
        true
    }

    /// Whether `key` is remembered at `now` (without remembering it).
    pub fn knows(&self, key: &K, now: T) -> bool {
        self.until.get(key).is_some_and(|at| now < *at)
    }

    /// Forgets `key` now (its stale entry in the order is skipped when it comes up).
    pub fn forget(&mut self, key: &K) {
        self.until.remove(key);
    }

    /// How many keys are remembered (some perhaps past their time, until the next call).
    pub fn len(&self) -> usize {
        self.until.len()
    }

    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }

    fn forget_oldest(&mut self) {
        // A key that came again after its time has a newer entry further on: that one stays.
        if let Some((key, until)) = self.order.pop_front()
            && self.until.get(&key) == Some(&until)
        {
            self.until.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forgotten_key_is_new_again() {
        let mut recent = Recent::new(10);
        assert!(recent.first("a", 100, 0));
        recent.forget(&"a");
        assert!(recent.first("a", 100, 1));
        assert!(!recent.first("a", 100, 2));
    }

    #[test]
    fn a_key_is_remembered_until_its_time() {
        let mut recent = Recent::new(10);
        assert!(recent.first("a", 100, 0));
        assert!(!recent.first("a", 200, 99));
        assert!(recent.first("a", 200, 100), "forgotten at its time");
        assert!(!recent.first("a", 300, 199), "remembered again, until 200");
        assert!(recent.first("b", 150, 199));
    }

    #[test]
    fn a_full_memory_forgets_its_oldest_key_and_keeps_the_newest() {
        let mut recent = Recent::new(2);
        for key in ["a", "b", "c"] {
            assert!(recent.first(key, 100, 0));
        }
        assert_eq!(recent.len(), 2);
        assert!(!recent.first("b", 100, 1));
        assert!(!recent.first("c", 100, 1));
        assert!(recent.first("a", 100, 1), "the oldest made room");
    }

    #[test]
    fn keys_whose_time_came_are_let_go_even_out_of_order() {
        let mut recent = Recent::new(10);
        // Times need not follow arrival (signed requests' timestamps do not).
        assert!(recent.first("late", 500, 0));
        assert!(recent.first("early", 100, 0));
        assert!(
            recent.first("early", 600, 100),
            "past its time, behind a later one"
        );
        assert!(!recent.first("early", 700, 499));
        assert!(recent.first("late", 700, 500));
        // The first "early" entry goes; the one that replaced it stays.
        assert!(!recent.first("early", 800, 599));
    }

    #[test]
    fn memory_stays_bounded_whatever_comes() {
        let mut recent = Recent::new(3);
        for i in 0..1000 {
            recent.first(i % 7, i + 5, i);
            assert!(recent.len() <= 3 && recent.order.len() <= 3);
        }
    }
}
