//! Where a deployment's timed-change records are, and which replica sweeps them.
//!
//! Every stage and usage plan that holds a record also carries [`MARKER_KEY`], written in the
//! same call as the record, so that one tagging query per account and region finds them all
//! (the sweep's cost then follows the timed changes in force, not the number of APIs). One
//! replica per account and region sweeps them, under a [`Lease`]: a sealed claim, as a
//! restore takes, kept on the first resource that holds records.

use super::target::{ApiId, ApiKind, StageName, TargetAlias};
use super::timed::{CLAIM_PREFIX, Claim, Place, RecordSeal, TAG_PREFIX};

/// The tag a stage or usage plan holding this service's records carries beside them. Its value
/// is the deployment's mark (derived from its secret, revealing nothing of it), so that
/// deployments sharing an account each find only their own records.
pub const MARKER_KEY: &str = "throttle-bot:records";

/// The sweep lease's tag key: under the claims' prefix, so that nothing reads it as a record.
pub const LEASE_KEY: &str = "throttle-bot:claim:sweep";

/// Whether a tag key is a timed change's record: ours, and neither a claim nor the marker.
pub fn is_record_key(key: &str) -> bool {
    key.starts_with(TAG_PREFIX) && !key.starts_with(CLAIM_PREFIX) && key != MARKER_KEY
}

/// A resource holding records, as the tagging API names it by its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    Stage {
        kind: ApiKind,
        api: ApiId,
        stage: StageName,
    },
    /// A usage plan, by its id as records name it (`prod:abc123` in another target).
    Plan(String),
}

impl Holder {
    /// What an API Gateway ARN of `target` names: a REST API's stage
    /// (`arn:aws:apigateway:eu-west-1::/restapis/a1b2c3d4e5/stages/prod`), an HTTP API's
    /// (`…::/apis/a1b2c3d4e5/stages/prod`) or a usage plan (`…::/usageplans/abc123`); `None`
    /// for anything else (an API, a domain name).
    pub fn from_arn(arn: &str, target: Option<&TargetAlias>) -> Option<Self> {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(_), Some("apigateway"), Some(_), Some(""), Some(path)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        let in_target = |id: &str| match target {
            Some(alias) => format!("{alias}:{id}"),
            None => id.to_owned(),
        };
        match segments.as_slice() {
            [kind @ ("restapis" | "apis"), api, "stages", stage] => Some(Self::Stage {
                kind: if *kind == "restapis" {
                    ApiKind::Rest
                } else {
                    ApiKind::Http
                },
                api: ApiId::parse(api).ok()?.in_target(target.cloned()),
                stage: StageName::parse(stage).ok()?,
            }),
            ["usageplans", plan]
                if !plan.is_empty() && plan.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                Some(Self::Plan(in_target(plan)))
            }
            _ => None,
        }
    }

    /// Where its records and claims are sealed to.
    pub fn place(&self) -> Place<'_> {
        match self {
            Self::Stage { api, stage, .. } => Place::Stage { api, stage },
            Self::Plan(plan) => Place::Plan(plan),
        }
    }
}

/// A resource holding this deployment's records, with its tags as the tagging API listed them.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    /// Its ARN: the order replicas agree on for where the lease is kept.
    pub arn: String,
    pub holder: Holder,
    pub tags: Vec<(String, String)>,
}

/// A replica's lease on one account and region's sweep: which process (its token) renewed it
/// last, and when (Unix seconds). Sealed like a restore's claim, so a hand-written one holds
/// nobody off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub by: String,
    pub at: i64,
}

impl Lease {
    /// The lease among a resource's tags, if one sealed by `seal` for `place` is there.
    pub fn from_tags<'a>(
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
        seal: &RecordSeal,
        place: Place<'_>,
    ) -> Option<Self> {
        let (key, value) = tags.into_iter().find(|(key, _)| *key == LEASE_KEY)?;
        let claim = Claim::from_tag(key, value, Some(seal), place)?;
        Some(Self {
            by: claim.by,
            at: claim.at,
        })
    }

    /// The sealed tag that holds this lease at `place`.
    pub fn to_tag(&self, seal: &RecordSeal, place: Place<'_>) -> (String, String) {
        let claim = Claim {
            key: LEASE_KEY.to_owned(),
            by: self.by.clone(),
            at: self.at,
        };
        claim.to_tag(seal, place)
    }
}

/// What a replica does about a sweep, given the lease it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseStep {
    /// Its own: renewed, and it sweeps.
    Renew,
    /// None, or one gone stale: written, and after the claims settle, read back.
    Take,
    /// Another replica's, fresh until `until` (Unix seconds): look again then.
    Leave { until: i64 },
}

/// How far another process's clock may run behind this one's (seconds) before a lease it wrote
/// after this process started would look older than that start.
pub const CLOCK_SKEW: i64 = 5;

/// Whether another replica is alive: a lease not `me`'s was written since the one this
/// replica saw before (`seen`), after this replica `started` (Unix seconds, less
/// [`CLOCK_SKEW`]). A lease left by a process that stopped never changes, so a replica that
/// replaces it waits it out and takes it; one renewed after this replica started was renewed
/// by a process still running, which this one would race (one replica per Slack app). The
/// start matters because the tagging API is eventually consistent: a replacement may see its
/// crashed predecessor's older lease first and its last renewal after.
pub fn renewed_elsewhere(seen: Option<&Lease>, found: &Lease, me: &str, started: i64) -> bool {
    found.by != me
        && found.at > started.saturating_add(CLOCK_SKEW)
        && seen.is_some_and(|seen| seen != found)
}

/// The step for the replica with token `me` at `now`, for a lease that lasts `ttl` seconds.
pub fn lease_step(found: Option<&Lease>, me: &str, now: i64, ttl: i64) -> LeaseStep {
    match found {
        Some(lease) if lease.by == me => LeaseStep::Renew,
        Some(lease) if now - lease.at < ttl => LeaseStep::Leave {
            until: lease.at + ttl,
        },
        _ => LeaseStep::Take,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_replica_is_alive_only_when_a_lease_not_ours_changed_since_we_saw_one() {
        let lease = |by: &str, at: i64| Lease {
            by: by.to_owned(),
            at,
        };
        let started = 0;
        // The first look proves nothing: the lease may be a stopped process's.
        assert!(!renewed_elsewhere(None, &lease("other", 10), "me", started));
        // The same lease again: its holder stopped renewing.
        let seen = Some(lease("other", 10));
        assert!(!renewed_elsewhere(
            seen.as_ref(),
            &lease("other", 10),
            "me",
            started
        ));
        // Renewed, or taken by a third: a process is running.
        assert!(renewed_elsewhere(
            seen.as_ref(),
            &lease("other", 70),
            "me",
            started
        ));
        assert!(renewed_elsewhere(
            seen.as_ref(),
            &lease("third", 12),
            "me",
            started
        ));
        // Ours, whatever was seen before.
        assert!(!renewed_elsewhere(
            seen.as_ref(),
            &lease("me", 80),
            "me",
            started
        ));
        // Renewed, but before this replica started (give or take the clocks' skew): a crashed
        // predecessor's last renewal, seen late through an eventually consistent index.
        let started = 100;
        for at in [90, 100, 100 + CLOCK_SKEW] {
            assert!(
                !renewed_elsewhere(seen.as_ref(), &lease("other", at), "me", started),
                "{at}"
            );
        }
        assert!(renewed_elsewhere(
            seen.as_ref(),
            &lease("other", 101 + CLOCK_SKEW),
            "me",
            started
        ));
    }

    fn seal() -> RecordSeal {
        RecordSeal::new([5; 32])
    }

    #[test]
    fn arns_name_rest_and_http_stages_and_usage_plans_in_their_target() {
        let prod = TargetAlias::parse("prod").unwrap();
        let rest = Holder::from_arn(
            "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3d4e5/stages/live",
            prod.as_ref(),
        );
        assert_eq!(
            rest,
            Some(Holder::Stage {
                kind: ApiKind::Rest,
                api: ApiId::parse("prod:a1b2c3d4e5").unwrap(),
                stage: StageName::parse("live").unwrap(),
            })
        );
        let http = Holder::from_arn(
            "arn:aws-cn:apigateway:cn-north-1::/apis/a1b2c3d4e5/stages/$default",
            None,
        );
        assert_eq!(
            http,
            Some(Holder::Stage {
                kind: ApiKind::Http,
                api: ApiId::parse("a1b2c3d4e5").unwrap(),
                stage: StageName::parse("$default").unwrap(),
            }),
            "an HTTP API's `$default` stage holds records as any other"
        );
        assert_eq!(
            Holder::from_arn(
                "arn:aws:apigateway:us-east-1::/apis/a1b2c3d4e5/stages/$x",
                None
            ),
            None,
            "no other stage name has a `$`"
        );
        let http = Holder::from_arn(
            "arn:aws:apigateway:us-east-1::/apis/b1b2c3d4e5/stages/v1",
            None,
        );
        assert!(matches!(
            http,
            Some(Holder::Stage {
                kind: ApiKind::Http,
                ..
            })
        ));
        assert_eq!(
            Holder::from_arn(
                "arn:aws:apigateway:us-east-1::/usageplans/abc123",
                prod.as_ref()
            ),
            Some(Holder::Plan("prod:abc123".to_owned()))
        );
        for other in [
            "arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5",
            "arn:aws:lambda:us-east-1:111122223333:function:f",
            "arn:aws:apigateway:us-east-1::/usageplans/",
            "arn:aws:apigateway:us-east-1::/restapis/NOTANID/stages/prod",
            "not an arn",
        ] {
            assert_eq!(Holder::from_arn(other, None), None, "{other}");
        }
    }

    #[test]
    fn only_records_count_as_records_not_claims_the_lease_or_the_marker() {
        assert!(is_record_key("throttle-bot:stage"));
        assert!(is_record_key("throttle-bot:GET /pets"));
        assert!(!is_record_key(MARKER_KEY));
        assert!(!is_record_key(LEASE_KEY));
        assert!(!is_record_key("throttle-bot:claim:stage"));
        assert!(!is_record_key("team"));
    }

    #[test]
    fn the_marker_and_the_lease_are_never_reported_as_untrusted_records() {
        let api = ApiId::parse("a1b2c3d4e5").unwrap();
        let stage = StageName::parse("prod").unwrap();
        let lease = Lease {
            by: "replica-1".to_owned(),
            at: 1_700_000_000,
        };
        let mut view = crate::domain::StageView {
            updated: None,
            stage: "prod".to_owned(),
            tags: vec![
                (MARKER_KEY.to_owned(), "0123456789abcdef".to_owned()),
                lease.to_tag(
                    &seal(),
                    Place::Stage {
                        api: &api,
                        stage: &stage,
                    },
                ),
            ],
            ..Default::default()
        };
        view.open(Some(&seal()), &api);
        assert!(
            view.unsealed.is_empty() && view.timed.is_empty(),
            "{view:?}"
        );
    }

    #[test]
    fn a_lease_reads_back_where_it_was_sealed_and_nowhere_else() {
        let api = ApiId::parse("a1b2c3d4e5").unwrap();
        let stage = StageName::parse("prod").unwrap();
        let other = StageName::parse("test").unwrap();
        let lease = Lease {
            by: "replica-1".to_owned(),
            at: 1_700_000_000,
        };
        let (key, value) = lease.to_tag(
            &seal(),
            Place::Stage {
                api: &api,
                stage: &stage,
            },
        );
        assert_eq!(key, LEASE_KEY);
        let tags = [(key.as_str(), value.as_str()), ("team", "payments")];
        let here = Place::Stage {
            api: &api,
            stage: &stage,
        };
        assert_eq!(Lease::from_tags(tags, &seal(), here), Some(lease));
        let elsewhere = Place::Stage {
            api: &api,
            stage: &other,
        };
        assert_eq!(Lease::from_tags(tags, &seal(), elsewhere), None);
        assert_eq!(
            Lease::from_tags(tags, &RecordSeal::new([6; 32]), here),
            None,
            "another deployment's lease is none of ours"
        );
    }

    #[test]
    fn a_replica_renews_its_lease_leaves_a_fresh_one_and_takes_a_stale_one() {
        let ttl = 360;
        let mine = Lease {
            by: "me".to_owned(),
            at: 1000,
        };
        let theirs = Lease {
            by: "them".to_owned(),
            at: 1000,
        };
        assert_eq!(lease_step(None, "me", 1000, ttl), LeaseStep::Take);
        assert_eq!(lease_step(Some(&mine), "me", 2000, ttl), LeaseStep::Renew);
        assert_eq!(
            lease_step(Some(&theirs), "me", 1100, ttl),
            LeaseStep::Leave { until: 1360 }
        );
        assert_eq!(lease_step(Some(&theirs), "me", 1360, ttl), LeaseStep::Take);
    }
}
