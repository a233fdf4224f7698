//! Made-up traffic, minute by minute, as CloudWatch would publish it: each stage has a demand
//! (a steady rate with a recent peak), split between its methods; what a level rejects is
//! what goes over the limit in force at that minute (the method's own, else the stage's, else
//! the account's), counted with the 4XX answers as API Gateway counts its 429s. Every figure
//! follows from the clock, so a session read from a file prints the same each time.

use std::sync::Mutex;

use crate::core::clock::unix_now;
use crate::domain::{Configured, Level, Minute, Traffic};

/// The share of requests answered with a 4XX whatever the limits (clients' own mistakes).
const BACKGROUND_ERRORS: f64 = 0.003;

/// How long a peak takes to rise and fall back, either side of its top.
const PEAK_HALF_WIDTH: f64 = 300.0;

/// One stage's demand, in requests per second.
pub struct Demand {
    /// `api/stage`.
    pub place: String,
    pub base: f64,
    pub peak: f64,
    /// When the peak was highest (Unix seconds).
    pub peak_at: i64,
    /// How the demand splits between methods or routes (the rest goes to others).
    pub shares: Vec<(Level, f64)>,
}

impl Demand {
    fn at(&self, t: i64) -> f64 {
        let from_peak = (t - self.peak_at).abs() as f64;
        let bump = (1.0 - from_peak / PEAK_HALF_WIDTH).max(0.0);
        // A steady wobble of ±4%, the same for the same minute.
        let minute = t.div_euclid(60) as u64;
        let wobble = (minute.wrapping_mul(2_654_435_761) % 1000) as f64 / 1000.0 * 0.08 - 0.04;
        (self.base + (self.peak - self.base) * bump) * (1.0 + wobble)
    }
}

/// Every stage's demand, and the limits each level had over time.
pub struct Synthetic {
    demands: Vec<Demand>,
    /// Limits as written, oldest first: when, `api/stage`, level, values.
    log: Mutex<Vec<(i64, String, Level, Configured)>>,
}

impl Synthetic {
    pub fn new(demands: Vec<Demand>) -> Self {
        Self {
            demands,
            log: Mutex::default(),
        }
    }

    /// A level's limits from the beginning (what the stage held before anyone changed it).
    pub fn held(&self, place: &str, level: Level, values: Configured) {
        let mut log = self.log.lock().unwrap();
        log.insert(0, (i64::MIN, place.to_owned(), level, values));
    }

    /// A level's limits from now on.
    pub fn changed(&self, place: &str, level: &Level, values: Configured) {
        let mut log = self.log.lock().unwrap();
        log.push((unix_now(), place.to_owned(), level.clone(), values));
    }

    /// The rate limit a level had at `t`, if set at that level.
    fn own(&self, place: &str, level: &Level, t: i64) -> Option<f64> {
        let log = self.log.lock().unwrap();
        log.iter()
            .rev()
            .find(|(when, at, held, _)| *when <= t && at == place && held == level)
            .and_then(|(_, _, _, values)| values.rate)
    }

    /// What `level` wanted and had rejected at `t`, in requests per second. A method with a
    /// limit of its own is held to it; the rest of the stage's traffic shares the stage's
    /// limit (as the bot's own preview reckons), each method its part of what goes over.
    fn minute(
        &self,
        demand: &Demand,
        place: &str,
        level: &Level,
        t: i64,
        account: f64,
    ) -> (f64, f64) {
        let total = demand.at(t);
        let stage = self.own(place, &Level::Stage, t).unwrap_or(account);
        let mut held = Vec::new();
        let mut rest = total;
        for (method, share) in &demand.shares {
            if let Some(limit) = self.own(place, method, t) {
                held.push((method, total * share, limit));
                rest -= total * share;
            }
        }
        let rest_over = (rest - stage).max(0.0);
        match level {
            Level::Stage => {
                let over: f64 = held.iter().map(|(_, d, limit)| (d - limit).max(0.0)).sum();
                (total, over + rest_over)
            }
            level => match held.iter().find(|(method, ..)| *method == level) {
                Some((_, d, limit)) => (*d, (d - limit).max(0.0)),
                None => {
                    let share = demand.shares.iter().find(|(method, _)| method == level);
                    let d = share.map_or(0.0, |(_, share)| total * share);
                    let part = if rest > 0.0 { d / rest } else { 0.0 };
                    (d, rest_over * part)
                }
            },
        }
    }

    /// What `level` of the stage at `place` served between `from` and `to`.
    pub fn served(
        &self,
        place: &str,
        level: &Level,
        (from, to): (i64, i64),
        account: f64,
    ) -> Traffic {
        let Some(demand) = self.demands.iter().find(|d| d.place == place) else {
            return Traffic::default();
        };
        let mut minutes = Vec::new();
        let mut at = from.div_euclid(60) * 60;
        while at < to {
            if at >= from {
                let middle = at + 30;
                let (wanted, rejected) = self.minute(demand, place, level, middle, account);
                if wanted > 0.0 {
                    minutes.push(Minute {
                        at,
                        requests: (wanted * 60.0).round(),
                        client_errors: ((wanted * BACKGROUND_ERRORS + rejected) * 60.0).round(),
                    });
                }
            }
            at += 60;
        }
        Traffic::new(minutes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_below_the_demand_rejects_what_goes_over_it_from_the_minute_it_was_set() {
        let synthetic = Synthetic::new(vec![Demand {
            place: "a/prod".to_owned(),
            base: 100.0,
            peak: 100.0,
            peak_at: 0,
            shares: Vec::new(),
        }]);
        let before = synthetic.served("a/prod", &Level::Stage, (0, 600), 10_000.0);
        assert_eq!(before.minutes.len(), 10);
        assert!(before.client_error_share().unwrap() < 0.01);
        synthetic.log.lock().unwrap().push((
            300,
            "a/prod".to_owned(),
            Level::Stage,
            Configured {
                rate: Some(50.0),
                burst: Some(100),
            },
        ));
        let after = synthetic.served("a/prod", &Level::Stage, (300, 600), 10_000.0);
        let share = after.client_error_share().unwrap();
        assert!((0.45..0.55).contains(&share), "{share}");
        let earlier = synthetic.served("a/prod", &Level::Stage, (0, 300), 10_000.0);
        assert!(earlier.client_error_share().unwrap() < 0.01);
    }
}
