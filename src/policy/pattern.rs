//! Name patterns in a policy: an exact value, `*`, or a prefix ending in `*` (`dev-*`).

use std::fmt;

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("an empty pattern")]
    Empty,
    #[error(
        "`{0}` has a `*` that is not at the end (only `*` and trailing `*` globs are supported)"
    )]
    InnerStar(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    Any,
    Prefix(String),
    Exact(String),
}

impl Pattern {
    pub fn parse(raw: &str) -> Result<Self, PatternError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(PatternError::Empty);
        }
        if trimmed == "*" {
            return Ok(Self::Any);
        }
        match trimmed.strip_suffix('*') {
            Some(prefix) if !prefix.contains('*') => Ok(Self::Prefix(prefix.to_owned())),
            None if !trimmed.contains('*') => Ok(Self::Exact(trimmed.to_owned())),
            _ => Err(PatternError::InnerStar(raw.to_owned())),
        }
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Prefix(prefix) => value.starts_with(prefix.as_str()),
            Self::Exact(exact) => value == exact,
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("*"),
            Self::Prefix(prefix) => write!(f, "{prefix}*"),
            Self::Exact(exact) => f.write_str(exact),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_and_trailing_globs_match_as_expected() {
        assert!(Pattern::parse("*").unwrap().matches("anything"));
        let dev = Pattern::parse("dev-*").unwrap();
        assert!(dev.matches("dev-1") && dev.matches("dev-") && !dev.matches("prod"));
        let exact = Pattern::parse("prod").unwrap();
        assert!(exact.matches("prod") && !exact.matches("prod2"));
    }

    #[test]
    fn inner_stars_and_empty_patterns_are_refused() {
        assert!(Pattern::parse("d*v").is_err());
        assert!(Pattern::parse("**").is_err());
        assert!(Pattern::parse(" ").is_err());
    }
}
