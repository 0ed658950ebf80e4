//! Kubernetes metadata and label selectors, as DPF objects carry them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::decode::{as_list, as_str, DResult, Obj};
use crate::error::FieldError;
use crate::validate;

/// Namespace of objects that do not name one, as in Kubernetes.
pub const DEFAULT_NAMESPACE: &str = "default";

/// The metadata the store keeps. Server-side fields (uid, resourceVersion,
/// creationTimestamp, managedFields, ...) are accepted so that
/// `kubectl get -o yaml` output can be applied, and then dropped: they mean
/// nothing on this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    pub name: String,
    pub namespace: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

const HARMLESS_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "ownerReferences",
    "finalizers",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
];

impl ObjectMeta {
    pub(crate) fn decode(v: &Value, path: &str) -> DResult<Self> {
        let mut allowed = vec!["name", "namespace", "labels", "annotations"];
        allowed.extend_from_slice(HARMLESS_METADATA);
        let o = Obj::new(v, path, &allowed)?;
        let name = o.req_str("name")?;
        validate::object_name(&name, &o.field_path("name"))?;
        let namespace = o
            .opt_str("namespace")?
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
        validate::namespace(&namespace, &o.field_path("namespace"))?;
        let labels = o.str_map("labels")?;
        validate::labels(&labels, &o.field_path("labels"), 0, usize::MAX)?;
        let annotations = o.str_map("annotations")?;
        for k in annotations.keys() {
            validate::label_key(k, &format!("{}[{k}]", o.field_path("annotations")))?;
        }
        Ok(ObjectMeta {
            name,
            namespace,
            labels,
            annotations,
        })
    }
}

/// `template.metadata` of DPF templates: only labels and annotations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateMeta {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl TemplateMeta {
    pub(crate) fn decode_opt(parent: &Obj<'_>, key: &str) -> DResult<Self> {
        let Some(v) = parent.get(key) else {
            return Ok(Self::default());
        };
        let o = Obj::new(v, &parent.field_path(key), &["labels", "annotations"])?;
        let labels = o.str_map("labels")?;
        validate::labels(&labels, &o.field_path("labels"), 0, usize::MAX)?;
        let annotations = o.str_map("annotations")?;
        Ok(TemplateMeta {
            labels,
            annotations,
        })
    }
}

/// Operators of a LabelSelector requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SelectorOperator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelSelectorRequirement {
    pub key: String,
    pub operator: SelectorOperator,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// A Kubernetes LabelSelector (used as `nodeSelector`). Empty matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

impl LabelSelector {
    pub(crate) fn decode_opt(parent: &Obj<'_>, key: &str) -> DResult<Option<Self>> {
        let Some(v) = parent.get(key) else {
            return Ok(None);
        };
        let o = Obj::new(
            v,
            &parent.field_path(key),
            &["matchLabels", "matchExpressions"],
        )?;
        let match_labels = o.str_map("matchLabels")?;
        validate::labels(&match_labels, &o.field_path("matchLabels"), 0, usize::MAX)?;
        let mut match_expressions = Vec::new();
        for (item, path) in o.list("matchExpressions")? {
            let e = Obj::new(item, &path, &["key", "operator", "values"])?;
            let key = e.req_str("key")?;
            validate::label_key(&key, &e.field_path("key"))?;
            let op_path = e.field_path("operator");
            let operator = match e.req_str("operator")?.as_str() {
                "In" => SelectorOperator::In,
                "NotIn" => SelectorOperator::NotIn,
                "Exists" => SelectorOperator::Exists,
                "DoesNotExist" => SelectorOperator::DoesNotExist,
                other => {
                    return Err(FieldError::new(
                        op_path,
                        format!("unsupported operator {other:?}: expected In, NotIn, Exists or DoesNotExist"),
                    ))
                }
            };
            let mut values = Vec::new();
            if let Some(vs) = e.get("values") {
                for (val, p) in as_list(vs, &e.field_path("values"))? {
                    values.push(as_str(val, &p)?);
                }
            }
            match operator {
                SelectorOperator::In | SelectorOperator::NotIn if values.is_empty() => {
                    return Err(FieldError::new(
                        e.field_path("values"),
                        format!("must be non-empty for operator {operator:?}"),
                    ))
                }
                SelectorOperator::Exists | SelectorOperator::DoesNotExist if !values.is_empty() => {
                    return Err(FieldError::new(
                        e.field_path("values"),
                        format!("must be empty for operator {operator:?}"),
                    ))
                }
                _ => {}
            }
            match_expressions.push(LabelSelectorRequirement {
                key,
                operator,
                values,
            });
        }
        Ok(Some(LabelSelector {
            match_labels,
            match_expressions,
        }))
    }
}
