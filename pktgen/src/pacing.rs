//! Rate pacing from the TSC: how many frames are due by now. The target is
//! cumulative (frames due = elapsed * rate), so a late poll catches up and
//! the average rate is exact; a catch-up is capped at one burst per call.

/// Offered rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// As fast as the port takes frames.
    Max,
    /// Frames per second (all ports together).
    Pps(f64),
    /// Percent of the line rate (all ports together).
    Percent(f64),
}

impl Rate {
    pub fn parse(s: &str) -> Result<Rate, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("max") {
            return Ok(Rate::Max);
        }
        let num = |t: &str| -> Result<f64, String> {
            let t = t.trim();
            let (t, mul) = match t.char_indices().last() {
                Some((i, 'k' | 'K')) => (&t[..i], 1e3),
                Some((i, 'm' | 'M')) => (&t[..i], 1e6),
                _ => (t, 1.0),
            };
            t.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0)
                .map(|v| v * mul)
                .ok_or_else(|| format!("rate {s:?}: expected PPS (e.g. 1000000, 2.5M), N% or max"))
        };
        if let Some(p) = s.strip_suffix('%') {
            let v = num(p)?;
            if v > 100.0 {
                return Err(format!("rate {s:?}: more than 100%"));
            }
            return Ok(Rate::Percent(v));
        }
        num(s).map(Rate::Pps)
    }

    /// Frames per second for a link of `speed_mbps` and frames of
    /// `mean_size` bytes (without FCS): each frame takes size + 4 (FCS) +
    /// 20 (preamble, gap) bytes on the wire. `None` = unpaced.
    pub fn pps(&self, speed_mbps: u32, mean_size: f64) -> Option<f64> {
        match *self {
            Rate::Max => None,
            Rate::Pps(p) => Some(p),
            Rate::Percent(pct) => {
                Some(line_rate_pps(speed_mbps, mean_size) * pct / 100.0).filter(|v| *v > 0.0)
            }
        }
    }
}

/// Line rate in frames per second.
pub fn line_rate_pps(speed_mbps: u32, mean_size: f64) -> f64 {
    f64::from(speed_mbps) * 1e6 / ((mean_size + 24.0) * 8.0)
}

/// Paces one TX stream.
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    start: u64,
    /// Frames per TSC cycle, 32.32 fixed point (u128 math: no overflow).
    per_cycle_q32: u128,
    sent: u64,
    unpaced: bool,
}

impl Pacer {
    /// `pps` None: unpaced.
    pub fn new(start_tsc: u64, tsc_hz: u64, pps: Option<f64>) -> Self {
        let per_cycle_q32 = match pps {
            Some(p) if tsc_hz > 0 => ((p / tsc_hz as f64) * 4294967296.0) as u128,
            _ => 0,
        };
        Self {
            start: start_tsc,
            per_cycle_q32,
            sent: 0,
            unpaced: pps.is_none(),
        }
    }

    /// Frames that may go now, at most `cap`.
    #[inline]
    pub fn due(&self, now_tsc: u64, cap: usize) -> usize {
        if self.unpaced {
            return cap;
        }
        let elapsed = u128::from(now_tsc.saturating_sub(self.start));
        let target = ((elapsed * self.per_cycle_q32) >> 32) as u64;
        (target.saturating_sub(self.sent) as usize).min(cap)
    }

    /// Frames handed to the port (sent or refused: both used their slot).
    #[inline]
    pub fn consumed(&mut self, n: usize) {
        self.sent += n as u64;
    }

    #[cfg(test)]
    pub fn sent(&self) -> u64 {
        self.sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rates() {
        assert_eq!(Rate::parse("max"), Ok(Rate::Max));
        assert_eq!(Rate::parse("1000"), Ok(Rate::Pps(1000.0)));
        assert_eq!(Rate::parse("2.5M"), Ok(Rate::Pps(2.5e6)));
        assert_eq!(Rate::parse("10k"), Ok(Rate::Pps(1e4)));
        assert_eq!(Rate::parse("50%"), Ok(Rate::Percent(50.0)));
        assert!(Rate::parse("150%").is_err());
        assert!(Rate::parse("-3").is_err());
        assert!(Rate::parse("fast").is_err());
        assert!(Rate::parse("0").is_err());
    }

    #[test]
    fn line_rate_of_10g_64b_is_14_88_mpps() {
        let r = line_rate_pps(10_000, 60.0);
        assert!((r - 14_880_952.0).abs() < 1.0, "{r}");
        let half = Rate::Percent(50.0).pps(10_000, 60.0).unwrap_or(0.0);
        assert!((half - r / 2.0).abs() < 1.0);
        assert_eq!(Rate::Percent(50.0).pps(0, 60.0), None);
        assert_eq!(Rate::Max.pps(10_000, 60.0), None);
    }

    /// Simulates a poll loop with irregular polling over one second of a
    /// 2 GHz TSC: the frames sent match the rate within 0.1%.
    #[test]
    fn pacing_hits_the_rate_over_a_second() {
        let hz = 2_000_000_000u64;
        for pps in [1_000.0, 1_000_000.0, 14_880_952.0] {
            let mut p = Pacer::new(1_000, hz, Some(pps));
            let mut now = 1_000u64;
            let mut step = 0u64;
            while now < 1_000 + hz {
                let n = p.due(now, 32);
                p.consumed(n);
                step = (step * 7 + 13) % 900; // 0..900 cycles between polls
                now += 100 + step;
            }
            let err = (p.sent() as f64 - pps).abs();
            assert!(
                err <= pps * 0.001 + 1.0,
                "{pps}: sent {} err {err}",
                p.sent()
            );
        }
    }

    #[test]
    fn a_stall_catches_up_one_burst_at_a_time() {
        let mut p = Pacer::new(0, 1_000_000, Some(1_000_000.0)); // 1 frame/cycle
        assert_eq!(p.due(0, 32), 0);
        assert_eq!(p.due(1_000, 32), 32);
        p.consumed(32);
        assert_eq!(p.due(1_000, 32), 32);
        p.consumed(968);
        assert_eq!(p.due(1_000, 32), 0);
    }

    #[test]
    fn unpaced_always_fills_the_burst() {
        let p = Pacer::new(0, 1, None);
        assert_eq!(p.due(0, 32), 32);
    }
}
