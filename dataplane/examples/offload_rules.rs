//! Prints, one per line, the `dpdk-testpmd` `flow create` command of every
//! hardware rule sfcd makes for the given DPF YAML files (resolved as on a
//! node labelled `bfb=dk` with dataplane ports p0, p1, ovn, p0_if, p1_if,
//! pf2dpu3_if = DPDK ports 0..5, port 0 the E-Switch proxy, as on a
//! BlueField), then for a 3-port learning switch over ports 0..2 with
//! learned MACs. ci/flow-syntax feeds them to testpmd.
//!
//! cargo run --release --example offload_rules -p sfc-dataplane -- FILE.yaml...

use std::process::ExitCode;
use std::sync::Arc;

use sfc_control::{Labels, NodeInfo, Store};
use sfc_dataplane::offload::{learned_from_tables, translate, PortTopo, Topology};
use sfc_dataplane::switch::{ForwardingState, MacAddr, StateConfig, SwitchSpec};

const PORTS: [&str; 6] = ["p0", "p1", "ovn", "p0_if", "p1_if", "pf2dpu3_if"];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("offload_rules: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        return Err("usage: offload_rules FILE.yaml...".into());
    }
    let mut labels = Labels::new();
    labels.insert("bfb".into(), "dk".into());
    let mut store = Store::new(NodeInfo::new("dpu-dk", labels));
    store.set_dataplane_ports(PORTS.iter().map(|p| (*p).to_owned()).collect());
    for f in &files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?;
        store.apply(&text).map_err(|e| format!("{f}: {e}"))?;
    }
    let id = |name: &str| PORTS.iter().position(|p| *p == name).map(|i| i as u16);
    // As the daemon labels and binds them.
    let specs: Vec<SwitchSpec> = store
        .desired_switches()
        .iter()
        .map(|d| SwitchSpec {
            name: format!("{}/{} switch {}", d.chain.namespace, d.chain.name, d.index),
            ports: d.ports.iter().filter_map(|n| id(n)).collect(),
            mtu: d.mtu,
        })
        .filter(|s| !s.ports.is_empty())
        .collect();
    let mut topo = Topology::default();
    for (i, name) in PORTS.iter().enumerate() {
        topo.insert(
            i as u16,
            PortTopo {
                name: Arc::from(*name),
                proxy: 0,
                domain: Some(0),
            },
        );
    }
    let seed = ForwardingState::build(&specs, None, StateConfig::default())
        .map_err(|e| format!("seed chains: {e}"))?;
    let seed_rules = print_rules(&seed, &topo);

    let ls = ForwardingState::build(
        &[SwitchSpec {
            name: "flow-syntax/learning switch 0".into(),
            ports: vec![0, 1, 2],
            mtu: 1500,
        }],
        None,
        StateConfig::default(),
    )
    .map_err(|e| format!("learning switch: {e}"))?;
    let table = &ls.switches()[0].table;
    for (mac, port) in [
        ("02:00:00:00:00:0a", 0),
        ("02:00:00:00:00:0b", 1),
        ("02:00:00:00:00:0c", 2),
        ("0a:1b:2c:3d:4e:5f", 1),
    ] {
        let m: MacAddr = mac.parse()?;
        table.learn(m, port, 0);
    }
    let ls_rules = print_rules(&ls, &topo);
    eprintln!(
        "offload_rules: {} switches from {} files -> {seed_rules} rules; learning switch with 4 MACs -> {ls_rules} rules",
        specs.len(),
        files.len()
    );
    Ok(())
}

fn print_rules(state: &ForwardingState, topo: &Topology) -> usize {
    let mut n = 0;
    for d in translate(state, topo, &learned_from_tables(state)) {
        match d.flow {
            Ok(f) => {
                println!("{}", f.testpmd());
                n += 1;
            }
            Err(why) => eprintln!("# {}: software ({why})", d.key),
        }
    }
    n
}
