//! Hardware offload: port-to-port flows into the NIC's embedded switch
//! through rte_flow, from the offload thread (never a worker).
//!
//! * [`translate`] turns a forwarding state into rules: a 2-port switch is
//!   two `represented_port A -> represented_port B` transfer rules with
//!   COUNT; a MAC learned on port P of a learning switch is one
//!   `(represented_port Q, eth dst M) -> P` rule per peer Q; flooding, and
//!   anything no single rule expresses exactly, stays in software.
//! * [`OffloadTable`] keeps the installed rules by key, diffs each new
//!   state against them, follows learn/age events, polls COUNT, ages idle
//!   learned rules, retries failures a bounded number of times, and keeps
//!   per rule a [`RuleState`]: offloaded, software (with why) or failed.
//! * [`Offloader`] runs the table on its own thread, fed by a bounded
//!   queue; the daemon reads [`Offloader::rules`] and
//!   [`Offloader::ports`].
//! * The driver sits behind [`FlowDevice`]: [`DpdkFlowDevice`] is rte_flow
//!   (`dpdk::flow`); unit tests use a recording test device.

mod clock;
mod device;
mod rule;
mod table;
#[cfg(test)]
mod test_device;
mod translate;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel::{self, Receiver, RecvTimeoutError, Sender, TrySendError};

pub use self::clock::{Clock, ManualClock, MonotonicClock};
pub use self::device::{DpdkFlowDevice, FlowDevice, PortProbe};
pub use self::rule::{
    Desired, LearnedMacs, PortTopo, PortView, Refusal, RuleFlow, RuleKey, RuleState, RuleView,
    Topology,
};
pub use self::table::{OffloadConfig, OffloadStats, OffloadTable, LOG};
pub use self::translate::{
    changed_switches, distinct, label_range, learned_from_tables, learned_mac_rules, plan,
    translate, translate_change, translate_switch, Change, Plan,
};
pub use crate::dpdk::flow::FlowApi;

use crate::dpdk::PortInfo;
use crate::switch::{ForwardingState, MacAddr, PortId};

/// How long a control-side call waits for the offload thread.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The shortest time between two published snapshots (unless a caller
/// waits for one).
const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// Messages handled per wake-up at most.
const BATCH: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum OffloadError {
    #[error("offload thread: {0}")]
    Thread(String),
    #[error("the offload thread did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the offload thread has stopped")]
    Stopped,
    #[error("no port named {0:?} in the offload thread")]
    NoSuchPort(String),
}

enum Msg {
    State(Arc<ForwardingState>),
    Learned {
        switch: String,
        mac: MacAddr,
        port: PortId,
    },
    Aged {
        switch: String,
        mac: MacAddr,
    },
    AddPort {
        name: String,
        id: PortId,
        info: PortInfo,
        done: Sender<()>,
    },
    RemovePort {
        name: String,
        done: Sender<bool>,
    },
    Poll(Sender<()>),
    Sync(Sender<()>),
    Shutdown,
}

/// What the thread publishes for readers.
#[derive(Default)]
struct Shared {
    rules: Mutex<Arc<[RuleView]>>,
    ports: Mutex<Arc<[PortView]>>,
    stats: Mutex<OffloadStats>,
    dropped_events: AtomicU64,
}

/// The offload thread.
pub struct Offloader {
    tx: Sender<Msg>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Offloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Offloader")
            .field("running", &self.thread.is_some())
            .finish()
    }
}

impl Offloader {
    /// Starts the offload thread on real ports with the default settings:
    /// each port's flow API is probed once (this call returns after), then
    /// every state given to [`Offloader::update`] is offloaded.
    ///
    /// Order with the rest of sfcd: start it after the ports are probed;
    /// call [`Offloader::remove_port`] before a port is closed and
    /// [`Offloader::shutdown`] before the engine drops its ports.
    pub fn start(
        ports: Vec<(String, PortId, PortInfo)>,
        clock: Arc<dyn Clock>,
    ) -> Result<Offloader, OffloadError> {
        Self::start_with_config(OffloadConfig::default(), ports, clock)
    }

    /// [`Offloader::start`] with settings.
    pub fn start_with_config(
        config: OffloadConfig,
        ports: Vec<(String, PortId, PortInfo)>,
        clock: Arc<dyn Clock>,
    ) -> Result<Offloader, OffloadError> {
        let template = config.template;
        Self::start_with(config, ports, clock, move || DpdkFlowDevice::new(template))
    }

    /// Starts the thread with the device `make` builds on it.
    pub fn start_with<D, F>(
        config: OffloadConfig,
        ports: Vec<(String, PortId, PortInfo)>,
        clock: Arc<dyn Clock>,
        make: F,
    ) -> Result<Offloader, OffloadError>
    where
        D: FlowDevice + 'static,
        F: FnOnce() -> D + Send + 'static,
    {
        let (tx, rx) = channel::bounded(config.queue.max(16));
        let (ready_tx, ready_rx) = channel::bounded(1);
        let shared = Arc::new(Shared::default());
        let sh = shared.clone();
        let thread = std::thread::Builder::new()
            .name("sfc-offload".into())
            .spawn(move || {
                let poll = config.poll_interval;
                let mut table = OffloadTable::new(make(), config);
                for (name, id, info) in &ports {
                    table.add_port(name, *id, info, clock.now_ms());
                }
                publish(&mut table, &sh);
                let _ = ready_tx.send(());
                run(table, rx, clock, sh, poll);
            })
            .map_err(|e| OffloadError::Thread(e.to_string()))?;
        if ready_rx.recv().is_err() {
            let msg = match thread.join() {
                Err(_) => "panicked while probing the ports".to_owned(),
                Ok(()) => "ended while probing the ports".to_owned(),
            };
            return Err(OffloadError::Thread(msg));
        }
        Ok(Offloader {
            tx,
            shared,
            thread: Some(thread),
        })
    }

    /// Offloads `state` (diffed by rule key against what is installed).
    /// Waits for room in the queue at most [`CALL_TIMEOUT`].
    pub fn update(&self, state: Arc<ForwardingState>) -> Result<(), OffloadError> {
        self.tx
            .send_timeout(Msg::State(state), CALL_TIMEOUT)
            .map_err(|e| match e {
                channel::SendTimeoutError::Timeout(_) => OffloadError::Timeout(CALL_TIMEOUT),
                channel::SendTimeoutError::Disconnected(_) => OffloadError::Stopped,
            })
    }

    /// The engine learned `mac` on `port` of the switch labelled `switch`
    /// (new, moved or refreshed). Never blocks: on a full queue the event
    /// is counted and dropped (the periodic table rescan catches up).
    pub fn learned(&self, switch: &str, mac: MacAddr, port: PortId) {
        self.event(Msg::Learned {
            switch: switch.to_owned(),
            mac,
            port,
        });
    }

    /// The engine aged `mac` out of switch `switch`. Never blocks.
    pub fn aged(&self, switch: &str, mac: MacAddr) {
        self.event(Msg::Aged {
            switch: switch.to_owned(),
            mac,
        });
    }

    fn event(&self, m: Msg) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(m) {
            self.shared.dropped_events.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Adds a port attached at run time (probes its flow API); returns
    /// once done.
    pub fn add_port(&self, name: &str, id: PortId, info: PortInfo) -> Result<(), OffloadError> {
        let (done, wait) = channel::bounded(1);
        self.call(
            Msg::AddPort {
                name: name.to_owned(),
                id,
                info,
                done,
            },
            &wait,
        )
    }

    /// Destroys every rule that uses the port, then forgets it; returns
    /// once done. Call before the port is closed.
    pub fn remove_port(&self, name: &str) -> Result<(), OffloadError> {
        let (done, wait) = channel::bounded(1);
        let known = self.call(
            Msg::RemovePort {
                name: name.to_owned(),
                done,
            },
            &wait,
        )?;
        if known {
            Ok(())
        } else {
            Err(OffloadError::NoSuchPort(name.to_owned()))
        }
    }

    /// Polls the hardware counters and ages idle rules now (besides every
    /// poll interval); returns once done.
    pub fn poll(&self) -> Result<(), OffloadError> {
        let (done, wait) = channel::bounded(1);
        self.call(Msg::Poll(done), &wait)
    }

    /// Returns once every message sent before is handled and published.
    pub fn sync(&self) -> Result<(), OffloadError> {
        let (done, wait) = channel::bounded(1);
        self.call(Msg::Sync(done), &wait)
    }

    fn call<T>(&self, m: Msg, wait: &Receiver<T>) -> Result<T, OffloadError> {
        self.tx.send_timeout(m, CALL_TIMEOUT).map_err(|e| match e {
            channel::SendTimeoutError::Timeout(_) => OffloadError::Timeout(CALL_TIMEOUT),
            channel::SendTimeoutError::Disconnected(_) => OffloadError::Stopped,
        })?;
        wait.recv_timeout(CALL_TIMEOUT).map_err(|e| match e {
            RecvTimeoutError::Timeout => OffloadError::Timeout(CALL_TIMEOUT),
            RecvTimeoutError::Disconnected => OffloadError::Stopped,
        })
    }

    /// Every flow with its offload state and hardware counters, by key
    /// (as last published: at most ~100 ms old, current after `sync`).
    pub fn rules(&self) -> Arc<[RuleView]> {
        lock(&self.shared.rules).clone()
    }

    /// Every port with its flow API.
    pub fn ports(&self) -> Arc<[PortView]> {
        lock(&self.shared.ports).clone()
    }

    /// The flow API chosen for the port named `name`.
    pub fn port_api(&self, name: &str) -> Option<FlowApi> {
        self.ports()
            .iter()
            .find(|p| &*p.name == name)
            .map(|p| p.api)
    }

    pub fn stats(&self) -> OffloadStats {
        let mut s = *lock(&self.shared.stats);
        s.dropped_events = self.shared.dropped_events.load(Ordering::Relaxed);
        s
    }

    /// Removes every rule from the hardware and stops the thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(t) = self.thread.take() else {
            return;
        };
        if self.tx.send_timeout(Msg::Shutdown, CALL_TIMEOUT).is_err() {
            tracing::error!(target: LOG, "offload thread did not take the shutdown request");
        }
        if t.join().is_err() {
            tracing::error!(target: LOG, "offload thread panicked");
        }
    }
}

impl Drop for Offloader {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn publish<D: FlowDevice>(table: &mut OffloadTable<D>, sh: &Shared) {
    table.take_dirty();
    *lock(&sh.rules) = table.views().into();
    *lock(&sh.ports) = table.port_views().into();
    *lock(&sh.stats) = table.stats();
}

/// The thread's loop: messages in batches (only the last of several
/// queued states is applied), a tick every poll interval, snapshots
/// published when something changed.
fn run<D: FlowDevice>(
    mut table: OffloadTable<D>,
    rx: Receiver<Msg>,
    clock: Arc<dyn Clock>,
    sh: Arc<Shared>,
    poll: Duration,
) {
    let mut next_tick = Instant::now() + poll;
    let mut last_publish = Instant::now();
    loop {
        let mut wake = next_tick;
        if table.is_dirty() {
            // Still to publish: come back for it.
            wake = wake.min(last_publish + PUBLISH_EVERY);
        }
        let first = match rx.recv_timeout(wake.saturating_duration_since(Instant::now())) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                table.shutdown();
                publish(&mut table, &sh);
                return;
            }
        };
        let batch: Vec<Msg> = first.into_iter().chain(rx.try_iter().take(BATCH)).collect();
        let last_state = batch.iter().rposition(|m| matches!(m, Msg::State(_)));
        let mut waiting: Vec<Sender<()>> = Vec::new();
        for (i, m) in batch.into_iter().enumerate() {
            let now = clock.now_ms();
            match m {
                Msg::State(s) => {
                    if Some(i) == last_state {
                        table.set_state(s, now);
                    }
                }
                Msg::Learned { switch, mac, port } => table.learned(&switch, mac, port, now),
                Msg::Aged { switch, mac } => table.aged(&switch, mac, now),
                Msg::AddPort {
                    name,
                    id,
                    info,
                    done,
                } => {
                    table.add_port(&name, id, &info, now);
                    publish(&mut table, &sh);
                    let _ = done.send(());
                }
                Msg::RemovePort { name, done } => {
                    let known = table.remove_port(&name, now);
                    publish(&mut table, &sh);
                    let _ = done.send(known);
                }
                Msg::Poll(done) => {
                    table.tick(now);
                    waiting.push(done);
                }
                Msg::Sync(done) => waiting.push(done),
                Msg::Shutdown => {
                    table.shutdown();
                    publish(&mut table, &sh);
                    for w in waiting {
                        let _ = w.send(());
                    }
                    return;
                }
            }
        }
        if Instant::now() >= next_tick {
            table.tick(clock.now_ms());
            next_tick = Instant::now() + poll;
        }
        if !waiting.is_empty() || (table.is_dirty() && last_publish.elapsed() >= PUBLISH_EVERY) {
            publish(&mut table, &sh);
            last_publish = Instant::now();
            for w in waiting {
                let _ = w.send(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_device::{Call, TestFlowDevice};
    use super::*;
    use crate::switch::{StateConfig, SwitchSpec};

    fn info() -> PortInfo {
        PortInfo {
            driver: "test".into(),
            device: "test".into(),
            max_rx_queues: 1,
            max_tx_queues: 1,
            rss: false,
            switch_domain: Some(3),
        }
    }

    fn state(specs: &[(&str, &[PortId])], prev: Option<&ForwardingState>) -> Arc<ForwardingState> {
        let specs: Vec<SwitchSpec> = specs.iter().map(|(n, p)| SwitchSpec::new(*n, p)).collect();
        match ForwardingState::build(&specs, prev, StateConfig::default()) {
            Ok(s) => Arc::new(s),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn the_thread_offloads_states_and_events_and_cleans_up_at_shutdown() {
        let dev = TestFlowDevice::with_proxy(0);
        let d = dev.clone();
        let clock = ManualClock::default();
        let ports = (0..4)
            .map(|i| (format!("p{i}"), i as PortId, info()))
            .collect();
        let off = match Offloader::start_with(
            OffloadConfig::default(),
            ports,
            Arc::new(clock.clone()),
            move || d,
        ) {
            Ok(o) => o,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(off.port_api("p1"), Some(FlowApi::Sync));
        assert_eq!(off.port_api("nope"), None);
        let s = state(&[("xc", &[0, 3]), ("sw", &[1, 2, 4])], None);
        assert!(off.update(s.clone()).is_ok());
        s.switches()[0].table.learn(MacAddr(0x0200_0000_0001), 1, 0);
        off.learned("sw", MacAddr(0x0200_0000_0001), 1);
        assert!(off.sync().is_ok());
        let rules = off.rules();
        let offloaded: Vec<String> = rules
            .iter()
            .filter(|r| r.state == RuleState::Offloaded)
            .map(|r| r.key.to_string())
            .collect();
        // Port 4 is unknown to the offloader: its flows are refusals.
        assert_eq!(
            offloaded,
            vec![
                "sw: in_port 2 dst 02:00:00:00:00:01",
                "xc: in_port 0",
                "xc: in_port 3"
            ]
        );
        assert!(rules
            .iter()
            .any(|r| r.state == RuleState::Software(Refusal::UnknownPort(4).to_string())));
        assert_eq!(dev.live().len(), 3);
        // Deleting the xc chain removes exactly its two rules.
        let s2 = state(&[("sw", &[1, 2, 4])], Some(&s));
        assert!(off.update(s2).is_ok());
        assert!(off.sync().is_ok());
        assert_eq!(dev.live().len(), 1);
        assert!(off.remove_port("p2").is_ok());
        assert!(matches!(
            off.remove_port("p2"),
            Err(OffloadError::NoSuchPort(_))
        ));
        assert!(dev.live().is_empty());
        assert!(off.add_port("p2", 2, info()).is_ok());
        assert!(off.sync().is_ok());
        assert_eq!(dev.live().len(), 1, "re-added port: its rule is back");
        dev.take_calls();
        off.shutdown();
        assert!(dev.live().is_empty(), "nothing left in hardware at exit");
        let calls = dev.take_calls();
        assert!(calls.iter().any(|c| matches!(c, Call::Destroy(_))));
    }
}
