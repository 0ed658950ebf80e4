//! The poll loop: one per worker thread, pinned to its core.
//!
//! Per loop: take a new forwarding state if one was published (the
//! quiescent point), apply queue commands, then for every RX queue: one
//! burst in, classified, batched per output port, sent. Nothing here
//! allocates, locks or makes a syscall: bursts and TX batches are fixed
//! arrays, counters are single-writer, the state is an `Arc` swapped only
//! at the quiescent point.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam::channel::{Receiver, Sender};

use super::counters::{WorkerStats, MAX_PORTS};
use super::publish::{StateCell, OFFLINE};
use crate::dpdk::{Burst, Mbuf, RxQueue, TscClock, TxQueue};
use crate::switch::{Decision, DropReason, ForwardingState, Learned, PortAction, PortId};

/// Changes to the queues a worker polls, sent by the engine.
#[derive(Debug)]
pub enum WorkerCmd {
    /// Start polling `rx` (if any) and sending on `tx`.
    Attach { rx: Option<RxQueue>, tx: TxQueue },
    /// Stop using `port`; the handles are dropped and `done` is told.
    Detach { port: PortId, done: Sender<()> },
}

/// What one worker owns.
pub struct Worker {
    pub index: usize,
    pub rx: Vec<RxQueue>,
    pub tx: Vec<Option<TxQueue>>,
    pub cell: Arc<StateCell>,
    pub stats: Arc<WorkerStats>,
    pub stop: Arc<AtomicBool>,
    pub cmds: Receiver<WorkerCmd>,
    pub clock: TscClock,
}

/// The engine clock, read at most once per poll loop and only if needed.
struct LazyNow<'a> {
    clock: &'a TscClock,
    ms: Option<u32>,
}

impl LazyNow<'_> {
    #[inline]
    fn get(&mut self) -> u32 {
        let clock = self.clock;
        *self.ms.get_or_insert_with(|| clock.now_ms())
    }
}

/// Per-output-port TX batches of one worker and the list of those in use.
struct TxBatches {
    out: Vec<Burst>,
    dirty: [PortId; MAX_PORTS],
    n_dirty: usize,
}

impl TxBatches {
    fn new() -> Self {
        Self {
            out: (0..MAX_PORTS).map(|_| Burst::new()).collect(),
            dirty: [0; MAX_PORTS],
            n_dirty: 0,
        }
    }

    /// Queues `m` for `port`; gives it back if the port is out of range or
    /// its batch is full (cannot happen for one RX burst, checked anyway).
    #[inline]
    fn push(&mut self, port: PortId, m: Mbuf) -> Result<(), Mbuf> {
        let Some(b) = self.out.get_mut(usize::from(port)) else {
            return Err(m);
        };
        if b.is_empty() {
            self.dirty[self.n_dirty] = port;
            self.n_dirty += 1;
        }
        b.push(m)
    }
}

impl Worker {
    /// Runs until `stop` is set. Consumes the worker: its queues drop (and
    /// go back to their ports) when the loop ends.
    pub fn run(mut self) {
        let mut state = self.cell.load_for_worker();
        let mut seen = self.cell.generation();
        self.cell.ack(self.index, seen);
        let mut burst = Burst::new();
        let mut batches = TxBatches::new();

        // Housekeeping counters are kept locally and published every
        // PUBLISH_EVERY loops: a loop is ~1 us at full rate, so the
        // published values are at most ~0.3 ms old.
        const PUBLISH_EVERY: u64 = 256;
        let (mut polls, mut busy_polls) = (0u64, 0u64);
        while !self.stop.load(Ordering::Relaxed) {
            // Quiescent point: nothing from the previous state is held here.
            let g = self.cell.generation();
            if g != seen {
                state = self.cell.load_for_worker();
                seen = g;
                self.cell.ack(self.index, seen);
            }
            if !self.cmds.is_empty() {
                self.apply_commands();
            }
            // The clock is read only when a learning switch needs it.
            let mut now = LazyNow {
                clock: &self.clock,
                ms: None,
            };
            let mut busy = false;
            for qi in 0..self.rx.len() {
                let n = self.rx[qi].recv(&mut burst);
                if n == 0 {
                    continue;
                }
                busy = true;
                let in_port = self.rx[qi].port_id();
                forward(
                    &state,
                    in_port,
                    &mut burst,
                    &mut batches,
                    &mut self.tx,
                    &self.stats,
                    &mut now,
                );
            }
            polls += 1;
            busy_polls += u64::from(busy);
            if polls % PUBLISH_EVERY == 0 {
                self.publish_housekeeping(&mut polls, &mut busy_polls);
            }
        }
        self.publish_housekeeping(&mut polls, &mut busy_polls);
        drop(state);
        self.cell.ack(self.index, OFFLINE);
    }

    fn publish_housekeeping(&self, polls: &mut u64, busy_polls: &mut u64) {
        self.stats.polls.add(std::mem::take(polls));
        self.stats.busy_polls.add(std::mem::take(busy_polls));
        self.stats.last_poll_ms.set(u64::from(self.clock.now_ms()));
    }

    fn apply_commands(&mut self) {
        while let Ok(cmd) = self.cmds.try_recv() {
            match cmd {
                WorkerCmd::Attach { rx, tx } => {
                    let p = usize::from(tx.port_id());
                    if let Some(slot) = self.tx.get_mut(p) {
                        *slot = Some(tx);
                    }
                    if let Some(rx) = rx {
                        self.rx.push(rx);
                    }
                }
                WorkerCmd::Detach { port, done } => {
                    self.rx.retain(|q| q.port_id() != port);
                    if let Some(slot) = self.tx.get_mut(usize::from(port)) {
                        *slot = None;
                    }
                    let _ = done.send(());
                }
            }
        }
    }
}

/// Forwards one RX burst from `in_port`.
#[inline]
fn forward(
    state: &ForwardingState,
    in_port: PortId,
    burst: &mut Burst,
    batches: &mut TxBatches,
    tx: &mut [Option<TxQueue>],
    stats: &WorkerStats,
    now: &mut LazyNow<'_>,
) {
    let Some(pc) = stats.ports.get(usize::from(in_port)) else {
        burst.clear();
        return;
    };
    pc.rx_packets.add(burst.len() as u64);
    match state.action(in_port) {
        PortAction::Drop => {
            pc.drop(DropReason::NoSwitch, burst.len() as u64);
            burst.clear();
        }
        PortAction::NoPeer { .. } => {
            pc.drop(DropReason::NoPeer, burst.len() as u64);
            burst.clear();
        }
        PortAction::CrossConnect { out, mtu } => {
            // The whole burst goes to one port. One pass over the lengths
            // spots a runt or a frame that may be too big (one compare: a
            // runt wraps around); only then is the burst handled per
            // packet. Bytes are counted by the driver, not here: at ~7 ns a
            // packet, a sum costs 3% of the rate.
            let mut widest = 0u32;
            for m in burst.iter() {
                widest = widest.max(m.pkt_len().wrapping_sub(14));
            }
            if widest <= u32::from(mtu) {
                send(tx, stats, out, burst);
            } else {
                for m in burst.drain() {
                    match state.classify(in_port, m.data(), m.pkt_len(), 0) {
                        Decision::Forward(p) => {
                            if let Err(m) = batches.push(p, m) {
                                drop_tx(stats, p, m);
                            }
                        }
                        Decision::Drop(r) => pc.drop(r, 1),
                        Decision::Flood(_) => {}
                    }
                }
                flush(tx, stats, batches);
            }
        }
        PortAction::Switch(_) => {
            let now = now.get();
            for m in burst.drain() {
                let (decision, learned) = state.classify_learn(in_port, m.data(), m.pkt_len(), now);
                match learned {
                    Some((_, Learned::New)) => stats.macs_learned.add(1),
                    Some((_, Learned::Moved { .. })) => stats.macs_moved.add(1),
                    Some((_, Learned::Full)) => stats.mac_table_full.add(1),
                    _ => {}
                }
                match decision {
                    Decision::Forward(p) => {
                        pc.unicast.add(1);
                        if let Err(m) = batches.push(p, m) {
                            drop_tx(stats, p, m);
                        }
                    }
                    Decision::Flood(id) => {
                        pc.flooded.add(1);
                        let Some(sw) = state.switch(id) else { continue };
                        let peers = sw.ports.len().saturating_sub(1);
                        let mut sent = 0;
                        let mut m = Some(m);
                        for &p in sw.ports.iter().filter(|p| **p != in_port) {
                            sent += 1;
                            // The last peer takes the original; the
                            // others share it (refcount, no copy).
                            let pkt = if sent == peers {
                                m.take()
                            } else {
                                m.as_ref().map(Mbuf::share)
                            };
                            if let Some(pkt) = pkt {
                                if let Err(pkt) = batches.push(p, pkt) {
                                    drop_tx(stats, p, pkt);
                                }
                            }
                        }
                    }
                    Decision::Drop(r) => pc.drop(r, 1),
                }
            }
            flush(tx, stats, batches);
        }
    }
}

/// Sends every non-empty batch.
#[inline]
fn flush(tx: &mut [Option<TxQueue>], stats: &WorkerStats, batches: &mut TxBatches) {
    for i in 0..batches.n_dirty {
        let p = batches.dirty[i];
        if let Some(b) = batches.out.get_mut(usize::from(p)) {
            send(tx, stats, p, b);
        }
    }
    batches.n_dirty = 0;
}

/// Sends `burst` on `port` and counts the result.
#[inline]
fn send(tx: &mut [Option<TxQueue>], stats: &WorkerStats, port: PortId, burst: &mut Burst) {
    let Some(pc) = stats.ports.get(usize::from(port)) else {
        burst.clear();
        return;
    };
    match tx.get_mut(usize::from(port)).and_then(Option::as_mut) {
        Some(txq) => {
            let o = txq.send(burst);
            pc.tx_packets.add(u64::from(o.sent));
            if o.dropped > 0 {
                pc.drop(DropReason::TxFull, u64::from(o.dropped));
            }
        }
        None => {
            // The port is not (or no longer) attached to this worker.
            pc.drop(DropReason::TxFull, burst.len() as u64);
            burst.clear();
        }
    }
}

#[cold]
fn drop_tx(stats: &WorkerStats, port: PortId, m: Mbuf) {
    if let Some(pc) = stats.ports.get(usize::from(port)) {
        pc.drop(DropReason::TxFull, 1);
    }
    drop(m);
}
