//! Turns for `UpdateUsagePlan` in one account and region. AWS allows about one such call every
//! 20 seconds per account, far below the management budget the [`Pacer`](super::pacer) shares,
//! so plan writes take turns of their own: each reserves the next free slot, in order of
//! arrival. Hand-written rather than a second token bucket because the wait must be known
//! *before* a turn is taken — the acknowledgement tells the user how long their change will
//! queue — which a bucket crate does not expose without spending a token.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

pub struct PlanQueue {
    spacing: Duration,
    /// When the next write may go.
    next: Mutex<Instant>,
}

impl PlanQueue {
    pub fn new(spacing: Duration) -> Self {
        Self {
            spacing,
            next: Mutex::new(Instant::now()),
        }
    }

    /// How long a write asking now would wait for its turn.
    pub fn wait(&self) -> Duration {
        let next = *self.next.lock().expect("plan queue");
        next.saturating_duration_since(Instant::now())
    }

    /// AWS refused a write for its rate just now: its 20 s count from its last accepted call,
    /// which may be later than this queue's last turn began, so no turn comes before a full
    /// spacing from now.
    pub fn refused(&self) {
        let mut next = self.next.lock().expect("plan queue");
        *next = (*next).max(Instant::now() + self.spacing);
    }

    /// Reserves the next turn and waits for it; returns how long it waited.
    pub async fn turn(&self) -> Duration {
        let now = Instant::now();
        let slot = {
            let mut next = self.next.lock().expect("plan queue");
            let slot = (*next).max(now);
            *next = slot + self.spacing;
            slot
        };
        tokio::time::sleep_until(slot).await;
        slot - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn writes_take_turns_one_spacing_apart_in_order_of_arrival() {
        let queue = PlanQueue::new(Duration::from_secs(20));
        assert_eq!(queue.wait(), Duration::ZERO, "a quiet account goes at once");
        assert_eq!(queue.turn().await, Duration::ZERO);
        assert_eq!(queue.wait(), Duration::from_secs(20));
        let (second, third) = tokio::join!(queue.turn(), queue.turn());
        assert_eq!(
            (second, third),
            (Duration::from_secs(20), Duration::from_secs(40))
        );
        tokio::time::advance(Duration::from_secs(100)).await;
        assert_eq!(
            queue.wait(),
            Duration::ZERO,
            "turns do not pile up while quiet"
        );
        assert_eq!(queue.turn().await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_refusal_the_next_turn_is_a_full_spacing_away() {
        let queue = PlanQueue::new(Duration::from_secs(20));
        queue.turn().await;
        tokio::time::advance(Duration::from_secs(15)).await;
        queue.refused();
        assert_eq!(queue.wait(), Duration::from_secs(20));
        assert_eq!(queue.turn().await, Duration::from_secs(20));
    }
}
