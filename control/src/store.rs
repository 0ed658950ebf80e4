//! The Store: the node's whole desired state. Applied objects as given,
//! their expansion for this node, port resolution against the dataplane's
//! ports, and conditions. Every mutation recomputes the derived state, so
//! what `desired_switches` returns always follows from the objects.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::conditions::{
    finalize, rfc3339, Clock, Computed, Condition, ConditionStatus, Reason, SystemClock,
    SERVICE_CHAINS_READY, SERVICE_CHAIN_RECONCILED, SERVICE_CHAIN_SET_READY,
    SERVICE_CHAIN_SET_RECONCILED, SERVICE_INTERFACES_READY, SERVICE_INTERFACE_RECONCILED,
    SERVICE_INTERFACE_SET_READY, SERVICE_INTERFACE_SET_RECONCILED,
};
use crate::cookie::chain_cookie;
use crate::error::ControlError;
use crate::expand::{expand, per_node_key, NodeInfo, NodeView, Placement};
use crate::model::object::{decode_document, Decoded};
use crate::model::{Kind, Object, ObjectKey, ObjectRef, API_VERSION};
use crate::parse::documents;
use crate::resolve::{port_name, resolve, ChainResolution, PortResult, ResolvedSwitch};
use crate::selector::Labels;

/// One switch the dataplane must implement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredSwitch {
    /// The per-node ServiceChain the switch belongs to.
    pub chain: ObjectKey,
    /// The DPUServiceChain / ServiceChainSet it was expanded from, if any.
    pub origin: Option<ObjectRef>,
    /// DPF's rule cookie for the chain ([`chain_cookie`] of `chain`).
    pub cookie: u64,
    /// Index in `spec.switches`.
    pub index: usize,
    /// Resolved dataplane port names, in port order; failed ports left out.
    pub ports: Vec<String>,
    pub mtu: u16,
}

/// What apply did to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplyAction {
    Created,
    /// Changed; `generation` moved if the spec changed.
    Configured,
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyResult {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    pub action: ApplyAction,
    pub generation: i64,
    /// Set for a DPUServiceChain made from a DPUDeployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted_from: Option<ObjectRef>,
}

/// The outcome of a successful apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReport {
    pub results: Vec<ApplyResult>,
    /// Documents that were not the dataplane's ("kind X is not the
    /// dataplane's: skipped").
    pub notes: Vec<String>,
}

/// Metadata as shown by get/list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ViewMeta {
    pub name: String,
    pub namespace: String,
    #[serde(default)]
    pub labels: Labels,
    #[serde(default)]
    pub annotations: Labels,
    pub generation: i64,
    /// For per-node objects made by expansion: the applied object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<ObjectRef>,
    /// For a DPUServiceChain made from a DPUDeployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted_from: Option<ObjectRef>,
}

/// Status as shown by get/list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ViewStatus {
    pub conditions: Vec<Condition>,
    pub observed_generation: i64,
    /// For applied objects: the per-node object they yield, or why none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_on_node: Option<String>,
    /// For ServiceChains on this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switches: Option<Vec<ResolvedSwitch>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<PortResult>>,
    /// For ServiceInterfaces on this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataplane_port: Option<String>,
}

/// An object with its status, serializable to JSON (for get/list).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectView {
    pub api_version: String,
    pub kind: Kind,
    pub metadata: ViewMeta,
    pub spec: Value,
    pub status: ViewStatus,
}

#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub object: Object,
    /// The document as applied (what a snapshot saves).
    pub raw: Value,
    pub generation: i64,
}

const SNAPSHOT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Snapshot {
    version: u32,
    node: NodeInfo,
    dataplane_ports: BTreeSet<String>,
    objects: Vec<SnapshotObject>,
    conditions: Vec<SnapshotConditions>,
}

#[derive(Serialize, Deserialize)]
struct SnapshotObject {
    generation: i64,
    object: Value,
}

#[derive(Serialize, Deserialize)]
struct SnapshotConditions {
    kind: Kind,
    namespace: String,
    name: String,
    conditions: Vec<Condition>,
}

/// The desired state of one node. See the crate docs for the flow.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) node: NodeInfo,
    pub(crate) ports: BTreeSet<String>,
    pub(crate) objects: BTreeMap<(Kind, ObjectKey), Stored>,
    /// Conditions of applied and per-node objects.
    pub(crate) conditions: BTreeMap<(Kind, ObjectKey), Vec<Condition>>,
    pub(crate) view: NodeView,
    pub(crate) resolution: BTreeMap<ObjectKey, ChainResolution>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Store {
    /// An empty store for `node`, on the system clock.
    pub fn new(node: NodeInfo) -> Self {
        Self::with_clock(node, Arc::new(SystemClock))
    }

    /// An empty store with an injected clock (tests, deterministic times).
    pub fn with_clock(node: NodeInfo, clock: Arc<dyn Clock>) -> Self {
        Store {
            node,
            ports: BTreeSet::new(),
            objects: BTreeMap::new(),
            conditions: BTreeMap::new(),
            view: NodeView::default(),
            resolution: BTreeMap::new(),
            clock,
        }
    }

    pub fn node(&self) -> &NodeInfo {
        &self.node
    }

    pub fn dataplane_ports(&self) -> &BTreeSet<String> {
        &self.ports
    }

    /// Applies a batch (YAML or JSON, see [`crate::parse`]). All or
    /// nothing: on any error the store is unchanged and the error names the
    /// object and field.
    pub fn apply(&mut self, input: &str) -> Result<ApplyReport, ControlError> {
        let mut report = ApplyReport::default();
        let mut batch: Vec<(usize, Object, Value)> = Vec::new();
        let mut seen: BTreeMap<(Kind, ObjectKey), usize> = BTreeMap::new();
        for (doc, v) in documents(input)? {
            match decode_document(&v, doc)? {
                Decoded::Skipped(note) => report.notes.push(note),
                Decoded::Object(obj) => {
                    let id = (obj.kind(), obj.key());
                    if let Some(first) = seen.insert(id, doc) {
                        return Err(ControlError::Duplicate {
                            object: obj.label(),
                            first,
                            second: doc,
                        });
                    }
                    batch.push((doc, *obj, v));
                }
            }
        }
        let mut objects = self.objects.clone();
        for (_, obj, raw) in batch {
            let id = (obj.kind(), obj.key());
            let (action, generation) = match objects.get(&id) {
                None => (ApplyAction::Created, 1),
                Some(old) if old.object == obj => (ApplyAction::Unchanged, old.generation),
                // Metadata-only changes keep the generation, as in Kubernetes.
                Some(old) if old.object.spec == obj.spec => {
                    (ApplyAction::Configured, old.generation)
                }
                Some(old) => (ApplyAction::Configured, old.generation + 1),
            };
            report.results.push(ApplyResult {
                kind: obj.kind(),
                namespace: obj.meta.namespace.clone(),
                name: obj.meta.name.clone(),
                action,
                generation,
                converted_from: obj.converted_from.clone(),
            });
            objects.insert(
                id,
                Stored {
                    object: obj,
                    raw,
                    generation,
                },
            );
        }
        let batch_ids = seen.into_keys().collect();
        check_conflicts(&objects, &batch_ids, &self.node.name)?;
        self.objects = objects;
        self.refresh();
        Ok(report)
    }

    /// Deletes one applied object (and so what it yielded on this node).
    pub fn delete(&mut self, kind: Kind, namespace: &str, name: &str) -> Result<(), ControlError> {
        let id = (kind, ObjectKey::new(namespace, name));
        if self.objects.remove(&id).is_none() {
            return Err(ControlError::NotFound {
                kind: kind.to_string(),
                namespace: namespace.to_string(),
                name: name.to_string(),
            });
        }
        self.refresh();
        Ok(())
    }

    /// Replaces the node's labels and re-expands every object.
    pub fn set_node_labels(&mut self, labels: Labels) {
        self.node.labels = labels;
        self.refresh();
    }

    /// Replaces the set of ports the dataplane has and re-resolves.
    pub fn set_dataplane_ports(&mut self, names: BTreeSet<String>) {
        self.ports = names;
        self.refresh();
    }

    /// Every switch of every chain on this node, ordered by chain
    /// (namespace, name) then switch index.
    pub fn desired_switches(&self) -> Vec<DesiredSwitch> {
        let mut out = Vec::new();
        for (key, res) in &self.resolution {
            let origin = self.view.chains.get(key).and_then(|c| c.origin.clone());
            for sw in &res.switches {
                out.push(DesiredSwitch {
                    chain: key.clone(),
                    origin: origin.clone(),
                    cookie: chain_cookie(&key.namespace, &key.name),
                    index: sw.index,
                    ports: sw.ports.clone(),
                    mtu: sw.mtu,
                });
            }
        }
        out
    }

    /// The resolution of one per-node chain (per-port results).
    pub fn chain_resolution(&self, chain: &ObjectKey) -> Option<&ChainResolution> {
        self.resolution.get(chain)
    }

    /// One object with status: an applied object, or else a per-node
    /// ServiceChain/ServiceInterface made by expansion.
    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<ObjectView> {
        let key = ObjectKey::new(namespace, name);
        if let Some(s) = self.objects.get(&(kind, key.clone())) {
            return Some(self.applied_view(s));
        }
        self.node_view(kind, &key)
    }

    /// All objects (of one kind, or all kinds), applied ones and per-node
    /// ones made by expansion, in (kind, namespace, name) order.
    pub fn list(&self, kind: Option<Kind>) -> Vec<ObjectView> {
        let mut out: BTreeMap<(Kind, ObjectKey), ObjectView> = BTreeMap::new();
        for (id, s) in &self.objects {
            if kind.is_none() || kind == Some(id.0) {
                out.insert(id.clone(), self.applied_view(s));
            }
        }
        let node_ids = self
            .view
            .chains
            .keys()
            .map(|k| (Kind::ServiceChain, k.clone()))
            .chain(
                self.view
                    .interfaces
                    .keys()
                    .map(|k| (Kind::ServiceInterface, k.clone())),
            );
        for id in node_ids {
            if (kind.is_none() || kind == Some(id.0)) && !out.contains_key(&id) {
                if let Some(v) = self.node_view(id.0, &id.1) {
                    out.insert(id, v);
                }
            }
        }
        out.into_values().collect()
    }

    /// A `dpfctl describe`-like tree of one object.
    pub fn describe(
        &self,
        kind: Kind,
        namespace: &str,
        name: &str,
    ) -> Result<String, ControlError> {
        crate::describe::describe(self, kind, &ObjectKey::new(namespace, name))
    }

    /// The whole store as JSON: objects as applied (with generations), node,
    /// dataplane ports and conditions.
    pub fn snapshot(&self) -> String {
        let snap = Snapshot {
            version: SNAPSHOT_VERSION,
            node: self.node.clone(),
            dataplane_ports: self.ports.clone(),
            objects: self
                .objects
                .values()
                .map(|s| SnapshotObject {
                    generation: s.generation,
                    object: s.raw.clone(),
                })
                .collect(),
            conditions: self
                .conditions
                .iter()
                .map(|((kind, key), c)| SnapshotConditions {
                    kind: *kind,
                    namespace: key.namespace.clone(),
                    name: key.name.clone(),
                    conditions: c.clone(),
                })
                .collect(),
        };
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string(&snap).unwrap_or_default()
    }

    /// Replaces the store's state with a snapshot (all or nothing; objects
    /// are validated again). The node name stays this store's.
    pub fn restore(&mut self, snapshot: &str) -> Result<(), ControlError> {
        let snap: Snapshot =
            serde_json::from_str(snapshot).map_err(|e| ControlError::Snapshot(e.to_string()))?;
        if snap.version != SNAPSHOT_VERSION {
            return Err(ControlError::Snapshot(format!(
                "version {} not supported (expected {SNAPSHOT_VERSION})",
                snap.version
            )));
        }
        let mut objects = BTreeMap::new();
        for (i, so) in snap.objects.into_iter().enumerate() {
            match decode_document(&so.object, i + 1)? {
                Decoded::Skipped(note) => {
                    return Err(ControlError::Snapshot(format!("object {}: {note}", i + 1)))
                }
                Decoded::Object(obj) => {
                    let id = (obj.kind(), obj.key());
                    if objects.contains_key(&id) {
                        return Err(ControlError::Snapshot(format!(
                            "{} appears twice",
                            obj.label()
                        )));
                    }
                    objects.insert(
                        id,
                        Stored {
                            object: *obj,
                            raw: so.object,
                            generation: so.generation,
                        },
                    );
                }
            }
        }
        check_conflicts(&objects, &BTreeSet::new(), &self.node.name)?;
        self.objects = objects;
        self.node.labels = snap.node.labels;
        self.ports = snap.dataplane_ports;
        self.conditions = snap
            .conditions
            .into_iter()
            .map(|c| ((c.kind, ObjectKey::new(c.namespace, c.name)), c.conditions))
            .collect();
        self.refresh();
        Ok(())
    }

    /// Recomputes expansion, resolution and conditions.
    fn refresh(&mut self) {
        let view = expand(
            self.objects.values().map(|s| (&s.object, s.generation)),
            &self.node,
        );
        let resolution = resolve(&view, &self.node.name, &self.ports);
        let now = rfc3339(self.clock.now_unix());
        let mut conds: BTreeMap<(Kind, ObjectKey), Vec<Condition>> = BTreeMap::new();
        let prev = |id: &(Kind, ObjectKey)| self.conditions.get(id).cloned().unwrap_or_default();

        for (key, iface) in &view.interfaces {
            let c = match port_name(&iface.spec) {
                Err(e) => Computed::not_ok(SERVICE_INTERFACE_RECONCILED, Reason::Failure, e),
                Ok(p) if !self.ports.contains(&p) => Computed::not_ok(
                    SERVICE_INTERFACE_RECONCILED,
                    Reason::Pending,
                    format!("waiting for dataplane port {p} on node({})", self.node.name),
                ),
                Ok(p) => Computed::ok(
                    SERVICE_INTERFACE_RECONCILED,
                    format!("bound to dataplane port {p}"),
                ),
            };
            let id = (Kind::ServiceInterface, key.clone());
            let done = finalize(vec![c], &prev(&id), &now, iface.generation);
            conds.insert(id, done);
        }
        for (key, chain) in &view.chains {
            let errors = resolution.get(key).map(|r| r.errors()).unwrap_or_default();
            let c = if errors.is_empty() {
                Computed::ok(SERVICE_CHAIN_RECONCILED, "")
            } else {
                Computed::not_ok(
                    SERVICE_CHAIN_RECONCILED,
                    Reason::Error,
                    format!("Error occurred: {}", aggregate(&errors)),
                )
            };
            let id = (Kind::ServiceChain, key.clone());
            let done = finalize(vec![c], &prev(&id), &now, chain.generation);
            conds.insert(id, done);
        }
        for (id, s) in &self.objects {
            let placement = view.placement.get(id);
            let mut computed = Vec::new();
            let (child_kind, ready_type) = match id.0 {
                Kind::DPUServiceChain => {
                    computed.push(Computed::ok(SERVICE_CHAIN_SET_RECONCILED, ""));
                    (Kind::ServiceChain, SERVICE_CHAIN_SET_READY)
                }
                Kind::ServiceChainSet => (Kind::ServiceChain, SERVICE_CHAINS_READY),
                Kind::DPUServiceInterface => {
                    computed.push(Computed::ok(SERVICE_INTERFACE_SET_RECONCILED, ""));
                    (Kind::ServiceInterface, SERVICE_INTERFACE_SET_READY)
                }
                Kind::ServiceInterfaceSet => (Kind::ServiceInterface, SERVICE_INTERFACES_READY),
                Kind::ServiceChain | Kind::ServiceInterface => {
                    // Per-node objects on this node got theirs above; one
                    // for another node has nothing to do here.
                    if let Some(Placement::NotOnNode(why)) = placement {
                        let t = if id.0 == Kind::ServiceChain {
                            SERVICE_CHAIN_RECONCILED
                        } else {
                            SERVICE_INTERFACE_RECONCILED
                        };
                        let done = finalize(
                            vec![Computed::ok(t, why.clone())],
                            &prev(id),
                            &now,
                            s.generation,
                        );
                        conds.insert(id.clone(), done);
                    }
                    continue;
                }
            };
            computed.push(match placement {
                Some(Placement::OnNode(child)) => {
                    let child_id = (child_kind, child.clone());
                    child_ready(conds.get(&child_id), ready_type, &child_id)
                }
                Some(Placement::NotOnNode(why)) => Computed::ok(ready_type, why.clone()),
                None => Computed::not_ok(ready_type, Reason::Pending, "not expanded yet"),
            });
            let done = finalize(computed, &prev(id), &now, s.generation);
            conds.insert(id.clone(), done);
        }
        self.conditions = conds;
        self.view = view;
        self.resolution = resolution;
    }

    fn applied_view(&self, s: &Stored) -> ObjectView {
        let id = (s.object.kind(), s.object.key());
        let mut status = ViewStatus {
            conditions: self.conditions.get(&id).cloned().unwrap_or_default(),
            observed_generation: s.generation,
            ..ViewStatus::default()
        };
        match self.view.placement.get(&id) {
            Some(Placement::OnNode(k)) => {
                status.on_node = Some(k.to_string());
                if matches!(id.0, Kind::ServiceChain | Kind::ServiceInterface) {
                    self.fill_node_status(id.0, k, &mut status);
                }
            }
            Some(Placement::NotOnNode(why)) => status.not_on_node = Some(why.clone()),
            None => {}
        }
        ObjectView {
            api_version: API_VERSION.to_string(),
            kind: id.0,
            metadata: ViewMeta {
                name: s.object.meta.name.clone(),
                namespace: s.object.meta.namespace.clone(),
                labels: s.object.meta.labels.clone(),
                annotations: s.object.meta.annotations.clone(),
                generation: s.generation,
                owner: None,
                converted_from: s.object.converted_from.clone(),
            },
            spec: s.object.spec.to_json(),
            status,
        }
    }

    fn fill_node_status(&self, kind: Kind, key: &ObjectKey, status: &mut ViewStatus) {
        if kind == Kind::ServiceChain {
            if let Some(r) = self.resolution.get(key) {
                status.switches = Some(r.switches.clone());
                status.ports = Some(r.ports.clone());
            }
        } else if let Some(i) = self.view.interfaces.get(key) {
            status.dataplane_port = port_name(&i.spec).ok();
        }
    }

    /// A per-node object made by expansion.
    fn node_view(&self, kind: Kind, key: &ObjectKey) -> Option<ObjectView> {
        let (labels, spec, owner, generation) = match kind {
            Kind::ServiceChain => {
                let c = self.view.chains.get(key)?;
                (
                    c.labels.clone(),
                    serde_json::to_value(&c.spec).ok()?,
                    c.owner.clone(),
                    c.generation,
                )
            }
            Kind::ServiceInterface => {
                let i = self.view.interfaces.get(key)?;
                (
                    i.labels.clone(),
                    serde_json::to_value(&i.spec).ok()?,
                    i.owner.clone(),
                    i.generation,
                )
            }
            _ => return None,
        };
        let mut status = ViewStatus {
            conditions: self
                .conditions
                .get(&(kind, key.clone()))
                .cloned()
                .unwrap_or_default(),
            observed_generation: generation,
            ..ViewStatus::default()
        };
        self.fill_node_status(kind, key, &mut status);
        Some(ObjectView {
            api_version: API_VERSION.to_string(),
            kind,
            metadata: ViewMeta {
                name: key.name.clone(),
                namespace: key.namespace.clone(),
                labels,
                annotations: Labels::new(),
                generation,
                owner: Some(owner),
                converted_from: None,
            },
            spec,
            status,
        })
    }
}

/// The Set-level "children ready" condition from the child's Ready.
fn child_ready(
    child: Option<&Vec<Condition>>,
    ready_type: &'static str,
    child_id: &(Kind, ObjectKey),
) -> Computed {
    let ready = child.and_then(|c| c.iter().find(|c| c.type_ == crate::conditions::READY));
    match ready {
        Some(r) if r.status == ConditionStatus::True => Computed::ok(ready_type, ""),
        Some(r) => {
            // Name the child and carry its failing condition's message, so
            // the top-level object says what is wrong without a second look.
            let detail = child
                .and_then(|c| {
                    c.iter().find(|c| {
                        c.type_ != crate::conditions::READY && c.status != ConditionStatus::True
                    })
                })
                .map(|c| format!(": {}", c.message))
                .unwrap_or_default();
            Computed::not_ok(
                ready_type,
                r.reason,
                format!("{} {} is not ready{detail}", child_id.0, child_id.1),
            )
        }
        None => Computed::not_ok(
            ready_type,
            Reason::Pending,
            format!("{} {} has no status yet", child_id.0, child_id.1),
        ),
    }
}

/// Kubernetes' error aggregate format: one error as is, several as `[a, b]`.
fn aggregate(errors: &[&str]) -> String {
    match errors {
        [one] => (*one).to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// Two applied objects must not make the same per-node object (e.g. a
/// DPUServiceChain `x` and a ServiceChainSet `x` both make `x-<node>`).
/// Objects already in the store are placed first so the error blames the
/// newcomer (`batch`).
fn check_conflicts(
    objects: &BTreeMap<(Kind, ObjectKey), Stored>,
    batch: &BTreeSet<(Kind, ObjectKey)>,
    node: &str,
) -> Result<(), ControlError> {
    let mut made: BTreeMap<(bool, ObjectKey), String> = BTreeMap::new();
    let (new, old): (Vec<_>, Vec<_>) = objects.iter().partition(|(id, _)| batch.contains(*id));
    for (_, s) in old.into_iter().chain(new) {
        let o = &s.object;
        let slot = (o.kind().is_chain(), per_node_key(o, node));
        if let Some(other) = made.get(&slot) {
            let what = if slot.0 {
                "ServiceChain"
            } else {
                "ServiceInterface"
            };
            return Err(ControlError::Conflict {
                object: o.label(),
                message: format!(
                    "would make {what} {} on node {node}, which {other} already makes",
                    slot.1
                ),
            });
        }
        made.insert(slot, o.label());
    }
    Ok(())
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
