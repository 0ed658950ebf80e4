//! RFC 2544 throughput: binary search for the highest offered rate whose
//! loss ratio stays within a threshold. The search is separate from the
//! traffic so it can be tested against a device model.

use serde::Serialize;

/// What one trial at a rate measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrialOutcome {
    /// The rate offered (frames per second, all ports).
    pub offered_pps: f64,
    /// Frames actually sent (a generator can fall short of the offer).
    pub sent: u64,
    pub received: u64,
}

impl TrialOutcome {
    pub fn loss_ratio(&self) -> f64 {
        if self.sent == 0 {
            return 1.0;
        }
        self.sent.saturating_sub(self.received) as f64 / self.sent as f64
    }
}

/// Search settings.
#[derive(Debug, Clone, Copy)]
pub struct Search {
    /// Highest loss ratio that passes (0.001 = 0.1%).
    pub loss: f64,
    /// Stop when the bracket is narrower than this fraction of the top.
    pub resolution: f64,
    pub max_trials: usize,
}

/// The search's result: the rate found (0 if even the lowest failed) and
/// every trial in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResult {
    pub throughput_pps: f64,
    pub trials: Vec<(TrialOutcome, bool)>,
}

/// Runs the search: first at `max_pps` (what the generator can do), then
/// halving the bracket. `trial(rate)` sends at `rate` and reports.
pub fn search<E>(
    s: &Search,
    max_pps: f64,
    mut trial: impl FnMut(f64) -> Result<TrialOutcome, E>,
) -> Result<SearchResult, E> {
    let mut trials = Vec::new();
    let first = trial(max_pps)?;
    let pass = first.loss_ratio() <= s.loss;
    trials.push((first, pass));
    if pass {
        return Ok(SearchResult {
            throughput_pps: max_pps,
            trials,
        });
    }
    let (mut lo, mut hi) = (0.0f64, max_pps);
    let mut best = 0.0f64;
    while trials.len() < s.max_trials.max(1) && (hi - lo) > s.resolution * max_pps {
        let mid = (lo + hi) / 2.0;
        let o = trial(mid)?;
        let pass = o.loss_ratio() <= s.loss;
        trials.push((o, pass));
        if pass {
            lo = mid;
            best = mid;
        } else {
            hi = mid;
        }
    }
    Ok(SearchResult {
        throughput_pps: best,
        trials,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device that forwards up to `limit` pps and drops the excess,
    /// with `base` loss ratio always.
    fn device(limit: f64, base: f64) -> impl FnMut(f64) -> Result<TrialOutcome, ()> {
        move |rate| {
            let sent = rate as u64;
            let fwd = rate.min(limit) * (1.0 - base);
            Ok(TrialOutcome {
                offered_pps: rate,
                sent,
                received: fwd as u64,
            })
        }
    }

    const S: Search = Search {
        loss: 0.001,
        resolution: 0.005,
        max_trials: 30,
    };

    #[test]
    fn finds_a_known_limit_within_resolution() {
        let r = search(&S, 20e6, device(7.3e6, 0.0)).unwrap_or_else(|_| unreachable!());
        assert!(r.throughput_pps <= 7.3e6 * 1.001, "{}", r.throughput_pps);
        assert!(
            r.throughput_pps >= 7.3e6 - 0.005 * 20e6,
            "{}",
            r.throughput_pps
        );
        assert!(r.trials.len() <= 10);
        assert!(!r.trials[0].1);
    }

    #[test]
    fn a_device_faster_than_the_generator_passes_at_once() {
        let r = search(&S, 5e6, device(7.3e6, 0.0)).unwrap_or_else(|_| unreachable!());
        assert_eq!(r.throughput_pps, 5e6);
        assert_eq!(r.trials.len(), 1);
    }

    #[test]
    fn loss_within_threshold_passes_and_above_fails() {
        let r = search(&S, 1e6, device(1e9, 0.0005)).unwrap_or_else(|_| unreachable!());
        assert_eq!(r.throughput_pps, 1e6);
        let r = search(&S, 1e6, device(1e9, 0.01)).unwrap_or_else(|_| unreachable!());
        assert_eq!(r.throughput_pps, 0.0);
        assert!(r.trials.iter().all(|(_, p)| !p));
    }

    #[test]
    fn trial_errors_stop_the_search() {
        let mut n = 0;
        let r = search(&S, 1e6, |_| {
            n += 1;
            if n == 2 {
                Err("boom")
            } else {
                Ok(TrialOutcome {
                    offered_pps: 1e6,
                    sent: 100,
                    received: 0,
                })
            }
        });
        assert_eq!(r, Err("boom"));
    }

    #[test]
    fn nothing_sent_is_total_loss() {
        let o = TrialOutcome {
            offered_pps: 1.0,
            sent: 0,
            received: 0,
        };
        assert_eq!(o.loss_ratio(), 1.0);
    }
}
