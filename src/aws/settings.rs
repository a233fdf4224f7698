//! API Gateway's method-setting keys: `*/*` for the stage, `~1pets~1{id}/GET` for a method
//! (each `/` of the resource path written `~1`, each `~` written `~0`).

use crate::domain::{HttpMethod, Level, ResourcePath};

/// `None` for a level REST APIs do not have (`$default`: refused before any call).
pub fn setting_key(level: &Level) -> Option<String> {
    Some(match level {
        Level::Stage => "*/*".to_owned(),
        Level::DefaultRoute => return None,
        Level::Method { method, path } => {
            let path = match path.as_str() {
                "*" => "*".to_owned(),
                p => p.replace('~', "~0").replace('/', "~1"),
            };
            format!("{path}/{}", method.as_str())
        }
    })
}

pub fn parse_setting_key(key: &str) -> Option<Level> {
    let (path, method) = key.rsplit_once('/')?;
    let path = match path {
        "*" => "*".to_owned(),
        p => p.replace("~1", "/").replace("~0", "~"),
    };
    Some(Level::method(
        HttpMethod::parse(method).ok()?,
        ResourcePath::parse(&path).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn method(m: &str, p: &str) -> Level {
        Level::method(
            HttpMethod::parse(m).unwrap(),
            ResourcePath::parse(p).unwrap(),
        )
    }

    #[test]
    fn keys_escape_slashes_in_resource_paths() {
        assert_eq!(setting_key(&Level::Stage).as_deref(), Some("*/*"));
        assert_eq!(
            setting_key(&method("GET", "/pets/{id}")).as_deref(),
            Some("~1pets~1{id}/GET")
        );
        assert_eq!(
            setting_key(&method("POST", "/")).as_deref(),
            Some("~1/POST")
        );
        assert_eq!(setting_key(&method("GET", "*")).as_deref(), Some("*/GET"));
        assert_eq!(
            setting_key(&method("*", "/pets")).as_deref(),
            Some("~1pets/*")
        );
    }

    #[test]
    fn rest_apis_have_no_default_route_key() {
        assert_eq!(setting_key(&Level::DefaultRoute), None);
    }

    #[test]
    fn keys_read_back_to_the_same_level() {
        for level in [
            Level::Stage,
            method("GET", "/pets/{id}"),
            method("DELETE", "/"),
            method("GET", "*"),
            method("*", "/a~b"),
        ] {
            assert_eq!(
                parse_setting_key(&setting_key(&level).unwrap()),
                Some(level)
            );
        }
    }
}
