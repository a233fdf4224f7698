//! How an outcome is told: counted, logged, replied to whoever asked, sent to the audit channel,
//! and (for a timed change's end) posted where it was made.

use std::time::Duration;

use super::log::log_line;
use super::{Origin, ReplyOnce, Runner};
use crate::core::outcome::{Label, News, Outcome};
use crate::core::ports::{Gateway, Teller};
use crate::core::requester::Requester;

impl<G: Gateway, T: Teller> Runner<G, T> {
    /// Counts, logs and tells: the final reply (if anyone waits for one, and nobody has sent it
    /// yet) and the audit notice, together.
    pub async fn conclude(
        &self,
        origin: &Origin,
        outcome: &Outcome,
        took: Duration,
        once: &ReplyOnce,
    ) {
        self.record(&origin.requester, outcome, took);
        let news = News {
            requester: &origin.requester,
            via: origin.via,
            outcome,
        };
        if !once.claim() {
            // Its user was told it may or may not have been applied; the audit still hears
            // what really happened.
            tracing::warn!(
                "the command finished after shutdown had already told its user it was interrupted"
            );
            self.audit(&news).await;
            return;
        }
        tokio::join!(
            self.reply(origin, &news),
            self.audit(&news),
            self.announce(origin, &news),
            self.show_picture(origin, outcome)
        );
    }

    /// Where nobody waits for a reply (a deadline), a timed change's end is also posted in the
    /// channel it was made in, when the teller can post there.
    pub(super) async fn announce(&self, origin: &Origin, news: &News<'_>) {
        let (Outcome::Timed {
            channel: Some(channel),
            thread,
            ..
        }
        | Outcome::PlanTimed {
            channel: Some(channel),
            thread,
            ..
        }) = news.outcome
        else {
            return;
        };
        if origin.reply_to.is_some() || !news.outcome.is_audited() {
            return;
        }
        if let Err(error) = self.teller.announce(channel, thread.as_deref(), news).await {
            tracing::warn!(%error, "could not post the end of a timed change in its channel");
        }
    }

    /// The final reply to whoever asked, if anyone waits for one. The caller holds the
    /// request's [`ReplyOnce`] claim.
    pub async fn reply(&self, origin: &Origin, news: &News<'_>) {
        if let Some(to) = &origin.reply_to
            && let Err(error) = self.teller.reply(to, news).await
        {
            tracing::error!(%error, "could not deliver the final reply");
        }
    }

    /// Tells the audit channel only (for outcomes whose reply went out another way).
    pub async fn audit(&self, news: &News<'_>) {
        if !news.outcome.is_audited() {
            return;
        }
        if let Err(error) = self.teller.audit(news).await {
            self.metrics.webhook_failed();
            tracing::warn!(%error, "could not deliver the audit notice");
        }
    }

    /// Counts the outcome and writes the request's one log line.
    pub fn record(&self, requester: &Requester, outcome: &Outcome, took: Duration) {
        let label = outcome.label();
        self.metrics.command(label.as_str());
        if let Outcome::PlanChanged { result: Ok(_), .. } = outcome {
            self.metrics.aws_call(took.as_secs_f64());
            self.metrics.change("plan", label.as_str());
        }
        if let Outcome::Change { result, .. } = outcome {
            self.metrics.aws_call(took.as_secs_f64());
            if let Ok(applied) = result {
                self.metrics
                    .change(applied.api.kind.label(), label.as_str());
            }
        }
        log_line(requester, outcome, label, took);
    }

    /// Counts a request that ended before any work (help, text that does not parse).
    pub fn count(&self, label: Label) {
        self.metrics.command(label.as_str());
    }
}
