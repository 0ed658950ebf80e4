//! Forwarding state -> hardware rules, and the diff between two rule sets.
//!
//! [`translate`] and [`translate_switch`] (with the two rule builders
//! below it) are the whole translation. A flow is offloaded only when
//! one rule matches exactly what the software path matches and does
//! exactly what it does; anything else stays in software with the reason
//! (never a rule wider or narrower than the software one).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use super::rule::{Desired, LearnedMacs, Refusal, RuleFlow, RuleKey, Topology};
use crate::dpdk::flow::{Action, FlowAttr, FlowSpec, Item};
use crate::switch::{ForwardingState, MacAddr, PortId};

/// Every flow of `state` as a hardware rule or a refusal, sorted by key.
/// `learned` holds the learned MACs of the learning switches by label.
pub fn translate(state: &ForwardingState, ports: &Topology, learned: &LearnedMacs) -> Vec<Desired> {
    let mut out = Vec::new();
    let mut labels: HashSet<&str> = HashSet::new();
    for spec in state.specs() {
        let label: Arc<str> = Arc::from(spec.name.as_str());
        if labels.insert(spec.name.as_str()) {
            translate_switch(&label, &spec.ports, ports, learned.get(&label), &mut out);
        } else {
            duplicate(&label, &spec.ports, &mut out);
        }
    }
    out.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    out
}

/// The flows of one switch with ports `ports` (as its spec lists them).
pub fn translate_switch(
    label: &Arc<str>,
    ports: &[PortId],
    topo: &Topology,
    learned: Option<&BTreeMap<MacAddr, PortId>>,
    out: &mut Vec<Desired>,
) {
    let members = distinct(ports);
    match members.as_slice() {
        // Alone in its switch, a port drops in software: nothing to do.
        [] | [_] => {}
        // A cross-connect: every frame from A goes to B, and back.
        &[a, b] => {
            out.push(port_to_port(label, a, None, b, topo));
            out.push(port_to_port(label, b, None, a, topo));
        }
        // A learning switch: a frame from peer Q to a MAC learned on P goes
        // to P. Everything else floods the peers: software.
        _ => {
            for &p in &members {
                out.push(refused(label, p, None, Refusal::Flood));
            }
            for (&mac, &port) in learned.into_iter().flatten() {
                learned_mac_rules(label, &members, mac, port, topo, out);
            }
        }
    }
}

/// The rules of one learned MAC `mac` on `port` of a learning switch with
/// ports `members`: one per peer. None for the learning port itself (a
/// frame from P to a MAC learned on P matches no learned rule in DPF and
/// floods), nor for a multicast MAC or a port that is not a member.
pub fn learned_mac_rules(
    label: &Arc<str>,
    members: &[PortId],
    mac: MacAddr,
    port: PortId,
    ports: &Topology,
    out: &mut Vec<Desired>,
) {
    if mac.is_multicast() || !members.contains(&port) {
        return;
    }
    for &q in members {
        if q != port {
            out.push(port_to_port(label, q, Some(mac), port, ports));
        }
    }
}

/// `transfer, pattern represented_port IN [/ eth dst is DST] / end,
/// actions represented_port OUT / count / end`, created on IN's transfer
/// proxy; refused if the two ports cannot share a transfer rule.
fn port_to_port(
    label: &Arc<str>,
    in_port: PortId,
    dst: Option<MacAddr>,
    out_port: PortId,
    ports: &Topology,
) -> Desired {
    let key = RuleKey {
        switch: label.clone(),
        dst,
        in_port,
    };
    let flow = (|| {
        let i = ports.get(in_port).ok_or(Refusal::UnknownPort(in_port))?;
        let o = ports.get(out_port).ok_or(Refusal::UnknownPort(out_port))?;
        if i.domain != o.domain {
            return Err(Refusal::SwitchDomains {
                in_port,
                in_domain: i.domain,
                out_port,
                out_domain: o.domain,
            });
        }
        // Without switch domains there is no E-Switch to compare proxies
        // in: the driver answers.
        if i.domain.is_some() && i.proxy != o.proxy {
            return Err(Refusal::Proxies {
                in_port,
                in_proxy: i.proxy,
                out_port,
                out_proxy: o.proxy,
            });
        }
        let mut pattern = Vec::with_capacity(3);
        pattern.push(Item::RepresentedPort { port_id: in_port });
        if let Some(m) = dst {
            pattern.push(Item::Eth {
                dst: Some(m.bytes()),
                src: None,
                ether_type: None,
            });
        }
        pattern.push(Item::End);
        Ok(RuleFlow {
            proxy: i.proxy,
            out_port,
            spec: FlowSpec {
                attr: FlowAttr::transfer(),
                pattern,
                actions: vec![
                    Action::RepresentedPort { port_id: out_port },
                    Action::Count,
                    Action::End,
                ],
            },
        })
    })();
    Desired { key, flow }
}

fn refused(label: &Arc<str>, in_port: PortId, dst: Option<MacAddr>, why: Refusal) -> Desired {
    Desired {
        key: RuleKey {
            switch: label.clone(),
            dst,
            in_port,
        },
        flow: Err(why),
    }
}

/// A second switch with a label already used: its keys would collide with
/// the first's, so its flows stay in software.
fn duplicate(label: &Arc<str>, ports: &[PortId], out: &mut Vec<Desired>) {
    for p in distinct(ports) {
        out.push(refused(label, p, None, Refusal::DuplicateSwitch));
    }
}

/// A switch label a new state adds, changes or removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub label: Arc<str>,
    /// Indices of the new state's specs with this label, in order (more
    /// than one: duplicates; none: the switch is gone).
    pub specs: Vec<usize>,
}

/// The switches a new state adds, removes or changes (their ports, in
/// order, or duplicates); the others keep their rules as they are.
pub fn changed_switches(old: &ForwardingState, new: &ForwardingState) -> Vec<Change> {
    fn by_label(s: &ForwardingState) -> HashMap<&str, Vec<usize>> {
        let mut m: HashMap<&str, Vec<usize>> = HashMap::with_capacity(s.specs().len());
        for (i, spec) in s.specs().iter().enumerate() {
            m.entry(spec.name.as_str()).or_default().push(i);
        }
        m
    }
    let (o, n) = (by_label(old), by_label(new));
    let same = |a: &[usize], b: &[usize]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(i, j)| old.specs()[*i].ports == new.specs()[*j].ports)
    };
    let mut out: Vec<Change> = Vec::new();
    for (i, spec) in new.specs().iter().enumerate() {
        let label = spec.name.as_str();
        let Some(now) = n.get(label) else { continue };
        if now.first() != Some(&i) {
            continue; // the label's first spec stands for all of them
        }
        if !o.get(label).is_some_and(|was| same(was, now)) {
            out.push(Change {
                label: Arc::from(label),
                specs: now.clone(),
            });
        }
    }
    let mut gone: HashSet<&str> = HashSet::new();
    for spec in old.specs() {
        let label = spec.name.as_str();
        if !n.contains_key(label) && gone.insert(label) {
            out.push(Change {
                label: Arc::from(label),
                specs: Vec::new(),
            });
        }
    }
    out
}

/// The flows of one changed switch label in `state` (the new state of
/// [`changed_switches`]), sorted.
pub fn translate_change(
    state: &ForwardingState,
    change: &Change,
    ports: &Topology,
    learned: &LearnedMacs,
) -> Vec<Desired> {
    let mut out = Vec::new();
    let label = &change.label;
    for (n, spec) in change
        .specs
        .iter()
        .filter_map(|i| state.specs().get(*i))
        .enumerate()
    {
        if n == 0 {
            translate_switch(label, &spec.ports, ports, learned.get(label), &mut out);
        } else {
            duplicate(label, &spec.ports, &mut out);
        }
    }
    out.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    out
}

/// The key range of every flow of one switch label.
pub fn label_range(label: &Arc<str>) -> std::ops::RangeInclusive<RuleKey> {
    let lo = RuleKey {
        switch: label.clone(),
        dst: None,
        in_port: 0,
    };
    let hi = RuleKey {
        switch: label.clone(),
        dst: Some(MacAddr(u64::MAX)),
        in_port: PortId::MAX,
    };
    lo..=hi
}

/// The ports of a spec, each once, in order (as the state builds them).
pub fn distinct(ports: &[PortId]) -> Vec<PortId> {
    let mut v: Vec<PortId> = Vec::with_capacity(ports.len());
    for &p in ports {
        if !v.contains(&p) {
            v.push(p);
        }
    }
    v
}

/// The learned MACs of every learning switch of `state`, read from their
/// tables (only entries on member ports).
pub fn learned_from_tables(state: &ForwardingState) -> LearnedMacs {
    let mut out = LearnedMacs::new();
    for sw in state.switches() {
        let macs = out.entry(Arc::from(sw.name.as_str())).or_default();
        for e in sw.table.entries() {
            if sw.has_port(e.port) {
                macs.insert(e.mac, e.port);
            }
        }
    }
    out
}

/// What to change: remove these keys (destroying their rules), then
/// install these. A key whose rule changed is in both.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    pub remove: Vec<RuleKey>,
    pub add: Vec<Desired>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.add.is_empty()
    }
}

/// The diff by key between `current` and `desired`, both sorted by key.
pub fn plan<'a, I>(current: I, desired: Vec<Desired>) -> Plan
where
    I: IntoIterator<Item = (&'a RuleKey, &'a Result<RuleFlow, Refusal>)>,
{
    let mut p = Plan::default();
    let mut cur = current.into_iter().peekable();
    let mut want = desired.into_iter().peekable();
    loop {
        match (cur.peek(), want.peek()) {
            (None, None) => break,
            (Some(_), None) => {
                if let Some((k, _)) = cur.next() {
                    p.remove.push(k.clone());
                }
            }
            (None, Some(_)) => p.add.extend(want.next()),
            (Some((ck, cf)), Some(d)) => match (*ck).cmp(&d.key) {
                std::cmp::Ordering::Less => {
                    p.remove.push((*ck).clone());
                    cur.next();
                }
                std::cmp::Ordering::Greater => p.add.extend(want.next()),
                std::cmp::Ordering::Equal => {
                    if **cf != d.flow {
                        p.remove.push((*ck).clone());
                        p.add.extend(want.next());
                    } else {
                        want.next();
                    }
                    cur.next();
                }
            },
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::super::rule::PortTopo;
    use super::*;
    use crate::switch::{StateConfig, SwitchSpec};

    fn topo(ports: &[(PortId, Option<u16>)]) -> Topology {
        let mut t = Topology::default();
        for &(id, domain) in ports {
            t.insert(
                id,
                PortTopo {
                    name: Arc::from(format!("p{id}")),
                    proxy: 0,
                    domain,
                },
            );
        }
        t
    }

    fn state(specs: &[(&str, &[PortId])]) -> ForwardingState {
        let specs: Vec<SwitchSpec> = specs.iter().map(|(n, p)| SwitchSpec::new(*n, p)).collect();
        match ForwardingState::build(&specs, None, StateConfig::default()) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    fn key(sw: &str, dst: Option<u64>, in_port: PortId) -> RuleKey {
        RuleKey {
            switch: Arc::from(sw),
            dst: dst.map(MacAddr),
            in_port,
        }
    }

    fn rule(proxy: PortId, pattern: Vec<Item>, out: PortId) -> Result<RuleFlow, Refusal> {
        Ok(RuleFlow {
            proxy,
            out_port: out,
            spec: FlowSpec {
                attr: FlowAttr {
                    group: 0,
                    priority: 0,
                    ingress: false,
                    egress: false,
                    transfer: true,
                },
                pattern,
                actions: vec![
                    Action::RepresentedPort { port_id: out },
                    Action::Count,
                    Action::End,
                ],
            },
        })
    }

    const M: u64 = 0x0200_0000_000a;

    #[test]
    fn cross_connect_is_two_port_to_port_rules_with_count() {
        let st = state(&[("ns/xc switch 0", &[3, 1])]);
        let t = translate(
            &st,
            &topo(&[(1, Some(7)), (3, Some(7))]),
            &LearnedMacs::new(),
        );
        assert_eq!(
            t,
            vec![
                Desired {
                    key: key("ns/xc switch 0", None, 1),
                    flow: rule(0, vec![Item::RepresentedPort { port_id: 1 }, Item::End], 3),
                },
                Desired {
                    key: key("ns/xc switch 0", None, 3),
                    flow: rule(0, vec![Item::RepresentedPort { port_id: 3 }, Item::End], 1),
                },
            ]
        );
        let Ok(f) = &t[0].flow else {
            panic!("not a rule")
        };
        assert_eq!(
            f.testpmd(),
            "flow create 0 transfer pattern represented_port ethdev_port_id is 1 / end \
             actions represented_port ethdev_port_id 3 / count / end"
        );
    }

    #[test]
    fn learned_mac_gives_one_rule_per_peer_and_floods_stay_in_software() {
        let st = state(&[("sw", &[1, 2, 3])]);
        let mut learned = LearnedMacs::new();
        learned.insert(Arc::from("sw"), BTreeMap::from([(MacAddr(M), 2)]));
        let t = translate(&st, &topo(&[(1, None), (2, None), (3, None)]), &learned);
        let eth = Item::Eth {
            dst: Some([2, 0, 0, 0, 0, 0x0a]),
            src: None,
            ether_type: None,
        };
        assert_eq!(
            t,
            vec![
                Desired {
                    key: key("sw", None, 1),
                    flow: Err(Refusal::Flood)
                },
                Desired {
                    key: key("sw", None, 2),
                    flow: Err(Refusal::Flood)
                },
                Desired {
                    key: key("sw", None, 3),
                    flow: Err(Refusal::Flood)
                },
                Desired {
                    key: key("sw", Some(M), 1),
                    flow: rule(
                        0,
                        vec![Item::RepresentedPort { port_id: 1 }, eth, Item::End],
                        2
                    ),
                },
                Desired {
                    key: key("sw", Some(M), 3),
                    flow: rule(
                        0,
                        vec![Item::RepresentedPort { port_id: 3 }, eth, Item::End],
                        2
                    ),
                },
            ]
        );
        let Ok(f) = &t[4].flow else {
            panic!("not a rule")
        };
        assert_eq!(
            f.testpmd(),
            "flow create 0 transfer pattern represented_port ethdev_port_id is 3 / \
             eth dst is 02:00:00:00:00:0a / end actions represented_port ethdev_port_id 2 / count / end"
        );
    }

    #[test]
    fn no_rule_for_a_mac_on_a_non_member_or_multicast_and_none_without_learning() {
        let st = state(&[("sw", &[1, 2, 3]), ("xc", &[4, 5])]);
        let mut learned = LearnedMacs::new();
        learned.insert(
            Arc::from("sw"),
            BTreeMap::from([(MacAddr(M), 9), (MacAddr(0x0100_5e00_0001), 1)]),
        );
        // A MAC "learned" on a cross-connect changes nothing there.
        learned.insert(Arc::from("xc"), BTreeMap::from([(MacAddr(M), 4)]));
        let t = translate(
            &st,
            &topo(&[(1, None), (2, None), (3, None), (4, None), (5, None)]),
            &learned,
        );
        assert!(t.iter().all(|d| d.key.dst.is_none()), "{t:?}");
        assert_eq!(t.iter().filter(|d| d.flow.is_ok()).count(), 2);
    }

    #[test]
    fn ports_in_different_switch_domains_are_refused() {
        let st = state(&[("xc", &[1, 2]), ("sw", &[3, 4, 5])]);
        let mut learned = LearnedMacs::new();
        learned.insert(Arc::from("sw"), BTreeMap::from([(MacAddr(M), 3)]));
        let t = translate(
            &st,
            &topo(&[
                (1, Some(0)),
                (2, Some(1)),
                (3, Some(0)),
                (4, Some(0)),
                (5, None),
            ]),
            &learned,
        );
        let get = |k: RuleKey| t.iter().find(|d| d.key == k).map(|d| d.flow.clone());
        assert_eq!(
            get(key("xc", None, 1)),
            Some(Err(Refusal::SwitchDomains {
                in_port: 1,
                in_domain: Some(0),
                out_port: 2,
                out_domain: Some(1)
            }))
        );
        assert!(matches!(
            get(key("xc", None, 2)),
            Some(Err(Refusal::SwitchDomains { .. }))
        ));
        // Same domain: offloaded; a port with no domain never joins one with.
        assert!(matches!(get(key("sw", Some(M), 4)), Some(Ok(_))));
        assert_eq!(
            get(key("sw", Some(M), 5)),
            Some(Err(Refusal::SwitchDomains {
                in_port: 5,
                in_domain: None,
                out_port: 3,
                out_domain: Some(0)
            }))
        );
    }

    #[test]
    fn unknown_ports_different_proxies_and_duplicate_labels_are_refused() {
        let st = state(&[("xc", &[1, 2]), ("xc", &[3, 4]), ("y", &[5, 6])]);
        let mut t = topo(&[(1, None), (5, Some(1)), (6, Some(1))]);
        t.insert(
            6,
            PortTopo {
                name: Arc::from("p6"),
                proxy: 6,
                domain: Some(1),
            },
        );
        let d = translate(&st, &t, &LearnedMacs::new());
        let get = |k: RuleKey| d.iter().find(|d| d.key == k).map(|d| d.flow.clone());
        assert_eq!(get(key("xc", None, 1)), Some(Err(Refusal::UnknownPort(2))));
        assert_eq!(get(key("xc", None, 3)), Some(Err(Refusal::DuplicateSwitch)));
        assert!(matches!(
            get(key("y", None, 5)),
            Some(Err(Refusal::Proxies { .. }))
        ));
    }

    #[test]
    fn lone_ports_have_no_rules() {
        let st = state(&[("one", &[1])]);
        assert!(translate(&st, &topo(&[(1, None)]), &LearnedMacs::new()).is_empty());
    }

    #[test]
    fn plan_adds_removes_and_replaces_exactly_by_key() {
        let tp = topo(&[(1, None), (2, None), (3, None), (4, None)]);
        let old = translate(
            &state(&[("a", &[1, 2]), ("b", &[3, 4])]),
            &tp,
            &LearnedMacs::new(),
        );
        let cur: BTreeMap<RuleKey, Result<RuleFlow, Refusal>> =
            old.into_iter().map(|d| (d.key, d.flow)).collect();
        // b is deleted, a becomes a learning switch.
        let new = translate(&state(&[("a", &[1, 2, 3])]), &tp, &LearnedMacs::new());
        let p = plan(cur.iter(), new);
        assert_eq!(
            p.remove,
            vec![
                key("a", None, 1),
                key("a", None, 2),
                key("b", None, 3),
                key("b", None, 4)
            ]
        );
        let added: Vec<RuleKey> = p.add.iter().map(|d| d.key.clone()).collect();
        assert_eq!(
            added,
            vec![key("a", None, 1), key("a", None, 2), key("a", None, 3)]
        );
        assert!(p.add.iter().all(|d| d.flow == Err(Refusal::Flood)));
        // The same state again: nothing to do.
        let again = translate(&state(&[("a", &[1, 2])]), &tp, &LearnedMacs::new());
        let cur: BTreeMap<RuleKey, Result<RuleFlow, Refusal>> =
            again.clone().into_iter().map(|d| (d.key, d.flow)).collect();
        assert!(plan(cur.iter(), again).is_empty());
    }

    #[test]
    fn changed_switches_are_the_added_changed_and_removed_labels() {
        let old = state(&[("a", &[1, 2]), ("b", &[3, 4, 5]), ("c", &[6, 7])]);
        let new = state(&[("a", &[1, 2]), ("b", &[3, 4]), ("d", &[6, 7])]);
        let ch: Vec<String> = changed_switches(&old, &new)
            .iter()
            .map(|c| c.label.to_string())
            .collect();
        assert_eq!(ch, vec!["b", "d", "c"]);
        assert!(changed_switches(&new, &new).is_empty());
        // Translating the changed labels gives the same plan as the whole.
        let tp = topo(&[
            (1, None),
            (2, None),
            (3, None),
            (4, None),
            (5, None),
            (6, None),
            (7, None),
        ]);
        let l = LearnedMacs::new();
        let cur: BTreeMap<RuleKey, Result<RuleFlow, Refusal>> = translate(&old, &tp, &l)
            .into_iter()
            .map(|d| (d.key, d.flow))
            .collect();
        let whole = plan(cur.iter(), translate(&new, &tp, &l));
        let mut part = Plan::default();
        for c in changed_switches(&old, &new) {
            let p = plan(
                cur.range(label_range(&c.label)),
                translate_change(&new, &c, &tp, &l),
            );
            part.remove.extend(p.remove);
            part.add.extend(p.add);
        }
        part.remove.sort();
        part.add.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(part, whole);
    }

    #[test]
    fn full_translation_equals_the_union_of_per_mac_rules() {
        let st = state(&[("sw", &[1, 2, 3, 4])]);
        let tp = topo(&[(1, None), (2, None), (3, None), (4, None)]);
        let macs = BTreeMap::from([(MacAddr(M), 2), (MacAddr(M + 1), 4)]);
        let mut learned = LearnedMacs::new();
        learned.insert(Arc::from("sw"), macs.clone());
        let full: Vec<Desired> = translate(&st, &tp, &learned)
            .into_iter()
            .filter(|d| d.key.dst.is_some())
            .collect();
        let mut each = Vec::new();
        for (m, p) in macs {
            learned_mac_rules(&Arc::from("sw"), &[1, 2, 3, 4], m, p, &tp, &mut each);
        }
        each.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(full, each);
        assert_eq!(full.len(), 6);
    }
}
