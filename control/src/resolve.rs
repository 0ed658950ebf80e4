//! Port resolution (dpf-chains.md section 4): each switch port selector ->
//! exactly one ServiceInterface on this node -> a dataplane port name.
//! Best effort: a port that fails is left out with its reason, the rest of
//! the switch is still produced.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::expand::{NodeInterface, NodeView};
use crate::model::{InterfaceType, ObjectKey, ServiceInterfaceSpec};
use crate::selector::{go_map, labels_contain, Labels};

/// Name of the patch port when `peerPatchName` is not given. DPF derives
/// `p_<bridgeA>_to_<bridgeB>_<hash>` for its OVS bridge pair; sfcd has no
/// bridge of its own, so it names the port after the peer bridge only:
/// `patch-<peerBridge>`. Start sfcd with a port of that name to bind it.
pub fn derived_patch_name(peer_bridge: &str) -> String {
    format!("patch-{peer_bridge}")
}

/// The dataplane port a ServiceInterface binds to, by type; Err says why
/// the type cannot be bound.
pub fn port_name(spec: &ServiceInterfaceSpec) -> Result<String, String> {
    let missing = || {
        format!(
            "interfaceType {} without its {} block",
            spec.interface_type, spec.interface_type
        )
    };
    match spec.interface_type {
        InterfaceType::Physical => spec
            .physical
            .as_ref()
            .map(|p| p.interface_name.clone())
            .ok_or_else(missing),
        InterfaceType::Pf => spec
            .pf
            .as_ref()
            .map(|p| format!("pf{}hpf", p.pf_id))
            .ok_or_else(missing),
        InterfaceType::Vf => spec
            .vf
            .as_ref()
            .map(|v| format!("pf{}vf{}", v.pf_id, v.vf_id))
            .ok_or_else(missing),
        InterfaceType::Service => spec
            .service
            .as_ref()
            .map(|s| s.interface_name.clone())
            .ok_or_else(missing),
        InterfaceType::Ovn => Ok("ovn".to_string()),
        InterfaceType::Patch => spec
            .patch
            .as_ref()
            .map(|p| {
                p.peer_patch_name
                    .clone()
                    .unwrap_or_else(|| derived_patch_name(&p.peer_bridge))
            })
            .ok_or_else(missing),
        // DPF's sfc-controller skips vlan interfaces ("out of scope for MVP").
        InterfaceType::Vlan => {
            Err("interfaceType vlan is out of scope: DPF skips it and so does sfcd".to_string())
        }
    }
}

/// The outcome of one `switches[i].ports[j]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortResult {
    pub switch: usize,
    pub port: usize,
    pub match_labels: Labels,
    /// The ServiceInterface selected, when exactly one matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<ObjectKey>,
    /// The dataplane port, when known (even if it then failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_name: Option<String>,
    /// Why this port is left out; None = in the switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One switch after resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedSwitch {
    pub index: usize,
    pub mtu: u16,
    /// Resolved port names in port order, failed ports left out.
    pub ports: Vec<String>,
}

/// A chain after resolution.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainResolution {
    pub switches: Vec<ResolvedSwitch>,
    pub ports: Vec<PortResult>,
}

impl ChainResolution {
    pub fn errors(&self) -> Vec<&str> {
        self.ports
            .iter()
            .filter_map(|p| p.error.as_deref())
            .collect()
    }
}

/// Resolves every chain of the view. Chains go in key order
/// (namespace/name), switches in index order: the first claim of a port
/// wins, a later one is an error on the later chain.
pub fn resolve(
    view: &NodeView,
    node: &str,
    dataplane_ports: &BTreeSet<String>,
) -> BTreeMap<ObjectKey, ChainResolution> {
    let mut claims: BTreeMap<String, (ObjectKey, usize)> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for (ckey, chain) in &view.chains {
        let mut res = ChainResolution::default();
        for (si, sw) in chain.spec.switches.iter().enumerate() {
            let mut names = Vec::new();
            for (pi, port) in sw.ports.iter().enumerate() {
                let ml = &port.service_interface.match_labels;
                let mut pr = PortResult {
                    switch: si,
                    port: pi,
                    match_labels: ml.clone(),
                    interface: None,
                    port_name: None,
                    error: None,
                };
                match select(view, &ckey.namespace, ml, node) {
                    Err(e) => pr.error = Some(e),
                    Ok(iface) => {
                        pr.interface = Some(iface.key.clone());
                        match bind(iface, dataplane_ports, node) {
                            Err((name, e)) => {
                                pr.port_name = name;
                                pr.error = Some(e);
                            }
                            Ok(name) => {
                                pr.port_name = Some(name.clone());
                                match claims.get(&name) {
                                    Some((c, s)) if c == ckey && *s == si => {
                                        pr.error = Some(format!(
                                            "port {name} (serviceInterface {}) is selected twice in switch {si}",
                                            iface.key
                                        ));
                                    }
                                    Some((c, s)) => {
                                        pr.error = Some(format!(
                                            "port {name} (serviceInterface {}) is already in switch {s} of ServiceChain {c}: a port belongs to at most one switch",
                                            iface.key
                                        ));
                                    }
                                    None => {
                                        claims.insert(name.clone(), (ckey.clone(), si));
                                        names.push(name);
                                    }
                                }
                            }
                        }
                    }
                }
                res.ports.push(pr);
            }
            res.switches.push(ResolvedSwitch {
                index: si,
                mtu: sw.service_mtu,
                ports: names,
            });
        }
        out.insert(ckey.clone(), res);
    }
    out
}

/// Exactly one ServiceInterface of `namespace` on this node whose labels
/// contain `ml`; errors in DPF's words.
fn select<'v>(
    view: &'v NodeView,
    namespace: &str,
    ml: &Labels,
    node: &str,
) -> Result<&'v NodeInterface, String> {
    let found: Vec<&NodeInterface> = view
        .interfaces
        .values()
        .filter(|i| i.key.namespace == namespace && labels_contain(&i.labels, ml))
        .collect();
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "no serviceInterface in namespace({namespace}) matching labels({}) on node({node}) found",
            go_map(ml)
        )),
        many => Err(format!(
            "expected only one serviceInterface in namespace({namespace}) matching labels({}) on node({node}), found {}",
            go_map(ml),
            many.len()
        )),
    }
}

/// The interface's port, if it may be chained and exists in the dataplane.
fn bind(
    iface: &NodeInterface,
    ports: &BTreeSet<String>,
    node: &str,
) -> Result<String, (Option<String>, String)> {
    if let Some(vn) = iface.spec.virtual_network() {
        return Err((
            None,
            format!(
                "serviceInterface {} has virtualNetwork {vn} and cannot be part of a service chain",
                iface.key
            ),
        ));
    }
    let name = port_name(&iface.spec)
        .map_err(|e| (None, format!("serviceInterface {}: {e}", iface.key)))?;
    if !ports.contains(&name) {
        return Err((
            Some(name.clone()),
            format!(
                "serviceInterface {}: port {name} does not exist in the dataplane on node({node})",
                iface.key
            ),
        ));
    }
    Ok(name)
}
