//! Logging, set up once: human-readable or JSON lines on stderr.

use tracing_subscriber::EnvFilter;

/// The log filter when `RUST_LOG` is unset (documented in docs/configuration.md).
pub const DEFAULT_FILTER: &str = "info,aws_config=warn,aws_smithy_runtime=warn,hyper=warn";

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init(format: LogFormat) {
    init_with(format, DEFAULT_FILTER);
}

/// The same, with `default` as the filter when `RUST_LOG` is unset.
pub fn init_with(format: LogFormat, default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Colours only for a person at a terminal: a log file or pipeline gets no escape codes.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// A budget of log lines for events an attacker can cause at will (unsigned requests): at most
/// `lines` per `window`; the rest are counted and reported with the next line let through.
pub struct LogBudget {
    window: std::time::Duration,
    lines: u32,
    state: std::sync::Mutex<Budget>,
}

struct Budget {
    window_start: std::time::Instant,
    used: u32,
    suppressed: u64,
}

impl LogBudget {
    pub fn new(lines: u32, window: std::time::Duration) -> Self {
        Self {
            window,
            lines,
            state: std::sync::Mutex::new(Budget {
                window_start: std::time::Instant::now(),
                used: 0,
                suppressed: 0,
            }),
        }
    }

    /// `Some(lines suppressed since the last one)` when a line may be written now.
    pub fn admit(&self) -> Option<u64> {
        let mut state = self.state.lock().expect("log budget");
        if state.window_start.elapsed() >= self.window {
            state.window_start = std::time::Instant::now();
            state.used = 0;
        }
        if state.used < self.lines {
            state.used += 1;
            Some(std::mem::take(&mut state.suppressed))
        } else {
            state.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_becomes_a_few_lines_and_a_count() {
        let budget = LogBudget::new(3, std::time::Duration::from_secs(3600));
        let admitted: Vec<Option<u64>> = (0..100).map(|_| budget.admit()).collect();
        assert_eq!(&admitted[..3], &[Some(0), Some(0), Some(0)]);
        assert!(admitted[3..].iter().all(Option::is_none));
    }

    #[test]
    fn a_new_window_reports_what_was_suppressed() {
        let budget = LogBudget::new(1, std::time::Duration::ZERO);
        assert_eq!(budget.admit(), Some(0));
        // A zero-length window has always just ended.
        assert_eq!(budget.admit(), Some(0));
        let tight = LogBudget::new(1, std::time::Duration::from_secs(3600));
        tight.admit();
        tight.admit();
        tight.admit();
        let mut state = tight.state.lock().unwrap();
        state.window_start -= std::time::Duration::from_secs(3600);
        drop(state);
        assert_eq!(tight.admit(), Some(2));
    }
}
