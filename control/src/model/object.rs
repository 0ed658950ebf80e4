//! Kinds, keys and the decoded object of any kind the store holds.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::chain::{DpuServiceChainSpec, ServiceChainSetSpec, ServiceChainSpec};
use super::deployment;
use super::interface::{DpuServiceInterfaceSpec, ServiceInterfaceSetSpec, ServiceInterfaceSpec};
use super::meta::{ObjectMeta, DEFAULT_NAMESPACE};
use crate::decode::Obj;
use crate::error::{ControlError, FieldError};

/// The only apiVersion of the DPF service objects.
pub const API_VERSION: &str = "svc.dpu.nvidia.com/v1alpha1";
const API_GROUP_PREFIX: &str = "svc.dpu.nvidia.com/";

/// Kinds the store holds. DPUDeployment is not one: it is converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    DPUServiceChain,
    ServiceChainSet,
    ServiceChain,
    DPUServiceInterface,
    ServiceInterfaceSet,
    ServiceInterface,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::DPUServiceChain,
        Kind::ServiceChainSet,
        Kind::ServiceChain,
        Kind::DPUServiceInterface,
        Kind::ServiceInterfaceSet,
        Kind::ServiceInterface,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::DPUServiceChain => "DPUServiceChain",
            Kind::ServiceChainSet => "ServiceChainSet",
            Kind::ServiceChain => "ServiceChain",
            Kind::DPUServiceInterface => "DPUServiceInterface",
            Kind::ServiceInterfaceSet => "ServiceInterfaceSet",
            Kind::ServiceInterface => "ServiceInterface",
        }
    }

    /// Chains (as opposed to interfaces), at any level.
    pub fn is_chain(self) -> bool {
        matches!(
            self,
            Kind::DPUServiceChain | Kind::ServiceChainSet | Kind::ServiceChain
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = ControlError;
    /// Accepts the kind as written, lowercase, or plural (`dpuservicechains`),
    /// like kubectl does.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        let singular = lower.strip_suffix('s').unwrap_or(&lower);
        Kind::ALL
            .into_iter()
            .find(|k| {
                let n = k.as_str().to_ascii_lowercase();
                n == lower || n == singular
            })
            .ok_or_else(|| ControlError::UnknownKind(s.to_string()))
    }
}

/// Namespace and name of an object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Kind plus key. The kind is a string because an origin may be a kind the
/// store does not hold (DPUDeployment).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    pub fn new(kind: impl Into<String>, key: &ObjectKey) -> Self {
        ObjectRef {
            kind: kind.into(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        }
    }

    pub fn key(&self) -> ObjectKey {
        ObjectKey::new(&self.namespace, &self.name)
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// The spec of an applied object, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    DPUServiceChain(DpuServiceChainSpec),
    ServiceChainSet(ServiceChainSetSpec),
    ServiceChain(ServiceChainSpec),
    DPUServiceInterface(DpuServiceInterfaceSpec),
    ServiceInterfaceSet(ServiceInterfaceSetSpec),
    ServiceInterface(ServiceInterfaceSpec),
}

impl Spec {
    pub fn kind(&self) -> Kind {
        match self {
            Spec::DPUServiceChain(_) => Kind::DPUServiceChain,
            Spec::ServiceChainSet(_) => Kind::ServiceChainSet,
            Spec::ServiceChain(_) => Kind::ServiceChain,
            Spec::DPUServiceInterface(_) => Kind::DPUServiceInterface,
            Spec::ServiceInterfaceSet(_) => Kind::ServiceInterfaceSet,
            Spec::ServiceInterface(_) => Kind::ServiceInterface,
        }
    }

    /// The spec as DPF JSON (for get/list).
    pub fn to_json(&self) -> Value {
        let r = match self {
            Spec::DPUServiceChain(s) => serde_json::to_value(s),
            Spec::ServiceChainSet(s) => serde_json::to_value(s),
            Spec::ServiceChain(s) => serde_json::to_value(s),
            Spec::DPUServiceInterface(s) => serde_json::to_value(s),
            Spec::ServiceInterfaceSet(s) => serde_json::to_value(s),
            Spec::ServiceInterface(s) => serde_json::to_value(s),
        };
        r.unwrap_or(Value::Null)
    }
}

/// A validated object of a kind the store holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub meta: ObjectMeta,
    pub spec: Spec,
    /// Set when this object was derived from another input object
    /// (a DPUServiceChain made from a DPUDeployment).
    pub converted_from: Option<ObjectRef>,
}

impl Object {
    pub fn kind(&self) -> Kind {
        self.spec.kind()
    }

    pub fn key(&self) -> ObjectKey {
        ObjectKey::new(&self.meta.namespace, &self.meta.name)
    }

    /// `Kind ns/name`, the way errors and notes name objects.
    pub fn label(&self) -> String {
        format!("{} {}", self.kind(), self.key())
    }
}

/// What one input document turned into.
#[derive(Debug, Clone)]
pub(crate) enum Decoded {
    Object(Box<Object>),
    /// Not the dataplane's; the note says what was skipped.
    Skipped(String),
}

/// How errors name an object whose metadata may be broken.
fn loose_label(kind: &str, v: &Value, doc: usize) -> String {
    let meta = v.get("metadata");
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str);
    let ns = meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_NAMESPACE);
    match name {
        Some(n) => format!("{kind} {ns}/{n}"),
        None => format!("{kind} in document {doc}"),
    }
}

/// Decodes and validates one document (`doc` counts from 1 for messages).
pub(crate) fn decode_document(v: &Value, doc: usize) -> Result<Decoded, ControlError> {
    let doc_label = format!("document {doc}");
    let kind = match v.get("kind") {
        Some(Value::String(k)) => k.clone(),
        Some(_) => {
            return Err(ControlError::invalid(
                &doc_label,
                FieldError::new("kind", "expected a string"),
            ))
        }
        None => {
            return Err(ControlError::invalid(
                &doc_label,
                FieldError::new("kind", "required field missing"),
            ))
        }
    };
    let api_version = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let ours = Kind::ALL.iter().any(|k| k.as_str() == kind) || kind == "DPUDeployment";
    let label = loose_label(&kind, v, doc);
    if !ours || !(api_version.starts_with(API_GROUP_PREFIX) || api_version.is_empty()) {
        let name = v
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("?");
        return Ok(Decoded::Skipped(format!(
            "kind {kind} is not the dataplane's: skipped ({doc_label}, {api_version} {name})"
        )));
    }
    if api_version != API_VERSION {
        return Err(ControlError::invalid(
            &label,
            FieldError::new(
                "apiVersion",
                format!("expected {API_VERSION}, got {api_version:?}"),
            ),
        ));
    }
    let root = Obj::new(v, "", &["apiVersion", "kind", "metadata", "spec", "status"])
        .map_err(|e| ControlError::invalid(&label, e))?;
    let meta = ObjectMeta::decode(
        root.req("metadata")
            .map_err(|e| ControlError::invalid(&label, e))?,
        "metadata",
    )
    .map_err(|e| ControlError::invalid(&label, e))?;
    let label = format!("{kind} {}/{}", meta.namespace, meta.name);
    let spec_v = root
        .req("spec")
        .map_err(|e| ControlError::invalid(&label, e))?;
    let bad = |e: FieldError| ControlError::invalid(&label, e);
    let spec = match kind.as_str() {
        "DPUServiceChain" => {
            Spec::DPUServiceChain(DpuServiceChainSpec::decode(spec_v, "spec").map_err(bad)?)
        }
        "ServiceChainSet" => {
            Spec::ServiceChainSet(ServiceChainSetSpec::decode(spec_v, "spec").map_err(bad)?)
        }
        "ServiceChain" => {
            Spec::ServiceChain(ServiceChainSpec::decode(spec_v, "spec").map_err(bad)?)
        }
        "DPUServiceInterface" => {
            Spec::DPUServiceInterface(DpuServiceInterfaceSpec::decode(spec_v, "spec").map_err(bad)?)
        }
        "ServiceInterfaceSet" => {
            Spec::ServiceInterfaceSet(ServiceInterfaceSetSpec::decode(spec_v, "spec").map_err(bad)?)
        }
        "ServiceInterface" => {
            Spec::ServiceInterface(ServiceInterfaceSpec::decode(spec_v, "spec").map_err(bad)?)
        }
        _ => {
            // DPUDeployment: only its chains are the dataplane's.
            let origin = ObjectRef::new(
                "DPUDeployment",
                &ObjectKey::new(&meta.namespace, &meta.name),
            );
            return match deployment::service_chains(spec_v, "spec").map_err(bad)? {
                None => Ok(Decoded::Skipped(format!(
                    "{label} has no serviceChains: nothing for the dataplane, skipped"
                ))),
                Some(chain) => Ok(Decoded::Object(Box::new(Object {
                    meta,
                    spec: Spec::DPUServiceChain(chain),
                    converted_from: Some(origin),
                }))),
            };
        }
    };
    Ok(Decoded::Object(Box::new(Object {
        meta,
        spec,
        converted_from: None,
    })))
}
