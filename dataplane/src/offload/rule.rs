//! What the offload layer computes and shows: rule keys, hardware rules,
//! the reasons a flow stays in software, and the per-rule state.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::dpdk::flow::{FlowApi, FlowSpec};
use crate::switch::{MacAddr, PortId};

/// Names one flow of one switch: frames entering on `in_port`, to `dst`
/// (learned MAC rules) or to any destination (cross-connects, floods).
/// Ordered by switch, then destination, then port, so every rule of one
/// learned MAC is one contiguous range.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleKey {
    /// The switch's label, e.g. `ns/chain switch 0`.
    pub switch: Arc<str>,
    pub dst: Option<MacAddr>,
    pub in_port: PortId,
}

impl fmt::Display for RuleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: in_port {}", self.switch, self.in_port)?;
        if let Some(d) = self.dst {
            write!(f, " dst {d}")?;
        }
        Ok(())
    }
}

/// A hardware rule: `spec` created on port `proxy` (the transfer proxy of
/// the ingress port).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RuleFlow {
    pub proxy: PortId,
    pub out_port: PortId,
    pub spec: FlowSpec,
}

impl RuleFlow {
    /// The `dpdk-testpmd` command that makes this rule.
    pub fn testpmd(&self) -> String {
        self.spec.testpmd("create", self.proxy)
    }
}

/// Why a flow has no hardware rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// Broadcast, multicast and unknown unicast go to every peer: no single
    /// port-to-port rule does that, so the ingress port's misses stay in
    /// software (the representor sfcd polls).
    Flood,
    /// The two ports are in different E-Switch domains (or one has none).
    SwitchDomains {
        in_port: PortId,
        in_domain: Option<u16>,
        out_port: PortId,
        out_domain: Option<u16>,
    },
    /// The two ports have different transfer proxies.
    Proxies {
        in_port: PortId,
        in_proxy: PortId,
        out_port: PortId,
        out_proxy: PortId,
    },
    /// The offload thread does not know the port.
    UnknownPort(PortId),
    /// Two switches share one label: their rule keys would collide.
    DuplicateSwitch,
    /// The learned MAC rule's hardware counter did not move for the idle
    /// timeout: removed; software forwards until the MAC is learned again.
    Idle,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dom = |d: &Option<u16>| d.map_or("none".to_owned(), |d| d.to_string());
        match self {
            Refusal::Flood => f.write_str(
                "broadcast, multicast and unknown unicast flood to the peers in software",
            ),
            Refusal::SwitchDomains {
                in_port,
                in_domain,
                out_port,
                out_domain,
            } => write!(
                f,
                "port {in_port} (switch domain {}) and port {out_port} (switch domain {}) \
                 cannot be joined by one transfer rule",
                dom(in_domain),
                dom(out_domain)
            ),
            Refusal::Proxies {
                in_port,
                in_proxy,
                out_port,
                out_proxy,
            } => write!(
                f,
                "port {in_port} (transfer proxy {in_proxy}) and port {out_port} \
                 (transfer proxy {out_proxy}) have different transfer proxies"
            ),
            Refusal::UnknownPort(p) => write!(f, "port {p} is unknown to the offload thread"),
            Refusal::DuplicateSwitch => f.write_str("another switch has the same label"),
            Refusal::Idle => f.write_str(
                "hardware counter idle for the MAC idle timeout: in software until relearned",
            ),
        }
    }
}

/// One flow as the translation wants it: a hardware rule, or the reason
/// it stays in software.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub key: RuleKey,
    pub flow: Result<RuleFlow, Refusal>,
}

/// What the translation knows of a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortTopo {
    pub name: Arc<str>,
    /// Where its transfer rules are created.
    pub proxy: PortId,
    pub domain: Option<u16>,
}

/// Ports by id.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    ports: Vec<Option<PortTopo>>,
}

impl Topology {
    pub fn insert(&mut self, id: PortId, port: PortTopo) {
        let i = usize::from(id);
        if self.ports.len() <= i {
            self.ports.resize(i + 1, None);
        }
        self.ports[i] = Some(port);
    }

    pub fn remove(&mut self, id: PortId) -> Option<PortTopo> {
        self.ports.get_mut(usize::from(id)).and_then(Option::take)
    }

    #[inline]
    pub fn get(&self, id: PortId) -> Option<&PortTopo> {
        self.ports.get(usize::from(id)).and_then(Option::as_ref)
    }

    /// The port's name, or its id as text.
    pub fn name(&self, id: PortId) -> Arc<str> {
        self.get(id)
            .map_or_else(|| Arc::from(id.to_string()), |p| p.name.clone())
    }

    pub fn id_of(&self, name: &str) -> Option<PortId> {
        self.ports
            .iter()
            .position(|p| p.as_ref().is_some_and(|p| &*p.name == name))
            .map(|i| i as PortId)
    }
}

/// Learned MACs per switch label: MAC -> the port it was learned on.
pub type LearnedMacs = BTreeMap<Arc<str>, BTreeMap<MacAddr, PortId>>;

/// A rule's offload state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleState {
    /// In hardware.
    Offloaded,
    /// Forwarded in software, for this reason (a refusal, or the port
    /// cannot offload: ENOSYS, ENOTSUP, the driver's EINVAL).
    Software(String),
    /// The driver failed it (after the bounded retries); its message.
    /// Software forwards meanwhile.
    Failed(String),
}

impl RuleState {
    /// `offloaded`, `software` or `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            RuleState::Offloaded => "offloaded",
            RuleState::Software(_) => "software",
            RuleState::Failed(_) => "failed",
        }
    }

    pub fn detail(&self) -> Option<&str> {
        match self {
            RuleState::Offloaded => None,
            RuleState::Software(s) | RuleState::Failed(s) => Some(s),
        }
    }
}

impl fmt::Display for RuleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.detail() {
            Some(d) => write!(f, "{} ({d})", self.name()),
            None => f.write_str(self.name()),
        }
    }
}

/// One flow as `sfcctl flows` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleView {
    pub key: RuleKey,
    pub in_port_name: Arc<str>,
    pub out_port: Option<PortId>,
    pub out_port_name: Option<Arc<str>>,
    /// The `dpdk-testpmd` `flow create` command; empty when the flow has
    /// no hardware rule (a refusal).
    pub testpmd: Arc<str>,
    pub state: RuleState,
    /// The errno behind a `software` or `failed` state, if the driver gave
    /// one.
    pub errno: Option<i32>,
    /// The rule's COUNT, as last polled.
    pub hw_packets: u64,
    pub hw_bytes: u64,
}

/// One port as the offload thread sees it (`sfcctl ports`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortView {
    pub name: Arc<str>,
    pub id: PortId,
    pub api: FlowApi,
    pub proxy: PortId,
    pub switch_domain: Option<u16>,
    /// Set when every flow of the port stays in software, and why.
    pub software_only: Option<String>,
}
