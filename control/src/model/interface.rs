//! ServiceInterface, ServiceInterfaceSet and DPUServiceInterface specs
//! (dpf-chains.md section 3).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::meta::{LabelSelector, TemplateMeta};
use crate::decode::{DResult, Obj};
use crate::error::FieldError;
use crate::validate;

/// `interfaceType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InterfaceType {
    Physical,
    Pf,
    Vf,
    Service,
    Ovn,
    Patch,
    Vlan,
}

impl InterfaceType {
    pub const ALL: [InterfaceType; 7] = [
        InterfaceType::Physical,
        InterfaceType::Pf,
        InterfaceType::Vf,
        InterfaceType::Service,
        InterfaceType::Ovn,
        InterfaceType::Patch,
        InterfaceType::Vlan,
    ];

    /// The JSON name, which is also the name of the type's block.
    pub fn as_str(self) -> &'static str {
        match self {
            InterfaceType::Physical => "physical",
            InterfaceType::Pf => "pf",
            InterfaceType::Vf => "vf",
            InterfaceType::Service => "service",
            InterfaceType::Ovn => "ovn",
            InterfaceType::Patch => "patch",
            InterfaceType::Vlan => "vlan",
        }
    }
}

impl fmt::Display for InterfaceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `nicSelector` of pf/vf: which NIC on a multi-NIC node. Kept, unused (one
/// dataplane per DPU).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NicSelector {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pci_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_number: Option<i64>,
}

impl NicSelector {
    fn decode_opt(parent: &Obj<'_>) -> DResult<Option<Self>> {
        let Some(v) = parent.get("nicSelector") else {
            return Ok(None);
        };
        let o = Obj::new(
            v,
            &parent.field_path("nicSelector"),
            &["type", "pci", "controllerNumber"],
        )?;
        let kind = o.req_str("type")?;
        if kind != "dpu" && kind != "pci" {
            return Err(FieldError::new(
                o.field_path("type"),
                format!("must be dpu or pci, got {kind:?}"),
            ));
        }
        let pci_address = match o.get("pci") {
            None => None,
            Some(p) => Some(Obj::new(p, &o.field_path("pci"), &["address"])?.req_str("address")?),
        };
        if kind == "pci" && pci_address.is_none() {
            return Err(FieldError::new(
                o.field_path("pci"),
                "for type=pci, pci must be set",
            ));
        }
        let controller_number = o.opt_int("controllerNumber")?;
        if let Some(c) = controller_number {
            validate::range(c, &o.field_path("controllerNumber"), 0, 255)?;
        }
        Ok(Some(NicSelector {
            kind,
            pci_address,
            controller_number,
        }))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Physical {
    pub interface_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pf {
    #[serde(rename = "pfID")]
    pub pf_id: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nic_selector: Option<NicSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_network: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vf {
    #[serde(rename = "pfID")]
    pub pf_id: u8,
    #[serde(rename = "vfID")]
    pub vf_id: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_interface_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nic_selector: Option<NicSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_network: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDef {
    #[serde(rename = "serviceID")]
    pub service_id: String,
    pub network: String,
    pub interface_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_network: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ovn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_bridge: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Patch {
    pub peer_bridge: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_patch_name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub peer_external_ids: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vlan {
    #[serde(rename = "vlanID")]
    pub vlan_id: i64,
    pub parent_interface_ref: String,
}

/// ServiceInterface spec. Exactly the block named by `interfaceType` is set
/// (`ovn` may omit it); decoding enforces that, so the dataplane can trust
/// `interface_type` to say which Option is Some.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceInterfaceSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub interface_type: InterfaceType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical: Option<Physical>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pf: Option<Pf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vf: Option<Vf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ovn: Option<Ovn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<Patch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<Vlan>,
}

fn id_0_255(o: &Obj<'_>, key: &str) -> DResult<u8> {
    let v = o.req_int(key)?;
    validate::range(v, &o.field_path(key), 0, 255)?;
    Ok(u8::try_from(v).unwrap_or(0))
}

impl ServiceInterfaceSpec {
    /// The virtual network of a pf/vf/service interface, if any: such an
    /// interface belongs to a VPC and cannot be chained.
    pub fn virtual_network(&self) -> Option<&str> {
        match self.interface_type {
            InterfaceType::Pf => self.pf.as_ref().and_then(|b| b.virtual_network.as_deref()),
            InterfaceType::Vf => self.vf.as_ref().and_then(|b| b.virtual_network.as_deref()),
            InterfaceType::Service => self
                .service
                .as_ref()
                .and_then(|b| b.virtual_network.as_deref()),
            _ => None,
        }
    }

    pub(crate) fn decode(v: &Value, path: &str) -> DResult<Self> {
        let mut allowed = vec!["node", "interfaceType"];
        allowed.extend(InterfaceType::ALL.iter().map(|t| t.as_str()));
        let o = Obj::new(v, path, &allowed)?;
        let node = o.opt_str("node")?;
        let type_path = o.field_path("interfaceType");
        let type_str = o.req_str("interfaceType")?;
        let interface_type = InterfaceType::ALL
            .into_iter()
            .find(|t| t.as_str() == type_str)
            .ok_or_else(|| {
                FieldError::new(
                    &type_path,
                    format!("unsupported value {type_str:?}: expected one of physical, pf, vf, service, ovn, patch, vlan"),
                )
            })?;
        // The block of the type is required (not for ovn), any other block
        // is a mistake the user should hear about.
        for t in InterfaceType::ALL {
            if t != interface_type && o.has(t.as_str()) {
                return Err(FieldError::new(
                    o.field_path(t.as_str()),
                    format!("must not be set for interfaceType={interface_type}"),
                ));
            }
        }
        if interface_type != InterfaceType::Ovn && !o.has(interface_type.as_str()) {
            return Err(FieldError::new(
                o.field_path(interface_type.as_str()),
                format!("for interfaceType={interface_type}, {interface_type} must be set"),
            ));
        }
        let block = |t: InterfaceType, allowed: &[&str]| -> DResult<Option<Obj<'_>>> {
            match o.get(t.as_str()) {
                None => Ok(None),
                Some(b) => Obj::new(b, &o.field_path(t.as_str()), allowed).map(Some),
            }
        };
        let mut spec = ServiceInterfaceSpec {
            node,
            interface_type,
            physical: None,
            pf: None,
            vf: None,
            service: None,
            ovn: None,
            patch: None,
            vlan: None,
        };
        match interface_type {
            InterfaceType::Physical => {
                if let Some(b) = block(interface_type, &["interfaceName"])? {
                    let interface_name = b.req_str("interfaceName")?;
                    validate::length(&interface_name, &b.field_path("interfaceName"), 1, 15)?;
                    spec.physical = Some(Physical { interface_name });
                }
            }
            InterfaceType::Pf => {
                if let Some(b) = block(interface_type, &["pfID", "nicSelector", "virtualNetwork"])?
                {
                    spec.pf = Some(Pf {
                        pf_id: id_0_255(&b, "pfID")?,
                        nic_selector: NicSelector::decode_opt(&b)?,
                        virtual_network: b.opt_str("virtualNetwork")?,
                    });
                }
            }
            InterfaceType::Vf => {
                if let Some(b) = block(
                    interface_type,
                    &[
                        "pfID",
                        "vfID",
                        "parentInterfaceRef",
                        "nicSelector",
                        "virtualNetwork",
                    ],
                )? {
                    spec.vf = Some(Vf {
                        pf_id: id_0_255(&b, "pfID")?,
                        vf_id: id_0_255(&b, "vfID")?,
                        parent_interface_ref: b.opt_str("parentInterfaceRef")?,
                        nic_selector: NicSelector::decode_opt(&b)?,
                        virtual_network: b.opt_str("virtualNetwork")?,
                    });
                }
            }
            InterfaceType::Service => {
                if let Some(b) = block(
                    interface_type,
                    &["serviceID", "network", "interfaceName", "virtualNetwork"],
                )? {
                    let service_id = b.req_str("serviceID")?;
                    validate::length(&service_id, &b.field_path("serviceID"), 1, 253)?;
                    let network = b.req_str("network")?;
                    validate::length(&network, &b.field_path("network"), 1, 253)?;
                    let interface_name = b.req_str("interfaceName")?;
                    validate::length(&interface_name, &b.field_path("interfaceName"), 1, 15)?;
                    spec.service = Some(ServiceDef {
                        service_id,
                        network,
                        interface_name,
                        virtual_network: b.opt_str("virtualNetwork")?,
                    });
                }
            }
            InterfaceType::Ovn => {
                if let Some(b) = block(interface_type, &["externalBridge"])? {
                    spec.ovn = Some(Ovn {
                        external_bridge: b.opt_str("externalBridge")?,
                    });
                }
            }
            InterfaceType::Patch => {
                if let Some(b) = block(
                    interface_type,
                    &["peerBridge", "peerPatchName", "peerExternalIDs"],
                )? {
                    let peer_bridge = b.req_str("peerBridge")?;
                    validate::length(&peer_bridge, &b.field_path("peerBridge"), 1, 253)?;
                    let peer_patch_name = b.opt_str("peerPatchName")?;
                    if let Some(n) = &peer_patch_name {
                        validate::length(n, &b.field_path("peerPatchName"), 1, 253)?;
                    }
                    spec.patch = Some(Patch {
                        peer_bridge,
                        peer_patch_name,
                        peer_external_ids: b.str_map("peerExternalIDs")?,
                    });
                }
            }
            InterfaceType::Vlan => {
                if let Some(b) = block(interface_type, &["vlanID", "parentInterfaceRef"])? {
                    let vlan_id = b.req_int("vlanID")?;
                    validate::range(vlan_id, &b.field_path("vlanID"), 0, 4095)?;
                    spec.vlan = Some(Vlan {
                        vlan_id,
                        parent_interface_ref: b.req_str("parentInterfaceRef")?,
                    });
                }
            }
        }
        Ok(spec)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInterfaceTemplate {
    #[serde(default)]
    pub metadata: TemplateMeta,
    pub spec: ServiceInterfaceSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceInterfaceSetSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<LabelSelector>,
    pub template: ServiceInterfaceTemplate,
}

impl ServiceInterfaceSetSpec {
    pub(crate) fn decode(v: &Value, path: &str) -> DResult<Self> {
        let o = Obj::new(v, path, &["nodeSelector", "template"])?;
        let node_selector = LabelSelector::decode_opt(&o, "nodeSelector")?;
        let t = Obj::new(
            o.req("template")?,
            &o.field_path("template"),
            &["metadata", "spec"],
        )?;
        let metadata = TemplateMeta::decode_opt(&t, "metadata")?;
        let spec = ServiceInterfaceSpec::decode(t.req("spec")?, &t.field_path("spec"))?;
        Ok(ServiceInterfaceSetSpec {
            node_selector,
            template: ServiceInterfaceTemplate { metadata, spec },
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInterfaceSetTemplate {
    #[serde(default)]
    pub metadata: TemplateMeta,
    pub spec: ServiceInterfaceSetSpec,
}

/// DPUServiceInterface spec (cluster selectors kept, unused on a node).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DpuServiceInterfaceSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpu_cluster_selector: Option<LabelSelector>,
    pub template: ServiceInterfaceSetTemplate,
}

impl DpuServiceInterfaceSpec {
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
        let spec = ServiceInterfaceSetSpec::decode(t.req("spec")?, &t.field_path("spec"))?;
        Ok(DpuServiceInterfaceSpec {
            cluster_selector,
            dpu_cluster_selector,
            template: ServiceInterfaceSetTemplate { metadata, spec },
        })
    }
}
