//! Text rendering of control-socket results: pure functions from the
//! protocol's types to the exact text `sfcctl` prints, so every table can
//! be tested without a socket. Tables are kubectl-like: upper-case headers,
//! columns separated by three spaces, counters right-aligned, no trailing
//! spaces.

use serde_json::Value;

use crate::conditions::{age, parse_rfc3339, ConditionStatus, READY};
use crate::model::{Kind, API_VERSION};
use crate::protocol::{FlowTable, Hello, PortView, StatusView, VERSION};
use crate::store::{ApplyAction, ApplyReport, ObjectView};

/// Column separator of every table.
const GAP: &str = "   ";

/// How a column is aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table: header, alignment per column, rows. Widths count chars, so
/// UTF-8 names line up.
pub fn table(header: &[(&str, Align)], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|(h, _)| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| -> String {
        let mut s = String::new();
        for (i, cell) in cells.enumerate() {
            let (w, align) = (
                widths.get(i).copied().unwrap_or(0),
                header.get(i).map_or(Align::Left, |h| h.1),
            );
            if i > 0 {
                s.push_str(GAP);
            }
            let pad = " ".repeat(w.saturating_sub(cell.chars().count()));
            match align {
                Align::Left => {
                    s.push_str(cell);
                    s.push_str(&pad);
                }
                Align::Right => {
                    s.push_str(&pad);
                    s.push_str(cell);
                }
            }
        }
        let mut s = s.trim_end().to_string();
        s.push('\n');
        s
    };
    let mut out = line(&mut header.iter().map(|(h, _)| *h));
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

/// Pretty JSON with a final newline (`-o json` of every command).
pub fn json(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    s.push('\n');
    s
}

/// YAML (`-o yaml` of every command): the same value as [`json`], as
/// `kubectl get -o yaml` prints it; multi-line strings become blocks.
pub fn yaml(v: &Value) -> String {
    let mut s = serde_yaml::to_string(v).unwrap_or_else(|_| json(v));
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// `dpuservicechain.svc.dpu.nvidia.com`, the way kubectl names a resource.
pub fn resource(kind: Kind) -> String {
    let group = API_VERSION.split('/').next().unwrap_or(API_VERSION);
    format!("{}.{group}", kind.as_str().to_ascii_lowercase())
}

/// kubectl's apply output: one `resource/name action` line per object,
/// then the notes about skipped documents.
pub fn apply_report(report: &ApplyReport) -> String {
    let mut out = String::new();
    for r in &report.results {
        let action = match r.action {
            ApplyAction::Created => "created",
            ApplyAction::Configured => "configured",
            ApplyAction::Unchanged => "unchanged",
        };
        out.push_str(&format!("{}/{} {action}", resource(r.kind), r.name));
        if let Some(from) = &r.converted_from {
            out.push_str(&format!(" (from {from})"));
        }
        out.push('\n');
    }
    for n in &report.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    if report.results.is_empty() && report.notes.is_empty() {
        out.push_str("nothing to apply: no objects in the input\n");
    }
    out
}

/// `resource/name deleted`.
pub fn deleted(kind: Kind, name: &str) -> String {
    format!("{}/{name} deleted\n", resource(kind))
}

/// `get`: NAMESPACE NAME READY REASON GENERATION SINCE (plus KIND first
/// when several kinds are listed; `wide` adds ON-NODE and MESSAGE). SINCE
/// is the age of the Ready condition's last transition at `now` (Unix s).
pub fn objects(views: &[ObjectView], now: i64, wide: bool, with_kind: bool) -> String {
    if views.is_empty() {
        return "No resources found.\n".to_string();
    }
    let mut header: Vec<(&str, Align)> = Vec::new();
    if with_kind {
        header.push(("KIND", Align::Left));
    }
    header.extend([
        ("NAMESPACE", Align::Left),
        ("NAME", Align::Left),
        ("READY", Align::Left),
        ("REASON", Align::Left),
        ("GENERATION", Align::Right),
        ("SINCE", Align::Right),
    ]);
    if wide {
        header.extend([("ON-NODE", Align::Left), ("MESSAGE", Align::Left)]);
    }
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|v| {
            let ready = v.status.conditions.iter().find(|c| c.type_ == READY);
            let mut row = Vec::new();
            if with_kind {
                row.push(v.kind.to_string());
            }
            row.push(v.metadata.namespace.clone());
            row.push(v.metadata.name.clone());
            row.push(ready.map_or("-".into(), |c| status_word(c.status).into()));
            row.push(ready.map_or("-".into(), |c| c.reason.as_str().into()));
            row.push(v.metadata.generation.to_string());
            row.push(
                ready
                    .and_then(|c| parse_rfc3339(&c.last_transition_time))
                    .map_or("-".into(), |t| age(now - t)),
            );
            if wide {
                row.push(on_node(v));
                row.push(message(v));
            }
            row
        })
        .collect();
    table(&header, &rows)
}

fn status_word(s: ConditionStatus) -> &'static str {
    match s {
        ConditionStatus::True => "True",
        ConditionStatus::False => "False",
        ConditionStatus::Unknown => "Unknown",
    }
}

/// The per-node object an applied object yields, itself for a per-node
/// object, or `-`.
fn on_node(v: &ObjectView) -> String {
    if let Some(n) = &v.status.on_node {
        return n.clone();
    }
    if v.metadata.owner.is_some() {
        return format!("{}/{}", v.metadata.namespace, v.metadata.name);
    }
    "-".to_string()
}

/// Why an object is not ready (its first failing condition's first line),
/// or why it yields nothing on this node.
fn message(v: &ObjectView) -> String {
    if let Some(why) = &v.status.not_on_node {
        return first_line(why);
    }
    v.status
        .conditions
        .iter()
        .find(|c| c.type_ != READY && c.status != ConditionStatus::True)
        .map(|c| first_line(&c.message))
        .unwrap_or_default()
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

/// `ports`: NAME ID DRIVER LINK SWITCH OFFLOAD RX-PKTS TX-PKTS DROPS; `wide`
/// adds SPEED, RX-BYTES, TX-BYTES, the drops by reason and the devargs.
pub fn ports(ports: &[PortView], wide: bool) -> String {
    if ports.is_empty() {
        return "No ports.\n".to_string();
    }
    let mut header = vec![
        ("NAME", Align::Left),
        ("ID", Align::Right),
        ("DRIVER", Align::Left),
        ("LINK", Align::Left),
    ];
    if wide {
        header.push(("SPEED", Align::Right));
    }
    header.extend([
        ("SWITCH", Align::Left),
        ("OFFLOAD", Align::Left),
        ("RX-PKTS", Align::Right),
        ("TX-PKTS", Align::Right),
    ]);
    if wide {
        header.extend([("RX-BYTES", Align::Right), ("TX-BYTES", Align::Right)]);
    }
    header.push(("DROPS", Align::Right));
    if wide {
        header.extend([("DROP-REASONS", Align::Left), ("DEVARGS", Align::Left)]);
    }
    let rows: Vec<Vec<String>> = ports
        .iter()
        .map(|p| {
            let mut row = vec![
                p.name.clone(),
                p.id.to_string(),
                p.driver.clone(),
                if p.link_up { "up" } else { "down" }.to_string(),
            ];
            if wide {
                row.push(speed(p.speed_mbps));
            }
            row.extend([
                p.switch.clone().unwrap_or_else(|| "-".into()),
                p.offload.clone(),
                p.rx_packets.to_string(),
                p.tx_packets.to_string(),
            ]);
            if wide {
                row.extend([p.rx_bytes.to_string(), p.tx_bytes.to_string()]);
            }
            let total = p.drops.values().fold(0u64, |a, b| a.saturating_add(*b));
            row.push(total.to_string());
            if wide {
                let reasons: Vec<String> = p
                    .drops
                    .iter()
                    .filter(|(_, n)| **n > 0)
                    .map(|(r, n)| format!("{r}={n}"))
                    .collect();
                row.push(if reasons.is_empty() {
                    "-".into()
                } else {
                    reasons.join(",")
                });
                row.push(p.devargs.clone());
            }
            row
        })
        .collect();
    table(&header, &rows)
}

/// A link speed: `100G`, `2.5G`, `100M`, `-` when unknown (0).
pub fn speed(mbps: u32) -> String {
    match mbps {
        0 => "-".into(),
        m if m >= 1000 && m % 1000 == 0 => format!("{}G", m / 1000),
        m if m >= 1000 => format!("{}G", f64::from(m) / 1000.0),
        m => format!("{m}M"),
    }
}

/// A duration in milliseconds: `250ms`, `1.2s`, `3m07s`, `2h05m00s`, `3d04h`.
pub fn duration_ms(ms: u64) -> String {
    let s = ms / 1000;
    match ms {
        0..=999 => format!("{ms}ms"),
        1000..=59_999 => format!("{}.{}s", s, (ms % 1000) / 100),
        60_000..=3_599_999 => format!("{}m{:02}s", s / 60, s % 60),
        3_600_000..=86_399_999 => format!("{}h{:02}m{:02}s", s / 3600, (s % 3600) / 60, s % 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// `flows`, like `ovs-ofctl dump-flows`: a summary line, then one line per
/// flow of `key=value` fields, each field padded so the columns line up.
/// `idle_age` appears only on flows that have one (learned MACs).
pub fn flows(t: &FlowTable) -> String {
    let mut out = format!("generation={} flows={}\n", t.generation, t.flows.len());
    let rows: Vec<[String; 9]> = t
        .flows
        .iter()
        .map(|f| {
            let matches = if f.matches.is_empty() {
                format!("in_port={}", f.in_port)
            } else {
                f.matches.clone()
            };
            [
                // Ports in no switch have a drop flow of no chain.
                format!("chain={}", if f.chain.is_empty() { "-" } else { &f.chain }),
                format!("switch={}", f.switch),
                format!("kind={}", f.kind),
                matches,
                format!("actions={}", f.action),
                format!("n_packets={}", f.packets),
                format!("n_bytes={}", f.bytes),
                f.idle_age_ms
                    .map(|ms| format!("idle_age={}", duration_ms(ms)))
                    .unwrap_or_default(),
                format!("offload={}", f.offload),
            ]
        })
        .collect();
    let mut widths = [0usize; 9];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    for r in &rows {
        let mut line = String::new();
        for (c, w) in r.iter().zip(widths) {
            if w == 0 {
                continue;
            }
            line.push(' ');
            line.push_str(c);
            line.push_str(&" ".repeat(w - c.chars().count()));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `status`: a key/value block, the workers and the ports' links.
pub fn status(s: &StatusView) -> String {
    let mut out = String::new();
    let kv = [
        ("ready", if s.ready { "yes" } else { "no" }.to_string()),
        ("node", s.node.clone()),
        ("uptime", duration_ms(s.uptime_ms)),
        ("generation", s.generation.to_string()),
    ];
    for (k, v) in kv {
        out.push_str(&format!("{:<12}{v}\n", format!("{k}:")));
    }
    out.push('\n');
    if s.workers.is_empty() {
        out.push_str("No workers.\n");
    } else {
        let rows: Vec<Vec<String>> = s
            .workers
            .iter()
            .map(|w| {
                vec![
                    w.index.to_string(),
                    w.lcore.to_string(),
                    w.core.map_or("-".into(), |c| c.to_string()),
                    duration_ms(w.last_poll_age_ms),
                    ratio(w.busy_ratio),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                ("WORKER", Align::Right),
                ("LCORE", Align::Right),
                ("CORE", Align::Right),
                ("LAST-POLL", Align::Right),
                ("BUSY", Align::Right),
            ],
            &rows,
        ));
    }
    out.push('\n');
    if s.ports.is_empty() {
        out.push_str("No ports.\n");
    } else {
        let rows: Vec<Vec<String>> = s
            .ports
            .iter()
            .map(|(name, up)| vec![name.clone(), if *up { "up" } else { "down" }.into()])
            .collect();
        out.push_str(&table(
            &[("PORT", Align::Left), ("LINK", Align::Left)],
            &rows,
        ));
    }
    out
}

/// A ratio as a percentage with one decimal; `-` when not a number.
pub fn ratio(r: f64) -> String {
    if r.is_finite() {
        format!("{:.1}%", r * 100.0)
    } else {
        "-".into()
    }
}

/// `port NAME attached (id N)` (the DPDK port id, when sfcd gives it).
pub fn attached(name: &str, id: Option<u64>) -> String {
    match id {
        Some(id) => format!("port {name} attached (id {id})\n"),
        None => format!("port {name} attached\n"),
    }
}

/// `port NAME detached`.
pub fn detached(name: &str) -> String {
    format!("port {name} detached\n")
}

/// The labels the node now has.
pub fn labels_set(labels: &std::collections::BTreeMap<String, String>) -> String {
    let list: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("node labels set: {}\n", list.join(","))
}

/// `version`: this client, and the server's hello when it was reached.
pub fn version(client: &str, hello: &Hello) -> String {
    format!(
        "client:   sfcctl {client} (protocol {VERSION})\nserver:   {} (protocol {})\nops:      {}\n",
        hello.server,
        hello.version,
        hello.ops.join(", ")
    )
}

/// `flows -o testpmd`: one `dpdk-testpmd` command per hardware rule, each
/// under a comment naming its flow, so an operator can replay it by hand.
pub fn flows_testpmd(t: &FlowTable) -> String {
    let mut out = String::new();
    for f in &t.flows {
        if f.hw_rules.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "# chain={} switch={} {} {} -> {} ({})\n",
            f.chain, f.switch, f.kind, f.matches, f.action, f.offload
        ));
        for r in &f.hw_rules {
            out.push_str(r);
            out.push('\n');
        }
    }
    if out.is_empty() {
        out.push_str("# no hardware rules\n");
    }
    out
}
