//! The driver side of the offload thread, behind a small trait so that the
//! bookkeeping is testable without hardware. [`DpdkFlowDevice`] is the real
//! one (rte_flow through `dpdk::flow`); tests that cannot have hardware use
//! a recording test device.

use std::collections::HashMap;
use std::rc::Rc;

use crate::dpdk::flow::{
    self, FlowApi, FlowCount, FlowError, FlowRule, FlowSpec, TemplateConfig, TemplateTable,
};
use crate::switch::PortId;

/// What probing a port found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortProbe {
    pub api: FlowApi,
    /// Where the port's transfer rules are created.
    pub proxy: PortId,
    /// The driver's answer behind `api` when it is not Template.
    pub note: Option<FlowError>,
}

/// Creates, destroys and queries rules on ports.
pub trait FlowDevice {
    /// An installed rule.
    type Handle;
    /// Decides the port's flow API (once, when the port is added).
    fn probe(&mut self, port: PortId) -> PortProbe;
    fn validate(&mut self, proxy: PortId, spec: &FlowSpec) -> Result<(), FlowError>;
    fn create(&mut self, proxy: PortId, spec: &FlowSpec) -> Result<Self::Handle, FlowError>;
    fn destroy(&mut self, handle: Self::Handle) -> Result<(), FlowError>;
    fn query(&mut self, handle: &Self::Handle) -> Result<FlowCount, FlowError>;
    /// Lets go of per-port resources (template tables) before the port
    /// closes; called after all of its rules are destroyed.
    fn release_port(&mut self, _port: PortId) {}
}

/// rte_flow on real ports: the template API where the proxy takes it,
/// else the synchronous API. Lives on the offload thread (not `Send`: the
/// template tables' flow queue has one user).
#[derive(Debug, Default)]
pub struct DpdkFlowDevice {
    template: TemplateConfig,
    /// Template tables by proxy port.
    tables: HashMap<PortId, Rc<TemplateTable>>,
}

impl DpdkFlowDevice {
    pub fn new(template: TemplateConfig) -> Self {
        Self {
            template,
            tables: HashMap::new(),
        }
    }
}

impl FlowDevice for DpdkFlowDevice {
    type Handle = FlowRule;

    fn probe(&mut self, port: PortId) -> PortProbe {
        let tables = &self.tables;
        let pf = flow::probe_port(port, &self.template, &|p| tables.get(&p).cloned());
        if let Some(t) = pf.table {
            self.tables.insert(pf.proxy, t);
        }
        PortProbe {
            api: pf.api,
            proxy: pf.proxy,
            note: pf.note,
        }
    }

    fn validate(&mut self, proxy: PortId, spec: &FlowSpec) -> Result<(), FlowError> {
        flow::validate(proxy, spec)
    }

    fn create(&mut self, proxy: PortId, spec: &FlowSpec) -> Result<FlowRule, FlowError> {
        flow::create_via(proxy, self.tables.get(&proxy), spec)
    }

    fn destroy(&mut self, handle: FlowRule) -> Result<(), FlowError> {
        handle.destroy()
    }

    fn query(&mut self, handle: &FlowRule) -> Result<FlowCount, FlowError> {
        handle.query_count()
    }

    fn release_port(&mut self, port: PortId) {
        self.tables.remove(&port);
    }
}
