//! The compiled forwarding state: one action per port, built off the fast
//! path from a list of switches and then shared, immutable, by the workers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::Tick;
use super::{MacTable, PortId, DEFAULT_MAC_CAPACITY, DEFAULT_MAC_IDLE_MS};

/// Index of a learning switch in [`ForwardingState::switches`].
pub type SwitchId = u16;

/// One switch as the control plane wants it: resolved port ids and an MTU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchSpec {
    /// Who asked for it, e.g. `ns/chain switch 0`; shown by `sfcctl flows`.
    pub name: String,
    pub ports: Vec<PortId>,
    /// The largest L2 payload forwarded (DPF's serviceMTU).
    pub mtu: u16,
}

impl SwitchSpec {
    /// A switch of `ports` at DPF's default serviceMTU.
    pub fn new(name: impl Into<String>, ports: &[PortId]) -> Self {
        Self {
            name: name.into(),
            ports: ports.to_vec(),
            mtu: DEFAULT_MTU,
        }
    }
}

/// DPF's default `serviceMTU`.
pub const DEFAULT_MTU: u16 = 1500;

/// Tunables of the learning switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateConfig {
    pub mac_capacity: usize,
    pub mac_idle: Tick,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            mac_capacity: DEFAULT_MAC_CAPACITY,
            mac_idle: DEFAULT_MAC_IDLE_MS,
        }
    }
}

/// What a port does with every frame it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortAction {
    /// In no switch: drop (secure fail mode).
    Drop,
    /// Alone in its switch: nothing to forward to.
    NoPeer { mtu: u16 },
    /// A 2-port switch: every frame goes to `out`, no lookup.
    CrossConnect { out: PortId, mtu: u16 },
    /// A learning switch of 3 or more ports.
    Switch(SwitchId),
}

/// A learning switch: its ports and its MAC table.
#[derive(Debug)]
pub struct LearningSwitch {
    pub name: String,
    pub ports: Vec<PortId>,
    pub mtu: u16,
    pub table: Arc<MacTable>,
    /// Membership bitset: a learned port is used only while it is still a
    /// member, so removing a port stops forwarding to it at once even before
    /// its entries are purged.
    members: Vec<u64>,
}

impl LearningSwitch {
    #[inline]
    pub fn has_port(&self, port: PortId) -> bool {
        let p = usize::from(port);
        self.members
            .get(p / 64)
            .is_some_and(|w| w & (1u64 << (p % 64)) != 0)
    }
}

/// Why a list of switches cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("port {port} is in switch {first:?} and again in switch {second:?}: a port belongs to at most one switch")]
    PortInTwoSwitches {
        port: PortId,
        first: String,
        second: String,
    },
    #[error("switch {switch:?} has no ports")]
    Empty { switch: String },
    #[error("switch {switch:?}: MTU {mtu} is outside 1280..=9216")]
    Mtu { switch: String, mtu: u16 },
}

/// The whole forwarding state of the node. Immutable once built.
#[derive(Debug)]
pub struct ForwardingState {
    generation: u64,
    actions: Vec<PortAction>,
    switches: Vec<LearningSwitch>,
    specs: Vec<SwitchSpec>,
    config: StateConfig,
}

impl Default for ForwardingState {
    fn default() -> Self {
        Self::empty()
    }
}

impl ForwardingState {
    /// Every port drops.
    pub fn empty() -> Self {
        Self {
            generation: 0,
            actions: Vec::new(),
            switches: Vec::new(),
            specs: Vec::new(),
            config: StateConfig::default(),
        }
    }

    /// Compiles `specs`. MAC tables of `prev` are carried over to the new
    /// switch that keeps most of their ports, with entries for ports that
    /// left purged, so learned MACs survive updates that keep their port in
    /// the same switch.
    pub fn build(
        specs: &[SwitchSpec],
        prev: Option<&ForwardingState>,
        config: StateConfig,
    ) -> Result<Self, BuildError> {
        let mut owner: BTreeMap<PortId, &str> = BTreeMap::new();
        for s in specs {
            if s.ports.is_empty() {
                return Err(BuildError::Empty {
                    switch: s.name.clone(),
                });
            }
            if !(1280..=9216).contains(&s.mtu) {
                return Err(BuildError::Mtu {
                    switch: s.name.clone(),
                    mtu: s.mtu,
                });
            }
            let mut seen = BTreeSet::new();
            for &p in &s.ports {
                if !seen.insert(p) {
                    continue; // the same port twice in one switch is once
                }
                if let Some(first) = owner.insert(p, &s.name) {
                    return Err(BuildError::PortInTwoSwitches {
                        port: p,
                        first: first.to_owned(),
                        second: s.name.clone(),
                    });
                }
            }
        }

        let max_port = owner.keys().next_back().map_or(0, |p| usize::from(*p) + 1);
        let mut actions = vec![PortAction::Drop; max_port];
        let mut switches = Vec::new();
        let mut reused: BTreeSet<usize> = BTreeSet::new();
        for s in specs {
            let mut ports: Vec<PortId> = Vec::with_capacity(s.ports.len());
            for &p in &s.ports {
                if !ports.contains(&p) {
                    ports.push(p);
                }
            }
            match ports.as_slice() {
                [a] => actions[usize::from(*a)] = PortAction::NoPeer { mtu: s.mtu },
                [a, b] => {
                    actions[usize::from(*a)] = PortAction::CrossConnect {
                        out: *b,
                        mtu: s.mtu,
                    };
                    actions[usize::from(*b)] = PortAction::CrossConnect {
                        out: *a,
                        mtu: s.mtu,
                    };
                }
                _ => {
                    let id = switches.len() as SwitchId;
                    let table = prev
                        .and_then(|prev| prev.take_table_for(&ports, &mut reused))
                        .unwrap_or_else(|| Arc::new(MacTable::new(config.mac_capacity)));
                    let mut members = vec![0u64; max_port.div_ceil(64)];
                    for &p in &ports {
                        members[usize::from(p) / 64] |= 1u64 << (usize::from(p) % 64);
                        actions[usize::from(p)] = PortAction::Switch(id);
                    }
                    let sw = LearningSwitch {
                        name: s.name.clone(),
                        ports,
                        mtu: s.mtu,
                        table,
                        members,
                    };
                    sw.table.retain_ports(|p| sw.has_port(p));
                    switches.push(sw);
                }
            }
        }
        Ok(Self {
            generation: prev.map_or(1, |p| p.generation + 1),
            actions,
            switches,
            specs: specs.to_vec(),
            config,
        })
    }

    /// The previous table sharing the most ports with `ports`, once.
    fn take_table_for(
        &self,
        ports: &[PortId],
        reused: &mut BTreeSet<usize>,
    ) -> Option<Arc<MacTable>> {
        let (idx, overlap) = self
            .switches
            .iter()
            .enumerate()
            .filter(|(i, _)| !reused.contains(i))
            .map(|(i, sw)| (i, ports.iter().filter(|p| sw.has_port(**p)).count()))
            .max_by_key(|(i, n)| (*n, usize::MAX - i))?;
        if overlap == 0 {
            return None;
        }
        reused.insert(idx);
        Some(self.switches[idx].table.clone())
    }

    /// Increases by one with every build from a previous state.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    #[inline]
    pub fn action(&self, port: PortId) -> PortAction {
        self.actions
            .get(usize::from(port))
            .copied()
            .unwrap_or(PortAction::Drop)
    }

    #[inline]
    pub fn switch(&self, id: SwitchId) -> Option<&LearningSwitch> {
        self.switches.get(usize::from(id))
    }

    pub fn switches(&self) -> &[LearningSwitch] {
        &self.switches
    }

    /// The specs this state was built from.
    pub fn specs(&self) -> &[SwitchSpec] {
        &self.specs
    }

    pub fn config(&self) -> StateConfig {
        self.config
    }

    /// Ages every learning switch's table; returns how many entries went.
    pub fn expire(&self, now: Tick) -> usize {
        self.switches
            .iter()
            .map(|s| s.table.expire(now, self.config.mac_idle).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, ports: &[PortId]) -> SwitchSpec {
        SwitchSpec::new(name, ports)
    }

    #[test]
    fn ports_in_no_switch_drop() {
        let st = ForwardingState::build(&[spec("a", &[1, 2])], None, StateConfig::default())
            .unwrap_or_default();
        assert_eq!(st.action(0), PortAction::Drop);
        assert_eq!(st.action(3), PortAction::Drop);
        assert_eq!(st.action(999), PortAction::Drop);
    }

    #[test]
    fn two_ports_make_a_cross_connect_both_ways() {
        let st = ForwardingState::build(&[spec("a", &[4, 2])], None, StateConfig::default())
            .unwrap_or_default();
        assert_eq!(st.action(4), PortAction::CrossConnect { out: 2, mtu: 1500 });
        assert_eq!(st.action(2), PortAction::CrossConnect { out: 4, mtu: 1500 });
        assert!(st.switches().is_empty());
    }

    #[test]
    fn three_ports_make_a_learning_switch() {
        let st = ForwardingState::build(&[spec("a", &[1, 2, 3])], None, StateConfig::default())
            .unwrap_or_default();
        assert_eq!(st.action(1), PortAction::Switch(0));
        assert_eq!(st.action(3), PortAction::Switch(0));
        let sw = st.switch(0);
        assert!(sw.is_some_and(|s| s.has_port(2) && !s.has_port(4)));
    }

    #[test]
    fn a_lone_port_forwards_nothing() {
        let st = ForwardingState::build(&[spec("a", &[5])], None, StateConfig::default())
            .unwrap_or_default();
        assert_eq!(st.action(5), PortAction::NoPeer { mtu: 1500 });
    }

    #[test]
    fn a_port_claimed_twice_is_an_error_naming_both_switches() {
        let err = ForwardingState::build(
            &[spec("first", &[1, 2]), spec("second", &[2, 3])],
            None,
            StateConfig::default(),
        )
        .err();
        assert_eq!(
            err,
            Some(BuildError::PortInTwoSwitches {
                port: 2,
                first: "first".into(),
                second: "second".into()
            })
        );
    }

    #[test]
    fn bad_mtu_and_empty_switch_are_errors() {
        let mut s = spec("m", &[1, 2]);
        s.mtu = 1279;
        assert!(matches!(
            ForwardingState::build(&[s], None, StateConfig::default()),
            Err(BuildError::Mtu { mtu: 1279, .. })
        ));
        assert!(matches!(
            ForwardingState::build(&[spec("e", &[])], None, StateConfig::default()),
            Err(BuildError::Empty { .. })
        ));
    }

    #[test]
    fn learned_macs_survive_an_update_that_keeps_their_port() {
        let cfg = StateConfig::default();
        let old = ForwardingState::build(&[spec("a", &[1, 2, 3])], None, cfg).unwrap_or_default();
        let t = &old.switches()[0].table;
        t.learn(super::super::MacAddr(0x0200_0000_0001), 1, 0);
        t.learn(super::super::MacAddr(0x0200_0000_0003), 3, 0);
        // Port 3 leaves, port 4 joins, plus an unrelated new switch first.
        let new = ForwardingState::build(
            &[spec("b", &[7, 8, 9]), spec("a", &[1, 2, 4])],
            Some(&old),
            cfg,
        )
        .unwrap_or_default();
        assert_eq!(new.generation(), old.generation() + 1);
        let sw = &new.switches()[1];
        assert!(Arc::ptr_eq(&sw.table, t));
        assert_eq!(
            sw.table.lookup(super::super::MacAddr(0x0200_0000_0001)),
            Some(1)
        );
        assert_eq!(
            sw.table.lookup(super::super::MacAddr(0x0200_0000_0003)),
            None
        );
        assert!(new.switches()[0].table.is_empty());
    }
}
