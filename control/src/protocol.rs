//! The control socket protocol: one JSON request per line, one JSON
//! response per line, on a Unix stream socket. No gRPC.
//!
//! ```text
//! -> {"id":1,"op":"hello","version":1}
//! <- {"id":1,"ok":true,"result":{"version":1,"server":"sfcd 0.1.0","ops":[...]}}
//! -> {"id":2,"op":"apply","objects":"apiVersion: svc.dpu.nvidia.com/v1alpha1\n..."}
//! <- {"id":2,"ok":false,"error":{"code":"invalid","message":"DPUServiceChain ns/x: spec...: ..."}}
//! ```
//! Every request has an `id` (echoed back; any JSON scalar) and an `op`; a
//! request may carry `version`, and a version other than [`VERSION`] is
//! refused with code `version`. Unknown fields are refused (code
//! `bad-request`, naming the field). A line longer than [`MAX_MESSAGE`]
//! bytes is refused with code `too-large` and the connection is closed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The protocol version this build speaks.
pub const VERSION: u32 = 1;

/// The longest request line accepted, in bytes (a 50x50 chain set in YAML
/// is well under 1 MiB).
pub const MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// Stable error codes: scripts match on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// Not JSON, not an object, a missing or mistyped field, an unknown field.
    BadRequest,
    /// `op` names no operation.
    UnknownOp,
    /// The request's `version` is not [`VERSION`].
    Version,
    /// The line is longer than [`MAX_MESSAGE`].
    TooLarge,
    /// DPF objects that fail validation (the message names object and field).
    Invalid,
    /// The named object or port does not exist.
    NotFound,
    /// The request contradicts the current state (e.g. a port name in use).
    Conflict,
    /// DPDK refused (the message carries the driver's words and errno).
    Dataplane,
    /// The state could not be written; nothing was changed.
    Storage,
    /// The peer's credentials are not allowed.
    Unauthorized,
    /// A bug: the message says what.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad-request",
            ErrorCode::UnknownOp => "unknown-op",
            ErrorCode::Version => "version",
            ErrorCode::TooLarge => "too-large",
            ErrorCode::Invalid => "invalid",
            ErrorCode::NotFound => "not-found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Dataplane => "dataplane",
            ErrorCode::Storage => "storage",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Internal => "internal",
        }
    }
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct ProtocolError {
    pub code: ErrorCode,
    pub message: String,
}

impl ProtocolError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<crate::ControlError> for ProtocolError {
    fn from(e: crate::ControlError) -> Self {
        use crate::ControlError as E;
        let code = match &e {
            E::NotFound { .. } => ErrorCode::NotFound,
            E::Conflict { .. } => ErrorCode::Conflict,
            E::Snapshot(_) => ErrorCode::Storage,
            _ => ErrorCode::Invalid,
        };
        ProtocolError::new(code, e.to_string())
    }
}

/// Object coordinates for delete/get/describe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectArgs {
    pub kind: String,
    #[serde(default = "default_namespace")]
    pub namespace: String,
    pub name: String,
}

fn default_namespace() -> String {
    "default".to_owned()
}

/// Filters of `flows`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowFilter {
    /// `namespace/name` of a chain (DPUServiceChain or ServiceChain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// Switch index within the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch: Option<usize>,
    /// A port name: flows in or out of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
}

/// Every operation with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Hello,
    /// `objects`: YAML (multi-document) or JSON text of DPF objects; the
    /// batch is all-or-nothing.
    Apply {
        objects: String,
    },
    Delete(ObjectArgs),
    Get(ObjectArgs),
    List {
        kind: Option<String>,
    },
    Describe(ObjectArgs),
    SetNodeLabels {
        labels: BTreeMap<String, String>,
    },
    Ports,
    Attach {
        name: String,
        devargs: String,
    },
    Detach {
        name: String,
    },
    Flows(FlowFilter),
    Status,
}

impl Request {
    /// The `op` string.
    pub fn op(&self) -> &'static str {
        match self {
            Request::Hello => "hello",
            Request::Apply { .. } => "apply",
            Request::Delete(_) => "delete",
            Request::Get(_) => "get",
            Request::List { .. } => "list",
            Request::Describe(_) => "describe",
            Request::SetNodeLabels { .. } => "set-node-labels",
            Request::Ports => "ports",
            Request::Attach { .. } => "attach",
            Request::Detach { .. } => "detach",
            Request::Flows(_) => "flows",
            Request::Status => "status",
        }
    }

    /// Whether the op changes state (and so is persisted before the answer).
    pub fn mutates(&self) -> bool {
        matches!(
            self,
            Request::Apply { .. }
                | Request::Delete(_)
                | Request::SetNodeLabels { .. }
                | Request::Attach { .. }
                | Request::Detach { .. }
        )
    }

    /// One request line (without the newline).
    pub fn encode(&self, id: u64) -> String {
        let mut v = match self {
            Request::Hello | Request::Ports | Request::Status => json!({}),
            Request::Apply { objects } => json!({ "objects": objects }),
            Request::Delete(a) | Request::Get(a) | Request::Describe(a) => json!(a),
            Request::List { kind } => match kind {
                Some(k) => json!({ "kind": k }),
                None => json!({}),
            },
            Request::SetNodeLabels { labels } => json!({ "labels": labels }),
            Request::Attach { name, devargs } => json!({ "name": name, "devargs": devargs }),
            Request::Detach { name } => json!({ "name": name }),
            Request::Flows(f) => json!(f),
        };
        if let Value::Object(m) = &mut v {
            m.insert("id".into(), json!(id));
            m.insert("op".into(), json!(self.op()));
            m.insert("version".into(), json!(VERSION));
        }
        v.to_string()
    }
}

/// The operations, for `hello`.
pub const OPS: &[&str] = &[
    "hello",
    "apply",
    "delete",
    "get",
    "list",
    "describe",
    "set-node-labels",
    "ports",
    "attach",
    "detach",
    "flows",
    "status",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyArgs {
    objects: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListArgs {
    #[serde(default)]
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelArgs {
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttachArgs {
    name: String,
    devargs: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DetachArgs {
    name: String,
}

fn args<T: serde::de::DeserializeOwned>(op: &str, v: Value) -> Result<T, ProtocolError> {
    serde_json::from_value(v)
        .map_err(|e| ProtocolError::new(ErrorCode::BadRequest, format!("op {op:?}: {e}")))
}

/// Decodes one request line. The id is returned even for a bad request
/// (`null` when it could not be read), so the answer can carry it.
pub fn decode_request(line: &str) -> (Value, Result<Request, ProtocolError>) {
    let bad = |m: String| Err(ProtocolError::new(ErrorCode::BadRequest, m));
    if line.len() > MAX_MESSAGE {
        return (
            Value::Null,
            Err(ProtocolError::new(
                ErrorCode::TooLarge,
                format!(
                    "request of {} bytes is over the limit of {MAX_MESSAGE}",
                    line.len()
                ),
            )),
        );
    }
    let v: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return (Value::Null, bad(format!("request is not JSON: {e}"))),
    };
    let Value::Object(mut m) = v else {
        return (Value::Null, bad("request is not a JSON object".into()));
    };
    let id = m.remove("id").unwrap_or(Value::Null);
    // An integer or a string: a float id (e.g. an integer too large for 64
    // bits) would not come back exactly, so the client could not pair it.
    if !(id.is_u64() || id.is_i64() || id.is_string()) {
        return (
            Value::Null,
            bad("request has no \"id\" (an integer or a string)".into()),
        );
    }
    if let Some(ver) = m.remove("version") {
        if ver.as_u64() != Some(u64::from(VERSION)) {
            return (
                id,
                Err(ProtocolError::new(
                    ErrorCode::Version,
                    format!("protocol version {ver} is not supported; this sfcd speaks version {VERSION}"),
                )),
            );
        }
    }
    let op = match m.remove("op") {
        Some(Value::String(s)) => s,
        Some(_) => return (id, bad("\"op\" is not a string".into())),
        None => return (id, bad("request has no \"op\"".into())),
    };
    let rest = Value::Object(m);
    let req = match op.as_str() {
        "hello" => args::<NoArgs>(&op, rest).map(|_| Request::Hello),
        "apply" => args::<ApplyArgs>(&op, rest).map(|a| Request::Apply { objects: a.objects }),
        "delete" => args(&op, rest).map(Request::Delete),
        "get" => args(&op, rest).map(Request::Get),
        "list" => args::<ListArgs>(&op, rest).map(|a| Request::List { kind: a.kind }),
        "describe" => args(&op, rest).map(Request::Describe),
        "set-node-labels" => {
            args::<LabelArgs>(&op, rest).map(|a| Request::SetNodeLabels { labels: a.labels })
        }
        "ports" => args::<NoArgs>(&op, rest).map(|_| Request::Ports),
        "attach" => args::<AttachArgs>(&op, rest).map(|a| Request::Attach {
            name: a.name,
            devargs: a.devargs,
        }),
        "detach" => args::<DetachArgs>(&op, rest).map(|a| Request::Detach { name: a.name }),
        "flows" => args(&op, rest).map(Request::Flows),
        "status" => args::<NoArgs>(&op, rest).map(|_| Request::Status),
        other => Err(ProtocolError::new(
            ErrorCode::UnknownOp,
            format!("unknown op {other:?}; ops: {}", OPS.join(", ")),
        )),
    };
    (id, req)
}

/// One response line (without the newline).
pub fn encode_response(id: &Value, result: Result<Value, ProtocolError>) -> String {
    match result {
        Ok(r) => json!({ "id": id, "ok": true, "result": r }).to_string(),
        Err(e) => json!({ "id": id, "ok": false, "error": e }).to_string(),
    }
}

/// A decoded response (client side).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Response {
    pub id: Value,
    pub ok: bool,
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub error: Option<ProtocolError>,
}

impl Response {
    pub fn into_result(self) -> Result<Value, ProtocolError> {
        if self.ok {
            Ok(self.result.unwrap_or(Value::Null))
        } else {
            Err(self.error.unwrap_or_else(|| {
                ProtocolError::new(ErrorCode::Internal, "error response without an error")
            }))
        }
    }
}

/// `hello`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
    pub server: String,
    pub ops: Vec<String>,
}

/// One port, for `ports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortView {
    pub name: String,
    pub id: u16,
    pub devargs: String,
    pub driver: String,
    pub link_up: bool,
    pub speed_mbps: u32,
    /// `ns/chain switch N`, if the port is in a switch.
    #[serde(default)]
    pub switch: Option<String>,
    /// `software`, `sync` or `template` (the rte_flow API chosen).
    pub offload: String,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Drops by reason (`no-switch`, `no-peer`, `runt`, `over-mtu`,
    /// `bad-src-mac`, `tx-full`).
    pub drops: BTreeMap<String, u64>,
}

/// One flow, for `flows` (like a line of `ovs-ofctl dump-flows`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowView {
    /// `namespace/name` of the per-node ServiceChain.
    pub chain: String,
    pub switch: usize,
    /// `cross-connect`, `learned`, `flood` or `drop`.
    pub kind: String,
    pub in_port: String,
    /// e.g. `in_port=p0` or `in_port=p0,dl_dst=02:00:00:00:00:0a`.
    #[serde(rename = "match")]
    pub matches: String,
    /// e.g. `output:p0_if` or `flood:p1,ovn`.
    pub action: String,
    pub packets: u64,
    pub bytes: u64,
    /// Milliseconds since the flow last matched (learned MACs).
    #[serde(default)]
    pub idle_age_ms: Option<u64>,
    /// `offloaded`, `software` or `failed`.
    pub offload: String,
    /// The hardware rules behind this flow as `dpdk-testpmd` commands
    /// (`sfcctl flows -o testpmd`); empty when none is attempted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hw_rules: Vec<String>,
}

/// `flows`' answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowTable {
    pub generation: u64,
    pub flows: Vec<FlowView>,
}

/// `status`' answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusView {
    pub ready: bool,
    pub node: String,
    pub uptime_ms: u64,
    pub generation: u64,
    pub workers: Vec<WorkerView>,
    pub ports: BTreeMap<String, bool>,
}

/// One worker in `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerView {
    pub index: usize,
    pub lcore: u32,
    pub core: Option<usize>,
    /// Milliseconds since its last poll loop.
    pub last_poll_age_ms: u64,
    /// Polls that found packets over all polls.
    pub busy_ratio: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(line: &str) -> Option<ErrorCode> {
        decode_request(line).1.err().map(|e| e.code)
    }

    #[test]
    fn every_request_round_trips_through_its_line() {
        let reqs = vec![
            Request::Hello,
            Request::Apply {
                objects: "a: b".into(),
            },
            Request::Delete(ObjectArgs {
                kind: "DPUServiceChain".into(),
                namespace: "ns".into(),
                name: "x".into(),
            }),
            Request::List { kind: None },
            Request::List {
                kind: Some("ServiceChain".into()),
            },
            Request::SetNodeLabels {
                labels: BTreeMap::from([("bfb".into(), "dk".into())]),
            },
            Request::Ports,
            Request::Attach {
                name: "p0".into(),
                devargs: "net_null0".into(),
            },
            Request::Detach { name: "p0".into() },
            Request::Flows(FlowFilter {
                chain: Some("ns/c".into()),
                switch: Some(1),
                port: None,
            }),
            Request::Status,
        ];
        for (i, r) in reqs.into_iter().enumerate() {
            let (id, back) = decode_request(&r.encode(i as u64));
            assert_eq!(id, json!(i));
            assert_eq!(back, Ok(r));
        }
    }

    #[test]
    fn malformed_requests_get_their_codes() {
        assert_eq!(code("not json"), Some(ErrorCode::BadRequest));
        assert_eq!(code("[1]"), Some(ErrorCode::BadRequest));
        assert_eq!(code(r#"{"op":"hello"}"#), Some(ErrorCode::BadRequest));
        assert_eq!(
            code(r#"{"id":{},"op":"hello"}"#),
            Some(ErrorCode::BadRequest)
        );
        assert_eq!(code(r#"{"id":1}"#), Some(ErrorCode::BadRequest));
        assert_eq!(code(r#"{"id":1,"op":7}"#), Some(ErrorCode::BadRequest));
        assert_eq!(code(r#"{"id":1,"op":"fly"}"#), Some(ErrorCode::UnknownOp));
        assert_eq!(
            code(r#"{"id":1,"op":"hello","version":2}"#),
            Some(ErrorCode::Version)
        );
        assert_eq!(
            code(r#"{"id":1,"op":"apply"}"#),
            Some(ErrorCode::BadRequest)
        );
        assert_eq!(
            code(r#"{"id":1,"op":"apply","objects":"x","extra":1}"#),
            Some(ErrorCode::BadRequest)
        );
        let big = format!(
            r#"{{"id":1,"op":"apply","objects":"{}"}}"#,
            "a".repeat(MAX_MESSAGE)
        );
        assert_eq!(code(&big), Some(ErrorCode::TooLarge));
    }

    #[test]
    fn an_unknown_field_is_named_in_the_error() {
        let (_, r) = decode_request(r#"{"id":"a","op":"detach","name":"p0","nmae":"x"}"#);
        assert!(r.is_err_and(|e| e.message.contains("nmae")));
    }

    #[test]
    fn the_id_comes_back_even_on_errors() {
        let (id, r) = decode_request(r#"{"id":"req-7","op":"nope"}"#);
        assert_eq!(id, json!("req-7"));
        let line = encode_response(&id, r.map(|_| Value::Null));
        let resp: Response = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(resp.id, json!("req-7"));
        assert_eq!(
            resp.into_result().err().map(|e| e.code),
            Some(ErrorCode::UnknownOp)
        );
    }
}
