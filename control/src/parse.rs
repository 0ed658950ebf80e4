//! Input text -> JSON documents: multi-document YAML (comments allowed) or
//! JSON (one object, an array, or a Kubernetes `List`).

use serde::Deserialize;
use serde_json::Value;

use crate::error::ControlError;

/// The documents of `input`, numbered from 1 in input order (list items are
/// flattened and numbered in turn). Empty documents are dropped.
pub(crate) fn documents(input: &str) -> Result<Vec<(usize, Value)>, ControlError> {
    let trimmed = input.trim_start();
    let mut raw = Vec::new();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let v: Value = serde_json::from_str(input).map_err(|e| ControlError::Syntax {
            doc: 1,
            message: e.to_string(),
        })?;
        raw.push(v);
    } else {
        for (i, de) in serde_yaml::Deserializer::from_str(input).enumerate() {
            let v = Value::deserialize(de).map_err(|e| ControlError::Syntax {
                doc: i + 1,
                message: e.to_string(),
            })?;
            raw.push(v);
        }
    }
    let mut out = Vec::new();
    for v in raw {
        flatten(v, &mut out);
    }
    Ok(out
        .into_iter()
        .enumerate()
        .map(|(i, v)| (i + 1, v))
        .collect())
}

/// Arrays and `kind: List`/`XxxList` with `items` contribute their items.
fn flatten(v: Value, out: &mut Vec<Value>) {
    match v {
        Value::Null => {}
        Value::Array(items) => items.into_iter().for_each(|i| flatten(i, out)),
        Value::Object(mut map) => {
            let is_list = map
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k.ends_with("List"))
                && map.get("items").is_some_and(Value::is_array);
            match (is_list, map.remove("items")) {
                (true, Some(items)) => flatten(items, out),
                (_, items) => {
                    if let Some(items) = items {
                        map.insert("items".to_string(), items);
                    }
                    out.push(Value::Object(map));
                }
            }
        }
        other => out.push(other),
    }
}
