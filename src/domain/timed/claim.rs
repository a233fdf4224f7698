//! Claims: which process runs a due restore, kept as sealed stage tags beside the records.

use sha2::{Digest, Sha256};

use super::{MAX_KEY_LEN, Place, RecordLevel, RecordSeal, TAG_PREFIX, Timed, escape, unescape};

/// Every claim's tag key starts with this.
pub const CLAIM_PREFIX: &str = "throttle-bot:claim:";

/// A process's claim to run a due restore. A process that finds another's fresh claim leaves
/// the restore to it; otherwise it writes its own, waits, and reads back: of two that wrote at
/// once, only the one whose claim stayed (the last written) goes on, and the other then finds
/// a fresh claim. A claim left by a dead process goes stale and is overwritten. Claims are
/// sealed like records: a hand-written one holds nobody off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The claim's tag key, which names the level it is for.
    pub key: String,
    /// The claiming process's token.
    pub by: String,
    /// When it was claimed, in Unix seconds.
    pub at: i64,
}

impl Claim {
    /// A claim on `level`; `None` for a level that can hold no record.
    pub fn new<L: RecordLevel>(level: &L, by: String, at: i64) -> Option<Self> {
        Some(Self {
            key: Self::tag_key(level)?,
            by,
            at,
        })
    }

    /// `throttle-bot:claim:stage`, `throttle-bot:claim:GET /pets`: never read as a record. A
    /// level whose record key is long is named by a digest of it instead, so every record
    /// that fits a tag has a claim that fits too.
    pub fn tag_key<L: RecordLevel>(level: &L) -> Option<String> {
        let record = Timed::tag_key(level)?;
        let key = format!("{CLAIM_PREFIX}{}", &record[TAG_PREFIX.len()..]);
        if key.len() <= MAX_KEY_LEN {
            return Some(key);
        }
        let digest = hex::encode(&Sha256::digest(record.as_bytes())[..16]);
        Some(format!("{CLAIM_PREFIX}sha256:{digest}"))
    }

    /// How long a claim holds off others: far longer than a restore takes.
    pub const FRESH_SECS: i64 = 60;

    pub fn to_tag(&self, seal: &RecordSeal, place: Place<'_>) -> (String, String) {
        let value = format!("by={} at={}", escape(&self.by), self.at);
        seal.sign(place, self.key.clone(), value)
    }

    /// A claim this service sealed at `place`; `None` for anything else.
    pub fn from_tag(
        key: &str,
        value: &str,
        seal: Option<&RecordSeal>,
        place: Place<'_>,
    ) -> Option<Self> {
        if !key.starts_with(CLAIM_PREFIX) {
            return None;
        }
        let body = seal?.verify(place, key, value)?;
        let field = |name: &str| {
            body.split(' ')
                .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
        };
        Some(Self {
            key: key.to_owned(),
            by: unescape(field("by")?)?,
            at: field("at")?.parse().ok()?,
        })
    }

    /// Whether another process holding it should be left to finish.
    pub fn is_fresh(&self, now: i64) -> bool {
        now - self.at < Self::FRESH_SECS
    }
}
