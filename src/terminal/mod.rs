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
use crate::policy::{PolicyHandle, PolicySource};
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

/// Where a session read from a file starts: 2026-03-02 09:00 UTC.
pub const SCRIPT_START: i64 = 1_772_442_000;

/// How long after a change its impact report follows (as `serve`'s default).
const IMPACT_AFTER: Duration = Duration::from_secs(5 * 60);

/// Seals buttons and records in this process only: nothing sealed with it leaves it.
const LOCAL_SECRET: &str = "try: a secret that never leaves this process";

/// Runs a session: a conversation at a terminal, else the lines of standard input, printed
/// as a transcript. `policy`: the one given, else the built-in example.
pub fn run(policy: Option<PolicySource>) -> Result<(), String> {
    let scripted = !std::io::stdin().is_terminal();
    let start = if scripted {
        SCRIPT_START
    } else {
        clock::system_now()
    };
    clock::set_world(start, !scripted).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start: {e}"))?;
    runtime.block_on(converse(policy, scripted))
}

async fn converse(policy: Option<PolicySource>, scripted: bool) -> Result<(), String> {
    let said_policy = match &policy {
        None => "the example policy built in (docs/policy.example.toml)".to_owned(),
        Some(PolicySource::File(path)) => format!("THROTTLE_POLICY={}", path.display()),
        Some(PolicySource::Inline(_)) => "THROTTLE_POLICY_TOML".to_owned(),
        Some(PolicySource::AllowAll) => "allow-all (everyone may change everything)".to_owned(),
    };
    let policy = policy.unwrap_or_else(|| PolicySource::Inline(EXAMPLE_POLICY.to_owned()));
    let policy = PolicyHandle::load(Some(policy)).map_err(|e| e.to_string())?;
    let (outbox, posted) = Outbox::new();
    let state = bot(policy, outbox);
    let mut session = Session::new(Arc::new(state), posted, People::default());
    print!("{}", intro(&said_policy, scripted, &session.people));
    if scripted {
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|e| format!("cannot read standard input: {e}"))?;
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
        ("", _) => Vec::new(),
        (comment, _) if comment.starts_with('#') => Vec::new(),
        ("exit" | "quit", []) => return None,
        ("?", []) => vec![note(HINTS.to_owned())],
        ("as", [name]) => match session.people.switch(name) {
            Ok(()) => vec![note(format!(
                "you are @{} now",
                session.people.current_name()
            ))],
            Err(why) => vec![note(why)],
        },
        ("wait", [duration]) => match Hold::parse(duration) {
            Ok(hold) => {
                clock::advance(Duration::from_secs(hold.secs()));
                let mut said = vec![note(format!(
                    "{duration} later: {}",
                    blocks::mrkdwn(&format!("<!date^{}^{{time}}|now>", unix_now()), &NoNames)
                ))];
                said.extend(session.settle().await);
                said
            }
            Err(why) => vec![note(format!("wait how long? {why}"))],
        },
        ("aws", [api, stage]) => vec![session.account(api, stage)],
        (number, []) if number.parse::<usize>().is_ok() => {
            session.press(number.parse().unwrap_or_default()).await
        }
        _ => {
            let text = line.strip_prefix("/throttle").unwrap_or(line).trim();
            session.command(text).await
        }
    })
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
    );
    state
}

const HINTS: &str = "Type a /throttle command (the /throttle is optional: `help` lists them), a button's number to press it, `as <name>` to be someone else (`lead` approves), `wait 10m` to move the clock, `aws <api> <stage>` for what the account holds, `exit` to leave.";

fn intro(policy: &str, scripted: bool, people: &People) -> String {
    let clock = if scripted {
        "The clock stands at today 09:00 UTC and moves only by `wait`."
    } else {
        "The clock is real time; `wait 10m` jumps ahead."
    };
    format!(
        "throttle-bot try: the whole bot on this machine. Slack is this terminal, and AWS an account in memory: nothing in AWS or Slack changes, and the account is gone when you leave.\n\
         The account: petstore (REST API, stages test and prod), orders (HTTP API, stage prod), payments (REST API, stage live, deployed by CloudFormation), usage plan gold; made-up traffic that peaked 18 minutes ago on petstore prod.\n\
         The policy: {policy}.\n\
         You are @{} in #{CHANNEL_NAME}, with @{}. {clock}\n\
         {HINTS}\n\
         Replies are labelled: only you (ephemeral), #{CHANNEL_NAME} (in the channel), #{CHANNEL_NAME} thread, audit (the audit webhook's notice); ↻ replaces the message whose button was pressed.\n",
        people.current_name(),
        people.others().join(", @"),
    )
}

/// Prints what was said, one label a message.
fn print(said: &Said) {
    let mut out = std::io::stdout().lock();
    for (label, lines) in said {
        for (i, line) in lines.iter().enumerate() {
            let label = if i == 0 { label.as_str() } else { "" };
            let _ = writeln!(out, "  {label:<11}│ {line}");
        }
    }
}
