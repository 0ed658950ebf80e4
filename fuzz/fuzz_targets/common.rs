// Shared by the control-plane targets: a store for node `dpu-fuzz`
// (bfb=dk) with the seed's dataplane ports and the conformance seed applied,
// built once and cloned per input.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use sfc_control::{ManualClock, NodeInfo, Store};

pub const PORTS: &[&str] = &["p0", "p1", "ovn", "p0_if", "p1_if", "pf2dpu3_if"];
const SEED_UPLINKS: &str = include_str!("../../control/tests/data/seed-uplinks-and-ovn.yaml");
const SEED_HBN: &str = include_str!("../../control/tests/data/seed-hbn-zone-dk.yaml");

pub fn fresh_store() -> Store {
    let labels = BTreeMap::from([("bfb".to_string(), "dk".to_string())]);
    let mut s = Store::with_clock(
        NodeInfo::new("dpu-fuzz", labels),
        Arc::new(ManualClock::new(1_800_000_000)),
    );
    s.set_dataplane_ports(PORTS.iter().map(|p| p.to_string()).collect());
    s
}

pub fn seeded_store() -> Store {
    static SEEDED: OnceLock<Store> = OnceLock::new();
    SEEDED
        .get_or_init(|| {
            let mut s = fresh_store();
            if let Err(e) = s.apply(SEED_UPLINKS).and_then(|_| s.apply(SEED_HBN)) {
                panic!("the conformance seed must apply: {e}");
            }
            s
        })
        .clone()
}

/// Applies `text`; on success the store's snapshot must restore into a
/// fresh store and give the same snapshot and the same desired switches;
/// on failure the store must be unchanged.
pub fn apply_and_round_trip(store: &mut Store, text: &str) {
    let before = store.snapshot();
    match store.apply(text) {
        Ok(_) => {
            let _ = store.desired_switches();
            let _ = store.list(None);
            let snap = store.snapshot();
            let mut back = fresh_store();
            if let Err(e) = back.restore(&snap) {
                panic!("a snapshot of an accepted state does not restore: {e}");
            }
            assert_eq!(back.snapshot(), snap, "snapshot round trip differs");
            assert_eq!(
                back.desired_switches(),
                store.desired_switches(),
                "restored store programs other switches"
            );
        }
        Err(_) => assert_eq!(
            store.snapshot(),
            before,
            "a refused apply changed the store"
        ),
    }
}
