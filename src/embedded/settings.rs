//! What a write touches besides throttling (`../shared/aws-facts.md`), as the AWS adapter
//! meets it:
//! - a REST method's settings are one whole entry: the first throttle on a method with no
//!   entry creates it with AWS's defaults (metrics, caching and execution logs off), and the
//!   adapter copies the stage-wide entry's settings into it in the same call (caching only for
//!   GET, the only methods stage caching covers), so the method keeps behaving as the stage
//!   does; a reset removes an entry that holds nothing of its own, else leaves it unthrottled;
//! - an HTTP API's route settings are one object the adapter sends back whole with the new
//!   throttle; a route's reset deletes the object (`DeleteRouteSettings`: its detailed
//!   metrics go too); the stage's default route settings keep theirs.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::domain::{ApiKind, Level, StageView};

/// A REST stage's `*/*` entry, and an HTTP stage's default route settings.
pub const STAGE_KEY: &str = "*/*";

/// Execution logs of a REST method entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Logs {
    #[default]
    Off,
    Error,
    Info,
}

/// One entry's settings other than throttling.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extras {
    /// Detailed (per-method or per-route) CloudWatch metrics.
    pub metrics: bool,
    pub caching: bool,
    pub logs: Logs,
}

impl Extras {
    fn words(&self, kind: ApiKind) -> String {
        let mut said = vec![if self.metrics {
            "detailed metrics on"
        } else {
            "detailed metrics off"
        }];
        if kind == ApiKind::Rest {
            said.push(if self.caching {
                "caching on"
            } else {
                "caching off"
            });
            said.push(match self.logs {
                Logs::Off => "logs off",
                Logs::Error => "ERROR logs",
                Logs::Info => "INFO logs",
            });
        }
        said.join(", ")
    }
}

/// The key of a level's entry: REST's `~1pets~1{id}/GET` (`*/*` for the stage), an HTTP
/// route's key (`GET /orders`, `$default`).
pub fn entry_key(kind: ApiKind, level: &Level) -> String {
    match (kind, level) {
        (_, Level::Stage) => STAGE_KEY.to_owned(),
        (ApiKind::Rest, Level::Method { method, path }) => format!(
            "{}/{}",
            path.as_str().replace('~', "~0").replace('/', "~1"),
            method.as_str()
        ),
        (_, level) => level.to_string(),
    }
}

/// Every stage's entries (by `api/stage`, then by key).
#[derive(Default)]
pub struct Entries(Mutex<HashMap<String, BTreeMap<String, Extras>>>);

impl Entries {
    /// Puts an entry as the account holds it before anything is changed.
    pub fn put(&self, place: &str, key: &str, extras: Extras) {
        let mut all = self.0.lock().unwrap();
        all.entry(place.to_owned())
            .or_default()
            .insert(key.to_owned(), extras);
    }

    /// A throttle written at `key`.
    pub fn set(&self, place: &str, kind: ApiKind, key: &str) {
        let mut all = self.0.lock().unwrap();
        let stage = all.entry(place.to_owned()).or_default();
        if stage.contains_key(key) {
            return;
        }
        let created = match kind {
            ApiKind::Rest if key != STAGE_KEY => inherited(key, stage.get(STAGE_KEY)),
            // A new object with AWS's defaults: nothing of the default route's is copied.
            _ => Extras::default(),
        };
        stage.insert(key.to_owned(), created);
    }

    /// A throttle removed at `key`.
    pub fn reset(&self, place: &str, kind: ApiKind, key: &str) {
        let mut all = self.0.lock().unwrap();
        let Some(stage) = all.get_mut(place) else {
            return;
        };
        if key == STAGE_KEY {
            return;
        }
        let holds_nothing_of_its_own = match kind {
            ApiKind::Rest => stage.get(key) == Some(&inherited(key, stage.get(STAGE_KEY))),
            ApiKind::Http => true,
        };
        if holds_nothing_of_its_own {
            stage.remove(key);
        }
    }

    /// The stage's entries, one line each: throttle (or "inherits") and the other settings.
    pub fn describe(&self, place: &str, view: &StageView) -> Vec<String> {
        let all = self.0.lock().unwrap();
        let stage = all.get(place).cloned().unwrap_or_default();
        let mut lines = Vec::new();
        let throttle = |level: &Level| match level {
            Level::Stage => view.stage_wide,
            level => view
                .methods
                .iter()
                .find(|(held, _)| held == level)
                .map(|(_, values)| *values)
                .unwrap_or_default(),
        };
        let mut levels = vec![Level::Stage];
        levels.extend(view.methods.iter().map(|(level, _)| level.clone()));
        let mut keys: Vec<(String, Level)> = levels
            .into_iter()
            .map(|level| (entry_key(view.kind, &level), level))
            .collect();
        for key in stage.keys() {
            if !keys.iter().any(|(held, _)| held == key) {
                keys.push((key.clone(), Level::Stage));
            }
        }
        for (key, level) in keys {
            let extras = stage.get(&key).cloned().unwrap_or_default();
            let values = if key == entry_key(view.kind, &level) {
                throttle(&level)
            } else {
                Default::default()
            };
            let limits = match (values.rate, values.burst) {
                (None, None) => "throttling not set".to_owned(),
                _ => format!("throttling {values}"),
            };
            let name = match view.kind {
                ApiKind::Rest => key.clone(),
                ApiKind::Http if key == STAGE_KEY => "default route settings".to_owned(),
                ApiKind::Http => format!("route {key}"),
            };
            lines.push(format!("{name}: {limits}; {}", extras.words(view.kind)));
        }
        lines
    }
}

/// What a REST method's new entry holds besides throttling: AWS's defaults, with the
/// stage-wide entry's settings copied by the adapter (caching for GET only).
fn inherited(key: &str, stage_wide: Option<&Extras>) -> Extras {
    let mut extras = stage_wide.cloned().unwrap_or_default();
    if !key.ends_with("/GET") {
        extras.caching = false;
    }
    extras
}

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

    #[test]
    fn a_method_entry_keeps_the_stages_caching_and_logs_and_a_reset_removes_only_what_it_made() {
        let entries = Entries::default();
        let stage = Extras {
            metrics: true,
            caching: true,
            logs: Logs::Info,
        };
        entries.put("a/prod", STAGE_KEY, stage.clone());
        let get = entry_key(ApiKind::Rest, &level("GET", "/pets/{id}"));
        let post = entry_key(ApiKind::Rest, &level("POST", "/pets"));
        assert_eq!(get, "~1pets~1{id}/GET");
        entries.set("a/prod", ApiKind::Rest, &get);
        entries.set("a/prod", ApiKind::Rest, &post);
        let held = |key: &str| entries.0.lock().unwrap()["a/prod"].get(key).cloned();
        assert_eq!(held(&get), Some(stage.clone()));
        assert_eq!(
            held(&post),
            Some(Extras {
                caching: false,
                ..stage.clone()
            })
        );
        entries.reset("a/prod", ApiKind::Rest, &get);
        assert_eq!(held(&get), None);
        // An entry with settings of its own stays, unthrottled.
        entries.put("a/prod", &get, Extras::default());
        entries.reset("a/prod", ApiKind::Rest, &get);
        assert_eq!(held(&get), Some(Extras::default()));
    }

    #[test]
    fn an_http_routes_reset_deletes_its_whole_settings_object() {
        let entries = Entries::default();
        let route = Extras {
            metrics: true,
            ..Extras::default()
        };
        entries.put("h/$default", "GET /orders", route.clone());
        entries.set("h/$default", ApiKind::Http, "GET /orders");
        assert_eq!(
            entries.0.lock().unwrap()["h/$default"]["GET /orders"],
            route
        );
        entries.reset("h/$default", ApiKind::Http, "GET /orders");
        assert!(entries.0.lock().unwrap()["h/$default"].is_empty());
    }
}
