//! sfcctl's rendering, snapshot style: fixed protocol values in, the exact
//! text (tables, flow lines, JSON) out.

use std::collections::BTreeMap;

use serde_json::json;
use sfc_control::cli::render;
use sfc_control::conditions::{Condition, ConditionStatus, Reason};
use sfc_control::protocol::{FlowTable, FlowView, Hello, PortView, StatusView, WorkerView};
use sfc_control::store::{ApplyAction, ApplyReport, ApplyResult, ObjectView, ViewMeta, ViewStatus};
use sfc_control::{Kind, ObjectRef};

fn port(name: &str, id: u16, up: bool, switch: Option<&str>, drops: &[(&str, u64)]) -> PortView {
    PortView {
        name: name.into(),
        id,
        devargs: format!("net_ring_{name}"),
        driver: "net_ring".into(),
        link_up: up,
        speed_mbps: if up { 100_000 } else { 0 },
        switch: switch.map(str::to_string),
        offload: "software".into(),
        rx_packets: 1_000 * u64::from(id + 1),
        rx_bytes: 64_000 * u64::from(id + 1),
        tx_packets: 990 * u64::from(id + 1),
        tx_bytes: 63_360 * u64::from(id + 1),
        drops: drops.iter().map(|(r, n)| (r.to_string(), *n)).collect(),
    }
}

fn ports() -> Vec<PortView> {
    vec![
        port(
            "p0",
            0,
            true,
            Some("dpf/hbn-dpu1 switch 0"),
            &[("no-peer", 3), ("tx-full", 7)],
        ),
        port("pf0vf10", 11, false, None, &[("runt", 0)]),
    ]
}

fn flow(
    chain: &str,
    switch: usize,
    kind: &str,
    in_port: &str,
    m: &str,
    action: &str,
    pk: u64,
) -> FlowView {
    FlowView {
        chain: chain.into(),
        switch,
        kind: kind.into(),
        in_port: in_port.into(),
        matches: m.into(),
        action: action.into(),
        packets: pk,
        bytes: pk * 64,
        idle_age_ms: None,
        offload: "offloaded".into(),
        hw_rules: vec![format!("flow create 0 transfer pattern represented_port ethdev_port_id is 0 / end actions represented_port ethdev_port_id 1 / count / end")],
    }
}

fn flow_table() -> FlowTable {
    let p0 = "in_port=p0";
    let learned_match = "in_port=pf0hpf,dl_dst=02:00:00:00:00:0a";
    FlowTable {
        generation: 7,
        flows: vec![
            flow(
                "dpf/hbn-dpu1",
                0,
                "cross-connect",
                "p0",
                p0,
                "output:p0_if",
                10,
            ),
            flow(
                "dpf/hbn-dpu1",
                0,
                "cross-connect",
                "p0_if",
                "in_port=p0_if",
                "output:p0",
                1234,
            ),
            FlowView {
                idle_age_ms: Some(1234),
                offload: "software".into(),
                hw_rules: Vec::new(),
                ..flow(
                    "dpf/ovn-dpu1",
                    1,
                    "learned",
                    "pf0hpf",
                    learned_match,
                    "output:ovn",
                    5,
                )
            },
            FlowView {
                offload: "failed".into(),
                ..flow("dpf/ovn-dpu1", 1, "flood", "pf0hpf", "", "flood:ovn,p1", 2)
            },
        ],
    }
}

fn status_view() -> StatusView {
    StatusView {
        ready: true,
        node: "dpu1".into(),
        uptime_ms: 3_723_000,
        generation: 7,
        workers: vec![
            WorkerView {
                index: 0,
                lcore: 1,
                core: Some(1),
                last_poll_age_ms: 0,
                busy_ratio: 0.125,
            },
            WorkerView {
                index: 1,
                lcore: 2,
                core: None,
                last_poll_age_ms: 1500,
                busy_ratio: 1.0,
            },
        ],
        ports: BTreeMap::from([("p0".into(), true), ("pf0vf10".into(), false)]),
    }
}

fn report() -> ApplyReport {
    let r = |kind, name: &str, action, generation| ApplyResult {
        kind,
        namespace: "dpf".into(),
        name: name.into(),
        action,
        generation,
        converted_from: None,
    };
    let mut from_deployment = r(Kind::DPUServiceChain, "dep-chain", ApplyAction::Created, 1);
    from_deployment.converted_from = Some(ObjectRef {
        kind: "DPUDeployment".into(),
        namespace: "dpf".into(),
        name: "dep".into(),
    });
    ApplyReport {
        results: vec![
            r(Kind::DPUServiceChain, "hbn", ApplyAction::Created, 1),
            r(Kind::DPUServiceInterface, "p0", ApplyAction::Configured, 2),
            r(Kind::ServiceInterface, "pf0hpf", ApplyAction::Unchanged, 1),
            from_deployment,
        ],
        notes: vec!["document 5: kind DPUService is not the dataplane's: skipped".into()],
    }
}

/// 2024-05-01T12:00:00Z
const T0: i64 = 1_714_564_800;

fn cond(type_: &str, ok: bool, reason: Reason, message: &str, time: &str) -> Condition {
    Condition {
        type_: type_.into(),
        status: if ok {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        },
        reason,
        message: message.into(),
        last_transition_time: time.into(),
        observed_generation: 1,
    }
}

fn view(
    kind: Kind,
    ns: &str,
    name: &str,
    generation: i64,
    conditions: Vec<Condition>,
) -> ObjectView {
    ObjectView {
        api_version: "svc.dpu.nvidia.com/v1alpha1".into(),
        kind,
        metadata: ViewMeta {
            name: name.into(),
            namespace: ns.into(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            generation,
            owner: None,
            converted_from: None,
        },
        spec: json!({}),
        status: ViewStatus {
            conditions,
            observed_generation: generation,
            ..ViewStatus::default()
        },
    }
}

fn views() -> Vec<ObjectView> {
    let mut hbn = view(
        Kind::DPUServiceChain,
        "dpf",
        "hbn",
        2,
        vec![
            cond(
                "Ready",
                false,
                Reason::Pending,
                "The following conditions are not ready:\n* ServiceChainSetReady",
                "2024-05-01T11:59:15Z",
            ),
            cond(
                "ServiceChainSetReconciled",
                true,
                Reason::Success,
                "",
                "2024-05-01T11:00:00Z",
            ),
            cond(
                "ServiceChainSetReady",
                false,
                Reason::Pending,
                "ServiceChain dpf/hbn-dpu1 is not ready: Error occurred: port p9 not found\nmore",
                "2024-05-01T11:59:15Z",
            ),
        ],
    );
    hbn.status.on_node = Some("dpf/hbn-dpu1".into());
    let mut other = view(
        Kind::DPUServiceChain,
        "tenant-a",
        "elsewhere",
        1,
        vec![cond(
            "Ready",
            true,
            Reason::Success,
            "",
            "2024-04-28T12:00:00Z",
        )],
    );
    other.status.not_on_node = Some("nodeSelector does not match node dpu1".into());
    let mut per_node = view(Kind::ServiceChain, "dpf", "hbn-dpu1", 2, vec![]);
    per_node.metadata.owner = Some(ObjectRef {
        kind: "DPUServiceChain".into(),
        namespace: "dpf".into(),
        name: "hbn".into(),
    });
    vec![hbn, other, per_node]
}

#[test]
fn apply_prints_one_kubectl_line_per_object_then_the_notes() {
    assert_eq!(
        render::apply_report(&report()),
        "\
dpuservicechain.svc.dpu.nvidia.com/hbn created
dpuserviceinterface.svc.dpu.nvidia.com/p0 configured
serviceinterface.svc.dpu.nvidia.com/pf0hpf unchanged
dpuservicechain.svc.dpu.nvidia.com/dep-chain created (from DPUDeployment dpf/dep)
note: document 5: kind DPUService is not the dataplane's: skipped
"
    );
    assert_eq!(
        render::apply_report(&ApplyReport::default()),
        "nothing to apply: no objects in the input\n"
    );
}

#[test]
fn apply_json_is_the_report_as_the_server_sends_it() {
    let mut r = report();
    r.results.truncate(1);
    r.notes.clear();
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(
        render::json(&v),
        r#"{
  "notes": [],
  "results": [
    {
      "action": "created",
      "generation": 1,
      "kind": "DPUServiceChain",
      "name": "hbn",
      "namespace": "dpf"
    }
  ]
}
"#
    );
}

#[test]
fn get_table_shows_ready_reason_generation_and_since() {
    assert_eq!(
        render::objects(&views(), T0, false, false),
        "\
NAMESPACE   NAME        READY   REASON    GENERATION   SINCE
dpf         hbn         False   Pending            2     45s
tenant-a    elsewhere   True    Success            1      3d
dpf         hbn-dpu1    -       -                  2       -
"
    );
}

#[test]
fn get_wide_of_all_kinds_adds_kind_node_object_and_the_failing_message() {
    assert_eq!(
        render::objects(&views(), T0, true, true),
        "\
KIND              NAMESPACE   NAME        READY   REASON    GENERATION   SINCE   ON-NODE        MESSAGE
DPUServiceChain   dpf         hbn         False   Pending            2     45s   dpf/hbn-dpu1   ServiceChain dpf/hbn-dpu1 is not ready: Error occurred: port p9 not found
DPUServiceChain   tenant-a    elsewhere   True    Success            1      3d   -              nodeSelector does not match node dpu1
ServiceChain      dpf         hbn-dpu1    -       -                  2       -   dpf/hbn-dpu1
"
    );
    assert_eq!(
        render::objects(&[], T0, false, false),
        "No resources found.\n"
    );
}

#[test]
fn ports_table_sums_drops() {
    assert_eq!(
        render::ports(&ports(), false),
        "\
NAME      ID   DRIVER     LINK   SWITCH                  OFFLOAD    RX-PKTS   TX-PKTS   DROPS
p0         0   net_ring   up     dpf/hbn-dpu1 switch 0   software      1000       990      10
pf0vf10   11   net_ring   down   -                       software     12000     11880       0
"
    );
    assert_eq!(render::ports(&[], false), "No ports.\n");
}

#[test]
fn ports_wide_adds_speed_bytes_drop_reasons_and_devargs() {
    assert_eq!(
        render::ports(&ports(), true),
        "\
NAME      ID   DRIVER     LINK   SPEED   SWITCH                  OFFLOAD    RX-PKTS   TX-PKTS   RX-BYTES   TX-BYTES   DROPS   DROP-REASONS          DEVARGS
p0         0   net_ring   up      100G   dpf/hbn-dpu1 switch 0   software      1000       990      64000      63360      10   no-peer=3,tx-full=7   net_ring_p0
pf0vf10   11   net_ring   down       -   -                       software     12000     11880     768000     760320       0   -                     net_ring_pf0vf10
"
    );
}

#[test]
fn ports_json_is_the_raw_port_list() {
    let mut p = ports();
    p.truncate(1);
    assert_eq!(
        render::json(&serde_json::to_value(&p).unwrap()),
        r#"[
  {
    "devargs": "net_ring_p0",
    "driver": "net_ring",
    "drops": {
      "no-peer": 3,
      "tx-full": 7
    },
    "id": 0,
    "link_up": true,
    "name": "p0",
    "offload": "software",
    "rx_bytes": 64000,
    "rx_packets": 1000,
    "speed_mbps": 100000,
    "switch": "dpf/hbn-dpu1 switch 0",
    "tx_bytes": 63360,
    "tx_packets": 990
  }
]
"#
    );
}

#[test]
fn flows_are_aligned_key_value_lines_like_dump_flows() {
    assert_eq!(
        render::flows(&flow_table()),
        "\
generation=7 flows=4
 chain=dpf/hbn-dpu1 switch=0 kind=cross-connect in_port=p0                              actions=output:p0_if n_packets=10   n_bytes=640                 offload=offloaded
 chain=dpf/hbn-dpu1 switch=0 kind=cross-connect in_port=p0_if                           actions=output:p0    n_packets=1234 n_bytes=78976               offload=offloaded
 chain=dpf/ovn-dpu1 switch=1 kind=learned       in_port=pf0hpf,dl_dst=02:00:00:00:00:0a actions=output:ovn   n_packets=5    n_bytes=320   idle_age=1.2s offload=software
 chain=dpf/ovn-dpu1 switch=1 kind=flood         in_port=pf0hpf                          actions=flood:ovn,p1 n_packets=2    n_bytes=128                 offload=failed
"
    );
}

#[test]
fn flows_without_idle_ages_have_no_gap_for_them() {
    let mut t = flow_table();
    t.flows.truncate(1);
    assert_eq!(
        render::flows(&t),
        "generation=7 flows=1\n chain=dpf/hbn-dpu1 switch=0 kind=cross-connect in_port=p0 actions=output:p0_if n_packets=10 n_bytes=640 offload=offloaded\n"
    );
    let no_switch = FlowTable {
        generation: 1,
        flows: vec![FlowView {
            offload: "software".into(),
            hw_rules: Vec::new(),
            ..flow("", 0, "drop", "p9", "in_port=p9", "drop (no switch)", 3)
        }],
    };
    assert_eq!(
        render::flows(&no_switch),
        "generation=1 flows=1\n chain=- switch=0 kind=drop in_port=p9 actions=drop (no switch) n_packets=3 n_bytes=192 offload=software\n"
    );
    assert_eq!(
        render::flows(&FlowTable::default()),
        "generation=0 flows=0\n"
    );
}

#[test]
fn flows_json_renames_matches_to_match() {
    let mut t = flow_table();
    t.flows.truncate(1);
    assert_eq!(
        render::json(&serde_json::to_value(&t).unwrap()),
        r#"{
  "flows": [
    {
      "action": "output:p0_if",
      "bytes": 640,
      "chain": "dpf/hbn-dpu1",
      "hw_rules": [
        "flow create 0 transfer pattern represented_port ethdev_port_id is 0 / end actions represented_port ethdev_port_id 1 / count / end"
      ],
      "idle_age_ms": null,
      "in_port": "p0",
      "kind": "cross-connect",
      "match": "in_port=p0",
      "offload": "offloaded",
      "packets": 10,
      "switch": 0
    }
  ],
  "generation": 7
}
"#
    );
}

#[test]
fn status_shows_readiness_workers_and_links() {
    assert_eq!(
        render::status(&status_view()),
        "\
ready:      yes
node:       dpu1
uptime:     1h02m03s
generation: 7

WORKER   LCORE   CORE   LAST-POLL     BUSY
     0       1      1         0ms    12.5%
     1       2      -        1.5s   100.0%

PORT      LINK
p0        up
pf0vf10   down
"
    );
}

#[test]
fn status_without_workers_or_ports_says_so() {
    let mut s = status_view();
    s.ready = false;
    s.workers.clear();
    s.ports.clear();
    assert_eq!(
        render::status(&s),
        "ready:      no\nnode:       dpu1\nuptime:     1h02m03s\ngeneration: 7\n\nNo workers.\n\nNo ports.\n"
    );
}

#[test]
fn status_json_is_the_raw_status() {
    assert_eq!(
        render::json(&serde_json::to_value(status_view()).unwrap()),
        r#"{
  "generation": 7,
  "node": "dpu1",
  "ports": {
    "p0": true,
    "pf0vf10": false
  },
  "ready": true,
  "uptime_ms": 3723000,
  "workers": [
    {
      "busy_ratio": 0.125,
      "core": 1,
      "index": 0,
      "last_poll_age_ms": 0,
      "lcore": 1
    },
    {
      "busy_ratio": 1.0,
      "core": null,
      "index": 1,
      "last_poll_age_ms": 1500,
      "lcore": 2
    }
  ]
}
"#
    );
}

#[test]
fn durations_speeds_and_ratios() {
    let d: Vec<String> = [
        0, 999, 1000, 1250, 59_999, 60_000, 187_000, 3_600_000, 86_400_000, 90_061_000,
    ]
    .into_iter()
    .map(render::duration_ms)
    .collect();
    assert_eq!(
        d,
        ["0ms", "999ms", "1.0s", "1.2s", "59.9s", "1m00s", "3m07s", "1h00m00s", "1d00h", "1d01h"]
    );
    let s: Vec<String> = [0, 10, 1000, 2500, 25_000, 100_000]
        .into_iter()
        .map(render::speed)
        .collect();
    assert_eq!(s, ["-", "10M", "1G", "2.5G", "25G", "100G"]);
    assert_eq!(render::ratio(0.0), "0.0%");
    assert_eq!(render::ratio(f64::NAN), "-");
}

#[test]
fn one_line_answers() {
    assert_eq!(
        render::deleted(Kind::ServiceChainSet, "x"),
        "servicechainset.svc.dpu.nvidia.com/x deleted\n"
    );
    assert_eq!(render::detached("p1"), "port p1 detached\n");
    assert_eq!(render::attached("p1", None), "port p1 attached\n");
    assert_eq!(render::attached("p1", Some(4)), "port p1 attached (id 4)\n");
    let labels = BTreeMap::from([
        ("bfb".to_string(), "dk".to_string()),
        ("zone".to_string(), String::new()),
    ]);
    assert_eq!(
        render::labels_set(&labels),
        "node labels set: bfb=dk,zone=\n"
    );
    let hello = Hello {
        version: 1,
        server: "sfcd 0.1.0".into(),
        ops: vec!["hello".into(), "status".into()],
    };
    assert_eq!(
        render::version("0.1.0", &hello),
        "client:   sfcctl 0.1.0 (protocol 1)\nserver:   sfcd 0.1.0 (protocol 1)\nops:      hello, status\n"
    );
}

#[test]
fn table_aligns_by_characters_not_bytes() {
    use render::Align::{Left, Right};
    assert_eq!(
        render::table(
            &[("A", Left), ("N", Right)],
            &[vec!["é".into(), "1".into()], vec!["ab".into(), "22".into()]]
        ),
        "A     N\né     1\nab   22\n"
    );
}

#[test]
fn yaml_is_the_json_value_in_kubectl_style_yaml() {
    let v = json!({
        "kind": "DPUServiceChain",
        "metadata": {"name": "hbn", "namespace": "dpf", "generation": 2},
        "status": {"conditions": [
            {"type": "Ready", "status": "False", "reason": "Pending",
             "message": "The following conditions are not ready:\n* ServiceChainReconciled"}
        ], "ports": []}
    });
    assert_eq!(
        render::yaml(&v),
        "\
kind: DPUServiceChain
metadata:
  generation: 2
  name: hbn
  namespace: dpf
status:
  conditions:
  - message: |-
      The following conditions are not ready:
      * ServiceChainReconciled
    reason: Pending
    status: 'False'
    type: Ready
  ports: []
"
    );
    let back: serde_json::Value = serde_yaml::from_str(&render::yaml(&v)).unwrap();
    assert_eq!(back, v, "the YAML reads back as the same value");
    assert_eq!(render::yaml(&json!([])), "[]\n");
}

// ---- top / stats: rates from two samples, and their frames ----

use sfc_control::cli::top::{self, Frame, Sample};

fn counters(p: PortView, rx: u64, tx: u64, drops: &[(&str, u64)]) -> PortView {
    PortView {
        rx_packets: rx,
        tx_packets: tx,
        rx_bytes: rx * 100,
        tx_bytes: tx * 100,
        drops: drops.iter().map(|(r, n)| (r.to_string(), *n)).collect(),
        ..p
    }
}

/// Two samples two seconds apart: p0 and p0_if cross-connected in
/// dpf/hbn-dpu1 switch 0, pf0vf10 in no switch (dropping), svc attached
/// between the samples.
fn samples() -> (Sample, Sample) {
    let sw = Some("dpf/hbn-dpu1 switch 0");
    let p0 = port("p0", 0, true, sw, &[]);
    let pif = port("p0_if", 1, true, sw, &[]);
    let vf = port("pf0vf10", 11, false, None, &[]);
    let svc = port("svc", 12, true, None, &[]);
    let xc = |in_port: &str, out: &str, pk: u64| {
        flow(
            "dpf/hbn-dpu1",
            0,
            "cross-connect",
            in_port,
            &format!("in_port={in_port}"),
            &format!("output:{out}"),
            pk,
        )
    };
    let no_switch = |p: &str, pk: u64| FlowView {
        chain: String::new(),
        switch: 0,
        kind: "drop".into(),
        in_port: p.into(),
        matches: format!("in_port={p}"),
        action: "drop (no switch)".into(),
        packets: pk,
        bytes: 0,
        idle_age_ms: None,
        offload: "software".into(),
        hw_rules: Vec::new(),
    };
    let before = Sample {
        ports: vec![
            counters(p0.clone(), 1_000, 500, &[("no-switch", 0), ("tx-full", 0)]),
            counters(pif.clone(), 500, 990, &[("no-switch", 0), ("tx-full", 10)]),
            counters(vf.clone(), 40, 0, &[("no-switch", 40), ("tx-full", 0)]),
        ],
        flows: FlowTable {
            generation: 6,
            flows: vec![
                xc("p0", "p0_if", 1_000),
                xc("p0_if", "p0", 500),
                no_switch("pf0vf10", 40),
            ],
        },
    };
    let after = Sample {
        ports: vec![
            counters(
                p0,
                3_001_000,
                1_500_500,
                &[("no-switch", 0), ("tx-full", 0)],
            ),
            counters(
                pif,
                1_500_500,
                3_000_970,
                &[("no-switch", 0), ("tx-full", 30)],
            ),
            counters(vf, 46, 0, &[("no-switch", 46), ("tx-full", 0)]),
            counters(svc, 9_999, 9_999, &[("no-switch", 0), ("tx-full", 0)]),
        ],
        flows: FlowTable {
            generation: 7,
            flows: vec![
                xc("p0", "p0_if", 3_001_000),
                xc("p0_if", "p0", 1_500_500),
                no_switch("pf0vf10", 46),
                no_switch("svc", 0),
            ],
        },
    };
    (before, after)
}

#[test]
fn top_rates_are_differences_over_the_interval() {
    let (before, after) = samples();
    let f: Frame = top::rates(&before, &after, 2.0);
    assert_eq!(f.generation, 7);
    let p0 = &f.ports[0];
    assert_eq!((p0.rx_pps, p0.tx_pps), (1_500_000.0, 750_000.0));
    assert_eq!((p0.rx_bps, p0.tx_bps), (1_200_000_000.0, 600_000_000.0));
    assert_eq!(p0.drop_pps, 0.0);
    assert!(
        p0.drops_pps.is_empty(),
        "reasons without drops are left out"
    );
    let pif = &f.ports[1];
    assert_eq!(pif.drop_pps, 10.0);
    assert_eq!(pif.drops_pps.get("tx-full"), Some(&10.0));
    assert_eq!(f.ports[2].drops_pps.get("no-switch"), Some(&3.0));
    // A port attached between the samples has no rate yet.
    let svc = &f.ports[3];
    assert_eq!((svc.rx_pps, svc.tx_pps, svc.drop_pps), (0.0, 0.0, 0.0));
    assert_eq!(f.totals.rx_pps, 1_500_000.0 + 750_000.0 + 3.0);
    assert_eq!(f.totals.drop_pps, 13.0);
    // One switch: both cross-connect flows forwarded; ports from `ports`.
    assert_eq!(f.switches.len(), 1);
    let s = &f.switches[0];
    assert_eq!(
        (s.chain.as_str(), s.switch, s.flows),
        ("dpf/hbn-dpu1", 0, 2)
    );
    assert_eq!(s.ports, vec!["p0".to_string(), "p0_if".to_string()]);
    assert_eq!((s.pps, s.drop_pps), (2_250_000.0, 0.0));
}

#[test]
fn top_counters_that_go_back_are_no_traffic() {
    let (before, after) = samples();
    // Swapped: every counter went back (a restarted sfcd).
    let f = top::rates(&after, &before, 1.0);
    assert!(f.ports.iter().all(|p| p.rx_pps == 0.0 && p.tx_pps == 0.0));
    assert_eq!(f.totals, top::Totals::default());
    assert_eq!(f.switches[0].pps, 0.0);
    // A zero-length interval gives zeros, not infinities.
    let f = top::rates(&before, &after, 0.0);
    assert_eq!(f.totals, top::Totals::default());
}

#[test]
fn top_frame_table_snapshot() {
    let (before, after) = samples();
    let f = top::rates(&before, &after, 2.0);
    let want = "\
interval 2.0s   generation 7   rx 2.25Mpps   tx 2.25Mpps   drops 13/s

PORT      LINK   SWITCH                  RX-PPS   TX-PPS    RX-BPS    TX-BPS   DROP/S
p0        up     dpf/hbn-dpu1 switch 0    1.50M   750.0k     1.20G   600.00M        0
p0_if     up     dpf/hbn-dpu1 switch 0   750.0k    1.50M   600.00M     1.20G       10
pf0vf10   down   -                          3.0        0      2.4k         0      3.0
svc       up     -                            0        0         0         0        0

CHAIN          SWITCH   PORTS      FLOWS     PPS   DROP/S
dpf/hbn-dpu1        0   p0,p0_if       2   2.25M        0
";
    assert_eq!(top::frame(&f, false), want);
    let wide = top::frame(&f, true);
    assert!(wide.contains("DROP-REASONS"), "{wide}");
    assert!(wide.contains("tx-full=10"), "{wide}");
    assert!(wide.contains("no-switch=3.0"), "{wide}");
}

#[test]
fn top_frames_are_cleared_on_a_terminal_and_appended_otherwise() {
    let (before, after) = samples();
    let f = top::rates(&before, &after, 2.0);
    let body = top::frame(&f, false);
    use sfc_control::cli::Output;
    assert_eq!(
        top::output(&f, 0, Output::Table, true),
        format!("{}{body}", top::CLEAR)
    );
    assert_eq!(
        top::output(&f, 3, Output::Table, true),
        format!("{}{body}", top::CLEAR)
    );
    assert_eq!(top::output(&f, 0, Output::Table, false), body);
    assert_eq!(
        top::output(&f, 1, Output::Table, false),
        format!("\n{body}")
    );
    // JSON: one line per interval, never a clear-screen.
    let j = top::output(&f, 1, Output::Json, true);
    assert_eq!(j.matches('\n').count(), 1);
    assert!(!j.contains('\x1b'));
    let back: Frame = serde_json::from_str(&j).unwrap();
    assert_eq!(back, f);
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert_eq!(v["ports"][0]["rx_pps"], json!(1_500_000.0));
    assert_eq!(v["switches"][0]["pps"], json!(2_250_000.0));
    assert_eq!(v["totals"]["drop_pps"], json!(13.0));
    let y = top::output(&f, 0, Output::Yaml, false);
    assert!(y.starts_with("---\ninterval_s: 2.0\n"), "{y}");
}

#[test]
fn top_rates_are_printed_with_si_prefixes() {
    let cases = [
        (0.0, "0"),
        (-5.0, "0"),
        (f64::NAN, "0"),
        (0.25, "0.2"),
        (7.5, "7.5"),
        (9.96, "10"),
        (950.0, "950"),
        (999.4, "999"),
        (999.6, "1.0k"),
        (12_345.0, "12.3k"),
        (999_949.0, "999.9k"),
        (999_950.0, "1.00M"),
        (1_490_000.0, "1.49M"),
        (9_410_000_000.0, "9.41G"),
    ];
    for (v, want) in cases {
        assert_eq!(top::si(v), want, "{v}");
    }
}

#[test]
fn top_without_ports_or_switches_says_so() {
    let empty = Sample {
        ports: vec![],
        flows: FlowTable::default(),
    };
    let f = top::rates(&empty, &empty, 1.0);
    assert_eq!(
        top::frame(&f, false),
        "interval 1.0s   generation 0   rx 0pps   tx 0pps   drops 0/s\n\nNo ports.\n\nNo switches.\n"
    );
}

#[test]
fn flows_as_testpmd_commands_show_each_hardware_rule_under_its_flow() {
    let t = flow_table();
    let out = sfc_control::cli::render::flows_testpmd(&t);
    let rules = out
        .lines()
        .filter(|l| l.starts_with("flow create 0 transfer"))
        .count();
    assert_eq!(
        rules,
        t.flows.iter().map(|f| f.hw_rules.len()).sum::<usize>()
    );
    assert!(rules > 0);
    assert!(
        out.lines()
            .next()
            .is_some_and(|l| l.starts_with("# chain=")),
        "{out}"
    );
    let empty = FlowTable::default();
    assert_eq!(
        sfc_control::cli::render::flows_testpmd(&empty),
        "# no hardware rules\n"
    );
}
