//! The control side of the engine: starts the workers, hands them their
//! queues, publishes forwarding states and reads counters. Runs on the
//! control thread; nothing here is on the fast path.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam::channel::{self, Sender};

use super::counters::{port_totals, PortTotals, WorkerStats, MAX_PORTS};
use super::publish::StateCell;
use super::worker::{Worker, WorkerCmd};
use crate::dpdk::{spawn_worker_thread, DpdkError, Port, TscClock, WorkerThread};
use crate::switch::{BuildError, ForwardingState, PortId, StateConfig, SwitchSpec};

/// How long an update waits for every worker to take the new state.
pub const QUIESCE_TIMEOUT: Duration = Duration::from_secs(1);

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// One entry per worker: the core to pin it to (None: not pinned).
    pub worker_cores: Vec<Option<usize>>,
    pub state: StateConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            worker_cores: vec![None],
            state: StateConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Dpdk(#[from] DpdkError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("port {0:?} is already attached")]
    PortExists(String),
    #[error("no port named {0:?}")]
    NoSuchPort(String),
    #[error("port {name:?} has {queues} queues, the engine runs {workers} workers: give it one queue per worker")]
    Queues {
        name: String,
        queues: u16,
        workers: usize,
    },
    #[error("port {name:?} has id {id}, beyond the engine's {max} ports")]
    PortId { name: String, id: u16, max: usize },
    #[error("worker {0} did not answer within {1:?}")]
    WorkerStuck(usize, Duration),
}

struct WorkerSlot {
    thread: Option<WorkerThread>,
    cmds: Sender<WorkerCmd>,
}

/// The running engine.
pub struct Engine {
    cell: Arc<StateCell>,
    stop: Arc<AtomicBool>,
    workers: Vec<WorkerSlot>,
    stats: Vec<Arc<WorkerStats>>,
    ports: BTreeMap<String, Port>,
    clock: TscClock,
    config: EngineConfig,
    /// Serialises builds so that each starts from the latest state.
    update: Mutex<()>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("workers", &self.workers.len())
            .field("ports", &self.ports.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Engine {
    /// Starts one worker per `config.worker_cores` entry, each polling RX
    /// queue `i` and sending on TX queue `i` of every port. Every port
    /// drops until the first `apply`.
    pub fn start(config: EngineConfig, ports: Vec<Port>) -> Result<Engine, EngineError> {
        let n = config.worker_cores.len().max(1);
        let clock = TscClock::new();
        let cell = Arc::new(StateCell::new(Arc::new(ForwardingState::empty()), n));
        let stop = Arc::new(AtomicBool::new(false));
        let mut engine = Engine {
            cell,
            stop,
            workers: Vec::new(),
            stats: Vec::new(),
            ports: BTreeMap::new(),
            clock,
            config,
            update: Mutex::new(()),
        };
        for p in &ports {
            engine.check_port(p)?;
        }
        for i in 0..n {
            let (tx_cmd, rx_cmd) = channel::bounded(MAX_PORTS * 2);
            let stats = Arc::new(WorkerStats::default());
            let mut rx = Vec::new();
            let mut tx: Vec<Option<_>> = (0..MAX_PORTS).map(|_| None).collect();
            for p in &ports {
                rx.push(p.rx_queue(i as u16)?);
                tx[usize::from(p.id())] = Some(p.tx_queue(i as u16)?);
            }
            let worker = Worker {
                index: i,
                rx,
                tx,
                cell: engine.cell.clone(),
                stats: stats.clone(),
                stop: engine.stop.clone(),
                cmds: rx_cmd,
                clock,
            };
            let core = engine.config.worker_cores.get(i).copied().flatten();
            let thread =
                spawn_worker_thread(&format!("sfc-worker-{i}"), core, move || worker.run())?;
            tracing::info!(worker = i, ?core, lcore = thread.lcore_id, "worker started");
            engine.workers.push(WorkerSlot {
                thread: Some(thread),
                cmds: tx_cmd,
            });
            engine.stats.push(stats);
        }
        for p in ports {
            engine.ports.insert(p.name().to_owned(), p);
        }
        Ok(engine)
    }

    fn check_port(&self, p: &Port) -> Result<(), EngineError> {
        if self.ports.contains_key(p.name()) {
            return Err(EngineError::PortExists(p.name().to_owned()));
        }
        if usize::from(p.id()) >= MAX_PORTS {
            return Err(EngineError::PortId {
                name: p.name().to_owned(),
                id: p.id(),
                max: MAX_PORTS,
            });
        }
        let workers = self.config.worker_cores.len().max(1);
        if usize::from(p.queues()) != workers {
            return Err(EngineError::Queues {
                name: p.name().to_owned(),
                queues: p.queues(),
                workers,
            });
        }
        Ok(())
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// (index, lcore id, core) of each running worker.
    pub fn worker_placement(&self) -> Vec<(usize, u32, Option<usize>)> {
        self.workers
            .iter()
            .enumerate()
            .filter_map(|(i, w)| w.thread.as_ref().map(|t| (i, t.lcore_id, t.core)))
            .collect()
    }

    /// The engine's clock (ms), as the workers read it.
    pub fn now_ms(&self) -> u32 {
        self.clock.now_ms()
    }

    pub fn port(&self, name: &str) -> Option<&Port> {
        self.ports.get(name)
    }

    pub fn port_id(&self, name: &str) -> Option<PortId> {
        self.ports.get(name).map(Port::id)
    }

    /// Ports by name.
    pub fn ports(&self) -> impl Iterator<Item = &Port> {
        self.ports.values()
    }

    /// The state the workers forward by now.
    pub fn state(&self) -> Arc<ForwardingState> {
        self.cell.load()
    }

    /// Compiles `specs` (keeping learned MACs where ports stay in their
    /// switch), publishes it with one swap, and returns once every worker
    /// forwards by it: after `apply` returns, no packet takes an old path.
    /// Nothing changes if `specs` is invalid.
    pub fn apply(&self, specs: &[SwitchSpec]) -> Result<Arc<ForwardingState>, EngineError> {
        let _serial = self.update.lock().unwrap_or_else(|e| e.into_inner());
        let prev = self.cell.load();
        let next = Arc::new(ForwardingState::build(
            specs,
            Some(&prev),
            self.config.state,
        )?);
        let g = self.cell.publish(next.clone());
        if !self.cell.wait_seen(g, QUIESCE_TIMEOUT) {
            tracing::warn!(
                generation = g,
                "a worker did not take the new state within {QUIESCE_TIMEOUT:?}"
            );
        }
        Ok(next)
    }

    /// Ages the MAC tables by the engine clock; returns the entries removed.
    pub fn expire_macs(&self) -> usize {
        let removed = self.cell.load().expire(self.clock.now_ms());
        self.cell.reclaim();
        removed
    }

    /// A port's counters summed over the workers.
    pub fn port_totals(&self, id: PortId) -> PortTotals {
        port_totals(&self.stats, id)
    }

    /// Each worker's counters.
    pub fn worker_stats(&self) -> &[Arc<WorkerStats>] {
        &self.stats
    }

    /// Adds a started port: every worker gets its RX and TX queue. The port
    /// drops until a state that uses it is applied.
    pub fn attach(&mut self, port: Port) -> Result<(), EngineError> {
        self.check_port(&port)?;
        for (i, w) in self.workers.iter().enumerate() {
            let cmd = WorkerCmd::Attach {
                rx: Some(port.rx_queue(i as u16)?),
                tx: port.tx_queue(i as u16)?,
            };
            w.cmds
                .send_timeout(cmd, QUIESCE_TIMEOUT)
                .map_err(|_| EngineError::WorkerStuck(i, QUIESCE_TIMEOUT))?;
        }
        self.ports.insert(port.name().to_owned(), port);
        Ok(())
    }

    /// Removes a port: first a state without it is published (its switch
    /// keeps working on the other ports), then every worker lets go of its
    /// queues, then the port is stopped and closed.
    pub fn detach(&mut self, name: &str) -> Result<(), EngineError> {
        let id = self
            .port_id(name)
            .ok_or_else(|| EngineError::NoSuchPort(name.to_owned()))?;
        let specs: Vec<SwitchSpec> = self
            .cell
            .load()
            .specs()
            .iter()
            .map(|s| SwitchSpec {
                ports: s.ports.iter().copied().filter(|p| *p != id).collect(),
                ..s.clone()
            })
            .filter(|s| !s.ports.is_empty())
            .collect();
        self.apply(&specs)?;
        let (done_tx, done_rx) = channel::bounded(self.workers.len());
        for (i, w) in self.workers.iter().enumerate() {
            w.cmds
                .send_timeout(
                    WorkerCmd::Detach {
                        port: id,
                        done: done_tx.clone(),
                    },
                    QUIESCE_TIMEOUT,
                )
                .map_err(|_| EngineError::WorkerStuck(i, QUIESCE_TIMEOUT))?;
        }
        for i in 0..self.workers.len() {
            done_rx
                .recv_timeout(QUIESCE_TIMEOUT)
                .map_err(|_| EngineError::WorkerStuck(i, QUIESCE_TIMEOUT))?;
        }
        self.ports.remove(name);
        Ok(())
    }

    /// Stops the workers (each finishes its burst), then closes the ports.
    pub fn shutdown(mut self) {
        self.stop_workers();
    }

    fn stop_workers(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for w in &mut self.workers {
            if let Some(t) = w.thread.take() {
                let name = t.name.clone();
                if let Err(e) = t.join() {
                    tracing::error!(worker = name, error = %e, "worker ended badly");
                }
            }
        }
        self.cell.reclaim();
    }
}

impl Drop for Engine {
    /// Workers first (they own the queue handles), then ports: a port is
    /// never closed under a thread polling it.
    fn drop(&mut self) {
        self.stop_workers();
        self.ports.clear();
    }
}
