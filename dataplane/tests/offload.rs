//! The offload layer on real DPDK ports (net_null, net_ring, net_tap): the
//! rte_flow wrapper against real drivers, and the offload thread's fallback
//! to software end to end while the engine forwards. No port here accepts
//! a flow rule (platform-notes.md "rte_flow here"), so every hardware rule
//! must end `software` with the driver's ENOSYS/ENOTSUP, with one log line
//! per port and none per rule.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::*;
use sfc_dataplane::dpdk::flow::{
    self, Action, FlowApi, FlowAttr, FlowError, FlowSpec, Item, TemplateConfig, ENOSYS, ENOTSUP,
};
use sfc_dataplane::dpdk::{Port, PortConfig};
use sfc_dataplane::engine::{Engine, EngineConfig};
use sfc_dataplane::offload::{MonotonicClock, Offloader, RuleState};
use sfc_dataplane::switch::{MacAddr, SwitchSpec};

const T: Duration = Duration::from_secs(5);

/// Everything logged in this test process (INFO and up), as text.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let w = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || Capture(w.clone()))
            .finish();
        if tracing::subscriber::set_global_default(subscriber).is_err() {
            panic!("a global subscriber was already set");
        }
        buf
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_lines(needle: &str) -> Vec<String> {
    let b = logs().lock().unwrap_or_else(|e| e.into_inner());
    String::from_utf8_lossy(&b)
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

fn null_port(name: &str, dev: &str) -> Port {
    let pool = pool(&format!("{name}-pool"), 512);
    Port::probe(name, dev, pool, &PortConfig::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn tap_port(name: &str, tag: &str) -> Option<Port> {
    if !std::path::Path::new("/dev/net/tun").exists() {
        eprintln!("no /dev/net/tun: net_tap part skipped");
        return None;
    }
    let pool = pool(&format!("{name}-pool"), 2048);
    let iface = format!("sfo{}{tag}", std::process::id() % 100_000);
    let dev = format!("net_tap_{name},iface={iface}");
    let cfg = PortConfig {
        rx_desc: 256,
        tx_desc: 256,
        ..PortConfig::default()
    };
    Some(Port::probe(name, &dev, pool, &cfg).unwrap_or_else(|e| panic!("{e}")))
}

fn xc(a: u16, b: u16) -> FlowSpec {
    FlowSpec {
        attr: FlowAttr::transfer(),
        pattern: vec![Item::RepresentedPort { port_id: a }, Item::End],
        actions: vec![
            Action::RepresentedPort { port_id: b },
            Action::Count,
            Action::End,
        ],
    }
}

fn errno(e: &FlowError) -> Option<i32> {
    e.errno()
}

#[test]
fn the_flow_layer_gets_enosys_from_a_port_without_rte_flow() {
    let a = null_port("fl-null-a", "net_null_fl0");
    let b = null_port("fl-null-b", "net_null_fl1");
    let (ia, ib) = (a.id(), b.id());

    let e = flow::pick_transfer_proxy(ia).err();
    assert_eq!(e.as_ref().and_then(errno), Some(ENOSYS), "{e:?}");
    assert_eq!(flow::switch_domain(ia).ok(), Some(None));

    for r in [
        flow::validate(ia, &xc(ia, ib)).err(),
        flow::create(ia, &xc(ia, ib)).err(),
    ] {
        let Some(FlowError::Driver {
            port,
            errno,
            kind,
            message,
            ..
        }) = r
        else {
            panic!("expected a driver error, got {r:?}")
        };
        assert_eq!((port, errno, kind.0), (ia, ENOSYS, 1));
        assert_eq!(message, "Function not implemented");
    }
    assert!(flow::create(ia, &xc(ia, ib))
        .err()
        .is_some_and(|e| e.is_unsupported()));
    // The template API is refused as cleanly, without touching the port.
    let cfg = TemplateConfig {
        restart_proxy: true,
        ..TemplateConfig::default()
    };
    assert_eq!(flow::info(ia).err().as_ref().and_then(errno), Some(ENOSYS));
    assert_eq!(
        flow::configure(ia, &cfg).err().as_ref().and_then(errno),
        Some(ENOSYS)
    );
    assert_eq!(
        flow::probe_template(ia, &cfg)
            .err()
            .as_ref()
            .and_then(errno),
        Some(ENOSYS)
    );
    let probe = flow::probe_port(ia, &cfg, &|_| None);
    assert_eq!(probe.api, FlowApi::None);
    assert_eq!(probe.proxy, ia);
    assert_eq!(probe.note.as_ref().and_then(errno), Some(ENOSYS));
    assert!(a.link().is_ok(), "the port still works");

    // A malformed rule never reaches the driver.
    let mut bad = xc(ia, ib);
    bad.pattern.pop();
    assert!(matches!(
        flow::create(ia, &bad),
        Err(FlowError::Malformed(_))
    ));
    // An unused port id is an error, not a crash.
    assert!(flow::create(4000, &xc(ia, ib)).is_err());
}

#[test]
fn net_tap_has_sync_rte_flow_but_no_transfer() {
    let Some(t) = tap_port("fl-tap", "a") else {
        return;
    };
    let n = null_port("fl-tap-peer", "net_null_fl2");
    let id = t.id();
    let probe = flow::probe_port(id, &TemplateConfig::default(), &|_| None);
    assert_eq!(probe.api, FlowApi::Sync, "{probe:?}");
    assert_eq!(probe.proxy, id);
    // No template API: info_get is ENOTSUP.
    assert_eq!(probe.note.as_ref().and_then(errno), Some(ENOTSUP));
    // A transfer rule: ENOTSUP pinned on the transfer attribute.
    let e = flow::create(id, &xc(id, n.id())).err();
    let Some(FlowError::Driver { errno, kind, .. }) = &e else {
        panic!("expected a driver error, got {e:?}")
    };
    assert_eq!((*errno, kind.0), (ENOTSUP, 7), "{e:?}");
    assert!(e.as_ref().is_some_and(FlowError::is_unsupported));
    // A plain ingress rule validates: the wrapper's items reach a real
    // driver intact.
    let ingress = FlowSpec {
        attr: FlowAttr {
            ingress: true,
            ..FlowAttr::default()
        },
        pattern: vec![
            Item::Eth {
                dst: Some([2, 0, 0, 0, 0, 1]),
                src: None,
                ether_type: None,
            },
            Item::End,
        ],
        actions: vec![Action::Drop, Action::End],
    };
    assert_eq!(flow::validate(id, &ingress), Ok(()));
}

fn spec(name: &str, ports: &[u16]) -> SwitchSpec {
    SwitchSpec::new(name, ports)
}

#[test]
fn every_rule_falls_back_to_software_on_vdevs_with_one_line_per_port() {
    logs();
    let pool = pool("off-e2e", 4096);
    let (a, b) = (ring_port("off-a", &pool), ring_port("off-b", &pool));
    let (c, d, e) = (
        ring_port("off-c", &pool),
        ring_port("off-d", &pool),
        ring_port("off-e", &pool),
    );
    let taps = tap_port("off-tap1", "b").zip(tap_port("off-tap2", "c"));
    let f = ring_port("off-f", &pool);
    let (ida, idb, idc, idd, ide, idf) = (
        a.port.id(),
        b.port.id(),
        c.port.id(),
        d.port.id(),
        e.port.id(),
        f.port.id(),
    );
    let mut ports = vec![a.port, b.port, c.port, d.port, e.port, f.port];
    let mut names = vec!["off-a", "off-b", "off-c", "off-d", "off-e", "off-f"];
    let idt = taps.as_ref().map(|(t1, t2)| (t1.id(), t2.id()));
    if let Some((t1, t2)) = taps {
        ports.extend([t1, t2]);
        names.extend(["off-tap1", "off-tap2"]);
    }
    let offload_ports: Vec<_> = ports
        .iter()
        .map(|p| {
            let info = p.info().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(info.switch_domain, None, "vdevs have no E-Switch");
            (p.name().to_owned(), p.id(), info)
        })
        .collect();
    let engine =
        Engine::start(EngineConfig::default(), ports).unwrap_or_else(|e| panic!("engine: {e}"));
    let off = Offloader::start(offload_ports, Arc::new(MonotonicClock::default()))
        .unwrap_or_else(|e| panic!("offloader: {e}"));

    // The probe: ring ports have no rte_flow at all, tap has the sync API.
    for n in ["off-a", "off-b", "off-c", "off-d", "off-e", "off-f"] {
        assert_eq!(off.port_api(n), Some(FlowApi::None), "{n}");
    }
    if idt.is_some() {
        assert_eq!(off.port_api("off-tap1"), Some(FlowApi::Sync));
        assert_eq!(off.port_api("off-tap2"), Some(FlowApi::Sync));
    }

    // Chains: a cross-connect, a learning switch (f in none), tap <-> tap.
    let mut specs = vec![
        spec("t/xc switch 0", &[ida, idb]),
        spec("t/ls switch 0", &[idc, idd, ide]),
    ];
    if let Some((t1, t2)) = idt {
        specs.push(spec("t/tap switch 0", &[t1, t2]));
    }
    let state = engine.apply(&specs).unwrap_or_else(|e| panic!("{e}"));
    assert!(off.update(state).is_ok());

    // Traffic: the engine learns two MACs; the daemon tells the offloader.
    let (ci, cc, di, dc) = (
        c.inject.clone(),
        c.capture.clone(),
        d.inject.clone(),
        d.capture.clone(),
    );
    let f1 = frame(mac(0xd), mac(0xc), 1, 64);
    inject(&pool, &ci, &f1);
    assert_eq!(capture(&dc, 1, T), vec![f1], "flooded to d");
    let f2 = frame(mac(0xc), mac(0xd), 2, 64);
    inject(&pool, &di, &f2);
    assert_eq!(capture(&cc, 1, T), vec![f2], "unicast back to c");
    off.learned("t/ls switch 0", MacAddr::from_bytes(mac(0xc)), idc);
    off.learned("t/ls switch 0", MacAddr::from_bytes(mac(0xd)), idd);
    // Poll a few times: counters, aging, retries must not log per rule.
    for _ in 0..3 {
        assert!(off.poll().is_ok());
    }
    assert!(off.sync().is_ok());

    // Cross-connect traffic is forwarded by the software path.
    let fa = frame(mac(2), mac(1), 7, 100);
    inject(&pool, &a.inject, &fa);
    assert_eq!(capture(&b.capture, 1, T), vec![fa]);

    let rules = off.rules();
    let hw: Vec<_> = rules.iter().filter(|r| !r.testpmd.is_empty()).collect();
    // xc: 2, learning: 2 MACs x 2 peers, tap: 2.
    let expect = 2 + 4 + if idt.is_some() { 2 } else { 0 };
    assert_eq!(hw.len(), expect, "{rules:#?}");
    for r in rules.iter() {
        assert!(
            matches!(r.state, RuleState::Software(_)),
            "{} is {}",
            r.key,
            r.state
        );
    }
    for r in &hw {
        assert!(
            r.errno == Some(ENOSYS) || r.errno == Some(ENOTSUP),
            "{}: errno {:?} ({})",
            r.key,
            r.errno,
            r.state
        );
        assert!(r.testpmd.starts_with("flow create "), "{}", r.testpmd);
    }
    // Floods are refusals with no errno.
    assert_eq!(
        rules
            .iter()
            .filter(|r| r.testpmd.is_empty() && r.errno.is_none())
            .count(),
        3
    );
    if let Some((t1, t2)) = idt {
        for t in [t1, t2] {
            let r = hw.iter().find(|r| r.key.in_port == t);
            assert_eq!(r.and_then(|r| r.errno), Some(ENOTSUP), "{r:?}");
        }
    }

    // A new state (same chains) and more polls: still nothing new logged.
    let state = engine.apply(&specs).unwrap_or_else(|e| panic!("{e}"));
    assert!(off.update(state).is_ok());
    assert!(off.poll().is_ok());
    assert!(off.sync().is_ok());

    for n in &names {
        let lines = log_lines(&format!("flows of port {n} stay in software"));
        assert_eq!(lines.len(), 1, "{n}: {lines:#?}");
        let why = &lines[0];
        assert!(
            why.contains("ENOSYS") || why.contains("ENOTSUP"),
            "the line says why: {why}"
        );
    }
    let offload_lines = log_lines("sfcd::offload");
    eprintln!("{}", offload_lines.join("\n"));
    assert_eq!(offload_lines.len(), names.len(), "{offload_lines:#?}");

    // Deleting the learning switch's chain removes exactly its flows.
    let keep = vec![spec("t/xc switch 0", &[ida, idb])];
    let state = engine.apply(&keep).unwrap_or_else(|e| panic!("{e}"));
    assert!(off.update(state).is_ok());
    assert!(off.sync().is_ok());
    let left: Vec<String> = off.rules().iter().map(|r| r.key.to_string()).collect();
    assert_eq!(
        left,
        vec![
            "t/xc switch 0: in_port ".to_owned() + &ida.to_string(),
            format!("t/xc switch 0: in_port {idb}")
        ]
    );
    assert!(off.remove_port("off-f").is_ok());
    off.shutdown();
    engine.shutdown();
    let _ = (ide, idf);
}
