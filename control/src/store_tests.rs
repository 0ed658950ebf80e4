//! Store behaviour end to end: the seed conformance YAML, expansion,
//! resolution, conditions, snapshots, DPUDeployment conversion.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::conditions::{ConditionStatus, ManualClock, Reason};
use crate::model::Kind;
use crate::store::{ApplyAction, Store};
use crate::{chain_cookie, ControlError, Labels, NodeInfo, ObjectKey};

const HBN_DK: &str = include_str!("../tests/data/seed-hbn-zone-dk.yaml");
const UPLINKS: &str = include_str!("../tests/data/seed-uplinks-and-ovn.yaml");
const NS: &str = "dpf-operator-system";
const T0: i64 = 1_714_564_800; // 2024-05-01T12:00:00Z

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn ports(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn seed_ports() -> BTreeSet<String> {
    ports(&["p0", "p1", "p0_if", "p1_if", "pf2dpu3_if", "ovn"])
}

fn store_on(node_labels: &[(&str, &str)]) -> (Store, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let s = Store::with_clock(NodeInfo::new("dpu1", labels(node_labels)), clock.clone());
    (s, clock)
}

/// (chain name, switch index, ports) of every desired switch.
fn switches(s: &Store) -> Vec<(String, usize, Vec<String>)> {
    s.desired_switches()
        .into_iter()
        .map(|d| (d.chain.name, d.index, d.ports))
        .collect()
}

fn sv(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn seeded_dk() -> (Store, Arc<ManualClock>) {
    let (mut s, c) = store_on(&[("bfb", "dk")]);
    s.set_dataplane_ports(seed_ports());
    s.apply(HBN_DK).unwrap();
    s.apply(UPLINKS).unwrap();
    (s, c)
}

/// The condition `type_` of an object, via get().
fn cond(s: &Store, kind: Kind, ns: &str, name: &str, type_: &str) -> crate::Condition {
    let v = s
        .get(kind, ns, name)
        .unwrap_or_else(|| panic!("{kind} {ns}/{name} not found"));
    v.status
        .conditions
        .into_iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no condition {type_}"))
}

#[test]
fn conformance_files_load_as_written() {
    let (mut s, _) = store_on(&[]);
    let r = s.apply(HBN_DK).unwrap();
    assert_eq!(r.results.len(), 5);
    assert!(r
        .results
        .iter()
        .all(|x| x.action == ApplyAction::Created && x.generation == 1));
    assert!(r.notes.is_empty());
    let r = s.apply(UPLINKS).unwrap();
    assert_eq!(r.results.len(), 3);
}

#[test]
fn seed_chains_resolve_exactly_on_a_dk_node() {
    let (s, _) = seeded_dk();
    let dk = "-dpu1";
    assert_eq!(
        switches(&s),
        vec![
            (format!("hbn-to-fabric-dk{dk}"), 0, sv(&["p0", "p0_if"])),
            (format!("hbn-to-fabric-dk{dk}"), 1, sv(&["p1", "p1_if"])),
            (format!("ovn-to-hbn-dk{dk}"), 0, sv(&["pf2dpu3_if", "ovn"])),
        ]
    );
    let d = &s.desired_switches()[0];
    assert_eq!(d.mtu, 1500);
    assert_eq!(d.cookie, chain_cookie(NS, "hbn-to-fabric-dk-dpu1"));
    assert_eq!(
        d.origin.as_ref().map(|o| o.to_string()),
        Some(format!("DPUServiceChain {NS}/hbn-to-fabric-dk"))
    );
    let ready = cond(&s, Kind::DPUServiceChain, NS, "hbn-to-fabric-dk", "Ready");
    assert_eq!(ready.status, ConditionStatus::True);
    assert_eq!(ready.reason, Reason::Success);
    assert_eq!(ready.last_transition_time, "2024-05-01T12:00:00Z");
}

#[test]
fn a_node_without_bfb_dk_selects_nothing_of_the_zone() {
    let (mut s, _) = store_on(&[("bfb", "other")]);
    s.set_dataplane_ports(seed_ports());
    s.apply(HBN_DK).unwrap();
    s.apply(UPLINKS).unwrap();
    assert!(s.desired_switches().is_empty());
    let ifaces: Vec<String> = s
        .list(Some(Kind::ServiceInterface))
        .into_iter()
        .map(|v| v.metadata.name)
        .collect();
    assert_eq!(ifaces, sv(&["ovn-dpu1", "p0-dpu1", "p1-dpu1"]));
    assert!(s.list(Some(Kind::ServiceChain)).is_empty());
    let d = s
        .describe(Kind::DPUServiceChain, NS, "hbn-to-fabric-dk")
        .unwrap();
    assert!(
        d.contains("nodeSelector does not match node dpu1 (selector bfb=dk)"),
        "{d}"
    );
    let v = s.get(Kind::DPUServiceInterface, NS, "p0-sf-dk").unwrap();
    assert_eq!(
        v.status.not_on_node.as_deref(),
        Some("nodeSelector does not match node dpu1 (selector bfb=dk)")
    );
}

#[test]
fn per_node_interfaces_carry_the_labels_dpf_adds() {
    let (s, _) = seeded_dk();
    let v = s.get(Kind::ServiceInterface, NS, "p0-sf-dk-dpu1").unwrap();
    let l = &v.metadata.labels;
    assert_eq!(l["svc.dpu.nvidia.com/serviceinterfaceset-name"], "p0-sf-dk");
    assert_eq!(l["svc.dpu.nvidia.com/serviceinterfaceset-namespace"], NS);
    assert_eq!(l["svc.dpu.nvidia.com/service-id"], "doca-hbn");
    assert_eq!(l["svc.dpu.nvidia.com/interface"], "p0_sf");
    assert_eq!(v.status.dataplane_port.as_deref(), Some("p0_if"));
    let v = s.get(Kind::ServiceInterface, NS, "p0-dpu1").unwrap();
    assert!(!v
        .metadata
        .labels
        .contains_key("svc.dpu.nvidia.com/service-id"));
    assert_eq!(v.spec["node"], "dpu1");
}

#[test]
fn relabelling_the_node_re_expands() {
    let (mut s, clock) = store_on(&[]);
    s.set_dataplane_ports(seed_ports());
    s.apply(HBN_DK).unwrap();
    s.apply(UPLINKS).unwrap();
    assert!(s.desired_switches().is_empty());
    clock.advance(60);
    s.set_node_labels(labels(&[("bfb", "dk")]));
    assert_eq!(s.desired_switches().len(), 3);
    let c = cond(&s, Kind::ServiceChain, NS, "ovn-to-hbn-dk-dpu1", "Ready");
    assert_eq!(c.last_transition_time, "2024-05-01T12:01:00Z");
    s.set_node_labels(labels(&[]));
    assert!(s.desired_switches().is_empty());
    assert!(s
        .get(Kind::ServiceChain, NS, "ovn-to-hbn-dk-dpu1")
        .is_none());
}

#[test]
fn match_expressions_operators_select_nodes() {
    let chain = |name: &str, expr: &str| {
        format!(
            "apiVersion: svc.dpu.nvidia.com/v1alpha1\nkind: ServiceChainSet\nmetadata: {{name: {name}}}\nspec:\n  nodeSelector:\n    matchExpressions:\n    - {expr}\n  template:\n    spec:\n      switches:\n      - ports:\n        - serviceInterface: {{matchLabels: {{x: {name}}}}}\n---\n"
        )
    };
    let y = [
        chain("in-hit", "{key: zone, operator: In, values: [a, b]}"),
        chain("in-miss", "{key: zone, operator: In, values: [c]}"),
        chain("notin-hit", "{key: zone, operator: NotIn, values: [c]}"),
        chain("notin-absent", "{key: rack, operator: NotIn, values: [c]}"),
        chain("notin-miss", "{key: zone, operator: NotIn, values: [a]}"),
        chain("exists-hit", "{key: zone, operator: Exists}"),
        chain("exists-miss", "{key: rack, operator: Exists}"),
        chain("dne-hit", "{key: rack, operator: DoesNotExist}"),
        chain("dne-miss", "{key: zone, operator: DoesNotExist}"),
    ]
    .concat();
    let (mut s, _) = store_on(&[("zone", "a")]);
    s.apply(&y).unwrap();
    let on: Vec<String> = s
        .list(Some(Kind::ServiceChain))
        .into_iter()
        .map(|v| v.metadata.name)
        .collect();
    assert_eq!(
        on,
        sv(&[
            "dne-hit-dpu1",
            "exists-hit-dpu1",
            "in-hit-dpu1",
            "notin-absent-dpu1",
            "notin-hit-dpu1"
        ])
    );
}

const IFACES: &str = "
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: ServiceInterface
metadata: {name: a, namespace: ns, labels: {role: up, id: a}}
spec: {interfaceType: physical, physical: {interfaceName: p0}}
---
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: ServiceInterface
metadata: {name: b, namespace: ns, labels: {role: up, id: b}}
spec: {interfaceType: physical, physical: {interfaceName: p1}}
---
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: ServiceInterface
metadata: {name: c, namespace: ns, labels: {id: c}}
spec: {interfaceType: vf, vf: {pfID: 0, vfID: 3}}
---
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: ServiceInterface
metadata: {name: d, namespace: ns, labels: {id: d}}
spec: {interfaceType: pf, pf: {pfID: 1}}
";

fn sc(name: &str, switches: &str) -> String {
    format!("---\napiVersion: svc.dpu.nvidia.com/v1alpha1\nkind: ServiceChain\nmetadata: {{name: {name}, namespace: ns}}\nspec:\n  switches:\n{switches}")
}

fn port(sel: &str) -> String {
    format!("    - serviceInterface: {{matchLabels: {{{sel}}}}}\n")
}

fn sw(sels: &[&str]) -> String {
    let mut s = String::from("  - ports:\n");
    for p in sels {
        s.push_str(&port(p));
    }
    s
}

fn iface_store() -> Store {
    let (mut s, _) = store_on(&[]);
    s.set_dataplane_ports(ports(&["p0", "p1", "pf0vf3", "pf1hpf"]));
    s.apply(IFACES).unwrap();
    s
}

#[test]
fn selector_matching_nothing_or_several_is_left_out_with_dpf_message() {
    let mut s = iface_store();
    s.apply(&sc("c1", &sw(&["id: c", "id: zz", "role: up", "id: d"])))
        .unwrap();
    assert_eq!(
        switches(&s),
        vec![("c1".to_string(), 0, sv(&["pf0vf3", "pf1hpf"]))]
    );
    let c = cond(&s, Kind::ServiceChain, "ns", "c1", "ServiceChainReconciled");
    assert_eq!(c.status, ConditionStatus::False);
    assert_eq!(c.reason, Reason::Error);
    assert_eq!(
        c.message,
        "Error occurred: [no serviceInterface in namespace(ns) matching labels(map[id:zz]) on node(dpu1) found, \
expected only one serviceInterface in namespace(ns) matching labels(map[role:up]) on node(dpu1), found 2]"
    );
    let r = cond(&s, Kind::ServiceChain, "ns", "c1", "Ready");
    assert_eq!(r.status, ConditionStatus::False);
    assert_eq!(r.reason, Reason::Pending);
    assert_eq!(
        r.message,
        "The following conditions are not ready:\n* ServiceChainReconciled"
    );
}

#[test]
fn selection_is_limited_to_the_chain_namespace() {
    let mut s = iface_store();
    s.apply(&sc("c1", &sw(&["id: a"])).replace("namespace: ns", "namespace: other"))
        .unwrap();
    let c = cond(
        &s,
        Kind::ServiceChain,
        "other",
        "c1",
        "ServiceChainReconciled",
    );
    assert_eq!(
        c.message,
        "Error occurred: no serviceInterface in namespace(other) matching labels(map[id:a]) on node(dpu1) found"
    );
}

#[test]
fn a_port_claimed_by_two_switches_goes_to_the_first() {
    let mut s = iface_store();
    let y = format!(
        "{}{}",
        sc("b-chain", &sw(&["id: a", "id: b"])),
        sc(
            "a-chain",
            &format!("{}{}", sw(&["id: a", "id: c"]), sw(&["id: c", "id: d"]))
        )
    );
    s.apply(&y).unwrap();
    // a-chain sorts first: it claims p0 (switch 0) and pf0vf3 (switch 0);
    // its own switch 1 and b-chain lose those.
    assert_eq!(
        switches(&s),
        vec![
            ("a-chain".to_string(), 0, sv(&["p0", "pf0vf3"])),
            ("a-chain".to_string(), 1, sv(&["pf1hpf"])),
            ("b-chain".to_string(), 0, sv(&["p1"])),
        ]
    );
    let c = cond(
        &s,
        Kind::ServiceChain,
        "ns",
        "b-chain",
        "ServiceChainReconciled",
    );
    assert_eq!(
        c.message,
        "Error occurred: port p0 (serviceInterface ns/a) is already in switch 0 of ServiceChain ns/a-chain: a port belongs to at most one switch"
    );
    let c = cond(
        &s,
        Kind::ServiceChain,
        "ns",
        "a-chain",
        "ServiceChainReconciled",
    );
    assert!(c.message.contains(
        "port pf0vf3 (serviceInterface ns/c) is already in switch 0 of ServiceChain ns/a-chain"
    ));
}

#[test]
fn a_missing_dataplane_port_is_left_out_until_it_appears() {
    let mut s = iface_store();
    s.set_dataplane_ports(ports(&["p0"]));
    s.apply(&sc("c1", &sw(&["id: a", "id: b"]))).unwrap();
    assert_eq!(switches(&s), vec![("c1".to_string(), 0, sv(&["p0"]))]);
    let c = cond(&s, Kind::ServiceChain, "ns", "c1", "ServiceChainReconciled");
    assert_eq!(c.message, "Error occurred: serviceInterface ns/b: port p1 does not exist in the dataplane on node(dpu1)");
    let i = cond(
        &s,
        Kind::ServiceInterface,
        "ns",
        "b",
        "ServiceInterfaceReconciled",
    );
    assert_eq!(
        (i.status, i.reason),
        (ConditionStatus::False, Reason::Pending)
    );
    assert_eq!(i.message, "waiting for dataplane port p1 on node(dpu1)");
    s.set_dataplane_ports(ports(&["p0", "p1"]));
    assert_eq!(switches(&s), vec![("c1".to_string(), 0, sv(&["p0", "p1"]))]);
    assert_eq!(
        cond(&s, Kind::ServiceChain, "ns", "c1", "Ready").status,
        ConditionStatus::True
    );
}

#[test]
fn port_names_by_interface_type() {
    let y = "
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: ServiceInterface
metadata: {name: o, namespace: ns, labels: {id: o}}
spec: {interfaceType: ovn}
---
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: ServiceInterface
metadata: {name: p, namespace: ns, labels: {id: p}}
spec: {interfaceType: patch, patch: {peerBridge: br-ovn}}
---
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: ServiceInterface
metadata: {name: q, namespace: ns, labels: {id: q}}
spec: {interfaceType: patch, patch: {peerBridge: br-x, peerPatchName: px}}
---
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: ServiceInterface
metadata: {name: v, namespace: ns, labels: {id: v}}
spec: {interfaceType: vlan, vlan: {vlanID: 5, parentInterfaceRef: p0}}
---
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: ServiceInterface
metadata: {name: n, namespace: ns, labels: {id: n}}
spec: {interfaceType: service, service: {serviceID: s, network: net, interfaceName: eth9, virtualNetwork: vpc1}}
";
    let (mut s, _) = store_on(&[]);
    s.set_dataplane_ports(ports(&["ovn", "patch-br-ovn", "px", "eth9"]));
    s.apply(y).unwrap();
    s.apply(&sc(
        "c",
        &sw(&["id: o", "id: p", "id: q", "id: v", "id: n"]),
    ))
    .unwrap();
    assert_eq!(
        switches(&s),
        vec![("c".to_string(), 0, sv(&["ovn", "patch-br-ovn", "px"]))]
    );
    let c = cond(&s, Kind::ServiceChain, "ns", "c", "ServiceChainReconciled");
    assert_eq!(
        c.message,
        "Error occurred: [serviceInterface ns/v: interfaceType vlan is out of scope: DPF skips it and so does sfcd, \
serviceInterface ns/n has virtualNetwork vpc1 and cannot be part of a service chain]"
    );
    let v = cond(
        &s,
        Kind::ServiceInterface,
        "ns",
        "v",
        "ServiceInterfaceReconciled",
    );
    assert_eq!(v.reason, Reason::Failure);
    assert_eq!(
        cond(&s, Kind::ServiceInterface, "ns", "v", "Ready").reason,
        Reason::Failure
    );
}

#[test]
fn per_node_objects_for_another_node_are_not_used() {
    let mut s = iface_store();
    s.apply(&sc("c", &sw(&["id: a", "id: b"])).replace("  switches:", "  node: dpu9\n  switches:"))
        .unwrap();
    assert!(s.desired_switches().is_empty());
    let v = s.get(Kind::ServiceChain, "ns", "c").unwrap();
    assert_eq!(
        v.status.not_on_node.as_deref(),
        Some("spec.node is dpu9, not this node dpu1")
    );
    s.apply(&sc("c", &sw(&["id: a", "id: b"])).replace("  switches:", "  node: dpu1\n  switches:"))
        .unwrap();
    assert_eq!(switches(&s), vec![("c".to_string(), 0, sv(&["p0", "p1"]))]);
}

#[test]
fn batches_are_all_or_nothing() {
    let (mut s, _) = store_on(&[("bfb", "dk")]);
    s.apply(UPLINKS).unwrap();
    let before = s.snapshot();
    let bad = format!("{HBN_DK}\n---\n{}", sc("broken", "  - ports: []\n"));
    let e = s.apply(&bad).unwrap_err();
    assert_eq!(
        e.to_string(),
        "ServiceChain ns/broken: spec.switches[0].ports: must have 1..50 items, got 0"
    );
    assert_eq!(s.snapshot(), before);
    assert!(s
        .get(Kind::DPUServiceChain, NS, "hbn-to-fabric-dk")
        .is_none());
}

#[test]
fn duplicate_names_in_a_batch_are_rejected() {
    let (mut s, _) = store_on(&[]);
    let y = format!("{}{}", sc("c", &sw(&["id: a"])), sc("c", &sw(&["id: b"])));
    assert_eq!(
        s.apply(&y).unwrap_err(),
        ControlError::Duplicate {
            object: "ServiceChain ns/c".into(),
            first: 1,
            second: 2
        }
    );
    assert_eq!(
        s.apply(&y).unwrap_err().to_string(),
        "ServiceChain ns/c: appears more than once in this batch (documents 1 and 2)"
    );
    assert!(s.list(None).is_empty());
}

#[test]
fn two_objects_making_the_same_per_node_object_conflict() {
    let (mut s, _) = store_on(&[]);
    let set = "apiVersion: svc.dpu.nvidia.com/v1alpha1\nkind: ServiceChainSet\nmetadata: {name: x, namespace: ns}\nspec:\n  template:\n    spec:\n      switches:\n      - ports:\n        - serviceInterface: {matchLabels: {a: b}}\n";
    s.apply(set).unwrap();
    let e = s.apply(&sc("x-dpu1", &sw(&["a: b"]))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "ServiceChain ns/x-dpu1: would make ServiceChain ns/x-dpu1 on node dpu1, which ServiceChainSet ns/x already makes"
    );
}

#[test]
fn reapplying_is_a_noop_and_spec_changes_bump_generation() {
    let mut s = iface_store();
    let y = sc("c", &sw(&["id: a", "id: b"]));
    assert_eq!(s.apply(&y).unwrap().results[0].action, ApplyAction::Created);
    let r = s.apply(&y).unwrap();
    assert_eq!(
        (r.results[0].action, r.results[0].generation),
        (ApplyAction::Unchanged, 1)
    );
    let r = s
        .apply(&y.replace("name: c,", "name: c, labels: {x: y},"))
        .unwrap();
    assert_eq!(
        (r.results[0].action, r.results[0].generation),
        (ApplyAction::Configured, 1)
    );
    let r = s.apply(&sc("c", &sw(&["id: a", "id: c"]))).unwrap();
    assert_eq!(
        (r.results[0].action, r.results[0].generation),
        (ApplyAction::Configured, 2)
    );
    assert_eq!(
        cond(&s, Kind::ServiceChain, "ns", "c", "Ready").observed_generation,
        2
    );
    assert_eq!(
        switches(&s),
        vec![("c".to_string(), 0, sv(&["p0", "pf0vf3"]))]
    );
}

#[test]
fn transition_times_move_only_when_status_changes() {
    let (mut s, clock) = store_on(&[]);
    s.set_dataplane_ports(ports(&["p0"]));
    s.apply(IFACES).unwrap();
    s.apply(&sc("c", &sw(&["id: a", "id: b"]))).unwrap();
    let t = |s: &Store| {
        cond(s, Kind::ServiceChain, "ns", "c", "ServiceChainReconciled").last_transition_time
    };
    assert_eq!(t(&s), "2024-05-01T12:00:00Z");
    clock.advance(30);
    s.set_dataplane_ports(ports(&["p0", "zzz"])); // still failing
    assert_eq!(t(&s), "2024-05-01T12:00:00Z");
    clock.advance(30);
    s.set_dataplane_ports(ports(&["p0", "p1"])); // now resolved
    assert_eq!(t(&s), "2024-05-01T12:01:00Z");
    let d = s.describe(Kind::ServiceChain, "ns", "c").unwrap();
    assert!(d.contains("ServiceChainReconciled"), "{d}");
    clock.advance(600);
    let d = s.describe(Kind::ServiceChain, "ns", "c").unwrap();
    assert!(
        d.lines()
            .nth(1)
            .unwrap_or("")
            .contains("True   Success  10m"),
        "{d}"
    );
}

#[test]
fn dpu_service_chain_reports_its_child() {
    let (mut s, _) = seeded_dk();
    s.set_dataplane_ports(ports(&["p0", "p0_if", "p1", "pf2dpu3_if", "ovn"]));
    let c = cond(
        &s,
        Kind::DPUServiceChain,
        NS,
        "hbn-to-fabric-dk",
        "ServiceChainSetReady",
    );
    // The child's Ready reason (its Error shows as Pending there).
    assert_eq!(
        (c.status, c.reason),
        (ConditionStatus::False, Reason::Pending)
    );
    assert_eq!(
        c.message,
        format!("ServiceChain {NS}/hbn-to-fabric-dk-dpu1 is not ready: Error occurred: serviceInterface {NS}/p1-sf-dk-dpu1: port p1_if does not exist in the dataplane on node(dpu1)")
    );
    let r = cond(&s, Kind::DPUServiceChain, NS, "hbn-to-fabric-dk", "Ready");
    assert_eq!(r.reason, Reason::Pending);
    assert_eq!(
        r.message,
        "The following conditions are not ready:\n* ServiceChainSetReady"
    );
    assert_eq!(
        cond(
            &s,
            Kind::DPUServiceChain,
            NS,
            "hbn-to-fabric-dk",
            "ServiceChainSetReconciled"
        )
        .status,
        ConditionStatus::True
    );
    let d = s
        .describe(Kind::DPUServiceChain, NS, "hbn-to-fabric-dk")
        .unwrap();
    for want in [
        "DPUServiceChain/hbn-to-fabric-dk",
        "├─ServiceChainSetReconciled",
        "└─ServiceChain/hbn-to-fabric-dk-dpu1",
        "* ServiceChainSetReady",
        "switches[0]",
        "mtu 1500, ports [p0, p0_if]",
        "ports[1]",
        "map[uplink:p1] -> ServiceInterface dpf-operator-system/p1-dpu1 -> p1",
        "port p1_if does not exist in the dataplane",
    ] {
        assert!(d.contains(want), "missing {want:?} in\n{d}");
    }
}

#[test]
fn snapshot_restore_round_trip_gives_identical_state() {
    let (mut s, clock) = seeded_dk();
    s.apply(
        &sc("x", &sw(&["uplink: p0"])).replace("namespace: ns", "namespace: dpf-operator-system"),
    )
    .unwrap();
    s.apply(&HBN_DK.replace("- ports:\n                - serviceInterface:\n                    matchLabels:\n                      uplink: p1", "- serviceMTU: 9000\n              ports:\n                - serviceInterface:\n                    matchLabels:\n                      uplink: p1")).unwrap();
    let snap = s.snapshot();
    clock.advance(100);
    let mut r = Store::with_clock(NodeInfo::new("dpu1", Labels::new()), clock.clone());
    r.restore(&snap).unwrap();
    assert_eq!(r.desired_switches(), s.desired_switches());
    assert_eq!(r.node().labels, labels(&[("bfb", "dk")]));
    assert_eq!(r.list(None), s.list(None));
    assert_eq!(r.snapshot(), snap);
    assert_eq!(
        r.get(Kind::DPUServiceChain, NS, "hbn-to-fabric-dk")
            .map(|v| v.metadata.generation),
        Some(2)
    );
    assert!(matches!(r.restore("{}"), Err(ControlError::Snapshot(_))));
    assert_eq!(r.snapshot(), snap);
}

const DEPLOYMENT: &str = "
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: DPUDeployment
metadata: {name: ovn-hbn, namespace: dpf-operator-system}
spec:
  dpus:
    bfb: bf-bundle
    flavor: dpf-provisioning-hbn-ovn
  services:
    hbn: {serviceTemplate: hbn, serviceConfiguration: hbn}
  serviceChains:
    switches:
    - ports:
      - serviceInterface:
          matchLabels:
            uplink: p0
      - service:
          name: doca-hbn
          interface: p0_sf
    - serviceMTU: 9000
      ports:
      - serviceInterface:
          matchLabels:
            uplink: p1
      - service:
          name: doca-hbn
          interface: p1_sf
";

#[test]
fn dpu_deployment_service_chains_become_a_dpu_service_chain() {
    let (mut s, _) = store_on(&[("bfb", "dk")]);
    s.set_dataplane_ports(seed_ports());
    let r = s
        .apply(&format!("{HBN_DK}\n---\n{UPLINKS}\n---\n{DEPLOYMENT}"))
        .unwrap();
    let res = r.results.iter().find(|x| x.name == "ovn-hbn").unwrap();
    assert_eq!(res.kind, Kind::DPUServiceChain);
    assert_eq!(
        res.converted_from.as_ref().map(|o| o.kind.as_str()),
        Some("DPUDeployment")
    );
    let v = s.get(Kind::DPUServiceChain, NS, "ovn-hbn").unwrap();
    let ml = &v.spec["template"]["spec"]["template"]["spec"]["switches"][0]["ports"][1]
        ["serviceInterface"]["matchLabels"];
    assert_eq!(ml["svc.dpu.nvidia.com/service"], "doca-hbn");
    assert_eq!(ml["svc.dpu.nvidia.com/interface"], "p0_sf");
    // The deployment's chain claims p0/p1 after hbn-to-fabric-dk (sorted
    // first), so it reports the double claim; its selectors did resolve.
    let mine: Vec<_> = s
        .desired_switches()
        .into_iter()
        .filter(|d| d.chain.name == "ovn-hbn-dpu1")
        .collect();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[1].mtu, 9000);
    let res = s
        .chain_resolution(&ObjectKey::new(NS, "ovn-hbn-dpu1"))
        .unwrap();
    assert_eq!(
        res.ports[1].interface,
        Some(ObjectKey::new(NS, "p0-sf-dk-dpu1"))
    );
    // The older list shape is accepted too.
    let old = DEPLOYMENT
        .replace("    switches:\n", "")
        .replace("ovn-hbn", "old");
    let old = old
        .replace("\n    - ", "\n  - ")
        .replace("\n      ", "\n    ");
    let (mut s2, _) = store_on(&[]);
    s2.apply(&old).unwrap();
    assert!(s2.get(Kind::DPUServiceChain, NS, "old").is_some());
}

#[test]
fn other_kinds_are_skipped_with_a_note() {
    let (mut s, _) = store_on(&[]);
    let y = "
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: DPUService
metadata: {name: doca-hbn-dk, namespace: dpf-operator-system}
spec: {serviceID: doca-hbn}
---
apiVersion: provisioning.dpu.nvidia.com/v1alpha1
kind: DPUSet
metadata: {name: dpuset-dk}
spec: {}
---
# only a comment
---
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: DPUDeployment
metadata: {name: nochains, namespace: ns}
spec: {dpus: {}}
";
    let r = s.apply(y).unwrap();
    assert!(r.results.is_empty());
    assert_eq!(r.notes.len(), 3);
    assert!(
        r.notes[0].starts_with("kind DPUService is not the dataplane's: skipped"),
        "{:?}",
        r.notes
    );
    assert!(r.notes[1].starts_with("kind DPUSet is not the dataplane's: skipped"));
    assert!(r.notes[2].contains("DPUDeployment ns/nochains has no serviceChains"));
}

#[test]
fn json_single_array_and_list_are_accepted() {
    let one = r#"{"apiVersion":"svc.dpu.nvidia.com/v1alpha1","kind":"ServiceInterface","metadata":{"name":"a","namespace":"ns","labels":{"id":"a"}},"spec":{"interfaceType":"physical","physical":{"interfaceName":"p0"}}}"#;
    let (mut s, _) = store_on(&[]);
    assert_eq!(s.apply(one).unwrap().results.len(), 1);
    let arr = format!(
        "[{one}, {}]",
        one.replace("\"name\":\"a\"", "\"name\":\"b\"")
    );
    assert_eq!(s.apply(&arr).unwrap().results.len(), 2);
    let list = format!(
        r#"{{"apiVersion":"v1","kind":"List","items":[{}]}}"#,
        one.replace("\"name\":\"a\"", "\"name\":\"c\"")
    );
    let r = s.apply(&list).unwrap();
    assert_eq!(r.results[0].name, "c");
    assert_eq!(s.list(Some(Kind::ServiceInterface)).len(), 3);
}

#[test]
fn delete_removes_and_names_what_is_absent() {
    let (mut s, _) = seeded_dk();
    s.delete(Kind::DPUServiceChain, NS, "ovn-to-hbn-dk")
        .unwrap();
    assert_eq!(s.desired_switches().len(), 2);
    assert_eq!(
        s.delete(Kind::DPUServiceChain, NS, "ovn-to-hbn-dk")
            .unwrap_err()
            .to_string(),
        "DPUServiceChain dpf-operator-system/ovn-to-hbn-dk not found"
    );
    s.delete(Kind::DPUServiceInterface, NS, "p0").unwrap();
    assert_eq!(switches(&s)[0].2, sv(&["p0_if"]));
}

#[test]
fn kinds_parse_like_kubectl() {
    assert_eq!(
        "DPUServiceChain".parse::<Kind>().unwrap(),
        Kind::DPUServiceChain
    );
    assert_eq!(
        "dpuservicechains".parse::<Kind>().unwrap(),
        Kind::DPUServiceChain
    );
    assert_eq!(
        "serviceinterface".parse::<Kind>().unwrap(),
        Kind::ServiceInterface
    );
    assert!("pods".parse::<Kind>().is_err());
}

#[test]
fn views_serialize_to_json() {
    let (s, _) = seeded_dk();
    let v = serde_json::to_value(
        s.get(Kind::ServiceChain, NS, "hbn-to-fabric-dk-dpu1")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(v["kind"], "ServiceChain");
    assert_eq!(v["apiVersion"], "svc.dpu.nvidia.com/v1alpha1");
    assert_eq!(v["status"]["conditions"][0]["type"], "Ready");
    assert_eq!(
        v["status"]["conditions"][0]["lastTransitionTime"],
        "2024-05-01T12:00:00Z"
    );
    assert_eq!(
        v["status"]["switches"][1]["ports"],
        serde_json::json!(["p1", "p1_if"])
    );
    assert_eq!(v["metadata"]["owner"]["kind"], "DPUServiceChain");
}
