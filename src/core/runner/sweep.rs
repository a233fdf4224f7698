//! What a sweep needs of the runner beyond its reads: the sweep's lease, sealed as claims are,
//! so that only this service's replicas hold one another off.

use super::Runner;
use crate::core::ports::{Gateway, Teller};
use crate::domain::{ApiId, Lease, Place, PlanView, StageView};

impl<G: Gateway, T: Teller> Runner<G, T> {
    /// The lease among a resource's tags, if this service sealed one there; `None` without a
    /// seal (no record is trusted then, so there is nothing to sweep).
    pub fn lease_on<'a>(
        &self,
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
        place: Place<'_>,
    ) -> Option<Lease> {
        Lease::from_tags(tags, self.seal.as_ref()?, place)
    }

    /// How many of a stage's records this service sealed, read without telling anyone of the
    /// others (they may be another deployment's).
    pub fn sealed_records(&self, api: &ApiId, mut view: StageView) -> usize {
        view.open(self.seal.as_ref(), api);
        view.timed.len()
    }

    /// The same for a usage plan's records.
    pub fn sealed_plan_records(&self, mut view: PlanView) -> usize {
        view.open(self.seal.as_ref());
        view.timed.len()
    }

    /// The sealed tag holding `lease` at `place`; `None` without a seal.
    pub fn lease_tag(&self, lease: &Lease, place: Place<'_>) -> Option<(String, String)> {
        Some(lease.to_tag(self.seal.as_ref()?, place))
    }
}
