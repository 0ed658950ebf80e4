//! Every validation rule, with the exact error text a user sees.

use crate::{NodeInfo, Store};

fn store() -> Store {
    Store::new(NodeInfo::new("node1", Default::default()))
}

/// The error text of applying `input` to an empty store.
fn err(input: &str) -> String {
    match store().apply(input) {
        Ok(r) => panic!("expected an error, got {r:?}"),
        Err(e) => e.to_string(),
    }
}

fn ok(input: &str) {
    if let Err(e) = store().apply(input) {
        panic!("expected success, got: {e}");
    }
}

/// A DPUServiceChain `foo` whose ServiceChain spec is `spec` (YAML indented
/// for `spec.template.spec.template.spec`).
fn chain(spec: &str) -> String {
    let body: String = spec.lines().map(|l| format!("          {l}\n")).collect();
    format!(
        "apiVersion: svc.dpu.nvidia.com/v1alpha1\nkind: DPUServiceChain\nmetadata:\n  name: foo\n  namespace: dpf-operator-system\nspec:\n  template:\n    spec:\n      template:\n        spec:\n{body}"
    )
}

/// A DPUServiceInterface `bar` whose ServiceInterface spec is `spec`.
fn iface(spec: &str) -> String {
    let body: String = spec.lines().map(|l| format!("          {l}\n")).collect();
    format!(
        "apiVersion: svc.dpu.nvidia.com/v1alpha1\nkind: DPUServiceInterface\nmetadata:\n  name: bar\n  namespace: ns\nspec:\n  template:\n    spec:\n      template:\n        metadata:\n          labels:\n            a: b\n        spec:\n{body}"
    )
}

const ONE_PORT: &str =
    "switches:\n- ports:\n  - serviceInterface:\n      matchLabels:\n        a: b\n";

fn ports(n: usize) -> String {
    let mut s = String::from("switches:\n- ports:\n");
    for i in 0..n {
        s.push_str(&format!(
            "  - serviceInterface:\n      matchLabels:\n        p: x{i}\n"
        ));
    }
    s
}

const PREFIX: &str = "DPUServiceChain dpf-operator-system/foo: spec.template.spec.template.spec";

#[test]
fn unknown_field_is_named_with_its_full_path() {
    let spec = "switches:\n- ports:\n  - serviceInterface:\n      matchLabels: {a: b}\n  - serviceInterface:\n      matchLabelz: {a: b}\n";
    assert_eq!(
        err(&chain(spec)),
        format!("{PREFIX}.switches[0].ports[1].serviceInterface.matchLabelz: unknown field")
    );
}

#[test]
fn unknown_top_level_and_metadata_fields_are_rejected() {
    let y = chain(ONE_PORT).replace("spec:\n  template:", "spek: 1\nspec:\n  template:");
    assert_eq!(
        err(&y),
        "DPUServiceChain dpf-operator-system/foo: spek: unknown field"
    );
    let y = chain(ONE_PORT).replace("  name: foo\n", "  name: foo\n  colour: red\n");
    assert_eq!(
        err(&y),
        "DPUServiceChain dpf-operator-system/foo: metadata.colour: unknown field"
    );
}

#[test]
fn harmless_server_metadata_is_accepted() {
    let y = chain(ONE_PORT).replace(
        "  name: foo\n",
        "  name: foo\n  uid: 1234\n  resourceVersion: \"5\"\n  creationTimestamp: \"2024-01-01T00:00:00Z\"\n  generation: 7\n",
    );
    ok(&format!("{y}status:\n  conditions: []\n"));
}

#[test]
fn api_version_is_checked() {
    let y = chain(ONE_PORT).replace("v1alpha1", "v1beta1");
    assert_eq!(
        err(&y),
        "DPUServiceChain dpf-operator-system/foo: apiVersion: expected svc.dpu.nvidia.com/v1alpha1, got \"svc.dpu.nvidia.com/v1beta1\""
    );
}

#[test]
fn names_are_checked() {
    let y = chain(ONE_PORT).replace("  name: foo\n", "");
    assert_eq!(
        err(&y),
        "DPUServiceChain in document 1: metadata.name: required field missing"
    );
    let long = "a".repeat(64);
    let y = chain(ONE_PORT).replace("name: foo", &format!("name: {long}"));
    assert_eq!(
        err(&y),
        format!("DPUServiceChain dpf-operator-system/{long}: metadata.name: name length can't be bigger than 63 chars (got 64)")
    );
    ok(&chain(ONE_PORT).replace("name: foo", &format!("name: {}", "a".repeat(63))));
    let y = chain(ONE_PORT).replace("name: foo", "name: Foo_1");
    assert!(
        err(&y).contains("metadata.name: \"Foo_1\" is not a valid name"),
        "{}",
        err(&y)
    );
    let y = chain(ONE_PORT).replace("namespace: dpf-operator-system", "namespace: a.b");
    assert!(err(&y).contains("metadata.namespace: \"a.b\" is not a valid name"));
}

#[test]
fn namespace_defaults_to_default() {
    let mut s = store();
    s.apply(&chain(ONE_PORT).replace("  namespace: dpf-operator-system\n", ""))
        .unwrap();
    assert!(s
        .get(crate::Kind::DPUServiceChain, "default", "foo")
        .is_some());
}

#[test]
fn switches_must_be_1_to_50() {
    assert_eq!(
        err(&chain("switches: []\n")),
        format!("{PREFIX}.switches: must have 1..50 items, got 0")
    );
    assert_eq!(
        err(&chain("node: x\n")),
        format!("{PREFIX}.switches: must have 1..50 items, got 0")
    );
    let sw = "- ports:\n  - serviceInterface:\n      matchLabels: {a: b}\n".repeat(51);
    assert_eq!(
        err(&chain(&format!("switches:\n{sw}"))),
        format!("{PREFIX}.switches: must have 1..50 items, got 51")
    );
    let sw = "- ports:\n  - serviceInterface:\n      matchLabels: {a: b}\n".repeat(50);
    ok(&chain(&format!("switches:\n{sw}")));
}

#[test]
fn ports_must_be_1_to_50() {
    assert_eq!(
        err(&chain("switches:\n- ports: []\n")),
        format!("{PREFIX}.switches[0].ports: must have 1..50 items, got 0")
    );
    assert_eq!(
        err(&chain(&ports(51))),
        format!("{PREFIX}.switches[0].ports: must have 1..50 items, got 51")
    );
    ok(&chain(&ports(50)));
}

#[test]
fn match_labels_must_have_1_to_50_entries() {
    let p = format!("{PREFIX}.switches[0].ports[0].serviceInterface.matchLabels");
    assert_eq!(
        err(&chain(
            "switches:\n- ports:\n  - serviceInterface:\n      matchLabels: {}\n"
        )),
        format!("{p}: must have 1..50 entries, got 0")
    );
    assert_eq!(
        err(&chain("switches:\n- ports:\n  - serviceInterface: {}\n")),
        format!("{p}: required field missing")
    );
    let many: String = (0..51).map(|i| format!("        k{i}: v\n")).collect();
    assert_eq!(
        err(&chain(&format!(
            "switches:\n- ports:\n  - serviceInterface:\n      matchLabels:\n{many}"
        ))),
        format!("{p}: must have 1..50 entries, got 51")
    );
    assert_eq!(
        err(&chain("switches:\n- ports:\n  - {}\n")),
        format!("{PREFIX}.switches[0].ports[0].serviceInterface: required field missing")
    );
}

#[test]
fn label_values_must_be_strings_and_valid() {
    let p = format!("{PREFIX}.switches[0].ports[0].serviceInterface.matchLabels");
    assert_eq!(
        err(&chain(
            "switches:\n- ports:\n  - serviceInterface:\n      matchLabels: {on: true}\n"
        )),
        format!("{p}[on]: expected a string, got boolean (quote it)")
    );
    assert!(err(&chain(
        "switches:\n- ports:\n  - serviceInterface:\n      matchLabels: {\"a b\": c}\n"
    ))
    .starts_with(&format!("{p}[a b]: label key \"a b\"")));
    assert!(err(&chain(
        "switches:\n- ports:\n  - serviceInterface:\n      matchLabels: {a: \"-x\"}\n"
    ))
    .starts_with(&format!("{p}[a]: label value \"-x\"")));
}

#[test]
fn service_mtu_is_1280_to_9216_default_1500() {
    let sw = |mtu: &str| {
        chain(&format!("switches:\n- serviceMTU: {mtu}\n  ports:\n  - serviceInterface:\n      matchLabels: {{a: b}}\n"))
    };
    assert_eq!(
        err(&sw("1279")),
        format!("{PREFIX}.switches[0].serviceMTU: must be in 1280..9216, got 1279")
    );
    assert_eq!(
        err(&sw("9217")),
        format!("{PREFIX}.switches[0].serviceMTU: must be in 1280..9216, got 9217")
    );
    assert_eq!(
        err(&sw("\"1500\"")),
        format!("{PREFIX}.switches[0].serviceMTU: expected an integer, got string")
    );
    ok(&sw("1280"));
    ok(&sw("9216"));
    let mut s = store();
    s.apply(&chain(ONE_PORT)).unwrap();
    assert_eq!(s.desired_switches()[0].mtu, 1500);
}

#[test]
fn type_errors_name_the_field() {
    assert_eq!(
        err(&chain("switches: 3\n")),
        format!("{PREFIX}.switches: expected a list, got number")
    );
    assert_eq!(
        err(&chain("switches:\n- ports: {}\n")),
        format!("{PREFIX}.switches[0].ports: expected a list, got object")
    );
}

const IPREFIX: &str = "DPUServiceInterface ns/bar: spec.template.spec.template.spec";

#[test]
fn interface_type_must_be_known() {
    assert_eq!(
        err(&iface("interfaceType: sriov\n")),
        format!("{IPREFIX}.interfaceType: unsupported value \"sriov\": expected one of physical, pf, vf, service, ovn, patch, vlan")
    );
    assert_eq!(
        err(&iface("physical:\n  interfaceName: p0\n")),
        format!("{IPREFIX}.interfaceType: required field missing")
    );
}

#[test]
fn type_block_must_match_interface_type() {
    assert_eq!(
        err(&iface("interfaceType: physical\n")),
        format!("{IPREFIX}.physical: for interfaceType=physical, physical must be set")
    );
    assert_eq!(
        err(&iface(
            "interfaceType: pf\npf:\n  pfID: 0\nphysical:\n  interfaceName: p0\n"
        )),
        format!("{IPREFIX}.physical: must not be set for interfaceType=pf")
    );
    assert_eq!(
        err(&iface(
            "interfaceType: ovn\nphysical:\n  interfaceName: p0\n"
        )),
        format!("{IPREFIX}.physical: must not be set for interfaceType=ovn")
    );
    ok(&iface("interfaceType: ovn\n"));
    ok(&iface(
        "interfaceType: ovn\novn:\n  externalBridge: br-ovn\n",
    ));
    ok(&iface(
        "interfaceType: patch\npatch:\n  peerBridge: br-ovn\n",
    ));
    ok(&iface(
        "interfaceType: vlan\nvlan:\n  vlanID: 10\n  parentInterfaceRef: p0\n",
    ));
    ok(&iface(
        "interfaceType: vf\nvf:\n  pfID: 0\n  vfID: 3\n  parentInterfaceRef: p0\n",
    ));
    assert_eq!(
        err(&iface("interfaceType: vf\nvf:\n  pfID: 0\n")),
        format!("{IPREFIX}.vf.vfID: required field missing")
    );
    assert_eq!(
        err(&iface("interfaceType: patch\npatch: {}\n")),
        format!("{IPREFIX}.patch.peerBridge: required field missing")
    );
}

#[test]
fn service_interface_name_is_1_to_15() {
    let svc = |n: &str| {
        iface(&format!("interfaceType: service\nservice:\n  serviceID: s\n  network: n\n  interfaceName: \"{n}\"\n"))
    };
    assert_eq!(
        err(&svc(&"x".repeat(16))),
        format!("{IPREFIX}.service.interfaceName: must be 1..15 characters, got 16")
    );
    assert_eq!(
        err(&svc("")),
        format!("{IPREFIX}.service.interfaceName: must be 1..15 characters, got 0")
    );
    ok(&svc(&"x".repeat(15)));
    assert_eq!(
        err(&iface(
            "interfaceType: service\nservice:\n  serviceID: s\n  interfaceName: a\n"
        )),
        format!("{IPREFIX}.service.network: required field missing")
    );
}

#[test]
fn pf_and_vf_ids_are_0_to_255() {
    assert_eq!(
        err(&iface("interfaceType: pf\npf:\n  pfID: 256\n")),
        format!("{IPREFIX}.pf.pfID: must be in 0..255, got 256")
    );
    assert_eq!(
        err(&iface(
            "interfaceType: pf\npf:\n  pfID: 0\n  nicSelector:\n    type: pci\n"
        )),
        format!("{IPREFIX}.pf.nicSelector.pci: for type=pci, pci must be set")
    );
}

#[test]
fn node_selector_expressions_are_checked() {
    let y = |expr: &str| {
        chain(ONE_PORT).replace(
            "      template:\n        spec:",
            &format!("      nodeSelector:\n        matchExpressions:\n        - {expr}\n      template:\n        spec:"),
        )
    };
    let p = "DPUServiceChain dpf-operator-system/foo: spec.template.spec.nodeSelector.matchExpressions[0]";
    assert_eq!(
        err(&y("{key: a, operator: In}")),
        format!("{p}.values: must be non-empty for operator In")
    );
    assert_eq!(
        err(&y("{key: a, operator: Exists, values: [x]}")),
        format!("{p}.values: must be empty for operator Exists")
    );
    assert_eq!(
        err(&y("{key: a, operator: Gt, values: [\"1\"]}")),
        format!(
            "{p}.operator: unsupported operator \"Gt\": expected In, NotIn, Exists or DoesNotExist"
        )
    );
    ok(&y("{key: a, operator: NotIn, values: [x, y]}"));
    ok(&y("{key: a, operator: DoesNotExist}"));
}

#[test]
fn kind_and_syntax_errors() {
    assert_eq!(
        err("apiVersion: v1\nmetadata: {name: x}\n"),
        "document 1: kind: required field missing"
    );
    assert!(err("kind: [unclosed\n").starts_with("document 1: cannot parse:"));
    assert!(err("{\"kind\": ").starts_with("document 1: cannot parse:"));
}

#[test]
fn deployment_port_needs_exactly_one_of_service_or_service_interface() {
    let y = "apiVersion: svc.dpu.nvidia.com/v1alpha1\nkind: DPUDeployment\nmetadata: {name: dep, namespace: ns}\nspec:\n  serviceChains:\n    switches:\n    - ports:\n      - service: {name: hbn, interface: p0_if}\n        serviceInterface: {matchLabels: {a: b}}\n";
    assert_eq!(
        err(y),
        "DPUDeployment ns/dep: spec.serviceChains.switches[0].ports[0]: either service or serviceInterface must be specified"
    );
}

#[test]
fn per_node_objects_validate_too() {
    let y = "apiVersion: svc.dpu.nvidia.com/v1alpha1\nkind: ServiceChain\nmetadata: {name: c}\nspec:\n  switches:\n  - ports:\n    - serviceInterface: {matchLabels: {a: b}}\n    serviceMTU: 100\n";
    assert_eq!(
        err(y),
        "ServiceChain default/c: spec.switches[0].serviceMTU: must be in 1280..9216, got 100"
    );
    let y = "apiVersion: svc.dpu.nvidia.com/v1alpha1\nkind: ServiceInterface\nmetadata: {name: i}\nspec:\n  interfaceType: pf\n";
    assert_eq!(
        err(y),
        "ServiceInterface default/i: spec.pf: for interfaceType=pf, pf must be set"
    );
}
