//! The targets file (`THROTTLE_TARGETS`, or its text in `THROTTLE_TARGETS_TOML`): the other
//! accounts and regions one `/throttle` reaches, each by an alias. TOML, every key known, every
//! value checked, errors with line numbers — as the policy file.
//!
//! ```toml
//! [[target]]
//! alias = "prod"
//! region = "eu-west-1"
//! role_arn = "arn:aws:iam::111122223333:role/throttle-bot"
//! external_id = "throttle-bot-prod"
//! ```

use super::partition;
use std::collections::HashSet;

use serde::Deserialize;
use toml::Spanned;

use crate::domain::{TargetAlias, TargetError};

/// One account and region, reached with the service's own credentials (`role_arn` unset: the
/// home account in another region) or through a role it assumes there.
#[derive(Clone, PartialEq)]
pub struct TargetConfig {
    pub alias: TargetAlias,
    pub region: String,
    pub role_arn: Option<String>,
    /// Kept out of `Debug` and logs: not a secret by AWS's definition, but the trust policy's
    /// second factor.
    pub external_id: Option<String>,
}

impl std::fmt::Debug for TargetConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetConfig")
            .field("alias", &self.alias)
            .field("region", &self.region)
            .field("role_arn", &self.role_arn)
            .field("external_id", &self.external_id.as_ref().map(|_| "…"))
            .finish()
    }
}

impl TargetConfig {
    /// The account the target's calls are made in, from its role's ARN; `None` for the
    /// home account. With the region it keys the management pace each account has.
    pub fn account(&self) -> Option<&str> {
        self.role_arn
            .as_deref()
            .and_then(|arn| arn.split(':').nth(4))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetsFile {
    #[serde(default)]
    target: Vec<Spanned<TargetFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetFile {
    alias: String,
    region: String,
    role_arn: Option<String>,
    external_id: Option<String>,
}

/// Why a targets file was refused: where (line 0 for the file as a whole) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {}{reason}", line_prefix(*.line))]
pub struct TargetsError {
    pub origin: String,
    pub line: usize,
    pub reason: String,
}

fn line_prefix(line: usize) -> String {
    match line {
        0 => String::new(),
        line => format!("line {line}: "),
    }
}

/// Reads the targets from a file or its text; none when neither is given.
pub fn load(file: Option<&str>, inline: Option<&str>) -> Result<Vec<TargetConfig>, TargetsError> {
    let whole = |origin: &str, reason: String| TargetsError {
        origin: origin.to_owned(),
        line: 0,
        reason,
    };
    let file = file.filter(|f| !f.trim().is_empty());
    let inline = inline.filter(|t| !t.trim().is_empty());
    match (file, inline) {
        (Some(_), Some(_)) => Err(whole(
            "THROTTLE_TARGETS",
            "set THROTTLE_TARGETS or THROTTLE_TARGETS_TOML, not both".to_owned(),
        )),
        (Some(path), None) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| whole(path, format!("cannot read it ({e})")))?;
            parse(path, &text)
        }
        (None, Some(text)) => parse("THROTTLE_TARGETS_TOML", text),
        (None, None) => Ok(Vec::new()),
    }
}

/// Parses and checks a targets file. `source` names it in errors.
pub fn parse(source: &str, text: &str) -> Result<Vec<TargetConfig>, TargetsError> {
    let fail = |offset: usize, reason: String| TargetsError {
        origin: source.to_owned(),
        line: text[..offset.min(text.len())].matches('\n').count() + 1,
        reason,
    };
    let file: TargetsFile = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        fail(offset, e.message().trim().to_owned())
    })?;
    let mut seen = HashSet::new();
    let mut targets = Vec::new();
    for spanned in file.target {
        let offset = spanned.span().start;
        let raw = spanned.into_inner();
        let alias = raw.alias.clone();
        let target =
            check(raw).map_err(|reason| fail(offset, format!("target \"{alias}\": {reason}")))?;
        if !seen.insert(target.alias.clone()) {
            return Err(fail(offset, format!("alias \"{alias}\" is given twice")));
        }
        targets.push(target);
    }
    Ok(targets)
}

/// Why one target was refused (`parse` adds its alias and line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum TargetRefused {
    #[error(
        "`{}` is the service's own account and region; give the target another alias",
        TargetAlias::HOME
    )]
    HomeAlias,
    #[error(transparent)]
    Alias(#[from] TargetError),
    #[error("region `{0}` is not an AWS region (like eu-west-1)")]
    Region(String),
    #[error(
        "role_arn `{0}` is not an IAM role ARN (like arn:aws:iam::111122223333:role/throttle-bot)"
    )]
    RoleArn(String),
    #[error(
        "role_arn `{arn}` is in partition `{named}`, but region `{region}` is in `{expected}`: a role is assumed in its own partition (arn:{expected}:iam::…)"
    )]
    Partition {
        arn: String,
        named: String,
        region: String,
        expected: &'static str,
    },
    #[error("external_id is given without role_arn")]
    ExternalIdWithoutRole,
    #[error("external_id must be 2–1224 letters, digits or any of _+=,.@:/-")]
    ExternalId,
}

fn check(raw: TargetFile) -> Result<TargetConfig, TargetRefused> {
    let alias = TargetAlias::parse(&raw.alias)?.ok_or(TargetRefused::HomeAlias)?;
    if !is_region(&raw.region) {
        return Err(TargetRefused::Region(raw.region));
    }
    if let Some(arn) = &raw.role_arn
        && !is_role_arn(arn)
    {
        return Err(TargetRefused::RoleArn(arn.clone()));
    }
    if let Some(arn) = &raw.role_arn {
        let expected = partition::of_region(&raw.region);
        let named = partition::of_arn(arn).unwrap_or_default();
        if named != expected {
            return Err(TargetRefused::Partition {
                arn: arn.clone(),
                named: named.to_owned(),
                region: raw.region,
                expected,
            });
        }
    }
    if let Some(id) = &raw.external_id {
        if raw.role_arn.is_none() {
            return Err(TargetRefused::ExternalIdWithoutRole);
        }
        // AWS's rule for ExternalId: 2–1224 characters of [\w+=,.@:/-].
        let valid = (2..=1224).contains(&id.len())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c));
        if !valid {
            return Err(TargetRefused::ExternalId);
        }
    }
    Ok(TargetConfig {
        alias,
        region: raw.region,
        role_arn: raw.role_arn,
        external_id: raw.external_id,
    })
}

/// `eu-west-1`, `us-gov-west-1`, `ap-southeast-3`: lower-case words joined by `-`, ending in
/// a number.
fn is_region(raw: &str) -> bool {
    let parts: Vec<&str> = raw.split('-').collect();
    parts.len() >= 3
        && raw.len() <= 32
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// `arn:<partition>:iam::<12 digits>:role/<path and name>`.
fn is_role_arn(raw: &str) -> bool {
    let parts: Vec<&str> = raw.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if partition.starts_with("aws")
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && resource.strip_prefix("role/").is_some_and(|name| !name.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[[target]]
alias = "prod"
region = "eu-west-1"
role_arn = "arn:aws:iam::111122223333:role/throttle-bot"
external_id = "throttle-bot-prod"

[[target]]
alias = "us"
region = "us-east-1"
"#;

    fn error(text: &str) -> TargetsError {
        parse("targets.toml", text).unwrap_err()
    }

    #[test]
    fn the_documented_example_parses() {
        let targets = parse("targets.toml", EXAMPLE).unwrap();
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].alias.as_str(), "prod");
        assert_eq!(targets[0].account(), Some("111122223333"));
        assert_eq!(targets[1].account(), None);
        assert_eq!(targets[1].region, "us-east-1");
        let debug = format!("{:?}", targets[0]);
        assert!(
            debug.contains("prod") && debug.contains("eu-west-1"),
            "{debug}"
        );
        assert!(
            !debug.contains("throttle-bot-prod"),
            "the external id stays out: {debug}"
        );
    }

    #[test]
    fn nothing_configured_is_no_targets() {
        assert_eq!(load(None, None).unwrap(), Vec::new());
        assert_eq!(load(Some(" "), Some("")).unwrap(), Vec::new());
        let both = load(Some("t.toml"), Some(EXAMPLE)).unwrap_err();
        assert!(both.reason.contains("not both"), "{both}");
    }

    #[test]
    fn each_bad_value_is_named_with_its_line() {
        let cases = [
            (
                "[[target]]\nalias = \"Prod\"\nregion = \"eu-west-1\"\n",
                "not a target alias",
            ),
            (
                "[[target]]\nalias = \"home\"\nregion = \"eu-west-1\"\n",
                "service's own",
            ),
            (
                "[[target]]\nalias = \"p\"\nregion = \"europe\"\n",
                "not an AWS region",
            ),
            (
                "[[target]]\nalias = \"gov\"\nregion = \"us-gov-west-1\"\nrole_arn = \"arn:aws:iam::111122223333:role/x\"\n",
                "partition `aws`, but region `us-gov-west-1` is in `aws-us-gov`",
            ),
            (
                "[[target]]\nalias = \"cn\"\nregion = \"eu-west-1\"\nrole_arn = \"arn:aws-cn:iam::111122223333:role/x\"\n",
                "partition `aws-cn`",
            ),
            (
                "[[target]]\nalias = \"p\"\nregion = \"eu-west-x\"\n",
                "not an AWS region",
            ),
            (
                "[[target]]\nalias = \"p\"\nregion = \"eu-west-1\"\nrole_arn = \"arn:aws:iam::1:role/x\"\n",
                "not an IAM role ARN",
            ),
            (
                "[[target]]\nalias = \"p\"\nregion = \"eu-west-1\"\nrole_arn = \"arn:aws:iam::111122223333:user/x\"\n",
                "not an IAM role ARN",
            ),
            (
                "[[target]]\nalias = \"p\"\nregion = \"eu-west-1\"\nexternal_id = \"abc\"\n",
                "without role_arn",
            ),
            (
                "[[target]]\nalias = \"p\"\nregion = \"eu-west-1\"\nrole_arn = \"arn:aws:iam::111122223333:role/x\"\nexternal_id = \"a b\"\n",
                "external_id must be",
            ),
            (
                "[[target]]\nalias = \"p\"\nregion = \"eu-west-1\"\nrole = \"x\"\n",
                "role",
            ),
            ("[[target]]\nalias = \"p\"\n", "region"),
        ];
        for (text, expected) in cases {
            let e = error(text);
            assert!(e.reason.contains(expected), "{text:?}: {e}");
            assert!(e.line >= 1, "{text:?}: {e}");
        }
        let e = error(
            "\n[[target]]\nalias = \"p\"\nregion = \"eu-west-1\"\n\n[[target]]\nalias = \"p\"\nregion = \"eu-west-2\"\n",
        );
        assert!(e.reason.contains("given twice"), "{e}");
        assert_eq!(e.line, 6, "{e}");
        assert!(e.to_string().starts_with("targets.toml: line 6: "), "{e}");
    }

    #[test]
    fn regions_and_role_arns_of_every_partition_are_accepted() {
        for region in ["eu-west-1", "us-gov-west-1", "ap-southeast-3", "cn-north-1"] {
            assert!(is_region(region), "{region}");
        }
        for bad in ["eu-west-", "-west-1", "eu--1", "EU-west-1", "eu-1"] {
            assert!(!is_region(bad), "{bad}");
        }
        for arn in [
            "arn:aws:iam::111122223333:role/throttle-bot",
            "arn:aws-us-gov:iam::111122223333:role/path/to/role",
        ] {
            assert!(is_role_arn(arn), "{arn}");
        }
        for bad in [
            "arn:aws:iam::111122223333:role/",
            "arn:aws:sts::111122223333:role/x",
            "arn:aws:iam:eu-west-1:111122223333:role/x",
            "arn:aws:iam::11112222333a:role/x",
        ] {
            assert!(!is_role_arn(bad), "{bad}");
        }
    }
}
