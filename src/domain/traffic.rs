//! The traffic a stage (or one of its methods or routes) served, per minute, as API Gateway
//! publishes it to CloudWatch. Per-second traffic is not published: a minute's count / 60 is a
//! one-minute average, and every figure here says so.

/// One minute's requests and client errors (4XX, 429s included).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Minute {
    /// Unix seconds at the start of the minute.
    pub at: i64,
    pub requests: f64,
    pub client_errors: f64,
}

impl Minute {
    /// The minute's average in requests per second.
    pub fn per_second(&self) -> f64 {
        self.requests / 60.0
    }
}

/// A level's traffic over a window, minute by minute (oldest first).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Traffic {
    pub minutes: Vec<Minute>,
    /// What the figures do not say by themselves about where they were read from.
    pub caveat: Option<Caveat>,
}

/// The dimension an API's metrics are published under, as read: a REST API's `ApiName` (its
/// name as CloudWatch keeps it), an HTTP API's `ApiId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsKey {
    pub dimension: &'static str,
    pub value: String,
}

/// Why a level's traffic means less, or other, than it seems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caveat {
    /// CloudWatch lists no metric under this key at all (it lists those with data in the last
    /// two weeks): no minutes here does not mean no traffic.
    Unpublished(MetricsKey),
    /// Another REST API is published under the same name: the figures are both APIs' sums.
    SharedName(MetricsKey),
}

impl Traffic {
    /// From minutes in any order; minutes with no requests count as served nothing.
    pub fn new(mut minutes: Vec<Minute>) -> Self {
        minutes.sort_by_key(|m| m.at);
        Self {
            minutes,
            caveat: None,
        }
    }

    /// The busiest minute.
    pub fn peak(&self) -> Option<Minute> {
        self.minutes
            .iter()
            .copied()
            .max_by(|a, b| a.requests.total_cmp(&b.requests))
    }

    /// The most recent minute with data.
    pub fn latest(&self) -> Option<Minute> {
        self.minutes.last().copied()
    }

    /// The share of requests answered with a 4XX over the whole window; `None` without requests.
    pub fn client_error_share(&self) -> Option<f64> {
        let requests: f64 = self.minutes.iter().map(|m| m.requests).sum();
        let errors: f64 = self.minutes.iter().map(|m| m.client_errors).sum();
        (requests > 0.0).then(|| (errors / requests).clamp(0.0, 1.0))
    }

    /// The average in requests per second over the minutes with data; `None` without any.
    pub fn average_per_second(&self) -> Option<f64> {
        (!self.minutes.is_empty()).then(|| {
            self.minutes.iter().map(Minute::per_second).sum::<f64>() / self.minutes.len() as f64
        })
    }

    /// The minutes starting in `[from, to)`, with the same caveat.
    pub fn between(&self, from: i64, to: i64) -> Self {
        Self {
            minutes: self
                .minutes
                .iter()
                .copied()
                .filter(|m| m.at >= from && m.at < to)
                .collect(),
            caveat: self.caveat.clone(),
        }
    }
}

/// What a rate below the traffic's peak would have done to that minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shortfall {
    /// The peak minute's average in requests per second.
    pub peak: f64,
    /// The share of that minute's requests the rate would have rejected (0–1).
    pub rejected: f64,
}

/// `Some` when `rate` is below the peak minute's average: at that rate about
/// `(peak - rate) / peak` of that minute's requests would have been rejected.
pub fn shortfall(traffic: &Traffic, rate: f64) -> Option<Shortfall> {
    let peak = traffic.peak()?.per_second();
    // A rate is never negative, so a peak above it is above zero: no division by zero.
    (peak > rate).then(|| Shortfall {
        peak,
        rejected: (peak - rate) / peak,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minute(at: i64, requests: f64, client_errors: f64) -> Minute {
        Minute {
            at,
            requests,
            client_errors,
        }
    }

    #[test]
    fn the_peak_and_latest_minutes_are_averages_per_second() {
        let traffic = Traffic::new(vec![
            minute(120, 600.0, 0.0),
            minute(0, 7200.0, 72.0),
            minute(60, 3000.0, 0.0),
        ]);
        assert_eq!(
            traffic.peak().map(|m| (m.at, m.per_second())),
            Some((0, 120.0))
        );
        assert_eq!(
            traffic.latest().map(|m| (m.at, m.per_second())),
            Some((120, 10.0))
        );
        assert_eq!(
            traffic.average_per_second(),
            Some((120.0 + 50.0 + 10.0) / 3.0)
        );
        let share = traffic.client_error_share().unwrap();
        assert!((share - 72.0 / 10_800.0).abs() < 1e-12, "{share}");
        assert_eq!(
            traffic.between(60, 120).minutes,
            vec![minute(60, 3000.0, 0.0)]
        );
        assert_eq!(traffic.between(0, 60).minutes.len(), 1);
    }

    #[test]
    fn no_data_means_no_figures() {
        let empty = Traffic::default();
        assert_eq!(empty.peak(), None);
        assert_eq!(empty.latest(), None);
        assert_eq!(empty.client_error_share(), None);
        assert_eq!(empty.average_per_second(), None);
        let idle = Traffic::new(vec![minute(0, 0.0, 0.0)]);
        assert_eq!(idle.client_error_share(), None);
        assert_eq!(shortfall(&idle, 0.0), None);
    }

    #[test]
    fn a_rate_below_the_peak_minute_would_have_rejected_the_difference() {
        let traffic = Traffic::new(vec![minute(0, 7200.0, 0.0), minute(60, 600.0, 0.0)]);
        let short = shortfall(&traffic, 50.0).unwrap();
        assert_eq!(short.peak, 120.0);
        assert!((short.rejected - 70.0 / 120.0).abs() < 1e-12);
        assert_eq!(
            shortfall(&traffic, 120.0),
            None,
            "at the peak: nothing rejected"
        );
        assert_eq!(shortfall(&traffic, 500.0), None);
        assert_eq!(shortfall(&traffic, 0.0).map(|s| s.rejected), Some(1.0));
        assert_eq!(shortfall(&Traffic::default(), 1.0), None);
    }

    #[test]
    fn a_window_keeps_what_is_known_about_where_its_minutes_come_from() {
        let key = MetricsKey {
            dimension: "ApiName",
            value: "orders".to_owned(),
        };
        let traffic = Traffic {
            caveat: Some(Caveat::SharedName(key.clone())),
            ..Traffic::new(vec![minute(0, 60.0, 0.0), minute(60, 60.0, 0.0)])
        };
        assert_eq!(
            traffic.between(60, 120).caveat,
            Some(Caveat::SharedName(key))
        );
    }

    #[test]
    fn client_error_shares_stay_within_zero_and_one() {
        let odd = Traffic::new(vec![minute(0, 10.0, 50.0)]);
        assert_eq!(odd.client_error_share(), Some(1.0));
    }
}
