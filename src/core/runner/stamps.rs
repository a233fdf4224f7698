//! Keeping this service's records dated after the stage's last update (see
//! [`Timed::written_for`]): every write this service makes on a stage — a level, a record, a
//! claim, the sweep's lease — is made together with, or just after, its other records written
//! again with the time (and they are written again after it if it landed late), since AWS may
//! date the stage for any of them; interrupted after any call, they still count. Only records
//! that were written for the stage as read are written again, so a record put back is never
//! refreshed.

use super::Runner;
use crate::core::clock::{sleep, unix_now};
use crate::core::ports::{Gateway, GatewayError, Teller};
use crate::domain::{ApiId, STAMP_SLACK_SECS, StageName, Timed};

/// Whether a record written at `at` may already be dated before a write made now: past half
/// the slack, it is written again after the write.
pub(super) fn stamped_long_ago(at: i64) -> bool {
    landed_late(at, unix_now())
}

/// Whether a write answered at `now` may have dated the stage past records stamped at
/// `stamp`: past half the slack (the other half is for a clock a little behind AWS's).
fn landed_late(stamp: i64, now: i64) -> bool {
    now - stamp > STAMP_SLACK_SECS / 2
}

/// Whether a stage last updated at `updated` was not dated after `record` was written (where
/// it has a date at all): a decision that ended the record could not be told from it.
fn undated(updated: Option<i64>, record: &Timed) -> bool {
    updated.is_some() && record.written_for(updated)
}

/// Whether a stamped write carrying `records` records, made `tries` times and last stamped at
/// `stamp`, is made again when answered at `now`: it landed late, and it was not made too
/// often already.
fn write_again(records: usize, tries: usize, stamp: i64, now: i64) -> bool {
    records > 0 && landed_late(stamp, now) && tries < STAMP_TRIES
}

/// `first` and `others`, to be written together.
pub(super) fn with_others(first: &Timed, others: &[Timed]) -> Vec<Timed> {
    std::iter::once(first).chain(others).cloned().collect()
}

/// How often a stamped write is made again because it landed too long after its stamp.
const STAMP_TRIES: usize = 3;

impl<G: Gateway, T: Teller> Runner<G, T> {
    /// `records` sealed for this stage again, written at `now`. One that no longer fits a tag
    /// (a record from an earlier release near the limit) is left as it is, and said.
    pub(super) fn restamped(
        &self,
        api: &ApiId,
        stage: &StageName,
        records: &[Timed],
        now: i64,
    ) -> Vec<(String, String)> {
        let mut tags = Vec::new();
        for record in records {
            match self.sealed(api, stage, &record.stamped(now)) {
                Some(tag) => tags.push(tag),
                None => {
                    tracing::warn!(api = %api, stage = stage.as_str(), level = %record.level, "a timed change's record no longer fits a tag with its time; it is told to a person at its end instead of put back")
                }
            }
        }
        tags
    }

    /// Writes `extra` tags and `records` stamped now, in one TagResource; a call that lands
    /// too long after its stamp (the process's pace, the SDK's retries) is made again with a
    /// new one, so that a write that dates the stage never outdates what it carries. Returns
    /// the stamp the records were last written with.
    pub(super) async fn tag_stamped(
        &self,
        api: &ApiId,
        stage: &StageName,
        extra: &[(String, String)],
        records: &[Timed],
    ) -> Result<i64, GatewayError> {
        let mut tries = 0;
        loop {
            let now = unix_now();
            let mut tags = extra.to_vec();
            tags.extend(self.restamped(api, stage, records, now));
            self.gateway.tag(api, stage, &tags).await?;
            tries += 1;
            if !write_again(records.len(), tries, now, unix_now()) {
                if landed_late(now, unix_now()) && !records.is_empty() {
                    tracing::warn!(api = %api, stage = stage.as_str(), tries, "a stage's timed-change records kept landing seconds after their time; if AWS dated the stage for them, their ends are told to a person instead of put back");
                }
                return Ok(now);
            }
        }
    }

    /// Writes `records` (as read before a write of this service dated the stage, or is about
    /// to) again, now, in one call; nothing when there are none. Returns the stamp. A failure
    /// is logged: each is then found outdated and told to a person rather than acted on.
    pub(super) async fn restamp(
        &self,
        api: &ApiId,
        stage: &StageName,
        records: &[Timed],
    ) -> Option<i64> {
        if records.is_empty() {
            return None;
        }
        match self.tag_stamped(api, stage, &[], records).await {
            Ok(stamp) => Some(stamp),
            Err(error) => {
                tracing::warn!(%error, api = %api, stage = stage.as_str(), "could not write a stage's timed-change records again around a write; they are told to a person at their end instead of put back");
                None
            }
        }
    }

    /// Waits until a write now would date the stage after `record` was written, slack and
    /// all (and a second more for a clock a little ahead of AWS's): a timed change kept for
    /// good leaves its level as the record says, so only the stage's date can tell the
    /// decision from the record put back (at most that long, and only when the record was
    /// written that recently).
    pub(super) async fn outdate(&self, record: &Timed) {
        let wait = record.at + STAMP_SLACK_SECS + 2 - unix_now();
        // Under a scripted `try` time moves only when told: nothing could be put back meanwhile.
        if wait > 0 && crate::core::clock::runs() {
            sleep(std::time::Duration::from_secs(wait as u64)).await;
        }
    }

    /// After a timed change was kept for good with its own values: whether AWS dated the stage
    /// after its record, as it must for the record, put back, never to act. Said when not
    /// (AWS's reference does not say which calls date a stage).
    pub(super) async fn check_outdated(&self, api: &ApiId, stage: &StageName, record: &Timed) {
        let Ok(view) = self.gateway.read_stage(api, stage).await else {
            return;
        };
        if undated(view.updated, record) {
            tracing::warn!(api = %api, stage = stage.as_str(), level = %record.level, "API Gateway did not date the stage for a timed change kept for good (neither the record's removal nor the write of its values moved lastUpdatedDate): its record, if put back by someone who may tag the stage, could still act once");
        }
    }

    /// Writes `tags` on a stage with its records written again in the same call, holding the
    /// stage from the read to the write (the sweep's lease).
    pub async fn tag_stage(
        &self,
        api: &ApiId,
        stage: &StageName,
        tags: Vec<(String, String)>,
    ) -> Result<(), GatewayError> {
        let _held = self.hold_stage(api, stage).await;
        let view = self.read_stage(api, stage).await?;
        self.tag_stamped(api, stage, &tags, &view.timed).await?;
        Ok(())
    }

    /// Removes a tag from a stage, its records written again just before, holding the stage
    /// from the read to the last write (a claim, the sweep's lease). A stage that cannot be
    /// read keeps the tag (a claim or a lease then runs out by itself).
    pub async fn untag_stage(
        &self,
        api: &ApiId,
        stage: &StageName,
        key: &str,
    ) -> Result<(), GatewayError> {
        let _held = self.hold_stage(api, stage).await;
        let view = self.read_stage(api, stage).await?;
        self.restamp(api, stage, &view.timed).await;
        self.gateway.untag(api, stage, key).await
    }

    /// Makes `write` (a call outside these steps that may date the stage: the sweep's marker
    /// on a stage holding records from an earlier release) with the stage's records, as read
    /// before it, written again right after, holding the stage throughout.
    pub async fn around<E>(
        &self,
        api: &ApiId,
        stage: &StageName,
        write: impl Future<Output = Result<(), E>>,
    ) -> Result<(), E> {
        let _held = self.hold_stage(api, stage).await;
        let records = match self.read_stage(api, stage).await {
            Ok(view) => view.timed,
            Err(_) => Vec::new(),
        };
        write.await?;
        self.restamp(api, stage, &records).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamped_write_that_lands_late_is_made_again_a_few_times_at_most() {
        // Within half the slack of its stamp, it stands.
        assert!(!landed_late(100, 100 + STAMP_SLACK_SECS / 2));
        assert!(landed_late(100, 101 + STAMP_SLACK_SECS / 2));
        assert!(!write_again(2, 1, 100, 102));
        // Later: again, until it was made three times.
        assert!(write_again(2, 1, 100, 103));
        assert!(write_again(2, STAMP_TRIES - 1, 100, 103));
        assert!(!write_again(2, STAMP_TRIES, 100, 103));
        // Carrying no record, there is nothing to keep dated.
        assert!(!write_again(0, 1, 100, 103));
    }

    #[test]
    fn a_decision_is_told_from_its_record_only_by_a_later_date() {
        let level = crate::domain::Level::Stage;
        let values = crate::domain::Configured::default();
        let hold = (1_000, crate::domain::Hold::parse("30m").unwrap());
        let record = Timed::start(level, values, values, None, hold, "U1".into(), None);
        assert!(undated(Some(1_000 + STAMP_SLACK_SECS), &record));
        assert!(!undated(Some(1_001 + STAMP_SLACK_SECS), &record));
        // No date at all (a usage plan): nothing to say.
        assert!(!undated(None, &record));
    }
}
