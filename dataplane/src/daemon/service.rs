//! The daemon's state and its operations. Every mutating op is a
//! transaction: it is tried on a copy of the store, written to the state
//! directory, and only then made current and programmed into the engine.
//! Whatever fails before that changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};
use sfc_control::protocol::{ErrorCode, Hello, ProtocolError, Request, OPS, VERSION};
use sfc_control::{Kind, Store};

use super::state_dir::{SavedState, StateDir};
use super::views::{self, Programmed};
use crate::dpdk::{Mempool, Port, PortConfig};
use crate::engine::Engine;
use crate::offload::Offloader;
use crate::switch::SwitchSpec;

/// Everything the control thread owns.
pub struct Daemon {
    pub store: Store,
    pub engine: Engine,
    pool: Arc<Mempool>,
    port_config: PortConfig,
    /// Every port's devargs (flags and attached).
    devargs: BTreeMap<String, String>,
    /// Ports attached at run time (persisted).
    attached: BTreeMap<String, String>,
    programmed: Vec<Programmed>,
    state_dir: StateDir,
    started: Instant,
    mtu_set: BTreeMap<String, u16>,
    /// Per op: answers given and seconds spent (for metrics).
    op_stats: BTreeMap<&'static str, (u64, f64)>,
    /// The offload thread (rte_flow); `None` runs everything in software.
    offloader: Option<Offloader>,
}

impl Drop for Daemon {
    /// Hardware rules go first, while their ports are still open; then the
    /// engine (workers, then ports) when the fields drop.
    fn drop(&mut self) {
        if let Some(o) = self.offloader.take() {
            o.shutdown();
        }
    }
}

fn err(code: ErrorCode, msg: impl Into<String>) -> ProtocolError {
    ProtocolError::new(code, msg)
}

fn kind(s: &str) -> Result<Kind, ProtocolError> {
    s.parse::<Kind>()
        .map_err(|e: sfc_control::ControlError| ProtocolError::from(e))
}

impl Daemon {
    pub fn new(
        store: Store,
        engine: Engine,
        pool: Arc<Mempool>,
        port_config: PortConfig,
        devargs: BTreeMap<String, String>,
        attached: BTreeMap<String, String>,
        state_dir: StateDir,
    ) -> Self {
        Self {
            store,
            engine,
            pool,
            port_config,
            devargs,
            attached,
            programmed: Vec::new(),
            state_dir,
            started: Instant::now(),
            mtu_set: BTreeMap::new(),
            op_stats: BTreeMap::new(),
            offloader: None,
        }
    }

    /// Hands the forwarding state to an offload thread from now on.
    pub fn set_offloader(&mut self, o: Offloader) {
        self.offloader = Some(o);
    }

    pub fn offloader(&self) -> Option<&Offloader> {
        self.offloader.as_ref()
    }

    /// Records how long an op took to answer.
    pub fn record_op(&mut self, op: &'static str, secs: f64) {
        let e = self.op_stats.entry(op).or_default();
        e.0 += 1;
        e.1 += secs;
    }

    pub fn op_stats(&self) -> &BTreeMap<&'static str, (u64, f64)> {
        &self.op_stats
    }

    pub fn programmed(&self) -> &[Programmed] {
        &self.programmed
    }

    pub fn devargs(&self) -> &BTreeMap<String, String> {
        &self.devargs
    }

    /// Answers one request.
    pub fn handle(&mut self, req: Request) -> Result<Value, ProtocolError> {
        match req {
            Request::Hello => Ok(json!(hello())),
            Request::Apply { objects } => {
                let mut next = self.store.clone();
                let report = next.apply(&objects)?;
                self.commit(next, self.attached.clone())?;
                Ok(json!(report))
            }
            Request::Delete(a) => {
                let mut next = self.store.clone();
                next.delete(kind(&a.kind)?, &a.namespace, &a.name)?;
                self.commit(next, self.attached.clone())?;
                Ok(json!({ "deleted": format!("{} {}/{}", a.kind, a.namespace, a.name) }))
            }
            Request::Get(a) => {
                let k = kind(&a.kind)?;
                self.store
                    .get(k, &a.namespace, &a.name)
                    .map(|v| json!(v))
                    .ok_or_else(|| {
                        err(
                            ErrorCode::NotFound,
                            format!("{} {}/{} not found", a.kind, a.namespace, a.name),
                        )
                    })
            }
            Request::List { kind: k } => {
                let k = k.as_deref().map(kind).transpose()?;
                Ok(json!(self.store.list(k)))
            }
            Request::Describe(a) => {
                let text = self.store.describe(kind(&a.kind)?, &a.namespace, &a.name)?;
                Ok(json!({ "text": text }))
            }
            Request::SetNodeLabels { labels } => {
                let mut next = self.store.clone();
                next.set_node_labels(labels);
                self.commit(next, self.attached.clone())?;
                Ok(json!({ "labels": self.store.node().labels }))
            }
            Request::Ports => Ok(json!(views::ports(
                &self.engine,
                &self.programmed,
                &self.devargs,
                self.offloader.as_ref()
            ))),
            Request::Attach { name, devargs } => self.attach(&name, &devargs),
            Request::Detach { name } => self.detach(&name),
            Request::Flows(f) => Ok(json!(views::flows(
                &self.engine,
                &self.programmed,
                &f,
                self.offloader.as_ref()
            ))),
            Request::Status => Ok(json!(views::status(
                &self.engine,
                &self.store.node().name,
                self.started.elapsed().as_millis() as u64
            ))),
        }
    }

    /// Persists `next` (and the attached ports), then makes it current and
    /// programs it. A write failure changes nothing.
    fn commit(
        &mut self,
        next: Store,
        attached: BTreeMap<String, String>,
    ) -> Result<(), ProtocolError> {
        let saved = SavedState {
            version: 1,
            store: next.snapshot(),
            attached: attached.clone(),
        };
        self.state_dir
            .save(&saved)
            .map_err(|e| err(ErrorCode::Storage, format!("{e}; nothing was changed")))?;
        self.store = next;
        self.attached = attached;
        self.program()
    }

    /// Writes the current state (after a restore or start-up apply).
    pub fn persist(&self) -> Result<(), String> {
        self.state_dir.save(&SavedState {
            version: 1,
            store: self.store.snapshot(),
            attached: self.attached.clone(),
        })
    }

    /// Turns the store's desired switches into a forwarding state and
    /// publishes it.
    pub fn program(&mut self) -> Result<(), ProtocolError> {
        let mut programmed = Vec::new();
        let mut specs = Vec::new();
        for d in self.store.desired_switches() {
            let ports: Vec<(String, u16)> = d
                .ports
                .iter()
                .filter_map(|n| self.engine.port_id(n).map(|id| (n.clone(), id)))
                .collect();
            if ports.is_empty() {
                continue;
            }
            let p = Programmed { desired: d, ports };
            specs.push(SwitchSpec {
                name: p.label(),
                ports: p.ports.iter().map(|(_, id)| *id).collect(),
                mtu: p.desired.mtu,
            });
            programmed.push(p);
        }
        self.engine.apply(&specs).map_err(|e| {
            err(
                ErrorCode::Internal,
                format!("forwarding state rejected: {e}"),
            )
        })?;
        // The switch's MTU on its ports, where the driver allows it (the
        // engine enforces it in software regardless).
        for p in &programmed {
            for (name, _) in &p.ports {
                if self.mtu_set.get(name) != Some(&p.desired.mtu) {
                    if let Some(port) = self.engine.port(name) {
                        if let Err(e) = port.set_mtu(p.desired.mtu) {
                            tracing::debug!(port = name.as_str(), error = %e, "MTU kept in software only");
                        }
                    }
                    self.mtu_set.insert(name.clone(), p.desired.mtu);
                }
            }
        }
        self.programmed = programmed;
        Ok(())
    }

    fn port_names(&self) -> BTreeSet<String> {
        self.engine.ports().map(|p| p.name().to_owned()).collect()
    }

    fn attach(&mut self, name: &str, devargs: &str) -> Result<Value, ProtocolError> {
        if name.is_empty()
            || name.len() > 63
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(err(
                ErrorCode::BadRequest,
                format!("port name {name:?}: 1..63 characters of letters, digits, '-', '_', '.'"),
            ));
        }
        if self.engine.port(name).is_some() {
            return Err(err(
                ErrorCode::Conflict,
                format!("port {name:?} is already attached"),
            ));
        }
        let port = Port::probe(name, devargs, self.pool.clone(), &self.port_config)
            .map_err(|e| err(ErrorCode::Dataplane, e.to_string()))?;
        let id = port.id();
        self.engine
            .attach(port)
            .map_err(|e| err(ErrorCode::Dataplane, e.to_string()))?;
        let mut next = self.store.clone();
        let mut names = self.port_names();
        names.insert(name.to_owned());
        next.set_dataplane_ports(names);
        let mut attached = self.attached.clone();
        attached.insert(name.to_owned(), devargs.to_owned());
        if let Err(e) = self.commit(next, attached) {
            // Undo: the port goes away again, nothing else changed.
            if let Err(d) = self.engine.detach(name) {
                tracing::error!(port = name, error = %d, "rollback of attach failed");
            }
            return Err(e);
        }
        self.devargs.insert(name.to_owned(), devargs.to_owned());
        Ok(json!({ "attached": name, "id": id }))
    }

    fn detach(&mut self, name: &str) -> Result<Value, ProtocolError> {
        if self.engine.port(name).is_none() {
            return Err(err(ErrorCode::NotFound, format!("no port named {name:?}")));
        }
        let mut next = self.store.clone();
        let mut names = self.port_names();
        names.remove(name);
        next.set_dataplane_ports(names);
        let mut attached = self.attached.clone();
        attached.remove(name);
        // Persist first: a failed write leaves the port attached and
        // everything as it was.
        self.state_dir
            .save(&SavedState {
                version: 1,
                store: next.snapshot(),
                attached: attached.clone(),
            })
            .map_err(|e| err(ErrorCode::Storage, format!("{e}; nothing was changed")))?;
        self.engine
            .detach(name)
            .map_err(|e| err(ErrorCode::Dataplane, e.to_string()))?;
        self.store = next;
        self.attached = attached;
        self.devargs.remove(name);
        self.mtu_set.remove(name);
        self.program()?;
        Ok(json!({ "detached": name }))
    }

    /// Applies the difference between two configurations (SIGHUP): node
    /// labels, ports added, removed or changed, DPF files to apply. Returns
    /// one line per change; settings that need a restart are named.
    pub fn reconfigure(&mut self, old: &super::Args, new: &super::Args) -> Vec<String> {
        let mut said = Vec::new();
        let mut note = |r: Result<String, String>| match r {
            Ok(s) => said.push(s),
            Err(e) => said.push(format!("error: {e}")),
        };
        match (old.labels(), new.labels()) {
            (Ok(a), Ok(b)) if a != b => {
                let mut next = self.store.clone();
                next.set_node_labels(b.clone());
                note(
                    self.commit(next, self.attached.clone())
                        .map(|_| format!("node labels now {b:?}"))
                        .map_err(|e| e.message),
                );
            }
            (_, Err(e)) => note(Err(e)),
            _ => {}
        }
        let (op, np) = (old.port_list().unwrap_or_default(), new.port_list());
        match np {
            Err(e) => note(Err(e)),
            Ok(np) => {
                let oldm: BTreeMap<String, String> = op.into_iter().collect();
                let newm: BTreeMap<String, String> = np.into_iter().collect();
                for (name, da) in &oldm {
                    if newm.get(name) != Some(da) && self.engine.port(name).is_some() {
                        note(
                            self.detach(name)
                                .map(|_| format!("port {name} detached"))
                                .map_err(|e| e.message),
                        );
                    }
                }
                for (name, da) in &newm {
                    if oldm.get(name) != Some(da) {
                        note(
                            self.attach(name, da)
                                .map(|_| format!("port {name} attached ({da})"))
                                .map_err(|e| e.message),
                        );
                    }
                }
            }
        }
        for f in &new.apply {
            let r = std::fs::read_to_string(f)
                .map_err(|e| format!("{}: {e}", f.display()))
                .and_then(|text| {
                    let mut next = self.store.clone();
                    let report = next.apply(&text).map_err(|e| e.to_string())?;
                    let changed = report
                        .results
                        .iter()
                        .filter(|r| !matches!(r.action, sfc_control::ApplyAction::Unchanged))
                        .count();
                    if changed > 0 {
                        self.commit(next, self.attached.clone())
                            .map_err(|e| e.message)?;
                    }
                    Ok(format!("{}: {changed} object(s) changed", f.display()))
                });
            note(r);
        }
        let restart = [
            ("worker cores", old.worker_cores != new.worker_cores),
            ("eal", old.eal != new.eal),
            (
                "socket",
                old.socket != new.socket || old.socket_mode != new.socket_mode,
            ),
            ("state directory", old.state_dir != new.state_dir),
            (
                "MAC table settings",
                old.mac_capacity != new.mac_capacity || old.mac_idle_ms != new.mac_idle_ms,
            ),
            (
                "pool and queues",
                old.mbufs != new.mbufs || old.queue_size != new.queue_size,
            ),
            ("metrics address", old.metrics_addr != new.metrics_addr),
        ];
        for (what, changed) in restart {
            if changed {
                said.push(format!("{what} changed: takes effect at the next restart"));
            }
        }
        if said.is_empty() {
            said.push("no change".into());
        }
        said
    }

    /// Ages learned MACs (called every second).
    pub fn expire_macs(&self) -> usize {
        self.engine.expire_macs()
    }
}

pub fn hello() -> Hello {
    Hello {
        version: VERSION,
        server: format!("sfcd {}", env!("CARGO_PKG_VERSION")),
        ops: OPS.iter().map(|s| s.to_string()).collect(),
    }
}
