//! Writing a decided change: its timed-change record first (or the one it ends), then the
//! level, then what is told; a write with no answer is read back before it is called failed.

use super::super::outcome::{Failure, Outcome};
use super::super::ports::{Gateway, GatewayError, Teller};
use super::stamps::{stamped_long_ago, with_others};
use super::{RecordStep, Runner, changed};
use crate::domain::{ApiId, Applied, Level, StageName, ThrottleChange, Timed};

impl<G: Gateway, T: Teller> Runner<G, T> {
    pub(super) async fn commit_change(
        &self,
        change: ThrottleChange,
        mut applied: Applied,
        mut record: RecordStep,
        others: &[Timed],
    ) -> Outcome {
        let api = applied.api.id.clone();
        if let RecordStep::Keep(kept, prior) = record {
            // The deadline is handed on first (a one-time schedule on Lambda): a schedule
            // with no record does nothing, but a change that cannot end by itself is refused.
            if let Err(failure) = self.hand_on(&api, &change.stage, &kept).await {
                return changed(&change, Err(failure));
            }
            // Then the record: a change made without it could never put itself back.
            match self.keep(&api, &change.stage, &kept, others).await {
                Ok(written) => record = RecordStep::Keep(written, prior),
                Err(error) => return changed(&change, Err(error.into())),
            }
        }
        // Kept for good with its own values, the level stays as the record says: it is removed
        // (and the values written) only once the stage's date can tell the decision from the
        // record, so that, put back later, it is never acted on.
        if let RecordStep::End(ended) = &record
            && applied.before == applied.after
        {
            self.outdate(ended).await;
        }
        // The other levels' records are written again before anything here dates the stage (a
        // new record was, with them): interrupted after any step, they still count.
        let stamp = match &record {
            RecordStep::Keep(kept, _) => Some(kept.at),
            _ => self.restamp(&api, &change.stage, others).await,
        };
        // A change for good over a timed change: its record goes first. Left behind, it would
        // put its values back at its deadline over the decision, so if it cannot be removed
        // nothing is changed and the person is told. A record set aside as outdated is never
        // acted on: one that cannot be removed is left for its end to tell of.
        match &record {
            RecordStep::End(ended) => {
                if let Some(key) = Timed::tag_key(&ended.level)
                    && let Err(error) = self.gateway.untag(&api, &change.stage, &key).await
                {
                    return changed(&change, Err(Failure::RecordStays(error.to_string())));
                }
            }
            RecordStep::Discard(outdated) => {
                if let Some(key) = Timed::tag_key(&outdated.level)
                    && let Err(error) = self.gateway.untag(&api, &change.stage, &key).await
                {
                    tracing::warn!(%error, api = %api, stage = change.stage.as_str(), "could not remove a record set aside as outdated; it is never acted on, and its end is told");
                }
            }
            _ => {}
        }
        // The same values again only end or re-time the timed change: no write is needed,
        // except to date the stage when a timed change ends for good (where AWS does not date
        // it for the record's removal) so that its record, put back, is never acted on.
        let ends_for_good = matches!(record, RecordStep::End(_)) && applied.after.is_set();
        let writes = applied.before != applied.after || ends_for_good;
        let written = if !writes {
            Ok(())
        } else {
            // What the plan says the level will hold (a reset may write values, see `plan`).
            self.gateway
                .write(
                    &api,
                    &change.stage,
                    &change.level,
                    &applied.after.as_action(),
                )
                .await
        };
        // No answer is not "not written": AWS may have applied it. The level holding what was
        // asked is a write that landed (else a timed change's record would go while its values
        // stay, with nothing to end them).
        let written = match written {
            Err(GatewayError::Timeout { .. } | GatewayError::Unreachable { .. })
                if self
                    .holds(&api, &change.stage, &change.level, applied.after)
                    .await =>
            {
                Ok(())
            }
            other => other,
        };
        if let Err(error) = written {
            match &record {
                RecordStep::Keep(record, prior) => {
                    self.unkeep(&api, &change.stage, record, prior.as_ref(), others)
                        .await;
                }
                // The level still holds the timed change: its record goes back with it.
                RecordStep::End(record) => {
                    self.unkeep(&api, &change.stage, record, Some(record), others)
                        .await;
                }
                // An outdated record is never written again, whatever happened.
                RecordStep::Untouched | RecordStep::Discard(_) => {
                    self.restamp(&api, &change.stage, others).await;
                }
            }
            return changed(&change, Err(error.into()));
        }
        // A slow write may have dated the stage past the records written before it: they are
        // written again after it.
        if let Some(stamp) = stamp
            && stamped_long_ago(stamp)
        {
            let all = match &record {
                RecordStep::Keep(kept, _) => with_others(kept, others),
                _ => others.to_vec(),
            };
            self.restamp(&api, &change.stage, &all).await;
        }
        if let RecordStep::End(ended) = &record
            && applied.before == applied.after
        {
            self.check_outdated(&api, &change.stage, ended).await;
        }
        applied.changed = applied.before != applied.after;
        // Only once the decision is written is the ended record finished here.
        if let RecordStep::End(record) | RecordStep::Discard(record) = &record
            && let Some((_, value)) = self.sealed(&api, &change.stage, record)
        {
            self.finished(value, record.until);
        }
        changed(&change, Ok(applied))
    }

    /// Whether a stage's level holds `values` now (`false` when it cannot be read).
    async fn holds(
        &self,
        api: &ApiId,
        stage: &StageName,
        level: &Level,
        values: crate::domain::Configured,
    ) -> bool {
        match self.gateway.read_stage(api, stage).await {
            Ok(view) => view.at(level) == values,
            Err(_) => false,
        }
    }
}
