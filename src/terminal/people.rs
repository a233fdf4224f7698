//! Who types: a few people with Slack-like ids, and whoever `as <name>` brings in.

use crate::core::requester::ChatId;

/// The people of the sample workspace: `lead` is the approver the example policy names.
const SAMPLE: [(&str, &str); 3] = [("ann", "U0ANN"), ("bob", "U0BOB"), ("lead", "U0LEAD0001")];

/// A name `as` cannot bring in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a name here: use letters and digits (or a Slack user id)")]
pub struct NotAName(pub String);

pub struct People {
    known: Vec<(String, String)>,
    current: usize,
}

impl Default for People {
    fn default() -> Self {
        Self {
            known: SAMPLE
                .iter()
                .map(|(name, id)| ((*name).to_owned(), (*id).to_owned()))
                .collect(),
            current: 0,
        }
    }
}

impl People {
    pub fn current_name(&self) -> &str {
        &self.known[self.current].0
    }

    pub fn current_id(&self) -> &str {
        &self.known[self.current].1
    }

    /// Everyone but whoever types now.
    pub fn others(&self) -> Vec<&str> {
        (0..self.known.len())
            .filter(|i| *i != self.current)
            .map(|i| self.known[i].0.as_str())
            .collect()
    }

    /// The name of a user id, if it is someone here.
    pub fn known(&self, id: &str) -> Option<&str> {
        self.known
            .iter()
            .find(|(_, known)| known == id)
            .map(|(name, _)| name.as_str())
    }

    /// The name of a user id, or the id itself.
    pub fn name_of<'a>(&'a self, id: &'a str) -> &'a str {
        self.known(id).unwrap_or(id)
    }

    /// Makes `name` the one typing, bringing them in if new (an id from their name, or a
    /// Slack user id typed as it is). `Err` with why for a name that cannot be one.
    pub fn switch(&mut self, name: &str) -> Result<(), NotAName> {
        let name = name.trim().trim_start_matches('@');
        if let Some(at) = self
            .known
            .iter()
            .position(|(known, id)| known.eq_ignore_ascii_case(name) || id == name)
        {
            self.current = at;
            return Ok(());
        }
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(NotAName(name.to_owned()));
        }
        let id = if ChatId::parse(name).is_some() && name.starts_with('U') {
            name.to_owned()
        } else {
            let mut id = format!("U0{}", name.to_ascii_uppercase());
            id.truncate(ChatId::MAX_LEN);
            id
        };
        self.known.push((name.to_ascii_lowercase(), id));
        self.current = self.known.len() - 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_switches_to_someone_known_or_new() {
        let mut people = People::default();
        assert_eq!(people.current_id(), "U0ANN");
        people.switch("lead").unwrap();
        assert_eq!(people.current_id(), "U0LEAD0001");
        people.switch("@Carol").unwrap();
        assert_eq!(
            (people.current_name(), people.current_id()),
            ("carol", "U0CAROL")
        );
        assert_eq!(people.known("U0BOB"), Some("bob"));
        assert!(people.switch("no one").is_err());
        assert_eq!(people.others(), ["ann", "bob", "lead"]);
    }
}
