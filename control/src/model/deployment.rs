//! DPUDeployment: only its `spec.serviceChains` concerns the dataplane. It
//! is turned into the DPUServiceChain that DPF's DPUDeployment controller
//! would create, named after the deployment.

use std::collections::BTreeMap;

use serde_json::Value;

use super::chain::{
    decode_mtu, DpuServiceChainSpec, Ipam, Port, ServiceChainSetSpec, ServiceChainSetTemplate,
    ServiceChainSpec, ServiceChainTemplate, ServiceIfc, Switch, MAX_ITEMS,
};
use super::meta::TemplateMeta;
use crate::decode::{as_list, DResult, Obj};
use crate::error::FieldError;
use crate::validate;

/// Labels DPF puts on the ServiceInterfaces of a DPUDeployment's services;
/// a `service{name, interface}` port selects by them.
pub const SERVICE_LABEL: &str = "svc.dpu.nvidia.com/service";
pub const INTERFACE_LABEL: &str = "svc.dpu.nvidia.com/interface";

/// Decodes `spec.serviceChains` of a DPUDeployment into a DPUServiceChain
/// spec, or None when the deployment has no chains. Both shapes DPF has
/// used are accepted: the current `{switches: [...], upgradePolicy}` and
/// the older plain list of switches.
pub(crate) fn service_chains(spec: &Value, path: &str) -> DResult<Option<DpuServiceChainSpec>> {
    // The rest of a DPUDeployment's spec (dpus, services, ...) belongs to
    // other controllers: not read, not rejected.
    let Some(map) = spec.as_object() else {
        return Err(FieldError::new(path, "expected an object"));
    };
    let chains_path = format!("{path}.serviceChains");
    let switch_items = match map.get("serviceChains") {
        None | Some(Value::Null) => return Ok(None),
        Some(v @ Value::Array(_)) => as_list(v, &chains_path)?,
        Some(v) => {
            let o = Obj::new(v, &chains_path, &["switches", "upgradePolicy"])?;
            o.req("switches")?;
            o.list("switches")?
        }
    };
    validate::count(switch_items.len(), &chains_path, 1, MAX_ITEMS)?;
    let mut switches = Vec::with_capacity(switch_items.len());
    for (sv, sp) in switch_items {
        let s = Obj::new(sv, &sp, &["ports", "serviceMTU"])?;
        let port_items = s.list("ports")?;
        validate::count(port_items.len(), &s.field_path("ports"), 1, MAX_ITEMS)?;
        let mut ports = Vec::with_capacity(port_items.len());
        for (pv, pp) in port_items {
            let p = Obj::new(pv, &pp, &["service", "serviceInterface"])?;
            let si = match (p.get("service"), p.get("serviceInterface")) {
                (Some(svc), None) => {
                    let o = Obj::new(
                        svc,
                        &p.field_path("service"),
                        &["name", "interface", "ipam"],
                    )?;
                    let name = o.req_str("name")?;
                    validate::length(&name, &o.field_path("name"), 1, 28)?;
                    let interface = o.req_str("interface")?;
                    validate::length(&interface, &o.field_path("interface"), 1, 15)?;
                    let match_labels = BTreeMap::from([
                        (SERVICE_LABEL.to_string(), name),
                        (INTERFACE_LABEL.to_string(), interface),
                    ]);
                    validate::labels(&match_labels, o.path(), 1, MAX_ITEMS)?;
                    ServiceIfc {
                        match_labels,
                        ipam: Ipam::decode_opt(&o)?,
                    }
                }
                (None, Some(si)) => ServiceIfc::decode(si, &p.field_path("serviceInterface"))?,
                _ => {
                    return Err(FieldError::new(
                        p.path(),
                        "either service or serviceInterface must be specified",
                    ))
                }
            };
            ports.push(Port {
                service_interface: si,
            });
        }
        switches.push(Switch {
            ports,
            service_mtu: decode_mtu(&s)?,
        });
    }
    Ok(Some(DpuServiceChainSpec {
        cluster_selector: None,
        dpu_cluster_selector: None,
        template: ServiceChainSetTemplate {
            metadata: TemplateMeta::default(),
            spec: ServiceChainSetSpec {
                // DPF narrows the chain to the deployment's DPUs; on the
                // node itself, receiving the deployment means it is ours.
                node_selector: None,
                template: ServiceChainTemplate {
                    metadata: TemplateMeta::default(),
                    spec: ServiceChainSpec {
                        node: None,
                        switches,
                    },
                },
            },
        },
    }))
}
