//! The DPDK side: ports, workers and one trial. Every worker serves the
//! TX and RX queues of its ports in one poll loop; frames are built into
//! freshly allocated mbufs (the only allocation on the fast path).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use sfc_dataplane::dpdk::{
    spawn_worker_thread, Burst, Mempool, Port, PortConfig, RxQueue, TscClock, TxQueue, BURST_SIZE,
    DEFAULT_DATA_ROOM,
};

use crate::frame::{self, FlowSpec};
use crate::pacing::Pacer;
use crate::report::{PortReport, TrialReport};
use crate::stats::{loss, Histogram, SeqTracker};

/// Per-port counters the progress line reads; one writer (the worker).
#[repr(align(64))]
#[derive(Debug, Default)]
struct Counters {
    tx: AtomicU64,
    tx_refused: AtomicU64,
    tx_nombuf: AtomicU64,
    rx: AtomicU64,
    foreign: AtomicU64,
    stale: AtomicU64,
}

/// What a trial sends.
#[derive(Debug, Clone)]
pub struct TrialSpec {
    pub trial: u8,
    /// Frame sizes, cycled frame by frame.
    pub sizes: Vec<usize>,
    /// All sending ports together; None = as fast as possible.
    pub pps: Option<f64>,
    pub duration: Duration,
    pub drain: Duration,
    pub macs: u32,
    pub flows: u32,
    pub tx_ports: Vec<usize>,
    /// Frames to replay instead of generated ones.
    pub replay: Option<Arc<Vec<Vec<u8>>>>,
    pub progress: bool,
}

struct TxTask {
    q: TxQueue,
    port: usize,
    spec: FlowSpec,
    templates: Vec<Vec<u8>>,
    next_tpl: usize,
    stamped: bool,
    pacer: Pacer,
    seq: u64,
    mac_i: u32,
    flow_i: u32,
    vary: bool,
    burst: Burst,
    tx: u64,
    refused: u64,
    nombuf: u64,
}

struct RxTask {
    q: RxQueue,
    port: usize,
    trackers: Box<[SeqTracker; 256]>,
    burst: Burst,
    rx: u64,
    foreign: u64,
    stale: u64,
    /// Wall clock (Unix ns) of the first own frame received.
    first_rx_unix_ns: u64,
}

struct WorkerOut {
    tx: Vec<TxTask>,
    rx: Vec<RxTask>,
    hist: Histogram,
}

/// The generator's ports and queues between trials.
pub struct Generator {
    ports: Vec<Port>,
    txq: Vec<Option<TxQueue>>,
    rxq: Vec<Option<RxQueue>>,
    pool: Arc<Mempool>,
    cores: Vec<Option<usize>>,
    hz: u64,
}

impl Generator {
    pub fn new(
        devargs: &[String],
        cores: &[usize],
        mbufs: u32,
        desc: u16,
        link_wait_s: u64,
    ) -> Result<Self, String> {
        let pool = Arc::new(
            Mempool::new("pktgen_pool", mbufs, 256, DEFAULT_DATA_ROOM)
                .map_err(|e| e.to_string())?,
        );
        let cfg = PortConfig {
            queues: 1,
            rx_desc: desc,
            tx_desc: desc,
            mtu: None,
            promiscuous: true,
        };
        let mut ports = Vec::new();
        for (i, d) in devargs.iter().enumerate() {
            let p = Port::probe(&format!("port{i}"), d, pool.clone(), &cfg)
                .map_err(|e| format!("--port {d}: {e}"))?;
            ports.push(p);
        }
        let mut txq = Vec::new();
        let mut rxq = Vec::new();
        for p in &ports {
            txq.push(Some(p.tx_queue(0).map_err(|e| e.to_string())?));
            rxq.push(Some(p.rx_queue(0).map_err(|e| e.to_string())?));
        }
        // Wait for links (a memif client connects after start).
        let deadline = Instant::now() + Duration::from_secs(link_wait_s);
        while Instant::now() < deadline
            && !ports.iter().all(|p| p.link().map(|l| l.up).unwrap_or(true))
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        for p in &ports {
            if !p.link().map(|l| l.up).unwrap_or(true) {
                eprintln!(
                    "sfc-pktgen: warning: {} ({}) link is down",
                    p.name(),
                    p.device()
                );
            }
        }
        let cores = if cores.is_empty() {
            let last = std::thread::available_parallelism().map_or(1, |n| n.get()) - 1;
            vec![Some(last)]
        } else {
            cores.iter().map(|&c| Some(c)).collect()
        };
        Ok(Self {
            ports,
            txq,
            rxq,
            pool,
            cores,
            hz: TscClock::new().hz(),
        })
    }

    pub fn port_count(&self) -> usize {
        self.ports.len()
    }

    /// Link speed of the first port (Mbit/s), for % rates.
    pub fn speed_mbps(&self) -> u32 {
        self.ports
            .first()
            .and_then(|p| p.link().ok())
            .map_or(0, |l| l.speed_mbps)
    }

    /// Runs one trial and reports it.
    pub fn run(&mut self, t: &TrialSpec) -> Result<TrialReport, String> {
        let n = self.ports.len();
        let counters: Arc<Vec<Counters>> = Arc::new((0..n).map(|_| Counters::default()).collect());
        let tx_stop = Arc::new(AtomicBool::new(false));
        let rx_stop = Arc::new(AtomicBool::new(false));
        let senders: Vec<usize> = if t.tx_ports.is_empty() {
            (0..n).collect()
        } else {
            t.tx_ports.iter().copied().filter(|&p| p < n).collect()
        };
        let per_port_pps = t.pps.map(|p| p / senders.len().max(1) as f64);
        let start_tsc = TscClock::cycles() + self.hz / 100; // 10 ms to start all workers
        let ns_per_cycle_q32 = ((1e9 / self.hz as f64) * 4294967296.0) as u64;

        // Hand out the queues: port i to worker i % cores.
        let nw = self.cores.len().min(n).max(1);
        let mut tasks: Vec<(Vec<TxTask>, Vec<RxTask>)> =
            (0..nw).map(|_| (vec![], vec![])).collect();
        for i in 0..n {
            let w = i % nw;
            if senders.contains(&i) {
                let q = self.txq[i]
                    .take()
                    .ok_or_else(|| format!("port{i}: TX queue missing"))?;
                let spec = FlowSpec {
                    port: i as u8,
                    peer: ((i + 1) % n) as u8,
                    macs: t.macs.max(1),
                    flows: t.flows.max(1),
                };
                let (templates, stamped) = match &t.replay {
                    Some(frames) => (frames.as_ref().clone(), false),
                    None => (
                        t.sizes.iter().map(|&s| frame::template(&spec, s)).collect(),
                        true,
                    ),
                };
                tasks[w].0.push(TxTask {
                    q,
                    port: i,
                    spec,
                    templates,
                    next_tpl: 0,
                    stamped,
                    pacer: Pacer::new(start_tsc, self.hz, per_port_pps),
                    seq: 0,
                    mac_i: 0,
                    flow_i: 0,
                    vary: stamped && (spec.macs > 1 || spec.flows > 1),
                    burst: Burst::new(),
                    tx: 0,
                    refused: 0,
                    nombuf: 0,
                });
            }
            let q = self.rxq[i]
                .take()
                .ok_or_else(|| format!("port{i}: RX queue missing"))?;
            tasks[w].1.push(RxTask {
                q,
                port: i,
                trackers: Box::new([SeqTracker::default(); 256]),
                burst: Burst::new(),
                rx: 0,
                foreign: 0,
                stale: 0,
                first_rx_unix_ns: 0,
            });
        }

        let (out_tx, out_rx) = mpsc::channel::<WorkerOut>();
        let mut workers = Vec::new();
        for (w, (txt, rxt)) in tasks.into_iter().enumerate() {
            let (pool, counters) = (self.pool.clone(), counters.clone());
            let (tx_stop, rx_stop, out) = (tx_stop.clone(), rx_stop.clone(), out_tx.clone());
            let trial = t.trial;
            let core = self.cores[w];
            let h = spawn_worker_thread(&format!("pktgen-w{w}"), core, move || {
                let res = poll_loop(
                    txt,
                    rxt,
                    &pool,
                    &counters,
                    &tx_stop,
                    &rx_stop,
                    trial,
                    start_tsc,
                    ns_per_cycle_q32,
                );
                let _ = out.send(res);
            })
            .map_err(|e| e.to_string())?;
            workers.push(h);
        }
        drop(out_tx);

        // Progress, one line a second, until the duration is over.
        let t0 = Instant::now();
        let mut last = (Instant::now(), 0u64, 0u64);
        while t0.elapsed() < t.duration {
            let left = t.duration.saturating_sub(t0.elapsed());
            std::thread::sleep(left.min(Duration::from_secs(1)));
            let tx: u64 = counters.iter().map(|c| c.tx.load(Relaxed)).sum();
            let rx: u64 = counters.iter().map(|c| c.rx.load(Relaxed)).sum();
            if t.progress {
                let dt = last.0.elapsed().as_secs_f64().max(1e-9);
                eprintln!(
                    "[{:5.1}s] tx {:8.3} Mpps  rx {:8.3} Mpps  sent {tx}  received {rx}  in flight/lost {}",
                    t0.elapsed().as_secs_f64(),
                    (tx - last.1) as f64 / dt / 1e6,
                    (rx - last.2) as f64 / dt / 1e6,
                    tx.saturating_sub(rx),
                );
            }
            last = (Instant::now(), tx, rx);
        }
        tx_stop.store(true, Relaxed);
        let send_time = TscClock::cycles().saturating_sub(start_tsc) as f64 / self.hz as f64;
        std::thread::sleep(t.drain);
        rx_stop.store(true, Relaxed);

        let mut hist = Histogram::new();
        let mut per_port: Vec<PortReport> = (0..n)
            .map(|i| PortReport {
                port: i,
                devargs: self.ports[i].device().to_owned(),
                ..PortReport::default()
            })
            .collect();
        let mut trackers = SeqTracker::default();
        let mut errors = Vec::new();
        for w in workers {
            if let Err(e) = w.join() {
                errors.push(e.to_string());
            }
        }
        for out in out_rx.iter() {
            hist.merge(&out.hist);
            for tt in out.tx {
                let pr = &mut per_port[tt.port];
                pr.tx = tt.tx;
                pr.tx_refused = tt.refused;
                pr.tx_nombuf = tt.nombuf;
                self.txq[tt.port] = Some(tt.q);
            }
            for rt in out.rx {
                let pr = &mut per_port[rt.port];
                pr.rx = rt.rx;
                pr.foreign = rt.foreign;
                pr.stale = rt.stale;
                pr.first_rx_unix_ns = (rt.first_rx_unix_ns > 0).then_some(rt.first_rx_unix_ns);
                for tr in rt.trackers.iter() {
                    trackers.merge(tr);
                }
                self.rxq[rt.port] = Some(rt.q);
            }
        }
        if !errors.is_empty() || self.rxq.iter().any(Option::is_none) {
            return Err(format!("a worker failed: {}", errors.join("; ")));
        }
        let tx: u64 = per_port.iter().map(|p| p.tx).sum();
        let rx: u64 = per_port.iter().map(|p| p.rx).sum();
        let (lost, extra) = loss(tx, rx);
        Ok(TrialReport {
            size: frame::SizeSpec::label(&t.sizes),
            offered_pps: t.pps,
            seconds: send_time,
            tx,
            rx,
            tx_refused: per_port.iter().map(|p| p.tx_refused).sum(),
            tx_nombuf: per_port.iter().map(|p| p.tx_nombuf).sum(),
            foreign: per_port.iter().map(|p| p.foreign).sum(),
            stale: per_port.iter().map(|p| p.stale).sum(),
            lost,
            extra,
            loss_ratio: if tx > 0 { lost as f64 / tx as f64 } else { 0.0 },
            reordered: trackers.reordered,
            tx_mpps: tx as f64 / send_time.max(1e-9) / 1e6,
            rx_mpps: rx as f64 / send_time.max(1e-9) / 1e6,
            latency: hist.summary(),
            ports: per_port,
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn poll_loop(
    mut txt: Vec<TxTask>,
    mut rxt: Vec<RxTask>,
    pool: &Mempool,
    counters: &[Counters],
    tx_stop: &AtomicBool,
    rx_stop: &AtomicBool,
    trial: u8,
    start_tsc: u64,
    ns_per_cycle_q32: u64,
) -> WorkerOut {
    let mut hist = Histogram::new();
    while TscClock::cycles() < start_tsc {
        std::hint::spin_loop();
    }
    loop {
        let sending = !tx_stop.load(Relaxed);
        if sending {
            for t in txt.iter_mut() {
                send_burst(t, pool, trial);
                let c = &counters[t.port];
                c.tx.store(t.tx, Relaxed);
                c.tx_refused.store(t.refused, Relaxed);
                c.tx_nombuf.store(t.nombuf, Relaxed);
            }
        }
        for r in rxt.iter_mut() {
            if recv_burst(r, &mut hist, trial, ns_per_cycle_q32) {
                let c = &counters[r.port];
                c.rx.store(r.rx, Relaxed);
                c.foreign.store(r.foreign, Relaxed);
                c.stale.store(r.stale, Relaxed);
            }
        }
        if !sending && rx_stop.load(Relaxed) {
            break;
        }
    }
    WorkerOut {
        tx: txt,
        rx: rxt,
        hist,
    }
}

#[inline]
fn send_burst(t: &mut TxTask, pool: &Mempool, trial: u8) {
    let now = TscClock::cycles();
    let n = t.pacer.due(now, BURST_SIZE);
    if n == 0 {
        return;
    }
    if !pool.alloc_bulk(&mut t.burst, n) {
        t.nombuf += n as u64;
        return;
    }
    for m in t.burst.iter_mut() {
        let tpl = &t.templates[t.next_tpl];
        t.next_tpl += 1;
        if t.next_tpl == t.templates.len() {
            t.next_tpl = 0;
        }
        let Some(d) = m.append_mut(tpl) else {
            continue;
        };
        if t.stamped {
            if t.vary {
                frame::set_addresses(d, &t.spec, t.mac_i, t.flow_i);
                t.mac_i += 1;
                if t.mac_i == t.spec.macs {
                    t.mac_i = 0;
                }
                t.flow_i += 1;
                if t.flow_i == t.spec.flows {
                    t.flow_i = 0;
                }
            }
            frame::stamp(d, trial, t.seq, now);
            t.seq += 1;
        }
    }
    let out = t.q.send(&mut t.burst);
    t.pacer.consumed(n);
    t.tx += u64::from(out.sent);
    t.refused += u64::from(out.dropped);
}

#[inline]
fn recv_burst(r: &mut RxTask, hist: &mut Histogram, trial: u8, ns_per_cycle_q32: u64) -> bool {
    let n = r.q.recv(&mut r.burst);
    if n == 0 {
        return false;
    }
    let now = TscClock::cycles();
    if r.rx == 0 && r.first_rx_unix_ns == 0 {
        r.first_rx_unix_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
    }
    for m in r.burst.iter() {
        match frame::parse(m.data()) {
            Some(s) if s.trial == trial => {
                r.rx += 1;
                r.trackers[usize::from(s.stream)].record(s.seq);
                let cycles = now.saturating_sub(s.tsc);
                hist.record(((u128::from(cycles) * u128::from(ns_per_cycle_q32)) >> 32) as u64);
            }
            Some(_) => r.stale += 1,
            None => r.foreign += 1,
        }
    }
    r.burst.clear();
    true
}
