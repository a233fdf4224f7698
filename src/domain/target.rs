use std::fmt;

/// Why an API or stage name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error(
        "API id `{0}` is not a REST API id (10 lower-case letters and digits, for example `a1b2c3d4e5`)"
    )]
    ApiId(String),
    #[error(
        "stage `{0}` is not a stage name (letters, digits, `-` and `_`, at most {max} characters)",
        max = StageName::MAX_LEN
    )]
    Stage(String),
}

/// The id API Gateway gives a REST API: ten lower-case letters and digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiId(String);

impl ApiId {
    pub const LEN: usize = 10;

    pub fn parse(raw: &str) -> Result<Self, TargetError> {
        let valid = raw.len() == Self::LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(TargetError::ApiId(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApiId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stage name as API Gateway accepts it: letters, digits, `-` and `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StageName(String);

impl StageName {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, TargetError> {
        let valid = !raw.is_empty()
            && raw.len() <= Self::MAX_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(TargetError::Stage(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_ids_are_ten_lower_case_letters_and_digits() {
        assert_eq!(ApiId::parse("a1b2c3d4e5").unwrap().as_str(), "a1b2c3d4e5");
        for bad in [
            "",
            "A1B2C3D4E5",
            "a1b2c3d4e",
            "a1b2c3d4e5f",
            "a1b2c3d4-5",
            "<!channel>",
        ] {
            assert!(ApiId::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn stage_names_allow_letters_digits_dashes_and_underscores() {
        for good in ["prod", "dev-1", "test_stage", "V2"] {
            assert!(StageName::parse(good).is_ok(), "{good} should be accepted");
        }
        let too_long = "s".repeat(StageName::MAX_LEN + 1);
        for bad in ["", "pro d", "prod/1", "<@U1>", too_long.as_str()] {
            assert!(StageName::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
