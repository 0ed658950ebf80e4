//! The sfcd process through its control socket: protocol errors, the DPF
//! seed chains, all-or-nothing batches, persistence across a crash.

mod common;

use std::io::Write;
use std::time::Duration;

use common::sfcd::{cross_connects, Sfcd};
use serde_json::{json, Value};

const SEED_HBN: &str = include_str!("../../control/tests/data/seed-hbn-zone-dk.yaml");
const SEED_UPLINKS: &str = include_str!("../../control/tests/data/seed-uplinks-and-ovn.yaml");

fn seed_ports() -> Vec<String> {
    ["p0", "p1", "ovn", "p0_if", "p1_if", "pf2dpu3_if"]
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{n}=net_null{i},size=64"))
        .collect()
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[test]
fn malformed_requests_get_stable_codes_and_the_connection_survives() {
    let mut d = Sfcd::new("proto", 2);
    d.start(&[]);
    let mut c = d.connect();
    let hello = c.call(json!({"id": 1, "op": "hello", "version": 1}));
    assert_eq!(hello["ok"], true);
    assert_eq!(hello["result"]["version"], 1);
    assert_eq!(
        code(&serde_json::from_str(&c.raw("{not json")).unwrap_or_default()),
        "bad-request"
    );
    assert_eq!(
        code(&c.call(json!({"id": 2, "op": "teleport"}))),
        "unknown-op"
    );
    assert_eq!(
        code(&c.call(json!({"id": 3, "op": "hello", "version": 99}))),
        "version"
    );
    assert_eq!(
        code(&c.call(json!({"id": 4, "op": "apply"}))),
        "bad-request"
    );
    let bad = c.call(json!({"id": 5, "op": "apply", "objects": "kind: DPUServiceChain\napiVersion: svc.dpu.nvidia.com/v1alpha1\nmetadata: {name: x}\nspec: {bogus: 1}\n"}));
    assert_eq!(code(&bad), "invalid");
    assert!(
        bad["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("bogus")),
        "{bad}"
    );
    assert_eq!(bad["id"], 5);
    // Still answering on the same connection.
    assert_eq!(
        c.call(json!({"id": 6, "op": "status"}))["result"]["ready"],
        true
    );
}

#[test]
fn an_oversize_line_is_refused_and_a_half_written_line_changes_nothing() {
    let mut d = Sfcd::new("big", 2);
    d.start(&[]);
    let before = d.state_bytes();
    let mut c = d.connect();
    let big = format!(
        r#"{{"id":1,"op":"apply","objects":"{}"}}"#,
        "x".repeat(4 * 1024 * 1024 + 10)
    );
    let ans: Value = serde_json::from_str(&c.raw(&big)).unwrap_or_default();
    assert_eq!(code(&ans), "too-large");
    // A client that dies in the middle of a line: nothing applied.
    {
        let mut half =
            std::os::unix::net::UnixStream::connect(&d.socket).unwrap_or_else(|e| panic!("{e}"));
        let _ = half.write_all(
            format!(
                r#"{{"id":1,"op":"apply","objects":{}"#,
                serde_json::to_string(SEED_UPLINKS).unwrap_or_default()
            )
            .as_bytes(),
        );
    }
    // A client that hangs mid-line does not block others.
    let mut hang =
        std::os::unix::net::UnixStream::connect(&d.socket).unwrap_or_else(|e| panic!("{e}"));
    let _ = hang.write_all(br#"{"id":1,"op":"li"#);
    let mut other = d.connect();
    assert_eq!(
        other.call(json!({"id": 9, "op": "list"}))["result"],
        json!([])
    );
    assert_eq!(d.state_bytes(), before);
}

#[test]
fn the_seed_chains_resolve_and_a_bad_batch_changes_nothing() {
    let mut d = Sfcd::new("seed", 0);
    d.ports = seed_ports();
    d.start(&["--node-label", "bfb=dk"]);
    let mut c = d.connect();
    for (i, doc) in [SEED_UPLINKS, SEED_HBN].iter().enumerate() {
        let r = c.call(json!({"id": i, "op": "apply", "objects": doc}));
        assert_eq!(r["ok"], true, "{r}");
    }
    let flows = c.call(json!({"id": 10, "op": "flows"}));
    let want: Vec<(String, String)> = [
        ("ovn", "output:pf2dpu3_if"),
        ("p0", "output:p0_if"),
        ("p0_if", "output:p0"),
        ("p1", "output:p1_if"),
        ("p1_if", "output:p1"),
        ("pf2dpu3_if", "output:ovn"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(cross_connects(&flows), want);
    let chain = c.call(json!({"id": 11, "op": "get", "kind": "DPUServiceChain", "namespace": "dpf-operator-system", "name": "hbn-to-fabric-dk"}));
    let ready = chain["result"]["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .map(|c| c["status"].clone());
    assert_eq!(ready, Some(json!("True")), "{chain}");

    // One invalid object in a batch: nothing of it is applied, the state
    // file and the forwarding state are byte-for-byte unchanged.
    let state_before = d.state_bytes();
    let flows_before = cross_connects(&flows);
    let batch = format!(
        "{}\n---\napiVersion: svc.dpu.nvidia.com/v1alpha1\nkind: DPUServiceChain\nmetadata: {{name: broken, namespace: dpf-operator-system}}\nspec:\n  template:\n    spec:\n      template:\n        spec:\n          switches: []\n",
        SEED_UPLINKS.replace("name: p0\n", "name: p0-renamed\n")
    );
    let r = c.call(json!({"id": 12, "op": "apply", "objects": batch}));
    assert_eq!(code(&r), "invalid", "{r}");
    assert_eq!(d.state_bytes(), state_before);
    assert_eq!(
        cross_connects(&c.call(json!({"id": 13, "op": "flows"}))),
        flows_before
    );
    assert_eq!(code(&c.call(json!({"id": 14, "op": "get", "kind": "DPUServiceInterface", "namespace": "dpf-operator-system", "name": "p0-renamed"}))), "not-found");

    // Relabel: the dk zone is gone from this node.
    let r = c.call(json!({"id": 15, "op": "set-node-labels", "labels": {"zone": "x"}}));
    assert_eq!(r["ok"], true, "{r}");
    assert!(cross_connects(&c.call(json!({"id": 16, "op": "flows"}))).is_empty());
}

#[test]
fn a_crash_and_restart_restores_the_same_forwarding_state_with_no_client() {
    let mut d = Sfcd::new("restart", 0);
    d.ports = seed_ports();
    d.start(&["--node-label", "bfb=dk"]);
    let mut c = d.connect();
    for doc in [SEED_UPLINKS, SEED_HBN] {
        assert_eq!(
            c.call(json!({"id": 1, "op": "apply", "objects": doc}))["ok"],
            true
        );
    }
    let before = cross_connects(&c.call(json!({"id": 2, "op": "flows"})));
    assert_eq!(before.len(), 6);
    drop(c);
    d.kill9();
    let restarted = std::time::Instant::now();
    d.start(&[]);
    let mut c = d.connect();
    // Time from the restart to the first frame forwarded on the restored
    // state (net_null RX invents frames on every port).
    while c.port_counter("p0_if", "tx_packets") == 0
        && restarted.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!(
        "restart after kill -9: first forwarded frame {} ms after the new process started",
        restarted.elapsed().as_millis()
    );
    let after = cross_connects(&c.call(json!({"id": 3, "op": "flows"})));
    assert_eq!(after, before);
    // Node labels came back from disk too (not given this time).
    let chains = c.call(json!({"id": 4, "op": "list", "kind": "DPUServiceChain"}));
    assert_eq!(chains["result"].as_array().map(|a| a.len()), Some(2));
    // And traffic flows on them: net_null RX invents frames on every port.
    std::thread::sleep(Duration::from_millis(300));
    let ports = c.call(json!({"id": 5, "op": "ports"}));
    let p0_tx = ports["result"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == "p0_if"))
        .map(|p| p["tx_packets"].as_u64().unwrap_or(0))
        .unwrap_or(0);
    assert!(p0_tx > 0, "p0 -> p0_if forwarded nothing: {ports}");
    assert_eq!(d.stop(), Some(0));
    assert!(!d.socket.exists(), "socket removed at exit");
}

/// Runs a python3 client as uid/gid 65534 (nobody) that sends `hello` and
/// prints what it got, or the connect error.
fn as_nobody(socket: &std::path::Path) -> String {
    let script = format!(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n  s.connect({:?})\nexcept OSError as e:\n  print('connect-error', e.errno); sys.exit(0)\ntry:\n  s.sendall(b'{{\"id\":1,\"op\":\"hello\"}}\\n')\nexcept OSError:\n  pass\nprint(s.makefile().readline().strip())\n",
        socket.display().to_string()
    );
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
            &script,
        ])
        .output()
        .unwrap_or_else(|e| panic!("setpriv: {e}"));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn unprivileged_peers_are_refused() {
    // Default mode 0600: the kernel refuses the connect itself.
    let mut d = Sfcd::new("access", 1);
    d.start(&[]);
    let mode = std::fs::metadata(&d.socket)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777);
    assert_eq!(mode.ok(), Some(0o600));
    let state_mode = std::fs::metadata(&d.state)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777);
    assert_eq!(
        state_mode.ok(),
        Some(0o700),
        "state directory not world-readable"
    );
    let got = as_nobody(&d.socket);
    assert!(
        got.starts_with("connect-error 13"),
        "EACCES expected, got {got:?}"
    );
    d.kill9();

    // A world-writable socket: sfcd itself refuses by SO_PEERCRED.
    let mut d = Sfcd::new("access2", 1);
    d.start(&["--socket-mode", "0666"]);
    let got = as_nobody(&d.socket);
    let v: Value = serde_json::from_str(&got).unwrap_or_default();
    assert_eq!(code(&v), "unauthorized", "{got}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("uid 65534")),
        "{got}"
    );
    // Root is still served.
    assert_eq!(
        d.connect().call(json!({"id": 1, "op": "hello"}))["ok"],
        true
    );
    d.kill9();

    // An allowed uid is served.
    let mut d = Sfcd::new("access3", 1);
    d.start(&["--socket-mode", "0666", "--allow-uid", "65534"]);
    let v: Value = serde_json::from_str(&as_nobody(&d.socket)).unwrap_or_default();
    assert_eq!(v["ok"], true, "{v}");
}
