//! Ethernet ports: probe from devargs, configure queues, start, poll, stop.

use std::ffi::{CStr, CString};
use std::sync::{Arc, Mutex};

use super::error::{DpdkError, Result};
use super::mbuf::{Burst, BURST_SIZE};
use super::mempool::Mempool;
use super::ring::Ring;

/// How a port is set up.
#[derive(Debug, Clone)]
pub struct PortConfig {
    /// One RX and one TX queue per worker.
    pub queues: u16,
    pub rx_desc: u16,
    pub tx_desc: u16,
    /// Set as the port's MTU where the driver allows it.
    pub mtu: Option<u16>,
    pub promiscuous: bool,
}

impl Default for PortConfig {
    fn default() -> Self {
        Self {
            queues: 1,
            rx_desc: 1024,
            tx_desc: 1024,
            mtu: None,
            promiscuous: true,
        }
    }
}

/// What the driver says about a port.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PortInfo {
    pub driver: String,
    pub device: String,
    pub max_rx_queues: u16,
    pub max_tx_queues: u16,
    pub rss: bool,
    /// E-Switch domain; two ports can be joined by a transfer rule only
    /// within one domain.
    pub switch_domain: Option<u16>,
}

/// Link state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Link {
    pub up: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
}

/// Driver counters (`rte_eth_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PortStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_nombuf: u64,
}

/// The started port; closed when the last handle (port or queue) goes.
#[derive(Debug)]
struct PortShared {
    id: u16,
    name: String,
    devname: String,
    pool: Arc<Mempool>,
    /// Which queue handles are out: each queue has one poller at most.
    rx_taken: Mutex<Vec<bool>>,
    tx_taken: Mutex<Vec<bool>>,
    /// Ring ports keep their rings (freed after the port is closed).
    _rings: Vec<Arc<Ring>>,
}

impl Drop for PortShared {
    fn drop(&mut self) {
        // SAFETY: no queue handle is left (they hold this Arc), so nothing
        // polls the port; stop, close and remove are each done once.
        unsafe {
            sfc_ffi::rte_eth_dev_stop(self.id);
            sfc_ffi::rte_eth_dev_close(self.id);
        }
        // Remove a probed device too, so the same name can be attached
        // again (ring ports were never probed).
        if !self._rings.is_empty() {
            return;
        }
        if let Ok(dev) = CString::new(self.devname.as_str()) {
            for bus in [c"vdev", c"pci"] {
                // SAFETY: both are valid C strings; a device not on that
                // bus is refused with an error that is ignored.
                if unsafe { sfc_ffi::rte_eal_hotplug_remove(bus.as_ptr(), dev.as_ptr()) } == 0 {
                    break;
                }
            }
        }
    }
}

/// A configured, started port.
#[derive(Debug)]
pub struct Port {
    shared: Arc<PortShared>,
    queues: u16,
}

impl Port {
    /// Probes `devargs` (e.g. `net_null0,size=64`), configures `cfg.queues`
    /// RX/TX queues (RSS when more than one and the driver has it) and
    /// starts it. `name` is sfcd's name for it (`p0`, `pf0hpf`, ...).
    pub fn probe(name: &str, devargs: &str, pool: Arc<Mempool>, cfg: &PortConfig) -> Result<Port> {
        let usage = |msg: String| DpdkError::PortUsage {
            port: name.to_owned(),
            msg,
        };
        let devname = devargs
            .split(',')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        if devname.is_empty() {
            return Err(usage(format!("devargs {devargs:?} name no device")));
        }
        let cdevargs =
            CString::new(devargs).map_err(|_| usage("devargs contain a NUL byte".into()))?;
        let cdevname = CString::new(devname.as_str())
            .map_err(|_| usage("device name contains a NUL byte".into()))?;
        // SAFETY: valid C string; probing is a control-path call.
        let ret = unsafe { sfc_ffi::rte_dev_probe(cdevargs.as_ptr()) };
        if ret < 0 {
            return Err(DpdkError::port(name, "probe", ret));
        }
        let mut id: u16 = 0;
        // SAFETY: valid C string and out pointer.
        let ret = unsafe { sfc_ffi::rte_eth_dev_get_port_by_name(cdevname.as_ptr(), &mut id) };
        if ret < 0 {
            // SAFETY: undo the probe above (valid C strings).
            unsafe { sfc_ffi::rte_eal_hotplug_remove(c"vdev".as_ptr(), cdevname.as_ptr()) };
            return Err(DpdkError::port(name, "find port of device", ret));
        }
        let shared = Arc::new(PortShared {
            id,
            name: name.to_owned(),
            devname,
            pool,
            rx_taken: Mutex::new(vec![false; usize::from(cfg.queues)]),
            tx_taken: Mutex::new(vec![false; usize::from(cfg.queues)]),
            _rings: Vec::new(),
        });
        // From here, dropping `shared` stops, closes and removes the port.
        let port = Port {
            shared,
            queues: cfg.queues.max(1),
        };
        port.configure(cfg)?;
        Ok(port)
    }

    /// A port whose RX queue `i` reads `rx[i]` and TX queue `i` writes
    /// `tx[i]` (`rte_eth_from_rings`): what a test puts into `rx` enters the
    /// engine on this port; what the engine sends appears in `tx`.
    pub fn from_rings(
        name: &str,
        rx: &[Arc<Ring>],
        tx: &[Arc<Ring>],
        pool: Arc<Mempool>,
        cfg: &PortConfig,
    ) -> Result<Port> {
        let usage = |msg: String| DpdkError::PortUsage {
            port: name.to_owned(),
            msg,
        };
        if rx.is_empty() || rx.len() != tx.len() || rx.len() != usize::from(cfg.queues.max(1)) {
            return Err(usage(format!(
                "{} RX and {} TX rings for {} queues",
                rx.len(),
                tx.len(),
                cfg.queues
            )));
        }
        let devname = format!("sfc_ring_{name}");
        let cname =
            CString::new(devname.as_str()).map_err(|_| usage("name contains a NUL byte".into()))?;
        let rxp: Vec<*mut sfc_ffi::rte_ring> = rx.iter().map(|r| r.as_ptr()).collect();
        let txp: Vec<*mut sfc_ffi::rte_ring> = tx.iter().map(|r| r.as_ptr()).collect();
        // SAFETY: valid name and ring arrays for the call; the rings are
        // kept alive by the port (PortShared::_rings) until it is closed.
        let ret = unsafe {
            sfc_ffi::rte_eth_from_rings(
                cname.as_ptr(),
                rxp.as_ptr(),
                rxp.len() as u32,
                txp.as_ptr(),
                txp.len() as u32,
                sfc_ffi::rte_socket_id(),
            )
        };
        if ret < 0 {
            return Err(DpdkError::port(name, "create ring port", -1));
        }
        let shared = Arc::new(PortShared {
            id: ret as u16,
            name: name.to_owned(),
            devname,
            pool,
            rx_taken: Mutex::new(vec![false; rx.len()]),
            tx_taken: Mutex::new(vec![false; tx.len()]),
            _rings: rx.iter().chain(tx).cloned().collect(),
        });
        let port = Port {
            shared,
            queues: cfg.queues.max(1),
        };
        port.configure(cfg)?;
        Ok(port)
    }

    fn configure(&self, cfg: &PortConfig) -> Result<()> {
        let (id, name) = (self.shared.id, self.shared.name.as_str());
        let info = self.raw_info()?;
        if self.queues > info.max_rx_queues.min(info.max_tx_queues) {
            return Err(DpdkError::PortUsage {
                port: name.to_owned(),
                msg: format!(
                    "{} queues requested, the driver has at most {} RX / {} TX",
                    self.queues, info.max_rx_queues, info.max_tx_queues
                ),
            });
        }
        let mut conf = sfc_ffi::rte_eth_conf::default();
        if self.queues > 1 && info.flow_type_rss_offloads != 0 {
            conf.rxmode.mq_mode = sfc_ffi::rte_eth_rx_mq_mode_RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads;
        }
        // SAFETY: conf is a valid, initialised rte_eth_conf; the port is
        // not started.
        let ret = unsafe { sfc_ffi::rte_eth_dev_configure(id, self.queues, self.queues, &conf) };
        if ret < 0 {
            return Err(DpdkError::port(name, "configure", ret));
        }
        let (mut rxd, mut txd) = (cfg.rx_desc, cfg.tx_desc);
        // SAFETY: out pointers to locals.
        let ret = unsafe { sfc_ffi::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut rxd, &mut txd) };
        if ret < 0 {
            return Err(DpdkError::port(name, "adjust descriptors", ret));
        }
        // SAFETY: the port id is valid (found above).
        let socket = unsafe { sfc_ffi::rte_eth_dev_socket_id(id) }.max(0) as u32;
        for q in 0..self.queues {
            // SAFETY: configured port, queue index in range, the pool
            // outlives the port (PortShared holds it). Null confs mean the
            // driver's defaults.
            let ret = unsafe {
                sfc_ffi::rte_eth_rx_queue_setup(
                    id,
                    q,
                    rxd,
                    socket,
                    std::ptr::null(),
                    self.shared.pool.as_ptr(),
                )
            };
            if ret < 0 {
                return Err(DpdkError::port(name, "rx queue setup", ret));
            }
            // SAFETY: as above.
            let ret =
                unsafe { sfc_ffi::rte_eth_tx_queue_setup(id, q, txd, socket, std::ptr::null()) };
            if ret < 0 {
                return Err(DpdkError::port(name, "tx queue setup", ret));
            }
        }
        if let Some(mtu) = cfg.mtu {
            // Best effort: virtual devices often cannot; the engine enforces
            // the MTU in software anyway.
            if let Err(e) = self.set_mtu(mtu) {
                tracing::debug!(port = name, error = %e, "MTU not set on the device");
            }
        }
        // SAFETY: configured port.
        let ret = unsafe { sfc_ffi::rte_eth_dev_start(id) };
        if ret < 0 {
            return Err(DpdkError::port(name, "start", ret));
        }
        if cfg.promiscuous {
            // SAFETY: started port. Failure is harmless (e.g. null PMD).
            unsafe { sfc_ffi::rte_eth_promiscuous_enable(id) };
        }
        Ok(())
    }

    fn raw_info(&self) -> Result<sfc_ffi::rte_eth_dev_info> {
        let mut info = sfc_ffi::rte_eth_dev_info::default();
        // SAFETY: valid port id, out pointer to a local.
        let ret = unsafe { sfc_ffi::rte_eth_dev_info_get(self.shared.id, &mut info) };
        if ret < 0 {
            return Err(DpdkError::port(&self.shared.name, "info", ret));
        }
        Ok(info)
    }

    /// DPDK's port id.
    pub fn id(&self) -> u16 {
        self.shared.id
    }

    /// sfcd's name for the port.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The EAL device name (first devargs token).
    pub fn device(&self) -> &str {
        &self.shared.devname
    }

    pub fn queues(&self) -> u16 {
        self.queues
    }

    pub fn mempool(&self) -> &Arc<Mempool> {
        &self.shared.pool
    }

    pub fn info(&self) -> Result<PortInfo> {
        let info = self.raw_info()?;
        let cstr = |p: *const std::os::raw::c_char| {
            if p.is_null() {
                String::new()
            } else {
                // SAFETY: DPDK returns NUL-terminated strings that live as
                // long as the driver; copied at once.
                unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
            }
        };
        Ok(PortInfo {
            driver: cstr(info.driver_name),
            device: self.shared.devname.clone(),
            max_rx_queues: info.max_rx_queues,
            max_tx_queues: info.max_tx_queues,
            rss: info.flow_type_rss_offloads != 0,
            switch_domain: (info.switch_info.domain_id != u16::MAX
                && !info.switch_info.name.is_null())
            .then_some(info.switch_info.domain_id),
        })
    }

    pub fn link(&self) -> Result<Link> {
        let mut l = sfc_ffi::rte_eth_link::default();
        // SAFETY: valid port id, out pointer to a local.
        let ret = unsafe { sfc_ffi::rte_eth_link_get_nowait(self.shared.id, &mut l) };
        if ret < 0 {
            return Err(DpdkError::port(&self.shared.name, "link", ret));
        }
        Ok(Link {
            up: l.link_status() != 0,
            speed_mbps: l.link_speed,
            full_duplex: l.link_duplex() != 0,
        })
    }

    pub fn stats(&self) -> Result<PortStats> {
        let mut s = sfc_ffi::rte_eth_stats::default();
        // SAFETY: valid port id, out pointer to a local.
        let ret = unsafe { sfc_ffi::rte_eth_stats_get(self.shared.id, &mut s) };
        if ret < 0 {
            return Err(DpdkError::port(&self.shared.name, "stats", ret));
        }
        Ok(PortStats {
            rx_packets: s.ipackets,
            tx_packets: s.opackets,
            rx_bytes: s.ibytes,
            tx_bytes: s.obytes,
            rx_missed: s.imissed,
            rx_errors: s.ierrors,
            tx_errors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        })
    }

    pub fn set_mtu(&self, mtu: u16) -> Result<()> {
        // SAFETY: valid port id.
        let ret = unsafe { sfc_ffi::rte_eth_dev_set_mtu(self.shared.id, mtu) };
        if ret < 0 {
            return Err(DpdkError::port(&self.shared.name, "set MTU", ret));
        }
        Ok(())
    }

    fn take(&self, rx: bool, queue: u16) -> Result<()> {
        let which = if rx {
            &self.shared.rx_taken
        } else {
            &self.shared.tx_taken
        };
        let mut taken = which.lock().map_err(|_| DpdkError::PortUsage {
            port: self.shared.name.clone(),
            msg: "queue registry poisoned".into(),
        })?;
        match taken.get_mut(usize::from(queue)) {
            Some(t) if !*t => {
                *t = true;
                Ok(())
            }
            Some(_) => Err(DpdkError::PortUsage {
                port: self.shared.name.clone(),
                msg: format!(
                    "{} queue {queue} already has a poller",
                    if rx { "RX" } else { "TX" }
                ),
            }),
            None => Err(DpdkError::PortUsage {
                port: self.shared.name.clone(),
                msg: format!(
                    "no {} queue {queue} (port has {})",
                    if rx { "RX" } else { "TX" },
                    self.queues
                ),
            }),
        }
    }

    /// The only handle to RX queue `queue`.
    pub fn rx_queue(&self, queue: u16) -> Result<RxQueue> {
        self.take(true, queue)?;
        Ok(RxQueue {
            port: self.shared.clone(),
            queue,
        })
    }

    /// The only handle to TX queue `queue`.
    pub fn tx_queue(&self, queue: u16) -> Result<TxQueue> {
        self.take(false, queue)?;
        Ok(TxQueue {
            port: self.shared.clone(),
            queue,
        })
    }
}

fn give_back(which: &Mutex<Vec<bool>>, queue: u16) {
    if let Ok(mut t) = which.lock() {
        if let Some(t) = t.get_mut(usize::from(queue)) {
            *t = false;
        }
    }
}

/// Receives from one queue. Not `Clone`: one poller per queue.
#[derive(Debug)]
pub struct RxQueue {
    port: Arc<PortShared>,
    queue: u16,
}

impl RxQueue {
    pub fn port_id(&self) -> u16 {
        self.port.id
    }

    pub fn port_name(&self) -> &str {
        &self.port.name
    }

    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Fills an empty `burst` with up to `BURST_SIZE` packets; returns how
    /// many. A burst that still holds packets is freed first.
    #[inline]
    pub fn recv(&mut self, burst: &mut Burst) -> usize {
        if !burst.is_empty() {
            burst.clear();
        }
        // SAFETY: the port is started and alive (this handle holds it),
        // this is the only poller of the queue, and the burst's array has
        // BURST_SIZE empty slots the driver may fill with owned mbufs.
        let n = unsafe {
            sfc_ffi::rte_eth_rx_burst(self.port.id, self.queue, burst.rx_ptr(), BURST_SIZE as u16)
        };
        // SAFETY: the driver wrote exactly n mbufs that we now own.
        unsafe { burst.set_len_after_rx(usize::from(n)) };
        usize::from(n)
    }
}

impl Drop for RxQueue {
    fn drop(&mut self) {
        give_back(&self.port.rx_taken, self.queue);
    }
}

/// What a send did: every packet is either sent or freed and counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxOutcome {
    pub sent: u32,
    pub dropped: u32,
}

/// Calls to tx_burst for one burst before the rest is dropped: a full ring
/// is counted, never spun on.
pub const TX_ATTEMPTS: u32 = 4;

/// Sends on one queue. Not `Clone`: one sender per queue.
#[derive(Debug)]
pub struct TxQueue {
    port: Arc<PortShared>,
    queue: u16,
}

impl TxQueue {
    pub fn port_id(&self) -> u16 {
        self.port.id
    }

    pub fn port_name(&self) -> &str {
        &self.port.name
    }

    /// Sends every packet of `burst` and empties it: the driver takes what
    /// it can in at most `TX_ATTEMPTS` calls; the rest is freed and
    /// returned as `dropped`.
    #[inline]
    pub fn send(&mut self, burst: &mut Burst) -> TxOutcome {
        let total = burst.len();
        if total == 0 {
            return TxOutcome::default();
        }
        let mut done = 0usize;
        for _ in 0..TX_ATTEMPTS {
            let left = (total - done) as u16;
            // SAFETY: slots done..total hold owned mbufs; the driver takes
            // ownership of the first n, and only slots after them are ever
            // freed (free_from(done) below).
            let n = unsafe {
                sfc_ffi::rte_eth_tx_burst(self.port.id, self.queue, burst.tx_ptr(done), left)
            };
            done += usize::from(n);
            if done == total {
                break;
            }
        }
        let dropped = burst.free_from(done);
        TxOutcome {
            sent: done as u32,
            dropped: dropped as u32,
        }
    }
}

impl Drop for TxQueue {
    fn drop(&mut self) {
        give_back(&self.port.tx_taken, self.queue);
    }
}
