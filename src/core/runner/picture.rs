//! The traffic picture: after `show <api> <stage>`, and with an impact report in a thread, the
//! level's traffic drawn against its limits, for people who look before they read. Only where
//! the teller can post pictures; a picture that cannot be drawn leaves the text as it was.

use super::{Origin, Runner, TRAFFIC_WINDOW_SECS};
use crate::core::clock::unix_now;
use crate::core::outcome::Outcome;
use crate::core::ports::{Gateway, Teller};
use crate::domain::{Configured, Level, ResolvedApi, StageName};

/// Where a picture goes and what it shows.
pub struct Picture<'a> {
    pub channel: &'a str,
    pub thread: Option<&'a str>,
    pub api: &'a ResolvedApi,
    pub stage: &'a StageName,
    pub level: &'a Level,
    /// Each limit drawn as a line: what it is, and requests per second.
    pub limits: Vec<(String, f64)>,
    /// From and to, Unix seconds.
    pub window: (i64, i64),
    pub title: String,
}

impl<G: Gateway, T: Teller> Runner<G, T> {
    /// After `show` of one stage, asked in a channel: its last hour against its rate limit
    /// (the account's when the stage sets none).
    pub(super) async fn show_picture(&self, origin: &Origin, outcome: &Outcome) {
        let Outcome::Show {
            request,
            result: Ok(view),
        } = outcome
        else {
            return;
        };
        let (Some(stage), Some(channel)) = (
            &request.stage,
            origin.requester.user().and_then(|u| u.channel.as_ref()),
        ) else {
            return;
        };
        let Some(found) = view.stages.iter().find(|s| s.stage == stage.as_str()) else {
            return;
        };
        let limits = match (found.stage_wide.rate, &view.account) {
            (Some(rate), _) => vec![(format!("rate limit {rate} req/s"), rate)],
            (None, Some(account)) => vec![(
                format!("account limit {} req/s", account.rate),
                account.rate,
            )],
            (None, None) => Vec::new(),
        };
        let now = unix_now();
        let api = view.api.name.as_deref().unwrap_or(view.api.id.id());
        self.picture(Picture {
            channel: channel.as_str(),
            thread: None,
            api: &view.api,
            stage,
            level: &Level::Stage,
            limits,
            window: (now - TRAFFIC_WINDOW_SECS, now),
            title: format!("{api} / {stage}: requests per second in the last hour"),
        })
        .await;
    }

    /// An impact report's picture, in its thread: the minutes around the change at `at`, the
    /// level's limit as it is now (read once) as a line.
    pub async fn impact_picture(
        &self,
        (channel, thread): (&str, &str),
        api: &ResolvedApi,
        (stage, level): (&StageName, &Level),
        at: i64,
        minutes: i64,
    ) {
        if !self.teller.shows_pictures() {
            return;
        }
        let now: Configured = match self.read_stage(&api.id, stage).await {
            Ok(view) => view.at(level),
            Err(_) => Configured::default(),
        };
        let limits = now
            .rate
            .map(|rate| vec![(format!("rate limit now {rate} req/s"), rate)])
            .unwrap_or_default();
        let window = minutes.max(1) * 60;
        let name = api.name.as_deref().unwrap_or(api.id.id());
        self.picture(Picture {
            channel,
            thread: Some(thread),
            api,
            stage,
            level,
            limits,
            window: (at - window, (at + window).min(unix_now())),
            title: format!("{name} / {stage} ({level}): before and after the change"),
        })
        .await;
    }

    /// Draws and posts a picture, if the teller can post one; its failures are logged by
    /// each adapter once, and change nothing else.
    pub async fn picture(&self, picture: Picture<'_>) {
        if !self.teller.shows_pictures() {
            return;
        }
        let drawn = self
            .gateway
            .traffic_picture(
                picture.api,
                picture.stage,
                picture.level,
                &picture.limits,
                picture.window,
            )
            .await;
        let Ok(png) = drawn else {
            return;
        };
        let posted = self
            .teller
            .picture(
                picture.channel,
                picture.thread,
                &picture.title,
                &picture.title,
                png,
            )
            .await;
        if let Err(error) = posted {
            tracing::warn!(%error, "could not post the traffic picture");
        }
    }
}
