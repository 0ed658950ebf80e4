//! RCU for the forwarding state: one atomic swap publishes a new state; the
//! old one is freed only after every worker has passed a quiescent point
//! (the top of its poll loop) since the swap. Workers never free a state, so
//! an update never puts a deallocation on the fast path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use crossbeam::utils::CachePadded;

use crate::switch::ForwardingState;

/// A worker that is not running acknowledges everything.
pub const OFFLINE: u64 = u64::MAX;

/// The published state and the workers' acknowledgements.
#[derive(Debug)]
pub struct StateCell {
    current: ArcSwap<ForwardingState>,
    generation: CachePadded<AtomicU64>,
    acks: Box<[CachePadded<AtomicU64>]>,
    /// States replaced but maybe still read by a worker, with the
    /// generation that replaced them.
    retired: Mutex<Vec<(u64, Arc<ForwardingState>)>>,
}

impl StateCell {
    pub fn new(initial: Arc<ForwardingState>, workers: usize) -> Self {
        Self {
            current: ArcSwap::new(initial),
            generation: CachePadded::new(AtomicU64::new(1)),
            acks: (0..workers)
                .map(|_| CachePadded::new(AtomicU64::new(OFFLINE)))
                .collect(),
            retired: Mutex::new(Vec::new()),
        }
    }

    /// The current state (control side).
    pub fn load(&self) -> Arc<ForwardingState> {
        self.current.load_full()
    }

    /// Publishes `next` with one swap; returns its publication number.
    pub fn publish(&self, next: Arc<ForwardingState>) -> u64 {
        let old = self.current.swap(next);
        let g = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        if let Ok(mut r) = self.retired.lock() {
            r.push((g, old));
        }
        self.reclaim();
        g
    }

    /// Frees retired states no worker can still hold.
    pub fn reclaim(&self) -> usize {
        let min = self.min_ack();
        match self.retired.lock() {
            Ok(mut r) => {
                r.retain(|(g, _)| *g > min);
                r.len()
            }
            Err(_) => 0,
        }
    }

    fn min_ack(&self) -> u64 {
        self.acks
            .iter()
            .map(|a| a.load(Ordering::Acquire))
            .min()
            .unwrap_or(OFFLINE)
    }

    /// Waits until every running worker has seen publication `g` (so no
    /// worker forwards by an older state), up to `timeout`.
    pub fn wait_seen(&self, g: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.min_ack() >= g {
                self.reclaim();
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    /// Worker side: the publication number, one relaxed-cost load.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Worker side: the current state, taken when `generation` moved.
    pub fn load_for_worker(&self) -> Arc<ForwardingState> {
        self.current.load_full()
    }

    /// Worker side: "I hold nothing older than `g`" (or OFFLINE).
    #[inline]
    pub fn ack(&self, worker: usize, g: u64) {
        if let Some(a) = self.acks.get(worker) {
            a.store(g, Ordering::Release);
        }
    }

    /// Number of retired states still held.
    pub fn retired(&self) -> usize {
        self.retired.lock().map(|r| r.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_states_are_kept_until_every_worker_acknowledged() {
        let cell = StateCell::new(Arc::new(ForwardingState::empty()), 2);
        cell.ack(0, 1);
        cell.ack(1, 1);
        let old = cell.load();
        let g = cell.publish(Arc::new(ForwardingState::empty()));
        assert_eq!(g, 2);
        // Both workers may still hold generation 1's state.
        assert_eq!(cell.retired(), 1);
        assert_eq!(Arc::strong_count(&old), 2);
        cell.ack(0, 2);
        assert_eq!(cell.reclaim(), 1);
        cell.ack(1, OFFLINE);
        assert!(cell.wait_seen(2, Duration::from_millis(10)));
        assert_eq!(cell.retired(), 0);
        assert_eq!(Arc::strong_count(&old), 1);
    }

    #[test]
    fn wait_seen_times_out_on_a_stuck_worker() {
        let cell = StateCell::new(Arc::new(ForwardingState::empty()), 1);
        cell.ack(0, 1);
        let g = cell.publish(Arc::new(ForwardingState::empty()));
        assert!(!cell.wait_seen(g, Duration::from_millis(5)));
    }
}
