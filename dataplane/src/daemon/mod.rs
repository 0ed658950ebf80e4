//! The sfcd daemon: EAL, ports and engine from the command line, the DPF
//! store restored from the state directory, the control socket, and the
//! housekeeping loop (MAC aging, rate lines, signals).

mod config;
mod metrics;
mod server;
mod service;
mod state_dir;
mod views;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sfc_control::{NodeInfo, Store};

pub use config::{Args, Reload};
pub use service::Daemon;
pub use state_dir::{SavedState, StateDir};

use crate::dpdk::{Eal, Mempool, Port, PortConfig, DEFAULT_DATA_ROOM};
use crate::engine::{Engine, EngineConfig};
use crate::switch::StateConfig;

/// Runs sfcd; the process exit code.
pub fn main() -> std::process::ExitCode {
    let (args, reload) = match Args::from_command_line() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("sfcd: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match run(args, reload) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sfcd: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

fn run(args: Args, reload: Reload) -> Result<(), String> {
    let ports = args.port_list()?;
    let labels = args.labels()?;
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    let worker_cores: Vec<usize> = if args.worker_cores.is_empty() {
        vec![ncpu - 1]
    } else {
        args.worker_cores.clone()
    };
    if let Some(c) = worker_cores.iter().find(|c| **c >= ncpu) {
        return Err(format!(
            "--worker-cores: core {c} does not exist (this machine has {ncpu})"
        ));
    }
    let control_core = (0..ncpu).find(|c| !worker_cores.contains(c)).unwrap_or(0);
    let eal_args = args.eal_args(control_core);
    let prefix = Args::file_prefix(&eal_args);
    let state_dir = StateDir::open(&args.state_dir)?;
    let saved = state_dir.load()?;

    let eal = Eal::init(eal_args.clone()).map_err(|e| e.to_string())?;
    tracing::info!(
        version = Eal::version(),
        args = eal_args.join(" "),
        "EAL up"
    );
    let result = run_with_eal(
        &args,
        &reload,
        ports,
        labels,
        worker_cores,
        state_dir,
        saved,
    );
    drop(eal);
    if let Some(p) = prefix {
        let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{p}"));
    }
    result
}

fn run_with_eal(
    args: &Args,
    reload: &Reload,
    ports: Vec<(String, String)>,
    labels: BTreeMap<String, String>,
    worker_cores: Vec<usize>,
    state_dir: StateDir,
    saved: Option<SavedState>,
) -> Result<(), String> {
    let pool = Arc::new(
        Mempool::new("sfcd-pool", args.mbufs, 256, DEFAULT_DATA_ROOM).map_err(|e| e.to_string())?,
    );
    let port_config = PortConfig {
        queues: worker_cores.len() as u16,
        rx_desc: args.queue_size,
        tx_desc: args.queue_size,
        mtu: None,
        promiscuous: true,
    };
    let mut devargs = BTreeMap::new();
    let mut opened = Vec::new();
    for (name, da) in &ports {
        let p = Port::probe(name, da, pool.clone(), &port_config).map_err(|e| e.to_string())?;
        tracing::info!(
            port = name.as_str(),
            id = p.id(),
            devargs = da.as_str(),
            "port started"
        );
        devargs.insert(name.clone(), da.clone());
        opened.push(p);
    }
    // Ports attached at run time before a restart come back too; one that
    // cannot is reported and left out (its interfaces are then not ready).
    let mut attached = BTreeMap::new();
    for (name, da) in saved
        .as_ref()
        .map(|s| s.attached.clone())
        .unwrap_or_default()
    {
        if devargs.contains_key(&name) {
            continue;
        }
        match Port::probe(&name, &da, pool.clone(), &port_config) {
            Ok(p) => {
                devargs.insert(name.clone(), da.clone());
                attached.insert(name, da);
                opened.push(p);
            }
            Err(e) => tracing::warn!(port = name.as_str(), error = %e, "saved port not restored"),
        }
    }
    let engine = Engine::start(
        EngineConfig {
            worker_cores: worker_cores.iter().map(|c| Some(*c)).collect(),
            state: StateConfig {
                mac_capacity: args.mac_capacity,
                mac_idle: args.mac_idle_ms,
            },
        },
        opened,
    )
    .map_err(|e| e.to_string())?;

    let node = NodeInfo {
        name: args.node_name.clone().unwrap_or_else(hostname),
        labels,
    };
    let mut store = Store::new(node);
    if let Some(s) = &saved {
        store
            .restore(&s.store)
            .map_err(|e| format!("state file {}: {e}", state_dir.path().display()))?;
        tracing::info!(objects = store.list(None).len(), "state restored");
    }
    store.set_dataplane_ports(devargs.keys().cloned().collect());
    for f in &args.apply {
        let text =
            std::fs::read_to_string(f).map_err(|e| format!("--apply {}: {e}", f.display()))?;
        store
            .apply(&text)
            .map_err(|e| format!("--apply {}: {e}", f.display()))?;
    }
    // The offload thread: every port's rte_flow API is probed once; flows
    // a port cannot take stay in software (one log line per port says why).
    let offload_ports: Vec<_> = engine
        .ports()
        .filter_map(|p| p.info().ok().map(|i| (p.name().to_owned(), p.id(), i)))
        .collect();
    let offloader = if args.no_offload {
        None
    } else {
        let clock = Arc::new(crate::offload::MonotonicClock::default());
        match crate::offload::Offloader::start(offload_ports, clock) {
            Ok(o) => Some(o),
            Err(e) => {
                tracing::warn!(error = %e, "offload thread not started: every flow stays in software");
                None
            }
        }
    };
    let mut daemon = Daemon::new(
        store,
        engine,
        pool,
        port_config,
        devargs,
        attached,
        state_dir,
    );
    if let Some(o) = offloader {
        daemon.set_offloader(o);
    }
    daemon.program().map_err(|e| e.to_string())?;
    daemon.persist()?;
    let daemon = Arc::new(Mutex::new(daemon));

    let listener = server::bind(&args.socket, args.socket_mode, args.socket_group.as_deref())?;
    let mut gids = args.allow_gids.clone();
    if let Some(g) = &args.socket_group {
        if let Ok(Some(grp)) = g
            .parse::<u32>()
            .map(|n| Some(nix::unistd::Gid::from_raw(n)))
            .or_else(|_| nix::unistd::Group::from_name(g).map(|o| o.map(|x| x.gid)))
        {
            gids.push(grp.as_raw());
        }
    }
    let access = server::Access::new(args.allow_uids.clone(), gids);
    {
        let (d, path) = (Arc::downgrade(&daemon), args.socket.clone());
        std::thread::Builder::new()
            .name("sfc-control".into())
            .spawn(move || server::serve(listener, d, path, access))
            .map_err(|e| format!("control thread: {e}"))?;
    }
    if let Some(addr) = args.metrics_addr {
        let l =
            std::net::TcpListener::bind(addr).map_err(|e| format!("--metrics-addr {addr}: {e}"))?;
        let d = Arc::downgrade(&daemon);
        std::thread::Builder::new()
            .name("sfc-metrics".into())
            .spawn(move || metrics::serve(l, d))
            .map_err(|e| format!("metrics thread: {e}"))?;
        tracing::info!(%addr, "metrics at /metrics");
    }
    tracing::info!(socket = %args.socket.display(), "ready");

    let term = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, term.clone())
            .map_err(|e| format!("signal handler: {e}"))?;
    }
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())
        .map_err(|e| format!("signal handler: {e}"))?;
    housekeeping(args, reload, &daemon, &term, &hup);

    let _ = std::fs::remove_file(&args.socket);
    print_totals(&daemon.lock().unwrap_or_else(|e| e.into_inner()));
    // Dropping the daemon stops the workers, then closes the ports, then
    // frees the pool; EAL goes last (in run). A client thread holds it only
    // for the length of one request.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut daemon = daemon;
    loop {
        match Arc::try_unwrap(daemon) {
            Ok(m) => {
                drop(m);
                break;
            }
            Err(d) if Instant::now() < deadline => {
                daemon = d;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(_) => return Err("a control request did not finish within 5 s of shutdown".into()),
        }
    }
    Ok(())
}

/// Until SIGTERM/SIGINT or --duration: ages MACs every second and prints
/// rate lines every --stats-interval.
fn housekeeping(
    args: &Args,
    reload: &Reload,
    daemon: &Mutex<Daemon>,
    term: &AtomicBool,
    hup: &AtomicBool,
) {
    let start = Instant::now();
    let mut current = args.clone();
    let mut last_age = Instant::now();
    let mut last_stats = (Instant::now(), totals(daemon));
    while !term.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
        if args.duration > 0.0 && start.elapsed().as_secs_f64() >= args.duration {
            break;
        }
        if hup.swap(false, Ordering::SeqCst) {
            match reload.load() {
                Ok(next) => {
                    let mut d = daemon.lock().unwrap_or_else(|e| e.into_inner());
                    for line in d.reconfigure(&current, &next) {
                        tracing::info!("SIGHUP: {line}");
                    }
                    current = next;
                }
                Err(e) => tracing::error!("SIGHUP: config not reloaded, nothing changed: {e}"),
            }
        }
        if last_age.elapsed() >= Duration::from_secs(1) {
            let n = daemon
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .expire_macs();
            if n > 0 {
                tracing::debug!(expired = n, "MACs aged out");
            }
            last_age = Instant::now();
        }
        if args.stats_interval > 0.0 && last_stats.0.elapsed().as_secs_f64() >= args.stats_interval
        {
            let now = totals(daemon);
            let secs = last_stats.0.elapsed().as_secs_f64();
            print_rates(start.elapsed().as_secs_f64(), &last_stats.1, &now, secs);
            last_stats = (Instant::now(), now);
        }
    }
}

type Totals = Vec<(String, crate::engine::PortTotals)>;

fn totals(daemon: &Mutex<Daemon>) -> Totals {
    let d = daemon.lock().unwrap_or_else(|e| e.into_inner());
    d.engine
        .ports()
        .map(|p| (p.name().to_owned(), d.engine.port_totals(p.id())))
        .collect()
}

/// One line per interval: `stats t=.. rx=.. Mpps tx=.. Mpps drops=.. | port rx/tx ...`.
fn print_rates(t: f64, before: &Totals, now: &Totals, secs: f64) {
    let mut line = String::new();
    let (mut rx, mut tx, mut drops) = (0u64, 0u64, 0u64);
    for (name, n) in now {
        let b = before
            .iter()
            .find(|(x, _)| x == name)
            .map(|(_, t)| *t)
            .unwrap_or_default();
        let (r, x) = (n.rx_packets - b.rx_packets, n.tx_packets - b.tx_packets);
        rx += r;
        tx += x;
        drops += n.total_drops() - b.total_drops();
        line.push_str(&format!(
            " | {name} rx {:.3} tx {:.3}",
            r as f64 / secs / 1e6,
            x as f64 / secs / 1e6
        ));
    }
    println!(
        "stats t={t:.1}s rx={:.3} Mpps tx={:.3} Mpps drops={drops}{line}",
        rx as f64 / secs / 1e6,
        tx as f64 / secs / 1e6
    );
}

fn print_totals(d: &Daemon) {
    for p in d.engine.ports() {
        let t = d.engine.port_totals(p.id());
        println!(
            "total port={} rx_packets={} tx_packets={} drops={}",
            p.name(),
            t.rx_packets,
            t.tx_packets,
            t.total_drops()
        );
    }
}
