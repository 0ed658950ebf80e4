//! Receive-side accounting: a log-linear latency histogram and per-stream
//! sequence tracking (loss, reordering). Pure Rust, fixed-size, no
//! allocation after construction: safe on the poll loop.

use serde::Serialize;

/// Sub-buckets per power of two: 1/64 relative precision (~1.6%).
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Buckets covering all of `u64`.
pub const BUCKETS: usize = (SUB + (64 - SUB_BITS as u64) * SUB) as usize;

/// Latency histogram in nanoseconds (HDR-style: exact below 64 ns, then 64
/// buckets per power of two), with exact min, max and sum.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count)
            .field("min", &self.min)
            .field("max", &self.max)
            .finish()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

/// Bucket index of a value.
#[inline]
pub fn bucket_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let b = 63 - v.leading_zeros(); // >= SUB_BITS
    let shift = b - SUB_BITS;
    (SUB + u64::from(shift) * SUB + ((v >> shift) - SUB)) as usize
}

/// Smallest and largest value of a bucket.
pub fn bucket_range(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < SUB {
        return (i, i);
    }
    let shift = (i - SUB) / SUB;
    let mant = SUB + (i - SUB) % SUB;
    let lo = mant << shift;
    (lo, lo + ((1u64 << shift) - 1))
}

impl Histogram {
    pub fn new() -> Self {
        Self {
            counts: Box::new([0; BUCKETS]),
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    #[inline]
    pub fn record(&mut self, v: u64) {
        self.counts[bucket_of(v)] += 1;
        self.count += 1;
        self.sum += u128::from(v);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    pub fn merge(&mut self, o: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(o.counts.iter()) {
            *a += b;
        }
        self.count += o.count;
        self.sum += o.sum;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }

    #[cfg(test)]
    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn min(&self) -> Option<u64> {
        (self.count > 0).then_some(self.min)
    }

    pub fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    /// The value at quantile `q` (0..=1): the upper bound of the bucket that
    /// holds the `ceil(q * count)`-th value, clamped to [min, max].
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(bucket_range(i).1.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// Non-empty buckets as (upper bound, count), ascending.
    pub fn buckets(&self) -> Vec<(u64, u64)> {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(i, &c)| (bucket_range(i).1, c))
            .collect()
    }

    /// The histogram folded into at most ~`n` log-spaced bins for display:
    /// (upper bound ns, count).
    pub fn coarse(&self, per_octave: u32) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for (hi, c) in self.buckets() {
            // Round the upper bound up to a coarse edge: 2^k * m/per_octave.
            let edge = coarse_edge(hi, per_octave.max(1));
            match out.last_mut() {
                Some((e, n)) if *e == edge => *n += c,
                _ => out.push((edge, c)),
            }
        }
        out
    }

    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            samples: self.count,
            min_ns: self.min(),
            mean_ns: self.mean().map(|m| m.round() as u64),
            p50_ns: self.quantile(0.50),
            p99_ns: self.quantile(0.99),
            p999_ns: self.quantile(0.999),
            max_ns: self.max(),
            histogram: self.coarse(4),
        }
    }
}

fn coarse_edge(v: u64, per_octave: u32) -> u64 {
    if v < 16 {
        return 16;
    }
    let b = 63 - v.leading_zeros();
    let base = 1u64 << b;
    let step = (base / u64::from(per_octave)).max(1);
    let e = base + v.saturating_sub(base).div_ceil(step) * step;
    e.max(v)
}

/// Latency figures of one trial, in nanoseconds.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LatencySummary {
    pub samples: u64,
    pub min_ns: Option<u64>,
    pub mean_ns: Option<u64>,
    pub p50_ns: Option<u64>,
    pub p99_ns: Option<u64>,
    pub p999_ns: Option<u64>,
    pub max_ns: Option<u64>,
    /// (upper bound ns, frames), 4 bins per power of two.
    pub histogram: Vec<(u64, u64)>,
}

/// Sequence accounting for one stream seen on one RX queue: frames in
/// order, late (reordered) frames, and gaps (frames not seen yet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SeqTracker {
    /// Next sequence number expected (highest seen + 1).
    pub next: u64,
    pub received: u64,
    /// Frames that arrived after a higher sequence number.
    pub reordered: u64,
    /// Sequence numbers skipped over and not (yet) seen late.
    pub missing: u64,
}

impl SeqTracker {
    #[inline]
    pub fn record(&mut self, seq: u64) {
        self.received += 1;
        if seq >= self.next {
            self.missing += seq - self.next;
            self.next = seq + 1;
        } else {
            self.reordered += 1;
            // A late frame fills a gap it had opened (a duplicate would
            // too: duplicates are told apart by rx > tx in the totals).
            self.missing = self.missing.saturating_sub(1);
        }
    }

    pub fn merge(&mut self, o: &SeqTracker) {
        self.next = self.next.max(o.next);
        self.received += o.received;
        self.reordered += o.reordered;
        self.missing += o.missing;
    }
}

/// Loss of a trial from totals: frames sent and not received, and frames
/// received beyond what was sent (a flood duplicates frames).
pub fn loss(sent: u64, received: u64) -> (u64, u64) {
    (sent.saturating_sub(received), received.saturating_sub(sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_cover_values() {
        let mut prev_hi = None;
        for i in 0..BUCKETS {
            let (lo, hi) = bucket_range(i);
            assert!(lo <= hi);
            if let Some(p) = prev_hi {
                assert_eq!(lo, p + 1, "bucket {i}");
            }
            prev_hi = Some(hi);
            assert_eq!(bucket_of(lo), i);
            assert_eq!(bucket_of(hi), i);
        }
        assert_eq!(prev_hi, Some(u64::MAX));
    }

    #[test]
    fn relative_error_is_below_two_percent() {
        for v in [100u64, 1_000, 12_345, 999_999, 10_000_000_000] {
            let (lo, hi) = bucket_range(bucket_of(v));
            assert!((hi - lo) as f64 / lo as f64 <= 1.0 / 64.0 + 1e-9, "{v}");
        }
    }

    #[test]
    fn percentiles_of_uniform_1_to_10000() {
        let mut h = Histogram::new();
        for v in 1..=10_000u64 {
            h.record(v);
        }
        assert_eq!(h.count(), 10_000);
        assert_eq!(h.min(), Some(1));
        assert_eq!(h.max(), Some(10_000));
        assert_eq!(h.mean(), Some(5000.5));
        let within = |q: f64, want: u64| {
            let got = h.quantile(q).unwrap_or(0);
            assert!(
                got >= want && (got - want) as f64 <= want as f64 / 64.0 + 1.0,
                "q{q}: {got} vs {want}"
            );
        };
        within(0.5, 5_000);
        within(0.99, 9_900);
        within(0.999, 9_990);
        assert_eq!(h.quantile(1.0), Some(10_000));
        assert_eq!(h.quantile(0.0), Some(1));
    }

    #[test]
    fn p99_sees_a_one_percent_tail() {
        let mut h = Histogram::new();
        for _ in 0..990 {
            h.record(500);
        }
        for _ in 0..10 {
            h.record(50_000);
        }
        // 500 falls in the bucket 496..=503: its upper bound is reported.
        assert_eq!(h.quantile(0.5), Some(503));
        assert_eq!(h.quantile(0.99), Some(503));
        assert!(h.quantile(0.991).unwrap_or(0) >= 50_000);
        assert_eq!(h.quantile(0.999), Some(50_000));
    }

    #[test]
    fn empty_histogram_has_no_figures() {
        let h = Histogram::new();
        let s = h.summary();
        assert_eq!(s.samples, 0);
        assert_eq!(s.p50_ns, None);
        assert_eq!(s.min_ns, None);
        assert!(s.histogram.is_empty());
    }

    #[test]
    fn merge_adds_counts_and_extremes() {
        let (mut a, mut b) = (Histogram::new(), Histogram::new());
        a.record(10);
        a.record(20);
        b.record(5);
        b.record(1_000);
        a.merge(&b);
        assert_eq!(a.count(), 4);
        assert_eq!(a.min(), Some(5));
        assert_eq!(a.max(), Some(1_000));
        let total: u64 = a.coarse(4).iter().map(|(_, c)| c).sum();
        assert_eq!(total, 4);
    }

    #[test]
    fn in_order_stream_has_no_gaps() {
        let mut t = SeqTracker::default();
        for s in 0..100 {
            t.record(s);
        }
        assert_eq!(
            (t.received, t.reordered, t.missing, t.next),
            (100, 0, 0, 100)
        );
    }

    #[test]
    fn gap_then_late_frames_count_as_reordered_not_lost() {
        let mut t = SeqTracker::default();
        for s in [0, 1, 4, 5, 2, 3, 6] {
            t.record(s);
        }
        assert_eq!(t.received, 7);
        assert_eq!(t.reordered, 2);
        assert_eq!(t.missing, 0);
    }

    #[test]
    fn lost_frames_stay_missing() {
        let mut t = SeqTracker::default();
        for s in [0, 1, 2, 7, 8, 9] {
            t.record(s);
        }
        assert_eq!(t.missing, 4);
        assert_eq!(t.reordered, 0);
        assert_eq!(loss(10, t.received), (4, 0));
        assert_eq!(loss(10, 12), (0, 2));
    }
}
