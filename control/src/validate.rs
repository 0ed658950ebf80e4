//! Limits and name rules of the DPF CRDs and of Kubernetes itself, checked
//! while decoding so that nothing invalid ever reaches the store.

use std::collections::BTreeMap;

use crate::decode::DResult;
use crate::error::FieldError;

/// Object names: DPF's CRDs cap them at 63 characters, and Kubernetes wants
/// a lowercase DNS-1123 name (alphanumerics, '-', '.', alphanumeric ends).
pub(crate) fn object_name(name: &str, path: &str) -> DResult<()> {
    if name.is_empty() {
        return Err(FieldError::new(path, "must not be empty"));
    }
    if name.len() > 63 {
        return Err(FieldError::new(
            path,
            format!(
                "name length can't be bigger than 63 chars (got {})",
                name.len()
            ),
        ));
    }
    dns1123(name, path, true)
}

/// Namespaces are DNS-1123 labels (no dots).
pub(crate) fn namespace(ns: &str, path: &str) -> DResult<()> {
    if ns.is_empty() || ns.len() > 63 {
        return Err(FieldError::new(path, "must be 1..63 characters"));
    }
    dns1123(ns, path, false)
}

fn dns1123(s: &str, path: &str, dots: bool) -> DResult<()> {
    let ok_char =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (dots && c == '.');
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !s.chars().all(ok_char) || !ends_ok(s.chars().next()) || !ends_ok(s.chars().last()) {
        return Err(FieldError::new(
            path,
            format!(
                "{s:?} is not a valid name: lowercase letters, digits, '-'{} only, starting and ending with a letter or digit",
                if dots { ", '.'" } else { "" }
            ),
        ));
    }
    Ok(())
}

/// Kubernetes label key: `[prefix/]name`, prefix a DNS subdomain <= 253,
/// name <= 63 of `[A-Za-z0-9_.-]` with alphanumeric ends.
pub(crate) fn label_key(key: &str, path: &str) -> DResult<()> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        if p.is_empty() || p.len() > 253 {
            return Err(FieldError::new(
                path,
                format!("label key {key:?}: prefix must be 1..253 characters"),
            ));
        }
        dns1123(p, path, true).map_err(|_| {
            FieldError::new(
                path,
                format!("label key {key:?}: prefix must be a lowercase DNS subdomain"),
            )
        })?;
    }
    if name.is_empty() {
        return Err(FieldError::new(
            path,
            format!("label key {key:?}: name part must not be empty"),
        ));
    }
    label_token(name, path, &format!("label key {key:?}"))
}

/// Kubernetes label value: empty, or <= 63 of `[A-Za-z0-9_.-]` with
/// alphanumeric ends.
pub(crate) fn label_value(value: &str, path: &str) -> DResult<()> {
    if value.is_empty() {
        return Ok(());
    }
    label_token(value, path, &format!("label value {value:?}"))
}

fn label_token(s: &str, path: &str, what: &str) -> DResult<()> {
    if s.len() > 63 {
        return Err(FieldError::new(
            path,
            format!("{what}: must be at most 63 characters"),
        ));
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    let end = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !s.chars().all(ok) || !end(s.chars().next()) || !end(s.chars().last()) {
        return Err(FieldError::new(
            path,
            format!("{what}: only letters, digits, '-', '_', '.' allowed, starting and ending with a letter or digit"),
        ));
    }
    Ok(())
}

/// A label map (metadata.labels, template labels, matchLabels) with keys and
/// values checked; `min..=max` entries.
pub(crate) fn labels(
    map: &BTreeMap<String, String>,
    path: &str,
    min: usize,
    max: usize,
) -> DResult<()> {
    if map.len() < min || map.len() > max {
        return Err(FieldError::new(
            path,
            format!("must have {min}..{max} entries, got {}", map.len()),
        ));
    }
    for (k, v) in map {
        let p = format!("{path}[{k}]");
        label_key(k, &p)?;
        label_value(v, &p)?;
    }
    Ok(())
}

/// A list length limit, e.g. switches 1..50.
pub(crate) fn count(n: usize, path: &str, min: usize, max: usize) -> DResult<()> {
    if n < min || n > max {
        return Err(FieldError::new(
            path,
            format!("must have {min}..{max} items, got {n}"),
        ));
    }
    Ok(())
}

/// An integer range, e.g. serviceMTU 1280..9216.
pub(crate) fn range(v: i64, path: &str, min: i64, max: i64) -> DResult<()> {
    if v < min || v > max {
        return Err(FieldError::new(
            path,
            format!("must be in {min}..{max}, got {v}"),
        ));
    }
    Ok(())
}

/// A string length limit, e.g. service.interfaceName 1..15.
pub(crate) fn length(s: &str, path: &str, min: usize, max: usize) -> DResult<()> {
    let n = s.chars().count();
    if n < min || n > max {
        return Err(FieldError::new(
            path,
            format!("must be {min}..{max} characters, got {n}"),
        ));
    }
    Ok(())
}
