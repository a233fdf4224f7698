//! An API's methods against what a level names. API Gateway stores a REST method setting for a
//! method the API does not have and applies it to no request, so a mistyped path
//! (`GET /pet/{id}` for `GET /pets/{id}`) would read as a change made while nothing is throttled.

use super::Level;

/// One method of an API, as API Gateway lists it: an HTTP method on a resource path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiMethod {
    pub method: String,
    pub path: String,
}

impl ApiMethod {
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
        }
    }

    fn typed(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Whether the API has what `level` names. `*` stands for every method or every resource, so
/// `GET *` needs some GET and `* /pets` some method on `/pets`; the stage-wide level and an
/// HTTP API's `$default` route name no method.
pub fn has_level(methods: &[ApiMethod], level: &Level) -> bool {
    let Level::Method { method, path } = level else {
        return true;
    };
    let any_method = method.as_str() == "*";
    let any_path = path.as_str() == "*";
    methods.iter().any(|m| {
        (any_method || m.method == method.as_str()) && (any_path || m.path == path.as_str())
    })
}

/// What to offer instead of a level the API lacks, as users type it: up to three of its methods
/// close to what was typed, best first; with none close, all of a small API's methods (at most
/// [`LIST_ALL_UP_TO`]); else none.
pub fn instead_of(methods: &[ApiMethod], level: &Level) -> Vec<String> {
    let Level::Method { method, path } = level else {
        return Vec::new();
    };
    // Alike by path (a method string's shared `GET /` would make every path look close); on
    // the same path, the method typed first.
    let wanted = path.as_str().to_lowercase();
    let mut scored: Vec<(f64, bool, String)> = methods
        .iter()
        .map(|m| {
            let alike = strsim::jaro_winkler(&wanted, &m.path.to_lowercase());
            (alike, m.method == method.as_str(), m.typed())
        })
        .filter(|(alike, _, _)| *alike >= CLOSE)
        .collect();
    scored.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| b.1.cmp(&a.1))
            .then_with(|| a.2.cmp(&b.2))
    });
    let mut offered: Vec<String> = scored.into_iter().map(|(_, _, typed)| typed).collect();
    offered.dedup();
    offered.truncate(3);
    if offered.is_empty() && methods.len() <= LIST_ALL_UP_TO {
        offered = methods.iter().map(ApiMethod::typed).collect();
        offered.sort();
    }
    offered
}

/// How alike (Jaro–Winkler) a method's path must be to the one typed to be offered as a fix.
const CLOSE: f64 = 0.85;

/// An API with at most this many methods has them all listed when none is close.
pub const LIST_ALL_UP_TO: usize = 6;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{HttpMethod, ResourcePath};

    fn level(method: &str, path: &str) -> Level {
        Level::method(
            HttpMethod::parse(method).unwrap(),
            ResourcePath::parse(path).unwrap(),
        )
    }

    fn petstore() -> Vec<ApiMethod> {
        vec![
            ApiMethod::new("GET", "/"),
            ApiMethod::new("GET", "/pets"),
            ApiMethod::new("POST", "/pets"),
            ApiMethod::new("GET", "/pets/{id}"),
        ]
    }

    #[test]
    fn a_level_is_found_only_where_the_api_has_that_method_on_that_resource() {
        let api = petstore();
        assert!(has_level(&api, &level("GET", "/pets/{id}")));
        assert!(has_level(&api, &level("post", "/pets")));
        assert!(
            !has_level(&api, &level("DELETE", "/pets")),
            "no such method"
        );
        assert!(!has_level(&api, &level("GET", "/pet/{id}")), "no such path");
        assert!(
            !has_level(&api, &level("POST", "/")),
            "method of another path"
        );
        assert!(!has_level(&[], &level("GET", "/")));
    }

    #[test]
    fn a_star_stands_for_every_method_or_every_resource() {
        let api = petstore();
        assert!(has_level(&api, &level("*", "/pets")));
        assert!(!has_level(&api, &level("*", "/owners")));
        assert!(has_level(&api, &level("POST", "*")));
        assert!(!has_level(&api, &level("DELETE", "*")));
        assert!(has_level(&[], &Level::Stage));
        assert!(has_level(&[], &Level::DefaultRoute));
    }

    #[test]
    fn a_typo_is_offered_its_fix_and_a_small_api_its_methods() {
        let api = petstore();
        let offered = instead_of(&api, &level("GET", "/pet/{id}"));
        assert_eq!(offered.first().map(String::as_str), Some("GET /pets/{id}"));
        assert!(offered.len() <= 3, "{offered:?}");
        // On the right path with the wrong method: that path's methods, the typed one first.
        assert_eq!(
            instead_of(&api, &level("DELETE", "/pets"))[..2],
            ["GET /pets", "POST /pets"]
        );
        assert_eq!(
            instead_of(&api, &level("POST", "/pet"))[..2],
            ["POST /pets", "GET /pets"]
        );
        // A shared method and `/` make no path close: the small API's methods, all of them.
        assert_eq!(
            instead_of(&api, &level("GET", "/nope")),
            ["GET /", "GET /pets", "GET /pets/{id}", "POST /pets"]
        );
        assert!(instead_of(&api, &Level::Stage).is_empty());
        // Nothing close: a small API's methods, all of them, in order.
        assert_eq!(
            instead_of(&api, &level("DELETE", "/owners/{owner}/visits")),
            ["GET /", "GET /pets", "GET /pets/{id}", "POST /pets"]
        );
        // Nothing close and many methods: none offered rather than a long list.
        let many: Vec<ApiMethod> = (0..=LIST_ALL_UP_TO)
            .map(|i| ApiMethod::new("GET", &format!("/resource{i}")))
            .collect();
        assert!(instead_of(&many, &level("DELETE", "/owners/{owner}/visits")).is_empty());
        assert_eq!(
            instead_of(
                &many[..LIST_ALL_UP_TO],
                &level("DELETE", "/owners/{owner}/visits")
            )
            .len(),
            LIST_ALL_UP_TO
        );
    }
}
