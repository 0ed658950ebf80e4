//! Shared helpers for the benches: deterministic MAC generation, 64-byte
//! frames, EAL start-up for the `rte_hash` peer, and a small recorder that
//! turns criterion's samples into a "ns per element" summary.
//!
//! No `unsafe` here (nor anywhere in this crate).
#![forbid(unsafe_code)]

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use criterion::Criterion;
use sfc_dataplane::dpdk::Eal;
use sfc_dataplane::switch::MacAddr;

/// Lookups per batch, as in a DPDK RX burst.
pub const BATCH: usize = 32;

/// Table sizes benched, with their labels.
pub const SIZES: [(usize, &str); 4] = [(1, "1"), (1024, "1k"), (65_536, "64k"), (1_048_576, "1M")];

/// SplitMix64: a tiny, good-enough deterministic generator (no rand crate).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-enough index in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
}

const M46: u64 = (1 << 46) - 1;

/// A bijection of 46-bit integers that looks random (odd multiplies and
/// xor-shifts are invertible modulo 2^46).
fn mix46(mut x: u64) -> u64 {
    x &= M46;
    x = x.wrapping_mul(0x2545_F491_4F6C_DD1D) & M46;
    x ^= x >> 23;
    x = x.wrapping_mul(0x1B87_3593_5A4E_9B6F | 1) & M46;
    x ^= x >> 19;
    x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15) & M46;
    x ^ (x >> 21)
}

/// The `i`-th random-looking MAC: unicast, locally administered, and
/// distinct for distinct `i < 2^46` (46 free bits around the I/G and U/L
/// bits).
pub fn mac(i: u64) -> MacAddr {
    let x = mix46(i);
    let low40 = x & 0xff_ffff_ffff;
    let high6 = x >> 40;
    MacAddr(low40 | (1 << 41) | (high6 << 42))
}

/// `n` distinct MACs, `mac(base) .. mac(base + n)`.
pub fn macs(base: u64, n: usize) -> Vec<MacAddr> {
    (base..base + n as u64).map(mac).collect()
}

/// Index space of MACs that are never inserted: misses.
pub const MISS_BASE: u64 = 1 << 45;

/// `len` indices drawn uniformly (with replacement) from `0..n`, so that a
/// run through the keys they pick touches the whole table.
pub fn draw_indices(n: usize, len: usize, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed);
    (0..len).map(|_| rng.below(n)).collect()
}

/// How many keys to cycle through for a table of `n`: at least the table
/// size (so a 1M table is not cache-resident), at least 256 batches, and a
/// whole number of batches.
pub fn stream_len(n: usize) -> usize {
    n.max(256 * BATCH).div_ceil(BATCH) * BATCH
}

/// A 64-byte Ethernet frame (IPv4 ethertype, zero payload).
pub fn frame(dst: MacAddr, src: MacAddr) -> [u8; 64] {
    let mut f = [0u8; 64];
    f[0..6].copy_from_slice(&dst.bytes());
    f[6..12].copy_from_slice(&src.bytes());
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f
}

static EAL: OnceLock<Eal> = OnceLock::new();

/// EAL for this bench process, started once: no hugepages (2 GiB of plain
/// memory, enough for a 1M-entry `rte_hash`), no PCI, one lcore, a unique
/// file prefix whose runtime dir is removed right after init.
pub fn eal() -> &'static Eal {
    EAL.get_or_init(|| {
        let prefix = format!("sfc-bench-{}", std::process::id());
        let args = [
            "--no-huge",
            "-m",
            "2048",
            "--no-pci",
            "--no-shconf",
            "-l",
            "0",
            "--file-prefix",
            prefix.as_str(),
            "--log-level",
            "lib.eal:error",
        ];
        let eal = Eal::init(args).unwrap_or_else(|e| panic!("EAL init failed: {e}"));
        let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
        eal
    })
}

/// Short criterion settings (2-core machine); command-line options such as
/// `--measurement-time` still override them.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(DEFAULT_SAMPLES)
        .configure_from_args()
}

const DEFAULT_SAMPLES: usize = 50;

/// The sample size in force (`--sample-size N` on the command line, else
/// ours): the summary keeps that many measurement samples per benchmark.
pub fn sample_size() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--sample-size")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SAMPLES)
}

/// One finished benchmark for the summary.
#[derive(Debug, Clone)]
struct Row {
    id: String,
    ns_per_iter: f64,
    elems: u64,
}

static ROWS: Mutex<Vec<Row>> = Mutex::new(Vec::new());

/// Records the timings of one benchmark (driven with `iter_custom`) and
/// computes its ns/iteration the way criterion does: the slope through the
/// origin of (iterations, time) over the measurement samples.
#[derive(Debug)]
pub struct Recorder {
    id: String,
    elems: u64,
    samples: Vec<(u64, Duration)>,
    keep: usize,
}

impl Recorder {
    /// Criterion's last [`sample_size`] calls of a benchmark are the
    /// measurement, the calls before them the warm-up.
    pub fn new(id: impl Into<String>, elems: u64) -> Self {
        Self {
            id: id.into(),
            elems,
            samples: Vec::new(),
            keep: sample_size(),
        }
    }

    pub fn push(&mut self, iters: u64, d: Duration) {
        self.samples.push((iters, d));
    }

    /// Adds this benchmark to the summary (if it ran).
    pub fn finish(self) {
        let start = self.samples.len().saturating_sub(self.keep);
        let s = &self.samples[start..];
        if s.is_empty() {
            return;
        }
        let sxy: f64 = s.iter().map(|(x, y)| *x as f64 * y.as_nanos() as f64).sum();
        let sxx: f64 = s.iter().map(|(x, _)| (*x as f64) * (*x as f64)).sum();
        let row = Row {
            id: self.id,
            ns_per_iter: sxy / sxx,
            elems: self.elems,
        };
        ROWS.lock().unwrap_or_else(|e| e.into_inner()).push(row);
    }
}

/// Prints every recorded benchmark: ns per iteration and per element.
pub fn print_summary(title: &str, unit: &str) {
    let rows = ROWS.lock().unwrap_or_else(|e| e.into_inner());
    if rows.is_empty() {
        return;
    }
    println!("\n== {title}: summary (slope estimate) ==");
    println!(
        "{:<44} {:>12} {:>12}",
        "benchmark",
        "ns/batch",
        format!("ns/{unit}")
    );
    for r in rows.iter() {
        println!(
            "{:<44} {:>12.1} {:>12.2}",
            r.id,
            r.ns_per_iter,
            r.ns_per_iter / r.elems as f64
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_distinct_unicast_and_local() {
        let mut v: Vec<u64> = macs(0, 100_000).iter().map(|m| m.0).collect();
        v.extend(macs(MISS_BASE, 100_000).iter().map(|m| m.0));
        assert!(v
            .iter()
            .all(|m| !MacAddr(*m).is_multicast() && m & (1 << 41) != 0));
        assert!(v.iter().all(|m| *m <= 0xffff_ffff_ffff));
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), 200_000);
    }

    #[test]
    fn frame_carries_both_macs() {
        let f = frame(mac(1), mac(2));
        assert_eq!(f[0..6], mac(1).bytes());
        assert_eq!(f[6..12], mac(2).bytes());
    }
}
