//! `sfcctl wait`, like `kubectl wait`: polls `get` every [`POLL`] until
//! the object has a condition of the given type and status, or is gone
//! (`--for=delete`), within `--timeout` (default [`DEFAULT_WAIT_TIMEOUT`]).

use std::time::{Duration, Instant};

use serde_json::Value;

use super::client::{Client, ClientError};
use super::{human_duration, object_args, parse_kind, render, structured, Cli, Failure, WaitCmd};
use crate::protocol::{ErrorCode, ObjectArgs, Request};

/// How often `wait` asks.
pub const POLL: Duration = Duration::from_millis(200);

/// How long `wait` waits unless `--timeout` says otherwise (kubectl's).
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// What `--for` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitFor {
    /// A condition of `type_` (matched case-insensitively, as kubectl does)
    /// with `status` (`True`, `False` or `Unknown`).
    Condition { type_: String, status: String },
    /// The object is gone.
    Delete,
}

/// `condition=Ready`, `condition=Ready=False`, `delete`.
pub fn parse_for(s: &str) -> Result<WaitFor, String> {
    let bad = |why: &str| {
        format!(
            "--for {s:?}: {why}; expected condition=TYPE, condition=TYPE=True|False|Unknown or delete"
        )
    };
    if s == "delete" {
        return Ok(WaitFor::Delete);
    }
    let Some(rest) = s.strip_prefix("condition=") else {
        return Err(bad("unsupported"));
    };
    let (type_, status) = rest.split_once('=').unwrap_or((rest, "True"));
    if type_.is_empty() {
        return Err(bad("no condition type"));
    }
    let status = ["True", "False", "Unknown"]
        .into_iter()
        .find(|v| v.eq_ignore_ascii_case(status))
        .ok_or_else(|| {
            bad(&format!(
                "condition status {status:?} is not True, False or Unknown"
            ))
        })?;
    Ok(WaitFor::Condition {
        type_: type_.to_string(),
        status: status.to_string(),
    })
}

/// `Ok` when `obj` (an object as `get` answers it) has the condition
/// `type_` with `status`, for its current generation; otherwise what it
/// has instead, for the timeout message.
pub fn condition_met(obj: &Value, type_: &str, status: &str) -> Result<(), String> {
    let conditions = obj
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let field = |c: &Value, k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let Some(c) = conditions
        .iter()
        .find(|c| field(c, "type").eq_ignore_ascii_case(type_))
    else {
        let have: Vec<String> = conditions.iter().map(|c| field(c, "type")).collect();
        return Err(if have.is_empty() {
            format!("it has no {type_} condition (no conditions at all)")
        } else {
            format!("it has no {type_} condition (it has {})", have.join(", "))
        });
    };
    let generation = obj.pointer("/metadata/generation").and_then(Value::as_i64);
    let observed = c.get("observedGeneration").and_then(Value::as_i64);
    let stale = matches!((generation, observed), (Some(g), Some(o)) if o != 0 && o != g);
    if field(c, "status").eq_ignore_ascii_case(status) && !stale {
        return Ok(());
    }
    let mut seen = describe_condition(c);
    if stale {
        seen.push_str(&format!(
            " (for generation {}, the object is at {})",
            observed.unwrap_or_default(),
            generation.unwrap_or_default()
        ));
    }
    // Ready only summarizes: the first other failing condition says why.
    if let Some(why) = conditions
        .iter()
        .find(|o| !field(o, "type").eq_ignore_ascii_case(type_) && field(o, "status") != "True")
    {
        seen.push_str("; ");
        seen.push_str(&describe_condition(why));
    }
    Err(seen)
}

/// `Ready=False, reason Pending: message` (the message on one line).
fn describe_condition(c: &Value) -> String {
    let field = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("");
    let mut s = format!("{}={}", field("type"), field("status"));
    if !field("reason").is_empty() {
        s.push_str(&format!(", reason {}", field("reason")));
    }
    let message: Vec<&str> = field("message")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if !message.is_empty() {
        s.push_str(": ");
        s.push_str(&message.join(" "));
    }
    s
}

/// What the last `get` saw.
enum Seen {
    Nothing,
    Absent,
    Present(Value),
}

/// Runs `wait`: the text for stdout when the condition is met.
pub(super) fn run(cli: &Cli, w: &WaitCmd) -> Result<String, Failure> {
    let args = object_args(&w.object)?;
    let kind = parse_kind(&args.kind)?;
    let what = format!("{} {}/{}", args.kind, args.namespace, args.name);
    let timeout = cli.timeout.unwrap_or(DEFAULT_WAIT_TIMEOUT);
    let start = Instant::now();
    let deadline = start + timeout;
    // Each answer within its usual bound, and never much past the deadline.
    let answer_bound = |now: Instant| {
        deadline
            .saturating_duration_since(now)
            .max(POLL)
            .min(cli.answer_timeout())
    };
    let mut client = Client::connect(&cli.socket, answer_bound(start))?;
    let mut seen = Seen::Nothing;
    loop {
        client.set_timeout(answer_bound(Instant::now()));
        match poll(&mut client, &args) {
            Ok(s) => seen = s,
            Err(ClientError::Timeout { .. }) if Instant::now() >= deadline => {}
            Err(e) => return Err(Failure::from(e)),
        }
        let met = match (&w.for_, &seen) {
            (WaitFor::Delete, Seen::Absent) => Some(None),
            (WaitFor::Condition { type_, status }, Seen::Present(obj)) => {
                condition_met(obj, type_, status).ok().map(|()| Some(obj))
            }
            _ => None,
        };
        if let Some(obj) = met {
            return Ok(match (structured(cli.output), obj) {
                (Some(fmt), Some(obj)) => fmt(obj),
                _ => format!("{}/{} condition met\n", render::resource(kind), args.name),
            });
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out(&w.for_, &what, &seen, timeout));
        }
        std::thread::sleep(left.min(POLL));
    }
}

/// One `get`: absent when sfcd says not found (or answers null).
fn poll(client: &mut Client, args: &ObjectArgs) -> Result<Seen, ClientError> {
    match client.call(&Request::Get(args.clone())) {
        Ok(Value::Null) => Ok(Seen::Absent),
        Ok(v) => Ok(Seen::Present(v)),
        Err(ClientError::Server(e)) if e.code == ErrorCode::NotFound => Ok(Seen::Absent),
        Err(e) => Err(e),
    }
}

fn timed_out(for_: &WaitFor, what: &str, seen: &Seen, timeout: Duration) -> Failure {
    let after = human_duration(timeout);
    let message = match (for_, seen) {
        (WaitFor::Delete, Seen::Present(obj)) => {
            let ready = obj
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|cs| {
                    cs.iter().find(|c| {
                        c.get("type").and_then(Value::as_str) == Some(crate::conditions::READY)
                    })
                })
                .map_or_else(|| "no Ready condition".into(), describe_condition);
            format!("timed out after {after} waiting for {what} to be deleted: it still exists ({ready})")
        }
        (WaitFor::Delete, _) => {
            format!("timed out after {after} waiting for {what} to be deleted: no answer from sfcd in time")
        }
        (WaitFor::Condition { type_, status }, seen) => {
            let last = match seen {
                Seen::Present(obj) => condition_met(obj, type_, status)
                    .err()
                    .unwrap_or_else(|| "no answer from sfcd in time".into()),
                Seen::Absent => "the object does not exist".into(),
                Seen::Nothing => "no answer from sfcd in time".into(),
            };
            format!(
                "timed out after {after} waiting for {what} to have condition {type_}={status}; last seen: {last}"
            )
        }
    };
    Failure::error(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn for_accepts_conditions_with_an_optional_status_and_delete() {
        let cond = |t: &str, s: &str| WaitFor::Condition {
            type_: t.into(),
            status: s.into(),
        };
        assert_eq!(parse_for("condition=Ready"), Ok(cond("Ready", "True")));
        assert_eq!(
            parse_for("condition=Ready=false"),
            Ok(cond("Ready", "False"))
        );
        assert_eq!(
            parse_for("condition=ServiceChainReconciled=Unknown"),
            Ok(cond("ServiceChainReconciled", "Unknown"))
        );
        assert_eq!(parse_for("delete"), Ok(WaitFor::Delete));
        for bad in [
            "Ready",
            "condition=",
            "condition=Ready=maybe",
            "jsonpath={.x}=1",
        ] {
            let e = parse_for(bad).unwrap_err();
            assert!(e.contains("expected condition=TYPE"), "{bad}: {e}");
        }
    }

    fn obj(generation: i64, conds: Value) -> Value {
        json!({"kind": "DPUServiceChain", "metadata": {"name": "hbn", "generation": generation},
               "status": {"conditions": conds}})
    }

    #[test]
    fn a_condition_is_met_by_type_and_status_for_the_current_generation() {
        let ready = |s: &str, g: i64| {
            json!({"type": "Ready", "status": s, "reason": "Pending", "observedGeneration": g,
                   "message": "The following conditions are not ready:\n* ServiceChainReconciled"})
        };
        let reconciled = json!({"type": "ServiceChainReconciled", "status": "False",
            "reason": "Error", "message": "port p0_if does not exist", "observedGeneration": 2});
        assert_eq!(
            condition_met(&obj(2, json!([ready("True", 2)])), "ready", "True"),
            Ok(())
        );
        assert_eq!(
            condition_met(&obj(2, json!([ready("False", 2), reconciled])), "Ready", "True"),
            Err("Ready=False, reason Pending: The following conditions are not ready: * ServiceChainReconciled; ServiceChainReconciled=False, reason Error: port p0_if does not exist".into())
        );
        assert_eq!(
            condition_met(&obj(3, json!([ready("True", 2)])), "Ready", "True"),
            Err("Ready=True, reason Pending: The following conditions are not ready: * ServiceChainReconciled (for generation 2, the object is at 3)".into())
        );
        assert_eq!(
            condition_met(&obj(1, json!([])), "Ready", "True"),
            Err("it has no Ready condition (no conditions at all)".into())
        );
        assert_eq!(
            condition_met(&obj(2, json!([ready("False", 2)])), "Ready", "False"),
            Ok(())
        );
    }
}
