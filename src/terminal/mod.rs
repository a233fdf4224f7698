//! `throttle-bot try`: the whole bot in one process, with this terminal in place of Slack and
//! the embedded account in place of AWS. A line goes through the very handler a slash command
//! takes (`http::commands::command`), a number through the one a button press takes
//! (`http::interactions::interaction`, sealed values and all), and the replies, channel posts
//! and audit notices the poster would have sent come out of its outbox as labelled lines.
//!
//! Offline by construction: no credentials, no Slack secret, no connection. Everything runs
//! on one thread, so a session read from a file prints the same transcript every time: its
//! clock starts at [`SCRIPT_START`] and moves only by `wait`. At a terminal it starts now and
//! runs (`for 30s` ends by itself), and `wait` still jumps ahead.

mod blocks;
mod form;
mod people;
mod session;

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use crate::core::clock::{self, unix_now};
use crate::core::runner::Runner;
use crate::deadlines::{SweepScope, Timers};
use crate::domain::Hold;
use crate::http::AppState;
use crate::jobs::{AppGateway, Mode, record_seal};
use crate::metrics::Metrics;
use crate::policy::{PolicyError, PolicyHandle, PolicySource};
use crate::slack::SlackPoster;
use crate::slack::hosts::SlackHosts;
use crate::slack::outbox::Outbox;
use crate::slack::poster::WebhookUrl;
use crate::slack::signature::SigningSecret;
use crate::slack::web_api::WebApi;
use people::People;
use session::{CHANNEL_NAME, Said, Session, WEBHOOK, note};

/// The example policy, built in: what `try` judges by unless told otherwise.
pub const EXAMPLE_POLICY: &str = include_str!("../../docs/policy.example.toml");

/// Where a session read from a file starts: 2026-03-02 09:00:40 UTC (a change made then
/// lands late in its minute, as one typed at any moment mostly does).
pub const SCRIPT_START: i64 = 1_772_442_040;

/// How long after a change its impact report follows (as `serve`'s default).
const IMPACT_AFTER: Duration = Duration::from_secs(5 * 60);

/// Seals buttons and records in this process only: nothing sealed with it leaves it.
const LOCAL_SECRET: &str = "try: a secret that never leaves this process";

/// Why a session could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum TryError {
    #[error(transparent)]
    Clock(#[from] clock::AlreadySet),
    #[error("cannot start: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("cannot read standard input: {0}")]
    Input(std::io::Error),
}

/// Runs a session: a conversation at a terminal, else the lines of standard input, printed
/// as a transcript. `policy`: the one given, else the built-in example.
pub fn run(policy: Option<PolicySource>) -> Result<(), TryError> {
    let scripted = !std::io::stdin().is_terminal();
    let start = if scripted {
        SCRIPT_START
    } else {
        clock::system_now()
    };
    clock::set_world(start, !scripted)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(TryError::Runtime)?;
    runtime.block_on(converse(policy, scripted))
}

async fn converse(policy: Option<PolicySource>, scripted: bool) -> Result<(), TryError> {
    let said_policy = match &policy {
        None => "the example policy built in (docs/policy.example.toml)".to_owned(),
        Some(PolicySource::File(path)) => format!("THROTTLE_POLICY={}", path.display()),
        Some(PolicySource::Inline(_)) => "THROTTLE_POLICY_TOML".to_owned(),
        Some(PolicySource::AllowAll) => "allow-all (everyone may change everything)".to_owned(),
    };
    let policy = policy.unwrap_or_else(|| PolicySource::Inline(EXAMPLE_POLICY.to_owned()));
    let policy = PolicyHandle::load(Some(policy))?;
    let (outbox, posted) = Outbox::new();
    let state = bot(policy, outbox);
    let mut session = Session::new(Arc::new(state), posted, People::default());
    print!("{}", intro(&said_policy, scripted, &session.people));
    if scripted {
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(TryError::Input)?;
            println!("\n{}> {}", session.people.current_name(), line.trim_end());
            match one_line(&mut session, &line).await {
                Some(said) => print(&said),
                None => break,
            }
        }
        return Ok(());
    }
    interactive(&mut session).await;
    Ok(())
}

/// At a terminal: a prompt, and messages nobody waits on (a timed change's end, an impact
/// report) shown as they come.
async fn interactive(session: &mut Session) {
    let (lines, mut typed) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if line.is_err() || lines.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    loop {
        print!("\n{}> ", session.people.current_name());
        let _ = std::io::stdout().flush();
        let line = loop {
            tokio::select! {
                line = typed.recv() => break line,
                posted = session.recv_posted() => {
                    if let Some(posted) = posted {
                        println!();
                        print(&session.after_posted(posted).await);
                        print!("\n{}> ", session.people.current_name());
                        let _ = std::io::stdout().flush();
                    }
                }
            }
        };
        let Some(line) = line else {
            println!();
            return;
        };
        match one_line(session, &line).await {
            Some(said) => print(&said),
            None => return,
        }
    }
}

/// What one line does; `None` to end the session.
async fn one_line(session: &mut Session, line: &str) -> Option<Said> {
    let line = line.trim();
    let mut words = line.split_whitespace();
    let first = words.next().unwrap_or_default();
    let rest: Vec<&str> = words.collect();
    Some(match (first, rest.as_slice()) {
        (comment, _) if comment.starts_with('#') => Vec::new(),
        ("exit" | "quit", []) => return None,
        _ if session.has_form() => session.fill(line).await,
        ("", _) => Vec::new(),
        ("?", []) => vec![note(MORE.to_owned())],
        ("as", [name]) => match session.people.switch(name) {
            Ok(()) => vec![note(format!(
                "you are @{} now",
                session.people.current_name()
            ))],
            Err(why) => vec![note(why.to_string())],
        },
        ("wait", [duration]) => match Hold::parse(duration) {
            Ok(hold) => {
                let said = wait(session, Duration::from_secs(hold.secs())).await;
                let now = format!("<!date^{}^{{time}}|now>", unix_now());
                let mut told = vec![note(format!(
                    "{duration} later: {}",
                    blocks::mrkdwn(&now, &NoNames)
                ))];
                told.extend(said);
                told
            }
            Err(why) => vec![note(format!("wait how long? {why}"))],
        },
        ("aws", [api, stage]) => vec![session.account(api, stage)],
        ("pipeline", [duration]) => match Hold::parse(duration) {
            Ok(hold) => vec![session.pipeline(hold.secs() as i64)],
            Err(why) => vec![note(format!("a pipeline for how long? {why}"))],
        },
        (number, []) if number.parse::<usize>().is_ok() => {
            session.press(number.parse().unwrap_or_default()).await
        }
        _ => {
            let text = line.strip_prefix("/throttle").unwrap_or(line).trim();
            session.command(text).await
        }
    })
}

/// Moves the clock `by`, stopping wherever something is due so that it all comes in order.
async fn wait(session: &mut Session, by: Duration) -> Said {
    let mut said = Vec::new();
    let mut left = by;
    // Each step wakes at least one sleeper; the bound is only a guard against one that never
    // stops sleeping.
    for _ in 0..10_000 {
        let Some(step) = clock::next_wake(left) else {
            break;
        };
        clock::advance(step);
        left = left.saturating_sub(step);
        said.extend(session.settle().await);
    }
    clock::advance(left);
    said.extend(session.settle().await);
    said
}

struct NoNames;

impl blocks::Reader for NoNames {
    fn name(&self, _: &str) -> Option<String> {
        None
    }

    fn now(&self) -> i64 {
        unix_now()
    }
}

/// The bot: the real runner, poster and jobs, with the embedded account and an outbox.
fn bot(policy: PolicyHandle, outbox: Outbox) -> AppState {
    let secret = SigningSecret::new(LOCAL_SECRET).expect("a secret that is not empty");
    let hosts = SlackHosts::default();
    let webhook = WebhookUrl::parse(WEBHOOK, &hosts).expect("Slack's hooks host");
    let poster = SlackPoster::new(Some(webhook), hosts)
        .with_buttons(&secret)
        .with_web_api(Some(WebApi::outbox(outbox.clone())))
        .with_outbox(outbox);
    let metrics = Arc::new(Metrics::new());
    let (deadlines, timers) = Timers::new();
    let account = AppGateway::Embedded(crate::embedded::sample(unix_now()));
    let runner = Runner::new(account, poster, Arc::new(policy), Arc::clone(&metrics))
        .with_seal(Some(record_seal(&secret)))
        .with_deadlines(Arc::new(deadlines));
    let mode = Mode::Background {
        max_jobs: 64,
        impact_after: IMPACT_AFTER,
    };
    let state = crate::startup::state_around(Arc::new(runner), &secret, metrics, mode);
    crate::deadlines::start(
        state.jobs.shared_runner(),
        timers,
        Duration::from_secs(3600),
        SweepScope::None,
        state.jobs.tracker(),
        tokio::sync::watch::channel(false).1,
        |_| {},
    );
    state
}

const HINTS: &str = "Type a /throttle command (the /throttle is optional: `help` lists them), a button's number to press it, `as <name>` to be someone else (`lead` approves), `wait 10m` to move the clock, `?` for more, `exit` to leave.";

const MORE: &str = "Besides /throttle commands: `1` presses button [1] of the last message that had buttons; `as <name>` types as someone else (ann, bob, lead, or anyone new); `wait 10m` moves the clock (timed changes end, impact reports come, each when due); `aws <api> <stage>` shows what the account holds on a stage, as AWS lists it (caching, logs and metrics too); `pipeline 1m` has a deploy pipeline spend the account's management calls for a minute (AWS answers 429 meanwhile); `/throttle` alone opens the form, whose fields the next lines answer; `exit` leaves.";

fn intro(policy: &str, scripted: bool, people: &People) -> String {
    let clock = if scripted {
        "The clock stands at 09:00 UTC and moves only by `wait`."
    } else {
        "The clock is real time; `wait 10m` jumps ahead."
    };
    let said = [
        "throttle-bot try: the whole bot on this machine. Slack is this terminal and AWS an account in memory: nothing in AWS or Slack changes, and the account is gone when you leave.".to_owned(),
        "The account: petstore (REST API, stages test and prod), orders (HTTP API, stage prod), payments (REST API, stage live, deployed by CloudFormation), usage plan gold; made-up traffic that peaked 18 minutes ago on petstore prod.".to_owned(),
        format!("The policy: {policy}."),
        format!(
            "You are @{} in #{CHANNEL_NAME}, with @{}. {clock}",
            people.current_name(),
            people.others().join(", @")
        ),
        HINTS.to_owned(),
        format!("Replies are labelled: only you (ephemeral), #{CHANNEL_NAME} (in the channel), #{CHANNEL_NAME} thread, audit (the audit webhook's notice); ↻ replaces the message whose button was pressed."),
    ];
    let mut text = String::new();
    for paragraph in said {
        for line in wrap(&paragraph, TEXT_WIDTH + 15) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    text
}

/// How wide a message's text is wrapped, beside its label.
const TEXT_WIDTH: usize = 84;

/// Prints what was said, one label a message, its text wrapped beside it.
fn print(said: &Said) {
    let mut out = std::io::stdout().lock();
    for (label, lines) in said {
        let wrapped = lines.iter().flat_map(|line| wrap(line, TEXT_WIDTH));
        for (i, line) in wrapped.enumerate() {
            let label = if i == 0 { label.as_str() } else { "" };
            let _ = writeln!(out, "  {label:<12}│ {line}");
        }
    }
}

/// `line` cut at spaces into lines of at most `width` characters (a longer word stays whole);
/// continuation lines are indented as the line's own leading spaces, plus two.
fn wrap(line: &str, width: usize) -> Vec<String> {
    let indent = line.len() - line.trim_start().len();
    let mut lines = Vec::new();
    let mut current = line[..indent].to_owned();
    for word in line.split_whitespace() {
        let used = current.chars().count();
        if used > indent && used + 1 + word.chars().count() > width {
            lines.push(std::mem::replace(&mut current, " ".repeat(indent + 2)));
        }
        if current.trim().is_empty() {
            current.push_str(word);
        } else {
            current.push(' ');
            current.push_str(word);
        }
    }
    lines.push(current);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_wrap_at_spaces_and_keep_their_indent() {
        assert_eq!(
            wrap("• one two three four", 10),
            ["• one two", "  three", "  four"]
        );
        assert_eq!(wrap("   a b", 4), ["   a", "     b"]);
        assert_eq!(wrap("unbreakableword x", 5), ["unbreakableword", "  x"]);
        assert_eq!(wrap("", 5), [""]);
    }
}
