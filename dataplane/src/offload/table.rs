//! The offload thread's bookkeeping, synchronous and deterministic: which
//! rules are installed, in which state, with which counters; how a new
//! forwarding state, a learned or aged MAC, a poll tick, a port coming or
//! going changes them. [`super::Offloader`] runs it on its own thread.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::device::{FlowDevice, PortProbe};
use super::rule::{
    Desired, LearnedMacs, PortTopo, PortView, Refusal, RuleFlow, RuleKey, RuleState, RuleView,
    Topology,
};
use super::translate::{
    changed_switches, distinct, label_range, learned_from_tables, learned_mac_rules, plan,
    translate, translate_change, Change, Plan,
};
use crate::dpdk::flow::{FlowApi, FlowCount, FlowError, TemplateConfig};
use crate::dpdk::PortInfo;
use crate::switch::{ForwardingState, MacAddr, PortId, DEFAULT_MAC_IDLE_MS};

/// Log target of everything the offload layer says.
pub const LOG: &str = "sfcd::offload";

/// Offload tunables.
#[derive(Debug, Clone)]
pub struct OffloadConfig {
    /// How often counters are polled, idle rules aged and failed rules
    /// retried.
    pub poll_interval: Duration,
    /// A learned MAC rule whose COUNT has not moved for this long goes.
    pub mac_idle_ms: u64,
    /// Create attempts per rule before it stays `failed`.
    pub max_attempts: u32,
    /// How often the MAC tables are re-read (catches learn/age events that
    /// were dropped on a full queue).
    pub rescan_ms: u64,
    /// Bound of the offload thread's message queue.
    pub queue: usize,
    pub template: TemplateConfig,
}

impl Default for OffloadConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            mac_idle_ms: u64::from(DEFAULT_MAC_IDLE_MS),
            max_attempts: 3,
            rescan_ms: 2_000,
            queue: 4096,
            template: TemplateConfig::default(),
        }
    }
}

/// Counts of what the table did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OffloadStats {
    pub created: u64,
    pub destroyed: u64,
    pub create_errors: u64,
    pub destroy_errors: u64,
    pub query_errors: u64,
    /// Learned MAC rules removed for an idle counter.
    pub aged: u64,
    /// Learn/age events dropped on a full queue (set by the Offloader).
    pub dropped_events: u64,
}

struct PortEntry {
    name: Arc<str>,
    id: PortId,
    domain: Option<u16>,
    probe: PortProbe,
    /// Every flow of the port stays in software: why, and the errno.
    software: Option<(String, Option<i32>)>,
    /// A rule was created on the port, so an "unsupported" answer is about
    /// that rule, not the port.
    offloaded_any: bool,
    /// Errnos already logged at warn for this port (one line each).
    warned: BTreeSet<i32>,
}

struct Entry<H> {
    flow: Result<RuleFlow, Refusal>,
    testpmd: Arc<str>,
    state: RuleState,
    errno: Option<i32>,
    handle: Option<H>,
    hw: FlowCount,
    /// When the COUNT last moved (or the rule was made).
    moved_at: u64,
    attempts: u32,
}

/// Installed rules and their states.
pub struct OffloadTable<D: FlowDevice> {
    device: D,
    config: OffloadConfig,
    ports: BTreeMap<PortId, PortEntry>,
    topo: Topology,
    state: Arc<ForwardingState>,
    /// Switch label -> index of its (first) spec in `state`.
    labels: HashMap<Arc<str>, usize>,
    learned: LearnedMacs,
    /// Learned MAC rules removed for idleness: kept out of hardware until
    /// the MAC is learned again.
    retired: BTreeSet<RuleKey>,
    entries: BTreeMap<RuleKey, Entry<D::Handle>>,
    stats: OffloadStats,
    last_rescan: u64,
    dirty: bool,
}

impl<D: FlowDevice> OffloadTable<D> {
    pub fn new(device: D, config: OffloadConfig) -> Self {
        Self {
            device,
            config,
            ports: BTreeMap::new(),
            topo: Topology::default(),
            state: Arc::new(ForwardingState::empty()),
            labels: HashMap::new(),
            learned: LearnedMacs::new(),
            retired: BTreeSet::new(),
            entries: BTreeMap::new(),
            stats: OffloadStats::default(),
            last_rescan: 0,
            dirty: true,
        }
    }

    pub fn device(&self) -> &D {
        &self.device
    }

    pub fn stats(&self) -> OffloadStats {
        self.stats
    }

    /// Something visible changed since the last `take_dirty`.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Clears the "changed" mark; true if it was set.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::replace(&mut self.dirty, false)
    }

    /// Probes the port's flow API (once) and offloads what the current
    /// state has for it. A port without rte_flow is logged once here.
    pub fn add_port(&mut self, name: &str, id: PortId, info: &PortInfo, now: u64) {
        if self.ports.contains_key(&id) {
            self.drop_port(id);
        }
        let probe = self.device.probe(id);
        let software = if probe.api == FlowApi::None {
            let why = probe
                .note
                .as_ref()
                .map_or_else(|| "no rte_flow support".to_owned(), ToString::to_string);
            tracing::info!(target: LOG, port = %name, id, "flows of port {name} stay in software: {why}");
            Some((why, probe.note.as_ref().and_then(FlowError::errno)))
        } else {
            tracing::debug!(target: LOG, port = %name, id, api = %probe.api, proxy = probe.proxy, note = ?probe.note, "flow API");
            None
        };
        let name: Arc<str> = Arc::from(name);
        self.topo.insert(
            id,
            PortTopo {
                name: name.clone(),
                proxy: probe.proxy,
                domain: info.switch_domain,
            },
        );
        self.ports.insert(
            id,
            PortEntry {
                name,
                id,
                domain: info.switch_domain,
                probe,
                software,
                offloaded_any: false,
                warned: BTreeSet::new(),
            },
        );
        self.reconcile(now);
    }

    /// Destroys every rule that uses the port (in, out or proxy), then
    /// forgets it; its flows show as refusals while the state names it.
    /// Call before the port is closed.
    pub fn remove_port(&mut self, name: &str, now: u64) -> bool {
        let Some(id) = self.topo.id_of(name) else {
            return false;
        };
        self.drop_port(id);
        self.reconcile(now);
        true
    }

    fn drop_port(&mut self, id: PortId) {
        let keys: Vec<RuleKey> = self
            .entries
            .iter()
            .filter(|(k, e)| {
                k.in_port == id
                    || e.flow
                        .as_ref()
                        .is_ok_and(|f| f.out_port == id || f.proxy == id)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            self.remove_entry(&k);
        }
        self.topo.remove(id);
        self.ports.remove(&id);
        self.device.release_port(id);
        self.dirty = true;
    }

    /// Offloads `state`: the switches it adds, changes or removes are
    /// translated and diffed by key against what is installed for them;
    /// the others keep their rules untouched. Learned MACs come from the
    /// events and the periodic table rescan.
    pub fn set_state(&mut self, state: Arc<ForwardingState>, now: u64) {
        let old = std::mem::replace(&mut self.state, state);
        self.labels.clear();
        for (i, s) in self.state.specs().iter().enumerate() {
            self.labels.entry(Arc::from(s.name.as_str())).or_insert(i);
        }
        let labels = &self.labels;
        self.learned.retain(|l, _| labels.contains_key(l));
        // One plan for all: every rule that goes is destroyed before any is
        // made, so a port moving between switches never has two.
        let mut all = Plan::default();
        for change in changed_switches(&old, &self.state) {
            let p = self.plan_change(&change);
            all.remove.extend(p.remove);
            all.add.extend(p.add);
        }
        self.apply(all, now);
    }

    /// The engine learned `mac` on `port` of switch `switch` (new, moved
    /// or refreshed): its rules follow, and an idle-aged MAC comes back.
    pub fn learned(&mut self, switch: &str, mac: MacAddr, port: PortId, now: u64) {
        let Some((label, _)) = self.labels.get_key_value(switch) else {
            return;
        };
        let label = label.clone();
        self.learned
            .entry(label.clone())
            .or_default()
            .insert(mac, port);
        let (lo, hi) = mac_range(&label, mac);
        let back: Vec<RuleKey> = self.retired.range(lo..=hi).cloned().collect();
        for k in back {
            self.retired.remove(&k);
        }
        self.reconcile_mac(&label, mac, now);
    }

    /// The engine aged `mac` out of switch `switch`: its rules go.
    pub fn aged(&mut self, switch: &str, mac: MacAddr, now: u64) {
        let Some((label, _)) = self.labels.get_key_value(switch) else {
            return;
        };
        let label = label.clone();
        if let Some(m) = self.learned.get_mut(&label) {
            m.remove(&mac);
        }
        self.reconcile_mac(&label, mac, now);
    }

    /// Polls counters, ages idle learned rules, retries failed rules and,
    /// when due, re-reads the MAC tables.
    pub fn tick(&mut self, now: u64) {
        self.poll_counters(now);
        self.retry_failed(now);
        if now.saturating_sub(self.last_rescan) >= self.config.rescan_ms {
            self.rescan(now);
        }
    }

    /// Destroys every rule (sfcd leaves nothing in hardware at exit).
    pub fn shutdown(&mut self) {
        let keys: Vec<RuleKey> = self.entries.keys().cloned().collect();
        for k in keys {
            self.remove_entry(&k);
        }
        let ids: Vec<PortId> = self.ports.keys().copied().collect();
        for id in ids {
            self.device.release_port(id);
        }
        self.dirty = true;
    }

    /// Every flow with its state, by key.
    pub fn views(&self) -> Vec<RuleView> {
        self.entries
            .iter()
            .map(|(k, e)| {
                let out = e.flow.as_ref().ok().map(|f| f.out_port);
                RuleView {
                    key: k.clone(),
                    in_port_name: self.topo.name(k.in_port),
                    out_port: out,
                    out_port_name: out.map(|o| self.topo.name(o)),
                    testpmd: e.testpmd.clone(),
                    state: e.state.clone(),
                    errno: e.errno,
                    hw_packets: e.hw.hits,
                    hw_bytes: e.hw.bytes,
                }
            })
            .collect()
    }

    pub fn port_views(&self) -> Vec<PortView> {
        self.ports
            .values()
            .map(|p| PortView {
                name: p.name.clone(),
                id: p.id,
                api: p.probe.api,
                proxy: p.probe.proxy,
                switch_domain: p.domain,
                software_only: p.software.as_ref().map(|(w, _)| w.clone()),
            })
            .collect()
    }

    // ---- diff and apply ----

    fn reconcile(&mut self, now: u64) {
        let mut desired = translate(&self.state, &self.topo, &self.learned);
        self.mark_retired(&mut desired, |_| true);
        let p = plan(self.entries.iter().map(|(k, e)| (k, &e.flow)), desired);
        self.apply(p, now);
    }

    fn plan_change(&mut self, change: &Change) -> Plan {
        let label = &change.label;
        let mut desired = translate_change(&self.state, change, &self.topo, &self.learned);
        self.mark_retired(&mut desired, |k| &k.switch == label);
        plan(
            self.entries
                .range(label_range(label))
                .map(|(k, e)| (k, &e.flow)),
            desired,
        )
    }

    fn reconcile_mac(&mut self, label: &Arc<str>, mac: MacAddr, now: u64) {
        let mut desired = Vec::new();
        if let Some(&i) = self.labels.get(label) {
            let members = distinct(&self.state.specs()[i].ports);
            let port = self.learned.get(label).and_then(|m| m.get(&mac)).copied();
            if let (true, Some(port)) = (members.len() >= 3, port) {
                learned_mac_rules(label, &members, mac, port, &self.topo, &mut desired);
            }
        }
        desired.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        self.mark_retired(&mut desired, |k| &k.switch == label && k.dst == Some(mac));
        let (lo, hi) = mac_range(label, mac);
        let p = plan(
            self.entries.range(lo..=hi).map(|(k, e)| (k, &e.flow)),
            desired,
        );
        self.apply(p, now);
    }

    /// Retired keys stay refusals; retired keys in `scope` that are no
    /// longer wanted are forgotten.
    fn mark_retired(&mut self, desired: &mut [Desired], scope: impl Fn(&RuleKey) -> bool) {
        if self.retired.is_empty() {
            return;
        }
        let mut wanted = BTreeSet::new();
        for d in desired.iter_mut() {
            if d.flow.is_ok() && self.retired.contains(&d.key) {
                d.flow = Err(Refusal::Idle);
                wanted.insert(d.key.clone());
            }
        }
        self.retired.retain(|k| !scope(k) || wanted.contains(k));
    }

    fn apply(&mut self, p: Plan, now: u64) {
        if p.is_empty() {
            return;
        }
        for k in &p.remove {
            self.remove_entry(k);
        }
        for d in p.add {
            let e = self.install(&d.key, d.flow, now);
            self.entries.insert(d.key, e);
        }
        self.dirty = true;
    }

    fn remove_entry(&mut self, k: &RuleKey) {
        let Some(e) = self.entries.remove(k) else {
            return;
        };
        let Some(h) = e.handle else {
            return;
        };
        match self.device.destroy(h) {
            Ok(()) => self.stats.destroyed += 1,
            Err(err) => {
                self.stats.destroy_errors += 1;
                let proxy = e.flow.as_ref().map_or(k.in_port, |f| f.proxy);
                self.log_failure(proxy, k, "destroy", &err);
            }
        }
        self.dirty = true;
    }

    fn install(
        &mut self,
        key: &RuleKey,
        flow: Result<RuleFlow, Refusal>,
        now: u64,
    ) -> Entry<D::Handle> {
        let testpmd: Arc<str> = match &flow {
            Ok(f) => Arc::from(f.testpmd()),
            Err(_) => Arc::from(""),
        };
        let state = match &flow {
            Ok(_) => RuleState::Failed("not tried".into()),
            Err(r) => RuleState::Software(r.to_string()),
        };
        let mut e = Entry {
            flow,
            testpmd,
            state,
            errno: None,
            handle: None,
            hw: FlowCount::default(),
            moved_at: now,
            attempts: 0,
        };
        self.try_create(key, &mut e, now);
        e
    }

    /// One create attempt, unless a port of the rule cannot offload.
    fn try_create(&mut self, key: &RuleKey, e: &mut Entry<D::Handle>, now: u64) {
        let (proxy, out) = match &e.flow {
            Ok(f) => (f.proxy, f.out_port),
            Err(_) => return,
        };
        // A port without rte_flow is in no E-Switch: no rule can name it.
        // A proxy whose first rule was refused makes no more rules.
        for (p, as_proxy) in [(key.in_port, false), (out, false), (proxy, true)] {
            let Some(pe) = self.ports.get(&p) else {
                e.state = RuleState::Software(format!("port {p} is gone"));
                return;
            };
            if as_proxy || pe.probe.api == FlowApi::None {
                if let Some((why, errno)) = &pe.software {
                    e.state = RuleState::Software(format!("port {}: {why}", pe.name));
                    e.errno = *errno;
                    return;
                }
            }
        }
        e.attempts += 1;
        let res = match &e.flow {
            Ok(f) => self.device.create(proxy, &f.spec),
            Err(_) => return,
        };
        match res {
            Ok(h) => {
                e.handle = Some(h);
                e.state = RuleState::Offloaded;
                e.errno = None;
                e.moved_at = now;
                e.hw = FlowCount::default();
                self.stats.created += 1;
                if let Some(pe) = self.ports.get_mut(&proxy) {
                    pe.offloaded_any = true;
                }
            }
            Err(err) if err.is_unsupported() => {
                e.state = RuleState::Software(err.to_string());
                e.errno = err.errno();
                let domain_refusal = matches!(err, FlowError::SwitchDomain { .. });
                match self.ports.get_mut(&proxy) {
                    Some(pe) if !pe.offloaded_any && !domain_refusal => {
                        // The port's first rule: the port cannot offload.
                        // Said once; its other rules are not tried.
                        tracing::info!(target: LOG, port = %pe.name, id = pe.id, "flows of port {} stay in software: {err}", pe.name);
                        pe.software = Some((err.to_string(), err.errno()));
                    }
                    _ => {
                        tracing::debug!(target: LOG, rule = %key, error = %err, "rule stays in software")
                    }
                }
            }
            Err(err) => {
                self.stats.create_errors += 1;
                e.state = RuleState::Failed(err.to_string());
                e.errno = err.errno();
                self.log_failure(proxy, key, "create", &err);
            }
        }
    }

    /// A real failure: one warn line per (port, errno), the rest at debug.
    fn log_failure(&mut self, proxy: PortId, key: &RuleKey, op: &str, err: &FlowError) {
        let errno = err.errno().unwrap_or(0);
        let first = self
            .ports
            .get_mut(&proxy)
            .filter(|pe| !pe.warned.contains(&errno));
        match first {
            Some(pe) => {
                pe.warned.insert(errno);
                tracing::warn!(target: LOG, port = %pe.name, rule = %key, "flow {op} failed: {err} (further failures of this kind on this port at debug level)");
            }
            None => tracing::debug!(target: LOG, rule = %key, "flow {op} failed: {err}"),
        }
    }

    fn poll_counters(&mut self, now: u64) {
        let idle = self.config.mac_idle_ms;
        let mut idle_keys = Vec::new();
        let device = &mut self.device;
        for (k, e) in self.entries.iter_mut() {
            let Some(h) = &e.handle else {
                continue;
            };
            match device.query(h) {
                Ok(c) => {
                    if c.hits != e.hw.hits {
                        e.moved_at = now;
                    }
                    if c != e.hw {
                        self.dirty = true;
                    }
                    e.hw = c;
                }
                Err(err) => {
                    // Unknown: do not age on it.
                    self.stats.query_errors += 1;
                    tracing::debug!(target: LOG, rule = %k, error = %err, "count query failed");
                    continue;
                }
            }
            if k.dst.is_some() && now.saturating_sub(e.moved_at) >= idle {
                idle_keys.push(k.clone());
            }
        }
        for k in idle_keys {
            let Some(old) = self.entries.get(&k) else {
                continue;
            };
            let (testpmd, hw) = (old.testpmd.clone(), old.hw);
            self.remove_entry(&k);
            self.stats.aged += 1;
            self.retired.insert(k.clone());
            self.entries.insert(
                k,
                Entry {
                    flow: Err(Refusal::Idle),
                    testpmd,
                    state: RuleState::Software(Refusal::Idle.to_string()),
                    errno: None,
                    handle: None,
                    hw,
                    moved_at: now,
                    attempts: 0,
                },
            );
        }
    }

    fn retry_failed(&mut self, now: u64) {
        let max = self.config.max_attempts;
        let keys: Vec<RuleKey> = self
            .entries
            .iter()
            .filter(|(_, e)| {
                matches!(e.state, RuleState::Failed(_)) && e.handle.is_none() && e.attempts < max
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            if let Some(mut e) = self.entries.remove(&k) {
                self.try_create(&k, &mut e, now);
                self.entries.insert(k, e);
                self.dirty = true;
            }
        }
    }

    /// Re-reads the MAC tables and follows every MAC that changed.
    fn rescan(&mut self, now: u64) {
        self.last_rescan = now;
        let fresh = learned_from_tables(&self.state);
        let mut changed: Vec<(Arc<str>, MacAddr)> = Vec::new();
        for (sw, macs) in &fresh {
            let old = self.learned.get(sw);
            for (m, p) in macs {
                if old.and_then(|o| o.get(m)) != Some(p) {
                    changed.push((sw.clone(), *m));
                }
            }
        }
        for (sw, old) in &self.learned {
            let new = fresh.get(sw);
            for m in old.keys() {
                if !new.is_some_and(|n| n.contains_key(m)) {
                    changed.push((sw.clone(), *m));
                }
            }
        }
        self.learned = fresh;
        for (sw, m) in changed {
            self.reconcile_mac(&sw, m, now);
        }
    }
}

/// The key range of every rule of one learned MAC.
fn mac_range(label: &Arc<str>, mac: MacAddr) -> (RuleKey, RuleKey) {
    let k = |in_port| RuleKey {
        switch: label.clone(),
        dst: Some(mac),
        in_port,
    };
    (k(0), k(PortId::MAX))
}

#[cfg(test)]
mod tests {
    use super::super::test_device::{Call, TestFlowDevice};
    use super::*;
    use crate::dpdk::flow::{FlowErrorType, ENOSYS, ENOTSUP};
    use crate::switch::{StateConfig, SwitchSpec};

    const M: MacAddr = MacAddr(0x0200_0000_000a);
    const N: MacAddr = MacAddr(0x0200_0000_000b);

    fn info(domain: Option<u16>) -> PortInfo {
        PortInfo {
            driver: "test".into(),
            device: "test".into(),
            max_rx_queues: 1,
            max_tx_queues: 1,
            rss: false,
            switch_domain: domain,
        }
    }

    fn spec(name: &str, ports: &[PortId]) -> SwitchSpec {
        SwitchSpec::new(name, ports)
    }

    fn build(specs: &[SwitchSpec], prev: Option<&ForwardingState>) -> Arc<ForwardingState> {
        match ForwardingState::build(specs, prev, StateConfig::default()) {
            Ok(s) => Arc::new(s),
            Err(e) => panic!("{e}"),
        }
    }

    /// A table over ports 0..n (proxy 0, one domain) on a test device.
    fn table(n: PortId) -> (OffloadTable<TestFlowDevice>, TestFlowDevice) {
        let dev = TestFlowDevice::with_proxy(0);
        let mut t = OffloadTable::new(dev.clone(), OffloadConfig::default());
        for id in 0..n {
            t.add_port(&format!("p{id}"), id, &info(Some(1)), 0);
        }
        dev.take_calls();
        (t, dev)
    }

    fn xc(a: PortId, b: PortId) -> String {
        format!(
            "flow create 0 transfer pattern represented_port ethdev_port_id is {a} / end \
             actions represented_port ethdev_port_id {b} / count / end"
        )
    }

    fn mac_rule(q: PortId, mac: &str, p: PortId) -> String {
        format!(
            "flow create 0 transfer pattern represented_port ethdev_port_id is {q} / \
             eth dst is {mac} / end actions represented_port ethdev_port_id {p} / count / end"
        )
    }

    fn states(t: &OffloadTable<TestFlowDevice>) -> Vec<(String, &'static str)> {
        t.views()
            .iter()
            .map(|v| (v.key.to_string(), v.state.name()))
            .collect()
    }

    #[test]
    fn a_cross_connect_installs_two_counted_rules() {
        let (mut t, dev) = table(4);
        t.set_state(build(&[spec("a", &[1, 2])], None), 0);
        assert_eq!(
            dev.take_calls(),
            vec![Call::Create(xc(1, 2)), Call::Create(xc(2, 1))]
        );
        assert_eq!(
            states(&t),
            vec![
                ("a: in_port 1".into(), "offloaded"),
                ("a: in_port 2".into(), "offloaded")
            ]
        );
        assert_eq!(&*t.views()[0].testpmd, xc(1, 2));
    }

    #[test]
    fn a_new_state_changes_exactly_the_rules_that_differ() {
        let (mut t, dev) = table(8);
        let s1 = build(&[spec("a", &[1, 2]), spec("b", &[3, 4])], None);
        t.set_state(s1.clone(), 0);
        let live = dev.live();
        dev.take_calls();
        // a unchanged, b deleted, c new.
        t.set_state(
            build(&[spec("a", &[1, 2]), spec("c", &[5, 6])], Some(&s1)),
            1,
        );
        let b_handles: Vec<u64> = live
            .iter()
            .filter(|(_, r)| **r == xc(3, 4) || **r == xc(4, 3))
            .map(|(h, _)| *h)
            .collect();
        assert_eq!(
            dev.take_calls(),
            vec![
                Call::Destroy(b_handles[0]),
                Call::Destroy(b_handles[1]),
                Call::Create(xc(5, 6)),
                Call::Create(xc(6, 5)),
            ]
        );
        // Deleting chain c removes exactly its rules; a's stay.
        t.set_state(build(&[spec("a", &[1, 2])], None), 2);
        let left: Vec<String> = dev.live().into_values().collect();
        assert_eq!(left, vec![xc(1, 2), xc(2, 1)]);
    }

    #[test]
    fn learned_macs_follow_learn_move_and_age_events() {
        let (mut t, dev) = table(4);
        t.set_state(build(&[spec("sw", &[1, 2, 3])], None), 0);
        assert!(dev.take_calls().is_empty(), "floods are not offloaded");
        assert!(t.views().iter().all(|v| v.state.name() == "software"));
        t.learned("sw", M, 2, 10);
        assert_eq!(
            dev.take_calls(),
            vec![
                Call::Create(mac_rule(1, "02:00:00:00:00:0a", 2)),
                Call::Create(mac_rule(3, "02:00:00:00:00:0a", 2)),
            ]
        );
        // The same again: nothing to do.
        t.learned("sw", M, 2, 11);
        assert!(dev.take_calls().is_empty());
        // M moves to port 3.
        t.learned("sw", M, 3, 12);
        let calls = dev.take_calls();
        assert_eq!(calls.len(), 4);
        assert!(matches!(calls[0], Call::Destroy(_)) && matches!(calls[1], Call::Destroy(_)));
        assert_eq!(
            calls[2..],
            [
                Call::Create(mac_rule(1, "02:00:00:00:00:0a", 3)),
                Call::Create(mac_rule(2, "02:00:00:00:00:0a", 3)),
            ]
        );
        t.aged("sw", M, 13);
        let calls = dev.take_calls();
        assert_eq!(calls.len(), 2);
        assert!(calls.iter().all(|c| matches!(c, Call::Destroy(_))));
        assert!(dev.live().is_empty());
        // Unknown switch: ignored.
        t.learned("nope", N, 1, 14);
        assert!(dev.take_calls().is_empty());
    }

    #[test]
    fn learned_rules_age_out_when_their_counter_stops_and_come_back_when_relearned() {
        let (mut t, dev2) = table(6);
        let s = build(&[spec("sw", &[1, 2, 3]), spec("xc", &[4, 5])], None);
        t.set_state(s.clone(), 0);
        // The engine learns M on port 2 (its table) and says so.
        s.switches()[0].table.learn(M, 2, 0);
        t.learned("sw", M, 2, 0);
        dev2.take_calls();
        let live = dev2.live();
        let h13: Vec<u64> = live
            .iter()
            .filter(|(_, r)| r.contains("02:00:00:00:00:0a"))
            .map(|(h, _)| *h)
            .collect();
        assert_eq!(h13.len(), 2);
        // Traffic 1 -> M at 4 s; none 3 -> M.
        dev2.set_count(h13[0], 5, 500);
        t.tick(4_000);
        assert_eq!(
            t.views()
                .iter()
                .find(|v| v.hw_packets == 5)
                .map(|v| v.hw_bytes),
            Some(500)
        );
        // 10 s after creation: the 3 -> M rule idled out, 1 -> M did not.
        t.tick(10_000);
        let calls = dev2.take_calls();
        assert!(calls.contains(&Call::Destroy(h13[1])), "{calls:?}");
        assert!(!calls.contains(&Call::Destroy(h13[0])));
        let v = t.views();
        let idle = v
            .iter()
            .find(|v| v.key.in_port == 3 && v.key.dst == Some(M));
        assert_eq!(
            idle.map(|v| v.state.clone()),
            Some(RuleState::Software(Refusal::Idle.to_string()))
        );
        // A new state with the same switches does not bring it back...
        let s = t.state.clone();
        t.set_state(
            build(&[spec("sw", &[1, 2, 3]), spec("xc", &[4, 5])], Some(&s)),
            10_001,
        );
        assert!(dev2
            .take_calls()
            .iter()
            .all(|c| !matches!(c, Call::Create(_))));
        // ...(the table kept M, as the switch's table was carried over) but
        // learning M again does.
        t.learned("sw", M, 2, 10_002);
        assert_eq!(
            dev2.take_calls(),
            vec![Call::Create(mac_rule(3, "02:00:00:00:00:0a", 2))]
        );
        // 1 -> M idles from 4 s: gone at 14 s. Cross-connects never age.
        t.tick(14_000);
        assert!(dev2.take_calls().contains(&Call::Destroy(h13[0])));
        t.tick(1_000_000);
        let live: Vec<String> = dev2.live().into_values().collect();
        assert_eq!(live, vec![xc(4, 5), xc(5, 4)]);
    }

    #[test]
    fn a_port_whose_first_rule_is_unsupported_stays_in_software_without_retries() {
        let (mut t, dev) = table(4);
        dev.refuse(
            0,
            FlowError::Driver {
                port: 0,
                op: "create",
                errno: ENOTSUP,
                kind: FlowErrorType(7),
                message: "transfer is not supported".into(),
            },
        );
        t.set_state(build(&[spec("a", &[1, 2]), spec("b", &[3, 0])], None), 0);
        // One attempt: the first rule. The others are not tried.
        assert_eq!(dev.take_calls(), vec![Call::Create(xc(1, 2))]);
        let v = t.views();
        assert_eq!(v.len(), 4);
        assert!(
            v.iter()
                .all(|v| v.state.name() == "software" && v.errno == Some(ENOTSUP)),
            "{v:?}"
        );
        t.tick(1_000);
        t.tick(100_000);
        assert!(dev.take_calls().is_empty(), "no retries, no storm");
        assert!(t.port_views()[0].software_only.is_some());
    }

    #[test]
    fn a_port_without_rte_flow_is_none_and_never_called() {
        let dev = TestFlowDevice::default();
        dev.probe_as(
            7,
            PortProbe {
                api: FlowApi::None,
                proxy: 7,
                note: Some(FlowError::Driver {
                    port: 7,
                    op: "pick transfer proxy",
                    errno: ENOSYS,
                    kind: FlowErrorType(1),
                    message: "Function not implemented".into(),
                }),
            },
        );
        let mut t = OffloadTable::new(dev.clone(), OffloadConfig::default());
        t.add_port("a", 7, &info(None), 0);
        t.add_port("b", 8, &info(None), 0);
        dev.take_calls();
        t.set_state(build(&[spec("x", &[7, 8])], None), 0);
        // Neither direction reaches a driver: 7 has no rte_flow.
        let calls = dev.take_calls();
        assert_eq!(calls, vec![]);
        let v = t.views();
        assert!(v.iter().all(|v| v.errno == Some(ENOSYS)), "{v:?}");
        assert_eq!(t.port_views()[0].api, FlowApi::None);
    }

    #[test]
    fn failed_rules_are_retried_a_bounded_number_of_times() {
        let (mut t, dev) = table(3);
        let enomem = FlowError::Driver {
            port: 0,
            op: "create",
            errno: 12,
            kind: FlowErrorType(1),
            message: "no memory".into(),
        };
        dev.fail_next(vec![enomem.clone(), enomem.clone()]);
        t.set_state(build(&[spec("a", &[1, 2])], None), 0);
        let states = |t: &OffloadTable<TestFlowDevice>| -> Vec<&'static str> {
            t.views().iter().map(|v| v.state.name()).collect()
        };
        assert_eq!(states(&t), vec!["failed", "failed"]);
        t.tick(1_000);
        assert_eq!(states(&t), vec!["offloaded", "offloaded"]);
        assert_eq!(t.stats().create_errors, 2);
    }

    #[test]
    fn a_rule_that_fails_max_attempts_times_stays_failed() {
        let dev = TestFlowDevice::default();
        let mut t = OffloadTable::new(
            dev.clone(),
            OffloadConfig {
                max_attempts: 2,
                ..OffloadConfig::default()
            },
        );
        for id in 0..3 {
            t.add_port(&format!("p{id}"), id, &info(None), 0);
        }
        let eio = FlowError::Driver {
            port: 0,
            op: "create",
            errno: 5,
            kind: FlowErrorType(1),
            message: "io".into(),
        };
        dev.fail_next(vec![eio.clone(), eio.clone(), eio.clone(), eio]);
        dev.take_calls();
        t.set_state(build(&[spec("a", &[1, 2])], None), 0);
        for now in 1..20u64 {
            t.tick(now * 1000);
        }
        assert_eq!(dev.take_calls().len(), 4, "2 rules x 2 attempts");
        assert!(t
            .views()
            .iter()
            .all(|v| v.state == RuleState::Failed(eio_text())));
    }

    fn eio_text() -> String {
        FlowError::Driver {
            port: 0,
            op: "create",
            errno: 5,
            kind: FlowErrorType(1),
            message: "io".into(),
        }
        .to_string()
    }

    #[test]
    fn removing_a_port_destroys_its_rules_first_and_shutdown_everything() {
        let (mut t, dev) = table(5);
        t.set_state(build(&[spec("a", &[1, 2]), spec("b", &[3, 4])], None), 0);
        dev.take_calls();
        assert!(t.remove_port("p2", 1));
        let calls = dev.take_calls();
        assert_eq!(calls.len(), 3, "{calls:?}");
        assert!(matches!(calls[0], Call::Destroy(_)) && matches!(calls[1], Call::Destroy(_)));
        assert_eq!(calls[2], Call::Release(2));
        let v = t.views();
        assert!(v
            .iter()
            .filter(|v| &*v.key.switch == "a")
            .all(|v| v.state == RuleState::Software(Refusal::UnknownPort(2).to_string())));
        assert!(!t.remove_port("p2", 2));
        t.shutdown();
        assert!(dev.live().is_empty());
        assert!(t.views().is_empty());
    }

    #[test]
    fn macs_learned_in_the_tables_are_found_by_the_rescan() {
        let (mut t, dev) = table(4);
        let s = build(&[spec("sw", &[1, 2, 3])], None);
        t.set_state(s.clone(), 0);
        s.switches()[0].table.learn(N, 1, 0);
        t.tick(1_000);
        assert!(dev.take_calls().is_empty(), "not yet due");
        t.tick(2_000);
        assert_eq!(
            dev.take_calls(),
            vec![
                Call::Create(mac_rule(2, "02:00:00:00:00:0b", 1)),
                Call::Create(mac_rule(3, "02:00:00:00:00:0b", 1)),
            ]
        );
        s.switches()[0].table.clear();
        t.tick(4_000);
        assert_eq!(dev.take_calls().len(), 2);
        assert!(dev.live().is_empty());
    }
}
