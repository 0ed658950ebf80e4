//! Reliability: bad input against a running sfcd (the corpus in
//! `tests/bad_input/`), malformed traffic through the engine on ring ports,
//! and faults (kill -9, a torn state write, a full state disk, a client that
//! hangs mid-line). See docs/reliability.md.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::sfcd::Sfcd;
use common::*;
use serde_json::{json, Value};
use sfc_dataplane::engine::{Engine, EngineConfig};
use sfc_dataplane::switch::{DropReason, StateConfig, SwitchSpec};

const SEED_UPLINKS: &str = include_str!("../../control/tests/data/seed-uplinks-and-ovn.yaml");
const SEED_HBN: &str = include_str!("../../control/tests/data/seed-hbn-zone-dk.yaml");
const MAX_MESSAGE: usize = sfc_control::protocol::MAX_MESSAGE;

/// The seed's six ports on net_null, node label bfb=dk.
fn seeded_sfcd(tag: &str, extra: &[&str]) -> Sfcd {
    let mut d = Sfcd::new(tag, 0);
    d.ports = ["p0", "p1", "ovn", "p0_if", "p1_if", "pf2dpu3_if"]
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{n}=net_null{i},size=64"))
        .collect();
    let mut args = vec!["--node-label", "bfb=dk"];
    args.extend_from_slice(extra);
    d.start(&args);
    d
}

fn apply(d: &Sfcd, text: &str) -> Value {
    d.connect()
        .call(json!({"id": 1, "op": "apply", "version": 1, "objects": text}))
}

fn apply_seed(d: &Sfcd) {
    for s in [SEED_UPLINKS, SEED_HBN] {
        let a = apply(d, s);
        assert_eq!(a["ok"], json!(true), "seed apply: {a}");
    }
}

/// The forwarding state as a client sees it: the cross-connects and the
/// generation of the `flows` answer.
fn forwarding(d: &Sfcd) -> (BTreeSet<(String, String)>, u64) {
    let a = d
        .connect()
        .call(json!({"id": 1, "op": "flows", "version": 1}));
    let r = &a["result"];
    let xc = common::sfcd::cross_connects(&a).into_iter().collect();
    (xc, r["generation"].as_u64().unwrap_or(u64::MAX))
}

/// Every object: kind, namespace, name, generation, spec.
fn objects(d: &Sfcd) -> Vec<Value> {
    let a = d
        .connect()
        .call(json!({"id": 1, "op": "list", "version": 1}));
    a["result"]
        .as_array()
        .map(|os| {
            os.iter()
                .map(|o| {
                    json!([
                        o["kind"],
                        o["metadata"]["namespace"],
                        o["metadata"]["name"],
                        o["metadata"]["generation"],
                        o["spec"]
                    ])
                })
                .collect()
        })
        .unwrap_or_default()
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_input")
}

/// One corpus input as the bytes of one request line (without `\n`).
fn request_bytes(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match path.extension().and_then(|e| e.to_str()) {
        Some("yaml") => {
            let text = String::from_utf8(raw).unwrap_or_else(|e| panic!("{e}"));
            json!({"id": 1, "op": "apply", "version": 1, "objects": text})
                .to_string()
                .into_bytes()
        }
        Some("gen") => {
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            if name == "oversize" {
                vec![b'x'; MAX_MESSAGE + 1]
            } else {
                let objects = "a".repeat(MAX_MESSAGE);
                json!({"id": 1, "op": "apply", "version": 1, "objects": objects})
                    .to_string()
                    .into_bytes()
            }
        }
        _ => raw,
    }
}

/// Sends one line on a fresh connection from a writer thread (sfcd may
/// stop reading an oversize line and close), reads one answer line.
fn send_line(d: &Sfcd, bytes: Vec<u8>) -> String {
    let s = UnixStream::connect(&d.socket).unwrap_or_else(|e| panic!("connect: {e}"));
    let _ = s.set_read_timeout(Some(Duration::from_secs(15)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(15)));
    let mut w = s.try_clone().unwrap_or_else(|e| panic!("{e}"));
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&bytes);
        let _ = w.write_all(b"\n");
    });
    let mut line = String::new();
    let _ = BufReader::new(s).read_line(&mut line);
    let _ = writer.join();
    line
}

struct Expect {
    code: String,
    message: String,
}

fn read_expect(path: &Path) -> Option<Expect> {
    let text = std::fs::read_to_string(path.with_extension("expect")).ok()?;
    let mut code = None;
    let mut message = None;
    for l in text.lines() {
        if let Some(v) = l.strip_prefix("code: ") {
            code = Some(v.to_owned());
        } else if let Some(v) = l.strip_prefix("message: ") {
            message = Some(v.to_owned());
        }
    }
    Some(Expect {
        code: code?,
        message: message?,
    })
}

/// Every corpus input gets exactly its expected code and message, and
/// changes neither the forwarding state nor the state file. Inputs whose
/// expected code is `ok` are accepted by design (a port claimed by two
/// switches, selectors matching nothing or several): their `message` is
/// found in the object's conditions, and deleting them restores the state.
/// `SFC_RECORD_EXPECT=1` writes missing `.expect` files from the answers.
#[test]
fn bad_input_corpus_is_refused_and_changes_nothing() {
    let d = seeded_sfcd("corpus", &[]);
    apply_seed(&d);
    let record = std::env::var_os("SFC_RECORD_EXPECT").is_some();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x != "expect"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 50, "only {} corpus inputs", inputs.len());
    let mut base_fwd = forwarding(&d);
    let mut base_state = d.state_bytes();
    let mut base_objects = objects(&d);
    assert!(!base_fwd.0.is_empty() && !base_state.is_empty());
    let mut failures = Vec::new();
    for path in &inputs {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned();
        let answer = send_line(&d, request_bytes(path));
        let a: Value = serde_json::from_str(&answer)
            .unwrap_or_else(|e| panic!("{name}: answer {answer:?} is not JSON: {e}"));
        let (code, message) = if a["ok"] == json!(true) {
            let obj = &a["result"]["results"][0];
            let get = d.connect().call(json!({"id": 2, "op": "get", "version": 1,
                "kind": obj["kind"], "namespace": obj["namespace"], "name": obj["name"]}));
            let conds: Vec<String> = get["result"]["status"]["conditions"]
                .as_array()
                .map(|cs| {
                    cs.iter()
                        .filter_map(|c| c["message"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            ("ok".to_owned(), conds.join("\n"))
        } else {
            (
                a["error"]["code"].as_str().unwrap_or("").to_owned(),
                a["error"]["message"].as_str().unwrap_or("").to_owned(),
            )
        };
        match read_expect(path) {
            Some(e) => {
                if e.code != code || !message.contains(&e.message) {
                    failures.push(format!(
                        "{name}: expected {} {:?}, got {code} {message:?}",
                        e.code, e.message
                    ));
                }
            }
            None if record => {
                let first = message.lines().next().unwrap_or("");
                let _ = std::fs::write(
                    path.with_extension("expect"),
                    format!("code: {code}\nmessage: {first}\n"),
                );
            }
            None => failures.push(format!("{name}: no .expect file (got {code} {message:?})")),
        }
        if code == "ok" {
            // Undo it, then the objects and cross-connects are as before.
            for r in a["result"]["results"].as_array().into_iter().flatten() {
                let del = d
                    .connect()
                    .call(json!({"id": 3, "op": "delete", "version": 1,
                    "kind": r["kind"], "namespace": r["namespace"], "name": r["name"]}));
                assert_eq!(del["ok"], json!(true), "{name}: undo: {del}");
            }
            let after = forwarding(&d);
            if after.0 != base_fwd.0 || objects(&d) != base_objects {
                failures.push(format!("{name}: accepted then deleted, state differs"));
            }
            base_fwd = after;
            base_state = d.state_bytes();
            base_objects = objects(&d);
            continue;
        }
        if forwarding(&d) != base_fwd {
            failures.push(format!("{name}: forwarding state changed"));
        }
        if d.state_bytes() != base_state {
            failures.push(format!("{name}: state file changed"));
        }
    }
    // Still alive and still the same after all of it.
    let st = d
        .connect()
        .call(json!({"id": 9, "op": "status", "version": 1}));
    assert_eq!(st["ok"], json!(true), "{st}");
    assert_eq!(objects(&d), base_objects);
    assert!(
        failures.is_empty(),
        "{} of {} inputs:\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
    eprintln!("corpus: {} inputs, all as expected", inputs.len());
}

fn spec(name: &str, ports: &[u16]) -> SwitchSpec {
    SwitchSpec::new(name, ports)
}

const T: Duration = Duration::from_secs(5);

/// Runts, multicast sources, over-MTU frames and a flood of new source
/// MACs past a 64-entry table: each counted under its reason, the table
/// bounded, and good traffic forwarded throughout.
#[test]
fn malformed_traffic_is_counted_and_good_traffic_flows() {
    let pool = pool("rel", 4096);
    let ps = [
        ring_port("rel-xa", &pool),
        ring_port("rel-xb", &pool),
        ring_port("rel-l1", &pool),
        ring_port("rel-l2", &pool),
        ring_port("rel-l3", &pool),
    ];
    let ids: Vec<u16> = ps.iter().map(|p| p.port.id()).collect();
    let rings: Vec<_> = ps
        .iter()
        .map(|p| (p.inject.clone(), p.capture.clone()))
        .collect();
    let cfg = EngineConfig {
        worker_cores: vec![None],
        state: StateConfig {
            mac_capacity: 64,
            mac_idle: 10_000,
        },
    };
    let e = Engine::start(cfg, ps.into_iter().map(|p| p.port).collect())
        .unwrap_or_else(|e| panic!("engine: {e}"));
    assert!(e
        .apply(&[spec("xc", &ids[0..2]), spec("ls", &ids[2..5])])
        .is_ok());
    let (xa_in, xb_out) = (&rings[0].0, &rings[1].1);

    // Cross-connect: runts (1..13 bytes), over-MTU (1515 = 1500 payload +
    // 14 + 1), interleaved with good frames (a bare 14-byte header is good).
    let mut good = Vec::new();
    for i in 0..10u32 {
        for len in [1usize, 6, 12, 13] {
            inject(&pool, xa_in, &frame(mac(2), mac(1), i, len)[..len]);
        }
        inject(&pool, xa_in, &frame(mac(2), mac(1), i, 1515));
        let g = frame(mac(2), mac(1), i, if i == 0 { 14 } else { 64 + i as usize });
        inject(&pool, xa_in, &g);
        good.push(g);
    }
    assert_eq!(capture(xb_out, 10, T), good, "good frames arrive in order");
    assert!(drain(xb_out, Duration::from_millis(20)).is_empty());
    let t = e.port_totals(ids[0]);
    assert_eq!(t.rx_packets, 60);
    assert_eq!(t.dropped(DropReason::Runt), 40);
    assert_eq!(t.dropped(DropReason::OverMtu), 10);
    assert_eq!(t.total_drops(), 50);
    assert_eq!(e.port_totals(ids[1]).tx_packets, 10);

    // Learning switch: A (l1) <-> B (l2) learned.
    let (l1, l2, l3) = (&rings[2], &rings[3], &rings[4]);
    let a_to_b = frame(mac(0xb), mac(0xa), 1, 64);
    inject(&pool, &l1.0, &a_to_b);
    assert_eq!(capture(&l2.1, 1, T).len(), 1);
    assert_eq!(capture(&l3.1, 1, T).len(), 1);
    inject(&pool, &l2.0, &frame(mac(0xa), mac(0xb), 2, 64));
    assert_eq!(capture(&l1.1, 1, T).len(), 1);

    // Multicast sources (never learned) and over-MTU frames on l1.
    let mcast = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x07];
    for i in 0..7 {
        inject(&pool, &l1.0, &frame(BCAST, mcast, i, 64));
        inject(&pool, &l1.0, &frame(mac(0xb), mac(0xa), i, 1600));
    }
    // 200 distinct random unicast sources on l3: 62 fit, 138 do not.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut seen = BTreeSet::new();
    while seen.len() < 200 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut m = [0u8; 6];
        m.copy_from_slice(&x.to_be_bytes()[2..8]);
        m[0] = (m[0] & 0xfe) | 0x02; // unicast, locally administered
        if m == mac(0xa) || m == mac(0xb) || !seen.insert(m) {
            continue;
        }
        inject(&pool, &l3.0, &frame(BCAST, m, 0, 64));
        if seen.len() % 50 == 0 {
            // Keep the capture rings from filling.
            assert_eq!(capture(&l1.1, 50, T).len(), 50);
            assert_eq!(capture(&l2.1, 50, T).len(), 50);
        }
    }
    // Good traffic still unicast: A -> B only to l2.
    let a_to_b2 = frame(mac(0xb), mac(0xa), 3, 64);
    inject(&pool, &l1.0, &a_to_b2);
    assert_eq!(capture(&l2.1, 1, T), vec![a_to_b2]);
    assert!(drain(&l3.1, Duration::from_millis(20)).is_empty());
    assert!(drain(&l1.1, Duration::from_millis(1)).is_empty());

    let t1 = e.port_totals(ids[2]);
    assert_eq!(t1.rx_packets, 1 + 14 + 1);
    assert_eq!(t1.dropped(DropReason::BadSrcMac), 7);
    assert_eq!(t1.dropped(DropReason::OverMtu), 7);
    assert_eq!(t1.total_drops(), 14);
    let t3 = e.port_totals(ids[4]);
    assert_eq!((t3.rx_packets, t3.total_drops()), (200, 0));
    let s = e.state();
    assert_eq!(s.switches()[0].table.len(), 64, "bounded at capacity");
    let w = &e.worker_stats()[0];
    assert_eq!(w.macs_learned.get(), 64);
    assert_eq!(w.mac_table_full.get(), 138);
    e.shutdown();
}

/// kill -9 while net_null ports flood the workers, then restart: every
/// object and every cross-connect is back from disk.
#[test]
fn kill9_under_load_loses_no_object() {
    let mut d = seeded_sfcd("kill9", &[]);
    apply_seed(&d);
    let before = (objects(&d), forwarding(&d).0, d.state_bytes());
    std::thread::sleep(Duration::from_millis(300)); // traffic flowing
    let rx = d
        .connect()
        .call(json!({"id": 1, "op": "ports", "version": 1}));
    assert!(rx["result"][0]["rx_packets"].as_u64().unwrap_or(0) > 0);
    for round in 0..3 {
        d.kill9();
        assert_eq!(d.state_bytes(), before.2, "round {round}: file intact");
        d.start(&["--node-label", "bfb=dk"]);
        assert_eq!(objects(&d), before.0, "round {round}: objects back");
        assert_eq!(forwarding(&d).0, before.1, "round {round}: flows back");
    }
}

/// A torn write: a partial `.state.json.tmp` next to a valid state.json
/// (as a kill between write and rename leaves it). The valid one is
/// restored; the next save replaces the tmp.
#[test]
fn torn_state_write_keeps_the_previous_state() {
    let mut d = seeded_sfcd("torn", &[]);
    apply_seed(&d);
    let before = (objects(&d), forwarding(&d).0);
    d.kill9();
    let tmp = d.state.join(".state.json.tmp");
    let good = d.state_bytes();
    std::fs::write(&tmp, &good[..good.len() / 2]).unwrap_or_else(|e| panic!("{e}"));
    d.start(&["--node-label", "bfb=dk"]);
    assert_eq!(objects(&d), before.0);
    assert_eq!(forwarding(&d).0, before.1);
    let a = d
        .connect()
        .call(json!({"id": 1, "op": "set-node-labels", "version": 1,
        "labels": {"bfb": "dk", "torn": "x"}}));
    assert_eq!(a["ok"], json!(true), "{a}");
    assert!(!tmp.exists(), "the next save consumed the torn tmp");
    // And a state.json torn itself is refused at start, never half-loaded.
    d.kill9();
    std::fs::write(d.state.join("state.json"), &good[..good.len() / 2])
        .unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_sfcd"))
        .args([
            "--eal",
            "--no-huge -m 256 --no-pci --file-prefix sfcd-rel-torn2",
        ])
        .arg("--socket")
        .arg(d.dir.join("torn2.sock"))
        .arg("--state-dir")
        .arg(&d.state)
        .args(["--port", "p0=net_null0", "--log", "warn", "--duration", "1"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_dir_all("/var/run/dpdk/sfcd-rel-torn2");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a torn state.json stops start-up"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("state file"));
}

/// The state directory on a 64 KiB tmpfs, filled: apply fails with
/// `storage` and nothing changes. Needs root (mount); skipped otherwise.
#[test]
fn full_state_disk_refuses_with_storage_and_changes_nothing() {
    let mut d = Sfcd::new("full", 0);
    let mnt = d.dir.join("tiny");
    let _ = std::fs::create_dir_all(&mnt);
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: cannot mount a tmpfs (not root?)");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    d.state = mnt.join("state");
    d.ports = ["p0", "p1", "ovn", "p0_if", "p1_if", "pf2dpu3_if"]
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{n}=net_null{i},size=64"))
        .collect();
    d.start(&["--node-label", "bfb=dk"]);
    apply_seed(&d);
    let before = (objects(&d), forwarding(&d), d.state_bytes());
    // Fill the tmpfs.
    let filler = mnt.join("filler");
    if let Ok(mut f) = std::fs::File::create(&filler) {
        let chunk = vec![0u8; 4096];
        for _ in 0..64 {
            if f.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = f.sync_all();
    }
    let extra = SEED_HBN.replace("hbn-to-fabric-dk", "full-disk-extra");
    let a = apply(&d, &extra);
    assert_eq!(a["ok"], json!(false), "{a}");
    assert_eq!(a["error"]["code"], json!("storage"), "{a}");
    assert!(a["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("cannot write state")));
    assert_eq!(objects(&d), before.0);
    assert_eq!(forwarding(&d), before.1);
    assert_eq!(d.state_bytes(), before.2);
    // Room again: the same apply goes through.
    let _ = std::fs::remove_file(&filler);
    let a = apply(&d, &extra);
    assert_eq!(a["ok"], json!(true), "{a}");
    d.kill9();
}

/// A client that sends half a line and hangs does not block the others.
#[test]
fn a_client_hanging_mid_line_blocks_no_one() {
    let d = seeded_sfcd("hang", &[]);
    let mut hung = UnixStream::connect(&d.socket).unwrap_or_else(|e| panic!("{e}"));
    hung.write_all(br#"{"id":1,"op":"app"#)
        .unwrap_or_else(|e| panic!("{e}"));
    let t0 = std::time::Instant::now();
    apply_seed(&d);
    let st = d
        .connect()
        .call(json!({"id": 2, "op": "status", "version": 1}));
    assert_eq!(st["ok"], json!(true));
    assert!(t0.elapsed() < Duration::from_secs(10));
    // Finishing the line later still gets its (refused) answer.
    hung.write_all(b"ly\"}\n").unwrap_or_else(|e| panic!("{e}"));
    let _ = hung.set_read_timeout(Some(Duration::from_secs(10)));
    let mut line = String::new();
    let _ = BufReader::new(hung).read_line(&mut line);
    assert!(line.contains("bad-request"), "{line}");
}
