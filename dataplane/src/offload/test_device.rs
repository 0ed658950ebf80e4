//! A test flow device: records every call and answers as told. Stands in
//! for hardware that is not here (transfer rules, counters that move);
//! the real rte_flow layer is tested on vdevs in tests/offload.rs.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use super::device::{FlowDevice, PortProbe};
use crate::dpdk::flow::{FlowApi, FlowCount, FlowError, FlowSpec};
use crate::switch::PortId;

/// A call, with rules as testpmd commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Create(String),
    Destroy(u64),
    Release(PortId),
}

#[derive(Debug, Default)]
struct Inner {
    calls: Vec<Call>,
    probes: HashMap<PortId, PortProbe>,
    /// Proxy of every port not in `probes` (else the port itself).
    proxy_all: Option<PortId>,
    refuse: HashMap<PortId, FlowError>,
    fail_next: VecDeque<FlowError>,
    counts: HashMap<u64, FlowCount>,
    live: BTreeMap<u64, String>,
    next: u64,
}

/// Cloning shares the device: the test keeps one clone to look in.
#[derive(Debug, Clone, Default)]
pub struct TestFlowDevice(Arc<Mutex<Inner>>);

impl TestFlowDevice {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every port's proxy is `proxy` (one E-Switch).
    pub fn with_proxy(proxy: PortId) -> Self {
        let d = Self::default();
        d.inner().proxy_all = Some(proxy);
        d
    }

    pub fn probe_as(&self, port: PortId, probe: PortProbe) {
        self.inner().probes.insert(port, probe);
    }

    /// Every create on `proxy` fails with `e`.
    pub fn refuse(&self, proxy: PortId, e: FlowError) {
        self.inner().refuse.insert(proxy, e);
    }

    /// The next creates fail with these, in order.
    pub fn fail_next(&self, errors: Vec<FlowError>) {
        self.inner().fail_next.extend(errors);
    }

    pub fn set_count(&self, handle: u64, hits: u64, bytes: u64) {
        self.inner()
            .counts
            .insert(handle, FlowCount { hits, bytes });
    }

    /// Calls since the last take.
    pub fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut self.inner().calls)
    }

    /// Installed rules by handle.
    pub fn live(&self) -> BTreeMap<u64, String> {
        self.inner().live.clone()
    }
}

impl FlowDevice for TestFlowDevice {
    type Handle = u64;

    fn probe(&mut self, port: PortId) -> PortProbe {
        let i = self.inner();
        i.probes.get(&port).cloned().unwrap_or(PortProbe {
            api: FlowApi::Sync,
            proxy: i.proxy_all.unwrap_or(port),
            note: None,
        })
    }

    fn validate(&mut self, proxy: PortId, _spec: &FlowSpec) -> Result<(), FlowError> {
        match self.inner().refuse.get(&proxy) {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn create(&mut self, proxy: PortId, spec: &FlowSpec) -> Result<u64, FlowError> {
        let mut i = self.inner();
        i.calls.push(Call::Create(spec.testpmd("create", proxy)));
        if let Some(e) = i.refuse.get(&proxy).cloned() {
            return Err(e);
        }
        if let Some(e) = i.fail_next.pop_front() {
            return Err(e);
        }
        i.next += 1;
        let h = i.next;
        i.live.insert(h, spec.testpmd("create", proxy));
        Ok(h)
    }

    fn destroy(&mut self, handle: u64) -> Result<(), FlowError> {
        let mut i = self.inner();
        i.calls.push(Call::Destroy(handle));
        i.live.remove(&handle);
        Ok(())
    }

    fn query(&mut self, handle: &u64) -> Result<FlowCount, FlowError> {
        Ok(self.inner().counts.get(handle).copied().unwrap_or_default())
    }

    fn release_port(&mut self, port: PortId) {
        self.inner().calls.push(Call::Release(port));
    }
}
