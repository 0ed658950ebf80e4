//! The objects a manifest names, for `delete -f`: the same input `apply`
//! takes (multi-document YAML, or JSON: an object, an array, a `List`),
//! read only for kind, namespace and name. Documents of other kinds are
//! skipped with a note, as `apply` does.

use std::fmt;

use serde_json::Value;

use crate::model::{Kind, API_VERSION};
use crate::protocol::ObjectArgs;

/// One object named in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl Named {
    /// The coordinates for a `delete` (or `get`) request.
    pub fn args(&self) -> ObjectArgs {
        ObjectArgs {
            kind: self.kind.as_str().to_string(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

impl fmt::Display for Named {
    /// `Kind namespace/name`, the way sfcd names objects.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// What a manifest names: the dataplane's objects in input order (each
/// once), and a note per skipped document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub objects: Vec<Named>,
    pub notes: Vec<String>,
}

/// The objects `text` names; `source` (a file name, `stdin`) is for the
/// messages. A DPUDeployment names the DPUServiceChain `apply` made of its
/// `serviceChains` (same namespace and name). A document that cannot be
/// read, or one of the dataplane's kinds without a name, is an error: then
/// nothing should be deleted.
pub fn named_objects(text: &str, source: &str) -> Result<Manifest, String> {
    let docs = crate::parse::documents(text).map_err(|e| format!("{source}: {e}"))?;
    let group = API_VERSION.split('/').next().unwrap_or_default();
    let mut out = Manifest::default();
    for (doc, v) in docs {
        let at = format!("{source} document {doc}");
        if !v.is_object() {
            return Err(format!("{at}: not an object"));
        }
        let kind = match v.get("kind") {
            Some(Value::String(k)) => k.as_str(),
            Some(_) => return Err(format!("{at}: kind: expected a string")),
            None => return Err(format!("{at}: kind: required field missing")),
        };
        let api_version = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let meta = v.get("metadata");
        let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str);
        let ours_api = api_version.is_empty()
            || api_version
                .strip_prefix(group)
                .is_some_and(|r| r.starts_with('/'));
        let kind = match Kind::ALL.into_iter().find(|k| k.as_str() == kind) {
            Some(k) if ours_api => k,
            None if ours_api && kind == "DPUDeployment" => {
                let chains = v.pointer("/spec/serviceChains");
                if chains.filter(|c| !c.is_null()).is_none() {
                    out.notes.push(format!(
                        "DPUDeployment {} has no serviceChains: nothing for the dataplane, skipped ({at})",
                        name.unwrap_or("?")
                    ));
                    continue;
                }
                Kind::DPUServiceChain
            }
            _ => {
                out.notes.push(format!(
                    "kind {kind} is not the dataplane's: skipped ({at}, {api_version} {})",
                    name.unwrap_or("?")
                ));
                continue;
            }
        };
        let name = match name {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => {
                return Err(format!(
                    "{at}: {kind}: metadata.name: required field missing"
                ))
            }
        };
        let namespace = match meta.and_then(|m| m.get("namespace")) {
            None | Some(Value::Null) => "default".to_string(),
            Some(Value::String(ns)) if !ns.is_empty() => ns.clone(),
            Some(_) => {
                return Err(format!(
                    "{at}: {kind} {name}: metadata.namespace: expected a non-empty string"
                ))
            }
        };
        let named = Named {
            kind,
            namespace,
            name,
        };
        if !out.objects.contains(&named) {
            out.objects.push(named);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(kind: Kind, ns: &str, name: &str) -> Named {
        Named {
            kind,
            namespace: ns.into(),
            name: name.into(),
        }
    }

    #[test]
    fn yaml_documents_name_objects_in_order_and_other_kinds_are_noted() {
        let text = "\
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: DPUServiceInterface
metadata: {name: p0, namespace: dpf}
spec: {}
---
# a comment-only document is dropped
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
---
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: DPUServiceChain
metadata:
  name: hbn
---
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: DPUService
metadata: {name: doca-hbn}
---
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: DPUServiceInterface
metadata: {name: p0, namespace: dpf}
";
        let m = named_objects(text, "x.yaml").unwrap();
        assert_eq!(
            m.objects,
            vec![
                named(Kind::DPUServiceInterface, "dpf", "p0"),
                named(Kind::DPUServiceChain, "default", "hbn"),
            ],
            "the namespace defaults to default; a repeated object is named once"
        );
        assert_eq!(
            m.notes,
            vec![
                "kind ConfigMap is not the dataplane's: skipped (x.yaml document 2, v1 cm)",
                "kind DPUService is not the dataplane's: skipped (x.yaml document 4, svc.dpu.nvidia.com/v1alpha1 doca-hbn)",
            ]
        );
    }

    #[test]
    fn json_lists_and_deployments_are_read_like_apply_reads_them() {
        let text = r#"{"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "svc.dpu.nvidia.com/v1alpha1", "kind": "ServiceChainSet",
             "metadata": {"name": "s", "namespace": "ns"}},
            {"apiVersion": "svc.dpu.nvidia.com/v1alpha1", "kind": "DPUDeployment",
             "metadata": {"name": "dep", "namespace": "ns"}, "spec": {"serviceChains": {"switches": []}}},
            {"apiVersion": "svc.dpu.nvidia.com/v1alpha1", "kind": "DPUDeployment",
             "metadata": {"name": "plain", "namespace": "ns"}, "spec": {}},
            {"apiVersion": "other.example.com/v1", "kind": "ServiceChain", "metadata": {"name": "c"}}
        ]}"#;
        let m = named_objects(text, "stdin").unwrap();
        assert_eq!(
            m.objects,
            vec![
                named(Kind::ServiceChainSet, "ns", "s"),
                named(Kind::DPUServiceChain, "ns", "dep"),
            ]
        );
        assert_eq!(m.notes.len(), 2, "{:?}", m.notes);
        assert!(m.notes[0].starts_with("DPUDeployment plain has no serviceChains"));
        assert!(m.notes[1].starts_with("kind ServiceChain is not the dataplane's"));
    }

    #[test]
    fn unreadable_or_nameless_documents_are_errors() {
        let e = named_objects("kind: [unclosed", "bad.yaml").unwrap_err();
        assert!(e.starts_with("bad.yaml: document 1: cannot parse"), "{e}");
        let e = named_objects("kind: ServiceChain\nmetadata: {}\n", "f").unwrap_err();
        assert_eq!(
            e,
            "f document 1: ServiceChain: metadata.name: required field missing"
        );
        let e = named_objects("metadata: {name: x}\n", "f").unwrap_err();
        assert_eq!(e, "f document 1: kind: required field missing");
        let e = named_objects("- 1\n", "f").unwrap_err();
        assert_eq!(e, "f document 1: not an object");
    }
}
