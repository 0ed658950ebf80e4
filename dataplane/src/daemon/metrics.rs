//! Prometheus text exposition on `GET /metrics` (off unless
//! `--metrics-addr` is given; meant for loopback or the pod network).
//! Values are read from the same counters `sfcctl` shows.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Mutex, Weak};
use std::time::Duration;

use super::service::Daemon;
use super::views;
use crate::switch::DropReason;

/// Serves until the process ends; one short-lived thread per scrape.
pub fn serve(listener: TcpListener, daemon: Weak<Mutex<Daemon>>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let d = daemon.clone();
        let _ = std::thread::Builder::new()
            .name("sfc-metrics".into())
            .spawn(move || answer(stream, &d));
    }
}

fn answer(stream: TcpStream, daemon: &Weak<Mutex<Daemon>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut request = String::new();
    if reader.by_ref().take(8192).read_line(&mut request).is_err() {
        return;
    }
    // Skip the headers (bounded).
    for _ in 0..100 {
        let mut h = String::new();
        match reader.by_ref().take(8192).read_line(&mut h) {
            Ok(0) | Err(_) => break,
            Ok(_) if h.trim().is_empty() => break,
            Ok(_) => {}
        }
    }
    let mut parts = request.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, body) = if method != "GET" {
        ("405 Method Not Allowed", "only GET\n".to_owned())
    } else if path != "/metrics" {
        ("404 Not Found", "metrics are at /metrics\n".to_owned())
    } else {
        match daemon.upgrade() {
            Some(d) => (
                "200 OK",
                render(&d.lock().unwrap_or_else(|e| e.into_inner())),
            ),
            None => ("503 Service Unavailable", "shutting down\n".to_owned()),
        }
    };
    let _ = write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// Escapes a label value (Prometheus text format).
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let l: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", esc(v)))
            .collect();
        if l.is_empty() {
            let _ = writeln!(self.out, "{name} {value}");
        } else {
            let _ = writeln!(self.out, "{name}{{{}}} {value}", l.join(","));
        }
    }
}

/// The whole exposition.
pub fn render(d: &Daemon) -> String {
    let mut out = String::new();
    let mut f = Family { out: &mut out };
    let engine = &d.engine;
    let ports = views::ports(engine, d.programmed(), d.devargs(), d.offloader());

    f.head(
        "sfcd_up",
        "gauge",
        "1 while the dataplane is up and every worker polled in the last second.",
    );
    let status = views::status(engine, &d.store.node().name, 0);
    f.sample("sfcd_up", &[], u8::from(status.ready));
    f.head(
        "sfcd_forwarding_generation",
        "gauge",
        "Publication number of the forwarding state.",
    );
    f.sample("sfcd_forwarding_generation", &[], status.generation);

    f.head(
        "sfcd_port_rx_packets_total",
        "counter",
        "Frames received on a port.",
    );
    for p in &ports {
        f.sample(
            "sfcd_port_rx_packets_total",
            &[("port", &p.name)],
            p.rx_packets,
        );
    }
    f.head(
        "sfcd_port_tx_packets_total",
        "counter",
        "Frames sent on a port.",
    );
    for p in &ports {
        f.sample(
            "sfcd_port_tx_packets_total",
            &[("port", &p.name)],
            p.tx_packets,
        );
    }
    f.head(
        "sfcd_port_rx_bytes_total",
        "counter",
        "Bytes received on a port (driver count).",
    );
    for p in &ports {
        f.sample("sfcd_port_rx_bytes_total", &[("port", &p.name)], p.rx_bytes);
    }
    f.head(
        "sfcd_port_tx_bytes_total",
        "counter",
        "Bytes sent on a port (driver count).",
    );
    for p in &ports {
        f.sample("sfcd_port_tx_bytes_total", &[("port", &p.name)], p.tx_bytes);
    }
    f.head(
        "sfcd_port_drops_total",
        "counter",
        "Frames dropped, by port and reason.",
    );
    for p in &ports {
        for r in DropReason::ALL {
            let n = p.drops.get(r.name()).copied().unwrap_or(0);
            f.sample(
                "sfcd_port_drops_total",
                &[("port", &p.name), ("reason", r.name())],
                n,
            );
        }
    }
    f.head(
        "sfcd_port_link_up",
        "gauge",
        "1 when the port's link is up.",
    );
    for p in &ports {
        f.sample(
            "sfcd_port_link_up",
            &[("port", &p.name)],
            u8::from(p.link_up),
        );
    }

    // Per switch and per chain: frames that entered the switch and were
    // forwarded (received minus dropped on arrival), and driver bytes.
    let mut chains: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    f.head(
        "sfcd_switch_packets_total",
        "counter",
        "Frames forwarded by a switch.",
    );
    let mut switch_rows = Vec::new();
    for p in d.programmed() {
        let (mut pk, mut by) = (0u64, 0u64);
        for (name, id) in &p.ports {
            let t = engine.port_totals(*id);
            pk += t.rx_packets - (t.total_drops() - t.dropped(DropReason::TxFull));
            by += engine
                .port(name)
                .and_then(|x| x.stats().ok())
                .map_or(0, |s| s.rx_bytes);
        }
        let chain = format!("{}/{}", p.desired.chain.namespace, p.desired.chain.name);
        let e = chains.entry(chain.clone()).or_default();
        e.0 += pk;
        e.1 += by;
        switch_rows.push((chain, p.desired.index.to_string(), pk, by));
    }
    for (c, s, pk, _) in &switch_rows {
        f.sample(
            "sfcd_switch_packets_total",
            &[("chain", c), ("switch", s)],
            pk,
        );
    }
    f.head(
        "sfcd_switch_bytes_total",
        "counter",
        "Bytes received by a switch's ports (driver count).",
    );
    for (c, s, _, by) in &switch_rows {
        f.sample(
            "sfcd_switch_bytes_total",
            &[("chain", c), ("switch", s)],
            by,
        );
    }
    f.head(
        "sfcd_chain_packets_total",
        "counter",
        "Frames forwarded by all switches of a chain.",
    );
    for (c, (pk, _)) in &chains {
        f.sample("sfcd_chain_packets_total", &[("chain", c)], pk);
    }
    f.head(
        "sfcd_chain_bytes_total",
        "counter",
        "Bytes received by all ports of a chain (driver count).",
    );
    for (c, (_, by)) in &chains {
        f.sample("sfcd_chain_bytes_total", &[("chain", c)], by);
    }

    f.head(
        "sfcd_learned_macs",
        "gauge",
        "MACs currently learned by a learning switch.",
    );
    let state = engine.state();
    for sw in state.switches() {
        f.sample("sfcd_learned_macs", &[("switch", &sw.name)], sw.table.len());
    }
    let ws = engine.worker_stats();
    let sum = |g: fn(&crate::engine::WorkerStats) -> u64| ws.iter().map(|w| g(w)).sum::<u64>();
    f.head("sfcd_macs_learned_total", "counter", "New MACs learned.");
    f.sample(
        "sfcd_macs_learned_total",
        &[],
        sum(|w| w.macs_learned.get()),
    );
    f.head(
        "sfcd_macs_moved_total",
        "counter",
        "Learned MACs that moved to another port.",
    );
    f.sample("sfcd_macs_moved_total", &[], sum(|w| w.macs_moved.get()));
    f.head(
        "sfcd_mac_table_full_total",
        "counter",
        "Source MACs not learned because the table was full.",
    );
    f.sample(
        "sfcd_mac_table_full_total",
        &[],
        sum(|w| w.mac_table_full.get()),
    );

    f.head(
        "sfcd_flows",
        "gauge",
        "Flows by where they are forwarded: offloaded, software or failed.",
    );
    let flows = views::flows(engine, d.programmed(), &Default::default(), d.offloader());
    let mut by_state: BTreeMap<&str, u64> = [("offloaded", 0), ("software", 0), ("failed", 0)]
        .into_iter()
        .collect();
    for fl in &flows.flows {
        *by_state.entry(fl.offload.as_str()).or_default() += 1;
    }
    for (s, n) in &by_state {
        f.sample("sfcd_flows", &[("offload", s)], n);
    }

    f.head(
        "sfcd_worker_busy_ratio",
        "gauge",
        "Polls that found packets over all polls, since start.",
    );
    for w in &status.workers {
        f.sample(
            "sfcd_worker_busy_ratio",
            &[("worker", &w.index.to_string())],
            format!("{:.6}", w.busy_ratio),
        );
    }
    f.head(
        "sfcd_worker_polls_total",
        "counter",
        "Poll loops run by a worker.",
    );
    for (i, w) in ws.iter().enumerate() {
        f.sample(
            "sfcd_worker_polls_total",
            &[("worker", &i.to_string())],
            w.polls.get(),
        );
    }
    f.head(
        "sfcd_worker_last_poll_age_seconds",
        "gauge",
        "Time since a worker's last (published) poll loop.",
    );
    for w in &status.workers {
        f.sample(
            "sfcd_worker_last_poll_age_seconds",
            &[("worker", &w.index.to_string())],
            format!("{:.3}", w.last_poll_age_ms as f64 / 1000.0),
        );
    }

    f.head(
        "sfcd_control_op_duration_seconds",
        "summary",
        "Time to answer control socket operations.",
    );
    for (op, (count, secs)) in d.op_stats() {
        f.sample(
            "sfcd_control_op_duration_seconds_count",
            &[("op", op)],
            count,
        );
        f.sample(
            "sfcd_control_op_duration_seconds_sum",
            &[("op", op)],
            format!("{secs:.6}"),
        );
    }
    out
}
