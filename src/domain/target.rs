use std::fmt;

use super::text::echo;

/// Why an API, stage, method or resource path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error(
        "API id `{0}` is not an API id (10 lower-case letters and digits, for example `a1b2c3d4e5`)"
    )]
    ApiId(String),
    #[error(
        "stage `{0}` is not a stage name (letters, digits, `-` and `_`, at most {max} characters; or an HTTP API's `$default`)",
        max = StageName::MAX_LEN
    )]
    Stage(String),
    #[error("API name `{0}` is too long (at most {max} characters)", max = ApiName::MAX_LEN)]
    ApiName(String),
    #[error("usage plan `{0}` is not a plan's id or name (at most 128 characters)")]
    Plan(String),
    #[error(
        "method `{0}` is not an HTTP method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, ANY or *)"
    )]
    Method(String),
    #[error("resource path `{0}` must be `*` or start with `/`, like `/pets/{{id}}`")]
    Path(String),
    #[error(
        "`{0}` is not a target alias (a lower-case letter, then lower-case letters, digits and `-`, at most {max} characters)",
        max = TargetAlias::MAX_LEN
    )]
    Alias(String),
    #[error(
        "`$default` is an HTTP API's catch-all route; a REST API's levels are `<METHOD> <path>`, like `GET /pets`"
    )]
    DefaultRouteOnRest,
    #[error(
        "an HTTP API's routes are named by their route key, like `GET /orders/{{id}}`, `ANY /{{proxy+}}` or `$default`; `{0}` is REST's wildcard"
    )]
    WildcardOnHttp(String),
    #[error(
        "`{0}`: API Gateway throttles the whole stage (`* *`) or one method on one path; a partial wildcard is stored but not documented to throttle anything. Name the method and path, like `GET /pets`, or leave them out for the whole stage"
    )]
    PartialWildcard(String),
}

/// The two kinds of API whose stages throttle-bot changes. They share stages, stage-wide
/// limits, per-route (per-method) limits and stage tags; they differ in what "not set" means
/// and in the calls that change them, which the adapter and [`ApiKind::check`] own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ApiKind {
    /// API Gateway's REST APIs (`/restapis`).
    #[default]
    Rest,
    /// API Gateway v2's HTTP APIs (`/apis`).
    Http,
}

impl ApiKind {
    /// A short, stable label (metrics, logs, audit fields).
    pub fn label(self) -> &'static str {
        match self {
            Self::Rest => "rest",
            Self::Http => "http",
        }
    }

    /// The kind a [`ApiKind::label`] names.
    pub fn from_label(label: &str) -> Option<Self> {
        [Self::Rest, Self::Http]
            .into_iter()
            .find(|kind| kind.label() == label)
    }

    /// Whether `level` can exist on this kind of API: `$default` is HTTP's, and `*` (every
    /// method or every resource) is REST's.
    pub fn check(self, level: &Level) -> Result<(), TargetError> {
        match (self, level) {
            (Self::Rest, Level::DefaultRoute) => Err(TargetError::DefaultRouteOnRest),
            (Self::Http, Level::Method { method, path }) if method.is_any() || path.is_any() => {
                Err(TargetError::WildcardOnHttp(format!(
                    "{} {}",
                    method.as_str(),
                    path.as_str()
                )))
            }
            _ => Ok(()),
        }
    }

    /// Whether a stage of this kind can be without stage-wide limits of its own. An HTTP API
    /// stage cannot be told "not set" (tools that try leave 0/0, which blocks every request),
    /// so a stage-wide reset writes the account's limits instead.
    pub fn stage_can_be_unset(self) -> bool {
        self == Self::Rest
    }
}

impl fmt::Display for ApiKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Rest => "REST API",
            Self::Http => "HTTP API",
        })
    }
}

/// Which configured account and region (a `[[target]]` of the targets file) an API lives in.
/// The home target (the service's own credentials and region) has no alias in an [`ApiId`];
/// it is called `home` wherever it must be named (`home:petstore`, a rule's `targets`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetAlias(String);

impl TargetAlias {
    pub const MAX_LEN: usize = 32;
    /// The name of the home target.
    pub const HOME: &'static str = "home";

    /// An alias as a targets file or a command gives it; `home` is the home target (`None`).
    pub fn parse(raw: &str) -> Result<Option<Self>, TargetError> {
        let valid = raw.len() <= Self::MAX_LEN
            && raw.starts_with(|c: char| c.is_ascii_lowercase())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        match raw {
            Self::HOME => Ok(None),
            _ if valid => Ok(Some(Self(raw.to_owned()))),
            _ => Err(TargetError::Alias(echo(raw))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The alias as a rule's `targets` or a reply names it: `home` for the home target.
    pub fn name(target: Option<&Self>) -> &str {
        target.map_or(Self::HOME, Self::as_str)
    }
}

impl fmt::Display for TargetAlias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Text that names something in a target: `prod:petstore`, or `petstore` at home. Split at the
/// first colon, so a name with colons is typed after its target (`home:a:b`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Targeted {
    target: Option<TargetAlias>,
    text: String,
}

impl Targeted {
    /// The target and the text after it, if the text passes `valid`.
    pub(super) fn parse(raw: &str, valid: impl Fn(&str) -> bool) -> Option<Self> {
        let (target, text) = match raw.split_once(':') {
            Some((alias, rest)) => (TargetAlias::parse(alias).ok()?, rest),
            None => (None, raw),
        };
        valid(text).then(|| Self {
            target,
            text: text.to_owned(),
        })
    }

    /// A name as the console gives one (1 to `max` characters, none of them control ones), in
    /// a target. An alias that is not one is named as such; any other fault by `bad`.
    pub(super) fn parse_name(
        raw: &str,
        max: usize,
        bad: fn(String) -> TargetError,
    ) -> Result<Self, TargetError> {
        match raw.split_once(':') {
            Some((alias, _)) if TargetAlias::parse(alias).is_err() => {
                Err(TargetError::Alias(echo(alias)))
            }
            _ => Self::parse(raw, |text| {
                !text.is_empty()
                    && text.chars().count() <= max
                    && !text.chars().any(char::is_control)
            })
            .ok_or_else(|| bad(echo(raw))),
        }
    }

    pub(super) fn text(&self) -> &str {
        &self.text
    }

    pub(super) fn target(&self) -> Option<&TargetAlias> {
        self.target.as_ref()
    }
}

impl fmt::Display for Targeted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(target) = &self.target {
            write!(f, "{target}:")?;
        }
        f.write_str(&self.text)
    }
}

/// The id API Gateway gives a REST or HTTP API (ten lower-case letters and digits), in the
/// target it lives in. Written `prod:a1b2c3d4e5` for another target and `a1b2c3d4e5` for home,
/// everywhere it is stored (button values, records, schedules), so each acts where it was made.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiId(Targeted);

impl ApiId {
    pub const LEN: usize = 10;

    pub fn parse(raw: &str) -> Result<Self, TargetError> {
        let is_id = |id: &str| {
            id.len() == Self::LEN
                && id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        Targeted::parse(raw, is_id)
            .map(Self)
            .ok_or_else(|| TargetError::ApiId(echo(raw)))
    }

    /// The same API id in another target (what a target's listing finds).
    pub fn in_target(self, target: Option<TargetAlias>) -> Self {
        Self(Targeted { target, ..self.0 })
    }

    /// The id as AWS knows it, without the target.
    pub fn id(&self) -> &str {
        self.0.text()
    }

    /// The target it lives in; `None` for home.
    pub fn target(&self) -> Option<&TargetAlias> {
        self.0.target()
    }
}

impl fmt::Display for ApiId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A stage name as API Gateway accepts it: letters, digits, `-` and `_`; or `$default`, the
/// stage an HTTP API serves at its root (the only name with a `$`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StageName(String);

impl StageName {
    pub const MAX_LEN: usize = 128;
    /// An HTTP API's default stage (a quick-created API has only this one).
    pub const DEFAULT: &'static str = "$default";

    pub fn parse(raw: &str) -> Result<Self, TargetError> {
        let valid = raw == Self::DEFAULT
            || (!raw.is_empty()
                && raw.len() <= Self::MAX_LEN
                && raw
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(TargetError::Stage(echo(raw)))
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

/// An API's name, as given in the console, in the target it is looked up in. Several APIs (of
/// either kind) may share one. A name with a colon is typed after its target: `home:a:b`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiName(Targeted);

impl ApiName {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, TargetError> {
        Targeted::parse_name(raw, Self::MAX_LEN, TargetError::ApiName).map(Self)
    }

    /// The name as AWS knows it, without the target.
    pub fn name(&self) -> &str {
        self.0.text()
    }

    pub fn target(&self) -> Option<&TargetAlias> {
        self.0.target()
    }
}

impl fmt::Display for ApiName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How a user names an API: by id when it looks like one, otherwise by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ApiRef {
    Id(ApiId),
    Name(ApiName),
}

impl ApiRef {
    pub fn parse(raw: &str) -> Result<Self, TargetError> {
        match ApiId::parse(raw) {
            Ok(id) => Ok(Self::Id(id)),
            Err(_) => ApiName::parse(raw).map(Self::Name),
        }
    }

    /// The id or name as AWS knows it, without the target.
    pub fn bare(&self) -> &str {
        match self {
            Self::Id(id) => id.id(),
            Self::Name(name) => name.name(),
        }
    }

    /// The target it is looked up in; `None` for home.
    pub fn target(&self) -> Option<&TargetAlias> {
        match self {
            Self::Id(id) => id.target(),
            Self::Name(name) => name.target(),
        }
    }
}

impl fmt::Display for ApiRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => id.fmt(f),
            Self::Name(name) => name.fmt(f),
        }
    }
}

/// An HTTP method as API Gateway names it, or `*` for every method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpMethod(String);

impl HttpMethod {
    const KNOWN: [&'static str; 9] = [
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY", "*",
    ];

    pub fn parse(raw: &str) -> Result<Self, TargetError> {
        let upper = raw.to_ascii_uppercase();
        if Self::KNOWN.contains(&upper.as_str()) {
            Ok(Self(upper))
        } else {
            Err(TargetError::Method(echo(raw)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn is_any(&self) -> bool {
        self.0 == "*"
    }
}

/// A resource path such as `/pets/{id}`, or `*` for every resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourcePath(String);

impl ResourcePath {
    pub const MAX_LEN: usize = 1024;

    pub fn parse(raw: &str) -> Result<Self, TargetError> {
        if raw == "*" {
            return Ok(Self(raw.to_owned()));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "/-._~{}+:@$!*'()".contains(c);
        let valid = raw.starts_with('/')
            && raw.len() <= Self::MAX_LEN
            && !raw.contains("//")
            && (raw == "/" || !raw.ends_with('/'))
            && raw.chars().all(allowed);
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(TargetError::Path(echo(raw)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn is_any(&self) -> bool {
        self.0 == "*"
    }
}

/// Where a limit applies: the whole stage, one method of one resource (a REST method setting,
/// or the HTTP API route with that route key), or an HTTP API's `$default` route.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Level {
    Stage,
    Method {
        method: HttpMethod,
        path: ResourcePath,
    },
    /// The catch-all route of an HTTP API (route key `$default`).
    DefaultRoute,
}

impl Level {
    /// The route key of an HTTP API's catch-all route, as users type it.
    pub const DEFAULT_ROUTE: &'static str = "$default";

    /// A level as a person names it: `* *` is the stage; a partial wildcard (`GET *`,
    /// `* /pets`) is refused. AWS's Patch Operations reference documents only `*/*` as a
    /// wildcard; a partial one is stored and reported not to take effect (terraform-provider-aws
    /// issue 2406, SAM issue 1518), so a change to it would read as made while nothing changed.
    pub fn enforced(method: HttpMethod, path: ResourcePath) -> Result<Self, TargetError> {
        if method.is_any() != path.is_any() {
            return Err(TargetError::PartialWildcard(format!(
                "{} {}",
                method.as_str(),
                path.as_str()
            )));
        }
        Ok(Self::method(method, path))
    }

    /// `*` for both method and path is the stage-wide setting.
    pub fn method(method: HttpMethod, path: ResourcePath) -> Self {
        if method.is_any() && path.is_any() {
            Self::Stage
        } else {
            Self::Method { method, path }
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stage => f.write_str("stage-wide"),
            Self::Method { method, path } => write!(f, "{} {}", method.as_str(), path.as_str()),
            Self::DefaultRoute => f.write_str(Level::DEFAULT_ROUTE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_ids_are_ten_lower_case_letters_and_digits() {
        assert_eq!(ApiId::parse("a1b2c3d4e5").unwrap().id(), "a1b2c3d4e5");
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
    fn an_api_in_another_target_is_written_after_its_alias() {
        let id = ApiId::parse("prod:a1b2c3d4e5").unwrap();
        assert_eq!(id.id(), "a1b2c3d4e5");
        assert_eq!(id.target().map(TargetAlias::as_str), Some("prod"));
        assert_eq!(id.to_string(), "prod:a1b2c3d4e5");
        assert_eq!(ApiId::parse(&id.to_string()), Ok(id.clone()));
        // `home:` is the home target, written without an alias.
        let home = ApiId::parse("home:a1b2c3d4e5").unwrap();
        assert_eq!(
            (home.target(), home.to_string().as_str()),
            (None, "a1b2c3d4e5")
        );
        assert_eq!(home, ApiId::parse("a1b2c3d4e5").unwrap());
        assert_ne!(home, id);
        assert_eq!(home.clone().in_target(id.target().cloned()), id);
        for bad in [
            "Prod:a1b2c3d4e5",
            ":a1b2c3d4e5",
            "prod:",
            "prod:a1b2",
            "1x:a1b2c3d4e5",
        ] {
            assert!(ApiId::parse(bad).is_err(), "{bad} should be refused");
        }
        let name = ApiName::parse("prod:pet:store").unwrap();
        assert_eq!(
            (name.name(), name.to_string().as_str()),
            ("pet:store", "prod:pet:store")
        );
        assert_eq!(name.target().map(TargetAlias::as_str), Some("prod"));
        let home = ApiName::parse("home:pet:store").unwrap();
        assert_eq!(
            (home.target(), home.to_string().as_str()),
            (None, "pet:store")
        );
        assert!(ApiName::parse("prod:").is_err());
        assert!(ApiName::parse("No Such:petstore").is_err());
        let typed = ApiRef::parse("prod:petstore").unwrap();
        assert_eq!(
            (typed.bare(), typed.target().map(TargetAlias::as_str)),
            ("petstore", Some("prod"))
        );
        let typed = ApiRef::parse("prod:a1b2c3d4e5").unwrap();
        assert!(matches!(typed, ApiRef::Id(_)));
        assert_eq!(
            (typed.bare(), typed.to_string().as_str()),
            ("a1b2c3d4e5", "prod:a1b2c3d4e5")
        );
    }

    #[test]
    fn target_aliases_are_short_lower_case_words() {
        assert_eq!(TargetAlias::parse("home"), Ok(None));
        assert_eq!(
            TargetAlias::parse("eu-prod-2").unwrap().unwrap().as_str(),
            "eu-prod-2"
        );
        assert_eq!(
            TargetAlias::parse(&"a".repeat(32))
                .unwrap()
                .unwrap()
                .as_str()
                .len(),
            32
        );
        for bad in [
            "",
            "Prod",
            "2prod",
            "-prod",
            "pr od",
            "prod_1",
            &"a".repeat(33),
        ] {
            assert!(
                TargetAlias::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
        assert_eq!(TargetAlias::name(None), "home");
    }

    #[test]
    fn api_references_are_ids_when_they_look_like_ids_and_names_otherwise() {
        assert!(matches!(ApiRef::parse("a1b2c3d4e5"), Ok(ApiRef::Id(_))));
        assert!(matches!(ApiRef::parse("petstore"), Ok(ApiRef::Name(_))));
        assert!(matches!(ApiRef::parse("Pet-Store_v2"), Ok(ApiRef::Name(_))));
        assert!(ApiRef::parse(&"n".repeat(129)).is_err());
    }

    #[test]
    fn methods_are_upper_cased_and_checked() {
        assert_eq!(HttpMethod::parse("get").unwrap().as_str(), "GET");
        assert_eq!(HttpMethod::parse("*").unwrap().as_str(), "*");
        assert!(HttpMethod::parse("FETCH").is_err());
    }

    #[test]
    fn resource_paths_start_with_a_slash_or_are_a_star() {
        for good in ["/", "/pets", "/pets/{id}", "/v1/orders/{proxy+}", "*"] {
            assert!(ResourcePath::parse(good).is_ok(), "{good}");
        }
        for bad in ["pets", "/pets/", "//pets", "/pe ts", "/<script>"] {
            assert!(ResourcePath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn star_method_on_star_path_is_the_stage() {
        let level = Level::method(
            HttpMethod::parse("*").unwrap(),
            ResourcePath::parse("*").unwrap(),
        );
        assert_eq!(level, Level::Stage);
        let level = Level::method(
            HttpMethod::parse("get").unwrap(),
            ResourcePath::parse("/pets").unwrap(),
        );
        assert_eq!(level.to_string(), "GET /pets");
    }

    #[test]
    fn each_kind_refuses_the_other_kinds_levels() {
        let level = |m: &str, p: &str| {
            Level::method(
                HttpMethod::parse(m).unwrap(),
                ResourcePath::parse(p).unwrap(),
            )
        };
        for ok in [
            Level::Stage,
            level("GET", "/orders/{id}"),
            level("ANY", "/{proxy+}"),
        ] {
            assert_eq!(ApiKind::Rest.check(&ok), Ok(()), "{ok}");
            assert_eq!(ApiKind::Http.check(&ok), Ok(()), "{ok}");
        }
        assert_eq!(
            ApiKind::Rest.check(&Level::DefaultRoute),
            Err(TargetError::DefaultRouteOnRest)
        );
        assert_eq!(ApiKind::Http.check(&Level::DefaultRoute), Ok(()));
        for (m, p) in [("*", "/pets"), ("GET", "*")] {
            assert_eq!(ApiKind::Rest.check(&level(m, p)), Ok(()));
            assert_eq!(
                ApiKind::Http.check(&level(m, p)),
                Err(TargetError::WildcardOnHttp(format!("{m} {p}")))
            );
        }
        assert!(!ApiKind::Http.stage_can_be_unset());
        assert!(ApiKind::Rest.stage_can_be_unset());
        assert_eq!(Level::DefaultRoute.to_string(), "$default");
        assert_eq!(
            (ApiKind::Rest.to_string(), ApiKind::Http.to_string()),
            ("REST API".to_owned(), "HTTP API".to_owned())
        );
        assert_eq!(
            (ApiKind::Rest.label(), ApiKind::Http.label()),
            ("rest", "http")
        );
        for kind in [ApiKind::Rest, ApiKind::Http] {
            assert_eq!(ApiKind::from_label(kind.label()), Some(kind));
        }
        assert_eq!(ApiKind::from_label("websocket"), None);
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

    #[test]
    fn an_http_apis_default_stage_is_the_only_name_with_a_dollar() {
        assert_eq!(StageName::parse("$default").unwrap().as_str(), "$default");
        for bad in [
            "$Default",
            "$default2",
            "prod$",
            "$",
            "$$default",
            " $default",
        ] {
            let refused = StageName::parse(bad).unwrap_err().to_string();
            assert!(refused.contains("`$default`"), "{bad}: {refused}");
        }
    }
}
