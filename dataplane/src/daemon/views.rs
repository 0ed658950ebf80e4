//! What `ports`, `flows` and `status` show, built from the engine's state
//! and counters. Read-only.

use std::collections::BTreeMap;

use sfc_control::protocol::{FlowFilter, FlowTable, FlowView, PortView, StatusView, WorkerView};
use sfc_control::DesiredSwitch;

use crate::engine::{Engine, PortTotals};
use crate::offload::{Offloader, RuleView};
use crate::switch::{DropReason, PortId};

/// A programmed switch: where it came from and its port names.
#[derive(Debug, Clone)]
pub struct Programmed {
    pub desired: DesiredSwitch,
    pub ports: Vec<(String, PortId)>,
}

impl Programmed {
    pub fn label(&self) -> String {
        format!(
            "{}/{} switch {}",
            self.desired.chain.namespace, self.desired.chain.name, self.desired.index
        )
    }

    fn chain(&self) -> String {
        format!(
            "{}/{}",
            self.desired.chain.namespace, self.desired.chain.name
        )
    }
}

fn drops_map(t: &PortTotals) -> BTreeMap<String, u64> {
    DropReason::ALL
        .iter()
        .map(|r| (r.name().to_owned(), t.dropped(*r)))
        .collect()
}

/// Frames dropped on arrival (every reason but a full TX queue, which is
/// counted on the output port).
fn ingress_drops(t: &PortTotals) -> u64 {
    t.total_drops() - t.dropped(DropReason::TxFull)
}

pub fn ports(
    engine: &Engine,
    programmed: &[Programmed],
    devargs: &BTreeMap<String, String>,
    offloader: Option<&Offloader>,
) -> Vec<PortView> {
    let mut member: BTreeMap<&str, String> = BTreeMap::new();
    for p in programmed {
        for (name, _) in &p.ports {
            member.insert(name, p.label());
        }
    }
    engine
        .ports()
        .map(|port| {
            let t = engine.port_totals(port.id());
            let hw = port.stats().unwrap_or_default();
            let link = port.link().ok();
            PortView {
                name: port.name().to_owned(),
                id: port.id(),
                devargs: devargs.get(port.name()).cloned().unwrap_or_default(),
                driver: port.info().map(|i| i.driver).unwrap_or_default(),
                link_up: link.is_some_and(|l| l.up),
                speed_mbps: link.map_or(0, |l| l.speed_mbps),
                switch: member.get(port.name()).cloned(),
                offload: offloader
                    .and_then(|o| o.port_api(port.name()))
                    .map_or("software", |api| match api.name() {
                        "none" => "software",
                        other => other,
                    })
                    .into(),
                rx_packets: t.rx_packets,
                rx_bytes: hw.rx_bytes,
                tx_packets: t.tx_packets,
                tx_bytes: hw.tx_bytes,
                drops: drops_map(&t),
            }
        })
        .collect()
}

/// Folds the hardware side into a flow: its rules' state (any `failed`
/// makes it failed, all `offloaded` make it offloaded, else software), their
/// testpmd commands, and their COUNT added to the software counters, so one
/// flow shows one truth whichever path carried the packets.
fn fold_rules(f: &mut FlowView, rules: &[&RuleView]) {
    if rules.is_empty() {
        return;
    }
    let names: Vec<&str> = rules.iter().map(|r| r.state.name()).collect();
    f.offload = if names.contains(&"failed") {
        "failed"
    } else if names.iter().all(|n| *n == "offloaded") {
        "offloaded"
    } else {
        "software"
    }
    .into();
    f.hw_rules = rules
        .iter()
        .filter(|r| !r.testpmd.is_empty())
        .map(|r| r.testpmd.to_string())
        .collect();
    f.packets += rules.iter().map(|r| r.hw_packets).sum::<u64>();
    f.bytes += rules.iter().map(|r| r.hw_bytes).sum::<u64>();
}

pub fn flows(
    engine: &Engine,
    programmed: &[Programmed],
    filter: &FlowFilter,
    offloader: Option<&Offloader>,
) -> FlowTable {
    let rules = offloader
        .map(|o| o.rules())
        .unwrap_or_else(|| Vec::new().into());
    let rules_of = |label: &str,
                    dst: Option<crate::switch::MacAddr>,
                    in_port: Option<PortId>|
     -> Vec<&RuleView> {
        rules
            .iter()
            .filter(|r| {
                &*r.key.switch == label
                    && r.key.dst == dst
                    && in_port.is_none_or(|p| r.key.in_port == p)
            })
            .collect()
    };
    let state = engine.state();
    let now = engine.now_ms();
    let mut flows = Vec::new();
    let mut in_switch = std::collections::BTreeSet::new();
    let flow = |p: &Programmed,
                kind: &str,
                in_port: &str,
                m: String,
                action: String,
                packets: u64,
                bytes: u64| FlowView {
        chain: p.chain(),
        switch: p.desired.index,
        kind: kind.into(),
        in_port: in_port.into(),
        matches: m,
        action,
        packets,
        bytes,
        idle_age_ms: None,
        offload: "software".into(),
        hw_rules: Vec::new(),
    };
    for p in programmed {
        let names: BTreeMap<PortId, &str> =
            p.ports.iter().map(|(n, id)| (*id, n.as_str())).collect();
        in_switch.extend(p.ports.iter().map(|(n, _)| n.clone()));
        match p.ports.as_slice() {
            [(a, ia)] => {
                let t = engine.port_totals(*ia);
                flows.push(flow(
                    p,
                    "drop",
                    a,
                    format!("in_port={a}"),
                    "drop (no peer)".into(),
                    t.dropped(DropReason::NoPeer),
                    0,
                ));
            }
            [(a, ia), (b, ib)] => {
                for ((x, ix), y) in [((a, ia), b), ((b, ib), a)] {
                    let t = engine.port_totals(*ix);
                    let packets = t.rx_packets - ingress_drops(&t);
                    // Bytes are the driver's count of the in port.
                    let bytes = engine
                        .port(x)
                        .and_then(|p| p.stats().ok())
                        .map_or(0, |s| s.rx_bytes);
                    let mut f = flow(
                        p,
                        "cross-connect",
                        x,
                        format!("in_port={x}"),
                        format!("output:{y}"),
                        packets,
                        bytes,
                    );
                    fold_rules(&mut f, &rules_of(&p.label(), None, Some(*ix)));
                    flows.push(f);
                }
            }
            ports => {
                let sw = state
                    .switches()
                    .iter()
                    .find(|s| s.ports.first() == ports.first().map(|(_, id)| id));
                for (x, ix) in ports {
                    let t = engine.port_totals(*ix);
                    let others: Vec<&str> = ports
                        .iter()
                        .filter(|(n, _)| n != x)
                        .map(|(n, _)| n.as_str())
                        .collect();
                    flows.push(flow(
                        p,
                        "unicast",
                        x,
                        format!("in_port={x},dl_dst=<learned>"),
                        "output:<learned port>".into(),
                        t.unicast,
                        0,
                    ));
                    flows.push(flow(
                        p,
                        "flood",
                        x,
                        format!("in_port={x},dl_dst=<unknown|multicast>"),
                        format!("flood:{}", others.join(",")),
                        t.flooded,
                        0,
                    ));
                }
                if let Some(sw) = sw {
                    let mut entries = sw.table.entries();
                    entries.sort_by_key(|e| e.mac);
                    for e in entries {
                        let Some(out) = names.get(&e.port) else {
                            continue;
                        };
                        let mut f = flow(
                            p,
                            "learned",
                            "*",
                            format!("dl_dst={}", e.mac),
                            format!("output:{out}"),
                            0,
                            0,
                        );
                        f.idle_age_ms = Some(u64::from(now.wrapping_sub(e.last_seen)));
                        fold_rules(&mut f, &rules_of(&p.label(), Some(e.mac), None));
                        flows.push(f);
                    }
                }
            }
        }
    }
    for port in engine.ports() {
        if !in_switch.contains(port.name()) {
            let t = engine.port_totals(port.id());
            flows.push(FlowView {
                chain: String::new(),
                switch: 0,
                kind: "drop".into(),
                in_port: port.name().into(),
                matches: format!("in_port={}", port.name()),
                action: "drop (no switch)".into(),
                packets: t.dropped(DropReason::NoSwitch),
                bytes: 0,
                idle_age_ms: None,
                offload: "software".into(),
                hw_rules: Vec::new(),
            });
        }
    }
    flows.retain(|f| {
        filter.chain.as_ref().is_none_or(|c| &f.chain == c)
            && filter
                .switch
                .is_none_or(|s| f.switch == s && !f.chain.is_empty())
            && filter
                .port
                .as_ref()
                .is_none_or(|p| &f.in_port == p || f.action.split([':', ',']).any(|x| x == p))
    });
    FlowTable {
        generation: state.generation(),
        flows,
    }
}

pub fn status(engine: &Engine, node: &str, uptime_ms: u64) -> StatusView {
    let now = u64::from(engine.now_ms());
    let stats = engine.worker_stats();
    let workers: Vec<WorkerView> = engine
        .worker_placement()
        .into_iter()
        .map(|(i, lcore, core)| {
            let s = &stats[i];
            let polls = s.polls.get();
            WorkerView {
                index: i,
                lcore,
                core,
                last_poll_age_ms: now.saturating_sub(s.last_poll_ms.get()),
                busy_ratio: if polls == 0 {
                    0.0
                } else {
                    s.busy_polls.get() as f64 / polls as f64
                },
            }
        })
        .collect();
    let ports: BTreeMap<String, bool> = engine
        .ports()
        .map(|p| (p.name().to_owned(), p.link().is_ok_and(|l| l.up)))
        .collect();
    StatusView {
        ready: !workers.is_empty() && workers.iter().all(|w| w.last_poll_age_ms < 1000),
        node: node.to_owned(),
        uptime_ms,
        generation: engine.state().generation(),
        workers,
        ports,
    }
}
