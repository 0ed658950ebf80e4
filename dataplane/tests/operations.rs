//! Operating sfcd: metrics scraped over HTTP equal the socket's counters,
//! SIGHUP applies the difference of the config file, ports attach and
//! detach at run time.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::sfcd::Sfcd;
use serde_json::{json, Value};

const SEED_HBN: &str = include_str!("../../control/tests/data/seed-hbn-zone-dk.yaml");
const SEED_UPLINKS: &str = include_str!("../../control/tests/data/seed-uplinks-and-ovn.yaml");

/// A pcap file of `n` 60-byte frames.
fn write_pcap(path: &std::path::Path, n: usize) {
    let mut b: Vec<u8> = Vec::new();
    for v in [
        0xa1b2_c3d4u32.to_le_bytes().to_vec(),
        2u16.to_le_bytes().to_vec(),
        4u16.to_le_bytes().to_vec(),
    ] {
        b.extend(v);
    }
    b.extend([0u8; 8]); // thiszone, sigfigs
    b.extend(65535u32.to_le_bytes());
    b.extend(1u32.to_le_bytes()); // Ethernet
    for i in 0..n {
        b.extend((i as u32).to_le_bytes());
        b.extend(0u32.to_le_bytes());
        b.extend(60u32.to_le_bytes());
        b.extend(60u32.to_le_bytes());
        let mut f = [0u8; 60];
        f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&[0x88, 0xb5]);
        b.extend(f);
    }
    std::fs::write(path, b).unwrap_or_else(|e| panic!("{e}"));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(19590)
}

fn scrape(port: u16) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("metrics connect: {e}"));
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

fn cross_connects(c: &mut common::sfcd::Client) -> usize {
    common::sfcd::cross_connects(&c.call(json!({"id": 1, "op": "flows"}))).len()
}

#[test]
fn metrics_scrape_equals_the_socket_counters() {
    let mut d = Sfcd::new("metrics", 0);
    let (inp, empty) = (d.dir.join("in.pcap"), d.dir.join("empty.pcap"));
    write_pcap(&inp, 25);
    write_pcap(&empty, 0);
    d.ports = vec![
        format!(
            "p0=net_pcap0,rx_pcap={},tx_pcap={}",
            inp.display(),
            d.dir.join("out0.pcap").display()
        ),
        format!(
            "p1=net_pcap1,rx_pcap={},tx_pcap={}",
            empty.display(),
            d.dir.join("out1.pcap").display()
        ),
    ];
    let mport = free_port();
    d.start(&["--metrics-addr", &format!("127.0.0.1:{mport}")]);
    let mut c = d.connect();
    // p0 is in no switch: its 25 frames are dropped and counted.
    assert!(wait_for(Duration::from_secs(10), || {
        let p = c.call(json!({"id": 1, "op": "ports"}));
        p["result"][0]["rx_packets"] == 25
    }));
    let ports = c.call(json!({"id": 2, "op": "ports"}));
    let text = scrape(mport);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.contains("# TYPE sfcd_port_rx_packets_total counter"));
    for p in ports["result"].as_array().cloned().unwrap_or_default() {
        let name = p["name"].as_str().unwrap_or("");
        let rx = metric(
            &text,
            &format!("sfcd_port_rx_packets_total{{port=\"{name}\"}}"),
        );
        assert_eq!(rx, p["rx_packets"].as_f64(), "rx of {name}");
        let tx = metric(
            &text,
            &format!("sfcd_port_tx_packets_total{{port=\"{name}\"}}"),
        );
        assert_eq!(tx, p["tx_packets"].as_f64(), "tx of {name}");
        let drop = metric(
            &text,
            &format!("sfcd_port_drops_total{{port=\"{name}\",reason=\"no-switch\"}}"),
        );
        assert_eq!(drop, p["drops"]["no-switch"].as_f64(), "drops of {name}");
    }
    assert_eq!(
        metric(
            &text,
            "sfcd_port_drops_total{port=\"p0\",reason=\"no-switch\"}"
        ),
        Some(25.0)
    );
    assert_eq!(metric(&text, "sfcd_up"), Some(1.0));
    assert!(metric(
        &text,
        "sfcd_control_op_duration_seconds_count{op=\"ports\"}"
    )
    .is_some_and(|n| n >= 1.0));
    let mut s =
        std::net::TcpStream::connect(("127.0.0.1", mport)).unwrap_or_else(|e| panic!("{e}"));
    let _ = s.write_all(b"GET /nope HTTP/1.1\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 404"), "{out}");
}

#[test]
fn sighup_applies_only_the_difference_of_the_config_file() {
    let mut d = Sfcd::new("hup", 0);
    let (hbn, up) = (d.dir.join("hbn.yaml"), d.dir.join("uplinks.yaml"));
    std::fs::write(&hbn, SEED_HBN).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&up, SEED_UPLINKS).unwrap_or_else(|e| panic!("{e}"));
    let names = ["p0", "p1", "ovn", "p0_if", "p1_if", "pf2dpu3_if"];
    let ports: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| format!("  {n}: net_null{i},size=64"))
        .collect();
    let cfg = d.dir.join("sfcd.yaml");
    let write_cfg = |labels: &str, extra_port: bool| {
        let mut text = format!("node:\n  labels: {labels}\nports:\n{}\n", ports.join("\n"));
        if extra_port {
            text.push_str("  spare: net_null9,size=64\n");
        }
        text.push_str(&format!("apply: [{}, {}]\n", up.display(), hbn.display()));
        std::fs::write(&cfg, text).unwrap_or_else(|e| panic!("{e}"));
    };
    write_cfg("{bfb: dk}", false);
    d.ports.clear();
    d.start(&["--config", cfg.to_str().unwrap_or_default()]);
    let mut c = d.connect();
    assert_eq!(cross_connects(&mut c), 6);
    let pid = d.child.as_ref().map(|c| c.id()).unwrap_or(0);
    let hup = || {
        std::process::Command::new("kill")
            .arg("-HUP")
            .arg(pid.to_string())
            .status()
    };

    // Labels change: the dk zone leaves this node.
    write_cfg("{zone: b}", false);
    let _ = hup();
    assert!(wait_for(Duration::from_secs(10), || cross_connects(&mut c) == 0));
    // A port is added: the rest is untouched (generation moves once per change).
    write_cfg("{bfb: dk}", true);
    let _ = hup();
    assert!(wait_for(Duration::from_secs(10), || {
        let p = c.call(json!({"id": 1, "op": "ports"}));
        p["result"]
            .as_array()
            .is_some_and(|a| a.iter().any(|p| p["name"] == "spare"))
    }));
    assert!(wait_for(Duration::from_secs(10), || cross_connects(&mut c) == 6));
    // And removed again.
    write_cfg("{bfb: dk}", false);
    let _ = hup();
    assert!(wait_for(Duration::from_secs(10), || {
        let p: Value = c.call(json!({"id": 1, "op": "ports"}));
        p["result"].as_array().is_some_and(|a| a.len() == 6)
    }));
    // A broken config changes nothing.
    std::fs::write(&cfg, "nodes: {}\n").unwrap_or_else(|e| panic!("{e}"));
    let _ = hup();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cross_connects(&mut c), 6);
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn ports_attach_and_detach_at_run_time_and_chains_follow() {
    let mut d = Sfcd::new("plug", 0);
    let names = ["p0", "p1", "ovn", "p0_if", "p1_if"];
    d.ports = names
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{n}=net_null{i},size=64"))
        .collect();
    d.start(&["--node-label", "bfb=dk"]);
    let mut c = d.connect();
    for doc in [SEED_UPLINKS, SEED_HBN] {
        assert_eq!(
            c.call(json!({"id": 1, "op": "apply", "objects": doc}))["ok"],
            true
        );
    }
    // pf2dpu3_if is missing: the ovn switch has one port, no cross-connect.
    assert_eq!(cross_connects(&mut c), 4);
    let r = c.call(
        json!({"id": 2, "op": "attach", "name": "pf2dpu3_if", "devargs": "net_null7,size=64"}),
    );
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(cross_connects(&mut c), 6);
    let bad = c.call(json!({"id": 3, "op": "attach", "name": "x", "devargs": "net_nosuchdriver0"}));
    assert_eq!(bad["error"]["code"], "dataplane", "{bad}");
    assert_eq!(
        c.call(json!({"id": 4, "op": "attach", "name": "p0", "devargs": "net_null8"}))["error"]
            ["code"],
        "conflict"
    );
    // Traffic on the other switches keeps flowing while p0 leaves.
    let t0 = c.port_counter("p1_if", "tx_packets");
    let r = c.call(json!({"id": 6, "op": "detach", "name": "p0"}));
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(cross_connects(&mut c), 4);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        c.port_counter("p1_if", "tx_packets") > t0,
        "p1 -> p1_if kept forwarding"
    );
    assert_eq!(
        c.call(json!({"id": 7, "op": "detach", "name": "p0"}))["error"]["code"],
        "not-found"
    );
    // The same device can come back under its name.
    let r = c.call(json!({"id": 8, "op": "attach", "name": "p0", "devargs": "net_null0,size=64"}));
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(cross_connects(&mut c), 6);
    // The kinds of ports service pods bring: a tap (kernel side) and a
    // memif (another DPDK process) attach and detach the same way.
    let tap = format!("net_tap9,iface=sfcplug{}", std::process::id() % 100_000);
    let memif = format!(
        "net_memif9,role=server,socket={},socket-abstract=no",
        d.dir.join("memif.sock").display()
    );
    for (name, devargs) in [("svc_tap", tap.as_str()), ("svc_memif", memif.as_str())] {
        let r = c.call(json!({"id": 9, "op": "attach", "name": name, "devargs": devargs}));
        assert_eq!(r["ok"], true, "{name}: {r}");
        let p = c.call(json!({"id": 10, "op": "ports"}));
        assert!(p["result"]
            .as_array()
            .is_some_and(|a| a.iter().any(|p| p["name"] == name)));
        let r = c.call(json!({"id": 11, "op": "detach", "name": name}));
        assert_eq!(r["ok"], true, "{name}: {r}");
    }
    assert_eq!(cross_connects(&mut c), 6);
    // Attached ports survive a restart.
    drop(c);
    d.kill9();
    d.start(&["--node-label", "bfb=dk"]);
    let mut c = d.connect();
    assert_eq!(cross_connects(&mut c), 6);
}
