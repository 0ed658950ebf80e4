//! A small path-tracking reader over `serde_json::Value`.
//!
//! serde's `deny_unknown_fields` rejects a misspelled field but does not say
//! *where* it is; users need the full path
//! (`spec.template.spec.switches[0].ports[1].serviceInterface.matchLabelz`).
//! So the model is decoded by hand with these helpers: every object lists its
//! allowed fields up front (unknown ones are reported before anything else,
//! so a typo is named as such instead of as "required field missing").

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::FieldError;

pub(crate) type DResult<T> = Result<T, FieldError>;

/// `parent.key`, or just `key` at the root.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `parent[i]`.
pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// Kubernetes JSON type names, for "expected X, got Y" messages.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

/// One JSON object being decoded, with the set of fields it may carry.
pub(crate) struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    /// Opens `v` as an object whose only fields are `allowed`; the first
    /// other field is an error at its own path.
    pub(crate) fn new(v: &'a Value, path: &str, allowed: &[&str]) -> DResult<Self> {
        let map = v.as_object().ok_or_else(|| {
            FieldError::new(path, format!("expected an object, got {}", type_name(v)))
        })?;
        if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(FieldError::new(join(path, k), "unknown field"));
        }
        Ok(Obj {
            map,
            path: path.to_string(),
        })
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn field_path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// A present, non-null field. `null` counts as absent, as in Kubernetes.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub(crate) fn req(&self, key: &str) -> DResult<&'a Value> {
        self.get(key)
            .ok_or_else(|| FieldError::new(self.field_path(key), "required field missing"))
    }

    pub(crate) fn opt_str(&self, key: &str) -> DResult<Option<String>> {
        self.get(key)
            .map(|v| as_str(v, &self.field_path(key)))
            .transpose()
    }

    pub(crate) fn req_str(&self, key: &str) -> DResult<String> {
        as_str(self.req(key)?, &self.field_path(key))
    }

    pub(crate) fn opt_bool(&self, key: &str) -> DResult<Option<bool>> {
        self.get(key)
            .map(|v| {
                v.as_bool().ok_or_else(|| {
                    FieldError::new(
                        self.field_path(key),
                        format!("expected a boolean, got {}", type_name(v)),
                    )
                })
            })
            .transpose()
    }

    pub(crate) fn opt_int(&self, key: &str) -> DResult<Option<i64>> {
        self.get(key)
            .map(|v| as_int(v, &self.field_path(key)))
            .transpose()
    }

    pub(crate) fn req_int(&self, key: &str) -> DResult<i64> {
        as_int(self.req(key)?, &self.field_path(key))
    }

    /// A string->string map (labels, matchLabels); absent = empty.
    pub(crate) fn str_map(&self, key: &str) -> DResult<BTreeMap<String, String>> {
        match self.get(key) {
            None => Ok(BTreeMap::new()),
            Some(v) => as_str_map(v, &self.field_path(key)),
        }
    }

    /// A list; absent = empty. Items come with their own paths.
    pub(crate) fn list(&self, key: &str) -> DResult<Vec<(&'a Value, String)>> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(v) => as_list(v, &self.field_path(key)),
        }
    }
}

pub(crate) fn as_str(v: &Value, path: &str) -> DResult<String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| FieldError::new(path, format!("expected a string, got {}", type_name(v))))
}

pub(crate) fn as_int(v: &Value, path: &str) -> DResult<i64> {
    v.as_i64()
        .ok_or_else(|| FieldError::new(path, format!("expected an integer, got {}", type_name(v))))
}

pub(crate) fn as_list<'a>(v: &'a Value, path: &str) -> DResult<Vec<(&'a Value, String)>> {
    let items = v
        .as_array()
        .ok_or_else(|| FieldError::new(path, format!("expected a list, got {}", type_name(v))))?;
    Ok(items
        .iter()
        .enumerate()
        .map(|(i, item)| (item, index(path, i)))
        .collect())
}

/// Label maps must hold strings: Kubernetes rejects `enabled: true`
/// unquoted, and so do we (a YAML boolean is not the label value "true").
pub(crate) fn as_str_map(v: &Value, path: &str) -> DResult<BTreeMap<String, String>> {
    let map = v.as_object().ok_or_else(|| {
        FieldError::new(
            path,
            format!("expected a map of strings, got {}", type_name(v)),
        )
    })?;
    let mut out = BTreeMap::new();
    for (k, val) in map {
        let s = val.as_str().ok_or_else(|| {
            FieldError::new(
                format!("{path}[{k}]"),
                format!("expected a string, got {} (quote it)", type_name(val)),
            )
        })?;
        out.insert(k.clone(), s.to_string());
    }
    Ok(out)
}
