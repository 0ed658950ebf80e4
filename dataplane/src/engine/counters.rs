//! Per-worker counters: each worker writes only its own (plain load + store,
//! no locked instruction), readers sum all workers' on demand.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::switch::DropReason;

/// Highest port id + 1 the engine handles (DPDK's RTE_MAX_ETHPORTS).
pub const MAX_PORTS: usize = sfc_ffi::RTE_MAX_ETHPORTS as usize;

/// A counter with a single writer.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Only the owning worker calls this: a relaxed load and store, so no
    /// bus lock on the fast path.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }

    #[inline]
    pub fn set(&self, v: u64) {
        self.0.store(v, Relaxed);
    }

    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// One worker's counters for one port, on its own cache line. Bytes are
/// the driver's count (`Port::stats`), not kept here.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct PortCounters {
    pub rx_packets: Counter,
    pub tx_packets: Counter,
    /// Frames received here that a learning switch sent to one learned
    /// port, and those it flooded.
    pub unicast: Counter,
    pub flooded: Counter,
    pub drops: [Counter; DropReason::COUNT],
}

impl PortCounters {
    #[inline]
    pub fn drop(&self, reason: DropReason, n: u64) {
        self.drops[reason as usize].add(n);
    }
}

/// Everything one worker counts.
#[derive(Debug)]
pub struct WorkerStats {
    pub ports: Box<[PortCounters]>,
    /// Poll loops, and those in which some queue had packets.
    pub polls: Counter,
    pub busy_polls: Counter,
    pub macs_learned: Counter,
    pub macs_moved: Counter,
    pub mac_table_full: Counter,
    /// Engine clock (ms) of the last poll loop: a stuck worker shows.
    pub last_poll_ms: Counter,
}

impl Default for WorkerStats {
    fn default() -> Self {
        Self {
            ports: (0..MAX_PORTS).map(|_| PortCounters::default()).collect(),
            polls: Counter::default(),
            busy_polls: Counter::default(),
            macs_learned: Counter::default(),
            macs_moved: Counter::default(),
            mac_table_full: Counter::default(),
            last_poll_ms: Counter::default(),
        }
    }
}

/// A port's counters summed over all workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PortTotals {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub unicast: u64,
    pub flooded: u64,
    pub drops: [u64; DropReason::COUNT],
}

impl PortTotals {
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }

    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }
}

/// Sums port `port` over `workers`.
pub fn port_totals(workers: &[std::sync::Arc<WorkerStats>], port: u16) -> PortTotals {
    let mut t = PortTotals::default();
    for w in workers {
        let Some(c) = w.ports.get(usize::from(port)) else {
            continue;
        };
        t.rx_packets += c.rx_packets.get();
        t.tx_packets += c.tx_packets.get();
        t.unicast += c.unicast.get();
        t.flooded += c.flooded.get();
        for (d, s) in t.drops.iter_mut().zip(c.drops.iter()) {
            *d += s.get();
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn totals_sum_every_worker() {
        let a = Arc::new(WorkerStats::default());
        let b = Arc::new(WorkerStats::default());
        a.ports[3].rx_packets.add(5);
        b.ports[3].rx_packets.add(7);
        b.ports[3].drop(DropReason::TxFull, 2);
        let t = port_totals(&[a, b], 3);
        assert_eq!(t.rx_packets, 12);
        assert_eq!(t.dropped(DropReason::TxFull), 2);
        assert_eq!(t.total_drops(), 2);
    }
}
