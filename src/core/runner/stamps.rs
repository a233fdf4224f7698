//! Keeping this service's records dated after the stage's last update (see
//! [`Timed::written_for`]): every write this service makes on a stage — a level, a record, a
//! claim, the sweep's lease — is followed by, or made together with, its other records written
//! again with the time, since AWS may date the stage for any of them. Only records that were
//! written for the stage as read are written again, so a record put back is never refreshed.

use super::Runner;
use crate::core::clock::{sleep, unix_now};
use crate::core::ports::{Gateway, GatewayError, Teller};
use crate::domain::{ApiId, STAMP_SLACK_SECS, StageName, Timed};

/// Whether a record written at `at` may already be dated before a write made now: past half
/// the slack, it is written again after the write.
pub(super) fn stamped_long_ago(at: i64) -> bool {
    unix_now() - at > STAMP_SLACK_SECS / 2
}

impl<G: Gateway, T: Teller> Runner<G, T> {
    /// `records` sealed for this stage again, written at `now`.
    pub(super) fn restamped(
        &self,
        api: &ApiId,
        stage: &StageName,
        records: &[Timed],
        now: i64,
    ) -> Vec<(String, String)> {
        records
            .iter()
            .filter_map(|record| self.sealed(api, stage, &record.stamped(now)))
            .collect()
    }

    /// Writes `records` (as read before a write of this service dated the stage) again, now,
    /// in one call; nothing when there are none. A failure is logged: each is then found
    /// outdated and told to a person rather than acted on.
    pub(super) async fn restamp(&self, api: &ApiId, stage: &StageName, records: &[Timed]) {
        if records.is_empty() {
            return;
        }
        let tags = self.restamped(api, stage, records, unix_now());
        if let Err(error) = self.gateway.tag(api, stage, &tags).await {
            tracing::warn!(%error, api = %api, stage = stage.as_str(), "could not write a stage's timed-change records again after a write; they are now told to a person at their end instead of put back");
        }
    }

    /// Waits until a write now would date the stage after `record` was written, slack and
    /// all: a timed change kept for good leaves its level as the record says, so only the
    /// stage's date can tell the decision from the record put back (at most the slack, and
    /// only when the record was written that recently).
    pub(super) async fn outdate(&self, record: &Timed) {
        let wait = record.at + STAMP_SLACK_SECS + 1 - unix_now();
        if wait > 0 {
            sleep(std::time::Duration::from_secs(wait as u64)).await;
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
        let mut tags = tags;
        tags.extend(self.restamped(api, stage, &view.timed, unix_now()));
        self.gateway.tag(api, stage, &tags).await
    }

    /// Removes a tag from a stage, then writes its records again, holding the stage from the
    /// read to the last write (a claim, the sweep's lease).
    pub async fn untag_stage(
        &self,
        api: &ApiId,
        stage: &StageName,
        key: &str,
    ) -> Result<(), GatewayError> {
        let _held = self.hold_stage(api, stage).await;
        let view = self.read_stage(api, stage).await?;
        self.gateway.untag(api, stage, key).await?;
        self.restamp(api, stage, &view.timed).await;
        Ok(())
    }
}
