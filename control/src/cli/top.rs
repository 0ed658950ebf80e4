//! `sfcctl top` (and `stats`, `stats --watch`): live rates per port and per
//! switch. Every interval sfcctl asks for `ports` and `flows` and turns the
//! difference between two successive answers into rates ([`rates`]); the
//! rendering ([`frame`], [`frame_json`]) is pure so it can be tested with
//! fixed inputs. The loop ([`run`]) writes one frame per interval: after
//! clearing the screen when stdout is a terminal, appended otherwise.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::client::Client;
use super::render::{table, Align};
use super::{Cli, Failure, Output, EXIT_ERROR};
use crate::protocol::{FlowFilter, FlowTable, PortView, Request};

/// The shortest interval accepted (each sample takes sfcd's lock twice).
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// What the terminal is told before each frame: cursor home, clear screen.
pub const CLEAR: &str = "\x1b[H\x1b[2J";

/// One sample: the answers to `ports` and `flows`, and when they came.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub ports: Vec<PortView>,
    pub flows: FlowTable,
}

/// A port's rates over one interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortRates {
    pub name: String,
    pub link_up: bool,
    /// `ns/chain switch N`, if the port is in a switch.
    pub switch: Option<String>,
    pub rx_pps: f64,
    pub tx_pps: f64,
    /// Bits per second from the driver's byte counters.
    pub rx_bps: f64,
    pub tx_bps: f64,
    /// Every drop reason together.
    pub drop_pps: f64,
    /// Per reason, only reasons with drops in the interval.
    pub drops_pps: BTreeMap<String, f64>,
}

/// A switch's rates over one interval (from its flows' packet counters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwitchRates {
    /// `namespace/name` of the per-node ServiceChain.
    pub chain: String,
    pub switch: usize,
    /// The switch's ports (from `ports`), in name order.
    pub ports: Vec<String>,
    /// Flows of the switch (learned MACs included).
    pub flows: usize,
    /// Frames forwarded.
    pub pps: f64,
    /// Frames its drop flows dropped (a switch left with one port).
    pub drop_pps: f64,
}

/// Sums over all ports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub rx_pps: f64,
    pub tx_pps: f64,
    pub drop_pps: f64,
}

/// One interval: what `top` shows and `-o json` prints (one object per
/// interval).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// Seconds between the two samples.
    pub interval_s: f64,
    /// Generation of the forwarding state at the second sample.
    pub generation: u64,
    pub totals: Totals,
    pub ports: Vec<PortRates>,
    pub switches: Vec<SwitchRates>,
}

fn per_sec(now: u64, before: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        // A counter that went back (sfcd restarted, the port was detached
        // and attached again) counts as no traffic, not a negative rate.
        now.saturating_sub(before) as f64 / secs
    } else {
        0.0
    }
}

/// A flow's identity across samples.
fn flow_key(f: &crate::protocol::FlowView) -> (String, usize, String, String, String) {
    (
        f.chain.clone(),
        f.switch,
        f.kind.clone(),
        f.in_port.clone(),
        f.matches.clone(),
    )
}

/// The rates between two samples `secs` apart. A port or flow that is not
/// in `before` (attached or programmed in between) shows 0 for this
/// interval: its counters cannot be told apart from traffic before it
/// existed. Ports go in `after`'s order, switches by chain and index.
pub fn rates(before: &Sample, after: &Sample, secs: f64) -> Frame {
    let mut totals = Totals::default();
    let ports: Vec<PortRates> = after
        .ports
        .iter()
        .map(|p| {
            let b = before.ports.iter().find(|x| x.name == p.name);
            let r = |now: u64, then: fn(&PortView) -> u64| match b {
                Some(b) => per_sec(now, then(b), secs),
                None => 0.0,
            };
            let mut drops_pps = BTreeMap::new();
            let mut drop_pps = 0.0;
            for (reason, n) in &p.drops {
                let then = b.and_then(|b| b.drops.get(reason)).copied();
                let rate = then.map_or(0.0, |t| per_sec(*n, t, secs));
                if rate > 0.0 {
                    drops_pps.insert(reason.clone(), rate);
                    drop_pps += rate;
                }
            }
            let pr = PortRates {
                name: p.name.clone(),
                link_up: p.link_up,
                switch: p.switch.clone(),
                rx_pps: r(p.rx_packets, |b| b.rx_packets),
                tx_pps: r(p.tx_packets, |b| b.tx_packets),
                rx_bps: r(p.rx_bytes, |b| b.rx_bytes) * 8.0,
                tx_bps: r(p.tx_bytes, |b| b.tx_bytes) * 8.0,
                drop_pps,
                drops_pps,
            };
            totals.rx_pps += pr.rx_pps;
            totals.tx_pps += pr.tx_pps;
            totals.drop_pps += pr.drop_pps;
            pr
        })
        .collect();

    let then: BTreeMap<_, u64> = before
        .flows
        .flows
        .iter()
        .map(|f| (flow_key(f), f.packets))
        .collect();
    let mut switches: BTreeMap<(String, usize), SwitchRates> = BTreeMap::new();
    for f in after.flows.flows.iter().filter(|f| !f.chain.is_empty()) {
        let s = switches
            .entry((f.chain.clone(), f.switch))
            .or_insert_with(|| SwitchRates {
                chain: f.chain.clone(),
                switch: f.switch,
                ports: after
                    .ports
                    .iter()
                    .filter(|p| {
                        p.switch.as_deref() == Some(&format!("{} switch {}", f.chain, f.switch))
                    })
                    .map(|p| p.name.clone())
                    .collect(),
                flows: 0,
                pps: 0.0,
                drop_pps: 0.0,
            });
        s.flows += 1;
        let rate = then
            .get(&flow_key(f))
            .map_or(0.0, |t| per_sec(f.packets, *t, secs));
        if f.kind == "drop" {
            s.drop_pps += rate;
        } else {
            s.pps += rate;
        }
    }
    let mut switches: Vec<SwitchRates> = switches.into_values().collect();
    for s in &mut switches {
        s.ports.sort();
    }
    Frame {
        interval_s: secs,
        generation: after.flows.generation,
        totals,
        ports,
        switches,
    }
}

/// A rate the way `top` prints it: `0`, `7.5`, `950`, `12.3k`, `1.49M`,
/// `9.41G`.
pub fn si(v: f64) -> String {
    let v = if v.is_finite() && v > 0.0 { v } else { 0.0 };
    if v == 0.0 {
        "0".into()
    } else if v < 9.95 {
        format!("{v:.1}")
    } else if v < 999.5 {
        format!("{v:.0}")
    } else if v < 999_950.0 {
        format!("{:.1}k", v / 1e3)
    } else if v < 999_995_000.0 {
        format!("{:.2}M", v / 1e6)
    } else {
        format!("{:.2}G", v / 1e9)
    }
}

/// One frame as text: a summary line, the ports, the switches. `wide`
/// adds the drop rate of each reason.
pub fn frame(f: &Frame, wide: bool) -> String {
    let mut out = format!(
        "interval {:.1}s   generation {}   rx {}pps   tx {}pps   drops {}/s\n\n",
        f.interval_s,
        f.generation,
        si(f.totals.rx_pps),
        si(f.totals.tx_pps),
        si(f.totals.drop_pps)
    );
    if f.ports.is_empty() {
        out.push_str("No ports.\n");
    } else {
        let mut header = vec![
            ("PORT", Align::Left),
            ("LINK", Align::Left),
            ("SWITCH", Align::Left),
            ("RX-PPS", Align::Right),
            ("TX-PPS", Align::Right),
            ("RX-BPS", Align::Right),
            ("TX-BPS", Align::Right),
            ("DROP/S", Align::Right),
        ];
        if wide {
            header.push(("DROP-REASONS", Align::Left));
        }
        let rows: Vec<Vec<String>> = f
            .ports
            .iter()
            .map(|p| {
                let mut row = vec![
                    p.name.clone(),
                    if p.link_up { "up" } else { "down" }.to_string(),
                    p.switch.clone().unwrap_or_else(|| "-".into()),
                    si(p.rx_pps),
                    si(p.tx_pps),
                    si(p.rx_bps),
                    si(p.tx_bps),
                    si(p.drop_pps),
                ];
                if wide {
                    let reasons: Vec<String> = p
                        .drops_pps
                        .iter()
                        .map(|(r, v)| format!("{r}={}", si(*v)))
                        .collect();
                    row.push(if reasons.is_empty() {
                        "-".into()
                    } else {
                        reasons.join(",")
                    });
                }
                row
            })
            .collect();
        out.push_str(&table(&header, &rows));
    }
    out.push('\n');
    if f.switches.is_empty() {
        out.push_str("No switches.\n");
    } else {
        let rows: Vec<Vec<String>> = f
            .switches
            .iter()
            .map(|s| {
                vec![
                    s.chain.clone(),
                    s.switch.to_string(),
                    if s.ports.is_empty() {
                        "-".into()
                    } else {
                        s.ports.join(",")
                    },
                    s.flows.to_string(),
                    si(s.pps),
                    si(s.drop_pps),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                ("CHAIN", Align::Left),
                ("SWITCH", Align::Right),
                ("PORTS", Align::Left),
                ("FLOWS", Align::Right),
                ("PPS", Align::Right),
                ("DROP/S", Align::Right),
            ],
            &rows,
        ));
    }
    out
}

/// One frame as one line of JSON (`-o json`: a line per interval, for
/// `jq` and scripts).
pub fn frame_json(f: &Frame) -> String {
    let mut s = serde_json::to_string(f).unwrap_or_default();
    s.push('\n');
    s
}

/// One frame as a YAML document (`-o yaml`), starting with `---`.
pub fn frame_yaml(f: &Frame) -> String {
    let mut s = String::from("---\n");
    s.push_str(&serde_yaml::to_string(f).unwrap_or_default());
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// The text written for frame number `n` (0-based): cleared screen on a
/// terminal, a blank line between appended frames otherwise.
pub fn output(f: &Frame, n: u64, format: Output, tty: bool) -> String {
    match format {
        Output::Json => frame_json(f),
        Output::Yaml => frame_yaml(f),
        Output::Table | Output::Wide | Output::Testpmd => {
            let body = frame(f, format == Output::Wide);
            if tty {
                format!("{CLEAR}{body}")
            } else if n > 0 {
                format!("\n{body}")
            } else {
                body
            }
        }
    }
}

fn sample(client: &mut Client) -> Result<(Sample, Instant), Failure> {
    let ports = client.call(&Request::Ports)?;
    let at = Instant::now();
    let flows = client.call(&Request::Flows(FlowFilter::default()))?;
    let ports: Vec<PortView> =
        serde_json::from_value(ports).map_err(|e| super::bad_result("ports", e))?;
    let flows: FlowTable =
        serde_json::from_value(flows).map_err(|e| super::bad_result("flows", e))?;
    Ok((Sample { ports, flows }, at))
}

/// Samples every `interval` and writes a frame per interval, `count`
/// frames (None: until interrupted). A closed stdout (`| head`) ends it
/// quietly.
pub fn run(
    cli: &Cli,
    interval: Duration,
    count: Option<u64>,
    out: &mut dyn Write,
    tty: bool,
) -> Result<(), Failure> {
    let mut client = Client::connect(&cli.socket, cli.answer_timeout())?;
    let (mut before, mut at) = sample(&mut client)?;
    let start = Instant::now();
    let mut n: u64 = 0;
    while count.is_none_or(|c| n < c) {
        // Ticks are kept on a fixed schedule, so a slow answer does not
        // make every later frame late.
        let tick = start + interval.saturating_mul(u32::try_from(n + 1).unwrap_or(u32::MAX));
        if let Some(wait) = tick.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let (after, now) = sample(&mut client)?;
        let f = rates(&before, &after, now.duration_since(at).as_secs_f64());
        let text = output(&f, n, cli.output, tty);
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => {
                return Err(Failure {
                    code: EXIT_ERROR,
                    message: format!("sfcctl: writing the output: {e}"),
                    partial: String::new(),
                })
            }
        }
        (before, at) = (after, now);
        n += 1;
    }
    Ok(())
}
