//! Label matching: node selectors (LabelSelector) and port selectors
//! (matchLabels, exact equality), plus their printed forms.

use std::collections::BTreeMap;

use crate::model::{LabelSelector, SelectorOperator};

pub type Labels = BTreeMap<String, String>;

/// Whether `labels` satisfy `selector`. Absent and empty selectors match
/// everything, as in Kubernetes.
pub fn selector_matches(selector: Option<&LabelSelector>, labels: &Labels) -> bool {
    let Some(sel) = selector else {
        return true;
    };
    sel.match_labels
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
        && sel.match_expressions.iter().all(|e| {
            let got = labels.get(&e.key);
            match e.operator {
                SelectorOperator::In => got.is_some_and(|v| e.values.contains(v)),
                // NotIn matches nodes without the key, as in Kubernetes.
                SelectorOperator::NotIn => !matches!(got, Some(v) if e.values.contains(v)),
                SelectorOperator::Exists => got.is_some(),
                SelectorOperator::DoesNotExist => got.is_none(),
            }
        })
}

/// Whether `labels` contain every pair of `match_labels` (port selection).
pub fn labels_contain(labels: &Labels, match_labels: &Labels) -> bool {
    match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// A selector as `kubectl` prints it: `bfb=dk,zone in (a,b),!gpu`.
pub fn selector_string(selector: Option<&LabelSelector>) -> String {
    let Some(sel) = selector else {
        return "<all nodes>".to_string();
    };
    let mut parts: Vec<String> = sel
        .match_labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in &sel.match_expressions {
        parts.push(match e.operator {
            SelectorOperator::In => format!("{} in ({})", e.key, e.values.join(",")),
            SelectorOperator::NotIn => format!("{} notin ({})", e.key, e.values.join(",")),
            SelectorOperator::Exists => e.key.clone(),
            SelectorOperator::DoesNotExist => format!("!{}", e.key),
        });
    }
    if parts.is_empty() {
        "<all nodes>".to_string()
    } else {
        parts.join(",")
    }
}

/// A label map the way DPF's Go code prints it in messages
/// (`map[k1:v1 k2:v2]`, keys sorted), so our messages read like DPF's.
pub fn go_map(labels: &Labels) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("map[{}]", inner.join(" "))
}
