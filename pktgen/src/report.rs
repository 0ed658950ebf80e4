//! Results: per trial, per port, RFC 2544; printed for people or as JSON.

use serde::Serialize;

use crate::rfc2544::TrialOutcome;
use crate::stats::LatencySummary;

#[derive(Debug, Clone, Default, Serialize)]
pub struct PortReport {
    pub port: usize,
    pub devargs: String,
    pub tx: u64,
    pub tx_refused: u64,
    pub tx_nombuf: u64,
    pub rx: u64,
    pub foreign: u64,
    pub stale: u64,
    /// Wall clock (Unix ns) when the first own frame of the trial arrived:
    /// scripts compare it with when a path was configured.
    pub first_rx_unix_ns: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrialReport {
    /// Frame size (bytes without FCS) or "imix".
    pub size: String,
    /// Offered rate, all ports; None = max.
    pub offered_pps: Option<f64>,
    /// Seconds of sending.
    pub seconds: f64,
    /// Frames the ports took.
    pub tx: u64,
    /// Own stamped frames of this trial received.
    pub rx: u64,
    /// Frames the TX queue refused (full) and freed.
    pub tx_refused: u64,
    /// Frames not built for lack of mbufs.
    pub tx_nombuf: u64,
    /// Frames received that are not ours (or not stamped: pcap replay).
    pub foreign: u64,
    /// Ours, from an earlier trial.
    pub stale: u64,
    pub lost: u64,
    /// Received beyond sent (duplicates, e.g. floods).
    pub extra: u64,
    pub loss_ratio: f64,
    pub reordered: u64,
    pub tx_mpps: f64,
    pub rx_mpps: f64,
    pub latency: LatencySummary,
    pub ports: Vec<PortReport>,
}

impl TrialReport {
    pub fn outcome(&self) -> TrialOutcome {
        TrialOutcome {
            offered_pps: self
                .offered_pps
                .unwrap_or(self.tx as f64 / self.seconds.max(1e-9)),
            sent: self.tx,
            received: self.rx,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Rfc2544Report {
    pub size: String,
    pub loss_threshold: f64,
    pub throughput_pps: f64,
    pub throughput_mpps: f64,
    /// The trial at the throughput rate (its latency is the answer's).
    pub at_throughput: Option<TrialReport>,
    pub trials: Vec<TrialReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub version: &'static str,
    pub dpdk: String,
    pub ports: Vec<String>,
    pub macs: u32,
    pub flows: u32,
    pub tsc_hz: u64,
    pub trials: Vec<TrialReport>,
    pub rfc2544: Vec<Rfc2544Report>,
}

fn ns(v: Option<u64>) -> String {
    match v {
        Some(n) if n >= 10_000 => format!("{:.1}us", n as f64 / 1e3),
        Some(n) => format!("{n}ns"),
        None => "-".into(),
    }
}

pub fn print_trial(t: &TrialReport) {
    let l = &t.latency;
    println!(
        "size {:>5}  offered {:>10}  tx {:.3} Mpps ({} frames)  rx {:.3} Mpps ({} frames)",
        t.size,
        t.offered_pps
            .map_or("max".to_owned(), |p| format!("{:.3} Mpps", p / 1e6)),
        t.tx_mpps,
        t.tx,
        t.rx_mpps,
        t.rx
    );
    println!(
        "  lost {} ({:.4}%)  extra {}  reordered {}  refused {}  no-mbuf {}  foreign {}  stale {}",
        t.lost,
        t.loss_ratio * 100.0,
        t.extra,
        t.reordered,
        t.tx_refused,
        t.tx_nombuf,
        t.foreign,
        t.stale
    );
    println!(
        "  latency min {} mean {} p50 {} p99 {} p99.9 {} max {} ({} samples)",
        ns(l.min_ns),
        ns(l.mean_ns),
        ns(l.p50_ns),
        ns(l.p99_ns),
        ns(l.p999_ns),
        ns(l.max_ns),
        l.samples
    );
    if l.samples > 0 {
        // One bin per power of two on screen (the JSON has four).
        let mut bins: Vec<(u64, u64)> = Vec::new();
        for &(hi, c) in &l.histogram {
            let edge = hi.next_power_of_two();
            match bins.last_mut() {
                Some((e, n)) if *e == edge => *n += c,
                _ => bins.push((edge, c)),
            }
        }
        let peak = bins.iter().map(|(_, c)| *c).max().unwrap_or(1).max(1);
        for (hi, c) in &bins {
            let bar = (c * 40).div_ceil(peak) as usize;
            println!("    <= {:>9} {:>12} {}", ns(Some(*hi)), c, "#".repeat(bar));
        }
    }
    for p in &t.ports {
        println!(
            "  port{} {}: tx {} rx {} refused {} foreign {}",
            p.port, p.devargs, p.tx, p.rx, p.tx_refused, p.foreign
        );
    }
}

pub fn print_human(r: &Report) {
    println!(
        "sfc-pktgen {} ({}), {} port(s), {} MAC(s) x {} flow(s) per port",
        r.version,
        r.dpdk,
        r.ports.len(),
        r.macs,
        r.flows
    );
    for t in &r.trials {
        print_trial(t);
    }
    for s in &r.rfc2544 {
        println!(
            "RFC 2544 size {}: throughput {:.3} Mpps at loss <= {} ({} trials)",
            s.size,
            s.throughput_mpps,
            s.loss_threshold,
            s.trials.len()
        );
        if let Some(t) = &s.at_throughput {
            print_trial(t);
        }
    }
}
