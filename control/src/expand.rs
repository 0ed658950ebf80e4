//! Expansion for this node (dpf-chains.md section 1): DPU* objects and Sets
//! become per-node ServiceChains/ServiceInterfaces on a node their
//! nodeSelector matches; per-node objects apply if `spec.node` is unset or
//! names this node.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{
    InterfaceType, Kind, LabelSelector, Object, ObjectKey, ObjectRef, ServiceChainSpec,
    ServiceInterfaceSpec, Spec, TemplateMeta,
};
use crate::selector::{selector_matches, selector_string, Labels};

/// Labels DPF adds to the ServiceInterfaces a ServiceInterfaceSet creates.
pub const INTERFACE_SET_NAME_LABEL: &str = "svc.dpu.nvidia.com/serviceinterfaceset-name";
pub const INTERFACE_SET_NAMESPACE_LABEL: &str = "svc.dpu.nvidia.com/serviceinterfaceset-namespace";
pub const SERVICE_ID_LABEL: &str = "svc.dpu.nvidia.com/service-id";
/// The same for chains (not used for selection; shows where a chain is from).
pub const CHAIN_SET_NAME_LABEL: &str = "svc.dpu.nvidia.com/servicechainset-name";
pub const CHAIN_SET_NAMESPACE_LABEL: &str = "svc.dpu.nvidia.com/servicechainset-namespace";

/// The node this store runs for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub name: String,
    #[serde(default)]
    pub labels: Labels,
}

impl NodeInfo {
    pub fn new(name: impl Into<String>, labels: Labels) -> Self {
        NodeInfo {
            name: name.into(),
            labels,
        }
    }
}

/// A ServiceInterface as it exists on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInterface {
    pub key: ObjectKey,
    pub labels: Labels,
    pub spec: ServiceInterfaceSpec,
    /// The applied object it comes from (itself when applied directly).
    pub owner: ObjectRef,
    pub generation: i64,
}

/// A ServiceChain as it exists on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeChain {
    pub key: ObjectKey,
    pub labels: Labels,
    pub spec: ServiceChainSpec,
    pub owner: ObjectRef,
    /// The DPUServiceChain / ServiceChainSet it was expanded from, if any.
    pub origin: Option<ObjectRef>,
    /// The DPUDeployment the DPUServiceChain was made from, if any.
    pub deployment: Option<ObjectRef>,
    pub generation: i64,
}

/// What an applied object yields on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// The per-node object it produced (or is).
    OnNode(ObjectKey),
    /// Nothing, and why (e.g. "nodeSelector does not match node N").
    NotOnNode(String),
}

/// Everything that exists on this node after expansion.
#[derive(Debug, Clone, Default)]
pub struct NodeView {
    pub interfaces: BTreeMap<ObjectKey, NodeInterface>,
    pub chains: BTreeMap<ObjectKey, NodeChain>,
    pub placement: BTreeMap<(Kind, ObjectKey), Placement>,
}

/// The name of the per-node object an applied object yields on `node`:
/// DPF names Set children `<set>-<node>`; per-node objects keep their name.
pub fn per_node_key(obj: &Object, node: &str) -> ObjectKey {
    match obj.kind() {
        Kind::ServiceChain | Kind::ServiceInterface => obj.key(),
        _ => ObjectKey::new(&obj.meta.namespace, format!("{}-{node}", obj.meta.name)),
    }
}

fn not_selected(sel: Option<&LabelSelector>, node: &str) -> Placement {
    Placement::NotOnNode(format!(
        "nodeSelector does not match node {node} (selector {})",
        selector_string(sel)
    ))
}

fn wrong_node(want: &str, node: &str) -> Placement {
    Placement::NotOnNode(format!("spec.node is {want}, not this node {node}"))
}

fn set_labels(tmpl: &TemplateMeta, name_label: &str, ns_label: &str, set: &ObjectKey) -> Labels {
    let mut labels = tmpl.labels.clone();
    labels.insert(name_label.to_string(), set.name.clone());
    labels.insert(ns_label.to_string(), set.namespace.clone());
    labels
}

/// Expands every applied object for `node`.
pub fn expand<'a>(
    objects: impl IntoIterator<Item = (&'a Object, i64)>,
    node: &NodeInfo,
) -> NodeView {
    let mut view = NodeView::default();
    for (obj, generation) in objects {
        let owner = ObjectRef::new(obj.kind().as_str(), &obj.key());
        let key = per_node_key(obj, &node.name);
        let set_key = obj.key();
        // (selector, per-node chain or interface)
        let placed = match &obj.spec {
            Spec::DPUServiceChain(s) => {
                let set = &s.template.spec;
                chain_from_set(
                    &mut view,
                    node,
                    obj,
                    set.node_selector.as_ref(),
                    &set.template.metadata,
                    &set.template.spec,
                    &key,
                    &owner,
                    generation,
                )
            }
            Spec::ServiceChainSet(set) => chain_from_set(
                &mut view,
                node,
                obj,
                set.node_selector.as_ref(),
                &set.template.metadata,
                &set.template.spec,
                &key,
                &owner,
                generation,
            ),
            Spec::ServiceChain(spec) => match &spec.node {
                Some(n) if *n != node.name => wrong_node(n, &node.name),
                _ => {
                    view.chains.insert(
                        key.clone(),
                        NodeChain {
                            key: key.clone(),
                            labels: obj.meta.labels.clone(),
                            spec: spec.clone(),
                            owner: owner.clone(),
                            origin: None,
                            deployment: None,
                            generation,
                        },
                    );
                    Placement::OnNode(key)
                }
            },
            Spec::DPUServiceInterface(s) => {
                let set = &s.template.spec;
                interface_from_set(
                    &mut view,
                    node,
                    set.node_selector.as_ref(),
                    &set.template.metadata,
                    &set.template.spec,
                    &key,
                    &set_key,
                    &owner,
                    generation,
                )
            }
            Spec::ServiceInterfaceSet(set) => interface_from_set(
                &mut view,
                node,
                set.node_selector.as_ref(),
                &set.template.metadata,
                &set.template.spec,
                &key,
                &set_key,
                &owner,
                generation,
            ),
            Spec::ServiceInterface(spec) => match &spec.node {
                Some(n) if *n != node.name => wrong_node(n, &node.name),
                _ => {
                    view.interfaces.insert(
                        key.clone(),
                        NodeInterface {
                            key: key.clone(),
                            labels: obj.meta.labels.clone(),
                            spec: spec.clone(),
                            owner: owner.clone(),
                            generation,
                        },
                    );
                    Placement::OnNode(key)
                }
            },
        };
        view.placement.insert((obj.kind(), obj.key()), placed);
    }
    view
}

#[allow(clippy::too_many_arguments)]
fn chain_from_set(
    view: &mut NodeView,
    node: &NodeInfo,
    obj: &Object,
    sel: Option<&LabelSelector>,
    tmpl: &TemplateMeta,
    spec: &ServiceChainSpec,
    key: &ObjectKey,
    owner: &ObjectRef,
    generation: i64,
) -> Placement {
    if !selector_matches(sel, &node.labels) {
        return not_selected(sel, &node.name);
    }
    let mut spec = spec.clone();
    spec.node = Some(node.name.clone());
    view.chains.insert(
        key.clone(),
        NodeChain {
            key: key.clone(),
            labels: set_labels(
                tmpl,
                CHAIN_SET_NAME_LABEL,
                CHAIN_SET_NAMESPACE_LABEL,
                &obj.key(),
            ),
            spec,
            owner: owner.clone(),
            origin: Some(owner.clone()),
            deployment: obj.converted_from.clone(),
            generation,
        },
    );
    Placement::OnNode(key.clone())
}

#[allow(clippy::too_many_arguments)]
fn interface_from_set(
    view: &mut NodeView,
    node: &NodeInfo,
    sel: Option<&LabelSelector>,
    tmpl: &TemplateMeta,
    spec: &ServiceInterfaceSpec,
    key: &ObjectKey,
    set_key: &ObjectKey,
    owner: &ObjectRef,
    generation: i64,
) -> Placement {
    if !selector_matches(sel, &node.labels) {
        return not_selected(sel, &node.name);
    }
    let mut labels = set_labels(
        tmpl,
        INTERFACE_SET_NAME_LABEL,
        INTERFACE_SET_NAMESPACE_LABEL,
        set_key,
    );
    if spec.interface_type == InterfaceType::Service {
        if let Some(svc) = &spec.service {
            labels.insert(SERVICE_ID_LABEL.to_string(), svc.service_id.clone());
        }
    }
    let mut spec = spec.clone();
    spec.node = Some(node.name.clone());
    view.interfaces.insert(
        key.clone(),
        NodeInterface {
            key: key.clone(),
            labels,
            spec,
            owner: owner.clone(),
            generation,
        },
    );
    Placement::OnNode(key.clone())
}
