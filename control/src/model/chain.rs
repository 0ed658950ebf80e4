//! ServiceChain, ServiceChainSet and DPUServiceChain specs
//! (dpf-chains.md sections 1 and 2).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::meta::{LabelSelector, TemplateMeta};
use crate::decode::{DResult, Obj};
use crate::validate;

/// Default and limits of `serviceMTU` (DPF CRD).
pub const DEFAULT_MTU: u16 = 1500;
pub const MIN_MTU: i64 = 1280;
pub const MAX_MTU: i64 = 9216;
/// Max switches per chain, ports per switch, matchLabels entries.
pub const MAX_ITEMS: usize = 50;

/// IPAM of a port. The dataplane does not use it; it is kept so objects
/// round-trip and validated so that typos are caught.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ipam {
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_gateway: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_default_route: Option<bool>,
}

impl Ipam {
    pub(crate) fn decode_opt(parent: &Obj<'_>) -> DResult<Option<Self>> {
        let Some(v) = parent.get("ipam") else {
            return Ok(None);
        };
        let o = Obj::new(
            v,
            &parent.field_path("ipam"),
            &["matchLabels", "defaultGateway", "setDefaultRoute"],
        )?;
        o.req("matchLabels")?;
        let match_labels = o.str_map("matchLabels")?;
        validate::labels(&match_labels, &o.field_path("matchLabels"), 1, MAX_ITEMS)?;
        Ok(Some(Ipam {
            match_labels,
            default_gateway: o.opt_bool("defaultGateway")?,
            set_default_route: o.opt_bool("setDefaultRoute")?,
        }))
    }
}

/// `ports[].serviceInterface`: selects one ServiceInterface by labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceIfc {
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam: Option<Ipam>,
}

impl ServiceIfc {
    pub(crate) fn decode(v: &Value, path: &str) -> DResult<Self> {
        let o = Obj::new(v, path, &["matchLabels", "ipam"])?;
        o.req("matchLabels")?;
        let match_labels = o.str_map("matchLabels")?;
        validate::labels(&match_labels, &o.field_path("matchLabels"), 1, MAX_ITEMS)?;
        Ok(ServiceIfc {
            match_labels,
            ipam: Ipam::decode_opt(&o)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Port {
    pub service_interface: ServiceIfc,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Switch {
    pub ports: Vec<Port>,
    /// Absent in the input means 1500 (the CRD default); stored resolved.
    #[serde(rename = "serviceMTU")]
    pub service_mtu: u16,
}

/// Reads `serviceMTU` with its default and limits.
pub(crate) fn decode_mtu(o: &Obj<'_>) -> DResult<u16> {
    match o.opt_int("serviceMTU")? {
        None => Ok(DEFAULT_MTU),
        Some(m) => {
            validate::range(m, &o.field_path("serviceMTU"), MIN_MTU, MAX_MTU)?;
            // In range 1280..9216, so it fits.
            Ok(u16::try_from(m).unwrap_or(DEFAULT_MTU))
        }
    }
}

/// Per-node ServiceChain spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceChainSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub switches: Vec<Switch>,
}

impl ServiceChainSpec {
    pub(crate) fn decode(v: &Value, path: &str) -> DResult<Self> {
        let o = Obj::new(v, path, &["node", "switches"])?;
        let node = o.opt_str("node")?;
        let items = o.list("switches")?;
        validate::count(items.len(), &o.field_path("switches"), 1, MAX_ITEMS)?;
        let mut switches = Vec::with_capacity(items.len());
        for (sv, sp) in items {
            let s = Obj::new(sv, &sp, &["ports", "serviceMTU"])?;
            let port_items = s.list("ports")?;
            validate::count(port_items.len(), &s.field_path("ports"), 1, MAX_ITEMS)?;
            let mut ports = Vec::with_capacity(port_items.len());
            for (pv, pp) in port_items {
                let p = Obj::new(pv, &pp, &["serviceInterface"])?;
                let si = ServiceIfc::decode(
                    p.req("serviceInterface")?,
                    &p.field_path("serviceInterface"),
                )?;
                ports.push(Port {
                    service_interface: si,
                });
            }
            switches.push(Switch {
                ports,
                service_mtu: decode_mtu(&s)?,
            });
        }
        Ok(ServiceChainSpec { node, switches })
    }
}

/// `template` of a ServiceChainSet: metadata for the per-node chains + spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceChainTemplate {
    #[serde(default)]
    pub metadata: TemplateMeta,
    pub spec: ServiceChainSpec,
}

/// ServiceChainSet spec: which nodes, and the per-node chain template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceChainSetSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<LabelSelector>,
    pub template: ServiceChainTemplate,
}

impl ServiceChainSetSpec {
    pub(crate) fn decode(v: &Value, path: &str) -> DResult<Self> {
        let o = Obj::new(v, path, &["nodeSelector", "template"])?;
        let node_selector = LabelSelector::decode_opt(&o, "nodeSelector")?;
        let t = Obj::new(
            o.req("template")?,
            &o.field_path("template"),
            &["metadata", "spec"],
        )?;
        let metadata = TemplateMeta::decode_opt(&t, "metadata")?;
        let spec = ServiceChainSpec::decode(t.req("spec")?, &t.field_path("spec"))?;
        Ok(ServiceChainSetSpec {
            node_selector,
            template: ServiceChainTemplate { metadata, spec },
        })
    }
}

/// `template` of a DPUServiceChain: the ServiceChainSet to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceChainSetTemplate {
    #[serde(default)]
    pub metadata: TemplateMeta,
    pub spec: ServiceChainSetSpec,
}

/// DPUServiceChain spec. The cluster selectors pick DPU clusters, which
/// has already happened by the time an object reaches a node: kept, unused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DpuServiceChainSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpu_cluster_selector: Option<LabelSelector>,
    pub template: ServiceChainSetTemplate,
}

impl DpuServiceChainSpec {
    pub(crate) fn decode(v: &Value, path: &str) -> DResult<Self> {
        let o = Obj::new(
            v,
            path,
            &["clusterSelector", "dpuClusterSelector", "template"],
        )?;
        let cluster_selector = LabelSelector::decode_opt(&o, "clusterSelector")?;
        let dpu_cluster_selector = LabelSelector::decode_opt(&o, "dpuClusterSelector")?;
        let t = Obj::new(
            o.req("template")?,
            &o.field_path("template"),
            &["metadata", "spec"],
        )?;
        let metadata = TemplateMeta::decode_opt(&t, "metadata")?;
        let spec = ServiceChainSetSpec::decode(t.req("spec")?, &t.field_path("spec"))?;
        Ok(DpuServiceChainSpec {
            cluster_selector,
            dpu_cluster_selector,
            template: ServiceChainSetTemplate { metadata, spec },
        })
    }
}
